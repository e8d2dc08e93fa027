//! One test per row of the type table (§1.4), in every alias and letter case, alone and as a
//! list element; enums, objects and untyped lists; type inference without a code (§1.3).

use bcdb::schema::{Amount, FieldType, Numeric, NumericScale, Scalar, SchemaErrorKind as K, Value};

use super::{err, one, scalar};

/// One sample per row of §1.4: (every code of the row, a default, its value).
fn type_rows() -> Vec<(Scalar, &'static str, Option<Value>)> {
    use Value::{Bool, Float, Hash, Int, Str};
    let numeric = Numeric {
        amount: Amount::Float(0.1),
        scale: NumericScale::Million,
        currency: Some("EUR".into()),
    };
    vec![
        (Scalar::String, "\"a b\"", Some(Str("a b".into()))),
        (Scalar::Multiline, "\"a\\nb\"", Some(Str("a\nb".into()))),
        (Scalar::Int, "-42", Some(Int(-42))),
        (Scalar::Int64, "9000000000", Some(Int(9_000_000_000))),
        (Scalar::Float, "2.5", Some(Float(2.5))),
        (Scalar::Bool, "yes", Some(Bool(true))),
        (Scalar::Date, "29/2/2020", Some(Int(1_582_934_400))),
        (
            Scalar::DateTime,
            "2020/2/29 00:00:01",
            Some(Int(1_582_934_401)),
        ),
        (Scalar::Duration, "2d", Some(Int(172_800))),
        (Scalar::Numeric, "0.1mEUR", Some(Value::Numeric(numeric))),
        (Scalar::Percent, "5%", Some(Float(5.0))),
        (
            Scalar::Email,
            "a@b.example",
            Some(Str("a@b.example".into())),
        ),
        (
            Scalar::Tel,
            "\"+32 475-12.34\"",
            Some(Str("+324751234".into())),
        ),
        (
            Scalar::IpAddr,
            "2001:DB8::1",
            Some(Str("2001:db8::1".into())),
        ),
        (
            Scalar::IpRange,
            "10.0.0.0/8",
            Some(Str("10.0.0.0/8".into())),
        ),
        (Scalar::IpPort, "8080", Some(Int(8080))),
        (
            Scalar::Guid,
            "0123456789ABCDEF0123456789ABCDEF",
            Some(Str("01234567-89ab-cdef-0123-456789abcdef".into())),
        ),
        (
            Scalar::Url,
            "https://x.example/a",
            Some(Str("https://x.example/a".into())),
        ),
        (Scalar::Path, "/tmp/a b", Some(Str("/tmp/a b".into()))),
        (Scalar::Bytes, "", None),
        (Scalar::Dict, "", None),
        (
            Scalar::Json,
            "'{\"a\": [1, 2]}'",
            Some(Str("{\"a\": [1, 2]}".into())),
        ),
        (Scalar::Yaml, "'a: b'", Some(Str("a: b".into()))),
        (Scalar::Msgpack, "", None),
        (Scalar::Hash, "46:682", Some(Hash(46, 682))),
        (Scalar::CapnpBin, "", None),
    ]
}

#[test]
fn every_type_code_parses_with_its_default_in_any_case() {
    let rows = type_rows();
    assert_eq!(rows.len(), Scalar::all().count());
    for (s, default, value) in rows {
        for code in s.codes() {
            for written in [code.to_string(), code.to_uppercase(), capitalise(code)] {
                let text = format!("@url = t.t.1\nx = {default} ({written})\n");
                let f = one(&text).fields()[0].clone();
                assert_eq!(f.kind(), &scalar(s), "{text}");
                assert_eq!(f.default(), value.as_ref(), "{text}");
            }
            // the same code as a list element, with the default as a one-item list (list
            // items cannot hold commas, so JSON gets a simpler one)
            let (item, value) = match s {
                Scalar::Json => ("'\"s\"'", Some(Value::Str("\"s\"".into()))),
                _ => (default, value.clone()),
            };
            let text = format!("@url = t.t.1\nx = [{item}] (L{code})\n");
            let f = one(&text).fields()[0].clone();
            assert_eq!(
                f.kind(),
                &FieldType::List(Some(Box::new(scalar(s)))),
                "{text}"
            );
            let list = value.map(|v| Value::List(vec![v]));
            assert_eq!(f.default(), list.as_ref(), "{text}");
        }
        if !s.takes_default() {
            let e = err(&format!("@url = t.t.1\nx = abc ({})", s.code()));
            assert!(matches!(e.kind, K::DefaultNotAllowed { .. }), "{e}");
        }
    }
}

fn capitalise(code: &str) -> String {
    let mut chars = code.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect()
}

#[test]
fn enums_objects_and_untyped_lists() {
    for code in ["e", "ENUM", "Enumeration"] {
        let f = one(&format!("@url = t.t.1\nc = 'a, b' ({code})")).fields()[0].clone();
        assert_eq!(
            f.kind().enum_values(),
            Some(&["A".to_string(), "B".to_string()][..])
        );
        assert_eq!(f.default(), Some(&Value::Enum(0)));
    }
    let le = one("@url = t.t.1\nc = [x, y] (LE)").fields()[0].clone();
    assert_eq!(le.kind().enum_values().map(<[String]>::len), Some(2));
    assert_eq!(le.default(), None);
    for code in ["o", "JSXOBJECT"] {
        let f = one(&format!("@url = t.t.1\no = ({code}) !Other.Thing.2")).fields()[0].clone();
        assert_eq!(f.kind(), &FieldType::Object("other.thing.2".into()));
    }
    for code in ["L", "list", "LIST"] {
        let f = one(&format!("@url = t.t.1\nl = [a, 1] ({code})")).fields()[0].clone();
        assert_eq!(f.kind(), &FieldType::List(None));
        let items = vec![Value::Str("a".into()), Value::Str("1".into())];
        assert_eq!(f.default(), Some(&Value::List(items)));
    }
}

#[test]
fn type_inference_follows_the_spec_order() {
    let cases = [
        (
            "a\\nb",
            scalar(Scalar::Multiline),
            Some(Value::Str("a\nb".into())),
        ),
        (
            "\"5\"",
            scalar(Scalar::String),
            Some(Value::Str("5".into())),
        ),
        ("''", scalar(Scalar::String), None),
        ("", scalar(Scalar::String), None),
        ("1.5", scalar(Scalar::Float), Some(Value::Float(1.5))),
        ("False", scalar(Scalar::Bool), Some(Value::Bool(false))),
        (
            "[]",
            FieldType::List(Some(Box::new(scalar(Scalar::String)))),
            None,
        ),
        ("12", scalar(Scalar::Int), Some(Value::Int(12))),
    ];
    for (literal, kind, default) in cases {
        let f = one(&format!("@url = t.t.1\nx = {literal}")).fields()[0].clone();
        assert_eq!(
            (f.kind(), f.default()),
            (&kind, default.as_ref()),
            "{literal}"
        );
    }
}
