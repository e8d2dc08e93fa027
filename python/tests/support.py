"""Shared by the tests: makes `bcdb_client` importable and loads the Rust fixture.

`crates/bcdb/tests/python_client.rs` writes the fixture and points `BCDB_PY_FIXTURE` at
it; without the variable the fixture tests skip.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIXTURE_VAR = "BCDB_PY_FIXTURE"


def fixture():
    """The fixture as a dict, or None when the variable is unset."""
    path = os.environ.get(FIXTURE_VAR)
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def unhex(items):
    return [bytes.fromhex(h) for h in items]
