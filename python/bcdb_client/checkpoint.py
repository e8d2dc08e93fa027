"""Signed checkpoints (crates/bcdb/src/checkpoint.rs): "the ledger ORIGIN had SIZE entries
whose Merkle root was ROOT", signed by the instance key.

```text
<origin>
<size>
<root, 64 hex>
<time_ms>

— <signer key, 64 hex> <signature, 128 hex>
```

The signature covers the payload `bcdb-checkpoint` with one field: the four body lines,
each ending in a newline. Parsing is as strict as Rust's, with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CheckpointError
from .keys import parse_public_key, payload, public_key, strict_hex, verify_signature

PURPOSE = "bcdb-checkpoint"
MAX_ORIGIN = 256
_SHAPE = "expected 4 body lines, a blank line, a signature line"


def _malformed(why: str) -> CheckpointError:
    return CheckpointError("malformed", f"malformed checkpoint: {why}")


def _number(text: str, what: str) -> int:
    if 0 < len(text) <= 20 and set(text) <= set("0123456789") and int(text) < 1 << 64:
        return int(text)
    raise _malformed(f"{what} is not a decimal number")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint and its signature (`root`, `signer`, `signature` are raw bytes)."""

    origin: str
    size: int
    root: bytes
    time_ms: int
    signer: bytes
    signature: bytes

    def body(self) -> str:
        """The signed lines."""
        return f"{self.origin}\n{self.size}\n{self.root.hex()}\n{self.time_ms}\n"

    def to_text(self) -> str:
        """The text form."""
        return f"{self.body()}\n— {self.signer.hex()} {self.signature.hex()}\n"

    @staticmethod
    def parse(text: str | bytes) -> Checkpoint:
        """Parses the text form; the signature is not checked (see `verify`)."""
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", errors="replace")
        if len(text.encode()) > MAX_ORIGIN + 512:
            raise _malformed("too long")
        lines = text.split("\n")
        if len(lines) != 7 or lines[4] or lines[6] or not lines[0]:
            raise _malformed(_SHAPE)
        origin, size, root, time, _, sig, _ = lines
        size, time_ms = _number(size, "size"), _number(time, "time")
        try:
            if len(root) != 64:
                raise ValueError
            root_bytes = strict_hex(root)
        except ValueError:
            raise _malformed("root is not 64 hex digits") from None
        if not sig.startswith("— ") or " " not in sig[2:]:
            raise _malformed("signature line is `— <key> <signature>`")
        key, signature = sig[2:].split(" ", 1)
        try:
            signer = parse_public_key(key)
        except ValueError:
            raise _malformed("signer is not a public key") from None
        try:
            signature = strict_hex(signature.strip())
            if len(signature) != 64:
                raise ValueError
        except ValueError:
            raise _malformed("signature is not 128 hex digits") from None
        return Checkpoint(origin, size, root_bytes, time_ms, signer, signature)

    def verify(self, expected) -> None:
        """Checks that `expected` (32 bytes or hex) signed this checkpoint; raises
        `CheckpointError` (`wrong_signer` or `bad_signature`) otherwise."""
        want = public_key(expected)
        if self.signer != want:
            raise CheckpointError("wrong_signer", f"checkpoint signed by {self.signer.hex()}, "
                                  f"expected {want.hex()}")
        message = payload(PURPOSE, self.body().encode())
        if not verify_signature(self.signer, message, self.signature):
            raise CheckpointError("bad_signature",
                                  f"checkpoint signature by {self.signer.hex()} does not verify")
