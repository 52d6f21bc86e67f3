//! samod, the Rust implementation of automerge-repo, as a client of the
//! WebSocket door: it dials `/v1/ws` with a token, finds a record a phone
//! made, adds to it, and creates one of its own; the phone receives both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::{AutoCommit, Automerge};
use fengqiao_protocol::DocumentId;
use fengqiao_shared::record::{self, Author, NewEvent, Record};
use fengqiao_shared::vocab::EventKind;
use fengqiao_tests::{Phone, T0, TestServer, sample_dispute};
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use samod::{BackoffConfig, DialError, Dialer, Repo, Transport};
use tokio_tungstenite::tungstenite::{self, Message};

const VILLAGE: &str = "500110101001";
const WAIT: Duration = Duration::from_secs(20);

/// Dials the server's WebSocket door with tokio-tungstenite, carrying
/// automerge-repo's binary messages both ways.
struct WsDialer {
    url: samod::Url,
}

impl Dialer for WsDialer {
    type Error = std::convert::Infallible;

    fn url(&self) -> samod::Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        let url = self.url.to_string();
        Box::pin(async move {
            let (socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .map_err(DialError::transient)?;
            let (sink, stream) = socket.split();
            let stream = stream
                .try_filter_map(|message| async move {
                    Ok(match message {
                        Message::Binary(bytes) => Some(bytes.to_vec()),
                        _ => None,
                    })
                })
                .boxed();
            let sink = Box::pin(sink.with(|bytes: Vec<u8>| async move {
                Ok::<_, tungstenite::Error>(Message::Binary(bytes.into()))
            }));
            Ok(Transport::new(stream, sink))
        })
    }
}

fn samod_id(id: &DocumentId) -> samod::DocumentId {
    id.to_string().parse().expect("the same document id")
}

/// A record's dispute, read from a samod document.
fn dispute_of(doc: &Automerge) -> record::Dispute {
    let doc = AutoCommit::load(&doc.save()).expect("a document");
    match Record::read(&doc).expect("a record") {
        Record::Dispute(d) => d,
        other => panic!("expected a dispute, got {other:?}"),
    }
}

/// Syncs the phone until `done` holds of it, a bounded number of times.
fn sync_until(phone: &mut Phone, server: &TestServer, what: &str, done: impl Fn(&Phone) -> bool) {
    let started = Instant::now();
    loop {
        phone.sync(&server.url());
        if done(phone) {
            return;
        }
        assert!(started.elapsed() < WAIT, "the phone never got {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_samod_client_syncs_records_both_ways() {
    let server = TestServer::start();
    let mut phone = Phone::new("cadre-phone");
    let from_phone = phone.report(VILLAGE, "手机登记的纠纷", T0);
    phone.sync(&server.url());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let url = samod::Url::parse(&server.ws_url()).expect("a URL");
    let from_samod = runtime.block_on(async {
        let repo = Repo::build_tokio().load().await;
        let dialer = repo
            .dial(BackoffConfig::default(), Arc::new(WsDialer { url }))
            .expect("dials");
        tokio::time::timeout(WAIT, dialer.established())
            .await
            .expect("connects in time")
            .expect("the handshake succeeds");

        // The phone's record, found and added to.
        let handle = tokio::time::timeout(WAIT, repo.find(samod_id(&from_phone)))
            .await
            .expect("found in time")
            .expect("the repo runs")
            .expect("the server has the record");
        let title = handle.with_document(|doc| dispute_of(doc).title);
        assert_eq!(title, "手机登记的纠纷");
        handle.with_document(|doc| {
            let mut edit = AutoCommit::load(&doc.save()).expect("a document");
            let before = edit.get_heads();
            record::add_event(
                &mut edit,
                &Author::new("samod-client", T0 + 60_000),
                &NewEvent::new(EventKind::Mediation).with_note("samod 记下的调解".to_owned()),
            )
            .expect("a valid edit");
            let changes = edit.get_changes(&before);
            doc.apply_changes(changes).expect("applies");
        });

        // A record of its own.
        let mut new = AutoCommit::new();
        record::create_dispute(
            &mut new,
            &Author::new("samod-client", T0 + 120_000),
            &sample_dispute(VILLAGE, "samod 登记的纠纷"),
        )
        .expect("dispute created");
        let created = repo
            .create(Automerge::load(&new.save()).expect("a document"))
            .await
            .expect("the repo runs");
        let id: DocumentId = created
            .document_id()
            .to_string()
            .parse()
            .expect("an id the server knows");
        (repo, id)
    });
    let (repo, from_samod) = from_samod;

    // The server pushes both to the phone's next syncs.
    sync_until(&mut phone, &server, "samod's event", |phone| {
        let Ok(Record::Dispute(d)) = phone.replica.record(&from_phone) else {
            return false;
        };
        d.events
            .iter()
            .any(|e| e.note.as_deref() == Some("samod 记下的调解"))
    });
    sync_until(&mut phone, &server, "samod's record", |phone| {
        matches!(phone.replica.record(&from_samod),
            Ok(Record::Dispute(d)) if d.title == "samod 登记的纠纷")
    });
    runtime.block_on(repo.stop());
}
