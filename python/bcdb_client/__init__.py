"""bcdb-client: a pure-Python client for tfgrid's BCDB.

This package holds the parts that need no server: verifying what a server hands out
against one trusted checkpoint and the instance key (`verify_record`, RFC 9162 proofs,
canonical entries, signed checkpoints), the jsxschema parser and attribute-style objects.
"""

from .checkpoint import Checkpoint
from .entry import Author, Entry, Op, author_payload, value_hash
from .errors import (BcdbError, CheckpointError, CodecError, EntryError, ProofError,
                     SignatureError, VerifyError)
from .ledger import VerifiedRecord, verify_record
from .model import Model
from .proof import (decode_proof, encode_proof, leaf_hash, node_hash, verify_consistency,
                    verify_inclusion)
from .schema import Field, FieldType, Schema, SchemaError, parse

__all__ = [
    "Author", "BcdbError", "Checkpoint", "CheckpointError", "CodecError", "Entry", "EntryError",
    "Field", "FieldType", "Model", "Op", "ProofError", "Schema", "SchemaError",
    "SignatureError", "VerifiedRecord", "VerifyError", "author_payload", "decode_proof",
    "encode_proof", "leaf_hash", "node_hash", "parse", "value_hash", "verify_consistency",
    "verify_inclusion", "verify_record",
]
