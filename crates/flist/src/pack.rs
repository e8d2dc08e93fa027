//! Building an flist from a directory: every object becomes an inode row,
//! every regular file is cut into 512 KiB blocks that are encrypted and
//! uploaded (unless the store has them already), hardlinks and xattrs are
//! kept in the extension tables.
//!
//! The walk and the `.fl` writes happen on the calling thread (SQLite is
//! single-writer); reading, hashing, encrypting and uploading files run on
//! a pool of worker threads, one whole file per task so that block order
//! inside a file needs no bookkeeping.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use crate::block::{encode_block_with, BlockRef, Codec, BLOCK_SIZE};
use crate::fl::{FlError, FlWriter, Inode};
use crate::store::{BlockStore, StoreError};
use crate::xattr;

/// Why a pack failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading the source tree failed.
    #[error("read {path}: {source}")]
    Source {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Writing the `.fl` failed.
    #[error(transparent)]
    Fl(#[from] FlError),
    /// Uploading a block failed.
    #[error("upload a block of {path}: {source}")]
    Store {
        /// The file the block belongs to.
        path: PathBuf,
        /// The underlying error.
        source: StoreError,
    },
    /// The source is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
}

/// What a pack did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackStats {
    /// Directories, root included.
    pub dirs: u64,
    /// Regular files (each hardlink name counted once).
    pub files: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Device nodes, FIFOs and sockets.
    pub specials: u64,
    /// Names that are hardlinks of an earlier file.
    pub hardlinks: u64,
    /// Extended attributes kept.
    pub xattrs: u64,
    /// Bytes of file content read.
    pub bytes: u64,
    /// Blocks referenced.
    pub blocks: u64,
    /// Blocks uploaded because the store lacked them.
    pub uploaded: u64,
    /// Bytes uploaded (encrypted).
    pub uploaded_bytes: u64,
}

/// Progress of a running pack, for display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// File bytes done so far.
    pub bytes_done: u64,
    /// File bytes in the tree.
    pub bytes_total: u64,
    /// Files done so far.
    pub files_done: u64,
    /// Regular files in the tree.
    pub files_total: u64,
    /// Blocks uploaded so far.
    pub uploaded: u64,
}

/// How to pack.
pub struct PackOptions<'a> {
    /// Worker threads reading, encrypting and uploading files.
    pub threads: usize,
    /// Called about twice a second while files are processed.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Block compression; a non-default codec is recorded in the tags.
    pub codec: Codec,
}

impl Default for PackOptions<'_> {
    fn default() -> Self {
        PackOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)),
            progress: None,
            codec: Codec::Snappy,
        }
    }
}

/// A regular file whose blocks still have to be made.
struct FileJob {
    ino: u64,
    path: PathBuf,
    size: u64,
}

/// Result of one file's blocks.
struct FileDone {
    ino: u64,
    blocks: Vec<BlockRef>,
    digest: [u8; 32],
    uploaded: u64,
    uploaded_bytes: u64,
}

fn source_err(path: &Path) -> impl FnOnce(io::Error) -> PackError {
    let path = path.to_owned();
    move |source| PackError::Source { path, source }
}

/// The inode row of a filesystem object.
fn inode_of(meta: &fs::Metadata, parent: u64, name: &[u8]) -> Inode {
    Inode {
        ino: 0,
        parent,
        name: name.to_vec(),
        size: meta.size(),
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode(),
        rdev: meta.rdev(),
        ctime: meta.ctime(),
        mtime: meta.mtime(),
    }
}

/// Packs the tree under `src` into `writer`, storing blocks in `store`.
/// Routes and tags are the caller's to add. Returns what was done.
pub fn pack_dir(
    src: &Path,
    writer: &mut FlWriter,
    store: &dyn BlockStore,
    options: &PackOptions<'_>,
) -> Result<PackStats, PackError> {
    let meta = fs::symlink_metadata(src).map_err(source_err(src))?;
    if !meta.is_dir() {
        return Err(PackError::NotADirectory(src.to_owned()));
    }
    let mut stats = PackStats::default();
    let mut jobs = Vec::new();
    let mut walk = Walk {
        writer,
        stats: &mut stats,
        jobs: &mut jobs,
        links: HashMap::new(),
        hardlinks: Vec::new(),
    };
    let root = walk.writer.root(&inode_of(&meta, 0, b"/"))?;
    if options.codec != Codec::Snappy {
        walk.writer.set_tag(Codec::TAG, options.codec.name())?;
    }
    walk.stats.dirs += 1;
    walk.xattrs(root, src)?;
    walk.dir(src, root)?;
    let hardlinks = std::mem::take(&mut walk.hardlinks);
    let done = run_jobs(&jobs, store, options)?;
    store.sync().map_err(|source| PackError::Store {
        path: src.to_owned(),
        source,
    })?;
    let mut blocks_of: HashMap<u64, Vec<BlockRef>> = HashMap::new();
    for file in done {
        for block in &file.blocks {
            writer.add_block(file.ino, block)?;
        }
        if file.blocks.len() > 1 {
            writer.set_digest(file.ino, "blake2b-256", &file.digest)?;
        }
        stats.blocks += file.blocks.len() as u64;
        stats.uploaded += file.uploaded;
        stats.uploaded_bytes += file.uploaded_bytes;
        blocks_of.insert(file.ino, file.blocks);
    }
    // A hardlink name is its own inode for rfs (which knows no hardlinks):
    // it gets the same block rows, and our table says whose name it is.
    for (ino, target) in hardlinks {
        for block in blocks_of
            .get(&target)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            writer.add_block(ino, block)?;
        }
        writer.set_hardlink(ino, target)?;
    }
    stats.bytes = jobs.iter().map(|j| j.size).sum();
    Ok(stats)
}

/// Depth-first walk state: inodes are written as they are met.
struct Walk<'w> {
    writer: &'w mut FlWriter,
    stats: &'w mut PackStats,
    jobs: &'w mut Vec<FileJob>,
    /// (device, inode) of files with several links → their first `.fl` ino.
    links: HashMap<(u64, u64), u64>,
    /// (ino, target ino) of later names of a hardlinked file.
    hardlinks: Vec<(u64, u64)>,
}

impl Walk<'_> {
    fn dir(&mut self, path: &Path, ino: u64) -> Result<(), PackError> {
        let mut entries: Vec<_> = fs::read_dir(path)
            .map_err(source_err(path))?
            .collect::<Result<_, _>>()
            .map_err(source_err(path))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let child = entry.path();
            let meta = fs::symlink_metadata(&child).map_err(source_err(&child))?;
            let name = entry.file_name();
            let node = inode_of(&meta, ino, name.as_bytes());
            let kind = meta.file_type();
            if kind.is_file() && meta.nlink() > 1 {
                if let Some(&first) = self.links.get(&(meta.dev(), meta.ino())) {
                    let new = self.writer.add_inode(&node)?;
                    self.hardlinks.push((new, first));
                    self.stats.hardlinks += 1;
                    continue;
                }
            }
            let new = self.writer.add_inode(&node)?;
            self.xattrs(new, &child)?;
            if kind.is_dir() {
                self.stats.dirs += 1;
                self.dir(&child, new)?;
            } else if kind.is_file() {
                self.stats.files += 1;
                if meta.nlink() > 1 {
                    self.links.insert((meta.dev(), meta.ino()), new);
                }
                self.jobs.push(FileJob {
                    ino: new,
                    path: child,
                    size: meta.size(),
                });
            } else if kind.is_symlink() {
                self.stats.symlinks += 1;
                let target = fs::read_link(&child).map_err(source_err(&child))?;
                self.writer
                    .set_symlink_target(new, target.as_os_str().as_bytes())?;
            } else {
                self.stats.specials += 1;
            }
        }
        Ok(())
    }

    fn xattrs(&mut self, ino: u64, path: &Path) -> Result<(), PackError> {
        for (name, value) in xattr::list(path).map_err(source_err(path))? {
            self.writer.add_xattr(ino, &name, &value)?;
            self.stats.xattrs += 1;
        }
        Ok(())
    }
}

/// Reads `buf.len()` bytes unless the input ends first; returns the count.
/// (A single `read` may return less than asked; blocks must be full.)
pub(crate) fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encodes one plaintext block and uploads it unless the store has it
/// already; returns its reference and, when it was uploaded, the number of
/// encrypted bytes sent.
pub(crate) fn store_block(
    plain: &[u8],
    store: &dyn BlockStore,
    codec: Codec,
) -> Result<(BlockRef, Option<u64>), StoreError> {
    let (block, cipher) = encode_block_with(plain, codec);
    if store.exists(&block.id)? {
        return Ok((block, None));
    }
    store.put(&block.id, &cipher)?;
    Ok((block, Some(cipher.len() as u64)))
}

/// Cuts, encrypts and uploads one file.
fn pack_file(
    job: &FileJob,
    store: &dyn BlockStore,
    codec: Codec,
    done_bytes: &AtomicU64,
) -> Result<FileDone, PackError> {
    let mut file = File::open(&job.path).map_err(source_err(&job.path))?;
    let mut buf = vec![0u8; BLOCK_SIZE];
    let mut digest = Blake2b::<U32>::new();
    let mut out = FileDone {
        ino: job.ino,
        blocks: Vec::new(),
        digest: [0; 32],
        uploaded: 0,
        uploaded_bytes: 0,
    };
    loop {
        let n = read_full(&mut file, &mut buf).map_err(source_err(&job.path))?;
        if n == 0 {
            break;
        }
        let plain = &buf[..n];
        digest.update(plain);
        let (block, uploaded) =
            store_block(plain, store, codec).map_err(|source| PackError::Store {
                path: job.path.clone(),
                source,
            })?;
        if let Some(bytes) = uploaded {
            out.uploaded += 1;
            out.uploaded_bytes += bytes;
        }
        out.blocks.push(block);
        done_bytes.fetch_add(n as u64, Ordering::Relaxed);
        if n < BLOCK_SIZE {
            break;
        }
    }
    out.digest = digest.finalize().into();
    Ok(out)
}

/// Runs the file jobs on worker threads; results come back in any order.
fn run_jobs(
    jobs: &[FileJob],
    store: &dyn BlockStore,
    options: &PackOptions<'_>,
) -> Result<Vec<FileDone>, PackError> {
    let next = AtomicUsize::new(0);
    let done_bytes = AtomicU64::new(0);
    let uploaded = AtomicU64::new(0);
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let (tx, rx) = mpsc::channel::<Result<FileDone, PackError>>();
    std::thread::scope(|scope| {
        for _ in 0..options.threads.max(1) {
            let tx = tx.clone();
            let (next, done_bytes, uploaded) = (&next, &done_bytes, &uploaded);
            scope.spawn(move || loop {
                let idx = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(idx) else { return };
                let res = pack_file(job, store, options.codec, done_bytes);
                if let Ok(file) = &res {
                    uploaded.fetch_add(file.uploaded, Ordering::Relaxed);
                }
                let failed = res.is_err();
                if tx.send(res).is_err() || failed {
                    // Stop handing out work after a failure.
                    next.store(jobs.len(), Ordering::Relaxed);
                    return;
                }
            });
        }
        drop(tx);
        let mut results = Vec::with_capacity(jobs.len());
        let mut last_report = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(Ok(file)) => results.push(file),
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if let Some(report) = options.progress {
                if last_report.elapsed() >= Duration::from_millis(500) {
                    last_report = Instant::now();
                    report(Progress {
                        bytes_done: done_bytes.load(Ordering::Relaxed),
                        bytes_total: total,
                        files_done: results.len() as u64,
                        files_total: jobs.len() as u64,
                        uploaded: uploaded.load(Ordering::Relaxed),
                    });
                }
            }
        }
        Ok(results)
    })
}
