//! TCP stream reassembly for the failover connection (TCP 647), per direction.
//!
//! Segments are put in sequence order (retransmissions and overlaps trimmed, out-of-order
//! segments held back, bounded), and the ordered bytes go through the codec's
//! [`FrameDecoder`], so several frames in one segment and one frame across several segments
//! both come out as whole frames. A gap that never fills, a frame cut off by the end of the
//! capture, or a bad length prefix ends decoding of that direction with one event.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv6Addr;

use dhcpv6_wire::{FrameDecoder, MAX_FRAME_LEN, MessageType};

/// Out-of-order bytes held per direction before the stream is declared broken.
const MAX_PENDING: usize = 4 << 20;

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FlowKey {
    /// Sender address.
    pub(crate) src: Ipv6Addr,
    /// Sender port.
    pub(crate) src_port: u16,
    /// Receiver address.
    pub(crate) dst: Ipv6Addr,
    /// Receiver port.
    pub(crate) dst_port: u16,
}

/// What reassembly produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamEvent {
    /// A complete frame (the message without its 2-byte length prefix).
    Frame {
        /// The message bytes.
        bytes: Vec<u8>,
        /// Stream offset of the frame's length prefix.
        stream_offset: u64,
        /// Packet that carried the frame's first byte.
        first_packet: u64,
    },
    /// Decoding of this direction stopped.
    Error {
        /// Stream offset of the fault.
        stream_offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A note that is not an error (the stream switched to TLS after STARTTLS).
    Note(String),
}

#[derive(Debug)]
struct Flow {
    /// Sequence number of stream byte 0.
    isn: u32,
    /// Stream offset of the next byte the decoder expects.
    next: u64,
    /// Out-of-order segments by stream offset, with the packet that carried them.
    pending: BTreeMap<u64, (Vec<u8>, u64)>,
    pending_bytes: usize,
    decoder: FrameDecoder,
    /// (stream offset, packet number) of recent in-order segments, to name a frame's first
    /// packet.
    segments: VecDeque<(u64, u64)>,
    stopped: bool,
}

impl Flow {
    fn new(isn: u32) -> Self {
        Self {
            isn,
            next: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            decoder: FrameDecoder::new(MAX_FRAME_LEN),
            segments: VecDeque::new(),
            stopped: false,
        }
    }

    /// Stream offset of sequence number `seq`, unwrapped around the current position.
    fn offset_of(&self, seq: u32) -> i128 {
        let rel = seq.wrapping_sub(self.isn);
        // Compare modulo 2^32 against the low 32 bits of `next`; the signed distance says
        // whether `seq` lies before or after it.
        let low = u32::try_from(self.next & u64::from(u32::MAX)).unwrap_or(0);
        let diff = i32::from_be_bytes(rel.wrapping_sub(low).to_be_bytes());
        i128::from(self.next) + i128::from(diff)
    }

    fn feed(&mut self, data: &[u8], packet: u64, events: &mut Vec<StreamEvent>) {
        if self.stopped || data.is_empty() {
            return;
        }
        self.segments.push_back((self.next, packet));
        self.next += data.len() as u64;
        let mut input = data;
        loop {
            let start = self.decoder.stream_offset() as u64;
            match self.decoder.decode(&mut input) {
                Ok(Some(bytes)) => {
                    while self.segments.len() > 1
                        && self.segments.get(1).is_some_and(|&(o, _)| o <= start)
                    {
                        self.segments.pop_front();
                    }
                    let first_packet = self.segments.front().map_or(packet, |&(_, p)| p);
                    let starttls = bytes.first() == Some(&MessageType::STARTTLS.0);
                    events.push(StreamEvent::Frame {
                        bytes,
                        stream_offset: start,
                        first_packet,
                    });
                    if starttls {
                        // After STARTTLS (RFC 7653 §8.3) the TLS handshake follows on the
                        // same connection: those bytes are not DHCPv6 framing.
                        events.push(StreamEvent::Note(
                            "STARTTLS: the rest of this direction is TLS and is not decoded".into(),
                        ));
                        self.stop();
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    events.push(StreamEvent::Error {
                        stream_offset: e.offset as u64,
                        reason: format!("bad frame length prefix: {}", e.kind),
                    });
                    self.stop();
                    return;
                }
            }
        }
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.pending.clear();
        self.pending_bytes = 0;
        self.segments.clear();
    }

    fn segment(&mut self, seq: u32, payload: &[u8], packet: u64, events: &mut Vec<StreamEvent>) {
        if self.stopped || payload.is_empty() {
            return;
        }
        let at = self.offset_of(seq);
        let end = at + payload.len() as i128;
        let next = i128::from(self.next);
        if end <= next {
            return; // retransmission of bytes already consumed
        }
        if at > next {
            // Out of order: hold it until the gap before it fills.
            let key = u64::try_from(at).unwrap_or(u64::MAX);
            if !self.pending.contains_key(&key) {
                self.pending_bytes += payload.len();
                self.pending.insert(key, (payload.to_vec(), packet));
            }
            if self.pending_bytes > MAX_PENDING {
                events.push(StreamEvent::Error {
                    stream_offset: self.next,
                    reason: format!(
                        "{} bytes missing from the capture before stream offset {key}",
                        key - self.next
                    ),
                });
                self.stop();
            }
            return;
        }
        let skip = usize::try_from(next - at).unwrap_or(0);
        self.feed(payload.get(skip..).unwrap_or_default(), packet, events);
        // Drain held-back segments that are now in order.
        while let Some((&off, _)) = self.pending.first_key_value() {
            if off > self.next || self.stopped {
                break;
            }
            let Some((off, (data, pkt))) = self.pending.pop_first() else {
                break;
            };
            self.pending_bytes -= data.len();
            let skip = usize::try_from(self.next - off).unwrap_or(usize::MAX);
            if let Some(rest) = data.get(skip..) {
                self.feed(rest, pkt, events);
            }
        }
    }

    fn finish(&mut self, events: &mut Vec<StreamEvent>) {
        if self.stopped {
            return;
        }
        if let Some((&off, _)) = self.pending.first_key_value() {
            events.push(StreamEvent::Error {
                stream_offset: self.next,
                reason: format!(
                    "{} bytes missing from the capture before stream offset {off}",
                    off - self.next
                ),
            });
        } else if self.decoder.buffered() > 0 {
            events.push(StreamEvent::Error {
                stream_offset: self.decoder.stream_offset() as u64,
                reason: format!(
                    "capture ends inside a frame ({} bytes of it captured)",
                    self.decoder.buffered()
                ),
            });
        }
        self.stop();
    }
}

/// All TCP directions seen so far.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    flows: HashMap<FlowKey, Flow>,
}

impl Streams {
    /// Takes one segment; returns what it completed.
    pub(crate) fn segment(
        &mut self,
        key: FlowKey,
        seq: u32,
        syn: bool,
        payload: &[u8],
        packet: u64,
    ) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if syn {
            // A new connection on these ports: stream byte 0 follows the SYN. A SYN
            // retransmission resets nothing that matters (no data yet).
            let isn = seq.wrapping_add(1);
            let fresh = self.flows.get(&key).is_none_or(|f| f.isn != isn);
            if fresh {
                if let Some(mut old) = self.flows.remove(&key) {
                    old.finish(&mut events);
                }
                self.flows.insert(key, Flow::new(isn));
            }
            if let Some(f) = self.flows.get_mut(&key) {
                f.segment(isn, payload, packet, &mut events);
            }
            return events;
        }
        if payload.is_empty() {
            return events;
        }
        // Without its SYN (the capture started mid-connection), assume the first payload byte
        // seen starts a frame.
        let flow = self.flows.entry(key).or_insert_with(|| Flow::new(seq));
        flow.segment(seq, payload, packet, &mut events);
        events
    }

    /// At the end of the capture: reports directions that stopped inside a frame or a gap.
    pub(crate) fn finish(&mut self) -> Vec<(FlowKey, StreamEvent)> {
        let mut keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            if let Some(f) = self.flows.get_mut(&key) {
                let mut events = Vec::new();
                f.finish(&mut events);
                out.extend(events.into_iter().map(|e| (key, e)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FlowKey {
        FlowKey {
            src: Ipv6Addr::LOCALHOST,
            src_port: 40000,
            dst: Ipv6Addr::LOCALHOST,
            dst_port: 647,
        }
    }

    /// A framed fake failover message of `n` body bytes (type CONTACT).
    fn frame(n: u8) -> Vec<u8> {
        let len = 8 + u16::from(n);
        let mut f = len.to_be_bytes().to_vec();
        f.extend_from_slice(&[35, 0, 0, n, 0, 0, 0, 0]);
        f.extend(std::iter::repeat_n(n, usize::from(n)));
        f
    }

    fn frames(events: &[StreamEvent]) -> Vec<(usize, u64, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Frame {
                    bytes,
                    stream_offset,
                    first_packet,
                } => Some((bytes.len(), *stream_offset, *first_packet)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn several_frames_in_one_segment_and_one_across_segments() {
        let mut s = Streams::default();
        let mut stream = frame(1);
        stream.extend(frame(2));
        stream.extend(frame(30));
        let isn = 1000u32;
        assert!(s.segment(key(), isn - 1, true, &[], 1).is_empty());
        let (a, b) = stream.split_at(25);
        let mut ev = s.segment(key(), isn, false, a, 2);
        ev.extend(s.segment(key(), isn + 25, false, b, 3));
        assert_eq!(frames(&ev), vec![(9, 0, 2), (10, 11, 2), (38, 23, 2)]);
        assert!(s.finish().is_empty());
    }

    #[test]
    fn out_of_order_and_retransmitted_segments() {
        let mut s = Streams::default();
        let stream = [frame(3), frame(4)].concat();
        let isn = u32::MAX - 5; // sequence numbers wrap inside the stream
        s.segment(key(), isn.wrapping_sub(1), true, &[], 1);
        let (a, rest) = stream.split_at(7);
        let (_, c) = rest.split_at(10);
        let mut ev = s.segment(key(), isn.wrapping_add(17), false, c, 2);
        assert!(ev.is_empty());
        ev.extend(s.segment(key(), isn, false, a, 3));
        ev.extend(s.segment(key(), isn, false, a, 4)); // retransmission
        ev.extend(s.segment(key(), isn.wrapping_add(5), false, &stream[5..17], 5)); // overlaps what came
        assert_eq!(frames(&ev), vec![(11, 0, 3), (12, 13, 5)]);
        assert!(s.finish().is_empty());
    }

    #[test]
    fn truncated_frame_and_gap_are_reported_at_the_end() {
        let mut s = Streams::default();
        let f = frame(10);
        s.segment(key(), 0, true, &[], 1);
        assert!(frames(&s.segment(key(), 1, false, &f[..5], 2)).is_empty());
        let end = s.finish();
        assert!(
            matches!(&end[..], [(_, StreamEvent::Error { stream_offset: 0, reason })] if reason.contains("inside a frame"))
        );

        let mut s = Streams::default();
        s.segment(key(), 0, true, &[], 1);
        s.segment(key(), 1 + 4, false, &f[4..], 2);
        let end = s.finish();
        assert!(
            matches!(&end[..], [(_, StreamEvent::Error { reason, .. })] if reason.contains("4 bytes missing"))
        );
    }

    #[test]
    fn bad_length_prefix_stops_the_direction() {
        let mut s = Streams::default();
        let ev = s.segment(key(), 7, false, &[0, 3, 1, 2, 3, 0, 9], 1);
        assert!(matches!(
            &ev[..],
            [StreamEvent::Error {
                stream_offset: 0,
                ..
            }]
        ));
        assert!(s.segment(key(), 14, false, &frame(1), 2).is_empty());
        assert!(s.finish().is_empty());
    }

    #[test]
    fn starttls_ends_decoding() {
        let mut s = Streams::default();
        // STARTTLS (client/server header) with one empty option, then a TLS record header.
        let mut data = vec![0, 8, 23, 0, 0, 1, 0, 99, 0, 0];
        data.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x05]);
        let ev = s.segment(key(), 0, false, &data, 1);
        assert_eq!(frames(&ev).len(), 1);
        assert!(matches!(ev.last(), Some(StreamEvent::Note(_))));
        assert!(s.finish().is_empty());
    }
}
