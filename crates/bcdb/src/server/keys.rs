//! The schema-less subset: GET, SET, DEL, EXISTS, MGET, SCAN, KEYS, TYPE, TTL/PTTL over the
//! session namespace's keys, each a [`Command::SetKey`]/[`Command::DelKey`] or a read of the
//! state. Every SET is a new ledger version of the key's object; nothing ever expires.

use bytes::Bytes;

use super::dispatch::{
    array, bulk, int, nil, number, ok, scan_options, status, Ctx, Fail, Outcome,
};
use super::glob::glob_match;
use super::hash::parse_hash_key;
use crate::state::Command;

/// Largest MGET reply: values are up to 8 MiB each, and a request can name 1023 keys.
const MAX_REPLY: usize = 256 << 20;

/// The value of `key` if it exists and the session may read it.
fn read_key(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, Fail> {
    let ns = ctx.session.namespace.clone();
    Ok(match ctx.db.get_key(&ns, key)? {
        Some((id, value)) if ctx.readable(&ns, id) => Some(value),
        _ => None,
    })
}

pub(crate) fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    Ok(read_key(ctx, &args[1])?.map_or_else(nil, bulk))
}

/// `SET key value`: the options of Redis's SET are about expiry and conditions, which a
/// ledger that keeps every version does not have; they are refused by name.
pub(crate) fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if let Some(option) = args.get(3) {
        let name = option.to_ascii_uppercase();
        let known = [
            &b"EX"[..],
            b"PX",
            b"EXAT",
            b"PXAT",
            b"KEEPTTL",
            b"NX",
            b"XX",
            b"GET",
        ];
        if known.contains(&name.as_slice()) {
            return Err(Fail::err(format_args!(
                "SET {} is not supported: BCDB values never expire and SET takes no options",
                String::from_utf8_lossy(&name)
            )));
        }
        return Err(Fail::err("syntax error"));
    }
    ctx.execute(&Command::SetKey {
        namespace: ctx.session.namespace.clone(),
        key: args[1].to_vec(),
        value: args[2].to_vec(),
        author: None,
    })?;
    Ok(ok())
}

/// Whether `key` exists; with `readable`, only if the session may also read it.
fn live(ctx: &Ctx<'_>, key: &[u8], readable: bool) -> bool {
    let id = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .and_then(|ns| ns.keys.get(key));
    id.is_some_and(|&id| !readable || ctx.readable(ctx.ns(), id))
}

/// Deletes the keys that exist; answers how many did.
pub(crate) fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    // all or nothing: a key the session may not delete refuses the command up front
    let ns = ctx.session.namespace.clone();
    let state = ctx.db.state();
    let ids = args[1..]
        .iter()
        .filter(|k| live(ctx, k, true))
        .filter_map(|k| state.namespace(&ns)?.keys.get(k.as_ref()).copied());
    for id in ids {
        if !state.may_delete(&ctx.session.caller, &ns, id) {
            return Err(Fail::err(format_args!(
                "permission denied: deleting object {id} needs d; nothing was deleted"
            )));
        }
    }
    let mut n = 0;
    for key in &args[1..] {
        if live(ctx, key, true) {
            ctx.execute(&Command::DelKey {
                namespace: ctx.session.namespace.clone(),
                key: key.to_vec(),
                author: None,
            })?;
            n += 1;
        }
    }
    Ok(int(n))
}

/// How many of the named keys exist (a key named twice counts twice, as in Redis).
pub(crate) fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    Ok(int(args[1..].iter().filter(|k| live(ctx, k, true)).count()))
}

pub(crate) fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let mut items = Vec::with_capacity(args.len() - 1);
    let mut size = 0;
    for key in &args[1..] {
        items.push(match read_key(ctx, key)? {
            Some(value) => {
                size += value.len();
                if size > MAX_REPLY {
                    return Err(Fail::err(
                        "MGET reply would exceed 256 MiB; ask for fewer keys",
                    ));
                }
                bulk(value)
            }
            None => nil(),
        });
    }
    Ok(array(items))
}

/// `SCAN cursor [MATCH p] [COUNT n] [TYPE t]`. The cursor is the object id of the last key
/// looked at: ids only grow and a key keeps its id while it lives, so every key present for
/// the whole iteration is returned exactly once, whatever is written in between.
pub(crate) fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let cursor = number(&args[1]).map_err(|_| Fail::err("invalid cursor"))?;
    let options = scan_options(&args[2..], true)?;
    let strings = options
        .kind
        .as_ref()
        .is_none_or(|k| k.eq_ignore_ascii_case(b"string"));
    let mut found = Vec::new();
    let mut next = 0;
    if let Some(ns) = ctx.db.state().namespace(ctx.ns()) {
        // tombstones and typed objects share the id space; bound the work on them too
        let budget = options.count.saturating_mul(10).saturating_add(100);
        let (mut n_keys, mut n_seen) = (0, 0);
        for (&id, object) in ns.objects.range(cursor.saturating_add(1)..) {
            if n_keys >= options.count || n_seen >= budget {
                break;
            }
            n_seen += 1;
            next = id;
            let Some(key) = object.key.as_ref().filter(|_| !object.deleted) else {
                continue;
            };
            n_keys += 1;
            let wanted = options.pattern.as_ref().is_none_or(|p| glob_match(p, key));
            if strings && wanted && ctx.readable(ctx.ns(), id) {
                found.push(bulk(key.clone()));
            }
        }
        if ns.objects.range(next.saturating_add(1)..).next().is_none() {
            next = 0;
        }
    }
    Ok(array(vec![bulk(next.to_string()), array(found)]))
}

/// Every key matching the pattern, in key order.
pub(crate) fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let found = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .map(|ns| {
            ns.keys
                .iter()
                .filter(|(k, &id)| glob_match(&args[1], k) && ctx.readable(ctx.ns(), id))
                .map(|(k, _)| bulk(k.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(array(found))
}

/// `string` for a key, `hash` for a `<namespace>:data:<url>` collection of a known schema.
fn kind(ctx: &Ctx<'_>, key: &[u8]) -> Option<&'static str> {
    if live(ctx, key, true) {
        return Some("string");
    }
    let (ns, url) = parse_hash_key(key).ok()?;
    ctx.db.state().schema(&ns, &url).map(|_| "hash")
}

pub(crate) fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    Ok(status(kind(ctx, &args[1]).unwrap_or("none")))
}

/// TTLs are not supported: an existing key never expires (-1), a missing one is -2, as Redis
/// answers for keys without expiry.
pub(crate) fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    Ok(int(if kind(ctx, &args[1]).is_some() {
        -1
    } else {
        -2
    }))
}
