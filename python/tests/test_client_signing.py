"""What the client sends for signed writes, and how it names namespaces, without a server:
`Scripted` is a `Client` whose commands go to `Signer`, which checks `SIG <key> <nonce>
<signature>` the way the spec says the server does (signature over `bcdb-change-2` for the
instance, the namespace as SELECT maps it, nonce above the key's last). Also: verified reads
in a numeric namespace, and the author check of a verified read."""

from __future__ import annotations

import json
import tempfile
import time
import unittest
from pathlib import Path

from fake_ledger import FakeLedger, FakeServer
from nacl.signing import SigningKey

from bcdb_client.client import BoundModel, Client
from bcdb_client.entry import Author, Op, change_payload, namespace_of, value_hash
from bcdb_client.errors import BcdbError, ServerError, VerifyError
from bcdb_client.identity import Identity
from bcdb_client.keys import payload, verify_signature
from bcdb_client.schema import parse

TEXT = "@url = test.sig.1\nname** = (S)\n"
INSTANCE = SigningKey(b"\x06" * 32)
INSTANCE_KEY = bytes(INSTANCE.verify_key)
FAR = time.time_ns() // 1000 + 10**12  # a nonce far above the clock's


class Signer:
    """The server's side of signed writes: nonces per key, ids, what it recorded."""

    def __init__(self, namespace: bytes):
        self.namespace, self.last, self.recorded, self.next_id = namespace, {}, [], 1
        self.model: BoundModel | None = None  # set by `bound`: its schema hash and encoding

    def __call__(self, *args):
        cmd = args[0]
        if cmd == "AUTH.NONCE":
            return self.last.get(args[1], 0)
        if cmd == "LEDGER.CHECKPOINT":
            body = "o\n0\n" + "00" * 32 + "\n1\n"
            sig = INSTANCE.sign(payload("bcdb-checkpoint", body.encode())).signature
            return f"{body}\n— {INSTANCE_KEY.hex()} {sig.hex()}\n".encode()
        assert args[-4] == "SIG", args
        key, nonce, sig = bytes.fromhex(args[-3]), int(args[-2]), bytes.fromhex(args[-1])
        url = args[1].encode()
        if cmd == "OBJ.DEL":
            object_id, op, schema, value = args[2], Op.DELETE, bytes(32), b""
        else:
            wire = args[2] if cmd == "OBJ.NEW" else args[3]
            object_id = 0 if cmd == "OBJ.NEW" else args[2]
            op = Op.CREATE if cmd == "OBJ.NEW" else Op.PUT
            schema = self.model.hash
            value = self.model.encode(self.model.new(**json.loads(wire)))[1]
        signed = change_payload(INSTANCE_KEY, self.namespace, url, object_id, op, schema,
                                value_hash(value), nonce)
        if not verify_signature(key, signed, sig):
            raise ServerError("author signature does not verify")
        last = self.last.get(key.hex(), 0)
        if nonce <= last:
            raise ServerError(f"nonce {nonce} is not above {last}, the last one this key "
                              "signed with")
        self.last[key.hex()] = nonce
        self.recorded.append((cmd, object_id, nonce))
        if cmd == "OBJ.NEW":
            self.next_id += 1
            return self.next_id - 1
        return 1


class Scripted(Client):
    """A `Client` whose commands go to `answer` (redis.Redis connects lazily: never here)."""

    def __init__(self, answer, **kwargs):
        super().__init__(**kwargs)
        self.answer, self.sent = answer, []

    def call(self, *args):
        self.sent.append(args)
        return self.answer(*args)


def bound(client: Client, server: Signer) -> BoundModel:
    schema = parse(TEXT)[0]
    client._remember(schema)
    server.model = BoundModel(client, schema)
    return server.model


class SignedWrites(unittest.TestCase):
    def setUp(self):
        self.ident = Identity.from_seed(b"\x21" * 32)
        self.server = Signer(b"db3")

    def client(self, ident=None, **kw) -> Scripted:
        kw.setdefault("instance_key", INSTANCE_KEY)
        return Scripted(self.server, namespace="3", identity=ident or self.ident, **kw)

    def test_create_update_delete_are_signed_for_the_instance_with_rising_nonces(self):
        self.server.last[self.ident.public_hex] = FAR
        db = self.client()
        model = bound(db, self.server)
        obj = model.new(name="a")
        obj.save()
        obj.name = "b"
        obj.save()
        self.assertTrue(obj.delete())
        self.assertEqual([s[0] for s in db.sent],
                         ["AUTH.NONCE", "OBJ.NEW", "OBJ.SET", "OBJ.DEL"],
                         "AUTH.NONCE once, before the first signed write")
        self.assertEqual(db.sent[1][3:5], ("SIG", self.ident.public_hex))
        nonces = [n for _, _, n in self.server.recorded]
        self.assertEqual(nonces, [FAR + 1, FAR + 2, FAR + 3])
        self.assertEqual([(c, i) for c, i, _ in self.server.recorded],
                         [("OBJ.NEW", 0), ("OBJ.SET", obj.id), ("OBJ.DEL", obj.id)])

    def test_without_an_instance_key_signatures_name_the_servers(self):
        db = self.client(instance_key=None)
        bound(db, self.server).new(name="a").save()
        self.assertEqual(db.signing_instance(), INSTANCE_KEY)
        self.assertEqual([s[0] for s in db.sent], ["AUTH.NONCE", "LEDGER.CHECKPOINT", "OBJ.NEW"])

    def test_a_stale_nonce_is_signed_again_above_the_servers(self):
        # two processes with the same key: b synced first, then a wrote far ahead
        a = self.client(Identity.from_seed(b"\x21" * 32))
        b = self.client()
        b.sync_nonce()
        a.identity.saw_nonce(FAR)
        bound(a, self.server).new(name="from a").save()
        bound(b, self.server).new(name="from b").save()
        new = [s for s in b.sent if s[0] == "OBJ.NEW"]
        self.assertEqual(len(new), 2, "refused once, then accepted")
        self.assertLess(int(new[0][-2]), FAR)
        self.assertEqual(int(new[1][-2]), FAR + 2)
        self.assertEqual([n for _, _, n in self.server.recorded], [FAR + 1, FAR + 2])

    def test_other_refusals_are_not_retried(self):
        db = self.client()
        model = bound(db, self.server)

        def deny(*args):
            if args[0] == "AUTH.NONCE":
                return 0
            raise ServerError("permission denied: a needs 'w' on ns db3")

        db.answer = deny
        with self.assertRaises(ServerError):
            model.new(name="a").save()
        self.assertEqual([s[0] for s in db.sent], ["AUTH.NONCE", "OBJ.NEW"])

    def test_the_signature_covers_the_selected_namespace(self):
        for given in ("3", "03", "db3", b"3"):
            with self.subTest(given=given):
                server = Signer(b"db3")
                db = Scripted(server, namespace=given, identity=self.ident,
                              instance_key=INSTANCE_KEY)
                bound(db, server).new(name="a").save()
                self.assertEqual(len(server.recorded), 1)
        other = Signer(b"3")  # a server that took "3" literally would refuse it
        db = Scripted(other, namespace="3", identity=self.ident, instance_key=INSTANCE_KEY)
        with self.assertRaises(ServerError):
            bound(db, other).new(name="a").save()


class Namespaces(unittest.TestCase):
    def test_select_numbers_are_databases(self):
        cases = {"0": b"default", "00": b"default", "1": b"db1", "007": b"db7",
                 "18446744073709551615": b"db18446744073709551615", "db2": b"db2",
                 "default": b"default", "a1": b"a1", "1" * 21: b"1" * 21, "x" * 255: b"x" * 255}
        for given, want in cases.items():
            self.assertEqual(namespace_of(given), want, given)
            self.assertEqual(Client(namespace=given).namespace, want, given)
        for bad, message in (("18446744073709551616", "DB index is out of range"),
                             ("", "a namespace name has 1 to 255 bytes"),
                             ("x" * 256, "a namespace name has 1 to 255 bytes")):
            with self.assertRaises(BcdbError) as e:
                namespace_of(bad)
            self.assertEqual(str(e.exception), message)

    def test_verified_reads_in_a_numeric_namespace(self):
        ledger = FakeLedger(seed=b"\x06" * 32)
        ledger.append(b"db5", 1, b"five")
        ledger.append(b"default", 2, b"zero")
        with tempfile.TemporaryDirectory() as tmp:
            for given in ("5", "db5"):
                server = FakeServer(ledger, namespace_of(given))
                db = Scripted(server.call, namespace=given)
                v = db.verified(Path(tmp) / f"{given}.json", INSTANCE_KEY)
                self.assertEqual(v.vget(1).entry.namespace, b"db5")
            # an entry of another namespace is still refused
            db = Scripted(FakeServer(ledger, b"default").call, namespace="5")
            with self.assertRaises(VerifyError) as e:
                db.verified(Path(tmp) / "x.json", INSTANCE_KEY).vget(2)
            self.assertEqual(e.exception.kind, "wrong_entry")
            db = Scripted(FakeServer(ledger, b"default").call, namespace="0")
            self.assertEqual(db.verified(Path(tmp) / "0.json", INSTANCE_KEY).vget(2).value,
                             b"zero")


class AuthorChecks(unittest.TestCase):
    def test_verified_reads_check_the_author_for_this_instance(self):
        ledger = FakeLedger(seed=b"\x06" * 32)
        author = SigningKey(b"\x22" * 32)

        def sign(instance: bytes, value: bytes, nonce: int) -> Author:
            message = change_payload(instance, b"ns", b"", 0, Op.CREATE, bytes(32),
                                     value_hash(value), nonce)
            return Author(bytes(author.verify_key), author.sign(message).signature, nonce)

        ledger.append(b"ns", 1, b"good", author=sign(INSTANCE_KEY, b"good", 5))
        elsewhere = bytes(SigningKey(b"\x23" * 32).verify_key)
        ledger.append(b"ns", 2, b"replayed", author=sign(elsewhere, b"replayed", 6))
        with tempfile.TemporaryDirectory() as tmp:
            v = Scripted(FakeServer(ledger).call, namespace="ns").verified(
                Path(tmp) / "t.json", INSTANCE_KEY)
            self.assertEqual(v.vget(1).entry.author.nonce, 5)
            with self.assertRaises(VerifyError) as e:
                v.vget(2)
            self.assertEqual(e.exception.reason, "author/bad_signature")
            lax = Scripted(FakeServer(ledger).call, namespace="ns").verified(
                Path(tmp) / "t.json", INSTANCE_KEY, check_authors=False)
            self.assertEqual(lax.vget(2).value, b"replayed")


if __name__ == "__main__":
    unittest.main()
