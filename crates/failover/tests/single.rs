//! One endpoint against a scripted partner built from `dhcpv6-wire` messages: handshake
//! checks, BNDUPD rejection granularity, flow control, timers.

mod common;

use common::{T0, addr, client, config};
use dhcpv6_failover::{
    BindingStatus, CloseReason, Config, Duration, Endpoint, Event, Instant, LeaseChange,
    LeaseGrant, Now, Resource, ResourceKind, Role, State, StorageWrite, UnixTime,
};
use dhcpv6_wire::{
    DhcpOption, Duid, FailoverMessage, FrameDecoder, IaAddr, IaNa, MessageType, Options,
    ProtocolVersion, ServerState, Status, Vss, encode_frame,
};

fn now(secs: u64) -> Now {
    Now::new(Instant::from_secs(secs), UnixTime::from_secs(T0 + secs))
}

fn abs(secs: u64) -> u32 {
    UnixTime::from_secs(T0 + secs).to_abs_time()
}

fn frame(m: &FailoverMessage) -> Vec<u8> {
    let mut v = Vec::new();
    encode_frame(m, &mut v).expect("encodable");
    v
}

/// Drains transmits (parsed), acks all storage, collects events.
struct Out {
    msgs: Vec<FailoverMessage>,
    events: Vec<Event>,
    writes: Vec<StorageWrite>,
}

fn drain(ep: &mut Endpoint, n: Now, ack: bool) -> Out {
    let mut out = Out {
        msgs: Vec::new(),
        events: Vec::new(),
        writes: Vec::new(),
    };
    let mut dec = FrameDecoder::new(65_535);
    loop {
        let mut moved = false;
        while let Some(t) = ep.poll_transmit() {
            moved = true;
            let mut b = &t.bytes[..];
            while let Some(f) = dec.decode(&mut b).expect("well-framed output") {
                out.msgs
                    .push(FailoverMessage::parse(&f).expect("parseable output"));
            }
        }
        while let Some(w) = ep.poll_storage() {
            moved = true;
            if ack {
                ep.handle_storage_done(n, w.id, Ok(())).expect("known id");
            }
            out.writes.push(w);
        }
        while let Some(e) = ep.poll_event() {
            moved = true;
            out.events.push(e);
        }
        if !moved {
            return out;
        }
    }
}

fn connect_msg(mclt: u32, version: (u16, u16), name: Option<&str>, flags: u16) -> FailoverMessage {
    let mut m = FailoverMessage::new(MessageType::CONNECT, 0x42, abs(0));
    m.options.push(DhcpOption::ProtocolVersion(ProtocolVersion {
        major: version.0,
        minor: version.1,
    }));
    m.options.push(DhcpOption::Mclt(mclt));
    m.options.push(DhcpOption::KeepaliveTime(60));
    m.options.push(DhcpOption::MaxUnackedBndupd(2));
    if let Some(n) = name {
        m.options.push(DhcpOption::RelationshipName(n.to_string()));
    }
    m.options.push(DhcpOption::ConnectFlags(flags));
    m
}

fn state_msg(state: State, flags: u8, at: u64) -> FailoverMessage {
    let mut m = FailoverMessage::new(MessageType::STATE, 0x43, abs(at));
    m.options
        .push(DhcpOption::ServerState(ServerState(state.to_u8())));
    m.options.push(DhcpOption::ServerFlags(flags));
    m.options.push(DhcpOption::StartTimeOfState(abs(at)));
    m
}

fn status_of(m: &FailoverMessage) -> Option<u16> {
    m.options.status_code().map(|s| s.status.0)
}

/// A secondary that has accepted a CONNECT from a scripted primary and exchanged STATE.
fn connected_secondary(partner_state: State) -> (Endpoint, Out) {
    let mut ep = Endpoint::new(config(Role::Secondary), now(0)).expect("config");
    drain(&mut ep, now(0), true);
    ep.handle_connection_up(now(0));
    ep.handle_bytes(now(0), &frame(&connect_msg(600, (1, 0), None, 1)));
    // The partner has never talked to us (C flag clear): no RECOVER-WAIT delay.
    ep.handle_bytes(now(0), &frame(&state_msg(partner_state, 0x00, 0)));
    let mut out = drain(&mut ep, now(0), true);
    // A fresh secondary is in RECOVER and asks for everything; answer UPDDONE at once. In
    // RECOVER-DONE it asks once more (UPDREQ) before NORMAL; answer that one too.
    let mut answered = 0;
    while let Some(req) = out
        .msgs
        .iter()
        .filter(|m| matches!(m.msg_type, MessageType::UPDREQALL | MessageType::UPDREQ))
        .nth(answered)
    {
        answered += 1;
        let done = FailoverMessage::new(MessageType::UPDDONE, req.transaction_id, abs(0));
        ep.handle_bytes(now(0), &frame(&done));
        let mut more = drain(&mut ep, now(0), true);
        // RECOVER-WAIT is skipped through an immediate timer.
        ep.handle_timeout(now(0));
        let again = drain(&mut ep, now(0), true);
        more.msgs.extend(again.msgs);
        more.events.extend(again.events);
        more.writes.extend(again.writes);
        out.msgs.extend(more.msgs);
        out.events.extend(more.events);
        out.writes.extend(more.writes);
    }
    (ep, out)
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# If the protocol version is unsupported, the secondary rejects the CONNECT
//# with status NotSupported.
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# The secondary rejects a CONNECT whose capabilities (OPTION_F_CONNECT_FLAGS) it
//# cannot honour.
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# The secondary adopts the primary's MCLT.
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# The MCLT in an accepting CONNECTREPLY must equal the value received.
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.2
//# A CONNECT without OPTION_F_RELATIONSHIP_NAME means the only relationship
//# between these two servers.
#[test]
fn secondary_connect_checks() {
    let cases: [(FailoverMessage, u16); 4] = [
        (connect_msg(600, (2, 0), None, 1), Status::NOT_SUPPORTED.0),
        (
            connect_msg(600, (1, 0), Some("other"), 1),
            Status::CONFIGURATION_CONFLICT.0,
        ),
        (
            connect_msg(600, (1, 0), None, 0),
            Status::CONFIGURATION_CONFLICT.0,
        ),
        (connect_msg(10, (1, 0), None, 1), Status::UNSPEC_FAIL.0),
    ];
    for (m, want) in cases {
        let mut ep = Endpoint::new(config(Role::Secondary), now(0)).expect("config");
        ep.handle_connection_up(now(0));
        ep.handle_bytes(now(0), &frame(&m));
        let out = drain(&mut ep, now(0), true);
        let reply = out
            .msgs
            .iter()
            .find(|m| m.msg_type == MessageType::CONNECTREPLY)
            .expect("CONNECTREPLY");
        assert_eq!(reply.transaction_id, 0x42);
        assert_eq!(status_of(reply), Some(want));
        assert!(out.events.iter().any(|e| matches!(
            e,
            Event::ConnectRejected {
                by_partner: false,
                ..
            }
        )));
        assert!(out.events.iter().any(|e| matches!(
            e,
            Event::CloseConnection {
                reason: CloseReason::Rejected
            }
        )));
    }
    // A CONNECT with a different (acceptable) MCLT is adopted and echoed exactly.
    let mut ep = Endpoint::new(config(Role::Secondary), now(0)).expect("config");
    ep.handle_connection_up(now(0));
    ep.handle_bytes(now(0), &frame(&connect_msg(900, (1, 3), None, 1)));
    let out = drain(&mut ep, now(0), true);
    let reply = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::CONNECTREPLY)
        .expect("CONNECTREPLY");
    assert_eq!(status_of(reply), None);
    assert!(
        reply
            .options
            .iter()
            .any(|o| matches!(o, DhcpOption::Mclt(900)))
    );
    assert_eq!(ep.mclt(), Duration::from_secs(900));
    // Both sides send STATE right after the exchange.
    assert!(out.msgs.iter().any(|m| m.msg_type == MessageType::STATE));
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# If the MCLT in the CONNECTREPLY differs from its configured value the
//# primary disconnects.
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.3.10
//# DISCONNECT SHOULD carry OPTION_STATUS_CODE with a human-readable reason.
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# After a rejection it should back off but must keep retrying.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# If the server is a primary server: attempt to create a
//# TCP connection to the failover partner.
#[test]
fn primary_connectreply_checks() {
    let mut ep = Endpoint::new(config(Role::Primary), now(0)).expect("config");
    let out = drain(&mut ep, now(0), true);
    assert!(
        out.events.contains(&Event::OpenConnection),
        "{:?}",
        out.events
    );
    ep.handle_connection_up(now(0));
    let out = drain(&mut ep, now(0), true);
    let connect = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::CONNECT)
        .expect("CONNECT");
    // The CONNECT carries every option of §6.1 plus the fingerprint.
    for code in [127u16, 122, 128, 121, 115, 17] {
        assert!(
            connect.options.iter().any(|o| o.code().0 == code),
            "option {code}"
        );
    }
    let mut reply = connect_msg(601, (1, 0), None, 1);
    reply.msg_type = MessageType::CONNECTREPLY;
    reply.transaction_id = connect.transaction_id;
    ep.handle_bytes(now(0), &frame(&reply));
    let out = drain(&mut ep, now(0), true);
    let disc = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::DISCONNECT)
        .expect("DISCONNECT");
    assert_eq!(status_of(disc), Some(Status::CONFIGURATION_CONFLICT.0));
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::CloseConnection { .. }))
    );
    // A rejecting CONNECTREPLY backs off the retry timer but keeps retrying.
    ep.handle_connection_up(now(1));
    let out = drain(&mut ep, now(1), true);
    let connect = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::CONNECT)
        .expect("CONNECT");
    let mut rej = FailoverMessage::new(MessageType::CONNECTREPLY, connect.transaction_id, abs(1));
    rej.options
        .push(DhcpOption::StatusCode(dhcpv6_wire::StatusCode::new(
            Status::NOT_SUPPORTED,
            "no",
        )));
    ep.handle_bytes(now(1), &frame(&rej));
    let out = drain(&mut ep, now(1), true);
    assert!(out.events.iter().any(|e| matches!(
        e,
        Event::ConnectRejected {
            by_partner: true,
            status: 14,
            ..
        }
    )));
    assert!(ep.poll_timeout().is_some_and(|t| t > Instant::from_secs(1)));
    ep.handle_timeout(now(30));
    let out = drain(&mut ep, now(30), true);
    assert!(out.events.contains(&Event::OpenConnection));
}

#[test]
fn fingerprint_mismatch_is_rejected_and_named() {
    let mut pc = config(Role::Primary);
    pc.pools.prefixes.clear();
    let mut p = Endpoint::new(pc, now(0)).expect("config");
    let mut s = Endpoint::new(config(Role::Secondary), now(0)).expect("config");
    p.handle_connection_up(now(0));
    s.handle_connection_up(now(0));
    let bytes: Vec<u8> = std::iter::from_fn(|| p.poll_transmit())
        .flat_map(|t| t.bytes)
        .collect();
    s.handle_bytes(now(0), &bytes);
    let out = drain(&mut s, now(0), true);
    let parts = out.events.iter().find_map(|e| match e {
        Event::ConfigurationMismatch { parts } => Some(parts.clone()),
        _ => None,
    });
    assert_eq!(parts, Some(vec!["prefix pools"]));
    let reply = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::CONNECTREPLY)
        .expect("reply");
    assert_eq!(status_of(reply), Some(Status::CONFIGURATION_CONFLICT.0));
    // Absence of the fingerprint is tolerated.
    let mut pc = config(Role::Primary);
    pc.check_pool_fingerprint = false;
    let mut p = Endpoint::new(pc, now(0)).expect("config");
    let mut s = Endpoint::new(config(Role::Secondary), now(0)).expect("config");
    p.handle_connection_up(now(0));
    s.handle_connection_up(now(0));
    let bytes: Vec<u8> = std::iter::from_fn(|| p.poll_transmit())
        .flat_map(|t| t.bytes)
        .collect();
    s.handle_bytes(now(0), &bytes);
    let out = drain(&mut s, now(0), true);
    assert!(out.events.contains(&Event::Connected));
}

fn bndupd(xid: u32, items: Vec<(Ipv6Lease, u32)>, vss: Option<Vss>) -> FailoverMessage {
    let mut cd = Options::new();
    cd.push(DhcpOption::ClientId(
        Duid::new(&client(9).duid).expect("duid"),
    ));
    cd.push(DhcpOption::LqBaseTime(abs(0)));
    if let Some(v) = vss {
        cd.push(DhcpOption::Vss(v));
    }
    for (lease, iaid) in items {
        let mut o = Options::new();
        if let Some(s) = lease.status {
            o.push(DhcpOption::BindingStatus(dhcpv6_wire::BindingStatus(s)));
        }
        o.push(DhcpOption::StartTimeOfState(abs(0)));
        o.push(DhcpOption::StateExpirationTime(abs(3600)));
        o.push(DhcpOption::CltTime(0));
        o.push(DhcpOption::PartnerLifetime(abs(7200)));
        o.push(DhcpOption::PartnerRawCltTime(abs(1)));
        if lease.dns {
            let mut d = Options::new();
            d.push(DhcpOption::DnsHostName(
                dhcpv6_wire::DomainName::from_dotted("h.example.", true).expect("name"),
            ));
            d.push(DhcpOption::DnsFlags(0x0003));
            o.push(DhcpOption::DnsRemovalInfo(d));
        }
        let a = IaAddr {
            address: lease.addr,
            preferred_lifetime: 1800,
            valid_lifetime: 3600,
            options: o,
        };
        cd.push(DhcpOption::IaNa(IaNa {
            iaid,
            t1: 900,
            t2: 1400,
            options: Options::from(vec![DhcpOption::IaAddr(a)]),
        }));
    }
    let mut m = FailoverMessage::new(MessageType::BNDUPD, xid, abs(0));
    m.options.push(DhcpOption::ClientData(cd));
    m
}

struct Ipv6Lease {
    addr: std::net::Ipv6Addr,
    status: Option<u8>,
    dns: bool,
}

fn lease_statuses(reply: &FailoverMessage) -> Vec<Option<u16>> {
    let cd = reply
        .options
        .client_data()
        .expect("CLIENT_DATA in BNDREPLY");
    cd.ia_na()
        .flat_map(|ia| {
            ia.options
                .ia_addrs()
                .map(|a| a.options.status_code().map(|s| s.status.0))
                .collect::<Vec<_>>()
        })
        .collect()
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.3
//# If the resource specified in the OPTION_CLIENT_DATA is not
//# a resource associated with the failover endpoint which received
//# the OPTION_CLIENT_DATA option, then reject it with reject-reason
//# "ConfigurationConflict".
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5
//# if there is insufficient information in the OPTION_CLIENT_DATA to process
//# it, then reject the OPTION_CLIENT_DATA with "MissingBindingInformation".
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.6
//# The BNDREPLY message MUST have the same xid
//# as the BNDUPD message to which it is a response.
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5
//# VSS names an unknown VPN: reject with ConfigurationConflict.
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.5
//# OPTION_F_PARTNER_LIFETIME is stored in the expiration-time.
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.5
//# OPTION_CLT_TIME (which MUST NOT be converted with the
//# corrected-base-time, but must be converted with the raw
//# value from the OPTION_LQ_BASE_TIME) is stored
//# in the partner-raw-clt-time
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.5
//# OPTION_F_PARTNER_RAW_CLT_TIME (which MUST NOT be corrected with
//# the time-correction)
//# replaces the client-last-transaction-time if it is later
//# than the current client-last-transaction-time.
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.6
//# OPTION_F_PARTNER_LIFETIME_SENT is an exact, unadjusted echo of the
//# OPTION_F_PARTNER_LIFETIME received in the BNDUPD.
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.6
//# an error status in an IA_* rejects that IA; in an
//# IAADDR/IAPREFIX rejects that one lease
//= https://www.rfc-editor.org/rfc/rfc8156#section-9
//# a non-DNS-updating server SHOULD warn on receiving DNS info
#[test]
fn bndupd_per_lease_rejection_and_dns_info() {
    let (mut ep, _) = connected_secondary(State::Normal);
    assert_eq!(ep.state(), State::Normal);
    let good = addr("2001:db8::1:10");
    let foreign = addr("2001:db8:ffff::1");
    let m = bndupd(
        0x777,
        vec![
            (
                Ipv6Lease {
                    addr: good,
                    status: Some(1),
                    dns: true,
                },
                1,
            ),
            (
                Ipv6Lease {
                    addr: foreign,
                    status: Some(1),
                    dns: false,
                },
                2,
            ),
            (
                Ipv6Lease {
                    addr: addr("2001:db8::1:12"),
                    status: None,
                    dns: false,
                },
                3,
            ),
        ],
        None,
    );
    ep.handle_bytes(now(1), &frame(&m));
    // The accepted lease's write is not acked yet: no BNDREPLY.
    let out = drain(&mut ep, now(1), false);
    assert!(!out.msgs.iter().any(|m| m.msg_type == MessageType::BNDREPLY));
    assert_eq!(out.writes.len(), 1);
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::DnsInfoWithoutDnsSupport { .. }))
    );
    for w in out.writes {
        ep.handle_storage_done(now(1), w.id, Ok(())).expect("ack");
    }
    let out = drain(&mut ep, now(1), true);
    let reply = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::BNDREPLY)
        .expect("BNDREPLY");
    assert_eq!(reply.transaction_id, 0x777);
    assert_eq!(
        lease_statuses(reply),
        vec![
            None,
            Some(Status::CONFIGURATION_CONFLICT.0),
            Some(Status::MISSING_BINDING_INFORMATION.0)
        ]
    );
    // PARTNER_LIFETIME_SENT echoes PARTNER_LIFETIME exactly.
    let echoed = reply.options.client_data().and_then(|cd| {
        cd.ia_na()
            .next()
            .and_then(|ia| ia.options.ia_addrs().next().map(|a| a.options.clone()))
    });
    assert!(echoed.is_some_and(|o| {
        o.iter()
            .any(|x| matches!(x, DhcpOption::PartnerLifetimeSent(t) if *t == abs(7200)))
    }));
    let b = ep.binding(&Resource::Address(good)).expect("stored");
    assert_eq!(b.status, BindingStatus::Active);
    assert_eq!(b.expiration_time, Some(UnixTime::from_secs(T0 + 7200)));
    // CLT_TIME converted with the raw base time; PARTNER_RAW_CLT_TIME taken as is.
    assert_eq!(b.partner_raw_clt_time, Some(UnixTime::from_secs(T0)));
    assert_eq!(
        b.client_last_transaction_time,
        Some(UnixTime::from_secs(T0 + 1))
    );
    let dns = b.dns_removal.as_ref().expect("DNS removal info stored");
    assert_eq!(dns.flags, Some(3));
    // A VSS naming a VPN rejects the whole update at the top level.
    let m = bndupd(
        0x778,
        vec![(
            Ipv6Lease {
                addr: good,
                status: Some(1),
                dns: false,
            },
            1,
        )],
        Some(Vss {
            vss_type: 0,
            info: b"vpn".to_vec(),
        }),
    );
    ep.handle_bytes(now(2), &frame(&m));
    let out = drain(&mut ep, now(2), true);
    let reply = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::BNDREPLY)
        .expect("BNDREPLY");
    let top = reply
        .options
        .client_data()
        .and_then(|cd| cd.status_code().map(|s| s.status.0));
    assert_eq!(top, Some(Status::CONFIGURATION_CONFLICT.0));
    // A BNDUPD with no body at all.
    let empty = FailoverMessage::new(MessageType::BNDUPD, 0x779, abs(2));
    ep.handle_bytes(now(2), &frame(&empty));
    let out = drain(&mut ep, now(2), true);
    let reply = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::BNDREPLY)
        .expect("BNDREPLY");
    assert_eq!(
        status_of(reply),
        Some(Status::MISSING_BINDING_INFORMATION.0)
    );
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-7.4
//# never exceed the partner's OPTION_F_MAX_UNACKED_BNDUPD outstanding BNDUPDs
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.4
//# never reuse the id of a still-open UPDREQ/UPDREQALL
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.4
//# OPTION_F_BINDING_STATUS and OPTION_F_START_TIME_OF_STATE MUST appear in every
//# IAADDR / IAPREFIX of a BNDUPD.
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.4
//# OPTION_CLT_TIME carries the real time of the last client transaction; it must not
//# be faked.
#[test]
fn window_and_transaction_ids() {
    // The scripted primary allows 2 unacked BNDUPDs.
    let (mut ep, _) = connected_secondary(State::Normal);
    let mut granted = 0;
    for i in 0..10u8 {
        let c = client(i);
        let r = ep.allocate(now(1), ResourceKind::Address, &c);
        // NORMAL secondary: allocation from its own half is allowed (renew-responsive traffic).
        let Some(r) = r else { continue };
        let v = ep.lease_bound(now(1), &r, Duration::from_secs(3600));
        ep.record_lease(now(1), LeaseChange::Granted(LeaseGrant::new(c, r, v)))
            .expect("recorded");
        granted += 1;
    }
    assert_eq!(granted, 10);
    let out = drain(&mut ep, now(1), true);
    let upds: Vec<_> = out
        .msgs
        .iter()
        .filter(|m| m.msg_type == MessageType::BNDUPD)
        .collect();
    assert_eq!(upds.len(), 2, "window of 2");
    for u in &upds {
        let cd = u.options.client_data().expect("CLIENT_DATA");
        assert!(cd.iter().any(|o| matches!(o, DhcpOption::LqBaseTime(_))));
        let a = cd
            .ia_na()
            .next()
            .and_then(|ia| ia.options.ia_addrs().next())
            .expect("IAADDR");
        for code in [114u16, 133, 46, 123, 134] {
            assert!(
                a.options.iter().any(|o| o.code().0 == code),
                "option {code} in the lease"
            );
        }
        // CLT_TIME is the real last contact: granted at 1 s, sent at 1 s ⇒ 0 s ago.
        assert!(
            a.options
                .iter()
                .any(|o| matches!(o, DhcpOption::CltTime(0)))
        );
    }
    assert_eq!(ep.status(now(1)).unacked_updates, 2);
    let mut xids: Vec<u32> = upds.iter().map(|m| m.transaction_id).collect();
    xids.dedup();
    assert_eq!(xids.len(), 2);
    // Answer one: exactly one more goes out.
    let mut rep = FailoverMessage::new(MessageType::BNDREPLY, xids[0], abs(1));
    rep.options = upds[0].options.clone();
    ep.handle_bytes(now(1), &frame(&rep));
    let out = drain(&mut ep, now(1), true);
    assert_eq!(
        out.msgs
            .iter()
            .filter(|m| m.msg_type == MessageType::BNDUPD)
            .count(),
        1
    );
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# If the startup time expires prior to communications
//# becoming "OK", the server SHOULD transition
//# to the PREVIOUS-STATE.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# Start the STARTUP state timer.
#[test]
fn startup_timer_and_unpaired_first_start() {
    let mut ep = Endpoint::new(config(Role::Secondary), now(0)).expect("config");
    let t = ep.poll_timeout().expect("startup timer");
    assert_eq!(t, Instant::from_secs(30));
    ep.handle_timeout(now(5));
    assert_eq!(ep.state(), State::Startup, "early calls are no-ops");
    ep.handle_timeout(now(30));
    assert_eq!(ep.state(), State::Recover);
    let mut c = config(Role::Primary);
    c.unpaired_first_start = true;
    let mut ep = Endpoint::new(c, now(0)).expect("config");
    ep.handle_timeout(now(30));
    assert_eq!(ep.state(), State::PartnerDown);
    let out = drain(&mut ep, now(30), true);
    assert!(out.events.contains(&Event::StateChanged {
        from: State::Startup,
        to: State::PartnerDown
    }));
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-8.9
//# if it has been
//# configured to support an automatic transition out of COMMUNICATIONS-
//# INTERRUPTED state and into PARTNER-DOWN state (i.e., a auto-partner-down
//# has been configured), then a timer MUST be started
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
//# If the safe period timer expires while a server is in the
//# COMMUNICATIONS-INTERRUPTED state, it will transition immediately into
//# PARTNER-DOWN state.
#[test]
fn auto_partner_down_off_by_default_and_on_when_configured() {
    for auto in [None, Some(Duration::from_secs(300))] {
        let mut c: Config = config(Role::Secondary);
        c.auto_partner_down = auto;
        let mut ep = Endpoint::new(c, now(0)).expect("config");
        ep.handle_connection_up(now(0));
        ep.handle_bytes(now(0), &frame(&connect_msg(600, (1, 0), None, 1)));
        ep.handle_bytes(now(0), &frame(&state_msg(State::Normal, 0x01, 0)));
        drain(&mut ep, now(0), true);
        // Make it NORMAL through the RECOVER path quickly: partner says NORMAL, we are RECOVER
        // (no record) and ask UPDREQALL; answer UPDDONE.
        let out = drain(&mut ep, now(0), true);
        let _ = out;
        ep.handle_connection_down(now(1));
        drain(&mut ep, now(1), true);
        let st = ep.state();
        // Either way we are not PARTNER-DOWN yet.
        assert_ne!(st, State::PartnerDown);
        if st == State::CommunicationsInterrupted {
            ep.handle_timeout(now(400));
            assert_eq!(ep.state() == State::PartnerDown, auto.is_some());
        }
    }
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-6.5
//# at 0 send CONTACT and reset the timer
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.5
//# FO_SEND_TIMER is reset on every transmitted message
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.5
//# FO_KEEPALIVE_TIMER is reset on every received message
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.6
//# If nothing at all is received for FO_KEEPALIVE_TIME the
//# connection is considered dead: communications not OK.
#[test]
fn keepalive_expiry_and_contacts() {
    let (mut ep, out) = connected_secondary(State::Normal);
    assert!(
        out.msgs
            .iter()
            .any(|m| m.msg_type == MessageType::CONNECTREPLY)
    );
    // FO_SEND_TIME = 60/4 = 15 s: a CONTACT goes out when idle.
    ep.handle_timeout(now(15));
    let out = drain(&mut ep, now(15), true);
    assert!(out.msgs.iter().any(|m| m.msg_type == MessageType::CONTACT));
    // Nothing received for 60 s: connection dead.
    ep.handle_timeout(now(61));
    let out = drain(&mut ep, now(61), true);
    assert!(out.events.iter().any(|e| matches!(
        e,
        Event::CloseConnection {
            reason: CloseReason::KeepaliveExpired
        }
    )));
    assert_ne!(ep.state(), State::Normal);
}

#[test]
fn storage_errors_and_misuse() {
    let mut ep = Endpoint::new(config(Role::Primary), now(0)).expect("config");
    assert!(
        ep.handle_storage_done(now(0), dhcpv6_failover::WriteId(999), Ok(()))
            .is_err()
    );
    ep.handle_timeout(now(30));
    let out = drain(&mut ep, now(30), false);
    let w = out.writes.first().expect("state write");
    ep.handle_storage_done(
        now(30),
        w.id,
        Err(dhcpv6_failover::StorageError::new("disk full")),
    )
    .expect("known id");
    let out = drain(&mut ep, now(30), true);
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::StorageFailed { .. }))
    );
    // Lease errors.
    let c = client(1);
    let r = Resource::Address(addr("2001:db8:ffff::1"));
    assert!(
        ep.record_lease(
            now(10),
            LeaseChange::Granted(LeaseGrant::new(c.clone(), r, Duration::from_secs(60)))
        )
        .is_err()
    );
    let r = Resource::Address(addr("2001:db8::1:1"));
    assert!(matches!(
        ep.record_lease(
            now(10),
            LeaseChange::Released {
                client: c,
                resource: r
            }
        ),
        Err(dhcpv6_failover::LeaseError::NoBinding(_))
    ));
}

/// Garbage from the partner never panics and never returns an error.
#[test]
fn garbage_in_no_panic() {
    let mut seed = 0x1234_5678_u64;
    for round in 0..200u64 {
        let (mut ep, _) = connected_secondary(State::Normal);
        let mut bytes = Vec::new();
        for _ in 0..(round % 40 + 1) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            bytes.push((seed >> 33) as u8);
        }
        // A plausible frame header so the body reaches the message parser.
        let mut framed = vec![
            0,
            u8::try_from(bytes.len() + 8).unwrap_or(8),
            24 + (round % 12) as u8,
            0,
            0,
            1,
        ];
        framed.extend_from_slice(&abs(1).to_be_bytes());
        framed.extend_from_slice(&bytes);
        ep.handle_bytes(now(1), &framed);
        ep.handle_bytes(now(1), &bytes);
        drain(&mut ep, now(1), true);
    }
}

/// Regression for sim finding B1: a failed write of a new state is retried, and no STATE
/// announces that state before a write of it is acknowledged.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.1
//# whenever a server makes a
//# transition into a new state, it MUST record the new state, its current
//# understanding of its partner's state, and the time at which it entered the
//# new state in stable storage.
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.3
//# write the new state to stable storage before sending STATE
#[test]
fn failed_state_write_is_retried_before_announcing() {
    let (mut ep, _) = connected_secondary(State::Normal);
    assert_eq!(ep.state(), State::Normal);
    ep.handle_connection_down(now(5));
    assert_eq!(ep.state(), State::CommunicationsInterrupted);
    let out = drain(&mut ep, now(5), false);
    let w = out
        .writes
        .iter()
        .find(|w| matches!(&w.record, dhcpv6_failover::StorageRecord::EndpointState(s) if s.state == State::CommunicationsInterrupted))
        .expect("state write");
    ep.handle_storage_done(now(5), w.id, Err(dhcpv6_failover::StorageError::new("io")))
        .expect("known");
    for other in out.writes.iter().filter(|x| x.id != w.id) {
        ep.handle_storage_done(now(5), other.id, Ok(()))
            .expect("known");
    }
    // Reconnect before the retry: the handshake completes but no STATE goes out.
    ep.handle_connection_up(now(6));
    let mut c = connect_msg(600, (1, 0), None, 1);
    c.sent_time = abs(6);
    ep.handle_bytes(now(6), &frame(&c));
    let out = drain(&mut ep, now(6), false);
    assert!(
        out.msgs
            .iter()
            .any(|m| m.msg_type == MessageType::CONNECTREPLY)
    );
    assert!(
        !out.msgs.iter().any(|m| m.msg_type == MessageType::STATE),
        "STATE before the state is durable"
    );
    // The retry timer re-issues the write; its ack releases STATE.
    ep.handle_timeout(now(7));
    let out = drain(&mut ep, now(7), false);
    let retry = out
        .writes
        .iter()
        .find(|w| matches!(&w.record, dhcpv6_failover::StorageRecord::EndpointState(s) if s.state == State::CommunicationsInterrupted))
        .expect("state written again");
    ep.handle_storage_done(now(7), retry.id, Ok(()))
        .expect("known");
    let out = drain(&mut ep, now(7), true);
    let st = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::STATE)
        .expect("STATE after the ack");
    assert!(
        st.options
            .iter()
            .any(|o| matches!(o, DhcpOption::ServerState(s) if s.0 == 3))
    );
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.1
//# It cannot be allocated to the same client
//# again if a BNDUPD was sent, otherwise it can.
#[test]
fn may_allocate_to_knows_the_clients_own_lease() {
    let (mut ep, _) = connected_secondary(State::Normal);
    let c = client(3);
    let r = ep
        .allocate(now(1), ResourceKind::Address, &c)
        .expect("address");
    let v = ep.lease_bound(now(1), &r, Duration::from_secs(600));
    ep.record_lease(
        now(1),
        LeaseChange::Granted(LeaseGrant::new(c.clone(), r, v)),
    )
    .expect("grant");
    drain(&mut ep, now(1), true);
    assert!(!ep.may_allocate(now(2), &r), "bound: not for a new client");
    assert!(
        ep.may_allocate_to(now(2), &r, &c),
        "but the client's own lease"
    );
    assert!(!ep.may_allocate_to(now(2), &r, &client(4)));
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-5.3.11
//# OPTION_F_PARTNER_DOWN_TIME is present iff the sender is in PARTNER-DOWN
#[test]
fn partner_down_time_only_in_partner_down_state_messages() {
    let (mut ep, out) = connected_secondary(State::Normal);
    let st = out
        .msgs
        .iter()
        .rev()
        .find(|m| m.msg_type == MessageType::STATE)
        .expect("STATE");
    assert!(
        !st.options
            .iter()
            .any(|o| matches!(o, DhcpOption::PartnerDownTime(_)))
    );
    ep.handle_connection_down(now(2));
    ep.partner_down(now(3), Some(UnixTime::from_secs(T0 + 1)))
        .expect("partner down");
    drain(&mut ep, now(3), true);
    ep.handle_connection_up(now(4));
    let mut c = connect_msg(600, (1, 0), None, 1);
    c.sent_time = abs(4);
    ep.handle_bytes(now(4), &frame(&c));
    let out = drain(&mut ep, now(4), true);
    let st = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::STATE)
        .expect("STATE");
    assert!(
        st.options
            .iter()
            .any(|o| matches!(o, DhcpOption::ServerState(s) if s.0 == 4))
    );
    assert!(
        st.options
            .iter()
            .any(|o| matches!(o, DhcpOption::PartnerDownTime(t) if *t == abs(1)))
    );
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
//# If an UPDDONE message isn't received within an implementation
//# dependent amount of time, and no BNDUPD messages are being
//# received, the connection SHOULD be dropped.
#[test]
fn update_request_without_upddone_drops_the_connection() {
    let mut ep = Endpoint::new(config(Role::Secondary), now(0)).expect("config");
    ep.handle_connection_up(now(0));
    ep.handle_bytes(now(0), &frame(&connect_msg(600, (1, 0), None, 1)));
    ep.handle_bytes(now(0), &frame(&state_msg(State::Normal, 0x01, 0)));
    let out = drain(&mut ep, now(0), true);
    assert!(
        out.msgs
            .iter()
            .any(|m| m.msg_type == MessageType::UPDREQALL)
    );
    // Keep the connection alive with CONTACTs but never answer.
    for t in (10..=130).step_by(10) {
        let contact = FailoverMessage::new(MessageType::CONTACT, 0, abs(t));
        ep.handle_bytes(now(t), &frame(&contact));
        ep.handle_timeout(now(t));
        let out = drain(&mut ep, now(t), true);
        if out.events.iter().any(|e| {
            matches!(
                e,
                Event::CloseConnection {
                    reason: CloseReason::UpdateRequestTimeout
                }
            )
        }) {
            assert!(t >= 120, "after update_request_timeout (120 s), not {t}");
            assert_eq!(ep.state(), State::Recover, "stays in RECOVER");
            return;
        }
    }
    panic!("the connection was not dropped");
}

/// A BNDUPD of an update-request answer that the partner rejects because its own storage
/// write failed (UnspecFail) has not been delivered: UPDDONE must wait until it was sent
/// again and acked (sim seeds 20002, 313529: the recovering partner went RECOVER-WAIT →
/// NORMAL without the lease and gave it to another client).
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
//# UPDDONE only after every BNDUPD got its BNDREPLY.
#[test]
fn upddone_waits_for_an_answer_update_the_partner_failed_to_store() {
    let (mut ep, _) = connected_secondary(State::Normal);
    let c = client(7);
    let r = ep
        .allocate(now(1), ResourceKind::Address, &c)
        .expect("an address of our half");
    let v = ep.lease_bound(now(1), &r, Duration::from_secs(3600));
    ep.record_lease(now(1), LeaseChange::Granted(LeaseGrant::new(c, r, v)))
        .expect("recorded");
    let out = drain(&mut ep, now(1), true);
    let upd = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::BNDUPD)
        .expect("the lazy update");
    let mut rep = FailoverMessage::new(MessageType::BNDREPLY, upd.transaction_id, abs(1));
    rep.options = upd.options.clone();
    ep.handle_bytes(now(1), &frame(&rep));
    drain(&mut ep, now(1), true);
    // The partner asks for everything; its write of our answer fails.
    let req = FailoverMessage::new(MessageType::UPDREQALL, 0x900, abs(2));
    ep.handle_bytes(now(2), &frame(&req));
    let out = drain(&mut ep, now(2), true);
    let upd = out
        .msgs
        .iter()
        .find(|m| m.msg_type == MessageType::BNDUPD)
        .expect("the answer update")
        .clone();
    assert!(!out.msgs.iter().any(|m| m.msg_type == MessageType::UPDDONE));
    let mut rep = FailoverMessage::new(MessageType::BNDREPLY, upd.transaction_id, abs(2));
    rep.options = upd.options;
    rep.options
        .push(DhcpOption::StatusCode(dhcpv6_wire::StatusCode::new(
            Status::UNSPEC_FAIL,
            "storage write failed",
        )));
    ep.handle_bytes(now(2), &frame(&rep));
    let out = drain(&mut ep, now(2), true);
    assert!(
        !out.msgs.iter().any(|m| m.msg_type == MessageType::UPDDONE),
        "UPDDONE before the rejected update was delivered"
    );
    // The rescan sends it again; once acked, UPDDONE follows.
    let mut again = None;
    for t in (10..=70).step_by(10) {
        let contact = FailoverMessage::new(MessageType::CONTACT, 0, abs(t));
        ep.handle_bytes(now(t), &frame(&contact));
        ep.handle_timeout(now(t));
        let out = drain(&mut ep, now(t), true);
        assert!(!out.msgs.iter().any(|m| m.msg_type == MessageType::UPDDONE));
        if let Some(u) = out
            .msgs
            .into_iter()
            .find(|m| m.msg_type == MessageType::BNDUPD)
        {
            again = Some((t, u));
            break;
        }
    }
    let (t, upd) = again.expect("the rejected update is sent again");
    let mut rep = FailoverMessage::new(MessageType::BNDREPLY, upd.transaction_id, abs(t));
    rep.options = upd.options;
    ep.handle_bytes(now(t), &frame(&rep));
    let out = drain(&mut ep, now(t), true);
    assert!(
        out.msgs
            .iter()
            .any(|m| m.msg_type == MessageType::UPDDONE && m.transaction_id == 0x900),
        "UPDDONE once the update was acked"
    );
}
