"""Verified reads with a local trust store (spec §9.4, §9.8): the client trusts nothing but
the instance's public key and the last checkpoint it verified itself.

`VerifiedClient.vget(id)` sends `LEDGER.VGET id <trusted size>`, whose reply is `[entry,
value, index, inclusion proof, consistency proof, checkpoint text]`, and checks with
`verify_record` that the checkpoint is the instance's, that it extends the trusted one,
that the entry is in its tree and that the value is the entry's. It also checks that the
entry is the object asked for (namespace, id, and url when a model is given) — the proofs
alone would accept any entry of the ledger. Only then is the checkpoint persisted as the
new trusted one (JSON at `trust_path`, replaced atomically), so a later client, even after
a restart, refuses a server whose history forked from what it saw.

What a verified read does not prove is freshness: the server could answer with an older
version that is still in the ledger. The object is decoded from the verified bytes with
the schema version whose hash the entry names, never from the server's JSON.

`CheckpointCache` remembers checkpoints whose signature verified, so consecutive reads
under the same checkpoint cost hash checks only; `n_verified` counts the ed25519 checks
actually made and `n_hits` the ones skipped.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import Checkpoint
from .codec import decode, view
from .entry import Entry, Op
from .errors import BcdbError, VerifyError
from .keys import public_key
from .ledger import VerifiedRecord, verify_record
from .model import Model
from .proof import decode_proof

TRUST_VERSION = 1


class CheckpointCache:
    """Signatures already checked, keyed by (signer, signed body, signature): a checkpoint
    is only ever taken from here if those exact bytes verified before. Bounded (LRU)."""

    def __init__(self, capacity: int = 256):
        self.capacity = capacity
        self.n_verified = 0
        self.n_hits = 0
        self._seen: OrderedDict = OrderedDict()

    def verify(self, cp: Checkpoint, instance_key) -> None:
        """As `cp.verify(instance_key)`, skipping the signature when already checked."""
        key = public_key(instance_key)
        token = (cp.signer, cp.body(), cp.signature)
        if cp.signer == key and token in self._seen:
            self._seen.move_to_end(token)
            self.n_hits += 1
            return
        if cp.signer == key:
            self.n_verified += 1
        cp.verify(key)  # raises wrong_signer before any signature check
        self._seen[token] = True
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)


class TrustStore:
    """The last trusted checkpoint of one instance, as JSON at `path`:
    `{"version": 1, "instance_key": hex, "checkpoint": text}`."""

    def __init__(self, path, instance_key, cache: CheckpointCache):
        self.path = Path(path)
        self.instance_key = public_key(instance_key)
        self.cache = cache
        self.checkpoint: Checkpoint | None = None
        if self.path.exists():
            self.checkpoint = self._load()

    def _load(self) -> Checkpoint:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            key, text = data["instance_key"], data["checkpoint"]
            if data.get("version") != TRUST_VERSION:
                raise ValueError(f"version {data.get('version')}")
        except (ValueError, KeyError, TypeError) as e:
            raise BcdbError("trust_store", f"{self.path}: not a trust store ({e})") from None
        if public_key(key) != self.instance_key:
            raise BcdbError("trust_store", f"{self.path} trusts instance {key}, not "
                            f"{self.instance_key.hex()}")
        cp = Checkpoint.parse(text)
        # the file is ours, but it must also be the instance's word
        self.cache.verify(cp, self.instance_key)
        return cp

    def save(self, cp: Checkpoint) -> None:
        """Trusts `cp` from now on (written to a temporary file, then renamed)."""
        data = {"version": TRUST_VERSION, "instance_key": self.instance_key.hex(),
                "checkpoint": cp.to_text()}
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.checkpoint = cp


@dataclass
class VerifiedObject:
    """A verified read: the entry and value bytes, and the object decoded from the value
    (None for a schema-less value; `value` is then the key-framed blob)."""

    entry: Entry
    value: bytes
    object: object
    checkpoint: Checkpoint


class VerifiedClient:
    """Verified reads in `client`'s namespace, trusting `instance_key` and the checkpoint
    kept at `trust_path`."""

    def __init__(self, client, trust_path, instance_key, cache: CheckpointCache | None = None):
        self.client = client
        self.cache = cache if cache is not None else CheckpointCache()
        self.store = TrustStore(trust_path, instance_key, self.cache)

    @property
    def trusted(self) -> Checkpoint | None:
        return self.store.checkpoint

    def fetch(self, object_id: int) -> VerifiedRecord | None:
        """The unverified `LEDGER.VGET` reply for `object_id` against the trusted size."""
        size = self.trusted.size if self.trusted else 0
        reply = self.client.call("LEDGER.VGET", object_id, size)
        if reply is None:
            return None
        entry, value, index, inclusion, consistency, cp = reply
        return VerifiedRecord(bytes(entry), bytes(value), int(index), decode_proof(inclusion),
                              decode_proof(consistency), Checkpoint.parse(cp))

    def check(self, record: VerifiedRecord, object_id: int, url: str | None = None) -> Entry:
        """Verifies a record for `object_id` (and `url`) and moves the trust forward."""
        entry = verify_record(record, self.trusted, self.store.instance_key, self.cache)
        want = (self.client.namespace, object_id)
        if (entry.namespace, entry.object_id) != want or entry.op not in (Op.CREATE, Op.PUT):
            raise VerifyError("wrong_entry", f"the server proved entry {entry.seq} "
                              f"({entry.op.name} of object {entry.object_id} in "
                              f"{entry.namespace!r}), not object {object_id}")
        if url is not None and entry.collection != url.encode():
            raise VerifyError("wrong_entry", f"object {object_id} is of "
                              f"{entry.collection.decode(errors='replace')}, not {url}")
        cp = record.checkpoint
        if self.trusted is None or cp.size >= self.trusted.size:
            self.store.save(cp)
        return entry

    def vget(self, object_id: int, model=None) -> VerifiedObject | None:
        """The latest version of `object_id`, verified; None when the server says it does
        not exist (which a verified read cannot prove). With a bound `model`, the object
        must be of its url and comes back as one of its records."""
        record = self.fetch(object_id)
        if record is None:
            return None
        entry = self.check(record, object_id, model.url if model is not None else None)
        obj = None
        if entry.collection:
            url = entry.collection.decode()
            schema = self.client.schema(url, entry.schema_hash)
            data = view(schema, decode(record.value), self.client.schemas)
            if model is not None and entry.schema_hash == model.hash:
                obj = model.new(**data)
            else:
                obj = Model(schema, self.client.schemas, **data)
            # exactly the stored values: no default fills a field the object lacks
            values = object.__getattribute__(obj, "_values")
            for name in [n for n in values if n not in data]:
                del values[name]
            object.__setattr__(obj, "id", object_id)
        return VerifiedObject(entry, record.value, obj, record.checkpoint)


__all__ = ["CheckpointCache", "TrustStore", "VerifiedClient", "VerifiedObject"]
