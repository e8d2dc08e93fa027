//! Key commands: SET, GET, MGET, DEL, EXISTS, CHECK, LENGTH, KEYTIME, KEYCUR.

use bytes::Bytes;

use super::dispatch::{Ctx, Flow};
use super::errors::{self, INTERNAL, INVALID_ARGUMENT, INVALID_KEY, UNEXPECTED_ARGS};
use crate::namespace::{Integrity, SetOutcome, ValueLoc};

/// Longest user key.
pub(crate) const MAX_KEY: usize = 255;

/// C `atoll`: optional blanks and sign, then digits up to the first other
/// byte; anything unparsable is 0. Used for the admin timestamp forms.
pub(crate) fn atoll(raw: &[u8]) -> i64 {
    let mut bytes = raw
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace)
        .peekable();
    let negative = match bytes.peek() {
        Some(b'-') => {
            bytes.next();
            true
        }
        Some(b'+') => {
            bytes.next();
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    for b in bytes.take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -n
    } else {
        n
    }
}

/// Validates the single key argument of a read command (GET-style checks).
fn read_key<'a>(ctx: &mut Ctx<'_>, args: &'a [Bytes]) -> Result<&'a [u8], Flow> {
    if args.len() != 2 {
        return Err(ctx.error(UNEXPECTED_ARGS));
    }
    let key = &args[1];
    if key.is_empty() {
        return Err(ctx.error(INVALID_ARGUMENT));
    }
    if key.len() > MAX_KEY {
        return Err(ctx.error(INVALID_KEY));
    }
    Ok(key)
}

/// Looks `key` up in the session's namespace, answering errors itself.
fn lookup(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<ValueLoc>, Flow> {
    ctx.ns()
        .lookup(key)
        .map_err(|e| ctx.error(errors::read_error(&e)))
}

/// Writes a bulk reply with the payload at `loc`, or `-Internal Error`.
fn reply_value(ctx: &mut Ctx<'_>, loc: &ValueLoc) {
    let mark = ctx.out.len();
    let len = loc.length.to_string();
    ctx.out.extend_from_slice(b"$");
    ctx.out.extend_from_slice(len.as_bytes());
    ctx.out.extend_from_slice(b"\r\n");
    let id = ctx.session.ns;
    let ns = ctx.state.db.get(id).expect("session namespace exists");
    match ns.read_value(loc, ctx.out) {
        Ok(()) => ctx.out.extend_from_slice(b"\r\n"),
        Err(e) => {
            tracing::warn!("failed to read a value: {e}");
            ctx.out.truncate(mark);
            resp::reply::error(ctx.out, INTERNAL.as_bytes());
        }
    }
}

pub(crate) fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let timestamp = match args.len() {
        4 => {
            handled!(ctx.require_admin());
            Some(atoll(&args[3]) as u32)
        }
        3 => None,
        _ => return ctx.error(UNEXPECTED_ARGS),
    };
    let (key, value) = (&args[1], &args[2]);
    if key.len() > MAX_KEY {
        return ctx.error("Key too large");
    }
    if !ctx.session.writable {
        return ctx.error(errors::READ_ONLY);
    }
    match ctx.ns().set(key, value, timestamp) {
        Ok(SetOutcome::Written(key)) => ctx.bulk(&key),
        Ok(SetOutcome::Unchanged) => ctx.nil(),
        Err(e) => {
            if matches!(e, crate::SetError::Data(_) | crate::SetError::Index(_)) {
                tracing::error!("failed to write: {e}");
            }
            ctx.error(errors::set_error(&e))
        }
    }
}

pub(crate) fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let key = handled!(read_key(ctx, args));
    match handled!(lookup(ctx, key)) {
        Some(loc) => reply_value(ctx, &loc),
        None => {
            ctx.nil();
        }
    }
    Flow::Continue
}

pub(crate) fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() < 2 {
        return ctx.error(errors::INVALID_ARGUMENTS);
    }
    if args[1..].iter().any(|k| k.len() > MAX_KEY) {
        return ctx.error(INVALID_KEY);
    }
    if ctx.ns().lock_state() == crate::LockState::Frozen {
        return ctx.error(errors::FROZEN);
    }
    resp::reply::array_header(ctx.out, args.len() - 1);
    for key in &args[1..] {
        if key.is_empty() {
            ctx.nil();
            continue;
        }
        match ctx.ns().lookup(key) {
            Ok(Some(loc)) => reply_value(ctx, &loc),
            Ok(None) => {
                ctx.nil();
            }
            Err(_) => {
                ctx.error(INTERNAL);
            }
        }
    }
    Flow::Continue
}

pub(crate) fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let timestamp = match args.len() {
        3 => {
            handled!(ctx.require_admin());
            Some(atoll(&args[2]) as u32)
        }
        2 => None,
        _ => return ctx.error(UNEXPECTED_ARGS),
    };
    let key = &args[1];
    if key.is_empty() {
        return ctx.error(INVALID_ARGUMENT);
    }
    if key.len() > MAX_KEY {
        return ctx.error(INVALID_KEY);
    }
    if !ctx.session.writable {
        return ctx.error(errors::READ_ONLY);
    }
    match ctx.ns().del(key, timestamp) {
        Ok(()) => ctx.ok(),
        Err(e) => ctx.error(errors::del_error(&e)),
    }
}

/// Shared body of EXISTS, LENGTH and KEYTIME.
fn with_loc(ctx: &mut Ctx<'_>, args: &[Bytes], reply: fn(&mut Ctx<'_>, Option<ValueLoc>)) -> Flow {
    let key = handled!(read_key(ctx, args));
    let loc = handled!(lookup(ctx, key));
    reply(ctx, loc);
    Flow::Continue
}

pub(crate) fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_loc(ctx, args, |ctx, loc| {
        ctx.integer(i64::from(loc.is_some()));
    })
}

pub(crate) fn length(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_loc(ctx, args, |ctx, loc| match loc {
        Some(loc) => {
            ctx.integer(i64::from(loc.length));
        }
        None => {
            ctx.nil();
        }
    })
}

pub(crate) fn keytime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_loc(ctx, args, |ctx, loc| match loc {
        Some(loc) => {
            ctx.integer(i64::from(loc.timestamp));
        }
        None => {
            ctx.nil();
        }
    })
}

pub(crate) fn check(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let key = handled!(read_key(ctx, args));
    match ctx.ns().check(key) {
        Ok(Some(Integrity::Ok)) => ctx.integer(1),
        Ok(Some(Integrity::Mismatch)) => ctx.integer(0),
        Ok(Some(Integrity::Unreadable)) => ctx.integer(-1),
        Ok(None) => ctx.nil(),
        Err(e) => ctx.error(errors::read_error(&e)),
    }
}

pub(crate) fn keycur(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() != 2 {
        return ctx.error(UNEXPECTED_ARGS);
    }
    if args[1].is_empty() {
        return ctx.error(INVALID_ARGUMENT);
    }
    match ctx.ns().key_cursor(&args[1]) {
        Ok(cursor) => ctx.bulk(&cursor.encode()),
        Err(e) => ctx.error(errors::scan_error(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::atoll;

    fn check(input: &str, expected: i64) {
        assert_eq!(atoll(input.as_bytes()), expected, "atoll({input:?})");
    }

    #[test]
    fn atoll_like_c() {
        check("1000", 1000);
        check("  42abc", 42);
        check("-7", -7);
        check("+9", 9);
        check("abc", 0);
        check("", 0);
        check("99999999999999999999999", i64::MAX);
    }
}
