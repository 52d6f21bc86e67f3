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

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Bound;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, NoTls};

use super::backend::{
    Announcement, Backend, Consistency, Durability, Entry, KeyRange, ReadView, Space, WriteTxn,
};
use super::store::Store;
use super::{QuarantineBounds, StorageError};

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
];

/// One token bucket step, in one statement: refill for the time since the
/// bucket was last used (at most to the burst), then take `n` if there
/// are `n` or when borrowing. `$1` key, `$2` burst, `$3` per second,
/// `$4` n, `$5` borrow.
const TAKE_TOKENS: &str = "\
    INSERT INTO fq_rate AS b (k, tokens, granted, at) \
    VALUES ($1::bytea, $2::float8 - $4::float8, $2::float8 >= $4::float8 OR $5::bool, clock_timestamp()) \
    ON CONFLICT (k) DO UPDATE SET \
        granted = least($2::float8, b.tokens + extract(epoch FROM clock_timestamp() - b.at)::float8 * $3::float8) \
            >= $4::float8 OR $5::bool, \
        tokens = least($2::float8, b.tokens + extract(epoch FROM clock_timestamp() - b.at)::float8 * $3::float8) \
            - CASE WHEN least($2::float8, b.tokens + extract(epoch FROM clock_timestamp() - b.at)::float8 * $3::float8) \
                >= $4::float8 OR $5::bool \
              THEN $4::float8 ELSE 0 END, \
        at = clock_timestamp() \
    RETURNING granted, tokens";

/// Buckets unused this long are removed (they would be full again).
const BUCKET_IDLE: &str =
    "DELETE FROM fq_rate WHERE at < clock_timestamp() - interval '10 minutes'";

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

/// An announcement's payload: `node seq text`.
fn parse_payload(node: &str, payload: &str) -> Option<Announcement> {
    let mut parts = payload.splitn(3, ' ');
    let from = parts.next()?;
    let seq = parts.next()?.parse().ok()?;
    Some(Announcement::Committed {
        own: from == node,
        seq,
        text: parts.next().unwrap_or("").to_owned(),
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
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
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
        ));
        // The listener holds no reference to the backend: dropping the
        // backend shuts its runtime down, and the listener with it.
        let (listening, ready) = tokio::sync::oneshot::channel();
        self.inner.rt.handle().spawn(listen(
            self.inner.config.clone(),
            channel(self.inner.schema.as_deref()),
            self.inner.node.clone(),
            Arc::clone(&self.inner.known_seq),
            self.inner.announced.clone(),
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

/// Keeps a connection that listens on `channel`, made again when lost.
async fn listen(
    config: tokio_postgres::Config,
    channel: String,
    node: String,
    known_seq: Arc<AtomicU64>,
    announced: broadcast::Sender<Announcement>,
    listening: tokio::sync::oneshot::Sender<()>,
) {
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
                match client.batch_execute(&format!("LISTEN {channel}")).await {
                    Ok(()) => {
                        delay = Duration::from_millis(100);
                        let first_in_time = match listening.take() {
                            Some(ready) => ready.send(()).is_ok(),
                            None => false,
                        };
                        if !first_in_time {
                            let _ = announced.send(Announcement::Missed);
                        }
                        while let Some(payload) = rx.recv().await {
                            let Some(announcement) = parse_payload(&node, &payload) else {
                                tracing::debug!(%payload, "an announcement that does not parse");
                                continue;
                            };
                            if let Announcement::Committed { seq, .. } = &announcement {
                                known_seq.fetch_max(*seq, Ordering::Relaxed);
                            }
                            let _ = announced.send(announcement);
                        }
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

fn scan_sql(space: Space, range: &KeyRange) -> (String, Vec<Vec<u8>>) {
    let mut sql = format!("SELECT k, v FROM {}", table(space));
    let mut params = Vec::new();
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
    (sql, params)
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
    Latest {
        pool: Pool,
        rt: tokio::runtime::Handle,
    },
}

impl ReadView for PgView {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match &self.0 {
            View::Snapshot(conn) => conn.get(space, key).await,
            View::Latest { pool, rt } => {
                let (pool, key) = (pool.clone(), key.to_vec());
                run_on(rt, async move {
                    let client = pool.get().await.map_err(pool_error)?;
                    get_on(&client, space, key).await
                })
                .await
            }
        }
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        match &self.0 {
            View::Snapshot(conn) => conn.scan(space, range).await,
            View::Latest { pool, rt } => {
                let (pool, range) = (pool.clone(), range.clone());
                run_on(rt, async move {
                    let client = pool.get().await.map_err(pool_error)?;
                    scan_on(&client, space, range).await
                })
                .await
            }
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
    /// The last sequence number taken in the group (or before it).
    last_seq: u64,
    /// The joined transactions, told the outcome of the group's commit.
    waiters: Vec<Settled>,
    /// Whether any joined transaction asked for [`Durability::Flushed`].
    flushed: bool,
}

/// The write transaction: this node's turn in its [`Group`], writes kept
/// until commit.
pub struct PgTxn {
    group: Option<tokio::sync::OwnedMutexGuard<Option<Group>>>,
    rt: tokio::runtime::Handle,
    commit_due: Arc<tokio::sync::Notify>,
    known_seq: Arc<AtomicU64>,
    node: String,
    channel: String,
    last_seq: u64,
    seq: Option<u64>,
    /// The last write of each key: `None` deletes.
    writes: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>,
    announce: Option<String>,
    /// Whether it joined its group's commit.
    joined: bool,
}

impl PgTxn {
    fn conn(&self) -> Result<&Conn, StorageError> {
        self.group
            .as_ref()
            .and_then(|group| group.as_ref())
            .map(|group| &group.conn)
            .ok_or(StorageError::Closing)
    }
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
        self.conn()?.get(space, key).await
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        self.conn()?.scan(space, range).await
    }
}

/// Sends one transaction's writes (and its announcement) on `client`, in
/// one round trip; statements are prepared once per connection.
async fn send_writes(
    client: Arc<Object>,
    by_space: BTreeMap<Space, SpaceWrites>,
    announce: Option<(String, String)>,
) -> Result<(), StorageError> {
    let mut statements = Vec::new();
    for (space, (deleted, keys, values)) in by_space {
        if !deleted.is_empty() {
            let statement = client
                .prepare_cached(&format!("DELETE FROM {} WHERE k = ANY($1)", table(space)))
                .await
                .map_err(pg)?;
            statements.push((statement, vec![deleted]));
        }
        if !keys.is_empty() {
            let statement = client
                .prepare_cached(&format!(
                    "INSERT INTO {} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                     ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                    table(space)
                ))
                .await
                .map_err(pg)?;
            statements.push((statement, vec![keys, values]));
        }
    }
    let notify = match &announce {
        Some(_) => Some(
            client
                .prepare_cached("SELECT pg_notify($1, $2)")
                .await
                .map_err(pg)?,
        ),
        None => None,
    };
    let mut flight: Vec<futures_util::future::BoxFuture<'_, Result<(), StorageError>>> = Vec::new();
    for (statement, params) in &statements {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let client = &client;
        flight.push(Box::pin(async move {
            client
                .execute(statement, &params)
                .await
                .map(drop)
                .map_err(pg)
        }));
    }
    if let (Some(notify), Some((channel, payload))) = (&notify, &announce) {
        let client = &client;
        flight.push(Box::pin(async move {
            client
                .execute(notify, &[channel, payload])
                .await
                .map(drop)
                .map_err(pg)
        }));
    }
    futures_util::future::try_join_all(flight).await.map(drop)
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
        // Per space: one DELETE of every deleted key, one upsert of every
        // written one.
        let mut by_space: BTreeMap<Space, SpaceWrites> = BTreeMap::new();
        for ((space, key), value) in std::mem::take(&mut self.writes) {
            let (deleted, keys, values) = by_space.entry(space).or_default();
            match value {
                Some(value) => {
                    keys.push(key);
                    values.push(value);
                }
                None => deleted.push(key),
            }
        }
        // Every commit that takes a number is announced (other nodes learn
        // the last one), with its text when it has one.
        let payload = match (seq, self.announce.take()) {
            (seq, Some(text)) => Some(format!("{} {} {text}", self.node, seq.unwrap_or(0))),
            (Some(seq), None) => Some(format!("{} {seq}", self.node)),
            (None, None) => None,
        };
        let announce = payload.map(|payload| (self.channel.clone(), payload));
        let client = self.conn()?.client()?;
        let sent = run_on(&self.rt, send_writes(client, by_space, announce)).await;
        let mut guard = self.group.take().ok_or(StorageError::Closing)?;
        if let Err(error) = sent {
            // The database transaction is broken: nothing in the group
            // commits. Dropping its connection rolls it back.
            if let Some(group) = guard.take() {
                for waiter in group.waiters {
                    let _ = waiter.send(Err(error.to_string()));
                }
            }
            self.joined = true;
            return Err(error);
        }
        let (settled, outcome) = tokio::sync::oneshot::channel();
        let Some(group) = guard.as_mut() else {
            return Err(StorageError::Closing);
        };
        if let Some(seq) = seq {
            group.last_seq = seq;
        }
        group.flushed |= durability == Durability::Flushed;
        group.waiters.push(settled);
        self.joined = true;
        // The next transaction may join now; the committer commits the
        // group once no one is in it.
        drop(guard);
        self.commit_due.notify_one();
        match outcome.await {
            Ok(Ok(())) => {
                if let Some(seq) = seq {
                    self.known_seq.fetch_max(seq, Ordering::Relaxed);
                }
                Ok(seq)
            }
            Ok(Err(message)) => Err(StorageError::Io(std::io::Error::other(message))),
            Err(_) => Err(StorageError::Io(std::io::Error::other(
                "the database transaction ended before it was committed",
            ))),
        }
    }
}

/// Commits this node's groups: whenever told, takes the open group (once
/// no transaction is in it) and commits it, telling every transaction in
/// it. Holds no reference to the backend.
async fn committer(writer: Arc<tokio::sync::Mutex<Option<Group>>>, due: Arc<tokio::sync::Notify>) {
    loop {
        due.notified().await;
        let Some(group) = writer.lock().await.take() else {
            continue;
        };
        let Group {
            mut conn,
            waiters,
            flushed,
            ..
        } = group;
        let committed = match conn.client() {
            Ok(client) => {
                let sql = if flushed {
                    "COMMIT"
                } else {
                    // Only caches in it (sync states): no need to wait for
                    // the flush.
                    "SET LOCAL synchronous_commit = off; COMMIT"
                };
                client.batch_execute(sql).await.map_err(pg)
            }
            Err(error) => Err(error),
        };
        if committed.is_ok() {
            conn.in_transaction = false;
        }
        let outcome = committed.map_err(|e| e.to_string());
        for waiter in waiters {
            let _ = waiter.send(outcome.clone());
        }
    }
}

impl crate::limit::SharedBuckets for PgBackend {
    fn take(
        &self,
        key: Vec<u8>,
        limit: crate::limit::RateLimit,
        n: f64,
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
                    let row = client
                        .query_one(
                            &statement,
                            &[&key, &limit.burst, &limit.per_second, &n, &borrow],
                        )
                        .await
                        .map_err(pg)?;
                    Ok((column::<bool>(&row, 0)?, column::<f64>(&row, 1)?))
                })
                .await
        })
    }
}

impl Backend for PgBackend {
    type Read = PgView;
    type Write = PgTxn;

    async fn read(&self, consistency: Consistency) -> Result<PgView, StorageError> {
        if consistency == Consistency::Latest {
            return Ok(PgView(View::Latest {
                pool: self.inner.pool.clone(),
                rt: self.inner.rt.handle().clone(),
            }));
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
                        .prepare_cached("SELECT id FROM fq_writer FOR UPDATE")
                        .await
                        .map_err(pg)?;
                    let last = client
                        .prepare_cached(&format!(
                            "SELECT v FROM {} WHERE k = ''::bytea",
                            table(Space::Seq)
                        ))
                        .await
                        .map_err(pg)?;
                    let (_, _, row) = futures_util::future::try_join3(
                        async { client.batch_execute("BEGIN").await.map_err(pg) },
                        async { client.execute(&lock, &[]).await.map_err(pg) },
                        async { client.query_opt(&last, &[]).await.map_err(pg) },
                    )
                    .await?;
                    match row {
                        Some(row) => decode_seq(column::<&[u8]>(&row, 0)?),
                        None => Ok(0),
                    }
                })
                .await?;
            self.inner.saw_seq(last_seq);
            *group = Some(Group {
                conn,
                last_seq,
                waiters: Vec::new(),
                flushed: false,
            });
        }
        let last_seq = group.as_ref().map_or(0, |g| g.last_seq);
        Ok(PgTxn {
            group: Some(group),
            rt: self.inner.rt.handle().clone(),
            commit_due: Arc::clone(&self.inner.commit_due),
            known_seq: Arc::clone(&self.inner.known_seq),
            node: self.inner.node.clone(),
            channel: channel(self.inner.schema.as_deref()),
            last_seq,
            seq: None,
            writes: BTreeMap::new(),
            announce: None,
            joined: false,
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
    fn announcements_say_whose_they_are() {
        assert_eq!(
            parse_payload("n1", "n1 7 c doc village"),
            Some(Announcement::Committed {
                own: true,
                seq: 7,
                text: "c doc village".into()
            })
        );
        assert_eq!(
            parse_payload("n1", "n2 8"),
            Some(Announcement::Committed {
                own: false,
                seq: 8,
                text: String::new()
            })
        );
        assert_eq!(parse_payload("n1", "n2 x"), None);
        assert_eq!(parse_payload("n1", ""), None);
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
