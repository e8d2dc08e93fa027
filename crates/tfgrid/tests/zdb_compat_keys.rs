//! §17 rows 1–34 and 44–48 of the 0-db compatibility table (keys in user
//! mode, SCAN/RSCAN, HISTORY, write modes), plus sequential ids, MGET,
//! HISTORY chains and KSCAN, against the real `tfgrid zdb` binary.
//!
//! Replies are compared as exact bytes. Where a reply holds a timestamp or
//! a cursor, the expected bytes are built from the real value (KEYTIME,
//! KEYCUR, or the value itself after checking its shape).

mod support;

use support::compat::{
    array, assert_recent, call, check, check_history, check_rows, check_walk, cursor, enter,
    history_cursor, id, id_reply, item, open_server, reversed, Item, Row, FROZEN, INVALID_ARG,
    INVALID_ARGS, KEY_NOT_FOUND, LOCKED, NIL, NO_MORE_DATA, NS_NOT_FOUND, NS_TOO_LONG, OK,
    ONLY_UPDATE, PONG, UNEXPECTED_ARGS, UNSUPPORTED, WORM,
};
use support::{bulk, bulk_text, crc32c, show, Raw};

const NOT_ALLOWED: &[u8] = b"-This name is not allowed\r\n";
const INVALID_KEY: &[u8] = b"-Invalid key\r\n";
const BAD_CURSOR: &[u8] = b"-Invalid key format\r\n";

/// Rows 1–9: PING, unknown commands, namespace names, an empty namespace.
#[rustfmt::skip]
const ROWS_01_TO_09: &[Row] = &[
    Row("1", &[b"PING"], PONG),
    Row("1", &[b"PING", b"extra", b"args"], PONG),
    Row("2", &[b"ping"], PONG),
    Row("3", &[b"FOOBAR"], UNSUPPORTED),
    // Exact command names (spec §12 #3): a prefix is not a command.
    Row("3", &[b"PIN"], UNSUPPORTED),
    Row("3", &[b"PINGX"], UNSUPPORTED),
    Row("setup", &[b"NSNEW", b"ns"], OK),
    Row("setup", &[b"SELECT", b"ns"], OK),
    Row("4", &[b"NSNEW", b"ns"], b"-This namespace is not available\r\n"),
    Row("5", &[b"NSNEW", b"default"], NOT_ALLOWED),
    Row("5", &[b"NSNEW", b"a/b"], NOT_ALLOWED),
    Row("5", &[b"NSNEW", b"."], NOT_ALLOWED),
    Row("5", &[b"NSNEW", b".."], NOT_ALLOWED),
    Row("6", &[b"NSNEW", &[b'x'; 129]], NS_TOO_LONG),
    Row("6", &[b"NSNEW", &[b'x'; 128]], OK),
    Row("6", &[b"NSNEW"], UNEXPECTED_ARGS),
    Row("6", &[b"NSNEW", b""], INVALID_ARG),
    Row("7", &[b"SELECT", b"nope"], NS_NOT_FOUND),
    Row("7", &[b"SELECT", b""], NS_NOT_FOUND),
    Row("7", &[b"SELECT", b"0"], NS_NOT_FOUND),
    Row("7", &[b"SELECT"], INVALID_ARG),
    Row("8", &[b"DBSIZE"], b":0\r\n"),
    Row("9", &[b"SCAN"], NO_MORE_DATA),
    Row("9", &[b"RSCAN"], NO_MORE_DATA),
];

#[test]
fn rows_01_to_09_basics_and_namespace_names() {
    let (_zdb, mut c) = open_server();
    check_rows(&mut c, ROWS_01_TO_09);
    let names = array(&[bulk(b"default"), bulk(b"ns"), bulk(&[b'x'; 128])]);
    check(&mut c, "NSLIST", &[b"NSLIST"], &names);
}

/// Rows 10–15: SET, GET, EXISTS, LENGTH, CHECK.
#[rustfmt::skip]
const ROWS_10_TO_15: &[Row] = &[
    Row("10", &[b"SET", b"hello", b"world"], b"$5\r\nhello\r\n"),
    Row("11", &[b"SET", b"hello", b"world"], NIL),
    Row("12", &[b"GET", b"hello"], b"$5\r\nworld\r\n"),
    Row("12", &[b"GET", b"missing"], NIL),
    Row("13", &[b"EXISTS", b"hello"], b":1\r\n"),
    Row("13", &[b"EXISTS", b"missing"], b":0\r\n"),
    Row("14", &[b"LENGTH", b"hello"], b":5\r\n"),
    Row("14", &[b"LENGTH", b"missing"], NIL),
    Row("15", &[b"CHECK", b"hello"], b":1\r\n"),
    Row("15", &[b"CHECK", b"missing"], NIL),
];

/// Rows 16–20: KEYTIME of a missing key, overwrite, argument errors.
#[rustfmt::skip]
const ROWS_16_TO_20: &[Row] = &[
    Row("16", &[b"KEYTIME", b"missing"], NIL),
    Row("17", &[b"SET", b"hello", b"world2"], b"$5\r\nhello\r\n"),
    Row("17", &[b"GET", b"hello"], b"$6\r\nworld2\r\n"),
    Row("18", &[b"SET", b"", b"x"], b"-Invalid argument, key needed\r\n"),
    Row("19", &[b"SET", b"k"], UNEXPECTED_ARGS),
    Row("19", &[b"SET", b"a", b"b", b"c", b"d"], UNEXPECTED_ARGS),
    Row("20", &[b"GET", b""], INVALID_ARG),
    Row("20", &[b"GET", b"a", b"b"], UNEXPECTED_ARGS),
];

/// Rows 21–26 after a 255-byte key was written: key size, empty values,
/// MGET, DEL, KEYCUR of a missing key.
#[rustfmt::skip]
const ROWS_21_TO_26: &[Row] = &[
    Row("21", &[b"SET", &[b'k'; 256], b"v"], b"-Key too large\r\n"),
    Row("21", &[b"GET", &[b'k'; 256]], INVALID_KEY),
    Row("21", &[b"EXISTS", &[b'k'; 256]], INVALID_KEY),
    Row("21", &[b"CHECK", &[b'k'; 256]], INVALID_KEY),
    Row("21", &[b"LENGTH", &[b'k'; 256]], INVALID_KEY),
    Row("21", &[b"KEYTIME", &[b'k'; 256]], INVALID_KEY),
    Row("21", &[b"DEL", &[b'k'; 256]], INVALID_KEY),
    Row("21", &[b"MGET", &[b'k'; 256]], INVALID_KEY),
    Row("22", &[b"SET", b"empty", b""], b"$5\r\nempty\r\n"),
    Row("22", &[b"GET", b"empty"], b"$0\r\n\r\n"),
    Row("22", &[b"LENGTH", b"empty"], b":0\r\n"),
    Row("23", &[b"MGET", b"hello", b"missing", b"empty"],
        b"*3\r\n$6\r\nworld2\r\n$-1\r\n$0\r\n\r\n"),
    Row("24", &[b"MGET"], INVALID_ARGS),
    Row("25", &[b"DEL", b"missing"], KEY_NOT_FOUND),
    Row("25", &[b"DEL", b"hello"], OK),
    Row("25", &[b"DEL", b"hello"], KEY_NOT_FOUND),
    Row("25", &[b"GET", b"hello"], NIL),
    Row("25", &[b"EXISTS", b"hello"], b":0\r\n"),
    Row("26", &[b"KEYCUR", b"missing"], KEY_NOT_FOUND),
];

/// Row 27: HISTORY argument errors.
#[rustfmt::skip]
const ROWS_27: &[Row] = &[
    Row("27", &[b"HISTORY", b"hello"], KEY_NOT_FOUND),
    Row("27", &[b"HISTORY"], INVALID_ARGS),
    Row("27", &[b"HISTORY", b"k", &[0u8; 8]], b"-No more history\r\n"),
    Row("27", &[b"HISTORY", b"k", &[0u8; 7]], INVALID_ARGS),
];

/// Rows 10–27 in a fresh namespace `ns`; shared with the rows that build
/// on that state. Live afterwards: the 255-byte key ("v") and `empty` ("").
fn rows_10_to_27(c: &mut Raw) {
    enter(c, "ns");
    check_rows(c, ROWS_10_TO_15);
    assert_recent("16", call(c, &[b"KEYTIME", b"hello"]).int() as u64);
    check_rows(c, ROWS_16_TO_20);
    check(c, "21", &[b"SET", &[b'k'; 255], b"v"], &bulk(&[b'k'; 255]));
    check_rows(c, ROWS_21_TO_26);
    // Index entries: hello@29 (39 bytes), hello@68, k255@107 (289), empty@396.
    let empty = bulk(&cursor(5, 0, 0, 396, 0));
    check(c, "26", &[b"KEYCUR", b"empty"], &empty);
    check_rows(c, ROWS_27);
}

#[test]
fn rows_10_to_27_keys() {
    let (_zdb, mut c) = open_server();
    rows_10_to_27(&mut c);
    check(&mut c, "DBSIZE", &[b"DBSIZE"], b":2\r\n");
}

/// Row 28: three keys, one of them written twice.
#[rustfmt::skip]
const ROWS_28_WRITES: &[Row] = &[
    Row("28", &[b"SET", b"k1", b"a"], b"$2\r\nk1\r\n"),
    Row("28", &[b"SET", b"k2", b"bb"], b"$2\r\nk2\r\n"),
    Row("28", &[b"SET", b"k3", b"ccc"], b"$2\r\nk3\r\n"),
    Row("28", &[b"SET", b"k1", b"dddd"], b"$2\r\nk1\r\n"),
];

#[test]
fn rows_28_to_34_scan_rscan_history() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "ns2");
    check_rows(&mut c, ROWS_28_WRITES);
    let [k1, k2, k3] = [b"k1", b"k2", b"k3"].map(|k| item(&mut c, k));
    // Cursors name the index entries: k1@29, k2@65, k3@101, k1 again @137.
    for (i, offset, value) in [
        (&k1, 137, &b"dddd"[..]),
        (&k2, 65, b"bb"),
        (&k3, 101, b"ccc"),
    ] {
        let want = cursor(2, 0, value.len() as u32, offset, crc32c(value));
        assert_eq!(i.cursor, want, "row 28: KEYCUR {}", show(&i.key));
        assert_recent("28", i.timestamp);
    }
    let forward = [k2.clone(), k3.clone(), k1.clone()];
    check_walk(&mut c, "28", b"SCAN", None, &forward);
    check_walk(&mut c, "28", b"SCANX", None, &forward);
    check_walk(&mut c, "29", b"RSCAN", None, &reversed(&forward));
    // From k3's cursor, SCAN has k1 left and RSCAN has k2.
    let from_k3 = Some(&k3.cursor[..]);
    check_walk(&mut c, "30", b"SCAN", from_k3, std::slice::from_ref(&k1));
    check_walk(&mut c, "30", b"RSCAN", from_k3, std::slice::from_ref(&k2));
    let mut bad_crc = k3.cursor.clone();
    bad_crc[13] ^= 1;
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("31", &[b"SCAN", &k1.cursor], NO_MORE_DATA),
        Row("31", &[b"RSCAN", &k2.cursor], NO_MORE_DATA),
        Row("31", &[b"SCAN", b"x"], BAD_CURSOR),
        Row("31", &[b"RSCAN", b"x"], BAD_CURSOR),
        Row("31", &[b"SCAN", &bad_crc], BAD_CURSOR),
    ]);
    // The first version of k1 is at 0/29.
    let older = history_cursor(0, 29);
    let ts = check_history(&mut c, "32", b"k1", None, Some(&older), b"dddd");
    assert_eq!(ts, k1.timestamp, "row 32: HISTORY k1 timestamp is KEYTIME");
    check_history(&mut c, "33", b"k1", Some(&older), None, b"a");
    let not_k2 = b"-Invalid arguments (invalid key)\r\n";
    check(&mut c, "34", &[b"HISTORY", b"k2", &older], not_k2);
    let past_end = b"-Invalid arguments (index query)\r\n";
    let far = history_cursor(0, 100_000);
    check(&mut c, "34", &[b"HISTORY", b"k1", &far], past_end);
}

const FULL: &[u8] = b"-No space left on this namespace\r\n";
const MODE_IN_USE: &[u8] = b"-Cannot change mode of used namespace\r\n";

/// Rows 44–48 on the state rows 10–27 leave: 2 keys, 1 byte.
#[rustfmt::skip]
const ROWS_44_TO_48: &[Row] = &[
    Row("44", &[b"NSSET", b"ns", b"worm", b"1"], OK),
    Row("44", &[b"SET", b"w", b"1"], b"$1\r\nw\r\n"),
    Row("44", &[b"SET", b"w", b"2"], WORM),
    Row("44", &[b"SET", b"w", b"1"], WORM),
    Row("44", &[b"DEL", b"w"], b"-Cannot delete a key when namespace is in worm mode\r\n"),
    Row("44", &[b"DEL", b"nope"], KEY_NOT_FOUND),
    Row("45", &[b"NSSET", b"ns", b"lock", b"1"], OK),
    Row("45", &[b"SET", b"l", b"1"], LOCKED),
    Row("45", &[b"DEL", b"w"], LOCKED),
    Row("45", &[b"GET", b"w"], b"$1\r\n1\r\n"),
    Row("46", &[b"NSSET", b"ns", b"freeze", b"1"], OK),
    Row("46", &[b"GET", b"w"], FROZEN),
    Row("46", &[b"EXISTS", b"w"], FROZEN),
    Row("46", &[b"SCAN"], FROZEN),
    Row("46", &[b"RSCAN"], FROZEN),
    Row("46", &[b"CHECK", b"w"], FROZEN),
    Row("46", &[b"LENGTH", b"w"], FROZEN),
    Row("46", &[b"KEYTIME", b"w"], FROZEN),
    Row("46", &[b"KEYCUR", b"w"], FROZEN),
    Row("46", &[b"HISTORY", b"w"], FROZEN),
    Row("46", &[b"MGET", b"w"], FROZEN),
    Row("46", &[b"SET", b"l", b"1"], FROZEN),
    Row("46", &[b"DEL", b"w"], FROZEN),
    Row("46", &[b"DBSIZE"], b":3\r\n"),
    Row("46", &[b"PING"], PONG),
    Row("46", &[b"NSSET", b"ns", b"freeze", b"0"], OK),
    Row("46", &[b"NSSET", b"ns", b"worm", b"0"], OK),
    // 2 bytes used now (v + 1).
    Row("47", &[b"NSSET", b"ns", b"maxsize", b"5"], OK),
    Row("47", &[b"SET", b"m1", b"1234"], FULL),
    Row("47", &[b"SET", b"m2", b"123"], b"$2\r\nm2\r\n"),
    Row("47", &[b"SET", b"w", b"1234"], FULL),
    // Replacing a value by one of the same size fits.
    Row("47", &[b"SET", b"m2", b"456"], b"$2\r\nm2\r\n"),
    Row("48", &[b"NSSET", b"ns", b"mode", b"seq"], MODE_IN_USE),
];

#[test]
fn rows_44_to_48_worm_lock_freeze_maxsize() {
    let (_zdb, mut c) = open_server();
    rows_10_to_27(&mut c);
    check_rows(&mut c, ROWS_44_TO_48);
}

/// A sequential namespace `s`: ids, updates, deletes.
#[rustfmt::skip]
const SEQ_IDS: &[Row] = &[
    Row("setup", &[b"NSNEW", b"s"], OK),
    Row("setup", &[b"NSSET", b"s", b"mode", b"seq"], OK),
    Row("setup", &[b"SELECT", b"s"], OK),
    Row("seq", &[b"DBSIZE"], b":0\r\n"),
    Row("seq", &[b"SET", b"", b"a"], &id_reply(0)),
    Row("seq", &[b"SET", b"", b"b"], &id_reply(1)),
    Row("seq", &[b"SET", &id(0), b"a2"], &id_reply(0)),
    // The update's copy of the old slot took id 2.
    Row("seq", &[b"SET", b"", b"c"], &id_reply(3)),
    // An unchanged value writes nothing and consumes no id.
    Row("seq", &[b"SET", &id(1), b"b"], NIL),
    Row("seq", &[b"SET", b"", b"d"], &id_reply(4)),
    Row("seq", &[b"GET", &id(0)], b"$2\r\na2\r\n"),
    Row("seq", &[b"GET", &id(1)], b"$1\r\nb\r\n"),
    Row("seq", &[b"GET", &id(2)], NIL),
    Row("seq", &[b"EXISTS", &id(2)], b":0\r\n"),
    Row("seq", &[b"GET", &id(5)], NIL),
    Row("seq", &[b"GET", &[0u8; 7]], NIL),
    Row("seq", &[b"EXISTS", &id(3)], b":1\r\n"),
    Row("seq", &[b"LENGTH", &id(3)], b":1\r\n"),
    Row("seq", &[b"DBSIZE"], b":4\r\n"),
    Row("seq", &[b"DEL", &id(1)], OK),
    Row("seq", &[b"DEL", &id(1)], KEY_NOT_FOUND),
    Row("seq", &[b"GET", &id(1)], NIL),
    Row("seq", &[b"SET", &id(1), b"z"], ONLY_UPDATE),
    Row("seq", &[b"DBSIZE"], b":3\r\n"),
];

#[test]
fn seq_mode_consumes_an_id_per_update() {
    let (_zdb, mut c) = open_server();
    check_rows(&mut c, SEQ_IDS);
    // Slot n lives at 29 + n * 42 in i0.
    let slot = |n: u32| 29 + n * 42;
    let want = bulk(&cursor(8, 0, 1, slot(3), crc32c(b"c")));
    check(&mut c, "seq", &[b"KEYCUR", &id(3)], &want);
    let items: Vec<Item> = [0, 3, 4].iter().map(|&n| item(&mut c, &id(n))).collect();
    check_walk(&mut c, "seq", b"SCAN", None, &items);
    check_walk(&mut c, "seq", b"RSCAN", None, &reversed(&items));
    // History of id 0: the current slot points at the copy in slot 2.
    let copy = history_cursor(0, slot(2));
    check_history(&mut c, "seq", &id(0), None, Some(&copy), b"a2");
    check_history(&mut c, "seq", &id(0), Some(&copy), None, b"a");
    let text = bulk_text(&mut c, &[b"NSINFO", b"s"]);
    assert!(text.contains("\nmode: sequential\n"), "seq: {text}");
    assert!(
        text.contains("\nnext_internal_id: 0x500000000000000\n"),
        "seq: {text}"
    );
    check(
        &mut c,
        "seq",
        &[b"NSSET", b"s", b"mode", b"user"],
        MODE_IN_USE,
    );
}

#[rustfmt::skip]
const MGET: &[Row] = &[
    Row("mget", &[b"SET", b"a", b"1"], b"$1\r\na\r\n"),
    Row("mget", &[b"SET", b"b", b"22"], b"$1\r\nb\r\n"),
    Row("mget", &[b"MGET", b"a"], b"*1\r\n$1\r\n1\r\n"),
    Row("mget", &[b"MGET", b"b", b"", b"a", b"b"],
        b"*4\r\n$2\r\n22\r\n$-1\r\n$1\r\n1\r\n$2\r\n22\r\n"),
    Row("mget", &[b"MGET", b"a", &[b'k'; 256]], INVALID_KEY),
    Row("mget", &[b"DEL", b"a"], OK),
    Row("mget", &[b"MGET", b"a", b"b"], b"*2\r\n$-1\r\n$2\r\n22\r\n"),
];

#[test]
fn mget_edge_cases() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "m");
    check_rows(&mut c, MGET);
    // 1023 keys is the most a request can carry.
    let keys: Vec<Vec<u8>> = (0..1023)
        .map(|i| match i % 2 {
            0 => b"b".to_vec(),
            _ => format!("no{i}").into_bytes(),
        })
        .collect();
    let mut args: Vec<&[u8]> = vec![b"MGET"];
    args.extend(keys.iter().map(Vec::as_slice));
    let expected: Vec<Vec<u8>> = (0..1023)
        .map(|i| match i % 2 {
            0 => bulk(b"22"),
            _ => NIL.to_vec(),
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
    // Entries: h@29, h@64, h@99 (35 bytes each); newest first.
    let (at29, at64) = (history_cursor(0, 29), history_cursor(0, 64));
    check_history(&mut c, "history", b"h", None, Some(&at64), b"v3");
    check_history(&mut c, "history", b"h", Some(&at64), Some(&at29), b"v2");
    check_history(&mut c, "history", b"h", Some(&at29), None, b"v1");
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("history", &[b"DEL", b"h"], OK),
        Row("history", &[b"HISTORY", b"h"], KEY_NOT_FOUND),
        Row("history", &[b"SET", b"h", b"v4"], b"$1\r\nh\r\n"),
    ]);
    // The chain restarts after DEL + SET; old versions stay readable
    // through their cursors.
    check_history(&mut c, "history", b"h", None, None, b"v4");
    check_history(&mut c, "history", b"h", Some(&at64), Some(&at29), b"v2");
    let args: &[&[u8]] = &[b"HISTORY", b"h", b"1", b"2"];
    check(&mut c, "history", args, INVALID_ARGS);
}

#[rustfmt::skip]
const KSCAN: &[Row] = &[
    Row("kscan", &[b"KSCAN", b"pa"], b"-No keys match\r\n"),
    Row("kscan", &[b"SET", b"pb", b"v"], b"$2\r\npb\r\n"),
    Row("kscan", &[b"SET", b"pa2", b"v"], b"$3\r\npa2\r\n"),
    Row("kscan", &[b"SET", b"pa1", b"v"], b"$3\r\npa1\r\n"),
    Row("kscan", &[b"SET", b"xpa", b"v"], b"$3\r\nxpa\r\n"),
    Row("kscan", &[b"KSCAN", b"pa"], b"*2\r\n$1\r\n0\r\n*2\r\n$3\r\npa1\r\n$3\r\npa2\r\n"),
    Row("kscan", &[b"KSCAN", b"pb"], b"*2\r\n$1\r\n0\r\n*1\r\n$2\r\npb\r\n"),
    Row("kscan", &[b"KSCAN", b"zz"], b"-No keys match\r\n"),
    Row("kscan", &[b"DEL", b"pb"], OK),
    Row("kscan", &[b"KSCAN", b"pb"], b"-No keys match\r\n"),
    Row("kscan", &[b"KSCAN"], UNEXPECTED_ARGS),
];

#[test]
fn kscan_lists_keys_by_prefix() {
    let (_zdb, mut c) = open_server();
    enter(&mut c, "k");
    check_rows(&mut c, KSCAN);
}
