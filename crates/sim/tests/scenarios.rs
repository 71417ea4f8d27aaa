//! Named scenarios: each drives the pair through one failure story of RFC 7031 / RFC 8156 on a
//! fixed schedule, checks every invariant after every step (as every run does), and asserts
//! that the endpoints took the path the RFC describes.

use dhcpv6_failover::State::*;
use dhcpv6_sim::MAX_STEPS;
use dhcpv6_sim::link::Millis;
use dhcpv6_sim::scenario::{Action, SimConfig};
use dhcpv6_sim::world::World;

const PRIMARY: usize = 0;
const SECONDARY: usize = 1;

fn config(seed: u64, end: Millis, mut schedule: Vec<(Millis, Action)>) -> SimConfig {
    let mut c = SimConfig::quiet(seed, end);
    schedule.push((end, Action::EndFaults));
    c.schedule = schedule;
    c.trace = true;
    c
}

fn run(cfg: SimConfig) -> World {
    let mut w = World::new(cfg).expect("world starts");
    let r = w.drive_bounded(MAX_STEPS);
    if let Err(v) = r {
        let t: Vec<&String> = w
            .trace()
            .iter()
            .filter(|l| !l.contains("client") && !l.contains("CONTACT"))
            .collect();
        let from = t.len().saturating_sub(60);
        let lines: Vec<&str> = t[from..].iter().map(|l| l.as_str()).collect();
        panic!("{v}\n{}", lines.join("\n"));
    }
    w
}

fn history(w: &World) -> String {
    w.history
        .iter()
        .map(|(t, s, st)| format!("{:>7} {} {st:?}", t, if *s == 0 { "P" } else { "S" }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// RFC 7031 §5.1.1: the secondary crashes; the operator puts the primary in PARTNER-DOWN; the
/// secondary comes back, recovers (RECOVER → RECOVER-WAIT → RECOVER-DONE) and both return to
/// NORMAL.
#[test]
fn rfc7031_5_1_1_partner_crash_and_recovery() {
    let cfg = config(
        11,
        900_000,
        vec![
            (
                120_000,
                Action::Crash {
                    side: SECONDARY,
                    lose_database: false,
                    down_for: 300_000,
                },
            ),
            (200_000, Action::OperatorPartnerDown { side: PRIMARY }),
        ],
    );
    let w = run(cfg);
    let h = history(&w);
    assert!(
        w.visited_in_order(PRIMARY, &[Normal, PartnerDown, Normal]),
        "{h}"
    );
    assert!(
        w.visited_in_order(
            SECONDARY,
            &[Normal, Recover, RecoverWait, RecoverDone, Normal]
        ),
        "{h}"
    );
    assert!(w.ledger.grants > 0);
}

/// RFC 7031 §5.1.2: a partition; both sides notice and go to COMMUNICATIONS-INTERRUPTED,
/// keep serving with MCLT-bounded lifetimes, and return to NORMAL when the link heals.
#[test]
fn partition_both_communications_interrupted_then_healed() {
    let cfg = config(
        12,
        900_000,
        vec![(120_000, Action::Partition), (420_000, Action::Heal)],
    );
    let w = run(cfg);
    let h = history(&w);
    for side in [PRIMARY, SECONDARY] {
        assert!(
            w.visited_in_order(side, &[Normal, CommunicationsInterrupted, Normal]),
            "{h}"
        );
        assert!(!w.visited_in_order(side, &[PotentialConflict]), "{h}");
    }
}

/// A partition during which the operator (rightly believing the secondary down: it is cut off
/// from the clients too) puts the primary in PARTNER-DOWN. On reconnection both go to
/// POTENTIAL-CONFLICT; the primary sends UPDREQ, reaches CONFLICT-DONE, the secondary catches up
/// and both end in NORMAL.
#[test]
fn partition_with_partner_down_then_potential_conflict_resolution() {
    let cfg = config(
        13,
        1_200_000,
        vec![
            (120_000, Action::Isolate { side: SECONDARY }),
            (200_000, Action::OperatorPartnerDown { side: PRIMARY }),
            (600_000, Action::Unisolate { side: SECONDARY }),
        ],
    );
    let w = run(cfg);
    let h = history(&w);
    assert!(
        w.visited_in_order(
            PRIMARY,
            &[PartnerDown, PotentialConflict, ConflictDone, Normal]
        ),
        "{h}"
    );
    assert!(
        w.visited_in_order(
            SECONDARY,
            &[CommunicationsInterrupted, PotentialConflict, Normal]
        ),
        "{h}"
    );
    assert!(w.sent(PRIMARY, 28), "primary sent UPDREQ");
}

/// The secondary loses its whole database. It restarts with empty storage, goes to RECOVER,
/// asks for everything with UPDREQALL, waits out the MCLT and returns to NORMAL with the
/// bindings the primary had.
#[test]
fn recovery_after_total_database_loss_updreqall() {
    let cfg = config(
        14,
        900_000,
        vec![(
            300_000,
            Action::Crash {
                side: SECONDARY,
                lose_database: true,
                down_for: 30_000,
            },
        )],
    );
    let w = run(cfg);
    let h = history(&w);
    assert!(
        w.visited_in_order(SECONDARY, &[Recover, RecoverWait, RecoverDone, Normal]),
        "{h}"
    );
    assert!(w.sent(SECONDARY, 29), "secondary sent UPDREQALL");
    assert!(w.sent(PRIMARY, 30), "primary sent UPDDONE");
}

/// The secondary's clock jumps 20 s ahead: beyond the 5 s tolerance the partners must not
/// talk (ExcessiveTimeSkew); once the clock is fixed they reconnect and return to NORMAL.
#[test]
fn skew_beyond_tolerance_disconnects_until_fixed() {
    let cfg = config(
        15,
        900_000,
        vec![
            (
                120_000,
                Action::Skew {
                    side: SECONDARY,
                    offset_ms: 20_000,
                },
            ),
            (
                400_000,
                Action::Skew {
                    side: SECONDARY,
                    offset_ms: 1_000,
                },
            ),
        ],
    );
    let w = run(cfg);
    let h = history(&w);
    assert!(
        w.events_seen()
            .iter()
            .any(|e| e.contains("ExcessiveTimeSkew")),
        "no ExcessiveTimeSkew event: {:?}",
        w.events_seen()
    );
    for side in [PRIMARY, SECONDARY] {
        assert!(
            w.visited_in_order(side, &[Normal, CommunicationsInterrupted, Normal]),
            "{h}"
        );
    }
}

/// Prefix rebalancing: in NORMAL the secondary sends POOLREQ and the primary answers
/// POOLRESP; as the primary's clients use up its share of the delegable prefixes, prefixes move
/// between the partners with top-level IAPREFIX BNDUPDs (FREE-BACKUP to give, FREE to take
/// back); during a partition the secondary delegates prefixes from its own share.
#[test]
fn prefix_rebalancing_gives_the_secondary_its_share() {
    let mut cfg = config(
        16,
        900_000,
        vec![(400_000, Action::Partition), (600_000, Action::Heal)],
    );
    cfg.na_clients = 0;
    cfg.pd_clients = 12;
    cfg.prefixes = 16;
    let w = run(cfg);
    assert!(w.sent(SECONDARY, 26), "secondary sent POOLREQ");
    assert!(w.sent(PRIMARY, 27), "primary sent POOLRESP");
    let moved = w
        .trace()
        .iter()
        .any(|l| l.contains("primary -> BNDUPD") && l.contains(" pool]"));
    assert!(
        moved,
        "primary moved prefixes with top-level IAPREFIX BNDUPDs"
    );
    let served = w
        .trace()
        .iter()
        .any(|l| l.contains("Holds") && l.contains("Prefix") && l.contains("server: 1"));
    assert!(served, "the secondary delegated a prefix");
}

/// The primary restarts while the partner link is cut: its first connection attempts fail in
/// STARTUP. It must keep retrying, and both must reach NORMAL once the link heals.
/// (B12 in FINDINGS.md: the endpoint never retries after that first failure.)
#[test]
fn restart_during_partition_keeps_reconnecting() {
    let cfg = config(
        17,
        900_000,
        vec![
            (120_000, Action::Partition),
            (
                121_000,
                Action::Crash {
                    side: PRIMARY,
                    lose_database: false,
                    down_for: 5_000,
                },
            ),
            (300_000, Action::Heal),
        ],
    );
    let w = run(cfg);
    let h = history(&w);
    assert!(
        w.visited_in_order(PRIMARY, &[Startup, CommunicationsInterrupted, Normal]),
        "{h}"
    );
    let attempts = w
        .trace()
        .iter()
        .filter(|l| l.contains("primary event OpenConnection"))
        .count();
    assert!(attempts > 3, "the primary retried only {attempts} times");
}
