//! The real server used by real clients: `redis-cli` (skipped loudly when
//! it is not installed) and the `redis` crate's synchronous API, as zstor
//! and other Rust clients use it.

mod support;

use std::process::Command;

use support::{redis_cli, redis_cli_script, Zdb};

fn redis_cli_installed() -> bool {
    let found = Command::new("redis-cli").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIP: redis-cli not installed");
    }
    found
}

#[test]
fn redis_cli_talks_to_the_server() {
    if !redis_cli_installed() {
        return;
    }
    let zdb = Zdb::start(&[]);
    let cli = |args: &[&str]| redis_cli(zdb.port, args).expect("redis-cli ran");
    assert_eq!(cli(&["PING"]), "PONG\n");
    assert_eq!(cli(&["NSNEW", "ns"]), "OK\n");
    assert_eq!(
        cli(&["NSNEW", "ns"]).trim_end(),
        "This namespace is not available"
    );
    assert_eq!(cli(&["NSLIST"]), "default\nns\n");
    assert_eq!(cli(&["SET", "hello", "world"]), "hello\n");
    assert_eq!(cli(&["GET", "hello"]), "world\n");
    assert_eq!(cli(&["EXISTS", "hello"]), "1\n");
    assert_eq!(cli(&["FOOBAR"]).trim_end(), "Command not supported");

    // One connection: SELECT sticks for the following commands.
    let script =
        b"SELECT ns\nSET k1 v1\nSET k2 v2\nGET k1\nDEL k1\nDEL k1\nGET k1\nDBSIZE\nSELECT nope\n";
    let out = redis_cli_script(zdb.port, &[], script).expect("redis-cli ran");
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        [
            "OK",
            "k1",
            "k2",
            "v1",
            "OK",
            "Key not found",
            "1",
            "Namespace not found"
        ],
        "redis-cli session output:\n{text}"
    );
    // The key really lives in ns, not in default.
    assert_eq!(cli(&["GET", "k2"]), "\n");

    // SCAN: raw output is the 17-byte cursor, then key, length, timestamp.
    let out = redis_cli_script(zdb.port, &[], b"SELECT ns\nSCAN\n").expect("redis-cli ran");
    let rest = out.strip_prefix(b"OK\n").expect("SELECT answered OK");
    assert_eq!(
        rest.len(),
        17 + 1 + "k2\n2\n".len() + 11,
        "SCAN output: {}",
        rest.escape_ascii()
    );
    assert_eq!(rest[17], b'\n');
    let tail = std::str::from_utf8(&rest[18..]).unwrap();
    let fields: Vec<&str> = tail.lines().collect();
    assert_eq!(fields[..2], ["k2", "2"], "SCAN output: {tail}");
    let ts: u64 = fields[2].parse().unwrap();
    assert!(ts.abs_diff(support::now()) < 10, "SCAN timestamp {ts}");

    let info = cli(&["INFO"]);
    assert!(
        info.starts_with("# server\nserver_name: 0-db (zdb)\n"),
        "INFO via redis-cli:\n{info}"
    );
    assert!(
        info.contains("\n# stats\ncommands_executed: "),
        "INFO via redis-cli:\n{info}"
    );
    let nsinfo = cli(&["NSINFO", "ns"]);
    assert!(
        nsinfo.starts_with("# namespace\nname: ns\nentries: 1\n"),
        "NSINFO via redis-cli:\n{nsinfo}"
    );

    // A binary value from stdin (-x) comes back byte for byte.
    let value = b"bin\r\n\x00\xff\r\n";
    let out = redis_cli_script(zdb.port, &["-x", "SET", "bin"], value).expect("redis-cli ran");
    assert_eq!(out, b"bin\n");
    let mut c = support::Raw::connect(zdb.addr());
    assert_eq!(c.call(&[b"GET", b"bin"]), support::bulk(value));
}

fn connect(zdb: &Zdb) -> redis::Connection {
    redis::Client::open(zdb.url())
        .expect("valid url")
        .get_connection()
        .expect("connect with the redis crate")
}

/// The text of a server error as redis-rs reports it (`code detail`).
fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_owned(),
        _ => format!("not a server error: {e:?}"),
    }
}

#[test]
fn redis_crate_commands_and_errors() {
    let zdb = Zdb::start(&[]);
    let mut con = connect(&zdb);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let ok: String = redis::cmd("NSNEW").arg("meta").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let ok: String = redis::cmd("SELECT").arg("meta").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let key: Vec<u8> = redis::cmd("SET")
        .arg("/p/meta/ab")
        .arg("v1")
        .query(&mut con)
        .unwrap();
    assert_eq!(key, b"/p/meta/ab");
    let same: Option<Vec<u8>> = redis::cmd("SET")
        .arg("/p/meta/ab")
        .arg("v1")
        .query(&mut con)
        .unwrap();
    assert_eq!(same, None, "unchanged value answers nil");
    let value: Option<Vec<u8>> = redis::cmd("GET").arg("/p/meta/ab").query(&mut con).unwrap();
    assert_eq!(value.as_deref(), Some(&b"v1"[..]));
    let missing: Option<Vec<u8>> = redis::cmd("GET").arg("nope").query(&mut con).unwrap();
    assert_eq!(missing, None);
    // Empty values come back empty, not nil (zstor relies on it).
    let _: Vec<u8> = redis::cmd("SET")
        .arg("empty")
        .arg("")
        .query(&mut con)
        .unwrap();
    let empty: Option<Vec<u8>> = redis::cmd("GET").arg("empty").query(&mut con).unwrap();
    assert_eq!(empty, Some(Vec::new()));
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 2);
    let ok: String = redis::cmd("DEL").arg("empty").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let e = redis::cmd("DEL")
        .arg("empty")
        .query::<String>(&mut con)
        .unwrap_err();
    assert_eq!(error_text(&e), "Key not found");
    let e = redis::cmd("FOOBAR").query::<String>(&mut con).unwrap_err();
    assert_eq!(error_text(&e), "Command not supported");
    // The connection is still usable after server errors.
    let exists: i64 = redis::cmd("EXISTS")
        .arg("/p/meta/ab")
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, 1);

    // NSINFO parsed the way zstor does: `key: value` lines.
    let info: String = redis::cmd("NSINFO").arg("meta").query(&mut con).unwrap();
    let fields: std::collections::HashMap<&str, &str> =
        info.lines().filter_map(|l| l.split_once(": ")).collect();
    for (name, want) in [
        ("name", "meta"),
        ("entries", "1"),
        ("public", "yes"),
        ("password", "no"),
        ("mode", "userkey"),
    ] {
        assert_eq!(fields.get(name), Some(&want), "NSINFO {name}:\n{info}");
    }

    // A sequential namespace: SET "" returns the 8-byte id.
    let _: String = redis::cmd("NSNEW").arg("data").query(&mut con).unwrap();
    let _: String = redis::cmd("NSSET")
        .arg("data")
        .arg("mode")
        .arg("seq")
        .query(&mut con)
        .unwrap();
    let _: String = redis::cmd("SELECT").arg("data").query(&mut con).unwrap();
    for n in 0u64..3 {
        let id: Vec<u8> = redis::cmd("SET")
            .arg("")
            .arg(format!("chunk{n}"))
            .query(&mut con)
            .unwrap();
        assert_eq!(id, n.to_le_bytes());
    }
    let chunk: Vec<u8> = redis::cmd("GET")
        .arg(&1u64.to_le_bytes()[..])
        .query(&mut con)
        .unwrap();
    assert_eq!(chunk, b"chunk1");
}

#[test]
fn redis_crate_pipelines_a_thousand_keys() {
    let zdb = Zdb::start(&[]);
    let mut con = connect(&zdb);
    let keys: Vec<String> = (0..1000).map(|i| format!("key:{i:04}")).collect();
    let values: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("value-{i}-{}", "x".repeat(i % 97)).into_bytes())
        .collect();
    let mut pipe = redis::pipe();
    for (k, v) in keys.iter().zip(&values) {
        pipe.cmd("SET").arg(k).arg(v);
    }
    let set: Vec<Vec<u8>> = pipe.query(&mut con).unwrap();
    let expected_keys: Vec<Vec<u8>> = keys.iter().map(|k| k.clone().into_bytes()).collect();
    assert_eq!(set, expected_keys);
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("GET").arg(k);
    }
    let got: Vec<Vec<u8>> = pipe.query(&mut con).unwrap();
    assert_eq!(got, values);
    // Mixed replies in one pipeline, in order.
    let (len, exists, missing, n): (i64, i64, Option<Vec<u8>>, i64) = redis::pipe()
        .cmd("LENGTH")
        .arg("key:0005")
        .cmd("EXISTS")
        .arg("key:0999")
        .cmd("GET")
        .arg("key:1000")
        .cmd("DBSIZE")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        (len, exists, missing, n),
        (values[5].len() as i64, 1, None, 1000)
    );
}

#[test]
fn redis_crate_binary_keys_and_values() {
    let zdb = Zdb::start(&[]);
    let mut con = connect(&zdb);
    let key: &[u8] = b"a\r\nb\x00c*1\r\n$3\r\n";
    let mut value: Vec<u8> = (0..=255u8).collect();
    value.extend_from_slice(b"\r\n$-1\r\n*0\r\n\x00\x00\r\n");
    let got: Vec<u8> = redis::cmd("SET")
        .arg(key)
        .arg(&value)
        .query(&mut con)
        .unwrap();
    assert_eq!(got, key);
    let back: Vec<u8> = redis::cmd("GET").arg(key).query(&mut con).unwrap();
    assert_eq!(back, value);
    let len: i64 = redis::cmd("LENGTH").arg(key).query(&mut con).unwrap();
    assert_eq!(len, value.len() as i64);
    let ok: i64 = redis::cmd("CHECK").arg(key).query(&mut con).unwrap();
    assert_eq!(ok, 1);
    let all: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
        .arg(key)
        .arg(b"a\r\nb")
        .query(&mut con)
        .unwrap();
    assert_eq!(all, [Some(value.clone()), None]);
    // A key of 255 NUL bytes is a valid key too.
    let nul_key = [0u8; 255];
    let got: Vec<u8> = redis::cmd("SET")
        .arg(&nul_key[..])
        .arg(b"\r\n")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, nul_key);
    let back: Vec<u8> = redis::cmd("GET").arg(&nul_key[..]).query(&mut con).unwrap();
    assert_eq!(back, b"\r\n");
}

#[test]
fn redis_crate_eight_mib_values() {
    const MAX: usize = 8 * 1024 * 1024;
    let zdb = Zdb::start(&[]);
    let mut con = connect(&zdb);
    let big: Vec<u8> = (0..MAX).map(|i| (i % 251) as u8).collect();
    let key: Vec<u8> = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut con)
        .unwrap();
    assert_eq!(key, b"big");
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut con).unwrap();
    assert!(
        back == big,
        "8 MiB value did not come back intact ({} bytes)",
        back.len()
    );
    let len: i64 = redis::cmd("LENGTH").arg("big").query(&mut con).unwrap();
    assert_eq!(len, MAX as i64);

    let mut too_big = big;
    too_big.push(0);
    let e = redis::cmd("SET")
        .arg("bigger")
        .arg(&too_big)
        .query::<Vec<u8>>(&mut con)
        .unwrap_err();
    assert_eq!(error_text(&e), "Payload too big", "{e:?}");
    // The server closed the connection after the error.
    let e = redis::cmd("PING").query::<String>(&mut con).unwrap_err();
    assert!(
        e.is_io_error() || e.is_connection_dropped(),
        "PING after a protocol error: {e:?}"
    );
    // Nothing was stored and other connections are served.
    let mut con = connect(&zdb);
    let exists: i64 = redis::cmd("EXISTS").arg("bigger").query(&mut con).unwrap();
    assert_eq!(exists, 0);
    let len: i64 = redis::cmd("LENGTH").arg("big").query(&mut con).unwrap();
    assert_eq!(len, MAX as i64);
}
