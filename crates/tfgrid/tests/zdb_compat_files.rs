//! 0-db behaviour that depends on the files behind a namespace: SCAN/RSCAN
//! cursors and sequential ids across data file rotations and restarts,
//! DATA RAW, INDEX DIRTY, and the hooks run on file and namespace events,
//! against the real `tfgrid zdb` binary.

mod support;

use std::time::Duration;

use support::compat::{
    array, assert_recent, call, check, check_rows, check_walk, enter, id, id_reply, int, item,
    nsinfo_field, open_server, reversed, Item, Row, NIL, OK,
};
use support::{bulk, crc32c, parse, show, wait_for, Raw, Value, Zdb};

/// Writes one 64 KiB value per key, each value distinct.
fn write_big(c: &mut Raw, keys: &[Vec<u8>]) {
    for (i, key) in keys.iter().enumerate() {
        let mut value = vec![1; 64 * 1024];
        value[..8].copy_from_slice(&(i as u64).to_le_bytes());
        check(c, "rotation", &[b"SET", key, &value], &bulk(key));
    }
}

fn data_current_id(c: &mut Raw, ns: &str) -> u32 {
    nsinfo_field(c, ns, "data_current_id").parse().unwrap()
}

/// Rewrites in namespace `rot` after 40 keys `key-00`… of 64 KiB.
#[rustfmt::skip]
const ROTATION_REWRITES: &[Row] = &[
    Row("rotation", &[b"SET", b"key-05", b"small"], b"$6\r\nkey-05\r\n"),
    Row("rotation", &[b"SET", b"key-17", b"small2"], b"$6\r\nkey-17\r\n"),
    Row("rotation", &[b"DEL", b"key-10"], OK),
    Row("rotation", &[b"NSJUMP"], OK),
];

#[test]
fn scan_and_rscan_cursors_across_file_rotations() {
    let mut zdb = Zdb::start(&["--datasize", "512k"]);
    let mut c = Raw::connect(zdb.addr());
    enter(&mut c, "rot");
    let keys: Vec<Vec<u8>> = (0..40)
        .map(|i| format!("key-{i:02}").into_bytes())
        .collect();
    write_big(&mut c, &keys);
    let files = data_current_id(&mut c, "rot");
    assert!(
        files >= 4,
        "40 x 64 KiB in 512 KiB files rotated {files} times"
    );
    for id in 0..=files {
        let (index, data) = (zdb.index_root(), zdb.data_root());
        assert!(index.join(format!("rot/i{id}")).exists(), "i{id} missing");
        let data = data.join(format!("rot/d{id}"));
        assert!(data.exists(), "d{id} missing");
        let len = std::fs::metadata(data).unwrap().len();
        assert!(len <= 512 * 1024, "d{id} is {len} bytes, above --datasize");
    }
    // Overwrite two keys, delete one, then force an empty file pair and
    // write one more key after it.
    check_rows(&mut c, ROTATION_REWRITES);
    let after_jump = data_current_id(&mut c, "rot");
    check(&mut c, "rotation", &[b"NSJUMP"], OK);
    let newest = data_current_id(&mut c, "rot");
    assert_eq!(newest, after_jump + 1, "NSJUMP opens the next file pair");
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("rotation", &[b"SET", b"last", b"x"], b"$4\r\nlast\r\n"),
        Row("rotation", &[b"DBSIZE"], b":40\r\n"),
    ]);

    let rewritten: [&[u8]; 3] = [b"key-05", b"key-17", b"key-10"];
    let mut order: Vec<Vec<u8>> = keys
        .iter()
        .filter(|k| !rewritten.contains(&k.as_slice()))
        .cloned()
        .collect();
    order.extend([b"key-05".to_vec(), b"key-17".to_vec(), b"last".to_vec()]);
    let position = |key: &[u8]| order.iter().position(|k| k == key).unwrap();
    let expected: Vec<Item> = order.iter().map(|k| item(&mut c, k)).collect();
    assert_eq!(expected[0].cursor[1..5], [0, 0, 0, 0], "key-00 is in i0");
    let in_newest = newest.to_le_bytes();
    assert_eq!(
        expected[39].cursor[1..5],
        in_newest,
        "last is in the newest file"
    );
    let backward = reversed(&expected);
    check_walk(&mut c, "rotation", b"SCAN", None, &expected);
    check_walk(&mut c, "rotation", b"RSCAN", None, &backward);
    // Starting in the middle of a later file.
    let mid = position(b"key-30");
    let from = Some(&expected[mid].cursor[..]);
    check_walk(&mut c, "rotation", b"SCAN", from, &expected[mid + 1..]);
    let before_mid = &backward[backward.len() - mid..];
    check_walk(&mut c, "rotation", b"RSCAN", from, before_mid);
    // A cursor stays valid after its key is deleted.
    let c20 = expected[position(b"key-20")].cursor.clone();
    check(&mut c, "rotation", &[b"DEL", b"key-20"], OK);
    let rest = &expected[position(b"key-21")..];
    check_walk(&mut c, "rotation", b"SCAN", Some(&c20), rest);

    // Values read back across files.
    let v = call(&mut c, &[b"GET", b"key-03"]);
    assert_eq!(v.bulk().len(), 64 * 1024);
    assert_eq!(&v.bulk()[..8], &3u64.to_le_bytes());
    check(&mut c, "rotation", &[b"GET", b"key-05"], b"$5\r\nsmall\r\n");
    check(&mut c, "rotation", &[b"CHECK", b"key-39"], b":1\r\n");

    // The same walk after a restart (index files replayed).
    let expected_now: Vec<Item> = expected
        .iter()
        .filter(|i| i.key != b"key-20")
        .cloned()
        .collect();
    zdb.terminate();
    zdb.spawn();
    let mut c = Raw::connect(zdb.addr());
    check(&mut c, "rotation", &[b"SELECT", b"rot"], OK);
    check(&mut c, "rotation", &[b"DBSIZE"], b":39\r\n");
    check_walk(&mut c, "rotation", b"SCAN", None, &expected_now);
}

#[test]
fn seq_ids_across_file_rotations() {
    let zdb = Zdb::start(&["--datasize", "512k", "--mode", "seq"]);
    let mut c = Raw::connect(zdb.addr());
    for n in 0..20u64 {
        let value = vec![n as u8; 64 * 1024];
        check(&mut c, "seq rotation", &[b"SET", b"", &value], &id_reply(n));
    }
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("seq rotation", &[b"NSJUMP"], OK),
        Row("seq rotation", &[b"SET", b"", b"tail"], &id_reply(20)),
        Row("seq rotation", &[b"SET", &id(7), b"seven"], &id_reply(7)),
        Row("seq rotation", &[b"SET", b"", b"after"], &id_reply(22)),
    ]);
    for n in [0u64, 6, 8, 13, 19] {
        let v = call(&mut c, &[b"GET", &id(n)]);
        assert_eq!(v.bulk(), vec![n as u8; 64 * 1024], "GET id {n}");
    }
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("seq rotation", &[b"GET", &id(7)], b"$5\r\nseven\r\n"),
        Row("seq rotation", &[b"GET", &id(21)], NIL),
        Row("seq rotation", &[b"GET", &id(20)], b"$4\r\ntail\r\n"),
    ]);
    let ids: Vec<u64> = (0..21).chain([22]).collect();
    let items: Vec<Item> = ids.iter().map(|&n| item(&mut c, &id(n))).collect();
    check_walk(&mut c, "seq rotation", b"SCAN", None, &items);
}

/// The DATA RAW reply for one entry.
fn data_raw(key: &[u8], previous: i64, flags: i64, ts: i64, payload: &[u8]) -> Vec<u8> {
    let crc = format!("0x{:08x}", crc32c(payload)).into_bytes();
    array(&[
        bulk(key),
        int(previous),
        bulk(&crc),
        int(flags),
        int(ts),
        bulk(payload),
    ])
}

#[test]
fn data_raw_walks_data_entries() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "raw");
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("data raw", &[b"SET", b"a", b"xyz"], b"$1\r\na\r\n"),
        Row("data raw", &[b"SET", b"bb", b"12345"], b"$2\r\nbb\r\n"),
        Row("data raw", &[b"DEL", b"a"], OK),
        Row("data raw", &[b"SET", b"e", b""], b"$1\r\ne\r\n"),
    ]);
    let ts_bb = call(&mut c, &[b"KEYTIME", b"bb"]).int();
    let ts_e = call(&mut c, &[b"KEYTIME", b"e"]).int();
    assert!(ts_e > 0);
    // Entries: a@28 (22 bytes), bb@50 (25), delete a@75 (19), e@94 (19).
    assert_eq!(nsinfo_field(&mut c, "raw", "data_current_offset"), "113");
    let got = c.call(&[b"DATA", b"RAW", b"0", b"28"]);
    let ts_a = parse(&got).array()[4].int();
    assert_recent("data raw", ts_a as u64);
    let entry_a = data_raw(b"a", 0, 0, ts_a, b"xyz");
    assert_eq!(got, entry_a, "DATA RAW 0 28: {}", show(&got));
    let entry_bb = data_raw(b"bb", 28, 0, ts_bb, b"12345");
    // After NSJUMP the previous file is complete and the new one starts
    // with its header.
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("data raw", &[b"DATA", b"RAW", b"0", b"50"], &entry_bb),
        Row("data raw", &[b"DATA", b"RAW", b"0", b"75"], b"-Unexpected Internal Error\r\n"),
        Row("data raw", &[b"DATA", b"RAW", b"0", b"94"], b"-Invalid Request\r\n"),
        Row("data raw", &[b"DATA", b"RAW", b"0", b"113"], b"-EOF\r\n"),
        Row("data raw", &[b"DATA", b"RAW", b"0", b"99999"], b"-EOF\r\n"),
        Row("data raw", &[b"DATA", b"RAW", b"7", b"28"], b"-Invalid Request\r\n"),
        Row("data raw", &[b"data", b"raw", b"0", b"28"], &entry_a),
        Row("data raw", &[b"NSJUMP"], OK),
        Row("data raw", &[b"SET", b"c", b"after"], b"$1\r\nc\r\n"),
    ]);
    let got = c.call(&[b"DATA", b"RAW", b"1", b"28"]);
    let parts = parse(&got);
    let parts = parts.array();
    assert_eq!(parts[0].bulk(), b"c", "DATA RAW 1 28: {}", show(&got));
    assert_eq!(
        parts[1].int(),
        94,
        "previous offset is carried across rotation"
    );
    assert_eq!(parts[5].bulk(), b"after");
}

/// INDEX DIRTY lists the index files rewritten in place since the last
/// RESET: here i0 (overwrite of `a`) and i2 (delete of `c`).
#[rustfmt::skip]
const INDEX_DIRTY: &[Row] = &[
    Row("index", &[b"INDEX"], b"-Missing arguments\r\n"),
    Row("index", &[b"INDEX", b"FOO"], b"-Unknown INDEX subcommand\r\n"),
    Row("index", &[b"INDEX", b"DIRTY", b"FOO"], b"-Unknown INDEX DIRTY subcommand\r\n"),
    Row("index", &[b"INDEX", b"DIRTY"], b"*0\r\n"),
    Row("index", &[b"SET", b"a", b"1"], b"$1\r\na\r\n"),
    Row("index", &[b"SET", b"b", b"1"], b"$1\r\nb\r\n"),
    Row("index", &[b"INDEX", b"DIRTY"], b"*0\r\n"),
    Row("index", &[b"NSJUMP"], OK),
    Row("index", &[b"NSJUMP"], OK),
    Row("index", &[b"SET", b"a", b"2"], b"$1\r\na\r\n"),
    Row("index", &[b"INDEX", b"DIRTY"], b"*1\r\n:0\r\n"),
    Row("index", &[b"SET", b"c", b"1"], b"$1\r\nc\r\n"),
    Row("index", &[b"DEL", b"c"], OK),
    Row("index", &[b"INDEX", b"DIRTY"], b"*2\r\n:0\r\n:2\r\n"),
    Row("index", &[b"INDEX", b"DIRTY", b"RESET"], OK),
    Row("index", &[b"INDEX", b"DIRTY"], b"*0\r\n"),
    Row("index", &[b"DEL", b"b"], OK),
    Row("index", &[b"INDEX", b"DIRTY"], b"*1\r\n:0\r\n"),
];

#[test]
fn index_dirty_lists_files_changed_in_place() {
    let zdb = Zdb::start(&["--datasize", "512k"]);
    let mut c = Raw::connect(zdb.addr());
    enter(&mut c, "d");
    check_rows(&mut c, INDEX_DIRTY);
}

#[test]
fn hooks_are_called_and_listed() {
    let hook_dir = tempfile::tempdir().unwrap();
    let log = hook_dir.path().join("hooks.log");
    let script = hook_dir.path().join("hook.sh");
    let body = format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display());
    std::fs::write(&script, body).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let zdb = Zdb::start(&["--hook", script.to_str().unwrap()]);
    let instance = format!("tcp://127.0.0.1:{}", zdb.port);
    let lines = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let wait_line = |want: String| {
        wait_for(Duration::from_secs(10), &want, || {
            lines().contains(&want).then_some(())
        });
    };
    // Blocking hooks ran before the server answered its first PING.
    let at_boot = lines();
    let (index_root, data_root) = (zdb.index_root(), zdb.data_root());
    let init = format!(
        "namespaces-init {instance} {} {}",
        index_root.display(),
        data_root.display()
    );
    assert_eq!(at_boot.first(), Some(&init), "hook log: {at_boot:?}");
    assert!(
        at_boot.contains(&format!("ready {instance}")),
        "hook log: {at_boot:?}"
    );

    let mut c = Raw::connect(zdb.addr());
    enter(&mut c, "hk");
    wait_line(format!("namespace-created {instance} hk"));
    check(&mut c, "hooks", &[b"NSSET", b"hk", b"worm", b"0"], OK);
    wait_line(format!("namespace-updated {instance} hk"));
    check(&mut c, "hooks", &[b"SET", b"a", b"1"], b"$1\r\na\r\n");
    check(&mut c, "hooks", &[b"SET", b"a", b"2"], b"$1\r\na\r\n");
    check(&mut c, "hooks", &[b"NSJUMP"], OK);
    let (i0, i1) = (index_root.join("hk/i0"), index_root.join("hk/i1"));
    let (d0, d1) = (data_root.join("hk/d0"), data_root.join("hk/d1"));
    // jump-index is blocking: it is logged before NSJUMP answers. The
    // overwrite made i0 dirty.
    let jump_index = format!("jump-index {instance} {} {} 0", i0.display(), i1.display());
    assert!(
        lines().contains(&jump_index),
        "no {jump_index:?} in {:?}",
        lines()
    );
    let jump_data = format!("jump-data {instance} {} {}", d0.display(), d1.display());
    wait_line(jump_data);
    // A jump-index hook that exits 0 resets the dirty list.
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("hooks", &[b"INDEX", b"DIRTY"], b"*0\r\n"),
        Row("hooks", &[b"SELECT", b"default"], OK),
        Row("hooks", &[b"NSDEL", b"hk"], OK),
    ]);
    wait_line(format!("namespace-deleted {instance} hk"));

    let listed = call(&mut c, &[b"HOOKS"]);
    let runs = listed.array();
    let run = |name: &[u8]| {
        runs.iter()
            .find(|r| r.array()[0].bulk() == name)
            .unwrap_or_else(|| panic!("HOOKS lacks {}: {listed:?}", show(name)))
            .array()
    };
    let r = run(b"ready");
    assert_eq!(r.len(), 6, "HOOKS element: {r:?}");
    assert_eq!(r[1], Value::Array(vec![]), "ready has no arguments");
    assert!(r[2].int() > 0, "pid");
    assert_recent("hooks created", r[3].int() as u64);
    assert!(r[4].int() >= r[3].int(), "finished after created");
    assert_eq!(r[5].int(), 0, "exit status");
    let args: Vec<&[u8]> = run(b"jump-index")[1]
        .array()
        .iter()
        .map(Value::bulk)
        .collect();
    let want = [
        i0.display().to_string(),
        i1.display().to_string(),
        "0".to_owned(),
    ];
    assert_eq!(args, want.map(String::into_bytes), "jump-index arguments");
}
