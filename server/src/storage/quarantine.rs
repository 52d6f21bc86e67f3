//! Quarantined changes: uploads the server refused, kept apart for admins.
//!
//! A CRDT cannot un-send a change, so a refused change is neither merged nor
//! relayed nor thrown away at once: it is stored here with who sent it,
//! when and why, so that an admin can see it and a person can re-enter the
//! data.
//!
//! The quarantine is bounded, so that refusals cost the server little
//! whatever a device sends ([`QuarantineBounds`]): an entry keeps at most
//! the first [`QuarantineBounds::entry_bytes`] of the refused bytes (with
//! their full size), and the entries of one device, and of all devices,
//! stay under a total; past it the oldest entries are dropped
//! ([`QuarantineIndex`]).

use std::collections::{BTreeMap, HashMap, VecDeque};

use fengqiao_protocol::{DeviceId, DocumentId, ErrorCode};
use fengqiao_shared::Millis;
use serde::{Deserialize, Serialize};

/// A refused change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuarantineEntry {
    /// The document the change was for.
    pub doc: DocumentId,
    /// The enrolled device that sent it, when known.
    pub device: Option<DeviceId>,
    /// When it was refused.
    pub at: Millis,
    /// Why, for people.
    pub reason: String,
    /// Why, for machines: the code the device was answered with.
    pub code: ErrorCode,
    /// The refused Automerge bytes, unchanged, or their first
    /// [`QuarantineBounds::entry_bytes`] when they were longer.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    /// How many bytes were refused; more than `bytes.len()` when only a
    /// prefix is kept. Entries stored before prefixes were kept have 0.
    #[serde(default)]
    pub size: u64,
}

impl QuarantineEntry {
    /// An entry keeping at most the first `keep` bytes of `refused`.
    pub fn new(
        doc: DocumentId,
        device: Option<DeviceId>,
        at: Millis,
        reason: String,
        code: ErrorCode,
        refused: &[u8],
        keep: usize,
    ) -> Self {
        Self {
            doc,
            device,
            at,
            reason,
            code,
            bytes: refused[..refused.len().min(keep)].to_vec(),
            size: refused.len() as u64,
        }
    }

    /// Whether only a prefix of the refused bytes is kept.
    pub fn truncated(&self) -> bool {
        self.size > self.bytes.len() as u64
    }
}

/// A quarantined change with the id it was stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Unique and increasing: later refusals have larger ids.
    pub id: u64,
    pub entry: QuarantineEntry,
}

/// How much the quarantine keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineBounds {
    /// Refused bytes kept per entry (a prefix; enough to identify the
    /// change's actor, sequence and first operations).
    pub entry_bytes: usize,
    /// Stored bytes of one device's entries, at most.
    pub device_bytes: u64,
    /// Stored bytes of all entries, at most.
    pub total_bytes: u64,
}

impl Default for QuarantineBounds {
    fn default() -> Self {
        Self {
            entry_bytes: 64 * 1024,
            device_bytes: 4 * 1024 * 1024,
            total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Who sent the entries an index counts; entries without a device
/// (development access) share one account.
type Account = Option<DeviceId>;

/// The stored entries' sizes, by device, in id order: decides which
/// entries to drop when one more is stored.
#[derive(Debug, Default)]
pub struct QuarantineIndex {
    entries: BTreeMap<u64, (Account, u64)>,
    by_device: HashMap<Account, (VecDeque<u64>, u64)>,
    total: u64,
}

impl QuarantineIndex {
    /// Counts an entry stored under `id` (larger than every id before)
    /// and returns the ids to delete, oldest first, so that the device and
    /// the whole stay within `bounds`. The new entry itself is dropped
    /// only if it alone exceeds a bound.
    pub fn admit(
        &mut self,
        id: u64,
        device: Option<DeviceId>,
        size: u64,
        bounds: &QuarantineBounds,
    ) -> Vec<u64> {
        self.entries.insert(id, (device, size));
        let account = self.by_device.entry(device).or_default();
        account.0.push_back(id);
        account.1 += size;
        self.total += size;
        let mut dropped = Vec::new();
        while self
            .by_device
            .get(&device)
            .is_some_and(|(_, bytes)| *bytes > bounds.device_bytes)
        {
            let oldest = self
                .by_device
                .get(&device)
                .and_then(|(ids, _)| ids.front().copied());
            match oldest {
                Some(oldest) => {
                    self.remove(oldest);
                    dropped.push(oldest);
                }
                None => break,
            }
        }
        while self.total > bounds.total_bytes {
            let Some((&oldest, _)) = self.entries.iter().next() else {
                break;
            };
            self.remove(oldest);
            dropped.push(oldest);
        }
        dropped
    }

    fn remove(&mut self, id: u64) {
        let Some((device, size)) = self.entries.remove(&id) else {
            return;
        };
        self.total = self.total.saturating_sub(size);
        if let Some((ids, bytes)) = self.by_device.get_mut(&device) {
            // Ids are removed oldest first, for a device as overall.
            if ids.front() == Some(&id) {
                ids.pop_front();
            } else {
                ids.retain(|other| *other != id);
            }
            *bytes = bytes.saturating_sub(size);
            if ids.is_empty() {
                self.by_device.remove(&device);
            }
        }
    }

    /// Stored bytes in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Entries counted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u8) -> Option<DeviceId> {
        Some(DeviceId::from_bytes([n; 16]))
    }

    const BOUNDS: QuarantineBounds = QuarantineBounds {
        entry_bytes: 10,
        device_bytes: 100,
        total_bytes: 250,
    };

    #[test]
    fn an_entry_keeps_a_prefix_and_the_full_size() {
        let entry = QuarantineEntry::new(
            DocumentId::random(),
            device(1),
            0,
            "too large".into(),
            ErrorCode::TooLarge,
            &[7u8; 8 * 1024 * 1024],
            64 * 1024,
        );
        assert_eq!(entry.bytes.len(), 64 * 1024);
        assert_eq!(entry.size, 8 * 1024 * 1024);
        assert!(entry.truncated());
        let small = QuarantineEntry::new(
            DocumentId::random(),
            None,
            0,
            "bad".into(),
            ErrorCode::InvalidRecord,
            &[1, 2, 3],
            64 * 1024,
        );
        assert_eq!(small.bytes, vec![1, 2, 3]);
        assert!(!small.truncated());
    }

    #[test]
    fn a_device_past_its_bound_loses_its_oldest_entries_only() {
        let mut index = QuarantineIndex::default();
        assert!(index.admit(1, device(2), 40, &BOUNDS).is_empty());
        for id in 2..=3 {
            assert!(index.admit(id, device(1), 40, &BOUNDS).is_empty());
        }
        // Device 1 reaches 120 > 100: its oldest goes, not device 2's.
        assert_eq!(index.admit(4, device(1), 40, &BOUNDS), vec![2]);
        assert_eq!(index.admit(5, device(1), 40, &BOUNDS), vec![3]);
        assert_eq!(index.len(), 3);
        assert_eq!(index.total(), 120);
    }

    #[test]
    fn the_whole_past_its_bound_loses_the_oldest_entries_of_anyone() {
        let mut index = QuarantineIndex::default();
        let mut dropped = Vec::new();
        for id in 1..=20u64 {
            let who = device((id % 5) as u8);
            dropped.extend(index.admit(id, who, 30, &BOUNDS));
            assert!(index.total() <= BOUNDS.total_bytes);
        }
        // 250 / 30: eight entries fit; the twelve oldest went, in order.
        assert_eq!(dropped, (1..=12).collect::<Vec<u64>>());
        assert_eq!(index.len(), 8);
    }

    #[test]
    fn an_entry_larger_than_a_bound_is_dropped_itself() {
        let mut index = QuarantineIndex::default();
        assert_eq!(index.admit(1, device(1), 500, &BOUNDS), vec![1]);
        assert!(index.is_empty());
        assert_eq!(index.total(), 0);
    }
}
