//! An independent decoder agrees with our encoder: messages built with the owned types and
//! emitted by `dhcpv6-wire` (every option kind, nested relays, leasequery, and the RFC 8156
//! failover options 114–134) are written to a pcap and decoded by tshark (Wireshark), and the
//! field values tshark reports are compared with the values the messages were built from.
//!
//! tshark 4.0 stops at the header of message types 24–35 (it prints "Message type 31" and no
//! options), so each failover message is checked in two parts: its 8-byte header against the
//! RFC 8156 §5.2 layout here, and its options — byte for byte the same emitted option list —
//! inside a client/server message that tshark does decode.
//!
//! Skipped, with the reason printed, only when tshark is not installed (the test command
//! installs it when run as root).

use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::Command;

use dhcpv6_wire::{
    Auth, BindingStatus, ClientFqdn, ClientMessage, DhcpOption as O, DomainName, Duid, Emit,
    FailoverMessage, IaAddr, IaNa, IaPd, IaPrefix, IaTa, LqQuery, Message, MessageType, OptionCode,
    Options, ProtocolVersion, ReconfigureData, RelayMessage, ServerState, Status, StatusCode,
    VendorClass, VendorOption, VendorOpts, Vss,
};

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn name(s: &str) -> DomainName {
    DomainName::from_dotted(s, true).unwrap()
}

/// One message to decode, and what tshark must report for it.
struct Case {
    what: &'static str,
    message: Message,
    /// `(tshark field, expected occurrences in document order)`.
    fields: Vec<(&'static str, Vec<String>)>,
}

fn strs<T: ToString>(v: &[T]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

/// Message types, transaction ids, option codes and option lengths in document order, as
/// tshark walks them: into relay messages and into the options encapsulated in IA_NA, IA_TA,
/// IA_PD, IAADDR, IAPREFIX, LQ_QUERY and CLIENT_DATA. (tshark 4.0 shows F_DNS_REMOVAL_INFO as
/// an opaque option; its sub-options get their own case.)
#[derive(Default)]
struct Walk {
    types: Vec<String>,
    xids: Vec<String>,
    codes: Vec<String>,
    lens: Vec<String>,
}

impl Walk {
    fn message(&mut self, m: &Message) {
        self.types.push(m.msg_type().0.to_string());
        if let Some(x) = m.transaction_id() {
            self.xids.push(format!("0x{x:06x}"));
        }
        if let Some(o) = m.options() {
            self.options(o);
        }
    }

    fn options(&mut self, opts: &Options) {
        for o in opts.iter() {
            self.codes.push(o.code().0.to_string());
            self.lens.push((o.emitted_len() - 4).to_string());
            match o {
                O::RelayMsg(m) => self.message(m),
                O::IaNa(ia) => self.options(&ia.options),
                O::IaTa(ia) => self.options(&ia.options),
                O::IaPd(ia) => self.options(&ia.options),
                O::IaAddr(a) => self.options(&a.options),
                O::IaPrefix(p) => self.options(&p.options),
                O::LqQuery(q) => self.options(&q.options),
                O::ClientData(c) => self.options(c),
                _ => {}
            }
        }
    }
}

fn llt() -> Duid {
    Duid::llt(1, 0x2a3b_4c5d, &[0x02, 0, 0, 0, 0, 0x02]).unwrap()
}

fn iaaddr(a: &str, pref: u32, valid: u32, options: Options) -> O {
    O::IaAddr(IaAddr {
        address: ip(a),
        preferred_lifetime: pref,
        valid_lifetime: valid,
        options,
    })
}

/// Client/server options, all in one REPLY.
fn client_options_case() -> Case {
    let mut m = ClientMessage::new(MessageType::REPLY, 0x12_3456);
    let o = &mut m.options;
    o.push(O::ClientId(llt()));
    o.push(O::ServerId(Duid::en(9, &[0xde, 0xad, 0xbe, 0xef]).unwrap()));
    o.push(O::IaNa(IaNa {
        iaid: 1,
        t1: 100,
        t2: 200,
        options: Options::new()
            .with(iaaddr(
                "2001:db8::10",
                300,
                400,
                Options::new().with(O::StatusCode(StatusCode::new(Status::SUCCESS, "ok"))),
            ))
            .with(O::StatusCode(StatusCode::new(Status::SUCCESS, "all good"))),
    }));
    o.push(O::IaTa(IaTa {
        iaid: 2,
        options: Options::new().with(iaaddr("2001:db8::20", 500, 600, Options::new())),
    }));
    let prefix = IaPrefix::new(700, 800, 56, ip("2001:db8:100::"), Options::new()).unwrap();
    o.push(O::IaPd(IaPd {
        iaid: 3,
        t1: 350,
        t2: 560,
        options: Options::new().with(O::IaPrefix(prefix)),
    }));
    o.push(O::Oro(
        [
            OptionCode::DNS_SERVERS,
            OptionCode::DOMAIN_LIST,
            OptionCode::SOL_MAX_RT,
        ]
        .into(),
    ));
    o.push(O::Preference(255));
    o.push(O::ElapsedTime(1234));
    o.push(O::Auth(Auth {
        protocol: 3,
        algorithm: 1,
        rdm: 0,
        replay_detection: 0x0102_0304_0506_0708,
        info: vec![0xaa; 8],
    }));
    o.push(O::Unicast(ip("2001:db8::547")));
    o.push(O::StatusCode(StatusCode::new(
        Status::NO_ADDRS_AVAIL,
        "none left",
    )));
    o.push(O::RapidCommit);
    o.push(O::UserClass(vec![b"class-a".to_vec(), vec![1, 2, 3]]));
    o.push(O::VendorClass(VendorClass {
        enterprise_number: 4491,
        data: vec![b"docsis".to_vec()],
    }));
    o.push(O::VendorOpts(VendorOpts {
        enterprise_number: 2495,
        options: vec![
            VendorOption {
                code: 1,
                data: vec![7, 7],
            },
            VendorOption {
                code: 2,
                data: vec![],
            },
        ],
    }));
    o.push(O::ReconfMsg(MessageType::RENEW));
    o.push(O::ReconfAccept);
    o.push(O::DnsServers(
        [ip("2001:db8::53"), ip("2001:db8::54")].into(),
    ));
    o.push(O::DomainList(
        [name("example.com"), name("lab.example.org")].into(),
    ));
    o.push(O::ClientFqdn(ClientFqdn {
        flags: 0x01,
        name: name("host.example.com"),
    }));
    o.push(O::InformationRefreshTime(86_400));
    o.push(O::SolMaxRt(3600));
    o.push(O::InfMaxRt(7200));
    o.push(O::Unknown {
        code: OptionCode(65_000),
        data: [1, 2, 3].into(),
    });
    let fields = vec![
        ("dhcpv6.duid.type", strs(&[1, 2])),
        ("dhcpv6.duidllt.hwtype", strs(&[1])),
        (
            "dhcpv6.duidllt.link_layer_addr",
            strs(&["02:00:00:00:00:02"]),
        ),
        ("dhcpv6.duiden.enterprise", strs(&[9])),
        ("dhcpv6.duiden.identifier", strs(&["deadbeef"])),
        ("dhcpv6.iaid.t1", strs(&[100, 350])),
        ("dhcpv6.iaid.t2", strs(&[200, 560])),
        ("dhcpv6.iaaddr.ip", strs(&["2001:db8::10", "2001:db8::20"])),
        ("dhcpv6.iaaddr.pref_lifetime", strs(&[300, 500])),
        ("dhcpv6.iaaddr.valid_lifetime", strs(&[400, 600])),
        ("dhcpv6.iaprefix.pref_lifetime", strs(&[700])),
        ("dhcpv6.iaprefix.valid_lifetime", strs(&[800])),
        ("dhcpv6.iaprefix.pref_len", strs(&[56])),
        ("dhcpv6.iaprefix.pref_addr", strs(&["2001:db8:100::"])),
        ("dhcpv6.requested_option_code", strs(&[23, 24, 82])),
        ("dhcpv6.option_preference", strs(&[255])),
        // tshark shows the elapsed time in milliseconds (the wire unit is 10 ms).
        ("dhcpv6.elapsed_time", strs(&[12_340])),
        ("dhcpv6.auth.protocol", strs(&[3])),
        ("dhcpv6.auth.algorithm", strs(&[1])),
        ("dhcpv6.auth.rdm", strs(&[0])),
        ("dhcpv6.auth.replay_detection", strs(&["0102030405060708"])),
        ("dhcpv6.unicast", strs(&["2001:db8::547"])),
        ("dhcpv6.status_code", strs(&[0, 0, 2])),
        ("dhcpv6.status_msg", strs(&["ok", "all good", "none left"])),
        (
            "dhcpv6.userclass.opaque_data",
            strs(&["636c6173732d61", "010203"]),
        ),
        ("dhcpv6.vendorclass.enterprise", strs(&[4491])),
        ("dhcpv6.vendoropts.enterprise", strs(&[2495])),
        ("dhcpv6.vendoropts.enterprise.option_code", strs(&[1, 2])),
        ("dhcpv6.vendoropts.enterprise.option_length", strs(&[2, 0])),
        ("dhcpv6.reconf_msg", strs(&[5])),
        ("dhcpv6.dns_server", strs(&["2001:db8::53", "2001:db8::54"])),
        (
            "dhcpv6.search_list_entry",
            strs(&["example.com.", "lab.example.org."]),
        ),
        ("dhcpv6.client_fqdn_flags", strs(&["0x01"])),
        ("dhcpv6.lifetime", strs(&[86_400])),
    ];
    Case {
        what: "client/server options",
        message: Message::Client(m),
        fields,
    }
}

/// Two relays, each with an Interface-ID, around a Solicit; VSS on the outer relay.
fn nested_relays_case() -> Case {
    let mut solicit = ClientMessage::new(MessageType::SOLICIT, 0xab_cdef);
    solicit
        .options
        .push(O::ClientId(Duid::ll(1, &[0x02, 0, 0, 0, 0, 0x09]).unwrap()));
    solicit.options.push(O::IaNa(IaNa {
        iaid: 9,
        t1: 0,
        t2: 0,
        options: Options::new(),
    }));
    solicit.options.push(O::ElapsedTime(0));
    let inner = RelayMessage {
        msg_type: MessageType::RELAY_FORW,
        hop_count: 0,
        link_address: ip("2001:db8:1::1"),
        peer_address: ip("fe80::9"),
        options: Options::new()
            .with(O::InterfaceId(b"eth1"[..].into()))
            .with(O::RelayMsg(Message::Client(solicit))),
    };
    let outer = RelayMessage {
        msg_type: MessageType::RELAY_FORW,
        hop_count: 1,
        link_address: ip("2001:db8:2::1"),
        peer_address: ip("2001:db8:1::1"),
        options: Options::new()
            .with(O::InterfaceId([0, 0, 0, 7].into()))
            .with(O::Vss(Vss {
                vss_type: 0,
                info: b"blue".to_vec(),
            }))
            .with(O::RelayMsg(Message::Relay(inner))),
    };
    let fields = vec![
        ("dhcpv6.hopcount", strs(&[1, 0])),
        ("dhcpv6.linkaddr", strs(&["2001:db8:2::1", "2001:db8:1::1"])),
        ("dhcpv6.peeraddr", strs(&["2001:db8:1::1", "fe80::9"])),
        ("dhcpv6.interface_id", strs(&["00000007", "65746831"])),
        ("dhcpv6.duidll.hwtype", strs(&[1])),
        (
            "dhcpv6.duidll.link_layer_addr",
            strs(&["02:00:00:00:00:09"]),
        ),
    ];
    Case {
        what: "nested relays",
        message: Message::Relay(outer),
        fields,
    }
}

/// Leasequery (RFC 5007 / 5460 / 7653 options).
fn leasequery_case() -> Case {
    let mut m = ClientMessage::new(MessageType::LEASEQUERY_REPLY, 0x00_0042);
    m.options.push(O::ServerId(Duid::uuid([0x11; 16])));
    m.options.push(O::LqQuery(LqQuery {
        query_type: 1,
        link_address: ip("2001:db8:1::"),
        options: Options::new().with(iaaddr("2001:db8:1::77", 0, 0, Options::new())),
    }));
    m.options.push(O::ClientData(
        Options::new()
            .with(O::ClientId(llt()))
            .with(iaaddr("2001:db8:1::77", 1000, 2000, Options::new()))
            .with(O::CltTime(42)),
    ));
    m.options.push(O::LqClientLink(
        [ip("2001:db8:1::"), ip("2001:db8:9::")].into(),
    ));
    m.options
        .push(O::RelayId(Duid::en(311, &[1, 2, 3, 4, 5]).unwrap()));
    m.options.push(O::LqBaseTime(1_700_000_000));
    m.options.push(O::LqStartTime(1_699_990_000));
    m.options.push(O::LqEndTime(1_700_010_000));
    let fields = vec![
        (
            "dhcpv6.duiduuid.bytes",
            strs(&["11111111111111111111111111111111"]),
        ),
        ("dhcpv6.lq_query", strs(&[1])),
        ("dhcpv6.lq_query_link_address", strs(&["2001:db8:1::"])),
        (
            "dhcpv6.iaaddr.ip",
            strs(&["2001:db8:1::77", "2001:db8:1::77"]),
        ),
        ("dhcpv6.clt_time", strs(&[42])),
        (
            "dhcpv6.lq_client_link",
            strs(&["2001:db8:1::", "2001:db8:9::"]),
        ),
        ("dhcpv6.duiden.enterprise", strs(&[311])),
    ];
    Case {
        what: "leasequery",
        message: Message::Client(m),
        fields,
    }
}

/// RFC 8156 failover messages. Returns the failover message itself and the case that carries
/// its options in a REPLY for tshark.
fn failover_cases() -> Vec<(FailoverMessage, Case)> {
    let mut out = Vec::new();

    let mut connect = FailoverMessage::new(MessageType::CONNECT, 0x00_0007, 0x6000_0000);
    connect.options.push(O::ServerId(llt()));
    connect
        .options
        .push(O::ProtocolVersion(ProtocolVersion { major: 1, minor: 0 }));
    connect
        .options
        .push(O::RelationshipName("east-west".into()));
    connect.options.push(O::Mclt(3600));
    connect.options.push(O::MaxUnackedBndupd(100));
    connect.options.push(O::KeepaliveTime(30));
    connect.options.push(O::PartnerRawCltTime(0x6000_0001));
    connect.options.push(O::ConnectFlags(0x0001));
    out.push((
        connect,
        vec![
            ("dhcpv6.failover.protocol.major_version", strs(&[1])),
            ("dhcpv6.failover.protocol.minor_version", strs(&[0])),
            ("dhcpv6.failover.relationship_name", strs(&["east-west"])),
            ("dhcpv6.failover.mclt", strs(&[3600])),
            ("dhcpv6.failover.max_unacked_bndupd", strs(&[100])),
            ("dhcpv6.failover.keepalive_time", strs(&[30])),
            (
                "dhcpv6.failover.partner_raw_clt_time",
                strs(&[0x6000_0001u32]),
            ),
            ("dhcpv6.failover.connect.flags", strs(&["0x0001"])),
        ],
    ));

    let mut state = FailoverMessage::new(MessageType::STATE, 0x00_0008, 0x6000_0002);
    state
        .options
        .push(O::ServerState(ServerState::PARTNER_DOWN));
    state.options.push(O::ServerFlags(0x03));
    state.options.push(O::StartTimeOfState(0x6000_0003));
    state.options.push(O::StateExpirationTime(0x6000_0e10));
    state.options.push(O::PartnerDownTime(0x5fff_0000));
    out.push((
        state,
        vec![
            ("dhcpv6.failover.server_state", strs(&[4])),
            ("dhcpv6.failover.server.flags", strs(&["0x03"])),
            (
                "dhcpv6.failover.start_time_of_state",
                strs(&[0x6000_0003u32]),
            ),
            (
                "dhcpv6.failover.state_expiration_time",
                strs(&[0x6000_0e10u32]),
            ),
            ("dhcpv6.failover.partner_down_time", strs(&[0x5fff_0000u32])),
        ],
    ));

    let mut bndupd = FailoverMessage::new(MessageType::BNDUPD, 0x00_0009, 0x6000_0004);
    let binding = iaaddr(
        "2001:db8:1::77",
        1800,
        3600,
        Options::new().with(O::DnsRemovalInfo(
            Options::new()
                .with(O::DnsHostName(name("host")))
                .with(O::DnsZoneName(name("example.com")))
                .with(O::DnsFlags(0x0003)),
        )),
    );
    bndupd.options.push(O::ClientData(
        Options::new()
            .with(O::ClientId(llt()))
            .with(O::IaNa(IaNa {
                iaid: 1,
                t1: 900,
                t2: 1440,
                options: Options::new().with(binding),
            }))
            .with(O::CltTime(10))
            .with(O::BindingStatus(BindingStatus::ACTIVE))
            .with(O::PartnerLifetime(3600))
            .with(O::PartnerLifetimeSent(3700))
            .with(O::ExpirationTime(0x6000_1000))
            .with(O::ReconfigureData(ReconfigureData {
                time: 0x6000_0005,
                key: vec![0x5a; 16],
            })),
    ));
    // tshark does not open F_DNS_REMOVAL_INFO: its sub-options, exactly as emitted inside the
    // BNDUPD, get a carrier of their own.
    let removal = bndupd
        .options
        .client_data()
        .and_then(|c| c.ia_na().next())
        .and_then(|ia| ia.options.ia_addrs().next())
        .and_then(|a| a.options.find(OptionCode::F_DNS_REMOVAL_INFO))
        .cloned();
    let Some(O::DnsRemovalInfo(removal)) = removal else {
        panic!("BNDUPD lost its DNS removal info")
    };
    let mut dns = FailoverMessage::new(MessageType::BNDUPD, 0x00_000a, 0x6000_0004);
    dns.options = removal;
    out.push((
        dns,
        vec![
            ("dhcpv6.failover.dns_hostname", strs(&["host"])),
            ("dhcpv6.failover.dns_zonename", strs(&["example.com"])),
            ("dhcpv6.failover.dns.flags", strs(&["0x0003"])),
        ],
    ));
    out.push((
        bndupd,
        vec![
            ("dhcpv6.failover.binding_status", strs(&[1])),
            ("dhcpv6.failover.partner_lifetime", strs(&[3600])),
            ("dhcpv6.failover.partner_lifetime_sent", strs(&[3700])),
            ("dhcpv6.failover.expiration_time", strs(&[0x6000_1000u32])),
            ("dhcpv6.failover.reconfigure_time", strs(&[0x6000_0005u32])),
            ("dhcpv6.failover.reconfigure_key", strs(&["5a".repeat(16)])),
            ("dhcpv6.clt_time", strs(&[10])),
            ("dhcpv6.iaaddr.ip", strs(&["2001:db8:1::77"])),
        ],
    ));

    let mut reply = FailoverMessage::new(MessageType::BNDREPLY, 0x00_0009, 0x6000_0006);
    reply.options.push(O::StatusCode(StatusCode::new(
        Status::OUTDATED_BINDING_INFORMATION,
        "older",
    )));
    out.push((
        reply,
        vec![
            ("dhcpv6.status_code", strs(&[19])),
            ("dhcpv6.status_msg", strs(&["older"])),
        ],
    ));

    out.into_iter()
        .map(|(fo, fields)| {
            let mut carrier = ClientMessage::new(MessageType::REPLY, fo.transaction_id);
            carrier.options = fo.options.clone();
            let what = fo.msg_type.name().unwrap_or("failover");
            (
                fo,
                Case {
                    what,
                    message: Message::Client(carrier),
                    fields,
                },
            )
        })
        .collect()
}

/// A raw-IPv6 (link type 229) pcap with each payload in a UDP datagram from port 547 to 547.
fn write_pcap(payloads: &[Vec<u8>]) -> PathBuf {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&229u32.to_le_bytes());
    for (i, p) in payloads.iter().enumerate() {
        let udp_len = u16::try_from(p.len() + 8).expect("message fits a datagram");
        let mut pkt = vec![0x60, 0, 0, 0];
        pkt.extend_from_slice(&udp_len.to_be_bytes());
        pkt.extend_from_slice(&[17, 64]);
        pkt.extend_from_slice(&ip("2001:db8::1").octets());
        pkt.extend_from_slice(&ip("2001:db8::2").octets());
        pkt.extend_from_slice(&547u16.to_be_bytes());
        pkt.extend_from_slice(&547u16.to_be_bytes());
        pkt.extend_from_slice(&udp_len.to_be_bytes());
        pkt.extend_from_slice(&[0, 0]);
        pkt.extend_from_slice(p);
        let len = u32::try_from(pkt.len()).unwrap();
        f.extend_from_slice(&u32::try_from(i).unwrap().to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&pkt);
    }
    let path = std::env::temp_dir().join(format!("dhcpv6-wire-tshark-{}.pcap", std::process::id()));
    std::fs::write(&path, f).unwrap();
    path
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs tshark once for all frames; returns, per frame, each field's occurrences.
fn tshark_fields(pcap: &PathBuf, fields: &[&str]) -> Vec<Vec<Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(pcap).args([
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            line.split('\t')
                .map(|v| {
                    if v.is_empty() {
                        Vec::new()
                    } else {
                        v.split('|').map(str::to_owned).collect()
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn tshark_decodes_what_we_emit() {
    if !tshark_available() {
        println!("skipped: tshark is not installed (scripts/test installs it when run as root)");
        return;
    }
    let mut cases = vec![
        client_options_case(),
        nested_relays_case(),
        leasequery_case(),
    ];
    for (fo, case) in failover_cases() {
        // The header tshark cannot decode, checked against RFC 8156 §5.2 here.
        let bytes = fo.to_vec();
        assert_eq!(bytes[0], fo.msg_type.0, "{}: msg-type", case.what);
        assert_eq!(
            &bytes[1..4],
            &fo.transaction_id.to_be_bytes()[1..],
            "{}: transaction-id",
            case.what
        );
        assert_eq!(
            &bytes[4..8],
            &fo.sent_time.to_be_bytes(),
            "{}: sent-time",
            case.what
        );
        // The options are the very bytes the carrier message holds.
        assert_eq!(
            &bytes[8..],
            &case.message.to_vec()[4..],
            "{}: option bytes",
            case.what
        );
        assert_eq!(
            Message::parse(&bytes),
            Ok(Message::Failover(fo)),
            "{}: round trip",
            case.what
        );
        cases.push(case);
    }

    // The generic walk (message types, transaction ids, every option's code and length) plus
    // each case's own fields.
    let mut names: Vec<&str> = vec![
        "dhcpv6.msgtype",
        "dhcpv6.xid",
        "dhcpv6.option.type",
        "dhcpv6.option.length",
    ];
    for c in &cases {
        for (f, _) in &c.fields {
            if !names.contains(f) {
                names.push(f);
            }
        }
    }
    let payloads: Vec<Vec<u8>> = cases.iter().map(|c| c.message.to_vec()).collect();
    for (c, p) in cases.iter().zip(&payloads) {
        assert_eq!(
            Message::parse(p).as_ref(),
            Ok(&c.message),
            "{}: our own round trip",
            c.what
        );
    }
    let pcap = write_pcap(&payloads);
    let frames = tshark_fields(&pcap, &names);
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(
        frames.len(),
        cases.len(),
        "tshark printed one line per frame"
    );

    let mut failures = String::new();
    let mut checked = 0;
    for (case, got) in cases.iter().zip(&frames) {
        let mut walk = Walk::default();
        walk.message(&case.message);
        let mut expect: Vec<(&str, Vec<String>)> = vec![
            ("dhcpv6.msgtype", walk.types),
            ("dhcpv6.xid", walk.xids),
            ("dhcpv6.option.type", walk.codes),
            ("dhcpv6.option.length", walk.lens),
        ];
        expect.extend(case.fields.iter().cloned());
        for (field, want) in expect {
            let i = names.iter().position(|n| *n == field).unwrap();
            let have = got.get(i).cloned().unwrap_or_default();
            checked += want.len();
            if have != want {
                let _ = writeln!(
                    failures,
                    "{}: {field}: tshark {have:?}, ours {want:?}",
                    case.what
                );
            }
        }
    }
    assert!(failures.is_empty(), "tshark disagrees:\n{failures}");
    println!(
        "tshark agrees on {checked} field values in {} messages",
        cases.len()
    );
}
