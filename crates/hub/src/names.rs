//! Which user and flist names the hub accepts.
//!
//! Names end up in URLs and in HTML, never in file paths (flists are stored
//! by digest), but they are still kept to a small, unambiguous alphabet so a
//! name reads the same in a URL, a shell and a page.

/// Longest user name.
pub(crate) const MAX_USER_NAME: usize = 32;
/// Longest flist name.
pub(crate) const MAX_FLIST_NAME: usize = 128;
/// Longest tag.
pub(crate) const MAX_TAG: usize = 64;

/// Names that would collide with the hub's own paths.
const RESERVED_USERS: &[&str] = &["api", "static", "favicon.ico", "robots.txt"];

/// Checks a user name: 1–32 of `a-z 0-9 -`, starting with a letter or digit.
pub(crate) fn check_user(name: &str) -> Result<(), String> {
    check(name, "user name", MAX_USER_NAME, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
    })?;
    if RESERVED_USERS.contains(&name) {
        return Err(format!("user name {name:?} is reserved"));
    }
    Ok(())
}

/// Checks an flist name: 1–128 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
pub(crate) fn check_flist(name: &str) -> Result<(), String> {
    check(name, "flist name", MAX_FLIST_NAME, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    })
}

/// Checks a tag: the flist-name alphabet, at most 64 characters.
pub(crate) fn check_tag(tag: &str) -> Result<(), String> {
    check(tag, "tag", MAX_TAG, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    })
}

fn check(name: &str, what: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!("a {what} has 1 to {max} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("a {what} starts with a letter or a digit"));
    }
    if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
        return Err(format!("a {what} may not contain {bad:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        assert!(check_user("alice").is_ok());
        assert!(check_user("a-1").is_ok());
        assert!(check_user("").is_err());
        assert!(check_user("-a").is_err());
        assert!(check_user("Alice").is_err());
        assert!(check_user("a/b").is_err());
        assert!(check_user("api").is_err());
        assert!(check_user(&"a".repeat(33)).is_err());
    }

    #[test]
    fn flists_and_tags() {
        assert!(check_flist("debian-12.4_slim").is_ok());
        assert!(check_flist(".hidden").is_err());
        assert!(check_flist("a/../b").is_err());
        assert!(check_flist("a b").is_err());
        assert!(check_flist(&"x".repeat(129)).is_err());
        assert!(check_tag("latest").is_ok());
        assert!(check_tag("<script>").is_err());
    }
}
