"""The Python client against a real `tfgrid bcdb serve`, end to end.

Run by `cargo test -p tfgrid --test bcdb_python`, which starts the server and calls
`python3 python/tests/session/test_session.py --port N --instance-key HEX --tmp DIR
--deadline S`, then restarts the server and runs the script again in a new process with
`--resume --expect-trusted SIZE` (the trust store in DIR must carry over). By hand, start
a server yourself and pass the same flags (`INFO` prints the instance key). This directory
has no `__init__.py`, so `python3 -m unittest discover -s python/tests` does not pick the
script up.

Each check prints `PASS <name>` or stops the run with an AssertionError; what the server
does not answer yet (AUTH.CHALLENGE, signed writes, ACL commands) prints `SKIP: …` and is
not tested. Signed writes are flag-3 entries (`SIG <key> <nonce> <signature>`), checked
against the instance key; numeric namespaces (`SELECT 5` is db5) are checked with and
without signatures. The last line is `SESSION OK` only when every check ran and passed. A watchdog
(`--deadline`) fails the run instead of letting it hang.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bcdb_client import (AuthError, Client, Identity, Op, ServerError,  # noqa: E402
                         VerifyError)
from bcdb_client.canonical import schema_hash  # noqa: E402

NODE = """@url = test.node.1
&name** = (S)
farm** = (I)
country** = "BE" (S)
up** = true (B)
cru = 1 (I)
price = (N)
born** = (D)
notes*** = "" (S)
rack = (O) !test.rack.1
tags = (LS)

@url = test.rack.1
@sub = true
row** = (S)
slot = 0 (I)
"""
PASSED: list[str] = []


def check(cond, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def passed(name: str) -> None:
    PASSED.append(name)
    print(f"PASS {name}", flush=True)


def ledger_size(db: Client) -> int:
    return int(db.call("LEDGER.ROOT")[0])


def models(db: Client) -> dict:
    size = ledger_size(db)
    node = db.model(NODE)
    check(node.url == "test.node.1" and node.hash == schema_hash(node.schema), "model bound")
    check(ledger_size(db) > size, "the first registration is recorded")
    size = ledger_size(db)
    again = db.model(NODE)
    check(again.hash == node.hash and ledger_size(db) == size,
          "registering the same schema again records nothing")
    check(db.model("test.node.1").hash == node.hash, "a model by url")
    passed("model registration (SCHEMA.SET idempotent, hash computed locally)")
    return {"node": node}


def save_update_delete(node) -> dict:
    a = node.new(name="node-a", farm=1, cru=4, price="10 USD", born="2020-02-29",
                 notes="rack one gpu", rack={"row": "r1", "slot": 3}, tags=["x", "y"])
    check(a.id is None, "no id before save")
    a.save()
    check(isinstance(a.id, int) and a.id > 0, "save sets the id")
    got = node.get(a.id)
    check(got is not None and got.to_dict() == a.to_dict() and got.id == a.id,
          f"get returns what was saved: {got!r} vs {a!r}")
    stored = node.client.call("OBJ.GET", node.url, a.id, "BIN")
    check(stored == node.encode(a)[1], "the server stored exactly the client's canonical bytes")
    a.cru = 8
    a.country = "NL"
    check(a.save() == a.id, "a second save keeps the id")
    got = node.get(a.id)
    check((got.cru, got.country) == (8, "NL"), "the update is read back")
    check(node.client.call("OBJ.GET", node.url, a.id, "BIN") == node.encode(a)[1],
          "the updated bytes are the client's too")
    passed("save, update and get (server bytes == client encoding)")

    b = node.new(name="node-b", farm=1, cru=2, notes="plain box")
    b.save()
    check(b.delete() is True, "delete answers True")
    check(node.get(b.id) is None, "a deleted object reads as None")
    check(b.delete() is False, "deleting again answers False")
    passed("delete")
    return {"a": a, "b": b}


def queries(node, a) -> None:
    made = []
    for i in range(6):
        n = node.new(name=f"node-q{i}", farm=2 + i % 2, cru=i, up=i % 3 != 0,
                     notes="gpu rack" if i == 4 else "plain")
        n.save()
        made.append(n)
    found = node.find(name="node-a")
    check([o.id for o in found] == [a.id] and found[0].to_dict() == a.to_dict(),
          f"find by a unique field: {found}")
    check(node.find_ids(farm=2) == [m.id for m in made if m.farm == 2], "find by an integer")
    check(node.find_ids(("name", "PREFIX", "node-q"), up=False) ==
          [m.id for m in made if not m.up], "find with PREFIX and a boolean")
    page1 = node.find_ids(("name", "PREFIX", "node-q"), limit=4)
    page2 = node.find_ids(("name", "PREFIX", "node-q"), limit=4, cursor=page1[-1])
    check(page1 + page2 == [m.id for m in made] and len(page2) == 2, "find pages with a cursor")
    check(node.count(farm=3) == 3 and node.count(country="BE") == 6,
          "count (country: the default BE, a is NL)")
    check(node.find_ids(born="29/2/2020") == [a.id] and node.find_ids(up="no") ==
          [m.id for m in made if not m.up], "query values read as the field reads them")
    hits = node.search("gpu")
    check(sorted(h.id for h in hits) == sorted([a.id, made[4].id]), f"search: {hits}")
    check(node.search_ids("gpu", limit=1) and len(node.search_ids("gpu", limit=1)) == 1,
          "search limit")
    try:
        node.find_ids(missing=1)
        raise AssertionError("a query on an unknown field is refused")
    except ServerError as e:
        check("not an indexed field" in str(e), f"the server's message: {e}")
    passed("find, count, search, cursor; server errors as ServerError")


def history(node, objs) -> None:
    a, b = objs["a"], objs["b"]
    h = node.history(a.id)
    check([v.op for v in h] == ["create", "update"], f"ops of a: {[v.op for v in h]}")
    check(h[0].object.cru == 4 and h[1].object.to_dict() == a.to_dict(), "versions of a")
    check(h[0].seq < h[1].seq and h[0].time_ms <= h[1].time_ms, "seqs and times ascend")
    hb = node.history(b.id)
    check([v.op for v in hb] == ["create", "delete"] and hb[1].object is None,
          "a deleted object's history ends with a delete without a value")
    passed("history")


def old_hash_api(db: Client, node) -> None:
    key = f"{db.namespace.decode()}:data:{node.url}"
    data = json.dumps({"name": "node-hash", "farm": 9})
    new_id = int(db.redis.execute_command("HSETNEW", key, "0", data))
    back = json.loads(db.redis.hget(key, new_id))
    check(back["name"] == "node-hash" and back["farm"] == 9 and back["country"] == "BE",
          f"HGET returns the object with defaults: {back}")
    check(node.get(new_id).name == "node-hash", "the typed API sees the hash write")
    check(str(new_id).encode() in db.redis.hkeys(key), "HKEYS lists it")
    passed("raw redis-py HSETNEW/HGET/HKEYS")


def verified(args, node, a) -> None:
    tmp = Path(args.tmp)
    trust = tmp / "trust.json"
    db = Client(port=args.port)
    v = db.verified(trust, args.instance_key)
    check(v.trusted is None and not trust.exists(), "nothing trusted at first")
    got = v.vget(a.id, db.model("test.node.1"))
    check(got.object.to_dict() == node.get(a.id).to_dict() and got.object.id == a.id,
          "the verified object is the object")
    check(got.entry.object_id == a.id and got.entry.collection == b"test.node.1", "its entry")
    size = ledger_size(db)
    check(trust.exists() and v.trusted.size == size, "the checkpoint is persisted")
    check(v.cache.n_verified == 1, "one signature checked")
    passed("verified get, trust store written")

    for i in range(3):
        node.new(name=f"node-v{i}", farm=7).save()
    db.close()

    db2 = Client(port=args.port)
    v2 = db2.verified(trust, args.instance_key)
    check(v2.trusted is not None and v2.trusted.size == size,
          "a restarted client trusts the persisted checkpoint")
    check(v2.cache.n_verified == 1, "loading the trust store checks its signature once")
    model = db2.model("test.node.1")
    ids = model.find_ids(farm=7)
    first = v2.vget(ids[0], model)
    check(first.object.name == "node-v0", "verified read after the restart")
    check(v2.trusted.size == ledger_size(db2) > size,
          "trust moved forward through a consistency proof from the old size")
    check(v2.cache.n_verified == 2, "the new checkpoint's signature is checked once")
    for i in ids[1:] + [a.id]:
        check(v2.vget(i, model) is not None, "more verified reads")
    check((v2.cache.n_verified, v2.cache.n_hits) == (2, 3),
          f"same checkpoint, no new signature check: {v2.cache.n_verified}, {v2.cache.n_hits}")
    passed("trust store survives a client restart; checkpoint cache counts")

    before = trust.read_bytes()
    record = v2.fetch(a.id)
    record.value = bytes([record.value[0] ^ 1]) + record.value[1:]
    try:
        v2.check(record, a.id)
        raise AssertionError("a tampered value is refused")
    except VerifyError as e:
        check(e.reason == "value_mismatch", f"refused for the value: {e.reason}")
    record = v2.fetch(a.id)
    try:
        v2.check(record, ids[0])
        raise AssertionError("a proof of another object is refused")
    except VerifyError as e:
        check(e.kind == "wrong_entry", f"refused as the wrong entry: {e.kind}")
    check(trust.read_bytes() == before, "a refusal leaves the trust store alone")
    passed("tampered value and wrong object refused")

    other = Identity.from_seed(b"\x01" * 32).public_hex
    wrong = db2.verified(tmp / "wrong.json", other)
    try:
        wrong.vget(a.id)
        raise AssertionError("a wrong instance key is refused")
    except VerifyError as e:
        check(e.reason == "checkpoint/wrong_signer", f"refused: {e.reason}")
    check(not (tmp / "wrong.json").exists(), "nothing trusted after a refusal")
    passed("wrong instance key refused")
    print(f"TRUSTED {v2.trusted.size}", flush=True)
    db2.close()


def resume(args) -> None:
    """A new process, a restarted server: the persisted checkpoint is still the trust."""
    db = Client(port=args.port)
    v = db.verified(Path(args.tmp) / "trust.json", args.instance_key)
    check(v.trusted is not None and v.trusted.size == args.expect_trusted,
          f"the trust store of the first run is loaded ({v.trusted})")
    model = db.model("test.node.1")
    obj = model.new(name="node-after-restart", farm=11)
    obj.save()
    got = v.vget(obj.id, model)
    check(got.object.to_dict() == obj.to_dict(), "verified read of a new object")
    check(v.trusted.size == ledger_size(db) > args.expect_trusted,
          "trust moved forward from the persisted size")
    check(v.cache.n_verified == 2, "two signatures: the stored checkpoint and the new one")
    passed("persisted trust across a new process and a server restart")


def nonces(args, owner: Client, signer: Client, model, v) -> None:
    """Replay protection: AUTH.NONCE reports the last nonce, a replayed signed command is
    refused, and a new client of the same key starts above what the server saw."""
    ident = signer.identity
    obj = model.new(name="node-nonce", farm=5)
    obj.save()
    last = v.vget(obj.id, model).entry.author.nonce
    check(signer.last_nonce() == last == ident.last_nonce,
          f"AUTH.NONCE is the last nonce used: {signer.last_nonce()} vs {last}")
    check(int(owner.call("AUTH.NONCE", ident.public_hex)) == last, "asked by another session")
    obj.farm = 9
    wire, value = model.encode(obj)
    sig = signer.sign_args(model.url.encode(), obj.id, Op.PUT, model.hash,
                           hashlib.sha256(value).digest())
    check(sig[0] == "SIG" and len(sig) == 4 and int(sig[2]) > last, "SIG key nonce signature")
    signer.call("OBJ.SET", model.url, obj.id, wire, *sig)
    try:
        signer.call("OBJ.SET", model.url, obj.id, wire, *sig)
        raise AssertionError("a replayed signed update is refused")
    except ServerError as e:
        check("is not above" in str(e), f"refused for its nonce: {e}")
    # the same key in a fresh process: its counter starts at the clock, below a nonce the
    # key used far ahead, so only AUTH.NONCE keeps its first write from being refused
    far = time.time_ns() // 1000 + 10**12
    ident.saw_nonce(far)
    obj.farm = 10
    obj.save()
    fresh = Identity.from_seed(ident.seed)
    again = Client(port=args.port, identity=fresh, instance_key=args.instance_key)
    check(fresh.last_nonce == 0, "a fresh identity has seen no nonce")
    later = again.model("test.node.1").get(obj.id)
    later.farm = 11
    wire, value = again.model("test.node.1").encode(later)
    first = again.sign_args(model.url.encode(), obj.id, Op.PUT, model.hash,
                            hashlib.sha256(value).digest())  # asks AUTH.NONCE, sends nothing
    check(int(first[2]) == far + 2, f"its first signature is above the server's last nonce "
          f"before any refusal: {first[2]}")
    again.call("OBJ.SET", model.url, obj.id, wire, *first)
    entry = v.vget(obj.id, model).entry
    check(entry.author.nonce == far + 2 and entry.verify_author(args.instance_key),
          f"and the server takes it: {entry.author.nonce}")
    check(again.last_nonce() == far + 2 == fresh.last_nonce, "AUTH.NONCE follows")
    passed("nonces: AUTH.NONCE, a replay refused, a new client starts above the last")


def numeric_namespace(args) -> None:
    """`SELECT 5` is namespace db5: writes land there and verified reads expect it."""
    five = Client(port=args.port, namespace="5")
    check(five.namespace == b"db5", "the client names it as the server does")
    model = five.model(NODE)
    obj = model.new(name="node-db5", farm=55)
    obj.save()
    other = Client(port=args.port, namespace="db5")
    check(other.model("test.node.1").get(obj.id).name == "node-db5", "db5 is SELECT 5")
    got = five.verified(Path(args.tmp) / "db5.json", args.instance_key).vget(obj.id, model)
    check(got.entry.namespace == b"db5" and got.object.name == "node-db5",
          "a verified read in SELECT 5 checks the entry's namespace db5")
    zero = Client(port=args.port, namespace="0")
    check(zero.namespace == b"default" and zero.model("test.node.1").find_ids(farm=55) == [],
          "SELECT 0 is default")
    passed("numeric namespace: SELECT 5 is db5 for writes and verified reads")


def signed_numeric_namespace(args, ident) -> None:
    """A signed write in `SELECT 3` is signed for db3, the namespace the server checks."""
    owner = Client(port=args.port, namespace="3")
    owner.register(NODE)
    owner.acl_set("default", {ident.public_key: "rwd"})
    signer = Client(port=args.port, namespace="3", identity=ident,
                    instance_key=args.instance_key)
    model = signer.model("test.node.1")
    obj = model.new(name="node-db3", farm=33)
    obj.save()
    entry = owner.verified(Path(args.tmp) / "db3.json", args.instance_key).vget(
        obj.id, model).entry
    check(entry.namespace == b"db3" and entry.verify_author(args.instance_key) ==
          ident.public_key, "the signature covers db3")
    passed("signed write in a numeric namespace (SELECT 3 signs db3)")


def auth_and_signed_writes(args, node) -> None:
    db = Client(port=args.port)  # unauthenticated: the owner while auth is not required
    if not db.supports("AUTH.CHALLENGE"):
        print("SKIP: the server does not answer AUTH.CHALLENGE yet: AUTH on connect, "
              "signed writes and the ACL helpers are not tested", flush=True)
        return
    ident = Identity.from_seed(bytes(range(32)))
    signer = Client(port=args.port, identity=ident, instance_key=args.instance_key)
    check(signer.whoami() == ident.public_hex, "the session is the identity's")
    check(signer.n_auth == 1, "AUTH ran once for the first connection")
    signer.redis.connection_pool.disconnect()
    check(signer.whoami() == ident.public_hex and signer.n_auth == 2,
          "AUTH runs again after a reconnect")
    check(db.whoami() == "owner", "an unauthenticated session is the owner")
    bad = Client(port=args.port, identity=ident, instance_key=Identity.from_seed(
        b"\x02" * 32).public_key)
    try:
        bad.whoami()
        raise AssertionError("AUTH for another instance key is refused")
    except AuthError as e:
        check("does not verify" in str(e), f"refused: {e}")
    passed("AUTH.CHALLENGE/AUTH on connect and reconnect")

    model = signer.model("test.node.1")
    obj = model.new(name="node-signed", farm=5)
    try:
        obj.save()
        raise AssertionError("a key with no rights may not create")
    except ServerError as e:
        check("permission denied" in str(e), f"refused for the ACL: {e}")
    db.acl_set("default", {ident.public_key: "rwd"})
    check(db.acl_get("default") == {ident.public_hex: "rwd"}, "ACL.GET reads the rule back")
    check("default" in db.acl_list(), "ACL.LIST")
    obj.save()
    v = db.verified(Path(args.tmp) / "signed.json", args.instance_key)
    got = v.vget(obj.id, model)
    check(got.entry.author is not None and got.entry.author.key == ident.public_key,
          "the entry carries the client's signature")
    check(got.entry.verify_author(args.instance_key) == ident.public_key,
          "over the value hash the client computed from its own encoding")
    check(got.entry.author.nonce is not None and got.entry.encode()[-105] == 3,
          "a new signed entry has a nonce (author flag 3)")
    obj.farm = 6
    obj.save()
    update = v.vget(obj.id, model).entry
    check(update.verify_author(args.instance_key) == ident.public_key, "signed update")
    check(update.author.nonce > got.entry.author.nonce, "the update's nonce is higher")
    wire, value = model.encode(obj)
    forged = signer.sign_args(model.url.encode(), obj.id, Op.PUT, model.hash, bytes(32))
    try:
        signer.call("OBJ.SET", model.url, obj.id, wire, *forged)
        raise AssertionError("a signature over another value is refused")
    except ServerError:
        pass
    check(obj.delete() is True and model.get(obj.id) is None, "signed delete")
    passed("signed create, update and delete; a forged signature is refused")

    nonces(args, db, signer, model, v)

    attested = Client(port=args.port, identity=ident, instance_key=args.instance_key,
                      sign_writes=False)
    plain = attested.model("test.node.1").new(name="node-attested", farm=5)
    plain.save()
    entry = v.vget(plain.id, model).entry
    check(entry.author is None and entry.attested == ident.public_key == entry.principal,
          "an unsigned write of an authenticated session names its key (flag 2)")
    passed("attested writes decode and verify")
    signed_numeric_namespace(args, ident)

    db.group_set("ops", [ident.public_key])
    check(db.group_get("ops") == [ident.public_hex], "GROUP.SET/GROUP.GET")
    db.acl_set("readers", {"group:ops": "r", "*": "-"})
    db.obj_acl(model.url, plain.id, "readers")
    check(db.acl_get("readers") == {"group:ops": "r", "*": "-"}, "a group rule")
    strict = Client(port=args.port, namespace="signed-only")
    check(strict.ns_policy() == "open" and strict.ns_policy("signed") == "signed",
          "NS.POLICY reads and sets the policy")
    strict.register(NODE)
    try:
        strict.model("test.node.1").new(name="unsigned", farm=1).save()
        raise AssertionError("an unsigned write is refused under the signed policy")
    except ServerError as e:
        check("signed" in str(e), f"refused for the policy: {e}")
    passed("ACL, group, OBJ.ACL and NS.POLICY helpers")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--instance-key", required=True)
    parser.add_argument("--tmp", default=None)
    parser.add_argument("--deadline", type=int, default=120)
    parser.add_argument("--resume", action="store_true",
                        help="only the second run: reuse the trust store in --tmp")
    parser.add_argument("--expect-trusted", type=int, default=None)
    args = parser.parse_args()

    def too_late(*_):
        raise TimeoutError(f"the session did not finish within {args.deadline} s")

    signal.signal(signal.SIGALRM, too_late)
    signal.alarm(args.deadline)
    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = args.tmp or tmp
        db = Client(port=args.port, socket_timeout=20)
        check(db.call("PING") in (b"PONG", True), "PING")
        if args.resume:
            resume(args)
            signal.alarm(0)
            print(f"SESSION OK ({len(PASSED)} checks passed)", flush=True)
            return 0
        node = models(db)["node"]
        objs = save_update_delete(node)
        queries(node, objs["a"])
        history(node, objs)
        old_hash_api(db, node)
        verified(args, node, objs["a"])
        numeric_namespace(args)
        auth_and_signed_writes(args, node)
    signal.alarm(0)
    print(f"SESSION OK ({len(PASSED)} checks passed)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
