//! The full-text index against a brute-force scan, and its query language's refusals.

use super::postings::Bits;
use super::*;
use std::collections::{BTreeMap, BTreeSet};

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, |t| out.push(t.to_string()));
    out
}

fn index(docs: &[(u64, &[&str])]) -> TextIndex {
    let mut idx = TextIndex::new();
    docs.iter().for_each(|(id, fields)| idx.insert(*id, fields));
    idx
}

/// Ranked ids for `query`, no limit.
fn hits(idx: &TextIndex, query: &str) -> Vec<u64> {
    idx.search(query, usize::MAX)
        .unwrap_or_else(|e| panic!("{query:?}: {e}"))
}

/// Checks the matching ids (sorted by id) of each query.
fn check_matches(idx: &TextIndex, cases: &[(&str, &[u64])]) {
    for (query, expected) in cases {
        let mut ids = hits(idx, query);
        ids.sort_unstable();
        assert_eq!(ids, *expected, "{query}");
    }
}

#[test]
fn tokenizer_lowercases_and_splits_on_non_alphanumerics() {
    assert_eq!(
        tokens("Hello, WORLD! Gent-Brugge Ünïcode x2 ÉTÉ_42 e.g."),
        [
            "hello",
            "world",
            "gent",
            "brugge",
            "ünïcode",
            "x2",
            "été",
            "42",
            "e",
            "g"
        ]
    );
    let (long, max) = ("a".repeat(65), "b".repeat(64));
    assert_eq!(tokens(&format!("{long} {max} ok")), [max.as_str(), "ok"]);
    assert!(tokens(" -- ... !! ").is_empty());
    let idx = index(&[
        (1, &["Ünïcode text"]),
        (2, &["Gent-Brugge"]),
        (3, &["unicode"]),
    ]);
    let cases: &[(&str, &[u64])] = &[
        ("ÜNÏCODE", &[1]),
        ("gent", &[2]),
        ("Gent-Brugge", &[2]),
        ("\"brugge gent\"", &[]),
    ];
    check_matches(&idx, cases);
}

#[test]
fn boolean_operators_and_precedence() {
    let idx = index(&[
        (1, &["apple banana"]),
        (2, &["apple cherry"]),
        (3, &["banana cherry"]),
        (4, &["apple banana cherry"]),
        (5, &["rock and roll"]),
    ]);
    check_matches(
        &idx,
        &[
            ("apple banana", &[1, 4]),
            ("APPLE AND banana", &[1, 4]),
            ("apple - banana", &[1, 4]),
            ("apple OR banana", &[1, 2, 3, 4]),
            ("apple NOT banana", &[2]),
            ("apple OR banana cherry", &[1, 2, 3, 4]),
            ("(apple OR banana) cherry", &[2, 3, 4]),
            ("apple NOT banana cherry", &[2]),
            ("apple NOT (banana cherry)", &[1, 2]),
            ("cherry OR apple NOT banana", &[2, 3, 4]),
            ("apple NOT banana NOT cherry", &[]),
            ("rock and roll", &[5]),
            ("apple and banana", &[]),
            ("missing OR rock", &[5]),
        ],
    );
}

#[test]
fn prefixes_and_phrases() {
    let idx = index(&[
        (1, &["general"]),
        (2, &["Gent-Brugge"]),
        (3, &["genome"]),
        (4, &["agent"]),
        (5, &["the quick brown fox"]),
        (6, &["brown quick"]),
        (7, &["quick red brown"]),
        (8, &["a quick", "brown bear"]),
    ]);
    check_matches(
        &idx,
        &[
            ("gen*", &[1, 2, 3]),
            ("GENT*", &[2]),
            ("ge* NOT genome", &[1, 2]),
            ("xyz*", &[]),
            ("\"quick brown\"", &[5]),
            ("quick brown", &[5, 6, 7, 8]),
            ("\"Quick bro*\"", &[5]),
            ("\"quick bro\"*", &[5]),
            ("\"qui* brown fox\"", &[5]),
            ("\"a quick\" \"brown bear\"", &[8]),
            ("\"quick brown\" OR \"red brown\"", &[5, 7]),
        ],
    );
}

#[test]
fn ranking_follows_bm25() {
    let idx = index(&[(1, &["apple pear"]), (2, &["apple apple"])]);
    assert_eq!(
        hits(&idx, "apple"),
        [2, 1],
        "higher tf wins at equal length"
    );
    let idx = index(&[
        (1, &["common filler"]),
        (2, &["rare filler"]),
        (3, &["common other"]),
        (4, &["common", "more"]),
    ]);
    assert_eq!(
        hits(&idx, "common OR rare"),
        [2, 1, 3, 4],
        "the rare term weighs more"
    );
    let idx = index(&[
        (9, &["same words"]),
        (3, &["same words"]),
        (5, &["same", "words"]),
    ]);
    assert_eq!(hits(&idx, "same"), [3, 5, 9], "ties by ascending id");
    assert_eq!(idx.search("same", 2), Ok(vec![3, 5]));
    assert_eq!(idx.search("same", 0), Ok(vec![]));
    assert!(
        idx.search("(", 0).is_err(),
        "the query is validated even for limit 0"
    );
}

#[test]
fn insert_replaces_and_remove_shrinks_the_dictionary() {
    let mut idx = TextIndex::new();
    idx.insert(7, &["old words", "here"]);
    idx.insert(7, &["new"]);
    check_matches(&idx, &[("old", &[]), ("new", &[7])]);
    assert_eq!((idx.len(), idx.terms_len()), (1, 1));
    idx.insert(8, &["new shared", "new"]);
    idx.remove(7);
    check_matches(&idx, &[("new", &[8])]);
    idx.remove(8);
    idx.remove(8);
    assert_eq!((idx.len(), idx.terms_len()), (0, 0));
    check_matches(&idx, &[("new", &[])]);
    idx.insert(9, &["", "-- !", ""]);
    assert!(idx.is_empty());
    idx.insert(10, &["x"]);
    idx.insert(10, &["..."]);
    assert_eq!((idx.len(), idx.terms_len()), (0, 0));
}

#[test]
fn invalid_queries_are_refused_with_a_reason() {
    let mut idx = index(&[(1, &["word"])]);
    let long_word = "x".repeat(65);
    let too_long = "a ".repeat(600);
    let too_many = vec!["w"; MAX_QUERY_TERMS + 1].join(" ");
    let too_deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
    let cases: &[(&str, &str)] = &[
        ("", "empty query"),
        ("  - . ", "empty query"),
        ("\"abc", "unbalanced quote at byte 0"),
        ("a \"b c", "unbalanced quote at byte 2"),
        ("(a", "unbalanced `(` at byte 0"),
        ("(", "unbalanced `(` at byte 0"),
        ("a)", "unbalanced `)` at byte 1"),
        (")", "unbalanced `)` at byte 0"),
        ("a ()", "empty parentheses at byte 2"),
        ("a AND", "`AND` at byte 2 is missing its right operand"),
        ("OR a", "`OR` at byte 0 is missing its left operand"),
        ("a OR OR b", "`OR` at byte 2 is missing its right operand"),
        ("(a OR) b", "`OR` at byte 3 is missing its right operand"),
        ("NOT a", "`NOT` at byte 0 is missing its left operand"),
        ("a NOT", "`NOT` at byte 2 is missing its right operand"),
        ("*", "`*` at byte 0 does not directly follow a word"),
        ("a *", "`*` at byte 2"),
        ("a**", "`*` at byte 2"),
        ("\"\"*", "`*` at byte 2"),
        ("\"a*\"*", "`*` at byte 4"),
        (&long_word, "word at byte 0 is longer than 64 bytes"),
        (&too_long, "query is 1200 bytes long; the limit is 1024"),
        (&too_many, "more than 64 terms"),
        (&too_deep, "nested deeper than 32"),
    ];
    for (query, expected) in cases {
        let err = idx.search(query, 10).expect_err(query);
        assert!(err.0.contains(expected), "{query:?}: {err}");
        assert_eq!(err.to_string(), err.0);
    }
    assert!(idx.search(&vec!["w"; MAX_QUERY_TERMS].join(" "), 1).is_ok());
    let many: Vec<String> = (0..=MAX_PREFIX_TERMS).map(|i| format!("t{i}")).collect();
    idx.insert(2, &[&many.join(" ")]);
    let err = idx.search("word OR t*", 10).expect_err("prefix too wide");
    assert!(
        err.0
            .contains("prefix `t*` at byte 8 matches more than 10000"),
        "{err}"
    );
    assert_eq!(
        idx.search("t1*", 10),
        Ok(vec![2]),
        "t1* expands to 1112 terms"
    );
}

#[test]
fn random_queries_never_panic() {
    const PIECES: [&str; 16] = [
        "a", "Bé", "c*", "*", "(", ")", "\"", "\"\"", " ", "-", "AND", "OR", "NOT", "and", "ü*",
        "ＡＢ",
    ];
    let idx = index(&[(1, &["a bé c", "ü"]), (2, &["c d", "ab"])]);
    let mut rng = Rng(3);
    for _ in 0..20_000 {
        let len = 1 + rng.below(12);
        let query: String = (0..len).map(|_| PIECES[rng.below(16) as usize]).collect();
        if let Ok(ids) = idx.search(&query, 5) {
            assert!(
                ids.len() <= 2 && ids.iter().all(|id| *id == 1 || *id == 2),
                "{query}"
            );
        }
    }
}

#[test]
fn postings_survive_representation_changes() {
    let (mut postings, mut model, mut rng) = (Postings::default(), BTreeSet::new(), Rng(42));
    let check = |postings: &Postings, model: &BTreeSet<u32>| {
        let mut all = Vec::new();
        postings.append_to(&mut all);
        assert!(all.iter().eq(model.iter()));
        assert_eq!(postings.len(), model.len());
        assert!((0..300_000)
            .step_by(97)
            .all(|s| postings.contains(s) == model.contains(&s)));
    };
    for i in 0..30_000u32 {
        let slot = if i % 2 == 0 {
            i / 2
        } else {
            rng.below(300_000) as u32
        };
        assert_eq!(postings.set(slot, true), model.insert(slot));
    }
    assert!(matches!(postings.0[0].bits, Bits::Bitmap(..)));
    check(&postings, &model);
    for slot in model.iter().copied().skip(10).collect::<Vec<_>>() {
        assert!(postings.set(slot, false));
        assert!(!postings.set(slot, false));
        model.remove(&slot);
    }
    check(&postings, &model);
    assert!(postings.0.iter().all(|c| matches!(c.bits, Bits::Array(_))));
}

/// Object id -> tokens of each field.
type Model = BTreeMap<u64, Vec<Vec<String>>>;

/// Brute-force BM25 of `doc` over the distinct `terms`.
fn brute_bm25(model: &Model, doc: &[Vec<String>], terms: &BTreeSet<&str>) -> f64 {
    let count = |d: &[Vec<String>], t: &str| d.iter().flatten().filter(|x| *x == t).count();
    let n = model.len() as f64;
    let total: usize = model.values().flatten().map(Vec::len).sum();
    let len = doc.iter().map(Vec::len).sum::<usize>() as f64;
    let score = |t: &&str| {
        let n_t = model.values().filter(|d| count(d, t) > 0).count() as f64;
        let tf = count(doc, t) as f64;
        let idf = (1.0 + (n - n_t + 0.5) / (n_t + 0.5)).ln();
        idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len * n / total as f64))
    };
    terms.iter().map(score).sum()
}

/// `search` must match a scan exactly and order hits by brute-force score.
fn compare(
    idx: &TextIndex,
    model: &Model,
    query: &str,
    terms: &[&str],
    hit: &dyn Fn(&[Vec<String>]) -> bool,
) {
    let got = hits(idx, query);
    let mut sorted = got.clone();
    sorted.sort_unstable();
    let expected: Vec<u64> = model
        .iter()
        .filter(|(_, d)| hit(d))
        .map(|(&id, _)| id)
        .collect();
    assert_eq!(sorted, expected, "{query}");
    let terms: BTreeSet<&str> = terms.iter().copied().collect();
    let scores: Vec<f64> = got
        .iter()
        .map(|id| brute_bm25(model, &model[id], &terms))
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1] - 1e-9),
        "{query}: {scores:?}"
    );
}

fn check_against_model(idx: &TextIndex, model: &Model) {
    const VOCAB: [&str; 9] = [
        "apple", "banana", "cherry", "date", "elder", "fig", "apricot", "cher", "none",
    ];
    assert_eq!(idx.len(), model.len());
    let all_tokens = || model.values().flatten().flatten();
    assert_eq!(idx.total_tokens, all_tokens().count() as u64);
    assert_eq!(idx.terms_len(), all_tokens().collect::<BTreeSet<_>>().len());
    let has = |d: &[Vec<String>], t: &str| d.iter().flatten().any(|x| x == t);
    for a in VOCAB {
        compare(idx, model, a, &[a], &|d| has(d, a));
        for b in VOCAB {
            compare(idx, model, &format!("{a} {b}"), &[a, b], &|d| {
                has(d, a) && has(d, b)
            });
            let adjacent = |d: &[Vec<String>]| {
                d.iter()
                    .any(|f| f.windows(2).any(|w| w[0] == a && w[1] == b))
            };
            compare(idx, model, &format!("\"{a} {b}\""), &[a, b], &adjacent);
        }
    }
    for prefix in ["ap", "cher", "zz"] {
        let all = model.values().flatten().flatten();
        let terms: BTreeSet<&str> = all
            .map(String::as_str)
            .filter(|t| t.starts_with(prefix))
            .collect();
        let terms: Vec<&str> = terms.into_iter().collect();
        let hit = |d: &[Vec<String>]| d.iter().flatten().any(|t| t.starts_with(prefix));
        compare(idx, model, &format!("{prefix}*"), &terms, &hit);
    }
}

#[test]
fn search_matches_brute_force_under_random_churn() {
    const WORDS: [&str; 9] = [
        "apple", "Banana", "cherry", "DATE", "elder", "fig", "apricot", "cher", "-",
    ];
    let (mut idx, mut model, mut rng) = (TextIndex::new(), Model::new(), Rng(1));
    for step in 0..3_000 {
        let id = rng.below(60);
        if rng.below(5) == 0 {
            idx.remove(id);
            model.remove(&id);
        } else {
            let mut fields = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let words: Vec<&str> = (0..rng.below(6))
                    .map(|_| WORDS[rng.below(9) as usize])
                    .collect();
                fields.push(words.join(if rng.below(2) == 0 { " " } else { "," }));
            }
            idx.insert(id, &fields.iter().map(String::as_str).collect::<Vec<_>>());
            let toks: Vec<Vec<String>> = fields.iter().map(|f| tokens(f)).collect();
            match toks.iter().all(Vec::is_empty) {
                true => model.remove(&id),
                false => model.insert(id, toks),
            };
        }
        if step % 100 == 99 {
            check_against_model(&idx, &model);
        }
    }
    (0..60).for_each(|id| idx.remove(id));
    assert_eq!((idx.len(), idx.terms_len()), (0, 0));
}
