//! Index keys and their order: numbers before text, numbers compared as numbers whatever
//! their type (9 < 30 and 3 = 3.0), text compared byte by byte (code point order).
//!
//! Booleans are the integers 0 and 1. A NaN sorts below every other number and equals
//! itself, so the order stays total.
//!
//! A text key carries its first eight bytes inline: most comparisons in a B-tree of a
//! million keys are settled there without following the pointer to the text, which was
//! the largest cost of a typed write when keys were plain strings.

use std::cmp::Ordering;

use crate::object::IndexValue;

/// One indexed value.
#[derive(Debug, Clone)]
pub(crate) enum Key {
    /// Integers, booleans (0/1), dates and times.
    Int(i64),
    /// Floats, percentages and numerics.
    Real(f64),
    /// Text and enum value names.
    Text(Text),
}

/// A string with its first eight bytes inline, zero-padded, as a big-endian number.
#[derive(Clone)]
pub(crate) struct Text {
    head: u64,
    text: Box<str>,
}

impl Text {
    pub(crate) fn new(text: &str) -> Text {
        let mut head = [0u8; 8];
        let n = text.len().min(8);
        head[..n].copy_from_slice(&text.as_bytes()[..n]);
        Text {
            head: u64::from_be_bytes(head),
            text: text.into(),
        }
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> Ordering {
        self.head.cmp(&other.head).then_with(|| {
            if self.text.len() <= 8 && other.text.len() <= 8 {
                // both whole in `head`: equal heads mean one is a prefix of the other
                self.text.len().cmp(&other.text.len())
            } else {
                self.text.as_bytes()[8.min(self.text.len())..]
                    .cmp(&other.text.as_bytes()[8.min(other.text.len())..])
            }
        })
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Text {}

impl Key {
    /// Whether this is a text key starting with `prefix`.
    pub(crate) fn starts_with(&self, prefix: &str) -> bool {
        matches!(self, Key::Text(t) if t.text.starts_with(prefix))
    }

    /// The key of an indexed value.
    pub(crate) fn of(value: &IndexValue) -> Key {
        match value {
            IndexValue::Text(s) => Key::Text(Text::new(s)),
            IndexValue::Integer(i) => Key::Int(*i),
            IndexValue::Real(f) => Key::Real(*f),
            IndexValue::Boolean(b) => Key::Int(i64::from(*b)),
        }
    }
}

/// 2^63, the first real above every i64.
const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;

/// `i` against `r`, exactly: equal only when `r` is the same integer.
fn int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        return Ordering::Greater;
    }
    #[allow(clippy::cast_precision_loss)] // ties are settled exactly below
    match (i as f64).partial_cmp(&r) {
        Some(Ordering::Equal) => {
            // `r` is integral here; outside i64 it is beyond every i
            if r >= TWO_TO_63 {
                Ordering::Less
            } else if r < -TWO_TO_63 {
                Ordering::Greater
            } else {
                #[allow(clippy::cast_possible_truncation)] // integral and in range
                i.cmp(&(r as i64))
            }
        }
        Some(other) => other,
        None => Ordering::Greater,
    }
}

fn real_real(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        // -0.0 == 0.0, as in SQL
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Int(a), Key::Real(b)) => int_real(*a, *b),
            (Key::Real(a), Key::Int(b)) => int_real(*b, *a).reverse(),
            (Key::Real(a), Key::Real(b)) => real_real(*a, *b),
            (Key::Text(a), Key::Text(b)) => a.cmp(b),
            (Key::Text(_), _) => Ordering::Greater,
            (_, Key::Text(_)) => Ordering::Less,
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

#[cfg(test)]
mod tests {
    use super::Key::{Int, Real};
    use super::*;

    fn text(s: &str) -> Key {
        Key::Text(Text::new(s))
    }

    #[test]
    fn numbers_before_text_and_numbers_by_value() {
        let mut keys = vec![
            text("9"),
            Int(30),
            Real(9.5),
            text("30"),
            Int(9),
            Real(f64::NAN),
            Real(-1e300),
            Int(i64::MAX),
            Real(1e19),
        ];
        keys.sort();
        let shown: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        assert_eq!(
            shown,
            [
                "Real(NaN)",
                "Real(-1e300)",
                "Int(9)",
                "Real(9.5)",
                "Int(30)",
                "Int(9223372036854775807)",
                "Real(1e19)",
                "Text(\"30\")",
                "Text(\"9\")",
            ]
        );
    }

    #[test]
    fn integers_and_reals_of_one_value_are_one_key() {
        assert_eq!(Int(3), Real(3.0));
        assert_eq!(Real(-0.0), Real(0.0));
        assert_ne!(Int(3), Real(3.000_000_1));
        // 2^53 + 1 is not representable: the real nearest it is 2^53, a different number
        assert!(Int((1 << 53) + 1) > Real(9_007_199_254_740_992.0));
        assert_eq!(Key::of(&IndexValue::Boolean(true)), Int(1));
    }

    #[test]
    fn text_keys_order_as_their_bytes() {
        let words = [
            "",
            "\0",
            "a",
            "a\0",
            "a\0\0\0\0\0\0\0",
            "a\0\0\0\0\0\0\0\0",
            "a\0\0\0\0\0\0\0z",
            "ab",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "abcdefgi",
            "abcdefgha",
            "b",
            "é",
            "\u{10FFFF}",
            "node-00000000",
            "node-00000001",
            "node-0000000",
            "zzzzzzzzzzzz",
        ];
        for a in words {
            for b in words {
                assert_eq!(text(a).cmp(&text(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
