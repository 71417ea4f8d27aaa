//! Optional load-balancing extension: the RFC 3074 hash and a 256-bucket assignment map.
//!
//! RFC 8156 itself does not load-balance; both partners answer clients according to their
//! failover state. Deployments that also want to split *which server answers* by client can use
//! this module the way RFC 3074 does for DHCPv4 and Kea's high-availability hook does for DHCPv6:
//! hash the client's whole DUID (the OPTION_CLIENTID payload, including its 2-byte DUID type) with
//! [`lb_hash`] and serve the client if the resulting bucket is set in the server's
//! [`HashBucketAssignment`].

use core::fmt;

/// Pearson mixing table of RFC 3074 §6 (a permutation of 0..=255), as used by ISC dhcpd and Kea.
const LB_TABLE: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152,
    58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243,
    124, 95, 222, 179, 197, 65, 180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97,
    16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, 207, 9, 178, 204,
    74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94, 25,
    226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241,
    73, 88, 105, 39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82,
    163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118,
    112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231,
    52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171,
    72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, 96, 235, 136,
    208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153,
    149, 80, 170, 68, 6, 169, 234, 151,
];

/// The RFC 3074 load-balancing hash (Pearson's method) of `key`, a bucket in `0..=255`.
///
/// The seed is the key length modulo 256 and the key is walked from its last byte to its first:
/// `h = len as u8; for b in key.rev() { h = TABLE[h ^ b] }`. For DHCPv6 the key is the client's
/// whole DUID, as Kea does.
///
/// ```
/// use dhcpv6_pool::lb_hash;
/// assert_eq!(lb_hash(b""), 0);
/// assert_eq!(lb_hash(&[0x00]), 175);
/// assert_eq!(
///     lb_hash(&[0x00, 0x01, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55]),
///     244,
/// );
/// ```
#[must_use]
pub fn lb_hash(key: &[u8]) -> u8 {
    let mut h = key.len() as u8; // the seed is the length modulo 256 by definition
    for &b in key.iter().rev() {
        h = LB_TABLE[usize::from(h ^ b)];
    }
    h
}

/// A Hash Bucket Assignment: the set of the 256 [`lb_hash`] buckets one server serves.
///
/// Bit layout (this crate's choice; RFC 3074's exact bit order was not verified): bucket `i` is
/// bit `i % 8` (least significant first) of byte `i / 8` of [`HashBucketAssignment::to_bytes`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HashBucketAssignment([u8; 32]);

impl HashBucketAssignment {
    /// No bucket.
    pub const EMPTY: Self = Self([0; 32]);
    /// Every bucket.
    pub const ALL: Self = Self([0xff; 32]);

    /// The assignment from its 32-byte bitmap (layout in the type docs).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32-byte bitmap (layout in the type docs).
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// The buckets `b` with `b % count == index`, Kea's `hash % number_of_servers` rule.
    /// Returns [`EMPTY`](Self::EMPTY) when `index >= count` (in particular when `count == 0`).
    #[must_use]
    pub fn modulo(index: u8, count: u8) -> Self {
        let mut out = Self::EMPTY;
        if index < count {
            for bucket in 0..=255u8 {
                if bucket % count == index {
                    out.insert(bucket);
                }
            }
        }
        out
    }

    /// The buckets below `count` of 256 (the first `count` buckets), e.g. `first(128)` for an
    /// even two-way split whose complement is the other server's share.
    #[must_use]
    pub fn first(count: u16) -> Self {
        let mut out = Self::EMPTY;
        for bucket in 0..=255u8 {
            if u16::from(bucket) < count {
                out.insert(bucket);
            }
        }
        out
    }

    /// Adds `bucket`.
    pub fn insert(&mut self, bucket: u8) {
        self.0[usize::from(bucket / 8)] |= 1 << (bucket % 8);
    }

    /// Removes `bucket`.
    pub fn remove(&mut self, bucket: u8) {
        self.0[usize::from(bucket / 8)] &= !(1 << (bucket % 8));
    }

    /// Whether `bucket` is assigned.
    #[must_use]
    pub const fn contains(&self, bucket: u8) -> bool {
        self.0[(bucket / 8) as usize] & (1 << (bucket % 8)) != 0
    }

    /// Whether this server serves the client with this DUID: `contains(lb_hash(duid))`.
    #[must_use]
    pub fn serves(&self, duid: &[u8]) -> bool {
        self.contains(lb_hash(duid))
    }

    /// The buckets not in `self` (the partner's share of a two-server split).
    #[must_use]
    pub fn complement(self) -> Self {
        let mut out = self.0;
        for b in &mut out {
            *b = !*b;
        }
        Self(out)
    }

    /// Number of assigned buckets.
    #[must_use]
    pub fn len(&self) -> u16 {
        self.0.iter().map(|b| b.count_ones() as u16).sum()
    }

    /// Whether no bucket is assigned.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 32]
    }
}

impl fmt::Debug for HashBucketAssignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashBucketAssignment(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn table_is_a_permutation() {
        let mut seen = [false; 256];
        for v in LB_TABLE {
            assert!(!seen[usize::from(v)], "duplicate {v}");
            seen[usize::from(v)] = true;
        }
    }

    // Test vectors from the project digest (shared/spec §12.1), computed there with this table.
    #[test]
    fn digest_test_vectors() {
        assert_eq!(lb_hash(b""), 0);
        assert_eq!(lb_hash(&[0x00]), 175);
        let duid = [
            0x00, 0x01, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
        ];
        assert_eq!(lb_hash(&duid), 244);
    }

    #[test]
    fn seed_is_length_mod_256() {
        // 256 zero bytes: seed 0, so the first step is TABLE[0] like the empty key's seed.
        let key = [0u8; 256];
        let mut h = 0u8;
        for _ in 0..256 {
            h = LB_TABLE[usize::from(h)];
        }
        assert_eq!(lb_hash(&key), h);
    }

    #[test]
    fn assignment_bits() {
        let mut hba = HashBucketAssignment::EMPTY;
        assert!(hba.is_empty());
        hba.insert(0);
        hba.insert(9);
        hba.insert(255);
        assert_eq!(hba.to_bytes()[0], 0x01);
        assert_eq!(hba.to_bytes()[1], 0x02);
        assert_eq!(hba.to_bytes()[31], 0x80);
        assert!(hba.contains(9) && !hba.contains(8));
        assert_eq!(hba.len(), 3);
        hba.remove(9);
        assert!(!hba.contains(9));
        assert_eq!(hba.complement().len(), 254);
        assert_eq!(HashBucketAssignment::ALL.len(), 256);
    }

    #[test]
    fn modulo_partitions_buckets() {
        for count in 1..=5u8 {
            let parts: Vec<_> = (0..count)
                .map(|i| HashBucketAssignment::modulo(i, count))
                .collect();
            for bucket in 0..=255u8 {
                let owners = parts.iter().filter(|p| p.contains(bucket)).count();
                assert_eq!(owners, 1, "bucket {bucket} count {count}");
            }
        }
        assert!(HashBucketAssignment::modulo(3, 3).is_empty());
        let half = HashBucketAssignment::first(128);
        assert_eq!(half.len(), 128);
        assert_eq!(
            half.complement(),
            HashBucketAssignment::from_bytes({
                let mut b = [0u8; 32];
                b[16..].fill(0xff);
                b
            })
        );
        assert!(half.serves(b"") && half.serves(&[0x00]) == half.contains(175));
    }
}
