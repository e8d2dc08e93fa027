//! The ledger end to end on an embedded 0-db: append and commit, reopen, verified gets checked by a client that trusts only a checkpoint, and a replay that names a changed entry.

use bcdb::checkpoint::Checkpoint;
use bcdb::entry::{value_hash, Author, Entry, Op};
use bcdb::ledger::{verify_dir, verify_record, Ledger, LedgerError, Problem, VerifyError};
use identity::KeyPair;

const ORIGIN: &str = "bcdb/test/grid";

fn entry(seq: u64, value: &[u8], author: Option<&KeyPair>) -> Entry {
    let (ns, coll) = (b"grid".to_vec(), b"tfgrid.directory.farm.1".to_vec());
    let (schema_hash, vh) = ([9u8; 32], value_hash(value));
    let author = author.map(|k| Author {
        key: k.public(),
        signature: k.sign(&Entry::author_payload(
            &ns,
            &coll,
            seq + 1,
            Op::Put,
            &schema_hash,
            &vh,
        )),
        // the first signature form: the ledger itself still takes it
        nonce: None,
    });
    Entry {
        seq,
        time_ms: 1_700_000_000_000 + seq,
        op: Op::Put,
        namespace: ns,
        collection: coll,
        object_id: seq + 1,
        schema_hash,
        value_hash: vh,
        value_len: value.len() as u64,
        attested: None,
        author,
    }
}

fn value(seq: u64) -> Vec<u8> {
    format!(
        "{{\"name\":\"farm-{seq}\",\"pad\":\"{}\"}}",
        "x".repeat((seq % 13) as usize)
    )
    .into_bytes()
}

/// A ledger of 50 entries committed in three batches; returns the checkpoints.
fn fill(dir: &std::path::Path, key: &KeyPair, author: &KeyPair) -> Vec<Checkpoint> {
    let mut ledger = Ledger::open(dir, key.clone(), ORIGIN).unwrap();
    let mut cps = Vec::new();
    for seq in 0..50 {
        let signer = (seq % 2 == 0).then_some(author);
        ledger
            .append(&entry(seq, &value(seq), signer), &value(seq))
            .unwrap();
        if seq == 9 || seq == 29 || seq == 49 {
            cps.push(ledger.commit(true).unwrap());
        }
    }
    cps
}

#[test]
fn verified_gets_check_out_against_a_trusted_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (key, author) = (KeyPair::generate(), KeyPair::generate());
    let cps = fill(dir.path(), &key, &author);
    assert_eq!(cps.iter().map(|c| c.size).collect::<Vec<_>>(), [10, 30, 50]);

    let mut ledger = Ledger::open(dir.path(), key.clone(), ORIGIN).unwrap();
    assert_eq!(ledger.len(), 50);
    assert_eq!(ledger.checkpoint(), Some(&cps[2]));
    for seq in [0, 9, 10, 31, 49] {
        // a client that trusted the first checkpoint
        let record = ledger.verified_get(seq, cps[0].size).unwrap();
        let got = verify_record(&record, Some(&cps[0]), &key.public()).unwrap();
        assert_eq!(
            got,
            entry(seq, &value(seq), (seq % 2 == 0).then_some(&author))
        );
        assert_eq!(record.value, value(seq));
        // a client that trusts nothing yet
        let fresh = ledger.verified_get(seq, 0).unwrap();
        verify_record(&fresh, None, &key.public()).unwrap();
    }

    let good = ledger.verified_get(12, cps[0].size).unwrap();
    let mut swapped = good.clone();
    swapped.value = value(13);
    assert!(matches!(
        verify_record(&swapped, Some(&cps[0]), &key.public()),
        Err(VerifyError::ValueMismatch)
    ));
    let mut other_entry = good.clone();
    other_entry.entry = entry(12, &value(13), None).encode();
    assert!(matches!(
        verify_record(&other_entry, Some(&cps[0]), &key.public()),
        Err(VerifyError::NotIncluded(_))
    ));
    let stranger = KeyPair::generate();
    assert!(matches!(
        verify_record(&good, Some(&cps[0]), &stranger.public()),
        Err(VerifyError::Checkpoint(_))
    ));
    // a trusted checkpoint from a different history
    let forked = Checkpoint::sign(&key, ORIGIN, 10, [1; 32], 0);
    assert!(matches!(
        verify_record(&good, Some(&forked), &key.public()),
        Err(VerifyError::Inconsistent(_))
    ));

    assert!(matches!(
        ledger.append(&entry(7, &value(7), None), &value(7)),
        Err(LedgerError::Refused(_))
    ));
    assert!(matches!(
        ledger.append(&entry(50, &value(1), None), &value(50)),
        Err(LedgerError::Refused(_))
    ));
    let mut forged = entry(50, &value(50), Some(&author));
    forged.object_id = 999;
    assert!(matches!(
        ledger.append(&forged, &value(50)),
        Err(LedgerError::Refused(_))
    ));
}

#[test]
fn a_replay_names_the_changed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (key, author) = (KeyPair::generate(), KeyPair::generate());
    fill(dir.path(), &key, &author);
    let report = verify_dir(dir.path(), &key.public()).unwrap();
    assert_eq!((report.entries, report.checkpoints), (50, 3));
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // one byte of entry 17's value changes on disk
    let data = dir.path().join("data/ledger/d0");
    let mut bytes = std::fs::read(&data).unwrap();
    let needle = b"farm-17\"";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at] ^= 0x20;
    std::fs::write(&data, bytes).unwrap();

    let report = verify_dir(dir.path(), &key.public()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Entry { seq: 17, .. })),
        "{:?}",
        report.problems
    );
    assert!(
        !report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Entry { seq, .. } if *seq != 17)),
        "only entry 17 is named: {:?}",
        report.problems
    );
    // and the ledger refuses to open over it
    let err = Ledger::open(dir.path(), key, ORIGIN)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("17"), "{err}");
}
