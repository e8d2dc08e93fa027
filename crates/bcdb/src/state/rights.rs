//! Who may do what, decided from the state alone: whose rights a command is judged by,
//! whether they allow it, author signatures, and folding access entries into a namespace.

use super::{
    ApplyError, NamespaceState, ObjectState, State, ACL_PREFIX, GROUP_PREFIX, OBJECT_ACL, POLICY,
};
use crate::acl::{self, Acl, Caller, Perms, DEFAULT_ACL};
use std::collections::HashMap;

use identity::PublicKey;

use crate::entry::{value_hash, Author, Entry, Op};

/// Who a change or a read is by, once the instance key is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Who {
    Owner,
    Key([u8; 32]),
    Nobody,
}

impl NamespaceState {
    /// Whether `who` holds `want` on `object` (or, with `None`, on a new object).
    pub(super) fn allows(&self, who: Who, object: Option<&ObjectState>, want: Perms) -> bool {
        if let (Who::Key(k), Some(o)) = (who, object) {
            if o.owner == Some(k) {
                return true;
            }
        }
        self.list_allows(who, list_of(object), want)
    }

    /// Whether access list `list` (absent: nobody) gives `who` `want`; the owner has all.
    fn list_allows(&self, who: Who, list: &str, want: Perms) -> bool {
        let key = match who {
            Who::Owner => return true,
            Who::Key(k) => Some(k),
            // an unauthenticated session's unsigned change would be recorded as the owner's
            Who::Nobody if want != Perms::READ => return false,
            Who::Nobody => None,
        };
        self.acls
            .get(list)
            .is_some_and(|acl| acl.granted(key.as_ref(), &self.groups).contains(want))
    }
}

/// The access list that governs `object` (or a new object).
fn list_of(object: Option<&ObjectState>) -> &str {
    object.and_then(|o| o.acl.as_deref()).unwrap_or(DEFAULT_ACL)
}

/// Read decisions already taken for one caller in one namespace, by access list, so that
/// filtering many objects costs one scan of each list's rules rather than one per object.
/// Valid until the state changes.
#[derive(Debug, Default)]
pub struct ReadCache {
    namespace: Vec<u8>,
    lists: HashMap<String, bool>,
}

impl State {
    pub(super) fn who(&self, key: Option<[u8; 32]>) -> Who {
        match key {
            None => Who::Owner,
            Some(k) if Some(k) == self.owner => Who::Owner,
            Some(k) => Who::Key(k),
        }
    }

    /// Whose rights a command by `caller`, signed by `author` if at all,
    /// is decided with: the instance owner's when the owner submits it
    /// (the owner may record a change on anyone's behalf), else the
    /// signer's, else the session's.
    pub(super) fn principal(&self, caller: &Caller, author: Option<&Author>) -> Who {
        let session = match caller {
            Caller::Owner => Who::Owner,
            Caller::Key(k) => self.who(Some(k.to_bytes())),
            Caller::Anonymous => Who::Nobody,
        };
        match (session, author) {
            (Who::Owner, _) => Who::Owner,
            (_, Some(a)) => self.who(Some(a.key.to_bytes())),
            (session, None) => session,
        }
    }

    /// [`State::may_read`] with the decisions of each access list kept in `cache`.
    pub fn may_read_cached(
        &self,
        caller: &Caller,
        namespace: &[u8],
        id: u64,
        cache: &mut ReadCache,
    ) -> bool {
        let Some(ns) = self.namespace(namespace) else {
            return false;
        };
        let Some(object) = ns.objects.get(&id) else {
            return false;
        };
        let who = self.principal(caller, None);
        match who {
            Who::Owner => return true,
            Who::Key(k) if object.owner == Some(k) => return true,
            _ => {}
        }
        if cache.namespace != namespace {
            cache.namespace = namespace.to_vec();
            cache.lists.clear();
        }
        let list = list_of(Some(object));
        if let Some(&allowed) = cache.lists.get(list) {
            return allowed;
        }
        let allowed = ns.list_allows(who, list, Perms::READ);
        cache.lists.insert(list.to_string(), allowed);
        allowed
    }

    /// Whether `caller` may read object `id` of `namespace` (false when it does not exist).
    pub fn may_read(&self, caller: &Caller, namespace: &[u8], id: u64) -> bool {
        let Some(ns) = self.namespace(namespace) else {
            return false;
        };
        let who = self.principal(caller, None);
        ns.objects
            .get(&id)
            .is_some_and(|o| ns.allows(who, Some(o), Perms::READ))
    }

    /// Whether `caller` may delete the live object `id` of `namespace` (its rights alone:
    /// a signed-only policy is checked when the delete is planned).
    pub fn may_delete(&self, caller: &Caller, namespace: &[u8], id: u64) -> bool {
        let who = self.principal(caller, None);
        self.namespace(namespace).is_some_and(|ns| {
            ns.live(id)
                .is_ok_and(|o| ns.allows(who, Some(o), Perms::DELETE))
        })
    }

    /// Whether `caller` is the instance owner.
    pub fn is_owner(&self, caller: &Caller) -> bool {
        self.principal(caller, None) == Who::Owner
    }

    pub(super) fn owner_only(&self, caller: &Caller, what: &str) -> Result<(), ApplyError> {
        match self.principal(caller, None) {
            Who::Owner => Ok(()),
            _ => Err(ApplyError::Denied(format!(
                "only the instance owner may {what}"
            ))),
        }
    }
}

impl State {
    /// Checks `author`'s signature, if any, on a change of `op` to (`namespace`,
    /// `collection`, `id`) whose value is `value` (see [`Entry::change_payload`]): made for
    /// this instance, with a nonce above every one the key used before here.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_author(
        &self,
        author: &Option<Author>,
        namespace: &[u8],
        collection: &str,
        id: u64,
        op: Op,
        schema_hash: &[u8; 32],
        value: &[u8],
    ) -> Result<(), ApplyError> {
        let Some(author) = author else {
            return Ok(());
        };
        let Some(nonce) = author.nonce else {
            return Err(ApplyError::Replay(
                "a signed change needs a nonce (SIG <key> <nonce> <signature>)".into(),
            ));
        };
        let instance = self
            .owner
            .and_then(|k| PublicKey::from_bytes(&k).ok())
            .ok_or(ApplyError::Signature)?;
        let payload = Entry::change_payload(
            &instance,
            namespace,
            collection.as_bytes(),
            id,
            op,
            schema_hash,
            &value_hash(value),
            nonce,
        );
        author
            .key
            .verify(&payload, &author.signature)
            .map_err(|_| ApplyError::Signature)?;
        let last = self.last_nonce(&author.key);
        if nonce <= last {
            return Err(ApplyError::Replay(format!(
                "nonce {nonce} is not above {last}, the last one this key signed with"
            )));
        }
        Ok(())
    }
}

/// Folds an [`Op::AclPut`] entry into its namespace.
pub(super) fn apply_acl(
    ns: &mut NamespaceState,
    entry: &Entry,
    collection: &str,
    value: &[u8],
) -> Result<(), ApplyError> {
    let bad = |why: String| ApplyError::Invalid(format!("access entry {}: {why}", entry.seq));
    let text = std::str::from_utf8(value).map_err(|_| bad("not UTF-8".into()))?;
    if let Some(name) = collection.strip_prefix(ACL_PREFIX) {
        ns.acls
            .insert(name.to_string(), Acl::from_text(text).map_err(bad)?);
    } else if let Some(name) = collection.strip_prefix(GROUP_PREFIX) {
        ns.groups
            .insert(name.to_string(), acl::group_from_text(text).map_err(bad)?);
    } else if collection == POLICY {
        ns.signed_only = match text {
            "signed" => true,
            "open" => false,
            other => return Err(bad(format!("policy {other:?}"))),
        };
    } else if collection == OBJECT_ACL {
        let obj = ns
            .objects
            .get_mut(&entry.object_id)
            .ok_or(ApplyError::NoObject(entry.object_id))?;
        obj.acl = (!text.is_empty()).then(|| text.to_string());
    } else {
        return Err(bad(format!("unknown kind {collection:?}")));
    }
    Ok(())
}
