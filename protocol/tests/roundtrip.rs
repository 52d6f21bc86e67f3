//! Property tests: every message and envelope survives encode → decode.

use std::collections::BTreeMap;

use fengqiao_protocol::batch::{
    BATCH_VERSION, ChangeHash, Cursor, DocResult, DocUpload, SyncRequest, SyncResponse,
};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::error::{ErrorBody, ErrorCode};
use fengqiao_protocol::ids::{DocumentId, PeerId, StorageId};
use fengqiao_protocol::repo::*;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

fn peer_id() -> impl Strategy<Value = PeerId> {
    "[a-zA-Z0-9_-]{1,40}".prop_map(|s| PeerId::new(s).unwrap())
}

fn storage_id() -> impl Strategy<Value = StorageId> {
    "[a-f0-9-]{1,36}".prop_map(|s| StorageId::new(s).unwrap())
}

fn document_id() -> impl Strategy<Value = DocumentId> {
    vec(any::<u8>(), 1..=64).prop_map(|b| DocumentId::from_bytes(&b).unwrap())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..200)
}

fn metadata() -> impl Strategy<Value = Option<PeerMetadata>> {
    option::of(
        (option::of(storage_id()), option::of(any::<bool>())).prop_map(
            |(storage_id, is_ephemeral)| PeerMetadata {
                storage_id,
                is_ephemeral,
            },
        ),
    )
}

fn doc_sync() -> impl Strategy<Value = DocSync> {
    (peer_id(), peer_id(), document_id(), bytes()).prop_map(
        |(sender_id, target_id, document_id, data)| DocSync {
            sender_id,
            target_id,
            document_id,
            data,
        },
    )
}

fn timestamp() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u64..1u64 << 53).prop_map(|n| n as f64),
        (-1e15f64..1e15f64),
    ]
}

fn message() -> impl Strategy<Value = RepoMessage> {
    prop_oneof![
        (peer_id(), metadata(), vec("[0-9]{1,3}", 0..4)).prop_map(|(s, m, v)| {
            RepoMessage::Join(Join {
                sender_id: s,
                peer_metadata: m,
                supported_protocol_versions: v,
            })
        }),
        (peer_id(), metadata(), "[0-9]{1,3}", peer_id()).prop_map(|(s, m, v, t)| {
            RepoMessage::Peer(Peer {
                sender_id: s,
                peer_metadata: m,
                selected_protocol_version: v,
                target_id: t,
            })
        }),
        peer_id().prop_map(|s| RepoMessage::Leave(Leave { sender_id: s })),
        doc_sync().prop_map(RepoMessage::Request),
        doc_sync().prop_map(RepoMessage::Sync),
        (peer_id(), peer_id(), document_id()).prop_map(|(s, t, d)| {
            RepoMessage::DocUnavailable(DocUnavailable {
                sender_id: s,
                target_id: t,
                document_id: d,
            })
        }),
        (doc_sync(), any::<u64>(), "[a-z0-9]{0,12}").prop_map(|(m, count, session_id)| {
            RepoMessage::Ephemeral(Ephemeral {
                sender_id: m.sender_id,
                target_id: m.target_id,
                document_id: m.document_id,
                data: m.data,
                count,
                session_id,
            })
        }),
        (option::of(peer_id()), ".{0,60}", option::of(peer_id())).prop_map(|(s, msg, t)| {
            RepoMessage::Error(ErrorMessage {
                sender_id: s,
                message: msg,
                target_id: t,
            })
        }),
        (
            peer_id(),
            peer_id(),
            option::of(vec(storage_id(), 0..3)),
            option::of(vec(storage_id(), 0..3))
        )
            .prop_map(|(s, t, add, remove)| {
                RepoMessage::RemoteSubscriptionChange(RemoteSubscriptionChange {
                    sender_id: s,
                    target_id: t,
                    add,
                    remove,
                })
            }),
        (
            peer_id(),
            peer_id(),
            document_id(),
            btree_map(
                storage_id(),
                (vec("[1-9A-Za-z]{40,50}", 0..3), timestamp())
                    .prop_map(|(heads, timestamp)| RemoteHeads { heads, timestamp }),
                0..3
            )
        )
            .prop_map(|(s, t, d, new_heads)| {
                RepoMessage::RemoteHeadsChanged(RemoteHeadsChanged {
                    sender_id: s,
                    target_id: t,
                    document_id: d,
                    new_heads,
                })
            }),
        ("x-[a-z-]{1,20}", option::of("[a-z]{1,10}")).prop_map(|(type_name, sender_id)| {
            RepoMessage::Unknown(UnknownMessage {
                type_name,
                sender_id,
            })
        }),
    ]
}

fn hash() -> impl Strategy<Value = ChangeHash> {
    any::<[u8; 32]>().prop_map(ChangeHash)
}

fn cursor() -> impl Strategy<Value = Cursor> {
    vec(any::<u8>(), 0..64).prop_map(|b| Cursor::new(b).unwrap())
}

fn error_body() -> impl Strategy<Value = ErrorBody> {
    (proptest::sample::select(ErrorCode::ALL.to_vec()), ".{0,40}")
        .prop_map(|(code, message)| ErrorBody::new(code, message))
}

fn request() -> impl Strategy<Value = SyncRequest> {
    (
        option::of(cursor()),
        option::of(any::<u64>()),
        vec(
            (document_id(), vec(hash(), 0..3), bytes())
                .prop_map(|(id, heads, changes)| DocUpload { id, heads, changes }),
            0..5,
        ),
    )
        .prop_map(|(cursor, budget, docs)| SyncRequest {
            v: BATCH_VERSION,
            cursor,
            budget,
            docs,
        })
}

fn response() -> impl Strategy<Value = SyncResponse> {
    (
        cursor(),
        any::<bool>(),
        vec(
            (
                document_id(),
                vec(hash(), 0..3),
                bytes(),
                option::of(error_body()),
                any::<bool>(),
            )
                .prop_map(|(id, heads, data, error, resend)| DocResult {
                    id,
                    heads,
                    data,
                    error,
                    resend,
                }),
            0..5,
        ),
        vec(document_id(), 0..3),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(
            |(cursor, more, docs, purge, reset, remaining)| SyncResponse {
                v: BATCH_VERSION,
                cursor,
                more,
                docs,
                purge,
                reset,
                remaining,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn repo_messages_round_trip(message in message()) {
        let bytes = message.encode();
        prop_assert_eq!(RepoMessage::decode(&bytes).unwrap(), message);
    }

    #[test]
    fn sync_requests_round_trip(request in request()) {
        let bytes = request.encode();
        prop_assert_eq!(SyncRequest::decode(&bytes, &DecodeLimits::DEFAULT).unwrap(), request);
    }

    #[test]
    fn sync_responses_round_trip(response in response()) {
        let bytes = response.encode();
        prop_assert_eq!(SyncResponse::decode(&bytes, &DecodeLimits::DEFAULT).unwrap(), response);
    }

    #[test]
    fn error_bodies_round_trip_in_cbor_and_json(body in error_body()) {
        let json = serde_json::to_string(&body).unwrap();
        prop_assert_eq!(&serde_json::from_str::<ErrorBody>(&json).unwrap(), &body);
        let mut cbor = Vec::new();
        ciborium::into_writer(&body, &mut cbor).unwrap();
        prop_assert_eq!(ciborium::from_reader::<ErrorBody, _>(cbor.as_slice()).unwrap(), body);
    }

    /// Random bytes never panic any decoder.
    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..512)) {
        let _ = RepoMessage::decode(&input);
        let _ = SyncRequest::decode(&input, &DecodeLimits::DEFAULT);
        let _ = SyncResponse::decode(&input, &DecodeLimits::DEFAULT);
    }
}

#[test]
fn unknown_fields_are_ignored_in_envelopes() {
    let mut map = BTreeMap::new();
    map.insert("v", ciborium::Value::from(1));
    map.insert("future", ciborium::Value::from("ignored"));
    let mut bytes = Vec::new();
    ciborium::into_writer(&map, &mut bytes).unwrap();
    let request = SyncRequest::decode(&bytes, &DecodeLimits::DEFAULT).unwrap();
    assert_eq!(request, SyncRequest::new(None));
}
