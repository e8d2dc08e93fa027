"""Attribute-style objects: defaults, coercion on assignment, nested objects and lists,
the JSON view, and refusals."""

import unittest

import support  # noqa: F401  (import path)
from bcdb_client.model import Model
from bcdb_client.schema import parse
from test_schema import SPEC_EXAMPLE

TYPES = """@url = demo.types.1
i = (I)
big = (I64)
port = (ipport)
f = (F)
p = (P)
b = (B)
e = "a,b" (E)
le = "x,y" (LE)
n = (N)
h = (H)
raw = (bytes)
d = (dict)
ip = (ipaddr)
mail = (email)
when = (D)
any = (L)
text = "a\\nb" (multiline)
to_dict = (S)
"""


class Objects(unittest.TestCase):
    def setUp(self):
        self.schemas = parse(SPEC_EXAMPLE)
        self.house = Model(self.schemas[0], schemas=self.schemas)

    def test_defaults_and_attribute_access(self):
        h = self.house
        self.assertEqual((h.active, h.color, h.name, h.id), (True, "RED", None, None))
        h.name = "villa"
        self.assertEqual(h.name, "villa")
        self.assertEqual(h.to_dict(), {"active": True, "color": "RED", "name": "villa"})
        h.name = None
        self.assertNotIn("name", h.to_dict())
        h.id = 7
        self.assertEqual(h.id, 7)
        self.assertNotIn("id", h.to_dict())
        self.assertIn("rooms", dir(h))
        with self.assertRaises(AttributeError):
            h.nope = 1
        with self.assertRaises(AttributeError):
            _ = h.nope

    def test_coercion_on_assignment(self):
        h = self.house
        h.color = " green "
        self.assertEqual(h.color, "GREEN")
        h.color = 2
        self.assertEqual(h.color, "BLUE")
        h.active = "no"
        self.assertIs(h.active, False)
        h.price = "10 EUR"
        for field, value in [("color", "pink"), ("color", 3), ("active", "maybe"),
                             ("name", 5), ("rooms", "x"), ("price", [1])]:
            with self.assertRaises(ValueError, msg=(field, value)):
                setattr(h, field, value)

    def test_nested_objects_and_lists(self):
        h = Model(self.schemas[0], schemas=self.schemas, name="villa",
                  rooms=[{"area": 12, "tags": ["sunny"]}])
        room = Model(self.schemas[1], schemas=self.schemas, area="3.5")
        h.rooms = h.rooms + [room]
        self.assertEqual(h.rooms[0].area, 12.0)
        self.assertEqual(h.to_dict()["rooms"], [{"area": 12.0, "tags": ["sunny"]}, {"area": 3.5}])
        with self.assertRaises(ValueError):
            h.rooms = [{"area": 1, "nope": 2}]
        with self.assertRaises(ValueError):
            h.rooms = [h]  # an object of another schema
        with self.assertRaises(ValueError):
            Model(self.schemas[0], name="x", rooms=[{}])  # no schema for demo.room.1
        back = Model.from_dict(self.schemas[0], {**h.to_dict(), "id": 4}, self.schemas)
        self.assertEqual((back, back.id), (h, 4))

    def test_types(self):
        s, = parse(TYPES)
        o = Model(s)
        self.assertEqual((o.e, o.text, o.le), ("A", "a\nb", None))
        o.i, o.big, o.port, o.f, o.p = "-5", 2**40, 80, 1, "5%"
        self.assertEqual((o.i, o.big, o.port, o.f, o.p), (-5, 2**40, 80, 1.0, 5.0))
        o.le = ["x", 1]
        self.assertEqual(o.le, ["X", "Y"])
        o.h, o.raw, o.d, o.ip, o.when = (1, 2), "00ff", '{"k": 1}', "::0001", "1/1/2020"
        self.assertEqual((o.h, o.raw, o.d, o.ip, o.when), ("1:2", b"\0\xff", {"k": 1}, "::1",
                                                          1_577_836_800))
        o.any = ["a", 1, 2.5, True]
        o.to_dict = "a field beats a method"
        self.assertEqual(o.to_dict, "a field beats a method")
        view = Model.to_dict(o)
        self.assertEqual((view["raw"], view["to_dict"]), ("00ff", "a field beats a method"))
        self.assertIn('"raw":"00ff"', Model.to_json(o))
        for field, value in [("i", 2**31), ("i", 1.5), ("i", True), ("port", -1), ("f", "x"),
                             ("f", float("nan")), ("b", 2), ("h", "1:x"), ("raw", "0g"),
                             ("d", [1]), ("ip", "1.2.3"), ("mail", "nobody"), ("any", [[1]]),
                             ("n", True), ("when", -1)]:
            with self.assertRaises(ValueError, msg=(field, value)):
                setattr(o, field, value)

    def test_bad_defaults_are_refused_when_applied(self):
        s, = parse("@url = a.b.1\nx = 12a (I)\n")
        with self.assertRaises(ValueError):
            Model(s)


if __name__ == "__main__":
    unittest.main()
