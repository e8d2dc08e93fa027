//! The hub's configuration and the state every request handler shares: data directory, database, block store, key, jobs, limits.

use std::collections::HashSet;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flist::store::{open_store, BlockStore};
use identity::http_signature::{unix_now, ReplayGuard, DEFAULT_WINDOW_SECS};
use identity::{KeyFile, KeyPair};

use crate::db::Db;
use crate::jobs::Jobs;
use crate::objects::Objects;
use crate::ratelimit::RateLimiter;

/// Bounds on what clients may make the hub do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest upload (archive or `.fl`), bytes. Default 8 GiB.
    pub max_upload: u64,
    /// Most uncompressed bytes an archive may expand to. Default 64 GiB.
    pub max_expanded: u64,
    /// Largest block accepted, bytes. Default 1 MiB (a 512 KiB block encrypts to a little more).
    pub max_block: usize,
    /// Most ids in one "which are missing" question. Default 4096.
    pub max_batch: usize,
    /// Block API requests per second per client address (burst twice that); 0 = unlimited. Default 2000.
    pub block_rate: u32,
    /// Conversions run at once; more wait in the queue. Default 2.
    pub conversions: usize,
    /// Conversions waiting at most; beyond that uploads are refused with 503. Default 64.
    pub queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload: 8 << 30,
            max_expanded: 64 << 30,
            max_block: 1 << 20,
            max_batch: 4096,
            block_rate: 2000,
            conversions: 2,
            queue: 64,
        }
    }
}

/// How to start a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Data directory, owned by this hub alone.
    pub data_dir: PathBuf,
    /// Block store URL; default `dir://<data>/blocks`.
    pub store: Option<String>,
    /// The URL nodes reach this hub at, recorded as the block route of the
    /// flists it builds (e.g. `https://hub.example`). Default: the listen address.
    pub public_url: Option<String>,
    /// Limits.
    pub limits: Limits,
}

impl HubConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> HubConfig {
        HubConfig {
            data_dir: data_dir.into(),
            store: None,
            public_url: None,
            limits: Limits::default(),
        }
    }
}

/// Why a hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another process owns the data directory.
    #[error("{0} is in use by another hub (lock held on {0}/hub.lock)")]
    Locked(PathBuf),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation and its target.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The hub key could not be read or made.
    #[error("hub key: {0}")]
    Key(#[from] identity::IdentityError),
    /// The database could not be opened.
    #[error("database: {0}")]
    Db(String),
    /// The block store URL is wrong.
    #[error("block store: {0}")]
    Store(#[from] flist::store::StoreError),
}

/// Shared by all handlers.
pub struct HubState {
    pub(crate) db: Db,
    pub(crate) store: Arc<dyn BlockStore>,
    pub(crate) key: KeyPair,
    pub(crate) objects: Objects,
    pub(crate) spool: PathBuf,
    pub(crate) jobs: Jobs,
    pub(crate) replay: ReplayGuard,
    pub(crate) limiter: RateLimiter,
    pub(crate) conversions: tokio::sync::Semaphore,
    pub(crate) queued: std::sync::atomic::AtomicUsize,
    pub(crate) public_url: String,
    pub(crate) limits: Limits,
    _lock: fs::File,
}

impl HubState {
    /// Opens the data directory (locking it), the key, the database and the store.
    pub fn open(config: &HubConfig, listen_url: &str) -> Result<HubState, StartError> {
        let data = &config.data_dir;
        let io = |what: String| move |source| StartError::Io { what, source };
        fs::create_dir_all(data).map_err(io(format!("create {}", data.display())))?;
        let lock = lock_dir(data)?;
        let key_path = data.join("hub-key.json");
        let key = if key_path.exists() {
            KeyFile::load(&key_path)?.key
        } else {
            let key = KeyPair::generate();
            KeyFile {
                key: key.clone(),
                threebot_id: 0,
            }
            .create(&key_path)?;
            key
        };
        let db = Db::open(&data.join("hub.db")).map_err(|e| StartError::Db(e.to_string()))?;
        let store_url = match &config.store {
            Some(url) => url.clone(),
            None => format!("dir://{}", data.join("blocks").display()),
        };
        let store: Arc<dyn BlockStore> = Arc::from(open_store(&store_url)?);
        let objects = Objects::open(&data.join("objects"))
            .map_err(io(format!("create {}/objects", data.display())))?;
        let spool = data.join("spool");
        // Uploads cut off by a restart are not resumable: drop them.
        let _ = fs::remove_dir_all(&spool);
        fs::create_dir_all(&spool).map_err(io(format!("create {}", spool.display())))?;
        let keep: HashSet<String> = db
            .digests()
            .map_err(|e| StartError::Db(e.to_string()))?
            .into_iter()
            .collect();
        let swept = objects
            .sweep(&keep)
            .map_err(io(format!("sweep {}/objects", data.display())))?;
        if swept > 0 {
            tracing::info!(
                "removed {swept} unreferenced object files left by an interrupted change"
            );
        }
        let limits = config.limits.clone();
        Ok(HubState {
            db,
            store,
            key,
            objects,
            spool,
            jobs: Jobs::default(),
            replay: ReplayGuard::new(unix_now(), DEFAULT_WINDOW_SECS, 1 << 18),
            limiter: RateLimiter::new(limits.block_rate),
            conversions: tokio::sync::Semaphore::new(limits.conversions.max(1)),
            queued: Default::default(),
            public_url: config
                .public_url
                .clone()
                .unwrap_or_else(|| listen_url.to_string())
                .trim_end_matches('/')
                .to_string(),
            limits,
            _lock: lock,
        })
    }

    /// The hub's signing key.
    pub fn key(&self) -> &KeyPair {
        &self.key
    }
}

/// Takes an exclusive lock on `<dir>/hub.lock`, held while the file stays open.
fn lock_dir(dir: &Path) -> Result<fs::File, StartError> {
    let path = dir.join("hub.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StartError::Io {
            what: format!("open {}", path.display()),
            source,
        })?;
    // SAFETY: flock on an fd we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(StartError::Locked(dir.to_owned()));
    }
    Ok(file)
}
