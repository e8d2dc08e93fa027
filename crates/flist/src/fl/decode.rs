//! Defensive decoding of SQLite values into `.fl` fields, and the name rules shared by reader and writer.
//!
//! SQLite lets any column hold any type, so every value read from a file is
//! checked for its storage class, range and length before it is used.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Row;

use super::{Inode, MAX_NAME_LEN};

/// Columns of `inode`, in the order [`inode_row`] expects them.
pub(super) const INODE_COLUMNS: &str =
    "ino, parent, name, size, uid, gid, mode, rdev, ctime, mtime";

/// Why a query or a decode failed, before the file path is attached.
pub(super) enum Fault {
    /// SQLite itself failed.
    Sql(rusqlite::Error),
    /// A value is not what the format allows.
    Bad(String),
}

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Fault {
        Fault::Sql(e)
    }
}

/// Shorthand for a [`Fault::Bad`].
pub(super) fn bad(reason: impl Into<String>) -> Fault {
    Fault::Bad(reason.into())
}

fn kind(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

/// An INTEGER value; the error says what was found instead.
pub(super) fn int(v: ValueRef<'_>) -> Result<i64, String> {
    match v {
        ValueRef::Integer(i) => Ok(i),
        other => Err(format!("is {}, expected an integer", kind(other))),
    }
}

/// An INTEGER value in `0..=max`.
pub(super) fn uint(v: ValueRef<'_>, max: u64) -> Result<u64, String> {
    let i = int(v)?;
    match u64::try_from(i) {
        Ok(u) if u <= max => Ok(u),
        _ => Err(format!("is {i}, outside 0..={max}")),
    }
}

/// The raw bytes of a TEXT or BLOB value, at most `max` long.
pub(super) fn bytes(v: ValueRef<'_>, max: usize) -> Result<&[u8], String> {
    let b = match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => b,
        other => return Err(format!("is {}, expected text or a blob", kind(other))),
    };
    if b.len() > max {
        return Err(format!(
            "is {} bytes long, over the {max}-byte limit",
            b.len()
        ));
    }
    Ok(b)
}

/// A TEXT (or UTF-8 BLOB) value, at most `max` bytes long.
pub(super) fn text(v: ValueRef<'_>, max: usize) -> Result<String, String> {
    let b = bytes(v, max)?;
    String::from_utf8(b.to_vec()).map_err(|_| "is not valid UTF-8".to_string())
}

/// Prefixes a value problem with the field it was found in.
pub(super) fn field<T>(res: Result<T, String>, what: impl FnOnce() -> String) -> Result<T, Fault> {
    res.map_err(|problem| Fault::Bad(format!("{} {problem}", what())))
}

/// How a name is stored: TEXT when it is UTF-8 (what rfs writes, decodes
/// and looks up), a BLOB otherwise (rfs cannot represent such names at all).
pub(super) fn name_value(name: &[u8]) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match std::str::from_utf8(name) {
        Ok(_) => ValueRef::Text(name),
        Err(_) => ValueRef::Blob(name),
    })
}

/// Checks a directory entry name: what the reader accepts and the writer
/// writes. The root's name is exempt (rfs writes `/`).
pub(super) fn check_name(name: &[u8]) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "name is {} bytes long, over the {MAX_NAME_LEN}-byte limit",
            name.len()
        ));
    }
    if name == b"." || name == b".." {
        return Err(format!(
            "name {:?} is reserved",
            String::from_utf8_lossy(name)
        ));
    }
    if name.contains(&b'/') || name.contains(&0) {
        return Err(format!(
            "name {:?} contains '/' or NUL",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(())
}

/// Decodes a row selected with [`INODE_COLUMNS`].
pub(super) fn inode_row(row: &Row<'_>) -> Result<Inode, Fault> {
    const MAX_I64: u64 = i64::MAX as u64;
    let ino = field(uint(row.get_ref(0)?, MAX_I64), || "inode number".into())?;
    let unsigned = |idx: usize, max: u64, col: &str| -> Result<u64, Fault> {
        field(uint(row.get_ref(idx)?, max), || {
            format!("inode {ino}: {col}")
        })
    };
    let signed = |idx: usize, col: &str| -> Result<i64, Fault> {
        field(int(row.get_ref(idx)?), || format!("inode {ino}: {col}"))
    };
    let parent = unsigned(1, MAX_I64, "parent")?;
    let name = field(bytes(row.get_ref(2)?, MAX_NAME_LEN), || {
        format!("inode {ino}: name")
    })?;
    if parent != 0 {
        check_name(name).map_err(|reason| bad(format!("inode {ino}: {reason}")))?;
    }
    Ok(Inode {
        ino,
        parent,
        name: name.to_vec(),
        size: unsigned(3, MAX_I64, "size")?,
        uid: unsigned(4, u32::MAX.into(), "uid")? as u32,
        gid: unsigned(5, u32::MAX.into(), "gid")? as u32,
        mode: unsigned(6, u32::MAX.into(), "mode")? as u32,
        // rfs stores the u64 device number bit-cast to i64.
        rdev: signed(7, "rdev")? as u64,
        ctime: signed(8, "ctime")?,
        mtime: signed(9, "mtime")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &[u8], ok: bool) {
        assert_eq!(
            check_name(name).is_ok(),
            ok,
            "{:?}",
            String::from_utf8_lossy(name)
        );
    }

    #[test]
    fn names() {
        check(b"etc", true);
        check(b"\xff\xfe latin-1 \xe9", true);
        check(b".hidden", true);
        check(b"...", true);
        check(&[b'a'; 255], true);
        check(&[b'a'; 256], false);
        check(b"", false);
        check(b".", false);
        check(b"..", false);
        check(b"a/b", false);
        check(b"a\0b", false);
    }

    #[test]
    fn values() {
        assert_eq!(uint(ValueRef::Integer(7), 10), Ok(7));
        assert_eq!(
            uint(ValueRef::Integer(11), 10),
            Err("is 11, outside 0..=10".into())
        );
        assert!(uint(ValueRef::Integer(-1), 10).is_err());
        assert_eq!(
            int(ValueRef::Text(b"7")),
            Err("is text, expected an integer".into())
        );
        assert!(int(ValueRef::Null).is_err());
        assert_eq!(bytes(ValueRef::Blob(b"ab"), 2), Ok(&b"ab"[..]));
        assert!(bytes(ValueRef::Text(b"abc"), 2).is_err());
        assert!(bytes(ValueRef::Real(1.0), 2).is_err());
        assert_eq!(text(ValueRef::Blob(b"ok"), 9), Ok("ok".to_string()));
        assert!(text(ValueRef::Blob(b"\xff"), 9).is_err());
    }
}
