//! The organisation: districts, towns and villages with their names.
//!
//! Imported from a CSV file (`code,name` per line; the level follows from
//! the code's length) or a TOML file (`[[district]]`, `[[town]]`,
//! `[[village]]` tables with `code` and `name`). Importing merges: new
//! places are added, known ones renamed, nothing is removed. Every town
//! must lie in a known district and every village in a known town, so the
//! hierarchy is always whole.
//!
//! A TOML `[[district]]` or `[[town]]` table may also set the place's own
//! time limits (`conclude_days`, `accept_days`, `followup_days`; see
//! [`fengqiao_shared::deadline`]); an import replaces the limits of the
//! places it sets them for and leaves the others as they were.

use std::collections::BTreeMap;

use fengqiao_protocol::{DistrictCode, Scope, TownCode, VillageCode};
use fengqiao_shared::deadline::{LimitOverrides, TimeLimits};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why an organisation file was refused; nothing of it is imported then.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OrgError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the TOML file is not valid: {0}")]
    Toml(String),
    #[error("{level} {code} lies in {parent}, which is neither known nor in the file")]
    Orphan {
        level: &'static str,
        code: String,
        parent: String,
    },
}

/// The places and their names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub districts: BTreeMap<DistrictCode, String>,
    pub towns: BTreeMap<TownCode, String>,
    pub villages: BTreeMap<VillageCode, String>,
    /// Time limits a district sets for its cases.
    #[serde(default)]
    pub district_limits: BTreeMap<DistrictCode, LimitOverrides>,
    /// Time limits a town sets for its cases (over its district's).
    #[serde(default)]
    pub town_limits: BTreeMap<TownCode, LimitOverrides>,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub added: usize,
    pub renamed: usize,
    pub unchanged: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlPlace {
    code: String,
    name: String,
    conclude_days: Option<u32>,
    accept_days: Option<u32>,
    followup_days: Option<u32>,
}

#[derive(Deserialize, Default)]
struct TomlOrg {
    #[serde(default)]
    district: Vec<TomlPlace>,
    #[serde(default)]
    town: Vec<TomlPlace>,
    #[serde(default)]
    village: Vec<TomlPlace>,
}

impl Org {
    /// The time limits in force: `default` where no district or town sets
    /// its own.
    pub fn limit_table(&self, default: TimeLimits) -> fengqiao_shared::deadline::LimitTable {
        fengqiao_shared::deadline::LimitTable {
            default,
            districts: self.district_limits.clone(),
            towns: self.town_limits.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.districts.is_empty()
    }

    pub fn has_village(&self, village: &VillageCode) -> bool {
        self.villages.contains_key(village)
    }

    /// Whether a scope names a known place.
    pub fn has_scope(&self, scope: &Scope) -> bool {
        match scope {
            Scope::District(c) => self.districts.contains_key(c),
            Scope::Town(c) => self.towns.contains_key(c),
            Scope::Village(c) => self.villages.contains_key(c),
        }
    }

    /// The name of a place, if known.
    pub fn name_of(&self, scope: &Scope) -> Option<&str> {
        match scope {
            Scope::District(c) => self.districts.get(c),
            Scope::Town(c) => self.towns.get(c),
            Scope::Village(c) => self.villages.get(c),
        }
        .map(String::as_str)
    }

    /// Villages within a scope, in code order.
    pub fn villages_in(&self, scope: &Scope) -> impl Iterator<Item = (&VillageCode, &String)> {
        let scope = scope.clone();
        self.villages
            .iter()
            .filter(move |(code, _)| scope.contains(code))
    }

    /// Parses a CSV file of `code,name` lines. A first line whose first
    /// field is not a number is taken as a header; `#` starts a comment.
    pub fn parse_csv(text: &str) -> Result<Org, OrgError> {
        let mut org = Org::default();
        for (index, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (code, name) = raw.split_once([',', '\t']).ok_or_else(|| OrgError::Line {
                line,
                reason: "expected `code,name`".into(),
            })?;
            let code = code.trim().trim_matches('"');
            let name = name.trim().trim_matches('"').trim();
            if line == 1 && !code.starts_with(|c: char| c.is_ascii_digit()) {
                continue; // header
            }
            org.insert(code, name)
                .map_err(|reason| OrgError::Line { line, reason })?;
        }
        Ok(org)
    }

    /// Parses a TOML file of `[[district]]`, `[[town]]` and `[[village]]`
    /// tables.
    pub fn parse_toml(text: &str) -> Result<Org, OrgError> {
        let parsed: TomlOrg = toml::from_str(text).map_err(|e| OrgError::Toml(e.to_string()))?;
        let mut org = Org::default();
        for (i, place) in parsed
            .district
            .iter()
            .chain(&parsed.town)
            .chain(&parsed.village)
            .enumerate()
        {
            let line = i + 1;
            org.insert(&place.code, &place.name)
                .map_err(|reason| OrgError::Line { line, reason })?;
            let limits = LimitOverrides {
                conclude_days: place.conclude_days,
                accept_days: place.accept_days,
                followup_days: place.followup_days,
            };
            if limits.is_empty() {
                continue;
            }
            limits
                .over(TimeLimits::DEFAULT)
                .check()
                .map_err(|reason| OrgError::Line {
                    line,
                    reason: format!("place {}: {reason}", place.code),
                })?;
            match Scope::parse(&place.code) {
                Ok(Scope::District(code)) => {
                    org.district_limits.insert(code, limits);
                }
                Ok(Scope::Town(code)) => {
                    org.town_limits.insert(code, limits);
                }
                _ => {
                    return Err(OrgError::Line {
                        line,
                        reason: format!(
                            "place {}: time limits are set for a district or a town, not a village",
                            place.code
                        ),
                    });
                }
            }
        }
        Ok(org)
    }

    /// Adds one place, its level chosen by the code's length.
    pub fn insert(&mut self, code: &str, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err(format!("place {code} has no name"));
        }
        if name.chars().count() > 100 {
            return Err(format!(
                "the name of place {code} is longer than 100 characters"
            ));
        }
        match Scope::parse(code).map_err(|e| e.to_string())? {
            Scope::District(c) => {
                self.districts.insert(c, name.to_owned());
            }
            Scope::Town(c) => {
                self.towns.insert(c, name.to_owned());
            }
            Scope::Village(c) => {
                self.villages.insert(c, name.to_owned());
            }
        }
        Ok(())
    }

    /// Merges `incoming` into this organisation, refusing it whole if a
    /// town or village would have no parent.
    pub fn merge(&mut self, incoming: Org) -> Result<ImportReport, OrgError> {
        for town in incoming.towns.keys() {
            let district = town.district();
            if !self.districts.contains_key(&district)
                && !incoming.districts.contains_key(&district)
            {
                return Err(OrgError::Orphan {
                    level: "town",
                    code: town.to_string(),
                    parent: district.to_string(),
                });
            }
        }
        for village in incoming.villages.keys() {
            let town = village.town();
            if !self.towns.contains_key(&town) && !incoming.towns.contains_key(&town) {
                return Err(OrgError::Orphan {
                    level: "village",
                    code: village.to_string(),
                    parent: town.to_string(),
                });
            }
        }
        let mut report = ImportReport::default();
        fn upsert<K: Ord>(
            map: &mut BTreeMap<K, String>,
            key: K,
            name: String,
            r: &mut ImportReport,
        ) {
            match map.insert(key, name.clone()) {
                None => r.added += 1,
                Some(old) if old != name => r.renamed += 1,
                Some(_) => r.unchanged += 1,
            }
        }
        for (k, v) in incoming.districts {
            upsert(&mut self.districts, k, v, &mut report);
        }
        for (k, v) in incoming.towns {
            upsert(&mut self.towns, k, v, &mut report);
        }
        for (k, v) in incoming.villages {
            upsert(&mut self.villages, k, v, &mut report);
        }
        self.district_limits.extend(incoming.district_limits);
        self.town_limits.extend(incoming.town_limits);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\u{feff}code,name\n500110,綦江区\n500110101,古南街道\n500110101001,石门村\n# comment\n500110101002,\"新华村\"\n";

    #[test]
    fn csv_and_toml_import_the_same_hierarchy() {
        let csv = Org::parse_csv(CSV).unwrap();
        let toml = Org::parse_toml(
            r#"
            [[district]]
            code = "500110"
            name = "綦江区"
            [[town]]
            code = "500110101"
            name = "古南街道"
            [[village]]
            code = "500110101001"
            name = "石门村"
            [[village]]
            code = "500110101002"
            name = "新华村"
            "#,
        )
        .unwrap();
        assert_eq!(csv, toml);
        let mut org = Org::default();
        let report = org.merge(csv).unwrap();
        assert_eq!(report.added, 4);
        assert!(org.has_village(&VillageCode::new("500110101002").unwrap()));
        let report = org.merge(toml).unwrap();
        assert_eq!(report.unchanged, 4);
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        assert!(matches!(
            Org::parse_csv("500110,綦江区\n50011010,坏\n"),
            Err(OrgError::Line { line: 2, .. })
        ));
        assert!(matches!(
            Org::parse_csv("500110\n"),
            Err(OrgError::Line { line: 1, .. })
        ));
        assert!(matches!(
            Org::parse_toml("[[village]]\ncode = 1"),
            Err(OrgError::Toml(_))
        ));
        let orphan = Org::parse_csv("500110101001,孤村\n").unwrap();
        assert!(matches!(
            Org::default().merge(orphan),
            Err(OrgError::Orphan {
                level: "village",
                ..
            })
        ));
    }
}
