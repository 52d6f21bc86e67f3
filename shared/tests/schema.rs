//! `clients/js/src/schema.json` is generated from this crate; this test
//! fails when it is stale. `FENGQIAO_BLESS=1 cargo test -p fengqiao-shared
//! --test schema` rewrites it.

use fengqiao_shared::record::ValidationErrorKind;
use fengqiao_shared::schema::Schema;

fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/js/src/schema.json")
}

fn generated() -> String {
    let mut text = serde_json::to_string_pretty(&Schema::current()).expect("the schema serializes");
    text.push('\n');
    text
}

#[test]
fn the_javascript_schema_file_is_generated_from_this_crate() {
    let want = generated();
    let path = path();
    if std::env::var_os("FENGQIAO_BLESS").is_some() {
        std::fs::write(&path, &want).expect("writing the schema file");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run `FENGQIAO_BLESS=1 cargo test -p fengqiao-shared --test schema` \
         and commit the result",
        path.display()
    );
}

#[test]
fn every_error_code_is_listed_once() {
    let codes = ValidationErrorKind::CODES;
    let mut sorted = codes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), codes.len());
    let samples = [
        ValidationErrorKind::MissingField,
        ValidationErrorKind::Empty,
        ValidationErrorKind::TimelineRewritten("removed"),
        ValidationErrorKind::NotTheSender {
            value: "a".into(),
            person: "b".into(),
        },
    ];
    for kind in samples {
        assert!(
            codes.contains(&kind.code()),
            "{} is not listed",
            kind.code()
        );
    }
    let schema = Schema::current();
    let risks: Vec<_> = schema.vocab.risk.iter().map(|t| t.value).collect();
    assert_eq!(risks, ["low", "medium", "high"], "mildest first");
    assert!(
        schema
            .vocab
            .category
            .iter()
            .all(|t| !t.zh.is_empty() && !t.en.is_empty())
    );
}
