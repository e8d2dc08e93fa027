//! The merged tree built while flattening layers: nodes (names in directories) pointing at objects (inodes that hardlinks share).
//!
//! Nodes and objects live in arenas and are never freed: removing a name
//! only drops it from its directory, so whatever a hardlink still points at
//! stays valid. Parent paths are resolved the way a container runtime
//! applies a layer: symlinks met on the way are followed, confined to the
//! root (an absolute target starts at the root, `..` stops there).

use std::collections::{BTreeMap, VecDeque};

use crate::fl::{Xattr, MAX_DEPTH, MAX_NAME_LEN};

/// Index of a node.
pub(super) type NodeId = usize;
/// Index of an object.
pub(super) type ObjId = usize;

/// The root directory's node.
pub(super) const ROOT: NodeId = 0;

/// Symlinks followed while resolving one path (Linux `MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Where a regular file's bytes are: entry `ordinal` of layer `layer`.
#[derive(Debug, Clone)]
pub(super) struct DataSource {
    pub(super) layer: usize,
    pub(super) ordinal: u64,
    /// The entry's path as recorded, to check the second pass reads the same entry.
    pub(super) entry: Vec<u8>,
}

/// What an object is.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    Dir,
    File { size: u64, source: DataSource },
    Symlink(Vec<u8>),
    CharDevice(u64),
    BlockDevice(u64),
    Fifo,
}

/// An inode: type, metadata, xattrs.
#[derive(Debug, Clone)]
pub(super) struct Obj {
    pub(super) kind: Kind,
    /// Permission bits (`0o7777`).
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: i64,
    pub(super) xattrs: Vec<Xattr>,
}

impl Obj {
    /// A directory created because a path needed it: 0755 root:root.
    pub(super) fn implicit_dir() -> Obj {
        Obj {
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        }
    }

    pub(super) fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir)
    }
}

/// A name in a directory.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) name: Vec<u8>,
    pub(super) obj: ObjId,
    /// Entries of a directory, by name; empty for other objects.
    pub(super) children: BTreeMap<Vec<u8>, NodeId>,
}

/// Why a path could not be resolved.
#[derive(Debug)]
pub(super) enum TreeError {
    /// A component on the way is neither a directory nor a symlink.
    NotADirectory(Vec<u8>),
    /// More than [`MAX_SYMLINK_HOPS`] symlinks.
    SymlinkLoop,
    /// Deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A directory to create has a name over [`MAX_NAME_LEN`] bytes.
    NameTooLong,
    /// More nodes than allowed.
    TooManyNodes(usize),
}

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeError::NotADirectory(name) => write!(
                f,
                "{} on its path exists and is not a directory",
                String::from_utf8_lossy(name)
            ),
            TreeError::SymlinkLoop => write!(f, "too many levels of symbolic links"),
            TreeError::TooDeep => write!(f, "nested deeper than {MAX_DEPTH} directories"),
            TreeError::NameTooLong => {
                write!(f, "a directory name is over {MAX_NAME_LEN} bytes")
            }
            TreeError::TooManyNodes(max) => write!(f, "more than {max} paths"),
        }
    }
}

/// The merged tree.
#[derive(Debug)]
pub(super) struct Tree {
    nodes: Vec<Node>,
    objs: Vec<Obj>,
    max_nodes: usize,
}

impl Tree {
    /// A tree with only the root (an implicit directory).
    pub(super) fn new(max_nodes: usize) -> Tree {
        Tree {
            nodes: vec![Node {
                name: b"/".to_vec(),
                obj: 0,
                children: BTreeMap::new(),
            }],
            objs: vec![Obj::implicit_dir()],
            max_nodes,
        }
    }

    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub(super) fn obj(&self, id: ObjId) -> &Obj {
        &self.objs[id]
    }

    pub(super) fn obj_mut(&mut self, id: ObjId) -> &mut Obj {
        &mut self.objs[id]
    }

    /// The object of node `id`.
    pub(super) fn obj_of(&self, id: NodeId) -> &Obj {
        &self.objs[self.nodes[id].obj]
    }

    pub(super) fn add_obj(&mut self, obj: Obj) -> ObjId {
        self.objs.push(obj);
        self.objs.len() - 1
    }

    /// The entry `name` of directory `dir`.
    pub(super) fn lookup(&self, dir: NodeId, name: &[u8]) -> Option<NodeId> {
        self.nodes[dir].children.get(name).copied()
    }

    /// Makes `name` in `dir` a new node for `obj`, replacing (and so
    /// dropping the subtree of) whatever had that name.
    pub(super) fn put(
        &mut self,
        dir: NodeId,
        name: &[u8],
        obj: ObjId,
    ) -> Result<NodeId, TreeError> {
        if self.nodes.len() >= self.max_nodes {
            return Err(TreeError::TooManyNodes(self.max_nodes));
        }
        self.nodes.push(Node {
            name: name.to_vec(),
            obj,
            children: BTreeMap::new(),
        });
        let id = self.nodes.len() - 1;
        self.nodes[dir].children.insert(name.to_vec(), id);
        Ok(id)
    }

    /// Drops `name` (and its subtree) from `dir`; whether it was there.
    pub(super) fn remove(&mut self, dir: NodeId, name: &[u8]) -> bool {
        self.nodes[dir].children.remove(name).is_some()
    }

    /// Drops every entry of `dir`.
    pub(super) fn clear(&mut self, dir: NodeId) {
        self.nodes[dir].children.clear();
    }

    /// Resolves `components` as a directory path, following symlinks. With
    /// `create`, missing directories are made (0755 root:root) and a
    /// non-directory on the way is an error; without, either gives `None`.
    pub(super) fn dir(
        &mut self,
        components: &[Vec<u8>],
        create: bool,
    ) -> Result<Option<NodeId>, TreeError> {
        let mut stack = vec![ROOT];
        let mut queue: VecDeque<Vec<u8>> = components.iter().cloned().collect();
        let mut hops = 0;
        while let Some(name) = queue.pop_front() {
            match &name[..] {
                b"" | b"." => continue,
                b".." => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let dir = *stack.last().expect("the stack always holds the root");
            let Some(child) = self.lookup(dir, &name) else {
                if !create {
                    return Ok(None);
                }
                if name.len() > MAX_NAME_LEN {
                    return Err(TreeError::NameTooLong);
                }
                let obj = self.add_obj(Obj::implicit_dir());
                stack.push(self.put(dir, &name, obj)?);
                continue;
            };
            match &self.obj_of(child).kind {
                Kind::Dir => stack.push(child),
                Kind::Symlink(target) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(TreeError::SymlinkLoop);
                    }
                    if target.starts_with(b"/") {
                        stack.truncate(1);
                    }
                    for part in target.split(|&b| b == b'/').rev() {
                        queue.push_front(part.to_vec());
                    }
                }
                _ if create => return Err(TreeError::NotADirectory(name)),
                _ => return Ok(None),
            }
            if stack.len() > MAX_DEPTH {
                return Err(TreeError::TooDeep);
            }
        }
        Ok(stack.last().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> Vec<Vec<u8>> {
        path.split('/').map(|p| p.as_bytes().to_vec()).collect()
    }

    fn symlink(tree: &mut Tree, dir: NodeId, name: &str, target: &str) {
        let mut obj = Obj::implicit_dir();
        obj.kind = Kind::Symlink(target.as_bytes().to_vec());
        let obj = tree.add_obj(obj);
        tree.put(dir, name.as_bytes(), obj).unwrap();
    }

    #[test]
    fn resolves_through_confined_symlinks() {
        let mut tree = Tree::new(100);
        let usr_lib = tree.dir(&parts("usr/lib"), true).unwrap().unwrap();
        symlink(&mut tree, ROOT, "lib", "usr/lib");
        symlink(&mut tree, ROOT, "abs", "/usr/lib");
        symlink(&mut tree, ROOT, "up", "../../../usr/lib");
        symlink(&mut tree, ROOT, "loop", "loop");
        for path in ["lib", "abs", "up", "usr/../lib"] {
            assert_eq!(
                tree.dir(&parts(path), false).unwrap(),
                Some(usr_lib),
                "{path}"
            );
        }
        assert_eq!(tree.dir(&parts("nope/x"), false).unwrap(), None);
        assert!(matches!(
            tree.dir(&parts("loop/x"), true),
            Err(TreeError::SymlinkLoop)
        ));
        let made = tree.dir(&parts("lib/x86_64"), true).unwrap().unwrap();
        assert_eq!(tree.lookup(usr_lib, b"x86_64"), Some(made));
    }

    #[test]
    fn caps_nodes() {
        let mut tree = Tree::new(3);
        assert!(tree.dir(&parts("a/b"), true).is_ok());
        assert!(matches!(
            tree.dir(&parts("c"), true),
            Err(TreeError::TooManyNodes(3))
        ));
    }
}
