//! MTH, PATH and PROOF/SUBPROOF exactly as RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 define
//! them: recursive, recomputing every subtree, hashing with `sha2` directly.
//!
//! The functions take the entries' leaf hashes (`MTH({d}) = SHA-256(0x00 ‖ d)`, from
//! [`ref_leaf`]) rather than the entries, only so that each entry is hashed once.

use bcdb::merkle::Hash;
use sha2::{Digest, Sha256};

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The largest power of two smaller than n (n > 1), found by counting up.
fn ref_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// `MTH({d})` for one entry.
pub(crate) fn ref_leaf(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

pub(crate) fn ref_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => sha256(&[]),
        1 => d[0],
        n => {
            let k = ref_k(n);
            sha256(&[&[0x01], &ref_mth(&d[..k]), &ref_mth(&d[k..])])
        }
    }
}

pub(crate) fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = ref_k(n);
    if m < k {
        let mut path = ref_path(m, &d[..k]);
        path.push(ref_mth(&d[k..]));
        path
    } else {
        let mut path = ref_path(m - k, &d[k..]);
        path.push(ref_mth(&d[..k]));
        path
    }
}

fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![ref_mth(d)] };
    }
    let k = ref_k(n);
    if m <= k {
        let mut proof = ref_subproof(m, &d[..k], b);
        proof.push(ref_mth(&d[k..]));
        proof
    } else {
        let mut proof = ref_subproof(m - k, &d[k..], false);
        proof.push(ref_mth(&d[..k]));
        proof
    }
}

pub(crate) fn ref_proof(m: usize, d: &[Hash]) -> Vec<Hash> {
    ref_subproof(m, d, true)
}
