//! Feeds arbitrary bytes to `Object::decode` against fixed schemas of every field type (typed objects arrive as bytes from the ledger and clients) and checks that whatever decodes re-encodes to the same bytes and survives its JSON view.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bcdb::object::{Object, ObjectError, Resolve};
use bcdb::schema::{parse, FieldType, Schema, Value};
use libfuzzer_sys::fuzz_target;

/// Every scalar type, an enum and index marks, at the top level.
const SCALARS: &str = r#"@url = fz.scalars.1
s*** = (S)
ml = (MULTILINE)
i** = (I)
i64 = (I64)
f** = (F)
b** = (B)
d** = (D)
t = (T)
dur = (DURATION)
n** = (N)
p = (P)
&email = (EMAIL)
tel = (TEL)
ip = (IPADDR)
range = (IPRANGE)
port = (IPPORT)
guid = (GUID)
u = (URL)
path = (PATH)
bin = (BYTES)
dict = (DICT)
json = (JSON)
yaml = (YAML)
mp = (MSGPACK)
h = (H)
capnp = (CAPNPBIN)
color** = "red,green,blue" (E)
"#;

/// Lists of every kind, embedded objects (recursive, so nesting can reach the depth bound),
/// and defaults that the JSON view fills in.
const NESTED: &str = r#"@url = fz.nested.1
ls = (LS)
li = (LI)
lf = (LF)
lb = (LB)
ln = (LN)
ld = (LD)
lh = (LH)
lbin = (LBYTES)
lip = (LIPADDR)
ldict = (LDICT)
le = "x,y" (LE)
l = (L)
one = (O) !fz.node.1
many = (LO) !fz.node.1
flag = true
size = 3 (I)
ratio = 0.5
tags = [a, 'b c'] (LS)

@url = fz.node.1
0: v** = (I)
1: name*** = (S)
2: child = (O) !fz.node.1
3: kids = (LO) !fz.node.1
4: level = "low,high" (E)
7: mail** = (EMAIL)
"#;

/// The spec's example, with its explicit numbering and embedded schemas.
const HOUSE: &str = r#"@url = demo.house.1
name** = "" (S)
active = true
rooms = (LO) !demo.room.1
color = "red,green,blue" (E)
price** = (N)
&serial = "" (S)
owner = (O) !demo.person.1

@url = demo.room.1
0: area = 0.0
1: tags = (LS)

@url = demo.person.1
email = (EMAIL)
address = (O) !demo.address.1

@url = demo.address.1
city = "Ghent"
zip = (I)
"#;

fn schemas() -> &'static [Schema] {
    static ALL: OnceLock<Vec<Schema>> = OnceLock::new();
    ALL.get_or_init(|| {
        [SCALARS, NESTED, HOUSE]
            .into_iter()
            .flat_map(|text| parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
            .collect()
    })
}

/// `object` as `Object::from_json` reads its JSON view: absent fields that have a default
/// take it, in embedded objects too.
fn with_defaults(
    schema: &Schema,
    fields: &BTreeMap<u16, Value>,
    resolve: Resolve<'_>,
) -> BTreeMap<u16, Value> {
    let mut out = BTreeMap::new();
    for field in schema.fields() {
        let value = match (fields.get(&field.nr()), field.default()) {
            (Some(value), _) => filled(field.kind(), value, resolve),
            (None, Some(default)) => default.clone(),
            (None, None) => continue,
        };
        out.insert(field.nr(), value);
    }
    out
}

fn filled(kind: &FieldType, value: &Value, resolve: Resolve<'_>) -> Value {
    match (kind, value) {
        (FieldType::Object(url), Value::Object(inner)) => {
            let schema = resolve(url).expect("decode resolved it");
            Value::Object(with_defaults(&schema, inner, resolve))
        }
        (FieldType::List(Some(item)), Value::List(items)) => {
            Value::List(items.iter().map(|v| filled(item, v, resolve)).collect())
        }
        _ => value.clone(),
    }
}

fn check(data: &[u8], schema: &Schema, resolve: Resolve<'_>) {
    let object = match Object::decode(data, schema, resolve) {
        Ok(object) => object,
        Err(
            ObjectError::Malformed { .. }
            | ObjectError::Invalid { .. }
            | ObjectError::UnknownField { .. }
            | ObjectError::Limit { .. }
            | ObjectError::TooLarge { .. },
        ) => return,
        Err(e) => panic!("decode answered {e:?}: every embedded schema is known"),
    };
    // Canonical: one object, one encoding.
    assert_eq!(object.encode(), data, "{object:?}");
    // Decoded values are values the schema accepts as they are.
    let rebuilt = Object::from_fields(schema, object.fields().clone(), resolve);
    assert_eq!(rebuilt.as_ref(), Ok(&object));
    // The JSON view reads back as the same object, defaults filled in where absent.
    let view = object.to_json(schema, resolve);
    let again = Object::from_json(schema, &view, resolve)
        .unwrap_or_else(|e| panic!("view {view} of {object:?} refused: {e}"));
    let expected = with_defaults(schema, object.fields(), resolve);
    assert_eq!(again.fields(), &expected, "view {view}");
    if again.fields() == object.fields() {
        assert_eq!(again.encode(), data, "view {view}");
    }
    // The index columns of any object can be computed.
    let _ = object.index_columns(schema, resolve);
}

fuzz_target!(|data: &[u8]| {
    let all = schemas();
    let resolve = |url: &str| all.iter().find(|s| s.url() == url).cloned();
    for schema in all {
        check(data, schema, &resolve);
    }
});
