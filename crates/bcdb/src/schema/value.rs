//! Typed default values, and reading a default literal as the field's type (spec §1.3, §1.4).
//!
//! A default is kept as the value it means, not as the text it was written as, so two schemas
//! that say the same thing compare equal and print the same. The reverse direction,
//! [`literal`], writes a value back in a form [`coerce_scalar`] reads as the same value; the
//! round-trip tests rely on that pair staying in step.

use super::time;
use super::types::{FieldType, Scalar};

/// A value of a field's type: a schema default, or a value of a typed object
/// ([`crate::object`]), which also uses [`Value::Bytes`] and [`Value::Object`] (no default
/// can be written for those).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text types: `S`, `MULTILINE` (with real newlines), `EMAIL`, `TEL` (normalised), `IPADDR`,
    /// `IPRANGE`, `GUID` (lower-case), `URL`, `PATH`, `JSON`, `YAML`, and untyped list items.
    Str(String),
    /// `I`, `I64`, `IPPORT`, and the seconds of `D`, `T` and `DURATION`.
    Int(i64),
    /// `F`, and `P` (the percentage as written: `5%` is 5.0).
    Float(f64),
    /// `B`.
    Bool(bool),
    /// `N`.
    Numeric(Numeric),
    /// `E`: the index into the enum's values (always 0: the first value is the default).
    Enum(u8),
    /// `H`: the two halves of `a:b`.
    Hash(u32, u32),
    /// A typed or untyped list; never empty in a default (an empty list is "no default").
    List(Vec<Value>),
    /// `BYTES`, `MSGPACK`, `CAPNPBIN` in an object (never a default).
    Bytes(Vec<u8>),
    /// `O` in an object: the embedded object's values by field number (never a default).
    Object(std::collections::BTreeMap<u16, Value>),
}

/// An amount as `N` reads it: `10 USD`, `0.1mEUR`, `10k`, `5%`.
#[derive(Debug, Clone, PartialEq)]
pub struct Numeric {
    /// The number as written, before the scale.
    pub amount: Amount,
    /// The suffix right after the number.
    pub scale: NumericScale,
    /// The currency code, upper-cased; `None` when not given (the store decides which).
    pub currency: Option<String>,
}

/// The number part of a [`Numeric`]: an integer unless written with a `.`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// Written without a `.`.
    Int(i64),
    /// Written with a `.`.
    Float(f64),
}

/// The suffix of a [`Numeric`], which the binary encoding keeps as its kind byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumericScale {
    /// No suffix.
    One,
    /// `k`: × 1000.
    Thousand,
    /// `m`: × 10⁶.
    Million,
    /// `%`.
    Percent,
}

/// Why a default was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CoerceError {
    /// The type has no textual default.
    NotAllowed,
    /// The text is not a value of the type.
    Bad(String),
}

impl From<String> for CoerceError {
    fn from(reason: String) -> Self {
        CoerceError::Bad(reason)
    }
}

impl From<&str> for CoerceError {
    fn from(reason: &str) -> Self {
        CoerceError::Bad(reason.to_owned())
    }
}

/// Reads a default (quotes already removed, not empty) as a value of `ty`. Enums are not
/// read here: their default slot holds the value list.
pub(crate) fn coerce(ty: &FieldType, text: &str) -> Result<Option<Value>, CoerceError> {
    match ty {
        FieldType::Scalar(s) => coerce_scalar(*s, text).map(Some),
        FieldType::Enum(_) => Ok(Some(Value::Enum(0))),
        FieldType::Object(_) => Err(CoerceError::NotAllowed),
        FieldType::List(inner) => {
            let items = split_list(text);
            if items.is_empty() {
                return Ok(None);
            }
            let read = |item: &str| -> Result<Value, CoerceError> {
                if item.is_empty() {
                    return Err("empty list item".into());
                }
                match inner.as_deref() {
                    None => Ok(Value::Str(item.to_owned())),
                    Some(FieldType::Scalar(s)) => coerce_scalar(*s, item),
                    Some(_) => Err(CoerceError::NotAllowed),
                }
            };
            items
                .into_iter()
                .map(read)
                .collect::<Result<_, _>>()
                .map(|v| Some(Value::List(v)))
        }
    }
}

/// The items of a list default: an optional `[ ]` around comma-separated items, each trimmed
/// and stripped of one pair of surrounding quotes. Nothing inside the brackets is no item.
pub(crate) fn split_list(text: &str) -> Vec<&str> {
    let text = text.trim();
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if inner.trim().is_empty() {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|item| strip_quotes(item.trim()))
        .collect()
}

/// Removes one pair of matching `'` or `"` around `text`, as §1.2 does for values.
pub(crate) fn strip_quotes(text: &str) -> &str {
    for q in ['"', '\''] {
        if text.len() >= 2 && text.starts_with(q) && text.ends_with(q) {
            return &text[1..text.len() - 1];
        }
    }
    text
}

/// Reads one scalar value (quotes removed, not empty).
pub(crate) fn coerce_scalar(s: Scalar, text: &str) -> Result<Value, CoerceError> {
    let t = text.trim();
    Ok(match s {
        Scalar::String | Scalar::Path | Scalar::Yaml => Value::Str(text.to_owned()),
        Scalar::Multiline => Value::Str(text.replace("\\n", "\n")),
        Scalar::Json => {
            serde_json::from_str::<serde_json::Value>(text).map_err(|e| e.to_string())?;
            Value::Str(text.to_owned())
        }
        Scalar::Int => Value::Int(int_in(t, i64::from(i32::MIN), i64::from(i32::MAX))?),
        Scalar::Int64 => Value::Int(int_in(t, i64::MIN, i64::MAX)?),
        Scalar::IpPort => Value::Int(int_in(t, 0, 65_535)?),
        Scalar::Float => Value::Float(float(t)?),
        Scalar::Percent => Value::Float(float(t.strip_suffix('%').unwrap_or(t).trim_end())?),
        Scalar::Bool => Value::Bool(boolean(t)?),
        Scalar::Date => Value::Int(time::parse_date(t)?),
        Scalar::DateTime => Value::Int(time::parse_datetime(t)?),
        Scalar::Duration => Value::Int(time::parse_duration(t)?),
        Scalar::Numeric => Value::Numeric(numeric(t)?),
        Scalar::Email => Value::Str(email(t)?),
        Scalar::Tel => Value::Str(tel(t)?),
        Scalar::IpAddr => Value::Str(ip(t)?.to_string()),
        Scalar::IpRange => Value::Str(ip_range(t)?),
        Scalar::Guid => Value::Str(guid(t)?),
        Scalar::Url if t.chars().any(char::is_whitespace) => {
            return Err("a url has no spaces".into())
        }
        Scalar::Url => Value::Str(t.to_owned()),
        Scalar::Hash => {
            let (a, b) = t.split_once(':').ok_or("expected a:b")?;
            let half = |h: &str| h.trim().parse::<u32>().map_err(|e| e.to_string());
            Value::Hash(half(a)?, half(b)?)
        }
        Scalar::Bytes | Scalar::Dict | Scalar::Msgpack | Scalar::CapnpBin => {
            return Err(CoerceError::NotAllowed)
        }
    })
}

/// Writes a value (of scalar type `s`, or an untyped list item when `s` is `None`) as text
/// that [`coerce_scalar`] reads back as the same value; quoting is the printer's business.
pub(crate) fn literal(s: Option<Scalar>, value: &Value) -> String {
    match value {
        Value::Str(text) if s == Some(Scalar::Multiline) => text.replace('\n', "\\n"),
        Value::Str(text) => text.clone(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => b.to_string(),
        Value::Numeric(n) => numeric_text(n),
        Value::Enum(i) => i.to_string(),
        Value::Hash(a, b) => format!("{a}:{b}"),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|v| literal(s, v)).collect();
            format!("[{}]", items.join(", "))
        }
        // Neither is ever a default; written as something, not nothing, for `Debug`-like use.
        Value::Bytes(bytes) => hex::encode(bytes),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// A float as decimal text that always holds a `.` (so it reads back as a float and never
/// needs an exponent; `Display` for `f64` is exact).
pub(crate) fn float_text(f: f64) -> String {
    let text = f.to_string();
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

fn int_in(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = text.parse().map_err(|_| "not an integer".to_owned())?;
    if n < min || n > max {
        return Err(format!("outside {min}..={max}"));
    }
    Ok(n)
}

fn float(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err("not a finite number".into()),
    }
}

fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "on" => Ok(true),
        "false" | "f" | "no" | "n" | "0" | "off" => Ok(false),
        _ => Err("expected true/false, yes/no, y/n, 1/0 or on/off".into()),
    }
}

/// `-?digits[.digits]`, then `k`, `m` or `%` right after the number, then an optional
/// currency of letters (after optional spaces). `10mxn` is 10 million "XN"; `10 mxn` is
/// 10 "MXN": the scale only counts when it touches the number.
fn numeric(text: &str) -> Result<Numeric, String> {
    let bad = || "expected an amount like 10, 0.5k, 1m, 5%, with an optional currency".to_owned();
    let sign = usize::from(text.starts_with('-'));
    let number_end = text[sign..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(text.len(), |at| at + sign);
    let number = &text[..number_end];
    let digits = &number[sign..];
    let well_formed = match digits.split_once('.') {
        Some((whole, frac)) => is_digits(whole) && is_digits(frac),
        None => is_digits(digits),
    };
    if !well_formed {
        return Err(bad());
    }
    let amount = if digits.contains('.') {
        Amount::Float(float(number)?)
    } else {
        Amount::Int(
            number
                .parse()
                .map_err(|_| "amount out of range".to_owned())?,
        )
    };
    let rest = &text[number_end..];
    let (scale, rest) = match rest.chars().next() {
        Some('k') => (NumericScale::Thousand, &rest[1..]),
        Some('m') => (NumericScale::Million, &rest[1..]),
        Some('%') => (NumericScale::Percent, &rest[1..]),
        _ => (NumericScale::One, rest),
    };
    let rest = rest.trim_start();
    let currency = if rest.is_empty() {
        None
    } else if rest.len() <= 8 && rest.bytes().all(|b| b.is_ascii_alphabetic()) {
        Some(rest.to_ascii_uppercase())
    } else {
        return Err(bad());
    };
    Ok(Numeric {
        amount,
        scale,
        currency,
    })
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn numeric_text(n: &Numeric) -> String {
    let mut out = match n.amount {
        Amount::Int(i) => i.to_string(),
        Amount::Float(f) => float_text(f),
    };
    out.push_str(match n.scale {
        NumericScale::One => "",
        NumericScale::Thousand => "k",
        NumericScale::Million => "m",
        NumericScale::Percent => "%",
    });
    if let Some(currency) = &n.currency {
        out.push(' ');
        out.push_str(currency);
    }
    out
}

fn email(text: &str) -> Result<String, String> {
    let (local, domain) = text.split_once('@').ok_or("no @")?;
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(text.to_owned())
    } else {
        Err("expected local@domain.tld".into())
    }
}

/// Keeps a leading `+` and the digits; spaces, dashes, dots, slashes and parentheses go.
fn tel(text: &str) -> Result<String, String> {
    let plus = text.starts_with('+');
    let mut out = String::from(if plus { "+" } else { "" });
    for c in text[usize::from(plus)..].chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' => {}
            _ => return Err(format!("{c:?} in a phone number")),
        }
    }
    let n_digits = out.len() - usize::from(plus);
    if (3..=20).contains(&n_digits) {
        Ok(out)
    } else {
        Err("a phone number has 3 to 20 digits".into())
    }
}

fn ip(text: &str) -> Result<std::net::IpAddr, String> {
    text.parse()
        .map_err(|_| "not an IPv4 or IPv6 address".to_owned())
}

fn ip_range(text: &str) -> Result<String, String> {
    let (addr, prefix) = text.split_once('/').ok_or("expected address/prefix")?;
    let addr = ip(addr)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(p) if p <= max && is_digits(prefix) => Ok(format!("{addr}/{p}")),
        _ => Err(format!("prefix {prefix:?} is not 0..={max}")),
    }
}

/// 32 hex digits, with or without the dashes; kept lower-case with dashes.
fn guid(text: &str) -> Result<String, String> {
    let hex: String = text.chars().filter(|&c| c != '-').collect();
    let dashes_ok = text.len() == 32
        || (text.len() == 36 && [8, 13, 18, 23].iter().all(|&i| text.as_bytes()[i] == b'-'));
    if hex.len() != 32 || !dashes_ok || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("expected a UUID (8-4-4-4-12 hex digits)".into());
    }
    let h = hex.to_ascii_lowercase();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: Scalar, text: &str) -> Value {
        let v = coerce_scalar(s, text).unwrap_or_else(|e| panic!("{s:?} {text:?}: {e:?}"));
        assert_eq!(
            coerce_scalar(s, &literal(Some(s), &v)),
            Ok(v.clone()),
            "{s:?} {text:?}"
        );
        v
    }

    #[test]
    fn values_read_back_from_their_literal() {
        round_trip(Scalar::Float, "1e21");
        round_trip(Scalar::Float, "0.1");
        round_trip(Scalar::Percent, "5%");
        round_trip(Scalar::Multiline, "a\\nb\\\\nc");
        round_trip(Scalar::Numeric, "0.1mEUR");
        round_trip(Scalar::Numeric, "-10 mxn");
        round_trip(Scalar::Guid, "0123456789ABCDEF0123456789abcdef");
        round_trip(Scalar::IpRange, "::1/128");
        round_trip(Scalar::Tel, "+32 (0)475 12-34");
    }

    #[test]
    fn numerics() {
        let n = |t| numeric(t).unwrap();
        assert_eq!(n("10mxn").currency.as_deref(), Some("XN"));
        assert_eq!(n("10 mxn").scale, NumericScale::One);
        assert_eq!(n("5%").scale, NumericScale::Percent);
        for bad in ["", "-", ".5", "5.", "1.2.3", "10 U5D", "10 USD x", "1e5"] {
            assert!(numeric(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_split_on_commas() {
        assert_eq!(split_list("[a, 'b', \"c\" ]"), ["a", "b", "c"]);
        assert_eq!(split_list("a,b"), ["a", "b"]);
        assert!(split_list("[ ]").is_empty());
        assert_eq!(split_list("[a,]"), ["a", ""]);
    }
}
