//! Owned messages: client/server, relay, failover, and unknown types kept byte-exact.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use bytes::BufMut;

use crate::codes::{HeaderKind, MessageType};
use crate::error::{ParseError, ParseErrorKind};
use crate::option::Options;
use crate::reader::{Depth, Reader};
use crate::{BufSink, Emit, Parse, Sink, TO_VEC_CAPACITY};

/// Largest 24-bit transaction id.
pub const MAX_TRANSACTION_ID: u32 = 0x00ff_ffff;

/// A DHCPv6 message of any type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// Client/server header: types 1–11, leasequery 14–17 and the other client/server-format
    /// types 18–23, 36, 37.
    Client(ClientMessage),
    /// RELAY-FORW (12) or RELAY-REPL (13).
    Relay(RelayMessage),
    /// RFC 8156 failover message, types 24–35.
    Failover(FailoverMessage),
    /// A message type whose layout this codec does not model, carried byte-exact.
    Unknown {
        /// The message type.
        msg_type: MessageType,
        /// Every byte after the type octet.
        data: Vec<u8>,
    },
}

/// A message with the client/server header
/// ([RFC 8415 §8](https://www.rfc-editor.org/rfc/rfc8415#section-8)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMessage {
    /// The message type.
    pub msg_type: MessageType,
    /// 24-bit transaction id (only the low 24 bits are emitted).
    pub transaction_id: u32,
    /// Options in received order.
    pub options: Options,
}

/// A relay agent message
/// ([RFC 8415 §9](https://www.rfc-editor.org/rfc/rfc8415#section-9)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayMessage {
    /// RELAY-FORW or RELAY-REPL.
    pub msg_type: MessageType,
    /// Number of relay agents that have already relayed this message.
    pub hop_count: u8,
    /// Address identifying the client's link.
    pub link_address: Ipv6Addr,
    /// Address of the client or relay the message came from.
    pub peer_address: Ipv6Addr,
    /// Options in received order (normally including `OPTION_RELAY_MSG`).
    pub options: Options,
}

/// A failover message
/// ([RFC 8156 §5.2](https://www.rfc-editor.org/rfc/rfc8156#section-5.2)).
///
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.2
//# The failover message header is one 32-bit word longer than a client/server message header:
//# msg-type (1 octet), transaction-id (3 octets), sent-time (4 octets), then options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverMessage {
    /// The message type (24–35).
    pub msg_type: MessageType,
    /// 24-bit transaction id (only the low 24 bits are emitted).
    pub transaction_id: u32,
    /// Sender's clock at transmission: seconds since 2000-01-01 UTC, modulo 2^32.
    pub sent_time: u32,
    /// Options in received order.
    pub options: Options,
}

/// Length of the failover message header.
pub const FAILOVER_HEADER_LEN: usize = 8;
/// Length of the relay message header.
pub const RELAY_HEADER_LEN: usize = 34;
/// Length of the client/server message header.
pub const CLIENT_HEADER_LEN: usize = 4;

impl Message {
    /// Parses a whole message; every byte of `bytes` must belong to it.
    ///
    /// # Errors
    /// A [`ParseError`] naming the fault, its offset in `bytes` and the enclosing option.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        // Every layout consumes `bytes` to its end (options run to the end of the message).
        Self::parse_slice(bytes, 0, Depth::default(), |m| m)
    }

    /// The message type.
    #[must_use]
    pub const fn msg_type(&self) -> MessageType {
        match self {
            Self::Client(m) => m.msg_type,
            Self::Relay(m) => m.msg_type,
            Self::Failover(m) => m.msg_type,
            Self::Unknown { msg_type, .. } => *msg_type,
        }
    }

    /// The options, unless the type is unknown.
    #[must_use]
    pub const fn options(&self) -> Option<&Options> {
        match self {
            Self::Client(m) => Some(&m.options),
            Self::Relay(m) => Some(&m.options),
            Self::Failover(m) => Some(&m.options),
            Self::Unknown { .. } => None,
        }
    }

    /// The options, mutably, unless the type is unknown.
    pub const fn options_mut(&mut self) -> Option<&mut Options> {
        match self {
            Self::Client(m) => Some(&mut m.options),
            Self::Relay(m) => Some(&mut m.options),
            Self::Failover(m) => Some(&mut m.options),
            Self::Unknown { .. } => None,
        }
    }

    /// The transaction id of a client/server or failover message.
    #[must_use]
    pub const fn transaction_id(&self) -> Option<u32> {
        match self {
            Self::Client(m) => Some(m.transaction_id),
            Self::Failover(m) => Some(m.transaction_id),
            Self::Relay(_) | Self::Unknown { .. } => None,
        }
    }

    /// Follows `OPTION_RELAY_MSG` through every relay layer to the innermost message.
    #[must_use]
    pub fn innermost(&self) -> &Self {
        let mut m = self;
        while let Self::Relay(r) = m {
            match r.options.relay_msg() {
                Some(inner) => m = inner,
                None => break,
            }
        }
        m
    }
}

impl FailoverMessage {
    /// A failover message with no options.
    #[must_use]
    pub const fn new(msg_type: MessageType, transaction_id: u32, sent_time: u32) -> Self {
        Self {
            msg_type,
            transaction_id,
            sent_time,
            options: Options::new(),
        }
    }

    /// Parses a whole failover message (types 24–35).
    ///
    /// # Errors
    /// [`ParseErrorKind::UnexpectedMessageType`] for any other type, or the fault in the body.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        match Message::parse(bytes)? {
            Message::Failover(m) => Ok(m),
            other => Err(ParseError::new(
                0,
                ParseErrorKind::UnexpectedMessageType {
                    found: other.msg_type(),
                },
            )),
        }
    }
}

impl ClientMessage {
    /// A client/server message with no options.
    #[must_use]
    pub const fn new(msg_type: MessageType, transaction_id: u32) -> Self {
        Self {
            msg_type,
            transaction_id,
            options: Options::new(),
        }
    }
}

impl<'a> Parse<'a> for Message {
    /// Reads a message to the end of the reader.
    fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError> {
        let base = r.offset();
        let depth = r.depth();
        Self::parse_slice(r.rest(), base, depth, |m| m)
    }
}

impl Message {
    /// Decodes a message spanning all of `bytes` (`base` = absolute offset of `bytes`, `depth`
    /// the nesting counters) and hands it to `wrap` (`Box::new` for a relayed message): the one
    /// message decoder behind [`Message::parse`], [`Parse`] and `OPTION_RELAY_MSG`.
    #[inline(always)]
    pub(crate) fn parse_slice<T>(
        bytes: &[u8],
        base: usize,
        depth: Depth,
        wrap: impl FnOnce(Self) -> T,
    ) -> Result<T, ParseError> {
        let mut r = Reader::scoped(bytes, base, depth);
        let msg_type = MessageType(r.u8()?);
        match msg_type.header_kind() {
            HeaderKind::Client => {
                let transaction_id = r.u24()?;
                let options = rest_options(&mut r)?;
                Ok(wrap(Self::Client(ClientMessage {
                    msg_type,
                    transaction_id,
                    options,
                })))
            }
            HeaderKind::Relay => {
                //= https://www.rfc-editor.org/rfc/rfc8415#section-19.1.1
                //# If the relay agent received a Relay-forward message, it MUST check the
                //# hop-count against HOP_COUNT_LIMIT.
                // The codec bounds the nesting itself so hostile input cannot recurse deeply.
                r.enter_relay()?;
                let hop_count = r.u8()?;
                let link_address = r.ipv6()?;
                let peer_address = r.ipv6()?;
                let options = rest_options(&mut r)?;
                Ok(wrap(Self::Relay(RelayMessage {
                    msg_type,
                    hop_count,
                    link_address,
                    peer_address,
                    options,
                })))
            }
            HeaderKind::Failover => {
                let transaction_id = r.u24()?;
                let sent_time = r.u32()?;
                let options = rest_options(&mut r)?;
                Ok(wrap(Self::Failover(FailoverMessage {
                    msg_type,
                    transaction_id,
                    sent_time,
                    options,
                })))
            }
            HeaderKind::Unknown => Ok(wrap(Self::Unknown {
                msg_type,
                data: r.rest().to_vec(),
            })),
        }
    }
}

/// The options that make up the rest of a message. The reader's fields are handed over as
/// values, not through the reader: `Options::parse(&mut r)` read back the depth counters that
/// `parse_slice` had just stored byte by byte with one wider load, a failed store-to-load
/// forward on every message.
#[inline(always)]
fn rest_options(r: &mut Reader<'_>) -> Result<Options, ParseError> {
    let base = r.offset();
    let depth = r.depth();
    Options::parse_slice(r.rest(), base, depth)
}

fn put_u24<S: Sink>(out: &mut S, v: u32) {
    let [_, a, b, c] = v.to_be_bytes();
    out.put_slice(&[a, b, c]);
}

impl ClientMessage {
    pub(crate) fn emit_to<S: Sink>(&self, out: &mut S) {
        out.put_u8(self.msg_type.0);
        put_u24(out, self.transaction_id);
        self.options.emit_to(out);
    }
}

impl RelayMessage {
    pub(crate) fn emit_to<S: Sink>(&self, out: &mut S) {
        out.put_u8(self.msg_type.0);
        out.put_u8(self.hop_count);
        out.put_slice(&self.link_address.octets());
        out.put_slice(&self.peer_address.octets());
        self.options.emit_to(out);
    }
}

impl FailoverMessage {
    pub(crate) fn emit_to<S: Sink>(&self, out: &mut S) {
        out.put_u8(self.msg_type.0);
        put_u24(out, self.transaction_id);
        out.put_u32(self.sent_time);
        self.options.emit_to(out);
    }
}

impl Message {
    pub(crate) fn emit_to<S: Sink>(&self, out: &mut S) {
        match self {
            Self::Client(m) => m.emit_to(out),
            Self::Relay(m) => m.emit_to(out),
            Self::Failover(m) => m.emit_to(out),
            Self::Unknown { msg_type, data } => {
                out.put_u8(msg_type.0);
                out.put_slice(data);
            }
        }
    }
}

macro_rules! emit_via_sink {
    ($ty:ty, |$s:ident| $len:expr) => {
        impl Emit for $ty {
            fn emit(&self, out: &mut impl BufMut) {
                self.emit_to(&mut BufSink(out));
            }

            fn emitted_len(&self) -> usize {
                let $s = self;
                $len
            }

            fn to_vec(&self) -> Vec<u8> {
                let mut v = Vec::with_capacity(TO_VEC_CAPACITY);
                self.emit_to(&mut v);
                v
            }
        }
    };
}

emit_via_sink!(ClientMessage, |m| m
    .options
    .emitted_len()
    .saturating_add(CLIENT_HEADER_LEN));
emit_via_sink!(RelayMessage, |m| m
    .options
    .emitted_len()
    .saturating_add(RELAY_HEADER_LEN));
emit_via_sink!(FailoverMessage, |m| m
    .options
    .emitted_len()
    .saturating_add(FAILOVER_HEADER_LEN));
emit_via_sink!(Message, |m| match m {
    Message::Client(m) => m.emitted_len(),
    Message::Relay(m) => m.emitted_len(),
    Message::Failover(m) => m.emitted_len(),
    Message::Unknown { data, .. } => data.len().saturating_add(1),
});

impl From<ClientMessage> for Message {
    fn from(m: ClientMessage) -> Self {
        Self::Client(m)
    }
}

impl From<RelayMessage> for Message {
    fn from(m: RelayMessage) -> Self {
        Self::Relay(m)
    }
}

impl From<FailoverMessage> for Message {
    fn from(m: FailoverMessage) -> Self {
        Self::Failover(m)
    }
}
