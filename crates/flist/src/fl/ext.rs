//! Reading our extension tables (xattrs, hardlinks, digests, prefetch list, image config).
//!
//! Each table is optional: files made by rfs have none of them, and every
//! getter then answers as if nothing were recorded.

use super::decode::{self, field};
use super::reader::MAX_ROWS;
use super::{FlError, FlReader, Xattr, MAX_CONFIG_VALUE, MAX_DIGEST, MAX_NAME_LEN, MAX_TEXT};

/// Most xattrs accepted on one inode.
const MAX_XATTRS: usize = 4096;
/// Most entries accepted in the prefetch list.
const MAX_PREFETCH: usize = 1 << 22;
/// Largest accepted xattr value (more than Linux allows, less than memory).
const MAX_XATTR_VALUE: usize = 16 * 1024 * 1024;

impl FlReader {
    /// The extended attributes of `ino`, in the order they were written;
    /// empty for files without our extension tables.
    pub fn xattrs(&self, ino: u64) -> Result<Vec<Xattr>, FlError> {
        let (true, Ok(ino)) = (self.ext.xattr, i64::try_from(ino)) else {
            return Ok(Vec::new());
        };
        let sql = "SELECT name, value FROM tfgrid_xattr WHERE ino = ?1 ORDER BY rowid";
        self.rows(sql, [ino], MAX_XATTRS, |row| {
            let what = || format!("inode {ino}: xattr");
            let name = field(decode::bytes(row.get_ref(0)?, MAX_NAME_LEN), what)?.to_vec();
            let value = field(decode::bytes(row.get_ref(1)?, MAX_XATTR_VALUE), what)?.to_vec();
            Ok((name, value))
        })
    }

    /// The file `ino` is another name of, if it was recorded as a hardlink.
    pub fn hardlink_target(&self, ino: u64) -> Result<Option<u64>, FlError> {
        let (true, Ok(ino)) = (self.ext.hardlink, i64::try_from(ino)) else {
            return Ok(None);
        };
        let sql = "SELECT target FROM tfgrid_hardlink WHERE ino = ?1";
        let mut found = self.rows(sql, [ino], 1, |row| {
            field(decode::uint(row.get_ref(0)?, i64::MAX as u64), || {
                format!("inode {ino}: hardlink target")
            })
        })?;
        Ok(found.pop())
    }

    /// The whole-file digest of `ino` as `(algorithm, value)`: the recorded
    /// one, else for a file of exactly one block its block key, which is the
    /// BLAKE2b-256 of the whole plaintext. Builders record digests only for
    /// files of two or more blocks, so the rest cost no bytes in the `.fl`.
    pub fn digest(&self, ino: u64) -> Result<Option<(String, Vec<u8>)>, FlError> {
        let Ok(ino) = i64::try_from(ino) else {
            return Ok(None);
        };
        let recorded = self
            .ext
            .digest
            .then(|| self.recorded_digest(ino))
            .transpose()?
            .flatten();
        if recorded.is_some() {
            return Ok(recorded);
        }
        Ok(match self.blocks(ino as u64)?.as_slice() {
            [only] => Some(("blake2b-256".to_string(), only.key.to_vec())),
            _ => None,
        })
    }

    fn recorded_digest(&self, ino: i64) -> Result<Option<(String, Vec<u8>)>, FlError> {
        let sql = "SELECT algo, value FROM tfgrid_digest WHERE ino = ?1";
        let mut found = self.rows(sql, [ino], 1, |row| {
            let what = || format!("inode {ino}: digest");
            let algo = field(decode::text(row.get_ref(0)?, MAX_DIGEST), what)?;
            let value = field(decode::bytes(row.get_ref(1)?, MAX_DIGEST), what)?.to_vec();
            Ok((algo, value))
        })?;
        Ok(found.pop())
    }

    /// The prefetch list: inodes to fetch ahead, in order.
    pub fn prefetch(&self) -> Result<Vec<u64>, FlError> {
        if !self.ext.prefetch {
            return Ok(Vec::new());
        }
        let sql = "SELECT ino FROM tfgrid_prefetch ORDER BY ord";
        self.rows(sql, [], MAX_PREFETCH, |row| {
            field(decode::uint(row.get_ref(0)?, i64::MAX as u64), || {
                "prefetch entry".into()
            })
        })
    }

    /// The image configuration entries, sorted by key.
    pub fn config(&self) -> Result<Vec<(String, Vec<u8>)>, FlError> {
        if !self.ext.config {
            return Ok(Vec::new());
        }
        let sql = "SELECT key, value FROM tfgrid_config ORDER BY key";
        self.rows(sql, [], MAX_ROWS, |row| {
            let key = field(decode::text(row.get_ref(0)?, MAX_TEXT), || {
                "config key".into()
            })?;
            let value = field(decode::bytes(row.get_ref(1)?, MAX_CONFIG_VALUE), || {
                format!("config {key:?}")
            })?;
            Ok((key, value.to_vec()))
        })
    }
}
