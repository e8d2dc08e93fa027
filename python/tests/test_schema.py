"""The jsxschema parser: the spec §1.7 example and error cases, and the refusals of
crates/bcdb/tests/schema.rs (line numbers only: columns are not kept here)."""

import unittest

import support  # noqa: F401  (import path)
from bcdb_client.schema import SchemaError, parse

SPEC_EXAMPLE = """@url = demo.house.1
name** = "" (S)               # indexed, implicitly unique
active = true                 # inferred bool
rooms = (LO) !demo.room.1     # list of embedded objects
color = "red,green,blue" (E)  # enum, default RED
price** = (N)                 # numeric with currency, indexed as USD
&serial = "" (S)              # unique

@url = demo.room.1
0: area = 0.0                 # inferred float, explicit numbering
1: tags = (LS)
"""

# Lines after "@url = a.b.1" that the Rust parser refuses (tests/schema.rs).
REFUSED = [
    "x = 1 (XX)", "  name (S)", "x1: a = 1", "70000: a = 1", "a = 1\n A = 2",
    "1: a = 1\n 1: b = 2", "0: a = 1\nb = 2", "a = 1\n0: b = 2", 'x = "abc # no comment" (S)',
    "x = 1 (I) !a.b.2", "x = (O)", "x = (LO)", "x = (LO) !a..b", "x = 1 (O) !", "  id = 1",
    "Schema = 1", "x = abc", 'c = "red,,blue" (E)', "c = a,b,A (E)", "c = (E)",
    'x = "é" (XX)', "x = (LLS)", "x = (S", "x = 'a' b", "x = (O) !a.b (I)", "x**** = 1",
    "n-m = 1", "data** = (bytes)", "&when = (duration)", "name = (LS)", "n*** = 1 (I)",
    "x = abc (O) !a.b", "@acl = maybe", "@acl = true\n@ACL = true", "@9x = 1",
    "x = 1\n@url = A.B.1",
]
# Refused by Rust for a default that is not a value of its type; this parser keeps
# defaults as text (a Model refuses them when it applies them).
DEFAULTS_UNCHECKED = ["x = 12a (I)", "x = 3000000000 (I)", "x = 1/1/1969 (D)",
                      "x = 'a@b' (EMAIL)", "x = [1, a] (LI)"]


class SpecExample(unittest.TestCase):
    def test_blocks_fields_and_numbers(self):
        house, room = parse(SPEC_EXAMPLE)
        self.assertEqual((house.url, room.url), ("demo.house.1", "demo.room.1"))
        self.assertEqual([f.nr for f in house.fields], [0, 1, 2, 3, 4, 5])
        self.assertEqual([f.name for f in house.fields],
                         ["name", "active", "rooms", "color", "price", "serial"])
        name, active, rooms, color, price, serial = house.fields
        self.assertEqual((name.type.code, name.index, name.unique), ("S", "**", True))
        self.assertEqual(name.comment, "indexed, implicitly unique")
        self.assertEqual((active.type.code, active.default), ("B", "true"))
        self.assertEqual((rooms.type.code, rooms.type.object_url), ("LO", "demo.room.1"))
        self.assertTrue(rooms.type.is_list)
        self.assertEqual(color.type.values, ("RED", "GREEN", "BLUE"))
        self.assertEqual(color.type.values.index(color.default), 0)
        self.assertEqual((price.type.code, price.index, price.unique), ("N", "**", False))
        self.assertEqual((serial.unique, serial.index, serial.default), (True, "**", None))
        self.assertEqual([(f.nr, f.name, f.type.code) for f in room.fields],
                         [(0, "area", "F"), (1, "tags", "LS")])
        self.assertEqual(room.field("area").default, "0.0")
        self.assertIs(house.field_by_nr(3), color)
        self.assertEqual(house.version, 1)

    def test_spec_error_cases(self):
        for text in ["@url = a.b.1\n0: x = 1\ny = 2", "@url = a.b.1\nx (S)",
                     "@url = a.b.1\nid = 1", "x = 1", "@url = a.b.1\nx = 1 (nope)",
                     "@url = a.b.1\nx = abc"]:
            with self.assertRaises(SchemaError, msg=text):
                parse(text)


class Parser(unittest.TestCase):
    def test_rust_refusals(self):
        for line in REFUSED:
            with self.subTest(line), self.assertRaises(SchemaError) as e:
                parse(f"@url = a.b.1\n{line}")
            self.assertEqual(e.exception.line, line.count("\n") + 2)
        for line in DEFAULTS_UNCHECKED:
            parse(f"@url = a.b.1\n{line}")
        for text, line in [("\n# c\n  x = 1", 3), ("@acl = false\n", 1), ("@url = Demo..x", 1)]:
            with self.assertRaises(SchemaError) as e:
                parse(text)
            self.assertEqual(e.exception.line, line)

    def test_types_aliases_and_inference(self):
        s, = parse("@url = a.b.1\na = (str)\nb = (Ls)\nc = (LIST)\nd = 'x,y' (lE)\n"
                   "e = (jsxobject) !A.B.2\nf = 1\ng = 'q'\nh = \"a\\nb\"\ni = [] \n"
                   "j = TRUE\nk = 2.5\nl = (i64)\nm = \"\" (ipport)\n")
        codes = {f.name: f.type.code for f in s.fields}
        self.assertEqual(codes, dict(a="S", b="LS", c="L", d="LE", e="O", f="I", g="S",
                                     h="MULTILINE", i="LS", j="B", k="F", l="I64", m="IPPORT"))
        self.assertEqual(s.field("d").type.enum_values, ("X", "Y"))
        self.assertIsNone(s.field("d").default)
        self.assertEqual(s.field("e").type.url, "a.b.2")
        self.assertEqual(s.field("g").default, "q")
        self.assertIsNone(s.field("i").default)
        self.assertIsNone(s.field("m").default)

    def test_marks_comments_and_properties(self):
        s, = parse("# header\n@url = a.b.1 # the url\n@note = \"x\" # a note\n@ACL = False\n"
                   "k* = 1 (I) # one # two\n&u = (S)\nt*** = (S)\ny = 'a' #\n#z = 1\n")
        self.assertEqual(s.properties, {"note": "x", "acl": "false"})
        k, u, t, y = s.fields
        self.assertEqual((k.index, k.comment), ("**", "one # two"))
        self.assertEqual((u.unique, u.index), (True, "**"))
        self.assertEqual((t.index, y.comment), ("***", None))
        self.assertEqual(len(s.warnings), 1)

    def test_several_blocks_and_urls(self):
        text = "@url = A.b.1\n@acl = False\nx = 1\n\n@url = 'a.c'\n@sub = true\n@url = \"a.d.12\"\n"
        s = parse(text)
        self.assertEqual([b.url for b in s], ["a.b.1", "a.c", "a.d.12"])
        self.assertEqual([b.version for b in s], [1, None, 12])
        self.assertEqual(parse(""), [])
        self.assertEqual(parse("# only a comment\n\n"), [])
        s = parse("x = 1\n@url = b.c.1\ny = 2", url=" A.Z.1 ")
        self.assertEqual([b.url for b in s], ["a.z.1", "b.c.1"])
        self.assertEqual(len(parse("@url = a.z.1\nx = 1", url="a.z.1")), 1)
        self.assertEqual(parse("", url="a.z.1")[0].fields, [])
        with self.assertRaises(SchemaError):
            parse("@url = a.y.1\nx = 1", url="a.z.1")
        with self.assertRaises(SchemaError) as e:
            parse("x = 1", url="not a url")
        self.assertEqual(e.exception.line, 0)


if __name__ == "__main__":
    unittest.main()
