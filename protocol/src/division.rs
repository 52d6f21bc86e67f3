//! Administrative division codes (统计用区划代码) and scopes.
//!
//! A district code has 6 digits (`500110`), a town code 9 (`500110101`), a
//! village or community code 12 (`500110101001`). A code's prefix is its
//! ancestor, so "everything in this town" is one prefix test, and a
//! [`Scope`] is simply a validated code prefix.
//!
//! Validation is structural: digits only, the right length, a province part
//! that is not `00`, and a town or village part that is not all zeros (the
//! statistical tables use `000` for "the level above itself").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Why a division code or scope was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DivisionError {
    #[error("{kind} code {input:?} must have exactly {expected} digits")]
    BadLength {
        kind: &'static str,
        input: String,
        expected: usize,
    },
    #[error("{kind} code {input:?} may contain only the digits 0-9")]
    NotDigits { kind: &'static str, input: String },
    #[error("{kind} code {input:?} has an all-zero {part} part, which names no real place")]
    ZeroPart {
        kind: &'static str,
        input: String,
        part: &'static str,
    },
    #[error(
        "scope {0:?} must be a district (6 digits), town (9 digits) or village (12 digits) code"
    )]
    BadScope(String),
}

fn shorten(input: &str) -> String {
    input.chars().take(32).collect()
}

fn check_code(kind: &'static str, input: &str, expected: usize) -> Result<(), DivisionError> {
    if input.len() != expected {
        return Err(DivisionError::BadLength {
            kind,
            input: shorten(input),
            expected,
        });
    }
    if !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DivisionError::NotDigits {
            kind,
            input: shorten(input),
        });
    }
    // Each level adds digits after its parent: province 0..2, town 6..9, village 9..12.
    let zero_part = |range: std::ops::Range<usize>, part| {
        if input[range].bytes().all(|b| b == b'0') {
            Err(DivisionError::ZeroPart {
                kind,
                input: input.to_owned(),
                part,
            })
        } else {
            Ok(())
        }
    };
    zero_part(0..2, "province")?;
    if expected >= 9 {
        zero_part(6..9, "town")?;
    }
    if expected >= 12 {
        zero_part(9..12, "village")?;
    }
    Ok(())
}

macro_rules! division_code {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $len:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Number of digits in this kind of code.
            pub const LEN: usize = $len;

            /// Validates and wraps a code.
            pub fn new(code: &str) -> Result<Self, DivisionError> {
                check_code($kind, code, $len)?;
                Ok(Self(code.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = DivisionError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::new(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

division_code!(
    /// A county-level district (区/县), 6 digits.
    DistrictCode,
    "district",
    6
);
division_code!(
    /// A town or subdistrict (镇/乡/街道), 9 digits.
    TownCode,
    "town",
    9
);
division_code!(
    /// A village or residents' community (村/社区), 12 digits.
    VillageCode,
    "village",
    12
);

impl TownCode {
    /// The district this town belongs to.
    pub fn district(&self) -> DistrictCode {
        DistrictCode(self.0[..DistrictCode::LEN].to_owned())
    }
}

impl VillageCode {
    /// The town this village belongs to.
    pub fn town(&self) -> TownCode {
        TownCode(self.0[..TownCode::LEN].to_owned())
    }

    /// The district this village belongs to.
    pub fn district(&self) -> DistrictCode {
        DistrictCode(self.0[..DistrictCode::LEN].to_owned())
    }
}

/// The places a device or a query covers: a district, a town or a village.
///
/// Internally a validated code prefix; [`Scope::contains`] is a prefix test,
/// and in storage keyed by village code a scope is one contiguous key range.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    District(DistrictCode),
    Town(TownCode),
    Village(VillageCode),
}

impl Scope {
    /// Parses a district, town or village code, chosen by length.
    pub fn parse(code: &str) -> Result<Self, DivisionError> {
        match code.len() {
            DistrictCode::LEN => DistrictCode::new(code).map(Scope::District),
            TownCode::LEN => TownCode::new(code).map(Scope::Town),
            VillageCode::LEN => VillageCode::new(code).map(Scope::Village),
            _ => Err(DivisionError::BadScope(shorten(code))),
        }
    }

    /// The code prefix shared by every village in this scope.
    pub fn prefix(&self) -> &str {
        match self {
            Scope::District(code) => code.as_str(),
            Scope::Town(code) => code.as_str(),
            Scope::Village(code) => code.as_str(),
        }
    }

    /// Whether `village` lies inside this scope.
    pub fn contains(&self, village: &VillageCode) -> bool {
        village.as_str().starts_with(self.prefix())
    }

    /// Whether every place of `other` lies inside this scope.
    pub fn covers(&self, other: &Scope) -> bool {
        other.prefix().starts_with(self.prefix())
    }

    /// `"district"`, `"town"` or `"village"`.
    pub fn level(&self) -> &'static str {
        match self {
            Scope::District(_) => "district",
            Scope::Town(_) => "town",
            Scope::Village(_) => "village",
        }
    }
}

impl From<DistrictCode> for Scope {
    fn from(code: DistrictCode) -> Self {
        Scope::District(code)
    }
}
impl From<TownCode> for Scope {
    fn from(code: TownCode) -> Self {
        Scope::Town(code)
    }
}
impl From<VillageCode> for Scope {
    fn from(code: VillageCode) -> Self {
        Scope::Village(code)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({}:{})", self.level(), self.prefix())
    }
}

impl FromStr for Scope {
    type Err = DivisionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.prefix())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes_and_ancestors() {
        let village = VillageCode::new("500110101001").unwrap();
        assert_eq!(village.town().as_str(), "500110101");
        assert_eq!(village.district().as_str(), "500110");
        assert_eq!(village.town().district(), village.district());
    }

    #[test]
    fn bad_lengths_and_non_digits() {
        assert!(matches!(
            VillageCode::new("50011010100"),
            Err(DivisionError::BadLength { expected: 12, .. })
        ));
        assert!(matches!(
            TownCode::new("5001101011"),
            Err(DivisionError::BadLength { expected: 9, .. })
        ));
        assert!(matches!(
            DistrictCode::new("50011a"),
            Err(DivisionError::NotDigits { .. })
        ));
        assert!(matches!(
            VillageCode::new("５00110101001"),
            Err(DivisionError::BadLength { .. } | DivisionError::NotDigits { .. })
        ));
        assert!(matches!(
            DistrictCode::new("-50011"),
            Err(DivisionError::NotDigits { .. })
        ));
        assert!(matches!(
            VillageCode::new("500110101000"),
            Err(DivisionError::ZeroPart {
                part: "village",
                ..
            })
        ));
        assert!(matches!(
            TownCode::new("500110000"),
            Err(DivisionError::ZeroPart { part: "town", .. })
        ));
        assert!(matches!(
            DistrictCode::new("000110"),
            Err(DivisionError::ZeroPart {
                part: "province",
                ..
            })
        ));
    }

    #[test]
    fn scope_containment_is_a_prefix_test() {
        let town = Scope::parse("500110101").unwrap();
        let next_town = Scope::parse("500110102").unwrap();
        let district = Scope::parse("500110").unwrap();
        let ours = VillageCode::new("500110101001").unwrap();
        let theirs = VillageCode::new("500110102001").unwrap();
        assert!(town.contains(&ours));
        assert!(!town.contains(&theirs));
        assert!(next_town.contains(&theirs));
        assert!(district.contains(&ours) && district.contains(&theirs));
        assert!(district.covers(&town));
        assert!(!town.covers(&district));
        assert!(!town.covers(&next_town));
        let village = Scope::from(ours.clone());
        assert!(village.contains(&ours));
        assert!(!village.contains(&VillageCode::new("500110101002").unwrap()));
        assert!(matches!(
            Scope::parse("5001101"),
            Err(DivisionError::BadScope(_))
        ));
        assert!(Scope::parse("").is_err());
    }
}
