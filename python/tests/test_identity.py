"""Identities against Rust's: the seed, mnemonic and JSON key file the fixture holds must
give the same public key, the auth signature must be the very bytes Rust's key signs
(ed25519 is deterministic), and a change signature must verify as an entry's author. The
BIP-39 word list comes from the fixture (Rust rebuilt it with `Mnemonic::from_seed`)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import unittest
from pathlib import Path

from support import FIXTURE_VAR, fixture
from bcdb_client.entry import Entry, Op, change_payload
from bcdb_client.identity import Identity, IdentityError, mnemonic_to_seed, seed_to_mnemonic
from bcdb_client.keys import payload

FIX = fixture()


class WithoutFixture(unittest.TestCase):
    def test_seed_length_and_no_secret_in_repr(self):
        with self.assertRaises(IdentityError):
            Identity(b"\0" * 31)
        ident = Identity.from_seed(b"\x11" * 32)
        self.assertNotIn("11" * 8, repr(ident))
        self.assertEqual(len(ident.sign(b"x")), 64)

    def test_a_mnemonic_needs_a_word_list(self):
        saved = os.environ.pop("BCDB_BIP39_WORDLIST", None)
        try:
            with self.assertRaises(IdentityError) as e:
                mnemonic_to_seed("abandon " * 24)
            self.assertEqual(e.exception.kind, "wordlist")
        finally:
            if saved is not None:
                os.environ["BCDB_BIP39_WORDLIST"] = saved

    def test_raw_seed_files_and_their_permissions(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "seed"
            path.write_bytes(b"\x22" * 32)
            path.chmod(0o644)
            with self.assertRaises(IdentityError) as e:
                Identity.from_key_file(path)
            self.assertEqual(e.exception.kind, "permissions")
            path.chmod(0o600)
            self.assertEqual(Identity.from_key_file(path).seed, b"\x22" * 32)


class Nonces(unittest.TestCase):
    def test_nonces_increase_and_start_at_the_clock(self):
        ident = Identity.from_seed(b"\x11" * 32)
        self.assertEqual(ident.last_nonce, 0)
        before = time.time_ns() // 1000
        got = [ident.next_nonce() for _ in range(1000)]
        self.assertGreaterEqual(got[0], before)
        self.assertTrue(all(a < b for a, b in zip(got, got[1:])), "strictly increasing")
        self.assertEqual(ident.last_nonce, got[-1])

    def test_a_reported_nonce_raises_the_floor_never_lowers_it(self):
        ident = Identity.from_seed(b"\x11" * 32)
        far = time.time_ns() // 1000 + 10**12
        ident.saw_nonce(far)
        self.assertEqual(ident.next_nonce(), far + 1)
        ident.saw_nonce(5)
        self.assertEqual(ident.next_nonce(), far + 2)
        ident.saw_nonce((1 << 64) - 1)
        with self.assertRaises(IdentityError) as e:
            ident.next_nonce()
        self.assertEqual(e.exception.kind, "nonce")

    def test_threads_never_share_a_nonce(self):
        ident = Identity.from_seed(b"\x11" * 32)
        got: list[int] = []

        def take():
            mine = [ident.next_nonce() for _ in range(500)]
            got.extend(mine)

        threads = [threading.Thread(target=take) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(set(got)), 2000)

    def test_change_signatures_cover_the_instance_the_nonce_and_the_normal_namespace(self):
        ident = Identity.from_seed(b"\x11" * 32)
        instance = Identity.from_seed(b"\x12" * 32).public_key
        author = ident.sign_change(instance, "3", b"u.1", 0, Op.CREATE, bytes(32), bytes(32), 9)
        self.assertEqual(author.nonce, 9)
        signed = change_payload(instance, b"db3", b"u.1", 0, Op.CREATE, bytes(32), bytes(32), 9)
        self.assertEqual(author.signature, ident.sign(signed))
        auto = ident.sign_change(instance, b"0", b"u.1", 0, Op.CREATE, bytes(32), bytes(32))
        self.assertEqual(auto.nonce, ident.last_nonce)
        self.assertEqual(auto.signature, ident.sign(change_payload(
            instance, b"default", b"u.1", 0, Op.CREATE, bytes(32), bytes(32), auto.nonce)))


@unittest.skipUnless(FIX, f"{FIXTURE_VAR} is not set (cargo test -p bcdb --test python_client)")
class RustIdentity(unittest.TestCase):
    def setUp(self):
        self.v = FIX["identity"]
        self.words = self.v["wordlist"]

    def test_seed_gives_rusts_public_key(self):
        ident = Identity.from_seed(bytes.fromhex(self.v["seed"]))
        self.assertEqual(ident.public_hex, self.v["public"])

    def test_mnemonic_round_trip(self):
        seed = bytes.fromhex(self.v["seed"])
        self.assertEqual(mnemonic_to_seed(self.v["phrase"].upper(), self.words), seed)
        self.assertEqual(seed_to_mnemonic(seed, self.words), self.v["phrase"])
        self.assertEqual(mnemonic_to_seed(" ".join(["abandon"] * 23 + ["art"]), self.words),
                         bytes(32))
        words = self.v["phrase"].split()
        words[-1] = self.words[self.words.index(words[-1]) ^ 1]
        with self.assertRaises(IdentityError) as e:
            mnemonic_to_seed(" ".join(words), self.words)
        self.assertIn("checksum", str(e.exception))
        with self.assertRaises(IdentityError):
            mnemonic_to_seed(" ".join(words[:23]), self.words)

    def test_json_key_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "identity.json"
            path.write_text(self.v["key_file"])
            path.chmod(0o600)
            ident = Identity.from_key_file(path, wordlist=self.words)
            self.assertEqual((ident.public_hex, ident.threebot_id),
                             (self.v["public"], self.v["threebot_id"]))
            list_path = Path(tmp) / "english.txt"
            list_path.write_text("\n".join(self.words) + "\n")
            os.environ["BCDB_BIP39_WORDLIST"] = str(list_path)
            try:
                self.assertEqual(Identity.from_key_file(path).public_hex, self.v["public"])
            finally:
                del os.environ["BCDB_BIP39_WORDLIST"]

    def test_signatures_are_rusts(self):
        ident = Identity.from_seed(bytes.fromhex(self.v["seed"]))
        nonce = bytes.fromhex(self.v["nonce"])
        auth = payload("bcdb-auth", nonce, bytes.fromhex(FIX["instance_key"]))
        self.assertEqual(auth.hex(), self.v["auth_payload"])
        self.assertEqual(ident.auth_signature(nonce, FIX["instance_key"]).hex(),
                         self.v["auth_signature"])
        # a change signature is Rust's (Entry::change_payload signed by the same key) and
        # the one the entry layer verifies
        change = self.v["change"]
        value_hash = bytes.fromhex(change["value_hash"])
        author = ident.sign_change(FIX["instance_key"], b"grid", b"tfgrid.directory.farm.1", 0,
                                   Op.CREATE, b"\x01" * 32, value_hash, change["nonce"])
        self.assertEqual(author.signature.hex(), change["signature"])
        payload_ = change_payload(bytes.fromhex(FIX["instance_key"]), b"grid",
                                  b"tfgrid.directory.farm.1", 0, Op.CREATE, b"\x01" * 32,
                                  value_hash, change["nonce"])
        self.assertEqual(payload_.hex(), change["payload"])
        entry = Entry(1, 2, Op.CREATE, b"grid", b"tfgrid.directory.farm.1", 9, b"\x01" * 32,
                      value_hash, 5, author)
        self.assertEqual(entry.verify_author(FIX["instance_key"]).hex(), self.v["public"])


if __name__ == "__main__":
    unittest.main()
