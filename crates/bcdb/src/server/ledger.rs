//! LEDGER.CHECKPOINT, LEDGER.ROOT and LEDGER.VGET: what a client needs to check reads
//! itself, trusting only the instance key (spec §9.4).
//!
//! Each first commits what the batch wrote before it, so the checkpoint it shows covers every
//! write this connection was answered for.

use bytes::Bytes;

use super::dispatch::{array, bulk, int, nil, number, object_id, Ctx, Fail, Outcome};
use crate::merkle::encode_proof;

/// The latest signed checkpoint; there is always one, the server signs one at start.
fn latest(ctx: &mut Ctx<'_>) -> Result<crate::checkpoint::Checkpoint, Fail> {
    ctx.commit()?;
    ctx.db
        .checkpoint()
        .cloned()
        .ok_or_else(|| Fail::err("no checkpoint yet"))
}

/// `LEDGER.CHECKPOINT` → the checkpoint text (signed-note form, see [`crate::checkpoint`]).
pub(crate) fn checkpoint(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    Ok(bulk(latest(ctx)?.to_text()))
}

/// `LEDGER.ROOT` → `[size, root hex]` of the latest checkpoint.
pub(crate) fn root(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    let cp = latest(ctx)?;
    Ok(array(vec![int(cp.size), bulk(hex::encode(cp.root))]))
}

/// `LEDGER.VGET id [trusted_size]` → `[entry, value, index, inclusion proof, consistency
/// proof, checkpoint text]` for the latest version of object `id` in the session namespace,
/// nil when it does not exist. Proofs are in [`encode_proof`] form; the consistency proof
/// runs from `trusted_size` (default 0: none) to the checkpoint's size.
pub(crate) fn vget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() > 3 {
        return Err(super::dispatch::wrong_arity("LEDGER.VGET"));
    }
    let id = object_id(&args[1])?;
    let trusted = args.get(2).map(|a| number(a)).transpose()?.unwrap_or(0);
    let cp = latest(ctx)?;
    if trusted > cp.size {
        return Err(Fail::err(format_args!(
            "trusted size {trusted} is beyond the latest checkpoint ({} entries)",
            cp.size
        )));
    }
    let ns = ctx.session.namespace.clone();
    if !ctx.readable(&ns, id) {
        return Ok(nil());
    }
    let Some(record) = ctx.db.verified_get(&ns, id, trusted)? else {
        return Ok(nil());
    };
    let proof = |hashes: &[crate::merkle::Hash]| {
        encode_proof(hashes).map_err(|e| Fail::err(format_args!("proof: {e}")))
    };
    Ok(array(vec![
        bulk(record.entry),
        bulk(record.value),
        int(record.index),
        bulk(proof(&record.inclusion)?),
        bulk(proof(&record.consistency)?),
        bulk(record.checkpoint.to_text()),
    ]))
}
