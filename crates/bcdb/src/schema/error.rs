//! Errors and warnings of the jsxschema parser, each pinned to a line and column of the text.
//!
//! Schemas are written by hand (in Python strings, `models/*.toml`, actor docstrings), so a
//! message that names the exact spot and the offending text is what makes them fixable. Lines
//! and columns are 1-based; a column counts characters (not bytes) from the start of the line
//! as written, before any whitespace is stripped.

use std::fmt;

/// Why a schema text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// 1-based line of the text; 0 when the problem is the url passed by the caller.
    pub line: usize,
    /// 1-based character column within that line; 0 with `line` 0.
    pub column: usize,
    /// What is wrong.
    pub kind: SchemaErrorKind,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "url argument: {}", self.kind)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.kind
            )
        }
    }
}

impl std::error::Error for SchemaError {}

/// What is wrong with a schema text; each variant carries the offending text so callers
/// can match on the case and still show the user what they wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaErrorKind {
    /// A field or property line without `=`.
    #[error("expected \"=\" in {text:?}")]
    MissingEquals {
        /// The line's content.
        text: String,
    },
    /// The text before `:` is not a field number (digits, at most 65535).
    #[error("bad field number {text:?}")]
    BadFieldNumber {
        /// What stood before the `:`.
        text: String,
    },
    /// Some field lines start with `N:` and others do not.
    #[error("field numbers must be given on every field line or on none")]
    MixedNumbering,
    /// Two fields with the same number.
    #[error("field number {nr} is used twice")]
    DuplicateNumber {
        /// The repeated number.
        nr: u16,
    },
    /// More fields than a 16-bit field number can count.
    #[error("too many fields (at most 65536)")]
    TooManyFields,
    /// A name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error("bad field name {name:?}")]
    BadName {
        /// The name as written.
        name: String,
    },
    /// `id` (the system object id) or `schema`, in any case.
    #[error("field name {name:?} is reserved")]
    ReservedName {
        /// The name as written.
        name: String,
    },
    /// Two fields whose names differ at most in case (index columns ignore case).
    #[error("field {name:?} is declared twice")]
    DuplicateName {
        /// The second name as written.
        name: String,
    },
    /// More than three `*` after a name.
    #[error("bad index marks {marks:?} (use \"**\" or \"***\")")]
    BadMarks {
        /// The marks as written.
        marks: String,
    },
    /// A type code that is not in the table.
    #[error("unknown type code {code:?}")]
    UnknownType {
        /// The code as written.
        code: String,
    },
    /// `LL…`: lists hold scalars, enums or objects, not lists.
    #[error("lists of lists are not supported: {code:?}")]
    NestedList {
        /// The code as written.
        code: String,
    },
    /// A default opened with a quote that never closes (a `#` ends the line's content).
    #[error("unterminated quote in {text:?}")]
    UnterminatedQuote {
        /// From the opening quote to the end of the content.
        text: String,
    },
    /// `(` without `)`.
    #[error("missing \")\" after {text:?}")]
    UnterminatedType {
        /// From the `(` to the end of the content.
        text: String,
    },
    /// Text where the grammar allows nothing more.
    #[error("unexpected text {text:?}")]
    UnexpectedText {
        /// The extra text.
        text: String,
    },
    /// `(O)` or `(LO)` without `!url`.
    #[error("type {code} needs \"!url\" naming the embedded schema")]
    MissingObjectUrl {
        /// The canonical code.
        code: String,
    },
    /// `!url` after a type that is not an object.
    #[error("\"!{url}\" given for type {code}, which is not an object")]
    UrlOnNonObject {
        /// The url as written.
        url: String,
        /// The canonical code of the field's type.
        code: String,
    },
    /// Not a dotted name of `[a-z0-9_-]` segments, or longer than 1024 bytes.
    #[error("bad schema url {url:?}")]
    BadUrl {
        /// The url as written.
        url: String,
    },
    /// A field or property before any `@url`, with no url given by the caller.
    #[error("schema has no @url and none was given")]
    MissingUrl,
    /// The first block's `@url` differs from the url the caller gave for it.
    #[error("@url {found:?} differs from the url given, {expected:?}")]
    UrlMismatch {
        /// The url the caller gave.
        expected: String,
        /// The url in the text.
        found: String,
    },
    /// Two blocks of one text with the same url.
    #[error("schema {url:?} is defined twice")]
    DuplicateUrl {
        /// The normalised url.
        url: String,
    },
    /// An `@name` that is not `[a-z_][a-z0-9_]*` (case-insensitive).
    #[error("bad property name {key:?}")]
    BadPropertyKey {
        /// The name as written.
        key: String,
    },
    /// The same `@name` twice in one block.
    #[error("property @{key} is set twice")]
    DuplicatePropertyKey {
        /// The lower-cased name.
        key: String,
    },
    /// `@acl` or `@sub` with a value other than true or false.
    #[error("@{key} must be true or false, not {value:?}")]
    BadPropertyValue {
        /// The lower-cased name.
        key: String,
        /// The value as written.
        value: String,
    },
    /// No `(TYPE)`, and the default fits none of the inference rules of §1.3.
    #[error("cannot infer a type from {literal:?}; add a (TYPE)")]
    CannotInfer {
        /// The default as written.
        literal: String,
    },
    /// The default cannot be read as the field's type.
    #[error("default {text:?} is not a valid {code}: {reason}")]
    BadDefault {
        /// The default as written.
        text: String,
        /// The canonical code of the type.
        code: String,
        /// Why not.
        reason: String,
    },
    /// A default for a type that has no textual form (objects, bytes, dict, msgpack, capnp).
    #[error("type {code} takes no default")]
    DefaultNotAllowed {
        /// The canonical code of the type.
        code: String,
    },
    /// The value list of an enum is empty, repeats a value, or holds a value that is not a name.
    #[error("enum values {text:?}: {reason}")]
    BadEnum {
        /// The default slot as written.
        text: String,
        /// Why not.
        reason: String,
    },
    /// An index mark (or `&`, or the name `name`) on a type no index column can hold.
    #[error("field {name:?} of type {code} cannot be indexed")]
    NotIndexable {
        /// The field name.
        name: String,
        /// The canonical code of the type.
        code: String,
    },
    /// `***` on a field whose values are not text.
    #[error("full-text index on {name:?} needs a text type, not {code}")]
    FullTextNeedsText {
        /// The field name.
        name: String,
        /// The canonical code of the type.
        code: String,
    },
}

/// Something accepted that the author probably wants to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaWarning {
    /// 1-based line.
    pub line: usize,
    /// 1-based character column.
    pub column: usize,
    /// What it is.
    pub kind: WarningKind,
}

impl fmt::Display for SchemaWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.kind
        )
    }
}

/// The warnings of §1.3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarningKind {
    /// `name*`: the old key index, read as `**`.
    #[error("\"{name}*\" is read as \"{name}**\" (the key index is gone)")]
    KeyIndexMark {
        /// The field name.
        name: String,
    },
    /// `__` in a name clashes with the separator of flattened nested index columns.
    #[error("field name {name:?} contains \"__\", the separator of nested index columns")]
    DoubleUnderscore {
        /// The field name.
        name: String,
    },
}
