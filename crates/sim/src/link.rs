//! Sans-IO simulated networks, seeded and driven by virtual time (milliseconds).
//!
//! * [`PartnerLink`]: the failover connection between the two servers. It is a TCP byte
//!   stream: bytes arrive in order, possibly split into arbitrary chunks, never duplicated or
//!   reordered; "loss" means the connection breaks (both sides see it go down). A partition holds
//!   bytes in flight; if it heals before the TCP timeout they are delivered late, otherwise the
//!   connection breaks. Connecting across a partition fails after the connect timeout.
//! * [`Datagrams`]: the client links. Independent datagrams that can be lost, duplicated and
//!   reordered (each copy gets its own latency).
//!
//! Modelled on str0m's `netem` and quinn's test `Pair`: nothing here reads a clock or a socket;
//! the owner asks for [`PartnerLink::next_wakeup`] and pulls due deliveries with `poll`.

use std::collections::BTreeMap;

use crate::rng::SimRng;

/// Virtual time in milliseconds since the start of the run.
pub type Millis = u64;

/// One of the two servers of the pair: `0` is the primary, `1` the secondary.
pub type Side = usize;

/// The other side.
pub fn peer(side: Side) -> Side {
    1 - side
}

/// Parameters of the partner link.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Minimum one-way latency.
    pub latency_min: Millis,
    /// Maximum one-way latency.
    pub latency_max: Millis,
    /// Probability that a given transmit breaks the connection (a TCP reset: bytes in flight
    /// are lost, both sides see the connection go down).
    pub break_per_transmit: f64,
    /// Largest chunk the stream delivers at once (`0`: whole transmits).
    pub max_chunk: usize,
    /// How long a connection survives a partition while it has bytes in flight.
    pub tcp_timeout: Millis,
    /// How long a connection attempt across a partition takes to fail.
    pub connect_timeout: Millis,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency_min: 1,
            latency_max: 20,
            break_per_transmit: 0.0,
            max_chunk: 0,
            tcp_timeout: 30_000,
            connect_timeout: 3_000,
        }
    }
}

/// What the link delivers to one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkDelivery {
    /// The connection is established (report with `handle_connection_up`).
    Up,
    /// The connection is gone, or the connection attempt failed (`handle_connection_down`).
    Down,
    /// Stream bytes (`handle_bytes`).
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ConnState {
    /// SYN sent, `Up` deliveries scheduled.
    Connecting,
    /// Both sides up.
    Established,
}

#[derive(Clone, Debug)]
struct Conn {
    id: u64,
    state: ConnState,
    /// Whether each side has been told the connection is up and not yet told it is down.
    up: [bool; 2],
    /// Whether each side still accepts bytes (a side that closed or crashed does not).
    open: [bool; 2],
}

#[derive(Clone, Debug)]
struct Scheduled {
    /// `None` while held by a partition.
    at: Option<Millis>,
    seq: u64,
    to: Side,
    conn: u64,
    /// Whether it crosses the network (held by a partition) or is a local notice.
    remote: bool,
    what: LinkDelivery,
}

/// The simulated failover TCP connection between the primary (side 0) and secondary (side 1).
#[derive(Debug)]
pub struct PartnerLink {
    cfg: LinkConfig,
    rng: SimRng,
    conn: Option<Conn>,
    next_conn_id: u64,
    partitioned: bool,
    partition_deadline: Option<Millis>,
    /// Deliveries with a time, by (time, sequence).
    queue: BTreeMap<(Millis, u64), Scheduled>,
    /// Deliveries held by a partition (no time yet), in sequence order.
    held: Vec<Scheduled>,
    seq: u64,
    /// Per direction (indexed by receiving side): the latest scheduled byte delivery, to keep
    /// the stream in order.
    last_bytes_at: [Millis; 2],
    /// Counters, for reports.
    pub stats: LinkStats,
}

/// What happened on a link, for the run summary.
#[derive(Clone, Debug, Default)]
pub struct LinkStats {
    /// Connections established.
    pub connections: u64,
    /// Connections broken by faults (resets, partitions outlasting the TCP timeout, crashes).
    pub breaks: u64,
    /// Bytes accepted for delivery.
    pub bytes: u64,
    /// Transmits attempted while the sender had no connection (dropped).
    pub sends_without_connection: u64,
}

impl PartnerLink {
    /// A link with no connection.
    pub fn new(cfg: LinkConfig, rng: SimRng) -> Self {
        Self {
            cfg,
            rng,
            conn: None,
            next_conn_id: 1,
            partitioned: false,
            partition_deadline: None,
            queue: BTreeMap::new(),
            held: Vec::new(),
            seq: 0,
            last_bytes_at: [0; 2],
            stats: LinkStats::default(),
        }
    }

    /// Replaces the link parameters (fault phases change them).
    pub fn set_config(&mut self, cfg: LinkConfig) {
        self.cfg = cfg;
    }

    /// Whether the servers are partitioned from each other.
    pub fn is_partitioned(&self) -> bool {
        self.partitioned
    }

    /// Whether `side` currently believes it has a connection.
    pub fn is_up(&self, side: Side) -> bool {
        self.conn.as_ref().is_some_and(|c| c.up[side])
    }

    /// Whether a connection exists or is being set up.
    pub fn has_connection(&self) -> bool {
        self.conn.is_some()
    }

    fn latency(&mut self) -> Millis {
        self.rng.range(self.cfg.latency_min, self.cfg.latency_max)
    }

    fn schedule(&mut self, at: Option<Millis>, to: Side, conn: u64, what: LinkDelivery) {
        self.schedule_with(at, to, conn, false, what);
    }

    fn schedule_with(
        &mut self,
        at: Option<Millis>,
        to: Side,
        conn: u64,
        remote: bool,
        what: LinkDelivery,
    ) {
        self.seq += 1;
        let item = Scheduled {
            at,
            seq: self.seq,
            to,
            conn,
            remote,
            what,
        };
        match at {
            Some(t) => {
                self.queue.insert((t, item.seq), item);
            }
            None => self.held.push(item),
        }
    }

    /// Drops every scheduled or held delivery matching `pred`.
    fn drop_where(&mut self, pred: impl Fn(&Scheduled) -> bool) {
        self.queue.retain(|_, s| !pred(s));
        self.held.retain(|s| !pred(s));
    }

    /// `from` asks to open a connection (the primary's `Connect` request). Ignored if a
    /// connection exists or is being set up.
    pub fn connect(&mut self, now: Millis, from: Side) {
        if self.conn.is_some() {
            return;
        }
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        if self.partitioned {
            // The SYN goes nowhere; the attempt times out.
            let at = now + self.cfg.connect_timeout;
            self.schedule(Some(at), from, 0, LinkDelivery::Down);
            return;
        }
        self.conn = Some(Conn {
            id,
            state: ConnState::Connecting,
            up: [false; 2],
            open: [true; 2],
        });
        let l1 = self.latency();
        let l2 = self.latency();
        let acceptor = peer(from);
        self.last_bytes_at = [now + l1 + l2; 2];
        self.schedule(Some(now + l1), acceptor, id, LinkDelivery::Up);
        self.schedule(Some(now + l1 + l2), from, id, LinkDelivery::Up);
    }

    /// `from` writes bytes to the stream.
    pub fn send(&mut self, now: Millis, from: Side, bytes: &[u8]) {
        let Some(conn) = self.conn.as_ref() else {
            self.stats.sends_without_connection += 1;
            return;
        };
        if !conn.up[from] || !conn.open[from] {
            self.stats.sends_without_connection += 1;
            return;
        }
        let id = conn.id;
        if self.rng.chance(self.cfg.break_per_transmit) {
            self.break_connection(now);
            return;
        }
        self.stats.bytes += bytes.len() as u64;
        let to = peer(from);
        let mut chunks = Vec::new();
        if self.cfg.max_chunk == 0 {
            chunks.push(bytes.to_vec());
        } else {
            let mut rest = bytes;
            while !rest.is_empty() {
                let max = u64::try_from(self.cfg.max_chunk.min(rest.len())).unwrap_or(1);
                let n = usize::try_from(self.rng.range(1, max)).unwrap_or(1);
                let (head, tail) = rest.split_at(n.min(rest.len()));
                chunks.push(head.to_vec());
                rest = tail;
            }
        }
        for chunk in chunks {
            let at = if self.partitioned {
                None
            } else {
                let l = self.latency();
                let at = (now + l).max(self.last_bytes_at[to]);
                self.last_bytes_at[to] = at;
                Some(at)
            };
            self.schedule_with(at, to, id, true, LinkDelivery::Bytes(chunk));
        }
        if self.partitioned && self.partition_deadline.is_none() {
            self.partition_deadline = Some(now + self.cfg.tcp_timeout);
        }
    }

    /// `from` closes the connection (after a `Disconnect` request, or because it crashed).
    /// `from` is told at once; the peer gets the bytes already in flight, then `Down`.
    pub fn close(&mut self, now: Millis, from: Side) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if !conn.up[from] && conn.open[from] {
            // `from` is closing a connection it still believes in that is already gone (its
            // peer crashed and reconnected): a new connection it has not been told about yet
            // is not the one it closes.
            self.schedule(Some(now), from, 0, LinkDelivery::Down);
            return;
        }
        let id = conn.id;
        conn.open[from] = false;
        let was_up = conn.up[from];
        conn.up[from] = false;
        // Bytes still travelling towards the closing side are discarded.
        // Bytes still travelling towards the closing side, and a pending `Up` for it, are void.
        self.drop_where(|s| s.conn == id && s.to == from);
        if was_up {
            self.schedule(Some(now), from, id, LinkDelivery::Down);
        }
        let to = peer(from);
        let at = if self.partitioned {
            None
        } else {
            let l = self.latency();
            Some((now + l).max(self.last_bytes_at[to]))
        };
        self.schedule_with(at, to, id, true, LinkDelivery::Down);
        if self.partitioned && self.partition_deadline.is_none() {
            self.partition_deadline = Some(now + self.cfg.tcp_timeout);
        }
        self.conn = None;
    }

    /// `side` crashed: its end of the connection vanishes without a FIN. The survivor learns
    /// after `detect` milliseconds (a reset on the rebooted host, or a TCP timeout).
    pub fn crash(&mut self, now: Millis, side: Side, detect: Millis) {
        let Some(conn) = self.conn.as_ref() else {
            // A pending failed-connect notice for the crashed side is void.
            self.drop_where(|s| s.to == side);
            return;
        };
        let id = conn.id;
        let survivor_up = conn.up[peer(side)];
        self.drop_where(|s| s.conn == id || s.to == side);
        if survivor_up {
            self.schedule(Some(now + detect), peer(side), id, LinkDelivery::Down);
        }
        self.conn = None;
    }

    /// A fault breaks the connection: bytes in flight are lost, both sides see `Down`.
    pub fn break_connection(&mut self, now: Millis) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        self.stats.breaks += 1;
        let id = conn.id;
        self.drop_where(|s| s.conn == id);
        for side in 0..2 {
            if conn.up[side] || conn.state == ConnState::Connecting {
                let l = self.latency();
                self.schedule(Some(now + l), side, id, LinkDelivery::Down);
            }
        }
    }

    /// The servers can no longer reach each other.
    pub fn partition(&mut self, now: Millis) {
        if self.partitioned {
            return;
        }
        self.partitioned = true;
        let remote: Vec<(Millis, u64)> = self
            .queue
            .iter()
            .filter(|(_, s)| s.remote)
            .map(|(k, _)| *k)
            .collect();
        let held = !remote.is_empty();
        for k in remote {
            if let Some(mut s) = self.queue.remove(&k) {
                s.at = None;
                self.held.push(s);
            }
        }
        self.held.sort_by_key(|s| s.seq);
        // A connection being set up cannot complete.
        if self
            .conn
            .as_ref()
            .is_some_and(|c| c.state == ConnState::Connecting)
        {
            self.break_connection(now);
        }
        self.partition_deadline = held.then_some(now + self.cfg.tcp_timeout);
    }

    /// The partition ends; held bytes are delivered (TCP retransmission), in order.
    pub fn heal(&mut self, now: Millis) {
        if !self.partitioned {
            return;
        }
        self.partitioned = false;
        self.partition_deadline = None;
        for mut s in std::mem::take(&mut self.held) {
            let l = self.latency();
            let at = (now + l).max(self.last_bytes_at[s.to]);
            self.last_bytes_at[s.to] = at;
            s.at = Some(at);
            self.queue.insert((at, s.seq), s);
        }
    }

    /// The earliest time something is due.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let q = self.queue.keys().next().map(|(t, _)| *t);
        match (q, self.partition_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next delivery due at or before `now`, in (time, sequence) order.
    pub fn poll(&mut self, now: Millis) -> Option<(Side, LinkDelivery)> {
        if let Some(deadline) = self.partition_deadline
            && deadline <= now
            && self.partitioned
        {
            self.partition_deadline = None;
            // TCP gives up: the connection breaks, but the partition holds the notices
            // back only for bytes; both ends notice locally.
            if let Some(conn) = self.conn.take() {
                self.stats.breaks += 1;
                let id = conn.id;
                self.drop_where(|s| s.conn == id);
                for side in 0..2 {
                    if conn.up[side] {
                        self.schedule(Some(now), side, id, LinkDelivery::Down);
                    }
                }
            }
            // Held close notices of connections already gone time out locally too; held
            // bytes of such connections are lost.
            for mut s in std::mem::take(&mut self.held) {
                if s.what == LinkDelivery::Down {
                    s.at = Some(now);
                    self.queue.insert((now, s.seq), s);
                }
            }
        }
        loop {
            let key = *self.queue.keys().next()?;
            if key.0 > now {
                return None;
            }
            let item = self.queue.remove(&key)?;
            let current = self.conn.as_ref().map(|c| c.id);
            match &item.what {
                LinkDelivery::Up => {
                    let Some(conn) = self.conn.as_mut().filter(|c| c.id == item.conn) else {
                        continue;
                    };
                    conn.up[item.to] = true;
                    if conn.up == [true; 2] {
                        conn.state = ConnState::Established;
                        self.stats.connections += 1;
                    }
                }
                LinkDelivery::Bytes(_) => {
                    if current != Some(item.conn) || !self.is_up(item.to) {
                        continue;
                    }
                }
                LinkDelivery::Down => {
                    // A close notice for a side that has since opened a newer connection would
                    // tear down the wrong one: only deliver it if that side is not on a newer
                    // connection.
                    if let Some(c) = self.conn.as_mut() {
                        if c.id != item.conn && item.conn != 0 && c.up[item.to] {
                            continue;
                        }
                        if c.id == item.conn {
                            c.up[item.to] = false;
                        }
                    }
                }
            }
            return Some((item.to, item.what));
        }
    }
}

/// Parameters of the client links.
#[derive(Clone, Debug)]
pub struct DatagramConfig {
    /// Minimum one-way latency.
    pub latency_min: Millis,
    /// Maximum one-way latency (independent per datagram: this is what reorders).
    pub latency_max: Millis,
    /// Loss probability per datagram.
    pub loss: f64,
    /// Duplication probability per datagram.
    pub duplicate: f64,
}

impl Default for DatagramConfig {
    fn default() -> Self {
        Self {
            latency_min: 1,
            latency_max: 50,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// A lossy, duplicating, reordering datagram network carrying `T`.
#[derive(Debug)]
pub struct Datagrams<T> {
    cfg: DatagramConfig,
    rng: SimRng,
    queue: BTreeMap<(Millis, u64), T>,
    seq: u64,
    /// Datagrams dropped by loss.
    pub lost: u64,
}

impl<T: Clone> Datagrams<T> {
    /// An empty network.
    pub fn new(cfg: DatagramConfig, rng: SimRng) -> Self {
        Self {
            cfg,
            rng,
            queue: BTreeMap::new(),
            seq: 0,
            lost: 0,
        }
    }

    /// Replaces the parameters.
    pub fn set_config(&mut self, cfg: DatagramConfig) {
        self.cfg = cfg;
    }

    /// The configured maximum latency.
    pub fn max_latency(&self) -> Millis {
        self.cfg.latency_max
    }

    /// Sends `msg`; it may be lost, duplicated or overtaken.
    pub fn send(&mut self, now: Millis, msg: T) {
        if self.rng.chance(self.cfg.loss) {
            self.lost += 1;
            return;
        }
        let copies = if self.rng.chance(self.cfg.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let l = self.rng.range(self.cfg.latency_min, self.cfg.latency_max);
            self.seq += 1;
            self.queue.insert((now + l, self.seq), msg.clone());
        }
    }

    /// The earliest delivery time.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.queue.keys().next().map(|(t, _)| *t)
    }

    /// The next datagram due at or before `now`.
    pub fn poll(&mut self, now: Millis) -> Option<T> {
        let key = *self.queue.keys().next()?;
        if key.0 > now {
            return None;
        }
        self.queue.remove(&key)
    }

    /// Drops every datagram matching `pred` (a crashed receiver).
    pub fn discard(&mut self, pred: impl Fn(&T) -> bool) {
        self.queue.retain(|_, d| !pred(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(link: &mut PartnerLink, until: Millis) -> Vec<(Millis, Side, LinkDelivery)> {
        let mut out = Vec::new();
        let mut now = 0;
        while let Some(t) = link.next_wakeup() {
            if t > until {
                break;
            }
            now = now.max(t);
            while let Some((side, d)) = link.poll(now) {
                out.push((now, side, d));
            }
        }
        out
    }

    #[test]
    fn stream_is_ordered_and_complete_even_when_chunked() {
        let cfg = LinkConfig {
            max_chunk: 3,
            latency_min: 1,
            latency_max: 40,
            ..LinkConfig::default()
        };
        let mut link = PartnerLink::new(cfg, SimRng::new(5));
        link.connect(0, 0);
        let ups = drain(&mut link, 1_000);
        assert_eq!(
            ups.iter()
                .filter(|(_, _, d)| *d == LinkDelivery::Up)
                .count(),
            2
        );
        let msg: Vec<u8> = (0..200u8).collect();
        link.send(100, 0, &msg[..100]);
        link.send(101, 0, &msg[100..]);
        let got: Vec<u8> = drain(&mut link, 10_000)
            .into_iter()
            .filter_map(|(_, side, d)| match d {
                LinkDelivery::Bytes(b) if side == 1 => Some(b),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(got, msg);
    }

    #[test]
    fn partition_holds_bytes_then_delivers_on_heal() {
        let mut link = PartnerLink::new(LinkConfig::default(), SimRng::new(1));
        link.connect(0, 0);
        drain(&mut link, 1_000);
        link.partition(1_000);
        link.send(1_000, 1, b"hello");
        assert!(drain(&mut link, 5_000).is_empty());
        link.heal(5_000);
        let got = drain(&mut link, 10_000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, 0);
        assert_eq!(got[0].2, LinkDelivery::Bytes(b"hello".to_vec()));
    }

    #[test]
    fn long_partition_breaks_the_connection() {
        let mut link = PartnerLink::new(LinkConfig::default(), SimRng::new(2));
        link.connect(0, 0);
        drain(&mut link, 1_000);
        link.partition(1_000);
        link.send(1_000, 0, b"x");
        let got = drain(&mut link, 100_000);
        let downs: Vec<Side> = got
            .iter()
            .filter(|(_, _, d)| *d == LinkDelivery::Down)
            .map(|(_, s, _)| *s)
            .collect();
        assert_eq!(downs, vec![0, 1]);
        assert!(!link.has_connection());
    }

    #[test]
    fn connect_across_partition_fails() {
        let mut link = PartnerLink::new(LinkConfig::default(), SimRng::new(3));
        link.partition(0);
        link.connect(0, 0);
        let got = drain(&mut link, 100_000);
        assert_eq!(got, vec![(3_000, 0, LinkDelivery::Down)]);
    }

    #[test]
    fn reset_loses_bytes_and_downs_both() {
        let cfg = LinkConfig {
            break_per_transmit: 1.0,
            ..LinkConfig::default()
        };
        let mut link = PartnerLink::new(cfg, SimRng::new(4));
        link.connect(0, 0);
        drain(&mut link, 1_000);
        link.send(1_000, 0, b"lost");
        let got = drain(&mut link, 100_000);
        assert_eq!(
            got.iter()
                .filter(|(_, _, d)| *d == LinkDelivery::Down)
                .count(),
            2
        );
        assert!(
            got.iter()
                .all(|(_, _, d)| !matches!(d, LinkDelivery::Bytes(_)))
        );
    }

    #[test]
    fn closing_a_stale_connection_spares_the_new_one() {
        let mut link = PartnerLink::new(
            LinkConfig {
                latency_min: 10,
                latency_max: 10,
                ..LinkConfig::default()
            },
            SimRng::new(6),
        );
        link.connect(0, 0);
        drain(&mut link, 1_000);
        // The primary crashes; before the secondary notices, the restarted primary reconnects.
        link.crash(1_000, 0, 20_000);
        link.connect(1_001, 0);
        // The secondary's keepalive expires for the old connection: it closes that one.
        link.close(1_005, 1);
        let got = drain(&mut link, 100_000);
        assert!(got.contains(&(1_011, 1, LinkDelivery::Up)), "{got:?}");
        assert!(got.contains(&(1_021, 0, LinkDelivery::Up)), "{got:?}");
        assert!(link.is_up(0) && link.is_up(1), "{got:?}");
    }

    #[test]
    fn datagrams_drop_duplicate_and_reorder() {
        let cfg = DatagramConfig {
            latency_min: 1,
            latency_max: 100,
            loss: 0.2,
            duplicate: 0.2,
        };
        let mut net = Datagrams::new(cfg, SimRng::new(9));
        for i in 0..1000u32 {
            net.send(u64::from(i), i);
        }
        let mut got = Vec::new();
        while let Some(t) = net.next_wakeup() {
            while let Some(m) = net.poll(t) {
                got.push(m);
            }
        }
        let mut sorted = got.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert!(net.lost > 100, "losses");
        assert!(got.len() > sorted.len(), "duplicates");
        assert!(got.windows(2).any(|w| w[0] > w[1]), "reordering");
    }
}
