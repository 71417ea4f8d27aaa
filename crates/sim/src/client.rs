//! A population of abstract DHCPv6 clients (RFC 8415 behaviour reduced to what failover cares
//! about): each client holds one IA (an IA_NA or an IA_PD) and goes through Solicit/Advertise,
//! Request/Reply, Renew at T1 to the server that granted the lease, Rebind at T2 to any server,
//! and Release or Decline; it may go silent for a while and come back.
//!
//! Clients report what they were actually told as [`Fact`]s; the checker judges the servers
//! from those facts only.

use std::fmt;
use std::net::Ipv6Addr;

use crate::link::{Millis, Side};
use crate::rng::SimRng;

/// Index of a client in the population.
pub type ClientId = usize;

/// A leasable resource as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Res {
    /// An address (IA_NA).
    Addr(Ipv6Addr),
    /// A delegated prefix (IA_PD).
    Prefix(Ipv6Addr, u8),
}

impl fmt::Display for Res {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(a) => write!(f, "{a}"),
            Self::Prefix(p, l) => write!(f, "{p}/{l}"),
        }
    }
}

/// The kind of IA a client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IaKind {
    /// IA_NA: one address.
    Na,
    /// IA_PD: one prefix.
    Pd,
}

/// Client message types (RFC 8415 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MsgKind {
    /// SOLICIT (multicast).
    Solicit,
    /// REQUEST (to the chosen server).
    Request,
    /// RENEW (to the server that granted the lease).
    Renew,
    /// REBIND (multicast).
    Rebind,
    /// RELEASE (to the server that granted the lease).
    Release,
    /// DECLINE (to the server that granted the lease).
    Decline,
}

/// A message from a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMsg {
    /// Sender.
    pub client: ClientId,
    /// Transaction id (replies echo it).
    pub xid: u32,
    /// Message type.
    pub kind: MsgKind,
    /// `Some(server)` when it carries that server's OPTION_SERVERID; `None` for multicast.
    pub to: Option<Side>,
    /// The IA's kind.
    pub ia: IaKind,
    /// The lease it asks for, renews, releases or declines.
    pub res: Option<Res>,
}

/// What a server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyBody {
    /// ADVERTISE offering `res`.
    Advertise {
        /// Offered resource.
        res: Res,
    },
    /// REPLY binding `res` for `valid` seconds (T1, T2 relative, seconds).
    Bound {
        /// The resource.
        res: Res,
        /// Valid lifetime, seconds.
        valid: u32,
        /// T1, seconds.
        t1: u32,
        /// T2, seconds.
        t2: u32,
    },
    /// REPLY with status NoBinding for `res`, or the resource with lifetime 0 ("not yours").
    NotYours {
        /// The resource.
        res: Res,
    },
    /// REPLY/ADVERTISE with NoAddrsAvail / NoPrefixAvail.
    NoneAvailable,
    /// REPLY to RELEASE / DECLINE.
    Done,
}

/// A message from a server to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerMsg {
    /// Which server.
    pub server: Side,
    /// Destination.
    pub client: ClientId,
    /// Echoed transaction id.
    pub xid: u32,
    /// Content.
    pub body: ReplyBody,
}

/// What a client was told or did, as the checker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// The client may use `res` until `until` (virtual ms), as told by `server`.
    Holds {
        /// The client.
        client: ClientId,
        /// The resource.
        res: Res,
        /// End of validity, virtual ms (from receipt of the Reply).
        until: Millis,
        /// Granting server.
        server: Side,
    },
    /// The client stopped using `res` (release, decline, expiry, refusal).
    Stops {
        /// The client.
        client: ClientId,
        /// The resource.
        res: Res,
    },
    /// `server` told the client that a lease it holds is not its own.
    Refused {
        /// The client.
        client: ClientId,
        /// The resource.
        res: Res,
        /// Until when the client had it.
        held_until: Millis,
        /// The refusing server.
        server: Side,
    },
}

/// What a client step produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOut {
    /// Send a message.
    Send(ClientMsg),
    /// Record a fact.
    Fact(Fact),
}

/// Behaviour knobs for the population.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Probability of releasing at T1 instead of renewing.
    pub release: f64,
    /// Probability of declining right after a new lease.
    pub decline: f64,
    /// Probability, at each T1, of going silent.
    pub silent: f64,
    /// How long a silent client stays away (min, max).
    pub silent_for: (Millis, Millis),
    /// Pause before soliciting again after losing or giving up a lease (min, max).
    pub idle_for: (Millis, Millis),
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            release: 0.05,
            decline: 0.02,
            silent: 0.05,
            silent_for: (10_000, 600_000),
            idle_for: (1_000, 60_000),
        }
    }
}

/// The lease a client holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The resource.
    pub res: Res,
    /// The server whose Reply gave it.
    pub server: Side,
    /// When it was obtained or last extended.
    pub since: Millis,
    /// End of validity.
    pub expires: Millis,
    /// When to renew.
    pub t1_at: Millis,
    /// When to rebind.
    pub t2_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Soliciting {
        adverts: Vec<(Side, Res)>,
        decide_at: Option<Millis>,
    },
    Requesting {
        server: Side,
        res: Res,
        tries: u32,
    },
    Bound,
    Renewing,
    Rebinding,
    Silent {
        until: Millis,
    },
    Stopped,
}

/// One simulated client.
#[derive(Clone, Debug)]
pub struct Client {
    /// Index.
    pub id: ClientId,
    /// IA kind.
    pub ia: IaKind,
    /// DUID bytes.
    pub duid: Vec<u8>,
    /// IAID.
    pub iaid: u32,
    /// Current lease, if any.
    pub lease: Option<Lease>,
    phase: Phase,
    next_at: Millis,
    xid: u32,
    rt: Millis,
}

const RT_INITIAL: Millis = 1_000;
const RT_MAX: Millis = 16_000;

impl Client {
    /// A new idle client that will first solicit at `start`.
    pub fn new(id: ClientId, ia: IaKind, start: Millis) -> Self {
        // DUID-LL (type 3, hardware type 1) with a made-up MAC derived from the index.
        let idb = u32::try_from(id).unwrap_or(u32::MAX).to_be_bytes();
        let duid = vec![0, 3, 0, 1, 0x02, 0x00, idb[0], idb[1], idb[2], idb[3]];
        Self {
            id,
            ia,
            duid,
            iaid: match ia {
                IaKind::Na => 1,
                IaKind::Pd => 2,
            },
            lease: None,
            phase: Phase::Idle,
            next_at: start,
            xid: 0,
            rt: RT_INITIAL,
        }
    }

    /// Short phase name for traces.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Idle => "idle",
            Phase::Soliciting { .. } => "soliciting",
            Phase::Requesting { .. } => "requesting",
            Phase::Bound => "bound",
            Phase::Renewing => "renewing",
            Phase::Rebinding => "rebinding",
            Phase::Silent { .. } => "silent",
            Phase::Stopped => "stopped",
        }
    }

    /// When this client next wants to act.
    pub fn next_wakeup(&self) -> Option<Millis> {
        (self.phase != Phase::Stopped).then_some(self.next_at)
    }

    /// Stops all activity for good (the liveness phase). The lease, if any, is kept and simply
    /// runs out; the client no longer uses it after it expires.
    pub fn stop(&mut self) {
        self.phase = Phase::Stopped;
    }

    fn new_xid(&mut self, rng: &mut SimRng) -> u32 {
        self.xid = u32::try_from(rng.below(1 << 24)).unwrap_or(0);
        self.rt = RT_INITIAL;
        self.xid
    }

    fn msg(&self, kind: MsgKind, to: Option<Side>, res: Option<Res>) -> ClientMsg {
        ClientMsg {
            client: self.id,
            xid: self.xid,
            kind,
            to,
            ia: self.ia,
            res,
        }
    }

    fn backoff(&mut self, now: Millis, rng: &mut SimRng) -> Millis {
        // RFC 8415 §15: RT doubles up to MRT, with ±10% jitter.
        let jitter = rng.range(0, self.rt / 5);
        let at = now + self.rt - self.rt / 10 + jitter;
        self.rt = (self.rt * 2).min(RT_MAX);
        at
    }

    fn lose_lease(
        &mut self,
        now: Millis,
        rng: &mut SimRng,
        cfg: &ClientConfig,
        out: &mut Vec<ClientOut>,
    ) {
        if let Some(l) = self.lease.take() {
            out.push(ClientOut::Fact(Fact::Stops {
                client: self.id,
                res: l.res,
            }));
        }
        self.phase = Phase::Idle;
        self.next_at = now + rng.range(cfg.idle_for.0, cfg.idle_for.1);
    }

    fn start_solicit(&mut self, now: Millis, rng: &mut SimRng, out: &mut Vec<ClientOut>) {
        self.new_xid(rng);
        self.phase = Phase::Soliciting {
            adverts: Vec::new(),
            decide_at: None,
        };
        out.push(ClientOut::Send(self.msg(MsgKind::Solicit, None, None)));
        self.next_at = self.backoff(now, rng);
    }

    fn start_renew(&mut self, now: Millis, rng: &mut SimRng, out: &mut Vec<ClientOut>) {
        let Some(l) = self.lease.clone() else { return };
        self.new_xid(rng);
        self.phase = Phase::Renewing;
        out.push(ClientOut::Send(self.msg(
            MsgKind::Renew,
            Some(l.server),
            Some(l.res),
        )));
        self.next_at = self.backoff(now, rng).min(l.t2_at.max(now + 1));
    }

    fn start_rebind(&mut self, now: Millis, rng: &mut SimRng, out: &mut Vec<ClientOut>) {
        let Some(l) = self.lease.clone() else { return };
        self.new_xid(rng);
        self.phase = Phase::Rebinding;
        out.push(ClientOut::Send(self.msg(
            MsgKind::Rebind,
            None,
            Some(l.res),
        )));
        self.next_at = self.backoff(now, rng).min(l.expires.max(now + 1));
    }

    /// The client's timer fired.
    pub fn on_timer(
        &mut self,
        now: Millis,
        rng: &mut SimRng,
        cfg: &ClientConfig,
    ) -> Vec<ClientOut> {
        let mut out = Vec::new();
        if now < self.next_at || self.phase == Phase::Stopped {
            return out;
        }
        // A lease that ran out is gone, whatever the client was doing.
        if self.lease.as_ref().is_some_and(|l| l.expires <= now) {
            let silent = matches!(self.phase, Phase::Silent { .. });
            if let Some(l) = self.lease.take() {
                out.push(ClientOut::Fact(Fact::Stops {
                    client: self.id,
                    res: l.res,
                }));
            }
            if !silent {
                self.phase = Phase::Idle;
            }
        }
        match self.phase.clone() {
            Phase::Idle => self.start_solicit(now, rng, &mut out),
            Phase::Soliciting { adverts, decide_at } => {
                if decide_at.is_some_and(|d| d <= now) {
                    // Pick the first advertise (servers do not set preferences here).
                    if let Some((server, res)) = adverts.first().copied() {
                        self.new_xid(rng);
                        self.phase = Phase::Requesting {
                            server,
                            res,
                            tries: 1,
                        };
                        out.push(ClientOut::Send(self.msg(
                            MsgKind::Request,
                            Some(server),
                            Some(res),
                        )));
                        self.next_at = self.backoff(now, rng);
                        return out;
                    }
                }
                // Retransmit the Solicit with the same xid.
                out.push(ClientOut::Send(self.msg(MsgKind::Solicit, None, None)));
                self.next_at = self.backoff(now, rng);
            }
            Phase::Requesting { server, res, tries } => {
                if tries >= 6 {
                    self.start_solicit(now, rng, &mut out);
                } else {
                    self.phase = Phase::Requesting {
                        server,
                        res,
                        tries: tries + 1,
                    };
                    out.push(ClientOut::Send(self.msg(
                        MsgKind::Request,
                        Some(server),
                        Some(res),
                    )));
                    self.next_at = self.backoff(now, rng);
                }
            }
            Phase::Bound => {
                let Some(l) = self.lease.clone() else {
                    self.lose_lease(now, rng, cfg, &mut out);
                    return out;
                };
                if rng.chance(cfg.release) {
                    // RFC 8415 §18.2.7: the client stops using the lease when it sends Release.
                    self.new_xid(rng);
                    out.push(ClientOut::Send(self.msg(
                        MsgKind::Release,
                        Some(l.server),
                        Some(l.res),
                    )));
                    self.lose_lease(now, rng, cfg, &mut out);
                } else if rng.chance(cfg.silent) {
                    let until = now + rng.range(cfg.silent_for.0, cfg.silent_for.1);
                    self.phase = Phase::Silent { until };
                    self.next_at = until;
                } else {
                    self.start_renew(now, rng, &mut out);
                }
            }
            Phase::Renewing => {
                let Some(l) = self.lease.clone() else {
                    self.lose_lease(now, rng, cfg, &mut out);
                    return out;
                };
                if now >= l.t2_at {
                    self.start_rebind(now, rng, &mut out);
                } else {
                    out.push(ClientOut::Send(self.msg(
                        MsgKind::Renew,
                        Some(l.server),
                        Some(l.res),
                    )));
                    self.next_at = self.backoff(now, rng).min(l.t2_at);
                }
            }
            Phase::Rebinding => {
                let Some(l) = self.lease.clone() else {
                    self.lose_lease(now, rng, cfg, &mut out);
                    return out;
                };
                out.push(ClientOut::Send(self.msg(
                    MsgKind::Rebind,
                    None,
                    Some(l.res),
                )));
                self.next_at = self.backoff(now, rng).min(l.expires);
            }
            Phase::Silent { until } => {
                if now >= until {
                    match self.lease.clone() {
                        // Back on the link with a lease it still holds: extend it.
                        Some(l) if now < l.t2_at => self.start_renew(now, rng, &mut out),
                        Some(_) => self.start_rebind(now, rng, &mut out),
                        None => self.start_solicit(now, rng, &mut out),
                    }
                } else {
                    self.next_at = until;
                }
            }
            Phase::Stopped => {}
        }
        out
    }

    /// A server message arrived.
    pub fn on_reply(
        &mut self,
        now: Millis,
        msg: &ServerMsg,
        rng: &mut SimRng,
        cfg: &ClientConfig,
    ) -> Vec<ClientOut> {
        let mut out = Vec::new();
        if msg.xid != self.xid
            || matches!(
                self.phase,
                Phase::Stopped | Phase::Silent { .. } | Phase::Idle
            )
        {
            return out;
        }
        match (&mut self.phase, &msg.body) {
            (Phase::Soliciting { adverts, decide_at }, ReplyBody::Advertise { res }) => {
                adverts.push((msg.server, *res));
                // Collect advertises for a short while (RFC 8415 §18.2.1: first RT).
                if decide_at.is_none() {
                    *decide_at = Some(now + 200);
                    self.next_at = now + 200;
                }
            }
            (
                Phase::Requesting { server, res, .. },
                ReplyBody::Bound {
                    res: got,
                    valid,
                    t1,
                    t2,
                },
            ) if *server == msg.server && res == got => {
                let (server, res) = (*server, *res);
                if *valid == 0 {
                    self.start_solicit(now, rng, &mut out);
                    return out;
                }
                self.bind(now, server, res, *valid, *t1, *t2, &mut out);
                if rng.chance(cfg.decline) {
                    self.new_xid(rng);
                    out.push(ClientOut::Send(self.msg(
                        MsgKind::Decline,
                        Some(server),
                        Some(res),
                    )));
                    self.lose_lease(now, rng, cfg, &mut out);
                }
            }
            (
                Phase::Requesting { server, .. },
                ReplyBody::NoneAvailable | ReplyBody::NotYours { .. },
            ) if *server == msg.server => {
                self.lose_lease(now, rng, cfg, &mut out);
            }
            (Phase::Renewing | Phase::Rebinding, ReplyBody::Bound { res, valid, t1, t2 }) => {
                let Some(l) = self.lease.clone() else {
                    return out;
                };
                if *res != l.res {
                    return out;
                }
                if *valid == 0 {
                    self.refused(now, msg.server, rng, cfg, &mut out);
                } else {
                    self.bind(now, msg.server, *res, *valid, *t1, *t2, &mut out);
                }
            }
            (Phase::Renewing | Phase::Rebinding, ReplyBody::NotYours { res })
                if self.lease.as_ref().is_some_and(|l| l.res == *res) =>
            {
                self.refused(now, msg.server, rng, cfg, &mut out);
            }
            _ => {}
        }
        out
    }

    fn refused(
        &mut self,
        now: Millis,
        server: Side,
        rng: &mut SimRng,
        cfg: &ClientConfig,
        out: &mut Vec<ClientOut>,
    ) {
        if let Some(l) = &self.lease {
            out.push(ClientOut::Fact(Fact::Refused {
                client: self.id,
                res: l.res,
                held_until: l.expires,
                server,
            }));
        }
        self.lose_lease(now, rng, cfg, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        now: Millis,
        server: Side,
        res: Res,
        valid: u32,
        t1: u32,
        t2: u32,
        out: &mut Vec<ClientOut>,
    ) {
        let valid_ms = Millis::from(valid) * 1000;
        let t1_ms = Millis::from(t1) * 1000;
        let t2_ms = Millis::from(t2).max(Millis::from(t1)) * 1000;
        let lease = Lease {
            res,
            server,
            since: now,
            expires: now + valid_ms,
            t1_at: now + t1_ms.min(valid_ms),
            t2_at: now + t2_ms.min(valid_ms),
        };
        out.push(ClientOut::Fact(Fact::Holds {
            client: self.id,
            res,
            until: lease.expires,
            server,
        }));
        self.next_at = lease.t1_at;
        self.lease = Some(lease);
        self.phase = Phase::Bound;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends(out: &[ClientOut]) -> Vec<ClientMsg> {
        out.iter()
            .filter_map(|o| match o {
                ClientOut::Send(m) => Some(m.clone()),
                ClientOut::Fact(_) => None,
            })
            .collect()
    }

    #[test]
    fn solicit_request_renew_rebind_expire() {
        let cfg = ClientConfig {
            release: 0.0,
            decline: 0.0,
            silent: 0.0,
            ..ClientConfig::default()
        };
        let mut rng = SimRng::new(1);
        let mut c = Client::new(0, IaKind::Na, 0);
        let res = Res::Addr(Ipv6Addr::LOCALHOST);
        let out = c.on_timer(0, &mut rng, &cfg);
        let s = sends(&out);
        assert_eq!(s[0].kind, MsgKind::Solicit);
        let xid = s[0].xid;
        c.on_reply(
            10,
            &ServerMsg {
                server: 1,
                client: 0,
                xid,
                body: ReplyBody::Advertise { res },
            },
            &mut rng,
            &cfg,
        );
        let out = c.on_timer(c.next_wakeup().expect("decide"), &mut rng, &cfg);
        let s = sends(&out);
        assert_eq!((s[0].kind, s[0].to), (MsgKind::Request, Some(1)));
        let body = ReplyBody::Bound {
            res,
            valid: 100,
            t1: 50,
            t2: 80,
        };
        let out = c.on_reply(
            300,
            &ServerMsg {
                server: 1,
                client: 0,
                xid: s[0].xid,
                body,
            },
            &mut rng,
            &cfg,
        );
        assert!(out.contains(&ClientOut::Fact(Fact::Holds {
            client: 0,
            res,
            until: 100_300,
            server: 1
        })));
        assert_eq!(c.next_wakeup(), Some(50_300));
        let s = sends(&c.on_timer(50_300, &mut rng, &cfg));
        assert_eq!((s[0].kind, s[0].to), (MsgKind::Renew, Some(1)));
        // No answer: keep renewing until T2, then rebind, then expire.
        let mut kinds = Vec::new();
        let mut stopped = false;
        while let Some(t) = c.next_wakeup() {
            if t > 200_000 {
                break;
            }
            for o in c.on_timer(t, &mut rng, &cfg) {
                match o {
                    ClientOut::Send(m) => kinds.push(m.kind),
                    ClientOut::Fact(Fact::Stops { .. }) => stopped = true,
                    ClientOut::Fact(_) => {}
                }
            }
            if stopped {
                break;
            }
        }
        assert!(kinds.contains(&MsgKind::Renew) && kinds.contains(&MsgKind::Rebind));
        assert!(stopped);
    }
}
