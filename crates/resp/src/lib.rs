//! RESP2 wire protocol: request and reply codecs, a server-side connection and a client.
//!
//! On the server side, a [`Connection`] owns a socket and two buffers. Bytes read
//! from the socket accumulate in its read buffer, where [`parse_request`] cuts
//! complete [`Request`]s (arrays of bulk strings) off the front; the arguments
//! are [`bytes::Bytes`] slices of that buffer, never copies.
//! [`Connection::read_batch`] hands over every request already buffered, so a
//! pipelined batch is decoded from one read. The caller answers each request by
//! appending encoded replies ([`reply::status`], [`reply::bulk`], …) to
//! [`Connection::out`], then sends them all with one [`Connection::flush`].
//!
//! On the client side, a [`Client`] encodes requests with [`encode_request`]
//! into its write buffer, sends them in one write, and decodes the answers
//! with [`parse_reply`] into [`Reply`] values.
//!
//! Every decoder is incremental (an incomplete frame yields `Ok(None)` and
//! consumes nothing) and bounded by [`Limits`] or [`ReplyLimits`], so hostile
//! lengths are rejected from their header, before any payload is buffered.
//! The crate knows nothing about the commands carried.
#![warn(missing_docs)]

mod line;

pub mod client;
pub mod connection;
pub mod listen;
pub mod reply;
pub mod request;

pub use client::{Client, ClientError};
pub use connection::{BatchEnd, Connection};
pub use reply::{parse_reply, Reply, ReplyError, ReplyLimits};
pub use request::{encode_request, needed_hint, parse_request, Limits, Request, RequestError};
