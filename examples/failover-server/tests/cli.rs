//! The command line without root: `check-config` on the shipped examples and on a broken file.

use std::process::Command;

const SERVER: &str = env!("CARGO_BIN_EXE_dhcpv6-failover-server");

#[test]
fn check_config_accepts_the_shipped_examples() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    for name in ["standalone.toml", "loopback.toml"] {
        let out = Command::new(SERVER)
            .args(["check-config", &format!("{dir}/{name}")])
            .output()
            .expect("run server");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    }
}

#[test]
fn check_config_names_key_and_line() {
    let path = std::env::temp_dir().join(format!("dhcpv6-bad-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "[server]\nport = 547\n\n[store]\npath = \"/tmp/x.redb\"\n\n[[subnet]]\nname = \"a\"\nlink = \"2001:db8::/64\"\naddresses = [\"2001:db8::9-2001:db8::1\"]\n",
    )
    .expect("write");
    let out = Command::new(SERVER)
        .args(["check-config"])
        .arg(&path)
        .output()
        .expect("run server");
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 10: key `subnet[0].addresses[0]`"),
        "{err}"
    );
}
