//! Delegable-prefix pools (proportional allocation) and the rebalancing arithmetic.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use crate::engine::Engine;
use crate::hash::client_hash;
use crate::types::mask;
use crate::{
    Allocator, ClientKey, ConfigError, PoolError, Prefix, Proportion, Side, SplitRule, Status,
};

/// Configuration of a [`PrefixPool`]. Both partners must use the same `delegable`, `excluded`,
/// `delegated_len` and `rule` (compare [`PrefixPool::fingerprint`]); `seed` should match too.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrefixPoolConfig {
    /// Delegable prefixes, each carved into prefixes of `delegated_len`.
    pub delegable: Vec<Prefix>,
    /// Length of every delegated prefix (RFC 8156 CONNECT_FLAGS.F "fixed length" mode).
    pub delegated_len: u8,
    /// Prefixes never delegated: every delegated prefix overlapping one of them is excluded.
    pub excluded: Vec<Prefix>,
    /// Delegated prefixes held back from automatic allocation (length `delegated_len`).
    pub reserved: Vec<Prefix>,
    /// Initial split; [`SplitRule::Hash`] carries the configured proportion.
    pub rule: SplitRule,
    /// Seed of the client-to-candidate hash.
    pub seed: u64,
}

impl PrefixPoolConfig {
    /// One delegable prefix carved into `/delegated_len`s, split by hash in half, seed 0.
    #[must_use]
    pub fn new(delegable: Prefix, delegated_len: u8) -> Self {
        Self {
            delegable: alloc::vec![delegable],
            delegated_len,
            excluded: Vec::new(),
            reserved: Vec::new(),
            rule: SplitRule::HASH_HALF,
            seed: 0,
        }
    }

    /// Sets the split rule.
    #[must_use]
    pub fn with_rule(mut self, rule: SplitRule) -> Self {
        self.rule = rule;
        self
    }

    /// Sets the secondary's share of the hash split (`SplitRule::Hash { secondary_share }`).
    #[must_use]
    pub fn with_secondary_share(mut self, secondary_share: Proportion) -> Self {
        self.rule = SplitRule::Hash { secondary_share };
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Adds an excluded prefix.
    #[must_use]
    pub fn exclude(mut self, prefix: Prefix) -> Self {
        self.excluded.push(prefix);
        self
    }

    /// Adds a reserved delegated prefix.
    #[must_use]
    pub fn reserve(mut self, prefix: Prefix) -> Self {
        self.reserved.push(prefix);
        self
    }
}

/// A pool of delegated prefixes of one fixed length, carved from delegable prefixes and shared
/// between the partners in a configured proportion that rebalancing moves over time.
///
/// Resources are numbered by `prefix >> (128 - delegated_len)`. Ownership starts as the rule's
/// split (both partners agree before any message) and changes only through
/// [`transfer`](Self::transfer), which never moves a bound prefix.
///
/// Invariants (each has a property test in `tests/`):
/// - every delegated prefix of the pool has exactly one owner, and both partners compute the
///   same owner as long as they apply the same transfers;
/// - [`allocate`](Self::allocate) returns only a free, non-excluded prefix owned by the side
///   asked for, and marks it taken;
/// - [`plan_rebalance`](Self::plan_rebalance) followed by
///   [`apply_rebalance`](Self::apply_rebalance) leaves a pool for which `plan_rebalance` returns
///   `None` (no oscillation), and moves only free prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixPool {
    engine: Engine,
    delegated_len: u8,
}

const KIND_PREFIX: u8 = 1;

impl PrefixPool {
    /// Builds the pool.
    pub fn new(config: &PrefixPoolConfig) -> Result<Self, ConfigError> {
        let d = config.delegated_len;
        if d > 128 {
            return Err(ConfigError::PrefixLength { len: d });
        }
        let mut ranges = Vec::with_capacity(config.delegable.len());
        for &p in &config.delegable {
            if p.len() > d {
                return Err(ConfigError::DelegatedLength {
                    prefix: p,
                    delegated_len: d,
                });
            }
            ranges.push(Self::number_range(p, d));
        }
        let excluded = config
            .excluded
            .iter()
            .map(|&p| Self::number_range(p, d))
            .collect();
        let mut reserved = Vec::with_capacity(config.reserved.len());
        for &p in &config.reserved {
            if p.len() != d {
                return Err(ConfigError::ReservedLength {
                    prefix: p,
                    delegated_len: d,
                });
            }
            reserved.push(number_of(p.addr(), d));
        }
        Ok(Self {
            engine: Engine::new(ranges, excluded, &reserved, config.rule, config.seed)?,
            delegated_len: d,
        })
    }

    /// The numbers of the delegated prefixes (of length `d`) overlapping `p`.
    fn number_range(p: Prefix, d: u8) -> (u128, u128) {
        let first = number_of(p.addr(), d);
        if p.len() >= d {
            (first, first)
        } else {
            let count_bits = u32::from(d - p.len());
            // `count_bits <= 128`; `d - len == 128` only for `::/0` carved into /128s.
            let span = if count_bits >= 128 {
                u128::MAX
            } else {
                (1u128 << count_bits) - 1
            };
            (first, first + span)
        }
    }

    fn prefix_of(&self, n: u128) -> Prefix {
        let d = self.delegated_len;
        let addr = if d == 0 { 0 } else { n << (128 - u32::from(d)) };
        Prefix::new_truncating(Ipv6Addr::from_bits(addr), d)
            .unwrap_or_else(|_| unreachable!("the delegated length is validated"))
    }

    fn number(&self, prefix: Prefix) -> Result<u128, PoolError> {
        if prefix.len() != self.delegated_len {
            return Err(PoolError::WrongLength {
                prefix,
                delegated_len: self.delegated_len,
            });
        }
        Ok(number_of(prefix.addr(), self.delegated_len))
    }

    /// The delegated prefix length.
    #[must_use]
    pub fn delegated_len(&self) -> u8 {
        self.delegated_len
    }

    /// The split rule of the initial split.
    #[must_use]
    pub fn rule(&self) -> SplitRule {
        self.engine.rule()
    }

    /// Stable 64-bit fingerprint of the ownership-relevant configuration (delegated length,
    /// allocatable prefix numbers, rule, proportion). Transfers do not change it.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.engine.fingerprint(KIND_PREFIX, self.delegated_len)
    }

    /// Picks a free prefix owned by `from` for `client`, marks it taken and returns it.
    /// `O(log leases)`; see [`AddressPool::allocate`](crate::AddressPool::allocate).
    pub fn allocate(&mut self, from: Side, client: ClientKey<'_>) -> Option<Prefix> {
        let h = client_hash(self.engine.seed(), client.duid, client.iaid);
        let n = self.engine.allocate(from, h)?;
        Some(self.prefix_of(n))
    }

    /// Whether `prefix` is an allocatable member of the pool (right length, inside a delegable
    /// prefix, not excluded).
    #[must_use]
    pub fn contains(&self, prefix: Prefix) -> bool {
        self.number(prefix)
            .is_ok_and(|n| self.engine.check(n).is_ok())
    }

    /// The side that currently owns `prefix`.
    pub fn owner_of(&self, prefix: Prefix) -> Result<Side, PoolError> {
        self.engine.owner(self.number(prefix)?)
    }

    /// Whether `prefix` is currently owned by the other side than the rule says (it was moved
    /// by a transfer).
    pub fn is_transferred(&self, prefix: Prefix) -> Result<bool, PoolError> {
        let n = self.number(prefix)?;
        self.engine.check(n)?;
        Ok(self.engine.is_overridden(n))
    }

    /// The status of `prefix`.
    pub fn status(&self, prefix: Prefix) -> Result<Status, PoolError> {
        self.engine.status(self.number(prefix)?)
    }

    /// Sets the status of `prefix`; returns the previous status.
    pub fn set_status(&mut self, prefix: Prefix, status: Status) -> Result<Status, PoolError> {
        let n = self.number(prefix)?;
        self.engine.set_status(n, status)
    }

    /// Marks `prefix` taken (a binding from the partner or from storage). Returns the previous
    /// status.
    pub fn mark_taken(&mut self, prefix: Prefix) -> Result<Status, PoolError> {
        self.set_status(prefix, Status::Taken)
    }

    /// Returns `prefix` to its current owner's free share (or to `Reserved` if configured so).
    /// Ownership is unchanged: to return it to the primary as RFC 8156 does for prefixes that
    /// come back, follow with [`transfer`](Self::transfer)`(prefix, Side::Primary)`.
    pub fn free(&mut self, prefix: Prefix) -> Result<Status, PoolError> {
        let n = self.number(prefix)?;
        self.engine.free(n)
    }

    /// Holds `prefix` back from automatic allocation. Returns the previous status.
    pub fn reserve(&mut self, prefix: Prefix) -> Result<Status, PoolError> {
        self.set_status(prefix, Status::Reserved)
    }

    /// Marks `prefix` abandoned. Returns the previous status.
    pub fn mark_abandoned(&mut self, prefix: Prefix) -> Result<Status, PoolError> {
        self.set_status(prefix, Status::Abandoned)
    }

    /// Gives a free `prefix` to `to`. Returns whether its owner changed. Fails with
    /// [`PoolError::NotFree`] if it is taken, reserved or abandoned: a bound prefix never moves
    /// (RFC 8156: the secondary rejects a FREE BNDUPD for a prefix it has delegated).
    pub fn transfer(&mut self, prefix: Prefix, to: Side) -> Result<bool, PoolError> {
        let n = self.number(prefix)?;
        self.engine.transfer(n, to)
    }

    /// Delegated prefixes `side` owns now.
    #[must_use]
    pub fn owned_count(&self, side: Side) -> u128 {
        self.engine.owned_count(side)
    }

    /// Free delegated prefixes `side` owns now (its "possibly delegable" count).
    #[must_use]
    pub fn free_count(&self, side: Side) -> u128 {
        self.engine.free_count(side)
    }

    /// Prefixes that are taken, reserved or abandoned.
    #[must_use]
    pub fn used_count(&self) -> u128 {
        self.engine.unavailable_count()
    }

    /// Number of prefixes whose owner differs from the rule's.
    #[must_use]
    pub fn transferred_count(&self) -> usize {
        self.engine.transferred_count()
    }

    /// Whether to rebalance now, from this pool's free counts and the rule's proportion
    /// (see [`plan_rebalance`]).
    #[must_use]
    ///
    /// The target is the rule's *effective* share (for [`SplitRule::Hash`], the configured share
    /// rounded to 1/256, which is what the initial split actually gives), so a freshly built pool
    /// never plans a move.
    pub fn plan_rebalance(&self, policy: &RebalancePolicy) -> Option<Rebalance> {
        let (fp, fs) = (
            self.free_count(Side::Primary),
            self.free_count(Side::Secondary),
        );
        let total = fp.saturating_add(fs);
        let target = match self.rule() {
            SplitRule::Hash { secondary_share } => {
                let s = u128::from(secondary_share.per_256());
                (total / 256) * s + (total % 256) * s / 256
            }
            _ => self.rule().secondary_share().of(total),
        };
        plan(fs, total, target, policy)
    }

    /// Up to `count` free prefixes owned by `from`, in the order a rebalance moves them:
    /// prefixes `from` received by earlier transfers first (moving them back undoes a transfer
    /// instead of adding one), then `from`'s own share. Deterministic; never a bound prefix.
    /// `O(count · log leases)`.
    #[must_use]
    pub fn select_transfers(&self, from: Side, count: usize) -> Vec<Prefix> {
        self.engine
            .free_resources(from, count)
            .into_iter()
            .map(|n| self.prefix_of(n))
            .collect()
    }

    /// Carries out `plan` locally: selects and transfers its prefixes and returns them (the
    /// primary then sends one BNDUPD per prefix: FREE-BACKUP when giving to the secondary, FREE
    /// when taking back).
    pub fn apply_rebalance(&mut self, plan: Rebalance) -> Vec<Prefix> {
        let count = usize::try_from(plan.count).unwrap_or(usize::MAX);
        let chosen = self.select_transfers(plan.from, count);
        for &p in &chosen {
            // Selected prefixes are free members owned by `plan.from`: the transfer succeeds.
            let _moved = self.transfer(p, plan.to);
        }
        chosen
    }

    #[cfg(any(test, fuzzing))]
    pub(crate) fn check_invariants(&self) {
        self.engine.check_invariants();
    }
}

/// The number of the delegated prefix of length `d` containing `addr`.
fn number_of(addr: Ipv6Addr, d: u8) -> u128 {
    if d == 0 {
        0
    } else {
        (addr.to_bits() & mask(d)) >> (128 - u32::from(d))
    }
}

impl Allocator for PrefixPool {
    type Resource = Prefix;

    fn allocate(&mut self, from: Side, client: ClientKey<'_>) -> Option<Prefix> {
        Self::allocate(self, from, client)
    }
    fn owner_of(&self, r: Prefix) -> Result<Side, PoolError> {
        Self::owner_of(self, r)
    }
    fn status(&self, r: Prefix) -> Result<Status, PoolError> {
        Self::status(self, r)
    }
    fn set_status(&mut self, r: Prefix, status: Status) -> Result<Status, PoolError> {
        Self::set_status(self, r, status)
    }
    fn free(&mut self, r: Prefix) -> Result<Status, PoolError> {
        Self::free(self, r)
    }
    fn free_count(&self, side: Side) -> u128 {
        Self::free_count(self, side)
    }
    fn fingerprint(&self) -> u64 {
        Self::fingerprint(self)
    }
}

/// When and how far to rebalance a proportional pool.
///
/// With `F` the total of both sides' free counts and `target = floor(share · F)` the secondary's
/// target, the deviation is `|free_secondary - target|`. Rebalancing starts when the deviation
/// exceeds `max(trigger · F, min_trigger)` and moves just enough prefixes to bring it down to
/// `settle · F` (hysteresis: `settle <= trigger`, so a completed rebalance never re-triggers
/// until the counts drift again, and the band between them absorbs small fluctuations). One
/// plan moves at most [`max_moves`](Self::max_moves) prefixes.
//= https://datatracker.ietf.org/doc/html/draft-ietf-dhc-dhcpv6-failover-protocol-02#section-4.2.2
//# (digest §7.2) The primary SHOULD rebalance when either side's count of possibly delegable
//# prefixes drifts by more than a threshold, using hysteresis to limit churn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RebalancePolicy {
    trigger: Proportion,
    settle: Proportion,
    min_trigger: u128,
    max_moves: u128,
}

impl RebalancePolicy {
    /// A policy; fails if `settle > trigger`.
    pub const fn new(
        trigger: Proportion,
        settle: Proportion,
        min_trigger: u128,
    ) -> Result<Self, ConfigError> {
        if settle.basis_points() > trigger.basis_points() {
            return Err(ConfigError::RebalanceBand {
                trigger: trigger.basis_points(),
                settle: settle.basis_points(),
            });
        }
        Ok(Self {
            trigger,
            settle,
            min_trigger,
            max_moves: Self::DEFAULT_MAX_MOVES,
        })
    }

    /// The default cap on prefixes moved by one plan.
    pub const DEFAULT_MAX_MOVES: u128 = 4096;

    /// Caps the prefixes one plan moves (each one costs the primary a BNDUPD); at least 1.
    /// A capped plan leaves part of the deviation: plan again after applying it. Every round
    /// moves `min(max_moves, what is left)`, so the rounds converge.
    #[must_use]
    pub const fn with_max_moves(mut self, max_moves: u128) -> Self {
        self.max_moves = if max_moves == 0 { 1 } else { max_moves };
        self
    }

    /// The cap on prefixes moved by one plan.
    #[must_use]
    pub const fn max_moves(&self) -> u128 {
        self.max_moves
    }

    /// Trigger at a 5 % deviation (at least 4 prefixes), settle at 1 %.
    pub const DEFAULT: Self = Self {
        trigger: Proportion::from_basis_points_const(500),
        settle: Proportion::from_basis_points_const(100),
        min_trigger: 4,
        max_moves: Self::DEFAULT_MAX_MOVES,
    };

    /// The trigger share.
    #[must_use]
    pub const fn trigger(&self) -> Proportion {
        self.trigger
    }

    /// The settle share.
    #[must_use]
    pub const fn settle(&self) -> Proportion {
        self.settle
    }

    /// The smallest deviation, in prefixes, that can trigger.
    #[must_use]
    pub const fn min_trigger(&self) -> u128 {
        self.min_trigger
    }
}

impl Default for RebalancePolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A rebalancing decision: move `count` free prefixes from `from` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rebalance {
    /// The side giving prefixes.
    pub from: Side,
    /// The side receiving them.
    pub to: Side,
    /// How many prefixes to move.
    pub count: u128,
}

/// The rebalancing arithmetic (see [`RebalancePolicy`]): `None` while the split of free prefixes
/// is within the trigger band, else the move that brings the deviation down to the settle band
/// with the fewest prefixes moved, capped at the policy's `max_moves`. Pure and total; `count`
/// never exceeds `from`'s free count.
///
/// ```
/// use dhcpv6_pool::{plan_rebalance, Proportion, RebalancePolicy, Side};
/// let policy = RebalancePolicy::DEFAULT; // trigger 5 %, settle 1 %
/// // 1000 free prefixes, secondary should hold half but has 100: move 390 to it.
/// let plan = plan_rebalance(900, 100, Proportion::HALF, &policy).unwrap();
/// assert_eq!((plan.from, plan.to, plan.count), (Side::Primary, Side::Secondary, 390));
/// assert_eq!(plan_rebalance(510, 490, Proportion::HALF, &policy), None);
/// ```
#[must_use]
pub fn plan_rebalance(
    free_primary: u128,
    free_secondary: u128,
    secondary_share: Proportion,
    policy: &RebalancePolicy,
) -> Option<Rebalance> {
    let total = free_primary.saturating_add(free_secondary);
    plan(free_secondary, total, secondary_share.of(total), policy)
}

/// [`plan_rebalance`] with the secondary's target count given.
fn plan(
    free_secondary: u128,
    total: u128,
    target: u128,
    policy: &RebalancePolicy,
) -> Option<Rebalance> {
    let (from, deviation) = if free_secondary > target {
        (Side::Secondary, free_secondary - target)
    } else {
        (Side::Primary, target - free_secondary)
    };
    let threshold = policy.trigger.of(total).max(policy.min_trigger);
    if deviation <= threshold {
        return None;
    }
    let count = (deviation - policy.settle.of(total).min(deviation)).min(policy.max_moves);
    (count > 0).then_some(Rebalance {
        from,
        to: from.partner(),
        count,
    })
}
