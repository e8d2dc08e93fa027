//! The BCDB RESP server: plain Redis clients, the old BCDB hash commands, typed objects and
//! verified reads over one [`Bcdb`], with a reply sent only once what it acknowledges is durable.
//!
//! Every connection runs in its own task. A task reads a batch of pipelined requests
//! ([`resp::Connection::read_batch`]), then, on a blocking thread, takes the one lock on the
//! database and executes the batch. Before its replies are written (in one write), every
//! entry recorded so far must be committed (fsync when [`ServerConfig::sync`]). One commit
//! serves every connection that finished executing while the previous commit ran
//! ([`Shared::commit_through`]), so N pipelined writes, or N clients writing at once, cost one
//! fsync, not N (group commit). A reply therefore means "recorded and durable", and no reply
//! shows a write that is not. Checkpoints are signed over durable entries only: by a commit
//! when the latest is a second old, and at once by `LEDGER.*` and `INFO` when it lags, so a
//! client asking for a proof always gets one covering every write acknowledged before.
//!
//! The instance key signs checkpoints. It lives in `DATA/instance-key.json` (created on first
//! start, mode 0600) and names the ledger's origin, `bcdb/<first 16 hex digits of the key>`.
//!
//! Modules: `connection` (batch loop, lingering close after a protocol error), `dispatch`
//! (command table, arity, the context handlers get), `basic` (PING, SELECT, INFO, CLIENT, …),
//! `keys` (the schema-less GET/SET/DEL/SCAN subset), `hash` (the old BCDB `HSET`/`HGET`/…
//! commands on `<namespace>:data:<url>` keys), `typed` (SCHEMA.* and OBJ.*, and JSON ⇄ objects),
//! `ledger` (LEDGER.*), `glob` (Redis `MATCH` patterns).

mod access;
mod basic;
mod connection;
mod dispatch;
mod glob;
mod hash;
mod keys;
mod ledger;
mod query;
mod typed;

pub use access::auth_payload;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use identity::{IdentityError, KeyFile, KeyPair, PublicKey};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};

use crate::db::{Bcdb, DbError};

/// Name of the instance key file inside the data directory.
pub const KEY_FILE: &str = "instance-key.json";
/// Longest a commit leaves its entries without a signed checkpoint while writes go on;
/// `LEDGER.*` and `INFO` sign one at once when the latest lags.
const CHECKPOINT_EVERY_MS: u64 = 1000;
/// How long connections may take to finish their batch at shutdown.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Data directory: the instance key and the ledger (`data/`, `index/`).
    pub data: PathBuf,
    /// TCP address to listen on, if any.
    pub tcp: Option<SocketAddr>,
    /// Unix socket to listen on, if any.
    pub socket: Option<PathBuf>,
    /// fsync every commit before replying; off, a reply means "handed to the kernel".
    pub sync: bool,
    /// Most clients served at once; more are told so and closed, as Redis does.
    pub max_clients: usize,
    /// Sessions start anonymous and must prove a key (`AUTH.CHALLENGE`, `AUTH`) to get
    /// rights; off, every session is the instance owner until it proves another key.
    pub require_auth: bool,
}

impl ServerConfig {
    /// A server for embedding and tests: data in `dir`, TCP on a free loopback port, fsync on.
    pub fn local(dir: &Path) -> ServerConfig {
        ServerConfig {
            data: dir.to_path_buf(),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            socket: None,
            sync: true,
            max_clients: 1000,
            require_auth: false,
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The instance key could not be read or created.
    #[error("instance key {path}: {source}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: IdentityError,
    },
    /// The ledger failed to open.
    #[error("open the ledger in {path}: {source}")]
    Db {
        /// The data directory.
        path: PathBuf,
        /// Why.
        source: DbError,
    },
    /// A listener could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// Address or socket path.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    /// The database; `None` once closed at shutdown.
    db: Mutex<Option<Bcdb>>,
    /// Set when a write or commit failed: memory may then hold entries the disk does not, so
    /// nothing more is served until a restart replays the ledger.
    pub(crate) failed: AtomicBool,
    pub(crate) instance: PublicKey,
    pub(crate) origin: String,
    pub(crate) clients: AtomicUsize,
    next_conn_id: AtomicU64,
    /// Ledger entries covered by the latest commit.
    durable: AtomicU64,
    /// Taken by the one connection committing for everyone (see [`Shared::commit_through`]).
    committing: Mutex<()>,
}

impl Shared {
    /// Returns once the first `target` ledger entries are committed (fsynced with
    /// [`ServerConfig::sync`]). Connections that finish executing while a commit runs wait
    /// for their turn here; the first of them commits what all of them recorded, and the
    /// others find their entries already covered: one fsync for many connections' batches
    /// (group commit).
    pub(crate) fn commit_through(&self, target: u64) -> Result<(), String> {
        if self.durable.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let _turn = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        if self.durable.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let gone = || "the server is shutting down".to_string();
        let (size, handle) = {
            let mut guard = self.lock();
            let db = guard.as_mut().ok_or_else(gone)?;
            if self.failed.load(Ordering::SeqCst) {
                return Err("the ledger failed to write earlier".into());
            }
            db.commit_later().map_err(|e| e.to_string())?
        };
        // the fsync runs without the database lock: other connections go on executing,
        // and the next commit covers them
        if self.config.sync {
            handle.sync().map_err(|e| format!("sync the ledger: {e}"))?;
        }
        let mut guard = self.lock();
        let db = guard.as_mut().ok_or_else(gone)?;
        // an ed25519 signature and a stored checkpoint per commit were a sixth of a small
        // write's time; one a second is plenty while writes stream in
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let due = db
            .checkpoint()
            .is_none_or(|cp| now.saturating_sub(cp.time_ms) >= CHECKPOINT_EVERY_MS);
        if due {
            db.seal(size).map_err(|e| e.to_string())?;
        }
        self.mark_durable(size);
        Ok(())
    }

    /// How many entries are known durable.
    pub(crate) fn durable(&self) -> u64 {
        self.durable.load(Ordering::SeqCst)
    }

    /// Records that a commit covered the first `size` entries.
    pub(crate) fn mark_durable(&self, size: u64) {
        self.durable.fetch_max(size, Ordering::SeqCst);
    }

    /// Locks the database. A panic while it was held may have left memory and ledger apart,
    /// so it marks the server failed rather than poisoning every later call.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<Bcdb>> {
        self.db.lock().unwrap_or_else(|poisoned| {
            self.failed.store(true, Ordering::SeqCst);
            poisoned.into_inner()
        })
    }
}

/// Reads `DATA/instance-key.json`, creating it (0600) with a fresh key on first start.
pub fn load_or_create_key(data: &Path) -> Result<KeyPair, StartError> {
    let path = data.join(KEY_FILE);
    let err = |source| StartError::Key {
        path: path.clone(),
        source,
    };
    if !path.exists() {
        let file = KeyFile {
            key: KeyPair::generate(),
            threebot_id: 0,
        };
        match file.create(&path) {
            Ok(()) => tracing::info!("created instance key {}", path.display()),
            // another process won the race; read what it wrote
            Err(IdentityError::Exists(_)) => {}
            Err(e) => return Err(err(e)),
        }
    }
    KeyFile::load(&path).map(|f| f.key).map_err(err)
}

/// The ledger origin of an instance: `bcdb/<first 16 hex digits of its key>`.
pub fn origin_of(key: &PublicKey) -> String {
    format!("bcdb/{}", &key.to_hex()[..16])
}

/// A bound server, ready to run.
pub struct Server {
    shared: Arc<Shared>,
    tcp: Option<TcpListener>,
    unix: Option<UnixListener>,
}

impl Server {
    /// Loads (or creates) the instance key, opens the ledger, replays it, and binds the listeners.
    pub async fn bind(config: ServerConfig) -> Result<Server, StartError> {
        let data = config.data.clone();
        let opened = tokio::task::spawn_blocking(move || open_db(&data))
            .await
            .expect("ledger open task panicked")?;
        let (db, instance, origin) = opened;
        let durable = AtomicU64::new(db.committed());
        let (tcp, unix) = resp::listen::bind(config.tcp, config.socket.as_deref())
            .await
            .map_err(|e| StartError::Bind {
                addr: e.addr,
                source: e.source,
            })?;
        let shared = Arc::new(Shared {
            config,
            db: Mutex::new(Some(db)),
            failed: AtomicBool::new(false),
            instance,
            origin,
            clients: AtomicUsize::new(0),
            next_conn_id: AtomicU64::new(1),
            durable,
            committing: Mutex::new(()),
        });
        Ok(Server { shared, tcp, unix })
    }

    /// The bound TCP address (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The instance public key checkpoints are signed with.
    pub fn instance_key(&self) -> PublicKey {
        self.shared.instance
    }

    /// The ledger origin named in checkpoints.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// Serves until `shutdown` resolves, lets connections finish their batch, then closes the
    /// ledger (everything synced).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let limit = Arc::new(Semaphore::new(self.shared.config.max_clients.max(1)));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(listener) = self.tcp {
            let (shared, limit, stop) = (self.shared.clone(), limit.clone(), stop_rx.clone());
            tasks.spawn(accept_tcp(listener, shared, limit, stop));
        }
        if let Some(listener) = self.unix {
            let (shared, limit, stop) = (self.shared.clone(), limit.clone(), stop_rx.clone());
            tasks.spawn(accept_unix(listener, shared, limit, stop));
        }
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
        let shared = self.shared;
        tokio::task::spawn_blocking(move || close(&shared))
            .await
            .expect("close task panicked");
    }
}

fn open_db(data: &Path) -> Result<(Bcdb, PublicKey, String), StartError> {
    let key = load_or_create_key(data)?;
    let instance = key.public();
    let origin = origin_of(&instance);
    let db_err = |source| StartError::Db {
        path: data.to_path_buf(),
        source,
    };
    let mut db = Bcdb::open(data, key, &origin, crate::db::object_validator()).map_err(db_err)?;
    // Cover whatever the log holds (a crash may have left records after the last checkpoint),
    // so every readable entry can be proven from the start.
    db.commit(true).map_err(db_err)?;
    Ok((db, instance, origin))
}

/// Closes the ledger: dropping it syncs every file.
fn close(shared: &Shared) {
    let db = shared.lock().take();
    drop(db);
    if let Some(path) = &shared.config.socket {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("ledger closed");
}

macro_rules! accept_loop {
    ($name:ident, $listener:ty, $nodelay:expr) => {
        async fn $name(
            listener: $listener,
            shared: Arc<Shared>,
            limit: Arc<Semaphore>,
            mut stop: watch::Receiver<bool>,
        ) {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.changed() => break,
                };
                let mut stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("failed to accept a client: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                while conns.try_join_next().is_some() {}
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    // Redis's answer; the client learns why instead of hanging.
                    let _ = stream
                        .write_all(b"-ERR max number of clients reached\r\n")
                        .await;
                    continue;
                };
                $nodelay(&stream);
                let shared = shared.clone();
                let conn_id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
                let stop = stop.clone();
                conns.spawn(async move {
                    shared.clients.fetch_add(1, Ordering::Relaxed);
                    connection::serve(stream, &shared, conn_id, stop).await;
                    shared.clients.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
            // Connections notice the stop between batches; one whose client does not read
            // its replies is cut off after a while.
            let drained = tokio::time::timeout(DRAIN_TIME, async {
                while conns.join_next().await.is_some() {}
            });
            if drained.await.is_err() {
                conns.shutdown().await;
            }
        }
    };
}

accept_loop!(accept_tcp, TcpListener, |s: &tokio::net::TcpStream| {
    let _ = s.set_nodelay(true);
});
accept_loop!(accept_unix, UnixListener, |_s: &tokio::net::UnixStream| {});

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use resp::{Client, Reply};

    use super::*;

    /// Runs a server on `dir` for `f`, then shuts it down and waits for the ledger to close.
    async fn with_server<F, Fut>(dir: &Path, f: F) -> PublicKey
    where
        F: FnOnce(SocketAddr) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let server = Server::bind(ServerConfig::local(dir)).await.unwrap();
        let (addr, key) = (server.local_addr().unwrap(), server.instance_key());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        f(addr).await;
        stop.send(()).unwrap();
        running.await.unwrap();
        key
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_batch_then_restart_on_the_same_key_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let first = with_server(dir.path(), |addr| async move {
            let mut c = Client::connect_tcp(addr).await.unwrap();
            for i in 0..100u32 {
                c.queue(&[b"SET", format!("k{i}").as_bytes(), &i.to_le_bytes()]);
            }
            c.queue(&[b"LEDGER.ROOT"]);
            let replies = c.flush_pipeline().await.unwrap();
            assert!(replies[..100]
                .iter()
                .all(|r| *r == Reply::Status("OK".into())));
            let root = replies[100].as_array().unwrap();
            assert_eq!(root[0], Reply::Integer(100));
        })
        .await;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let second = with_server(dir.path(), |addr| async move {
            let mut c = Client::connect_tcp(addr).await.unwrap();
            let got = c.call(&[b"GET", b"k42"]).await.unwrap();
            assert_eq!(got.as_bytes(), Some(&42u32.to_le_bytes()[..]));
            let cp = c.call(&[b"LEDGER.CHECKPOINT"]).await.unwrap();
            let cp = crate::checkpoint::Checkpoint::parse(
                std::str::from_utf8(cp.as_bytes().unwrap()).unwrap(),
            )
            .unwrap();
            assert_eq!(cp.size, 100);
        })
        .await;
        assert_eq!(first, second);
    }
}
