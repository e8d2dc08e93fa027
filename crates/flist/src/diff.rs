//! Differences between two flists, path by path: what was added, removed,
//! or changed (type, mode, owner, size, content, link target, device).
//!
//! Content is compared by block ids, which are hashes of the encrypted
//! blocks: equal ids mean equal bytes, without fetching anything.

use std::collections::BTreeMap;

use crate::block::BlockRef;
use crate::fl::{FlError, FlReader, Inode, Walk};

/// What differs at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Only in the second flist.
    Added(Vec<u8>),
    /// Only in the first flist.
    Removed(Vec<u8>),
    /// In both, with these attributes differing (e.g. `["mode", "content"]`).
    Modified(Vec<u8>, Vec<&'static str>),
}

/// The attributes compared for one path.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    inode: Inode,
    blocks: Vec<BlockRef>,
    target: Option<Vec<u8>>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn entries(reader: &FlReader) -> Result<BTreeMap<Vec<u8>, Entry>, FlError> {
    let mut out = BTreeMap::new();
    reader.walk(|path: &[u8], inode: &Inode| -> Result<Walk, FlError> {
        let blocks = if inode.is_file() {
            reader.blocks(inode.ino)?
        } else {
            Vec::new()
        };
        let target = if inode.is_symlink() {
            reader.symlink_target(inode.ino)?
        } else {
            None
        };
        out.insert(
            path.to_vec(),
            Entry {
                inode: inode.clone(),
                blocks,
                target,
                xattrs: reader.xattrs(inode.ino)?,
            },
        );
        Ok(Walk::Continue)
    })?;
    Ok(out)
}

fn changed(a: &Entry, b: &Entry) -> Vec<&'static str> {
    let (x, y) = (&a.inode, &b.inode);
    let mut what = Vec::new();
    if x.mode & crate::fl::S_IFMT != y.mode & crate::fl::S_IFMT {
        what.push("type");
    }
    if x.mode & 0o7777 != y.mode & 0o7777 {
        what.push("mode");
    }
    if (x.uid, x.gid) != (y.uid, y.gid) {
        what.push("owner");
    }
    if x.size != y.size {
        what.push("size");
    }
    if a.blocks
        .iter()
        .map(|b| b.id)
        .ne(b.blocks.iter().map(|b| b.id))
    {
        what.push("content");
    }
    if a.target != b.target {
        what.push("target");
    }
    if x.rdev != y.rdev {
        what.push("device");
    }
    if x.mtime != y.mtime {
        what.push("mtime");
    }
    if a.xattrs != b.xattrs {
        what.push("xattrs");
    }
    what
}

/// Every difference from `a` to `b`, in path order.
pub fn diff(a: &FlReader, b: &FlReader) -> Result<Vec<Change>, FlError> {
    let (left, right) = (entries(a)?, entries(b)?);
    let mut changes = Vec::new();
    for (path, entry) in &left {
        match right.get(path) {
            None => changes.push(Change::Removed(path.clone())),
            Some(other) => {
                let what = changed(entry, other);
                if !what.is_empty() {
                    changes.push(Change::Modified(path.clone(), what));
                }
            }
        }
    }
    for path in right.keys().filter(|p| !left.contains_key(*p)) {
        changes.push(Change::Added(path.clone()));
    }
    changes.sort_by(|x, y| key(x).cmp(key(y)));
    Ok(changes)
}

fn key(change: &Change) -> &[u8] {
    match change {
        Change::Added(p) | Change::Removed(p) | Change::Modified(p, _) => p,
    }
}
