//! The deterministic state machine: a command and the ledger position in, one entry out; entries in, the current state out.
//!
//! [`State::plan`] turns a client command into the exact [`Entry`] (and
//! value) the ledger will record, given only the state and the `seq`/`time`
//! the ledger assigns: ids come from per-namespace counters, never from a
//! clock or a random source. [`State::apply`] folds an entry into the state;
//! it is the only way the state changes, whether the entry was just planned
//! or is being replayed from the log after a restart. Two replicas that
//! apply the same entries therefore hold the same state and assign the same
//! ids, which is what replication will need.

use std::collections::{BTreeMap, BTreeSet};

use identity::PublicKey;

mod rights;

use crate::acl::{self, Acl, Caller, Perms, DEFAULT_ACL};
use crate::entry::{value_hash, Author, Entry, Op};
use crate::schema::{self, check_evolution, Schema};
pub use rights::ReadCache;
use rights::{apply_acl, Who};

/// Collection of an [`Op::AclPut`] entry that sets a namespace's policy.
pub const POLICY: &str = "policy";
/// Collection of an [`Op::AclPut`] entry that attaches an access list to its object.
pub const OBJECT_ACL: &str = "object-acl";
/// Collection prefix of an [`Op::AclPut`] entry that sets an access list.
pub const ACL_PREFIX: &str = "acl:";
/// Collection prefix of an [`Op::AclPut`] entry that sets a group.
pub const GROUP_PREFIX: &str = "group:";

/// Longest value stored (an object's canonical encoding or a raw blob).
pub const MAX_VALUE: usize = 8 << 20;
/// Longest key of a schema-less value.
pub const MAX_KEY: usize = 1024;

/// The stored form of a schema-less value: `u16 LE key length ‖ key ‖ blob`,
/// so the ledger itself records which key an id carries.
pub fn keyed_value(key: &[u8], blob: &[u8]) -> Vec<u8> {
    let len = u16::try_from(key.len()).expect("keys are bounded by MAX_KEY");
    let mut out = Vec::with_capacity(2 + key.len() + blob.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(blob);
    out
}

/// Splits a stored schema-less value into key and blob.
pub fn split_keyed(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(u16::from_le_bytes(value.get(..2)?.try_into().ok()?));
    let key = value.get(2..2 + len)?;
    Some((key, &value[2 + len..]))
}

/// What a client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Registers the schemas in `text` (one or more `@url` blocks).
    SchemaPut {
        /// Namespace.
        namespace: Vec<u8>,
        /// jsxschema text.
        text: String,
    },
    /// Stores a new object (`id: None`) or a new version of object `id`.
    Put {
        /// Namespace.
        namespace: Vec<u8>,
        /// Schema url, or empty for a schema-less blob.
        collection: String,
        /// Existing object to update.
        id: Option<u64>,
        /// The value (for a typed collection, the object's canonical encoding).
        value: Vec<u8>,
        /// The author's signature, when the change is signed.
        author: Option<Author>,
    },
    /// Stores `value` under `key` in the schema-less collection (a new
    /// object, or a new version of the one holding `key`).
    SetKey {
        /// Namespace.
        namespace: Vec<u8>,
        /// Key.
        key: Vec<u8>,
        /// The blob.
        value: Vec<u8>,
        /// The author's signature (over the stored, key-framed value's hash).
        author: Option<Author>,
    },
    /// Deletes the schema-less object holding `key`.
    DelKey {
        /// Namespace.
        namespace: Vec<u8>,
        /// Key.
        key: Vec<u8>,
        /// The author's signature, when the change is signed.
        author: Option<Author>,
    },
    /// Deletes object `id`.
    Delete {
        /// Namespace.
        namespace: Vec<u8>,
        /// Object.
        id: u64,
        /// The author's signature, when the change is signed.
        author: Option<Author>,
    },
    /// Sets the access list `name` (instance owner only).
    AclSet {
        /// Namespace.
        namespace: Vec<u8>,
        /// Its name; [`DEFAULT_ACL`] governs objects without one, and creation.
        name: String,
        /// The rules.
        acl: Acl,
    },
    /// Sets the members of group `name` (instance owner only).
    GroupSet {
        /// Namespace.
        namespace: Vec<u8>,
        /// Its name.
        name: String,
        /// Member keys.
        members: BTreeSet<[u8; 32]>,
    },
    /// Whether every object change in the namespace must be signed by its
    /// author (instance owner only).
    PolicySet {
        /// Namespace.
        namespace: Vec<u8>,
        /// Require signatures.
        signed: bool,
    },
    /// Attaches access list `acl` to object `id`, or detaches its list
    /// (the instance owner or the object's owner).
    ObjectAcl {
        /// Namespace.
        namespace: Vec<u8>,
        /// Object.
        id: u64,
        /// The list's name, or `None` to detach.
        acl: Option<String>,
    },
}

/// Why a command is refused (nothing is recorded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A malformed schema.
    #[error("schema: {0}")]
    Schema(String),
    /// A new schema version breaks the previous one.
    #[error("schema {url}: {why}")]
    Evolution {
        /// The url.
        url: String,
        /// The rule broken.
        why: String,
    },
    /// The collection names no registered schema.
    #[error("no schema {0} in this namespace")]
    NoSchema(String),
    /// The object does not exist (or was deleted).
    #[error("no object {0}")]
    NoObject(u64),
    /// No schema-less object holds this key.
    #[error("no key {0:?}")]
    NoKey(String),
    /// An update names a different collection than the object's.
    #[error("object {id} belongs to {actual}, not {asked}")]
    WrongCollection {
        /// Object.
        id: u64,
        /// Its collection.
        actual: String,
        /// The one asked.
        asked: String,
    },
    /// Size or name out of bounds.
    #[error("{0}")]
    Limit(String),
    /// The value is not an object of the schema.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    Denied(String),
    /// An author signature that does not verify.
    #[error("the author signature does not verify")]
    Signature,
    /// A signed change that was, or may have been, recorded before.
    #[error("{0}")]
    Replay(String),
}

/// One object's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// Schema url (or empty).
    pub collection: String,
    /// Seq of every version, oldest first (a delete included).
    pub history: Vec<u64>,
    /// Whether the latest entry deleted it.
    pub deleted: bool,
    /// Its key, for a schema-less object.
    pub key: Option<Vec<u8>>,
    /// The key that created it; `None` for the instance owner.
    pub owner: Option<[u8; 32]>,
    /// The access list attached to it.
    pub acl: Option<String>,
}

/// Per-namespace state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceState {
    /// Last id handed out.
    pub last_id: u64,
    /// Objects by id.
    pub objects: BTreeMap<u64, ObjectState>,
    /// Schemas by url: every version registered, oldest first, with its seq.
    pub schemas: BTreeMap<String, Vec<(u64, Schema)>>,
    /// Live schema-less objects by key.
    pub keys: BTreeMap<Vec<u8>, u64>,
    /// Access lists by name.
    pub acls: BTreeMap<String, Acl>,
    /// Groups by name.
    pub groups: BTreeMap<String, BTreeSet<[u8; 32]>>,
    /// Every object change must be signed by its author.
    pub signed_only: bool,
}

impl NamespaceState {
    /// The live (not deleted) object `id`.
    fn live(&self, id: u64) -> Result<&ObjectState, ApplyError> {
        self.objects
            .get(&id)
            .filter(|o| !o.deleted)
            .ok_or(ApplyError::NoObject(id))
    }

    /// Refuses an unsigned object change in a signed-only namespace.
    fn check_signed(&self, author: &Option<Author>) -> Result<(), ApplyError> {
        if self.signed_only && author.is_none() {
            return Err(ApplyError::Denied(
                "this namespace records only changes signed by their author".into(),
            ));
        }
        Ok(())
    }
}

/// The whole state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    namespaces: BTreeMap<Vec<u8>, NamespaceState>,
    /// The instance key: changes signed or attested by it are the owner's.
    owner: Option<[u8; 32]>,
    /// The last nonce each author key signed a recorded change with.
    nonces: BTreeMap<[u8; 32], u64>,
}

/// Checks a typed value against its schema; supplied by the layer that knows objects.
pub type Validate<'a> = &'a dyn Fn(&NamespaceState, &Schema, &[u8]) -> Result<(), String>;

impl State {
    /// An empty state in which no key is the instance owner's.
    pub fn new() -> State {
        State::default()
    }

    /// An empty state of the instance whose key is `owner`.
    pub fn with_owner(owner: PublicKey) -> State {
        State {
            owner: Some(owner.to_bytes()),
            ..State::default()
        }
    }

    /// The last nonce `key` signed a recorded change with (0: none).
    pub fn last_nonce(&self, key: &PublicKey) -> u64 {
        self.nonces.get(&key.to_bytes()).copied().unwrap_or(0)
    }

    /// The state of `namespace`, if anything was ever written to it.
    pub fn namespace(&self, namespace: &[u8]) -> Option<&NamespaceState> {
        self.namespaces.get(namespace)
    }

    /// Every namespace written so far, in name order.
    pub fn namespaces(&self) -> impl Iterator<Item = (&[u8], &NamespaceState)> {
        self.namespaces
            .iter()
            .map(|(name, ns)| (name.as_slice(), ns))
    }

    /// The latest version of schema `url` in `namespace`.
    pub fn schema(&self, namespace: &[u8], url: &str) -> Option<&Schema> {
        self.namespace(namespace)?
            .schemas
            .get(url)?
            .last()
            .map(|(_, s)| s)
    }

    /// The live object `id` of `namespace` (not deleted).
    pub fn object(&self, namespace: &[u8], id: u64) -> Option<&ObjectState> {
        self.namespace(namespace)?.live(id).ok()
    }

    /// The entries (with their values) that `command` becomes at ledger
    /// position `seq`, time `time_ms`. Pure: the state does not change.
    pub fn plan(
        &self,
        command: &Command,
        caller: &Caller,
        seq: u64,
        time_ms: u64,
        validate: Validate<'_>,
    ) -> Result<Vec<(Entry, Vec<u8>)>, ApplyError> {
        let empty = NamespaceState::default();
        let ns_of = |name: &[u8]| -> Result<&NamespaceState, ApplyError> {
            if name.is_empty() || name.len() > crate::entry::MAX_NAMESPACE {
                return Err(ApplyError::Limit("a namespace has 1 to 255 bytes".into()));
            }
            Ok(self.namespaces.get(name).unwrap_or(&empty))
        };
        let entry = |op,
                     namespace: &[u8],
                     collection: &str,
                     object_id,
                     schema_hash,
                     value: &[u8],
                     author: Option<Author>| Entry {
            seq,
            time_ms,
            op,
            namespace: namespace.to_vec(),
            collection: collection.as_bytes().to_vec(),
            object_id,
            schema_hash,
            value_hash: value_hash(value),
            value_len: value.len() as u64,
            // an unsigned change by an authenticated session: the instance attests who made it
            attested: match (author, caller) {
                (None, Caller::Key(k)) if self.who(Some(k.to_bytes())) != Who::Owner => Some(*k),
                _ => None,
            },
            author,
        };
        // an access entry (see the collection constants) and its text value
        let access = |namespace: &[u8], collection: &str, id, text: String| {
            let e = entry(
                Op::AclPut,
                namespace,
                collection,
                id,
                [0; 32],
                text.as_bytes(),
                None,
            );
            vec![(e, text.into_bytes())]
        };
        match command {
            Command::SchemaPut { namespace, text } => {
                let ns = ns_of(namespace)?;
                self.owner_only(caller, "register schemas")?;
                let schemas = schema::parse(text).map_err(|e| ApplyError::Schema(e.to_string()))?;
                let mut out = Vec::with_capacity(schemas.len());
                for (i, s) in schemas.iter().enumerate() {
                    if let Some((_, old)) = ns.schemas.get(s.url()).and_then(|v| v.last()) {
                        check_evolution(old, s).map_err(|e| ApplyError::Evolution {
                            url: s.url().to_string(),
                            why: e.to_string(),
                        })?;
                    }
                    let canonical = s.to_text();
                    let e = entry(
                        Op::SchemaPut,
                        namespace,
                        s.url(),
                        0,
                        s.hash(),
                        canonical.as_bytes(),
                        None,
                    );
                    out.push((
                        Entry {
                            seq: seq + i as u64,
                            ..e
                        },
                        canonical.into_bytes(),
                    ));
                }
                Ok(out)
            }
            Command::Put {
                namespace,
                collection,
                id,
                value,
                author,
            } => {
                let ns = ns_of(namespace)?;
                let who = self.principal(caller, author.as_ref());
                ns.check_signed(author)?;
                if value.len() > MAX_VALUE {
                    return Err(ApplyError::Limit(format!(
                        "a value has at most {MAX_VALUE} bytes"
                    )));
                }
                let schema_hash = if collection.is_empty() {
                    let framed = split_keyed(value).map(|(k, _)| k.to_vec());
                    let held = id
                        .and_then(|id| ns.objects.get(&id))
                        .and_then(|o| o.key.clone());
                    // only SetKey makes schema-less values, keeping keys and ids in step
                    if framed.is_none()
                        || (id.is_some() && framed != held)
                        || (id.is_none()
                            && framed.as_ref().is_some_and(|k| ns.keys.contains_key(k)))
                    {
                        return Err(ApplyError::Invalid(
                            "schema-less values are stored by key (SetKey)".into(),
                        ));
                    }
                    [0; 32]
                } else {
                    let schema = ns
                        .schemas
                        .get(collection)
                        .and_then(|v| v.last())
                        .map(|(_, s)| s)
                        .ok_or_else(|| ApplyError::NoSchema(collection.clone()))?;
                    validate(ns, schema, value).map_err(ApplyError::Invalid)?;
                    schema.hash()
                };
                // a forged signature is refused before anything is said about rights
                let op = if id.is_some() { Op::Put } else { Op::Create };
                let signed_id = id.unwrap_or(0);
                self.check_author(
                    author,
                    namespace,
                    collection,
                    signed_id,
                    op,
                    &schema_hash,
                    value,
                )?;
                let object_id = match id {
                    None if !ns.allows(who, None, Perms::WRITE) => {
                        return Err(ApplyError::Denied(format!(
                            "creating objects needs w in the {DEFAULT_ACL:?} access list"
                        )))
                    }
                    None => ns.last_id + 1,
                    Some(id) => {
                        let obj = ns.live(*id)?;
                        if obj.collection != *collection {
                            return Err(ApplyError::WrongCollection {
                                id: *id,
                                actual: obj.collection.clone(),
                                asked: collection.clone(),
                            });
                        }
                        if !ns.allows(who, Some(obj), Perms::WRITE) {
                            return Err(ApplyError::Denied(format!("writing object {id} needs w")));
                        }
                        *id
                    }
                };
                // A creation is signed with object id 0: see `Op::Create`.
                let e = entry(
                    op,
                    namespace,
                    collection,
                    object_id,
                    schema_hash,
                    value,
                    *author,
                );
                Ok(vec![(e, value.clone())])
            }
            Command::SetKey {
                namespace,
                key,
                value,
                author,
            } => {
                let ns = ns_of(namespace)?;
                if key.is_empty() || key.len() > MAX_KEY {
                    return Err(ApplyError::Limit(format!("a key has 1 to {MAX_KEY} bytes")));
                }
                let put = Command::Put {
                    namespace: namespace.clone(),
                    collection: String::new(),
                    id: ns.keys.get(key).copied(),
                    value: keyed_value(key, value),
                    author: *author,
                };
                self.plan(&put, caller, seq, time_ms, validate)
            }
            Command::DelKey {
                namespace,
                key,
                author,
            } => {
                let id =
                    ns_of(namespace)?.keys.get(key).copied().ok_or_else(|| {
                        ApplyError::NoKey(String::from_utf8_lossy(key).into_owned())
                    })?;
                let delete = Command::Delete {
                    namespace: namespace.clone(),
                    id,
                    author: *author,
                };
                self.plan(&delete, caller, seq, time_ms, validate)
            }
            Command::Delete {
                namespace,
                id,
                author,
            } => {
                let ns = ns_of(namespace)?;
                let obj = ns.live(*id)?;
                ns.check_signed(author)?;
                self.check_author(
                    author,
                    namespace,
                    &obj.collection,
                    *id,
                    Op::Delete,
                    &[0; 32],
                    b"",
                )?;
                if !ns.allows(
                    self.principal(caller, author.as_ref()),
                    Some(obj),
                    Perms::DELETE,
                ) {
                    return Err(ApplyError::Denied(format!("deleting object {id} needs d")));
                }
                let e = entry(
                    Op::Delete,
                    namespace,
                    &obj.collection,
                    *id,
                    [0; 32],
                    b"",
                    *author,
                );
                Ok(vec![(e, Vec::new())])
            }
            Command::AclSet {
                namespace,
                name,
                acl,
            } => {
                ns_of(namespace)?;
                self.owner_only(caller, "set access lists")?;
                acl::check_name(name, "access list").map_err(ApplyError::Limit)?;
                Ok(access(
                    namespace,
                    &format!("{ACL_PREFIX}{name}"),
                    0,
                    acl.to_text(),
                ))
            }
            Command::GroupSet {
                namespace,
                name,
                members,
            } => {
                ns_of(namespace)?;
                self.owner_only(caller, "set groups")?;
                acl::check_name(name, "group").map_err(ApplyError::Limit)?;
                if members.len() > acl::MAX_RULES {
                    return Err(ApplyError::Limit(format!(
                        "at most {} members in a group",
                        acl::MAX_RULES
                    )));
                }
                let text = acl::group_text(members);
                Ok(access(namespace, &format!("{GROUP_PREFIX}{name}"), 0, text))
            }
            Command::PolicySet { namespace, signed } => {
                ns_of(namespace)?;
                self.owner_only(caller, "set a namespace's policy")?;
                let text = if *signed { "signed" } else { "open" };
                Ok(access(namespace, POLICY, 0, text.to_string()))
            }
            Command::ObjectAcl {
                namespace,
                id,
                acl: name,
            } => {
                let ns = ns_of(namespace)?;
                let obj = ns.live(*id)?;
                let who = self.principal(caller, None);
                if who != Who::Owner && !matches!(who, Who::Key(k) if obj.owner == Some(k)) {
                    return Err(ApplyError::Denied(format!(
                        "only the owner of object {id} or of the instance attaches its access list"
                    )));
                }
                if let Some(name) = name {
                    if !ns.acls.contains_key(name) {
                        return Err(ApplyError::Denied(format!("no access list {name:?}")));
                    }
                }
                let text = name.clone().unwrap_or_default();
                Ok(access(namespace, OBJECT_ACL, *id, text))
            }
        }
    }

    /// Folds one recorded entry into the state. `value` is the entry's
    /// value (needed for schema entries, whose value is the schema text).
    pub fn apply(&mut self, entry: &Entry, value: &[u8]) -> Result<(), ApplyError> {
        if let Some(author) = &entry.author {
            if let Some(nonce) = author.nonce {
                let last = self.nonces.entry(author.key.to_bytes()).or_default();
                *last = (*last).max(nonce);
            }
        }
        // the instance's own key is the owner, recorded as no one
        let creator = entry
            .principal()
            .map(|k| k.to_bytes())
            .filter(|k| Some(*k) != self.owner);
        let ns = self.namespaces.entry(entry.namespace.clone()).or_default();
        let collection = String::from_utf8_lossy(&entry.collection).into_owned();
        match entry.op {
            Op::SchemaPut => {
                let text = std::str::from_utf8(value)
                    .map_err(|_| ApplyError::Schema("schema text is not UTF-8".into()))?;
                let mut parsed =
                    schema::parse(text).map_err(|e| ApplyError::Schema(e.to_string()))?;
                let s = parsed
                    .pop()
                    .filter(|s| parsed.is_empty() && s.url() == collection)
                    .ok_or_else(|| {
                        ApplyError::Schema("a schema entry holds one schema of its url".into())
                    })?;
                ns.schemas
                    .entry(collection)
                    .or_default()
                    .push((entry.seq, s));
            }
            Op::Create | Op::Put | Op::Delete => {
                ns.last_id = ns.last_id.max(entry.object_id);
                let keyed = entry.collection.is_empty() && entry.op != Op::Delete;
                let key = keyed
                    .then(|| split_keyed(value).map(|(k, _)| k.to_vec()))
                    .flatten();
                let obj = ns
                    .objects
                    .entry(entry.object_id)
                    .or_insert_with(|| ObjectState {
                        collection,
                        history: Vec::new(),
                        deleted: false,
                        key: None,
                        owner: creator,
                        acl: None,
                    });
                obj.history.push(entry.seq);
                obj.deleted = entry.op == Op::Delete;
                if let Some(key) = key {
                    obj.key = Some(key.clone());
                    ns.keys.insert(key, entry.object_id);
                } else if obj.deleted {
                    if let Some(key) = &obj.key {
                        ns.keys.remove(key);
                    }
                }
            }
            Op::AclPut => apply_acl(ns, entry, &collection, value)?,
        }
        Ok(())
    }
}
