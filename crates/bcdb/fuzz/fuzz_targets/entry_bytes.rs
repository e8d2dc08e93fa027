//! Feeds arbitrary bytes to `Entry::decode` (ledger entries are read back from disk, from replicas and by clients verifying proofs) and checks that whatever decodes re-encodes to exactly the same bytes and can be verified without a panic.
#![no_main]

use bcdb::entry::{Entry, MAX_COLLECTION, MAX_NAMESPACE};
use std::sync::OnceLock;

use identity::{KeyPair, PublicKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = Entry::decode(data) else {
        return;
    };
    // Canonical: fixed-width fields and length-prefixed names, one encoding per entry.
    assert_eq!(entry.encode(), data, "{entry:?}");
    assert!(!entry.namespace.is_empty() && entry.namespace.len() <= MAX_NAMESPACE);
    assert!(entry.collection.len() <= MAX_COLLECTION);
    assert!(entry.author.is_none() || entry.attested.is_none());
    assert_eq!(Entry::decode(&entry.encode()).as_ref(), Ok(&entry));
    assert_eq!(
        entry.principal(),
        entry.author.map(|a| a.key).or(entry.attested)
    );
    // Verifying a decoded signature answers, whatever the key and signature bytes are.
    static INSTANCE: OnceLock<PublicKey> = OnceLock::new();
    let instance = INSTANCE.get_or_init(|| KeyPair::from_seed(&[5; 32]).public());
    let _ = entry.verify_author(instance);
    if let Some(key) = entry.principal() {
        let _ = entry.verify_author(&key);
    }
});
