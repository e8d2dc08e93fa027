//! The old BCDB Redis API (spec §3): a model is the hash `<namespace>:data:<schema url>`,
//! whose fields are object ids and whose values are the objects as JSON.
//!
//! `HSETNEW key [0] json` creates (the id comes back), `HSET key id json` writes a new
//! version, `HGET`/`HDEL`/`HLEN`/`HKEYS`/`HSCAN` read and delete. The namespace is the one in
//! the key, not the session's: the old server named its database there. Reads of a model
//! that does not exist answer like Redis does for a missing hash (nil, 0, empty); writes to a
//! schema that is not registered are refused.

use bytes::Bytes;

use super::dispatch::{array, bulk, int, nil, number, object_id, scan_options, Ctx, Fail, Outcome};
use super::glob::glob_match;
use super::typed::{put_json, value_json};
use crate::state::Command;

/// Most reply bytes one HSCAN page carries before it stops early (the cursor says where).
const MAX_PAGE_BYTES: usize = 16 << 20;
/// Separator between the namespace and the url in a hash key.
const DATA: &[u8] = b":data:";

/// Splits `<namespace>:data:<url>`. A url has no `:`, so the last `:data:` separates them and
/// a namespace may itself contain colons.
pub(crate) fn parse_hash_key(key: &[u8]) -> Result<(Vec<u8>, String), Fail> {
    let bad = || {
        Fail::err(format_args!(
            "hash key {:?} is not <namespace>:data:<schema url>",
            super::dispatch::shown(key)
        ))
    };
    let at = key
        .windows(DATA.len())
        .rposition(|w| w == DATA)
        .ok_or_else(bad)?;
    let (ns, url) = (&key[..at], &key[at + DATA.len()..]);
    if ns.is_empty() || ns.len() > crate::entry::MAX_NAMESPACE || url.is_empty() {
        return Err(bad());
    }
    let url = std::str::from_utf8(url).map_err(|_| bad())?;
    Ok((ns.to_vec(), url.to_string()))
}

/// The live object ids of model `url` in `namespace` the session may read, ascending.
fn ids(ctx: &Ctx<'_>, namespace: &[u8], url: &str) -> Vec<u64> {
    let owner = ctx.is_owner();
    ctx.db
        .state()
        .namespace(namespace)
        .map(|ns| {
            ns.objects
                .iter()
                .filter(|(_, o)| !o.deleted && o.collection == url)
                .map(|(&id, _)| id)
                .filter(|&id| owner || ctx.readable(namespace, id))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `id` is a live object of model `url` in `ns` the session may read.
fn holds(ctx: &Ctx<'_>, ns: &[u8], url: &str, id: u64) -> bool {
    ctx.db
        .state()
        .object(ns, id)
        .is_some_and(|o| o.collection == url)
        && ctx.readable(ns, id)
}

/// `HSET key id json` → 0 (no field was added: the object existed and got a new version).
pub(crate) fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() != 4 {
        return Err(Fail::err(
            "HSET takes one object: HSET <namespace>:data:<url> <id> <json> (HSETNEW creates)",
        ));
    }
    let (ns, url) = parse_hash_key(&args[1])?;
    let id = object_id(&args[2])?;
    put_json(ctx, ns, &url, Some(id), &args[3], None)?;
    Ok(int(0))
}

/// `HSETNEW key [0] json` → the new object's id.
pub(crate) fn hsetnew(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let json = match args {
        [_, _, json] => json,
        [_, _, zero, json] if zero.as_ref() == b"0" => json,
        [_, _, _, _] => return Err(Fail::err("HSETNEW takes id 0: the server assigns ids")),
        _ => return Err(super::dispatch::wrong_arity("HSETNEW")),
    };
    let (ns, url) = parse_hash_key(&args[1])?;
    Ok(int(put_json(ctx, ns, &url, None, json, None)?))
}

/// `HGET key id` → the object as JSON, nil when it is not a live object of the model.
pub(crate) fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (ns, url) = parse_hash_key(&args[1])?;
    let id = object_id(&args[2])?;
    if !holds(ctx, &ns, &url, id) {
        return Ok(nil());
    }
    let Some((_, entry, value)) = ctx.db.get(&ns, id)? else {
        return Ok(nil());
    };
    Ok(bulk(value_json(ctx.db, &entry, &value)?))
}

/// `HDEL key id [id …]` or `HDEL key *` (the whole model) → how many objects were deleted.
/// Every id is checked before anything is deleted, so a malformed one refuses the command.
pub(crate) fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (ns, url) = parse_hash_key(&args[1])?;
    let targets = if args[2..].iter().any(|a| a.as_ref() == b"*") {
        if args.len() != 3 {
            return Err(Fail::err(
                "HDEL key * deletes the whole model and takes no ids",
            ));
        }
        ids(ctx, &ns, &url)
    } else {
        let mut wanted = args[2..]
            .iter()
            .map(|a| object_id(a))
            .collect::<Result<Vec<_>, _>>()?;
        wanted.sort_unstable();
        wanted.dedup();
        wanted.retain(|&id| holds(ctx, &ns, &url, id));
        wanted
    };
    // all or nothing: a target the session may not delete refuses the command up front
    if let Some(id) = targets
        .iter()
        .find(|&&id| !ctx.db.state().may_delete(&ctx.session.caller, &ns, id))
    {
        return Err(Fail::err(format_args!(
            "permission denied: deleting object {id} needs d; nothing was deleted"
        )));
    }
    for &id in &targets {
        ctx.execute(&Command::Delete {
            namespace: ns.clone(),
            id,
            author: None,
        })?;
    }
    Ok(int(targets.len()))
}

pub(crate) fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (ns, url) = parse_hash_key(&args[1])?;
    Ok(int(ids(ctx, &ns, &url).len()))
}

pub(crate) fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (ns, url) = parse_hash_key(&args[1])?;
    let ids = ids(ctx, &ns, &url);
    Ok(array(ids.iter().map(|id| bulk(id.to_string())).collect()))
}

/// `HSCAN key cursor [MATCH p] [COUNT n]` → `[next cursor, [id, json, …]]`. The cursor is
/// the last object id looked at (ids only grow), so the walk is stable under writes.
pub(crate) fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (ns, url) = parse_hash_key(&args[1])?;
    let cursor = number(&args[2]).map_err(|_| Fail::err("invalid cursor"))?;
    let options = scan_options(&args[3..], false)?;
    let budget = options.count.saturating_mul(10).saturating_add(100);
    let mut page = Vec::new();
    let mut next = 0;
    let mut found = Vec::new();
    if let Some(state) = ctx.db.state().namespace(&ns) {
        let (mut n_seen, mut n_found) = (0, 0);
        for (&id, object) in state.objects.range(cursor.saturating_add(1)..) {
            if n_found >= options.count || n_seen >= budget {
                break;
            }
            n_seen += 1;
            next = id;
            if object.deleted || object.collection != url || !ctx.readable(&ns, id) {
                continue;
            }
            n_found += 1;
            let name = id.to_string();
            if options
                .pattern
                .as_ref()
                .is_none_or(|p| glob_match(p, name.as_bytes()))
            {
                found.push(id);
            }
        }
        if state
            .objects
            .range(next.saturating_add(1)..)
            .next()
            .is_none()
        {
            next = 0;
        }
    }
    let mut size = 0;
    for (i, &id) in found.iter().enumerate() {
        let Some((_, entry, value)) = ctx.db.get(&ns, id)? else {
            continue;
        };
        let json = value_json(ctx.db, &entry, &value)?;
        size += json.len();
        page.push(bulk(id.to_string()));
        page.push(bulk(json));
        if size > MAX_PAGE_BYTES && i + 1 < found.len() {
            next = id;
            break;
        }
    }
    Ok(array(vec![bulk(next.to_string()), array(page)]))
}

#[cfg(test)]
mod tests {
    use super::parse_hash_key;

    #[test]
    fn hash_keys() {
        let (ns, url) = parse_hash_key(b"mydb:data:acme.person.1").unwrap();
        assert_eq!(
            (ns.as_slice(), url.as_str()),
            (&b"mydb"[..], "acme.person.1")
        );
        let (ns, _) = parse_hash_key(b"a:data:b:data:acme.x").unwrap();
        assert_eq!(ns, b"a:data:b");
        for bad in [
            &b"mydb:acme.person.1"[..],
            b":data:x",
            b"mydb:data:",
            b"plain",
        ] {
            assert!(parse_hash_key(bad).is_err(), "{}", bad.escape_ascii());
        }
    }
}
