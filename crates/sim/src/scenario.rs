//! Run parameters and the fault schedule, all derived from one seed.

use crate::client::ClientConfig;
use crate::link::{DatagramConfig, LinkConfig, Millis, Side};
use crate::rng::SimRng;
use crate::storage::StorageConfig;

/// A deliberate disobedience of the simulated DHCP server, to show the checker is not vacuous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// Grant the desired lifetime, ignoring `lease_bound`.
    IgnoreMclt,
    /// Answer clients although the endpoint says it must not (`may_serve` false).
    AnswerWhenUnresponsive,
}

impl Mutant {
    /// Parses the command-line name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ignore-mclt" => Some(Self::IgnoreMclt),
            "answer-when-unresponsive" => Some(Self::AnswerWhenUnresponsive),
            _ => None,
        }
    }
}

/// A scheduled fault or operator action.
#[derive(Clone, Debug)]
pub enum Action {
    /// Cut the partner link (both servers still reach clients).
    Partition,
    /// Heal the partner link.
    Heal,
    /// Reset the partner connection.
    BreakConnection,
    /// Crash a server; it restarts after `down_for` (with an empty database if `lose_database`).
    Crash {
        /// Which server.
        side: Side,
        /// Whether its whole database is lost.
        lose_database: bool,
        /// Downtime.
        down_for: Millis,
    },
    /// Restart a crashed server.
    Restart {
        /// Which server.
        side: Side,
    },
    /// Set a server's wall-clock offset (milliseconds, may be negative).
    Skew {
        /// Which server.
        side: Side,
        /// Offset from true time.
        offset_ms: i64,
    },
    /// Cut a server off from the clients and the partner (it keeps running): the situation in
    /// which an operator may rightly declare it down.
    Isolate {
        /// Which server.
        side: Side,
    },
    /// Reconnect an isolated server.
    Unisolate {
        /// Which server.
        side: Side,
    },
    /// The operator tells `side` that its partner is down (only issued by the fault generator
    /// when the partner really is down or isolated).
    OperatorPartnerDown {
        /// Which server gets the command.
        side: Side,
    },
    /// Change the partner-link parameters.
    LinkParams(LinkConfig),
    /// Change the client-link parameters.
    ClientParams(DatagramConfig),
    /// Change both stores' parameters.
    StorageParams(StorageConfig),
    /// Arm a trap: the next time an endpoint enters POTENTIAL-CONFLICT (within 5 minutes),
    /// partition the link for `for_ms`.
    PartitionInPotentialConflict {
        /// How long the partition lasts.
        for_ms: Millis,
    },
    /// Faults end: heal, restart, fix clocks, stop clients; liveness is judged from here on.
    EndFaults,
}

/// Everything that defines a run besides the seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed.
    pub seed: u64,
    /// Clients with an IA_NA.
    pub na_clients: usize,
    /// Clients with an IA_PD.
    pub pd_clients: usize,
    /// Addresses in the pool (split between the servers).
    pub addresses: u32,
    /// Delegable prefixes in the pool.
    pub prefixes: u32,
    /// MCLT, seconds.
    pub mclt_secs: u64,
    /// FO_KEEPALIVE_TIME, seconds.
    pub keepalive_secs: u64,
    /// OPTION_F_MAX_UNACKED_BNDUPD each endpoint announces.
    pub max_unacked_bndupd: u32,
    /// The lifetime the DHCP server would like to give, seconds.
    pub desired_valid_secs: u64,
    /// Client behaviour.
    pub clients: ClientConfig,
    /// Initial partner link.
    pub link: LinkConfig,
    /// Initial client links.
    pub client_link: DatagramConfig,
    /// Initial storage.
    pub storage: StorageConfig,
    /// Initial clock offsets.
    pub skew_ms: [i64; 2],
    /// The fault schedule (time, action); must contain an [`Action::EndFaults`].
    pub schedule: Vec<(Millis, Action)>,
    /// How long after `EndFaults` both endpoints have to reach NORMAL with agreeing tables.
    pub settle_limit: Millis,
    /// The disobedient DHCP server, if any.
    pub mutant: Option<Mutant>,
    /// Keep a readable trace.
    pub trace: bool,
}

impl SimConfig {
    /// The same run without storage write failures (to look past the write-failure bugs).
    pub fn without_write_failures(mut self) -> Self {
        self.storage.fail = 0.0;
        for (_, a) in &mut self.schedule {
            if let Action::StorageParams(s) = a {
                s.fail = 0.0;
            }
        }
        self
    }

    /// A quiet run: no faults for `duration`, then the liveness phase.
    pub fn quiet(seed: u64, duration: Millis) -> Self {
        Self {
            seed,
            na_clients: 6,
            pd_clients: 3,
            addresses: 16,
            prefixes: 8,
            mclt_secs: 60,
            keepalive_secs: 30,
            max_unacked_bndupd: 10,
            desired_valid_secs: 300,
            clients: ClientConfig::default(),
            link: LinkConfig::default(),
            client_link: DatagramConfig::default(),
            storage: StorageConfig::default(),
            skew_ms: [0, 0],
            schedule: vec![(duration, Action::EndFaults)],
            settle_limit: 900_000,
            mutant: None,
            trace: false,
        }
    }

    /// The default fault mix for `seed`: a random population and pool size, random link,
    /// storage and clock parameters, and a random sequence of partitions, connection resets,
    /// crashes (some losing the whole database), skew excursions beyond the tolerance, and
    /// operator PARTNER-DOWN commands issued only when the partner really is down or cut off.
    pub fn random(seed: u64) -> Self {
        let mut r = SimRng::new(seed ^ 0x5EED_F00D);
        let mut c = Self::quiet(seed, 0);
        c.na_clients = usize::try_from(r.range(2, 10)).unwrap_or(4);
        c.pd_clients = usize::try_from(r.range(0, 5)).unwrap_or(2);
        // Small pools, so that resources are reused and contended.
        c.addresses = u32::try_from(r.range(6, 24)).unwrap_or(8);
        c.prefixes = u32::try_from(r.range(4, 12)).unwrap_or(6);
        c.mclt_secs = r.range(30, 120);
        c.desired_valid_secs = r.range(c.mclt_secs, 600);
        c.keepalive_secs = r.range(5, 60);
        c.max_unacked_bndupd = u32::try_from(r.range(1, 20)).unwrap_or(4);
        c.link = LinkConfig {
            latency_min: 1,
            latency_max: r.range(2, 200),
            break_per_transmit: if r.chance(0.3) { 0.002 } else { 0.0 },
            max_chunk: if r.chance(0.5) {
                usize::try_from(r.range(1, 64)).unwrap_or(8)
            } else {
                0
            },
            tcp_timeout: r.range(5_000, 60_000),
            connect_timeout: 3_000,
        };
        c.client_link = DatagramConfig {
            latency_min: 1,
            latency_max: r.range(2, 300),
            loss: if r.chance(0.5) { 0.05 } else { 0.0 },
            duplicate: if r.chance(0.5) { 0.05 } else { 0.0 },
        };
        c.storage = StorageConfig {
            ack_min: 0,
            ack_max: r.range(0, 500),
            fail: if r.chance(0.2) { 0.01 } else { 0.0 },
        };
        c.skew_ms = [
            r.range(0, 4_000) as i64 - 2_000,
            r.range(0, 4_000) as i64 - 2_000,
        ];
        let duration: Millis = r.range(300_000, 1_200_000);
        let mut t: Millis = 0;
        let mut sched = Vec::new();
        loop {
            t += r.range(20_000, 200_000);
            if t + 10_000 >= duration {
                break;
            }
            match r.below(10) {
                0 | 1 => {
                    let len = r.range(1_000, 400_000);
                    sched.push((t, Action::Partition));
                    sched.push((t + len, Action::Heal));
                    t += len;
                }
                2 => sched.push((t, Action::BreakConnection)),
                3 | 4 => {
                    let side = usize::from(r.chance(0.5));
                    let lose_database = r.chance(0.3);
                    let down_for = r.range(1_000, 600_000);
                    sched.push((
                        t,
                        Action::Crash {
                            side,
                            lose_database,
                            down_for,
                        },
                    ));
                    if r.chance(0.5) && down_for > 20_000 {
                        // The operator notices and declares the partner down.
                        let at = t + r.range(5_000, down_for - 10_000);
                        sched.push((at, Action::OperatorPartnerDown { side: 1 - side }));
                    }
                    t += down_for;
                }
                5 => {
                    let side = usize::from(r.chance(0.5));
                    let len = r.range(20_000, 600_000);
                    sched.push((t, Action::Isolate { side }));
                    if r.chance(0.6) {
                        let at = t + r.range(5_000, len.max(5_001) - 1);
                        sched.push((at, Action::OperatorPartnerDown { side: 1 - side }));
                    }
                    sched.push((t + len, Action::Unisolate { side }));
                    if r.chance(0.4) {
                        // The link fails again while the partners resolve conflicts
                        // (POTENTIAL-CONFLICT -> RESOLUTION-INTERRUPTED).
                        let for_ms = r.range(5_000, 120_000);
                        sched.push((t + len, Action::PartitionInPotentialConflict { for_ms }));
                    }
                    t += len + 130_000;
                }
                6 => {
                    // A clock excursion beyond the 5 s tolerance, then corrected.
                    let side = usize::from(r.chance(0.5));
                    let off = (r.range(6_000, 30_000) as i64) * if r.chance(0.5) { 1 } else { -1 };
                    let len = r.range(10_000, 200_000);
                    let back = r.range(0, 4_000) as i64 - 2_000;
                    sched.push((
                        t,
                        Action::Skew {
                            side,
                            offset_ms: off,
                        },
                    ));
                    sched.push((
                        t + len,
                        Action::Skew {
                            side,
                            offset_ms: back,
                        },
                    ));
                    t += len;
                }
                7 => {
                    let mut l = c.link.clone();
                    l.break_per_transmit = if r.chance(0.5) { 0.01 } else { 0.0 };
                    l.latency_max = r.range(2, 500);
                    sched.push((t, Action::LinkParams(l)));
                }
                8 => {
                    let mut s = c.storage.clone();
                    s.ack_max = r.range(0, 2_000);
                    s.fail = if r.chance(0.5) { 0.05 } else { 0.0 };
                    sched.push((t, Action::StorageParams(s)));
                }
                _ => {
                    let mut d = c.client_link.clone();
                    d.loss = if r.chance(0.5) {
                        r.range(0, 30) as f64 / 100.0
                    } else {
                        0.0
                    };
                    d.duplicate = if r.chance(0.5) { 0.1 } else { 0.0 };
                    sched.push((t, Action::ClientParams(d)));
                }
            }
        }
        sched.push((duration.max(t), Action::EndFaults));
        sched.sort_by_key(|(t, _)| *t);
        c.schedule = sched;
        c
    }
}
