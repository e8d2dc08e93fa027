//! Where encrypted blocks live: the [`BlockStore`] trait, stores opened from URLs, and the [`Router`] that shards by id.
//!
//! A store is a dumb map from a 32-byte block id to the ciphertext bytes made
//! by [`crate::block::encode_block`]; it never sees plaintext or keys, and it
//! is not trusted: [`crate::block::decode_block`] verifies whatever comes
//! back. Stores are named by URL, and that URL (with any password removed, see
//! [`BlockStore::url`]) is what a `.fl` route table records:
//!
//! | scheme | form | layout |
//! |---|---|---|
//! | `dir` | `dir:///abs/path` | `<root>/<hex[0..2]>/<hex id>`, also read from `<root>/<hex id>` |
//! | `zdb` | `zdb://[user][:password]@host[:port][/namespace]`, `zdb:///unix.sock[?ns=…&password=…]` | raw 32-byte id as the key |
//! | `http`, `https` | `http[s]://[user[:password]@]host[:port][/prefix]` | a hub's block API, `{base}/api/v1/blocks/{hex id}` |
//!
//! Other rfs schemes (`s3`, `server`) are recognised and reported as
//! [`StoreError::Unsupported`].

pub(crate) mod dir;
mod http;
mod router;
mod url;
mod zdb;

use std::sync::Arc;

pub use dir::DirStore;
pub use http::HttpStore;
pub use router::Router;
pub use zdb::ZdbStore;

/// A place blocks can be written to and read from by id.
///
/// Implementations are shared between threads; every method may block on I/O.
pub trait BlockStore: Send + Sync {
    /// Returns the stored bytes of block `id`, or `None` when the store does not have it.
    fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `data` under `id`; storing an id that is already present is not an error.
    fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError>;
    /// Whether the store has block `id`.
    fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError>;
    /// The store's URL without any password: safe to log and to write into a `.fl`.
    fn url(&self) -> String;
    /// Which of `ids` the store lacks, in the order given.
    ///
    /// A builder asks this before uploading, so a remote store can answer a
    /// whole batch in one round trip; the default asks [`BlockStore::exists`]
    /// per id, which is as good as it gets for local stores.
    fn missing(&self, ids: &[[u8; 32]]) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut missing = Vec::new();
        for id in ids {
            if !self.exists(id)? {
                missing.push(*id);
            }
        }
        Ok(missing)
    }
    /// Makes every block written so far durable. Stores may write blocks
    /// without syncing each one; a builder calls this once before it
    /// finishes the `.fl` that refers to them.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl<S: BlockStore + ?Sized> BlockStore for Box<S> {
    fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(id)
    }
    fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        (**self).put(id, data)
    }
    fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
        (**self).exists(id)
    }
    fn missing(&self, ids: &[[u8; 32]]) -> Result<Vec<[u8; 32]>, StoreError> {
        (**self).missing(ids)
    }
    fn url(&self) -> String {
        (**self).url()
    }
    fn sync(&self) -> Result<(), StoreError> {
        (**self).sync()
    }
}

impl<S: BlockStore + ?Sized> BlockStore for Arc<S> {
    fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(id)
    }
    fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        (**self).put(id, data)
    }
    fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
        (**self).exists(id)
    }
    fn missing(&self, ids: &[[u8; 32]]) -> Result<Vec<[u8; 32]>, StoreError> {
        (**self).missing(ids)
    }
    fn url(&self) -> String {
        (**self).url()
    }
    fn sync(&self) -> Result<(), StoreError> {
        (**self).sync()
    }
}

/// Why a store could not be opened or could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL is malformed or names an unknown scheme.
    #[error("store URL {url}: {reason}")]
    Url {
        /// The URL, password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A filesystem or network operation failed (including malformed replies).
    #[error("{what}: {source}")]
    Io {
        /// The operation and its target, e.g. `write /srv/blocks/ab/ab12…`.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The 0-db server answered with an error reply; this is its text.
    #[error("0-db: {0}")]
    Zdb(String),
    /// No route covers blocks whose id starts with this byte.
    #[error("no store route covers block ids starting with {0:02x}")]
    NoRoute(u8),
    /// The store answered with bytes that do not hash to the block id asked for.
    #[error("{url} served corrupt bytes for block {id}")]
    Corrupt {
        /// The store's URL, password masked.
        url: String,
        /// The block id, hex.
        id: String,
    },
    /// An HTTP store answered a request with an unexpected status.
    #[error("{url} answered {status}: {message}")]
    Http {
        /// The request URL, password removed.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's explanation (the hub's JSON `error`), or the status reason.
        message: String,
    },
    /// The store can be read but not written as configured, e.g. a hub store without a signing key.
    #[error("{url} is read-only: {reason}")]
    ReadOnly {
        /// The store's URL, password removed.
        url: String,
        /// Why, and what would make it writable.
        reason: String,
    },
    /// A known store kind this build cannot use, e.g. `s3`.
    #[error("unsupported store: {0}")]
    Unsupported(String),
}

/// Opens the store a URL names, dispatching on its scheme.
///
/// Opening does not touch the network: a `zdb` or `http` store connects on
/// first use, so an unreachable server or a wrong password shows up on the
/// first call. An `http` store opened here has no signing key, so it can be
/// read but not written; use [`HttpStore::with_signer`] to upload.
pub fn open_store(url: &str) -> Result<Box<dyn BlockStore>, StoreError> {
    let scheme = url
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .ok_or_else(|| StoreError::Url {
            url: url::redact(url),
            reason: "missing scheme://".to_string(),
        })?;
    match scheme.as_str() {
        "dir" => Ok(Box::new(DirStore::open(url)?)),
        "zdb" => Ok(Box::new(ZdbStore::open(url)?)),
        "http" | "https" => Ok(Box::new(HttpStore::open(url)?)),
        "s3" | "s3s" | "s3+tls" | "server" => Err(StoreError::Unsupported(format!(
            "{scheme}:// stores are not supported"
        ))),
        _ => Err(StoreError::Url {
            url: url::redact(url),
            reason: format!("unknown store scheme {scheme:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(url: &str, expected: &str) {
        match open_store(url) {
            Err(e) => assert_eq!(e.to_string(), expected),
            Ok(store) => panic!("{url} opened as {}", store.url()),
        }
    }

    #[test]
    fn dispatch() {
        assert_eq!(
            open_store("dir:///srv/blocks").unwrap().url(),
            "dir:///srv/blocks"
        );
        assert_eq!(
            open_store("zdb://:pw@hub.example:9900/ns").unwrap().url(),
            "zdb://hub.example:9900/ns"
        );
        check_err("/srv/blocks", "store URL /srv/blocks: missing scheme://");
        check_err(
            "ftp://u:pw@host/x",
            "store URL ftp://u:***@host/x: unknown store scheme \"ftp\"",
        );
        check_err(
            "s3://a:b@host/bucket",
            "unsupported store: s3:// stores are not supported",
        );
        assert_eq!(
            open_store("https://u:pw@hub.example/hub").unwrap().url(),
            "https://u@hub.example/hub"
        );
        check_err(
            "server://hub.example",
            "unsupported store: server:// stores are not supported",
        );
    }
}
