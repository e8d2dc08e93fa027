//! The bytes a signature covers: `tfgrid/v1/<purpose>` and a NUL, then each
//! field as a little-endian u32 length and its bytes.
//!
//! The purpose keeps signatures of one kind from being replayed as another
//! (a signed flist is not a signed workload); the length prefixes keep two
//! different field lists from producing the same bytes (`"ab","c"` versus
//! `"a","bc"`), which plain concatenation does not.

/// Prefix of every signed payload.
const PREFIX: &[u8] = b"tfgrid/v1/";

/// Canonical signing bytes under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    bytes: Vec<u8>,
}

impl Payload {
    /// Starts a payload for `purpose` (e.g. `"flist"`, `"hub-request"`).
    /// A purpose never contains NUL.
    pub fn new(purpose: &str) -> Payload {
        assert!(!purpose.contains('\0'), "a signing purpose has no NUL byte");
        let mut bytes = Vec::with_capacity(PREFIX.len() + purpose.len() + 64);
        bytes.extend_from_slice(PREFIX);
        bytes.extend_from_slice(purpose.as_bytes());
        bytes.push(0);
        Payload { bytes }
    }

    /// Appends a field.
    pub fn field(mut self, data: &[u8]) -> Payload {
        let len = u32::try_from(data.len()).expect("signed fields are below 4 GiB");
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(data);
        self
    }

    /// Appends an unsigned integer field (8 bytes, little-endian).
    pub fn u64(self, n: u64) -> Payload {
        self.field(&n.to_le_bytes())
    }

    /// The bytes to sign.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let p = Payload::new("t").field(b"ab").u64(1);
        let mut want = b"tfgrid/v1/t\0".to_vec();
        want.extend_from_slice(&[2, 0, 0, 0, b'a', b'b']);
        want.extend_from_slice(&[8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p.as_bytes(), want);
    }

    #[test]
    fn field_boundaries_matter() {
        let a = Payload::new("t").field(b"ab").field(b"c");
        let b = Payload::new("t").field(b"a").field(b"bc");
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_ne!(
            Payload::new("t1").as_bytes(),
            Payload::new("t").field(b"1").as_bytes()
        );
    }
}
