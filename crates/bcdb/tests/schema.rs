//! The jsxschema parser against the spec (§1.7 cases, every type code, errors with exact
//! positions), its canonical printer (golden text, parse → print → parse on generated
//! schemas) and its evolution rules; plus a mutation fuzz loop that must never panic.

#[path = "schema/evolution.rs"]
mod evolution;
#[path = "schema/gen.rs"]
mod schema_gen;
#[path = "schema/types.rs"]
mod types;

use bcdb::schema::{
    parse, parse_blocks, parse_with_url, to_text_all, FieldType, IndexKind, Scalar, Schema,
    SchemaError, SchemaErrorKind as K, Value, WarningKind,
};

const SPEC_EXAMPLE: &str = r#"@url = demo.house.1
name** = "" (S)               # indexed, implicitly unique
active = true                 # inferred bool
rooms = (LO) !demo.room.1     # list of embedded objects
color = "red,green,blue" (E)  # enum, default RED
price** = (N)                 # numeric with currency, indexed as USD
&serial = "" (S)              # unique

@url = demo.room.1
0: area = 0.0                 # inferred float, explicit numbering
1: tags = (LS)
"#;

type KindCheck = fn(&K) -> bool;

fn one(text: &str) -> Schema {
    let mut schemas = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert_eq!(schemas.len(), 1, "{text:?}");
    schemas.remove(0)
}

fn err(text: &str) -> SchemaError {
    match parse(text) {
        Ok(s) => panic!("{text:?} parsed: {s:?}"),
        Err(e) => e,
    }
}

fn scalar(s: Scalar) -> FieldType {
    FieldType::Scalar(s)
}

#[test]
fn spec_example_blocks_fields_and_numbers() {
    let schemas = parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(schemas.len(), 2);
    let house = &schemas[0];
    assert_eq!(house.url(), "demo.house.1");
    assert_eq!(house.version(), Some(1));
    let nrs: Vec<u16> = house.fields().iter().map(|f| f.nr()).collect();
    assert_eq!(nrs, [0, 1, 2, 3, 4, 5]);

    let name = house.field("name").unwrap();
    assert_eq!(name.kind(), &scalar(Scalar::String));
    assert_eq!(
        (name.index(), name.is_unique()),
        (IndexKind::Secondary, true)
    );
    assert_eq!(name.default(), None);
    assert_eq!(name.comment(), Some("indexed, implicitly unique"));

    let active = house.field("active").unwrap();
    assert_eq!(active.kind(), &scalar(Scalar::Bool));
    assert_eq!(active.default(), Some(&Value::Bool(true)));

    let rooms = house.field("rooms").unwrap();
    let room_type = FieldType::Object("demo.room.1".into());
    assert_eq!(rooms.kind(), &FieldType::List(Some(Box::new(room_type))));
    assert_eq!(rooms.kind().object_url(), Some("demo.room.1"));

    let color = house.field("color").unwrap();
    let values = ["RED", "GREEN", "BLUE"].map(String::from).to_vec();
    assert_eq!(color.kind(), &FieldType::Enum(values));
    assert_eq!(color.default(), Some(&Value::Enum(0)));

    let price = house.field("price").unwrap();
    assert_eq!(
        (price.kind(), price.index()),
        (&scalar(Scalar::Numeric), IndexKind::Secondary)
    );

    let serial = house.field("serial").unwrap();
    assert!(serial.is_unique());
    assert_eq!(serial.index(), IndexKind::Secondary);
    assert!(!house.field("active").unwrap().is_unique());

    let room = &schemas[1];
    assert_eq!(room.url(), "demo.room.1");
    assert_eq!(
        room.fields().iter().map(|f| f.nr()).collect::<Vec<_>>(),
        [0, 1]
    );
    assert_eq!(
        room.field("area").unwrap().default(),
        Some(&Value::Float(0.0))
    );
    let tags = FieldType::List(Some(Box::new(scalar(Scalar::String))));
    assert_eq!(room.field("tags").unwrap().kind(), &tags);
}

#[test]
fn spec_error_cases() {
    let cases: [(&str, KindCheck); 6] = [
        ("@url = a.b.1\n0: x = 1\ny = 2", |k| *k == K::MixedNumbering),
        ("@url = a.b.1\nx (S)", |k| {
            matches!(k, K::MissingEquals { .. })
        }),
        ("@url = a.b.1\nid = 1", |k| {
            matches!(k, K::ReservedName { .. })
        }),
        ("x = 1", |k| *k == K::MissingUrl),
        ("@url = a.b.1\nx = 1 (nope)", |k| {
            matches!(k, K::UnknownType { .. })
        }),
        ("@url = a.b.1\nx = abc", |k| {
            matches!(k, K::CannotInfer { .. })
        }),
    ];
    for (text, is) in cases {
        let e = err(text);
        assert!(is(&e.kind), "{text:?}: {e}");
    }
}

/// Each malformed line after a valid `@url` line, and the exact message: line, column (in
/// characters) and the offending text.
#[test]
fn errors_point_at_the_offending_text() {
    let cases = [
        ("x = 1 (XX)", "2, column 8: unknown type code \"XX\""),
        ("  name (S)", "2, column 3: expected \"=\" in \"name (S)\""),
        ("x1: a = 1", "2, column 1: bad field number \"x1\""),
        ("70000: a = 1", "2, column 1: bad field number \"70000\""),
        ("a = 1\n A = 2", "3, column 2: field \"A\" is declared twice"),
        ("1: a = 1\n 1: b = 2", "3, column 2: field number 1 is used twice"),
        ("0: a = 1\nb = 2", "3, column 1: field numbers must be given on every field line or on none"),
        ("a = 1\n0: b = 2", "3, column 1: field numbers must be given on every field line or on none"),
        ("x = \"abc # no comment\" (S)", "2, column 5: unterminated quote in \"\\\"abc\""),
        ("x = 1 (I) !a.b.2", "2, column 11: \"!a.b.2\" given for type I, which is not an object"),
        ("x = (O)", "2, column 6: type O needs \"!url\" naming the embedded schema"),
        ("x = (LO)", "2, column 6: type LO needs \"!url\" naming the embedded schema"),
        ("x = (LO) !a..b", "2, column 11: bad schema url \"a..b\""),
        ("x = 1 (O) !", "2, column 12: bad schema url \"\""),
        ("  id = 1", "2, column 3: field name \"id\" is reserved"),
        ("Schema = 1", "2, column 1: field name \"Schema\" is reserved"),
        ("x = abc", "2, column 5: cannot infer a type from \"abc\"; add a (TYPE)"),
        ("x = 12a (I)", "2, column 5: default \"12a\" is not a valid I: not an integer"),
        ("x = 3000000000 (I)", "2, column 5: default \"3000000000\" is not a valid I: outside -2147483648..=2147483647"),
        ("x = 1/1/1969 (D)", "2, column 5: default \"1/1/1969\" is not a valid D: outside 1970-01-01 .. 2106-02-07 (32-bit epoch seconds)"),
        ("x = 'a@b' (EMAIL)", "2, column 5: default \"'a@b'\" is not a valid EMAIL: expected local@domain.tld"),
        ("x = [1, a] (LI)", "2, column 5: default \"[1, a]\" is not a valid LI: not an integer"),
        ("c = \"red,,blue\" (E)", "2, column 5: enum values \"\\\"red,,blue\\\"\": \"\" is not a value name (letters, digits, _)"),
        ("c = a,b,A (E)", "2, column 5: enum values \"a,b,A\": A is listed twice"),
        ("c = (E)", "2, column 6: enum values \"\": an enum lists its values in the default slot, e.g. \"a,b\" (E)"),
        ("x = \"é\" (XX)", "2, column 10: unknown type code \"XX\""),
        ("x = (LLS)", "2, column 6: lists of lists are not supported: \"LLS\""),
        ("x = (S", "2, column 5: missing \")\" after \"(S\""),
        ("x = 'a' b", "2, column 9: unexpected text \"b\""),
        ("x = (O) !a.b (I)", "2, column 10: bad schema url \"a.b (I)\""),
        ("x**** = 1", "2, column 2: bad index marks \"****\" (use \"**\" or \"***\")"),
        ("n-m = 1", "2, column 1: bad field name \"n-m\""),
        ("data** = (bytes)", "2, column 1: field \"data\" of type BYTES cannot be indexed"),
        ("&when = (duration)", "2, column 2: field \"when\" of type DURATION cannot be indexed"),
        ("name = (LS)", "2, column 1: field \"name\" of type LS cannot be indexed"),
        ("n*** = 1 (I)", "2, column 1: full-text index on \"n\" needs a text type, not I"),
        ("x = abc (O) !a.b", "2, column 5: type O takes no default"),
        ("@acl = maybe", "2, column 8: @acl must be true or false, not \"maybe\""),
        ("@acl = true\n@ACL = true", "3, column 2: property @acl is set twice"),
        ("@9x = 1", "2, column 2: bad property name \"9x\""),
        ("x = 1\n@url = A.B.1", "3, column 8: schema \"a.b.1\" is defined twice"),
    ];
    for (line, message) in cases {
        let text = format!("@url = a.b.1\n{line}");
        assert_eq!(
            err(&text).to_string(),
            format!("line {message}"),
            "{text:?}"
        );
    }
    let outside = [
        (
            "\n# c\n  x = 1",
            "line 3, column 3: schema has no @url and none was given",
        ),
        (
            "@acl = false\n",
            "line 1, column 1: schema has no @url and none was given",
        ),
        (
            "@url = Demo..x",
            "line 1, column 8: bad schema url \"Demo..x\"",
        ),
    ];
    for (text, message) in outside {
        assert_eq!(err(text).to_string(), message, "{text:?}");
    }
}

#[test]
fn error_messages_name_line_column_and_text() {
    let e = err("@url = a.b.1\n\nprice = 12     (XX)");
    assert_eq!(e.to_string(), "line 3, column 17: unknown type code \"XX\"");
    let e = parse_with_url("x = 1", "not a url").unwrap_err();
    assert_eq!((e.line, e.column), (0, 0));
    assert_eq!(e.to_string(), "url argument: bad schema url \"not a url\"");
}

#[test]
fn comments_and_hashes() {
    let text = "# header\n   # indented comment\n@url = a.b.1 # the url\n\
                @note = \"x\" # a note\nx = 1 (I) # one # two\ny = 'a' #\n#z = 1\n";
    let s = one(text);
    assert_eq!(s.url(), "a.b.1");
    assert_eq!(s.property("note"), Some("x"));
    assert_eq!(s.fields().len(), 2);
    assert_eq!(s.fields()[0].comment(), Some("one # two"));
    assert_eq!(s.fields()[1].comment(), None);
    // `#` always starts a comment, even inside quotes: no escaping
    let e = err("@url = a.b.1\nx = \"a#b\"");
    assert!(matches!(e.kind, K::UnterminatedQuote { .. }));
}

#[test]
fn several_blocks_and_urls() {
    let text =
        "@url = A.b.1\n@acl = False\nx = 1\n\n@url = 'a.c'\n@sub = true\n@url = \"a.d.12\"\n";
    let s = parse(text).unwrap();
    assert_eq!(
        s.iter().map(Schema::url).collect::<Vec<_>>(),
        ["a.b.1", "a.c", "a.d.12"]
    );
    assert!(!s[0].acl() && s[1].acl() && s[1].is_sub() && !s[2].is_sub());
    assert_eq!(
        s.iter().map(Schema::version).collect::<Vec<_>>(),
        [Some(1), None, Some(12)]
    );
    assert!(parse("").unwrap().is_empty());
    assert!(parse("# only a comment\n\n").unwrap().is_empty());

    let s = parse_with_url("x = 1\n@url = b.c.1\ny = 2", " A.Z.1 ").unwrap();
    assert_eq!((s[0].url(), s[1].url()), ("a.z.1", "b.c.1"));
    let s = parse_with_url("@url = a.z.1\nx = 1", "a.z.1").unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(parse_with_url("", "a.z.1").unwrap()[0].fields().len(), 0);
    let e = parse_with_url("@url = a.y.1\nx = 1", "a.z.1").unwrap_err();
    assert_eq!(
        e.kind,
        K::UrlMismatch {
            expected: "a.z.1".into(),
            found: "a.y.1".into()
        }
    );
}

#[test]
fn warnings_and_md5_compat_ids() {
    let parsed = parse_blocks("@url = a.b.1\nk* = 1\nmy__x = 2 # c\n", None).unwrap();
    let kinds: Vec<_> = parsed[0]
        .warnings
        .iter()
        .map(|w| (w.line, w.column, &w.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (2, 2, &WarningKind::KeyIndexMark { name: "k".into() }),
            (
                3,
                1,
                &WarningKind::DoubleUnderscore {
                    name: "my__x".into()
                }
            ),
        ]
    );
    assert_eq!(
        parsed[0].schema.field("k").unwrap().index(),
        IndexKind::Secondary
    );

    use md5::{Digest, Md5};
    let blocks = parse_blocks(SPEC_EXAMPLE, None).unwrap();
    let room = "@url=demo.room.10:area=0.01:tags=(LS)";
    assert_eq!(blocks[1].md5, <[u8; 16]>::from(Md5::digest(room)));
    let house = "@url=demo.house.10:name**=\"\"(S)1:active=true2:rooms=(LO)!demo.room.1\
                 3:color=\"red,green,blue\"(E)4:price**=(N)5:&serial=\"\"(S)";
    assert_eq!(blocks[0].md5, <[u8; 16]>::from(Md5::digest(house)));
}

const GOLDEN_IN: &str = r#"
@url = Demo.House.1
@importance = 'very high'
@acl = FALSE
name* = "" (string)           # indexed, implicitly unique
active = true
rooms = (lo) !Demo.Room.1
color = "red, green,blue" (enum)
price** = 10.5 usd (N)
&serial = "A-1" (S)
tags = ["x y", 'b', c] (LS)
notes*** = "line1\nline2" (multiline)
when = 2020-02-29 (d)
"#;

const GOLDEN_OUT: &str = r#"@url = demo.house.1
@acl = false
@importance = very high
0: &name** = (S) # indexed, implicitly unique
1: active = true (B)
2: rooms = (LO) !demo.room.1
3: color = "RED,GREEN,BLUE" (E)
4: price** = 10.5 USD (N)
5: &serial** = "A-1" (S)
6: tags = ["x y", "b", "c"] (LS)
7: notes*** = "line1\nline2" (MULTILINE)
8: when = 1582934400 (D)
"#;

/// SHA-256 of GOLDEN_OUT: a change to the canonical form changes every schema's identity.
const GOLDEN_HASH: &str = "58ce7ae59409a8105ccebfbc2af395910318b2073789aa0a2317c2633a560df4";

#[test]
fn canonical_text_is_golden() {
    let s = one(GOLDEN_IN);
    assert_eq!(s.to_text(), GOLDEN_OUT);
    assert_eq!(one(GOLDEN_OUT), s);
    assert_eq!(hex::encode(s.hash()), GOLDEN_HASH);
    let same = "@url=demo.house.1\n@importance=\"very high\"\n@acl=false\n\
                0:&name**=(s)#indexed, implicitly unique\n1:active=y(b)\n2:rooms=(lo)!demo.room.1\n\
                3:color=RED,GREEN,BLUE(e)\n4:price**=10.5USD(n)\n5:&serial**='A-1'(str)\n\
                6:tags=[x y,b,c](ls)\n7:notes***=line1\\nline2(multiline)\n8:when=29/2/2020(date)";
    assert_eq!(one(same).hash(), s.hash());
}

#[test]
fn printed_texts_of_several_blocks_parse_back() {
    let schemas = parse(SPEC_EXAMPLE).unwrap();
    let text = to_text_all(&schemas);
    assert_eq!(parse(&text).unwrap(), schemas);
}

#[test]
fn parse_print_parse_on_generated_schemas() {
    let n_ok = schema_gen::check_round_trips(3_000, 7);
    assert!(n_ok > 2_000, "only {n_ok} of 3000 generated texts parsed");
}

#[test]
fn mutated_and_random_texts_never_panic() {
    let n_parsed = schema_gen::fuzz(20_000, 11, &[SPEC_EXAMPLE, GOLDEN_IN, GOLDEN_OUT]);
    assert!(
        n_parsed > 100,
        "mutations should sometimes stay valid: {n_parsed}"
    );
}

#[test]
fn large_texts_stay_fast_and_bounded() {
    let mut text = String::from("@url = big.one.1\n");
    for idx in 0..=65_535 {
        text.push_str(&format!("f{idx} = {idx}\n"));
    }
    let start = std::time::Instant::now();
    assert_eq!(one(&text).fields().len(), 65_536);
    text.push_str("one_more = 1\n");
    assert_eq!(err(&text).kind, K::TooManyFields);
    let blocks: String = (0..20_000)
        .map(|i| format!("@url = b.{i}\nx = 1\n"))
        .collect();
    assert_eq!(parse(&blocks).unwrap().len(), 20_000);
    let values: Vec<String> = (0..10_000).map(|i| format!("v{i}")).collect();
    let e = err(&format!("@url = e.e.1\nc = {} (E)", values.join(",")));
    assert!(matches!(e.kind, K::BadEnum { .. }), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}
