//! A running `tfgrid flist mount` for tests: started, awaited until it
//! reports the mount, stopped with Ctrl-C, and unmounted lazily if a test
//! fails half-way.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `tfgrid flist mount`; interrupted (Ctrl-C) and awaited on drop,
/// with a lazy unmount as the last resort so a failing test leaves no mount.
pub struct Mounted {
    child: Child,
    at: PathBuf,
}

impl Mounted {
    pub fn start(args: &[&str], at: &Path) -> Mounted {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
            .args(["flist", "mount"])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tfgrid flist mount");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[mount] {line}");
                if line.starts_with("mounted ") {
                    let _ = tx.send(());
                }
            }
        });
        let mounted = Mounted {
            child,
            at: at.to_path_buf(),
        };
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the mount reports it is mounted within 30 s");
        mounted
    }

    /// Sends SIGINT and waits for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "mount exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "mount did not exit on SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!is_mounted(&self.at), "{} still mounted", self.at.display());
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for path in mounts_under(self.at.parent().unwrap()) {
            let _ = Command::new("umount").arg("-l").arg(&path).status();
        }
    }
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let table = std::fs::read_to_string("/proc/mounts").unwrap();
    let mut found: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(&dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

pub fn is_mounted(path: &Path) -> bool {
    mounts_under(path).iter().any(|p| p == path)
}
