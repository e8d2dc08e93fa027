//! Whole-tree questions on a `.fl` file: paths, path resolution, walks and totals.
//!
//! Parent links come from the file and may form cycles or dangle; every
//! loop here is bounded by [`MAX_DEPTH`] so a hostile file yields an error,
//! never a hang.

use std::collections::VecDeque;

use super::decode::{self, bad, field};
use super::{FileType, FlCounts, FlError, FlReader, Inode, MAX_DEPTH};

/// Page size for listing directories near the top of a walk.
const PAGE: usize = 256;
/// Page size for directories deeper than [`SHALLOW`] levels, so a very deep
/// (hostile) tree cannot make the walk hold thousands of full pages.
const DEEP_PAGE: usize = 8;
/// Depth up to which walks use [`PAGE`].
const SHALLOW: usize = 64;

/// What a [`FlReader::walk`] visitor wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Go on (into this entry, if it is a directory).
    Continue,
    /// Do not descend into this directory; go on with its next sibling.
    Skip,
    /// End the walk now.
    Stop,
}

/// A directory being listed during a walk.
struct Frame {
    ino: u64,
    /// Last child inode fetched (the listing cursor).
    after: u64,
    /// Length of this directory's path in the walk's path buffer.
    path_len: usize,
    /// Children fetched but not visited yet.
    pending: VecDeque<Inode>,
}

impl FlReader {
    /// The absolute path of `ino` (`/` for the root, `/a/b` below it),
    /// found by following parent links up to a row with parent 0.
    pub fn path_of(&self, ino: u64) -> Result<Vec<u8>, FlError> {
        let missing = || FlError::NoSuchInode {
            path: self.path.clone(),
            ino,
        };
        let mut cur = self.inode(ino)?.ok_or_else(missing)?;
        let mut names = Vec::new();
        while cur.parent != 0 {
            if names.len() == MAX_DEPTH {
                let reason =
                    format!("inode {ino} is more than {MAX_DEPTH} levels deep (parent cycle?)");
                return Err(self.fail(bad(reason)));
            }
            let parent = self.inode(cur.parent)?.ok_or_else(|| {
                self.fail(bad(format!(
                    "inode {}: parent {} does not exist",
                    cur.ino, cur.parent
                )))
            })?;
            names.push(std::mem::take(&mut cur.name));
            cur = parent;
        }
        if names.is_empty() {
            return Ok(b"/".to_vec());
        }
        let mut path = Vec::new();
        for name in names.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(name);
        }
        Ok(path)
    }

    /// The inode at `path` from the root, without following symlinks.
    /// Empty and `.` components are ignored and `..` goes to the parent
    /// (staying at the root); `None` if a component is missing or an
    /// intermediate one is not a directory.
    pub fn resolve(&self, path: &[u8]) -> Result<Option<Inode>, FlError> {
        let mut cur = self.root()?;
        for comp in path.split(|&b| b == b'/') {
            match comp {
                b"" | b"." => continue,
                b".." => {
                    if cur.parent != 0 {
                        let parent = cur.parent;
                        cur = self.inode(parent)?.ok_or_else(|| {
                            self.fail(bad(format!(
                                "inode {}: parent {parent} does not exist",
                                cur.ino
                            )))
                        })?;
                    }
                    continue;
                }
                _ => {}
            }
            if !cur.is_dir() {
                return Ok(None);
            }
            match self.lookup(cur.ino, comp)? {
                Some(child) => cur = child,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// Visits every inode reachable from the root, depth first: a directory
    /// comes before its contents, the root first with path `/`, siblings in
    /// inode order (the order they were written). `visit` gets each path and
    /// inode and says whether to descend, skip or stop; its error ends the
    /// walk. Directories nested deeper than [`MAX_DEPTH`] are an error.
    pub fn walk<E, F>(&self, mut visit: F) -> Result<(), E>
    where
        E: From<FlError>,
        F: FnMut(&[u8], &Inode) -> Result<Walk, E>,
    {
        let root = self.root()?;
        let mut path = b"/".to_vec();
        if visit(&path, &root)? != Walk::Continue || !root.is_dir() {
            return Ok(());
        }
        let mut stack = vec![Frame {
            ino: root.ino,
            after: 0,
            path_len: path.len(),
            pending: VecDeque::new(),
        }];
        loop {
            let depth = stack.len();
            let Some(top) = stack.last_mut() else {
                return Ok(());
            };
            if top.pending.is_empty() {
                let page = if depth <= SHALLOW { PAGE } else { DEEP_PAGE };
                top.pending = self.children(top.ino, top.after, page)?.into();
            }
            let Some(child) = top.pending.pop_front() else {
                stack.pop();
                continue;
            };
            top.after = child.ino;
            if depth > MAX_DEPTH {
                let reason = format!("inode {} is more than {MAX_DEPTH} levels deep", child.ino);
                return Err(self.fail(bad(reason)).into());
            }
            path.truncate(top.path_len);
            if top.path_len > 1 {
                path.push(b'/');
            }
            path.extend_from_slice(&child.name);
            match visit(&path, &child)? {
                Walk::Stop => return Ok(()),
                Walk::Skip => continue,
                Walk::Continue => {}
            }
            if child.is_dir() {
                stack.push(Frame {
                    ino: child.ino,
                    after: 0,
                    path_len: path.len(),
                    pending: VecDeque::new(),
                });
            }
        }
    }

    /// Totals over the whole file: inodes by type, blocks, file bytes and
    /// recorded hardlinks (orphaned rows included).
    pub fn counts(&self) -> Result<FlCounts, FlError> {
        let mut counts = FlCounts::default();
        self.rows("SELECT ino, mode, size FROM inode", [], usize::MAX, |row| {
            let ino = field(decode::int(row.get_ref(0)?), || "inode number".into())?;
            let mode = field(decode::uint(row.get_ref(1)?, u32::MAX.into()), || {
                format!("inode {ino}: mode")
            })?;
            let size = field(decode::uint(row.get_ref(2)?, i64::MAX as u64), || {
                format!("inode {ino}: size")
            })?;
            counts.n_inodes += 1;
            match FileType::from_mode(mode as u32) {
                FileType::Dir => counts.n_dirs += 1,
                FileType::File => {
                    counts.n_files += 1;
                    counts.total_size = counts.total_size.saturating_add(size);
                }
                FileType::Symlink => counts.n_symlinks += 1,
                _ => counts.n_specials += 1,
            }
            Ok(())
        })?;
        counts.n_blocks = self.count("SELECT COUNT(*) FROM block")?;
        if self.ext.hardlink {
            counts.n_hardlinks = self.count("SELECT COUNT(*) FROM tfgrid_hardlink")?;
        }
        Ok(counts)
    }

    /// Every distinct block id the flist names (what a store must hold for it to mount).
    pub fn block_ids(&self) -> Result<Vec<[u8; 32]>, FlError> {
        self.rows("SELECT DISTINCT id FROM block", [], usize::MAX, |row| {
            let b = field(decode::bytes(row.get_ref(0)?, 32), || "block id".into())?;
            <[u8; 32]>::try_from(b)
                .map_err(|_| bad(format!("block id is {} bytes, expected 32", b.len())))
        })
    }

    fn count(&self, sql: &str) -> Result<u64, FlError> {
        let n = self.rows(sql, [], 1, |row| {
            field(decode::uint(row.get_ref(0)?, i64::MAX as u64), || {
                "row count".into()
            })
        })?;
        Ok(n.into_iter().next().unwrap_or(0))
    }
}
