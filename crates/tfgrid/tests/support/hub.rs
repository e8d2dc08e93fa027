//! A real `tfgrid hub serve` process for tests: a free port, a temporary
//! data directory, readiness with a deadline, restart on the same data and
//! port, and the process killed in `Drop` (see `daemon`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::daemon::{listening, Daemon};

/// A running hub (process methods through `Deref` to [`Daemon`]).
pub struct HubProc {
    daemon: Daemon,
    pub data: PathBuf,
    extra: Vec<String>,
    pub tmp: tempfile::TempDir,
}

impl HubProc {
    /// Starts a hub on a fresh data directory with `extra` flags.
    pub fn start(extra: &[&str]) -> HubProc {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut hub = HubProc {
            daemon: Daemon::new("tfgrid hub serve", tmp.path().join("hub.log")),
            data: tmp.path().join("data"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            tmp,
        };
        hub.daemon.port = super::free_port();
        hub.spawn();
        hub
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tfgrid"));
        command
            .args(["hub", "serve", "--data"])
            .arg(&self.data)
            .args(["--listen", &self.addr().to_string()])
            .args(&self.extra);
        self.daemon.spawn(command, listening);
    }

    /// Stops (SIGTERM, waited for) and starts again on the same data and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGTERM and wait for exit.
    pub fn stop(&mut self) {
        if self.pid().is_some() {
            self.terminate();
        }
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

derefs_to_daemon!(HubProc);

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
