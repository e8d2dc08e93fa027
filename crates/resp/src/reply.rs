//! Server replies: encoders that append RESP2 frames to a buffer, and the decoded `Reply` value.

use bytes::{Bytes, BytesMut};

mod parse;

pub use parse::{parse_reply, ReplyError, ReplyLimits};
pub(crate) use parse::{scan_reply, take_reply, Progress};

pub(crate) const CRLF: &[u8] = b"\r\n";

/// Appends `<kind><value>\r\n`, e.g. `*3\r\n` or `$4096\r\n`.
#[inline]
pub(crate) fn put_header(buf: &mut BytesMut, kind: u8, value: u64) {
    put_number(buf, kind, false, value);
}

/// Appends `<kind>[-]<magnitude>\r\n` without going through `fmt`.
#[inline]
fn put_number(buf: &mut BytesMut, kind: u8, negative: bool, magnitude: u64) {
    // kind, sign, 20 digits, CRLF
    let mut tmp = [0u8; 24];
    let mut i = tmp.len() - 2;
    tmp[i..].copy_from_slice(CRLF);
    let mut v = magnitude;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        tmp[i] = b'-';
    }
    i -= 1;
    tmp[i] = kind;
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends a one-line frame, turning any `\r` or `\n` in `text` into spaces so
/// the frame cannot be split or forged by the text it carries.
#[inline]
fn put_line(buf: &mut BytesMut, kind: u8, text: &[u8]) {
    buf.reserve(text.len() + 3);
    buf.extend_from_slice(&[kind]);
    if memchr::memchr2(b'\r', b'\n', text).is_none() {
        buf.extend_from_slice(text);
    } else {
        buf.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    }
    buf.extend_from_slice(CRLF);
}

/// Appends a status reply: `+text\r\n`.
#[inline]
pub fn status(buf: &mut BytesMut, text: &[u8]) {
    put_line(buf, b'+', text);
}

/// Appends an error reply: `-text\r\n`; `text` is the full message, prefix included (`ERR …`).
#[inline]
pub fn error(buf: &mut BytesMut, text: &[u8]) {
    put_line(buf, b'-', text);
}

/// Appends an integer reply: `:n\r\n`.
#[inline]
pub fn integer(buf: &mut BytesMut, n: i64) {
    put_number(buf, b':', n < 0, n.unsigned_abs());
}

/// Appends a bulk string: `$len\r\ndata\r\n`.
#[inline]
pub fn bulk(buf: &mut BytesMut, data: &[u8]) {
    buf.reserve(data.len() + 24);
    put_header(buf, b'$', data.len() as u64);
    buf.extend_from_slice(data);
    buf.extend_from_slice(CRLF);
}

/// Appends the nil bulk string: `$-1\r\n`.
#[inline]
pub fn nil(buf: &mut BytesMut) {
    buf.extend_from_slice(b"$-1\r\n");
}

/// Appends an array header `*n\r\n`; the caller then appends `n` elements.
#[inline]
pub fn array_header(buf: &mut BytesMut, n: usize) {
    put_header(buf, b'*', n as u64);
}

/// A decoded RESP2 reply, as a client receives it.
///
/// Payloads are slices of the client's read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+text`
    Status(Bytes),
    /// `-text`, the server's message as sent (`ERR …`).
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len`; `None` is the nil bulk string `$-1`.
    Bulk(Option<Bytes>),
    /// `*n`; `None` is the nil array `*-1`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// Appends this reply in its wire form; `parse_reply` reads it back unchanged.
    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            Reply::Status(s) => status(buf, s),
            Reply::Error(e) => error(buf, e),
            Reply::Integer(n) => integer(buf, *n),
            Reply::Bulk(Some(b)) => bulk(buf, b),
            Reply::Bulk(None) => nil(buf),
            Reply::Array(Some(items)) => {
                array_header(buf, items.len());
                for item in items {
                    item.encode(buf);
                }
            }
            Reply::Array(None) => buf.extend_from_slice(b"*-1\r\n"),
        }
    }

    /// The payload of a status or a non-nil bulk string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Status(b) | Reply::Bulk(Some(b)) => Some(b),
            _ => None,
        }
    }

    /// The value of an integer reply.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Reply::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The message of an error reply.
    pub fn as_error(&self) -> Option<&[u8]> {
        match self {
            Reply::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The elements of a non-nil array.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(Some(items)) => Some(items),
            _ => None,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Whether this is the nil bulk string or the nil array.
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Bulk(None) | Reply::Array(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(write: impl Fn(&mut BytesMut), expected: &[u8]) {
        let mut buf = BytesMut::new();
        write(&mut buf);
        assert_eq!(
            &buf[..],
            expected,
            "as text: {:?}",
            String::from_utf8_lossy(&buf)
        );
    }

    #[test]
    fn encoders() {
        check(|b| status(b, b"OK"), b"+OK\r\n");
        check(|b| status(b, b""), b"+\r\n");
        check(|b| status(b, b"a\r\nb"), b"+a  b\r\n");
        check(|b| error(b, b"ERR no such key"), b"-ERR no such key\r\n");
        check(|b| error(b, b"x\ny"), b"-x y\r\n");
        check(|b| integer(b, 0), b":0\r\n");
        check(|b| integer(b, 42), b":42\r\n");
        check(|b| integer(b, -1), b":-1\r\n");
        check(|b| integer(b, i64::MAX), b":9223372036854775807\r\n");
        check(|b| integer(b, i64::MIN), b":-9223372036854775808\r\n");
        check(|b| bulk(b, b""), b"$0\r\n\r\n");
        check(|b| bulk(b, b"a\r\nb"), b"$4\r\na\r\nb\r\n");
        check(nil, b"$-1\r\n");
        check(|b| array_header(b, 0), b"*0\r\n");
        check(|b| array_header(b, 1024), b"*1024\r\n");
        check(
            |b| put_header(b, b'$', u64::MAX),
            b"$18446744073709551615\r\n",
        );
    }

    #[test]
    fn reply_encode() {
        let r = Reply::Array(Some(vec![
            Reply::Status(Bytes::from_static(b"OK")),
            Reply::Error(Bytes::from_static(b"ERR x")),
            Reply::Integer(-5),
            Reply::Bulk(Some(Bytes::from_static(b"v"))),
            Reply::Bulk(None),
            Reply::Array(None),
            Reply::Array(Some(vec![])),
        ]));
        check(
            |b| r.encode(b),
            b"*7\r\n+OK\r\n-ERR x\r\n:-5\r\n$1\r\nv\r\n$-1\r\n*-1\r\n*0\r\n",
        );
    }

    #[test]
    fn helpers() {
        let bulk = Reply::Bulk(Some(Bytes::from_static(b"v")));
        assert_eq!(bulk.as_bytes(), Some(&b"v"[..]));
        assert_eq!(
            Reply::Status(Bytes::from_static(b"OK")).as_bytes(),
            Some(&b"OK"[..])
        );
        assert_eq!(Reply::Bulk(None).as_bytes(), None);
        assert_eq!(Reply::Integer(3).as_integer(), Some(3));
        assert_eq!(bulk.as_integer(), None);
        assert_eq!(
            Reply::Error(Bytes::from_static(b"E")).as_error(),
            Some(&b"E"[..])
        );
        assert!(Reply::Error(Bytes::new()).is_error());
        assert!(!bulk.is_error());
        assert!(Reply::Bulk(None).is_nil());
        assert!(Reply::Array(None).is_nil());
        assert!(!Reply::Array(Some(vec![])).is_nil());
        assert_eq!(
            Reply::Array(Some(vec![Reply::Integer(1)])).as_array(),
            Some(&[Reply::Integer(1)][..])
        );
    }
}
