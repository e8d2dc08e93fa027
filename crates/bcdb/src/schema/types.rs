//! The type codes of jsxschema (spec §1.4): which codes name which type, and what each type
//! asks of an index.
//!
//! Codes are case-insensitive and have aliases; a parsed schema keeps only the resolved
//! [`FieldType`], so `(S)`, `(str)` and `(String)` are the same schema, and the printer writes
//! one canonical code per type (the first code of its row, upper-cased).

use super::error::SchemaErrorKind;

/// The column a secondary index keeps a field's values in (the "SQL index column" of §1.4);
/// a type without one cannot carry `**`, `***` or `&`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexColumn {
    /// UTF-8 text.
    Text,
    /// A signed integer.
    Integer,
    /// A float (numerics hold their USD value here).
    Real,
    /// A boolean.
    Boolean,
}

/// A type that needs no parameter; every row of the table but enums and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `s`, `str`, `string`: UTF-8 text.
    String,
    /// `multiline`: text with newlines (written `\n` in a default).
    Multiline,
    /// `i`, `int`, `integer`: a 32-bit integer.
    Int,
    /// `i64`, `int64`: a 64-bit integer.
    Int64,
    /// `f`, `float`: a 64-bit float.
    Float,
    /// `b`, `bool`, `boolean`.
    Bool,
    /// `d`, `date`: epoch seconds of a day.
    Date,
    /// `t`, `datetime`: epoch seconds.
    DateTime,
    /// `duration`: seconds.
    Duration,
    /// `n`, `numeric`: an amount with an optional currency.
    Numeric,
    /// `p`, `perc`, `percent`.
    Percent,
    /// `email`.
    Email,
    /// `tel`, `mobile`: a phone number, kept normalised.
    Tel,
    /// `ipaddr`, `ipaddress`: IPv4 or IPv6.
    IpAddr,
    /// `iprange`: CIDR.
    IpRange,
    /// `ipport`, `tcpport`.
    IpPort,
    /// `guid`: a UUID, kept lower-case with dashes.
    Guid,
    /// `url`, `u`.
    Url,
    /// `path`.
    Path,
    /// `bytes`, `bin`, `binary`.
    Bytes,
    /// `dict`: a msgpack-serialised map.
    Dict,
    /// `json`: serialised text.
    Json,
    /// `yaml`: serialised text.
    Yaml,
    /// `msgpack`: a msgpack blob.
    Msgpack,
    /// `h`, `set`: a pair of two 32-bit integers (`46:682`).
    Hash,
    /// `capnpbin`, `cbin`: a raw capnp message.
    CapnpBin,
}

struct Row {
    scalar: Scalar,
    codes: &'static [&'static str],
    column: Option<IndexColumn>,
}

const fn row(scalar: Scalar, codes: &'static [&'static str], column: Option<IndexColumn>) -> Row {
    Row {
        scalar,
        codes,
        column,
    }
}

use IndexColumn::{Boolean, Integer, Real, Text};

/// §1.4 in table form; the first code of a row is the canonical one.
const ROWS: [Row; 26] = [
    row(Scalar::String, &["s", "str", "string"], Some(Text)),
    row(Scalar::Multiline, &["multiline"], Some(Text)),
    row(Scalar::Int, &["i", "int", "integer"], Some(Integer)),
    row(Scalar::Int64, &["i64", "int64"], Some(Integer)),
    row(Scalar::Float, &["f", "float"], Some(Real)),
    row(Scalar::Bool, &["b", "bool", "boolean"], Some(Boolean)),
    row(Scalar::Date, &["d", "date"], Some(Integer)),
    row(Scalar::DateTime, &["t", "datetime"], Some(Integer)),
    row(Scalar::Duration, &["duration"], None),
    row(Scalar::Numeric, &["n", "numeric"], Some(Real)),
    row(Scalar::Percent, &["p", "perc", "percent"], Some(Real)),
    row(Scalar::Email, &["email"], Some(Text)),
    row(Scalar::Tel, &["tel", "mobile"], Some(Text)),
    row(Scalar::IpAddr, &["ipaddr", "ipaddress"], Some(Text)),
    row(Scalar::IpRange, &["iprange"], Some(Text)),
    row(Scalar::IpPort, &["ipport", "tcpport"], Some(Integer)),
    row(Scalar::Guid, &["guid"], Some(Text)),
    row(Scalar::Url, &["url", "u"], Some(Text)),
    row(Scalar::Path, &["path"], Some(Text)),
    row(Scalar::Bytes, &["bytes", "bin", "binary"], None),
    row(Scalar::Dict, &["dict"], None),
    row(Scalar::Json, &["json"], None),
    row(Scalar::Yaml, &["yaml"], None),
    row(Scalar::Msgpack, &["msgpack"], None),
    row(Scalar::Hash, &["h", "set"], None),
    row(Scalar::CapnpBin, &["capnpbin", "cbin"], None),
];

const ENUM_CODES: [&str; 3] = ["e", "enum", "enumeration"];
const OBJECT_CODES: [&str; 2] = ["o", "jsxobject"];

impl Scalar {
    /// Every scalar, in table order.
    pub fn all() -> impl Iterator<Item = Scalar> {
        ROWS.iter().map(|r| r.scalar)
    }

    fn row(self) -> &'static Row {
        ROWS.iter()
            .find(|r| r.scalar == self)
            .expect("every scalar has a row in ROWS")
    }

    /// Every code (lower-case) that names this type.
    pub fn codes(self) -> &'static [&'static str] {
        self.row().codes
    }

    /// The canonical code the printer writes.
    pub fn code(self) -> String {
        self.row().codes[0].to_ascii_uppercase()
    }

    /// The index column, if values of this type can be indexed.
    pub fn index_column(self) -> Option<IndexColumn> {
        self.row().column
    }

    /// Whether a default can be written for this type at all: the binary types have no
    /// textual form.
    pub fn takes_default(self) -> bool {
        !matches!(
            self,
            Scalar::Bytes | Scalar::Dict | Scalar::Msgpack | Scalar::CapnpBin
        )
    }
}

/// The full type of a field.
///
/// Invariant: a `List` never holds a `List` (the parser refuses `LL…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// A type without parameters.
    Scalar(Scalar),
    /// `e`, `enum`, `enumeration`: the upper-cased values, in order (stored as the index).
    Enum(Vec<String>),
    /// `o`, `jsxobject`: an embedded object of the schema with this url.
    Object(String),
    /// `L…`: a list of the inner type; `None` for the untyped `L` / `list`.
    List(Option<Box<FieldType>>),
}

impl FieldType {
    /// The canonical code, as the printer writes it inside `( )`.
    pub fn code(&self) -> String {
        match self {
            FieldType::Scalar(s) => s.code(),
            FieldType::Enum(_) => "E".to_owned(),
            FieldType::Object(_) => "O".to_owned(),
            FieldType::List(None) => "L".to_owned(),
            FieldType::List(Some(inner)) => format!("L{}", inner.code()),
        }
    }

    /// The index column, if the field can carry an index mark. Objects have none: their own
    /// `**` fields are flattened as `parent__child` instead (§9.6).
    pub fn index_column(&self) -> Option<IndexColumn> {
        match self {
            FieldType::Scalar(s) => s.index_column(),
            FieldType::Enum(_) => Some(IndexColumn::Text),
            FieldType::Object(_) | FieldType::List(_) => None,
        }
    }

    /// The url of the embedded schema, for `O` and `LO`.
    pub fn object_url(&self) -> Option<&str> {
        match self {
            FieldType::Object(url) => Some(url),
            FieldType::List(Some(inner)) => inner.object_url(),
            _ => None,
        }
    }

    /// The values of `E` and `LE`.
    pub fn enum_values(&self) -> Option<&[String]> {
        match self {
            FieldType::Enum(values) => Some(values),
            FieldType::List(Some(inner)) => inner.enum_values(),
            _ => None,
        }
    }

    /// The element type of a typed list.
    pub fn element(&self) -> Option<&FieldType> {
        match self {
            FieldType::List(Some(inner)) => Some(inner),
            _ => None,
        }
    }
}

/// A type code resolved, before enum values or an object url are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    Scalar(Scalar),
    Enum,
    Object,
}

/// The shape a code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    One(Base),
    /// `None` for the untyped list.
    List(Option<Base>),
}

impl Shape {
    pub(crate) fn base(self) -> Option<Base> {
        match self {
            Shape::One(b) => Some(b),
            Shape::List(b) => b,
        }
    }
}

fn base(lower: &str) -> Option<Base> {
    if ENUM_CODES.contains(&lower) {
        return Some(Base::Enum);
    }
    if OBJECT_CODES.contains(&lower) {
        return Some(Base::Object);
    }
    ROWS.iter()
        .find(|r| r.codes.contains(&lower))
        .map(|r| Base::Scalar(r.scalar))
}

/// Resolves a code as written inside `( )` (already trimmed). The list test runs before
/// aliases, as §1.4 says: any code starting with `l` other than `list` is a list of the rest.
pub(crate) fn resolve(code: &str) -> Result<Shape, SchemaErrorKind> {
    let lower = code.to_ascii_lowercase();
    let unknown = || SchemaErrorKind::UnknownType {
        code: code.to_owned(),
    };
    if lower == "list" || lower == "l" {
        return Ok(Shape::List(None));
    }
    if let Some(rest) = lower.strip_prefix('l') {
        if rest.starts_with('l') {
            return Err(SchemaErrorKind::NestedList {
                code: code.to_owned(),
            });
        }
        return base(rest).map(|b| Shape::List(Some(b))).ok_or_else(unknown);
    }
    base(&lower).map(Shape::One).ok_or_else(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_never_start_with_l() {
        let mut seen = std::collections::HashSet::new();
        for code in ROWS
            .iter()
            .flat_map(|r| r.codes.iter())
            .chain(ENUM_CODES.iter())
            .chain(OBJECT_CODES.iter())
        {
            assert!(seen.insert(*code), "{code} twice");
            assert!(!code.starts_with('l'), "{code} would read as a list");
        }
    }

    #[test]
    fn canonical_codes_resolve_to_their_type() {
        for s in Scalar::all() {
            assert_eq!(resolve(&s.code()), Ok(Shape::One(Base::Scalar(s))));
            let list = format!("L{}", s.code());
            assert_eq!(resolve(&list), Ok(Shape::List(Some(Base::Scalar(s)))));
        }
    }
}
