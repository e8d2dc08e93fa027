//! Postings: the sorted set of document slots holding a term, and the candidate sets a
//! query is evaluated over.

use super::*;

/// Chunks sorted by `high`; empty chunks are dropped, so no chunk is empty.
#[derive(Default)]
pub(super) struct Postings(pub(super) Vec<Chunk>);

/// The slots whose high 16 bits are `high`.
pub(super) struct Chunk {
    pub(super) high: u16,
    pub(super) bits: Bits,
}

/// The low 16 bits of a chunk's slots.
pub(super) enum Bits {
    Array(Vec<u16>),
    Bitmap(Box<[u64; 1024]>, u32),
}

pub(super) fn bit_of(low: u16) -> (usize, u64) {
    (usize::from(low >> 6), 1 << (low & 63))
}

impl Bits {
    pub(super) fn len(&self) -> usize {
        match self {
            Bits::Array(lows) => lows.len(),
            Bits::Bitmap(_, count) => *count as usize,
        }
    }

    pub(super) fn contains(&self, low: u16) -> bool {
        match self {
            Bits::Array(lows) => locate_low(lows, low).is_ok(),
            Bits::Bitmap(words, _) => {
                let (word, bit) = bit_of(low);
                words[word] & bit != 0
            }
        }
    }

    /// Adds (`present`) or removes `low`; returns whether the set changed.
    pub(super) fn set(&mut self, low: u16, present: bool) -> bool {
        let changed = match self {
            Bits::Array(lows) => match (locate_low(lows, low), present) {
                (Err(at), true) => {
                    lows.insert(at, low);
                    true
                }
                (Ok(at), false) => {
                    lows.remove(at);
                    true
                }
                _ => false,
            },
            Bits::Bitmap(words, count) => {
                let (word, bit) = bit_of(low);
                let changed = (words[word] & bit != 0) != present;
                if changed {
                    words[word] ^= bit;
                    *count = if present { *count + 1 } else { *count - 1 };
                }
                changed
            }
        };
        self.rebalance();
        changed
    }

    /// Switches representation; the gap between the two thresholds keeps a
    /// chunk near the limit from converting back and forth on every update.
    pub(super) fn rebalance(&mut self) {
        match self {
            Bits::Array(lows) if lows.len() > ARRAY_MAX => {
                let mut words = Box::new([0u64; 1024]);
                for &low in lows.iter() {
                    let (word, bit) = bit_of(low);
                    words[word] |= bit;
                }
                *self = Bits::Bitmap(words, lows.len() as u32);
            }
            Bits::Bitmap(..) if self.len() < ARRAY_MAX / 2 => {
                let mut lows = Vec::with_capacity(self.len());
                self.append_to(0, &mut lows);
                *self = Bits::Array(lows.into_iter().map(|low| low as u16).collect());
            }
            _ => {}
        }
    }

    pub(super) fn append_to(&self, high: u16, out: &mut Vec<u32>) {
        let base = u32::from(high) << 16;
        match self {
            Bits::Array(lows) => out.extend(lows.iter().map(|&low| base | u32::from(low))),
            Bits::Bitmap(words, _) => {
                for (i, &word) in words.iter().enumerate() {
                    let mut rest = word;
                    while rest != 0 {
                        out.push(base | (i as u32 * 64 + rest.trailing_zeros()));
                        rest &= rest - 1;
                    }
                }
            }
        }
    }
}

/// `binary_search` in a chunk's array. A term's slots spread about evenly over
/// a chunk, so the search starts where `low` would sit if they were uniform and
/// gallops outwards: a few cache lines instead of a binary search's dozen.
pub(super) fn locate_low(lows: &[u16], low: u16) -> Result<usize, usize> {
    let n = lows.len();
    if lows.last().is_some_and(|&last| last < low) {
        return Err(n); // an append: new documents take fresh slots
    }
    let guess = (usize::from(low) * n) >> 16;
    let (mut lo, mut hi, mut step) = (guess, guess + 1, 1);
    // Afterwards lows[..=lo] < low (or lo == 0) and lows[hi - 1..] >= low (or hi == n).
    while lo > 0 && lows[lo] >= low {
        lo = lo.saturating_sub(step);
        step *= 2;
    }
    step = 1;
    while hi < n && lows[hi - 1] < low {
        hi = (hi + step).min(n);
        step *= 2;
    }
    match lows.get(lo..hi).map(|window| window.binary_search(&low)) {
        Some(Ok(at)) => Ok(lo + at),
        Some(Err(at)) => Err(lo + at),
        None => Err(0), // empty array
    }
}

impl Postings {
    pub(super) fn find(&self, slot: u32) -> (Result<usize, usize>, u16) {
        let high = (slot >> 16) as u16;
        (self.0.binary_search_by_key(&high, |c| c.high), slot as u16)
    }

    pub(super) fn len(&self) -> usize {
        self.0.iter().map(|chunk| chunk.bits.len()).sum()
    }

    pub(super) fn contains(&self, slot: u32) -> bool {
        match self.find(slot) {
            (Ok(at), low) => self.0[at].bits.contains(low),
            (Err(_), _) => false,
        }
    }

    /// Adds (`present`) or removes `slot`; returns whether the set changed.
    pub(super) fn set(&mut self, slot: u32, present: bool) -> bool {
        match (self.find(slot), present) {
            ((Ok(at), low), _) => {
                let changed = self.0[at].bits.set(low, present);
                if self.0[at].bits.len() == 0 {
                    self.0.remove(at);
                }
                changed
            }
            ((Err(at), low), true) => {
                let high = (slot >> 16) as u16;
                let bits = Bits::Array(vec![low]);
                self.0.insert(at, Chunk { high, bits });
                true
            }
            ((Err(_), _), false) => false,
        }
    }

    /// Appends all slots in ascending order.
    pub(super) fn append_to(&self, out: &mut Vec<u32>) {
        for chunk in &self.0 {
            chunk.bits.append_to(chunk.high, out);
        }
    }
}

/// Intermediate query result, kept as a lazy union of postings lists when
/// possible so that an AND with a rare term probes a common term's postings
/// instead of materializing them.
pub(super) enum Set<'a> {
    Lists(Vec<&'a Postings>),
    /// Sorted, deduplicated slots.
    Docs(Vec<u32>),
}

impl<'a> Set<'a> {
    /// Upper bound of the size (exact for `Docs` and single lists).
    pub(super) fn estimate(&self) -> usize {
        match self {
            Set::Lists(lists) => total_len(lists),
            Set::Docs(docs) => docs.len(),
        }
    }

    pub(super) fn contains(&self, slot: u32) -> bool {
        match self {
            Set::Lists(lists) => lists.iter().any(|p| p.contains(slot)),
            Set::Docs(docs) => docs.binary_search(&slot).is_ok(),
        }
    }

    pub(super) fn into_docs(self) -> Vec<u32> {
        let lists = match self {
            Set::Docs(docs) => return docs,
            Set::Lists(lists) => lists,
        };
        let mut docs = Vec::new();
        for postings in &lists {
            postings.append_to(&mut docs);
        }
        if lists.len() > 1 {
            docs.sort_unstable();
            docs.dedup();
        }
        docs
    }

    /// Prepares for `probes` lookups: a union of many lists is materialized
    /// when probing every list each time would cost more than building it.
    pub(super) fn ready_for(self, probes: usize) -> Set<'a> {
        match self {
            Set::Lists(lists)
                if lists.len() > 1 && probes.saturating_mul(lists.len()) > total_len(&lists) =>
            {
                Set::Docs(Set::Lists(lists).into_docs())
            }
            other => other,
        }
    }

    /// The slots of `keep` that are (`wanted`) or are not in `probe`.
    pub(super) fn filter(keep: Set<'a>, probe: Set<'a>, wanted: bool) -> Set<'a> {
        let probe = probe.ready_for(keep.estimate());
        let mut docs = keep.into_docs();
        docs.retain(|&slot| probe.contains(slot) == wanted);
        Set::Docs(docs)
    }

    /// Iterates the smaller side and probes the larger.
    pub(super) fn and(a: Set<'a>, b: Set<'a>) -> Set<'a> {
        match a.estimate() <= b.estimate() {
            true => Set::filter(a, b, true),
            false => Set::filter(b, a, true),
        }
    }

    pub(super) fn or(a: Set<'a>, b: Set<'a>) -> Set<'a> {
        match (a, b) {
            (Set::Lists(mut x), Set::Lists(y)) => {
                x.extend(y);
                Set::Lists(x)
            }
            (a, b) => {
                let mut docs = a.into_docs();
                docs.extend(b.into_docs());
                docs.sort_unstable();
                docs.dedup();
                Set::Docs(docs)
            }
        }
    }
}

pub(super) fn total_len(lists: &[&Postings]) -> usize {
    lists.iter().map(|p| p.len()).sum()
}
