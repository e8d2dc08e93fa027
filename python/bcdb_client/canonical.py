"""The canonical text of a schema and its identity hash (crates/bcdb/src/schema/print.rs):
what `Schema::to_text` writes and `Schema::hash` hashes.

A ledger entry names the schema version of its object by this hash, and an author signs
it, so a client that computes it itself can sign a change — and check an entry — without
taking the server's word for which schema it means.

```text
@url = demo.house.1
@acl = false                         other properties, sorted by name
0: &name** = (S) # comment           number, &, marks, default, code, !url, comment
1: active = true (B)
3: color = "RED,GREEN,BLUE" (E)
```

Defaults are printed as the value they mean (values.py `literal`), in the first quoting
that the line lexer reads back as the same text, as Rust checks with its own lexer.
"""

from __future__ import annotations

import hashlib

from .codec import default_value
from .schema import Field, Schema, split_list, strip_quotes
from .values import EnumIndex, is_whitespace, literal, trim


def schema_text(schema: Schema) -> str:
    """The canonical text of one schema, ending with a newline."""
    lines = [f"@url = {schema.url}"]
    lines += [f"@{k} = {_property_value(v)}" for k, v in sorted(schema.properties.items())]
    lines += [_field_line(f) for f in schema.fields]
    return "\n".join(lines) + "\n"


def schema_hash(schema: Schema) -> bytes:
    """SHA-256 of the canonical text: the schema's identity in the ledger."""
    return hashlib.sha256(schema_text(schema).encode()).digest()


def _property_value(value: str) -> str:
    if value and trim(value) == value and '"' not in value and "'" not in value:
        return value
    return f'"{value}"'


def _field_line(f: Field) -> str:
    line = f"{f.nr}: {'&' if f.unique else ''}{f.name}{f.index} ="
    default = _default_text(f)
    if default is not None:
        line += f" {default}"
    line += f" ({f.type.code})"
    if f.type.object_url:
        line += f" !{f.type.object_url}"
    if f.comment:
        line += f" # {f.comment}"
    return line


def _default_text(f: Field) -> str | None:
    if f.type.enum_values:
        return '"' + ",".join(f.type.enum_values) + '"'
    value = default_value(f)
    if value is None or isinstance(value, EnumIndex):
        return None
    ty = f.type.element if f.type.base == "L" else f.type
    code = ty.base if ty is not None and ty.base not in ("E", "O") else None
    if isinstance(value, list):
        return _list_text(code, value)
    return _scalar_text(literal(code, value), isinstance(value, str))


def reads_back(written: str) -> str | None:
    """The default text the lexer reads from `written` when it is exactly one default and
    nothing else (line.rs `reads_back`)."""
    if not written or is_whitespace(written[0]):
        return None
    if written[0] in "\"'":
        close = written.find(written[0], 1)
        return written[1:-1] if close == len(written) - 1 else None
    if "(" in written or "!" in written or is_whitespace(written[-1]):
        return None
    return written


def _quotings(lit: str, text: bool) -> list[str]:
    bare, double, single = lit, f'"{lit}"', f"'{lit}'"
    return [double, single, bare] if text else [bare, double, single]


def _scalar_text(lit: str, text: bool) -> str:
    candidates = _quotings(lit, text)
    return next((c for c in candidates if reads_back(c) == lit), candidates[0])


def _list_text(code: str | None, items: list) -> str:
    literals = [literal(code, v) for v in items]
    text = isinstance(items[0], str)
    for outer in (None, "'", '"'):
        rendered = [_item_text(lit, text, outer) for lit in literals]
        if None in rendered:
            continue
        written = "[" + ", ".join(rendered) + "]"
        if outer:
            written = outer + written + outer
        back = reads_back(written)
        if back is not None and split_list(back) == literals:
            return written
    return "[" + ", ".join(literals) + "]"


def _item_text(lit: str, text: bool, outer: str | None) -> str | None:
    for c in _quotings(lit, text):
        if "," not in c and not (outer and outer in c) and strip_quotes(trim(c)) == lit:
            return c
    return None
