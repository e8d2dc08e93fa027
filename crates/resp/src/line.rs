//! Header lines shared by requests and replies: finding a bounded `\r\n` and reading its decimal.

/// Why a header line could not be delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    /// No `\r\n` within the allowed line length.
    TooLong,
    /// A `\n` without a preceding `\r`, or a `\r` followed by something else.
    MissingCrlf,
    /// A payload length that cannot be an offset in memory.
    Overflow,
}

/// Finds the `\r` ending the line whose type byte is at `start`.
///
/// The whole line, type byte and `\r\n` included, may be at most `max_line`
/// bytes long. Returns `Ok(None)` while the line may still be completed by more
/// input; only the first `max_line` bytes of the line are ever scanned.
#[inline(never)]
pub(crate) fn find_line(
    buf: &[u8],
    start: usize,
    max_line: usize,
) -> Result<Option<usize>, LineError> {
    // The `\r` may sit at most at `start + max_line - 2`.
    let window_end = start.saturating_add(max_line.saturating_sub(1));
    let from = start.saturating_add(1);
    let to = window_end.min(buf.len());
    let window = buf.get(from..to).unwrap_or(&[]);
    match memchr::memchr2(b'\r', b'\n', window) {
        Some(i) => {
            let cr = from + i;
            if buf[cr] == b'\n' {
                return Err(LineError::MissingCrlf);
            }
            match buf.get(cr + 1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some(cr)),
                Some(_) => Err(LineError::MissingCrlf),
            }
        }
        None if buf.len() >= window_end => Err(LineError::TooLong),
        None => Ok(None),
    }
}

/// Reads a numeric header line (`*N`, `$N`, `:N`) whose type byte is at `start`.
///
/// Returns the value, `None` if the line is not `-?[0-9]+` or overflows, and
/// the offset just past the line. Errors and `Ok(None)` are as for [`find_line`].
#[inline(always)]
pub(crate) fn numeric_line(
    buf: &[u8],
    start: usize,
    max_line: usize,
) -> Result<Option<(Option<Decimal>, usize)>, LineError> {
    if let Some((d, next)) = short_decimal_line(buf, start, max_line) {
        return Ok(Some((Some(d), next)));
    }
    let Some(cr) = find_line(buf, start, max_line)? else {
        return Ok(None);
    };
    Ok(Some((parse_decimal(&buf[start + 1..cr]), cr + 2)))
}

/// The common case of [`numeric_line`] in one pass: a well-formed, complete,
/// short line. `None` sends the caller to the general path, which also
/// classifies errors.
#[inline(always)]
fn short_decimal_line(buf: &[u8], start: usize, max_line: usize) -> Option<(Decimal, usize)> {
    // Longest text that leaves room for the type byte and CRLF.
    let max_text = max_line.checked_sub(3)?;
    let text = buf.get(start + 1..)?;
    let negative = text.first() == Some(&b'-');
    let first_digit = usize::from(negative);
    let mut i = first_digit;
    let mut magnitude: u64 = 0;
    while let Some(&b) = text.get(i) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 || i >= max_text {
            break;
        }
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(digit))?;
        i += 1;
    }
    let done = i > first_digit && text.get(i) == Some(&b'\r') && text.get(i + 1) == Some(&b'\n');
    done.then_some((
        Decimal {
            negative,
            magnitude,
        },
        start + 1 + i + 2,
    ))
}

/// Checks the `\r\n` after a payload of `len` bytes starting at `data`.
///
/// Returns the offset just past that `\r\n`, or `Ok(None)` while it has not fully
/// arrived; a wrong byte is reported as soon as it is buffered.
#[inline(always)]
pub(crate) fn payload_end(buf: &[u8], data: usize, len: usize) -> Result<Option<usize>, LineError> {
    // `data <= buf.len()` and `len` is bounded by a limit, but stay checked anyway.
    let end = data
        .checked_add(len)
        .and_then(|e| e.checked_add(2))
        .ok_or(LineError::Overflow)?;
    let trailer = buf.get(end - 2..).unwrap_or(&[]);
    if trailer.first().is_some_and(|&b| b != b'\r') || trailer.get(1).is_some_and(|&b| b != b'\n') {
        return Err(LineError::MissingCrlf);
    }
    Ok((trailer.len() >= 2).then_some(end))
}

/// A decimal read from a header line: its sign and magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    /// A leading `-` was present.
    pub(crate) negative: bool,
    /// The digits' value.
    pub(crate) magnitude: u64,
}

/// Reads `-?[0-9]+` with checked arithmetic; `None` on anything else or on overflow.
#[inline]
pub(crate) fn parse_decimal(text: &[u8]) -> Option<Decimal> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &b in digits {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(Decimal {
        negative,
        magnitude,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_line(input: &[u8], max_line: usize, expected: Result<Option<usize>, LineError>) {
        assert_eq!(find_line(input, 0, max_line), expected, "input {input:?}");
    }

    #[test]
    fn lines() {
        check_line(b"*1\r\n", 32, Ok(Some(2)));
        check_line(b"*1\r", 32, Ok(None));
        check_line(b"*1", 32, Ok(None));
        check_line(b"*", 32, Ok(None));
        check_line(b"*1\n", 32, Err(LineError::MissingCrlf));
        check_line(b"*1\rx", 32, Err(LineError::MissingCrlf));
        check_line(b"*\r\n", 32, Ok(Some(1)));
        // Exactly max_line long, then one byte more.
        check_line(b"*12\r\n", 5, Ok(Some(3)));
        check_line(b"*123\r\n", 5, Err(LineError::TooLong));
        check_line(b"*123", 5, Err(LineError::TooLong));
        check_line(b"*12", 5, Ok(None));
        check_line(b"*1\r\n", 0, Err(LineError::TooLong));
    }

    fn check_decimal(input: &[u8], expected: Option<(bool, u64)>) {
        let got = parse_decimal(input).map(|d| (d.negative, d.magnitude));
        assert_eq!(got, expected, "input {input:?}");
    }

    /// A complete line: its value as (negative, magnitude) if decimal, and the offset past it.
    type Numeric = Option<(Option<(bool, u64)>, usize)>;

    fn check_numeric(input: &[u8], max_line: usize, expected: Result<Numeric, LineError>) {
        let got = numeric_line(input, 0, max_line)
            .map(|o| o.map(|(d, next)| (d.map(|d| (d.negative, d.magnitude)), next)));
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn numeric_lines() {
        check_numeric(b"*12\r\n", 32, Ok(Some((Some((false, 12)), 5))));
        check_numeric(b"$-1\r\n", 32, Ok(Some((Some((true, 1)), 5))));
        check_numeric(b"$-1\r\nxyz", 32, Ok(Some((Some((true, 1)), 5))));
        check_numeric(b"*x\r\n", 32, Ok(Some((None, 4))));
        check_numeric(b"*\r\n", 32, Ok(Some((None, 3))));
        check_numeric(b"*-\r\n", 32, Ok(Some((None, 4))));
        check_numeric(b"*99999999999999999999\r\n", 32, Ok(Some((None, 23))));
        check_numeric(b"*12", 32, Ok(None));
        check_numeric(b"*12\r", 32, Ok(None));
        check_numeric(b"*12\n", 32, Err(LineError::MissingCrlf));
        check_numeric(b"*12\rx", 32, Err(LineError::MissingCrlf));
        // The fast path honours the line limit exactly like the general one.
        check_numeric(b"*12\r\n", 5, Ok(Some((Some((false, 12)), 5))));
        check_numeric(b"*123\r\n", 5, Err(LineError::TooLong));
        check_numeric(b"*-12\r\n", 5, Err(LineError::TooLong));
        check_numeric(
            b"*0000000000000000000000000000000000001\r\n",
            32,
            Err(LineError::TooLong),
        );
        check_numeric(b"*1\r\n", 3, Err(LineError::TooLong));
    }

    #[test]
    fn payload_ends() {
        assert_eq!(payload_end(b"$1\r\nx\r\n", 4, 1), Ok(Some(7)));
        assert_eq!(payload_end(b"$1\r\nx\r", 4, 1), Ok(None));
        assert_eq!(payload_end(b"$1\r\nx", 4, 1), Ok(None));
        assert_eq!(payload_end(b"$1\r\n", 4, 1), Ok(None));
        assert_eq!(payload_end(b"$1\r\nxy", 4, 1), Err(LineError::MissingCrlf));
        assert_eq!(
            payload_end(b"$1\r\nx\rx", 4, 1),
            Err(LineError::MissingCrlf)
        );
        assert_eq!(payload_end(b"", 0, usize::MAX), Err(LineError::Overflow));
    }

    #[test]
    fn decimals() {
        check_decimal(b"0", Some((false, 0)));
        check_decimal(b"42", Some((false, 42)));
        check_decimal(b"-1", Some((true, 1)));
        check_decimal(b"007", Some((false, 7)));
        check_decimal(b"18446744073709551615", Some((false, u64::MAX)));
        check_decimal(b"18446744073709551616", None);
        check_decimal(b"99999999999999999999999", None);
        check_decimal(b"", None);
        check_decimal(b"-", None);
        check_decimal(b"+1", None);
        check_decimal(b"1a", None);
        check_decimal(b" 1", None);
        check_decimal(b"--1", None);
    }
}
