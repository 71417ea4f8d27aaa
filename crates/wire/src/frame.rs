//! TCP stream framing of failover messages.
//!
//! Each message on the failover connection is preceded by a 2-octet length in network order
//! that counts the message bytes after it.
//!
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.1
//# The failover protocol uses the TCP framing of RFC 5460 §5.1: every message is preceded by a
//# two-octet message-size in network byte order, which does not count itself.

use alloc::vec::Vec;

use bytes::BufMut;

use crate::error::{EmitError, FrameError, ParseError, ParseErrorKind};
use crate::message::{FAILOVER_HEADER_LEN, FailoverMessage};
use crate::{Emit, len_u16};

/// Largest frame the 2-byte length prefix can express.
pub const MAX_FRAME_LEN: usize = 65_535;

/// Incremental decoder of length-prefixed frames.
///
/// Feed it bytes in chunks of any size with [`FrameDecoder::push`], then drain complete frames
/// with [`FrameDecoder::next_frame`] until it returns `Ok(None)`. It never holds more than
/// `2 + max_frame` bytes: `push` accepts only what fits and returns how many bytes it took, so
/// the caller pushes the rest after draining. A frame longer than `max_frame` or shorter than
/// the 8-byte failover header is an error; after an error the decoder is poisoned (the stream
/// cannot be resynchronised) and returns the same error forever.
///
/// ```
/// use dhcpv6_wire::FrameDecoder;
/// let mut d = FrameDecoder::new(1024);
/// let stream = [0, 8, 35, 0, 0, 1, 0x2a, 0x3b, 0x4c, 0x5d, 0, 8];
/// assert_eq!(d.push(&stream), stream.len());
/// assert_eq!(d.next_frame().unwrap().unwrap(), &stream[2..10]);
/// assert_eq!(d.next_frame().unwrap(), None); // the second frame is incomplete
/// ```
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    max_frame: usize,
    buf: Vec<u8>,
    start: usize,
    stream_offset: usize,
    error: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max_frame` bytes (clamped to
    /// 8..=[`MAX_FRAME_LEN`]).
    #[must_use]
    pub fn new(max_frame: usize) -> Self {
        let max_frame = max_frame.clamp(FAILOVER_HEADER_LEN, MAX_FRAME_LEN);
        Self {
            max_frame,
            buf: Vec::new(),
            start: 0,
            stream_offset: 0,
            error: None,
        }
    }

    /// The configured maximum frame length.
    #[must_use]
    pub const fn max_frame(&self) -> usize {
        self.max_frame
    }

    fn capacity(&self) -> usize {
        self.max_frame.saturating_add(2)
    }

    /// Bytes currently buffered.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Offset in the stream of the next unconsumed byte.
    #[must_use]
    pub const fn stream_offset(&self) -> usize {
        self.stream_offset
    }

    /// Whether an error has poisoned the decoder.
    #[must_use]
    pub const fn is_poisoned(&self) -> bool {
        self.error.is_some()
    }

    /// Buffers as much of `bytes` as fits and returns how many bytes were taken. After an
    /// error every byte is taken and discarded.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        if self.error.is_some() {
            return bytes.len();
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let free = self.capacity().saturating_sub(self.buf.len());
        let n = free.min(bytes.len());
        self.buf
            .extend_from_slice(bytes.get(..n).unwrap_or_default());
        n
    }

    /// The next complete frame (the message bytes without the length prefix), `Ok(None)` if
    /// more bytes are needed.
    ///
    /// # Errors
    /// [`ParseErrorKind::FrameTooLarge`] or [`ParseErrorKind::FrameTooShort`], with `offset`
    /// the stream offset of the bad length prefix. The error repeats on every later call.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let avail = self.buf.get(self.start..).unwrap_or_default();
        let Some(prefix) = avail.first_chunk::<2>() else {
            return Ok(None);
        };
        let declared = usize::from(u16::from_be_bytes(*prefix));
        let kind = if declared > self.max_frame {
            Some(ParseErrorKind::FrameTooLarge {
                declared,
                max: self.max_frame,
            })
        } else if declared < FAILOVER_HEADER_LEN {
            Some(ParseErrorKind::FrameTooShort {
                declared,
                min: FAILOVER_HEADER_LEN,
            })
        } else {
            None
        };
        if let Some(kind) = kind {
            let e = ParseError::new(self.stream_offset, kind);
            self.error = Some(e.clone());
            self.buf = Vec::new();
            self.start = 0;
            return Err(e);
        }
        let total = declared.saturating_add(2);
        let Some(frame) = avail.get(2..total) else {
            return Ok(None);
        };
        let frame = frame.to_vec();
        self.start = self.start.saturating_add(total);
        self.stream_offset = self.stream_offset.saturating_add(total);
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(frame))
    }

    /// The copy-free case of [`FrameDecoder::decode`]: when nothing is buffered and `input`
    /// starts with a complete frame of an acceptable length, takes that frame from the front
    /// of `input` and returns it borrowed. Otherwise (bytes buffered, an incomplete frame, a
    /// bad length prefix, a poisoned decoder) returns `None` and leaves `input` and the decoder
    /// untouched; [`FrameDecoder::decode`] then handles the input, including its errors.
    pub fn take_whole<'a>(&mut self, input: &mut &'a [u8]) -> Option<&'a [u8]> {
        if self.error.is_some() || self.buffered() != 0 {
            return None;
        }
        let whole: &'a [u8] = input;
        let declared = usize::from(u16::from_be_bytes(*whole.first_chunk::<2>()?));
        if declared > self.max_frame || declared < FAILOVER_HEADER_LEN {
            return None;
        }
        let total = declared.saturating_add(2);
        let frame = whole.get(2..total)?;
        *input = whole.get(total..).unwrap_or_default();
        self.stream_offset = self.stream_offset.saturating_add(total);
        Some(frame)
    }

    /// Takes bytes from the front of `input` as needed and returns the next complete frame,
    /// or `Ok(None)` once `input` is exhausted without completing one.
    ///
    /// # Errors
    /// As [`FrameDecoder::next_frame`].
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            if let Some(f) = self.next_frame()? {
                return Ok(Some(f));
            }
            if input.is_empty() {
                return Ok(None);
            }
            let n = self.push(input);
            let (_, rest) = input.split_at_checked(n).unwrap_or((input, &[]));
            *input = rest;
            if n == 0 {
                return Ok(None);
            }
        }
    }
}

/// Writes `msg` with its 2-byte length prefix.
///
/// # Errors
/// [`EmitError::TooLong`] (and nothing is written) if the message exceeds [`MAX_FRAME_LEN`].
pub fn encode_frame(msg: &FailoverMessage, out: &mut impl BufMut) -> Result<(), EmitError> {
    let len = msg.emitted_len();
    if len > MAX_FRAME_LEN {
        return Err(EmitError::TooLong {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    out.put_u16(len_u16(len));
    msg.emit(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::MessageType;
    use alloc::string::ToString;
    use hex_literal::hex;

    #[test]
    fn contact_example_from_the_digest() {
        let msg = FailoverMessage::new(MessageType::CONTACT, 1, 0x2a3b_4c5d);
        let mut out = Vec::new();
        encode_frame(&msg, &mut out).unwrap();
        assert_eq!(out, hex!("0008 23 000001 2a3b4c5d"));
        let mut d = FrameDecoder::new(100);
        for b in &out {
            assert_eq!(d.push(core::slice::from_ref(b)), 1);
        }
        let f = d.next_frame().unwrap().unwrap();
        assert_eq!(FailoverMessage::parse(&f).unwrap(), msg);
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.stream_offset(), 10);
    }

    #[test]
    fn several_frames_in_one_chunk_and_one_across_chunks() {
        let one = hex!("0008 23 000001 00000000");
        let stream = [&one[..], &one[..], &one[..5]].concat();
        let mut d = FrameDecoder::new(64);
        let mut input = &stream[..];
        assert!(d.decode(&mut input).unwrap().is_some());
        assert!(d.decode(&mut input).unwrap().is_some());
        assert_eq!(d.decode(&mut input).unwrap(), None);
        let mut input = &one[5..];
        assert_eq!(d.decode(&mut input).unwrap().unwrap(), &one[2..]);
    }

    /// `take_whole` then `decode` yields what `decode` alone yields, for every split of a
    /// stream into two chunks, including a bad length prefix at the end.
    #[test]
    fn take_whole_agrees_with_decode_on_every_split() {
        let one = hex!("0008 23 000001 00000000");
        let two = hex!("0009 23 000002 00000000 ff");
        let stream = [&one[..], &two[..], &one[..], &hex!("0003 00")[..]].concat();
        let drain = |d: &mut FrameDecoder, chunks: &[&[u8]], fast: bool| {
            let mut out = Vec::new();
            for chunk in chunks {
                let mut input = *chunk;
                loop {
                    if fast && let Some(f) = d.take_whole(&mut input) {
                        out.push(Ok(f.to_vec()));
                        continue;
                    }
                    match d.decode(&mut input) {
                        Ok(Some(f)) => out.push(Ok(f)),
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Err(e));
                            break;
                        }
                    }
                }
            }
            (out, d.stream_offset(), d.buffered())
        };
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            let slow = drain(&mut FrameDecoder::new(64), &[a, b], false);
            let fast = drain(&mut FrameDecoder::new(64), &[a, b], true);
            assert_eq!(fast, slow, "split at {cut}");
            assert_eq!(slow.0.iter().filter(|f| f.is_ok()).count(), 3);
            assert!(slow.0.last().is_some_and(Result::is_err));
        }
    }

    #[test]
    fn never_buffers_more_than_max() {
        let mut d = FrameDecoder::new(16);
        let big = [0u8; 100];
        assert_eq!(d.push(&big), 18);
        assert_eq!(d.buffered(), 18);
    }

    #[test]
    fn oversize_and_short_frames_are_errors_and_poison() {
        let mut d = FrameDecoder::new(16);
        d.push(&hex!("0011"));
        let e = d.next_frame().unwrap_err();
        assert_eq!(
            e.kind,
            ParseErrorKind::FrameTooLarge {
                declared: 17,
                max: 16
            }
        );
        assert_eq!(e.offset, 0);
        assert!(d.is_poisoned());
        assert_eq!(d.push(&[0; 4]), 4);
        assert_eq!(d.next_frame().unwrap_err(), e);

        let mut d = FrameDecoder::new(16);
        d.push(&hex!("0008 23 000001 00000000 0007"));
        assert!(d.next_frame().unwrap().is_some());
        let e = d.next_frame().unwrap_err();
        assert_eq!(
            e.kind,
            ParseErrorKind::FrameTooShort {
                declared: 7,
                min: 8
            }
        );
        assert_eq!(e.offset, 10);
        assert_eq!(
            e.to_string(),
            "at byte 10: frame length 7 is shorter than the 8-byte failover header"
        );
    }

    #[test]
    fn encode_rejects_oversize() {
        let mut m = FailoverMessage::new(MessageType::BNDUPD, 1, 0);
        m.options.push(crate::DhcpOption::Unknown {
            code: crate::OptionCode(999),
            data: alloc::vec![0; MAX_FRAME_LEN].into(),
        });
        let mut out = Vec::new();
        assert!(encode_frame(&m, &mut out).is_err());
        assert!(out.is_empty());
    }
}
