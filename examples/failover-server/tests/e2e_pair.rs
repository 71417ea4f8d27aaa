//! End-to-end failover with real clients: a primary and a secondary server, each in its own
//! network namespace, on one client LAN (a bridge in a "switch" namespace, multicast snooping
//! off) and joined by a partner link of their own (a second veth pair, TLS with pinned keys), so
//! that the partner link can be cut alone. Clients are `dhclient -6 -N -P` in a third namespace,
//! one interface (and so one DUID) per client.
//!
//! Without root the tests print "skipped: needs root (network namespaces)" and pass.
#![allow(clippy::disallowed_methods)] // Tests own the clock (timeouts).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_dhcpv6-failover-server");

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn can_run() -> bool {
    if !is_root() {
        println!("skipped: needs root (network namespaces)");
        return false;
    }
    for t in ["dhclient", "ip", "timeout"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{t}` is not installed: run scripts/test (it installs isc-dhcp-client)"
        );
    }
    true
}

fn run(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .args(args)
        .output()
        .expect("spawn timeout(1)")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The topology: namespaces `p` (primary), `s` (secondary), `c` (clients), `w` (switch).
struct Pair {
    id: String,
    dir: PathBuf,
}

impl Pair {
    fn ns(&self, x: &str) -> String {
        format!("d6{x}-{}", self.id)
    }
    fn ifname(&self, x: &str) -> String {
        // At most 15 characters.
        format!("{x}{}", self.id)
    }

    fn new(clients: usize) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:x}{n}", std::process::id() & 0xffff);
        let dir = std::env::temp_dir().join(format!("d6pair-{id}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        let t = Self { id, dir };
        for x in ["p", "s", "c", "w"] {
            let ns = t.ns(x);
            ok(&["ip", "netns", "add", &ns]);
            let etc = Path::new("/etc/netns").join(&ns);
            fs::create_dir_all(&etc).expect("/etc/netns/<ns>");
            fs::write(etc.join("resolv.conf"), "").expect("resolv.conf");
            for k in ["all", "default"] {
                ok(&[
                    "ip",
                    "netns",
                    "exec",
                    &ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{k}.accept_dad=0"),
                ]);
            }
            ok(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        let w = t.ns("w");
        let br = t.ifname("br");
        ok(&[
            "ip",
            "-n",
            &w,
            "link",
            "add",
            &br,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ok(&["ip", "-n", &w, "link", "set", &br, "up"]);
        let mut lan = vec![
            ("p".to_string(), t.ifname("pl")),
            ("s".to_string(), t.ifname("sl")),
        ];
        for i in 0..clients {
            lan.push(("c".to_string(), t.ifname(&format!("c{i}x"))));
        }
        for (x, ifn) in &lan {
            let ns = t.ns(x);
            let peer = format!("{ifn}w");
            ok(&[
                "ip", "link", "add", ifn, "netns", &ns, "type", "veth", "peer", "name", &peer,
                "netns", &w,
            ]);
            ok(&["ip", "-n", &w, "link", "set", &peer, "master", &br]);
            ok(&["ip", "-n", &w, "link", "set", &peer, "up"]);
            ok(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{ifn}.accept_dad=0"),
            ]);
            ok(&["ip", "-n", &ns, "link", "set", ifn, "up"]);
        }
        // The partner link: its own veth pair with global addresses.
        let (pk, sk) = (t.ifname("pk"), t.ifname("sk"));
        ok(&[
            "ip",
            "link",
            "add",
            &pk,
            "netns",
            &t.ns("p"),
            "type",
            "veth",
            "peer",
            "name",
            &sk,
            "netns",
            &t.ns("s"),
        ]);
        for (x, ifn, a) in [("p", &pk, "fd00:647::1/64"), ("s", &sk, "fd00:647::2/64")] {
            let ns = t.ns(x);
            ok(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{ifn}.accept_dad=0"),
            ]);
            // Keep the address while the link is cut (IPv6 drops it on down by default).
            ok(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{ifn}.keep_addr_on_down=1"),
            ]);
            ok(&["ip", "-n", &ns, "addr", "add", a, "dev", ifn, "nodad"]);
            ok(&["ip", "-n", &ns, "link", "set", ifn, "up"]);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (x, ifn) in &lan {
            while !ok(&["ip", "-n", &t.ns(x), "-6", "addr", "show", "dev", ifn]).contains("fe80") {
                assert!(Instant::now() < deadline, "no link-local address on {ifn}");
                sleep(Duration::from_millis(50));
            }
        }
        t
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes both configurations (TLS with pinned keys made here).
    fn configs(&self, auto_partner_down: Option<u64>) {
        let fp = |name: &str| {
            let out = Command::new(SERVER)
                .args(["gen-cert", "--dir"])
                .arg(&self.dir)
                .args(["--name", name])
                .output()
                .expect("gen-cert");
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find(|l| l.starts_with("sha256:"))
                .expect("fingerprint")
                .to_string()
        };
        let (pfp, sfp) = (fp("primary"), fp("secondary"));
        for (role, x, partner, listen, pin) in [
            ("primary", "p", "[fd00:647::2]:647", "", &sfp),
            (
                "secondary",
                "s",
                "fd00:647::1",
                "listen = \"[fd00:647::2]:647\"",
                &pfp,
            ),
        ] {
            let auto = match (role, auto_partner_down) {
                ("secondary", Some(s)) => format!("auto_partner_down_secs = {s}"),
                _ => String::new(),
            };
            let cfg = format!(
                r#"[server]
interfaces = ["{ifn}"]
preference = 255

[store]
path = "{d}/{role}.redb"

[lifetimes]
t1_secs = 4
t2_secs = 6
preferred_secs = 30
valid_secs = 40

[control]
socket = "{d}/{role}.sock"

[[subnet]]
name = "lan"
interface = "{ifn}"
link = "2001:db8:1::/64"
addresses = ["2001:db8:1::1000-2001:db8:1::10ff"]
prefixes = [{{ prefix = "2001:db8:100::/48", delegated_len = 56 }}]

[[failover]]
name = "e2e"
role = "{role}"
partner = "{partner}"
{listen}
subnets = ["lan"]
mclt_secs = 30
startup_wait_secs = 1
keepalive_secs = 3
connect_retry_secs = 1
{auto}

[failover.tls]
cert = "{d}/{role}.crt"
key = "{d}/{role}.key"
partner_fingerprints = ["{pin}"]
"#,
                ifn = self.ifname(&format!("{x}l")),
                d = self.dir.display(),
            );
            fs::write(self.path(&format!("{role}.toml")), cfg).expect("config");
        }
    }

    fn start(&self, role: &str) -> Child {
        let x = if role == "primary" { "p" } else { "s" };
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(&format!("{role}.log")))
            .expect("log");
        Command::new("ip")
            .args(["netns", "exec", &self.ns(x), SERVER, "run", "--config"])
            .arg(self.path(&format!("{role}.toml")))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn server")
    }

    fn ctl(&self, role: &str, cmd: &str) -> Option<serde_json::Value> {
        let out = Command::new(SERVER)
            .args(["ctl", "--json", "--socket"])
            .arg(self.path(&format!("{role}.sock")))
            .arg(cmd)
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    fn state(&self, role: &str) -> String {
        self.ctl(role, "status")
            .and_then(|v| v["relationships"][0]["state"].as_str().map(str::to_string))
            .unwrap_or_else(|| "down".into())
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

    fn wait(&self, what: &str, secs: u64, mut f: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(secs);
        while !f() {
            assert!(
                Instant::now() < until,
                "{what}: not within {secs} s (primary {}, secondary {})\n{}",
                self.state("primary"),
                self.state("secondary"),
                self.logs()
            );
            sleep(Duration::from_millis(250));
        }
    }

    fn wait_states(&self, p: &str, s: &str, secs: u64) {
        self.wait(&format!("states {p}/{s}"), secs, || {
            self.state("primary") == p && self.state("secondary") == s
        });
    }

    /// Active leases as (resource, client) from one server.
    fn leases(&self, role: &str) -> BTreeSet<(String, String)> {
        self.ctl(role, "leases")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|l| {
                (
                    l["resource"].as_str().unwrap_or("").to_string(),
                    l["client"].to_string(),
                )
            })
            .collect()
    }

    /// Starts `dhclient -6 -N -P` on client interface `i` (it daemonises once bound).
    fn dhclient(&self, i: usize) {
        let ifn = self.ifname(&format!("c{i}x"));
        let lf = self.path(&format!("c{i}.leases")).display().to_string();
        let pf = self.path(&format!("c{i}.pid")).display().to_string();
        let out = run(&[
            "ip",
            "netns",
            "exec",
            &self.ns("c"),
            "timeout",
            "40",
            "dhclient",
            "-6",
            "-N",
            "-P",
            "-1",
            "-lf",
            &lf,
            "-pf",
            &pf,
            &ifn,
        ]);
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

impl Drop for Pair {
    fn drop(&mut self) {
        for x in ["c", "p", "s", "w"] {
            let ns = self.ns(x);
            // Every process in our own namespaces was started by this test.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
            let _ = fs::remove_dir_all(Path::new("/etc/netns").join(&ns));
        }
        if std::env::var_os("E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn sigkill(c: &mut Child) {
    let _ = Command::new("kill")
        .args(["-9", &c.id().to_string()])
        .status();
    let _ = c.wait();
}

/// Scenario 1: the primary is killed; the client rebinds to the secondary and keeps its address
/// and prefix; the secondary goes PARTNER-DOWN (by command, or by the automatic timer); the
/// primary restarts and recovers; both reach NORMAL and their lease tables agree.
fn primary_killed(auto: bool) {
    let t = Pair::new(1);
    t.configs(auto.then_some(4));
    let mut s = t.start("secondary");
    let mut p = t.start("primary");
    t.wait_states("Normal", "Normal", 20);
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

    sigkill(&mut p);
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

    if auto {
        t.wait("automatic PARTNER-DOWN", 20, || {
            t.state("secondary") == "PartnerDown"
        });
    } else {
        let v = t.ctl("secondary", "partner-down").expect("ctl answers");
        assert_eq!(v["ok"], serde_json::Value::Bool(true), "{v}");
        assert_eq!(t.state("secondary"), "PartnerDown");
    }
    let mut p = t.start("primary");
    t.wait_states("Normal", "Normal", 60);
    t.wait("lease tables agree", 10, || {
        let (a, b) = (t.leases("primary"), t.leases("secondary"));
        a == b && a.len() == 2
    });
    sigkill(&mut p);
    sigkill(&mut s);
}

#[test]
fn primary_killed_client_rebinds_and_the_pair_recovers_by_command() {
    if can_run() {
        primary_killed(false);
    }
}

#[test]
fn primary_killed_secondary_goes_partner_down_by_timer() {
    if can_run() {
        primary_killed(true);
    }
}

/// Scenario 2: the partner link is cut while clients keep arriving: both serve from their own
/// halves; after the heal both return to NORMAL, and no address or prefix is bound to two clients.
#[test]
fn partner_link_cut_while_clients_arrive_no_duplicates() {
    if !can_run() {
        return;
    }
    let clients = 6;
    let t = Pair::new(clients);
    t.configs(None);
    let mut s = t.start("secondary");
    let mut p = t.start("primary");
    t.wait_states("Normal", "Normal", 20);
    t.dhclient(0);

    ok(&[
        "ip",
        "-n",
        &t.ns("p"),
        "link",
        "set",
        &t.ifname("pk"),
        "down",
    ]);
    t.wait_states("CommunicationsInterrupted", "CommunicationsInterrupted", 30);
    for i in 1..clients {
        t.dhclient(i);
    }
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..clients {
        let (a, pf, _) = t.held(i);
        for r in [a.expect("an address"), pf.expect("a prefix")] {
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
    ok(&["ip", "-n", &t.ns("p"), "link", "set", &t.ifname("pk"), "up"]);
    t.wait_states("Normal", "Normal", 90);
    t.wait("lease tables agree", 15, || {
        t.leases("primary") == t.leases("secondary")
    });
    let mut by_resource: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (r, c) in t.leases("primary").into_iter().chain(t.leases("secondary")) {
        by_resource.entry(r).or_default().insert(c);
    }
    let dups: Vec<_> = by_resource.iter().filter(|(_, c)| c.len() > 1).collect();
    assert!(dups.is_empty(), "bound to two clients: {dups:?}");
    assert!(
        by_resource.len() >= 2 * clients,
        "leases: {}",
        by_resource.len()
    );
    sigkill(&mut p);
    sigkill(&mut s);
}

/// Scenario 3: the partner link is cut, the secondary is put in PARTNER-DOWN, a client arrives,
/// the link heals: the conflict is resolved, the lease tables agree and nothing is bound twice.
#[test]
fn link_cut_partner_down_then_heal_resolves_without_duplicates() {
    if !can_run() {
        return;
    }
    let t = Pair::new(2);
    t.configs(None);
    let mut s = t.start("secondary");
    let mut p = t.start("primary");
    t.wait_states("Normal", "Normal", 20);
    t.dhclient(0);
    ok(&[
        "ip",
        "-n",
        &t.ns("p"),
        "link",
        "set",
        &t.ifname("pk"),
        "down",
    ]);
    t.wait_states("CommunicationsInterrupted", "CommunicationsInterrupted", 30);
    let v = t.ctl("secondary", "partner-down").expect("ctl answers");
    assert_eq!(v["ok"], serde_json::Value::Bool(true), "{v}");
    t.dhclient(1);
    ok(&["ip", "-n", &t.ns("p"), "link", "set", &t.ifname("pk"), "up"]);
    t.wait_states("Normal", "Normal", 90);
    t.wait("lease tables agree", 15, || {
        t.leases("primary") == t.leases("secondary")
    });
    let logs = t.logs();
    assert!(
        logs.contains("PotentialConflict"),
        "no POTENTIAL-CONFLICT on the way back:\n{logs}"
    );
    let mut by_resource: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (r, c) in t.leases("primary").into_iter().chain(t.leases("secondary")) {
        by_resource.entry(r).or_default().insert(c);
    }
    assert!(
        by_resource.values().all(|c| c.len() == 1),
        "bound twice: {by_resource:?}"
    );
    assert!(by_resource.len() >= 4, "leases: {by_resource:?}");
    sigkill(&mut p);
    sigkill(&mut s);
}

/// Scenario 4: the secondary's database is deleted before it restarts: it recovers every lease
/// from the primary (UPDREQALL).
#[test]
fn secondary_with_a_deleted_database_recovers_everything() {
    if !can_run() {
        return;
    }
    let t = Pair::new(2);
    t.configs(None);
    let mut s = t.start("secondary");
    let mut p = t.start("primary");
    t.wait_states("Normal", "Normal", 20);
    t.dhclient(0);
    t.dhclient(1);
    t.wait("secondary holds every lease", 10, || {
        t.leases("secondary").len() == 4
    });
    sigkill(&mut s);
    fs::remove_file(t.path("secondary.redb")).expect("delete the secondary's store");
    let mut s = t.start("secondary");
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
    sigkill(&mut p);
    sigkill(&mut s);
}

/// Scenario 6: the primary is killed with SIGKILL during a perfdhcp run; after its restart every
/// address that a client received in a Reply (from a capture of the Replies) is in the store of
/// one of the two servers.
#[test]
fn primary_killed_during_perfdhcp_every_replied_lease_is_stored() {
    if !can_run() {
        return;
    }
    for tool in ["perfdhcp", "tcpdump", "tshark"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(found, "`{tool}` is not installed: run scripts/test");
    }
    let t = Pair::new(1);
    t.configs(None);
    let mut s = t.start("secondary");
    let mut p = t.start("primary");
    t.wait_states("Normal", "Normal", 20);
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
    sigkill(&mut p);
    let _ = perf.wait();
    sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();

    let mut p = t.start("primary");
    t.wait_states("Normal", "Normal", 60);
    let out = run(&[
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
    sigkill(&mut p);
    sigkill(&mut s);
}

/// Benchmark (not part of the test command): perfdhcp against the pair (primary answering,
/// BNDUPDs to the secondary) and against the same server alone, interleaved, IA_NA and
/// IA_NA+IA_PD. `cargo test --release --test e2e_pair bench -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: run explicitly"]
fn bench_pair_vs_standalone() {
    if !can_run() {
        return;
    }
    let rate: u32 = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4000);
    let t = Pair::new(1);
    t.configs(None);
    // Pools large enough for every perfdhcp client of a run.
    for f in ["primary.toml", "secondary.toml"] {
        let c = fs::read_to_string(t.path(f)).expect("config");
        let c = c
            .replace(
                "2001:db8:1::1000-2001:db8:1::10ff",
                "2001:db8:1::1:0-2001:db8:1::2:ffff",
            )
            .replace("2001:db8:100::/48", "2001:db8:100::/40");
        fs::write(t.path(f), c).expect("config");
    }
    let text = fs::read_to_string(t.path("primary.toml")).expect("config");
    let alone = text
        .split("[[failover]]")
        .next()
        .unwrap_or_default()
        .replace("primary.redb", "alone.redb")
        .replace("primary.sock", "alone.sock");
    fs::write(t.path("alone.toml"), alone).expect("alone config");
    let ifc = t.ifname("c0x");
    let perf = |mode: &str| -> (f64, f64) {
        let out = run(&[
            "ip",
            "netns",
            "exec",
            &t.ns("c"),
            "perfdhcp",
            "-6",
            "-l",
            &ifc,
            "-r",
            &rate.to_string(),
            "-p",
            "5",
            "-R",
            "1000000",
            "-e",
            mode,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let num = |key: &str| {
            text.lines()
                .filter_map(|l| l.to_lowercase().split_once(key).map(|(_, v)| v.to_string()))
                .filter_map(|v| {
                    v.split_whitespace()
                        .next()
                        .and_then(|x| x.parse::<f64>().ok())
                })
                .next_back()
                .unwrap_or(0.0)
        };
        (num("rate:"), num("avg delay:"))
    };
    let spawn = |cfg: &str| {
        Command::new("ip")
            .args(["netns", "exec", &t.ns("p"), SERVER, "run", "--config"])
            .arg(t.path(cfg))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server")
    };
    let mut rows = Vec::new();
    for mode in ["address-only", "address-and-prefix"] {
        for round in 0..2 {
            let _ = fs::remove_file(t.path("alone.redb"));
            let mut a = spawn("alone.toml");
            sleep(Duration::from_secs(1));
            let (ar, ad) = perf(mode);
            sigkill(&mut a);
            for f in ["primary.redb", "secondary.redb"] {
                let _ = fs::remove_file(t.path(f));
            }
            let mut s = t.start("secondary");
            let mut p = t.start("primary");
            t.wait_states("Normal", "Normal", 20);
            let (pr, pd) = perf(mode);
            sleep(Duration::from_secs(1));
            let (lp, ls) = (t.leases("primary").len(), t.leases("secondary").len());
            sigkill(&mut p);
            sigkill(&mut s);
            rows.push(format!(
                "{mode:<19} round {round}: alone {ar:>8.1}/s {ad:>6.3} ms | pair {pr:>8.1}/s {pd:>6.3} ms | ratio {:.2} | leases primary {lp} secondary {ls} (1 s after)",
                if ar > 0.0 { pr / ar } else { 0.0 }
            ));
        }
    }
    println!("offered {rate}/s, 5 s per run, durable stores");
    for r in rows {
        println!("{r}");
    }
}
