//! The binding table: one record per resource holding the binding and its sequence number
//! (bumped on every change the partner must hear about), so the update path finds both with
//! one search.

use alloc::collections::{BTreeMap, VecDeque, btree_map};
use alloc::vec::Vec;
use core::hash::{BuildHasher, Hash, Hasher};

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

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.high);
        state.write_u16(self.low);
    }
}

/// The keyed hash of the table's index: a multiply-and-fold of the key's words with two
/// secret words (from the endpoint's seed), so that which resources collide cannot be worked
/// out from outside, whichever addresses clients ask for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHashing {
    k0: u64,
    k1: u64,
}

impl KeyHashing {
    /// Hashing keyed by words derived from `seed` (odd multipliers, never zero). They are
    /// not outputs of the transaction-id generator, which starts from the same seed.
    fn new(seed: u64) -> Self {
        let k0 = splitmix(seed.rotate_left(32) ^ 0x6a09_e667_f3bc_c908) | 1;
        let k1 = splitmix(seed.rotate_left(17) ^ 0xbb67_ae85_84ca_a73b) | 1;
        Self { k0, k1 }
    }
}

/// One step of SplitMix64: a well-mixed word from any word.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The low and high halves of the 128-bit product, folded together.
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

/// The state of one [`KeyHashing`] hash.
#[derive(Debug)]
pub(crate) struct KeyHasher {
    acc: u64,
    k0: u64,
    k1: u64,
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w.iter_mut().zip(chunk).for_each(|(d, s)| *d = *s);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u16(&mut self, x: u16) {
        self.write_u64(u64::from(x));
    }
    fn write_u64(&mut self, x: u64) {
        self.acc = fold_mul(self.acc ^ x, self.k0).rotate_left(23);
    }
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        fold_mul(self.acc, self.k1)
    }
}

impl BuildHasher for KeyHashing {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher {
            acc: self.k1,
            k0: self.k0,
            k1: self.k1,
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

/// Where a record lives in the table while it exists (see [`BindingTable::find`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotId(usize);

/// Bindings by resource, with their sequence numbers. The number of a resource survives the
/// removal of its binding (kept in `gone`), so a re-created binding never repeats one.
///
/// The records sit in a vector at positions that stay put while they live (a removed record's
/// position goes to a free list and is reused). A hash index finds a record by resource for the
/// hot paths (every allocation, lease, update and acknowledgement looks one up); a B-tree of
/// positions keeps resource order for the walks, which see the bindings ordered by resource.
/// (A B-tree holding the records themselves cost a dozen cache misses per lookup at 100,000
/// bindings and moved whole records on every insert.)
#[derive(Clone, Debug)]
pub(crate) struct BindingTable {
    /// The records; a position in `free` holds a stale one that nothing refers to.
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Position of each record, by key: the lookups.
    index: hashbrown::HashMap<Key, usize, KeyHashing>,
    /// Position of each record, in key order: the walks.
    order: BTreeMap<Key, usize>,
    gone: BTreeMap<Resource, u64>,
    /// Advanced by every method that borrows the table mutably (whether or not the caller
    /// then changes anything): while it stays the same, the table is exactly as it was.
    epoch: u64,
}

impl BindingTable {
    /// An empty table whose index hashes with words derived from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            index: hashbrown::HashMap::with_hasher(KeyHashing::new(seed)),
            order: BTreeMap::new(),
            gone: BTreeMap::new(),
            epoch: 0,
        }
    }

    /// The mutation epoch: equal values mean nothing was borrowed mutably in between, so
    /// whatever was read from the table then still holds.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    fn touch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    fn slot(&self, r: &Resource) -> Option<&Slot> {
        let i = *self.index.get(&Key::of(r))?;
        self.slots.get(i)
    }

    pub(crate) fn get(&self, r: &Resource) -> Option<&Binding> {
        self.slot(r).map(|s| &s.binding)
    }

    pub(crate) fn get_mut(&mut self, r: &Resource) -> Option<&mut Binding> {
        self.slot_mut(r).map(|s| &mut s.binding)
    }

    pub(crate) fn contains_key(&self, r: &Resource) -> bool {
        self.index.contains_key(&Key::of(r))
    }

    /// Every binding, ordered by resource.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Binding> {
        self.order
            .values()
            .filter_map(|&i| self.slots.get(i))
            .map(|s| &s.binding)
    }

    /// Calls `f` on every binding, ordered by resource, mutably.
    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&mut Binding)) {
        self.touch();
        let Self { order, slots, .. } = self;
        for &i in order.values() {
            if let Some(s) = slots.get_mut(i) {
                f(&mut s.binding);
            }
        }
    }

    /// Puts a new record for `r` (whose key is `k`) in, with the sequence number `r` had
    /// before its removal, and returns its position.
    fn create(&mut self, r: Resource, k: Key, binding: Binding) -> usize {
        let seq = self.gone.remove(&r).unwrap_or(0);
        let slot = Slot { binding, seq };
        let i = match self.free.pop() {
            Some(i) if i < self.slots.len() => {
                self.slots[i] = slot;
                i
            }
            _ => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.index.insert(k, i);
        self.order.insert(k, i);
        i
    }

    /// Puts `b` in (replacing any binding of `r`; the sequence number is kept).
    pub(crate) fn insert(&mut self, r: Resource, b: Binding) {
        self.touch();
        let k = Key::of(&r);
        match self.index.get(&k).copied() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i) {
                    s.binding = b;
                }
            }
            None => {
                self.create(r, k, b);
            }
        }
    }

    /// Takes the binding of `r` out (its sequence number stays).
    pub(crate) fn remove(&mut self, r: &Resource) {
        self.touch();
        let k = Key::of(r);
        let Some(i) = self.index.remove(&k) else {
            return;
        };
        self.order.remove(&k);
        if let Some(s) = self.slots.get(i) {
            self.gone.insert(*r, s.seq);
        }
        self.free.push(i);
    }

    /// The binding of `r`, created by `f` if there is none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        r: Resource,
        f: impl FnOnce() -> Binding,
    ) -> &mut Binding {
        &mut self.slot_or_insert_with(r, f).binding
    }

    /// Where the record of `r` is, if there is one: one lookup for a decision, then
    /// [`slot_at`](Self::slot_at) / [`slot_at_mut`](Self::slot_at_mut) to read and change it.
    pub(crate) fn find(&self, r: &Resource) -> Option<SlotId> {
        self.index.get(&Key::of(r)).map(|&i| SlotId(i))
    }

    /// The record at `id` (from [`find`](Self::find), with no removal since).
    pub(crate) fn slot_at(&self, id: SlotId) -> Option<&Slot> {
        self.slots.get(id.0)
    }

    /// The record at `id` (from [`find`](Self::find), with no removal since), mutably.
    pub(crate) fn slot_at_mut(&mut self, id: SlotId) -> Option<&mut Slot> {
        self.touch();
        self.slots.get_mut(id.0)
    }

    /// The record of `r`, created with the binding `f` makes if there is none (its sequence
    /// number then comes from the removed binding's, if any).
    pub(crate) fn slot_or_insert_with(
        &mut self,
        r: Resource,
        f: impl FnOnce() -> Binding,
    ) -> &mut Slot {
        self.touch();
        let k = Key::of(&r);
        let i = match self.index.get(&k).copied() {
            Some(i) if i < self.slots.len() => i,
            _ => self.create(r, k, f()),
        };
        // A position from the index or from `create` is always within the vector.
        &mut self.slots[i]
    }

    /// The binding of `r` with its sequence number.
    pub(crate) fn get_with_seq(&self, r: &Resource) -> Option<(&Binding, u64)> {
        self.slot(r).map(|s| (&s.binding, s.seq))
    }

    /// The record of `r` (binding and sequence number), mutably.
    pub(crate) fn slot_mut(&mut self, r: &Resource) -> Option<&mut Slot> {
        self.touch();
        let i = *self.index.get(&Key::of(r))?;
        self.slots.get_mut(i)
    }

    /// The sequence number of `r` (0 if it never changed).
    pub(crate) fn seq(&self, r: &Resource) -> u64 {
        match self.slot(r) {
            Some(s) => s.seq,
            None => self.gone.get(r).copied().unwrap_or(0),
        }
    }

    /// A new sequence number for `r`.
    pub(crate) fn bump(&mut self, r: Resource) {
        self.touch();
        let s = match self.index.get(&Key::of(&r)).copied() {
            Some(i) => match self.slots.get_mut(i) {
                Some(s) => &mut s.seq,
                None => return,
            },
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

    /// The binding table answers as a `BTreeMap` of records (with the sequence numbers of
    /// removed bindings kept aside) does, over random inserts, removals, bumps and lookups,
    /// and walks its bindings in resource order; different seeds change nothing.
    #[test]
    fn binding_table_matches_a_btree_map() {
        use super::BindingTable;
        use crate::binding::{Binding, BindingStatus};
        use crate::time::UnixTime;
        use alloc::collections::BTreeMap;
        for seed in [0u64, 1, u64::MAX] {
            let mut t = BindingTable::new(seed);
            let mut records: BTreeMap<Resource, (u64, u64)> = BTreeMap::new();
            let mut gone: BTreeMap<Resource, u64> = BTreeMap::new();
            let mut x: u64 = 11;
            for step in 0..40_000u64 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = (x >> 33) % 300;
                let r = if v.is_multiple_of(3) {
                    Resource::Prefix {
                        prefix: Ipv6Addr::from(u128::from(v) << 64),
                        len: 56 + (v % 5) as u8,
                    }
                } else {
                    Resource::Address(Ipv6Addr::from(u128::from(v)))
                };
                let at = UnixTime::from_secs(step);
                match x >> 61 {
                    0..=2 => {
                        t.insert(r, Binding::new(r, BindingStatus::Active, at));
                        let seq = records
                            .get(&r)
                            .map(|e| e.1)
                            .or_else(|| gone.remove(&r))
                            .unwrap_or(0);
                        records.insert(r, (step, seq));
                    }
                    3 => {
                        t.get_or_insert_with(r, || Binding::new(r, BindingStatus::Free, at));
                        records
                            .entry(r)
                            .or_insert_with(|| (step, gone.remove(&r).unwrap_or(0)));
                    }
                    4 | 5 => {
                        t.remove(&r);
                        if let Some((_, seq)) = records.remove(&r) {
                            gone.insert(r, seq);
                        }
                    }
                    _ => {
                        t.bump(r);
                        match records.get_mut(&r) {
                            Some(e) => e.1 += 1,
                            None => *gone.entry(r).or_insert(0) += 1,
                        }
                    }
                }
                let want = records.get(&r).map(|e| (UnixTime::from_secs(e.0), e.1));
                let got = t.get_with_seq(&r).map(|(b, s)| (b.start_time_of_state, s));
                assert_eq!(got, want, "step {step}, {r:?}");
                let seq = want.map_or_else(|| gone.get(&r).copied().unwrap_or(0), |w| w.1);
                assert_eq!(t.seq(&r), seq);
                assert_eq!(t.contains_key(&r), records.contains_key(&r));
                assert_eq!(t.find(&r).is_some(), records.contains_key(&r));
                assert_eq!(t.len(), records.len());
                if step % 1000 == 0 {
                    let walked: Vec<Resource> = t.values().map(|b| b.resource).collect();
                    let keys: Vec<Resource> = records.keys().copied().collect();
                    assert_eq!(walked, keys);
                    let mut n = 0;
                    t.for_each_mut(|_| n += 1);
                    assert_eq!(n, records.len());
                }
            }
        }
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
