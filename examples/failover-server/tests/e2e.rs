//! End-to-end tests with real DHCPv6 clients in network namespaces.
//!
//! Each test builds its own pair of namespaces joined by a veth pair (DAD off), runs the built
//! server binary in one and real clients (dhclient, dhcpcd, perfdhcp, a crafted-packet probe) in
//! the other, and tears everything down in `Drop`, also when the test fails. Without root the
//! tests print "skipped: needs root (network namespaces)" and pass.
#![allow(clippy::disallowed_methods)] // Tests own the clock (timeouts).

mod common;

use common::{Netns, Server, TempDir, can_run, exec, lifetimes_toml, subnet_toml};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const PROBE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dhcp_probe.py");

/// Two namespaces joined by a veth pair: `srv` (server side `if_s`) and `cli` (client side `if_c`).
struct Net {
    // Dropped first: kills what runs inside and deletes the namespaces, then the files go.
    _netns: Netns,
    srv: String,
    cli: String,
    if_s: String,
    if_c: String,
    dir: TempDir,
    starts: std::cell::Cell<usize>,
}

impl Net {
    fn new() -> Self {
        let dir = TempDir::new("d6e2e");
        let id = dir
            .0
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("d6e2e-"))
            .expect("temp dir name")
            .to_string();
        let (srv, cli) = (format!("d6s-{id}"), format!("d6c-{id}"));
        let (if_s, if_c) = (format!("d6s{id}"), format!("d6c{id}"));
        let netns = Netns::new(&[srv.clone(), cli.clone()]);
        netns.veth((&srv, &if_s), (&cli, &if_c));
        netns.wait_link_local(&[(&srv, &if_s), (&cli, &if_c)]);
        Self {
            _netns: netns,
            srv,
            cli,
            if_s,
            if_c,
            dir,
            starts: std::cell::Cell::new(0),
        }
    }

    /// A fresh topology with the server running on a configuration with these lifetimes, or
    /// None (after the skip line) when the test cannot run here.
    fn serving(tools: &[&str], lifetimes: (u32, u32, u32, u32)) -> Option<(Self, PathBuf, Server)> {
        if !can_run(tools) {
            return None;
        }
        let net = Self::new();
        let cfg = net.config(lifetimes);
        let server = net.start_server(&cfg);
        Some((net, cfg, server))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    fn cli(&self, args: &[&str]) -> Output {
        exec(&self.cli, args)
    }

    fn config(&self, lifetimes: (u32, u32, u32, u32)) -> PathBuf {
        let cfg = format!(
            r#"
[server]
interfaces = ["{ifs}"]
metrics = "127.0.0.1:9547"
preference = 255

[store]
path = "{store}"

{lifetimes}
[options]
dns_servers = ["2001:db8::53"]
domain_search = ["example.test"]

{subnet}"#,
            ifs = self.if_s,
            store = self.path("leases.redb").display(),
            lifetimes = lifetimes_toml(lifetimes),
            subnet = subnet_toml(
                "lan",
                Some(&self.if_s),
                "2001:db8:1::/64",
                "2001:db8:1::1000-2001:db8:1::8fff",
                Some(("2001:db8:100::/40", 56)),
            ),
        );
        let path = self.path("server.toml");
        fs::write(&path, cfg).expect("write config");
        path
    }

    fn start_server(&self, config: &Path) -> Server {
        let server = Server::spawn(
            Some(&self.srv),
            config,
            &self.path("server.log"),
            &self.path("server.sock"),
        );
        let before = self.starts.get();
        self.starts.set(before + 1);
        server.wait_listening(before);
        server
    }

    /// The server's metrics page (bash's /dev/tcp: no HTTP client needed).
    fn scrape(&self) -> String {
        let script = "exec 3<>/dev/tcp/127.0.0.1/9547 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3";
        let out = exec(&self.srv, &["timeout", "3", "bash", "-c", script]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default()
    }

    fn metric(&self, name: &str) -> f64 {
        // The endpoint comes up just after the socket: retry briefly after a (re)start.
        let deadline = Instant::now() + Duration::from_secs(5);
        let text = loop {
            let text = self.scrape();
            if !text.is_empty() || Instant::now() > deadline {
                break text;
            }
            sleep(Duration::from_millis(100));
        };
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
    }

    fn wait_metric(&self, name: &str, pred: impl Fn(f64) -> bool, secs: u64) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.metric(name);
            if pred(v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "metric {name} stayed at {v}; server log:\n{}",
                fs::read_to_string(self.path("server.log")).unwrap_or_default()
            );
            sleep(Duration::from_millis(200));
        }
    }

    fn dhclient(&self, flags: &[&str], tag: &str) -> String {
        let lf = self.path(&format!("{tag}.leases"));
        let pf = self.path(&format!("{tag}.pid"));
        let mut args = vec!["timeout", "40", "dhclient", "-6", "-1", "-v"];
        args.extend_from_slice(flags);
        let lfs = lf.display().to_string();
        let pfs = pf.display().to_string();
        args.extend_from_slice(&["-lf", &lfs, "-pf", &pfs, &self.if_c]);
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "dhclient {flags:?} failed:\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(self.path("server.log")).unwrap_or_default()
        );
        fs::read_to_string(&lf).unwrap_or_default()
    }

    /// Stops the client of `tag` and waits (up to 5 s) until it is gone, so that nothing it
    /// still had in flight (a Renew) reaches the server after what the test sends next.
    fn kill_pidfile(&self, tag: &str) {
        if let Ok(pid) = fs::read_to_string(self.path(&format!("{tag}.pid")))
            && !pid.trim().is_empty()
        {
            let pid = pid.trim();
            let _ = Command::new("kill").arg(pid).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                sleep(Duration::from_millis(50));
            }
        }
    }
}

fn lease_addresses(leases: &str, word: &str) -> Vec<String> {
    leases
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix(word)
                .map(|r| r.trim().trim_end_matches('{').trim().to_owned())
        })
        .collect()
}

#[test]
fn dhclient_na_lease_survives_restart_and_release_frees_it() {
    let Some((net, cfg, mut server)) = Net::serving(&["dhclient"], (3, 5, 8, 12)) else {
        return;
    };
    let leases = net.dhclient(&[], "na");
    let addrs = lease_addresses(&leases, "iaaddr");
    let first = addrs.last().cloned().expect("dhclient recorded an iaaddr");
    assert!(first.starts_with("2001:db8:1::"), "{first}");
    let on_if = String::from_utf8_lossy(
        &net.cli(&["ip", "-6", "addr", "show", "dev", &net.if_c])
            .stdout,
    )
    .into_owned();
    assert!(
        on_if.contains(&first),
        "address {first} not configured:\n{on_if}"
    );
    net.wait_metric("dhcpv6_active_leases", |v| v == 1.0, 5);

    // Restart: the lease is restored from the store and the client keeps it through Renew.
    server.stop();
    let mut server = net.start_server(&cfg);
    assert_eq!(
        net.metric("dhcpv6_active_leases"),
        1.0,
        "lease restored from the store"
    );
    net.wait_metric(
        "dhcpv6_packets_received_total{type=\"renew\"}",
        |v| v >= 1.0,
        20,
    );
    sleep(Duration::from_millis(500));
    let leases = fs::read_to_string(net.path("na.leases")).unwrap_or_default();
    assert_eq!(
        lease_addresses(&leases, "iaaddr").last(),
        Some(&first),
        "address kept across the restart"
    );
    net.wait_metric("dhcpv6_active_leases", |v| v == 1.0, 5);

    // Release frees it.
    net.kill_pidfile("na");
    let lf = net.path("na.leases").display().to_string();
    let pf = net.path("na-r.pid").display().to_string();
    let out = net.cli(&[
        "timeout", "20", "dhclient", "-6", "-r", "-v", "-lf", &lf, "-pf", &pf, &net.if_c,
    ]);
    assert!(
        out.status.success(),
        "dhclient -r: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    net.wait_metric("dhcpv6_active_leases", |v| v == 0.0, 10);
    assert!(net.metric("dhcpv6_packets_received_total{type=\"release\"}") >= 1.0);
    assert!(server.is_running());
    server.stop();
}

#[test]
fn dhclient_prefix_delegation_and_both() {
    let Some((net, _, mut server)) = Net::serving(&["dhclient"], (60, 90, 120, 180)) else {
        return;
    };
    let leases = net.dhclient(&["-P"], "pd");
    let prefixes = lease_addresses(&leases, "iaprefix");
    assert!(
        prefixes
            .last()
            .is_some_and(|p| p.starts_with("2001:db8:1") && p.ends_with("/56")),
        "{leases}"
    );
    net.kill_pidfile("pd");
    let leases = net.dhclient(&["-N", "-P"], "napd");
    assert!(!lease_addresses(&leases, "iaaddr").is_empty(), "{leases}");
    assert!(!lease_addresses(&leases, "iaprefix").is_empty(), "{leases}");
    net.kill_pidfile("napd");
    // One prefix for the first client, an address and a prefix for the second (dhclient uses one
    // DUID per host, so the -N -P run may reuse the first IA_PD).
    net.wait_metric("dhcpv6_active_leases", |v| (2.0..=3.0).contains(&v), 5);
    server.stop();
}

#[test]
fn dhcpcd_gets_address_and_prefix() {
    let Some((net, _, mut server)) = Net::serving(&["dhcpcd"], (60, 90, 120, 180)) else {
        return;
    };
    let conf = net.path("dhcpcd.conf");
    fs::write(
        &conf,
        format!(
            "ipv6only\nnoipv6rs\npersistent\nnohook resolv.conf\noption rapid_commit\ninterface {c}\n  ia_na 1\n  ia_pd 2 lo/0/64\n",
            c = net.if_c
        ),
    )
    .expect("dhcpcd.conf");
    // dhcpcd keeps its DUID and leases under /var/lib/dhcpcd and its pid file and control socket
    // under /run/dhcpcd: `ip netns exec` gives us a private mount namespace, so a private
    // directory is bound over the first and a fresh tmpfs mounted over /run.
    let db = net.path("dhcpcd-db");
    fs::create_dir_all(&db).expect("db dir");
    let script = format!(
        "mount --bind {db} /var/lib/dhcpcd && mount -t tmpfs none /run && mkdir -p /run/dhcpcd && exec timeout 30 dhcpcd -6 -1 -B -t 20 -f {conf} {c}",
        db = db.display(),
        conf = conf.display(),
        c = net.if_c
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", &net.cli, "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dhcpcd");
    net.wait_metric("dhcpv6_active_leases", |v| v >= 2.0, 25);
    let deadline = Instant::now() + Duration::from_secs(10);
    let on_if = loop {
        let s = String::from_utf8_lossy(
            &net.cli(&["ip", "-6", "addr", "show", "dev", &net.if_c])
                .stdout,
        )
        .into_owned();
        if s.contains("2001:db8:1::") || Instant::now() > deadline {
            break s;
        }
        sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        on_if.contains("2001:db8:1::"),
        "dhcpcd did not configure the address:\n{on_if}"
    );
    assert!(
        fs::read_dir(&db).map(|d| d.count()).unwrap_or(0) > 0,
        "dhcpcd wrote its DUID into the private db dir"
    );
    server.stop();
}

#[test]
fn decline_marks_the_address_abandoned() {
    let Some((net, cfg, mut server)) = Net::serving(&["python3"], (60, 90, 120, 180)) else {
        return;
    };
    let out = net.cli(&["python3", PROBE, "decline", &net.if_c]);
    assert!(
        out.status.success(),
        "probe: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("declined 2001:db8:1::"));
    net.wait_metric("dhcpv6_leases{status=\"abandoned\"}", |v| v == 1.0, 5);
    net.wait_metric("dhcpv6_active_leases", |v| v == 0.0, 5);
    // Abandoned survives a restart.
    server.stop();
    let mut server = net.start_server(&cfg);
    assert_eq!(net.metric("dhcpv6_leases{status=\"abandoned\"}"), 1.0);
    server.stop();
}

fn perfdhcp_ok(net: &Net, relay: bool) {
    let mut args = vec![
        "-r", "200", "-n", "1000", "-p", "10", "-R", "100000", "-W", "2000000",
    ];
    if relay {
        args.extend_from_slice(&["-A", "1"]);
    }
    let perf = common::perfdhcp(&net.cli, &net.if_c, &args);
    assert!(perf.success, "perfdhcp failed:\n{}", perf.text);
    let metrics = net
        .scrape()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.ends_with(" 0"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!("{}\nserver metrics:\n{metrics}", perf.text);
    assert_eq!(
        perf.sent.len(),
        2,
        "two exchanges (SA and RR) reported:\n{text}"
    );
    assert_eq!(perf.sent, perf.received, "every packet answered:\n{text}");
    assert!(
        perf.sent.iter().all(|&s| s >= 900),
        "perfdhcp sent the whole run:\n{text}"
    );
    assert!(perf.drops.iter().all(|&d| d == 0), "no drops:\n{text}");
}

#[test]
fn perfdhcp_four_way_direct_and_relayed() {
    let Some((net, _, mut server)) = Net::serving(&["perfdhcp"], (600, 900, 1200, 1800)) else {
        return;
    };
    perfdhcp_ok(&net, false);
    perfdhcp_ok(&net, true);
    assert!(net.metric("dhcpv6_packets_received_total{type=\"relay_forw\"}") >= 1000.0);
    assert!(server.is_running());
    server.stop();
}

#[test]
fn malformed_burst_leaves_the_server_answering() {
    let Some((net, _, mut server)) = Net::serving(&["python3", "dhclient"], (60, 90, 120, 180))
    else {
        return;
    };
    let out = net.cli(&["python3", PROBE, "garbage", &net.if_c, "3000"]);
    assert!(
        out.status.success(),
        "probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    net.wait_metric(
        "dhcpv6_drops_total{reason=\"malformed\"}",
        |v| v >= 1500.0,
        10,
    );
    assert!(server.is_running(), "server survived the burst");
    let leases = net.dhclient(&[], "after");
    assert!(!lease_addresses(&leases, "iaaddr").is_empty());
    net.kill_pidfile("after");
    let log = fs::read_to_string(net.path("server.log")).unwrap_or_default();
    let lines = log
        .lines()
        .filter(|l| l.contains("malformed datagrams dropped"))
        .count();
    assert!(
        (1..=30).contains(&lines),
        "malformed drops are logged, rate-limited ({lines} lines)"
    );
    server.stop();
}
