//! Small value types: prefixes, address ranges, client keys, resource status.

use core::fmt;
use core::net::Ipv6Addr;

use crate::ConfigError;

/// An IPv6 prefix: an address whose bits after `len` are zero, and a length `0..=128`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    addr: Ipv6Addr,
    len: u8,
}

/// The mask of the first `len` bits (`len <= 128`).
pub(crate) const fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

impl Prefix {
    /// A prefix; fails if `len > 128` or if bits after `len` are set.
    pub const fn new(addr: Ipv6Addr, len: u8) -> Result<Self, ConfigError> {
        if len > 128 {
            return Err(ConfigError::PrefixLength { len });
        }
        if addr.to_bits() & !mask(len) != 0 {
            return Err(ConfigError::HostBitsSet { addr, len });
        }
        Ok(Self { addr, len })
    }

    /// A prefix with the bits after `len` cleared; fails only if `len > 128`.
    pub const fn new_truncating(addr: Ipv6Addr, len: u8) -> Result<Self, ConfigError> {
        if len > 128 {
            return Err(ConfigError::PrefixLength { len });
        }
        Ok(Self {
            addr: Ipv6Addr::from_bits(addr.to_bits() & mask(len)),
            len,
        })
    }

    /// The address part.
    #[must_use]
    pub const fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length.
    #[must_use]
    #[expect(
        clippy::len_without_is_empty,
        reason = "a prefix length, not a container size"
    )]
    pub const fn len(&self) -> u8 {
        self.len
    }

    /// Whether `addr` lies inside this prefix.
    #[must_use]
    pub const fn contains(&self, addr: Ipv6Addr) -> bool {
        addr.to_bits() & mask(self.len) == self.addr.to_bits()
    }

    /// The first address of the prefix.
    #[must_use]
    pub const fn first(&self) -> Ipv6Addr {
        self.addr
    }

    /// The last address of the prefix.
    #[must_use]
    pub const fn last(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(self.addr.to_bits() | !mask(self.len))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An inclusive range of IPv6 addresses `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressRange {
    first: Ipv6Addr,
    last: Ipv6Addr,
}

impl AddressRange {
    /// The range `first..=last`; fails if `first > last`.
    pub const fn new(first: Ipv6Addr, last: Ipv6Addr) -> Result<Self, ConfigError> {
        if first.to_bits() > last.to_bits() {
            Err(ConfigError::InvertedRange { first, last })
        } else {
            Ok(Self { first, last })
        }
    }

    /// Every address of `prefix` (a whole /64, say).
    #[must_use]
    pub const fn from_prefix(prefix: Prefix) -> Self {
        Self {
            first: prefix.first(),
            last: prefix.last(),
        }
    }

    /// The first address.
    #[must_use]
    pub const fn first(&self) -> Ipv6Addr {
        self.first
    }

    /// The last address.
    #[must_use]
    pub const fn last(&self) -> Ipv6Addr {
        self.last
    }

    /// Number of addresses (`last - first + 1`), saturating at `u128::MAX` for `::/0`.
    #[must_use]
    pub const fn len(&self) -> u128 {
        (self.last.to_bits() - self.first.to_bits()).saturating_add(1)
    }

    /// Always `false`: a range holds at least one address.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The range from bounds known to be ordered (`lo <= hi`).
    pub(crate) const fn from_bounds(lo: u128, hi: u128) -> Self {
        Self {
            first: Ipv6Addr::from_bits(lo),
            last: Ipv6Addr::from_bits(hi),
        }
    }

    pub(crate) const fn bounds(&self) -> (u128, u128) {
        (self.first.to_bits(), self.last.to_bits())
    }
}

impl From<Prefix> for AddressRange {
    fn from(prefix: Prefix) -> Self {
        Self::from_prefix(prefix)
    }
}

/// What the allocator may do with one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Available to its owner's allocator (RFC 8156 FREE / FREE-BACKUP by owner).
    Free,
    /// Bound to a client, by this server or (as reported) by the partner; also used for leases
    /// restored from storage and for EXPIRED/RELEASED leases not yet returned to the pool.
    Taken,
    /// Held back from automatic allocation (e.g. a host reservation).
    Reserved,
    /// Unusable until an operator or a check frees it (RFC 8156 ABANDONED, e.g. after DECLINE).
    Abandoned,
}

impl Status {
    /// Whether an allocator may hand the resource out.
    #[must_use]
    pub const fn is_free(self) -> bool {
        matches!(self, Self::Free)
    }
}

/// The client identity an allocation is for: its DUID (the OPTION_CLIENTID payload) and the
/// IAID of the IA_NA or IA_PD being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey<'a> {
    /// The client's DUID bytes, including the 2-byte DUID type.
    pub duid: &'a [u8],
    /// The IAID of the identity association.
    pub iaid: u32,
}

impl<'a> ClientKey<'a> {
    /// A key from a DUID and an IAID.
    #[must_use]
    pub const fn new(duid: &'a [u8], iaid: u32) -> Self {
        Self { duid, iaid }
    }
}
