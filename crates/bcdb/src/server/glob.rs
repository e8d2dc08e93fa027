//! Redis glob patterns for `SCAN`/`HSCAN MATCH` and `KEYS`: `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
//!
//! Matched with one backtracking point (the last `*`), so the time is bounded by
//! pattern length × text length whatever a client sends (Redis's recursive matcher needed a
//! nesting limit for that).

/// Whether `text` matches `pattern`.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // pattern index just after the last `*`, and the text index it is tried at
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            star = Some((p, t));
            continue;
        }
        if let Some(next) = (p < pattern.len())
            .then(|| single(pattern, p, text[t]))
            .flatten()
        {
            p = next;
            t += 1;
            continue;
        }
        match star {
            Some((after, at)) => {
                p = after;
                t = at + 1;
                star = Some((after, at + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// If the one-character element at `p` matches `c`, the index after it.
fn single(pattern: &[u8], p: usize, c: u8) -> Option<usize> {
    match pattern[p] {
        b'?' => Some(p + 1),
        b'\\' if p + 1 < pattern.len() => (pattern[p + 1] == c).then_some(p + 2),
        b'[' => class(pattern, p + 1, c),
        other => (other == c).then_some(p + 1),
    }
}

/// A `[…]` class starting at `p` (after the bracket); an unterminated class ends with the
/// pattern, as in Redis.
fn class(pattern: &[u8], mut p: usize, c: u8) -> Option<usize> {
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut matched = false;
    while let Some(&b) = pattern.get(p) {
        if b == b']' {
            p += 1;
            break;
        }
        if b == b'\\' && p + 1 < pattern.len() {
            matched |= pattern[p + 1] == c;
            p += 2;
        } else if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() {
            let (lo, hi) = (b.min(pattern[p + 2]), b.max(pattern[p + 2]));
            matched |= (lo..=hi).contains(&c);
            p += 3;
        } else {
            matched |= b == c;
            p += 1;
        }
    }
    (matched != negate).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn redis_patterns() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h*llo", "hello world", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("user:*:name", "user:42:name", true),
            ("user:*:name", "user:42:email", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("a", "ab", false),
            ("ab*", "a", false),
            ("[abc", "b", true),
        ];
        for &(pattern, text, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes()),
                want,
                "{pattern:?} ~ {text:?}"
            );
        }
    }

    #[test]
    fn hostile_patterns_stay_fast() {
        let pattern = "*a".repeat(500) + "b";
        let text = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes()));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
