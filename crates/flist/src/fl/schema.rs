//! The SQL schema of a `.fl` file: rfs's five tables, our extension tables, and the open-time check.
//!
//! The rfs declarations must stay exactly as rfs creates them (same table,
//! column and index names, same declared types): rfs and other tools query
//! these columns by name, and the declared types decide SQLite's column
//! affinity. See `FORMAT.md` for what each column holds.

use rusqlite::{Connection, OptionalExtension};

use super::decode::{bad, Fault};

/// The rfs tables and indexes, in creation order.
pub(super) const RFS_SCHEMA: &[&str] = &[
    "CREATE TABLE inode (
    ino INTEGER PRIMARY KEY AUTOINCREMENT,
    parent INTEGER,
    name VARCHAR(255),
    size INTEGER,
    uid INTEGER,
    gid INTEGER,
    mode INTEGER,
    rdev INTEGER,
    ctime INTEGER,
    mtime INTEGER
)",
    "CREATE INDEX parents ON inode (parent)",
    "CREATE INDEX names ON inode (name)",
    "CREATE TABLE extra (
    ino INTEGER PRIMARY KEY,
    data VARCHAR(4096)
)",
    "CREATE TABLE block (
    ino INTEGER,
    id VARCHAR(32),
    key VARCHAR(32)
)",
    "CREATE INDEX block_ino ON block (ino)",
    "CREATE TABLE tag (
    key VARCHAR(10) PRIMARY KEY,
    value VARCHAR(255)
)",
    "CREATE TABLE route (
    start integer,
    end integer,
    url VARCHAR(2048)
)",
];

/// An index rfs does not create, added to every file we write: rfs looks
/// entries up with `parent = ? AND name = ?`, which its own indexes can only
/// answer by scanning the whole directory; with this index SQLite (in rfs
/// and in our reader alike) finds the entry directly. Not UNIQUE, so tools
/// that edit rfs files keep working; our writer checks uniqueness itself.
pub(super) const LOOKUP_INDEX: &str =
    "CREATE INDEX tfgrid_inode_parent_name ON inode (parent, name)";

/// Our extension tables (rfs never queries them), created together on the
/// first extension write, next to the `ext-version` tag.
pub(super) const EXT_SCHEMA: &[&str] = &[
    "CREATE TABLE tfgrid_xattr (
    ino INTEGER,
    name BLOB,
    value BLOB
)",
    "CREATE UNIQUE INDEX tfgrid_xattr_ino_name ON tfgrid_xattr (ino, name)",
    "CREATE TABLE tfgrid_hardlink (
    ino INTEGER PRIMARY KEY,
    target INTEGER
)",
    "CREATE TABLE tfgrid_digest (
    ino INTEGER PRIMARY KEY,
    algo TEXT,
    value BLOB
)",
    "CREATE TABLE tfgrid_prefetch (
    ord INTEGER PRIMARY KEY,
    ino INTEGER
)",
    "CREATE TABLE tfgrid_config (
    key TEXT PRIMARY KEY,
    value BLOB
)",
];

/// Tables a reader needs, with the columns it queries.
const RFS_TABLES: &[(&str, &[&str])] = &[
    (
        "inode",
        &[
            "ino", "parent", "name", "size", "uid", "gid", "mode", "rdev", "ctime", "mtime",
        ],
    ),
    ("extra", &["ino", "data"]),
    ("block", &["ino", "id", "key"]),
    ("tag", &["key", "value"]),
    ("route", &["start", "end", "url"]),
];

/// Extension tables with the columns the reader queries; each one is
/// optional (files made by rfs have none).
const EXT_TABLES: &[(&str, &[&str])] = &[
    ("tfgrid_xattr", &["ino", "name", "value"]),
    ("tfgrid_hardlink", &["ino", "target"]),
    ("tfgrid_digest", &["ino", "algo", "value"]),
    ("tfgrid_prefetch", &["ord", "ino"]),
    ("tfgrid_config", &["key", "value"]),
];

/// Which extension tables a file has.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Extensions {
    pub(super) xattr: bool,
    pub(super) hardlink: bool,
    pub(super) digest: bool,
    pub(super) prefetch: bool,
    pub(super) config: bool,
}

/// Checks that the rfs tables exist with the columns we query, and finds
/// which extension tables are present (checking their columns too).
pub(super) fn validate(conn: &Connection) -> Result<Extensions, Fault> {
    for (table, columns) in RFS_TABLES {
        if !has_table(conn, table, columns)? {
            return Err(bad(format!("table `{table}` is missing")));
        }
    }
    let mut present = [false; EXT_TABLES.len()];
    for (found, (table, columns)) in present.iter_mut().zip(EXT_TABLES) {
        *found = has_table(conn, table, columns)?;
    }
    let [xattr, hardlink, digest, prefetch, config] = present;
    Ok(Extensions {
        xattr,
        hardlink,
        digest,
        prefetch,
        config,
    })
}

/// Whether `table` exists; an error if it is not a plain table or lacks a
/// column (a view could run arbitrary queries behind an innocent name).
fn has_table(conn: &Connection, table: &str, columns: &[&str]) -> Result<bool, Fault> {
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = ?1",
            [table],
            |row| row.get(0),
        )
        .optional()?;
    match kind.as_deref() {
        None => return Ok(false),
        Some("table") => {}
        Some(other) => return Err(bad(format!("`{table}` is a {other}, not a table"))),
    }
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let found: Vec<String> = stmt
        .query_map([table], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for column in columns {
        if !found.iter().any(|f| f.eq_ignore_ascii_case(column)) {
            return Err(bad(format!("table `{table}` has no column `{column}`")));
        }
    }
    Ok(true)
}
