"""Every error the client raises when something it was handed does not hold.

Each carries a `kind` naming the case (the Rust variant, in snake case) and a message
that reads the same as the Rust error's, so a refusal can be compared across the two.
"""

from __future__ import annotations


class BcdbError(Exception):
    """Base class: `kind` names the case, `str(err)` is the message."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class ProofError(BcdbError):
    """A Merkle proof that does not verify (merkle/verify.rs `ProofError`)."""


class CodecError(BcdbError):
    """Proof bytes that are not `u8 count ‖ count × 32 bytes` (merkle/codec.rs)."""


class EntryError(BcdbError):
    """Bytes that are not a canonical ledger entry (entry.rs `EntryError`)."""


class SignatureError(BcdbError):
    """An author signature that does not verify."""


class CheckpointError(BcdbError):
    """A checkpoint that is malformed or not signed by the expected key."""


class ObjectError(BcdbError):
    """JSON or bytes that are not an object of a schema (object.rs `ObjectError`): `kind` is
    `invalid`, `unknown_field`, `unknown_schema`, `limit`, `too_large`, `not_an_object`,
    `malformed`, or `unsupported` for what this client refuses to encode itself."""


class ServerError(BcdbError):
    """The server refused a command; the message is its error text (`ERR …`) as sent."""

    def __init__(self, message: str):
        super().__init__("server", message)


class AuthError(BcdbError):
    """Authentication could not be done (no identity, no instance key, refused)."""


class VerifyError(BcdbError):
    """Why a client refuses a record (ledger.rs `VerifyError`); `cause` is the error behind
    it, if any, and `reason` is `kind/cause.kind` (e.g. `inconsistent/root_mismatch`)."""

    def __init__(self, kind: str, message: str, cause: BcdbError | None = None):
        super().__init__(kind, message)
        self.cause = cause

    @property
    def reason(self) -> str:
        return f"{self.kind}/{self.cause.kind}" if self.cause else self.kind
