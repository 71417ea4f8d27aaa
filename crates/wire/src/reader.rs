//! `Reader`: the only way the codec touches untrusted bytes.

use core::net::Ipv6Addr;

use crate::error::{ParseError, ParseErrorKind};
use crate::{MAX_NESTING, MAX_RELAY_DEPTH};

/// How deep a parse is nested (options in options, relay messages in relay messages).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Depth {
    nesting: u8,
    relays: u8,
}

impl Depth {
    /// One level deeper in option encapsulation, or [`ParseErrorKind::NestingTooDeep`] at
    /// `offset`.
    #[inline]
    pub(crate) fn descend(self, offset: usize) -> Result<Self, ParseError> {
        if usize::from(self.nesting) >= MAX_NESTING {
            return Err(ParseError::new(
                offset,
                ParseErrorKind::NestingTooDeep { limit: MAX_NESTING },
            ));
        }
        Ok(Self {
            nesting: self.nesting.saturating_add(1),
            relays: self.relays,
        })
    }
}

/// A cursor over untrusted bytes that knows its absolute offset.
///
/// [`Reader::sub`] scopes a length-delimited field and keeps the absolute base, so errors deep
/// inside nested options still report offsets into the outermost buffer. [`Reader::finish`]
/// rejects trailing bytes. Every read is bounds-checked and returns
/// [`ParseErrorKind::Truncated`] instead of panicking.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    nesting: u8,
    relays: u8,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, whose first byte has absolute offset 0.
    #[must_use]
    pub const fn new(buf: &'a [u8]) -> Self {
        Self::with_base(buf, 0)
    }

    /// A reader over `buf`, whose first byte has absolute offset `base`.
    #[must_use]
    pub const fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            nesting: 0,
            relays: 0,
        }
    }

    /// Absolute offset of the next unread byte.
    #[must_use]
    #[inline]
    pub const fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    /// Number of unread bytes.
    #[must_use]
    #[inline]
    pub const fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether every byte has been read.
    #[must_use]
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error of `kind` at the current offset.
    #[must_use]
    pub const fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError::new(self.offset(), kind)
    }

    /// Reads `n` bytes.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than `n` bytes remain.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.split_at_checked(n) {
            Some((head, _)) => {
                self.pos = self.pos.saturating_add(n);
                Ok(head)
            }
            None => Err(self.error(ParseErrorKind::Truncated {
                needed: n,
                available: rest.len(),
            })),
        }
    }

    /// Reads all remaining bytes.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    /// The unread bytes, without consuming them.
    #[inline]
    pub(crate) fn peek_rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Reads a fixed-size array.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than `N` bytes remain.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.first_chunk::<N>() {
            Some(a) => {
                self.pos = self.pos.saturating_add(N);
                Ok(*a)
            }
            None => Err(self.error(ParseErrorKind::Truncated {
                needed: N,
                available: rest.len(),
            })),
        }
    }

    /// Reads one byte.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] at the end of the scope.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, ParseError> {
        self.array::<1>().map(|[b]| b)
    }

    /// Reads a big-endian `u16`.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than 2 bytes remain.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, ParseError> {
        self.array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian 24-bit integer.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than 3 bytes remain.
    #[inline]
    pub fn u24(&mut self) -> Result<u32, ParseError> {
        self.array::<3>()
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    /// Reads a big-endian `u32`.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than 4 bytes remain.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, ParseError> {
        self.array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian `u64`.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than 8 bytes remain.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, ParseError> {
        self.array().map(u64::from_be_bytes)
    }

    /// Reads an IPv6 address.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than 16 bytes remain.
    #[inline]
    pub fn ipv6(&mut self) -> Result<Ipv6Addr, ParseError> {
        self.array::<16>().map(Ipv6Addr::from)
    }

    /// Scopes the next `len` bytes as a child reader with the same absolute numbering and
    /// nesting counters, and skips them in `self`.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] if fewer than `len` bytes remain.
    #[inline]
    pub fn sub(&mut self, len: usize) -> Result<Self, ParseError> {
        let base = self.offset();
        let bytes = self.take(len)?;
        Ok(Self {
            buf: bytes,
            pos: 0,
            base,
            nesting: self.nesting,
            relays: self.relays,
        })
    }

    /// Fails with [`ParseErrorKind::TrailingBytes`] if any byte is left unread.
    ///
    /// # Errors
    /// See above.
    #[inline]
    pub fn finish(&self) -> Result<(), ParseError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.error(ParseErrorKind::TrailingBytes { count })),
        }
    }

    /// The nesting counters.
    #[inline]
    pub(crate) const fn depth(&self) -> Depth {
        Depth {
            nesting: self.nesting,
            relays: self.relays,
        }
    }

    /// A reader over `bytes` (absolute offset `base`) with the given nesting counters.
    #[must_use]
    #[inline]
    pub(crate) const fn scoped(bytes: &'a [u8], base: usize, depth: Depth) -> Self {
        Reader {
            buf: bytes,
            pos: 0,
            base,
            nesting: depth.nesting,
            relays: depth.relays,
        }
    }

    /// Enters one more level of option encapsulation.
    ///
    /// # Errors
    /// [`ParseErrorKind::NestingTooDeep`] past [`MAX_NESTING`].
    pub fn descend(&mut self) -> Result<(), ParseError> {
        if usize::from(self.nesting) >= MAX_NESTING {
            return Err(self.error(ParseErrorKind::NestingTooDeep { limit: MAX_NESTING }));
        }
        self.nesting = self.nesting.saturating_add(1);
        Ok(())
    }

    /// Enters one more level of relay-message encapsulation.
    ///
    /// # Errors
    /// [`ParseErrorKind::RelayTooDeep`] past [`MAX_RELAY_DEPTH`].
    pub fn enter_relay(&mut self) -> Result<(), ParseError> {
        if usize::from(self.relays) >= MAX_RELAY_DEPTH {
            return Err(self.error(ParseErrorKind::RelayTooDeep {
                limit: MAX_RELAY_DEPTH,
            }));
        }
        self.relays = self.relays.saturating_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_keeps_absolute_offsets() {
        let bytes = [0u8, 1, 2, 3, 4, 5, 6, 7];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u16().unwrap(), 1);
        let mut s = r.sub(4).unwrap();
        assert_eq!(s.offset(), 2);
        assert_eq!(s.u8().unwrap(), 2);
        let e = s.u32().unwrap_err();
        assert_eq!(e.offset, 3);
        assert_eq!(
            e.kind,
            ParseErrorKind::Truncated {
                needed: 4,
                available: 3
            }
        );
        assert_eq!(r.offset(), 6);
        assert_eq!(
            r.finish().unwrap_err().kind,
            ParseErrorKind::TrailingBytes { count: 2 }
        );
        assert_eq!(r.rest(), &[6, 7]);
        assert!(r.finish().is_ok());
    }

    #[test]
    fn depth_limits() {
        let mut r = Reader::new(&[]);
        for _ in 0..MAX_NESTING {
            r.descend().unwrap();
        }
        assert_eq!(
            r.descend().unwrap_err().kind,
            ParseErrorKind::NestingTooDeep { limit: MAX_NESTING }
        );
        for _ in 0..MAX_RELAY_DEPTH {
            r.enter_relay().unwrap();
        }
        assert!(r.enter_relay().is_err());
    }
}
