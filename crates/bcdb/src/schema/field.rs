//! One field of a schema, and how a field line's raw parts become one (spec §1.3).
//!
//! Everything a field line can get wrong on its own is checked here: its name, marks, type
//! code, default, object url and index rules. What needs the other lines of the block
//! (numbering style, repeated numbers and names) is [`super::parse`]'s job.

use super::error::{SchemaErrorKind, WarningKind};
use super::line::{LineError, RawField};
use super::types::{self, Base, FieldType, IndexColumn, Scalar, Shape};
use super::value::{self, CoerceError, Value};

/// Which index a field feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKind {
    /// Not indexed.
    None,
    /// `**` (and the old `*`): a secondary index, usable in equality and range queries.
    Secondary,
    /// `***`: full-text search, plus the secondary index.
    FullText,
}

/// One field of a [`super::Schema`].
///
/// Fields are only made by the parser, so every one obeys §1.3: a valid, unreserved name, a
/// default of its own type, an indexable type when indexed, `unique` implying an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub(crate) nr: u16,
    pub(crate) name: String,
    pub(crate) index: IndexKind,
    pub(crate) unique: bool,
    pub(crate) default: Option<Value>,
    pub(crate) kind: FieldType,
    pub(crate) comment: Option<String>,
}

impl Field {
    /// The field number: the Cap'n Proto ordinal, stable across schema versions.
    pub fn nr(&self) -> u16 {
        self.nr
    }

    /// The name, in the case it was written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The index the field feeds; at least [`IndexKind::Secondary`] when unique.
    pub fn index(&self) -> IndexKind {
        self.index
    }

    /// Whether two objects may not share a value: `&name`, or a field called `name`.
    pub fn is_unique(&self) -> bool {
        self.unique
    }

    /// The default, already of the field's type; `None` when the type's own default applies
    /// (an empty string, zero, an empty list, …). Enums always have index 0.
    pub fn default(&self) -> Option<&Value> {
        self.default.as_ref()
    }

    /// The type, with its enum values or object url.
    pub fn kind(&self) -> &FieldType {
        &self.kind
    }

    /// The trailing comment, trimmed.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }
}

/// A field and the warnings it raised (byte offset, kind).
pub(crate) type Built = (Field, Vec<(usize, WarningKind)>);

/// Builds field `nr` from its raw parts; errors carry the byte offset in the line.
pub(crate) fn build_field(raw: &RawField<'_>, nr: u16) -> Result<Built, LineError> {
    let name = raw.name.text;
    let at_name = |kind| (raw.name.at, kind);
    if !is_name(name) {
        return Err(at_name(SchemaErrorKind::BadName { name: name.into() }));
    }
    if name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("schema") {
        return Err(at_name(SchemaErrorKind::ReservedName { name: name.into() }));
    }
    let mut warnings = Vec::new();
    if name.contains("__") {
        warnings.push((
            raw.name.at,
            WarningKind::DoubleUnderscore { name: name.into() },
        ));
    }
    let mut index = match raw.marks.text.len() {
        0 => IndexKind::None,
        1 => {
            warnings.push((
                raw.marks.at,
                WarningKind::KeyIndexMark { name: name.into() },
            ));
            IndexKind::Secondary
        }
        2 => IndexKind::Secondary,
        3 => IndexKind::FullText,
        _ => {
            let marks = raw.marks.text.into();
            return Err((raw.marks.at, SchemaErrorKind::BadMarks { marks }));
        }
    };
    let kind = field_type(raw)?;
    let default = default_value(raw, &kind)?;
    let unique = raw.unique || name == "name";
    if unique {
        index = index.max(IndexKind::Secondary);
    }
    if index != IndexKind::None {
        let code = kind.code();
        match kind.index_column() {
            None => {
                let name = name.into();
                return Err(at_name(SchemaErrorKind::NotIndexable { name, code }));
            }
            Some(column) => {
                let text = column == IndexColumn::Text && !matches!(kind, FieldType::Enum(_));
                if index == IndexKind::FullText && !text {
                    let name = name.into();
                    return Err(at_name(SchemaErrorKind::FullTextNeedsText { name, code }));
                }
            }
        }
    }
    let field = Field {
        nr,
        name: name.into(),
        index,
        unique,
        default,
        kind,
        comment: raw.comment.map(str::to_owned),
    };
    Ok((field, warnings))
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn field_type(raw: &RawField<'_>) -> Result<FieldType, LineError> {
    let shape = match raw.code {
        Some(code) => types::resolve(code.text).map_err(|kind| (code.at, kind))?,
        None => infer(raw)?,
    };
    let code_at = raw.code.map_or(raw.name.at, |c| c.at);
    let base = |b: Base| -> Result<FieldType, LineError> {
        Ok(match b {
            Base::Scalar(s) => FieldType::Scalar(s),
            Base::Enum => FieldType::Enum(enum_values(raw, code_at)?),
            Base::Object => {
                let Some(url) = raw.url else {
                    let code = shape_code(shape);
                    return Err((code_at, SchemaErrorKind::MissingObjectUrl { code }));
                };
                let normal = super::parse::normalise_url(url.text).map_err(|k| (url.at + 1, k))?;
                FieldType::Object(normal)
            }
        })
    };
    let kind = match shape {
        Shape::One(b) => base(b)?,
        Shape::List(None) => FieldType::List(None),
        Shape::List(Some(b)) => FieldType::List(Some(Box::new(base(b)?))),
    };
    if let Some(url) = raw.url.filter(|_| shape.base() != Some(Base::Object)) {
        let (at, url, code) = (url.at, url.text.into(), kind.code());
        return Err((at, SchemaErrorKind::UrlOnNonObject { url, code }));
    }
    Ok(kind)
}

fn shape_code(shape: Shape) -> String {
    match shape {
        Shape::List(_) => "LO".into(),
        Shape::One(_) => "O".into(),
    }
}

/// §1.3, type inference without `(TYPE)`, in the spec's order.
fn infer(raw: &RawField<'_>) -> Result<Shape, LineError> {
    let scalar = |s| Ok(Shape::One(Base::Scalar(s)));
    let Some(default) = raw.default else {
        return scalar(Scalar::String);
    };
    let literal = default.raw.text;
    let lower = literal.to_ascii_lowercase();
    if literal.contains("\\n") {
        scalar(Scalar::Multiline)
    } else if literal.contains(['"', '\'']) || default.text.is_empty() {
        scalar(Scalar::String)
    } else if literal.contains('.') {
        scalar(Scalar::Float)
    } else if lower.contains("true") || lower.contains("false") {
        scalar(Scalar::Bool)
    } else if literal.contains("[]") {
        Ok(Shape::List(Some(Base::Scalar(Scalar::String))))
    } else if literal.bytes().all(|b| b.is_ascii_digit()) {
        scalar(Scalar::Int)
    } else {
        let literal = literal.into();
        Err((default.raw.at, SchemaErrorKind::CannotInfer { literal }))
    }
}

/// The values of `E` / `LE`: the default slot, split like a list, upper-cased.
fn enum_values(raw: &RawField<'_>, code_at: usize) -> Result<Vec<String>, LineError> {
    let (at, text) = raw.default.map_or((code_at, ""), |d| (d.raw.at, d.text));
    let bad = |reason: &str| {
        let text = raw.default.map_or("", |d| d.raw.text).into();
        let reason = reason.into();
        Err((at, SchemaErrorKind::BadEnum { text, reason }))
    };
    let mut values: Vec<String> = Vec::new();
    for item in value::split_list(text) {
        if values.len() == 256 {
            return bad("more than 256 values");
        }
        let item = item.to_ascii_uppercase();
        if item.is_empty() || !item.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return bad(&format!(
                "{item:?} is not a value name (letters, digits, _)"
            ));
        }
        if values.contains(&item) {
            return bad(&format!("{item} is listed twice"));
        }
        values.push(item);
    }
    if values.is_empty() {
        return bad("an enum lists its values in the default slot, e.g. \"a,b\" (E)");
    }
    Ok(values)
}

fn default_value(raw: &RawField<'_>, kind: &FieldType) -> Result<Option<Value>, LineError> {
    if let FieldType::Enum(_) = kind {
        return Ok(Some(Value::Enum(0)));
    }
    if kind.enum_values().is_some() {
        return Ok(None);
    }
    let Some(default) = raw.default.filter(|d| !d.text.is_empty()) else {
        return Ok(None);
    };
    value::coerce(kind, default.text).map_err(|e| {
        let code = kind.code();
        let kind = match e {
            CoerceError::NotAllowed => SchemaErrorKind::DefaultNotAllowed { code },
            CoerceError::Bad(reason) => SchemaErrorKind::BadDefault {
                text: default.raw.text.into(),
                code,
                reason,
            },
        };
        (default.raw.at, kind)
    })
}
