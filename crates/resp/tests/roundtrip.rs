//! Randomised checks of the codecs: byte soups never panic, valid frames round-trip in any chunking.

use bytes::{Bytes, BytesMut};
use resp::{encode_request, parse_reply, parse_request, Limits, Reply, ReplyLimits};

/// A small deterministic generator (splitmix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Bytes biased towards the protocol's own characters.
    fn byte(&mut self) -> u8 {
        const SPECIAL: &[u8] = b"*$+-:\r\n0123456789";
        if self.below(3) == 0 {
            self.next() as u8
        } else {
            SPECIAL[self.below(SPECIAL.len())]
        }
    }

    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.byte()).collect()
    }

    /// A valid request stream with a few bytes replaced, inserted or removed.
    fn mutated_requests(&mut self) -> Vec<u8> {
        let mut wire = BytesMut::new();
        for _ in 0..1 + self.below(3) {
            let args: Vec<Vec<u8>> = (0..1 + self.below(4)).map(|_| self.bytes(8)).collect();
            let args: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
            encode_request(&mut wire, &args);
        }
        let mut soup = wire.to_vec();
        for _ in 0..self.below(3) {
            let at = self.below(soup.len());
            match self.below(3) {
                0 => soup[at] = self.byte(),
                1 => soup.insert(at, self.byte()),
                _ => drop(soup.remove(at)),
            }
        }
        soup
    }
}

fn small_limits() -> Limits {
    Limits {
        max_args: 5,
        max_bulk: 20,
        max_line: 6,
    }
}

#[test]
fn request_soup_never_panics() {
    let mut rng = Rng(1);
    let (mut n_ok, mut n_err) = (0, 0);
    for _ in 0..20_000 {
        let soup = match rng.below(3) {
            0 => rng.bytes(64),
            1 => [&b"*"[..], &rng.bytes(64)].concat(),
            _ => rng.mutated_requests(),
        };
        for limits in [Limits::default(), small_limits()] {
            let mut buf = BytesMut::from(&soup[..]);
            loop {
                let before = buf.clone();
                match parse_request(&mut buf, &limits) {
                    Ok(Some(req)) => {
                        assert!(!req.args.is_empty() && buf.len() < before.len());
                        let mut again = BytesMut::new();
                        let args: Vec<&[u8]> = req.args.iter().map(|a| &a[..]).collect();
                        encode_request(&mut again, &args);
                        let back = parse_request(&mut again, &limits)
                            .expect("re-encoded")
                            .expect("whole");
                        assert_eq!(back, req);
                        n_ok += 1;
                    }
                    Ok(None) => {
                        assert_eq!(buf, before);
                        break;
                    }
                    Err(_) => {
                        n_err += 1;
                        break;
                    }
                }
            }
        }
    }
    // The soup must exercise both outcomes, not only one of them.
    assert!(
        n_ok > 1_000 && n_err > 1_000,
        "{n_ok} requests, {n_err} errors"
    );
}

#[test]
fn random_requests_round_trip_in_any_chunking() {
    let mut rng = Rng(2);
    let limits = Limits::default();
    for _ in 0..2_000 {
        let n_requests = 1 + rng.below(6);
        let requests: Vec<Vec<Vec<u8>>> = (0..n_requests)
            .map(|_| (0..1 + rng.below(6)).map(|_| rng.bytes(40)).collect())
            .collect();
        let mut wire = BytesMut::new();
        for args in &requests {
            let args: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
            encode_request(&mut wire, &args);
        }
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(1 + rng.below(rest.len().min(50)));
            rest = tail;
            buf.extend_from_slice(chunk);
            while let Some(req) = parse_request(&mut buf, &limits).expect("valid") {
                got.push(req.args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            }
        }
        assert!(buf.is_empty());
        assert_eq!(got, requests);
    }
}

fn random_reply(rng: &mut Rng, depth: usize) -> Reply {
    let kind = if depth >= 3 {
        rng.below(6)
    } else {
        rng.below(8)
    };
    let line = |rng: &mut Rng| -> Bytes {
        let text: Vec<u8> = rng
            .bytes(12)
            .into_iter()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        Bytes::from(text)
    };
    match kind {
        0 => Reply::Status(line(rng)),
        1 => Reply::Error(line(rng)),
        2 => Reply::Integer(rng.next() as i64),
        3 => Reply::Bulk(Some(Bytes::from(rng.bytes(30)))),
        4 => Reply::Bulk(None),
        5 => Reply::Array(None),
        _ => Reply::Array(Some(
            (0..rng.below(5))
                .map(|_| random_reply(rng, depth + 1))
                .collect(),
        )),
    }
}

#[test]
fn random_replies_round_trip_in_any_chunking() {
    let mut rng = Rng(3);
    let limits = ReplyLimits::default();
    for _ in 0..2_000 {
        let replies: Vec<Reply> = (0..1 + rng.below(5))
            .map(|_| random_reply(&mut rng, 0))
            .collect();
        let mut wire = BytesMut::new();
        for r in &replies {
            r.encode(&mut wire);
        }
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(1 + rng.below(rest.len().min(50)));
            rest = tail;
            buf.extend_from_slice(chunk);
            while let Some(r) = parse_reply(&mut buf, &limits).expect("valid") {
                got.push(r);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(got, replies);
    }
}

#[test]
fn reply_soup_never_panics() {
    let mut rng = Rng(4);
    let small = ReplyLimits {
        max_depth: 3,
        max_array: 4,
        max_bulk: 20,
        max_line: 8,
    };
    for _ in 0..20_000 {
        let soup = rng.bytes(64);
        for limits in [ReplyLimits::default(), small] {
            let mut buf = BytesMut::from(&soup[..]);
            loop {
                let before = buf.clone();
                match parse_reply(&mut buf, &limits) {
                    Ok(Some(reply)) => {
                        assert!(buf.len() < before.len());
                        let mut again = BytesMut::new();
                        reply.encode(&mut again);
                        let back = parse_reply(&mut again, &limits)
                            .expect("re-encoded")
                            .expect("whole");
                        assert_eq!(back, reply);
                    }
                    Ok(None) => {
                        assert_eq!(buf, before);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
    }
}
