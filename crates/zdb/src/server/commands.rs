//! Server-level commands: PING, TIME, INFO, WAIT, HOOKS, INDEX, DATA,
//! MIRROR, MASTER, STOP.

use bytes::Bytes;

use super::dispatch::{lookup, Ctx, Flow, COMMANDS};
use super::errors::{INVALID_ARGUMENTS, MISSING_ARGUMENTS};
use super::info;
use crate::namespace::RawEntryError;

/// WAIT timeout bounds and default, in milliseconds.
const WAIT_MIN_MS: u64 = 100;
const WAIT_MAX_MS: u64 = 1_800_000;
const WAIT_DEFAULT_MS: u64 = 5_000;

pub(crate) fn ping(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    ctx.status(b"PONG")
}

pub(crate) fn time(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    resp::reply::array_header(ctx.out, 2);
    resp::reply::bulk(ctx.out, now.as_secs().to_string().as_bytes());
    resp::reply::bulk(ctx.out, now.subsec_micros().to_string().as_bytes());
    Flow::Continue
}

pub(crate) fn info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let text = info::info(ctx.shared);
    ctx.bulk(text.as_bytes())
}

/// C `strtoull` on a short decimal string: leading digits, 0 if none.
fn leading_number(raw: &[u8]) -> u64 {
    raw.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        })
}

pub(crate) fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() != 2 && args.len() != 3 {
        return ctx.error(INVALID_ARGUMENTS);
    }
    let command = if args[1].as_ref() == b"*" {
        None
    } else {
        match lookup(&args[1]) {
            Some(idx) => Some(COMMANDS[idx].0),
            None => return ctx.error("Unknown command to watch"),
        }
    };
    let timeout_ms = match args.get(2) {
        None => WAIT_DEFAULT_MS,
        Some(raw) if raw.len() > 16 => return ctx.error("Invalid timeout"),
        Some(raw) => leading_number(raw),
    };
    if !(WAIT_MIN_MS..=WAIT_MAX_MS).contains(&timeout_ms) {
        return ctx.error("Invalid timeout");
    }
    let (conn_id, ns, tx) = (
        ctx.session.conn_id,
        ctx.session.ns,
        ctx.session.notify.clone(),
    );
    ctx.state.watchers.add(conn_id, ns, command, tx);
    ctx.session.wait_deadline =
        Some(std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms));
    Flow::Continue
}

pub(crate) fn mirror(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    ctx.status(b"Starting mirroring")
}

pub(crate) fn master(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    ctx.status(b"Hello, master")
}

pub(crate) fn stop(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    ctx.error("Unauthorized")
}

pub(crate) fn hooks(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    let runs = ctx.shared.hooks.list();
    resp::reply::array_header(ctx.out, runs.len());
    for run in runs {
        resp::reply::array_header(ctx.out, 6);
        resp::reply::bulk(ctx.out, run.event.as_bytes());
        resp::reply::array_header(ctx.out, run.args.len());
        for arg in &run.args {
            resp::reply::bulk(ctx.out, arg.as_encoded_bytes());
        }
        resp::reply::integer(ctx.out, i64::from(run.pid));
        resp::reply::integer(ctx.out, run.created as i64);
        resp::reply::integer(ctx.out, run.finished as i64);
        resp::reply::integer(ctx.out, i64::from(run.status));
    }
    Flow::Continue
}

pub(crate) fn index(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    if args.len() < 2 {
        return ctx.error(MISSING_ARGUMENTS);
    }
    if !args[1].eq_ignore_ascii_case(b"DIRTY") {
        return ctx.error("Unknown INDEX subcommand");
    }
    match args.get(2) {
        None => {
            let ids = ctx.ns().dirty_index_ids();
            resp::reply::array_header(ctx.out, ids.len());
            for id in ids {
                resp::reply::integer(ctx.out, i64::from(id));
            }
            Flow::Continue
        }
        Some(sub) if sub.eq_ignore_ascii_case(b"RESET") => {
            ctx.ns().reset_dirty();
            ctx.ok()
        }
        Some(_) => ctx.error("Unknown INDEX DIRTY subcommand"),
    }
}

/// `DATA RAW <fileid> <offset>`: one data entry, for incremental replication.
pub(crate) fn data(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    if args.len() < 4 {
        return ctx.error(MISSING_ARGUMENTS);
    }
    if !args[1].eq_ignore_ascii_case(b"RAW") {
        return ctx.error("Unknown DATA subcommand");
    }
    let file_id = u32::try_from(leading_number(&args[2])).unwrap_or(u32::MAX);
    let offset = leading_number(&args[3]);
    match ctx.ns().raw_data_entry(file_id, offset) {
        Ok(raw) => {
            resp::reply::array_header(ctx.out, 6);
            resp::reply::bulk(ctx.out, &raw.key);
            resp::reply::integer(ctx.out, i64::from(raw.entry.previous));
            resp::reply::bulk(ctx.out, format!("0x{:08x}", raw.entry.crc).as_bytes());
            resp::reply::integer(ctx.out, i64::from(raw.entry.flags));
            resp::reply::integer(ctx.out, i64::from(raw.entry.timestamp));
            resp::reply::bulk(ctx.out, &raw.payload);
            Flow::Continue
        }
        Err(RawEntryError::Eof) => ctx.error("EOF"),
        Err(RawEntryError::Invalid) => ctx.error("Unexpected Internal Error"),
        Err(RawEntryError::NoFile | RawEntryError::Empty) => ctx.error("Invalid Request"),
    }
}
