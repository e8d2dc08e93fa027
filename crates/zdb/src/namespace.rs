//! One namespace: its descriptor, its files, the in-memory key map (user
//! mode) or id table (seq mode), and the operations 0-db commands need.
//!
//! Writes are queued in the files' buffers; [`Namespace::flush`] must run
//! before a write is acknowledged (the server does it once per batch).

mod compact;
mod data_map;
mod index_scan;
mod keys;
mod load;
mod read;
mod scan;
pub(crate) mod segments;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use compact::{CompactError, CompactStats};
pub use read::{
    HistoryError, HistoryItem, Integrity, RawEntry, RawEntryError, ReadError, ValueLoc,
};
pub use scan::{Cursor, ScanError, ScanItem};
pub use segments::DataReadError;
pub use write::{DelError, SetError, SetOutcome};

use crate::format::{Descriptor, Mode};
use crate::hooks::Hooks;
use keys::KeyIndex;
use segments::Segments;

/// Runtime write protection of a namespace (not persisted, as in 0-db).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockState {
    /// Reads and writes allowed.
    #[default]
    Unlocked,
    /// Reads allowed, writes refused.
    Locked,
    /// Reads and writes refused.
    Frozen,
}

/// Settings a namespace takes from its server.
#[derive(Debug, Clone)]
pub struct NamespaceConfig {
    /// Size of a data file after which the next write opens a new pair.
    pub datasize: u64,
    /// fsync the active files before rotating to a new pair.
    pub sync_on_rotate: bool,
    /// The hook program, shared by all namespaces.
    pub hooks: Arc<Hooks>,
}

/// Why a namespace could not be opened or created.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A header or descriptor is not in 0-db v2 format.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: crate::format::FormatError,
    },
    /// The server forces a mode the namespace was not created in.
    #[error("namespace {name} was created in {found} mode but the server runs in {forced} mode")]
    ModeMismatch {
        /// Namespace name.
        name: String,
        /// Mode in the index header.
        found: Mode,
        /// Mode forced by `--mode`.
        forced: Mode,
    },
    /// A pre-v2 database layout.
    #[error("{0}: unsupported database layout (0-db v1 files)")]
    Legacy(PathBuf),
}

impl OpenError {
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OpenError {
        let path = path.to_owned();
        move |source| OpenError::Io { op, path, source }
    }
}

/// Counters reported by `NSINFO`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NamespaceStats {
    /// Live keys.
    pub entries: u64,
    /// Sum of live payload lengths.
    pub used: u64,
    /// Sum over live keys of 64 + key length (the C server's RAM estimate).
    pub index_size: u64,
    /// Index entries created: replayed at load plus new keys (user mode);
    /// next id (seq mode).
    pub next_internal_id: u64,
    /// Index read/write errors.
    pub index_io_errors: u64,
    /// Unix time of the last index error.
    pub index_io_error_last: u64,
    /// Data read/write errors.
    pub data_io_errors: u64,
    /// Unix time of the last data error.
    pub data_io_error_last: u64,
}

/// An open namespace.
#[derive(Debug)]
pub struct Namespace {
    desc: Descriptor,
    mode: Mode,
    lock: LockState,
    config: NamespaceConfig,
    segments: Segments,
    keys: KeyIndex,
    stats: NamespaceStats,
    /// Offset of the last appended index entry (namespace-wide chain).
    last_index_offset: u32,
    /// Offset of the last appended data entry.
    last_data_offset: u32,
    /// Anything written since the last rotation (for `--rotate`).
    written_since_rotation: bool,
}

fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

impl Namespace {
    /// Name of the namespace.
    pub fn name(&self) -> &[u8] {
        &self.desc.name
    }

    /// Persistent properties.
    pub fn descriptor(&self) -> &Descriptor {
        &self.desc
    }

    /// Key mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Lock state.
    pub fn lock_state(&self) -> LockState {
        self.lock
    }

    /// Sets the runtime lock state.
    pub fn set_lock_state(&mut self, lock: LockState) {
        self.lock = lock;
    }

    /// Counters for `NSINFO` and `DBSIZE`.
    pub fn stats(&self) -> NamespaceStats {
        self.stats
    }

    /// Index directory of this namespace.
    pub fn index_dir(&self) -> &Path {
        &self.segments.index_dir
    }

    /// Data directory of this namespace.
    pub fn data_dir(&self) -> &Path {
        &self.segments.data_dir
    }

    /// Id of the active index/data pair.
    pub fn active_file_id(&self) -> u32 {
        self.segments.active_id
    }

    /// Current length of the active data file.
    pub fn active_data_len(&self) -> u64 {
        self.segments.data.len()
    }

    /// Paths of the active index and data files.
    pub fn active_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.segments.index.path().to_owned(),
            self.segments.data.path().to_owned(),
        )
    }

    /// Index files changed in place since the last reset.
    pub fn dirty_index_ids(&self) -> Vec<u32> {
        self.segments.dirty.iter().copied().collect()
    }

    /// Clears the dirty index list.
    pub fn reset_dirty(&mut self) {
        self.segments.dirty.clear();
    }

    /// Whether anything was written since the last rotation.
    pub fn written_since_rotation(&self) -> bool {
        self.written_since_rotation
    }

    /// Whether the mode may still change: nothing was ever written and the
    /// files never rotated.
    pub fn is_fresh(&self) -> bool {
        self.stats.next_internal_id == 0 && self.segments.active_id == 0
    }

    /// Changes the key mode of a fresh namespace (rewrites `i0`'s header).
    pub fn set_mode(&mut self, mode: Mode) -> std::io::Result<()> {
        let header = crate::format::IndexHeader { file_id: 0, mode };
        self.segments.overwrite_index(0, 0, &header.encode())?;
        self.mode = mode;
        self.keys = KeyIndex::new(mode);
        Ok(())
    }

    /// Replaces the persistent properties and rewrites the descriptor file.
    pub fn set_descriptor(&mut self, desc: Descriptor) -> std::io::Result<()> {
        load::write_descriptor(&self.segments.index_dir, &desc)?;
        self.desc = desc;
        Ok(())
    }

    /// Writes queued data entries: after this, the writes survive the death
    /// of the process (index entries still queued are rebuilt from the data
    /// file at the next load). The server calls it before replying.
    pub fn commit(&mut self) -> std::io::Result<()> {
        self.segments.commit()
    }

    /// Whether data entries wait to be committed.
    pub fn has_uncommitted(&self) -> bool {
        self.segments.data.is_dirty()
    }

    /// Writes every queued entry (data, index, flags) to the files.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.segments.flush()
    }

    /// Writes queued entries and fsyncs them.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.segments.sync()
    }

    /// Writes queued entries and returns a handle to make them durable later, without
    /// holding the namespace: a caller that serialises writers can then let them go on
    /// appending while the disk catches up.
    ///
    /// Only the active data file needs it: index entries are rebuilt from the data file
    /// at load, and earlier data files were fsynced when they were rotated, which is why
    /// this needs [`NamespaceConfig::sync_on_rotate`].
    pub fn sync_later(&mut self) -> std::io::Result<SyncHandle> {
        if !self.config.sync_on_rotate {
            return Err(std::io::Error::other(
                "sync_later needs sync_on_rotate: rotated data files would stay unsynced",
            ));
        }
        Ok(SyncHandle(vec![self.segments.data_handle()?]))
    }

    /// Forces a new index/data pair (`NSJUMP`, `--rotate`).
    pub fn rotate(&mut self) -> std::io::Result<()> {
        let dirty: Vec<u32> = self.segments.dirty.iter().copied().collect();
        let [old_i, new_i, old_d, new_d] = self
            .segments
            .rotate(self.mode, self.config.sync_on_rotate)?;
        self.written_since_rotation = false;
        if let KeyIndex::Seq(table) = &mut self.keys {
            // The new index file starts at the next id (as replayed at load).
            table.first_ids.push(table.next_id);
        }
        let hooks = self.config.hooks.clone();
        if hooks.enabled() {
            let dirty_arg = dirty
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            let status = hooks.run_blocking(
                "jump-index",
                &[
                    old_i.into_os_string(),
                    new_i.into_os_string(),
                    dirty_arg.into(),
                ],
            );
            if status == Some(0) {
                self.segments.dirty.clear();
            }
            hooks.spawn(
                "jump-data",
                &[old_d.into_os_string(), new_d.into_os_string()],
            );
        }
        Ok(())
    }

    /// Throws away queued writes and rebuilds the in-memory state from the
    /// files (after a failed flush, or for `RELOAD`).
    pub fn reload(&mut self) -> Result<(), OpenError> {
        self.segments.data.discard_queue();
        self.segments.index.discard_queue();
        let lock = self.lock;
        let fresh = load::open(
            &self.segments.index_dir,
            &self.segments.data_dir,
            None,
            None,
            self.config.clone(),
        )?;
        *self = fresh;
        self.lock = lock;
        Ok(())
    }

    fn note_data_error(&mut self) {
        self.stats.data_io_errors += 1;
        self.stats.data_io_error_last = u64::from(now_secs());
    }

    fn note_index_error(&mut self) {
        self.stats.index_io_errors += 1;
        self.stats.index_io_error_last = u64::from(now_secs());
    }
}

pub(crate) use load::{create, open, remove_dirs};

/// Files written by [`Namespace::sync_later`], to fsync.
#[derive(Debug)]
pub struct SyncHandle(Vec<std::fs::File>);

impl SyncHandle {
    /// fsyncs every file: what was written before [`Namespace::sync_later`] is then on disk.
    pub fn sync(self) -> std::io::Result<()> {
        for file in &self.0 {
            file.sync_data()?;
        }
        Ok(())
    }
}
