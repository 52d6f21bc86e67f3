//! Any response body a phone may receive: decoding never panics, and
//! whatever decodes re-encodes to an equal response.
#![no_main]

use fengqiao_protocol::{DecodeLimits, SyncResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(response) = SyncResponse::decode(body, &DecodeLimits::DEFAULT) {
        let again = SyncResponse::decode(&response.encode(), &DecodeLimits::DEFAULT)
            .expect("our own encoding decodes");
        assert_eq!(again, response);
    }
});
