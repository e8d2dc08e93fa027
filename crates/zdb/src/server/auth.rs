//! AUTH (admin password, plain or challenge) and SELECT (namespace password).

use bytes::Bytes;

use super::dispatch::{Ctx, Flow};
use super::errors::{
    ACCESS_DENIED, INVALID_ARGUMENT, INVALID_HASH_LEN, NO_CHALLENGE, NS_NOT_FOUND, NS_TOO_LONG,
    ONLY_SECURE, PASSWORD_TOO_LONG, UNEXPECTED_ARGS,
};
use crate::db::{NsId, MAX_NAMESPACE_NAME};

/// Longest admin password accepted by AUTH.
const MAX_ADMIN_PASSWORD: usize = 128;
/// Longest namespace password accepted by SELECT.
const MAX_NS_PASSWORD: usize = 255;

/// `sha1hex(nonce ":" password)`, the challenge answer.
fn challenge_answer(nonce: &str, password: &[u8]) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(nonce.as_bytes());
    h.update(b":");
    h.update(password);
    h.digest().to_string()
}

/// Compares without an early exit, so timing does not leak the prefix.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let admin = ctx.shared.config.admin.clone();
    match args.len() {
        2 => {
            let Some(admin) = admin else {
                return ctx.error("Authentication disabled");
            };
            let password = &args[1];
            if password.is_empty() {
                return ctx.error(INVALID_ARGUMENT);
            }
            if password.len() > MAX_ADMIN_PASSWORD {
                return ctx.error(PASSWORD_TOO_LONG);
            }
            if !same(password, &admin) {
                return ctx.error(ACCESS_DENIED);
            }
            ctx.session.admin = true;
            ctx.ok()
        }
        3 => {
            if args[1].is_empty() || args[2].is_empty() {
                return ctx.error(INVALID_ARGUMENT);
            }
            if !args[1].eq_ignore_ascii_case(b"SECURE") {
                return ctx.error(ONLY_SECURE);
            }
            if args[2].eq_ignore_ascii_case(b"CHALLENGE") {
                let nonce = format!("{:016x}", rand::random::<u64>());
                ctx.session.nonce = Some(nonce.clone());
                return ctx.status(nonce.as_bytes());
            }
            let Some(admin) = admin else {
                return ctx.error("Authentication disabled");
            };
            let Some(nonce) = ctx.session.nonce.clone() else {
                return ctx.error(NO_CHALLENGE);
            };
            if args[2].len() != 40 {
                return ctx.error(INVALID_HASH_LEN);
            }
            // A nonce answers one comparison, right or wrong.
            ctx.session.nonce = None;
            let expected = challenge_answer(&nonce, &admin);
            if !same(&args[2].to_ascii_lowercase(), expected.as_bytes()) {
                return ctx.error(ACCESS_DENIED);
            }
            ctx.session.admin = true;
            ctx.ok()
        }
        _ => ctx.error(UNEXPECTED_ARGS),
    }
}

/// Makes `id` the session's namespace; the previous one's queued writes are
/// flushed first so a batch never leaves writes behind in another namespace.
fn switch(ctx: &mut Ctx<'_>, id: NsId, writable: bool) -> Flow {
    if ctx.session.ns != id {
        if let Err(e) = ctx.ns().flush() {
            tracing::error!("failed to flush namespace on SELECT: {e}");
            ctx.error("Cannot write data right now");
            return Flow::Close;
        }
    }
    ctx.session.ns = id;
    ctx.session.writable = writable;
    ctx.state.watchers.moved(ctx.session.conn_id, id);
    ctx.ok()
}

pub(crate) fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() < 2 {
        return ctx.error(INVALID_ARGUMENT);
    }
    let name = &args[1];
    if name.len() > MAX_NAMESPACE_NAME {
        return ctx.error(NS_TOO_LONG);
    }
    let Some(id) = ctx.db().find(name) else {
        return ctx.error(NS_NOT_FOUND);
    };
    let desc = ctx.db().get(id).expect("just found").descriptor().clone();
    let Some(password) = desc.password else {
        return switch(ctx, id, true);
    };
    match args.len() {
        2 if desc.public => switch(ctx, id, false),
        2 => ctx.error("Namespace protected and private"),
        3 => {
            if args[2].len() > MAX_NS_PASSWORD {
                return ctx.error(PASSWORD_TOO_LONG);
            }
            if !same(&args[2], &password) {
                return ctx.error(ACCESS_DENIED);
            }
            switch(ctx, id, true)
        }
        4 => {
            if !args[2].eq_ignore_ascii_case(b"SECURE") {
                return ctx.error(ONLY_SECURE);
            }
            let Some(nonce) = ctx.session.nonce.clone() else {
                return ctx.error(NO_CHALLENGE);
            };
            if args[3].len() != 40 {
                return ctx.error(INVALID_HASH_LEN);
            }
            let expected = challenge_answer(&nonce, &password);
            if !same(&args[3].to_ascii_lowercase(), expected.as_bytes()) {
                return ctx.error(ACCESS_DENIED);
            }
            switch(ctx, id, true)
        }
        _ => ctx.error("Too many arguments"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_answer_is_sha1_hex_of_nonce_colon_password() {
        // sha1("abc:pw")
        let mut h = sha1_smol::Sha1::new();
        h.update(b"abc:pw");
        assert_eq!(challenge_answer("abc", b"pw"), h.digest().to_string());
        assert_eq!(challenge_answer("abc", b"pw").len(), 40);
    }

    #[test]
    fn same_compares_whole_values() {
        assert!(same(b"pw", b"pw"));
        assert!(!same(b"pw", b"pwx"));
        assert!(!same(b"p", b"pw"));
        assert!(!same(b"", b"pw"));
    }
}
