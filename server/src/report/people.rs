//! People by name and role: records name cadres by their person id
//! (`createdBy`, an event's `by`, assignees) and the audit trail by device;
//! pages, reports and exports show who did what by name, never by id.

use std::collections::HashMap;

use fengqiao_shared::access::Role;
use serde::Serialize;

use crate::directory::Directory;

/// Shown for a person the directory does not know.
pub const UNKNOWN_PERSON: &str = "未登记人员";

/// A person as pages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonView {
    pub name: String,
    /// The role of the person's devices (the widest one when they hold
    /// several); `None` when the person holds no device.
    pub role: Option<Role>,
}

/// Names and roles of the directory's people, by person id.
pub struct Names {
    people: HashMap<String, PersonView>,
}

/// Which role a person holding devices of several roles is shown with.
fn rank(role: Role) -> u8 {
    match role {
        Role::District => 5,
        Role::Town => 4,
        Role::Supervisor => 3,
        Role::Cadre => 2,
        Role::Admin => 1,
    }
}

impl Names {
    pub fn of(directory: &Directory) -> Self {
        let mut people: HashMap<String, PersonView> = directory
            .people()
            .into_iter()
            .map(|p| {
                (
                    p.id,
                    PersonView {
                        name: p.name,
                        role: None,
                    },
                )
            })
            .collect();
        for device in directory.devices() {
            if device.is_revoked() {
                continue;
            }
            if let Some(view) = people.get_mut(&device.person) {
                let role = device.access.role;
                if view.role.is_none_or(|had| rank(role) > rank(had)) {
                    view.role = Some(role);
                }
            }
        }
        Names { people }
    }

    /// Names of people holding no device, for tests.
    #[cfg(test)]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Names {
            people: pairs
                .into_iter()
                .map(|(id, name)| {
                    (
                        id.to_owned(),
                        PersonView {
                            name: name.to_owned(),
                            role: None,
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn person(&self, id: &str) -> Option<&PersonView> {
        self.people.get(id)
    }

    pub fn name(&self, id: &str) -> Option<&str> {
        self.people.get(id).map(|p| p.name.as_str())
    }

    pub fn role(&self, id: &str) -> Option<Role> {
        self.people.get(id).and_then(|p| p.role)
    }

    /// How a person is shown: their name, or — for an id the directory
    /// does not know — a word saying so, in Chinese.
    pub fn shown(&self, id: &str) -> &str {
        self.name(id).unwrap_or(UNKNOWN_PERSON)
    }

    /// The names of several people, joined with 、.
    pub fn joined(&self, ids: &[String]) -> String {
        ids.iter()
            .map(|id| self.shown(id))
            .collect::<Vec<_>>()
            .join("、")
    }

    /// The names of `ids` that the directory knows, for a page to look up.
    pub fn table<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> std::collections::BTreeMap<String, PersonView> {
        ids.into_iter()
            .filter_map(|id| self.people.get(id).map(|p| (id.to_owned(), p.clone())))
            .collect()
    }
}
