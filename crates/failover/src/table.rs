//! The binding table: one record per resource holding the binding and its sequence number
//! (bumped on every change the partner must hear about), so the update path finds both with
//! one search.

use alloc::collections::{BTreeMap, VecDeque, btree_map};
use alloc::vec::Vec;

use crate::binding::{Binding, Resource};

/// The table's key: a resource's order (kind, 128-bit value, prefix length; see
/// [`Resource::sort_key`]) computed once per search, so that each step of a search compares
/// plain integers instead of decoding two `Resource`s. Orders exactly as `Resource` does.
///
/// The 137 bits of (kind bit, value, length) are packed in order into a `u128` and a `u16`,
/// so that a step of a search is one 128-bit comparison (the second field decides only
/// between equal 127-bit prefixes); the kind is 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// The kind bit, then the value's upper 127 bits.
    high: u128,
    /// The value's lowest bit, then the 8-bit length.
    low: u16,
}

impl Key {
    pub(crate) const fn of(r: &Resource) -> Self {
        let (kind, v, len) = r.sort_key();
        Self {
            high: ((kind as u128 & 1) << 127) | (v >> 1),
            low: (((v & 1) as u16) << 8) | len as u16,
        }
    }
}

/// One resource's record.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) binding: Binding,
    /// Bumped on every change of the binding that the partner must hear about; a BNDREPLY
    /// whose BNDUPD carried the current number acknowledges the current record.
    pub(crate) seq: u64,
}

/// Bindings by resource, with their sequence numbers. The number of a resource survives the
/// removal of its binding (kept in `gone`), so a re-created binding never repeats one.
#[derive(Clone, Debug, Default)]
pub(crate) struct BindingTable {
    map: BTreeMap<Key, Slot>,
    gone: BTreeMap<Resource, u64>,
    /// Advanced by every method that borrows the table mutably (whether or not the caller
    /// then changes anything): while it stays the same, the table is exactly as it was.
    epoch: u64,
}

impl BindingTable {
    /// The mutation epoch: equal values mean nothing was borrowed mutably in between, so
    /// whatever was read from the table then still holds.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    fn touch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get(&self, r: &Resource) -> Option<&Binding> {
        self.map.get(&Key::of(r)).map(|s| &s.binding)
    }

    pub(crate) fn get_mut(&mut self, r: &Resource) -> Option<&mut Binding> {
        self.touch();
        self.map.get_mut(&Key::of(r)).map(|s| &mut s.binding)
    }

    pub(crate) fn contains_key(&self, r: &Resource) -> bool {
        self.map.contains_key(&Key::of(r))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Binding> {
        self.map.values().map(|s| &s.binding)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Binding> {
        self.touch();
        self.map.values_mut().map(|s| &mut s.binding)
    }

    /// Puts `b` in (replacing any binding of `r`; the sequence number is kept).
    pub(crate) fn insert(&mut self, r: Resource, b: Binding) {
        self.touch();
        match self.map.entry(Key::of(&r)) {
            btree_map::Entry::Occupied(o) => o.into_mut().binding = b,
            btree_map::Entry::Vacant(v) => {
                let seq = self.gone.remove(&r).unwrap_or(0);
                v.insert(Slot { binding: b, seq });
            }
        }
    }

    /// Takes the binding of `r` out (its sequence number stays).
    pub(crate) fn remove(&mut self, r: &Resource) {
        self.touch();
        if let Some(s) = self.map.remove(&Key::of(r)) {
            self.gone.insert(*r, s.seq);
        }
    }

    /// The binding of `r`, created by `f` if there is none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        r: Resource,
        f: impl FnOnce() -> Binding,
    ) -> &mut Binding {
        self.touch();
        match self.map.entry(Key::of(&r)) {
            btree_map::Entry::Occupied(o) => &mut o.into_mut().binding,
            btree_map::Entry::Vacant(v) => {
                let seq = self.gone.remove(&r).unwrap_or(0);
                &mut v.insert(Slot { binding: f(), seq }).binding
            }
        }
    }

    /// The entry of `r` for a single-search update, with the numbers of removed bindings (a
    /// record created through a vacant entry takes its number from there).
    pub(crate) fn entry(
        &mut self,
        r: Resource,
    ) -> (
        btree_map::Entry<'_, Key, Slot>,
        &mut BTreeMap<Resource, u64>,
    ) {
        self.touch();
        (self.map.entry(Key::of(&r)), &mut self.gone)
    }

    /// The binding of `r` with its sequence number.
    pub(crate) fn get_with_seq(&self, r: &Resource) -> Option<(&Binding, u64)> {
        self.map.get(&Key::of(r)).map(|s| (&s.binding, s.seq))
    }

    /// The record of `r` (binding and sequence number), mutably.
    pub(crate) fn slot_mut(&mut self, r: &Resource) -> Option<&mut Slot> {
        self.touch();
        self.map.get_mut(&Key::of(r))
    }

    /// The sequence number of `r` (0 if it never changed).
    pub(crate) fn seq(&self, r: &Resource) -> u64 {
        match self.map.get(&Key::of(r)) {
            Some(s) => s.seq,
            None => self.gone.get(r).copied().unwrap_or(0),
        }
    }

    /// A new sequence number for `r`.
    pub(crate) fn bump(&mut self, r: Resource) {
        self.touch();
        let s = match self.map.get_mut(&Key::of(&r)) {
            Some(s) => &mut s.seq,
            None => self.gone.entry(r).or_insert(0),
        };
        *s = s.wrapping_add(1);
    }
}

/// A map keyed by resource through its [`Key`] (a search compares precomputed integers, not
/// two decoded `Resource`s per step), for the endpoint's per-resource bookkeeping (looked up,
/// never iterated). It takes one of three forms, each kept until it is empty again:
/// * up to [`SMALL`] entries in a vector searched linearly (allocated once, then reused): one
///   or two writes in flight cost a few comparisons;
/// * up to [`SORTED`] entries in a ring buffer in key order, searched by bisection: the bulk
///   patterns (UPDREQALL: keys inserted in increasing order and mostly removed from the
///   front) cost an append and a bisection instead of B-tree node operations and allocations;
/// * beyond that (where an insert or removal in the middle would shift too much), a B-tree.
#[derive(Clone, Debug)]
pub(crate) struct ResourceMap<V> {
    /// The entries while there are at most [`SMALL`] and the other two forms are empty.
    small: Vec<(Key, V)>,
    /// The entries, in key order, while `small` and `big` are empty.
    sorted: VecDeque<(Key, V)>,
    /// The entries while `small` and `sorted` are empty.
    big: BTreeMap<Key, V>,
}

/// How many entries a [`ResourceMap`] keeps in its vector.
const SMALL: usize = 8;

/// How many entries a [`ResourceMap`] keeps in its ordered ring (fewer in unit tests, so that
/// they reach every form).
const SORTED: usize = if cfg!(test) { 24 } else { 4096 };

impl<V> Default for ResourceMap<V> {
    fn default() -> Self {
        Self {
            small: Vec::new(),
            sorted: VecDeque::new(),
            big: BTreeMap::new(),
        }
    }
}

impl<V> ResourceMap<V> {
    /// Where `k` is in `sorted` (`Ok`) or would go (`Err`); the ends (a key above the last
    /// one: the usual insert; the first one: the usual removal) are answered without
    /// bisecting.
    fn find_sorted(&self, k: &Key) -> Result<usize, usize> {
        let (Some((first, _)), Some((last, _))) = (self.sorted.front(), self.sorted.back()) else {
            return Err(0);
        };
        if last < k {
            Err(self.sorted.len())
        } else if first == k {
            Ok(0)
        } else if k < first {
            Err(0)
        } else {
            self.sorted.binary_search_by(|(x, _)| x.cmp(k))
        }
    }

    pub(crate) fn insert(&mut self, r: Resource, v: V) -> Option<V> {
        let k = Key::of(&r);
        if !self.big.is_empty() {
            return self.big.insert(k, v);
        }
        if self.sorted.is_empty() {
            if let Some(e) = self.small.iter_mut().find(|(x, _)| *x == k) {
                return Some(core::mem::replace(&mut e.1, v));
            }
            if self.small.len() < SMALL {
                self.small.push((k, v));
                return None;
            }
            // The vector is full: its entries move into the ordered ring.
            self.small.sort_unstable_by_key(|(k, _)| *k);
            self.sorted.extend(self.small.drain(..));
        }
        match self.find_sorted(&k) {
            Ok(i) => {
                let e = self.sorted.get_mut(i)?;
                return Some(core::mem::replace(&mut e.1, v));
            }
            Err(i) if self.sorted.len() < SORTED => {
                if i == self.sorted.len() {
                    self.sorted.push_back((k, v));
                } else {
                    self.sorted.insert(i, (k, v));
                }
            }
            Err(_) => {
                self.big.extend(self.sorted.drain(..));
                self.big.insert(k, v);
            }
        }
        None
    }

    pub(crate) fn contains_key(&self, r: &Resource) -> bool {
        let k = Key::of(r);
        if !self.big.is_empty() {
            self.big.contains_key(&k)
        } else if !self.sorted.is_empty() {
            self.find_sorted(&k).is_ok()
        } else {
            self.small.iter().any(|(x, _)| *x == k)
        }
    }

    pub(crate) fn remove(&mut self, r: &Resource) -> Option<V> {
        self.remove_if(r, |_| true)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.small.is_empty() && self.sorted.is_empty() && self.big.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.small.clear();
        self.sorted.clear();
        self.big.clear();
    }

    /// Removes the value of `r` if `pred` holds for it (one search) and returns it.
    pub(crate) fn remove_if(&mut self, r: &Resource, pred: impl FnOnce(&V) -> bool) -> Option<V> {
        let k = Key::of(r);
        if !self.big.is_empty() {
            return match self.big.entry(k) {
                btree_map::Entry::Occupied(o) if pred(o.get()) => Some(o.remove()),
                _ => None,
            };
        }
        if !self.sorted.is_empty() {
            let i = self.find_sorted(&k).ok()?;
            let (_, v) = self.sorted.get(i)?;
            return if !pred(v) {
                None
            } else if i == 0 {
                self.sorted.pop_front().map(|(_, v)| v)
            } else {
                self.sorted.remove(i).map(|(_, v)| v)
            };
        }
        let i = self.small.iter().position(|(x, _)| *x == k)?;
        let (_, v) = self.small.get(i)?;
        pred(v).then(|| self.small.swap_remove(i).1)
    }
}

/// A set of resources kept as a [`ResourceMap`].
pub(crate) type ResourceSet = ResourceMap<()>;

#[cfg(test)]
mod tests {
    use super::Key;
    use crate::binding::Resource;
    use alloc::vec::Vec;
    use core::net::Ipv6Addr;

    /// The map answers as a `BTreeMap` does over random inserts, removals and lookups, in
    /// all three of its forms.
    #[test]
    fn resource_map_matches_a_btree_map() {
        use super::ResourceMap;
        use alloc::collections::BTreeMap;
        let mut m = ResourceMap::default();
        let mut reference = BTreeMap::new();
        let mut x: u64 = 7;
        let (mut small_seen, mut sorted_seen, mut big_seen) = (0u32, 0u32, 0u32);
        for step in 0..50_000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Phases of mostly inserts (40 keys) and mostly removals (inserts of 6 keys only)
            // move the map between its forms.
            let removing = step / 2500 % 2 == 1;
            // Rounds of 40 keys (reaching the B-tree) and 20 keys (at most the ordered ring).
            let space = if step / 10_000 % 2 == 0 { 40 } else { 20 };
            let key = (x >> 33) % if removing && x >> 61 == 0 { 6 } else { space };
            let r = Resource::Address(Ipv6Addr::from(u128::from(key)));
            match (x >> 61, removing) {
                (0..=5, false) | (0, true) => {
                    assert_eq!(m.insert(r, step), reference.insert(r, step));
                }
                (6, false) | (1..=4, true) => {
                    let odd = x & 1 == 1;
                    let want = match reference.get(&r) {
                        Some(v) if (v % 2 == 1) == odd => reference.remove(&r),
                        _ => None,
                    };
                    assert_eq!(m.remove_if(&r, |v| (v % 2 == 1) == odd), want);
                }
                _ => assert_eq!(m.remove(&r), reference.remove(&r)),
            }
            if !m.big.is_empty() {
                big_seen += 1;
            } else if !m.sorted.is_empty() {
                sorted_seen += 1;
            } else {
                small_seen += u32::from(!m.small.is_empty());
            }
            assert_eq!(m.contains_key(&r), reference.contains_key(&r));
            assert_eq!(m.is_empty(), reference.is_empty());
        }
        assert!(
            small_seen > 1000 && sorted_seen > 1000 && big_seen > 1000,
            "{small_seen} {sorted_seen} {big_seen}"
        );
    }

    #[test]
    fn key_orders_exactly_as_resource() {
        let vals: [u128; 6] = [0, 1, 1 << 63, 1 << 64, (1 << 64) | 7, u128::MAX];
        let mut rs = Vec::new();
        for v in vals {
            rs.push(Resource::Address(Ipv6Addr::from(v)));
            for len in [0u8, 48, 64, 128] {
                rs.push(Resource::Prefix {
                    prefix: Ipv6Addr::from(v),
                    len,
                });
            }
        }
        for a in &rs {
            for b in &rs {
                assert_eq!(Key::of(a).cmp(&Key::of(b)), a.cmp(b), "{a} vs {b}");
            }
        }
    }
}
