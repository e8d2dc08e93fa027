//! The command table (names, arities, handlers), the context a handler works with, and the
//! helpers every group of commands shares to read arguments and build replies.
//!
//! A handler returns its whole reply as a [`Reply`] or fails with a [`Fail`]; it never writes
//! to the connection itself, so a command that fails halfway cannot leave half a reply behind.

use bytes::Bytes;
use resp::Reply;

use super::{access, basic, hash, keys, ledger, query, typed, Shared};
use crate::acl::Caller;
use crate::db::{Applied, Bcdb, DbError};
use crate::entry::Author;
use crate::state::Command;

/// Per-connection state.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) conn_id: u64,
    /// The namespace schema-less keys and typed commands work in (`SELECT`).
    pub(crate) namespace: Vec<u8>,
    /// `CLIENT SETNAME`.
    pub(crate) name: Option<Bytes>,
    /// Whose rights the session's commands have.
    pub(crate) caller: Caller,
    /// The nonce of the last `AUTH.CHALLENGE`, until an `AUTH` uses it.
    pub(crate) challenge: Option<[u8; 32]>,
}

impl Session {
    pub(crate) fn new(conn_id: u64, caller: Caller) -> Session {
        Session {
            conn_id,
            namespace: b"default".to_vec(),
            name: None,
            caller,
            challenge: None,
        }
    }
}

/// Why a command produced no normal reply.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A refusal: the full error text (`ERR …`); nothing was recorded.
    Err(String),
    /// The ledger failed to write; the batch is not acknowledged and the server stops.
    Fatal(String),
}

impl Fail {
    /// `ERR <why>`.
    pub(crate) fn err(why: impl std::fmt::Display) -> Fail {
        Fail::Err(format!("ERR {why}"))
    }
}

impl From<DbError> for Fail {
    /// For reads: a refusal or an unreadable record is an error for this command only.
    fn from(e: DbError) -> Fail {
        match e {
            DbError::Refused(e) => Fail::err(e),
            other => Fail::err(format_args!("storage read failed: {other}")),
        }
    }
}

pub(crate) type Outcome = Result<Reply, Fail>;

/// What a handler works with.
pub(crate) struct Ctx<'a> {
    pub(crate) db: &'a mut Bcdb,
    pub(crate) shared: &'a Shared,
    pub(crate) session: &'a mut Session,
    /// The connection closes after this reply (`QUIT`).
    pub(crate) close: bool,
    /// Read decisions taken since the last write (see [`Ctx::readable`]).
    read_cache: std::cell::RefCell<crate::state::ReadCache>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(db: &'a mut Bcdb, shared: &'a Shared, session: &'a mut Session) -> Self {
        Ctx {
            db,
            shared,
            session,
            close: false,
            read_cache: Default::default(),
        }
    }

    /// Records `command`. A refusal records nothing; a ledger failure is fatal.
    pub(crate) fn execute(&mut self, command: &Command) -> Result<Vec<Applied>, Fail> {
        // a write may change rights
        *self.read_cache.borrow_mut() = Default::default();
        match self.db.execute_as(&self.session.caller, command) {
            Ok(applied) => Ok(applied),
            Err(DbError::Refused(e)) => Err(Fail::err(e)),
            // the ledger (or what is derived from it) may now be ahead of memory
            Err(other) => Err(Fail::Fatal(other.to_string())),
        }
    }

    /// Commits what any connection recorded since the last commit. Ledger commands call it
    /// first, so the checkpoint they show covers every write before them.
    pub(crate) fn commit(&mut self) -> Result<(), Fail> {
        let fatal = |e: DbError| Fail::Fatal(e.to_string());
        let len = self.db.len();
        if self.shared.durable() < len {
            self.db.commit(self.shared.config.sync).map_err(fatal)?;
            self.shared.mark_durable(len);
        } else if self.db.committed() < len {
            // durable, but its checkpoint was left for later: sign it now
            self.db.seal(len).map_err(fatal)?;
        }
        Ok(())
    }

    /// The session's namespace.
    pub(crate) fn ns(&self) -> &[u8] {
        &self.session.namespace
    }

    /// Whether the session may read object `id` of `namespace` (false when it does not exist).
    pub(crate) fn readable(&self, namespace: &[u8], id: u64) -> bool {
        match self.session.caller {
            Caller::Owner => self.db.state().object(namespace, id).is_some(),
            caller => {
                let mut cache = self.read_cache.borrow_mut();
                self.db
                    .state()
                    .may_read_cached(&caller, namespace, id, &mut cache)
            }
        }
    }

    /// Whether the session is the instance owner (who reads everything).
    pub(crate) fn is_owner(&self) -> bool {
        self.db.state().is_owner(&self.session.caller)
    }
}

/// Splits a trailing `SIG <key> <nonce> <signature>` (an author signature over
/// [`crate::entry::Entry::change_payload`], key and signature in hex) off `args`.
pub(crate) fn signed(args: &[Bytes]) -> Result<(&[Bytes], Option<Author>), Fail> {
    let n = args.len();
    if n < 5 || !args[n - 4].eq_ignore_ascii_case(b"SIG") {
        return Ok((args, None));
    }
    let author = Author {
        key: key_arg(&args[n - 3])
            .ok_or_else(|| Fail::err("SIG: the author key is not an ed25519 public key"))?,
        nonce: Some(number(&args[n - 2]).map_err(|_| Fail::err("SIG: the nonce is not a number"))?),
        signature: signature_arg(&args[n - 1])
            .ok_or_else(|| Fail::err("SIG: the signature is not 128 hex digits"))?,
    };
    Ok((&args[..n - 4], Some(author)))
}

/// An ed25519 public key argument (hex or base58).
pub(crate) fn key_arg(arg: &[u8]) -> Option<identity::PublicKey> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|k| identity::PublicKey::parse(k).ok())
}

/// An ed25519 signature argument: 128 hex digits.
pub(crate) fn signature_arg(arg: &[u8]) -> Option<identity::Signature> {
    let bytes = hex::decode(arg).ok()?;
    Some(identity::Signature::from_bytes(&bytes.try_into().ok()?))
}

/// A command handler; `args[0]` is the command name.
pub(crate) type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Outcome;

/// Every command: name, Redis-style arity (n: exactly n arguments with the name, -n: at
/// least n), handler.
pub(crate) const COMMANDS: &[(&str, i32, Handler)] = &[
    ("PING", -1, basic::ping),
    ("ECHO", 2, basic::echo),
    ("SELECT", 2, basic::select),
    ("INFO", -1, basic::info),
    ("COMMAND", -1, basic::command),
    ("QUIT", -1, basic::quit),
    ("CLIENT", -2, basic::client),
    ("HELLO", -1, basic::hello),
    ("AUTH", -2, access::auth),
    ("AUTH.CHALLENGE", 1, access::challenge),
    ("AUTH.WHOAMI", 1, access::whoami),
    ("AUTH.NONCE", -1, access::nonce),
    ("ACL.SET", -2, access::acl_set),
    ("ACL.GET", 2, access::acl_get),
    ("ACL.LIST", 1, access::acl_list),
    ("GROUP.SET", -2, access::group_set),
    ("GROUP.GET", 2, access::group_get),
    ("NS.POLICY", -1, access::policy),
    ("OBJ.ACL", -3, access::obj_acl),
    ("DBSIZE", 1, basic::dbsize),
    ("GET", 2, keys::get),
    ("SET", -3, keys::set),
    ("DEL", -2, keys::del),
    ("EXISTS", -2, keys::exists),
    ("MGET", -2, keys::mget),
    ("SCAN", -2, keys::scan),
    ("KEYS", 2, keys::keys),
    ("TYPE", 2, keys::type_),
    ("TTL", 2, keys::ttl),
    ("PTTL", 2, keys::ttl),
    ("HSET", -4, hash::hset),
    ("HSETNEW", -3, hash::hsetnew),
    ("HGET", 3, hash::hget),
    ("HDEL", -3, hash::hdel),
    ("HLEN", 2, hash::hlen),
    ("HKEYS", 2, hash::hkeys),
    ("HSCAN", -3, hash::hscan),
    ("SCHEMA.SET", 2, typed::schema_set),
    ("SCHEMA.GET", -2, typed::schema_get),
    ("SCHEMA.LIST", 1, typed::schema_list),
    ("OBJ.NEW", -3, typed::obj_new),
    ("OBJ.SET", -4, typed::obj_set),
    ("OBJ.GET", -2, typed::obj_get),
    ("OBJ.DEL", -2, typed::obj_del),
    ("OBJ.HISTORY", -2, typed::obj_history),
    ("OBJ.FIND", -5, query::obj_find),
    ("OBJ.COUNT", -5, query::obj_count),
    ("OBJ.SEARCH", -3, query::obj_search),
    ("LEDGER.CHECKPOINT", 1, ledger::checkpoint),
    ("LEDGER.ROOT", 1, ledger::root),
    ("LEDGER.VGET", -2, ledger::vget),
];

/// The command called `name` (any case).
fn lookup(name: &[u8]) -> Option<&'static (&'static str, i32, Handler)> {
    COMMANDS
        .iter()
        .find(|(canonical, _, _)| canonical.as_bytes().eq_ignore_ascii_case(name))
}

/// Printable text of a client argument for an error message, bounded like Redis's.
pub(crate) fn shown(arg: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&arg[..arg.len().min(128)]).into_owned();
    text.replace(['\r', '\n'], " ")
}

/// Runs one request.
pub(crate) fn execute(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let Some(&(name, arity, handler)) = lookup(&args[0]) else {
        // Redis quotes arguments until the list reaches 128 characters
        let mut given = String::new();
        for arg in &args[1..] {
            if given.len() >= 128 {
                break;
            }
            let room = 128 - given.len();
            given.push_str(&format!("'{}' ", shown(&arg[..arg.len().min(room)])));
        }
        return Err(Fail::Err(format!(
            "ERR unknown command '{}', with args beginning with: {given}",
            shown(&args[0])
        )));
    };
    let n = args.len() as i64;
    let arity = i64::from(arity);
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return Err(wrong_arity(name));
    }
    if ctx.shared.failed.load(std::sync::atomic::Ordering::SeqCst) && name != "QUIT" {
        return Err(Fail::err(
            "the ledger failed to write earlier; restart the server to replay it",
        ));
    }
    handler(ctx, args)
}

/// Longest error text sent: errors may quote client input (a JSON value, a schema line).
const MAX_ERROR: usize = 1024;

/// `text` cut to [`MAX_ERROR`] bytes at a character boundary.
pub(crate) fn bounded_error(text: &str) -> &str {
    if text.len() <= MAX_ERROR {
        return text;
    }
    let mut end = MAX_ERROR;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Redis's arity error.
pub(crate) fn wrong_arity(name: &str) -> Fail {
    Fail::err(format_args!(
        "wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

pub(crate) fn ok() -> Reply {
    Reply::Status(Bytes::from_static(b"OK"))
}

pub(crate) fn status(text: &'static str) -> Reply {
    Reply::Status(Bytes::from_static(text.as_bytes()))
}

pub(crate) fn int(n: impl TryInto<i64>) -> Reply {
    Reply::Integer(n.try_into().unwrap_or(i64::MAX))
}

pub(crate) fn bulk(data: impl Into<Bytes>) -> Reply {
    Reply::Bulk(Some(data.into()))
}

pub(crate) fn nil() -> Reply {
    Reply::Bulk(None)
}

pub(crate) fn array(items: Vec<Reply>) -> Reply {
    Reply::Array(Some(items))
}

/// An argument as UTF-8 text.
pub(crate) fn text<'b>(arg: &'b [u8], what: &str) -> Result<&'b str, Fail> {
    std::str::from_utf8(arg).map_err(|_| Fail::err(format_args!("{what} is not UTF-8 text")))
}

/// A non-negative decimal integer argument, with Redis's error text.
pub(crate) fn number(arg: &[u8]) -> Result<u64, Fail> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Fail::err("value is not an integer or out of range"))
}

/// An object id argument: a positive integer.
pub(crate) fn object_id(arg: &[u8]) -> Result<u64, Fail> {
    number(arg).ok().filter(|&id| id > 0).ok_or_else(|| {
        Fail::err(format_args!(
            "object id {:?} is not a positive integer",
            shown(arg)
        ))
    })
}

/// The `MATCH pattern` and `COUNT n` options of SCAN and HSCAN (and `TYPE t` when allowed).
pub(crate) struct ScanOptions {
    pub(crate) pattern: Option<Bytes>,
    pub(crate) count: usize,
    pub(crate) kind: Option<Bytes>,
}

pub(crate) fn scan_options(args: &[Bytes], allow_type: bool) -> Result<ScanOptions, Fail> {
    let mut options = ScanOptions {
        pattern: None,
        count: 10,
        kind: None,
    };
    for pair in args.chunks(2) {
        let [option, value] = pair else {
            return Err(Fail::err("syntax error"));
        };
        if option.eq_ignore_ascii_case(b"MATCH") {
            options.pattern = Some(value.clone());
        } else if option.eq_ignore_ascii_case(b"COUNT") {
            let n = number(value)?;
            if n == 0 {
                return Err(Fail::err("syntax error"));
            }
            options.count = usize::try_from(n).unwrap_or(usize::MAX).min(100_000);
        } else if allow_type && option.eq_ignore_ascii_case(b"TYPE") {
            options.kind = Some(value.clone());
        } else {
            return Err(Fail::err("syntax error"));
        }
    }
    Ok(options)
}
