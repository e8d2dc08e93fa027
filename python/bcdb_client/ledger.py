"""What a client checks about a record the server hands it, with nothing but the
instance's public key and one checkpoint it already trusts (crates/bcdb/src/ledger.rs).

`verify_record` checks, in Rust's order: the record's checkpoint is signed by the
instance; it extends the trusted checkpoint (consistency proof); the entry is leaf
`index` of its tree (inclusion proof); the entry decodes and the value is the one it
names. The caller then trusts `record.checkpoint`. Like Rust's, it does not check that
the entry's seq equals `index`, nor by default the author signature; with
`check_author=True` it also checks that (`Entry.verify_author`, against the same instance
key, which a flag-3 signature names) and refuses a bad one with reason
`author/bad_signature` (a check Rust's `verify_record` leaves to the caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checkpoint import Checkpoint
from .entry import Author, Entry, Op, author_payload, change_payload, value_hash
from .errors import CheckpointError, EntryError, ProofError, SignatureError, VerifyError
from .proof import leaf_hash, verify_consistency, verify_inclusion

__all__ = ["Author", "Checkpoint", "Entry", "Op", "VerifiedRecord", "author_payload",
           "change_payload", "value_hash", "verify_record"]


@dataclass
class VerifiedRecord:
    """A record with its proofs: entry and value bytes, leaf index, the inclusion proof
    against `checkpoint`, the consistency proof from the client's trusted size to
    `checkpoint.size`, and the latest checkpoint (parsed, or its text)."""

    entry: bytes
    value: bytes
    index: int
    inclusion: list[bytes] = field(default_factory=list)
    consistency: list[bytes] = field(default_factory=list)
    checkpoint: Checkpoint | str | None = None


def verify_record(record: VerifiedRecord, trusted: Checkpoint | None, instance_key,
                  cache=None, *, check_author: bool = False) -> Entry:
    """Checks `record` against the `trusted` checkpoint (None when nothing is trusted yet)
    and the instance key (32 bytes or hex); returns the decoded entry. Raises
    `VerifyError`, whose `reason` says which check failed. With a `cache`
    (verified.CheckpointCache), a checkpoint whose signature was already checked is not
    checked again: the signature dominates the cost of a verified read."""
    try:
        cp = record.checkpoint
        if not isinstance(cp, Checkpoint):
            cp = Checkpoint.parse(cp or "")
        if cache is None:
            cp.verify(instance_key)
        else:
            cache.verify(cp, instance_key)
    except CheckpointError as e:
        raise VerifyError("checkpoint", str(e), e) from e
    if trusted is not None and trusted.size > 0:
        try:
            verify_consistency(trusted.size, cp.size, trusted.root, cp.root, record.consistency)
        except ProofError as e:
            raise VerifyError("inconsistent", "the ledger's history changed since the "
                              f"trusted checkpoint: {e}", e) from e
    try:
        verify_inclusion(leaf_hash(record.entry), record.index, cp.size, record.inclusion,
                         cp.root)
    except ProofError as e:
        raise VerifyError("not_included", f"the entry is not in the signed tree: {e}", e) from e
    try:
        entry = Entry.decode(record.entry)
    except EntryError as e:
        raise VerifyError("entry", str(e), e) from e
    if entry.value_hash != value_hash(record.value):
        raise VerifyError("value_mismatch", "the value does not match the entry's value hash")
    if check_author:
        try:
            entry.verify_author(instance_key)
        except SignatureError as e:
            raise VerifyError("author", str(e), e) from e
    return entry
