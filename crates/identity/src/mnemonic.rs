//! 24-word BIP-39 mnemonics as the human form of a 32-byte seed.

use crate::IdentityError;

/// Words in a mnemonic for 256 bits of entropy.
const WORDS: usize = 24;

/// A valid 24-word English mnemonic.
#[derive(Clone, PartialEq, Eq)]
pub struct Mnemonic(bip39::Mnemonic);

impl std::fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A mnemonic is the key: never print it by accident.
        f.write_str("Mnemonic(<24 words>)")
    }
}

impl Mnemonic {
    /// A new mnemonic from the operating system's random source.
    pub fn generate() -> Mnemonic {
        let seed: [u8; 32] = rand::random();
        Mnemonic::from_seed(&seed)
    }

    /// The mnemonic whose entropy is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Mnemonic {
        Mnemonic(bip39::Mnemonic::from_entropy(seed).expect("32 bytes is a valid entropy length"))
    }

    /// Parses 24 words (any whitespace between them, any case).
    pub fn parse(text: &str) -> Result<Mnemonic, IdentityError> {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        if words.len() != WORDS {
            return Err(IdentityError::Mnemonic(format!(
                "expected {WORDS} words, got {}",
                words.len()
            )));
        }
        let joined = words.join(" ");
        bip39::Mnemonic::parse_in(bip39::Language::English, &joined)
            .map(Mnemonic)
            .map_err(|e| IdentityError::Mnemonic(e.to_string()))
    }

    /// The 32-byte seed (the mnemonic's entropy).
    pub fn seed(&self) -> [u8; 32] {
        let (entropy, len) = self.0.to_entropy_array();
        assert_eq!(len, 32, "24 words always carry 32 bytes");
        entropy[..32].try_into().expect("32 bytes")
    }

    /// The words, separated by single spaces.
    pub fn phrase(&self) -> String {
        self.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_round_trips_through_words() {
        let seed = [7u8; 32];
        let m = Mnemonic::from_seed(&seed);
        assert_eq!(m.phrase().split(' ').count(), 24);
        assert_eq!(Mnemonic::parse(&m.phrase()).unwrap().seed(), seed);
    }

    #[test]
    fn known_vector() {
        // BIP-39 test vector: 32 zero bytes.
        let phrase = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                      abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                      abandon abandon abandon abandon abandon art";
        assert_eq!(Mnemonic::parse(phrase).unwrap().seed(), [0u8; 32]);
        assert_eq!(
            Mnemonic::from_seed(&[0; 32]).phrase(),
            phrase.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn rejects_bad_input() {
        let good = Mnemonic::from_seed(&[1; 32]).phrase();
        let mut words: Vec<&str> = good.split(' ').collect();
        assert!(Mnemonic::parse(&words[..23].join(" ")).is_err(), "23 words");
        words[0] = "notaword";
        assert!(Mnemonic::parse(&words.join(" ")).is_err(), "unknown word");
        // The low 8 bits of the last word are checksum: flipping one breaks it.
        let list = bip39::Language::English.word_list();
        let mut words: Vec<&str> = good.split(' ').collect();
        let last = list.iter().position(|w| *w == words[23]).unwrap();
        words[23] = list[last ^ 1];
        assert!(Mnemonic::parse(&words.join(" ")).is_err(), "checksum");
        assert!(
            Mnemonic::parse(&good.to_uppercase()).is_ok(),
            "case-insensitive"
        );
    }

    #[test]
    fn debug_hides_the_words() {
        let m = Mnemonic::from_seed(&[9; 32]);
        assert!(!format!("{m:?}").contains(m.phrase().split(' ').next().unwrap()));
    }
}
