//! The invariant checker's client-side ledger: who was told they may use what, until when.
//!
//! Safety is judged only from what clients were actually told ([`Fact`]s), never from the
//! endpoints' own bookkeeping.

use std::collections::BTreeMap;
use std::fmt;

use crate::client::{ClientId, Fact, Res};
use crate::link::{Millis, Side};

/// The invariants of the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// (1) No address or prefix valid for two different clients at overlapping times.
    Safety,
    /// (2) Every lifetime granted respects the MCLT bound of the state it was granted in.
    Mclt,
    /// (3) A client that keeps renewing while a server is responsive keeps its lease.
    Stability,
    /// (4) Once faults stop, both endpoints reach NORMAL and their binding tables agree.
    Liveness,
    /// (5) Nothing that must follow stable storage leaves before its write is acknowledged.
    Durability,
    /// The run never goes idle (time stops advancing).
    Livelock,
    /// The endpoint reported caller misuse for a correct call, or behaved inconsistently.
    Endpoint,
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Safety => "1-safety",
            Self::Mclt => "2-mclt",
            Self::Stability => "3-stability",
            Self::Liveness => "4-liveness",
            Self::Durability => "5-durability",
            Self::Livelock => "livelock",
            Self::Endpoint => "endpoint",
        })
    }
}

/// A violated invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which one.
    pub invariant: Invariant,
    /// Virtual time.
    pub at: Millis,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant {} violated at t={}.{:03}s: {}",
            self.invariant,
            self.at / 1000,
            self.at % 1000,
            self.detail
        )
    }
}

#[derive(Clone, Debug)]
struct Holding {
    client: ClientId,
    until: Millis,
    server: Side,
}

/// Current holders of every resource.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    holders: BTreeMap<Res, Vec<Holding>>,
    /// Tolerance for overlaps: client-link latency and whole-second rounding.
    pub tolerance: Millis,
    /// Grants seen.
    pub grants: u64,
}

impl Ledger {
    /// An empty ledger with the given overlap tolerance.
    pub fn new(tolerance: Millis) -> Self {
        Self {
            holders: BTreeMap::new(),
            tolerance,
            grants: 0,
        }
    }

    /// Until when `client` holds `res` (if it does at `now`).
    pub fn held_until(&self, client: ClientId, res: &Res, now: Millis) -> Option<Millis> {
        self.holders
            .get(res)?
            .iter()
            .find(|h| h.client == client && h.until > now)
            .map(|h| h.until)
    }

    /// Applies a fact observed at `now`; `extra` widens the overlap tolerance (recent forward
    /// steps of a server's wall clock, which shorten every lease that server knows of).
    pub fn apply(&mut self, now: Millis, fact: &Fact, extra: Millis) -> Result<(), Violation> {
        match fact {
            Fact::Holds {
                client,
                res,
                until,
                server,
            } => {
                self.grants += 1;
                let list = self.holders.entry(*res).or_default();
                list.retain(|h| h.until > now);
                if let Some(other) = list
                    .iter()
                    .find(|h| h.client != *client && h.until > now + self.tolerance + extra)
                {
                    return Err(Violation {
                        invariant: Invariant::Safety,
                        at: now,
                        detail: format!(
                            "{res} granted to client {client} by server {} until t={}ms while client {} holds it until t={}ms (granted by server {})",
                            side_name(*server),
                            until,
                            other.client,
                            other.until,
                            side_name(other.server)
                        ),
                    });
                }
                list.retain(|h| h.client != *client);
                list.push(Holding {
                    client: *client,
                    until: *until,
                    server: *server,
                });
            }
            Fact::Stops { client, res } | Fact::Refused { client, res, .. } => {
                if let Some(list) = self.holders.get_mut(res) {
                    list.retain(|h| h.client != *client && h.until > now);
                }
            }
        }
        Ok(())
    }
}

/// "primary" or "secondary".
pub fn side_name(side: Side) -> &'static str {
    if side == 0 { "primary" } else { "secondary" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn holds(client: usize, until: Millis, server: Side) -> Fact {
        Fact::Holds {
            client,
            res: Res::Addr(Ipv6Addr::LOCALHOST),
            until,
            server,
        }
    }

    #[test]
    fn overlapping_grants_to_two_clients_are_caught() {
        let res = Res::Addr(Ipv6Addr::LOCALHOST);
        let mut l = Ledger::new(1_000);
        l.apply(0, &holds(1, 60_000, 0), 0).expect("first");
        // The same client renewing is fine.
        l.apply(30_000, &holds(1, 90_000, 1), 0).expect("renew");
        let v = l
            .apply(40_000, &holds(2, 100_000, 0), 0)
            .expect_err("overlap");
        assert_eq!(v.invariant, Invariant::Safety);
        // A recent clock step widens the tolerance.
        l.apply(40_000, &holds(2, 100_000, 0), 60_000)
            .expect("clock step allowance");
        l.apply(40_001, &holds(1, 90_000, 1), 0)
            .expect_err("overlap again");
        // Within the tolerance at the end of the old lease: fine.
        l.apply(89_500, &holds(2, 150_000, 0), 0)
            .expect("tolerated");
        // After a release: fine.
        l.apply(100_000, &Fact::Stops { client: 2, res }, 0)
            .expect("stop");
        l.apply(100_001, &holds(3, 150_000, 1), 0)
            .expect("after release");
    }
}
