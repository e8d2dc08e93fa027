//! A 0-db (zdb) storage engine and server, byte-compatible on disk and on
//! the wire with the C 0-db v2.
//!
//! Bytes flow top-down:
//!
//! * [`server`] accepts TCP and unix-socket clients; each connection reads a
//!   batch of pipelined requests with [`resp::Connection`], runs them under
//!   one lock on the [`Db`], flushes the namespaces it wrote, and sends all
//!   replies in one write.
//! * [`Db`] holds the namespaces of the two root directories (`--data`,
//!   `--index`) and their lock files.
//! * [`Namespace`] is one namespace: its [`Descriptor`], the in-memory key
//!   map (user mode) or id table (seq mode), and its numbered index/data
//!   files, appended through write buffers that the server flushes before
//!   acknowledging.
//! * [`format`] encodes and decodes every on-disk structure; `FORMAT.md`
//!   describes the same bytes and the crash rules.
//!
//! [`Client`] is a typed async client for any 0-db server.

#![warn(missing_docs)]

mod append_file;
pub mod client;
mod crc;
mod db;
mod failpoint;
pub mod format;
mod hooks;
mod namespace;
pub mod server;

pub use client::{Client, ClientError, ScanEntry};
pub use crc::zdb_crc32;
pub use db::{name_allowed, CreateError, Db, DbConfig, DbOpenError, DeleteError, NsId};
pub use db::{DEFAULT_NAMESPACE, MAX_NAMESPACE_NAME};
pub use format::{Descriptor, Mode};
pub use hooks::{HookRun, Hooks};
pub use namespace::{
    CompactError, CompactStats, Cursor, DataReadError, DelError, HistoryError, HistoryItem,
    Integrity, LockState, Namespace, NamespaceConfig, NamespaceStats, OpenError, RawEntry,
    RawEntryError, ReadError, ScanError, ScanItem, SetError, SetOutcome, SyncHandle, ValueLoc,
};
