"""JSON as serde_json reads and writes it, for the canonical encoding of `dict` and `json`
values (which store JSON text) and for error messages that quote a value.

Python's `json` module differs where it matters: it reads NaN, Infinity and lone
surrogates, which serde_json refuses, and it writes floats as `repr` does (`1e-05` and
`1e-07` where serde_json writes `0.00001` and `1e-7`). Integers that fit neither i64 nor
u64 are f64 for serde_json (no arbitrary precision here).
"""

from __future__ import annotations

import json
import math


def shortest_digits(f: float) -> tuple[str, int]:
    """The shortest decimal digits that read back as `f` (as `repr` finds them) and the
    power of ten of the last one: 1.25 → ("125", -2), 0.0 → ("0", 0)."""
    mantissa, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mantissa.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0") or "0"
    exp10 = int(exp or 0) - len(frac)
    if digits != "0":
        stripped = digits.rstrip("0")
        exp10 += len(digits) - len(stripped)
        digits = stripped
    else:
        exp10 = 0
    return digits, exp10


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    f = float(text)
    if not math.isfinite(f):
        raise ValueError("number out of range")
    return f


def load_json(text: str):
    """`serde_json::from_str`: no NaN/Infinity, no float out of range, no lone surrogate,
    nesting below serde_json's recursion limit (128)."""
    value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    _check_loaded(value, 0)
    return value


def _check_loaded(value, depth: int) -> None:
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**1024:
        raise ValueError("number out of range")
    elif isinstance(value, (list, dict)):
        if depth >= 127:
            raise ValueError("recursion limit exceeded")
        items = value.values() if isinstance(value, dict) else value
        for key in value if isinstance(value, dict) else ():
            key.encode("utf-8")
        for item in items:
            _check_loaded(item, depth + 1)


def check_json_text(text: str) -> None:
    try:
        load_json(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(str(e)) from None


# --- writing ------------------------------------------------------------------------------

def json_number(value) -> int | float:
    """A Python number as serde_json holds it: an int within i64/u64, else an f64."""
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        try:
            return float(value)
        except OverflowError:
            raise ValueError("number out of range") from None
    return value


def json_float(f: float) -> str:
    """serde_json's text for a finite f64 (the zmij format): plain decimals for a decimal
    exponent in -5..=15, else `1.5e+21` / `1e-7`; always a `.` or an exponent."""
    if not math.isfinite(f):
        raise ValueError(f"{f} is not a JSON number")
    digits, exp10 = shortest_digits(f)
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    n = len(digits)
    sci = n - 1 + exp10
    if -5 <= sci <= 15:
        if n - 1 <= sci:
            return f"{sign}{digits}{'0' * (sci - n + 1)}.0"
        if sci >= 0:
            return f"{sign}{digits[:sci + 1]}.{digits[sci + 1:]}"
        return f"{sign}0.{'0' * (-sci - 1)}{digits}"
    mantissa = digits[0] + ("." + digits[1:] if n > 1 else "")
    return f"{sign}{mantissa}e{'+' if sci >= 0 else '-'}{abs(sci)}"


def canonical_json(value) -> str:
    """JSON text with object keys sorted and no spaces, numbers as serde_json prints them."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("JSON object keys are strings")
        items = sorted(value.items())
        return "{" + ",".join(f"{_json_str(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    return _json_scalar(value)


def _json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _json_scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _json_str(value)
    if isinstance(value, (int, float)):
        value = json_number(value)
        return str(value) if isinstance(value, int) else json_float(value)
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def json_deeper_than(value, limit: int) -> bool:
    if not isinstance(value, (dict, list, tuple)):
        return False
    if limit == 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(json_deeper_than(c, limit - 1) for c in children)


def show(value) -> str:
    """A short rendering of a JSON value for error messages (coerce.rs `show`)."""
    if isinstance(value, str) and len(value) > 60:
        return _json_str(value[:60]) + "…"
    if isinstance(value, (list, tuple)):
        return "a list of 1 item" if len(value) == 1 else f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    try:
        return _json_scalar(value)
    except ValueError:
        return repr(value)


