//! A small deterministic PRNG (SplitMix64) seeded from [`Config::rng_seed`](crate::Config).
//!
//! Transaction ids come from here, never from ambient randomness, so a run is reproducible
//! from (config, seed, inputs).

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for transaction ids.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A 24-bit transaction id.
    pub(crate) fn next_xid(&mut self) -> u32 {
        (self.next_u64() >> 40) as u32 & 0x00FF_FFFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let mut c = Rng::new(43);
        let xa: [u32; 4] = core::array::from_fn(|_| a.next_xid());
        let xb: [u32; 4] = core::array::from_fn(|_| b.next_xid());
        let xc: [u32; 4] = core::array::from_fn(|_| c.next_xid());
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        assert!(xa.iter().all(|x| *x <= 0x00FF_FFFF));
    }
}
