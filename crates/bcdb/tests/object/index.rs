//! Index and full-text columns of a schema with marks, embedded objects flattened.

use bcdb::object::IndexValue::{Boolean, Integer, Real, Text};
use serde_json::json;

use super::{accept, resolver, schemas};

const MARKED: &str = r#"@url = idx.person.1
name** = (S)
&email = (EMAIL)
bio*** = (S)
age** = (I)
score** = (F)
active** = (B)
color** = "red,green" (E)
price** = (N)
share** = (N)
born** = (D)
note = (S)
tags = (LS)
address = (O) !idx.address.1

@url = idx.address.1
city** = (S)
street*** = (S)
zip = (I)
geo = (O) !idx.geo.1

@url = idx.geo.1
lat** = (F)
"#;

#[test]
fn marked_fields_give_columns_and_objects_flatten() {
    let all = schemas(MARKED);
    let resolve = resolver(&all);
    let o = accept(
        &all,
        &json!({
            "name": "ann", "email": "ann@x.io", "bio": "likes rust", "age": 41, "score": 2.5,
            "active": "y", "color": 1, "price": "1.5k EUR", "share": "5%", "born": "1/1/1970",
            "note": "not indexed", "tags": ["t"],
            "address": {"city": "Ghent", "street": "Veldstraat 1", "zip": 9000,
                        "geo": {"lat": 51.05}},
        }),
    );
    let columns = o.index_values(&all[0], &resolve);
    let expected = vec![
        ("name", Text("ann".into())),
        ("email", Text("ann@x.io".into())),
        ("bio", Text("likes rust".into())),
        ("age", Integer(41)),
        ("score", Real(2.5)),
        ("active", Boolean(true)),
        ("color", Text("GREEN".into())),
        ("price", Real(1500.0)),
        ("share", Real(0.05)),
        ("born", Integer(0)),
        ("address__city", Text("Ghent".into())),
        ("address__street", Text("Veldstraat 1".into())),
        ("address__geo__lat", Real(51.05)),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(c, v)| (c.to_owned(), v))
        .collect();
    assert_eq!(columns, expected);
    assert_eq!(
        o.fulltext(&all[0], &resolve),
        [
            ("bio".to_owned(), "likes rust".to_owned()),
            ("address__street".to_owned(), "Veldstraat 1".to_owned()),
        ]
    );
}

#[test]
fn absent_fields_and_unresolved_objects_give_no_columns() {
    let all = schemas(MARKED);
    let o = accept(&all, &json!({"age": 3, "address": {"zip": 1}}));
    // The enum always has its default.
    let columns = o.index_values(&all[0], &resolver(&all));
    assert_eq!(
        columns,
        [
            ("age".to_owned(), Integer(3)),
            ("color".to_owned(), Text("RED".into())),
        ]
    );
    let only_person = &all[..1];
    let columns = o.index_values(&all[0], &resolver(only_person));
    assert_eq!(columns.len(), 2);
    assert!(o.fulltext(&all[0], &resolver(&all)).is_empty());
}
