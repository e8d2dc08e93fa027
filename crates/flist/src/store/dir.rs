//! `dir://` stores: one file per block under a local directory, sharded by the first id byte.
//!
//! Layout (the same as rfs, so either tool reads the other's directories, and
//! any static web server can publish one):
//!
//! ```text
//! <root>/<hex id[0..2]>/<hex id>     written here
//! <root>/<hex id>                    also read from
//! ```
//!
//! A block is written to a hidden temporary file in its shard directory,
//! flushed to disk, then renamed into place, so a crash leaves either the whole
//! block or no block under the final name, never a prefix of one.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::url::{percent_encode_path, StoreUrl};
use super::{BlockStore, StoreError};

/// Blocks as files under a local directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
    url: String,
}

impl DirStore {
    /// A store rooted at `root`, which must be absolute; it is created on the first write.
    pub fn new(root: impl Into<PathBuf>) -> Result<DirStore, StoreError> {
        let root = root.into();
        let encoded = percent_encode_path(root.as_os_str().as_bytes());
        if !root.is_absolute() {
            return Err(StoreError::Url {
                url: format!("dir://{encoded}"),
                reason: "the directory must be an absolute path".to_string(),
            });
        }
        Ok(DirStore {
            url: format!("dir://{encoded}"),
            root,
        })
    }

    /// Opens `dir:///abs/path` (percent escapes in the path are decoded).
    pub fn open(url: &str) -> Result<DirStore, StoreError> {
        let parsed = StoreUrl::parse(url)?;
        let bad = |reason: &str| StoreError::Url {
            url: parsed.without_password(),
            reason: reason.to_string(),
        };
        if parsed.scheme != "dir" {
            return Err(bad("not a dir:// URL"));
        }
        if parsed.user.is_some() || !parsed.host.is_empty() || parsed.port.is_some() {
            return Err(bad(
                "expected dir:///absolute/path (three slashes, no host)",
            ));
        }
        if !parsed.query.is_empty() {
            return Err(bad("dir:// URLs take no query"));
        }
        if parsed.path.is_empty() {
            return Err(bad("missing directory path"));
        }
        Ok(DirStore {
            root: PathBuf::from(OsStr::from_bytes(&parsed.path)),
            url: parsed.without_password(),
        })
    }

    /// The directory blocks are stored under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where block `id` is written: `<root>/<hex[0..2]>/<hex>`.
    pub fn block_path(&self, id: &[u8; 32]) -> PathBuf {
        let hex = hex::encode(id);
        self.root.join(&hex[..2]).join(hex)
    }

    /// The older flat location `<root>/<hex>`, still read.
    fn flat_path(&self, id: &[u8; 32]) -> PathBuf {
        self.root.join(hex::encode(id))
    }
}

/// Writes `data` to a temporary file next to `path` (creating the parent
/// directory) and renames it over `path`, so a reader never sees half a
/// file. Not synced: the block store syncs its filesystem once per build
/// ([`BlockStore::sync`]), and the mount's cache re-verifies what it reads.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .expect("block paths always have a shard directory");
    fs::create_dir_all(dir)?;
    let name = path.file_name().expect("block paths end in the hex id");
    let mut tmp_name = OsStr::new(".").to_os_string();
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads `path`, mapping "not there" to `None`.
fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if is_missing(&e) => Ok(None),
        Err(source) => Err(StoreError::Io {
            what: format!("read {}", path.display()),
            source,
        }),
    }
}

/// Whether `e` means the file (or a directory on its path) does not exist.
fn is_missing(e: &io::Error) -> bool {
    // ENOTDIR: a shard name exists as a file, so no block can be below it
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// Whether `path` is an existing file.
fn file_exists(path: &Path) -> Result<bool, StoreError> {
    match fs::metadata(path) {
        // An empty file is a block torn by a crash before the store was
        // synced: treat it as absent so it gets written again.
        Ok(meta) => Ok(meta.is_file() && meta.len() > 0),
        Err(e) if is_missing(&e) => Ok(false),
        Err(source) => Err(StoreError::Io {
            what: format!("stat {}", path.display()),
            source,
        }),
    }
}

impl BlockStore for DirStore {
    fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        match read_if_exists(&self.block_path(id))? {
            Some(data) => Ok(Some(data)),
            None => read_if_exists(&self.flat_path(id)),
        }
    }

    fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        if self.exists(id)? {
            return Ok(());
        }
        let path = self.block_path(id);
        write_atomic(&path, data).map_err(|source| StoreError::Io {
            what: format!("write {}", path.display()),
            source,
        })
    }

    fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(file_exists(&self.block_path(id))? || file_exists(&self.flat_path(id))?)
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn sync(&self) -> Result<(), StoreError> {
        let root = fs::File::open(&self.root).map_err(|source| StoreError::Io {
            what: format!("open {}", self.root.display()),
            source,
        })?;
        // SAFETY: syncfs on a descriptor we own.
        if unsafe { libc::syncfs(std::os::unix::io::AsRawFd::as_raw_fd(&root)) } != 0 {
            return Err(StoreError::Io {
                what: format!("sync {}", self.root.display()),
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }
}
