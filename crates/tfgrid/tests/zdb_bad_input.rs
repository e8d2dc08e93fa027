//! Hostile and broken clients against the real server: malformed frames get
//! the exact error of the spec (§3) and a closed connection, partial and
//! trickled frames are handled, and no client can stop the server from
//! serving the others.

mod support;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::{bulk, encode, info_value, show, wait_for, Raw, Zdb};

/// Sends `input` on a fresh connection and asserts the exact error reply
/// and the close, then that `witness` (an older connection) is still
/// served.
#[track_caller]
fn check_rejected_and_served(zdb: &Zdb, witness: &mut Raw, input: &[u8], expected: &[u8]) {
    support::check_rejected(zdb.addr(), "bad frame", input, expected);
    assert_eq!(
        witness.call(&[b"PING"]),
        b"+PONG\r\n",
        "server stopped serving after {}",
        show(input)
    );
}

#[test]
fn malformed_frames_get_the_exact_error_and_a_close() {
    let zdb = Zdb::start(&[]);
    let mut witness = Raw::connect(zdb.addr());
    let not_array = b"-Malformed request, array expected\r\n";
    let malformed = b"-Malformed query string\r\n";
    let cases: &[(&[u8], &[u8])] = &[
        (b"\x00\x01\x02garbage\r\n", not_array),
        (b"hello world\r\n", not_array),
        (b"PING\r\n", not_array),
        (b"$4\r\nPING\r\n", not_array),
        (b"*0\r\n", b"-Missing arguments\r\n"),
        (b"*1025\r\n", b"-Too many arguments\r\n"),
        (b"*-1\r\n", b"-Internal memory error\r\n"),
        (b"*-1025\r\n", b"-Internal memory error\r\n"),
        (b"*1\r\n$8388609\r\n", b"-Payload too big\r\n"),
        (
            b"*2\r\n$3\r\nGET\r\n$9999999999\r\n",
            b"-Payload too big\r\n",
        ),
        // Deliberately strict where the C server's atoi()/unchecked CRLF
        // accepted or misread input (spec §12 #6: never desync).
        (b"*1\r\n$-5\r\n", malformed),
        (b"*1\r\n$-1\r\n", malformed),
        (b"*abc\r\n", malformed),
        (b"*1\r\n$abc\r\n", malformed),
        (b"*1x\r\n$4\r\nPING\r\n", malformed),
        (b"*1\r\n:4\r\n", malformed),
        (b"*1\r\n*1\r\n$4\r\nPING\r\n", malformed),
        (b"*1\r\n$4\r\nPINGxx", malformed),
        (b"*1\n$4\nPING\n", malformed),
        (
            b"*1\r\n$000000000000000000000000000000000004\r\nPING\r\n",
            malformed,
        ),
    ];
    for (input, expected) in cases {
        check_rejected_and_served(&zdb, &mut witness, input, expected);
    }
}

#[test]
fn requests_before_a_bad_frame_are_answered_first() {
    let zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    let mut input = encode(&[b"SET", b"k", b"v"]);
    input.extend_from_slice(&encode(&[b"PING"]));
    input.extend_from_slice(b"GARBAGE\r\n");
    input.extend_from_slice(&encode(&[b"SET", b"after", b"v"]));
    c.send_raw(&input);
    assert_eq!(c.reply(), b"$1\r\nk\r\n");
    assert_eq!(c.reply(), b"+PONG\r\n");
    assert_eq!(c.reply(), b"-Malformed request, array expected\r\n");
    c.assert_closed("after a bad frame in a pipeline");
    let mut other = Raw::connect(zdb.addr());
    assert_eq!(other.call(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    assert_eq!(
        other.call(&[b"EXISTS", b"after"]),
        b":0\r\n",
        "nothing after the bad frame ran"
    );
}

#[test]
fn argument_count_limit() {
    let zdb = Zdb::start(&[]);
    let mut witness = Raw::connect(zdb.addr());
    let keys: Vec<Vec<u8>> = (0..1024).map(|i| format!("k{i}").into_bytes()).collect();
    // 1024 arguments (MGET and 1023 keys) is the most a request carries.
    let mut args: Vec<&[u8]> = vec![b"MGET"];
    args.extend(keys[..1023].iter().map(Vec::as_slice));
    let reply = witness.call(&args);
    assert!(
        reply.starts_with(b"*1023\r\n$-1\r\n"),
        "MGET of 1023 keys: {}",
        show(&reply[..32])
    );
    assert_eq!(reply.len(), "*1023\r\n".len() + 1023 * 5);
    // 1025 arguments, all of them sent.
    let mut args: Vec<&[u8]> = vec![b"MGET"];
    args.extend(keys.iter().map(Vec::as_slice));
    check_rejected_and_served(
        &zdb,
        &mut witness,
        &encode(&args),
        b"-Too many arguments\r\n",
    );
}

#[test]
fn half_frames_then_close() {
    let zdb = Zdb::start(&[]);
    let mut witness = Raw::connect(zdb.addr());
    let full = encode(&[b"SET", b"half", b"value"]);
    // Every proper prefix of a request, then EOF: no reply, nothing stored.
    for cut in 1..full.len() {
        let mut c = Raw::connect(zdb.addr());
        c.send_raw(&full[..cut]);
        c.stream().shutdown(Shutdown::Write).unwrap();
        c.assert_closed(&format!("half frame of {cut} bytes"));
    }
    assert_eq!(witness.call(&[b"EXISTS", b"half"]), b":0\r\n");
    // A complete request followed by half of the next one: the first runs.
    let mut c = Raw::connect(zdb.addr());
    let mut input = full.clone();
    input.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$4\r\nha");
    c.send_raw(&input);
    assert_eq!(c.reply(), b"$4\r\nhalf\r\n");
    c.stream().shutdown(Shutdown::Write).unwrap();
    c.assert_closed("after a trailing half frame");
    assert_eq!(witness.call(&[b"GET", b"half"]), b"$5\r\nvalue\r\n");
    // A half frame cut inside a large payload.
    let big = vec![7u8; 1 << 20];
    let full = encode(&[b"SET", b"bighalf", &big]);
    let mut c = Raw::connect(zdb.addr());
    c.send_raw(&full[..full.len() / 2]);
    c.stream().shutdown(Shutdown::Write).unwrap();
    c.assert_closed("half of a 1 MiB frame");
    assert_eq!(witness.call(&[b"EXISTS", b"bighalf"]), b":0\r\n");
}

#[test]
fn one_byte_at_a_time() {
    let zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    c.stream().set_nodelay(true).unwrap();
    let mut input = encode(&[b"SET", b"slow", b"a\r\nvalue"]);
    input.extend_from_slice(&encode(&[b"GET", b"slow"]));
    input.extend_from_slice(&encode(&[b"PING"]));
    for byte in &input {
        c.send_raw(std::slice::from_ref(byte));
        // Pacing so the bytes travel in separate segments; the replies do
        // not depend on it.
        std::thread::sleep(Duration::from_micros(300));
    }
    assert_eq!(c.reply(), b"$4\r\nslow\r\n");
    assert_eq!(c.reply(), b"$8\r\na\r\nvalue\r\n");
    assert_eq!(c.reply(), b"+PONG\r\n");
    // Headers split across writes at every position of a pipeline.
    let mut other = Raw::connect(zdb.addr());
    for chunk in input.chunks(3) {
        other.send_raw(chunk);
    }
    assert_eq!(other.reply(), b"$-1\r\n", "unchanged value");
    assert_eq!(other.reply(), b"$8\r\na\r\nvalue\r\n");
    assert_eq!(other.reply(), b"+PONG\r\n");
}

/// Resident memory of a process, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status");
    kb * 1024
}

fn info_field(c: &mut Raw, name: &str) -> u64 {
    info_value(c, &[b"INFO"], name).parse().unwrap()
}

#[test]
fn a_client_that_never_reads_does_not_stop_the_others() {
    let zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    let value = vec![b'v'; 64 * 1024];
    assert_eq!(c.call(&[b"SET", b"big", &value]), b"$3\r\nbig\r\n");
    let before = info_field(&mut c, "commands_executed");

    // 10 000 pipelined GETs of 64 KiB (655 MB of replies), never read.
    let slow = TcpStream::connect(zdb.addr()).unwrap();
    let one = encode(&[b"GET", b"big"]);
    let writer = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..10_000 {
                if slow.write_all(&one).is_err() {
                    break;
                }
            }
        })
    };
    // The server ran at least one full batch of the stuck client's GETs
    // (64 x 64 KiB = 4 MiB of replies it will never read). Each INFO poll
    // counts itself.
    let mut n_polls = 0;
    wait_for(
        Duration::from_secs(20),
        "the stuck client's GETs to run",
        || {
            n_polls += 1;
            let n_gets = info_field(&mut c, "commands_executed") - before - n_polls;
            (n_gets >= 64).then_some(())
        },
    );

    // Another client is served promptly, reads and writes alike.
    let started = Instant::now();
    let mut other = Raw::connect(zdb.addr());
    for i in 0..20 {
        let key = format!("k{i}");
        let key = key.as_bytes();
        assert_eq!(other.call(&[b"SET", key, b"x"]), bulk(key));
        assert_eq!(other.call(&[b"GET", key]), b"$1\r\nx\r\n");
    }
    assert!(
        other.call(&[b"GET", b"big"]) == bulk(&value),
        "GET big on another client"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "other client served in {elapsed:?}"
    );
    // Replies to the stuck client are not all buffered in the server.
    let rss = rss_bytes(zdb.pid().expect("server running"));
    assert!(
        rss < 256 << 20,
        "server RSS {rss} bytes with a stuck client"
    );

    slow.shutdown(Shutdown::Both).unwrap();
    drop(slow);
    writer.join().unwrap();
    assert_eq!(other.call(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(c.call(&[b"GET", b"k3"]), b"$1\r\nx\r\n");
}

#[test]
fn two_hundred_concurrent_clients() {
    const N: usize = 200;
    let zdb = Zdb::start(&[]);
    let addr = zdb.addr();
    let barrier = Arc::new(Barrier::new(N));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = Raw::connect(addr);
                barrier.wait();
                let key = format!("client-{i}");
                let value = format!("value-{i}-").repeat(i + 1);
                let set = c.call(&[b"SET", key.as_bytes(), value.as_bytes()]);
                assert_eq!(set, bulk(key.as_bytes()), "client {i}");
                let get = c.call(&[b"GET", key.as_bytes()]);
                assert_eq!(get, bulk(value.as_bytes()), "client {i}");
                assert_eq!(c.call(&[b"PING"]), b"+PONG\r\n", "client {i}");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let mut c = Raw::connect(zdb.addr());
    assert_eq!(c.call(&[b"DBSIZE"]), format!(":{N}\r\n").into_bytes());
    assert!(info_field(&mut c, "clients_lifetime") > N as u64);
}
