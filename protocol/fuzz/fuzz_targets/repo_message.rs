//! Any frame: decoding never panics, and whatever decodes re-encodes to an
//! equal message.
#![no_main]

use fengqiao_protocol::RepoMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    if let Ok(message) = RepoMessage::decode(frame) {
        let again = RepoMessage::decode(&message.encode()).expect("our own encoding decodes");
        assert_eq!(again, message);
    }
});
