//! The language `fengqiao field` speaks in its lists and sync reports:
//! Chinese by default, English with `--lang en` (or `FENGQIAO_LANG=en`),
//! and the names it shows instead of codes and ids: villages and towns
//! from `GET /v1/places`, people from `GET /v1/people`, both cached in the
//! phone's settings so that lists read the same offline.

use std::collections::BTreeMap;

use fengqiao_shared::vocab::{Level, Status};
use serde_json::Value;

use super::words::Word;
use crate::cli::HttpClient;

/// Chinese (中文) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// 中文
    #[default]
    Zh,
    /// English
    En,
}

impl Lang {
    /// The text in this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// A vocabulary word: its Chinese label, or the English word (the one
    /// the command line takes, e.g. `--status escalated`).
    pub fn word<T: Word>(self, word: T) -> &'static str {
        match self {
            Lang::Zh => word.zh(),
            Lang::En => word.wire(),
        }
    }

    /// A status with the level of an escalation: `已上报（镇级）`,
    /// `escalated (town)`.
    pub fn status(self, status: Status, level: Option<Level>) -> String {
        match (status, level, self) {
            (Status::Escalated, Some(level), Lang::Zh) => {
                format!("{}（{}）", status.label_zh(), level.label_zh())
            }
            (Status::Escalated, Some(level), Lang::En) => format!("escalated ({level})"),
            (status, _, lang) => lang.word(status).to_owned(),
        }
    }

    /// `3 件纠纷` / `3 disputes`.
    pub fn count(self, n: usize, zh: &str, one: &str, many: &str) -> String {
        match self {
            Lang::Zh => format!("{n} {zh}"),
            Lang::En => format!("{n} {}", if n == 1 { one } else { many }),
        }
    }
}

/// Codes or ids, and their names.
pub type NameTable = BTreeMap<String, String>;

/// Names of places and people, as the server last told them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// Village, town or district code → name.
    pub places: BTreeMap<String, String>,
    /// Person id → name.
    pub people: BTreeMap<String, String>,
}

impl Names {
    /// Asks the server for the names of this device's places and people.
    /// Either answer may fail (an old server, no connection): what is
    /// missing is `None`, and the cached names stay as they were.
    pub fn fetch(client: &HttpClient) -> (Option<NameTable>, Option<NameTable>) {
        let places = client.get("/v1/places").ok().and_then(|v| places_of(&v));
        let people = client.get("/v1/people").ok().and_then(|v| people_of(&v));
        (places, people)
    }

    /// A village (or town) code with its name beside it, when known.
    pub fn place(&self, code: &str) -> String {
        match self.places.get(code) {
            Some(name) if !name.trim().is_empty() => format!("{code} {name}"),
            _ => code.to_owned(),
        }
    }

    /// A person's name; a person the directory does not name is "another
    /// phone" (ids are never shown as names).
    pub fn person(&self, id: &str, lang: Lang) -> String {
        match self.people.get(id) {
            Some(name) if !name.trim().is_empty() => name.clone(),
            _ => lang.pick("另一台手机", "another phone").to_owned(),
        }
    }
}

/// `{"scope", "name", "towns": {code: name}, "villages": [{code, name}]}`.
fn places_of(body: &Value) -> Option<NameTable> {
    let villages = body["villages"].as_array()?;
    let mut places = BTreeMap::new();
    if let (Some(scope), Some(name)) = (body["scope"].as_str(), body["name"].as_str()) {
        places.insert(scope.to_owned(), name.to_owned());
    }
    if let Some(towns) = body["towns"].as_object() {
        for (code, name) in towns {
            if let Some(name) = name.as_str() {
                places.insert(code.clone(), name.to_owned());
            }
        }
    }
    for village in villages {
        if let (Some(code), Some(name)) = (village["code"].as_str(), village["name"].as_str()) {
            places.insert(code.to_owned(), name.to_owned());
        }
    }
    Some(places)
}

/// `{"people": [{"id", "name"}]}`.
fn people_of(body: &Value) -> Option<NameTable> {
    let people = body["people"].as_array()?;
    Some(
        people
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p["name"].as_str()?.to_owned())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_read_in_chinese_or_english() {
        assert_eq!(
            Lang::Zh.status(Status::Escalated, Some(Level::Town)),
            "已上报（镇级）"
        );
        assert_eq!(
            Lang::En.status(Status::Escalated, Some(Level::Town)),
            "escalated (town)"
        );
        assert_eq!(Lang::Zh.status(Status::Mediating, None), "调解中");
        assert_eq!(Lang::En.status(Status::Mediating, None), "mediating");
        assert_eq!(
            Lang::Zh.count(2, "件纠纷", "dispute", "disputes"),
            "2 件纠纷"
        );
        assert_eq!(
            Lang::En.count(1, "件纠纷", "dispute", "disputes"),
            "1 dispute"
        );
    }

    #[test]
    fn names_of_places_and_people_come_from_the_servers_answers() {
        let places = places_of(&json!({
            "scope": "500110101",
            "name": "石桥镇",
            "towns": {"500110101": "石桥镇"},
            "villages": [{"code": "500110101001", "name": "红岩村"}, {"code": 5}]
        }))
        .unwrap();
        let people =
            people_of(&json!({"people": [{"id": "li-mei", "name": "李梅"}, {"id": 1}]})).unwrap();
        let names = Names { places, people };
        assert_eq!(names.place("500110101001"), "500110101001 红岩村");
        assert_eq!(names.place("500110101"), "500110101 石桥镇");
        assert_eq!(names.place("500110101002"), "500110101002");
        assert_eq!(names.person("li-mei", Lang::Zh), "李梅");
        assert_eq!(names.person("nobody", Lang::Zh), "另一台手机");
        assert_eq!(names.person("nobody", Lang::En), "another phone");
        assert!(places_of(&json!({"code": "x"})).is_none());
    }
}
