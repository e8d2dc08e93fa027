//! Typed models: SCHEMA.SET/GET/LIST and OBJ.NEW/SET/GET/DEL/HISTORY in the session's
//! namespace (spec §9.7), and the JSON ⇄ object conversions the hash commands share.
//!
//! OBJ.NEW, OBJ.SET and OBJ.DEL take a trailing `SIG <key> <signature>`: the author's
//! signature over [`Entry::author_payload`] (object id 0 for a creation, the SHA-256 of the
//! object's canonical encoding as value hash; an empty value for a delete). Reads answer
//! only what the session may read: nil, as for a missing object, otherwise.
//!
//! JSON goes through [`Object::from_json`] against the latest version of the schema, so what
//! the ledger records is always the canonical encoding of a checked object; reads decode with
//! the schema version the entry names (its `schema_hash`), so an object reads as it was
//! written even after its schema evolved.

use bytes::Bytes;

use super::dispatch::{
    array, bulk, int, nil, object_id, ok, shown, signed, text, Ctx, Fail, Outcome,
};
use crate::db::Bcdb;
use crate::entry::{Author, Entry, Op};
use crate::object::Object;
use crate::schema::{self, Schema};
use crate::state::{ApplyError, Command, NamespaceState};

/// Resolves embedded objects' schemas by url: the latest version in `ns`.
fn latest_in(ns: Option<&NamespaceState>) -> impl Fn(&str) -> Option<Schema> + '_ {
    move |url| ns?.schemas.get(url)?.last().map(|(_, s)| s.clone())
}

/// JSON text → the canonical encoding of an object of schema `url` in `namespace`.
pub(crate) fn encode_json(
    db: &Bcdb,
    namespace: &[u8],
    url: &str,
    json: &[u8],
) -> Result<Vec<u8>, Fail> {
    let ns = db.state().namespace(namespace);
    let schema = ns
        .and_then(|ns| ns.schemas.get(url)?.last())
        .map(|(_, s)| s)
        .ok_or_else(|| Fail::err(ApplyError::NoSchema(url.to_string())))?;
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| Fail::err(format_args!("invalid JSON: {e}")))?;
    let object = Object::from_json(schema, &value, &latest_in(ns))
        .map_err(|e| Fail::err(format_args!("not an object of {url}: {e}")))?;
    Ok(object.encode())
}

/// What a stored value reads as: JSON for a typed object (decoded with the schema version
/// its entry names), the blob for a schema-less one.
pub(crate) fn value_json(db: &Bcdb, entry: &Entry, value: &[u8]) -> Result<Vec<u8>, Fail> {
    if entry.collection.is_empty() {
        let blob = crate::state::split_keyed(value).map_or(&[][..], |(_, b)| b);
        return Ok(blob.to_vec());
    }
    let ns = db.state().namespace(&entry.namespace);
    let url = String::from_utf8_lossy(&entry.collection);
    let schema = ns
        .and_then(|ns| ns.schemas.get(url.as_ref()))
        .and_then(|v| v.iter().rev().find(|(_, s)| s.hash() == entry.schema_hash))
        .map(|(_, s)| s)
        .ok_or_else(|| Fail::err(format_args!("schema version of {url} not found")))?;
    let object = Object::decode(value, schema, &latest_in(ns)).map_err(|e| {
        Fail::err(format_args!(
            "stored object {} of {url}: {e}",
            entry.object_id
        ))
    })?;
    serde_json::to_vec(&object.to_json(schema, &latest_in(ns)))
        .map_err(|e| Fail::err(format_args!("JSON view of object {}: {e}", entry.object_id)))
}

/// `SCHEMA.SET text` → `[[url, sha256 hex], …]` for every schema in the text. Schemas
/// identical to their registered version are not recorded again, so a client may register
/// its models on every start.
pub(crate) fn schema_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let source = text(&args[1], "schema text")?;
    let schemas = schema::parse(source).map_err(|e| Fail::err(format_args!("schema: {e}")))?;
    let changed: Vec<Schema> = schemas
        .iter()
        .filter(|s| {
            ctx.db
                .state()
                .schema(ctx.ns(), s.url())
                .is_none_or(|old| old.hash() != s.hash())
        })
        .cloned()
        .collect();
    if !changed.is_empty() {
        ctx.execute(&Command::SchemaPut {
            namespace: ctx.session.namespace.clone(),
            text: schema::to_text_all(&changed),
        })?;
    }
    Ok(array(
        schemas
            .iter()
            .map(|s| array(vec![bulk(s.url().to_string()), bulk(hex::encode(s.hash()))]))
            .collect(),
    ))
}

/// `SCHEMA.GET url [hash]` → the canonical text of the latest version (or the one with that
/// hash), nil when there is none.
pub(crate) fn schema_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() > 3 {
        return Err(super::dispatch::wrong_arity("SCHEMA.GET"));
    }
    let url = text(&args[1], "schema url")?;
    let versions = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .and_then(|ns| ns.schemas.get(url));
    let found = match args.get(2) {
        None => versions.and_then(|v| v.last()),
        Some(want) => versions.and_then(|v| {
            v.iter()
                .find(|(_, s)| hex::encode(s.hash()).as_bytes() == want.to_ascii_lowercase())
        }),
    };
    Ok(found.map_or_else(nil, |(_, s)| bulk(s.to_text())))
}

/// `SCHEMA.LIST` → the urls registered in the namespace.
pub(crate) fn schema_list(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    let urls = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .map(|ns| ns.schemas.keys().map(|u| bulk(u.clone())).collect())
        .unwrap_or_default();
    Ok(array(urls))
}

/// Records a new object (`id: None`) or version; returns its id.
pub(crate) fn put_json(
    ctx: &mut Ctx<'_>,
    namespace: Vec<u8>,
    url: &str,
    id: Option<u64>,
    json: &[u8],
    author: Option<Author>,
) -> Result<u64, Fail> {
    let value = encode_json(ctx.db, &namespace, url, json)?;
    let applied = ctx.execute(&Command::Put {
        namespace,
        collection: url.to_string(),
        id,
        value,
        author,
    })?;
    Ok(applied.first().map_or(0, |a| a.object_id))
}

/// `OBJ.NEW url json [SIG key signature]` → the new id.
pub(crate) fn obj_new(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (args, author) = signed(args)?;
    let [_, url, json] = args else {
        return Err(super::dispatch::wrong_arity("OBJ.NEW"));
    };
    let url = text(url, "schema url")?;
    let ns = ctx.session.namespace.clone();
    Ok(int(put_json(ctx, ns, url, None, json, author)?))
}

/// `OBJ.SET url id json [SIG key signature]`: a new version of an existing object.
pub(crate) fn obj_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (args, author) = signed(args)?;
    let [_, url, id, json] = args else {
        return Err(super::dispatch::wrong_arity("OBJ.SET"));
    };
    let url = text(url, "schema url")?;
    let id = object_id(id)?;
    let ns = ctx.session.namespace.clone();
    put_json(ctx, ns, url, Some(id), json, author)?;
    Ok(ok())
}

/// The object an `OBJ.GET/DEL/HISTORY` names: `id` or `url id`. With a url, an object of
/// another collection is an error rather than a silent answer about the wrong model.
pub(crate) fn target(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<u64, Fail> {
    let (url, id) = match args {
        [_, id] => (None, object_id(id)?),
        [_, url, id, ..] => (Some(text(url, "schema url")?), object_id(id)?),
        _ => return Err(Fail::err("syntax error")),
    };
    let held = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .and_then(|ns| ns.objects.get(&id));
    if let (Some(url), Some(object)) = (url, held) {
        // an object the session may not read answers as missing, not with its collection
        if object.collection != url && ctx.readable(ctx.ns(), id) {
            return Err(Fail::err(ApplyError::WrongCollection {
                id,
                actual: object.collection.clone(),
                asked: url.to_string(),
            }));
        }
    }
    Ok(id)
}

/// `OBJ.GET [url] id [JSON|BIN]` → the latest version as JSON (or its canonical bytes), nil
/// when it does not exist or was deleted.
pub(crate) fn obj_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() > 4 {
        return Err(super::dispatch::wrong_arity("OBJ.GET"));
    }
    let binary = match args.get(3) {
        None => false,
        Some(f) if f.eq_ignore_ascii_case(b"JSON") => false,
        Some(f) if f.eq_ignore_ascii_case(b"BIN") => true,
        Some(f) => {
            return Err(Fail::err(format_args!(
                "unknown format {:?} (JSON or BIN)",
                shown(f)
            )))
        }
    };
    let id = target(ctx, args)?;
    let ns = ctx.session.namespace.clone();
    if !ctx.readable(&ns, id) {
        return Ok(nil());
    }
    let Some((_, entry, value)) = ctx.db.get(&ns, id)? else {
        return Ok(nil());
    };
    if binary {
        return Ok(bulk(value));
    }
    Ok(bulk(value_json(ctx.db, &entry, &value)?))
}

/// `OBJ.DEL [url] id [SIG key signature]` → 1 when it was deleted, 0 when there was
/// nothing to delete.
pub(crate) fn obj_del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (args, author) = signed(args)?;
    if args.len() > 3 {
        return Err(super::dispatch::wrong_arity("OBJ.DEL"));
    }
    let id = target(ctx, args)?;
    // what the session may not read it cannot delete, and learns nothing about
    if !ctx.readable(ctx.ns(), id) {
        return Ok(int(0));
    }
    ctx.execute(&Command::Delete {
        namespace: ctx.session.namespace.clone(),
        id,
        author,
    })?;
    Ok(int(1))
}

/// `OBJ.HISTORY [url] id` → `[[seq, time_ms, op, value-or-nil], …]`, oldest first; the op
/// is `create`, `update` or `delete`.
pub(crate) fn obj_history(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() > 3 {
        return Err(super::dispatch::wrong_arity("OBJ.HISTORY"));
    }
    let id = target(ctx, args)?;
    let ns = ctx.session.namespace.clone();
    // a deleted object's history is read with the rights it had last
    if !ctx.is_owner() && !ctx.db.state().may_read(&ctx.session.caller, &ns, id) {
        return Ok(array(Vec::new()));
    }
    let mut items = Vec::new();
    for (entry, value) in ctx.db.history(&ns, id)? {
        let (op, view) = match entry.op {
            Op::Create => ("create", Some(value_json(ctx.db, &entry, &value)?)),
            Op::Put => ("update", Some(value_json(ctx.db, &entry, &value)?)),
            Op::Delete => ("delete", None),
            Op::SchemaPut | Op::AclPut => continue,
        };
        items.push(array(vec![
            int(entry.seq),
            int(entry.time_ms),
            bulk(op),
            view.map_or_else(nil, bulk),
        ]));
    }
    Ok(array(items))
}
