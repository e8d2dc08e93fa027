//! The checksum 0-db stores beside every payload: CRC-32C without the usual
//! initial and final inversion.
//!
//! 0-db calls it "crc32", but it is the Castagnoli polynomial (reflected
//! `0x82F63B78`) started from 0 and not inverted at the end, so standard
//! CRC-32C tables give different numbers. We keep it bit-exact so that
//! files move freely between the C server and this one.

/// Checksum of `data` as 0-db writes it into index and data entries.
///
/// The hardware-accelerated `crc32c` crate implements the standard variant
/// (`!crc(!0, data)`); undoing both inversions yields the raw one.
#[inline]
pub fn zdb_crc32(data: &[u8]) -> u32 {
    !crc32c::crc32c_append(0xFFFF_FFFF, data)
}

#[cfg(test)]
mod tests {
    use super::zdb_crc32;

    fn check(input: &[u8], expected: u32) {
        assert_eq!(zdb_crc32(input), expected, "crc of {input:?}");
    }

    #[test]
    fn matches_values_observed_from_the_c_server() {
        // Observed in the C 0-db: crc("world") = 0x74d8f77b.
        check(b"world", 0x74d8_f77b);
    }

    #[test]
    fn empty_input_is_zero() {
        check(b"", 0);
    }

    #[test]
    fn differs_from_standard_crc32c() {
        assert_ne!(zdb_crc32(b"world"), crc32c::crc32c(b"world"));
        assert_eq!(crc32c::crc32c(b"world"), 0x31aa_814e);
    }
}
