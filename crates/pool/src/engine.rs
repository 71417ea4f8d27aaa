//! The pool engine shared by address and prefix pools: resources are `u128` numbers (an address,
//! or a delegated prefix's number), split between the sides by a block rule, allocated through
//! per-side index spaces.
//!
//! # Method
//!
//! For each side, the resources it owns by the split rule are numbered densely: block by block
//! over the blocks that intersect the pool, `per_block(side)` indices per block, in position order.
//! Mapping an index to a resource and back is `O(log segments)` arithmetic (a binary search over
//! the runs of consecutive blocks, then the block rule's bijection), so nothing is materialised.
//! Indices that are not allocatable — outside the ranges or excluded (fixed at construction, at
//! most two partial blocks per hole plus one run per hole), taken, reserved, abandoned, or moved
//! to the partner — form a [`PageSet`]: 64-index pages, a partially used page being one entry of
//! an ordered map holding a 64-bit bitmap and runs of full pages one entry of a run map. An
//! allocation hashes the client to a start index and takes the first index not in the set at or
//! after it (wrapping): the first clear bit of the start page, or else the first clear bit of the
//! next page that is not full, found by one lookup in the run map because runs are maximal. That
//! is `O(log leases)` at any fill level and any pool size, with no probing sequence whose length
//! grows with the fill, and memory is one map entry per partially used page or run of full pages,
//! bounded by the number of leases plus the configuration.
//!
//! Resources moved to the partner by rebalancing stay marked in their rule owner's index space
//! and are tracked in an ordered override map; the new owner keeps its free moved-in resources in
//! an ordered set and uses them once its own index space is exhausted.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::hash::{Fnv1a, scale};
use crate::runs::PageSet;
use crate::split::{Split, SplitRule};
use crate::{ConfigError, PoolError, Side, Status};

/// Most ranges (and, separately, most excluded ranges) a pool accepts.
pub(crate) const MAX_RANGES: usize = 4096;

/// A run of consecutive blocks that intersect the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seg {
    first_block: u128,
    blocks: u128,
    /// Blocks in the segments before this one.
    cum: u128,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Space {
    per_block: u32,
    first_pos: u32,
    /// Indices in the space (`blocks * per_block`).
    total: u128,
    /// Unavailable indices.
    runs: PageSet,
    /// Free resources owned by this side through a transfer (rule owner is the partner).
    moved_in_free: BTreeSet<u128>,
    /// Resources this side owns now (rule share minus holes, plus/minus transfers).
    owned: u128,
    /// Owned resources that are taken, reserved or abandoned.
    unavailable: u128,
}

/// See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Engine {
    rule: SplitRule,
    split: Split,
    /// Allocatable resources (ranges minus excluded): sorted, disjoint, non-adjacent, inclusive.
    members: Vec<(u128, u128)>,
    /// Configured ranges, normalised (sorted, merged), inclusive.
    ranges: Vec<(u128, u128)>,
    segs: Vec<Seg>,
    spaces: [Space; 2],
    /// Reserved and abandoned resources (taken ones are implied by the run sets).
    special: BTreeMap<u128, Status>,
    /// Configured reservations: freeing one returns it to `Reserved`.
    reserved_cfg: BTreeSet<u128>,
    /// Current owner of resources whose owner differs from the rule.
    overrides: BTreeMap<u128, Side>,
    seed: u64,
}

/// Sorts and merges inclusive intervals (overlapping or adjacent).
pub(crate) fn normalise(mut v: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    v.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        if let Some(last) = out.last_mut()
            && (last.1 == u128::MAX || lo <= last.1 + 1)
        {
            last.1 = last.1.max(hi);
            continue;
        }
        out.push((lo, hi));
    }
    out
}

/// `a` minus `b`, both normalised; the result is normalised.
fn subtract(a: &[(u128, u128)], b: &[(u128, u128)]) -> Vec<(u128, u128)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(lo, hi) in a {
        let mut cur = lo;
        let mut done = false;
        while j < b.len() && b[j].1 < cur {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 <= hi {
            let (blo, bhi) = b[k];
            if blo > cur {
                out.push((cur, blo - 1));
            }
            if bhi >= hi {
                done = true;
                break;
            }
            cur = cur.max(bhi + 1);
            k += 1;
        }
        if !done {
            out.push((cur, hi));
        }
    }
    out
}

impl Engine {
    pub(crate) fn new(
        ranges: Vec<(u128, u128)>,
        excluded: Vec<(u128, u128)>,
        reserved: &[u128],
        rule: SplitRule,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        if ranges.len() > MAX_RANGES {
            return Err(ConfigError::TooManyRanges {
                list: "ranges",
                count: ranges.len(),
                max: MAX_RANGES,
            });
        }
        if excluded.len() > MAX_RANGES {
            return Err(ConfigError::TooManyRanges {
                list: "excluded",
                count: excluded.len(),
                max: MAX_RANGES,
            });
        }
        let split = Split::from_rule(rule);
        let ranges = normalise(ranges);
        let excluded = normalise(excluded);
        let members = subtract(&ranges, &excluded);
        if members.is_empty() {
            return Err(ConfigError::Empty);
        }

        // Segments: maximal runs of consecutive blocks that intersect a member interval.
        let mut segs: Vec<Seg> = Vec::new();
        let mut cum: u128 = 0;
        for &(lo, hi) in &members {
            let (b0, b1) = (lo >> split.bits, hi >> split.bits);
            if let Some(last) = segs.last_mut() {
                let last_block = last.first_block + (last.blocks - 1);
                if b0 <= last_block + 1 {
                    if b1 > last_block {
                        let extra = b1 - last_block;
                        last.blocks += extra;
                        cum = cum.checked_add(extra).ok_or(ConfigError::TooLarge)?;
                    }
                    continue;
                }
            }
            let blocks = b1 - b0 + 1;
            segs.push(Seg {
                first_block: b0,
                blocks,
                cum,
            });
            cum = cum.checked_add(blocks).ok_or(ConfigError::TooLarge)?;
        }
        let total_blocks = cum;

        let mut spaces = Side::BOTH.map(|side| Space {
            per_block: split.per_block(side),
            first_pos: split.first_position(side),
            total: 0,
            runs: PageSet::new(0),
            moved_in_free: BTreeSet::new(),
            owned: 0,
            unavailable: 0,
        });
        for space in &mut spaces {
            space.total = total_blocks
                .checked_mul(u128::from(space.per_block))
                .ok_or(ConfigError::TooLarge)?;
            space.owned = space.total;
            space.runs = PageSet::new(space.total);
        }

        let mut engine = Self {
            rule,
            split,
            members,
            ranges,
            segs,
            spaces,
            special: BTreeMap::new(),
            reserved_cfg: BTreeSet::new(),
            overrides: BTreeMap::new(),
            seed,
        };
        engine.mark_holes();
        for &r in reserved {
            if engine.check(r).is_err() {
                return Err(ConfigError::ReservedOutsidePool { resource: r });
            }
            engine.reserved_cfg.insert(r);
            engine.set_status_unchecked(r, Status::Reserved);
        }
        Ok(engine)
    }

    /// Marks every index whose resource is in a covered block but not a member.
    fn mark_holes(&mut self) {
        let mask = u128::from(self.split.block_size() - 1);
        let mut holes: Vec<(u128, u128)> = Vec::new();
        let mut m = 0;
        for seg in &self.segs {
            let span_lo = seg.first_block << self.split.bits;
            let span_hi = ((seg.first_block + (seg.blocks - 1)) << self.split.bits) | mask;
            let mut cur = Some(span_lo);
            while m < self.members.len() && self.members[m].0 <= span_hi {
                let (lo, hi) = self.members[m];
                if let Some(c) = cur
                    && lo > c
                {
                    holes.push((c, lo - 1));
                }
                cur = hi.checked_add(1).filter(|&n| n <= span_hi);
                m += 1;
            }
            if let Some(c) = cur {
                holes.push((c, span_hi));
            }
        }
        for (a, b) in holes {
            self.mark_hole(a, b, mask);
        }
    }

    fn mark_hole(&mut self, a: u128, b: u128, mask: u128) {
        let bits = self.split.bits;
        let (ba, bb) = (a >> bits, b >> bits);
        // Whole blocks: ba if a is aligned, up to bb if b ends its block.
        let first_full = if a & mask == 0 {
            Some(ba)
        } else {
            ba.checked_add(1)
        };
        let last_full = if b & mask == mask {
            Some(bb)
        } else {
            bb.checked_sub(1)
        };
        match (first_full, last_full) {
            (Some(f), Some(l)) if f <= l => {
                let seg = self.seg_of_block(f);
                let ord0 = seg.cum + (f - seg.first_block);
                let ord1 = ord0 + (l - f) + 1;
                for space in &mut self.spaces {
                    let pb = u128::from(space.per_block);
                    space.runs.insert_range(ord0 * pb, ord1 * pb);
                    space.owned -= (ord1 - ord0) * pb;
                }
                if a & mask != 0 {
                    self.mark_positions(a, (ba << bits) | mask);
                }
                if b & mask != mask {
                    self.mark_positions(bb << bits, b);
                }
            }
            _ => {
                // No whole block: the hole lies in one block or straddles two partial ones.
                if ba == bb {
                    self.mark_positions(a, b);
                } else {
                    self.mark_positions(a, (ba << bits) | mask);
                    self.mark_positions(bb << bits, b);
                }
            }
        }
    }

    /// Marks the individual resources `a..=b` (fewer than one block) as holes.
    fn mark_positions(&mut self, a: u128, b: u128) {
        let mut x = a;
        loop {
            let (side, idx) = self.index_of(x);
            let space = &mut self.spaces[side.index()];
            if space.runs.insert(idx) {
                space.owned -= 1;
            }
            if x == b {
                break;
            }
            x += 1;
        }
    }

    fn seg_of_block(&self, block: u128) -> Seg {
        let i = self.segs.partition_point(|s| s.first_block <= block);
        // Every resource passed here lies in a covered block, so `i >= 1`.
        self.segs[i.saturating_sub(1)]
    }

    /// The rule owner of `x` (a resource in a covered block) and its index in that side's space.
    fn index_of(&self, x: u128) -> (Side, u128) {
        let block = x >> self.split.bits;
        let seg = self.seg_of_block(block);
        let v = self.split.position(x);
        let side = self.split.owner_of_position(v);
        let space = &self.spaces[side.index()];
        let ordinal = seg.cum + (block - seg.first_block);
        (
            side,
            ordinal * u128::from(space.per_block) + u128::from(v - space.first_pos),
        )
    }

    /// The resource at index `idx` of `side`'s space (`idx < total`).
    fn resource_of(&self, side: Side, idx: u128) -> u128 {
        let space = &self.spaces[side.index()];
        let (ordinal, rem) = divmod(idx, space.per_block);
        let i = self.segs.partition_point(|s| s.cum <= ordinal);
        let seg = self.segs[i.saturating_sub(1)];
        let block = seg.first_block + (ordinal - seg.cum);
        self.split.resource(block, rem + space.first_pos)
    }

    /// `Ok` if `x` is an allocatable member of the pool.
    pub(crate) fn check(&self, x: u128) -> Result<(), PoolError> {
        let i = self.members.partition_point(|&(lo, _)| lo <= x);
        if i > 0 && self.members[i - 1].1 >= x {
            return Ok(());
        }
        let i = self.ranges.partition_point(|&(lo, _)| lo <= x);
        if i > 0 && self.ranges[i - 1].1 >= x {
            Err(PoolError::Excluded { resource: x })
        } else {
            Err(PoolError::NotInPool { resource: x })
        }
    }

    pub(crate) fn rule(&self) -> SplitRule {
        self.rule
    }

    pub(crate) fn members(&self) -> &[(u128, u128)] {
        &self.members
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Current owner of a member resource.
    pub(crate) fn owner_unchecked(&self, x: u128) -> Side {
        match self.overrides.get(&x) {
            Some(&side) => side,
            None => self.split.owner(x),
        }
    }

    pub(crate) fn owner(&self, x: u128) -> Result<Side, PoolError> {
        self.check(x)?;
        Ok(self.owner_unchecked(x))
    }

    pub(crate) fn is_overridden(&self, x: u128) -> bool {
        self.overrides.contains_key(&x)
    }

    fn status_unchecked(&self, x: u128) -> Status {
        let free = match self.overrides.get(&x) {
            Some(&side) => self.spaces[side.index()].moved_in_free.contains(&x),
            None => {
                let (side, idx) = self.index_of(x);
                !self.spaces[side.index()].runs.contains(idx)
            }
        };
        if free {
            Status::Free
        } else {
            self.special.get(&x).copied().unwrap_or(Status::Taken)
        }
    }

    pub(crate) fn status(&self, x: u128) -> Result<Status, PoolError> {
        self.check(x)?;
        Ok(self.status_unchecked(x))
    }

    /// Sets the status of a member resource; returns the previous one. One index search for
    /// the free/unavailable bit in the common case.
    fn set_status_unchecked(&mut self, x: u128, new: Status) -> Status {
        let to_free = new == Status::Free;
        let (owner, was_free) = match self.overrides.get(&x).copied() {
            Some(owner) => {
                let set = &mut self.spaces[owner.index()].moved_in_free;
                let was_free = if to_free {
                    !set.insert(x)
                } else {
                    set.remove(&x)
                };
                (owner, was_free)
            }
            None => {
                let (owner, idx) = self.index_of(x);
                let runs = &mut self.spaces[owner.index()].runs;
                let was_free = if to_free {
                    !runs.remove(idx)
                } else {
                    runs.insert(idx)
                };
                (owner, was_free)
            }
        };
        let prev = if was_free {
            Status::Free
        } else {
            self.special.get(&x).copied().unwrap_or(Status::Taken)
        };
        let space = &mut self.spaces[owner.index()];
        match (was_free, to_free) {
            (true, false) => space.unavailable += 1,
            (false, true) => space.unavailable -= 1,
            _ => {}
        }
        match new {
            Status::Reserved | Status::Abandoned => {
                self.special.insert(x, new);
            }
            Status::Free | Status::Taken => {
                if !self.special.is_empty() {
                    self.special.remove(&x);
                }
            }
        }
        prev
    }

    pub(crate) fn set_status(&mut self, x: u128, new: Status) -> Result<Status, PoolError> {
        self.check(x)?;
        Ok(self.set_status_unchecked(x, new))
    }

    /// Frees `x`, or returns it to `Reserved` if it is a configured reservation.
    pub(crate) fn free(&mut self, x: u128) -> Result<Status, PoolError> {
        self.check(x)?;
        let to = if self.reserved_cfg.contains(&x) {
            Status::Reserved
        } else {
            Status::Free
        };
        Ok(self.set_status_unchecked(x, to))
    }

    /// Takes a free resource owned by `side`, starting the search at the client's hash `h`.
    pub(crate) fn allocate(&mut self, side: Side, h: u128) -> Option<u128> {
        let space = &self.spaces[side.index()];
        if space.total > 0 {
            let start = scale(h, space.total);
            let space = &mut self.spaces[side.index()];
            if let Some(idx) = space.runs.take_first_free_from(start) {
                space.unavailable += 1;
                return Some(self.resource_of(side, idx));
            }
        }
        // The rule share is exhausted: use resources moved in from the partner.
        let lo = self.members.first().map_or(0, |m| m.0);
        let hi = self.members.last().map_or(0, |m| m.1);
        let key = lo + scale(h, hi - lo);
        let space = &mut self.spaces[side.index()];
        let x = space
            .moved_in_free
            .range(key..)
            .next()
            .or_else(|| space.moved_in_free.first())
            .copied()?;
        space.moved_in_free.remove(&x);
        space.unavailable += 1;
        Some(x)
    }

    /// Moves a free resource to `to`. Returns whether the owner changed.
    pub(crate) fn transfer(&mut self, x: u128, to: Side) -> Result<bool, PoolError> {
        self.check(x)?;
        let status = self.status_unchecked(x);
        if status != Status::Free {
            return Err(PoolError::NotFree {
                resource: x,
                status,
            });
        }
        let from = self.owner_unchecked(x);
        if from == to {
            return Ok(false);
        }
        let (rule_owner, idx) = self.index_of(x);
        if from == rule_owner {
            self.spaces[rule_owner.index()].runs.insert(idx);
            self.overrides.insert(x, to);
            self.spaces[to.index()].moved_in_free.insert(x);
        } else {
            self.spaces[from.index()].moved_in_free.remove(&x);
            self.overrides.remove(&x);
            self.spaces[rule_owner.index()].runs.remove(idx);
        }
        self.spaces[from.index()].owned -= 1;
        self.spaces[to.index()].owned += 1;
        Ok(true)
    }

    pub(crate) fn owned_count(&self, side: Side) -> u128 {
        self.spaces[side.index()].owned
    }

    pub(crate) fn free_count(&self, side: Side) -> u128 {
        let space = &self.spaces[side.index()];
        space.owned - space.unavailable
    }

    /// Up to `max` free resources owned by `side`, deterministic: first those moved in from the
    /// partner (in ascending order), then the side's rule share in index order.
    pub(crate) fn free_resources(&self, side: Side, max: usize) -> Vec<u128> {
        let space = &self.spaces[side.index()];
        let mut out: Vec<u128> = space.moved_in_free.iter().take(max).copied().collect();
        let mut idx = 0u128;
        while out.len() < max {
            let Some(free) = space.runs.first_free_at_or_after(idx) else {
                break;
            };
            out.push(self.resource_of(side, free));
            idx = free + 1;
        }
        out
    }

    /// Number of resources that are not free (taken, reserved or abandoned), both sides.
    pub(crate) fn unavailable_count(&self) -> u128 {
        self.spaces[0].unavailable + self.spaces[1].unavailable
    }

    /// Number of ownership overrides (resources moved away from their rule owner).
    pub(crate) fn transferred_count(&self) -> usize {
        self.overrides.len()
    }

    /// 64-bit FNV-1a fingerprint of the ownership-relevant configuration (see the crate docs).
    pub(crate) fn fingerprint(&self, kind: u8, delegated_len: u8) -> u64 {
        let mut h = Fnv1a::new();
        h.write(b"dhcpv6-pool fingerprint v1");
        h.write(&[kind, delegated_len, self.rule.tag()]);
        h.write(&self.rule.secondary_share().basis_points().to_be_bytes());
        h.write(&(self.members.len() as u64).to_be_bytes());
        for &(lo, hi) in &self.members {
            h.write(&lo.to_be_bytes());
            h.write(&hi.to_be_bytes());
        }
        h.finish()
    }

    /// Checks the internal bookkeeping against a full recomputation. `O(pool)`: tests only.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn check_invariants(&self) {
        for side in Side::BOTH {
            let space = &self.spaces[side.index()];
            assert!(
                space.owned >= space.unavailable,
                "{side}: unavailable above owned"
            );
            for &x in &space.moved_in_free {
                assert_eq!(self.overrides.get(&x), Some(&side));
            }
        }
        for (&x, &side) in &self.overrides {
            assert_ne!(
                self.split.owner(x),
                side,
                "override equal to the rule owner"
            );
            let (rule_owner, idx) = self.index_of(x);
            assert!(self.spaces[rule_owner.index()].runs.contains(idx));
        }
        for (&x, &status) in &self.special {
            assert!(matches!(status, Status::Reserved | Status::Abandoned));
            assert_eq!(self.status_unchecked(x), status);
        }
    }
}

/// `(n / d, n % d)` with a fast path for powers of two and 64-bit values.
fn divmod(n: u128, d: u32) -> (u128, u32) {
    if d.is_power_of_two() {
        let shift = d.trailing_zeros();
        (n >> shift, (n as u32) & (d - 1))
    } else if let Ok(n64) = u64::try_from(n) {
        let d64 = u64::from(d);
        (u128::from(n64 / d64), (n64 % d64) as u32)
    } else {
        let d128 = u128::from(d);
        (n / d128, (n % d128) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn subtract_intervals() {
        assert_eq!(subtract(&[(0, 10)], &[(3, 4)]), vec![(0, 2), (5, 10)]);
        assert_eq!(subtract(&[(0, 10)], &[(0, 10)]), vec![]);
        assert_eq!(
            subtract(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(0, 4), (26, 30)]
        );
        assert_eq!(
            subtract(&[(0, u128::MAX)], &[(u128::MAX, u128::MAX)]),
            vec![(0, u128::MAX - 1)]
        );
        assert_eq!(
            normalise(vec![(5, 9), (0, 4), (20, 30), (25, 26)]),
            vec![(0, 9), (20, 30)]
        );
    }

    #[test]
    fn index_mapping_round_trips() {
        for rule in [
            SplitRule::LowestBit,
            SplitRule::HASH_HALF,
            SplitRule::Hash {
                secondary_share: crate::Proportion::from_percent(30).unwrap(),
            },
        ] {
            let e = Engine::new(
                vec![(1000, 5000), (9000, 9100)],
                vec![(2000, 2500)],
                &[],
                rule,
                0,
            )
            .unwrap();
            for x in (1000..=5000).chain(9000..=9100) {
                if (2000..=2500).contains(&x) {
                    assert_eq!(e.check(x), Err(PoolError::Excluded { resource: x }));
                    continue;
                }
                let (side, idx) = e.index_of(x);
                assert_eq!(side, rule.owner(x));
                assert_eq!(e.resource_of(side, idx), x);
                assert!(!e.spaces[side.index()].runs.contains(idx), "{x}");
            }
            assert_eq!(e.check(999), Err(PoolError::NotInPool { resource: 999 }));
            let members = (5000 - 1000 + 1) - 501 + 101;
            assert_eq!(
                e.owned_count(Side::Primary) + e.owned_count(Side::Secondary),
                members
            );
        }
    }

    #[test]
    fn whole_space_pool() {
        let e = Engine::new(vec![(0, u128::MAX)], vec![], &[], SplitRule::LowestBit, 0).unwrap();
        assert_eq!(e.owned_count(Side::Primary), 1 << 127);
        assert!(
            Engine::new(
                vec![(0, u128::MAX)],
                vec![],
                &[],
                SplitRule::Hash {
                    secondary_share: crate::Proportion::ZERO
                },
                0
            )
            .is_err()
        );
    }
}
