//! The change feed: which documents changed after a given sequence number.
//!
//! Every commit takes the next server sequence number, and the feed holds
//! one entry per document, at the sequence number of its latest commit (a
//! new commit moves the document's entry to the end). A device that synced
//! up to sequence `n` therefore finds everything it lacks by reading the feed
//! after `n`: the cost is the number of documents that changed, not the
//! number stored. Entries carry the document's village, so a scope filter
//! needs no further reads; a scoped read still steps over the entries of
//! other places, which [`FeedPage::through_seq`] lets the next read skip.

use fengqiao_protocol::{DocumentId, VillageCode};

/// One document that changed, at its latest commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub seq: u64,
    pub id: DocumentId,
    pub village: VillageCode,
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedPage {
    /// Matching entries in sequence order.
    pub entries: Vec<FeedEntry>,
    /// Where the next read should start (`after`): the last entry's
    /// sequence number when the page is full, otherwise the last sequence
    /// number the read covered, so that entries outside the scope are not
    /// read again. A full page may be followed by more entries.
    pub through_seq: u64,
}
