//! Merge rules: how a field that was set concurrently on several phones
//! reads (DESIGN.md §3).
//!
//! Automerge keeps every concurrent value of a field and shows one of them,
//! chosen by operation id. For most fields that arbitrary choice is fine; for
//! some the domain has a better answer, and it must be computed from *all*
//! the concurrent values so that every replica reaches the same answer
//! whatever order the changes arrived in:
//!
//! - risk resolves to the **highest** concurrent value (safety first);
//! - sentiment resolves to the **most severe** concurrent value;
//! - sets (assignees, topics, related records) are maps of `key → true`:
//!   concurrent adds both stay, and a key stays while any concurrent value
//!   of it is `true`. If the set itself was created twice concurrently, the
//!   members of every copy count;
//! - follow-up flags (`needed`, `done`) read `true` if any concurrent value
//!   is `true`: a follow-up someone marked needed or done stays so; of
//!   concurrent due dates the earliest counts;
//! - the timeline is append-only: concurrent events are all kept, and if
//!   the `events` list itself was created twice, the entries of both count;
//! - other enumerations take Automerge's winner among the values this
//!   version understands.
//!
//! The derived status of a dispute is a merge rule of its own, in
//! [`super::status`].

use std::collections::BTreeSet;

use automerge::{ObjId, ReadDoc};

use super::fields;
use super::value::{self, Item};
use crate::vocab::{Risk, Sentiment};

/// The highest risk among the concurrent values of `risk`.
pub(crate) fn risk<D: ReadDoc>(doc: &D, obj: &ObjId) -> Option<Risk> {
    highest(doc, obj, fields::RISK, Risk::parse)
}

/// The most severe sentiment among the concurrent values of `sentiment`.
pub(crate) fn sentiment<D: ReadDoc>(doc: &D, obj: &ObjId) -> Option<Sentiment> {
    highest(doc, obj, fields::SENTIMENT, Sentiment::parse)
}

/// The greatest value, in the vocabulary's order, among the concurrent
/// values of an enumerated field. Values this version does not know are
/// skipped.
pub(crate) fn highest<D: ReadDoc, T: Ord>(
    doc: &D,
    obj: &ObjId,
    key: &str,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    value::all(doc, obj, key)
        .iter()
        .filter_map(|item| item.as_str().and_then(parse))
        .max()
}

/// Automerge's winner among the concurrent values of an enumerated field
/// that this version understands.
pub(crate) fn latest_known<D: ReadDoc, T>(
    doc: &D,
    obj: &ObjId,
    key: &str,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    value::all(doc, obj, key)
        .iter()
        .rev()
        .find_map(|item| item.as_str().and_then(parse))
}

/// The members of a set stored as a map `key → true` under `key`.
pub(crate) fn set_members<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> BTreeSet<String> {
    let mut members = BTreeSet::new();
    for set in value::maps(doc, obj, key) {
        for member in value::keys(doc, &set) {
            if any_true(doc, &set, &member) {
                members.insert(member);
            }
        }
    }
    members
}

/// Whether any concurrent value of a flag is `true`.
pub(crate) fn any_true<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> bool {
    value::all(doc, obj, key)
        .iter()
        .any(|item| matches!(item, Item::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};

    fn concurrently(
        base: &mut AutoCommit,
        left: impl FnOnce(&mut AutoCommit),
        right: impl FnOnce(&mut AutoCommit),
    ) -> (AutoCommit, AutoCommit) {
        let mut a = base.fork();
        let mut b = base.fork();
        left(&mut a);
        right(&mut b);
        a.merge(&mut b).unwrap();
        b.merge(&mut a).unwrap();
        (a, b)
    }

    #[test]
    fn risk_takes_the_highest_and_skips_unknown_values() {
        let mut base = AutoCommit::new();
        base.put(ROOT, "risk", "low").unwrap();
        let (a, b) = concurrently(
            &mut base,
            |d| d.put(ROOT, "risk", "high").unwrap(),
            |d| d.put(ROOT, "risk", "severe").unwrap(),
        );
        assert_eq!(risk(&a, &ROOT), Some(Risk::High));
        assert_eq!(risk(&b, &ROOT), Some(Risk::High));
    }

    #[test]
    fn sets_keep_members_of_concurrently_created_copies() {
        let mut base = AutoCommit::new();
        let (a, _) = concurrently(
            &mut base,
            |d| {
                let m = d.put_object(ROOT, "assignees", ObjType::Map).unwrap();
                d.put(&m, "cadre-a", true).unwrap();
            },
            |d| {
                let m = d.put_object(ROOT, "assignees", ObjType::Map).unwrap();
                d.put(&m, "cadre-b", true).unwrap();
                d.put(&m, "cadre-c", false).unwrap();
            },
        );
        let members: Vec<_> = set_members(&a, &ROOT, "assignees").into_iter().collect();
        assert_eq!(members, ["cadre-a", "cadre-b"]);
    }
}
