//! What the `zdb_compat_*` tests share: rows of the 0-db compatibility
//! table (spec §17) sent on a raw connection and compared as exact bytes,
//! reply builders, SCAN and HISTORY cursors, and checks of replies with
//! variable parts (timestamps, cursors, nonces, INFO fields).

use super::{bulk, info_value, now, parse, show, Raw, Value, Zdb};

pub const OK: &[u8] = b"+OK\r\n";
pub const NIL: &[u8] = b"$-1\r\n";
pub const PONG: &[u8] = b"+PONG\r\n";
pub const NO_MORE_DATA: &[u8] = b"-No more data\r\n";
// Error replies that rows in several files expect.
pub const UNSUPPORTED: &[u8] = b"-Command not supported\r\n";
pub const UNEXPECTED_ARGS: &[u8] = b"-Unexpected arguments\r\n";
pub const INVALID_ARG: &[u8] = b"-Invalid argument\r\n";
pub const INVALID_ARGS: &[u8] = b"-Invalid arguments\r\n";
pub const NS_NOT_FOUND: &[u8] = b"-Namespace not found\r\n";
pub const NS_TOO_LONG: &[u8] = b"-Namespace too long\r\n";
pub const KEY_NOT_FOUND: &[u8] = b"-Key not found\r\n";
pub const ONLY_UPDATE: &[u8] = b"-Invalid key, only update authorized\r\n";
pub const ACCESS_DENIED: &[u8] = b"-Access denied\r\n";
pub const READ_ONLY: &[u8] = b"-Namespace is in read-only mode\r\n";
pub const WORM: &[u8] = b"-Namespace is protected by worm mode\r\n";
pub const LOCKED: &[u8] = b"-Namespace is temporarily locked (read-only)\r\n";
pub const FROZEN: &[u8] = b"-Namespace is temporarily frozen (read-write disabled)\r\n";
pub const NO_FLUSH: &[u8] = b"-Flushing public namespace denied\r\n";
pub const BAD_HASH_LEN: &[u8] = b"-Invalid hash length\r\n";
pub const NO_CHALLENGE: &[u8] = b"-No CHALLENGE requested, secure authentication not available\r\n";
pub const ONLY_SECURE: &[u8] = b"-Only SECURE extra method supported\r\n";

/// One row: a label naming the §17 row (or the topic), the command sent,
/// and the exact reply expected.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a>(pub &'a str, pub &'a [&'a [u8]], pub &'a [u8]);

/// Sends `args` and asserts the exact reply; a failure names the row.
#[track_caller]
pub fn check(c: &mut Raw, row: &str, args: &[&[u8]], expected: &[u8]) {
    let got = c.call(args);
    if got != expected {
        mismatch(row, args, &got, expected);
    }
}

/// Runs `rows` in order on one connection, as [`check`] does; a failure
/// names the row and its position in the table.
#[track_caller]
pub fn check_rows(c: &mut Raw, rows: &[Row<'_>]) {
    for (n, &Row(row, args, expected)) in rows.iter().enumerate() {
        let got = c.call(args);
        if got != expected {
            mismatch(&format!("{row} (table entry {n})"), args, &got, expected);
        }
    }
}

/// Reads the reply to `sent`, a command sent earlier (e.g. a WAIT), and
/// asserts its exact bytes.
#[track_caller]
pub fn check_next(c: &mut Raw, row: &str, sent: &[&[u8]], expected: &[u8]) {
    let got = c.reply();
    if got != expected {
        mismatch(row, sent, &got, expected);
    }
}

#[track_caller]
fn mismatch(row: &str, args: &[&[u8]], got: &[u8], expected: &[u8]) -> ! {
    panic!(
        "row {row}: `{}` answered\n  {}\nexpected\n  {}",
        show_cmd(args),
        show(got),
        show(expected)
    )
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

/// Sends `args` and decodes the reply.
pub fn call(c: &mut Raw, args: &[&[u8]]) -> Value {
    parse(&c.call(args))
}

/// The value of `field` in the NSINFO of namespace `ns`.
#[track_caller]
pub fn nsinfo_field(c: &mut Raw, ns: &str, field: &str) -> String {
    info_value(c, &[b"NSINFO", ns.as_bytes()], field)
}

pub fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

pub fn array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

/// A sequential id as sent on the wire.
pub const fn id(n: u64) -> [u8; 8] {
    n.to_le_bytes()
}

/// The bulk reply holding sequential id `n` (what SET answers in a
/// sequential namespace).
pub const fn id_reply(n: u64) -> [u8; 14] {
    let id = n.to_le_bytes();
    let mut out = *b"$8\r\n01234567\r\n";
    let mut i = 0;
    while i < 8 {
        out[4 + i] = id[i];
        i += 1;
    }
    out
}

/// Asserts `ts` is a unix time within a few seconds of now.
#[track_caller]
pub fn assert_recent(row: &str, ts: u64) {
    let n = now();
    assert!(
        ts <= n + 1 && ts + 10 >= n,
        "row {row}: timestamp {ts} is not close to now ({n})"
    );
}

/// A 17-byte SCAN cursor: `u8 key_len | u32 file | u32 length | u32 offset | u32 crc`.
pub fn cursor(key_len: u8, file: u32, length: u32, offset: u32, crc: u32) -> Vec<u8> {
    let mut out = vec![key_len];
    for n in [file, length, offset, crc] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

/// An 8-byte HISTORY cursor: `u32 index file | u32 index offset`.
pub fn history_cursor(file: u32, offset: u32) -> Vec<u8> {
    let mut out = file.to_le_bytes().to_vec();
    out.extend_from_slice(&offset.to_le_bytes());
    out
}

/// Sends `HISTORY key [from]` and asserts the exact reply: the cursor of
/// the `older` version (nil for none), a recent 10-digit timestamp and
/// `value`. Returns the timestamp.
#[track_caller]
pub fn check_history(
    c: &mut Raw,
    row: &str,
    key: &[u8],
    from: Option<&[u8]>,
    older: Option<&[u8]>,
    value: &[u8],
) -> u64 {
    let mut args = vec![&b"HISTORY"[..], key];
    args.extend(from);
    let got = c.call(&args);
    let parts = match parse(&got) {
        Value::Array(parts) => parts,
        _ => Vec::new(),
    };
    let [_, Value::Bulk(ts), _] = parts.as_slice() else {
        mismatch(row, &args, &got, b"<older cursor, timestamp, value>")
    };
    assert_eq!(ts.len(), 10, "row {row}: timestamp {}", show(ts));
    let secs = std::str::from_utf8(ts).ok().and_then(|t| t.parse().ok());
    let secs = secs.unwrap_or_else(|| panic!("row {row}: timestamp {}", show(ts)));
    assert_recent(row, secs);
    let older = older.map_or(NIL.to_vec(), bulk);
    let want = array(&[older, bulk(ts), bulk(value)]);
    if got != want {
        mismatch(row, &args, &got, &want);
    }
    secs
}

pub fn sha1_hex(text: &str) -> String {
    sha1_smol::Sha1::from(text).digest().to_string()
}

/// `AUTH SECURE CHALLENGE`: asserts a `+<16 lowercase hex>` status and
/// returns the nonce.
#[track_caller]
pub fn challenge(c: &mut Raw, row: &str) -> String {
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

/// A server with default flags and one connection to it.
pub fn open_server() -> (Zdb, Raw) {
    let zdb = Zdb::start(&[]);
    let c = Raw::connect(zdb.addr());
    (zdb, c)
}

/// Creates namespace `name` and selects it.
#[track_caller]
pub fn enter(c: &mut Raw, name: &str) {
    check(c, "setup", &[b"NSNEW", name.as_bytes()], OK);
    check(c, "setup", &[b"SELECT", name.as_bytes()], OK);
}

/// One SCAN/RSCAN item as the server should list it.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: Vec<u8>,
    pub length: u64,
    pub timestamp: u64,
    pub cursor: Vec<u8>,
}

/// The live item of `key`, from KEYCUR, LENGTH and KEYTIME.
#[track_caller]
pub fn item(c: &mut Raw, key: &[u8]) -> Item {
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
pub fn check_walk(c: &mut Raw, row: &str, cmd: &[u8], start: Option<&[u8]>, expected: &[Item]) {
    let mut done = 0;
    let mut next: Option<Vec<u8>> = start.map(<[u8]>::to_vec);
    loop {
        let mut args: Vec<&[u8]> = vec![cmd];
        args.extend(next.as_deref());
        let got = c.call(&args);
        if done == expected.len() {
            assert!(
                got == NO_MORE_DATA,
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

/// `items` in reverse order, for RSCAN walks.
pub fn reversed(items: &[Item]) -> Vec<Item> {
    items.iter().rev().cloned().collect()
}
