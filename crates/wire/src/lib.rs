//! DHCPv6 ([RFC 8415](https://www.rfc-editor.org/rfc/rfc8415)) and DHCPv6 failover
//! ([RFC 8156](https://www.rfc-editor.org/rfc/rfc8156)) wire codec.
//!
//! Bytes go in, typed values come out, and the same values emit the same bytes: for every
//! input `b` that parses, `emit(parse(b)) == b`, and for every value `v`,
//! `parse(emit(v)) == v`. Option order and duplicates are kept; options, DUID types and message
//! types the codec does not model are carried byte-exact. Parsing is total: no input panics,
//! loops or allocates without bound, and every error names what is wrong, the byte offset and
//! the enclosing option. The crate never does I/O, reads no clock and draws no randomness; it
//! is `no_std` + `alloc`.
//!
//! Two layers, one pair of verbs:
//! - **Views** borrow the buffer and never allocate: [`MessageView`] (header fields, options,
//!   relay unwrapping) and [`OptionsIter`] yielding [`RawOption`]s. The hot receive path and
//!   the fuzzers use these.
//! - **Representations** own their data: [`Message`] (client/server, relay, failover or
//!   unknown), [`Options`], [`DhcpOption`] and its payload structs ([`IaNa`], [`IaAddr`],
//!   [`IaPrefix`], [`StatusCode`], …). Every one implements [`Parse`] and [`Emit`].
//! - **Framing**: [`FrameDecoder`] and [`encode_frame`] handle the 2-byte length prefix of the
//!   failover TCP connection.
//!
//! ```
//! use dhcpv6_wire::{DhcpOption, Emit, FailoverMessage, Message, MessageType, OptionCode};
//!
//! let mut msg = FailoverMessage::new(MessageType::CONNECT, 7, 0x2a3b_4c5d);
//! msg.options.push(DhcpOption::Mclt(3600));
//! let bytes = msg.to_vec();
//! assert_eq!(bytes, [31, 0, 0, 7, 0x2a, 0x3b, 0x4c, 0x5d, 0, 122, 0, 4, 0, 0, 0x0e, 0x10]);
//!
//! let parsed = Message::parse(&bytes).unwrap();
//! assert_eq!(parsed.options().unwrap().u32_value(OptionCode::F_MCLT), Some(3600));
//! assert_eq!(parsed.to_vec(), bytes);
//!
//! // A bad length names the option and the byte offset.
//! let mut bad = bytes.clone();
//! bad[11] = 3;
//! bad.pop();
//! let err = Message::parse(&bad).unwrap_err();
//! assert_eq!(err.to_string(), "OPTION_F_MCLT at byte 8: length 3, expected 4");
//! ```
//!
//! **Non-canonical input.** A typed option whose payload does not fit its layout (wrong fixed
//! length, compressed or overlong domain name, status text that is not UTF-8, prefix length
//! over 128, …) is a [`ParseError`], not a silently re-typed option: the owned layer only holds
//! values that re-emit byte-exact. The borrowed layer ([`OptionsIter`]) still walks such a
//! message, since it only checks TLV framing.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

use alloc::vec::Vec;

use bytes::BufMut;

pub mod codes;
mod duid;
mod error;
mod frame;
mod list;
mod message;
mod name;
mod option;
mod reader;
mod small;
mod view;

pub use codes::{BindingStatus, HeaderKind, MessageType, OptionCode, ServerState, Status};
pub use duid::{Duid, DuidKind};
pub use error::{AllowedLength, EmitError, FrameError, ParseError, ParseErrorKind};
pub use frame::{FrameDecoder, MAX_FRAME_LEN, encode_frame};
pub use list::{Ipv6Addrs, OptionCodes, Payload};
pub use message::{
    CLIENT_HEADER_LEN, ClientMessage, FAILOVER_HEADER_LEN, FailoverMessage, MAX_TRANSACTION_ID,
    Message, RELAY_HEADER_LEN, RelayMessage,
};
pub use name::{DomainName, DomainNames, MAX_NAME_LEN};
pub use option::{
    Auth, ClientFqdn, DhcpOption, IaAddr, IaNa, IaPd, IaPrefix, IaTa, LqQuery, LqRelayData,
    Options, ProtocolVersion, ReconfigureData, StatusCode, VendorClass, VendorOption, VendorOpts,
    Vss,
};
pub use reader::Reader;
pub use view::{MessageView, OptionsIter, RawOption};

/// How many relay messages may be nested inside one another before parsing fails with
/// [`ParseErrorKind::RelayTooDeep`]. RFC 8415 limits relaying to 8 hops (`HOP_COUNT_LIMIT`);
/// the codec allows more so that it can still decode what a misconfigured network sends.
pub const MAX_RELAY_DEPTH: usize = 32;

/// How many levels of encapsulated options (and messages inside options) may nest before
/// parsing fails with [`ParseErrorKind::NestingTooDeep`]. A failover binding is
/// CLIENT_DATA → IA_NA → IAADDR → F_DNS_REMOVAL_INFO, four levels; a 32-hop relay chain needs 32.
pub const MAX_NESTING: usize = 64;

/// Decoding from untrusted bytes.
pub trait Parse<'a>: Sized {
    /// Reads one value from `r`. Types whose extent is not self-delimiting (messages, option
    /// lists, option payloads) consume the reader to its end.
    ///
    /// # Errors
    /// A [`ParseError`] naming the fault, its absolute offset and the enclosing option.
    fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError>;
}

/// Encoding. Infallible for a valid representation.
///
/// Representations built by hand must respect the wire limits the types cannot enforce: an
/// option payload (and each user/vendor-class item) at most 65,535 bytes. An oversize length
/// is written saturated at 65,535; [`encode_frame`] refuses oversize failover messages.
pub trait Emit {
    /// Writes the wire form. `out` must have room for [`Emit::emitted_len`] bytes (a `Vec`
    /// always does).
    fn emit(&self, out: &mut impl BufMut);

    /// Exact number of bytes [`Emit::emit`] writes.
    fn emitted_len(&self) -> usize;

    /// The wire form in a new vector.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.emitted_len());
        self.emit(&mut v);
        v
    }
}

/// Parses a value that must span all of `bytes`.
///
/// # Errors
/// The value's parse error, or [`ParseErrorKind::TrailingBytes`].
pub fn parse_exact<'a, T: Parse<'a>>(bytes: &'a [u8]) -> Result<T, ParseError> {
    let mut r = Reader::new(bytes);
    let v = T::parse(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// Initial capacity of the vectors `to_vec` fills: most messages fit, so a message is emitted
/// in one pass with back-patched lengths and one allocation.
pub(crate) const TO_VEC_CAPACITY: usize = 512;

/// Internal output abstraction. A generic [`BufMut`] gets each option length computed before
/// its payload ([`BufSink`]); a `Vec<u8>` gets it back-patched after, in a single pass.
pub(crate) trait Sink {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_slice(&mut self, s: &[u8]);
    fn put_option(&mut self, o: &DhcpOption);
}

/// [`Sink`] over any [`BufMut`].
pub(crate) struct BufSink<'b, B: BufMut>(pub(crate) &'b mut B);

impl<B: BufMut> Sink for BufSink<'_, B> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.0.put_u8(v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.0.put_u16(v);
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.0.put_u32(v);
    }
    #[inline]
    fn put_u64(&mut self, v: u64) {
        self.0.put_u64(v);
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.0.put_slice(s);
    }
    fn put_option(&mut self, o: &DhcpOption) {
        self.0.put_u16(o.code().0);
        self.0.put_u16(len_u16(o.payload_len()));
        o.emit_payload(self);
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
    #[inline]
    fn put_option(&mut self, o: &DhcpOption) {
        o.emit_vec(self);
    }
}

/// A wire length as `u16`, saturated (lengths over 65,535 violate a documented invariant).
pub(crate) fn len_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// Entry points for the `fuzz/` targets. Not part of the public API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Parses `data` as a message and, if it parses, checks both round-trip laws.
    pub fn message_roundtrip(data: &[u8]) {
        if let Ok(m) = Message::parse(data) {
            let out = m.to_vec();
            assert_eq!(
                out.len(),
                m.emitted_len(),
                "emitted_len disagrees with emit"
            );
            assert_eq!(out, data, "emit(parse(b)) != b");
            assert_eq!(Message::parse(&out).as_ref(), Ok(&m), "parse(emit(v)) != v");
        }
    }

    /// Parses `data` with the owned and borrowed layers; they must agree on acceptance.
    pub fn message_parse(data: &[u8]) {
        let owned = Message::parse(data);
        if let Ok(v) = MessageView::new_checked(data) {
            let _ = v.transaction_id();
            let _ = v.innermost();
            for o in v.options().flatten() {
                let _ = o.to_owned_option();
                if let Some(sub) = o.sub_options() {
                    sub.for_each(drop);
                }
            }
            assert_eq!(v.to_owned_message(), owned);
        } else {
            assert!(
                owned.is_err(),
                "view rejected what the owned parser accepted"
            );
        }
    }

    /// Feeds `data` to a frame decoder in chunks whose sizes come from the data itself.
    pub fn frame(data: &[u8]) {
        let Some((&max, rest)) = data.split_first() else {
            return;
        };
        let mut d = FrameDecoder::new(usize::from(max).saturating_mul(64));
        let mut input = rest;
        let cap = d.max_frame().saturating_add(2);
        loop {
            match d.decode(&mut input) {
                Ok(Some(f)) => {
                    assert!(f.len() <= d.max_frame());
                    let _ = Message::parse(&f);
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(d.is_poisoned());
                    break;
                }
            }
            assert!(d.buffered() <= cap);
        }
    }

    /// Walks `data` as an option list; the iterator must fuse after an error and agree with
    /// the owned parser on well-framed input.
    pub fn options_iter(data: &[u8]) {
        let mut it = OptionsIter::new(data, 0);
        let mut saw_err = false;
        for o in it.by_ref() {
            if o.is_err() {
                saw_err = true;
            }
        }
        assert!(it.next().is_none());
        if parse_exact::<Options>(data).is_ok() {
            assert!(!saw_err);
        }
    }
}
