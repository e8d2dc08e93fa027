//! ed25519 signatures on HTTP requests: who sent a request, and that it is
//! this request, sent once, recently.
//!
//! A client signs the method, the path and query, the time, a random nonce
//! and the BLAKE2b-256 of the body, and sends
//!
//! ```text
//! Authorization: TFGrid-Ed25519 key="<hex>",created="<unix>",nonce="<hex>",signature="<hex>"
//! x-content-blake2b: <hex BLAKE2b-256 of the body>
//! ```
//!
//! The server parses the header ([`AuthHeader::parse`]), recomputes the body
//! digest while it streams the body ([`BodyDigest`]), verifies the signature
//! and the clock window ([`AuthHeader::verify`]) and records the nonce
//! ([`ReplayGuard::check`]) so a captured request cannot be sent again.
//!
//! The signed bytes are a [`Payload`] with purpose `http-request`, so a
//! request signature can never pass as a flist or workload signature and
//! vice versa. The host is not signed: a request is bound to a server only by
//! that server's replay table and the time window, so a client talking to
//! several servers with the same key should not send one server what it
//! would not want replayed to another within the window.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use crate::{KeyPair, Payload, PublicKey, Signature};

/// Name of the header carrying the signature.
pub const AUTHORIZATION: &str = "authorization";
/// Name of the header carrying the hex BLAKE2b-256 of the request body.
pub const CONTENT_DIGEST: &str = "x-content-blake2b";
/// How far `created` may be from the verifier's clock, either way.
pub const DEFAULT_WINDOW_SECS: u64 = 300;

/// The authentication scheme of the header.
const SCHEME: &str = "TFGrid-Ed25519";
/// Purpose of the signed payload (domain separation from other signatures).
const PURPOSE: &str = "http-request";
/// Longest header value accepted; a valid one is about 300 bytes.
const MAX_HEADER_LEN: usize = 512;

/// Incremental BLAKE2b-256 of a request body, so bodies can be hashed while
/// they stream instead of being held whole.
#[derive(Clone, Default)]
pub struct BodyDigest {
    hasher: Blake2b<U32>,
}

impl BodyDigest {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    /// The BLAKE2b-256 of everything fed.
    pub fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

/// BLAKE2b-256 of a whole body.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    let mut digest = BodyDigest::new();
    digest.update(body);
    digest.finish()
}

/// What a client signs: one request. A server must fill it from the request
/// as received (the raw path and query of the request line, not a decoded or
/// normalised form), or honest signatures will not verify.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// The HTTP method; compared case-insensitively (it is signed uppercased).
    pub method: &'a str,
    /// The request target as sent, e.g. `/flists/x.fl?force=1`.
    pub path_and_query: &'a str,
    /// BLAKE2b-256 of the body ([`body_digest`] of an empty body when there is none).
    pub body_digest: [u8; 32],
}

/// The exact bytes a request signature covers.
fn signed_payload(req: &RequestToSign<'_>, created: u64, nonce: &[u8; 16]) -> Payload {
    Payload::new(PURPOSE)
        .field(req.method.to_ascii_uppercase().as_bytes())
        .field(req.path_and_query.as_bytes())
        .u64(created)
        .field(nonce)
        .field(&req.body_digest)
}

/// Signs `req` with `key` at time `created` (unix seconds) with a fresh
/// random 16-byte nonce and returns the `Authorization` header value:
/// `TFGrid-Ed25519 key="<hex>",created="<unix>",nonce="<32 hex>",signature="<128 hex>"`.
pub fn sign_request(key: &KeyPair, req: &RequestToSign<'_>, created: u64) -> String {
    sign_request_with_nonce(key, req, created, rand::random())
}

/// [`sign_request`] with a given nonce, for tests and fixed vectors. A nonce
/// must never be reused with the same key: the server refuses the second use.
pub fn sign_request_with_nonce(
    key: &KeyPair,
    req: &RequestToSign<'_>,
    created: u64,
    nonce: [u8; 16],
) -> String {
    let header = AuthHeader {
        key: key.public(),
        created,
        nonce,
        signature: key.sign(&signed_payload(req, created, &nonce)),
    };
    header.encode()
}

/// A parsed `Authorization` header. Parsing checks only its form; nothing in
/// it is trusted before [`AuthHeader::verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuthHeader {
    /// Who claims to have signed.
    pub key: PublicKey,
    /// When the request was signed (unix seconds, the client's clock).
    pub created: u64,
    /// Random per request, so two identical requests have different signatures.
    pub nonce: [u8; 16],
    /// The signature over the request.
    pub signature: Signature,
}

impl AuthHeader {
    /// Parses the header value. Strict: scheme `TFGrid-Ed25519`, exactly the
    /// parameters `key`, `created`, `nonce` and `signature` (any order, each
    /// once), quoted values of exact lengths, at most 512 bytes in all. The
    /// scheme and parameter names are case-insensitive, as HTTP defines them.
    pub fn parse(value: &str) -> Result<AuthHeader, AuthError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(malformed(format!(
                "{} bytes, at most {MAX_HEADER_LEN}",
                value.len()
            )));
        }
        let value = value.trim_matches(is_ows);
        let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(AuthError::UnknownScheme);
        }
        let params = params.trim_matches(is_ows);
        if params.is_empty() {
            return Err(malformed("no parameters"));
        }
        let (mut key, mut created, mut nonce, mut signature) = (None, None, None, None);
        for param in params.split(',') {
            let param = param.trim_matches(is_ows);
            let (name, quoted) = param
                .split_once('=')
                .ok_or_else(|| malformed(format!("parameter {param:?} has no '='")))?;
            let value = quoted
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|v| !v.contains(['"', '\\']))
                .ok_or_else(|| malformed(format!("value of {name:?} is not a quoted string")))?;
            match name.to_ascii_lowercase().as_str() {
                "key" => {
                    let bytes = hex_array::<32>("key", value)?;
                    let parsed = PublicKey::from_bytes(&bytes)
                        .map_err(|_| malformed("key is not an ed25519 public key"))?;
                    set_once(&mut key, "key", parsed)?;
                }
                "created" => set_once(&mut created, "created", parse_unix(value)?)?,
                "nonce" => set_once(&mut nonce, "nonce", hex_array::<16>("nonce", value)?)?,
                "signature" => {
                    let bytes = hex_array::<64>("signature", value)?;
                    set_once(&mut signature, "signature", Signature::from_bytes(&bytes))?;
                }
                _ => return Err(malformed(format!("unknown parameter {name:?}"))),
            }
        }
        Ok(AuthHeader {
            key: key.ok_or_else(|| malformed("missing key"))?,
            created: created.ok_or_else(|| malformed("missing created"))?,
            nonce: nonce.ok_or_else(|| malformed("missing nonce"))?,
            signature: signature.ok_or_else(|| malformed("missing signature"))?,
        })
    }

    /// Checks that `created` is within `window_secs` of `now` (unix seconds;
    /// exactly `window_secs` away still passes) and that the signature covers
    /// `req`, `created` and the nonce. Returns the signer's key. The window is
    /// checked first, since it is cheaper than the signature.
    pub fn verify(
        &self,
        req: &RequestToSign<'_>,
        now: u64,
        window_secs: u64,
    ) -> Result<PublicKey, AuthError> {
        check_window(self.created, now, window_secs)?;
        let payload = signed_payload(req, self.created, &self.nonce);
        self.key
            .verify(&payload, &self.signature)
            .map_err(|_| AuthError::BadSignature)?;
        Ok(self.key)
    }

    /// The header value, in the one form [`sign_request`] writes.
    fn encode(&self) -> String {
        format!(
            "{SCHEME} key=\"{}\",created=\"{}\",nonce=\"{}\",signature=\"{}\"",
            self.key.to_hex(),
            self.created,
            hex::encode(self.nonce),
            self.signature.to_hex()
        )
    }
}

/// HTTP optional whitespace.
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn malformed(what: impl Into<String>) -> AuthError {
    AuthError::Malformed(what.into())
}

/// Stores a parameter, refusing a second occurrence: with two values, which
/// one a server and a proxy looked at could differ.
fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), AuthError> {
    if slot.replace(value).is_some() {
        return Err(malformed(format!("{name} given twice")));
    }
    Ok(())
}

/// Exactly `2 * N` hex digits.
fn hex_array<const N: usize>(name: &str, text: &str) -> Result<[u8; N], AuthError> {
    if text.len() != 2 * N {
        return Err(malformed(format!(
            "{name} has {} characters, expected {} hex digits",
            text.len(),
            2 * N
        )));
    }
    let mut out = [0; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| malformed(format!("{name} is not hex")))?;
    Ok(out)
}

/// Decimal unix seconds: digits only (no sign, no spaces), fitting a u64.
fn parse_unix(text: &str) -> Result<u64, AuthError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("created is not decimal unix seconds"));
    }
    text.parse()
        .map_err(|_| malformed("created is out of range"))
}

/// `created` may be up to `window_secs` behind or ahead of `now`, to absorb
/// clock skew and transit time; beyond that the nonce may have been forgotten.
fn check_window(created: u64, now: u64, window_secs: u64) -> Result<(), AuthError> {
    if created.abs_diff(now) > window_secs {
        return Err(AuthError::Expired { created, now });
    }
    Ok(())
}

/// Says how far off a `created` time is, for [`AuthError::Expired`].
fn skew(created: u64, now: u64) -> String {
    if created <= now {
        format!("{}s old", now - created)
    } else {
        format!("{}s in the future", created - now)
    }
}

/// A (public key, nonce) pair that was accepted.
type Seen = ([u8; 32], [u8; 16]);

/// Remembers (key, nonce) pairs seen within the window so each signed
/// request is accepted once. Entries live until their request falls out of
/// the window (`created + window_secs`), after which [`AuthHeader::verify`]
/// refuses it anyway.
///
/// Also refuses requests created before `not_before`: a server passes its
/// start time, so a restart, which empties the table, cannot be used to
/// replay requests whose nonces it forgot. (Clients whose clocks lag may
/// then be refused until their `created` passes the start time.)
///
/// Bounded: at most `capacity` live entries; expired ones are evicted first
/// and, when it is still full, new requests are refused with
/// [`AuthError::Busy`] rather than forgetting live nonces, which would open
/// the replay the table exists to stop. Thread-safe.
#[derive(Debug)]
pub struct ReplayGuard {
    not_before: u64,
    window_secs: u64,
    capacity: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// The latest `now` seen: the guard's clock never runs backwards, so a
    /// clock stepped back cannot bring an evicted request back into the window.
    latest: u64,
    live: HashSet<Seen>,
    /// The same entries ordered by the time they expire.
    by_expiry: BTreeSet<(u64, Seen)>,
}

impl ReplayGuard {
    /// A guard for a server started at `not_before` (unix seconds), with the
    /// window its `verify` uses and room for `capacity` requests per window.
    pub fn new(not_before: u64, window_secs: u64, capacity: usize) -> ReplayGuard {
        ReplayGuard {
            not_before,
            window_secs,
            capacity,
            table: Mutex::new(Table::default()),
        }
    }

    /// Records the request's nonce; call it after [`AuthHeader::verify`]
    /// succeeded, so forged headers cannot fill the table. Errors:
    /// [`AuthError::TooOld`] if `created < not_before`,
    /// [`AuthError::Replayed`] if this (key, nonce) was seen,
    /// [`AuthError::Busy`] if the table is full of live entries, and
    /// [`AuthError::Expired`] if `created` is outside the window (repeated
    /// here so the guard is safe on its own: an entry it would evict at once,
    /// or keep far into the future, is never accepted).
    pub fn check(&self, header: &AuthHeader, now: u64) -> Result<(), AuthError> {
        if header.created < self.not_before {
            return Err(AuthError::TooOld);
        }
        // Nothing below can leave the table half-updated, so a poisoned lock
        // holds a consistent table.
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.latest = table.latest.max(now);
        let now = table.latest;
        check_window(header.created, now, self.window_secs)?;
        while let Some(&(expiry, seen)) = table.by_expiry.first() {
            if expiry >= now {
                break;
            }
            table.by_expiry.pop_first();
            table.live.remove(&seen);
        }
        let seen = (header.key.to_bytes(), header.nonce);
        if table.live.contains(&seen) {
            return Err(AuthError::Replayed);
        }
        if table.live.len() >= self.capacity {
            return Err(AuthError::Busy);
        }
        let expiry = header.created.saturating_add(self.window_secs);
        table.live.insert(seen);
        table.by_expiry.insert((expiry, seen));
        Ok(())
    }
}

/// Why a signed request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The header is not in the expected form; says what is wrong.
    #[error("malformed Authorization header: {0}")]
    Malformed(String),
    /// The header uses another authentication scheme.
    #[error("Authorization scheme is not {SCHEME}")]
    UnknownScheme,
    /// `created` is outside the window around the server's clock.
    #[error(
        "request signature expired: created at {created}, {} by the server clock ({now}); check the client's clock",
        skew(*.created, *.now)
    )]
    Expired {
        /// The header's `created`.
        created: u64,
        /// The verifier's clock.
        now: u64,
    },
    /// The signature does not match the key and the request.
    #[error("request signature does not verify")]
    BadSignature,
    /// This key and nonce were already used.
    #[error("request already used (nonce seen before); sign it again")]
    Replayed,
    /// `created` is before the server started.
    #[error("request created before the server started; sign it again")]
    TooOld,
    /// The replay table is full of live entries.
    #[error("too many signed requests in the window; try again later")]
    Busy,
}

/// The current time in unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
