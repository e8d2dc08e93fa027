//! Pass one: reading every layer's headers and applying them, bottom to top, to the merged tree with the OCI layer rules.
//!
//! Within one layer:
//!
//! 1. whiteouts go first, so they only ever hide what lower layers made:
//!    `dir/.wh.<name>` (or an overlay-style 0:0 character device) removes
//!    `dir/<name>` and its subtree; `dir/.wh..wh..opq` (or a directory with
//!    `trusted.overlay.opaque=y`) empties `dir`, wherever the marker sits in
//!    the archive. Other `.wh..wh.*` entries (aufs bookkeeping) are dropped.
//!    No marker ever becomes part of the tree.
//! 2. every other entry, in archive order: a directory over a directory
//!    takes the new metadata and keeps its children; anything else replaces
//!    what had the name. Missing parents are made 0755 root:root and take
//!    the metadata of their own entry if one comes later. A hardlink makes
//!    its name share the object another path has at that point (a file, a
//!    symlink or a special file, never a directory).
//!
//! Entry paths lose a leading `/` and `./`; `..` is applied, and one that
//! would climb above the root is an error, as is a component over 255 bytes.

use crate::fl::{MAX_DEPTH, MAX_NAME_LEN, MAX_TARGET_LEN};

use super::input::{finish_stream, open_stream};
use super::tar::{Entry, EntryKind};
use super::tree::{DataSource, Kind, Obj, Tree, TreeError, ROOT};
use super::{read_error, tar_error, verify_layer, ImageError, ImageLimits, Source};

/// Longest xattr name and value the `.fl` writer accepts.
const MAX_XATTR_NAME: usize = 255;
const MAX_XATTR_VALUE: usize = 64 * 1024;
/// Prefix of overlayfs's own xattrs, which describe the layer, not the file.
const OVERLAY_XATTR: &[u8] = b"trusted.overlay.";

/// Reads all layers and returns the merged tree and the whiteouts applied.
pub(super) fn build(source: &Source<'_>, limits: &ImageLimits) -> Result<(Tree, u64), ImageError> {
    let max_nodes = usize::try_from(limits.max_entries.saturating_mul(2)).unwrap_or(usize::MAX);
    let mut tree = Tree::new(max_nodes);
    let mut budget = limits.max_total_bytes;
    let mut entries_left = limits.max_entries;
    let mut whiteouts = 0;
    for (idx, layer) in source.layers.iter().enumerate() {
        let what = &layer.label;
        let raw = source.open(layer)?;
        let mut tar_limits = limits.tar();
        tar_limits.max_entries = entries_left;
        let hash_blob = layer.digest.is_some();
        let mut stream = open_stream(raw, hash_blob, layer.diff_id.is_some(), budget, tar_limits)
            .map_err(|e| read_error(what, e))?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.next_entry().map_err(|e| tar_error(what, e))? {
            entries.push(entry);
        }
        let end = finish_stream(stream).map_err(|e| read_error(what, e))?;
        verify_layer(layer, &end)?;
        budget -= end.bytes.min(budget);
        entries_left -= (entries.len() as u64).min(entries_left);
        let mut apply = Apply {
            tree: &mut tree,
            layer: idx,
            what,
        };
        whiteouts += apply.layer(&entries)?;
    }
    Ok((tree, whiteouts))
}

/// What an entry does to the tree.
enum Action {
    /// Remove `name` from the parent directory.
    Whiteout(Vec<u8>),
    /// Empty the directory at the parent path.
    Opaque,
    /// Nothing (aufs metadata).
    Skip,
    /// Create or update the object at the path; `opaque` first empties a
    /// lower directory of that name.
    Put { opaque: bool },
}

struct Apply<'t> {
    tree: &'t mut Tree,
    layer: usize,
    what: &'t str,
}

impl Apply<'_> {
    /// Applies one layer's entries; returns the whiteouts among them.
    fn layer(&mut self, entries: &[Entry]) -> Result<u64, ImageError> {
        let mut plan = Vec::with_capacity(entries.len());
        for entry in entries {
            let parts = self.components(entry, &entry.path)?;
            let action = classify(entry, parts.last().map(Vec::as_slice));
            plan.push((parts, action));
        }
        let mut whiteouts = 0;
        for (parts, action) in &plan {
            let Some((_, parent)) = parts.split_last() else {
                continue;
            };
            match action {
                Action::Whiteout(name) => {
                    if let Some(dir) = self.dir(parent, false)? {
                        self.tree.remove(dir, name);
                    }
                }
                Action::Opaque => {
                    if let Some(dir) = self.dir(parent, false)? {
                        self.clear(dir);
                    }
                }
                Action::Put { opaque: true } => {
                    if let Some(dir) = self.dir(parts, false)? {
                        self.clear(dir);
                    }
                }
                Action::Skip | Action::Put { opaque: false } => continue,
            }
            whiteouts += 1;
        }
        for ((parts, action), (ordinal, entry)) in plan.iter().zip(entries.iter().enumerate()) {
            if let Action::Put { .. } = action {
                self.put(entry, parts, ordinal as u64)
                    .map_err(|e| e.for_entry(self.what, entry))?;
            }
        }
        Ok(whiteouts)
    }

    /// Empties `dir` if it is a directory.
    fn clear(&mut self, dir: usize) {
        if self.tree.obj_of(dir).is_dir() {
            self.tree.clear(dir);
        }
    }

    fn dir(&mut self, parts: &[Vec<u8>], create: bool) -> Result<Option<usize>, ImageError> {
        self.tree
            .dir(parts, create)
            .map_err(|e| ImageError::BadEntry {
                what: self.what.to_owned(),
                entry: String::from_utf8_lossy(&parts.join(&b'/')).into_owned(),
                reason: e.to_string(),
            })
    }

    /// Normalised components of `path`, which belongs to `entry`.
    fn components(&self, entry: &Entry, path: &[u8]) -> Result<Vec<Vec<u8>>, ImageError> {
        let name = || String::from_utf8_lossy(&entry.path).into_owned();
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for part in path.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    if parts.pop().is_none() {
                        return Err(ImageError::UnsafePath {
                            what: self.what.to_owned(),
                            entry: name(),
                        });
                    }
                }
                _ if part.len() > MAX_NAME_LEN => {
                    return Err(self.bad(
                        entry,
                        format!("a path component is over {MAX_NAME_LEN} bytes"),
                    ))
                }
                _ if part.contains(&0) => {
                    return Err(self.bad(entry, "NUL byte in the path".into()))
                }
                _ => parts.push(part.to_vec()),
            }
        }
        if parts.len() > MAX_DEPTH {
            return Err(self.bad(entry, format!("nested deeper than {MAX_DEPTH} directories")));
        }
        Ok(parts)
    }

    fn bad(&self, entry: &Entry, reason: String) -> ImageError {
        ImageError::BadEntry {
            what: self.what.to_owned(),
            entry: String::from_utf8_lossy(&entry.path).into_owned(),
            reason,
        }
    }

    /// Creates or updates the object an entry describes at `parts`.
    fn put(&mut self, entry: &Entry, parts: &[Vec<u8>], ordinal: u64) -> Result<(), PutError> {
        let Some((name, parent)) = parts.split_last() else {
            if entry.kind != EntryKind::Dir {
                return Err(PutError::Bad("the root must be a directory".into()));
            }
            let meta = self.object(entry, Kind::Dir)?;
            let obj = self.tree.node(ROOT).obj;
            *self.tree.obj_mut(obj) = meta;
            return Ok(());
        };
        let dir = self
            .tree
            .dir(parent, true)?
            .expect("Tree::dir creates missing directories");
        let existing = self.tree.lookup(dir, name);
        let kind = match entry.kind {
            EntryKind::Dir => {
                let new = self.object(entry, Kind::Dir)?;
                if let Some(node) = existing.filter(|&n| self.tree.obj_of(n).is_dir()) {
                    let obj = self.tree.node(node).obj;
                    *self.tree.obj_mut(obj) = new;
                    return Ok(());
                }
                let obj = self.tree.add_obj(new);
                self.tree.put(dir, name, obj)?;
                return Ok(());
            }
            EntryKind::Hardlink => return self.hardlink(entry, dir, name, existing),
            EntryKind::File => Kind::File {
                size: entry.size,
                source: DataSource {
                    layer: self.layer,
                    ordinal,
                    entry: entry.path.clone(),
                },
            },
            EntryKind::Symlink => {
                if entry.link.is_empty() || entry.link.len() > MAX_TARGET_LEN {
                    let len = entry.link.len();
                    return Err(PutError::Bad(format!(
                        "symlink target of {len} bytes (1..={MAX_TARGET_LEN})"
                    )));
                }
                Kind::Symlink(entry.link.clone())
            }
            EntryKind::CharDevice => Kind::CharDevice(libc::makedev(entry.major, entry.minor)),
            EntryKind::BlockDevice => Kind::BlockDevice(libc::makedev(entry.major, entry.minor)),
            EntryKind::Fifo => Kind::Fifo,
        };
        let obj = self.object(entry, kind)?;
        let obj = self.tree.add_obj(obj);
        self.tree.put(dir, name, obj)?;
        Ok(())
    }

    /// Gives `name` in `dir` the object the link target has now.
    fn hardlink(
        &mut self,
        entry: &Entry,
        dir: usize,
        name: &[u8],
        existing: Option<usize>,
    ) -> Result<(), PutError> {
        let target = self
            .components(entry, &entry.link)
            .map_err(PutError::Image)?;
        let missing = || PutError::MissingTarget;
        let (target_name, target_parent) = target.split_last().ok_or_else(missing)?;
        let target_dir = self.tree.dir(target_parent, false)?.ok_or_else(missing)?;
        let node = self
            .tree
            .lookup(target_dir, target_name)
            .ok_or_else(missing)?;
        if self.tree.obj_of(node).is_dir() {
            return Err(PutError::Bad("hardlink to a directory".into()));
        }
        if existing != Some(node) {
            let obj = self.tree.node(node).obj;
            self.tree.put(dir, name, obj)?;
        }
        Ok(())
    }

    /// The object for `entry` with `kind`, its xattrs checked.
    fn object(&self, entry: &Entry, kind: Kind) -> Result<Obj, PutError> {
        let mut xattrs = Vec::with_capacity(entry.xattrs.len());
        for (name, value) in &entry.xattrs {
            if name.starts_with(OVERLAY_XATTR) {
                continue;
            }
            if name.is_empty() || name.len() > MAX_XATTR_NAME || value.len() > MAX_XATTR_VALUE {
                return Err(PutError::Bad(format!(
                    "xattr {} with a {}-byte name and a {}-byte value is over the limits",
                    String::from_utf8_lossy(name),
                    name.len(),
                    value.len()
                )));
            }
            xattrs.push((name.clone(), value.clone()));
        }
        Ok(Obj {
            kind,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            mtime: entry.mtime,
            xattrs,
        })
    }
}

/// Why an entry could not be put in the tree; becomes an [`ImageError`]
/// naming the entry.
enum PutError {
    Tree(TreeError),
    Bad(String),
    MissingTarget,
    Image(ImageError),
}

impl From<TreeError> for PutError {
    fn from(e: TreeError) -> Self {
        PutError::Tree(e)
    }
}

impl PutError {
    fn for_entry(self, what: &str, entry: &Entry) -> ImageError {
        let what = what.to_owned();
        let name = String::from_utf8_lossy(&entry.path).into_owned();
        match self {
            PutError::Tree(TreeError::TooManyNodes(max)) => ImageError::LimitExceeded {
                what,
                reason: format!("more than {max} paths"),
            },
            PutError::Tree(e) => ImageError::BadEntry {
                what,
                entry: name,
                reason: e.to_string(),
            },
            PutError::Bad(reason) => ImageError::BadEntry {
                what,
                entry: name,
                reason,
            },
            PutError::MissingTarget => ImageError::MissingLinkTarget {
                what,
                entry: name,
                target: String::from_utf8_lossy(&entry.link).into_owned(),
            },
            PutError::Image(e) => e,
        }
    }
}

/// What an entry whose last component is `last` does.
fn classify(entry: &Entry, last: Option<&[u8]>) -> Action {
    let last = last.unwrap_or_default();
    if last == b".wh..wh..opq" {
        return Action::Opaque;
    }
    if last.starts_with(b".wh..wh.") {
        return Action::Skip;
    }
    if let Some(name) = last.strip_prefix(b".wh.") {
        return Action::Whiteout(name.to_vec());
    }
    if entry.kind == EntryKind::CharDevice && entry.major == 0 && entry.minor == 0 {
        return Action::Whiteout(last.to_vec());
    }
    let opaque = entry.kind == EntryKind::Dir
        && entry
            .xattrs
            .iter()
            .any(|(n, v)| n == b"trusted.overlay.opaque" && v == b"y");
    Action::Put { opaque }
}
