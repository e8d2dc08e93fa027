//! Feeds arbitrary text to `schema::parse` and `parse_with_url` (clients send it with SCHEMA.SET) and checks that whatever parses prints back to equal schemas with the same hashes.
#![no_main]

use bcdb::schema::{
    check_evolution, check_history, parse, parse_blocks, parse_with_url, to_text_all, Schema,
};
use libfuzzer_sys::fuzz_target;

/// The canonical text of `schemas` parses back to equal schemas, with the same hashes, and
/// prints the same again; each schema's own text parses back to it alone.
fn assert_round_trip(source: &str, schemas: &[Schema]) {
    let printed = to_text_all(schemas);
    let again = parse(&printed).unwrap_or_else(|e| {
        panic!("printed text does not parse: {e}\nsource: {source:?}\nprinted: {printed:?}")
    });
    assert_eq!(again, schemas, "source: {source:?}\nprinted: {printed:?}");
    assert_eq!(to_text_all(&again), printed, "source: {source:?}");
    for (a, b) in again.iter().zip(schemas) {
        assert_eq!(
            a.hash(),
            b.hash(),
            "source: {source:?}\nprinted: {printed:?}"
        );
    }
    for schema in schemas {
        let text = schema.to_text();
        let alone = parse(&text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"));
        assert_eq!(alone.len(), 1, "{text:?}");
        assert_eq!(alone[0].hash(), schema.hash(), "{text:?}");
        assert_eq!(&alone[0], schema, "{text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_blocks(text, Some("F.Z"));
    for schemas in [parse(text), parse_with_url(text, "f.z.1")]
        .into_iter()
        .flatten()
    {
        assert_round_trip(text, &schemas);
        for schema in &schemas {
            // A version may always follow itself: nothing is renumbered, retyped or added.
            let same = check_evolution(schema, schema);
            assert_eq!(same, Ok(()), "{}", schema.to_text());
        }
        // Any two blocks of the text, the second moved to the first's url, are an evolution
        // to judge (never a panic).
        for (old, new) in schemas.iter().zip(schemas.iter().skip(1)) {
            let moved = new.to_text().replacen(new.url(), old.url(), 1);
            if let Ok(moved) = parse(&moved) {
                let _ = check_evolution(old, &moved[0]);
                let _ = check_evolution(&moved[0], old);
                let _ = check_history(&[old.clone(), moved[0].clone(), old.clone()]);
            }
        }
        let _ = check_history(&schemas);
    }
});
