//! §17 rows 35–43 and 49–54 of the 0-db compatibility table (namespace
//! passwords, sequential namespaces, NSDEL), plus every NSSET property and
//! its descriptor bytes, servers forced into one mode, and FLUSH, against
//! the real `tfgrid zdb` binary.

mod support;

use std::path::Path;

use support::compat::{
    array, challenge, check, check_rows, enter, id, id_reply, nsinfo_field, open_server, sha1_hex,
    Row, ACCESS_DENIED, BAD_HASH_LEN, FROZEN, INVALID_ARG, LOCKED, NIL, NO_CHALLENGE, NO_FLUSH,
    NO_MORE_DATA, NS_NOT_FOUND, NS_TOO_LONG, OK, ONLY_SECURE, ONLY_UPDATE, READ_ONLY,
    UNEXPECTED_ARGS, WORM,
};
use support::{bulk, bulk_text, show, Raw, Zdb};

const PRIVATE: &[u8] = b"-Namespace protected and private\r\n";
const TOO_LONG: &[u8] = b"-Argument too long\r\n";
const NO_DEFAULT: &[u8] = b"-Cannot update default namespace\r\n";
const BAD_MODE: &[u8] = b"-Invalid property value (expected: user, seq)\r\n";
const ONE_MODE: &[u8] = b"-This server instance is configured to use a single runtime mode\r\n";

/// Rows 35–36 on connection A, then `ns` and `ns2` (holding k2) made.
#[rustfmt::skip]
const ROWS_35_TO_36: &[Row] = &[
    Row("35", &[b"NSSET", b"default", b"maxsize", b"1"], NO_DEFAULT),
    Row("35", &[b"NSSET", b"default", b"password", b"1"], NO_DEFAULT),
    Row("35", &[b"NSSET", b"default", b"public", b"1"], NO_DEFAULT),
    Row("35", &[b"NSSET", b"default", b"worm", b"1"], NO_DEFAULT),
    Row("setup", &[b"NSNEW", b"ns"], OK),
    Row("setup", &[b"SELECT", b"ns"], OK),
    Row("36", &[b"NSSET", b"ns", b"bogus", b"1"], b"-Invalid property\r\n"),
    Row("36", &[b"NSSET", b"nope", b"lock", b"1"], NS_NOT_FOUND),
    Row("36", &[b"NSSET", b"ns", b"maxsize", &[b'1'; 64]], TOO_LONG),
    Row("setup", &[b"NSNEW", b"ns2"], OK),
    Row("setup", &[b"SELECT", b"ns2"], OK),
    Row("setup", &[b"SET", b"k2", b"bb"], b"$2\r\nk2\r\n"),
];

/// Rows 37–38 on connection B once `ns2` has a password.
#[rustfmt::skip]
const ROWS_37_TO_38: &[Row] = &[
    Row("37", &[b"SELECT", b"ns2"], OK),
    Row("37", &[b"SET", b"x", b"y"], READ_ONLY),
    Row("37", &[b"DEL", b"k2"], READ_ONLY),
    Row("37", &[b"GET", b"k2"], b"$2\r\nbb\r\n"),
    Row("38", &[b"SELECT", b"ns2", b"bad"], ACCESS_DENIED),
    Row("38", &[b"SELECT", b"ns2", b"pwx"], ACCESS_DENIED),
    Row("38", &[b"SELECT", b"ns2", b"p"], ACCESS_DENIED),
    Row("38", &[b"SELECT", b"ns2", &[b'p'; 256]], b"-Password too long\r\n"),
    Row("38", &[b"SELECT", b"ns2", b"pw"], OK),
    Row("38", &[b"SET", b"x", b"y"], b"$1\r\nx\r\n"),
];

/// Rows 39–40 on connection B once `ns2` is private.
#[rustfmt::skip]
const ROWS_39_TO_40: &[Row] = &[
    Row("39", &[b"SELECT", b"ns2"], PRIVATE),
    Row("39", &[b"SELECT", b"ns2", b"a", b"b", b"c"], b"-Too many arguments\r\n"),
    Row("40", &[b"SELECT", b"ns2", b"SECURE", &[b'0'; 40]], NO_CHALLENGE),
    Row("40", &[b"SELECT", b"ns2", b"PLAIN", &[b'0'; 40]], ONLY_SECURE),
];

/// Row 43 on connection A: FLUSH of a public namespace, and of a private
/// one without a password.
#[rustfmt::skip]
const ROWS_43: &[Row] = &[
    Row("43", &[b"SELECT", b"ns"], OK),
    Row("43", &[b"FLUSH"], NO_FLUSH),
    Row("43", &[b"SELECT", b"default"], OK),
    Row("43", &[b"FLUSH"], NO_FLUSH),
    Row("43", &[b"NSSET", b"ns", b"public", b"0"], OK),
    Row("43", &[b"SELECT", b"ns"], OK),
    Row("43", &[b"FLUSH"], NO_FLUSH),
];

#[test]
fn rows_35_to_43_namespace_passwords() {
    let (zdb, mut a) = open_server();
    let mut b = Raw::connect(zdb.addr());
    check_rows(&mut a, ROWS_35_TO_36);
    check(&mut a, "37", &[b"NSSET", b"ns2", b"password", b"pw"], OK);
    check_rows(&mut b, ROWS_37_TO_38);
    check(&mut a, "39", &[b"NSSET", b"ns2", b"public", b"0"], OK);
    check_rows(&mut b, ROWS_39_TO_40);
    let nonce = challenge(&mut b, "41");
    let wrong = sha1_hex(&format!("{nonce}:px"));
    let hash = sha1_hex(&format!("{nonce}:pw"));
    #[rustfmt::skip]
    check_rows(&mut b, &[
        Row("42", &[b"SELECT", b"ns2", b"SECURE", b"abc"], BAD_HASH_LEN),
        Row("42", &[b"SELECT", b"ns2", b"SECURE", &[b'0'; 40]], ACCESS_DENIED),
        Row("42", &[b"SELECT", b"ns2", b"SECURE", wrong.as_bytes()], ACCESS_DENIED),
        Row("42", &[b"SELECT", b"ns2", b"SECURE", hash.as_bytes()], OK),
        // SELECT does not consume the nonce (spec §5.18).
        Row("42", &[b"SELECT", b"ns2", b"SECURE", hash.as_bytes()], OK),
        Row("42", &[b"SET", b"z", b"1"], b"$1\r\nz\r\n"),
    ]);
    check_rows(&mut a, ROWS_43);
}

/// Rows 49–53 on connection A: namespace `ns3` in sequential mode.
#[rustfmt::skip]
const ROWS_49_TO_53: &[Row] = &[
    Row("setup", &[b"NSNEW", b"ns3"], OK),
    Row("49", &[b"NSSET", b"ns3", b"mode", b"foo"], BAD_MODE),
    Row("49", &[b"NSSET", b"ns3", b"mode", b"seq"], OK),
    Row("setup", &[b"SELECT", b"ns3"], OK),
    Row("50", &[b"SET", b"", b"a"], &id_reply(0)),
    Row("50", &[b"SET", b"", b"b"], &id_reply(1)),
    Row("51", &[b"SET", &id(0), b"a2"], &id_reply(0)),
    Row("51", &[b"SET", b"", b"c"], &id_reply(3)),
    Row("51", &[b"GET", &id(2)], NIL),
    Row("51", &[b"GET", &id(0)], b"$2\r\na2\r\n"),
    Row("52", &[b"SET", &id(9), b"x"], ONLY_UPDATE),
    Row("52", &[b"SET", b"abc", b"x"], ONLY_UPDATE),
    Row("52", &[b"SET", &id(2), b"x"], ONLY_UPDATE),
    Row("52", &[b"GET", b"x"], NIL),
    Row("53", &[b"NSDEL", b"default"], b"-Cannot remove default namespace\r\n"),
    Row("53", &[b"NSDEL", b"ns3"], b"-Cannot remove namespace you're currently using.\r\n"),
    Row("53", &[b"NSDEL", b"nope"], b"-This namespace doesn't exists\r\n"),
];

/// Row 54 on connection B after NSDEL: the name is free again, and the new
/// namespace is empty and in user mode.
#[rustfmt::skip]
const ROWS_54_REUSE: &[Row] = &[
    Row("54", &[b"NSNEW", b"ns3"], OK),
    Row("54", &[b"SELECT", b"ns3"], OK),
    Row("54", &[b"DBSIZE"], b":0\r\n"),
    Row("54", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n"),
];

#[test]
fn rows_49_to_54_seq_namespace_and_nsdel() {
    let (zdb, mut a) = open_server();
    let mut b = Raw::connect(zdb.addr());
    check_rows(&mut a, ROWS_49_TO_53);
    check(&mut b, "54", &[b"NSDEL", b"ns3"], OK);
    let gone = b"-Your active namespace is not available anymore (probably removed).\r\n";
    check(&mut a, "54", &[b"PING"], gone);
    a.assert_closed("row 54");
    check(&mut b, "54", &[b"SELECT", b"ns3"], NS_NOT_FOUND);
    check(&mut b, "54", &[b"NSLIST"], &array(&[bulk(b"default")]));
    for root in [zdb.index_root(), zdb.data_root()] {
        let dir = root.join("ns3");
        assert!(!dir.exists(), "row 54: {} still there", dir.display());
    }
    check_rows(&mut b, ROWS_54_REUSE);
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

/// NSSET argument errors.
#[rustfmt::skip]
const NSSET_ARGUMENTS: &[Row] = &[
    Row("nsset", &[b"NSSET", b"p", b"lock"], UNEXPECTED_ARGS),
    Row("nsset", &[b"NSSET", b"p", b"lock", b""], INVALID_ARG),
    Row("nsset", &[b"NSSET", b"p", &[b'l'; 257], b"1"], TOO_LONG),
    Row("nsset", &[b"NSSET", b"p", b"LOCK", b"1"], b"-Invalid property\r\n"),
    Row("nsset", &[b"NSSET", &[b'p'; 129], b"lock", b"1"], NS_TOO_LONG),
];

/// Sends `NSSET ns property value` and asserts `+OK`.
#[track_caller]
fn nsset(c: &mut Raw, ns: &str, property: &str, value: &str) {
    let args: [&[u8]; 4] = [
        b"NSSET",
        ns.as_bytes(),
        property.as_bytes(),
        value.as_bytes(),
    ];
    check(c, "nsset", &args, OK);
}

#[test]
fn nsset_every_property() {
    let mut zdb = Zdb::start(&[]);
    let c = &mut Raw::connect(zdb.addr());
    let other = &mut Raw::connect(zdb.addr());
    let desc_path = zdb.index_root().join("p/zdb-namespace");
    enter(c, "p");
    check(other, "nsset", &[b"SELECT", b"p"], OK);
    assert_descriptor(&desc_path, &descriptor("p", "", 0, true, false));
    let default_path = zdb.index_root().join("default/zdb-namespace");
    assert_descriptor(&default_path, &descriptor("default", "", 0, true, false));
    check_rows(c, NSSET_ARGUMENTS);

    // mode: only while fresh, on default too.
    nsset(c, "p", "mode", "seq");
    assert_eq!(nsinfo_field(c, "p", "mode"), "sequential");
    nsset(c, "p", "mode", "user");
    assert_eq!(nsinfo_field(c, "p", "mode"), "userkey");
    nsset(c, "default", "mode", "seq");
    nsset(c, "default", "mode", "user");

    // lock: read-only, reads still work; any value other than 1… unlocks.
    check(c, "nsset", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    nsset(c, "p", "lock", "1");
    assert_eq!(nsinfo_field(c, "p", "locked"), "yes");
    check(other, "nsset lock", &[b"SET", b"k", b"w"], LOCKED);
    check(other, "nsset lock", &[b"GET", b"k"], b"$1\r\nv\r\n");
    nsset(c, "p", "lock", "yes");
    assert_eq!(nsinfo_field(c, "p", "locked"), "no");
    check(other, "nsset lock", &[b"SET", b"k", b"w"], b"$1\r\nk\r\n");
    nsset(c, "default", "lock", "1");
    nsset(c, "default", "lock", "0");

    // freeze: no reads either; freeze 0 also clears a lock.
    nsset(c, "p", "freeze", "1");
    assert_eq!(nsinfo_field(c, "p", "locked"), "yes");
    check(other, "nsset freeze", &[b"GET", b"k"], FROZEN);
    nsset(c, "p", "freeze", "0");
    check(other, "nsset freeze", &[b"GET", b"k"], b"$1\r\nw\r\n");
    nsset(c, "p", "lock", "1");
    nsset(c, "p", "freeze", "0");
    check(other, "nsset freeze", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");

    // maxsize, password, public, worm: persisted in the descriptor.
    nsset(c, "p", "maxsize", "4096");
    assert_eq!(nsinfo_field(c, "p", "data_limits_bytes"), "4096");
    assert_eq!(nsinfo_field(c, "p", "space_available"), "4095");
    assert_descriptor(&desc_path, &descriptor("p", "", 4096, true, false));
    nsset(c, "p", "password", "hunter2");
    assert_eq!(nsinfo_field(c, "p", "password"), "yes");
    assert_descriptor(&desc_path, &descriptor("p", "hunter2", 4096, true, false));
    let long_password: &[&[u8]] = &[b"NSSET", b"p", b"password", &[b'x'; 64]];
    check(c, "nsset password", long_password, TOO_LONG);
    nsset(c, "p", "public", "yes");
    let public = nsinfo_field(c, "p", "public");
    assert_eq!(public, "no", "public yes means private (spec §12 #13)");
    nsset(c, "p", "public", "1");
    assert_eq!(nsinfo_field(c, "p", "public"), "yes");
    nsset(c, "p", "public", "0");
    nsset(c, "p", "worm", "1");
    assert_eq!(nsinfo_field(c, "p", "worm"), "yes");
    assert_descriptor(&desc_path, &descriptor("p", "hunter2", 4096, false, true));
    check(c, "nsset worm", &[b"SET", b"k", b"other"], WORM);

    // After a restart: descriptor properties stay, the lock does not.
    nsset(c, "p", "lock", "1");
    zdb.terminate();
    zdb.spawn();
    let c = &mut Raw::connect(zdb.addr());
    let text = bulk_text(c, &[b"NSINFO", b"p"]);
    assert!(
        text.contains("\npublic: no\nworm: yes\nlocked: no\npassword: yes\n")
            && text.contains("\ndata_limits_bytes: 4096\n"),
        "NSSET properties after restart:\n{text}"
    );
    check(c, "nsset", &[b"SELECT", b"p"], PRIVATE);
    check(c, "nsset", &[b"SELECT", b"p", b"hunter2"], OK);
    nsset(c, "p", "password", "*");
    assert_eq!(nsinfo_field(c, "p", "password"), "no");
    assert_descriptor(&desc_path, &descriptor("p", "", 4096, false, true));
    nsset(c, "p", "worm", "0");
    nsset(c, "p", "maxsize", "0");
    nsset(c, "p", "public", "1");
    assert_descriptor(&desc_path, &descriptor("p", "", 0, true, false));
    let fresh = &mut Raw::connect(zdb.addr());
    check(fresh, "nsset", &[b"SELECT", b"p"], OK);
    check(fresh, "nsset", &[b"SET", b"k", b"other"], b"$1\r\nk\r\n");
}

/// `--mode seq`: the default namespace and new ones are sequential, and
/// NSSET mode is refused.
#[rustfmt::skip]
const FORCED_SEQ: &[Row] = &[
    Row("--mode seq", &[b"NSSET", b"default", b"mode", b"user"], ONE_MODE),
    Row("--mode seq", &[b"NSSET", b"default", b"mode", b"seq"], ONE_MODE),
    Row("--mode seq", &[b"NSNEW", b"s"], OK),
];

#[rustfmt::skip]
const FORCED_SEQ_NEW: &[Row] = &[
    Row("--mode seq", &[b"NSSET", b"s", b"mode", b"user"], ONE_MODE),
    Row("--mode seq", &[b"SELECT", b"s"], OK),
    Row("--mode seq", &[b"SET", b"", b"v"], &id_reply(0)),
    Row("--mode seq", &[b"SET", b"key", b"v"], ONLY_UPDATE),
    Row("--mode seq", &[b"GET", &id(0)], b"$1\r\nv\r\n"),
];

#[test]
fn forced_seq_mode_server() {
    let zdb = Zdb::start(&["--mode", "seq"]);
    let mut c = Raw::connect(zdb.addr());
    assert_eq!(nsinfo_field(&mut c, "default", "mode"), "sequential");
    check_rows(&mut c, FORCED_SEQ);
    assert_eq!(nsinfo_field(&mut c, "s", "mode"), "sequential");
    check_rows(&mut c, FORCED_SEQ_NEW);
}

/// `--mode user`: new namespaces are in user mode, and NSSET mode is refused.
#[rustfmt::skip]
const FORCED_USER_NEW: &[Row] = &[
    Row("--mode user", &[b"NSSET", b"u", b"mode", b"seq"], ONE_MODE),
    Row("--mode user", &[b"NSSET", b"default", b"mode", b"seq"], ONE_MODE),
    Row("--mode user", &[b"SELECT", b"u"], OK),
    Row("--mode user", &[b"SET", b"", b"x"], b"-Invalid argument, key needed\r\n"),
    Row("--mode user", &[b"SET", b"k", b"x"], b"$1\r\nk\r\n"),
];

#[test]
fn forced_user_mode_server() {
    let zdb = Zdb::start(&["--mode", "user"]);
    let mut c = Raw::connect(zdb.addr());
    check(&mut c, "--mode user", &[b"NSNEW", b"u"], OK);
    assert_eq!(nsinfo_field(&mut c, "u", "mode"), "userkey");
    check_rows(&mut c, FORCED_USER_NEW);
}

/// Names in `dir`, sorted.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Namespace `f`, private with a password, selected.
#[rustfmt::skip]
const FLUSH_SETUP: &[Row] = &[
    Row("flush", &[b"NSNEW", b"f"], OK),
    Row("flush", &[b"NSSET", b"f", b"password", b"pw"], OK),
    Row("flush", &[b"NSSET", b"f", b"public", b"0"], OK),
    Row("flush", &[b"SELECT", b"f", b"pw"], OK),
];

/// After 50 keys in f0: one more in a new file pair.
#[rustfmt::skip]
const FLUSH_FILLED: &[Row] = &[
    Row("flush", &[b"NSJUMP"], OK),
    Row("flush", &[b"SET", b"late", b"v"], b"$4\r\nlate\r\n"),
    Row("flush", &[b"DBSIZE"], b":51\r\n"),
];

/// FLUSH of `f`: it is empty afterwards.
#[rustfmt::skip]
const FLUSH: &[Row] = &[
    Row("flush", &[b"FLUSH"], OK),
    Row("flush", &[b"DBSIZE"], b":0\r\n"),
    Row("flush", &[b"GET", b"k1"], NIL),
    Row("flush", &[b"GET", b"late"], NIL),
    Row("flush", &[b"SCAN"], NO_MORE_DATA),
];

/// After a restart, `f` still has its password and only what was written
/// after FLUSH.
#[rustfmt::skip]
const FLUSH_RESTARTED: &[Row] = &[
    Row("flush", &[b"SELECT", b"f"], PRIVATE),
    Row("flush", &[b"SELECT", b"f", b"pw"], OK),
    Row("flush", &[b"DBSIZE"], b":1\r\n"),
    Row("flush", &[b"GET", b"k1"], b"$3\r\nnew\r\n"),
    Row("flush", &[b"GET", b"k2"], NIL),
];

#[test]
fn flush_erases_a_private_password_protected_namespace() {
    let mut zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    check_rows(&mut c, FLUSH_SETUP);
    for i in 0..50 {
        let key = format!("k{i}");
        let key = key.as_bytes();
        check(&mut c, "flush", &[b"SET", key, b"value"], &bulk(key));
    }
    check_rows(&mut c, FLUSH_FILLED);
    // Another namespace is untouched.
    let mut other = Raw::connect(zdb.addr());
    let keep: &[&[u8]] = &[b"SET", b"keep", b"me"];
    check(&mut other, "flush", keep, b"$4\r\nkeep\r\n");

    check_rows(&mut c, FLUSH);
    assert_eq!(nsinfo_field(&mut c, "f", "data_size_bytes"), "0");
    let (index, data) = (zdb.index_root().join("f"), zdb.data_root().join("f"));
    assert_eq!(file_names(&index), ["i0", "zdb-namespace"]);
    assert_eq!(file_names(&data), ["d0"]);
    assert_eq!(file_len(&index.join("i0")), 29);
    assert_eq!(file_len(&data.join("d0")), 28);
    // The namespace keeps its password and works normally.
    check(&mut c, "flush", &[b"SET", b"k1", b"new"], b"$2\r\nk1\r\n");
    check(&mut other, "flush", &[b"GET", b"keep"], b"$2\r\nme\r\n");

    zdb.terminate();
    zdb.spawn();
    let mut c = Raw::connect(zdb.addr());
    check_rows(&mut c, FLUSH_RESTARTED);
}
