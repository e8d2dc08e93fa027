//! The encoding: exact bytes for a small object, a pinned SHA-256 for one of every type,
//! strict refusals, and mutated or truncated bytes that must be refused (or read as exactly
//! what they encode) without a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bcdb::object::{Object, ObjectError, MAX_DEPTH};
use bcdb::schema::Schema;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::gen::{corpus, resolve_any};
use super::{accept, resolver, schemas};

const PINNED: &str = r#"@url = pin.all.1
s = (S)
i = (I)
f = (F)
b = (B)
n = (N)
e = "a,b,c" (E)
h = (H)
l = (LS)
bin = (BYTES)
o = (O) !pin.sub.1
d = (D)
u = (L)
g = (DICT)
lo = (LO) !pin.sub.1

@url = pin.sub.1
x = (I64)
y = 1.5
"#;

fn pinned_object(all: &[Schema]) -> Object {
    accept(
        all,
        &json!({
            "s": "héllo", "i": -2, "f": 0.1, "b": "yes", "n": "-0.5k tft", "e": "C",
            "h": "46:682", "l": ["x", ""], "bin": "00ff", "o": {"x": i64::MIN},
            "d": "2020-02-29", "u": ["a", 1, 2.5, false], "g": {"z": [1, {"a": null}], "b": "c"},
            "lo": [{}, {"x": 1, "y": -0.0}],
        }),
    )
}

#[test]
fn small_object_bytes_are_exactly_the_documented_layout() {
    let all = schemas("@url = pin.small.1\nname = (S)\nage = (I)\n");
    let o = accept(&all, &json!({"name": "ab", "age": -2}));
    let expected = concat!(
        "01",       // version
        "02000000", // two fields
        "0000",
        "01",
        "02000000",
        "6162", // field 0, text, length 2, "ab"
        "0100",
        "02",
        "feffffffffffffff", // field 1, int, -2
    );
    assert_eq!(hex::encode(o.encode()), expected);
    let empty = accept(&all, &json!({}));
    assert_eq!(empty.encode(), [1, 0, 0, 0, 0]);
}

#[test]
fn pinned_encoding_never_changes() {
    let all = schemas(PINNED);
    let o = pinned_object(&all);
    let bytes = o.encode();
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        "12ed868ecd91b1fe6dea222bae6952444930dc980eaae5b0b1a5de82637c54ae",
        "bytes: {}",
        hex::encode(&bytes)
    );
}

fn decode(all: &[Schema], bytes: &[u8]) -> Result<Object, ObjectError> {
    Object::decode(bytes, &all[0], &resolver(all))
}

fn malformed_at(all: &[Schema], bytes: &[u8]) -> usize {
    match decode(all, bytes) {
        Err(ObjectError::Malformed { at, .. }) => at,
        other => panic!("{}: {other:?}", hex::encode(bytes)),
    }
}

fn bytes(hex: &str) -> Vec<u8> {
    hex::decode(hex).unwrap()
}

#[test]
fn decode_is_strict() {
    let all = schemas("@url = pin.small.1\nname = (S)\nage = (I)\nok = (B)\nf = (F)\n");
    let good = bytes(concat!("01", "01000000", "0000", "01", "02000000", "6162"));
    assert!(decode(&all, &good).is_ok());
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(malformed_at(&all, &trailing), 14);
    assert_eq!(malformed_at(&all, &bytes("02")), 0);
    assert_eq!(malformed_at(&all, &[]), 0);
    // More fields counted than present; field 1 before field 0; field 0 twice.
    let short = bytes(concat!("01", "02000000", "0200", "0401"));
    assert!(decode(&all, &short).is_err());
    let swapped = concat!("01", "02000000", "0100", "02", "feffffffffffffff");
    let swapped = bytes(&format!("{swapped}00000102000000{}", "6162"));
    assert_eq!(malformed_at(&all, &swapped), 16);
    let twice = concat!("01", "02000000", "0000", "01", "00000000", "0000", "01", "00000000");
    assert_eq!(malformed_at(&all, &bytes(twice)), 12);
    // A bool of 2, an unknown tag, invalid UTF-8, -0.0, NaN.
    let at = |hex: &str| malformed_at(&all, &bytes(hex));
    assert_eq!(at(concat!("01", "01000000", "0200", "04", "02")), 8);
    assert_eq!(at(concat!("01", "01000000", "0200", "0b", "00")), 7);
    assert_eq!(
        at(concat!("01", "01000000", "0000", "01", "01000000", "ff")),
        12
    );
    assert_eq!(
        at(concat!("01", "01000000", "0300", "03", "0000000000000080")),
        8
    );
    assert_eq!(
        at(concat!("01", "01000000", "0300", "03", "000000000000f87f")),
        8
    );
    // Values of the wrong type, unknown field numbers, ints out of range.
    let text_in_int = bytes(concat!("01", "01000000", "0100", "01", "02000000", "6162"));
    let e = decode(&all, &text_in_int);
    assert!(
        matches!(&e, Err(ObjectError::Invalid { path, .. }) if path == "age"),
        "{e:?}"
    );
    let unknown = bytes(concat!("01", "01000000", "0900", "04", "01"));
    let e = decode(&all, &unknown);
    assert!(
        matches!(&e, Err(ObjectError::UnknownField { path, .. }) if path == "#9"),
        "{e:?}"
    );
    let big = bytes(concat!("01", "01000000", "0100", "02", "0000008000000000"));
    assert!(matches!(
        decode(&all, &big),
        Err(ObjectError::Invalid { .. })
    ));
}

#[test]
fn decode_refuses_nesting_past_the_bound() {
    let all = schemas("@url = r.node.1\nv = (I)\nchild = (O) !r.node.1\n");
    let mut json = json!({"v": 1});
    for _ in 0..MAX_DEPTH {
        json = json!({ "child": json });
    }
    let bytes = accept(&all, &json).encode();
    assert!(decode(&all, &bytes).is_ok());
    // One more level around it, by hand: one field, number 1, object tag, then the fields.
    let mut deeper = vec![1, 1, 0, 0, 0, 1, 0, 0x0a];
    deeper.extend_from_slice(&bytes[1..]);
    let e = decode(&all, &deeper);
    assert!(
        matches!(&e, Err(ObjectError::Malformed { reason, .. }) if reason.contains("nested")),
        "{e:?}"
    );
}

#[test]
fn every_truncation_of_the_pinned_object_is_refused() {
    let all = schemas(PINNED);
    let bytes = pinned_object(&all).encode();
    for len in 0..bytes.len() {
        assert!(
            decode(&all, &bytes[..len]).is_err(),
            "prefix of {len} bytes"
        );
    }
}

fn mutate(rng: &mut StdRng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..rng.gen_range(1..=3) {
        let at = rng.gen_range(0..=out.len());
        match rng.gen_range(0..6) {
            0 if at < out.len() => out[at] ^= 1 << rng.gen_range(0..8),
            1 if at < out.len() => out[at] = rng.gen(),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => out.insert(at, rng.gen()),
            4 => out.truncate(at),
            _ => {
                let end = (at + rng.gen_range(0..8)).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.gen_range(0..=out.len());
                out.splice(to..to, copy);
            }
        }
    }
    out
}

#[test]
fn mutated_bytes_never_panic_and_never_decode_to_other_bytes() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut corpus = corpus(40, 3, 99);
    let pinned = schemas(PINNED);
    let object = pinned_object(&pinned);
    corpus.push((pinned, object));
    let (mut n_tried, mut n_decoded) = (0, 0);
    for (all, object) in &corpus {
        let resolve = resolve_any(all);
        let bytes = object.encode();
        for _ in 0..40 {
            let input = if rng.gen_bool(0.05) {
                (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect()
            } else {
                mutate(&mut rng, &bytes)
            };
            let result = catch_unwind(AssertUnwindSafe(|| {
                Object::decode(&input, &all[0], &resolve)
            }));
            let Ok(result) = result else {
                panic!("decode panicked on {}", hex::encode(&input));
            };
            n_tried += 1;
            if let Ok(o) = result {
                assert_eq!(o.encode(), input, "decoded to other bytes");
                n_decoded += 1;
            }
        }
    }
    assert!(n_tried >= 4_000, "{n_tried}");
    assert!(
        n_decoded < n_tried / 2,
        "{n_decoded} of {n_tried} mutations decoded"
    );
}
