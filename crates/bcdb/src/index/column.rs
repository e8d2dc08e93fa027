//! One value column: every value an indexed field holds, in key order, with the objects
//! holding it.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::key::{Key, Text};

/// The objects holding one value. Most values of a unique or near-unique field have one
/// holder; a set for each would cost ten times the memory.
#[derive(Debug)]
pub(super) enum Ids {
    One(u64),
    Many(BTreeSet<u64>),
}

impl Ids {
    fn insert(&mut self, id: u64) {
        match self {
            Ids::One(held) if *held == id => {}
            Ids::One(held) => *self = Ids::Many(BTreeSet::from([*held, id])),
            Ids::Many(set) => {
                set.insert(id);
            }
        }
    }

    /// Removes `id`; true when no holder is left.
    fn remove(&mut self, id: u64) -> bool {
        match self {
            Ids::One(held) => *held == id,
            Ids::Many(set) => {
                set.remove(&id);
                if let (1, Some(&last)) = (set.len(), set.first()) {
                    *self = Ids::One(last);
                }
                false // a set holds two or more, or becomes `One`
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Ids::One(_) => 1,
            Ids::Many(set) => set.len(),
        }
    }

    pub(super) fn contains(&self, id: u64) -> bool {
        match self {
            Ids::One(held) => *held == id,
            Ids::Many(set) => set.contains(&id),
        }
    }

    /// The holders above `after`, ascending.
    pub(super) fn above(&self, after: u64) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Ids::One(held) => Box::new((*held > after).then_some(*held).into_iter()),
            Ids::Many(set) => Box::new(
                set.range((Bound::Excluded(after), Bound::Unbounded))
                    .copied(),
            ),
        }
    }

    /// Any holder other than `id`.
    pub(super) fn other_than(&self, id: Option<u64>) -> Option<u64> {
        match self {
            Ids::One(held) => (Some(*held) != id).then_some(*held),
            Ids::Many(set) => set.iter().copied().find(|&h| Some(h) != id),
        }
    }
}

/// The values of one field of one collection.
#[derive(Debug, Default)]
pub(super) struct Column {
    by_value: BTreeMap<Key, Ids>,
}

impl Column {
    /// The column of these (value, holder) rows, in any order: sorted once and loaded into
    /// the B-tree without a search per row, several times faster than inserting each.
    pub(super) fn from_rows(mut rows: Vec<(Key, u64)>) -> Column {
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut grouped: Vec<(Key, Ids)> = Vec::new();
        for (key, id) in rows {
            match grouped.last_mut() {
                Some((last, ids)) if *last == key => ids.insert(id),
                _ => grouped.push((key, Ids::One(id))),
            }
        }
        Column {
            by_value: grouped.into_iter().collect(),
        }
    }

    pub(super) fn insert(&mut self, key: Key, id: u64) {
        match self.by_value.entry(key) {
            Entry::Occupied(mut held) => held.get_mut().insert(id),
            Entry::Vacant(free) => {
                free.insert(Ids::One(id));
            }
        }
    }

    pub(super) fn remove(&mut self, key: &Key, id: u64) {
        if let Some(ids) = self.by_value.get_mut(key) {
            if ids.remove(id) {
                self.by_value.remove(key);
            }
        }
    }

    /// The holders of exactly `key`.
    pub(super) fn get(&self, key: &Key) -> Option<&Ids> {
        self.by_value.get(key)
    }

    /// The holders of every value within the bounds, above `after`, ascending and distinct.
    pub(super) fn within(&self, lo: Bound<&Key>, hi: Bound<&Key>, after: u64) -> Vec<u64> {
        if !ordered(lo, hi) {
            return Vec::new();
        }
        holders(self.by_value.range::<Key, _>((lo, hi)), after)
    }

    /// The holders of every text value starting with `prefix`, above `after`, ascending and
    /// distinct. (An exclusive upper bound such as `prefix + U+10FFFF` would miss the values
    /// that continue with that very character.)
    pub(super) fn prefixed(&self, prefix: &str, after: u64) -> Vec<u64> {
        let lo = Key::Text(Text::new(prefix));
        let values = self
            .by_value
            .range::<Key, _>((Bound::Included(&lo), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix));
        holders(values, after)
    }
}

/// The holders of these values above `after`, ascending and distinct.
fn holders<'a>(values: impl Iterator<Item = (&'a Key, &'a Ids)>, after: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = values.flat_map(|(_, ids)| ids.above(after)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Whether a range of these bounds is one `BTreeMap::range` accepts (it panics on a start
/// after the end, or on an empty range excluded at both ends).
fn ordered(lo: Bound<&Key>, hi: Bound<&Key>) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a < b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_come_and_go_and_ranges_are_distinct_and_ascending() {
        let mut col = Column::default();
        for (v, id) in [(5, 1), (5, 2), (7, 3), (9, 2), (5, 4)] {
            col.insert(Key::Int(v), id);
        }
        assert_eq!(col.get(&Key::Int(5)).map(Ids::len), Some(3));
        let all = col.within(Bound::Unbounded, Bound::Unbounded, 0);
        assert_eq!(all, [1, 2, 3, 4]);
        let (lo, hi) = (Key::Int(6), Key::Int(9));
        assert_eq!(
            col.within(Bound::Included(&lo), Bound::Included(&hi), 0),
            [2, 3]
        );
        assert_eq!(
            col.within(Bound::Included(&lo), Bound::Included(&hi), 2),
            [3]
        );
        // a start after the end is an empty range, not a panic
        assert!(col
            .within(Bound::Included(&hi), Bound::Included(&lo), 0)
            .is_empty());
        assert!(col
            .within(Bound::Excluded(&lo), Bound::Excluded(&lo), 0)
            .is_empty());
        col.remove(&Key::Int(5), 1);
        col.remove(&Key::Int(5), 4);
        assert!(matches!(col.get(&Key::Int(5)), Some(Ids::One(2))));
        col.remove(&Key::Int(5), 2);
        assert!(col.get(&Key::Int(5)).is_none(), "an empty value is dropped");
        assert_eq!(
            col.get(&Key::Int(7)).and_then(|i| i.other_than(None)),
            Some(3)
        );
        assert_eq!(
            col.get(&Key::Int(7)).and_then(|i| i.other_than(Some(3))),
            None
        );
    }
}
