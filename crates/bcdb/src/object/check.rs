//! Whether values already built fit a schema: the rules [`super::coerce`] establishes, checked
//! again on values that did not come through it (decoded bytes, caller-built fields).
//!
//! The test is "would coercion have produced exactly this value": text types must be in the
//! normal form the coercion writes (so `A@B.CO ` or an upper-case GUID is refused here even
//! though JSON may say it that way), numbers in their type's range, floats finite and never
//! `-0.0`, dicts canonical JSON. One object therefore has one set of values, and so one
//! encoding.

use std::collections::BTreeMap;

use super::coerce::{canonical_json, json_deeper_than};
use super::{check_depth, Path, Schemas, MAX_DEPTH, MAX_LIST, MAX_STRING};
use crate::object::ObjectError;
use crate::schema::{coerce_scalar, Amount, FieldType, Numeric, Scalar, Schema, Value};

/// Replaces every `-0.0` in `value` (floats and float amounts) with `0.0`.
pub(super) fn normalise(value: &mut Value) {
    match value {
        Value::Float(f) if *f == 0.0 => *f = 0.0,
        Value::Numeric(Numeric {
            amount: Amount::Float(f),
            ..
        }) if *f == 0.0 => *f = 0.0,
        Value::List(items) => items.iter_mut().for_each(normalise),
        Value::Object(fields) => fields.values_mut().for_each(normalise),
        _ => {}
    }
}

/// Checks the values of an object of `schema` at nesting `depth`.
pub(super) fn object(
    schemas: &mut Schemas<'_>,
    schema: &Schema,
    fields: &BTreeMap<u16, Value>,
    path: Path<'_>,
    depth: usize,
) -> Result<(), ObjectError> {
    for (nr, value) in fields {
        let Some(field) = schema.field_by_nr(*nr) else {
            let name = format!("#{nr}");
            return Err(ObjectError::UnknownField {
                path: Path::Field(&path, &name).render(),
                url: schema.url().to_owned(),
            });
        };
        self::value(
            schemas,
            field.kind(),
            value,
            Path::Field(&path, field.name()),
            depth,
        )?;
    }
    Ok(())
}

fn value(
    schemas: &mut Schemas<'_>,
    ty: &FieldType,
    value: &Value,
    path: Path<'_>,
    depth: usize,
) -> Result<(), ObjectError> {
    match (ty, value) {
        (FieldType::Scalar(s), v) => scalar(*s, v, path),
        (FieldType::Enum(values), Value::Enum(i)) if usize::from(*i) < values.len() => Ok(()),
        (FieldType::Enum(values), Value::Enum(i)) => Err(path.invalid(format!(
            "enum index {i} is past the {} values",
            values.len()
        ))),
        (FieldType::Object(url), Value::Object(fields)) => {
            check_depth(depth + 1, path)?;
            let schema = schemas.need(url, path)?;
            object(schemas, &schema, fields, path, depth + 1)
        }
        (FieldType::List(inner), Value::List(items)) => {
            if items.len() > MAX_LIST {
                let n = items.len();
                return Err(path.limit(format!("{n} items, more than {MAX_LIST}")));
            }
            for (i, item) in items.iter().enumerate() {
                let at = Path::Item(&path, i);
                match inner.as_deref() {
                    Some(ty) => self::value(schemas, ty, item, at, depth)?,
                    None => untyped_item(item, at)?,
                }
            }
            Ok(())
        }
        (ty, v) => Err(mismatch(&ty.code(), v, path)),
    }
}

fn mismatch(code: &str, v: &Value, path: Path<'_>) -> ObjectError {
    path.invalid(format!("a {} value is not of type {code}", variant(v)))
}

fn variant(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "text",
        Value::Int(_) => "integer",
        Value::Float(_) => "float",
        Value::Bool(_) => "boolean",
        Value::Numeric(_) => "numeric",
        Value::Enum(_) => "enum",
        Value::Hash(_, _) => "hash",
        Value::List(_) => "list",
        Value::Bytes(_) => "bytes",
        Value::Object(_) => "object",
    }
}

/// An item of an untyped list: text, integer, float or boolean.
fn untyped_item(item: &Value, path: Path<'_>) -> Result<(), ObjectError> {
    match item {
        Value::Str(text) => text_len(text.len(), path),
        Value::Int(_) | Value::Bool(_) => Ok(()),
        Value::Float(f) => float(*f, path),
        v => Err(mismatch("L", v, path)),
    }
}

fn text_len(len: usize, path: Path<'_>) -> Result<(), ObjectError> {
    if len > MAX_STRING {
        return Err(path.limit(format!("{len} bytes, more than {MAX_STRING}")));
    }
    Ok(())
}

fn float(f: f64, path: Path<'_>) -> Result<(), ObjectError> {
    if !f.is_finite() {
        return Err(path.invalid(format!("{f} is not a finite number")));
    }
    if f == 0.0 && f.is_sign_negative() {
        return Err(path.invalid("-0.0 is stored as 0.0".to_owned()));
    }
    Ok(())
}

/// The integer range of a type stored as [`Value::Int`], and how to say it.
pub(super) fn int_range(s: Scalar) -> Option<(i64, i64, &'static str)> {
    const U32: i64 = u32::MAX as i64;
    Some(match s {
        Scalar::Int => (i64::from(i32::MIN), i64::from(i32::MAX), "a 32-bit integer"),
        Scalar::Int64 => (i64::MIN, i64::MAX, "a 64-bit integer"),
        Scalar::IpPort => (0, 65_535, "a port number (0..=65535)"),
        Scalar::Date | Scalar::DateTime => (0, U32, "a time in 1970-01-01..2106-02-07"),
        Scalar::Duration => (0, U32, "a duration of 0..=4294967295 seconds"),
        _ => return None,
    })
}

fn scalar(s: Scalar, v: &Value, path: Path<'_>) -> Result<(), ObjectError> {
    use Scalar as S;
    match (s, v) {
        (S::String | S::Multiline | S::Path | S::Yaml, Value::Str(t)) => text_len(t.len(), path),
        (
            S::Email | S::Tel | S::IpAddr | S::IpRange | S::Guid | S::Url | S::Json,
            Value::Str(t),
        ) => {
            text_len(t.len(), path)?;
            if t.is_empty() || coerce_scalar(s, t).is_ok_and(|c| c == *v) {
                return Ok(());
            }
            Err(path.invalid(format!("{t:?} is not a normalised {}", s.code())))
        }
        (S::Dict, Value::Str(t)) => {
            text_len(t.len(), path)?;
            let canonical = match serde_json::from_str::<serde_json::Value>(t) {
                Ok(json) if json.is_object() && !json_deeper_than(&json, MAX_DEPTH) => {
                    canonical_json(&json)
                }
                _ => String::new(),
            };
            if canonical == *t {
                return Ok(());
            }
            Err(path.invalid("a dict is stored as canonical JSON of an object".to_owned()))
        }
        (S::Bytes | S::Msgpack | S::CapnpBin, Value::Bytes(b)) => text_len(b.len(), path),
        (s, Value::Int(n)) if int_range(s).is_some() => {
            let (min, max, what) = int_range(s).unwrap_or((0, 0, ""));
            if (min..=max).contains(n) {
                return Ok(());
            }
            Err(path.invalid(format!("{n} is not {what}")))
        }
        (S::Float | S::Percent, Value::Float(f)) => float(*f, path),
        (S::Bool, Value::Bool(_)) | (S::Hash, Value::Hash(_, _)) => Ok(()),
        (S::Numeric, Value::Numeric(n)) => numeric(n, path),
        (s, v) => Err(mismatch(&s.code(), v, path)),
    }
}

fn numeric(n: &Numeric, path: Path<'_>) -> Result<(), ObjectError> {
    if let Amount::Float(f) = n.amount {
        float(f, path)?;
    }
    match &n.currency {
        Some(c) if c.is_empty() || c.len() > 8 || !c.bytes().all(|b| b.is_ascii_uppercase()) => {
            Err(path.invalid(format!("currency {c:?} is not 1 to 8 letters A-Z")))
        }
        _ => Ok(()),
    }
}
