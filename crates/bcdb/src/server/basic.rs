//! Connection-level commands plain Redis clients send: PING, ECHO, SELECT, INFO, COMMAND,
//! QUIT, CLIENT, HELLO, AUTH, DBSIZE. Answers follow Redis's so client libraries need no
//! special case.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::dispatch::{
    array, bulk, int, nil, ok, shown, status, wrong_arity, Ctx, Fail, Outcome, COMMANDS,
};
use crate::entry::MAX_NAMESPACE;

pub(crate) fn ping(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match args {
        [_] => Ok(status("PONG")),
        [_, msg] => Ok(bulk(msg.clone())),
        _ => Err(wrong_arity("PING")),
    }
}

pub(crate) fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    Ok(bulk(args[1].clone()))
}

/// The namespace `SELECT arg` means: a number n is `db<n>` (0 is `default`, where every
/// connection starts, so `SELECT 0` goes back there as in Redis), anything else is a name.
pub(crate) fn namespace_of(arg: &[u8]) -> Result<Vec<u8>, Fail> {
    if !arg.is_empty() && arg.len() <= 20 && arg.iter().all(u8::is_ascii_digit) {
        let n: u64 = std::str::from_utf8(arg)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Fail::err("DB index is out of range"))?;
        return Ok(if n == 0 {
            b"default".to_vec()
        } else {
            format!("db{n}").into_bytes()
        });
    }
    if arg.is_empty() || arg.len() > MAX_NAMESPACE {
        return Err(Fail::err(format_args!(
            "a namespace name has 1 to {MAX_NAMESPACE} bytes"
        )));
    }
    Ok(arg.to_vec())
}

pub(crate) fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    ctx.session.namespace = namespace_of(&args[1])?;
    Ok(ok())
}

pub(crate) fn info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    ctx.commit()?;
    let shared = ctx.shared;
    let mut text = String::new();
    let t = &mut text;
    let _ = write!(
        t,
        "# Server\r\nbcdb_version:{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(t, "instance_key:{}\r\n", shared.instance.to_hex());
    let _ = write!(t, "origin:{}\r\n", shared.origin);
    let _ = write!(t, "sync:{}\r\n", u8::from(shared.config.sync));
    let clients = shared.clients.load(Ordering::Relaxed);
    let _ = write!(t, "\r\n# Clients\r\nconnected_clients:{clients}\r\n");
    let _ = write!(t, "\r\n# Ledger\r\n");
    if let Some(cp) = ctx.db.checkpoint() {
        let _ = write!(t, "entries:{}\r\ncheckpoint_size:{}\r\n", cp.size, cp.size);
        let _ = write!(t, "checkpoint_root:{}\r\n", hex::encode(cp.root));
        let _ = write!(t, "checkpoint_time_ms:{}\r\n", cp.time_ms);
    }
    let _ = write!(t, "\r\n# Keyspace\r\nnamespace:{}\r\n", shown(ctx.ns()));
    // what namespaces exist, and how full, is the instance owner's to know
    let namespaces: Vec<_> = if ctx.is_owner() {
        ctx.db.state().namespaces().collect()
    } else {
        Vec::new()
    };
    if ctx.is_owner() {
        let _ = write!(t, "namespaces:{}\r\n", namespaces.len());
    }
    for (name, ns) in namespaces {
        let live = ns.objects.values().filter(|o| !o.deleted).count();
        let _ = write!(
            t,
            "ns_{}:keys={},objects={},schemas={}\r\n",
            shown(name).replace([':', ' '], "_"),
            ns.keys.len(),
            live.saturating_sub(ns.keys.len()),
            ns.schemas.len()
        );
    }
    Ok(bulk(text))
}

/// `COMMAND COUNT` counts the table; every other form answers an empty list, which clients
/// read as "no command documentation".
pub(crate) fn command(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match args.get(1) {
        Some(sub) if sub.eq_ignore_ascii_case(b"COUNT") => Ok(int(COMMANDS.len())),
        _ => Ok(array(Vec::new())),
    }
}

pub(crate) fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    ctx.close = true;
    Ok(ok())
}

pub(crate) fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let sub = args[1].to_ascii_uppercase();
    match (sub.as_slice(), args.len()) {
        (b"SETNAME", 3) => {
            let name = &args[2];
            if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                return Err(Fail::err(
                    "Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            ctx.session.name = (!name.is_empty()).then(|| name.clone());
            Ok(ok())
        }
        (b"GETNAME", 2) => Ok(ctx.session.name.clone().map_or_else(nil, bulk)),
        (b"ID", 2) => Ok(int(ctx.session.conn_id)),
        // client libraries announce themselves; nothing to keep
        (b"SETINFO", 4) => Ok(ok()),
        (b"SETNAME" | b"GETNAME" | b"ID" | b"SETINFO", _) => Err(Fail::err(format_args!(
            "wrong number of arguments for 'client|{}' command",
            String::from_utf8_lossy(&sub).to_ascii_lowercase()
        ))),
        _ => Err(Fail::err(format_args!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            shown(&args[1])
        ))),
    }
}

/// `HELLO [2 [SETNAME name]]`: RESP2 only; the reply is Redis's map as a flat array.
pub(crate) fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if let Some(version) = args.get(1) {
        match version.as_ref() {
            b"2" => {}
            b"3" => {
                return Err(Fail::Err(
                    "NOPROTO sorry, this protocol version is not supported".into(),
                ))
            }
            _ => {
                return Err(Fail::err(
                    "Protocol version is not an integer or out of range",
                ))
            }
        }
    }
    let mut rest = args.get(2..).unwrap_or_default().iter();
    while let Some(option) = rest.next() {
        if option.eq_ignore_ascii_case(b"SETNAME") {
            let name = rest.next().ok_or_else(|| Fail::err("syntax error"))?;
            ctx.session.name = Some(name.clone());
        } else if option.eq_ignore_ascii_case(b"AUTH") {
            return Err(no_password());
        } else {
            return Err(Fail::err(format_args!(
                "Syntax error in HELLO option '{}'",
                shown(option)
            )));
        }
    }
    let field = |s: &'static str| bulk(Bytes::from_static(s.as_bytes()));
    Ok(array(vec![
        field("server"),
        field("bcdb"),
        field("version"),
        field(env!("CARGO_PKG_VERSION")),
        field("proto"),
        int(2),
        field("id"),
        int(ctx.session.conn_id),
        field("mode"),
        field("standalone"),
        field("role"),
        field("master"),
        field("modules"),
        array(Vec::new()),
    ]))
}

pub(crate) fn no_password() -> Fail {
    Fail::err(
        "AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?",
    )
}

/// Schema-less keys in the session's namespace (typed objects are counted by HLEN).
pub(crate) fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    let n = ctx.db.state().namespace(ctx.ns()).map_or(0, |ns| {
        if ctx.is_owner() {
            ns.keys.len()
        } else {
            ns.keys
                .values()
                .filter(|&&id| ctx.readable(ctx.ns(), id))
                .count()
        }
    });
    Ok(int(n))
}
