//! Starting a real `tfgrid zdb` process for a test: a free port, a
//! temporary data directory, readiness with a deadline, logs kept on
//! failure, and the process killed in `Drop`.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `tfgrid zdb`.
pub struct Zdb {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
    extra: Vec<String>,
    /// Environment variables for the next spawn (e.g. failpoints).
    pub env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
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
            child: None,
            port: 0,
            log: dir.join("zdb.log"),
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
        assert!(self.child.is_none(), "server already running");
        self.port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
            .args(["zdb", "--listen", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--data")
            .arg(self.dir.join("db"))
            .args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start tfgrid zdb");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "tfgrid zdb exited early ({status}); log:\n{}",
                    self.log_text()
                );
            }
            if let Ok(mut s) = TcpStream::connect(self.addr()) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok() {
                    let mut buf = [0u8; 7];
                    if s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "tfgrid zdb not ready after {READY_TIMEOUT:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGKILL and waits for the process.
    /// Waits (with a deadline) for the process to exit on its own, e.g. at
    /// a failpoint; returns its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait child") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("tfgrid zdb did not exit; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        // SAFETY: kill(2) on the pid of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait child") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("tfgrid zdb ignored SIGTERM; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Zdb {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "--- tfgrid zdb log ({}) ---\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

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
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&buf).expect("send");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads one reply, or `None` when the connection failed or closed.
    pub fn try_reply(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.try_read_value(&mut out).ok()?;
        Some(out)
    }

    fn try_read_value(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        let start = out.len();
        let mut byte = [0u8; 1];
        loop {
            self.stream.read_exact(&mut byte)?;
            out.push(byte[0]);
            if out.len() >= start + 2 && &out[out.len() - 2..] == b"\r\n" {
                break;
            }
        }
        let line = out[start..out.len() - 2].to_vec();
        let n: i64 = std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match line[0] {
            b'$' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.stream.read_exact(&mut body)?;
                out.extend_from_slice(&body);
            }
            b'*' if n > 0 => {
                for _ in 0..n {
                    self.try_read_value(out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends several commands in one write (pipelining), without reading.
    pub fn send_pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for args in cmds {
            buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in args {
                buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                buf.extend_from_slice(a);
                buf.extend_from_slice(b"\r\n");
            }
        }
        self.stream.write_all(&buf)
    }

    /// Reads one complete reply and returns its exact bytes.
    pub fn reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_value(&mut out);
        out
    }

    /// Sends a command and returns the exact reply bytes.
    pub fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.reply()
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> Vec<u8> {
        let start = out.len();
        let mut byte = [0u8; 1];
        loop {
            self.stream.read_exact(&mut byte).expect("read reply line");
            out.push(byte[0]);
            if out.len() >= start + 2 && &out[out.len() - 2..] == b"\r\n" {
                return out[start..out.len() - 2].to_vec();
            }
        }
    }

    fn read_value(&mut self, out: &mut Vec<u8>) {
        let line = self.read_line(out);
        let n: i64 = std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match line[0] {
            b'$' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.stream.read_exact(&mut body).expect("read bulk");
                out.extend_from_slice(&body);
            }
            b'*' if n > 0 => {
                for _ in 0..n {
                    self.read_value(out);
                }
            }
            _ => {}
        }
    }

    /// True when the server closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0))
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

/// Whether `path` exists (helper for file assertions).
pub fn exists(path: &Path) -> bool {
    path.exists()
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
