//! Namespace administration: NSNEW, NSDEL, NSLIST, NSINFO, NSSET, NSJUMP,
//! RELOAD, FLUSH.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use bytes::Bytes;

use super::dispatch::{Ctx, Flow};
use super::errors::{ARG_TOO_LONG, INVALID_ARGUMENT, NS_NOT_FOUND, NS_TOO_LONG, UNEXPECTED_ARGS};
use super::info;
use super::keys::atoll;
use crate::db::{CreateError, DeleteError, NsId, DEFAULT_NAMESPACE, MAX_NAMESPACE_NAME};
use crate::format::Mode;
use crate::namespace::LockState;

/// Longest NSSET property name and value.
const MAX_PROPERTY: usize = 256;
const MAX_VALUE: usize = 63;

/// Checks `CMD name` (exactly two non-empty arguments, name length).
fn name_arg<'a>(ctx: &mut Ctx<'_>, args: &'a [Bytes]) -> Result<&'a [u8], Flow> {
    if args.len() != 2 {
        return Err(ctx.error(UNEXPECTED_ARGS));
    }
    if args[1].is_empty() {
        return Err(ctx.error(INVALID_ARGUMENT));
    }
    if args[1].len() > MAX_NAMESPACE_NAME {
        return Err(ctx.error(NS_TOO_LONG));
    }
    Ok(&args[1])
}

fn find(ctx: &mut Ctx<'_>, name: &[u8]) -> Result<NsId, Flow> {
    ctx.db().find(name).ok_or_else(|| ctx.error(NS_NOT_FOUND))
}

pub(crate) fn nsnew(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    let name = handled!(name_arg(ctx, args));
    match ctx.db().create(name) {
        Ok(_) => ctx.ok(),
        Err(CreateError::NotAllowed) => ctx.error("This name is not allowed"),
        Err(CreateError::Exists) => ctx.error("This namespace is not available"),
        Err(CreateError::Open(e)) => {
            tracing::error!("failed to create namespace: {e}");
            ctx.error("Could not create namespace")
        }
    }
}

pub(crate) fn nsdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    let name = handled!(name_arg(ctx, args));
    if name == DEFAULT_NAMESPACE {
        return ctx.error("Cannot remove default namespace");
    }
    match ctx.db().find(name) {
        None => return ctx.error("This namespace doesn't exists"),
        Some(id) if id == ctx.session.ns => {
            return ctx.error("Cannot remove namespace you're currently using.")
        }
        Some(_) => {}
    }
    match ctx.db().delete(name) {
        Ok(()) => ctx.ok(),
        Err(DeleteError::Io(e)) => {
            tracing::error!("failed to delete namespace: {e}");
            ctx.error("Could not delete this namespace")
        }
        Err(DeleteError::Default | DeleteError::NotFound) => {
            ctx.error("This namespace doesn't exists")
        }
    }
}

pub(crate) fn nslist(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let names: Vec<Vec<u8>> = ctx.db().namespaces().map(|ns| ns.name().to_vec()).collect();
    resp::reply::array_header(ctx.out, names.len());
    for name in names {
        resp::reply::bulk(ctx.out, &name);
    }
    Flow::Continue
}

pub(crate) fn nsinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let name = handled!(name_arg(ctx, args));
    let id = handled!(find(ctx, name));
    let admin = ctx.session.admin;
    let text = info::nsinfo(ctx.db().get(id).expect("just found"), admin);
    ctx.bulk(text.as_bytes())
}

/// First byte `1` means on, anything else off (0-db's rule: `yes` is off).
fn flag(value: &[u8]) -> bool {
    value.first() == Some(&b'1')
}

pub(crate) fn nsset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    if args.len() != 4 {
        return ctx.error(UNEXPECTED_ARGS);
    }
    if args[1..].iter().any(|a| a.is_empty()) {
        return ctx.error(INVALID_ARGUMENT);
    }
    let (name, property, value) = (&args[1], &args[2], &args[3]);
    if name.len() > MAX_NAMESPACE_NAME {
        return ctx.error(NS_TOO_LONG);
    }
    if property.len() > MAX_PROPERTY || value.len() > MAX_VALUE {
        return ctx.error(ARG_TOO_LONG);
    }
    let id = handled!(find(ctx, name));
    let forced_mode = ctx.db().config().mode;
    let ns = ctx.state.db.get(id).expect("just found");
    let runtime = matches!(property.as_ref(), b"mode" | b"lock" | b"freeze");
    let persistent = matches!(
        property.as_ref(),
        b"maxsize" | b"password" | b"public" | b"worm"
    );
    if !runtime && !persistent {
        return ctx.error("Invalid property");
    }
    if persistent && ns.name() == DEFAULT_NAMESPACE {
        return ctx.error("Cannot update default namespace");
    }
    let mut desc = ns.descriptor().clone();
    match property.as_ref() {
        b"mode" => {
            if forced_mode.is_some() {
                return ctx
                    .error("This server instance is configured to use a single runtime mode");
            }
            let mode = match value.as_ref() {
                b"user" => Mode::User,
                b"seq" => Mode::Seq,
                _ => return ctx.error("Invalid property value (expected: user, seq)"),
            };
            if !ns.is_fresh() {
                return ctx.error("Cannot change mode of used namespace");
            }
            if let Err(e) = ns.set_mode(mode) {
                tracing::error!("failed to change namespace mode: {e}");
                return ctx.error("Cannot write index right now");
            }
        }
        b"lock" => ns.set_lock_state(if flag(value) {
            LockState::Locked
        } else {
            LockState::Unlocked
        }),
        b"freeze" => ns.set_lock_state(if flag(value) {
            LockState::Frozen
        } else {
            LockState::Unlocked
        }),
        b"maxsize" => desc.maxsize = atoll(value).max(0) as u64,
        b"password" if value.as_ref() == b"*" => desc.password = None,
        b"password" => desc.password = Some(value.to_vec()),
        b"public" => desc.public = flag(value),
        b"worm" => desc.worm = flag(value),
        _ => unreachable!("property checked above"),
    }
    if persistent {
        if let Err(e) = ns.set_descriptor(desc) {
            tracing::error!("failed to write namespace descriptor: {e}");
            return ctx.error("Cannot write index right now");
        }
    }
    ctx.shared
        .hooks
        .spawn("namespace-updated", &[OsStr::from_bytes(name).into()]);
    ctx.ok()
}

pub(crate) fn nsjump(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    match ctx.ns().rotate() {
        Ok(()) => ctx.ok(),
        Err(e) => {
            tracing::error!("failed to rotate namespace files: {e}");
            ctx.error("Cannot write index right now")
        }
    }
}

pub(crate) fn reload(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    let name = handled!(name_arg(ctx, args));
    let id = handled!(find(ctx, name));
    if let Err(e) = ctx.db().get(id).expect("just found").flush() {
        tracing::error!("failed to flush namespace before reload: {e}");
    }
    match ctx.db().reload(id) {
        Ok(()) => {
            ctx.shared
                .hooks
                .spawn("namespace-reloaded", &[OsStr::from_bytes(name).into()]);
            ctx.ok()
        }
        Err(e) => {
            tracing::error!("failed to reload namespace: {e}");
            ctx.error("Internal Server Error")
        }
    }
}

/// FLUSH: erases the session's namespace, only when it is private and has a
/// password (a public namespace could be erased by anyone).
pub(crate) fn flush(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let desc = ctx.ns().descriptor().clone();
    if desc.public || desc.password.is_none() {
        return ctx.error("Flushing public namespace denied");
    }
    if !ctx.session.writable {
        return ctx.error(super::errors::READ_ONLY);
    }
    let id = ctx.session.ns;
    match ctx.db().flush_namespace(id) {
        Ok(()) => ctx.ok(),
        Err(e) => {
            tracing::error!("failed to flush namespace: {e}");
            ctx.error("Internal Server Error")
        }
    }
}
