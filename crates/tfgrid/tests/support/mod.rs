//! Starting a real `tfgrid zdb` process for a test: a free port, a
//! temporary data directory, readiness with a deadline, logs kept on
//! failure, and the process killed in `Drop` (see `daemon`); and what the
//! other harnesses share: a free port, raw RESP connections, waiting on a
//! condition with a deadline.

#![allow(dead_code, unreachable_pub)]

/// Process methods of a harness struct with a `daemon` field, through `Deref` to [`Daemon`].
macro_rules! derefs_to_daemon {
    ($harness:ty) => {
        impl std::ops::Deref for $harness {
            type Target = $crate::support::Daemon;
            fn deref(&self) -> &$crate::support::Daemon {
                &self.daemon
            }
        }

        impl std::ops::DerefMut for $harness {
            fn deref_mut(&mut self) -> &mut $crate::support::Daemon {
                &mut self.daemon
            }
        }
    };
}

pub mod bcdb;
pub mod compat;
pub mod daemon;
pub mod hub;
pub mod mount;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use daemon::Daemon;

/// A running `tfgrid zdb` (process methods through `Deref` to [`Daemon`]).
pub struct Zdb {
    daemon: Daemon,
    pub dir: PathBuf,
    extra: Vec<String>,
    /// Environment variables for the next spawn (e.g. failpoints).
    pub env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

/// A port nothing listens on right now (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

impl Zdb {
    /// Starts a server in a fresh temporary directory with `extra` flags.
    pub fn start(extra: &[&str]) -> Zdb {
        let tmp = tempfile::tempdir().expect("create temp dir");
        let dir = tmp.path().to_owned();
        let mut zdb = Zdb {
            daemon: Daemon::new("tfgrid zdb", dir.join("zdb.log")),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            _tmp: Some(tmp),
        };
        zdb.spawn();
        zdb
    }

    /// Data root and index root used by this server.
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("db/data")
    }

    pub fn index_root(&self) -> PathBuf {
        self.dir.join("db/index")
    }

    /// (Re)starts the process on the same directory and a new port.
    pub fn spawn(&mut self) {
        self.daemon.port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tfgrid"));
        command
            .args(["zdb", "--listen", "127.0.0.1", "--port"])
            .arg(self.daemon.port.to_string())
            .arg("--data")
            .arg(self.dir.join("db"))
            .args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        self.daemon.spawn(command, daemon::answers_ping);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

derefs_to_daemon!(Zdb);

/// A blocking raw RESP connection: send exact bytes, read exact replies.
pub struct Raw {
    stream: TcpStream,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw { stream }
    }

    /// Sends one command as an array of bulk strings.
    pub fn send(&mut self, args: &[&[u8]]) {
        self.send_raw(&encode(args));
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends several commands in one write (pipelining), without reading.
    pub fn send_pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> io::Result<()> {
        let mut buf = Vec::new();
        for args in cmds {
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            buf.extend_from_slice(&encode(&args));
        }
        self.stream.write_all(&buf)
    }

    /// Sends a command and returns the exact reply bytes.
    pub fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.reply()
    }

    /// Reads one complete reply and returns its exact bytes.
    pub fn reply(&mut self) -> Vec<u8> {
        self.read_reply()
            .unwrap_or_else(|e| panic!("read reply: {e}"))
    }

    /// Reads one reply, or `None` when the connection failed or closed.
    pub fn try_reply(&mut self) -> Option<Vec<u8>> {
        self.read_reply().ok()
    }

    fn read_reply(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_value(&mut out)?;
        Ok(out)
    }

    /// Appends one reply to `out`: its first line, then a bulk body or the
    /// items of an array.
    fn read_value(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        let mut byte = [0u8; 1];
        while !out[start..].ends_with(b"\r\n") {
            self.stream.read_exact(&mut byte)?;
            out.push(byte[0]);
        }
        let line = &out[start..out.len() - 2];
        let Some((&kind, digits)) = line.split_first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty reply line",
            ));
        };
        let n: i64 = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match kind {
            b'$' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.stream.read_exact(&mut body)?;
                out.extend_from_slice(&body);
            }
            b'*' if n > 0 => {
                for _ in 0..n {
                    self.read_value(out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Asserts the server closed the connection: the next read sees EOF
    /// (or a reset), not data and not a timeout.
    #[track_caller]
    pub fn assert_closed(&mut self, what: &str) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Ok(n) => panic!(
                "{what}: expected a closed connection, got {}",
                buf[..n].escape_ascii()
            ),
            Err(e) => panic!("{what}: expected a closed connection, got {e}"),
        }
    }

    /// The socket, for tests that need timeouts or non-blocking reads.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

/// Sends `input` on a fresh connection to `addr`, asserts the exact reply,
/// then that the server closed that connection; `what` names the case.
#[track_caller]
pub fn check_rejected(addr: SocketAddr, what: &str, input: &[u8], expected: &[u8]) {
    let mut c = Raw::connect(addr);
    c.send_raw(input);
    let reply = c.reply();
    assert!(
        reply == expected,
        "{what}: {} answered {} instead of {}",
        show(input),
        show(&reply),
        show(expected)
    );
    c.assert_closed(&format!("{what}: after {}", show(input)));
}

/// Runs `redis-cli` against `port` with `args`; `None` when redis-cli is
/// missing (callers skip loudly).
pub fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A decoded reply, for assertions on replies with variable parts
/// (timestamps, cursors, nonces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Status(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Value>),
}

impl Value {
    pub fn bulk(&self) -> &[u8] {
        match self {
            Value::Bulk(b) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Value::Int(n) => *n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    pub fn array(&self) -> &[Value] {
        match self {
            Value::Array(items) => items,
            other => panic!("expected an array, got {other:?}"),
        }
    }
}

/// Decodes exactly one reply from `bytes` (panics on trailing bytes).
pub fn parse(bytes: &[u8]) -> Value {
    let mut pos = 0;
    let value = parse_at(bytes, &mut pos);
    assert_eq!(
        pos,
        bytes.len(),
        "trailing bytes after a reply: {}",
        bytes.escape_ascii()
    );
    value
}

fn parse_at(bytes: &[u8], pos: &mut usize) -> Value {
    let rest = &bytes[*pos..];
    let eol = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or_else(|| panic!("no CRLF in {}", rest.escape_ascii()));
    let line = &rest[1..eol];
    *pos += eol + 2;
    let number = || -> i64 {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad number {}", line.escape_ascii()))
    };
    match rest[0] {
        b'+' => Value::Status(line.to_vec()),
        b'-' => Value::Error(line.to_vec()),
        b':' => Value::Int(number()),
        b'$' if number() < 0 => Value::Nil,
        b'$' => {
            let n = number() as usize;
            let body = bytes[*pos..*pos + n].to_vec();
            assert_eq!(
                &bytes[*pos + n..*pos + n + 2],
                b"\r\n",
                "bulk not followed by CRLF"
            );
            *pos += n + 2;
            Value::Bulk(body)
        }
        b'*' => Value::Array((0..number().max(0)).map(|_| parse_at(bytes, pos)).collect()),
        other => panic!("unknown reply type {:?}", other as char),
    }
}

/// Sends `args` and returns the bulk reply as text (INFO, NSINFO).
#[track_caller]
pub fn bulk_text(c: &mut Raw, args: &[&[u8]]) -> String {
    let reply = parse(&c.call(args));
    String::from_utf8(reply.bulk().to_vec()).expect("a UTF-8 bulk reply")
}

/// The value of `field` in the `field: value` lines that `args` (INFO,
/// NSINFO) answers.
#[track_caller]
pub fn info_value(c: &mut Raw, args: &[&[u8]], field: &str) -> String {
    let text = bulk_text(c, args);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")).map(str::to_owned))
        .unwrap_or_else(|| panic!("{} has no {field}: {text}", show(args[0])))
}

/// Encodes `args` as one RESP request.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut buf = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
    buf
}

/// A bulk-string reply holding `data`, as the server sends it.
pub fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Bytes as printable ASCII, for failure messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// CRC-32C as 0-db computes it: reflected Castagnoli (0x82F63B78), init 0,
/// no final inversion.
pub fn crc32c(data: &[u8]) -> u32 {
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

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `redis-cli -p port` with `script` on stdin (one command per line,
/// one connection for all); `None` when redis-cli is missing.
pub fn redis_cli_script(port: u16, extra: &[&str], script: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script)
        .expect("write redis-cli stdin");
    let out = child.wait_with_output().expect("wait for redis-cli");
    assert!(
        out.status.success(),
        "redis-cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}
