//! A read-through view of a document that answers `get_all` from one pass
//! over each object.
//!
//! Reading a record ([`crate::record::Record::read`]) asks for some forty
//! fields one by one, and Automerge seeks each of them through the
//! object's operations: most of the time of folding a record's summary.
//! [`Prefetched`] reads every key (or element) of an object the first time
//! one of them is asked for, with `map_range` / `list_range`, and answers
//! later questions about that object from memory. A key whose values
//! conflict is read with `get_all` itself, so every answer is exactly what
//! the document gives; everything else is passed through unchanged.
//!
//! It is meant for one short read of a document that does not change
//! meanwhile (it cannot: it borrows the document).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::RangeBounds;
use std::rc::Rc;

use automerge::hydrate;
use automerge::iter::{DocIter, Keys, ListRange, MapRange, Spans, Values};
use automerge::marks::{Mark, MarkSet};
use automerge::{
    AutomergeError, Change, ChangeHash, Cursor, CursorPosition, MoveCursor, ObjId, ObjType,
    Parents, Prop, ReadDoc, Stats, TextEncoding, Value,
};

/// Every value of one key or element, as `get_all` gives them.
type All = Vec<(Value<'static>, ObjId)>;

/// Every value of every key (of a map) or element (of a list).
#[derive(Default)]
struct Object {
    is_list: bool,
    keys: HashMap<String, All>,
    elements: Vec<All>,
}

/// A document whose `get_all` reads each object once.
pub struct Prefetched<'a, D: ReadDoc> {
    doc: &'a D,
    objects: RefCell<HashMap<ObjId, Rc<Object>>>,
}

impl<'a, D: ReadDoc> Prefetched<'a, D> {
    pub fn new(doc: &'a D) -> Self {
        Self {
            doc,
            objects: RefCell::new(HashMap::new()),
        }
    }

    fn owned(values: Vec<(Value<'_>, ObjId)>) -> All {
        values
            .into_iter()
            .map(|(value, id)| (value.to_owned(), id))
            .collect()
    }

    /// The object's values, read in one pass the first time; `None` for
    /// an object that is not a map or a list (text, or no object).
    fn object(&self, obj: &ObjId) -> Option<Rc<Object>> {
        if let Some(object) = self.objects.borrow().get(obj) {
            return Some(object.clone());
        }
        let mut object = Object::default();
        match self.doc.object_type(obj).ok()? {
            ObjType::Map | ObjType::Table => {
                for item in self.doc.map_range(obj, ..) {
                    let values = if item.conflict {
                        Self::owned(self.doc.get_all(obj, item.key.as_ref()).ok()?)
                    } else {
                        vec![(item.value.clone().into_value(), item.id())]
                    };
                    object.keys.insert(item.key.into_owned(), values);
                }
            }
            ObjType::List => {
                object.is_list = true;
                for item in self.doc.list_range(obj, ..) {
                    let values = if item.conflict {
                        Self::owned(self.doc.get_all(obj, item.index).ok()?)
                    } else {
                        vec![(item.value.clone().into_value(), item.id())]
                    };
                    if item.index != object.elements.len() {
                        // Not the dense run of elements expected: read
                        // this object field by field.
                        return None;
                    }
                    object.elements.push(values);
                }
            }
            ObjType::Text => return None,
        }
        let object = Rc::new(object);
        self.objects
            .borrow_mut()
            .insert(obj.clone(), object.clone());
        Some(object)
    }
}

impl<D: ReadDoc> ReadDoc for Prefetched<'_, D> {
    fn get_all<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        let obj = obj.as_ref();
        let prop = prop.into();
        let Some(object) = self.object(obj) else {
            return self.doc.get_all(obj, prop);
        };
        let found = match (&prop, object.is_list) {
            (Prop::Map(key), false) => {
                Some(object.keys.get(key.as_str()).cloned().unwrap_or_default())
            }
            (Prop::Seq(index), true) => object.elements.get(*index).cloned(),
            _ => None,
        };
        match found {
            Some(values) => Ok(values),
            // A list index out of range, or a key of the wrong kind: the
            // document's own answer.
            None => self.doc.get_all(obj, prop),
        }
    }

    fn get<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get(obj, prop)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Parents<'_>, AutomergeError> {
        self.doc.parents(obj)
    }

    fn parents_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Parents<'_>, AutomergeError> {
        self.doc.parents_at(obj, heads)
    }

    fn keys<O: AsRef<ObjId>>(&self, obj: O) -> Keys<'_> {
        self.doc.keys(obj)
    }

    fn keys_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> Keys<'_> {
        self.doc.keys_at(obj, heads)
    }

    fn iter_at<O: AsRef<ObjId>>(&self, obj: O, heads: Option<&[ChangeHash]>) -> DocIter<'_> {
        self.doc.iter_at(obj, heads)
    }

    fn map_range<'b, O: AsRef<ObjId>, R: RangeBounds<String> + 'b>(
        &'b self,
        obj: O,
        range: R,
    ) -> MapRange<'b> {
        self.doc.map_range(obj, range)
    }

    fn map_range_at<'b, O: AsRef<ObjId>, R: RangeBounds<String> + 'b>(
        &'b self,
        obj: O,
        range: R,
        heads: &[ChangeHash],
    ) -> MapRange<'b> {
        self.doc.map_range_at(obj, range, heads)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> ListRange<'_> {
        self.doc.list_range(obj, range)
    }

    fn list_range_at<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
        heads: &[ChangeHash],
    ) -> ListRange<'_> {
        self.doc.list_range_at(obj, range, heads)
    }

    fn values<O: AsRef<ObjId>>(&self, obj: O) -> Values<'_> {
        self.doc.values(obj)
    }

    fn values_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> Values<'_> {
        self.doc.values_at(obj, heads)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        let obj = obj.as_ref();
        match self.object(obj) {
            Some(object) if object.is_list => object.elements.len(),
            _ => self.doc.length(obj),
        }
    }

    fn length_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> usize {
        self.doc.length_at(obj, heads)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Result<ObjType, AutomergeError> {
        self.doc.object_type(obj)
    }

    fn marks<O: AsRef<ObjId>>(&self, obj: O) -> Result<Vec<Mark>, AutomergeError> {
        self.doc.marks(obj)
    }

    fn marks_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Vec<Mark>, AutomergeError> {
        self.doc.marks_at(obj, heads)
    }

    fn get_marks<O: AsRef<ObjId>>(
        &self,
        obj: O,
        index: usize,
        heads: Option<&[ChangeHash]>,
    ) -> Result<MarkSet, AutomergeError> {
        self.doc.get_marks(obj, index, heads)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        self.doc.text(obj)
    }

    fn text_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<String, AutomergeError> {
        self.doc.text_at(obj, heads)
    }

    fn spans<O: AsRef<ObjId>>(&self, obj: O) -> Result<Spans<'_>, AutomergeError> {
        self.doc.spans(obj)
    }

    fn spans_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Spans<'_>, AutomergeError> {
        self.doc.spans_at(obj, heads)
    }

    fn get_cursor<O: AsRef<ObjId>, I: Into<CursorPosition>>(
        &self,
        obj: O,
        position: I,
        at: Option<&[ChangeHash]>,
    ) -> Result<Cursor, AutomergeError> {
        self.doc.get_cursor(obj, position, at)
    }

    fn get_cursor_moving<O: AsRef<ObjId>, I: Into<CursorPosition>>(
        &self,
        obj: O,
        position: I,
        at: Option<&[ChangeHash]>,
        move_cursor: MoveCursor,
    ) -> Result<Cursor, AutomergeError> {
        self.doc.get_cursor_moving(obj, position, at, move_cursor)
    }

    fn get_cursor_position<O: AsRef<ObjId>>(
        &self,
        obj: O,
        cursor: &Cursor,
        at: Option<&[ChangeHash]>,
    ) -> Result<usize, AutomergeError> {
        self.doc.get_cursor_position(obj, cursor, at)
    }

    fn get_at<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
        heads: &[ChangeHash],
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_at(obj, prop, heads)
    }

    fn hydrate<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: Option<&[ChangeHash]>,
    ) -> Result<hydrate::Value, AutomergeError> {
        self.doc.hydrate(obj, heads)
    }

    fn get_all_at<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
        heads: &[ChangeHash],
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_all_at(obj, prop, heads)
    }

    fn get_missing_deps(&self, heads: &[ChangeHash]) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(heads)
    }

    fn get_change_by_hash(&self, hash: &ChangeHash) -> Option<Change> {
        self.doc.get_change_by_hash(hash)
    }

    fn stats(&self) -> Stats {
        self.doc.stats()
    }

    fn text_encoding(&self) -> TextEncoding {
        self.doc.text_encoding()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ROOT, ScalarValue};
    use fengqiao_protocol::VillageCode;

    use super::*;
    use crate::record::{self, Author, NewDispute, NewEvent, NewVisit, Party, Record};
    use crate::vocab::{Category, EventKind, PartyRole, Risk, Sentiment, Topic};

    const T0: i64 = 1_767_225_600_000;

    fn village() -> VillageCode {
        VillageCode::new("500110101001").unwrap()
    }

    fn dispute() -> AutoCommit {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(vec![1; 20]));
        let new = NewDispute {
            village: village(),
            title: "宅基地边界纠纷".to_owned(),
            description: "两户因院墙位置发生争执。".to_owned(),
            category: Category::Land,
            risk: Risk::Low,
            parties: vec![
                Party::new("张三", PartyRole::Applicant).with_phone("13800000000"),
                Party::new("李四", PartyRole::Respondent),
            ],
            assignees: vec!["cadre-a".to_owned()],
        };
        record::create_dispute(&mut doc, &Author::new("cadre-a", T0), &new).unwrap();
        let event = NewEvent::new(EventKind::Mediation).with_note("首次调解");
        record::add_event(&mut doc, &Author::new("cadre-a", T0 + 1), &event).unwrap();
        doc
    }

    /// Every `get_all` and `length` of every object reachable from the
    /// root, through the document and through the prefetched view.
    fn assert_same_reads(doc: &AutoCommit) {
        let view = Prefetched::new(doc);
        let mut objects = vec![ROOT];
        while let Some(obj) = objects.pop() {
            let props: Vec<Prop> = match doc.object_type(&obj).unwrap() {
                ObjType::Map | ObjType::Table => doc.keys(&obj).map(Prop::from).collect(),
                ObjType::List => (0..doc.length(&obj) + 1).map(Prop::from).collect(),
                ObjType::Text => Vec::new(),
            };
            assert_eq!(view.length(&obj), doc.length(&obj));
            for prop in props.into_iter().chain([Prop::from("absent")]) {
                let direct = doc.get_all(&obj, prop.clone());
                let prefetched = view.get_all(&obj, prop.clone());
                assert_eq!(
                    format!("{direct:?}"),
                    format!("{prefetched:?}"),
                    "{obj} {prop:?}"
                );
                for (value, id) in direct.unwrap_or_default() {
                    if let Value::Object(_) = value {
                        objects.push(id);
                    }
                }
            }
        }
        assert_eq!(Record::read(doc).ok(), Record::read(&view).ok());
    }

    #[test]
    fn a_plain_record_reads_the_same() {
        assert_same_reads(&dispute());
    }

    #[test]
    fn conflicting_edits_read_the_same() {
        let mut a = dispute();
        let mut b = a.fork().with_actor(ActorId::from(vec![2; 20]));
        let mut c = a.fork().with_actor(ActorId::from(vec![3; 20]));
        record::set_risk(&mut a, &Author::new("cadre-a", T0 + 2), Risk::High).unwrap();
        record::set_risk(&mut b, &Author::new("cadre-b", T0 + 2), Risk::Medium).unwrap();
        record::set_title(&mut b, &Author::new("cadre-b", T0 + 3), "改名").unwrap();
        record::add_party(
            &mut c,
            &Author::new("cadre-c", T0 + 2),
            &Party::new("王五", PartyRole::Other),
        )
        .unwrap();
        let event = NewEvent::new(EventKind::Mediation).with_note("二次调解");
        record::add_event(&mut b, &Author::new("cadre-b", T0 + 4), &event).unwrap();
        record::add_event(&mut c, &Author::new("cadre-c", T0 + 4), &event).unwrap();
        // Raw concurrent writes of several types to the same keys.
        a.put(ROOT, "category", "family").unwrap();
        b.put(ROOT, "category", 7_i64).unwrap();
        c.put_object(ROOT, "category", ObjType::Map).unwrap();
        a.merge(&mut b).unwrap();
        a.merge(&mut c).unwrap();
        assert!(a.get_all(ROOT, "risk").unwrap().len() > 1);
        assert!(a.get_all(ROOT, "category").unwrap().len() == 3);
        assert_same_reads(&a);
    }

    #[test]
    fn odd_shapes_read_the_same() {
        let mut doc = dispute();
        let parties = doc.get(ROOT, "parties").unwrap().unwrap().1;
        doc.insert(&parties, 0, ScalarValue::Null).unwrap();
        doc.put(ROOT, "events", "not a list").unwrap();
        let text = doc.put_object(ROOT, "title", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, "文本标题").unwrap();
        assert_same_reads(&doc);
    }

    #[test]
    fn a_visit_reads_the_same() {
        let mut doc = AutoCommit::new();
        let visit = NewVisit {
            village: village(),
            visited_at: T0,
            household: "三组 王五家".to_owned(),
            group: Some("三组".to_owned()),
            topics: BTreeSet::from([Topic::Livelihood]),
            sentiment: Sentiment::Neutral,
            notes: "老人独居，屋顶漏雨。".to_owned(),
            follow_up_needed: true,
            follow_up_due: Some(T0 + 7),
            linked_dispute: None,
        };
        record::create_visit(&mut doc, &Author::new("cadre-a", T0), &visit).unwrap();
        assert_same_reads(&doc);
    }
}
