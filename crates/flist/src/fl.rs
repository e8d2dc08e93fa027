//! The rfs v2 `.fl` file: a SQLite database of inodes, blocks, tags and routes, plus our extension tables.
//!
//! The layout is described column by column in `crates/flist/FORMAT.md`.
//! [`FlWriter`] builds a file in one transaction and publishes it with a
//! rename, so a half-built file is never seen under its final name.
//! [`FlReader`] opens a file read-only, checks that the rfs tables are there,
//! and decodes every value defensively: a malformed or hostile file yields
//! [`FlError::Invalid`], never a panic or an endless loop.
//!
//! Files we write stay readable by rfs: the five rfs tables are created with
//! rfs's exact declarations, UTF-8 names are stored as TEXT (as rfs writes
//! and looks them up), and everything rfs does not know lives in separate
//! `tfgrid_*` tables and indexes that rfs never names.
//!
//! [`FlReader::walk`] visits a tree depth first; [`FlReader::children`] pages
//! a directory with a cursor; [`FlReader::path_of`] and
//! [`FlReader::resolve`] go between inodes and paths.

mod decode;
mod ext;
mod reader;
mod schema;
mod tree;
mod writer;

use std::path::PathBuf;

pub use reader::FlReader;
pub use tree::Walk;
pub use writer::FlWriter;

/// Longest accepted file name, in bytes (Linux `NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;
/// Longest accepted symlink target, in bytes (Linux `PATH_MAX`).
pub const MAX_TARGET_LEN: usize = 4096;
/// Deepest directory nesting followed by path lookups and walks; deeper
/// chains (or parent cycles) are reported as [`FlError::Invalid`].
pub const MAX_DEPTH: usize = 4096;

/// Longest tag key or value, route URL, or config key, in bytes.
const MAX_TEXT: usize = 64 * 1024;
/// Longest digest algorithm name and digest value, in bytes.
const MAX_DIGEST: usize = 1024;
/// Largest config value, in bytes.
const MAX_CONFIG_VALUE: usize = 16 * 1024 * 1024;

/// The value of the `ext-version` tag written next to the extension tables.
pub const EXT_VERSION: &str = "1";

/// `S_IFMT`: the file-type bits of [`Inode::mode`] (Linux values, fixed by
/// the format whatever the host).
pub const S_IFMT: u32 = 0o170_000;
/// Type bits of a socket.
pub const S_IFSOCK: u32 = 0o140_000;
/// Type bits of a symbolic link.
pub const S_IFLNK: u32 = 0o120_000;
/// Type bits of a regular file.
pub const S_IFREG: u32 = 0o100_000;
/// Type bits of a block device.
pub const S_IFBLK: u32 = 0o060_000;
/// Type bits of a directory.
pub const S_IFDIR: u32 = 0o040_000;
/// Type bits of a character device.
pub const S_IFCHR: u32 = 0o020_000;
/// Type bits of a FIFO.
pub const S_IFIFO: u32 = 0o010_000;

/// An extended attribute as `(name, value)`, both raw bytes.
pub type Xattr = (Vec<u8>, Vec<u8>);

/// One row of the `inode` table: a filesystem object.
///
/// `name` is raw bytes (not necessarily UTF-8); `mode` is the full Linux
/// `st_mode` (type bits and permission bits); times are whole seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inode {
    /// Inode number; the root is 1. Ignored by [`FlWriter::add_inode`].
    pub ino: u64,
    /// Inode number of the containing directory; 0 for the root.
    pub parent: u64,
    /// Name within the parent directory; `/` for the root.
    pub name: Vec<u8>,
    /// Size in bytes (for a regular file, the sum of its block plaintexts).
    pub size: u64,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// `st_mode`: file type ([`S_IFMT`] bits) and permissions.
    pub mode: u32,
    /// Device number, for character and block devices.
    pub rdev: u64,
    /// Change time, seconds since the epoch.
    pub ctime: i64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

/// What kind of object an [`Inode`] is, from its [`S_IFMT`] bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (target in the `extra` table).
    Symlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// Type bits that match no known type.
    Unknown,
}

impl FileType {
    /// The type encoded in the [`S_IFMT`] bits of `mode`.
    pub fn from_mode(mode: u32) -> FileType {
        match mode & S_IFMT {
            S_IFDIR => FileType::Dir,
            S_IFREG => FileType::File,
            S_IFLNK => FileType::Symlink,
            S_IFCHR => FileType::CharDevice,
            S_IFBLK => FileType::BlockDevice,
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            _ => FileType::Unknown,
        }
    }
}

impl Inode {
    /// The object's type, from the mode bits.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Dir
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == FileType::File
    }

    /// True for a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == FileType::Symlink
    }
}

/// Totals over a whole file, from [`FlReader::counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlCounts {
    /// Rows in `inode`, the root included.
    pub n_inodes: u64,
    /// Directories, the root included.
    pub n_dirs: u64,
    /// Regular files.
    pub n_files: u64,
    /// Symbolic links.
    pub n_symlinks: u64,
    /// Character and block devices, FIFOs, sockets and unknown types.
    pub n_specials: u64,
    /// Rows in `block`.
    pub n_blocks: u64,
    /// Sum of the sizes of regular files, in bytes.
    pub total_size: u64,
    /// Inodes recorded as another name of a file (`tfgrid_hardlink`).
    pub n_hardlinks: u64,
}

/// Everything that can go wrong reading or writing a `.fl` file.
#[derive(Debug, thiserror::Error)]
pub enum FlError {
    /// SQLite refused an operation.
    #[error("sqlite operation on {} failed", path.display())]
    Sqlite {
        /// The `.fl` file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is not a well-formed `.fl` (not SQLite, missing tables,
    /// a value of the wrong type or size, a broken parent chain, …).
    #[error("invalid flist {}: {reason}", path.display())]
    Invalid {
        /// The `.fl` file.
        path: PathBuf,
        /// What is wrong, naming the inode when there is one.
        reason: String,
    },
    /// A writer call was given data the format cannot hold (a name with
    /// `/`, an unknown inode, a second root, …); nothing was written.
    #[error("rejected by flist writer for {}: {reason}", path.display())]
    InvalidArgument {
        /// The `.fl` file being written.
        path: PathBuf,
        /// What was wrong with the argument.
        reason: String,
    },
    /// The inode asked for does not exist.
    #[error("no inode {ino} in {}", path.display())]
    NoSuchInode {
        /// The `.fl` file.
        path: PathBuf,
        /// The missing inode number.
        ino: u64,
    },
    /// [`FlWriter::create`] never overwrites an existing file.
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    /// A filesystem operation around the database failed.
    #[error("failed to {op} {}", path.display())]
    Io {
        /// What was being done ("rename", "stat", …).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
