"""Attribute-style objects of a parsed schema, type-checked on assignment.

```python
house = Model(schemas[0], schemas=schemas, name="villa")
house.rooms = [{"area": 12.5}]          # embedded objects from dicts or Models
house.color = "green"                   # enums by name (any case) or index → "GREEN"
house.to_dict()                         # the JSON view the server reads (spec §1.6)
```

Fields hold their default until set; a field without one reads as None and is left out
of `to_dict`. A value is coerced on assignment exactly as the server reads it (codec.py,
the port of Rust's rules) and kept in the form the server's JSON view shows: dates and
durations as seconds, amounts as `"10 USD"`, phone numbers, e-mail, IP addresses and
GUIDs normalised, enums by name; so an object read back from the server compares equal to
the one saved. Binary fields hold bytes (hex in the JSON view), embedded objects Models.
`id` is the object id (None until the server assigns one) and is not a field: the JSON
view never carries it. A field takes precedence over a method of the same name
(`Model.to_dict(obj)` still works).
"""

from __future__ import annotations

import json

from . import codec
from .errors import ObjectError
from .schema import Field, FieldType, Schema


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
            default = _default(self, f)
            if default is not None:
                defaults[f.name] = default
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


def _coerce(owner: Model, f: Field, ty: FieldType, value):
    """`value` as a value of `ty` (field `f` of `owner`), in its JSON-view form; raises
    ValueError. Scalars and enums follow codec.py, i.e. Rust's reading of the JSON view."""
    url = object.__getattribute__(owner, "_m")[0].url
    if ty.base == "L":
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{url}.{f.name}: {value!r} is not a list")
        if ty.element is None:
            return [_checked(url, f, None, v) for v in value]
        return [_coerce(owner, f, ty.element, v) for v in value]
    if ty.base == "O":
        schemas = object.__getattribute__(owner, "_m")[1]
        if isinstance(value, Model) and value.schema.url == ty.url:
            return value
        if ty.url not in schemas:
            raise ValueError(f"{url}.{f.name}: needs the schema {ty.url} (pass schemas=...)")
        if isinstance(value, dict):
            return Model(schemas[ty.url], schemas, **value)
        raise ValueError(f"{url}.{f.name}: {value!r} is not an object of {ty.url}")
    if ty.base in codec.BINARY and isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return _checked(url, f, ty, value)


def _checked(url: str, f: Field, ty: FieldType | None, value):
    """A scalar, enum or untyped list item read as Rust reads it, in its view form (bytes
    stay bytes)."""
    try:
        if ty is None:
            read = codec.untyped_item(value, f.name)
        elif ty.base == "E":
            read = codec.enum_value(ty.values, value, f.name)
        else:
            read = codec.scalar(ty.base, value, f.name)
    except ObjectError as e:
        raise ValueError(f"{url}: {e}") from None
    return read if isinstance(read, bytes) else codec.view_value(ty, read)


def _default(owner: Model, f: Field):
    """The default of `f` in its view form, or None; a bad default raises ValueError."""
    url = object.__getattribute__(owner, "_m")[0].url
    try:
        value = codec.default_value(f)
    except ValueError as e:
        raise ValueError(f"{url}.{f.name}: bad default {f.default!r}: {e}") from None
    if value is None or isinstance(value, bytes):
        return value
    return codec.view_value(f.type, value)
