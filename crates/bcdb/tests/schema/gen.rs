//! Random schema texts for the round-trip property and the no-panic fuzz loop.
//!
//! Texts are generated from the grammar with random aliases, letter case, spacing, quoting,
//! numbering and awkward strings (quotes, parentheses, `!`, commas, non-ASCII), so the
//! printer's quoting is tested on whatever the parser accepts; a text the parser refuses is
//! simply counted. Seeds are fixed: a failure names the text and reproduces.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bcdb::schema::{parse, parse_blocks, parse_with_url, to_text_all, IndexColumn, Scalar, Schema};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Asserts parse(print(schemas)) == schemas and that printing again gives the same text.
pub(crate) fn assert_round_trip(source: &str, schemas: &[Schema]) {
    let printed = to_text_all(schemas);
    let again = parse(&printed).unwrap_or_else(|e| {
        panic!("printed text does not parse: {e}\nsource:\n{source}\nprinted:\n{printed}")
    });
    assert_eq!(again, schemas, "source:\n{source}\nprinted:\n{printed}");
    assert_eq!(to_text_all(&again), printed, "source:\n{source}");
    for (a, b) in again.iter().zip(schemas) {
        assert_eq!(a.hash(), b.hash());
    }
}

/// Generates `n` texts; every one that parses must round-trip. Returns how many parsed.
pub(crate) fn check_round_trips(n: usize, seed: u64) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n_ok = 0;
    for _ in 0..n {
        let text = text(&mut rng);
        if let Ok(schemas) = parse(&text) {
            assert_round_trip(&text, &schemas);
            n_ok += 1;
        }
    }
    n_ok
}

/// Mutates `seeds` and generated texts `n` times, and adds fully random lines; the parser
/// must answer every one without panicking, and whatever it accepts must round-trip.
/// Returns how many mutated texts still parsed.
pub(crate) fn fuzz(n: usize, seed: u64, seeds: &[&str]) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut corpus: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
    corpus.extend((0..50).map(|_| text(&mut rng)));
    let mut n_parsed = 0;
    for _ in 0..n {
        let input = if rng.gen_bool(0.1) {
            random_lines(&mut rng)
        } else {
            let base = corpus.choose(&mut rng).expect("corpus is not empty");
            mutate(&mut rng, base)
        };
        let results = catch_unwind(AssertUnwindSafe(|| {
            (
                parse(&input),
                parse_with_url(&input, "f.z.1"),
                parse_blocks(&input, Some("F.Z")),
            )
        }));
        let Ok((plain, with_url, _)) = results else {
            panic!("the parser panicked on {input:?}");
        };
        for schemas in [plain, with_url].into_iter().flatten() {
            assert_round_trip(&input, &schemas);
            n_parsed += 1;
        }
    }
    n_parsed
}

const TOKENS: &[&str] = &[
    "@url = ", "@acl = ", "(", ")", "!", "#", "\"", "'", "=", ":", "*", "&", "\n", "(LO)", "(E)",
    "[", "]", ",", "\\n", "99999:", "0:", "id", "name", "\u{0}", "\r", "é", "中", " ", "\t", "(l)",
    "(LLS)", "(N)", "a.b.1", "%", "-", ".", "true", "1", "\u{212A}", "\u{feff}",
];

fn mutate(rng: &mut StdRng, base: &str) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for _ in 0..rng.gen_range(1..=4) {
        let at = rng.gen_range(0..=chars.len());
        match rng.gen_range(0..5) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at < chars.len() => chars[at] = random_char(rng),
            2 => {
                let end = (at + rng.gen_range(0..40)).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                let to = rng.gen_range(0..=chars.len());
                chars.splice(to..to, copy);
            }
            3 => chars.truncate(at),
            _ => {
                let token = TOKENS.choose(rng).expect("tokens");
                chars.splice(at..at, token.chars());
            }
        }
    }
    chars.into_iter().collect()
}

fn random_char(rng: &mut StdRng) -> char {
    let token = TOKENS.choose(rng).expect("tokens");
    if rng.gen_bool(0.5) {
        token.chars().next().unwrap_or('x')
    } else {
        char::from_u32(rng.gen_range(0..0x3000)).unwrap_or('?')
    }
}

fn random_lines(rng: &mut StdRng) -> String {
    (0..rng.gen_range(1..6))
        .map(|_| {
            let n_tokens = rng.gen_range(0..8);
            let line: String = (0..n_tokens)
                .map(|_| *TOKENS.choose(rng).expect("tokens"))
                .collect();
            line + "\n"
        })
        .collect()
}

const AWKWARD: &[char] = &[
    'a', 'b', 'Z', ' ', '"', '\'', '(', ')', '!', ',', '[', ']', 'é', '中', '\\', 'n', ':', '*',
    '&', '=', '@', '.', '-', '\t', '%', '{', '}', '0', '\r',
];

fn awkward(rng: &mut StdRng) -> String {
    let n = rng.gen_range(1..8);
    (0..n)
        .map(|_| *AWKWARD.choose(rng).expect("chars"))
        .collect()
}

/// `s` in double quotes, single quotes or none, whichever the coin picks among those that
/// keep it whole (and sometimes none regardless).
fn quoted(rng: &mut StdRng, s: &str) -> String {
    match rng.gen_range(0..4) {
        0 if !s.contains('"') => format!("\"{s}\""),
        1 if !s.contains('\'') => format!("'{s}'"),
        3 => s.to_owned(),
        _ if !s.contains('"') => format!("\"{s}\""),
        _ => format!("'{s}'"),
    }
}

fn pick<'a>(rng: &mut StdRng, options: &[&'a str]) -> &'a str {
    options.choose(rng).expect("options")
}

/// A default literal as written for scalar `s`, or `None` for none.
fn sample(rng: &mut StdRng, s: Scalar) -> Option<String> {
    if rng.gen_bool(0.15) {
        return None;
    }
    let fixed = |rng: &mut StdRng, options: &[&str]| Some(pick(rng, options).to_owned());
    match s {
        Scalar::String | Scalar::Path | Scalar::Yaml => {
            let text = awkward(rng);
            Some(quoted(rng, &text))
        }
        Scalar::Multiline => {
            let (a, b) = (awkward(rng), awkward(rng));
            Some(quoted(rng, &format!("{a}\\n{b}")))
        }
        Scalar::Int => Some(rng.gen::<i32>().to_string()),
        Scalar::Int64 => Some(rng.gen::<i64>().to_string()),
        Scalar::Float => {
            let f = (rng.gen::<f64>() - 0.5) * 10f64.powi(rng.gen_range(-12..25));
            Some(match rng.gen_range(0..3) {
                0 => format!("{f}"),
                1 => format!("{f:e}"),
                _ => format!("{f:?}"),
            })
        }
        Scalar::Bool => fixed(rng, &["true", "False", "yes", "N", "1", "off"]),
        Scalar::Date => fixed(rng, &["1/1/1970", "2020/2/29", "2020-02-29", "1582934400"]),
        Scalar::DateTime => fixed(rng, &["'2020-02-29 12:30'", "1970-01-01T00:00:01", "86400"]),
        Scalar::Duration => fixed(rng, &["1w", "2d", "3h", "4m", "5", "10s"]),
        Scalar::Numeric => fixed(rng, &["10 USD", "0.1mEUR", "10k", "5%", "-3.25 tft", "7"]),
        Scalar::Percent => fixed(rng, &["5%", "12.5", "0"]),
        Scalar::Email => fixed(rng, &["a@b.co", "x.y@z.example"]),
        Scalar::Tel => fixed(
            rng,
            &["'+32 475 12 34 56'", "\"(02) 123-456\"", "0475123456"],
        ),
        Scalar::IpAddr => fixed(rng, &["10.0.0.1", "'::1'", "2001:DB8::1"]),
        Scalar::IpRange => fixed(rng, &["10.0.0.0/8", "2001:db8::/32"]),
        Scalar::IpPort => fixed(rng, &["22", "65535"]),
        Scalar::Guid => fixed(
            rng,
            &[
                "0123456789ABCDEF0123456789ABCDEF",
                "01234567-89ab-cdef-0123-456789abcdef",
            ],
        ),
        Scalar::Url => fixed(rng, &["https://x.y/z", "'http://a.b'"]),
        Scalar::Json => fixed(rng, &["'{\"a\": 1}'", "[1, 2]", "'\"s\"'", "3"]),
        Scalar::Hash => fixed(rng, &["46:682", "0:0"]),
        Scalar::Bytes | Scalar::Dict | Scalar::Msgpack | Scalar::CapnpBin => None,
    }
}

fn code(rng: &mut StdRng, s: Scalar) -> String {
    let code = pick(rng, s.codes());
    match rng.gen_range(0..3) {
        0 => code.to_uppercase(),
        1 => code.to_owned(),
        _ => code[..1].to_uppercase() + &code[1..],
    }
}

/// The part after `=` and whether the type may carry an index (and a full-text one).
fn right_side(rng: &mut StdRng) -> (String, Option<IndexColumn>) {
    let scalars: Vec<Scalar> = Scalar::all().collect();
    let url =
        |rng: &mut StdRng| format!("!{}.Sub.{}", pick(rng, &["demo", "A"]), rng.gen_range(0..3));
    match rng.gen_range(0..10) {
        0 => {
            let values = ["red", "Green", "b_1", "X2"];
            let n = rng.gen_range(1..=values.len());
            let list = values[..n].join(pick(rng, &[",", ", "]));
            let code = pick(rng, &["E", "enum", "LE"]);
            let column = (code != "LE").then_some(IndexColumn::Integer);
            (format!("{} ({code})", quoted(rng, &list)), column)
        }
        1 => (
            format!("({}) {}", pick(rng, &["O", "jsxobject", "LO"]), url(rng)),
            None,
        ),
        2 => {
            let literal = pick(rng, &["5", "1.5", "true", "[]", "'s'", "a\\nb", "", "\"\""]);
            (literal.to_owned(), Some(IndexColumn::Integer))
        }
        3 | 4 => {
            let s = *scalars.choose(rng).expect("scalars");
            let items: Vec<String> = (0..rng.gen_range(0..3))
                .filter_map(|_| sample(rng, s))
                .collect();
            let list = if rng.gen_bool(0.5) {
                format!("[{}]", items.join(", "))
            } else {
                quoted(rng, &items.join(","))
            };
            let code = format!("L{}", code(rng, s));
            (format!("{list} ({code})"), None)
        }
        _ => {
            let s = *scalars.choose(rng).expect("scalars");
            let default = sample(rng, s).unwrap_or_default();
            (format!("{default} ({})", code(rng, s)), s.index_column())
        }
    }
}

fn field_line(rng: &mut StdRng, idx: usize, nr: Option<u16>) -> String {
    let mut line = String::new();
    if let Some(nr) = nr {
        line.push_str(&format!("{nr}{}", pick(rng, &[":", " :", ": "])));
    }
    let (right, column) = right_side(rng);
    let indexable = column.is_some();
    if indexable && rng.gen_bool(0.1) {
        line.push('&');
    }
    let base = pick(rng, &["f", "name_", "Field", "x__y", "_a", "Name"]);
    line.push_str(&format!("{base}{idx}"));
    if indexable && rng.gen_bool(0.3) {
        line.push_str(if column == Some(IndexColumn::Text) {
            pick(rng, &["*", "**", "***"])
        } else {
            "**"
        });
    }
    line.push_str(pick(rng, &[" = ", "=", "  =  "]));
    line.push_str(&right);
    if rng.gen_bool(0.3) {
        line.push_str(&format!(" # {}", awkward(rng).replace('\r', "")));
    }
    line
}

/// A text of one to three blocks.
pub(crate) fn text(rng: &mut StdRng) -> String {
    let mut out = String::new();
    for block in 0..rng.gen_range(1..=3) {
        let url = format!("Gen.{}.{block}", pick(rng, &["x", "y_z", "a-b"]));
        out.push_str(&format!("@url = {}\n", quoted(rng, &url)));
        if rng.gen_bool(0.3) {
            out.push_str(&format!("@acl = {}\n", pick(rng, &["false", "TRUE"])));
        }
        if rng.gen_bool(0.3) {
            let value = awkward(rng).replace('\r', "");
            out.push_str(&format!("@note{block} = {}\n", quoted(rng, &value)));
        }
        let explicit = rng.gen_bool(0.5);
        let mut nr = 0u16;
        for idx in 0..rng.gen_range(0..8) {
            nr += rng.gen_range(1..4);
            out.push_str(&field_line(rng, idx, explicit.then_some(nr)));
            out.push_str(pick(rng, &["\n", "\n\n", "\n# between\n", "\r\n"]));
        }
    }
    out
}
