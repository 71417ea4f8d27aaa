//! The harness shared by the integration tests (`e2e.rs`, `e2e_pair.rs`, `pair.rs`): the root
//! check and its skip line, bounded commands, network namespaces with veth pairs and bridges
//! (removed in `Drop` with every process inside them, also when a test fails), server processes,
//! the control socket, key pairs, waiting, perfdhcp runs and the configuration text.
// Each test crate uses its own part of the harness; tests own the clock (timeouts).
#![allow(dead_code, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The server binary under test.
pub(crate) const SERVER: &str = env!("CARGO_BIN_EXE_dhcpv6-failover-server");

pub(crate) fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether `tool` is on the PATH.
pub(crate) fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Returns false (and prints the skip line) when a namespace test cannot run here: not root.
/// As root a missing tool is a failure, not a skip.
pub(crate) fn can_run(tools: &[&str]) -> bool {
    if !is_root() {
        println!("skipped: needs root (network namespaces)");
        return false;
    }
    for t in tools.iter().chain(["ip", "timeout", "bash"].iter()) {
        assert!(
            have(t),
            "`{t}` is not installed: run scripts/test (it installs isc-dhcp-client, dhcpcd5, kea-admin, tcpdump, tshark)"
        );
    }
    true
}

/// Runs a command bounded to 60 s.
pub(crate) fn run(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .args(args)
        .output()
        .expect("spawn timeout(1)")
}

/// Runs a command bounded to 60 s that must succeed; its stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` every 200 ms until it holds (true) or `limit` passes (false).
pub(crate) fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        sleep(Duration::from_millis(200));
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A short identifier unique to this process and call (fits in interface names).
pub(crate) fn unique_id() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{n}", std::process::id() & 0xffff)
}

/// A fresh temporary directory, removed on drop (kept when `E2E_KEEP` is set).
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("{tag}-{}", unique_id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("temp dir");
        Self(d)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Network namespaces made by one test: each with DAD off, loopback up and its own empty
/// `/etc/netns/<ns>/resolv.conf` (dhclient-script rewrites resolv.conf: the host's stays
/// untouched). On drop every process inside them is killed (all were started by the test) and
/// the namespaces, with their links, are deleted.
pub(crate) struct Netns {
    names: Vec<String>,
}

impl Netns {
    pub(crate) fn new(names: &[String]) -> Self {
        let mut t = Self { names: Vec::new() };
        for ns in names {
            ok(&["ip", "netns", "add", ns]);
            t.names.push(ns.clone());
            let etc = Path::new("/etc/netns").join(ns);
            fs::create_dir_all(&etc).expect("/etc/netns/<ns>");
            fs::write(etc.join("resolv.conf"), "").expect("resolv.conf");
            for k in ["all", "default"] {
                sysctl(ns, &format!("net.ipv6.conf.{k}.accept_dad=0"));
            }
            ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        t
    }

    /// A veth pair `a_if` in `a` and `b_if` in `b`, both up with DAD off.
    pub(crate) fn veth(&self, (a, a_if): (&str, &str), (b, b_if): (&str, &str)) {
        ok(&[
            "ip", "link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b,
        ]);
        for (ns, ifn) in [(a, a_if), (b, b_if)] {
            sysctl(ns, &format!("net.ipv6.conf.{ifn}.accept_dad=0"));
            ok(&["ip", "-n", ns, "link", "set", ifn, "up"]);
        }
    }

    /// A bridge `br` in `ns` with multicast snooping off (ff02::1:2 reaches every port).
    pub(crate) fn bridge(&self, ns: &str, br: &str) {
        ok(&[
            "ip",
            "-n",
            ns,
            "link",
            "add",
            br,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ok(&["ip", "-n", ns, "link", "set", br, "up"]);
    }

    /// Interface `ifn` in `ns` plugged into bridge `br` of namespace `switch` (port `<ifn>w`).
    pub(crate) fn plug(&self, (ns, ifn): (&str, &str), switch: &str, br: &str) {
        let port = format!("{ifn}w");
        self.veth((ns, ifn), (switch, &port));
        ok(&["ip", "-n", switch, "link", "set", &port, "master", br]);
    }

    /// A global address on `ifn`, kept while the link is down (so the link can be cut).
    pub(crate) fn address(&self, ns: &str, ifn: &str, addr: &str) {
        sysctl(ns, &format!("net.ipv6.conf.{ifn}.keep_addr_on_down=1"));
        ok(&["ip", "-n", ns, "addr", "add", addr, "dev", ifn, "nodad"]);
    }

    /// Sets a link up or down (cutting or healing it).
    pub(crate) fn link(&self, ns: &str, ifn: &str, up: bool) {
        ok(&[
            "ip",
            "-n",
            ns,
            "link",
            "set",
            ifn,
            if up { "up" } else { "down" },
        ]);
    }

    /// Waits (at most 10 s) until every interface has its link-local address.
    pub(crate) fn wait_link_local(&self, links: &[(&str, &str)]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for (ns, ifn) in links {
            while !ok(&["ip", "-n", ns, "-6", "addr", "show", "dev", ifn]).contains("fe80") {
                assert!(Instant::now() < deadline, "no link-local address on {ifn}");
                sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Runs `args` inside namespace `ns` (bounded to 60 s).
pub(crate) fn exec(ns: &str, args: &[&str]) -> Output {
    let mut a = vec!["ip", "netns", "exec", ns];
    a.extend_from_slice(args);
    run(&a)
}

fn sysctl(ns: &str, kv: &str) {
    ok(&["ip", "netns", "exec", ns, "sysctl", "-qw", kv]);
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in &self.names {
            // Every process left in our own namespaces was started by this test.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
            let _ = fs::remove_dir_all(Path::new("/etc/netns").join(ns));
        }
    }
}

/// A server process (in a namespace or on the host) with its log (appended to across restarts)
/// and control socket. Killed on drop.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) log: PathBuf,
    pub(crate) socket: PathBuf,
}

impl Server {
    /// `dhcpv6-failover-server run --config CONFIG`, in `ns` when given, stderr appended to `log`.
    pub(crate) fn spawn(ns: Option<&str>, config: &Path, log: &Path, socket: &Path) -> Self {
        let logf = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, SERVER]);
                c
            }
            None => Command::new(SERVER),
        };
        let child = cmd
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .expect("spawn server");
        Self {
            child: Some(child),
            log: log.to_path_buf(),
            socket: socket.to_path_buf(),
        }
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 15 s) until the log says `listening` more than `before` times.
    pub(crate) fn wait_listening(&self, before: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.log_text();
            if text.matches("listening").count() > before {
                return;
            }
            assert!(Instant::now() < deadline, "server did not start:\n{text}");
            sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits (at most 15 s) for the drain; a server that does not stop fails the test.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!(
                "server did not stop within 15 s of SIGTERM:\n{}",
                self.log_text()
            );
        }
    }

    /// SIGKILL (a crash).
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-9", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `ctl --json CMD` over this server's control socket.
    pub(crate) fn ctl(&self, cmd: &str) -> Option<serde_json::Value> {
        ctl(&self.socket, cmd)
    }

    pub(crate) fn state(&self) -> String {
        state(&self.socket)
    }

    pub(crate) fn leases(&self) -> BTreeSet<(String, String)> {
        leases(&self.socket)
    }
}

/// `ctl --json CMD` over a control socket.
pub(crate) fn ctl(socket: &Path, cmd: &str) -> Option<serde_json::Value> {
    let out = Command::new(SERVER)
        .args(["ctl", "--json", "--socket"])
        .arg(socket)
        .arg(cmd)
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// The first relationship's state (`Normal`, `PartnerDown`, ...), or "down" without an answer.
pub(crate) fn state(socket: &Path) -> String {
    ctl(socket, "status")
        .and_then(|v| v["relationships"][0]["state"].as_str().map(str::to_string))
        .unwrap_or_else(|| "down".into())
}

/// Active leases as (resource, client).
pub(crate) fn leases(socket: &Path) -> BTreeSet<(String, String)> {
    ctl(socket, "leases")
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

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `gen-cert` into `dir`; the fingerprint it prints.
pub(crate) fn gen_cert(dir: &Path, name: &str) -> String {
    let out = Command::new(SERVER)
        .args(["gen-cert", "--dir"])
        .arg(dir)
        .args(["--name", name])
        .output()
        .expect("gen-cert runs");
    assert!(out.status.success(), "gen-cert failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("sha256:"))
        .expect("gen-cert prints the fingerprint")
        .to_string()
}

/// The `[failover.tls]` table: our own key pair `own` in `dir`, the partner's fingerprint pinned.
pub(crate) fn tls_toml(dir: &Path, own: &str, pin: &str) -> String {
    format!(
        "[failover.tls]\ncert = \"{d}/{own}.crt\"\nkey = \"{d}/{own}.key\"\npartner_fingerprints = [\"{pin}\"]\n",
        d = dir.display()
    )
}

/// The `[lifetimes]` table.
pub(crate) fn lifetimes_toml((t1, t2, p, v): (u32, u32, u32, u32)) -> String {
    format!("[lifetimes]\nt1_secs = {t1}\nt2_secs = {t2}\npreferred_secs = {p}\nvalid_secs = {v}\n")
}

/// One `[[subnet]]`: `interface` for directly attached clients (None: relayed only), the
/// address range and optionally a prefix pool `(prefix, delegated_len)`.
pub(crate) fn subnet_toml(
    name: &str,
    interface: Option<&str>,
    link: &str,
    addresses: &str,
    prefixes: Option<(&str, u8)>,
) -> String {
    let mut s = format!("[[subnet]]\nname = \"{name}\"\n");
    if let Some(i) = interface {
        s.push_str(&format!("interface = \"{i}\"\n"));
    }
    s.push_str(&format!(
        "link = \"{link}\"\naddresses = [\"{addresses}\"]\n"
    ));
    if let Some((p, len)) = prefixes {
        s.push_str(&format!(
            "prefixes = [{{ prefix = \"{p}\", delegated_len = {len} }}]\n"
        ));
    }
    s
}

/// One `[[failover]]` relationship over subnet `subnet` (MCLT 30 s, start-up wait and connect
/// retry 1 s), then `extra` lines (timers, `plaintext = true`) and `security` (a TLS table or
/// nothing).
pub(crate) fn failover_toml(
    role: &str,
    partner: &str,
    listen: Option<&str>,
    subnet: &str,
    extra: &str,
    security: &str,
) -> String {
    let listen = listen.map_or_else(String::new, |l| format!("listen = \"{l}\"\n"));
    format!(
        "[[failover]]\nname = \"pair\"\nrole = \"{role}\"\npartner = \"{partner}\"\n{listen}subnets = [\"{subnet}\"]\nmclt_secs = 30\nstartup_wait_secs = 1\nconnect_retry_secs = 1\n{extra}\n{security}"
    )
}

/// Figures of one perfdhcp run, per exchange (SOLICIT-ADVERTISE first, REQUEST-REPLY second).
pub(crate) struct Perf {
    pub(crate) text: String,
    pub(crate) success: bool,
    pub(crate) sent: Vec<u64>,
    pub(crate) received: Vec<u64>,
    pub(crate) drops: Vec<u64>,
    pub(crate) rate: f64,
    pub(crate) avg_delay_ms: f64,
}

/// `perfdhcp -6 -l IFN ARGS` in namespace `ns`, bounded to 60 s; exit code 3 (drops) is not an
/// error here, the caller checks the figures.
pub(crate) fn perfdhcp(ns: &str, ifn: &str, args: &[&str]) -> Perf {
    let mut a = vec!["perfdhcp", "-6", "-l", ifn];
    a.extend_from_slice(args);
    let out = exec(ns, &a);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let nums = |key: &str| -> Vec<u64> {
        text.lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix(key)
                    .and_then(|v| v.trim().parse().ok())
            })
            .collect()
    };
    let last = |key: &str| {
        text.lines()
            .filter_map(|l| l.to_lowercase().split_once(key).map(|(_, v)| v.to_string()))
            .filter_map(|v| v.split_whitespace().next().and_then(|x| x.parse().ok()))
            .next_back()
            .unwrap_or(0.0)
    };
    Perf {
        success: out.status.success() || out.status.code() == Some(3),
        sent: nums("sent packets:"),
        received: nums("received packets:"),
        drops: nums("drops:"),
        rate: last("rate:"),
        avg_delay_ms: last("avg delay:"),
        text,
    }
}

/// Resources bound to more than one client across the given lease tables.
pub(crate) fn bound_twice(
    tables: impl IntoIterator<Item = BTreeSet<(String, String)>>,
) -> (usize, Vec<(String, BTreeSet<String>)>) {
    let mut by_resource: std::collections::BTreeMap<String, BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for (r, c) in tables.into_iter().flatten() {
        by_resource.entry(r).or_default().insert(c);
    }
    let total = by_resource.len();
    (
        total,
        by_resource
            .into_iter()
            .filter(|(_, c)| c.len() > 1)
            .collect(),
    )
}

/// Scenario 5, the wrong key: the secondary refuses the handshake and logs it, and neither
/// side reaches NORMAL.
pub(crate) fn assert_wrong_key_refused(p: &Server, s: &Server) {
    let refused = wait_for(Duration::from_secs(10), || {
        s.log_text().contains("partner TLS handshake refused")
    });
    assert!(
        refused,
        "no refusal logged by the secondary:\n{}",
        s.log_text()
    );
    assert_neither_normal(p, s, "a wrong key");
}

/// Scenario 5, the pool mismatch: refused with ConfigurationConflict and a log line that says
/// what differs; neither side reaches NORMAL.
pub(crate) fn assert_pool_mismatch_refused(p: &Server, s: &Server) {
    let logged = wait_for(Duration::from_secs(10), || {
        let all = p.log_text() + &s.log_text();
        all.contains("pool configuration differs: address ranges")
            && all.contains("ConfigurationConflict")
    });
    assert!(
        logged,
        "no mismatch logged:\n{}\n{}",
        p.log_text(),
        s.log_text()
    );
    assert_neither_normal(p, s, "mismatched pools");
}

/// Two seconds after a refusal neither side is in NORMAL.
fn assert_neither_normal(p: &Server, s: &Server, why: &str) {
    sleep(Duration::from_secs(2));
    for (side, srv) in [("primary", p), ("secondary", s)] {
        assert_ne!(
            srv.state(),
            "Normal",
            "the {side} reached NORMAL with {why}"
        );
    }
}
