"""Attribute-style objects of a parsed schema, type-checked on assignment.

```python
house = Model(schemas[0], schemas=schemas, name="villa")
house.rooms = [{"area": 12.5}]          # embedded objects from dicts or Models
house.color = "green"                   # enums by name (any case) or index → "GREEN"
house.to_dict()                         # the JSON view the server reads (spec §1.6)
```

Fields hold their default until set; a field without one reads as None and is left out
of `to_dict`. Values are coerced the way the Rust object layer reads JSON where that is
cheap (ints in range, floats, booleans, enums, lists, nested objects, bytes as hex); text
forms the server parses itself (dates, durations, amounts, phone numbers) are passed on as
text. `id` is the object id (None until the server assigns one) and is not a field: the
JSON view never carries it. A field takes precedence over a method of the same name
(`Model.to_dict(obj)` still works).
"""

from __future__ import annotations

import ipaddress
import json
import math

from .keys import strict_hex
from .schema import Field, FieldType, Schema, split_list

_TEXT = {"S", "MULTILINE", "PATH", "YAML", "URL", "EMAIL", "TEL", "IPADDR", "IPRANGE", "GUID"}
_INT = {"I": (-(2**31), 2**31 - 1), "I64": (-(2**63), 2**63 - 1), "IPPORT": (0, 65535),
        "D": (0, 2**32 - 1), "T": (0, 2**32 - 1), "DURATION": (0, 2**32 - 1)}
_TRUE, _FALSE = {"true", "t", "yes", "y", "1", "on"}, {"false", "f", "no", "n", "0", "off"}


class Model:
    """One object of `schema`; `schemas` (a list or a dict by url) resolves embedded ones."""

    def __init__(self, schema: Schema, schemas=None, **values):
        if isinstance(schemas, (list, tuple)):
            schemas = {s.url: s for s in schemas}
        fields = {f.name: f for f in schema.fields}
        object.__setattr__(self, "_m", (schema, schemas or {}, fields))
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "id", None)
        defaults = object.__getattribute__(self, "_values")
        for f in schema.fields:
            if f.default is not None:
                defaults[f.name] = _coerce(self, f, f.type, f.default, from_text=True)
        for name, value in values.items():
            if name != "id" and name not in fields:
                raise ValueError(f"{schema.url} has no field {name!r}")
            setattr(self, name, value)

    @classmethod
    def from_dict(cls, schema: Schema, data: dict, schemas=None) -> Model:
        """An object from its JSON view; an `id` key becomes the object id."""
        data = dict(data)
        object_id = data.pop("id", None)
        obj = cls(schema, schemas, **data)
        object.__setattr__(obj, "id", object_id)
        return obj

    def __getattribute__(self, name):
        fields = object.__getattribute__(self, "_m")[2]
        if name in fields:
            return object.__getattribute__(self, "_values").get(name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        schema, _, fields = object.__getattribute__(self, "_m")
        values = object.__getattribute__(self, "_values")
        if name == "id" and name not in fields:
            object.__setattr__(self, "id", value)
        elif name not in fields:
            raise AttributeError(f"{schema.url} has no field {name!r}")
        elif value is None:
            values.pop(name, None)
        else:
            values[name] = _coerce(self, fields[name], fields[name].type, value)

    def __delattr__(self, name):
        self.__setattr__(name, None)

    @property
    def schema(self) -> Schema:
        return object.__getattribute__(self, "_m")[0]

    def to_dict(self) -> dict:
        """The JSON view: set fields by name, bytes as hex, embedded objects as dicts."""
        return {name: _json(v) for name, v in object.__getattribute__(self, "_values").items()}

    def to_json(self) -> str:
        return json.dumps(Model.to_dict(self), sort_keys=True, separators=(",", ":"))

    def __eq__(self, other):
        return (isinstance(other, Model) and Model.schema.fget(self) is Model.schema.fget(other)
                and Model.to_dict(self) == Model.to_dict(other))

    def __repr__(self):
        return f"<{Model.schema.fget(self).url} id={object.__getattribute__(self, 'id')} " \
               f"{Model.to_dict(self)}>"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(object.__getattribute__(self, "_m")[2]))


def _json(value):
    if isinstance(value, Model):
        return Model.to_dict(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _coerce(owner: Model, f: Field, ty: FieldType, value, from_text: bool = False):
    """`value` as a value of `ty` (field `f` of `owner`); raises ValueError."""
    url = object.__getattribute__(owner, "_m")[0].url

    def bad(why: str):
        return ValueError(f"{url}.{f.name}: {value!r} {why}")

    base = ty.base
    if isinstance(value, bool) and base not in ("B", "L", "JSON"):
        raise bad(f"is not a value of ({ty.code})")
    if base == "L":
        if from_text and isinstance(value, str):
            value = split_list(value)
        if not isinstance(value, (list, tuple)):
            raise bad("is not a list")
        if ty.element is None:
            if not all(isinstance(v, (str, int, float, bool)) for v in value):
                raise bad("holds items other than strings, numbers and booleans")
            return list(value)
        return [_coerce(owner, f, ty.element, v, from_text) for v in value]
    if base == "E":
        if isinstance(value, str) and value.strip().upper() in ty.values:
            return value.strip().upper()
        if isinstance(value, int) and 0 <= value < len(ty.values):
            return ty.values[value]
        raise bad(f"is not one of {', '.join(ty.values)}")
    if base == "O":
        schemas = object.__getattribute__(owner, "_m")[1]
        if isinstance(value, Model) and value.schema.url == ty.url:
            return value
        if ty.url not in schemas:
            raise bad(f"needs the schema {ty.url} (pass schemas=...)")
        if isinstance(value, dict):
            return Model(schemas[ty.url], schemas, **value)
        raise bad(f"is not an object of {ty.url}")
    if base in _TEXT:
        if not isinstance(value, str):
            raise bad("is not a string")
        if base == "MULTILINE" and from_text:
            return value.replace("\\n", "\n")
        if value and base == "EMAIL" and "@" not in value:
            raise bad("is not an email address")
        if value and base == "IPADDR":
            try:
                return str(ipaddress.ip_address(value.strip()))
            except ValueError:
                raise bad("is not an IP address") from None
        return value
    if base in _INT:
        low, high = _INT[base]
        if isinstance(value, str):
            text = value.strip()
            if base in ("D", "T", "DURATION") and not text.isdigit():
                return value  # a date or duration the server reads
            try:
                value = int(text)
            except ValueError:
                raise bad("is not an integer") from None
        if not isinstance(value, int) or not low <= value <= high:
            raise bad(f"is not an integer in {low}..={high}")
        return value
    if base in ("F", "P"):
        if isinstance(value, str):
            try:
                value = float(value.strip().removesuffix("%") if base == "P" else value)
            except ValueError:
                raise bad("is not a number") from None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad("is not a finite number")
        return float(value)
    if base == "B":
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise bad("is not a boolean")
    if base == "N":
        if isinstance(value, (str, int)) or (isinstance(value, float) and math.isfinite(value)):
            return value
        raise bad("is not an amount")
    if base == "H":
        if isinstance(value, (list, tuple)) and len(value) == 2:
            value = f"{value[0]}:{value[1]}"
        parts = value.split(":") if isinstance(value, str) else []
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) < 2**32 for p in parts):
            raise bad("is not a hash pair a:b")
        return value
    if base in ("BYTES", "MSGPACK", "CAPNPBIN"):
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        try:
            return strict_hex(value)
        except (ValueError, TypeError):
            raise bad("is not bytes or hex") from None
    if base == "DICT":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise bad("is not JSON") from None
        if not isinstance(value, dict):
            raise bad("is not a dict")
        return value
    if base == "JSON":
        try:
            json.loads(value) if isinstance(value, str) else json.dumps(value)
        except (ValueError, TypeError):
            raise bad("is not JSON") from None
        return value
    raise bad(f"has a type this client does not know: ({ty.code})")
