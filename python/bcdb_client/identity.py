"""Who signs: an ed25519 key from a 32-byte seed, a tfgrid key file or a 24-word mnemonic
(crates/identity: keys.rs, keyfile.rs, mnemonic.rs), signing with PyNaCl.

The seed *is* the key: a mnemonic is the BIP-39 encoding of the seed as entropy (not the
PBKDF2 "BIP-39 seed"), and a key file is either the 32 raw seed bytes or JSON
`{"version": "1.x", "mnemonic": "<24 words>", "threebotid": n}`. Like Rust, key files that
group or others may read are refused.

Reading words needs the BIP-39 English word list, which this package does not ship (the
Rust crate compiles it in; it is not a plain file here). Pass `wordlist=` (a path to the
2048-line list or the words themselves) or set `BCDB_BIP39_WORDLIST` to its path; raw seed
files and `from_seed` need nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

from nacl.signing import SigningKey

from .entry import Author, Op, change_payload, namespace_of
from .errors import BcdbError
from .keys import payload, public_key

WORDLIST_VAR = "BCDB_BIP39_WORDLIST"
MAX_KEY_FILE = 64 * 1024
N_WORDS = 24


class IdentityError(BcdbError):
    """A seed, mnemonic or key file that cannot be used (`kind` says which)."""


def load_wordlist(wordlist=None) -> list[str]:
    """The 2048 BIP-39 words from `wordlist` (a path or a sequence) or `$BCDB_BIP39_WORDLIST`."""
    source = wordlist if wordlist is not None else os.environ.get(WORDLIST_VAR)
    if source is None:
        raise IdentityError("wordlist", "reading a mnemonic needs the BIP-39 English word "
                            f"list: pass wordlist= or set {WORDLIST_VAR}")
    if isinstance(source, (str, Path)):
        words = Path(source).read_text(encoding="utf-8").split()
    else:
        words = [str(w) for w in source]
    if len(words) != 2048 or len(set(words)) != 2048:
        raise IdentityError("wordlist", f"a BIP-39 word list has 2048 distinct words, "
                            f"not {len(set(words))}")
    return words


def mnemonic_to_seed(words: str, wordlist=None) -> bytes:
    """The 32-byte entropy of 24 words (any whitespace, any case), checksum checked."""
    given = [w.lower() for w in words.split()]
    if len(given) != N_WORDS:
        raise IdentityError("mnemonic", f"expected {N_WORDS} words, got {len(given)}")
    index = {w: i for i, w in enumerate(load_wordlist(wordlist))}
    bits = 0
    for w in given:
        if w not in index:
            raise IdentityError("mnemonic", f"{w!r} is not a BIP-39 English word")
        bits = bits << 11 | index[w]
    entropy, checksum = (bits >> 8).to_bytes(32, "big"), bits & 0xFF
    if hashlib.sha256(entropy).digest()[0] != checksum:
        raise IdentityError("mnemonic", "the mnemonic's checksum does not match")
    return entropy


def seed_to_mnemonic(seed: bytes, wordlist=None) -> str:
    """The 24 words of a 32-byte seed."""
    words = load_wordlist(wordlist)
    bits = int.from_bytes(seed, "big") << 8 | hashlib.sha256(seed).digest()[0]
    return " ".join(words[bits >> (11 * (N_WORDS - 1 - i)) & 0x7FF] for i in range(N_WORDS))


class Identity:
    """An ed25519 key pair; `threebot_id` is the phonebook id a key file names (0: none).
    `repr` never shows the seed.

    It also keeps the nonce counter of its change signatures: a server takes a signed
    change only if its nonce is above every nonce the key used on that instance before, so
    `next_nonce` hands out `max(last + 1, time in µs)` — strictly increasing within the
    process, and, being a clock, normally above what another process using the same key
    took earlier — and `saw_nonce` raises the floor to what a server reports
    (`AUTH.NONCE`). One counter serves every instance: increasing overall is increasing
    on each. It is thread-safe."""

    def __init__(self, seed: bytes, threebot_id: int = 0):
        seed = bytes(seed)
        if len(seed) != 32:
            raise IdentityError("seed", f"a seed is 32 bytes, not {len(seed)}")
        self._key = SigningKey(seed)
        self.threebot_id = threebot_id
        self._nonce = 0
        self._nonce_lock = threading.Lock()

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        return cls(seed)

    @classmethod
    def from_mnemonic(cls, words: str, wordlist=None) -> Identity:
        return cls(mnemonic_to_seed(words, wordlist))

    @classmethod
    def from_key_file(cls, path, wordlist=None) -> Identity:
        """A tfgrid key file: 32 raw seed bytes, or the JSON seed file (version 1.x)."""
        path = Path(path).expanduser()
        meta = path.stat()
        if meta.st_mode & 0o077:
            raise IdentityError("permissions", f"{path}: mode {meta.st_mode & 0o777:o} lets "
                                "others read the key (chmod 600)")
        if meta.st_size > MAX_KEY_FILE:
            raise IdentityError("key_file", f"{path}: {meta.st_size} bytes is too large")
        raw = path.read_bytes()
        if len(raw) == 32 and not raw.startswith(b"{"):
            return cls(raw)
        try:
            data = json.loads(raw)
            version, words = data["version"], data["mnemonic"]
            threebot_id = int(data.get("threebotid", 0))
        except (ValueError, KeyError, TypeError) as e:
            raise IdentityError("key_file", f"{path}: invalid JSON seed file: {e}") from None
        if not str(version).startswith("1."):
            raise IdentityError("key_file", f"{path}: unsupported seed file version {version}")
        return cls(mnemonic_to_seed(words, wordlist), threebot_id)

    @property
    def seed(self) -> bytes:
        """The 32-byte seed: as secret as the key."""
        return bytes(self._key)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)

    @property
    def public_hex(self) -> str:
        return self.public_key.hex()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte ed25519 signature of `message` (a payload from keys.payload)."""
        return self._key.sign(bytes(message)).signature

    def auth_signature(self, nonce: bytes, instance_key) -> bytes:
        """The answer to an `AUTH.CHALLENGE` nonce from the instance `instance_key`."""
        return self.sign(payload("bcdb-auth", bytes(nonce), public_key(instance_key)))

    @property
    def last_nonce(self) -> int:
        """The highest nonce handed out or reported so far (0: none)."""
        with self._nonce_lock:
            return self._nonce

    def saw_nonce(self, nonce: int) -> None:
        """Raises the counter to at least `nonce` (the last one a server took from this key)."""
        with self._nonce_lock:
            self._nonce = max(self._nonce, int(nonce))

    def next_nonce(self) -> int:
        """A nonce above every one handed out or seen: `max(last + 1, time.time_ns() //
        1000)`."""
        with self._nonce_lock:
            self._nonce = max(self._nonce + 1, time.time_ns() // 1000)
            if self._nonce >= 1 << 64:
                raise IdentityError("nonce", "the nonce counter is past u64")
            return self._nonce

    def sign_change(self, instance_key, namespace: bytes, collection: bytes, object_id: int,
                    op: Op, schema_hash: bytes, value_hash: bytes,
                    nonce: int | None = None) -> Author:
        """The author signature of a change on the instance `instance_key` (object id 0 for
        a creation), with `nonce` or the next one of the counter. The namespace is taken as
        `SELECT` takes it (`entry.namespace_of`: `"3"` is `db3`)."""
        if nonce is None:
            nonce = self.next_nonce()
        message = change_payload(instance_key, namespace_of(namespace), collection, object_id,
                                 op, schema_hash, value_hash, nonce)
        return Author(self.public_key, self.sign(message), nonce)

    def __repr__(self):
        return f"Identity({self.public_hex})"
