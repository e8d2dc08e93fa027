//! The canonical text of a [`Schema`]: what [`Schema::to_text`] writes and
//! [`Schema::hash`] hashes.
//!
//! One form per schema, so the text can serve as its identity: `@url` first, the other
//! properties sorted by name, then one line per field in declaration order, always with its
//! number, `&` when unique, `**`/`***` for the index, the default in canonical form, the
//! canonical type code, `!url` for objects and the comment:
//!
//! ```text
//! @url = demo.house.1
//! @acl = false
//! 0: &name** = (S) # indexed, implicitly unique
//! 1: active = true (B)
//! 2: rooms = (LO) !demo.room.1
//! 3: color = "RED,GREEN,BLUE" (E)
//! ```
//!
//! Defaults have no escapes, so each is written in the first quoting the lexer reads back as
//! the same value; the printer checks that with the lexer itself rather than trusting a rule.

use super::field::{Field, IndexKind};
use super::line::reads_back;
use super::types::{FieldType, Scalar};
use super::value::{self, Value};
use super::Schema;

/// The canonical text of one schema, ending with a newline.
pub(crate) fn schema_text(schema: &Schema) -> String {
    let mut out = format!("@url = {}\n", schema.url);
    for (key, value) in &schema.properties {
        out.push_str(&format!("@{key} = {}\n", property_value(value)));
    }
    for field in &schema.fields {
        out.push_str(&field_line(field));
        out.push('\n');
    }
    out
}

/// Bare when that reads back unchanged, else in double quotes (the lexer removes exactly one
/// pair of surrounding quotes, so any value without `#` or a newline survives that).
fn property_value(value: &str) -> String {
    let bare = !value.is_empty() && value.trim() == value && !value.contains(['"', '\'']);
    if bare {
        value.to_owned()
    } else {
        format!("\"{value}\"")
    }
}

fn field_line(field: &Field) -> String {
    let mut line = format!("{}: ", field.nr);
    if field.unique {
        line.push('&');
    }
    line.push_str(&field.name);
    line.push_str(match field.index {
        IndexKind::None => "",
        IndexKind::Secondary => "**",
        IndexKind::FullText => "***",
    });
    line.push_str(" =");
    if let Some(default) = default_text(field) {
        line.push(' ');
        line.push_str(&default);
    }
    line.push_str(&format!(" ({})", field.kind.code()));
    if let Some(url) = field.kind.object_url() {
        line.push_str(&format!(" !{url}"));
    }
    if let Some(comment) = &field.comment {
        line.push_str(&format!(" # {comment}"));
    }
    line
}

fn default_text(field: &Field) -> Option<String> {
    if let Some(values) = field.kind.enum_values() {
        return Some(format!("\"{}\"", values.join(",")));
    }
    let scalar = match &field.kind {
        FieldType::Scalar(s) => Some(*s),
        FieldType::List(Some(inner)) => match **inner {
            FieldType::Scalar(s) => Some(s),
            _ => None,
        },
        _ => None,
    };
    match field.default.as_ref()? {
        Value::List(items) => Some(list_text(scalar, items)),
        value => Some(scalar_text(&value::literal(scalar, value), is_text(value))),
    }
}

fn is_text(value: &Value) -> bool {
    matches!(value, Value::Str(_))
}

/// The quoting candidates for a literal, text values preferring quotes.
fn quotings(literal: &str, text: bool) -> [String; 3] {
    let (bare, double, single) = (
        literal.to_owned(),
        format!("\"{literal}\""),
        format!("'{literal}'"),
    );
    if text {
        [double, single, bare]
    } else {
        [bare, double, single]
    }
}

fn scalar_text(literal: &str, text: bool) -> String {
    let candidates = quotings(literal, text);
    let fallback = candidates[0].clone();
    candidates
        .into_iter()
        .find(|c| reads_back(c) == Some(literal))
        .unwrap_or_else(|| {
            debug_assert!(false, "no quoting reads back {literal:?}");
            fallback
        })
}

/// `[a, b]`, possibly inside quotes: the outer quoting must keep the lexer from stopping
/// early (unquoted text ends at `(` or `!`), and each item must survive the list split.
fn list_text(scalar: Option<Scalar>, items: &[Value]) -> String {
    let literals: Vec<String> = items.iter().map(|v| value::literal(scalar, v)).collect();
    let text = items.first().is_some_and(is_text);
    for outer in [None, Some('\''), Some('"')] {
        let rendered: Option<Vec<String>> = literals
            .iter()
            .map(|lit| item_text(lit, text, outer))
            .collect();
        let Some(rendered) = rendered else { continue };
        let list = format!("[{}]", rendered.join(", "));
        let written = match outer {
            None => list,
            Some(q) => format!("{q}{list}{q}"),
        };
        let back = reads_back(&written).map(value::split_list);
        if back.is_some_and(|b| b == literals) {
            return written;
        }
    }
    debug_assert!(false, "no quoting reads back {literals:?}");
    format!("[{}]", literals.join(", "))
}

fn item_text(literal: &str, text: bool, outer: Option<char>) -> Option<String> {
    quotings(literal, text).into_iter().find(|c| {
        !c.contains(',')
            && !outer.is_some_and(|q| c.contains(q))
            && value::strip_quotes(c.trim()) == literal
    })
}
