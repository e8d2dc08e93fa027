//! One line of a schema text cut into its raw parts (spec §1.1, §1.2), with byte positions so
//! errors can point at the offending text.
//!
//! Nothing here knows types or blocks; [`super::parse`] gives the parts their meaning. The
//! printer also runs [`read_default`] on what it writes, so a default it prints is one this
//! lexer reads back as the same text.

use super::error::SchemaErrorKind;

/// A piece of a line and where it starts (byte offset in the line as written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    pub(crate) at: usize,
    pub(crate) text: &'a str,
}

/// A lexing error: the byte offset it points at, and what is wrong.
pub(crate) type LineError = (usize, SchemaErrorKind);

/// What a line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Blank, or only a comment.
    Blank,
    /// `@key = value`; `value` has its surrounding quotes removed.
    Property {
        key: Piece<'a>,
        value: Piece<'a>,
        /// The content without its comment, for the md5 compatibility id.
        content: Piece<'a>,
    },
    /// A field line.
    Field(RawField<'a>),
}

/// A field line's parts, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawField<'a> {
    /// The whole content without its comment (trimmed).
    pub(crate) content: Piece<'a>,
    /// The text before `:`, when there is one.
    pub(crate) nr: Option<Piece<'a>>,
    pub(crate) unique: bool,
    pub(crate) name: Piece<'a>,
    /// The run of `*` after the name.
    pub(crate) marks: Piece<'a>,
    pub(crate) default: Option<Default<'a>>,
    /// The code inside `( )`, trimmed.
    pub(crate) code: Option<Piece<'a>>,
    /// The url after `!`, trimmed; `at` is the `!`.
    pub(crate) url: Option<Piece<'a>>,
    /// The trailing comment, trimmed, when not empty.
    pub(crate) comment: Option<&'a str>,
}

/// A default literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Default<'a> {
    /// As written, quotes included (what type inference looks at).
    pub(crate) raw: Piece<'a>,
    /// Without its surrounding quotes.
    pub(crate) text: &'a str,
}

/// The parts after `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RightSide<'a> {
    pub(crate) default: Option<Default<'a>>,
    pub(crate) code: Option<Piece<'a>>,
    pub(crate) url: Option<Piece<'a>>,
}

/// Offset of `inner` (a subslice) within `outer`.
fn offset(outer: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

fn piece<'a>(line: &'a str, text: &'a str) -> Piece<'a> {
    Piece {
        at: offset(line, text),
        text,
    }
}

/// Cuts one line (without its newline).
pub(crate) fn read_line(line: &str) -> Result<Line<'_>, LineError> {
    let (code_part, comment) = match line.split_once('#') {
        Some((code, comment)) => (code, Some(comment.trim()).filter(|c| !c.is_empty())),
        None => (line, None),
    };
    let content = code_part.trim();
    if content.is_empty() {
        return Ok(Line::Blank);
    }
    let content_at = offset(line, content);
    let Some(eq) = content.find('=') else {
        let text = content.to_owned();
        return Err((content_at, SchemaErrorKind::MissingEquals { text }));
    };
    let (left, right) = (&content[..eq], &content[eq + 1..]);
    if let Some(key) = left.strip_prefix('@') {
        return Ok(Line::Property {
            key: piece(line, key.trim()),
            value: piece(line, super::value::strip_quotes(right.trim())),
            content: piece(line, content),
        });
    }
    let (nr, rest) = match left.split_once(':') {
        Some((nr, rest)) => (Some(piece(line, nr.trim())), rest),
        None => (None, left),
    };
    let rest = rest.trim();
    let (unique, rest) = match rest.strip_prefix('&') {
        Some(r) => (true, r.trim_start()),
        None => (false, rest),
    };
    let name = rest.trim_end_matches('*');
    let marks = &rest[name.len()..];
    let right = read_right(line, right)?;
    Ok(Line::Field(RawField {
        content: piece(line, content),
        nr,
        unique,
        name: piece(line, name.trim_end()),
        marks: piece(line, marks),
        default: right.default,
        code: right.code,
        url: right.url,
        comment,
    }))
}

/// Reads `[DEFAULT] [(TYPE)] [!URL]`. `right` must be a subslice of `line`.
pub(crate) fn read_right<'a>(line: &'a str, right: &'a str) -> Result<RightSide<'a>, LineError> {
    let mut out = RightSide::default();
    let mut rest = right.trim_start();
    if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let Some(close) = rest[1..].find(quote) else {
            let text = rest.trim_end().to_owned();
            return Err((
                offset(line, rest),
                SchemaErrorKind::UnterminatedQuote { text },
            ));
        };
        out.default = Some(Default {
            raw: piece(line, &rest[..close + 2]),
            text: &rest[1..close + 1],
        });
        rest = rest[close + 2..].trim_start();
    } else {
        let end = rest.find(['(', '!']).unwrap_or(rest.len());
        let text = rest[..end].trim_end();
        if !text.is_empty() {
            out.default = Some(Default {
                raw: piece(line, text),
                text,
            });
        }
        rest = &rest[end..];
    }
    if let Some(inside) = rest.strip_prefix('(') {
        let Some(close) = inside.find(')') else {
            let text = rest.trim_end().to_owned();
            return Err((
                offset(line, rest),
                SchemaErrorKind::UnterminatedType { text },
            ));
        };
        out.code = Some(piece(line, inside[..close].trim()));
        rest = inside[close + 1..].trim_start();
    }
    if let Some(url) = rest.strip_prefix('!') {
        out.url = Some(Piece {
            at: offset(line, rest),
            text: url.trim(),
        });
        rest = "";
    }
    if !rest.trim().is_empty() {
        let text = rest.trim_end().to_owned();
        return Err((offset(line, rest), SchemaErrorKind::UnexpectedText { text }));
    }
    Ok(out)
}

/// The default text the lexer reads from `= {written}`, or `None` if it reads no default
/// or not all of `written` as the default. Lets the printer check its quoting.
pub(crate) fn reads_back(written: &str) -> Option<&str> {
    match read_right(written, written) {
        Ok(RightSide {
            default: Some(d),
            code: None,
            url: None,
        }) if d.raw.at == 0 && d.raw.text.len() == written.len() => Some(d.text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(line: &str) -> RawField<'_> {
        match read_line(line) {
            Ok(Line::Field(f)) => f,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn field_parts() {
        let f = field(" 3: &name** = \"a(b\" (S) !x.y # note # more");
        assert_eq!(f.nr.map(|p| p.text), Some("3"));
        assert!(f.unique);
        assert_eq!((f.name.text, f.name.at), ("name", 5));
        assert_eq!(f.marks.text, "**");
        let d = f.default.unwrap();
        assert_eq!((d.text, d.raw.text, d.raw.at), ("a(b", "\"a(b\"", 14));
        assert_eq!(f.code.map(|p| (p.text, p.at)), Some(("S", 21)));
        assert_eq!(f.url.map(|p| (p.text, p.at)), Some(("x.y", 24)));
        assert_eq!(f.comment, Some("note # more"));
    }

    #[test]
    fn unquoted_defaults_stop_at_the_type() {
        let f = field("a = 1.5 (F)");
        assert_eq!(f.default.unwrap().text, "1.5");
        assert!(field("a =").default.is_none());
        assert!(field("a = (O) !b.c").default.is_none());
    }

    #[test]
    fn malformed_lines() {
        let err = |line| read_line(line).unwrap_err();
        assert!(matches!(
            err("  abc"),
            (2, SchemaErrorKind::MissingEquals { .. })
        ));
        assert!(matches!(
            err("a = \"x # y\""),
            (4, SchemaErrorKind::UnterminatedQuote { .. })
        ));
        assert!(matches!(
            err("a = (S"),
            (4, SchemaErrorKind::UnterminatedType { .. })
        ));
        assert!(matches!(
            err("a = \"x\" y"),
            (8, SchemaErrorKind::UnexpectedText { .. })
        ));
        assert!(matches!(
            err("a = (S) (I)"),
            (8, SchemaErrorKind::UnexpectedText { .. })
        ));
    }

    #[test]
    fn reads_back_whole_defaults_only() {
        assert_eq!(reads_back("\"a(b\""), Some("a(b"));
        assert_eq!(reads_back("a(b"), None);
        assert_eq!(reads_back("'x\"y'"), Some("x\"y"));
    }
}
