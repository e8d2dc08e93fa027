//! §17 rows A1–A8 of the 0-db compatibility table: a server started with
//! `--admin` and `--protect`, its admin-only commands, plain and SECURE
//! AUTH, and the admin forms of SET and DEL.

mod support;

use support::compat::{
    challenge, check, check_rows, sha1_hex, Row, ACCESS_DENIED, BAD_HASH_LEN, INVALID_ARG, NIL,
    NO_CHALLENGE, NO_FLUSH, OK, ONLY_SECURE, READ_ONLY, UNEXPECTED_ARGS,
};
use support::{bulk_text, Raw, Zdb};

const DENIED: &[u8] = b"-Permission denied\r\n";

/// Rows A1–A3 before any AUTH: admin-only commands, the protected default
/// namespace, and the admin forms of SET and DEL. 11 denials.
#[rustfmt::skip]
const ROWS_A1_TO_A3: &[Row] = &[
    Row("A1", &[b"NSNEW", b"x"], DENIED),
    Row("A1", &[b"NSDEL", b"x"], DENIED),
    Row("A1", &[b"NSSET", b"x", b"public", b"1"], DENIED),
    Row("A1", &[b"NSJUMP"], DENIED),
    Row("A1", &[b"HOOKS"], DENIED),
    Row("A1", &[b"INDEX", b"DIRTY"], DENIED),
    Row("A1", &[b"DATA", b"RAW", b"0", b"28"], DENIED),
    Row("A1", &[b"RELOAD", b"default"], DENIED),
    Row("A1", &[b"MIRROR"], DENIED),
    Row("A2", &[b"SET", b"a", b"b"], READ_ONLY),
    Row("A2", &[b"DEL", b"a"], READ_ONLY),
    Row("A3", &[b"SET", b"a", b"b", b"1000"], DENIED),
    Row("A3", &[b"DEL", b"a", b"1000"], DENIED),
];

/// Row A2: reads and NSLIST need no admin.
#[rustfmt::skip]
const ROWS_A2_READS: &[Row] = &[
    Row("A2", &[b"GET", b"a"], NIL),
    Row("A2", &[b"NSLIST"], b"*1\r\n$7\r\ndefault\r\n"),
];

/// Row A4: plain AUTH errors; still no admin rights after them.
#[rustfmt::skip]
const ROWS_A4: &[Row] = &[
    Row("A4", &[b"AUTH", b"wrong"], ACCESS_DENIED),
    Row("A4", &[b"AUTH", b""], INVALID_ARG),
    Row("A4", &[b"AUTH", &[b'x'; 129]], b"-Password too long\r\n"),
    Row("A4", &[b"AUTH", &[b'x'; 128]], ACCESS_DENIED),
    Row("A4", &[b"AUTH", b"secret", b"x"], ONLY_SECURE),
    Row("A4", &[b"AUTH", b"a", b"b", b"c"], UNEXPECTED_ARGS),
    Row("A4", &[b"NSNEW", b"x"], DENIED),
];

/// Rows A7–A8 with admin rights: the protected default namespace opens
/// with the admin password; SET and DEL take a timestamp.
#[rustfmt::skip]
const ROWS_A7_TO_A8: &[Row] = &[
    Row("A7", &[b"SET", b"a", b"b"], READ_ONLY),
    Row("A7", &[b"SELECT", b"default", b"wrong"], ACCESS_DENIED),
    Row("A7", &[b"SELECT", b"default", b"secret"], OK),
    Row("A7", &[b"SET", b"a", b"b"], b"$1\r\na\r\n"),
    Row("A8", &[b"SET", b"ts", b"v", b"1000"], b"$2\r\nts\r\n"),
    Row("A8", &[b"KEYTIME", b"ts"], b":1000\r\n"),
    Row("A8", &[b"DEL", b"ts", b"2000"], OK),
    Row("A8", &[b"EXISTS", b"ts"], b":0\r\n"),
];

#[test]
fn rows_a1_to_a8_admin_mode() {
    let zdb = Zdb::start(&["--admin", "secret", "--protect"]);
    let mut c = Raw::connect(zdb.addr());
    check_rows(&mut c, ROWS_A1_TO_A3);
    let text = bulk_text(&mut c, &[b"INFO"]);
    assert!(
        text.contains("\ncommands_unauthorized: 11\n"),
        "A1-A3: INFO counts denials: {text}"
    );
    // Reads, NSLIST and NSINFO need no admin; NSINFO hides paths.
    check_rows(&mut c, ROWS_A2_READS);
    let text = bulk_text(&mut c, &[b"NSINFO", b"default"]);
    assert!(
        text.contains("\npassword: yes\n") && text.contains("\npublic: yes\n"),
        "A2: {text}"
    );
    assert!(
        !text.contains("data_path"),
        "A2: NSINFO shows admin fields to a non-admin: {text}"
    );
    check_rows(&mut c, ROWS_A4);

    // A nonce is good for one attempt, right or wrong.
    let zeros: &[u8] = &[b'0'; 40];
    check(&mut c, "A5", &[b"AUTH", b"SECURE", zeros], NO_CHALLENGE);
    let nonce = challenge(&mut c, "A5");
    let burnt = sha1_hex(&format!("{nonce}:secret"));
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("A5", &[b"AUTH", b"SECURE", zeros], ACCESS_DENIED),
        Row("A5", &[b"AUTH", b"SECURE", burnt.as_bytes()], NO_CHALLENGE),
        Row("A5", &[b"NSNEW", b"x"], DENIED),
    ]);

    // A wrong length keeps the nonce.
    let nonce = challenge(&mut c, "A6");
    let hash = sha1_hex(&format!("{nonce}:secret"));
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("A6", &[b"AUTH", b"SECURE", b"abc"], BAD_HASH_LEN),
        Row("A6", &[b"AUTH", b"SECURE", hash.as_bytes()], OK),
        Row("A6", &[b"NSNEW", b"x"], OK),
    ]);
    let text = bulk_text(&mut c, &[b"NSINFO", b"x"]);
    assert!(
        text.contains("\ndata_path: "),
        "A6: admin NSINFO lacks data_path: {text}"
    );

    // Plain AUTH on another connection.
    let mut d = Raw::connect(zdb.addr());
    check(&mut d, "A4", &[b"AUTH", b"secret"], OK);
    check(&mut d, "A4", &[b"NSDEL", b"x"], OK);

    check_rows(&mut c, ROWS_A7_TO_A8);
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
    check(&mut c, "A7", &[b"FLUSH"], NO_FLUSH);
}
