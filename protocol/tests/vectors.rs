//! Every message the JavaScript automerge-repo sends decodes to what it means,
//! and survives our own encode/decode round trip.

use std::collections::BTreeMap;

use ciborium::value::Value as Cbor;
use fengqiao_protocol::ids::{AutomergeUrl, DocumentId};
use fengqiao_protocol::repo::RepoMessage;
use serde_json::{Map, Value as Json};

const VECTORS: &str = include_str!("vectors/automerge-repo-v1.json");
const SESSION: &str = include_str!("vectors/automerge-repo-v1-session.json");

/// The vectors' JSON conventions, made comparable: `$undefined` fields are
/// dropped (they mean "absent"), `$bytes` stays, numbers become f64.
fn normalize(json: &Json) -> Json {
    match json {
        Json::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let undefined = v.get("$undefined").is_some();
                if !undefined {
                    out.insert(k.clone(), normalize(v));
                }
            }
            Json::Object(out)
        }
        Json::Array(items) => Json::Array(items.iter().map(normalize).collect()),
        Json::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        other => other.clone(),
    }
}

/// Our own CBOR output in the vectors' JSON conventions.
fn cbor_to_json(value: &Cbor) -> Json {
    match value {
        Cbor::Bytes(b) => serde_json::json!({ "$bytes": hex::encode(b) }),
        Cbor::Text(t) => Json::String(t.clone()),
        Cbor::Integer(i) => serde_json::json!(i128::from(*i) as f64),
        Cbor::Float(f) => serde_json::json!(*f),
        Cbor::Bool(b) => Json::Bool(*b),
        Cbor::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect()),
        Cbor::Map(entries) => {
            let mut out = Map::new();
            for (k, v) in entries {
                let key = k.as_text().expect("our maps have text keys").to_owned();
                assert!(!v.is_null(), "we never write null; {key} was null");
                out.insert(key, cbor_to_json(v));
            }
            Json::Object(out)
        }
        other => panic!("unexpected CBOR value in our output: {other:?}"),
    }
}

/// Decodes a recorded frame, checks its meaning against `json`, and checks
/// that our encoding decodes back to the same message.
fn check_frame(name: &str, cbor_hex: &str, json: &Json) -> RepoMessage {
    let bytes = hex::decode(cbor_hex).unwrap();
    let message = RepoMessage::decode(&bytes)
        .unwrap_or_else(|e| panic!("{name}: recorded frame does not decode: {e}"));
    assert!(
        !matches!(message, RepoMessage::Unknown(_)),
        "{name}: known type decoded as unknown"
    );
    assert_eq!(
        message.type_name(),
        json["type"].as_str().unwrap(),
        "{name}: type"
    );

    let ours = message.encode();
    let as_value: Cbor = ciborium::from_reader(ours.as_slice()).unwrap();
    assert_eq!(
        normalize(&cbor_to_json(&as_value)),
        normalize(json),
        "{name}: meaning differs from the JS message after our round trip"
    );
    assert_eq!(
        RepoMessage::decode(&ours).unwrap(),
        message,
        "{name}: re-encode then decode"
    );

    if let RepoMessage::Sync(m) | RepoMessage::Request(m) = &message {
        automerge::sync::Message::decode(&m.data)
            .unwrap_or_else(|e| panic!("{name}: data is not an Automerge sync message: {e}"));
    }
    message
}

#[test]
fn every_message_vector_decodes_to_its_meaning() {
    let vectors: Vec<Json> = serde_json::from_str(VECTORS).unwrap();
    let mut seen = 0;
    for vector in vectors.iter().filter(|v| v["kind"] == "message") {
        let name = vector["name"].as_str().unwrap();
        let message = check_frame(name, vector["cbor_hex"].as_str().unwrap(), &vector["json"]);
        if let Some(expected) = vector.get("automerge_sync_message") {
            let (RepoMessage::Sync(m) | RepoMessage::Request(m)) = &message else {
                panic!("{name}: sync payload on a non-sync message");
            };
            let decoded = automerge::sync::Message::decode(&m.data).unwrap();
            let heads: Vec<String> = decoded.heads.iter().map(|h| h.to_string()).collect();
            let expected_heads: Vec<String> = expected["heads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(heads, expected_heads, "{name}: sync heads");
        }
        seen += 1;
    }
    assert_eq!(seen, 19, "all message vectors were checked");
}

#[test]
fn specific_fields_decode_as_js_means_them() {
    let vectors: Vec<Json> = serde_json::from_str(VECTORS).unwrap();
    let by_name: BTreeMap<&str, RepoMessage> = vectors
        .iter()
        .filter(|v| v["kind"] == "message")
        .map(|v| {
            let bytes = hex::decode(v["cbor_hex"].as_str().unwrap()).unwrap();
            (
                v["name"].as_str().unwrap(),
                RepoMessage::decode(&bytes).unwrap(),
            )
        })
        .collect();

    // CBOR `undefined` reads as absent.
    let RepoMessage::Join(join) = &by_name["join/no-storage"] else {
        panic!("join")
    };
    let meta = join.peer_metadata.as_ref().unwrap();
    assert_eq!(meta.storage_id, None);
    assert_eq!(meta.is_ephemeral, Some(true));
    assert!(join.offers_supported_version());

    let RepoMessage::RemoteSubscriptionChange(change) =
        &by_name["remote-subscription-change/add-only"]
    else {
        panic!("remote-subscription-change")
    };
    assert_eq!(change.remove, None);
    assert_eq!(change.add.as_ref().unwrap().len(), 1);

    // A float64 timestamp keeps its value.
    let RepoMessage::RemoteHeadsChanged(heads) = &by_name["remote-heads-changed"] else {
        panic!("remote-heads-changed")
    };
    let entry = heads.new_heads.values().next().unwrap();
    assert_eq!(entry.timestamp, 1752000123456.0);
    // and goes out as a float, so JS does not read a BigInt
    let ours = by_name["remote-heads-changed"].encode();
    let needle = hex::decode("fb42797eb585240000").unwrap();
    assert!(ours.windows(needle.len()).any(|w| w == needle.as_slice()));

    let RepoMessage::Ephemeral(eph) = &by_name["ephemeral/relayed"] else {
        panic!("ephemeral")
    };
    assert_eq!(eph.count, 1);
    assert_eq!(eph.session_id, "k3j9x0q2w8");
    let _: Cbor = ciborium::from_reader(eph.data.as_slice()).expect("ephemeral data is CBOR");

    let RepoMessage::Error(err) = &by_name["error/unsupported-protocol-version"] else {
        panic!("error")
    };
    assert_eq!(err.message, "unsupported protocol version");
}

#[test]
fn every_recorded_session_frame_decodes() {
    let session: Json = serde_json::from_str(SESSION).unwrap();
    let mut frames = 0;
    for scenario in session["scenarios"].as_array().unwrap() {
        for frame in scenario["frames"].as_array().unwrap() {
            let name = format!("{}#{}", scenario["name"], frame["seq"]);
            let message = check_frame(&name, frame["cbor_hex"].as_str().unwrap(), &frame["json"]);
            assert_eq!(message.type_name(), frame["type"].as_str().unwrap());
            frames += 1;
        }
    }
    assert_eq!(frames, 42, "every recorded frame was checked");
}

#[test]
fn document_ids_and_urls_match_the_js_library() {
    let vectors: Vec<Json> = serde_json::from_str(VECTORS).unwrap();
    let mut checked = 0;
    for vector in vectors.iter().filter(|v| v["kind"] == "document-id") {
        let name = vector["name"].as_str().unwrap();
        let json = &vector["json"];
        let text = json["document_id"].as_str().unwrap();
        let url = json["url"].as_str().unwrap();
        if json.get("is_valid_document_id") == Some(&Json::Bool(false)) {
            assert!(DocumentId::parse(text).is_err(), "{name}: must be rejected");
            assert!(
                AutomergeUrl::parse(url).is_err(),
                "{name}: URL must be rejected"
            );
            checked += 1;
            continue;
        }
        let id = DocumentId::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(id.as_str(), text, "{name}");
        let bare_url = url.split('#').next().unwrap();
        assert_eq!(id.url(), bare_url, "{name}");
        if let Some(binary) = json.get("binary_hex").and_then(Json::as_str) {
            assert_eq!(hex::encode(id.as_bytes()), binary, "{name}: decoded bytes");
            let rebuilt = DocumentId::from_bytes(&hex::decode(binary).unwrap()).unwrap();
            assert_eq!(rebuilt.as_str(), text, "{name}: encoding the bytes");
        }
        if let Some(input) = json.get("input").and_then(Json::as_str) {
            assert_eq!(
                DocumentId::parse_any(input).unwrap(),
                id,
                "{name}: legacy input"
            );
        }
        let parsed = AutomergeUrl::parse(url).unwrap();
        assert_eq!(parsed.document_id, id);
        assert_eq!(parsed.to_string(), url, "{name}: URL formats identically");
        assert_eq!(DocumentId::parse_any(url).unwrap(), id);
        if let Some(heads) = json.get("heads_hex").and_then(Json::as_array) {
            let expected: Vec<String> = heads
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
                .collect();
            let got: Vec<String> = parsed.heads.iter().map(hex::encode).collect();
            assert_eq!(got, expected, "{name}: heads");
            assert_eq!(
                parsed.head_strings(),
                json["heads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            );
        }
        // On the wire a document id is a CBOR text string.
        let cbor = hex::decode(vector["cbor_hex"].as_str().unwrap()).unwrap();
        let on_wire: String = ciborium::from_reader(cbor.as_slice()).unwrap();
        assert_eq!(on_wire, text);
        checked += 1;
    }
    assert_eq!(checked, 9);
}

#[test]
fn bad_urls_and_ids_are_rejected() {
    assert!(AutomergeUrl::parse("2iawmSHqvo66G7Lxrvyz4Rc4Espv").is_err());
    assert!(AutomergeUrl::parse("automerge:").is_err());
    assert!(AutomergeUrl::parse("automerge:2iawmSHqvo66G7Lxrvyz4Rc4Espv#notahead").is_err());
    // a valid base58check payload of the wrong length is not a head
    let short_head = DocumentId::random();
    assert!(
        AutomergeUrl::parse(&format!("automerge:{short_head}#{short_head}")).is_err(),
        "a 16-byte payload is not a 32-byte change hash"
    );
    assert!(DocumentId::parse("2iawmSHqvo66G7Lxrvyz4Rc4Esp").is_err()); // truncated
    assert!(DocumentId::parse_any("mergeauto:2iawmSHqvo66G7Lxrvyz4Rc4Espv").is_err());
}
