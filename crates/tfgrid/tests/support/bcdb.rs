//! A real `tfgrid bcdb serve` process for tests: a free port, a temporary data directory,
//! readiness with a deadline, restart on the same data, kill -9 or SIGTERM, the log printed
//! when a test fails, and the process killed in `Drop`. Also a throwaway `redis-server` to
//! compare answers with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bcdb::checkpoint::Checkpoint;
use bcdb::ledger::VerifiedRecord;
use bcdb::merkle::decode_proof;

use super::daemon::{answers_ping, Daemon, READY_TIMEOUT};
use super::{free_port, wait_for};

/// A running `tfgrid bcdb serve` (process methods through `Deref` to [`Daemon`]).
pub struct BcdbServer {
    daemon: Daemon,
    /// The data directory (`--data`).
    pub data: PathBuf,
    extra: Vec<String>,
    pub tmp: tempfile::TempDir,
}

impl BcdbServer {
    /// Starts a server on a fresh data directory with `extra` flags.
    pub fn start(extra: &[&str]) -> BcdbServer {
        BcdbServer::start_in(tempfile::tempdir().expect("temp dir"), Vec::new(), extra)
    }

    /// Starts a server that also listens on [`BcdbServer::socket`].
    pub fn start_with_socket(extra: &[&str]) -> BcdbServer {
        let tmp = tempfile::tempdir().expect("temp dir");
        let socket = tmp.path().join("bcdb.sock").display().to_string();
        BcdbServer::start_in(tmp, vec!["--socket".to_string(), socket], extra)
    }

    fn start_in(tmp: tempfile::TempDir, mut flags: Vec<String>, extra: &[&str]) -> BcdbServer {
        flags.extend(extra.iter().map(|s| s.to_string()));
        let mut server = BcdbServer {
            daemon: Daemon::new("tfgrid bcdb serve", tmp.path().join("bcdb.log")),
            data: tmp.path().join("data"),
            extra: flags,
            tmp,
        };
        server.spawn();
        server
    }

    /// The unix socket of a server started with [`BcdbServer::start_with_socket`].
    pub fn socket(&self) -> PathBuf {
        self.tmp.path().join("bcdb.sock")
    }

    /// (Re)starts the process on the same data and a new port.
    pub fn spawn(&mut self) {
        self.daemon.port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tfgrid"));
        command
            .args(["bcdb", "serve", "--listen", &self.addr().to_string()])
            .arg("--data")
            .arg(&self.data)
            .args(&self.extra);
        self.daemon.spawn(command, answers_ping);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection with the `redis` crate.
    pub fn connect(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("valid url")
            .get_connection()
            .expect("connect with the redis crate")
    }

    /// The instance public key, read from `DATA/instance-key.json` as a client would get it.
    pub fn instance_key(&self) -> identity::PublicKey {
        identity::KeyFile::load(&self.data.join("instance-key.json"))
            .expect("load the instance key")
            .key
            .public()
    }

    /// Runs `tfgrid bcdb verify DATA --key <instance key>` (the server must be stopped: the
    /// ledger directory is locked while it runs); returns success and the output.
    pub fn verify(&self) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
            .args(["bcdb", "verify", "--key", &self.instance_key().to_hex()])
            .arg(&self.data)
            .output()
            .expect("run tfgrid bcdb verify");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

derefs_to_daemon!(BcdbServer);

/// A throwaway `redis-server` (no persistence) to compare answers with.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    _tmp: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one, or `None` when redis-server is not installed.
    pub fn start() -> Option<RedisServer> {
        let tmp = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for(READY_TIMEOUT, "redis-server to answer PING", || {
            answers_ping(addr).then_some(())
        });
        Some(RedisServer {
            child,
            port,
            _tmp: tmp,
        })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// [`super::redis_cli_script`] with text in and out.
pub fn redis_cli_script(port: u16, extra: &[&str], script: &str) -> Option<String> {
    super::redis_cli_script(port, extra, script.as_bytes())
        .map(|out| String::from_utf8_lossy(&out).into_owned())
}

/// Entries covered by the latest checkpoint (`LEDGER.ROOT`).
pub fn ledger_size(con: &mut redis::Connection) -> u64 {
    let (size, _root): (u64, String) = redis::cmd("LEDGER.ROOT").query(con).unwrap();
    size
}

/// `LEDGER.VGET id [trusted]`, rebuilt into the record [`bcdb::ledger::verify_record`] checks.
pub fn vget(con: &mut redis::Connection, id: u64, trusted: Option<u64>) -> VerifiedRecord {
    let mut cmd = redis::cmd("LEDGER.VGET");
    cmd.arg(id);
    if let Some(size) = trusted {
        cmd.arg(size);
    }
    type Reply = (Vec<u8>, Vec<u8>, u64, Vec<u8>, Vec<u8>, String);
    let (entry, value, index, inclusion, consistency, checkpoint): Reply = cmd.query(con).unwrap();
    VerifiedRecord {
        entry,
        value,
        index,
        inclusion: decode_proof(&inclusion).unwrap(),
        consistency: decode_proof(&consistency).unwrap(),
        checkpoint: Checkpoint::parse(&checkpoint).unwrap(),
    }
}

/// A thread writing `key<i>` = `value<i>` in pipelines of 25 SETs until the connection
/// fails; `acked` counts the writes answered OK, and the thread returns that count.
pub fn pipelined_writer(url: String, acked: Arc<AtomicU64>) -> std::thread::JoinHandle<u64> {
    writer(url, "", 25, acked)
}

/// Writes `<prefix>key<i>` = `value<i>` for i = 0, 1, … in pipelines of `depth` (1: one
/// write per round trip) until the server goes away; stores the count acknowledged in
/// `acked` as it goes and returns it.
pub fn writer(
    url: String,
    prefix: &'static str,
    depth: u64,
    acked: Arc<AtomicU64>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        let mut n = 0u64;
        loop {
            let mut pipe = redis::pipe();
            for i in n..n + depth {
                pipe.cmd("SET")
                    .arg(format!("{prefix}key{i}"))
                    .arg(format!("value{i}"));
            }
            match pipe.query::<Vec<String>>(&mut con) {
                Ok(replies) => assert!(replies.iter().all(|r| r == "OK")),
                Err(_) => return n,
            }
            n += depth;
            acked.store(n, Ordering::SeqCst);
        }
    })
}
