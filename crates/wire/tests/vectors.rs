//! Every vector in `tests/vectors/` parses with both layers, re-emits byte-exact, and (for the
//! failover ones) carries the fields it was built with.

use std::fs;
use std::path::Path;

use dhcpv6_wire::{
    BindingStatus, DhcpOption, Emit, Message, MessageType, MessageView, OptionCode, ServerState,
    Status,
};

fn vectors() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut v: Vec<_> = fs::read_dir(dir)
        .expect("vectors dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .map(|p| {
            let text = fs::read_to_string(&p).expect("read");
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (name, hex::decode(text.trim()).expect("hex"))
        })
        .collect();
    v.sort();
    v
}

fn vector(name: &str) -> Message {
    let (_, bytes) = vectors()
        .into_iter()
        .find(|(n, _)| n == name)
        .expect("vector exists");
    Message::parse(&bytes).expect("parses")
}

#[test]
fn every_vector_round_trips() {
    let all = vectors();
    assert!(all.len() >= 20);
    for (name, bytes) in all {
        let m = Message::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.to_vec(), bytes, "{name}");
        assert_eq!(m.emitted_len(), bytes.len(), "{name}");
        let view = MessageView::new_checked(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(view.to_owned_message().unwrap(), m, "{name}");
    }
}

#[test]
fn connect_fields() {
    let Message::Failover(m) = vector("rfc8156-5.3.8-connect") else {
        panic!("failover")
    };
    assert_eq!(m.msg_type, MessageType::CONNECT);
    assert_eq!(m.transaction_id, 2);
    assert_eq!(m.sent_time, 0x2a3b_4c5d);
    assert_eq!(m.options.u32_value(OptionCode::F_MCLT), Some(3600));
    assert_eq!(m.options.u32_value(OptionCode::F_KEEPALIVE_TIME), Some(60));
    assert!(
        m.options
            .iter()
            .any(|o| *o == DhcpOption::RelationshipName("pair-a".into()))
    );
    assert!(m.options.iter().any(|o| *o == DhcpOption::ConnectFlags(1)));
}

#[test]
fn bndupd_client_tree() {
    let Message::Failover(m) = vector("rfc8156-5.3.1-bndupd-client") else {
        panic!("failover")
    };
    let cd = m.options.client_data().expect("CLIENT_DATA");
    assert!(cd.client_id().is_some());
    let ia = cd.ia_na().next().expect("IA_NA");
    assert_eq!(ia.iaid, 0x276f_8a95);
    let addr = ia.options.ia_addrs().next().expect("IAADDR");
    assert_eq!(addr.valid_lifetime, 3600);
    assert_eq!(
        addr.options.find(OptionCode::F_BINDING_STATUS),
        Some(&DhcpOption::BindingStatus(BindingStatus::ACTIVE))
    );
    assert_eq!(addr.options.u32_value(OptionCode::CLT_TIME), Some(5));
    let Some(DhcpOption::DnsRemovalInfo(dns)) = addr.options.find(OptionCode::F_DNS_REMOVAL_INFO)
    else {
        panic!("DNS removal info")
    };
    let Some(DhcpOption::DnsHostName(h)) = dns.find(OptionCode::F_DNS_HOST_NAME) else {
        panic!("host name")
    };
    assert_eq!(h.to_dotted(), "host1.example.com.");
    let pd = cd.ia_pd().next().expect("IA_PD");
    assert_eq!(
        pd.options
            .ia_prefixes()
            .next()
            .expect("IAPREFIX")
            .prefix_len(),
        56
    );
}

#[test]
fn state_and_disconnect() {
    let Message::Failover(m) = vector("rfc8156-5.3.11-state") else {
        panic!("failover")
    };
    assert_eq!(
        m.options.find(OptionCode::F_SERVER_STATE),
        Some(&DhcpOption::ServerState(ServerState::NORMAL))
    );
    let Message::Failover(m) = vector("rfc8156-5.3.10-disconnect") else {
        panic!("failover")
    };
    let s = m.options.status_code().expect("status");
    assert_eq!(s.status, Status::SERVER_SHUTTING_DOWN);
    assert_eq!(s.message, "operator shutdown");
}

#[test]
fn unknowns_kept_in_order_with_duplicates() {
    let m = vector("rfc8415-16.10-reply-all-options");
    let unknown: Vec<_> = m
        .options()
        .expect("options")
        .iter()
        .filter(|o| matches!(o, DhcpOption::Unknown { .. }))
        .collect();
    assert_eq!(unknown.len(), 2);
    let m = vector("rfc8415-16-unknown-type");
    assert!(matches!(
        m,
        Message::Unknown {
            msg_type: MessageType(99),
            ..
        }
    ));
    let m = vector("rfc8415-9-relay-forw-unknown-inner");
    assert!(matches!(
        m.innermost(),
        Message::Unknown {
            msg_type: MessageType(200),
            ..
        }
    ));
}
