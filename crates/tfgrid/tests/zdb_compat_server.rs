//! §17 rows 55–70 of the 0-db compatibility table (AUTH without an admin
//! password, WAIT, TIME, INFO, NSINFO, STOP, the protocol and command
//! aliases), plus WAIT notifications between clients, against the real
//! `tfgrid zdb` binary.

mod support;

use std::time::{Duration, Instant};

use support::compat::{
    assert_recent, call, check, check_next, check_rows, enter, open_server, Row, INVALID_ARGS,
    KEY_NOT_FOUND, NS_NOT_FOUND, NS_TOO_LONG, OK, PONG, UNEXPECTED_ARGS, UNSUPPORTED,
};
use support::{bulk_text, check_rejected, Raw, Zdb};

const INVALID_TIMEOUT: &[u8] = b"-Invalid timeout\r\n";
const NO_AUTH: &[u8] = b"-Authentication disabled\r\n";

/// Rows 55–56: AUTH on a server without an admin password, WAIT arguments.
#[rustfmt::skip]
const ROWS_55_TO_56: &[Row] = &[
    Row("55", &[b"AUTH", b"x"], NO_AUTH),
    Row("55", &[b"AUTH", b"SECURE", &[b'0'; 40]], NO_AUTH),
    Row("55", &[b"AUTH"], UNEXPECTED_ARGS),
    Row("56", &[b"WAIT"], INVALID_ARGS),
    Row("56", &[b"WAIT", b"a", b"b", b"c"], INVALID_ARGS),
    Row("56", &[b"WAIT", b"nonexisting"], b"-Unknown command to watch\r\n"),
    Row("56", &[b"WAIT", b"PING", b"50"], INVALID_TIMEOUT),
    Row("56", &[b"WAIT", b"PING", b"1800001"], INVALID_TIMEOUT),
    Row("56", &[b"WAIT", b"PING", b"abc"], INVALID_TIMEOUT),
    Row("56", &[b"WAIT", b"PING", b"00000000000000100"], INVALID_TIMEOUT),
];

/// Rows 62–63: NSINFO errors, STOP refused.
#[rustfmt::skip]
const ROWS_62_TO_63: &[Row] = &[
    Row("62", &[b"NSINFO", b"nope"], NS_NOT_FOUND),
    Row("62", &[b"NSINFO", &[b'n'; 129]], NS_TOO_LONG),
    Row("63", &[b"STOP"], b"-Unauthorized\r\n"),
    Row("63", &[b"PING"], PONG),
];

/// Sends `wait` on `a`, then a PING: replies come in order, so once PONG
/// is back the WAIT is registered.
#[track_caller]
fn send_wait(a: &mut Raw, row: &str, wait: &[&[u8]]) {
    a.send(wait);
    check(a, row, &[b"PING"], PONG);
}

#[test]
fn rows_55_to_63_auth_wait_time_info() {
    let (zdb, mut a) = open_server();
    check_rows(&mut a, ROWS_55_TO_56);

    // Row 57: nothing is sent for WAIT; the connection keeps answering;
    // -Timeout comes once the 100 ms are over.
    let started = Instant::now();
    let wait: &[&[u8]] = &[b"WAIT", b"PING", b"100"];
    send_wait(&mut a, "57", wait);
    check_next(&mut a, "57", wait, b"-Timeout\r\n");
    let elapsed = started.elapsed();
    let expected = Duration::from_millis(100)..Duration::from_secs(3);
    assert!(
        expected.contains(&elapsed),
        "row 57: -Timeout after {elapsed:?}"
    );

    let mut b = Raw::connect(zdb.addr());
    send_wait(&mut a, "58", &[b"WAIT", b"SET"]);
    check(&mut b, "58", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    check_next(&mut a, "58", &[b"WAIT", b"SET"], b"+SET\r\n");

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

    let info = bulk_text(&mut a, &[b"INFO"]);
    assert!(
        info.starts_with("# server\nserver_name: 0-db (zdb)\n"),
        "row 60: {info}"
    );
    enter(&mut a, "ns");
    let text = bulk_text(&mut a, &[b"NSINFO", b"ns"]);
    assert!(
        text.starts_with(
            "# namespace\nname: ns\nentries: 0\npublic: yes\nworm: no\nlocked: no\npassword: no\n"
        ),
        "row 61: {text}"
    );
    assert!(text.contains("\nmode: userkey\n"), "row 61: {text}");
    check_rows(&mut a, ROWS_62_TO_63);
}

/// Rows 65–67: bad frames, each on a fresh connection, which the server
/// answers and then closes.
#[rustfmt::skip]
const REJECTED_FRAMES: &[(&str, &[u8], &[u8])] = &[
    ("65", b"PING\r\n", b"-Malformed request, array expected\r\n"),
    ("66", b"*0\r\n", b"-Missing arguments\r\n"),
    ("67", b"*2\r\n$3\r\nGET\r\n$8388609\r\n", b"-Payload too big\r\n"),
];

/// Rows 68–70: invalid command names, SETX, DATA and MIRROR.
#[rustfmt::skip]
const ROWS_68_TO_70: &[Row] = &[
    Row("68", &[b""], b"-This is not a valid command\r\n"),
    Row("68", &[b"*"], b"-This is not a valid command\r\n"),
    Row("69", &[b"SETX", b"sx", b"v"], b"$2\r\nsx\r\n"),
    Row("69", &[b"GET", b"sx"], b"$1\r\nv\r\n"),
    Row("70", &[b"DATA", b"RAW", b"0"], b"-Missing arguments\r\n"),
    Row("70", &[b"DATA", b"FOO", b"0", b"0"], b"-Unknown DATA subcommand\r\n"),
    Row("70", &[b"MIRROR"], b"+Starting mirroring\r\n"),
];

#[test]
fn rows_64_to_70_protocol_and_aliases() {
    let (zdb, mut c) = open_server();
    c.send_raw(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n");
    for _ in 0..3 {
        check_next(&mut c, "64", &[b"PING"], PONG);
    }
    for &(row, input, expected) in REJECTED_FRAMES {
        check_rejected(zdb.addr(), &format!("row {row}"), input, expected);
    }
    check_rows(&mut c, ROWS_68_TO_70);
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
    let wait: &[&[u8]] = &[b"WAIT", b"*"];
    send_wait(&mut a, "wait", wait);
    check(&mut a, "wait", &[b"SET", b"own", b"1"], b"$3\r\nown\r\n");
    check(&mut b, "wait", &[b"SELECT", b"elsewhere"], OK);
    check(&mut b, "wait", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    check(&mut a, "wait", &[b"PING"], PONG);
    check(&mut b, "wait", &[b"select", b"default"], OK);
    check_next(&mut a, "WAIT *", wait, b"+SELECT\r\n");

    // A failed command counts; other commands do not.
    let wait: &[&[u8]] = &[b"WAIT", b"del"];
    send_wait(&mut a, "wait", wait);
    check(&mut b, "wait", &[b"SET", b"k", b"v"], b"$1\r\nk\r\n");
    check(&mut b, "wait", &[b"SETX", b"k", b"v2"], b"$1\r\nk\r\n");
    check(&mut b, "wait", &[b"FOOBAR"], UNSUPPORTED);
    check(&mut a, "wait", &[b"PING"], PONG);
    check(&mut b, "wait", &[b"del", b"missing"], KEY_NOT_FOUND);
    check_next(&mut a, "WAIT DEL", wait, b"+DEL\r\n");

    // One notification per WAIT.
    let wait: &[&[u8]] = &[b"WAIT", b"GET"];
    send_wait(&mut a, "wait", wait);
    check(&mut b, "wait", &[b"GET", b"k"], b"$2\r\nv2\r\n");
    check(&mut b, "wait", &[b"GET", b"k"], b"$2\r\nv2\r\n");
    check_next(&mut a, "WAIT GET", wait, b"+GET\r\n");
    check(&mut a, "wait", &[b"PING"], PONG);

    // A new WAIT replaces the pending one.
    a.send(&[b"WAIT", b"EXISTS", b"100000"]);
    let wait: &[&[u8]] = &[b"WAIT", b"DBSIZE", b"100000"];
    send_wait(&mut a, "wait", wait);
    check(&mut b, "wait", &[b"EXISTS", b"k"], b":1\r\n");
    check(&mut a, "wait", &[b"PING"], PONG);
    check(&mut b, "wait", &[b"DBSIZE"], b":2\r\n");
    check_next(&mut a, "replaced WAIT", wait, b"+DBSIZE\r\n");

    // The waiting client's namespace is the one it is in when the other
    // command finishes.
    let wait: &[&[u8]] = &[b"WAIT", b"SET"];
    send_wait(&mut a, "wait", wait);
    check(&mut a, "wait", &[b"SELECT", b"w"], OK);
    check(&mut b, "wait", &[b"SET", b"x", b"y"], b"$1\r\nx\r\n");
    check(&mut a, "wait", &[b"PING"], PONG);
    check(&mut b, "wait", &[b"SELECT", b"w"], OK);
    check(&mut b, "wait", &[b"SET", b"x", b"y"], b"$1\r\nx\r\n");
    check_next(&mut a, "WAIT after SELECT", wait, b"+SET\r\n");

    // A notified WAIT does not also time out.
    let wait: &[&[u8]] = &[b"WAIT", b"SET", b"200"];
    send_wait(&mut a, "wait", wait);
    check(&mut b, "wait", &[b"SET", b"x", b"z"], b"$1\r\nx\r\n");
    check_next(&mut a, "WAIT SET 200", wait, b"+SET\r\n");
    let started = Instant::now();
    let wait: &[&[u8]] = &[b"WAIT", b"FLUSH", b"400"];
    a.send(wait);
    check_next(&mut a, "WAIT FLUSH 400", wait, b"-Timeout\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "timeout after {:?}",
        started.elapsed()
    );
    check(&mut a, "wait", &[b"PING"], PONG);
}
