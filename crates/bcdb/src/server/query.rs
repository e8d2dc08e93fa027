//! Queries over the index: OBJ.FIND, OBJ.COUNT and OBJ.SEARCH in the session's namespace.
//!
//! ```text
//! OBJ.FIND  url field op value [field op value …] [AFTER id] [LIMIT n]   → ids, ascending
//! OBJ.COUNT url field op value [field op value …]                        → integer
//! OBJ.SEARCH url query [LIMIT n]                                         → ids, best first
//! ```
//! `op` is `=`, `>=`, `<=` or `PREFIX`; a value is read as the field's index
//! column type (integer, real, boolean or text), so `nodes >= 9` compares
//! numbers. Nested fields are named `parent__child`, as the index stores them.
//!
//! A session that is not the instance owner sees only the objects it may read: FIND pages
//! through the index until it has `LIMIT` of them, COUNT counts them one page at a time.

use bytes::Bytes;

use super::dispatch::{array, int, number, shown, text, Ctx, Fail, Outcome};
use crate::index::{Cond, MAX_LIMIT};
use crate::object::IndexValue;
use crate::schema::{FieldType, IndexColumn, IndexKind, Schema};
use crate::state::NamespaceState;

/// Default page size of OBJ.FIND and OBJ.SEARCH.
const DEFAULT_LIMIT: usize = 100;

/// The index column type of (possibly flattened) field `name` of `schema`.
fn column(ns: &NamespaceState, schema: &Schema, name: &str) -> Option<IndexColumn> {
    let (head, rest) = match name.split_once("__") {
        Some((head, rest)) => (head, Some(rest)),
        None => (name, None),
    };
    let field = schema.field(head)?;
    match (rest, field.kind()) {
        // only fields marked `*`, `**`, `***` or `&` have index rows
        (None, _) if field.index() == IndexKind::None => None,
        (None, kind) => kind.index_column(),
        (Some(rest), FieldType::Object(url)) => {
            let nested = ns.schemas.get(url.as_str())?.last().map(|(_, s)| s)?;
            column(ns, nested, rest)
        }
        _ => None,
    }
}

fn value(col: IndexColumn, raw: &[u8], field: &str) -> Result<IndexValue, Fail> {
    let s = text(raw, "value")?;
    let bad = |what: &str| {
        Fail::err(format_args!(
            "field {field:?} holds {what}, not {:?}",
            shown(raw)
        ))
    };
    Ok(match col {
        IndexColumn::Text => IndexValue::Text(s.to_string()),
        IndexColumn::Integer => IndexValue::Integer(s.parse().map_err(|_| bad("integers"))?),
        IndexColumn::Real => IndexValue::Real(s.parse().map_err(|_| bad("numbers"))?),
        IndexColumn::Boolean => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => IndexValue::Boolean(true),
            "false" | "0" | "no" => IndexValue::Boolean(false),
            _ => return Err(bad("booleans")),
        },
    })
}

/// Parses `field op value` triples and the AFTER/LIMIT options.
fn conditions(ctx: &Ctx<'_>, url: &str, args: &[Bytes]) -> Result<(Vec<Cond>, u64, usize), Fail> {
    let ns = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .ok_or_else(|| Fail::err(format_args!("no schema {url} in this namespace")))?;
    let schema = ns
        .schemas
        .get(url)
        .and_then(|v| v.last())
        .map(|(_, s)| s)
        .ok_or_else(|| Fail::err(format_args!("no schema {url} in this namespace")))?;
    let (mut conds, mut after, mut limit) = (Vec::new(), 0, DEFAULT_LIMIT);
    let mut rest = args;
    while let Some(first) = rest.first() {
        if first.eq_ignore_ascii_case(b"AFTER") || first.eq_ignore_ascii_case(b"LIMIT") {
            let n = number(rest.get(1).ok_or_else(|| Fail::err("syntax error"))?)?;
            if first.eq_ignore_ascii_case(b"AFTER") {
                after = n;
            } else {
                limit = usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
            }
            rest = &rest[2..];
            continue;
        }
        let [field, op, raw, ..] = rest else {
            return Err(Fail::err(
                "conditions are `field op value` (op: = >= <= PREFIX)",
            ));
        };
        let field = text(field, "field")?.to_string();
        let col = column(ns, schema, &field)
            .filter(|_| {
                schema
                    .field(field.split("__").next().unwrap_or(""))
                    .is_some()
            })
            .ok_or_else(|| Fail::err(format_args!("{field:?} is not an indexed field of {url}")))?;
        let cond = match &op[..] {
            b"=" => Cond::Eq(field.clone(), value(col, raw, &field)?),
            b">=" => Cond::Range(field.clone(), Some(value(col, raw, &field)?), None),
            b"<=" => Cond::Range(field.clone(), None, Some(value(col, raw, &field)?)),
            o if o.eq_ignore_ascii_case(b"PREFIX") => {
                Cond::Prefix(field.clone(), text(raw, "prefix")?.to_string())
            }
            o => {
                return Err(Fail::err(format_args!(
                    "unknown operator {:?} (= >= <= PREFIX)",
                    shown(o)
                )))
            }
        };
        conds.push(cond);
        rest = &rest[3..];
    }
    if conds.is_empty() {
        return Err(Fail::err("give at least one condition"));
    }
    Ok((conds, after, limit))
}

/// Up to `limit` ids above `after` matching `conds` that the session may read, and whether
/// the index has no more matches after them.
fn readable_ids(
    ctx: &Ctx<'_>,
    url: &str,
    conds: &[Cond],
    mut after: u64,
    limit: usize,
) -> Result<(Vec<u64>, bool), Fail> {
    if ctx.is_owner() {
        let ids = ctx.db.find(ctx.ns(), url, conds, after, limit)?;
        let done = ids.len() < limit;
        return Ok((ids, done));
    }
    let mut out = Vec::new();
    loop {
        let page = ctx.db.find(ctx.ns(), url, conds, after, MAX_LIMIT)?;
        let done = page.len() < MAX_LIMIT;
        for id in page {
            after = id;
            if ctx.readable(ctx.ns(), id) {
                out.push(id);
                if out.len() == limit {
                    return Ok((out, false));
                }
            }
        }
        if done {
            return Ok((out, true));
        }
    }
}

/// `OBJ.FIND url field op value … [AFTER id] [LIMIT n]`.
pub(crate) fn obj_find(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let url = text(&args[1], "schema url")?.to_string();
    let (conds, after, limit) = conditions(ctx, &url, &args[2..])?;
    let (ids, _) = readable_ids(ctx, &url, &conds, after, limit)?;
    Ok(array(ids.into_iter().map(int).collect()))
}

/// `OBJ.COUNT url field op value …`.
pub(crate) fn obj_count(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let url = text(&args[1], "schema url")?.to_string();
    let (conds, _, _) = conditions(ctx, &url, &args[2..])?;
    if ctx.is_owner() {
        return Ok(int(ctx.db.count(ctx.ns(), &url, &conds)?));
    }
    let (mut n, mut after) = (0, 0);
    loop {
        let (ids, done) = readable_ids(ctx, &url, &conds, after, MAX_LIMIT)?;
        n += ids.len();
        match ids.last() {
            Some(&last) if !done => after = last,
            _ => return Ok(int(n)),
        }
    }
}

/// `OBJ.SEARCH url query [LIMIT n]`.
pub(crate) fn obj_search(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let url = text(&args[1], "schema url")?.to_string();
    let query = text(&args[2], "query")?.to_string();
    let limit = match args.get(3..) {
        Some([word, n]) if word.eq_ignore_ascii_case(b"LIMIT") => usize::try_from(number(n)?)
            .unwrap_or(MAX_LIMIT)
            .min(MAX_LIMIT),
        Some([]) | None => DEFAULT_LIMIT,
        _ => return Err(Fail::err("syntax error")),
    };
    // ranked, so no cursor: a non-owner gets its readable share of the best MAX_LIMIT
    let asked = if ctx.is_owner() { limit } else { MAX_LIMIT };
    let ids = ctx.db.search(ctx.ns(), &url, &query, asked)?;
    let readable = ids.into_iter().filter(|&id| ctx.readable(ctx.ns(), id));
    Ok(array(readable.take(limit).map(int).collect()))
}
