//! `seed → run` is a pure function: replaying a seed gives the same trace, line for line.

use dhcpv6_sim::{default_config, replay};

#[test]
fn replaying_a_seed_gives_the_same_trace() {
    for seed in [3, 4242, 99_999] {
        let (a, ra) = replay(default_config(seed, None));
        let (b, rb) = replay(default_config(seed, None));
        assert!(!a.is_empty());
        assert_eq!(a, b, "seed {seed} diverged");
        assert_eq!(
            ra.map(|s| (s.end, s.steps, s.grants)),
            rb.map(|s| (s.end, s.steps, s.grants))
        );
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let (a, _) = replay(default_config(1, None));
    let (b, _) = replay(default_config(2, None));
    assert_ne!(a, b);
}
