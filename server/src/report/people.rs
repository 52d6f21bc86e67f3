//! People by name: the directory's names of the ids records carry
//! (`createdBy`, `assignees`, an event's `by`), so reports and exports show
//! who did what by name, never by internal id.

use std::collections::HashMap;

use crate::directory::Directory;

/// Names by person id, from the directory.
pub type PersonNames = HashMap<String, String>;

/// Every person's name by id.
pub fn names(directory: &Directory) -> PersonNames {
    directory
        .people()
        .into_iter()
        .map(|person| (person.id, person.name))
        .collect()
}

/// How a person is shown: their name, or — for an id the directory does
/// not know — a word saying so, in Chinese.
pub fn shown<'a>(names: &'a PersonNames, id: &str) -> &'a str {
    names.get(id).map_or(UNKNOWN_PERSON, String::as_str)
}

/// Shown for a person the directory does not know.
pub const UNKNOWN_PERSON: &str = "未登记人员";

/// The names of several people, joined with 、.
pub fn joined(names: &PersonNames, ids: &[String]) -> String {
    ids.iter()
        .map(|id| shown(names, id))
        .collect::<Vec<_>>()
        .join("、")
}
