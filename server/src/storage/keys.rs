//! The key layout of the store: what the keys of each [`Space`] are.
//!
//! Numbers in keys are big-endian so that byte order is numeric order.
//! Document ids vary in length (1 to 64 bytes), so where more key follows a
//! document id, the id is preceded by its length; that makes the keys of one
//! document a contiguous range that no other id can fall into.
//!
//! | space (sled tag) | key | value |
//! |---|---|---|
//! | `Seq` (`Q`) | empty | last assigned sequence number, u64 |
//! | `Meta` (`m`) | name | server-wide value (see [`super::ServerValue`]) |
//! | `DocMeta` (`d`) | len ‖ doc | document metadata (CBOR) |
//! | `Snapshot` (`s`) | len ‖ doc | snapshot: `through_seq` u64 ‖ Automerge bytes |
//! | `Chunk` (`c`) | len ‖ doc ‖ seq | change chunk of the commit `seq` |
//! | `Heads` (`h`) | len ‖ doc ‖ seq | heads after the commit `seq`, 32 bytes each |
//! | `Feed` (`f`) | seq | change feed: village (12 ASCII digits) ‖ doc |
//! | `Projection` (`p`) | village ‖ doc | projection summary (CBOR) |
//! | `Counters` (`n`) | village | per-village counters of older versions, ignored |
//! | `Compaction` (`x`) | chunk count u32 ‖ doc | compaction candidates |
//! | `SyncState` (`y`) | peer len u16 ‖ peer ‖ doc | per-peer sync state |
//! | `Quarantine` (`z`) | id u64 | quarantined change (CBOR) |
//!
//! On sled every key is stored as `tag ‖ key` in one tree (the layout of
//! schema version 1, unchanged). Because village codes are 12 digits whose
//! prefixes are towns and districts, a scope is one contiguous range of
//! `Projection` keys.
//!
//! This layout is a persisted format: changing it needs a new schema version
//! (see [`super::SCHEMA_VERSION`]).
//!
//! [`Space`]: super::backend::Space

use fengqiao_protocol::{DocumentId, Scope, VillageCode};

use super::StorageError;

/// Length of a village code in keys.
pub const VILLAGE_LEN: usize = 12;

/// `len ‖ doc`: the whole key of per-document singletons, and the prefix
/// of per-document sequences.
pub fn doc_key(id: &DocumentId) -> Vec<u8> {
    let bytes = id.as_bytes();
    let mut key = Vec::with_capacity(1 + bytes.len() + 8);
    // Ids are at most 64 bytes by construction, so the length fits a byte.
    key.push(bytes.len() as u8);
    key.extend_from_slice(bytes);
    key
}

/// `len ‖ doc ‖ seq`.
pub fn doc_seq_key(id: &DocumentId, seq: u64) -> Vec<u8> {
    let mut key = doc_key(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence number at the end of a `doc_seq_key` (or of a feed or
/// quarantine key).
pub fn seq_suffix(key: &[u8], what: &'static str) -> Result<u64, StorageError> {
    key.len()
        .checked_sub(8)
        .and_then(|start| key.get(start..))
        .and_then(|tail| <[u8; 8]>::try_from(tail).ok())
        .map(u64::from_be_bytes)
        .ok_or(StorageError::Corrupt { what })
}

/// A feed or quarantine key: the number, big-endian.
pub fn seq_key(seq: u64) -> Vec<u8> {
    seq.to_be_bytes().to_vec()
}

/// `village ‖ doc`.
pub fn projection_key(village: &VillageCode, id: &DocumentId) -> Vec<u8> {
    let mut key = Vec::with_capacity(VILLAGE_LEN + id.as_bytes().len());
    key.extend_from_slice(village.as_str().as_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// The prefix of the projection keys of every village in `scope`.
pub fn scope_prefix(scope: &Scope) -> Vec<u8> {
    scope.prefix().as_bytes().to_vec()
}

/// `chunk count ‖ doc`.
pub fn compaction_key(chunk_count: u32, id: &DocumentId) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + id.as_bytes().len());
    key.extend_from_slice(&chunk_count.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// The document id at the end of a compaction key.
pub fn compaction_doc(key: &[u8]) -> Result<DocumentId, StorageError> {
    const WHAT: &str = "compaction index key";
    let id = key.get(4..).ok_or(StorageError::Corrupt { what: WHAT })?;
    DocumentId::from_bytes(id).map_err(|_| StorageError::Corrupt { what: WHAT })
}

/// `peer len ‖ peer ‖ doc`.
pub fn sync_state_key(peer: &[u8], id: &DocumentId) -> Result<Vec<u8>, StorageError> {
    let len = u16::try_from(peer.len()).map_err(|_| StorageError::Invalid {
        reason: format!(
            "peer key of {} bytes is longer than {}",
            peer.len(),
            u16::MAX
        ),
    })?;
    let mut key = Vec::with_capacity(2 + peer.len() + id.as_bytes().len());
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(peer);
    key.extend_from_slice(id.as_bytes());
    Ok(key)
}

/// Value of a feed entry: village ‖ doc.
pub fn feed_value(village: &VillageCode, id: &DocumentId) -> Vec<u8> {
    let mut value = Vec::with_capacity(VILLAGE_LEN + id.as_bytes().len());
    value.extend_from_slice(village.as_str().as_bytes());
    value.extend_from_slice(id.as_bytes());
    value
}

/// Splits a feed value into its village and document.
pub fn parse_feed_value(value: &[u8]) -> Result<(VillageCode, DocumentId), StorageError> {
    const WHAT: &str = "change feed entry";
    let corrupt = || StorageError::Corrupt { what: WHAT };
    if value.len() <= VILLAGE_LEN {
        return Err(corrupt());
    }
    let (village, id) = value.split_at(VILLAGE_LEN);
    let village = std::str::from_utf8(village)
        .ok()
        .and_then(|text| VillageCode::new(text).ok())
        .ok_or_else(corrupt)?;
    let id = DocumentId::from_bytes(id).map_err(|_| corrupt())?;
    Ok((village, id))
}

/// The smallest key greater than every key starting with `prefix`, or
/// `None` when no such key exists (the prefix is all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(bytes: &[u8]) -> DocumentId {
        DocumentId::from_bytes(bytes).unwrap()
    }

    #[test]
    fn document_ranges_do_not_overlap_when_one_id_prefixes_another() {
        let short = doc(&[1, 2]);
        let long = doc(&[1, 2, 3]);
        let short_prefix = doc_key(&short);
        assert!(!doc_seq_key(&long, 1).starts_with(&short_prefix));
        assert!(doc_seq_key(&short, 7).starts_with(&short_prefix));
    }

    #[test]
    fn sequence_keys_sort_numerically() {
        let id = doc(&[9; 16]);
        assert!(doc_seq_key(&id, 255) < doc_seq_key(&id, 256));
        assert!(seq_key(1) < seq_key(1 << 40));
        assert_eq!(seq_suffix(&doc_seq_key(&id, 300), "x").unwrap(), 300);
        assert!(seq_suffix(b"short", "x").is_err());
    }

    #[test]
    fn a_town_is_a_prefix_of_its_villages_keys_only() {
        let ours = VillageCode::new("500110101001").unwrap();
        let theirs = VillageCode::new("500110102001").unwrap();
        let town = Scope::parse("500110101").unwrap();
        let id = doc(&[5; 16]);
        let prefix = scope_prefix(&town);
        assert!(projection_key(&ours, &id).starts_with(&prefix));
        assert!(!projection_key(&theirs, &id).starts_with(&prefix));
    }

    #[test]
    fn feed_values_round_trip_and_garbage_is_corrupt() {
        let village = VillageCode::new("500110101001").unwrap();
        let id = doc(&[4; 16]);
        let value = feed_value(&village, &id);
        assert_eq!(parse_feed_value(&value).unwrap(), (village, id));
        assert!(matches!(
            parse_feed_value(b"5001101010"),
            Err(StorageError::Corrupt { .. })
        ));
        assert!(matches!(
            parse_feed_value(b"abcdefghijklmnop"),
            Err(StorageError::Corrupt { .. })
        ));
    }

    #[test]
    fn prefix_end_is_the_first_key_after_the_prefix() {
        assert_eq!(prefix_end(b"p5001"), Some(b"p5002".to_vec()));
        assert_eq!(prefix_end(&[b'x', 0xff]), Some(vec![b'y']));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn long_peer_keys_are_refused() {
        let id = doc(&[1; 16]);
        assert!(sync_state_key(&[0; 70_000], &id).is_err());
        let key = sync_state_key(b"peer", &id).unwrap();
        assert_eq!(&key[..2], &[0, 4]);
    }

    #[test]
    fn compaction_keys_name_their_document() {
        let id = doc(&[3; 16]);
        assert_eq!(compaction_doc(&compaction_key(7, &id)).unwrap(), id);
        assert!(compaction_key(2, &id) < compaction_key(10, &id));
    }
}
