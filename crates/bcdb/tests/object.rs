//! Typed objects against their schemas: what each type accepts and refuses from JSON (and in
//! which normal form it keeps it), nested objects and lists of them, defaults, unknown
//! fields, the bounds; round trips through the JSON view and the bytes for random objects
//! of random schemas; the pinned encoding; hostile bytes; index and full-text columns.

#[path = "object/codec.rs"]
mod codec;
#[path = "object/gen.rs"]
mod gen;
#[path = "object/index.rs"]
mod index;
#[allow(dead_code, unreachable_pub)]
#[path = "schema/gen.rs"]
mod schema_gen;
#[path = "object/types.rs"]
mod types;

use bcdb::object::{Object, ObjectError, Resolve, MAX_DEPTH, MAX_LIST, MAX_STRING};
use bcdb::schema::{parse, Amount, Numeric, NumericScale, Schema, Value};
use serde_json::{json, Value as Json};

/// The schemas of `text`.
pub(crate) fn schemas(text: &str) -> Vec<Schema> {
    parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A resolver over `schemas`, by url.
pub(crate) fn resolver(schemas: &[Schema]) -> impl Fn(&str) -> Option<Schema> + '_ {
    move |url| schemas.iter().find(|s| s.url() == url).cloned()
}

/// `from_json`, then every round trip an object must survive; returns the object.
pub(crate) fn accept(all: &[Schema], json: &Json) -> Object {
    let resolve = resolver(all);
    let schema = &all[0];
    let object = Object::from_json(schema, json, &resolve)
        .unwrap_or_else(|e| panic!("{json} refused by\n{}: {e}", schema.to_text()));
    assert_round_trips(all, &object);
    object
}

/// JSON view, bytes and `from_fields` all give the object back.
pub(crate) fn assert_round_trips(all: &[Schema], object: &Object) {
    assert_round_trips_with(all, &resolver(all), object);
}

/// [`assert_round_trips`] for an object of `all[0]`, embedded schemas from `resolve`.
pub(crate) fn assert_round_trips_with(all: &[Schema], resolve: Resolve<'_>, object: &Object) {
    let schema = &all[0];
    let view = object.to_json(schema, resolve);
    let again = Object::from_json(schema, &view, resolve)
        .unwrap_or_else(|e| panic!("view {view} of {object:?} refused: {e}"));
    assert_eq!(&again, object, "view {view}");
    let bytes = object.encode();
    let decoded = Object::decode(&bytes, schema, resolve)
        .unwrap_or_else(|e| panic!("{object:?} encoded as {} refused: {e}", hex::encode(&bytes)));
    assert_eq!(&decoded, object);
    assert_eq!(decoded.encode(), bytes);
    let rebuilt = Object::from_fields(schema, object.fields().clone(), resolve);
    assert_eq!(rebuilt.as_ref(), Ok(object));
}

/// `from_json` must fail; returns the error.
pub(crate) fn refuse(all: &[Schema], json: &Json) -> ObjectError {
    let resolve = resolver(all);
    match Object::from_json(&all[0], json, &resolve) {
        Ok(o) => panic!("{json} accepted by\n{}as {o:?}", all[0].to_text()),
        Err(e) => e,
    }
}

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

#[test]
fn nested_objects_and_lists_of_objects() {
    let all = schemas(HOUSE);
    let json = json!({
        "name": "villa",
        "rooms": [{"area": 12.5, "tags": ["a", "b"]}, {"area": 3}],
        "color": "Blue",
        "price": "10k USD",
        "owner": {"email": " Me@Home.example ", "address": {"zip": "9000"}},
    });
    let o = accept(&all, &json);
    let view = o.to_json(&all[0], &resolver(&all));
    assert_eq!(
        view,
        json!({
            "name": "villa",
            "active": true,
            "rooms": [{"area": 12.5, "tags": ["a", "b"]}, {"area": 3.0}],
            "color": "BLUE",
            "price": "10k USD",
            "owner": {"email": "Me@Home.example", "address": {"city": "Ghent", "zip": 9000}},
        })
    );
    let price = Numeric {
        amount: Amount::Int(10),
        scale: NumericScale::Thousand,
        currency: Some("USD".into()),
    };
    assert_eq!(
        o.get_by_name(&all[0], "price"),
        Some(&Value::Numeric(price))
    );
    assert_eq!(o.enum_name(&all[0], "color"), Some("BLUE"));

    let cases = [
        (json!({"rooms": [{}, {"area": "big"}]}), "rooms[1].area"),
        (json!({"rooms": [{"tags": ["a", 1]}]}), "rooms[0].tags[1]"),
        (
            json!({"owner": {"address": {"zip": 1.5}}}),
            "owner.address.zip",
        ),
        (json!({"owner": {"email": "x@"}}), "owner.email"),
        (json!({"owner": [1]}), "owner"),
        (json!({"rooms": {"area": 1}}), "rooms"),
    ];
    for (json, path) in cases {
        match refuse(&all, &json) {
            ObjectError::Invalid { path: p, .. } => assert_eq!(p, path, "{json}"),
            e => panic!("{json}: {e:?}"),
        }
    }
}

#[test]
fn errors_name_the_field_and_the_reason() {
    let all = schemas(HOUSE);
    let message = |json: Json| refuse(&all, &json).to_string();
    assert_eq!(
        message(json!({"owner": {"email": "x@"}})),
        "field \"owner.email\": \"x@\" is not an email address: expected local@domain.tld"
    );
    assert_eq!(
        message(json!({"color": "purple"})),
        "field \"color\": \"purple\" is not one of RED, GREEN, BLUE (or an index below 3)"
    );
    assert_eq!(
        message(json!({"owner": {"address": {"zip": 2_147_483_648_i64}}})),
        "field \"owner.address.zip\": 2147483648 is not a 32-bit integer: \
         outside -2147483648..=2147483647"
    );
    assert_eq!(
        message(json!({"nmae": "x", "zzz": 1})),
        "field \"nmae\": unknown field (schema demo.house.1 has no such field)"
    );
    assert_eq!(
        message(json!([1])),
        "expected a JSON object, got a list of 1 item"
    );
}

#[test]
fn defaults_fill_absent_and_null_fields() {
    let all = schemas(HOUSE);
    let o = accept(&all, &json!({"owner": {"address": {}}, "active": null}));
    let house = &all[0];
    assert_eq!(o.get_by_name(house, "active"), Some(&Value::Bool(true)));
    assert_eq!(o.get_by_name(house, "color"), Some(&Value::Enum(0)));
    // `""` is "no default": the field stays absent.
    assert_eq!(o.get_by_name(house, "name"), None);
    assert_eq!(o.get_by_name(house, "price"), None);
    assert_eq!(o.get_by_name(house, "rooms"), None);
    let Some(Value::Object(owner)) = o.get_by_name(house, "owner") else {
        panic!("{o:?}");
    };
    let Some(Value::Object(address)) = owner.get(&1) else {
        panic!("{owner:?}");
    };
    assert_eq!(address.get(&0), Some(&Value::Str("Ghent".into())));
    assert_eq!(address.get(&1), None);
    // An explicit value wins.
    let o = accept(&all, &json!({"active": "no", "color": 2}));
    assert_eq!(o.get_by_name(house, "active"), Some(&Value::Bool(false)));
    assert_eq!(o.get_by_name(house, "color"), Some(&Value::Enum(2)));
    // `-0.0` defaults are stored as 0.0.
    let neg = schemas("@url = n.z.1\nx = -0.0\n");
    let o = accept(&neg, &json!({}));
    assert!(matches!(o.get(0), Some(Value::Float(f)) if f.is_sign_positive()));
}

#[test]
fn unknown_fields_ids_and_schemas_are_refused() {
    let all = schemas(HOUSE);
    for (json, path) in [
        (json!({"id": 3}), "id"),
        (json!({"Name": "x"}), "Name"),
        (json!({"owner": {"mail": "a@b.co"}}), "owner.mail"),
        (json!({"rooms": [{"area": 1, "size": 2}]}), "rooms[0].size"),
    ] {
        match refuse(&all, &json) {
            ObjectError::UnknownField { path: p, .. } => assert_eq!(p, path),
            e => panic!("{json}: {e:?}"),
        }
    }
    let only_house = &all[..1];
    let e = refuse(only_house, &json!({"owner": {}}));
    assert_eq!(
        e,
        ObjectError::UnknownSchema {
            path: "owner".into(),
            url: "demo.person.1".into()
        }
    );
    // An absent embedded object needs no schema.
    accept(only_house, &json!({"name": "x"}));
}

/// `depth` levels of `child` below the top.
fn chain(depth: usize) -> Json {
    (0..depth).fold(json!({"v": 1}), |inner, _| json!({"v": 2, "child": inner}))
}

#[test]
fn bounds_are_enforced_with_clear_errors() {
    let node = schemas(
        "@url = r.node.1\nv = (I)\nchild = (O) !r.node.1\nlist = (LI)\ns = (S)\nd = (DICT)\n",
    );
    let o = accept(&node, &chain(MAX_DEPTH));
    assert!(o.encode().len() > 10);
    let e = refuse(&node, &chain(MAX_DEPTH + 1));
    assert!(
        matches!(&e, ObjectError::Limit { reason, .. } if reason.contains("nested more than 16")),
        "{e}"
    );

    let list: Vec<u8> = vec![1; MAX_LIST];
    accept(&node, &json!({ "list": list }));
    let list: Vec<u8> = vec![1; MAX_LIST + 1];
    let e = refuse(&node, &json!({ "list": list }));
    assert_eq!(
        e.to_string(),
        "field \"list\": 100001 items, more than 100000"
    );

    let long = "x".repeat(MAX_STRING + 1);
    let e = refuse(&node, &json!({ "s": long }));
    assert!(
        matches!(e, ObjectError::Limit { ref path, .. } if path == "s"),
        "{e}"
    );

    // Strings that fit one by one but not together.
    let chunk = "y".repeat(MAX_STRING / 2);
    let big = json!({"s": chunk, "child": {"s": chunk}});
    assert!(matches!(refuse(&node, &big), ObjectError::TooLarge { .. }));

    let mut deep = json!(1);
    for _ in 0..=MAX_DEPTH {
        deep = json!({ "k": deep });
    }
    let e = refuse(&node, &json!({ "d": deep }));
    assert!(
        matches!(e, ObjectError::Limit { ref reason, .. } if reason.contains("JSON")),
        "{e}"
    );
}

#[test]
fn equal_inputs_give_equal_bytes() {
    let all = schemas("@url = e.q.1\nip = (IPADDR)\ng = (GUID)\nd = (DICT)\nt = (TEL)\nf = (F)\n");
    let a = accept(
        &all,
        &json!({"ip": "2001:DB8::1", "g": "0123456789ABCDEF0123456789ABCDEF",
                "d": {"b": 1, "a": [true, null]}, "t": "+32 (475) 12-34", "f": -0.0}),
    );
    let b = accept(
        &all,
        &json!({"ip": "2001:db8:0::1", "g": "01234567-89ab-cdef-0123-456789abcdef",
                "d": "{ \"a\" : [true,null], \"b\":1 }", "t": "+3247512.34", "f": 0}),
    );
    assert_eq!(a, b);
    assert_eq!(a.encode(), b.encode());
}

#[test]
fn from_fields_checks_caller_built_values() {
    let all = schemas("@url = f.f.1\nf = (F)\nmail = (EMAIL)\ne = \"a,b\" (E)\nsub = (O) !f.f.1\n");
    let resolve = resolver(&all);
    let build = |pairs: Vec<(u16, Value)>| {
        Object::from_fields(&all[0], pairs.into_iter().collect(), &resolve)
    };
    let o = build(vec![(0, Value::Float(-0.0))]).unwrap();
    assert!(matches!(o.get(0), Some(Value::Float(f)) if f.is_sign_positive()));
    let nested = Value::Object([(1, Value::Str("a@b.co".into()))].into_iter().collect());
    assert!(build(vec![(3, nested)]).is_ok());
    let refused = [
        (vec![(0, Value::Float(f64::NAN))], "f"),
        (vec![(0, Value::Int(1))], "f"),
        (vec![(1, Value::Str("A@B.CO ".into()))], "mail"),
        (vec![(2, Value::Enum(2))], "e"),
        (
            vec![(
                3,
                Value::Object([(2, Value::Str("a".into()))].into_iter().collect()),
            )],
            "sub.e",
        ),
    ];
    for (fields, path) in refused {
        match build(fields.clone()) {
            Err(ObjectError::Invalid { path: p, .. }) => assert_eq!(p, path, "{fields:?}"),
            other => panic!("{fields:?}: {other:?}"),
        }
    }
    let e = build(vec![(9, Value::Int(1))]);
    assert!(matches!(e, Err(ObjectError::UnknownField { path, .. }) if path == "#9"));
}
