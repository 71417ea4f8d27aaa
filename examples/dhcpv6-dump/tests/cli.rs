//! End-to-end tests of the `dhcpv6-dump` binary: the committed real captures, synthetic
//! failover traffic over TCP 647 (built here with `dhcpv6-wire`), and damaged input.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dhcpv6_wire::{
    DhcpOption, Duid, FailoverMessage, MessageType, Options, ProtocolVersion, ServerState,
    encode_frame,
};
use serde_json::Value;

fn dump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dhcpv6-dump"))
        .args(args)
        .output()
        .expect("run dhcpv6-dump")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn captures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/wire/tests/data");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dhcpv6-dump-{}-{name}", std::process::id()))
}

#[test]
fn real_captures_round_trip() {
    let files = captures();
    assert!(files.len() >= 9);
    let mut args = vec!["--check", "--quiet"];
    args.extend(files.iter().map(String::as_str));
    let o = dump(&args);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let last = out.lines().last().unwrap();
    let n: u64 = last.split(' ').next().unwrap().parse().unwrap();
    assert!(n >= 80, "{last}");
    assert_eq!(last, format!("{n} messages, {n} round-tripped, 0 failed"));
}

#[test]
fn tree_output_names_messages_and_options() {
    let f = captures()
        .into_iter()
        .find(|f| f.ends_with("kea-perfdhcp-relay.pcap"))
        .unwrap();
    let o = dump(&[&f]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.starts_with("frame 1 "), "{out}");
    assert!(out.contains("UDP [fe80::ff:fe00:2]:547 -> [ff02::1:2]:547"));
    assert!(out.contains("  RELAY-FORW (12) hop-count 0 link-address "));
    assert!(out.contains("    OPTION_RELAY_MSG (9) ["));
    assert!(out.contains("      SOLICIT (1) transaction-id 0x"));
    assert!(out.contains("        OPTION_IA_NA (3) [40]: iaid 0x00000001 T1 2 T2 3\n          OPTION_IAADDR (5) [24]: 2001:db8:1::"));
}

#[test]
fn json_lines_are_json() {
    let f = captures()
        .into_iter()
        .find(|f| f.ends_with("kea-dhclient-na-pd.pcap"))
        .unwrap();
    let o = dump(&["--json", &f]);
    assert!(o.status.success());
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 8);
    assert_eq!(lines[0]["frame"], 1);
    assert_eq!(lines[0]["transport"], "UDP");
    assert_eq!(lines[0]["dst_port"], 547);
    assert_eq!(lines[0]["message"]["type"], "SOLICIT");
    let codes: Vec<u64> = lines[1]["message"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_u64().unwrap())
        .collect();
    assert!(
        codes.contains(&3) && codes.contains(&25),
        "IA_NA and IA_PD in the Advertise: {codes:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Synthetic capture writer.

const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const SERVER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

fn tcp_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&0u32.to_be_bytes());
    tcp.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(data);
    ipv6(src, dst, 6, &tcp)
}

fn udp_packet(src: Ipv6Addr, dst: Ipv6Addr, data: &[u8], udp_len: Option<u16>) -> Vec<u8> {
    let len = u16::try_from(data.len() + 8).unwrap();
    let mut udp = Vec::new();
    udp.extend_from_slice(&546u16.to_be_bytes());
    udp.extend_from_slice(&547u16.to_be_bytes());
    udp.extend_from_slice(&udp_len.unwrap_or(len).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(data);
    ipv6(src, dst, 17, &udp)
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// Linux cooked v2 header in front of an IPv6 packet.
fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut p = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    p.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    p.extend_from_slice(ip);
    p
}

/// A big-endian pcap file (as written on a big-endian host) with nanosecond timestamps.
fn pcap_be_ns(linktype: u32, packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_3c4du32.to_be_bytes());
    f.extend_from_slice(&2u16.to_be_bytes());
    f.extend_from_slice(&4u16.to_be_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&262_144u32.to_be_bytes());
    f.extend_from_slice(&linktype.to_be_bytes());
    for (i, p) in packets.iter().enumerate() {
        let len = u32::try_from(p.len()).unwrap();
        f.extend_from_slice(&(1_800_000_000 + u32::try_from(i).unwrap()).to_be_bytes());
        f.extend_from_slice(&5u32.to_be_bytes());
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(p);
    }
    f
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let total = u32::try_from(body.len() + 12).unwrap();
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// A little-endian pcapng file: section header, one interface, enhanced packet blocks.
fn pcapng(linktype: u16, packets: &[Vec<u8>]) -> Vec<u8> {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    let mut f = block(0x0a0d_0d0a, &shb);
    let mut idb = linktype.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&0u32.to_le_bytes());
    f.extend(block(1, &idb));
    for p in packets {
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&[0; 8]);
        let len = u32::try_from(p.len()).unwrap();
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(p);
        f.extend(block(6, &epb));
    }
    f
}

fn failover_messages() -> Vec<FailoverMessage> {
    let duid = Duid::llt(1, 7, &[2, 0, 0, 0, 0, 1]).unwrap();
    let mut connect = FailoverMessage::new(MessageType::CONNECT, 1, 100);
    connect.options = Options::new()
        .with(DhcpOption::ServerId(duid.clone()))
        .with(DhcpOption::ProtocolVersion(ProtocolVersion {
            major: 1,
            minor: 0,
        }))
        .with(DhcpOption::Mclt(3600))
        .with(DhcpOption::RelationshipName("pair-1".into()));
    let mut reply = FailoverMessage::new(MessageType::CONNECTREPLY, 1, 101);
    reply.options = Options::new()
        .with(DhcpOption::ServerId(duid))
        .with(DhcpOption::Mclt(3600));
    let mut state = FailoverMessage::new(MessageType::STATE, 2, 102);
    state.options = Options::new()
        .with(DhcpOption::ServerState(ServerState::NORMAL))
        .with(DhcpOption::ServerFlags(0));
    let contact = FailoverMessage::new(MessageType::CONTACT, 3, 103);
    let mut big = FailoverMessage::new(MessageType::UPDDONE, 4, 104);
    big.options
        .push(DhcpOption::RelationshipName("x".repeat(3000)));
    vec![connect, reply, state, contact, big]
}

fn framed(msgs: &[FailoverMessage]) -> Vec<u8> {
    let mut v = Vec::new();
    for m in msgs {
        encode_frame(m, &mut v).unwrap();
    }
    v
}

/// Client → server: SYN, then frames split so that several share a segment and one spans
/// three, delivered out of order with a retransmission. Server → client: one segment.
fn failover_packets() -> Vec<Vec<u8>> {
    let m = failover_messages();
    let c2s = framed(&[m[0].clone(), m[2].clone(), m[3].clone(), m[4].clone()]);
    let s2c = framed(&[m[1].clone()]);
    let isn = 0xffff_fff0u32; // the stream wraps the sequence space
    let seg = |from: usize, to: usize| {
        tcp_packet(
            CLIENT,
            SERVER,
            40_000,
            647,
            isn.wrapping_add(1)
                .wrapping_add(u32::try_from(from).unwrap()),
            0x18,
            &c2s[from..to],
        )
    };
    let first_two = usize::from(u16::from_be_bytes([c2s[0], c2s[1]])) + 2;
    let cut = first_two + 7; // CONNECT, then 7 bytes of STATE
    let n = c2s.len();
    vec![
        tcp_packet(CLIENT, SERVER, 40_000, 647, isn, 0x02, &[]),
        tcp_packet(SERVER, CLIENT, 647, 40_000, 5000, 0x12, &[]),
        seg(0, cut),
        seg(cut, n - 2000),
        seg(n - 1000, n), // out of order
        seg(n - 2000, n - 1000),
        seg(cut, n - 2000), // retransmission
        tcp_packet(SERVER, CLIENT, 647, 40_000, 5001, 0x18, &s2c),
    ]
}

fn check_failover_json(out: &str) {
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = lines
        .iter()
        .map(|l| l["message"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["CONNECT", "STATE", "CONTACT", "UPDDONE", "CONNECTREPLY"]
    );
    assert!(
        lines
            .iter()
            .all(|l| l["round_trip"] == true && l["transport"] == "TCP")
    );
    assert_eq!(lines[0]["frame"], 3);
    assert_eq!(lines[0]["stream_offset"], 2);
    // STATE starts in packet 3 and ends in packet 4; UPDDONE spans packets 4-6.
    assert_eq!(lines[1]["frame"], 3);
    assert_eq!(lines[3]["frame"], 4);
    assert_eq!(lines[0]["message"]["sent_time"], 100);
    let opts = &lines[0]["message"]["options"];
    assert_eq!(opts[1]["name"], "OPTION_F_PROTOCOL_VERSION");
    assert_eq!(opts[1]["value"], "1.0");
    assert_eq!(opts[3]["value"], "\"pair-1\"");
    assert_eq!(lines[4]["src_port"], 647);
}

#[test]
fn failover_over_tcp_pcap_sll2() {
    let path = temp("failover-sll2.pcap");
    let pkts: Vec<Vec<u8>> = failover_packets().iter().map(|p| sll2(p)).collect();
    std::fs::write(&path, pcap_be_ns(276, &pkts)).unwrap();
    let o = dump(&["--check", "--json", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    check_failover_json(&stdout(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        "5 messages, 5 round-tripped, 0 failed"
    );
}

#[test]
fn failover_over_tcp_pcapng_raw_ipv6() {
    let path = temp("failover-raw.pcapng");
    std::fs::write(&path, pcapng(229, &failover_packets())).unwrap();
    let o = dump(&["--check", "--json", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    check_failover_json(&stdout(&o));
    // And the tree form of the same file names the failover messages.
    let path = temp("failover-raw2.pcapng");
    std::fs::write(&path, pcapng(229, &failover_packets())).unwrap();
    let o = dump(&[path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let out = stdout(&o);
    assert!(out.contains("TCP [2001:db8::1]:40000 -> [2001:db8::2]:647\n  CONNECT (31) transaction-id 0x000001 sent-time 100"), "{out}");
    assert!(out.contains("    OPTION_F_MCLT (122) [4]: 3600\n"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Damaged input.

#[test]
fn malformed_packets_give_one_line_each_and_fail_the_check() {
    let m = failover_messages();
    let good = framed(&m[..1]);
    let solicit = [1u8, 0, 0, 1, 0, 8, 0, 2, 0, 0];
    let pkts = vec![
        udp_packet(CLIENT, SERVER, &solicit, None),
        // An option length running past the end of the message.
        udp_packet(CLIENT, SERVER, &[1, 0, 0, 2, 0, 8, 0, 9, 0, 0], None),
        // A UDP length longer than the IPv6 payload.
        udp_packet(CLIENT, SERVER, &solicit, Some(200)),
        // An IPv6 header cut short.
        ipv6(CLIENT, SERVER, 17, &[])[..30].to_vec(),
        // A TCP stream whose first frame declares 3 bytes (shorter than the 8-byte header).
        tcp_packet(SERVER, CLIENT, 647, 40_001, 1, 0x18, &[0, 3, 1, 2, 3]),
        // A stream that ends inside a frame.
        tcp_packet(
            CLIENT,
            SERVER,
            40_002,
            647,
            1,
            0x18,
            &good[..good.len() - 1],
        ),
    ];
    let path = temp("malformed.pcapng");
    std::fs::write(&path, pcapng(229, &pkts)).unwrap();
    let o = dump(&["--check", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let problems: Vec<&str> = out.lines().filter(|l| l.contains(": frame ")).collect();
    assert_eq!(problems.len(), 5, "{out}");
    assert!(
        problems[0].contains("frame 2, byte 52 (UDP"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("OPTION_ELAPSED_TIME at byte 4"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains("frame 3, byte 44: malformed packet: UDP length 200"),
        "{}",
        problems[1]
    );
    assert!(
        problems[2].contains("frame 4, byte 30: malformed packet: IPv6 header truncated"),
        "{}",
        problems[2]
    );
    assert!(problems[3].contains("frame 5 (TCP [2001:db8::2]:647 -> [2001:db8::1]:40001): stream offset 0: bad frame length prefix"), "{}", problems[3]);
    assert!(
        problems[4].contains("stream offset 0: capture ends inside a frame"),
        "{}",
        problems[4]
    );
    assert!(
        out.ends_with("6 messages, 1 round-tripped, 5 failed\n"),
        "{out}"
    );
}

#[test]
fn damaged_files_never_panic() {
    let f = captures()
        .into_iter()
        .find(|f| f.ends_with("kea-dhcpcd.pcap"))
        .unwrap();
    let data = std::fs::read(f).unwrap();
    let ng = pcapng(229, &failover_packets());
    let mut runs = 0;
    for (name, bytes) in [("cut.pcap", &data), ("cut.pcapng", &ng)] {
        let path = temp(name);
        // Every truncation point near the start, then a stride through the rest.
        let cuts = (0..64).chain((64..bytes.len()).step_by(97));
        for cut in cuts {
            let mut b = bytes[..cut].to_vec();
            // Flip a byte too, somewhere in the kept part.
            if cut > 40 {
                b[cut / 2] ^= 0x5a;
            }
            std::fs::write(&path, &b).unwrap();
            let o = dump(&["--check", "--quiet", path.to_str().unwrap()]);
            runs += 1;
            let code = o.status.code();
            assert!(
                matches!(code, Some(0 | 1)),
                "cut at {cut} of {name}: exit {code:?}\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            if cut < bytes.len() && cut >= 24 {
                let out = stdout(&o);
                assert!(
                    out.lines().last().is_some_and(|l| l.ends_with(" failed")),
                    "{out}"
                );
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    assert!(runs > 100);
}

#[test]
fn usage_errors() {
    let o = dump(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("usage: dhcpv6-dump"));
    let o = dump(&["/nonexistent/x.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    let path = temp("not-a-capture");
    std::fs::write(&path, b"hello world, this is not a capture file").unwrap();
    let o = dump(&["--check", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("cannot read capture: not a pcap or pcapng file"));
}
