"""A compact port of the jsxschema parser (crates/bcdb/src/schema, spec §1).

`parse(text, url=None)` returns one `Schema` per `@url` block: url, properties and
fields, each field with its number, name, index marks, type (lists, enums, embedded
objects), default as text and comment. It enforces the block rules the Rust parser does
(numbering style, reserved and repeated names, type codes, inference, index marks) and
raises `SchemaError(line, message)`. Defaults are kept as text here; codec.py reads them
as values (refusing a bad one when it is applied) and canonical.py prints the canonical
text and computes the schema hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as _field

from .values import trim

# Scalar rows of §1.4: canonical code first, then aliases; and the index column.
_ROWS = [
    (("s", "str", "string"), "text"), (("multiline",), "text"),
    (("i", "int", "integer"), "integer"), (("i64", "int64"), "integer"),
    (("f", "float"), "real"), (("b", "bool", "boolean"), "boolean"),
    (("d", "date"), "integer"), (("t", "datetime"), "integer"), (("duration",), None),
    (("n", "numeric"), "real"), (("p", "perc", "percent"), "real"), (("email",), "text"),
    (("tel", "mobile"), "text"), (("ipaddr", "ipaddress"), "text"), (("iprange",), "text"),
    (("ipport", "tcpport"), "integer"), (("guid",), "text"), (("url", "u"), "text"),
    (("path",), "text"), (("bytes", "bin", "binary"), None), (("dict",), None),
    (("json",), None), (("yaml",), None), (("msgpack",), None), (("h", "set"), None),
    (("capnpbin", "cbin"), None),
]
_SCALARS = {code: codes[0].upper() for codes, _ in _ROWS for code in codes}
INDEX_COLUMN = {codes[0].upper(): column for codes, column in _ROWS}
_NO_DEFAULT = {"BYTES", "DICT", "MSGPACK", "CAPNPBIN"}
_ENUM, _OBJECT = ("e", "enum", "enumeration"), ("o", "jsxobject")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEY = re.compile(r"[a-z_][a-z0-9_]*\Z")
_SEGMENT = re.compile(r"[a-z0-9_-]+\Z")


class SchemaError(ValueError):
    """A schema text refused: `line` (1-based, 0 for the url argument) and the reason."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}" if line else f"url argument: {message}")
        self.line, self.message = line, message


@dataclass(frozen=True)
class FieldType:
    """A field's type: `base` is a canonical scalar code (`S`, `I`, `N`, …), `E`, `O`, or
    `L` for a list, whose `element` is the item type (None for the untyped list)."""

    base: str
    values: tuple = ()
    url: str | None = None
    element: FieldType | None = None

    @property
    def code(self) -> str:
        """The canonical code, as Rust prints it: `S`, `E`, `O`, `L`, `LS`, `LO`, …"""
        if self.base == "L":
            return "L" + (self.element.code if self.element else "")
        return self.base

    @property
    def is_list(self) -> bool:
        return self.base == "L"

    @property
    def object_url(self) -> str | None:
        return self.url or (self.element.url if self.element else None)

    @property
    def enum_values(self) -> tuple:
        return self.values or (self.element.values if self.element else ())


@dataclass
class Field:
    """One field: `index` is "" (none), "**" (secondary) or "***" (full text)."""

    nr: int
    name: str
    type: FieldType
    default: str | None = None
    index: str = ""
    unique: bool = False
    comment: str | None = None


@dataclass
class Schema:
    """One block: its url, `@key = value` properties (lower-cased keys) and fields."""

    url: str
    properties: dict = _field(default_factory=dict)
    fields: list = _field(default_factory=list)
    warnings: list = _field(default_factory=list)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def field_by_nr(self, nr: int) -> Field | None:
        return next((f for f in self.fields if f.nr == nr), None)

    @property
    def version(self) -> int | None:
        last = self.url.rsplit(".", 1)[-1]
        return int(last) if last.isascii() and last.isdigit() else None


def strip_quotes(text: str) -> str:
    """Removes one pair of matching `'` or `"` around `text`."""
    for q in "\"'":
        if len(text) >= 2 and text[0] == q and text[-1] == q:
            return text[1:-1]
    return text


def split_list(text: str) -> list[str]:
    """Items of a list default: optional `[ ]`, commas, each item trimmed and unquoted."""
    text = trim(text)
    if text.startswith("[") and text.endswith("]") and len(text) >= 2:
        text = text[1:-1]
    if not trim(text):
        return []
    return [strip_quotes(trim(item)) for item in text.split(",")]


def _lower(text: str) -> str:
    """ASCII lower-casing, like Rust's `to_ascii_lowercase` (other text stays and fails)."""
    return text.lower() if text.isascii() else text


def normalise_url(url: str) -> str:
    normal = _lower(url.strip())
    if len(normal) > 1024 or not all(_SEGMENT.match(s) for s in normal.split(".")):
        raise ValueError(f"bad url {url!r} (dotted segments of a-z, 0-9, _ and -)")
    return normal


def parse(text: str, url: str | None = None) -> list[Schema]:
    """Parses every block of `text`; the first may leave out `@url` when `url` is given."""
    blocks, done_urls = [], set()
    try:
        current = _Block(normalise_url(url), from_caller=True) if url is not None else None
    except ValueError as e:
        raise SchemaError(0, str(e)) from None
    for line_no, line in enumerate(text.split("\n"), 1):
        try:
            kind, parts = _read_line(line.removesuffix("\r"))
            if kind == "blank":
                continue
            if kind == "property" and _lower(parts[0]) == "url":
                new = normalise_url(parts[1])
                if current is not None:
                    if not current.from_caller or current.has_content:
                        done_urls.add(current.schema.url)
                        blocks.append(current.schema)
                    elif current.schema.url != new:
                        raise ValueError(f"the text is for {new}, expected {current.schema.url}")
                if new in done_urls:
                    raise ValueError(f"url {new} is declared twice")
                current = _Block(new)
            elif current is None:
                raise ValueError("no @url before the first field or property")
            elif kind == "property":
                current.property(*parts)
            else:
                current.field(parts)
        except ValueError as e:
            raise SchemaError(line_no, str(e)) from None
    if current is not None:
        blocks.append(current.schema)
    return blocks


def _read_line(line: str):
    """("blank", None), ("property", (key, value)) or ("field", parts dict)."""
    code, hash_, comment = line.partition("#")
    content = code.strip()
    if not content:
        return "blank", None
    if "=" not in content:
        raise ValueError(f'expected "=" in {content!r}')
    left, right = content.split("=", 1)
    if left.startswith("@"):
        return "property", (left[1:].strip(), strip_quotes(right.strip()))
    nr, rest = left.split(":", 1) if ":" in left else (None, left)
    rest = rest.strip()
    unique = rest.startswith("&")
    rest = rest[1:].lstrip() if unique else rest
    name = rest.rstrip("*")
    parts = dict(nr=nr.strip() if nr is not None else None, unique=unique,
                 name=name.rstrip(), marks=rest[len(name):],
                 comment=comment.strip() or None if hash_ else None)
    parts.update(_read_right(right))
    return "field", parts


def _read_right(right: str) -> dict:
    """`[DEFAULT] [(TYPE)] [!URL]`: raw default (quotes kept), default text, code, url."""
    out = dict(raw=None, default=None, code=None, url=None)
    rest = right.lstrip()
    if rest[:1] in ("'", '"'):
        close = rest.find(rest[0], 1)
        if close < 0:
            raise ValueError(f"unterminated quote in {rest.rstrip()!r}")
        out["raw"], out["default"] = rest[:close + 1], rest[1:close]
        rest = rest[close + 1:].lstrip()
    else:
        end = min([i for i in (rest.find("("), rest.find("!")) if i >= 0] or [len(rest)])
        if rest[:end].rstrip():
            out["raw"] = out["default"] = rest[:end].rstrip()
        rest = rest[end:]
    if rest.startswith("("):
        close = rest.find(")")
        if close < 0:
            raise ValueError(f"unterminated type in {rest.rstrip()!r}")
        out["code"], rest = rest[1:close].strip(), rest[close + 1:].lstrip()
    if rest.startswith("!"):
        out["url"], rest = rest[1:].strip(), ""
    if rest.strip():
        raise ValueError(f"unexpected text {rest.rstrip()!r}")
    return out


class _Block:
    def __init__(self, url: str, from_caller: bool = False):
        self.schema = Schema(url)
        self.from_caller, self.has_content, self.explicit = from_caller, False, None

    def property(self, key: str, value: str) -> None:
        self.has_content = True
        key = _lower(key)
        if not _KEY.match(key):
            raise ValueError(f"bad property name {key!r}")
        if key in self.schema.properties:
            raise ValueError(f"property @{key} is set twice")
        if key in ("acl", "sub"):
            value = _lower(value)
            if value not in ("true", "false"):
                raise ValueError(f"@{key} is true or false, not {value!r}")
        self.schema.properties[key] = value

    def field(self, parts: dict) -> None:
        self.has_content = True
        fields = self.schema.fields
        explicit = parts["nr"] is not None
        if self.explicit is None:
            self.explicit = explicit
        if self.explicit != explicit:
            raise ValueError("field numbers must be given on every field line or on none")
        if explicit:
            text = parts["nr"]
            if not (text.isascii() and text.isdigit() and int(text) <= 65535):
                raise ValueError(f"bad field number {text!r}")
            nr = int(text)
        else:
            nr = len(fields)
        if any(f.nr == nr for f in fields):
            raise ValueError(f"field number {nr} is used twice")
        f = _build_field(parts, nr, self.schema.warnings)
        if any(g.name.lower() == f.name.lower() for g in fields):
            raise ValueError(f"field {f.name!r} is declared twice")
        fields.append(f)


def _build_field(p: dict, nr: int, warnings: list) -> Field:
    name = p["name"]
    if not _NAME.match(name):
        raise ValueError(f"bad field name {name!r}")
    if name.lower() in ("id", "schema"):
        raise ValueError(f"field name {name!r} is reserved")
    if "__" in name:
        warnings.append(f"{name}: '__' separates flattened index columns")
    marks = p["marks"]
    if len(marks) > 3:
        raise ValueError(f"bad index marks {marks!r} (use ** or ***)")
    if marks == "*":
        warnings.append(f"{name}: '*' is read as '**'")
        marks = "**"
    ty = _field_type(p)
    default = p["default"] if p["default"] else None
    if ty.is_list and default is not None and not split_list(default):
        default = None  # "[]": no default
    if ty.enum_values:
        default = ty.enum_values[0] if ty.base == "E" else None
    elif default is not None and (ty.object_url or (ty.element or ty).base in _NO_DEFAULT):
        raise ValueError(f"a ({ty.code}) field takes no default")
    unique = p["unique"] or name == "name"
    if unique and not marks:
        marks = "**"
    if marks:
        column = "text" if ty.base == "E" else INDEX_COLUMN.get(ty.base)
        if column is None:
            raise ValueError(f"field {name!r} of type ({ty.code}) cannot be indexed")
        if marks == "***" and (column != "text" or ty.base == "E"):
            raise ValueError(f"full-text field {name!r} needs a text type, not ({ty.code})")
    return Field(nr, name, ty, default, marks, unique, p["comment"])


def _base(lower: str, p: dict) -> FieldType | None:
    if lower in _ENUM:
        return FieldType("E", values=_enum_values(p))
    if lower in _OBJECT:
        if not p["url"]:
            raise ValueError("an (O) field names its schema: (O) !url")
        return FieldType("O", url=normalise_url(p["url"]))
    return FieldType(_SCALARS[lower]) if lower in _SCALARS else None


def _field_type(p: dict) -> FieldType:
    code = p["code"]
    if code is None:
        ty = _infer(p)
    else:
        lower = code.lower()
        if lower in ("l", "list"):
            ty = FieldType("L")
        elif lower.startswith("l"):
            if lower[1:].startswith("l"):
                raise ValueError(f"lists of lists are not supported: ({code})")
            element = _base(lower[1:], p)
            if element is None:
                raise ValueError(f"unknown type ({code})")
            ty = FieldType("L", element=element)
        else:
            ty = _base(lower, p)
            if ty is None:
                raise ValueError(f"unknown type ({code})")
    if p["url"] and not ty.object_url:
        raise ValueError(f"!{p['url']} given for a ({ty.code}) field")
    return ty


def _infer(p: dict) -> FieldType:
    """§1.3: the type a default literal implies when no `(TYPE)` is given."""
    raw = p["raw"]
    if raw is None:
        return FieldType("S")
    lower = raw.lower()
    if "\\n" in raw:
        return FieldType("MULTILINE")
    if '"' in raw or "'" in raw or not p["default"]:
        return FieldType("S")
    if "." in raw:
        return FieldType("F")
    if "true" in lower or "false" in lower:
        return FieldType("B")
    if "[]" in raw:
        return FieldType("L", element=FieldType("S"))
    if raw.isascii() and raw.isdigit():
        return FieldType("I")
    raise ValueError(f"cannot infer a type from {raw!r}: add (TYPE)")


def _enum_values(p: dict) -> tuple:
    values = []
    for item in split_list(p["default"] or ""):
        item = item.upper() if item.isascii() else item
        if not re.fullmatch(r"[A-Z0-9_]+", item):
            raise ValueError(f"bad enum: {item!r} is not a value name (letters, digits, _)")
        if item in values:
            raise ValueError(f"bad enum: {item} is listed twice")
        values.append(item)
    if not values or len(values) > 256:
        raise ValueError('an enum lists 1 to 256 values in the default slot, e.g. "a,b" (E)')
    return tuple(values)
