//! `tfgrid bcdb serve` used by real clients: redis-cli (answers compared with a real
//! redis-server when one is installed), the `redis` crate on typed objects and pipelines,
//! verified reads checked with nothing but the instance key, kill -9 during a pipelined
//! burst, and bad input that must be refused without recording anything.

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bcdb::checkpoint::Checkpoint;
use bcdb::entry::Op;
use bcdb::ledger::{verify_record, VerifyError};
use support::bcdb::{
    ledger_size, pipelined_writer, redis_cli_script, vget, BcdbServer, RedisServer,
};
use support::{parse, Raw, Value};

const PERSON: &str = "@url = acme.person.1\nname = \"\" (S)\nemail = (email)\nage = 0 (I)\n";
const ROOM: &str = "@url = acme.room.1\nname = (S)\narea = 0.0 (F)\ntags = (LS)\n";

/// A session whose every answer must be Redis's own.
const SESSION: &str = "PING\nPING hello\nECHO \"hi there\"\nSET k1 v1\nSET k2 v2\nGET k1\n\
GET nope\nMGET k1 nope k2\nEXISTS k1 k2 nope k1\nTYPE k1\nTYPE nope\nTTL k1\nTTL nope\n\
PTTL k1\nDBSIZE\nDEL k1 nope\nDEL k1\nEXISTS k1\nGET k1\nSELECT 3\nDBSIZE\nGET k2\n\
SET only here\nSCAN 0\nSCAN 0 MATCH o*\nSCAN 0 MATCH x* COUNT 5\nDBSIZE\nSELECT 0\nDBSIZE\n\
GET k2\nSET k2 v2b\nGET k2\nDEL k2\nSCAN 0\nGET\nSET k\nFOOBAR a b\nSCAN notacursor\n\
SCAN 0 COUNT 0\nCLIENT SETNAME tester\nCLIENT GETNAME\nQUIT\n";

/// What redis-cli prints for [`SESSION`] against redis-server 7.
const SESSION_OUT: &str =
    "PONG\nhello\nhi there\nOK\nOK\nv1\n\nv1\n\nv2\n3\nstring\nnone\n-1\n-2\n\
-1\n2\n1\n0\n0\n\nOK\n0\n\nOK\n0\nonly\n0\nonly\n0\n\n1\nOK\n1\nv2\nOK\nv2b\n1\n0\n\n\
ERR wrong number of arguments for 'get' command\n\n\
ERR wrong number of arguments for 'set' command\n\n\
ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' \n\n\
ERR invalid cursor\n\nERR syntax error\n\nOK\ntester\n";

#[test]
fn redis_cli_answers_as_redis_does() {
    if Command::new("redis-cli").arg("--version").output().is_err() {
        eprintln!("SKIP: redis-cli not installed");
        return;
    }
    let server = BcdbServer::start_with_socket(&[]);
    let out = redis_cli_script(server.port, &[], SESSION).expect("redis-cli ran");
    assert_eq!(out, SESSION_OUT, "bcdb answered:\n{out}");
    match RedisServer::start() {
        Some(redis) => {
            let theirs = redis_cli_script(redis.port, &[], SESSION).expect("redis-cli ran");
            assert_eq!(out, theirs, "bcdb and redis-server differ");
        }
        None => eprintln!("SKIP comparison: redis-server not installed"),
    }

    // `redis-cli --scan` walks our cursors over many pages
    let mut script = String::new();
    for i in 0..120 {
        script.push_str(&format!("SET key:{i} {i}\nSET other:{i} x\n"));
    }
    redis_cli_script(server.port, &[], &script).expect("redis-cli ran");
    redis_cli_script(server.port, &[], "DEL key:7 other:8\n").expect("redis-cli ran");
    let scanned = redis_cli_script(server.port, &["--scan", "--pattern", "key:*"], "").unwrap();
    let mut got: Vec<&str> = scanned.lines().collect();
    got.sort_unstable();
    let mut want: Vec<String> = (0..120)
        .filter(|&i| i != 7)
        .map(|i| format!("key:{i}"))
        .collect();
    want.sort_unstable();
    assert_eq!(got, want);

    // SET options are refused by name; nothing is kept
    let out = redis_cli_script(server.port, &[], "SET t v EX 10\nEXISTS t\n").unwrap();
    assert!(out.starts_with("ERR SET EX is not supported"), "{out}");
    assert!(out.ends_with("\n0\n"), "{out}");

    // the unix socket serves the same database
    let out = Command::new("redis-cli")
        .arg("-s")
        .arg(server.socket())
        .args(["GET", "key:3"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

#[test]
fn redis_crate_typed_objects_history_and_pipelines() {
    let server = BcdbServer::start(&[]);
    let mut con = server.connect();
    let text = format!("{PERSON}\n{ROOM}");
    let registered: Vec<(String, String)> =
        redis::cmd("SCHEMA.SET").arg(&text).query(&mut con).unwrap();
    let parsed = bcdb::schema::parse(&text).unwrap();
    let want: Vec<(String, String)> = parsed
        .iter()
        .map(|s| (s.url().to_string(), hex::encode(s.hash())))
        .collect();
    assert_eq!(registered, want);
    let urls: Vec<String> = redis::cmd("SCHEMA.LIST").query(&mut con).unwrap();
    assert_eq!(urls, ["acme.person.1", "acme.room.1"]);
    let canonical: String = redis::cmd("SCHEMA.GET")
        .arg("acme.person.1")
        .query(&mut con)
        .unwrap();
    assert_eq!(canonical, parsed[0].to_text());
    // registering the same text again records nothing
    let size = ledger_size(&mut con);
    let _: redis::Value = redis::cmd("SCHEMA.SET").arg(&text).query(&mut con).unwrap();
    assert_eq!(ledger_size(&mut con), size);

    // an object's life: create, update, delete, with its history
    let ann = r#"{"name":"ann","email":"ann@x.io","age":30}"#;
    let id: u64 = redis::cmd("OBJ.NEW")
        .arg("acme.person.1")
        .arg(ann)
        .query(&mut con)
        .unwrap();
    let got: String = redis::cmd("OBJ.GET")
        .arg("acme.person.1")
        .arg(id)
        .query(&mut con)
        .unwrap();
    assert_eq!(json(&got), json(ann));
    let older = r#"{"name":"ann","email":"ann@x.io","age":31}"#;
    let ok: String = redis::cmd("OBJ.SET")
        .arg("acme.person.1")
        .arg(id)
        .arg(older)
        .query(&mut con)
        .unwrap();
    assert_eq!(ok, "OK");
    let by_id: String = redis::cmd("OBJ.GET").arg(id).query(&mut con).unwrap();
    assert_eq!(json(&by_id), json(older));
    let deleted: i64 = redis::cmd("OBJ.DEL").arg(id).query(&mut con).unwrap();
    assert_eq!(deleted, 1);
    let gone: Option<String> = redis::cmd("OBJ.GET").arg(id).query(&mut con).unwrap();
    assert_eq!(gone, None);
    let again: i64 = redis::cmd("OBJ.DEL").arg(id).query(&mut con).unwrap();
    assert_eq!(again, 0);
    type Version = (u64, u64, String, Option<String>);
    let history: Vec<Version> = redis::cmd("OBJ.HISTORY")
        .arg("acme.person.1")
        .arg(id)
        .query(&mut con)
        .unwrap();
    let ops: Vec<&str> = history.iter().map(|v| v.2.as_str()).collect();
    assert_eq!(ops, ["create", "update", "delete"]);
    assert!(history
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    assert_eq!(json(history[0].3.as_deref().unwrap()), json(ann));
    assert_eq!(json(history[1].3.as_deref().unwrap()), json(older));
    assert_eq!(history[2].3, None);

    // the old hash API on <namespace>:data:<url>, the namespace taken from the key
    let mut mydb = server.connect();
    let _: String = redis::cmd("SELECT").arg("mydb").query(&mut mydb).unwrap();
    let _: redis::Value = redis::cmd("SCHEMA.SET").arg(ROOM).query(&mut mydb).unwrap();
    let key = "mydb:data:acme.room.1";
    let hall = r#"{"name":"hall","area":12.5,"tags":["big","cold"]}"#;
    let id1: u64 = redis::cmd("HSETNEW")
        .arg(key)
        .arg(0)
        .arg(hall)
        .query(&mut con)
        .unwrap();
    let id2: u64 = redis::cmd("HSETNEW")
        .arg(key)
        .arg(r#"{"name":"box"}"#)
        .query(&mut con)
        .unwrap();
    assert_eq!(id2, id1 + 1);
    let got: String = redis::cmd("HGET")
        .arg(key)
        .arg(id1)
        .query(&mut con)
        .unwrap();
    assert_eq!(json(&got), json(hall));
    let same: String = redis::cmd("OBJ.GET")
        .arg("acme.room.1")
        .arg(id1)
        .query(&mut mydb)
        .unwrap();
    assert_eq!(same, got);
    let hall2 = r#"{"name":"hall","area":13.0,"tags":[]}"#;
    let added: i64 = redis::cmd("HSET")
        .arg(key)
        .arg(id1)
        .arg(hall2)
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 0);
    let got: String = redis::cmd("HGET")
        .arg(key)
        .arg(id1)
        .query(&mut con)
        .unwrap();
    assert_eq!(json(&got), json(hall2));
    let n: u64 = redis::cmd("HLEN").arg(key).query(&mut con).unwrap();
    assert_eq!(n, 2);
    let ids: Vec<String> = redis::cmd("HKEYS").arg(key).query(&mut con).unwrap();
    assert_eq!(ids, [id1.to_string(), id2.to_string()]);
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let (next, page): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg(key)
            .arg(&cursor)
            .arg("COUNT")
            .arg(1)
            .query(&mut con)
            .unwrap();
        seen.extend(page.chunks(2).map(|p| p[0].clone()));
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen, ids);
    let n: u64 = redis::cmd("HDEL")
        .arg(key)
        .arg(id2)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let n: u64 = redis::cmd("HDEL")
        .arg(key)
        .arg("*")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let n: u64 = redis::cmd("HLEN").arg(key).query(&mut con).unwrap();
    assert_eq!(n, 0);

    // pipelined writes: one batch, one commit, every reply in order
    let size = ledger_size(&mut con);
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET")
            .arg(format!("p{i}"))
            .arg(format!("value {i}"));
    }
    for i in 0..50 {
        let person = format!(r#"{{"name":"p{i}","age":{i}}}"#);
        pipe.cmd("OBJ.NEW").arg("acme.person.1").arg(person);
    }
    pipe.cmd("LEDGER.ROOT");
    let replies: Vec<redis::Value> = pipe.query(&mut con).unwrap();
    assert_eq!(replies.len(), 251);
    assert!(replies[..200]
        .iter()
        .all(|r| *r == redis::Value::Okay || *r == redis::Value::SimpleString("OK".into())));
    let new_ids: Vec<u64> = replies[200..250]
        .iter()
        .map(|r| redis::from_redis_value(r).unwrap())
        .collect();
    assert!(new_ids.windows(2).all(|w| w[1] == w[0] + 1), "{new_ids:?}");
    let (after, _): (u64, String) = redis::from_redis_value(&replies[250]).unwrap();
    assert_eq!(after, size + 250);
    let keys: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
    let values: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
    assert!(values
        .iter()
        .enumerate()
        .all(|(i, v)| *v == format!("value {i}")));
    let n: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 200);
}

#[test]
fn verified_get_checks_out_against_the_instance_key() {
    let server = BcdbServer::start(&["--sync", "false"]);
    let key = server.instance_key();
    let mut con = server.connect();
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(
        info.contains(&format!("instance_key:{}\r\n", key.to_hex())),
        "{info}"
    );
    let _: redis::Value = redis::cmd("SCHEMA.SET")
        .arg(PERSON)
        .query(&mut con)
        .unwrap();
    let id: u64 = redis::cmd("OBJ.NEW")
        .arg("acme.person.1")
        .arg(r#"{"name":"ann"}"#)
        .query(&mut con)
        .unwrap();
    let text: String = redis::cmd("LEDGER.CHECKPOINT").query(&mut con).unwrap();
    let trusted = Checkpoint::parse(&text).unwrap();
    trusted.verify(&key).unwrap();
    for i in 0..20 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let _: () = redis::cmd("OBJ.SET")
        .arg("acme.person.1")
        .arg(id)
        .arg(r#"{"name":"ann","age":7}"#)
        .query(&mut con)
        .unwrap();

    let record = vget(&mut con, id, Some(trusted.size));
    let entry = verify_record(&record, Some(&trusted), &key).expect("record verifies");
    assert_eq!(
        (entry.object_id, entry.op, entry.namespace.as_slice()),
        (id, Op::Put, &b"default"[..])
    );
    assert_eq!(entry.collection, b"acme.person.1");
    assert!(record.checkpoint.size >= trusted.size + 21);
    let bin: Vec<u8> = redis::cmd("OBJ.GET")
        .arg("acme.person.1")
        .arg(id)
        .arg("BIN")
        .query(&mut con)
        .unwrap();
    assert_eq!(record.value, bin);
    let (size, root): (u64, String) = redis::cmd("LEDGER.ROOT").query(&mut con).unwrap();
    assert_eq!(
        (size, root),
        (record.checkpoint.size, hex::encode(record.checkpoint.root))
    );

    // from nothing trusted, and from the checkpoint just learned
    let fresh = vget(&mut con, id, None);
    verify_record(&fresh, None, &key).unwrap();
    let latest = vget(&mut con, id, Some(record.checkpoint.size));
    assert!(latest.consistency.is_empty());
    verify_record(&latest, Some(&record.checkpoint), &key).unwrap();

    // what a lying server would send is caught
    let mut bad = record.clone();
    bad.value[0] ^= 1;
    assert!(matches!(
        verify_record(&bad, Some(&trusted), &key),
        Err(VerifyError::ValueMismatch)
    ));
    let mut bad = record.clone();
    bad.entry[20] ^= 1;
    assert!(verify_record(&bad, Some(&trusted), &key).is_err());
    let other = identity::KeyPair::generate().public();
    assert!(verify_record(&record, Some(&trusted), &other).is_err());
}

#[test]
fn kill9_during_a_pipelined_burst_keeps_every_acknowledged_write() {
    let mut server = BcdbServer::start(&[]);
    let acked = Arc::new(AtomicU64::new(0));
    let writer = pipelined_writer(server.url(), acked.clone());
    support::wait_for(Duration::from_secs(60), "500 acknowledged writes", || {
        (acked.load(Ordering::SeqCst) >= 500).then_some(())
    });
    server.kill9();
    let n = writer.join().expect("writer thread");
    assert!(n >= 500);

    let (ok, report) = server.verify();
    assert!(ok, "verify after kill -9:\n{report}");
    server.spawn();
    let mut con = server.connect();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("key{i}")).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
        for (i, value) in chunk.iter().zip(values) {
            assert_eq!(value, Some(format!("value{i}")), "acknowledged key{i} lost");
        }
    }
    assert!(ledger_size(&mut con) >= n);
    drop(con);
    assert!(server.terminate().success(), "clean exit on SIGTERM");
    assert!(server.log_text().contains("ledger closed"));
    let (ok, report) = server.verify();
    assert!(ok, "verify after SIGTERM:\n{report}");
}

#[test]
fn kill9_with_many_single_write_clients_keeps_every_acknowledged_write() {
    // Writers that wait for each reply share commits (group commit across connections):
    // whichever connection commits covers the others' writes, and none may be answered
    // before its write is durable.
    let mut server = BcdbServer::start(&[]);
    const PREFIXES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let counters: Vec<Arc<AtomicU64>> = PREFIXES.iter().map(|_| Arc::default()).collect();
    let writers: Vec<_> = PREFIXES
        .iter()
        .zip(&counters)
        .map(|(p, acked)| support::bcdb::writer(server.url(), p, 1, acked.clone()))
        .collect();
    support::wait_for(
        Duration::from_secs(60),
        "40 acknowledged writes per client",
        || {
            counters
                .iter()
                .all(|c| c.load(Ordering::SeqCst) >= 40)
                .then_some(())
        },
    );
    server.kill9();
    let acked: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let (ok, report) = server.verify();
    assert!(ok, "verify after kill -9:\n{report}");
    server.spawn();
    let mut con = server.connect();
    for (prefix, n) in PREFIXES.iter().zip(acked) {
        let keys: Vec<String> = (0..n).map(|i| format!("{prefix}key{i}")).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
        for (i, value) in values.into_iter().enumerate() {
            assert_eq!(
                value,
                Some(format!("value{i}")),
                "acknowledged {prefix}key{i} lost"
            );
        }
    }
}

/// Sends `args` and decodes the reply.
fn call(c: &mut Raw, args: &[&[u8]]) -> Value {
    parse(&c.call(args))
}

#[test]
fn bad_input_is_refused_and_records_nothing() {
    let server = BcdbServer::start(&["--max-clients", "3"]);
    let mut c = Raw::connect(server.addr());
    call(&mut c, &[b"SCHEMA.SET", PERSON.as_bytes()]);
    let id = call(
        &mut c,
        &[b"OBJ.NEW", b"acme.person.1", br#"{"name":"ann","age":3}"#],
    )
    .int();
    let id = id.to_string();
    call(&mut c, &[b"SET", b"k", b"v"]);
    let size_before = call(&mut c, &[b"LEDGER.ROOT"]).array()[0].int();

    // `|` separates arguments; `{id}` is the object made above
    let cases = [
        ("NOSUCH|x", "ERR unknown command 'NOSUCH'"),
        ("GET", "ERR wrong number of arguments for 'get'"),
        (
            "OBJ.NEW|acme.person.1",
            "ERR wrong number of arguments for 'obj.new'",
        ),
        ("SET|k|w|PX|5", "SET PX is not supported"),
        ("SET|k|w|junk", "ERR syntax error"),
        ("SET||w", "a key has 1 to 1024 bytes"),
        ("OBJ.NEW|acme.nope.1|{}", "no schema acme.nope.1"),
        ("OBJ.NEW|acme.person.1|{\"name\": ", "invalid JSON"),
        ("OBJ.NEW|acme.person.1|{\"age\":\"old\"}", "field \"age\""),
        ("OBJ.NEW|acme.person.1|[1,2]", "expected a JSON object"),
        ("OBJ.NEW|acme.person.1|{\"id\":4}", "unknown field"),
        ("OBJ.SET|acme.person.1|999|{}", "no object 999"),
        ("OBJ.SET|acme.person.1|abc|{}", "is not a positive integer"),
        ("OBJ.GET|acme.room.1|{id}", "belongs to acme.person.1"),
        ("OBJ.GET|acme.person.1|{id}|XML", "unknown format"),
        ("HSET|nokey|1|{}", "is not <namespace>:data:<schema url>"),
        ("HSET|default:data:acme.person.1|1|{}|x", "HSET takes one"),
        ("HSETNEW|default:data:acme.person.1|7|{}", "takes id 0"),
        ("HDEL|default:data:acme.person.1|{id}|x", "positive integer"),
        ("SCHEMA.SET|no url here", "ERR schema:"),
        (
            "SCHEMA.SET|@url = acme.person.1\nname = 0 (I)\n",
            "changed type",
        ),
        ("SELECT|", "a namespace name has 1 to 255 bytes"),
        ("SCAN|-1", "ERR invalid cursor"),
        ("LEDGER.VGET|{id}|99999999", "beyond the latest checkpoint"),
        ("LEDGER.VGET|0", "is not a positive integer"),
        ("HELLO|3", "NOPROTO"),
        ("AUTH|secret", "without any password configured"),
    ];
    let mut cases: Vec<(Vec<Vec<u8>>, &str)> = cases
        .iter()
        .map(|(line, want)| {
            let line = line.replace("{id}", &id);
            (
                line.split('|').map(|a| a.as_bytes().to_vec()).collect(),
                *want,
            )
        })
        .collect();
    let big_json = format!(r#"{{"name":"{}"}}"#, "y".repeat(2 << 20));
    let long_age = format!(r#"{{"age":"{}"}}"#, "9".repeat(100_000));
    let big = |args: &[&[u8]]| args.iter().map(|a| a.to_vec()).collect();
    cases.extend([
        (
            big(&[b"SET", b"big", &vec![b'x'; 8 << 20]]),
            "a value has at most",
        ),
        (
            big(&[b"OBJ.NEW", b"acme.person.1", big_json.as_bytes()]),
            "not an object of",
        ),
        (big(&[b"SCHEMA.SET", b"\xff\xfe"]), "not UTF-8"),
        (
            big(&[b"SELECT", &[b'n'; 256]]),
            "a namespace name has 1 to 255 bytes",
        ),
        (
            big(&[b"OBJ.NEW", b"acme.person.1", long_age.as_bytes()]),
            "field \"age\"",
        ),
    ]);
    for (args, want) in &cases {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let shown: Vec<String> = args
            .iter()
            .map(|a| support::show(&a[..a.len().min(40)]))
            .collect();
        match call(&mut c, &args) {
            Value::Error(text) => {
                let text = String::from_utf8_lossy(&text);
                assert!(text.contains(want), "{shown:?}: {text:?} lacks {want:?}");
                assert!(text.len() <= 1024, "{shown:?}: a {} byte error", text.len());
            }
            other => panic!("{shown:?}: expected an error, got {other:?}"),
        }
    }
    // the same connection still works, and nothing was recorded
    assert_eq!(c.call(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(
        call(&mut c, &[b"LEDGER.ROOT"]).array()[0].int(),
        size_before
    );
    assert_eq!(call(&mut c, &[b"GET", b"k"]), Value::Bulk(b"v".to_vec()));
    assert_eq!(call(&mut c, &[b"EXISTS", b"big", b""]), Value::Int(0));
    let got = call(&mut c, &[b"OBJ.GET", id.as_bytes()]);
    assert_eq!(json(std::str::from_utf8(got.bulk()).unwrap())["age"], 3);

    // --max-clients 3: a fourth client is told why and closed
    let others = [Raw::connect(server.addr()), Raw::connect(server.addr())];
    let mut fourth = Raw::connect(server.addr());
    assert_eq!(fourth.reply(), b"-ERR max number of clients reached\r\n");
    fourth.assert_closed("a client over the limit");
    drop(others);
    support::wait_for(Duration::from_secs(10), "a free client slot", || {
        let mut c = Raw::connect(server.addr());
        c.send(&[b"PING"]);
        (c.try_reply()? == b"+PONG\r\n").then_some(())
    });

    // protocol errors are answered, then the connection closes; the server goes on
    support::check_rejected(
        server.addr(),
        "inline command",
        b"GET k\r\n",
        b"-ERR Protocol error: expected '*', inline commands are not supported\r\n",
    );
    support::check_rejected(
        server.addr(),
        "bulk over 8 MiB",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9000000\r\nxx",
        b"-ERR Protocol error: invalid bulk length (above 8 MiB)\r\n",
    );
    let mut c = Raw::connect(server.addr());
    assert_eq!(
        call(&mut c, &[b"LEDGER.ROOT"]).array()[0].int(),
        size_before
    );
    assert_eq!(c.call(&[b"QUIT"]), b"+OK\r\n");
    c.assert_closed("after QUIT");
}

#[test]
fn find_count_and_search_over_indexed_fields() {
    let server = BcdbServer::start(&[]);
    let mut con = server.connect();
    let schema = "@url = tfgrid.directory.node.1\n&node_id** = (S)\nfarm_id** = (I)\ncru** = (I)\nnotes*** = (S)\nsru = (I)\n";
    let _: redis::Value = redis::cmd("SCHEMA.SET")
        .arg(schema)
        .query(&mut con)
        .unwrap();
    let url = "tfgrid.directory.node.1";
    for i in 1..=30 {
        let obj = format!(
            r#"{{"node_id": "node-{i:02}", "farm_id": {}, "cru": {}, "notes": "rack {} {}"}}"#,
            i % 3,
            i * 2,
            i % 5,
            if i % 10 == 0 { "gpu" } else { "plain" }
        );
        let id: u64 = redis::cmd("OBJ.NEW")
            .arg(url)
            .arg(obj)
            .query(&mut con)
            .unwrap();
        assert_eq!(id, i);
    }
    let find = |con: &mut redis::Connection, args: &[&str]| -> Vec<u64> {
        redis::cmd("OBJ.FIND")
            .arg(url)
            .arg(args)
            .query(con)
            .unwrap()
    };
    assert_eq!(find(&mut con, &["node_id", "=", "node-07"]), [7]);
    // numbers compare as numbers
    assert_eq!(
        find(&mut con, &["cru", ">=", "9", "cru", "<=", "20"]),
        (5..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        find(&mut con, &["farm_id", "=", "0", "cru", "<=", "20"]),
        [3, 6, 9]
    );
    assert_eq!(
        find(&mut con, &["node_id", "PREFIX", "node-2", "LIMIT", "3"]),
        [20, 21, 22]
    );
    assert_eq!(
        find(
            &mut con,
            &["node_id", "PREFIX", "node-2", "AFTER", "22", "LIMIT", "3"]
        ),
        [23, 24, 25]
    );
    let count: u64 = redis::cmd("OBJ.COUNT")
        .arg(url)
        .arg(&["farm_id", "=", "1"])
        .query(&mut con)
        .unwrap();
    assert_eq!(count, 10);
    let hits: Vec<u64> = redis::cmd("OBJ.SEARCH")
        .arg(url)
        .arg("gpu")
        .query(&mut con)
        .unwrap();
    assert_eq!(hits.len(), 3);
    // a malformed search query is an error that says where, and nothing else breaks
    let err = redis::cmd("OBJ.SEARCH")
        .arg(url)
        .arg("gpu \"unclosed")
        .query::<Vec<u64>>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("byte 4"), "{err}");
    // bad queries are errors, and the connection keeps working
    for bad in [
        vec!["cru", ">=", "nine"],
        vec!["missing", "=", "x"],
        // a field without an index mark has no rows to search
        vec!["sru", "=", "1"],
        vec!["cru", "~", "1"],
        vec!["cru", "="],
    ] {
        let err = redis::cmd("OBJ.FIND")
            .arg(url)
            .arg(&bad)
            .query::<Vec<u64>>(&mut con)
            .unwrap_err();
        assert_eq!(
            err.kind(),
            redis::ErrorKind::ResponseError,
            "{bad:?}: {err}"
        );
    }
    // a unique field already held is refused
    let dup = redis::cmd("OBJ.NEW")
        .arg(url)
        .arg(r#"{"node_id": "node-07", "farm_id": 1, "cru": 1}"#)
        .query::<u64>(&mut con)
        .unwrap_err();
    assert!(dup.to_string().contains("unique"), "{dup}");
    assert_eq!(find(&mut con, &["node_id", "=", "node-07"]), [7]);
}
