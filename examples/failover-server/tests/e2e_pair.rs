//! End-to-end failover with real clients: a primary and a secondary server, each in its own
//! network namespace, on one client LAN (a bridge in a "switch" namespace, multicast snooping
//! off) and joined by a partner link of their own (a second veth pair, TLS with pinned keys), so
//! that the partner link can be cut alone. Clients are `dhclient -6 -N -P` in a third namespace,
//! one interface (and so one DUID) per client.
//!
//! Without root the tests print "skipped: needs root (network namespaces)" and pass.
#![allow(clippy::disallowed_methods)] // Tests own the clock (timeouts).

mod common;

use common::{Netns, Server, TempDir, can_run, failover_toml, lifetimes_toml, subnet_toml};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

/// The topology: namespaces `p` (primary), `s` (secondary), `c` (clients), `w` (switch).
struct Pair {
    // Dropped first: kills what runs inside and deletes the namespaces, then the files go.
    _netns: Netns,
    id: String,
    dir: TempDir,
}

/// The client LAN's address range and prefix pool.
const RANGE: &str = "2001:db8:1::1000-2001:db8:1::10ff";
const PREFIXES: (&str, u8) = ("2001:db8:100::/48", 56);

impl Pair {
    fn ns(&self, x: &str) -> String {
        format!("d6{x}-{}", self.id)
    }
    fn ifname(&self, x: &str) -> String {
        // At most 15 characters.
        format!("{x}{}", self.id)
    }

    /// The topology with `clients` client interfaces, and both configurations written
    /// (`auto_partner_down` seconds on the secondary when given).
    fn new(clients: usize, auto_partner_down: Option<u64>) -> Self {
        let dir = TempDir::new("d6pair");
        let id = common::unique_id();
        let ns = |x: &str| format!("d6{x}-{id}");
        let ifname = |x: &str| format!("{x}{id}");
        let netns = Netns::new(&["p", "s", "c", "w"].map(ns));
        let (w, br) = (ns("w"), ifname("br"));
        netns.bridge(&w, &br);
        let mut lan = vec![(ns("p"), ifname("pl")), (ns("s"), ifname("sl"))];
        for i in 0..clients {
            lan.push((ns("c"), ifname(&format!("c{i}x"))));
        }
        for (n, ifn) in &lan {
            netns.plug((n, ifn), &w, &br);
        }
        // The partner link: its own veth pair with global addresses.
        let (p, s, pk, sk) = (ns("p"), ns("s"), ifname("pk"), ifname("sk"));
        netns.veth((&p, &pk), (&s, &sk));
        netns.address(&p, &pk, "fd00:647::1/64");
        netns.address(&s, &sk, "fd00:647::2/64");
        let links: Vec<(&str, &str)> = lan.iter().map(|(n, i)| (n.as_str(), i.as_str())).collect();
        netns.wait_link_local(&links);
        let t = Self {
            _netns: netns,
            id,
            dir,
        };
        t.configs(auto_partner_down);
        t
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    /// Writes both configurations (TLS with pinned keys made here).
    fn configs(&self, auto_partner_down: Option<u64>) {
        let pfp = common::gen_cert(&self.dir.0, "primary");
        let sfp = common::gen_cert(&self.dir.0, "secondary");
        for (role, x, partner, listen, pin) in [
            ("primary", "p", "[fd00:647::2]:647", None, &sfp),
            (
                "secondary",
                "s",
                "fd00:647::1",
                Some("[fd00:647::2]:647"),
                &pfp,
            ),
        ] {
            let mut extra = "keepalive_secs = 3\n".to_string();
            if let ("secondary", Some(s)) = (role, auto_partner_down) {
                extra.push_str(&format!("auto_partner_down_secs = {s}\n"));
            }
            let ifn = self.ifname(&format!("{x}l"));
            let cfg = format!(
                "[server]\ninterfaces = [\"{ifn}\"]\npreference = 255\n\n[store]\npath = \"{d}/{role}.redb\"\n\n{}\n[control]\nsocket = \"{d}/{role}.sock\"\n\n{}\n{}",
                lifetimes_toml((4, 6, 30, 40)),
                subnet_toml("lan", Some(&ifn), "2001:db8:1::/64", RANGE, Some(PREFIXES)),
                failover_toml(
                    role,
                    partner,
                    listen,
                    "lan",
                    &extra,
                    &common::tls_toml(&self.dir.0, role, pin)
                ),
                d = self.dir.0.display(),
            );
            fs::write(self.path(&format!("{role}.toml")), cfg).expect("config");
        }
    }

    fn socket(&self, role: &str) -> PathBuf {
        self.path(&format!("{role}.sock"))
    }

    fn start(&self, role: &str) -> Server {
        let x = if role == "primary" { "p" } else { "s" };
        Server::spawn(
            Some(&self.ns(x)),
            &self.path(&format!("{role}.toml")),
            &self.path(&format!("{role}.log")),
            &self.socket(role),
        )
    }

    /// Starts the secondary, then the primary: (primary, secondary).
    fn start_both(&self) -> (Server, Server) {
        let s = self.start("secondary");
        (self.start("primary"), s)
    }

    /// As root: the topology, both servers started and in NORMAL. Otherwise None (after the
    /// skip line).
    fn normal(tools: &[&str], clients: usize, auto: Option<u64>) -> Option<(Self, Server, Server)> {
        if !can_run(tools) {
            return None;
        }
        let t = Self::new(clients, auto);
        let (p, s) = t.start_normal();
        Some((t, p, s))
    }

    /// Both started and in NORMAL: (primary, secondary).
    fn start_normal(&self) -> (Server, Server) {
        let both = self.start_both();
        self.wait_states("Normal", "Normal", 20);
        both
    }

    /// Heals the partner link; both return to NORMAL and their lease tables agree.
    fn heal_and_agree(&self) {
        self.partner_link(true);
        self.wait_states("Normal", "Normal", 90);
        self.wait("lease tables agree", 15, || {
            self.leases("primary") == self.leases("secondary")
        });
    }

    fn ctl(&self, role: &str, cmd: &str) -> Option<serde_json::Value> {
        common::ctl(&self.socket(role), cmd)
    }

    fn state(&self, role: &str) -> String {
        common::state(&self.socket(role))
    }

    fn leases(&self, role: &str) -> BTreeSet<(String, String)> {
        common::leases(&self.socket(role))
    }

    fn logs(&self) -> String {
        ["primary", "secondary"]
            .iter()
            .map(|r| {
                format!(
                    "--- {r}\n{}",
                    fs::read_to_string(self.path(&format!("{r}.log"))).unwrap_or_default()
                )
            })
            .collect()
    }

    fn wait(&self, what: &str, secs: u64, f: impl FnMut() -> bool) {
        assert!(
            common::wait_for(Duration::from_secs(secs), f),
            "{what}: not within {secs} s (primary {}, secondary {})\n{}",
            self.state("primary"),
            self.state("secondary"),
            self.logs()
        );
    }

    fn wait_states(&self, p: &str, s: &str, secs: u64) {
        self.wait(&format!("states {p}/{s}"), secs, || {
            self.state("primary") == p && self.state("secondary") == s
        });
    }

    /// Cuts (false) or heals (true) the partner link on the primary's side.
    fn partner_link(&self, up: bool) {
        self._netns.link(&self.ns("p"), &self.ifname("pk"), up);
    }

    /// The union of both lease tables, checked: no resource bound to two clients, at least
    /// `min` resources.
    fn assert_no_duplicates(&self, min: usize) {
        let (total, dups) = common::bound_twice([self.leases("primary"), self.leases("secondary")]);
        assert!(dups.is_empty(), "bound to two clients: {dups:?}");
        assert!(total >= min, "leases: {total}, expected at least {min}");
    }

    /// Starts `dhclient -6 -N -P` on client interface `i` (it daemonises once bound).
    fn dhclient(&self, i: usize) {
        let ifn = self.ifname(&format!("c{i}x"));
        let lf = self.path(&format!("c{i}.leases")).display().to_string();
        let pf = self.path(&format!("c{i}.pid")).display().to_string();
        let out = common::exec(
            &self.ns("c"),
            &[
                "timeout", "40", "dhclient", "-6", "-N", "-P", "-1", "-lf", &lf, "-pf", &pf, &ifn,
            ],
        );
        assert!(
            out.status.success(),
            "dhclient {i} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
    }

    /// The last (address, prefix, server-id) the client recorded.
    fn held(&self, i: usize) -> (Option<String>, Option<String>, Option<String>) {
        let text = fs::read_to_string(self.path(&format!("c{i}.leases"))).unwrap_or_default();
        let last = |word: &str| {
            text.lines()
                .filter_map(|l| {
                    l.trim()
                        .strip_prefix(word)
                        .map(|r| r.trim().trim_end_matches(['{', ';']).trim().to_string())
                })
                .next_back()
        };
        (
            last("iaaddr"),
            last("iaprefix"),
            last("option dhcp6.server-id"),
        )
    }
}

/// Scenario 1: the primary is killed; the client rebinds to the secondary and keeps its address
/// and prefix; the secondary goes PARTNER-DOWN (by command, or by the automatic timer); the
/// primary restarts and recovers; both reach NORMAL and their lease tables agree.
/// The socket filters `role` installed, in order: the interfaces on which each dropped the
/// Solicit, Confirm and Rebind of directly attached clients (`[]`: none).
fn socket_filters(t: &Pair, role: &str) -> Vec<String> {
    let key = "solicit_confirm_rebind_dropped_on=";
    fs::read_to_string(t.path(&format!("{role}.log")))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("socket filter installed"))
        .filter_map(|l| {
            let rest = &l[l.find(key)? + key.len()..];
            Some(rest[..=rest.find(']')?].to_owned())
        })
        .collect()
}

fn primary_killed(auto: bool) {
    let Some((t, mut p, _s)) = Pair::normal(&["dhclient"], 1, auto.then_some(4)) else {
        return;
    };
    t.dhclient(0);
    let (addr, prefix, sid) = t.held(0);
    assert!(
        addr.is_some() && prefix.is_some(),
        "dhclient got no address or prefix: {:?}",
        t.held(0)
    );
    t.wait("secondary holds both leases", 10, || {
        t.leases("secondary").len() == 2
    });

    p.kill();
    // Renew (T1 = 4 s) goes unanswered; Rebind (T2 = 6 s) reaches the secondary.
    t.wait("client rebound to the secondary", 30, || {
        let (a, pf, id) = t.held(0);
        id.is_some() && id != sid && a.is_some() && pf.is_some()
    });
    let (a2, p2, _) = t.held(0);
    assert_eq!(
        (a2, p2),
        (addr, prefix),
        "the client kept its address and prefix"
    );
    // The secondary's kernel dropped its partner's clients' Solicits and Rebinds until the
    // partner was lost; answering the Rebind took a socket filter without that rule.
    let filters = socket_filters(&t, "secondary");
    assert!(
        filters.len() >= 2
            && filters.first().is_some_and(|f| f != "[]")
            && filters.last().is_some_and(|f| f == "[]"),
        "the secondary's socket filters: {filters:?}\n{}",
        t.logs()
    );

    if auto {
        t.wait("automatic PARTNER-DOWN", 20, || {
            t.state("secondary") == "PartnerDown"
        });
    } else {
        let v = t.ctl("secondary", "partner-down").expect("ctl answers");
        assert_eq!(v["ok"], serde_json::Value::Bool(true), "{v}");
        assert_eq!(t.state("secondary"), "PartnerDown");
    }
    let _p = t.start("primary");
    t.wait_states("Normal", "Normal", 60);
    t.wait("lease tables agree", 10, || {
        let (a, b) = (t.leases("primary"), t.leases("secondary"));
        a == b && a.len() == 2
    });
}

#[test]
fn primary_killed_client_rebinds_and_the_pair_recovers_by_command() {
    primary_killed(false);
}

#[test]
fn primary_killed_secondary_goes_partner_down_by_timer() {
    primary_killed(true);
}

/// Scenario 2: the partner link is cut while clients keep arriving: both serve from their own
/// halves; after the heal both return to NORMAL, and no address or prefix is bound to two clients.
#[test]
fn partner_link_cut_while_clients_arrive_no_duplicates() {
    let clients = 6;
    let Some((t, _p, _s)) = Pair::normal(&["dhclient"], clients, None) else {
        return;
    };
    t.dhclient(0);

    t.partner_link(false);
    t.wait_states("CommunicationsInterrupted", "CommunicationsInterrupted", 30);
    for i in 1..clients {
        t.dhclient(i);
    }
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..clients {
        // dhclient's lease file can trail its exit by a moment: give it a few seconds to show
        // both leases; a client that really got no prefix still fails below, with the logs.
        common::wait_for(Duration::from_secs(5), || {
            let (a, pf, _) = t.held(i);
            a.is_some() && pf.is_some()
        });
        let (a, pf, _) = t.held(i);
        let (Some(a), Some(pf)) = (a, pf) else {
            panic!(
                "client {i} holds no address or no prefix: {:?}\nlease file:\n{}\n{}",
                t.held(i),
                fs::read_to_string(t.path(&format!("c{i}.leases"))).unwrap_or_default(),
                t.logs()
            );
        };
        for r in [a, pf] {
            if let Some(other) = owner.insert(r.clone(), i) {
                panic!("{r} given to clients {other} and {i}\n{}", t.logs());
            }
        }
    }

    // New leases during the partition are bounded by the MCLT (30 s; 40 s configured).
    for i in 1..clients {
        let text = fs::read_to_string(t.path(&format!("c{i}.leases"))).unwrap_or_default();
        let lives: Vec<u64> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("max-life"))
            .filter_map(|v| v.trim().trim_end_matches(';').parse().ok())
            .collect();
        assert!(
            !lives.is_empty() && lives.iter().all(|v| *v <= 30),
            "client {i} lifetimes {lives:?}"
        );
    }
    t.heal_and_agree();
    t.assert_no_duplicates(2 * clients);
}

/// Scenario 3: the partner link is cut, the secondary is put in PARTNER-DOWN, a client arrives,
/// the link heals: the conflict is resolved, the lease tables agree and nothing is bound twice.
#[test]
fn link_cut_partner_down_then_heal_resolves_without_duplicates() {
    let Some((t, _p, _s)) = Pair::normal(&["dhclient"], 2, None) else {
        return;
    };
    t.dhclient(0);
    t.partner_link(false);
    t.wait_states("CommunicationsInterrupted", "CommunicationsInterrupted", 30);
    let v = t.ctl("secondary", "partner-down").expect("ctl answers");
    assert_eq!(v["ok"], serde_json::Value::Bool(true), "{v}");
    t.dhclient(1);
    t.heal_and_agree();
    let logs = t.logs();
    assert!(
        logs.contains("PotentialConflict"),
        "no POTENTIAL-CONFLICT on the way back:\n{logs}"
    );
    t.assert_no_duplicates(4);
}

/// Scenario 4: the secondary's database is deleted before it restarts: it recovers every lease
/// from the primary (UPDREQALL).
#[test]
fn secondary_with_a_deleted_database_recovers_everything() {
    let Some((t, _p, mut s)) = Pair::normal(&["dhclient"], 2, None) else {
        return;
    };
    t.dhclient(0);
    t.dhclient(1);
    t.wait("secondary holds every lease", 10, || {
        t.leases("secondary").len() == 4
    });
    s.kill();
    fs::remove_file(t.path("secondary.redb")).expect("delete the secondary's store");
    let _s = t.start("secondary");
    t.wait_states("Normal", "Normal", 60);
    t.wait("secondary recovered every lease", 10, || {
        t.leases("secondary") == t.leases("primary")
    });
    assert_eq!(t.leases("secondary").len(), 4);
    let log = fs::read_to_string(t.path("secondary.log")).unwrap_or_default();
    // Once at the first start, once more after the database was lost.
    assert!(
        log.matches("RecoverWait").count() >= 4,
        "the secondary did not go through RECOVER again:\n{log}"
    );
}

/// Scenario 5, wrong key: the primary presents a key pair the secondary has not pinned; over
/// the partner veth the secondary refuses the TLS handshake, logs it with the primary's
/// partner-link address, and neither side reaches NORMAL.
#[test]
fn partner_with_a_wrong_key_is_refused() {
    if !can_run(&[]) {
        return;
    }
    let t = Pair::new(0, None);
    common::gen_cert(&t.dir.0, "mallory");
    let cfg = fs::read_to_string(t.path("primary.toml")).expect("config");
    let cfg = cfg
        .replace("/primary.crt", "/mallory.crt")
        .replace("/primary.key", "/mallory.key");
    fs::write(t.path("primary.toml"), cfg).expect("config");
    let (p, s) = t.start_both();
    common::assert_wrong_key_refused(&p, &s);
    let refusal = s
        .log_text()
        .lines()
        .find(|l| l.contains("partner TLS handshake refused"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        refusal.contains("fd00:647::1"),
        "the refusal names the primary's partner-link address: {refusal}"
    );
}

/// Scenario 5, mismatched pools: the secondary's address range differs; the pair refuses with
/// ConfigurationConflict over the partner veth and logs what differs; neither side reaches
/// NORMAL.
#[test]
fn partner_with_a_mismatched_pool_is_refused() {
    if !can_run(&[]) {
        return;
    }
    let t = Pair::new(0, None);
    let cfg = fs::read_to_string(t.path("secondary.toml")).expect("config");
    assert!(cfg.contains(RANGE));
    fs::write(
        t.path("secondary.toml"),
        cfg.replace(RANGE, "2001:db8:1::1000-2001:db8:1::107f"),
    )
    .expect("config");
    let (p, s) = t.start_both();
    common::assert_pool_mismatch_refused(&p, &s);
}

/// Scenario 6: the primary is killed with SIGKILL during a perfdhcp run; after its restart every
/// address that a client received in a Reply (from a capture of the Replies) is in the store of
/// one of the two servers.
#[test]
fn primary_killed_during_perfdhcp_every_replied_lease_is_stored() {
    let Some((t, mut p, _s)) =
        Pair::normal(&["dhclient", "perfdhcp", "tcpdump", "tshark"], 1, None)
    else {
        return;
    };
    let ifc = t.ifname("c0x");
    let cap = t.path("replies.pcap");
    let mut dump = Command::new("ip")
        .args([
            "netns",
            "exec",
            &t.ns("c"),
            "tcpdump",
            "-i",
            &ifc,
            "-U",
            "-w",
        ])
        .arg(&cap)
        .args(["udp", "port", "546"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump");
    sleep(Duration::from_secs(1));
    let mut perf = Command::new("ip")
        .args([
            "netns",
            "exec",
            &t.ns("c"),
            "timeout",
            "30",
            "perfdhcp",
            "-6",
            "-l",
            &ifc,
        ])
        .args(["-r", "50", "-p", "8", "-R", "100000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("perfdhcp");
    sleep(Duration::from_secs(3));
    p.kill();
    let _ = perf.wait();
    sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();

    let _p = t.start("primary");
    t.wait_states("Normal", "Normal", 60);
    let out = common::run(&[
        "tshark",
        "-r",
        &cap.display().to_string(),
        "-Y",
        "dhcpv6.msgtype == 7",
        "-T",
        "fields",
        "-e",
        "dhcpv6.iaaddr.ip",
    ]);
    let replied: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .split([',', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    assert!(
        replied.len() > 20,
        "too few Replies captured: {}",
        replied.len()
    );
    let stored: BTreeSet<String> = t
        .leases("primary")
        .into_iter()
        .chain(t.leases("secondary"))
        .map(|(r, _)| r)
        .collect();
    let missing: Vec<&String> = replied.iter().filter(|a| !stored.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} replied addresses are in neither store: {missing:?}\n{}",
        missing.len(),
        replied.len(),
        t.logs()
    );
    println!("{} replied addresses, every one stored", replied.len());
}
