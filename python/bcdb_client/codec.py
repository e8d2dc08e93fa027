"""The canonical object encoding (crates/bcdb/src/object/codec.rs, coerce.rs, view.rs), so a
client can compute an object's `value_hash` — and sign a change — from its own reading of
the JSON view instead of trusting the server's.

```text
object  = u8 version (1) ‖ fields
fields  = u32 LE count ‖ count × (u16 LE nr ‖ value)      numbers ascending
value   = u8 tag ‖ payload
0x01 text u32 len ‖ UTF-8     0x02 int i64     0x03 float f64     0x04 bool u8
0x05 numeric u8 scale ‖ u8 kind ‖ i64|f64 ‖ u8 currency len ‖ A–Z
0x06 enum u8   0x07 hash u32 ‖ u32   0x08 list u32 count ‖ values
0x09 bytes u32 len ‖ bytes     0x0a object fields (no version byte)
```

`encode_json(schema, data, schemas)` reads the JSON view the way `Object::from_json` does
(defaults applied to absent fields, every text form of values.py, dicts and `json` values
as canonical JSON with serde_json's number format) and returns the bytes
`Object::encode` writes. No type is refused: all of jsxschema, the text-parsed ones
included (dates, date-times, durations, amounts, phone numbers, e-mail, IP addresses and
ranges, GUIDs, hash pairs), is ported and cross-checked against Rust's bytes. Errors are
`ObjectError`s with Rust's messages, except the tail of a message that quotes serde_json's
own parse error for a bad JSON text. `data` must be what JSON can carry (string keys,
finite numbers): the client encodes what it reads back from the JSON text it sends.

`decode(data)` is the strict structural reader (the bytes `encode` could have written,
nothing after the end); `view(schema, fields, schemas)` turns values back into the JSON
view (holding them against the schema only as far as naming them needs).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct

from .errors import ObjectError
from .schema import Field, FieldType, Schema, split_list
from .jsontext import canonical_json, json_deeper_than, json_number, load_json, show
from .values import (I32, I64, U32, EnumIndex, HashPair, NotAllowed, Numeric, ascii_upper,
                     coerce_scalar, literal, trim)

VERSION = 1
MAX_DEPTH = 16
MAX_OBJECT_BYTES = 1 << 20
MAX_LIST = 100_000
MAX_STRING = 1 << 20
TEXT, INT, FLOAT, BOOL, NUMERIC, ENUM, HASH, LIST, BYTES, OBJECT = range(1, 11)

_PLAIN_TEXT = {"S", "MULTILINE", "PATH", "YAML"}
_CHECKED_TEXT = {"EMAIL", "TEL", "IPADDR", "IPRANGE", "GUID", "URL"}
BINARY = {"BYTES", "MSGPACK", "CAPNPBIN"}
_INT_RANGE = {"I": I32 + ("a 32-bit integer",), "I64": I64 + ("a 64-bit integer",),
              "IPPORT": (0, 65535, "a port number (0..=65535)"),
              "D": U32 + ("a time in 1970-01-01..2106-02-07",),
              "T": U32 + ("a time in 1970-01-01..2106-02-07",),
              "DURATION": U32 + ("a duration of 0..=4294967295 seconds",)}
_NOUN = {"F": "a number", "P": "a percentage", "B": "a boolean", "N": "an amount",
         "EMAIL": "an email address", "TEL": "a phone number", "IPADDR": "an IP address",
         "IPRANGE": "an IP range", "GUID": "a GUID", "URL": "a URL", "JSON": "JSON text",
         "DICT": "a dict (a JSON object)", "H": "a hash pair a:b"}


# --- JSON view → values (coerce.rs) -------------------------------------------------------

def _path(parent: str, name) -> str:
    if isinstance(name, int):
        return f"{parent}[{name}]"
    return f"{parent}.{name}" if parent else name


def _invalid(path: str, reason: str) -> ObjectError:
    return ObjectError("invalid", f"field {json.dumps(path)}: {reason}")


def _limit(path: str, reason: str) -> ObjectError:
    return ObjectError("limit", f"field {json.dumps(path)}: {reason}")


def default_value(f: Field):
    """The value a field takes when absent, as the Rust parser stores it (None: none)."""
    ty = f.type
    if ty.base == "E":
        return EnumIndex(0)
    if f.default is None or ty.enum_values or ty.object_url:
        return None
    if ty.base != "L":
        return _canonical(coerce_scalar(ty.base, f.default))
    items = split_list(f.default)
    if not items:
        return None
    out = []
    for item in items:
        if not item:
            raise ValueError("empty list item")
        out.append(item if ty.element is None else coerce_scalar(ty.element.base, item))
    return [_canonical(v) for v in out]


def _canonical(value):
    """`-0.0` as `0.0`, in floats and float amounts."""
    if isinstance(value, float) and value == 0.0:
        return 0.0
    if isinstance(value, Numeric) and isinstance(value.amount, float) and value.amount == 0.0:
        return Numeric(0.0, value.scale, value.currency)
    return value


class _Reader:
    """One `encode_json` call: the schemas by url for embedded objects."""

    def __init__(self, schemas):
        if isinstance(schemas, (list, tuple)):
            schemas = {s.url: s for s in schemas}
        self.schemas = schemas or {}

    def object(self, schema: Schema, data, path: str, depth: int) -> dict:
        if not isinstance(data, dict):
            if not path:
                raise ObjectError("not_an_object", f"expected a JSON object, got {show(data)}")
            raise _invalid(path, f"{show(data)} is not an object of {schema.url}")
        names = {f.name for f in schema.fields}
        unknown = sorted(k for k in data if k not in names)
        if unknown:
            raise ObjectError("unknown_field", f"field {json.dumps(_path(path, unknown[0]))}: "
                              f"unknown field (schema {schema.url} has no such field)")
        out = {}
        for f in schema.fields:
            value = data.get(f.name)
            if value is None:
                try:
                    value = default_value(f)
                except ValueError as e:
                    raise _invalid(_path(path, f.name), f"bad default: {e}") from None
                if value is not None:
                    out[f.nr] = value
                continue
            out[f.nr] = self.value(f.type, value, _path(path, f.name), depth)
        return out

    def value(self, ty: FieldType, data, path: str, depth: int):
        if ty.base == "E":
            return enum_value(ty.values, data, path)
        if ty.base == "O":
            if depth + 1 > MAX_DEPTH:
                raise _limit(path, f"objects nested more than {MAX_DEPTH} deep")
            schema = self.schemas.get(ty.url)
            if schema is None:
                raise ObjectError("unknown_schema",
                                  f"field {json.dumps(path)}: schema {ty.url} is not known")
            return self.object(schema, data, path, depth + 1)
        if ty.base == "L":
            if not isinstance(data, (list, tuple)):
                raise _invalid(path, f"{show(data)} is not a list")
            if len(data) > MAX_LIST:
                raise _limit(path, f"{len(data)} items, more than {MAX_LIST}")
            if ty.element is None:
                return [untyped_item(v, _path(path, i)) for i, v in enumerate(data)]
            return [self.value(ty.element, v, _path(path, i), depth) for i, v in enumerate(data)]
        return scalar(ty.base, data, path)


def enum_value(values: tuple, data, path: str) -> EnumIndex:
    index = None
    if isinstance(data, str):
        name = ascii_upper(trim(data))
        index = values.index(name) if name in values else None
    elif isinstance(data, int) and not isinstance(data, bool) and data >= 0:
        index = data
    if index is not None and index < len(values):
        return EnumIndex(index)
    shown = ", ".join(values[:10]) + (", …" if len(values) > 10 else "")
    raise _invalid(path, f"{show(data)} is not one of {shown} (or an index below {len(values)})")


def untyped_item(data, path: str):
    if isinstance(data, str):
        if len(data.encode()) > MAX_STRING:
            raise _limit(path, f"{len(data.encode())} bytes, more than {MAX_STRING}")
        return data
    if isinstance(data, bool):
        return data
    if isinstance(data, (int, float)):
        try:
            n = json_number(data)
        except ValueError:
            n = math.inf
        if isinstance(n, int) and n <= I64[1]:
            return n
        if math.isfinite(n):
            return _canonical(float(n))
    raise _invalid(path, f"{show(data)} is not a string, number or boolean")


def scalar(code: str, data, path: str):
    """One scalar of type `code` from a JSON value (coerce.rs `scalar`), `-0.0` as `0.0`."""
    return _canonical(_scalar(code, data, path))


def _scalar(code: str, data, path: str):
    noun = _INT_RANGE[code][2] if code in _INT_RANGE else _NOUN.get(
        code, "a string" if code in _PLAIN_TEXT else "hex-encoded bytes")

    def bad(why: str | None = None):
        return _invalid(path, f"{show(data)} is not {noun}" + (f": {why}" if why else ""))

    def coerce(text: str):
        try:
            return coerce_scalar(code, text)
        except NotAllowed:
            raise bad() from None
        except ValueError as e:
            raise bad(str(e)) from None

    is_text = isinstance(data, str)
    if is_text and len(data.encode("utf-8", "surrogatepass")) > MAX_STRING:
        raise _limit(path, f"{len(data.encode('utf-8', 'surrogatepass'))} bytes, "
                           f"more than {MAX_STRING}")
    is_number = isinstance(data, (int, float)) and not isinstance(data, bool)
    if is_number:
        try:
            data = json_number(data)
        except ValueError:
            raise bad("number out of range") from None
        if isinstance(data, float) and not math.isfinite(data):
            raise bad("not a finite number")
    if code in _PLAIN_TEXT and is_text:
        return data
    if code in _CHECKED_TEXT and is_text:
        return "" if data == "" else coerce(data)
    if code == "JSON":
        if is_text:
            return "" if data == "" else coerce(data)
        if json_deeper_than(data, MAX_DEPTH):
            raise _limit(path, f"JSON nested more than {MAX_DEPTH} deep")
        try:
            return canonical_json(data)
        except ValueError as e:
            raise bad(str(e)) from None
    if code == "DICT":
        inner = data
        if is_text:
            try:
                inner = load_json(data)
            except (ValueError, RecursionError) as e:
                raise bad(str(e)) from None
            if not isinstance(inner, dict):
                raise bad("the text is not a JSON object")
        if isinstance(inner, dict):
            if json_deeper_than(inner, MAX_DEPTH):
                raise _limit(path, f"JSON nested more than {MAX_DEPTH} deep")
            try:
                return canonical_json(inner)
            except ValueError as e:
                raise bad(str(e)) from None
        raise bad()
    if code in BINARY and is_text:
        return _hex(data, bad)
    if code in _INT_RANGE and is_number:
        low, high, _ = _INT_RANGE[code]
        if isinstance(data, float):
            raise bad("not an integer")
        if not low <= data <= high:
            raise bad(f"outside {low}..={high}")
        return data
    if code in ("F", "P") and is_number:
        return float(data)
    if code == "B" and isinstance(data, bool):
        return data
    if code == "B" and is_number:
        if isinstance(data, int) and data in (0, 1):
            return data == 1
        raise bad("only 0 and 1 are booleans")
    if code == "N" and is_number:
        if isinstance(data, int) and data <= I64[1]:
            return Numeric(data)
        return Numeric(float(data))
    if code == "H" and isinstance(data, (list, tuple)):
        if len(data) != 2:
            raise bad("expected [a, b]")
        if not all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= U32[1]
                   for h in data):
            raise bad("expected two 32-bit unsigned integers")
        return HashPair(data[0], data[1])
    if is_text and code not in _PLAIN_TEXT | _CHECKED_TEXT:
        return coerce(data)
    raise bad()


def _hex(text: str, bad) -> bytes:
    """`hex::decode`, with its error texts."""
    if len(text.encode()) % 2:
        raise bad("Odd number of digits")
    for i, c in enumerate(text):
        if c not in "0123456789abcdefABCDEF":
            raise bad(f"Invalid character {c!r} at position {len(text[:i].encode())}")
    return bytes.fromhex(text)


# --- values → bytes and back (codec.rs) -------------------------------------------------

def encode_fields(fields: dict) -> bytes:
    """Version byte, then the fields: `Object::encode`."""
    out = bytearray([VERSION])
    _write_fields(out, fields)
    return bytes(out)


def _write_fields(out: bytearray, fields: dict) -> None:
    out += struct.pack("<I", len(fields))
    for nr in sorted(fields):
        out += struct.pack("<H", nr)
        _write_value(out, fields[nr])


def _write_value(out: bytearray, v) -> None:
    if isinstance(v, str):
        data = v.encode()
        out += struct.pack("<BI", TEXT, len(data)) + data
    elif isinstance(v, bool):
        out += bytes([BOOL, int(v)])
    elif isinstance(v, int):
        out += struct.pack("<Bq", INT, v)
    elif isinstance(v, float):
        out += struct.pack("<Bd", FLOAT, v + 0.0)
    elif isinstance(v, Numeric):
        kind = 1 if isinstance(v.amount, float) else 0
        amount = struct.pack("<d" if kind else "<q", v.amount)
        currency = (v.currency or "").encode()
        out += bytes([NUMERIC, v.scale, kind]) + amount + bytes([len(currency)]) + currency
    elif isinstance(v, EnumIndex):
        out += bytes([ENUM, v.index])
    elif isinstance(v, HashPair):
        out += struct.pack("<BII", HASH, v.a, v.b)
    elif isinstance(v, list):
        out += struct.pack("<BI", LIST, len(v))
        for item in v:
            _write_value(out, item)
    elif isinstance(v, bytes):
        out += struct.pack("<BI", BYTES, len(v)) + v
    elif isinstance(v, dict):
        out.append(OBJECT)
        _write_fields(out, v)
    else:
        raise TypeError(f"{type(v).__name__} is not an object value")


def encode_json(schema: Schema, data: dict, schemas=None) -> bytes:
    """The canonical bytes of the object `data` (its JSON view) of `schema`; `schemas`
    (a list or a dict by url) resolves embedded objects. Raises `ObjectError`."""
    try:
        out = encode_fields(_Reader(schemas).object(schema, data, "", 0))
    except UnicodeEncodeError as e:
        raise ObjectError("invalid", f"text is not UTF-8 (a lone surrogate): {e}") from None
    if len(out) > MAX_OBJECT_BYTES:
        raise ObjectError("too_large", f"object is {len(out)} bytes encoded, "
                                       f"more than {MAX_OBJECT_BYTES}")
    return out


def object_hash(schema: Schema, data: dict, schemas=None) -> bytes:
    """SHA-256 of the canonical bytes: the `value_hash` a ledger entry records."""
    return hashlib.sha256(encode_json(schema, data, schemas)).digest()


def _malformed(at: int, reason: str) -> ObjectError:
    return ObjectError("malformed", f"object bytes, at byte {at}: {reason}")


class _Bytes:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise _malformed(self.at, f"{n} bytes needed, input ends")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def count(self, most: int, unit: int) -> int:
        at = self.at
        n = struct.unpack("<I", self.take(4))[0]
        if n > most:
            raise _malformed(at, f"length {n}, more than {most}")
        if n * unit > len(self.data) - self.at:
            raise _malformed(at, f"length {n} runs past the end")
        return n

    def float(self) -> float:
        at = self.at
        f = struct.unpack("<d", self.take(8))[0]
        if not math.isfinite(f) or (f == 0.0 and math.copysign(1.0, f) < 0):
            raise _malformed(at, f"float {f} (only finite, no -0.0)")
        return f

    def fields(self, depth: int) -> dict:
        out, last = {}, None
        for _ in range(self.count(65536, 4)):
            at = self.at
            nr = struct.unpack("<H", self.take(2))[0]
            if last is not None and nr <= last:
                raise _malformed(at, f"field {nr} out of order")
            last = nr
            out[nr] = self.value(depth)
        return out

    def value(self, depth: int):
        at = self.at
        tag = self.u8()
        if tag == TEXT:
            text_at = self.at
            try:
                return self.take(self.count(MAX_STRING, 1)).decode()
            except UnicodeDecodeError as e:
                raise _malformed(text_at, f"text is not UTF-8: {e}") from None
        if tag == INT:
            return struct.unpack("<q", self.take(8))[0]
        if tag == FLOAT:
            return self.float()
        if tag == BOOL:
            b = self.u8()
            if b > 1:
                raise _malformed(at + 1, f"bool byte {b}")
            return b == 1
        if tag == NUMERIC:
            return self.numeric()
        if tag == ENUM:
            return EnumIndex(self.u8())
        if tag == HASH:
            return HashPair(*struct.unpack("<II", self.take(8)))
        if tag == LIST:
            return [self.value(depth) for _ in range(self.count(MAX_LIST, 2))]
        if tag == BYTES:
            return self.take(self.count(MAX_STRING, 1))
        if tag == OBJECT:
            if depth >= MAX_DEPTH:
                raise _malformed(at, f"objects nested more than {MAX_DEPTH} deep")
            return self.fields(depth + 1)
        raise _malformed(at, f"unknown tag {tag:#04x}")

    def numeric(self) -> Numeric:
        at = self.at
        scale = self.u8()
        if scale > 3:
            raise _malformed(at, f"numeric scale {scale}")
        kind = self.u8()
        if kind == 0:
            amount = struct.unpack("<q", self.take(8))[0]
        elif kind == 1:
            amount = self.float()
        else:
            raise _malformed(at + 1, f"numeric amount kind {kind}")
        len_at = self.at
        n = self.u8()
        if n > 8:
            raise _malformed(len_at, f"currency of {n} letters")
        letters = self.take(n)
        if not all(0x41 <= b <= 0x5A for b in letters):
            raise _malformed(len_at + 1, "currency is not A-Z")
        return Numeric(amount, scale, letters.decode() if n else None)


def decode(data: bytes) -> dict:
    """The values by field number of an encoding, read as strictly as Rust reads it
    (structure only: holding them against a schema is `view`'s business)."""
    if len(data) > MAX_OBJECT_BYTES:
        raise ObjectError("too_large", f"object is {len(data)} bytes encoded, "
                                       f"more than {MAX_OBJECT_BYTES}")
    r = _Bytes(bytes(data))
    version = r.u8()
    if version != VERSION:
        raise _malformed(0, f"unknown version {version}")
    fields = r.fields(0)
    if r.at != len(r.data):
        raise _malformed(r.at, f"{len(r.data) - r.at} bytes after the object")
    return fields


# --- values → JSON view (view.rs) ---------------------------------------------------------

def view(schema: Schema | None, fields: dict, schemas=None) -> dict:
    """The JSON view of decoded values, named by `schema` (a field it lacks is written
    under its number, as Rust does)."""
    if isinstance(schemas, (list, tuple)):
        schemas = {s.url: s for s in schemas}
    out = {}
    for nr, value in sorted(fields.items()):
        f = schema.field_by_nr(nr) if schema else None
        out[f.name if f else str(nr)] = view_value(f.type if f else None, value, schemas or {})
    return out


def view_value(ty: FieldType | None, value, schemas: dict | None = None):
    if isinstance(value, str) and ty is not None and ty.base == "DICT":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, (Numeric, HashPair)):
        return literal(None, value)
    if isinstance(value, EnumIndex):
        if ty is not None and ty.base == "E" and value.index < len(ty.values):
            return ty.values[value.index]
        return value.index
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        element = ty.element if ty is not None else None
        return [view_value(element, item, schemas) for item in value]
    if isinstance(value, dict):
        url = ty.object_url if ty is not None else None
        schemas = schemas or {}
        return view(schemas.get(url) if url else None, value, schemas)
    return value
