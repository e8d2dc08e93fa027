"""A ledger built in Python, for tests that need no Rust fixture: RFC 9162 trees (MTH, PATH
and SUBPROOF as the RFC writes them), canonical entries, checkpoints signed with a PyNaCl
key, and `LEDGER.VGET` answered the way `tfgrid bcdb serve` answers it.

Not a test module itself (no `test_` prefix): test_proof.py checks `mth`, `path` and
`subproof` against the RFC's known answers before anything relies on them.
"""

from __future__ import annotations

import threading

import support  # noqa: F401  (import path)
from nacl.signing import SigningKey

from bcdb_client.checkpoint import Checkpoint
from bcdb_client.entry import Entry, Op, value_hash
from bcdb_client.errors import ServerError
from bcdb_client.keys import payload
from bcdb_client.proof import empty_root, encode_proof, leaf_hash, node_hash

ORIGIN = "bcdb/test/fake"


def _split(n: int) -> int:
    """The largest power of two below n (RFC 9162 §2.1.1's k)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves):
    """MTH(D[n]) of RFC 9162 §2.1.1; `leaves` are the raw leaves (entries), hashed here."""
    if not leaves:
        return empty_root()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1: the inclusion proof of leaf m."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, b):
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1; the consistency proof from m is
    `subproof(m, leaves, True)`."""
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


class FakeLedger:
    """An append-only list of entries and values, signed by `key` (thread-safe)."""

    def __init__(self, seed: bytes = b"\x04" * 32, origin: str = ORIGIN):
        self.key = SigningKey(seed)
        self.instance_key = bytes(self.key.verify_key)
        self.origin = origin
        self.entries: list[bytes] = []
        self.values: list[bytes] = []
        self.lock = threading.Lock()

    def append(self, namespace: bytes, object_id: int, value: bytes, collection: bytes = b"",
               op: Op = Op.CREATE, author=None) -> int:
        """Adds an entry for `object_id`; returns its seq (its leaf index)."""
        with self.lock:
            seq = len(self.entries)
            entry = Entry(seq, 1_700_000_000_000 + seq, op, namespace, collection, object_id,
                          bytes(32), value_hash(value), len(value), author)
            self.entries.append(entry.encode())
            self.values.append(value)
            return seq

    @property
    def size(self) -> int:
        with self.lock:
            return len(self.entries)

    def checkpoint(self, size: int) -> Checkpoint:
        """The checkpoint of the first `size` entries, signed by the instance key."""
        root = mth(self.entries[:size])
        body = f"{self.origin}\n{size}\n{root.hex()}\n{1_700_000_000_000 + size}\n"
        sig = self.key.sign(payload("bcdb-checkpoint", body.encode())).signature
        return Checkpoint(self.origin, size, root, 1_700_000_000_000 + size, self.instance_key,
                          sig)

    def vget(self, namespace: bytes, object_id: int, trusted: int, size: int | None = None):
        """`LEDGER.VGET object_id trusted` as the server answers it, for a server whose
        latest checkpoint covers `size` entries (default: all)."""
        with self.lock:
            size = len(self.entries) if size is None else size
            if trusted > size:
                raise ServerError(f"trusted size {trusted} is beyond the latest checkpoint "
                                  f"({size} entries)")
            leaves = self.entries[:size]
            index = next((i for i in reversed(range(size))
                          if Entry.decode(leaves[i]).namespace == namespace
                          and Entry.decode(leaves[i]).object_id == object_id), None)
            if index is None:
                return None
            consistency = subproof(trusted, leaves, True) if 0 < trusted < size else []
            return [leaves[index], self.values[index], index,
                    encode_proof(path(index, leaves)), encode_proof(consistency),
                    self.checkpoint(size).to_text().encode()]


class FakeServer:
    """What `VerifiedClient` needs of a `Client` — `namespace` and `call` — over a
    FakeLedger; `shown` caps the checkpoint it shows (a lagging replica), `asked` logs."""

    def __init__(self, ledger: FakeLedger, namespace: bytes = b"ns", shown: int | None = None):
        self.ledger, self.namespace, self.shown = ledger, namespace, shown
        self.asked: list[tuple] = []

    def call(self, *args):
        self.asked.append(args)
        if args[0] != "LEDGER.VGET":
            raise ServerError(f"unknown command '{args[0]}'")
        return self.ledger.vget(self.namespace, int(args[1]), int(args[2]), self.shown)
