//! Printing decoded messages: an indented tree for people, JSON lines for programs.
//!
//! Both forms come from the same walk: each option is one node with its code, registry name,
//! payload length and a one-line value; container options (IA_NA, IAADDR, CLIENT_DATA, …)
//! have child nodes, and RELAY_MSG / LQ_RELAY_DATA hold a whole message.

use std::fmt::Write as _;

use dhcpv6_wire::{DhcpOption, Duid, DuidKind, Emit, Message, Options};
use serde_json::{Map, Value, json};

/// One option, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    code: u16,
    name: String,
    len: usize,
    value: String,
    children: Vec<Self>,
    message: Option<Box<MessageNode>>,
}

/// One message, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MessageNode {
    type_code: u8,
    type_name: String,
    header: Vec<(&'static str, Value)>,
    len: usize,
    options: Vec<Node>,
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Bytes as text when they are printable ASCII, hex otherwise.
fn text_or_hex(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        format!("\"{}\"", String::from_utf8_lossy(b))
    } else {
        format!("0x{}", hex(b))
    }
}

fn duid(d: &Duid) -> String {
    match d.kind() {
        DuidKind::Llt {
            hardware_type,
            time,
            link_layer_address,
        } => {
            format!(
                "DUID-LLT hw-type {hardware_type} time {time} link-layer {}",
                colon_hex(link_layer_address)
            )
        }
        DuidKind::En {
            enterprise_number,
            identifier,
        } => {
            format!(
                "DUID-EN enterprise {enterprise_number} id 0x{}",
                hex(identifier)
            )
        }
        DuidKind::Ll {
            hardware_type,
            link_layer_address,
        } => {
            format!(
                "DUID-LL hw-type {hardware_type} link-layer {}",
                colon_hex(link_layer_address)
            )
        }
        DuidKind::Uuid(u) => format!("DUID-UUID {}", hex(u)),
        DuidKind::Other { duid_type, data } => format!("DUID type {duid_type} 0x{}", hex(data)),
        _ => format!("DUID 0x{}", hex(d.as_bytes())),
    }
}

fn list<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one-line value of an option and its nested options or message, if any.
fn describe(o: &DhcpOption) -> (String, Option<&Options>, Option<&Message>) {
    match o {
        DhcpOption::ClientId(d) | DhcpOption::ServerId(d) | DhcpOption::RelayId(d) => {
            (duid(d), None, None)
        }
        DhcpOption::IaNa(ia) => (
            format!("iaid {:#010x} T1 {} T2 {}", ia.iaid, ia.t1, ia.t2),
            Some(&ia.options),
            None,
        ),
        DhcpOption::IaTa(ia) => (format!("iaid {:#010x}", ia.iaid), Some(&ia.options), None),
        DhcpOption::IaPd(ia) => (
            format!("iaid {:#010x} T1 {} T2 {}", ia.iaid, ia.t1, ia.t2),
            Some(&ia.options),
            None,
        ),
        DhcpOption::IaAddr(a) => (
            format!(
                "{} preferred {} valid {}",
                a.address, a.preferred_lifetime, a.valid_lifetime
            ),
            Some(&a.options),
            None,
        ),
        DhcpOption::IaPrefix(p) => (
            format!(
                "{}/{} preferred {} valid {}",
                p.prefix,
                p.prefix_len(),
                p.preferred_lifetime,
                p.valid_lifetime
            ),
            Some(&p.options),
            None,
        ),
        DhcpOption::Oro(codes) => {
            let names: Vec<String> = codes
                .iter()
                .map(|c| {
                    c.name()
                        .map_or_else(|| format!("option {}", c.0), str::to_owned)
                })
                .collect();
            (names.join(", "), None, None)
        }
        DhcpOption::Preference(p) => (p.to_string(), None, None),
        DhcpOption::ElapsedTime(t) => (format!("{} ms", u32::from(*t) * 10), None, None),
        DhcpOption::RelayMsg(m) => (String::new(), None, Some(m)),
        DhcpOption::Auth(a) => (
            format!(
                "protocol {} algorithm {} rdm {} replay {:#018x} info 0x{}",
                a.protocol,
                a.algorithm,
                a.rdm,
                a.replay_detection,
                hex(&a.info)
            ),
            None,
            None,
        ),
        DhcpOption::Unicast(a) => (a.to_string(), None, None),
        DhcpOption::StatusCode(s) => {
            let text = if s.message.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", s.message.escape_debug())
            };
            (format!("{} ({}){text}", s.status, s.status.0), None, None)
        }
        DhcpOption::RapidCommit | DhcpOption::ReconfAccept => (String::new(), None, None),
        DhcpOption::UserClass(items) => (
            items
                .iter()
                .map(|i| text_or_hex(i))
                .collect::<Vec<_>>()
                .join(", "),
            None,
            None,
        ),
        DhcpOption::VendorClass(v) => (
            format!(
                "enterprise {} {}",
                v.enterprise_number,
                v.data
                    .iter()
                    .map(|i| text_or_hex(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
            None,
        ),
        DhcpOption::VendorOpts(v) => (
            format!(
                "enterprise {} {}",
                v.enterprise_number,
                v.options
                    .iter()
                    .map(|o| format!("{}={}", o.code, text_or_hex(&o.data)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
            None,
        ),
        DhcpOption::InterfaceId(id) => (text_or_hex(id), None, None),
        DhcpOption::ReconfMsg(t) => (format!("{t} ({})", t.0), None, None),
        DhcpOption::DnsServers(a) | DhcpOption::LqClientLink(a) => (list(a), None, None),
        DhcpOption::DomainList(names) => (list(&names.to_vec()), None, None),
        DhcpOption::ClientFqdn(f) => (
            format!("flags {:#04x} name {}", f.flags, f.name),
            None,
            None,
        ),
        DhcpOption::LqQuery(q) => (
            format!("query-type {} link {}", q.query_type, q.link_address),
            Some(&q.options),
            None,
        ),
        DhcpOption::ClientData(opts) | DhcpOption::DnsRemovalInfo(opts) => {
            (String::new(), Some(opts), None)
        }
        DhcpOption::LqRelayData(d) => (format!("peer {}", d.peer_address), None, Some(&d.message)),
        DhcpOption::Vss(v) => (
            format!("type {} info {}", v.vss_type, text_or_hex(&v.info)),
            None,
            None,
        ),
        DhcpOption::BindingStatus(s) => (format!("{s} ({})", s.0), None, None),
        DhcpOption::ServerState(s) => (format!("{s} ({})", s.0), None, None),
        DhcpOption::DnsHostName(n) | DhcpOption::DnsZoneName(n) => (n.to_string(), None, None),
        DhcpOption::ProtocolVersion(v) => (format!("{}.{}", v.major, v.minor), None, None),
        DhcpOption::ReconfigureData(r) => {
            (format!("time {} key 0x{}", r.time, hex(&r.key)), None, None)
        }
        DhcpOption::RelationshipName(n) => (format!("\"{}\"", n.escape_debug()), None, None),
        DhcpOption::ConnectFlags(f) | DhcpOption::DnsFlags(f) => (format!("{f:#06x}"), None, None),
        DhcpOption::ServerFlags(f) => (format!("{f:#04x}"), None, None),
        DhcpOption::Unknown { data, .. } => (format!("0x{}", hex(data)), None, None),
        other => match other.u32_value() {
            // Times, lifetimes and counters: every remaining typed option is one u32.
            Some(v) => (v.to_string(), None, None),
            None => (
                format!("0x{}", hex(other.to_vec().get(4..).unwrap_or_default())),
                None,
                None,
            ),
        },
    }
}

fn node(o: &DhcpOption) -> Node {
    let (value, children, message) = describe(o);
    let code = o.code();
    Node {
        code: code.0,
        name: code
            .name()
            .map_or_else(|| format!("option {}", code.0), str::to_owned),
        len: o.emitted_len().saturating_sub(4),
        value,
        children: children
            .map(|c| c.iter().map(node).collect())
            .unwrap_or_default(),
        message: message.map(|m| Box::new(message_node(m))),
    }
}

/// Builds the printable form of a message.
pub(crate) fn message_node(m: &Message) -> MessageNode {
    let t = m.msg_type();
    let mut header = Vec::new();
    match m {
        Message::Client(c) => header.push((
            "transaction_id",
            json!(format!("{:#08x}", c.transaction_id)),
        )),
        Message::Relay(r) => {
            header.push(("hop_count", json!(r.hop_count)));
            header.push(("link_address", json!(r.link_address.to_string())));
            header.push(("peer_address", json!(r.peer_address.to_string())));
        }
        Message::Failover(f) => {
            header.push((
                "transaction_id",
                json!(format!("{:#08x}", f.transaction_id)),
            ));
            header.push(("sent_time", json!(f.sent_time)));
        }
        Message::Unknown { data, .. } => header.push(("data", json!(hex(data)))),
        _ => {}
    }
    MessageNode {
        type_code: t.0,
        type_name: t
            .name()
            .map_or_else(|| format!("type {}", t.0), str::to_owned),
        header,
        len: m.emitted_len(),
        options: m
            .options()
            .map(|o| o.iter().map(node).collect())
            .unwrap_or_default(),
    }
}

fn header_text(m: &MessageNode) -> String {
    let mut s = format!("{} ({})", m.type_name, m.type_code);
    for (k, v) in &m.header {
        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        let _ = write!(s, " {} {v}", k.replace('_', "-"));
    }
    let _ = write!(s, ", {} bytes", m.len);
    s
}

/// Appends the indented tree of `m` to `out`.
pub(crate) fn tree(m: &MessageNode, indent: usize, out: &mut String) {
    let _ = writeln!(out, "{:indent$}{}", "", header_text(m));
    for o in &m.options {
        tree_option(o, indent + 2, out);
    }
}

fn tree_option(o: &Node, indent: usize, out: &mut String) {
    let sep = if o.value.is_empty() { "" } else { ": " };
    let _ = writeln!(
        out,
        "{:indent$}{} ({}) [{}]{sep}{}",
        "", o.name, o.code, o.len, o.value
    );
    for c in &o.children {
        tree_option(c, indent + 2, out);
    }
    if let Some(m) = &o.message {
        tree(m, indent + 2, out);
    }
}

/// The JSON form of `m`.
pub(crate) fn json(m: &MessageNode) -> Value {
    let mut obj = Map::new();
    obj.insert("type".into(), json!(m.type_name));
    obj.insert("type_code".into(), json!(m.type_code));
    for (k, v) in &m.header {
        obj.insert((*k).into(), v.clone());
    }
    obj.insert("length".into(), json!(m.len));
    obj.insert(
        "options".into(),
        Value::Array(m.options.iter().map(json_option).collect()),
    );
    Value::Object(obj)
}

fn json_option(o: &Node) -> Value {
    let mut obj = Map::new();
    obj.insert("code".into(), json!(o.code));
    obj.insert("name".into(), json!(o.name));
    obj.insert("length".into(), json!(o.len));
    if !o.value.is_empty() {
        obj.insert("value".into(), json!(o.value));
    }
    if !o.children.is_empty() {
        obj.insert(
            "options".into(),
            Value::Array(o.children.iter().map(json_option).collect()),
        );
    }
    if let Some(m) = &o.message {
        obj.insert("message".into(), json(m));
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcpv6_wire::{ClientMessage, IaAddr, IaNa, MessageType, RelayMessage};
    use std::net::Ipv6Addr;

    fn sample() -> Message {
        let mut c = ClientMessage::new(MessageType::SOLICIT, 0x88d1b0);
        c.options.push(DhcpOption::ClientId(
            Duid::llt(1, 849_078_864, &[2, 0, 0, 0, 0, 2]).unwrap(),
        ));
        let addr = IaAddr {
            address: "2001:db8::1".parse().unwrap(),
            preferred_lifetime: 4,
            valid_lifetime: 6,
            options: Options::new(),
        };
        c.options.push(DhcpOption::IaNa(IaNa {
            iaid: 2,
            t1: 3600,
            t2: 5400,
            options: Options::new().with(DhcpOption::IaAddr(addr)),
        }));
        c.options.push(DhcpOption::ElapsedTime(5));
        let mut r = RelayMessage {
            msg_type: MessageType::RELAY_FORW,
            hop_count: 0,
            link_address: Ipv6Addr::UNSPECIFIED,
            peer_address: "fe80::2".parse().unwrap(),
            options: Options::new(),
        };
        r.options.push(DhcpOption::RelayMsg(Message::Client(c)));
        Message::Relay(r)
    }

    #[test]
    fn tree_shows_nesting() {
        let mut out = String::new();
        tree(&message_node(&sample()), 0, &mut out);
        let expected = "\
RELAY-FORW (12) hop-count 0 link-address :: peer-address fe80::2, 110 bytes
  OPTION_RELAY_MSG (9) [72]
    SOLICIT (1) transaction-id 0x88d1b0, 72 bytes
      OPTION_CLIENTID (1) [14]: DUID-LLT hw-type 1 time 849078864 link-layer 02:00:00:00:00:02
      OPTION_IA_NA (3) [40]: iaid 0x00000002 T1 3600 T2 5400
        OPTION_IAADDR (5) [24]: 2001:db8::1 preferred 4 valid 6
      OPTION_ELAPSED_TIME (8) [2]: 50 ms
";
        assert_eq!(out, expected);
    }

    #[test]
    fn json_shows_nesting() {
        let v = json(&message_node(&sample()));
        assert_eq!(v["type"], "RELAY-FORW");
        let inner = &v["options"][0]["message"];
        assert_eq!(inner["transaction_id"], "0x88d1b0");
        assert_eq!(
            inner["options"][1]["options"][0]["value"],
            "2001:db8::1 preferred 4 valid 6"
        );
    }
}
