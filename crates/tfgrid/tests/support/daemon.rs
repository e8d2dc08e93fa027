//! What every test harness of a `tfgrid` server process shares: spawning it with its output
//! in a log file, waiting (with a deadline) until it is ready, SIGTERM or SIGKILL, and, in
//! `Drop`, killing it and printing its log when the test failed. The harnesses (`Zdb`,
//! `bcdb::BcdbServer`, `hub::HubProc`) add their flags and readiness probe and reach these
//! methods through `Deref`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::wait_for;

/// How long a server may take to be ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit on SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// One server process and its log.
pub struct Daemon {
    child: Option<Child>,
    /// The port it listens on (chosen by the harness).
    pub port: u16,
    /// Its stdout and stderr, appended across restarts.
    pub log: PathBuf,
    /// What it is, for messages (`tfgrid zdb`, …).
    name: &'static str,
}

impl Daemon {
    /// A daemon not started yet, logging to `log`.
    pub fn new(name: &'static str, log: PathBuf) -> Daemon {
        Daemon {
            child: None,
            port: 0,
            log,
            name,
        }
    }

    /// 127.0.0.1 and [`Daemon::port`].
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts `command` with its output in the log, then waits until `ready(addr)` holds;
    /// panics if the process exits first or the deadline passes.
    pub fn spawn(&mut self, mut command: Command, ready: impl Fn(SocketAddr) -> bool) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = command
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
        let (addr, name) = (self.addr(), self.name);
        wait_for(READY_TIMEOUT, &format!("{name} to be ready"), || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("{name} exited early ({status})");
            }
            ready(addr).then_some(())
        });
    }

    /// Process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("wait child").is_none())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGKILL and waits for the process.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits (with a deadline) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid().expect("server running");
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let what = format!("{} to exit on SIGTERM", self.name);
        self.wait_child(EXIT_TIMEOUT, &what)
    }

    /// Waits (with a deadline) for the process to exit on its own, e.g. at a failpoint.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let what = format!("{} to exit", self.name);
        self.wait_child(Duration::from_secs(30), &what)
    }

    /// Polls the child until it exits. On timeout the panic leaves the child in place for
    /// `Drop` to kill and to print the log.
    fn wait_child(&mut self, timeout: Duration, what: &str) -> ExitStatus {
        let child = self.child.as_mut().expect("server running");
        let status = wait_for(timeout, what, || child.try_wait().expect("wait child"));
        self.child = None;
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "--- {} log ({}) ---\n{}",
                self.name,
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// Whether a RESP server on `addr` answers PING.
pub fn answers_ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let mut buf = [0u8; 7];
    s.set_read_timeout(Some(Duration::from_secs(5))).is_ok()
        && s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
        && s.read_exact(&mut buf).is_ok()
        && &buf == b"+PONG\r\n"
}

/// Whether anything accepts TCP connections on `addr`.
pub fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).is_ok()
}
