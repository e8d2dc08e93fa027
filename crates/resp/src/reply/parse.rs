//! Incremental reply decoding, bounded in line length, bulk size, array length and nesting.

use bytes::{Bytes, BytesMut};

use super::Reply;
use crate::line::{find_line, numeric_line, payload_end, Decimal, LineError};

/// Bounds applied while decoding replies from a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Arrays may nest this many levels deep; a top-level array is level one.
    pub max_depth: usize,
    /// Most elements in one array.
    pub max_array: usize,
    /// Largest bulk string, inclusive.
    pub max_bulk: usize,
    /// Longest line (status, error, integer or header), type byte and `\r\n` included.
    pub max_line: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_depth: 32,
            max_array: 1 << 20,
            max_bulk: 512 * 1024 * 1024,
            max_line: 64 * 1024,
        }
    }
}

/// Why the bytes at the head of a buffer are not a valid reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The type byte is none of `+ - : $ *`.
    #[error("unknown reply type byte 0x{byte:02x}")]
    UnknownType {
        /// The offending byte.
        byte: u8,
    },
    /// A bulk or array length is not a decimal, overflows, or is negative other than `-1`.
    #[error("invalid length")]
    InvalidLength,
    /// An integer reply is not a decimal that fits an `i64`.
    #[error("invalid integer")]
    InvalidInteger,
    /// A line has no `\r\n` within the line limit.
    #[error("line too long")]
    LineTooLong,
    /// A line or a payload is not followed by `\r\n`.
    #[error("missing CRLF")]
    MissingCrlf,
    /// A bulk string announces more bytes than allowed.
    #[error("bulk string of {len} bytes is above the limit")]
    BulkTooLarge {
        /// The announced length.
        len: usize,
    },
    /// An array announces more elements than allowed.
    #[error("array of {len} elements is above the limit")]
    ArrayTooLong {
        /// The announced length.
        len: usize,
    },
    /// Arrays nest deeper than allowed.
    #[error("arrays nested deeper than {max}")]
    TooDeep {
        /// The nesting limit.
        max: usize,
    },
}

impl From<LineError> for ReplyError {
    fn from(e: LineError) -> Self {
        match e {
            LineError::TooLong => ReplyError::LineTooLong,
            LineError::MissingCrlf => ReplyError::MissingCrlf,
            LineError::Overflow => ReplyError::InvalidLength,
        }
    }
}

/// The first line of a reply, decoded.
enum Head {
    /// A status line whose `\r` is at the given offset.
    Status(usize),
    /// An error line whose `\r` is at the given offset.
    Error(usize),
    Integer(i64),
    Bulk(Option<usize>),
    Array(Option<usize>),
}

/// Reads a bulk or array length: `None` for `-1`, checked against `max`.
fn length(
    d: Option<Decimal>,
    max: usize,
    too_large: fn(usize) -> ReplyError,
) -> Result<Option<usize>, ReplyError> {
    let d = d.ok_or(ReplyError::InvalidLength)?;
    match (d.negative, d.magnitude) {
        (true, 1) => Ok(None),
        (true, _) => Err(ReplyError::InvalidLength),
        (false, m) => {
            let len = usize::try_from(m).map_err(|_| ReplyError::InvalidLength)?;
            if len > max {
                return Err(too_large(len));
            }
            Ok(Some(len))
        }
    }
}

/// Reads an integer reply's value, which must fit an `i64`.
fn integer(d: Option<Decimal>) -> Result<i64, ReplyError> {
    let d = d.ok_or(ReplyError::InvalidInteger)?;
    let n = if d.negative {
        0i64.checked_sub_unsigned(d.magnitude)
    } else {
        i64::try_from(d.magnitude).ok()
    };
    n.ok_or(ReplyError::InvalidInteger)
}

/// Decodes the line at `pos`, `depth` arrays deep; returns it with the offset past it.
fn head(
    buf: &[u8],
    pos: usize,
    depth: usize,
    limits: &ReplyLimits,
) -> Result<Option<(Head, usize)>, ReplyError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    match kind {
        b'+' | b'-' => {
            let Some(cr) = find_line(buf, pos, limits.max_line)? else {
                return Ok(None);
            };
            let head = if kind == b'+' {
                Head::Status(cr)
            } else {
                Head::Error(cr)
            };
            return Ok(Some((head, cr + 2)));
        }
        b':' | b'$' => {}
        b'*' if depth < limits.max_depth => {}
        b'*' => {
            return Err(ReplyError::TooDeep {
                max: limits.max_depth,
            })
        }
        byte => return Err(ReplyError::UnknownType { byte }),
    }
    let Some((d, next)) = numeric_line(buf, pos, limits.max_line)? else {
        return Ok(None);
    };
    let head = match kind {
        b':' => Head::Integer(integer(d)?),
        b'$' => Head::Bulk(length(d, limits.max_bulk, |len| {
            ReplyError::BulkTooLarge { len }
        })?),
        _ => Head::Array(length(d, limits.max_array, |len| {
            ReplyError::ArrayTooLong { len }
        })?),
    };
    Ok(Some((head, next)))
}

/// Shortest reply on the wire: `+\r\n`.
const MIN_REPLY: usize = 3;

/// How much of a reply `scan` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// The reply ends at this offset.
    Complete(usize),
    /// The buffer must reach at least `needed` bytes before the reply can end.
    Incomplete { needed: usize },
}

/// Finds the end of the reply at `pos` without building it.
fn scan(
    buf: &[u8],
    pos: usize,
    depth: usize,
    limits: &ReplyLimits,
) -> Result<Progress, ReplyError> {
    let Some((head, mut next)) = head(buf, pos, depth, limits)? else {
        return Ok(Progress::Incomplete {
            needed: buf.len() + 1,
        });
    };
    match head {
        Head::Bulk(Some(len)) => {
            return Ok(match payload_end(buf, next, len)? {
                Some(end) => Progress::Complete(end),
                None => Progress::Incomplete {
                    needed: next.saturating_add(len).saturating_add(2),
                },
            })
        }
        Head::Array(Some(n)) => {
            for item_idx in 0..n {
                match scan(buf, next, depth + 1, limits)? {
                    Progress::Complete(end) => next = end,
                    Progress::Incomplete { needed } => {
                        let rest = (n - item_idx - 1).saturating_mul(MIN_REPLY);
                        let needed = needed.saturating_add(rest);
                        return Ok(Progress::Incomplete { needed });
                    }
                }
            }
        }
        _ => {}
    }
    Ok(Progress::Complete(next))
}

/// Builds the reply at `pos` of a frame already checked by `scan`.
fn build(
    frame: &Bytes,
    pos: usize,
    depth: usize,
    limits: &ReplyLimits,
) -> Result<(Reply, usize), ReplyError> {
    // `scan` accepted these bytes, so the lookups below always succeed.
    let (head, next) = head(frame, pos, depth, limits)?.ok_or(ReplyError::MissingCrlf)?;
    let reply = match head {
        Head::Status(cr) => Reply::Status(frame.slice(pos + 1..cr)),
        Head::Error(cr) => Reply::Error(frame.slice(pos + 1..cr)),
        Head::Integer(n) => Reply::Integer(n),
        Head::Bulk(None) => Reply::Bulk(None),
        Head::Bulk(Some(len)) => {
            let data = frame.slice(next..next + len);
            return Ok((Reply::Bulk(Some(data)), next + len + 2));
        }
        Head::Array(None) => Reply::Array(None),
        Head::Array(Some(n)) => {
            let mut items = Vec::with_capacity(n);
            let mut at = next;
            for _ in 0..n {
                let (item, end) = build(frame, at, depth + 1, limits)?;
                items.push(item);
                at = end;
            }
            return Ok((Reply::Array(Some(items)), at));
        }
    };
    Ok((reply, next))
}

/// Removes one complete reply from the head of `buf`.
///
/// Returns `Ok(None)` and leaves `buf` untouched while the reply is incomplete;
/// payloads are skipped by length while scanning and sliced, not copied, once
/// the whole reply is there.
pub fn parse_reply(buf: &mut BytesMut, limits: &ReplyLimits) -> Result<Option<Reply>, ReplyError> {
    match scan_reply(buf, limits)? {
        Progress::Complete(len) => take_reply(buf, len, limits).map(Some),
        Progress::Incomplete { .. } => Ok(None),
    }
}

/// Scans the reply at the head of `buf`; an incomplete one comes with a lower
/// bound on the bytes it needs, so a reader can skip pointless rescans.
pub(crate) fn scan_reply(buf: &[u8], limits: &ReplyLimits) -> Result<Progress, ReplyError> {
    scan(buf, 0, 0, limits)
}

/// Splits a reply of `len` bytes, found by [`scan_reply`], off `buf`.
pub(crate) fn take_reply(
    buf: &mut BytesMut,
    len: usize,
    limits: &ReplyLimits,
) -> Result<Reply, ReplyError> {
    let frame = buf.split_to(len).freeze();
    Ok(build(&frame, 0, 0, limits)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplyError::*;

    fn b(s: &'static [u8]) -> Reply {
        Reply::Bulk(Some(Bytes::from_static(s)))
    }

    fn check_with(limits: &ReplyLimits, input: &[u8], expected: Result<Option<Reply>, ReplyError>) {
        let mut buf = BytesMut::from(input);
        let got = parse_reply(&mut buf, limits);
        assert_eq!(got, expected, "input {input:?}");
        match got {
            Ok(Some(reply)) => {
                let mut again = BytesMut::new();
                reply.encode(&mut again);
                assert_eq!(
                    &again[..],
                    &input[..input.len() - buf.len()],
                    "re-encode {input:?}"
                );
            }
            _ => assert_eq!(&buf[..], input, "buffer must stay untouched"),
        }
    }

    fn check(input: &[u8], expected: Result<Option<Reply>, ReplyError>) {
        check_with(&ReplyLimits::default(), input, expected);
    }

    #[test]
    fn scalars() {
        check(
            b"+OK\r\n",
            Ok(Some(Reply::Status(Bytes::from_static(b"OK")))),
        );
        check(b"+\r\n", Ok(Some(Reply::Status(Bytes::new()))));
        check(
            b"-ERR bad\r\n",
            Ok(Some(Reply::Error(Bytes::from_static(b"ERR bad")))),
        );
        check(b":0\r\n", Ok(Some(Reply::Integer(0))));
        check(b":-12\r\n", Ok(Some(Reply::Integer(-12))));
        check(
            b":9223372036854775807\r\n",
            Ok(Some(Reply::Integer(i64::MAX))),
        );
        check(
            b":-9223372036854775808\r\n",
            Ok(Some(Reply::Integer(i64::MIN))),
        );
        check(b"$3\r\nabc\r\n", Ok(Some(b(b"abc"))));
        check(b"$0\r\n\r\n", Ok(Some(b(b""))));
        check(b"$4\r\n\r\n\r\n\r\n", Ok(Some(b(b"\r\n\r\n"))));
        check(b"$-1\r\n", Ok(Some(Reply::Bulk(None))));
        check(b"*-1\r\n", Ok(Some(Reply::Array(None))));
        check(b"*0\r\n", Ok(Some(Reply::Array(Some(vec![])))));
    }

    #[test]
    fn arrays() {
        check(
            b"*2\r\n$1\r\na\r\n:1\r\n",
            Ok(Some(Reply::Array(Some(vec![b(b"a"), Reply::Integer(1)])))),
        );
        let nested = Reply::Array(Some(vec![
            Reply::Array(Some(vec![Reply::Bulk(None)])),
            Reply::Array(None),
        ]));
        check(b"*2\r\n*1\r\n$-1\r\n*-1\r\n", Ok(Some(nested)));
        check(
            b"*1\r\n:1\r\n:2\r\n",
            Ok(Some(Reply::Array(Some(vec![Reply::Integer(1)])))),
        );
    }

    #[test]
    fn incomplete() {
        for input in [
            &b""[..],
            b"+",
            b"+OK",
            b"+OK\r",
            b":1",
            b"$3\r\nab",
            b"$3\r\nabc\r",
            b"$-1\r",
            b"*2\r\n",
            b"*2\r\n:1\r\n",
            b"*2\r\n:1\r\n*1\r\n",
            b"*1\r\n$2\r\nab",
        ] {
            check(input, Ok(None));
        }
    }

    #[test]
    fn errors() {
        check(b"!x\r\n", Err(UnknownType { byte: b'!' }));
        check(b"\r\n", Err(UnknownType { byte: b'\r' }));
        check(b"*1\r\n?\r\n", Err(UnknownType { byte: b'?' }));
        check(b":x\r\n", Err(InvalidInteger));
        check(b":\r\n", Err(InvalidInteger));
        check(b":9223372036854775808\r\n", Err(InvalidInteger));
        check(b":-9223372036854775809\r\n", Err(InvalidInteger));
        check(b":99999999999999999999999\r\n", Err(InvalidInteger));
        check(b"$-2\r\n", Err(InvalidLength));
        check(b"$x\r\n", Err(InvalidLength));
        check(b"*-2\r\n", Err(InvalidLength));
        check(b"$99999999999999999999999\r\n", Err(InvalidLength));
        check(b"+OK\n", Err(MissingCrlf));
        check(b"$1\r\nab", Err(MissingCrlf));
        check(b"$1\r\na\rb", Err(MissingCrlf));
        check(b"$536870913\r\n", Err(BulkTooLarge { len: 536_870_913 }));
        check(b"*1048577\r\n", Err(ArrayTooLong { len: 1_048_577 }));
    }

    #[test]
    fn limits_at_the_edge() {
        let l = ReplyLimits {
            max_depth: 2,
            max_array: 2,
            max_bulk: 3,
            max_line: 6,
        };
        check_with(
            &l,
            b"*1\r\n*1\r\n:1\r\n",
            Ok(Some(Reply::Array(Some(vec![Reply::Array(Some(vec![
                Reply::Integer(1),
            ]))])))),
        );
        check_with(&l, b"*1\r\n*1\r\n*", Err(TooDeep { max: 2 }));
        check_with(&l, b"*2\r\n", Ok(None));
        check_with(&l, b"*3\r\n", Err(ArrayTooLong { len: 3 }));
        check_with(&l, b"$3\r\nabc\r\n", Ok(Some(b(b"abc"))));
        check_with(&l, b"$4\r\n", Err(BulkTooLarge { len: 4 }));
        check_with(
            &l,
            b"+abc\r\n",
            Ok(Some(Reply::Status(Bytes::from_static(b"abc")))),
        );
        check_with(&l, b"+abcd\r\n", Err(LineTooLong));
        check_with(&l, b"+abcd", Err(LineTooLong));
        check_with(&l, b"+abc", Ok(None));
    }

    fn check_needed(input: &[u8], needed: usize) {
        let got = scan_reply(input, &ReplyLimits::default());
        assert_eq!(got, Ok(Progress::Incomplete { needed }), "input {input:?}");
    }

    #[test]
    fn needed_is_a_lower_bound() {
        check_needed(b"", 1);
        check_needed(b"+OK", 4);
        check_needed(b"$10\r\nab", 5 + 10 + 2);
        check_needed(b"*3\r\n", 5 + 2 * 3);
        check_needed(b"*3\r\n:1\r\n$4\r\n", 12 + 4 + 2 + 3);
        check_needed(b"*2\r\n*2\r\n:1\r\n", 13 + 3);
        let wire = b"*3\r\n$5\r\nhello\r\n*2\r\n+\r\n:-1\r\n$-1\r\n";
        for len in 0..wire.len() {
            match scan_reply(&wire[..len], &ReplyLimits::default()) {
                Ok(Progress::Incomplete { needed }) => {
                    assert!(len < needed && needed <= wire.len())
                }
                other => panic!("prefix {len}: {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut input = b"*1\r\n".repeat(32);
        input.extend_from_slice(b":7\r\n");
        let mut expected = Reply::Integer(7);
        for _ in 0..32 {
            expected = Reply::Array(Some(vec![expected]));
        }
        check(&input, Ok(Some(expected)));
        check(&b"*1\r\n".repeat(33), Err(TooDeep { max: 32 }));
        check(&b"*1\r\n".repeat(100_000), Err(TooDeep { max: 32 }));
    }

    #[test]
    fn stream_at_every_split_point() {
        let input: &[u8] = b"+OK\r\n$3\r\na\rb\r\n*2\r\n:5\r\n$-1\r\n-ERR x\r\n*0\r\n";
        let expected = vec![
            Reply::Status(Bytes::from_static(b"OK")),
            b(b"a\rb"),
            Reply::Array(Some(vec![Reply::Integer(5), Reply::Bulk(None)])),
            Reply::Error(Bytes::from_static(b"ERR x")),
            Reply::Array(Some(vec![])),
        ];
        let limits = ReplyLimits::default();
        for split in 0..=input.len() {
            let mut buf = BytesMut::from(&input[..split]);
            let mut got = Vec::new();
            while let Some(r) = parse_reply(&mut buf, &limits).expect("valid") {
                got.push(r);
            }
            buf.extend_from_slice(&input[split..]);
            while let Some(r) = parse_reply(&mut buf, &limits).expect("valid") {
                got.push(r);
            }
            assert_eq!(got, expected, "split {split}");
            assert!(buf.is_empty());
        }
    }
}
