//! Reading values out of a record document, whatever shape a client gave
//! them.
//!
//! A record document is outside input: it may have been written by a
//! JavaScript client (which stores plain strings as collaborative Text and
//! numbers as integers or floats), by an older or newer version of this
//! code, or by a hostile peer. Everything here reads without panicking and
//! normalises what it finds into an [`Item`]:
//!
//! - a string reads the same whether it is a scalar string or a Text object;
//! - a time reads from a timestamp, an integer, an unsigned integer or a
//!   finite float (milliseconds since the epoch);
//! - every concurrent value of a field is available ([`all`]), ordered by the
//!   id of the operation that wrote it, so that merge rules and validation
//!   see conflicts exactly as every other replica sees them. The last one is
//!   the value Automerge itself shows ([`winner`]).

use automerge::{ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value};

use crate::summary::Millis;

/// One value of a field, normalised for reading.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// A scalar string or the content of a Text object.
    Str(String),
    Int(i64),
    Uint(u64),
    F64(f64),
    Timestamp(i64),
    Bool(bool),
    Null,
    Counter(i64),
    Bytes,
    /// A scalar of a type from a future Automerge version.
    Unknown,
    /// A map (or a legacy table).
    Map(ObjId),
    List(ObjId),
}

impl Item {
    fn from_value<D: ReadDoc>(doc: &D, value: Value<'_>, id: ObjId) -> Self {
        match value {
            Value::Object(ObjType::Map | ObjType::Table) => Item::Map(id),
            Value::Object(ObjType::List) => Item::List(id),
            // A Text object that cannot be read is as good as no string;
            // reading it as empty keeps every replica in agreement.
            Value::Object(ObjType::Text) => Item::Str(doc.text(&id).unwrap_or_default()),
            Value::Scalar(scalar) => match scalar.as_ref() {
                ScalarValue::Str(s) => Item::Str(s.to_string()),
                ScalarValue::Int(i) => Item::Int(*i),
                ScalarValue::Uint(u) => Item::Uint(*u),
                ScalarValue::F64(f) => Item::F64(*f),
                ScalarValue::Timestamp(t) => Item::Timestamp(*t),
                ScalarValue::Boolean(b) => Item::Bool(*b),
                ScalarValue::Null => Item::Null,
                ScalarValue::Counter(c) => Item::Counter(i64::from(c)),
                ScalarValue::Bytes(_) => Item::Bytes,
                ScalarValue::Unknown { .. } => Item::Unknown,
            },
        }
    }

    /// What kind of value this is, in words for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Item::Str(_) => "a string",
            Item::Int(_) | Item::Uint(_) => "an integer",
            Item::F64(_) => "a number",
            Item::Timestamp(_) => "a timestamp",
            Item::Bool(_) => "a boolean",
            Item::Null => "null",
            Item::Counter(_) => "a counter",
            Item::Bytes => "bytes",
            Item::Unknown => "a value of unknown type",
            Item::Map(_) => "a map",
            Item::List(_) => "a list",
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Item::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Milliseconds since the epoch, from any of the numeric forms clients
    /// write. A float must be finite and within range; it is truncated.
    pub(crate) fn as_millis(&self) -> Option<Millis> {
        match *self {
            Item::Timestamp(t) | Item::Int(t) => Some(t),
            Item::Uint(u) => i64::try_from(u).ok(),
            Item::F64(f) => float_to_i64(f.trunc()),
            _ => None,
        }
    }

    /// A whole number, from an integer or an integral float (JavaScript
    /// numbers).
    pub(crate) fn as_integer(&self) -> Option<i64> {
        match *self {
            Item::Int(i) => Some(i),
            Item::Uint(u) => i64::try_from(u).ok(),
            Item::F64(f) if f.fract() == 0.0 => float_to_i64(f),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match *self {
            Item::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A short rendering for messages about changed values.
    pub(crate) fn describe(&self) -> String {
        match self {
            Item::Str(s) => format!("{:?}", shorten(s)),
            Item::Int(i) | Item::Timestamp(i) | Item::Counter(i) => i.to_string(),
            Item::Uint(u) => u.to_string(),
            Item::F64(f) => f.to_string(),
            Item::Bool(b) => b.to_string(),
            other => other.type_name().to_owned(),
        }
    }
}

fn float_to_i64(f: f64) -> Option<i64> {
    // `as` saturates; refuse values it would have to clamp, and NaN.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if f.is_finite() && (-LIMIT..LIMIT).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

/// At most 64 characters of `text`, for messages.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Every concurrent value of `prop` in `obj`, ordered by the id of the
/// operation that wrote it (the last one is Automerge's winner). Empty when
/// the field is absent or `obj` is not a container that has it.
pub(crate) fn all<D: ReadDoc>(doc: &D, obj: &ObjId, prop: impl Into<Prop>) -> Vec<Item> {
    let Ok(mut values) = doc.get_all(obj, prop) else {
        return Vec::new();
    };
    values.sort_by(|(_, a), (_, b)| a.cmp(b));
    values
        .into_iter()
        .map(|(value, id)| Item::from_value(doc, value, id))
        .collect()
}

/// Like [`all`], each value with the id of the operation that wrote it
/// (for an object, its object id).
pub(crate) fn all_tagged<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: impl Into<Prop>,
) -> Vec<(Item, ObjId)> {
    let Ok(mut values) = doc.get_all(obj, prop) else {
        return Vec::new();
    };
    values.sort_by(|(_, a), (_, b)| a.cmp(b));
    values
        .into_iter()
        .map(|(value, id)| (Item::from_value(doc, value, id.clone()), id))
        .collect()
}

/// The value Automerge shows for `prop` when there is a conflict: the one
/// written by the greatest operation id.
pub(crate) fn winner<D: ReadDoc>(doc: &D, obj: &ObjId, prop: impl Into<Prop>) -> Option<Item> {
    all(doc, obj, prop).pop()
}

/// The winning value of a string field, if it is a string.
pub(crate) fn string<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<String> {
    match winner(doc, obj, key) {
        Some(Item::Str(s)) => Some(s),
        _ => None,
    }
}

/// The winning value of a time field, if it is a time.
pub(crate) fn millis<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<Millis> {
    winner(doc, obj, key).and_then(|item| item.as_millis())
}

/// Every concurrent map stored under `prop`.
pub(crate) fn maps<D: ReadDoc>(doc: &D, obj: &ObjId, prop: impl Into<Prop>) -> Vec<ObjId> {
    all(doc, obj, prop)
        .into_iter()
        .filter_map(|item| match item {
            Item::Map(id) => Some(id),
            _ => None,
        })
        .collect()
}

/// Every concurrent list stored under `prop`.
pub(crate) fn lists<D: ReadDoc>(doc: &D, obj: &ObjId, prop: impl Into<Prop>) -> Vec<ObjId> {
    all(doc, obj, prop)
        .into_iter()
        .filter_map(|item| match item {
            Item::List(id) => Some(id),
            _ => None,
        })
        .collect()
}

/// The winning map stored under `prop`, if the winner is a map.
pub(crate) fn winning_map<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: impl Into<Prop>,
) -> Option<ObjId> {
    match winner(doc, obj, prop) {
        Some(Item::Map(id)) => Some(id),
        _ => None,
    }
}

/// The winning list stored under `prop`, if the winner is a list.
pub(crate) fn winning_list<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: impl Into<Prop>,
) -> Option<ObjId> {
    match winner(doc, obj, prop) {
        Some(Item::List(id)) => Some(id),
        _ => None,
    }
}

/// The keys of a map object (empty when `obj` is not a map).
pub(crate) fn keys<D: ReadDoc>(doc: &D, obj: &ObjId) -> Vec<String> {
    doc.keys(obj).collect()
}

/// The number of elements in a list object.
pub(crate) fn length<D: ReadDoc>(doc: &D, obj: &ObjId) -> usize {
    doc.length(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    #[test]
    fn strings_read_the_same_from_scalars_and_text() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "plain", "甲乙").unwrap();
        let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, "甲乙").unwrap();
        assert_eq!(string(&doc, &ROOT, "plain").as_deref(), Some("甲乙"));
        assert_eq!(string(&doc, &ROOT, "text").as_deref(), Some("甲乙"));
        assert_eq!(string(&doc, &ROOT, "missing"), None);
    }

    #[test]
    fn times_read_from_every_numeric_form() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "ts", ScalarValue::Timestamp(1_700_000_000_000))
            .unwrap();
        doc.put(ROOT, "int", 1_700_000_000_000_i64).unwrap();
        doc.put(ROOT, "uint", 1_700_000_000_000_u64).unwrap();
        doc.put(ROOT, "float", 1_700_000_000_000.75_f64).unwrap();
        doc.put(ROOT, "nan", f64::NAN).unwrap();
        doc.put(ROOT, "huge", u64::MAX).unwrap();
        doc.put(ROOT, "text", "yesterday").unwrap();
        for key in ["ts", "int", "uint", "float"] {
            assert_eq!(millis(&doc, &ROOT, key), Some(1_700_000_000_000), "{key}");
        }
        for key in ["nan", "huge", "text", "missing"] {
            assert_eq!(millis(&doc, &ROOT, key), None, "{key}");
        }
    }

    #[test]
    fn conflicts_are_all_visible_and_the_winner_is_last() {
        let mut a = AutoCommit::new();
        a.put(ROOT, "risk", "low").unwrap();
        let mut b = a.fork();
        a.put(ROOT, "risk", "medium").unwrap();
        b.put(ROOT, "risk", "high").unwrap();
        a.merge(&mut b).unwrap();
        b.merge(&mut a).unwrap();
        let from_a = all(&a, &ROOT, "risk");
        assert_eq!(from_a.len(), 2);
        assert_eq!(from_a, all(&b, &ROOT, "risk"));
        let shown = a
            .get(ROOT, "risk")
            .unwrap()
            .unwrap()
            .0
            .as_str()
            .map(str::to_owned);
        assert_eq!(
            winner(&a, &ROOT, "risk").and_then(|i| i.as_str().map(str::to_owned)),
            shown
        );
    }
}
