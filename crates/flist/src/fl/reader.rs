//! Reading a `.fl` file: a read-only connection and one bounded, checked query per question.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, Params, Row};

use super::decode::{self, bad, field, inode_row, name_value, Fault, INODE_COLUMNS};
use super::schema::{self, Extensions};
use super::{FlError, Inode, MAX_NAME_LEN, MAX_TARGET_LEN, MAX_TEXT};
use crate::block::BlockRef;

/// Most blocks accepted for one file (2 TiB of 512 KiB blocks).
const MAX_BLOCKS_PER_FILE: usize = 1 << 22;
/// Most rows accepted from `tag`, `route` or `tfgrid_config`.
pub(super) const MAX_ROWS: usize = 1 << 16;

/// A read-only view of a `.fl` file.
///
/// [`open`](FlReader::open) checks that the five rfs tables exist with the
/// columns we query; after that, every value is checked as it is read, and
/// anything malformed is reported as [`FlError::Invalid`] naming the inode.
/// The file is opened immutable (no locks, no journal), as fits a shipped,
/// possibly signed artifact. A reader is `Send` but not `Sync`: open one per
/// thread.
pub struct FlReader {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    pub(super) ext: Extensions,
}

impl FlReader {
    /// Opens and validates the `.fl` file at `path`.
    pub fn open(path: &Path) -> Result<FlReader, FlError> {
        let meta = fs::metadata(path).map_err(|source| FlError::Io {
            op: "open",
            path: path.to_owned(),
            source,
        })?;
        if !meta.is_file() {
            return Err(fault(path, bad("not a regular file")));
        }
        let abs = std::path::absolute(path).map_err(|source| FlError::Io {
            op: "resolve",
            path: path.to_owned(),
            source,
        })?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let setup = || -> Result<(Connection, Extensions), Fault> {
            let conn = Connection::open_with_flags(immutable_uri(&abs), flags)?;
            // The schema comes from an untrusted file: no triggers or views
            // calling functions with side effects, no writes to internals.
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
            let ext = schema::validate(&conn)?;
            Ok((conn, ext))
        };
        let (conn, ext) = setup().map_err(|f| fault(path, f))?;
        Ok(FlReader {
            conn,
            path: path.to_owned(),
            ext,
        })
    }

    /// The path the reader was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root directory: the first row (lowest `ino`) with parent 0, as
    /// rfs defines it.
    pub fn root(&self) -> Result<Inode, FlError> {
        let sql =
            format!("SELECT {INODE_COLUMNS} FROM inode WHERE parent = 0 ORDER BY ino LIMIT 1");
        let mut found = self.inodes(&sql, [], 1)?;
        found
            .pop()
            .ok_or_else(|| self.fail(bad("no root inode (no row with parent 0)")))
    }

    /// Inode `ino`, if it exists.
    pub fn inode(&self, ino: u64) -> Result<Option<Inode>, FlError> {
        let Ok(ino) = i64::try_from(ino) else {
            return Ok(None);
        };
        let sql = format!("SELECT {INODE_COLUMNS} FROM inode WHERE ino = ?1");
        Ok(self.inodes(&sql, [ino], 1)?.pop())
    }

    /// The entry `name` in directory `parent`, matching names stored as
    /// TEXT (rfs) or BLOB (our non-UTF-8 names).
    pub fn lookup(&self, parent: u64, name: &[u8]) -> Result<Option<Inode>, FlError> {
        let Ok(parent) = i64::try_from(parent) else {
            return Ok(None);
        };
        if name.len() > MAX_NAME_LEN {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {INODE_COLUMNS} FROM inode WHERE parent = ?1 AND name IN (?2, ?3) LIMIT 1"
        );
        // Our writer stores a name as `name_value` does; other writers may
        // have used a BLOB for a UTF-8 name. No ORDER BY: it would steer
        // SQLite away from the (parent, name) index to a directory scan.
        Ok(self
            .inodes(&sql, params![parent, name_value(name), name], 1)?
            .pop())
    }

    /// Up to `limit` entries of directory `parent` whose inode number is
    /// above `after_ino`, in inode order. Start with `after_ino = 0` and pass
    /// the last inode number seen to get the next page; every entry is
    /// returned exactly once. A row that names itself as parent is skipped.
    pub fn children(
        &self,
        parent: u64,
        after_ino: u64,
        limit: usize,
    ) -> Result<Vec<Inode>, FlError> {
        let (Ok(parent), Ok(after)) = (i64::try_from(parent), i64::try_from(after_ino)) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {INODE_COLUMNS} FROM inode WHERE parent = ?1 AND ino > ?2 AND ino <> ?1 \
             ORDER BY ino LIMIT ?3"
        );
        self.inodes(&sql, params![parent, after, limit], usize::MAX)
    }

    /// The target of symlink `ino` (from `extra`), if one is recorded.
    pub fn symlink_target(&self, ino: u64) -> Result<Option<Vec<u8>>, FlError> {
        let Ok(ino) = i64::try_from(ino) else {
            return Ok(None);
        };
        let mut found =
            self.rows(
                "SELECT data FROM extra WHERE ino = ?1",
                [ino],
                1,
                |row| match row.get_ref(0)? {
                    ValueRef::Null => Ok(None),
                    v => field(decode::bytes(v, MAX_TARGET_LEN), || {
                        format!("inode {ino}: symlink target")
                    })
                    .map(|b| Some(b.to_vec())),
                },
            )?;
        Ok(found.pop().flatten())
    }

    /// The blocks of file `ino`, in file order (`block` rowid order).
    pub fn blocks(&self, ino: u64) -> Result<Vec<BlockRef>, FlError> {
        let Ok(ino) = i64::try_from(ino) else {
            return Ok(Vec::new());
        };
        let sql = "SELECT id, key FROM block WHERE ino = ?1 ORDER BY rowid";
        let mut idx = 0usize;
        self.rows(sql, [ino], MAX_BLOCKS_PER_FILE, |row| {
            idx += 1;
            let hash = |col: usize, what: &str| -> Result<[u8; 32], Fault> {
                let b = field(decode::bytes(row.get_ref(col)?, 32), || {
                    format!("inode {ino}: block {idx}: {what}")
                })?;
                <[u8; 32]>::try_from(b).map_err(|_| {
                    bad(format!(
                        "inode {ino}: block {idx}: {what} is {} bytes, expected 32",
                        b.len()
                    ))
                })
            };
            Ok(BlockRef {
                id: hash(0, "id")?,
                key: hash(1, "key")?,
            })
        })
    }

    /// All tags, sorted by key.
    pub fn tags(&self) -> Result<Vec<(String, String)>, FlError> {
        self.rows(
            "SELECT key, value FROM tag ORDER BY key",
            [],
            MAX_ROWS,
            |row| {
                let key = field(decode::text(row.get_ref(0)?, MAX_TEXT), || "tag key".into())?;
                let value = field(decode::text(row.get_ref(1)?, MAX_TEXT), || {
                    format!("tag {key:?}")
                })?;
                Ok((key, value))
            },
        )
    }

    /// The value of tag `key`, if set.
    pub fn tag(&self, key: &str) -> Result<Option<String>, FlError> {
        let mut found = self.rows("SELECT value FROM tag WHERE key = ?1", [key], 1, |row| {
            field(decode::text(row.get_ref(0)?, MAX_TEXT), || {
                format!("tag {key:?}")
            })
        })?;
        Ok(found.pop())
    }

    /// The routes `(start, end, url)`, in the order they were written.
    pub fn routes(&self) -> Result<Vec<(u8, u8, String)>, FlError> {
        let sql = "SELECT start, end, url FROM route ORDER BY rowid";
        self.rows(sql, [], MAX_ROWS, |row| {
            let start = field(decode::uint(row.get_ref(0)?, 255), || "route start".into())?;
            let end = field(decode::uint(row.get_ref(1)?, 255), || "route end".into())?;
            let url = field(decode::text(row.get_ref(2)?, MAX_TEXT), || {
                "route url".into()
            })?;
            Ok((start as u8, end as u8, url))
        })
    }

    /// Runs an inode query, decoding at most `cap` rows.
    pub(super) fn inodes(
        &self,
        sql: &str,
        params: impl Params,
        cap: usize,
    ) -> Result<Vec<Inode>, FlError> {
        self.rows(sql, params, cap, inode_row)
    }

    /// Runs `sql` and decodes each row with `decode`; more than `cap` rows
    /// is an error (except for `cap` 1, which keeps the first row).
    pub(super) fn rows<T>(
        &self,
        sql: &str,
        params: impl Params,
        cap: usize,
        mut decode: impl FnMut(&Row<'_>) -> Result<T, Fault>,
    ) -> Result<Vec<T>, FlError> {
        let run = || -> Result<Vec<T>, Fault> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                if out.len() == cap {
                    if cap == 1 {
                        break;
                    }
                    return Err(bad(format!("more than {cap} rows for: {sql}")));
                }
                out.push(decode(row)?);
            }
            Ok(out)
        };
        run().map_err(|f| self.fail(f))
    }

    pub(super) fn fail(&self, f: Fault) -> FlError {
        fault(&self.path, f)
    }
}

impl std::fmt::Debug for FlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlReader")
            .field("path", &self.path)
            .field("extensions", &self.ext)
            .finish_non_exhaustive()
    }
}

/// Attaches the path to a fault; SQLite's "not a database" and "corrupt"
/// answers are the file's fault, so they become [`FlError::Invalid`].
fn fault(path: &Path, f: Fault) -> FlError {
    let reason = match f {
        Fault::Bad(reason) => reason,
        Fault::Sql(e) => match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => "not a SQLite database".to_string(),
            Some(ErrorCode::DatabaseCorrupt) => format!("corrupt SQLite database: {e}"),
            _ => {
                return FlError::Sqlite {
                    path: path.to_owned(),
                    source: e,
                }
            }
        },
    };
    FlError::Invalid {
        path: path.to_owned(),
        reason,
    }
}

/// `file:` URI for an absolute path, opened immutable: SQLite takes no
/// locks and never looks for a journal (a shipped `.fl` does not change).
fn immutable_uri(abs: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file://");
    for &b in abs.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_everything_odd() {
        let check = |path: &[u8], expected: &str| {
            use std::os::unix::ffi::OsStrExt;
            let path = Path::new(std::ffi::OsStr::from_bytes(path));
            assert_eq!(immutable_uri(path), expected);
        };
        check(b"/tmp/a.fl", "file:///tmp/a.fl?immutable=1");
        check(
            b"/tmp/a b?#%.fl",
            "file:///tmp/a%20b%3F%23%25.fl?immutable=1",
        );
        check(b"//srv/\xff", "file:////srv/%FF?immutable=1");
    }
}
