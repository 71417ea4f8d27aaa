//! The checker is not vacuous: a simulated DHCP server that disobeys the endpoint is caught
//! within 10,000 seeds. A seed counts only if the same seed passes with an obedient server, so
//! the violation is the mutant's doing and not an endpoint bug; the search stops at the first.

use dhcpv6_sim::check::Invariant;
use dhcpv6_sim::scenario::Mutant;
use dhcpv6_sim::{default_config, run_seed};

fn caught(m: Mutant) -> (u64, Invariant) {
    for seed in 0..10_000 {
        if let Err(v) = run_seed(default_config(seed, Some(m)))
            && run_seed(default_config(seed, None)).is_ok()
        {
            println!("mutant {m:?} caught at seed {seed}: {v}");
            return (seed, v.invariant);
        }
    }
    panic!("mutant {m:?} survived 10,000 seeds");
}

#[test]
fn ignore_mclt_is_caught() {
    let (_, inv) = caught(Mutant::IgnoreMclt);
    assert!(matches!(inv, Invariant::Mclt | Invariant::Safety), "{inv}");
}

#[test]
fn answer_when_unresponsive_is_caught() {
    let (_, inv) = caught(Mutant::AnswerWhenUnresponsive);
    assert!(
        matches!(
            inv,
            Invariant::Safety | Invariant::Mclt | Invariant::Stability
        ),
        "{inv}"
    );
}
