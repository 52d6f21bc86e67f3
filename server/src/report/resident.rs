//! Resident summaries: an in-memory copy of the projection index for the
//! scopes officials are looking at.
//!
//! Township and district figures are computed from every summary of the
//! scope — storage keeps no running totals, and medians, backlogs and
//! duplicate candidates could not be summed from totals anyway — and
//! reading a million summaries out of storage takes seconds.
//! So the first report on a scope loads its summaries once (one prefix
//! range of the projection index, no document is loaded), and every later
//! report catches up from the change feed: it reads only the summaries of
//! the records that changed since, which is nothing at all when no commit
//! happened (one comparison with [`Storage::current_seq`]).
//!
//! # Consistency
//!
//! Loading notes the durable sequence number *before* it scans, then reads
//! the feed after it; a record that changed during the scan is therefore
//! read again, and the copy is at least as new as that sequence number.
//! Records never move between villages (the village is immutable), so
//! "read the summary again" is the only update there is; a record an admin
//! removed has no summary any more, and is dropped.
//! A report sees the records as of one moment: the copy is read-locked while
//! the report is computed, and catching up waits for it.
//!
//! # Memory
//!
//! Memory grows with the records of the scopes in use, about a kilobyte per
//! record, up to [`ResidentConfig::budget_bytes`]: beyond it the scopes used
//! least recently are dropped (and loaded again when asked for). A scope
//! covered by a resident wider one (a town inside a resident district) is
//! answered from the wider copy, and loading a district drops the towns it
//! covers, so no record is held twice. A single scope larger than the
//! budget is still held while it is the only one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use fengqiao_protocol::{DocumentId, Scope, VillageCode};
use fengqiao_shared::stats::partial::{self, VillagePartial};
use fengqiao_shared::vocab::RecordKind;
use fengqiao_shared::{StatsQuery, Summary};

use super::ReportError;
use crate::storage::{ProjectionKey, Storage, StorageError};

/// How much the resident summaries may hold and how they read storage.
#[derive(Debug, Clone)]
pub struct ResidentConfig {
    /// Estimated bytes of resident summaries above which the least recently
    /// used scopes are dropped.
    pub budget_bytes: u64,
    /// Summaries or feed entries read from storage per call.
    pub page: usize,
}

impl Default for ResidentConfig {
    fn default() -> Self {
        Self {
            budget_bytes: 2 * 1024 * 1024 * 1024,
            page: 4096,
        }
    }
}

/// A village code as a number: codes are 12 digits, so a scope (a code
/// prefix) is a contiguous range of these numbers.
fn village_number(village: &VillageCode) -> u64 {
    village.as_str().bytes().fold(0u64, |n, digit| {
        n.wrapping_mul(10)
            .wrapping_add(u64::from(digit.wrapping_sub(b'0')))
    })
}

/// The village numbers of a scope: `lo..hi`.
fn scope_range(scope: &Scope) -> (u64, u64) {
    let prefix = scope.prefix();
    let base = prefix.bytes().fold(0u64, |n, digit| {
        n.wrapping_mul(10)
            .wrapping_add(u64::from(digit.wrapping_sub(b'0')))
    });
    let width = 10u64.pow(12u32.saturating_sub(prefix.len() as u32));
    (base.saturating_mul(width), (base + 1).saturating_mul(width))
}

/// The scopes one level below `scope` that may hold records (every town
/// code of a district, every village code of a town), or the village
/// itself: the parts a scope is loaded in.
fn parts_of(scope: &Scope) -> Vec<Scope> {
    match scope {
        Scope::Village(_) => vec![scope.clone()],
        Scope::District(_) | Scope::Town(_) => (1..1000)
            .filter_map(|n| Scope::parse(&format!("{}{n:03}", scope.prefix())).ok())
            .collect(),
    }
}

/// An estimate of the memory one resident summary takes: the map entry
/// (key and value, with the map's node slack), what its fields point to,
/// and the allocator's overhead on each of those blocks. Close to what the
/// process's resident size grows by (about 1.1 KB for a dispute with two
/// parties, measured with `stats-bench`).
fn weight(summary: &Summary) -> u64 {
    const PER_BLOCK: usize = 32;
    let strings = |list: &[String]| -> usize {
        list.iter().map(|s| s.len() + PER_BLOCK).sum::<usize>()
            + if list.is_empty() {
                0
            } else {
                PER_BLOCK + std::mem::size_of_val(list)
            }
    };
    let text = |s: &str| if s.is_empty() { 0 } else { s.len() + PER_BLOCK };
    let id = |id: &DocumentId| id.as_bytes().len() + id.as_str().len() + 2 * PER_BLOCK;
    let entry = (std::mem::size_of::<Summary>() + std::mem::size_of::<DocumentId>()) * 3 / 2;
    (entry
        + 2 * id(&summary.id)
        + text(summary.village.as_str())
        + text(&summary.created_by)
        + text(&summary.title)
        + strings(&summary.party_names)
        + strings(&summary.assignees)
        + if summary.topics.is_empty() {
            0
        } else {
            summary.topics.len() + PER_BLOCK
        }
        + summary.duplicate_of.as_ref().map_or(0, id)
        + summary.linked_dispute.as_ref().map_or(0, id)) as u64
}

/// Partials kept per village: one per period and calendar offset in use
/// (a dashboard reads its period, the period before and the same period a
/// year earlier; a monthly report the same three for its month).
const PARTIALS_PER_VILLAGE: usize = 8;

/// One village's partial statistics for one period and offset, and the
/// linked disputes of the village that counted when it was computed.
struct KeptPartial {
    kept: Vec<DocumentId>,
    partial: Arc<VillagePartial>,
}

/// The summaries of one village and the statistics computed from them.
#[derive(Default)]
struct Village {
    docs: BTreeMap<DocumentId, Summary>,
    /// The sequence number of the latest change taken in (or of the load).
    changed_seq: u64,
    /// Dropped whenever a summary of the village changes; most recently
    /// used last.
    partials: Mutex<Vec<KeptPartial>>,
}

impl Village {
    /// The linked disputes of this village among those that count although
    /// linked: part of what a partial was computed from.
    fn kept_here(&self, kept: &HashSet<DocumentId>) -> Vec<DocumentId> {
        let mut mine: Vec<DocumentId> = kept
            .iter()
            .filter(|id| self.docs.contains_key(*id))
            .cloned()
            .collect();
        mine.sort_unstable();
        mine
    }

    /// The kept partial computed over the same summaries, period, offset
    /// and counted links, if there is one.
    fn kept_partial(&self, mine: &[DocumentId], query: &StatsQuery) -> Option<Arc<VillagePartial>> {
        let mut partials = lock(&self.partials);
        let at = partials
            .iter()
            .position(|p| p.kept == mine && p.partial.fits(query))?;
        let hit = partials.remove(at);
        let partial = hit.partial.clone();
        partials.push(hit);
        Some(partial)
    }

    /// Computes the village's partial and keeps it.
    fn compute_partial(
        &self,
        code: &VillageCode,
        mine: Vec<DocumentId>,
        kept: &HashSet<DocumentId>,
        query: &StatsQuery,
    ) -> Arc<VillagePartial> {
        let partial = Arc::new(VillagePartial::compute(
            code,
            self.docs.values(),
            kept,
            query,
        ));
        let mut partials = lock(&self.partials);
        if partials.len() >= PARTIALS_PER_VILLAGE {
            partials.remove(0);
        }
        partials.push(KeptPartial {
            kept: mine,
            partial: partial.clone(),
        });
        partial
    }
}

/// The summaries of one scope, by village then document id.
#[derive(Default)]
struct ScopeRows {
    villages: BTreeMap<u64, Village>,
    /// Disputes linked as a duplicate of another, by village number: the
    /// only records that decide which links form cycles.
    linked: HashMap<DocumentId, u64>,
    /// The feed has been read up to here.
    through_seq: u64,
    bytes: u64,
    count: u64,
}

impl ScopeRows {
    fn put(&mut self, summary: Summary, seq: u64) {
        let added = weight(&summary);
        let number = village_number(&summary.village);
        if summary.kind == RecordKind::Dispute && summary.duplicate_of.is_some() {
            self.linked.insert(summary.id.clone(), number);
        } else {
            self.linked.remove(&summary.id);
        }
        let village = self.villages.entry(number).or_default();
        village.changed_seq = village.changed_seq.max(seq);
        village
            .partials
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        match village.docs.insert(summary.id.clone(), summary) {
            Some(old) => self.bytes = self.bytes.saturating_sub(weight(&old)),
            None => self.count += 1,
        }
        self.bytes += added;
    }

    /// Forgets a record that is no longer stored (removed by an admin).
    fn remove(&mut self, village: &VillageCode, id: &DocumentId, seq: u64) {
        self.linked.remove(id);
        let Some(village) = self.villages.get_mut(&village_number(village)) else {
            return;
        };
        if let Some(old) = village.docs.remove(id) {
            village.changed_seq = village.changed_seq.max(seq);
            village
                .partials
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            self.bytes = self.bytes.saturating_sub(weight(&old));
            self.count = self.count.saturating_sub(1);
        }
    }
}

struct Resident {
    scope: Scope,
    rows: RwLock<ScopeRows>,
    /// Estimated bytes, readable without the lock.
    bytes: AtomicU64,
    /// When it was last used, on the [`ResidentSummaries`] clock.
    last_used: AtomicU64,
}

impl Resident {
    fn read(&self) -> RwLockReadGuard<'_, ScopeRows> {
        self.rows.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, ScopeRows> {
        self.rows.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes in every change committed since the copy was last caught up.
    fn catch_up(&self, storage: &dyn Storage, page: usize) -> Result<(), StorageError> {
        let current = storage.latest_seq()?;
        if self.read().through_seq >= current {
            return Ok(());
        }
        let mut rows = self.write();
        loop {
            let feed = storage.feed_after(rows.through_seq, Some(&self.scope), page)?;
            let full = feed.entries.len() >= page;
            for entry in &feed.entries {
                match storage.summary(&entry.id)? {
                    Some(summary) => rows.put(summary, entry.seq),
                    None => rows.remove(&entry.village, &entry.id, entry.seq),
                }
            }
            rows.through_seq = rows.through_seq.max(feed.through_seq);
            if !full {
                break;
            }
        }
        self.bytes.store(rows.bytes, Ordering::Relaxed);
        Ok(())
    }
}

/// A read-only view of the summaries of one scope, as of one moment.
pub struct Rows<'a> {
    rows: RwLockReadGuard<'a, ScopeRows>,
    lo: u64,
    hi: u64,
}

impl Rows<'_> {
    /// Changes whenever a summary of the scope changes; an answer computed
    /// at one version holds for as long as it stays.
    pub fn version(&self) -> u64 {
        self.villages()
            .map(|(_, village)| village.changed_seq)
            .max()
            .unwrap_or(0)
    }

    fn villages(&self) -> impl Iterator<Item = (&u64, &Village)> + '_ {
        self.rows.villages.range(self.lo..self.hi)
    }

    /// Every summary of the scope, by village then document id.
    pub fn iter(&self) -> impl Iterator<Item = &Summary> + '_ {
        self.villages()
            .flat_map(|(_, village)| village.docs.values())
    }

    /// The summary of `id` in `village`, if the scope has it.
    pub fn get(&self, village: &VillageCode, id: &DocumentId) -> Option<&Summary> {
        let number = village_number(village);
        if !(self.lo..self.hi).contains(&number) {
            return None;
        }
        self.rows.villages.get(&number)?.docs.get(id)
    }

    /// The partial statistics of every village of the scope for `query`'s
    /// period and offset, by village code: kept ones where the village has
    /// not changed, the others computed (on every core when there are
    /// many). [`fengqiao_shared::stats::partial`] merges them into any
    /// answer.
    pub fn partials(&self, query: &StatsQuery) -> Vec<Arc<VillagePartial>> {
        let linked = self
            .rows
            .linked
            .iter()
            .filter(|(_, number)| (self.lo..self.hi).contains(*number))
            .filter_map(|(id, number)| self.rows.villages.get(number)?.docs.get(id));
        // A link to a dispute these rows do not hold (never stored, or
        // removed since) does not hide the case that makes it.
        let present = |id: &DocumentId| {
            self.rows.villages.values().any(|village| {
                village
                    .docs
                    .get(id)
                    .is_some_and(|s| s.kind == RecordKind::Dispute)
            })
        };
        let kept = partial::linked_that_count(linked, present);
        let mut found: Vec<(&Village, &VillageCode, Option<Arc<VillagePartial>>)> = Vec::new();
        let mut missing: Vec<(usize, Vec<DocumentId>)> = Vec::new();
        for (_, village) in self.villages() {
            let Some(first) = village.docs.values().next() else {
                continue;
            };
            let mine = village.kept_here(&kept);
            let partial = village.kept_partial(&mine, query);
            if partial.is_none() {
                missing.push((found.len(), mine));
            }
            found.push((village, &first.village, partial));
        }
        // Usually one village changed since the last answer; after a start
        // or for a new period every village is computed, on every core.
        let compute = |part: &[(usize, Vec<DocumentId>)]| -> Vec<(usize, Arc<VillagePartial>)> {
            part.iter()
                .map(|(at, mine)| {
                    let (village, code, _) = &found[*at];
                    (
                        *at,
                        village.compute_partial(code, mine.clone(), &kept, query),
                    )
                })
                .collect()
        };
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(missing.len() / 8)
            .max(1);
        let computed: Vec<(usize, Arc<VillagePartial>)> = if workers == 1 {
            compute(&missing)
        } else {
            std::thread::scope(|threads| {
                let running: Vec<_> = missing
                    .chunks(missing.len().div_ceil(workers))
                    .map(|part| threads.spawn(|| compute(part)))
                    .collect();
                running
                    .into_iter()
                    .flat_map(|thread| match thread.join() {
                        Ok(partials) => partials,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            })
        };
        for (at, partial) in computed {
            found[at].2 = Some(partial);
        }
        found
            .into_iter()
            .filter_map(|(_, _, partial)| partial)
            .collect()
    }

    /// The summaries after `village`/`id` in the same order (a cursor).
    pub fn after<'s>(
        &'s self,
        village: &VillageCode,
        id: &'s DocumentId,
    ) -> impl Iterator<Item = &'s Summary> + 's {
        let start = village_number(village).max(self.lo);
        let first = (start == village_number(village)).then_some(id);
        self.rows
            .villages
            .range(start..self.hi.max(start))
            .flat_map(move |(&number, village)| {
                let from = match first {
                    Some(id) if number == start => Bound::Excluded(id),
                    _ => Bound::Unbounded,
                };
                village.docs.range((from, Bound::Unbounded)).map(|(_, s)| s)
            })
    }
}

/// The resident copies of the scopes in use; see the module documentation.
pub struct ResidentSummaries {
    storage: Arc<dyn Storage>,
    config: ResidentConfig,
    scopes: Mutex<Vec<Arc<Resident>>>,
    /// Loads one scope at a time, so two reports on a new scope do not both
    /// read it.
    loading: Mutex<()>,
    clock: AtomicU64,
    /// Set when the server shuts down: a scope being loaded stops at the
    /// next page instead of holding the store open.
    closing: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl ResidentSummaries {
    pub fn new(storage: Arc<dyn Storage>, config: ResidentConfig) -> Self {
        Self {
            storage,
            config: ResidentConfig {
                page: config.page.max(1),
                ..config
            },
            scopes: Mutex::new(Vec::new()),
            loading: Mutex::new(()),
            clock: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Runs `read` over the summaries of `scope` as they are now: loads the
    /// scope on first use, catches it up with the latest commits otherwise.
    /// Blocks: call from a blocking thread.
    pub fn read<R>(
        &self,
        scope: &Scope,
        read: impl FnOnce(Rows<'_>) -> R,
    ) -> Result<R, ReportError> {
        let resident = self.resident_for(scope)?;
        resident.catch_up(self.storage.as_ref(), self.config.page)?;
        let (lo, hi) = scope_range(scope);
        Ok(read(Rows {
            rows: resident.read(),
            lo,
            hi,
        }))
    }

    /// Estimated bytes held and the number of records, over every resident
    /// scope.
    pub fn usage(&self) -> (u64, u64) {
        let scopes = lock(&self.scopes).clone();
        scopes.iter().fold((0, 0), |(bytes, count), resident| {
            (
                bytes + resident.bytes.load(Ordering::Relaxed),
                count + resident.read().count,
            )
        })
    }

    /// Refuses further loads (a load under way stops at its next page):
    /// the server is shutting down.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    /// The budget resident copies are held to.
    pub fn budget_bytes(&self) -> u64 {
        self.config.budget_bytes
    }

    /// Drops every resident copy (they are loaded again when asked for).
    pub fn clear(&self) {
        lock(&self.scopes).clear();
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The narrowest resident scope that covers `scope`.
    fn covering(&self, scope: &Scope) -> Option<Arc<Resident>> {
        let scopes = lock(&self.scopes);
        let found = scopes
            .iter()
            .filter(|resident| resident.scope.covers(scope))
            .max_by_key(|resident| resident.scope.prefix().len())
            .cloned();
        if let Some(resident) = &found {
            resident.last_used.store(self.tick(), Ordering::Relaxed);
        }
        found
    }

    fn resident_for(&self, scope: &Scope) -> Result<Arc<Resident>, StorageError> {
        if let Some(resident) = self.covering(scope) {
            return Ok(resident);
        }
        let _loading = lock(&self.loading);
        if let Some(resident) = self.covering(scope) {
            return Ok(resident);
        }
        let resident = Arc::new(self.load(scope)?);
        let mut scopes = lock(&self.scopes);
        scopes.retain(|other| !scope.covers(&other.scope));
        scopes.push(resident.clone());
        self.evict(&mut scopes, &resident);
        Ok(resident)
    }

    /// Reads a scope's summaries from the projection index.
    fn load(&self, scope: &Scope) -> Result<Resident, StorageError> {
        let started = std::time::Instant::now();
        let loaded_at = self.storage.latest_seq()?;
        let mut rows = ScopeRows {
            through_seq: loaded_at,
            ..ScopeRows::default()
        };
        // The scope is read as its towns (or villages) by a reader per
        // core, while this thread takes their pages in: a district of a
        // million records is mostly decoding. At most a few pages wait.
        let parts = parts_of(scope);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(parts.len())
            .max(1);
        let (pages, received) = std::sync::mpsc::sync_channel(2 * workers);
        let read_parts =
            |pages: std::sync::mpsc::SyncSender<Result<Vec<Summary>, StorageError>>| {
                while let Some(part) = parts.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut after: Option<ProjectionKey> = None;
                    loop {
                        if self.closing.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                            let _ = pages.send(Err(StorageError::Closing));
                            return;
                        }
                        let page =
                            self.storage
                                .summaries_in_scope(part, after.as_ref(), self.config.page);
                        let full = page.as_ref().is_ok_and(|p| p.len() >= self.config.page);
                        after = page
                            .as_ref()
                            .ok()
                            .and_then(|p| p.last())
                            .map(ProjectionKey::of);
                        let failing = page.is_err();
                        if pages.send(page).is_err() || failing {
                            return;
                        }
                        if !full {
                            break;
                        }
                    }
                }
            };
        let mut error = None;
        std::thread::scope(|threads| {
            for _ in 0..workers {
                let pages = pages.clone();
                threads.spawn(move || read_parts(pages));
            }
            drop(pages);
            for page in received {
                match page {
                    Ok(page) if error.is_none() => {
                        for summary in page {
                            rows.put(summary, loaded_at);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        error.get_or_insert(e);
                    }
                }
            }
        });
        if let Some(error) = error {
            return Err(error);
        }
        let resident = Resident {
            scope: scope.clone(),
            bytes: AtomicU64::new(rows.bytes),
            rows: RwLock::new(rows),
            last_used: AtomicU64::new(self.tick()),
        };
        resident.catch_up(self.storage.as_ref(), self.config.page)?;
        tracing::info!(
            %scope,
            records = resident.read().count,
            bytes = resident.bytes.load(Ordering::Relaxed),
            millis = started.elapsed().as_millis() as u64,
            "summaries loaded for reports"
        );
        Ok(resident)
    }

    /// Drops the least recently used scopes, other than `keep`, while the
    /// total is over the budget.
    fn evict(&self, scopes: &mut Vec<Arc<Resident>>, keep: &Arc<Resident>) {
        loop {
            let total: u64 = scopes
                .iter()
                .map(|resident| resident.bytes.load(Ordering::Relaxed))
                .sum();
            if total <= self.config.budget_bytes {
                return;
            }
            let oldest = scopes
                .iter()
                .enumerate()
                .filter(|(_, resident)| !Arc::ptr_eq(resident, keep))
                .min_by_key(|(_, resident)| resident.last_used.load(Ordering::Relaxed))
                .map(|(index, _)| index);
            match oldest {
                Some(index) => {
                    let dropped = scopes.remove(index);
                    tracing::info!(scope = %dropped.scope, "summaries dropped from memory");
                }
                None => return,
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::storage::{CommitBatch, DocumentContent, SledStorage, StorageConfig};
    use fengqiao_shared::vocab::{RecordKind, Status};

    /// A test dispute of `village` with `status`.
    pub(crate) fn summary(village: &str, status: Status) -> Summary {
        Summary {
            title: "case".into(),
            status: Some(status),
            party_names: vec!["Wang".into()],
            event_count: 1,
            ..Summary::new(
                DocumentId::random(),
                RecordKind::Dispute,
                VillageCode::new(village).unwrap(),
                1,
                "cadre",
            )
        }
    }

    /// Commits `summary` with a stand-in document.
    pub(crate) fn commit(storage: &dyn Storage, summary: &Summary) {
        storage
            .commit(CommitBatch {
                id: summary.id.clone(),
                content: DocumentContent::Chunk(vec![1]),
                heads: vec![[1; 32]],
                summary: summary.clone(),
                at: 1,
                expected_seq: None,
                bindings: Vec::new(),
                alert: None,
            })
            .unwrap();
    }

    fn ids(resident: &ResidentSummaries, scope: &str) -> (Vec<DocumentId>, u64) {
        resident
            .read(&Scope::parse(scope).unwrap(), |rows| {
                (rows.iter().map(|s| s.id.clone()).collect(), rows.version())
            })
            .unwrap()
    }

    #[test]
    fn copies_catch_up_with_commits_and_wider_scopes_serve_narrower_ones() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(SledStorage::open(&StorageConfig::new(dir.path())).unwrap());
        let a = summary("500110101001", Status::Open);
        let b = summary("500110101002", Status::Open);
        let c = summary("500110102001", Status::Open);
        for s in [&a, &b, &c] {
            commit(storage.as_ref(), s);
        }
        let resident = ResidentSummaries::new(storage.clone(), ResidentConfig::default());
        let (town, version) = ids(&resident, "500110101");
        assert_eq!(town.len(), 2);
        // Nothing committed: same version, nothing read.
        assert_eq!(ids(&resident, "500110101").1, version);

        // A change and a new record are in the next read.
        let mut resolved = a.clone();
        resolved.status = Some(Status::Resolved);
        commit(storage.as_ref(), &resolved);
        let d = summary("500110101003", Status::Open);
        commit(storage.as_ref(), &d);
        let (town, newer) = ids(&resident, "500110101");
        assert_eq!(town.len(), 3);
        assert!(newer > version);
        let status = resident
            .read(&Scope::parse("500110101001").unwrap(), |rows| {
                rows.iter().map(|s| s.status).collect::<Vec<_>>()
            })
            .unwrap();
        assert_eq!(status, vec![Some(Status::Resolved)]);

        // A commit elsewhere does not change the town's answers.
        commit(storage.as_ref(), &summary("500110103001", Status::Open));
        assert_eq!(ids(&resident, "500110101").1, newer);

        // The district replaces the town, and answers for it.
        let (district, _) = ids(&resident, "500110");
        assert_eq!(district.len(), 5);
        assert_eq!(resident.usage().1, 5, "no record is held twice");
        assert_eq!(ids(&resident, "500110102").0, vec![c.id.clone()]);

        // Cursors page within the scope.
        let after = resident
            .read(&Scope::parse("500110101").unwrap(), |rows| {
                rows.after(&b.village, &b.id)
                    .map(|s| s.id.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap();
        assert_eq!(after, vec![d.id.clone()]);
    }

    #[test]
    fn scopes_are_ranges_of_village_numbers() {
        let village = VillageCode::new("500110101001").unwrap();
        assert_eq!(village_number(&village), 500_110_101_001);
        let town = Scope::parse("500110101").unwrap();
        assert_eq!(scope_range(&town), (500_110_101_000, 500_110_102_000));
        let district = Scope::parse("500110").unwrap();
        assert_eq!(scope_range(&district), (500_110_000_000, 500_111_000_000));
        let (lo, hi) = scope_range(&Scope::Village(village.clone()));
        assert_eq!((lo, hi), (500_110_101_001, 500_110_101_002));
        let number = village_number(&village);
        assert!((lo..hi).contains(&number));
    }
}
