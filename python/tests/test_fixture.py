"""The client against a real ledger: the fixture crates/bcdb/tests/python_client.rs
writes (records from `Bcdb::verified_get`, tampered copies, entry, checkpoint, key and
proof vectors, each with Rust's verdict; signed entries are flag 3, bound to the instance
key with a nonce, and a legacy flag-1 entry must still verify). Python must agree with every verdict, down to
the error messages. Skipped unless `BCDB_PY_FIXTURE` names the fixture."""

from __future__ import annotations

import unittest

from support import FIXTURE_VAR, fixture, unhex
from bcdb_client.checkpoint import Checkpoint
from bcdb_client.entry import Entry
from bcdb_client.errors import BcdbError, CheckpointError, EntryError, SignatureError, VerifyError
from bcdb_client.keys import is_point
from bcdb_client.ledger import VerifiedRecord, verify_record
from bcdb_client.proof import decode_proof

FIX = fixture()


def record(r: dict) -> tuple[VerifiedRecord, Checkpoint | None]:
    rec = VerifiedRecord(bytes.fromhex(r["entry"]), bytes.fromhex(r["value"]), r["index"],
                         unhex(r["inclusion"]), unhex(r["consistency"]), r["checkpoint"])
    return rec, Checkpoint.parse(r["trusted"]) if r["trusted"] else None


@unittest.skipUnless(FIX, f"{FIXTURE_VAR} is not set (cargo test -p bcdb --test python_client)")
class RustFixture(unittest.TestCase):
    def test_good_records_verify_and_the_trusted_checkpoint_advances(self):
        key = FIX["instance_key"]
        trusted = Checkpoint.parse(FIX["trusted"])
        for r in FIX["records"]:
            with self.subTest(r["name"]):
                rec, old = record(r)
                entry = verify_record(rec, old, key, check_author=True)
                self.assertEqual((entry.object_id, entry.op), (r["object_id"], r["op"]))
                author = entry.verify_author(key)
                self.assertEqual(author.hex() if author else None, r["author"])
                self.assertEqual(entry.author.nonce if entry.author else None, r["nonce"])
                if old is not None and old.size == trusted.size:
                    # the client moves its trust to the record's checkpoint
                    self.assertEqual(Checkpoint.parse(rec.checkpoint).to_text(), FIX["latest"])
        self.assertTrue(any(r["author"] for r in FIX["records"]))
        nonces = [r["nonce"] for r in FIX["records"] if r["nonce"] is not None]
        self.assertTrue(nonces, "signed records carry nonces (flag 3)")
        self.assertTrue(any(r["trusted"] is None for r in FIX["records"]))

    def test_tampered_records_are_refused_for_rusts_reason(self):
        self.assertGreaterEqual(len(FIX["tampered"]), 10)
        for r in FIX["tampered"]:
            with self.subTest(r["name"]):
                rec, old = record(r)
                with self.assertRaises(VerifyError) as e:
                    verify_record(rec, old, FIX["instance_key"])
                self.assertEqual(e.exception.reason, r["reason"])
                self.assertEqual(str(e.exception), r["error"])

    def test_entries_decode_as_in_rust(self):
        for case in FIX["entries"]:
            with self.subTest(case["name"]):
                data = bytes.fromhex(case["hex"])
                if case["error"] is not None:
                    with self.assertRaises(EntryError) as e:
                        Entry.decode(data)
                    self.assertEqual((e.exception.kind, str(e.exception)),
                                     (case["kind"], case["error"]))
                    continue
                entry = Entry.decode(data)
                f = case["fields"]
                got = dict(seq=entry.seq, time_ms=entry.time_ms, op=int(entry.op),
                           namespace=entry.namespace.hex(), collection=entry.collection.hex(),
                           object_id=entry.object_id, schema_hash=entry.schema_hash.hex(),
                           value_hash=entry.value_hash.hex(), value_len=entry.value_len,
                           author_key=entry.author.key.hex() if entry.author else None,
                           author_nonce=entry.author.nonce if entry.author else None)
                self.assertEqual(got, f)
                self.assertEqual(entry.encode(), data)
                self.assertEqual(entry.signed_payload(FIX["instance_key"]).hex(), case["payload"])
                if case["author_ok"]:
                    entry.verify_author(FIX["instance_key"])
                else:
                    with self.assertRaises(SignatureError):
                        entry.verify_author(FIX["instance_key"])
        names = {c["name"]: c for c in FIX["entries"]}
        self.assertTrue(names["legacy flag 1 signature"]["author_ok"])
        for refused in ("signed for another instance", "author's nonce changed"):
            self.assertFalse(names[refused]["author_ok"], refused)

    def test_author_keys_are_points_as_in_rust(self):
        for case in FIX["points"]:
            self.assertEqual(is_point(bytes.fromhex(case["key"])), case["valid"], case["key"])

    def test_checkpoints_parse_and_verify_as_in_rust(self):
        for case in FIX["checkpoints"]:
            with self.subTest(case["name"]):
                if case["error"] is None:
                    cp = Checkpoint.parse(case["text"])
                    cp.verify(FIX["instance_key"])
                    self.assertEqual((cp.size, cp.root.hex(), cp.time_ms),
                                     (case["size"], case["root"], case["time_ms"]))
                    continue
                with self.assertRaises(CheckpointError) as e:
                    Checkpoint.parse(case["text"]).verify(FIX["instance_key"])
                self.assertEqual((e.exception.kind, str(e.exception)),
                                 (case["kind"], case["error"]))

    def test_proof_encodings_decode_as_in_rust(self):
        for case in FIX["proofs"]:
            data = bytes.fromhex(case["hex"])
            if case["error"] is None:
                self.assertEqual(decode_proof(data), unhex(case["hashes"]))
            else:
                with self.assertRaises(BcdbError) as e:
                    decode_proof(data)
                self.assertEqual(str(e.exception), case["error"])


if __name__ == "__main__":
    unittest.main()
