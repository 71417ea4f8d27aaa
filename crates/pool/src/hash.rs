//! The fixed, platform-independent hash functions the crate is built on.
//!
//! Nothing here depends on the platform, the pointer width, the compiler version or any random
//! state: every function is defined on explicit little- or big-endian byte orders and wrapping
//! 64-bit arithmetic, and golden vectors in the tests pin the outputs. Changing any constant here
//! changes which partner owns which resource, so the constants are part of the crate's contract.

/// The SplitMix64 finaliser (Stafford's "Mix13" variant), a bijection on `u64`.
///
/// `z = (z ^ (z >> 30)) * 0xbf58_476d_1ce4_e5b9; z = (z ^ (z >> 27)) * 0x94d0_49bb_1331_11eb;
/// z ^ (z >> 31)`, all arithmetic wrapping modulo 2^64.
#[must_use]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 64-bit golden-ratio constant `floor(2^64 / φ)` (odd), used to separate hash inputs.
pub(crate) const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// Hash of a 128-bit number: `mix64(lo ^ mix64(hi ^ GOLDEN))`, where `lo`/`hi` are the low and
/// high 64 bits.
#[must_use]
pub const fn hash_u128(x: u128) -> u64 {
    let lo = x as u64;
    let hi = (x >> 64) as u64;
    mix64(lo ^ mix64(hi ^ GOLDEN))
}

/// Seeded 128-bit hash of a client's identity, used to choose where its candidate sequence starts.
///
/// Algorithm (documented so other implementations can reproduce the same preference):
/// `s = mix64(seed ^ GOLDEN)`; the DUID is cut into 8-byte little-endian words (the last one
/// zero-padded) and each word `w` is absorbed as `s = mix64(s ^ w).rotate_left(23) + GOLDEN`;
/// then `s = mix64(s ^ (len << 32 | iaid))` with `len` the DUID length; the result is
/// `(mix64(s ^ 0x5555_5555_5555_5555) << 64) | mix64(s ^ 0xaaaa_aaaa_aaaa_aaaa)`.
#[must_use]
pub fn client_hash(seed: u64, duid: &[u8], iaid: u32) -> u128 {
    let mut s = mix64(seed ^ GOLDEN);
    let mut chunks = duid.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        s = mix64(s ^ u64::from_le_bytes(word))
            .rotate_left(23)
            .wrapping_add(GOLDEN);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        s = mix64(s ^ u64::from_le_bytes(word))
            .rotate_left(23)
            .wrapping_add(GOLDEN);
    }
    s = mix64(s ^ ((duid.len() as u64) << 32 | u64::from(iaid)));
    let hi = mix64(s ^ 0x5555_5555_5555_5555);
    let lo = mix64(s ^ 0xaaaa_aaaa_aaaa_aaaa);
    (u128::from(hi) << 64) | u128::from(lo)
}

/// 64-bit FNV-1a: offset basis `0xcbf2_9ce4_8422_2325`, prime `0x0000_0100_0000_01b3`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    pub(crate) const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) const fn finish(self) -> u64 {
        self.0
    }
}

/// Maps a uniform 128-bit hash onto `0..n` (`n > 0`): a multiply-shift for `n < 2^64`, a
/// remainder otherwise. Platform independent; slightly biased by at most `n / 2^64`.
#[must_use]
pub(crate) fn scale(h: u128, n: u128) -> u128 {
    if let Ok(n64) = u64::try_from(n) {
        (u128::from(h as u64) * u128::from(n64)) >> 64
    } else {
        h % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden vectors computed with an independent Python implementation of the documented
    // algorithms; a change of constants or platform must fail these.
    #[test]
    fn mix64_golden_vectors() {
        // SplitMix64 outputs for seed 0: the first output is mix64(GOLDEN).
        assert_eq!(mix64(GOLDEN), 0xe220_a839_7b1d_cdaf);
        assert_eq!(mix64(0), 0);
        assert_eq!(mix64(1), 0x5692_161d_100b_05e5);
    }

    #[test]
    fn hash_u128_golden_vectors() {
        assert_eq!(hash_u128(0), mix64(mix64(GOLDEN)));
        assert_eq!(hash_u128(0), 0x4821_8226_ff3c_d4bf);
        assert_eq!(hash_u128(u128::MAX), 0xeecd_2736_9f7e_c29a);
    }

    #[test]
    fn client_hash_golden_vectors() {
        assert_eq!(
            client_hash(0, b"", 0),
            0xdeb9_f235_4d85_4c23_9a4d_99ec_592a_d510
        );
        let duid = [
            0x00, 0x01, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
        ];
        assert_eq!(
            client_hash(7, &duid, 1),
            0x153a_eddb_2639_7a9d_94d8_1680_5ef5_a9a9
        );
        assert_ne!(client_hash(7, &duid, 1), client_hash(7, &duid, 2));
        assert_ne!(client_hash(7, &duid, 1), client_hash(8, &duid, 1));
        // Padding is not ambiguous: a trailing zero byte changes the hash.
        assert_ne!(client_hash(0, &[1], 0), client_hash(0, &[1, 0], 0));
    }

    #[test]
    fn fnv1a_golden_vectors() {
        let mut h = Fnv1a::new();
        h.write(b"");
        assert_eq!(h.finish(), 0xcbf2_9ce4_8422_2325);
        let mut h = Fnv1a::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut h = Fnv1a::new();
        h.write(b"foobar");
        assert_eq!(h.finish(), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn scale_stays_in_range() {
        for n in [
            1u128,
            2,
            3,
            1000,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ] {
            for h in [
                0u128,
                1,
                u128::MAX,
                0x1234_5678_9abc_def0_1234_5678_9abc_def0,
            ] {
                assert!(scale(h, n) < n);
            }
        }
    }
}
