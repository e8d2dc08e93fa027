//! Writing an flist back to disk: every inode with its mode, owner, times,
//! symlink target, device numbers, hardlinks and xattrs, and every file's
//! bytes fetched, verified and decrypted block by block.
//!
//! The `.fl` may come from anyone, so nothing in it can write outside the
//! destination: names are single path components (no `/`, `.`, `..`, NUL),
//! the walk only descends into directories it created itself, and every
//! object is created exclusively (an existing name is an error, so a symlink
//! planted under a name can never be followed).

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::block::{decode_block_with, BlockError, Codec};
use crate::fl::{FlError, FlReader, Inode};
use crate::store::{BlockStore, StoreError};
use crate::xattr;

/// Inodes listed per `children` query.
const PAGE: usize = 1024;

/// Why an extraction (or a `cat`) failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The `.fl` could not be read.
    #[error(transparent)]
    Fl(#[from] FlError),
    /// A file operation at the destination failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The store failed.
    #[error("fetch block {id} of {path}: {source}")]
    Store {
        /// The file.
        path: String,
        /// Block id (hex).
        id: String,
        /// The underlying error.
        source: StoreError,
    },
    /// No store has the block.
    #[error("block {id} of {path} is in no store")]
    MissingBlock {
        /// The file.
        path: String,
        /// Block id (hex).
        id: String,
    },
    /// A block failed verification: the store served wrong bytes.
    #[error("block {id} of {path}: {source}")]
    BadBlock {
        /// The file.
        path: String,
        /// Block id (hex).
        id: String,
        /// What failed.
        source: BlockError,
    },
    /// The blocks do not add up to the recorded size.
    #[error("{path}: blocks hold {got} bytes, the inode says {expected}")]
    SizeMismatch {
        /// The file.
        path: String,
        /// Size in the inode.
        expected: u64,
        /// Bytes in the blocks.
        got: u64,
    },
    /// A name that would leave its directory.
    #[error("refusing entry {name:?} under {parent}: not a plain file name")]
    HostileName {
        /// The parent directory (in the flist).
        parent: String,
        /// The name, lossily decoded.
        name: String,
    },
    /// The destination exists and is not empty.
    #[error("{0} exists and is not empty")]
    DestinationNotEmpty(PathBuf),
}

/// What an extraction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Directories, root included.
    pub dirs: u64,
    /// Regular files written.
    pub files: u64,
    /// Hardlinks made.
    pub hardlinks: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Devices, FIFOs and sockets made.
    pub specials: u64,
    /// Device nodes skipped (creating them needs root).
    pub skipped: u64,
    /// File bytes written.
    pub bytes: u64,
}

/// How to extract.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    /// Restore owners (needs root; default when running as root).
    pub owners: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        // SAFETY: geteuid has no preconditions.
        ExtractOptions {
            owners: unsafe { libc::geteuid() } == 0,
        }
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ExtractError {
    let path = path.to_owned();
    move |source| ExtractError::Io { op, path, source }
}

/// Whether `name` is one plain path component.
fn plain_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// The block codec an flist was built with (its `block-codec` tag; rfs
/// flists have none and use snappy).
pub fn block_codec(reader: &FlReader) -> Result<Codec, FlError> {
    match reader.tag(Codec::TAG)? {
        None => Ok(Codec::Snappy),
        Some(name) => Codec::parse(&name).ok_or_else(|| FlError::Invalid {
            path: reader.path().to_owned(),
            reason: format!("unknown block codec {name:?}"),
        }),
    }
}

/// Writes the content of file `inode` to `out`, verifying every block.
pub fn read_file(
    reader: &FlReader,
    store: &dyn BlockStore,
    inode: &Inode,
    out: &mut dyn Write,
) -> Result<u64, ExtractError> {
    let display =
        || String::from_utf8_lossy(&reader.path_of(inode.ino).unwrap_or_default()).into_owned();
    let codec = block_codec(reader)?;
    let mut written = 0u64;
    for block in reader.blocks(inode.ino)? {
        let id = block.id_hex();
        let cipher = store
            .get(&block.id)
            .map_err(|source| ExtractError::Store {
                path: display(),
                id: id.clone(),
                source,
            })?
            .ok_or_else(|| ExtractError::MissingBlock {
                path: display(),
                id: id.clone(),
            })?;
        let plain =
            decode_block_with(&block, &cipher, codec).map_err(|source| ExtractError::BadBlock {
                path: display(),
                id,
                source,
            })?;
        out.write_all(&plain).map_err(|source| ExtractError::Io {
            op: "write",
            path: PathBuf::from(display()),
            source,
        })?;
        written += plain.len() as u64;
    }
    if written != inode.size {
        return Err(ExtractError::SizeMismatch {
            path: display(),
            expected: inode.size,
            got: written,
        });
    }
    Ok(written)
}

/// Extracts the whole flist into `dest` (created if missing, must be empty).
pub fn extract(
    reader: &FlReader,
    store: &dyn BlockStore,
    dest: &Path,
    options: ExtractOptions,
) -> Result<ExtractStats, ExtractError> {
    match fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ExtractError::DestinationNotEmpty(dest.to_owned()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(io_err("create", dest))?;
        }
        Err(e) => return Err(io_err("open", dest)(e)),
    }
    let root = reader.root()?;
    let mut stats = ExtractStats {
        dirs: 1,
        ..ExtractStats::default()
    };
    let mut files: HashMap<u64, PathBuf> = HashMap::new();
    // Directories get their final mode, owner and times after their
    // children are written (a read-only directory could not be filled).
    let mut finish_dirs = vec![(dest.to_owned(), root.clone())];
    let mut pending = vec![(dest.to_owned(), root.ino)];
    while let Some((dir, dir_ino)) = pending.pop() {
        let mut after = 0;
        loop {
            let page = reader.children(dir_ino, after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.ino;
            for child in page {
                if !plain_name(&child.name) {
                    return Err(ExtractError::HostileName {
                        parent: String::from_utf8_lossy(&reader.path_of(dir_ino)?).into_owned(),
                        name: String::from_utf8_lossy(&child.name).into_owned(),
                    });
                }
                let path = dir.join(OsStr::from_bytes(&child.name));
                if child.is_dir() {
                    fs::DirBuilder::new()
                        .mode(0o700)
                        .create(&path)
                        .map_err(io_err("create directory", &path))?;
                    stats.dirs += 1;
                    pending.push((path.clone(), child.ino));
                    finish_dirs.push((path, child));
                    continue;
                }
                create_entry(reader, store, &path, &child, &mut files, &mut stats)?;
                finish(&path, &child, reader, options)?;
            }
        }
    }
    for (path, inode) in finish_dirs.iter().rev() {
        finish(path, inode, reader, options)?;
    }
    Ok(stats)
}

/// Creates a non-directory entry.
fn create_entry(
    reader: &FlReader,
    store: &dyn BlockStore,
    path: &Path,
    inode: &Inode,
    files: &mut HashMap<u64, PathBuf>,
    stats: &mut ExtractStats,
) -> Result<(), ExtractError> {
    if inode.is_symlink() {
        let target = reader.symlink_target(inode.ino)?.unwrap_or_default();
        std::os::unix::fs::symlink(OsStr::from_bytes(&target), path)
            .map_err(io_err("create symlink", path))?;
        stats.symlinks += 1;
        return Ok(());
    }
    if inode.is_file() {
        // Names of one file share a group (the first name's inode); the
        // walk may meet any of them first, and that one gets the bytes.
        let group = reader.hardlink_target(inode.ino)?.unwrap_or(inode.ino);
        if let Some(first) = files.get(&group) {
            fs::hard_link(first, path).map_err(io_err("create hardlink", path))?;
            stats.hardlinks += 1;
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(path)
            .map_err(io_err("create", path))?;
        stats.bytes += read_file(reader, store, inode, &mut file)?;
        stats.files += 1;
        files.insert(group, path.to_owned());
        return Ok(());
    }
    let cpath = CString::new(path.as_os_str().as_bytes()).expect("names checked for NUL");
    let kind = inode.mode & libc::S_IFMT;
    // SAFETY: mknod with a valid NUL-terminated path.
    let rc = unsafe { libc::mknod(cpath.as_ptr(), kind | 0o600, inode.rdev as libc::dev_t) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EPERM) && kind != libc::S_IFIFO {
            tracing::warn!(path = %path.display(), "skipping device node: creating it needs root");
            stats.skipped += 1;
            return Ok(());
        }
        return Err(io_err("create special file", path)(err));
    }
    stats.specials += 1;
    Ok(())
}

/// Applies xattrs, owner, mode and times (in that order: chown clears the
/// set-id bits, so the mode comes after it).
fn finish(
    path: &Path,
    inode: &Inode,
    reader: &FlReader,
    options: ExtractOptions,
) -> Result<(), ExtractError> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(()); // a skipped device node
    }
    for (name, value) in reader.xattrs(inode.ino)? {
        if let Err(e) = xattr::set(path, &name, &value) {
            tracing::warn!(path = %path.display(), "failed to set xattr {}: {e}", String::from_utf8_lossy(&name));
        }
    }
    let cpath = CString::new(path.as_os_str().as_bytes()).expect("names checked for NUL");
    if options.owners {
        // SAFETY: lchown on a valid NUL-terminated path.
        if unsafe { libc::lchown(cpath.as_ptr(), inode.uid, inode.gid) } != 0 {
            return Err(io_err("chown", path)(io::Error::last_os_error()));
        }
    }
    if !inode.is_symlink() {
        fs::set_permissions(path, fs::Permissions::from_mode(inode.mode & 0o7777))
            .map_err(io_err("chmod", path))?;
    }
    let time = libc::timespec {
        tv_sec: inode.mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [time, time];
    // SAFETY: utimensat with a valid path and a two-element timespec array.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            cpath.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io_err("set times", path)(io::Error::last_os_error()));
    }
    Ok(())
}
