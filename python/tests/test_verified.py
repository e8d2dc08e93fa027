"""The trust store and the checkpoint cache on the fixture's records (real ledger output):
a signature is checked once per distinct checkpoint and never trusted from the cache for
other bytes; the trusted checkpoint survives a restart through its file; a record for
another object than the one asked for is refused and moves no trust."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from support import FIXTURE_VAR, fixture, unhex
from bcdb_client.checkpoint import Checkpoint
from bcdb_client.errors import BcdbError, VerifyError
from bcdb_client.ledger import VerifiedRecord, verify_record
from bcdb_client.proof import encode_proof
from bcdb_client.verified import CheckpointCache, TrustStore, VerifiedClient

FIX = fixture()


def record(r: dict) -> VerifiedRecord:
    return VerifiedRecord(bytes.fromhex(r["entry"]), bytes.fromhex(r["value"]), r["index"],
                          unhex(r["inclusion"]), unhex(r["consistency"]),
                          Checkpoint.parse(r["checkpoint"]))


class FakeServer:
    """Answers LEDGER.VGET with one prepared record, as a `Client` would hand it over."""

    def __init__(self, rec: VerifiedRecord, namespace: bytes):
        self.rec, self.namespace, self.asked = rec, namespace, []

    def call(self, *args):
        self.asked.append(args)
        r = self.rec
        return [r.entry, r.value, r.index, encode_proof(r.inclusion),
                encode_proof(r.consistency), r.checkpoint.to_text().encode()]


@unittest.skipUnless(FIX, f"{FIXTURE_VAR} is not set (cargo test -p bcdb --test python_client)")
class CacheAndTrust(unittest.TestCase):
    def setUp(self):
        self.key = FIX["instance_key"]
        self.trusted = Checkpoint.parse(FIX["trusted"])
        self.latest = [record(r) for r in FIX["records"]
                       if r["checkpoint"] == FIX["latest"] and r["trusted"] == FIX["trusted"]]
        self.assertGreaterEqual(len(self.latest), 3)

    def test_one_signature_check_per_checkpoint(self):
        cache = CheckpointCache()
        for rec in self.latest:
            verify_record(rec, self.trusted, self.key, cache)
        self.assertEqual((cache.n_verified, cache.n_hits), (1, len(self.latest) - 1))

    def test_the_cache_never_vouches_for_other_bytes(self):
        cache = CheckpointCache()
        verify_record(self.latest[0], self.trusted, self.key, cache)
        for t in FIX["tampered"]:
            if t["reason"].startswith("checkpoint/bad_signature"):
                with self.subTest(t["name"]):
                    with self.assertRaises(VerifyError) as e:
                        verify_record(record(t), Checkpoint.parse(t["trusted"]), self.key, cache)
                    self.assertEqual(e.exception.reason, t["reason"])
        self.assertEqual(cache.n_hits, 0)

    def test_the_trusted_checkpoint_survives_a_restart(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trust.json"
            first = TrustStore(path, self.key, CheckpointCache())
            self.assertIsNone(first.checkpoint)
            first.save(self.trusted)
            cache = CheckpointCache()
            again = TrustStore(path, self.key, cache)
            self.assertEqual(again.checkpoint, self.trusted)
            self.assertEqual(cache.n_verified, 1)  # checked once when loaded
            verify_record(self.latest[0], again.checkpoint, self.key, cache)
            self.assertEqual(cache.n_verified, 2)
            # a store kept for another instance is not silently reused
            with self.assertRaises(BcdbError) as e:
                TrustStore(path, FIX["identity"]["public"], CheckpointCache())
            self.assertEqual(e.exception.kind, "trust_store")
            path.write_text(json.dumps({"version": 9}))
            with self.assertRaises(BcdbError):
                TrustStore(path, self.key, CheckpointCache())

    def test_vget_checks_the_object_and_moves_trust_only_on_success(self):
        raw = next(r for r in FIX["records"] if r["name"].startswith("farm b"))
        rec = record(raw)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trust.json"
            TrustStore(path, self.key, CheckpointCache()).save(self.trusted)
            server = FakeServer(rec, b"grid")
            v = VerifiedClient(server, path, self.key)
            with self.assertRaises(VerifyError) as e:
                v.check(rec, raw["object_id"] + 1)
            self.assertEqual(e.exception.kind, "wrong_entry")
            with self.assertRaises(VerifyError):
                v.check(rec, raw["object_id"], url="another.model.1")
            self.assertEqual(TrustStore(path, self.key, CheckpointCache()).checkpoint,
                             self.trusted)
            self.assertEqual(v.fetch(raw["object_id"]).entry, rec.entry)
            self.assertEqual(server.asked[-1], ("LEDGER.VGET", raw["object_id"],
                                                self.trusted.size))
            entry = v.check(rec, raw["object_id"], url="tfgrid.directory.farm.1")
            self.assertEqual(entry.object_id, raw["object_id"])
            stored = TrustStore(path, self.key, CheckpointCache()).checkpoint
            self.assertEqual(stored.to_text(), FIX["latest"])


if __name__ == "__main__":
    unittest.main()
