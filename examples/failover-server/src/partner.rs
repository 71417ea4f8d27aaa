//! The partner link: one [`dhcpv6_failover::Endpoint`] per failover relationship, driven by the
//! server's event loop, with its TCP (optionally TLS) connection in a task of its own.
//!
//! ```text
//!  link task ──LinkMsg (Up / Bytes / Down)──▶ Failover::on_link ─▶ Endpoint::handle_*
//!  Endpoint::poll_transmit ──LinkCmd::Send──▶ link task ──▶ TCP 647
//!  Endpoint::poll_storage ──Op──▶ GroupCommitter ──"committed up to N"──▶ handle_storage_done
//!  DHCP engine ──Authority (may_serve, allocate, lease_bound, record_lease)──▶ Endpoint
//! ```
//!
//! The endpoint is sans-IO: it never waits. The lease write and the endpoint's own record of the
//! lease go to the store in the same batch ([`Failover::pump_with`]); the DHCP Reply is sent once
//! that one commit is durable (as for a standalone server), and the same commit releases the
//! BNDUPD. What an accepted BNDREPLY changes in a record (acked-partner-lifetime, partner-lifetime,
//! the "needs update" flag) needs no stable storage before anything (RFC 8156 §7.7): such
//! acknowledgement-only rewrites wait for an idle store ([`Failover::pump_with`]) instead of
//! lengthening the commits clients wait for. Nothing a client does waits for the partner. The link tasks run on a runtime of their
//! own, on a worker thread (see `main.rs`), so TLS and socket work for the partner stays off the
//! client path, and the event loop's runtime polls the client socket itself.
//!
//! Connection set-up follows RFC 8156 §6.1 and the RFC 7653 procedure it refers to: the primary
//! connects to the secondary's port (647 by default); the secondary accepts connections only from
//! the configured partner addresses; when TLS is configured the primary sends STARTTLS (msg-type
//! 23) as the first message and the secondary either answers STARTTLS and starts the TLS 1.3
//! handshake or answers with status TLSConnectionRefused (15) and closes. Authentication is by
//! pinned certificate fingerprints ([`crate::tls`]); see `docs/design/partner-link.md`.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dhcpv6_failover::{
    AddressRange, ClientKey, ClientRequestKind, Endpoint, Event, LeaseChange,
    PersistedEndpointState, PersistedState, PoolSet, PrefixPool, Resource, ResourceKind, Role,
    State, StatusSnapshot, StorageError, StorageRecord, UnixTime, WriteId,
};
use dhcpv6_wire::MessageType;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use toml::Spanned;

use crate::config::{ConfigError, Subnet};
use crate::dhcp::{Authority, Engine};
use crate::leases::resource_key;
use crate::store::{Op, Table};
use crate::tls::Fingerprint;

/// The default failover port (RFC 8156 §10: TCP port 647).
pub const DEFAULT_PORT: u16 = 647;

/// How many BNDUPDs a server accepts unacknowledged by default. The partner's updates are
/// read off the connection as they come (nothing blocks), and each round trip includes a
/// durable commit on both sides (several milliseconds), so a window of 100 caps the update rate
/// near 100 per commit time, below what one server grants; 1000 keeps the partner in step
/// under full load (measured: with 100 the secondary fell thousands of leases behind at
/// 4,000 clients/s with IA_NA + IA_PD).
pub const DEFAULT_MAX_UNACKED_BNDUPD: u32 = 1000;

/// Meta-table key prefix of a relationship's persisted endpoint state.
pub const META_ENDPOINT_PREFIX: &str = "failover-endpoint/";
/// Meta-table key prefix of a relationship's acknowledgement mark (see [`apply_ack_marks`]).
pub const META_ACK_MARK_PREFIX: &str = "failover-acked-upto/";

// ---- configuration -----------------------------------------------------------------------------

/// A `[[failover]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelationship {
    name: String,
    role: String,
    /// Primary: the secondary's address and port. Secondary: the primary's address (port ignored).
    partner: String,
    /// Secondary: the address to listen on (default `[::]:647`).
    #[serde(default)]
    listen: Option<String>,
    subnets: Vec<String>,
    #[serde(default)]
    mclt_secs: Option<u64>,
    #[serde(default)]
    max_unacked_bndupd: Option<u32>,
    #[serde(default)]
    auto_partner_down_secs: Option<u64>,
    #[serde(default)]
    startup_wait_secs: Option<u64>,
    #[serde(default)]
    keepalive_secs: Option<u64>,
    #[serde(default)]
    connect_retry_secs: Option<u64>,
    #[serde(default)]
    plaintext: bool,
    #[serde(default)]
    tls: Option<RawTls>,
}

/// `[failover.tls]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    cert: String,
    key: String,
    partner_fingerprints: Vec<String>,
}

/// TLS settings of a relationship.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Our certificate (PEM).
    pub cert: PathBuf,
    /// Our private key (PEM).
    pub key: PathBuf,
    /// The partner certificates we accept.
    pub partner_fingerprints: Vec<Fingerprint>,
}

/// One validated failover relationship.
#[derive(Debug, Clone)]
pub struct RelationshipConfig {
    /// Relationship name (sent in CONNECT).
    pub name: String,
    /// Our role.
    pub role: Role,
    /// The partner: where the primary connects; the address the secondary accepts.
    pub partner: SocketAddr,
    /// Where the secondary listens.
    pub listen: SocketAddr,
    /// Indices (into `Config::subnets`) of the subnets this relationship governs.
    pub subnets: Vec<usize>,
    /// Maximum client lead time.
    pub mclt: Duration,
    /// Maximum unacknowledged BNDUPDs we accept from the partner (sent to it as
    /// OPTION_F_MAX_UNACKED_BNDUPD); default [`DEFAULT_MAX_UNACKED_BNDUPD`].
    pub max_unacked_bndupd: u32,
    /// Automatic PARTNER-DOWN after this long in COMMUNICATIONS-INTERRUPTED (off by default).
    pub auto_partner_down: Option<Duration>,
    /// How long to stay in STARTUP.
    pub startup_wait: Duration,
    /// Keepalive interval.
    pub keepalive: Duration,
    /// Reconnect interval (primary); backs off up to three times this.
    pub connect_retry: Duration,
    /// TLS settings; `None` only when `plaintext = true` was written.
    pub tls: Option<TlsSettings>,
}

fn line_of(text: &str, span: &core::ops::Range<usize>) -> usize {
    text.get(..span.start)
        .map_or(1, |s| s.matches('\n').count() + 1)
}

/// Validates the `[[failover]]` tables against the subnets.
pub fn validate_relationships(
    text: &str,
    raw: &[Spanned<RawRelationship>],
    subnets: &[Subnet],
) -> Result<Vec<RelationshipConfig>, ConfigError> {
    let mut out: Vec<RelationshipConfig> = Vec::new();
    let mut owner: HashMap<usize, String> = HashMap::new();
    for (i, r) in raw.iter().enumerate() {
        let line = line_of(text, &r.span());
        let err = |key: &str, reason: String| ConfigError::Invalid {
            key: format!("failover[{i}].{key}"),
            line,
            reason,
        };
        let r = r.get_ref();
        if r.name.is_empty() || out.iter().any(|o| o.name == r.name) {
            return Err(err("name", "names must be non-empty and unique".into()));
        }
        let role = match r.role.as_str() {
            "primary" => Role::Primary,
            "secondary" => Role::Secondary,
            other => {
                return Err(err(
                    "role",
                    format!("`{other}`: expected primary or secondary"),
                ));
            }
        };
        let parse_sock = |key: &str, v: &str| -> Result<SocketAddr, ConfigError> {
            v.parse::<SocketAddr>()
                .or_else(|_| {
                    v.parse::<IpAddr>()
                        .map(|ip| SocketAddr::new(ip, DEFAULT_PORT))
                })
                .map_err(|e| err(key, format!("`{v}`: {e} (expected [addr]:port or addr)")))
        };
        let partner = parse_sock("partner", &r.partner)?;
        let listen = match &r.listen {
            Some(l) => parse_sock("listen", l)?,
            None => SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), DEFAULT_PORT),
        };
        let mut idx = Vec::new();
        for name in &r.subnets {
            let Some(j) = subnets.iter().position(|s| &s.name == name) else {
                return Err(err("subnets", format!("no [[subnet]] named `{name}`")));
            };
            //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2
            //# a particular pool can only be associated with a single failover relationship
            if let Some(other) = owner.insert(j, r.name.clone()) {
                return Err(err(
                    "subnets",
                    format!("subnet `{name}` is already in failover relationship `{other}`"),
                ));
            }
            idx.push(j);
        }
        if idx.is_empty() {
            return Err(err(
                "subnets",
                "a relationship governs at least one subnet".into(),
            ));
        }
        let tls = match (&r.tls, r.plaintext) {
            (Some(_), true) => {
                return Err(err(
                    "plaintext",
                    "set either tls or plaintext = true, not both".into(),
                ));
            }
            (None, false) => {
                return Err(err(
                    "tls",
                    "the partner link needs [failover.tls] (cert, key, partner_fingerprints), or plaintext = true to run without TLS".into(),
                ));
            }
            (None, true) => None,
            (Some(t), false) => {
                let mut fps = Vec::new();
                for f in &t.partner_fingerprints {
                    fps.push(
                        Fingerprint::parse(f).map_err(|e| err("tls.partner_fingerprints", e))?,
                    );
                }
                if fps.is_empty() {
                    return Err(err(
                        "tls.partner_fingerprints",
                        "pin at least one fingerprint".into(),
                    ));
                }
                Some(TlsSettings {
                    cert: PathBuf::from(&t.cert),
                    key: PathBuf::from(&t.key),
                    partner_fingerprints: fps,
                })
            }
        };
        let mclt = Duration::from_secs(r.mclt_secs.unwrap_or(3600));
        if mclt < Duration::from_secs(30) {
            return Err(err(
                "mclt_secs",
                "the MCLT must be at least 30 seconds".into(),
            ));
        }
        out.push(RelationshipConfig {
            name: r.name.clone(),
            role,
            partner,
            listen,
            subnets: idx,
            mclt,
            max_unacked_bndupd: r
                .max_unacked_bndupd
                .unwrap_or(DEFAULT_MAX_UNACKED_BNDUPD)
                .max(1),
            auto_partner_down: r.auto_partner_down_secs.map(Duration::from_secs),
            startup_wait: Duration::from_secs(r.startup_wait_secs.unwrap_or(30)),
            keepalive: Duration::from_secs(r.keepalive_secs.unwrap_or(60).max(1)),
            connect_retry: Duration::from_secs(r.connect_retry_secs.unwrap_or(5).max(1)),
            tls,
        });
    }
    Ok(out)
}

/// The endpoint configuration of a relationship.
fn endpoint_config(
    rc: &RelationshipConfig,
    subnets: &[Subnet],
    seed: u64,
) -> dhcpv6_failover::Config {
    let mut c = dhcpv6_failover::Config::new(rc.role);
    c.relationship_name = rc.name.clone();
    c.mclt = rc.mclt;
    c.max_unacked_bndupd = rc.max_unacked_bndupd;
    c.auto_partner_down = rc.auto_partner_down;
    c.startup_wait = rc.startup_wait;
    c.keepalive = rc.keepalive;
    c.connect_retry = rc.connect_retry;
    c.connect_retry_max = rc.connect_retry * 3;
    c.rng_seed = seed;
    let mut pools = PoolSet::default();
    for &i in &rc.subnets {
        if let Some(s) = subnets.get(i) {
            for r in &s.addresses {
                pools.addresses.push(AddressRange::new(r.first, r.last));
            }
            for p in &s.prefixes {
                pools
                    .prefixes
                    .push(PrefixPool::new(p.prefix, p.prefix_len, p.delegated_len));
            }
        }
    }
    c.pools = pools;
    c
}

// ---- the link tasks ----------------------------------------------------------------------------

/// From a link task to the event loop.
#[derive(Debug)]
pub enum LinkMsg {
    /// A connection is established (and authenticated, with TLS).
    Up {
        /// Relationship index.
        rel: usize,
        /// Connection number (messages of older connections are ignored).
        conn: u64,
        /// Where to send commands for this connection.
        tx: mpsc::UnboundedSender<LinkCmd>,
        /// The partner's address.
        peer: SocketAddr,
    },
    /// Bytes from the partner.
    Bytes {
        /// Relationship index.
        rel: usize,
        /// Connection number.
        conn: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The connection is gone.
    Down {
        /// Relationship index.
        rel: usize,
        /// Connection number.
        conn: u64,
        /// Why.
        reason: String,
    },
}

/// From the event loop to a connection.
#[derive(Debug)]
pub enum LinkCmd {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Close the connection (after writing what was queued).
    Close,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// RFC 7653 §5.1 message type STARTTLS.
const STARTTLS: u8 = 23;
/// RFC 7653 status TLSConnectionRefused.
const TLS_CONNECTION_REFUSED: u16 = 15;

/// A STARTTLS message in the TCP framing of RFC 5460 §5.1 (2-byte length first), optionally
/// carrying a status code.
fn starttls_frame(xid: [u8; 3], status: Option<(u16, &str)>) -> Vec<u8> {
    let mut msg = vec![STARTTLS, xid[0], xid[1], xid[2]];
    if let Some((code, text)) = status {
        let len = u16::try_from(2 + text.len()).unwrap_or(u16::MAX);
        msg.extend_from_slice(&13u16.to_be_bytes());
        msg.extend_from_slice(&len.to_be_bytes());
        msg.extend_from_slice(&code.to_be_bytes());
        msg.extend_from_slice(text.as_bytes().get(..usize::from(len - 2)).unwrap_or(&[]));
    }
    let mut out = u16::try_from(msg.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes()
        .to_vec();
    out.extend(msg);
    out
}

/// Reads one length-prefixed frame (at most 1 KiB: only STARTTLS is read this way).
async fn read_small_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let n = usize::from(u16::from_be_bytes(len));
    if n > 1024 {
        return Err(std::io::Error::other(format!(
            "frame of {n} bytes during STARTTLS"
        )));
    }
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).await?;
    Ok(b)
}

/// The status code carried in a STARTTLS answer, if any.
fn frame_status(msg: &[u8]) -> Option<u16> {
    let opts = msg.get(4..)?;
    let mut i = 0;
    while let (Some(code), Some(len)) = (opts.get(i..i + 2), opts.get(i + 2..i + 4)) {
        let code = u16::from_be_bytes([code[0], code[1]]);
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if code == 13 {
            let v = opts.get(i + 4..i + 6)?;
            return Some(u16::from_be_bytes([v[0], v[1]]));
        }
        i += 4 + len;
    }
    None
}

/// What a link task needs.
#[derive(Clone)]
struct LinkCtx {
    rel: usize,
    name: String,
    tx: mpsc::UnboundedSender<LinkMsg>,
    tls_client: Option<Arc<rustls::ClientConfig>>,
    tls_server: Option<Arc<rustls::ServerConfig>>,
}

fn tls_configs(
    t: &TlsSettings,
) -> Result<(Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>), String> {
    let (certs, key) = crate::tls::load_identity(&t.cert, &t.key)
        .map_err(|e| format!("loading {} / {}: {e}", t.cert.display(), t.key.display()))?;
    let client = crate::tls::client_config(
        certs.clone(),
        key.clone_key(),
        t.partner_fingerprints.clone(),
    )
    .map_err(|e| format!("TLS client configuration: {e}"))?;
    let server = crate::tls::server_config(certs, key, t.partner_fingerprints.clone())
        .map_err(|e| format!("TLS server configuration: {e}"))?;
    Ok((client, server))
}

/// How many bytes of queued partner messages one write may gather (a TLS record carries at
/// most 16 KiB; rustls splits larger writes).
const COALESCE_BYTES: usize = 64 * 1024;

static CONN_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Runs one established connection until it closes.
async fn run_conn(ctx: &LinkCtx, stream: Box<dyn Stream>, peer: SocketAddr) -> String {
    let conn = CONN_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let (mut rd, mut wr) = tokio::io::split(stream);
    if ctx
        .tx
        .send(LinkMsg::Up {
            rel: ctx.rel,
            conn,
            tx: cmd_tx,
            peer,
        })
        .is_err()
    {
        return "server stopping".into();
    }
    let mut buf = vec![0u8; 65_536];
    let reason = loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => break "closed by the partner".to_string(),
                Ok(n) => {
                    let bytes = buf.get(..n).unwrap_or(&[]).to_vec();
                    if ctx.tx.send(LinkMsg::Bytes { rel: ctx.rel, conn, bytes }).is_err() {
                        break "server stopping".into();
                    }
                }
                Err(e) => break format!("read: {e}"),
            },
            c = cmd_rx.recv() => match c {
                Some(LinkCmd::Send(mut b)) => {
                    // Everything else already queued goes in the same write: one TLS record
                    // and one system call for a turn's worth of BNDUPDs (or BNDREPLYs) instead
                    // of one per message, and fewer, larger reads on the partner's side.
                    let mut close = false;
                    while b.len() < COALESCE_BYTES {
                        match cmd_rx.try_recv() {
                            Ok(LinkCmd::Send(more)) => b.extend_from_slice(&more),
                            Ok(LinkCmd::Close) => {
                                close = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = wr.write_all(&b).await {
                        break format!("write: {e}");
                    }
                    if close {
                        let _ = wr.flush().await;
                        let _ = wr.shutdown().await;
                        break "closed by us".into();
                    }
                }
                Some(LinkCmd::Close) | None => {
                    let _ = wr.flush().await;
                    let _ = wr.shutdown().await;
                    break "closed by us".into();
                }
            },
        }
    };
    let _ = ctx.tx.send(LinkMsg::Down {
        rel: ctx.rel,
        conn,
        reason: reason.clone(),
    });
    reason
}

/// Primary: connect, STARTTLS + TLS if configured, run; reconnect with back-off.
async fn primary_task(ctx: LinkCtx, partner: SocketAddr, retry: Duration) {
    let mut backoff = retry;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(partner)).await {
            Ok(Ok(mut s)) => {
                let _ = s.set_nodelay(true);
                let stream: Option<Box<dyn Stream>> = match &ctx.tls_client {
                    None => Some(Box::new(s)),
                    Some(cfg) => {
                        let xid = crate::service::os_random::<3>();
                        let refused = async {
                            s.write_all(&starttls_frame(xid, None)).await?;
                            read_small_frame(&mut s).await
                        }
                        .await;
                        match refused {
                            Ok(m) if m.first() == Some(&STARTTLS) && frame_status(&m).is_none() => {
                                let connector = tokio_rustls::TlsConnector::from(cfg.clone());
                                let name = rustls::pki_types::ServerName::try_from(
                                    "dhcpv6-failover-partner",
                                )
                                .map(|n| n.to_owned());
                                match name {
                                    Ok(name) => match connector.connect(name, s).await {
                                        Ok(t) => Some(Box::new(t)),
                                        Err(e) => {
                                            tracing::error!(relationship = %ctx.name, %partner, error = %e, "partner TLS handshake failed (is the partner's certificate fingerprint pinned, and ours pinned there?)");
                                            None
                                        }
                                    },
                                    Err(e) => {
                                        tracing::error!(error = %e, "TLS server name");
                                        None
                                    }
                                }
                            }
                            Ok(m) => {
                                tracing::error!(relationship = %ctx.name, %partner, status = ?frame_status(&m), "partner refused STARTTLS (TLSConnectionRefused): it does not run TLS on this link");
                                None
                            }
                            Err(e) => {
                                tracing::warn!(relationship = %ctx.name, %partner, error = %e, "STARTTLS exchange failed");
                                None
                            }
                        }
                    }
                };
                if let Some(stream) = stream {
                    backoff = retry;
                    let why = run_conn(&ctx, stream, partner).await;
                    tracing::info!(relationship = %ctx.name, %partner, reason = %why, "partner connection closed");
                    if ctx.tx.is_closed() {
                        return;
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(relationship = %ctx.name, %partner, error = %e, "connect failed")
            }
            Err(_) => tracing::debug!(relationship = %ctx.name, %partner, "connect timed out"),
        }
        if ctx.tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(retry * 3);
    }
}

/// Secondary: accept on `listen`, route each connection to the relationship whose partner
/// address it comes from, refuse the others.
async fn listen_task(listener: TcpListener, rels: Vec<(IpAddr, LinkCtx)>) {
    loop {
        let (mut s, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let norm = |ip: IpAddr| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
        //# If the secondary server
        //# receives a connection request from an IP address that is not
        //# configured as a failover partner, it MUST drop the connection.
        let Some((_, ctx)) = rels.iter().find(|(ip, _)| norm(*ip) == norm(peer.ip())) else {
            tracing::warn!(%peer, "partner connection from an address that is no configured partner: dropped");
            continue;
        };
        if ctx.tx.is_closed() {
            return;
        }
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = s.set_nodelay(true);
            // Look at the first frame's message type without consuming it.
            let mut head = [0u8; 3];
            let first_is_starttls =
                match tokio::time::timeout(Duration::from_secs(10), s.peek(&mut head)).await {
                    Ok(Ok(n)) if n >= 3 => head[2] == STARTTLS,
                    _ => false,
                };
            let stream: Box<dyn Stream> = match (&ctx.tls_server, first_is_starttls) {
                (None, false) => Box::new(s),
                (None, true) => {
                    let xid = match read_small_frame(&mut s).await {
                        Ok(m) => [
                            m.get(1).copied().unwrap_or(0),
                            m.get(2).copied().unwrap_or(0),
                            m.get(3).copied().unwrap_or(0),
                        ],
                        Err(_) => [0; 3],
                    };
                    let _ = s
                        .write_all(&starttls_frame(
                            xid,
                            Some((TLS_CONNECTION_REFUSED, "TLS is not configured on this link")),
                        ))
                        .await;
                    tracing::error!(relationship = %ctx.name, %peer, "partner asked for STARTTLS but this side is configured plaintext: refused with TLSConnectionRefused");
                    return;
                }
                (Some(_), false) => {
                    tracing::error!(relationship = %ctx.name, %peer, "partner connected without STARTTLS but this link requires TLS: dropped");
                    return;
                }
                (Some(cfg), true) => {
                    let xid = match read_small_frame(&mut s).await {
                        Ok(m) => [
                            m.get(1).copied().unwrap_or(0),
                            m.get(2).copied().unwrap_or(0),
                            m.get(3).copied().unwrap_or(0),
                        ],
                        Err(e) => {
                            tracing::warn!(%peer, error = %e, "STARTTLS read failed");
                            return;
                        }
                    };
                    if s.write_all(&starttls_frame(xid, None)).await.is_err() {
                        return;
                    }
                    match tokio_rustls::TlsAcceptor::from(cfg.clone()).accept(s).await {
                        Ok(t) => Box::new(t),
                        Err(e) => {
                            tracing::error!(relationship = %ctx.name, %peer, error = %e, "partner TLS handshake refused (certificate fingerprint not pinned?)");
                            return;
                        }
                    }
                }
            };
            let why = run_conn(&ctx, stream, peer).await;
            tracing::info!(relationship = %ctx.name, %peer, reason = %why, "partner connection closed");
        });
    }
}

// ---- the relationships in the event loop -------------------------------------------------------

/// Per-relationship counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RelCounters {
    /// Bytes written to the partner.
    pub bytes_sent: u64,
    /// Bytes received from the partner.
    pub bytes_received: u64,
    /// Connections established.
    pub connections: u64,
    /// Storage writes performed for the endpoint.
    pub storage_writes: u64,
    /// Conflicts seen.
    pub conflicts: u64,
    /// Updates the partner rejected or we rejected.
    pub updates_rejected: u64,
    /// Bindings changed by the partner.
    pub partner_updates: u64,
}

struct Rel {
    cfg: RelationshipConfig,
    ep: Endpoint,
    link: Option<(u64, mpsc::UnboundedSender<LinkCmd>, SocketAddr)>,
    counters: RelCounters,
    last_contact: Option<std::time::Instant>,
    /// BNDUPDs and BNDREPLYs for the current connection not yet handed to its link task, and
    /// since when the oldest of them waits (see [`OUTBOX_DELAY`]).
    outbox: Vec<u8>,
    outbox_since: Option<std::time::Instant>,
    /// Which of the records written for this relationship still wait for the partner's
    /// acknowledgement, by update number.
    marks: AckMarks,
}

/// The acknowledgement mark of one relationship: every binding record written with an update
/// number at or below it has been acknowledged by the partner (or superseded by a later record
/// of the same resource).
///
/// An accepted BNDREPLY changes the sender's record of the lease in three fields only
/// (RFC 8156 §7.7: acked-partner-lifetime, partner-lifetime, the "partner needs an update"
/// flag). Rewriting every acknowledged record cost the primary a second binding write per lease
/// (and a second journal entry to fold). Instead each record that needs an update is written
/// with an update number; acknowledgements only move this mark, stored as one meta record
/// with a batch at most every [`MARK_EVERY`] (or alone once the clients are quiet, and at
/// shutdown); at start-up a record numbered at
/// or below its relationship's mark is read as acknowledged ([`apply_ack_marks`]).
///
/// The mark is `lowest still awaited - 1`, or the highest number given when none is awaited.
/// A mark written late only makes a restarted server resend updates the partner already has
/// (and keep a lower acked-partner-lifetime, a more conservative MCLT bound, until the partner
/// acknowledges again), exactly as a lost acknowledgement rewrite did.
#[derive(Debug, Default)]
struct AckMarks {
    /// The highest update number given.
    last: u64,
    /// Update number of the last record written for each resource that awaits an ack.
    by_resource: HashMap<Resource, u64>,
    /// The same numbers, ordered.
    awaited: std::collections::BTreeSet<u64>,
    /// The mark last handed to the store, and when.
    written: u64,
    written_at: Option<std::time::Instant>,
}

/// How often a moving acknowledgement mark rides along with the batches: each ride costs the
/// commit a page of the meta table. A mark that is behind only makes a restarted server resend
/// the updates acknowledged since (at most this long's worth, or those since the clients went
/// quiet, when the mark goes alone).
const MARK_EVERY: Duration = Duration::from_secs(1);

impl AckMarks {
    /// The marks of a relationship whose stored mark is `written`, with the stored records that
    /// still await an acknowledgement (`awaited`: resource and update number) and `last` the
    /// highest number in use.
    fn starting_at(last: u64, written: u64, awaited: &[(Resource, u64)]) -> Self {
        Self {
            last: last.max(written),
            by_resource: awaited.iter().copied().collect(),
            awaited: awaited.iter().map(|(_, n)| *n).collect(),
            written,
            written_at: None,
        }
    }

    /// A record of `resource` that needs an update is written: its update number.
    fn number(&mut self, resource: Resource) -> u64 {
        self.last += 1;
        if let Some(old) = self.by_resource.insert(resource, self.last) {
            self.awaited.remove(&old);
        }
        self.awaited.insert(self.last);
        self.last
    }

    /// A record of `resource` that needs no update is written, or its update was acknowledged:
    /// whether an update of it was awaited.
    fn settle(&mut self, resource: &Resource) -> bool {
        if self.by_resource.is_empty() {
            return false;
        }
        match self.by_resource.remove(resource) {
            Some(n) => {
                self.awaited.remove(&n);
                true
            }
            None => false,
        }
    }

    /// The mark as it stands.
    fn mark(&self) -> u64 {
        self.awaited
            .first()
            .map_or(self.last, |lowest| lowest.saturating_sub(1))
    }

    /// The mark's meta record, when it moved since last handed to the store (and, unless
    /// `now`, [`MARK_EVERY`] has passed since).
    fn take_op(&mut self, name: &str, now: bool) -> Option<Op> {
        let m = self.mark();
        // Moved first: the clock is read only for a mark that moved.
        let due = || now || self.written_at.is_none_or(|t| t.elapsed() >= MARK_EVERY);
        (m != self.written && due()).then(|| {
            self.written = m;
            self.written_at = Some(std::time::Instant::now());
            Op {
                table: Table::Meta,
                key: format!("{META_ACK_MARK_PREFIX}{name}").into_bytes(),
                value: Some(m.to_be_bytes().to_vec()),
            }
        })
    }
}

/// What an accepted BNDREPLY for the latest update of `b` makes of it (RFC 8156 §7.7):
/// partner-lifetime (the OPTION_F_PARTNER_LIFETIME_SENT the partner echoes) raises
/// acked-partner-lifetime, partner-lifetime is cleared, no update is needed.
fn acknowledge(b: &mut dhcpv6_failover::Binding) {
    b.acked_partner_lifetime = acked_after_ack(b);
    b.partner_lifetime = None;
    b.needs_partner_update = false;
}

/// The acked-partner-lifetime of `b` once [`acknowledge`]d.
fn acked_after_ack(b: &dhcpv6_failover::Binding) -> Option<UnixTime> {
    match b.partner_lifetime {
        Some(p) => Some(b.acked_partner_lifetime.map_or(p, |a| a.max(p))),
        None => b.acked_partner_lifetime,
    }
}

/// Whether `new` is exactly [`acknowledge`] applied to `old` (which needed an update), checked
/// field by field in place ([`ack_only`] compares the rest).
fn is_acknowledged(old: &dhcpv6_failover::Binding, new: &dhcpv6_failover::Binding) -> bool {
    old.needs_partner_update
        && !new.needs_partner_update
        && new.partner_lifetime.is_none()
        && new.acked_partner_lifetime == acked_after_ack(old)
        && ack_only(old, new)
}

/// The acknowledgement mark of relationship `name` in the stored meta records (0 if none).
fn ack_mark_of(meta: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>, name: &str) -> u64 {
    meta.get(format!("{META_ACK_MARK_PREFIX}{name}").as_bytes())
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map_or(0, u64::from_be_bytes)
}

/// What the stored records say of each relationship's updates, for [`Failover::start`]
/// ([`apply_ack_marks`]).
#[derive(Debug, Default)]
pub struct StoredUpdates {
    /// Per relationship, in configuration order: its marks as the store left them (the stored
    /// mark, the highest update number in use, the records still awaiting an acknowledgement).
    rels: Vec<AckMarks>,
}

/// Reads the stored records of every relationship in `config` as acknowledged where their
/// update number is at or below the relationship's stored acknowledgement mark (every record
/// written with a number at or below it was acknowledged by the partner, or superseded; see
/// `docs/design/partner-link.md`), and returns what [`Failover::start`] needs to go on
/// numbering and awaiting the others.
pub fn apply_ack_marks(
    config: &crate::config::Config,
    stored: &mut [(dhcpv6_failover::Binding, Option<u64>)],
    meta: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
) -> StoredUpdates {
    let rels = config
        .failover
        .iter()
        .map(|rc| {
            let pools = endpoint_config(rc, &config.subnets, 0).pools;
            let mark = ack_mark_of(meta, &rc.name);
            let mut last = mark;
            let mut awaited = Vec::new();
            for (b, update) in stored.iter_mut() {
                let Some(n) = *update else { continue };
                if !pools.contains(&b.resource) {
                    continue;
                }
                last = last.max(n);
                if b.needs_partner_update {
                    if n <= mark {
                        acknowledge(b);
                    } else {
                        awaited.push((b.resource, n));
                    }
                }
            }
            AckMarks::starting_at(last, mark, &awaited)
        })
        .collect();
    StoredUpdates { rels }
}

/// How long BNDUPDs and BNDREPLYs may wait in the event loop to leave together.
///
/// Handed to the link task one burst per store commit, they woke the link task, its TLS
/// write, the partner's link task and the partner's event loop each time: at 2,000 leases/s
/// about 850 times a second on each side, most of the pair's CPU beyond the server alone at
/// that rate. Lazy updates may wait (RFC 8156 §4.3): nothing a client sees depends on them,
/// and the unacknowledged ones stay counted in the sender's window. Every other message
/// (CONNECT, STATE, UPDREQ, DISCONNECT, ...) goes at once and takes what waits along, in order.
const OUTBOX_DELAY: Duration = Duration::from_millis(5);

/// Whether every frame in `bytes` (each a 2-octet message size that does not count itself,
/// then `msg-type`, ...) is a BNDUPD or a BNDREPLY, the messages that may wait in the outbox.
fn only_binding_updates(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let [h, l, t, ..] = rest {
        if *t != MessageType::BNDUPD.0 && *t != MessageType::BNDREPLY.0 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([*h, *l]));
        match rest.get(2 + len.max(1)..) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

impl Rel {
    /// Forgets what waits in the outbox: it was meant for a connection that is gone.
    fn drop_outbox(&mut self) {
        self.outbox.clear();
        self.outbox_since = None;
    }
}

/// Hands what waits in `r`'s outbox to its link task, as one write.
fn flush_outbox(r: &mut Rel) {
    r.outbox_since = None;
    if r.outbox.is_empty() {
        return;
    }
    let bytes = std::mem::take(&mut r.outbox);
    if let Some((_, tx, _)) = &r.link {
        let _ = tx.send(LinkCmd::Send(bytes));
    }
}

/// Every failover relationship of the server, as the DHCP engine's [`Authority`].
pub struct Failover {
    rels: Vec<Rel>,
    by_subnet: HashMap<usize, usize>,
    origin: std::time::Instant,
    now: dhcpv6_failover::Now,
    acks: VecDeque<(u64, usize, WriteId)>,
    link_tx: mpsc::UnboundedSender<LinkMsg>,
    /// The highest batch the store has reported committed.
    committed: u64,
}

/// Whether `new` differs from `old` (the record last handed to the store for the same lease)
/// only by what a BNDREPLY acknowledging our update changes: acked-partner-lifetime raised,
/// partner-lifetime cleared, the "partner needs an update" flag cleared.
///
/// Such a rewrite need not be durable before anything: RFC 8156 §7.7 has the sender note
/// acked-partner-lifetime and clear partner-lifetime on an accepted BNDREPLY, but nothing waits
/// for that to be in stable storage (unlike a received update, §7.5.2, or a state change, §6.3).
/// Losing it in a crash leaves the older record: the update is sent again (the partner already
/// has it), and the older, lower acked-partner-lifetime only makes the MCLT bound
/// (RFC 8156 §4.4) more conservative. The partner's stored copy, durable before its BNDREPLY,
/// is what the MCLT bound relies on.
fn ack_only(old: &dhcpv6_failover::Binding, new: &dhcpv6_failover::Binding) -> bool {
    if (new.needs_partner_update && !old.needs_partner_update)
        || (new.partner_lifetime.is_some() && new.partner_lifetime != old.partner_lifetime)
        || new.acked_partner_lifetime < old.acked_partner_lifetime
    {
        return false;
    }
    // Every other field equal (spelled out without `..`, so that a new field of `Binding` must
    // be placed here; comparing in place spares a clone of the binding per acknowledgement).
    let dhcpv6_failover::Binding {
        resource,
        client,
        status,
        expiration_time,
        acked_partner_lifetime: _,
        partner_lifetime: _,
        client_last_transaction_time,
        partner_raw_clt_time,
        start_time_of_state,
        state_expiration_time,
        preferred_lifetime,
        valid_lifetime,
        t1,
        t2,
        fqdn,
        dns_removal,
        needs_partner_update: _,
    } = new;
    *resource == old.resource
        && *status == old.status
        && *expiration_time == old.expiration_time
        && *client_last_transaction_time == old.client_last_transaction_time
        && *partner_raw_clt_time == old.partner_raw_clt_time
        && *start_time_of_state == old.start_time_of_state
        && *state_expiration_time == old.state_expiration_time
        && *preferred_lifetime == old.preferred_lifetime
        && *valid_lifetime == old.valid_lifetime
        && *t1 == old.t1
        && *t2 == old.t2
        && *client == old.client
        && *fqdn == old.fqdn
        && *dns_removal == old.dns_removal
}

/// Drops from `ops[..own]` (the engine's own lease writes) every binding write whose key one
/// of `ops[own..]` (the endpoints' records) also writes: the endpoint's record of a lease
/// supersedes the engine's record of it (same key, same binding plus the failover fields), so
/// each key is written once. The order of what stays is kept.
fn drop_superseded(ops: &mut Vec<Op>, own: usize) {
    // Indices of the endpoints' binding writes, sorted by key (no key is copied).
    let mut theirs: Vec<usize> = (own..ops.len())
        .filter(|&i| ops.get(i).is_some_and(|o| o.table == Table::Bindings))
        .collect();
    if theirs.is_empty() {
        return;
    }
    theirs.sort_unstable_by(|&a, &b| {
        let key = |i: usize| ops.get(i).map(|o| o.key.as_slice());
        key(a).cmp(&key(b))
    });
    let superseded: Vec<bool> = ops
        .iter()
        .take(own)
        .map(|o| {
            o.table == Table::Bindings
                && theirs
                    .binary_search_by(|&i| {
                        ops.get(i)
                            .map(|t| t.key.as_slice())
                            .cmp(&Some(o.key.as_slice()))
                    })
                    .is_ok()
        })
        .collect();
    if !superseded.contains(&true) {
        return;
    }
    let mut i = 0;
    ops.retain(|_| {
        let keep = !superseded.get(i).copied().unwrap_or(false);
        i += 1;
        keep
    });
}

impl std::fmt::Debug for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failover")
            .field("relationships", &self.rels.len())
            .finish()
    }
}

fn request_kind(t: MessageType) -> ClientRequestKind {
    match t {
        MessageType::SOLICIT => ClientRequestKind::Solicit,
        MessageType::REQUEST => ClientRequestKind::Request,
        MessageType::RENEW => ClientRequestKind::Renew,
        MessageType::REBIND => ClientRequestKind::Rebind,
        MessageType::RELEASE => ClientRequestKind::Release,
        MessageType::DECLINE => ClientRequestKind::Decline,
        MessageType::CONFIRM => ClientRequestKind::Confirm,
        _ => ClientRequestKind::InformationRequest,
    }
}

impl Failover {
    /// Builds the endpoints from the configuration and the store's contents, and starts the
    /// link tasks on the runtime `links` (their sockets, TLS and timers belong to it).
    /// `updates` is what [`apply_ack_marks`] returned for the same records. Returns
    /// the receiver the event loop must poll for link messages.
    pub async fn start(
        config: &crate::config::Config,
        bindings: &[dhcpv6_failover::Binding],
        meta: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
        updates: StoredUpdates,
        links: &tokio::runtime::Handle,
    ) -> Result<(Self, mpsc::UnboundedReceiver<LinkMsg>), String> {
        let (link_tx, link_rx) = mpsc::unbounded_channel();
        let origin = std::time::Instant::now();
        let now =
            dhcpv6_failover::Now::new(dhcpv6_failover::Instant::ZERO, crate::service::wall_now());
        let mut rels = Vec::new();
        let mut by_subnet = HashMap::new();
        let mut listeners: HashMap<SocketAddr, Vec<(IpAddr, LinkCtx)>> = HashMap::new();
        // In configuration order, like the relationships.
        let mut stored_marks = updates.rels.into_iter();
        for (i, rc) in config.failover.iter().enumerate() {
            let seed = u64::from_le_bytes(crate::service::os_random::<8>());
            let ecfg = endpoint_config(rc, &config.subnets, seed);
            let key = format!("{META_ENDPOINT_PREFIX}{}", rc.name).into_bytes();
            let stored: Option<PersistedEndpointState> =
                meta.get(&key).and_then(|v| serde_json::from_slice(v).ok());
            let mine: Vec<_> = bindings
                .iter()
                .filter(|b| ecfg.pools.contains(&b.resource))
                .cloned()
                .collect();
            let ep = if stored.is_some() || !mine.is_empty() {
                Endpoint::restore(
                    ecfg,
                    PersistedState {
                        endpoint: stored,
                        bindings: mine,
                    },
                    now,
                )
            } else {
                Endpoint::new(ecfg, now)
            }
            .map_err(|e| format!("failover relationship `{}`: {e}", rc.name))?;
            for &s in &rc.subnets {
                by_subnet.insert(s, i);
            }
            let (tls_client, tls_server) = match &rc.tls {
                Some(t) => {
                    let (c, s) =
                        tls_configs(t).map_err(|e| format!("relationship `{}`: {e}", rc.name))?;
                    (Some(c), Some(s))
                }
                None => (None, None),
            };
            let ctx = LinkCtx {
                rel: i,
                name: rc.name.clone(),
                tx: link_tx.clone(),
                tls_client,
                tls_server,
            };
            match rc.role {
                Role::Primary => {
                    links.spawn(primary_task(ctx, rc.partner, rc.connect_retry));
                }
                Role::Secondary => listeners
                    .entry(rc.listen)
                    .or_default()
                    .push((rc.partner.ip(), ctx)),
            }
            tracing::info!(relationship = %rc.name, role = ?rc.role, partner = %rc.partner, state = ?ep.state(), tls = rc.tls.is_some(), "failover relationship started");
            rels.push(Rel {
                cfg: rc.clone(),
                ep,
                link: None,
                counters: RelCounters::default(),
                last_contact: None,
                outbox: Vec::new(),
                outbox_since: None,
                marks: stored_marks.next().unwrap_or_default(),
            });
        }
        for (addr, rs) in listeners {
            // Bound on the link runtime, so that its reactor (not the event loop's) watches it.
            let l = links
                .spawn(TcpListener::bind(addr))
                .await
                .map_err(|e| format!("listening for partners on {addr}: {e}"))?
                .map_err(|e| format!("listening for partners on {addr}: {e}"))?;
            tracing::info!(%addr, "listening for failover partners");
            links.spawn(listen_task(l, rs));
        }
        let mut f = Self {
            rels,
            by_subnet,
            origin,
            now,
            acks: VecDeque::new(),
            link_tx,
            committed: 0,
        };
        f.tick();
        Ok((f, link_rx))
    }

    /// Whether any relationship is configured.
    pub fn is_active(&self) -> bool {
        !self.rels.is_empty()
    }

    /// Reads the clocks; call before handing the failover anything.
    pub fn tick(&mut self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.now = dhcpv6_failover::Now::new(
            dhcpv6_failover::Instant::from_millis(ms),
            crate::service::wall_now(),
        );
    }

    /// A message from a link task.
    pub fn on_link(&mut self, msg: LinkMsg) {
        self.tick();
        let now = self.now;
        match msg {
            LinkMsg::Up {
                rel,
                conn,
                tx,
                peer,
            } => {
                let Some(r) = self.rels.get_mut(rel) else {
                    return;
                };
                if let Some((_, old, _)) = r.link.take() {
                    let _ = old.send(LinkCmd::Close);
                    r.ep.handle_connection_down(now);
                }
                // What waited was meant for the old connection.
                r.drop_outbox();
                tracing::info!(relationship = %r.cfg.name, %peer, "partner connection up");
                r.link = Some((conn, tx, peer));
                r.counters.connections += 1;
                r.ep.handle_connection_up(now);
            }
            LinkMsg::Bytes { rel, conn, bytes } => {
                let Some(r) = self.rels.get_mut(rel) else {
                    return;
                };
                if r.link.as_ref().is_some_and(|(c, _, _)| *c == conn) {
                    r.counters.bytes_received += bytes.len() as u64;
                    r.last_contact = Some(std::time::Instant::now());
                    r.ep.handle_bytes(now, &bytes);
                }
            }
            LinkMsg::Down { rel, conn, reason } => {
                let Some(r) = self.rels.get_mut(rel) else {
                    return;
                };
                if r.link.as_ref().is_some_and(|(c, _, _)| *c == conn) {
                    tracing::warn!(relationship = %r.cfg.name, %reason, "partner connection down");
                    r.link = None;
                    r.drop_outbox();
                    r.ep.handle_connection_down(now);
                }
            }
        }
    }

    /// When the endpoints next need [`Failover::on_timeout`].
    pub fn next_wake(&self) -> tokio::time::Instant {
        let base = tokio::time::Instant::from_std(self.origin);
        let endpoints = self
            .rels
            .iter()
            .filter_map(|r| r.ep.poll_timeout())
            .min()
            .map(|t| base + Duration::from_millis(t.as_millis()));
        let outbox = self
            .rels
            .iter()
            .filter_map(|r| r.outbox_since)
            .min()
            .map(|t| tokio::time::Instant::from_std(t + OUTBOX_DELAY));
        match (endpoints, outbox) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a
                .or(b)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)),
        }
    }

    /// Fires due timers, and hands the link tasks what waited long enough in the outboxes.
    pub fn on_timeout(&mut self) {
        self.tick();
        let now = self.now;
        for r in &mut self.rels {
            r.ep.handle_timeout(now);
        }
        self.flush_outboxes(false);
    }

    /// Hands each relationship's waiting BNDUPDs and BNDREPLYs to its link task: all of them
    /// with `all`, else those that waited `OUTBOX_DELAY` (5 ms).
    pub fn flush_outboxes(&mut self, all: bool) {
        for r in &mut self.rels {
            let due = r
                .outbox_since
                .is_some_and(|t| all || t.elapsed() >= OUTBOX_DELAY);
            if due {
                flush_outbox(r);
            }
        }
    }

    /// The store committed every batch up to `upto`.
    pub fn on_committed(&mut self, upto: u64, result: &Result<(), crate::store::StoreError>) {
        self.tick();
        self.committed = self.committed.max(upto);
        let now = self.now;
        while self.acks.front().is_some_and(|(s, _, _)| *s <= upto) {
            let Some((_, rel, id)) = self.acks.pop_front() else {
                break;
            };
            if let Some(r) = self.rels.get_mut(rel) {
                let res = result.clone().map_err(|e| StorageError::new(e.to_string()));
                if let Err(e) = r.ep.handle_storage_done(now, id, res) {
                    tracing::error!(relationship = %r.cfg.name, error = %e, "storage acknowledgement refused");
                }
            }
        }
    }

    /// Operator command: PARTNER-DOWN for relationship `name` (or the only one).
    pub fn partner_down(
        &mut self,
        name: Option<&str>,
        since: Option<UnixTime>,
    ) -> Result<String, String> {
        self.tick();
        let now = self.now;
        let r = self.find(name)?;
        r.ep.partner_down(now, since).map_err(|e| e.to_string())?;
        Ok(format!("{}: {:?}", r.cfg.name, r.ep.state()))
    }

    fn find(&mut self, name: Option<&str>) -> Result<&mut Rel, String> {
        match name {
            Some(n) => self
                .rels
                .iter_mut()
                .find(|r| r.cfg.name == n)
                .ok_or_else(|| format!("no relationship named `{n}`")),
            None if self.rels.len() == 1 => self
                .rels
                .first_mut()
                .ok_or_else(|| "no relationship".to_string()),
            None => Err(format!("{} relationships: name one", self.rels.len())),
        }
    }

    /// A status snapshot per relationship, with counters.
    pub fn status(&self) -> Vec<(StatusSnapshot, RelCounters, Option<SocketAddr>, Option<f64>)> {
        self.rels
            .iter()
            .map(|r| {
                (
                    r.ep.status(self.now),
                    r.counters.clone(),
                    r.link.as_ref().map(|(_, _, p)| *p),
                    r.last_contact.map(|t| t.elapsed().as_secs_f64()),
                )
            })
            .collect()
    }

    /// The states of every relationship (name, ours, partner's).
    pub fn states(&self) -> Vec<(String, State, Option<State>)> {
        self.rels
            .iter()
            .map(|r| {
                (
                    r.cfg.name.clone(),
                    r.ep.state(),
                    r.ep.status(self.now).partner_state,
                )
            })
            .collect()
    }

    /// Drains every endpoint's outputs: transmits go to the link tasks, bindings into the
    /// engine's lease table, storage writes to the store (through `committer`), events to the log.
    pub fn pump(
        &mut self,
        engine: &mut Engine,
        committer: &mut crate::store::GroupCommitter,
    ) -> Result<(), crate::store::StoreError> {
        self.pump_with(engine, committer, Vec::new()).map(|_| ())
    }

    /// [`Failover::pump`] with the server's own lease writes `ops` of the same turn: they and the
    /// endpoints' storage writes go to the store as ONE batch, so that a Reply waits for a single
    /// durable commit holding both the lease and the endpoint's record of it (whose
    /// acknowledgement releases the BNDUPD). Returns the batch's sequence number, or `None` when
    /// there was nothing to write.
    ///
    /// Acknowledgement rewrites (what an accepted BNDREPLY changes in a record) are not written:
    /// they move the relationship's acknowledgement mark (`docs/design/partner-link.md`: every
    /// record written with an update number at or below it was acknowledged), which goes with the
    /// next batch ([`Failover::write_ack_marks`] when none comes), so that they neither lengthen
    /// the commits clients wait for nor start commits of their own in front of them. The
    /// endpoint hears "done" for them once every batch submitted before has committed, so it
    /// still sees its writes complete in order.
    pub fn pump_with(
        &mut self,
        engine: &mut Engine,
        committer: &mut crate::store::GroupCommitter,
        ops: Vec<Op>,
    ) -> Result<Option<u64>, crate::store::StoreError> {
        self.pump_loop(engine, committer, ops, false)
    }

    /// `pump_with(engine, committer, engine.take_store_ops())`, except that the engine's
    /// records of leases the endpoints also write in this batch are not even encoded (the
    /// endpoint's record supersedes the engine's, see [`Failover::pump_with`]).
    pub fn pump_engine_writes(
        &mut self,
        engine: &mut Engine,
        committer: &mut crate::store::GroupCommitter,
    ) -> Result<Option<u64>, crate::store::StoreError> {
        self.pump_loop(engine, committer, Vec::new(), true)
    }

    fn pump_loop(
        &mut self,
        engine: &mut Engine,
        committer: &mut crate::store::GroupCommitter,
        mut ops: Vec<Op>,
        mut take_engine_writes: bool,
    ) -> Result<Option<u64>, crate::store::StoreError> {
        let mut last = None;
        loop {
            let (seq, again) = self.pump_once(
                engine,
                committer,
                std::mem::take(&mut ops),
                std::mem::take(&mut take_engine_writes),
            )?;
            last = seq.or(last);
            if !again {
                return Ok(last);
            }
        }
    }

    /// One round of [`Failover::pump_with`]; returns the batch's sequence number and whether
    /// acknowledgement-only writes were acknowledged at once (their endpoints may have more to
    /// drain).
    /// With `take_engine_writes`, the engine's lease writes are taken after the endpoints'
    /// (and put in front of them), leaving out the resources the endpoints wrote.
    fn pump_once(
        &mut self,
        engine: &mut Engine,
        committer: &mut crate::store::GroupCommitter,
        mut ops: Vec<Op>,
        take_engine_writes: bool,
    ) -> Result<(Option<u64>, bool), crate::store::StoreError> {
        let mut ids = Vec::new();
        let mut unwritten_ids = Vec::new();
        let own = ops.len();
        let has_own = own > 0 || (take_engine_writes && engine.has_store_ops());
        // Only in a pump without lease writes of the engine's own (BNDREPLYs arrive on the
        // link, not with client datagrams): then the engine's record of a lease is the one
        // last handed to the store, and nothing in this batch supersedes the endpoint's record.
        let acks_by_mark = !has_own;
        let mut written = Vec::new();
        let mut record = if take_engine_writes && has_own {
            Some(&mut written)
        } else {
            None
        };
        loop {
            let again = self.drain(
                engine,
                &mut ops,
                &mut ids,
                &mut unwritten_ids,
                acks_by_mark,
                record.as_deref_mut(),
            );
            if !again {
                break;
            }
        }
        if take_engine_writes && has_own {
            written.sort_unstable();
            let mut mine = engine.take_store_ops_except(|r| written.binary_search(r).is_ok());
            mine.append(&mut ops);
            ops = mine;
        } else if own > 0 && ops.len() > own {
            drop_superseded(&mut ops, own);
        }
        let seq = if ops.is_empty() {
            None
        } else {
            // Only binding records of the endpoints and no lease of the server's own: a
            // secondary's records of its partner's updates (or a resynchronisation's). Nothing
            // but BNDREPLYs waits on them, so their commit may gather company for a while
            // (`store::DEFER_WINDOW`); state changes and anything a client waits on go at once.
            let deferrable = !has_own && ops.iter().all(|o| o.table == Table::Bindings);
            // Acknowledgement marks that moved ride along (one small record each, at most every
            // `MARK_EVERY`).
            for r in &mut self.rels {
                ops.extend(r.marks.take_op(&r.cfg.name, false));
            }
            let seq = if deferrable {
                // Start early once half the smallest window of unacknowledged updates we
                // grant a partner has gathered: the partner can keep sending meanwhile.
                let most = self
                    .rels
                    .iter()
                    .map(|r| r.cfg.max_unacked_bndupd as usize / 2)
                    .min()
                    .unwrap_or(crate::store::DEFER_MAX_OPS);
                committer.submit_deferrable(ops, most)?
            } else {
                committer.submit(ops)?
            };
            self.acks
                .extend(ids.into_iter().map(|(i, id)| (seq, i, id)));
            Some(seq)
        };
        // Acknowledgement rewrites are "done" once everything submitted so far is durable (the
        // endpoint then still sees each resource's writes complete in order).
        let behind = seq.unwrap_or_else(|| committer.last_seq());
        let mut again = false;
        if !unwritten_ids.is_empty() {
            self.acks
                .extend(unwritten_ids.into_iter().map(|(i, id)| (behind, i, id)));
            if behind <= self.committed {
                let upto = self.committed;
                self.on_committed(upto, &Ok(()));
                again = true;
            }
        }
        Ok((seq, again))
    }

    /// Whether an acknowledgement mark moved since it was last handed to the store.
    pub fn ack_marks_moved(&self) -> bool {
        self.rels.iter().any(|r| r.marks.mark() != r.marks.written)
    }

    /// Writes the acknowledgement marks that moved as one batch (call when the store is idle and
    /// the clients are quiet, and before shutting down). Returns the batch's sequence number, or
    /// `None` if none moved.
    pub fn write_ack_marks(
        &mut self,
        committer: &mut crate::store::GroupCommitter,
    ) -> Result<Option<u64>, crate::store::StoreError> {
        let ops: Vec<Op> = self
            .rels
            .iter_mut()
            .filter_map(|r| r.marks.take_op(&r.cfg.name, true))
            .collect();
        if ops.is_empty() {
            return Ok(None);
        }
        committer.submit(ops).map(Some)
    }

    /// One pass over every endpoint's outputs; storage writes are appended to `ops` (their ids
    /// to `ids`), acknowledgements of awaited updates only move the relationship's mark when
    /// `acks_by_mark` (their ids to `unwritten_ids`); the resources of binding records in `ops`
    /// go to `written` when given. Returns true when a connection was closed (its endpoint has
    /// more to drain).
    fn drain(
        &mut self,
        engine: &mut Engine,
        ops: &mut Vec<Op>,
        ids: &mut Vec<(usize, WriteId)>,
        unwritten_ids: &mut Vec<(usize, WriteId)>,
        acks_by_mark: bool,
        mut written: Option<&mut Vec<Resource>>,
    ) -> bool {
        let mut closed = false;
        for (i, r) in self.rels.iter_mut().enumerate() {
            while let Some(w) = r.ep.poll_storage() {
                r.counters.storage_writes += 1;
                match w.record {
                    StorageRecord::Binding(b) => {
                        // The engine's copy is the one last handed to the store (see
                        // `pump_once`). A record equal to it (an update the partner sent again,
                        // a resend acknowledged again) is there already; the record of an
                        // awaited update as the partner's acknowledgement leaves it is covered
                        // by the mark. Neither is written.
                        if acks_by_mark
                            && engine.leases().get(&b.resource).is_some_and(|old| {
                                *old == b
                                    || (is_acknowledged(old, &b) && r.marks.settle(&b.resource))
                            })
                        {
                            unwritten_ids.push((i, w.id));
                            engine.absorb(b);
                            continue;
                        }
                        let update = if b.needs_partner_update {
                            Some(r.marks.number(b.resource))
                        } else {
                            r.marks.settle(&b.resource);
                            None
                        };
                        let key = resource_key(&b.resource);
                        let value = crate::record::encode_with_update(&b, update);
                        if let Some(w) = written.as_deref_mut() {
                            w.push(b.resource);
                        }
                        ops.push(Op {
                            table: Table::Bindings,
                            key,
                            value: Some(value),
                        });
                        engine.absorb(b);
                    }
                    StorageRecord::EndpointState(s) => {
                        let value = serde_json::to_vec(&s).unwrap_or_default();
                        ops.push(Op {
                            table: Table::Meta,
                            key: format!("{META_ENDPOINT_PREFIX}{}", r.cfg.name).into_bytes(),
                            value: Some(value),
                        });
                    }
                }
                ids.push((i, w.id));
            }
            while let Some(t) = r.ep.poll_transmit() {
                if r.link.is_some() {
                    r.counters.bytes_sent += t.bytes.len() as u64;
                    let lazy = only_binding_updates(&t.bytes);
                    r.outbox.extend_from_slice(&t.bytes);
                    if !lazy || r.outbox.len() >= COALESCE_BYTES {
                        flush_outbox(r);
                    } else if r.outbox_since.is_none() {
                        r.outbox_since = Some(std::time::Instant::now());
                    }
                }
            }
            if r.outbox_since.is_some_and(|t| t.elapsed() >= OUTBOX_DELAY) {
                flush_outbox(r);
            }
            while let Some(e) = r.ep.poll_event() {
                log_event(&r.cfg.name, &e, &mut r.counters);
                if let Event::CloseConnection { .. } = e
                    && let Some((_, tx, _)) = r.link.take()
                {
                    // The endpoint's last words (a DISCONNECT) go before the close.
                    if !r.outbox.is_empty() {
                        let _ = tx.send(LinkCmd::Send(std::mem::take(&mut r.outbox)));
                    }
                    r.outbox_since = None;
                    let _ = tx.send(LinkCmd::Close);
                    r.ep.handle_connection_down(self.now);
                    closed = true;
                }
            }
        }
        closed
    }

    /// The link channel's sender (for tests that inject link messages).
    pub fn link_sender(&self) -> mpsc::UnboundedSender<LinkMsg> {
        self.link_tx.clone()
    }
}

fn log_event(name: &str, e: &Event, c: &mut RelCounters) {
    match e {
        Event::StateChanged { from, to } => {
            tracing::info!(relationship = name, ?from, ?to, "failover state changed")
        }
        Event::PartnerStateChanged { state, startup } => {
            tracing::info!(relationship = name, partner_state = ?state, startup, "partner state")
        }
        Event::Connected => tracing::info!(
            relationship = name,
            "partner handshake done (CONNECT/CONNECTREPLY)"
        ),
        Event::ConnectRejected {
            status,
            reason,
            by_partner,
        } => {
            tracing::error!(relationship = name, status, %reason, by_partner, "partner connection rejected")
        }
        Event::ConfigurationMismatch { parts } => {
            tracing::error!(relationship = name, differing = ?parts, "partner pool configuration differs (ConfigurationConflict)")
        }
        Event::Conflict {
            resource,
            reported_by_partner,
        } => {
            c.conflicts += 1;
            tracing::warn!(
                relationship = name,
                ?resource,
                reported_by_partner,
                "binding conflict"
            )
        }
        Event::BindingUpdated { .. } => c.partner_updates += 1,
        Event::UpdateRejected { .. } => {
            c.updates_rejected += 1;
            tracing::warn!(relationship = name, event = ?e, "update rejected")
        }
        other => tracing::debug!(relationship = name, event = ?other, "failover event"),
    }
}

impl Authority for Failover {
    fn may_serve(&self, subnet: Option<usize>, t: MessageType, addressed_to_me: bool) -> bool {
        match subnet
            .and_then(|s| self.by_subnet.get(&s))
            .and_then(|&i| self.rels.get(i))
        {
            Some(r) => r.ep.may_serve(request_kind(t), addressed_to_me),
            None => true,
        }
    }
    fn governs(&self, subnet: usize) -> bool {
        self.by_subnet.contains_key(&subnet)
    }
    fn governs_resource(&self, r: &Resource) -> bool {
        self.rels.iter().any(|x| x.ep.config().pools.contains(r))
    }
    fn may_use(&self, _: UnixTime, r: &Resource, client: &ClientKey) -> bool {
        match self.rels.iter().find(|x| x.ep.config().pools.contains(r)) {
            Some(x) => x.ep.may_allocate_to(self.now, r, client),
            None => true,
        }
    }
    fn allocate(
        &mut self,
        _: UnixTime,
        subnet: usize,
        kind: ResourceKind,
        client: &ClientKey,
    ) -> Option<Resource> {
        let now = self.now;
        let i = *self.by_subnet.get(&subnet)?;
        self.rels.get_mut(i)?.ep.allocate(now, kind, client)
    }
    fn valid_lifetime(&self, _: UnixTime, r: &Resource, desired: Duration) -> Duration {
        match self.rels.iter().find(|x| x.ep.config().pools.contains(r)) {
            Some(x) => x.ep.lease_bound(self.now, r, desired),
            None => desired,
        }
    }
    fn record(&mut self, _: UnixTime, change: LeaseChange) {
        let now = self.now;
        let r = match &change {
            LeaseChange::Granted(g) | LeaseChange::Renewed(g) => g.resource,
            LeaseChange::Released { resource, .. }
            | LeaseChange::Declined { resource, .. }
            | LeaseChange::Expired { resource }
            | LeaseChange::Reset { resource } => *resource,
        };
        if let Some(x) = self
            .rels
            .iter_mut()
            .find(|x| x.ep.config().pools.contains(&r))
            && let Err(e) = x.ep.record_lease(now, change)
        {
            tracing::warn!(relationship = %x.cfg.name, resource = ?r, error = %e, "lease not recorded by the failover endpoint");
        }
    }
}

impl Failover {
    /// Per-relationship metrics in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if self.rels.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "# HELP dhcpv6_failover_state Current failover state (1 for the state the relationship is in).\n# TYPE dhcpv6_failover_state gauge"
        );
        for r in &self.rels {
            let _ = writeln!(
                out,
                "dhcpv6_failover_state{{relationship=\"{}\",state=\"{:?}\"}} 1",
                r.cfg.name,
                r.ep.state()
            );
        }
        let rows: [(&str, &str, &str); 9] = [
            (
                "dhcpv6_failover_updates_pending",
                "gauge",
                "Bindings the partner has not been told about yet.",
            ),
            (
                "dhcpv6_failover_updates_unacked",
                "gauge",
                "BNDUPDs sent and not yet acknowledged (queue depth on the link).",
            ),
            (
                "dhcpv6_failover_updates_rejected_total",
                "counter",
                "Updates rejected (by us or the partner).",
            ),
            (
                "dhcpv6_failover_conflicts_total",
                "counter",
                "Binding conflicts seen.",
            ),
            (
                "dhcpv6_failover_partner_updates_total",
                "counter",
                "Bindings changed by the partner's updates.",
            ),
            (
                "dhcpv6_failover_bindings",
                "gauge",
                "Bindings the endpoint knows (resync progress after a loss).",
            ),
            (
                "dhcpv6_failover_bytes_sent_total",
                "counter",
                "Bytes written to the partner.",
            ),
            (
                "dhcpv6_failover_bytes_received_total",
                "counter",
                "Bytes received from the partner.",
            ),
            (
                "dhcpv6_failover_communications_ok",
                "gauge",
                "1 while the partner link is up and the partner's state is known.",
            ),
        ];
        for (name, kind, help) in rows {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for r in &self.rels {
                let s = r.ep.status(self.now);
                let c = &r.counters;
                let v = match name {
                    "dhcpv6_failover_updates_pending" => s.pending_updates as u64,
                    "dhcpv6_failover_updates_unacked" => s.unacked_updates as u64,
                    "dhcpv6_failover_updates_rejected_total" => {
                        c.updates_rejected + s.rejected_updates
                    }
                    "dhcpv6_failover_conflicts_total" => c.conflicts,
                    "dhcpv6_failover_partner_updates_total" => c.partner_updates,
                    "dhcpv6_failover_bindings" => s.bindings as u64,
                    "dhcpv6_failover_bytes_sent_total" => c.bytes_sent,
                    "dhcpv6_failover_bytes_received_total" => c.bytes_received,
                    _ => u64::from(s.communications_ok),
                };
                let _ = writeln!(out, "{name}{{relationship=\"{}\"}} {v}", r.cfg.name);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_binding_updates_walks_every_frame() {
        let frame = |t: u8, body: usize| {
            let mut f = vec![0u8; 2 + 6 + body];
            let len = u16::try_from(f.len() - 2).expect("small");
            f[..2].copy_from_slice(&len.to_be_bytes());
            f[2] = t;
            f
        };
        let (upd, reply) = (MessageType::BNDUPD.0, MessageType::BNDREPLY.0);
        let connect = MessageType::CONNECT.0;
        assert!(only_binding_updates(&frame(upd, 40)));
        assert!(only_binding_updates(
            &[frame(upd, 40), frame(reply, 0), frame(upd, 3)].concat()
        ));
        // Any other message among them, first or last, means "send now".
        assert!(!only_binding_updates(
            &[frame(upd, 40), frame(connect, 10)].concat()
        ));
        assert!(!only_binding_updates(
            &[frame(connect, 10), frame(upd, 40)].concat()
        ));
        // A cut frame or trailing bytes are not a list of updates either.
        let whole = frame(upd, 40);
        assert!(!only_binding_updates(&whole[..whole.len() - 1]));
        assert!(!only_binding_updates(&[whole.as_slice(), &[0]].concat()));
        assert!(only_binding_updates(&[]));
    }

    use super::*;
    use dhcpv6_failover::{Binding, BindingStatus};

    fn leased() -> Binding {
        let mut b = Binding::new(
            Resource::Address("2001:db8::5".parse().expect("address")),
            BindingStatus::Active,
            UnixTime::from_secs(1_000),
        );
        b.expiration_time = Some(UnixTime::from_secs(5_000));
        b.partner_lifetime = Some(UnixTime::from_secs(9_000));
        b.needs_partner_update = true;
        b
    }

    #[test]
    fn an_accepted_bndreply_is_an_acknowledgement_only_rewrite() {
        let old = leased();
        let mut new = old.clone();
        new.acked_partner_lifetime = Some(UnixTime::from_secs(9_000));
        new.partner_lifetime = None;
        new.needs_partner_update = false;
        assert!(ack_only(&old, &new));
        // Only the acknowledged lifetime raised (the lease changed meanwhile): still only that.
        let mut raised = old.clone();
        raised.acked_partner_lifetime = Some(UnixTime::from_secs(9_000));
        assert!(ack_only(&old, &raised));
        assert!(ack_only(&old, &old.clone()));
    }

    #[test]
    fn any_other_change_is_written_before_anything_waits_for_it() {
        let old = leased();
        let mut status = old.clone();
        status.status = BindingStatus::Expired;
        assert!(!ack_only(&old, &status));
        let mut times = old.clone();
        times.expiration_time = Some(UnixTime::from_secs(6_000));
        assert!(!ack_only(&old, &times));
        let mut lowered = old.clone();
        lowered.acked_partner_lifetime = Some(UnixTime::from_secs(9_000));
        let mut back = lowered.clone();
        back.acked_partner_lifetime = Some(UnixTime::from_secs(8_000));
        assert!(!ack_only(&lowered, &back));
        let mut new_lifetime = old.clone();
        new_lifetime.partner_lifetime = Some(UnixTime::from_secs(9_500));
        assert!(!ack_only(&old, &new_lifetime));
        let mut flagged = old.clone();
        flagged.needs_partner_update = false;
        assert!(!ack_only(&flagged, &old));
    }
}

/// An in-process pair (two [`Failover`]s with their engines and in-memory stores, the link
/// carried by hand) to count the glue's instructions per lease and per update:
/// `valgrind --tool=callgrind --toggle-collect='*glue_bench::primary_turn*'` (or
/// `secondary_turn`) on `cargo test --release --lib glue_bench -- --ignored`. With
/// `GLUE_TAKE_FIRST` set, the primary hands the engine's writes over already encoded
/// ([`Failover::pump_with`]) instead of through [`Failover::pump_engine_writes`].
#[cfg(test)]
mod glue_bench {
    use super::*;
    use crate::dhcp::Engine;
    use crate::metrics::Metrics;
    use crate::store::{Committed, GroupCommitter, MemStore};
    use dhcpv6_failover::LeaseGrant;

    struct Side {
        cfg: Arc<crate::config::Config>,
        f: Failover,
        engine: Engine,
        committer: GroupCommitter,
        done: mpsc::UnboundedReceiver<Committed>,
        link: mpsc::UnboundedReceiver<LinkCmd>,
    }

    /// A store whose contents the test reads back, counting the binding records written.
    #[derive(Clone, Default)]
    struct Shared(Arc<std::sync::Mutex<(MemStore, usize)>>);

    impl crate::store::LeaseStore for Shared {
        fn load(&mut self) -> Result<crate::store::Snapshot, crate::store::StoreError> {
            let g = self
                .0
                .lock()
                .map_err(|_| crate::store::StoreError("poisoned".into()))?;
            Ok(g.0.snapshot.clone())
        }
        fn commit(
            &mut self,
            ops: &[Op],
        ) -> Result<crate::store::CommitStats, crate::store::StoreError> {
            let mut g = self
                .0
                .lock()
                .map_err(|_| crate::store::StoreError("poisoned".into()))?;
            g.1 += ops.iter().filter(|o| o.table == Table::Bindings).count();
            g.0.commit(ops)
        }
    }

    fn side(role: &str) -> Side {
        side_with(role, MemStore::default())
    }

    fn side_with(role: &str, store: impl crate::store::LeaseStore) -> Side {
        let (partner, listen) = match role {
            "primary" => ("[::1]:6470", ""),
            _ => ("::1", "listen = \"[::1]:6470\"\n"),
        };
        let text = format!(
            "[server]\nbind = \"::1\"\nport = 5470\n[store]\npath = \"/nonexistent/x.redb\"\n\
             [[subnet]]\nname = \"relayed\"\nlink = \"2001:db8:10::/64\"\n\
             addresses = [\"2001:db8:10::1000-2001:db8:10::ffff\"]\n\
             [[failover]]\nname = \"pair\"\nrole = \"{role}\"\npartner = \"{partner}\"\n{listen}\
             subnets = [\"relayed\"]\nmclt_secs = 30\nstartup_wait_secs = 1\nplaintext = true\n"
        );
        let cfg = Arc::new(crate::config::parse(&text).expect("config"));
        let rc = cfg.failover.first().expect("relationship").clone();
        let now =
            dhcpv6_failover::Now::new(dhcpv6_failover::Instant::ZERO, crate::service::wall_now());
        let ep = Endpoint::new(endpoint_config(&rc, &cfg.subnets, 7), now).expect("endpoint");
        let (link_tx, _) = mpsc::unbounded_channel();
        let mut f = Failover {
            rels: vec![Rel {
                cfg: rc,
                ep,
                link: None,
                counters: RelCounters::default(),
                last_contact: None,
                outbox: Vec::new(),
                outbox_since: None,
                marks: AckMarks::default(),
            }],
            by_subnet: [(0, 0)].into_iter().collect(),
            // Past the start-up wait at once.
            origin: std::time::Instant::now() - Duration::from_secs(10),
            now,
            acks: VecDeque::new(),
            link_tx,
            committed: 0,
        };
        let (tx, link) = mpsc::unbounded_channel();
        f.on_link(LinkMsg::Up {
            rel: 0,
            conn: 1,
            tx,
            peer: "[::1]:647".parse().expect("peer"),
        });
        let duid = dhcpv6_wire::Duid::en(9, role.as_bytes()).expect("duid");
        let engine = Engine::new(cfg.clone(), duid, Vec::new(), 7);
        let (committer, done) = GroupCommitter::start(store, 1000, Arc::new(Metrics::default()));
        Side {
            cfg,
            f,
            engine,
            committer,
            done,
            link,
        }
    }

    /// Waits for every submitted batch to commit and tells the failover through `turn`.
    fn settle(s: &mut Side, turn: fn(&mut Side, Committed)) {
        while s.f.committed < s.committer.last_seq() {
            let Some(c) = s.done.blocking_recv() else {
                return;
            };
            turn(s, c);
        }
        s.f.flush_outboxes(true);
    }

    /// A commit report as the event loop handles it (BNDREPLYs and the rest follow).
    fn commit_turn(s: &mut Side, c: Committed) {
        s.f.on_committed(c.upto, &c.result);
        s.f.pump(&mut s.engine, &mut s.committer).expect("pump");
    }

    #[inline(never)]
    fn primary_commit_turn(s: &mut Side, c: Committed) {
        // Distinct bodies, so that the linker does not fold them into one symbol.
        std::hint::black_box(1u8);
        commit_turn(s, c);
    }

    #[inline(never)]
    fn secondary_commit_turn(s: &mut Side, c: Committed) {
        // Distinct bodies, so that the linker does not fold them into one symbol.
        std::hint::black_box(2u8);
        commit_turn(s, c);
    }

    /// Carries what `from` sent to `to` (as one link read per write).
    fn carry(from: &mut Side, to: &mut Side, turn: fn(&mut Side, Vec<u8>)) -> usize {
        let mut n = 0;
        while let Ok(cmd) = from.link.try_recv() {
            if let LinkCmd::Send(bytes) = cmd {
                n += bytes.len();
                turn(to, bytes);
            }
        }
        n
    }

    /// One link read as the event loop handles it.
    fn link_turn(s: &mut Side, bytes: Vec<u8>) {
        s.f.on_link(LinkMsg::Bytes {
            rel: 0,
            conn: 1,
            bytes,
        });
        s.f.pump(&mut s.engine, &mut s.committer).expect("pump");
    }

    #[inline(never)]
    fn secondary_turn(s: &mut Side, bytes: Vec<u8>) {
        // Distinct bodies, so that the linker does not fold them into one symbol.
        std::hint::black_box(3u8);
        link_turn(s, bytes);
    }

    #[inline(never)]
    fn primary_link_turn(s: &mut Side, bytes: Vec<u8>) {
        // Distinct bodies, so that the linker does not fold them into one symbol.
        std::hint::black_box(4u8);
        link_turn(s, bytes);
    }

    /// One client lease on the primary as the event loop handles it: the engine's binding, the
    /// endpoint's record of the grant, and the pump with the engine's own write.
    #[inline(never)]
    fn primary_turn(s: &mut Side, i: u32) -> bool {
        let client = ClientKey {
            duid: [0, 3, 0, 1, 0, 0x5e, 0, 0]
                .into_iter()
                .chain(i.to_be_bytes())
                .collect(),
            iaid: 1,
        };
        let wall = crate::service::wall_now();
        let Some(r) = Authority::allocate(&mut s.f, wall, 0, ResourceKind::Address, &client) else {
            return false;
        };
        let valid = Authority::valid_lifetime(&s.f, wall, &r, Duration::from_secs(3600));
        let grant = crate::leases::Grant {
            preferred: valid / 2,
            valid,
            t1: valid / 4,
            t2: valid / 2,
            fqdn: None,
        };
        s.engine.leases_mut().bind(wall, r, &client, &grant);
        Authority::record(
            &mut s.f,
            wall,
            LeaseChange::Granted(LeaseGrant {
                client,
                resource: r,
                preferred: valid / 2,
                valid,
                t1: valid / 4,
                t2: valid / 2,
                desired_valid: Duration::from_secs(3600),
                fqdn: None,
                dns_removal: None,
            }),
        );
        if std::env::var_os("GLUE_TAKE_FIRST").is_some() {
            // The engine's writes taken (and encoded) before the endpoints' are drained.
            let ops = s.engine.take_store_ops();
            s.f.pump_with(&mut s.engine, &mut s.committer, ops)
        } else {
            s.f.pump_engine_writes(&mut s.engine, &mut s.committer)
        }
        .expect("pump");
        true
    }

    #[test]
    #[ignore = "measurement: run under callgrind (see the module doc)"]
    fn glue_pair_leases_and_updates() {
        let n: u32 = std::env::var("GLUE_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000);
        let (mut p, mut s) = (side("primary"), side("secondary"));
        for _ in 0..200 {
            for x in [&mut p, &mut s] {
                x.f.on_timeout();
                x.f.pump(&mut x.engine, &mut x.committer).expect("pump");
                settle(x, commit_turn);
            }
            carry(&mut p, &mut s, secondary_turn);
            carry(&mut s, &mut p, primary_link_turn);
            let normal = |x: &Side| {
                x.f.rels
                    .first()
                    .is_some_and(|r| r.ep.state() == State::Normal)
            };
            if normal(&p) && normal(&s) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(p.f.rels.first().map(|r| r.ep.state()), Some(State::Normal));
        assert_eq!(s.f.rels.first().map(|r| r.ep.state()), Some(State::Normal));
        let mut leased = 0u32;
        for i in 0..n {
            if primary_turn(&mut p, i) {
                leased += 1;
            }
            if i % 64 == 63 || i + 1 == n {
                settle(&mut p, primary_commit_turn);
                carry(&mut p, &mut s, secondary_turn);
                settle(&mut s, secondary_commit_turn);
                carry(&mut s, &mut p, primary_link_turn);
                settle(&mut p, primary_commit_turn);
            }
        }
        for _ in 0..3 {
            settle(&mut p, primary_commit_turn);
            carry(&mut p, &mut s, secondary_turn);
            settle(&mut s, secondary_commit_turn);
            carry(&mut s, &mut p, primary_link_turn);
        }
        let got = |x: &Side| x.f.rels.first().map(|r| r.counters.partner_updates);
        eprintln!(
            "leases {leased}, secondary partner updates {:?}, secondary active {}, marks {:?} / \
             {:?}, storage writes {:?} / {:?}",
            got(&s),
            s.engine.leases().active(),
            p.f.rels.first().map(|r| r.marks.mark()),
            s.f.rels.first().map(|r| r.marks.mark()),
            p.f.rels.first().map(|r| r.counters.storage_writes),
            s.f.rels.first().map(|r| r.counters.storage_writes),
        );
        assert_eq!(s.engine.leases().active(), u64::from(leased));
        p.committer.shutdown(Duration::from_secs(5));
        s.committer.shutdown(Duration::from_secs(5));
    }

    /// Brings a fresh pair to NORMAL.
    fn pair_in_normal(p: &mut Side, s: &mut Side) {
        for _ in 0..200 {
            for x in [&mut *p, &mut *s] {
                x.f.on_timeout();
                x.f.pump(&mut x.engine, &mut x.committer).expect("pump");
                settle(x, commit_turn);
            }
            carry(p, s, secondary_turn);
            carry(s, p, primary_link_turn);
            let normal = |x: &Side| {
                x.f.rels
                    .first()
                    .is_some_and(|r| r.ep.state() == State::Normal)
            };
            if normal(p) && normal(s) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the pair did not reach NORMAL");
    }

    /// The primary writes each lease once (the partner's acknowledgements move the mark instead
    /// of rewriting records), and what its store holds, read back at start-up, is exactly what
    /// it held in memory: acknowledged where the partner acknowledged.
    #[test]
    fn acknowledgements_move_the_mark_and_read_back_after_a_restart() {
        let store = Shared::default();
        let (mut p, mut s) = (side_with("primary", store.clone()), side("secondary"));
        pair_in_normal(&mut p, &mut s);
        let before = store.0.lock().expect("store").1;
        let mut leased = 0usize;
        for i in 0..300u32 {
            if primary_turn(&mut p, i) {
                leased += 1;
            }
            if i % 50 == 49 {
                for _ in 0..2 {
                    settle(&mut p, primary_commit_turn);
                    carry(&mut p, &mut s, secondary_turn);
                    settle(&mut s, secondary_commit_turn);
                    carry(&mut s, &mut p, primary_link_turn);
                }
            }
        }
        // The mark moved with every exchange but rode along only once within `MARK_EVERY`.
        assert!(p.f.ack_marks_moved());
        std::thread::sleep(MARK_EVERY + Duration::from_millis(100));
        // Updates granted after the last exchange stay unacknowledged; their batch, due now,
        // takes the mark along.
        for i in 300..310u32 {
            if primary_turn(&mut p, i) {
                leased += 1;
            }
        }
        settle(&mut p, primary_commit_turn);
        assert!(leased >= 300, "{leased} leased");
        let marks = &p.f.rels.first().expect("relationship").marks;
        assert_eq!(
            marks.awaited.len(),
            leased - 300,
            "awaited: {:?}",
            marks.awaited
        );
        assert!(marks.mark() >= 300 && marks.mark() < marks.last);
        let last_given = marks.last;
        let written = store.0.lock().expect("store").1 - before;
        assert_eq!(
            written, leased,
            "one binding record per lease, no acknowledgement rewrite"
        );

        // The mark rode along with the last leases' batch.
        let stored_mark = |store: &Shared| {
            let g = store.0.lock().expect("store");
            ack_mark_of(&g.0.snapshot.meta, "pair")
        };
        assert!(!p.f.ack_marks_moved());
        assert_eq!(
            stored_mark(&store),
            p.f.rels.first().map_or(0, |r| r.marks.mark())
        );

        // A restart reads the records back as they are in memory.
        let snap = store.0.lock().expect("store").0.snapshot.clone();
        let mut stored: Vec<_> = snap
            .bindings
            .values()
            .map(|v| crate::record::decode_with_update(v).expect("record"))
            .collect();
        let updates = apply_ack_marks(&p.cfg, &mut stored, &snap.meta);
        let read_back = updates.rels.first().expect("relationship");
        assert_eq!(read_back.last, last_given);
        assert_eq!(read_back.awaited.len(), leased - 300);
        let mut acked = 0;
        for (b, n) in &stored {
            assert!(n.is_some(), "every lease record carries its update number");
            let live = p.engine.leases().get(&b.resource).expect("in memory");
            // (The stored form keeps lifetimes in whole seconds.)
            let live = crate::record::decode(&crate::record::encode(live)).expect("record");
            assert_eq!(*b, live, "read back differently from memory");
            if !b.needs_partner_update {
                assert!(b.acked_partner_lifetime.is_some() && b.partner_lifetime.is_none());
                acked += 1;
            }
        }
        assert_eq!(acked, 300);
        // Without the mark (a crash before it was written), every record is read as awaiting
        // its acknowledgement: the updates are sent again.
        let mut unmarked: Vec<_> = snap
            .bindings
            .values()
            .map(|v| crate::record::decode_with_update(v).expect("record"))
            .collect();
        let none = apply_ack_marks(&p.cfg, &mut unmarked, &Default::default());
        assert!(unmarked.iter().all(|(b, _)| b.needs_partner_update));
        assert_eq!(none.rels.first().map(|m| m.awaited.len()), Some(leased));

        // The last updates acknowledged with no client batch to ride along: the mark goes
        // alone, and now covers every update given.
        carry(&mut p, &mut s, secondary_turn);
        settle(&mut s, secondary_commit_turn);
        carry(&mut s, &mut p, primary_link_turn);
        settle(&mut p, primary_commit_turn);
        assert!(p.f.ack_marks_moved());
        p.f.write_ack_marks(&mut p.committer).expect("marks");
        settle(&mut p, primary_commit_turn);
        assert!(!p.f.ack_marks_moved());
        assert_eq!(stored_mark(&store), last_given);
        p.committer.shutdown(Duration::from_secs(5));
        s.committer.shutdown(Duration::from_secs(5));
    }

    #[test]
    fn marks_follow_the_lowest_awaited_update() {
        let r =
            |i: u16| Resource::Address(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i));
        let mut m = AckMarks::starting_at(0, 0, &[]);
        assert_eq!((m.number(r(1)), m.number(r(2)), m.number(r(3))), (1, 2, 3));
        assert_eq!(m.mark(), 0);
        assert!(m.take_op("x", true).is_none(), "unmoved");
        assert!(m.settle(&r(2)));
        assert_eq!(m.mark(), 0, "1 still awaited");
        // A later record of 1 supersedes its awaited update.
        assert_eq!(m.number(r(1)), 4);
        assert_eq!(m.mark(), 2);
        let op = m.take_op("x", true).expect("moved");
        assert_eq!(op.key, format!("{META_ACK_MARK_PREFIX}x").into_bytes());
        assert_eq!(op.value, Some(2u64.to_be_bytes().to_vec()));
        assert!(m.take_op("x", true).is_none(), "written");
        assert!(!m.settle(&r(9)), "never awaited");
        assert!(m.settle(&r(3)) && m.settle(&r(1)));
        assert_eq!(m.mark(), 4, "none awaited: the highest number given");
        // Restarted with stored records still awaited.
        let m = AckMarks::starting_at(9, 4, &[(r(5), 7), (r(6), 9)]);
        assert_eq!((m.mark(), m.last), (6, 9));
    }
}
