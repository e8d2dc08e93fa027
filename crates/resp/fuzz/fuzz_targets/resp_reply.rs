//! Feeds arbitrary bytes to `parse_reply`, whole and split in two, and re-encodes what it accepts.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use resp::{parse_reply, Reply, ReplyError, ReplyLimits};

/// Parses replies off `buf` until it is incomplete or invalid.
fn drain(buf: &mut BytesMut, limits: &ReplyLimits, out: &mut Vec<Reply>) -> Option<ReplyError> {
    loop {
        let before = buf.len();
        match parse_reply(buf, limits) {
            Ok(Some(reply)) => {
                assert!(buf.len() < before, "a reply must consume bytes");
                out.push(reply);
            }
            Ok(None) => {
                assert_eq!(
                    buf.len(),
                    before,
                    "an incomplete reply must not consume bytes"
                );
                return None;
            }
            Err(e) => return Some(e),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let limits = if mode & 1 == 0 {
        ReplyLimits::default()
    } else {
        ReplyLimits {
            max_depth: 3,
            max_array: 4,
            max_bulk: 16,
            max_line: 8,
        }
    };

    let mut whole = BytesMut::from(input);
    let mut from_whole = Vec::new();
    let whole_err = drain(&mut whole, &limits, &mut from_whole);

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

    for reply in from_whole {
        let mut wire = BytesMut::new();
        reply.encode(&mut wire);
        let again = parse_reply(&mut wire, &limits).expect("re-encoded reply parses");
        assert_eq!(again.as_ref(), Some(&reply));
        assert!(wire.is_empty());
    }
});
