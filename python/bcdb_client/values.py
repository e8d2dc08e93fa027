"""Values of jsxschema types, and reading their text forms exactly as the Rust schema layer
does (crates/bcdb/src/schema/value.rs and time.rs).

A canonical object encoding is only reproducible if every text form (`"2020-02-29"`,
`"10 USD"`, `"+32 (0)475 12-34"`, `"::ffff:1.2.3.4"`) becomes the very value Rust makes of
it, so this module follows Rust's rules step by step rather than Python's conveniences:
`str.strip()` and `int()` accept more than `str::trim` and `i64::from_str` do, and
`ipaddress` prints some IPv6 addresses differently from Rust's `Display`.

Values are plain Python where that is unambiguous — `str` (text types), `int` (integers,
dates, durations), `float`, `bool`, `bytes`, `list`, `dict` of field number to value (an
embedded object) — plus `Numeric`, `EnumIndex` and `HashPair`.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass

from .jsontext import check_json_text, shortest_digits

# Unicode White_Space: what Rust's `str::trim` and `char::is_whitespace` go by.
_WHITE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)}
_INT = re.compile(r"[+-]?[0-9]+\Z")
_UINT = re.compile(r"\+?[0-9]+\Z")
# Rust's f64 grammar (inf and nan are never finite, so they are left out).
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
I32, I64, U32 = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1), (0, 2**32 - 1)

SCALE_ONE, SCALE_THOUSAND, SCALE_MILLION, SCALE_PERCENT = range(4)
_SCALE_SUFFIX = {"k": SCALE_THOUSAND, "m": SCALE_MILLION, "%": SCALE_PERCENT}


@dataclass(frozen=True)
class Numeric:
    """An amount (`N`): `amount` is an int unless written with a `.`, `scale` one of the
    `SCALE_*` codes (the suffix right after the number), `currency` upper-case or None."""

    amount: int | float
    scale: int = SCALE_ONE
    currency: str | None = None


@dataclass(frozen=True)
class EnumIndex:
    """An enum value as stored: its index in the field's values."""

    index: int


@dataclass(frozen=True)
class HashPair:
    """`H`: the two u32 halves of `a:b`."""

    a: int
    b: int


class NotAllowed(ValueError):
    """The type has no text form (bytes, dict, msgpack, capnpbin)."""


def debug(text: str) -> str:
    """A string as Rust's `{:?}` writes it (double quotes, escapes)."""
    return json.dumps(text, ensure_ascii=False)


def trim(text: str) -> str:
    """`str::trim`: Unicode White_Space off both ends."""
    start, end = 0, len(text)
    while start < end and text[start] in _WHITE:
        start += 1
    while end > start and text[end - 1] in _WHITE:
        end -= 1
    return text[start:end]


def is_whitespace(c: str) -> bool:
    return c in _WHITE


def is_control(c: str) -> bool:
    """Unicode general category Cc, as `char::is_control`."""
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F


def ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def ascii_upper(text: str) -> str:
    return "".join(c.upper() if c.isascii() else c for c in text)


def parse_int(text: str, low: int, high: int) -> int:
    """`str::parse::<i64>` then a range check (`int_in`)."""
    if not _INT.match(text):
        raise ValueError("not an integer")
    n = int(text)
    if not I64[0] <= n <= I64[1]:
        raise ValueError("not an integer")
    if not low <= n <= high:
        raise ValueError(f"outside {low}..={high}")
    return n


def parse_u32(text: str) -> int:
    """`str::parse::<u32>`: an optional `+`, then ASCII digits."""
    if not _UINT.match(text):
        raise ValueError("invalid digit found in string")
    if int(text) > U32[1]:
        raise ValueError("number too large to fit in target type")
    return int(text)


def parse_float(text: str) -> float:
    """`str::parse::<f64>`, finite only."""
    f = float(text) if _FLOAT.match(text) else math.inf
    if not math.isfinite(f):
        raise ValueError("not a finite number")
    return f


def boolean(text: str) -> bool:
    lower = ascii_lower(text)
    if lower in ("true", "t", "yes", "y", "1", "on"):
        return True
    if lower in ("false", "f", "no", "n", "0", "off"):
        return False
    raise ValueError("expected true/false, yes/no, y/n, 1/0 or on/off")


def coerce_scalar(code: str, text: str):
    """One scalar of type `code` (a canonical code: `S`, `I`, `D`, `N`, …) from its text
    (quotes removed), as `coerce_scalar` in value.rs; raises ValueError with Rust's reason,
    or `NotAllowed`."""
    t = trim(text)
    if code in ("S", "PATH", "YAML"):
        return text
    if code == "MULTILINE":
        return text.replace("\\n", "\n")
    if code == "JSON":
        check_json_text(text)
        return text
    if code == "I":
        return parse_int(t, *I32)
    if code == "I64":
        return parse_int(t, *I64)
    if code == "IPPORT":
        return parse_int(t, 0, 65535)
    if code == "F":
        return parse_float(t)
    if code == "P":
        return parse_float(trim_end(t[:-1] if t.endswith("%") else t))
    if code == "B":
        return boolean(t)
    if code == "D":
        return parse_date(t)
    if code == "T":
        return parse_datetime(t)
    if code == "DURATION":
        return parse_duration(t)
    if code == "N":
        return numeric(t)
    if code == "EMAIL":
        return email(t)
    if code == "TEL":
        return tel(t)
    if code == "IPADDR":
        return ip_text(t)
    if code == "IPRANGE":
        return ip_range(t)
    if code == "GUID":
        return guid(t)
    if code == "URL":
        if any(c in _WHITE for c in t):
            raise ValueError("a url has no spaces")
        return t
    if code == "H":
        a, sep, b = t.partition(":")
        if not sep:
            raise ValueError("expected a:b")
        return HashPair(parse_u32(trim(a)), parse_u32(trim(b)))
    if code in ("BYTES", "DICT", "MSGPACK", "CAPNPBIN"):
        raise NotAllowed(f"({code}) has no text form")
    raise ValueError(f"unknown type ({code})")


def trim_end(text: str) -> str:
    end = len(text)
    while end and text[end - 1] in _WHITE:
        end -= 1
    return text[:end]


# --- dates and durations (time.rs) -------------------------------------------------------

def _digits_value(text: str) -> int | None:
    if not text or len(text.encode()) > 18 or not all("0" <= c <= "9" for c in text):
        return None
    return int(text)


def _in_u32(secs: int) -> int:
    if 0 <= secs <= U32[1]:
        return secs
    raise ValueError("outside 1970-01-01 .. 2106-02-07 (32-bit epoch seconds)")


def _epoch(text: str) -> int | None:
    if text.startswith(("+", "-")):
        raise ValueError("relative times depend on the parse time and are not allowed here")
    n = _digits_value(text)
    return None if n is None else _in_u32(n)


def parse_date(text: str) -> int:
    """Epoch seconds of `d/m/yyyy`, `yyyy/m/d`, `yyyy-mm-dd` or epoch seconds."""
    secs = _epoch(text)
    return secs if secs is not None else _in_u32(_parse_day(text) * 86_400)


def parse_datetime(text: str) -> int:
    """A date as for `D`, then ` ` or `T` and `hh:mm[:ss]`."""
    secs = _epoch(text)
    if secs is not None:
        return secs
    cut = min((i for i in (text.find(" "), text.find("T")) if i >= 0), default=-1)
    day, clock = (text, None) if cut < 0 else (text[:cut], trim(text[cut + 1:]))
    secs = _parse_day(day) * 86_400
    if clock is not None:
        secs += _parse_clock(clock)
    return _in_u32(secs)


def parse_duration(text: str) -> int:
    """A number with an optional unit s, m, h, d or w."""
    unit = None
    digits = text
    if text and text[-1].isascii() and text[-1].isalpha():
        digits, unit = text[:-1], text[-1].lower()
    n = _digits_value(digits)
    if n is None:
        raise ValueError("expected a number with an optional unit s, m, h, d or w")
    factors = {None: 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
    if unit not in factors:
        raise ValueError(f"unknown unit {unit!r} (s, m, h, d or w)")
    return _in_u32(n * factors[unit])


def _parse_day(text: str) -> int:
    parts = re.split("[/-]", text)
    if len(parts) != 3:
        if len(parts) == 2:
            raise ValueError("m/d depends on the current year and is not allowed here")
        raise ValueError("expected d/m/yyyy, yyyy/m/d or yyyy-mm-dd")
    a, b, c = parts
    if len(a.encode()) == 4:
        year, month, day = a, b, c
    elif len(c.encode()) == 4:
        year, month, day = c, b, a
    else:
        raise ValueError("the year needs four digits")

    def number(s):
        n = _digits_value(s)
        if n is None:
            raise ValueError(f"{debug(s)} is not a number")
        return n

    year, month, day = number(year), number(month), number(day)
    if not 1 <= month <= 12:
        raise ValueError(f"month {month}")
    if day < 1 or day > _days_in_month(year, month):
        raise ValueError(f"day {day} of month {month}")
    return _days_from_civil(year, month, day)


def _parse_clock(text: str) -> int:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError("expected hh:mm or hh:mm:ss")
    h, m, s = (parts + ["0"])[:3]

    def number(s, most):
        n = _digits_value(s)
        if n is None or n > most:
            raise ValueError(f"{debug(s)} is not a time of day")
        return n

    return number(h, 23) * 3_600 + number(m, 59) * 60 + number(s, 59)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


# --- amounts, addresses, identifiers -----------------------------------------------------

def numeric(text: str) -> Numeric:
    """`-?digits[.digits]`, then `k`, `m` or `%` touching the number, then an optional
    currency of up to 8 letters."""
    bad = "expected an amount like 10, 0.5k, 1m, 5%, with an optional currency"
    sign = 1 if text.startswith("-") else 0
    end = sign
    while end < len(text) and (text[end].isascii() and (text[end].isdigit() or text[end] == ".")):
        end += 1
    number, digits = text[:end], text[sign:end]
    whole, dot, frac = digits.partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()):
        raise ValueError(bad)
    if dot:
        amount = parse_float(number)
    else:
        amount = int(number)
        if not I64[0] <= amount <= I64[1]:
            raise ValueError("amount out of range")
    rest = text[end:]
    scale = _SCALE_SUFFIX.get(rest[:1], SCALE_ONE)
    if scale != SCALE_ONE:
        rest = rest[1:]
    rest = rest.lstrip("".join(_WHITE))
    if not rest:
        currency = None
    elif len(rest.encode()) <= 8 and all(c.isascii() and c.isalpha() for c in rest):
        currency = rest.upper()
    else:
        raise ValueError(bad)
    return Numeric(amount, scale, currency)


def email(text: str) -> str:
    local, at, domain = text.partition("@")
    ok = (at and local and "@" not in domain and "." in domain
          and not domain.startswith(".") and not domain.endswith(".")
          and not any(c in _WHITE or is_control(c) for c in text))
    if not ok:
        raise ValueError("no @" if not at else "expected local@domain.tld")
    return text


def tel(text: str) -> str:
    """A leading `+` and the digits; spaces, dashes, dots, slashes, parentheses dropped."""
    plus = text.startswith("+")
    out = "+" if plus else ""
    for c in text[1 if plus else 0:]:
        if "0" <= c <= "9":
            out += c
        elif c not in " -./()":
            raise ValueError(f"{c!r} in a phone number")
    if not 3 <= len(out) - plus <= 20:
        raise ValueError("a phone number has 3 to 20 digits")
    return out


def _ip(text: str):
    if "%" in text or not text.isascii():
        raise ValueError("not an IPv4 or IPv6 address")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("not an IPv4 or IPv6 address") from None


def _ip_display(addr) -> str:
    """Rust's `Display`: dotted IPv4; IPv6 lower-case with the first longest run (two or
    more) of zero groups as `::`, and `::ffff:a.b.c.d` for IPv4-mapped addresses."""
    if addr.version == 4:
        return str(addr)
    groups = [int.from_bytes(addr.packed[i:i + 2], "big") for i in range(0, 16, 2)]
    if groups[:6] == [0, 0, 0, 0, 0, 0xFFFF]:
        return "::ffff:" + str(ipaddress.IPv4Address(addr.packed[12:]))
    best, start, run = (0, 0), 0, 0
    for i, g in enumerate(groups):
        if g == 0:
            start, run = (i, 1) if run == 0 else (start, run + 1)
            if run > best[1]:
                best = (start, run)
        else:
            run = 0
    hexes = [f"{g:x}" for g in groups]
    if best[1] > 1:
        return ":".join(hexes[:best[0]]) + "::" + ":".join(hexes[best[0] + best[1]:])
    return ":".join(hexes)


def ip_text(text: str) -> str:
    return _ip_display(_ip(text))


def ip_range(text: str) -> str:
    addr, slash, prefix = text.partition("/")
    if not slash:
        raise ValueError("expected address/prefix")
    ip = _ip(addr)
    most = 32 if ip.version == 4 else 128
    if not (prefix.isascii() and prefix.isdigit() and int(prefix) <= most):
        raise ValueError(f"prefix {debug(prefix)} is not 0..={most}")
    return f"{_ip_display(ip)}/{int(prefix)}"


def guid(text: str) -> str:
    """32 hex digits, with or without the dashes; kept lower-case with dashes."""
    raw = text.encode()
    hexes = raw.replace(b"-", b"")
    dashes_ok = len(raw) == 32 or (len(raw) == 36 and all(raw[i] == 0x2D for i in (8, 13, 18, 23)))
    if len(hexes) != 32 or not dashes_ok or not all(chr(b) in "0123456789abcdefABCDEF" for b in hexes):
        raise ValueError("expected a UUID (8-4-4-4-12 hex digits)")
    h = hexes.decode().lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --- writing values back as text (value.rs `literal`) -------------------------------------

def float_text(f: float) -> str:
    """Rust's `f64` `Display` (shortest digits that read back, never an exponent), with a
    `.0` added when there is no `.`."""
    digits, exp = shortest_digits(f)
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    point = len(digits) + exp  # digits before the decimal point
    if point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    if text.endswith(".") or "." not in text:
        text = text.rstrip(".") + ".0"
    return sign + text


def numeric_text(n: Numeric) -> str:
    out = float_text(n.amount) if isinstance(n.amount, float) else str(n.amount)
    out += {SCALE_ONE: "", SCALE_THOUSAND: "k", SCALE_MILLION: "m", SCALE_PERCENT: "%"}[n.scale]
    return out + (f" {n.currency}" if n.currency else "")


def literal(code: str | None, value) -> str:
    """A value as text that `coerce_scalar` reads back as the same value (`code` is the
    scalar type, None for an untyped list item)."""
    if isinstance(value, str):
        return value.replace("\n", "\\n") if code == "MULTILINE" else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, Numeric):
        return numeric_text(value)
    if isinstance(value, EnumIndex):
        return str(value.index)
    if isinstance(value, HashPair):
        return f"{value.a}:{value.b}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(code, v) for v in value) + "]"
    if isinstance(value, bytes):
        return value.hex()
    return "{}"
