//! Pool splitting and allocation for DHCPv6 failover (RFC 8156).
//!
//! Two failover partners hand out addresses and delegated prefixes without asking each other.
//! This crate owns the arithmetic that makes that safe: which partner owns which resource
//! ([`SplitRule`], the same answer on both partners with no messages), how delegable prefixes are
//! shared in a configured proportion and rebalanced ([`PrefixPool::plan_rebalance`],
//! [`plan_rebalance`]), and the allocators that pick a free resource the caller's [`Side`] owns
//! for a client ([`AddressPool::allocate`], [`PrefixPool::allocate`], the [`Allocator`] trait).
//! It is pure, deterministic `no_std` + `alloc` code: it never reads a clock, draws OS entropy,
//! touches I/O or uses randomly seeded hashing; every result is a function of the configuration,
//! the seed and the sequence of calls, identical on every platform.
//!
//! - **Pools.** [`AddressPool`]: address ranges of any size (whole /64s and larger, held as
//!   arithmetic, never materialised) with excluded ranges and reserved addresses.
//!   [`PrefixPool`]: delegable prefixes carved into delegated prefixes of one fixed length (a
//!   /40 into /56s, a /32 into /64s), with excluded prefixes and reservations.
//! - **Ownership.** [`SplitRule::LowestBit`] is RFC 8156's independent-allocation rule (lowest
//!   bit 1 = primary). [`SplitRule::Hash`] scatters a configured share to the secondary by a fixed
//!   hash while keeping both halves equally dense in every sub-range (within a handful of
//!   resources, independent of its size); it gives the initial proportional split of prefixes.
//!   `owner_of` answers for any resource; [`PrefixPool::transfer`] moves free prefixes.
//! - **Fingerprint.** `fingerprint()` is 64-bit FNV-1a over the bytes
//!   `"dhcpv6-pool fingerprint v1"`, a kind byte (0 addresses, 1 prefixes), the delegated length
//!   (128 for addresses), the rule tag (0 lowest bit, 1 hash), the secondary share in basis points
//!   (u16 big-endian; 5000 for the lowest-bit rule), the number of allocatable intervals (u64
//!   big-endian) and each interval's first and last resource number (u128 big-endian). Intervals
//!   are the configured ranges minus the excluded ones, sorted and merged, so equivalent
//!   configurations share a fingerprint. Seeds, reservations and transfers are not included.
//! - **Allocation.** The client's DUID and IAID are hashed with the pool's seed to a start
//!   position in the side's share (the resources a side owns are numbered densely, block by
//!   block, so nothing is materialised); the allocator takes the first free owned resource at or
//!   after it, wrapping. Unavailable resources (taken, reserved, abandoned, excluded, transferred
//!   away) are kept as 64-resource bitmap pages in an ordered map, with runs of full pages in a
//!   second ordered map, so the first free one is found by one bitmap plus at most one run lookup:
//!   `O(log leases)` per allocation at any pool size and any fill level, no probing sequence and
//!   no scan; memory is one map entry per partially used page or run of full pages, so it grows
//!   with the leases, not the pool. The same client gets the same resource back while it is
//!   free, and since both partners start from the same relative position, their picks for one
//!   client lie in the same block of the split (for the lowest-bit rule: the two addresses of one
//!   aligned pair).
//! - **Load balancing (optional).** [`lb_hash`] is the RFC 3074 hash over the whole DUID, and
//!   [`HashBucketAssignment`] the 256-bucket map.
//!
//! # Example
//!
//! ```
//! use core::net::Ipv6Addr;
//! use dhcpv6_pool::{
//!     AddressPool, AddressPoolConfig, AddressRange, ClientKey, Prefix, PrefixPool,
//!     PrefixPoolConfig, Proportion, RebalancePolicy, Side, SplitRule, Status,
//! };
//!
//! // A whole /64, split by the RFC 8156 rule. Both partners build the same configuration.
//! let net: Ipv6Addr = "2001:db8:1:2::".parse().unwrap();
//! let range = AddressRange::from_prefix(Prefix::new(net, 64)?);
//! let config = AddressPoolConfig::new(range).with_rule(SplitRule::LowestBit).with_seed(7);
//! let mut primary = AddressPool::new(&config)?;
//! let secondary = AddressPool::new(&config)?;
//! assert_eq!(primary.fingerprint(), secondary.fingerprint());
//!
//! let client = ClientKey::new(&[0, 1, 0, 1, 0x12, 0x34, 0x56, 0x78, 0, 0x11, 0x22, 0x33, 0x44, 0x55], 1);
//! let addr = primary.allocate(Side::Primary, client).expect("a /64 never runs dry");
//! assert_eq!(primary.owner_of(addr)?, Side::Primary);
//! assert_eq!(secondary.owner_of(addr)?, Side::Primary); // no messages needed
//! assert_eq!(addr.to_bits() & 1, 1); // RFC rule: the primary's addresses end in bit 1
//! assert_eq!(primary.status(addr)?, Status::Taken);
//!
//! // Released: the same client gets the same address again.
//! primary.free(addr)?;
//! assert_eq!(primary.allocate(Side::Primary, client), Some(addr));
//!
//! // A /40 carved into /56s, 30 % of them initially the secondary's.
//! let delegable = Prefix::new("2001:db8:ab00::".parse().unwrap(), 40)?;
//! let pd = PrefixPoolConfig::new(delegable, 56).with_secondary_share(Proportion::from_percent(30)?);
//! let mut pool = PrefixPool::new(&pd)?;
//! let prefix = pool.allocate(Side::Secondary, client).unwrap();
//! assert_eq!(prefix.len(), 56);
//! assert_eq!(pool.owner_of(prefix)?, Side::Secondary);
//! // Balanced at start: nothing to move.
//! assert_eq!(pool.plan_rebalance(&RebalancePolicy::DEFAULT), None);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod address;
mod engine;
mod error;
pub mod hash;
mod lb;
mod prefix;
mod runs;
mod side;
mod split;
mod types;

#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;

pub use address::{AddressPool, AddressPoolConfig};
pub use error::{ConfigError, PoolError};
pub use lb::{HashBucketAssignment, lb_hash};
pub use prefix::{PrefixPool, PrefixPoolConfig, Rebalance, RebalancePolicy, plan_rebalance};
pub use side::Side;
pub use split::{Proportion, SplitRule};
pub use types::{AddressRange, ClientKey, Prefix, Status};

/// The allocation interface shared by [`AddressPool`] (resources are addresses) and
/// [`PrefixPool`] (resources are delegated prefixes), for code generic over both.
///
/// Every method is deterministic and `O(log leases)`. Status changes apply to a resource
/// whichever side owns it, so bindings the partner reports can be recorded with
/// [`set_status`](Self::set_status)`(r, Status::Taken)`.
pub trait Allocator {
    /// What the pool hands out.
    type Resource: Copy;

    /// Picks a free resource owned by `from` for `client` and marks it taken; `None` when
    /// `from` owns no free resource. Never returns a taken, reserved, abandoned, excluded or
    /// partner-owned resource.
    fn allocate(&mut self, from: Side, client: ClientKey<'_>) -> Option<Self::Resource>;
    /// The side that owns `r` now.
    fn owner_of(&self, r: Self::Resource) -> Result<Side, PoolError>;
    /// The status of `r`.
    fn status(&self, r: Self::Resource) -> Result<Status, PoolError>;
    /// Sets the status of `r`; returns the previous one.
    fn set_status(&mut self, r: Self::Resource, status: Status) -> Result<Status, PoolError>;
    /// Frees `r` (back to `Reserved` for configured reservations); returns the previous status.
    fn free(&mut self, r: Self::Resource) -> Result<Status, PoolError>;
    /// Marks `r` taken (a binding from the partner or from storage); returns the previous status.
    fn mark_taken(&mut self, r: Self::Resource) -> Result<Status, PoolError> {
        self.set_status(r, Status::Taken)
    }
    /// Holds `r` back from automatic allocation; returns the previous status.
    fn reserve(&mut self, r: Self::Resource) -> Result<Status, PoolError> {
        self.set_status(r, Status::Reserved)
    }
    /// Marks `r` abandoned (e.g. after a DECLINE); returns the previous status.
    fn mark_abandoned(&mut self, r: Self::Resource) -> Result<Status, PoolError> {
        self.set_status(r, Status::Abandoned)
    }
    /// Free resources `side` owns.
    fn free_count(&self, side: Side) -> u128;
    /// Stable 64-bit fingerprint of the ownership-relevant configuration.
    fn fingerprint(&self) -> u64;
}
