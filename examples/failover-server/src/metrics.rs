//! Prometheus metrics: lock-free counters updated by the event loop and the store thread, and a
//! tiny HTTP/1.0 responder that serves them in the text exposition format on `GET /metrics`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Why a datagram was dropped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// It did not parse.
    Malformed,
    /// It was longer than the receive buffer.
    Oversized,
    /// A message type a server does not answer (Advertise, Reply, Reconfigure, ...).
    NotForServer,
    /// RFC 8415 says to discard it (wrong or missing Server Identifier, missing Client Identifier...).
    Discarded,
    /// It arrived on an interface we do not serve and was not relayed.
    UnknownLink,
    /// Too many replies were waiting for the store.
    QueueFull,
    /// The store failed to commit the leases it would have granted.
    StoreError,
    /// The failover state forbids answering this client now.
    NotResponsive,
    /// Sending the answer failed.
    SendError,
}

impl DropReason {
    const ALL: [Self; 9] = [
        Self::Malformed,
        Self::Oversized,
        Self::NotForServer,
        Self::Discarded,
        Self::UnknownLink,
        Self::QueueFull,
        Self::StoreError,
        Self::NotResponsive,
        Self::SendError,
    ];
    /// Label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Oversized => "oversized",
            Self::NotForServer => "not_for_server",
            Self::Discarded => "discarded",
            Self::UnknownLink => "unknown_link",
            Self::QueueFull => "queue_full",
            Self::StoreError => "store_error",
            Self::NotResponsive => "not_responsive",
            Self::SendError => "send_error",
        }
    }
}

/// DHCPv6 message type names (RFC 8415 §7.3) for labels.
pub fn message_type_name(t: u8) -> &'static str {
    match t {
        1 => "solicit",
        2 => "advertise",
        3 => "request",
        4 => "confirm",
        5 => "renew",
        6 => "rebind",
        7 => "reply",
        8 => "release",
        9 => "decline",
        10 => "reconfigure",
        11 => "information_request",
        12 => "relay_forw",
        13 => "relay_repl",
        _ => "other",
    }
}

/// Status code names (RFC 8415 §21.13) for labels.
pub fn status_name(code: u16) -> &'static str {
    match code {
        0 => "success",
        1 => "unspec_fail",
        2 => "no_addrs_avail",
        3 => "no_binding",
        4 => "not_on_link",
        5 => "use_multicast",
        6 => "no_prefix_avail",
        _ => "other",
    }
}

const LATENCY_BUCKETS_US: [u64; 10] = [
    250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000,
];

/// Utilisation of one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolGauge {
    /// Subnet name.
    pub subnet: String,
    /// `address` or `prefix`.
    pub kind: &'static str,
    /// Resources bound now.
    pub bound: u64,
    /// Resources in the pool (may be huge; a float keeps /64 pools representable).
    pub size: f64,
}

/// All metrics of the server.
#[derive(Debug)]
pub struct Metrics {
    packets: [AtomicU64; 14],
    replies_by_status: [AtomicU64; 8],
    drops: [AtomicU64; 9],
    active_leases: AtomicU64,
    commit_buckets: [AtomicU64; 10],
    commit_count: AtomicU64,
    commit_sum_us: AtomicU64,
    commit_ops: AtomicU64,
    pools: Mutex<Vec<PoolGauge>>,
    by_status: Mutex<Vec<(&'static str, u64)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            packets: Default::default(),
            replies_by_status: Default::default(),
            drops: Default::default(),
            active_leases: AtomicU64::new(0),
            commit_buckets: Default::default(),
            commit_count: AtomicU64::new(0),
            commit_sum_us: AtomicU64::new(0),
            commit_ops: AtomicU64::new(0),
            pools: Mutex::new(Vec::new()),
            by_status: Mutex::new(Vec::new()),
        }
    }
}

impl Metrics {
    /// Counts a received message of DHCPv6 type `t`.
    pub fn packet(&self, t: u8) {
        self.packets[usize::from(t.min(13))].fetch_add(1, Relaxed);
    }
    /// Counts a status code carried in a reply (one per IA, plus top level).
    pub fn reply_status(&self, code: u16) {
        self.replies_by_status[usize::from(code.min(7))].fetch_add(1, Relaxed);
    }
    /// Counts a drop.
    pub fn dropped(&self, r: DropReason) {
        self.drops[r as usize].fetch_add(1, Relaxed);
    }
    /// Drops counted for one reason so far.
    pub fn drops(&self, r: DropReason) -> u64 {
        self.drops[r as usize].load(Relaxed)
    }
    /// Sets the number of active leases.
    pub fn set_active_leases(&self, n: u64) {
        self.active_leases.store(n, Relaxed);
    }
    /// Replaces the pool utilisation gauges.
    pub fn set_pools(&self, pools: Vec<PoolGauge>) {
        if let Ok(mut p) = self.pools.lock() {
            *p = pools;
        }
    }
    /// Replaces the per-binding-status lease counts (`active`, `free`, `abandoned`, ...).
    pub fn set_leases_by_status(&self, counts: Vec<(&'static str, u64)>) {
        if let Ok(mut p) = self.by_status.lock() {
            *p = counts;
        }
    }
    /// Records one grouped commit.
    pub fn observe_commit(&self, took: Duration, ops: usize) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        for (i, b) in LATENCY_BUCKETS_US.iter().enumerate() {
            if us <= *b {
                self.commit_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.commit_count.fetch_add(1, Relaxed);
        self.commit_sum_us.fetch_add(us, Relaxed);
        self.commit_ops.fetch_add(ops as u64, Relaxed);
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        let _ = writeln!(
            s,
            "# HELP dhcpv6_packets_received_total DHCPv6 messages received, by type."
        );
        let _ = writeln!(s, "# TYPE dhcpv6_packets_received_total counter");
        for (t, c) in self.packets.iter().enumerate().skip(1) {
            let _ = writeln!(
                s,
                "dhcpv6_packets_received_total{{type=\"{}\"}} {}",
                message_type_name(t as u8),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP dhcpv6_reply_status_total Status codes sent in replies (per IA and top level)."
        );
        let _ = writeln!(s, "# TYPE dhcpv6_reply_status_total counter");
        for (code, c) in self.replies_by_status.iter().enumerate() {
            let _ = writeln!(
                s,
                "dhcpv6_reply_status_total{{status=\"{}\"}} {}",
                status_name(code as u16),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP dhcpv6_drops_total Datagrams dropped without an answer, by reason."
        );
        let _ = writeln!(s, "# TYPE dhcpv6_drops_total counter");
        for r in DropReason::ALL {
            let _ = writeln!(
                s,
                "dhcpv6_drops_total{{reason=\"{}\"}} {}",
                r.label(),
                self.drops(r)
            );
        }
        let _ = writeln!(s, "# HELP dhcpv6_active_leases Leases bound now.");
        let _ = writeln!(s, "# TYPE dhcpv6_active_leases gauge");
        let _ = writeln!(
            s,
            "dhcpv6_active_leases {}",
            self.active_leases.load(Relaxed)
        );
        let _ = writeln!(s, "# HELP dhcpv6_leases Lease records by binding status.");
        let _ = writeln!(s, "# TYPE dhcpv6_leases gauge");
        if let Ok(st) = self.by_status.lock() {
            for (name, n) in st.iter() {
                let _ = writeln!(s, "dhcpv6_leases{{status=\"{name}\"}} {n}");
            }
        }
        let _ = writeln!(s, "# HELP dhcpv6_pool_bound Resources bound in each pool.");
        let _ = writeln!(s, "# TYPE dhcpv6_pool_bound gauge");
        let _ = writeln!(
            s,
            "# HELP dhcpv6_pool_utilisation Fraction of each pool that is bound."
        );
        let _ = writeln!(s, "# TYPE dhcpv6_pool_utilisation gauge");
        if let Ok(pools) = self.pools.lock() {
            for p in pools.iter() {
                let labels = format!("subnet=\"{}\",kind=\"{}\"", p.subnet, p.kind);
                let _ = writeln!(s, "dhcpv6_pool_bound{{{labels}}} {}", p.bound);
                let util = if p.size > 0.0 {
                    p.bound as f64 / p.size
                } else {
                    0.0
                };
                let _ = writeln!(s, "dhcpv6_pool_utilisation{{{labels}}} {util}");
            }
        }
        let _ = writeln!(
            s,
            "# HELP dhcpv6_store_commit_seconds Latency of grouped lease-store commits."
        );
        let _ = writeln!(s, "# TYPE dhcpv6_store_commit_seconds histogram");
        for (i, b) in LATENCY_BUCKETS_US.iter().enumerate() {
            let _ = writeln!(
                s,
                "dhcpv6_store_commit_seconds_bucket{{le=\"{}\"}} {}",
                *b as f64 / 1e6,
                self.commit_buckets[i].load(Relaxed)
            );
        }
        let count = self.commit_count.load(Relaxed);
        let _ = writeln!(
            s,
            "dhcpv6_store_commit_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "dhcpv6_store_commit_seconds_sum {}",
            self.commit_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "dhcpv6_store_commit_seconds_count {count}");
        let _ = writeln!(
            s,
            "# HELP dhcpv6_store_ops_total Records written by grouped commits."
        );
        let _ = writeln!(s, "# TYPE dhcpv6_store_ops_total counter");
        let _ = writeln!(
            s,
            "dhcpv6_store_ops_total {}",
            self.commit_ops.load(Relaxed)
        );
        s
    }
}

/// Serves `GET /metrics` on `addr` until the task is dropped. Each connection gets one answer
/// (HTTP/1.0 semantics); requests are bounded in size and time.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    extra: Arc<dyn Fn() -> String + Send + Sync>,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics endpoint listening");
    loop {
        let (mut conn, _) = listener.accept().await?;
        let metrics = metrics.clone();
        let extra = extra.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let mut len = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while len < buf.len() {
                    let n = conn.read(&mut buf[len..]).await?;
                    if n == 0 {
                        break;
                    }
                    len += n;
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let request = String::from_utf8_lossy(&buf[..len]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) =
                if request.starts_with("GET ") && (path == "/metrics" || path == "/") {
                    let mut body = metrics.render();
                    body.push_str(&extra());
                    ("200 OK", body)
                } else {
                    ("404 Not Found", "not found; try /metrics\n".to_owned())
                };
            let head = format!(
                "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        m.packet(1);
        m.packet(1);
        m.reply_status(2);
        m.dropped(DropReason::Malformed);
        m.observe_commit(Duration::from_micros(700), 3);
        m.set_pools(vec![PoolGauge {
            subnet: "lan".into(),
            kind: "address",
            bound: 5,
            size: 10.0,
        }]);
        let s = m.render();
        assert!(s.contains("dhcpv6_packets_received_total{type=\"solicit\"} 2"));
        assert!(s.contains("dhcpv6_reply_status_total{status=\"no_addrs_avail\"} 1"));
        assert!(s.contains("dhcpv6_drops_total{reason=\"malformed\"} 1"));
        assert!(s.contains("dhcpv6_store_commit_seconds_bucket{le=\"0.001\"} 1"));
        assert!(s.contains("dhcpv6_store_commit_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(s.contains("dhcpv6_pool_utilisation{subnet=\"lan\",kind=\"address\"} 0.5"));
    }

    #[tokio::test]
    async fn http_responder_serves_metrics() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = probe.local_addr().expect("addr");
        drop(probe);
        let m = Arc::new(Metrics::default());
        m.packet(3);
        let task = tokio::spawn(serve(addr, m, Arc::new(String::new)));
        let mut body = String::new();
        for _ in 0..50 {
            if let Ok(mut c) = tokio::net::TcpStream::connect(addr).await {
                c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .expect("write");
                c.read_to_string(&mut body).await.expect("read");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        assert!(body.starts_with("HTTP/1.0 200 OK"), "{body}");
        assert!(body.contains("dhcpv6_packets_received_total{type=\"request\"} 1"));
    }
}
