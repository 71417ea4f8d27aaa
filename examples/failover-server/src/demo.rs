//! `dhcpv6-failover-server demo`: a failover pair on loopback, a population of relayed clients,
//! a primary crash, and a verdict. No configuration, no root, under a minute.
//!
//! Both servers are the real server ([`crate::service::run`]) with real stores (redb files in a
//! temporary directory), a real partner link (TCP on loopback, TLS 1.3 with pinned keys made on
//! the spot) and real control sockets (`ctl`); they run as tasks of this process so that "kill
//! the primary" can be done without root or child processes: the primary's task is dropped at
//! once, with whatever it had in flight, as a crash would. The clients are DHCPv6 clients behind
//! a relay (a loopback UDP socket sending Relay-forw to both servers), each with an IA_NA and an
//! IA_PD.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dhcpv6_wire::{
    ClientMessage, DhcpOption, Duid, Emit, IaAddr, IaNa, IaPd, IaPrefix, Message, MessageType,
    Options, RelayMessage,
};
use tokio::net::UdpSocket;

use crate::control::{LeaseView, Request};

/// What a client holds: (address, prefix) with the port of the server that answered.
#[derive(Debug, Clone, Default)]
struct Held {
    addr: Option<Ipv6Addr>,
    prefix: Option<(Ipv6Addr, u8)>,
    from_port: u16,
}

struct Side {
    name: &'static str,
    config: PathBuf,
    socket: PathBuf,
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn free_port() -> std::io::Result<u16> {
    let s = std::net::UdpSocket::bind("[::1]:0")?;
    let t = std::net::TcpListener::bind(("::1", s.local_addr()?.port()));
    match t {
        Ok(_) => Ok(s.local_addr()?.port()),
        Err(_) => Ok(std::net::TcpListener::bind("[::1]:0")?.local_addr()?.port()),
    }
}

#[expect(clippy::too_many_arguments, reason = "one configuration template")]
fn config_text(
    dir: &Path,
    name: &str,
    role: &str,
    port: u16,
    partner: &str,
    listen: Option<&str>,
    own: &str,
    pin: &str,
) -> String {
    let listen = listen.map_or(String::new(), |l| format!("listen = \"{l}\"\n"));
    format!(
        r#"[server]
bind = "::1"
port = {port}
client_port = 10546

[store]
path = "{dir}/{name}.redb"

[lifetimes]
t1_secs = 300
t2_secs = 480
preferred_secs = 600
valid_secs = 900

[control]
socket = "{dir}/{name}.sock"

[[subnet]]
name = "relayed"
link = "2001:db8:10::/64"
addresses = ["2001:db8:10::1000-2001:db8:10::1fff"]
prefixes = [{{ prefix = "2001:db8:1000::/40", delegated_len = 56 }}]

[[failover]]
name = "demo"
role = "{role}"
partner = "{partner}"
{listen}subnets = ["relayed"]
mclt_secs = 30
startup_wait_secs = 1
keepalive_secs = 5
connect_retry_secs = 1

[failover.tls]
cert = "{dir}/{own}.crt"
key = "{dir}/{own}.key"
partner_fingerprints = ["{pin}"]
"#,
        dir = dir.display()
    )
}

/// Sends one control command with `--json` and parses its answer as `T`.
async fn ctl<T: serde::de::DeserializeOwned>(side: &Side, cmd: &str) -> Option<T> {
    let req = Request {
        cmd: cmd.into(),
        relationship: None,
        since: None,
        json: true,
    };
    let out = tokio::time::timeout(
        Duration::from_secs(2),
        crate::control::request(&side.socket, &req),
    )
    .await
    .ok()?
    .ok()?;
    serde_json::from_str(&out).ok()
}

async fn leases(side: &Side) -> Option<Vec<LeaseView>> {
    ctl(side, "leases").await
}

/// One side's state, partner state, active leases and updates in flight.
async fn summary(side: &Side) -> (String, String, u64, u64) {
    match ctl::<serde_json::Value>(side, "status").await {
        Some(v) => {
            let r = &v["relationships"][0];
            (
                r["state"].as_str().unwrap_or("?").to_string(),
                r["partner_state"].as_str().unwrap_or("-").to_string(),
                v["active_leases"].as_u64().unwrap_or(0),
                r["unacked_updates"].as_u64().unwrap_or(0)
                    + r["pending_updates"].as_u64().unwrap_or(0),
            )
        }
        None => ("down".into(), "-".into(), 0, 0),
    }
}

async fn progress(t0: Instant, p: &Side, s: &Side, note: &str) -> ((String, u64), (String, u64)) {
    let (ps, _, pl, pu) = summary(p).await;
    let (ss, _, sl, su) = summary(s).await;
    println!(
        "[{:5.1}s] primary {:<26} leases {:>4} | secondary {:<26} leases {:>4} | updates in flight {:>3} | {note}",
        t0.elapsed().as_secs_f64(),
        ps,
        pl,
        ss,
        sl,
        pu + su
    );
    ((ps, pl), (ss, sl))
}

fn start(side: &mut Side) -> Result<(), String> {
    let cfg =
        crate::config::load(&side.config).map_err(|e| format!("{}: {e}", side.config.display()))?;
    let name = side.name;
    side.task = Some(tokio::spawn(async move {
        if let Err(e) = crate::service::run(cfg).await {
            eprintln!("{name}: stopped: {e}");
        }
    }));
    Ok(())
}

fn client_duid(i: usize) -> Duid {
    let b = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
    Duid::new(&[0, 3, 0, 1, 0x02, 0xde, b[0], b[1], b[2], b[3]])
        .unwrap_or_else(|_| Duid::uuid([0; 16]))
}

fn client_message(i: usize, t: MessageType, held: &Held) -> Vec<u8> {
    let xid = (u32::try_from(i).unwrap_or(0) << 4 | u32::from(t.0 & 0xf)) & 0x00ff_ffff;
    let mut m = ClientMessage::new(t, xid);
    m.options.push(DhcpOption::ClientId(client_duid(i)));
    if t == MessageType::SOLICIT {
        m.options.push(DhcpOption::RapidCommit);
    }
    let mut na = Options::new();
    if let Some(a) = held.addr {
        na.push(DhcpOption::IaAddr(IaAddr {
            address: a,
            preferred_lifetime: 0,
            valid_lifetime: 0,
            options: Options::new(),
        }));
    }
    m.options.push(DhcpOption::IaNa(IaNa {
        iaid: 1,
        t1: 0,
        t2: 0,
        options: na,
    }));
    let mut pd = Options::new();
    if let Some((p, l)) = held.prefix
        && let Ok(x) = IaPrefix::new(0, 0, l, p, Options::new())
    {
        pd.push(DhcpOption::IaPrefix(x));
    }
    m.options.push(DhcpOption::IaPd(IaPd {
        iaid: 2,
        t1: 0,
        t2: 0,
        options: pd,
    }));
    let relay = RelayMessage {
        msg_type: MessageType::RELAY_FORW,
        hop_count: 0,
        link_address: "2001:db8:10::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
        peer_address: Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            0,
            0,
            0,
            u16::try_from(i % 65_536).unwrap_or(0),
        ),
        options: Options::from(vec![
            DhcpOption::InterfaceId(format!("port{i}").as_bytes().into()),
            DhcpOption::RelayMsg(m.into()),
        ]),
    };
    Message::Relay(relay).to_vec()
}

/// Reads a Relay-repl: (client index, held leases with nonzero lifetimes, answering port).
fn read_reply(bytes: &[u8], from: u16) -> Option<(usize, Held)> {
    let msg = Message::parse(bytes).ok()?;
    let Message::Client(c) = msg.innermost() else {
        return None;
    };
    if c.msg_type != MessageType::REPLY {
        return None;
    }
    let i = usize::try_from(c.transaction_id >> 4).ok()?;
    let mut h = Held {
        from_port: from,
        ..Held::default()
    };
    h.addr = c
        .options
        .ia_na()
        .flat_map(|ia| ia.options.ia_addrs())
        .find(|a| a.valid_lifetime > 0)
        .map(|a| a.address);
    h.prefix = c
        .options
        .ia_pd()
        .flat_map(|ia| ia.options.ia_prefixes())
        .find(|p| p.valid_lifetime > 0)
        .map(|p| (p.prefix, p.prefix_len()));
    Some((i, h))
}

/// Sends `t` for every client in `todo` to both servers and collects Replies until every client
/// has an answer or `limit` passes (retransmitting every 500 ms).
async fn exchange(
    relay: &UdpSocket,
    servers: &[SocketAddr],
    t: MessageType,
    todo: &[usize],
    held: &HashMap<usize, Held>,
    limit: Duration,
) -> HashMap<usize, Held> {
    let mut got: HashMap<usize, Held> = HashMap::new();
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 4096];
    while Instant::now() < deadline && got.len() < todo.len() {
        for &i in todo.iter().filter(|i| !got.contains_key(i)) {
            let bytes = client_message(i, t, &held.get(&i).cloned().unwrap_or_default());
            for s in servers {
                let _ = relay.send_to(&bytes, s).await;
            }
        }
        let round = Instant::now() + Duration::from_millis(500);
        while let Ok(Ok((n, from))) =
            tokio::time::timeout_at(round.into(), relay.recv_from(&mut buf)).await
        {
            if let Some((i, h)) = buf.get(..n).and_then(|b| read_reply(b, from.port()))
                && todo.contains(&i)
                && (h.addr.is_some() || h.prefix.is_some())
            {
                got.insert(i, h);
            }
        }
    }
    got
}

/// Runs the demo; `Ok(true)` when the verdict holds.
pub async fn run(clients: usize) -> Result<bool, String> {
    let t0 = Instant::now();
    let dir = std::env::temp_dir().join(format!("dhcpv6-failover-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = run_in(&dir, clients, t0).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(dir: &Path, clients: usize, t0: Instant) -> Result<bool, String> {
    let pfp = crate::tls::write_generated(dir, "primary")?;
    let sfp = crate::tls::write_generated(dir, "secondary")?;
    let (pport, sport, link) = (
        free_port().map_err(|e| e.to_string())?,
        free_port().map_err(|e| e.to_string())?,
        free_port().map_err(|e| e.to_string())?,
    );
    let pcfg = dir.join("primary.toml");
    let scfg = dir.join("secondary.toml");
    let w = |p: &Path, t: String| std::fs::write(p, t).map_err(|e| format!("{}: {e}", p.display()));
    w(
        &pcfg,
        config_text(
            dir,
            "primary",
            "primary",
            pport,
            &format!("[::1]:{link}"),
            None,
            "primary",
            &sfp.to_string(),
        ),
    )?;
    w(
        &scfg,
        config_text(
            dir,
            "secondary",
            "secondary",
            sport,
            "::1",
            Some(&format!("[::1]:{link}")),
            "secondary",
            &pfp.to_string(),
        ),
    )?;
    println!(
        "dhcpv6-failover-server demo: a primary and a secondary on loopback (UDP {pport} / {sport}, partner link TCP {link} with TLS 1.3, pinned keys {} / {}), stores in {}",
        short(&pfp.to_string()),
        short(&sfp.to_string()),
        dir.display()
    );
    let mut p = Side {
        name: "primary",
        config: pcfg,
        socket: dir.join("primary.sock"),
        port: pport,
        task: None,
    };
    let mut s = Side {
        name: "secondary",
        config: scfg,
        socket: dir.join("secondary.sock"),
        port: sport,
        task: None,
    };
    start(&mut s)?;
    start(&mut p)?;
    let servers: Vec<SocketAddr> = vec![
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, p.port, 0, 0)),
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, s.port, 0, 0)),
    ];

    println!("== 1. the pair starts and reaches NORMAL");
    wait_states(t0, &p, &s, "Normal", "Normal", Duration::from_secs(20)).await?;

    println!(
        "== 2. {clients} clients (IA_NA + IA_PD each) through a relay; the primary answers, BNDUPDs keep the secondary informed"
    );
    let relay = UdpSocket::bind("[::1]:0")
        .await
        .map_err(|e| e.to_string())?;
    let all: Vec<usize> = (1..=clients).collect();
    let mut held: HashMap<usize, Held> = HashMap::new();
    for chunk in all.chunks(10) {
        let got = exchange(
            &relay,
            &servers,
            MessageType::SOLICIT,
            chunk,
            &held,
            Duration::from_secs(5),
        )
        .await;
        held.extend(got);
        progress(
            t0,
            &p,
            &s,
            &format!("clients bound {}/{clients}", held.len()),
        )
        .await;
    }
    let bound = held.len();
    let answered_by_primary = held.values().filter(|h| h.from_port == p.port).count();
    println!("          {bound} clients bound, {answered_by_primary} answered by the primary");
    // The secondary learns every lease from the primary's BNDUPDs.
    let want = (held
        .values()
        .map(|h| usize::from(h.addr.is_some()) + usize::from(h.prefix.is_some()))
        .sum::<usize>()) as u64;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, (_, sl)) =
            progress(t0, &p, &s, "waiting for the secondary to hold every lease").await;
        if sl >= want || Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    println!("== 3. the primary crashes (its task is dropped with everything in flight)");
    if let Some(t) = p.task.take() {
        t.abort();
        let _ = t.await;
    }
    wait_state(
        t0,
        &p,
        &s,
        "CommunicationsInterrupted",
        Duration::from_secs(10),
    )
    .await?;

    println!("== 4. the clients reach T2 and Rebind; only the secondary is there to answer");
    let before = held.clone();
    let rebound = exchange(
        &relay,
        &servers,
        MessageType::REBIND,
        &all,
        &held,
        Duration::from_secs(8),
    )
    .await;
    let kept = all
        .iter()
        .filter(|i| {
            let (Some(b), Some(r)) = (before.get(i), rebound.get(i)) else {
                return false;
            };
            r.from_port == s.port
                && b.addr == r.addr
                && b.prefix == r.prefix
                && b.addr.is_some()
                && b.prefix.is_some()
        })
        .count();
    println!(
        "          {} Rebinds answered by the secondary, {kept} with the same address and prefix",
        rebound.values().filter(|h| h.from_port == s.port).count()
    );
    progress(t0, &p, &s, "after the Rebinds").await;

    println!("== 5. the operator moves the secondary to PARTNER-DOWN (ctl partner-down)");
    let out = ctl::<serde_json::Value>(&s, "partner-down").await;
    println!(
        "          ctl partner-down: {}",
        out.map_or_else(|| "no answer".into(), |v| v.to_string())
    );
    wait_state(t0, &p, &s, "PartnerDown", Duration::from_secs(5)).await?;

    println!("== 6. the primary restarts from its store: RECOVER, then NORMAL on both sides");
    tokio::time::sleep(Duration::from_millis(300)).await;
    start(&mut p)?;
    wait_states(t0, &p, &s, "Normal", "Normal", Duration::from_secs(45)).await?;

    println!("== 7. both lease tables converge");
    let mut agree = false;
    let mut dups = 0usize;
    let mut table_len = 0usize;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let (Some(pl), Some(sl)) = (leases(&p).await, leases(&s).await) else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        let key = |v: &[LeaseView]| -> BTreeSet<(String, Option<(String, u32)>)> {
            v.iter()
                .map(|l| (l.resource.clone(), l.client.clone()))
                .collect()
        };
        let (a, b) = (key(&pl), key(&sl));
        // A resource bound to two different clients anywhere (either table) is a duplicate.
        let mut owner: BTreeMap<String, BTreeSet<Option<(String, u32)>>> = BTreeMap::new();
        for (r, c) in a.iter().chain(b.iter()) {
            owner.entry(r.clone()).or_default().insert(c.clone());
        }
        dups = owner.values().filter(|c| c.len() > 1).count();
        table_len = a.len();
        progress(
            t0,
            &p,
            &s,
            &format!(
                "tables: primary {} / secondary {} entries, {} differ",
                a.len(),
                b.len(),
                a.symmetric_difference(&b).count()
            ),
        )
        .await;
        if a == b {
            agree = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Duplicates as the clients see them: one address or prefix held by two clients.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, h) in held.iter().chain(rebound.iter()) {
        for r in h
            .addr
            .map(|a| a.to_string())
            .into_iter()
            .chain(h.prefix.map(|(p, l)| format!("{p}/{l}")))
        {
            if let Some(other) = seen.insert(r, *i)
                && other != *i
            {
                dups += 1;
            }
        }
    }
    for side in [&mut p, &mut s] {
        if let Some(t) = side.task.take() {
            t.abort();
        }
    }
    let leases_total = held
        .values()
        .map(|h| usize::from(h.addr.is_some()) + usize::from(h.prefix.is_some()))
        .sum::<usize>();
    let pass =
        bound == clients && kept == clients && dups == 0 && agree && table_len == leases_total;
    println!(
        "verdict: clients {clients}, leases {leases_total}, duplicates {dups}, kept their leases {kept}/{clients}, tables agree {} ({} entries), {:.1} s: {}",
        if agree { "yes" } else { "no" },
        table_len,
        t0.elapsed().as_secs_f64(),
        if pass { "PASS" } else { "FAIL" }
    );
    Ok(pass)
}

fn short(fp: &str) -> String {
    fp.get(..19).unwrap_or(fp).to_string() + "…"
}

async fn wait_state(
    t0: Instant,
    p: &Side,
    s: &Side,
    want: &str,
    limit: Duration,
) -> Result<(), String> {
    let until = Instant::now() + limit;
    let mut last = String::new();
    loop {
        let (ss, _, _, _) = summary(s).await;
        if ss != last {
            progress(t0, p, s, &format!("secondary now {ss}")).await;
            last = ss.clone();
        }
        if ss == want {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!(
                "the secondary did not reach {want} within {} s (it is {ss})",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_states(
    t0: Instant,
    p: &Side,
    s: &Side,
    pw: &str,
    sw: &str,
    limit: Duration,
) -> Result<(), String> {
    let until = Instant::now() + limit;
    let mut last = (String::new(), String::new());
    let mut shown = Instant::now();
    loop {
        let (ps, _, _, _) = summary(p).await;
        let (ss, _, _, _) = summary(s).await;
        if (ps.clone(), ss.clone()) != last {
            progress(t0, p, s, "state change").await;
            last = (ps.clone(), ss.clone());
            shown = Instant::now();
        } else if shown.elapsed() >= Duration::from_secs(5) {
            let why = if ps == "RecoverWait" {
                "RECOVER-WAIT lasts one MCLT (30 s here)"
            } else {
                "waiting"
            };
            progress(t0, p, s, why).await;
            shown = Instant::now();
        }
        if ps == pw && ss == sw {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!(
                "states did not reach {pw}/{sw} within {} s (primary {ps}, secondary {ss})",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
