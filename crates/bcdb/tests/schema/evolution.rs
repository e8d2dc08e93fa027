//! Schema evolution (§1.5): which changes a new version of a url may make.

use bcdb::schema::{check_evolution, check_history, EvolutionError, Schema};

use super::one;

type EvolutionCheck = fn(&EvolutionError) -> bool;

fn schemas(texts: &[&str]) -> Vec<Schema> {
    texts
        .iter()
        .map(|t| one(&format!("@url = m.m.1\n{t}")))
        .collect()
}

#[test]
fn evolution_rules() {
    let ok = [
        ("0: a = 1\n1: b = 'x'", "0: a = 1\n1: b = 'x'\n2: c = 2.0"),
        ("0: a = 1\n1: b = 'x'", "0: renamed = 7 (int)\n1: b = (S)"),
        ("0: a = 1\n1: b = 'x'", "0: a = 1"),
        ("0: c = a,b (E)", "0: c = a,b,c (E)"),
        ("0: c = a,b (LE)", "0: c = a,b,c (LE)"),
        ("0: &a = 1", "0: a** = 1"),
        ("0: a = 1\n1: b = 2\n5: z = 1", "0: a = 1\n6: y = 1"),
    ];
    for (old, new) in ok {
        let s = schemas(&[old, new]);
        assert_eq!(check_evolution(&s[0], &s[1]), Ok(()), "{old:?} -> {new:?}");
    }
    let bad: [(&str, &str, EvolutionCheck); 8] = [
        ("0: a = 1", "0: a = 1 (I64)", |e| {
            matches!(e, EvolutionError::TypeChanged { nr: 0, .. })
        }),
        ("0: a = (LS)", "0: a = (LI)", |e| {
            matches!(e, EvolutionError::TypeChanged { .. })
        }),
        ("0: o = (O) !x.y", "0: o = (O) !x.z", |e| {
            matches!(e, EvolutionError::TypeChanged { .. })
        }),
        ("0: c = a,b (E)", "0: c = b,a (E)", |e| {
            matches!(e, EvolutionError::EnumValuesChanged { .. })
        }),
        ("a = 1\nb = 2\nc = 3", "a = 1\nc = 3", |e| {
            matches!(
                e,
                EvolutionError::Renumbered {
                    old_nr: 2,
                    new_nr: 1,
                    ..
                }
            )
        }),
        ("0: a = 1\n2: b = 2", "0: a = 1\n1: c = 2\n2: b = 2", |e| {
            matches!(e, EvolutionError::NumberReused { nr: 1, max: 2, .. })
        }),
        ("0: a = 1", "0: &a = 1", |e| {
            matches!(e, EvolutionError::UniqueAdded { nr: 0, .. })
        }),
        ("0: a = 1", "0: name = 1", |e| {
            matches!(e, EvolutionError::UniqueAdded { .. })
        }),
    ];
    for (old, new, is) in bad {
        let s = schemas(&[old, new]);
        let e = check_evolution(&s[0], &s[1]).unwrap_err();
        assert!(is(&e), "{old:?} -> {new:?}: {e}");
    }
    let other = one("@url = m.n.1\na = 1");
    let e = check_evolution(&schemas(&["a = 1"])[0], &other).unwrap_err();
    assert!(matches!(e, EvolutionError::UrlChanged { .. }));
}

#[test]
fn history_refuses_a_revived_number() {
    let history = schemas(&["0: a = 1\n1: b = 2", "0: a = 1", "0: a = 1\n1: c = 2"]);
    assert_eq!(check_evolution(&history[1], &history[2]), Ok(()));
    let e = check_history(&history).unwrap_err();
    assert_eq!(
        e,
        EvolutionError::NumberRevived {
            nr: 1,
            deleted_in: 1,
            reused_in: 2
        }
    );
    assert_eq!(check_history(&history[..2]), Ok(()));
}
