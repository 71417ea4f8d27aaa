//! Two server processes on loopback as failover partners (no root needed): the pair reaches
//! NORMAL with pinned TLS keys; a partner with the wrong key is refused and logged; a partner
//! with a different pool configuration is refused with a log line that says what differs; a
//! TLS side and a plaintext side refuse each other (TLSConnectionRefused). Plus the demo.
// Tests own the clock like the server does.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dhcpv6-failover-server");

fn free_port() -> u16 {
    let s = std::net::TcpListener::bind("[::1]:0").expect("bind");
    s.local_addr().expect("addr").port()
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("dhcpv6-pair-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    Dir(d)
}

struct Server {
    child: Child,
    log: PathBuf,
    socket: PathBuf,
}
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gen_cert(dir: &Path, name: &str) -> String {
    let out = Command::new(BIN)
        .args(["gen-cert", "--dir"])
        .arg(dir)
        .args(["--name", name])
        .output()
        .expect("gen-cert runs");
    assert!(out.status.success(), "gen-cert failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("sha256:"))
        .expect("gen-cert prints the fingerprint")
        .to_string()
}

fn config(
    dir: &Path,
    name: &str,
    role: &str,
    partner: &str,
    listen: &str,
    range: &str,
    security: &str,
) -> PathBuf {
    let port = free_port();
    let mport = free_port();
    std::fs::write(dir.join(format!("{name}.metrics")), mport.to_string()).expect("metrics port");
    let text = format!(
        r#"[server]
bind = "::1"
port = {port}
metrics = "[::1]:{mport}"
[store]
path = "{d}/{name}.redb"
durable = false
[control]
socket = "{d}/{name}.sock"
[[subnet]]
name = "relayed"
link = "2001:db8:10::/64"
addresses = ["{range}"]
[[failover]]
name = "pair"
role = "{role}"
partner = "{partner}"
{listen}
subnets = ["relayed"]
mclt_secs = 30
startup_wait_secs = 1
connect_retry_secs = 1
{security}
"#,
        d = dir.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

fn tls(dir: &Path, own: &str, pin: &str) -> String {
    format!(
        "[failover.tls]\ncert = \"{d}/{own}.crt\"\nkey = \"{d}/{own}.key\"\npartner_fingerprints = [\"{pin}\"]",
        d = dir.display()
    )
}

fn start(dir: &Path, name: &str, cfg: &Path) -> Server {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("server starts");
    Server {
        child,
        log,
        socket: dir.join(format!("{name}.sock")),
    }
}

fn state(s: &Server) -> Option<String> {
    let out = Command::new(BIN)
        .args(["ctl", "--json", "--socket"])
        .arg(&s.socket)
        .arg("status")
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["relationships"][0]["state"].as_str().map(str::to_string)
}

fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn log_of(s: &Server) -> String {
    std::fs::read_to_string(&s.log).unwrap_or_default()
}

const RANGE: &str = "2001:db8:10::1000-2001:db8:10::1fff";

#[test]
fn pinned_pair_reaches_normal_and_a_wrong_key_is_refused() {
    let d = tempdir("keys");
    let dir = &d.0;
    let pfp = gen_cert(dir, "primary");
    let sfp = gen_cert(dir, "secondary");
    let mfp = gen_cert(dir, "mallory");
    let link = free_port();
    let target = format!("[::1]:{link}");
    let listen = format!("listen = \"[::1]:{link}\"");

    // Right keys: both reach NORMAL.
    let scfg = config(
        dir,
        "secondary",
        "secondary",
        "::1",
        &listen,
        RANGE,
        &tls(dir, "secondary", &pfp),
    );
    let pcfg = config(
        dir,
        "primary",
        "primary",
        &target,
        "",
        RANGE,
        &tls(dir, "primary", &sfp),
    );
    {
        let s = start(dir, "secondary", &scfg);
        let p = start(dir, "primary", &pcfg);
        let normal = wait_for(Duration::from_secs(20), || {
            state(&p).as_deref() == Some("Normal") && state(&s).as_deref() == Some("Normal")
        });
        assert!(
            normal,
            "pair did not reach NORMAL:\n{}\n{}",
            log_of(&p),
            log_of(&s)
        );
        // Per-relationship metrics on the Prometheus endpoint (refreshed every second).
        let mport = std::fs::read_to_string(dir.join("primary.metrics")).expect("port");
        let page = || {
            use std::io::{Read, Write};
            let mut c = std::net::TcpStream::connect(format!("[::1]:{mport}")).ok()?;
            c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
            let mut t = String::new();
            c.read_to_string(&mut t).ok()?;
            Some(t)
        };
        let shown = wait_for(Duration::from_secs(5), || {
            page().is_some_and(|t| {
                t.contains("dhcpv6_failover_state{relationship=\"pair\",state=\"Normal\"} 1")
                    && t.contains("dhcpv6_failover_communications_ok{relationship=\"pair\"} 1")
            })
        });
        assert!(
            shown,
            "failover metrics missing:\n{}",
            page().unwrap_or_default()
        );
    }

    // The primary presents mallory's key: the secondary refuses it and says so.
    let _ = std::fs::remove_file(dir.join("primary.redb"));
    let _ = std::fs::remove_file(dir.join("secondary.redb"));
    let pcfg = config(
        dir,
        "primary",
        "primary",
        &target,
        "",
        RANGE,
        &tls(dir, "mallory", &sfp),
    );
    let _ = mfp;
    let s = start(dir, "secondary", &scfg);
    let p = start(dir, "primary", &pcfg);
    let refused = wait_for(Duration::from_secs(10), || {
        log_of(&s).contains("partner TLS handshake refused")
    });
    assert!(
        refused,
        "no refusal logged by the secondary:\n{}",
        log_of(&s)
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_ne!(
        state(&s).as_deref(),
        Some("Normal"),
        "the secondary reached NORMAL with a wrong key"
    );
    assert_ne!(
        state(&p).as_deref(),
        Some("Normal"),
        "the primary reached NORMAL with a wrong key"
    );
}

#[test]
fn mismatched_pools_and_plaintext_against_tls_are_refused() {
    let d = tempdir("mismatch");
    let dir = &d.0;
    let link = free_port();
    let target = format!("[::1]:{link}");
    let listen = format!("listen = \"[::1]:{link}\"");

    // Different pools: refused with ConfigurationConflict and a line naming what differs.
    let scfg = config(
        dir,
        "secondary",
        "secondary",
        "::1",
        &listen,
        "2001:db8:10::1000-2001:db8:10::17ff",
        "plaintext = true",
    );
    let pcfg = config(
        dir,
        "primary",
        "primary",
        &target,
        "",
        RANGE,
        "plaintext = true",
    );
    {
        let s = start(dir, "secondary", &scfg);
        let p = start(dir, "primary", &pcfg);
        let logged = wait_for(Duration::from_secs(10), || {
            let all = log_of(&p) + &log_of(&s);
            all.contains("pool configuration differs: address ranges")
        });
        assert!(
            logged,
            "no mismatch logged:\n{}\n{}",
            log_of(&p),
            log_of(&s)
        );
        assert_ne!(state(&p).as_deref(), Some("Normal"));
    }

    // TLS primary, plaintext secondary: TLSConnectionRefused, logged on both sides.
    let _ = std::fs::remove_file(dir.join("primary.redb"));
    let _ = std::fs::remove_file(dir.join("secondary.redb"));
    let _pfp = gen_cert(dir, "primary");
    let sfp = gen_cert(dir, "secondary");
    let scfg = config(
        dir,
        "secondary",
        "secondary",
        "::1",
        &listen,
        RANGE,
        "plaintext = true",
    );
    let pcfg = config(
        dir,
        "primary",
        "primary",
        &target,
        "",
        RANGE,
        &tls(dir, "primary", &sfp),
    );
    let s = start(dir, "secondary", &scfg);
    let p = start(dir, "primary", &pcfg);
    let logged = wait_for(Duration::from_secs(10), || {
        log_of(&p).contains("TLSConnectionRefused") && log_of(&s).contains("TLSConnectionRefused")
    });
    assert!(
        logged,
        "no STARTTLS refusal logged:\n{}\n{}",
        log_of(&p),
        log_of(&s)
    );
}

#[test]
fn config_check_rejects_a_pool_in_two_relationships_and_missing_security() {
    let d = tempdir("check");
    let dir = &d.0;
    let base = format!(
        "[server]\nbind = \"::1\"\nport = 10547\n[store]\npath = \"{}/x.redb\"\n[[subnet]]\nname = \"a\"\nlink = \"2001:db8:10::/64\"\naddresses = [\"{RANGE}\"]\n",
        dir.display()
    );
    let rel = |n: &str, extra: &str| {
        format!(
            "[[failover]]\nname = \"{n}\"\nrole = \"primary\"\npartner = \"[::1]:10647\"\nsubnets = [\"a\"]\n{extra}\n"
        )
    };
    let cases = [
        (
            format!(
                "{base}{}{}",
                rel("one", "plaintext = true"),
                rel("two", "plaintext = true")
            ),
            "already in failover relationship `one`",
        ),
        (
            format!("{base}{}", rel("one", "")),
            "plaintext = true to run without TLS",
        ),
    ];
    for (text, want) in cases {
        let path = dir.join("c.toml");
        std::fs::write(&path, text).expect("write");
        let out = Command::new(BIN)
            .arg("check-config")
            .arg(&path)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted: {want}");
        assert!(err.contains(want), "expected `{want}` in: {err}");
        assert!(
            err.contains("failover[") && err.contains("line "),
            "error names no key/line: {err}"
        );
    }
}

#[test]
fn demo_passes_with_its_verdict() {
    let out = Command::new(BIN)
        .args(["demo", "--clients", "20"])
        .output()
        .expect("demo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict = text
        .lines()
        .find(|l| l.starts_with("verdict:"))
        .expect("a verdict line");
    assert!(
        verdict.contains("clients 20, leases 40, duplicates 0, kept their leases 20/20")
            && verdict.ends_with("PASS"),
        "{verdict}"
    );
}
