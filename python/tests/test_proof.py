"""RFC 9162 verifiers against the transparency-dev known answers (the values in
crates/bcdb/tests/merkle/vectors.rs), the proof wire form, and hostile input."""

import unittest

import support  # noqa: F401  (import path)
from fake_ledger import mth, path, subproof
from bcdb_client.errors import CodecError, ProofError
from bcdb_client.proof import (decode_proof, empty_root, encode_proof, leaf_hash,
                               root_from_inclusion_proof, verify_consistency, verify_inclusion)

LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
          "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
N0 = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
      "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"]
N1 = ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"]
N2 = ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]
INCLUSION = [(0, 1, []), (0, 8, [N0[1], N1[1], N2[1]]), (5, 8, [N0[4], N1[3], N2[0]]),
             (2, 3, [N1[0]]), (1, 5, [N0[0], N1[1], N0[4]])]
CONSISTENCY = [(1, 1, []), (1, 8, [N0[1], N1[1], N2[1]]), (6, 8, [N1[2], N1[3], N2[0]]),
               (2, 5, [N1[1], N0[4]]), (6, 7, [N1[2], N0[6], N2[0]])]


def h(x: str) -> bytes:
    return bytes.fromhex(x)


class KnownAnswers(unittest.TestCase):
    leaves = [h(x) for x in LEAVES]

    def test_roots(self):
        for n, root in enumerate(ROOTS, 1):
            self.assertEqual(mth(self.leaves[:n]).hex(), root)
        self.assertEqual([leaf_hash(x).hex() for x in self.leaves], N0)

    def test_inclusion_vectors(self):
        for index, size, proof in INCLUSION:
            leaf, root = leaf_hash(self.leaves[index]), h(ROOTS[size - 1])
            verify_inclusion(leaf, index, size, [h(p) for p in proof], root)
            if proof:
                broken = [h(p) for p in proof]
                broken[0] = bytes([broken[0][0] ^ 1]) + broken[0][1:]
                with self.assertRaises(ProofError) as e:
                    verify_inclusion(leaf, index, size, broken, root)
                self.assertEqual(e.exception.kind, "root_mismatch")

    def test_consistency_vectors(self):
        for old, new, proof in CONSISTENCY:
            verify_consistency(old, new, h(ROOTS[old - 1]), h(ROOTS[new - 1]),
                               [h(p) for p in proof])
            if old < new:
                with self.assertRaises(ProofError):
                    verify_consistency(old, new, h(ROOTS[old - 1]), h(ROOTS[new - 2]),
                                       [h(p) for p in proof])

    def test_every_proof_of_the_8_leaf_tree(self):
        for n in range(1, 9):
            root = mth(self.leaves[:n])
            for m in range(n):
                verify_inclusion(leaf_hash(self.leaves[m]), m, n, path(m, self.leaves[:n]), root)
                for wrong in (m + 1, n + 1):
                    if wrong != m and wrong < n:
                        with self.assertRaises(ProofError):
                            verify_inclusion(leaf_hash(self.leaves[m]), wrong, n,
                                             path(m, self.leaves[:n]), root)
            for old in range(1, n + 1):
                proof = subproof(old, self.leaves[:n], True) if old < n else []
                verify_consistency(old, n, mth(self.leaves[:old]), root, proof)


class Refusals(unittest.TestCase):
    def kind(self, f, *args):
        with self.assertRaises(ProofError) as e:
            f(*args)
        return e.exception.kind, str(e.exception)

    def test_inclusion_refusals(self):
        leaf, root = leaf_hash(b""), h(ROOTS[0])
        self.assertEqual(self.kind(verify_inclusion, leaf, 1, 1, [], root),
                         ("index_out_of_range", "leaf index 1 is not below tree size 1"))
        self.assertEqual(self.kind(verify_inclusion, leaf, 0, 0, [], root)[0],
                         "index_out_of_range")
        self.assertEqual(self.kind(verify_inclusion, leaf, 0, 1, [root], root)[0], "too_long")
        self.assertEqual(self.kind(verify_inclusion, leaf, 0, 2, [], root)[0], "too_short")
        self.assertEqual(root_from_inclusion_proof(leaf, 0, 1, []), root)
        with self.assertRaises(ValueError):
            verify_inclusion(leaf, -1, 1, [], root)
        with self.assertRaises(ValueError):
            verify_inclusion(leaf, 0, 2, [b"short"], root)

    def test_consistency_refusals(self):
        r1, r2 = h(ROOTS[0]), h(ROOTS[1])
        self.assertEqual(self.kind(verify_consistency, 2, 1, r2, r1, []),
                         ("size_order", "old tree size 2 is larger than new tree size 1"))
        self.assertEqual(self.kind(verify_consistency, 1, 1, r1, r2, [])[0], "root_mismatch")
        self.assertEqual(self.kind(verify_consistency, 1, 1, r1, r1, [r1])[0], "too_long")
        self.assertEqual(self.kind(verify_consistency, 1, 2, r1, r2, [])[0], "too_short")
        # the empty tree is a prefix of every tree, but only with the empty root
        verify_consistency(0, 5, empty_root(), h(ROOTS[4]), [])
        self.assertEqual(self.kind(verify_consistency, 0, 5, r1, h(ROOTS[4]), [])[0],
                         "root_mismatch")


class Codec(unittest.TestCase):
    def test_round_trip_and_refusals(self):
        proof = [h(x) for x in N1]
        self.assertEqual(decode_proof(encode_proof(proof)), proof)
        self.assertEqual(decode_proof(b"\x00"), [])
        for data, kind in [(b"", "empty"), (b"\x41", "too_many_hashes"),
                           (b"\x01" + bytes(31), "bad_length"),
                           (b"\x01" + bytes(33), "bad_length")]:
            with self.assertRaises(CodecError) as e:
                decode_proof(data)
            self.assertEqual(e.exception.kind, kind)
        with self.assertRaises(CodecError):
            encode_proof([bytes(32)] * 65)


if __name__ == "__main__":
    unittest.main()
