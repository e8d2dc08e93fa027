"""The trust store shared by several clients (no fixture needed: fake_ledger.py builds the
ledger): the file never goes backwards, whichever store saves last; a store whose
checkpoint is behind the file's adopts the file's and proves the record again from it; a
fork of the same size or a fork the server cannot prove consistent is refused; writes leave
no temporary files behind."""

from __future__ import annotations

import json
import tempfile
import threading
import unittest
from pathlib import Path

from fake_ledger import FakeLedger, FakeServer
from bcdb_client.checkpoint import Checkpoint
from bcdb_client.errors import ServerError, VerifyError
from bcdb_client.ledger import VerifiedRecord
from bcdb_client.proof import decode_proof
from bcdb_client.verified import CheckpointCache, TrustStore, VerifiedClient

NS = b"ns"


def on_disk(path: Path) -> int:
    """The size of the checkpoint the trust file holds."""
    return Checkpoint.parse(json.loads(path.read_text())["checkpoint"]).size


def record(reply) -> VerifiedRecord:
    entry, value, index, inclusion, consistency, cp = reply
    return VerifiedRecord(entry, value, index, decode_proof(inclusion),
                          decode_proof(consistency), Checkpoint.parse(cp))


class SharedFile(unittest.TestCase):
    def setUp(self):
        self.ledger = FakeLedger()
        for i in range(1, 3):
            self.ledger.append(NS, i, b"v%d" % i)
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "trust.json"
        self.key = self.ledger.instance_key
        self.growing = threading.Lock()  # threads that grow at once must not repeat an id

    def tearDown(self):
        self.dir.cleanup()

    def client(self, shown=None, ledger=None) -> VerifiedClient:
        return VerifiedClient(FakeServer(ledger or self.ledger, NS, shown), self.path, self.key)

    def grow(self, to: int) -> None:
        """Appends objects size+1, size+2, ... until the ledger holds `to` entries."""
        with self.growing:
            while self.ledger.size < to:
                self.ledger.append(NS, self.ledger.size + 1, b"v%d" % (self.ledger.size + 1))

    def test_a_store_behind_the_file_cannot_roll_it_back(self):
        a, b = self.client(), self.client()
        a.vget(1)
        self.assertEqual(on_disk(self.path), 2)
        b.store.reload()
        self.grow(4)
        # b proves a record against 2 up to 4; a meanwhile moves the file to 6
        late = record(self.ledger.vget(NS, 3, 2))
        self.assertEqual(late.checkpoint.size, 4)
        self.grow(6)
        a.vget(5)
        self.assertEqual(on_disk(self.path), 6)
        with self.assertRaises(VerifyError) as e:
            b.check(late, 3)
        self.assertEqual(e.exception.kind, "trust_moved")
        self.assertEqual(on_disk(self.path), 6, "the older checkpoint was not written")
        self.assertEqual(b.trusted.size, 6, "b now trusts the file's checkpoint")
        # vget fetches again against the file's size and moves on from there
        self.grow(8)
        self.assertEqual(b.vget(3).entry.object_id, 3)
        self.assertEqual(b.client.asked[-1], ("LEDGER.VGET", 3, 6))
        self.assertEqual((on_disk(self.path), a.trusted.size), (8, 6))

    def test_vget_retries_against_a_file_moved_since_its_fetch(self):
        a, b = self.client(), self.client()
        a.vget(1)
        b.store.reload()
        self.grow(5)
        server = b.client
        real_call = server.call

        def call_then_move(*args):
            reply = real_call(*args)
            if len(server.asked) == 1:  # between b's first fetch and its save
                self.grow(7)
                a.vget(6)
            return reply

        server.call = call_then_move
        got = b.vget(4)
        self.assertEqual(got.entry.object_id, 4)
        self.assertEqual([q[2] for q in server.asked], [2, 7], "fetched again from 7")
        self.assertEqual((on_disk(self.path), b.trusted.size), (7, 7))

    def test_a_lagging_server_cannot_move_the_file_back(self):
        a = self.client()
        self.grow(6)
        a.vget(5)
        lagging = self.client(shown=4)
        self.assertEqual(lagging.trusted.size, 6)
        with self.assertRaises(ServerError):
            lagging.vget(3)  # LEDGER.VGET 3 6 against a server at 4
        self.assertEqual(on_disk(self.path), 6)

    def test_a_fork_of_the_same_size_is_refused(self):
        a = self.client()
        self.grow(4)
        a.vget(4)
        fork = FakeLedger(seed=b"\x04" * 32)  # the same instance key, another history
        for i in range(1, 5):
            fork.append(NS, i, b"forked %d" % i)
        other = TrustStore(self.path, self.key, CheckpointCache())
        with self.assertRaises(VerifyError) as e:
            other.save(fork.checkpoint(4), base=None)
        self.assertEqual(e.exception.reason, "inconsistent/root_mismatch")
        self.assertEqual(json.loads(self.path.read_text())["checkpoint"],
                         self.ledger.checkpoint(4).to_text())

    def test_a_longer_fork_is_proven_against_the_file_and_refused(self):
        b = VerifiedClient(None, self.path, self.key)  # trusts nothing yet
        self.grow(4)
        self.client().vget(4)
        fork = FakeLedger(seed=b"\x04" * 32)
        for i in range(1, 6):
            fork.append(NS, i, b"forked %d" % i)
        b.client = FakeServer(fork, NS)
        with self.assertRaises(VerifyError) as e:
            b.vget(5)
        self.assertEqual(e.exception.reason, "inconsistent/root_mismatch")
        self.assertEqual([q[2] for q in b.client.asked], [0, 4])
        self.assertEqual(on_disk(self.path), 4)

    def test_many_stores_on_one_file_only_ever_move_it_forward(self):
        written: list[int] = []
        real_write = TrustStore._write

        def logged(store, cp):  # runs under the lock: the log is the file's history
            written.append(cp.size)
            real_write(store, cp)

        TrustStore._write = logged
        self.addCleanup(setattr, TrustStore, "_write", real_write)
        errors: list[BaseException] = []
        trusted: list[int] = []
        round_trips: list[int] = []

        def reader(n: int) -> None:
            try:
                v = self.client()
                for i in range(12):
                    self.grow(self.ledger.size + 1)
                    before = len(v.client.asked)
                    got = v.vget(1 + (n + i) % self.ledger.size)
                    self.assertIsNotNone(got, "every object up to the ledger's size exists")
                    round_trips.append(len(v.client.asked) - before)
                    trusted.append(v.trusted.size)
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertLessEqual(max(round_trips), 2, "a lost race is retried once, under the lock")
        self.assertTrue(written, "the file was written")
        self.assertEqual(written, sorted(written), "every write is at least the one before")
        self.assertEqual(on_disk(self.path), written[-1])
        self.assertGreaterEqual(on_disk(self.path), max(trusted))
        self.assertEqual(sorted(p.name for p in self.path.parent.iterdir()),
                         ["trust.json", "trust.json.lock"], "no temporary file is left")

    def test_equal_trees_are_not_written_again_and_files_are_private(self):
        a, b = self.client(), self.client()
        a.vget(1)
        b.vget(2)  # the same checkpoint: already on disk
        self.assertEqual((a.store.n_written, b.store.n_written), (1, 0))
        self.assertEqual(self.path.stat().st_mode & 0o777, 0o600)


if __name__ == "__main__":
    unittest.main()
