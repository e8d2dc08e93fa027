//! Every type family: JSON it accepts (and the value it keeps), JSON it refuses.

use bcdb::object::ObjectError;
use bcdb::schema::{Amount, Numeric, NumericScale, Value};
use serde_json::{json, Value as Json};

use super::{accept, refuse, schemas};

use Value::{Bool, Bytes, Enum, Float, Hash, Int, List, Str};

fn s(text: &str) -> Value {
    Str(text.into())
}

fn n(amount: Amount, scale: NumericScale, currency: Option<&str>) -> Value {
    Value::Numeric(Numeric {
        amount,
        scale,
        currency: currency.map(str::to_owned),
    })
}

type Case = (&'static str, Vec<(Json, Value)>, Vec<Json>);

fn cases() -> Vec<Case> {
    use NumericScale::{One, Percent, Thousand};
    vec![
        (
            "(S)",
            vec![
                (json!("abc"), s("abc")),
                (json!(""), s("")),
                (json!(" é中\n"), s(" é中\n")),
            ],
            vec![json!(5), json!(true), json!(["a"]), json!({})],
        ),
        (
            "(MULTILINE)",
            vec![
                (json!("a\nb"), s("a\nb")),
                (json!("a\\nb"), s("a\\nb")),
                (json!(""), s("")),
            ],
            vec![json!(1), json!(false), json!([])],
        ),
        (
            "(I)",
            vec![
                (json!(5), Int(5)),
                (json!("42"), Int(42)),
                (json!(" -7 "), Int(-7)),
                (json!(2_147_483_647), Int(2_147_483_647)),
            ],
            vec![
                json!(2_147_483_648_i64),
                json!(1.5),
                json!("abc"),
                json!(true),
                json!("1e3"),
            ],
        ),
        (
            "(I64)",
            vec![
                (json!(i64::MAX), Int(i64::MAX)),
                (json!("-9223372036854775808"), Int(i64::MIN)),
                (json!(0), Int(0)),
            ],
            vec![json!(u64::MAX), json!(1.0), json!("x"), json!([1])],
        ),
        (
            "(F)",
            vec![
                (json!(1.5), Float(1.5)),
                (json!(3), Float(3.0)),
                (json!("2.5"), Float(2.5)),
                (json!(-0.0), Float(0.0)),
                (json!("1e21"), Float(1e21)),
            ],
            vec![
                json!("abc"),
                json!(true),
                json!("inf"),
                json!("NaN"),
                json!({}),
            ],
        ),
        (
            "(P)",
            vec![
                (json!("5%"), Float(5.0)),
                (json!(12.5), Float(12.5)),
                (json!("0"), Float(0.0)),
            ],
            vec![json!("five"), json!(true), json!("5%%")],
        ),
        (
            "(B)",
            vec![
                (json!(true), Bool(true)),
                (json!("yes"), Bool(true)),
                (json!("N"), Bool(false)),
                (json!(1), Bool(true)),
                (json!(0), Bool(false)),
                (json!("off"), Bool(false)),
            ],
            vec![json!(2), json!("maybe"), json!(1.0), json!([])],
        ),
        (
            "(D)",
            vec![
                (json!(1_582_934_400), Int(1_582_934_400)),
                (json!("2020-02-29"), Int(1_582_934_400)),
                (json!("29/2/2020"), Int(1_582_934_400)),
                (json!("1/1/1970"), Int(0)),
            ],
            vec![
                json!("+1h"),
                json!("2/3"),
                json!(-1),
                json!("29/2/2021"),
                json!(4_294_967_296_i64),
            ],
        ),
        (
            "(T)",
            vec![
                (json!("1970-01-02 01:02:03"), Int(90_123)),
                (json!(86_400), Int(86_400)),
                (json!("1970-01-01T00:01"), Int(60)),
            ],
            vec![json!("1970-01-01 24:00"), json!("yesterday"), json!(1.5)],
        ),
        (
            "(DURATION)",
            vec![
                (json!("1w"), Int(604_800)),
                (json!("3h"), Int(10_800)),
                (json!(5), Int(5)),
            ],
            vec![json!("5y"), json!(-1), json!("h")],
        ),
        (
            "(N)",
            vec![
                (json!("10 USD"), n(Amount::Int(10), One, Some("USD"))),
                (
                    json!("0.5k eur"),
                    n(Amount::Float(0.5), Thousand, Some("EUR")),
                ),
                (json!(7), n(Amount::Int(7), One, None)),
                (json!(2.5), n(Amount::Float(2.5), One, None)),
                (json!("5%"), n(Amount::Int(5), Percent, None)),
                (json!("-0.0 TFT"), n(Amount::Float(0.0), One, Some("TFT"))),
            ],
            vec![json!("abc"), json!("10 U5D"), json!(true), json!("1e5")],
        ),
        (
            "(EMAIL)",
            vec![
                (json!("a@b.co"), s("a@b.co")),
                (json!(" x.y@z.example "), s("x.y@z.example")),
                (json!(""), s("")),
            ],
            vec![
                json!("x@"),
                json!("no-at"),
                json!("a@b"),
                json!("a b@c.de"),
                json!(5),
            ],
        ),
        (
            "(TEL)",
            vec![
                (json!("+32 475 12 34 56"), s("+32475123456")),
                (json!("(02) 123-456"), s("02123456")),
                (json!("0475123456"), s("0475123456")),
            ],
            vec![json!("12"), json!("abc"), json!(32_475), json!("+32 475 x")],
        ),
        (
            "(IPADDR)",
            vec![
                (json!("10.0.0.1"), s("10.0.0.1")),
                (json!("2001:DB8::1"), s("2001:db8::1")),
                (json!("::1"), s("::1")),
            ],
            vec![
                json!("256.0.0.1"),
                json!("10.0.0"),
                json!(10),
                json!("10.0.0.1/8"),
            ],
        ),
        (
            "(IPRANGE)",
            vec![
                (json!("10.0.0.0/8"), s("10.0.0.0/8")),
                (json!("2001:DB8::/32"), s("2001:db8::/32")),
                (json!("::/0"), s("::/0")),
            ],
            vec![json!("10.0.0.0/33"), json!("10.0.0.0"), json!("x/8")],
        ),
        (
            "(IPPORT)",
            vec![
                (json!(22), Int(22)),
                (json!("65535"), Int(65_535)),
                (json!(0), Int(0)),
            ],
            vec![json!(65_536), json!(-1), json!("ssh")],
        ),
        (
            "(GUID)",
            vec![
                (
                    json!("0123456789ABCDEF0123456789ABCDEF"),
                    s("01234567-89ab-cdef-0123-456789abcdef"),
                ),
                (
                    json!("01234567-89ab-cdef-0123-456789abcdef"),
                    s("01234567-89ab-cdef-0123-456789abcdef"),
                ),
                (json!(""), s("")),
            ],
            vec![
                json!("1234"),
                json!("zz23456789abcdef0123456789abcdef"),
                json!(5),
            ],
        ),
        (
            "(URL)",
            vec![
                (json!("https://x.y/z"), s("https://x.y/z")),
                (json!(" http://a.b "), s("http://a.b")),
                (json!("mailto:a@b.c"), s("mailto:a@b.c")),
            ],
            vec![json!("a b"), json!("http://x y"), json!(5)],
        ),
        (
            "(PATH)",
            vec![
                (json!("/etc/x"), s("/etc/x")),
                (json!("a b"), s("a b")),
                (json!(""), s("")),
            ],
            vec![json!(5), json!([]), json!(false)],
        ),
        (
            "(JSON)",
            vec![
                (json!("{\"a\": 1}"), s("{\"a\": 1}")),
                (
                    json!({"b": [1, 2], "a": null}),
                    s("{\"a\":null,\"b\":[1,2]}"),
                ),
                (json!(3), s("3")),
            ],
            vec![json!("{"), json!("nope"), json!("[1,")],
        ),
        (
            "(YAML)",
            vec![
                (json!("a: 1"), s("a: 1")),
                (json!("- x"), s("- x")),
                (json!(""), s("")),
            ],
            vec![json!(5), json!({}), json!([])],
        ),
        (
            "(DICT)",
            vec![
                (
                    json!({"b": 1, "a": {"c": [true]}}),
                    s("{\"a\":{\"c\":[true]},\"b\":1}"),
                ),
                (json!("{\"x\": 2}"), s("{\"x\":2}")),
                (json!({}), s("{}")),
            ],
            vec![json!("[1]"), json!([1]), json!(5), json!("{")],
        ),
        (
            "(BYTES)",
            vec![
                (json!("00ff10"), Bytes(vec![0, 255, 16])),
                (json!("ABCD"), Bytes(vec![0xab, 0xcd])),
                (json!(""), Bytes(vec![])),
            ],
            vec![json!("abc"), json!("zz"), json!(5), json!([1, 2])],
        ),
        (
            "(MSGPACK)",
            vec![
                (json!("81a161"), Bytes(vec![0x81, 0xa1, 0x61])),
                (json!(""), Bytes(vec![])),
            ],
            vec![json!("x"), json!({}), json!(true)],
        ),
        (
            "(CAPNPBIN)",
            vec![
                (json!("00"), Bytes(vec![0])),
                (json!("0a0B"), Bytes(vec![10, 11])),
            ],
            vec![json!("0"), json!(0), json!(null_list())],
        ),
        (
            "(H)",
            vec![
                (json!("46:682"), Hash(46, 682)),
                (json!([1, 2]), Hash(1, 2)),
                (json!("0:4294967295"), Hash(0, u32::MAX)),
            ],
            vec![
                json!("46"),
                json!([1]),
                json!([-1, 2]),
                json!("a:b"),
                json!([1, 4_294_967_296_i64]),
            ],
        ),
        (
            "\"red,green,blue\" (E)",
            vec![
                (json!("red"), Enum(0)),
                (json!("GREEN"), Enum(1)),
                (json!(2), Enum(2)),
                (json!(" blue "), Enum(2)),
            ],
            vec![json!("purple"), json!(3), json!(true), json!(-1)],
        ),
        (
            "(LS)",
            vec![
                (json!(["a", "b"]), List(vec![s("a"), s("b")])),
                (json!([]), List(vec![])),
                (json!([""]), List(vec![s("")])),
            ],
            vec![json!("a"), json!([1]), json!([null]), json!({"a": 1})],
        ),
        (
            "(LI)",
            vec![
                (json!(["1", 2]), List(vec![Int(1), Int(2)])),
                (json!([]), List(vec![])),
            ],
            vec![json!([1.5]), json!(["x"]), json!(1)],
        ),
        (
            "\"a,b\" (LE)",
            vec![(json!(["b", 0, "A"]), List(vec![Enum(1), Enum(0), Enum(0)]))],
            vec![json!(["c"]), json!([2]), json!("a")],
        ),
        (
            "(L)",
            vec![
                (
                    json!(["a", 1, 2.5, true]),
                    List(vec![s("a"), Int(1), Float(2.5), Bool(true)]),
                ),
                (json!([-0.0]), List(vec![Float(0.0)])),
                (json!([]), List(vec![])),
            ],
            vec![json!([[1]]), json!([{}]), json!([null]), json!("a")],
        ),
    ]
}

fn null_list() -> Json {
    json!([null])
}

#[test]
fn each_type_accepts_its_forms_and_refuses_others() {
    let mut n_accepted = 0;
    let mut n_refused = 0;
    for (right, accepted, refused) in cases() {
        assert!(accepted.len() >= 2 || right.contains('L'), "{right}");
        assert!(refused.len() >= 3, "{right}");
        let all = schemas(&format!("@url = t.one.1\nv = {right}\n"));
        for (input, want) in accepted {
            let o = accept(&all, &json!({ "v": input }));
            assert_eq!(o.get(0), Some(&want), "{right} {input}");
            n_accepted += 1;
        }
        for input in refused {
            match refuse(&all, &json!({ "v": input })) {
                ObjectError::Invalid { path, reason } => {
                    assert!(path.starts_with('v'), "{right} {input}: {path}");
                    assert!(reason.contains("is not"), "{right} {input}: {reason}");
                }
                e => panic!("{right} {input}: {e:?}"),
            }
            n_refused += 1;
        }
    }
    assert!(
        n_accepted > 80 && n_refused > 100,
        "{n_accepted} {n_refused}"
    );
}

#[test]
fn null_is_absent_not_a_value() {
    let all = schemas("@url = t.one.1\nv = (I)\nw = 5\n");
    let o = accept(&all, &json!({"v": null, "w": null}));
    assert_eq!(o.get(0), None);
    assert_eq!(o.get(1), Some(&Int(5)));
}
