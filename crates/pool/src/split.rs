//! Ownership rules: which partner owns which resource.

use core::fmt;

use crate::hash::hash_u128;
use crate::{ConfigError, Side};

/// A share of a pool, in basis points (1/10,000).
///
/// Used for the secondary's share of a [`SplitRule::Hash`] split. Internally the share is
/// quantised to 1/256 (see [`SplitRule`]), so the effective share differs from the configured
/// one by at most 1/512 (0.2 percentage points).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proportion(u16);

impl Proportion {
    /// Nothing (0 %).
    pub const ZERO: Self = Self(0);
    /// Half (50 %).
    pub const HALF: Self = Self(5_000);
    /// Everything (100 %).
    pub const ALL: Self = Self(10_000);

    /// `basis_points / 10,000`; fails above 10,000.
    pub const fn from_basis_points(basis_points: u16) -> Result<Self, ConfigError> {
        if basis_points > 10_000 {
            Err(ConfigError::ProportionOutOfRange { basis_points })
        } else {
            Ok(Self(basis_points))
        }
    }

    /// `basis_points / 10,000`, clamped to 10,000 (for constants).
    pub(crate) const fn from_basis_points_const(basis_points: u16) -> Self {
        if basis_points > 10_000 {
            Self(10_000)
        } else {
            Self(basis_points)
        }
    }

    /// `percent / 100`; fails above 100.
    pub const fn from_percent(percent: u8) -> Result<Self, ConfigError> {
        if percent > 100 {
            Err(ConfigError::ProportionOutOfRange {
                basis_points: percent as u16 * 100,
            })
        } else {
            Ok(Self(percent as u16 * 100))
        }
    }

    /// The share in basis points (0..=10,000).
    #[must_use]
    pub const fn basis_points(self) -> u16 {
        self.0
    }

    /// `floor(self * n)`, exact for every `n` (no overflow).
    #[must_use]
    pub const fn of(self, n: u128) -> u128 {
        let bp = self.0 as u128;
        (n / 10_000) * bp + (n % 10_000) * bp / 10_000
    }

    /// The share rounded to 1/256: `round(bp * 256 / 10,000)`, in `0..=256`.
    pub(crate) const fn per_256(self) -> u32 {
        (self.0 as u32 * 256 + 5_000) / 10_000
    }
}

impl Default for Proportion {
    fn default() -> Self {
        Self::HALF
    }
}

impl fmt::Display for Proportion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}%", self.0 / 100, self.0 % 100)
    }
}

/// How a pool is split between the [`Side::Primary`] and the [`Side::Secondary`].
///
/// Both rules are functions of the resource alone (an address, or a delegated prefix's number
/// `prefix >> (128 - delegated_len)`), so both partners compute the same owner with no messages,
/// on any platform, whatever the pool's other ranges are. Both are *block rules*: resources are
/// grouped into aligned blocks of `2^k` consecutive numbers; inside block `b` the resource at
/// offset `i` has position `π_b(i) = (i·A + o(b)) mod 2^k`, and it belongs to the secondary if
/// `π_b(i) < s`, else to the primary. Because `π_b` is a bijection, every whole block holds
/// exactly `s` secondary resources, which is what makes both halves equally dense everywhere.
///
/// | rule | `k` | `A` | `o(b)` | `s` |
/// |---|---|---|---|---|
/// | [`LowestBit`](Self::LowestBit) | 1 | 1 | 0 | 1 |
/// | [`Hash`](Self::Hash) | 8 | 159 | `hash_u128(b) mod 256` | `round(share · 256)` |
///
/// `hash_u128(b) = mix64(lo ^ mix64(hi ^ 0x9e37_79b9_7f4a_7c15))` over the low and high 64 bits
/// of the block number, with `mix64` the SplitMix64 finaliser (see the [`hash`](crate::hash)
/// module). `A = 159 ≈ 256/φ` makes the positions of consecutive resources a golden-ratio
/// (Weyl) sequence inside a block: any run of `n` consecutive resources of one block holds
/// `n·s/256 ± 2.75` secondary resources (checked exhaustively in the tests), so any contiguous
/// sub-range holds its share within ±6 resources plus the 1/512 quantisation of the share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SplitRule {
    /// The RFC 8156 independent-allocation rule: the primary owns resources whose lowest bit is
    /// 1, the secondary those whose lowest bit is 0. Exactly half of every aligned pair.
    //= https://datatracker.ietf.org/doc/html/draft-ietf-dhc-dhcpv6-failover-protocol-02#section-4.2.1.1
    //# (digest §7.1) primary allocates only addresses whose lowest bit (bit 127) is 1;
    //# secondary only those with bit 127 = 0.
    #[default]
    LowestBit,
    /// The hash rule: the secondary owns `share` of every block of 256 resources, scattered by
    /// a fixed hash, the primary the rest (table above). Used for the initial proportional split
    /// of delegable prefixes, and available for addresses (use [`Proportion::HALF`]).
    Hash {
        /// The secondary's share.
        secondary_share: Proportion,
    },
}

impl SplitRule {
    /// The hash rule with an even split.
    pub const HASH_HALF: Self = Self::Hash {
        secondary_share: Proportion::HALF,
    };

    /// The owner of resource number `x` under this rule alone (no transfers applied).
    #[must_use]
    pub fn owner(self, x: u128) -> Side {
        Split::from_rule(self).owner(x)
    }

    /// The secondary's nominal share under this rule (exactly 1/2 for `LowestBit`).
    #[must_use]
    pub const fn secondary_share(self) -> Proportion {
        match self {
            Self::LowestBit => Proportion::HALF,
            Self::Hash { secondary_share } => secondary_share,
        }
    }

    pub(crate) const fn tag(self) -> u8 {
        match self {
            Self::LowestBit => 0,
            Self::Hash { .. } => 1,
        }
    }
}

/// The block rule in its computational form (see [`SplitRule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// log2 of the block size.
    pub(crate) bits: u32,
    a: u32,
    a_inv: u32,
    hashed: bool,
    /// Positions `< s` belong to the secondary.
    pub(crate) s: u32,
}

/// The multiplicative inverse of odd `a` modulo 2^32 (Newton iteration).
const fn inverse_mod_2_32(a: u32) -> u32 {
    let mut x = a; // correct to 3 bits for odd a
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u32.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

impl Split {
    pub(crate) const fn from_rule(rule: SplitRule) -> Self {
        match rule {
            SplitRule::LowestBit => Self {
                bits: 1,
                a: 1,
                a_inv: 1,
                hashed: false,
                s: 1,
            },
            SplitRule::Hash { secondary_share } => Self {
                bits: 8,
                a: 159,
                a_inv: inverse_mod_2_32(159),
                hashed: true,
                s: secondary_share.per_256(),
            },
        }
    }

    pub(crate) const fn block_size(self) -> u32 {
        1 << self.bits
    }

    const fn mask(self) -> u32 {
        self.block_size() - 1
    }

    fn offset(self, block: u128) -> u32 {
        if self.hashed {
            (hash_u128(block) as u32) & self.mask()
        } else {
            0
        }
    }

    /// Position of resource `x` inside its block.
    pub(crate) fn position(self, x: u128) -> u32 {
        let block = x >> self.bits;
        let i = (x as u32) & self.mask();
        (i.wrapping_mul(self.a).wrapping_add(self.offset(block))) & self.mask()
    }

    /// The resource at position `v` of block `block`.
    pub(crate) fn resource(self, block: u128, v: u32) -> u128 {
        let i = (v.wrapping_sub(self.offset(block))).wrapping_mul(self.a_inv) & self.mask();
        (block << self.bits) | u128::from(i)
    }

    pub(crate) fn owner_of_position(self, v: u32) -> Side {
        if v < self.s {
            Side::Secondary
        } else {
            Side::Primary
        }
    }

    pub(crate) fn owner(self, x: u128) -> Side {
        self.owner_of_position(self.position(x))
    }

    /// How many resources of each whole block `side` owns.
    pub(crate) const fn per_block(self, side: Side) -> u32 {
        match side {
            Side::Secondary => self.s,
            Side::Primary => self.block_size() - self.s,
        }
    }

    /// The first position `side` owns in a block.
    pub(crate) const fn first_position(self, side: Side) -> u32 {
        match side {
            Side::Secondary => 0,
            Side::Primary => self.s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_bit_matches_rfc_rule() {
        let rule = SplitRule::LowestBit;
        assert_eq!(rule.owner(0), Side::Secondary);
        assert_eq!(rule.owner(1), Side::Primary);
        assert_eq!(rule.owner(u128::MAX), Side::Primary);
        assert_eq!(rule.owner(u128::MAX - 1), Side::Secondary);
    }

    #[test]
    fn positions_are_bijective_per_block() {
        for rule in [SplitRule::LowestBit, SplitRule::HASH_HALF] {
            let split = Split::from_rule(rule);
            for block in [0u128, 1, 77, u128::MAX >> split.bits] {
                let mut seen = [false; 256];
                for i in 0..split.block_size() {
                    let x = (block << split.bits) | u128::from(i);
                    let v = split.position(x);
                    assert!(!seen[v as usize]);
                    seen[v as usize] = true;
                    assert_eq!(split.resource(block, v), x);
                }
            }
        }
    }

    #[test]
    fn weyl_discrepancy_is_small_inside_a_block() {
        // The bound documented on `SplitRule`: every cyclic window of one block.
        for s in 0..=256u32 {
            let bits: [u32; 256] = core::array::from_fn(|i| u32::from((i as u32 * 159) % 256 < s));
            for start in 0..256 {
                let mut count = 0u32;
                for n in 1..=256usize {
                    count += bits[(start + n - 1) % 256];
                    let expected = n as f64 * f64::from(s) / 256.0;
                    assert!(
                        (f64::from(count) - expected).abs() <= 2.75 + 1e-9,
                        "s {s} start {start} n {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn hash_rule_golden_owners() {
        // Pins the hash: a change of constants or platform must fail this test.
        let split = Split::from_rule(SplitRule::HASH_HALF);
        let owners: u64 = (0..64u128).fold(0, |acc, x| {
            (acc << 1) | u64::from(split.owner(x) == Side::Primary)
        });
        assert_eq!(owners, GOLDEN_OWNERS_0_64);
        let big = 0x2001_0db8_0000_0000_0000_0000_0000_0000u128;
        let owners: u64 = (0..64u128).fold(0, |acc, x| {
            (acc << 1) | u64::from(split.owner(big + x) == Side::Primary)
        });
        assert_eq!(owners, GOLDEN_OWNERS_DB8_64);
    }

    // Computed with an independent Python implementation of the rule documented on `SplitRule`.
    const GOLDEN_OWNERS_0_64: u64 = 0xb4b4_b4b4_a5a5_a5a5;
    const GOLDEN_OWNERS_DB8_64: u64 = 0x4a5a_5a5a_52d2_d2d2;

    #[test]
    fn proportion_arithmetic() {
        assert_eq!(Proportion::HALF.of(u128::MAX), u128::MAX / 2);
        assert_eq!(Proportion::ALL.of(u128::MAX), u128::MAX);
        assert_eq!(Proportion::from_percent(30).unwrap().per_256(), 77);
        assert!(Proportion::from_basis_points(10_001).is_err());
        assert!(Proportion::from_percent(101).is_err());
        assert_eq!(
            alloc::format!("{}", Proportion::from_basis_points(1234).unwrap()),
            "12.34%"
        );
        assert_eq!(inverse_mod_2_32(159).wrapping_mul(159), 1);
    }
}
