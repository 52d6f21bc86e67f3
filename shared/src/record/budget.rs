//! What applying Automerge bytes would cost, read from the bytes before
//! they are applied.
//!
//! Automerge stores operations in columns, run-length encoded: a few bytes
//! can declare millions of operations (five million characters inserted and
//! deleted fit in 5 KB), and applying them costs seconds of CPU and hundreds
//! of megabytes. [`declared_work`] walks the chunks' headers and counts the
//! rows of every column without building a single operation, so the server
//! and the phone refuse such bytes at the cost of reading them.
//!
//! The count is an upper bound on the operations a chunk holds: the largest
//! row count of any of its columns (a document's deleted operations are
//! counted too, through their successor columns). Compressed chunks and
//! columns are inflated under a byte budget.
//!
//! The format is Automerge's binary format: a chunk is the magic bytes, a
//! checksum, a type (0 document, 1 change, 2 deflated change) and a
//! LEB128 length; see <https://automerge.org/automerge-binary-format-spec/>.

use std::io::Read;

use thiserror::Error;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const DEFLATED_CHANGE: u8 = 2;
const DEFLATE_BIT: u64 = 0b1000;

/// The work some Automerge bytes declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// An upper bound on the operations they hold.
    pub ops: u64,
    /// Their size once every compressed part is inflated.
    pub inflated_bytes: u64,
}

/// Why the bytes were refused before any work.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OverBudget {
    #[error("the changes hold up to {ops} operations; at most {max} are allowed")]
    TooManyOps { ops: u64, max: u64 },
    #[error("the changes inflate to more than {max} bytes")]
    TooLargeInflated { max: u64 },
    #[error("not Automerge data: {0}")]
    Malformed(&'static str),
}

/// The work `bytes` (any sequence of document and change chunks, as
/// `save()`, `save_after()` and sync messages carry) declare, refusing as
/// soon as it exceeds `max_ops` operations or `max_inflated` bytes.
pub fn declared_work(bytes: &[u8], max_ops: u64, max_inflated: u64) -> Result<Work, OverBudget> {
    let mut work = Work::default();
    let mut input = Reader::new(bytes);
    while !input.is_empty() {
        if input.take(4)? != MAGIC {
            return Err(OverBudget::Malformed(
                "a chunk does not start with the magic bytes",
            ));
        }
        input.take(4)?; // checksum
        let kind = input.byte()?;
        let len = input.uleb()?;
        let body = input.take(usize::try_from(len).map_err(|_| too_long())?)?;
        let (ops, inflated) = match kind {
            DOCUMENT => document(body, max_inflated.saturating_sub(work.inflated_bytes))?,
            CHANGE => (change(body)?, body.len() as u64),
            DEFLATED_CHANGE => {
                let plain = inflate(body, max_inflated.saturating_sub(work.inflated_bytes))?;
                (change(&plain)?, plain.len() as u64)
            }
            _ => return Err(OverBudget::Malformed("an unknown chunk type")),
        };
        work.ops = work.ops.saturating_add(ops);
        work.inflated_bytes = work.inflated_bytes.saturating_add(inflated);
        if work.ops > max_ops {
            return Err(OverBudget::TooManyOps {
                ops: work.ops,
                max: max_ops,
            });
        }
        if work.inflated_bytes > max_inflated {
            return Err(OverBudget::TooLargeInflated { max: max_inflated });
        }
    }
    Ok(work)
}

fn too_long() -> OverBudget {
    OverBudget::Malformed("a length runs past the end of the data")
}

fn inflate(bytes: &[u8], budget: u64) -> Result<Vec<u8>, OverBudget> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(budget.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| OverBudget::Malformed("a compressed part does not inflate"))?;
    if out.len() as u64 > budget {
        return Err(OverBudget::TooLargeInflated { max: budget });
    }
    Ok(out)
}

/// A change chunk's body: its header, then its columns.
fn change(body: &[u8]) -> Result<u64, OverBudget> {
    let mut r = Reader::new(body);
    let deps = r.uleb()?;
    r.take(usize::try_from(deps.saturating_mul(32)).map_err(|_| too_long())?)?;
    r.bytes()?; // actor
    r.uleb()?; // seq
    r.uleb()?; // start op
    r.uleb()?; // time (signed; skipped as bytes)
    r.bytes()?; // message
    let others = r.uleb()?;
    for _ in 0..others {
        r.bytes()?;
    }
    let specs = column_specs(&mut r)?;
    columns(&mut r, &specs, u64::MAX).map(|(rows, _)| rows)
}

/// A document chunk's body: actors, heads, the change columns' and the
/// operation columns' metadata, then their data.
fn document(body: &[u8], budget: u64) -> Result<(u64, u64), OverBudget> {
    let mut r = Reader::new(body);
    let actors = r.uleb()?;
    for _ in 0..actors {
        r.bytes()?;
    }
    let heads = r.uleb()?;
    r.take(usize::try_from(heads.saturating_mul(32)).map_err(|_| too_long())?)?;
    let change_specs = column_specs(&mut r)?;
    let op_specs = column_specs(&mut r)?;
    let (changes, change_bytes) = columns(&mut r, &change_specs, budget)?;
    let (ops, op_bytes) = columns(&mut r, &op_specs, budget.saturating_sub(change_bytes))?;
    Ok((ops.max(changes), change_bytes.saturating_add(op_bytes)))
}

fn column_specs(r: &mut Reader<'_>) -> Result<Vec<(u64, u64)>, OverBudget> {
    let count = r.uleb()?;
    let mut specs = Vec::new();
    for _ in 0..count {
        let spec = r.uleb()?;
        let len = r.uleb()?;
        specs.push((spec, len));
    }
    Ok(specs)
}

/// The largest row count of the columns, and their inflated size.
fn columns(
    r: &mut Reader<'_>,
    specs: &[(u64, u64)],
    budget: u64,
) -> Result<(u64, u64), OverBudget> {
    let mut rows = 0u64;
    let mut inflated = 0u64;
    for &(spec, len) in specs {
        let data = r.take(usize::try_from(len).map_err(|_| too_long())?)?;
        let plain;
        let data = if spec & DEFLATE_BIT != 0 {
            plain = inflate(data, budget.saturating_sub(inflated))?;
            &plain[..]
        } else {
            data
        };
        inflated = inflated.saturating_add(data.len() as u64);
        rows = rows.max(column_rows(spec & 0b111, data)?);
    }
    Ok((rows, inflated))
}

/// The rows of one column, by its type: 0 group, 1 actor, 2 integer,
/// 3 delta, 4 boolean, 5 string, 6 value metadata (run-length encoded),
/// 7 raw values (no rows of their own).
fn column_rows(kind: u64, data: &[u8]) -> Result<u64, OverBudget> {
    let mut r = Reader::new(data);
    let mut rows = 0u64;
    match kind {
        7 => {}
        4 => {
            while !r.is_empty() {
                rows = rows.saturating_add(r.uleb()?);
            }
        }
        _ => {
            while !r.is_empty() {
                let count = r.sleb()?;
                if count > 0 {
                    rows = rows.saturating_add(count as u64);
                    r.value(kind)?;
                } else if count < 0 {
                    let literals = count.unsigned_abs();
                    rows = rows.saturating_add(literals);
                    for _ in 0..literals {
                        r.value(kind)?;
                    }
                } else {
                    rows = rows.saturating_add(r.uleb()?);
                }
            }
        }
    }
    Ok(rows)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], OverBudget> {
        if n > self.bytes.len() {
            return Err(too_long());
        }
        let (first, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(first)
    }

    fn byte(&mut self) -> Result<u8, OverBudget> {
        Ok(self.take(1)?[0])
    }

    fn uleb(&mut self) -> Result<u64, OverBudget> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(OverBudget::Malformed("a number is too long"))
    }

    fn sleb(&mut self) -> Result<i64, OverBudget> {
        let mut value = 0i64;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            if shift < 64 {
                value |= i64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Ok(value);
            }
            if shift >= 70 {
                return Err(OverBudget::Malformed("a number is too long"));
            }
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], OverBudget> {
        let len = self.uleb()?;
        self.take(usize::try_from(len).map_err(|_| too_long())?)
    }

    /// One value of a run-length encoded column of `kind`.
    fn value(&mut self, kind: u64) -> Result<(), OverBudget> {
        match kind {
            5 => self.bytes().map(|_| ()),
            3 => self.sleb().map(|_| ()),
            _ => self.uleb().map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

    use super::*;

    const BIG: u64 = u64::MAX;

    /// Characters inserted then deleted: the bomb's shape.
    fn churned(chars: usize) -> AutoCommit {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "x", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, &"a".repeat(chars)).unwrap();
        doc.commit();
        doc.splice_text(&text, 0, chars as isize, "").unwrap();
        doc.commit();
        doc
    }

    #[test]
    fn a_small_record_declares_about_its_operations() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "a", 1).unwrap();
        doc.put(ROOT, "b", "two").unwrap();
        let list = doc.put_object(ROOT, "c", ObjType::List).unwrap();
        doc.insert(&list, 0, 3).unwrap();
        doc.commit();
        let ops = doc.stats().num_ops;
        for bytes in [doc.save(), doc.save_nocompress(), doc.save_after(&[])] {
            let work = declared_work(&bytes, BIG, BIG).unwrap();
            assert!(work.ops >= ops && work.ops <= ops * 2, "{work:?} for {ops}");
        }
    }

    #[test]
    fn churn_is_counted_in_saves_and_in_changes() {
        let mut doc = churned(20_000);
        for bytes in [doc.save(), doc.save_after(&[])] {
            let work = declared_work(&bytes, BIG, BIG).unwrap();
            assert!(work.ops >= 20_000, "{work:?}");
            assert!(matches!(
                declared_work(&bytes, 10_000, BIG),
                Err(OverBudget::TooManyOps { max: 10_000, .. })
            ));
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [
            &b"hello"[..],
            &[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff][..],
            &[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 9, 0][..],
        ] {
            assert!(matches!(
                declared_work(bytes, BIG, BIG),
                Err(OverBudget::Malformed(_))
            ));
        }
        let mut doc = churned(100);
        let save = doc.save();
        for cut in 0..save.len() {
            let _ = declared_work(&save[..cut], BIG, BIG);
        }
    }
}
