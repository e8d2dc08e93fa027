"""Signing payloads, ed25519 public keys and signatures as tfgrid writes them
(crates/identity/src/payload.rs and keys.rs).

A payload is `tfgrid/v1/<purpose>` and a NUL, then each field as a little-endian u32
length and its bytes; an integer field is its 8 little-endian bytes. Keys are 64 hex
digits (or base58), signatures 128 hex digits. Signatures are checked with libsodium
(PyNaCl), which, like ed25519-dalek's `verify_strict`, refuses non-canonical scalars and
small-order keys and R points; it also refuses non-canonical key encodings, which dalek
may accept (no honest key has one).
"""

import string
import struct

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

_PREFIX = b"tfgrid/v1/"
_HEX = set(string.hexdigits)
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Curve25519 field prime and the Edwards curve constant d = -121665/121666.
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P


def payload(purpose: str, *fields) -> bytes:
    """The bytes a signature of `purpose` covers; `fields` are bytes, or ints (as u64)."""
    if "\0" in purpose:
        raise ValueError("a signing purpose has no NUL byte")
    out = bytearray(_PREFIX + purpose.encode() + b"\0")
    for field in fields:
        if isinstance(field, int):
            field = struct.pack("<Q", field)
        out += struct.pack("<I", len(field)) + bytes(field)
    return bytes(out)


def strict_hex(text: str) -> bytes:
    """Hex digits (either case) and nothing else; `bytes.fromhex` would skip spaces."""
    if len(text) % 2 or not set(text) <= _HEX:
        raise ValueError(f"not hex: {text[:80]!r}")
    return bytes.fromhex(text)


def is_point(key: bytes) -> bool:
    """Whether 32 bytes decompress to a point of the curve, as ed25519-dalek's
    `VerifyingKey::from_bytes` decides: the y coordinate (high bit ignored, reduced mod p)
    must have an x with `x² = (y² - 1) / (d·y² + 1)`."""
    if len(key) != 32:
        return False
    y = (int.from_bytes(key, "little") & ((1 << 255) - 1)) % _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    return x2 == 0 or pow(x2, (_P - 1) // 2, _P) == 1


def _b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        digit = _B58.find(c)
        if digit < 0:
            raise ValueError(f"{c!r} is not base58")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + n.to_bytes((n.bit_length() + 7) // 8, "big")


def parse_public_key(text: str) -> bytes:
    """The 32 bytes of a key written as 64 hex digits or base58 (`PublicKey::parse`)."""
    text = text.strip()
    if len(text) == 64 and set(text) <= _HEX:
        key = bytes.fromhex(text)
    else:
        key = _b58decode(text)
    if len(key) != 32 or not is_point(key):
        raise ValueError(f"{text[:80]!r} is not an ed25519 public key")
    return key


def public_key(key) -> bytes:
    """A key given as 32 bytes or as text."""
    if isinstance(key, str):
        return parse_public_key(key)
    key = bytes(key)
    if len(key) != 32 or not is_point(key):
        raise ValueError("not an ed25519 public key")
    return key


def verify_signature(key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` (64 bytes) by `key` (32 bytes) covers `message`."""
    try:
        VerifyKey(bytes(key)).verify(bytes(message), bytes(signature))
        return True
    except (CryptoError, ValueError, TypeError):
        return False
