//! A set of `u128` indices stored as maximal runs, with "first index not in the set" lookups.

use alloc::collections::BTreeMap;

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
        if let Some((&s, &e)) = self.runs.range(..=start).next_back() {
            if e >= start {
                new_start = s;
                new_end = new_end.max(e);
            }
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
