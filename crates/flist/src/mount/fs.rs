//! The FUSE operations: lookup, attributes, listing, links, xattrs and reads over one `.fl`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fuser::{
    Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyXattr, Request,
};

use super::fetch::Fetcher;
use super::meta::{self, LinkGroups, ReaderPool};
use crate::block::{BlockRef, BLOCK_SIZE};
use crate::fl::{FlCounts, FlError, FlReader, Inode, MAX_NAME_LEN};

/// How long the kernel may keep names and attributes: the image never changes.
const TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Entries fetched per `children` query while listing.
const PAGE: usize = 256;
/// A block that keeps failing is logged at most this often.
const RELOG_AFTER: Duration = Duration::from_secs(60);
/// How many files beyond the one opened have their first blocks fetched when
/// opens walk the inodes in order (`tar`, `cp -r`, `find -exec cat`): packing
/// numbers a directory's files one after the other, so the next opens are
/// predictable and their blocks can be in flight before they are asked for.
const SCAN_AHEAD: u64 = 16;
/// Directory offsets of `.` and `..`; entries follow at `ino + 2`.
const DOT: u64 = 1;
const DOTDOT: u64 = 2;

/// An open regular file: its size and blocks, loaded once per `open`.
struct OpenFile {
    ino: u64,
    size: u64,
    blocks: Vec<BlockRef>,
    /// Block index the previous read ended in (for read-ahead).
    last_block: AtomicU64,
}

/// The read-only filesystem over one flist.
pub(super) struct FlistFs {
    readers: ReaderPool,
    links: LinkGroups,
    counts: FlCounts,
    fetcher: Arc<Fetcher>,
    readahead: usize,
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    next_fh: AtomicU64,
    /// Link counts of directories seen so far (2 + subdirectories).
    dir_links: Mutex<HashMap<u64, u32>>,
    /// Blocks whose failure was logged, and when.
    logged: Mutex<HashMap<[u8; 32], Instant>>,
    /// The inode opened last, to recognise a scan.
    last_open: AtomicU64,
    /// The highest inode whose blocks a scan has already queued.
    scanned_to: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A `.fl` that cannot be read any more (or holds nonsense) fails the call.
fn fl_errno(e: FlError) -> Errno {
    tracing::error!("failed to read flist metadata: {e}");
    Errno::EIO
}

impl FlistFs {
    pub(super) fn new(
        readers: ReaderPool,
        links: LinkGroups,
        counts: FlCounts,
        fetcher: Arc<Fetcher>,
        readahead: usize,
    ) -> FlistFs {
        FlistFs {
            readers,
            links,
            counts,
            fetcher,
            readahead,
            files: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            dir_links: Mutex::new(HashMap::new()),
            logged: Mutex::new(HashMap::new()),
            last_open: AtomicU64::new(u64::MAX),
            scanned_to: AtomicU64::new(0),
        }
    }

    /// When `ino` follows the previous open closely, queues the first blocks
    /// of the next [`SCAN_AHEAD`] files (those not queued by an earlier call).
    fn scan_ahead(&self, reader: &FlReader, ino: u64) -> Result<(), FlError> {
        let prev = self.last_open.swap(ino, Ordering::Relaxed);
        let scanned = self.scanned_to.load(Ordering::Relaxed);
        let Some(window) = scan_window(prev, ino, scanned) else {
            return Ok(());
        };
        // a concurrent open may ask for some of the same blocks; the fetcher skips those it
        // holds or has queued
        self.scanned_to.fetch_max(*window.end(), Ordering::Relaxed);
        for next in window {
            let Some(inode) = reader.inode(next)? else {
                continue;
            };
            if inode.is_file() && inode.size > 0 {
                let blocks = reader.blocks(next)?;
                self.fetcher
                    .queue(&blocks[..blocks.len().min(self.readahead.max(1))]);
            }
        }
        Ok(())
    }

    /// The inode shown for `inode`: a later hardlink name shows its group's row.
    fn shown(&self, reader: &FlReader, inode: Inode) -> Result<Inode, FlError> {
        let group = self.links.group(inode.ino);
        if group == inode.ino {
            return Ok(inode);
        }
        Ok(reader.inode(group)?.unwrap_or(inode))
    }

    fn attr_of(&self, reader: &FlReader, inode: &Inode) -> Result<FileAttr, FlError> {
        let nlink = if inode.is_dir() {
            self.dir_nlink(reader, inode.ino)?
        } else {
            self.links.nlink(inode.ino)
        };
        Ok(meta::attr(inode, inode.ino, nlink))
    }

    /// 2 + the number of subdirectories, counted once per directory.
    fn dir_nlink(&self, reader: &FlReader, ino: u64) -> Result<u32, FlError> {
        if let Some(&n) = lock(&self.dir_links).get(&ino) {
            return Ok(n);
        }
        let mut n = 2u32;
        let mut after = 0;
        loop {
            let page = reader.children(ino, after, PAGE * 4)?;
            let Some(last) = page.last() else { break };
            after = last.ino;
            let subdirs = page.iter().filter(|c| c.is_dir()).count();
            n = n.saturating_add(u32::try_from(subdirs).unwrap_or(u32::MAX));
        }
        lock(&self.dir_links).insert(ino, n);
        Ok(n)
    }

    fn open_file(&self, reader: &FlReader, ino: u64) -> Result<Option<OpenFile>, FlError> {
        let Some(inode) = reader.inode(ino)? else {
            return Ok(None);
        };
        Ok(Some(OpenFile {
            ino,
            size: inode.size,
            blocks: reader.blocks(ino)?,
            last_block: AtomicU64::new(u64::MAX),
        }))
    }

    /// Logs a failed block once per [`RELOG_AFTER`], naming the file.
    fn report(&self, file: &OpenFile, idx: usize, id: Option<&[u8; 32]>, why: &str) {
        // Without a block id, the file itself is the key.
        let key = id.copied().unwrap_or_else(|| {
            let mut key = [0xff; 32];
            key[..8].copy_from_slice(&file.ino.to_le_bytes());
            key
        });
        {
            let mut logged = lock(&self.logged);
            let now = Instant::now();
            if logged
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < RELOG_AFTER)
            {
                tracing::debug!(ino = file.ino, block = idx, "read failed again: {why}");
                return;
            }
            logged.retain(|_, at| now.duration_since(*at) < RELOG_AFTER);
            logged.insert(key, now);
        }
        let path = self
            .readers
            .with(|r| r.path_of(file.ino))
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_else(|_| format!("inode {}", file.ino));
        let id = id.map_or_else(|| "none".to_string(), hex::encode);
        tracing::error!("failed to read {path}: block {idx} ({id}): {why}");
    }

    /// Bytes `offset..offset + size` of `file`, block by block.
    fn read_range(&self, file: &OpenFile, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        if offset >= file.size || size == 0 {
            return Ok(Vec::new());
        }
        let end = file.size.min(offset.saturating_add(size.into()));
        let bs = BLOCK_SIZE as u64;
        let (first, last) = (offset / bs, (end - 1) / bs);
        let mut out = Vec::with_capacity((end - offset) as usize);
        for idx in first..=last {
            let idx = idx as usize;
            let Some(block) = file.blocks.get(idx) else {
                let why = format!(
                    "the flist lists {} blocks for {} bytes",
                    file.blocks.len(),
                    file.size
                );
                self.report(file, idx, None, &why);
                return Err(Errno::EIO);
            };
            let plain = self.fetcher.get(block).map_err(|e| {
                self.report(file, idx, Some(&block.id), &e.to_string());
                Errno::EIO
            })?;
            let start = idx as u64 * bs;
            let expected = (file.size - start).min(bs) as usize;
            if plain.len() != expected {
                let why = format!("block holds {} bytes, expected {expected}", plain.len());
                self.report(file, idx, Some(&block.id), &why);
                return Err(Errno::EIO);
            }
            let from = (offset.max(start) - start) as usize;
            let to = (end.min(start + bs) - start) as usize;
            out.extend_from_slice(&plain[from..to]);
        }
        // Read ahead when a sequential reader (one that starts where the
        // previous read ended, or at block 0) enters a new block.
        let prev = file.last_block.swap(last, Ordering::Relaxed);
        if prev != last && (first == prev || first == prev.wrapping_add(1)) {
            let ahead = file.blocks.get(last as usize + 1..).unwrap_or_default();
            self.fetcher
                .queue(&ahead[..ahead.len().min(self.readahead)]);
        }
        Ok(out)
    }
}

impl Filesystem for FlistFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if name.len() > MAX_NAME_LEN {
            return reply.error(Errno::ENAMETOOLONG);
        }
        let found = self
            .readers
            .with(|r| match r.lookup(parent.0, name.as_bytes())? {
                Some(child) => {
                    let shown = self.shown(r, child)?;
                    self.attr_of(r, &shown).map(Some)
                }
                None => Ok(None),
            });
        match found {
            Ok(Some(attr)) => reply.entry(&TTL, &attr, Generation(0)),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(fl_errno(e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let found = self.readers.with(|r| match r.inode(ino.0)? {
            Some(inode) => self.attr_of(r, &inode).map(Some),
            None => Ok(None),
        });
        match found {
            Ok(Some(attr)) => reply.attr(&TTL, &attr),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(fl_errno(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let found = self.readers.with(|r| match r.inode(ino.0)? {
            Some(inode) if inode.is_symlink() => Ok(Ok(r.symlink_target(ino.0)?)),
            Some(_) => Ok(Err(Errno::EINVAL)),
            None => Ok(Err(Errno::ENOENT)),
        });
        match found {
            Ok(Ok(Some(target))) => reply.data(&target),
            Ok(Ok(None)) => {
                tracing::error!(ino = ino.0, "symlink has no target in the flist");
                reply.error(Errno::EIO)
            }
            Ok(Err(errno)) => reply.error(errno),
            Err(e) => reply.error(fl_errno(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
            return reply.error(Errno::EROFS);
        }
        let opened = self.readers.with(|r| {
            let file = self.open_file(r, ino.0)?;
            if file.is_some() {
                if let Err(e) = self.scan_ahead(r, ino.0) {
                    tracing::debug!("scan read-ahead after inode {}: {e}", ino.0);
                }
            }
            Ok(file)
        });
        match opened {
            Ok(Some(file)) => {
                let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
                lock(&self.files).insert(fh, Arc::new(file));
                reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE)
            }
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(fl_errno(e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        lock(&self.files).remove(&fh.0);
        reply.ok();
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let open = lock(&self.files).get(&fh.0).cloned();
        let file = match open {
            Some(file) if file.ino == ino.0 => file,
            _ => match self.readers.with(|r| self.open_file(r, ino.0)) {
                Ok(Some(file)) => Arc::new(file),
                Ok(None) => return reply.error(Errno::ENOENT),
                Err(e) => return reply.error(fl_errno(e)),
            },
        };
        match self.read_range(&file, offset, size) {
            Ok(data) => reply.data(&data),
            Err(errno) => reply.error(errno),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listed = self.readers.with(|r| {
            let Some(dir) = r.inode(ino.0)? else {
                return Ok(Err(Errno::ENOENT));
            };
            if !dir.is_dir() {
                return Ok(Err(Errno::ENOTDIR));
            }
            let parent = if dir.parent == 0 { dir.ino } else { dir.parent };
            let dots = [(DOT, dir.ino, "."), (DOTDOT, parent, "..")];
            for (off, dot_ino, name) in dots {
                if offset < off
                    && reply.add(INodeNo(dot_ino), off, fuser::FileType::Directory, name)
                {
                    return Ok(Ok(()));
                }
            }
            let mut after = offset.saturating_sub(DOTDOT);
            loop {
                let page = r.children(dir.ino, after, PAGE)?;
                if page.is_empty() {
                    return Ok(Ok(()));
                }
                for child in page {
                    after = child.ino;
                    let kind = meta::fuse_type(&child);
                    let shown = INodeNo(self.links.group(child.ino));
                    let name = OsStr::from_bytes(&child.name);
                    if reply.add(shown, child.ino + DOTDOT, kind, name) {
                        return Ok(Ok(()));
                    }
                }
            }
        });
        match listed {
            Ok(Ok(())) => reply.ok(),
            Ok(Err(errno)) => reply.error(errno),
            Err(e) => reply.error(fl_errno(e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let bsize = 4096u64;
        let blocks = self.counts.total_size.div_ceil(bsize);
        let files = self.counts.n_inodes;
        reply.statfs(
            blocks,
            0,
            0,
            files,
            0,
            bsize as u32,
            MAX_NAME_LEN as u32,
            bsize as u32,
        );
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let found = self.readers.with(|r| {
            let xattrs = r.xattrs(ino.0)?;
            Ok(xattrs.into_iter().find(|(n, _)| n == name.as_bytes()))
        });
        match found {
            Ok(Some((_, value))) => reply_sized(reply, size, &value),
            Ok(None) => reply.error(Errno::NO_XATTR),
            Err(e) => reply.error(fl_errno(e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.readers.with(|r| r.xattrs(ino.0)) {
            Ok(xattrs) => {
                let mut names = Vec::new();
                for (name, _) in xattrs {
                    names.extend_from_slice(&name);
                    names.push(0);
                }
                reply_sized(reply, size, &names)
            }
            Err(e) => reply.error(fl_errno(e)),
        }
    }
}

/// The xattr size protocol: size 0 asks for the length, a buffer too small
/// for the value is `ERANGE`.
fn reply_sized(reply: ReplyXattr, size: u32, value: &[u8]) {
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    if size == 0 {
        reply.size(len);
    } else if len > size {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}

/// The inodes whose first blocks a scan read-ahead queues when `ino` is opened right after
/// `prev`, inodes up to `scanned` having been queued before; `None` when the opens are not a
/// scan (out of order, or too far apart).
fn scan_window(prev: u64, ino: u64, scanned: u64) -> Option<std::ops::RangeInclusive<u64>> {
    if ino <= prev || ino - prev > SCAN_AHEAD {
        return None;
    }
    let to = ino.saturating_add(SCAN_AHEAD);
    Some(scanned.max(ino) + 1..=to)
}

#[cfg(test)]
mod tests {
    use super::{scan_window, SCAN_AHEAD};

    #[test]
    fn only_opens_in_order_and_close_together_scan_ahead() {
        // the first open, and opens out of order, are not a scan
        assert_eq!(scan_window(u64::MAX, 5, 0), None);
        assert_eq!(scan_window(5, 2, 0), None);
        assert_eq!(scan_window(5, 5, 0), None);
        // nor are opens further apart than a window
        assert_eq!(scan_window(2, 3 + SCAN_AHEAD, 0), None);
        // the next file: the window after it
        assert_eq!(scan_window(2, 3, 0), Some(4..=3 + SCAN_AHEAD));
        // what an earlier window queued is not queued again
        assert_eq!(
            scan_window(3, 4, 3 + SCAN_AHEAD),
            Some(4 + SCAN_AHEAD..=4 + SCAN_AHEAD)
        );
    }
}
