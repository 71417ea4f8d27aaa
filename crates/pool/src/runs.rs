//! A set of `u128` indices stored as maximal runs, with "first index not in the set" lookups.

use alloc::collections::BTreeMap;
use alloc::collections::btree_map::Entry;
use alloc::vec::Vec;

/// A set of indices in `0..total`, stored as maximal disjoint runs `start -> end` (exclusive).
///
/// Invariant: runs never overlap or touch (`end` of one run is never the `start` of the next),
/// so the first index after a run is always outside the set. Every operation is `O(log r)` for
/// `r` runs; memory is one map entry per run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunSet {
    runs: BTreeMap<u128, u128>,
}

impl RunSet {
    pub(crate) const fn new() -> Self {
        Self {
            runs: BTreeMap::new(),
        }
    }

    /// Number of stored runs.
    #[cfg(test)]
    pub(crate) fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// The run containing `i`, if any.
    fn run_of(&self, i: u128) -> Option<(u128, u128)> {
        self.runs
            .range(..=i)
            .next_back()
            .filter(|&(_, &end)| end > i)
            .map(|(&start, &end)| (start, end))
    }

    pub(crate) fn contains(&self, i: u128) -> bool {
        self.run_of(i).is_some()
    }

    /// Adds `i`; returns whether it was absent.
    pub(crate) fn insert(&mut self, i: u128) -> bool {
        // `i + 1` cannot overflow for indices below `total <= u128::MAX`.
        let next = i + 1;
        let mut merge_left = None;
        if let Some((&start, &end)) = self.runs.range(..=i).next_back() {
            if end > i {
                return false;
            }
            if end == i {
                merge_left = Some(start);
            }
        }
        let new_end = match self.runs.remove(&next) {
            Some(end) => end,
            None => next,
        };
        match merge_left {
            Some(start) => {
                self.runs.insert(start, new_end);
            }
            None => {
                self.runs.insert(i, new_end);
            }
        }
        true
    }

    /// Adds every index of `start..end`.
    pub(crate) fn insert_range(&mut self, start: u128, end: u128) {
        if start >= end {
            return;
        }
        let mut new_start = start;
        let mut new_end = end;
        if let Some((&s, &e)) = self.runs.range(..=start).next_back()
            && e >= start
        {
            new_start = s;
            new_end = new_end.max(e);
        }
        // Absorb every run starting inside `start..=end`.
        loop {
            let next = self
                .runs
                .range(new_start..=new_end)
                .next()
                .map(|(&s, &e)| (s, e));
            match next {
                Some((s, e)) => {
                    self.runs.remove(&s);
                    new_end = new_end.max(e);
                }
                None => break,
            }
        }
        self.runs.insert(new_start, new_end);
    }

    /// Removes `i`; returns whether it was present.
    pub(crate) fn remove(&mut self, i: u128) -> bool {
        let Some((start, end)) = self.run_of(i) else {
            return false;
        };
        if start == i {
            self.runs.remove(&start);
        } else if let Some(e) = self.runs.get_mut(&start) {
            *e = i;
        }
        if i + 1 < end {
            self.runs.insert(i + 1, end);
        }
        true
    }

    /// The first index in `from..total`, then wrapping to `0..from`, that is not in the set.
    pub(crate) fn first_free_from(&self, from: u128, total: u128) -> Option<u128> {
        if total == 0 {
            return None;
        }
        let from = if from >= total { 0 } else { from };
        let candidate = self.run_of(from).map_or(from, |(_, end)| end);
        if candidate < total {
            return Some(candidate);
        }
        // Wrap: runs are maximal, so the end of the run at 0 (if any) is free unless it reaches
        // back to the run we started in, which would have merged into one run covering all.
        let wrapped = self.run_of(0).map_or(0, |(_, end)| end);
        (wrapped < total && !self.contains(wrapped)).then_some(wrapped)
    }

    /// The first index `>= from` (no wrapping) below `total` not in the set.
    pub(crate) fn first_free_at_or_after(&self, from: u128, total: u128) -> Option<u128> {
        if from >= total {
            return None;
        }
        let candidate = self.run_of(from).map_or(from, |(_, end)| end);
        (candidate < total).then_some(candidate)
    }

    /// How many indices of the set lie in `0..total` (sum over runs).
    #[cfg(test)]
    pub(crate) fn len_below(&self, total: u128) -> u128 {
        self.runs
            .iter()
            .map(|(&s, &e)| e.min(total).saturating_sub(s))
            .sum()
    }

    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut prev_end: Option<u128> = None;
        for (&s, &e) in &self.runs {
            assert!(s < e, "empty run {s}..{e}");
            if let Some(p) = prev_end {
                assert!(p < s, "runs touch or overlap at {p}/{s}");
            }
            prev_end = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RunSet;
    use alloc::collections::BTreeSet;
    use proptest::prelude::*;

    #[test]
    fn insert_merges_neighbours() {
        let mut r = RunSet::new();
        assert!(r.insert(5));
        assert!(r.insert(7));
        assert_eq!(r.run_count(), 2);
        assert!(r.insert(6));
        assert_eq!(r.run_count(), 1);
        assert!(!r.insert(6));
        assert_eq!(r.first_free_from(5, 10), Some(8));
        assert_eq!(r.first_free_from(9, 10), Some(9));
        assert!(r.remove(6));
        assert_eq!(r.run_count(), 2);
        assert_eq!(r.first_free_from(5, 10), Some(6));
        r.check_invariants();
    }

    #[test]
    fn wraps_and_reports_full() {
        let mut r = RunSet::new();
        r.insert_range(0, 10);
        assert_eq!(r.first_free_from(3, 10), None);
        r.remove(2);
        assert_eq!(r.first_free_from(3, 10), Some(2));
        assert_eq!(r.first_free_from(0, 0), None);
    }

    proptest! {
        #[test]
        fn matches_a_model(ops in proptest::collection::vec((0u8..4, 0u128..64, 0u128..8), 0..200), probe in 0u128..64) {
            let total = 64u128;
            let mut r = RunSet::new();
            let mut model = BTreeSet::new();
            for (op, i, len) in ops {
                match op {
                    0 | 1 => prop_assert_eq!(r.insert(i), model.insert(i)),
                    2 => prop_assert_eq!(r.remove(i), model.remove(&i)),
                    _ => {
                        let end = (i + len).min(total);
                        r.insert_range(i, end);
                        for j in i..end { model.insert(j); }
                    }
                }
                r.check_invariants();
            }
            for j in 0..total {
                prop_assert_eq!(r.contains(j), model.contains(&j));
            }
            prop_assert_eq!(r.len_below(total), model.len() as u128);
            let expected = (probe..total).chain(0..probe).find(|j| !model.contains(j));
            prop_assert_eq!(r.first_free_from(probe, total), expected);
            let expected = (probe..total).find(|j| !model.contains(j));
            prop_assert_eq!(r.first_free_at_or_after(probe, total), expected);
        }
    }
}

/// Indices per page of a [`PageSet`].
const PAGE_BITS: u32 = 6;
const PAGE: u128 = 1 << PAGE_BITS;

/// A set of indices in `0..total` stored as 64-index pages: a page with some but not all indices
/// set is one ordered-map entry holding a 64-bit bitmap; full pages are kept as maximal runs in a
/// [`RunSet`] (so long stretches of taken or excluded indices cost one entry); empty pages cost
/// nothing. Indices at and above `total` in the last page are permanently set, so a page is full
/// exactly when it has no usable free index.
///
/// "First free index at or after `i`" is the first clear bit of `i`'s page from `i` on, or else
/// the first clear bit of the next page that is not full (one run lookup): `O(log pages)`, and
/// one bitmap search in the common case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PageSet {
    total: u128,
    pages: PageMap,
    full: RunSet,
}

/// Partial pages by page number: 64-bit keys whenever the page numbers fit (every space of up
/// to 2^70 indices), which halves the key bytes the map searches and stores.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PageMap {
    Narrow(BTreeMap<u64, u64>),
    Wide(BTreeMap<u128, u64>),
}

impl PageMap {
    fn new(pages: u128) -> Self {
        // The largest page number is `pages - 1`.
        if u64::try_from(pages.saturating_sub(1)).is_ok() {
            Self::Narrow(BTreeMap::new())
        } else {
            Self::Wide(BTreeMap::new())
        }
    }

    // In the narrow variant every page number (below the page count) fits in a u64, so the
    // `as u64` conversions below are exact.
    fn get(&self, p: u128) -> Option<u64> {
        match self {
            Self::Narrow(m) => m.get(&(p as u64)).copied(),
            Self::Wide(m) => m.get(&p).copied(),
        }
    }

    fn or_insert_zero(&mut self, p: u128) -> &mut u64 {
        match self {
            Self::Narrow(m) => m.entry(p as u64).or_insert(0),
            Self::Wide(m) => m.entry(p).or_insert(0),
        }
    }

    /// Sets `bit` in page `p` with one search. `None` if it was already set, else whether the
    /// page became full (it is then removed from the map).
    fn set_bit(&mut self, p: u128, bit: u64) -> Option<bool> {
        match self {
            Self::Narrow(m) => set_bit_in(m.entry(p as u64), bit),
            Self::Wide(m) => set_bit_in(m.entry(p), bit),
        }
    }

    /// Clears `bit` in page `p` with one search; returns whether it was set. A page that becomes
    /// empty is removed.
    fn clear_bit(&mut self, p: u128, bit: u64) -> bool {
        match self {
            Self::Narrow(m) => clear_bit_in(m.entry(p as u64), bit),
            Self::Wide(m) => clear_bit_in(m.entry(p), bit),
        }
    }

    fn insert(&mut self, p: u128, bits: u64) {
        match self {
            Self::Narrow(m) => {
                m.insert(p as u64, bits);
            }
            Self::Wide(m) => {
                m.insert(p, bits);
            }
        }
    }

    fn remove(&mut self, p: u128) {
        match self {
            Self::Narrow(m) => {
                m.remove(&(p as u64));
            }
            Self::Wide(m) => {
                m.remove(&p);
            }
        }
    }

    /// Removes every page in `p0..p1`.
    fn remove_range(&mut self, p0: u128, p1: u128) {
        if p0 >= p1 {
            return;
        }
        match self {
            Self::Narrow(m) => {
                // `p1` may equal the page count (2^64 at most), so range up to `p1 - 1` inclusive.
                let (p0, last) = (p0 as u64, (p1 - 1) as u64);
                let inside: Vec<u64> = m.range(p0..=last).map(|(&p, _)| p).collect();
                for p in inside {
                    m.remove(&p);
                }
            }
            Self::Wide(m) => {
                let inside: Vec<u128> = m.range(p0..p1).map(|(&p, _)| p).collect();
                for p in inside {
                    m.remove(&p);
                }
            }
        }
    }

    #[cfg(test)]
    fn entries(&self) -> Vec<(u128, u64)> {
        match self {
            Self::Narrow(m) => m.iter().map(|(&p, &b)| (u128::from(p), b)).collect(),
            Self::Wide(m) => m.iter().map(|(&p, &b)| (p, b)).collect(),
        }
    }
}

fn set_bit_in<K: Ord>(entry: Entry<'_, K, u64>, bit: u64) -> Option<bool> {
    match entry {
        Entry::Vacant(v) => {
            v.insert(bit);
            Some(bit == u64::MAX)
        }
        Entry::Occupied(mut o) => {
            let bits = o.get_mut();
            if *bits & bit != 0 {
                return None;
            }
            *bits |= bit;
            let full = *bits == u64::MAX;
            if full {
                o.remove();
            }
            Some(full)
        }
    }
}

fn clear_bit_in<K: Ord>(entry: Entry<'_, K, u64>, bit: u64) -> bool {
    match entry {
        Entry::Vacant(_) => false,
        Entry::Occupied(mut o) => {
            let bits = o.get_mut();
            if *bits & bit == 0 {
                return false;
            }
            *bits &= !bit;
            if *bits == 0 {
                o.remove();
            }
            true
        }
    }
}

/// The first clear bit of `bits` at or above `from` (`from < 64`).
fn first_clear_from(bits: u64, from: u32) -> Option<u32> {
    let free = !bits & (u64::MAX << from);
    (free != 0).then(|| free.trailing_zeros())
}

impl PageSet {
    pub(crate) fn new(total: u128) -> Self {
        let mut set = Self {
            total,
            pages: PageMap::new(total.div_ceil(PAGE)),
            full: RunSet::new(),
        };
        let tail = (total % PAGE) as u32;
        if tail != 0 {
            set.pages.insert(total >> PAGE_BITS, u64::MAX << tail);
        }
        set
    }

    fn page_count(&self) -> u128 {
        self.total.div_ceil(PAGE)
    }

    pub(crate) fn contains(&self, i: u128) -> bool {
        let p = i >> PAGE_BITS;
        if self.full.contains(p) {
            return true;
        }
        self.pages
            .get(p)
            .is_some_and(|bits| bits & (1 << (i as u32 & 63)) != 0)
    }

    /// Adds `i` (`i < total`); returns whether it was absent.
    pub(crate) fn insert(&mut self, i: u128) -> bool {
        let p = i >> PAGE_BITS;
        if self.full.contains(p) {
            return false;
        }
        match self.pages.set_bit(p, 1u64 << (i as u32 & 63)) {
            None => false,
            Some(full) => {
                if full {
                    self.full.insert(p);
                }
                true
            }
        }
    }

    /// Removes `i`; returns whether it was present.
    pub(crate) fn remove(&mut self, i: u128) -> bool {
        let p = i >> PAGE_BITS;
        let bit = 1u64 << (i as u32 & 63);
        if self.full.remove(p) {
            self.pages.insert(p, !bit);
            return true;
        }
        self.pages.clear_bit(p, bit)
    }

    /// Adds every index of `start..end` (`end <= total`).
    pub(crate) fn insert_range(&mut self, start: u128, end: u128) {
        let mut i = start;
        // Leading partial page.
        while i < end && !i.is_multiple_of(PAGE) {
            self.insert(i);
            i += 1;
        }
        let whole_end = end - end % PAGE;
        if i < whole_end {
            let (p0, p1) = (i >> PAGE_BITS, whole_end >> PAGE_BITS);
            self.pages.remove_range(p0, p1);
            self.full.insert_range(p0, p1);
            i = whole_end;
        }
        while i < end {
            self.insert(i);
            i += 1;
        }
    }

    fn page_bits(&self, p: u128) -> u64 {
        self.pages.get(p).unwrap_or(0)
    }

    /// The first clear index of a page that is known not to be full.
    fn first_in_open_page(&self, p: u128) -> u128 {
        let bit = first_clear_from(self.page_bits(p), 0).unwrap_or(0);
        (p << PAGE_BITS) | u128::from(bit)
    }

    /// The first index in `from..total`, then wrapping to `0..from`, that is not in the set.
    pub(crate) fn first_free_from(&self, from: u128) -> Option<u128> {
        let pages = self.page_count();
        if pages == 0 {
            return None;
        }
        let from = if from >= self.total { 0 } else { from };
        let p = from >> PAGE_BITS;
        if !self.full.contains(p)
            && let Some(bit) = first_clear_from(self.page_bits(p), from as u32 & 63)
        {
            return Some((p << PAGE_BITS) | u128::from(bit));
        }
        // `p` itself may be found again after wrapping; then its free index lies below `from`.
        let next = if p + 1 >= pages { 0 } else { p + 1 };
        let q = self.full.first_free_from(next, pages)?;
        Some(self.first_in_open_page(q))
    }

    /// Takes the first free index from `from` (as [`first_free_from`](Self::first_free_from))
    /// and adds it, with a single map search in the common case.
    pub(crate) fn take_first_free_from(&mut self, from: u128) -> Option<u128> {
        let from = if from >= self.total { 0 } else { from };
        let p = from >> PAGE_BITS;
        if self.total > 0 && !self.full.contains(p) {
            let bits = self.pages.or_insert_zero(p);
            if let Some(bit) = first_clear_from(*bits, from as u32 & 63) {
                *bits |= 1 << bit;
                if *bits == u64::MAX {
                    self.pages.remove(p);
                    self.full.insert(p);
                }
                return Some((p << PAGE_BITS) | u128::from(bit));
            }
        }
        let i = self.first_free_from(from)?;
        self.insert(i);
        Some(i)
    }

    /// The first index `>= from` (no wrapping) not in the set.
    pub(crate) fn first_free_at_or_after(&self, from: u128) -> Option<u128> {
        if from >= self.total {
            return None;
        }
        let p = from >> PAGE_BITS;
        if !self.full.contains(p)
            && let Some(bit) = first_clear_from(self.page_bits(p), from as u32 & 63)
        {
            return Some((p << PAGE_BITS) | u128::from(bit));
        }
        let q = self.full.first_free_at_or_after(p + 1, self.page_count())?;
        Some(self.first_in_open_page(q))
    }

    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        self.full.check_invariants();
        for (p, bits) in self.pages.entries() {
            assert!(
                bits != 0 && bits != u64::MAX,
                "page {p} stored as {bits:#x}"
            );
            assert!(!self.full.contains(p), "page {p} both partial and full");
        }
    }
}

#[cfg(test)]
mod page_tests {
    use super::{PageMap, PageSet};
    use alloc::collections::BTreeSet;
    use proptest::prelude::*;

    #[test]
    fn wide_page_numbers() {
        let total = u128::MAX - 5;
        let mut r = PageSet::new(total);
        assert!(matches!(r.pages, PageMap::Wide(_)));
        let high = total - 1;
        assert_eq!(r.first_free_from(high), Some(high));
        assert!(r.insert(high));
        // Wraps to the start of the space.
        assert_eq!(r.first_free_from(high), Some(0));
        r.insert_range(0, 1 << 100);
        assert_eq!(r.take_first_free_from(high), Some(1 << 100));
        assert!(r.contains(1 << 100) && r.contains(5) && !r.contains((1 << 100) + 1));
        assert!(r.remove(5));
        assert_eq!(r.first_free_at_or_after(0), Some(5));
        r.check_invariants();
        assert!(matches!(PageSet::new(1 << 70).pages, PageMap::Narrow(_)));
        assert!(matches!(
            PageSet::new((1 << 70) + 1).pages,
            PageMap::Wide(_)
        ));
    }

    proptest! {
        #[test]
        fn matches_a_model(total in 0u128..300, ops in proptest::collection::vec((0u8..5, 0u128..300, 0u128..150), 0..300), probe in 0u128..300) {
            let mut r = PageSet::new(total);
            let mut model = BTreeSet::new();
            for (op, i, len) in ops {
                if total == 0 { break; }
                let i = i % total;
                match op {
                    0 => prop_assert_eq!(r.insert(i), model.insert(i)),
                    1 => prop_assert_eq!(r.remove(i), model.remove(&i)),
                    2 => {
                        let got = r.take_first_free_from(i);
                        let expected = (i..total).chain(0..i).find(|j| !model.contains(j));
                        prop_assert_eq!(got, expected);
                        if let Some(j) = expected { model.insert(j); }
                    }
                    _ => {
                        let end = (i + len).min(total);
                        r.insert_range(i, end);
                        for j in i..end { model.insert(j); }
                    }
                }
                r.check_invariants();
            }
            for j in 0..total {
                prop_assert_eq!(r.contains(j), model.contains(&j));
            }
            let probe = if total == 0 { 0 } else { probe % total };
            let expected = (probe..total).chain(0..probe).find(|j| !model.contains(j));
            prop_assert_eq!(r.first_free_from(probe), expected);
            let expected = (probe..total).find(|j| !model.contains(j));
            prop_assert_eq!(r.first_free_at_or_after(probe), expected);
        }
    }
}
