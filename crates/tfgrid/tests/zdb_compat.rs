//! The black-box compatibility table of the 0-db spec (§17), row by row,
//! against the real `tfgrid zdb` binary, and the behaviour around it:
//! sequential ids, MGET, HISTORY chains, SCAN/RSCAN across file rotations,
//! INFO/NSINFO layouts, NSSET, forced modes, WAIT, NSDEL, FLUSH, KSCAN,
//! DATA RAW, INDEX DIRTY and hooks.
//!
//! Replies are compared as exact bytes. Where a reply holds a timestamp, a
//! nonce or a cursor, the expected bytes are built from the real value
//! (KEYTIME, KEYCUR, or the value itself after checking its shape).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{now, parse, wait_for, Raw, Value, Zdb};

const OK: &[u8] = b"+OK\r\n";
const NIL: &[u8] = b"$-1\r\n";

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn show_cmd(args: &[&[u8]]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| match a.len() {
            0 => "\"\"".to_owned(),
            n if n > 40 => format!("<{n} bytes>"),
            _ => show(a),
        })
        .collect();
    words.join(" ")
}

/// Sends `args` and asserts the exact reply; a failure names the row.
#[track_caller]
fn check(c: &mut Raw, row: &str, args: &[&[u8]], expected: &[u8]) {
    let got = c.call(args);
    assert!(
        got == expected,
        "row {row}: `{}` answered\n  {}\nexpected\n  {}",
        show_cmd(args),
        show(&got),
        show(expected)
    );
}

/// Sends `args` and decodes the reply.
fn call(c: &mut Raw, args: &[&[u8]]) -> Value {
    parse(&c.call(args))
}

fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

fn array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

/// Asserts `ts` is a unix time within a few seconds of now.
#[track_caller]
fn assert_recent(row: &str, ts: u64) {
    let n = now();
    assert!(
        ts <= n + 1 && ts + 10 >= n,
        "row {row}: timestamp {ts} is not close to now ({n})"
    );
}

/// CRC-32C as 0-db computes it: reflected Castagnoli, init 0, no final xor.
fn crc32c_raw(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A 17-byte SCAN cursor: `u8 key_len | u32 file | u32 length | u32 offset | u32 crc`.
fn cursor(key_len: u8, file: u32, length: u32, offset: u32, crc: u32) -> Vec<u8> {
    let mut out = vec![key_len];
    for n in [file, length, offset, crc] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

/// An 8-byte HISTORY cursor: `u32 index file | u32 index offset`.
fn history_cursor(file: u32, offset: u32) -> Vec<u8> {
    let mut out = file.to_le_bytes().to_vec();
    out.extend_from_slice(&offset.to_le_bytes());
    out
}

fn sha1_hex(text: &str) -> String {
    sha1_smol::Sha1::from(text).digest().to_string()
}

/// A sequential id as sent on the wire.
fn id(n: u64) -> [u8; 8] {
    n.to_le_bytes()
}

/// Creates namespace `name` and selects it.
#[track_caller]
fn enter(c: &mut Raw, name: &str) {
    check(c, "setup", &[b"NSNEW", name.as_bytes()], OK);
    check(c, "setup", &[b"SELECT", name.as_bytes()], OK);
}

/// One SCAN/RSCAN item as the server should list it.
#[derive(Debug, Clone)]
struct Item {
    key: Vec<u8>,
    length: u64,
    timestamp: u64,
    cursor: Vec<u8>,
}

/// The live item of `key`, from KEYCUR, LENGTH and KEYTIME.
#[track_caller]
fn item(c: &mut Raw, key: &[u8]) -> Item {
    let cursor = call(c, &[b"KEYCUR", key]).bulk().to_vec();
    assert_eq!(cursor.len(), 17, "KEYCUR {} is not 17 bytes", show(key));
    Item {
        key: key.to_vec(),
        length: call(c, &[b"LENGTH", key]).int() as u64,
        timestamp: call(c, &[b"KEYTIME", key]).int() as u64,
        cursor,
    }
}

fn scan_reply(items: &[Item]) -> Vec<u8> {
    let last = items.last().expect("at least one item");
    let listed: Vec<Vec<u8>> = items
        .iter()
        .map(|i| array(&[bulk(&i.key), int(i.length as i64), int(i.timestamp as i64)]))
        .collect();
    array(&[bulk(&last.cursor), array(&listed)])
}

/// Walks SCAN or RSCAN from `start` to the end, following the cursors the
/// server returns, and asserts every batch is exactly the next `expected`
/// items (the batch size is time-bound, so it may vary), then
/// `-No more data`.
#[track_caller]
fn check_walk(c: &mut Raw, row: &str, cmd: &[u8], start: Option<&[u8]>, expected: &[Item]) {
    let mut done = 0;
    let mut next: Option<Vec<u8>> = start.map(<[u8]>::to_vec);
    loop {
        let mut args: Vec<&[u8]> = vec![cmd];
        if let Some(c) = &next {
            args.push(c);
        }
        let got = c.call(&args);
        if done == expected.len() {
            assert!(
                got == b"-No more data\r\n",
                "row {row}: {} after the last item answered {}",
                show(cmd),
                show(&got)
            );
            return;
        }
        let n = match parse(&got) {
            Value::Array(parts) if parts.len() == 2 => parts[1].array().len(),
            _ => panic!("row {row}: {} answered {}", show(cmd), show(&got)),
        };
        assert!(
            n >= 1 && done + n <= expected.len(),
            "row {row}: {} returned {n} items with {} of {} left: {}",
            show(cmd),
            expected.len() - done,
            expected.len(),
            show(&got)
        );
        let want = scan_reply(&expected[done..done + n]);
        assert!(
            got == want,
            "row {row}: {} batch at item {done} answered\n  {}\nexpected\n  {}",
            show(cmd),
            show(&got),
            show(&want)
        );
        done += n;
        next = Some(expected[done - 1].cursor.clone());
    }
}

fn open_server() -> (Zdb, Raw) {
    let zdb = Zdb::start(&[]);
    let c = Raw::connect(zdb.addr());
    (zdb, c)
}

#[test]
fn crc_helper_matches_the_spec_value() {
    assert_eq!(crc32c_raw(b"world"), 0x74d8_f77b);
}

#[test]
fn rows_01_to_09_basics_and_namespace_names() {
    let (_zdb, mut c) = open_server();
    check(&mut c, "1", &[b"PING"], b"+PONG\r\n");
    check(&mut c, "1", &[b"PING", b"extra", b"args"], b"+PONG\r\n");
    check(&mut c, "2", &[b"ping"], b"+PONG\r\n");
    check(&mut c, "3", &[b"FOOBAR"], b"-Command not supported\r\n");
    // Exact command names (spec §12 #3): a prefix is not a command.
    check(&mut c, "3", &[b"PIN"], b"-Command not supported\r\n");
    check(&mut c, "3", &[b"PINGX"], b"-Command not supported\r\n");
    enter(&mut c, "ns");
    check(
        &mut c,
        "4",
        &[b"NSNEW", b"ns"],
        b"-This namespace is not available\r\n",
    );
    check(
        &mut c,
        "5",
        &[b"NSNEW", b"default"],
        b"-This name is not allowed\r\n",
    );
    check(
        &mut c,
        "5",
        &[b"NSNEW", b"a/b"],
        b"-This name is not allowed\r\n",
    );
    check(
        &mut c,
        "5",
        &[b"NSNEW", b"."],
        b"-This name is not allowed\r\n",
    );
    check(
        &mut c,
        "5",
        &[b"NSNEW", b".."],
        b"-This name is not allowed\r\n",
    );
    check(
        &mut c,
        "6",
        &[b"NSNEW", &[b'x'; 129]],
        b"-Namespace too long\r\n",
    );
    check(&mut c, "6", &[b"NSNEW", &[b'x'; 128]], OK);
    check(&mut c, "6", &[b"NSNEW"], b"-Unexpected arguments\r\n");
    check(&mut c, "6", &[b"NSNEW", b""], b"-Invalid argument\r\n");
    check(
        &mut c,
        "7",
        &[b"SELECT", b"nope"],
        b"-Namespace not found\r\n",
    );
    check(&mut c, "7", &[b"SELECT", b""], b"-Namespace not found\r\n");
    check(&mut c, "7", &[b"SELECT", b"0"], b"-Namespace not found\r\n");
    check(&mut c, "7", &[b"SELECT"], b"-Invalid argument\r\n");
    check(&mut c, "8", &[b"DBSIZE"], b":0\r\n");
    check(&mut c, "9", &[b"SCAN"], b"-No more data\r\n");
    check(&mut c, "9", &[b"RSCAN"], b"-No more data\r\n");
    let names = array(&[bulk(b"default"), bulk(b"ns"), bulk(&[b'x'; 128])]);
    check(&mut c, "NSLIST", &[b"NSLIST"], &names);
}

/// Rows 10–27 in a fresh namespace `ns`; shared with the rows that build
/// on that state.
fn rows_10_to_27(c: &mut Raw) {
    enter(c, "ns");
    check(c, "10", &[b"SET", b"hello", b"world"], b"$5\r\nhello\r\n");
    check(c, "11", &[b"SET", b"hello", b"world"], NIL);
    check(c, "12", &[b"GET", b"hello"], b"$5\r\nworld\r\n");
    check(c, "12", &[b"GET", b"missing"], NIL);
    check(c, "13", &[b"EXISTS", b"hello"], b":1\r\n");
    check(c, "13", &[b"EXISTS", b"missing"], b":0\r\n");
    check(c, "14", &[b"LENGTH", b"hello"], b":5\r\n");
    check(c, "14", &[b"LENGTH", b"missing"], NIL);
    check(c, "15", &[b"CHECK", b"hello"], b":1\r\n");
    check(c, "15", &[b"CHECK", b"missing"], NIL);
    let ts = call(c, &[b"KEYTIME", b"hello"]).int();
    assert_recent("16", ts as u64);
    check(c, "16", &[b"KEYTIME", b"missing"], NIL);
    check(c, "17", &[b"SET", b"hello", b"world2"], b"$5\r\nhello\r\n");
    check(c, "17", &[b"GET", b"hello"], b"$6\r\nworld2\r\n");
    check(
        c,
        "18",
        &[b"SET", b"", b"x"],
        b"-Invalid argument, key needed\r\n",
    );
    check(c, "19", &[b"SET", b"k"], b"-Unexpected arguments\r\n");
    check(
        c,
        "19",
        &[b"SET", b"a", b"b", b"c", b"d"],
        b"-Unexpected arguments\r\n",
    );
    check(c, "20", &[b"GET", b""], b"-Invalid argument\r\n");
    check(c, "20", &[b"GET", b"a", b"b"], b"-Unexpected arguments\r\n");
    let k255 = [b'k'; 255];
    let k256 = [b'k'; 256];
    check(c, "21", &[b"SET", &k255, b"v"], &bulk(&k255));
    check(c, "21", &[b"SET", &k256, b"v"], b"-Key too large\r\n");
    for cmd in [
        &b"GET"[..],
        b"EXISTS",
        b"CHECK",
        b"LENGTH",
        b"KEYTIME",
        b"DEL",
        b"MGET",
    ] {
        check(c, "21", &[cmd, &k256], b"-Invalid key\r\n");
    }
    check(c, "22", &[b"SET", b"empty", b""], b"$5\r\nempty\r\n");
    check(c, "22", &[b"GET", b"empty"], b"$0\r\n\r\n");
    check(c, "22", &[b"LENGTH", b"empty"], b":0\r\n");
    check(
        c,
        "23",
        &[b"MGET", b"hello", b"missing", b"empty"],
        b"*3\r\n$6\r\nworld2\r\n$-1\r\n$0\r\n\r\n",
    );
    check(c, "24", &[b"MGET"], b"-Invalid arguments\r\n");
    check(c, "25", &[b"DEL", b"missing"], b"-Key not found\r\n");
    check(c, "25", &[b"DEL", b"hello"], OK);
    check(c, "25", &[b"DEL", b"hello"], b"-Key not found\r\n");
    check(c, "25", &[b"GET", b"hello"], NIL);
    check(c, "25", &[b"EXISTS", b"hello"], b":0\r\n");
    check(c, "26", &[b"KEYCUR", b"missing"], b"-Key not found\r\n");
    // Index entries: hello@29 (39 bytes), hello@68, k255@107 (289), empty@396.
    check(
        c,
        "26",
        &[b"KEYCUR", b"empty"],
        &bulk(&cursor(5, 0, 0, 396, 0)),
    );
    check(c, "27", &[b"HISTORY", b"hello"], b"-Key not found\r\n");
    check(c, "27", &[b"HISTORY"], b"-Invalid arguments\r\n");
    check(
        c,
        "27",
        &[b"HISTORY", b"k", &[0u8; 8]],
        b"-No more history\r\n",
    );
    check(
        c,
        "27",
        &[b"HISTORY", b"k", &[0u8; 7]],
        b"-Invalid arguments\r\n",
    );
}

#[test]
fn rows_10_to_27_keys() {
    let (_zdb, mut c) = open_server();
    rows_10_to_27(&mut c);
    check(&mut c, "DBSIZE", &[b"DBSIZE"], b":2\r\n");
}

#[test]
fn rows_28_to_34_scan_rscan_history() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "ns2");
    check(&mut c, "28", &[b"SET", b"k1", b"a"], b"$2\r\nk1\r\n");
    check(&mut c, "28", &[b"SET", b"k2", b"bb"], b"$2\r\nk2\r\n");
    check(&mut c, "28", &[b"SET", b"k3", b"ccc"], b"$2\r\nk3\r\n");
    check(&mut c, "28", &[b"SET", b"k1", b"dddd"], b"$2\r\nk1\r\n");
    let (k1, k2, k3) = (
        item(&mut c, b"k1"),
        item(&mut c, b"k2"),
        item(&mut c, b"k3"),
    );
    // Cursors name the index entries: k1@29, k2@65, k3@101, k1 again @137.
    assert_eq!(
        k1.cursor,
        cursor(2, 0, 4, 137, crc32c_raw(b"dddd")),
        "row 28: KEYCUR k1"
    );
    assert_eq!(
        k2.cursor,
        cursor(2, 0, 2, 65, crc32c_raw(b"bb")),
        "row 28: KEYCUR k2"
    );
    assert_eq!(
        k3.cursor,
        cursor(2, 0, 3, 101, crc32c_raw(b"ccc")),
        "row 28: KEYCUR k3"
    );
    for i in [&k1, &k2, &k3] {
        assert_recent("28", i.timestamp);
    }
    check_walk(
        &mut c,
        "28",
        b"SCAN",
        None,
        &[k2.clone(), k3.clone(), k1.clone()],
    );
    check_walk(
        &mut c,
        "28",
        b"SCANX",
        None,
        &[k2.clone(), k3.clone(), k1.clone()],
    );
    check_walk(
        &mut c,
        "29",
        b"RSCAN",
        None,
        &[k1.clone(), k3.clone(), k2.clone()],
    );
    check_walk(
        &mut c,
        "30",
        b"SCAN",
        Some(&k3.cursor),
        std::slice::from_ref(&k1),
    );
    check_walk(
        &mut c,
        "30",
        b"RSCAN",
        Some(&k3.cursor),
        std::slice::from_ref(&k2),
    );
    check(&mut c, "31", &[b"SCAN", &k1.cursor], b"-No more data\r\n");
    check(&mut c, "31", &[b"RSCAN", &k2.cursor], b"-No more data\r\n");
    check(&mut c, "31", &[b"SCAN", b"x"], b"-Invalid key format\r\n");
    check(&mut c, "31", &[b"RSCAN", b"x"], b"-Invalid key format\r\n");
    let mut bad_crc = k3.cursor.clone();
    bad_crc[13] ^= 1;
    check(
        &mut c,
        "31",
        &[b"SCAN", &bad_crc],
        b"-Invalid key format\r\n",
    );
    // The first version of k1 is at 0/29.
    let older = history_cursor(0, 29);
    let want = array(&[
        bulk(&older),
        bulk(k1.timestamp.to_string().as_bytes()),
        bulk(b"dddd"),
    ]);
    check(&mut c, "32", &[b"HISTORY", b"k1"], &want);
    let got = c.call(&[b"HISTORY", b"k1", &older]);
    let ts = parse(&got).array()[1].bulk().to_vec();
    assert_eq!(ts.len(), 10, "row 33: timestamp {}", show(&ts));
    assert_recent(
        "33",
        String::from_utf8(ts.clone()).unwrap().parse().unwrap(),
    );
    assert_eq!(
        got,
        array(&[NIL.to_vec(), bulk(&ts), bulk(b"a")]),
        "row 33: {}",
        show(&got)
    );
    check(
        &mut c,
        "34",
        &[b"HISTORY", b"k2", &older],
        b"-Invalid arguments (invalid key)\r\n",
    );
    check(
        &mut c,
        "34",
        &[b"HISTORY", b"k1", &history_cursor(0, 100_000)],
        b"-Invalid arguments (index query)\r\n",
    );
}

#[test]
fn rows_35_to_43_namespace_passwords() {
    let (zdb, mut a) = open_server();
    for property in [&b"maxsize"[..], b"password", b"public", b"worm"] {
        check(
            &mut a,
            "35",
            &[b"NSSET", b"default", property, b"1"],
            b"-Cannot update default namespace\r\n",
        );
    }
    enter(&mut a, "ns");
    check(
        &mut a,
        "36",
        &[b"NSSET", b"ns", b"bogus", b"1"],
        b"-Invalid property\r\n",
    );
    check(
        &mut a,
        "36",
        &[b"NSSET", b"nope", b"lock", b"1"],
        b"-Namespace not found\r\n",
    );
    check(
        &mut a,
        "36",
        &[b"NSSET", b"ns", b"maxsize", &[b'1'; 64]],
        b"-Argument too long\r\n",
    );
    enter(&mut a, "ns2");
    check(&mut a, "setup", &[b"SET", b"k2", b"bb"], b"$2\r\nk2\r\n");

    let mut b = Raw::connect(zdb.addr());
    check(&mut a, "37", &[b"NSSET", b"ns2", b"password", b"pw"], OK);
    check(&mut b, "37", &[b"SELECT", b"ns2"], OK);
    check(
        &mut b,
        "37",
        &[b"SET", b"x", b"y"],
        b"-Namespace is in read-only mode\r\n",
    );
    check(
        &mut b,
        "37",
        &[b"DEL", b"k2"],
        b"-Namespace is in read-only mode\r\n",
    );
    check(&mut b, "37", &[b"GET", b"k2"], b"$2\r\nbb\r\n");
    check(
        &mut b,
        "38",
        &[b"SELECT", b"ns2", b"bad"],
        b"-Access denied\r\n",
    );
    check(
        &mut b,
        "38",
        &[b"SELECT", b"ns2", b"pwx"],
        b"-Access denied\r\n",
    );
    check(
        &mut b,
        "38",
        &[b"SELECT", b"ns2", b"p"],
        b"-Access denied\r\n",
    );
    check(
        &mut b,
        "38",
        &[b"SELECT", b"ns2", &[b'p'; 256]],
        b"-Password too long\r\n",
    );
    check(&mut b, "38", &[b"SELECT", b"ns2", b"pw"], OK);
    check(&mut b, "38", &[b"SET", b"x", b"y"], b"$1\r\nx\r\n");
    check(&mut a, "39", &[b"NSSET", b"ns2", b"public", b"0"], OK);
    check(
        &mut b,
        "39",
        &[b"SELECT", b"ns2"],
        b"-Namespace protected and private\r\n",
    );
    check(
        &mut b,
        "39",
        &[b"SELECT", b"ns2", b"a", b"b", b"c"],
        b"-Too many arguments\r\n",
    );
    let zeros = [b'0'; 40];
    check(
        &mut b,
        "40",
        &[b"SELECT", b"ns2", b"SECURE", &zeros],
        b"-No CHALLENGE requested, secure authentication not available\r\n",
    );
    check(
        &mut b,
        "40",
        &[b"SELECT", b"ns2", b"PLAIN", &zeros],
        b"-Only SECURE extra method supported\r\n",
    );
    let reply = b.call(&[b"AUTH", b"SECURE", b"CHALLENGE"]);
    assert_eq!(reply.len(), 19, "row 41: {}", show(&reply));
    assert!(
        reply.starts_with(b"+") && reply.ends_with(b"\r\n"),
        "row 41: {}",
        show(&reply)
    );
    let nonce = std::str::from_utf8(&reply[1..17]).unwrap().to_owned();
    assert!(
        nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "row 41: nonce {nonce:?} is not lowercase hex"
    );
    check(
        &mut b,
        "42",
        &[b"SELECT", b"ns2", b"SECURE", b"abc"],
        b"-Invalid hash length\r\n",
    );
    check(
        &mut b,
        "42",
        &[b"SELECT", b"ns2", b"SECURE", &zeros],
        b"-Access denied\r\n",
    );
    let wrong = sha1_hex(&format!("{nonce}:px"));
    check(
        &mut b,
        "42",
        &[b"SELECT", b"ns2", b"SECURE", wrong.as_bytes()],
        b"-Access denied\r\n",
    );
    let hash = sha1_hex(&format!("{nonce}:pw"));
    check(
        &mut b,
        "42",
        &[b"SELECT", b"ns2", b"SECURE", hash.as_bytes()],
        OK,
    );
    // SELECT does not consume the nonce (spec §5.18).
    check(
        &mut b,
        "42",
        &[b"SELECT", b"ns2", b"SECURE", hash.as_bytes()],
        OK,
    );
    check(&mut b, "42", &[b"SET", b"z", b"1"], b"$1\r\nz\r\n");
    check(&mut a, "43", &[b"SELECT", b"ns"], OK);
    check(
        &mut a,
        "43",
        &[b"FLUSH"],
        b"-Flushing public namespace denied\r\n",
    );
    check(&mut a, "43", &[b"SELECT", b"default"], OK);
    check(
        &mut a,
        "43",
        &[b"FLUSH"],
        b"-Flushing public namespace denied\r\n",
    );
    // Private but without a password: still denied.
    check(&mut a, "43", &[b"NSSET", b"ns", b"public", b"0"], OK);
    check(&mut a, "43", &[b"SELECT", b"ns"], OK);
    check(
        &mut a,
        "43",
        &[b"FLUSH"],
        b"-Flushing public namespace denied\r\n",
    );
}

#[test]
fn rows_44_to_48_worm_lock_freeze_maxsize() {
    let (_zdb, mut c) = open_server();
    rows_10_to_27(&mut c);
    // Live now: k255 ("v") and empty (""): 2 keys, 1 byte.
    check(&mut c, "44", &[b"NSSET", b"ns", b"worm", b"1"], OK);
    check(&mut c, "44", &[b"SET", b"w", b"1"], b"$1\r\nw\r\n");
    check(
        &mut c,
        "44",
        &[b"SET", b"w", b"2"],
        b"-Namespace is protected by worm mode\r\n",
    );
    check(
        &mut c,
        "44",
        &[b"SET", b"w", b"1"],
        b"-Namespace is protected by worm mode\r\n",
    );
    check(
        &mut c,
        "44",
        &[b"DEL", b"w"],
        b"-Cannot delete a key when namespace is in worm mode\r\n",
    );
    check(&mut c, "44", &[b"DEL", b"nope"], b"-Key not found\r\n");
    check(&mut c, "45", &[b"NSSET", b"ns", b"lock", b"1"], OK);
    let locked = b"-Namespace is temporarily locked (read-only)\r\n";
    check(&mut c, "45", &[b"SET", b"l", b"1"], locked);
    check(&mut c, "45", &[b"DEL", b"w"], locked);
    check(&mut c, "45", &[b"GET", b"w"], b"$1\r\n1\r\n");
    check(&mut c, "46", &[b"NSSET", b"ns", b"freeze", b"1"], OK);
    let frozen = b"-Namespace is temporarily frozen (read-write disabled)\r\n";
    for args in [
        &[&b"GET"[..], b"w"][..],
        &[b"EXISTS", b"w"],
        &[b"SCAN"],
        &[b"RSCAN"],
        &[b"CHECK", b"w"],
        &[b"LENGTH", b"w"],
        &[b"KEYTIME", b"w"],
        &[b"KEYCUR", b"w"],
        &[b"HISTORY", b"w"],
        &[b"MGET", b"w"],
        &[b"SET", b"l", b"1"],
        &[b"DEL", b"w"],
    ] {
        check(&mut c, "46", args, frozen);
    }
    check(&mut c, "46", &[b"DBSIZE"], b":3\r\n");
    check(&mut c, "46", &[b"PING"], b"+PONG\r\n");
    check(&mut c, "46", &[b"NSSET", b"ns", b"freeze", b"0"], OK);
    check(&mut c, "46", &[b"NSSET", b"ns", b"worm", b"0"], OK);
    // 2 bytes used now (v + 1).
    check(&mut c, "47", &[b"NSSET", b"ns", b"maxsize", b"5"], OK);
    check(
        &mut c,
        "47",
        &[b"SET", b"m1", b"1234"],
        b"-No space left on this namespace\r\n",
    );
    check(&mut c, "47", &[b"SET", b"m2", b"123"], b"$2\r\nm2\r\n");
    check(
        &mut c,
        "47",
        &[b"SET", b"w", b"1234"],
        b"-No space left on this namespace\r\n",
    );
    // Replacing a value by one of the same size fits.
    check(&mut c, "47", &[b"SET", b"m2", b"456"], b"$2\r\nm2\r\n");
    check(
        &mut c,
        "48",
        &[b"NSSET", b"ns", b"mode", b"seq"],
        b"-Cannot change mode of used namespace\r\n",
    );
}

#[test]
fn rows_49_to_54_seq_namespace_and_nsdel() {
    let (zdb, mut a) = open_server();
    check(&mut a, "setup", &[b"NSNEW", b"ns3"], OK);
    check(
        &mut a,
        "49",
        &[b"NSSET", b"ns3", b"mode", b"foo"],
        b"-Invalid property value (expected: user, seq)\r\n",
    );
    check(&mut a, "49", &[b"NSSET", b"ns3", b"mode", b"seq"], OK);
    check(&mut a, "setup", &[b"SELECT", b"ns3"], OK);
    check(&mut a, "50", &[b"SET", b"", b"a"], &bulk(&id(0)));
    check(&mut a, "50", &[b"SET", b"", b"b"], &bulk(&id(1)));
    check(&mut a, "51", &[b"SET", &id(0), b"a2"], &bulk(&id(0)));
    check(&mut a, "51", &[b"SET", b"", b"c"], &bulk(&id(3)));
    check(&mut a, "51", &[b"GET", &id(2)], NIL);
    check(&mut a, "51", &[b"GET", &id(0)], b"$2\r\na2\r\n");
    check(
        &mut a,
        "52",
        &[b"SET", &id(9), b"x"],
        b"-Invalid key, only update authorized\r\n",
    );
    check(
        &mut a,
        "52",
        &[b"SET", b"abc", b"x"],
        b"-Invalid key, only update authorized\r\n",
    );
    check(
        &mut a,
        "52",
        &[b"SET", &id(2), b"x"],
        b"-Invalid key, only update authorized\r\n",
    );
    check(&mut a, "52", &[b"GET", b"x"], NIL);
    check(
        &mut a,
        "53",
        &[b"NSDEL", b"default"],
        b"-Cannot remove default namespace\r\n",
    );
    check(
        &mut a,
        "53",
        &[b"NSDEL", b"ns3"],
        b"-Cannot remove namespace you're currently using.\r\n",
    );
    check(
        &mut a,
        "53",
        &[b"NSDEL", b"nope"],
        b"-This namespace doesn't exists\r\n",
    );
    let mut b = Raw::connect(zdb.addr());
    check(&mut b, "54", &[b"NSDEL", b"ns3"], OK);
    check(
        &mut a,
        "54",
        &[b"PING"],
        b"-Your active namespace is not available anymore (probably removed).\r\n",
    );
    a.assert_closed("row 54");
    check(
        &mut b,
        "54",
        &[b"SELECT", b"ns3"],
        b"-Namespace not found\r\n",
    );
    check(&mut b, "54", &[b"NSLIST"], &array(&[bulk(b"default")]));
    assert!(
        !zdb.index_root().join("ns3").exists(),
        "row 54: index dir of ns3 still there"
    );
    assert!(
        !zdb.data_root().join("ns3").exists(),
        "row 54: data dir of ns3 still there"
    );
    // The name can be reused; the new namespace is empty and in user mode.
    check(&mut b, "54", &[b"NSNEW", b"ns3"], OK);
    check(&mut b, "54", &[b"SELECT", b"ns3"], OK);
    check(&mut b, "54", &[b"DBSIZE"], b":0\r\n");
    check(&mut b, "54", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
}

#[test]
fn rows_55_to_63_auth_wait_time_info() {
    let (zdb, mut a) = open_server();
    check(
        &mut a,
        "55",
        &[b"AUTH", b"x"],
        b"-Authentication disabled\r\n",
    );
    check(
        &mut a,
        "55",
        &[b"AUTH", b"SECURE", &[b'0'; 40]],
        b"-Authentication disabled\r\n",
    );
    check(&mut a, "55", &[b"AUTH"], b"-Unexpected arguments\r\n");
    check(&mut a, "56", &[b"WAIT"], b"-Invalid arguments\r\n");
    check(
        &mut a,
        "56",
        &[b"WAIT", b"a", b"b", b"c"],
        b"-Invalid arguments\r\n",
    );
    check(
        &mut a,
        "56",
        &[b"WAIT", b"nonexisting"],
        b"-Unknown command to watch\r\n",
    );
    check(
        &mut a,
        "56",
        &[b"WAIT", b"PING", b"50"],
        b"-Invalid timeout\r\n",
    );
    check(
        &mut a,
        "56",
        &[b"WAIT", b"PING", b"1800001"],
        b"-Invalid timeout\r\n",
    );
    check(
        &mut a,
        "56",
        &[b"WAIT", b"PING", b"abc"],
        b"-Invalid timeout\r\n",
    );
    check(
        &mut a,
        "56",
        &[b"WAIT", b"PING", b"00000000000000100"],
        b"-Invalid timeout\r\n",
    );

    // Row 57: nothing is sent for WAIT; the connection keeps answering;
    // -Timeout comes once the 100 ms are over.
    let started = Instant::now();
    a.send(&[b"WAIT", b"PING", b"100"]);
    check(&mut a, "57", &[b"PING"], b"+PONG\r\n");
    let reply = a.reply();
    let elapsed = started.elapsed();
    assert_eq!(reply, b"-Timeout\r\n", "row 57: {}", show(&reply));
    assert!(
        elapsed >= Duration::from_millis(100),
        "row 57: -Timeout after only {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "row 57: -Timeout after {elapsed:?}"
    );

    let mut b = Raw::connect(zdb.addr());
    a.send(&[b"WAIT", b"SET"]);
    // In-order replies: once PONG is back, the WAIT is registered.
    check(&mut a, "58", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "58", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    let reply = a.reply();
    assert_eq!(reply, b"+SET\r\n", "row 58: {}", show(&reply));

    let time = call(&mut a, &[b"TIME"]);
    let parts = time.array();
    assert_eq!(parts.len(), 2, "row 59: {time:?}");
    let secs = std::str::from_utf8(parts[0].bulk()).unwrap();
    let usecs = std::str::from_utf8(parts[1].bulk()).unwrap();
    assert_eq!(secs.len(), 10, "row 59: seconds {secs:?}");
    assert_recent("59", secs.parse().unwrap());
    let usec: u32 = usecs
        .parse()
        .unwrap_or_else(|_| panic!("row 59: microseconds {usecs:?}"));
    assert!(usec < 1_000_000, "row 59: microseconds {usec}");
    assert_eq!(
        usecs,
        usec.to_string(),
        "row 59: microseconds are not zero-padded"
    );

    let info = call(&mut a, &[b"INFO"]);
    assert!(
        info.bulk()
            .starts_with(b"# server\nserver_name: 0-db (zdb)\n"),
        "row 60: {}",
        show(info.bulk())
    );
    enter(&mut a, "ns");
    let nsinfo = call(&mut a, &[b"NSINFO", b"ns"]);
    let text = std::str::from_utf8(nsinfo.bulk()).unwrap();
    assert!(
        text.starts_with(
            "# namespace\nname: ns\nentries: 0\npublic: yes\nworm: no\nlocked: no\npassword: no\n"
        ),
        "row 61: {text}"
    );
    assert!(text.contains("\nmode: userkey\n"), "row 61: {text}");
    check(
        &mut a,
        "62",
        &[b"NSINFO", b"nope"],
        b"-Namespace not found\r\n",
    );
    check(
        &mut a,
        "62",
        &[b"NSINFO", &[b'n'; 129]],
        b"-Namespace too long\r\n",
    );
    check(&mut a, "63", &[b"STOP"], b"-Unauthorized\r\n");
    check(&mut a, "63", &[b"PING"], b"+PONG\r\n");
}

#[test]
fn rows_64_to_70_protocol_and_aliases() {
    let zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    c.send_raw(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n");
    for _ in 0..3 {
        let reply = c.reply();
        assert_eq!(reply, b"+PONG\r\n", "row 64: {}", show(&reply));
    }
    for (row, input, expected) in [
        (
            "65",
            &b"PING\r\n"[..],
            &b"-Malformed request, array expected\r\n"[..],
        ),
        ("66", b"*0\r\n", b"-Missing arguments\r\n"),
        (
            "67",
            b"*2\r\n$3\r\nGET\r\n$8388609\r\n",
            b"-Payload too big\r\n",
        ),
    ] {
        let mut raw = Raw::connect(zdb.addr());
        raw.send_raw(input);
        let reply = raw.reply();
        assert_eq!(
            reply,
            expected,
            "row {row}: {} answered {}",
            show(input),
            show(&reply)
        );
        raw.assert_closed(&format!("row {row}"));
    }
    check(&mut c, "68", &[b""], b"-This is not a valid command\r\n");
    check(&mut c, "68", &[b"*"], b"-This is not a valid command\r\n");
    check(&mut c, "69", &[b"SETX", b"sx", b"v"], b"$2\r\nsx\r\n");
    check(&mut c, "69", &[b"GET", b"sx"], b"$1\r\nv\r\n");
    check(
        &mut c,
        "70",
        &[b"DATA", b"RAW", b"0"],
        b"-Missing arguments\r\n",
    );
    check(
        &mut c,
        "70",
        &[b"DATA", b"FOO", b"0", b"0"],
        b"-Unknown DATA subcommand\r\n",
    );
    check(&mut c, "70", &[b"MIRROR"], b"+Starting mirroring\r\n");
}

#[test]
fn rows_a1_to_a8_admin_mode() {
    let zdb = Zdb::start(&["--admin", "secret", "--protect"]);
    let mut c = Raw::connect(zdb.addr());
    let denied = b"-Permission denied\r\n";
    let admin_only: [&[&[u8]]; 9] = [
        &[b"NSNEW", b"x"],
        &[b"NSDEL", b"x"],
        &[b"NSSET", b"x", b"public", b"1"],
        &[b"NSJUMP"],
        &[b"HOOKS"],
        &[b"INDEX", b"DIRTY"],
        &[b"DATA", b"RAW", b"0", b"28"],
        &[b"RELOAD", b"default"],
        &[b"MIRROR"],
    ];
    for args in admin_only {
        check(&mut c, "A1", args, denied);
    }
    check(
        &mut c,
        "A2",
        &[b"SET", b"a", b"b"],
        b"-Namespace is in read-only mode\r\n",
    );
    check(
        &mut c,
        "A2",
        &[b"DEL", b"a"],
        b"-Namespace is in read-only mode\r\n",
    );
    check(&mut c, "A3", &[b"SET", b"a", b"b", b"1000"], denied);
    check(&mut c, "A3", &[b"DEL", b"a", b"1000"], denied);
    let info = call(&mut c, &[b"INFO"]);
    let text = std::str::from_utf8(info.bulk()).unwrap();
    assert!(
        text.contains("\ncommands_unauthorized: 11\n"),
        "A1-A3: INFO counts denials: {text}"
    );
    // Reads, NSLIST and NSINFO need no admin; NSINFO hides paths.
    check(&mut c, "A2", &[b"GET", b"a"], NIL);
    check(&mut c, "A2", &[b"NSLIST"], &array(&[bulk(b"default")]));
    let nsinfo = call(&mut c, &[b"NSINFO", b"default"]);
    let text = std::str::from_utf8(nsinfo.bulk()).unwrap();
    assert!(
        text.contains("\npassword: yes\n") && text.contains("\npublic: yes\n"),
        "A2: {text}"
    );
    assert!(
        !text.contains("data_path"),
        "A2: NSINFO shows admin fields to a non-admin: {text}"
    );

    check(&mut c, "A4", &[b"AUTH", b"wrong"], b"-Access denied\r\n");
    check(&mut c, "A4", &[b"AUTH", b""], b"-Invalid argument\r\n");
    check(
        &mut c,
        "A4",
        &[b"AUTH", &[b'x'; 129]],
        b"-Password too long\r\n",
    );
    check(
        &mut c,
        "A4",
        &[b"AUTH", &[b'x'; 128]],
        b"-Access denied\r\n",
    );
    check(
        &mut c,
        "A4",
        &[b"AUTH", b"secret", b"x"],
        b"-Only SECURE extra method supported\r\n",
    );
    check(
        &mut c,
        "A4",
        &[b"AUTH", b"a", b"b", b"c"],
        b"-Unexpected arguments\r\n",
    );
    check(&mut c, "A4", &[b"NSNEW", b"x"], denied);

    let no_challenge = b"-No CHALLENGE requested, secure authentication not available\r\n";
    check(
        &mut c,
        "A5",
        &[b"AUTH", b"SECURE", &[b'0'; 40]],
        no_challenge,
    );
    let nonce = challenge(&mut c, "A5");
    check(
        &mut c,
        "A5",
        &[b"AUTH", b"SECURE", &[b'0'; 40]],
        b"-Access denied\r\n",
    );
    let burnt = sha1_hex(&format!("{nonce}:secret"));
    check(
        &mut c,
        "A5",
        &[b"AUTH", b"SECURE", burnt.as_bytes()],
        no_challenge,
    );
    check(&mut c, "A5", &[b"NSNEW", b"x"], denied);

    let nonce = challenge(&mut c, "A6");
    // A wrong length keeps the nonce.
    check(
        &mut c,
        "A6",
        &[b"AUTH", b"SECURE", b"abc"],
        b"-Invalid hash length\r\n",
    );
    let hash = sha1_hex(&format!("{nonce}:secret"));
    check(&mut c, "A6", &[b"AUTH", b"SECURE", hash.as_bytes()], OK);
    check(&mut c, "A6", &[b"NSNEW", b"x"], OK);
    let nsinfo = call(&mut c, &[b"NSINFO", b"x"]);
    let text = std::str::from_utf8(nsinfo.bulk()).unwrap();
    assert!(
        text.contains("\ndata_path: "),
        "A6: admin NSINFO lacks data_path: {text}"
    );

    // Plain AUTH on another connection.
    let mut d = Raw::connect(zdb.addr());
    check(&mut d, "A4", &[b"AUTH", b"secret"], OK);
    check(&mut d, "A4", &[b"NSDEL", b"x"], OK);

    check(
        &mut c,
        "A7",
        &[b"SET", b"a", b"b"],
        b"-Namespace is in read-only mode\r\n",
    );
    check(
        &mut c,
        "A7",
        &[b"SELECT", b"default", b"wrong"],
        b"-Access denied\r\n",
    );
    check(&mut c, "A7", &[b"SELECT", b"default", b"secret"], OK);
    check(&mut c, "A7", &[b"SET", b"a", b"b"], b"$1\r\na\r\n");
    check(
        &mut c,
        "A8",
        &[b"SET", b"ts", b"v", b"1000"],
        b"$2\r\nts\r\n",
    );
    check(&mut c, "A8", &[b"KEYTIME", b"ts"], b":1000\r\n");
    check(&mut c, "A8", &[b"DEL", b"ts", b"2000"], OK);
    check(&mut c, "A8", &[b"EXISTS", b"ts"], b":0\r\n");
    // The delete record carries the given timestamp.
    let d0 = std::fs::read(zdb.data_root().join("default/d0")).unwrap();
    let last = &d0[d0.len() - 20..];
    assert_eq!(
        &last[13..18],
        &[1, 0xd0, 0x07, 0, 0],
        "A8: delete record flags/timestamp"
    );
    assert_eq!(&last[18..], b"ts", "A8: delete record key");
    // FLUSH on the protected default: it is public.
    check(
        &mut c,
        "A7",
        &[b"FLUSH"],
        b"-Flushing public namespace denied\r\n",
    );
}

/// `AUTH SECURE CHALLENGE`: a `+<16 lowercase hex>` status.
#[track_caller]
fn challenge(c: &mut Raw, row: &str) -> String {
    let reply = c.call(&[b"AUTH", b"SECURE", b"CHALLENGE"]);
    let text = std::str::from_utf8(&reply).unwrap_or("");
    let nonce = text
        .strip_prefix('+')
        .and_then(|t| t.strip_suffix("\r\n"))
        .unwrap_or("");
    assert!(
        nonce.len() == 16
            && nonce
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "row {row}: challenge answered {}",
        show(&reply)
    );
    nonce.to_owned()
}

#[test]
fn seq_mode_consumes_an_id_per_update() {
    let (_zdb, mut c) = open_server();
    check(&mut c, "setup", &[b"NSNEW", b"s"], OK);
    check(&mut c, "setup", &[b"NSSET", b"s", b"mode", b"seq"], OK);
    check(&mut c, "setup", &[b"SELECT", b"s"], OK);
    check(&mut c, "seq", &[b"DBSIZE"], b":0\r\n");
    check(&mut c, "seq", &[b"SET", b"", b"a"], &bulk(&id(0)));
    check(&mut c, "seq", &[b"SET", b"", b"b"], &bulk(&id(1)));
    check(&mut c, "seq", &[b"SET", &id(0), b"a2"], &bulk(&id(0)));
    // The update's copy of the old slot took id 2.
    check(&mut c, "seq", &[b"SET", b"", b"c"], &bulk(&id(3)));
    // An unchanged value writes nothing and consumes no id.
    check(&mut c, "seq", &[b"SET", &id(1), b"b"], NIL);
    check(&mut c, "seq", &[b"SET", b"", b"d"], &bulk(&id(4)));
    check(&mut c, "seq", &[b"GET", &id(0)], b"$2\r\na2\r\n");
    check(&mut c, "seq", &[b"GET", &id(1)], b"$1\r\nb\r\n");
    check(&mut c, "seq", &[b"GET", &id(2)], NIL);
    check(&mut c, "seq", &[b"EXISTS", &id(2)], b":0\r\n");
    check(&mut c, "seq", &[b"GET", &id(5)], NIL);
    check(&mut c, "seq", &[b"GET", &id(0)[..7]], NIL);
    check(&mut c, "seq", &[b"EXISTS", &id(3)], b":1\r\n");
    check(&mut c, "seq", &[b"LENGTH", &id(3)], b":1\r\n");
    check(&mut c, "seq", &[b"DBSIZE"], b":4\r\n");
    check(&mut c, "seq", &[b"DEL", &id(1)], OK);
    check(&mut c, "seq", &[b"DEL", &id(1)], b"-Key not found\r\n");
    check(&mut c, "seq", &[b"GET", &id(1)], NIL);
    check(
        &mut c,
        "seq",
        &[b"SET", &id(1), b"z"],
        b"-Invalid key, only update authorized\r\n",
    );
    check(&mut c, "seq", &[b"DBSIZE"], b":3\r\n");
    // Slot n lives at 29 + n * 42 in i0.
    check(
        &mut c,
        "seq",
        &[b"KEYCUR", &id(3)],
        &bulk(&cursor(8, 0, 1, 29 + 3 * 42, crc32c_raw(b"c"))),
    );
    let items: Vec<Item> = [0, 3, 4].iter().map(|&n| item(&mut c, &id(n))).collect();
    check_walk(&mut c, "seq", b"SCAN", None, &items);
    let reversed: Vec<Item> = items.iter().rev().cloned().collect();
    check_walk(&mut c, "seq", b"RSCAN", None, &reversed);
    // History of id 0: the current slot points at the copy in slot 2.
    let got = c.call(&[b"HISTORY", &id(0)]);
    let parts = parse(&got);
    assert_eq!(
        parts.array()[0].bulk(),
        history_cursor(0, 29 + 2 * 42),
        "seq: HISTORY id0"
    );
    assert_eq!(parts.array()[2].bulk(), b"a2", "seq: HISTORY id0");
    let got = c.call(&[b"HISTORY", &id(0), &history_cursor(0, 29 + 2 * 42)]);
    let parts = parse(&got);
    assert_eq!(
        parts.array()[0],
        Value::Nil,
        "seq: HISTORY id0 older: {}",
        show(&got)
    );
    assert_eq!(
        parts.array()[2].bulk(),
        b"a",
        "seq: HISTORY id0 older: {}",
        show(&got)
    );
    let nsinfo = call(&mut c, &[b"NSINFO", b"s"]);
    let text = std::str::from_utf8(nsinfo.bulk()).unwrap();
    assert!(text.contains("\nmode: sequential\n"), "seq: {text}");
    assert!(
        text.contains("\nnext_internal_id: 0x500000000000000\n"),
        "seq: {text}"
    );
    check(
        &mut c,
        "seq",
        &[b"NSSET", b"s", b"mode", b"user"],
        b"-Cannot change mode of used namespace\r\n",
    );
}

#[test]
fn mget_edge_cases() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "m");
    check(&mut c, "mget", &[b"SET", b"a", b"1"], b"$1\r\na\r\n");
    check(&mut c, "mget", &[b"SET", b"b", b"22"], b"$1\r\nb\r\n");
    check(&mut c, "mget", &[b"MGET", b"a"], b"*1\r\n$1\r\n1\r\n");
    check(
        &mut c,
        "mget",
        &[b"MGET", b"b", b"", b"a", b"b"],
        b"*4\r\n$2\r\n22\r\n$-1\r\n$1\r\n1\r\n$2\r\n22\r\n",
    );
    check(
        &mut c,
        "mget",
        &[b"MGET", b"a", &[b'k'; 256]],
        b"-Invalid key\r\n",
    );
    check(&mut c, "mget", &[b"DEL", b"a"], OK);
    check(
        &mut c,
        "mget",
        &[b"MGET", b"a", b"b"],
        b"*2\r\n$-1\r\n$2\r\n22\r\n",
    );
    // 1023 keys is the most a request can carry.
    let keys: Vec<Vec<u8>> = (0..1023)
        .map(|i| {
            if i % 2 == 0 {
                b"b".to_vec()
            } else {
                format!("no{i}").into_bytes()
            }
        })
        .collect();
    let mut args: Vec<&[u8]> = vec![b"MGET"];
    args.extend(keys.iter().map(Vec::as_slice));
    let expected: Vec<Vec<u8>> = (0..1023)
        .map(|i| {
            if i % 2 == 0 {
                bulk(b"22")
            } else {
                NIL.to_vec()
            }
        })
        .collect();
    check(&mut c, "mget", &args, &array(&expected));
}

#[test]
fn history_chain_and_restart_after_delete() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "h");
    for v in [&b"v1"[..], b"v2", b"v3"] {
        check(&mut c, "history", &[b"SET", b"h", v], b"$1\r\nh\r\n");
    }
    let mut seen = Vec::new();
    let mut next = call(&mut c, &[b"HISTORY", b"h"]);
    let mut cursors = Vec::new();
    loop {
        let parts = next.array().to_vec();
        assert_eq!(parts.len(), 3, "history: {next:?}");
        let ts: u64 = std::str::from_utf8(parts[1].bulk())
            .unwrap()
            .parse()
            .unwrap();
        assert_recent("history", ts);
        seen.push(parts[2].bulk().to_vec());
        match &parts[0] {
            Value::Nil => break,
            Value::Bulk(prev) => {
                assert_eq!(prev.len(), 8, "history cursor");
                cursors.push(prev.clone());
                next = call(&mut c, &[b"HISTORY", b"h", prev]);
            }
            other => panic!("history: unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [b"v3".to_vec(), b"v2".to_vec(), b"v1".to_vec()],
        "history: versions newest first"
    );
    // Entries: h@29, h@64, h@99 (35 bytes each).
    assert_eq!(
        cursors,
        [history_cursor(0, 64), history_cursor(0, 29)],
        "history cursors"
    );
    check(&mut c, "history", &[b"DEL", b"h"], OK);
    check(
        &mut c,
        "history",
        &[b"HISTORY", b"h"],
        b"-Key not found\r\n",
    );
    check(&mut c, "history", &[b"SET", b"h", b"v4"], b"$1\r\nh\r\n");
    let parts = call(&mut c, &[b"HISTORY", b"h"]);
    assert_eq!(
        parts.array()[0],
        Value::Nil,
        "history restarts after DEL + SET: {parts:?}"
    );
    assert_eq!(parts.array()[2].bulk(), b"v4");
    // Old versions stay readable through their cursors.
    let old = call(&mut c, &[b"HISTORY", b"h", &cursors[0]]);
    assert_eq!(
        old.array()[2].bulk(),
        b"v2",
        "history: old cursor after restart"
    );
    check(
        &mut c,
        "history",
        &[b"HISTORY", b"h", b"1", b"2"],
        b"-Invalid arguments\r\n",
    );
}

/// Writes `n` keys of 64 KiB, each value distinct.
fn write_big(c: &mut Raw, keys: &[Vec<u8>], round: u8) {
    for (i, key) in keys.iter().enumerate() {
        let mut value = vec![round; 64 * 1024];
        value[..8].copy_from_slice(&(i as u64).to_le_bytes());
        check(c, "rotation", &[b"SET", key, &value], &bulk(key));
    }
}

fn nsinfo_field(c: &mut Raw, ns: &str, field: &str) -> String {
    let info = call(c, &[b"NSINFO", ns.as_bytes()]);
    let text = String::from_utf8(info.bulk().to_vec()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")).map(str::to_owned))
        .unwrap_or_else(|| panic!("NSINFO {ns} has no {field}: {text}"))
}

#[test]
fn scan_and_rscan_cursors_across_file_rotations() {
    let mut zdb = Zdb::start(&["--datasize", "512k"]);
    let mut c = Raw::connect(zdb.addr());
    enter(&mut c, "rot");
    let keys: Vec<Vec<u8>> = (0..40)
        .map(|i| format!("key-{i:02}").into_bytes())
        .collect();
    write_big(&mut c, &keys, 1);
    let files: u32 = nsinfo_field(&mut c, "rot", "data_current_id")
        .parse()
        .unwrap();
    assert!(
        files >= 4,
        "40 x 64 KiB in 512 KiB files rotated only {files} times"
    );
    for id in 0..=files {
        assert!(
            zdb.index_root().join(format!("rot/i{id}")).exists(),
            "i{id} missing"
        );
        assert!(
            zdb.data_root().join(format!("rot/d{id}")).exists(),
            "d{id} missing"
        );
        let len = std::fs::metadata(zdb.data_root().join(format!("rot/d{id}")))
            .unwrap()
            .len();
        assert!(len <= 512 * 1024, "d{id} is {len} bytes, above --datasize");
    }
    // Overwrite two keys, delete one, then force an empty file pair and
    // write one more key after it.
    check(
        &mut c,
        "rotation",
        &[b"SET", &keys[5], b"small"],
        &bulk(&keys[5]),
    );
    check(
        &mut c,
        "rotation",
        &[b"SET", &keys[17], b"small2"],
        &bulk(&keys[17]),
    );
    check(&mut c, "rotation", &[b"DEL", &keys[10]], OK);
    check(&mut c, "rotation", &[b"NSJUMP"], OK);
    let after_jump: u32 = nsinfo_field(&mut c, "rot", "data_current_id")
        .parse()
        .unwrap();
    check(&mut c, "rotation", &[b"NSJUMP"], OK);
    assert_eq!(
        nsinfo_field(&mut c, "rot", "data_current_id")
            .parse::<u32>()
            .unwrap(),
        after_jump + 1,
        "NSJUMP opens the next file pair"
    );
    check(
        &mut c,
        "rotation",
        &[b"SET", b"last", b"x"],
        b"$4\r\nlast\r\n",
    );
    check(&mut c, "rotation", &[b"DBSIZE"], b":40\r\n");

    let mut order: Vec<Vec<u8>> = keys
        .iter()
        .filter(|k| ![5, 10, 17].contains(&key_idx(k)))
        .cloned()
        .collect();
    order.extend([keys[5].clone(), keys[17].clone(), b"last".to_vec()]);
    let expected: Vec<Item> = order.iter().map(|k| item(&mut c, k)).collect();
    assert_eq!(expected[0].cursor[1..5], [0, 0, 0, 0], "key-00 is in i0");
    assert_eq!(
        expected[39].cursor[1..5],
        (after_jump + 1).to_le_bytes(),
        "last is in the newest file"
    );
    check_walk(&mut c, "rotation", b"SCAN", None, &expected);
    let reversed: Vec<Item> = expected.iter().rev().cloned().collect();
    check_walk(&mut c, "rotation", b"RSCAN", None, &reversed);
    // Starting in the middle of a later file.
    let mid = order.iter().position(|k| k == b"key-30").unwrap();
    check_walk(
        &mut c,
        "rotation",
        b"SCAN",
        Some(&expected[mid].cursor),
        &expected[mid + 1..],
    );
    check_walk(
        &mut c,
        "rotation",
        b"RSCAN",
        Some(&expected[mid].cursor),
        &reversed[reversed.len() - mid..],
    );
    // A cursor stays valid after its key is deleted.
    let c20 = expected[order.iter().position(|k| k == b"key-20").unwrap()]
        .cursor
        .clone();
    check(&mut c, "rotation", &[b"DEL", b"key-20"], OK);
    let rest: Vec<Item> = expected[order.iter().position(|k| k == b"key-21").unwrap()..].to_vec();
    check_walk(&mut c, "rotation", b"SCAN", Some(&c20), &rest);

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

fn key_idx(key: &[u8]) -> usize {
    std::str::from_utf8(&key[4..]).unwrap().parse().unwrap()
}

#[test]
fn seq_ids_across_file_rotations() {
    let zdb = Zdb::start(&["--datasize", "512k", "--mode", "seq"]);
    let mut c = Raw::connect(zdb.addr());
    for n in 0..20u64 {
        let value = vec![n as u8; 64 * 1024];
        check(
            &mut c,
            "seq rotation",
            &[b"SET", b"", &value],
            &bulk(&id(n)),
        );
    }
    check(&mut c, "seq rotation", &[b"NSJUMP"], OK);
    check(
        &mut c,
        "seq rotation",
        &[b"SET", b"", b"tail"],
        &bulk(&id(20)),
    );
    check(
        &mut c,
        "seq rotation",
        &[b"SET", &id(7), b"seven"],
        &bulk(&id(7)),
    );
    check(
        &mut c,
        "seq rotation",
        &[b"SET", b"", b"after"],
        &bulk(&id(22)),
    );
    for n in [0u64, 6, 8, 13, 19] {
        let v = call(&mut c, &[b"GET", &id(n)]);
        assert_eq!(v.bulk(), vec![n as u8; 64 * 1024], "GET id {n}");
    }
    check(
        &mut c,
        "seq rotation",
        &[b"GET", &id(7)],
        b"$5\r\nseven\r\n",
    );
    check(&mut c, "seq rotation", &[b"GET", &id(21)], NIL);
    check(
        &mut c,
        "seq rotation",
        &[b"GET", &id(20)],
        b"$4\r\ntail\r\n",
    );
    let ids: Vec<u64> = (0..21).chain([22]).collect();
    let items: Vec<Item> = ids.iter().map(|&n| item(&mut c, &id(n))).collect();
    check_walk(&mut c, "seq rotation", b"SCAN", None, &items);
}

/// `name: value` lines of an INFO/NSINFO body, in order; section lines
/// (`# …`) and blank lines kept as they are.
fn info_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| match l.split_once(": ") {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

#[track_caller]
fn assert_two_decimals(name: &str, value: &str) {
    let ok = value.split_once('.').is_some_and(|(i, d)| {
        !i.is_empty()
            && i.bytes().all(|b| b.is_ascii_digit())
            && d.len() == 2
            && d.bytes().all(|b| b.is_ascii_digit())
    });
    assert!(ok, "{name}: {value:?} is not printed with 2 decimals");
}

#[test]
fn info_fields_in_order() {
    let (_zdb, mut c) = open_server();
    check(&mut c, "info", &[b"FOOBAR"], b"-Command not supported\r\n");
    check(&mut c, "info", &[b"BARFOO"], b"-Command not supported\r\n");
    let info = call(&mut c, &[b"INFO"]);
    let text = std::str::from_utf8(info.bulk()).unwrap();
    assert!(text.ends_with('\n'), "INFO ends with a newline: {text:?}");
    let lines = info_lines(text);
    let names: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    let mut expected = vec![
        "# server",
        "server_name",
        "server_revision",
        "engine_revision",
        "instance_id",
        "boot_time",
        "uptime",
        "",
        "# clients",
        "clients_lifetime",
        "",
        "# internals",
        "sequential_key_size",
        "data_version",
        "index_version",
        "",
        "# stats",
        "commands_executed",
        "commands_failed",
        "commands_unauthorized",
        "index_disk_read_failed",
        "index_disk_write_failed",
        "data_disk_read_failed",
        "data_disk_write_failed",
    ];
    let pairs = [
        "index_disk_read",
        "index_disk_write",
        "data_disk_read",
        "data_disk_write",
        "network_rx",
        "network_tx",
    ];
    let sized: Vec<String> = pairs
        .iter()
        .flat_map(|p| [format!("{p}_bytes"), format!("{p}_mb")])
        .collect();
    expected.extend(sized.iter().map(String::as_str));
    assert_eq!(names, expected, "INFO field names and order:\n{text}");
    let get = |name: &str| {
        lines
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("server_name"), "0-db (zdb)");
    assert_eq!(get("sequential_key_size"), "8");
    assert_eq!(get("data_version"), "3");
    assert_eq!(get("index_version"), "4");
    assert_eq!(get("commands_failed"), "2", "two unknown commands");
    assert_eq!(get("commands_unauthorized"), "0");
    assert_recent("boot_time", get("boot_time").parse().unwrap());
    assert!(get("uptime").parse::<u64>().unwrap() < 60);
    assert!(get("clients_lifetime").parse::<u64>().unwrap() >= 1);
    assert!(get("instance_id").parse::<u32>().is_ok());
    for name in sized.iter().filter(|n| n.ends_with("_mb")) {
        assert_two_decimals(name, &get(name));
    }
    assert!(get("network_rx_bytes").parse::<u64>().unwrap() > 0);
    // commands_executed counts this INFO too.
    let again = call(&mut c, &[b"INFO"]);
    let again = info_lines(std::str::from_utf8(again.bulk()).unwrap());
    let executed = |l: &[(String, String)]| {
        l.iter()
            .find(|(k, _)| k == "commands_executed")
            .unwrap()
            .1
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(executed(&again), executed(&lines) + 1);
}

#[test]
fn nsinfo_fields_in_order_and_values() {
    let zdb = Zdb::start(&["--admin", "secret"]);
    let mut c = Raw::connect(zdb.addr());
    check(&mut c, "nsinfo", &[b"AUTH", b"secret"], OK);
    enter(&mut c, "n");
    check(&mut c, "nsinfo", &[b"SET", b"a", b"xyz"], b"$1\r\na\r\n");
    check(
        &mut c,
        "nsinfo",
        &[b"SET", b"bb", b"12345"],
        b"$2\r\nbb\r\n",
    );
    check(&mut c, "nsinfo", &[b"NSSET", b"n", b"maxsize", b"100"], OK);
    let base = [
        "# namespace",
        "name",
        "entries",
        "public",
        "worm",
        "locked",
        "password",
        "data_size_bytes",
        "data_size_mb",
        "data_limits_bytes",
        "index_size_bytes",
        "index_size_kb",
        "next_internal_id",
        "mode",
        "stats_index_io_errors",
        "stats_index_io_error_last",
        "stats_index_faults",
        "stats_data_io_errors",
        "stats_data_io_error_last",
        "stats_data_faults",
    ];
    let disk = [
        "index_disk_freespace_bytes",
        "index_disk_freespace_mb",
        "data_disk_freespace_bytes",
        "data_disk_freespace_mb",
    ];
    let admin = [
        "data_path",
        "data_active",
        "index_path",
        "index_active",
        "data_current_id",
        "data_current_offset",
    ];

    let info = call(&mut c, &[b"NSINFO", b"n"]);
    let text = std::str::from_utf8(info.bulk()).unwrap().to_owned();
    let lines = info_lines(&text);
    let names: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    let mut expected: Vec<&str> = base.to_vec();
    expected.push("space_available");
    expected.extend(disk);
    expected.extend(admin);
    assert_eq!(names, expected, "NSINFO (admin, maxsize) fields:\n{text}");
    let values: Vec<(&str, String)> = vec![
        ("name", "n".into()),
        ("entries", "2".into()),
        ("public", "yes".into()),
        ("worm", "no".into()),
        ("locked", "no".into()),
        ("password", "no".into()),
        ("data_size_bytes", "8".into()),
        ("data_size_mb", "0.00".into()),
        ("data_limits_bytes", "100".into()),
        ("index_size_bytes", "131".into()),
        ("index_size_kb", "0.13".into()),
        ("next_internal_id", "0x200000000000000".into()),
        ("mode", "userkey".into()),
        ("stats_index_io_errors", "0".into()),
        ("stats_index_faults", "0".into()),
        ("stats_data_io_errors", "0".into()),
        ("stats_data_faults", "0".into()),
        ("space_available", "92".into()),
        ("data_path", zdb.data_root().join("n").display().to_string()),
        (
            "data_active",
            zdb.data_root().join("n/d0").display().to_string(),
        ),
        (
            "index_path",
            zdb.index_root().join("n").display().to_string(),
        ),
        (
            "index_active",
            zdb.index_root().join("n/i0").display().to_string(),
        ),
        ("data_current_id", "0".into()),
        // Header 28 + (18 + 1 + 3) + (18 + 2 + 5).
        ("data_current_offset", "75".into()),
    ];
    for (name, want) in values {
        let got = &lines.iter().find(|(k, _)| k == name).unwrap().1;
        assert_eq!(got, &want, "NSINFO {name}:\n{text}");
    }
    for name in disk {
        let v = &lines.iter().find(|(k, _)| k == name).unwrap().1;
        if name.ends_with("_mb") {
            assert_two_decimals(name, v);
        } else {
            assert!(v.parse::<u64>().unwrap() > 0, "{name}: {v}");
        }
    }
    // Without admin rights and without maxsize: only the base and disk fields.
    check(&mut c, "nsinfo", &[b"NSSET", b"n", b"maxsize", b"0"], OK);
    let mut plain = Raw::connect(zdb.addr());
    let info = call(&mut plain, &[b"NSINFO", b"n"]);
    let text = std::str::from_utf8(info.bulk()).unwrap().to_owned();
    let names: Vec<String> = info_lines(&text).into_iter().map(|(k, _)| k).collect();
    let mut expected: Vec<&str> = base.to_vec();
    expected.extend(disk);
    assert_eq!(
        names, expected,
        "NSINFO (no admin, no maxsize) fields:\n{text}"
    );
    check(
        &mut plain,
        "nsinfo",
        &[b"NSINFO"],
        b"-Unexpected arguments\r\n",
    );
    check(
        &mut plain,
        "nsinfo",
        &[b"NSINFO", b""],
        b"-Invalid argument\r\n",
    );
}

/// The `zdb-namespace` descriptor bytes for the given properties.
fn descriptor(name: &str, password: &str, maxsize: u64, public: bool, worm: bool) -> Vec<u8> {
    let mut out = 1u32.to_le_bytes().to_vec();
    out.push(name.len() as u8);
    out.push(password.len() as u8);
    out.extend_from_slice(&maxsize.to_le_bytes());
    out.push(u8::from(public) | (u8::from(worm) << 1) | 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(password.as_bytes());
    out
}

#[track_caller]
fn assert_descriptor(path: &Path, expected: &[u8]) {
    let got = std::fs::read(path).unwrap();
    assert!(
        got.starts_with(expected),
        "{}:\n  {}\nexpected\n  {}",
        path.display(),
        show(&got),
        show(expected)
    );
}

#[test]
fn nsset_every_property() {
    let mut zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    let mut other = Raw::connect(zdb.addr());
    let desc_path = zdb.index_root().join("p/zdb-namespace");
    enter(&mut c, "p");
    check(&mut other, "nsset", &[b"SELECT", b"p"], OK);
    assert_descriptor(&desc_path, &descriptor("p", "", 0, true, false));
    assert_descriptor(
        &zdb.index_root().join("default/zdb-namespace"),
        &descriptor("default", "", 0, true, false),
    );
    check(
        &mut c,
        "nsset",
        &[b"NSSET", b"p", b"lock"],
        b"-Unexpected arguments\r\n",
    );
    check(
        &mut c,
        "nsset",
        &[b"NSSET", b"p", b"lock", b""],
        b"-Invalid argument\r\n",
    );
    check(
        &mut c,
        "nsset",
        &[b"NSSET", b"p", &[b'l'; 257], b"1"],
        b"-Argument too long\r\n",
    );
    check(
        &mut c,
        "nsset",
        &[b"NSSET", b"p", b"LOCK", b"1"],
        b"-Invalid property\r\n",
    );
    check(
        &mut c,
        "nsset",
        &[b"NSSET", &[b'p'; 129], b"lock", b"1"],
        b"-Namespace too long\r\n",
    );

    // mode: only while fresh, on default too.
    check(&mut c, "nsset mode", &[b"NSSET", b"p", b"mode", b"seq"], OK);
    assert_eq!(nsinfo_field(&mut c, "p", "mode"), "sequential");
    check(
        &mut c,
        "nsset mode",
        &[b"NSSET", b"p", b"mode", b"user"],
        OK,
    );
    assert_eq!(nsinfo_field(&mut c, "p", "mode"), "userkey");
    check(
        &mut c,
        "nsset mode",
        &[b"NSSET", b"default", b"mode", b"seq"],
        OK,
    );
    check(
        &mut c,
        "nsset mode",
        &[b"NSSET", b"default", b"mode", b"user"],
        OK,
    );

    // lock: read-only, reads still work; any value other than 1… unlocks.
    check(&mut c, "nsset", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    check(&mut c, "nsset lock", &[b"NSSET", b"p", b"lock", b"1"], OK);
    assert_eq!(nsinfo_field(&mut c, "p", "locked"), "yes");
    check(
        &mut other,
        "nsset lock",
        &[b"SET", b"k", b"w"],
        b"-Namespace is temporarily locked (read-only)\r\n",
    );
    check(&mut other, "nsset lock", &[b"GET", b"k"], b"$1\r\nv\r\n");
    check(&mut c, "nsset lock", &[b"NSSET", b"p", b"lock", b"yes"], OK);
    assert_eq!(nsinfo_field(&mut c, "p", "locked"), "no");
    check(
        &mut other,
        "nsset lock",
        &[b"SET", b"k", b"w"],
        b"$1\r\nk\r\n",
    );
    check(
        &mut c,
        "nsset lock",
        &[b"NSSET", b"default", b"lock", b"1"],
        OK,
    );
    check(
        &mut c,
        "nsset lock",
        &[b"NSSET", b"default", b"lock", b"0"],
        OK,
    );

    // freeze: no reads either; freeze 0 also clears a lock.
    check(
        &mut c,
        "nsset freeze",
        &[b"NSSET", b"p", b"freeze", b"1"],
        OK,
    );
    assert_eq!(nsinfo_field(&mut c, "p", "locked"), "yes");
    check(
        &mut other,
        "nsset freeze",
        &[b"GET", b"k"],
        b"-Namespace is temporarily frozen (read-write disabled)\r\n",
    );
    check(
        &mut c,
        "nsset freeze",
        &[b"NSSET", b"p", b"freeze", b"0"],
        OK,
    );
    check(&mut other, "nsset freeze", &[b"GET", b"k"], b"$1\r\nw\r\n");
    check(&mut c, "nsset freeze", &[b"NSSET", b"p", b"lock", b"1"], OK);
    check(
        &mut c,
        "nsset freeze",
        &[b"NSSET", b"p", b"freeze", b"0"],
        OK,
    );
    check(
        &mut other,
        "nsset freeze",
        &[b"SET", b"k", b"v"],
        b"$1\r\nk\r\n",
    );

    // maxsize, password, public, worm: persisted in the descriptor.
    check(
        &mut c,
        "nsset maxsize",
        &[b"NSSET", b"p", b"maxsize", b"4096"],
        OK,
    );
    assert_eq!(nsinfo_field(&mut c, "p", "data_limits_bytes"), "4096");
    assert_eq!(nsinfo_field(&mut c, "p", "space_available"), "4095");
    assert_descriptor(&desc_path, &descriptor("p", "", 4096, true, false));
    check(
        &mut c,
        "nsset password",
        &[b"NSSET", b"p", b"password", b"hunter2"],
        OK,
    );
    assert_eq!(nsinfo_field(&mut c, "p", "password"), "yes");
    assert_descriptor(&desc_path, &descriptor("p", "hunter2", 4096, true, false));
    check(
        &mut c,
        "nsset password",
        &[b"NSSET", b"p", b"password", &[b'x'; 64]],
        b"-Argument too long\r\n",
    );
    check(
        &mut c,
        "nsset public",
        &[b"NSSET", b"p", b"public", b"yes"],
        OK,
    );
    assert_eq!(
        nsinfo_field(&mut c, "p", "public"),
        "no",
        "public yes means private (spec §12 #13)"
    );
    check(
        &mut c,
        "nsset public",
        &[b"NSSET", b"p", b"public", b"1"],
        OK,
    );
    assert_eq!(nsinfo_field(&mut c, "p", "public"), "yes");
    check(
        &mut c,
        "nsset public",
        &[b"NSSET", b"p", b"public", b"0"],
        OK,
    );
    check(&mut c, "nsset worm", &[b"NSSET", b"p", b"worm", b"1"], OK);
    assert_eq!(nsinfo_field(&mut c, "p", "worm"), "yes");
    assert_descriptor(&desc_path, &descriptor("p", "hunter2", 4096, false, true));
    check(
        &mut c,
        "nsset worm",
        &[b"SET", b"k", b"other"],
        b"-Namespace is protected by worm mode\r\n",
    );

    // After a restart: descriptor properties stay, the lock does not.
    check(&mut c, "nsset", &[b"NSSET", b"p", b"lock", b"1"], OK);
    zdb.terminate();
    zdb.spawn();
    let mut c = Raw::connect(zdb.addr());
    let info = call(&mut c, &[b"NSINFO", b"p"]);
    let text = std::str::from_utf8(info.bulk()).unwrap();
    assert!(
        text.contains("\npublic: no\nworm: yes\nlocked: no\npassword: yes\n")
            && text.contains("\ndata_limits_bytes: 4096\n"),
        "NSSET properties after restart:\n{text}"
    );
    check(
        &mut c,
        "nsset",
        &[b"SELECT", b"p"],
        b"-Namespace protected and private\r\n",
    );
    check(&mut c, "nsset", &[b"SELECT", b"p", b"hunter2"], OK);
    check(&mut c, "nsset", &[b"NSSET", b"p", b"password", b"*"], OK);
    assert_eq!(nsinfo_field(&mut c, "p", "password"), "no");
    assert_descriptor(&desc_path, &descriptor("p", "", 4096, false, true));
    check(&mut c, "nsset", &[b"NSSET", b"p", b"worm", b"0"], OK);
    check(&mut c, "nsset", &[b"NSSET", b"p", b"maxsize", b"0"], OK);
    check(&mut c, "nsset", &[b"NSSET", b"p", b"public", b"1"], OK);
    assert_descriptor(&desc_path, &descriptor("p", "", 0, true, false));
    let mut fresh = Raw::connect(zdb.addr());
    check(&mut fresh, "nsset", &[b"SELECT", b"p"], OK);
    check(
        &mut fresh,
        "nsset",
        &[b"SET", b"k", b"other"],
        b"$1\r\nk\r\n",
    );
}

#[test]
fn forced_seq_mode_server() {
    let zdb = Zdb::start(&["--mode", "seq"]);
    let mut c = Raw::connect(zdb.addr());
    let refused = b"-This server instance is configured to use a single runtime mode\r\n";
    assert_eq!(nsinfo_field(&mut c, "default", "mode"), "sequential");
    check(
        &mut c,
        "--mode seq",
        &[b"NSSET", b"default", b"mode", b"user"],
        refused,
    );
    check(
        &mut c,
        "--mode seq",
        &[b"NSSET", b"default", b"mode", b"seq"],
        refused,
    );
    check(&mut c, "--mode seq", &[b"NSNEW", b"s"], OK);
    assert_eq!(nsinfo_field(&mut c, "s", "mode"), "sequential");
    check(
        &mut c,
        "--mode seq",
        &[b"NSSET", b"s", b"mode", b"user"],
        refused,
    );
    check(&mut c, "--mode seq", &[b"SELECT", b"s"], OK);
    check(&mut c, "--mode seq", &[b"SET", b"", b"v"], &bulk(&id(0)));
    check(
        &mut c,
        "--mode seq",
        &[b"SET", b"key", b"v"],
        b"-Invalid key, only update authorized\r\n",
    );
    check(&mut c, "--mode seq", &[b"GET", &id(0)], b"$1\r\nv\r\n");
}

#[test]
fn forced_user_mode_server() {
    let zdb = Zdb::start(&["--mode", "user"]);
    let mut c = Raw::connect(zdb.addr());
    let refused = b"-This server instance is configured to use a single runtime mode\r\n";
    check(&mut c, "--mode user", &[b"NSNEW", b"u"], OK);
    assert_eq!(nsinfo_field(&mut c, "u", "mode"), "userkey");
    check(
        &mut c,
        "--mode user",
        &[b"NSSET", b"u", b"mode", b"seq"],
        refused,
    );
    check(
        &mut c,
        "--mode user",
        &[b"NSSET", b"default", b"mode", b"seq"],
        refused,
    );
    check(&mut c, "--mode user", &[b"SELECT", b"u"], OK);
    check(
        &mut c,
        "--mode user",
        &[b"SET", b"", b"x"],
        b"-Invalid argument, key needed\r\n",
    );
    check(&mut c, "--mode user", &[b"SET", b"k", b"x"], b"$1\r\nk\r\n");
}

#[test]
fn wait_notifications() {
    let zdb = Zdb::start(&[]);
    let mut a = Raw::connect(zdb.addr());
    let mut b = Raw::connect(zdb.addr());
    check(&mut a, "wait", &[b"NSNEW", b"w"], OK);
    check(&mut b, "wait", &[b"NSNEW", b"elsewhere"], OK);

    // Every WAIT below is followed by a PING of A: in-order replies prove
    // the WAIT is registered, and A's own commands never wake A.
    // `*` watches any command. Commands of clients in another namespace
    // (at the moment they finish) do not count.
    a.send(&[b"WAIT", b"*"]);
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut a, "wait", &[b"SET", b"own", b"1"], b"$3\r\nown\r\n");
    check(&mut b, "wait", &[b"SELECT", b"elsewhere"], OK);
    check(&mut b, "wait", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"select", b"default"], OK);
    let reply = a.reply();
    assert_eq!(reply, b"+SELECT\r\n", "WAIT *: {}", show(&reply));

    // A failed command counts; other commands do not.
    a.send(&[b"WAIT", b"del"]);
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    check(&mut b, "wait", &[b"SETX", b"k", b"v2"], b"$1\r\nk\r\n");
    check(&mut b, "wait", &[b"FOOBAR"], b"-Command not supported\r\n");
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"del", b"missing"], b"-Key not found\r\n");
    let reply = a.reply();
    assert_eq!(reply, b"+DEL\r\n", "WAIT DEL: {}", show(&reply));

    // One notification per WAIT.
    a.send(&[b"WAIT", b"GET"]);
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"GET", b"k"], b"$2\r\nv2\r\n");
    check(&mut b, "wait", &[b"GET", b"k"], b"$2\r\nv2\r\n");
    let reply = a.reply();
    assert_eq!(reply, b"+GET\r\n", "WAIT GET: {}", show(&reply));
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");

    // A new WAIT replaces the pending one.
    a.send(&[b"WAIT", b"EXISTS", b"100000"]);
    a.send(&[b"WAIT", b"DBSIZE", b"100000"]);
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"EXISTS", b"k"], b":1\r\n");
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"DBSIZE"], b":2\r\n");
    let reply = a.reply();
    assert_eq!(reply, b"+DBSIZE\r\n", "replaced WAIT: {}", show(&reply));

    // The waiting client's namespace is the one it is in when the other
    // command finishes.
    a.send(&[b"WAIT", b"SET"]);
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut a, "wait", &[b"SELECT", b"w"], OK);
    check(&mut b, "wait", &[b"SET", b"x", b"y"], b"$1\r\nx\r\n");
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"SELECT", b"w"], OK);
    check(&mut b, "wait", &[b"SET", b"x", b"y"], b"$1\r\nx\r\n");
    let reply = a.reply();
    assert_eq!(reply, b"+SET\r\n", "WAIT after SELECT: {}", show(&reply));

    // A notified WAIT does not also time out.
    a.send(&[b"WAIT", b"SET", b"200"]);
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
    check(&mut b, "wait", &[b"SET", b"x", b"z"], b"$1\r\nx\r\n");
    let reply = a.reply();
    assert_eq!(reply, b"+SET\r\n");
    let started = Instant::now();
    a.send(&[b"WAIT", b"FLUSH", b"400"]);
    let reply = a.reply();
    assert_eq!(reply, b"-Timeout\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "timeout after {:?}",
        started.elapsed()
    );
    check(&mut a, "wait", &[b"PING"], b"+PONG\r\n");
}

#[test]
fn flush_erases_a_private_password_protected_namespace() {
    let mut zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    check(&mut c, "flush", &[b"NSNEW", b"f"], OK);
    check(&mut c, "flush", &[b"NSSET", b"f", b"password", b"pw"], OK);
    check(&mut c, "flush", &[b"NSSET", b"f", b"public", b"0"], OK);
    check(&mut c, "flush", &[b"SELECT", b"f", b"pw"], OK);
    for i in 0..50 {
        let key = format!("k{i}");
        check(
            &mut c,
            "flush",
            &[b"SET", key.as_bytes(), b"value"],
            &bulk(key.as_bytes()),
        );
    }
    check(&mut c, "flush", &[b"NSJUMP"], OK);
    check(&mut c, "flush", &[b"SET", b"late", b"v"], b"$4\r\nlate\r\n");
    check(&mut c, "flush", &[b"DBSIZE"], b":51\r\n");
    // Another namespace is untouched.
    let mut other = Raw::connect(zdb.addr());
    check(
        &mut other,
        "flush",
        &[b"SET", b"keep", b"me"],
        b"$4\r\nkeep\r\n",
    );

    check(&mut c, "flush", &[b"FLUSH"], OK);
    check(&mut c, "flush", &[b"DBSIZE"], b":0\r\n");
    check(&mut c, "flush", &[b"GET", b"k1"], NIL);
    check(&mut c, "flush", &[b"GET", b"late"], NIL);
    check(&mut c, "flush", &[b"SCAN"], b"-No more data\r\n");
    assert_eq!(nsinfo_field(&mut c, "f", "data_size_bytes"), "0");
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&zdb.index_root().join("f")), ["i0", "zdb-namespace"]);
    assert_eq!(names(&zdb.data_root().join("f")), ["d0"]);
    assert_eq!(
        std::fs::metadata(zdb.index_root().join("f/i0"))
            .unwrap()
            .len(),
        29
    );
    assert_eq!(
        std::fs::metadata(zdb.data_root().join("f/d0"))
            .unwrap()
            .len(),
        28
    );
    // The namespace keeps its password and works normally.
    check(&mut c, "flush", &[b"SET", b"k1", b"new"], b"$2\r\nk1\r\n");
    check(&mut other, "flush", &[b"GET", b"keep"], b"$2\r\nme\r\n");

    zdb.terminate();
    zdb.spawn();
    let mut c = Raw::connect(zdb.addr());
    check(
        &mut c,
        "flush",
        &[b"SELECT", b"f"],
        b"-Namespace protected and private\r\n",
    );
    check(&mut c, "flush", &[b"SELECT", b"f", b"pw"], OK);
    check(&mut c, "flush", &[b"DBSIZE"], b":1\r\n");
    check(&mut c, "flush", &[b"GET", b"k1"], b"$3\r\nnew\r\n");
    check(&mut c, "flush", &[b"GET", b"k2"], NIL);
}

#[test]
fn kscan_lists_keys_by_prefix() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "k");
    check(&mut c, "kscan", &[b"KSCAN", b"pa"], b"-No keys match\r\n");
    for key in [&b"pb"[..], b"pa2", b"pa1", b"xpa"] {
        check(&mut c, "kscan", &[b"SET", key, b"v"], &bulk(key));
    }
    check(
        &mut c,
        "kscan",
        &[b"KSCAN", b"pa"],
        b"*2\r\n$1\r\n0\r\n*2\r\n$3\r\npa1\r\n$3\r\npa2\r\n",
    );
    check(
        &mut c,
        "kscan",
        &[b"KSCAN", b"pb"],
        b"*2\r\n$1\r\n0\r\n*1\r\n$2\r\npb\r\n",
    );
    check(&mut c, "kscan", &[b"KSCAN", b"zz"], b"-No keys match\r\n");
    check(&mut c, "kscan", &[b"DEL", b"pb"], OK);
    check(&mut c, "kscan", &[b"KSCAN", b"pb"], b"-No keys match\r\n");
    check(&mut c, "kscan", &[b"KSCAN"], b"-Unexpected arguments\r\n");
}

#[test]
fn data_raw_walks_data_entries() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "raw");
    check(&mut c, "data raw", &[b"SET", b"a", b"xyz"], b"$1\r\na\r\n");
    check(
        &mut c,
        "data raw",
        &[b"SET", b"bb", b"12345"],
        b"$2\r\nbb\r\n",
    );
    check(&mut c, "data raw", &[b"DEL", b"a"], OK);
    check(&mut c, "data raw", &[b"SET", b"e", b""], b"$1\r\ne\r\n");
    let ts_bb = call(&mut c, &[b"KEYTIME", b"bb"]).int();
    let ts_e = call(&mut c, &[b"KEYTIME", b"e"]).int();
    // Entries: a@28 (22 bytes), bb@50 (25), delete a@75 (19), e@94 (19).
    assert_eq!(nsinfo_field(&mut c, "raw", "data_current_offset"), "113");
    let got = c.call(&[b"DATA", b"RAW", b"0", b"28"]);
    let parts = parse(&got);
    let ts_a = parts.array()[4].int();
    assert_recent("data raw", ts_a as u64);
    let crc = |v: &[u8]| format!("0x{:08x}", crc32c_raw(v)).into_bytes();
    let want = array(&[
        bulk(b"a"),
        int(0),
        bulk(&crc(b"xyz")),
        int(0),
        int(ts_a),
        bulk(b"xyz"),
    ]);
    assert_eq!(got, want, "DATA RAW 0 28: {}", show(&got));
    let want = array(&[
        bulk(b"bb"),
        int(28),
        bulk(&crc(b"12345")),
        int(0),
        int(ts_bb),
        bulk(b"12345"),
    ]);
    check(&mut c, "data raw", &[b"DATA", b"RAW", b"0", b"50"], &want);
    check(
        &mut c,
        "data raw",
        &[b"DATA", b"RAW", b"0", b"75"],
        b"-Unexpected Internal Error\r\n",
    );
    check(
        &mut c,
        "data raw",
        &[b"DATA", b"RAW", b"0", b"94"],
        b"-Invalid Request\r\n",
    );
    assert!(ts_e > 0);
    check(
        &mut c,
        "data raw",
        &[b"DATA", b"RAW", b"0", b"113"],
        b"-EOF\r\n",
    );
    check(
        &mut c,
        "data raw",
        &[b"DATA", b"RAW", b"0", b"99999"],
        b"-EOF\r\n",
    );
    check(
        &mut c,
        "data raw",
        &[b"DATA", b"RAW", b"7", b"28"],
        b"-Invalid Request\r\n",
    );
    check(
        &mut c,
        "data raw",
        &[b"data", b"raw", b"0", b"28"],
        &array(&[
            bulk(b"a"),
            int(0),
            bulk(&crc(b"xyz")),
            int(0),
            int(ts_a),
            bulk(b"xyz"),
        ]),
    );
    // After NSJUMP the previous file is complete and the new one starts
    // with its header.
    check(&mut c, "data raw", &[b"NSJUMP"], OK);
    check(
        &mut c,
        "data raw",
        &[b"SET", b"c", b"after"],
        b"$1\r\nc\r\n",
    );
    let got = c.call(&[b"DATA", b"RAW", b"1", b"28"]);
    let parts = parse(&got);
    assert_eq!(
        parts.array()[0].bulk(),
        b"c",
        "DATA RAW 1 28: {}",
        show(&got)
    );
    assert_eq!(
        parts.array()[1].int(),
        94,
        "previous offset is carried across rotation"
    );
    assert_eq!(parts.array()[5].bulk(), b"after");
}

#[test]
fn index_dirty_lists_files_changed_in_place() {
    let zdb = Zdb::start(&["--datasize", "512k"]);
    let mut c = Raw::connect(zdb.addr());
    enter(&mut c, "d");
    check(&mut c, "index", &[b"INDEX"], b"-Missing arguments\r\n");
    check(
        &mut c,
        "index",
        &[b"INDEX", b"FOO"],
        b"-Unknown INDEX subcommand\r\n",
    );
    check(
        &mut c,
        "index",
        &[b"INDEX", b"DIRTY", b"FOO"],
        b"-Unknown INDEX DIRTY subcommand\r\n",
    );
    check(&mut c, "index", &[b"INDEX", b"DIRTY"], b"*0\r\n");
    check(&mut c, "index", &[b"SET", b"a", b"1"], b"$1\r\na\r\n");
    check(&mut c, "index", &[b"SET", b"b", b"1"], b"$1\r\nb\r\n");
    check(&mut c, "index", &[b"INDEX", b"DIRTY"], b"*0\r\n");
    check(&mut c, "index", &[b"NSJUMP"], OK);
    check(&mut c, "index", &[b"NSJUMP"], OK);
    check(&mut c, "index", &[b"SET", b"a", b"2"], b"$1\r\na\r\n");
    check(&mut c, "index", &[b"INDEX", b"DIRTY"], b"*1\r\n:0\r\n");
    check(&mut c, "index", &[b"SET", b"c", b"1"], b"$1\r\nc\r\n");
    check(&mut c, "index", &[b"DEL", b"c"], OK);
    check(
        &mut c,
        "index",
        &[b"INDEX", b"DIRTY"],
        b"*2\r\n:0\r\n:2\r\n",
    );
    check(&mut c, "index", &[b"INDEX", b"DIRTY", b"RESET"], OK);
    check(&mut c, "index", &[b"INDEX", b"DIRTY"], b"*0\r\n");
    check(&mut c, "index", &[b"DEL", b"b"], OK);
    check(&mut c, "index", &[b"INDEX", b"DIRTY"], b"*1\r\n:0\r\n");
}

#[test]
fn hooks_are_called_and_listed() {
    let hook_dir = tempfile::tempdir().unwrap();
    let log = hook_dir.path().join("hooks.log");
    let script = hook_dir.path().join("hook.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let zdb = Zdb::start(&["--hook", script.to_str().unwrap()]);
    let instance = format!("tcp://127.0.0.1:{}", zdb.port);
    let lines = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let wait_line = |what: &str, want: &str| {
        wait_for(Duration::from_secs(10), what, || {
            lines().into_iter().find(|l| l == want)
        })
    };
    // Blocking hooks ran before the server answered its first PING.
    let at_boot = lines();
    assert_eq!(
        at_boot.first().map(String::as_str),
        Some(
            format!(
                "namespaces-init {instance} {} {}",
                zdb.index_root().display(),
                zdb.data_root().display()
            )
            .as_str()
        ),
        "hook log: {at_boot:?}"
    );
    assert!(
        at_boot.contains(&format!("ready {instance}")),
        "hook log: {at_boot:?}"
    );

    let mut c = Raw::connect(zdb.addr());
    enter(&mut c, "hk");
    wait_line(
        "namespace-created",
        &format!("namespace-created {instance} hk"),
    );
    check(&mut c, "hooks", &[b"NSSET", b"hk", b"worm", b"0"], OK);
    wait_line(
        "namespace-updated",
        &format!("namespace-updated {instance} hk"),
    );
    check(&mut c, "hooks", &[b"SET", b"a", b"1"], b"$1\r\na\r\n");
    check(&mut c, "hooks", &[b"SET", b"a", b"2"], b"$1\r\na\r\n");
    check(&mut c, "hooks", &[b"NSJUMP"], OK);
    let (i0, i1) = (
        zdb.index_root().join("hk/i0"),
        zdb.index_root().join("hk/i1"),
    );
    let (d0, d1) = (zdb.data_root().join("hk/d0"), zdb.data_root().join("hk/d1"));
    // jump-index is blocking: it is logged before NSJUMP answers. The
    // overwrite made i0 dirty.
    let jump_index = format!("jump-index {instance} {} {} 0", i0.display(), i1.display());
    assert!(
        lines().contains(&jump_index),
        "no {jump_index:?} in {:?}",
        lines()
    );
    wait_line(
        "jump-data",
        &format!("jump-data {instance} {} {}", d0.display(), d1.display()),
    );
    // A jump-index hook that exits 0 resets the dirty list.
    check(&mut c, "hooks", &[b"INDEX", b"DIRTY"], b"*0\r\n");
    check(&mut c, "hooks", &[b"SELECT", b"default"], OK);
    check(&mut c, "hooks", &[b"NSDEL", b"hk"], OK);
    wait_line(
        "namespace-deleted",
        &format!("namespace-deleted {instance} hk"),
    );

    let listed = call(&mut c, &[b"HOOKS"]);
    let runs = listed.array();
    let ready = runs
        .iter()
        .find(|r| r.array()[0].bulk() == b"ready")
        .unwrap_or_else(|| panic!("HOOKS lacks ready: {listed:?}"));
    let r = ready.array();
    assert_eq!(r.len(), 6, "HOOKS element: {r:?}");
    assert_eq!(r[1], Value::Array(vec![]), "ready has no arguments");
    assert!(r[2].int() > 0, "pid");
    assert_recent("hooks created", r[3].int() as u64);
    assert!(r[4].int() >= r[3].int(), "finished after created");
    assert_eq!(r[5].int(), 0, "exit status");
    let jump = runs
        .iter()
        .find(|r| r.array()[0].bulk() == b"jump-index")
        .expect("jump-index listed");
    let args: Vec<Vec<u8>> = jump.array()[1]
        .array()
        .iter()
        .map(|a| a.bulk().to_vec())
        .collect();
    assert_eq!(
        args,
        [
            i0.display().to_string().into_bytes(),
            i1.display().to_string().into_bytes(),
            b"0".to_vec()
        ]
    );
}
