//! PAX extended header records: the values that override a ustar header, and xattrs.

use crate::fl::Xattr;

/// Values of a PAX `x` header that override the ustar header.
#[derive(Default)]
pub(super) struct Pax {
    pub(super) path: Option<Vec<u8>>,
    pub(super) linkpath: Option<Vec<u8>>,
    pub(super) size: Option<u64>,
    pub(super) uid: Option<u64>,
    pub(super) gid: Option<u64>,
    pub(super) mtime: Option<i64>,
    pub(super) xattrs: Vec<Xattr>,
}

/// Parses PAX records: `<length> <key>=<value>\n`, the length counting the whole record.
pub(super) fn parse_pax(mut data: &[u8]) -> Result<Pax, String> {
    let mut pax = Pax::default();
    while !data.is_empty() && !data.iter().all(|&b| b == 0) {
        let space = data
            .iter()
            .take(20)
            .position(|&b| b == b' ')
            .ok_or("PAX record without a length")?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("PAX record with an invalid length")?;
        if len < space + 3 || len > data.len() || data[len - 1] != b'\n' {
            return Err("PAX record with an invalid length".into());
        }
        let record = &data[space + 1..len - 1];
        data = &data[len..];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("PAX record without '='")?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        pax_record(&mut pax, key, value)?;
    }
    Ok(pax)
}

fn pax_record(pax: &mut Pax, key: &[u8], value: &[u8]) -> Result<(), String> {
    let decimal = |what: &str| -> Result<Option<u64>, String> {
        if value.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("invalid PAX {what}"))
    };
    let text = || (!value.is_empty()).then(|| value.to_vec());
    match key {
        b"path" => pax.path = text(),
        b"linkpath" => pax.linkpath = text(),
        b"size" => pax.size = decimal("size")?,
        b"uid" => pax.uid = decimal("uid")?,
        b"gid" => pax.gid = decimal("gid")?,
        b"mtime" => pax.mtime = pax_time(value)?,
        _ if key.starts_with(b"GNU.sparse.") => {
            return Err("GNU sparse files are not supported".into())
        }
        _ => {
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                set_xattr(&mut pax.xattrs, name.to_vec(), value.to_vec());
            } else if let Some(name) = key.strip_prefix(b"LIBARCHIVE.xattr.") {
                let name = percent_decode(name).ok_or("invalid LIBARCHIVE.xattr name")?;
                let value = base64_decode(value).ok_or("invalid LIBARCHIVE.xattr value")?;
                set_xattr(&mut pax.xattrs, name, value);
            }
        }
    }
    Ok(())
}

/// Adds or replaces an xattr, keeping first-seen order.
fn set_xattr(xattrs: &mut Vec<Xattr>, name: Vec<u8>, value: Vec<u8>) {
    match xattrs.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => xattrs.push((name, value)),
    }
}

/// A PAX time (`[-]seconds[.fraction]`), fraction dropped (rounded down).
fn pax_time(value: &[u8]) -> Result<Option<i64>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let bad = || "invalid PAX mtime".to_string();
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let below = secs < 0 || text.starts_with('-');
    Ok(Some(if below && frac.bytes().any(|b| b != b'0') {
        secs - 1
    } else {
        secs
    }))
}

fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut idx = 0;
    while idx < s.len() {
        if s[idx] == b'%' {
            let hex = s.get(idx + 1..idx + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            idx += 3;
        } else {
            out.push(s[idx]);
            idx += 1;
        }
    }
    Some(out)
}

fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u8> = s.iter().copied().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for &c in chunk {
            acc = acc << 6 | value(c)?;
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        out.extend_from_slice(&acc.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record with its length prefix computed.
    fn record(key: &str, value: &[u8]) -> Vec<u8> {
        let body = [b" ", key.as_bytes(), b"=", value, b"\n"].concat();
        let mut len = body.len() + 1;
        while (len.to_string().len() + body.len()) != len {
            len += 1;
        }
        [len.to_string().as_bytes(), &body].concat()
    }

    fn parsed(records: &[(&str, &[u8])]) -> Result<Pax, String> {
        let data: Vec<u8> = records.iter().flat_map(|(k, v)| record(k, v)).collect();
        parse_pax(&data)
    }

    #[test]
    fn overrides() {
        let p = parsed(&[
            ("path", b"a/b"),
            ("linkpath", b"t"),
            ("size", b"9000000000"),
            ("uid", b"70000"),
            ("comment", b"ignored"),
        ])
        .unwrap();
        assert_eq!(p.path.as_deref(), Some(&b"a/b"[..]));
        assert_eq!(p.linkpath.as_deref(), Some(&b"t"[..]));
        assert_eq!(
            (p.size, p.uid, p.gid),
            (Some(9_000_000_000), Some(70000), None)
        );
        assert_eq!(parsed(&[("path", b"")]).unwrap().path, None);
    }

    #[test]
    fn times() {
        for (text, secs) in [("12.9999", 12), ("-1.5", -2), ("-0.5", -1), ("-3", -3)] {
            assert_eq!(
                parsed(&[("mtime", text.as_bytes())]).unwrap().mtime,
                Some(secs)
            );
        }
        assert!(parsed(&[("mtime", b"1.x")]).is_err());
    }

    #[test]
    fn xattrs() {
        let p = parsed(&[
            ("SCHILY.xattr.user.a", b"x\ny="),
            ("SCHILY.xattr.security.capability", b"\x01\x00"),
            ("LIBARCHIVE.xattr.user.%61", b"aGk="),
        ])
        .unwrap();
        let expected = vec![
            (b"user.a".to_vec(), b"hi".to_vec()),
            (b"security.capability".to_vec(), b"\x01\x00".to_vec()),
        ];
        assert_eq!(p.xattrs, expected);
    }

    #[test]
    fn malformed() {
        assert!(parse_pax(b"99 path=a\n").is_err());
        assert!(parse_pax(b"path=a\n").is_err());
        assert!(parse_pax(b"8 path=a\n").is_err());
        assert!(parsed(&[("size", b"-1")]).is_err());
        assert!(parsed(&[("GNU.sparse.major", b"1")]).is_err());
        assert!(parsed(&[("LIBARCHIVE.xattr.user.a", b"***")]).is_err());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert!(base64_decode(b"a").is_none());
        assert!(base64_decode(b"a*==").is_none());
    }
}
