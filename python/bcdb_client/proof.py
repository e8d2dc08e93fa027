"""RFC 9162 Merkle proofs with SHA-256: leaf and node hashes, inclusion and consistency
verification, and the proof wire form.

The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, like the Rust client in
crates/bcdb/src/merkle/verify.rs, and raise `ProofError` with the same kinds and messages.
A size binds to a root only through the proof's shape: take both from one signed checkpoint.
"""

import hashlib

from .errors import CodecError, ProofError

HASH_LEN = 32
MAX_PROOF_HASHES = 64
_U64 = 1 << 64


def leaf_hash(entry: bytes) -> bytes:
    """`SHA-256(0x00 ‖ entry)`."""
    return hashlib.sha256(b"\x00" + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """`SHA-256(0x01 ‖ left ‖ right)`."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    """The root of the empty tree, `SHA-256("")`."""
    return hashlib.sha256(b"").digest()


def _check(sizes, hashes):
    for n in sizes:
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < _U64:
            raise ValueError(f"{n!r} is not a u64")
    for h in hashes:
        if len(h) != HASH_LEN:
            raise ValueError(f"a hash has {HASH_LEN} bytes, not {len(h)}")


def _err(kind: str, **n) -> ProofError:
    messages = {
        "index_out_of_range": "leaf index {index} is not below tree size {size}",
        "size_order": "old tree size {old_size} is larger than new tree size {new_size}",
        "too_long": "proof has more hashes than the tree sizes allow",
        "too_short": "proof has fewer hashes than the tree sizes need",
        "root_mismatch": "proof does not lead to the expected root",
    }
    return ProofError(kind, messages[kind].format(**n))


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof) -> bytes:
    """The root an inclusion proof leads to (§2.1.3.2 without the final comparison)."""
    _check((index, size), [leaf, *proof])
    # 1. leaf_index must be below tree_size.
    if index >= size:
        raise _err("index_out_of_range", index=index, size=size)
    # 2.-3.
    fn, sn, r = index, size - 1, bytes(leaf)
    # 4. For each p in the path:
    for p in proof:
        # a.
        if sn == 0:
            raise _err("too_long")
        # b. p is on the left when fn is a right child or the last node of its level.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # ii. Right-shift both until LSB(fn) is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        # c.
        fn, sn = fn >> 1, sn >> 1
    # 5. The path must reach the top.
    if sn != 0:
        raise _err("too_short")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof, root: bytes) -> None:
    """Checks that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves whose
    root is `root`; raises `ProofError` otherwise."""
    if root_from_inclusion_proof(leaf, index, size, proof) != root:
        raise _err("root_mismatch")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof) -> None:
    """Checks that the tree (`old_size`, `old_root`) is a prefix of (`new_size`,
    `new_root`); raises `ProofError` otherwise. Equal sizes need equal roots and an empty
    proof; an empty old tree (root `SHA-256("")`) is a prefix of every tree."""
    _check((old_size, new_size), [old_root, new_root, *proof])
    if old_size > new_size:
        raise _err("size_order", old_size=old_size, new_size=new_size)
    if old_size == 0 or old_size == new_size:
        if proof:
            raise _err("too_long")
        old_ok = old_size != 0 or old_root == empty_root()
        if not old_ok or (old_size == new_size and old_root != new_root):
            raise _err("root_mismatch")
        return
    # 1. An empty path fails.
    if not proof:
        raise _err("too_short")
    # 2. If old_size is a power of 2, the old root is a node of the new tree: prepend it.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    # 3.
    fn, sn = old_size - 1, new_size - 1
    # 4. Skip the levels where the old tree's last node is a right child.
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # 5.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        # a.
        if sn == 0:
            raise _err("too_long")
        # b.
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            # iii.
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        # c.
        fn, sn = fn >> 1, sn >> 1
    # 7.
    if sn != 0:
        raise _err("too_short")
    if fr != old_root or sr != new_root:
        raise _err("root_mismatch")


def encode_proof(proof) -> bytes:
    """`count: u8 ‖ hash[0] ‖ … ‖ hash[count-1]`."""
    _check((), proof)
    if len(proof) > MAX_PROOF_HASHES:
        raise CodecError("too_many_hashes", f"proof has {len(proof)} hashes, more than "
                         f"the {MAX_PROOF_HASHES} allowed")
    return bytes([len(proof)]) + b"".join(proof)


def decode_proof(data: bytes) -> list[bytes]:
    """Reads `encode_proof`'s output; anything truncated, extended or over the cap fails."""
    if not data:
        raise CodecError("empty", "empty proof encoding: the count byte is missing")
    count = data[0]
    if count > MAX_PROOF_HASHES:
        raise CodecError("too_many_hashes", f"proof has {count} hashes, more than "
                         f"the {MAX_PROOF_HASHES} allowed")
    if len(data) - 1 != count * HASH_LEN:
        raise CodecError("bad_length", f"proof of {count} hashes needs "
                         f"{1 + count * HASH_LEN} bytes, got {len(data)}")
    return [bytes(data[1 + i * HASH_LEN:1 + (i + 1) * HASH_LEN]) for i in range(count)]
