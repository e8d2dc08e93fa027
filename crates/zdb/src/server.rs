//! The 0-db RESP server: listeners, per-connection tasks, and the state they
//! share.
//!
//! Every connection runs in its own task. A task reads a batch of pipelined
//! requests, takes the one lock on [`State`], executes the batch, flushes
//! the namespaces it wrote (and fsyncs with `--sync`), releases the lock and
//! sends all replies with one write. Commands are therefore atomic and
//! ordered exactly as in the single-threaded C server, while socket I/O and
//! parsing of different clients run in parallel.

/// Unwraps a `Result<T, Flow>` in a command handler: on `Err`, the reply
/// was already written and the handler returns that flow.
macro_rules! handled {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(flow) => return flow,
        }
    };
}

mod auth;
mod commands;
mod connection;
mod dispatch;
mod errors;
mod info;
mod keys;
mod maintenance;
mod namespaces;
mod scan;
mod wait;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{broadcast, Semaphore};

use crate::db::{Db, DbConfig, DbOpenError};
use crate::hooks::Hooks;
use wait::Watchers;

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Storage settings.
    pub db: DbConfig,
    /// TCP address to listen on, if any.
    pub tcp: Option<std::net::SocketAddr>,
    /// Unix socket to listen on, if any.
    pub socket: Option<PathBuf>,
    /// Admin password; without it every client is admin.
    pub admin: Option<Vec<u8>>,
    /// `default` requires the admin password to write (`--protect`).
    pub protect: bool,
    /// fsync the namespaces written by a batch before replying (`--sync`).
    pub sync: bool,
    /// fsync on a write when the last fsync is older than this (`--synctime`).
    pub sync_time: Option<Duration>,
    /// Rotate namespaces written since the last rotation this often.
    pub rotate: Option<Duration>,
    /// Most clients served at once.
    pub max_clients: usize,
}

impl ServerConfig {
    /// A server for embedding and tests: data and index under `dir`, TCP on
    /// a free loopback port, no admin password, 256 MiB data files, no
    /// fsync; change fields as needed.
    pub fn local(dir: &std::path::Path) -> ServerConfig {
        ServerConfig {
            db: DbConfig {
                data_root: dir.join("data"),
                index_root: dir.join("index"),
                mode: None,
                datasize: 256 << 20,
                default_password: None,
                default_maxsize: 0,
                sync_on_rotate: false,
                hooks: Arc::new(Hooks::none()),
            },
            tcp: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            socket: None,
            admin: None,
            protect: false,
            sync: false,
            sync_time: None,
            rotate: None,
            max_clients: 1024,
        }
    }
}

/// Counters reported by `INFO`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) clients_lifetime: AtomicU64,
    pub(crate) commands_executed: AtomicU64,
    pub(crate) commands_failed: AtomicU64,
    pub(crate) commands_unauthorized: AtomicU64,
    pub(crate) network_rx: AtomicU64,
    pub(crate) network_tx: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Everything commands change, behind one lock.
pub(crate) struct State {
    pub(crate) db: Db,
    pub(crate) watchers: Watchers,
    pub(crate) last_sync: std::time::Instant,
}

/// State shared by all connection tasks.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) state: Mutex<State>,
    pub(crate) counters: Counters,
    pub(crate) hooks: Arc<Hooks>,
    pub(crate) instance_id: u32,
    pub(crate) boot_time: u64,
    next_conn_id: AtomicU64,
}

impl Shared {
    /// Locks the state; a panic in another task does not poison the server
    /// (every mutation is complete before a command returns).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database failed to open.
    #[error(transparent)]
    Db(#[from] DbOpenError),
    /// A listener could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// Address or socket path.
        addr: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The `ready` hook exited with an error.
    #[error("the ready hook failed with status {0}")]
    ReadyHook(i32),
    /// `--protect` without `--admin`.
    #[error("--protect needs an admin password")]
    ProtectWithoutAdmin,
}

/// A bound server, ready to run.
pub struct Server {
    shared: Arc<Shared>,
    tcp: Option<TcpListener>,
    unix: Option<UnixListener>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Server {
    /// Opens the database and binds the listeners. `hook_program` is the
    /// `--hook` executable.
    pub async fn bind(
        mut config: ServerConfig,
        hook_program: Option<PathBuf>,
    ) -> Result<Server, StartError> {
        if config.protect && config.admin.is_none() {
            return Err(StartError::ProtectWithoutAdmin);
        }
        let (tcp, unix) = resp::listen::bind(config.tcp, config.socket.as_deref())
            .await
            .map_err(|e| StartError::Bind {
                addr: e.addr,
                source: e.source,
            })?;
        let instance = match (&tcp, &config.socket) {
            (Some(l), _) => format!(
                "tcp://{}",
                l.local_addr().map_err(|source| StartError::Bind {
                    addr: "tcp".into(),
                    source,
                })?
            ),
            (None, Some(path)) => format!("unix://{}", path.display()),
            (None, None) => String::new(),
        };
        let hooks = Arc::new(Hooks::new(hook_program, instance));
        config.db.hooks = hooks.clone();
        if config.protect {
            config.db.default_password = config.admin.clone();
        }
        hooks.run_blocking(
            "namespaces-init",
            &[
                config.db.index_root.clone().into_os_string(),
                config.db.data_root.clone().into_os_string(),
            ],
        );
        let db_config = config.db.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(db_config))
            .await
            .expect("database open task panicked")?;
        if let Some(status) = hooks.run_blocking("ready", &[]) {
            if status != 0 {
                return Err(StartError::ReadyHook(status));
            }
        }
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State {
                db,
                watchers: Watchers::default(),
                last_sync: std::time::Instant::now(),
            }),
            counters: Counters::default(),
            hooks,
            instance_id: rand::random(),
            boot_time: unix_now(),
            next_conn_id: AtomicU64::new(1),
        });
        Ok(Server { shared, tcp, unix })
    }

    /// The bound TCP address (useful with port 0).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then closes every namespace cleanly.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let limit = Arc::new(Semaphore::new(self.shared.config.max_clients));
        let (stop_tx, _) = broadcast::channel::<()>(1);
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(listener) = self.tcp {
            let (shared, limit, stop) = (self.shared.clone(), limit.clone(), stop_tx.subscribe());
            tasks.spawn(accept_tcp(listener, shared, limit, stop));
        }
        if let Some(listener) = self.unix {
            let (shared, limit, stop) = (self.shared.clone(), limit.clone(), stop_tx.subscribe());
            tasks.spawn(accept_unix(listener, shared, limit, stop));
        }
        if let Some(every) = self.shared.config.rotate {
            tasks.spawn(rotate_timer(
                self.shared.clone(),
                every,
                stop_tx.subscribe(),
            ));
        }
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(());
        while tasks.join_next().await.is_some() {}
        let shared = self.shared;
        tokio::task::spawn_blocking(move || close(&shared))
            .await
            .expect("close task panicked");
    }
}

/// Runs the `close` hook, syncs every namespace, and runs the
/// `namespace-closing` hooks.
fn close(shared: &Shared) {
    shared.hooks.run_blocking("close", &[]);
    let mut state = shared.lock();
    for ns in state.db.namespaces_mut() {
        if let Err(e) = ns.sync() {
            tracing::error!("failed to sync namespace at shutdown: {e}");
        }
        if shared.hooks.enabled() {
            let (index, data) = ns.active_paths();
            let dirty = ns
                .dirty_index_ids()
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            let name = std::ffi::OsStr::new(std::str::from_utf8(ns.name()).unwrap_or("?"));
            shared.hooks.run_blocking(
                "namespace-closing",
                &[name.into(), index.into(), data.into(), dirty.into()],
            );
        }
    }
}

async fn rotate_timer(shared: Arc<Shared>, every: Duration, mut stop: broadcast::Receiver<()>) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.recv() => return,
        }
        let shared = shared.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut state = shared.lock();
            for ns in state.db.namespaces_mut() {
                if ns.written_since_rotation() {
                    if let Err(e) = ns.rotate() {
                        tracing::error!("failed to rotate namespace files: {e}");
                    }
                }
            }
        })
        .await;
    }
}

macro_rules! accept_loop {
    ($name:ident, $listener:ty, $nodelay:expr) => {
        async fn $name(
            listener: $listener,
            shared: Arc<Shared>,
            limit: Arc<Semaphore>,
            mut stop: broadcast::Receiver<()>,
        ) {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let permit = tokio::select! {
                    p = limit.clone().acquire_owned() => p.expect("semaphore never closed"),
                    _ = stop.recv() => break,
                };
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.recv() => break,
                };
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("failed to accept a client: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                $nodelay(&stream);
                while conns.try_join_next().is_some() {}
                let shared = shared.clone();
                let conn_id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
                Counters::add(&shared.counters.clients_lifetime, 1);
                let stop = stop.resubscribe();
                conns.spawn(async move {
                    connection::serve(stream, shared, conn_id, stop).await;
                    drop(permit);
                });
            }
            conns.shutdown().await;
        }
    };
}

accept_loop!(accept_tcp, TcpListener, |s: &tokio::net::TcpStream| {
    let _ = s.set_nodelay(true);
});
accept_loop!(accept_unix, UnixListener, |_s: &tokio::net::UnixStream| {});
