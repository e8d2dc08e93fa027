"""Verified reads with a local trust store (spec §9.4, §9.8): the client trusts nothing but
the instance's public key and the last checkpoint it verified itself.

`VerifiedClient.vget(id)` sends `LEDGER.VGET id <trusted size>`, whose reply is `[entry,
value, index, inclusion proof, consistency proof, checkpoint text]`, and checks with
`verify_record` that the checkpoint is the instance's, that it extends the trusted one,
that the entry is in its tree and that the value is the entry's. It also checks that the
entry is the object asked for (namespace, id, and url when a model is given) — the proofs
alone would accept any entry of the ledger —, and, unless `check_authors=False`, the
author signature against the instance key (a flag-3 signature names the instance). The
namespace is the client's as the server reads it (`"3"` is `db3`). Only then is the
checkpoint persisted as the new trusted one (JSON at `trust_path`, see `TrustStore`: locked,
re-read, never moved backwards, replaced atomically), so a later client, even after a
restart, refuses a server whose history forked from what it saw.

What a verified read does not prove is freshness: the server could answer with an older
version that is still in the ledger. The object is decoded from the verified bytes with
the schema version whose hash the entry names, never from the server's JSON.

`CheckpointCache` remembers checkpoints whose signature verified, so consecutive reads
under the same checkpoint cost hash checks only; `n_verified` counts the ed25519 checks
actually made and `n_hits` the ones skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections import OrderedDict
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import Checkpoint
from .codec import decode, view
from .entry import Entry, Op, namespace_of
from .errors import BcdbError, ProofError, VerifyError
from .keys import public_key
from .ledger import VerifiedRecord, verify_record
from .model import Model
from .proof import decode_proof

TRUST_VERSION = 1
_CURRENT = object()


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
    `{"version": 1, "instance_key": hex, "checkpoint": text}`.

    Several stores (threads, processes) may share one file; it never goes backwards.
    `save(cp, base)` takes an exclusive `flock` on `<path>.lock` (POSIX; kept beside the file,
    never removed), re-reads the file and writes `cp` only if the file still holds `base`,
    the checkpoint `cp` was proven to extend (or holds nothing). If another store moved it
    meanwhile, a consistency proof from *its* checkpoint to `cp` would be needed, and the
    server only proves consistency up to its latest checkpoint (`LEDGER.VGET id size`), not
    to a given one: so the store refuses, adopts the file's checkpoint (its signature
    checked) as `self.checkpoint` and raises `VerifyError` `trust_moved`; the caller fetches
    again against it (`VerifiedClient.vget` does, inside `hold()`, so that it cannot lose
    the race twice). A checkpoint of the same size as the file's but another root is a fork
    the instance signed: refused as `inconsistent/root_mismatch`. A write goes to a unique
    temporary file, is fsynced, renamed over the file, and the directory is fsynced; readers
    need no lock."""

    def __init__(self, path, instance_key, cache: CheckpointCache):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.instance_key = public_key(instance_key)
        self.cache = cache
        self.n_written = 0  # files written by this store
        self._holding = threading.local()  # set while this thread is inside `hold()`
        self.checkpoint: Checkpoint | None = self._read()

    def _read(self, known=()) -> Checkpoint | None:
        """The file's checkpoint, its signature checked unless it is one of `known` (the
        very checkpoints the caller already verified)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            key, cp_text = data["instance_key"], data["checkpoint"]
            if data.get("version") != TRUST_VERSION:
                raise ValueError(f"version {data.get('version')}")
        except (ValueError, KeyError, TypeError) as e:
            raise BcdbError("trust_store", f"{self.path}: not a trust store ({e})") from None
        if public_key(key) != self.instance_key:
            raise BcdbError("trust_store", f"{self.path} trusts instance {key}, not "
                            f"{self.instance_key.hex()}")
        cp = Checkpoint.parse(cp_text)
        # the file is ours, but it must also be the instance's word
        if not any(cp == k for k in known if k is not None):
            self.cache.verify(cp, self.instance_key)
        return cp

    def reload(self) -> Checkpoint | None:
        """Trusts what the file holds now."""
        self.checkpoint = self._read()
        return self.checkpoint

    @contextmanager
    def hold(self):
        """Keeps the file from moving: takes the lock, trusts what the file holds now, and
        lets `save` run inside without locking again. Whatever is fetched and checked in
        here against `self.checkpoint` is saved without a `trust_moved` refusal; the price
        is that other stores wait on the lock for as long as the block runs."""
        with self._locked():
            self._holding.on = True
            try:
                self.checkpoint = self._read(known=(self.checkpoint,))
                yield self.checkpoint
            finally:
                self._holding.on = False

    @contextmanager
    def _locked(self):
        if getattr(self._holding, "on", False):
            yield  # the lock is already ours: a second flock would wait on itself
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # drops the lock

    def save(self, cp: Checkpoint, base: Checkpoint | None | object = _CURRENT) -> None:
        """Trusts `cp`, which the caller proved consistent with `base` (default: the
        checkpoint this store trusts now), unless the file moved away from `base`: see the
        class. Raises `VerifyError` (`trust_moved`, or `inconsistent` for a fork)."""
        if base is _CURRENT:
            base = self.checkpoint
        if base is not None and cp.size < base.size:
            raise ValueError(f"checkpoint of size {cp.size} below its base ({base.size})")
        with self._locked():
            disk = self._read(known=(base, cp))
            if disk is not None and disk.size == cp.size and disk.root != cp.root:
                self.checkpoint = disk
                raise VerifyError("inconsistent", f"{self.path} trusts another tree of "
                                  f"{cp.size} entries: the instance signed a fork",
                                  ProofError("root_mismatch", "root mismatch"))
            if disk is not None and _same_tree(disk, cp):
                self.checkpoint = disk
                return
            if disk is not None and not _same_tree(disk, base):
                self.checkpoint = disk
                raise VerifyError("trust_moved", f"{self.path} moved to {disk.size} entries "
                                  f"while a checkpoint was checked against "
                                  f"{base.size if base else 0}: check again against it")
            self._write(cp)
        self.checkpoint = cp

    def _write(self, cp: Checkpoint) -> None:
        data = {"version": TRUST_VERSION, "instance_key": self.instance_key.hex(),
                "checkpoint": cp.to_text()}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.n_written += 1


def _same_tree(a: Checkpoint | None, b: Checkpoint | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.size, a.root) == (b.size, b.root)


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

    def __init__(self, client, trust_path, instance_key, cache: CheckpointCache | None = None,
                 check_authors: bool = True):
        self.client = client
        self.cache = cache if cache is not None else CheckpointCache()
        self.store = TrustStore(trust_path, instance_key, self.cache)
        self.check_authors = check_authors

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
        """Verifies a record for `object_id` (and `url`) and moves the trust forward.
        Raises `VerifyError` `trust_moved` when another store moved the shared trust file
        meanwhile: the record was checked against a checkpoint no longer trusted, fetch it
        again (the store now trusts the file's)."""
        base = self.trusted
        entry = verify_record(record, base, self.store.instance_key, self.cache,
                              check_author=self.check_authors)
        want = (namespace_of(self.client.namespace), object_id)
        if (entry.namespace, entry.object_id) != want or entry.op not in (Op.CREATE, Op.PUT):
            raise VerifyError("wrong_entry", f"the server proved entry {entry.seq} "
                              f"({entry.op.name} of object {entry.object_id} in "
                              f"{entry.namespace!r}), not object {object_id}")
        if url is not None and entry.collection != url.encode():
            raise VerifyError("wrong_entry", f"object {object_id} is of "
                              f"{entry.collection.decode(errors='replace')}, not {url}")
        self.store.save(record.checkpoint, base)
        return entry

    def vget(self, object_id: int, model=None) -> VerifiedObject | None:
        """The latest version of `object_id`, verified; None when the server says it does
        not exist (which a verified read cannot prove). With a bound `model`, the object
        must be of its url and comes back as one of its records. When another store moved
        the shared trust file in between, it fetches again against the file's checkpoint,
        this time holding the file's lock across the fetch, so that the second try cannot
        be overtaken: a vget makes at most two round trips however many stores share the
        file."""
        url = model.url if model is not None else None
        for held in (False, True):
            with self.store.hold() if held else nullcontext():
                record = self.fetch(object_id)
                if record is None:
                    return None
                try:
                    entry = self.check(record, object_id, url)
                    break
                except VerifyError as e:
                    if e.kind != "trust_moved" or held:
                        raise
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
