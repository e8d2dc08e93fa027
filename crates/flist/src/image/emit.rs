//! Pass two and the output: reading the layers again, cutting only the surviving files into blocks on worker threads, then writing the tree to the `.fl`.
//!
//! The calling thread reads the layers in order (they are single streams)
//! and hands each 512 KiB block to a bounded queue; workers encrypt and
//! upload blocks in any order, and the results are put back in file order
//! before any row is written. Layers none of whose files survived are not
//! read again. A layer with a known digest is read to its end so the
//! digest is checked again: what is stored is what was verified.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use crate::block::{BlockRef, BLOCK_SIZE};
use crate::fl::{FlWriter, Inode, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};
use crate::pack::{read_full, store_block, PackOptions, PackStats, Progress};
use crate::store::{BlockStore, StoreError};

use super::input::{bytes_read, finish_stream, open_stream, Stream};
use super::tar::{Entry, EntryKind};
use super::tree::{Kind, ObjId, Tree, ROOT};
use super::{read_error, tar_error, verify_layer, ImageError, ImageLimits, Source};

/// Size recorded for directories (what ext4 reports for a small one).
const DIR_SIZE: u64 = 4096;

/// The blocks and digest of one file.
pub(super) struct FileBlocks {
    blocks: Vec<BlockRef>,
    digest: [u8; 32],
}

/// What pass two produced.
pub(super) struct Chunked {
    /// Blocks of every non-empty surviving file.
    pub(super) files: HashMap<ObjId, FileBlocks>,
    pub(super) uploaded: u64,
    pub(super) uploaded_bytes: u64,
}

/// A block on its way to a worker.
struct BlockJob {
    obj: ObjId,
    idx: usize,
    data: Vec<u8>,
}

/// A block encrypted and stored.
struct BlockDone {
    obj: ObjId,
    idx: usize,
    block: BlockRef,
    uploaded: Option<u64>,
}

/// Reads the winners' bytes and stores their blocks.
pub(super) fn chunk(
    source: &Source<'_>,
    tree: &Tree,
    store: &dyn BlockStore,
    opts: &PackOptions<'_>,
    limits: &ImageLimits,
) -> Result<Chunked, ImageError> {
    let wanted = winners(tree, source.layers.len());
    let mut producer = Producer {
        source,
        tree,
        limits,
        opts,
        digests: HashMap::new(),
        bytes_done: 0,
        files_done: 0,
        bytes_total: wanted
            .iter()
            .flatten()
            .map(|&(_, o)| size_of(tree, o))
            .sum(),
        files_total: wanted.iter().map(Vec::len).sum::<usize>() as u64,
        last_report: Instant::now(),
    };
    let done = with_workers(store, tree, opts.threads.max(1), opts.codec, |pipe| {
        producer.run(&wanted, pipe)
    })?;
    let mut files: HashMap<ObjId, (Vec<Option<BlockRef>>, [u8; 32])> = producer
        .digests
        .into_iter()
        .map(|(obj, digest)| {
            let n = size_of(tree, obj).div_ceil(BLOCK_SIZE as u64) as usize;
            (obj, (vec![None; n], digest))
        })
        .collect();
    let mut chunked = Chunked {
        files: HashMap::with_capacity(files.len()),
        uploaded: 0,
        uploaded_bytes: 0,
    };
    for d in done {
        if let Some(slot) = files.get_mut(&d.obj).and_then(|f| f.0.get_mut(d.idx)) {
            *slot = Some(d.block);
        }
        if let Some(bytes) = d.uploaded {
            chunked.uploaded += 1;
            chunked.uploaded_bytes += bytes;
        }
    }
    for (obj, (blocks, digest)) in files {
        let blocks = blocks
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .expect("workers report every block unless the run failed");
        chunked.files.insert(obj, FileBlocks { blocks, digest });
    }
    Ok(chunked)
}

fn size_of(tree: &Tree, obj: ObjId) -> u64 {
    match tree.obj(obj).kind {
        Kind::File { size, .. } => size,
        _ => 0,
    }
}

/// Per layer, the (entry ordinal, object) of every reachable non-empty
/// file, in archive order.
fn winners(tree: &Tree, n_layers: usize) -> Vec<Vec<(u64, ObjId)>> {
    let mut wanted = vec![Vec::new(); n_layers];
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![ROOT];
    while let Some(node) = stack.pop() {
        let node = tree.node(node);
        stack.extend(node.children.values());
        if let Kind::File { size, source } = &tree.obj(node.obj).kind {
            if *size > 0 && seen.insert(node.obj) {
                wanted[source.layer].push((source.ordinal, node.obj));
            }
        }
    }
    for files in &mut wanted {
        files.sort_unstable();
    }
    wanted
}

/// The queue to the workers.
struct Pipeline<'a> {
    tx: mpsc::SyncSender<BlockJob>,
    failed: &'a AtomicBool,
    uploaded: &'a AtomicU64,
}

impl Pipeline<'_> {
    /// Queues a block; false once a worker has failed.
    fn send(&self, job: BlockJob) -> bool {
        !self.failed.load(Ordering::Relaxed) && self.tx.send(job).is_ok()
    }
}

/// Runs `produce` with `threads` workers storing what it queues; returns
/// every stored block, or the first error.
fn with_workers(
    store: &dyn BlockStore,
    tree: &Tree,
    threads: usize,
    codec: crate::block::Codec,
    produce: impl FnOnce(&Pipeline<'_>) -> Result<(), ImageError>,
) -> Result<Vec<BlockDone>, ImageError> {
    let (tx, rx) = mpsc::sync_channel::<BlockJob>(threads * 2);
    let rx = Mutex::new(rx);
    let (done_tx, done_rx) = mpsc::channel::<Result<BlockDone, (ObjId, StoreError)>>();
    let failed = AtomicBool::new(false);
    let uploaded = AtomicU64::new(0);
    let res = std::thread::scope(|scope| {
        for _ in 0..threads {
            let (rx, done_tx, failed, uploaded) = (&rx, done_tx.clone(), &failed, &uploaded);
            scope.spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                if failed.load(Ordering::Relaxed) {
                    continue; // drain the queue so the producer never blocks
                }
                let res = match store_block(&job.data, store, codec) {
                    Ok((block, up)) => {
                        if up.is_some() {
                            uploaded.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(BlockDone {
                            obj: job.obj,
                            idx: job.idx,
                            block,
                            uploaded: up,
                        })
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        Err((job.obj, e))
                    }
                };
                if done_tx.send(res).is_err() {
                    return;
                }
            });
        }
        let pipe = Pipeline {
            tx,
            failed: &failed,
            uploaded: &uploaded,
        };
        let res = produce(&pipe);
        if res.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        res
    });
    drop(done_tx);
    res?;
    let mut done = Vec::new();
    for result in done_rx {
        match result {
            Ok(block) => done.push(block),
            Err((obj, source)) => {
                let entry = match &tree.obj(obj).kind {
                    Kind::File { source, .. } => String::from_utf8_lossy(&source.entry).into(),
                    _ => String::new(),
                };
                return Err(ImageError::Store { entry, source });
            }
        }
    }
    Ok(done)
}

/// The reading side of pass two.
struct Producer<'a> {
    source: &'a Source<'a>,
    tree: &'a Tree,
    limits: &'a ImageLimits,
    opts: &'a PackOptions<'a>,
    digests: HashMap<ObjId, [u8; 32]>,
    bytes_done: u64,
    files_done: u64,
    bytes_total: u64,
    files_total: u64,
    last_report: Instant,
}

impl Producer<'_> {
    fn run(&mut self, wanted: &[Vec<(u64, ObjId)>], pipe: &Pipeline<'_>) -> Result<(), ImageError> {
        let mut budget = self.limits.max_total_bytes;
        for (layer, files) in self.source.layers.iter().zip(wanted) {
            if files.is_empty() {
                continue;
            }
            let what = &layer.label;
            let verify = layer.digest.is_some() || layer.diff_id.is_some();
            let raw = self.source.open(layer)?;
            let mut stream = open_stream(
                raw,
                layer.digest.is_some(),
                layer.diff_id.is_some(),
                budget,
                self.limits.tar(),
            )
            .map_err(|e| read_error(what, e))?;
            let mut next = 0;
            let mut ordinal = 0;
            while next < files.len() || verify {
                let Some(entry) = stream.next_entry().map_err(|e| tar_error(what, e))? else {
                    break;
                };
                if let Some(&(_, obj)) = files.get(next).filter(|&&(o, _)| o == ordinal) {
                    next += 1;
                    self.check_same(what, &entry, obj)?;
                    if !self.file(what, &mut stream, obj, pipe)? {
                        return Ok(());
                    }
                }
                ordinal += 1;
            }
            if let Some(&(_, obj)) = files.get(next) {
                return Err(self.changed(what, obj));
            }
            if verify {
                let end = finish_stream(stream).map_err(|e| read_error(what, e))?;
                verify_layer(layer, &end)?;
                budget -= end.bytes.min(budget);
            } else {
                budget -= bytes_read(&stream).min(budget);
            }
        }
        Ok(())
    }

    fn changed(&self, what: &str, obj: ObjId) -> ImageError {
        let entry = match &self.tree.obj(obj).kind {
            Kind::File { source, .. } => String::from_utf8_lossy(&source.entry).into_owned(),
            _ => String::new(),
        };
        ImageError::Changed {
            what: what.to_owned(),
            entry,
        }
    }

    /// Checks that the entry read now is the one pass one chose.
    fn check_same(&self, what: &str, entry: &Entry, obj: ObjId) -> Result<(), ImageError> {
        match &self.tree.obj(obj).kind {
            Kind::File { size, source }
                if entry.kind == EntryKind::File
                    && entry.size == *size
                    && entry.path == source.entry => {}
            _ => return Err(self.changed(what, obj)),
        }
        Ok(())
    }

    /// Queues the blocks of one file; false if the workers failed.
    fn file(
        &mut self,
        what: &str,
        stream: &mut Stream,
        obj: ObjId,
        pipe: &Pipeline<'_>,
    ) -> Result<bool, ImageError> {
        let mut left = size_of(self.tree, obj);
        let mut digest = Blake2b::<U32>::new();
        let mut idx = 0;
        while left > 0 {
            let mut data = vec![0u8; (BLOCK_SIZE as u64).min(left) as usize];
            let n = read_full(stream, &mut data).map_err(|e| read_error(what, e))?;
            if n < data.len() {
                return Err(ImageError::Truncated {
                    what: what.to_owned(),
                });
            }
            digest.update(&data);
            left -= n as u64;
            self.bytes_done += n as u64;
            if !pipe.send(BlockJob { obj, idx, data }) {
                return Ok(false);
            }
            idx += 1;
            self.report(pipe);
        }
        self.digests.insert(obj, digest.finalize().into());
        self.files_done += 1;
        Ok(true)
    }

    fn report(&mut self, pipe: &Pipeline<'_>) {
        let Some(report) = self.opts.progress else {
            return;
        };
        if self.last_report.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last_report = Instant::now();
        report(Progress {
            bytes_done: self.bytes_done,
            bytes_total: self.bytes_total,
            files_done: self.files_done,
            files_total: self.files_total,
            uploaded: pipe.uploaded.load(Ordering::Relaxed),
        });
    }
}

/// Writes the tree depth first (names in byte order) with block rows,
/// digests, symlink targets, xattrs and hardlinks.
pub(super) fn write(
    tree: &Tree,
    files: &HashMap<ObjId, FileBlocks>,
    writer: &mut FlWriter,
) -> Result<PackStats, ImageError> {
    let mut stats = PackStats::default();
    let mut first_ino: HashMap<ObjId, u64> = HashMap::new();
    let mut stack = vec![(ROOT, 0)];
    while let Some((id, parent)) = stack.pop() {
        let node = tree.node(id);
        let obj = tree.obj(node.obj);
        let (type_bits, size, rdev) = match &obj.kind {
            Kind::Dir => (S_IFDIR, DIR_SIZE, 0),
            Kind::File { size, .. } => (S_IFREG, *size, 0),
            Kind::Symlink(target) => (S_IFLNK, target.len() as u64, 0),
            Kind::CharDevice(rdev) => (S_IFCHR, 0, *rdev),
            Kind::BlockDevice(rdev) => (S_IFBLK, 0, *rdev),
            Kind::Fifo => (S_IFIFO, 0, 0),
        };
        let inode = Inode {
            ino: 0,
            parent,
            name: node.name.clone(),
            size,
            uid: obj.uid,
            gid: obj.gid,
            mode: type_bits | obj.mode,
            rdev,
            ctime: obj.mtime,
            mtime: obj.mtime,
        };
        let ino = if id == ROOT {
            writer.root(&inode)?
        } else {
            writer.add_inode(&inode)?
        };
        let blocks = files.get(&node.obj).map_or(&[][..], |f| &f.blocks[..]);
        if let Some(&first) = first_ino.get(&node.obj) {
            for block in blocks {
                writer.add_block(ino, block)?;
            }
            if let Kind::Symlink(target) = &obj.kind {
                writer.set_symlink_target(ino, target)?;
            }
            writer.set_hardlink(ino, first)?;
            stats.hardlinks += 1;
            continue;
        }
        first_ino.insert(node.obj, ino);
        for (name, value) in &obj.xattrs {
            writer.add_xattr(ino, name, value)?;
            stats.xattrs += 1;
        }
        match &obj.kind {
            Kind::Dir => {
                stats.dirs += 1;
                stack.extend(node.children.values().rev().map(|&child| (child, ino)));
            }
            Kind::File { size, .. } => {
                for block in blocks {
                    writer.add_block(ino, block)?;
                }
                if let (true, Some(file)) = (blocks.len() > 1, files.get(&node.obj)) {
                    writer.set_digest(ino, "blake2b-256", &file.digest)?;
                }
                stats.files += 1;
                stats.bytes += size;
                stats.blocks += blocks.len() as u64;
            }
            Kind::Symlink(target) => {
                writer.set_symlink_target(ino, target)?;
                stats.symlinks += 1;
            }
            Kind::CharDevice(_) | Kind::BlockDevice(_) | Kind::Fifo => stats.specials += 1,
        }
    }
    Ok(stats)
}
