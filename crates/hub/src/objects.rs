//! `.fl` files kept once each under their BLAKE2b-256 digest, with the hub's signature beside them.
//!
//! `objects/<digest>.fl` (and its compressed copy `.fl.zst`) never changes once written, so a download that
//! started before a push or a delete still reads consistent bytes, and two
//! users pushing the same image share one file. A file is published (moved
//! in and signed) before the database names it, and removed only after no
//! entry names it; whatever a crash leaves in between is swept at start.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use flist::signature::{self, SignatureError};
use identity::KeyPair;

/// The object directory.
pub(crate) struct Objects {
    dir: PathBuf,
}

/// A published `.fl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    /// Hex BLAKE2b-256 of the file.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Objects {
    /// Uses (creating) `dir`.
    pub(crate) fn open(dir: &Path) -> io::Result<Objects> {
        fs::create_dir_all(dir)?;
        Ok(Objects {
            dir: dir.to_owned(),
        })
    }

    /// Path of the `.fl` with `digest` (hex, checked by the caller).
    pub(crate) fn fl_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.fl"))
    }

    /// Path of its signature file.
    pub(crate) fn sig_path(&self, digest: &str) -> PathBuf {
        signature::signature_path(&self.fl_path(digest))
    }

    /// Moves the finished `.fl` at `tmp` in under its digest and signs it
    /// with `key` (an identical file already there is kept, and gains this
    /// signature if it lacked it).
    pub(crate) fn publish(&self, tmp: &Path, key: &KeyPair) -> Result<Published, SignatureError> {
        let digest = hex::encode(signature::file_digest(tmp)?);
        let size = fs::metadata(tmp).map_err(|e| io_error(tmp, e))?.len();
        let path = self.fl_path(&digest);
        if path.exists() {
            let _ = fs::remove_file(tmp);
        } else {
            fs::rename(tmp, &path).map_err(|e| io_error(&path, e))?;
        }
        signature::sign(&path, key)?;
        self.compress(&digest)
            .map_err(|e| io_error(&self.zst_path(&digest), e))?;
        Ok(Published { digest, size })
    }

    /// Path of the zstd-compressed copy served to clients (a `.fl` is mostly
    /// names and hashes and compresses to about half).
    pub(crate) fn zst_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.fl.zst"))
    }

    /// Writes the compressed copy of `digest` if it is not there yet.
    pub(crate) fn compress(&self, digest: &str) -> io::Result<()> {
        let zst = self.zst_path(digest);
        if zst.exists() {
            return Ok(());
        }
        let raw = fs::read(self.fl_path(digest))?;
        let packed = zstd::bulk::compress(&raw, 19)?;
        let tmp = zst.with_extension("zst.tmp");
        fs::write(&tmp, packed)?;
        fs::rename(&tmp, &zst)
    }

    /// Removes the object with `digest`; a missing file is not an error.
    pub(crate) fn remove(&self, digest: &str) {
        for path in [
            self.zst_path(digest),
            self.sig_path(digest),
            self.fl_path(digest),
        ] {
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("failed to remove {}: {e}", path.display());
                }
            }
        }
    }

    /// Removes every object not in `keep` (left by a crash between publish
    /// and the database update, or between the update and removal).
    pub(crate) fn sweep(&self, keep: &HashSet<String>) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            let Some(digest) = name.split('.').next() else {
                continue;
            };
            if !keep.contains(digest) {
                fs::remove_file(self.dir.join(name.as_ref()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn io_error(path: &Path, e: io::Error) -> SignatureError {
    SignatureError::Io {
        op: "publish",
        path: path.to_owned(),
        source: e,
    }
}
