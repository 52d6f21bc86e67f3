//! `storm`: many phones syncing at once against a real server process.
//!
//! ```text
//! cargo run --release -p fengqiao-bench --bin storm -- --phones 100,1000,5000 --edits 10
//! ```
//!
//! For each phone count N, a fresh `fengqiao serve` process (the release
//! binary of this workspace, built if needed) gets the test organisation
//! (100 villages) and N enrolled devices: cadres with one village each,
//! spread evenly over the villages, so a village has N/100 phones that see
//! each other's records. Each phone reports a dispute, then makes K edits
//! (a timeline event each), syncing after each: K+1 syncs, each of which
//! must get one change acknowledged. Phones are async tasks on a two-thread
//! runtime; at most `--concurrency` syncs are in flight at once (a phone
//! waiting for a slot is simply offline), so thousands of phones need
//! neither thousands of threads nor thousands of simultaneous sockets.
//!
//! Measured per phone count: changes acknowledged per second over the
//! storm's wall time; the latency of each sync (first byte sent to last
//! answer applied, every round of it; waiting for a slot not included);
//! failed attempts (retried with backoff, up to 8 times) and syncs that
//! failed for good; the server's peak resident memory (`VmHWM`).
//!
//! The baseline, measured in the same run on its own fresh server:
//! `--baseline-phones` phones doing the same work with one sync in flight
//! at a time, so no sync ever waits for another (one phone alone would
//! soon meet the per-device rate limit of 20 requests a second). Every row
//! is also given as a ratio to it.
//! The load generator shares the machine with the server; on a small
//! machine the numbers are the two together.
//!
//! Stores and nodes: `--store` takes `embedded` (the default: sled in the
//! server's data directory) or a PostgreSQL address, `--nodes` the number
//! of `fengqiao serve` processes; both take comma-separated lists, and each
//! combination is measured in turn (the embedded store serves one process,
//! so it runs with one node only):
//!
//! ```text
//! storm --phones 500 --edits 5 --store embedded,postgres://postgres@127.0.0.1/db --nodes 1,2
//! ```
//!
//! On PostgreSQL each storm (and each baseline) gets a fresh schema, dropped
//! afterwards. With N nodes, N processes share that schema and the admin
//! token; the organisation and the devices are set up through node 1, the
//! storm waits until every other node accepts the last device's token
//! (`GET /v1/me`; nodes learn of new devices from the database's
//! announcements), and the phones are spread round robin over the nodes.
//! Also measured: the CPU time of each node process and of the database
//! (every `postgres` process, exited backends included: see
//! `fengqiao_bench::pg`) during the storm, per acknowledged change, and
//! the peak resident memory of each node.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::{ActorId, AutoCommit, ChangeHash as AmHash};
use clap::Parser;
use fengqiao_bench::pg;
use fengqiao_protocol::batch::{ChangeHash, Cursor, DocUpload, SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::{DeviceId, DocumentId, VillageCode};
use fengqiao_shared::access::new_native_actor;
use fengqiao_shared::record::{self, Author, NewDispute, NewEvent, Party};
use fengqiao_shared::vocab::{Category, EventKind, PartyRole, Risk};
use fengqiao_tests::process::{ADMIN_TOKEN, ServerProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Many phones syncing at once against a real `fengqiao serve` process.
#[derive(Parser, Debug)]
#[command(about, long_about)]
struct Args {
    /// Phone counts to measure, comma separated (each on a fresh server).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    phones: Vec<usize>,
    /// Edits per phone after its first report; one sync follows each.
    #[arg(long, default_value_t = 10)]
    edits: usize,
    /// Most syncs in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Response budget each phone asks for, in bytes.
    #[arg(long, default_value_t = 512 * 1024)]
    budget: u64,
    /// Phones of the baseline, which do the same work one sync at a time.
    #[arg(long, default_value_t = 20)]
    baseline_phones: usize,
    /// Where the records are kept, comma separated: `embedded` (sled in
    /// the server's data directory) or a PostgreSQL address
    /// (postgres://user@host:port/db; a fresh schema per storm).
    #[arg(long, value_delimiter = ',', default_value = "embedded")]
    store: Vec<String>,
    /// Server processes sharing the store, comma separated (more than one
    /// needs PostgreSQL).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    nodes: Vec<usize>,
    /// Phones that each report once, as many at a time as the storm's
    /// syncs in flight, before anything is measured: the servers open
    /// their database connections and prepare their statements as a
    /// server that has been running does. Not counted in any figure.
    #[arg(long, default_value_t = 0)]
    warm_up: usize,
}

/// One store and node count to measure.
#[derive(Clone, Debug)]
struct Config {
    /// The PostgreSQL address; `None`: the embedded store.
    postgres: Option<String>,
    nodes: usize,
}

impl Config {
    fn name(&self) -> String {
        let store = if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "embedded (sled)"
        };
        let s = if self.nodes == 1 { "" } else { "s" };
        format!("{store}, {} node{s}", self.nodes)
    }
}

/// Attempts per sync before it counts as failed.
const ATTEMPTS: u32 = 8;

/// Longest one request may take before it counts as a failed attempt.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

const T0: i64 = 1_790_000_000_000;

/// Longer than PostgreSQL's interval for idle sessions' statistics
/// (`PGSTAT_IDLE_INTERVAL`, 10 s).
const STATS_SETTLE: Duration = Duration::from_secs(11);

// ------------------------------------------------------------------ HTTP

/// A minimal HTTP/1.1 client: enough for `POST` with a known body length
/// and answers framed by `Content-Length`, which is all the server sends.
struct Link {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Link {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buffer: Vec::new(),
        }
    }

    async fn post(
        &mut self,
        path: &str,
        token: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<Answer> {
        let result = tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.exchange(path, token, content_type, body),
        )
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
        if result.is_err() {
            self.stream = None;
            self.buffer.clear();
        }
        result
    }

    async fn exchange(
        &mut self,
        path: &str,
        token: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<Answer> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        let head_end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if !fill(stream, &mut self.buffer).await? {
                return Err(broken("the server closed the connection"));
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| broken("no status"))?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| broken("no content-length"))?;
        while self.buffer.len() < head_end + length {
            if !fill(stream, &mut self.buffer).await? {
                return Err(broken("the answer was cut short"));
            }
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        if header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            self.stream = None;
        }
        Ok(Answer { status, body })
    }
}

async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 64 * 1024];
    let n = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

// ----------------------------------------------------------------- phones

/// An enrolled device.
struct Device {
    id: DeviceId,
    token: String,
    village: VillageCode,
}

/// A phone reduced to what a storm needs: its own record and its cursor.
/// Records of other phones are received and counted, not kept, so that
/// thousands of phones fit in the load generator.
struct StormPhone {
    device: Device,
    cadre: String,
    /// The phone's name in titles and messages.
    name: String,
    cursor: Option<Cursor>,
    record: Option<(DocumentId, AutoCommit)>,
    /// Heads the server confirmed for the phone's record.
    server_heads: Vec<AmHash>,
    resend: bool,
    budget: u64,
}

/// What one sync did.
#[derive(Default)]
struct Synced {
    acknowledged: bool,
    rounds: u32,
    received: u64,
    bytes_up: u64,
    bytes_down: u64,
}

impl StormPhone {
    fn new(device: Device, index: usize, budget: u64) -> Self {
        Self {
            // A device writes only in its holder's name: the person
            // `enroll` gave it.
            cadre: format!("cadre-{}", device.village),
            name: format!("storm phone {index}"),
            device,
            cursor: None,
            record: None,
            server_heads: Vec::new(),
            resend: false,
            budget,
        }
    }

    fn actor(&self) -> ActorId {
        let tail = uuid_tail();
        ActorId::from(new_native_actor(self.device.id, tail))
    }

    /// Edit number `n`: the report (0) or a timeline event.
    fn edit(&mut self, n: usize) {
        let author = Author::new(self.cadre.clone(), T0 + n as i64 * 60_000);
        match &mut self.record {
            None => {
                let mut doc = AutoCommit::new().with_actor(self.actor());
                let dispute = NewDispute {
                    village: self.device.village.clone(),
                    title: format!("{} 登记的纠纷", self.name),
                    description: "两户因宅基地边界发生争执，需现场勘查后调解。".into(),
                    category: Category::Land,
                    risk: Risk::Low,
                    parties: vec![
                        Party::new("张三", PartyRole::Applicant),
                        Party::new("李四", PartyRole::Respondent),
                    ],
                    assignees: vec![self.cadre.clone()],
                };
                record::create_dispute(&mut doc, &author, &dispute).expect("a valid dispute");
                self.record = Some((DocumentId::random(), doc));
            }
            Some((_, doc)) => {
                let event = NewEvent::new(EventKind::Note).with_note(format!("第{n}次走访"));
                record::add_event(doc, &author, &event).expect("a valid event");
            }
        }
    }

    fn request(&mut self) -> SyncRequest {
        let mut request = SyncRequest::new(self.cursor.clone());
        request.budget = Some(self.budget);
        if let Some((id, doc)) = &mut self.record {
            let heads = doc.get_heads();
            if heads != self.server_heads {
                let changes = if self.resend || self.server_heads.is_empty() {
                    doc.save()
                } else {
                    doc.save_after(&self.server_heads)
                };
                request.docs.push(DocUpload {
                    id: id.clone(),
                    heads: heads.iter().map(|h| ChangeHash(h.0)).collect(),
                    changes,
                });
            }
        }
        request
    }

    /// Applies a response; returns whether another round is needed.
    fn apply(&mut self, response: SyncResponse, synced: &mut Synced) -> bool {
        let mut more = response.more;
        for result in response.docs {
            match &mut self.record {
                Some((id, doc)) if *id == result.id => {
                    assert!(result.error.is_none(), "refused: {:?}", result.error);
                    if !result.data.is_empty() {
                        doc.load_incremental(&result.data)
                            .expect("the server sends valid changes");
                    }
                    if !result.heads.is_empty() {
                        self.server_heads = result.heads.iter().map(|h| AmHash(h.0)).collect();
                        self.server_heads.sort();
                    }
                    self.resend = result.resend;
                    more |= result.resend;
                    let mut ours = doc.get_heads();
                    ours.sort();
                    synced.acknowledged |= ours == self.server_heads;
                }
                _ => synced.received += 1,
            }
        }
        self.cursor = Some(response.cursor);
        more
    }
}

fn uuid_tail() -> [u8; 4] {
    let mut tail = [0u8; 4];
    tail.copy_from_slice(&DocumentId::random().as_bytes()[..4]);
    tail
}

/// Everything the phones of one storm measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    acknowledged: u64,
    failed_attempts: u64,
    /// Failed attempts by what went wrong (the error, numbers left out).
    failure_causes: std::collections::BTreeMap<String, u64>,
    failed_syncs: u64,
    rounds: u64,
    received: u64,
    bytes_up: u64,
    bytes_down: u64,
}

async fn sync_once(phone: &mut StormPhone, link: &mut Link) -> Result<Synced, String> {
    let mut synced = Synced::default();
    let limits = DecodeLimits {
        max_bytes: 256 << 20,
        ..DecodeLimits::DEFAULT
    };
    loop {
        let body = phone.request().encode();
        synced.bytes_up += body.len() as u64;
        let answer = link
            .post("/v1/sync", &phone.device.token, "application/cbor", &body)
            .await
            .map_err(|e| e.to_string())?;
        synced.bytes_down += answer.body.len() as u64;
        if answer.status != 200 {
            return Err(format!("HTTP {}", answer.status));
        }
        let response = SyncResponse::decode(&answer.body, &limits).map_err(|e| e.to_string())?;
        synced.rounds += 1;
        if !phone.apply(response, &mut synced) {
            return Ok(synced);
        }
        if synced.rounds > 1000 {
            return Err("sync did not finish".into());
        }
    }
}

/// What an attempt's error says, without the numbers that differ from one
/// attempt to the next (ports, byte counts), so that alike failures count
/// together.
fn cause_of(error: &str) -> String {
    // Runs of four digits or more (ports, sizes) become `#`; statuses and
    // error numbers stay.
    let mut cause = String::with_capacity(error.len());
    let mut digits = String::new();
    for c in error.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.len() >= 4 {
            cause.push('#');
        } else {
            cause.push_str(&digits);
        }
        digits.clear();
        cause.push(c);
    }
    cause.pop();
    cause
}

async fn run_phone(
    mut phone: StormPhone,
    edits: usize,
    addr: SocketAddr,
    slots: Arc<Semaphore>,
    tally: Arc<Mutex<Tally>>,
) {
    for n in 0..=edits {
        phone.edit(n);
        let _slot = slots.acquire().await.expect("the semaphore stays open");
        let mut link = Link::new(addr);
        let started = Instant::now();
        let mut failures = 0;
        let mut causes = Vec::new();
        let outcome = loop {
            match sync_once(&mut phone, &mut link).await {
                Ok(synced) => break Some(synced),
                Err(e) if failures + 1 < ATTEMPTS => {
                    causes.push(cause_of(&e));
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(20 << failures)).await;
                }
                Err(e) => {
                    eprintln!("{}: sync failed for good: {e}", phone.name);
                    break None;
                }
            }
        };
        let elapsed = started.elapsed();
        let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
        tally.failed_attempts += u64::from(failures);
        for cause in causes {
            *tally.failure_causes.entry(cause).or_default() += 1;
        }
        match outcome {
            Some(synced) => {
                tally.latencies.push(elapsed);
                tally.acknowledged += u64::from(synced.acknowledged);
                tally.rounds += u64::from(synced.rounds);
                tally.received += synced.received;
                tally.bytes_up += synced.bytes_up;
                tally.bytes_down += synced.bytes_down;
            }
            None => tally.failed_syncs += 1,
        }
    }
}

// ----------------------------------------------------------------- setup

/// The villages of the test organisation.
fn villages() -> Vec<VillageCode> {
    (101..=105)
        .flat_map(|town| (1..=20).map(move |v| format!("500110{town}{v:03}")))
        .map(|code| VillageCode::new(&code).expect("a village code"))
        .collect()
}

async fn admin_post(link: &mut Link, path: &str, json: serde_json::Value) -> serde_json::Value {
    let body = serde_json::to_vec(&json).expect("JSON encodes");
    let answer = link
        .post(path, ADMIN_TOKEN, "application/json", &body)
        .await
        .expect("the admin API answers");
    assert_eq!(
        answer.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    serde_json::from_slice(&answer.body).expect("a JSON answer")
}

/// Registers a cadre per village and enrolls `phones` devices, round robin
/// over the villages.
async fn enroll(addr: SocketAddr, phones: usize) -> Vec<Device> {
    let villages = villages();
    let mut link = Link::new(addr);
    for village in &villages {
        admin_post(
            &mut link,
            "/v1/admin/people",
            serde_json::json!({"id": format!("cadre-{village}"), "name": format!("{village}网格员")}),
        )
        .await;
    }
    let mut devices = Vec::with_capacity(phones);
    for n in 0..phones {
        let village = villages[n % villages.len()].clone();
        let answer = admin_post(
            &mut link,
            "/v1/admin/devices",
            serde_json::json!({
                "person": format!("cadre-{village}"),
                "label": format!("storm phone {n}"),
                "role": "cadre",
                "scope": village.as_str(),
            }),
        )
        .await;
        let id = answer["device"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("a device id");
        let token = answer["token"].as_str().expect("a token").to_owned();
        devices.push(Device { id, token, village });
    }
    devices
}

// ---------------------------------------------------------------- a storm

struct Storm {
    phones: usize,
    concurrency: usize,
    syncs: usize,
    wall: Duration,
    tally: Tally,
    /// Peak resident memory of each node.
    peak_rss_kib: Vec<Option<u64>>,
    /// CPU seconds of each node during the storm.
    node_cpu: Vec<f64>,
    /// CPU seconds of the database during the storm (PostgreSQL only).
    db_cpu: Option<f64>,
    /// The database's CPU seconds per second just before the storm, idle
    /// (PostgreSQL only).
    db_idle_rate: Option<f64>,
    /// Transactions and WAL flushes during the storm (PostgreSQL only).
    db_counters: Option<pg::Counters>,
    /// How long after enrolling each node other than the first accepted
    /// the last device.
    known_after: Vec<Duration>,
    setup: Duration,
}

impl Storm {
    fn changes_per_second(&self) -> f64 {
        self.tally.acknowledged as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.tally.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }

    /// CPU milliseconds per acknowledged change.
    fn per_change_ms(&self, seconds: f64) -> f64 {
        if self.tally.acknowledged == 0 {
            return f64::NAN;
        }
        seconds * 1000.0 / self.tally.acknowledged as f64
    }

    fn nodes_cpu(&self) -> f64 {
        self.node_cpu.iter().sum()
    }
}

/// Starts the nodes of `config` on a fresh store, each in its own data
/// directory under `dir`.
fn start_nodes(
    config: &Config,
    dir: &std::path::Path,
) -> Result<(Vec<ServerProcess>, Option<pg::Schema>), String> {
    let schema = match &config.postgres {
        Some(url) => Some(pg::Schema::fresh(url, "storm")?),
        None => None,
    };
    let extra: Vec<&str> = match &schema {
        Some(schema) => vec!["--store", schema.url(), "--store-schema", schema.name()],
        None => Vec::new(),
    };
    let mut nodes = Vec::with_capacity(config.nodes);
    for n in 1..=config.nodes {
        let node = ServerProcess::try_start(&dir.join(format!("node{n}")), &extra)
            .map_err(|log| format!("node {n} did not start; its log:\n{log}"))?;
        nodes.push(node);
    }
    Ok((nodes, schema))
}

/// Waits until `node` accepts `token`: it knows the device.
fn wait_known(node: &ServerProcess, token: &str, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    loop {
        let status = agent
            .get(&format!("{}/v1/me", node.url()))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == 200 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(format!(
                "node at {} still answers {status} to an enrolled device's token after {limit:?}",
                node.url()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Phones syncing at once, spread over the nodes in turn.
struct Phase<'a> {
    /// The index of the first phone (phones are named by index).
    first: usize,
    edits: usize,
    budget: u64,
    addrs: &'a [SocketAddr],
    slots: &'a Arc<Semaphore>,
    tally: &'a Arc<Mutex<Tally>>,
}

impl Phase<'_> {
    /// Runs a phone per device until every one has finished.
    async fn run(&self, devices: Vec<Device>) {
        let tasks: Vec<_> = devices
            .into_iter()
            .enumerate()
            .map(|(index, device)| {
                let phone = StormPhone::new(device, self.first + index, self.budget);
                tokio::spawn(run_phone(
                    phone,
                    self.edits,
                    self.addrs[index % self.addrs.len()],
                    self.slots.clone(),
                    self.tally.clone(),
                ))
            })
            .collect();
        for task in tasks {
            task.await.expect("a phone task");
        }
    }
}

fn storm(phones: usize, concurrency: usize, args: &Args, config: &Config) -> Storm {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (nodes, schema) = start_nodes(config, dir.path()).unwrap_or_else(|e| {
        eprintln!("storm: {}: {e}", config.name());
        std::process::exit(1);
    });
    nodes[0].import_test_org();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let setup_started = Instant::now();
    // The storm's own phones, and the warm-up's (not with the baseline).
    let warm_up = if concurrency > 1 { args.warm_up } else { 0 };
    let mut devices = runtime.block_on(enroll(nodes[0].addr, phones + warm_up));
    let warming: Vec<Device> = devices.split_off(phones);
    let mut known_after = Vec::new();
    if let Some(last) = devices.last() {
        for node in &nodes[1..] {
            match wait_known(node, &last.token, Duration::from_secs(30)) {
                Ok(after) => known_after.push(after),
                Err(e) => {
                    eprintln!("storm: {}: {e}", config.name());
                    std::process::exit(1);
                }
            }
        }
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    if !warming.is_empty() {
        // Counted apart, and dropped.
        let tally = Arc::new(Mutex::new(Tally::default()));
        let phase = Phase {
            first: phones,
            edits: 0,
            budget: args.budget,
            addrs: &addrs,
            slots: &slots,
            tally: &tally,
        };
        runtime.block_on(phase.run(warming));
    }
    let setup = setup_started.elapsed();
    // On PostgreSQL, wait until the sessions of the set-up have reported
    // their statistics (an idle session does after 10 s), so that the
    // storm's transaction and WAL counts are its own; meanwhile, measure
    // what the database spends idle.
    let db_idle_rate = schema
        .as_ref()
        .and_then(|_| pg::postgres_idle_rate(STATS_SETTLE));

    let tally = Arc::new(Mutex::new(Tally::default()));
    let cpu = |node: &ServerProcess| pg::process_cpu_seconds(node.pid()).unwrap_or(f64::NAN);
    let db_cpu = || schema.as_ref().and_then(|_| pg::postgres_cpu_seconds());
    let counters = || {
        schema
            .as_ref()
            .and_then(|schema| pg::Counters::read(schema).ok())
    };
    let counters_before = counters();
    let cpu_before: Vec<f64> = nodes.iter().map(cpu).collect();
    let db_before = db_cpu();
    let started = Instant::now();
    let phase = Phase {
        first: 0,
        edits: args.edits,
        budget: args.budget,
        addrs: &addrs,
        slots: &slots,
        tally: &tally,
    };
    runtime.block_on(phase.run(devices));
    let wall = started.elapsed();
    let node_cpu: Vec<f64> = nodes
        .iter()
        .zip(&cpu_before)
        .map(|(node, before)| cpu(node) - before)
        .collect();
    let db_cpu = match (db_before, db_cpu()) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let peak_rss_kib = nodes.iter().map(ServerProcess::peak_rss_kib).collect();
    for node in nodes {
        node.kill();
    }
    // The nodes' database sessions report their statistics as they end.
    let db_counters = counters_before.and_then(|before| {
        std::thread::sleep(Duration::from_millis(500));
        Some(counters()?.since(&before))
    });
    // After the nodes: they hold connections to it.
    drop(schema);
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner()));
    Storm {
        phones,
        syncs: phones * (args.edits + 1),
        concurrency,
        wall,
        tally,
        peak_rss_kib,
        node_cpu,
        db_cpu,
        db_idle_rate,
        db_counters,
        known_after,
        setup,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

/// Peak memory of each node, ` / `-separated.
fn mibs(kibs: &[Option<u64>]) -> String {
    kibs.iter().map(|k| mib(*k)).collect::<Vec<_>>().join(" / ")
}

fn fixed(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "n/a".into()
    }
}

/// The CPU row of a storm: each node's CPU seconds and milliseconds per
/// acknowledged change, the database's, and how many node cores one
/// database core keeps up with.
fn cpu_row(s: &Storm, label: &str) -> String {
    let nodes = s
        .node_cpu
        .iter()
        .map(|c| fixed(*c, 2))
        .collect::<Vec<_>>()
        .join(" / ");
    let per_node = s
        .node_cpu
        .iter()
        .map(|c| fixed(s.per_change_ms(*c), 3))
        .collect::<Vec<_>>()
        .join(" / ");
    let (db, db_ms, idle, cores) = match s.db_cpu {
        Some(db) => (
            fixed(db, 2),
            fixed(s.per_change_ms(db), 3),
            s.db_idle_rate
                .map_or("n/a".into(), |r| format!("{:.2}", r * s.wall.as_secs_f64())),
            fixed(s.nodes_cpu() / db, 2),
        ),
        None => ("–".into(), "–".into(), "–".into(), "–".into()),
    };
    let per_change = |n: i64| {
        if s.tally.acknowledged == 0 {
            "n/a".to_owned()
        } else {
            format!("{:.2}", n as f64 / s.tally.acknowledged as f64)
        }
    };
    let (commits, flushes, lookups) = match s.db_counters {
        Some(c) => (
            per_change(c.commits),
            per_change(c.wal_syncs),
            per_change(c.index_scans),
        ),
        None => ("–".into(), "–".into(), "–".into()),
    };
    format!(
        "| {label} | {:.2} s | {} | {nodes} | {per_node} | {} | {db} | {db_ms} | {idle} | {cores} | {commits} | {flushes} | {lookups} |",
        s.wall.as_secs_f64(),
        s.tally.acknowledged,
        fixed(s.per_change_ms(s.nodes_cpu()), 3),
    )
}

fn row(s: &Storm, base: &Storm) -> String {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    format!(
        "| {} | {} | {} | {:.0} | {} | {} | {} / {} | {} | {:.2}× | {:.2}× | {:.2}× |",
        s.phones,
        s.concurrency,
        s.syncs,
        s.changes_per_second(),
        ms(s.percentile(0.5)),
        ms(s.percentile(0.99)),
        s.tally.failed_attempts,
        s.tally.failed_syncs,
        mibs(&s.peak_rss_kib),
        ratio(s.changes_per_second(), base.changes_per_second()),
        ratio(
            s.percentile(0.5).as_secs_f64(),
            base.percentile(0.5).as_secs_f64()
        ),
        ratio(
            s.percentile(0.99).as_secs_f64(),
            base.percentile(0.99).as_secs_f64()
        ),
    )
}

fn main() {
    let args = Args::parse();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut configs = Vec::new();
    let mut notes = Vec::new();
    for store in &args.store {
        let postgres = match store.as_str() {
            "embedded" | "sled" => None,
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Some(url.to_owned())
            }
            other => {
                eprintln!("storm: --store {other:?}: use `embedded` or a postgres:// address");
                std::process::exit(2);
            }
        };
        for &nodes in &args.nodes {
            if nodes == 0 {
                eprintln!("storm: --nodes must be at least 1");
                std::process::exit(2);
            }
            if postgres.is_none() && nodes > 1 {
                notes.push(format!(
                    "Not run: the embedded store with {nodes} nodes (it serves one process)."
                ));
                continue;
            }
            configs.push(Config {
                postgres: postgres.clone(),
                nodes,
            });
        }
    }
    let load_before = load_average();
    eprintln!(
        "storm: {} edits per phone, at most {} syncs in flight; {cores} cores, load {load_before}",
        args.edits, args.concurrency
    );
    for note in &notes {
        eprintln!("{note}");
    }

    let mut results: Vec<(Config, Storm, Vec<Storm>)> = Vec::new();
    for config in &configs {
        let name = config.name();
        let base = storm(args.baseline_phones.max(1), 1, &args, config);
        eprintln!(
            "{name}: baseline, {} phones one sync at a time: {:.0} changes/s, p50 {}, p99 {}",
            base.phones,
            base.changes_per_second(),
            ms(base.percentile(0.5)),
            ms(base.percentile(0.99))
        );
        let mut storms = Vec::new();
        for &phones in &args.phones {
            let s = storm(phones, args.concurrency, &args, config);
            eprintln!(
                "{name}: {phones} phones: {:.0} changes/s, p50 {}, p99 {}, {} failed attempts, \
                 {} failed syncs, {} rounds, {} records received, {:.1} MB up, {:.1} MB down, \
                 peak RSS {}, node CPU {:.2} s, database CPU {} s (enrolling took {:?}, \
                 other nodes knew the devices after {:?}, the storm {:?})",
                s.changes_per_second(),
                ms(s.percentile(0.5)),
                ms(s.percentile(0.99)),
                s.tally.failed_attempts,
                s.tally.failed_syncs,
                s.tally.rounds,
                s.tally.received,
                s.tally.bytes_up as f64 / 1e6,
                s.tally.bytes_down as f64 / 1e6,
                mibs(&s.peak_rss_kib),
                s.nodes_cpu(),
                s.db_cpu.map_or("n/a".into(), |c| format!("{c:.2}")),
                s.setup,
                s.known_after,
                s.wall,
            );
            storms.push(s);
        }
        results.push((config.clone(), base, storms));
    }

    for note in &notes {
        println!("{note}\n");
    }
    for (config, base, storms) in &results {
        println!("#### {}\n", config.name());
        println!(
            "| phones | in flight ≤ | syncs | changes/s | p50 sync | p99 sync | \
             failed attempts / syncs | peak RSS per node | changes/s vs baseline | \
             p50 vs baseline | p99 vs baseline |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        println!("{}", row(base, base));
        for s in storms {
            println!("{}", row(s, base));
        }
        println!();
        println!(
            "| phones | storm wall | changes acknowledged | node CPU (s, each) | \
             node CPU ms per change (each) | node CPU ms per change (all) | \
             database CPU (s) | database CPU ms per change | database idle CPU \
             over the same wall time (s, estimate) | node cores per database core | \
             database transactions per change | WAL flushes per change | \
             index scans per change |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        println!("{}", cpu_row(base, &format!("{} (baseline)", base.phones)));
        for s in storms {
            println!("{}", cpu_row(s, &s.phones.to_string()));
        }
        println!();
        for s in std::iter::once(base).chain(storms) {
            if s.tally.failure_causes.is_empty() {
                continue;
            }
            let causes: Vec<String> = s
                .tally
                .failure_causes
                .iter()
                .map(|(cause, n)| format!("{n} × {cause}"))
                .collect();
            println!(
                "Failed attempts with {} phones, by cause: {}.\n",
                s.phones,
                causes.join("; ")
            );
        }
    }
    if results.len() > 1 {
        let (first_config, _, first) = &results[0];
        println!("#### Against {} (same phone count)\n", first_config.name());
        println!(
            "| phones | configuration | changes/s | vs first | p50 sync | p99 sync | \
             node CPU ms per change (all) | vs first | database CPU ms per change | \
             nodes + database CPU ms per change | vs first |"
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        for (config, _, storms) in &results {
            for (s, f) in storms.iter().zip(first) {
                let nodes_ms = s.per_change_ms(s.nodes_cpu());
                let db_ms = s.db_cpu.map_or(f64::NAN, |c| s.per_change_ms(c));
                let total_ms = nodes_ms + if db_ms.is_finite() { db_ms } else { 0.0 };
                let first_total =
                    f.per_change_ms(f.nodes_cpu()) + f.db_cpu.map_or(0.0, |c| f.per_change_ms(c));
                println!(
                    "| {} | {} | {:.0} | {:.2}× | {} | {} | {} | {:.2}× | {} | {} | {:.2}× |",
                    s.phones,
                    config.name(),
                    s.changes_per_second(),
                    ratio(s.changes_per_second(), f.changes_per_second()),
                    ms(s.percentile(0.5)),
                    ms(s.percentile(0.99)),
                    fixed(nodes_ms, 3),
                    ratio(nodes_ms, f.per_change_ms(f.nodes_cpu())),
                    fixed(db_ms, 3),
                    fixed(total_ms, 3),
                    ratio(total_ms, first_total),
                );
            }
        }
        println!();
    }
    println!(
        "{cores} cores; load average before {load_before}, after {}; {} edits per phone; \
         at most {} syncs in flight. Database CPU: every `postgres` process on the \
         machine (exited backends through the postmaster's cutime + cstime), after the \
         storm minus before; it includes other users of the cluster: the database's \
         idle rate, measured over the 11 s before each storm (while the set-up's \
         sessions report their statistics), is given as an estimate over the storm's \
         wall time. Transactions \
         (`pg_stat_database.xact_commit`, read-only ones included) and WAL flushes \
         (`pg_stat_wal.wal_sync`, cluster-wide, the WAL writer's background flushes \
         included) and index scans on the store's tables (`pg_stat_user_tables.idx_scan`: \
         one per key lookup or range read) are counted from then to after the storm's \
         nodes have exited.",
        load_average(),
        args.edits,
        args.concurrency
    );
    let all: Vec<&Storm> = results.iter().flat_map(|(_, _, s)| s).collect();
    let failed: u64 = all.iter().map(|s| s.tally.failed_syncs).sum();
    if failed > 0 {
        eprintln!("{failed} syncs failed for good");
        std::process::exit(1);
    }
    let unacknowledged: Vec<_> = all
        .iter()
        .filter(|s| s.tally.acknowledged as usize != s.syncs)
        .map(|s| (s.phones, s.syncs - s.tally.acknowledged as usize))
        .collect();
    if !unacknowledged.is_empty() {
        eprintln!("syncs that ended without their change acknowledged: {unacknowledged:?}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::cause_of;

    #[test]
    fn alike_failures_count_together() {
        assert_eq!(
            cause_of("Connection reset by peer (os error 104)"),
            "Connection reset by peer (os error 104)"
        );
        assert_eq!(cause_of("HTTP 503"), "HTTP 503");
        assert_eq!(
            cause_of("cannot connect to 127.0.0.1:41234: refused after 20000 bytes"),
            cause_of("cannot connect to 127.0.0.1:39871: refused after 1234 bytes")
        );
    }
}
