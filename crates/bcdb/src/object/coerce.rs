//! Reading the JSON view as values: the per-type rules of spec §1.4, in the JSON shapes a
//! client sends.
//!
//! Text forms go through the schema module's default coercion ([`coerce_scalar`]), so a
//! value is accepted in an object exactly when it would be accepted as a default, and is
//! stored in the same normal form. On top of that, JSON's own types are taken where they
//! mean the obvious thing: integers for integer types and epoch seconds, numbers for
//! floats and amounts, `true`/`false` (and 0/1) for booleans, an index for an enum, `[a, b]`
//! for a hash, objects for dicts and embedded objects. Text fields take JSON strings only
//! (a number is not silently turned into a phone number). An empty string is the type's own
//! empty value for every text type, as in the original system.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::check::int_range;
use super::{canonical_float, check_depth, ObjectError, Path, Resolve, Schemas};
use super::{MAX_DEPTH, MAX_LIST, MAX_OBJECT_BYTES, MAX_STRING};
use crate::schema::{coerce_scalar, Amount, CoerceError, FieldType, Numeric, NumericScale};
use crate::schema::{Scalar, Schema, Value};

/// One `from_json` call: the schemas seen so far and a running lower bound on the encoded
/// size, so an oversized input is refused before all of it is copied.
pub(super) struct Coerce<'a> {
    schemas: Schemas<'a>,
    used: usize,
}

impl<'a> Coerce<'a> {
    pub(super) fn new(resolve: Resolve<'a>) -> Self {
        Coerce {
            schemas: Schemas::new(resolve),
            used: 0,
        }
    }

    /// The values of a JSON object of `schema` at nesting `depth`, defaults applied.
    pub(super) fn object(
        &mut self,
        schema: &Schema,
        json: &Json,
        path: Path<'_>,
        depth: usize,
    ) -> Result<BTreeMap<u16, Value>, ObjectError> {
        let Json::Object(map) = json else {
            let got = show(json);
            return Err(match path {
                Path::Root => ObjectError::NotAnObject { got },
                _ => path.invalid(format!("{got} is not an object of {}", schema.url())),
            });
        };
        // The smallest unknown key, so the error is the same whatever the map's order.
        if let Some(unknown) = map.keys().filter(|k| schema.field(k).is_none()).min() {
            return Err(ObjectError::UnknownField {
                path: Path::Field(&path, unknown).render(),
                url: schema.url().to_owned(),
            });
        }
        let mut out = BTreeMap::new();
        for field in schema.fields() {
            let at = Path::Field(&path, field.name());
            let value = match map.get(field.name()) {
                None | Some(Json::Null) => match field.default() {
                    Some(default) => {
                        let mut value = default.clone();
                        super::check::normalise(&mut value);
                        self.charge(super::codec::value_len(&value))?;
                        value
                    }
                    None => continue,
                },
                Some(json) => self.value(field.kind(), json, at, depth)?,
            };
            out.insert(field.nr(), value);
        }
        Ok(out)
    }

    fn charge(&mut self, n: usize) -> Result<(), ObjectError> {
        self.used = self.used.saturating_add(n);
        if self.used > MAX_OBJECT_BYTES {
            return Err(ObjectError::TooLarge { size: self.used });
        }
        Ok(())
    }

    fn value(
        &mut self,
        ty: &FieldType,
        json: &Json,
        path: Path<'_>,
        depth: usize,
    ) -> Result<Value, ObjectError> {
        let value = match ty {
            FieldType::Scalar(s) => scalar(*s, json, path)?,
            FieldType::Enum(values) => enumeration(values, json, path)?,
            FieldType::Object(url) => {
                check_depth(depth + 1, path)?;
                let schema = self.schemas.need(url, path)?;
                let fields = self.object(&schema, json, path, depth + 1)?;
                self.charge(5)?;
                return Ok(Value::Object(fields));
            }
            FieldType::List(inner) => {
                let Json::Array(items) = json else {
                    return Err(path.invalid(format!("{} is not a list", show(json))));
                };
                if items.len() > MAX_LIST {
                    let n = items.len();
                    return Err(path.limit(format!("{n} items, more than {MAX_LIST}")));
                }
                self.charge(5)?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let at = Path::Item(&path, i);
                    out.push(match inner.as_deref() {
                        Some(ty) => self.value(ty, item, at, depth)?,
                        None => {
                            let v = untyped_item(item, at)?;
                            self.charge(super::codec::value_len(&v))?;
                            v
                        }
                    });
                }
                return Ok(Value::List(out));
            }
        };
        self.charge(super::codec::value_len(&value))?;
        Ok(value)
    }
}

/// A short, bounded rendering of a JSON value for error messages.
pub(super) fn show(json: &Json) -> String {
    const MAX: usize = 60;
    match json {
        Json::String(s) if s.chars().count() > MAX => {
            let head: String = s.chars().take(MAX).collect();
            format!("{}…", serde_json::Value::String(head))
        }
        Json::Array(items) if items.len() == 1 => "a list of 1 item".to_owned(),
        Json::Array(items) => format!("a list of {} items", items.len()),
        Json::Object(_) => "an object".to_owned(),
        other => other.to_string(),
    }
}

/// What a value of `s` is, for "… is not {noun}".
fn noun(s: Scalar) -> &'static str {
    if let Some((_, _, what)) = int_range(s) {
        return what;
    }
    match s {
        Scalar::String | Scalar::Multiline | Scalar::Path | Scalar::Yaml => "a string",
        Scalar::Float => "a number",
        Scalar::Percent => "a percentage",
        Scalar::Bool => "a boolean",
        Scalar::Numeric => "an amount",
        Scalar::Email => "an email address",
        Scalar::Tel => "a phone number",
        Scalar::IpAddr => "an IP address",
        Scalar::IpRange => "an IP range",
        Scalar::Guid => "a GUID",
        Scalar::Url => "a URL",
        Scalar::Json => "JSON text",
        Scalar::Dict => "a dict (a JSON object)",
        Scalar::Hash => "a hash pair a:b",
        _ => "hex-encoded bytes",
    }
}

fn scalar(s: Scalar, json: &Json, path: Path<'_>) -> Result<Value, ObjectError> {
    use Scalar as S;
    let bad = |why: Option<&str>| {
        let why = why.map_or(String::new(), |w| format!(": {w}"));
        path.invalid(format!("{} is not {}{why}", show(json), noun(s)))
    };
    // The schema's coercion of a text form, its reason kept.
    let coerce = |text: &str| match coerce_scalar(s, text) {
        Ok(v) => Ok(v),
        Err(CoerceError::Bad(why)) => Err(bad(Some(&why))),
        Err(CoerceError::NotAllowed) => Err(bad(None)),
    };
    if let Json::String(text) = json {
        if text.len() > MAX_STRING {
            let n = text.len();
            return Err(path.limit(format!("{n} bytes, more than {MAX_STRING}")));
        }
    }
    let value = match (s, json) {
        (S::String | S::Multiline | S::Path | S::Yaml, Json::String(t)) => Value::Str(t.clone()),
        (S::Email | S::Tel | S::IpAddr | S::IpRange | S::Guid | S::Url, Json::String(t)) => {
            if t.is_empty() {
                Value::Str(String::new())
            } else {
                coerce(t)?
            }
        }
        (S::Json, Json::String(t)) if t.is_empty() => Value::Str(String::new()),
        (S::Json, Json::String(t)) => coerce(t)?,
        (S::Json, other) if json_deeper_than(other, MAX_DEPTH) => return Err(too_deep(path)),
        (S::Json, other) => Value::Str(canonical_json(other)),
        (S::Dict, Json::String(t)) => match serde_json::from_str::<Json>(t) {
            Ok(inner @ Json::Object(_)) => dict(&inner, path)?,
            Ok(_) => return Err(bad(Some("the text is not a JSON object"))),
            Err(e) => return Err(bad(Some(&e.to_string()))),
        },
        (S::Dict, Json::Object(_)) => dict(json, path)?,
        (S::Bytes | S::Msgpack | S::CapnpBin, Json::String(t)) => {
            Value::Bytes(hex::decode(t).map_err(|e| bad(Some(&e.to_string())))?)
        }
        (s, Json::Number(n)) if int_range(s).is_some() => {
            let (min, max, _) = int_range(s).unwrap_or((0, 0, ""));
            match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Value::Int(i),
                Some(_) => return Err(bad(Some(&format!("outside {min}..={max}")))),
                None if n.is_u64() => return Err(bad(Some(&format!("outside {min}..={max}")))),
                None => return Err(bad(Some("not an integer"))),
            }
        }
        (S::Float | S::Percent, Json::Number(n)) => Value::Float(finite(n.as_f64(), bad)?),
        (S::Bool, Json::Bool(b)) => Value::Bool(*b),
        (S::Bool, Json::Number(n)) => match n.as_u64() {
            Some(0) => Value::Bool(false),
            Some(1) => Value::Bool(true),
            _ => return Err(bad(Some("only 0 and 1 are booleans"))),
        },
        (S::Numeric, Json::Number(n)) => {
            let amount = match n.as_i64() {
                Some(i) => Amount::Int(i),
                None => Amount::Float(finite(n.as_f64(), bad)?),
            };
            Value::Numeric(Numeric {
                amount,
                scale: NumericScale::One,
                currency: None,
            })
        }
        (S::Hash, Json::Array(pair)) => {
            let half = |j: &Json| j.as_u64().and_then(|n| u32::try_from(n).ok());
            match pair.as_slice() {
                [a, b] => match (half(a), half(b)) {
                    (Some(a), Some(b)) => Value::Hash(a, b),
                    _ => return Err(bad(Some("expected two 32-bit unsigned integers"))),
                },
                _ => return Err(bad(Some("expected [a, b]"))),
            }
        }
        // The text forms of the integer, date, float, bool, numeric and hash types: what a
        // default may say, read by the schema's coercion (text types were handled above).
        (_, Json::String(t)) => coerce(t)?,
        _ => return Err(bad(None)),
    };
    Ok(canonical_value(value))
}

fn finite(f: Option<f64>, bad: impl Fn(Option<&str>) -> ObjectError) -> Result<f64, ObjectError> {
    f.and_then(canonical_float)
        .ok_or_else(|| bad(Some("not a finite number")))
}

fn canonical_value(mut value: Value) -> Value {
    super::check::normalise(&mut value);
    value
}

fn too_deep(path: Path<'_>) -> ObjectError {
    path.limit(format!("JSON nested more than {MAX_DEPTH} deep"))
}

fn dict(json: &Json, path: Path<'_>) -> Result<Value, ObjectError> {
    if json_deeper_than(json, MAX_DEPTH) {
        return Err(too_deep(path));
    }
    Ok(Value::Str(canonical_json(json)))
}

/// An enum value by name (any case, spaces around ignored) or by index.
fn enumeration(values: &[String], json: &Json, path: Path<'_>) -> Result<Value, ObjectError> {
    let index = match json {
        Json::String(name) => {
            let name = name.trim().to_ascii_uppercase();
            values.iter().position(|v| *v == name)
        }
        Json::Number(n) => n.as_u64().and_then(|i| usize::try_from(i).ok()),
        _ => None,
    };
    match index.filter(|i| *i < values.len()).map(u8::try_from) {
        Some(Ok(i)) => Ok(Value::Enum(i)),
        _ => {
            let shown: Vec<&str> = values.iter().take(10).map(String::as_str).collect();
            let more = if values.len() > 10 { ", …" } else { "" };
            let n = values.len();
            Err(path.invalid(format!(
                "{} is not one of {}{more} (or an index below {n})",
                show(json),
                shown.join(", ")
            )))
        }
    }
}

/// An item of an untyped list: a string, integer, float or boolean.
fn untyped_item(json: &Json, path: Path<'_>) -> Result<Value, ObjectError> {
    let bad = || path.invalid(format!("{} is not a string, number or boolean", show(json)));
    Ok(match json {
        Json::String(t) if t.len() > MAX_STRING => {
            let n = t.len();
            return Err(path.limit(format!("{n} bytes, more than {MAX_STRING}")));
        }
        Json::String(t) => Value::Str(t.clone()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().and_then(canonical_float).ok_or_else(bad)?),
        },
        _ => return Err(bad()),
    })
}

/// Whether `json` nests arrays/objects more than `limit` levels (a scalar is level 0); stops
/// descending at the limit, so it is safe on any input.
pub(super) fn json_deeper_than(json: &Json, limit: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Json>> = match json {
        Json::Array(items) => Box::new(items.iter()),
        Json::Object(map) => Box::new(map.values()),
        _ => return false,
    };
    if limit == 0 {
        return true;
    }
    children.into_iter().any(|c| json_deeper_than(c, limit - 1))
}

/// JSON text with object keys sorted and no spaces: one text per JSON value, whatever order
/// the map kept (serde_json's `preserve_order` feature would change `to_string`'s).
pub(super) fn canonical_json(json: &Json) -> String {
    let mut out = String::new();
    write_json(json, &mut out);
    out
}

fn write_json(json: &Json, out: &mut String) {
    match json {
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(key.clone()).to_string());
                out.push(':');
                write_json(value, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
