//! Compaction: rewrite the live entries of a namespace into new files and
//! give back the space of deleted and overwritten versions.
//!
//! Crash rule: the new files are written and fsynced in a `.compact`
//! directory beside the old ones; a `COMMIT` marker (holding the highest new
//! file id) is then written and fsynced. Before the marker, a crash leaves
//! the old files untouched and the next open deletes `.compact`. After the
//! marker, the next open finishes the swap (rename every new file over the
//! old one, delete old files with higher ids, remove the marker); each step
//! can be repeated, so a crash during recovery is also safe.
//!
//! User mode keeps the append order of live entries (so SCAN order does not
//! change) and drops history. Seq mode keeps every slot where it is, because
//! an id is a slot position: live slots point at their payload copied into
//! the data file of the same number, dead slots keep their place with no
//! payload.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::index_scan::IndexScan;
use super::keys::KeyIndex;
use super::segments::{create_with_header, data_path, index_path};
use super::Namespace;
use crate::format::{
    encode_data_header, DataEntry, IndexEntry, IndexHeader, Mode, DATA_ENTRY_FIXED,
    DATA_HEADER_LEN, FLAG_DELETED, INDEX_HEADER_LEN,
};

const WORK_DIR: &str = ".compact";
const COMMIT: &str = "COMMIT";

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactStats {
    /// Bytes of index and data files before.
    pub bytes_before: u64,
    /// Bytes of index and data files after.
    pub bytes_after: u64,
    /// Live entries copied.
    pub entries: u64,
}

impl CompactStats {
    /// Bytes given back.
    pub fn reclaimed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

/// Why a compaction did not happen (the namespace is unchanged).
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// A data file holding a live payload is gone (offloaded).
    #[error("data file {0} is missing; compaction needs every data file holding live values")]
    MissingData(PathBuf),
    /// The namespace is locked or frozen.
    #[error("namespace is locked")]
    Locked,
    /// A live payload no longer fits the 32-bit offsets of one data file.
    #[error("live values of index file {0} exceed the 4 GiB data file limit")]
    TooLarge(u32),
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Reloading the compacted namespace failed.
    #[error(transparent)]
    Reload(#[from] super::OpenError),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CompactError {
    let path = path.to_owned();
    move |source| CompactError::Io { op, path, source }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Total size of the numbered files of a namespace.
fn files_size(index_dir: &Path, data_dir: &Path) -> u64 {
    let mut total = 0;
    for dir in [index_dir, data_dir] {
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if numbered_id(&entry.file_name()).is_some() {
                    total += entry.metadata().map(|m| m.len()).unwrap_or(0);
                }
            }
        }
    }
    total
}

/// The `N` of a file called `iN` or `dN`.
pub(crate) fn numbered_id(name: &std::ffi::OsStr) -> Option<u32> {
    let name = name.to_str()?;
    let digits = name.strip_prefix('i').or_else(|| name.strip_prefix('d'))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Finishes or abandons an interrupted compaction; run before loading.
pub(crate) fn recover(index_dir: &Path, data_dir: &Path) -> io::Result<()> {
    let work_index = index_dir.join(WORK_DIR);
    let work_data = data_dir.join(WORK_DIR);
    let marker = work_index.join(COMMIT);
    if !marker.exists() {
        for dir in [&work_index, &work_data] {
            match fs::remove_dir_all(dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        return Ok(());
    }
    let raw = fs::read(&marker)?;
    let max_id = raw
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short compaction marker"))?;
    tracing::info!(dir = %index_dir.display(), "finishing an interrupted compaction");
    for (work, target) in [(&work_data, data_dir), (&work_index, index_dir)] {
        if let Ok(entries) = fs::read_dir(work) {
            for entry in entries.flatten() {
                if numbered_id(&entry.file_name()).is_some() {
                    fs::rename(entry.path(), target.join(entry.file_name()))?;
                    crate::failpoint::hit("compact-mid-swap");
                }
            }
        }
    }
    for dir in [index_dir, data_dir] {
        for entry in fs::read_dir(dir)?.flatten() {
            if numbered_id(&entry.file_name()).is_some_and(|id| id > max_id) {
                fs::remove_file(entry.path())?;
            }
        }
        sync_dir(dir)?;
    }
    fs::remove_file(&marker)?;
    let _ = fs::remove_dir_all(&work_data);
    fs::remove_dir_all(&work_index)?;
    sync_dir(index_dir)
}

/// The file pair being written.
struct Output {
    index_dir: PathBuf,
    data_dir: PathBuf,
    mode: Mode,
    id: u32,
    index: File,
    data: File,
    index_buf: Vec<u8>,
    data_buf: Vec<u8>,
    index_len: u64,
    data_len: u64,
    last_index: u32,
    last_data: u32,
}

impl Output {
    fn create(index_dir: &Path, data_dir: &Path, mode: Mode) -> Result<Output, CompactError> {
        let (index, data) = Output::open_pair(index_dir, data_dir, mode, 0)?;
        Ok(Output {
            index_dir: index_dir.to_owned(),
            data_dir: data_dir.to_owned(),
            mode,
            id: 0,
            index,
            data,
            index_buf: Vec::new(),
            data_buf: Vec::new(),
            index_len: INDEX_HEADER_LEN as u64,
            data_len: DATA_HEADER_LEN as u64,
            last_index: 0,
            last_data: 0,
        })
    }

    fn open_pair(
        index_dir: &Path,
        data_dir: &Path,
        mode: Mode,
        id: u32,
    ) -> Result<(File, File), CompactError> {
        let ipath = index_path(index_dir, id);
        let dpath = data_path(data_dir, id);
        let header = IndexHeader { file_id: id, mode };
        let index =
            create_with_header(&ipath, &header.encode()).map_err(io_err("create", &ipath))?;
        let data = create_with_header(&dpath, &encode_data_header(id))
            .map_err(io_err("create", &dpath))?;
        Ok((index, data))
    }

    fn flush(&mut self) -> Result<(), CompactError> {
        use std::os::unix::fs::FileExt;
        let ipath = index_path(&self.index_dir, self.id);
        let dpath = data_path(&self.data_dir, self.id);
        let dstart = self.data_len - self.data_buf.len() as u64;
        self.data
            .write_all_at(&self.data_buf, dstart)
            .map_err(io_err("write", &dpath))?;
        let istart = self.index_len - self.index_buf.len() as u64;
        self.index
            .write_all_at(&self.index_buf, istart)
            .map_err(io_err("write", &ipath))?;
        self.data_buf.clear();
        self.index_buf.clear();
        Ok(())
    }

    /// Finishes the current pair and starts the next id.
    fn next_pair(&mut self) -> Result<(), CompactError> {
        self.finish_pair()?;
        self.id += 1;
        let (index, data) = Output::open_pair(&self.index_dir, &self.data_dir, self.mode, self.id)?;
        self.index = index;
        self.data = data;
        self.index_len = INDEX_HEADER_LEN as u64;
        self.data_len = DATA_HEADER_LEN as u64;
        Ok(())
    }

    fn finish_pair(&mut self) -> Result<(), CompactError> {
        self.flush()?;
        self.data
            .sync_all()
            .map_err(io_err("sync", &data_path(&self.data_dir, self.id)))?;
        self.index
            .sync_all()
            .map_err(io_err("sync", &index_path(&self.index_dir, self.id)))
    }

    /// Appends one entry: the payload (if any) to data, the entry to index.
    fn push(
        &mut self,
        mut entry: IndexEntry,
        key: &[u8],
        payload: Option<&[u8]>,
    ) -> Result<(), CompactError> {
        if let Some(payload) = payload {
            let offset =
                u32::try_from(self.data_len).map_err(|_| CompactError::TooLarge(self.id))?;
            DataEntry {
                key_len: entry.key_len,
                length: payload.len() as u32,
                previous: self.last_data,
                crc: entry.crc,
                flags: 0,
                timestamp: entry.timestamp,
            }
            .encode_into(key, &mut self.data_buf);
            self.data_buf.extend_from_slice(payload);
            self.data_len += (DATA_ENTRY_FIXED + key.len() + payload.len()) as u64;
            self.last_data = offset;
            entry.data_offset = offset;
        }
        entry.data_id = self.id;
        entry.parent_id = 0;
        entry.parent_offset = 0;
        entry.previous = self.last_index;
        let offset = u32::try_from(self.index_len).map_err(|_| CompactError::TooLarge(self.id))?;
        entry.encode_into(key, &mut self.index_buf);
        self.index_len += entry.disk_len() as u64;
        self.last_index = offset;
        if self.data_buf.len() + self.index_buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }
}

impl Namespace {
    /// Rewrites the live entries into new files and swaps them in. Blocks
    /// the namespace for the duration (it is O(live bytes)).
    pub fn compact(&mut self) -> Result<CompactStats, CompactError> {
        if self.lock != super::LockState::Unlocked {
            return Err(CompactError::Locked);
        }
        let index_dir = self.segments.index_dir.clone();
        let data_dir = self.segments.data_dir.clone();
        self.flush().map_err(io_err("flush", &index_dir))?;
        let bytes_before = files_size(&index_dir, &data_dir);
        let work_index = index_dir.join(WORK_DIR);
        let work_data = data_dir.join(WORK_DIR);
        recover(&index_dir, &data_dir).map_err(io_err("clean up", &work_index))?;
        for dir in [&work_index, &work_data] {
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        let res = self.write_compacted(&work_index, &work_data);
        let (max_id, entries) = match res {
            Ok(done) => done,
            Err(e) => {
                let _ = fs::remove_dir_all(&work_index);
                let _ = fs::remove_dir_all(&work_data);
                return Err(e);
            }
        };
        for dir in [&work_index, &work_data] {
            sync_dir(dir).map_err(io_err("sync", dir))?;
        }
        crate::failpoint::hit("compact-before-commit");
        let marker = work_index.join(COMMIT);
        let file =
            create_with_header(&marker, &max_id.to_le_bytes()).map_err(io_err("write", &marker))?;
        file.sync_all().map_err(io_err("sync", &marker))?;
        sync_dir(&work_index).map_err(io_err("sync", &work_index))?;
        crate::failpoint::hit("compact-after-commit");
        recover(&index_dir, &data_dir).map_err(io_err("swap in compacted files", &index_dir))?;
        self.reload()?;
        Ok(CompactStats {
            bytes_before,
            bytes_after: files_size(&index_dir, &data_dir),
            entries,
        })
    }

    /// Writes the compacted files into the work directories; returns the
    /// highest file id written and the number of live entries.
    fn write_compacted(
        &mut self,
        work_index: &Path,
        work_data: &Path,
    ) -> Result<(u32, u64), CompactError> {
        let mut out = Output::create(work_index, work_data, self.mode)?;
        let mut entries = 0u64;
        let mut payload = Vec::new();
        for file_id in 0..=self.segments.active_id {
            if self.mode == Mode::Seq && file_id > 0 {
                // Ids are slot positions: keep the file boundaries.
                out.next_pair()?;
            }
            let index_file = index_path(&self.segments.index_dir, file_id);
            let (handle, len) = self
                .segments
                .index_file_for_scan(file_id)
                .map_err(io_err("open", &index_file))?;
            let handle = handle.try_clone().map_err(io_err("open", &index_file))?;
            let mut scan = IndexScan::new(&handle, INDEX_HEADER_LEN as u64, len);
            while let Some(item) = scan.next_entry().map_err(io_err("read", &index_file))? {
                let entry = item.entry;
                if !self.is_current(file_id, item.offset, item.key, &entry) {
                    if self.mode == Mode::Seq {
                        let dead = IndexEntry {
                            flags: entry.flags | FLAG_DELETED,
                            length: 0,
                            crc: 0,
                            data_offset: 0,
                            ..entry
                        };
                        out.push(dead, item.key, None)?;
                    }
                    continue;
                }
                let data_id = match self.mode {
                    Mode::User => file_id,
                    Mode::Seq => entry.data_id,
                };
                payload.resize(entry.length as usize, 0);
                let at = u64::from(entry.data_offset) + (DATA_ENTRY_FIXED + item.key.len()) as u64;
                self.segments
                    .read_data(data_id, at, &mut payload)
                    .map_err(|e| match e {
                        super::DataReadError::Missing(path) => CompactError::MissingData(path),
                        super::DataReadError::Io { path, source } => CompactError::Io {
                            op: "read",
                            path,
                            source,
                        },
                    })?;
                if self.mode == Mode::User
                    && out.data_len + payload.len() as u64 > self.config.datasize
                    && out.data_len > DATA_HEADER_LEN as u64
                {
                    out.next_pair()?;
                }
                out.push(IndexEntry { flags: 0, ..entry }, item.key, Some(&payload))?;
                entries += 1;
            }
        }
        out.finish_pair()?;
        Ok((out.id, entries))
    }

    /// Whether the entry at (`file_id`, `offset`) is the live version of its
    /// key (not flagged, and — in user mode — the one the key map holds, in
    /// case a crash left an older copy unflagged).
    fn is_current(&self, file_id: u32, offset: u64, key: &[u8], entry: &IndexEntry) -> bool {
        if entry.is_deleted() {
            return false;
        }
        match &self.keys {
            KeyIndex::User(map) => map.get(key).is_some_and(|slot| {
                slot.file_id == file_id && u64::from(slot.index_offset) == offset
            }),
            KeyIndex::Seq(_) => true,
        }
    }
}
