//! Compaction of `tfgrid zdb` namespaces: online (`COMPACT`), offline
//! (`tfgrid zdb compact`), and crash recovery at every step of the swap.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::{bulk, parse, show, Raw, Value, Zdb};

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// Writes 400 keys, overwrites half of them three times and deletes a
/// quarter; returns the expected live state.
fn churn(c: &mut Raw) -> BTreeMap<String, Vec<u8>> {
    let mut live = BTreeMap::new();
    for round in 0..4 {
        for i in 0..400 {
            if round > 0 && i % 2 == 1 {
                continue;
            }
            let key = format!("key{i:04}");
            let value = format!("{key}-round{round}-").repeat(40).into_bytes();
            assert!(c.call(&[b"SET", key.as_bytes(), &value]) == bulk(key.as_bytes()));
            live.insert(key, value);
        }
    }
    for i in (0..400).step_by(4) {
        let key = format!("key{i:04}");
        assert_eq!(c.call(&[b"DEL", key.as_bytes()]), b"+OK\r\n");
        live.remove(&key);
    }
    live
}

/// Keys in SCAN order, following cursors to the end.
fn scan_keys(c: &mut Raw) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let mut args: Vec<&[u8]> = vec![b"SCAN"];
        args.extend(cursor.as_deref());
        let reply = c.call(&args);
        if reply == b"-No more data\r\n" {
            return keys;
        }
        let Value::Array(parts) = parse(&reply) else {
            panic!("SCAN answered {}", show(&reply));
        };
        let [next, Value::Array(items)] = parts.as_slice() else {
            panic!("SCAN answered {}", show(&reply));
        };
        assert_eq!(next.bulk().len(), 17, "SCAN cursor");
        for item in items {
            let [key, _, _] = item.array() else {
                panic!("SCAN item {item:?}");
            };
            keys.push(String::from_utf8_lossy(key.bulk()).into_owned());
        }
        cursor = Some(next.bulk().to_vec());
    }
}

/// Asserts DBSIZE and every value of `live`, and that the other keys of
/// `churn` are gone.
fn assert_state(c: &mut Raw, live: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(
        c.call(&[b"DBSIZE"]),
        format!(":{}\r\n", live.len()).into_bytes()
    );
    for (key, value) in live {
        let reply = c.call(&[b"GET", key.as_bytes()]);
        assert!(reply == bulk(value), "{key}: wrong value");
    }
    for key in (0..400).map(|i| format!("key{i:04}")) {
        if !live.contains_key(&key) {
            assert_eq!(c.call(&[b"GET", key.as_bytes()]), b"$-1\r\n", "{key}");
        }
    }
}

#[test]
fn online_compaction_reclaims_space_and_keeps_every_live_value() {
    let mut zdb = Zdb::start(&["--datasize", "512k"]);
    let mut c = Raw::connect(zdb.addr());
    let live = churn(&mut c);
    let scan_before = scan_keys(&mut c);
    assert_eq!(scan_before.len(), live.len());
    let data_dir = zdb.data_root().join("default");
    let before = dir_size(&data_dir);

    let reply = c.call(&[b"COMPACT"]);
    assert_eq!(reply[0], b':', "{}", String::from_utf8_lossy(&reply));
    let reclaimed: u64 = std::str::from_utf8(&reply[1..reply.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let after = dir_size(&data_dir);
    assert!(
        reclaimed > 0 && after < before / 2,
        "before {before} after {after} reclaimed {reclaimed}"
    );
    assert_state(&mut c, &live);
    assert!(scan_keys(&mut c) == scan_before, "SCAN order changed");
    // History of compacted keys starts over.
    let history = c.call(&[b"HISTORY", b"key0002"]);
    assert!(
        history.starts_with(b"*3\r\n$-1\r\n"),
        "{}",
        String::from_utf8_lossy(&history)
    );

    // Still writable, and everything survives a restart.
    assert_eq!(c.call(&[b"SET", b"new", b"value"]), b"$3\r\nnew\r\n");
    drop(c);
    assert!(zdb.terminate().success());
    zdb.spawn();
    let mut c = Raw::connect(zdb.addr());
    let mut with_new = live;
    with_new.insert("new".into(), b"value".to_vec());
    assert_state(&mut c, &with_new);
}

#[test]
fn seq_compaction_keeps_ids() {
    let zdb = Zdb::start(&["--mode", "seq"]);
    let mut c = Raw::connect(zdb.addr());
    let mut ids = Vec::new();
    for i in 0..50u64 {
        let reply = c.call(&[b"SET", b"", format!("v{i}").repeat(100).as_bytes()]);
        ids.push(reply[4..12].to_vec());
    }
    // Update some ids (each consumes an id for the old copy), delete others.
    for i in (0..50).step_by(3) {
        let reply = c.call(&[b"SET", &ids[i], format!("u{i}").repeat(100).as_bytes()]);
        assert_eq!(&reply[4..12], &ids[i][..]);
    }
    for i in (1..50).step_by(5) {
        assert_eq!(c.call(&[b"DEL", &ids[i]]), b"+OK\r\n");
    }
    let expected: Vec<Vec<u8>> = ids.iter().map(|id| c.call(&[b"GET", id])).collect();
    let reply = c.call(&[b"COMPACT"]);
    assert_eq!(reply[0], b':', "{}", String::from_utf8_lossy(&reply));
    for (id, want) in ids.iter().zip(&expected) {
        assert!(&c.call(&[b"GET", id]) == want, "id {id:?}: wrong value");
    }
    // The next id continues where it was: 50 inserts + 17 update copies.
    let next = c.call(&[b"SET", b"", b"after"]);
    assert_eq!(&next[4..12], &67u64.to_le_bytes());
}

#[test]
fn offline_compaction_then_restart() {
    let mut zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    let live = churn(&mut c);
    drop(c);
    assert!(zdb.terminate().success());
    let out = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(["zdb", "compact", "--data"])
        .arg(zdb.dir.join("db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("reclaimed "));
    zdb.spawn();
    let mut c = Raw::connect(zdb.addr());
    assert_state(&mut c, &live);
}

#[test]
fn offline_compaction_refuses_a_running_server() {
    let zdb = Zdb::start(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(["zdb", "compact", "--data"])
        .arg(zdb.dir.join("db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked by another process"));
}

#[test]
fn crash_at_every_compaction_step_recovers() {
    for point in [
        "compact-before-commit",
        "compact-mid-swap",
        "compact-after-commit",
    ] {
        let mut zdb = Zdb::start(&["--datasize", "512k"]);
        let mut c = Raw::connect(zdb.addr());
        let live = churn(&mut c);
        drop(c);
        assert!(zdb.terminate().success());
        zdb.env = vec![("TFGRID_FAILPOINTS".into(), point.into())];
        zdb.spawn();
        let mut c = Raw::connect(zdb.addr());
        c.send(&[b"COMPACT"]);
        assert!(
            c.try_reply().is_none(),
            "{point}: server should have crashed"
        );
        let status = zdb.wait_exit();
        assert!(!status.success(), "{point}");
        zdb.env.clear();
        zdb.spawn();
        let mut c = Raw::connect(zdb.addr());
        assert_state(&mut c, &live);
        assert!(
            !zdb.index_root().join("default/.compact").exists(),
            "{point}"
        );
    }
}
