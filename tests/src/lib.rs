//! The harness the end-to-end tests in `tests/tests/` share: a real
//! server on 127.0.0.1 with an ephemeral port, and phones talking to it.

pub mod browser;
pub mod events;
pub mod process;
pub mod proxy;
pub mod ws;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fengqiao_protocol::Scope;
use fengqiao_protocol::{DeviceId, DocumentId, VillageCode};
use fengqiao_server::auth::Authenticator;
use fengqiao_server::directory::{Directory, EnrollRequest, Org};
use fengqiao_server::serve::{self, Running, ServeConfig};
use fengqiao_shared::access::Role;
use fengqiao_shared::record::{Author, NewDispute, NewEvent, Party, add_event, create_dispute};
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, SyncError, SyncReport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_shared::vocab::{Category, EventKind, PartyRole, Risk};

/// Whether every test must really run (`FENGQIAO_REQUIRE_ALL=1`, as CI
/// sets it): then a missing prerequisite fails instead of skipping.
pub fn require_all() -> bool {
    std::env::var("FENGQIAO_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A test that cannot run here: under [`require_all`] it fails; otherwise
/// the notice goes straight to the process's standard error, which the test
/// harness does not capture, so a plain `cargo test` run shows it even
/// though the test passes. `what` names the test, `why` the missing
/// prerequisite and how to provide it. Every skipping test calls this.
pub fn skip(what: &str, why: &str) {
    if require_all() {
        panic!("FENGQIAO_REQUIRE_ALL=1 but {what} cannot run: {why}");
    }
    let bar = "!".repeat(72);
    let notice = format!(
        "\n{bar}\n!!! SKIPPED: {what} did NOT run: {why}\n\
         !!! Set FENGQIAO_REQUIRE_ALL=1 to make this an error.\n{bar}\n"
    );
    write_to_stderr(notice.as_bytes());
}

/// Writes to file descriptor 2 itself. `eprintln!` goes through the test
/// harness's capture and is shown only for failing tests; a `Stderr`
/// handle writes to the descriptor directly.
fn write_to_stderr(bytes: &[u8]) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(bytes);
    let _ = stderr.flush();
}

/// The development token test servers accept.
pub const TOKEN: &str = "test-token-0123456789";

/// A server running in this process on its own runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data: PathBuf,
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A fresh server on a temporary data directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut server = Self::start_in(dir.path());
        server._dir = Some(dir);
        server
    }

    /// A server on `data` (kept after the server stops).
    pub fn start_in(data: &Path) -> Self {
        Self::start_with(ServeConfig::new(
            data,
            "127.0.0.1:0".parse().expect("address"),
        ))
    }

    /// A server with `config`, accepting enrolled devices and the
    /// development token [`TOKEN`], with the [`test_org`] imported.
    pub fn start_with(mut config: ServeConfig) -> Self {
        config.dev_token = Some(TOKEN.to_owned());
        Self::launch(config, None)
    }

    /// A server that authenticates with `auth` instead, with the
    /// [`test_org`] imported.
    pub fn start_with_auth(config: ServeConfig, auth: Arc<dyn Authenticator>) -> Self {
        Self::launch(config, Some(auth))
    }

    fn launch(config: ServeConfig, auth: Option<Arc<dyn Authenticator>>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let data = config.data.clone();
        let running = runtime
            .block_on(async move {
                match auth {
                    Some(auth) => serve::start(config, auth).await,
                    None => serve::start_enrolled(config).await,
                }
            })
            .expect("server starts");
        running
            .state
            .engine
            .directory()
            .import_org(test_org())
            .expect("test organisation imports");
        Self {
            addr: running.addr,
            data,
            runtime,
            running: Some(running),
            _dir: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/ws?token={TOKEN}", self.addr)
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server is running")
    }

    /// POSTs `body` to `path` with an optional bearer token and extra
    /// headers; returns the status and the body, whatever the status.
    pub fn post(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let mut call = agent.post(&format!("{}{path}", self.url()));
        if let Some(token) = token {
            call = call.header("Authorization", &format!("Bearer {token}"));
        }
        for (name, value) in headers {
            call = call.header(*name, *value);
        }
        let response = call.send(body).expect("the server answers");
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .expect("the body arrives");
        (status, bytes)
    }

    /// The server's admin token (created in the data directory at start).
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data.join("admin.token"))
            .expect("the admin token file")
            .trim()
            .to_owned()
    }

    /// The `/metrics` text, read with the admin token.
    pub fn metrics(&self) -> String {
        ureq::get(&format!("{}/metrics", self.url()))
            .header("Authorization", &format!("Bearer {}", self.admin_token()))
            .call()
            .expect("the metrics answer the admin token")
            .into_body()
            .read_to_string()
            .expect("the metrics text")
    }

    /// The server's directory of people and devices.
    pub fn directory(&self) -> &Arc<Directory> {
        self.running().state.engine.directory()
    }

    /// Registers `person` (if new) and enrolls a device for them with
    /// `role` over `scope`; returns the device id and its token.
    pub fn enroll(&self, person: &str, role: Role, scope: &str) -> (DeviceId, String) {
        let directory = self.directory();
        if directory.person(person).is_none() {
            directory
                .add_person(person, person, None)
                .expect("person registered");
        }
        let (device, token) = directory
            .enroll(EnrollRequest {
                person: person.to_owned(),
                label: String::new(),
                role,
                scope: Scope::parse(scope).expect("scope"),
                write: false,
            })
            .expect("device enrolled");
        (device.id, token.0)
    }

    /// Stops the server gracefully.
    pub fn stop(mut self) {
        if let Some(running) = self.running.take() {
            self.runtime
                .block_on(running.shutdown())
                .expect("graceful shutdown");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

/// Two servers on one PostgreSQL store (a schema of its own on the
/// database `FENGQIAO_TEST_POSTGRES` names, dropped afterwards), each with
/// its own data directory, as two nodes behind a load balancer.
pub struct TestCluster {
    pub a: TestServer,
    pub b: TestServer,
    /// The store's address and schema, for a third server or a process.
    pub store: fengqiao_server::storage::PgConfig,
    // Dropped last: the servers close their connections first.
    _schema: fengqiao_server::storage::postgres::TestSchema,
}

impl TestCluster {
    /// Two servers on a new store; `None` (after [`skip`], which fails
    /// under `FENGQIAO_REQUIRE_ALL=1`) when no database is named.
    pub fn start(what: &str) -> Option<Self> {
        Self::start_with(what, |_| {})
    }

    /// The same, with each server's configuration changed by `tune`.
    pub fn start_with(what: &str, tune: impl Fn(&mut ServeConfig)) -> Option<Self> {
        let Some(schema) = fengqiao_server::storage::postgres::TestSchema::new() else {
            skip(
                what,
                "FENGQIAO_TEST_POSTGRES is not set (a postgres:// address of a database the \
                 tests may create schemas in; .ci/run starts one)",
            );
            return None;
        };
        let node = |name: &str| {
            let dir = tempfile::tempdir().expect("temporary directory");
            let mut config = ServeConfig::new(
                dir.path().join(name),
                "127.0.0.1:0".parse().expect("address"),
            );
            config.store = serve::StoreLocation::Postgres(schema.config.clone());
            tune(&mut config);
            let mut server = TestServer::start_with(config);
            server._dir = Some(dir);
            server
        };
        let a = node("a");
        let b = node("b");
        Some(Self {
            a,
            b,
            store: schema.config.clone(),
            _schema: schema,
        })
    }
}

/// How many servers a [`Deployment`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nodes {
    /// One server on a sled store of its own ([`TestServer`]).
    One,
    /// Two servers on one PostgreSQL store ([`TestCluster`]); needs
    /// `FENGQIAO_TEST_POSTGRES`.
    Two,
}

/// Where a test's phones and automerge-repo peers meet: one server, or
/// two nodes on one PostgreSQL store. Phones sync through node A's batch
/// door ([`Deployment::url`]) and peers connect to node B
/// ([`Deployment::ws_url`]), so on two nodes every case that mixes them
/// proves delivery from one node to the other. On one node A and B are the
/// same server, and every method does what the [`TestServer`] does.
pub struct Deployment {
    a: TestServer,
    /// Node B when it is another server.
    b: Option<TestServer>,
    // Dropped last: the servers close their connections first.
    _schema: Option<fengqiao_server::storage::postgres::TestSchema>,
}

impl Deployment {
    /// A deployment of `nodes` with the usual configuration; `None` (after
    /// [`skip`] naming `what`, which fails under `FENGQIAO_REQUIRE_ALL=1`)
    /// when two nodes are asked for and no database is named.
    pub fn start(nodes: Nodes, what: &str) -> Option<Self> {
        Self::start_with(nodes, what, |_| {})
    }

    /// The same, with every server's configuration changed by `tune`.
    pub fn start_with(nodes: Nodes, what: &str, tune: impl Fn(&mut ServeConfig)) -> Option<Self> {
        match nodes {
            Nodes::One => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let mut config =
                    ServeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("address"));
                tune(&mut config);
                let mut server = TestServer::start_with(config);
                server._dir = Some(dir);
                Some(Self {
                    a: server,
                    b: None,
                    _schema: None,
                })
            }
            Nodes::Two => {
                let what = format!("{what} (two nodes on PostgreSQL)");
                let TestCluster { a, b, _schema, .. } = TestCluster::start_with(&what, tune)?;
                Some(Self {
                    a,
                    b: Some(b),
                    _schema: Some(_schema),
                })
            }
        }
    }

    /// How many servers run.
    pub fn nodes(&self) -> Nodes {
        match self.b {
            None => Nodes::One,
            Some(_) => Nodes::Two,
        }
    }

    /// Node A, the phones' server.
    pub fn a(&self) -> &TestServer {
        &self.a
    }

    /// Node B, the WebSocket peers' server (node A on one node).
    pub fn b(&self) -> &TestServer {
        self.b.as_ref().unwrap_or(&self.a)
    }

    /// Every server, each once: A, then B if it is another one.
    pub fn servers(&self) -> Vec<&TestServer> {
        std::iter::once(&self.a).chain(&self.b).collect()
    }

    /// Node A's address, where phones sync.
    pub fn url(&self) -> String {
        self.a().url()
    }

    /// Node B's WebSocket door with the development token, where peers
    /// connect.
    pub fn ws_url(&self) -> String {
        self.b().ws_url()
    }

    /// Node B's WebSocket door with `token`.
    pub fn ws_url_with(&self, token: &str) -> String {
        format!("ws://{}/v1/ws?token={token}", self.b().addr)
    }

    /// The runtime the peers' futures run on (node B's).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        self.b().runtime()
    }

    /// [`TestServer::post`] to node A.
    pub fn post(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        self.a().post(path, token, headers, body)
    }

    /// The directory of node A: what changes there reaches node B as an
    /// announcement.
    pub fn directory(&self) -> &Arc<Directory> {
        self.a().directory()
    }

    /// The store, shared by every server (read through node A).
    pub fn storage(&self) -> &Arc<dyn fengqiao_server::storage::Storage> {
        self.a().running().state.engine.storage()
    }

    /// [`TestServer::enroll`] on node A; returns once every server takes
    /// the new token (node B hears of it a moment later), or fails the
    /// test after [`ws::WAIT`].
    pub fn enroll(&self, person: &str, role: Role, scope: &str) -> (DeviceId, String) {
        let (device, token) = self.a().enroll(person, role, scope);
        for server in self.servers() {
            eventually("every server knows the enrolled device", || {
                server
                    .directory()
                    .device_by_token(&token)
                    .is_some_and(|known| known.id == device)
            });
        }
        (device, token)
    }

    /// Stops every server gracefully.
    pub fn stop(self) {
        let Self { a, b, _schema } = self;
        a.stop();
        if let Some(b) = b {
            b.stop();
        }
    }
}

/// Retries `attempt` until it holds, for at most [`ws::WAIT`]: what one
/// node writes reaches the other as an announcement, a moment later.
fn eventually(what: &str, mut attempt: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + ws::WAIT;
    while !attempt() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {:?}",
            ws::WAIT
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A phone: a replica in memory and a sync client.
pub struct Phone {
    pub replica: Replica,
    pub client: SyncClient,
    pub cadre: String,
    /// The token it syncs with.
    pub token: String,
}

impl Phone {
    /// A phone syncing with the development token.
    pub fn new(cadre: &str) -> Self {
        Self::with_token(cadre, DeviceId::random(), TOKEN)
    }

    /// A phone of an enrolled device.
    pub fn enrolled(cadre: &str, device: DeviceId, token: &str) -> Self {
        Self::with_token(cadre, device, token)
    }

    fn with_token(cadre: &str, device: DeviceId, token: &str) -> Self {
        Self {
            replica: Replica::in_memory(device).expect("replica"),
            client: SyncClient::default(),
            cadre: cadre.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Syncs once, returning the error instead of failing.
    pub fn try_sync(&mut self, server_url: &str) -> Result<SyncReport, SyncError> {
        let mut transport = HttpTransport::new(server_url, self.token.clone());
        sync_until_done(
            &self.replica,
            &mut self.client,
            &mut transport,
            1000,
            |_| {},
        )
    }

    pub fn author(&self, at: i64) -> Author {
        Author::new(self.cadre.clone(), at)
    }

    /// Syncs with the server until it has nothing more.
    pub fn sync(&mut self, server_url: &str) -> SyncReport {
        self.try_sync(server_url).expect("sync succeeds")
    }

    /// Adds an event of `kind` with `note` to a record it holds, offline.
    pub fn add_event(&self, id: &DocumentId, kind: EventKind, note: &str, at: i64) {
        let author = self.author(at);
        self.replica
            .edit(id, |doc| {
                add_event(
                    doc,
                    &author,
                    &NewEvent::new(kind).with_note(note.to_owned()),
                )
            })
            .expect("a valid edit");
    }

    /// Reports a dispute in `village`.
    pub fn report(&self, village: &str, title: &str, at: i64) -> DocumentId {
        let dispute = sample_dispute(village, title);
        let author = self.author(at);
        self.replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .expect("dispute created")
    }
}

/// A dispute as a cadre would enter it.
pub fn sample_dispute(village: &str, title: &str) -> NewDispute {
    NewDispute {
        village: VillageCode::new(village).expect("village code"),
        title: title.to_owned(),
        description: "两户因宅基地边界发生争执，双方各执一词，需现场勘查后调解。".to_owned(),
        category: Category::Land,
        risk: Risk::Low,
        parties: vec![
            Party::new("张三", PartyRole::Applicant),
            Party::new("李四", PartyRole::Respondent),
        ],
        assignees: vec![],
    }
}

/// The organisation every test server knows: district 500110 with towns
/// 500110101 to 500110105, each with villages 001 to 020.
pub fn test_org() -> Org {
    let mut org = Org::default();
    let mut add = |code: &str, name: &str| org.insert(code, name).expect("valid place");
    add("500110", "綦江区");
    for town in 101..=105 {
        add(&format!("500110{town}"), &format!("第{town}镇"));
        for village in 1..=20 {
            add(
                &format!("500110{town}{village:03}"),
                &format!("第{town}镇{village}村"),
            );
        }
    }
    org
}

/// 2026-09-21T00:00:00Z, a fixed "now" for generated records.
pub const T0: i64 = 1_790_000_000_000;
pub const DAY: i64 = 86_400_000;

/// The six disputes of [`hand_counted_town`], by what happened to them.
pub struct HandCounted {
    /// Village 001, land, high risk: nothing since (open).
    pub open: DocumentId,
    /// Village 001, family, medium: mediation (mediating).
    pub mediating: DocumentId,
    /// Village 002, labor, low: resolved 10 days after.
    pub resolved: DocumentId,
    /// Village 002, neighbor, high: escalated to the town.
    pub escalated: DocumentId,
    /// Village 002, debt, medium: escalated to the town, then resolved 20
    /// days after.
    pub resolved_above: DocumentId,
    /// Village 002, land, low: mediation failed.
    pub failed: DocumentId,
}

/// 2025-03-01 09:00 China Standard Time.
pub const MARCH_1_2025: i64 = 1_740_790_800_000;

/// Six disputes of town 500110101 in spring 2025, synced to `server`, whose
/// figures tests write out by hand (each party list is 张三 and 李四):
///
/// | village | category | risk   | created | then                                   | status    |
/// |---------|----------|--------|---------|----------------------------------------|-----------|
/// | 001     | land     | high   | 03-01   | —                                      | open      |
/// | 001     | family   | medium | 03-02   | mediation 03-03                        | mediating |
/// | 002     | labor    | low    | 03-01   | resolved 03-11 (10 days)               | resolved  |
/// | 002     | neighbor | high   | 04-04   | escalated to the district 04-05        | escalated |
/// | 002     | debt     | medium | 04-05   | to the town 04-06, resolved 04-25 (20 d) | resolved |
/// | 002     | land     | low    | 04-10   | failed 04-12                           | failed    |
pub fn hand_counted_town(server: &TestServer) -> HandCounted {
    use fengqiao_shared::vocab::Level;

    let day = |n: i64| MARCH_1_2025 + n * DAY;
    let mut phone = Phone::new("cadre-hand");
    let new = |village: &str, category: Category, risk: Risk, at: i64| {
        let mut dispute = sample_dispute(&format!("500110101{village}"), "手算的纠纷");
        dispute.category = category;
        dispute.risk = risk;
        let author = phone.author(at);
        phone
            .replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .expect("created")
    };
    let town = HandCounted {
        open: new("001", Category::Land, Risk::High, day(0)),
        mediating: new("001", Category::Family, Risk::Medium, day(1)),
        resolved: new("002", Category::Labor, Risk::Low, day(0)),
        escalated: new("002", Category::Neighbor, Risk::High, day(34)),
        resolved_above: new("002", Category::Debt, Risk::Medium, day(35)),
        failed: new("002", Category::Land, Risk::Low, day(40)),
    };
    let event = |id: &DocumentId, event: NewEvent, at: i64| {
        let author = phone.author(at);
        phone
            .replica
            .edit(id, |doc| add_event(doc, &author, &event))
            .expect("an event");
    };
    event(&town.mediating, NewEvent::new(EventKind::Mediation), day(2));
    event(&town.resolved, NewEvent::new(EventKind::Resolved), day(10));
    event(
        &town.escalated,
        NewEvent::escalated(Level::District),
        day(35),
    );
    event(
        &town.resolved_above,
        NewEvent::escalated(Level::Town),
        day(36),
    );
    event(
        &town.resolved_above,
        NewEvent::new(EventKind::Resolved),
        day(55),
    );
    event(&town.failed, NewEvent::new(EventKind::Failed), day(42));
    phone.sync(&server.url());
    town
}
