//! The in-memory index: equality, ranges and prefixes (numbers compare as numbers), unique fields, full-text search, count and pagination.

use bcdb::index::{Bulk, Cond, Index, IndexError, Rows};
use bcdb::object::IndexValue::{Integer, Real, Text};

/// The rows of farm `id`, as the object layer would produce them.
fn farm(id: u64) -> Rows {
    let values = vec![
        ("name".to_string(), Text(format!("farm-{id:03}"))),
        (
            "country".to_string(),
            Text(if id.is_multiple_of(2) { "BE" } else { "EG" }.into()),
        ),
        ("nodes".to_string(), Integer(id as i64 * 3)),
        ("price".to_string(), Real(id as f64 / 10.0)),
    ];
    let text = vec![(
        "description".to_string(),
        format!("farm number {id} runs {} green nodes", id % 7),
    )];
    Rows {
        values,
        unique: vec!["name".into()],
        text,
    }
}

fn farms(index: &mut Index) {
    for id in 1..=100u64 {
        index.insert(b"grid", "farm", id, &farm(id));
    }
}

#[test]
fn find_count_search_and_paginate() {
    let mut index = Index::new();
    farms(&mut index);
    let eq = |f: &str, v| Cond::Eq(f.into(), v);
    assert_eq!(
        index
            .find(
                b"grid",
                "farm",
                &[eq("name", Text("farm-042".into()))],
                0,
                10
            )
            .unwrap(),
        [42]
    );
    assert_eq!(
        index
            .count(b"grid", "farm", &[eq("country", Text("BE".into()))])
            .unwrap(),
        50
    );
    // numbers compare as numbers: 9 < 30 although "9" > "30" as text
    let range = Cond::Range("nodes".into(), Some(Integer(9)), Some(Integer(30)));
    assert_eq!(
        index
            .find(b"grid", "farm", std::slice::from_ref(&range), 0, 100)
            .unwrap(),
        (3..=10).collect::<Vec<_>>()
    );
    let both = [range, eq("country", Text("EG".into()))];
    assert_eq!(
        index.find(b"grid", "farm", &both, 0, 100).unwrap(),
        [3, 5, 7, 9]
    );
    let prefix = Cond::Prefix("name".into(), "farm-09".into());
    assert_eq!(
        index
            .count(b"grid", "farm", std::slice::from_ref(&prefix))
            .unwrap(),
        10
    );
    // cursor pagination
    let page1 = index
        .find(b"grid", "farm", std::slice::from_ref(&prefix), 0, 4)
        .unwrap();
    let page2 = index
        .find(
            b"grid",
            "farm",
            std::slice::from_ref(&prefix),
            *page1.last().unwrap(),
            4,
        )
        .unwrap();
    assert_eq!((page1, page2), (vec![90, 91, 92, 93], vec![94, 95, 96, 97]));
    assert_eq!(
        index
            .find(
                b"grid",
                "farm",
                &[Cond::Range("price".into(), None, Some(Real(0.25)))],
                0,
                10
            )
            .unwrap(),
        [1, 2]
    );
    // other namespaces and collections are separate
    assert!(index
        .find(
            b"other",
            "farm",
            &[eq("name", Text("farm-042".into()))],
            0,
            10
        )
        .unwrap()
        .is_empty());
    // full text
    let hits = index.search(b"grid", "farm", "number AND 42", 10).unwrap();
    assert_eq!(hits, [42]);
    assert_eq!(
        index.search(b"grid", "farm", "green", 1000).unwrap().len(),
        100
    );
    assert!(matches!(
        index.search(b"grid", "farm", "\"unbalanced", 10),
        Err(IndexError::Query(_))
    ));
    assert!(matches!(
        index.find(b"grid", "farm", &[], 0, 10),
        Err(IndexError::Query(_))
    ));
}

#[test]
fn unique_fields_and_updates() {
    let mut index = Index::new();
    farms(&mut index);
    let taken = vec![("name".to_string(), Text("farm-007".into()))];
    let taken = Rows {
        values: taken,
        unique: vec!["name".into()],
        text: vec![],
    };
    match index.check_unique(b"grid", "farm", None, &taken) {
        Err(IndexError::Unique { field, id: 7 }) => assert_eq!(field, "name"),
        other => panic!("expected a unique conflict, got {other:?}"),
    }
    // the holder itself may keep its value
    index
        .check_unique(b"grid", "farm", Some(7), &taken)
        .unwrap();
    // an update replaces the old version's rows; a delete removes them
    index.remove(b"grid", "farm", 7, &farm(7));
    let renamed = Rows {
        values: vec![("name".into(), Text("renamed".into()))],
        unique: vec!["name".into()],
        text: vec![],
    };
    index.insert(b"grid", "farm", 7, &renamed);
    index.remove(b"grid", "farm", 8, &farm(8));
    index.check_unique(b"grid", "farm", None, &taken).unwrap();
    let eq = |v: &str| [Cond::Eq("name".into(), Text(v.into()))];
    assert!(index
        .find(b"grid", "farm", &eq("farm-007"), 0, 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        index.find(b"grid", "farm", &eq("renamed"), 0, 10).unwrap(),
        [7]
    );
    assert!(index
        .find(b"grid", "farm", &eq("farm-008"), 0, 10)
        .unwrap()
        .is_empty());
    assert!(index
        .search(b"grid", "farm", "number AND 8", 10)
        .unwrap()
        .is_empty());
}

#[test]
fn a_bulk_build_answers_as_inserts_do() {
    let mut one_by_one = Index::new();
    farms(&mut one_by_one);
    let mut bulk = Bulk::default();
    // any order: the bulk build sorts
    for id in (1..=100u64).rev() {
        bulk.add(b"grid", "farm", id, farm(id));
    }
    let bulk = bulk.finish();
    let queries = [
        vec![Cond::Eq("country".into(), Text("BE".into()))],
        vec![Cond::Range(
            "nodes".into(),
            Some(Integer(9)),
            Some(Real(30.5)),
        )],
        vec![
            Cond::Prefix("name".into(), "farm-0".into()),
            Cond::Range("price".into(), Some(Real(2.5)), None),
        ],
        vec![Cond::Eq("nodes".into(), Real(42.0))],
    ];
    for conds in &queries {
        let (a, b) = (
            one_by_one.find(b"grid", "farm", conds, 0, 1000).unwrap(),
            bulk.find(b"grid", "farm", conds, 0, 1000).unwrap(),
        );
        assert!(!a.is_empty(), "{conds:?} matches something");
        assert_eq!(a, b, "{conds:?}");
        assert_eq!(
            one_by_one.count(b"grid", "farm", conds).unwrap(),
            bulk.count(b"grid", "farm", conds).unwrap()
        );
    }
    for query in ["green", "number AND 42", "runs 3*", "\"3 green\""] {
        let a = one_by_one.search(b"grid", "farm", query, 100).unwrap();
        assert!(!a.is_empty(), "{query} matches something");
        assert_eq!(
            a,
            bulk.search(b"grid", "farm", query, 100).unwrap(),
            "{query}"
        );
    }
    let taken = Rows {
        values: vec![("name".into(), Text("farm-007".into()))],
        unique: vec!["name".into()],
        text: vec![],
    };
    assert!(matches!(
        bulk.check_unique(b"grid", "farm", None, &taken),
        Err(IndexError::Unique { id: 7, .. })
    ));
}

#[test]
fn a_prefix_covers_values_continuing_with_the_last_code_point() {
    let mut index = Index::new();
    for (id, name) in [
        (1, "ab"),
        (2, "a\u{10FFFF}"),
        (3, "a\u{10FFFF}x"),
        (4, "\u{10FFFF}"),
        (5, "b"),
    ] {
        let rows = Rows {
            values: vec![("name".into(), Text(name.into()))],
            ..Rows::default()
        };
        index.insert(b"ns", "c", id, &rows);
    }
    let prefix = |p: &str| [Cond::Prefix("name".into(), p.into())];
    assert_eq!(
        index.find(b"ns", "c", &prefix("a"), 0, 10).unwrap(),
        [1, 2, 3]
    );
    assert_eq!(
        index
            .find(b"ns", "c", &prefix("a\u{10FFFF}"), 0, 10)
            .unwrap(),
        [2, 3]
    );
    assert_eq!(
        index.find(b"ns", "c", &prefix(""), 0, 10).unwrap(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(index.count(b"ns", "c", &prefix("a")).unwrap(), 3);
}

#[test]
fn an_update_replaces_values_and_text() {
    let mut index = Index::new();
    farms(&mut index);
    let search = |index: &Index, q: &str| index.search(b"grid", "farm", q, 10).unwrap();
    assert_eq!(search(&index, "number AND 50"), [50]);
    // new text and values in place of the old ones
    let mut updated = farm(50);
    updated.values[0].1 = Text("renamed-50".into());
    updated.text[0].1 = "a brand new description".into();
    index.replace(b"grid", "farm", 50, &farm(50), &updated);
    assert!(search(&index, "number AND 50").is_empty());
    assert_eq!(search(&index, "brand"), [50]);
    let name = |v: &str| [Cond::Eq("name".into(), Text(v.into()))];
    assert!(index
        .find(b"grid", "farm", &name("farm-050"), 0, 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        index
            .find(b"grid", "farm", &name("renamed-50"), 0, 10)
            .unwrap(),
        [50]
    );
    // a version without text leaves no document behind
    let plain = Rows {
        text: vec![],
        ..updated.clone()
    };
    index.replace(b"grid", "farm", 50, &updated, &plain);
    assert!(search(&index, "brand").is_empty());
    assert_eq!(
        index
            .find(b"grid", "farm", &name("renamed-50"), 0, 10)
            .unwrap(),
        [50]
    );
}
