//! Opening a namespace from its files: descriptor, replay of every index
//! file, and recovery of torn tails left by a crash.
//!
//! Recovery rules (see `FORMAT.md`): an index entry that runs past the end
//! of its file, or whose payload runs past the end of the active data file,
//! is torn — the file is truncated before it. A data entry that runs past
//! the end of the active data file is truncated the same way. Both can only
//! be writes that were never acknowledged, because data is written before
//! index and both before any reply.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::Path;

use super::index_scan::IndexScan;
use super::keys::{KeyIndex, UserSlot};
use super::segments::{create_with_header, data_path, index_path, Segments};
use super::{LockState, Namespace, NamespaceConfig, NamespaceStats, OpenError};
use crate::append_file::AppendFile;
use crate::format::{
    decode_data_header, encode_data_header, DataEntry, Descriptor, IndexHeader, Mode,
    DATA_ENTRY_FIXED, DATA_HEADER_LEN, INDEX_HEADER_LEN, SEQ_KEY_LEN,
};

/// Name of the descriptor file in a namespace's index directory.
pub(crate) const DESCRIPTOR_FILE: &str = "zdb-namespace";

/// Bytes of RAM the C server accounts per key beyond the key itself;
/// reported as `index_size_bytes` for compatibility.
const C_ENTRY_OVERHEAD: u64 = 64;

/// Writes the descriptor file and fsyncs it.
pub(crate) fn write_descriptor(index_dir: &Path, desc: &Descriptor) -> io::Result<()> {
    let path = index_dir.join(DESCRIPTOR_FILE);
    let tmp = index_dir.join(format!("{DESCRIPTOR_FILE}.tmp"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&desc.encode())?;
    file.sync_all()?;
    fs::rename(&tmp, &path)?;
    File::open(index_dir)?.sync_all()
}

fn mkdir(path: &Path) -> Result<(), OpenError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(OpenError::io("create directory", path))
}

/// Creates the directories, descriptor and first file pair of a new
/// namespace, then opens it.
pub(crate) fn create(
    index_dir: &Path,
    data_dir: &Path,
    name: &[u8],
    mode: Mode,
    config: NamespaceConfig,
) -> Result<Namespace, OpenError> {
    open(index_dir, data_dir, Some(name), Some(mode), config)
}

/// Removes a namespace's directories.
pub(crate) fn remove_dirs(index_dir: &Path, data_dir: &Path) -> io::Result<()> {
    fs::remove_dir_all(index_dir)?;
    match fs::remove_dir_all(data_dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Opens the namespace stored in `index_dir`/`data_dir`. With `create_name`,
/// missing directories and files are created for a namespace of that name.
/// `forced_mode` is the server's `--mode`; a namespace written in another
/// mode is refused.
pub(crate) fn open(
    index_dir: &Path,
    data_dir: &Path,
    create_name: Option<&[u8]>,
    forced_mode: Option<Mode>,
    config: NamespaceConfig,
) -> Result<Namespace, OpenError> {
    let desc_path = index_dir.join(DESCRIPTOR_FILE);
    if index_dir.exists() {
        super::compact::recover(index_dir, data_dir)
            .map_err(OpenError::io("recover compaction of", index_dir))?;
    }
    if index_dir.join("zdb-index-00000").exists() {
        return Err(OpenError::Legacy(index_dir.to_owned()));
    }
    if let Some(name) = create_name {
        mkdir(index_dir)?;
        mkdir(data_dir)?;
        if !desc_path.exists() {
            write_descriptor(index_dir, &Descriptor::new(name))
                .map_err(OpenError::io("write descriptor", &desc_path))?;
        }
    }
    let raw = fs::read(&desc_path).map_err(OpenError::io("read descriptor", &desc_path))?;
    let desc = Descriptor::decode(&raw).map_err(|source| OpenError::Format {
        path: desc_path.clone(),
        source,
    })?;
    mkdir(data_dir)?;

    let i0 = index_path(index_dir, 0);
    if !i0.exists() {
        let header = IndexHeader {
            file_id: 0,
            mode: forced_mode.unwrap_or(Mode::User),
        };
        create_with_header(&i0, &header.encode()).map_err(OpenError::io("create index", &i0))?;
    }
    let mut replay = Replay::default();
    let mut mode = None;
    let mut id = 0u32;
    loop {
        let path = index_path(index_dir, id);
        let is_last = !index_path(index_dir, id + 1).exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(OpenError::io("open index", &path))?;
        let mut len = file
            .metadata()
            .map_err(OpenError::io("stat index", &path))?
            .len();
        if len < INDEX_HEADER_LEN as u64 {
            // A crash between creating the file and writing its header.
            let header = IndexHeader {
                file_id: id,
                mode: mode.or(forced_mode).unwrap_or(Mode::User),
            };
            file.set_len(0)
                .map_err(OpenError::io("truncate index", &path))?;
            file.write_all_at(&header.encode(), 0)
                .map_err(OpenError::io("write index header", &path))?;
            len = INDEX_HEADER_LEN as u64;
        }
        let mut raw = [0u8; INDEX_HEADER_LEN];
        file.read_exact_at(&mut raw, 0)
            .map_err(OpenError::io("read index header", &path))?;
        let header = IndexHeader::decode(&raw).map_err(|source| OpenError::Format {
            path: path.clone(),
            source,
        })?;
        let file_mode = *mode.get_or_insert(header.mode);
        if id == 0 {
            if let Some(forced) = forced_mode.filter(|&f| f != header.mode) {
                return Err(OpenError::ModeMismatch {
                    name: String::from_utf8_lossy(&desc.name).into_owned(),
                    found: header.mode,
                    forced,
                });
            }
            replay.keys = KeyIndex::new(file_mode);
        }
        let data_len = if is_last {
            Some(open_active_data(data_dir, id)?.1)
        } else {
            None
        };
        let end = replay
            .file(&file, id, len, file_mode, data_len)
            .map_err(OpenError::io("read index", &path))?;
        if end < len {
            tracing::warn!(
                path = %path.display(),
                "index file ends with a torn entry at offset {end} of {len}: truncating"
            );
            file.set_len(end)
                .map_err(OpenError::io("truncate index", &path))?;
            len = end;
        }
        if is_last {
            let mode = file_mode;
            let index = AppendFile::new(file, path, len);
            return finish(index_dir, data_dir, desc, mode, id, index, replay, config);
        }
        id += 1;
    }
}

/// Opens (creating if needed) data file `id` as the active one; returns it
/// with its length.
fn open_active_data(data_dir: &Path, id: u32) -> Result<(File, u64), OpenError> {
    let path = data_path(data_dir, id);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(OpenError::io("open data", &path))?;
    let len = file
        .metadata()
        .map_err(OpenError::io("stat data", &path))?
        .len();
    if len < DATA_HEADER_LEN as u64 {
        file.set_len(0)
            .map_err(OpenError::io("truncate data", &path))?;
        file.write_all_at(&encode_data_header(id), 0)
            .map_err(OpenError::io("write data header", &path))?;
        return Ok((file, DATA_HEADER_LEN as u64));
    }
    let mut raw = [0u8; DATA_HEADER_LEN];
    file.read_exact_at(&mut raw, 0)
        .map_err(OpenError::io("read data header", &path))?;
    decode_data_header(&raw).map_err(|source| OpenError::Format { path, source })?;
    Ok((file, len))
}

#[allow(clippy::too_many_arguments)]
fn finish(
    index_dir: &Path,
    data_dir: &Path,
    desc: Descriptor,
    mode: Mode,
    active_id: u32,
    index: AppendFile,
    mut replay: Replay,
    config: NamespaceConfig,
) -> Result<Namespace, OpenError> {
    let (file, len) = open_active_data(data_dir, active_id)?;
    let path = data_path(data_dir, active_id);
    let tail = scan_data_tail(&file, replay.data_scan_start, len)
        .map_err(OpenError::io("read data", &path))?;
    let (end, last_entry) = (tail.end, tail.last);
    if end < len {
        tracing::warn!(
            path = %path.display(),
            "data file ends with a torn entry at offset {end} of {len}: truncating"
        );
        file.set_len(end)
            .map_err(OpenError::io("truncate data", &path))?;
    }
    let data = AppendFile::new(file, path, end);
    let segments = Segments::new(
        index_dir.to_owned(),
        data_dir.to_owned(),
        active_id,
        index,
        data,
        config.datasize,
        config.hooks.clone(),
    );
    if let KeyIndex::Seq(table) = &mut replay.keys {
        table.next_id = replay.stats.next_internal_id;
        table
            .first_ids
            .resize(active_id as usize + 1, table.next_id);
    }
    if let KeyIndex::User(map) = &replay.keys {
        replay.stats.entries = map.len() as u64;
        replay.stats.used = map.values().map(|s| u64::from(s.length)).sum();
        replay.stats.index_size = map.keys().map(|k| C_ENTRY_OVERHEAD + k.len() as u64).sum();
    }
    let mut ns = Namespace {
        desc,
        mode,
        lock: LockState::Unlocked,
        config,
        segments,
        keys: replay.keys,
        stats: replay.stats,
        last_index_offset: replay.last_index_offset,
        last_data_offset: last_entry.unwrap_or(0),
        written_since_rotation: false,
    };
    // Entries after the last indexed one are writes whose index entries
    // were still queued when the process died: index them now.
    let skip = usize::from(replay.data_scan_start > 0);
    let unindexed = tail.entries.len().saturating_sub(skip);
    if unindexed > 0 {
        for (offset, entry, key) in tail.entries.iter().skip(skip) {
            ns.replay_data_entry(*offset, entry, key);
        }
        ns.flush()
            .map_err(OpenError::io("write index", index_dir))?;
        tracing::info!(
            dir = %index_dir.display(),
            "indexed {unindexed} entries found only in the data file"
        );
    }
    Ok(ns)
}

/// The end of the active data file as found at load.
struct DataTail {
    /// Where the last complete entry ends (the file is cut there).
    end: u64,
    /// Where the last complete entry starts.
    last: Option<u32>,
    /// Every complete entry from the scan start on: offset, fixed part, key.
    entries: Vec<(u32, DataEntry, Vec<u8>)>,
}

/// Walks data entries from `start` (a known entry boundary) to `len`.
fn scan_data_tail(file: &File, start: u64, len: u64) -> io::Result<DataTail> {
    let mut pos = start.max(DATA_HEADER_LEN as u64);
    let mut tail = DataTail {
        end: pos,
        last: None,
        entries: Vec::new(),
    };
    let mut raw = [0u8; DATA_ENTRY_FIXED + 255];
    while pos + DATA_ENTRY_FIXED as u64 <= len {
        file.read_exact_at(&mut raw[..DATA_ENTRY_FIXED], pos)?;
        let entry = DataEntry::decode(&raw).expect("fixed part read");
        let next = pos + entry.disk_len();
        if next > len {
            break;
        }
        let key_end = DATA_ENTRY_FIXED + usize::from(entry.key_len);
        file.read_exact_at(
            &mut raw[DATA_ENTRY_FIXED..key_end],
            pos + DATA_ENTRY_FIXED as u64,
        )?;
        let Ok(offset) = u32::try_from(pos) else {
            break;
        };
        tail.entries
            .push((offset, entry, raw[DATA_ENTRY_FIXED..key_end].to_vec()));
        tail.last = Some(offset);
        pos = next;
        tail.end = pos;
    }
    Ok(tail)
}

/// State accumulated while replaying index files in order.
#[derive(Default)]
struct Replay {
    keys: KeyIndex,
    stats: NamespaceStats,
    last_index_offset: u32,
    /// Highest data offset referenced in the active data file: the data
    /// tail scan starts there.
    data_scan_start: u64,
}

impl Default for KeyIndex {
    fn default() -> KeyIndex {
        KeyIndex::User(HashMap::new())
    }
}

impl Replay {
    /// Replays one index file; returns where its valid entries end. For the
    /// last file, `data_len` is the active data file's length and entries
    /// whose payload runs past it count as torn.
    fn file(
        &mut self,
        file: &File,
        id: u32,
        len: u64,
        mode: Mode,
        data_len: Option<u64>,
    ) -> io::Result<u64> {
        let mut scan = IndexScan::new(file, INDEX_HEADER_LEN as u64, len);
        if let KeyIndex::Seq(table) = &mut self.keys {
            table.first_ids.resize(id as usize, 0);
            table.first_ids.push(self.stats.next_internal_id);
        }
        loop {
            let at = scan.pos();
            let Some(item) = scan.next_entry()? else {
                return Ok(scan.pos());
            };
            let entry = item.entry;
            let valid_key = match mode {
                Mode::User => entry.key_len > 0,
                Mode::Seq => usize::from(entry.key_len) == SEQ_KEY_LEN,
            };
            let data_id = match mode {
                Mode::User => id,
                Mode::Seq => entry.data_id,
            };
            let in_active_data = data_len.is_some() && data_id == id;
            let data_end = u64::from(entry.data_offset)
                + DATA_ENTRY_FIXED as u64
                + u64::from(entry.key_len)
                + u64::from(entry.length);
            if !valid_key || (in_active_data && data_end > data_len.unwrap_or(0)) {
                return Ok(at);
            }
            if in_active_data {
                self.data_scan_start = self.data_scan_start.max(u64::from(entry.data_offset));
            }
            self.last_index_offset = u32::try_from(item.offset).unwrap_or(u32::MAX);
            self.stats.next_internal_id += 1;
            match &mut self.keys {
                KeyIndex::User(map) => {
                    if entry.is_deleted() {
                        map.remove(item.key);
                    } else {
                        let slot = UserSlot {
                            file_id: id,
                            index_offset: item.offset as u32,
                            data_offset: entry.data_offset,
                            length: entry.length,
                            crc: entry.crc,
                            timestamp: entry.timestamp,
                        };
                        map.insert(item.key.into(), slot);
                    }
                }
                KeyIndex::Seq(_) => {
                    if !entry.is_deleted() {
                        self.stats.entries += 1;
                        self.stats.used += u64::from(entry.length);
                        self.stats.index_size += C_ENTRY_OVERHEAD + SEQ_KEY_LEN as u64;
                    }
                }
            }
        }
    }
}
