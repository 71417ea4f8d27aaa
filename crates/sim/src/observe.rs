//! A deliberately small, independent decoder for what the endpoints put on the partner link.
//!
//! The checker must judge the endpoint from the outside, so it does not reuse the endpoint's own
//! codec: it splits the stream into RFC 8156 frames (2-byte length, then msg-type, 24-bit xid,
//! 32-bit sent-time, options) and pulls out the few fields the invariants and the trace need.

use std::fmt;
use std::net::Ipv6Addr;

/// Message types 24..=35 (RFC 8156 §5.3, final IANA values).
pub fn msg_name(t: u8) -> &'static str {
    match t {
        24 => "BNDUPD",
        25 => "BNDREPLY",
        26 => "POOLREQ",
        27 => "POOLRESP",
        28 => "UPDREQ",
        29 => "UPDREQALL",
        30 => "UPDDONE",
        31 => "CONNECT",
        32 => "CONNECTREPLY",
        33 => "DISCONNECT",
        34 => "STATE",
        35 => "CONTACT",
        _ => "?",
    }
}

/// Server-state values (RFC 8156 §5.5.16, final values).
pub fn state_name(v: u8) -> &'static str {
    match v {
        1 => "STARTUP",
        2 => "NORMAL",
        3 => "COMMUNICATIONS-INTERRUPTED",
        4 => "PARTNER-DOWN",
        5 => "POTENTIAL-CONFLICT",
        6 => "RECOVER",
        7 => "RECOVER-WAIT",
        8 => "RECOVER-DONE",
        9 => "RESOLUTION-INTERRUPTED",
        10 => "CONFLICT-DONE",
        _ => "?",
    }
}

/// Binding-status values (RFC 8156 §5.5.1).
pub fn binding_status_name(v: u8) -> &'static str {
    match v {
        1 => "ACTIVE",
        2 => "EXPIRED",
        3 => "RELEASED",
        4 => "PENDING-FREE",
        5 => "FREE",
        6 => "FREE-BACKUP",
        7 => "ABANDONED",
        8 => "RESET",
        _ => "?",
    }
}

/// A lease named in a BNDUPD or BNDREPLY.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeaseRef {
    /// The address, or the prefix.
    pub addr: Ipv6Addr,
    /// `128` for an address, else the prefix length.
    pub len: u8,
    /// OPTION_F_BINDING_STATUS, if present.
    pub status: Option<u8>,
    /// The status code that applies to this lease (its own or an enclosing one), if any.
    pub code: Option<u16>,
    /// The valid lifetime field.
    pub valid: u32,
    /// A top-level OPTION_IAPREFIX (a delegable prefix not bound to a client).
    pub top_level: bool,
}

/// The fields of one failover message that the simulation looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// msg-type.
    pub msg_type: u8,
    /// transaction-id.
    pub xid: u32,
    /// sent-time (abs-time).
    pub sent_time: u32,
    /// STATE: OPTION_F_SERVER_STATE.
    pub server_state: Option<u8>,
    /// STATE: OPTION_F_SERVER_FLAGS.
    pub server_flags: Option<u8>,
    /// Top-level OPTION_STATUS_CODE.
    pub status_code: Option<u16>,
    /// BNDUPD/BNDREPLY: the leases it names.
    pub leases: Vec<LeaseRef>,
}

impl Observed {
    /// Whether this is a STATE with the STARTUP (S) flag set.
    pub fn is_startup_state(&self) -> bool {
        self.server_flags.is_some_and(|f| f & 0x02 != 0)
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} xid={:06x}", msg_name(self.msg_type), self.xid)?;
        if let Some(s) = self.server_state {
            write!(f, " state={}", state_name(s))?;
        }
        if let Some(fl) = self.server_flags {
            write!(f, " flags={fl:#04x}")?;
        }
        if let Some(c) = self.status_code {
            write!(f, " status={c}")?;
        }
        for l in &self.leases {
            write!(f, " [{}/{}", l.addr, l.len)?;
            if let Some(s) = l.status {
                write!(f, " {}", binding_status_name(s))?;
            }
            write!(f, " valid={}", l.valid)?;
            if l.top_level {
                write!(f, " pool")?;
            }
            if let Some(c) = l.code {
                write!(f, " code={c}")?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Iterates TLV options; stops (without panicking) at the first malformed one.
fn options(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let code = be16(b, 0)?;
        let len = usize::from(be16(b, 2)?);
        let data = b.get(4..4 + len)?;
        b = b.get(4 + len..)?;
        Some((code, data))
    })
}

fn status_of(opts: &[u8]) -> Option<u16> {
    options(opts)
        .find(|(c, _)| *c == 13)
        .and_then(|(_, d)| be16(d, 0))
}

fn lease_from(opts: &[u8], addr: Ipv6Addr, len: u8, valid: u32, outer: Option<u16>) -> LeaseRef {
    let status = options(opts)
        .find(|(c, _)| *c == 114)
        .and_then(|(_, d)| d.first().copied());
    let code = status_of(opts).or(outer);
    LeaseRef {
        addr,
        len,
        status,
        code,
        valid,
        top_level: false,
    }
}

fn ipv6(b: &[u8]) -> Option<Ipv6Addr> {
    let a: [u8; 16] = b.get(..16)?.try_into().ok()?;
    Some(Ipv6Addr::from(a))
}

fn iaprefix(d: &[u8], outer: Option<u16>) -> Option<LeaseRef> {
    let valid = be32(d, 4)?;
    let len = *d.get(8)?;
    let addr = ipv6(d.get(9..)?)?;
    Some(lease_from(d.get(25..)?, addr, len, valid, outer))
}

fn iaaddr(d: &[u8], outer: Option<u16>) -> Option<LeaseRef> {
    let addr = ipv6(d)?;
    let valid = be32(d, 20)?;
    Some(lease_from(d.get(24..)?, addr, 128, valid, outer))
}

/// Decodes one message body (after the length prefix).
pub fn decode(msg: &[u8]) -> Option<Observed> {
    let msg_type = *msg.first()?;
    let xid = u32::from_be_bytes([0, *msg.get(1)?, *msg.get(2)?, *msg.get(3)?]);
    let sent_time = be32(msg, 4)?;
    let opts = msg.get(8..)?;
    let mut o = Observed {
        msg_type,
        xid,
        sent_time,
        server_state: None,
        server_flags: None,
        status_code: None,
        leases: Vec::new(),
    };
    for (code, data) in options(opts) {
        match code {
            132 => o.server_state = data.first().copied(),
            131 => o.server_flags = data.first().copied(),
            13 => o.status_code = be16(data, 0),
            26 => o.leases.extend(iaprefix(data, None).map(|l| LeaseRef {
                top_level: true,
                ..l
            })),
            45 => {
                let cd_code = status_of(data);
                for (c, ia) in options(data) {
                    if c != 3 && c != 25 {
                        continue;
                    }
                    let Some(inner) = ia.get(12..) else { continue };
                    let ia_code = status_of(inner).or(cd_code);
                    for (c2, d2) in options(inner) {
                        match c2 {
                            5 => o.leases.extend(iaaddr(d2, ia_code)),
                            26 => o.leases.extend(iaprefix(d2, ia_code)),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // A top-level status in a BNDREPLY rejects every lease in it (RFC 8156 §7.6).
    if let Some(c) = o.status_code {
        for l in &mut o.leases {
            l.code.get_or_insert(c);
        }
    }
    Some(o)
}

/// Splits a byte stream into frames (2-byte length, message) and decodes each.
#[derive(Clone, Debug, Default)]
pub struct StreamObserver {
    buf: Vec<u8>,
}

impl StreamObserver {
    /// Forgets any partial frame (a new connection).
    pub fn reset(&mut self) {
        self.buf.clear();
    }

    /// Feeds bytes; returns every complete message (undecodable ones as `None`).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Option<Observed>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(len) = be16(&self.buf, 0) {
            let end = 2 + usize::from(len);
            if self.buf.len() < end {
                break;
            }
            out.push(self.buf.get(2..end).and_then(decode));
            self.buf.drain(..end);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_example_from_the_digest() {
        // 00 08 | 23 | 00 00 01 | 2A 3B 4C 5D: CONTACT, xid 1.
        let mut s = StreamObserver::default();
        let got = s.feed(&[0x00, 0x08, 0x23, 0, 0, 1, 0x2A, 0x3B]);
        assert!(got.is_empty());
        let got = s.feed(&[0x4C, 0x5D]);
        let o = got[0].clone().expect("decodes");
        assert_eq!(o.msg_type, 35);
        assert_eq!(o.xid, 1);
        assert_eq!(o.sent_time, 0x2A3B_4C5D);
    }

    #[test]
    fn state_and_bndreply_fields() {
        // STATE: server-state NORMAL (132), flags S (131).
        let mut m = vec![34, 0, 0, 7, 0, 0, 0, 1];
        m.extend_from_slice(&[0, 132, 0, 1, 2, 0, 131, 0, 1, 2]);
        let o = decode(&m).expect("state");
        assert_eq!(o.server_state, Some(2));
        assert!(o.is_startup_state());
        // BNDREPLY with a top-level IAPREFIX 2001:db8::/56 status FREE-BACKUP, code 19.
        let mut p = vec![0, 0, 0, 0, 0, 0, 0, 0, 56];
        p.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0).octets());
        p.extend_from_slice(&[0, 114, 0, 1, 6, 0, 13, 0, 2, 0, 19]);
        let mut m = vec![25, 0, 0, 9, 0, 0, 0, 1, 0, 26];
        m.extend_from_slice(&u16::try_from(p.len()).expect("len").to_be_bytes());
        m.extend_from_slice(&p);
        let o = decode(&m).expect("bndreply");
        assert_eq!(o.leases.len(), 1);
        assert_eq!(o.leases[0].len, 56);
        assert_eq!(o.leases[0].status, Some(6));
        assert_eq!(o.leases[0].code, Some(19));
    }
}
