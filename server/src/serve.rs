//! Running the server: open storage, build the engine and the routes,
//! serve until asked to stop, then finish in-flight requests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{Authenticator, DeviceTokens, InsecureDevToken};
use crate::directory::Directory;
use crate::engine::{Engine, EngineConfig};
use crate::http::{self, AppState, HttpLimits};
use crate::limit::{RateLimit, RateLimiter};
use crate::report::{Reports, ResidentConfig};
use crate::storage::{PgStorage, ServerValue, SledStorage, Storage, StorageConfig, StorageError};

/// Where the records are kept.
#[derive(Debug, Clone, Default)]
pub enum StoreLocation {
    /// `DATA/store`, on the embedded database (sled).
    #[default]
    Embedded,
    /// A PostgreSQL database, which several servers may share.
    Postgres(crate::storage::PgConfig),
}

/// Everything `fengqiao serve` needs.
pub struct ServeConfig {
    pub data: PathBuf,
    /// Where the records are kept (ignored when [`ServeConfig::storage`]
    /// is given).
    pub store: StoreLocation,
    pub bind: SocketAddr,
    /// A second address serving `/metrics` (without a token) and
    /// `/healthz`, for monitoring; on the main address `/metrics` needs the
    /// admin token.
    pub metrics_bind: Option<SocketAddr>,
    pub engine: EngineConfig,
    pub storage_cache_bytes: u64,
    pub http: HttpLimits,
    /// What the township and district reports may keep in memory.
    pub reports: ResidentConfig,
    /// How often background compaction looks for records to compact.
    pub compaction_interval: Duration,
    /// UNSAFE development token with unrestricted access, if any.
    pub dev_token: Option<String>,
    /// The admin token; when `None` one is read from or created in
    /// `DATA/admin.token`.
    pub admin_token: Option<String>,
    /// The URL phones use to reach this server (for set-up payloads).
    pub public_url: Option<String>,
    pub rate: RateLimit,
    /// WebSocket messages per device; a faster peer is read more slowly.
    pub ws_rate: RateLimit,
    /// Storage to serve from instead of opening `DATA/store`, for embedding
    /// the server over another [`Storage`] implementation (tests wrap the
    /// sled store this way to inject disk failures).
    pub storage: Option<Arc<dyn Storage>>,
    /// The closed loop's time limits where no district or town sets its
    /// own (`--conclude-days`, `--accept-days`, `--followup-days`).
    pub time_limits: fengqiao_shared::deadline::TimeLimits,
    /// Where alerts are posted, if anywhere (see [`crate::alerts`]).
    pub webhook: Option<crate::alerts::WebhookConfig>,
}

impl ServeConfig {
    pub fn new(data: impl Into<PathBuf>, bind: SocketAddr) -> Self {
        Self {
            data: data.into(),
            store: StoreLocation::Embedded,
            bind,
            metrics_bind: None,
            engine: EngineConfig::default(),
            storage_cache_bytes: 64 * 1024 * 1024,
            http: HttpLimits::default(),
            reports: ResidentConfig::default(),
            compaction_interval: Duration::from_secs(30),
            dev_token: None,
            admin_token: None,
            public_url: None,
            rate: RateLimit::default(),
            ws_rate: RateLimit::WEBSOCKET,
            storage: None,
            time_limits: fengqiao_shared::deadline::TimeLimits::DEFAULT,
            webhook: None,
        }
    }
}

/// Server-wide identity kept in storage: the epoch that names this data
/// directory's history in cursors, the key that seals cursors, and the
/// automerge-repo storage id.
fn identity(storage: &dyn Storage) -> Result<(crate::batch::Cursors, String), StorageError> {
    let epoch = match storage.get_value(&ServerValue::Epoch)? {
        Some(bytes) if bytes.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes);
            u64::from_be_bytes(b)
        }
        _ => {
            let fresh = u64::from_be_bytes(
                uuid::Uuid::new_v4().as_bytes()[..8]
                    .try_into()
                    .unwrap_or([1; 8]),
            );
            storage.put_value(&ServerValue::Epoch, &fresh.to_be_bytes())?;
            fresh
        }
    };
    // The store is given its id when it is created; a store made before
    // that was done is given one here.
    let storage_id = match storage.get_value(&ServerValue::StorageId)? {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => {
            let fresh = uuid::Uuid::new_v4().to_string();
            storage.put_value(&ServerValue::StorageId, fresh.as_bytes())?;
            fresh
        }
    };
    Ok((
        crate::batch::Cursors::new(epoch, &cursor_key(storage)?),
        storage_id,
    ))
}

/// The key that seals batch cursors: made on first start and kept in the
/// store, so it survives restarts and travels with backups (a restored
/// server still opens its phones' cursors, to tell them what to purge; its
/// new epoch makes them bootstrap all the same).
fn cursor_key(storage: &dyn Storage) -> Result<[u8; 32], StorageError> {
    if let Some(bytes) = storage.get_value(&ServerValue::CursorKey)?
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| StorageError::Io(std::io::Error::other(e)))?;
    storage.put_value(&ServerValue::CursorKey, &key)?;
    Ok(key)
}

/// A server that is running; dropping it does not stop it, call
/// [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    /// Where the metrics are served without a token, if configured.
    pub metrics_addr: Option<SocketAddr>,
    pub state: http::Shared,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    metrics_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and returns.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        if let Some(task) = self.metrics_task {
            match tokio::time::timeout(http::SHUTDOWN_GRACE, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the metrics address failed"),
                Ok(Err(e)) => tracing::warn!(error = %e, "the metrics task failed"),
                Err(_) => tracing::warn!("the metrics address did not stop in time"),
            }
        }
        let served = match tokio::time::timeout(http::SHUTDOWN_GRACE, self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(std::io::Error::other(e)),
            Err(_) => Err(std::io::Error::other(
                "in-flight requests did not finish in time",
            )),
        };
        // WebSocket sessions leave axum's tracking once upgraded; they close
        // on the same signal and are waited for here.
        if tokio::time::timeout(http::SHUTDOWN_GRACE, self.state.peers.all_closed())
            .await
            .is_err()
        {
            tracing::warn!("some WebSocket connections did not close in time");
        }
        served
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the data directory {path}: {source}")]
    Storage {
        path: PathBuf,
        #[source]
        source: StorageError,
    },
    #[error("cannot open the store on PostgreSQL at {store}: {source}")]
    Database {
        /// The address, without its password.
        store: String,
        #[source]
        source: StorageError,
    },
    #[error("cannot listen on {addr}: {source}; is another server using the port?")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The admin token: the configured one, or the one in `DATA/admin.token`,
/// created (mode 0600) at first start.
fn admin_token(config: &ServeConfig) -> Result<String, std::io::Error> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    admin_token_in(&config.data).map(|(token, _)| token)
}

/// The admin token kept in `DATA/admin.token`, created (mode 0600) when
/// there is none; true when it was created now.
pub fn admin_token_in(data: &std::path::Path) -> Result<(String, bool), std::io::Error> {
    let path = data.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok((text.trim().to_owned(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let token = format!("fqadmin_{}", bs58::encode(bytes).into_string());
    crate::storage::private::create_dir(data)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(&path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "created the admin token");
    Ok((token, true))
}

/// Opens storage and starts serving in the background, authenticating
/// enrolled devices (and the development token, if configured).
pub async fn start_enrolled(config: ServeConfig) -> Result<Running, StartError> {
    let dev = config.dev_token.clone().map(InsecureDevToken::new);
    start_inner(config, move |directory| {
        Arc::new(DeviceTokens::new(directory.clone(), dev))
    })
    .await
}

/// Opens storage and starts serving with a given authenticator.
pub async fn start(
    config: ServeConfig,
    auth: Arc<dyn Authenticator>,
) -> Result<Running, StartError> {
    start_inner(config, move |_| auth).await
}

async fn start_inner(
    config: ServeConfig,
    auth: impl FnOnce(&Arc<Directory>) -> Arc<dyn Authenticator>,
) -> Result<Running, StartError> {
    let storage_error = |source| StartError::Storage {
        path: config.data.clone(),
        source,
    };
    // The data directory holds the store, the admin token and backups in
    // the making: the server's user alone may read it.
    crate::storage::private::create_dir(&config.data)
        .map_err(|e| storage_error(StorageError::Io(e)))?;
    // Rate limits every server on a shared store draws from.
    let mut shared_buckets: Option<Arc<dyn crate::limit::SharedBuckets>> = None;
    let storage: Arc<dyn Storage> = match &config.storage {
        Some(storage) => storage.clone(),
        None => match &config.store {
            StoreLocation::Embedded => {
                let storage_config = StorageConfig::new(config.data.join("store"))
                    .with_cache_bytes(config.storage_cache_bytes);
                Arc::new(SledStorage::open(&storage_config).map_err(storage_error)?)
            }
            StoreLocation::Postgres(pg) => {
                let pg = pg.clone();
                let store = crate::storage::postgres::redact(&pg.url);
                tracing::info!(%store, schema = pg.schema.as_deref().unwrap_or("(default)"),
                    "opening the store on PostgreSQL");
                let database_error = |source| StartError::Database {
                    store: store.clone(),
                    source,
                };
                let opened = tokio::task::spawn_blocking(move || PgStorage::connect(&pg, true))
                    .await
                    .map_err(|e| database_error(StorageError::Io(std::io::Error::other(e))))?;
                let opened = opened.map_err(database_error)?;
                shared_buckets = Some(Arc::new(opened.backend().clone()));
                Arc::new(opened)
            }
        },
    };
    let (cursors, storage_id) = identity(storage.as_ref()).map_err(storage_error)?;
    let directory = Arc::new(Directory::open(storage.clone()).map_err(storage_error)?);
    let admin = admin_token(&config).map_err(|e| storage_error(StorageError::Io(e)))?;
    let auth = auth(&directory);
    let engine = Arc::new(Engine::new(storage, directory, config.engine.clone()));
    let (stop, mut stopped) = watch::channel(false);
    // With other servers on the same store: take in what they change.
    crate::cluster::follow(engine.clone(), stop.subscribe());
    if let Some(webhook) = &config.webhook {
        let queue = Arc::new(crate::alerts::AlertQueue::new(
            webhook.queue,
            engine.metrics().clone(),
        ));
        engine.set_alert_queue(queue.clone());
        tracing::info!(url = %webhook.url, "posting alerts to a webhook");
        tokio::spawn(crate::alerts::deliver(
            queue,
            webhook.clone(),
            stop.subscribe(),
        ));
    }
    let state = Arc::new(AppState {
        engine: engine.clone(),
        auth,
        metrics: engine.metrics().clone(),
        cursors,
        storage_id,
        limits: config.http.clone(),
        reports: Arc::new(Reports::new(
            engine.storage().clone(),
            config.reports.clone(),
        )),
        peers: Default::default(),
        shutdown: stop.subscribe(),
        admin_token: Some(admin),
        public_url: config.public_url.clone(),
        rate: match &shared_buckets {
            Some(buckets) => RateLimiter::shared(config.rate, buckets.clone(), "http"),
            None => RateLimiter::new(config.rate),
        },
        ws_rate: match &shared_buckets {
            Some(buckets) => RateLimiter::shared(config.ws_rate, buckets.clone(), "ws"),
            None => RateLimiter::new(config.ws_rate),
        },
        data_dir: config.data.clone(),
        bodies: http::limit::BodyBudget::new(config.http.max_body_bytes),
        time_limits: config.time_limits,
    });
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.bind,
        source,
    })?;
    let metrics_listener = match config.metrics_bind {
        Some(bind) => {
            let listener = TcpListener::bind(bind)
                .await
                .map_err(|source| StartError::Bind { addr: bind, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| StartError::Bind { addr: bind, source })?;
            Some((listener, local))
        }
        None => None,
    };

    let mut compaction_stop = stop.subscribe();
    let interval = config.compaction_interval;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = compaction_stop.changed() => return,
            }
            let engine = engine.clone();
            match tokio::task::spawn_blocking(move || engine.compact(16, 64)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::debug!(records = n, "compacted"),
                Ok(Err(e)) => tracing::warn!(error = %e, "compaction failed"),
                Err(e) => tracing::warn!(error = %e, "compaction task failed"),
            }
        }
    });

    let metrics_addr = metrics_listener.as_ref().map(|(_, addr)| *addr);
    let metrics_task = metrics_listener.map(|(listener, addr)| {
        let app = http::metrics_router(state.clone());
        let listener =
            http::listener::GuardedListener::new(listener, &config.http, state.metrics.clone());
        let limits = config.http.clone();
        let mut stopped = stop.subscribe();
        tracing::info!(%addr, "serving metrics");
        tokio::spawn(async move {
            http::listener::serve(listener, app, &limits, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
            Ok(())
        })
    });
    let app = http::router(state.clone())
        .merge(crate::ws::router(state.clone()))
        .layer(axum::middleware::map_request_with_state(
            config.http.clone(),
            http::limit::min_body_rate,
        ));
    let listener =
        http::listener::GuardedListener::new(listener, &config.http, state.metrics.clone());
    let limits = config.http.clone();
    let task = tokio::spawn(async move {
        http::listener::serve(listener, app, &limits, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await;
        Ok(())
    });
    tracing::info!(%addr, "serving");
    Ok(Running {
        addr,
        metrics_addr,
        state,
        stop,
        task,
        metrics_task,
    })
}

/// Restores a backup (made by `fengqiao backup`) into `data`, which must
/// not hold a store yet. The restored server gets a new history: phones'
/// cursors from before are not honoured, so they re-upload what the backup
/// lacks, and automerge-repo clients see a new storage id.
pub fn restore(
    backup: &std::path::Path,
    data: &std::path::Path,
) -> Result<crate::storage::BackupReport, StorageError> {
    let store = data.join("store");
    crate::storage::private::create_dir(data).map_err(StorageError::Io)?;
    let report = SledStorage::restore_from(backup, &store)?;
    let storage = SledStorage::open(&StorageConfig::new(store))?;
    renew_identity(&storage)?;
    Ok(report)
}

/// Loads a backup into an empty PostgreSQL store and gives it a new
/// history.
pub fn restore_to_postgres(
    backup: &std::path::Path,
    config: &crate::storage::PgConfig,
) -> Result<crate::storage::BackupReport, StorageError> {
    let report = PgStorage::restore_from(backup, config)?;
    let storage = PgStorage::connect(config, false)?;
    renew_identity(&storage)?;
    Ok(report)
}

/// Gives a data directory a new history (epoch and storage id).
pub fn renew_identity(storage: &dyn Storage) -> Result<(), StorageError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| StorageError::Io(std::io::Error::other(e)))?;
    storage.put_value(&ServerValue::Epoch, &bytes)?;
    storage.put_value(
        &ServerValue::StorageId,
        uuid::Uuid::new_v4().to_string().as_bytes(),
    )?;
    Ok(())
}
