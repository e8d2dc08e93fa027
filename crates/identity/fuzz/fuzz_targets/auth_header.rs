//! Feeds arbitrary text to `AuthHeader::parse` (a hub or explorer reads it from every signed request) and checks what it accepts.
#![no_main]

use identity::http_signature::body_digest;
use identity::{AuthHeader, RequestToSign};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(header) = AuthHeader::parse(text) else {
        return;
    };
    assert!(text.len() <= 512, "an overlong header was accepted");
    // Whatever parses, verifying must answer (almost surely "bad signature"), never panic.
    let req = RequestToSign {
        method: "PUT",
        path_and_query: "/api/v1/blocks/00",
        body_digest: body_digest(data),
    };
    let _ = header.verify(&req, header.created, 300);
    let _ = header.verify(&req, u64::MAX, u64::MAX);
});
