//! The numbered index and data files of one namespace: the active pair that
//! grows, the older ones opened on demand, and rotation to a new pair.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::data_map::{DataMap, MAP_SLACK};
use crate::append_file::{count_io, AppendFile, IoKind};
use crate::format::{encode_data_header, IndexHeader, Mode};
use crate::hooks::Hooks;

/// Path of index file `id` in `dir`.
pub(crate) fn index_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("i{id}"))
}

/// Path of data file `id` in `dir`.
pub(crate) fn data_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("d{id}"))
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataReadError {
    /// The data file is gone (offloaded) and the `missing-data` hook did not
    /// bring it back.
    #[error("data file {0} is missing")]
    Missing(PathBuf),
    /// Reading failed.
    #[error("read {path}: {source}")]
    Io {
        /// The data file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// Creates (or truncates) a file and writes `header` into it.
pub(crate) fn create_with_header(path: &Path, header: &[u8]) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all_at(header, 0)?;
    Ok(file)
}

/// Index and data files of a namespace.
/// A data file that no longer grows.
#[derive(Debug)]
struct OldData {
    file: File,
    map: DataMap,
    len: u64,
}

impl OldData {
    fn new(file: File, map: Option<DataMap>) -> io::Result<OldData> {
        let len = file.metadata()?.len();
        let map = map.unwrap_or_else(|| DataMap::new(&file, len));
        Ok(OldData { file, map, len })
    }
}

/// Index and data files of a namespace.
#[derive(Debug)]
pub(crate) struct Segments {
    pub(crate) index_dir: PathBuf,
    pub(crate) data_dir: PathBuf,
    /// Id of the active index/data pair; both always move together.
    pub(crate) active_id: u32,
    pub(crate) index: AppendFile,
    pub(crate) data: AppendFile,
    old_index: HashMap<u32, File>,
    /// Map of the active data file, `window` bytes long.
    data_map: DataMap,
    window: u64,
    old_data: HashMap<u32, OldData>,
    /// Flag bytes to set in older index files after the active files are
    /// flushed.
    old_patches: Vec<(u32, u64, u8)>,
    /// Index files changed in place since the last `INDEX DIRTY RESET`.
    pub(crate) dirty: BTreeSet<u32>,
    pub(crate) hooks: Arc<Hooks>,
}

impl Segments {
    pub(crate) fn new(
        index_dir: PathBuf,
        data_dir: PathBuf,
        active_id: u32,
        index: AppendFile,
        data: AppendFile,
        datasize: u64,
        hooks: Arc<Hooks>,
    ) -> Segments {
        let window = datasize.max(data.len()) + MAP_SLACK;
        let data_map = DataMap::new(data.file(), window);
        Segments {
            index_dir,
            data_dir,
            active_id,
            index,
            data,
            old_index: HashMap::new(),
            data_map,
            window,
            old_data: HashMap::new(),
            old_patches: Vec::new(),
            dirty: BTreeSet::new(),
            hooks,
        }
    }

    fn old_index_file(&mut self, id: u32) -> io::Result<&File> {
        if !self.old_index.contains_key(&id) {
            let file = open_rw(&index_path(&self.index_dir, id))?;
            self.old_index.insert(id, file);
        }
        Ok(&self.old_index[&id])
    }

    /// Reads `buf.len()` bytes of index file `id` at `offset`.
    pub(crate) fn read_index(&mut self, id: u32, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        // A flag set in an older file waits in `old_patches`: apply it first
        // so the read sees it (seq namespaces read slots from disk).
        if id != self.active_id && !self.old_patches.is_empty() {
            self.flush()?;
        }
        let res = if id == self.active_id {
            self.index.read_exact_at(buf, offset)
        } else {
            self.old_index_file(id)
                .and_then(|f| f.read_exact_at(buf, offset))
        };
        count_io(IoKind::IndexRead, buf.len(), &res);
        res
    }

    /// A handle on index file `id` with every queued byte written, for
    /// scanning, and its length.
    pub(crate) fn index_file_for_scan(&mut self, id: u32) -> io::Result<(&File, u64)> {
        if id == self.active_id {
            self.index.flush()?;
            let len = self.index.len();
            return Ok((self.index.file(), len));
        }
        if !self.old_patches.is_empty() {
            self.flush()?;
        }
        let file = self.old_index_file(id)?;
        let len = file.metadata()?.len();
        Ok((file, len))
    }

    /// Marks the entry at (`id`, `offset`) with `flags`, after pending appends.
    pub(crate) fn patch_index_flags(&mut self, id: u32, offset: u64, flags: u8) {
        let at = offset + crate::format::IE_FLAGS as u64;
        if id == self.active_id {
            self.index.patch(at, flags);
        } else {
            self.old_patches.push((id, at, flags));
        }
        self.dirty.insert(id);
    }

    /// Rewrites bytes of index file `id` in place once appends are flushed.
    pub(crate) fn overwrite_index(&mut self, id: u32, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.flush()?;
        self.dirty.insert(id);
        if id == self.active_id {
            return self.index.overwrite(offset, bytes);
        }
        self.old_index_file(id)?.write_all_at(bytes, offset)
    }

    fn old_data_file(&mut self, id: u32) -> Result<&OldData, DataReadError> {
        if !self.old_data.contains_key(&id) {
            let path = data_path(&self.data_dir, id);
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Offloaded: ask the hook to bring it back, once.
                    self.hooks
                        .run_blocking("missing-data", &[path.as_os_str().to_owned()]);
                    File::open(&path).map_err(|_| DataReadError::Missing(path.clone()))?
                }
                Err(source) => return Err(DataReadError::Io { path, source }),
            };
            let old =
                OldData::new(file, None).map_err(|source| DataReadError::Io { path, source })?;
            self.old_data.insert(id, old);
        }
        Ok(&self.old_data[&id])
    }

    /// Length of data file `id` (queued bytes included for the active one).
    pub(crate) fn data_len(&mut self, id: u32) -> Result<u64, DataReadError> {
        if id == self.active_id {
            return Ok(self.data.len());
        }
        Ok(self.old_data_file(id)?.len)
    }

    /// Bytes `offset..offset + len` of data file `id` straight from its
    /// map, or `None` when they must be read with `pread`.
    pub(crate) fn data_slice(
        &mut self,
        id: u32,
        offset: u64,
        len: usize,
    ) -> Result<Option<&[u8]>, DataReadError> {
        if id == self.active_id {
            if offset + len as u64 > self.data.flushed_len() {
                let res = self.data.flush();
                res.map_err(|source| DataReadError::Io {
                    path: data_path(&self.data_dir, id),
                    source,
                })?;
            }
            let readable = self.data.flushed_len();
            return Ok(self.data_map.slice(offset, len, readable));
        }
        let old = self.old_data_file(id)?;
        Ok(old.map.slice(offset, len, old.len))
    }

    /// Appends `len` bytes of data file `id` at `offset` to `out`.
    pub(crate) fn read_data_into(
        &mut self,
        id: u32,
        offset: u64,
        len: usize,
        out: &mut bytes::BytesMut,
    ) -> Result<(), DataReadError> {
        if let Some(bytes) = self.data_slice(id, offset, len)? {
            out.extend_from_slice(bytes);
            count_io(IoKind::DataRead, len, &Ok(()));
            return Ok(());
        }
        let start = out.len();
        out.resize(start + len, 0);
        let res = self.read_data(id, offset, &mut out[start..]);
        if res.is_err() {
            out.truncate(start);
        }
        res
    }

    /// Reads `buf.len()` bytes of data file `id` at `offset`.
    pub(crate) fn read_data(
        &mut self,
        id: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), DataReadError> {
        if let Some(bytes) = self.data_slice(id, offset, buf.len())? {
            buf.copy_from_slice(bytes);
            count_io(IoKind::DataRead, buf.len(), &Ok(()));
            return Ok(());
        }
        let res = if id == self.active_id {
            self.data.read_exact_at(buf, offset)
        } else {
            self.old_data_file(id)?.file.read_exact_at(buf, offset)
        };
        count_io(IoKind::DataRead, buf.len(), &res);
        res.map_err(|source| DataReadError::Io {
            path: data_path(&self.data_dir, id),
            source,
        })
    }

    /// Writes queued data entries only: enough to acknowledge the writes of
    /// a batch, since index entries missing after a crash are rebuilt from
    /// the data file at load (see `FORMAT.md`).
    pub(crate) fn commit(&mut self) -> io::Result<()> {
        let n = self.data.queued_len();
        let res = self.data.flush();
        count_io(IoKind::DataWrite, n, &res);
        res
    }

    /// Writes data first, then index appends, then in-place flags: a crash
    /// at any point leaves every acknowledged entry reachable.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.commit()?;
        let n = self.index.queued_len();
        let res = self.index.flush();
        count_io(IoKind::IndexWrite, n, &res);
        res?;
        let patches = std::mem::take(&mut self.old_patches);
        for (id, at, byte) in patches {
            self.old_index_file(id)?.write_all_at(&[byte], at)?;
        }
        Ok(())
    }

    /// Flushes and fsyncs the active pair.
    /// Writes queued entries and returns a handle on the active data file, so the fsync
    /// can run while others keep appending (see [`crate::Namespace::sync_later`]).
    pub(crate) fn data_handle(&mut self) -> io::Result<File> {
        self.flush()?;
        self.data.handle()
    }

    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.data.sync()?;
        self.index.sync()?;
        for file in self.old_index.values() {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Closes the active pair and starts `active_id + 1`. Returns the paths
    /// of the old and new index and data files, for the hooks.
    pub(crate) fn rotate(&mut self, mode: Mode, fsync: bool) -> io::Result<[PathBuf; 4]> {
        if fsync {
            self.sync()?;
        } else {
            self.flush()?;
        }
        let old_id = self.active_id;
        let new_id = old_id
            .checked_add(1)
            .ok_or_else(|| io::Error::other("index file id space exhausted"))?;
        let new_data_path = data_path(&self.data_dir, new_id);
        let new_index_path = index_path(&self.index_dir, new_id);
        // Data first: an index file never exists without its data file.
        let data = create_with_header(&new_data_path, &encode_data_header(new_id))?;
        let header = IndexHeader {
            file_id: new_id,
            mode,
        };
        let index = create_with_header(&new_index_path, &header.encode())?;
        let old_data = std::mem::replace(
            &mut self.data,
            AppendFile::new(
                data,
                new_data_path.clone(),
                crate::format::DATA_HEADER_LEN as u64,
            ),
        );
        let old_index = std::mem::replace(
            &mut self.index,
            AppendFile::new(
                index,
                new_index_path.clone(),
                crate::format::INDEX_HEADER_LEN as u64,
            ),
        );
        let old_paths = [old_index.path().to_owned(), old_data.path().to_owned()];
        // The old map stays valid: the file keeps its bytes and stops growing.
        let old_map = std::mem::replace(
            &mut self.data_map,
            DataMap::new(self.data.file(), self.window),
        );
        let old = OldData::new(into_file(old_data), Some(old_map))?;
        self.old_data.insert(old_id, old);
        self.old_index.insert(old_id, into_file(old_index));
        self.active_id = new_id;
        let [old_index_path, old_data_path] = old_paths;
        Ok([old_index_path, new_index_path, old_data_path, new_data_path])
    }
}

fn into_file(f: AppendFile) -> File {
    f.into_file()
}
