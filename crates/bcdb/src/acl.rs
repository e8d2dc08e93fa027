//! Who may do what: permissions, access lists, groups and who is asking.
//!
//! The rules follow the model of the original Rust BCDB, extended with
//! groups and public readers:
//! - the instance owner may do everything;
//! - an object's owner (the key that created it) may do everything to it,
//!   including attaching an access list;
//! - anyone else needs a rule granting the permission in the object's
//!   access list, or, for an object without one, in the namespace's
//!   `default` list, which also decides who may create objects (`w`);
//! - with neither, an object is its owner's alone.
//!
//! A rule names a key, a group (`group:<name>`, a set of keys kept in the
//! same namespace) or `*`, anyone, unauthenticated readers included.
//!
//! Access lists and groups are ledger values, so their stored text is
//! canonical: one `principal perms` line per rule, sorted, for a list; one
//! hex key per line, sorted, for a group. The state machine decides with
//! these alone, so a replay reaches the same decisions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use identity::PublicKey;

/// The access list that governs objects without their own, and creation.
pub const DEFAULT_ACL: &str = "default";
/// Most rules in one list, and most members in one group.
pub const MAX_RULES: usize = 1024;
/// Longest access list or group name.
pub const MAX_NAME: usize = 128;

/// A set of the permissions `r` (read), `w` (write: create, update) and `d` (delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Perms(u8);

impl Perms {
    /// Read.
    pub const READ: Perms = Perms(1);
    /// Write.
    pub const WRITE: Perms = Perms(2);
    /// Delete.
    pub const DELETE: Perms = Perms(4);

    /// Parses `rwd`-style text: any of the three letters, each at most
    /// once; `-` alone for none.
    pub fn parse(text: &str) -> Result<Perms, String> {
        if text == "-" {
            return Ok(Perms(0));
        }
        let mut bits = 0;
        for c in text.chars() {
            let bit = match c {
                'r' => 1,
                'w' => 2,
                'd' => 4,
                _ => return Err(format!("permissions {text:?}: use the letters r, w and d")),
            };
            if bits & bit != 0 {
                return Err(format!("permissions {text:?}: {c} is given twice"));
            }
            bits |= bit;
        }
        if bits == 0 {
            return Err("empty permissions (use - for none)".into());
        }
        Ok(Perms(bits))
    }

    /// Whether every permission of `other` is in `self`.
    pub fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("-");
        }
        for (bit, c) in [(1, 'r'), (2, 'w'), (4, 'd')] {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Whom a rule names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// One key (its 32 bytes).
    Key([u8; 32]),
    /// Every member of a group.
    Group(String),
    /// Anyone, unauthenticated readers included.
    Anyone,
}

impl Principal {
    /// Parses a 64-digit hex key (or base58), `group:<name>` or `*`.
    pub fn parse(text: &str) -> Result<Principal, String> {
        if text == "*" {
            return Ok(Principal::Anyone);
        }
        if let Some(name) = text.strip_prefix("group:") {
            check_name(name, "group")?;
            return Ok(Principal::Group(name.to_string()));
        }
        PublicKey::parse(text)
            .map(|k| Principal::Key(k.to_bytes()))
            .map_err(|_| format!("{text:?} is neither a key, group:<name> nor *"))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Key(k) => f.write_str(&hex::encode(k)),
            Principal::Group(g) => write!(f, "group:{g}"),
            Principal::Anyone => f.write_str("*"),
        }
    }
}

/// Checks an access list or group name: 1 to [`MAX_NAME`] characters of
/// letters, digits, `.`, `_` and `-`, and not `none` in any case.
pub fn check_name(name: &str, what: &str) -> Result<(), String> {
    // `NONE` detaches a list (OBJ.ACL), so no list may be called that
    let ok = !name.is_empty()
        && !name.eq_ignore_ascii_case("none")
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name {name:?}: 1 to {MAX_NAME} letters, digits, '.', '_' or '-'"
        ))
    }
}

/// An access list: permissions by principal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    rules: BTreeMap<Principal, Perms>,
}

impl Acl {
    /// A list of these rules (a principal named twice keeps its last permissions).
    pub fn new(rules: impl IntoIterator<Item = (Principal, Perms)>) -> Result<Acl, String> {
        let rules: BTreeMap<_, _> = rules.into_iter().collect();
        if rules.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} rules in an access list"));
        }
        Ok(Acl { rules })
    }

    /// The rules, in canonical order.
    pub fn rules(&self) -> impl Iterator<Item = (&Principal, Perms)> {
        self.rules.iter().map(|(p, perms)| (p, *perms))
    }

    /// The canonical stored text.
    pub fn to_text(&self) -> String {
        self.rules
            .iter()
            .map(|(p, perms)| format!("{p} {perms}\n"))
            .collect()
    }

    /// Parses the stored text; strict, so only canonical text is accepted.
    pub fn from_text(text: &str) -> Result<Acl, String> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let (p, perms) = line
                .split_once(' ')
                .ok_or_else(|| format!("access list line {line:?}"))?;
            rules.push((Principal::parse(p)?, Perms::parse(perms)?));
        }
        let acl = Acl::new(rules)?;
        if acl.to_text() != text {
            return Err("access list text is not canonical".into());
        }
        Ok(acl)
    }

    /// What this list grants `key` (`None`: an unauthenticated reader),
    /// given the namespace's groups.
    pub fn granted(
        &self,
        key: Option<&[u8; 32]>,
        groups: &BTreeMap<String, BTreeSet<[u8; 32]>>,
    ) -> Perms {
        let mut bits = 0;
        for (principal, perms) in &self.rules {
            let applies = match (principal, key) {
                (Principal::Anyone, _) => true,
                (Principal::Key(k), Some(key)) => k == key,
                (Principal::Group(g), Some(key)) => groups.get(g).is_some_and(|m| m.contains(key)),
                _ => false,
            };
            if applies {
                bits |= perms.0;
            }
        }
        Perms(bits)
    }
}

/// The canonical stored text of a group: its members' hex keys, sorted, one per line.
pub fn group_text(members: &BTreeSet<[u8; 32]>) -> String {
    members
        .iter()
        .map(|k| format!("{}\n", hex::encode(k)))
        .collect()
}

/// Parses a group's stored text; strict, like [`Acl::from_text`].
pub fn group_from_text(text: &str) -> Result<BTreeSet<[u8; 32]>, String> {
    let mut members = BTreeSet::new();
    for line in text.lines() {
        let key = PublicKey::parse(line).map_err(|_| format!("group member {line:?}"))?;
        members.insert(key.to_bytes());
    }
    if members.len() > MAX_RULES {
        return Err(format!("at most {MAX_RULES} members in a group"));
    }
    if group_text(&members) != text {
        return Err("group text is not canonical".into());
    }
    Ok(members)
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The instance owner: the embedding program, a session that proved
    /// the instance key, or any session of a server that does not require
    /// authentication.
    Owner,
    /// A session that proved this key.
    Key(PublicKey),
    /// A session that proved nothing (on a server requiring authentication).
    Anonymous,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_parse_and_print() {
        assert_eq!(Perms::parse("rw").unwrap().to_string(), "rw");
        assert_eq!(Perms::parse("dr").unwrap().to_string(), "rd");
        assert_eq!(Perms::parse("-").unwrap().to_string(), "-");
        for bad in ["", "rr", "x", "rwx", "R"] {
            assert!(Perms::parse(bad).is_err(), "{bad:?}");
        }
        let rw = Perms::parse("rw").unwrap();
        assert!(rw.contains(Perms::READ) && !rw.contains(Perms::DELETE));
    }

    #[test]
    fn lists_are_canonical_and_grant_by_key_group_and_anyone() {
        let alice = [1u8; 32];
        let k = identity::KeyPair::from_seed(&[9; 32]).public();
        let acl = Acl::new([
            (Principal::Group("ops".into()), Perms::parse("wd").unwrap()),
            (Principal::Anyone, Perms::READ),
            (Principal::Key(k.to_bytes()), Perms::parse("w").unwrap()),
        ])
        .unwrap();
        let text = acl.to_text();
        assert_eq!(Acl::from_text(&text).unwrap(), acl);
        // reordered lines are not canonical
        let mut lines: Vec<&str> = text.lines().collect();
        lines.reverse();
        assert!(Acl::from_text(&(lines.join("\n") + "\n")).is_err());
        let groups = BTreeMap::from([("ops".to_string(), BTreeSet::from([alice]))]);
        assert_eq!(acl.granted(None, &groups).to_string(), "r");
        assert_eq!(acl.granted(Some(&alice), &groups).to_string(), "rwd");
        assert_eq!(acl.granted(Some(&k.to_bytes()), &groups).to_string(), "rw");
        assert_eq!(acl.granted(Some(&[7; 32]), &groups).to_string(), "r");
        assert!(Principal::parse("group:bad name").is_err());
        assert!(Principal::parse("nothex").is_err());
    }

    #[test]
    fn groups_are_canonical() {
        let a = identity::KeyPair::from_seed(&[1; 32]).public().to_bytes();
        let b = identity::KeyPair::from_seed(&[2; 32]).public().to_bytes();
        let members = BTreeSet::from([a, b]);
        let text = group_text(&members);
        assert_eq!(group_from_text(&text).unwrap(), members);
        let mut twice = text.clone();
        twice.push_str(&text);
        assert!(group_from_text(&twice).is_err());
    }
}
