//! The jsxschema language (spec §1): typed models with defaults, lists, nested objects, enums,
//! index/unique/full-text marks, urls and versions.
//!
//! Text goes through the submodules in one direction: `line` cuts one line into its raw parts
//! with byte positions; `parse` groups lines into blocks and checks block-wide rules;
//! `field` turns one line's parts into a [`Field`], resolving the type code through
//! [`types`] and reading the default as a typed [`Value`]; `print` writes a [`Schema`] back in
//! canonical form; [`evolution`] says whether one version may follow another.
//!
//! ```
//! let schemas = bcdb::schema::parse("@url = demo.room.1\n0: area = 0.0\n1: tags = (LS)\n")?;
//! let room = &schemas[0];
//! assert_eq!(room.url(), "demo.room.1");
//! assert_eq!(room.version(), Some(1));
//! assert_eq!(room.to_text(), "@url = demo.room.1\n0: area = 0.0 (F)\n1: tags = (LS)\n");
//! # Ok::<(), bcdb::schema::SchemaError>(())
//! ```
//!
//! # Identity
//!
//! [`Schema::hash`] is SHA-256 of [`Schema::to_text`], the canonical text (comments
//! included). It is what ledger entries record as `schema_hash`: the text is what the ledger
//! stores for a schema, and the hash commits to exactly that text. Two texts that differ only
//! in spacing, aliases (`(S)`/`(str)`), quoting, implicit or explicit numbering, `*` versus
//! `**`, or property order have the same canonical text and so the same hash. (The spec
//! suggests hashing a canonical JSON; the canonical text is that, in the schema's own
//! language, and needs no second serialiser kept byte-stable.)
//!
//! [`ParsedSchema::md5`] is the original system's id (§1.5), computed from the lines as
//! written. It is kept only to import old data, which carries it.

mod error;
pub mod evolution;
mod field;
mod line;
mod parse;
mod print;
mod time;
pub mod types;
mod value;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub use error::{SchemaError, SchemaErrorKind, SchemaWarning, WarningKind};
pub use evolution::{check_evolution, check_history, EvolutionError};
pub use field::{Field, IndexKind};
pub use types::{FieldType, IndexColumn, Scalar};
/// The default-value coercion, reused by [`crate::object`] so object values and defaults
/// accept the same texts.
pub(crate) use value::{coerce_scalar, literal, CoerceError};
pub use value::{Amount, Numeric, NumericScale, Value};

/// One parsed schema block.
///
/// Only the parser makes these, so every `Schema` obeys the spec's rules and its canonical
/// text ([`Schema::to_text`]) parses back to an equal `Schema`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    url: String,
    properties: BTreeMap<String, String>,
    fields: Vec<Field>,
    /// [`Schema::hash`], computed once: every typed write compares it.
    hash: [u8; 32],
}

/// A schema with what only its source text can tell: the md5 compatibility id and the
/// warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSchema {
    /// The schema.
    pub schema: Schema,
    /// The md5 id of §1.5, over the block as written.
    pub md5: [u8; 16],
    /// Accepted constructs the author may want to change (`*`, `__` in names).
    pub warnings: Vec<SchemaWarning>,
}

/// Parses every block of `text`; each must start with `@url`.
pub fn parse(text: &str) -> Result<Vec<Schema>, SchemaError> {
    parse_blocks(text, None).map(only_schemas)
}

/// Parses every block of `text`, the first of which may leave out `@url`: `url` is its url.
/// If the first block does have `@url`, it must be `url` (after normalisation). The result
/// always holds that first block, even when the text is empty.
pub fn parse_with_url(text: &str, url: &str) -> Result<Vec<Schema>, SchemaError> {
    parse_blocks(text, Some(url)).map(only_schemas)
}

/// [`parse`] or [`parse_with_url`] (when `url` is given), keeping the md5 ids and warnings.
pub fn parse_blocks(text: &str, url: Option<&str>) -> Result<Vec<ParsedSchema>, SchemaError> {
    parse::parse_blocks(text, url)
}

fn only_schemas(parsed: Vec<ParsedSchema>) -> Vec<Schema> {
    parsed.into_iter().map(|p| p.schema).collect()
}

/// The canonical texts of several schemas, separated by blank lines; [`parse`] reads it back.
pub fn to_text_all(schemas: &[Schema]) -> String {
    let texts: Vec<String> = schemas.iter().map(Schema::to_text).collect();
    texts.join("\n")
}

impl Schema {
    /// The url: lower-case, trimmed, dotted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The number at the end of the url (`demo.house.1` → 1), by convention the model's
    /// major version; `None` when the last segment is not a number. Versions of one url
    /// (same number) are what [`check_evolution`] compares.
    pub fn version(&self) -> Option<u32> {
        let last = self.url.rsplit('.').next()?;
        last.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| last.parse().ok())
            .flatten()
    }

    /// The `@name = value` lines other than `@url`, by lower-cased name, quotes removed.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// One property's value.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// `@acl`: whether objects carry an access list; `@acl = false` leaves them to the owner.
    pub fn acl(&self) -> bool {
        self.property("acl") != Some("false")
    }

    /// `@sub = true`: the schema is only used embedded in others.
    pub fn is_sub(&self) -> bool {
        self.property("sub") == Some("true")
    }

    /// The fields in declaration order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The field called `name` (exact case).
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field numbered `nr`.
    pub fn field_by_nr(&self, nr: u16) -> Option<&Field> {
        self.fields.iter().find(|f| f.nr == nr)
    }

    /// The canonical text (see the `print` module doc for its form); parses back to `self`.
    pub fn to_text(&self) -> String {
        print::schema_text(self)
    }

    /// SHA-256 of [`Schema::to_text`]: the schema's identity in the ledger.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// A schema of these parts, with its identity hash.
    pub(crate) fn new(
        url: String,
        properties: BTreeMap<String, String>,
        fields: Vec<Field>,
    ) -> Schema {
        let mut schema = Schema {
            url,
            properties,
            fields,
            hash: [0; 32],
        };
        schema.hash = Sha256::digest(schema.to_text().as_bytes()).into();
        schema
    }
}
