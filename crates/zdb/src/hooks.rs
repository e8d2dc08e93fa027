//! External hook program called on namespace and file events, as 0-db does:
//! `argv = [hook, <event>, <instance-id>, args…]`, run without a shell.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a finished hook stays in the `HOOKS` list.
const KEEP_FINISHED_SECS: u64 = 300;

/// One execution of the hook, as listed by `HOOKS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRun {
    /// Event name (`ready`, `jump-index`, …).
    pub event: String,
    /// Arguments after the instance id.
    pub args: Vec<OsString>,
    /// Process id of the hook.
    pub pid: u32,
    /// Unix seconds at start.
    pub created: u64,
    /// Unix seconds at exit, 0 while running.
    pub finished: u64,
    /// Exit status (-1 when killed by a signal or still running).
    pub status: i32,
}

struct Running {
    run: HookRun,
    child: Option<Child>,
}

/// The configured hook program, or none.
pub struct Hooks {
    program: Option<PathBuf>,
    instance: String,
    runs: Mutex<Vec<Running>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("program", &self.program)
            .finish()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Hooks {
    /// Hooks calling `program` with `instance` (`tcp://host:port` or
    /// `unix://path`) as their second argument.
    pub fn new(program: Option<PathBuf>, instance: String) -> Hooks {
        Hooks {
            program,
            instance,
            runs: Mutex::new(Vec::new()),
        }
    }

    /// No hook configured.
    pub fn none() -> Hooks {
        Hooks::new(None, String::new())
    }

    /// Whether a hook program is configured.
    pub fn enabled(&self) -> bool {
        self.program.is_some()
    }

    fn start(&self, event: &str, args: &[OsString]) -> Option<Running> {
        let program = self.program.as_ref()?;
        let child = Command::new(program)
            .arg(event)
            .arg(&self.instance)
            .args(args)
            .spawn();
        match child {
            Ok(child) => Some(Running {
                run: HookRun {
                    event: event.to_owned(),
                    args: args.to_vec(),
                    pid: child.id(),
                    created: now(),
                    finished: 0,
                    status: -1,
                },
                child: Some(child),
            }),
            Err(e) => {
                tracing::warn!(event, "failed to start hook {}: {e}", program.display());
                None
            }
        }
    }

    /// Runs the hook for `event` and waits for it; returns its exit status,
    /// or `None` without a hook or when it could not run.
    pub fn run_blocking(&self, event: &str, args: &[OsString]) -> Option<i32> {
        let mut running = self.start(event, args)?;
        let status = running.child.take()?.wait().ok()?;
        running.run.finished = now();
        running.run.status = status.code().unwrap_or(-1);
        let code = running.run.status;
        self.record(running);
        Some(code)
    }

    /// Starts the hook for `event` without waiting.
    pub fn spawn(&self, event: &str, args: &[OsString]) {
        if let Some(running) = self.start(event, args) {
            self.record(running);
        }
    }

    fn record(&self, running: Running) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        reap(&mut runs);
        runs.push(running);
    }

    /// Hooks still running or finished less than five minutes ago.
    pub fn list(&self) -> Vec<HookRun> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        reap(&mut runs);
        runs.iter().map(|r| r.run.clone()).collect()
    }
}

/// Collects exit statuses of finished children and forgets old runs.
fn reap(runs: &mut Vec<Running>) {
    let now = now();
    for running in runs.iter_mut() {
        if let Some(child) = running.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                running.run.finished = now;
                running.run.status = status.code().unwrap_or(-1);
                running.child = None;
            }
        }
    }
    runs.retain(|r| r.child.is_some() || now.saturating_sub(r.run.finished) < KEEP_FINISHED_SECS);
}
