//! Random objects of random schemas (the schema tests' generator), for the round-trip
//! properties and as the corpus the byte mutations start from. Seeds are fixed; a failure
//! names the schema and the JSON.

use bcdb::object::{Object, Resolve};
use bcdb::schema::{parse, FieldType, Scalar, Schema};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value as Json};

use super::{accept, schema_gen};

/// Generated schemas refer to `demo.sub.N` / `a.sub.N`, which no block defines: every url
/// resolves to one of the text's blocks, chosen by the url, so objects can nest (and recurse).
pub(crate) fn resolve_any(all: &[Schema]) -> impl Fn(&str) -> Option<Schema> + '_ {
    move |url| {
        let n = url.bytes().map(usize::from).sum::<usize>();
        all.get(n % all.len()).cloned()
    }
}

/// Random JSON that every schema accepts for a field of type `ty`, or `None` to leave it out.
fn field_json(
    rng: &mut StdRng,
    resolve: Resolve<'_>,
    ty: &FieldType,
    depth: usize,
) -> Option<Json> {
    Some(match ty {
        FieldType::Scalar(s) => scalar_json(rng, *s),
        FieldType::Enum(values) => {
            let i = rng.gen_range(0..values.len());
            if rng.gen_bool(0.5) {
                json!(i)
            } else {
                json!(values[i].to_lowercase())
            }
        }
        FieldType::Object(url) => {
            if depth >= 3 {
                return None;
            }
            let schema = resolve(url)?;
            object_json(rng, resolve, &schema, depth + 1)
        }
        FieldType::List(inner) => {
            let n = rng.gen_range(0..4);
            let items = (0..n).filter_map(|_| match inner.as_deref() {
                Some(ty) => field_json(rng, resolve, ty, depth),
                None => Some(untyped(rng)),
            });
            Json::Array(items.collect())
        }
    })
}

/// A JSON object of `schema`: some fields left out, some null, the rest random.
pub(crate) fn object_json(
    rng: &mut StdRng,
    resolve: Resolve<'_>,
    schema: &Schema,
    depth: usize,
) -> Json {
    let mut map = Map::new();
    for field in schema.fields() {
        match rng.gen_range(0..10) {
            0 => continue,
            1 => {
                map.insert(field.name().to_owned(), Json::Null);
            }
            _ => {
                if let Some(v) = field_json(rng, resolve, field.kind(), depth) {
                    map.insert(field.name().to_owned(), v);
                }
            }
        }
    }
    Json::Object(map)
}

fn untyped(rng: &mut StdRng) -> Json {
    match rng.gen_range(0..4) {
        0 => json!(awkward(rng)),
        1 => json!(rng.gen::<i64>()),
        2 => json!(float(rng)),
        _ => json!(rng.gen_bool(0.5)),
    }
}

fn awkward(rng: &mut StdRng) -> String {
    const CHARS: &[char] = &[
        'a', 'Z', ' ', '"', '\\', '\n', 'é', '中', '\u{0}', '😀', '{', ',',
    ];
    let n = rng.gen_range(0..8);
    (0..n).map(|_| *CHARS.choose(rng).expect("chars")).collect()
}

fn float(rng: &mut StdRng) -> f64 {
    loop {
        let f = match rng.gen_range(0..3) {
            0 => f64::from_bits(rng.gen()),
            1 => (rng.gen::<f64>() - 0.5) * 10f64.powi(rng.gen_range(-12..25)),
            _ => f64::from(rng.gen_range(-3..3)),
        };
        if f.is_finite() {
            return f;
        }
    }
}

fn random_json(rng: &mut StdRng, depth: usize) -> Json {
    match rng.gen_range(0..if depth > 2 { 4 } else { 6 }) {
        0 => Json::Null,
        1 | 2 => untyped(rng),
        3 => json!(rng.gen::<u64>()),
        4 => Json::Array(
            (0..rng.gen_range(0..3))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => random_object(rng, depth + 1),
    }
}

fn random_object(rng: &mut StdRng, depth: usize) -> Json {
    let map = (0..rng.gen_range(0..4)).map(|_| (awkward(rng), random_json(rng, depth)));
    Json::Object(map.collect())
}

fn pick(rng: &mut StdRng, options: &[&str]) -> Json {
    json!(options.choose(rng).expect("options"))
}

fn scalar_json(rng: &mut StdRng, s: Scalar) -> Json {
    let u32_ = |rng: &mut StdRng| json!(rng.gen::<u32>());
    match s {
        Scalar::String | Scalar::Multiline | Scalar::Path | Scalar::Yaml => json!(awkward(rng)),
        Scalar::Int if rng.gen_bool(0.3) => json!(rng.gen::<i32>().to_string()),
        Scalar::Int => json!(rng.gen::<i32>()),
        Scalar::Int64 => json!(rng.gen::<i64>()),
        Scalar::Float | Scalar::Percent if rng.gen_bool(0.2) => json!(float(rng).to_string()),
        Scalar::Float | Scalar::Percent => json!(float(rng)),
        Scalar::Bool => pick(rng, &["true", "False", "yes", "N", "1", "off"]),
        Scalar::Date if rng.gen_bool(0.5) => pick(rng, &["1/1/1970", "2020/2/29", "2020-02-29"]),
        Scalar::DateTime if rng.gen_bool(0.5) => pick(rng, &["2020-02-29 12:30", "86400"]),
        Scalar::Duration if rng.gen_bool(0.5) => pick(rng, &["1w", "2d", "3h", "4m", "5"]),
        Scalar::Date | Scalar::DateTime | Scalar::Duration => u32_(rng),
        Scalar::Numeric if rng.gen_bool(0.3) => json!(float(rng)),
        Scalar::Numeric => pick(rng, &["10 USD", "0.1mEUR", "10k", "5%", "-3.25 tft", "7"]),
        Scalar::Email => pick(rng, &["a@b.co", " x.y@z.example", ""]),
        Scalar::Tel => pick(rng, &["+32 475 12 34 56", "(02) 123-456", "0475123456"]),
        Scalar::IpAddr => pick(rng, &["10.0.0.1", "::1", "2001:DB8::1", "::ffff:1.2.3.4"]),
        Scalar::IpRange => pick(rng, &["10.0.0.0/8", "2001:db8::/32"]),
        Scalar::IpPort => json!(rng.gen::<u16>()),
        Scalar::Guid => pick(rng, &["0123456789ABCDEF0123456789ABCDEF", ""]),
        Scalar::Url => pick(rng, &["https://x.y/z", "http://a.b"]),
        Scalar::Json if rng.gen_bool(0.5) => pick(rng, &["{\"a\": 1}", "[1, 2]", "\"s\"", "3"]),
        Scalar::Json if rng.gen_bool(0.5) => random_object(rng, 0),
        // A JSON string is JSON text to this type, so a random value is sent as text.
        Scalar::Json => json!(random_json(rng, 0).to_string()),
        Scalar::Dict => random_object(rng, 0),
        Scalar::Bytes | Scalar::Msgpack | Scalar::CapnpBin => {
            let bytes: Vec<u8> = (0..rng.gen_range(0..12)).map(|_| rng.gen()).collect();
            json!(hex::encode(bytes))
        }
        Scalar::Hash if rng.gen_bool(0.5) => json!([rng.gen::<u32>(), rng.gen::<u32>()]),
        Scalar::Hash => json!(format!("{}:{}", rng.gen::<u32>(), rng.gen::<u32>())),
    }
}

/// Random schema texts with random objects of their first block, each checked by
/// [`super::accept`]'s round trips. Returns (schemas, object) pairs for other tests.
pub(crate) fn corpus(n_texts: usize, per_text: usize, seed: u64) -> Vec<(Vec<Schema>, Object)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    while out.len() < n_texts * per_text {
        let text = schema_gen::text(&mut rng);
        let Ok(all) = parse(&text) else { continue };
        let resolve = resolve_any(&all);
        for _ in 0..per_text {
            let json = object_json(&mut rng, &resolve, &all[0], 0);
            let object = Object::from_json(&all[0], &json, &resolve)
                .unwrap_or_else(|e| panic!("{json} refused by\n{text}: {e}"));
            super::assert_round_trips_with(&all, &resolve, &object);
            out.push((all.clone(), object));
        }
    }
    out
}

#[test]
fn random_objects_round_trip_through_json_and_bytes() {
    for seed in 0..4 {
        let corpus = corpus(100, 5, seed);
        let n_fields: usize = corpus.iter().map(|(_, o)| o.fields().len()).sum();
        assert!(
            n_fields > 500,
            "seed {seed}: only {n_fields} fields generated"
        );
    }
}

#[test]
fn spec_example_round_trips() {
    let all = super::schemas(super::HOUSE);
    let resolve = super::resolver(&all);
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..200 {
        let json = object_json(&mut rng, &resolve, &all[0], 0);
        accept(&all, &json);
    }
}
