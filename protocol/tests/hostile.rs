//! Hostile and malformed inputs get a typed error each, never a panic, and
//! are refused before they can make the decoder allocate what they claim.

use fengqiao_protocol::batch::{SyncRequest, SyncResponse};
use fengqiao_protocol::codec::{DecodeError, DecodeLimits};
use fengqiao_protocol::error::ErrorCode;
use fengqiao_protocol::repo::RepoMessage;

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn map(entries: &[(&str, ciborium::Value)]) -> ciborium::Value {
    ciborium::Value::Map(
        entries
            .iter()
            .map(|(k, v)| (ciborium::Value::from(*k), v.clone()))
            .collect(),
    )
}

fn valid_sync() -> Vec<u8> {
    map(&[
        ("type", "sync".into()),
        ("senderId", "peer-a".into()),
        ("targetId", "server".into()),
        ("documentId", "2iawmSHqvo66G7Lxrvyz4Rc4Espv".into()),
        (
            "data",
            ciborium::Value::Bytes(vec![0x42, 0, 0, 1, 0, 0, 0, 2, 2, 0x84]),
        ),
    ])
    .pipe(|v| cbor(&v))
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

#[test]
fn truncated_cbor_at_every_length_is_an_error() {
    let whole = valid_sync();
    assert!(RepoMessage::decode(&whole).is_ok());
    for cut in 0..whole.len() {
        let err = RepoMessage::decode(&whole[..cut]).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated),
            "cut at {cut}: {err:?}"
        );
        assert_eq!(err.code(), ErrorCode::BadRequest);
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut frame = valid_sync();
    frame.push(0);
    assert_eq!(
        RepoMessage::decode(&frame).unwrap_err(),
        DecodeError::TrailingBytes(1)
    );
}

#[test]
fn wrong_types_are_shape_errors() {
    let cases = [
        map(&[("type", 7.into()), ("senderId", "a".into())]),
        map(&[("type", "sync".into()), ("senderId", 12.into())]),
        map(&[
            ("type", "sync".into()),
            ("senderId", "a".into()),
            ("targetId", "b".into()),
            ("documentId", "2iawmSHqvo66G7Lxrvyz4Rc4Espv".into()),
            ("data", "not bytes".into()),
        ]),
        ciborium::Value::from("just a string"),
        ciborium::Value::Array(vec![1.into(), 2.into()]),
    ];
    for case in cases {
        let err = RepoMessage::decode(&cbor(&case)).unwrap_err();
        assert!(matches!(err, DecodeError::Shape(_)), "{case:?}: {err:?}");
    }
}

#[test]
fn missing_and_invalid_fields_are_named() {
    let join = map(&[("type", "join".into()), ("senderId", "peer-a".into())]);
    assert_eq!(
        RepoMessage::decode(&cbor(&join)).unwrap_err(),
        DecodeError::MissingField {
            message_type: "join",
            field: "supportedProtocolVersions"
        }
    );
    let bad_doc = map(&[
        ("type", "doc-unavailable".into()),
        ("senderId", "a".into()),
        ("targetId", "b".into()),
        ("documentId", "2iawmSHqvo66G7Lxrvyz4Rc4Esp2".into()),
    ]);
    assert!(matches!(
        RepoMessage::decode(&cbor(&bad_doc)).unwrap_err(),
        DecodeError::InvalidField {
            field: "documentId",
            ..
        }
    ));
    let empty_sender = map(&[("type", "leave".into()), ("senderId", "".into())]);
    assert!(matches!(
        RepoMessage::decode(&cbor(&empty_sender)).unwrap_err(),
        DecodeError::InvalidField {
            field: "senderId",
            ..
        }
    ));
}

#[test]
fn unknown_types_decode_to_a_distinct_variant() {
    let frame = map(&[("type", "x-future".into()), ("senderId", "peer-a".into())]);
    match RepoMessage::decode(&cbor(&frame)).unwrap() {
        RepoMessage::Unknown(u) => {
            assert_eq!(u.type_name, "x-future");
            assert_eq!(u.sender_id.as_deref(), Some("peer-a"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_declared_lengths_are_refused_before_allocation() {
    // A byte string claiming 2^63 bytes, an array claiming 2^32 entries, a
    // map claiming 2^64-1 entries: none may allocate.
    for input in [
        vec![0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0],
        vec![0x9a, 0xff, 0xff, 0xff, 0xff],
        vec![0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0x7a, 0x7f, 0xff, 0xff, 0xff, b'a'],
    ] {
        let err = RepoMessage::decode(&input).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Truncated | DecodeError::CollectionTooLong { .. }
            ),
            "{input:02x?}: {err:?}"
        );
    }
}

#[test]
fn deep_nesting_is_refused() {
    let mut deep = vec![0x81u8; 10_000];
    deep.push(0);
    assert!(matches!(
        RepoMessage::decode(&deep).unwrap_err(),
        DecodeError::TooDeep { .. }
    ));
    let mut indefinite = vec![0x9fu8; 10_000];
    indefinite.extend(std::iter::repeat_n(0xff, 10_000));
    assert!(matches!(
        SyncRequest::decode(&indefinite, &DecodeLimits::DEFAULT).unwrap_err(),
        DecodeError::TooDeep { .. }
    ));
}

#[test]
fn size_and_collection_limits_are_configurable() {
    let limits = DecodeLimits {
        max_bytes: 16,
        max_depth: 4,
        max_collection_len: 3,
    };
    let err = RepoMessage::decode_with(&valid_sync(), &limits).unwrap_err();
    assert!(matches!(err, DecodeError::TooLarge { .. }));
    assert_eq!(err.code(), ErrorCode::TooLarge);
    let four = cbor(&ciborium::Value::Array(vec![0.into(); 4]));
    let err = SyncRequest::decode(&four, &limits).unwrap_err();
    assert_eq!(err, DecodeError::CollectionTooLong { len: 4, limit: 3 });
}

#[test]
fn envelope_versions_are_checked() {
    let v2 = cbor(&map(&[("v", 2.into()), ("somethingNew", true.into())]));
    let err = SyncRequest::decode(&v2, &DecodeLimits::DEFAULT).unwrap_err();
    assert_eq!(err, DecodeError::UnsupportedVersion(2));
    assert_eq!(err.code(), ErrorCode::UnsupportedVersion);
    let v2_response = cbor(&map(&[
        ("v", 2.into()),
        ("cursor", ciborium::Value::Bytes(vec![])),
    ]));
    assert_eq!(
        SyncResponse::decode(&v2_response, &DecodeLimits::DEFAULT).unwrap_err(),
        DecodeError::UnsupportedVersion(2)
    );
    let no_version = cbor(&map(&[("docs", ciborium::Value::Array(vec![]))]));
    assert!(matches!(
        SyncRequest::decode(&no_version, &DecodeLimits::DEFAULT).unwrap_err(),
        DecodeError::Shape(_)
    ));
    let long_cursor = cbor(&map(&[
        ("v", 1.into()),
        ("cursor", ciborium::Value::Bytes(vec![0; 1000])),
    ]));
    assert!(matches!(
        SyncRequest::decode(&long_cursor, &DecodeLimits::DEFAULT).unwrap_err(),
        DecodeError::Shape(_)
    ));
    let short_hash = cbor(&map(&[
        ("v", 1.into()),
        (
            "docs",
            ciborium::Value::Array(vec![map(&[
                ("id", "2iawmSHqvo66G7Lxrvyz4Rc4Espv".into()),
                (
                    "heads",
                    ciborium::Value::Array(vec![ciborium::Value::Bytes(vec![1; 31])]),
                ),
            ])]),
        ),
    ]));
    assert!(matches!(
        SyncRequest::decode(&short_hash, &DecodeLimits::DEFAULT).unwrap_err(),
        DecodeError::Shape(_)
    ));
}

#[test]
fn the_checked_in_corpus_never_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let results = [
            RepoMessage::decode(&input).map(|_| ()),
            SyncRequest::decode(&input, &DecodeLimits::DEFAULT).map(|_| ()),
            SyncResponse::decode(&input, &DecodeLimits::DEFAULT).map(|_| ()),
        ];
        // Corpus files are all malformed for at least one decoder.
        assert!(
            results.iter().any(Result::is_err),
            "{} decoded everywhere",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 10, "the hostile corpus has {seen} files");
}
