//! The ledger log on an embedded 0-db: records survive a reopen, and a changed byte is named by seq.

use bcdb::log::{LedgerLog, LogError, Record};

fn record(i: u64) -> (Vec<u8>, Vec<u8>) {
    (
        format!("entry {i}").into_bytes(),
        vec![i as u8; (i % 7) as usize * 100],
    )
}

#[test]
fn records_round_trip_across_reopen_and_corruption_is_named() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LedgerLog::open(dir.path()).unwrap();
        assert!(log.is_empty());
        for i in 0..100 {
            let (e, v) = record(i);
            assert_eq!(log.append(&e, &v).unwrap(), i);
        }
        log.commit(true).unwrap();
    }
    let mut log = LedgerLog::open(dir.path()).unwrap();
    assert_eq!(log.len(), 100);
    for i in 0..100 {
        let (entry, value) = record(i);
        assert_eq!(log.read(i).unwrap(), Record { entry, value });
    }
    assert!(matches!(log.read(100), Err(LogError::Missing(100))));
    drop(log);

    // flip one byte inside entry 37's record
    let data = dir.path().join("data/ledger/d0");
    let mut bytes = std::fs::read(&data).unwrap();
    let needle = b"entry 37";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + 6] ^= 0x01;
    std::fs::write(&data, bytes).unwrap();
    let mut log = LedgerLog::open(dir.path()).unwrap();
    match log.read(37) {
        Err(LogError::Corrupt { seq: 37, .. }) => {}
        other => panic!("expected entry 37 to be corrupt, got {other:?}"),
    }
    assert!(log.read(36).is_ok() && log.read(38).is_ok());
}
