//! Identities on disk: the grid's JSON seed file (`{"version": "1.1.0",
//! "mnemonic": …, "threebotid": …}`) or a raw 32-byte seed (version 1, as
//! nodes keep theirs). Files are created with mode 0600 in a 0700 directory
//! and refused when group or others may read them, as ssh does.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{IdentityError, KeyPair, Mnemonic};

/// Version written into JSON seed files.
const SEED_FILE_VERSION: &str = "1.1.0";
/// Length of a raw (version 1) seed file.
const RAW_SEED_LEN: usize = 32;
/// Largest key file read (a JSON seed file is a few hundred bytes).
const MAX_KEY_FILE: u64 = 64 * 1024;

#[derive(Serialize, Deserialize)]
struct SeedFileJson {
    version: String,
    mnemonic: String,
    #[serde(default)]
    threebotid: u64,
}

/// An identity loaded from or saved to a file.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// The key.
    pub key: KeyPair,
    /// The 3bot id (phonebook record) the key is registered as, 0 if none.
    pub threebot_id: u64,
}

/// Where a user's identity lives unless told otherwise: `$TFGRID_IDENTITY`,
/// else `$XDG_CONFIG_HOME/tfgrid/identity.json`, else
/// `~/.config/tfgrid/identity.json`.
pub fn default_key_path() -> PathBuf {
    if let Some(path) = std::env::var_os("TFGRID_IDENTITY") {
        return PathBuf::from(path);
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("tfgrid").join("identity.json")
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError {
    let path = path.to_owned();
    move |source| IdentityError::Io { op, path, source }
}

impl KeyFile {
    /// Reads a key file, refusing one that others may access.
    pub fn load(path: &Path) -> Result<KeyFile, IdentityError> {
        let meta = fs::metadata(path).map_err(io_err("read", path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
        if meta.len() > MAX_KEY_FILE {
            return Err(IdentityError::KeyFile {
                path: path.to_owned(),
                reason: format!("{} bytes is too large", meta.len()),
            });
        }
        let raw = fs::read(path).map_err(io_err("read", path))?;
        let bad = |reason: String| IdentityError::KeyFile {
            path: path.to_owned(),
            reason,
        };
        if raw.len() == RAW_SEED_LEN && !raw.starts_with(b"{") {
            let seed: [u8; 32] = raw.try_into().expect("32 bytes");
            return Ok(KeyFile {
                key: KeyPair::from_seed(&seed),
                threebot_id: 0,
            });
        }
        let json: SeedFileJson = serde_json::from_slice(&raw)
            .map_err(|e| bad(format!("invalid JSON seed file: {e}")))?;
        if !json.version.starts_with("1.") {
            return Err(bad(format!(
                "unsupported seed file version {}",
                json.version
            )));
        }
        let mnemonic = Mnemonic::parse(&json.mnemonic).map_err(|e| bad(e.to_string()))?;
        Ok(KeyFile {
            key: KeyPair::from_mnemonic(&mnemonic),
            threebot_id: json.threebotid,
        })
    }

    /// Writes a JSON seed file, never replacing an existing one. The file is
    /// complete or absent, whatever happens during the write.
    pub fn create(&self, path: &Path) -> Result<(), IdentityError> {
        let json = SeedFileJson {
            version: SEED_FILE_VERSION.to_owned(),
            mnemonic: self.key.mnemonic().phrase(),
            threebotid: self.threebot_id,
        };
        let mut bytes = serde_json::to_vec_pretty(&json).expect("seed file serializes");
        bytes.push(b'\n');
        write_new(path, &bytes)
    }

    /// Writes a raw 32-byte seed file (the form nodes and farms keep).
    pub fn create_raw(&self, path: &Path) -> Result<(), IdentityError> {
        write_new(path, &self.key.seed())
    }
}

/// Creates `path` with `bytes`, mode 0600, failing if it exists.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    if path.exists() {
        return Err(IdentityError::Exists(path.to_owned()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("create directory", dir))?;
    }
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    file.write_all(bytes).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("sync", &tmp))?;
    // hard_link fails if `path` appeared meanwhile: no identity is replaced.
    fs::hard_link(&tmp, path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => IdentityError::Exists(path.to_owned()),
        _ => IdentityError::Io {
            op: "create",
            path: path.to_owned(),
            source: e,
        },
    })?;
    fs::remove_file(&tmp).map_err(io_err("remove", &tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_seed_file_round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/identity.json");
        let file = KeyFile {
            key: KeyPair::from_seed(&[8; 32]),
            threebot_id: 42,
        };
        file.create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let loaded = KeyFile::load(&path).unwrap();
        assert_eq!(loaded.key.public(), file.key.public());
        assert_eq!(loaded.threebot_id, 42);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"version\": \"1.1.0\""));
        assert!(matches!(file.create(&path), Err(IdentityError::Exists(_))));
    }

    #[test]
    fn raw_seed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed");
        let file = KeyFile {
            key: KeyPair::from_seed(&[9; 32]),
            threebot_id: 0,
        };
        file.create_raw(&path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), [9u8; 32]);
        assert_eq!(
            KeyFile::load(&path).unwrap().key.public(),
            file.key.public()
        );
    }

    #[test]
    fn refuses_open_permissions_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        KeyFile {
            key: KeyPair::from_seed(&[1; 32]),
            threebot_id: 0,
        }
        .create(&path)
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            KeyFile::load(&path),
            Err(IdentityError::Permissions { .. })
        ));
        let garbage = dir.path().join("garbage");
        fs::write(
            &garbage,
            b"{\"version\":\"1.1.0\",\"mnemonic\":\"not words\"}",
        )
        .unwrap();
        fs::set_permissions(&garbage, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            KeyFile::load(&garbage),
            Err(IdentityError::KeyFile { .. })
        ));
        assert!(matches!(
            KeyFile::load(&dir.path().join("missing")),
            Err(IdentityError::Io { .. })
        ));
    }
}
