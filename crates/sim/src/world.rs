//! The simulated world: two failover endpoints embedded in two simulated DHCP servers, their
//! stores and clocks, the partner link, the client links and the client population, all on one
//! virtual timeline and driven from one seed.
//!
//! Each [`World::step`] jumps to the earliest wake-up of any component, delivers everything due
//! at that instant in a fixed order, drains every endpoint output after every input, and then
//! checks the invariants. [`World::drive_bounded`] steps until the liveness phase succeeds or an invariant
//! fails; it also fails a run that stops advancing time (livelock).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv6Addr;

use dhcpv6_failover as fo;
use fo::{Binding, BindingStatus, ClientKey, Endpoint, Resource, ResourceKind, State};

use crate::check::{Invariant, Ledger, Violation, side_name};
use crate::client::{
    Client, ClientMsg, ClientOut, Fact, IaKind, MsgKind, ReplyBody, Res, ServerMsg,
};
use crate::link::{Datagrams, LinkDelivery, Millis, PartnerLink, Side, peer};
use crate::observe::{Observed, StreamObserver};
use crate::rng::SimRng;
use crate::scenario::{Action, Mutant, SimConfig};
use crate::storage::{DurableImage, SimStorage};

/// Unix time of virtual time zero.
pub const EPOCH_UNIX: u64 = 1_800_000_000;

/// At most this many steps at one virtual instant before the run counts as a livelock.
const MAX_STEPS_PER_INSTANT: u32 = 20_000;

/// The durable image of one server's store, as `Endpoint::restore` wants it back.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// The latest endpoint-state record.
    pub endpoint: Option<fo::PersistedEndpointState>,
    /// The latest record of every binding.
    pub bindings: BTreeMap<Resource, Binding>,
}

impl DurableImage for Image {
    type Record = fo::StorageRecord;
    fn apply(&mut self, record: &fo::StorageRecord) {
        match record {
            fo::StorageRecord::EndpointState(s) => self.endpoint = Some(s.clone()),
            fo::StorageRecord::Binding(b) => {
                self.bindings.insert(b.resource, b.clone());
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
}

impl Image {
    /// What a restarted server reads back.
    pub fn persisted(&self) -> fo::PersistedState {
        fo::PersistedState {
            endpoint: self.endpoint.clone(),
            bindings: self.bindings.values().cloned().collect(),
        }
    }
}

/// Converts a failover resource into the clients' view.
pub fn to_res(r: &Resource) -> Res {
    match r {
        Resource::Address(a) => Res::Addr(*a),
        Resource::Prefix { prefix, len } => Res::Prefix(*prefix, *len),
    }
}

/// Converts a client's resource into the failover type.
pub fn from_res(r: &Res) -> Resource {
    match r {
        Res::Addr(a) => Resource::Address(*a),
        Res::Prefix(p, l) => Resource::Prefix {
            prefix: *p,
            len: *l,
        },
    }
}

/// One storage write as the checker remembers it.
#[derive(Clone, Debug)]
struct WriteNote {
    id: fo::WriteId,
    resource: Option<Resource>,
    /// The input (counter) whose drain emitted it.
    batch: u64,
    done: Option<bool>,
}

/// A client Reply waiting for the lease write it depends on.
#[derive(Clone, Debug)]
struct HeldReply {
    write: fo::WriteId,
    msg: ServerMsg,
}

/// One simulated DHCP server: the endpoint it embeds, its store, its clock.
pub struct Server {
    /// 0 = primary, 1 = secondary.
    pub side: Side,
    /// The endpoint, `None` while crashed.
    pub ep: Option<Endpoint>,
    /// Its store.
    pub store: SimStorage<fo::WriteId, Image>,
    /// Wall-clock offset from true time, ms.
    pub skew_ms: i64,
    /// When it restarts, if crashed.
    pub restart_at: Option<Millis>,
    /// Whether the next restart starts from an empty database.
    lose_database: bool,
    /// Restarted with an empty database and not yet rebuilt from the partner (no update request
    /// completed since).
    rebuilding: bool,
    /// Has served in PARTNER-DOWN (grants without the MCLT bound) and not yet been seen in
    /// NORMAL with every update acked by the partner.
    pd_unsynced: bool,
    /// Cut off from clients and partner.
    pub isolated: bool,
    /// The partner is in PARTNER-DOWN and this server has not yet learned it (it must not serve:
    /// "while one server is in PARTNER-DOWN the other must not be operating").
    pub fenced: bool,
    out_obs: StreamObserver,
    in_obs: StreamObserver,
    writes: Vec<WriteNote>,
    bndupd_batch: BTreeMap<u32, u64>,
    held_replies: Vec<HeldReply>,
    /// Last state seen.
    pub state: Option<State>,
    next_expiry_scan: Millis,
    state_window: (Millis, u32),
}

/// The final figures of a run.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Virtual time at the end, ms.
    pub end: Millis,
    /// Steps taken.
    pub steps: u64,
    /// Leases granted to clients.
    pub grants: u64,
    /// Partner connections established.
    pub connections: u64,
    /// Virtual ms from the end of faults to both NORMAL with agreeing tables.
    pub settle_time: Millis,
    /// Bit `v` set: some endpoint was in the state with wire value `v` (1..=10).
    pub states_visited: u16,
    /// Bit `t - 24` set: some endpoint sent a message of type `t` (24..=35).
    pub messages_sent: u16,
}

/// The whole simulation.
pub struct World {
    /// Parameters.
    pub cfg: SimConfig,
    /// Virtual time, ms.
    pub now: Millis,
    rng: SimRng,
    /// The two servers.
    pub servers: [Server; 2],
    /// The failover connection.
    pub link: PartnerLink,
    to_servers: Datagrams<(Side, ClientMsg)>,
    to_clients: Datagrams<ServerMsg>,
    /// The clients.
    pub clients: Vec<Client>,
    client_rng: SimRng,
    /// Who holds what.
    pub ledger: Ledger,
    schedule: Vec<(Millis, Action)>,
    trace: Option<Vec<String>>,
    steps: u64,
    same_instant: u32,
    last_now: Millis,
    input_counter: u64,
    faults_over_at: Option<Millis>,
    settled_at: Option<Millis>,
    /// The first violation, if any.
    pub violation: Option<Violation>,
    events_seen: Vec<String>,
    /// Every endpoint state change: (virtual ms, side, new state).
    pub history: Vec<(Millis, Side, State)>,
    /// Every message type each side sent (side, msg-type), in order of first use.
    pub sent_types: Vec<(Side, u8)>,
    clock_steps: Vec<(Millis, u64)>,
    /// Armed POTENTIAL-CONFLICT trap: (expires at, partition length).
    pc_trap: Option<(Millis, Millis)>,
}

fn wall_secs(now: Millis, skew_ms: i64) -> u64 {
    let t = i128::from(EPOCH_UNIX) * 1000 + i128::from(now) + i128::from(skew_ms);
    u64::try_from(t / 1000).unwrap_or(EPOCH_UNIX)
}

impl World {
    /// Builds the world for `cfg`; both servers start with empty storage.
    pub fn new(cfg: SimConfig) -> Result<Self, String> {
        let mut rng = SimRng::new(cfg.seed);
        let mut link_rng = rng.fork(1);
        let link = PartnerLink::new(cfg.link.clone(), link_rng.fork(0));
        let to_servers = Datagrams::new(cfg.client_link.clone(), rng.fork(2));
        let to_clients = Datagrams::new(cfg.client_link.clone(), rng.fork(3));
        let client_rng = rng.fork(4);
        let mut clients = Vec::new();
        for i in 0..cfg.na_clients + cfg.pd_clients {
            let ia = if i < cfg.na_clients {
                IaKind::Na
            } else {
                IaKind::Pd
            };
            let start = rng.range(0, 20_000);
            clients.push(Client::new(i, ia, start));
        }
        let tolerance = cfg.client_link.latency_max.max(500) + 1_000;
        let mk = |side: Side, rng: &mut SimRng| Server {
            side,
            ep: None,
            store: SimStorage::new(cfg.storage.clone(), rng.fork(10 + side as u64)),
            skew_ms: cfg.skew_ms[side],
            restart_at: None,
            lose_database: false,
            rebuilding: false,
            pd_unsynced: false,
            isolated: false,
            fenced: false,
            out_obs: StreamObserver::default(),
            in_obs: StreamObserver::default(),
            writes: Vec::new(),
            bndupd_batch: BTreeMap::new(),
            held_replies: Vec::new(),
            state: None,
            next_expiry_scan: 1_000,
            state_window: (0, 0),
        };
        let servers = [mk(0, &mut rng), mk(1, &mut rng)];
        let mut schedule = cfg.schedule.clone();
        schedule.sort_by_key(|(t, _)| *t);
        schedule.reverse();
        let trace = cfg.trace.then(Vec::new);
        let mut w = Self {
            cfg,
            now: 0,
            rng,
            servers,
            link,
            to_servers,
            to_clients,
            clients,
            client_rng,
            ledger: Ledger::new(tolerance),
            schedule,
            trace,
            steps: 0,
            same_instant: 0,
            last_now: 0,
            input_counter: 0,
            faults_over_at: None,
            settled_at: None,
            violation: None,
            events_seen: Vec::new(),
            history: Vec::new(),
            sent_types: Vec::new(),
            clock_steps: Vec::new(),
            pc_trap: None,
        };
        for side in 0..2 {
            w.boot(side, None)?;
        }
        Ok(w)
    }

    /// The trace so far (empty unless tracing).
    pub fn trace(&self) -> &[String] {
        self.trace.as_deref().unwrap_or(&[])
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            let now = self.now;
            t.push(format!("{:>7}.{:03} {}", now / 1000, now % 1000, line()));
        }
    }

    fn fail(&mut self, invariant: Invariant, detail: String) {
        if self.violation.is_none() {
            let v = Violation {
                invariant,
                at: self.now,
                detail,
            };
            self.log(|| format!("!!! {v}"));
            self.violation = Some(v);
        }
    }

    /// The `Now` of server `side`.
    pub fn server_now(&self, side: Side) -> fo::Now {
        fo::Now::new(
            fo::Instant::from_millis(self.now),
            fo::UnixTime::from_secs(wall_secs(self.now, self.servers[side].skew_ms)),
        )
    }

    fn endpoint_config(&self, side: Side) -> fo::Config {
        crate::setup::endpoint_config(&self.cfg, side)
    }

    fn boot(&mut self, side: Side, persisted: Option<fo::PersistedState>) -> Result<(), String> {
        let cfg = self.endpoint_config(side);
        let now = self.server_now(side);
        let ep = match persisted {
            Some(p) => Endpoint::restore(cfg, p, now),
            None => Endpoint::new(cfg, now),
        }
        .map_err(|e| format!("{} failed to start: {e}", side_name(side)))?;
        let st = ep.state();
        let s = &mut self.servers[side];
        s.state = Some(st);
        s.ep = Some(ep);
        self.history.push((self.now, side, st));
        s.out_obs.reset();
        s.in_obs.reset();
        self.log(|| format!("{} boots", side_name(side)));
        self.input_counter += 1;
        self.drain(side);
        Ok(())
    }

    /// The earliest moment anything is due.
    fn next_wakeup(&self) -> Option<Millis> {
        let mut t: Option<Millis> = None;
        let mut consider = |x: Option<Millis>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t: Millis| t.min(x)));
            }
        };
        consider(self.schedule.last().map(|(t, _)| *t));
        consider(self.link.next_wakeup());
        consider(self.to_servers.next_wakeup());
        consider(self.to_clients.next_wakeup());
        for s in &self.servers {
            consider(s.store.next_wakeup());
            consider(s.restart_at);
            if let Some(ep) = &s.ep {
                consider(ep.poll_timeout().map(|i| i.as_millis()));
                consider(Some(s.next_expiry_scan));
            }
        }
        for c in &self.clients {
            consider(c.next_wakeup());
        }
        t
    }

    /// Runs until the liveness phase succeeds, an invariant fails, or the step budget is spent;
    /// a run that never goes idle (no end within `max_steps`, or 20,000 steps without virtual
    /// time advancing) fails as a livelock, like quinn's `Pair::drive_bounded`.
    pub fn drive_bounded(&mut self, max_steps: u64) -> Result<RunStats, Violation> {
        while self.violation.is_none() && self.settled_at.is_none() {
            if self.steps >= max_steps {
                self.fail(
                    Invariant::Livelock,
                    format!("no end after {max_steps} steps"),
                );
                break;
            }
            self.step();
        }
        if let Some(v) = self.violation.clone() {
            return Err(v);
        }
        Ok(RunStats {
            end: self.now,
            steps: self.steps,
            grants: self.ledger.grants,
            connections: self.link.stats.connections,
            states_visited: self
                .history
                .iter()
                .fold(0, |m, (_, _, st)| m | 1 << st.to_u8()),
            messages_sent: self.sent_types.iter().fold(0, |m, (_, t)| {
                m | 1u16
                    .checked_shl(u32::from(t.saturating_sub(24)))
                    .unwrap_or(0)
            }),
            settle_time: self
                .settled_at
                .unwrap_or(0)
                .saturating_sub(self.faults_over_at.unwrap_or(0)),
        })
    }

    /// One step: advance to the next wake-up, deliver everything due, check invariants.
    pub fn step(&mut self) {
        self.steps += 1;
        let Some(t) = self.next_wakeup() else {
            self.fail(Invariant::Livelock, "nothing left to happen".into());
            return;
        };
        let t = t.max(self.now);
        if t == self.last_now {
            self.same_instant += 1;
            if self.same_instant > MAX_STEPS_PER_INSTANT {
                self.fail(
                    Invariant::Livelock,
                    format!("{MAX_STEPS_PER_INSTANT} steps without time advancing"),
                );
                return;
            }
        } else {
            self.same_instant = 0;
            self.last_now = t;
        }
        self.now = t;
        let now = t;
        while self.schedule.last().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, a)) = self.schedule.pop() {
                self.apply_action(a);
            }
        }
        for side in 0..2 {
            if self.servers[side].restart_at.is_some_and(|r| r <= now) {
                self.restart(side);
            }
        }
        while let Some((to, d)) = self.link.poll(now) {
            self.deliver_link(to, d);
        }
        for side in 0..2 {
            while let Some(c) = self.servers[side].store.poll(now) {
                self.storage_done(side, c.id, c.failed);
            }
        }
        for side in 0..2 {
            let due = self.servers[side]
                .ep
                .as_ref()
                .and_then(|e| e.poll_timeout())
                .is_some_and(|i| i.as_millis() <= now);
            if due {
                let n = self.server_now(side);
                if let Some(ep) = self.servers[side].ep.as_mut() {
                    ep.handle_timeout(n);
                }
                self.input_counter += 1;
                self.drain(side);
            }
            if self.servers[side].ep.is_some() && self.servers[side].next_expiry_scan <= now {
                self.servers[side].next_expiry_scan = now + 1_000;
                self.expiry_scan(side);
            }
        }
        while let Some((side, msg)) = self.to_servers.poll(now) {
            self.server_receive(side, msg);
        }
        while let Some(msg) = self.to_clients.poll(now) {
            let cid = msg.client;
            let cfg = self.cfg.clients.clone();
            let Some(c) = self.clients.get_mut(cid) else {
                continue;
            };
            let outs = c.on_reply(now, &msg, &mut self.client_rng, &cfg);
            self.log(|| format!("client {cid} <- {} {:?}", side_name(msg.server), msg.body));
            self.client_outputs(outs);
        }
        for i in 0..self.clients.len() {
            if self.clients[i].next_wakeup().is_some_and(|w| w <= now) {
                let cfg = self.cfg.clients.clone();
                let outs = self.clients[i].on_timer(now, &mut self.client_rng, &cfg);
                self.client_outputs(outs);
            }
        }
        self.spring_trap();
        self.update_fences();
        self.check_liveness();
    }

    fn client_outputs(&mut self, outs: Vec<ClientOut>) {
        for o in outs {
            match o {
                ClientOut::Send(m) => {
                    self.log(|| {
                        format!(
                            "client {} -> {:?} {:?} {}",
                            m.client,
                            m.kind,
                            m.to.map(side_name),
                            m.res.map(|r| r.to_string()).unwrap_or_default()
                        )
                    });
                    match m.to {
                        Some(s) => self.to_servers.send(self.now, (s, m)),
                        None => {
                            self.to_servers.send(self.now, (0, m.clone()));
                            self.to_servers.send(self.now, (1, m));
                        }
                    }
                }
                ClientOut::Fact(f) => self.fact(f),
            }
        }
    }

    fn fact(&mut self, f: Fact) {
        self.log(|| format!("fact {f:?}"));
        if let Fact::Refused {
            client,
            res,
            held_until,
            server,
        } = &f
        {
            // A client that still holds a lease (with margin for clocks and latency) is told it
            // is not its own: it loses the lease although it kept renewing.
            let margin = 6_000 + self.cfg.client_link.latency_max + self.clock_step_allowance();
            if *held_until > self.now + margin {
                let detail = format!(
                    "{} refused {res} to client {client}, who holds it until t={held_until}ms",
                    side_name(*server)
                );
                self.fail(Invariant::Stability, detail);
            }
        }
        let extra = self.clock_step_allowance();
        if let Err(v) = self.ledger.apply(self.now, &f, extra) {
            let detail = v.detail.clone();
            self.fail(v.invariant, detail);
        }
    }

    /// A server whose wall clock steps forward by Δ sees every lease it knows of end Δ early;
    /// that is a property of wall-clock lease times, not of failover. Overlaps and refusals are
    /// tolerated by the sum of forward steps within the last two lease lifetimes.
    fn clock_step_allowance(&self) -> Millis {
        let window = 2_000 * (self.cfg.desired_valid_secs + self.cfg.mclt_secs);
        self.clock_steps
            .iter()
            .filter(|(t, _)| *t + window > self.now)
            .map(|(_, d)| *d)
            .sum()
    }

    fn apply_action(&mut self, a: Action) {
        self.log(|| format!("fault {a:?}"));
        let now = self.now;
        match a {
            Action::Partition => self.link.partition(now),
            Action::Heal => {
                if !self.servers.iter().any(|s| s.isolated) {
                    self.link.heal(now);
                }
            }
            Action::BreakConnection => self.link.break_connection(now),
            Action::Crash {
                side,
                lose_database,
                down_for,
            } => {
                if self.servers[side].ep.is_none() {
                    return;
                }
                // Failover keeps a lease through the loss of one server's database because the
                // partner holds a copy (UPDREQALL rebuilds it). Losing the second copy before the
                // first is rebuilt leaves no record of the leases clients hold anywhere, which no
                // endpoint can survive (seeds 85422, 130829): the database is kept then.
                // Likewise a server that served in PARTNER-DOWN holds the only record of what it
                // granted there (no MCLT bound, the partner heard nothing) until it has passed
                // its updates on in NORMAL (seed 174213).
                let n = self.server_now(side);
                let me = &mut self.servers[side];
                if me.pd_unsynced
                    && me.ep.as_ref().is_some_and(|ep| {
                        let st = ep.status(n);
                        st.state == State::Normal
                            && st.pending_updates == 0
                            && st.unacked_updates == 0
                    })
                {
                    me.pd_unsynced = false;
                }
                let only_copy = me.pd_unsynced;
                let partner = &self.servers[1 - side];
                let kept =
                    lose_database && (only_copy || partner.rebuilding || partner.lose_database);
                let lose_database = lose_database && !kept;
                if kept {
                    self.log(|| {
                        format!(
                            "{} keeps its database: no other copy of its leases exists yet",
                            side_name(side)
                        )
                    });
                }
                let detect = self.rng.range(100, 30_000);
                self.link.crash(now, side, detect);
                let s = &mut self.servers[side];
                s.ep = None;
                s.store.crash(lose_database);
                s.lose_database = lose_database;
                s.restart_at = Some(now + down_for);
                s.held_replies.clear();
                s.writes.clear();
                s.state = None;
                self.to_servers.discard(|(to, _)| *to == side);
            }
            Action::Restart { side } => {
                if self.servers[side].ep.is_none() {
                    self.servers[side].restart_at = Some(now);
                }
            }
            Action::Skew { side, offset_ms } => {
                let old = self.servers[side].skew_ms;
                if offset_ms > old {
                    self.clock_steps
                        .push((now, u64::try_from(offset_ms - old).unwrap_or(0)));
                }
                self.servers[side].skew_ms = offset_ms;
            }
            Action::Isolate { side } => {
                self.servers[side].isolated = true;
                self.link.partition(now);
            }
            Action::Unisolate { side } => {
                self.servers[side].isolated = false;
                if !self.servers.iter().any(|s| s.isolated) {
                    self.link.heal(now);
                }
            }
            Action::OperatorPartnerDown { side } => {
                // Only when the partner really is unable to serve: crashed or cut off.
                let partner = &self.servers[peer(side)];
                if partner.ep.is_some() && !partner.isolated {
                    return;
                }
                let n = self.server_now(side);
                if let Some(ep) = self.servers[side].ep.as_mut() {
                    let r = ep.partner_down(n, None);
                    if let Err(e) = r {
                        self.log(|| format!("{} partner_down refused: {e:?}", side_name(side)));
                    }
                    self.input_counter += 1;
                    self.drain(side);
                }
            }
            Action::PartitionInPotentialConflict { for_ms } => {
                self.pc_trap = Some((now + 300_000, for_ms))
            }
            Action::LinkParams(l) => self.link.set_config(l),
            Action::ClientParams(d) => {
                self.to_servers.set_config(d.clone());
                self.to_clients.set_config(d);
            }
            Action::StorageParams(s) => {
                for srv in &mut self.servers {
                    srv.store.set_config(s.clone());
                }
            }
            Action::EndFaults => {
                self.faults_over_at = Some(now);
                let d = crate::link::DatagramConfig {
                    loss: 0.0,
                    duplicate: 0.0,
                    ..self.cfg.client_link.clone()
                };
                self.to_servers.set_config(d.clone());
                self.to_clients.set_config(d);
                let mut l = self.cfg.link.clone();
                l.break_per_transmit = 0.0;
                self.link.set_config(l);
                for srv in &mut self.servers {
                    srv.isolated = false;
                    let fixed = srv.skew_ms.clamp(-2_000, 2_000);
                    if fixed > srv.skew_ms {
                        self.clock_steps
                            .push((now, u64::try_from(fixed - srv.skew_ms).unwrap_or(0)));
                    }
                    srv.skew_ms = fixed;
                    let mut st = self.cfg.storage.clone();
                    st.fail = 0.0;
                    srv.store.set_config(st);
                    if srv.ep.is_none() {
                        srv.restart_at = Some(now);
                    }
                }
                self.link.heal(now);
                for c in &mut self.clients {
                    c.stop();
                }
            }
        }
    }

    fn restart(&mut self, side: Side) {
        self.servers[side].restart_at = None;
        let persisted = if self.servers[side].lose_database {
            None
        } else {
            Some(self.servers[side].store.durable().persisted())
        };
        self.servers[side].lose_database = false;
        if persisted.is_none() {
            self.servers[side].rebuilding = true;
        }
        self.log(|| {
            format!(
                "{} restarts ({})",
                side_name(side),
                if persisted.is_some() {
                    "restore"
                } else {
                    "empty database"
                }
            )
        });
        if let Err(e) = self.boot(side, persisted) {
            self.fail(Invariant::Endpoint, e);
        }
    }

    fn deliver_link(&mut self, to: Side, d: LinkDelivery) {
        let n = self.server_now(to);
        let Some(ep) = self.servers[to].ep.as_mut() else {
            return;
        };
        match d {
            LinkDelivery::Up => {
                ep.handle_connection_up(n);
                self.servers[to].out_obs.reset();
                self.servers[to].in_obs.reset();
                self.log(|| format!("{} connection up", side_name(to)));
            }
            LinkDelivery::Down => {
                ep.handle_connection_down(n);
                self.log(|| format!("{} connection down", side_name(to)));
            }
            LinkDelivery::Bytes(b) => {
                ep.handle_bytes(n, &b);
                let batch = self.input_counter + 1;
                let seen = self.servers[to].in_obs.feed(&b);
                for o in seen.into_iter().flatten() {
                    if o.msg_type == 24 {
                        self.servers[to].bndupd_batch.insert(o.xid, batch);
                    }
                    self.log(|| format!("{} <- {o}", side_name(to)));
                }
            }
        }
        self.input_counter += 1;
        self.drain(to);
    }

    fn storage_done(&mut self, side: Side, id: fo::WriteId, failed: bool) {
        if let Some(w) = self.servers[side].writes.iter_mut().find(|w| w.id == id) {
            w.done = Some(!failed);
        }
        // Client replies that waited for this write go out now (or never, if it failed).
        let mut released = Vec::new();
        self.servers[side].held_replies.retain(|h| {
            if h.write == id {
                if !failed {
                    released.push(h.msg.clone());
                }
                false
            } else {
                true
            }
        });
        for m in released {
            self.to_clients.send(self.now, m);
        }
        let n = self.server_now(side);
        let Some(ep) = self.servers[side].ep.as_mut() else {
            return;
        };
        let result = if failed {
            Err(fo::StorageError::new("simulated write failure"))
        } else {
            Ok(())
        };
        if let Err(e) = ep.handle_storage_done(n, id, result) {
            self.fail(
                Invariant::Endpoint,
                format!(
                    "{} rejected a storage acknowledgement: {e:?}",
                    side_name(side)
                ),
            );
        }
        self.input_counter += 1;
        self.drain(side);
        // Forget old completed notes.
        let keep_from = self.input_counter.saturating_sub(10_000);
        self.servers[side]
            .writes
            .retain(|w| w.done.is_none() || w.batch >= keep_from);
    }

    /// Drains every output of `side`'s endpoint, checking durability on each transmit.
    fn drain(&mut self, side: Side) {
        let batch = self.input_counter;
        loop {
            let Some(ep) = self.servers[side].ep.as_mut() else {
                return;
            };
            if let Some(w) = ep.poll_storage() {
                let resource = match &w.record {
                    fo::StorageRecord::Binding(b) => Some(b.resource),
                    fo::StorageRecord::EndpointState(_) => None,
                };
                let srv = &mut self.servers[side];
                srv.writes.push(WriteNote {
                    id: w.id,
                    resource,
                    batch,
                    done: None,
                });
                srv.store.submit(self.now, w.id, w.record);
                continue;
            }
            if let Some(t) = ep.poll_transmit() {
                self.check_transmit(side, &t.bytes);
                self.link.send(self.now, side, &t.bytes);
                continue;
            }
            if let Some(ev) = ep.poll_event() {
                self.handle_event(side, ev);
                continue;
            }
            break;
        }
        if let Some(ep) = self.servers[side].ep.as_ref() {
            let st = ep.state();
            if self.servers[side].state != Some(st) {
                let old = self.servers[side].state;
                self.log(|| format!("{} state {:?} -> {st:?}", side_name(side), old));
                self.servers[side].state = Some(st);
                if st == State::PartnerDown {
                    self.servers[side].pd_unsynced = true;
                }
                self.history.push((self.now, side, st));
            }
        }
    }

    fn handle_event(&mut self, side: Side, ev: fo::Event) {
        self.log(|| format!("{} event {ev:?}", side_name(side)));
        let kind = match &ev {
            fo::Event::OpenConnection => {
                self.link.connect(self.now, side);
                "OpenConnection"
            }
            fo::Event::CloseConnection { .. } => {
                self.link.close(self.now, side);
                "CloseConnection"
            }
            fo::Event::StateChanged { .. } => "StateChanged",
            fo::Event::PartnerStateChanged { .. } => "PartnerStateChanged",
            fo::Event::Connected => "Connected",
            fo::Event::ConnectRejected { .. } => "ConnectRejected",
            fo::Event::ConfigurationMismatch { .. } => "ConfigurationMismatch",
            fo::Event::ExcessiveTimeSkew { .. } => "ExcessiveTimeSkew",
            fo::Event::PartnerDisconnected { .. } => "PartnerDisconnected",
            fo::Event::BindingUpdated { .. } => "BindingUpdated",
            fo::Event::Conflict { .. } => "Conflict",
            fo::Event::UpdateRejected { .. } => "UpdateRejected",
            fo::Event::Alarm(_) => "Alarm",
            fo::Event::StorageFailed { .. } => "StorageFailed",
            fo::Event::ProtocolViolation { .. } => "ProtocolViolation",
            fo::Event::UpdatesComplete => {
                self.servers[side].rebuilding = false;
                "UpdatesComplete"
            }
            _ => "other",
        };
        if !self.events_seen.iter().any(|e| e == kind) {
            self.events_seen.push(kind.to_string());
        }
    }

    /// Invariant 5: a BNDREPLY leaves only after the writes its BNDUPD caused are acknowledged;
    /// a STATE (outside STARTUP) only announces a state that is durable.
    fn check_transmit(&mut self, side: Side, bytes: &[u8]) {
        let seen = self.servers[side].out_obs.feed(bytes);
        for o in seen {
            let Some(o) = o else {
                self.fail(
                    Invariant::Endpoint,
                    format!("{} sent an undecodable frame", side_name(side)),
                );
                continue;
            };
            self.log(|| format!("{} -> {o}", side_name(side)));
            if !self.sent_types.contains(&(side, o.msg_type)) {
                self.sent_types.push((side, o.msg_type));
            }
            if o.msg_type == 34 {
                self.check_state_storm(side);
            }
            match o.msg_type {
                25 => self.check_bndreply(side, &o),
                34 => self.check_state(side, &o),
                _ => {}
            }
        }
    }

    /// STATE is sent on a state change and after the connection handshake (RFC 8156 §6.3):
    /// dozens per minute without cause is a message storm, a livelock in all but name.
    fn check_state_storm(&mut self, side: Side) {
        let w = &mut self.servers[side].state_window;
        if self.now >= w.0 + 60_000 {
            *w = (self.now, 0);
        }
        w.1 += 1;
        if w.1 > 100 {
            let detail = format!(
                "{} sent more than 100 STATE messages within 60 s",
                side_name(side)
            );
            self.fail(Invariant::Livelock, detail);
        }
    }

    fn check_bndreply(&mut self, side: Side, o: &Observed) {
        let Some(batch) = self.servers[side].bndupd_batch.get(&o.xid).copied() else {
            return;
        };
        // Rejected leases (an error status at any level) need no durable write.
        for l in o.leases.iter().filter(|l| l.code.is_none_or(|c| c == 0)) {
            let res = if l.len == 128 {
                Resource::Address(l.addr)
            } else {
                Resource::Prefix {
                    prefix: l.addr,
                    len: l.len,
                }
            };
            // The update's write is the last write of that resource the BNDUPD's input
            // issued: an earlier one in the same batch (a clock-step rewrite of the old
            // record, `observe_clock`, runs before the update is applied) is superseded by it,
            // since acknowledgements come in submission order (harness error found with seed
            // 387713: that rewrite failed, the update's own write succeeded).
            let unacked = self.servers[side]
                .writes
                .iter()
                .rev()
                .find(|w| w.batch == batch && w.resource == Some(res))
                .filter(|w| w.done != Some(true))
                .map(|w| w.done);
            if let Some(done) = unacked {
                let what = if done == Some(false) {
                    "failed"
                } else {
                    "not yet acknowledged"
                };
                let detail = format!(
                    "{} sent BNDREPLY xid={:06x} for {res} while the write of that update was {what}",
                    side_name(side),
                    o.xid
                );
                self.fail(Invariant::Durability, detail);
            }
        }
    }

    fn check_state(&mut self, side: Side, o: &Observed) {
        if o.is_startup_state() {
            return;
        }
        let Some(announced) = o.server_state.and_then(State::from_u8) else {
            return;
        };
        let durable = self.servers[side]
            .store
            .durable()
            .endpoint
            .as_ref()
            .map(|p| p.state);
        if durable != Some(announced) {
            let detail = format!(
                "{} sent STATE {announced:?} while its durable state is {durable:?}",
                side_name(side)
            );
            self.fail(Invariant::Durability, detail);
        }
    }

    /// The servers' client-facing behaviour.
    fn server_receive(&mut self, side: Side, msg: ClientMsg) {
        if self.servers[side].isolated || self.servers[side].fenced {
            return;
        }
        // A message carrying another server's id is not for this server (RFC 8415 §16).
        if msg.to.is_some_and(|s| s != side) {
            return;
        }
        let n = self.server_now(side);
        let mutant = self.cfg.mutant;
        let desired = fo::Duration::from_secs(self.cfg.desired_valid_secs);
        let Some(client) = self.clients.get(msg.client) else {
            return;
        };
        let key = ClientKey {
            duid: client.duid.clone(),
            iaid: client.iaid,
        };
        let kind = match msg.ia {
            IaKind::Na => ResourceKind::Address,
            IaKind::Pd => ResourceKind::Prefix,
        };
        let Some(ep) = self.servers[side].ep.as_mut() else {
            return;
        };
        let req = match msg.kind {
            MsgKind::Solicit => fo::ClientRequestKind::Solicit,
            MsgKind::Request => fo::ClientRequestKind::Request,
            MsgKind::Renew => fo::ClientRequestKind::Renew,
            MsgKind::Rebind => fo::ClientRequestKind::Rebind,
            MsgKind::Release => fo::ClientRequestKind::Release,
            MsgKind::Decline => fo::ClientRequestKind::Decline,
        };
        let addressed = msg.to == Some(side);
        if !ep.may_serve(req, addressed) && mutant != Some(Mutant::AnswerWhenUnresponsive) {
            return;
        }
        let reply = |body| ServerMsg {
            server: side,
            client: msg.client,
            xid: msg.xid,
            body,
        };
        let own = |b: &Binding| b.is_for(&key) && b.status == BindingStatus::Active;
        match msg.kind {
            MsgKind::Solicit => {
                let existing = ep
                    .bindings()
                    .find(|b| own(b) && b.resource.kind() == kind)
                    .map(|b| b.resource);
                let offer = existing.or_else(|| ep.allocate(n, kind, &key));
                let body = match offer {
                    Some(r) => ReplyBody::Advertise { res: to_res(&r) },
                    None => ReplyBody::NoneAvailable,
                };
                self.to_clients.send(self.now, reply(body));
            }
            MsgKind::Request | MsgKind::Renew | MsgKind::Rebind => {
                let Some(res) = msg.res else { return };
                let r = from_res(&res);
                let current = ep.binding(&r).cloned();
                let mine = current.as_ref().is_some_and(own);
                let renewal = mine;
                // The client's own expired/released lease may go back to it if no BNDUPD about
                // it left yet: `may_allocate_to` knows the client.
                let allowed = mine || ep.may_allocate_to(n, &r, &key);
                if !allowed {
                    let body = match msg.kind {
                        MsgKind::Request => Some(ReplyBody::NoneAvailable),
                        // RFC 8156 §8.7: in RECOVER-DONE only renewals of leases the server has a
                        // record of are answered.
                        MsgKind::Renew if current.is_none() && ep.state() == State::RecoverDone => {
                            None
                        }
                        // RFC 8415 §18.3.4: NoBinding for a Renew the server has no binding for.
                        MsgKind::Renew => Some(ReplyBody::NotYours { res }),
                        // §18.3.5: a Rebind for a lease bound to someone else gets lifetime 0;
                        // one the server knows nothing about is not answered.
                        _ => current
                            .as_ref()
                            .filter(|b| b.status == BindingStatus::Active)
                            .map(|_| ReplyBody::NotYours { res }),
                    };
                    if let Some(body) = body {
                        self.to_clients.send(self.now, reply(body));
                    }
                    return;
                }
                let state = ep.state();
                let bound = ep.lease_bound(n, &r, desired);
                let valid = if mutant == Some(Mutant::IgnoreMclt) {
                    desired
                } else {
                    bound
                };
                if valid.is_zero() && state == State::RecoverDone {
                    // RECOVER-DONE answers renewals only as far as the partner acked
                    // (it may still be in PARTNER-DOWN): a lease at that bound is not
                    // renewed and not refused either; the client rebinds to the partner.
                    return;
                }
                if valid.is_zero() {
                    // Nothing may be granted: a Request gets NoAddrsAvail, a Renew/Rebind the
                    // lease with lifetime 0 (RFC 8415 §18.3.4). A server that obeys `may_serve`
                    // never gets here.
                    let body = if msg.kind == MsgKind::Request {
                        ReplyBody::NoneAvailable
                    } else {
                        ReplyBody::NotYours { res }
                    };
                    self.to_clients.send(self.now, reply(body));
                    return;
                }
                let t1 = valid / 2;
                let t2 = valid * 4 / 5;
                let preferred = valid * 3 / 4;
                let mut grant = fo::LeaseGrant::new(key.clone(), r, valid);
                grant.preferred = preferred;
                grant.t1 = t1;
                grant.t2 = t2;
                grant.desired_valid = desired;
                let change = if renewal {
                    fo::LeaseChange::Renewed(grant)
                } else {
                    fo::LeaseChange::Granted(grant)
                };
                let write = match ep.record_lease(n, change) {
                    Ok(w) => w,
                    Err(e) => {
                        self.log(|| {
                            format!(
                                "{} record_lease refused {res} for client {}: {e:?}",
                                side_name(side),
                                msg.client
                            )
                        });
                        return;
                    }
                };
                self.check_mclt(side, state, n, &r, current.as_ref(), valid, msg.client);
                let secs = |d: fo::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
                let body = ReplyBody::Bound {
                    res,
                    valid: secs(valid),
                    t1: secs(t1),
                    t2: secs(t2),
                };
                self.servers[side].held_replies.push(HeldReply {
                    write,
                    msg: reply(body),
                });
                self.input_counter += 1;
                self.drain(side);
            }
            MsgKind::Release | MsgKind::Decline => {
                let Some(res) = msg.res else { return };
                let r = from_res(&res);
                if !ep.binding(&r).is_some_and(own) {
                    return;
                }
                let change = if msg.kind == MsgKind::Release {
                    fo::LeaseChange::Released {
                        client: key.clone(),
                        resource: r,
                    }
                } else {
                    fo::LeaseChange::Declined {
                        client: key.clone(),
                        resource: r,
                    }
                };
                match ep.record_lease(n, change) {
                    Ok(w) => self.servers[side].held_replies.push(HeldReply {
                        write: w,
                        msg: reply(ReplyBody::Done),
                    }),
                    Err(e) => self.log(|| {
                        format!(
                            "{} record_lease refused release/decline: {e:?}",
                            side_name(side)
                        )
                    }),
                }
                self.input_counter += 1;
                self.drain(side);
            }
        }
    }

    /// Invariant 2, computed independently of `lease_bound` from the binding as it was before
    /// the grant and the state the endpoint was in.
    #[allow(clippy::too_many_arguments)]
    fn check_mclt(
        &mut self,
        side: Side,
        state: State,
        n: fo::Now,
        r: &Resource,
        before: Option<&Binding>,
        valid: fo::Duration,
        client: usize,
    ) {
        let mclt = self.cfg.mclt_secs;
        let now = n.wall.as_secs();
        let acked = before
            .and_then(|b| b.acked_partner_lifetime)
            .map(|t| t.as_secs());
        let received = before.and_then(|b| b.expiration_time).map(|t| t.as_secs());
        let limit = match state {
            State::PartnerDown => return,
            State::Normal | State::RecoverDone | State::ConflictDone => {
                Some(acked.unwrap_or(0).max(now) + mclt)
            }
            State::CommunicationsInterrupted | State::ResolutionInterrupted => {
                Some(acked.unwrap_or(0).max(received.unwrap_or(0)).max(now) + mclt)
            }
            _ => None,
        };
        let ok = limit.is_some_and(|l| now + valid.as_secs() <= l.max(now + 30));
        if !ok {
            let detail = format!(
                "{} in {state:?} granted {r} to client {client} for {}s (MCLT {mclt}s, acked-partner-lifetime {:?}, partner's lifetime {:?}, now {now})",
                side_name(side),
                valid.as_secs(),
                acked.map(|a| a as i64 - now as i64),
                received.map(|a| a as i64 - now as i64),
            );
            self.fail(Invariant::Mclt, detail);
        }
    }

    /// The server notices leases whose valid lifetime ran out.
    fn expiry_scan(&mut self, side: Side) {
        let n = self.server_now(side);
        let Some(ep) = self.servers[side].ep.as_mut() else {
            return;
        };
        let expired: Vec<Resource> = ep
            .bindings()
            .filter(|b| {
                b.status == BindingStatus::Active
                    && b.state_expiration_time.is_some_and(|e| e < n.wall)
            })
            .map(|b| b.resource)
            .collect();
        if expired.is_empty() {
            return;
        }
        let mut refused = Vec::new();
        for resource in expired {
            if let Err(e) = ep.record_lease(n, fo::LeaseChange::Expired { resource }) {
                refused.push(format!(
                    "{} record_lease(Expired {resource}) refused: {e:?}",
                    side_name(side)
                ));
            }
        }
        for line in refused {
            self.log(|| line);
        }
        self.input_counter += 1;
        self.drain(side);
    }

    fn spring_trap(&mut self) {
        let Some((until, for_ms)) = self.pc_trap else {
            return;
        };
        if self.now > until || self.faults_over_at.is_some() {
            self.pc_trap = None;
            return;
        }
        if self
            .servers
            .iter()
            .any(|s| s.state == Some(State::PotentialConflict))
        {
            self.pc_trap = None;
            self.log(|| "fault Partition (in POTENTIAL-CONFLICT)".into());
            self.link.partition(self.now);
            let heal = self.now + for_ms;
            // The schedule is kept sorted latest first.
            let pos = self
                .schedule
                .iter()
                .position(|(t, _)| *t <= heal)
                .unwrap_or(self.schedule.len());
            self.schedule.insert(pos, (heal, Action::Heal));
        }
    }

    /// A server whose partner is in PARTNER-DOWN must not serve clients until it has learned it
    /// (the operator's duty in RFC 8156 §8.4 / RFC 7031 §5.1.1, modelled by keeping it cut off
    /// from clients until it has talked to its partner).
    fn update_fences(&mut self) {
        for side in 0..2 {
            // A crashed partner counts with the state it will come back in: a server must not
            // resume service on stale data while its (crashed) partner's PARTNER-DOWN stands.
            let p = &self.servers[peer(side)];
            let partner_pd = p.state == Some(State::PartnerDown)
                || p.ep.is_none()
                    && p.store
                        .durable()
                        .endpoint
                        .as_ref()
                        .is_some_and(|e| e.state == State::PartnerDown);
            let mine = self.servers[side].state;
            let learned = matches!(
                mine,
                Some(
                    State::Recover
                        | State::RecoverWait
                        | State::RecoverDone
                        | State::PotentialConflict
                        | State::ResolutionInterrupted
                        | State::ConflictDone
                )
            );
            let fenced = &mut self.servers[side].fenced;
            if partner_pd && !learned && !*fenced && mine != Some(State::PartnerDown) {
                // Only a server that has not yet been told: one that booted or was cut off.
                *fenced = true;
            }
            // Released once this server has learned of the PARTNER-DOWN (its own state shows
            // it), or the partner is back in NORMAL (which it reaches only through that).
            let partner_normal = self.servers[peer(side)].state == Some(State::Normal);
            let fenced = &mut self.servers[side].fenced;
            if *fenced && (learned || partner_normal) {
                *fenced = false;
            }
        }
    }

    fn check_liveness(&mut self) {
        let Some(since) = self.faults_over_at else {
            return;
        };
        if self.violation.is_some() || self.settled_at.is_some() {
            return;
        }
        let both_normal = self.servers.iter().all(|s| s.state == Some(State::Normal));
        let quiet = self.servers.iter().all(|s| s.store.next_wakeup().is_none());
        if both_normal && quiet {
            if let Some(diff) = self.table_difference() {
                if self.now > since + self.cfg.settle_limit {
                    self.fail(
                        Invariant::Liveness,
                        format!("binding tables still disagree: {diff}"),
                    );
                }
                return;
            }
            self.settled_at = Some(self.now);
            self.log(|| "settled: both NORMAL, tables agree".into());
            return;
        }
        if self.now > since + self.cfg.settle_limit {
            let states: Vec<String> = self
                .servers
                .iter()
                .map(|s| format!("{:?}", s.state))
                .collect();
            self.fail(
                Invariant::Liveness,
                format!(
                    "not both NORMAL {}s after faults stopped: {}",
                    self.cfg.settle_limit / 1000,
                    states.join(" / ")
                ),
            );
        }
    }

    /// `None` if both tables agree on who holds what and on prefix ownership.
    fn table_difference(&self) -> Option<String> {
        let (Some(a), Some(b)) = (self.servers[0].ep.as_ref(), self.servers[1].ep.as_ref()) else {
            return Some("a server is down".into());
        };
        let mut keys: Vec<Resource> = a
            .bindings()
            .map(|b| b.resource)
            .chain(b.bindings().map(|b| b.resource))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let class = |x: Option<&Binding>| -> (u8, Option<ClientKey>) {
            match x {
                Some(b) if b.status == BindingStatus::Active => (1, b.client.clone()),
                Some(b) if b.status == BindingStatus::FreeBackup => (2, None),
                Some(b) if b.status == BindingStatus::Abandoned => (3, None),
                _ => (0, None),
            }
        };
        for r in keys {
            let (ca, cb) = (class(a.binding(&r)), class(b.binding(&r)));
            let agree = match r {
                Resource::Address(_) => ca.0 == 1 && ca == cb || ca.0 != 1 && cb.0 != 1,
                Resource::Prefix { .. } => {
                    ca == cb || ca.0 != 1 && cb.0 != 1 && ca.0 != 2 && cb.0 != 2
                }
            };
            if !agree {
                return Some(format!(
                    "{r}: primary {:?}, secondary {:?}",
                    a.binding(&r).map(|b| (b.status, b.client.clone())),
                    b.binding(&r).map(|b| (b.status, b.client.clone()))
                ));
            }
        }
        None
    }

    /// Human-readable summary of what the run exercised.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "t={}s steps={} grants={} connections={} link-breaks={}",
            self.now / 1000,
            self.steps,
            self.ledger.grants,
            self.link.stats.connections,
            self.link.stats.breaks
        );
        for srv in &self.servers {
            let _ = write!(s, " {}={:?}", side_name(srv.side), srv.state);
        }
        s
    }

    /// Distinct events seen (for coverage reports).
    pub fn events_seen(&self) -> &[String] {
        &self.events_seen
    }

    /// Whether `side` went through `states` in this order (not necessarily consecutively).
    pub fn visited_in_order(&self, side: Side, states: &[State]) -> bool {
        let mut want = states.iter().peekable();
        for (_, s, st) in &self.history {
            if *s == side && want.peek() == Some(&st) {
                want.next();
            }
        }
        want.peek().is_none()
    }

    /// Whether `side` ever sent a message of type `msg_type`.
    pub fn sent(&self, side: Side, msg_type: u8) -> bool {
        self.sent_types.contains(&(side, msg_type))
    }

    /// Lets a named scenario inspect an endpoint.
    pub fn endpoint(&self, side: Side) -> Option<&Endpoint> {
        self.servers[side].ep.as_ref()
    }

    /// Runs until `pred` holds or `limit` virtual ms pass; returns whether it held.
    pub fn run_until(&mut self, limit: Millis, mut pred: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.violation.is_none() && self.now <= end {
            if pred(self) {
                return true;
            }
            self.step();
        }
        false
    }

    /// Unused address of the pool for tests.
    pub fn pool_address(&self, i: u32) -> Ipv6Addr {
        crate::setup::address(i)
    }
}
