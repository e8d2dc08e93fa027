//! The vector sets of the fixture: object codec cases, identities, entries, keys,
//! checkpoints and proof encodings, each with Rust's verdict.

use super::*;

/// `python/tests/vectors/codec_cases.json` with Rust's verdicts; cases named `refused: …`
/// must be refused, the others accepted.
pub(super) fn codec_vectors(root: &Path) -> Value {
    let path = root.join("python/tests/vectors/codec_cases.json");
    let cases: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let (mut all, mut schemas) = (Vec::<Schema>::new(), Vec::new());
    for case in cases["schemas"].as_array().unwrap() {
        let parsed = bcdb::schema::parse(case["text"].as_str().unwrap()).unwrap();
        let blocks: Vec<Value> = parsed
            .iter()
            .map(|s| json!({"url": s.url(), "text": s.to_text(), "hash": hex::encode(s.hash())}))
            .collect();
        schemas.push(json!({"name": case["name"], "blocks": blocks}));
        all.extend(parsed);
    }
    let resolve = |url: &str| all.iter().find(|s| s.url() == url).cloned();
    let mut objects = Vec::new();
    for case in cases["objects"].as_array().unwrap() {
        let (name, json) = (case["name"].as_str().unwrap(), &case["json"]);
        let schema = resolve(case["url"].as_str().unwrap()).unwrap();
        let verdict = Object::from_json(&schema, json, &resolve);
        assert_eq!(verdict.is_err(), name.starts_with("refused:"), "{name}");
        objects.push(match verdict {
            Ok(object) => {
                let bytes = object.encode();
                let back = Object::decode(&bytes, &schema, &resolve);
                assert_eq!(back, Ok(object.clone()));
                let view = object.to_json(&schema, &resolve);
                json!({"name": name, "url": case["url"], "json": json, "error": null,
                       "hex": hex::encode(&bytes), "view": view})
            }
            Err(e) => json!({"name": name, "url": case["url"], "json": json,
                             "error": e.to_string(), "loose": case["loose"]}),
        });
    }
    json!({"schemas": schemas, "objects": objects})
}

/// A seed, its key, mnemonic and key file, an auth signature, and the BIP-39 word list
/// rebuilt from `Mnemonic::from_seed` (a seed whose first 11 bits are `i` starts word `i`).
pub(super) fn identity_vectors(dir: &Path, instance: &KeyPair) -> Value {
    let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
    let key = KeyPair::from_seed(&seed);
    let (path, threebot_id) = (dir.join("identity/key.json"), 77);
    let file = KeyFile {
        key: key.clone(),
        threebot_id,
    };
    file.create(&path).unwrap();
    let words: Vec<String> = (0..2048u16)
        .map(|i| {
            let first = [(i >> 3) as u8, ((i & 7) << 5) as u8, 0];
            let phrase = Mnemonic::from_seed(&std::array::from_fn(|j| first[j.min(2)])).phrase();
            phrase.split(' ').next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(words.iter().collect::<BTreeSet<_>>().len(), 2048);
    let nonce = [3u8; 32];
    let auth = Payload::new("bcdb-auth")
        .field(&nonce)
        .field(&instance.public().to_bytes());
    // a change signature: what `Identity.sign_change` must produce byte for byte
    let (change_nonce, value) = (
        1_700_000_000_123_456u64,
        value_hash(b"\x01\x00\x00\x00\x00"),
    );
    let change = Entry::change_payload(
        &instance.public(),
        NS,
        URL.as_bytes(),
        0,
        Op::Create,
        &[1; 32],
        &value,
        change_nonce,
    );
    json!({
        "seed": hex::encode(seed), "public": key.public().to_hex(),
        "phrase": key.mnemonic().phrase(), "threebot_id": threebot_id,
        "key_file": std::fs::read_to_string(&path).unwrap(), "wordlist": words,
        "nonce": hex::encode(nonce), "auth_payload": hex::encode(auth.as_bytes()),
        "auth_signature": key.sign(&auth).to_hex(),
        "change": {"nonce": change_nonce, "value_hash": hex::encode(value),
                   "payload": hex::encode(change.as_bytes()),
                   "signature": key.sign(&change).to_hex()},
    })
}

/// Entry bytes: the good ones, every way the decoder refuses bytes, and author signatures
/// that decode but do not verify for this instance (`key`): made for `other`, or with
/// another nonce. A legacy flag-1 entry (over `author_payload`) still verifies.
pub(super) fn entry_vectors(
    rec_a: &VerifiedRecord,
    rec_b: &VerifiedRecord,
    rec_user: &VerifiedRecord,
    rec_c: &VerifiedRecord,
    key: &KeyPair,
    other: &KeyPair,
) -> Vec<Value> {
    let instance = key.public();
    let case = |name: &str, bytes: &[u8]| entry_case(name, bytes, &instance);
    let mut entries = Vec::new();
    for (name, rec) in [("signed update", rec_a), ("signed creation", rec_b)] {
        entries.push(case(name, &rec.entry));
    }
    entries.push(case("schema-less signed creation", &rec_user.entry));
    entries.push(case("unsigned creation", &rec_c.entry));
    let plain = rec_c.entry.clone();
    let signed = rec_b.entry.clone();
    assert_eq!(signed[signed.len() - 105], 3, "a signed entry is flag 3");
    for cut in [0, 1, 9, 17, 18, 20, plain.len() - 1] {
        entries.push(case(&format!("cut at {cut}"), &plain[..cut]));
    }
    let edit = |bytes: &[u8], f: &dyn Fn(&mut Vec<u8>)| {
        let mut out = bytes.to_vec();
        f(&mut out);
        out
    };
    let coll_at = 18 + 2 + NS.len();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("trailing byte", edit(&plain, &|b| b.push(0))),
        ("version 9", edit(&plain, &|b| b[0] = 9)),
        ("op 77", edit(&plain, &|b| b[17] = 77)),
        ("op 0", edit(&plain, &|b| b[17] = 0)),
        (
            "author flag 4",
            edit(&plain, &|b| *b.last_mut().unwrap() = 4),
        ),
        (
            "author flag 3 without key, nonce and signature",
            edit(&plain, &|b| *b.last_mut().unwrap() = 3),
        ),
        (
            "flag 3 cut in its nonce",
            signed[..signed.len() - 64 - 3].to_vec(),
        ),
        (
            "empty namespace",
            edit(&plain, &|b| {
                b.splice(18..coll_at, [0, 0]);
            }),
        ),
        (
            "namespace of 300 bytes",
            edit(&plain, &|b| {
                b[18..20].copy_from_slice(&300u16.to_le_bytes())
            }),
        ),
        (
            "collection of 1025 bytes",
            edit(&plain, &|b| {
                b[coll_at..coll_at + 2].copy_from_slice(&1025u16.to_le_bytes())
            }),
        ),
        (
            "forged author signature",
            edit(&signed, &|b| {
                let at = b.len() - 5;
                b[at] ^= 1;
            }),
        ),
        (
            "author's value hash changed",
            edit(&signed, &|b| {
                let at = b.len() - 105 - 8 - 1;
                b[at] ^= 1;
            }),
        ),
        (
            "author's nonce changed",
            edit(&signed, &|b| {
                let at = b.len() - 72;
                b[at] ^= 1;
            }),
        ),
    ];
    for (name, bytes) in &cases {
        entries.push(case(name, bytes));
    }
    let not_point = (0..=255u8)
        .map(|b| [b; 32])
        .find(|k| PublicKey::from_bytes(k).is_err())
        .unwrap();
    let key_at = signed.len() - 104;
    entries.push(case(
        "author key not a point",
        &edit(&signed, &|b| {
            b[key_at..key_at + 32].copy_from_slice(&not_point)
        }),
    ));

    // the same change signed for another instance, and in the first form (flag 1)
    let base = Entry::decode(&signed).unwrap();
    let author = KeyPair::from_seed(&[8; 32]);
    let resigned = |payload: identity::Payload, nonce: Option<u64>| {
        let mut e = base.clone();
        e.author = Some(Author {
            key: author.public(),
            signature: author.sign(&payload),
            nonce,
        });
        e
    };
    let (ns, coll, op) = (&base.namespace, &base.collection, base.op);
    let (schema, value) = (&base.schema_hash, &base.value_hash);
    let nonce = base.author.unwrap().nonce.unwrap();
    let elsewhere = resigned(
        Entry::change_payload(&other.public(), ns, coll, 0, op, schema, value, nonce),
        Some(nonce),
    );
    assert!(elsewhere.verify_author(&instance).is_err());
    elsewhere.verify_author(&other.public()).unwrap();
    entries.push(case("signed for another instance", &elsewhere.encode()));
    let legacy = resigned(Entry::author_payload(ns, coll, 0, op, schema, value), None);
    let bytes = legacy.encode();
    assert_eq!(bytes[bytes.len() - 97], 1, "the first form is flag 1");
    legacy.verify_author(&instance).unwrap();
    legacy.verify_author(&other.public()).unwrap();
    entries.push(case("legacy flag 1 signature", &bytes));
    let forged_legacy = edit(&bytes, &|b| {
        let at = b.len() - 97 - 8 - 1;
        b[at] ^= 1;
    });
    entries.push(case("legacy flag 1, value hash changed", &forged_legacy));

    entries
}

/// Which 32-byte strings are ed25519 points: that decides whether a signed entry decodes.
pub(super) fn key_vectors() -> Vec<Value> {
    let mut points = Vec::new();
    for b in 0..=255u8 {
        for k in [[b; 32], {
            let mut k = [0u8; 32];
            k[0] = b;
            k[31] = b;
            k
        }] {
            points.push(json!({"key": hex::encode(k), "valid": PublicKey::from_bytes(&k).is_ok()}));
        }
    }
    points
}

/// Checkpoint texts: the latest, and each way parsing or verifying fails.
pub(super) fn checkpoint_vectors(
    latest: &Checkpoint,
    trusted: &Checkpoint,
    key: &KeyPair,
    other: &KeyPair,
) -> Vec<Value> {
    let resign = |signer: &KeyPair, size: u64, root: Hash| {
        Checkpoint::sign(signer, ORIGIN, size, root, latest.time_ms)
    };
    let text = latest.to_text();
    let (body, sig) = text.split_once("\n\n").unwrap();
    let sig_line = sig.trim_end_matches('\n');
    let (signer_hex, sig_hex) = sig_line.trim_start_matches("— ").split_once(' ').unwrap();
    let root_hex = hex::encode(latest.root);
    let size = format!("\n{}\n", latest.size);
    let mut cps = vec![
        ("latest", text.clone()),
        ("trusted", trusted.to_text()),
        ("empty", String::new()),
        ("short", "a\n1\n".into()),
        ("no blank line", text.replace("\n\n", "\n")),
        ("ascii dash", text.replace("— ", "-- ")),
        ("no final newline", text.trim_end_matches('\n').into()),
        ("extra line", format!("{text}\n")),
        ("size not a number", text.replacen(&size, "\n1x\n", 1)),
        (
            "size with a sign",
            text.replacen(&size, &format!("\n+{}\n", latest.size), 1),
        ),
        (
            "size past u64",
            text.replacen(&size, "\n18446744073709551616\n", 1),
        ),
        (
            "time of 21 digits",
            text.replacen(
                &format!("\n{}\n", latest.time_ms),
                "\n000000001700000000000\n",
                1,
            ),
        ),
        ("root 63 hex", text.replacen(&root_hex, &root_hex[1..], 1)),
        (
            "root in capitals",
            text.replacen(&root_hex, &root_hex.to_uppercase(), 1),
        ),
        (
            "root with a space",
            text.replacen(
                &root_hex,
                &format!("{} {}", &root_hex[..31], &root_hex[32..]),
                1,
            ),
        ),
        (
            "signer in base58",
            text.replacen(signer_hex, &key.public().to_base58(), 1),
        ),
        ("signer garbage", text.replacen(signer_hex, "zz", 1)),
        (
            "signature 127 hex",
            text.replacen(sig_hex, &sig_hex[1..], 1),
        ),
        (
            "two spaces before the signature",
            text.replacen(sig_hex, &format!(" {sig_hex}"), 1),
        ),
        ("no signature", format!("{body}\n\n— {signer_hex}\n")),
        ("size edited", text.replacen(&size, "\n12\n", 1)),
        (
            "by another key",
            resign(other, latest.size, latest.root).to_text(),
        ),
        (
            "origin too long",
            resign(key, 1, [0; 32])
                .to_text()
                .replacen(ORIGIN, &"o".repeat(700), 1),
        ),
        ("empty origin", text.replacen(ORIGIN, "", 1)),
    ];
    // 300 characters but 600 bytes: the length bound counts bytes
    cps.push((
        "origin of 600 bytes",
        text.replacen(ORIGIN, &"é".repeat(300), 1),
    ));
    let checkpoints: Vec<Value> = cps
        .iter()
        .map(|(name, text)| checkpoint_case(name, text, key))
        .collect();
    let verdict = |name: &str| &checkpoints[cps.iter().position(|c| c.0 == name).unwrap()];
    assert_eq!(verdict("latest")["error"], Value::Null);
    assert_eq!(verdict("signer in base58")["error"], Value::Null);
    assert_eq!(verdict("origin of 600 bytes")["kind"], "malformed");

    checkpoints
}

/// The proof wire form: encodings of real proofs, and malformed ones.
pub(super) fn proof_vectors(records: &[&VerifiedRecord]) -> Vec<Value> {
    let mut proofs: Vec<Value> = Vec::new();
    for rec in records {
        let bytes = encode_proof(&rec.inclusion).unwrap();
        assert_eq!(decode_proof(&bytes).unwrap(), rec.inclusion);
        proofs.push(
            json!({"hex": hex::encode(bytes), "hashes": hexes(&rec.inclusion), "error": null}),
        );
    }
    let one = encode_proof(&records[1].inclusion).unwrap();
    for bytes in [
        Vec::new(),
        vec![65],
        vec![1],
        one[..one.len() - 1].to_vec(),
        [one.clone(), vec![0]].concat(),
    ] {
        let err = decode_proof(&bytes).unwrap_err();
        proofs.push(json!({"hex": hex::encode(&bytes), "error": err.to_string()}));
    }

    proofs
}
