//! Background fetches at mount: the `.fl` prefetch list first, then (when asked) every block into the cache.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::fetch::Fetcher;
use crate::block::BlockRef;
use crate::fl::{FlError, FlReader, Walk};

/// How far a background fill has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FillProgress {
    /// Distinct blocks now verified in the cache.
    pub done: u64,
    /// Distinct blocks that could not be fetched (each logged once).
    pub failed: u64,
    /// Distinct blocks in the flist; 0 until they have been listed.
    pub total: u64,
    /// The fill has ended (completely, with failures, or stopped by an
    /// unmount). When `finished && failed == 0 && done == total`, every
    /// file can be read without the store.
    pub finished: bool,
}

impl FillProgress {
    /// Whether every block is in the cache.
    pub fn is_complete(&self) -> bool {
        self.finished && self.failed == 0 && self.done == self.total
    }
}

/// Counters shared between the fill threads and the mount handle.
#[derive(Debug, Default)]
pub(super) struct FillState {
    done: AtomicU64,
    failed: AtomicU64,
    total: AtomicU64,
    finished: AtomicBool,
}

impl FillState {
    pub(super) fn progress(&self) -> FillProgress {
        // `finished` first: once it reads true, the counters are final.
        let finished = self.finished.load(Ordering::SeqCst);
        FillProgress {
            done: self.done.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            total: self.total.load(Ordering::SeqCst),
            finished,
        }
    }
}

/// Starts the background thread: prefetch list, then the fill if `fill`
/// is given. Failures are logged; the thread ends early on unmount.
pub(super) fn spawn(
    fl: PathBuf,
    fetcher: Arc<Fetcher>,
    fill: Option<Arc<FillState>>,
    threads: usize,
) -> Option<JoinHandle<()>> {
    let state = fill.clone();
    let spawned = std::thread::Builder::new()
        .name("flist-fill".to_string())
        .spawn(move || {
            if let Err(e) = run(&fl, &fetcher, fill.as_deref(), threads) {
                tracing::error!("failed to prefetch blocks of {}: {e}", fl.display());
            }
            if let Some(state) = &fill {
                state.finished.store(true, Ordering::SeqCst);
            }
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!("failed to start the prefetch thread: {e}");
            if let Some(state) = state {
                state.finished.store(true, Ordering::SeqCst);
            }
            None
        }
    }
}

fn run(
    fl: &std::path::Path,
    fetcher: &Fetcher,
    fill: Option<&FillState>,
    threads: usize,
) -> Result<(), FlError> {
    let reader = FlReader::open(fl)?;
    let mut seen = HashSet::new();
    let mut prefetch = Vec::new();
    for ino in reader.prefetch()? {
        add_blocks(&reader, ino, &mut seen, &mut prefetch)?;
    }
    if !prefetch.is_empty() {
        tracing::debug!(blocks = prefetch.len(), "prefetching");
        fetch_all(&reader, fetcher, &prefetch, threads, None);
    }
    let Some(state) = fill else {
        return Ok(());
    };
    let mut blocks = Vec::new();
    let mut seen = HashSet::new();
    reader.walk(|_, inode| {
        if fetcher.is_stopped() {
            return Ok(Walk::Stop);
        }
        if inode.is_file() {
            add_blocks(&reader, inode.ino, &mut seen, &mut blocks)?;
        }
        Ok::<_, FlError>(Walk::Continue)
    })?;
    state.total.store(blocks.len() as u64, Ordering::SeqCst);
    fetch_all(&reader, fetcher, &blocks, threads, Some(state));
    Ok(())
}

/// Appends the blocks of file `ino` not seen before.
fn add_blocks(
    reader: &FlReader,
    ino: u64,
    seen: &mut HashSet<[u8; 32]>,
    out: &mut Vec<(BlockRef, u64)>,
) -> Result<(), FlError> {
    for r in reader.blocks(ino)? {
        if seen.insert(r.id) {
            out.push((r, ino));
        }
    }
    Ok(())
}

/// Fetches `blocks` into the cache on `threads` threads, counting into `state`.
fn fetch_all(
    reader: &FlReader,
    fetcher: &Fetcher,
    blocks: &[(BlockRef, u64)],
    threads: usize,
    state: Option<&FillState>,
) {
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let idx = next.fetch_add(1, Ordering::Relaxed);
                let Some((r, ino)) = blocks.get(idx) else {
                    return;
                };
                if fetcher.is_stopped() {
                    return;
                }
                match fetcher.ensure_cached(r) {
                    Ok(()) => {
                        if let Some(state) = state {
                            state.done.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Err(e) => {
                        if let Some(state) = state {
                            state.failed.fetch_add(1, Ordering::SeqCst);
                        }
                        let mut failures = failures.lock().unwrap_or_else(|p| p.into_inner());
                        failures.push((*r, *ino, e));
                    }
                }
            });
        }
    });
    // Paths come from this thread's reader (it is not shared with the workers).
    for (r, ino, e) in failures.into_inner().unwrap_or_else(|p| p.into_inner()) {
        let path = reader
            .path_of(ino)
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_else(|_| format!("inode {ino}"));
        let id = r.id_hex();
        let what = if state.is_some() { "fill" } else { "prefetch" };
        tracing::error!("failed to {what} block {id} of {path}: {e}");
    }
}
