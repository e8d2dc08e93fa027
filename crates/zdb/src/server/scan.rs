//! Walking commands: SCAN, RSCAN, KSCAN, HISTORY, DBSIZE.

use bytes::Bytes;

use super::dispatch::{Ctx, Flow};
use super::errors::{self, INVALID_ARGUMENTS};
use crate::namespace::{ScanError, ScanItem};

/// Writes `*2 [cursor, *N [*3 [key, :length, :timestamp]]]`.
fn reply_items(ctx: &mut Ctx<'_>, items: &[ScanItem]) {
    let last = items.last().expect("scan answers at least one item");
    resp::reply::array_header(ctx.out, 2);
    resp::reply::bulk(ctx.out, &last.cursor.encode());
    resp::reply::array_header(ctx.out, items.len());
    for item in items {
        resp::reply::array_header(ctx.out, 3);
        resp::reply::bulk(ctx.out, &item.key);
        resp::reply::integer(ctx.out, i64::from(item.length));
        resp::reply::integer(ctx.out, i64::from(item.timestamp));
    }
}

/// SCAN or RSCAN on a namespace.
type Walk = fn(&mut crate::Namespace, Option<&[u8]>) -> Result<Vec<ScanItem>, ScanError>;

fn walk(ctx: &mut Ctx<'_>, args: &[Bytes], f: Walk) -> Flow {
    let cursor = args.get(1).map(|c| c.as_ref());
    match f(ctx.ns(), cursor) {
        Ok(items) => {
            reply_items(ctx, &items);
            Flow::Continue
        }
        Err(e) => ctx.error(errors::scan_error(&e)),
    }
}

pub(crate) fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    walk(ctx, args, crate::Namespace::scan)
}

pub(crate) fn rscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    walk(ctx, args, crate::Namespace::rscan)
}

/// `KSCAN prefix`: user keys starting with `prefix` (the C server only has
/// it in debug builds; we always answer it).
pub(crate) fn kscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() != 2 {
        return ctx.error(errors::UNEXPECTED_ARGS);
    }
    if ctx.ns().lock_state() == crate::LockState::Frozen {
        return ctx.error(errors::FROZEN);
    }
    let keys = ctx.ns().keys_with_prefix(&args[1]);
    if keys.is_empty() {
        return ctx.error("No keys match");
    }
    resp::reply::array_header(ctx.out, 2);
    resp::reply::bulk(ctx.out, b"0");
    resp::reply::array_header(ctx.out, keys.len());
    for key in &keys {
        resp::reply::bulk(ctx.out, key);
    }
    Flow::Continue
}

pub(crate) fn history(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() != 2 && args.len() != 3 {
        return ctx.error(INVALID_ARGUMENTS);
    }
    let cursor = match args.get(2) {
        None => None,
        Some(raw) => match <[u8; 8]>::try_from(raw.as_ref()) {
            Ok(c) => Some(c),
            Err(_) => return ctx.error(INVALID_ARGUMENTS),
        },
    };
    match ctx.ns().history(&args[1], cursor) {
        Ok(item) => {
            resp::reply::array_header(ctx.out, 3);
            match item.previous {
                Some(prev) => resp::reply::bulk(ctx.out, &prev),
                None => resp::reply::nil(ctx.out),
            }
            resp::reply::bulk(ctx.out, item.timestamp.to_string().as_bytes());
            resp::reply::bulk(ctx.out, &item.value);
            Flow::Continue
        }
        Err(e) => ctx.error(errors::history_error(&e)),
    }
}

pub(crate) fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let n = ctx.ns().len();
    ctx.integer(n as i64)
}
