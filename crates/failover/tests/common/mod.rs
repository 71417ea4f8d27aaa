//! A back-to-back harness: two endpoints connected through their byte outputs, each with an
//! in-memory store that acknowledges writes, on a virtual clock.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by several integration tests"
)]

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use dhcpv6_failover::{
    AddressRange, Binding, ClientKey, Config, Duration, Endpoint, Event, Instant, LeaseChange,
    LeaseGrant, Now, PersistedEndpointState, PersistedState, PoolSet, PrefixPool, Resource,
    ResourceKind, Role, State, StorageRecord, StorageWrite, UnixTime,
};

pub const T0: u64 = 1_800_000_000;

pub fn addr(s: &str) -> Ipv6Addr {
    s.parse().expect("test address")
}

pub fn pools() -> PoolSet {
    PoolSet {
        addresses: vec![AddressRange::new(
            addr("2001:db8::1:0"),
            addr("2001:db8::1:ffff"),
        )],
        prefixes: vec![PrefixPool::new(addr("2001:db8:100::"), 40, 48)],
        ..PoolSet::default()
    }
}

pub fn config(role: Role) -> Config {
    let mut c = Config::new(role);
    c.mclt = Duration::from_secs(600);
    c.pools = pools();
    c.rng_seed = match role {
        Role::Primary => 1,
        Role::Secondary => 2,
    };
    c
}

/// One server: an endpoint plus its stable storage.
pub struct Node {
    pub ep: Endpoint,
    pub cfg: Config,
    pub endpoint_rec: Option<PersistedEndpointState>,
    pub bindings: BTreeMap<Resource, Binding>,
    /// Writes issued and not yet acknowledged (when `hold_storage`).
    pub held: Vec<StorageWrite>,
    pub hold_storage: bool,
    pub connected: bool,
    pub alive: bool,
    pub events: Vec<Event>,
    /// Clock skew of this node's wall clock, seconds (added to the pair's wall time).
    pub skew: i64,
    pub inbox: Vec<u8>,
}

impl Node {
    fn new(cfg: Config, now: Now) -> Self {
        let ep = Endpoint::new(cfg.clone(), now).expect("valid config");
        Self {
            ep,
            cfg,
            endpoint_rec: None,
            bindings: BTreeMap::new(),
            held: Vec::new(),
            hold_storage: false,
            connected: false,
            alive: true,
            events: Vec::new(),
            skew: 0,
            inbox: Vec::new(),
        }
    }

    pub fn state(&self) -> State {
        self.ep.state()
    }

    fn store(&mut self, w: &StorageWrite) {
        match &w.record {
            StorageRecord::EndpointState(s) => self.endpoint_rec = Some(s.clone()),
            StorageRecord::Binding(b) => {
                self.bindings.insert(b.resource, b.clone());
            }
        }
    }

    pub fn persisted(&self) -> PersistedState {
        PersistedState {
            endpoint: self.endpoint_rec.clone(),
            bindings: self.bindings.values().cloned().collect(),
        }
    }

    pub fn saw(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }
}

pub struct Pair {
    pub p: Node,
    pub s: Node,
    pub instant: Instant,
    pub wall: UnixTime,
    pub link_up: bool,
}

impl Pair {
    pub fn new() -> Self {
        Self::with_configs(config(Role::Primary), config(Role::Secondary))
    }

    pub fn with_configs(pc: Config, sc: Config) -> Self {
        let instant = Instant::ZERO;
        let wall = UnixTime::from_secs(T0);
        let now = Now::new(instant, wall);
        Self {
            p: Node::new(pc, now),
            s: Node::new(sc, now),
            instant,
            wall,
            link_up: true,
        }
    }

    pub fn now_of(&self, n: &Node) -> Now {
        let w = if n.skew >= 0 {
            self.wall + Duration::from_secs(n.skew.unsigned_abs())
        } else {
            self.wall - Duration::from_secs(n.skew.unsigned_abs())
        };
        Now::new(self.instant, w)
    }

    pub fn pnow(&self) -> Now {
        self.now_of(&self.p)
    }

    pub fn snow(&self) -> Now {
        self.now_of(&self.s)
    }

    fn node(&mut self, primary: bool) -> &mut Node {
        if primary { &mut self.p } else { &mut self.s }
    }

    /// Drains every output of both nodes until nothing moves. Returns whether anything did.
    pub fn settle(&mut self) -> bool {
        let mut any = false;
        for _ in 0..100_000 {
            let mut moved = false;
            for primary in [true, false] {
                let now = if primary { self.pnow() } else { self.snow() };
                // Inbox first.
                let inbox = std::mem::take(&mut self.node(primary).inbox);
                if !inbox.is_empty() {
                    moved = true;
                    let n = self.node(primary);
                    if n.connected && n.alive {
                        n.ep.handle_bytes(now, &inbox);
                    }
                }
                // Storage.
                loop {
                    let n = self.node(primary);
                    let Some(w) = n.ep.poll_storage() else { break };
                    moved = true;
                    if n.hold_storage {
                        n.held.push(w);
                    } else {
                        n.store(&w);
                        n.ep.handle_storage_done(now, w.id, Ok(()))
                            .expect("known write id");
                    }
                }
                // Transmits.
                loop {
                    let n = self.node(primary);
                    let Some(t) = n.ep.poll_transmit() else { break };
                    moved = true;
                    if std::env::var_os("PAIR_TRACE").is_some() {
                        let t0 = t.bytes.get(2).copied().unwrap_or(0);
                        eprintln!(
                            "{} {} sends type {t0} ({} bytes)",
                            now.instant,
                            if primary { "P" } else { "S" },
                            t.bytes.len()
                        );
                    }
                    let deliver = n.connected && self.link_up;
                    let other = self.node(!primary);
                    if deliver && other.connected && other.alive {
                        other.inbox.extend_from_slice(&t.bytes);
                    }
                }
                // Events.
                loop {
                    let n = self.node(primary);
                    let Some(e) = n.ep.poll_event() else { break };
                    moved = true;
                    if std::env::var_os("PAIR_TRACE").is_some() {
                        eprintln!("{} {}: {e:?}", now.instant, if primary { "P" } else { "S" });
                    }
                    n.events.push(e.clone());
                    match e {
                        Event::OpenConnection
                            if self.link_up
                                && self.s.alive
                                && self.p.alive
                                && !self.p.connected =>
                        {
                            self.p.connected = true;
                            self.s.connected = true;
                            let (pn, sn) = (self.pnow(), self.snow());
                            self.s.ep.handle_connection_up(sn);
                            self.p.ep.handle_connection_up(pn);
                        }
                        Event::CloseConnection { .. } => self.close(),
                        _ => {}
                    }
                }
            }
            if !moved {
                return any;
            }
            any = true;
        }
        panic!("livelock: outputs never settled");
    }

    pub fn close(&mut self) {
        let (pn, sn) = (self.pnow(), self.snow());
        // Deliver what is already queued (a DISCONNECT) first: TCP delivers it before the FIN.
        let link = self.link_up;
        for primary in [true, false] {
            let now = if primary { pn } else { sn };
            let n = self.node(primary);
            let inbox = std::mem::take(&mut n.inbox);
            if n.connected && n.alive && link && !inbox.is_empty() {
                n.ep.handle_bytes(now, &inbox);
            }
        }
        if self.p.connected {
            self.p.connected = false;
            self.p.inbox.clear();
            self.p.ep.handle_connection_down(pn);
        }
        if self.s.connected {
            self.s.connected = false;
            self.s.inbox.clear();
            self.s.ep.handle_connection_down(sn);
        }
    }

    /// Advances virtual time to `until`, firing timers on the way.
    pub fn run_until(&mut self, until: Instant) {
        self.settle();
        loop {
            let next = [
                self.p.ep.poll_timeout().filter(|_| self.p.alive),
                self.s.ep.poll_timeout().filter(|_| self.s.alive),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= until => {
                    let t = t.max(self.instant);
                    self.advance_to(t);
                    let (pn, sn) = (self.pnow(), self.snow());
                    if self.p.alive {
                        self.p.ep.handle_timeout(pn);
                    }
                    if self.s.alive {
                        self.s.ep.handle_timeout(sn);
                    }
                    self.settle();
                }
                _ => {
                    self.advance_to(until);
                    self.settle();
                    return;
                }
            }
        }
    }

    fn advance_to(&mut self, t: Instant) {
        if t > self.instant {
            let d = t.saturating_duration_since(self.instant);
            let n = Now::new(self.instant, self.wall).advance(d);
            self.instant = n.instant;
            self.wall = n.wall;
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.instant + d;
        self.run_until(until);
    }

    /// Runs until both reach the given states (or the time budget ends).
    pub fn run_until_states(&mut self, p: State, s: State, budget: Duration) -> bool {
        let end = self.instant + budget;
        while self.instant < end {
            if self.p.state() == p && self.s.state() == s {
                return true;
            }
            let step = Duration::from_secs(1);
            let until = (self.instant + step).min(end);
            self.run_until(until);
        }
        self.p.state() == p && self.s.state() == s
    }

    pub fn partition(&mut self) {
        self.link_up = false;
        self.close();
    }

    pub fn heal(&mut self) {
        self.link_up = true;
    }

    /// Crash a node: it loses unacknowledged writes and its connection.
    pub fn crash(&mut self, primary: bool) {
        self.close();
        let n = self.node(primary);
        n.alive = false;
        n.held.clear();
    }

    /// Restart a crashed node from its store (or from nothing when `lose_db`).
    pub fn restart(&mut self, primary: bool, lose_db: bool) {
        let now = if primary { self.pnow() } else { self.snow() };
        let n = self.node(primary);
        if lose_db {
            n.endpoint_rec = None;
            n.bindings.clear();
        }
        let ps = n.persisted();
        n.ep = Endpoint::restore(n.cfg.clone(), ps, now).expect("restore");
        n.alive = true;
        n.events.clear();
        self.settle();
    }

    /// The primary (or secondary) grants a lease through the endpoint.
    pub fn grant(
        &mut self,
        primary: bool,
        client: &ClientKey,
        kind: ResourceKind,
        desired: Duration,
    ) -> Option<(Resource, Duration)> {
        let now = if primary { self.pnow() } else { self.snow() };
        let n = self.node(primary);
        let r = n.ep.allocate(now, kind, client)?;
        let valid = n.ep.lease_bound(now, &r, desired);
        let mut g = LeaseGrant::new(client.clone(), r, valid);
        g.desired_valid = desired;
        n.ep.record_lease(now, LeaseChange::Granted(g)).ok()?;
        self.settle();
        Some((r, valid))
    }

    pub fn connect(&mut self) -> bool {
        // Start-up: the primary's OpenConnection event connects.
        self.run_until_states(State::Normal, State::Normal, Duration::from_secs(120))
    }
}

pub fn client(n: u8) -> ClientKey {
    ClientKey {
        duid: vec![0, 3, 0, 1, 2, 0, 0, 0, 0, n],
        iaid: u32::from(n),
    }
}

/// The states a node entered, from its StateChanged events.
pub fn path(n: &Node) -> Vec<State> {
    n.events
        .iter()
        .filter_map(|e| match e {
            Event::StateChanged { to, .. } => Some(*to),
            _ => None,
        })
        .collect()
}
