"""bcdb-client: a pure-Python client for tfgrid's BCDB (spec §9.8).

Layers, each usable on its own:

* raw — `Client(...).redis` is a plain `redis.Redis` (the old `HSETNEW`/`HGET` API works);
* typed — `Client.model(text_or_url)` binds a jsxschema model (`schema`, `model`): `new`,
  `save`, `delete`, `get`, `find`, `count`, `search`, `history` (`client`);
* canonical — the object encoding (`codec.encode_json`, `decode`, `view`, on the text
  forms of `values` and the JSON of `jsontext`) and the schema identity
  (`canonical.schema_hash`), byte for byte as Rust writes them, so the client computes
  value and schema hashes itself and signs what it means;
* verified — `Client.verified(trust_path, instance_key)` checks every read against the
  instance key and a persisted checkpoint (`verified`, on `ledger.verify_record`, RFC 9162
  proofs, canonical entries, signed checkpoints), with a cache of verified signatures;
* identity — `Identity` from a seed, key file or mnemonic; signs auth challenges and
  changes (`identity`).

Nothing here trusts the server's encoding, hashes or JSON for what it verifies.
"""

from .canonical import schema_hash, schema_text
from .checkpoint import Checkpoint
from .client import BoundModel, Client, Record, Version
from .codec import decode, encode_json, object_hash, view
from .entry import Author, Entry, Op, author_payload, change_payload, namespace_of, value_hash
from .errors import (AuthError, BcdbError, CheckpointError, CodecError, EntryError,
                     ObjectError, ProofError, ServerError, SignatureError, VerifyError)
from .identity import Identity, IdentityError
from .ledger import VerifiedRecord, verify_record
from .model import Model
from .proof import (decode_proof, encode_proof, leaf_hash, node_hash, verify_consistency,
                    verify_inclusion)
from .schema import Field, FieldType, Schema, SchemaError, parse
from .verified import CheckpointCache, TrustStore, VerifiedClient, VerifiedObject

__all__ = [
    "AuthError", "Author", "BcdbError", "BoundModel", "Checkpoint", "CheckpointCache",
    "CheckpointError", "Client", "CodecError", "Entry", "EntryError", "Field", "FieldType",
    "Identity", "IdentityError", "Model", "ObjectError", "Op", "ProofError", "Record",
    "Schema", "SchemaError", "ServerError", "SignatureError", "TrustStore", "VerifiedClient",
    "VerifiedObject", "VerifiedRecord", "VerifyError", "Version", "author_payload",
    "change_payload", "decode", "decode_proof", "encode_json", "encode_proof", "leaf_hash",
    "namespace_of", "node_hash", "object_hash",
    "parse", "schema_hash", "schema_text", "value_hash", "verify_consistency",
    "verify_inclusion", "verify_record", "view",
]
