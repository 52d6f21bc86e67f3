//! `stats-bench`: how fast the township view answers for a large scope.
//!
//! Generates synthetic records straight into storage (summaries as the
//! projection index holds them, with a few bytes standing in for each
//! document, committed through [`Storage::commit`] like any record), then
//! times the report path the HTTP API uses ([`Reports::figure`]) for the
//! whole scope:
//!
//! - **cold**: the first answer after start-up, which reads every summary
//!   of the scope from the projection index;
//! - **warm**: a new answer (a new "as of" time) over the resident
//!   summaries;
//! - **cached**: the same question again, nothing changed;
//! - **after a commit**: one record of the scope changed, so the resident
//!   copy catches up from the change feed and the answer is computed again;
//!
//! side by side with the baseline measured in the same run: reading every
//! summary of the scope out of the projection index on one thread
//! ([`Storage::summaries_in_scope`], page by page, nothing kept), the read
//! a cold answer starts with. Storage keeps no running totals: every
//! figure is computed from these summaries.
//!
//! ```text
//! cargo run --release -p fengqiao-server --bin stats-bench -- --records 100000 --towns 1
//! cargo run --release -p fengqiao-server --bin stats-bench -- --records 1000000 --towns 10 --data /tmp/district
//! ```
//!
//! With `--data`, the generated store is kept and reused by the next run
//! with the same shape, so the slow part (writing a million records with
//! durable commits) happens once.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use fengqiao_protocol::{DocumentId, Scope, VillageCode};
use fengqiao_server::report::listing::{self, ListRequest};
use fengqiao_server::report::params::{DEFAULT_LIST_LIMIT, Params};
use fengqiao_server::report::{Figure, Reports, ResidentConfig};
use fengqiao_server::storage::{
    CommitBatch, DocumentContent, ProjectionKey, SledStorage, Storage, StorageConfig,
};
use fengqiao_shared::stats;
use fengqiao_shared::vocab::{Category, Level, RecordKind, Risk, Sentiment, Status, Topic};
use fengqiao_shared::{Millis, StatsQuery, Summary};

/// Time township and district statistics over generated records.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// Records to generate in the scope.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Towns in the scope: 1 measures a town, more a district.
    #[arg(long, default_value_t = 1)]
    towns: u32,
    /// Villages per town.
    #[arg(long, default_value_t = 20)]
    villages: u32,
    /// Keep the generated store here (and reuse it when it already holds
    /// the records); a temporary directory otherwise.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Concurrent writers while generating (their commits share flushes).
    #[arg(long, default_value_t = 64)]
    writers: u64,
    /// Years the records' creation times spread over: the density of cases
    /// per village and day decides the cost of finding possible duplicates.
    #[arg(long, default_value_t = 3)]
    years: u32,
    /// Timed repetitions of the warm and cached answers.
    #[arg(long, default_value_t = 5)]
    repeat: u32,
}

const DISTRICT: &str = "500110";
/// 2026-09-21, the "now" of the generated data.
const NOW: Millis = 1_790_000_000_000;
const DAY: Millis = 86_400_000;

/// A deterministic pseudo-random sequence.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.next(items.len() as u64) as usize]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "伟", "洋", "静", "军", "磊", "敏", "强", "芳", "涛", "丽", "超", "红", "斌",
    "燕", "平", "霞", "勇", "娟", "杰", "琴", "明", "兰", "华", "梅", "林", "云",
];

fn village_of(index: u64, args: &Args) -> VillageCode {
    let town = 101 + (index / u64::from(args.villages)) % u64::from(args.towns);
    let village = 1 + index % u64::from(args.villages);
    VillageCode::new(&format!("{DISTRICT}{town:03}{village:03}")).expect("village code")
}

/// One synthetic record: two thirds disputes, one third visits, over two
/// years, with the mix of statuses, risks and follow-ups of a busy town.
fn record(n: u64, rng: &mut Seeded, args: &Args) -> Summary {
    let villages = u64::from(args.towns) * u64::from(args.villages);
    let village = village_of(rng.next(villages), args);
    let days = u64::from(args.years.max(1)) * 365;
    let created_at = NOW - rng.next(days) as i64 * DAY - rng.next(DAY as u64) as i64;
    let name = |rng: &mut Seeded| {
        format!(
            "{}{}{}",
            rng.pick(SURNAMES),
            rng.pick(GIVEN),
            rng.pick(GIVEN)
        )
    };
    let mut id_bytes = [0u8; 16];
    id_bytes[..8].copy_from_slice(&n.to_be_bytes());
    id_bytes[8..].copy_from_slice(&rng.next(u64::MAX).to_le_bytes());
    let mut summary = Summary {
        event_count: 1,
        ..Summary::new(
            DocumentId::from_bytes(&id_bytes).expect("16 bytes"),
            RecordKind::Dispute,
            village.clone(),
            created_at,
            format!("cadre-{}-{}", village, rng.next(4)),
        )
    };
    if rng.next(3) < 2 {
        let status = match rng.next(20) {
            0..=11 => Status::Resolved,
            12..=13 => Status::Mediating,
            14 => Status::Failed,
            15 => Status::Escalated,
            _ => Status::Open,
        };
        summary.title = format!("纠纷 {n}");
        summary.status = Some(status);
        summary.category = Some(rng.pick(Category::ALL));
        summary.risk = Some(match rng.next(10) {
            0 => Risk::High,
            1..=3 => Risk::Medium,
            _ => Risk::Low,
        });
        summary.party_names = vec![name(rng), name(rng)];
        summary.assignees = vec![summary.created_by.clone()];
        summary.event_count = 1 + rng.next(5) as u32;
        summary.last_activity = created_at + rng.next(40) as i64 * DAY;
        if status == Status::Escalated || rng.next(15) == 0 {
            summary.max_escalation_level = Some(if rng.next(4) == 0 {
                Level::District
            } else {
                Level::Town
            });
        }
        if status == Status::Escalated {
            summary.escalation_level = summary.max_escalation_level;
        }
        if status == Status::Resolved {
            summary.resolved_at = Some(created_at + (1 + rng.next(60) as i64) * DAY);
        }
    } else {
        let needed = rng.next(4) == 0;
        summary.kind = RecordKind::Visit;
        summary.title = format!("第{}组 {}家", 1 + rng.next(8), name(rng));
        summary.visited_at = Some(created_at);
        summary.sentiment = Some(rng.pick(Sentiment::ALL));
        summary.topics = vec![rng.pick(Topic::ALL)];
        summary.follow_up_needed = needed;
        summary.follow_up_done = needed && rng.next(2) == 0;
        summary.follow_up_due = needed.then_some(created_at + 7 * DAY);
    }
    summary
}

/// Writes the records with `writers` concurrent committers.
fn generate(storage: &Arc<dyn Storage>, args: &Args) {
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let per_writer = args.records.div_ceil(args.writers);
    let threads: Vec<_> = (0..args.writers)
        .map(|w| {
            let storage = storage.clone();
            let done = done.clone();
            let args = Args {
                data: None,
                ..*args
            };
            std::thread::spawn(move || {
                let mut rng = Seeded(0x5eed ^ w.wrapping_mul(0x9e37_79b9));
                let from = w * per_writer;
                let to = (from + per_writer).min(args.records);
                for n in from..to {
                    let summary = record(n, &mut rng, &args);
                    let batch = CommitBatch {
                        id: summary.id.clone(),
                        content: DocumentContent::Snapshot(n.to_le_bytes().repeat(8)),
                        heads: vec![[(n % 251) as u8; 32]],
                        summary,
                        at: NOW,
                        expected_seq: None,
                        bindings: Vec::new(),
                        alert: None,
                    };
                    storage.commit(batch).expect("commit");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut last = Instant::now();
    while done.load(Ordering::Relaxed) < args.records {
        std::thread::sleep(Duration::from_millis(200));
        if last.elapsed() >= Duration::from_secs(10) {
            let n = done.load(Ordering::Relaxed);
            eprintln!(
                "  {n} of {} records written ({:.0}/s)",
                args.records,
                n as f64 / started.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
        if threads.iter().all(|t| t.is_finished()) {
            break;
        }
    }
    for thread in threads {
        thread.join().expect("writer");
    }
    eprintln!(
        "generated {} records in {:.1} s",
        args.records,
        started.elapsed().as_secs_f64()
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

fn time<T>(work: impl FnOnce() -> T) -> (f64, T) {
    let started = Instant::now();
    let value = work();
    (millis(started.elapsed()), value)
}

/// Reads every summary of `scope` from the projection index, a page at a
/// time, keeping none: how many there are.
fn read_summaries(storage: &dyn Storage, scope: &Scope) -> u64 {
    let page_size = ResidentConfig::default().page;
    let mut after: Option<ProjectionKey> = None;
    let mut found = 0;
    loop {
        let page = storage
            .summaries_in_scope(scope, after.as_ref(), page_size)
            .expect("summaries");
        found += page.len() as u64;
        match page.last() {
            Some(last) if page.len() >= page_size => after = Some(ProjectionKey::of(last)),
            _ => return found,
        }
    }
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args = Args::parse();
    let scope = if args.towns == 1 {
        Scope::parse(&format!("{DISTRICT}101")).expect("town")
    } else {
        Scope::parse(DISTRICT).expect("district")
    };
    let temporary = tempfile_dir();
    let data = args.data.clone().unwrap_or_else(|| temporary.clone());
    let storage: Arc<dyn Storage> = Arc::new(
        SledStorage::open(&StorageConfig::new(data.join("store")).with_cache_bytes(512 << 20))
            .expect("storage opens"),
    );
    let held = !storage
        .summaries_in_scope(&scope, None, 1)
        .expect("summaries")
        .is_empty();
    if held {
        eprintln!("reusing the records in {scope} at {}", data.display());
    } else {
        eprintln!(
            "generating {} records in {scope} at {}",
            args.records,
            data.display()
        );
        generate(&storage, &args);
    }

    let query_at = |now: Millis| {
        StatsQuery::new(now)
            .with_scope(scope.clone())
            .with_list_limit(Some(DEFAULT_LIST_LIMIT))
    };
    let rss_before = resident_kib();
    let reports = Reports::new(storage.clone(), ResidentConfig::default());
    let summary = |query: &StatsQuery| {
        reports
            .figure(Figure::Summary, &scope, query)
            .expect("summary")
    };
    let (cold, body) = time(|| summary(&query_at(NOW)));
    let (resident_bytes, resident_records) = reports.resident().usage();
    let rss_loaded = resident_kib();
    // After the cold answer, so that it stays the first read of the
    // summaries since start-up.
    let (baseline, records) = time(|| read_summaries(storage.as_ref(), &scope));
    let baseline = median(
        (1..args.repeat.min(3))
            .map(|_| time(|| read_summaries(storage.as_ref(), &scope)).0)
            .chain([baseline])
            .collect(),
    );
    // A new "as of" time (every minute): the villages' partials are kept,
    // only the merge runs.
    let new_as_of = |limit: Option<u32>| {
        median(
            (1..=args.repeat)
                .map(|i| {
                    let at = NOW + i64::from(i) * 60_000 + i64::from(limit.is_none()) * 3_600_000;
                    time(|| summary(&query_at(at).with_list_limit(limit))).0
                })
                .collect(),
        )
    };
    let warm = new_as_of(Some(DEFAULT_LIST_LIMIT));
    let warm_all = new_as_of(None);
    let cached = median(
        (0..args.repeat)
            .map(|_| time(|| summary(&query_at(NOW))).0)
            .collect(),
    );
    // One record of the scope changes, in a different village each time: the
    // copy catches up from the change feed and that village is computed
    // again.
    let changing = storage
        .summaries_in_scope(&scope, None, 50_000)
        .expect("summaries");
    let mut villages_seen = std::collections::BTreeSet::new();
    let one_per_village: Vec<Summary> = changing
        .into_iter()
        .filter(|s| villages_seen.insert(s.village.clone()))
        .collect();
    let mut changing = one_per_village.into_iter().cycle();
    let mut commit_one = || {
        let mut summary = changing.next().expect("a record");
        summary.status = Some(Status::Resolved);
        summary.resolved_at = Some(NOW - DAY);
        summary.last_activity = summary.last_activity.wrapping_add(1);
        storage
            .commit(CommitBatch {
                id: summary.id.clone(),
                content: DocumentContent::Chunk(vec![1, 2, 3]),
                heads: vec![[7; 32]],
                summary,
                at: NOW,
                expected_seq: None,
                bindings: Vec::new(),
                alert: None,
            })
            .expect("commit");
    };
    let mut after_commit = |limit: Option<u32>| {
        median(
            (0..args.repeat)
                .map(|_| {
                    commit_one();
                    time(|| summary(&query_at(NOW).with_list_limit(limit))).0
                })
                .collect(),
        )
    };
    let after = after_commit(Some(DEFAULT_LIST_LIMIT));
    let after_all = after_commit(None);
    let drill: Vec<(&str, f64)> = [
        Figure::ByVillage,
        Figure::ByCategory,
        Figure::ByMonth,
        Figure::Duplicates,
    ]
    .into_iter()
    .map(|figure| {
        commit_one();
        let (ms, _) = time(|| {
            reports
                .figure(figure, &scope, &query_at(NOW))
                .expect("figure")
        });
        (figure.name(), ms)
    })
    .collect();
    // The same answer computed directly over every record of the scope, as
    // the phone and the CLI do: what each new answer would cost without the
    // villages' partials.
    let direct_query = query_at(NOW + 7_200_000);
    let direct = reports
        .resident()
        .read(&scope, |rows| {
            median(
                (0..args.repeat.min(3))
                    .map(|_| {
                        time(|| serde_json::to_vec(&stats::statistics(rows.iter(), &direct_query)))
                            .0
                    })
                    .collect(),
            )
        })
        .expect("resident");
    let page_request = ListRequest::from_params(
        &Params::parse(
            Some("q=%E7%8E%8B%E5%BB%BA%E5%9B%BD&limit=50"),
            listing::LIST_PARAMS,
        )
        .expect("params"),
    )
    .expect("list request");
    let (search, page) = time(|| {
        reports
            .resident()
            .read(&scope, |rows| {
                listing::list(
                    &rows,
                    &page_request,
                    &query_at(NOW),
                    &fengqiao_shared::deadline::LimitTable::default(),
                    NOW,
                )
            })
            .expect("page")
    });

    println!();
    println!(
        "scope {scope} ({}), {records} records over {} years",
        scope.level(),
        args.years
    );
    let gzipped = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map_or(0, |zipped| zipped.len())
    };
    println!(
        "summary answer: {} KiB of JSON with listLimit={DEFAULT_LIST_LIMIT} (the API's default), {} KiB gzipped",
        body.len() / 1024,
        gzipped / 1024
    );
    println!(
        "resident summaries: {resident_records} records, ~{} MiB estimated, RSS +{} MiB",
        resident_bytes >> 20,
        (rss_loaded.saturating_sub(rss_before)) >> 10
    );
    println!();
    println!("{:<52} {:>10} {:>12}", "", "ms", "× baseline");
    let row = |name: &str, ms: f64| println!("{name:<52} {ms:>10.2} {:>12.3}", ms / baseline);
    row(
        "baseline: reading the scope's summaries, one thread",
        baseline,
    );
    row("summary, cold (loads the scope, every village)", cold);
    row("summary, new asOf (villages kept, merged)", warm);
    row("summary, new asOf, listLimit=all", warm_all);
    row("summary, cached (same question)", cached);
    row("summary, after one commit (one village again)", after);
    row("summary, after one commit, listLimit=all", after_all);
    row("summary computed directly (every record)", direct);
    for (name, ms) in drill {
        row(&format!("{name}, after one commit"), ms);
    }
    row(
        &format!("records?q=… text search ({} found)", page.items.len()),
        search,
    );

    // The change feed read from the start, as a new phone's bootstrap
    // reads it (pages of the batch door's size), for one village; beside
    // it, the same pages read with no scope (every entry decoded).
    let village = Scope::Village(village_of(0, &args));
    let read_feed = |scope: Option<&Scope>| {
        let (mut after, mut found) = (0, 0usize);
        loop {
            let page = storage.feed_after(after, scope, 256).expect("feed");
            found += page.entries.len();
            after = after.max(page.through_seq);
            if page.entries.len() < 256 {
                return found;
            }
        }
    };
    let feed_median = |scope: Option<&Scope>| {
        let runs: Vec<(f64, usize)> = (0..args.repeat)
            .map(|_| time(|| read_feed(scope)))
            .collect();
        let found = runs.first().map_or(0, |r| r.1);
        (median(runs.into_iter().map(|r| r.0).collect()), found)
    };
    let (unscoped, entries) = feed_median(None);
    let (scoped, found) = feed_median(Some(&village));
    println!();
    println!("change feed from the start, as a new phone's bootstrap reads it ({entries} entries)");
    println!("{:<52} {:>10} {:>12}", "", "ms", "× baseline");
    println!(
        "{:<52} {unscoped:>10.2} {:>12.1}",
        "baseline: every entry, no scope", 1.0
    );
    println!(
        "{:<52} {scoped:>10.2} {:>12.2}",
        format!("one village ({village}): {found} entries"),
        scoped / unscoped
    );
    if args.data.is_none() {
        drop(reports);
        drop(storage);
        let _ = std::fs::remove_dir_all(&temporary);
    }
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fengqiao-stats-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
