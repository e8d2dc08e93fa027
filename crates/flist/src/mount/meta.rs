//! Metadata for the mount: shared `.fl` readers, hardlink groups, and inode rows turned into FUSE attributes.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{FileAttr, FileType as FuseType, INodeNo};

use crate::block::BLOCK_SIZE;
use crate::fl::{FileType, FlError, FlReader, Inode, Walk};

/// Readers kept open for reuse; more are opened when threads need them.
const MAX_IDLE_READERS: usize = 8;

/// Open readers of one `.fl`, lent to one thread at a time
/// ([`FlReader`] is not `Sync`).
pub(super) struct ReaderPool {
    idle: Mutex<Vec<FlReader>>,
    path: std::path::PathBuf,
}

impl ReaderPool {
    pub(super) fn new(first: FlReader) -> ReaderPool {
        ReaderPool {
            path: first.path().to_owned(),
            idle: Mutex::new(vec![first]),
        }
    }

    /// Runs `f` with a reader, opening one if none is idle.
    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&FlReader) -> Result<T, FlError>,
    ) -> Result<T, FlError> {
        let idle = self.idle().pop();
        let reader = match idle {
            Some(reader) => reader,
            None => FlReader::open(&self.path)?,
        };
        let result = f(&reader);
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(reader);
        }
        result
    }

    fn idle(&self) -> MutexGuard<'_, Vec<FlReader>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Hardlinks as recorded in the `.fl`: every later name of a file points
/// at its first name (the group), which gives the inode number shown for
/// all names and the link count.
#[derive(Debug, Default)]
pub(super) struct LinkGroups {
    /// Later name → group (first name's inode).
    group_of: HashMap<u64, u64>,
    /// Group → number of names, the first included.
    names: HashMap<u64, u32>,
}

impl LinkGroups {
    /// Reads the hardlink table by visiting every regular file once; skipped
    /// (empty result) when the file records no hardlinks. A link to a
    /// missing inode or to something other than a regular file is ignored.
    pub(super) fn build(reader: &FlReader, any: bool) -> Result<LinkGroups, FlError> {
        let mut links = LinkGroups::default();
        if !any {
            return Ok(links);
        }
        let mut targets = Vec::new();
        reader.walk(|_, inode| {
            if inode.is_file() {
                if let Some(target) = reader.hardlink_target(inode.ino)? {
                    targets.push((inode.ino, target));
                }
            }
            Ok::<_, FlError>(Walk::Continue)
        })?;
        for (ino, target) in targets {
            if target == ino || !reader.inode(target)?.is_some_and(|t| t.is_file()) {
                continue;
            }
            links.group_of.insert(ino, target);
            *links.names.entry(target).or_insert(1) += 1;
        }
        Ok(links)
    }

    /// The inode number shown for `ino`: its group's, or its own.
    pub(super) fn group(&self, ino: u64) -> u64 {
        self.group_of.get(&ino).copied().unwrap_or(ino)
    }

    /// How many names the group `ino` has.
    pub(super) fn nlink(&self, ino: u64) -> u32 {
        self.names.get(&ino).copied().unwrap_or(1)
    }
}

/// The FUSE file type of an inode; unknown type bits show as a regular file.
pub(super) fn fuse_type(inode: &Inode) -> FuseType {
    match inode.file_type() {
        FileType::Dir => FuseType::Directory,
        FileType::Symlink => FuseType::Symlink,
        FileType::CharDevice => FuseType::CharDevice,
        FileType::BlockDevice => FuseType::BlockDevice,
        FileType::Fifo => FuseType::NamedPipe,
        FileType::Socket => FuseType::Socket,
        FileType::File | FileType::Unknown => FuseType::RegularFile,
    }
}

/// Seconds since the epoch as a time (negative ones before it).
fn time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// A device number as the FUSE protocol carries it (the kernel's 32-bit
/// encoding: 12-bit major, 20-bit minor).
fn fuse_rdev(rdev: u64) -> u32 {
    let major = libc::major(rdev as libc::dev_t) as u64;
    let minor = libc::minor(rdev as libc::dev_t) as u64;
    ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)) as u32
}

/// The attributes of `inode` shown under inode number `ino`, with `nlink` links.
pub(super) fn attr(inode: &Inode, ino: u64, nlink: u32) -> FileAttr {
    let mtime = time(inode.mtime);
    FileAttr {
        ino: INodeNo(ino),
        size: inode.size,
        blocks: inode.size.div_ceil(512),
        atime: mtime,
        mtime,
        ctime: time(inode.ctime),
        crtime: mtime,
        kind: fuse_type(inode),
        perm: (inode.mode & 0o7777) as u16,
        nlink,
        uid: inode.uid,
        gid: inode.gid,
        rdev: fuse_rdev(inode.rdev),
        blksize: BLOCK_SIZE as u32,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_use_the_kernel_encoding() {
        let check = |major: u32, minor: u32, expected: u32| {
            assert_eq!(fuse_rdev(libc::makedev(major, minor)), expected);
        };
        check(1, 3, 0x103);
        check(8, 17, 0x811);
        check(259, 0x12345, 0x12310345);
    }

    #[test]
    fn times_before_the_epoch() {
        assert_eq!(time(-1), UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(time(5), UNIX_EPOCH + Duration::from_secs(5));
    }
}
