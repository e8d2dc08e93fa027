//! Getting verified blocks from memory, the disk cache or the store, merging concurrent requests for one block, and a pool for background fetches.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::cache::{BlockCache, Plain};
use crate::block::{decode_block_with, BlockRef, Codec};
use crate::store::BlockStore;

/// Most blocks waiting for a background fetch; read-ahead beyond this is
/// dropped (it is only a hint).
const MAX_QUEUED: usize = 256;

/// Why a block could not be had. Cloned to every reader waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum FetchError {
    /// No store routed for the block has it.
    #[error("no store has it (tried {stores})")]
    Missing {
        /// The stores asked.
        stores: String,
    },
    /// The store failed.
    #[error("store failed: {0}")]
    Store(String),
    /// The store returned bytes that are not this block.
    #[error("store served bad data: {0}")]
    Bad(String),
}

/// One fetch in progress; later askers wait for its result.
#[derive(Default)]
struct Flight {
    result: Mutex<Option<Result<Plain, FetchError>>>,
    done: Condvar,
}

impl Flight {
    fn wait(&self) -> Result<Plain, FetchError> {
        let mut result = lock(&self.result);
        loop {
            if let Some(result) = result.as_ref() {
                return result.clone();
            }
            result = self.done.wait(result).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Ends a flight even if the fetch unwinds, so waiters never hang.
struct Lead<'f> {
    fetcher: &'f Fetcher,
    id: [u8; 32],
    flight: Arc<Flight>,
    result: Option<Result<Plain, FetchError>>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        lock(&self.fetcher.flights).remove(&self.id);
        let result = self
            .result
            .take()
            .unwrap_or_else(|| Err(FetchError::Store("fetch aborted".to_string())));
        *lock(&self.flight.result) = Some(result);
        self.flight.done.notify_all();
    }
}

/// Blocks waiting for a background fetch.
#[derive(Default)]
struct Queue {
    blocks: VecDeque<BlockRef>,
    queued: HashSet<[u8; 32]>,
}

/// Where a mount gets its blocks.
pub(super) struct Fetcher {
    store: Box<dyn BlockStore>,
    codec: Codec,
    cache: BlockCache,
    flights: Mutex<HashMap<[u8; 32], Arc<Flight>>>,
    queue: Mutex<Queue>,
    wake: Condvar,
    stopped: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Fetcher {
    pub(super) fn new(store: Box<dyn BlockStore>, codec: Codec, cache: BlockCache) -> Fetcher {
        Fetcher {
            store,
            codec,
            cache,
            flights: Mutex::new(HashMap::new()),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            stopped: AtomicBool::new(false),
        }
    }

    /// The verified plaintext of `r`, kept in memory for the next read.
    pub(super) fn get(&self, r: &BlockRef) -> Result<Plain, FetchError> {
        self.fetch(r, true)
    }

    /// Makes sure a verified copy of `r` is in the disk cache.
    pub(super) fn ensure_cached(&self, r: &BlockRef) -> Result<(), FetchError> {
        self.fetch(r, false).map(drop)
    }

    fn fetch(&self, r: &BlockRef, remember: bool) -> Result<Plain, FetchError> {
        if let Some(plain) = self.cache.recent(&r.id) {
            return Ok(plain);
        }
        let flight = {
            let mut flights = lock(&self.flights);
            match flights.get(&r.id) {
                Some(flight) => Err(Arc::clone(flight)),
                None => {
                    let flight = Arc::new(Flight::default());
                    flights.insert(r.id, Arc::clone(&flight));
                    Ok(flight)
                }
            }
        };
        let flight = match flight {
            Ok(flight) => flight,
            Err(other) => return other.wait(),
        };
        let mut lead = Lead {
            fetcher: self,
            id: r.id,
            flight,
            result: None,
        };
        let result = self.load_or_download(r);
        if let (true, Ok(plain)) = (remember, &result) {
            self.cache.remember(&r.id, plain);
        }
        lead.result = Some(result.clone());
        result
    }

    /// From the disk cache, else from the store (verified, then cached).
    fn load_or_download(&self, r: &BlockRef) -> Result<Plain, FetchError> {
        if let Some(plain) = self.cache.load(r) {
            return Ok(plain);
        }
        let cipher = self
            .store
            .get(&r.id)
            .map_err(|e| FetchError::Store(e.to_string()))?
            .ok_or_else(|| FetchError::Missing {
                stores: self.store.url(),
            })?;
        let plain = decode_block_with(r, &cipher, self.codec)
            .map_err(|e| FetchError::Bad(e.to_string()))?;
        if let Err(e) = self.cache.store(&r.id, &plain) {
            tracing::warn!(block = %r.id_hex(), "failed to write block to the cache: {e}");
        }
        Ok(Arc::new(plain))
    }

    /// Starts `n` threads serving [`Fetcher::queue`].
    pub(super) fn spawn_workers(self: &Arc<Self>, n: usize) -> Vec<JoinHandle<()>> {
        (0..n)
            .filter_map(|i| {
                let fetcher = Arc::clone(self);
                std::thread::Builder::new()
                    .name(format!("flist-fetch-{i}"))
                    .spawn(move || fetcher.work())
                    .map_err(|e| tracing::warn!("failed to start a fetch thread: {e}"))
                    .ok()
            })
            .collect()
    }

    fn work(&self) {
        loop {
            let r = {
                let mut queue = lock(&self.queue);
                loop {
                    if self.is_stopped() {
                        return;
                    }
                    if let Some(r) = queue.blocks.pop_front() {
                        queue.queued.remove(&r.id);
                        break r;
                    }
                    queue = self.wake.wait(queue).unwrap_or_else(|p| p.into_inner());
                }
            };
            // A failure here is reported by the read that needs the block.
            if let Err(e) = self.get(&r) {
                tracing::debug!(block = %r.id_hex(), "read-ahead failed: {e}");
            }
        }
    }

    /// Asks the pool to fetch `blocks` in the background, in order; blocks
    /// already in memory or queued are skipped, and so is everything once
    /// the queue is full.
    pub(super) fn queue(&self, blocks: &[BlockRef]) {
        let mut queue = lock(&self.queue);
        let mut added = false;
        for r in blocks {
            if queue.blocks.len() >= MAX_QUEUED {
                break;
            }
            if self.cache.recent(&r.id).is_none() && queue.queued.insert(r.id) {
                queue.blocks.push_back(*r);
                added = true;
            }
        }
        if added {
            self.wake.notify_all();
        }
    }

    /// Stops the pool and tells background loops to end.
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _queue = lock(&self.queue);
        self.wake.notify_all();
    }

    /// Whether [`Fetcher::stop`] was called.
    pub(super) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::encode_block;
    use crate::store::{DirStore, StoreError};
    use std::sync::atomic::AtomicUsize;

    /// A store that counts `get` calls and is slow, to make requests overlap.
    struct Counting {
        inner: DirStore,
        gets: AtomicUsize,
    }

    impl BlockStore for Counting {
        fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            self.inner.get(id)
        }
        fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
            self.inner.put(id, data)
        }
        fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
            self.inner.exists(id)
        }
        fn url(&self) -> String {
            self.inner.url()
        }
    }

    fn setup() -> (tempfile::TempDir, Arc<Counting>, Fetcher) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Counting {
            inner: DirStore::new(dir.path().join("store")).unwrap(),
            gets: AtomicUsize::new(0),
        });
        let cache = BlockCache::open(&dir.path().join("cache")).unwrap();
        let fetcher = Fetcher::new(Box::new(Arc::clone(&store)), Codec::Snappy, cache);
        (dir, store, fetcher)
    }

    #[test]
    fn concurrent_gets_share_one_download() {
        let (_dir, store, fetcher) = setup();
        let (r, cipher) = encode_block(b"shared block");
        store.put(&r.id, &cipher).unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert_eq!(fetcher.get(&r).unwrap().as_slice(), b"shared block"));
            }
        });
        assert_eq!(store.gets.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn missing_and_bad_blocks_are_errors() {
        let (_dir, store, fetcher) = setup();
        let (r, mut cipher) = encode_block(b"some block");
        assert!(matches!(fetcher.get(&r), Err(FetchError::Missing { .. })));
        cipher[0] ^= 1;
        store.put(&r.id, &cipher).unwrap();
        assert!(matches!(fetcher.get(&r), Err(FetchError::Bad(_))));
    }
}
