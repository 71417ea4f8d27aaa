//! Borrowed views: walk a message without allocating.

use core::net::Ipv6Addr;

use crate::codes::{HeaderKind, MessageType, OptionCode};
use crate::error::{AllowedLength, ParseError, ParseErrorKind};
use crate::message::{CLIENT_HEADER_LEN, FAILOVER_HEADER_LEN, Message, RELAY_HEADER_LEN};
use crate::option::DhcpOption;
use crate::reader::Reader;
use crate::{MAX_RELAY_DEPTH, Parse};

/// One option as it sits in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// The option code.
    pub code: OptionCode,
    /// The payload bytes.
    pub data: &'a [u8],
    /// Absolute offset of the option's code field.
    pub offset: usize,
}

impl<'a> RawOption<'a> {
    /// Absolute offset of the first payload byte.
    #[must_use]
    pub const fn data_offset(&self) -> usize {
        self.offset.saturating_add(4)
    }

    /// Decodes this option into its owned, typed form.
    ///
    /// # Errors
    /// The payload does not match the layout of its code.
    pub fn to_owned_option(&self) -> Result<DhcpOption, ParseError> {
        // Parse the payload in a reader that reports absolute offsets.
        let mut body = Reader::with_base(self.data, self.data_offset());
        DhcpOption::parse_payload(self.code, self.offset, &mut body)
            .map_err(|e| e.within(self.code))
    }

    /// Where the encapsulated options of this option start, for the container options
    /// (IA_NA 12, IA_TA 4, IAADDR 24, IA_PD 12, IAPREFIX 25, LQ_QUERY 17, CLIENT_DATA and
    /// F_DNS_REMOVAL_INFO 0); `None` for other codes.
    #[must_use]
    pub const fn sub_options_start(code: OptionCode) -> Option<usize> {
        match code {
            OptionCode::IA_NA | OptionCode::IA_PD => Some(12),
            OptionCode::IA_TA => Some(4),
            OptionCode::IAADDR => Some(24),
            OptionCode::IAPREFIX => Some(25),
            OptionCode::LQ_QUERY => Some(17),
            OptionCode::CLIENT_DATA | OptionCode::F_DNS_REMOVAL_INFO => Some(0),
            _ => None,
        }
    }

    /// The encapsulated options of a container option; `None` if this code is not a container
    /// or its fixed part is truncated.
    #[must_use]
    pub fn sub_options(&self) -> Option<OptionsIter<'a>> {
        let skip = Self::sub_options_start(self.code)?;
        let rest = self.data.get(skip..)?;
        Some(OptionsIter::new(
            rest,
            self.data_offset().saturating_add(skip),
        ))
    }

    /// The payload as a big-endian `u32`, if it is exactly 4 bytes.
    #[must_use]
    pub fn as_u32(&self) -> Option<u32> {
        let a: [u8; 4] = self.data.try_into().ok()?;
        Some(u32::from_be_bytes(a))
    }

    /// The payload as a big-endian `u16`, if it is exactly 2 bytes.
    #[must_use]
    pub fn as_u16(&self) -> Option<u16> {
        let a: [u8; 2] = self.data.try_into().ok()?;
        Some(u16::from_be_bytes(a))
    }

    /// The payload as one byte, if it is exactly 1 byte.
    #[must_use]
    pub fn as_u8(&self) -> Option<u8> {
        match self.data {
            [b] => Some(*b),
            _ => None,
        }
    }
}

/// Iterator over the TLV options in a buffer, yielding borrowed [`RawOption`]s.
///
/// It never allocates. After the first error (a truncated header or a length running past the
/// end) it yields that error once and then only `None`.
#[derive(Clone, Debug)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> OptionsIter<'a> {
    /// Iterates the options in `bytes`, whose first byte has absolute offset `base`.
    #[must_use]
    #[inline]
    pub const fn new(bytes: &'a [u8], base: usize) -> Self {
        Self {
            rest: bytes,
            offset: base,
            failed: false,
        }
    }

    /// The first option with `code` (errors end the search).
    #[must_use]
    pub fn find(self, code: OptionCode) -> Option<RawOption<'a>> {
        self.map_while(Result::ok).find(|o| o.code == code)
    }

    /// Walks every option, returning the count or the first error.
    ///
    /// # Errors
    /// The first framing error.
    pub fn validate(self) -> Result<usize, ParseError> {
        let mut n = 0usize;
        for o in self {
            o?;
            n = n.saturating_add(1);
        }
        Ok(n)
    }

    #[cold]
    fn fail(&mut self) -> ParseError {
        self.failed = true;
        let available = self.rest.len();
        match self.rest.first_chunk::<4>() {
            None => ParseError::new(
                self.offset,
                ParseErrorKind::Truncated {
                    needed: 4,
                    available,
                },
            ),
            Some(&[a, b, c, d]) => ParseError::new(
                self.offset,
                ParseErrorKind::BadLength {
                    declared: usize::from(u16::from_be_bytes([c, d])),
                    allowed: AllowedLength::Between(0, available.saturating_sub(4)),
                },
            )
            .within(OptionCode(u16::from_be_bytes([a, b]))),
        }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<RawOption<'a>, ParseError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let Some((&[a, b, c, d], tail)) = self.rest.split_first_chunk::<4>() else {
            return Some(Err(self.fail()));
        };
        let len = usize::from(u16::from_be_bytes([c, d]));
        let Some((data, rest)) = tail.split_at_checked(len) else {
            return Some(Err(self.fail()));
        };
        let offset = self.offset;
        self.rest = rest;
        self.offset = offset.saturating_add(4).saturating_add(len);
        Some(Ok(RawOption {
            code: OptionCode(u16::from_be_bytes([a, b])),
            data,
            offset,
        }))
    }
}

impl core::iter::FusedIterator for OptionsIter<'_> {}

/// A borrowed view of one message: header fields and an option walk, without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageView<'a> {
    buf: &'a [u8],
    base: usize,
}

impl<'a> MessageView<'a> {
    /// Checks that `buf` holds a complete header for its type and that the top-level options
    /// are well framed (every length stays inside the message). Nested payloads are checked
    /// only when they are walked.
    ///
    /// # Errors
    /// [`ParseErrorKind::Truncated`] for a short header, or the first option framing error.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, ParseError> {
        Self::new_checked_at(buf, 0)
    }

    fn new_checked_at(buf: &'a [u8], base: usize) -> Result<Self, ParseError> {
        let v = Self { buf, base };
        let Some(&t) = buf.first() else {
            return Err(ParseError::new(
                base,
                ParseErrorKind::Truncated {
                    needed: 1,
                    available: 0,
                },
            ));
        };
        let header = match MessageType(t).header_kind() {
            HeaderKind::Client => CLIENT_HEADER_LEN,
            HeaderKind::Relay => RELAY_HEADER_LEN,
            HeaderKind::Failover => FAILOVER_HEADER_LEN,
            HeaderKind::Unknown => return Ok(v),
        };
        if buf.len() < header {
            return Err(ParseError::new(
                base,
                ParseErrorKind::Truncated {
                    needed: header,
                    available: buf.len(),
                },
            ));
        }
        v.options().validate()?;
        Ok(v)
    }

    /// Wraps `buf` without any check; accessors then return `None`/errors for short buffers.
    #[must_use]
    pub const fn new_unchecked(buf: &'a [u8]) -> Self {
        Self { buf, base: 0 }
    }

    /// The message bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The message type.
    #[must_use]
    pub fn msg_type(&self) -> MessageType {
        MessageType(self.buf.first().copied().unwrap_or(0))
    }

    fn header_len(&self) -> Option<usize> {
        match self.msg_type().header_kind() {
            HeaderKind::Client => Some(CLIENT_HEADER_LEN),
            HeaderKind::Relay => Some(RELAY_HEADER_LEN),
            HeaderKind::Failover => Some(FAILOVER_HEADER_LEN),
            HeaderKind::Unknown => None,
        }
    }

    /// The 24-bit transaction id (client/server and failover headers).
    #[must_use]
    pub fn transaction_id(&self) -> Option<u32> {
        match self.msg_type().header_kind() {
            HeaderKind::Client | HeaderKind::Failover => {
                let [_, a, b, c] = *self.buf.first_chunk::<4>()?;
                Some(u32::from_be_bytes([0, a, b, c]))
            }
            _ => None,
        }
    }

    /// The sent-time of a failover message.
    #[must_use]
    pub fn sent_time(&self) -> Option<u32> {
        if self.msg_type().header_kind() != HeaderKind::Failover {
            return None;
        }
        let t: [u8; 4] = self.buf.get(4..8)?.try_into().ok()?;
        Some(u32::from_be_bytes(t))
    }

    /// The hop count of a relay message.
    #[must_use]
    pub fn hop_count(&self) -> Option<u8> {
        (self.msg_type().header_kind() == HeaderKind::Relay).then_some(*self.buf.get(1)?)
    }

    /// The link address of a relay message.
    #[must_use]
    pub fn link_address(&self) -> Option<Ipv6Addr> {
        if self.msg_type().header_kind() != HeaderKind::Relay {
            return None;
        }
        let a: [u8; 16] = self.buf.get(2..18)?.try_into().ok()?;
        Some(Ipv6Addr::from(a))
    }

    /// The peer address of a relay message.
    #[must_use]
    pub fn peer_address(&self) -> Option<Ipv6Addr> {
        if self.msg_type().header_kind() != HeaderKind::Relay {
            return None;
        }
        let a: [u8; 16] = self.buf.get(18..34)?.try_into().ok()?;
        Some(Ipv6Addr::from(a))
    }

    /// The top-level options (empty for an unknown type or a short header).
    #[must_use]
    pub fn options(&self) -> OptionsIter<'a> {
        let skip = self.header_len().unwrap_or(self.buf.len());
        let rest = self.buf.get(skip..).unwrap_or_default();
        OptionsIter::new(rest, self.base.saturating_add(skip))
    }

    /// The first top-level option with `code`.
    #[must_use]
    pub fn find(&self, code: OptionCode) -> Option<RawOption<'a>> {
        self.options().find(code)
    }

    /// The message inside this relay message's `OPTION_RELAY_MSG`, checked.
    #[must_use]
    pub fn relay_message(&self) -> Option<Result<Self, ParseError>> {
        if self.msg_type().header_kind() != HeaderKind::Relay {
            return None;
        }
        let o = self.find(OptionCode::RELAY_MSG)?;
        Some(
            Self::new_checked_at(o.data, o.data_offset())
                .map_err(|e| e.within(OptionCode::RELAY_MSG)),
        )
    }

    /// Follows `OPTION_RELAY_MSG` through at most [`MAX_RELAY_DEPTH`] relay layers.
    ///
    /// # Errors
    /// A malformed inner message, or [`ParseErrorKind::RelayTooDeep`].
    pub fn innermost(&self) -> Result<Self, ParseError> {
        let mut v = *self;
        for _ in 0..MAX_RELAY_DEPTH {
            match v.relay_message() {
                Some(inner) => v = inner?,
                None => return Ok(v),
            }
        }
        Err(ParseError::new(
            v.base,
            ParseErrorKind::RelayTooDeep {
                limit: MAX_RELAY_DEPTH,
            },
        ))
    }

    /// Decodes the whole message into its owned form.
    ///
    /// # Errors
    /// Any fault in the message.
    pub fn to_owned_message(&self) -> Result<Message, ParseError> {
        let mut r = Reader::with_base(self.buf, self.base);
        let m = Message::parse_reader(&mut r)?;
        r.finish()?;
        Ok(m)
    }
}

impl Message {
    /// Parses a message from a reader (to the reader's end); the same as
    /// [`Parse::parse`].
    ///
    /// # Errors
    /// Any fault in the message.
    pub fn parse_reader(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        <Self as Parse>::parse(r)
    }
}
