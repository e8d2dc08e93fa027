"""The client of a `tfgrid bcdb serve` server, over redis-py (spec §9.8).

```python
db = Client(port=9901, namespace="default")          # db.redis: the raw redis.Redis
Person = db.model(PERSON_TEXT)                       # SCHEMA.SET (idempotent), or a url
ann = Person.new(name="ann", email="ann@x.io")
ann.save()                                           # OBJ.NEW, then OBJ.SET; sets ann.id
Person.get(ann.id); Person.find(name="ann"); Person.count(name="ann")
Person.search("ann"); Person.history(ann.id); ann.delete()
v = db.verified("trust.json", instance_key)          # verified reads: see verified.py
```

Every connection selects the namespace when it opens (and again after a reconnect: the
pool calls `_connected` for each new socket). The namespace is kept as the server reads
`SELECT` (`entry.namespace_of`: `"3"` is `db3`, `"0"` is `default`), the form entries record
and signatures cover. With an `identity`, each connection also answers `AUTH.CHALLENGE`
(`AUTH <key> <signature>` over `bcdb-auth`, the nonce and the instance key), and writes are
signed: `OBJ.NEW url json SIG <key> <nonce> <sig>`, the author signing (`bcdb-change-2`)
the instance key, namespace, url, object id (0 for a creation), op, the schema hash it
computed itself (canonical.py), the SHA-256 of the canonical bytes it encoded itself
(codec.py), so a server that encodes the object differently cannot record it under that
signature, and a nonce, so the signature cannot be replayed on this instance or another.

The instance key comes from `instance_key=`, or else from the server's own checkpoint
(which binds signatures to whatever instance this server says it is: pass the key to bind
them to the one you mean). Nonces come from the identity's counter (`Identity.next_nonce`);
before its first signed write a client asks `AUTH.NONCE <key>` for the last nonce the key
used on this instance and starts above it. A write refused for its nonce (another client of
the same key, or another thread, got a higher one in first: `nonce N is not above L`) is
signed again above L, at most `NONCE_RETRIES` times.

A server refusal raises `ServerError` with the server's text (redis-py drops the leading
`ERR `); a refused authentication raises `AuthError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import redis
from redis.exceptions import AuthenticationError, ResponseError

from .canonical import schema_hash
from .checkpoint import Checkpoint
from . import codec
from .codec import encode_json
from .entry import Op, namespace_of
from .errors import AuthError, BcdbError, ServerError
from .keys import public_key
from .model import Model
from .schema import Schema, parse
from .verified import VerifiedClient

_NO_VALUE_HASH = hashlib.sha256(b"").digest()
NONCE_RETRIES = 3


def _text(reply) -> str:
    return reply.decode() if isinstance(reply, (bytes, bytearray)) else str(reply)


_STALE_NONCE = re.compile(r"\bnonce (\d+) is not above (\d+)\b")


def _stale_nonce(e: ServerError) -> int | None:
    """The key's last nonce when the server refused a signed change for a nonce not above
    it (`nonce N is not above L, …`), else None."""
    m = _STALE_NONCE.search(str(e))
    return int(m.group(2)) if m else None


def _arg(value) -> str:
    """A query value as the server reads it for its index column."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class Client:
    """A connection pool to one server and namespace; `redis` is the raw `redis.Redis`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9901, namespace="default",
                 identity=None, instance_key=None, auth: bool | None = None,
                 sign_writes: bool | None = None, socket_timeout: float = 30.0,
                 **redis_kwargs):
        self.namespace = namespace_of(namespace)
        self.identity = identity
        self.instance_key = public_key(instance_key) if instance_key is not None else None
        self._server_key: bytes | None = None  # the checkpoint signer, without instance_key
        self._nonce_synced = False
        self.auth = identity is not None if auth is None else auth
        self.sign_writes = identity is not None if sign_writes is None else sign_writes
        if (self.auth or self.sign_writes) and identity is None:
            raise AuthError("no_identity", "authentication and signed writes need an identity")
        self.n_auth = 0  # successful AUTH exchanges, one per connection opened
        self._schemas: dict[str, Schema] = {}
        self._by_hash: dict[bytes, Schema] = {}
        # the server speaks RESP2 (redis-py 8 would ask for RESP3 with HELLO 3)
        redis_kwargs.setdefault("protocol", 2)
        self.redis = redis.Redis(host=host, port=port, socket_timeout=socket_timeout,
                                 redis_connect_func=self._connected, **redis_kwargs)

    # --- connections ------------------------------------------------------------------

    def _connected(self, conn) -> None:
        """Runs on every new socket: redis-py's own setup, SELECT, then AUTH if asked."""
        conn.on_connect()
        if self.namespace != b"default":
            conn.send_command("SELECT", self.namespace)  # db<n> selects what n would
            if _text(conn.read_response()) != "OK":
                raise redis.ConnectionError(f"SELECT {self.namespace!r} failed")
        if self.auth:
            self._authenticate(conn)

    def _authenticate(self, conn) -> None:
        try:
            key = self.instance_key
            if key is None:
                conn.send_command("LEDGER.CHECKPOINT")
                key = Checkpoint.parse(conn.read_response()).signer
                self._server_key = key
            conn.send_command("AUTH.CHALLENGE")
            nonce = bytes.fromhex(_text(conn.read_response()))
            signature = self.identity.auth_signature(nonce, key)
            conn.send_command("AUTH", self.identity.public_hex, signature.hex())
            reply = _text(conn.read_response())
        except (ResponseError, ValueError, BcdbError) as e:
            raise AuthenticationError(f"AUTH failed: {e}") from None
        if reply != "OK":
            raise AuthenticationError(f"AUTH answered {reply!r}")
        self.n_auth += 1

    def call(self, *args):
        """One command; a server refusal raises `ServerError`, a refused AUTH `AuthError`."""
        try:
            return self.redis.execute_command(*args)
        except AuthenticationError as e:
            raise AuthError("refused", str(e)) from None
        except ResponseError as e:
            raise ServerError(str(e)) from None

    def supports(self, command: str) -> bool:
        """Whether the server knows `command` (sent without arguments: only an "unknown
        command" refusal says no)."""
        try:
            self.call(command)
        except ServerError as e:
            return not str(e).lower().startswith("unknown command")
        return True

    def close(self) -> None:
        self.redis.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- schemas ----------------------------------------------------------------------

    def register(self, text: str) -> list[Schema]:
        """`SCHEMA.SET text`: every block, each checked against the hash computed here."""
        blocks = parse(text)
        reply = self.call("SCHEMA.SET", text)
        got = [(_text(url), _text(h)) for url, h in reply]
        want = [(s.url, schema_hash(s).hex()) for s in blocks]
        if got != want:
            raise BcdbError("schema_hash", f"the server registered {got}, this client "
                            f"computes {want}")
        for s in blocks:
            self._remember(s)
        for s in blocks:
            self._embedded(s)
        return blocks

    def _remember(self, schema: Schema) -> None:
        self._schemas[schema.url] = schema
        self._by_hash[schema_hash(schema)] = schema

    def _embedded(self, schema: Schema) -> None:
        """Fetches the schemas `schema` embeds (by url, latest version, as the server
        resolves them) that this client does not know yet."""
        for f in schema.fields:
            url = f.type.object_url
            if url and url not in self._schemas:
                self._embedded(self.schema(url))

    def schema(self, url: str, hash_: bytes | None = None) -> Schema:
        """The latest known version of `url`, or the version whose hash is `hash_`
        (fetched with SCHEMA.GET and checked against the hash)."""
        if hash_ is None and url in self._schemas:
            return self._schemas[url]
        if hash_ is not None and hash_ in self._by_hash:
            return self._by_hash[hash_]
        args = ("SCHEMA.GET", url) + ((hash_.hex(),) if hash_ is not None else ())
        text = self.call(*args)
        if text is None:
            raise BcdbError("no_schema", f"the server has no schema {url}"
                            + (f" with hash {hash_.hex()}" if hash_ else ""))
        if hash_ is not None and hashlib.sha256(text).digest() != hash_:
            raise BcdbError("schema_hash", f"SCHEMA.GET {url} sent a text whose hash is "
                            f"not {hash_.hex()}")
        schema = parse(_text(text))[0]
        if hash_ is None:
            self._remember(schema)
        else:
            self._by_hash[hash_] = schema
        self._embedded(schema)
        return schema

    @property
    def schemas(self) -> dict:
        """The schemas known so far by url (embedded objects are resolved here)."""
        return self._schemas

    def model(self, schema_text_or_url: str) -> BoundModel:
        """A model of the first schema of a text (all its blocks are registered), or of a
        url the server already has."""
        text = schema_text_or_url
        if "\n" in text or "=" in text:
            return BoundModel(self, self.register(text)[0])
        return BoundModel(self, self.schema(text.strip()))

    # --- ledger, verified reads, auth and ACL helpers ------------------------------------

    def checkpoint(self) -> Checkpoint:
        """The latest signed checkpoint (not verified: see `verified`)."""
        return Checkpoint.parse(self.call("LEDGER.CHECKPOINT"))

    def verified(self, trust_path, instance_key, cache=None, check_authors: bool = True):
        """Verified reads trusting only `instance_key`; see verified.py."""
        return VerifiedClient(self, trust_path, instance_key, cache, check_authors)

    def signing_instance(self) -> bytes:
        """The instance key signatures are bound to: `instance_key`, or the signer of the
        server's checkpoint."""
        if self.instance_key is not None:
            return self.instance_key
        if self._server_key is None:
            self._server_key = self.checkpoint().signer
        return self._server_key

    def last_nonce(self) -> int:
        """`AUTH.NONCE <key>`: the last nonce the identity's key used on this instance."""
        return int(self.call("AUTH.NONCE", self.identity.public_hex))

    def sync_nonce(self) -> None:
        """Raises the identity's nonce counter above what the server last took from it."""
        self.identity.saw_nonce(self.last_nonce())
        self._nonce_synced = True

    def sign_args(self, collection: bytes, object_id: int, op: Op, schema_hash_: bytes,
                  value_hash: bytes) -> tuple:
        """`SIG <key> <nonce> <signature>` for a change, or () when writes are not signed."""
        if not self.sign_writes:
            return ()
        if not self._nonce_synced:
            self.sync_nonce()
        author = self.identity.sign_change(self.signing_instance(), self.namespace,
                                           collection, object_id, op, schema_hash_, value_hash)
        return ("SIG", author.key.hex(), str(author.nonce), author.signature.hex())

    def signed_call(self, command: tuple, collection: bytes, object_id: int, op: Op,
                    schema_hash_: bytes, value_hash: bytes):
        """`command` with the change's `SIG …` appended (nothing when writes are not
        signed). Refused for a stale nonce (`nonce N is not above L`), it raises the counter
        to L and signs again, up to `NONCE_RETRIES` times: a refused write was not applied."""
        for attempt in range(NONCE_RETRIES + 1):
            sig = self.sign_args(collection, object_id, op, schema_hash_, value_hash)
            try:
                return self.call(*command, *sig)
            except ServerError as e:
                last = _stale_nonce(e) if sig else None
                if last is None or attempt == NONCE_RETRIES:
                    raise
                self.identity.saw_nonce(last)
        raise AssertionError("unreachable")

    def whoami(self) -> str:
        """`AUTH.WHOAMI`: "owner", "anonymous" or the session's key (hex)."""
        return _text(self.call("AUTH.WHOAMI"))

    def acl_set(self, name: str, rules) -> None:
        """`ACL.SET name principal perms …` (instance owner only); `rules` maps a principal
        (a key as 32 bytes or hex, `group:<name>` or `*`) to a subset of "rwd"."""
        args = []
        for principal, perms in dict(rules).items():
            if perms != "-" and not set(perms) <= set("rwd"):
                raise ValueError(f"permissions are a subset of 'rwd' (or '-'), not {perms!r}")
            if isinstance(principal, (bytes, bytearray)):
                principal = bytes(principal).hex()
            args += [principal, perms]
        self.call("ACL.SET", name, *args)

    def acl_get(self, name: str) -> dict | None:
        """The rules of access list `name` as {principal: perms}, None when there is none."""
        reply = self.call("ACL.GET", name)
        if reply is None:
            return None
        return {_text(reply[i]): _text(reply[i + 1]) for i in range(0, len(reply), 2)}

    def acl_list(self) -> list[str]:
        return [_text(n) for n in self.call("ACL.LIST")]

    def group_set(self, name: str, keys) -> None:
        """`GROUP.SET name key …` (instance owner only); keys as 32 bytes or hex."""
        self.call("GROUP.SET", name, *[bytes(k).hex() if isinstance(k, (bytes, bytearray))
                                       else k for k in keys])

    def group_get(self, name: str) -> list[str] | None:
        reply = self.call("GROUP.GET", name)
        return None if reply is None else [_text(k) for k in reply]

    def obj_acl(self, url: str, object_id: int, acl_name: str | None) -> None:
        """Attaches access list `acl_name` to an object (None detaches it)."""
        self.call("OBJ.ACL", url, object_id, acl_name if acl_name is not None else "NONE")

    def ns_policy(self, policy: str | None = None) -> str:
        """The namespace's write policy; with `policy` ("signed" or "open", instance owner
        only) sets it first."""
        if policy is not None:
            if policy not in ("signed", "open"):
                raise ValueError("a namespace policy is 'signed' or 'open'")
            self.call("NS.POLICY", policy)
        return _text(self.call("NS.POLICY"))


@dataclass
class Version:
    """One entry of an object's history: `op` is create, update or delete; `object` is
    None for a delete."""

    seq: int
    time_ms: int
    op: str
    object: Model | None


class BoundModel:
    """A schema bound to a client: makes, fetches and queries its objects."""

    def __init__(self, client: Client, schema: Schema):
        self.client, self.schema, self.url = client, schema, schema.url
        self.hash = schema_hash(schema)

    def new(self, **fields) -> Record:
        return Record(self, **fields)

    def _record(self, data, object_id) -> Record | None:
        if data is None:
            return None
        obj = Record(self, **json.loads(data))
        object.__setattr__(obj, "id", int(object_id))
        return obj

    def encode(self, obj: Model) -> tuple[str, bytes]:
        """The JSON text sent for `obj` and the canonical bytes it means (read from that
        very text, as the server will)."""
        wire = json.dumps(Model.to_dict(obj), separators=(",", ":"), allow_nan=False)
        return wire, encode_json(self.schema, json.loads(wire), self.client.schemas)

    def get(self, object_id: int) -> Record | None:
        return self._record(self.client.call("OBJ.GET", self.url, object_id), object_id)

    def _many(self, ids) -> list[Record]:
        if not ids:
            return []
        pipe = self.client.redis.pipeline(transaction=False)
        for i in ids:
            pipe.execute_command("OBJ.GET", self.url, i)
        try:
            replies = pipe.execute()
        except ResponseError as e:
            raise ServerError(str(e)) from None
        return [r for r in (self._record(d, i) for d, i in zip(replies, ids)) if r is not None]

    def _conditions(self, conds, eq) -> list:
        args = []
        for field, op, value in list(conds) + [(k, "=", v) for k, v in eq.items()]:
            if op.upper() != "PREFIX":
                value = self._index_form(field, value)
            args += [field, op, _arg(value)]
        return args

    def _index_form(self, name: str, value):
        """A query value in the form the index holds (an enum by its name, a date as
        seconds, …), read as a value of the field `name` (`parent__child` for a nested
        one) would be; left as given when the field is unknown here."""
        schema, parts = self.schema, name.split("__")
        for part in parts[:-1]:
            f = schema.field(part)
            schema = self.client.schemas.get(f.type.url) if f and f.type.base == "O" else None
            if schema is None:
                return value
        f = schema.field(parts[-1])
        if f is None or f.type.base in ("L", "O", "N", "F", "P"):
            return value  # numbers go as numbers; an amount's index holds its scaled value
        try:
            read = (codec.enum_value(f.type.values, value, name) if f.type.base == "E"
                    else codec.scalar(f.type.base, value, name))
        except BcdbError:
            return value  # the server says what is wrong with it
        return codec.view_value(f.type, read)

    def find_ids(self, *conds, limit: int | None = None, cursor: int | None = None,
                 **eq) -> list[int]:
        """Ids matching every condition, ascending: `name="ann"`, or `("nodes", ">=", 3)`
        (ops `=`, `>=`, `<=`, `PREFIX`; nested fields as `parent__child`). `cursor` is the
        last id of the previous page (the server's `AFTER`)."""
        args = ["OBJ.FIND", self.url] + self._conditions(conds, eq)
        if cursor is not None:
            args += ["AFTER", cursor]
        if limit is not None:
            args += ["LIMIT", limit]
        return [int(i) for i in self.client.call(*args)]

    def find(self, *conds, limit: int | None = None, cursor: int | None = None,
             **eq) -> list[Record]:
        return self._many(self.find_ids(*conds, limit=limit, cursor=cursor, **eq))

    def count(self, *conds, **eq) -> int:
        return int(self.client.call("OBJ.COUNT", self.url, *self._conditions(conds, eq)))

    def search_ids(self, query: str, limit: int | None = None) -> list[int]:
        args = ["OBJ.SEARCH", self.url, query] + (["LIMIT", limit] if limit is not None else [])
        return [int(i) for i in self.client.call(*args)]

    def search(self, query: str, limit: int | None = None) -> list[Record]:
        """Full-text search over `***` fields, best match first."""
        return self._many(self.search_ids(query, limit))

    def history(self, object_id: int) -> list[Version]:
        out = []
        for seq, time_ms, op, data in self.client.call("OBJ.HISTORY", self.url, object_id):
            op = _text(op)
            out.append(Version(int(seq), int(time_ms), op, self._record(data, object_id)))
        return out

    def __repr__(self):
        return f"<model {self.url} {self.hash.hex()[:12]}>"


class Record(Model):
    """An object of a bound model: a `Model` with `save` and `delete` (a field of the same
    name takes precedence; `Record.save(obj)` still works)."""

    def __init__(self, model: BoundModel, **fields):
        object.__setattr__(self, "_bound", model)
        super().__init__(model.schema, model.client.schemas, **fields)

    def save(self) -> int:
        """OBJ.NEW for a new object (sets `id`), OBJ.SET afterwards; returns the id."""
        model = object.__getattribute__(self, "_bound")
        client, object_id = model.client, object.__getattribute__(self, "id")
        wire, value = model.encode(self)
        op = Op.CREATE if object_id is None else Op.PUT
        command = (("OBJ.NEW", model.url, wire) if object_id is None
                   else ("OBJ.SET", model.url, object_id, wire))
        reply = client.signed_call(command, model.url.encode(), object_id or 0, op, model.hash,
                                   hashlib.sha256(value).digest())
        if object_id is None:
            object_id = int(reply)
            object.__setattr__(self, "id", object_id)
        return object_id

    def delete(self) -> bool:
        """OBJ.DEL; whether there was an object to delete. A signed delete names no schema
        (zero hash) and the hash of the empty value, as the ledger records it."""
        model = object.__getattribute__(self, "_bound")
        object_id = object.__getattribute__(self, "id")
        if object_id is None:
            return False
        reply = model.client.signed_call(("OBJ.DEL", model.url, object_id), model.url.encode(),
                                         object_id, Op.DELETE, bytes(32), _NO_VALUE_HASH)
        return int(reply) == 1
