//! What the hub knows besides blocks and `.fl` bytes: users, their flists and links, and tags, in SQLite.
//!
//! A `.fl` file is stored once under its BLAKE2b digest (see `objects`);
//! an entry here names it. Replacing, renaming or deleting an flist is one
//! transaction on this table, so a download never sees a half-made change.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS flists (
    user TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT,
    target TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL,
    PRIMARY KEY (user, name)
);
CREATE INDEX IF NOT EXISTS flists_digest ON flists (digest);
CREATE TABLE IF NOT EXISTS tags (
    user TEXT NOT NULL,
    name TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (user, name, tag)
);
";

/// A registered user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Public key, hex.
    pub key: String,
    /// Chosen name.
    pub name: String,
    /// Registration time, unix seconds.
    pub created: u64,
}

/// One name in a user's list: an flist, or a link to another.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Owner's user name.
    pub user: String,
    /// The flist's name.
    pub name: String,
    /// Hex BLAKE2b-256 of the `.fl`, for an flist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `user/name` this link follows, for a link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Bytes of the `.fl` (0 for a link).
    pub size: u64,
    /// Last change, unix seconds.
    pub updated: u64,
    /// Tags on this entry, sorted.
    pub tags: Vec<String>,
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The user name is registered to another key.
    #[error("user name {0:?} is taken")]
    NameTaken(String),
    /// This key already has a name.
    #[error("this key is already registered as {0:?}")]
    KeyTaken(String),
    /// No such entry.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The target name exists.
    #[error("{0} already exists")]
    Exists(String),
    /// SQLite failed.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// The hub database; one connection, serialised by a mutex (every call is short).
pub(crate) struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Db, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `key` as `name`.
    pub(crate) fn register(&self, key: &str, name: &str, now: u64) -> Result<User, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(existing) = user_where(&tx, "key", key)? {
            return Err(DbError::KeyTaken(existing.name));
        }
        if user_where(&tx, "name", name)?.is_some() {
            return Err(DbError::NameTaken(name.to_string()));
        }
        tx.execute(
            "INSERT INTO users (key, name, created) VALUES (?1, ?2, ?3)",
            params![key, name, now as i64],
        )?;
        tx.commit()?;
        Ok(User {
            key: key.to_string(),
            name: name.to_string(),
            created: now,
        })
    }

    /// The user holding `key`.
    pub(crate) fn user_by_key(&self, key: &str) -> Result<Option<User>, DbError> {
        Ok(user_where(&self.conn(), "key", key)?)
    }

    /// The user named `name`.
    pub(crate) fn user_by_name(&self, name: &str) -> Result<Option<User>, DbError> {
        Ok(user_where(&self.conn(), "name", name)?)
    }

    /// Every user with the number of names in their list, by name.
    pub(crate) fn users(&self) -> Result<Vec<(User, u64)>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.key, u.name, u.created, (SELECT COUNT(*) FROM flists f WHERE f.user = u.name)
             FROM users u ORDER BY u.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                User {
                    key: r.get(0)?,
                    name: r.get(1)?,
                    created: r.get::<_, i64>(2)? as u64,
                },
                r.get::<_, i64>(3)? as u64,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A user's entries by name, only those carrying `tag` when given.
    pub(crate) fn entries(&self, user: &str, tag: Option<&str>) -> Result<Vec<Entry>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT user, name, digest, target, size, updated FROM flists f
             WHERE user = ?1 AND (?2 IS NULL OR EXISTS
                 (SELECT 1 FROM tags t WHERE t.user = f.user AND t.name = f.name AND t.tag = ?2))
             ORDER BY name",
        )?;
        let mut entries = stmt
            .query_map(params![user, tag], entry_row)?
            .collect::<Result<Vec<_>, _>>()?;
        for entry in &mut entries {
            entry.tags = tags_of(&conn, user, &entry.name)?;
        }
        Ok(entries)
    }

    /// One entry.
    pub(crate) fn entry(&self, user: &str, name: &str) -> Result<Option<Entry>, DbError> {
        let conn = self.conn();
        let mut entry = conn
            .query_row(
                "SELECT user, name, digest, target, size, updated FROM flists WHERE user = ?1 AND name = ?2",
                params![user, name],
                entry_row,
            )
            .optional()?;
        if let Some(entry) = &mut entry {
            entry.tags = tags_of(&conn, user, name)?;
        }
        Ok(entry)
    }

    /// Points `user/name` at the `.fl` with `digest`, replacing what was
    /// there (tags are kept). Returns the digest it replaced, if any.
    pub(crate) fn put_flist(
        &self,
        user: &str,
        name: &str,
        digest: &str,
        size: u64,
        now: u64,
    ) -> Result<Option<String>, DbError> {
        self.put(user, name, Some(digest), None, size, now)
    }

    /// Makes `user/name` a link following `target` (`user/name`).
    pub(crate) fn put_link(
        &self,
        user: &str,
        name: &str,
        target: &str,
        now: u64,
    ) -> Result<Option<String>, DbError> {
        self.put(user, name, None, Some(target), 0, now)
    }

    fn put(
        &self,
        user: &str,
        name: &str,
        digest: Option<&str>,
        target: Option<&str>,
        size: u64,
        now: u64,
    ) -> Result<Option<String>, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let old: Option<Option<String>> = tx
            .query_row(
                "SELECT digest FROM flists WHERE user = ?1 AND name = ?2",
                params![user, name],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO flists (user, name, digest, target, size, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user, name) DO UPDATE SET digest = ?3, target = ?4, size = ?5, updated = ?6",
            params![user, name, digest, target, size as i64, now as i64],
        )?;
        tx.commit()?;
        Ok(old.flatten())
    }

    /// Renames `from` to `to` in `user`'s list, tags included.
    pub(crate) fn rename(&self, user: &str, from: &str, to: &str, now: u64) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let exists = |name: &str| -> Result<bool, rusqlite::Error> {
            tx.query_row(
                "SELECT 1 FROM flists WHERE user = ?1 AND name = ?2",
                params![user, name],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
        };
        if !exists(from)? {
            return Err(DbError::NotFound(format!("{user}/{from}")));
        }
        if exists(to)? {
            return Err(DbError::Exists(format!("{user}/{to}")));
        }
        tx.execute(
            "UPDATE flists SET name = ?3, updated = ?4 WHERE user = ?1 AND name = ?2",
            params![user, from, to, now as i64],
        )?;
        tx.execute(
            "UPDATE tags SET name = ?3 WHERE user = ?1 AND name = ?2",
            params![user, from, to],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes `user/name` and its tags; returns what it was.
    pub(crate) fn delete(&self, user: &str, name: &str) -> Result<Entry, DbError> {
        let entry = self
            .entry(user, name)?
            .ok_or_else(|| DbError::NotFound(format!("{user}/{name}")))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM flists WHERE user = ?1 AND name = ?2",
            params![user, name],
        )?;
        tx.execute(
            "DELETE FROM tags WHERE user = ?1 AND name = ?2",
            params![user, name],
        )?;
        tx.commit()?;
        Ok(entry)
    }

    /// Adds or removes `tag` on `user/name`.
    pub(crate) fn set_tag(
        &self,
        user: &str,
        name: &str,
        tag: &str,
        on: bool,
    ) -> Result<(), DbError> {
        if self.entry(user, name)?.is_none() {
            return Err(DbError::NotFound(format!("{user}/{name}")));
        }
        let sql = if on {
            "INSERT OR IGNORE INTO tags (user, name, tag) VALUES (?1, ?2, ?3)"
        } else {
            "DELETE FROM tags WHERE user = ?1 AND name = ?2 AND tag = ?3"
        };
        self.conn().execute(sql, params![user, name, tag])?;
        Ok(())
    }

    /// Whether any entry still names the `.fl` with `digest`.
    pub(crate) fn digest_in_use(&self, digest: &str) -> Result<bool, DbError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM flists WHERE digest = ?1 LIMIT 1",
                [digest],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Every digest some entry names.
    pub(crate) fn digests(&self) -> Result<Vec<String>, DbError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT DISTINCT digest FROM flists WHERE digest IS NOT NULL")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn user_where(
    conn: &Connection,
    column: &str,
    value: &str,
) -> Result<Option<User>, rusqlite::Error> {
    let sql = format!("SELECT key, name, created FROM users WHERE {column} = ?1");
    conn.query_row(&sql, [value], |r| {
        Ok(User {
            key: r.get(0)?,
            name: r.get(1)?,
            created: r.get::<_, i64>(2)? as u64,
        })
    })
    .optional()
}

fn entry_row(r: &rusqlite::Row<'_>) -> Result<Entry, rusqlite::Error> {
    Ok(Entry {
        user: r.get(0)?,
        name: r.get(1)?,
        digest: r.get(2)?,
        target: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        updated: r.get::<_, i64>(5)? as u64,
        tags: Vec::new(),
    })
}

fn tags_of(conn: &Connection, user: &str, name: &str) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt =
        conn.prepare_cached("SELECT tag FROM tags WHERE user = ?1 AND name = ?2 ORDER BY tag")?;
    let rows = stmt.query_map(params![user, name], |r| r.get(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_entries_links_tags() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("hub.db")).unwrap();
        db.register("aa", "alice", 1).unwrap();
        assert!(matches!(db.register("aa", "other", 2), Err(DbError::KeyTaken(n)) if n == "alice"));
        assert!(matches!(
            db.register("bb", "alice", 2),
            Err(DbError::NameTaken(_))
        ));
        assert_eq!(db.user_by_key("aa").unwrap().unwrap().name, "alice");

        assert_eq!(db.put_flist("alice", "deb", "d1", 10, 5).unwrap(), None);
        assert_eq!(
            db.put_flist("alice", "deb", "d2", 11, 6).unwrap(),
            Some("d1".into())
        );
        assert!(!db.digest_in_use("d1").unwrap());
        db.put_link("alice", "latest", "alice/deb", 7).unwrap();
        db.set_tag("alice", "deb", "stable", true).unwrap();
        assert_eq!(db.entries("alice", Some("stable")).unwrap().len(), 1);
        assert_eq!(db.entries("alice", None).unwrap().len(), 2);
        db.rename("alice", "deb", "debian", 8).unwrap();
        let e = db.entry("alice", "debian").unwrap().unwrap();
        assert_eq!(
            (e.digest.as_deref(), e.tags.clone()),
            (Some("d2"), vec!["stable".to_string()])
        );
        assert!(matches!(
            db.rename("alice", "debian", "latest", 9),
            Err(DbError::Exists(_))
        ));
        assert_eq!(
            db.delete("alice", "debian").unwrap().digest.as_deref(),
            Some("d2")
        );
        assert!(db.entries("alice", Some("stable")).unwrap().is_empty());
        assert_eq!(db.users().unwrap()[0].1, 1);
    }
}
