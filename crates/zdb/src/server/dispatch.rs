//! Command lookup (exact, case-insensitive names) and the context every
//! command handler receives.

use bytes::{Bytes, BytesMut};

use super::connection::Session;
use super::{auth, commands, keys, maintenance, namespaces, scan, Counters, Shared, State};
use crate::db::Db;
use crate::namespace::Namespace;

/// Whether the connection goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
}

/// What a command handler works with.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) shared: &'a Shared,
    pub(crate) session: &'a mut Session,
    pub(crate) out: &'a mut BytesMut,
}

impl Ctx<'_> {
    pub(crate) fn db(&mut self) -> &mut Db {
        &mut self.state.db
    }

    /// The session's namespace; it exists (checked before every command).
    pub(crate) fn ns(&mut self) -> &mut Namespace {
        let id = self.session.ns;
        self.state
            .db
            .get(id)
            .expect("session namespace checked before the command")
    }

    pub(crate) fn error(&mut self, text: &str) -> Flow {
        resp::reply::error(self.out, text.as_bytes());
        Flow::Continue
    }

    pub(crate) fn ok(&mut self) -> Flow {
        resp::reply::status(self.out, b"OK");
        Flow::Continue
    }

    pub(crate) fn status(&mut self, text: &[u8]) -> Flow {
        resp::reply::status(self.out, text);
        Flow::Continue
    }

    pub(crate) fn bulk(&mut self, data: &[u8]) -> Flow {
        resp::reply::bulk(self.out, data);
        Flow::Continue
    }

    pub(crate) fn nil(&mut self) -> Flow {
        resp::reply::nil(self.out);
        Flow::Continue
    }

    pub(crate) fn integer(&mut self, n: i64) -> Flow {
        resp::reply::integer(self.out, n);
        Flow::Continue
    }

    /// Refuses a non-admin session, counting it for INFO.
    pub(crate) fn require_admin(&mut self) -> Result<(), Flow> {
        if self.session.admin {
            return Ok(());
        }
        Counters::add(&self.shared.counters.commands_unauthorized, 1);
        Err(self.error("Permission denied"))
    }
}

/// A command handler.
pub(crate) type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Flow;

/// Every command: canonical name (as WAIT reports it) and handler.
pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("WAIT", commands::wait),
    ("MIRROR", commands::mirror),
    ("MASTER", commands::master),
    ("PING", commands::ping),
    ("TIME", commands::time),
    ("AUTH", auth::auth),
    ("HOOKS", commands::hooks),
    ("INDEX", commands::index),
    ("DATA", commands::data),
    ("SET", keys::set),
    ("SETX", keys::set),
    ("GET", keys::get),
    ("MGET", keys::mget),
    ("DEL", keys::del),
    ("EXISTS", keys::exists),
    ("CHECK", keys::check),
    ("SCAN", scan::scan),
    ("SCANX", scan::scan),
    ("RSCAN", scan::rscan),
    ("KSCAN", scan::kscan),
    ("HISTORY", scan::history),
    ("KEYCUR", keys::keycur),
    ("LENGTH", keys::length),
    ("KEYTIME", keys::keytime),
    ("INFO", commands::info),
    ("STOP", commands::stop),
    ("DBSIZE", scan::dbsize),
    ("NSNEW", namespaces::nsnew),
    ("NSDEL", namespaces::nsdel),
    ("NSLIST", namespaces::nslist),
    ("NSSET", namespaces::nsset),
    ("NSINFO", namespaces::nsinfo),
    ("NSJUMP", namespaces::nsjump),
    ("SELECT", auth::select),
    ("RELOAD", namespaces::reload),
    ("FLUSH", namespaces::flush),
    ("COMPACT", maintenance::compact),
];

/// Index in [`COMMANDS`] of the command called `name` (any case).
pub(crate) fn lookup(name: &[u8]) -> Option<usize> {
    COMMANDS
        .iter()
        .position(|(canonical, _)| canonical.as_bytes().eq_ignore_ascii_case(name))
}

/// Runs one request.
pub(crate) fn execute(
    state: &mut State,
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut BytesMut,
) -> Flow {
    Counters::add(&shared.counters.commands_executed, 1);
    if !state.db.contains(session.ns) {
        resp::reply::error(
            out,
            b"Your active namespace is not available anymore (probably removed).",
        );
        return Flow::Close;
    }
    let name = &args[0];
    if name.is_empty() || name.as_ref() == b"*" {
        resp::reply::error(out, b"This is not a valid command");
        return Flow::Continue;
    }
    let Some(idx) = lookup(name) else {
        Counters::add(&shared.counters.commands_failed, 1);
        resp::reply::error(out, b"Command not supported");
        return Flow::Continue;
    };
    let (canonical, handler) = COMMANDS[idx];
    let mut ctx = Ctx {
        state,
        shared,
        session,
        out,
    };
    let flow = handler(&mut ctx, args);
    if !ctx.state.watchers.is_empty() {
        // Waiters are matched on the namespace the client is in once the
        // command is done (a SELECT counts in its new namespace).
        let (conn_id, ns) = (ctx.session.conn_id, ctx.session.ns);
        ctx.state.watchers.notify(conn_id, ns, canonical);
    }
    flow
}
