//! The JSON view of an object (spec §1.6), in the forms [`super::coerce`] reads back as the
//! same values: enums by name, numerics and hashes as their text, bytes as hex, dicts as
//! JSON objects.
//!
//! The view never fails: a value that does not fit the schema given (an object shown with
//! another schema than its own) is written by what it is, under its field number when the
//! field is unknown, so nothing is hidden.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::Schemas;
use crate::schema::{literal, FieldType, Scalar, Schema, Value};

/// The JSON object of `fields`, named by `schema` when known.
pub(super) fn object_json(
    schemas: &mut Schemas<'_>,
    schema: Option<&Schema>,
    fields: &BTreeMap<u16, Value>,
) -> Json {
    let mut map = Map::new();
    for (nr, value) in fields {
        let field = schema.and_then(|s| s.field_by_nr(*nr));
        let key = field.map_or_else(|| nr.to_string(), |f| f.name().to_owned());
        map.insert(key, value_json(schemas, field.map(|f| f.kind()), value));
    }
    Json::Object(map)
}

fn value_json(schemas: &mut Schemas<'_>, ty: Option<&FieldType>, value: &Value) -> Json {
    match (ty, value) {
        (Some(FieldType::Scalar(Scalar::Dict)), Value::Str(t)) => {
            serde_json::from_str(t).unwrap_or_else(|_| Json::String(t.clone()))
        }
        (_, Value::Str(t)) => Json::String(t.clone()),
        (_, Value::Int(n)) => Json::from(*n),
        (_, Value::Float(f)) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        (_, Value::Bool(b)) => Json::Bool(*b),
        (_, v @ (Value::Numeric(_) | Value::Hash(_, _))) => Json::String(literal(None, v)),
        (Some(FieldType::Enum(values)), Value::Enum(i)) => match values.get(usize::from(*i)) {
            Some(name) => Json::String(name.clone()),
            None => Json::from(*i),
        },
        (_, Value::Enum(i)) => Json::from(*i),
        (_, Value::Bytes(b)) => Json::String(hex::encode(b)),
        (ty, Value::List(items)) => {
            let element = ty.and_then(FieldType::element);
            Json::Array(
                items
                    .iter()
                    .map(|item| value_json(schemas, element, item))
                    .collect(),
            )
        }
        (ty, Value::Object(fields)) => {
            let schema = ty
                .and_then(FieldType::object_url)
                .and_then(|u| schemas.get(u));
            object_json(schemas, schema.as_deref(), fields)
        }
    }
}
