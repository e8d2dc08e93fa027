//! What an object gives the indexes (spec §9.6): one column value per marked field, in the
//! column type [`crate::schema::IndexColumn`] names, and the texts of full-text fields.
//!
//! Embedded objects are flattened: field `city**` of `address = (O) !x.address.1` is column
//! `address__city`, at any depth. Lists give no column: one column holds one value.

use std::collections::BTreeMap;

use super::{Schemas, MAX_DEPTH};
use crate::schema::{
    Amount, Field, FieldType, IndexColumn, IndexKind, Numeric, NumericScale, Schema, Value,
};

/// One index column value.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// Text types and enums (by value name).
    Text(String),
    /// Integers, ports, dates, times.
    Integer(i64),
    /// Floats, percentages and numerics.
    Real(f64),
    /// Booleans.
    Boolean(bool),
}

/// The secondary-index columns and the full-text columns of an object, in one walk.
pub(super) fn columns(
    schemas: &mut Schemas<'_>,
    schema: &Schema,
    fields: &BTreeMap<u16, Value>,
) -> super::IndexColumns {
    let (mut values, mut text) = (Vec::new(), Vec::new());
    walk(
        schemas,
        schema,
        fields,
        "",
        0,
        &mut |column, field, value| {
            if field.index() != IndexKind::None {
                if let Some(v) = index_value(field.kind(), value) {
                    values.push((column.to_owned(), v));
                }
            }
            if let (IndexKind::FullText, Value::Str(body)) = (field.index(), value) {
                text.push((column.to_owned(), body.clone()));
            }
        },
    );
    (values, text)
}

/// Calls `visit(column, field, value)` for every present non-object field, in schema order,
/// descending into embedded objects whose schema resolves.
fn walk(
    schemas: &mut Schemas<'_>,
    schema: &Schema,
    fields: &BTreeMap<u16, Value>,
    prefix: &str,
    depth: usize,
    visit: &mut dyn FnMut(&str, &Field, &Value),
) {
    for field in schema.fields() {
        let Some(value) = fields.get(&field.nr()) else {
            continue;
        };
        match (field.kind(), value) {
            (FieldType::Object(url), Value::Object(inner)) => {
                if depth >= MAX_DEPTH {
                    continue;
                }
                if let Some(sub) = schemas.get(url) {
                    let prefix = format!("{prefix}{}__", field.name());
                    walk(schemas, &sub, inner, &prefix, depth + 1, visit);
                }
            }
            // top-level columns are the field names themselves: no string built per field
            _ if prefix.is_empty() => visit(field.name(), field, value),
            _ => visit(&format!("{prefix}{}", field.name()), field, value),
        }
    }
}

fn index_value(kind: &FieldType, value: &Value) -> Option<IndexValue> {
    Some(match (kind.index_column()?, value) {
        (IndexColumn::Text, Value::Str(t)) => IndexValue::Text(t.clone()),
        (IndexColumn::Text, Value::Enum(i)) => {
            IndexValue::Text(kind.enum_values()?.get(usize::from(*i))?.clone())
        }
        (IndexColumn::Integer, Value::Int(n)) => IndexValue::Integer(*n),
        (IndexColumn::Real, Value::Float(f)) => IndexValue::Real(*f),
        (IndexColumn::Real, Value::Numeric(n)) => IndexValue::Real(numeric_real(n)),
        (IndexColumn::Boolean, Value::Bool(b)) => IndexValue::Boolean(*b),
        _ => return None,
    })
}

/// The amount times its scale, in its own currency.
fn numeric_real(n: &Numeric) -> f64 {
    #[allow(clippy::cast_precision_loss)] // an index key, ordered, not an exact amount
    let amount = match n.amount {
        Amount::Int(i) => i as f64,
        Amount::Float(f) => f,
    };
    let scaled = match n.scale {
        NumericScale::One => amount,
        NumericScale::Thousand => amount * 1e3,
        NumericScale::Million => amount * 1e6,
        NumericScale::Percent => amount / 100.0,
    };
    // 1e308k overflows: keep the column finite and ordered.
    scaled.clamp(f64::MIN, f64::MAX) + 0.0
}
