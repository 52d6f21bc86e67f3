//! The automerge-repo WebSocket door (`GET /v1/ws`) end to end: a Rust
//! client speaking protocol "1" over a real socket, side by side with
//! batch-syncing phones, on the deployment the including test binary names
//! (`super::NODES`). Peers connect to node B and phones sync through node
//! A; where a case has a second peer that writes, it connects to node A.
//! On two nodes every change that passes from one to the other crosses
//! nodes, and so do the directory's changes, made on node A.

use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fengqiao_protocol::repo::{Peer, PeerMetadata};
use fengqiao_protocol::{DocumentId, PeerId, RepoMessage};
use fengqiao_server::ws::socket::PING_INTERVAL;
use fengqiao_server::ws_client::{
    Connection, Frame, Received, Traffic, join_message, request_message,
};
use fengqiao_shared::access::Role;
use fengqiao_shared::record::{self, Author, NewEvent, Record};
use fengqiao_shared::vocab::{EventKind, Risk};
use fengqiao_tests::ws::{VILLAGE, WAIT, WsClient, dispute, new_dispute};
use fengqiao_tests::{Deployment, Nodes, Phone, T0};

/// The deployment of the including binary; `None` when it cannot run here
/// (said loudly by [`fengqiao_tests::skip`]).
fn deploy(what: &str) -> Option<Deployment> {
    Deployment::start(super::NODES, what)
}

#[test]
fn handshake_and_request_for_an_unknown_document() {
    let Some(d) = deploy("handshake_and_request_for_an_unknown_document") else {
        return;
    };
    d.runtime().block_on(async {
        let mut client = WsClient::connect(&d.ws_url(), "peer-rust-a").await;
        client.join(&["1"]).await;
        let Received::Message(RepoMessage::Peer(Peer {
            sender_id,
            peer_metadata,
            selected_protocol_version,
            target_id,
        })) = client.recv().await
        else {
            panic!("expected peer");
        };
        assert_eq!(target_id.as_str(), "peer-rust-a");
        assert_eq!(selected_protocol_version, "1");
        assert!(sender_id.as_str().starts_with("fengqiao-"));
        let metadata = peer_metadata.expect("peer metadata");
        let storage_id = metadata.storage_id.expect("a storage id");
        // Every node names the one store it serves.
        for server in d.servers() {
            assert_eq!(storage_id.as_str(), server.running().state.storage_id);
        }
        assert_eq!(metadata.is_ephemeral, Some(false));
        client.server = Some(sender_id.clone());

        let unknown = DocumentId::random();
        client.request(&unknown, &mut sync::State::new()).await;
        match client.recv().await {
            Received::Message(RepoMessage::DocUnavailable(u)) => {
                assert_eq!(u.sender_id, sender_id);
                assert_eq!(u.target_id.as_str(), "peer-rust-a");
                assert_eq!(u.document_id, unknown);
            }
            other => panic!("expected doc-unavailable, got {other:?}"),
        }
    });
}

/// The connection counts what the comparison benchmark reports: per
/// binary frame, the encoded message's bytes, both ways, carried over when
/// it is split into its two halves.
#[test]
fn the_connection_counts_every_frame_both_ways() {
    let Some(d) = deploy("the_connection_counts_every_frame_both_ways") else {
        return;
    };
    d.runtime().block_on(async {
        let mut connection = Connection::connect(d.ws_url(), Some(WAIT))
            .await
            .expect("connects");
        let me = PeerId::new("peer-counted").unwrap();
        let join = join_message(me.clone(), Some(PeerMetadata::default()));
        let join_bytes = RepoMessage::Join(join.clone()).encode().len() as u64;
        let peer = connection.join(join, Some(WAIT)).await.expect("peer");
        let peer_bytes = RepoMessage::Peer(peer.clone()).encode().len() as u64;
        assert_eq!(
            connection.traffic(),
            Traffic {
                bytes_up: join_bytes,
                bytes_down: peer_bytes,
                messages_up: 1,
                messages_down: 1,
            }
        );

        let (mut sender, mut receiver) = connection.into_split();
        let empty = AutoCommit::new()
            .sync()
            .generate_sync_message(&mut sync::State::new())
            .expect("an empty document asks");
        let request = request_message(&me, &peer.sender_id, &DocumentId::random(), empty);
        sender.send(&request).await.expect("sent");
        let answer = match receiver.recv_within(WAIT).await {
            Ok(Some(Received::Message(m @ RepoMessage::DocUnavailable(_)))) => m,
            other => panic!("expected doc-unavailable, got {other:?}"),
        };
        // Pings, pongs and the close are not counted.
        sender.close().await;
        assert_eq!(
            sender.traffic(),
            Traffic {
                bytes_up: join_bytes + request.encode().len() as u64,
                messages_up: 2,
                ..Traffic::default()
            }
        );
        assert_eq!(
            receiver.traffic(),
            Traffic {
                bytes_down: peer_bytes + answer.encode().len() as u64,
                messages_down: 2,
                ..Traffic::default()
            }
        );
    });
}

#[test]
fn documents_flow_between_websocket_peers_and_batch_phones_live() {
    let Some(d) = deploy("documents_flow_between_websocket_peers_and_batch_phones_live") else {
        return;
    };
    let rt = d.runtime();
    let id = DocumentId::random();

    // A creates the dispute over the WebSocket, on node B.
    let mut a_doc = new_dispute("宅基地边界纠纷");
    let mut a_state = sync::State::new();
    let mut a = rt.block_on(WsClient::joined(&d.ws_url(), "peer-rust-a"));
    rt.block_on(a.sync_doc(&id, &mut a_doc, &mut a_state));

    // B, on node A, asks for it by id and receives it.
    let mut b = rt.block_on(WsClient::joined(&d.a().ws_url(), "peer-rust-b"));
    let mut b_doc = AutoCommit::new();
    let mut b_state = sync::State::new();
    rt.block_on(async {
        b.request(&id, &mut b_state).await;
        match b.recv().await {
            Received::Message(RepoMessage::Sync(reply)) => {
                let reply = sync::Message::decode(&reply.data).unwrap();
                b_doc
                    .sync()
                    .receive_sync_message(&mut b_state, reply)
                    .unwrap();
            }
            other => panic!("expected the document, got {other:?}"),
        }
        b.sync_doc(&id, &mut b_doc, &mut b_state).await;
    });
    assert_eq!(b_doc.get_heads(), a_doc.get_heads());
    assert_eq!(dispute(&b_doc).title, "宅基地边界纠纷");

    // A phone syncing through the batch door (node A) sees it.
    let mut phone = Phone::new("cadre-phone");
    phone.sync(&d.url());
    let on_phone = phone.replica.record(&id).expect("the phone has the record");
    assert_eq!(
        on_phone.as_dispute().expect("a dispute").title,
        "宅基地边界纠纷"
    );

    // The phone edits offline and syncs; A, which has it open on node B,
    // receives the change without asking again.
    let author = phone.author(T0 + 60_000);
    phone
        .replica
        .edit(&id, |doc| {
            record::set_risk(doc, &author, Risk::High)?;
            record::add_event(doc, &author, &NewEvent::new(EventKind::Mediation))
        })
        .expect("phone edits");
    phone.sync(&d.url());
    rt.block_on(a.receive_until(&id, &mut a_doc, &mut a_state, |doc| {
        dispute(doc).risk == Some(Risk::High)
    }));
    let live = dispute(&a_doc);
    assert_eq!(live.risk, Some(Risk::High));
    assert_eq!(live.events.len(), 2, "reported + mediation");
    assert_eq!(live.events[1].by, "cadre-phone");
}

#[test]
fn a_request_waits_for_a_document_that_arrives_later() {
    let Some(d) = deploy("a_request_waits_for_a_document_that_arrives_later") else {
        return;
    };
    let rt = d.runtime();
    let id = DocumentId::random();
    let mut b = rt.block_on(WsClient::joined(&d.ws_url(), "peer-rust-b"));
    let mut b_state = sync::State::new();
    rt.block_on(async {
        b.request(&id, &mut b_state).await;
        assert!(matches!(
            b.recv().await,
            Received::Message(RepoMessage::DocUnavailable(_))
        ));
    });
    // The document then arrives from another WebSocket peer, on node A.
    let mut a_doc = new_dispute("山林权属争议");
    let mut a = rt.block_on(WsClient::joined(&d.a().ws_url(), "peer-rust-a"));
    rt.block_on(a.sync_doc(&id, &mut a_doc, &mut sync::State::new()));
    // B is told without asking again.
    let mut b_doc = AutoCommit::new();
    rt.block_on(async {
        match b.recv().await {
            Received::Message(RepoMessage::Sync(push)) => {
                assert_eq!(push.document_id, id);
                let push = sync::Message::decode(&push.data).unwrap();
                b_doc
                    .sync()
                    .receive_sync_message(&mut b_state, push)
                    .unwrap();
            }
            other => panic!("expected the pushed document, got {other:?}"),
        }
    });
    assert_eq!(b_doc.get_heads(), a_doc.get_heads());
}

#[test]
fn a_document_outside_the_device_scope_is_unavailable() {
    let Some(d) = deploy("a_document_outside_the_device_scope_is_unavailable") else {
        return;
    };
    let rt = d.runtime();
    let id = DocumentId::random();
    // Written on node A, asked for on node B.
    let mut a = rt.block_on(WsClient::joined(&d.a().ws_url(), "peer-rust-a"));
    rt.block_on(a.sync_doc(&id, &mut new_dispute("邻里噪音"), &mut sync::State::new()));

    let (_, token) = d.enroll("cadre-elsewhere", Role::Cadre, "500110102001");
    let url = d.ws_url_with(&token);
    let mut other = rt.block_on(WsClient::joined(&url, "peer-rust-elsewhere"));
    rt.block_on(async {
        other.request(&id, &mut sync::State::new()).await;
        match other.recv().await {
            Received::Message(RepoMessage::DocUnavailable(u)) => assert_eq!(u.document_id, id),
            other => panic!("expected doc-unavailable, got {other:?}"),
        }
    });
}

#[test]
fn a_connection_without_a_valid_token_gets_an_error_then_a_close() {
    let Some(d) = deploy("a_connection_without_a_valid_token_gets_an_error_then_a_close") else {
        return;
    };
    let rt = d.runtime();
    for url in [
        format!("ws://{}/v1/ws", d.b().addr),
        d.ws_url_with("not-a-token"),
    ] {
        rt.block_on(async {
            let mut client = WsClient::connect(&url, "peer-anonymous").await;
            client.join(&["1"]).await;
            match client.recv().await {
                Received::Message(RepoMessage::Error(e)) => {
                    let sender = e.sender_id.expect("the server names itself");
                    assert!(sender.as_str().starts_with("fengqiao-"));
                    assert!(e.message.starts_with("unauthorized"), "{}", e.message);
                }
                other => panic!("expected an error message, got {other:?}"),
            }
            client.expect_closed().await;
        });
    }
}

#[test]
fn the_bearer_header_is_accepted_too() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let Some(d) = deploy("the_bearer_header_is_accepted_too") else {
        return;
    };
    d.runtime().block_on(async {
        let mut request = format!("ws://{}/v1/ws", d.b().addr)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", fengqiao_tests::TOKEN).parse().unwrap(),
        );
        let mut connection = Connection::connect(request, Some(WAIT))
            .await
            .expect("upgrade accepted");
        let join = join_message(PeerId::new("peer-header").unwrap(), None);
        let peer = connection.join(join, Some(WAIT)).await;
        assert!(peer.is_ok(), "expected peer, got {peer:?}");
    });
}

#[test]
fn protocol_violations_get_an_error_then_a_close() {
    let Some(d) = deploy("protocol_violations_get_an_error_then_a_close") else {
        return;
    };
    let rt = d.runtime();
    // Bytes that are not CBOR at all.
    rt.block_on(async {
        let mut client = WsClient::joined(&d.ws_url(), "peer-garbage").await;
        client
            .send_raw(Frame::Binary(vec![0xff, 0x00, 0x13].into()))
            .await;
        assert!(matches!(
            client.recv().await,
            Received::Message(RepoMessage::Error(_))
        ));
        client.expect_closed().await;
    });
    // A join offering only a version the server does not speak.
    rt.block_on(async {
        let mut client = WsClient::connect(&d.ws_url(), "peer-future").await;
        client.join(&["2"]).await;
        match client.recv().await {
            Received::Message(RepoMessage::Error(e)) => {
                assert!(
                    e.message.contains("unsupported protocol version"),
                    "{}",
                    e.message
                )
            }
            other => panic!("expected an error, got {other:?}"),
        }
        client.expect_closed().await;
    });
    // A document message before join.
    rt.block_on(async {
        let mut client = WsClient::connect(&d.ws_url(), "peer-hasty").await;
        client.server = Some(PeerId::new("anyone").unwrap());
        client
            .request(&DocumentId::random(), &mut sync::State::new())
            .await;
        assert!(matches!(
            client.recv().await,
            Received::Message(RepoMessage::Error(_))
        ));
        client.expect_closed().await;
    });
    // The server keeps serving.
    rt.block_on(WsClient::joined(&d.ws_url(), "peer-after"));
}

#[test]
fn an_invalid_record_is_not_stored_and_the_server_keeps_serving() {
    let Some(d) = deploy("an_invalid_record_is_not_stored_and_the_server_keeps_serving") else {
        return;
    };
    let rt = d.runtime();
    let bad_id = DocumentId::random();
    let mut bad = new_dispute("风险等级写错");
    bad.put(ROOT, "risk", "severe").unwrap();
    bad.commit();
    rt.block_on(async {
        let mut client = WsClient::joined(&d.ws_url(), "peer-buggy").await;
        let mut state = sync::State::new();
        let mut refused = false;
        for _ in 0..10 {
            if let Some(message) = bad.sync().generate_sync_message(&mut state) {
                let sync = client.doc_message(&bad_id, message);
                client.send(&sync).await;
            }
            match client.recv_within(WAIT).await {
                Some(Received::Message(RepoMessage::Sync(reply))) => {
                    let reply = sync::Message::decode(&reply.data).unwrap();
                    bad.sync().receive_sync_message(&mut state, reply).unwrap();
                }
                Some(Received::Message(RepoMessage::DocUnavailable(u))) => {
                    assert_eq!(u.document_id, bad_id);
                    refused = true;
                    break;
                }
                other => panic!("expected sync or doc-unavailable, got {other:?}"),
            }
        }
        assert!(
            refused,
            "the server told the peer it will not take the record"
        );

        // The same connection still works for a valid record.
        let good_id = DocumentId::random();
        let mut good = new_dispute("正常登记");
        client
            .sync_doc(&good_id, &mut good, &mut sync::State::new())
            .await;
    });

    let mut phone = Phone::new("cadre-phone");
    phone.sync(&d.url());
    assert!(
        phone.replica.record(&bad_id).is_err(),
        "the refused record reached a phone"
    );
    assert_eq!(
        phone.replica.ids().unwrap().len(),
        1,
        "only the valid record"
    );
}

#[test]
fn a_rejoin_of_the_same_peer_replaces_the_older_socket() {
    let Some(d) = deploy("a_rejoin_of_the_same_peer_replaces_the_older_socket") else {
        return;
    };
    let rt = d.runtime();
    let mut old = rt.block_on(WsClient::joined(&d.ws_url(), "peer-tab"));
    let mut new = rt.block_on(WsClient::joined(&d.ws_url(), "peer-tab"));
    assert_eq!(rt.block_on(old.expect_closed()), Some(1000));
    // The newer socket is the one that serves the peer.
    rt.block_on(async {
        new.request(&DocumentId::random(), &mut sync::State::new())
            .await;
        assert!(matches!(
            new.recv().await,
            Received::Message(RepoMessage::DocUnavailable(_))
        ));
    });
}

#[test]
fn graceful_shutdown_closes_open_sockets() {
    let Some(d) = deploy("graceful_shutdown_closes_open_sockets") else {
        return;
    };
    // The client runs on its own runtime, so it outlives the server's.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut client = client_rt.block_on(WsClient::joined(&d.ws_url(), "peer-rust-a"));
    d.stop();
    assert_eq!(client_rt.block_on(client.expect_closed()), Some(1001));
}

#[test]
fn ephemeral_messages_reach_the_other_peers_of_the_document_only() {
    use fengqiao_protocol::repo::Ephemeral;
    let Some(d) = deploy("ephemeral_messages_reach_the_other_peers_of_the_document_only") else {
        return;
    };
    let rt = d.runtime();
    let id = DocumentId::random();
    // All three on node B: a node relays ephemeral messages among its own
    // peers only (they are not announced to other nodes).
    let mut a = rt.block_on(WsClient::joined(&d.ws_url(), "peer-rust-a"));
    let mut a_doc = new_dispute("调解进行中");
    rt.block_on(a.sync_doc(&id, &mut a_doc, &mut sync::State::new()));
    let mut b = rt.block_on(WsClient::joined(&d.ws_url(), "peer-rust-b"));
    rt.block_on(b.sync_doc(&id, &mut AutoCommit::new(), &mut sync::State::new()));
    // C is connected but does not have the document open.
    let mut c = rt.block_on(WsClient::joined(&d.ws_url(), "peer-rust-c"));

    let presence = Ephemeral {
        sender_id: a.peer.clone(),
        target_id: a.server(),
        document_id: id.clone(),
        // CBOR {"cursor": 3}
        data: vec![0xa1, 0x66, b'c', b'u', b'r', b's', b'o', b'r', 0x03],
        count: 1,
        session_id: "session-a".into(),
    };
    rt.block_on(async {
        a.send(&RepoMessage::Ephemeral(presence.clone())).await;
        match b.recv().await {
            Received::Message(RepoMessage::Ephemeral(relayed)) => {
                assert_eq!(relayed.target_id, b.peer);
                assert_eq!(
                    Ephemeral {
                        target_id: presence.target_id.clone(),
                        ..relayed.clone()
                    },
                    presence,
                    "relayed unchanged but for targetId"
                );
                // B's repo forwards it on, as JS clients do: the server
                // drops the echo since it names another sender.
                b.send(&RepoMessage::Ephemeral(relayed)).await;
            }
            other => panic!("expected the relayed ephemeral message, got {other:?}"),
        }
        // Once B's barrier is answered the server has handled the echo;
        // anything it relayed would have reached A and C before their own
        // barriers' answers.
        assert!(b.barrier().await.is_empty(), "nothing more to B");
        let to_a = a.barrier().await;
        assert!(to_a.is_empty(), "no echo back to A: {to_a:?}");
        let to_c = c.barrier().await;
        assert!(to_c.is_empty(), "nothing to C: {to_c:?}");
    });
}

#[test]
fn a_peer_that_stops_answering_pings_is_dropped() {
    let Some(d) = deploy("a_peer_that_stops_answering_pings_is_dropped") else {
        return;
    };
    let rt = d.runtime();
    let mut silent = rt.block_on(WsClient::joined(&d.ws_url(), "peer-silent"));
    let mut lively = rt.block_on(WsClient::joined(&d.ws_url(), "peer-lively"));
    // Node B's count of open sockets: both peers are there.
    let metrics = d.b().running().state.metrics.clone();
    let open = || metrics.ws_open.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(open(), 2);
    rt.block_on(async {
        // Reading answers pings (tungstenite pongs automatically): the
        // lively peer reads all along, the silent one reads nothing until
        // the server has dropped it (its close is then waiting for it).
        let limit = PING_INTERVAL * 2 + WAIT;
        let dropped = tokio::time::timeout(limit, async {
            while open() > 1 {
                if let Some(message) = lively.recv_within(PING_INTERVAL / 5).await {
                    panic!("the lively peer was sent {message:?}");
                }
            }
        })
        .await;
        assert!(dropped.is_ok(), "the silent peer was not dropped");
        silent.expect_closed().await;
        assert_eq!(open(), 1, "only the silent peer's socket was dropped");
        lively
            .request(&DocumentId::random(), &mut sync::State::new())
            .await;
        assert!(matches!(
            lively.recv().await,
            Received::Message(RepoMessage::DocUnavailable(_))
        ));
    });
}

/// A deployment whose servers never ping within a test's time, so that
/// what a client is told can only come from an announcement.
fn deploy_without_pings(what: &str) -> Option<Deployment> {
    Deployment::start_with(super::NODES, what, |config| {
        config.http.ws_ping_interval = Duration::from_secs(3600);
    })
}

#[test]
fn revoking_a_device_closes_its_open_socket_at_once() {
    let Some(d) = deploy_without_pings("revoking_a_device_closes_its_open_socket_at_once") else {
        return;
    };
    let rt = d.runtime();
    let (device, token) = d.enroll("cadre-revoked", Role::Cadre, VILLAGE);
    let url = d.ws_url_with(&token);
    let mut client = rt.block_on(WsClient::joined(&url, "peer-revoked"));
    // Revoked on node A; the socket is on node B.
    d.directory().revoke(&device).expect("revoked");
    rt.block_on(async {
        // Closed on the announcement: this server never pings, so nothing
        // else could tell it.
        let told = client.recv_within(WAIT).await;
        match told {
            Some(Received::Message(RepoMessage::Error(e))) => {
                assert!(e.message.starts_with("unauthorized"), "{}", e.message)
            }
            other => panic!("expected an error on the announcement, got {other:?}"),
        }
        assert_eq!(client.expect_closed().await, Some(1008));
    });
    // The token no longer opens a session.
    rt.block_on(async {
        let mut again = WsClient::connect(&url, "peer-revoked").await;
        again.join(&["1"]).await;
        assert!(matches!(
            again.recv().await,
            Received::Message(RepoMessage::Error(_))
        ));
        again.expect_closed().await;
    });
}

#[test]
fn moving_a_device_to_another_village_closes_its_open_documents_at_once() {
    use fengqiao_protocol::VillageCode;
    use fengqiao_shared::access::DeviceAccess;
    let Some(d) = deploy_without_pings(
        "moving_a_device_to_another_village_closes_its_open_documents_at_once",
    ) else {
        return;
    };
    let rt = d.runtime();
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGE, "调走之前的纠纷", T0);
    phone.sync(&d.url());
    let (device, token) = d.enroll("cadre-moved", Role::Cadre, VILLAGE);
    let url = d.ws_url_with(&token);
    let mut client = rt.block_on(WsClient::joined(&url, "peer-moved"));
    let mut doc = AutoCommit::new();
    rt.block_on(client.sync_doc(&id, &mut doc, &mut sync::State::new()));
    assert!(!doc.get_heads().is_empty(), "the record arrived");

    // Moved on node A; the socket is on node B.
    let elsewhere = VillageCode::new("500110101002").expect("village code");
    d.directory()
        .set_access(&device, DeviceAccess::new(Role::Cadre, elsewhere))
        .expect("moved");
    rt.block_on(async {
        // Told on the announcement: this server never pings, so nothing
        // else could tell it.
        match client.recv_within(WAIT).await {
            Some(Received::Message(RepoMessage::DocUnavailable(m))) => {
                assert_eq!(m.document_id, id)
            }
            other => panic!("expected doc-unavailable on the announcement, got {other:?}"),
        }
    });
    // Later changes to the record no longer reach the moved device.
    let mut edit = phone.replica.document(&id).expect("reads").expect("held");
    edit.put(ROOT, "title", "调走之后改的标题").expect("edit");
    let mut edited = edit.fork();
    let mut state = sync::State::new();
    rt.block_on(async {
        // The writer is on the moved client's node, so that its barrier
        // orders what that node sends.
        let mut writer = WsClient::joined(&d.ws_url(), "peer-writer").await;
        writer.sync_doc(&id, &mut edited, &mut state).await;
        // The writer's barrier: the server has committed and announced the
        // change; the moved client's barrier: it has been sent nothing.
        assert!(writer.barrier().await.is_empty());
        let sent = client.barrier().await;
        assert!(sent.is_empty(), "the moved device was sent {sent:?}");
    });
}

#[test]
fn a_device_sending_faster_than_its_rate_is_read_slowly_not_refused() {
    use fengqiao_server::limit::RateLimit;
    const RATE: RateLimit = RateLimit {
        per_second: 20.0,
        burst: 5.0,
    };
    const ASKED: usize = 30;
    let Some(d) = Deployment::start_with(
        super::NODES,
        "a_device_sending_faster_than_its_rate_is_read_slowly_not_refused",
        |config| config.ws_rate = RATE,
    ) else {
        return;
    };
    let (_, token) = d.enroll("cadre-hasty", Role::Cadre, VILLAGE);
    let url = d.ws_url_with(&token);
    let asked: Vec<DocumentId> = (0..ASKED).map(|_| DocumentId::random()).collect();
    // From before the device's first message: its bucket starts full then.
    let began = std::time::Instant::now();
    d.runtime().block_on(async {
        let mut client = WsClient::joined(&url, "peer-hasty").await;
        for id in &asked {
            client.request(id, &mut sync::State::new()).await;
        }
        let mut answered = Vec::new();
        while answered.len() < asked.len() {
            match client.recv().await {
                Received::Message(RepoMessage::DocUnavailable(m)) => answered.push(m.document_id),
                other => panic!("every request is answered, got {other:?}"),
            }
        }
        assert_eq!(answered, asked, "all answered, in order");
    });
    // Past the burst, the device is read at its rate: the last request is
    // handled no sooner than its debt is paid back.
    let took = began.elapsed();
    let least = Duration::from_secs_f64((ASKED as f64 - RATE.burst) / RATE.per_second);
    assert!(
        took >= least.mul_f64(0.96),
        "{ASKED} requests past a burst of {} at {}/s took {took:?}",
        RATE.burst,
        RATE.per_second
    );
    // Node B's counter: the peer is there. One server holds back every
    // message past the burst; servers on a shared store take a device's
    // messages from the store's bucket 50 at a time, and only the message
    // that takes them waits (for all of them).
    let metrics = d.b().metrics();
    let throttled: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fengqiao_ws_throttled_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the throttle counter");
    let held_back = match d.nodes() {
        Nodes::One => 20,
        Nodes::Two => 1,
    };
    assert!(
        throttled >= held_back,
        "past the burst of 5, messages wait: {throttled}"
    );
}

#[test]
fn changes_sent_without_their_dependencies_make_the_server_ask_for_everything() {
    let Some(d) =
        deploy("changes_sent_without_their_dependencies_make_the_server_ask_for_everything")
    else {
        return;
    };
    let rt = d.runtime();
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGE, "依赖缺失的修改", T0);
    phone.sync(&d.url());
    let mut client = rt.block_on(WsClient::joined(&d.ws_url(), "peer-gap"));
    let mut doc = AutoCommit::new();
    let mut state = sync::State::new();
    rt.block_on(client.sync_doc(&id, &mut doc, &mut state));
    let synced = doc.get_heads();

    // Two edits offline, the second on top of the first.
    for (n, at) in [(1, T0 + 60_000), (2, T0 + 120_000)] {
        record::add_event(
            &mut doc,
            &Author::new("cadre-ws", at),
            &NewEvent::new(EventKind::Note).with_note(format!("离线修改 {n}")),
        )
        .expect("a valid edit");
    }
    // Only the second goes out, as when the server's Bloom filter matches
    // the first by chance: the client counts the second as sent, not the
    // first.
    let both = doc
        .sync()
        .generate_sync_message(&mut state)
        .expect("the client has changes to send");
    let first = doc
        .get_changes(&synced)
        .first()
        .expect("the first edit")
        .hash();
    state.sent_hashes.remove(&first);
    let second = doc.get_last_local_change().expect("the second edit");
    let partial = sync::Message {
        changes: sync::ChunkList::from(vec![second.raw_bytes().to_vec()]),
        ..both
    };
    rt.block_on(async {
        client.send(&client.doc_message(&id, partial)).await;
        // The server cannot apply it, and keeps no queue to learn which
        // change is missing: asking for the second again would get
        // nothing (the client sent it). It says it holds nothing, so the
        // client forgets what it sent ...
        match client.recv().await {
            Received::Message(RepoMessage::Sync(reply)) => {
                let reply = sync::Message::decode(&reply.data).expect("a sync message");
                assert!(reply.heads.is_empty(), "{reply:?}");
                doc.sync()
                    .receive_sync_message(&mut state, reply)
                    .expect("applies");
            }
            other => panic!("expected a sync message, got {other:?}"),
        }
        // ... and sends everything, which settles.
        client.sync_doc(&id, &mut doc, &mut state).await;
    });
    let stored = d.storage().doc_meta(&id).expect("reads").expect("stored");
    let mut ours: Vec<[u8; 32]> = doc.get_heads().iter().map(|h| h.0).collect();
    let mut theirs = stored.heads;
    ours.sort();
    theirs.sort();
    assert_eq!(theirs, ours, "both edits are on the server");
}

#[test]
fn a_record_created_over_websocket_is_not_kept_loaded() {
    let Some(d) = deploy("a_record_created_over_websocket_is_not_kept_loaded") else {
        return;
    };
    let rt = d.runtime();
    let id = DocumentId::random();
    let mut doc = new_dispute("网页端新建");
    rt.block_on(async {
        let mut client = WsClient::joined(&d.ws_url(), "peer-creator").await;
        client
            .sync_doc(&id, &mut doc, &mut sync::State::new())
            .await;
    });
    assert!(d.storage().doc_meta(&id).expect("reads").is_some());
    for server in d.servers() {
        assert_eq!(
            server.running().state.engine.cache().usage(),
            (0, 0),
            "the creator holds it; the sync went on from the stored heads"
        );
    }
}

/// The URL on node B of a device enrolled as `role` over `scope`.
fn enrolled_url(d: &Deployment, person: &str, role: Role, scope: &str) -> String {
    let (_, token) = d.enroll(person, role, scope);
    d.ws_url_with(&token)
}

/// A `sync` carrying `changes` as they are (whatever the sync state says).
fn sync_with_changes(doc: &mut AutoCommit, changes: Vec<u8>) -> sync::Message {
    let mut message = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .expect("an empty document speaks first");
    message.heads = doc.get_heads();
    message.changes = sync::ChunkList::from(changes);
    message
}

#[test]
fn a_sync_for_a_document_out_of_scope_is_answered_as_for_a_missing_one() {
    let Some(d) = deploy("a_sync_for_a_document_out_of_scope_is_answered_as_for_a_missing_one")
    else {
        return;
    };
    let rt = d.runtime();
    let mut phone = Phone::new("cadre-a");
    let hidden = phone.report(VILLAGE, "别镇看不到的纠纷", T0);
    phone.sync(&d.url());
    let missing = DocumentId::random();
    let url = enrolled_url(&d, "cadre-elsewhere", Role::Cadre, "500110102001");
    let answers = rt.block_on(async {
        let mut client = WsClient::joined(&url, "peer-curious").await;
        let mut answers = Vec::new();
        for id in [&hidden, &missing] {
            let announce = AutoCommit::new()
                .sync()
                .generate_sync_message(&mut sync::State::new())
                .unwrap();
            client.send(&client.doc_message(id, announce)).await;
            answers.push(match client.recv().await {
                Received::Message(RepoMessage::Sync(reply)) => {
                    assert_eq!(reply.document_id, *id);
                    ("sync", reply.data)
                }
                Received::Message(RepoMessage::DocUnavailable(_)) => ("doc-unavailable", vec![]),
                other => panic!("unexpected {other:?}"),
            });
        }
        answers
    });
    assert_eq!(answers[0].0, "sync", "the existing record is not revealed");
    assert_eq!(answers[0], answers[1], "the same answer, byte for byte");
}

#[test]
fn another_device_joining_under_the_same_peer_id_closes_no_socket() {
    let Some(d) = deploy("another_device_joining_under_the_same_peer_id_closes_no_socket") else {
        return;
    };
    let rt = d.runtime();
    let victim_url = enrolled_url(&d, "cadre-victim", Role::Cadre, VILLAGE);
    let thief_url = enrolled_url(&d, "cadre-thief", Role::Cadre, "500110102001");
    rt.block_on(async {
        let mut victim = WsClient::joined(&victim_url, "peer-victim").await;
        let mut thief = WsClient::joined(&thief_url, "peer-victim").await;
        // Both sockets keep serving their own device.
        for client in [&mut victim, &mut thief] {
            client
                .request(&DocumentId::random(), &mut sync::State::new())
                .await;
            match client.recv().await {
                Received::Message(RepoMessage::DocUnavailable(_)) => {}
                other => panic!("expected doc-unavailable, got {other:?}"),
            }
        }
        // The victim's own reconnect still replaces its older socket.
        let mut again = WsClient::joined(&victim_url, "peer-victim").await;
        assert_eq!(victim.expect_closed().await, Some(1000));
        again
            .request(&DocumentId::random(), &mut sync::State::new())
            .await;
        assert!(matches!(
            again.recv().await,
            Received::Message(RepoMessage::DocUnavailable(_))
        ));
    });
}

#[test]
fn a_malformed_request_gets_an_error_and_the_document_is_not_muted() {
    let Some(d) = deploy("a_malformed_request_gets_an_error_and_the_document_is_not_muted") else {
        return;
    };
    let rt = d.runtime();
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGE, "请求数据坏了", T0);
    phone.sync(&d.url());
    rt.block_on(async {
        let mut client = WsClient::joined(&d.ws_url(), "peer-garbled").await;
        let request = request_message(
            &client.peer,
            &client.server(),
            &id,
            AutoCommit::new()
                .sync()
                .generate_sync_message(&mut sync::State::new())
                .unwrap(),
        );
        let RepoMessage::Request(mut bad) = request else {
            unreachable!("a request")
        };
        bad.data = b"definitely not a sync message".to_vec();
        client.send(&RepoMessage::Request(bad)).await;
        match client.recv().await {
            Received::Message(RepoMessage::Error(e)) => {
                assert!(e.message.starts_with("bad_request"), "{}", e.message)
            }
            other => panic!("expected an error, got {other:?}"),
        }
        assert_eq!(client.expect_closed().await, Some(1002));
        // Reconnected, the same document is answered.
        let mut client = WsClient::joined(&d.ws_url(), "peer-garbled").await;
        let mut doc = AutoCommit::new();
        client
            .sync_doc(&id, &mut doc, &mut sync::State::new())
            .await;
        assert!(!doc.get_heads().is_empty(), "the record arrived");
    });
}

#[test]
fn a_read_only_device_is_told_once_and_its_changes_are_counted_not_stored() {
    use std::sync::atomic::Ordering;
    let Some(d) = deploy("a_read_only_device_is_told_once_and_its_changes_are_counted_not_stored")
    else {
        return;
    };
    let rt = d.runtime();
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGE, "督导看的纠纷", T0);
    phone.sync(&d.url());
    let url = enrolled_url(&d, "supervisor", Role::Supervisor, VILLAGE);
    // Node B's counters: the supervisor's peer is there.
    let metrics = d.b().running().state.metrics.clone();
    let notices = rt.block_on(async {
        let mut client = WsClient::joined(&url, "peer-supervisor").await;
        let mut doc = AutoCommit::new();
        let mut notices = Vec::new();
        // Reading works, and the first document brings the notice.
        let mut state = sync::State::new();
        client.request(&id, &mut state).await;
        for _ in 0..20 {
            match client.recv().await {
                Received::Message(RepoMessage::Ephemeral(e)) => notices.push(e),
                Received::Message(RepoMessage::Sync(reply)) => {
                    let reply = sync::Message::decode(&reply.data).unwrap();
                    doc.sync().receive_sync_message(&mut state, reply).unwrap();
                    if !doc.get_heads().is_empty() {
                        break;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(!doc.get_heads().is_empty(), "the record arrived");
        // A pushy client sends two edits anyway.
        for n in 0..2 {
            let before = doc.get_heads();
            doc.put(ROOT, "title", format!("督导改的标题 {n}")).unwrap();
            doc.commit();
            let changes = doc.save_after(&before);
            let message = sync_with_changes(&mut doc, changes);
            client.send(&client.doc_message(&id, message)).await;
        }
        // Whatever the server answers, no second notice and no close.
        while let Some(received) = client.recv_within(Duration::from_millis(500)).await {
            match received {
                Received::Message(RepoMessage::Ephemeral(e)) => notices.push(e),
                Received::Message(RepoMessage::Sync(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        notices
    });
    assert_eq!(notices.len(), 1, "told once: {notices:?}");
    assert_eq!(notices[0].document_id, id);
    assert_eq!(
        metrics.read_only_ignored.load(Ordering::Relaxed),
        2,
        "both ignored changes counted"
    );
    let storage = d.storage().clone();
    assert!(
        storage.list_quarantine(10).unwrap().is_empty(),
        "nothing kept"
    );
    phone.sync(&d.url());
    match phone.replica.record(&id).unwrap() {
        Record::Dispute(d) => assert_eq!(d.title, "督导看的纠纷", "unchanged"),
        other => panic!("expected a dispute, got {other:?}"),
    }
}

#[test]
fn refused_changes_are_quarantined_as_a_bounded_prefix() {
    let Some(d) = deploy("refused_changes_are_quarantined_as_a_bounded_prefix") else {
        return;
    };
    let rt = d.runtime();
    rt.block_on(async {
        let mut client = WsClient::joined(&d.ws_url(), "peer-flooder").await;
        for n in 0..4 {
            // A megabyte of content without a record type: refused.
            let mut doc = AutoCommit::new();
            // Letters that do not compress away.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ n;
            let filler: String = (0..1024 * 1024)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + (x % 26) as u8)
                })
                .collect();
            doc.put(ROOT, "notes", filler).unwrap();
            doc.commit();
            let changes = doc.save();
            let message = sync_with_changes(&mut doc, changes);
            let id = DocumentId::random();
            client.send(&client.doc_message(&id, message)).await;
            match client.recv().await {
                Received::Message(RepoMessage::DocUnavailable(u)) => assert_eq!(u.document_id, id),
                other => panic!("expected doc-unavailable, got {other:?}"),
            }
        }
    });
    let quarantined = d.storage().list_quarantine(10).unwrap();
    assert_eq!(quarantined.len(), 4);
    for q in quarantined {
        assert!(q.entry.bytes.len() <= 64 * 1024, "{}", q.entry.bytes.len());
        assert!(q.entry.size > q.entry.bytes.len() as u64);
    }
}
