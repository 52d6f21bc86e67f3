//! Any `POST /v1/sync` body: decoding never panics, and whatever decodes
//! re-encodes to an equal request.
#![no_main]

use fengqiao_protocol::{DecodeLimits, SyncRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(request) = SyncRequest::decode(body, &DecodeLimits::DEFAULT) {
        let again = SyncRequest::decode(&request.encode(), &DecodeLimits::DEFAULT)
            .expect("our own encoding decodes");
        assert_eq!(again, request);
    }
});
