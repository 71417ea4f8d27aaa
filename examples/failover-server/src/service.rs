//! The event loop: one socket, one store, one clock, and the drain loop in plain view.
//!
//! ```text
//!  socket ──datagrams──▶ Engine::handle ──answer──▶ (durable?) ──no──▶ send now
//!                              │                        │yes
//!                              ▼                        ▼
//!                       take_store_ops ──batch──▶ GroupCommitter ──"committed up to N"──▶ send
//! ```
//!
//! Every turn reads what the socket holds (up to a bound), hands all lease changes of the turn
//! to the store as one batch, and queues the answers that grant leases until the store reports
//! that batch durable. The store groups every batch that arrived while it was busy into one
//! commit, so the fsync cost is shared by all the leases in flight.

use std::collections::VecDeque;
use std::io;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dhcpv6_failover::{Binding, UnixTime};
use dhcpv6_wire::Duid;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Config;
use crate::dhcp::{Answer, Arrival, Engine, META_SERVER_DUID};
use crate::leases::{prefix_count, range_size};
use crate::metrics::{self, DropReason, Metrics, PoolGauge};
use crate::net::{DhcpSocket, Interface, discover};
use crate::store::{GroupCommitter, LeaseStore, Op, RedbStore, StoreError, Table};

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// Opening, reading or writing the lease store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A socket or interface operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ServiceError {
    move |source| ServiceError::Io {
        what: what.into(),
        source,
    }
}

/// The wall clock as the crates see it.
pub fn wall_now() -> UnixTime {
    UnixTime::from_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// Bytes from the operating system's random source.
pub fn os_random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = io::Read::read_exact(&mut f, &mut b);
    }
    b
}

/// What the store holds at start-up, as [`open_state`] reads it.
pub struct StoredState {
    /// The server DUID (created and stored if it was missing).
    pub duid: Duid,
    /// Every readable binding, with the update number it was written with (if any, see
    /// [`crate::record::encode_with_update`]).
    pub bindings: Vec<(Binding, Option<u64>)>,
    /// The meta records (the failover endpoints' state and acknowledgement marks).
    pub meta: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Reads the store: the server DUID (created once and stored if missing), every binding and the
/// meta records.
pub fn open_state(store: &mut impl LeaseStore) -> Result<StoredState, ServiceError> {
    let snap = store.load()?;
    let duid = match snap
        .meta
        .get(META_SERVER_DUID)
        .and_then(|b| Duid::new(b).ok())
    {
        Some(d) => d,
        None => {
            //= https://www.rfc-editor.org/rfc/rfc8415#section-11
            // Paraphrased: Servers MUST NOT change their DUID ... once assigned
            let d = Duid::uuid(os_random::<16>());
            store.commit(&[Op {
                table: Table::Meta,
                key: META_SERVER_DUID.to_vec(),
                value: Some(d.as_bytes().to_vec()),
            }])?;
            tracing::info!(duid = %hex::encode(d.as_bytes()), "created server DUID");
            d
        }
    };
    let mut bindings = Vec::with_capacity(snap.bindings.len());
    for (key, value) in &snap.bindings {
        match crate::record::decode_with_update(value) {
            Ok(b) => bindings.push(b),
            Err(e) => {
                tracing::error!(key = %hex::encode(key), error = %e, "unreadable binding record skipped")
            }
        }
    }
    Ok(StoredState {
        duid,
        bindings,
        meta: snap.meta,
    })
}

/// An answer waiting for its batch to become durable.
struct Pending {
    seq: u64,
    answer: Answer,
    ifindex: u32,
    /// When the request was read from the socket (for the reply latency in [`LoopProfile`]).
    received: Instant,
}

/// The parts of the event loop whose time [`LoopProfile`] accounts for.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// A store commit report: replies released, endpoint writes acknowledged.
    Commit,
    /// Partner link traffic (BNDUPD, BNDREPLY, STATE...) through the endpoints.
    Link,
    /// Failover timers.
    Timer,
    /// Client datagrams: the DHCP exchange, the endpoint's record of each lease, the batch.
    Clients,
    /// The control socket, the expiry sweep and the gauges.
    Other,
}

/// Where the event loop's time goes, logged at debug level every 5 s
/// (`RUST_LOG=dhcpv6_failover_server::service=debug`): busy time and turns per part of the
/// loop, the store's commits (count, mean and longest duration, ops, journal entries folded in
/// all and at most in one commit), the latency of the durable replies from reading the request
/// to sending the Reply (median, 99th percentile, max), and how long the client datagrams waited
/// in the socket before the loop read them (median, 99th percentile; kernel receive timestamps,
/// which the socket takes only while this profile is on).
#[derive(Debug)]
struct LoopProfile {
    /// Whether debug logging is on (otherwise nothing is recorded).
    on: bool,
    since: Instant,
    busy: [Duration; 5],
    turns: [u64; 5],
    /// The longest turn of each part.
    turn_max: [Duration; 5],
    commits: u64,
    commit_time: Duration,
    commit_ops: u64,
    /// The longest commit.
    commit_max: Duration,
    /// Journal entries folded into the bindings table (total, and the most in one commit).
    folded: u64,
    folded_max: usize,
    /// Batches of acknowledgement marks alone (the clients quiet; otherwise they ride along).
    marks_written: u64,
    /// Reply latencies in microseconds (at most `MAX_SAMPLES` per interval).
    latencies: Vec<u32>,
    /// How long each client datagram waited in the socket, from the kernel's receipt to the
    /// loop's read, in microseconds (at most `MAX_SAMPLES` per interval).
    queued: Vec<u32>,
}

impl LoopProfile {
    const MAX_SAMPLES: usize = 200_000;
    const INTERVAL: Duration = Duration::from_secs(5);

    fn new() -> Self {
        Self {
            on: Self::enabled(),
            since: Instant::now(),
            busy: [Duration::ZERO; 5],
            turns: [0; 5],
            turn_max: [Duration::ZERO; 5],
            commits: 0,
            commit_time: Duration::ZERO,
            commit_ops: 0,
            commit_max: Duration::ZERO,
            folded: 0,
            folded_max: 0,
            marks_written: 0,
            latencies: Vec::new(),
            queued: Vec::new(),
        }
    }

    fn enabled() -> bool {
        tracing::enabled!(tracing::Level::DEBUG)
    }

    fn account(&mut self, part: Part, started: Instant) {
        let i = part as usize;
        if let (Some(b), Some(t), Some(m)) = (
            self.busy.get_mut(i),
            self.turns.get_mut(i),
            self.turn_max.get_mut(i),
        ) {
            let took = started.elapsed();
            *b += took;
            *t += 1;
            *m = (*m).max(took);
        }
    }

    fn commit(&mut self, took: Duration, ops: usize, folded: usize) {
        self.commits += 1;
        self.commit_time += took;
        self.commit_ops += ops as u64;
        self.commit_max = self.commit_max.max(took);
        self.folded += folded as u64;
        self.folded_max = self.folded_max.max(folded);
    }

    fn replied(&mut self, received: Instant) {
        if self.on && self.latencies.len() < Self::MAX_SAMPLES {
            let us = u32::try_from(received.elapsed().as_micros()).unwrap_or(u32::MAX);
            self.latencies.push(us);
        }
    }

    fn queued(&mut self, kernel_time: SystemTime) {
        if self.on && self.queued.len() < Self::MAX_SAMPLES {
            // A clock stepped back between the two readings counts as no wait.
            let waited = SystemTime::now()
                .duration_since(kernel_time)
                .unwrap_or_default();
            self.queued
                .push(u32::try_from(waited.as_micros()).unwrap_or(u32::MAX));
        }
    }

    /// Logs and restarts the interval once it is over.
    fn maybe_log(&mut self) {
        let span = self.since.elapsed();
        if span < Self::INTERVAL {
            return;
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pct = |d: Duration| d.as_secs_f64() / span.as_secs_f64() * 100.0;
        self.latencies.sort_unstable();
        self.queued.sort_unstable();
        let quantile = |v: &[u32], q: f64| {
            let n = v.len();
            if n == 0 {
                0.0
            } else {
                let i = ((n as f64 - 1.0) * q) as usize;
                f64::from(v.get(i).copied().unwrap_or(0)) / 1000.0
            }
        };
        let at = |q: f64| quantile(&self.latencies, q);
        let [commit, link, timer, clients, other] = self.busy;
        let [tc, tl, tt, tcl, to] = self.turns;
        let [mc, ml, mt, mcl, mo] = self.turn_max;
        tracing::debug!(
            secs = span.as_secs_f64(),
            clients_busy_pct = pct(clients),
            clients_turns = tcl,
            clients_turn_max_ms = ms(mcl),
            link_busy_pct = pct(link),
            link_turns = tl,
            link_turn_max_ms = ms(ml),
            commit_busy_pct = pct(commit),
            commit_turns = tc,
            commit_turn_max_ms = ms(mc),
            timer_busy_pct = pct(timer),
            timer_turns = tt,
            timer_turn_max_ms = ms(mt),
            other_busy_pct = pct(other),
            other_turns = to,
            other_turn_max_ms = ms(mo),
            commits = self.commits,
            commit_mean_ms = if self.commits > 0 {
                ms(self.commit_time) / self.commits as f64
            } else {
                0.0
            },
            commit_max_ms = ms(self.commit_max),
            ops_per_commit = if self.commits > 0 {
                self.commit_ops as f64 / self.commits as f64
            } else {
                0.0
            },
            folded = self.folded,
            folded_max_per_commit = self.folded_max,
            marks_written = self.marks_written,
            replies = self.latencies.len(),
            reply_median_ms = at(0.5),
            reply_p99_ms = at(0.99),
            reply_max_ms = at(1.0),
            queued = self.queued.len(),
            queued_median_ms = quantile(&self.queued, 0.5),
            queued_p99_ms = quantile(&self.queued, 0.99),
            "event loop profile"
        );
        *self = Self::new();
    }
}

/// Runs the server until SIGTERM or SIGINT, its partner links (if any) on the current runtime.
pub async fn run(config: Config) -> Result<(), ServiceError> {
    run_with_links(config, tokio::runtime::Handle::current()).await
}

/// [`run`] with the partner links' tasks (TCP, TLS, their timers) on the runtime `links`.
///
/// The server binary runs this event loop on a current-thread runtime and the links on a
/// runtime of their own: then the event loop's thread polls the client socket itself. Were both
/// on one multi-thread runtime, the thread in `block_on` would not drive the reactor, and every
/// client datagram's readiness would first wake the link worker (busy with TLS, or descheduled
/// on a loaded machine) and then hop to the event loop's thread: two wake-ups per datagram
/// batch instead of one, in front of every Reply.
pub async fn run_with_links(
    config: Config,
    links: tokio::runtime::Handle,
) -> Result<(), ServiceError> {
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::default());
    let mut store = RedbStore::open(&config.store.path, config.store.durable)?;
    let StoredState {
        duid,
        mut bindings,
        meta: failover_meta,
    } = open_state(&mut store)?;
    // Records of updates the partner acknowledged (by the stored marks) read as acknowledged.
    let updates = crate::partner::apply_ack_marks(&config, &mut bindings, &failover_meta);
    let bindings: Vec<Binding> = bindings.into_iter().map(|(b, _)| b).collect();
    let restored = bindings.len();
    let mut engine = Engine::new(
        config.clone(),
        duid,
        bindings,
        u64::from_le_bytes(os_random::<8>()),
    );
    let (mut committer, mut commits) =
        GroupCommitter::start(store, config.store.max_batch, metrics.clone());
    // Failover relationships (none for a standalone server) and the control socket.
    let known: Vec<Binding> = engine.leases().iter().cloned().collect();
    let (mut failover, mut link_rx) =
        crate::partner::Failover::start(&config, &known, &failover_meta, updates, &links)
            .await
            .map_err(|e| ServiceError::Io {
                what: e,
                source: io::Error::other("failover set-up"),
            })?;
    drop(known);
    // Leases that ran out while the server was down: FREE, or EXPIRED through the failover
    // endpoint that governs them.
    failover.tick();
    let reclaimed = engine.reclaim_expired_with(wall_now(), &mut failover);
    failover.pump_engine_writes(&mut engine, &mut committer)?;
    tracing::info!(
        restored,
        reclaimed,
        active = engine.leases().active(),
        duid = %hex::encode(engine.server_id().as_bytes()),
        store = %config.store.path.display(),
        "lease store loaded"
    );
    let mut ctl_rx = match &config.control_socket {
        Some(p) => Some(
            crate::control::spawn(p, &links)
                .map_err(io_err(format!("control socket {}", p.display())))?,
        ),
        None => None,
    };

    let interfaces = discover(&config.server.interfaces).map_err(io_err("resolving interfaces"))?;
    let socket = DhcpSocket::bind(config.server.bind, config.server.port, &interfaces).map_err(
        io_err(format!(
            "binding UDP [{}]:{}",
            config.server.bind, config.server.port
        )),
    )?;
    tracing::info!(port = config.server.port, interfaces = ?interfaces, "listening");
    let mut client_filter = ClientFilter::new(
        config.server.socket_filter,
        engine.server_id().as_bytes().to_vec(),
        &interfaces,
        &engine,
    );
    client_filter.refresh(&socket, &failover);

    // Per-relationship failover metrics, refreshed every tick of the loop.
    let failover_metrics = Arc::new(std::sync::Mutex::new(failover.prometheus()));
    let metrics_task = config.server.metrics.map(|addr| {
        let m = metrics.clone();
        let fm = failover_metrics.clone();
        let extra = Arc::new(move || fm.lock().map(|s| s.clone()).unwrap_or_default());
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(addr, m, extra).await {
                tracing::error!(%addr, error = %e, "metrics endpoint failed");
            }
        })
    });

    let mut sigterm =
        signal(SignalKind::terminate()).map_err(io_err("installing SIGTERM handler"))?;
    let mut sigint =
        signal(SignalKind::interrupt()).map_err(io_err("installing SIGINT handler"))?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut committed: u64 = 0;
    let mut buf = vec![0u8; 65_536];
    let mut malformed_log = RateLimitedLog::new(Duration::from_secs(1));
    update_gauges(&engine, &config, &metrics);

    let profiling = LoopProfile::enabled();
    if profiling && let Err(e) = socket.enable_receive_timestamps() {
        tracing::warn!(error = %e, "no receive timestamps: the profile's queued times stay empty");
    }
    let mut profile = LoopProfile::new();
    let mut last_client_turn = Instant::now();
    // While set, the client socket is not polled (see `UNRESPONSIVE_PAUSE`).
    let mut client_pause: Option<tokio::time::Instant> = None;
    loop {
        let part;
        // Set again as each branch starts: the profile counts handling, not waiting.
        let started;
        tokio::select! {
            biased;
            _ = sigterm.recv() => { tracing::info!("SIGTERM: draining"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: draining"); break; }
            // Operator requests first: they are rare, and under load the commit reports and
            // the link's messages are ready at every turn, which starved them for seconds.
            Some(p) = async {
                match ctl_rx.as_mut() {
                    Some(r) => r.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                part = Part::Other;
                started = Instant::now();
                let answer = crate::control::answer(&p.request, &mut failover, &engine);
                let _ = p.reply.send(answer);
                failover.pump(&mut engine, &mut committer)?;
            }
            Some(c) = commits.recv() => {
                part = Part::Commit;
                started = Instant::now();
                committed = c.upto;
                profile.commit(c.took, c.ops, c.stats.folded);
                if let Err(e) = &c.result {
                    tracing::error!(error = %e, upto = c.upto, "lease store commit failed; withholding the replies of that batch");
                }
                release(&socket, &interfaces, &mut pending, committed, c.result.is_ok(), &metrics, &mut profile).await;
                failover.on_committed(c.upto, &c.result);
                failover.pump(&mut engine, &mut committer)?;
            }
            Some(msg) = link_rx.recv() => {
                part = Part::Link;
                started = Instant::now();
                failover.on_link(msg);
                // Take what else the link tasks delivered meanwhile before draining once.
                for _ in 0..64 {
                    match link_rx.try_recv() {
                        Ok(msg) => failover.on_link(msg),
                        Err(_) => break,
                    }
                }
                failover.pump(&mut engine, &mut committer)?;
            }
            _ = tokio::time::sleep_until(failover.next_wake()) => {
                part = Part::Timer;
                started = Instant::now();
                failover.on_timeout();
                failover.pump(&mut engine, &mut committer)?;
            }
            _ = async {
                match client_pause {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {
                part = Part::Other;
                started = Instant::now();
                client_pause = None;
            }
            // Back-pressure: while `queue_depth` replies wait for the store, leave datagrams in
            // the kernel's buffer (which drops on overflow) rather than queueing more work.
            r = socket.readable(), if pending.len() < config.server.queue_depth && client_pause.is_none() => {
                part = Part::Clients;
                started = Instant::now();
                last_client_turn = started;
                r.map_err(io_err("waiting for datagrams"))?;
                let now = wall_now();
                let mut waiting = Vec::new();
                failover.tick();
                // Datagrams read, answered (or queued for the store), and turned away by the
                // failover state.
                let (mut read, mut answered, mut unresponsive) = (0, 0, 0);
                for i in 0..256 {
                    // Hand the store what this turn has decided so far every SUBMIT_EVERY
                    // datagrams: an idle store starts its commit while the loop reads on, and a
                    // busy one folds the pieces into its next commit anyway.
                    if i > 0 && i % SUBMIT_EVERY == 0 && !waiting.is_empty() {
                        submit(&mut engine, &mut failover, &mut committer, &mut waiting, &mut pending)?;
                    }
                    let rx = match socket.try_recv(&mut buf) {
                        Ok(rx) => rx,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => { tracing::warn!(error = %e, "receive failed"); break; }
                    };
                    let got = Instant::now();
                    read += 1;
                    // Only set while profiling (the socket stamps nothing otherwise).
                    if let Some(t) = rx.kernel_time {
                        profile.queued(t);
                    }
                    if rx.truncated {
                        metrics.dropped(DropReason::Oversized);
                        continue;
                    }
                    let arrival = Arrival {
                        src: rx.src,
                        dst: rx.dst,
                        iface: interfaces.iter().position(|i| i.index == rx.ifindex),
                    };
                    let bytes = buf.get(..rx.len).unwrap_or(&[]);
                    let handled = engine.handle_with(now, &arrival, bytes, &mut failover);
                    // Relayed traffic counts as relay_forw and as the message it carries.
                    if bytes.first() == Some(&12) && handled.msg_type.is_some_and(|t| t.0 != 12) {
                        metrics.packet(12);
                    }
                    if let Some(t) = handled.msg_type { metrics.packet(t.0); }
                    match handled.result {
                        Err(reason) => {
                            metrics.dropped(reason);
                            unresponsive += usize::from(reason == DropReason::NotResponsive);
                            if reason == DropReason::Malformed {
                                malformed_log.note(|n| tracing::warn!(from = %rx.src, count = n, "malformed datagrams dropped"));
                            }
                        }
                        Ok(answer) => {
                            answered += 1;
                            for s in &answer.statuses { metrics.reply_status(s.0); }
                            if !answer.durable {
                                send(&socket, &interfaces, &answer, rx.ifindex, &metrics).await;
                            } else if pending.len() + waiting.len() >= config.server.queue_depth {
                                metrics.dropped(DropReason::QueueFull);
                            } else {
                                waiting.push((answer, rx.ifindex, got));
                            }
                        }
                    }
                }
                submit(&mut engine, &mut failover, &mut committer, &mut waiting, &mut pending)?;
                if read > 0 && answered == 0 && unresponsive > 0 {
                    client_pause = Some(tokio::time::Instant::now() + UNRESPONSIVE_PAUSE);
                }
                // Answers whose batch needed no write (or was already covered) go at once.
                release(&socket, &interfaces, &mut pending, committed, true, &metrics, &mut profile).await;
            }
            _ = tick.tick() => {
                part = Part::Other;
                started = Instant::now();
                failover.tick();
                let n = engine.reclaim_expired_with(wall_now(), &mut failover);
                if n > 0 {
                    tracing::info!(count = n, "expired leases reclaimed");
                    failover.pump_engine_writes(&mut engine, &mut committer)?;
                }
                // The gauges walk every lease: only worth it when someone can read them (with a
                // million leases the walk would stall the client path every second).
                if config.server.metrics.is_some() {
                    update_gauges(&engine, &config, &metrics);
                    if let Ok(mut text) = failover_metrics.lock() {
                        *text = failover.prometheus();
                    }
                }
            }
        }
        // Acknowledgement marks that moved (see `partner::Failover::pump_with`) ride along with
        // the next batch; once the clients are quiet and the store idle, they go alone.
        if failover.ack_marks_moved()
            && committed == committer.last_seq()
            && last_client_turn.elapsed() >= MARKS_QUIET
            && failover.write_ack_marks(&mut committer)?.is_some()
        {
            profile.marks_written += 1;
        }
        // The failover state may have changed what this server answers.
        client_filter.refresh(&socket, &failover);
        if profiling {
            profile.account(part, started);
            profile.maybe_log();
        }
    }
    // What waited of them is written before the drain, and the waiting BNDUPDs and BNDREPLYs
    // go to the link tasks.
    failover.write_ack_marks(&mut committer)?;
    failover.flush_outboxes(true);

    // Drain: every lease already granted is committed and its answer sent before exit.
    let last = committer.last_seq();
    let deadline = Instant::now() + Duration::from_secs(10);
    while committed < last && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), commits.recv()).await {
            Ok(Some(c)) => {
                committed = c.upto;
                release(
                    &socket,
                    &interfaces,
                    &mut pending,
                    committed,
                    c.result.is_ok(),
                    &metrics,
                    &mut profile,
                )
                .await;
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    committer.shutdown(Duration::from_secs(10));
    if let Some(t) = metrics_task {
        t.abort();
    }
    tracing::info!(
        active = engine.leases().active(),
        "lease store flushed; stopped"
    );
    Ok(())
}

/// The client socket's kernel filter ([`crate::sockfilter`]), kept in step with the failover
/// state.
struct ClientFilter {
    enabled: bool,
    server_id: Vec<u8>,
    /// Each interface with a subnet for directly attached clients: its index, that subnet and
    /// its name (the configuration does not change while the server runs).
    direct: Vec<(u32, usize, String)>,
    /// The interfaces whose direct Solicits the installed program drops (none installed yet).
    installed: Option<Vec<u32>>,
}

impl ClientFilter {
    fn new(enabled: bool, server_id: Vec<u8>, interfaces: &[Interface], engine: &Engine) -> Self {
        let direct = interfaces
            .iter()
            .enumerate()
            .filter_map(|(i, iface)| {
                let s = engine.direct_subnet(i)?;
                Some((iface.index, s, iface.name.clone()))
            })
            .collect();
        Self {
            enabled,
            server_id,
            direct,
            installed: None,
        }
    }

    /// Installs a new program when the set of interfaces whose directly attached clients' Solicit,
    /// Confirm and Rebind this server must not answer has changed. Called after every turn of
    /// the loop: it allocates nothing unless the set changed.
    fn refresh(&mut self, socket: &DhcpSocket, failover: &crate::partner::Failover) {
        use crate::dhcp::Authority as _;
        use dhcpv6_wire::MessageType as T;
        if !self.enabled {
            return;
        }
        let refusing = self
            .direct
            .iter()
            .filter(|&&(_, s, _)| {
                [T::SOLICIT, T::CONFIRM, T::REBIND]
                    .iter()
                    .all(|&t| !failover.may_serve(Some(s), t, false))
            })
            .map(|&(index, _, _)| index);
        if self
            .installed
            .as_ref()
            .is_some_and(|now| now.iter().copied().eq(refusing.clone()))
        {
            return;
        }
        let refusing: Vec<u32> = refusing.collect();
        let installed = crate::sockfilter::program(&self.server_id, &refusing)
            .map_err(io::Error::other)
            .and_then(|p| socket.set_filter(&p));
        match installed {
            Ok(()) => {
                let names: Vec<&str> = self
                    .direct
                    .iter()
                    .filter(|(index, _, _)| refusing.contains(index))
                    .map(|(_, _, name)| name.as_str())
                    .collect();
                tracing::info!(
                    solicit_confirm_rebind_dropped_on = ?names,
                    "socket filter installed: the kernel drops client messages addressed to another server, and Solicit, Confirm and Rebind from clients on these interfaces (the failover state does not answer them)"
                );
                self.installed = Some(refusing);
            }
            Err(e) => {
                tracing::warn!(error = %e, "socket filter not installed; every client message is read and judged here");
                self.enabled = false;
            }
        }
    }
}

/// How many datagrams a turn of the loop handles before it hands their lease writes to the store.
const SUBMIT_EVERY: usize = 64;

/// How long the client path must have been quiet before acknowledgement marks that moved get a
/// commit of their own (with clients, they ride along with the clients' batches for free).
const MARKS_QUIET: Duration = Duration::from_millis(250);

/// How long the client socket is left alone after a turn that answered nothing and turned
/// datagrams away by failover state (a secondary in NORMAL, which answers only messages carrying
/// its own Server Identifier, sees every relayed Solicit and Request of the pair's clients, and
/// the direct ones too when the socket filter is off): the next
/// turn then reads what queued meanwhile in one go instead of waking the loop for each
/// datagram. An answer the state allows (a renewal addressed to this server) waits at most this
/// much longer; a turn that answers anything ends the pauses.
const UNRESPONSIVE_PAUSE: Duration = Duration::from_millis(5);

/// Hands the lease writes decided since the last call to the store and queues the `waiting`
/// answers behind them. The lease writes and the failover endpoints' records of the same leases
/// go to the store as one batch: each Reply waits for exactly one durable commit, and the
/// endpoints' BNDUPDs leave once that same commit is done.
fn submit(
    engine: &mut Engine,
    failover: &mut crate::partner::Failover,
    committer: &mut GroupCommitter,
    waiting: &mut Vec<(Answer, u32, Instant)>,
    pending: &mut VecDeque<Pending>,
) -> Result<(), ServiceError> {
    let seq = match failover.pump_engine_writes(engine, committer) {
        Ok(Some(seq)) => seq,
        Ok(None) => committer.last_seq(),
        Err(e) => {
            tracing::error!(error = %e, "lease store unavailable");
            return Err(e.into());
        }
    };
    for (answer, ifindex, received) in waiting.drain(..) {
        pending.push_back(Pending {
            seq,
            answer,
            ifindex,
            received,
        });
    }
    Ok(())
}

/// Sends every pending answer whose batch is committed (or drops them if the commit failed).
async fn release(
    socket: &DhcpSocket,
    interfaces: &[Interface],
    pending: &mut VecDeque<Pending>,
    committed: u64,
    ok: bool,
    metrics: &Metrics,
    profile: &mut LoopProfile,
) {
    while pending.front().is_some_and(|p| p.seq <= committed) {
        let Some(p) = pending.pop_front() else { break };
        if ok {
            send(socket, interfaces, &p.answer, p.ifindex, metrics).await;
            profile.replied(p.received);
        } else {
            metrics.dropped(DropReason::StoreError);
        }
    }
}

async fn send(
    socket: &DhcpSocket,
    interfaces: &[Interface],
    answer: &Answer,
    ifindex: u32,
    metrics: &Metrics,
) {
    let from: Option<Ipv6Addr> = answer.from.or_else(|| {
        interfaces
            .iter()
            .find(|i| i.index == ifindex)
            .and_then(|i| i.link_local)
    });
    if let Err(e) = socket.send(&answer.bytes, answer.to, from, ifindex).await {
        metrics.dropped(DropReason::SendError);
        tracing::debug!(to = %answer.to, error = %e, "send failed");
    }
}

fn update_gauges(engine: &Engine, config: &Config, metrics: &Metrics) {
    use dhcpv6_failover::BindingStatus as S;
    metrics.set_active_leases(engine.leases().active());
    let mut counts = [0u64; 8];
    let names = [
        "active",
        "expired",
        "released",
        "pending_free",
        "free",
        "free_backup",
        "abandoned",
        "reset",
    ];
    for b in engine.leases().iter() {
        let i = match b.status {
            S::Active => 0,
            S::Expired => 1,
            S::Released => 2,
            S::PendingFree => 3,
            S::Free => 4,
            S::FreeBackup => 5,
            S::Abandoned => 6,
            S::Reset => 7,
        };
        counts[i] += 1;
    }
    metrics.set_leases_by_status(names.iter().copied().zip(counts).collect());
    let mut gauges = Vec::new();
    for s in &config.subnets {
        let mut addr = 0u64;
        let mut pfx = 0u64;
        for b in engine
            .leases()
            .iter()
            .filter(|b| b.status == dhcpv6_failover::BindingStatus::Active)
        {
            if crate::leases::in_subnet_pools(s, &b.resource) {
                match b.resource {
                    dhcpv6_failover::Resource::Address(_) => addr += 1,
                    dhcpv6_failover::Resource::Prefix { .. } => pfx += 1,
                }
            }
        }
        if !s.addresses.is_empty() {
            let size: f64 = s.addresses.iter().map(|r| range_size(r) as f64).sum();
            gauges.push(PoolGauge {
                subnet: s.name.clone(),
                kind: "address",
                bound: addr,
                size,
            });
        }
        if !s.prefixes.is_empty() {
            let size: f64 = s.prefixes.iter().map(|p| prefix_count(p) as f64).sum();
            gauges.push(PoolGauge {
                subnet: s.name.clone(),
                kind: "prefix",
                bound: pfx,
                size,
            });
        }
    }
    metrics.set_pools(gauges);
}

/// Logs at most once per interval, with the number of events since the last line.
struct RateLimitedLog {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            suppressed: 0,
        }
    }
    fn note(&mut self, log: impl FnOnce(u64)) {
        self.suppressed += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|l| now.duration_since(l) >= self.interval)
        {
            log(self.suppressed);
            self.suppressed = 0;
            self.last = Some(now);
        }
    }
}
