"""Entries, signing payloads, checkpoints and `verify_record` on their own: the layout
pinned in entry.rs, strict decoding, author signatures, checkpoint text, and a small
ledger built here with PyNaCl keys."""

from __future__ import annotations

import hashlib
import unittest

import support  # noqa: F401  (import path)
from nacl.signing import SigningKey

from bcdb_client.checkpoint import Checkpoint
from bcdb_client.entry import Author, Entry, Op, author_payload, change_payload, value_hash
from bcdb_client.errors import CheckpointError, EntryError, SignatureError, VerifyError
from bcdb_client.keys import is_point, parse_public_key, payload, verify_signature
from bcdb_client.ledger import VerifiedRecord, verify_record
from bcdb_client.proof import leaf_hash, node_hash

# SHA-256 of entry.rs's `sample(None).encode()`, pinned there when the layout was fixed.
PINNED = "8da1334b780557fc769454c4dfc1b7b96296ed28679e70e7f963dd6e94ae811d"


def sample(author=None, op=Op.PUT):
    return Entry(7, 1_700_000_000_123, op, b"grid", b"tfgrid.directory.farm.1", 42,
                 bytes([1] * 32), value_hash(b'{"name":"farm"}'), 15, author)


INSTANCE = bytes(SigningKey(bytes([6] * 32)).verify_key)


def signed(key: SigningKey, entry: Entry, nonce: int | None = 7) -> Entry:
    """`entry` signed by `key` for INSTANCE with `nonce` (None: the first form, flag 1)."""
    unsigned = Entry(**{**entry.__dict__, "author": Author(bytes(key.verify_key), b"", nonce)})
    sig = key.sign(unsigned.signed_payload(INSTANCE)).signature
    return Entry(**{**entry.__dict__, "author": Author(bytes(key.verify_key), sig, nonce)})


class Payloads(unittest.TestCase):
    def test_layout(self):
        self.assertEqual(payload("t", b"ab", 1),
                         b"tfgrid/v1/t\0" + bytes([2, 0, 0, 0]) + b"ab" + bytes([8, 0, 0, 0, 1])
                         + bytes(7))
        self.assertNotEqual(payload("t", b"ab", b"c"), payload("t", b"a", b"bc"))
        with self.assertRaises(ValueError):
            payload("a\0b")

    def test_rfc8032_vector_1(self):
        key = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb"
                            "8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        self.assertTrue(verify_signature(key, b"", sig))
        self.assertFalse(verify_signature(key, b"x", sig))
        self.assertFalse(verify_signature(key, b"", sig[:63]))

    def test_keys(self):
        key = bytes(SigningKey(bytes([5] * 32)).verify_key)
        self.assertEqual(parse_public_key(key.hex()), key)
        self.assertEqual(parse_public_key(" " + key.hex().upper() + "\n"), key)
        for bad in ("zz", "ab" * 31, "", "0O"):
            with self.assertRaises(ValueError):
                parse_public_key(bad)
        self.assertTrue(is_point(bytes(32)))  # y = 0 is on the curve
        self.assertFalse(is_point(bytes(31)))


class Entries(unittest.TestCase):
    def test_the_layout_is_pinned(self):
        data = sample().encode()
        self.assertEqual(len(data), 103 + 4 + 23)
        self.assertEqual(data[18:24], b"\x04\x00grid")
        self.assertEqual(hashlib.sha256(data).hexdigest(), PINNED)
        self.assertEqual(Entry.decode(data), sample())

    def test_every_cut_and_edit_is_refused(self):
        data = sample().encode()
        for cut in range(len(data)):
            with self.assertRaises(EntryError):
                Entry.decode(data[:cut])
        cases = [(data + b"\0", "trailing", "1 bytes after the end of the entry"),
                 (b"\x09" + data[1:], "version", "unknown entry version 9"),
                 (data[:17] + b"\x4d" + data[18:], "op", "unknown entry op 77"),
                 (data[:-1] + b"\x04", "bad", "author flag 4"),
                 (data[:-1] + b"\x03", "truncated", f"entry truncated at byte {len(data)}"),
                 (data[:-1] + b"\x02", "truncated", f"entry truncated at byte {len(data)}"),
                 (data[:18] + b"\x00\x00" + data[24:], "bad", "empty namespace"),
                 (data[:18] + b"\x00\x01" + data[20:], "bad",
                  "namespace of 256 bytes (at most 255)"),
                 (data[:9], "truncated", "entry truncated at byte 9")]
        for bad, kind, message in cases:
            with self.assertRaises(EntryError) as e:
                Entry.decode(bad)
            self.assertEqual((e.exception.kind, str(e.exception)), (kind, message))

    def test_attested_keys(self):
        # flag 2: an authenticated session's key, attested by the instance, no signature
        key = bytes(SigningKey(bytes([4] * 32)).verify_key)
        entry = Entry(**{**sample().__dict__, "attested": key})
        data = entry.encode()
        self.assertEqual(data[-33:], b"\x02" + key)
        back = Entry.decode(data)
        self.assertEqual((back, back.principal, back.verify_author(key)), (entry, key, None))
        self.assertIsNone(sample().principal)

    def test_author_signatures(self):
        key = SigningKey(bytes([3] * 32))
        entry = signed(key, sample())
        data = entry.encode()
        # flag 3: key, u64 LE nonce, signature
        self.assertEqual(len(data), len(sample().encode()) + 32 + 8 + 64)
        self.assertEqual(data[-105:-104], b"\x03")
        self.assertEqual(data[-72:-64], (7).to_bytes(8, "little"))
        back = Entry.decode(data)
        self.assertEqual(back, entry)
        self.assertEqual(back.author.nonce, 7)
        self.assertEqual(back.verify_author(INSTANCE), bytes(key.verify_key))
        self.assertIsNone(sample().verify_author(INSTANCE))
        # the ledger-assigned seq and time are not covered; the value hash is
        moved = Entry(**{**back.__dict__, "seq": 99, "time_ms": 1})
        moved.verify_author(INSTANCE)
        forged = Entry(**{**back.__dict__, "value_hash": bytes(32)})
        with self.assertRaises(SignatureError):
            forged.verify_author(INSTANCE)
        # a creation is signed with object id 0
        create = sample(op=Op.CREATE)
        sig = key.sign(change_payload(INSTANCE, create.namespace, create.collection, 0,
                                      Op.CREATE, create.schema_hash, create.value_hash,
                                      9)).signature
        Entry(**{**create.__dict__, "author": Author(bytes(key.verify_key), sig, 9)}
              ).verify_author(INSTANCE)
        # a key that is not a curve point does not decode
        bad_key = next(bytes([b] * 32) for b in range(256) if not is_point(bytes([b] * 32)))
        with self.assertRaises(EntryError) as e:
            Entry.decode(data[:-104] + bad_key + data[-72:])
        self.assertEqual(str(e.exception), "author key is not an ed25519 point")

    def test_a_signature_is_bound_to_its_instance_and_nonce(self):
        key = SigningKey(bytes([3] * 32))
        back = Entry.decode(signed(key, sample()).encode())
        elsewhere = bytes(SigningKey(bytes([8] * 32)).verify_key)
        with self.assertRaises(SignatureError):
            back.verify_author(elsewhere)
        renonced = Entry(**{**back.__dict__, "author": Author(back.author.key,
                                                              back.author.signature, 8)})
        with self.assertRaises(SignatureError):
            renonced.verify_author(INSTANCE)
        # the payload: bcdb-change-2, instance, ns, collection, id, op, hashes, nonce
        self.assertEqual(back.signed_payload(INSTANCE),
                         payload("bcdb-change-2", INSTANCE, b"grid", b"tfgrid.directory.farm.1",
                                 42, b"\x01", bytes([1] * 32), back.value_hash, 7))

    def test_first_form_signatures_still_verify(self):
        # flag 1: key and signature over author_payload, no nonce, no instance
        key = SigningKey(bytes([3] * 32))
        old = signed(key, sample(), nonce=None)
        data = old.encode()
        self.assertEqual(data[-97:-96], b"\x01")
        back = Entry.decode(data)
        self.assertEqual((back, back.author.nonce), (old, None))
        self.assertEqual(back.signed_payload(INSTANCE), author_payload(
            b"grid", b"tfgrid.directory.farm.1", 42, Op.PUT, bytes([1] * 32), back.value_hash))
        for instance in (INSTANCE, bytes(SigningKey(bytes([8] * 32)).verify_key)):
            self.assertEqual(back.verify_author(instance), bytes(key.verify_key))
        forged = Entry(**{**back.__dict__, "object_id": 43})
        with self.assertRaises(SignatureError):
            forged.verify_author(INSTANCE)


class Checkpoints(unittest.TestCase):
    key = SigningKey(bytes([1] * 32))

    def make(self, size, root, key=None, origin="bcdb/test/grid"):
        key = key or self.key
        body = f"{origin}\n{size}\n{root.hex()}\n1700000000000\n"
        sig = key.sign(payload("bcdb-checkpoint", body.encode())).signature
        return Checkpoint(origin, size, root, 1_700_000_000_000, bytes(key.verify_key), sig)

    def test_print_parse_verify(self):
        cp = self.make(42, bytes([7] * 32))
        text = cp.to_text()
        self.assertTrue(text.startswith("bcdb/test/grid\n42\n0707"))
        self.assertIn("\n\n— ", text)
        back = Checkpoint.parse(text)
        self.assertEqual(back, cp)
        back.verify(bytes(self.key.verify_key))
        back.verify(bytes(self.key.verify_key).hex())
        other = bytes(SigningKey(bytes([2] * 32)).verify_key)
        with self.assertRaises(CheckpointError) as e:
            back.verify(other)
        self.assertEqual(e.exception.kind, "wrong_signer")
        forged = Checkpoint.parse(text.replace("\n42\n", "\n43\n"))
        with self.assertRaises(CheckpointError) as e:
            forged.verify(bytes(self.key.verify_key))
        self.assertEqual(e.exception.kind, "bad_signature")
        for broken in ["", "a\n1\n", text.replace("\n\n", "\n"), text.replace("— ", "-- "),
                       text.replace("\n42\n", "\n٤٢\n"), "x" * 800]:
            with self.assertRaises(CheckpointError) as e:
                Checkpoint.parse(broken)
            self.assertEqual(e.exception.kind, "malformed")


class Records(unittest.TestCase):
    """A three-leaf ledger built by hand, checked the way a client checks a server."""

    key = SigningKey(bytes([4] * 32))

    def setUp(self):
        self.values = [b"v0", b"v1", b"v2"]
        self.entries = [Entry(i, 1000 + i, Op.CREATE, b"ns", b"", i + 1, bytes(32),
                              value_hash(v), len(v)).encode() for i, v in enumerate(self.values)]
        l0, l1, l2 = (leaf_hash(e) for e in self.entries)
        self.cp2 = Checkpoints.make(Checkpoints(), 2, node_hash(l0, l1), self.key)
        self.cp3 = Checkpoints.make(Checkpoints(), 3, node_hash(node_hash(l0, l1), l2), self.key)
        self.levels = (l0, l1, l2)

    def record(self, index=2, **changes):
        l0, l1, l2 = self.levels
        inclusion = {0: [l1, l2], 1: [l0, l2], 2: [node_hash(l0, l1)]}[index]
        fields = dict(entry=self.entries[index], value=self.values[index], index=index,
                      inclusion=inclusion, consistency=[l2], checkpoint=self.cp3.to_text())
        fields.update(changes)
        return VerifiedRecord(**fields)

    def refused(self, record, trusted=None):
        with self.assertRaises(VerifyError) as e:
            verify_record(record, trusted, bytes(self.key.verify_key))
        return e.exception.reason

    def test_good_records_verify(self):
        instance = bytes(self.key.verify_key)
        for index in range(3):
            entry = verify_record(self.record(index), self.cp2, instance)
            self.assertEqual((entry.seq, entry.object_id), (index, index + 1))
        verify_record(self.record(consistency=[]), None, instance)
        verify_record(self.record(consistency=[], checkpoint=self.cp3), self.cp3, instance)

    def test_tampering_is_refused(self):
        l0, l1, l2 = self.levels
        self.assertEqual(self.refused(self.record(value=b"v3"), self.cp2), "value_mismatch")
        self.assertEqual(self.refused(self.record(index=1, inclusion=[l0]), self.cp2),
                         "not_included/too_short")
        self.assertEqual(self.refused(self.record(consistency=[l1]), self.cp2),
                         "inconsistent/root_mismatch")
        self.assertEqual(self.refused(self.record(checkpoint=self.cp2.to_text()), self.cp3),
                         "inconsistent/size_order")
        self.assertEqual(self.refused(self.record(checkpoint="junk")), "checkpoint/malformed")
        other = Checkpoints.make(Checkpoints(), 3, self.cp3.root, SigningKey(bytes([5] * 32)))
        self.assertEqual(self.refused(self.record(checkpoint=other)), "checkpoint/wrong_signer")


if __name__ == "__main__":
    unittest.main()
