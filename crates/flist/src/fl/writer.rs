//! Building a `.fl` file: one SQLite transaction, published by a rename in `finish`.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::decode::{check_name, name_value};
use super::schema::{EXT_SCHEMA, LOOKUP_INDEX, RFS_SCHEMA};
use super::{FlError, Inode, EXT_VERSION, MAX_CONFIG_VALUE, MAX_DIGEST, MAX_TARGET_LEN, MAX_TEXT};
use crate::block::BlockRef;

/// Longest xattr name (Linux `XATTR_NAME_MAX`).
const MAX_XATTR_NAME: usize = 255;
/// Largest xattr value (Linux `XATTR_SIZE_MAX`).
const MAX_XATTR_VALUE: usize = 64 * 1024;

/// Writes a new `.fl` file.
///
/// Everything goes into `<path>.tmp` inside one transaction; [`finish`]
/// commits it and renames the file to `path`. A writer dropped without
/// `finish` removes the temporary file, so `path` only ever holds a complete
/// flist. Inodes must be added parents first, starting with [`root`]; the
/// writer hands out inode numbers 1, 2, 3, … in insertion order.
///
/// [`finish`]: FlWriter::finish
/// [`root`]: FlWriter::root
pub struct FlWriter {
    /// `None` once `finish` has taken it.
    conn: Option<Connection>,
    path: PathBuf,
    tmp: PathBuf,
    /// Highest inode number handed out (0 before the root).
    last_ino: u64,
    /// Inodes that are directories, to check parents.
    dirs: HashSet<u64>,
    /// Whether the extension tables have been created.
    ext: bool,
}

impl FlWriter {
    /// Starts a new flist at `path`; fails with [`FlError::Exists`] if
    /// `path` exists. A stale `<path>.tmp` from an interrupted build is
    /// replaced, so two writers must not target the same path at once.
    pub fn create(path: &Path) -> Result<FlWriter, FlError> {
        if path.symlink_metadata().is_ok() {
            return Err(FlError::Exists(path.to_owned()));
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        remove_tmp(&tmp)?;
        let sql = |source| FlError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&tmp, flags).map_err(sql)?;
        // rfs ships self-contained files: rollback journal, never WAL.
        conn.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sql)?;
        conn.execute_batch("BEGIN").map_err(sql)?;
        for stmt in RFS_SCHEMA.iter().chain([&LOOKUP_INDEX]) {
            conn.execute(stmt, []).map_err(sql)?;
        }
        Ok(FlWriter {
            conn: Some(conn),
            path: path.to_owned(),
            tmp,
            last_ino: 0,
            dirs: HashSet::new(),
            ext: false,
        })
    }

    /// Writes the root directory as inode 1 (parent 0, name `/`), taking
    /// the other fields from `meta`. Must be the first inode written.
    pub fn root(&mut self, meta: &Inode) -> Result<u64, FlError> {
        if self.last_ino != 0 {
            return Err(self.reject("the root must be the first inode, written once"));
        }
        if !meta.is_dir() {
            return Err(self.reject("the root must be a directory"));
        }
        self.insert_inode(0, b"/", meta)
    }

    /// Adds `inode` under `inode.parent` (a directory already written) and
    /// returns its new inode number; `inode.ino` is ignored. Names must be
    /// 1–255 bytes without `/` or NUL, not `.` or `..`, and unique within
    /// their directory.
    pub fn add_inode(&mut self, inode: &Inode) -> Result<u64, FlError> {
        if self.last_ino == 0 {
            return Err(self.reject("the root must be written before any other inode"));
        }
        if let Err(reason) = check_name(&inode.name) {
            return Err(self.reject(reason));
        }
        if !self.dirs.contains(&inode.parent) {
            let reason = format!("parent {} is not a directory written before", inode.parent);
            return Err(self.reject(reason));
        }
        let taken = self
            .conn()
            .prepare_cached("SELECT 1 FROM inode WHERE parent = ?1 AND name = ?2")
            .and_then(|mut stmt| {
                let name = name_value(&inode.name);
                stmt.query_row(params![inode.parent as i64, name], |_| Ok(()))
                    .optional()
            })
            .map_err(|e| self.sql(e))?;
        if taken.is_some() {
            let name = String::from_utf8_lossy(&inode.name).into_owned();
            return Err(self.reject(format!(
                "{name:?} already exists in directory {}",
                inode.parent
            )));
        }
        self.insert_inode(inode.parent, &inode.name, inode)
    }

    fn insert_inode(&mut self, parent: u64, name: &[u8], meta: &Inode) -> Result<u64, FlError> {
        let size = i64::try_from(meta.size).map_err(|_| self.reject("size over i64::MAX"))?;
        let name = name_value(name);
        let ino = self
            .conn()
            .prepare_cached(
                "INSERT INTO inode (parent, name, size, uid, gid, mode, rdev, ctime, mtime) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut stmt| {
                stmt.insert(params![
                    parent as i64,
                    name,
                    size,
                    meta.uid,
                    meta.gid,
                    meta.mode,
                    // Bit-cast, as rfs stores device numbers.
                    meta.rdev as i64,
                    meta.ctime,
                    meta.mtime,
                ])
            })
            .map_err(|e| self.sql(e))?;
        let ino = ino as u64;
        self.last_ino = ino;
        if meta.is_dir() {
            self.dirs.insert(ino);
        }
        Ok(ino)
    }

    /// Records the target of symlink `ino` (stored as a BLOB in `extra`).
    pub fn set_symlink_target(&mut self, ino: u64, target: &[u8]) -> Result<(), FlError> {
        self.check_ino(ino)?;
        self.check_len("symlink target", target.len(), 1, MAX_TARGET_LEN)?;
        let sql = "INSERT OR REPLACE INTO extra (ino, data) VALUES (?1, ?2)";
        self.exec(sql, params![ino as i64, target])
    }

    /// Appends a block to file `ino`; blocks are read back in the order
    /// they were added, which is their order in the file.
    pub fn add_block(&mut self, ino: u64, block: &BlockRef) -> Result<(), FlError> {
        self.check_ino(ino)?;
        let sql = "INSERT INTO block (ino, id, key) VALUES (?1, ?2, ?3)";
        self.exec(sql, params![ino as i64, &block.id[..], &block.key[..]])
    }

    /// Sets tag `key` (replacing an earlier value).
    pub fn set_tag(&mut self, key: &str, value: &str) -> Result<(), FlError> {
        self.check_len("tag key", key.len(), 1, MAX_TEXT)?;
        self.check_len("tag value", value.len(), 0, MAX_TEXT)?;
        self.exec(
            "INSERT OR REPLACE INTO tag (key, value) VALUES (?1, ?2)",
            params![key, value],
        )
    }

    /// Adds a route: blocks whose id starts with a byte in `start..=end`
    /// live at `url`. Strip passwords from `url` before calling this.
    pub fn add_route(&mut self, start: u8, end: u8, url: &str) -> Result<(), FlError> {
        if start > end {
            return Err(self.reject(format!("route range {start:02x}-{end:02x} is empty")));
        }
        self.check_len("route url", url.len(), 1, MAX_TEXT)?;
        self.exec(
            "INSERT INTO route (start, end, url) VALUES (?1, ?2, ?3)",
            params![start, end, url],
        )
    }

    /// Records extended attribute `name` = `value` on inode `ino`.
    pub fn add_xattr(&mut self, ino: u64, name: &[u8], value: &[u8]) -> Result<(), FlError> {
        self.check_ino(ino)?;
        self.check_len("xattr name", name.len(), 1, MAX_XATTR_NAME)?;
        self.check_len("xattr value", value.len(), 0, MAX_XATTR_VALUE)?;
        self.ext_exec(
            "INSERT INTO tfgrid_xattr (ino, name, value) VALUES (?1, ?2, ?3)",
            params![ino as i64, name, value],
        )
    }

    /// Records that inode `ino` is another name of file `target` (the first
    /// name met). `ino` keeps its own inode and block rows, so rfs sees an
    /// independent copy of the file.
    pub fn set_hardlink(&mut self, ino: u64, target: u64) -> Result<(), FlError> {
        self.check_ino(ino)?;
        self.check_ino(target)?;
        if ino == target {
            return Err(self.reject(format!("inode {ino} cannot be a hardlink to itself")));
        }
        self.ext_exec(
            "INSERT OR REPLACE INTO tfgrid_hardlink (ino, target) VALUES (?1, ?2)",
            params![ino as i64, target as i64],
        )
    }

    /// Records the whole-file digest of `ino`, computed with `algo` (a
    /// short name such as `blake2b-256`).
    pub fn set_digest(&mut self, ino: u64, algo: &str, value: &[u8]) -> Result<(), FlError> {
        self.check_ino(ino)?;
        self.check_len("digest algorithm", algo.len(), 1, MAX_DIGEST)?;
        self.check_len("digest", value.len(), 1, MAX_DIGEST)?;
        self.ext_exec(
            "INSERT OR REPLACE INTO tfgrid_digest (ino, algo, value) VALUES (?1, ?2, ?3)",
            params![ino as i64, algo, value],
        )
    }

    /// Replaces the prefetch list: inodes to fetch ahead, in this order.
    pub fn set_prefetch(&mut self, inos: &[u64]) -> Result<(), FlError> {
        for &ino in inos {
            self.check_ino(ino)?;
        }
        self.ext_exec("DELETE FROM tfgrid_prefetch", [])?;
        for (ord, &ino) in inos.iter().enumerate() {
            self.exec(
                "INSERT INTO tfgrid_prefetch (ord, ino) VALUES (?1, ?2)",
                params![ord as i64, ino as i64],
            )?;
        }
        Ok(())
    }

    /// Sets image configuration entry `key` (replacing an earlier value);
    /// the value is opaque bytes, e.g. the OCI config JSON.
    pub fn set_config(&mut self, key: &str, value: &[u8]) -> Result<(), FlError> {
        self.check_len("config key", key.len(), 1, MAX_TEXT)?;
        self.check_len("config value", value.len(), 0, MAX_CONFIG_VALUE)?;
        self.ext_exec(
            "INSERT OR REPLACE INTO tfgrid_config (key, value) VALUES (?1, ?2)",
            params![key, value],
        )
    }

    /// Commits the transaction and moves the file to its final path.
    pub fn finish(mut self) -> Result<(), FlError> {
        if self.last_ino == 0 {
            return Err(self.reject("no root inode was written"));
        }
        let conn = self.conn.take().expect("finish consumes the writer");
        let res = self.publish(conn);
        if res.is_err() {
            clean_up(&self.tmp);
        }
        res
    }

    fn publish(&self, conn: Connection) -> Result<(), FlError> {
        conn.execute_batch("COMMIT").map_err(|e| self.sql(e))?;
        conn.close().map_err(|(_, e)| self.sql(e))?;
        if self.path.symlink_metadata().is_ok() {
            return Err(FlError::Exists(self.path.clone()));
        }
        fs::rename(&self.tmp, &self.path).map_err(|source| FlError::Io {
            op: "rename into place",
            path: self.path.clone(),
            source,
        })?;
        sync_parent(&self.path)
    }

    fn conn(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("only finish takes the connection")
    }

    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<(), FlError> {
        self.conn()
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(params))
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    /// [`exec`](Self::exec) after creating the extension tables if needed.
    fn ext_exec(&mut self, sql: &str, params: impl rusqlite::Params) -> Result<(), FlError> {
        if !self.ext {
            for stmt in EXT_SCHEMA {
                self.conn().execute_batch(stmt).map_err(|e| self.sql(e))?;
            }
            self.set_tag("ext-version", EXT_VERSION)?;
            self.ext = true;
        }
        self.exec(sql, params)
    }

    fn check_ino(&self, ino: u64) -> Result<(), FlError> {
        if ino == 0 || ino > self.last_ino {
            return Err(self.reject(format!("inode {ino} has not been written")));
        }
        Ok(())
    }

    fn check_len(&self, what: &str, len: usize, min: usize, max: usize) -> Result<(), FlError> {
        if (min..=max).contains(&len) {
            return Ok(());
        }
        Err(self.reject(format!("{what} of {len} bytes ({min}..={max})")))
    }

    fn sql(&self, source: rusqlite::Error) -> FlError {
        FlError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn reject(&self, reason: impl Into<String>) -> FlError {
        FlError::InvalidArgument {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Debug for FlWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlWriter")
            .field("path", &self.path)
            .field("last_ino", &self.last_ino)
            .finish_non_exhaustive()
    }
}

impl Drop for FlWriter {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn); // rolls back the open transaction
            clean_up(&self.tmp);
        }
    }
}

/// [`remove_tmp`] where nobody can be told but the log.
fn clean_up(tmp: &Path) {
    if let Err(e) = remove_tmp(tmp) {
        let cause = std::error::Error::source(&e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        tracing::warn!("failed to clean up an unfinished flist: {e}{cause}");
    }
}

/// Removes `tmp` and its rollback journal if they exist.
fn remove_tmp(tmp: &Path) -> Result<(), FlError> {
    let mut journal = tmp.as_os_str().to_owned();
    journal.push("-journal");
    for path in [tmp, Path::new(&journal)] {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(FlError::Io {
                    op: "remove",
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Makes the rename durable.
fn sync_parent(path: &Path) -> Result<(), FlError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| FlError::Io {
            op: "sync directory",
            path: parent.to_owned(),
            source,
        })
}
