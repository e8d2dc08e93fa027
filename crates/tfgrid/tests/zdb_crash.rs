//! Crash safety of `tfgrid zdb`: a kill -9 during a pipelined write burst
//! loses no acknowledged write, and torn file tails load cleanly.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{bulk, Raw, Zdb};

fn value_for(key: u64, version: u64) -> Vec<u8> {
    let mut v = format!("value-{key}-{version}-").into_bytes();
    v.resize(200 + (key % 300) as usize, b'a' + (version % 26) as u8);
    v
}

/// Writes pipelined batches (new keys and overwrites) until the connection
/// dies; records the last acknowledged version of every key.
fn write_until_killed(
    addr: std::net::SocketAddr,
    acked: Arc<Mutex<HashMap<u64, u64>>>,
    started: Arc<AtomicBool>,
) {
    let mut c = Raw::connect(addr);
    let mut version = 0u64;
    loop {
        version += 1;
        // 100 keys per batch: keys cycle over 0..3000 so later batches overwrite.
        let keys: Vec<u64> = (0..100).map(|i| (version * 100 + i) % 3000).collect();
        let cmds: Vec<Vec<Vec<u8>>> = keys
            .iter()
            .map(|k| {
                vec![
                    b"SET".to_vec(),
                    format!("k{k}").into_bytes(),
                    value_for(*k, version),
                ]
            })
            .collect();
        if c.send_pipeline(&cmds).is_err() {
            return;
        }
        for k in &keys {
            match c.try_reply() {
                Some(reply) => {
                    let key = format!("k{k}");
                    assert_eq!(reply, bulk(key.as_bytes()), "SET {key} reply");
                    acked.lock().unwrap().insert(*k, version);
                }
                None => return,
            }
        }
        started.store(true, Ordering::SeqCst);
    }
}

#[test]
fn kill9_during_pipelined_writes_loses_no_acknowledged_write() {
    let mut zdb = Zdb::start(&["--datasize", "1M"]);
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let started = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, started, addr) = (acked.clone(), started.clone(), zdb.addr());
        std::thread::spawn(move || write_until_killed(addr, acked, started))
    };
    // Let several rotations and thousands of overwrites happen, then kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 3000 || !started.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "writer made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    zdb.kill9();
    writer.join().expect("writer thread");
    let acked = acked.lock().unwrap().clone();

    zdb.spawn();
    let mut c = Raw::connect(zdb.addr());
    for (key, version) in &acked {
        let reply = c.call(&[b"GET", format!("k{key}").as_bytes()]);
        // The batch in flight at the kill may have landed too: the stored
        // version is the acknowledged one or a later one, never older.
        let text = String::from_utf8_lossy(&reply);
        let stored: u64 = text
            .split('-')
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "k{key}: acknowledged version {version} lost; got {:?}",
                    &text[..text.len().min(40)]
                )
            });
        assert!(
            stored >= *version,
            "k{key}: acknowledged version {version}, found older {stored}"
        );
        assert!(
            reply == bulk(&value_for(*key, stored)),
            "k{key}: value of version {stored} is damaged"
        );
    }
    assert_eq!(c.call(&[b"DBSIZE"]), b":3000\r\n");
    // The server still takes writes after recovery.
    assert_eq!(c.call(&[b"SET", b"after", b"crash"]), b"$5\r\nafter\r\n");
    assert_eq!(c.call(&[b"GET", b"after"]), b"$5\r\ncrash\r\n");
}

/// Starts a server, writes `n_keys` keys (`key0`…), stops it, cuts `cut`
/// bytes off the end of the file at `path` (from the server's directory),
/// restarts it and connects.
fn restart_torn(n_keys: usize, path: fn(&Zdb) -> PathBuf, cut: u64) -> (Zdb, Raw) {
    let mut zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    for i in 0..n_keys {
        let key = format!("key{i}");
        let reply = c.call(&[b"SET", key.as_bytes(), &value_for(i as u64, 1)]);
        assert_eq!(reply, bulk(key.as_bytes()));
    }
    drop(c);
    assert!(zdb.terminate().success());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path(&zdb))
        .unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len - cut).unwrap();
    zdb.spawn();
    let c = Raw::connect(zdb.addr());
    (zdb, c)
}

#[test]
fn torn_index_tail_is_rebuilt_from_the_data_file() {
    // Every cut inside the last entry (34-byte header + 4-byte key) must load,
    // and the torn entry comes back from the data file, which holds it whole.
    for cut in [1u64, 5, 13, 33, 37, 38 + 37] {
        let index = |zdb: &Zdb| zdb.index_root().join("default/i0");
        let (mut zdb, mut c) = restart_torn(20, index, cut);
        assert_eq!(c.call(&[b"DBSIZE"]), b":20\r\n", "cut {cut}");
        for i in 0..20u64 {
            let reply = c.call(&[b"GET", format!("key{i}").as_bytes()]);
            assert!(reply == bulk(&value_for(i, 1)), "cut {cut} key{i}");
        }
        assert!(
            zdb.log_text().contains("found only in the data file"),
            "cut {cut}"
        );
        // New writes land after the repaired tail and survive a restart.
        assert_eq!(c.call(&[b"SET", b"key19", b"again"]), b"$5\r\nkey19\r\n");
        drop(c);
        assert!(zdb.terminate().success());
        zdb.spawn();
        let mut c = Raw::connect(zdb.addr());
        assert_eq!(c.call(&[b"GET", b"key19"]), b"$5\r\nagain\r\n", "cut {cut}");
        assert_eq!(
            c.call(&[b"GET", b"key18"]),
            bulk(&value_for(18, 1)),
            "cut {cut}"
        );
        assert_eq!(c.call(&[b"DBSIZE"]), b":20\r\n");
    }
}

#[test]
fn torn_data_tail_drops_only_the_torn_entry() {
    for cut in [1u64, 100, 231] {
        // Cutting the payload of the last data entry makes its index entry
        // point past the end: both go, the other nine stay.
        let data = |zdb: &Zdb| zdb.data_root().join("default/d0");
        let (_zdb, mut c) = restart_torn(10, data, cut);
        assert_eq!(c.call(&[b"DBSIZE"]), b":9\r\n", "cut {cut}");
        assert_eq!(c.call(&[b"GET", b"key9"]), b"$-1\r\n");
        assert_eq!(c.call(&[b"CHECK", b"key8"]), b":1\r\n");
        assert_eq!(c.call(&[b"SET", b"key9", b"x"]), b"$4\r\nkey9\r\n");
        assert_eq!(c.call(&[b"GET", b"key9"]), b"$1\r\nx\r\n");
    }
}

#[test]
fn kill9_with_index_entries_still_queued_rebuilds_them_from_the_data_file() {
    let mut zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    for i in 0..100u64 {
        let key = format!("q{i}");
        assert_eq!(
            c.call(&[b"SET", key.as_bytes(), &value_for(i, 7)]),
            bulk(key.as_bytes())
        );
    }
    // Acknowledged: the data file holds all 100 entries, while their index
    // entries are still queued in the server's memory.
    let index = zdb.index_root().join("default/i0");
    assert_eq!(
        std::fs::metadata(&index).unwrap().len(),
        29,
        "index written early"
    );
    zdb.kill9();
    zdb.spawn();
    assert!(zdb
        .log_text()
        .contains("indexed 100 entries found only in the data file"));
    let mut c = Raw::connect(zdb.addr());
    assert_eq!(c.call(&[b"DBSIZE"]), b":100\r\n");
    for i in 0..100u64 {
        let reply = c.call(&[b"GET", format!("q{i}").as_bytes()]);
        assert!(reply == bulk(&value_for(i, 7)), "q{i}");
    }
    // The rebuilt index is on disk: 100 entries of 34 + 2..3 key bytes.
    let len = std::fs::metadata(&index).unwrap().len();
    assert_eq!(len, 29 + 10 * 36 + 90 * 37);
}
