//! Feeds arbitrary bytes to `parse_request`, whole and split in two, and re-encodes what it accepts.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use resp::{encode_request, parse_request, Limits, Request, RequestError};

/// Parses requests off `buf` until it is incomplete or invalid.
fn drain(buf: &mut BytesMut, limits: &Limits, out: &mut Vec<Request>) -> Option<RequestError> {
    loop {
        let before = buf.len();
        match parse_request(buf, limits) {
            Ok(Some(req)) => {
                assert!(buf.len() < before, "a request must consume bytes");
                assert!(!req.args.is_empty() && req.args.len() <= limits.max_args);
                assert!(req.args.iter().all(|a| a.len() <= limits.max_bulk));
                out.push(req);
            }
            Ok(None) => {
                assert_eq!(
                    buf.len(),
                    before,
                    "an incomplete request must not consume bytes"
                );
                return None;
            }
            Err(e) => return Some(e),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limits, so small bounds get exercised too.
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let limits = if mode & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_args: 3,
            max_bulk: 16,
            max_line: 6,
        }
    };

    let mut whole = BytesMut::from(input);
    let mut from_whole = Vec::new();
    let whole_err = drain(&mut whole, &limits, &mut from_whole);

    // The same bytes delivered in two parts must decode the same way.
    let split = usize::from(mode >> 1) % (input.len() + 1);
    let mut parts = BytesMut::from(&input[..split]);
    let mut from_parts = Vec::new();
    let mut parts_err = drain(&mut parts, &limits, &mut from_parts);
    parts.extend_from_slice(&input[split..]);
    if parts_err.is_none() {
        parts_err = drain(&mut parts, &limits, &mut from_parts);
    }
    assert_eq!(from_whole, from_parts);
    assert_eq!(whole_err, parts_err);
    assert_eq!(whole, parts);

    for req in from_whole {
        let args: Vec<&[u8]> = req.args.iter().map(|a| &a[..]).collect();
        let mut wire = BytesMut::new();
        encode_request(&mut wire, &args);
        let again = parse_request(&mut wire, &limits).expect("re-encoded request parses");
        assert_eq!(again.as_ref(), Some(&req));
        assert!(wire.is_empty());
    }
});
