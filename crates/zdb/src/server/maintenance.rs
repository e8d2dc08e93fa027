//! COMPACT: online compaction of the session's namespace (not in the C
//! server, which never had compaction).

use bytes::Bytes;

use super::dispatch::{Ctx, Flow};
use super::errors::UNEXPECTED_ARGS;
use crate::namespace::CompactError;

/// `COMPACT` → `:<bytes reclaimed>`. Admin only: it blocks every client of
/// the server while it copies the live values.
pub(crate) fn compact(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    handled!(ctx.require_admin());
    if args.len() != 1 {
        return ctx.error(UNEXPECTED_ARGS);
    }
    let started = std::time::Instant::now();
    match ctx.ns().compact() {
        Ok(stats) => {
            tracing::info!(
                entries = stats.entries,
                before = stats.bytes_before,
                after = stats.bytes_after,
                "compacted namespace in {:?}",
                started.elapsed()
            );
            ctx.integer(i64::try_from(stats.reclaimed()).unwrap_or(i64::MAX))
        }
        Err(CompactError::Locked) => ctx.error(super::errors::LOCKED),
        Err(e) => {
            tracing::error!("failed to compact namespace: {e}");
            ctx.error(&format!("Compaction failed: {e}"))
        }
    }
}
