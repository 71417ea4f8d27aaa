//! Two server processes on loopback as failover partners (no root needed): the pair reaches
//! NORMAL with pinned TLS keys and shows it in its metrics; a partner with the wrong key is
//! refused and logged; a partner with a different pool configuration is refused with a log line
//! that says what differs; a TLS side and a plaintext side refuse each other
//! (TLSConnectionRefused). Plus the demo. `e2e_pair.rs` runs the two refusals of scenario 5 again
//! over a partner veth between namespaces (root only) with the same checks
//! (`common::assert_wrong_key_refused`, `common::assert_pool_mismatch_refused`); these loopback
//! runs keep them covered without root and add the metrics and the STARTTLS refusal.
// Tests own the clock like the server does.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{
    Server, TempDir, assert_pool_mismatch_refused, assert_wrong_key_refused, failover_toml,
    gen_cert, subnet_toml, tls_toml, wait_for,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BIN: &str = common::SERVER;

fn free_port() -> u16 {
    let s = std::net::TcpListener::bind("[::1]:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// A relayed-only server on loopback (free ports), one relationship over `range`.
fn config(
    dir: &Path,
    name: &str,
    role: &str,
    partner: &str,
    listen: Option<&str>,
    range: &str,
    security: &str,
) -> PathBuf {
    let port = free_port();
    let mport = free_port();
    std::fs::write(dir.join(format!("{name}.metrics")), mport.to_string()).expect("metrics port");
    let (extra, security) = if security == "plaintext" {
        ("plaintext = true", "")
    } else {
        ("", security)
    };
    let text = format!(
        "[server]\nbind = \"::1\"\nport = {port}\nmetrics = \"[::1]:{mport}\"\n[store]\npath = \"{d}/{name}.redb\"\ndurable = false\n[control]\nsocket = \"{d}/{name}.sock\"\n{}{}",
        subnet_toml("relayed", None, "2001:db8:10::/64", range, None),
        failover_toml(role, partner, listen, "relayed", extra, security),
        d = dir.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

fn start(dir: &Path, name: &str, cfg: &Path) -> Server {
    let log = dir.join(format!("{name}.log"));
    let _ = std::fs::remove_file(&log);
    Server::spawn(None, cfg, &log, &dir.join(format!("{name}.sock")))
}

fn normal(s: &Server) -> bool {
    s.state() == "Normal"
}

/// The configurations of a pair on loopback whose secondary listens on partner port `link`.
struct Loopback<'a> {
    dir: &'a Path,
    link: u16,
}

impl Loopback<'_> {
    fn secondary(&self, range: &str, security: &str) -> PathBuf {
        let listen = format!("[::1]:{}", self.link);
        let (d, role) = (self.dir, "secondary");
        config(d, role, role, "::1", Some(&listen), range, security)
    }

    fn primary(&self, security: &str) -> PathBuf {
        let target = format!("[::1]:{}", self.link);
        config(
            self.dir, "primary", "primary", &target, None, RANGE, security,
        )
    }
}

const RANGE: &str = "2001:db8:10::1000-2001:db8:10::1fff";

#[test]
fn pinned_pair_reaches_normal_and_a_wrong_key_is_refused() {
    let d = TempDir::new("dhcpv6-pair-keys");
    let dir = &d.0;
    let pfp = gen_cert(dir, "primary");
    let sfp = gen_cert(dir, "secondary");
    gen_cert(dir, "mallory");
    let lb = Loopback {
        dir,
        link: free_port(),
    };
    let secondary = |range| lb.secondary(range, &tls_toml(dir, "secondary", &pfp));
    let primary = |own| lb.primary(&tls_toml(dir, own, &sfp));

    // Right keys: both reach NORMAL.
    let scfg = secondary(RANGE);
    let pcfg = primary("primary");
    {
        let s = start(dir, "secondary", &scfg);
        let p = start(dir, "primary", &pcfg);
        let both = wait_for(Duration::from_secs(20), || normal(&p) && normal(&s));
        assert!(
            both,
            "pair did not reach NORMAL:\n{}\n{}",
            p.log_text(),
            s.log_text()
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
    let pcfg = primary("mallory");
    let s = start(dir, "secondary", &scfg);
    let p = start(dir, "primary", &pcfg);
    assert_wrong_key_refused(&p, &s);
}

#[test]
fn mismatched_pools_and_plaintext_against_tls_are_refused() {
    let d = TempDir::new("dhcpv6-pair-mismatch");
    let dir = &d.0;
    let lb = Loopback {
        dir,
        link: free_port(),
    };
    let secondary = |range| lb.secondary(range, "plaintext");
    let primary = |security: &str| lb.primary(security);

    // Different pools: refused with ConfigurationConflict and a line naming what differs.
    let scfg = secondary("2001:db8:10::1000-2001:db8:10::17ff");
    let pcfg = primary("plaintext");
    {
        let s = start(dir, "secondary", &scfg);
        let p = start(dir, "primary", &pcfg);
        assert_pool_mismatch_refused(&p, &s);
    }

    // TLS primary, plaintext secondary: TLSConnectionRefused, logged on both sides.
    let _ = std::fs::remove_file(dir.join("primary.redb"));
    let _ = std::fs::remove_file(dir.join("secondary.redb"));
    gen_cert(dir, "primary");
    let sfp = gen_cert(dir, "secondary");
    let scfg = secondary(RANGE);
    let pcfg = primary(&tls_toml(dir, "primary", &sfp));
    let s = start(dir, "secondary", &scfg);
    let p = start(dir, "primary", &pcfg);
    let logged = wait_for(Duration::from_secs(10), || {
        p.log_text().contains("TLSConnectionRefused")
            && s.log_text().contains("TLSConnectionRefused")
    });
    assert!(
        logged,
        "no STARTTLS refusal logged:\n{}\n{}",
        p.log_text(),
        s.log_text()
    );
}

#[test]
fn config_check_rejects_a_pool_in_two_relationships_and_missing_security() {
    let d = TempDir::new("dhcpv6-pair-check");
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
