//! Request signatures through the public API only, as a hub server and its
//! clients use them: sign, parse, verify, replay guard, body digests.

use identity::http_signature::{
    body_digest, sign_request, sign_request_with_nonce, unix_now, AuthError, AuthHeader,
    BodyDigest, ReplayGuard, RequestToSign, DEFAULT_WINDOW_SECS,
};
use identity::{KeyPair, Signature};

const NOW: u64 = 1_700_000_000;
const W: u64 = DEFAULT_WINDOW_SECS;

fn key(n: u8) -> KeyPair {
    KeyPair::from_seed(&[n; 32])
}

fn req<'a>(method: &'a str, path: &'a str, body: &[u8]) -> RequestToSign<'a> {
    RequestToSign {
        method,
        path_and_query: path,
        body_digest: body_digest(body),
    }
}

/// A valid header for a PUT, parsed.
fn signed(created: u64, nonce: [u8; 16]) -> (AuthHeader, RequestToSign<'static>) {
    let r = req("PUT", "/flists/alpine.fl?force=1", b"body bytes");
    let value = sign_request_with_nonce(&key(1), &r, created, nonce);
    (AuthHeader::parse(&value).unwrap(), r)
}

fn header_text(key: &str, created: &str, nonce: &str, sig: &str) -> String {
    format!(
        "TFGrid-Ed25519 key=\"{key}\",created=\"{created}\",nonce=\"{nonce}\",signature=\"{sig}\""
    )
}

#[test]
fn round_trip() {
    let k = key(1);
    let r = req("POST", "/blocks/upload?x=1&y=%20", b"payload");
    let value = sign_request(&k, &r, NOW);
    assert!(value.starts_with(&format!("TFGrid-Ed25519 key=\"{}\",", k.public().to_hex())));
    assert!(value.len() < 512, "{} bytes", value.len());
    let header = AuthHeader::parse(&value).unwrap();
    assert_eq!(header.key, k.public());
    assert_eq!(header.created, NOW);
    assert_eq!(header.verify(&r, NOW, W).unwrap(), k.public());
    // The method is case-insensitive.
    let lower = RequestToSign {
        method: "post",
        ..r
    };
    assert_eq!(header.verify(&lower, NOW, W).unwrap(), k.public());
    // Fresh nonces: signing twice gives two different headers.
    let again = AuthHeader::parse(&sign_request(&k, &r, NOW)).unwrap();
    assert_ne!(again.nonce, header.nonce);
    assert!(unix_now() > NOW);
}

#[test]
fn pinned_vector() {
    // Fixes the signed bytes: a client in another language must produce this.
    let r = req("GET", "/api/flists", b"");
    let value = sign_request_with_nonce(&key(7), &r, 1_700_000_000, [0x11; 16]);
    assert_eq!(value, PINNED);
    let header = AuthHeader::parse(&value).unwrap();
    header.verify(&r, NOW, 0).unwrap();
    // The documented layout, built by hand: the method uppercased, the path
    // and query as sent, created, nonce, body digest.
    let payload = identity::Payload::new("http-request")
        .field(b"GET")
        .field(b"/api/flists")
        .u64(1_700_000_000)
        .field(&[0x11; 16])
        .field(&body_digest(b""));
    key(7).public().verify(&payload, &header.signature).unwrap();
}

const PINNED: &str = "TFGrid-Ed25519 key=\"ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c\",created=\"1700000000\",nonce=\"11111111111111111111111111111111\",signature=\"ec05547fb96ce763c815e0a786e45886f19e6d872e9243ee4bd9f3af175752b6d2f32a0c1b78fef127536506cff36428c689ab5932c541dc53ff269107e2ed0c\"";

#[test]
fn tampering_breaks_the_signature() {
    let (good, r) = signed(NOW, [9; 16]);
    good.verify(&r, NOW, W).unwrap();
    let bad = |h: &AuthHeader, r: &RequestToSign<'_>| {
        assert!(matches!(h.verify(r, NOW, W), Err(AuthError::BadSignature)));
    };
    bad(
        &good,
        &RequestToSign {
            method: "POST",
            ..r
        },
    );
    bad(
        &good,
        &RequestToSign {
            path_and_query: "/flists/alpine.fl?force=0",
            ..r
        },
    );
    bad(
        &good,
        &RequestToSign {
            path_and_query: "/flists/alpine.fl",
            ..r
        },
    );
    bad(
        &good,
        &RequestToSign {
            body_digest: body_digest(b"other body"),
            ..r
        },
    );
    bad(
        &AuthHeader {
            created: NOW + 1,
            ..good.clone()
        },
        &r,
    );
    bad(
        &AuthHeader {
            nonce: [8; 16],
            ..good.clone()
        },
        &r,
    );
    bad(
        &AuthHeader {
            key: key(2).public(),
            ..good.clone()
        },
        &r,
    );
    let mut sig = good.signature.to_bytes();
    sig[0] ^= 1;
    bad(
        &AuthHeader {
            signature: Signature::from_bytes(&sig),
            ..good.clone()
        },
        &r,
    );
    // A signature with another purpose over the same fields does not pass.
    let other = identity::Payload::new("flist").field(b"PUT");
    bad(
        &AuthHeader {
            signature: key(1).sign(&other),
            ..good
        },
        &r,
    );
}

#[test]
fn clock_window_both_sides_and_edges() {
    for created in [NOW - W, NOW, NOW + W] {
        let (h, r) = signed(created, [1; 16]);
        h.verify(&r, NOW, W).unwrap();
    }
    for created in [NOW - W - 1, NOW + W + 1, 0, u64::MAX] {
        let (h, r) = signed(created, [1; 16]);
        let err = h.verify(&r, NOW, W).unwrap_err();
        assert!(matches!(err, AuthError::Expired { created: c, now: NOW } if c == created));
    }
    let (h, r) = signed(NOW - W - 1, [1; 16]);
    let text = h.verify(&r, NOW, W).unwrap_err().to_string();
    assert!(text.contains("301s old"), "{text}");
    let (h, r) = signed(NOW + W + 1, [1; 16]);
    let text = h.verify(&r, NOW, W).unwrap_err().to_string();
    assert!(text.contains("301s in the future"), "{text}");
    // An expired header is refused before its signature is looked at.
    let (h, r) = signed(NOW - W - 1, [1; 16]);
    let wrong = RequestToSign {
        method: "DELETE",
        ..r
    };
    assert!(matches!(
        h.verify(&wrong, NOW, W),
        Err(AuthError::Expired { .. })
    ));
}

#[test]
fn header_forms_that_parse() {
    let value = sign_request_with_nonce(&key(1), &req("GET", "/", b""), NOW, [3; 16]);
    let want = AuthHeader::parse(&value).unwrap();
    let (_, params) = value.split_once(' ').unwrap();
    let parts: Vec<&str> = params.split(',').collect();
    // Any order, optional whitespace, case-insensitive scheme and names.
    let reordered = format!(
        "TFGrid-Ed25519 {}",
        [parts[3], parts[1], parts[0], parts[2]].join(",")
    );
    let spaced = format!("  tfgrid-ed25519   {} ", parts.join(" ,\t"));
    let upper = value.replace("key=", "KEY=").replace("nonce=", "Nonce=");
    for text in [reordered, spaced, upper] {
        assert_eq!(AuthHeader::parse(&text).unwrap(), want, "{text}");
    }
}

#[test]
fn malformed_headers_are_refused_with_the_reason() {
    let value = sign_request_with_nonce(&key(1), &req("GET", "/", b""), NOW, [3; 16]);
    let h = AuthHeader::parse(&value).unwrap();
    let (k, n, s) = (h.key.to_hex(), hex::encode(h.nonce), h.signature.to_hex());
    let c = NOW.to_string();
    let no_point = (0..=255u8)
        .map(|b| [b; 32])
        .find(|b| identity::PublicKey::from_bytes(b).is_err())
        .map(hex::encode)
        .unwrap();
    let malformed = [
        (
            format!("TFGrid-Ed25519 key=\"{k}\",created=\"{c}\",nonce=\"{n}\""),
            "missing signature",
        ),
        (
            format!("TFGrid-Ed25519 created=\"{c}\",nonce=\"{n}\",signature=\"{s}\""),
            "missing key",
        ),
        (format!("{value},nonce=\"{n}\""), "nonce given twice"),
        (format!("{value},"), "has no '='"),
        (format!("{value},extra=\"1\""), "unknown parameter"),
        ("TFGrid-Ed25519".to_string(), "no parameters"),
        ("TFGrid-Ed25519 ".to_string(), "no parameters"),
        (
            header_text(&k, &c, &n, &s)
                .replace("created=\"", "created=")
                .replace(&format!("{c}\""), &c),
            "not a quoted string",
        ),
        (
            header_text(&k, &c, &n, &s).replace("key=\"", "key=\"\\"),
            "not a quoted string",
        ),
        (
            header_text(&k, &c, &n, &s).replace("key=\"", "key =\""),
            "unknown parameter",
        ),
        (header_text(&k[2..], &c, &n, &s), "key has 62 characters"),
        (
            header_text(&format!("{k}00"), &c, &n, &s),
            "key has 66 characters",
        ),
        (header_text(&k, &c, &n[2..], &s), "nonce has 30 characters"),
        (
            header_text(&k, &c, &n, &s[1..]),
            "signature has 127 characters",
        ),
        (
            header_text(&k, &c, &n.replace('0', "g"), &s),
            "nonce is not hex",
        ),
        (
            header_text(&no_point, &c, &n, &s),
            "not an ed25519 public key",
        ),
        (header_text(&k, "-1", &n, &s), "not decimal"),
        (header_text(&k, "+1", &n, &s), "not decimal"),
        (header_text(&k, "", &n, &s), "not decimal"),
        (header_text(&k, " 1", &n, &s), "not decimal"),
        (
            header_text(&k, "18446744073709551616", &n, &s),
            "out of range",
        ),
        (
            format!("{value}{}", " ".repeat(513 - value.len())),
            "513 bytes",
        ),
        (
            format!("{value},nonce=\"{}\"", "a".repeat(2000)),
            "bytes, at most 512",
        ),
    ];
    for (text, reason) in malformed {
        match AuthHeader::parse(&text) {
            Err(e @ AuthError::Malformed(_)) => {
                let msg = e.to_string();
                assert!(msg.starts_with("malformed Authorization header: "), "{msg}");
                assert!(msg.contains(reason), "{text:?}: {msg}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let max = header_text(&k, &"0".repeat(20), &n, &s);
    assert!(max.len() <= 512);
    assert_eq!(AuthHeader::parse(&max).unwrap().created, 0);
    for text in [
        "",
        "Bearer abc",
        "Basic dXNlcjpwYXNz",
        "TFGrid-Ed25519x key=\"\"",
        "TFGrid key=\"1\"",
    ] {
        assert!(
            matches!(AuthHeader::parse(text), Err(AuthError::UnknownScheme)),
            "{text:?}"
        );
    }
}

#[test]
fn no_input_makes_the_parser_panic() {
    let value = sign_request_with_nonce(&key(1), &req("GET", "/", b""), NOW, [3; 16]);
    for end in 0..value.len() {
        assert!(AuthHeader::parse(&value[..end]).is_err());
    }
    let mut bytes = value.into_bytes();
    for i in 0..bytes.len() {
        let orig = bytes[i];
        for b in [b'"', b',', b'=', b' ', b'\\', b'z', b'0', 0xC3] {
            bytes[i] = b;
            let _ = AuthHeader::parse(&String::from_utf8_lossy(&bytes));
        }
        bytes[i] = orig;
    }
}

#[test]
fn replay_guard_accepts_each_request_once() {
    let guard = ReplayGuard::new(NOW - 100, W, 10);
    let (h, _) = signed(NOW, [1; 16]);
    guard.check(&h, NOW).unwrap();
    assert!(matches!(guard.check(&h, NOW), Err(AuthError::Replayed)));
    // Another nonce, or the same nonce from another key, is a new request.
    guard.check(&signed(NOW, [2; 16]).0, NOW).unwrap();
    guard
        .check(
            &AuthHeader {
                key: key(2).public(),
                ..h.clone()
            },
            NOW,
        )
        .unwrap();
    // Created before the server started.
    let (old, _) = signed(NOW - 101, [3; 16]);
    assert!(matches!(guard.check(&old, NOW), Err(AuthError::TooOld)));
    guard.check(&signed(NOW - 100, [3; 16]).0, NOW).unwrap();
    // Outside the window on its own, even without verify.
    let (future, _) = signed(NOW + W + 1, [4; 16]);
    assert!(matches!(
        guard.check(&future, NOW),
        Err(AuthError::Expired { .. })
    ));
    // Still refused at the last second of its window.
    assert!(matches!(guard.check(&h, NOW + W), Err(AuthError::Replayed)));
}

#[test]
fn replay_guard_evicts_expired_entries_and_refuses_when_full() {
    let guard = ReplayGuard::new(0, 10, 2);
    guard.check(&signed(NOW, [1; 16]).0, NOW).unwrap();
    guard.check(&signed(NOW + 1, [2; 16]).0, NOW).unwrap();
    // Full of live entries: refused, and the live nonces are still known.
    assert!(matches!(
        guard.check(&signed(NOW, [3; 16]).0, NOW + 10),
        Err(AuthError::Busy)
    ));
    assert!(matches!(
        guard.check(&signed(NOW, [1; 16]).0, NOW + 10),
        Err(AuthError::Replayed)
    ));
    // At NOW + 11 the first entry is out of the window: its slot is reused.
    guard.check(&signed(NOW + 5, [3; 16]).0, NOW + 11).unwrap();
    assert!(matches!(
        guard.check(&signed(NOW + 5, [4; 16]).0, NOW + 11),
        Err(AuthError::Busy)
    ));
    // The evicted request cannot come back: it is outside the window...
    let (first, _) = signed(NOW, [1; 16]);
    assert!(matches!(
        guard.check(&first, NOW + 11),
        Err(AuthError::Expired { .. })
    ));
    // ...even if the clock is stepped back.
    assert!(matches!(
        guard.check(&first, NOW),
        Err(AuthError::Expired { .. })
    ));
    // Later on, everything expired and the table is free again.
    guard
        .check(&signed(NOW + 100, [5; 16]).0, NOW + 100)
        .unwrap();
    guard
        .check(&signed(NOW + 100, [6; 16]).0, NOW + 100)
        .unwrap();
}

#[test]
fn replay_guard_is_shared_between_threads() {
    let guard = ReplayGuard::new(0, W, 1000);
    let (h, _) = signed(NOW, [7; 16]);
    let accepted = std::thread::scope(|s| {
        let runs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| guard.check(&h, NOW).is_ok()))
            .collect();
        runs.into_iter()
            .map(|r| r.join().unwrap())
            .filter(|&ok| ok)
            .count()
    });
    assert_eq!(accepted, 1);
}

#[test]
fn body_digest_vectors() {
    assert_eq!(
        hex::encode(body_digest(b"abc")),
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
    );
    assert_eq!(
        hex::encode(body_digest(b"")),
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
    );
    let body: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
    for chunk in [1, 7, 128, 129, 4096, 10_000] {
        let mut d = BodyDigest::new();
        for part in body.chunks(chunk) {
            d.update(part);
        }
        assert_eq!(d.finish(), body_digest(&body), "chunk {chunk}");
    }
    let mut d = BodyDigest::default();
    d.update(b"a");
    let fork = d.clone();
    d.update(b"bc");
    assert_eq!(d.finish(), body_digest(b"abc"));
    assert_eq!(fork.finish(), body_digest(b"a"));
}
