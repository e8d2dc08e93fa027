//! Authentication and access commands (spec §9.7).
//!
//! ```text
//! AUTH.CHALLENGE                      → 64 hex digits: a fresh 32-byte nonce, good for one AUTH
//! AUTH <key hex> <signature hex>      → OK; the signature is over
//!                                       payload("bcdb-auth", nonce, instance key)
//! AUTH.WHOAMI                         → "owner", "anonymous" or the session's key
//! AUTH.NONCE [key]                    → the last nonce the key (default: the session's)
//!                                       signed a recorded change with; 0 if none
//! ACL.SET name [principal perms …]    → OK (instance owner); principal: key, group:<name> or *
//! ACL.GET name                        → [principal, perms, …] or nil
//! ACL.LIST                            → names
//! GROUP.SET name [key …]              → OK (instance owner)
//! GROUP.GET name                      → keys or nil
//! NS.POLICY [signed|open]             → the policy (setting it: instance owner)
//! OBJ.ACL [url] id name|NONE          → OK (instance owner or the object's owner)
//! ```
//!
//! The nonce binds a proof to this server and this connection's request for it, so a
//! signature seen elsewhere cannot be replayed; it is consumed by the first AUTH, right or
//! wrong. Proving the instance key makes a session the owner; any other key gets that key's
//! rights. A server that does not require authentication treats every session as the owner
//! until it proves a key.

use std::collections::BTreeSet;

use bytes::Bytes;
use identity::{Payload, PublicKey};

use super::dispatch::{
    array, bulk, key_arg, nil, object_id, ok, shown, signature_arg, status, text, Ctx, Fail,
    Outcome,
};
use crate::acl::{Acl, Caller, Perms, Principal};
use crate::state::Command;

/// What a client signs to prove `key` to the instance whose key is `instance`.
pub fn auth_payload(nonce: &[u8; 32], instance: &PublicKey) -> Payload {
    Payload::new("bcdb-auth")
        .field(nonce)
        .field(&instance.to_bytes())
}

/// Redis's answer to a failed AUTH.
fn wrong(why: &str) -> Fail {
    Fail::Err(format!("WRONGPASS {why}"))
}

pub(crate) fn challenge(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    let nonce: [u8; 32] = rand::random();
    ctx.session.challenge = Some(nonce);
    Ok(bulk(hex::encode(nonce)))
}

/// `AUTH key signature` after `AUTH.CHALLENGE`. `AUTH password` gets Redis's answer for a
/// server without passwords.
pub(crate) fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let [_, key, signature] = args else {
        return Err(super::basic::no_password());
    };
    let Some(nonce) = ctx.session.challenge.take() else {
        return Err(Fail::err(
            "ask AUTH.CHALLENGE first: AUTH <key> <signature of the nonce>",
        ));
    };
    let key = key_arg(key).ok_or_else(|| wrong("the key is not an ed25519 public key"))?;
    let signature =
        signature_arg(signature).ok_or_else(|| wrong("the signature is not 128 hex digits"))?;
    key.verify(&auth_payload(&nonce, &ctx.shared.instance), &signature)
        .map_err(|_| wrong("the signature does not verify for this key and challenge"))?;
    ctx.session.caller = if key == ctx.shared.instance {
        Caller::Owner
    } else {
        Caller::Key(key)
    };
    tracing::debug!(conn = ctx.session.conn_id, key = %key.to_hex(), "authenticated");
    Ok(ok())
}

pub(crate) fn whoami(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    Ok(match &ctx.session.caller {
        Caller::Owner => bulk("owner"),
        Caller::Anonymous => bulk("anonymous"),
        Caller::Key(k) => bulk(k.to_hex()),
    })
}

pub(crate) fn nonce(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let key = match (args.get(1), &ctx.session.caller) {
        (Some(arg), _) => key_arg(arg)
            .ok_or_else(|| Fail::err(format_args!("{:?} is not a public key", shown(arg))))?,
        (None, Caller::Key(k)) => *k,
        (None, Caller::Owner) => ctx.shared.instance,
        (None, Caller::Anonymous) => return Err(Fail::err("name a key: AUTH.NONCE <key>")),
    };
    Ok(super::dispatch::int(ctx.db.state().last_nonce(&key)))
}

fn name_arg(arg: &[u8], what: &str) -> Result<String, Fail> {
    let name = text(arg, what)?;
    crate::acl::check_name(name, what).map_err(Fail::err)?;
    Ok(name.to_string())
}

pub(crate) fn acl_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let name = name_arg(&args[1], "access list")?;
    let mut rules = Vec::new();
    for pair in args[2..].chunks(2) {
        let [principal, perms] = pair else {
            return Err(Fail::err("rules are `principal perms` pairs"));
        };
        let principal = Principal::parse(text(principal, "principal")?).map_err(Fail::err)?;
        let perms = Perms::parse(text(perms, "permissions")?).map_err(Fail::err)?;
        rules.push((principal, perms));
    }
    let acl = Acl::new(rules).map_err(Fail::err)?;
    ctx.execute(&Command::AclSet {
        namespace: ctx.session.namespace.clone(),
        name,
        acl,
    })?;
    Ok(ok())
}

/// Who is in which list or group is the instance owner's to know.
fn owner_only(ctx: &Ctx<'_>, what: &str) -> Result<(), Fail> {
    if ctx.is_owner() {
        Ok(())
    } else {
        Err(Fail::err(format_args!(
            "permission denied: only the instance owner may read {what}"
        )))
    }
}

pub(crate) fn acl_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    owner_only(ctx, "access lists")?;
    let name = text(&args[1], "access list")?;
    let acl = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .and_then(|ns| ns.acls.get(name));
    Ok(acl.map_or_else(nil, |acl| {
        array(
            acl.rules()
                .flat_map(|(p, perms)| [bulk(p.to_string()), bulk(perms.to_string())])
                .collect(),
        )
    }))
}

pub(crate) fn acl_list(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    let names = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .map(|ns| ns.acls.keys().map(|n| bulk(n.clone())).collect())
        .unwrap_or_default();
    Ok(array(names))
}

pub(crate) fn group_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let name = name_arg(&args[1], "group")?;
    let mut members = BTreeSet::new();
    for key in &args[2..] {
        let key = key_arg(key)
            .ok_or_else(|| Fail::err(format_args!("{:?} is not a public key", shown(key))))?;
        members.insert(key.to_bytes());
    }
    ctx.execute(&Command::GroupSet {
        namespace: ctx.session.namespace.clone(),
        name,
        members,
    })?;
    Ok(ok())
}

pub(crate) fn group_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    owner_only(ctx, "groups")?;
    let name = text(&args[1], "group")?;
    let group = ctx
        .db
        .state()
        .namespace(ctx.ns())
        .and_then(|ns| ns.groups.get(name));
    Ok(group.map_or_else(nil, |members| {
        array(members.iter().map(|k| bulk(hex::encode(k))).collect())
    }))
}

pub(crate) fn policy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let signed = match args.get(1) {
        None => {
            let signed = ctx
                .db
                .state()
                .namespace(ctx.ns())
                .is_some_and(|ns| ns.signed_only);
            return Ok(status(if signed { "signed" } else { "open" }));
        }
        Some(p) if p.eq_ignore_ascii_case(b"signed") => true,
        Some(p) if p.eq_ignore_ascii_case(b"open") => false,
        Some(p) => {
            return Err(Fail::err(format_args!(
                "unknown policy {:?} (signed or open)",
                shown(p)
            )))
        }
    };
    ctx.execute(&Command::PolicySet {
        namespace: ctx.session.namespace.clone(),
        signed,
    })?;
    Ok(ok())
}

/// `OBJ.ACL [url] id name|NONE`.
pub(crate) fn obj_acl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (id, name) = match args {
        [_, id, name] => (object_id(id)?, name),
        [_, url, id, name] => {
            let id = super::typed::target(ctx, &[args[0].clone(), url.clone(), id.clone()])?;
            (id, name)
        }
        _ => return Err(super::dispatch::wrong_arity("OBJ.ACL")),
    };
    let acl = if name.eq_ignore_ascii_case(b"NONE") {
        None
    } else {
        Some(name_arg(name, "access list")?)
    };
    ctx.execute(&Command::ObjectAcl {
        namespace: ctx.session.namespace.clone(),
        id,
        acl,
    })?;
    Ok(ok())
}
