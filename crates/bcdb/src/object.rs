//! Typed objects: the values of one record of a [`Schema`], checked against it, with a JSON
//! view, a canonical byte encoding, and the values the secondary and full-text indexes keep.
//!
//! An [`Object`] is only ever made from something checked against a schema
//! ([`Object::from_json`], [`Object::from_fields`], [`Object::decode`]), so every object
//! holds values of its fields' types, in their canonical form (normalised e-mail, phone,
//! address, GUID; finite floats, `-0.0` stored as `0.0`; dicts as sorted JSON), within the
//! bounds below. That is what makes [`Object::encode`] a function of the object alone.
//!
//! The submodules go one way each: `coerce` reads JSON as values (the per-type rules, shared
//! with schema defaults through the schema module's coercion); `check` says whether values
//! already built fit a schema (for bytes and for callers that build values themselves);
//! `view` writes the JSON view; `codec` the bytes; `index` the index columns.
//!
//! # JSON view (spec §1.6)
//!
//! `{field: value, …}` by field name, without the object id (the database assigns it; an `id`
//! key is refused like any unknown field). Enums are their value names, numerics strings like
//! `"10 USD"`, dates and durations epoch seconds / seconds, hashes `"a:b"`, bytes lower-case
//! hex, dicts JSON objects, `json` fields the JSON text as a string (so a string sent for a
//! `json` field must itself be JSON text; any other JSON value is kept as its canonical
//! text). Text types take JSON strings only; an empty string is their empty value, as in the
//! original system. Integers, dates, booleans, amounts also read the texts a schema default
//! may use (`"42"`, `"2020-02-29"`, `"yes"`, `"10 USD"`). `null` or a missing key
//! means the field is absent, and takes its default if the schema gives one. Relative times
//! (`+1h`, `m/d`) are refused: an object must mean the same on every replica that reads it.
//!
//! # Encoding (version 1)
//!
//! Byte-stable forever, like [`crate::entry`]: an object's bytes are hashed into the ledger
//! (`value_hash`), so the layout is spelled out here and pinned by a test vector.
//!
//! ```text
//! object  = u8 version (1) ‖ fields          and nothing after
//! fields  = u32 LE count ‖ count × (u16 LE nr ‖ value)
//!                                          numbers strictly ascending; absent fields omitted
//! value   = u8 tag ‖ payload
//!
//! tag  payload
//! 0x01 text     u32 LE len ‖ UTF-8         strings, e-mail, tel, ip, guid, url, json, dict…
//! 0x02 int      i64 LE                     int, i64, ipport, date, datetime, duration
//! 0x03 float    f64 LE                     float, percent; finite, never -0.0
//! 0x04 bool     u8 0 | 1
//! 0x05 numeric  u8 scale (0 none, 1 k, 2 m, 3 %) ‖ u8 amount (0 integer, 1 float)
//!               ‖ 8 bytes (i64 LE | f64 LE) ‖ u8 currency len (0 = none, 1..=8) ‖ A–Z
//! 0x06 enum     u8 index into the field's values
//! 0x07 hash     u32 LE ‖ u32 LE
//! 0x08 list     u32 LE count ‖ count × value
//! 0x09 bytes    u32 LE len ‖ bytes          bytes, msgpack, capnpbin
//! 0x0a object   fields                     an embedded object (no version byte)
//! ```
//!
//! Fixed-width integers rather than varints: there is exactly one way to write each number,
//! so canonicality needs no "minimal encoding" rule. Every part carries its own count or
//! length, so the bytes are self-delimiting and a cut anywhere is refused, not read as an
//! object with fewer fields. A dict is its canonical JSON text (keys sorted, no spaces), not
//! msgpack. Decoding is strict: it takes only the bytes `encode` would write for an object of
//! the schema (known tags, ascending numbers, every value of its field's type, nothing after
//! the end) and never panics.
//!
//! # Bounds
//!
//! Nested objects at most [`MAX_DEPTH`] deep (the JSON inside a dict too), lists at most
//! [`MAX_LIST`] items, strings and byte values at most [`MAX_STRING`] bytes, the whole
//! encoding at most [`MAX_OBJECT_BYTES`].

mod check;
mod codec;
mod coerce;
mod index;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::schema::{Schema, Value};

pub use index::IndexValue;

/// Version byte of the encoding.
pub const OBJECT_VERSION: u8 = 1;
/// Deepest nesting of embedded objects below the top one (and of JSON inside a dict).
pub const MAX_DEPTH: usize = 16;
/// Largest encoded object.
pub const MAX_OBJECT_BYTES: usize = 1 << 20;
/// Most items in one list.
pub const MAX_LIST: usize = 100_000;
/// Longest string or byte value.
pub const MAX_STRING: usize = 1 << 20;

/// Finds the schema an embedded object (`(O) !url`) follows, by url.
pub type Resolve<'a> = &'a dyn Fn(&str) -> Option<Schema>;

/// Why JSON, values or bytes are not an object of a schema. Paths name the field as
/// `owner.email`, `rooms[2].area`; `#7` stands for field number 7 when the schema has none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// A value is not one of its field's type.
    #[error("field {path:?}: {reason}")]
    Invalid {
        /// The field.
        path: String,
        /// What is wrong, quoting the value.
        reason: String,
    },
    /// A key (or field number) the schema does not have.
    #[error("field {path:?}: unknown field (schema {url} has no such field)")]
    UnknownField {
        /// The field.
        path: String,
        /// The schema that lacks it.
        url: String,
    },
    /// An embedded object's schema could not be resolved.
    #[error("field {path:?}: schema {url} is not known")]
    UnknownSchema {
        /// The field.
        path: String,
        /// The url asked for.
        url: String,
    },
    /// Past [`MAX_DEPTH`], [`MAX_LIST`] or [`MAX_STRING`].
    #[error("field {path:?}: {reason}")]
    Limit {
        /// The field.
        path: String,
        /// Which bound.
        reason: String,
    },
    /// The encoding would be longer than [`MAX_OBJECT_BYTES`].
    #[error("object is {size} bytes encoded, more than {MAX_OBJECT_BYTES}")]
    TooLarge {
        /// Encoded size (a lower bound when refused while reading JSON).
        size: usize,
    },
    /// The JSON is not an object at all.
    #[error("expected a JSON object, got {got}")]
    NotAnObject {
        /// What it is.
        got: String,
    },
    /// Bytes that are not the encoding of any object.
    #[error("object bytes, at byte {at}: {reason}")]
    Malformed {
        /// Offset of the offending byte.
        at: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The values of one record, by field number.
///
/// Invariant: the values fit the schema the object was made with (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object {
    fields: BTreeMap<u16, Value>,
}

impl Object {
    /// Reads the JSON view, checking and coercing each value by its field's type, applying
    /// defaults to absent fields; embedded objects are read with the schema `resolve` gives.
    pub fn from_json(
        schema: &Schema,
        json: &serde_json::Value,
        resolve: Resolve<'_>,
    ) -> Result<Object, ObjectError> {
        let mut coerce = coerce::Coerce::new(resolve);
        let fields = coerce.object(schema, json, Path::Root, 0)?;
        Object::bounded(fields)
    }

    /// Checks values built by the caller; `-0.0` becomes `0.0`. Defaults are not applied.
    pub fn from_fields(
        schema: &Schema,
        mut fields: BTreeMap<u16, Value>,
        resolve: Resolve<'_>,
    ) -> Result<Object, ObjectError> {
        fields.values_mut().for_each(check::normalise);
        check::object(&mut Schemas::new(resolve), schema, &fields, Path::Root, 0)?;
        Object::bounded(fields)
    }

    /// The object, if its encoding fits [`MAX_OBJECT_BYTES`] (measured, not built).
    fn bounded(fields: BTreeMap<u16, Value>) -> Result<Object, ObjectError> {
        let size = codec::encoded_len(&fields);
        if size > MAX_OBJECT_BYTES {
            return Err(ObjectError::TooLarge { size });
        }
        Ok(Object { fields })
    }

    /// The JSON view; [`Object::from_json`] reads it back as an equal object. A field the
    /// schema does not know is written under its number, so nothing is dropped.
    pub fn to_json(&self, schema: &Schema, resolve: Resolve<'_>) -> serde_json::Value {
        view::object_json(&mut Schemas::new(resolve), Some(schema), &self.fields)
    }

    /// The canonical encoding (layout in the module doc): equal objects, equal bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&self.fields)
    }

    /// Reads an encoding written by [`Object::encode`] for an object of `schema` (the
    /// version the ledger entry names); anything else is refused, never a panic.
    pub fn decode(
        bytes: &[u8],
        schema: &Schema,
        resolve: Resolve<'_>,
    ) -> Result<Object, ObjectError> {
        if bytes.len() > MAX_OBJECT_BYTES {
            return Err(ObjectError::TooLarge { size: bytes.len() });
        }
        let fields = codec::decode(bytes)?;
        check::object(&mut Schemas::new(resolve), schema, &fields, Path::Root, 0)?;
        let object = Object { fields };
        if object.encode() != bytes {
            // Every check above should make this unreachable; it guards the invariant that
            // one object has one encoding if a rule was missed.
            let reason = "not the canonical encoding of its values".to_owned();
            return Err(ObjectError::Malformed { at: 0, reason });
        }
        Ok(object)
    }

    /// The values by field number.
    pub fn fields(&self) -> &BTreeMap<u16, Value> {
        &self.fields
    }

    /// The values by field number, owned.
    pub fn into_fields(self) -> BTreeMap<u16, Value> {
        self.fields
    }

    /// The value of field `nr`, if present.
    pub fn get(&self, nr: u16) -> Option<&Value> {
        self.fields.get(&nr)
    }

    /// The value of the field called `name` in `schema`, if the field exists and is present.
    pub fn get_by_name(&self, schema: &Schema, name: &str) -> Option<&Value> {
        self.get(schema.field(name)?.nr())
    }

    /// The name of enum field `name`'s value (enums are stored as indices).
    pub fn enum_name<'s>(&self, schema: &'s Schema, name: &str) -> Option<&'s str> {
        let field = schema.field(name)?;
        match self.get(field.nr())? {
            Value::Enum(i) => field
                .kind()
                .enum_values()?
                .get(usize::from(*i))
                .map(|s| &**s),
            _ => None,
        }
    }

    /// The secondary-index columns: every present `**`, `***` or `&` field, and the marked
    /// fields of embedded objects as `parent__child` (§9.6), in schema order. Lists are not
    /// indexed. Numerics index their amount times their scale (`5k` → 5000.0, `5%` → 0.05) in
    /// their own currency: conversion to USD needs a rate table, which is the index's business.
    pub fn index_values(&self, schema: &Schema, resolve: Resolve<'_>) -> Vec<(String, IndexValue)> {
        self.index_columns(schema, resolve).0
    }

    /// The full-text columns: every present `***` field (flattened like
    /// [`Object::index_values`]) with its text.
    pub fn fulltext(&self, schema: &Schema, resolve: Resolve<'_>) -> Vec<(String, String)> {
        self.index_columns(schema, resolve).1
    }

    /// [`Object::index_values`] and [`Object::fulltext`] together, in one walk of the object.
    pub fn index_columns(&self, schema: &Schema, resolve: Resolve<'_>) -> IndexColumns {
        index::columns(&mut Schemas::new(resolve), schema, &self.fields)
    }
}

/// An object's secondary-index columns (name, value) and full-text columns (name, text).
pub type IndexColumns = (Vec<(String, IndexValue)>, Vec<(String, String)>);

/// The schemas of embedded objects, resolved once per url per call.
pub(crate) struct Schemas<'a> {
    resolve: Resolve<'a>,
    cache: HashMap<String, Option<Rc<Schema>>>,
}

impl<'a> Schemas<'a> {
    fn new(resolve: Resolve<'a>) -> Self {
        Schemas {
            resolve,
            cache: HashMap::new(),
        }
    }

    fn get(&mut self, url: &str) -> Option<Rc<Schema>> {
        if let Some(found) = self.cache.get(url) {
            return found.clone();
        }
        let found = (self.resolve)(url).map(Rc::new);
        self.cache.insert(url.to_owned(), found.clone());
        found
    }

    /// The schema of an embedded object at `path`, or the error naming both.
    fn need(&mut self, url: &str, path: Path<'_>) -> Result<Rc<Schema>, ObjectError> {
        self.get(url).ok_or_else(|| ObjectError::UnknownSchema {
            path: path.render(),
            url: url.to_owned(),
        })
    }
}

/// Where a value sits, rendered only when an error needs it (no allocation per value).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The top object.
    Root,
    /// A field of the object at the inner path.
    Field(&'a Path<'a>, &'a str),
    /// An item of the list at the inner path.
    Item(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Field(Path::Root, name) => (*name).to_owned(),
            Path::Field(parent, name) => format!("{}.{name}", parent.render()),
            Path::Item(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }

    fn invalid(&self, reason: String) -> ObjectError {
        ObjectError::Invalid {
            path: self.render(),
            reason,
        }
    }

    fn limit(&self, reason: String) -> ObjectError {
        ObjectError::Limit {
            path: self.render(),
            reason,
        }
    }
}

/// The bound on nesting, checked before descending into an object at `depth`.
fn check_depth(depth: usize, path: Path<'_>) -> Result<(), ObjectError> {
    if depth > MAX_DEPTH {
        return Err(path.limit(format!("objects nested more than {MAX_DEPTH} deep")));
    }
    Ok(())
}

/// `-0.0` as `0.0`; `None` for NaN and the infinities, which have no place in an object.
fn canonical_float(f: f64) -> Option<f64> {
    if !f.is_finite() {
        None
    } else if f == 0.0 {
        Some(0.0)
    } else {
        Some(f)
    }
}
