//! A real `tfgrid hub serve` process for tests: a free port, a temporary
//! data directory, readiness with a deadline, restart on the same data, and
//! the process stopped in `Drop`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running hub.
pub struct HubProc {
    child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    pub log: PathBuf,
    extra: Vec<String>,
    pub tmp: tempfile::TempDir,
}

impl HubProc {
    /// Starts a hub on a fresh data directory with `extra` flags.
    pub fn start(extra: &[&str]) -> HubProc {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut hub = HubProc {
            child: None,
            port: 0,
            data: tmp.path().join("data"),
            log: tmp.path().join("hub.log"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            tmp,
        };
        hub.spawn();
        hub
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        if self.port == 0 {
            self.port = super::free_port();
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open hub log");
        let child = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
            .args(["hub", "serve", "--data"])
            .arg(&self.data)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tfgrid hub serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("hub exited with {status}: {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "hub not listening: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops (SIGTERM, waited for) and starts again on the same data and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGTERM and wait for exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("hub did not stop on SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `tfgrid hub ARGS` against this hub as the identity in `key`.
    pub fn cli(&self, key: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tfgrid"))
            .arg("hub")
            .args(args)
            .env("TFGRID_HUB", self.url())
            .env("TFGRID_IDENTITY", key)
            .output()
            .expect("run tfgrid hub")
    }

    /// [`HubProc::cli`], asserting success; returns stdout.
    pub fn ok(&self, key: &Path, args: &[&str]) -> String {
        let out = self.cli(key, args);
        assert!(
            out.status.success(),
            "tfgrid hub {args:?}: {}\nhub log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for HubProc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Creates an identity file in `dir` named `name.json`; returns its path.
pub fn new_identity(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(["id", "new", "--file"])
        .arg(&path)
        .output()
        .expect("tfgrid id new");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}
