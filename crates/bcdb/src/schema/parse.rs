//! A schema text cut into blocks, one [`Schema`] each (spec §1.1, §1.2, §1.3, §1.5).
//!
//! Each `@url` line starts a block; the first block may leave it out when the caller gives
//! the url. The block-wide rules live here: one numbering style, no repeated number or name,
//! no repeated property, and the md5 compatibility id, which is computed from the lines as
//! written (that is what the original stored in its objects).

use std::collections::{BTreeMap, HashSet};

use md5::{Digest, Md5};

use super::error::{SchemaError, SchemaErrorKind, SchemaWarning};
use super::field::{build_field, Field};
use super::line::{read_line, Line, LineError, Piece, RawField};
use super::{ParsedSchema, Schema};

/// Longest url: the ledger entry's bound on a collection name.
pub(crate) const MAX_URL: usize = 1024;

/// Lower-cases and trims a url, then checks it is a dotted name of `[a-z0-9_-]` segments.
pub(crate) fn normalise_url(url: &str) -> Result<String, SchemaErrorKind> {
    let normal = url.trim().to_ascii_lowercase();
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if normal.len() > MAX_URL || !normal.split('.').all(segment_ok) {
        return Err(SchemaErrorKind::BadUrl { url: url.into() });
    }
    Ok(normal)
}

/// `[a-z_][a-z0-9_]*` after lower-casing.
fn is_property_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Character column (1-based) of byte offset `at` in `line`.
fn column(line: &str, at: usize) -> usize {
    line.get(..at).map_or(at, |before| before.chars().count()) + 1
}

/// One block being read.
struct Block {
    url: String,
    /// The url came from the caller, not from an `@url` line.
    from_caller: bool,
    has_content: bool,
    properties: BTreeMap<String, String>,
    fields: Vec<Field>,
    /// The numbers and lower-cased names so far, so repeats are found in constant time
    /// (a hostile text may hold tens of thousands of fields).
    nrs: HashSet<u16>,
    names: HashSet<String>,
    explicit_numbers: Option<bool>,
    /// The block's lines for the md5 id, in order, `@url` excluded.
    compat_lines: Vec<String>,
    warnings: Vec<SchemaWarning>,
}

impl Block {
    fn new(url: String, from_caller: bool) -> Block {
        Block {
            url,
            from_caller,
            has_content: false,
            properties: BTreeMap::new(),
            fields: Vec::new(),
            nrs: HashSet::new(),
            names: HashSet::new(),
            explicit_numbers: None,
            compat_lines: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn property(
        &mut self,
        key: Piece<'_>,
        value: Piece<'_>,
        content: &str,
    ) -> Result<(), LineError> {
        self.has_content = true;
        let lower = key.text.to_ascii_lowercase();
        if !is_property_key(&lower) {
            let key_text = key.text.into();
            return Err((key.at, SchemaErrorKind::BadPropertyKey { key: key_text }));
        }
        if self.properties.contains_key(&lower) {
            return Err((key.at, SchemaErrorKind::DuplicatePropertyKey { key: lower }));
        }
        let value = match lower.as_str() {
            "acl" | "sub" => match value.text.to_ascii_lowercase().as_str() {
                v @ ("true" | "false") => v.to_owned(),
                _ => {
                    let (key, value_text) = (lower.clone(), value.text.into());
                    let kind = SchemaErrorKind::BadPropertyValue {
                        key,
                        value: value_text,
                    };
                    return Err((value.at, kind));
                }
            },
            _ => value.text.to_owned(),
        };
        self.properties.insert(lower, value);
        self.compat_lines.push(content.to_owned());
        Ok(())
    }

    fn field(&mut self, raw: &RawField<'_>, line_no: usize, line: &str) -> Result<(), LineError> {
        self.has_content = true;
        let explicit = raw.nr.is_some();
        if *self.explicit_numbers.get_or_insert(explicit) != explicit {
            return Err((raw.content.at, SchemaErrorKind::MixedNumbering));
        }
        let nr = match raw.nr {
            Some(nr) => field_number(nr)?,
            None => u16::try_from(self.fields.len())
                .map_err(|_| (raw.content.at, SchemaErrorKind::TooManyFields))?,
        };
        if self.nrs.contains(&nr) {
            let at = raw.nr.map_or(raw.content.at, |p| p.at);
            return Err((at, SchemaErrorKind::DuplicateNumber { nr }));
        }
        let (field, warnings) = build_field(raw, nr)?;
        if !self.names.insert(field.name.to_ascii_lowercase()) {
            let name = field.name;
            return Err((raw.name.at, SchemaErrorKind::DuplicateName { name }));
        }
        self.nrs.insert(nr);
        for (at, kind) in warnings {
            let column = column(line, at);
            self.warnings.push(SchemaWarning {
                line: line_no,
                column,
                kind,
            });
        }
        self.compat_lines.push(if explicit {
            raw.content.text.to_owned()
        } else {
            format!("{nr}:{}", raw.content.text)
        });
        self.fields.push(field);
        Ok(())
    }

    fn finish(self) -> ParsedSchema {
        ParsedSchema {
            md5: compat_md5(&self.url, &self.compat_lines),
            schema: Schema::new(self.url, self.properties, self.fields),
            warnings: self.warnings,
        }
    }
}

fn field_number(nr: Piece<'_>) -> Result<u16, LineError> {
    let digits = !nr.text.is_empty() && nr.text.bytes().all(|b| b.is_ascii_digit());
    match nr.text.parse::<u16>() {
        Ok(n) if digits => Ok(n),
        _ => {
            let text = nr.text.into();
            Err((nr.at, SchemaErrorKind::BadFieldNumber { text }))
        }
    }
}

/// §1.5: `@url = <url>` first, the other lines as written with comments removed and field
/// lines prefixed with their number, then every space and newline removed, then md5.
pub(crate) fn compat_md5(url: &str, lines: &[String]) -> [u8; 16] {
    let mut text = format!("@url = {url}");
    for line in lines {
        text.push('\n');
        text.push_str(line);
    }
    text.retain(|c| c != ' ' && c != '\n');
    Md5::digest(text.as_bytes()).into()
}

/// Reads every block of `text`; `url` names the first block when it has no `@url`.
pub(crate) fn parse_blocks(
    text: &str,
    url: Option<&str>,
) -> Result<Vec<ParsedSchema>, SchemaError> {
    let mut current = match url {
        Some(url) => {
            let url = normalise_url(url).map_err(|kind| SchemaError {
                line: 0,
                column: 0,
                kind,
            })?;
            Some(Block::new(url, true))
        }
        None => None,
    };
    let mut done: Vec<ParsedSchema> = Vec::new();
    let mut urls: HashSet<String> = HashSet::new();
    for (line_idx, line) in text.lines().enumerate() {
        let line_no = line_idx + 1;
        let located = |(at, kind): LineError| SchemaError {
            line: line_no,
            column: column(line, at),
            kind,
        };
        match read_line(line).map_err(located)? {
            Line::Blank => {}
            Line::Property { key, value, .. } if key.text.eq_ignore_ascii_case("url") => {
                let url = normalise_url(value.text).map_err(|k| located((value.at, k)))?;
                if let Some(block) = current.take() {
                    if !block.from_caller || block.has_content {
                        urls.insert(block.url.clone());
                        done.push(block.finish());
                    } else if block.url != url {
                        let kind = SchemaErrorKind::UrlMismatch {
                            expected: block.url,
                            found: url,
                        };
                        return Err(located((value.at, kind)));
                    }
                }
                if urls.contains(&url) {
                    return Err(located((value.at, SchemaErrorKind::DuplicateUrl { url })));
                }
                current = Some(Block::new(url, false));
            }
            Line::Property {
                key,
                value,
                content,
            } => {
                let block = current
                    .as_mut()
                    .ok_or_else(|| located((content.at, SchemaErrorKind::MissingUrl)))?;
                block.property(key, value, content.text).map_err(located)?;
            }
            Line::Field(raw) => {
                let block = current
                    .as_mut()
                    .ok_or_else(|| located((raw.content.at, SchemaErrorKind::MissingUrl)))?;
                block.field(&raw, line_no, line).map_err(located)?;
            }
        }
    }
    done.extend(current.map(Block::finish));
    Ok(done)
}
