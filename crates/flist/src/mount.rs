//! The FUSE filesystem that serves an flist lazily, its shared block cache, and the writable overlay on top.
//!
//! [`mount`] opens a `.fl` file and mounts it read-only at a directory:
//! metadata (names, modes, owners, times, symlink targets, xattrs, hardlink
//! identity) comes straight from the `.fl`, file bytes are fetched block by
//! block from a [`BlockStore`] the first time they are read.
//!
//! ```text
//! read(ino, offset) ─▶ block index = offset / 512 KiB ─▶ Fetcher
//!   memory (a few recent blocks) ─▶ disk cache (re-verified) ─▶ store
//!   ─▶ decode_block (id and key checked) ─▶ disk cache (tmp + rename)
//! ```
//!
//! The disk cache (`<cache_dir>/<hex[0..2]>/<hex[2..4]>/<hex id>`) holds
//! decrypted plaintext and may be shared by every mount on a node; a cached
//! block is hashed against its key before every use from disk, so a damaged
//! or planted cache file is dropped and fetched again, never served. A block
//! that no store can deliver intact makes the read fail with `EIO` and logs
//! one error line naming the file and the block.
//!
//! Background work: after a read reaches block `n` of a file, blocks
//! `n+1..=n+readahead_blocks` are fetched by a small pool of threads; the
//! `.fl` prefetch list is fetched at mount; with [`MountOptions::fill`] every
//! block is fetched into the cache, after which the mount no longer needs the
//! store ([`MountHandle::fill_progress`] says when).
//!
//! The mount does not check signatures: whether the `.fl` is trusted is the
//! caller's decision (see [`crate::signature`]). [`mount_overlay`] stacks the
//! kernel's overlayfs on a mount to make it writable.

mod cache;
mod fetch;
mod fill;
mod fs;
mod meta;
mod overlay;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use fuser::{Config, MountOption, SessionACL};

use crate::fl::{FlError, FlReader};
use crate::store::BlockStore;

pub use fill::FillProgress;
pub use overlay::{mount_overlay, OverlayHandle};

/// Threads answering FUSE requests; reads that miss the cache block one each.
const FUSE_THREADS: usize = 4;

/// How to mount an flist.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Directory of the shared block cache (created if missing).
    pub cache_dir: PathBuf,
    /// Fetch every block into the cache in the background.
    pub fill: bool,
    /// Blocks fetched ahead of a sequential reader.
    pub readahead_blocks: usize,
    /// Threads fetching blocks in the background (read-ahead, prefetch, fill).
    pub fetch_threads: usize,
    /// Let every user (not only the mounting one) use the mount; needs root
    /// or `user_allow_other` in `/etc/fuse.conf`. Permissions are then
    /// checked by the kernel against the modes and owners in the flist.
    pub allow_other: bool,
}

impl MountOptions {
    /// Defaults with the cache at `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> MountOptions {
        MountOptions {
            cache_dir: cache_dir.into(),
            fill: false,
            readahead_blocks: 2,
            fetch_threads: 4,
            allow_other: is_root(),
        }
    }
}

impl Default for MountOptions {
    /// Defaults with the cache at [`default_cache_dir`].
    fn default() -> MountOptions {
        MountOptions::new(default_cache_dir())
    }
}

/// The usual block cache: node-wide `/var/cache/tfgrid/flist` for root,
/// else `$XDG_CACHE_HOME/tfgrid/flist` (or `~/.cache/tfgrid/flist`).
pub fn default_cache_dir() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/cache/tfgrid/flist");
    }
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = match (var("XDG_CACHE_HOME"), var("HOME")) {
        (Some(cache), _) => PathBuf::from(cache),
        (None, Some(home)) => PathBuf::from(home).join(".cache"),
        // SAFETY: geteuid has no preconditions.
        (None, None) => std::env::temp_dir().join(format!("tfgrid-{}", unsafe { libc::geteuid() })),
    };
    base.join("tfgrid").join("flist")
}

/// Why a mount (or unmount) failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The `.fl` could not be read.
    #[error(transparent)]
    Fl(#[from] FlError),
    /// The `.fl` is readable but cannot be served (e.g. its root is not inode 1).
    #[error("cannot mount {}: {reason}", path.display())]
    Unsupported {
        /// The `.fl` file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A system call or helper failed.
    #[error("failed to {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("mount", "unmount", "create cache", …).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> MountError {
    let path = path.to_owned();
    move |source| MountError::Io { op, path, source }
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A mounted flist. [`unmount`](MountHandle::unmount) or dropping it
/// unmounts and stops the background fetches.
pub struct MountHandle {
    session: Option<fuser::BackgroundSession>,
    mountpoint: PathBuf,
    fetcher: Arc<fetch::Fetcher>,
    workers: Vec<JoinHandle<()>>,
    background: Option<JoinHandle<()>>,
    fill: Option<Arc<fill::FillState>>,
}

impl std::fmt::Debug for MountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountHandle")
            .field("mountpoint", &self.mountpoint)
            .field("mounted", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

/// Mounts the flist `fl` read-only at `mountpoint`, reading blocks from
/// `store`, and serves it from background threads until the handle is
/// dropped. Does not verify the flist's signature.
pub fn mount(
    fl: &Path,
    store: Box<dyn BlockStore>,
    mountpoint: &Path,
    opts: MountOptions,
) -> Result<MountHandle, MountError> {
    let reader = FlReader::open(fl)?;
    let root = reader.root()?;
    if root.ino != fuser::INodeNo::ROOT.0 || !root.is_dir() {
        return Err(MountError::Unsupported {
            path: fl.to_owned(),
            reason: format!(
                "the root must be directory inode 1, found inode {}",
                root.ino
            ),
        });
    }
    let counts = reader.counts()?;
    let links = meta::LinkGroups::build(&reader, counts.n_hardlinks > 0)?;
    let mountpoint = mountpoint
        .canonicalize()
        .map_err(io_err("find mountpoint", mountpoint))?;
    let cache = cache::BlockCache::open(&opts.cache_dir)
        .map_err(io_err("create cache directory", &opts.cache_dir))?;
    let codec = crate::extract::block_codec(&reader)?;
    let fetcher = Arc::new(fetch::Fetcher::new(store, codec, cache));
    let workers = fetcher.spawn_workers(opts.fetch_threads.max(1));
    let filesystem = fs::FlistFs::new(
        meta::ReaderPool::new(reader),
        links,
        counts,
        Arc::clone(&fetcher),
        opts.readahead_blocks,
    );
    let mut config = Config::default();
    config.mount_options = mount_options(fl);
    config.acl = if opts.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(FUSE_THREADS);
    let session = match fuser::spawn_mount(filesystem, &mountpoint, &config) {
        Ok(session) => session,
        Err(e) => {
            fetcher.stop();
            return Err(io_err("mount flist on", &mountpoint)(e));
        }
    };
    let fill = opts.fill.then(|| Arc::new(fill::FillState::default()));
    let background = fill::spawn(
        fl.to_owned(),
        Arc::clone(&fetcher),
        fill.clone(),
        opts.fetch_threads.max(1),
    );
    Ok(MountHandle {
        session: Some(session),
        mountpoint,
        fetcher,
        workers,
        background,
        fill,
    })
}

/// Read-only, kernel-checked permissions; set-id bits and device nodes
/// honoured when root mounts (a container rootfs needs both).
fn mount_options(fl: &Path) -> Vec<MountOption> {
    let name: String = fl
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut options = vec![
        MountOption::RO,
        MountOption::FSName(format!("flist:{name}")),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
    ];
    if is_root() {
        options.extend([MountOption::Dev, MountOption::Suid]);
    }
    options
}

impl MountHandle {
    /// Where the flist is mounted (canonical path).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Progress of the background fill; `None` when the mount was made
    /// without [`MountOptions::fill`].
    pub fn fill_progress(&self) -> Option<FillProgress> {
        self.fill.as_ref().map(|state| state.progress())
    }

    /// Unmounts and stops background work. If the mount is busy (a file
    /// open, a process inside), it is detached lazily instead and the
    /// error says so; the kernel finishes the unmount when it is unused.
    pub fn unmount(mut self) -> Result<(), MountError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), MountError> {
        self.fetcher.stop();
        let mut result = Ok(());
        if let Some(session) = self.session.take() {
            match overlay::unmount_when_released(&self.mountpoint) {
                Ok(()) => {
                    if session.join().is_err() {
                        tracing::warn!(mountpoint = %self.mountpoint.display(), "FUSE session ended with an error");
                    }
                }
                // Someone else unmounted it already.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => drop(session),
                Err(e) => {
                    result = Err(io_err("unmount", &self.mountpoint)(e));
                    if let Err(e) = overlay::unmount(&self.mountpoint, true) {
                        tracing::error!(mountpoint = %self.mountpoint.display(), "failed to detach flist mount: {e}");
                    }
                    // The session thread ends when the detached mount is
                    // released; do not wait for that here.
                    drop(session);
                }
            }
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        if let Some(background) = self.background.take() {
            let _ = background.join();
        }
        result
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!("{e}");
        }
    }
}
