//! Client requests: arrays of bulk strings, their limits, incremental decoding and encoding.

use bytes::{Bytes, BytesMut};

use crate::line::{numeric_line, payload_end, LineError};
use crate::reply::{put_header, CRLF};

/// Bounds applied to every request before any of its payload is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most arguments one request may carry (command name included).
    pub max_args: usize,
    /// Largest bulk string accepted, inclusive.
    pub max_bulk: usize,
    /// Longest `*N` / `$N` header line, type byte and `\r\n` included.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_args: 1024,
            max_bulk: 8 * 1024 * 1024,
            max_line: 32,
        }
    }
}

/// One decoded request.
///
/// The arguments are slices of the connection's read buffer, so holding a
/// `Request` keeps that buffer's allocation alive; copy what must outlive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The arguments; `args[0]` is the command name and is always present.
    pub args: Vec<Bytes>,
}

/// Why the bytes at the head of a buffer are not a valid request.
///
/// Each case is its own variant so a server can answer with its exact wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The first byte of a request is not `*`.
    #[error("expected '*' at the start of a request")]
    NotArray,
    /// The request is `*0`.
    #[error("empty request array")]
    EmptyArray,
    /// The array announces more arguments than allowed.
    #[error("request has {n} arguments, above the limit")]
    TooManyArgs {
        /// The announced argument count.
        n: usize,
    },
    /// The array length is negative (`*-1` included).
    #[error("negative request array length")]
    NegativeArrayLen,
    /// An element does not start with `$`.
    #[error("expected '$' at the start of an argument")]
    NotBulk,
    /// A bulk string announces more bytes than allowed.
    #[error("bulk string of {len} bytes is above the limit")]
    BulkTooLarge {
        /// The announced length.
        len: usize,
    },
    /// A length is not a decimal integer, overflows, or is a negative bulk length.
    #[error("invalid length")]
    InvalidLength,
    /// A header line has no `\r\n` within the line limit.
    #[error("header line too long")]
    LineTooLong,
    /// A line or a payload is not followed by `\r\n`.
    #[error("missing CRLF")]
    MissingCrlf,
}

impl From<LineError> for RequestError {
    fn from(e: LineError) -> Self {
        match e {
            LineError::TooLong => RequestError::LineTooLong,
            LineError::MissingCrlf => RequestError::MissingCrlf,
            LineError::Overflow => RequestError::InvalidLength,
        }
    }
}

/// Outcome of scanning the head of a buffer without consuming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A whole request of `len` bytes holding `n_args` arguments.
    Complete { len: usize, n_args: usize },
    /// More input is needed; the buffer must reach at least `needed` bytes.
    Incomplete { needed: usize },
}

/// Reads the header line at `start` (`*N` or `$N`): its value and where the next item starts.
#[inline(always)]
fn header(
    buf: &[u8],
    start: usize,
    limits: &Limits,
) -> Result<Option<(bool, usize, usize)>, RequestError> {
    let Some((d, next)) = numeric_line(buf, start, limits.max_line)? else {
        return Ok(None);
    };
    let d = d.ok_or(RequestError::InvalidLength)?;
    let value = usize::try_from(d.magnitude).map_err(|_| RequestError::InvalidLength)?;
    Ok(Some((d.negative, value, next)))
}

/// Validates the array header at the start of `buf`: argument count and first element offset.
#[inline(always)]
fn array_header(buf: &[u8], limits: &Limits) -> Result<Option<(usize, usize)>, RequestError> {
    match buf.first() {
        None => return Ok(None),
        Some(b'*') => {}
        Some(_) => return Err(RequestError::NotArray),
    }
    let Some((negative, n, pos)) = header(buf, 0, limits)? else {
        return Ok(None);
    };
    if negative {
        return Err(RequestError::NegativeArrayLen);
    }
    if n == 0 {
        return Err(RequestError::EmptyArray);
    }
    if n > limits.max_args {
        return Err(RequestError::TooManyArgs { n });
    }
    Ok(Some((n, pos)))
}

/// Validates the bulk header at `pos`: payload length and payload offset.
#[inline(always)]
fn bulk_header(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
) -> Result<Option<(usize, usize)>, RequestError> {
    match buf.get(pos) {
        None => return Ok(None),
        Some(b'$') => {}
        Some(_) => return Err(RequestError::NotBulk),
    }
    let Some((negative, len, data)) = header(buf, pos, limits)? else {
        return Ok(None);
    };
    if negative {
        return Err(RequestError::InvalidLength);
    }
    if len > limits.max_bulk {
        return Err(RequestError::BulkTooLarge { len });
    }
    Ok(Some((len, data)))
}

/// Scans the request at the head of `buf`: header lines are read, payloads skipped by length.
pub(crate) fn scan(buf: &[u8], limits: &Limits) -> Result<Scan, RequestError> {
    let more = Scan::Incomplete {
        needed: buf.len() + 1,
    };
    let Some((n_args, mut pos)) = array_header(buf, limits)? else {
        return Ok(more);
    };
    for _ in 0..n_args {
        let Some((len, data)) = bulk_header(buf, pos, limits)? else {
            return Ok(more);
        };
        match payload_end(buf, data, len)? {
            Some(end) => pos = end,
            None => {
                let needed = data.saturating_add(len).saturating_add(2);
                return Ok(Scan::Incomplete { needed });
            }
        }
    }
    Ok(Scan::Complete { len: pos, n_args })
}

/// Splits a scanned request of `len` bytes off `buf` and slices its arguments.
pub(crate) fn take(
    buf: &mut BytesMut,
    len: usize,
    n_args: usize,
    limits: &Limits,
) -> Result<Request, RequestError> {
    let frame = buf.split_to(len).freeze();
    let mut args = Vec::with_capacity(n_args);
    // The frame was validated by `scan`; these lookups cannot fail but are checked anyway.
    let mut pos = array_header(&frame, limits)?
        .ok_or(RequestError::MissingCrlf)?
        .1;
    for _ in 0..n_args {
        let (len, data) = bulk_header(&frame, pos, limits)?.ok_or(RequestError::MissingCrlf)?;
        args.push(frame.slice(data..data + len));
        pos = data + len + 2;
    }
    Ok(Request { args })
}

/// Removes one complete request from the head of `buf`.
///
/// Returns `Ok(None)` and leaves `buf` untouched while the request is incomplete.
/// Calling again as bytes arrive re-reads only the header lines; payloads are
/// skipped by length and never copied. Errors are reported as soon as the
/// offending header is buffered, before any payload it announces.
pub fn parse_request(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Request>, RequestError> {
    match scan(buf, limits)? {
        Scan::Complete { len, n_args } => take(buf, len, n_args, limits).map(Some),
        Scan::Incomplete { .. } => Ok(None),
    }
}

/// The buffer length at which the request at the head of `buf` may be complete.
///
/// While a large payload is pending this is the offset just past it, so a reader
/// can reserve that much at once. Returns `buf.len()` when a request is already
/// complete or the head is invalid.
pub fn needed_hint(buf: &[u8], limits: &Limits) -> usize {
    match scan(buf, limits) {
        Ok(Scan::Incomplete { needed }) => needed,
        _ => buf.len(),
    }
}

/// Appends `args` to `buf` as an array of bulk strings.
///
/// `args` should hold at least the command name: an empty array is encoded
/// as `*0`, which [`parse_request`] rejects.
pub fn encode_request(buf: &mut BytesMut, args: &[&[u8]]) {
    let payload: usize = args.iter().map(|a| a.len() + 16).sum();
    buf.reserve(payload + 16);
    put_header(buf, b'*', args.len() as u64);
    for arg in args {
        put_header(buf, b'$', arg.len() as u64);
        buf.extend_from_slice(arg);
        buf.extend_from_slice(CRLF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestError::*;

    fn small() -> Limits {
        Limits {
            max_args: 4,
            max_bulk: 10,
            max_line: 8,
        }
    }

    /// Parses `input` with `limits`; on success also checks what is left in the buffer.
    fn check_with(limits: &Limits, input: &[u8], expected: Result<Option<&[&[u8]]>, RequestError>) {
        let mut buf = BytesMut::from(input);
        let got = parse_request(&mut buf, limits);
        match (&got, &expected) {
            (Ok(Some(req)), Ok(Some(args))) => {
                let got_args: Vec<&[u8]> = req.args.iter().map(|a| &a[..]).collect();
                assert_eq!(&got_args, args, "input {input:?}");
                let used = input.len() - buf.len();
                assert_eq!(&buf[..], &input[used..], "input {input:?}");
            }
            (Ok(None), Ok(None)) => assert_eq!(&buf[..], input, "incomplete must not consume"),
            (Err(g), Err(e)) => assert_eq!(g, e, "input {input:?}"),
            _ => panic!("input {input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    fn check(input: &[u8], expected: Result<Option<&[&[u8]]>, RequestError>) {
        check_with(&Limits::default(), input, expected);
    }

    #[test]
    fn complete() {
        check(b"*1\r\n$4\r\nPING\r\n", Ok(Some(&[b"PING"])));
        check(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", Ok(Some(&[b"GET", b"k"])));
        check(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n", Ok(Some(&[b"GET", b""])));
        check(b"*1\r\n$0\r\n\r\n", Ok(Some(&[b""])));
        check(b"*1\r\n$4\r\na\r\nb\r\n", Ok(Some(&[b"a\r\nb"])));
        check(b"*1\r\n$2\r\n\r\n\r\n", Ok(Some(&[b"\r\n"])));
        check(b"*1\r\n$3\r\n\x00\xff*\r\n", Ok(Some(&[b"\x00\xff*"])));
        check(b"*01\r\n$01\r\nx\r\n", Ok(Some(&[b"x"])));
        check(b"*1\r\n$1\r\nx\r\n*1\r\n", Ok(Some(&[b"x"])));
        check(b"*1\r\n$1\r\nx\r\ngarbage", Ok(Some(&[b"x"])));
    }

    #[test]
    fn incomplete() {
        check(b"", Ok(None));
        check(b"*", Ok(None));
        check(b"*1", Ok(None));
        check(b"*1\r", Ok(None));
        check(b"*1\r\n", Ok(None));
        check(b"*1\r\n$", Ok(None));
        check(b"*1\r\n$4\r\nPI", Ok(None));
        check(b"*1\r\n$4\r\nPING", Ok(None));
        check(b"*1\r\n$4\r\nPING\r", Ok(None));
        check(b"*2\r\n$4\r\nPING\r\n", Ok(None));
    }

    #[test]
    fn errors() {
        check(b"PING\r\n", Err(NotArray));
        check(b"$4\r\nPING\r\n", Err(NotArray));
        check(b"\r\n", Err(NotArray));
        check(b"*0\r\n", Err(EmptyArray));
        check(b"*-1\r\n", Err(NegativeArrayLen));
        check(b"*-7\r\n", Err(NegativeArrayLen));
        check(b"*-\r\n", Err(InvalidLength));
        check(b"*\r\n", Err(InvalidLength));
        check(b"*x\r\n", Err(InvalidLength));
        check(b"*+1\r\n", Err(InvalidLength));
        check(b"*1 \r\n", Err(InvalidLength));
        check(b"*1\r\n:1\r\n", Err(NotBulk));
        check(b"*1\r\n*1\r\n", Err(NotBulk));
        check(b"*1\r\n+OK\r\n", Err(NotBulk));
        check(b"*1\r\n$-1\r\n", Err(InvalidLength));
        check(b"*1\r\n$x\r\n", Err(InvalidLength));
        check(b"*1\r\n$\r\n", Err(InvalidLength));
        check(b"*1\n", Err(MissingCrlf));
        check(b"*1\rx", Err(MissingCrlf));
        check(b"*1\r\n$1\nx", Err(MissingCrlf));
        check(b"*1\r\n$1\r\nxy", Err(MissingCrlf));
        check(b"*1\r\n$1\r\nx\rz", Err(MissingCrlf));
        check(b"*1\r\n$1\r\nx\n\r", Err(MissingCrlf));
        check(b"*1\r\n$0\r\nx", Err(MissingCrlf));
    }

    #[test]
    fn overflow_is_invalid_length() {
        check(b"*99999999999999999999\r\n", Err(InvalidLength));
        check(b"*1\r\n$99999999999999999999\r\n", Err(InvalidLength));
        check(b"*1\r\n$18446744073709551616\r\n", Err(InvalidLength));
        check(b"*-99999999999999999999\r\n", Err(InvalidLength));
        // Fits a u64 but is above the limit: rejected before any payload.
        check(
            b"*1\r\n$18446744073709551615\r\n",
            Err(BulkTooLarge { len: usize::MAX }),
        );
        check(
            b"*1\r\n$9999999999\r\n",
            Err(BulkTooLarge { len: 9_999_999_999 }),
        );
        let unbounded = Limits {
            max_bulk: usize::MAX,
            ..Limits::default()
        };
        check_with(
            &unbounded,
            b"*1\r\n$18446744073709551615\r\n",
            Err(InvalidLength),
        );
        check_with(&unbounded, b"*1\r\n$18446744073709551000\r\n", Ok(None));
    }

    #[test]
    fn default_limits_at_the_edge() {
        let l = Limits::default();
        check_with(&l, b"*1024\r\n", Ok(None));
        check_with(&l, b"*1025\r\n", Err(TooManyArgs { n: 1025 }));
        check_with(&l, b"*1\r\n$8388608\r\n", Ok(None));
        check_with(
            &l,
            b"*1\r\n$8388609\r\n",
            Err(BulkTooLarge { len: 8_388_609 }),
        );
        assert_eq!(needed_hint(b"*1\r\n$8388608\r\n", &l), 14 + 8_388_608 + 2);
    }

    #[test]
    fn small_limits_at_the_edge() {
        let l = small();
        check_with(&l, b"*4\r\n", Ok(None));
        check_with(&l, b"*5\r\n", Err(TooManyArgs { n: 5 }));
        check_with(
            &l,
            b"*1\r\n$10\r\n0123456789\r\n",
            Ok(Some(&[b"0123456789"])),
        );
        check_with(&l, b"*1\r\n$11\r\n", Err(BulkTooLarge { len: 11 }));
        // max_line 8 counts the type byte and CRLF: 5 digits fit, 6 do not.
        check_with(&l, b"*00001\r\n$1\r\nx\r\n", Ok(Some(&[b"x"])));
        check_with(&l, b"*000001\r\n", Err(LineTooLong));
        check_with(&l, b"*000001", Err(LineTooLong));
        check_with(&l, b"*00000", Ok(None));
        check_with(&l, b"*1\r\n$0000001\r\n", Err(LineTooLong));
    }

    #[test]
    fn garbage_line_is_rejected_early() {
        let mut line = b"*".to_vec();
        line.extend(vec![b'7'; 1 << 20]);
        check(&line[..30], Ok(None));
        check(&line[..31], Err(LineTooLong));
        check(&line, Err(LineTooLong));
        check(&line[..40], Err(LineTooLong));
    }

    #[test]
    fn needed_hint_tracks_payloads() {
        let l = Limits::default();
        assert_eq!(needed_hint(b"", &l), 1);
        assert_eq!(needed_hint(b"*1\r\n$100\r\nab", &l), 10 + 100 + 2);
        assert_eq!(needed_hint(b"*1\r\n$1\r\nx\r\n", &l), 11);
        assert_eq!(needed_hint(b"x", &l), 1);
    }

    const PIPELINE: &[u8] = b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\nv\r\n\
*2\r\n$3\r\nGET\r\n$0\r\n\r\n*1\r\n$2\r\n\x00\xff\r\n";

    fn expected_pipeline() -> Vec<Vec<&'static [u8]>> {
        vec![
            vec![b"PING"],
            vec![b"SET", b"k", b"v\r\nv"],
            vec![b"GET", b""],
            vec![b"\x00\xff"],
        ]
    }

    fn drain(buf: &mut BytesMut, out: &mut Vec<Vec<Vec<u8>>>) {
        while let Some(req) = parse_request(buf, &Limits::default()).expect("valid pipeline") {
            out.push(req.args.iter().map(|a| a.to_vec()).collect());
        }
    }

    #[test]
    fn pipeline_byte_by_byte() {
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in PIPELINE {
            buf.extend_from_slice(&[b]);
            drain(&mut buf, &mut got);
        }
        assert!(buf.is_empty());
        assert_eq!(got, expected_pipeline());
    }

    #[test]
    fn pipeline_at_every_split_point() {
        for split in 0..=PIPELINE.len() {
            let mut buf = BytesMut::from(&PIPELINE[..split]);
            let mut got = Vec::new();
            drain(&mut buf, &mut got);
            buf.extend_from_slice(&PIPELINE[split..]);
            drain(&mut buf, &mut got);
            assert!(buf.is_empty(), "split {split}");
            assert_eq!(got, expected_pipeline(), "split {split}");
        }
    }

    #[test]
    fn encode_round_trips() {
        let args: [&[u8]; 3] = [b"SET", b"", b"a\r\n$1\r\n"];
        let mut buf = BytesMut::new();
        encode_request(&mut buf, &args);
        assert_eq!(
            &buf[..],
            b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$7\r\na\r\n$1\r\n\r\n"
        );
        let req = parse_request(&mut buf, &Limits::default())
            .expect("valid")
            .expect("complete");
        assert_eq!(req.args, args.map(Bytes::copy_from_slice).to_vec());
    }
}
