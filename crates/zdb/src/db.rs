//! The set of namespaces of one server: the two root directories and their
//! lock files, namespace slots (`default` is slot 0), creation, deletion and
//! flushing.

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::format::Mode;
use crate::hooks::Hooks;
use crate::namespace::{self, Namespace, NamespaceConfig, OpenError};

/// Name of the namespace that always exists.
pub const DEFAULT_NAMESPACE: &[u8] = b"default";
/// Longest namespace name.
pub const MAX_NAMESPACE_NAME: usize = 128;

/// Settings of the storage side of a server.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// Root of the data files (`<data>/<ns>/dN`).
    pub data_root: PathBuf,
    /// Root of the index files and descriptors (`<index>/<ns>/iN`).
    pub index_root: PathBuf,
    /// Forced key mode for every namespace; `None` = mixed.
    pub mode: Option<Mode>,
    /// Data file size that triggers a new file pair.
    pub datasize: u64,
    /// Password given to `default` (`--protect`).
    pub default_password: Option<Vec<u8>>,
    /// Size limit of `default` (`--maxsize`).
    pub default_maxsize: u64,
    /// fsync before rotating files (`--secure`).
    pub sync_on_rotate: bool,
    /// Hook program.
    pub hooks: Arc<Hooks>,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbOpenError {
    /// A root directory could not be created or read.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Another process holds the lock file.
    #[error("{0} is locked by another process")]
    Locked(PathBuf),
    /// Data and index roots are the same directory.
    #[error("data and index directories must differ ({0})")]
    SameRoots(PathBuf),
    /// A namespace failed to load.
    #[error("namespace {name}: {source}")]
    Namespace {
        /// Its directory name.
        name: String,
        /// What went wrong.
        source: OpenError,
    },
}

/// Why NSNEW failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// `.`, `..`, `default` or a name with `/`.
    #[error("this name is not allowed")]
    NotAllowed,
    /// A namespace of that name exists.
    #[error("this namespace is not available")]
    Exists,
    /// The files could not be created.
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// Why NSDEL failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// `default` cannot go.
    #[error("cannot remove default namespace")]
    Default,
    /// No such namespace.
    #[error("namespace not found")]
    NotFound,
    /// Removing the directories failed.
    #[error("remove namespace: {0}")]
    Io(io::Error),
}

/// Handle on a namespace slot; a deleted namespace's handle stops resolving
/// even if its slot is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsId {
    slot: u32,
    generation: u64,
}

struct Slot {
    ns: Namespace,
    generation: u64,
}

/// All namespaces of a server.
pub struct Db {
    config: DbConfig,
    slots: Vec<Option<Slot>>,
    next_generation: u64,
    _locks: [File; 2],
}

fn lock_dir(dir: &Path) -> Result<File, DbOpenError> {
    let path = dir.join(".lockfile");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| DbOpenError::Io {
            op: "open lock file",
            path: path.clone(),
            source,
        })?;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(DbOpenError::Locked(dir.to_owned()));
    }
    Ok(file)
}

fn mkdir_root(path: &Path) -> Result<PathBuf, DbOpenError> {
    let io_err = |op| {
        move |source| DbOpenError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_err("create directory"))?;
    fs::canonicalize(path).map_err(io_err("resolve directory"))
}

/// Whether `name` may be used for a new namespace.
pub fn name_allowed(name: &[u8]) -> bool {
    !(name.is_empty()
        || name == b"."
        || name == b".."
        || name == DEFAULT_NAMESPACE
        || name.contains(&b'/')
        || name.contains(&0))
}

impl Db {
    /// Opens (creating if needed) both roots, takes their locks, and loads
    /// every namespace.
    pub fn open(config: DbConfig) -> Result<Db, DbOpenError> {
        let data_root = mkdir_root(&config.data_root)?;
        let index_root = mkdir_root(&config.index_root)?;
        if data_root == index_root {
            return Err(DbOpenError::SameRoots(data_root));
        }
        let locks = [lock_dir(&index_root)?, lock_dir(&data_root)?];
        let mut db = Db {
            config: DbConfig {
                data_root,
                index_root,
                ..config
            },
            slots: Vec::new(),
            next_generation: 0,
            _locks: locks,
        };
        let mut ns = db.open_namespace(DEFAULT_NAMESPACE, true)?;
        let mut desc = ns.descriptor().clone();
        desc.password = db.config.default_password.clone();
        desc.maxsize = db.config.default_maxsize;
        if &desc != ns.descriptor() {
            ns.set_descriptor(desc).map_err(|source| DbOpenError::Io {
                op: "write descriptor of",
                path: db.config.index_root.join("default"),
                source,
            })?;
        }
        db.insert(ns);
        let mut names = Vec::new();
        let entries = fs::read_dir(&db.config.index_root).map_err(|source| DbOpenError::Io {
            op: "list",
            path: db.config.index_root.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir && name.as_bytes() != DEFAULT_NAMESPACE && !name.as_bytes().starts_with(b".")
            {
                names.push(name);
            }
        }
        names.sort();
        for name in names {
            let ns = db.open_namespace(name.as_bytes(), false)?;
            db.insert(ns);
        }
        Ok(db)
    }

    fn ns_config(&self) -> NamespaceConfig {
        NamespaceConfig {
            datasize: self.config.datasize,
            sync_on_rotate: self.config.sync_on_rotate,
            hooks: self.config.hooks.clone(),
        }
    }

    fn dirs(&self, name: &[u8]) -> (PathBuf, PathBuf) {
        let name = std::ffi::OsStr::from_bytes(name);
        (
            self.config.index_root.join(name),
            self.config.data_root.join(name),
        )
    }

    fn open_namespace(&self, name: &[u8], create: bool) -> Result<Namespace, DbOpenError> {
        let (index_dir, data_dir) = self.dirs(name);
        namespace::open(
            &index_dir,
            &data_dir,
            create.then_some(name),
            self.config.mode,
            self.ns_config(),
        )
        .map_err(|source| DbOpenError::Namespace {
            name: String::from_utf8_lossy(name).into_owned(),
            source,
        })
    }

    fn insert(&mut self, ns: Namespace) -> NsId {
        let generation = self.next_generation;
        self.next_generation += 1;
        let slot = Slot { ns, generation };
        // Slot 0 is `default`; freed slots are reused (this sets NSLIST order).
        let idx = match self.slots.iter().position(Option::is_none) {
            Some(idx) => {
                self.slots[idx] = Some(slot);
                idx
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        NsId {
            slot: idx as u32,
            generation,
        }
    }

    /// The server's storage settings.
    pub fn config(&self) -> &DbConfig {
        &self.config
    }

    /// Handle of `default`.
    pub fn default_id(&self) -> NsId {
        self.find(DEFAULT_NAMESPACE)
            .expect("default namespace always exists")
    }

    /// Handle of the namespace called `name`.
    pub fn find(&self, name: &[u8]) -> Option<NsId> {
        self.slots.iter().enumerate().find_map(|(idx, slot)| {
            let slot = slot.as_ref()?;
            (slot.ns.name() == name).then_some(NsId {
                slot: idx as u32,
                generation: slot.generation,
            })
        })
    }

    /// The namespace behind `id`, unless it was deleted.
    pub fn get(&mut self, id: NsId) -> Option<&mut Namespace> {
        match self.slots.get_mut(id.slot as usize) {
            Some(Some(slot)) if slot.generation == id.generation => Some(&mut slot.ns),
            _ => None,
        }
    }

    /// Whether `id` still names a namespace.
    pub fn contains(&self, id: NsId) -> bool {
        matches!(self.slots.get(id.slot as usize), Some(Some(s)) if s.generation == id.generation)
    }

    /// Namespaces in slot order (`default` first).
    pub fn namespaces(&self) -> impl Iterator<Item = &Namespace> {
        self.slots.iter().flatten().map(|s| &s.ns)
    }

    /// Mutable namespaces in slot order.
    pub fn namespaces_mut(&mut self) -> impl Iterator<Item = &mut Namespace> {
        self.slots.iter_mut().flatten().map(|s| &mut s.ns)
    }

    /// Creates a namespace (`NSNEW`).
    pub fn create(&mut self, name: &[u8]) -> Result<NsId, CreateError> {
        if !name_allowed(name) {
            return Err(CreateError::NotAllowed);
        }
        if self.find(name).is_some() {
            return Err(CreateError::Exists);
        }
        let (index_dir, data_dir) = self.dirs(name);
        let mode = self.config.mode.unwrap_or(Mode::User);
        let ns = namespace::create(&index_dir, &data_dir, name, mode, self.ns_config())?;
        let id = self.insert(ns);
        self.config.hooks.spawn(
            "namespace-created",
            &[std::ffi::OsStr::from_bytes(name).into()],
        );
        Ok(id)
    }

    /// Deletes a namespace and its files (`NSDEL`).
    pub fn delete(&mut self, name: &[u8]) -> Result<(), DeleteError> {
        if name == DEFAULT_NAMESPACE {
            return Err(DeleteError::Default);
        }
        let id = self.find(name).ok_or(DeleteError::NotFound)?;
        let slot = self.slots[id.slot as usize].take().expect("found above");
        let (index_dir, data_dir) = (
            slot.ns.index_dir().to_owned(),
            slot.ns.data_dir().to_owned(),
        );
        drop(slot);
        namespace::remove_dirs(&index_dir, &data_dir).map_err(DeleteError::Io)?;
        self.config.hooks.spawn(
            "namespace-deleted",
            &[std::ffi::OsStr::from_bytes(name).into()],
        );
        Ok(())
    }

    /// Erases every key of a namespace: its files are removed and a fresh
    /// first pair is created; properties are kept.
    pub fn flush_namespace(&mut self, id: NsId) -> Result<(), OpenError> {
        let Some(ns) = self.get(id) else {
            return Ok(());
        };
        let lock = ns.lock_state();
        let (index_dir, data_dir) = (ns.index_dir().to_owned(), ns.data_dir().to_owned());
        let desc = ns.descriptor().clone();
        let mode = ns.mode();
        for dir in [&index_dir, &data_dir] {
            for entry in fs::read_dir(dir)
                .map_err(OpenError::io("list", dir))?
                .flatten()
            {
                let name = entry.file_name();
                let bytes = name.as_bytes();
                let numbered = bytes.len() > 1
                    && (bytes[0] == b'i' || bytes[0] == b'd')
                    && bytes[1..].iter().all(u8::is_ascii_digit);
                if numbered {
                    fs::remove_file(entry.path())
                        .map_err(OpenError::io("remove", &entry.path()))?;
                }
            }
        }
        let mut fresh =
            namespace::create(&index_dir, &data_dir, &desc.name, mode, self.ns_config())?;
        fresh.set_lock_state(lock);
        *self.get(id).expect("checked above") = fresh;
        Ok(())
    }

    /// Reloads a namespace from its files (`RELOAD`).
    pub fn reload(&mut self, id: NsId) -> Result<(), OpenError> {
        match self.get(id) {
            Some(ns) => ns.reload(),
            None => Ok(()),
        }
    }

    /// Flushes and fsyncs every namespace (shutdown).
    pub fn sync_all(&mut self) -> io::Result<()> {
        for ns in self.namespaces_mut() {
            ns.sync()?;
        }
        Ok(())
    }
}
