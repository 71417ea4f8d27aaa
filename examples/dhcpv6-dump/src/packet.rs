//! Link layer → IPv6 (with extension headers) → UDP or TCP.
//!
//! Offsets in results and errors count from the first byte of the captured packet, so an error
//! line can say exactly which byte of which frame is at fault.

use std::net::Ipv6Addr;

use crate::capture::linktype;

/// A transport segment carried in IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    /// Source address.
    pub(crate) src: Ipv6Addr,
    /// Destination address.
    pub(crate) dst: Ipv6Addr,
    /// Source port.
    pub(crate) src_port: u16,
    /// Destination port.
    pub(crate) dst_port: u16,
    /// UDP or TCP specifics.
    pub(crate) kind: SegmentKind,
    /// The transport payload as captured.
    pub(crate) payload: &'a [u8],
    /// Offset of `payload` in the captured packet.
    pub(crate) payload_offset: usize,
    /// Bytes of payload the headers announce but the capture does not hold (snap length).
    pub(crate) missing: usize,
}

/// Transport protocol of a [`Segment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentKind {
    /// UDP datagram.
    Udp,
    /// TCP segment.
    Tcp {
        /// Sequence number of the first payload byte (or of the SYN).
        seq: u32,
        /// SYN flag.
        syn: bool,
        /// FIN flag.
        fin: bool,
        /// RST flag.
        rst: bool,
    },
}

/// Result of dissecting one captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dissected<'a> {
    /// A UDP or TCP segment over IPv6.
    Segment(Segment<'a>),
    /// Something this tool has no business with (IPv4, ARP, ICMPv6, …).
    Other,
    /// An IPv6 fragment: DHCPv6 messages are not reassembled from fragments.
    Fragment {
        /// Offset of the fragment header.
        offset: usize,
    },
    /// A header that cannot be read.
    Malformed {
        /// Offset of the fault in the captured packet.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPES_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];
/// AF_INET6 on the BSDs and macOS (Linux never writes DLT_NULL for IPv6).
const BSD_AF_INET6: [u32; 3] = [24, 28, 30];

const NEXT_HOP_BY_HOP: u8 = 0;
const NEXT_TCP: u8 = 6;
const NEXT_UDP: u8 = 17;
const NEXT_ROUTING: u8 = 43;
const NEXT_FRAGMENT: u8 = 44;
const NEXT_AH: u8 = 51;
const NEXT_DEST_OPTS: u8 = 60;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn malformed(offset: usize, reason: impl Into<String>) -> Dissected<'static> {
    Dissected::Malformed {
        offset,
        reason: reason.into(),
    }
}

/// Dissects one captured packet of the given link type.
pub(crate) fn dissect(linktype: u32, data: &[u8]) -> Dissected<'_> {
    let ip_at = match linktype {
        linktype::ETHERNET => {
            let mut at = 12usize;
            let mut ethertype = be16(data, at);
            // Up to two VLAN tags (802.1Q, QinQ).
            for _ in 0..2 {
                match ethertype {
                    Some(t) if ETHERTYPES_VLAN.contains(&t) => {
                        at += 4;
                        ethertype = be16(data, at);
                    }
                    _ => break,
                }
            }
            match ethertype {
                None => return malformed(data.len(), "Ethernet header truncated"),
                Some(ETHERTYPE_IPV6) => at + 2,
                Some(_) => return Dissected::Other,
            }
        }
        linktype::LINUX_SLL => match be16(data, 14) {
            None => return malformed(data.len(), "Linux cooked (SLL) header truncated"),
            Some(ETHERTYPE_IPV6) => 16,
            Some(_) => return Dissected::Other,
        },
        linktype::LINUX_SLL2 => match be16(data, 0) {
            _ if data.len() < 20 => {
                return malformed(data.len(), "Linux cooked (SLL2) header truncated");
            }
            Some(ETHERTYPE_IPV6) => 20,
            Some(_) | None => return Dissected::Other,
        },
        linktype::NULL | linktype::LOOP => {
            let Some(raw) = data.get(..4) else {
                return malformed(data.len(), "loopback header truncated");
            };
            let mut b = [0u8; 4];
            b.copy_from_slice(raw);
            let le = u32::from_le_bytes(b);
            let be = u32::from_be_bytes(b);
            if BSD_AF_INET6.contains(&le) || BSD_AF_INET6.contains(&be) {
                4
            } else {
                return Dissected::Other;
            }
        }
        linktype::RAW | linktype::IPV6 => 0,
        linktype::IPV4 => return Dissected::Other,
        other => return malformed(0, format!("unsupported link type {other}")),
    };
    dissect_ipv6(data, ip_at)
}

fn dissect_ipv6(data: &[u8], at: usize) -> Dissected<'_> {
    let Some(&first) = data.get(at) else {
        return malformed(data.len(), "IP header missing");
    };
    if first >> 4 != 6 {
        return Dissected::Other;
    }
    let (Some(payload_len), Some(&next)) = (be16(data, at + 4), data.get(at + 6)) else {
        return malformed(data.len(), "IPv6 header truncated");
    };
    let (Some(src), Some(dst)) = (addr(data, at + 8), addr(data, at + 24)) else {
        return malformed(data.len(), "IPv6 header truncated");
    };
    let payload_at = at + 40;
    if payload_len == 0 && next == NEXT_HOP_BY_HOP {
        return malformed(at + 4, "IPv6 jumbogram (payload length 0) is not supported");
    }
    // What the IPv6 header promises ends here; the capture may hold less (snap length) or
    // more (Ethernet padding).
    let ip_end = payload_at + usize::from(payload_len);
    let mut next = next;
    let mut pos = payload_at;
    // Extension headers, bounded.
    for _ in 0..16 {
        match next {
            NEXT_HOP_BY_HOP | NEXT_ROUTING | NEXT_DEST_OPTS | NEXT_AH => {
                let (Some(&n), Some(&len)) = (data.get(pos), data.get(pos + 1)) else {
                    return malformed(pos, "IPv6 extension header truncated");
                };
                let ext_len = if next == NEXT_AH {
                    (usize::from(len) + 2) * 4
                } else {
                    (usize::from(len) + 1) * 8
                };
                next = n;
                pos += ext_len;
            }
            NEXT_FRAGMENT => return Dissected::Fragment { offset: pos },
            NEXT_UDP => return dissect_udp(data, src, dst, pos, ip_end),
            NEXT_TCP => return dissect_tcp(data, src, dst, pos, ip_end),
            _ => return Dissected::Other,
        }
        if pos > ip_end {
            return malformed(pos, "IPv6 extension headers run past the payload length");
        }
    }
    malformed(pos, "more than 16 IPv6 extension headers")
}

fn addr(data: &[u8], at: usize) -> Option<Ipv6Addr> {
    let b: [u8; 16] = data.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(b))
}

/// The payload between `start` and `end` as far as the capture holds it, and how much is
/// missing.
fn captured(data: &[u8], start: usize, end: usize) -> (&[u8], usize) {
    let have_end = end.min(data.len());
    let payload = data.get(start..have_end).unwrap_or_default();
    (payload, end.saturating_sub(have_end.max(start)))
}

fn dissect_udp(
    data: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    at: usize,
    ip_end: usize,
) -> Dissected<'_> {
    let (Some(src_port), Some(dst_port), Some(udp_len)) =
        (be16(data, at), be16(data, at + 2), be16(data, at + 4))
    else {
        return malformed(at, "UDP header truncated");
    };
    let udp_len = usize::from(udp_len);
    if udp_len < 8 {
        return malformed(
            at + 4,
            format!("UDP length {udp_len} is shorter than the UDP header"),
        );
    }
    let end = at + udp_len;
    if end > ip_end {
        return malformed(
            at + 4,
            format!("UDP length {udp_len} runs past the IPv6 payload"),
        );
    }
    let (payload, missing) = captured(data, at + 8, end);
    Dissected::Segment(Segment {
        src,
        dst,
        src_port,
        dst_port,
        kind: SegmentKind::Udp,
        payload,
        payload_offset: at + 8,
        missing,
    })
}

fn dissect_tcp(
    data: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    at: usize,
    ip_end: usize,
) -> Dissected<'_> {
    let (Some(src_port), Some(dst_port), Some(seq), Some(&off), Some(&flags)) = (
        be16(data, at),
        be16(data, at + 2),
        be32(data, at + 4),
        data.get(at + 12),
        data.get(at + 13),
    ) else {
        return malformed(at, "TCP header truncated");
    };
    let header_len = usize::from(off >> 4) * 4;
    if header_len < 20 {
        return malformed(
            at + 12,
            format!("TCP data offset {header_len} is shorter than the TCP header"),
        );
    }
    if at + header_len > ip_end {
        return malformed(
            at + 12,
            format!("TCP header of {header_len} bytes runs past the IPv6 payload"),
        );
    }
    let (payload, missing) = captured(data, at + header_len, ip_end);
    Dissected::Segment(Segment {
        src,
        dst,
        src_port,
        dst_port,
        kind: SegmentKind::Tcp {
            seq,
            syn: flags & 0x02 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
        },
        payload,
        payload_offset: at + header_len,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv6_udp(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&u16::try_from(payload.len() + 8).unwrap().to_be_bytes());
        p.extend_from_slice(&[17, 64]);
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&546u16.to_be_bytes());
        p.extend_from_slice(&547u16.to_be_bytes());
        p.extend_from_slice(&u16::try_from(payload.len() + 8).unwrap().to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn raw_ipv6_udp() {
        let p = ipv6_udp(&[1, 2, 3, 4]);
        let Dissected::Segment(s) = dissect(linktype::IPV6, &p) else {
            panic!("not a segment")
        };
        assert_eq!(
            (
                s.src_port,
                s.dst_port,
                s.payload,
                s.payload_offset,
                s.missing
            ),
            (546, 547, &[1u8, 2, 3, 4][..], 48, 0)
        );
    }

    #[test]
    fn ethernet_with_vlan_tag() {
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&[0x81, 0x00, 0, 5, 0x86, 0xdd]);
        p.extend_from_slice(&ipv6_udp(&[9]));
        let Dissected::Segment(s) = dissect(linktype::ETHERNET, &p) else {
            panic!("not a segment")
        };
        assert_eq!(s.payload_offset, 18 + 48);
        assert_eq!(s.payload, &[9]);
    }

    #[test]
    fn sll_and_sll2() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd]);
        sll.extend_from_slice(&ipv6_udp(&[7]));
        assert!(
            matches!(dissect(linktype::LINUX_SLL, &sll), Dissected::Segment(s) if s.payload == [7])
        );
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ipv6_udp(&[8]));
        assert!(
            matches!(dissect(linktype::LINUX_SLL2, &sll2), Dissected::Segment(s) if s.payload == [8])
        );
    }

    #[test]
    fn snapped_payload_reports_missing_bytes() {
        let p = ipv6_udp(&[1, 2, 3, 4, 5, 6]);
        let cut = p.get(..p.len() - 4).unwrap();
        let Dissected::Segment(s) = dissect(linktype::RAW, cut) else {
            panic!("not a segment")
        };
        assert_eq!((s.payload.len(), s.missing), (2, 4));
    }

    #[test]
    fn truncated_headers_are_errors_not_panics() {
        let p = ipv6_udp(&[1, 2, 3]);
        for len in 0..p.len() {
            let _ = dissect(linktype::RAW, p.get(..len).unwrap());
            let _ = dissect(linktype::ETHERNET, p.get(..len).unwrap());
            let _ = dissect(linktype::LINUX_SLL2, p.get(..len).unwrap());
        }
        assert!(matches!(
            dissect(linktype::RAW, p.get(..45).unwrap()),
            Dissected::Malformed { offset: 40, .. }
        ));
    }

    #[test]
    fn ipv4_is_skipped() {
        assert_eq!(dissect(linktype::RAW, &[0x45, 0, 0, 20]), Dissected::Other);
    }
}
