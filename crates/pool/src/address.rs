//! Address pools (independent allocation, RFC 8156 §4.2.1 of the draft).

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use crate::engine::Engine;
use crate::hash::client_hash;
use crate::{AddressRange, Allocator, ClientKey, ConfigError, PoolError, Side, SplitRule, Status};

/// Configuration of an [`AddressPool`]. Both partners must use the same `ranges`, `excluded`
/// and `rule` (compare [`AddressPool::fingerprint`]); `seed` should also match so that both
/// prefer the same addresses for a client; `reserved` is local.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddressPoolConfig {
    /// Address ranges of the pool; overlapping or adjacent ranges are merged.
    pub ranges: Vec<AddressRange>,
    /// Addresses never handed out (e.g. routers, the subnet-router anycast address).
    pub excluded: Vec<AddressRange>,
    /// Addresses held back from automatic allocation (host reservations).
    pub reserved: Vec<Ipv6Addr>,
    /// How the pool is split between the partners.
    pub rule: SplitRule,
    /// Seed of the client-to-candidate hash.
    pub seed: u64,
}

impl AddressPoolConfig {
    /// A configuration with one range, the RFC rule ([`SplitRule::LowestBit`]) and seed 0.
    #[must_use]
    pub fn new(range: AddressRange) -> Self {
        Self {
            ranges: alloc::vec![range],
            ..Self::default()
        }
    }

    /// Sets the split rule.
    #[must_use]
    pub fn with_rule(mut self, rule: SplitRule) -> Self {
        self.rule = rule;
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Adds an excluded range.
    #[must_use]
    pub fn exclude(mut self, range: AddressRange) -> Self {
        self.excluded.push(range);
        self
    }

    /// Adds a reserved address.
    #[must_use]
    pub fn reserve(mut self, addr: Ipv6Addr) -> Self {
        self.reserved.push(addr);
        self
    }
}

/// A pool of IPv6 addresses split between the partners by an independent-allocation rule.
///
/// Ranges of any size (a whole /64 or more) are held as arithmetic, never materialised; memory
/// grows with the number of non-free addresses. Every method is deterministic.
///
/// Invariants (each has a property test in `tests/`):
/// - every address of the pool has exactly one owner, the same on both partners, and
///   [`owner_of`](Self::owner_of) never changes for an address pool;
/// - [`allocate`](Self::allocate) returns only a free, non-excluded address owned by the side
///   asked for, and marks it taken;
/// - the same client (DUID, IAID) and seed yield the same address while it is free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressPool {
    engine: Engine,
}

const KIND_ADDRESS: u8 = 0;

impl AddressPool {
    /// Builds the pool; fails on an empty pool, a reservation outside it, or too many ranges.
    pub fn new(config: &AddressPoolConfig) -> Result<Self, ConfigError> {
        let ranges = config.ranges.iter().map(AddressRange::bounds).collect();
        let excluded = config.excluded.iter().map(AddressRange::bounds).collect();
        let reserved: Vec<u128> = config.reserved.iter().map(|a| a.to_bits()).collect();
        Ok(Self {
            engine: Engine::new(ranges, excluded, &reserved, config.rule, config.seed)?,
        })
    }

    /// The split rule.
    #[must_use]
    pub fn rule(&self) -> SplitRule {
        self.engine.rule()
    }

    /// The allocatable ranges (configured ranges minus excluded ones), sorted and merged.
    pub fn ranges(&self) -> impl Iterator<Item = AddressRange> + '_ {
        self.engine
            .members()
            .iter()
            .map(|&(lo, hi)| AddressRange::from_bounds(lo, hi))
    }

    /// Stable 64-bit fingerprint of the ownership-relevant configuration; partners compare it
    /// to detect a mismatch. See the crate docs for the algorithm.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.engine.fingerprint(KIND_ADDRESS, 128)
    }

    /// Picks a free address owned by `from` for `client`, marks it taken and returns it; `None`
    /// if `from` has no free address left. `O(log leases)`.
    ///
    /// The search starts at a position derived from `(seed, client)` in `from`'s share and takes
    /// the first free address there or after it, so a returning client gets its previous
    /// address back if it is still free, and both partners start from the same place.
    pub fn allocate(&mut self, from: Side, client: ClientKey<'_>) -> Option<Ipv6Addr> {
        let h = client_hash(self.engine.seed(), client.duid, client.iaid);
        self.engine.allocate(from, h).map(Ipv6Addr::from_bits)
    }

    /// Whether `addr` is an allocatable member of the pool (in a range, not excluded).
    #[must_use]
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        self.engine.check(addr.to_bits()).is_ok()
    }

    /// The side that owns `addr`.
    pub fn owner_of(&self, addr: Ipv6Addr) -> Result<Side, PoolError> {
        self.engine.owner(addr.to_bits())
    }

    /// The status of `addr`.
    pub fn status(&self, addr: Ipv6Addr) -> Result<Status, PoolError> {
        self.engine.status(addr.to_bits())
    }

    /// Sets the status of `addr` (whoever owns it); returns the previous status.
    pub fn set_status(&mut self, addr: Ipv6Addr, status: Status) -> Result<Status, PoolError> {
        self.engine.set_status(addr.to_bits(), status)
    }

    /// Marks `addr` taken, e.g. for a binding learned from the partner or restored from storage.
    /// Returns the previous status.
    pub fn mark_taken(&mut self, addr: Ipv6Addr) -> Result<Status, PoolError> {
        self.set_status(addr, Status::Taken)
    }

    /// Returns `addr` to its owner's free share (or to `Reserved` if it is a configured
    /// reservation). Returns the previous status.
    pub fn free(&mut self, addr: Ipv6Addr) -> Result<Status, PoolError> {
        self.engine.free(addr.to_bits())
    }

    /// Holds `addr` back from automatic allocation. Returns the previous status.
    pub fn reserve(&mut self, addr: Ipv6Addr) -> Result<Status, PoolError> {
        self.set_status(addr, Status::Reserved)
    }

    /// Marks `addr` abandoned (e.g. after a DECLINE). Returns the previous status.
    pub fn mark_abandoned(&mut self, addr: Ipv6Addr) -> Result<Status, PoolError> {
        self.set_status(addr, Status::Abandoned)
    }

    /// Addresses `side` owns (saturating at `u128::MAX`).
    #[must_use]
    pub fn owned_count(&self, side: Side) -> u128 {
        self.engine.owned_count(side)
    }

    /// Free addresses `side` owns.
    #[must_use]
    pub fn free_count(&self, side: Side) -> u128 {
        self.engine.free_count(side)
    }

    /// Addresses that are taken, reserved or abandoned.
    #[must_use]
    pub fn used_count(&self) -> u128 {
        self.engine.unavailable_count()
    }

    #[cfg(any(test, fuzzing))]
    pub(crate) fn check_invariants(&self) {
        self.engine.check_invariants();
    }
}

impl Allocator for AddressPool {
    type Resource = Ipv6Addr;

    fn allocate(&mut self, from: Side, client: ClientKey<'_>) -> Option<Ipv6Addr> {
        Self::allocate(self, from, client)
    }
    fn owner_of(&self, r: Ipv6Addr) -> Result<Side, PoolError> {
        Self::owner_of(self, r)
    }
    fn status(&self, r: Ipv6Addr) -> Result<Status, PoolError> {
        Self::status(self, r)
    }
    fn set_status(&mut self, r: Ipv6Addr, status: Status) -> Result<Status, PoolError> {
        Self::set_status(self, r, status)
    }
    fn free(&mut self, r: Ipv6Addr) -> Result<Status, PoolError> {
        Self::free(self, r)
    }
    fn free_count(&self, side: Side) -> u128 {
        Self::free_count(self, side)
    }
    fn fingerprint(&self) -> u64 {
        Self::fingerprint(self)
    }
}
