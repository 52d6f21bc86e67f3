//! Any text as a document id, automerge URL, division code or scope: parsing
//! never panics, and whatever parses formats back to the same text.
#![no_main]

use fengqiao_protocol::{AutomergeUrl, DocumentId, Scope, VillageCode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(id) = DocumentId::parse(text) {
        assert_eq!(id.as_str(), text);
        assert_eq!(DocumentId::from_bytes(id.as_bytes()).ok(), Some(id));
    }
    let _ = DocumentId::parse_any(text);
    if let Ok(url) = AutomergeUrl::parse(text) {
        assert_eq!(AutomergeUrl::parse(&url.to_string()).ok(), Some(url));
    }
    if let Ok(scope) = Scope::parse(text) {
        assert_eq!(scope.prefix(), text);
    }
    if let Ok(village) = VillageCode::new(text) {
        assert!(Scope::from(village.town()).contains(&village));
    }
});
