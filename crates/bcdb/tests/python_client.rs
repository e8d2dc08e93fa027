//! The pure-Python client (`python/bcdb_client`) against a real ledger: this test builds one
//! with `Bcdb` (typed and schema-less objects, author-signed creations and updates — flag 3,
//! bound to the instance with a nonce —, three commits and a forked copy), writes what a server would hand out — verified records, and
//! tampered copies each refused by the Rust client for a known reason — plus entry,
//! checkpoint, proof-codec and key vectors with Rust's verdicts (among the entries a legacy
//! flag-1 signature, which still verifies, and flag-3 signatures made for another instance or
//! with another nonce, which do not), as a JSON fixture, then runs
//! `python3 -m unittest discover -s python/tests` on it. The Python side must accept what
//! Rust accepts and refuse the rest with the same reason and message.
//!
//! It also carries `python/tests/vectors/codec_cases.json` with Rust's verdicts (schema
//! text and hash, object bytes and view, or the refusal: Python must write the bytes
//! `Object::encode` writes) and identity vectors (seed, mnemonic, key file, word list).
//!
//! `BCDB_PY_FIXTURE_OUT=<file>` keeps a copy of the fixture.
//!
//! Without python3 or PyNaCl (`scripts/deps.sh` installs it) the Python half is skipped with
//! a loud line; the Rust half (every verdict in the fixture) still runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as Process;

use bcdb::checkpoint::{Checkpoint, CheckpointError};
use bcdb::db::{object_validator, Bcdb};
use bcdb::entry::{value_hash, Author, Entry, EntryError, Op};
use bcdb::ledger::{verify_record, VerifiedRecord, VerifyError};
use bcdb::merkle::{decode_proof, encode_proof, Hash, ProofError};
use bcdb::object::Object;
use bcdb::schema::Schema;
use bcdb::state::{keyed_value, Command};
use identity::{KeyFile, KeyPair, Mnemonic, Payload, PublicKey};
use serde_json::{json, Value};

#[path = "python_client/vectors.rs"]
mod vectors;

use vectors::{
    checkpoint_vectors, codec_vectors, entry_vectors, identity_vectors, key_vectors, proof_vectors,
};

const NS: &[u8] = b"grid";
const ORIGIN: &str = "bcdb/test/grid";
const URL: &str = "tfgrid.directory.farm.1";
const FARM: &str =
    "@url = tfgrid.directory.farm.1\n&name** = (S)\ncountry** = \"BE\" (S)\nnodes = (I)\n";

/// Opens a ledger and writes objects into it; the author signs for `instance` with rising
/// nonces.
struct Writer {
    db: Bcdb,
    author: KeyPair,
    instance: PublicKey,
    nonce: u64,
}

impl Writer {
    fn open(dir: &Path, key: &KeyPair) -> Writer {
        let db = Bcdb::open(dir, key.clone(), ORIGIN, object_validator()).unwrap();
        let author = KeyPair::from_seed(&[8; 32]);
        let mut w = Writer {
            db,
            author,
            instance: key.public(),
            nonce: 0,
        };
        w.run(Command::SchemaPut {
            namespace: NS.to_vec(),
            text: FARM.into(),
        });
        w
    }

    fn run(&mut self, command: Command) -> u64 {
        self.db.execute(&command).unwrap()[0].object_id
    }

    fn sign(
        &mut self,
        collection: &[u8],
        id: u64,
        op: Op,
        schema: [u8; 32],
        value: &[u8],
    ) -> Author {
        self.nonce += 1;
        let value = value_hash(value);
        let (instance, nonce) = (&self.instance, self.nonce);
        let payload =
            Entry::change_payload(instance, NS, collection, id, op, &schema, &value, nonce);
        Author {
            key: self.author.public(),
            signature: self.author.sign(&payload),
            nonce: Some(nonce),
        }
    }

    /// A farm, new (`id: None`) or an update, signed by the author when `signed`.
    fn farm(&mut self, id: Option<u64>, fields: Value, signed: bool) -> u64 {
        let schema = self.db.state().schema(NS, URL).unwrap().clone();
        let value = Object::from_json(&schema, &fields, &|_| None)
            .unwrap()
            .encode();
        let op = if id.is_some() { Op::Put } else { Op::Create };
        let author = match signed {
            true => Some(self.sign(URL.as_bytes(), id.unwrap_or(0), op, schema.hash(), &value)),
            false => None,
        };
        self.run(Command::Put {
            namespace: NS.to_vec(),
            collection: URL.into(),
            id,
            value,
            author,
        })
    }

    /// A new schema-less value, signed by the author when `signed`.
    fn key(&mut self, key: &str, blob: &str, signed: bool) -> u64 {
        let stored = keyed_value(key.as_bytes(), blob.as_bytes());
        let author = match signed {
            true => Some(self.sign(b"", 0, Op::Create, [0; 32], &stored)),
            false => None,
        };
        self.run(Command::SetKey {
            namespace: NS.to_vec(),
            key: key.as_bytes().to_vec(),
            value: blob.as_bytes().to_vec(),
            author,
        })
    }
}

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

fn record_json(name: &str, r: &VerifiedRecord, trusted: Option<&Checkpoint>) -> Value {
    json!({
        "name": name,
        "entry": hex::encode(&r.entry),
        "value": hex::encode(&r.value),
        "index": r.index,
        "inclusion": hexes(&r.inclusion),
        "consistency": hexes(&r.consistency),
        "checkpoint": r.checkpoint.to_text(),
        "trusted": trusted.map(Checkpoint::to_text),
    })
}

fn proof_kind(e: &ProofError) -> &'static str {
    match e {
        ProofError::IndexOutOfRange { .. } => "index_out_of_range",
        ProofError::SizeOrder { .. } => "size_order",
        ProofError::TooLong => "too_long",
        ProofError::TooShort => "too_short",
        ProofError::RootMismatch => "root_mismatch",
    }
}

fn checkpoint_kind(e: &CheckpointError) -> &'static str {
    match e {
        CheckpointError::Malformed(_) => "malformed",
        CheckpointError::BadSignature(_) => "bad_signature",
        CheckpointError::WrongSigner { .. } => "wrong_signer",
    }
}

fn entry_kind(e: &EntryError) -> &'static str {
    match e {
        EntryError::Truncated(_) => "truncated",
        EntryError::Version(_) => "version",
        EntryError::Op(_) => "op",
        EntryError::Bad(_) => "bad",
        EntryError::Trailing(_) => "trailing",
    }
}

/// The Python client's `VerifyError.reason` for a Rust refusal.
fn reason(e: &VerifyError) -> String {
    match e {
        VerifyError::Checkpoint(c) => format!("checkpoint/{}", checkpoint_kind(c)),
        VerifyError::Inconsistent(p) => format!("inconsistent/{}", proof_kind(p)),
        VerifyError::NotIncluded(p) => format!("not_included/{}", proof_kind(p)),
        VerifyError::Entry(x) => format!("entry/{}", entry_kind(x)),
        VerifyError::ValueMismatch => "value_mismatch".into(),
    }
}

/// A good record: Rust accepts it; its entry, author verdict and payload go along.
fn good(name: &str, r: &VerifiedRecord, trusted: Option<&Checkpoint>, key: &KeyPair) -> Value {
    let entry = verify_record(r, trusted, &key.public())
        .unwrap_or_else(|e| panic!("{name}: Rust refuses a good record: {e}"));
    let mut out = record_json(name, r, trusted);
    out["object_id"] = json!(entry.object_id);
    out["op"] = json!(r.entry[17]);
    out["author"] = json!(entry.author.map(|a| a.key.to_hex()));
    out["nonce"] = json!(entry.author.and_then(|a| a.nonce));
    entry.verify_author(&key.public()).unwrap();
    out
}

/// A tampered record: Rust refuses it for `expect`.
fn tampered(
    name: &str,
    r: &VerifiedRecord,
    trusted: Option<&Checkpoint>,
    key: &KeyPair,
    expect: &str,
) -> Value {
    let err = match verify_record(r, trusted, &key.public()) {
        Ok(_) => panic!("{name}: Rust accepts a tampered record"),
        Err(e) => e,
    };
    assert_eq!(reason(&err), expect, "{name}: {err}");
    let mut out = record_json(name, r, trusted);
    out["reason"] = json!(expect);
    out["error"] = json!(err.to_string());
    out
}

/// An entry's bytes with Rust's verdict: its error, or its fields and author check (for
/// the instance `instance`).
fn entry_case(name: &str, bytes: &[u8], instance: &PublicKey) -> Value {
    match Entry::decode(bytes) {
        Err(e) => json!({"name": name, "hex": hex::encode(bytes), "error": e.to_string(),
                          "kind": entry_kind(&e)}),
        Ok(e) => {
            let signed_id = if e.op == Op::Create { 0 } else { e.object_id };
            let (ns, coll, op) = (&e.namespace, &e.collection, e.op);
            let (schema, value) = (&e.schema_hash, &e.value_hash);
            let payload = match e.author.and_then(|a| a.nonce) {
                Some(n) => {
                    Entry::change_payload(instance, ns, coll, signed_id, op, schema, value, n)
                }
                None => Entry::author_payload(ns, coll, signed_id, op, schema, value),
            };
            assert_eq!(e.encode(), bytes, "{name}: decode/encode round trip");
            json!({
                "name": name,
                "hex": hex::encode(bytes),
                "error": null,
                "fields": {
                    "seq": e.seq, "time_ms": e.time_ms, "op": bytes[17],
                    "namespace": hex::encode(&e.namespace),
                    "collection": hex::encode(&e.collection),
                    "object_id": e.object_id,
                    "schema_hash": hex::encode(e.schema_hash),
                    "value_hash": hex::encode(e.value_hash),
                    "value_len": e.value_len,
                    "author_key": e.author.map(|a| a.key.to_hex()),
                    "author_nonce": e.author.and_then(|a| a.nonce),
                },
                "payload": hex::encode(payload.as_bytes()),
                "author_ok": e.verify_author(instance).is_ok(),
            })
        }
    }
}

/// A checkpoint text with Rust's verdict: parsed and verified against `key`, or the error.
fn checkpoint_case(name: &str, text: &str, key: &KeyPair) -> Value {
    let verdict = Checkpoint::parse(text).and_then(|cp| cp.verify(&key.public()).map(|()| cp));
    match verdict {
        Ok(cp) => json!({"name": name, "text": text, "error": null, "size": cp.size,
                          "root": hex::encode(cp.root), "time_ms": cp.time_ms}),
        Err(e) => json!({"name": name, "text": text, "error": e.to_string(),
                          "kind": checkpoint_kind(&e)}),
    }
}

fn with_entry(r: &VerifiedRecord, f: impl FnOnce(&mut VerifiedRecord)) -> VerifiedRecord {
    let mut out = r.clone();
    f(&mut out);
    out
}

/// Everything the fixture holds; asserts every Rust verdict on the way.
fn fixture(dir: &Path) -> Value {
    let key = KeyPair::from_seed(&[7; 32]);
    let other = KeyPair::from_seed(&[9; 32]);
    let mut w = Writer::open(&dir.join("ledger"), &key);

    // commit 1: the schema and farm A; the client trusts this checkpoint
    let a = w.farm(None, json!({"name": "farm-a", "nodes": 3}), false);
    let trusted = w.db.commit(false).unwrap();
    let early_a = w.db.verified_get(NS, a, 0).unwrap().unwrap();

    // commit 2: signed creations (typed and schema-less), a signed update, unsigned ones
    let b = w.farm(None, json!({"name": "farm-b", "country": "EG"}), true);
    let user = w.key("user:1", "alice", true);
    w.farm(
        Some(a),
        json!({"name": "farm-a", "nodes": 4, "country": "NL"}),
        true,
    );
    let c = w.farm(None, json!({"name": "farm-c"}), false);
    w.db.commit(false).unwrap();
    // commit 3: more entries, an odd tree size
    for i in 0..5 {
        w.key(&format!("k{i}"), &"x".repeat(i), i % 2 == 0);
    }
    let latest = w.db.commit(false).unwrap();
    assert_eq!((trusted.size, latest.size), (2, 11));

    let get = |w: &mut Writer, id, trusted_size| {
        w.db.verified_get(NS, id, trusted_size).unwrap().unwrap()
    };
    let rec_a = get(&mut w, a, trusted.size);
    let rec_b = get(&mut w, b, trusted.size);
    let rec_user = get(&mut w, user, 0);
    let rec_c = get(&mut w, c, trusted.size);
    let rec_same = get(&mut w, c, latest.size);
    let records = vec![
        good("farm a, a signed update", &rec_a, Some(&trusted), &key),
        good("farm b, a signed creation", &rec_b, Some(&trusted), &key),
        good(
            "a signed schema-less key, nothing trusted",
            &rec_user,
            None,
            &key,
        ),
        good("farm c, unsigned", &rec_c, Some(&trusted), &key),
        good(
            "trusting the latest checkpoint",
            &rec_same,
            Some(&latest),
            &key,
        ),
        good("farm a before the update", &early_a, None, &key),
    ];

    // a fork: same instance key and origin, another history of at least the trusted size
    let mut fork = Writer::open(&dir.join("fork"), &key);
    let forked = fork.farm(None, json!({"name": "farm-z"}), false);
    fork.db.commit(false).unwrap();
    let rec_fork = fork
        .db
        .verified_get(NS, forked, trusted.size)
        .unwrap()
        .unwrap();

    let resign = |signer: &KeyPair, size: u64, root: Hash| {
        Checkpoint::sign(signer, ORIGIN, size, root, latest.time_ms)
    };
    let r = &rec_b;
    let t = Some(&trusted);
    let mut bad = vec![
        (
            "value changed",
            with_entry(r, |x| x.value[0] ^= 1),
            t,
            "value_mismatch",
        ),
        (
            "entry object id changed",
            with_entry(r, |x| x.entry[24 + URL.len() + 2] ^= 1),
            t,
            "not_included/root_mismatch",
        ),
        (
            "inclusion hash changed",
            with_entry(r, |x| x.inclusion[0][0] ^= 1),
            t,
            "not_included/root_mismatch",
        ),
        (
            "inclusion proof cut",
            with_entry(r, |x| {
                x.inclusion.pop();
            }),
            t,
            "not_included/too_short",
        ),
        (
            "inclusion proof extended",
            with_entry(r, |x| x.inclusion.push([0; 32])),
            t,
            "not_included/too_long",
        ),
        (
            "index past the tree",
            with_entry(r, |x| x.index = latest.size),
            t,
            "not_included/index_out_of_range",
        ),
        (
            "index moved",
            with_entry(r, |x| x.index += 1),
            t,
            "not_included/root_mismatch",
        ),
        (
            "consistency hash changed",
            with_entry(r, |x| x.consistency[0][5] ^= 1),
            t,
            "inconsistent/root_mismatch",
        ),
        (
            "consistency proof dropped",
            with_entry(r, |x| x.consistency.clear()),
            t,
            "inconsistent/too_short",
        ),
        (
            "checkpoint by another key",
            with_entry(r, |x| {
                x.checkpoint = resign(&other, latest.size, latest.root)
            }),
            t,
            "checkpoint/wrong_signer",
        ),
        (
            "checkpoint size edited",
            with_entry(r, |x| x.checkpoint.size += 1),
            t,
            "checkpoint/bad_signature",
        ),
        (
            "checkpoint signature flipped",
            with_entry(r, |x| {
                let mut s = x.checkpoint.signature.to_bytes();
                s[3] ^= 1;
                x.checkpoint.signature = identity::Signature::from_bytes(&s);
            }),
            t,
            "checkpoint/bad_signature",
        ),
        (
            "instance signs another root",
            with_entry(r, |x| x.checkpoint = resign(&key, latest.size, [5; 32])),
            t,
            "inconsistent/root_mismatch",
        ),
        (
            "a forked history signed by the instance",
            rec_fork,
            t,
            "inconsistent/root_mismatch",
        ),
        (
            "a checkpoint older than the trusted one",
            early_a.clone(),
            Some(&latest),
            "inconsistent/size_order",
        ),
    ];
    // an entry that is in the tree but does not decode cannot come from a real ledger: a
    // one-leaf tree signed by the instance holds one
    let junk = b"\x01not an entry".to_vec();
    let junk_root = bcdb::merkle::leaf_hash(&junk);
    let junk_record = VerifiedRecord {
        entry: junk,
        value: Vec::new(),
        index: 0,
        inclusion: Vec::new(),
        consistency: Vec::new(),
        checkpoint: resign(&key, 1, junk_root),
    };
    bad.push((
        "an undecodable entry in a signed tree",
        junk_record,
        None,
        "entry/truncated",
    ));
    let tampered: Vec<Value> = bad
        .iter()
        .map(|(name, rec, trusted, expect)| tampered(name, rec, *trusted, &key, expect))
        .collect();

    let entries = entry_vectors(&rec_a, &rec_b, &rec_user, &rec_c, &key, &other);
    let checkpoints = checkpoint_vectors(&latest, &trusted, &key, &other);
    let proofs = proof_vectors(&[&rec_a, &rec_b, &rec_user, &rec_same]);

    json!({
        "instance_key": key.public().to_hex(),
        "origin": ORIGIN,
        "trusted": trusted.to_text(),
        "latest": latest.to_text(),
        "records": records,
        "tampered": tampered,
        "entries": entries,
        "points": key_vectors(),
        "checkpoints": checkpoints,
        "proofs": proofs,
        "codec": codec_vectors(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")),
        "identity": identity_vectors(dir, &key),
    })
}

#[test]
fn the_python_client_verifies_what_rust_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture(dir.path());
    let path = dir.path().join("fixture.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&fixture).unwrap()).unwrap();
    // to run the Python tests by hand: BCDB_PY_FIXTURE_OUT=/tmp/f.json, then
    // BCDB_PY_FIXTURE=/tmp/f.json python3 -m unittest discover -s python/tests
    if let Some(out) = std::env::var_os("BCDB_PY_FIXTURE_OUT") {
        std::fs::copy(&path, out).unwrap();
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let probe = Process::new("python3")
        .args(["-c", "import nacl.signing"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "\n*** SKIP python_client: python3 with PyNaCl is missing (scripts/deps.sh installs \
             it); only the Rust half of the fixture was checked ***\n"
        );
        return;
    }
    let out = Process::new("python3")
        .args(["-m", "unittest", "discover", "-s", "python/tests", "-v"])
        .current_dir(&root)
        .env("BCDB_PY_FIXTURE", &path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(out.status.success(), "the Python tests failed:\n{report}");
    assert!(
        !report.contains("skipped"),
        "some Python tests were skipped:\n{report}"
    );
    for test in [
        "test_tampered_records_are_refused_for_rusts_reason",
        "test_entries_decode_as_in_rust",
        "test_many_stores_on_one_file_only_ever_move_it_forward",
        "test_verified_reads_in_a_numeric_namespace",
        "test_canonical_schema_text_and_hash_match_rust",
        "test_objects_encode_to_rusts_bytes",
        "test_refusals_match_rusts",
        "test_signatures_are_rusts",
        "test_one_signature_check_per_checkpoint",
    ] {
        assert!(report.contains(test), "{test} did not run:\n{report}");
    }
}
