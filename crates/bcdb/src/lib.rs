//! BCDB: a typed, indexed, verifiable ledger database that keeps its bytes in 0-db.
//!
//! * [`schema`] — the jsxschema language: typed models with defaults,
//!   lists, nested objects, enums, index/unique/full-text marks, urls and
//!   versions, parsed with line and column in every error.
//! * [`object`] — typed objects of a schema: JSON in (checked and coerced
//!   per type) and out, the canonical byte encoding, index and full-text
//!   column values.
//! * [`state`] — the deterministic state machine: a command and a ledger
//!   position in, entries out; entries in, state out (live or on replay).
//! * [`db`] — [`db::Bcdb`], the database a server embeds: commands through
//!   the state machine into the ledger, reads of objects and histories.
//! * [`checkpoint`] — signed (size, root) statements by the instance key.
//! * [`ledger`] — log + tree + checkpoints: append, commit, verified get,
//!   client-side [`ledger::verify_record`], and [`ledger::verify_dir`] that
//!   replays a whole ledger and names what was changed.
//! * [`index`] — secondary indexes, unique constraints and full-text search,
//!   in memory, rebuilt from the ledger at open.
//! * [`entry`] — the canonical, byte-stable ledger entry every change is
//!   recorded as, and the author signature over it.
//! * [`log`] — where entries and values are kept: a sequential-mode 0-db
//!   namespace, embedded, whose ids are the entries' seqs.
//! * [`server`] — the RESP server: the Redis subset plain clients use, the
//!   old BCDB hash commands, typed objects, verified reads; one commit per
//!   batch before its replies.
//! * [`merkle`] — the RFC 9162 Merkle tree over the ledger's entries, with
//!   inclusion and consistency proofs and their verification.

pub mod acl;
pub mod checkpoint;
pub mod db;
pub mod entry;
pub mod index;
pub mod ledger;
pub mod log;
pub mod merkle;
pub mod object;
pub mod schema;
pub mod server;
pub mod state;
