"""The canonical ledger entry (crates/bcdb/src/entry.rs): decoding, encoding and the
author signature.

```text
u8     version (1)
u64 LE seq, u64 LE time_ms
u8     op           1 put, 2 delete, 3 schema put, 4 acl put, 5 create
u16 LE + bytes      namespace (1..=255 bytes)
u16 LE + bytes      collection (..=1024 bytes)
u64 LE object_id
[32]   schema_hash, [32] value_hash
u64 LE value_len
u8     author flag  0: none (the instance owner);
                    1: [32] ed25519 key, [64] signature (first form: no nonce, no
                       instance; still read and verified, no longer accepted for new changes);
                    2: [32] key (attested: an authenticated session of that key made it);
                    3: [32] key, u64 LE nonce, [64] signature (signed by its author)
```

Decoding is as strict as Rust's, with the same error messages. An author signs what they
decide, not the seq or time the ledger assigns: `change_payload` (flag 3) covers the
instance key, namespace, collection, object id (0 for a creation), op, schema and value
hash and a nonce. The instance key keeps a signature from being replayed on another
instance; the nonce, which the server accepts only above every earlier nonce of the key on
that instance, keeps it from being replayed on the same one. Flag 1 entries were signed
over `author_payload`, which has neither.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass

from .errors import EntryError, SignatureError
from .keys import is_point, payload, public_key, verify_signature

ENTRY_VERSION = 1
MAX_NAMESPACE = 255
MAX_COLLECTION = 1024


class Op(enum.IntEnum):
    """What an entry does (its code in the entry)."""

    PUT = 1
    DELETE = 2
    SCHEMA_PUT = 3
    ACL_PUT = 4
    CREATE = 5


@dataclass(frozen=True)
class Author:
    """An author's key (32 bytes), signature (64 bytes) and nonce: the signature is over
    `change_payload` with that nonce, or over `author_payload` when `nonce` is None (flag 1,
    the first form)."""

    key: bytes
    signature: bytes
    nonce: int | None = None


def namespace_of(name) -> bytes:
    """The namespace `SELECT name` means on the server (`namespace_of` in
    crates/bcdb/src/server/basic.rs): all digits is a database number n, namespace
    `db<n>` (`0` is `default`); anything else is the name itself (1 to 255 bytes). Entries
    record, and signatures cover, this form."""
    raw = name.encode() if isinstance(name, str) else bytes(name)
    if 0 < len(raw) <= 20 and raw.isdigit():
        n = int(raw)
        if n >= 1 << 64:
            raise EntryError("namespace", "DB index is out of range")
        return b"default" if n == 0 else b"db%d" % n
    if not 0 < len(raw) <= MAX_NAMESPACE:
        raise EntryError("namespace", f"a namespace name has 1 to {MAX_NAMESPACE} bytes")
    return raw


def value_hash(value: bytes) -> bytes:
    """SHA-256 of a value, as entries record it."""
    return hashlib.sha256(value).digest()


def change_payload(instance_key: bytes, namespace: bytes, collection: bytes, object_id: int,
                   op: Op, schema_hash: bytes, value_hash_: bytes, nonce: int) -> bytes:
    """What an author signs for a change on the instance `instance_key` (32 bytes or text)
    (`Entry::change_payload`)."""
    return payload("bcdb-change-2", public_key(instance_key), bytes(namespace),
                   bytes(collection), object_id, bytes([int(op)]), schema_hash, value_hash_,
                   nonce)


def author_payload(namespace: bytes, collection: bytes, object_id: int, op: Op,
                   schema_hash: bytes, value_hash_: bytes) -> bytes:
    """What flag 1 entries were signed over (`Entry::author_payload`): no instance, no
    nonce. Only for verifying old entries."""
    return payload("bcdb-change", namespace, collection, object_id, bytes([int(op)]),
                   schema_hash, value_hash_)


@dataclass(frozen=True)
class Entry:
    """One ledger entry."""

    seq: int
    time_ms: int
    op: Op
    namespace: bytes
    collection: bytes
    object_id: int
    schema_hash: bytes
    value_hash: bytes
    value_len: int
    author: Author | None = None
    attested: bytes | None = None

    @property
    def principal(self) -> bytes | None:
        """Who made the change: the signing author or the attested key (None: the owner)."""
        return self.author.key if self.author is not None else self.attested

    def encode(self) -> bytes:
        """The canonical bytes."""
        out = bytearray(struct.pack("<BQQB", ENTRY_VERSION, self.seq, self.time_ms,
                                    int(self.op)))
        for name in (self.namespace, self.collection):
            out += struct.pack("<H", len(name)) + name
        out += struct.pack("<Q", self.object_id) + self.schema_hash + self.value_hash
        out += struct.pack("<Q", self.value_len)
        if self.author is not None and self.author.nonce is not None:
            out += b"\x03" + self.author.key + struct.pack("<Q", self.author.nonce)
            out += self.author.signature
        elif self.author is not None:
            out += b"\x01" + self.author.key + self.author.signature
        elif self.attested is not None:
            out += b"\x02" + self.attested
        else:
            out.append(0)
        return bytes(out)

    @staticmethod
    def decode(data: bytes) -> Entry:
        """Parses canonical bytes: known version and op, bounded names, a valid author key,
        nothing after the last field. Raises `EntryError`."""
        r = _Reader(bytes(data))
        version = r.u8()
        if version != ENTRY_VERSION:
            raise EntryError("version", f"unknown entry version {version}")
        seq, time_ms, code = r.u64(), r.u64(), r.u8()
        if code not in Op._value2member_map_:
            raise EntryError("op", f"unknown entry op {code}")
        namespace = r.name(MAX_NAMESPACE, "namespace")
        if not namespace:
            raise EntryError("bad", "empty namespace")
        collection = r.name(MAX_COLLECTION, "collection")
        object_id, schema_hash, value_hash_, value_len = r.u64(), r.take(32), r.take(32), r.u64()
        flag = r.u8()
        author = attested = None
        if flag in (1, 2, 3):
            key = r.take(32)
            if not is_point(key):
                raise EntryError("bad", "author key is not an ed25519 point")
            if flag == 2:
                attested = key
            else:
                nonce = r.u64() if flag == 3 else None
                author = Author(key, r.take(64), nonce)
        elif flag != 0:
            raise EntryError("bad", f"author flag {flag}")
        if r.at != len(r.data):
            raise EntryError("trailing", f"{len(r.data) - r.at} bytes after the end of the entry")
        return Entry(seq, time_ms, Op(code), namespace, collection, object_id, schema_hash,
                     value_hash_, value_len, author, attested)

    def signed_payload(self, instance_key) -> bytes:
        """The bytes the author signed for the instance `instance_key` (object id 0 for a
        creation); the first form (flag 1) names no instance."""
        signed_id = 0 if self.op == Op.CREATE else self.object_id
        fields = (self.namespace, self.collection, signed_id, self.op, self.schema_hash,
                  self.value_hash)
        if self.author is not None and self.author.nonce is not None:
            return change_payload(instance_key, *fields, self.author.nonce)
        return author_payload(*fields)

    def verify_author(self, instance_key) -> bytes | None:
        """Checks the author signature as made for the instance `instance_key` (32 bytes or
        text); returns the author's key, or None when the entry is not signed. Raises
        `SignatureError` when the signature does not verify."""
        if self.author is None:
            return None
        message = self.signed_payload(instance_key)
        if not verify_signature(self.author.key, message, self.author.signature):
            raise SignatureError("bad_signature",
                                 f"author signature by {self.author.key.hex()} does not verify")
        return self.author.key


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise EntryError("truncated", f"entry truncated at byte {self.at}")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def name(self, most: int, what: str) -> bytes:
        size = struct.unpack("<H", self.take(2))[0]
        if size > most:
            raise EntryError("bad", f"{what} of {size} bytes (at most {most})")
        return self.take(size)
