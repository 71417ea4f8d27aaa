//! Capture files: classic pcap (either byte order, micro- or nanosecond timestamps) and pcapng
//! (section header, interface description, enhanced / simple / obsolete packet blocks).
//!
//! The reader walks a byte buffer and yields [`Packet`]s; anything it cannot use is either
//! skipped (unknown block types) or reported once as a [`CaptureError`] with its file offset,
//! after which the iterator ends. It never panics on malformed input.

use std::fmt;

/// Link-layer header types (<https://www.tcpdump.org/linktypes.html>) the dissector knows.
pub(crate) mod linktype {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub(crate) const NULL: u32 = 0;
    /// Ethernet II.
    pub(crate) const ETHERNET: u32 = 1;
    /// Raw IP (version from the first nibble).
    pub(crate) const RAW: u32 = 101;
    /// OpenBSD loopback: like NULL but the family is big-endian.
    pub(crate) const LOOP: u32 = 108;
    /// Linux "cooked" capture v1 (`tcpdump -i any` before libpcap 1.10).
    pub(crate) const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub(crate) const IPV4: u32 = 228;
    /// Raw IPv6.
    pub(crate) const IPV6: u32 = 229;
    /// Linux "cooked" capture v2.
    pub(crate) const LINUX_SLL2: u32 = 276;
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packet<'a> {
    /// 1-based packet number in the file, as Wireshark counts them.
    pub(crate) number: u64,
    /// Capture time in nanoseconds since the Unix epoch (0 if unknown).
    pub(crate) timestamp_ns: u128,
    /// Link-layer header type.
    pub(crate) linktype: u32,
    /// The captured bytes (possibly shorter than `original_len`).
    pub(crate) data: &'a [u8],
    /// The packet's length on the wire.
    pub(crate) original_len: u32,
    /// File offset of the packet's first byte.
    pub(crate) file_offset: usize,
}

/// Why a capture file cannot be read (further).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaptureError {
    /// File offset of the fault.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) reason: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at file byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for CaptureError {}

fn err<T>(offset: usize, reason: impl Into<String>) -> Result<T, CaptureError> {
    Err(CaptureError {
        offset,
        reason: reason.into(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Self::Little => u16::from_le_bytes(a),
            Self::Big => u16::from_be_bytes(a),
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Self::Little => u32::from_le_bytes(a),
            Self::Big => u32::from_be_bytes(a),
        })
    }
}

/// Interface of a pcapng section: link type and timestamp unit.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    /// Nanoseconds per timestamp unit as a rational: `ts * num / den`.
    ts_num: u128,
    ts_den: u128,
}

#[derive(Debug)]
enum Format {
    Pcap {
        endian: Endian,
        nanos: bool,
        linktype: u32,
    },
    PcapNg {
        endian: Endian,
        interfaces: Vec<Interface>,
    },
}

/// Iterator over the packets of a capture held in memory.
#[derive(Debug)]
pub(crate) struct Capture<'a> {
    data: &'a [u8],
    pos: usize,
    format: Format,
    number: u64,
    done: bool,
}

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BYTE_ORDER: u32 = 0x1a2b_3c4d;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OPB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;

impl<'a> Capture<'a> {
    /// Recognises the file format from its first bytes.
    pub(crate) fn new(data: &'a [u8]) -> Result<Self, CaptureError> {
        let Some(magic) = Endian::Little.u32(data, 0) else {
            return err(
                0,
                format!("file too short for a capture header ({} bytes)", data.len()),
            );
        };
        if magic == PCAPNG_SHB {
            // The section header's own parse sets the byte order; start at offset 0.
            return Ok(Self {
                data,
                pos: 0,
                format: Format::PcapNg {
                    endian: Endian::Little,
                    interfaces: Vec::new(),
                },
                number: 0,
                done: false,
            });
        }
        let (endian, nanos) = match (magic, magic.swap_bytes()) {
            (PCAP_MAGIC_US, _) => (Endian::Little, false),
            (PCAP_MAGIC_NS, _) => (Endian::Little, true),
            (_, PCAP_MAGIC_US) => (Endian::Big, false),
            (_, PCAP_MAGIC_NS) => (Endian::Big, true),
            _ => {
                return err(
                    0,
                    format!("not a pcap or pcapng file (magic {magic:#010x})"),
                );
            }
        };
        let Some(linktype) = endian.u32(data, 20) else {
            return err(data.len(), "pcap file header truncated (needs 24 bytes)");
        };
        Ok(Self {
            data,
            pos: 24,
            // The upper 6 bits of the link-type field carry FCS information (pcap spec §8).
            format: Format::Pcap {
                endian,
                nanos,
                linktype: linktype & 0x03ff_ffff,
            },
            number: 0,
            done: false,
        })
    }

    fn next_pcap(
        &mut self,
        endian: Endian,
        nanos: bool,
        linktype: u32,
    ) -> Result<Option<Packet<'a>>, CaptureError> {
        let at = self.pos;
        if at == self.data.len() {
            return Ok(None);
        }
        let (Some(sec), Some(frac), Some(incl), Some(orig)) = (
            endian.u32(self.data, at),
            endian.u32(self.data, at.saturating_add(4)),
            endian.u32(self.data, at.saturating_add(8)),
            endian.u32(self.data, at.saturating_add(12)),
        ) else {
            return err(
                at,
                format!(
                    "packet record header truncated ({} bytes left)",
                    self.data.len() - at
                ),
            );
        };
        let start = at.saturating_add(16);
        let end = start.saturating_add(incl as usize);
        let Some(body) = self.data.get(start..end) else {
            return err(
                at,
                format!(
                    "packet record says {incl} captured bytes, only {} left",
                    self.data.len().saturating_sub(start)
                ),
            );
        };
        self.pos = end;
        self.number = self.number.saturating_add(1);
        let frac_ns = if nanos {
            u128::from(frac)
        } else {
            u128::from(frac) * 1000
        };
        Ok(Some(Packet {
            number: self.number,
            timestamp_ns: u128::from(sec) * 1_000_000_000 + frac_ns,
            linktype,
            data: body,
            original_len: orig,
            file_offset: start,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Packet<'a>>, CaptureError> {
        loop {
            let at = self.pos;
            if at == self.data.len() {
                return Ok(None);
            }
            let Format::PcapNg { endian, interfaces } = &mut self.format else {
                return Ok(None);
            };
            let Some(block_type) = endian.u32(self.data, at) else {
                return err(at, "block header truncated");
            };
            if block_type == PCAPNG_SHB {
                // The byte-order magic decides how everything in this section is read.
                *endian = match Endian::Little.u32(self.data, at.saturating_add(8)) {
                    Some(PCAPNG_BYTE_ORDER) => Endian::Little,
                    Some(m) if m.swap_bytes() == PCAPNG_BYTE_ORDER => Endian::Big,
                    Some(m) => {
                        return err(
                            at.saturating_add(8),
                            format!("bad pcapng byte-order magic {m:#010x}"),
                        );
                    }
                    None => return err(at, "section header block truncated"),
                };
                interfaces.clear();
            }
            let endian = *endian;
            let Some(total) = endian.u32(self.data, at.saturating_add(4)) else {
                return err(at, "block header truncated");
            };
            let total = total as usize;
            if total < 12 || !total.is_multiple_of(4) {
                return err(
                    at.saturating_add(4),
                    format!("block length {total} is not a multiple of 4 of at least 12"),
                );
            }
            let end = at.saturating_add(total);
            let Some(block) = self.data.get(at..end) else {
                return err(
                    at,
                    format!("block of {total} bytes runs past the end of the file"),
                );
            };
            if endian.u32(block, total - 4) != Some(total as u32) {
                return err(
                    end - 4,
                    "block's trailing length differs from its leading length",
                );
            }
            self.pos = end;
            let body = block.get(8..total - 4).unwrap_or_default();
            let body_at = at.saturating_add(8);
            match block_type {
                PCAPNG_IDB => {
                    let Some(lt) = endian.u16(body, 0) else {
                        return err(body_at, "interface description block truncated");
                    };
                    let (ts_num, ts_den) = if_tsresol(endian, body.get(8..).unwrap_or_default());
                    interfaces.push(Interface {
                        linktype: u32::from(lt),
                        ts_num,
                        ts_den,
                    });
                }
                PCAPNG_EPB | PCAPNG_OPB => {
                    let (iface, hi, lo, cap, orig, data_at) = if block_type == PCAPNG_EPB {
                        (
                            endian.u32(body, 0),
                            endian.u32(body, 4),
                            endian.u32(body, 8),
                            endian.u32(body, 12),
                            endian.u32(body, 16),
                            20usize,
                        )
                    } else {
                        (
                            endian.u16(body, 0).map(u32::from),
                            endian.u32(body, 4),
                            endian.u32(body, 8),
                            endian.u32(body, 12),
                            endian.u32(body, 16),
                            20usize,
                        )
                    };
                    let (Some(iface), Some(hi), Some(lo), Some(cap), Some(orig)) =
                        (iface, hi, lo, cap, orig)
                    else {
                        return err(body_at, "packet block truncated");
                    };
                    let Some(ifc) = interfaces.get(iface as usize).copied() else {
                        return err(
                            body_at,
                            format!(
                                "packet block names interface {iface}, which was not described"
                            ),
                        );
                    };
                    let Some(data) = body.get(data_at..data_at.saturating_add(cap as usize)) else {
                        return err(
                            body_at,
                            format!(
                                "packet block says {cap} captured bytes, the block holds fewer"
                            ),
                        );
                    };
                    let ts = (u128::from(hi) << 32) | u128::from(lo);
                    self.number = self.number.saturating_add(1);
                    return Ok(Some(Packet {
                        number: self.number,
                        timestamp_ns: ts.saturating_mul(ifc.ts_num) / ifc.ts_den,
                        linktype: ifc.linktype,
                        data,
                        original_len: orig,
                        file_offset: body_at.saturating_add(data_at),
                    }));
                }
                PCAPNG_SPB => {
                    let Some(ifc) = interfaces.first().copied() else {
                        return err(
                            body_at,
                            "simple packet block before any interface description",
                        );
                    };
                    let Some(orig) = endian.u32(body, 0) else {
                        return err(body_at, "simple packet block truncated");
                    };
                    let avail = body.len().saturating_sub(4);
                    let cap = (orig as usize).min(avail);
                    let data = body.get(4..4 + cap).unwrap_or_default();
                    self.number = self.number.saturating_add(1);
                    return Ok(Some(Packet {
                        number: self.number,
                        timestamp_ns: 0,
                        linktype: ifc.linktype,
                        data,
                        original_len: orig,
                        file_offset: body_at.saturating_add(4),
                    }));
                }
                // Section headers (handled above), name resolution, statistics, custom blocks…
                _ => {}
            }
        }
    }
}

/// The `if_tsresol` option (code 9) of an interface description block, as a ratio that turns
/// timestamp units into nanoseconds. Default: microseconds.
fn if_tsresol(endian: Endian, mut opts: &[u8]) -> (u128, u128) {
    while let (Some(code), Some(len)) = (endian.u16(opts, 0), endian.u16(opts, 2)) {
        let len = usize::from(len);
        if code == 0 {
            break;
        }
        if code == 9
            && len == 1
            && let Some(&v) = opts.get(4)
        {
            let exp = u32::from(v & 0x7f);
            return if v & 0x80 == 0 {
                // A unit of 10^-exp seconds is 10^(9-exp) nanoseconds.
                match exp.checked_sub(9) {
                    None => (10u128.pow(9 - exp), 1),
                    Some(e) => 10u128.checked_pow(e).map_or((0, 1), |den| (1, den)),
                }
            } else {
                // A unit of 2^-exp seconds.
                2u128
                    .checked_pow(exp)
                    .map_or((0, 1), |den| (1_000_000_000, den))
            };
        }
        let padded = len.saturating_add(3) & !3;
        opts = opts
            .get(4usize.saturating_add(padded)..)
            .unwrap_or_default();
    }
    (1000, 1)
}

impl<'a> Iterator for Capture<'a> {
    type Item = Result<Packet<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match self.format {
            Format::Pcap {
                endian,
                nanos,
                linktype,
            } => self.next_pcap(endian, nanos, linktype),
            Format::PcapNg { .. } => self.next_pcapng(),
        };
        match r {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
