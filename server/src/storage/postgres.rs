//! [`PgBackend`]: the [`Backend`] on PostgreSQL 15 or later (and engines
//! that speak its protocol), and [`PgStorage`], the [`Store`] on it.
//!
//! # Layout
//!
//! Each [`Space`] is a table `fq_<space>` of `(k bytea PRIMARY KEY, v bytea)`;
//! `bytea` orders bytewise, as the store's keys need. The tables are made
//! and changed by versioned migrations ([`migrate`], `fengqiao migrate`),
//! recorded in `fq_migrations`. `fq_writer` holds the one row every write
//! transaction locks.
//!
//! # Transactions
//!
//! - A [`Consistency::Snapshot`] view is a `REPEATABLE READ READ ONLY`
//!   transaction, its snapshot taken as it opens; a
//!   [`Consistency::Latest`] view runs each read on its own.
//! - The write transaction locks the row of `fq_writer` (`FOR UPDATE`):
//!   one writer at a time across every node on the database, so sequence
//!   numbers become visible in the order they are assigned. Puts and
//!   deletes are kept in memory (reads inside see the state before the
//!   transaction) and sent at commit, one statement per space.
//! - Connections start with `synchronous_commit = on`, so a commit that
//!   returns is on the primary's disk. A [`Durability::Lazy`] commit (sync
//!   states: a cache) turns it off for itself. With synchronous standbys
//!   configured, `on` also waits for them; see `docs/SCALING.md`.
//!
//! Every commit that takes a sequence number notifies the channel
//! [`CHANNEL`] (followed by `_<schema>` for a store in a schema of its
//! own: notifications are per database) in the same transaction
//! (delivered only if it commits), so
//! that the other nodes on the database learn of it: see
//! [`PgBackend::announcements`].
//!
//! # Threads
//!
//! The backend runs its connections on a runtime of its own, so its
//! futures complete whatever polls them: the engine's blocking threads
//! (through [`block_on`](super::backend::block_on)), an async task, or a
//! test's main thread.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::ops::Bound;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, NoTls};

use super::backend::{
    Announcement, Backend, Consistency, Durability, Entry, Found, KeyRange, Read, ReadView, Space,
    WriteTxn,
};
use super::feed_tail::{Answer, FeedTail, TailWrites};
use super::read_cache::{Cached, ReadCache, Tag, Ticket};
use super::store::Store;
use super::{FreshScope, QuarantineBounds, StorageError};

/// The store on PostgreSQL.
pub type PgStorage = Store<PgBackend>;

/// The channel commits are announced on.
pub const CHANNEL: &str = "fengqiao_commits";

/// The channel of the store in `schema`.
fn channel(schema: Option<&str>) -> String {
    match schema {
        Some(schema) => format!("{CHANNEL}_{schema}"),
        None => CHANNEL.to_owned(),
    }
}

/// How a PostgreSQL store is reached.
#[derive(Clone)]
pub struct PgConfig {
    /// A connection string: `postgres://user:password@host:port/db?…` or
    /// libpq's `host=… dbname=…` form.
    pub url: String,
    /// Connections in the pool, at most.
    pub max_connections: usize,
    /// How long a request waits for a free connection.
    pub wait: Duration,
    /// How much the quarantine of refused changes keeps.
    pub quarantine: QuarantineBounds,
    /// The schema that holds the tables (PostgreSQL's `search_path`); one
    /// database may hold several stores side by side. `None`: the
    /// connection's default (`public`).
    pub schema: Option<String>,
    /// Bytes of reads this server keeps (see [`read_cache`](super::read_cache)).
    pub cache_bytes: usize,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may carry a password.
        f.debug_struct("PgConfig")
            .field("url", &redact(&self.url))
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl PgConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 32,
            wait: Duration::from_secs(10),
            quarantine: QuarantineBounds::default(),
            schema: None,
            cache_bytes: 64 << 20,
        }
    }

    /// The same store in `schema`.
    pub fn in_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
}

/// Whether `schema` is a name used as it is (no quoting needed): lower-case
/// ASCII letters, digits and `_`, not starting with a digit, at most 63.
fn plain_name(schema: &str) -> bool {
    !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The connection string with its password replaced, for logs.
pub fn redact(url: &str) -> String {
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let scheme = &url[..url.len() - rest.len()];
        if let Some((auth, host)) = rest.split_once('@')
            && let Some((user, _)) = auth.split_once(':')
        {
            return format!("{scheme}{user}:***@{host}");
        }
        return url.to_owned();
    }
    url.split_whitespace()
        .map(|pair| {
            if pair.starts_with("password=") {
                "password=***"
            } else {
                pair
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `store` names a PostgreSQL database rather than a directory.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// Column `index` of a row, or `Corrupt` when it is not of the type the
/// schema gives it (a table changed by hand).
fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
) -> Result<T, StorageError> {
    row.try_get(index).map_err(|_| StorageError::Corrupt {
        what: "database column",
    })
}

fn pg(error: tokio_postgres::Error) -> StorageError {
    match error.code() {
        Some(code) if *code == SqlState::DISK_FULL => StorageError::Full,
        Some(code) if *code == SqlState::UNDEFINED_TABLE || *code == SqlState::UNDEFINED_COLUMN => {
            StorageError::Backend {
                message: format!(
                    "the database has no Fengqiao tables (or older ones); \
                     run `fengqiao migrate --store …` ({error})"
                ),
            }
        }
        Some(_) => StorageError::Backend {
            message: match error.as_db_error() {
                Some(db) => format!("PostgreSQL: {}", db.message()),
                None => error.to_string(),
            },
        },
        None => {
            // The cause (refused, timed out, authentication) is in the chain.
            let mut message = format!("PostgreSQL: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            StorageError::Io(std::io::Error::other(message))
        }
    }
}

fn pool_error(error: deadpool_postgres::PoolError) -> StorageError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => pg(error),
        other => StorageError::Io(std::io::Error::other(format!(
            "no database connection: {other}"
        ))),
    }
}

fn table(space: Space) -> String {
    format!("fq_{}", space.name())
}

/// A migration: what it makes, in SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: fn() -> String,
}

fn key_spaces() -> String {
    let mut sql = String::from(
        "CREATE TABLE fq_writer (id smallint PRIMARY KEY);\n\
         INSERT INTO fq_writer VALUES (1);\n",
    );
    for space in Space::ALL {
        sql.push_str(&format!(
            "CREATE TABLE {} (k bytea PRIMARY KEY, v bytea NOT NULL);\n",
            table(space)
        ));
    }
    sql
}

fn rate_buckets() -> String {
    // Not logged: buckets are worth nothing after a crash.
    "CREATE UNLOGGED TABLE fq_rate (\
        k bytea PRIMARY KEY, \
        tokens double precision NOT NULL, \
        granted boolean NOT NULL, \
        at timestamptz NOT NULL);\n"
        .to_owned()
}

/// Every migration, oldest first. Never change one that has shipped: add
/// the next.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "key spaces",
        sql: key_spaces,
    },
    Migration {
        version: 2,
        name: "shared rate limits",
        sql: rate_buckets,
    },
    Migration {
        version: 3,
        name: "write versions",
        sql: write_versions,
    },
];

fn write_versions() -> String {
    // Every write transaction that changes what servers cache takes the
    // next version and announces it (see `read_cache`).
    // Per-village counters are no longer kept: the rows older versions
    // left go (the table stays, as every key space has one).
    "ALTER TABLE fq_writer ADD COLUMN version bigint NOT NULL DEFAULT 0;\n\
     TRUNCATE fq_counters;\n"
        .to_owned()
}

/// One token bucket step, in one statement: lock the bucket, refill it for
/// the time since it was last used (at most to the burst), then take as
/// many whole tokens as it holds, at most `most` and none unless it holds
/// `least`; when borrowing, take `most` whatever it holds (it may go below
/// zero). Answers the tokens taken and left. `$1` key, `$2` burst, `$3`
/// per second, `$4` least, `$5` most, `$6` borrow.
///
/// The upsert cannot return what the row held before (`RETURNING` sees the
/// new row), so the bucket is read first, `FOR UPDATE`: under READ
/// COMMITTED that waits for another server's take and reads its result,
/// and no one changes the row between the read and the write. The time
/// may be read before that wait: the bucket's time never goes back. A
/// bucket no one has used is inserted full; if another server inserts it
/// at the same moment, the conflict leaves that row alone and the
/// statement answers no row (the caller runs it again, and then finds the
/// row).
const TAKE_TOKENS: &str = "\
    WITH old AS (\
        SELECT tokens, at FROM fq_rate WHERE k = $1::bytea FOR UPDATE\
    ), held AS (\
        SELECT EXISTS (SELECT FROM old) AS found, \
            coalesce((\
                SELECT least($2::float8, old.tokens \
                    + extract(epoch FROM greatest(now.at, old.at) - old.at)::float8 * $3::float8) \
                FROM old), $2::float8) AS tokens, \
            coalesce((SELECT greatest(now.at, old.at) FROM old), now.at) AS at \
        FROM (SELECT clock_timestamp() AS at) AS now\
    ), step AS (\
        SELECT found, tokens, at, CASE \
            WHEN $6::bool THEN $5::float8 \
            WHEN tokens >= $4::float8 THEN greatest($4::float8, least($5::float8, floor(tokens))) \
            ELSE 0 END AS taken \
        FROM held\
    ), put AS (\
        INSERT INTO fq_rate AS b (k, tokens, granted, at) \
        SELECT $1::bytea, tokens - taken, taken > 0, at FROM step \
        ON CONFLICT (k) DO UPDATE SET \
            tokens = excluded.tokens, granted = excluded.granted, at = excluded.at \
            WHERE (SELECT found FROM step) \
        RETURNING tokens\
    ) \
    SELECT step.taken, put.tokens FROM step, put";

/// Buckets unused this long are removed (they would be full again).
const BUCKET_IDLE: &str =
    "DELETE FROM fq_rate WHERE at < clock_timestamp() - interval '10 minutes'";

/// Every pooled connection plans its prepared statements once, for any
/// parameters: each statement here reads or writes rows by their primary
/// key (one key, a list of keys, or a key range), where the generic plan
/// is the plan. Left to itself, PostgreSQL keeps planning statements whose
/// parameters are arrays anew at every execution; that planning was about
/// a third of the database's CPU in a sync storm (`storm`, see
/// `docs/BENCHMARKS.md`). Servers without the setting (before
/// PostgreSQL 12) are left as they are.
const GENERIC_PLANS: &str = "SELECT set_config(name, 'force_generic_plan', false) \
     FROM pg_settings WHERE name = 'plan_cache_mode'";

/// The schema version this binary migrates to.
pub fn latest_migration() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// What [`migrate`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The version before.
    pub from: i32,
    /// The version now.
    pub to: i32,
    /// The migrations applied, `(version, name)`.
    pub applied: Vec<(i32, &'static str)>,
}

/// Brings the database's schema to [`latest_migration`], in one
/// transaction under an advisory lock (nodes starting together migrate
/// once). Refuses a database migrated by a newer binary.
async fn migrate_on(
    client: &mut tokio_postgres::Client,
    schema: Option<&str>,
) -> Result<MigrationReport, StorageError> {
    let txn = client.transaction().await.map_err(pg)?;
    txn.execute("SELECT pg_advisory_xact_lock(7306172757363826)", &[])
        .await
        .map_err(pg)?;
    if let Some(schema) = schema {
        // A plain name (checked when the address was read).
        txn.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await
            .map_err(pg)?;
    }
    txn.batch_execute(
        "CREATE TABLE IF NOT EXISTS fq_migrations (\
            version integer PRIMARY KEY, \
            name text NOT NULL, \
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(pg)?;
    let from: i32 = column(
        &txn.query_one("SELECT coalesce(max(version), 0) FROM fq_migrations", &[])
            .await
            .map_err(pg)?,
        0,
    )?;
    let latest = latest_migration();
    if from > latest {
        return Err(StorageError::IncompatibleSchema {
            found: from as u32,
            supported: latest as u32,
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > from) {
        txn.batch_execute(&(migration.sql)()).await.map_err(pg)?;
        txn.execute(
            "INSERT INTO fq_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .await
        .map_err(pg)?;
        applied.push((migration.version, migration.name));
    }
    txn.commit().await.map_err(pg)?;
    Ok(MigrationReport {
        from,
        to: latest.max(from),
        applied,
    })
}

/// The schema version of the database (0 when it has none).
async fn version_on(client: &tokio_postgres::Client) -> Result<i32, StorageError> {
    let exists: bool = column(
        &client
            .query_one("SELECT to_regclass('fq_migrations') IS NOT NULL", &[])
            .await
            .map_err(pg)?,
        0,
    )?;
    if !exists {
        return Ok(0);
    }
    column(
        &client
            .query_one("SELECT coalesce(max(version), 0) FROM fq_migrations", &[])
            .await
            .map_err(pg)?,
        0,
    )
}

fn pg_config(url: &str, schema: Option<&str>) -> Result<tokio_postgres::Config, StorageError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| StorageError::Invalid {
        reason: format!("the store's PostgreSQL address does not parse: {e}"),
    })?;
    // Durable means on disk when the commit returns, whatever the server's
    // default says.
    let mut options = match config.get_options() {
        Some(existing) if !existing.is_empty() => {
            format!("{existing} -c synchronous_commit=on")
        }
        _ => "-c synchronous_commit=on".to_owned(),
    };
    options.push_str(" -c client_min_messages=warning");
    if let Some(schema) = schema {
        if !plain_name(schema) {
            return Err(StorageError::Invalid {
                reason: format!(
                    "the schema name {schema:?} may hold only a-z, 0-9 and _ \
                     (not first), at most 63 characters"
                ),
            });
        }
        options.push_str(&format!(" -c search_path={schema}"));
    }
    config.options(options);
    if config.get_application_name().is_none() {
        config.application_name("fengqiao");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    config.keepalives(true);
    Ok(config)
}

/// The backend's own runtime: connections live on it, so that the futures
/// of the backend complete whatever thread polls them.
struct Rt(Option<tokio::runtime::Runtime>);

impl Rt {
    fn handle(&self) -> &tokio::runtime::Handle {
        // Only `Drop` takes the runtime out.
        self.0
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .unwrap_or_else(|| unreachable!("the runtime is only taken when dropped"))
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            // Dropping may happen on an async task: do not block.
            runtime.shutdown_background();
        }
    }
}

struct Inner {
    rt: Rt,
    pool: Pool,
    config: tokio_postgres::Config,
    schema: Option<String>,
    /// This node's write transactions, one at a time, and the database
    /// transaction they share until it is committed (see [`Group`]).
    writer: Arc<tokio::sync::Mutex<Option<Group>>>,
    /// Tells the committer a group has something to commit (or a
    /// transaction left it).
    commit_due: Arc<tokio::sync::Notify>,
    /// The highest sequence number this node knows is committed.
    known_seq: Arc<AtomicU64>,
    /// What the transactions of any node announced.
    announced: broadcast::Sender<Announcement>,
    /// This node's name in announcements (random, per process).
    node: String,
    /// Calls to the shared rate buckets, to sweep idle ones now and then.
    bucket_calls: AtomicU64,
    /// Reads kept, forgotten as any node's commits announce (see
    /// [`read_cache`](super::read_cache)).
    cache: Arc<ReadCache>,
    /// The newest entries of the feed, copied from what commits announce.
    tail: Arc<FeedTail>,
    /// The version of this node's last commit: a read after it must see it.
    own_version: Arc<AtomicU64>,
    /// Rounds of asking the store for its version, shared by the requests
    /// that arrive together.
    refresher: Refresher,
    /// Whether the listening connection is up: while it is not, requests
    /// read past the cache at once rather than wait to catch up.
    listening: Arc<std::sync::atomic::AtomicBool>,
}

/// How long a request waits for this node to hear every commit the store
/// has made, before it reads past the cache instead.
const CATCH_UP: Duration = Duration::from_secs(2);

thread_local! {
    /// The cache (by address) this thread may answer from, and the last
    /// sequence number when the thread's [`FreshScope`] began.
    static FRESH: Cell<Option<(usize, u64)>> = const { Cell::new(None) };
}

/// The sequence number at the start of this thread's fresh scope on
/// `cache`, if the thread is in one.
fn fresh_here(cache: &Arc<ReadCache>) -> Option<u64> {
    let id = Arc::as_ptr(cache) as usize;
    FRESH.get().and_then(|(on, seq)| (on == id).then_some(seq))
}

/// Enters, on this thread, the fresh scope of `cache` that began at `seq`.
fn fresh_scope(cache: usize, seq: u64) -> FreshScope {
    let before = FRESH.replace(Some((cache, seq)));
    FreshScope::ending_with(move || FRESH.set(before), move || fresh_scope(cache, seq))
}

/// Asks the store for its version and last sequence number, in rounds: a
/// request waits for a round that began after it arrived, and every
/// request waiting shares the next one.
#[derive(Default)]
struct Refresher {
    state: std::sync::Mutex<Rounds>,
    finished: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct Rounds {
    started: u64,
    running: bool,
    finished: u64,
    /// What the last finished round found: `(version, seq)`.
    found: (u64, u64),
}

impl Refresher {
    fn rounds(&self) -> std::sync::MutexGuard<'_, Rounds> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's `(version, seq)` as read by a round begun after this
    /// call; `ask` reads them.
    async fn current<F, Fut>(&self, ask: F) -> Result<(u64, u64), StorageError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(u64, u64), StorageError>>,
    {
        let mut finished = self.finished.subscribe();
        let need = self.rounds().started + 1;
        loop {
            let mine = {
                let mut rounds = self.rounds();
                if rounds.finished >= need {
                    return Ok(rounds.found);
                }
                if rounds.running {
                    None
                } else {
                    rounds.running = true;
                    rounds.started += 1;
                    Some(rounds.started)
                }
            };
            let Some(round) = mine else {
                if finished.changed().await.is_err() {
                    return Err(StorageError::Closing);
                }
                continue;
            };
            let asked = ask().await;
            let mut rounds = self.rounds();
            rounds.running = false;
            if let Ok(found) = asked {
                rounds.finished = round;
                rounds.found = found;
            }
            drop(rounds);
            // Wakes those waiting, whether this round found or failed (then
            // one of them asks again).
            self.finished.send_modify(|n| *n = (*n).max(round));
            asked?;
        }
    }
}

impl Inner {
    /// Runs `work` on the backend's runtime.
    async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, StorageError>> + Send + 'static,
    ) -> Result<T, StorageError> {
        run_on(self.rt.handle(), work).await
    }

    async fn connection(self: &Arc<Self>) -> Result<Arc<Object>, StorageError> {
        let pool = self.pool.clone();
        self.run(async move { pool.get().await.map(Arc::new).map_err(pool_error) })
            .await
    }

    fn saw_seq(&self, seq: u64) {
        self.known_seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// The store's `(version, seq)`, read after this call.
    async fn refresh(self: &Arc<Self>) -> Result<(u64, u64), StorageError> {
        self.refresher
            .current(|| {
                let pool = self.pool.clone();
                self.run(async move {
                    let client = pool.get().await.map_err(pool_error)?;
                    let statement = client.prepare_cached(&where_now_sql()).await.map_err(pg)?;
                    let row = client.query_one(&statement, &[]).await.map_err(pg)?;
                    version_and_seq(&row)
                })
            })
            .await
    }
}

/// Runs `work` on the backend's runtime `rt`.
async fn run_on<T: Send + 'static>(
    rt: &tokio::runtime::Handle,
    work: impl Future<Output = Result<T, StorageError>> + Send + 'static,
) -> Result<T, StorageError> {
    rt.spawn(work).await.map_err(|e| {
        StorageError::Io(std::io::Error::other(format!(
            "a database task did not finish: {e}"
        )))
    })?
}

/// The PostgreSQL backend. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("known_seq", &self.inner.known_seq.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A random name for this process among the nodes.
fn node_name() -> String {
    let mut bytes = [0u8; 6];
    // Without randomness the names of two nodes could only collide in
    // what they announce (their own notes taken for another's).
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The spaces whose reads servers keep: the rest change with every commit
/// (the sequence, the feed, the heads log) or are read inside write
/// transactions only.
fn cached_space(space: Space) -> bool {
    matches!(
        space,
        Space::DocMeta | Space::Meta | Space::Snapshot | Space::Chunk | Space::Projection
    )
}

/// Most bytes of listed keys in one announcement (a notification holds
/// less than 8,000); a transaction that wrote more says `*`: forget all.
const LISTED_KEYS: usize = 6_000;

/// The keys a transaction wrote, as announced: `-` for none, `*` for too
/// many to list, else items joined by `,`: `<space tag><base64 key>` for a
/// key servers may have cached (forget it) or a feed entry deleted, and
/// `<space tag><base64 key>=<base64 value>` for a feed entry put or the
/// last sequence number stored (the tail of the feed every server copies,
/// see [`feed_tail`](super::feed_tail)).
fn list_keys(keys: &[(Space, Vec<u8>)], tail: &[KeyWrite]) -> String {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD_NO_PAD;
    if keys.is_empty() && tail.is_empty() {
        return "-".to_owned();
    }
    let mut listed = String::new();
    let items = keys.iter().map(|(space, key)| (*space, key, None)).chain(
        tail.iter()
            .map(|(space, key, value)| (*space, key, value.as_ref())),
    );
    for (space, key, value) in items {
        if !listed.is_empty() {
            listed.push(',');
        }
        listed.push(char::from(space.tag()));
        listed.push_str(&b64.encode(key));
        if let Some(value) = value {
            listed.push('=');
            listed.push_str(&b64.encode(value));
        }
        if listed.len() > LISTED_KEYS {
            return "*".to_owned();
        }
    }
    listed
}

/// Keys a transaction wrote, by space.
type Written = Vec<(Space, Vec<u8>)>;

/// A key a transaction put (`Some` value) or deleted.
type KeyWrite = (Space, Vec<u8>, Option<Vec<u8>>);

/// The writes of [`list_keys`]: the cached keys to forget and what the
/// feed's tail applies; `Some(None)` for `*`, `None` if malformed.
fn listed_keys(listed: &str) -> Option<Option<(Written, TailWrites)>> {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD_NO_PAD;
    match listed {
        "-" => return Some(Some(Default::default())),
        "*" => return Some(None),
        _ => {}
    }
    let mut keys = Vec::new();
    let mut tail = TailWrites::default();
    for item in listed.split(',') {
        let tag = *item.as_bytes().first()?;
        let space = Space::of_tag(tag)?;
        let (key, value) = match item.get(1..)?.split_once('=') {
            Some((key, value)) => (key, Some(b64.decode(value).ok()?)),
            None => (item.get(1..)?, None),
        };
        let key = b64.decode(key).ok()?;
        match (space, value) {
            (Space::Seq, Some(value)) if key.is_empty() => tail.seq = Some(value),
            (Space::Feed, value) => tail.feed.push((key, value)),
            (space, None) if cached_space(space) => keys.push((space, key)),
            _ => return None,
        }
    }
    Some(Some((keys, tail)))
}

/// An announcement as heard: what it says, the version of the transaction
/// and what it wrote (`None`: too much to list).
#[derive(Debug, PartialEq, Eq)]
struct Heard {
    announcement: Announcement,
    version: u64,
    writes: Option<(Written, TailWrites)>,
}

impl Heard {
    /// What the feed's tail applies of it: `None` when the transaction
    /// wrote too much to list, or took a sequence number without listing
    /// the last number stored (a server of an earlier version, which does
    /// not announce what it writes to the feed).
    fn tail_writes(&self) -> Option<&TailWrites> {
        let (_, writes) = self.writes.as_ref()?;
        let took_seq = matches!(self.announcement, Announcement::Committed { seq, .. } if seq > 0);
        (!took_seq || writes.seq.is_some()).then_some(writes)
    }
}

/// An announcement's payload: `node seq version keys text`.
fn parse_payload(node: &str, payload: &str) -> Option<Heard> {
    let mut parts = payload.splitn(5, ' ');
    let from = parts.next()?;
    let seq = parts.next()?.parse().ok()?;
    let version = parts.next()?.parse().ok()?;
    let writes = listed_keys(parts.next()?)?;
    Some(Heard {
        announcement: Announcement::Committed {
            own: from == node,
            seq,
            text: parts.next().unwrap_or("").to_owned(),
        },
        version,
        writes,
    })
}

fn decode_seq(bytes: &[u8]) -> Result<u64, StorageError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::Corrupt {
            what: "sequence number",
        })
}

impl PgBackend {
    /// Connects, applies pending migrations when `migrate` is set (or
    /// refuses a database whose schema is not this binary's), reads the
    /// last sequence number and starts listening for other nodes' commits.
    pub fn connect(config: &PgConfig, migrate: bool) -> Result<Self, StorageError> {
        let pg_config = pg_config(&config.url, config.schema.as_deref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(StorageError::from_io)?;
        let manager = Manager::from_config(
            pg_config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // Unless the address sets it: where the server has the setting.
        let generic_plans = !pg_config
            .get_options()
            .is_some_and(|options| options.contains("plan_cache_mode"));
        let pool = {
            let _entered = runtime.enter();
            let mut builder = Pool::builder(manager);
            if generic_plans {
                builder = builder.post_create(Hook::async_fn(|client, _| {
                    Box::pin(async move {
                        client
                            .batch_execute(GENERIC_PLANS)
                            .await
                            .map_err(HookError::Backend)
                    })
                }));
            }
            builder
                .max_size(config.max_connections.max(2))
                .wait_timeout(Some(config.wait))
                .create_timeout(Some(config.wait))
                .runtime(Runtime::Tokio1)
                .build()
                .map_err(|e| StorageError::Invalid {
                    reason: format!("the database pool could not be built: {e}"),
                })?
        };
        let (announced, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            rt: Rt(Some(runtime)),
            pool,
            config: pg_config,
            schema: config.schema.clone(),
            writer: Arc::new(tokio::sync::Mutex::new(None)),
            commit_due: Arc::new(tokio::sync::Notify::new()),
            known_seq: Arc::new(AtomicU64::new(0)),
            announced,
            node: node_name(),
            bucket_calls: AtomicU64::new(0),
            cache: Arc::new(ReadCache::new(config.cache_bytes)),
            // A quarter of the cache's bytes: 16 MiB by default, about
            // 150,000 entries.
            tail: Arc::new(FeedTail::new(config.cache_bytes / 4)),
            own_version: Arc::new(AtomicU64::new(0)),
            refresher: Refresher::default(),
            listening: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        });
        let backend = Self { inner };
        super::backend::block_on(backend.start(migrate))?;
        Ok(backend)
    }

    async fn start(&self, migrate: bool) -> Result<(), StorageError> {
        let inner = Arc::clone(&self.inner);
        let seq = self
            .inner
            .run(async move {
                let mut client = inner.pool.get().await.map_err(pool_error)?;
                let version = if migrate {
                    migrate_on(&mut client, inner.schema.as_deref()).await?.to
                } else {
                    version_on(&client).await?
                };
                let latest = latest_migration();
                if version != latest {
                    return Err(StorageError::IncompatibleSchema {
                        found: version as u32,
                        supported: latest as u32,
                    });
                }
                let row = client
                    .query_opt(
                        &format!("SELECT v FROM {} WHERE k = ''", table(Space::Seq)),
                        &[],
                    )
                    .await
                    .map_err(pg)?;
                match row {
                    Some(row) => decode_seq(column::<&[u8]>(&row, 0)?),
                    None => Ok(0),
                }
            })
            .await?;
        self.inner.saw_seq(seq);
        self.inner.rt.handle().spawn(committer(
            Arc::clone(&self.inner.writer),
            Arc::clone(&self.inner.commit_due),
            Arc::clone(&self.inner.cache),
            Arc::clone(&self.inner.own_version),
        ));
        // The listener holds no reference to the backend: dropping the
        // backend shuts its runtime down, and the listener with it.
        let (listening, ready) = tokio::sync::oneshot::channel();
        self.inner.rt.handle().spawn(listen(
            self.inner.config.clone(),
            channel(self.inner.schema.as_deref()),
            self.inner.node.clone(),
            Hearing {
                known_seq: Arc::clone(&self.inner.known_seq),
                announced: self.inner.announced.clone(),
                cache: Arc::clone(&self.inner.cache),
                tail: Arc::clone(&self.inner.tail),
                up: Arc::clone(&self.inner.listening),
            },
            listening,
        ));
        // Every commit after this returns is heard: wait for the LISTEN.
        let waited = self
            .inner
            .run(async move { Ok(tokio::time::timeout(Duration::from_secs(10), ready).await) })
            .await?;
        if !matches!(waited, Ok(Ok(()))) {
            tracing::warn!(
                "not yet listening for other servers' commits; changes they make are \
                 taken in once listening starts"
            );
        }
        Ok(())
    }

    /// Applies the pending migrations of the database in `config`.
    pub fn migrate(config: &PgConfig) -> Result<MigrationReport, StorageError> {
        let schema = config.schema.clone();
        let config = pg_config(&config.url, schema.as_deref())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StorageError::from_io)?;
        runtime.block_on(async move {
            let (mut client, connection) = config.connect(NoTls).await.map_err(pg)?;
            let driver = tokio::spawn(connection);
            let report = migrate_on(&mut client, schema.as_deref()).await;
            drop(client);
            let _ = driver.await;
            report
        })
    }
}

/// The `application_name` of the connection that listens on `channel`.
pub fn listener_name(channel: &str) -> String {
    format!("fengqiao listener {channel}")
}

/// The channel a store's commits are announced on.
pub fn channel_of(config: &PgConfig) -> String {
    channel(config.schema.as_deref())
}

/// What the listener keeps up to date.
struct Hearing {
    known_seq: Arc<AtomicU64>,
    announced: broadcast::Sender<Announcement>,
    cache: Arc<ReadCache>,
    tail: Arc<FeedTail>,
    /// Whether it listens now.
    up: Arc<std::sync::atomic::AtomicBool>,
}

/// Keeps a connection that listens on `channel`, made again when lost.
async fn listen(
    config: tokio_postgres::Config,
    channel: String,
    node: String,
    hearing: Hearing,
    listening: tokio::sync::oneshot::Sender<()>,
) {
    let Hearing {
        known_seq,
        announced,
        cache,
        tail,
        up,
    } = hearing;
    // Named, so that operators see what it is (`pg_stat_activity`).
    let mut config = config;
    config.application_name(listener_name(&channel));
    let mut delay = Duration::from_millis(100);
    // Told once the first LISTEN is in place; if the backend stopped
    // waiting for that, what was announced before it counts as missed.
    let mut listening = Some(listening);
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                let driver = tokio::spawn(async move {
                    let mut stream = std::pin::pin!(stream);
                    while let Some(message) = stream.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n.payload().to_owned()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                let listened = async {
                    client
                        .batch_execute(&format!("LISTEN {channel}"))
                        .await
                        .map_err(pg)?;
                    // Whatever was committed before now may have gone
                    // unheard: the cache and the feed's tail start again
                    // from the store as it is once listening.
                    where_now(&client).await
                };
                match listened.await {
                    Ok((version, seq)) => {
                        cache.reset(version);
                        tail.restart(version, seq);
                        up.store(true, Ordering::Release);
                        delay = Duration::from_millis(100);
                        let first_in_time = match listening.take() {
                            Some(ready) => ready.send(()).is_ok(),
                            None => false,
                        };
                        if !first_in_time {
                            let _ = announced.send(Announcement::Missed);
                        }
                        while let Some(payload) = rx.recv().await {
                            let Some(heard) = parse_payload(&node, &payload) else {
                                // Of another version of the server, or not
                                // ours: nothing kept can be trusted.
                                tracing::warn!(%payload, "an announcement that does not parse; forgetting every cached read");
                                tail.stop();
                                cache.reset(cache.applied());
                                restart_tail(&client, &tail).await;
                                continue;
                            };
                            // The tail first: a reader the cache lets in
                            // finds it at least as far along.
                            // Too much to list, from a server that does
                            // not list it, or after a version went
                            // unheard: the tail starts again from the
                            // store as it is now (later announcements
                            // wait in `rx`).
                            let applied = heard
                                .tail_writes()
                                .is_some_and(|writes| tail.apply(heard.version, writes));
                            if !applied {
                                tail.stop();
                                restart_tail(&client, &tail).await;
                            }
                            cache.heard(
                                heard.version,
                                heard.writes.as_ref().map(|(keys, _)| keys.as_slice()),
                            );
                            if let Announcement::Committed { seq, .. } = &heard.announcement {
                                known_seq.fetch_max(*seq, Ordering::Relaxed);
                            }
                            let _ = announced.send(heard.announcement);
                        }
                        up.store(false, Ordering::Release);
                        tail.stop();
                        tracing::warn!(
                            "the database connection that listens for commits was lost; reconnecting"
                        );
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not listen for other nodes' commits");
                    }
                }
                driver.abort();
            }
            Err(error) => {
                tracing::warn!(%error, "could not connect to listen for other nodes' commits");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Reads the store's version and last sequence number together (one
/// statement: one snapshot).
fn where_now_sql() -> String {
    format!(
        "SELECT w.version, s.v FROM fq_writer w LEFT JOIN {} s ON s.k = ''::bytea",
        table(Space::Seq)
    )
}

/// The store's version and last sequence number, read together.
async fn where_now(client: &tokio_postgres::Client) -> Result<(u64, u64), StorageError> {
    let row = client.query_one(&where_now_sql(), &[]).await.map_err(pg)?;
    version_and_seq(&row)
}

/// The answer of [`where_now_sql`].
fn version_and_seq(row: &tokio_postgres::Row) -> Result<(u64, u64), StorageError> {
    let version = u64::try_from(column::<i64>(row, 0)?).unwrap_or(0);
    let seq = match column::<Option<&[u8]>>(row, 1)? {
        Some(bytes) => decode_seq(bytes)?,
        None => 0,
    };
    Ok((version, seq))
}

/// Starts the feed's tail again from the store as it is now; if that
/// cannot be read, it stays stopped until the listener connects again.
async fn restart_tail(client: &tokio_postgres::Client, tail: &FeedTail) {
    match where_now(client).await {
        Ok((version, seq)) => tail.restart(version, seq),
        Err(error) => tracing::warn!(%error, "could not read where the feed ends"),
    }
}

fn scan_sql(space: Space, range: &KeyRange) -> (String, Vec<Vec<u8>>) {
    let mut params = Vec::new();
    let sql = range_select(space, range, &mut params);
    (sql, params)
}

/// The query of `range`, its bounds numbered after the `params` taken.
fn range_select(space: Space, range: &KeyRange, params: &mut Vec<Vec<u8>>) -> String {
    let mut sql = format!("SELECT k, v FROM {}", table(space));
    let mut clauses = Vec::new();
    let mut bound = |bound: &Bound<Vec<u8>>, inclusive: &str, exclusive: &str| match bound {
        Bound::Included(key) => {
            params.push(key.clone());
            clauses.push(format!("k {inclusive} ${}", params.len()));
        }
        Bound::Excluded(key) => {
            params.push(key.clone());
            clauses.push(format!("k {exclusive} ${}", params.len()));
        }
        Bound::Unbounded => {}
    };
    bound(&range.start, ">=", ">");
    bound(&range.end, "<=", "<");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(if range.reverse {
        " ORDER BY k DESC"
    } else {
        " ORDER BY k"
    });
    if range.limit < i64::MAX as usize {
        sql.push_str(&format!(" LIMIT {}", range.limit));
    }
    sql
}

/// One statement for several reads, so that they see one state of the
/// store; each row carries the index of its read.
fn many_sql(reads: &[Read]) -> (String, Vec<Vec<u8>>) {
    let mut params = Vec::new();
    let parts: Vec<String> = reads
        .iter()
        .enumerate()
        .map(|(i, read)| match read {
            Read::Get(space, key) => {
                params.push(key.clone());
                format!(
                    "(SELECT {i} AS i, k, v FROM {} WHERE k = ${})",
                    table(*space),
                    params.len()
                )
            }
            Read::Scan(space, range) => {
                let inner = range_select(*space, range, &mut params);
                format!("(SELECT {i} AS i, k, v FROM ({inner}) AS r{i})")
            }
        })
        .collect();
    (parts.join(" UNION ALL "), params)
}

fn as_params<T: tokio_postgres::types::ToSql + Sync>(
    params: &[T],
) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

/// Scans of one space that differ only in their bounds (the heads each
/// of a batch's records had at a cursor, say) as one statement over arrays
/// of bounds: one text whatever their number, where [`many_sql`] would give
/// each number of reads a statement (and a cached plan) of its own.
fn alike_scans_sql(reads: &[Read]) -> Option<(String, Vec<Vec<Vec<u8>>>)> {
    alike_scans_part(reads, 1, 0)
}

/// [`alike_scans_sql`] as a part of a larger statement: its two arrays of
/// bounds are parameters `param` and `param + 1`, and its rows are
/// numbered from `group`.
fn alike_scans_part(
    reads: &[Read],
    param: usize,
    group: usize,
) -> Option<(String, Vec<Vec<Vec<u8>>>)> {
    let Some(Read::Scan(space, first)) = reads.first() else {
        return None;
    };
    let inclusive = matches!(first.end, Bound::Included(_));
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    for read in reads {
        let Read::Scan(other, range) = read else {
            return None;
        };
        if other != space || range.reverse != first.reverse || range.limit != first.limit {
            return None;
        }
        match (&range.start, &range.end) {
            (Bound::Included(start), Bound::Included(end)) if inclusive => {
                starts.push(start.clone());
                ends.push(end.clone());
            }
            (Bound::Included(start), Bound::Excluded(end)) if !inclusive => {
                starts.push(start.clone());
                ends.push(end.clone());
            }
            _ => return None,
        }
    }
    let mut inner = format!(
        "SELECT k, v FROM {} WHERE k >= r.lo AND k {} r.hi ORDER BY k{}",
        table(*space),
        if inclusive { "<=" } else { "<" },
        if first.reverse { " DESC" } else { "" }
    );
    if first.limit < i64::MAX as usize {
        inner.push_str(&format!(" LIMIT {}", first.limit));
    }
    let sql = format!(
        "SELECT (r.i - 1 + {group})::int4 AS i, s.k, s.v \
         FROM unnest(${param}::bytea[], ${}::bytea[]) WITH ORDINALITY AS r(lo, hi, i) \
         JOIN LATERAL ({inner}) AS s ON true",
        param + 1
    );
    Some((sql, vec![starts, ends]))
}

async fn read_many_on(client: &Object, reads: &[Read]) -> Result<Vec<Found>, StorageError> {
    let rows = match alike_scans_sql(reads).filter(|_| reads.len() > 1) {
        Some((sql, bounds)) => {
            let statement = client.prepare_cached(&sql).await.map_err(pg)?;
            client
                .query(&statement, &as_params(&bounds))
                .await
                .map_err(pg)?
        }
        None => {
            let (sql, params) = many_sql(reads);
            let statement = client.prepare_cached(&sql).await.map_err(pg)?;
            client
                .query(&statement, &as_params(&params))
                .await
                .map_err(pg)?
        }
    };
    let mut answers = Vec::with_capacity(rows.len());
    for row in rows {
        let index = usize::try_from(column::<i32>(&row, 0)?).unwrap_or(usize::MAX);
        answers.push((
            index,
            column::<Vec<u8>>(&row, 1)?,
            column::<Vec<u8>>(&row, 2)?,
        ));
    }
    found_of(reads, answers)
}

/// What `reads` found, from the rows `(read's index, key, value)` of their
/// statement.
fn found_of(
    reads: &[Read],
    rows: Vec<(usize, Vec<u8>, Vec<u8>)>,
) -> Result<Vec<Found>, StorageError> {
    let mut found: Vec<Found> = reads
        .iter()
        .map(|read| match read {
            Read::Get(..) => Found::Value(None),
            Read::Scan(..) => Found::Entries(Vec::new()),
        })
        .collect();
    for (index, key, value) in rows {
        match found.get_mut(index) {
            Some(Found::Value(slot)) => *slot = Some(value),
            Some(Found::Entries(entries)) => entries.push((key, value)),
            None => return Err(StorageError::Corrupt { what: "read" }),
        }
    }
    for (read, found) in reads.iter().zip(&mut found) {
        if let (Read::Scan(_, range), Found::Entries(entries)) = (read, found) {
            // Each part keeps its order in practice; not promised.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            if range.reverse {
                entries.reverse();
            }
        }
    }
    Ok(found)
}

/// The cache's tag for a read, if its space is cached and it reads one key
/// or one whole prefix.
fn tag_of(read: &Read) -> Option<Tag> {
    match read {
        Read::Get(space, key) => cached_space(*space).then(|| Tag::Key(*space, key.clone())),
        Read::Scan(space, range) => match &range.start {
            Bound::Included(prefix)
                if cached_space(*space) && *range == KeyRange::prefix(prefix) =>
            {
                Some(Tag::Prefix(*space, prefix.clone()))
            }
            _ => None,
        },
    }
}

/// Reads ahead what `tags` name, in one statement, into `cache`.
/// Reads `tags` into `cache`, and `also` (scans of one space alike but for
/// their bounds, see [`alike_scans_part`]) for the caller, in one
/// statement.
async fn prefetch_on(
    client: &Object,
    cache: &ReadCache,
    ticket: Ticket,
    tags: Vec<Tag>,
    also: &[Read],
) -> Result<Vec<Found>, StorageError> {
    let mut keys: BTreeMap<Space, Vec<Vec<u8>>> = BTreeMap::new();
    let mut prefixes: BTreeMap<Space, Vec<Vec<u8>>> = BTreeMap::new();
    for tag in tags {
        match tag {
            Tag::Key(space, key) => keys.entry(space).or_default().push(key),
            Tag::Prefix(space, prefix) => prefixes.entry(space).or_default().push(prefix),
        }
    }
    let mut params: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut parts = Vec::new();
    let mut groups: Vec<(bool, Space, Vec<Vec<u8>>)> = Vec::new();
    for (space, keys) in keys {
        params.push(keys.clone());
        parts.push(format!(
            "(SELECT {} AS i, k, v FROM {} WHERE k = ANY(${}::bytea[]))",
            groups.len(),
            table(space),
            params.len()
        ));
        groups.push((false, space, keys));
    }
    for (space, prefixes) in prefixes {
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        let mut kept = Vec::new();
        for prefix in prefixes {
            if let Some(end) = super::keys::prefix_end(&prefix) {
                starts.push(prefix.clone());
                ends.push(end);
                kept.push(prefix);
            }
        }
        params.push(starts);
        params.push(ends);
        parts.push(format!(
            "(SELECT {} AS i, c.k, c.v FROM unnest(${}::bytea[], ${}::bytea[]) AS r(lo, hi) \
             JOIN {} c ON c.k >= r.lo AND c.k < r.hi)",
            groups.len(),
            params.len() - 1,
            params.len(),
            table(space)
        ));
        groups.push((true, space, kept));
    }
    if !also.is_empty() {
        let (part, bounds) = alike_scans_part(also, params.len() + 1, groups.len()).ok_or(
            StorageError::Invalid {
                reason: "reads ahead that are not alike scans".to_owned(),
            },
        )?;
        parts.push(format!("({part})"));
        params.extend(bounds);
    }
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client
        .prepare_cached(&parts.join(" UNION ALL "))
        .await
        .map_err(pg)?;
    let rows = client
        .query(&statement, &as_params(&params))
        .await
        .map_err(pg)?;
    let mut values: Vec<HashMap<Vec<u8>, Vec<u8>>> = vec![HashMap::new(); groups.len()];
    let mut under: Vec<HashMap<Vec<u8>, Vec<Entry>>> = groups
        .iter()
        .map(|(_, _, asked)| asked.iter().map(|p| (p.clone(), Vec::new())).collect())
        .collect();
    let lengths: Vec<Vec<usize>> = groups
        .iter()
        .map(|(_, _, asked)| {
            let mut lengths: Vec<usize> = asked.iter().map(Vec::len).collect();
            lengths.sort_unstable();
            lengths.dedup();
            lengths
        })
        .collect();
    let mut asked = Vec::new();
    for row in rows {
        let group = usize::try_from(column::<i32>(&row, 0)?).unwrap_or(usize::MAX);
        let (key, value) = (column::<Vec<u8>>(&row, 1)?, column::<Vec<u8>>(&row, 2)?);
        if let Some(index) = group.checked_sub(groups.len()) {
            asked.push((index, key, value));
            continue;
        }
        let Some((prefixed, _, _)) = groups.get(group) else {
            return Err(StorageError::Corrupt { what: "read" });
        };
        if !prefixed {
            values[group].insert(key, value);
            continue;
        }
        for &len in &lengths[group] {
            if let Some(entries) = key.get(..len).and_then(|p| under[group].get_mut(p)) {
                entries.push((key.clone(), value.clone()));
            }
        }
    }
    let mut found = Vec::new();
    for (group, (prefixed, space, asked)) in groups.into_iter().enumerate() {
        for key in asked {
            if prefixed {
                let mut entries = under[group].remove(&key).unwrap_or_default();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                found.push((Tag::Prefix(space, key), Cached::Entries(entries)));
            } else {
                let value = values[group].remove(&key);
                found.push((Tag::Key(space, key), Cached::Value(value)));
            }
        }
    }
    cache.keep(ticket, found);
    found_of(also, asked)
}

async fn get_on(
    client: &Object,
    space: Space,
    key: Vec<u8>,
) -> Result<Option<Vec<u8>>, StorageError> {
    let statement = client
        .prepare_cached(&format!("SELECT v FROM {} WHERE k = $1", table(space)))
        .await
        .map_err(pg)?;
    client
        .query_opt(&statement, &[&key])
        .await
        .map_err(pg)?
        .map(|row| column::<Vec<u8>>(&row, 0))
        .transpose()
}

async fn scan_on(
    client: &Object,
    space: Space,
    range: KeyRange,
) -> Result<Vec<Entry>, StorageError> {
    if range.limit == 0 || range.is_empty() {
        return Ok(Vec::new());
    }
    let (sql, params) = scan_sql(space, &range);
    let statement = client.prepare_cached(&sql).await.map_err(pg)?;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    client
        .query(&statement, &params)
        .await
        .map_err(pg)?
        .into_iter()
        .map(|row| Ok((column::<Vec<u8>>(&row, 0)?, column::<Vec<u8>>(&row, 1)?)))
        .collect()
}

/// A connection that may be inside a transaction: when dropped before
/// the transaction ended, the transaction is rolled back before the
/// connection goes back to the pool.
struct Conn {
    rt: tokio::runtime::Handle,
    client: Option<Arc<Object>>,
    in_transaction: bool,
}

impl Conn {
    fn client(&self) -> Result<Arc<Object>, StorageError> {
        self.client.clone().ok_or(StorageError::Closing)
    }

    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let client = self.client()?;
        let key = key.to_vec();
        run_on(&self.rt, async move { get_on(&client, space, key).await }).await
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        let client = self.client()?;
        let range = range.clone();
        run_on(
            &self.rt,
            async move { scan_on(&client, space, range).await },
        )
        .await
    }

    /// Several reads in one statement.
    async fn read_many(&self, reads: &[Read]) -> Result<Vec<Found>, StorageError> {
        let client = self.client()?;
        let reads = reads.to_vec();
        run_on(&self.rt, async move { read_many_on(&client, &reads).await }).await
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if self.in_transaction {
            self.rt.spawn(async move {
                if client.batch_execute("ROLLBACK").await.is_err()
                    && let Ok(object) = Arc::try_unwrap(client)
                {
                    // A connection in an unknown state is not reused.
                    drop(Object::take(object));
                }
            });
        }
    }
}

/// A view: a snapshot transaction, or a connection for single reads.
pub struct PgView(View);

enum View {
    /// A `REPEATABLE READ` transaction on a connection of its own.
    Snapshot(Conn),
    /// Each read on a pooled connection, taken for that read alone (in the
    /// same task as the read: one hop to the backend's runtime).
    Latest(Latest),
}

/// What reads of the latest state use.
struct Latest {
    pool: Pool,
    rt: tokio::runtime::Handle,
    cache: Arc<ReadCache>,
    tail: Arc<FeedTail>,
    own_version: Arc<AtomicU64>,
}

/// How long a read of the feed waits for this node to hear its own last
/// commit before it asks the store instead.
const OWN_COMMIT_HEARD: Duration = Duration::from_millis(100);

impl Latest {
    /// Reads through the cache: answered from it (or from the feed's
    /// tail) on a thread in a fresh scope when all of `reads` are there,
    /// else from the store in one statement, and kept.
    async fn read_cached(&self, reads: Vec<Read>) -> Result<Vec<Found>, StorageError> {
        let Self {
            pool,
            rt,
            cache,
            tail,
            own_version,
        } = self;
        if fresh_here(cache).is_some() {
            // As far along as what the scope waited for, and as this
            // node's own commits.
            let need = cache.applied().max(own_version.load(Ordering::Relaxed));
            let mut answer = tail.answer(&reads, need);
            if answer == Answer::Behind {
                let tail = Arc::clone(tail);
                let reads = reads.clone();
                answer = run_on(rt, async move {
                    tail.applied(need, OWN_COMMIT_HEARD).await;
                    Ok(tail.answer(&reads, need))
                })
                .await?;
            }
            if let Answer::Found(found) = answer {
                cache.count_hit();
                return Ok(found);
            }
        }
        let tags: Vec<Option<Tag>> = reads.iter().map(tag_of).collect();
        if fresh_here(cache).is_some() && tags.iter().all(Option::is_some) {
            let hits: Option<Vec<Found>> = tags.iter().flatten().map(|t| cache.get(t)).collect();
            if let Some(hits) = hits {
                return Ok(hits);
            }
        }
        let ticket = cache.begin(tags.iter().flatten());
        let pool = pool.clone();
        let found = run_on(rt, async move {
            let client = pool.get().await.map_err(pool_error)?;
            if let [Read::Scan(space, range)] = reads.as_slice() {
                return Ok(vec![Found::Entries(
                    scan_on(&client, *space, range.clone()).await?,
                )]);
            }
            if let [Read::Get(space, key)] = reads.as_slice() {
                return Ok(vec![Found::Value(
                    get_on(&client, *space, key.clone()).await?,
                )]);
            }
            read_many_on(&client, &reads).await
        })
        .await?;
        cache.keep(
            ticket,
            tags.into_iter()
                .zip(&found)
                .filter_map(|(tag, found)| Some((tag?, found.clone()))),
        );
        Ok(found)
    }
}

impl ReadView for PgView {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match &self.0 {
            View::Snapshot(conn) => conn.get(space, key).await,
            View::Latest(latest) => {
                let reads = vec![Read::Get(space, key.to_vec())];
                match latest.read_cached(reads).await?.pop() {
                    Some(Found::Value(value)) => Ok(value),
                    _ => Err(StorageError::Corrupt { what: "read" }),
                }
            }
        }
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        match &self.0 {
            View::Snapshot(conn) => conn.scan(space, range).await,
            View::Latest(latest) => {
                let reads = vec![Read::Scan(space, range.clone())];
                match latest.read_cached(reads).await?.pop() {
                    Some(Found::Entries(entries)) => Ok(entries),
                    _ => Err(StorageError::Corrupt { what: "read" }),
                }
            }
        }
    }

    async fn read_many(&self, reads: &[Read]) -> Result<Vec<Found>, StorageError> {
        match &self.0 {
            View::Snapshot(conn) => conn.read_many(reads).await,
            View::Latest(latest) => latest.read_cached(reads.to_vec()).await,
        }
    }
}

/// One space's writes at commit: keys deleted, then keys and values put.
type SpaceWrites = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// What a joined transaction hears when its group commits.
type Settled = tokio::sync::oneshot::Sender<Result<(), String>>;

/// One database transaction that this node's write transactions share,
/// one after another (group commit). The first opens it and takes the
/// writer row; each one after reads what those before wrote and sends its
/// own writes; none is acknowledged until the committer commits the group
/// (one `COMMIT`, one WAL flush, for all of them). A transaction that
/// joins while the previous group's `COMMIT` is flushing waits for the row
/// and starts the next group. So one flush serves every commit that
/// arrived during the last one, as sled's group commit does, and
/// sequence numbers still become visible in the order they were taken.
struct Group {
    conn: Conn,
    /// Writes of joined transactions not sent yet (see [`Pending`]).
    pending: std::sync::Mutex<Pending>,
    /// Why the database transaction failed, if writes sent with a later
    /// statement did: nothing in the group commits.
    broken: std::sync::Mutex<Option<String>>,
    /// The channel its announcements go on.
    channel: String,
    /// The last sequence number taken in the group (or before it).
    last_seq: u64,
    /// The joined transactions, told the outcome of the group's commit.
    waiters: Vec<Settled>,
    /// Whether any joined transaction asked for [`Durability::Flushed`].
    flushed: bool,
    /// The writer row's version when the group began, and the last one a
    /// transaction in it took: written back before the group commits.
    base_version: u64,
    version: u64,
    /// The keys of cached spaces its transactions wrote: reads of them
    /// (and of prefixes over them) go to the database, behind the writes.
    touched: BTreeSet<(Space, Vec<u8>)>,
    /// What each transaction that took a version leaves in the cache once
    /// the group's outcome is known, in commit order.
    settles: Vec<Settle>,
}

/// What a transaction of a group changes in this node's cache once the
/// group's outcome is known: its keys are forgotten at its version (all of
/// them when `keys` is `None`: too many to list); if the group committed,
/// `kept` are held as their keys' values.
struct Settle {
    version: u64,
    keys: Option<Vec<(Space, Vec<u8>)>>,
    kept: Vec<KeyWrite>,
}

/// Whether a read of `tag` would see a key in `touched`.
fn touches(touched: &BTreeSet<(Space, Vec<u8>)>, tag: &Tag) -> bool {
    match tag {
        Tag::Key(space, key) => touched.contains(&(*space, key.clone())),
        Tag::Prefix(space, prefix) => touched
            .range((*space, prefix.clone())..)
            .next()
            .is_some_and(|(at, key)| at == space && key.starts_with(prefix)),
    }
}

/// The write transaction: this node's turn in its [`Group`], writes kept
/// until commit.
pub struct PgTxn {
    group: Option<tokio::sync::OwnedMutexGuard<Option<Group>>>,
    rt: tokio::runtime::Handle,
    commit_due: Arc<tokio::sync::Notify>,
    known_seq: Arc<AtomicU64>,
    node: String,
    last_seq: u64,
    seq: Option<u64>,
    /// The last write of each key: `None` deletes.
    writes: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>,
    announce: Option<String>,
    /// Whether it joined its group's commit.
    joined: bool,
    cache: Arc<ReadCache>,
}

impl PgTxn {
    fn group(&self) -> Result<&Group, StorageError> {
        self.group
            .as_ref()
            .and_then(|group| group.as_ref())
            .ok_or(StorageError::Closing)
    }

    /// Reads in the group's database transaction, behind the writes of
    /// the transactions before this one that are not sent yet; or from
    /// this node's cache.
    ///
    /// The group holds the writer row: no other transaction commits until
    /// it does. So once this node has applied every commit up to the
    /// group's first version, what its cache holds of a key no
    /// transaction of the group wrote is what the database holds, and is
    /// answered from memory.
    async fn read_many_in_group(&self, reads: Vec<Read>) -> Result<Vec<Found>, StorageError> {
        let group = self.group()?;
        let tags: Vec<Option<Tag>> = reads
            .iter()
            .map(|read| tag_of(read).filter(|tag| !touches(&group.touched, tag)))
            .collect();
        let mut hits: Vec<Option<Found>> = vec![None; reads.len()];
        if self.cache.applied() >= group.base_version {
            for (hit, tag) in hits.iter_mut().zip(&tags) {
                if let Some(tag) = tag {
                    *hit = self.cache.get(tag);
                }
            }
        }
        if hits.iter().all(Option::is_some) {
            return Ok(hits.into_iter().flatten().collect());
        }
        let misses: Vec<usize> = (0..reads.len()).filter(|&i| hits[i].is_none()).collect();
        let asked: Vec<Read> = misses.iter().map(|&i| reads[i].clone()).collect();
        // Untouched keys read from the database are as committed: kept.
        let kept_tags: Vec<Option<Tag>> = misses.iter().map(|&i| tags[i].clone()).collect();
        let ticket = self.cache.begin(kept_tags.iter().flatten());
        let found = self.read_from_group(asked).await?;
        self.cache.keep(
            ticket,
            kept_tags
                .into_iter()
                .zip(&found)
                .filter_map(|(tag, found)| Some((tag?, found.clone()))),
        );
        let mut found = found.into_iter();
        for &i in &misses {
            hits[i] = found.next();
        }
        hits.into_iter()
            .map(|hit| hit.ok_or(StorageError::Corrupt { what: "read" }))
            .collect()
    }

    /// Reads in the group's database transaction, behind the writes of
    /// the transactions before this one that are not sent yet.
    async fn read_from_group(&self, reads: Vec<Read>) -> Result<Vec<Found>, StorageError> {
        let group = self.group()?;
        let pending = std::mem::take(&mut *lock(&group.pending));
        if pending.is_empty() {
            return group.conn.read_many(&reads).await;
        }
        let client = group.conn.client()?;
        let channel = group.channel.clone();
        let (written, read) = run_on(&self.rt, async move {
            Ok(after_pending(
                &client,
                pending,
                &channel,
                None,
                read_many_on(&client, &reads),
            )
            .await)
        })
        .await?;
        if let Err(error) = written {
            lock(&group.broken).get_or_insert_with(|| error.to_string());
            return Err(error);
        }
        read
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        if !self.joined {
            // Left without committing: the group may have others waiting,
            // and it holds the writer row; let the committer close it.
            self.commit_due.notify_one();
        }
    }
}

impl ReadView for PgTxn {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self
            .read_many_in_group(vec![Read::Get(space, key.to_vec())])
            .await?
            .pop()
        {
            Some(Found::Value(value)) => Ok(value),
            _ => Err(StorageError::Corrupt { what: "read" }),
        }
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        if range.limit == 0 || range.is_empty() {
            return Ok(Vec::new());
        }
        match self
            .read_many_in_group(vec![Read::Scan(space, range.clone())])
            .await?
            .pop()
        {
            Some(Found::Entries(entries)) => Ok(entries),
            _ => Err(StorageError::Corrupt { what: "read" }),
        }
    }

    async fn read_many(&self, reads: &[Read]) -> Result<Vec<Found>, StorageError> {
        self.read_many_in_group(reads.to_vec()).await
    }
}

/// One statement for the writes of the transactions in a group not yet
/// sent, and their announcements: a
/// `DELETE` and an upsert per space as data-modifying `WITH` parts (each
/// key is written once, so the parts touch different rows), the
/// notification as the query. One statement costs the database one parse,
/// plan and execution round instead of one per space.
fn writes_sql<'a>(
    by_space: &'a BTreeMap<Space, SpaceWrites>,
    notify: bool,
    version: Option<&'a i64>,
) -> (String, Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)>) {
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
    let mut parts = Vec::new();
    for (space, (deleted, keys, values)) in by_space {
        if !deleted.is_empty() {
            params.push(deleted);
            parts.push(format!(
                "d{} AS (DELETE FROM {} WHERE k = ANY(${}::bytea[]))",
                parts.len(),
                table(*space),
                params.len()
            ));
        }
        if !keys.is_empty() {
            params.push(keys);
            params.push(values);
            parts.push(format!(
                "u{} AS (INSERT INTO {} (k, v) SELECT * FROM unnest(${}::bytea[], ${}::bytea[]) \
                 ON CONFLICT (k) DO UPDATE SET v = excluded.v)",
                parts.len(),
                table(*space),
                params.len() - 1,
                params.len()
            ));
        }
    }
    if let Some(version) = version {
        // The writer row's version, when these are the group's last
        // writes (one statement fewer than an `UPDATE` of its own).
        params.push(version);
        parts.push(format!(
            "w{} AS (UPDATE fq_writer SET version = ${})",
            parts.len(),
            params.len()
        ));
    }
    let mut sql = String::new();
    if !parts.is_empty() {
        sql.push_str("WITH ");
        sql.push_str(&parts.join(", "));
        sql.push(' ');
    }
    if notify {
        // In the order given (volatile outputs are computed after the
        // sort): every server applies them in that order.
        sql.push_str(&format!(
            "SELECT pg_notify(${}, t.p) FROM unnest(${}::text[]) WITH ORDINALITY AS t(p, i) \
             ORDER BY t.i",
            params.len() + 1,
            params.len() + 2
        ));
    } else {
        sql.push_str("SELECT 1");
    }
    (sql, params)
}

/// The writes to the spaces `which` picks (a copy of those only: the
/// documents' bytes are not copied): `None` deletes.
fn writes_in(
    writes: &BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>,
    which: impl Fn(Space) -> bool,
) -> Vec<KeyWrite> {
    writes
        .iter()
        .filter(|((space, _), _)| which(*space))
        .map(|((space, key), value)| (*space, key.clone(), value.clone()))
        .collect()
}

/// The writes of a group's transactions that are not sent yet, and their
/// announcements: sent as one statement, together with the next statement
/// on the group's connection (a later transaction's reads, or the
/// `COMMIT`), so that a transaction's writes cost no round trip of their
/// own.
#[derive(Default)]
struct Pending {
    /// The last write of each key: `None` deletes.
    writes: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>,
    /// The announcements, in commit order.
    notices: Vec<String>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.notices.is_empty()
    }
}

/// Per space: the keys deleted, and the keys and values put.
fn by_space(writes: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>) -> BTreeMap<Space, SpaceWrites> {
    let mut by_space: BTreeMap<Space, SpaceWrites> = BTreeMap::new();
    for ((space, key), value) in writes {
        let (deleted, keys, values) = by_space.entry(space).or_default();
        match value {
            Some(value) => {
                keys.push(key);
                values.push(value);
            }
            None => deleted.push(key),
        }
    }
    by_space
}

/// Runs `then` on `client` right behind `pending` (announced on
/// `channel`): both go out together, in that order, and the connection
/// answers both in one round trip. The error of the writes comes first:
/// after it, the transaction is aborted and `then` fails too.
async fn after_pending<T>(
    client: &Object,
    pending: Pending,
    channel: &str,
    version: Option<i64>,
    then: impl Future<Output = Result<T, StorageError>>,
) -> (Result<(), StorageError>, Result<T, StorageError>) {
    if pending.is_empty() {
        return (Ok(()), then.await);
    }
    let notify = !pending.notices.is_empty();
    let by_space = by_space(pending.writes);
    let (sql, mut params) = writes_sql(&by_space, notify, version.as_ref());
    let channel = channel.to_owned();
    if notify {
        params.push(&channel);
        params.push(&pending.notices);
    }
    let statement = match client.prepare_cached(&sql).await.map_err(pg) {
        Ok(statement) => statement,
        Err(error) => {
            let failed = StorageError::Io(std::io::Error::other(error.to_string()));
            return (Err(error), Err(failed));
        }
    };
    // Polled in order: the writes are queued on the connection before
    // anything of `then` is (a prepared statement is sent at its first
    // poll).
    let (written, then) = futures_util::future::join(
        async { client.query(&statement, &params).await.map_err(pg) },
        then,
    )
    .await;
    (written.map(|_| ()), then)
}

impl WriteTxn for PgTxn {
    fn announce(&mut self, text: String) {
        self.announce = Some(text);
    }

    fn put(&mut self, space: Space, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert((space, key), Some(value));
    }

    fn delete(&mut self, space: Space, key: Vec<u8>) {
        self.writes.insert((space, key), None);
    }

    async fn next_seq(&mut self) -> Result<u64, StorageError> {
        if let Some(seq) = self.seq {
            return Ok(seq);
        }
        let seq = self.last_seq.checked_add(1).ok_or(StorageError::Corrupt {
            what: "sequence number",
        })?;
        self.seq = Some(seq);
        Ok(seq)
    }

    async fn commit(mut self, durability: Durability) -> Result<Option<u64>, StorageError> {
        let seq = self.seq;
        if let Some(seq) = seq {
            self.writes
                .insert((Space::Seq, Vec::new()), Some(seq.to_be_bytes().to_vec()));
        }
        let writes = std::mem::take(&mut self.writes);
        // The keys every server may have cached, and what this one keeps
        // of its own writes at once (small values: metadata, summaries,
        // server values).
        let cached: Vec<(Space, Vec<u8>)> = writes
            .keys()
            .filter(|(space, _)| cached_space(*space))
            .cloned()
            .collect();
        let kept = writes_in(&writes, |space| {
            matches!(space, Space::DocMeta | Space::Meta | Space::Projection)
        });
        // What every server's copy of the feed's tail applies: the last
        // number stored and the feed entries put and deleted.
        let tail = writes_in(&writes, |space| matches!(space, Space::Seq | Space::Feed));
        // Every commit that takes a number, moves the feed or changes what
        // servers cache is announced, under the next version (other nodes
        // learn the last number, copy the feed's tail and forget the keys),
        // with its text when it has one.
        let text = self.announce.take();
        let version = match self.group.as_ref().and_then(|g| g.as_ref()) {
            Some(group)
                if seq.is_some() || text.is_some() || !cached.is_empty() || !tail.is_empty() =>
            {
                Some(group.version + 1)
            }
            _ => None,
        };
        let listed = list_keys(&cached, &tail);
        let announce = version.map(|version| {
            let mut payload = format!("{} {} {version} {listed}", self.node, seq.unwrap_or(0));
            if let Some(text) = &text {
                payload.push(' ');
                payload.push_str(text);
            }
            payload
        });
        let mut guard = self.group.take().ok_or(StorageError::Closing)?;
        let (settled, outcome) = tokio::sync::oneshot::channel();
        let Some(group) = guard.as_mut() else {
            return Err(StorageError::Closing);
        };
        // Not sent now: with the next statement on the connection (see
        // `Pending`). A failure fails the whole group, this transaction
        // with it.
        {
            let mut pending = lock(&group.pending);
            pending.writes.extend(writes);
            pending.notices.extend(announce);
        }
        if let Some(seq) = seq {
            group.last_seq = seq;
        }
        if let Some(version) = version {
            group.version = version;
            group.touched.extend(cached.iter().cloned());
            group.settles.push(Settle {
                version,
                keys: (listed != "*").then_some(cached),
                kept,
            });
        }
        group.flushed |= durability == Durability::Flushed;
        group.waiters.push(settled);
        self.joined = true;
        // The next transaction may join now; the committer commits the
        // group once no one is in it.
        drop(guard);
        self.commit_due.notify_one();
        // The committer settles the cache (see `Settle`).
        match outcome.await {
            Ok(Ok(())) => {
                if let Some(seq) = seq {
                    self.known_seq.fetch_max(seq, Ordering::Relaxed);
                }
                Ok(seq)
            }
            outcome => Err(StorageError::Io(std::io::Error::other(match outcome {
                Ok(Err(message)) => message,
                _ => "the database transaction ended before it was committed".to_owned(),
            }))),
        }
    }
}

/// Commits this node's groups: whenever told, takes the open group (once
/// no transaction is in it) and commits it, telling every transaction in
/// it. Holds no reference to the backend.
async fn committer(
    writer: Arc<tokio::sync::Mutex<Option<Group>>>,
    due: Arc<tokio::sync::Notify>,
    cache: Arc<ReadCache>,
    own_version: Arc<AtomicU64>,
) {
    loop {
        due.notified().await;
        let Some(group) = writer.lock().await.take() else {
            continue;
        };
        let Group {
            mut conn,
            pending,
            broken,
            channel,
            waiters,
            flushed,
            base_version,
            version,
            settles,
            ..
        } = group;
        let pending = pending.into_inner().unwrap_or_else(|e| e.into_inner());
        let broken = broken.into_inner().unwrap_or_else(|e| e.into_inner());
        let committed = match (broken, conn.client()) {
            // Writes sent earlier failed: dropping the connection's
            // transaction rolls everything back.
            (Some(error), _) => Err(error),
            (None, Err(error)) => Err(error.to_string()),
            (None, Ok(client)) => {
                let mut sql = String::new();
                // The new version goes with the last writes when there are
                // some, else in an `UPDATE` of its own.
                let version = (version != base_version).then_some(version);
                let with_writes = match version.map(|v| (v, i64::try_from(v))) {
                    Some((_, Ok(version))) if !pending.is_empty() => Some(version),
                    Some((version, _)) => {
                        sql.push_str(&format!("UPDATE fq_writer SET version = {version}; "));
                        None
                    }
                    None => None,
                };
                if !flushed {
                    // Only caches in it (sync states): no need to wait for
                    // the flush.
                    sql.push_str("SET LOCAL synchronous_commit = off; ");
                }
                sql.push_str("COMMIT");
                // The last writes and the COMMIT go out together.
                // A COMMIT after failed writes only rolls back, without an
                // error: the writes' own answer decides.
                let (written, committed) =
                    after_pending(&client, pending, &channel, with_writes, async {
                        client.batch_execute(&sql).await.map_err(pg)
                    })
                    .await;
                if committed.is_ok() {
                    // Ended, committed or (after failed writes) rolled back.
                    conn.in_transaction = false;
                }
                written.and(committed).map_err(|e| e.to_string())
            }
        };
        let outcome = committed;
        // Before anyone hears the outcome: this node's next read must not
        // find what it cached before (its own announcements come later).
        // If the group may have committed all the same (the connection was
        // lost during COMMIT), nothing cached of its keys is kept either.
        for Settle {
            version: at,
            keys,
            kept,
        } in settles
        {
            cache.forget(at, keys.as_deref());
            if outcome.is_ok() {
                cache.wrote(at, kept);
            }
        }
        if outcome.is_ok() && version != base_version {
            own_version.fetch_max(version, Ordering::Relaxed);
            // Every version of the group is its own (it held the writer
            // row) and forgotten here: if this node had applied every one
            // before, it has now applied these.
            cache.applied_own(base_version, version);
        }
        for waiter in waiters {
            let _ = waiter.send(outcome.clone());
        }
    }
}

impl PgBackend {
    /// How a pooled connection plans its statements (PostgreSQL's
    /// `plan_cache_mode`; see [`GENERIC_PLANS`]).
    pub fn plan_cache_mode(&self) -> Result<String, StorageError> {
        let pool = self.inner.pool.clone();
        super::backend::block_on(self.inner.run(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let row = client
                .query_one("SELECT current_setting('plan_cache_mode')", &[])
                .await
                .map_err(pg)?;
            column::<String>(&row, 0)
        }))
    }
}

impl crate::limit::SharedBuckets for PgBackend {
    fn take(
        &self,
        key: Vec<u8>,
        limit: crate::limit::RateLimit,
        least: f64,
        most: f64,
        borrow: bool,
    ) -> crate::limit::Taking {
        let inner = Arc::clone(&self.inner);
        let sweep = inner.bucket_calls.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999;
        Box::pin(async move {
            let pool = inner.pool.clone();
            inner
                .run(async move {
                    let client = pool.get().await.map_err(pool_error)?;
                    if sweep {
                        client.execute(BUCKET_IDLE, &[]).await.map_err(pg)?;
                    }
                    let statement = client.prepare_cached(TAKE_TOKENS).await.map_err(pg)?;
                    let parameters: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
                        &key,
                        &limit.burst,
                        &limit.per_second,
                        &least,
                        &most,
                        &borrow,
                    ];
                    // No row: another server created the bucket at the same
                    // moment; it is there for the next try.
                    for _ in 0..3 {
                        let row = client
                            .query_opt(&statement, &parameters)
                            .await
                            .map_err(pg)?;
                        if let Some(row) = row {
                            return Ok((column::<f64>(&row, 0)?, column::<f64>(&row, 1)?));
                        }
                    }
                    Err(StorageError::Backend {
                        message: "another server was creating the same rate bucket on each \
                                  of three tries"
                            .into(),
                    })
                })
                .await
        })
    }
}

impl PgBackend {
    /// Of `tags`, those to read ahead: none outside a fresh scope, and
    /// none the cache holds.
    fn to_read_ahead(&self, tags: Vec<Tag>) -> Vec<Tag> {
        let cache = &self.inner.cache;
        if fresh_here(cache).is_none() {
            return Vec::new();
        }
        let mut tags: Vec<Tag> = tags.into_iter().filter(|tag| !cache.holds(tag)).collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// Reads `tags` into the cache and answers `reads`, in one statement.
    async fn read_ahead(
        &self,
        tags: Vec<Tag>,
        reads: Vec<Read>,
    ) -> Result<Vec<Found>, StorageError> {
        let ticket = self.inner.cache.begin(&tags);
        let (pool, cache) = (self.inner.pool.clone(), Arc::clone(&self.inner.cache));
        self.inner
            .run(async move {
                let client = pool.get().await.map_err(pool_error)?;
                prefetch_on(&client, &cache, ticket, tags, &reads).await
            })
            .await
    }
}

impl Backend for PgBackend {
    type Read = PgView;
    type Write = PgTxn;

    async fn read(&self, consistency: Consistency) -> Result<PgView, StorageError> {
        if consistency == Consistency::Latest {
            return Ok(PgView(View::Latest(Latest {
                pool: self.inner.pool.clone(),
                rt: self.inner.rt.handle().clone(),
                cache: Arc::clone(&self.inner.cache),
                tail: Arc::clone(&self.inner.tail),
                own_version: Arc::clone(&self.inner.own_version),
            })));
        }
        let pool = self.inner.pool.clone();
        let client = self
            .inner
            .run(async move {
                let client = pool.get().await.map_err(pool_error)?;
                // The snapshot is taken at the first statement: now.
                client
                    .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
                    .await
                    .map_err(pg)?;
                Ok(Arc::new(client))
            })
            .await?;
        Ok(PgView(View::Snapshot(Conn {
            rt: self.inner.rt.handle().clone(),
            client: Some(client),
            in_transaction: true,
        })))
    }

    async fn write(&self) -> Result<PgTxn, StorageError> {
        let mut group = Arc::clone(&self.inner.writer).lock_owned().await;
        if group.is_none() {
            let client = self.inner.connection().await?;
            let conn = Conn {
                rt: self.inner.rt.handle().clone(),
                client: Some(Arc::clone(&client)),
                in_transaction: true,
            };
            let last_seq = self
                .inner
                .run(async move {
                    // BEGIN, the lock and the last sequence number go out
                    // together: one round trip. The number is read by a
                    // statement of its own, whose snapshot is taken once
                    // the lock is held (a subquery of the locking statement
                    // would read the snapshot from before the wait, and
                    // miss the commit that held the lock).
                    let lock = client
                        .prepare_cached("SELECT version FROM fq_writer FOR UPDATE")
                        .await
                        .map_err(pg)?;
                    let last = client
                        .prepare_cached(&format!(
                            "SELECT v FROM {} WHERE k = ''::bytea",
                            table(Space::Seq)
                        ))
                        .await
                        .map_err(pg)?;
                    let (_, locked, row) = futures_util::future::try_join3(
                        async { client.batch_execute("BEGIN").await.map_err(pg) },
                        async { client.query_one(&lock, &[]).await.map_err(pg) },
                        async { client.query_opt(&last, &[]).await.map_err(pg) },
                    )
                    .await?;
                    let version = u64::try_from(column::<i64>(&locked, 0)?).unwrap_or(0);
                    let seq = match row {
                        Some(row) => decode_seq(column::<&[u8]>(&row, 0)?)?,
                        None => 0,
                    };
                    Ok((seq, version))
                })
                .await?;
            let (last_seq, version) = last_seq;
            self.inner.saw_seq(last_seq);
            *group = Some(Group {
                conn,
                pending: Default::default(),
                broken: Default::default(),
                channel: channel(self.inner.schema.as_deref()),
                last_seq,
                waiters: Vec::new(),
                flushed: false,
                base_version: version,
                version,
                touched: Default::default(),
                settles: Vec::new(),
            });
        }
        let last_seq = group.as_ref().map_or(0, |g| g.last_seq);
        Ok(PgTxn {
            group: Some(group),
            rt: self.inner.rt.handle().clone(),
            commit_due: Arc::clone(&self.inner.commit_due),
            known_seq: Arc::clone(&self.inner.known_seq),
            node: self.inner.node.clone(),
            last_seq,
            seq: None,
            writes: BTreeMap::new(),
            announce: None,
            joined: false,
            cache: Arc::clone(&self.inner.cache),
        })
    }

    async fn wait_durable(&self, seq: u64) -> Result<(), StorageError> {
        // Views show only committed transactions, and a commit that took a
        // sequence number was durable when it returned.
        self.inner.saw_seq(seq);
        Ok(())
    }

    fn durable_seq(&self) -> u64 {
        self.inner.known_seq.load(Ordering::Relaxed)
    }

    async fn latest_seq(&self) -> Result<u64, StorageError> {
        // In a fresh scope: the store's as the scope began, which is what
        // the request it serves may assume.
        if let Some(seq) = fresh_here(&self.inner.cache) {
            return Ok(seq);
        }
        let view = self.read(Consistency::Latest).await?;
        let seq = match view.get(Space::Seq, &[]).await? {
            Some(bytes) => decode_seq(&bytes)?,
            None => 0,
        };
        self.inner.saw_seq(seq);
        Ok(seq)
    }

    fn announcements(&self) -> Option<broadcast::Receiver<Announcement>> {
        Some(self.inner.announced.subscribe())
    }

    fn views_are_durable(&self) -> bool {
        // A commit is visible once committed, and committed means on disk
        // (synchronous_commit); lazy commits take no sequence number.
        true
    }

    fn read_cache_stats(&self) -> Option<(u64, u64, usize)> {
        let (hits, misses) = self.inner.cache.hits_and_misses();
        Some((hits, misses, self.inner.cache.weight()))
    }

    fn fresh(&self) -> FreshScope {
        if !self.inner.listening.load(Ordering::Acquire) {
            // Nothing is heard: every read goes to the store.
            return FreshScope::none();
        }
        let inner = Arc::clone(&self.inner);
        let found = super::backend::block_on(async move {
            let (version, seq) = inner.refresh().await?;
            let cache = Arc::clone(&inner.cache);
            let caught_up = inner
                .run(async move { Ok(cache.caught_up(version, CATCH_UP).await) })
                .await?;
            Ok::<_, StorageError>((caught_up, seq))
        });
        match found {
            Ok((true, seq)) => {
                self.inner.saw_seq(seq);
                let cache = Arc::as_ptr(&self.inner.cache) as usize;
                fresh_scope(cache, seq)
            }
            Ok((false, _)) => {
                tracing::warn!(
                    "this server has not heard every commit of the store within {CATCH_UP:?}; \
                     reading past its cache"
                );
                FreshScope::none()
            }
            Err(error) => {
                tracing::debug!(%error, "could not ask the store for its version");
                FreshScope::none()
            }
        }
    }

    async fn prefetch(&self, tags: Vec<Tag>) {
        let tags = self.to_read_ahead(tags);
        if tags.is_empty() {
            return;
        }
        if let Err(error) = self.read_ahead(tags, Vec::new()).await {
            tracing::debug!(%error, "could not read ahead");
        }
    }

    async fn prefetch_and_read(
        &self,
        tags: Vec<Tag>,
        reads: Vec<Read>,
    ) -> Result<Vec<Found>, StorageError> {
        let tags = self.to_read_ahead(tags);
        // Together where the reads make one part of the statement.
        if !tags.is_empty() && (reads.is_empty() || alike_scans_sql(&reads).is_some()) {
            return self.read_ahead(tags, reads).await;
        }
        if !tags.is_empty()
            && let Err(error) = self.read_ahead(tags, Vec::new()).await
        {
            tracing::debug!(%error, "could not read ahead");
        }
        self.read(Consistency::Latest)
            .await?
            .read_many(&reads)
            .await
    }

    fn health(&self) -> super::StoreHealth {
        let pool = self.inner.pool.clone();
        let checked = super::backend::block_on(self.inner.run(async move {
            let check = async {
                let client = pool.get().await.map_err(pool_error)?;
                client.batch_execute("SELECT 1").await.map_err(pg)
            };
            match tokio::time::timeout(Duration::from_secs(5), check).await {
                Ok(result) => result,
                Err(_) => Err(StorageError::Io(std::io::Error::other(
                    "the database did not answer within 5 s",
                ))),
            }
        }));
        match checked {
            Ok(()) => super::StoreHealth::Ok,
            Err(error) => super::StoreHealth::Failing {
                reason: format!("the database cannot be reached: {error}"),
            },
        }
    }
}

/// A schema of its own for one test, made on the database named by
/// `FENGQIAO_TEST_POSTGRES` and dropped with everything in it when this
/// is dropped.
pub struct TestSchema {
    pub config: PgConfig,
}

/// The variable that names the database tests may use.
pub const TEST_DATABASE_VAR: &str = "FENGQIAO_TEST_POSTGRES";

impl TestSchema {
    /// `None` when `FENGQIAO_TEST_POSTGRES` is not set.
    pub fn new() -> Option<Self> {
        let url = std::env::var(TEST_DATABASE_VAR).ok()?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).ok()?;
        let name = format!(
            "fq_test_{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Some(Self {
            config: PgConfig::new(url).in_schema(name),
        })
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let Some(schema) = self.config.schema.clone() else {
            return;
        };
        let Ok(config) = pg_config(&self.config.url, None) else {
            return;
        };
        let drop_schema = async move {
            let (client, connection) = config.connect(NoTls).await.ok()?;
            let driver = tokio::spawn(connection);
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await;
            drop(client);
            let _ = driver.await;
            Some(())
        };
        let run = move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(drop_schema);
            }
        };
        // Not on an async task's thread: a thread of its own.
        let _ = std::thread::spawn(run).join();
    }
}

impl Store<PgBackend> {
    /// Connects to the database in `config`, applying pending migrations
    /// first when `migrate` is set.
    pub fn connect(config: &PgConfig, migrate: bool) -> Result<Self, StorageError> {
        Store::open_on(PgBackend::connect(config, migrate)?, config.quarantine)
    }

    /// Loads the backup file `backup` into the database in `config`, whose
    /// store (its schema) must be empty. The whole file is checked before
    /// anything is written.
    pub fn restore_from(
        backup: &std::path::Path,
        config: &PgConfig,
    ) -> Result<super::BackupReport, StorageError> {
        super::backup::verify(backup)?;
        let backend = PgBackend::connect(config, true)?;
        super::backend::block_on(async {
            let view = backend.read(Consistency::Latest).await?;
            for space in Space::ALL {
                if !view.scan(space, &KeyRange::all().take(1)).await?.is_empty() {
                    return Err(StorageError::Invalid {
                        reason: "the database already holds a store; restore into an \
                                 empty database or another schema (--store-schema)"
                            .to_owned(),
                    });
                }
            }
            drop(view);
            Store::restore_into(&backend, backup).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_logged() {
        assert_eq!(
            redact("postgres://fq:secret@db:5432/fengqiao"),
            "postgres://fq:***@db:5432/fengqiao"
        );
        assert_eq!(
            redact("host=db user=fq password=secret dbname=x"),
            "host=db user=fq password=*** dbname=x"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
    }

    #[test]
    fn scans_become_bounded_ordered_queries() {
        let (sql, params) = scan_sql(Space::Feed, &KeyRange::prefix(b"ab").rev().take(3));
        assert_eq!(
            sql,
            "SELECT k, v FROM fq_feed WHERE k >= $1 AND k < $2 ORDER BY k DESC LIMIT 3"
        );
        assert_eq!(params, vec![b"ab".to_vec(), b"ac".to_vec()]);
        let (sql, params) = scan_sql(Space::Meta, &KeyRange::all());
        assert_eq!(sql, "SELECT k, v FROM fq_meta ORDER BY k");
        assert!(params.is_empty());
    }

    #[test]
    fn announcements_say_whose_they_are_and_what_they_wrote() {
        let keys = vec![
            (Space::DocMeta, b"\x02ab".to_vec()),
            (Space::Chunk, vec![0, 255, 7]),
        ];
        // The feed entry put and the one deleted, and the last number.
        let tail = vec![
            (Space::Feed, 3u64.to_be_bytes().to_vec(), None),
            (
                Space::Feed,
                7u64.to_be_bytes().to_vec(),
                Some(b"v\x00id".to_vec()),
            ),
            (Space::Seq, Vec::new(), Some(7u64.to_be_bytes().to_vec())),
        ];
        let listed = list_keys(&keys, &tail);
        assert_eq!(
            parse_payload("n1", &format!("n1 7 3 {listed} c doc village")),
            Some(Heard {
                announcement: Announcement::Committed {
                    own: true,
                    seq: 7,
                    text: "c doc village".into()
                },
                version: 3,
                writes: Some((
                    keys.clone(),
                    TailWrites {
                        seq: Some(7u64.to_be_bytes().to_vec()),
                        feed: vec![
                            (3u64.to_be_bytes().to_vec(), None),
                            (7u64.to_be_bytes().to_vec(), Some(b"v\x00id".to_vec())),
                        ],
                    }
                )),
            })
        );
        assert_eq!(
            parse_payload("n1", "n2 8 4 -"),
            Some(Heard {
                announcement: Announcement::Committed {
                    own: false,
                    seq: 8,
                    text: String::new()
                },
                version: 4,
                writes: Some(Default::default()),
            })
        );
        assert_eq!(
            parse_payload("n1", "n2 0 5 * v name").map(|h| h.writes),
            Some(None)
        );
        // What the feed's tail applies: not a commit too large to list,
        // nor one that took a number without saying what it stored (a
        // server that does not announce its feed writes).
        let tail_of = |payload: &str| {
            parse_payload("n1", payload)
                .expect("parses")
                .tail_writes()
                .cloned()
        };
        assert_eq!(tail_of("n2 0 5 * v name"), None);
        assert_eq!(tail_of(&format!("n2 9 5 {}", list_keys(&keys, &[]))), None);
        assert_eq!(tail_of("n2 0 5 -"), Some(TailWrites::default()));
        assert!(tail_of(&format!("n1 7 3 {listed}")).is_some());
        // Too many keys to list: all of them.
        let many: Vec<(Space, Vec<u8>)> = (0..2_000u32)
            .map(|n| (Space::Meta, n.to_be_bytes().to_vec()))
            .collect();
        assert_eq!(list_keys(&many, &[]), "*");
        assert_eq!(list_keys(&[], &[]), "-");
        for bad in [
            "n2 x",
            "",
            "n2 8",
            "n2 8 x -",
            "n2 8 1 Zabc",
            "n2 8 1 d!!",
            "n2 8 1",
            // A value only for the feed and the last number; the last
            // number only with one, at the empty key.
            "n2 8 1 dAA=AA",
            "n2 8 1 Q",
            "n2 8 1 QAA=AA",
            "n2 8 1 fAA=!!",
        ] {
            assert_eq!(parse_payload("n1", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_group_s_writes_are_one_statement() {
        let mut by_space: BTreeMap<Space, SpaceWrites> = BTreeMap::new();
        by_space.insert(
            Space::Feed,
            (
                vec![b"old".to_vec()],
                vec![b"new".to_vec()],
                vec![b"v".to_vec()],
            ),
        );
        by_space.insert(
            Space::DocMeta,
            (Vec::new(), vec![b"d".to_vec()], vec![b"m".to_vec()]),
        );
        let (sql, params) = writes_sql(&by_space, true, None);
        assert_eq!(
            sql,
            "WITH u0 AS (INSERT INTO fq_doc_meta (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v), \
             d1 AS (DELETE FROM fq_feed WHERE k = ANY($3::bytea[])), \
             u2 AS (INSERT INTO fq_feed (k, v) SELECT * FROM unnest($4::bytea[], $5::bytea[]) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v) \
             SELECT pg_notify($6, t.p) FROM unnest($7::text[]) WITH ORDINALITY AS t(p, i) \
             ORDER BY t.i"
        );
        assert_eq!(params.len(), 5);
        assert_eq!(writes_sql(&BTreeMap::new(), false, None).0, "SELECT 1");
        let (version, none) = (7i64, BTreeMap::new());
        let (sql, params) = writes_sql(&none, true, Some(&version));
        assert_eq!(
            sql,
            "WITH w0 AS (UPDATE fq_writer SET version = $1) \
             SELECT pg_notify($2, t.p) FROM unnest($3::text[]) WITH ORDINALITY AS t(p, i) \
             ORDER BY t.i"
        );
        assert_eq!(params.len(), 1);
    }

    #[test]
    fn alike_scans_are_one_statement_whatever_their_number() {
        let heads = |n: u8| {
            Read::Scan(
                Space::Heads,
                KeyRange::inclusive(vec![n, 0], vec![n, 9]).rev().take(1),
            )
        };
        let (two, bounds) = alike_scans_sql(&[heads(1), heads(2)]).expect("alike");
        let (three, _) = alike_scans_sql(&[heads(1), heads(2), heads(3)]).expect("alike");
        assert_eq!(two, three);
        assert_eq!(
            two,
            "SELECT (r.i - 1 + 0)::int4 AS i, s.k, s.v \
             FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS r(lo, hi, i) \
             JOIN LATERAL (SELECT k, v FROM fq_heads WHERE k >= r.lo AND k <= r.hi \
             ORDER BY k DESC LIMIT 1) AS s ON true"
        );
        assert_eq!(
            bounds,
            vec![vec![vec![1, 0], vec![2, 0]], vec![vec![1, 9], vec![2, 9]]]
        );
        // Anything else goes as parts of its own.
        assert!(alike_scans_sql(&[heads(1), Read::Get(Space::Heads, vec![1])]).is_none());
        assert!(
            alike_scans_sql(&[heads(1), Read::Scan(Space::Heads, KeyRange::prefix(&[2]))])
                .is_none()
        );
    }

    #[test]
    fn several_reads_become_one_statement() {
        let (sql, params) = many_sql(&[
            Read::Get(Space::DocMeta, b"a".to_vec()),
            Read::Scan(Space::Chunk, KeyRange::prefix(b"a")),
        ]);
        assert_eq!(
            sql,
            "(SELECT 0 AS i, k, v FROM fq_doc_meta WHERE k = $1) UNION ALL \
             (SELECT 1 AS i, k, v FROM (SELECT k, v FROM fq_chunk WHERE k >= $2 AND k < $3 \
             ORDER BY k) AS r1)"
        );
        assert_eq!(params, vec![b"a".to_vec(), b"a".to_vec(), b"b".to_vec()]);
        // Only whole prefixes of cached spaces are kept.
        assert_eq!(
            tag_of(&Read::Scan(Space::Chunk, KeyRange::prefix(b"a"))),
            Some(Tag::Prefix(Space::Chunk, b"a".to_vec()))
        );
        assert_eq!(
            tag_of(&Read::Scan(Space::Chunk, KeyRange::prefix(b"a").take(1))),
            None
        );
        assert_eq!(tag_of(&Read::Get(Space::Feed, b"a".to_vec())), None);
    }

    #[test]
    fn schema_names_are_plain() {
        assert!(plain_name("fq_t_1a"));
        for bad in ["", "1a", "a b", "a;drop", "A", &"a".repeat(64)] {
            assert!(!plain_name(bad), "{bad:?} must be refused");
            assert!(pg_config("postgres://h/d", Some(bad)).is_err());
        }
    }

    #[test]
    fn a_bad_address_is_a_clear_error() {
        let error = pg_config("postgres://[::1", None)
            .err()
            .map(|e| e.to_string());
        assert!(
            error.is_some_and(|e| e.contains("does not parse")),
            "a malformed address must be refused"
        );
    }
}
