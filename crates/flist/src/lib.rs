//! Flists: container images as a small metadata file plus encrypted,
//! content-addressed, deduplicated blocks fetched only when read.
//!
//! * [`fl`] — the rfs v2 `.fl` file (SQLite): inodes, symlink targets,
//!   blocks in file order, tags, routes, and our extension tables (xattrs,
//!   hardlinks, per-file digests, prefetch list, image config) that rfs
//!   ignores. [`fl::FlWriter`] builds one, [`fl::FlReader`] reads one.
//! * [`block`] — the block pipeline: 512 KiB plaintext → key = BLAKE2b-256
//!   → snappy → AES-256-GCM (nonce = key[..12]) → id = BLAKE2b-256 of the
//!   ciphertext; decoding verifies both hashes, so a store can never hand
//!   back wrong bytes.
//! * [`store`] — where blocks live (`dir://`, `zdb://`), behind one
//!   [`store::BlockStore`] trait, and the [`store::Router`] that picks
//!   stores by the first byte of a block id.
//! * [`pack`] — building an flist from a directory; [`extract`] — writing
//!   one back to disk; [`signature`] — detached ed25519 signatures over the
//!   `.fl` bytes and the trust policy that checks them.
//! * [`image`] — building an flist from a tar archive, an OCI image layout
//!   or a `docker save` archive, without Docker.
//! * [`mount`] — the read-only FUSE filesystem over an flist with a shared
//!   block cache, and its writable overlay mode.

#![warn(missing_docs)]

pub mod block;
pub mod diff;
pub mod extract;
pub mod fl;
pub mod image;
pub mod mount;
pub mod pack;
pub mod signature;
pub mod store;
mod xattr;
