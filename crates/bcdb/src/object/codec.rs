//! The canonical byte encoding of an object's values (layout in the [`super`] module doc).
//!
//! Decoding here is structural and schema-free: it refuses anything `encode` could not have
//! written (unknown tags and versions, numbers out of order, a bool other than 0/1, a
//! non-finite or negative-zero float, invalid UTF-8, a bad currency, lengths past the end or
//! the bounds, trailing bytes); [`super::check`] then holds the values against the schema.
//! Every read is bounds-checked, and no allocation is larger than the input can justify.

use std::collections::BTreeMap;

use super::{ObjectError, MAX_DEPTH, MAX_LIST, MAX_STRING, OBJECT_VERSION};
use crate::schema::{Amount, Numeric, NumericScale, Value};

const TEXT: u8 = 0x01;
const INT: u8 = 0x02;
const FLOAT: u8 = 0x03;
const BOOL: u8 = 0x04;
const NUMERIC: u8 = 0x05;
const ENUM: u8 = 0x06;
const HASH: u8 = 0x07;
const LIST: u8 = 0x08;
const BYTES: u8 = 0x09;
const OBJECT: u8 = 0x0a;

/// Version byte, then the fields.
pub(super) fn encode(fields: &BTreeMap<u16, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(fields));
    out.push(OBJECT_VERSION);
    write_fields(&mut out, fields);
    debug_assert_eq!(
        out.len(),
        encoded_len(fields),
        "encoded_len follows the layout"
    );
    out
}

/// The length of [`encode`]'s output, without building it.
pub(super) fn encoded_len(fields: &BTreeMap<u16, Value>) -> usize {
    1 + fields_len(fields)
}

/// Count, then number and value of each field.
fn fields_len(fields: &BTreeMap<u16, Value>) -> usize {
    4 + fields.values().map(|v| 2 + value_len(v)).sum::<usize>()
}

/// The encoded length of one value (tag and payload), as [`encode`] writes it.
pub(super) fn value_len(value: &Value) -> usize {
    1 + match value {
        Value::Str(t) => 4 + t.len(),
        Value::Int(_) | Value::Float(_) | Value::Hash(_, _) => 8,
        Value::Bool(_) | Value::Enum(_) => 1,
        Value::Numeric(n) => 11 + n.currency.as_ref().map_or(0, String::len),
        Value::List(items) => 4 + items.iter().map(value_len).sum::<usize>(),
        Value::Bytes(b) => 4 + b.len(),
        Value::Object(fields) => fields_len(fields),
    }
}

fn write_fields(out: &mut Vec<u8>, fields: &BTreeMap<u16, Value>) {
    len32(out, fields.len());
    for (nr, value) in fields {
        out.extend_from_slice(&nr.to_le_bytes());
        write_value(out, value);
    }
}

/// A length as u32 LE. Objects are bounded by `MAX_OBJECT_BYTES`, far below 4 GiB.
fn len32(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("object values are bounded far below 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(t) => {
            out.push(TEXT);
            len32(out, t.len());
            out.extend_from_slice(t.as_bytes());
        }
        Value::Int(n) => {
            out.push(INT);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&plus_zero(*f).to_le_bytes());
        }
        Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        Value::Numeric(n) => write_numeric(out, n),
        Value::Enum(i) => out.extend_from_slice(&[ENUM, *i]),
        Value::Hash(a, b) => {
            out.push(HASH);
            out.extend_from_slice(&a.to_le_bytes());
            out.extend_from_slice(&b.to_le_bytes());
        }
        Value::List(items) => {
            out.push(LIST);
            len32(out, items.len());
            items.iter().for_each(|item| write_value(out, item));
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            len32(out, b.len());
            out.extend_from_slice(b);
        }
        Value::Object(fields) => {
            out.push(OBJECT);
            write_fields(out, fields);
        }
    }
}

/// Objects never hold `-0.0`; this keeps the bytes canonical even if one slipped in.
fn plus_zero(f: f64) -> f64 {
    if f == 0.0 {
        0.0
    } else {
        f
    }
}

fn write_numeric(out: &mut Vec<u8>, n: &Numeric) {
    out.push(NUMERIC);
    out.push(match n.scale {
        NumericScale::One => 0,
        NumericScale::Thousand => 1,
        NumericScale::Million => 2,
        NumericScale::Percent => 3,
    });
    match n.amount {
        Amount::Int(i) => {
            out.push(0);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Amount::Float(f) => {
            out.push(1);
            out.extend_from_slice(&plus_zero(f).to_le_bytes());
        }
    }
    let currency = n.currency.as_deref().unwrap_or("");
    out.push(u8::try_from(currency.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(currency.as_bytes());
}

/// Reads `version ‖ fields`, which must end where `bytes` ends.
pub(super) fn decode(bytes: &[u8]) -> Result<BTreeMap<u16, Value>, ObjectError> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.u8()?;
    if version != OBJECT_VERSION {
        return Err(malformed(0, format!("unknown version {version}")));
    }
    let fields = r.fields(0)?;
    if r.pos != bytes.len() {
        let extra = bytes.len() - r.pos;
        return Err(malformed(r.pos, format!("{extra} bytes after the object")));
    }
    Ok(fields)
}

fn malformed(at: usize, reason: String) -> ObjectError {
    ObjectError::Malformed { at, reason }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ObjectError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(malformed(self.pos, format!("{n} bytes needed, input ends")));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ObjectError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, ObjectError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, ObjectError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A u32 length or count, at most `max` and at most what is left (each unit at least
    /// `unit` bytes), so no allocation outgrows the input.
    fn count(&mut self, max: usize, unit: usize) -> Result<usize, ObjectError> {
        let at = self.pos;
        let n = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
        if n > max {
            return Err(malformed(at, format!("length {n}, more than {max}")));
        }
        if n.saturating_mul(unit) > self.bytes.len() - self.pos {
            return Err(malformed(at, format!("length {n} runs past the end")));
        }
        Ok(n)
    }

    fn float(&mut self) -> Result<f64, ObjectError> {
        let at = self.pos;
        let f = f64::from_le_bytes(self.array()?);
        if !f.is_finite() || (f == 0.0 && f.is_sign_negative()) {
            return Err(malformed(at, format!("float {f} (only finite, no -0.0)")));
        }
        Ok(f)
    }

    /// A count, then that many fields, numbers strictly ascending.
    fn fields(&mut self, depth: usize) -> Result<BTreeMap<u16, Value>, ObjectError> {
        // Every field is at least a number, a tag and one byte.
        let n = self.count(usize::from(u16::MAX) + 1, 4)?;
        let mut out = BTreeMap::new();
        let mut last: Option<u16> = None;
        for _ in 0..n {
            let at = self.pos;
            let nr = u16::from_le_bytes(self.array()?);
            if last.is_some_and(|l| nr <= l) {
                return Err(malformed(at, format!("field {nr} out of order")));
            }
            last = Some(nr);
            let value = self.value(depth)?;
            out.insert(nr, value);
        }
        Ok(out)
    }

    fn value(&mut self, depth: usize) -> Result<Value, ObjectError> {
        let at = self.pos;
        Ok(match self.u8()? {
            TEXT => {
                let n = self.count(MAX_STRING, 1)?;
                let text_at = self.pos;
                let bytes = self.take(n)?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|e| malformed(text_at, format!("text is not UTF-8: {e}")))?;
                Value::Str(text.to_owned())
            }
            INT => Value::Int(i64::from_le_bytes(self.array()?)),
            FLOAT => Value::Float(self.float()?),
            BOOL => match self.u8()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(malformed(at + 1, format!("bool byte {b}"))),
            },
            NUMERIC => self.numeric()?,
            ENUM => Value::Enum(self.u8()?),
            HASH => Value::Hash(self.u32()?, self.u32()?),
            LIST => {
                // Every item is at least a tag and one byte.
                let n = self.count(MAX_LIST, 2)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth)?);
                }
                Value::List(items)
            }
            BYTES => {
                let n = self.count(MAX_STRING, 1)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            OBJECT => {
                if depth >= MAX_DEPTH {
                    let reason = format!("objects nested more than {MAX_DEPTH} deep");
                    return Err(malformed(at, reason));
                }
                Value::Object(self.fields(depth + 1)?)
            }
            tag => return Err(malformed(at, format!("unknown tag {tag:#04x}"))),
        })
    }

    fn numeric(&mut self) -> Result<Value, ObjectError> {
        let at = self.pos;
        let scale = match self.u8()? {
            0 => NumericScale::One,
            1 => NumericScale::Thousand,
            2 => NumericScale::Million,
            3 => NumericScale::Percent,
            s => return Err(malformed(at, format!("numeric scale {s}"))),
        };
        let amount = match self.u8()? {
            0 => Amount::Int(i64::from_le_bytes(self.array()?)),
            1 => Amount::Float(self.float()?),
            k => return Err(malformed(at + 1, format!("numeric amount kind {k}"))),
        };
        let len_at = self.pos;
        let len = usize::from(self.u8()?);
        if len > 8 {
            return Err(malformed(len_at, format!("currency of {len} letters")));
        }
        let letters = self.take(len)?;
        if !letters.iter().all(u8::is_ascii_uppercase) {
            return Err(malformed(len_at + 1, "currency is not A-Z".to_owned()));
        }
        let currency = (len > 0).then(|| String::from_utf8_lossy(letters).into_owned());
        Ok(Value::Numeric(Numeric {
            amount,
            scale,
            currency,
        }))
    }
}
