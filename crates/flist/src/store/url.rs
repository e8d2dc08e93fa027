//! Store URLs: `scheme://[user][:password]@host[:port][/path][?query]`, percent-decoding, and password removal.
//!
//! Deliberately small: the authority ends at the first `/` or `?`, the user
//! info is everything before the last `@` in it (so a raw `@` in a password
//! still works), and the password starts after the first `:` of the user
//! info. User, password, path and query values are percent-decoded; the raw
//! text is kept so [`StoreUrl::without_password`] can rebuild the URL as the
//! user wrote it, minus the secret.

use super::StoreError;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreUrl {
    /// Lowercased scheme, e.g. `zdb`.
    pub(crate) scheme: String,
    /// Decoded user, if the URL has user info.
    pub(crate) user: Option<Vec<u8>>,
    /// Decoded password from the user info, if any.
    pub(crate) password: Option<Vec<u8>>,
    /// Host as written (IPv6 literals keep their brackets); empty for `scheme:///path`.
    pub(crate) host: String,
    /// Explicit port, if any.
    pub(crate) port: Option<u16>,
    /// Decoded path, starting with `/`, or empty.
    pub(crate) path: Vec<u8>,
    /// Decoded query parameters in order.
    pub(crate) query: Vec<(String, Vec<u8>)>,
    raw_user: Option<String>,
    raw_path: String,
    raw_query: Option<String>,
}

/// Query parameters that hold secrets and never appear in [`StoreUrl::without_password`].
const SECRET_PARAMS: &[&str] = &["password"];

impl StoreUrl {
    /// Parses `input`; errors name the URL with its password masked.
    pub(crate) fn parse(input: &str) -> Result<StoreUrl, StoreError> {
        let bad = |reason: &str| StoreError::Url {
            url: redact(input),
            reason: reason.to_string(),
        };
        let (scheme, rest) = input
            .split_once("://")
            .ok_or_else(|| bad("missing scheme://"))?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(bad("invalid scheme"));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        let (raw_path, raw_query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let (raw_userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (raw_user, raw_password) = match raw_userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, password)) => (Some(user), Some(password)),
                None => (Some(u), None),
            },
            None => (None, None),
        };
        let decode = |s: &str, what: &str| {
            percent_decode(s).ok_or_else(|| bad(&format!("invalid percent escape in {what}")))
        };
        let (host, port) = split_port(hostport).ok_or_else(|| bad("invalid port"))?;
        let mut query = Vec::new();
        for pair in raw_query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = String::from_utf8(decode(k, "query")?)
                .map_err(|_| bad("query names must be UTF-8"))?;
            query.push((k, decode(v, "query")?));
        }
        Ok(StoreUrl {
            scheme: scheme.to_ascii_lowercase(),
            user: raw_user.map(|u| decode(u, "user")).transpose()?,
            password: raw_password.map(|p| decode(p, "password")).transpose()?,
            host: host.to_string(),
            port,
            path: decode(raw_path, "path")?,
            query,
            raw_user: raw_user.map(str::to_string),
            raw_path: raw_path.to_string(),
            raw_query: raw_query.map(str::to_string),
        })
    }

    /// The URL as written, without the password in the user info or the query.
    pub(crate) fn without_password(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if let Some(user) = self.raw_user.as_deref().filter(|u| !u.is_empty()) {
            out.push_str(user);
            out.push('@');
        }
        out.push_str(&self.host);
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(&self.raw_path);
        if let Some(query) = &self.raw_query {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| {
                    let name = pair.split_once('=').map_or(*pair, |(k, _)| k);
                    !pair.is_empty() && !SECRET_PARAMS.contains(&name)
                })
                .collect();
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
        }
        out
    }

    /// The host without IPv6 brackets, ready for name resolution.
    pub(crate) fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

/// Splits `host[:port]`, keeping `[v6]` literals whole; `None` for a bad port.
fn split_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    let colon = match hostport.strip_prefix('[') {
        Some(inner) => {
            let close = inner.find(']')? + 1;
            match &hostport[close + 1..] {
                "" => return Some((hostport, None)),
                tail if tail.starts_with(':') => close + 1,
                _ => return None,
            }
        }
        None => match hostport.rfind(':') {
            Some(i) => i,
            None => return Some((hostport, None)),
        },
    };
    let port = hostport[colon + 1..].parse().ok()?;
    Some((&hostport[..colon], Some(port)))
}

/// Decodes `%XX` escapes; `None` on a truncated or non-hex escape.
pub(crate) fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digit = |j: usize| (*bytes.get(j)? as char).to_digit(16);
            let (hi, lo) = (digit(i + 1)?, digit(i + 2)?);
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Encodes a filesystem path for a URL: unreserved bytes and `/` stay, the rest become `%XX`.
pub(crate) fn percent_encode_path(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"/-._~+,=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `input` with any password masked as `***`, for messages about URLs that may not parse.
pub(crate) fn redact(input: &str) -> String {
    let Some((scheme, rest)) = input.split_once("://") else {
        // without a scheme there is no structure to trust; keep only what follows any `@`
        return input.rsplit('@').next().unwrap_or_default().to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***@")),
                None => out.push_str(&format!("{userinfo}@")),
            }
            out.push_str(hostport);
        }
        None => out.push_str(authority),
    }
    match rest.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if SECRET_PARAMS.contains(&k) => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` and checks user, password, host, port, path and the stripped form.
    fn check(
        input: &str,
        parts: (Option<&str>, Option<&str>, &str, Option<u16>, &str),
        stripped: &str,
    ) {
        let url = StoreUrl::parse(input).unwrap();
        let text = |v: &Option<Vec<u8>>| v.as_ref().map(|b| String::from_utf8(b.clone()).unwrap());
        assert_eq!(
            (
                text(&url.user).as_deref(),
                text(&url.password).as_deref(),
                url.host.as_str(),
                url.port,
                String::from_utf8(url.path.clone()).unwrap().as_str(),
            ),
            parts,
            "{input}"
        );
        assert_eq!(url.without_password(), stripped, "{input}");
    }

    fn check_err(input: &str, expected: &str) {
        assert_eq!(StoreUrl::parse(input).unwrap_err().to_string(), expected);
    }

    #[test]
    fn parse_and_strip() {
        check(
            "zdb://hub.example",
            (None, None, "hub.example", None, ""),
            "zdb://hub.example",
        );
        check(
            "zdb://:secret@127.0.0.1:9901/blocks",
            (Some(""), Some("secret"), "127.0.0.1", Some(9901), "/blocks"),
            "zdb://127.0.0.1:9901/blocks",
        );
        check(
            "ZDB://me:pw@h/ns",
            (Some("me"), Some("pw"), "h", None, "/ns"),
            "zdb://me@h/ns",
        );
        check(
            "zdb://me@h:1",
            (Some("me"), None, "h", Some(1), ""),
            "zdb://me@h:1",
        );
        check(
            "zdb://u:p%40ss%3Aw@[::1]:9900/ns",
            (Some("u"), Some("p@ss:w"), "[::1]", Some(9900), "/ns"),
            "zdb://u@[::1]:9900/ns",
        );
        check(
            "zdb://:a@b@h/ns",
            (Some(""), Some("a@b"), "h", None, "/ns"),
            "zdb://h/ns",
        );
        check(
            "dir:///srv/my%20blocks",
            (None, None, "", None, "/srv/my blocks"),
            "dir:///srv/my%20blocks",
        );
        check(
            "zdb:///run/zdb.sock?ns=blocks&password=s3cret",
            (None, None, "", None, "/run/zdb.sock"),
            "zdb:///run/zdb.sock?ns=blocks",
        );
        check(
            "zdb:///run/zdb.sock?password=s3cret",
            (None, None, "", None, "/run/zdb.sock"),
            "zdb:///run/zdb.sock",
        );
    }

    #[test]
    fn query() {
        let url = StoreUrl::parse("zdb:///s?ns=a%20b&password=x%26y&flag").unwrap();
        let expected: Vec<(String, Vec<u8>)> = vec![
            ("ns".into(), b"a b".to_vec()),
            ("password".into(), b"x&y".to_vec()),
            ("flag".into(), Vec::new()),
        ];
        assert_eq!(url.query, expected);
    }

    #[test]
    fn errors_mask_the_password() {
        check_err(
            "zdb://:pw@h:99999/ns",
            "store URL zdb://:***@h:99999/ns: invalid port",
        );
        check_err(
            "zdb://u:pw@h:/ns",
            "store URL zdb://u:***@h:/ns: invalid port",
        );
        check_err(
            "zdb://u:p%zz@h/ns",
            "store URL zdb://u:***@h/ns: invalid percent escape in password",
        );
        check_err(
            "zdb:///s?password=pw&x=%g",
            "store URL zdb:///s?password=***&x=%g: invalid percent escape in query",
        );
        check_err(
            "hub.example:9900",
            "store URL hub.example:9900: missing scheme://",
        );
        check_err("://x", "store URL ://x: invalid scheme");
        check_err("[::1]x", "store URL [::1]x: missing scheme://");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("zdb://:pw@h/ns"), "zdb://:***@h/ns");
        assert_eq!(redact("zdb://u@h/ns"), "zdb://u@h/ns");
        assert_eq!(redact("user:pw@host"), "host");
        assert_eq!(redact("00-7f=zdb://:pw@h"), "00-7f=zdb://:***@h");
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%2Fb%2f").unwrap(), b"a/b/");
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(
            percent_encode_path(b"/srv/a b/%x\xff"),
            "/srv/a%20b/%25x%FF"
        );
    }
}
