//! Simulated stable storage for one server.
//!
//! Writes are submitted with an id, become durable when acknowledged (in submission order, after
//! a configurable delay), and may fail. A crash loses every unacknowledged write, except that a
//! random prefix of them may already have reached the disk (the acknowledgement was what got
//! lost); a crash with database loss wipes everything.

use std::collections::VecDeque;

use crate::link::Millis;
use crate::rng::SimRng;

/// The durable image of a store: what a restarted server reads back.
pub trait DurableImage: Default {
    /// One storage record as the endpoint emits it.
    type Record: Clone;
    /// Makes `record` durable (overwriting whatever it replaces).
    fn apply(&mut self, record: &Self::Record);
}

/// Parameters of a store.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Minimum acknowledgement delay.
    pub ack_min: Millis,
    /// Maximum acknowledgement delay.
    pub ack_max: Millis,
    /// Probability that a write fails.
    pub fail: f64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            ack_min: 0,
            ack_max: 5,
            fail: 0.0,
        }
    }
}

#[derive(Clone, Debug)]
struct Pending<I, R> {
    id: I,
    record: R,
    at: Millis,
    fail: bool,
}

/// A completed write, to report with `handle_storage_done`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion<I> {
    /// The write's id.
    pub id: I,
    /// Whether it failed.
    pub failed: bool,
}

/// One server's store. `I` is the endpoint's write id, `D` the durable image.
#[derive(Debug)]
pub struct SimStorage<I, D: DurableImage> {
    cfg: StorageConfig,
    rng: SimRng,
    durable: D,
    pending: VecDeque<Pending<I, D::Record>>,
    last_ack: Millis,
    /// Writes acknowledged.
    pub acked: u64,
    /// Writes failed.
    pub failed: u64,
    /// Times the whole database was lost.
    pub wipes: u64,
}

impl<I: Clone + PartialEq, D: DurableImage> SimStorage<I, D> {
    /// An empty store.
    pub fn new(cfg: StorageConfig, rng: SimRng) -> Self {
        Self {
            cfg,
            rng,
            durable: D::default(),
            pending: VecDeque::new(),
            last_ack: 0,
            acked: 0,
            failed: 0,
            wipes: 0,
        }
    }

    /// Replaces the parameters.
    pub fn set_config(&mut self, cfg: StorageConfig) {
        self.cfg = cfg;
    }

    /// What is durable now.
    pub fn durable(&self) -> &D {
        &self.durable
    }

    /// Records submitted and not yet acknowledged, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &D::Record> {
        self.pending.iter().map(|p| &p.record)
    }

    /// Submits a write.
    pub fn submit(&mut self, now: Millis, id: I, record: D::Record) {
        let delay = self.rng.range(self.cfg.ack_min, self.cfg.ack_max);
        // Acknowledgements come back in submission order (one log, group commit).
        let at = (now + delay).max(self.last_ack);
        self.last_ack = at;
        let fail = self.rng.chance(self.cfg.fail);
        self.pending.push_back(Pending {
            id,
            record,
            at,
            fail,
        });
    }

    /// The earliest acknowledgement time.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.pending.front().map(|p| p.at)
    }

    /// The next write completed at or before `now`. A successful write is durable from here on.
    pub fn poll(&mut self, now: Millis) -> Option<Completion<I>> {
        if self.pending.front()?.at > now {
            return None;
        }
        let p = self.pending.pop_front()?;
        if p.fail {
            self.failed += 1;
        } else {
            self.durable.apply(&p.record);
            self.acked += 1;
        }
        Some(Completion {
            id: p.id,
            failed: p.fail,
        })
    }

    /// The server crashed. Unacknowledged writes are lost, except a random prefix of them that
    /// had already reached the disk. With `lose_database`, everything is gone.
    pub fn crash(&mut self, lose_database: bool) {
        if lose_database {
            self.durable = D::default();
            self.pending.clear();
            self.wipes += 1;
            return;
        }
        let n = u64::try_from(self.pending.len()).unwrap_or(0);
        let survive = self.rng.below(n + 1);
        for p in self
            .pending
            .drain(..)
            .take(usize::try_from(survive).unwrap_or(0))
        {
            if !p.fail {
                self.durable.apply(&p.record);
            }
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug)]
    struct Log(Vec<u32>);
    impl DurableImage for Log {
        type Record = u32;
        fn apply(&mut self, r: &u32) {
            self.0.push(*r);
        }
    }

    #[test]
    fn acks_in_order_and_only_then_durable() {
        let cfg = StorageConfig {
            ack_min: 0,
            ack_max: 100,
            fail: 0.0,
        };
        let mut st: SimStorage<u32, Log> = SimStorage::new(cfg, SimRng::new(3));
        for i in 0..20 {
            st.submit(u64::from(i), i, i);
        }
        assert!(st.durable().0.is_empty());
        let mut ids = Vec::new();
        while let Some(t) = st.next_wakeup() {
            while let Some(c) = st.poll(t) {
                assert_eq!(st.durable().0.last(), Some(&c.id));
                ids.push(c.id);
            }
        }
        assert_eq!(ids, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn crash_keeps_acked_and_a_prefix_of_pending() {
        let mut st: SimStorage<u32, Log> =
            SimStorage::new(StorageConfig::default(), SimRng::new(4));
        st.submit(0, 1, 1);
        while st.poll(1_000).is_some() {}
        for i in 2..10 {
            st.submit(2_000, i, i);
        }
        st.crash(false);
        let d = &st.durable().0;
        assert_eq!(d.first(), Some(&1));
        assert!(d.windows(2).all(|w| w[1] == w[0] + 1), "a prefix: {d:?}");
        assert!(st.next_wakeup().is_none());
        st.crash(true);
        assert!(st.durable().0.is_empty());
    }

    #[test]
    fn failed_writes_never_become_durable() {
        let cfg = StorageConfig {
            fail: 1.0,
            ..StorageConfig::default()
        };
        let mut st: SimStorage<u32, Log> = SimStorage::new(cfg, SimRng::new(5));
        st.submit(0, 1, 1);
        let c = st.poll(100).expect("completion");
        assert!(c.failed);
        assert!(st.durable().0.is_empty());
    }
}
