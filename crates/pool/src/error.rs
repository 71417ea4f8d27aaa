//! Error types: [`ConfigError`] for invalid pool configurations, [`PoolError`] for operations on
//! resources that the pool cannot perform.

use core::fmt;
use core::net::Ipv6Addr;

use crate::{Prefix, Status};

/// A pool configuration that cannot be built. Says what is wrong and with which value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A range whose first address is above its last.
    InvertedRange {
        /// First address as configured.
        first: Ipv6Addr,
        /// Last address as configured.
        last: Ipv6Addr,
    },
    /// A prefix length above 128.
    PrefixLength {
        /// The length given.
        len: u8,
    },
    /// A prefix with bits set after its length.
    HostBitsSet {
        /// The address part given.
        addr: Ipv6Addr,
        /// The length given.
        len: u8,
    },
    /// A delegable prefix longer than the delegated length.
    DelegatedLength {
        /// The delegable prefix.
        prefix: Prefix,
        /// The configured delegated length.
        delegated_len: u8,
    },
    /// A reserved prefix whose length differs from the delegated length.
    ReservedLength {
        /// The reserved prefix.
        prefix: Prefix,
        /// The configured delegated length.
        delegated_len: u8,
    },
    /// A proportion above 100 %.
    ProportionOutOfRange {
        /// The value given, in basis points.
        basis_points: u16,
    },
    /// More ranges (or excluded ranges) than the pool accepts.
    TooManyRanges {
        /// Which list: `"ranges"` or `"excluded"`.
        list: &'static str,
        /// How many were given.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// The pool has no resource at all (no ranges, or everything excluded).
    Empty,
    /// The pool is too large to index (it would hold 2^128 resources for one side).
    TooLarge,
    /// A reserved resource outside the pool (or excluded).
    ReservedOutsidePool {
        /// The resource number (address, or prefix number).
        resource: u128,
    },
    /// A rebalancing policy whose settle band is wider than its trigger.
    RebalanceBand {
        /// Trigger, in basis points of the free total.
        trigger: u16,
        /// Settle band, in basis points of the free total.
        settle: u16,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvertedRange { first, last } => {
                write!(f, "address range {first}-{last}: first is above last")
            }
            Self::PrefixLength { len } => write!(f, "prefix length {len} is above 128"),
            Self::HostBitsSet { addr, len } => {
                write!(f, "prefix {addr}/{len} has bits set after its length")
            }
            Self::DelegatedLength {
                prefix,
                delegated_len,
            } => write!(
                f,
                "delegable prefix {prefix} is longer than the delegated length /{delegated_len}"
            ),
            Self::ReservedLength {
                prefix,
                delegated_len,
            } => write!(
                f,
                "reserved prefix {prefix} does not have the delegated length /{delegated_len}"
            ),
            Self::ProportionOutOfRange { basis_points } => write!(
                f,
                "proportion of {basis_points} basis points is above 10000 (100%)"
            ),
            Self::TooManyRanges { list, count, max } => {
                write!(f, "{count} entries in {list}, at most {max} allowed")
            }
            Self::Empty => f.write_str("the pool holds no resource"),
            Self::TooLarge => f.write_str("the pool is too large to index for one side"),
            Self::ReservedOutsidePool { resource } => {
                write!(f, "reserved resource {resource:#x} is not in the pool")
            }
            Self::RebalanceBand { trigger, settle } => write!(
                f,
                "rebalance settle band {settle} bp is wider than the trigger {trigger} bp"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

/// An operation on one resource that the pool refused. The pool is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// The resource is not in any of the pool's ranges.
    NotInPool {
        /// The resource number (address, or prefix number).
        resource: u128,
    },
    /// The resource is in an excluded range.
    Excluded {
        /// The resource number.
        resource: u128,
    },
    /// A prefix whose length differs from the pool's delegated length.
    WrongLength {
        /// The prefix given.
        prefix: Prefix,
        /// The pool's delegated length.
        delegated_len: u8,
    },
    /// A transfer of a resource that is not free (bound, reserved or abandoned): ownership of a
    /// bound resource never moves.
    NotFree {
        /// The resource number.
        resource: u128,
        /// Its current status.
        status: Status,
    },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInPool { resource } => write!(f, "resource {resource:#x} is not in the pool"),
            Self::Excluded { resource } => write!(f, "resource {resource:#x} is excluded"),
            Self::WrongLength {
                prefix,
                delegated_len,
            } => write!(
                f,
                "prefix {prefix} does not have the pool's delegated length /{delegated_len}"
            ),
            Self::NotFree { resource, status } => write!(
                f,
                "resource {resource:#x} is {status:?}, only a free resource can change owner"
            ),
        }
    }
}

impl core::error::Error for PoolError {}
