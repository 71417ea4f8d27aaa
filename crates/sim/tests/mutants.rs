//! The checker is not vacuous: a simulated DHCP server that disobeys the endpoint is caught
//! within 10,000 seeds (each sweep stops at its first violation).

use dhcpv6_sim::check::Invariant;
use dhcpv6_sim::scenario::Mutant;
use dhcpv6_sim::sweep;

fn caught(m: Mutant) -> (u64, Invariant) {
    let (run, failure) = sweep(0, 10_000, Some(m), true, dhcpv6_sim::test_threads());
    let Some((seed, v)) = failure else {
        panic!("mutant {m:?} survived {run} seeds");
    };
    println!("mutant {m:?} caught at seed {seed} after {run} seeds: {v}");
    (seed, v.invariant)
}

#[test]
fn ignore_mclt_is_caught() {
    let (_, inv) = caught(Mutant::IgnoreMclt);
    assert!(matches!(inv, Invariant::Mclt | Invariant::Safety), "{inv}");
}

#[test]
fn answer_when_unresponsive_is_caught() {
    let (_, inv) = caught(Mutant::AnswerWhenUnresponsive);
    assert_ne!(inv, Invariant::Livelock);
    assert_ne!(inv, Invariant::Endpoint);
}
