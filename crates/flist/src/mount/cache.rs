//! The block cache: verified plaintext blocks on disk, shared between mounts, plus a few in memory.
//!
//! Layout: `<dir>/<hex[0..2]>/<hex[2..4]>/<hex id>`, the content being the
//! decrypted, decompressed block (as rfs lays out its cache). A file is
//! written to a temporary name in its shard directory and renamed into
//! place, so readers see a whole block or none. Nothing is synced: a file
//! torn by a crash fails the hash check on its next use and is fetched
//! again, which is also what happens to a file damaged or planted by anyone
//! else who can write the directory.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use crate::block::{BlockRef, BLOCK_SIZE};

/// Blocks kept in memory (at most 512 KiB each): enough for the kernel's
/// small reads inside one block, and a few concurrent readers, to avoid
/// re-reading and re-hashing the cache file every time.
const MEMORY_BLOCKS: usize = 32;

/// A verified plaintext block.
pub(super) type Plain = Arc<Vec<u8>>;

/// Whether `plain` is the block `r` names.
pub(super) fn verify(r: &BlockRef, plain: &[u8]) -> bool {
    let key: [u8; 32] = Blake2b::<U32>::digest(plain).into();
    key == r.key
}

/// Recently used blocks, evicting the least recently used.
#[derive(Default)]
struct Memory {
    blocks: HashMap<[u8; 32], (Plain, u64)>,
    tick: u64,
}

/// The on-disk cache of one mount (the directory may be shared).
pub(super) struct BlockCache {
    dir: PathBuf,
    memory: Mutex<Memory>,
}

impl BlockCache {
    /// A cache under `dir`, which is created if missing.
    pub(super) fn open(dir: &Path) -> io::Result<BlockCache> {
        fs::create_dir_all(dir)?;
        Ok(BlockCache {
            dir: dir.to_owned(),
            memory: Mutex::new(Memory::default()),
        })
    }

    /// Where block `id` lives.
    pub(super) fn path(&self, id: &[u8; 32]) -> PathBuf {
        let hex = hex::encode(id);
        self.dir.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// The block from memory, if it is there.
    pub(super) fn recent(&self, id: &[u8; 32]) -> Option<Plain> {
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        memory.tick += 1;
        let tick = memory.tick;
        let (plain, used) = memory.blocks.get_mut(id)?;
        *used = tick;
        Some(Arc::clone(plain))
    }

    /// Keeps `plain` in memory, evicting the least recently used block.
    pub(super) fn remember(&self, id: &[u8; 32], plain: &Plain) {
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        memory.tick += 1;
        let tick = memory.tick;
        if memory.blocks.len() >= MEMORY_BLOCKS && !memory.blocks.contains_key(id) {
            let oldest = memory
                .blocks
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                memory.blocks.remove(&oldest);
            }
        }
        memory.blocks.insert(*id, (Arc::clone(plain), tick));
    }

    /// The block from disk if it is there and hashes to its key; a file
    /// that does not is removed.
    pub(super) fn load(&self, r: &BlockRef) -> Option<Plain> {
        let path = self.path(&r.id);
        let plain = match read_capped(&path) {
            Ok(Some(plain)) => plain,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), "failed to read cached block: {e}");
                return None;
            }
        };
        if verify(r, &plain) {
            return Some(Arc::new(plain));
        }
        tracing::warn!(path = %path.display(), "dropping cached block that does not match its key");
        if let Err(e) = fs::remove_file(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), "failed to remove bad cached block: {e}");
            }
        }
        None
    }

    /// Writes a verified block to disk (whole or not at all).
    pub(super) fn store(&self, id: &[u8; 32], plain: &[u8]) -> io::Result<()> {
        crate::store::dir::write_atomic(&self.path(id), plain)
    }
}

/// Reads a cache file of at most [`BLOCK_SIZE`] bytes; `None` if absent.
/// A longer file cannot be a block and reads as damaged (empty).
fn read_capped(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut plain = Vec::with_capacity(BLOCK_SIZE);
    file.take(BLOCK_SIZE as u64 + 1).read_to_end(&mut plain)?;
    if plain.len() > BLOCK_SIZE {
        plain.clear();
        plain.push(0);
    }
    Ok(Some(plain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::encode_block;

    #[test]
    fn stores_loads_and_drops_damaged_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlockCache::open(dir.path()).unwrap();
        let (r, _) = encode_block(b"hello");
        assert!(cache.load(&r).is_none());
        cache.store(&r.id, b"hello").unwrap();
        let hex = r.id_hex();
        let path = dir.path().join(&hex[0..2]).join(&hex[2..4]).join(&hex);
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(cache.load(&r).unwrap().as_slice(), b"hello");
        fs::write(&path, b"jello").unwrap();
        assert!(cache.load(&r).is_none());
        assert!(!path.exists(), "a damaged cache file is removed");
        fs::write(&path, vec![0u8; BLOCK_SIZE + 1]).unwrap();
        assert!(cache.load(&r).is_none());
    }

    #[test]
    fn memory_evicts_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlockCache::open(dir.path()).unwrap();
        let plain: Plain = Arc::new(vec![1]);
        for i in 0..MEMORY_BLOCKS as u8 {
            cache.remember(&[i; 32], &plain);
        }
        assert!(cache.recent(&[0; 32]).is_some());
        cache.remember(&[0xff; 32], &plain);
        assert!(cache.recent(&[0; 32]).is_some(), "recently used survives");
        assert!(cache.recent(&[1; 32]).is_none(), "least recently used goes");
        assert!(cache.recent(&[0xff; 32]).is_some());
    }
}
