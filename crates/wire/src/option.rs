//! Owned options: [`DhcpOption`], the [`Options`] list and the typed payload structs.
//!
//! Every option is `code (u16) | length (u16) | payload`
//! ([RFC 8415 §21.1](https://www.rfc-editor.org/rfc/rfc8415#section-21.1)). Known codes are
//! decoded into typed variants whose fields hold every payload byte, so a typed option re-emits
//! exactly the bytes it was parsed from. A payload that does not match its code's layout (a
//! wrong fixed length, a bad domain name, a status message that is not UTF-8, …) is a
//! [`ParseError`] naming the option and the byte offset; it is never silently re-typed or
//! dropped. Codes the codec does not model become [`DhcpOption::Unknown`] with their exact bytes.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use bytes::BufMut;

use crate::codes::{BindingStatus, MessageType, OptionCode, ServerState, Status};
use crate::duid::Duid;
use crate::error::{AllowedLength, ParseError, ParseErrorKind};
use crate::list::{Ipv6Addrs, OptionCodes, Payload};
use crate::message::Message;
use crate::name::{DomainName, DomainNames};
use crate::reader::{Depth, Reader};
use crate::small::copy_short;
use crate::{BufSink, Emit, Parse, Sink, TO_VEC_CAPACITY, len_u16};

/// An ordered list of options, exactly as received: order and duplicates are kept.
///
/// Lookups are linear scans; nothing is ever re-sorted.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Options(Vec<DhcpOption>);

/// One DHCPv6 option.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcpOption {
    /// `OPTION_CLIENTID` (1), [RFC 8415 §21.2](https://www.rfc-editor.org/rfc/rfc8415#section-21.2).
    ClientId(Duid),
    /// `OPTION_SERVERID` (2), [RFC 8415 §21.3](https://www.rfc-editor.org/rfc/rfc8415#section-21.3).
    ServerId(Duid),
    /// `OPTION_IA_NA` (3), [RFC 8415 §21.4](https://www.rfc-editor.org/rfc/rfc8415#section-21.4).
    IaNa(IaNa),
    /// `OPTION_IA_TA` (4), [RFC 8415 §21.5](https://www.rfc-editor.org/rfc/rfc8415#section-21.5).
    IaTa(IaTa),
    /// `OPTION_IAADDR` (5), [RFC 8415 §21.6](https://www.rfc-editor.org/rfc/rfc8415#section-21.6).
    IaAddr(IaAddr),
    /// `OPTION_ORO` (6), [RFC 8415 §21.7](https://www.rfc-editor.org/rfc/rfc8415#section-21.7).
    Oro(OptionCodes),
    /// `OPTION_PREFERENCE` (7), [RFC 8415 §21.8](https://www.rfc-editor.org/rfc/rfc8415#section-21.8).
    Preference(u8),
    /// `OPTION_ELAPSED_TIME` (8) in hundredths of a second,
    /// [RFC 8415 §21.9](https://www.rfc-editor.org/rfc/rfc8415#section-21.9).
    ElapsedTime(u16),
    /// `OPTION_RELAY_MSG` (9), [RFC 8415 §21.10](https://www.rfc-editor.org/rfc/rfc8415#section-21.10).
    ///
    /// The relayed message is held in place, not boxed: a [`Message`] holds its options in a
    /// vector, so the type is finite, and each relay layer then costs no allocation of its own.
    RelayMsg(Message),
    /// `OPTION_AUTH` (11), [RFC 8415 §21.11](https://www.rfc-editor.org/rfc/rfc8415#section-21.11).
    Auth(Auth),
    /// `OPTION_UNICAST` (12), [RFC 8415 §21.12](https://www.rfc-editor.org/rfc/rfc8415#section-21.12).
    Unicast(Ipv6Addr),
    /// `OPTION_STATUS_CODE` (13), [RFC 8415 §21.13](https://www.rfc-editor.org/rfc/rfc8415#section-21.13).
    StatusCode(StatusCode),
    /// `OPTION_RAPID_COMMIT` (14), [RFC 8415 §21.14](https://www.rfc-editor.org/rfc/rfc8415#section-21.14).
    RapidCommit,
    /// `OPTION_USER_CLASS` (15): user-class-data items,
    /// [RFC 8415 §21.15](https://www.rfc-editor.org/rfc/rfc8415#section-21.15).
    UserClass(Vec<Vec<u8>>),
    /// `OPTION_VENDOR_CLASS` (16), [RFC 8415 §21.16](https://www.rfc-editor.org/rfc/rfc8415#section-21.16).
    VendorClass(VendorClass),
    /// `OPTION_VENDOR_OPTS` (17), [RFC 8415 §21.17](https://www.rfc-editor.org/rfc/rfc8415#section-21.17).
    VendorOpts(VendorOpts),
    /// `OPTION_INTERFACE_ID` (18), [RFC 8415 §21.18](https://www.rfc-editor.org/rfc/rfc8415#section-21.18).
    InterfaceId(Payload),
    /// `OPTION_RECONF_MSG` (19), [RFC 8415 §21.19](https://www.rfc-editor.org/rfc/rfc8415#section-21.19).
    ReconfMsg(MessageType),
    /// `OPTION_RECONF_ACCEPT` (20), [RFC 8415 §21.20](https://www.rfc-editor.org/rfc/rfc8415#section-21.20).
    ReconfAccept,
    /// `OPTION_DNS_SERVERS` (23), [RFC 3646 §3](https://www.rfc-editor.org/rfc/rfc3646#section-3).
    DnsServers(Ipv6Addrs),
    /// `OPTION_DOMAIN_LIST` (24): fully qualified names,
    /// [RFC 3646 §4](https://www.rfc-editor.org/rfc/rfc3646#section-4).
    DomainList(DomainNames),
    /// `OPTION_IA_PD` (25), [RFC 8415 §21.21](https://www.rfc-editor.org/rfc/rfc8415#section-21.21).
    IaPd(IaPd),
    /// `OPTION_IAPREFIX` (26), [RFC 8415 §21.22](https://www.rfc-editor.org/rfc/rfc8415#section-21.22).
    IaPrefix(IaPrefix),
    /// `OPTION_INFORMATION_REFRESH_TIME` (32) in seconds,
    /// [RFC 8415 §21.23](https://www.rfc-editor.org/rfc/rfc8415#section-21.23).
    InformationRefreshTime(u32),
    /// `OPTION_CLIENT_FQDN` (39), [RFC 4704 §4](https://www.rfc-editor.org/rfc/rfc4704#section-4).
    ClientFqdn(ClientFqdn),
    /// `OPTION_LQ_QUERY` (44), [RFC 5007 §4.1.2.2](https://www.rfc-editor.org/rfc/rfc5007#section-4.1.2.2).
    LqQuery(LqQuery),
    /// `OPTION_CLIENT_DATA` (45), [RFC 5007 §4.1.2.3](https://www.rfc-editor.org/rfc/rfc5007#section-4.1.2.3).
    ClientData(Options),
    /// `OPTION_CLT_TIME` (46): seconds since the client's last transaction, relative to the
    /// message's base time, [RFC 5007 §4.1.2.4](https://www.rfc-editor.org/rfc/rfc5007#section-4.1.2.4).
    CltTime(u32),
    /// `OPTION_LQ_RELAY_DATA` (47), [RFC 5007 §4.1.2.5](https://www.rfc-editor.org/rfc/rfc5007#section-4.1.2.5).
    LqRelayData(LqRelayData),
    /// `OPTION_LQ_CLIENT_LINK` (48), [RFC 5007 §4.1.2.6](https://www.rfc-editor.org/rfc/rfc5007#section-4.1.2.6).
    LqClientLink(Ipv6Addrs),
    /// `OPTION_RELAY_ID` (53), [RFC 5460 §5.4.1](https://www.rfc-editor.org/rfc/rfc5460#section-5.4.1).
    RelayId(Duid),
    /// `OPTION_VSS` (68), [RFC 6607 §3.3](https://www.rfc-editor.org/rfc/rfc6607#section-3.3).
    Vss(Vss),
    /// `OPTION_SOL_MAX_RT` (82) in seconds, [RFC 8415 §21.24](https://www.rfc-editor.org/rfc/rfc8415#section-21.24).
    SolMaxRt(u32),
    /// `OPTION_INF_MAX_RT` (83) in seconds, [RFC 8415 §21.25](https://www.rfc-editor.org/rfc/rfc8415#section-21.25).
    InfMaxRt(u32),
    /// `OPTION_LQ_BASE_TIME` (100), [RFC 7653 §5.2](https://www.rfc-editor.org/rfc/rfc7653#section-5.2).
    LqBaseTime(u32),
    /// `OPTION_LQ_START_TIME` (101), [RFC 7653 §5.3](https://www.rfc-editor.org/rfc/rfc7653#section-5.3).
    LqStartTime(u32),
    /// `OPTION_LQ_END_TIME` (102), [RFC 7653 §5.4](https://www.rfc-editor.org/rfc/rfc7653#section-5.4).
    LqEndTime(u32),
    /// `OPTION_F_BINDING_STATUS` (114), [RFC 8156 §5.5.1](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.1).
    BindingStatus(BindingStatus),
    /// `OPTION_F_CONNECT_FLAGS` (115), bits in [`connect_flags`](crate::codes::connect_flags),
    /// [RFC 8156 §5.5.2](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.2).
    ConnectFlags(u16),
    /// `OPTION_F_DNS_REMOVAL_INFO` (116), encapsulating options 117–119,
    /// [RFC 8156 §5.5.3](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.3).
    DnsRemovalInfo(Options),
    /// `OPTION_F_DNS_HOST_NAME` (117), [RFC 8156 §5.5.3.1](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.3.1).
    DnsHostName(DomainName),
    /// `OPTION_F_DNS_ZONE_NAME` (118), [RFC 8156 §5.5.3.2](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.3.2).
    DnsZoneName(DomainName),
    /// `OPTION_F_DNS_FLAGS` (119), bits in [`dns_flags`](crate::codes::dns_flags),
    /// [RFC 8156 §5.5.3.3](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.3.3).
    DnsFlags(u16),
    /// `OPTION_F_EXPIRATION_TIME` (120), absolute time,
    /// [RFC 8156 §5.5.4](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.4).
    ExpirationTime(u32),
    /// `OPTION_F_MAX_UNACKED_BNDUPD` (121), [RFC 8156 §5.5.5](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.5).
    MaxUnackedBndupd(u32),
    /// `OPTION_F_MCLT` (122) in seconds, [RFC 8156 §5.5.6](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.6).
    Mclt(u32),
    /// `OPTION_F_PARTNER_LIFETIME` (123), absolute time,
    /// [RFC 8156 §5.5.7](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.7).
    PartnerLifetime(u32),
    /// `OPTION_F_PARTNER_LIFETIME_SENT` (124), absolute time,
    /// [RFC 8156 §5.5.8](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.8).
    PartnerLifetimeSent(u32),
    /// `OPTION_F_PARTNER_DOWN_TIME` (125), absolute time,
    /// [RFC 8156 §5.5.9](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.9).
    PartnerDownTime(u32),
    /// `OPTION_F_PARTNER_RAW_CLT_TIME` (126), absolute time,
    /// [RFC 8156 §5.5.10](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.10).
    PartnerRawCltTime(u32),
    /// `OPTION_F_PROTOCOL_VERSION` (127), [RFC 8156 §5.5.11](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.11).
    ProtocolVersion(ProtocolVersion),
    /// `OPTION_F_KEEPALIVE_TIME` (128) in seconds,
    /// [RFC 8156 §5.5.12](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.12).
    KeepaliveTime(u32),
    /// `OPTION_F_RECONFIGURE_DATA` (129), [RFC 8156 §5.5.13](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.13).
    ReconfigureData(ReconfigureData),
    /// `OPTION_F_RELATIONSHIP_NAME` (130), UTF-8 without a terminator,
    /// [RFC 8156 §5.5.14](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.14).
    RelationshipName(String),
    /// `OPTION_F_SERVER_FLAGS` (131), bits in [`server_flags`](crate::codes::server_flags),
    /// [RFC 8156 §5.5.15](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.15).
    ServerFlags(u8),
    /// `OPTION_F_SERVER_STATE` (132), [RFC 8156 §5.5.16](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.16).
    ServerState(ServerState),
    /// `OPTION_F_START_TIME_OF_STATE` (133), absolute time,
    /// [RFC 8156 §5.5.17](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.17).
    StartTimeOfState(u32),
    /// `OPTION_F_STATE_EXPIRATION_TIME` (134), absolute time,
    /// [RFC 8156 §5.5.18](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.18).
    StateExpirationTime(u32),
    /// Any option this codec does not model, with its exact payload.
    Unknown {
        /// The option code.
        code: OptionCode,
        /// The payload bytes (at most 65535 for the option to be emittable).
        data: Payload,
    },
}

/// `OPTION_IA_NA` payload ([RFC 8415 §21.4](https://www.rfc-editor.org/rfc/rfc8415#section-21.4)).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IaNa {
    /// Identity association id.
    pub iaid: u32,
    /// T1 in seconds.
    pub t1: u32,
    /// T2 in seconds.
    pub t2: u32,
    /// Encapsulated options (IAADDR, STATUS_CODE, …).
    pub options: Options,
}

/// `OPTION_IA_TA` payload ([RFC 8415 §21.5](https://www.rfc-editor.org/rfc/rfc8415#section-21.5)).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IaTa {
    /// Identity association id.
    pub iaid: u32,
    /// Encapsulated options.
    pub options: Options,
}

/// `OPTION_IA_PD` payload ([RFC 8415 §21.21](https://www.rfc-editor.org/rfc/rfc8415#section-21.21)).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IaPd {
    /// Identity association id.
    pub iaid: u32,
    /// T1 in seconds.
    pub t1: u32,
    /// T2 in seconds.
    pub t2: u32,
    /// Encapsulated options (IAPREFIX, STATUS_CODE, …).
    pub options: Options,
}

/// `OPTION_IAADDR` payload ([RFC 8415 §21.6](https://www.rfc-editor.org/rfc/rfc8415#section-21.6)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaAddr {
    /// The leased address.
    pub address: Ipv6Addr,
    /// Preferred lifetime in seconds.
    pub preferred_lifetime: u32,
    /// Valid lifetime in seconds.
    pub valid_lifetime: u32,
    /// Encapsulated options.
    pub options: Options,
}

/// `OPTION_IAPREFIX` payload ([RFC 8415 §21.22](https://www.rfc-editor.org/rfc/rfc8415#section-21.22)).
///
/// The prefix length is private so that it is always ≤ 128.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaPrefix {
    /// Preferred lifetime in seconds.
    pub preferred_lifetime: u32,
    /// Valid lifetime in seconds.
    pub valid_lifetime: u32,
    prefix_len: u8,
    /// The prefix (bits past `prefix_len` are carried as received).
    pub prefix: Ipv6Addr,
    /// Encapsulated options.
    pub options: Options,
}

/// `OPTION_AUTH` payload ([RFC 8415 §21.11](https://www.rfc-editor.org/rfc/rfc8415#section-21.11)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// Authentication protocol.
    pub protocol: u8,
    /// Algorithm.
    pub algorithm: u8,
    /// Replay detection method.
    pub rdm: u8,
    /// Replay detection value.
    pub replay_detection: u64,
    /// Authentication information.
    pub info: Vec<u8>,
}

/// `OPTION_STATUS_CODE` payload ([RFC 8415 §21.13](https://www.rfc-editor.org/rfc/rfc8415#section-21.13)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCode {
    /// The status.
    pub status: Status,
    /// UTF-8 text for humans (may be empty).
    pub message: String,
}

/// `OPTION_VENDOR_CLASS` payload ([RFC 8415 §21.16](https://www.rfc-editor.org/rfc/rfc8415#section-21.16)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorClass {
    /// IANA private enterprise number.
    pub enterprise_number: u32,
    /// vendor-class-data items (each at most 65535 bytes).
    pub data: Vec<Vec<u8>>,
}

/// `OPTION_VENDOR_OPTS` payload ([RFC 8415 §21.17](https://www.rfc-editor.org/rfc/rfc8415#section-21.17)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorOpts {
    /// IANA private enterprise number.
    pub enterprise_number: u32,
    /// The vendor's own options, in order.
    pub options: Vec<VendorOption>,
}

/// One option inside `OPTION_VENDOR_OPTS`; its code space belongs to the vendor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorOption {
    /// Vendor-defined code.
    pub code: u16,
    /// Payload (at most 65535 bytes).
    pub data: Vec<u8>,
}

/// `OPTION_CLIENT_FQDN` payload ([RFC 4704 §4](https://www.rfc-editor.org/rfc/rfc4704#section-4)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFqdn {
    /// Flags (S = 0x01, O = 0x02, N = 0x04; other bits carried as received).
    pub flags: u8,
    /// The name; may be partial or empty.
    pub name: DomainName,
}

/// `OPTION_LQ_QUERY` payload ([RFC 5007 §4.1.2.2](https://www.rfc-editor.org/rfc/rfc5007#section-4.1.2.2)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LqQuery {
    /// Query type (1 by address, 2 by client id, …).
    pub query_type: u8,
    /// Link address.
    pub link_address: Ipv6Addr,
    /// Query options.
    pub options: Options,
}

/// `OPTION_LQ_RELAY_DATA` payload ([RFC 5007 §4.1.2.5](https://www.rfc-editor.org/rfc/rfc5007#section-4.1.2.5)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LqRelayData {
    /// Address of the relay agent closest to the client.
    pub peer_address: Ipv6Addr,
    /// The last relay message received from the client's relay chain.
    pub message: Box<Message>,
}

/// `OPTION_VSS` payload ([RFC 6607 §3.3](https://www.rfc-editor.org/rfc/rfc6607#section-3.3)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vss {
    /// VSS type (0 NVT ASCII, 1 RFC 2685 VPN-ID, 255 global default).
    pub vss_type: u8,
    /// VSS information.
    pub info: Vec<u8>,
}

/// `OPTION_F_PROTOCOL_VERSION` payload ([RFC 8156 §5.5.11](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.11)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// Major version (1 for RFC 8156).
    pub major: u16,
    /// Minor version (0 for RFC 8156).
    pub minor: u16,
}

/// `OPTION_F_RECONFIGURE_DATA` payload ([RFC 8156 §5.5.13](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.13)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconfigureData {
    /// Absolute time at which the key was created.
    pub time: u32,
    /// Reconfigure key bytes.
    pub key: Vec<u8>,
}

impl IaPrefix {
    /// Builds an IA prefix.
    ///
    /// # Errors
    /// [`ParseErrorKind::BadValue`] if `prefix_len` exceeds 128.
    pub fn new(
        preferred_lifetime: u32,
        valid_lifetime: u32,
        prefix_len: u8,
        prefix: Ipv6Addr,
        options: Options,
    ) -> Result<Self, ParseError> {
        if prefix_len > 128 {
            return Err(ParseError::new(0, BAD_PREFIX_LEN));
        }
        Ok(Self {
            preferred_lifetime,
            valid_lifetime,
            prefix_len,
            prefix,
            options,
        })
    }

    /// The prefix length in bits (0–128).
    #[must_use]
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Sets the prefix length.
    ///
    /// # Errors
    /// [`ParseErrorKind::BadValue`] if `prefix_len` exceeds 128; nothing changes then.
    pub fn set_prefix_len(&mut self, prefix_len: u8) -> Result<(), ParseError> {
        if prefix_len > 128 {
            return Err(ParseError::new(0, BAD_PREFIX_LEN));
        }
        self.prefix_len = prefix_len;
        Ok(())
    }
}

const NOT_STORED: ParseErrorKind = ParseErrorKind::BadValue {
    field: "option",
    reason: "internal: decoded option not stored",
};

const BAD_PREFIX_LEN: ParseErrorKind = ParseErrorKind::BadValue {
    field: "prefix-length",
    reason: "greater than 128",
};

impl StatusCode {
    /// A status with a message.
    #[must_use]
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Options list

impl Options {
    /// An empty list.
    #[must_use]
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends an option (duplicates are allowed and kept).
    pub fn push(&mut self, option: DhcpOption) {
        self.0.push(option);
    }

    /// Appends an option, builder style.
    #[must_use]
    pub fn with(mut self, option: DhcpOption) -> Self {
        self.0.push(option);
        self
    }

    /// Number of options.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The options in received order.
    pub fn iter(&self) -> core::slice::Iter<'_, DhcpOption> {
        self.0.iter()
    }

    /// Mutable access in received order.
    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, DhcpOption> {
        self.0.iter_mut()
    }

    /// The options as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[DhcpOption] {
        &self.0
    }

    /// The underlying vector, for insertion, removal and reordering.
    pub fn as_mut_vec(&mut self) -> &mut Vec<DhcpOption> {
        &mut self.0
    }

    /// Unwraps the vector.
    #[must_use]
    pub fn into_vec(self) -> Vec<DhcpOption> {
        self.0
    }

    /// The first option with `code`.
    #[must_use]
    pub fn find(&self, code: OptionCode) -> Option<&DhcpOption> {
        self.0.iter().find(|o| o.code() == code)
    }

    /// The first option with `code`, mutably.
    pub fn find_mut(&mut self, code: OptionCode) -> Option<&mut DhcpOption> {
        self.0.iter_mut().find(|o| o.code() == code)
    }

    /// Every option with `code`, in order.
    pub fn find_all(&self, code: OptionCode) -> impl Iterator<Item = &DhcpOption> + '_ {
        self.0.iter().filter(move |o| o.code() == code)
    }

    /// Removes every option with `code`; returns how many were removed.
    pub fn remove_all(&mut self, code: OptionCode) -> usize {
        let before = self.0.len();
        self.0.retain(|o| o.code() != code);
        before.saturating_sub(self.0.len())
    }

    /// The first `OPTION_CLIENTID`.
    #[must_use]
    pub fn client_id(&self) -> Option<&Duid> {
        self.0.iter().find_map(|o| match o {
            DhcpOption::ClientId(d) => Some(d),
            _ => None,
        })
    }

    /// The first `OPTION_SERVERID`.
    #[must_use]
    pub fn server_id(&self) -> Option<&Duid> {
        self.0.iter().find_map(|o| match o {
            DhcpOption::ServerId(d) => Some(d),
            _ => None,
        })
    }

    /// The first `OPTION_STATUS_CODE`.
    #[must_use]
    pub fn status_code(&self) -> Option<&StatusCode> {
        self.0.iter().find_map(|o| match o {
            DhcpOption::StatusCode(s) => Some(s),
            _ => None,
        })
    }

    /// Every `OPTION_IA_NA`.
    pub fn ia_na(&self) -> impl Iterator<Item = &IaNa> + '_ {
        self.0.iter().filter_map(|o| match o {
            DhcpOption::IaNa(x) => Some(x),
            _ => None,
        })
    }

    /// Every `OPTION_IA_PD`.
    pub fn ia_pd(&self) -> impl Iterator<Item = &IaPd> + '_ {
        self.0.iter().filter_map(|o| match o {
            DhcpOption::IaPd(x) => Some(x),
            _ => None,
        })
    }

    /// Every `OPTION_IAADDR`.
    pub fn ia_addrs(&self) -> impl Iterator<Item = &IaAddr> + '_ {
        self.0.iter().filter_map(|o| match o {
            DhcpOption::IaAddr(x) => Some(x),
            _ => None,
        })
    }

    /// Every `OPTION_IAPREFIX`.
    pub fn ia_prefixes(&self) -> impl Iterator<Item = &IaPrefix> + '_ {
        self.0.iter().filter_map(|o| match o {
            DhcpOption::IaPrefix(x) => Some(x),
            _ => None,
        })
    }

    /// The first `OPTION_CLIENT_DATA`.
    #[must_use]
    pub fn client_data(&self) -> Option<&Self> {
        self.0.iter().find_map(|o| match o {
            DhcpOption::ClientData(x) => Some(x),
            _ => None,
        })
    }

    /// The first `OPTION_RELAY_MSG`.
    #[must_use]
    pub fn relay_msg(&self) -> Option<&Message> {
        self.0.iter().find_map(|o| match o {
            DhcpOption::RelayMsg(m) => Some(m),
            _ => None,
        })
    }

    /// The value of the first option with `code` among the 4-byte integer options
    /// (times, MCLT, …).
    #[must_use]
    pub fn u32_value(&self, code: OptionCode) -> Option<u32> {
        self.0.iter().find_map(|o| {
            if o.code() == code {
                o.u32_value()
            } else {
                None
            }
        })
    }
}

impl From<Vec<DhcpOption>> for Options {
    fn from(v: Vec<DhcpOption>) -> Self {
        Self(v)
    }
}

impl FromIterator<DhcpOption> for Options {
    fn from_iter<I: IntoIterator<Item = DhcpOption>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Extend<DhcpOption> for Options {
    fn extend<I: IntoIterator<Item = DhcpOption>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Options {
    type Item = DhcpOption;
    type IntoIter = alloc::vec::IntoIter<DhcpOption>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Options {
    type Item = &'a DhcpOption;
    type IntoIter = core::slice::Iter<'a, DhcpOption>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> Parse<'a> for Options {
    /// Reads options until the reader is empty.
    fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError> {
        let base = r.offset();
        let depth = r.depth();
        Self::parse_slice(r.rest(), base, depth)
    }
}

impl Options {
    /// Decodes the option list spanning all of `bytes` (`base` = absolute offset of `bytes`,
    /// `depth` the nesting counters).
    pub(crate) fn parse_slice(bytes: &[u8], base: usize, depth: Depth) -> Result<Self, ParseError> {
        let mut v = Vec::new();
        Self::parse_into(&mut v, bytes, base, depth)?;
        Ok(Self(v))
    }

    /// The hot path: walks the TLVs over a slice and decodes each payload straight into `v`
    /// (which the caller may already have placed inside its own option, see
    /// [`DhcpOption::decode_into`]).
    pub(crate) fn parse_into(
        v: &mut Vec<DhcpOption>,
        bytes: &[u8],
        base: usize,
        depth: Depth,
    ) -> Result<(), ParseError> {
        if bytes.is_empty() {
            return Ok(());
        }
        // Room for one option per 16 bytes, and one more: typical lists fit (a SOLICIT's six
        // options in 97 bytes get seven slots, an IA's one IAADDR two), lists of tiny options
        // grow as usual. Counting the TLVs first gave the exact size but walked the list twice,
        // and that walk (one dependent load per option) was about 6 % of a decode.
        let n = (bytes.len() / 16).saturating_add(1);
        if v.capacity() == 0 {
            // The usual case: a fresh list, allocated once. The vector replaced owns no
            // allocation (capacity 0), so forgetting it leaks nothing and spares its drop code.
            core::mem::forget(core::mem::replace(v, Vec::with_capacity(n)));
        } else {
            v.reserve(n);
        }
        let mut rest = bytes;
        let mut offset = base;
        while !rest.is_empty() {
            let Some((&[a, b, c, d], tail)) = rest.split_first_chunk::<4>() else {
                return Err(ParseError::new(
                    offset,
                    ParseErrorKind::Truncated {
                        needed: 4,
                        available: rest.len(),
                    },
                ));
            };
            let code = OptionCode(u16::from_be_bytes([a, b]));
            let len = usize::from(u16::from_be_bytes([c, d]));
            let Some((data, tail)) = tail.split_at_checked(len) else {
                return Err(
                    bad_len(offset, len, AllowedLength::Between(0, tail.len())).within(code)
                );
            };
            if let Err(e) =
                DhcpOption::decode_into(v, code, data, offset, offset.saturating_add(4), depth)
            {
                return Err(e.within(code));
            }
            offset = offset.saturating_add(4).saturating_add(len);
            rest = tail;
        }
        Ok(())
    }
}

/// An option header with a known payload length.
#[inline(always)]
fn header(out: &mut Vec<u8>, code: OptionCode, len: usize) {
    let [c0, c1] = code.0.to_be_bytes();
    let [l0, l1] = len_u16(len).to_be_bytes();
    out.extend_from_slice(&[c0, c1, l0, l1]);
}

/// An option whose payload is one byte string.
#[inline(always)]
fn leaf(out: &mut Vec<u8>, code: OptionCode, payload: &[u8]) {
    header(out, code, payload.len());
    out.extend_from_slice(payload);
}

/// Header and fixed part of IA_NA / IA_PD (length to be patched).
#[inline(always)]
fn ia_header(code: OptionCode, iaid: u32, t1: u32, t2: u32) -> [u8; 16] {
    let [c0, c1] = code.0.to_be_bytes();
    let [i0, i1, i2, i3] = iaid.to_be_bytes();
    let [a0, a1, a2, a3] = t1.to_be_bytes();
    let [b0, b1, b2, b3] = t2.to_be_bytes();
    [
        c0, c1, 0, 12, i0, i1, i2, i3, a0, a1, a2, a3, b0, b1, b2, b3,
    ]
}

/// Writes the length of the option that starts at `start` (everything after its header).
#[inline]
pub(crate) fn patch_len(out: &mut [u8], start: usize) {
    let len = out.len().saturating_sub(start).saturating_sub(4);
    let at = start.saturating_add(2);
    if let Some(field) = out.get_mut(at..at.saturating_add(2)) {
        field.copy_from_slice(&len_u16(len).to_be_bytes());
    }
}

impl Options {
    /// Writes every option to a vector (see [`DhcpOption::emit_vec`]).
    pub(crate) fn emit_vec(&self, out: &mut Vec<u8>) {
        for o in &self.0 {
            o.emit_vec(out);
        }
    }

    pub(crate) fn emit_to<S: Sink>(&self, out: &mut S) {
        for o in &self.0 {
            out.put_option(o);
        }
    }
}

impl Emit for Options {
    fn emit(&self, out: &mut impl BufMut) {
        self.emit_to(&mut BufSink(out));
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(TO_VEC_CAPACITY);
        self.emit_to(&mut v);
        v
    }

    fn emitted_len(&self) -> usize {
        self.0
            .iter()
            .fold(0usize, |acc, o| acc.saturating_add(o.emitted_len()))
    }
}

// ---------------------------------------------------------------------------------------------
// DhcpOption

#[cold]
fn bad_len(start: usize, declared: usize, allowed: AllowedLength) -> ParseError {
    ParseError::new(start, ParseErrorKind::BadLength { declared, allowed })
}

/// Fails unless `data` (an option payload whose code field is at `start`) has `n` bytes or more.
#[inline]
fn at_least(data: &[u8], start: usize, n: usize) -> Result<(), ParseError> {
    if data.len() < n {
        return Err(bad_len(start, data.len(), AllowedLength::AtLeast(n)));
    }
    Ok(())
}

/// Decodes the options encapsulated in `data[skip..]` (`data` starts at absolute `dstart`) into
/// the list of `slot`, the option just stored.
#[inline]
fn decode_nested(
    slot: Option<&mut DhcpOption>,
    data: &[u8],
    dstart: usize,
    depth: Depth,
    skip: usize,
) -> Result<(), ParseError> {
    let depth = depth.descend(dstart)?;
    let rest = data.get(skip..).unwrap_or_default();
    if rest.is_empty() {
        // No encapsulated options (an IAADDR or IAPREFIX usually has none): the list stays
        // empty and unallocated.
        return Ok(());
    }
    match slot.and_then(DhcpOption::options_mut) {
        Some(v) => Options::parse_into(&mut v.0, rest, dstart.saturating_add(skip), depth),
        None => Err(ParseError::new(dstart, NOT_STORED)),
    }
}

/// A fixed-length payload from a slice.
#[inline]
fn fixed<const N: usize>(data: &[u8], start: usize) -> Result<[u8; N], ParseError> {
    match data.try_into() {
        Ok(a) => Ok(a),
        Err(_) => Err(bad_len(start, data.len(), AllowedLength::Exactly(N))),
    }
}

fn utf8<'a>(bytes: &'a [u8], at: usize, field: &'static str) -> Result<&'a str, ParseError> {
    core::str::from_utf8(bytes).map_err(|e| {
        ParseError::new(
            at.saturating_add(e.valid_up_to()),
            ParseErrorKind::BadValue {
                field,
                reason: "not valid UTF-8",
            },
        )
    })
}

fn length_prefixed_items(body: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, ParseError> {
    let mut v = Vec::new();
    while !body.is_empty() {
        let len = body.u16()?;
        v.push(body.take(usize::from(len))?.to_vec());
    }
    Ok(v)
}

impl DhcpOption {
    /// The option code.
    #[must_use]
    pub fn code(&self) -> OptionCode {
        match self {
            Self::ClientId(_) => OptionCode::CLIENTID,
            Self::ServerId(_) => OptionCode::SERVERID,
            Self::IaNa(_) => OptionCode::IA_NA,
            Self::IaTa(_) => OptionCode::IA_TA,
            Self::IaAddr(_) => OptionCode::IAADDR,
            Self::Oro(_) => OptionCode::ORO,
            Self::Preference(_) => OptionCode::PREFERENCE,
            Self::ElapsedTime(_) => OptionCode::ELAPSED_TIME,
            Self::RelayMsg(_) => OptionCode::RELAY_MSG,
            Self::Auth(_) => OptionCode::AUTH,
            Self::Unicast(_) => OptionCode::UNICAST,
            Self::StatusCode(_) => OptionCode::STATUS_CODE,
            Self::RapidCommit => OptionCode::RAPID_COMMIT,
            Self::UserClass(_) => OptionCode::USER_CLASS,
            Self::VendorClass(_) => OptionCode::VENDOR_CLASS,
            Self::VendorOpts(_) => OptionCode::VENDOR_OPTS,
            Self::InterfaceId(_) => OptionCode::INTERFACE_ID,
            Self::ReconfMsg(_) => OptionCode::RECONF_MSG,
            Self::ReconfAccept => OptionCode::RECONF_ACCEPT,
            Self::DnsServers(_) => OptionCode::DNS_SERVERS,
            Self::DomainList(_) => OptionCode::DOMAIN_LIST,
            Self::IaPd(_) => OptionCode::IA_PD,
            Self::IaPrefix(_) => OptionCode::IAPREFIX,
            Self::InformationRefreshTime(_) => OptionCode::INFORMATION_REFRESH_TIME,
            Self::ClientFqdn(_) => OptionCode::CLIENT_FQDN,
            Self::LqQuery(_) => OptionCode::LQ_QUERY,
            Self::ClientData(_) => OptionCode::CLIENT_DATA,
            Self::CltTime(_) => OptionCode::CLT_TIME,
            Self::LqRelayData(_) => OptionCode::LQ_RELAY_DATA,
            Self::LqClientLink(_) => OptionCode::LQ_CLIENT_LINK,
            Self::RelayId(_) => OptionCode::RELAY_ID,
            Self::Vss(_) => OptionCode::VSS,
            Self::SolMaxRt(_) => OptionCode::SOL_MAX_RT,
            Self::InfMaxRt(_) => OptionCode::INF_MAX_RT,
            Self::LqBaseTime(_) => OptionCode::LQ_BASE_TIME,
            Self::LqStartTime(_) => OptionCode::LQ_START_TIME,
            Self::LqEndTime(_) => OptionCode::LQ_END_TIME,
            Self::BindingStatus(_) => OptionCode::F_BINDING_STATUS,
            Self::ConnectFlags(_) => OptionCode::F_CONNECT_FLAGS,
            Self::DnsRemovalInfo(_) => OptionCode::F_DNS_REMOVAL_INFO,
            Self::DnsHostName(_) => OptionCode::F_DNS_HOST_NAME,
            Self::DnsZoneName(_) => OptionCode::F_DNS_ZONE_NAME,
            Self::DnsFlags(_) => OptionCode::F_DNS_FLAGS,
            Self::ExpirationTime(_) => OptionCode::F_EXPIRATION_TIME,
            Self::MaxUnackedBndupd(_) => OptionCode::F_MAX_UNACKED_BNDUPD,
            Self::Mclt(_) => OptionCode::F_MCLT,
            Self::PartnerLifetime(_) => OptionCode::F_PARTNER_LIFETIME,
            Self::PartnerLifetimeSent(_) => OptionCode::F_PARTNER_LIFETIME_SENT,
            Self::PartnerDownTime(_) => OptionCode::F_PARTNER_DOWN_TIME,
            Self::PartnerRawCltTime(_) => OptionCode::F_PARTNER_RAW_CLT_TIME,
            Self::ProtocolVersion(_) => OptionCode::F_PROTOCOL_VERSION,
            Self::KeepaliveTime(_) => OptionCode::F_KEEPALIVE_TIME,
            Self::ReconfigureData(_) => OptionCode::F_RECONFIGURE_DATA,
            Self::RelationshipName(_) => OptionCode::F_RELATIONSHIP_NAME,
            Self::ServerFlags(_) => OptionCode::F_SERVER_FLAGS,
            Self::ServerState(_) => OptionCode::F_SERVER_STATE,
            Self::StartTimeOfState(_) => OptionCode::F_START_TIME_OF_STATE,
            Self::StateExpirationTime(_) => OptionCode::F_STATE_EXPIRATION_TIME,
            Self::Unknown { code, .. } => *code,
        }
    }

    /// The encapsulated option list of the options that have one.
    fn options_mut(&mut self) -> Option<&mut Options> {
        match self {
            Self::IaNa(IaNa { options, .. })
            | Self::IaPd(IaPd { options, .. })
            | Self::IaTa(IaTa { options, .. })
            | Self::IaAddr(IaAddr { options, .. })
            | Self::IaPrefix(IaPrefix { options, .. })
            | Self::LqQuery(LqQuery { options, .. })
            | Self::ClientData(options)
            | Self::DnsRemovalInfo(options) => Some(options),
            _ => None,
        }
    }

    /// The value of a 4-byte integer option (times, intervals, counters), else `None`.
    #[must_use]
    pub fn u32_value(&self) -> Option<u32> {
        match *self {
            Self::InformationRefreshTime(v)
            | Self::CltTime(v)
            | Self::SolMaxRt(v)
            | Self::InfMaxRt(v)
            | Self::LqBaseTime(v)
            | Self::LqStartTime(v)
            | Self::LqEndTime(v)
            | Self::ExpirationTime(v)
            | Self::MaxUnackedBndupd(v)
            | Self::Mclt(v)
            | Self::PartnerLifetime(v)
            | Self::PartnerLifetimeSent(v)
            | Self::PartnerDownTime(v)
            | Self::PartnerRawCltTime(v)
            | Self::KeepaliveTime(v)
            | Self::StartTimeOfState(v)
            | Self::StateExpirationTime(v) => Some(v),
            _ => None,
        }
    }

    /// Decodes one option from its payload slice into `out`: the one decoder behind
    /// [`Options`] parsing, [`DhcpOption`]'s [`Parse`] and the payload structs' [`Parse`].
    ///
    /// `start` is the offset that length errors report (the option's code field, or the
    /// payload when a payload struct is parsed on its own), `dstart` the absolute offset of
    /// `data`, `depth` the nesting counters. Each arm validates first and then hands `out` a
    /// closure that builds the value, so that the value is built in its final place (see
    /// [`OptionSink`]); options that encapsulate options are stored first and their list is
    /// then decoded straight into them.
    #[inline(always)]
    pub(crate) fn decode_into<O: OptionSink>(
        out: &mut O,
        code: OptionCode,
        data: &[u8],
        start: usize,
        dstart: usize,
        depth: Depth,
    ) -> Result<(), ParseError> {
        // The payload as a reader, for the variable layouts.
        let body = || Reader::scoped(data, dstart, depth);
        match code {
            OptionCode::CLIENTID | OptionCode::SERVERID | OptionCode::RELAY_ID => {
                Duid::check(data, dstart)?;
                let slot = out.put_mut(|| match code {
                    OptionCode::CLIENTID => Self::ClientId(Duid::PLACEHOLDER),
                    OptionCode::SERVERID => Self::ServerId(Duid::PLACEHOLDER),
                    _ => Self::RelayId(Duid::PLACEHOLDER),
                });
                let Some(Self::ClientId(d) | Self::ServerId(d) | Self::RelayId(d)) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                d.set_valid(data);
            }
            OptionCode::IA_NA | OptionCode::IA_PD => {
                let Some((h, _)) = data.split_first_chunk::<12>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(12)));
                };
                let [i0, i1, i2, i3, a0, a1, a2, a3, b0, b1, b2, b3] = *h;
                let iaid = u32::from_be_bytes([i0, i1, i2, i3]);
                let t1 = u32::from_be_bytes([a0, a1, a2, a3]);
                let t2 = u32::from_be_bytes([b0, b1, b2, b3]);
                let slot = out.put_mut(|| {
                    let options = Options::new();
                    if code == OptionCode::IA_NA {
                        Self::IaNa(IaNa {
                            iaid,
                            t1,
                            t2,
                            options,
                        })
                    } else {
                        Self::IaPd(IaPd {
                            iaid,
                            t1,
                            t2,
                            options,
                        })
                    }
                });
                decode_nested(slot, data, dstart, depth, 12)?;
            }
            OptionCode::IA_TA => {
                let Some((h, _)) = data.split_first_chunk::<4>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(4)));
                };
                let iaid = u32::from_be_bytes(*h);
                let slot = out.put_mut(|| {
                    Self::IaTa(IaTa {
                        iaid,
                        options: Options::new(),
                    })
                });
                decode_nested(slot, data, dstart, depth, 4)?;
            }
            OptionCode::IAADDR => {
                let Some((h, _)) = data.split_first_chunk::<24>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(24)));
                };
                let (addr, lt) = h.split_first_chunk::<16>().unwrap_or((&[0; 16], &[]));
                let lt: [u8; 8] = lt.try_into().unwrap_or_default();
                let [p0, p1, p2, p3, v0, v1, v2, v3] = lt;
                let address = Ipv6Addr::from(*addr);
                let preferred_lifetime = u32::from_be_bytes([p0, p1, p2, p3]);
                let valid_lifetime = u32::from_be_bytes([v0, v1, v2, v3]);
                let slot = out.put_mut(|| {
                    Self::IaAddr(IaAddr {
                        address,
                        preferred_lifetime,
                        valid_lifetime,
                        options: Options::new(),
                    })
                });
                decode_nested(slot, data, dstart, depth, 24)?;
            }
            OptionCode::IAPREFIX => {
                let Some((h, _)) = data.split_first_chunk::<25>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(25)));
                };
                let (lt, tail) = h.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
                let [p0, p1, p2, p3, v0, v1, v2, v3] = *lt;
                let (&prefix_len, prefix) = tail.split_first().unwrap_or((&0, &[]));
                let prefix = Ipv6Addr::from(<[u8; 16]>::try_from(prefix).unwrap_or_default());
                if prefix_len > 128 {
                    return Err(ParseError::new(dstart.saturating_add(8), BAD_PREFIX_LEN));
                }
                let preferred_lifetime = u32::from_be_bytes([p0, p1, p2, p3]);
                let valid_lifetime = u32::from_be_bytes([v0, v1, v2, v3]);
                let slot = out.put_mut(|| {
                    Self::IaPrefix(IaPrefix {
                        preferred_lifetime,
                        valid_lifetime,
                        prefix_len,
                        prefix,
                        options: Options::new(),
                    })
                });
                decode_nested(slot, data, dstart, depth, 25)?;
            }
            OptionCode::ORO => {
                if data.len() & 1 != 0 {
                    return Err(bad_len(start, data.len(), AllowedLength::MultipleOf(2)));
                }
                // Stored first and filled in place (up to 22 codes inline, no allocation).
                let slot = out.put_mut(|| Self::Oro(OptionCodes::new()));
                let Some(Self::Oro(codes)) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                let items = codes.resize_for_overwrite(data.len() / 2);
                for (c, w) in items.iter_mut().zip(data.chunks_exact(2)) {
                    *c = OptionCode(u16::from_be_bytes(w.try_into().unwrap_or_default()));
                }
            }
            OptionCode::PREFERENCE => {
                let [b] = fixed::<1>(data, start)?;
                out.put(|| Self::Preference(b));
            }
            OptionCode::ELAPSED_TIME => {
                let v = u16::from_be_bytes(fixed::<2>(data, start)?);
                out.put(|| Self::ElapsedTime(v));
            }
            OptionCode::RELAY_MSG => {
                let m = Message::parse_slice(data, dstart, depth.descend(dstart)?, |m| m)?;
                out.put(|| Self::RelayMsg(m));
            }
            OptionCode::AUTH => {
                at_least(data, start, 11)?;
                let mut body = body();
                let protocol = body.u8()?;
                let algorithm = body.u8()?;
                let rdm = body.u8()?;
                let replay_detection = body.u64()?;
                let info = body.rest().to_vec();
                out.put(|| {
                    Self::Auth(Auth {
                        protocol,
                        algorithm,
                        rdm,
                        replay_detection,
                        info,
                    })
                });
            }
            OptionCode::UNICAST => {
                let a = Ipv6Addr::from(fixed::<16>(data, start)?);
                out.put(|| Self::Unicast(a));
            }
            OptionCode::STATUS_CODE => {
                let Some((s, text)) = data.split_first_chunk::<2>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(2)));
                };
                let text = utf8(text, dstart.saturating_add(2), "status-message")?;
                let status = Status(u16::from_be_bytes(*s));
                let message = String::from(text);
                out.put(|| Self::StatusCode(StatusCode { status, message }));
            }
            OptionCode::RAPID_COMMIT => {
                fixed::<0>(data, start)?;
                out.put(|| Self::RapidCommit);
            }
            OptionCode::RECONF_ACCEPT => {
                fixed::<0>(data, start)?;
                out.put(|| Self::ReconfAccept);
            }
            OptionCode::USER_CLASS => {
                let items = length_prefixed_items(&mut body())?;
                out.put(|| Self::UserClass(items));
            }
            OptionCode::VENDOR_CLASS => {
                at_least(data, start, 4)?;
                let mut body = body();
                let enterprise_number = body.u32()?;
                let data = length_prefixed_items(&mut body)?;
                out.put(|| {
                    Self::VendorClass(VendorClass {
                        enterprise_number,
                        data,
                    })
                });
            }
            OptionCode::VENDOR_OPTS => {
                at_least(data, start, 4)?;
                let mut body = body();
                let enterprise_number = body.u32()?;
                let mut options = Vec::new();
                while !body.is_empty() {
                    let code = body.u16()?;
                    let len = body.u16()?;
                    options.push(VendorOption {
                        code,
                        data: body.take(usize::from(len))?.to_vec(),
                    });
                }
                out.put(|| {
                    Self::VendorOpts(VendorOpts {
                        enterprise_number,
                        options,
                    })
                });
            }
            OptionCode::INTERFACE_ID => {
                let slot = out.put_mut(|| Self::InterfaceId(Payload::new()));
                let Some(Self::InterfaceId(id)) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                copy_short(id.resize_for_overwrite(data.len()), data);
            }
            OptionCode::RECONF_MSG => {
                let [t] = fixed::<1>(data, start)?;
                out.put(|| Self::ReconfMsg(MessageType(t)));
            }
            OptionCode::DNS_SERVERS | OptionCode::LQ_CLIENT_LINK => {
                if data.len() & 15 != 0 {
                    return Err(bad_len(start, data.len(), AllowedLength::MultipleOf(16)));
                }
                let slot = out.put_mut(|| {
                    if code == OptionCode::DNS_SERVERS {
                        Self::DnsServers(Ipv6Addrs::new())
                    } else {
                        Self::LqClientLink(Ipv6Addrs::new())
                    }
                });
                let Some(Self::DnsServers(addresses) | Self::LqClientLink(addresses)) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                let items = addresses.resize_for_overwrite(data.len() / 16);
                for (a, w) in items.iter_mut().zip(data.chunks_exact(16)) {
                    *a = Ipv6Addr::from(<[u8; 16]>::try_from(w).unwrap_or_default());
                }
            }
            OptionCode::DOMAIN_LIST => {
                // Every name is validated, then the whole list is copied in place at once.
                let mut body = body();
                while !body.is_empty() {
                    DomainName::scan(&mut body, false)?;
                }
                let slot = out.put_mut(|| Self::DomainList(DomainNames::new()));
                let Some(Self::DomainList(names)) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                names.set_valid(data);
            }
            OptionCode::CLIENT_FQDN => {
                let Some((&flags, _)) = data.split_first() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(1)));
                };
                let mut body = body();
                body.u8()?;
                let name = DomainName::scan_rest(&mut body)?;
                let slot = out.put_mut(|| {
                    Self::ClientFqdn(ClientFqdn {
                        flags,
                        name: DomainName::default(),
                    })
                });
                let Some(Self::ClientFqdn(f)) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                f.name.set_valid(name);
            }
            OptionCode::F_DNS_HOST_NAME | OptionCode::F_DNS_ZONE_NAME => {
                let name = DomainName::scan_rest(&mut body())?;
                let slot = out.put_mut(|| {
                    if code == OptionCode::F_DNS_HOST_NAME {
                        Self::DnsHostName(DomainName::default())
                    } else {
                        Self::DnsZoneName(DomainName::default())
                    }
                });
                let Some(Self::DnsHostName(n) | Self::DnsZoneName(n)) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                n.set_valid(name);
            }
            OptionCode::LQ_QUERY => {
                let Some((&query_type, rest)) = data.split_first() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(17)));
                };
                let Some((link, _)) = rest.split_first_chunk::<16>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(17)));
                };
                let link_address = Ipv6Addr::from(*link);
                let slot = out.put_mut(|| {
                    Self::LqQuery(LqQuery {
                        query_type,
                        link_address,
                        options: Options::new(),
                    })
                });
                decode_nested(slot, data, dstart, depth, 17)?;
            }
            OptionCode::CLIENT_DATA => {
                let slot = out.put_mut(|| Self::ClientData(Options::new()));
                decode_nested(slot, data, dstart, depth, 0)?;
            }
            OptionCode::F_DNS_REMOVAL_INFO => {
                let slot = out.put_mut(|| Self::DnsRemovalInfo(Options::new()));
                decode_nested(slot, data, dstart, depth, 0)?;
            }
            OptionCode::LQ_RELAY_DATA => {
                let Some((peer, rest)) = data.split_first_chunk::<16>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(16)));
                };
                let at = dstart.saturating_add(16);
                let message = Message::parse_slice(rest, at, depth.descend(at)?, Box::new)?;
                let peer_address = Ipv6Addr::from(*peer);
                out.put(|| {
                    Self::LqRelayData(LqRelayData {
                        peer_address,
                        message,
                    })
                });
            }
            OptionCode::VSS => {
                let Some((&vss_type, info)) = data.split_first() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(1)));
                };
                let info = info.to_vec();
                out.put(|| Self::Vss(Vss { vss_type, info }));
            }
            OptionCode::F_BINDING_STATUS => {
                let [b] = fixed::<1>(data, start)?;
                out.put(|| Self::BindingStatus(BindingStatus(b)));
            }
            OptionCode::F_CONNECT_FLAGS | OptionCode::F_DNS_FLAGS => {
                let v = u16::from_be_bytes(fixed::<2>(data, start)?);
                out.put(|| {
                    if code == OptionCode::F_CONNECT_FLAGS {
                        Self::ConnectFlags(v)
                    } else {
                        Self::DnsFlags(v)
                    }
                });
            }
            OptionCode::F_PROTOCOL_VERSION => {
                let [a, b, c, d] = fixed::<4>(data, start)?;
                out.put(|| {
                    Self::ProtocolVersion(ProtocolVersion {
                        major: u16::from_be_bytes([a, b]),
                        minor: u16::from_be_bytes([c, d]),
                    })
                });
            }
            OptionCode::F_RECONFIGURE_DATA => {
                let Some((time, key)) = data.split_first_chunk::<4>() else {
                    return Err(bad_len(start, data.len(), AllowedLength::AtLeast(4)));
                };
                let time = u32::from_be_bytes(*time);
                let key = key.to_vec();
                out.put(|| Self::ReconfigureData(ReconfigureData { time, key }));
            }
            OptionCode::F_RELATIONSHIP_NAME => {
                let name = String::from(utf8(data, dstart, "relationship-name")?);
                out.put(|| Self::RelationshipName(name));
            }
            OptionCode::F_SERVER_FLAGS => {
                let [b] = fixed::<1>(data, start)?;
                out.put(|| Self::ServerFlags(b));
            }
            OptionCode::F_SERVER_STATE => {
                let [b] = fixed::<1>(data, start)?;
                out.put(|| Self::ServerState(ServerState(b)));
            }
            OptionCode::INFORMATION_REFRESH_TIME
            | OptionCode::CLT_TIME
            | OptionCode::SOL_MAX_RT
            | OptionCode::INF_MAX_RT
            | OptionCode::LQ_BASE_TIME
            | OptionCode::LQ_START_TIME
            | OptionCode::LQ_END_TIME
            | OptionCode::F_EXPIRATION_TIME
            | OptionCode::F_MAX_UNACKED_BNDUPD
            | OptionCode::F_MCLT
            | OptionCode::F_PARTNER_LIFETIME
            | OptionCode::F_PARTNER_LIFETIME_SENT
            | OptionCode::F_PARTNER_DOWN_TIME
            | OptionCode::F_PARTNER_RAW_CLT_TIME
            | OptionCode::F_KEEPALIVE_TIME
            | OptionCode::F_START_TIME_OF_STATE
            | OptionCode::F_STATE_EXPIRATION_TIME => {
                let v = u32::from_be_bytes(fixed::<4>(data, start)?);
                out.put(|| Self::from_u32_code(code, v));
            }
            code => {
                let slot = out.put_mut(|| Self::Unknown {
                    code,
                    data: Payload::new(),
                });
                let Some(Self::Unknown { data: d, .. }) = slot else {
                    return Err(ParseError::new(dstart, NOT_STORED));
                };
                copy_short(d.resize_for_overwrite(data.len()), data);
            }
        }
        Ok(())
    }

    /// The 4-byte integer option `code` holding `v` (`code` is one of them).
    #[inline(always)]
    fn from_u32_code(code: OptionCode, v: u32) -> Self {
        match code {
            OptionCode::INFORMATION_REFRESH_TIME => Self::InformationRefreshTime(v),
            OptionCode::CLT_TIME => Self::CltTime(v),
            OptionCode::SOL_MAX_RT => Self::SolMaxRt(v),
            OptionCode::INF_MAX_RT => Self::InfMaxRt(v),
            OptionCode::LQ_BASE_TIME => Self::LqBaseTime(v),
            OptionCode::LQ_START_TIME => Self::LqStartTime(v),
            OptionCode::LQ_END_TIME => Self::LqEndTime(v),
            OptionCode::F_EXPIRATION_TIME => Self::ExpirationTime(v),
            OptionCode::F_MAX_UNACKED_BNDUPD => Self::MaxUnackedBndupd(v),
            OptionCode::F_MCLT => Self::Mclt(v),
            OptionCode::F_PARTNER_LIFETIME => Self::PartnerLifetime(v),
            OptionCode::F_PARTNER_LIFETIME_SENT => Self::PartnerLifetimeSent(v),
            OptionCode::F_PARTNER_DOWN_TIME => Self::PartnerDownTime(v),
            OptionCode::F_PARTNER_RAW_CLT_TIME => Self::PartnerRawCltTime(v),
            OptionCode::F_KEEPALIVE_TIME => Self::KeepaliveTime(v),
            OptionCode::F_START_TIME_OF_STATE => Self::StartTimeOfState(v),
            _ => Self::StateExpirationTime(v),
        }
    }

    /// Decodes one payload from `body` (consumed to its end). `start` is the offset length
    /// errors report (the option's code field, or the payload itself).
    pub(crate) fn parse_payload(
        code: OptionCode,
        start: usize,
        body: &mut Reader<'_>,
    ) -> Result<Self, ParseError> {
        let dstart = body.offset();
        let depth = body.depth();
        let data = body.rest();
        let mut out = None;
        Self::decode_into(&mut out, code, data, start, dstart, depth)?;
        out.ok_or_else(|| ParseError::new(dstart, NOT_STORED))
    }

    /// Length of the payload (without the 4-byte header).
    #[must_use]
    pub fn payload_len(&self) -> usize {
        let opts_len = |o: &Options| o.emitted_len();
        let items_len = |v: &Vec<Vec<u8>>| {
            v.iter()
                .fold(0usize, |a, i| a.saturating_add(2).saturating_add(i.len()))
        };
        match self {
            Self::ClientId(d) | Self::ServerId(d) | Self::RelayId(d) => d.emitted_len(),
            Self::IaNa(x) => opts_len(&x.options).saturating_add(12),
            Self::IaPd(x) => opts_len(&x.options).saturating_add(12),
            Self::IaTa(x) => opts_len(&x.options).saturating_add(4),
            Self::IaAddr(x) => opts_len(&x.options).saturating_add(24),
            Self::IaPrefix(x) => opts_len(&x.options).saturating_add(25),
            Self::Oro(v) => v.len().saturating_mul(2),
            Self::Preference(_)
            | Self::ReconfMsg(_)
            | Self::BindingStatus(_)
            | Self::ServerFlags(_)
            | Self::ServerState(_) => 1,
            Self::ElapsedTime(_) | Self::ConnectFlags(_) | Self::DnsFlags(_) => 2,
            Self::RelayMsg(m) => m.emitted_len(),
            Self::Auth(a) => a.info.len().saturating_add(11),
            Self::Unicast(_) => 16,
            Self::StatusCode(s) => s.message.len().saturating_add(2),
            Self::RapidCommit | Self::ReconfAccept => 0,
            Self::UserClass(v) => items_len(v),
            Self::VendorClass(v) => items_len(&v.data).saturating_add(4),
            Self::VendorOpts(v) => v.options.iter().fold(4usize, |a, o| {
                a.saturating_add(4).saturating_add(o.data.len())
            }),
            Self::InterfaceId(v) => v.len(),
            Self::DnsServers(v) | Self::LqClientLink(v) => v.len().saturating_mul(16),
            Self::DomainList(v) => v.as_bytes().len(),
            Self::ClientFqdn(f) => f.name.emitted_len().saturating_add(1),
            Self::LqQuery(q) => opts_len(&q.options).saturating_add(17),
            Self::ClientData(o) | Self::DnsRemovalInfo(o) => opts_len(o),
            Self::LqRelayData(d) => d.message.emitted_len().saturating_add(16),
            Self::Vss(v) => v.info.len().saturating_add(1),
            Self::DnsHostName(n) | Self::DnsZoneName(n) => n.emitted_len(),
            Self::ProtocolVersion(_) => 4,
            Self::ReconfigureData(d) => d.key.len().saturating_add(4),
            Self::RelationshipName(s) => s.len(),
            Self::InformationRefreshTime(_)
            | Self::CltTime(_)
            | Self::SolMaxRt(_)
            | Self::InfMaxRt(_)
            | Self::LqBaseTime(_)
            | Self::LqStartTime(_)
            | Self::LqEndTime(_)
            | Self::ExpirationTime(_)
            | Self::MaxUnackedBndupd(_)
            | Self::Mclt(_)
            | Self::PartnerLifetime(_)
            | Self::PartnerLifetimeSent(_)
            | Self::PartnerDownTime(_)
            | Self::PartnerRawCltTime(_)
            | Self::KeepaliveTime(_)
            | Self::StartTimeOfState(_)
            | Self::StateExpirationTime(_) => 4,
            Self::Unknown { data, .. } => data.len(),
        }
    }

    /// Writes the whole option, header and payload, to a vector: the one-pass path behind
    /// [`Emit::to_vec`]. One `match` per option: fixed layouts go out as one array, leaves
    /// with their length known up front, and options that hold options or a message get
    /// their length back-patched once their payload is written.
    pub(crate) fn emit_vec(&self, out: &mut Vec<u8>) {
        match self {
            Self::ClientId(d) => leaf(out, OptionCode::CLIENTID, d.as_bytes()),
            Self::ServerId(d) => leaf(out, OptionCode::SERVERID, d.as_bytes()),
            Self::IaNa(x) => {
                let start = out.len();
                out.extend_from_slice(&ia_header(OptionCode::IA_NA, x.iaid, x.t1, x.t2));
                x.options.emit_vec(out);
                patch_len(out, start);
            }
            Self::IaPd(x) => {
                let start = out.len();
                out.extend_from_slice(&ia_header(OptionCode::IA_PD, x.iaid, x.t1, x.t2));
                x.options.emit_vec(out);
                patch_len(out, start);
            }
            Self::IaAddr(x) => {
                let start = out.len();
                let [c0, c1] = OptionCode::IAADDR.0.to_be_bytes();
                let [
                    a0,
                    a1,
                    a2,
                    a3,
                    a4,
                    a5,
                    a6,
                    a7,
                    a8,
                    a9,
                    a10,
                    a11,
                    a12,
                    a13,
                    a14,
                    a15,
                ] = x.address.octets();
                let [p0, p1, p2, p3] = x.preferred_lifetime.to_be_bytes();
                let [v0, v1, v2, v3] = x.valid_lifetime.to_be_bytes();
                out.extend_from_slice(&[
                    c0, c1, 0, 24, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14,
                    a15, p0, p1, p2, p3, v0, v1, v2, v3,
                ]);
                if !x.options.is_empty() {
                    x.options.emit_vec(out);
                    patch_len(out, start);
                }
            }
            Self::IaPrefix(x) => {
                let start = out.len();
                let [c0, c1] = OptionCode::IAPREFIX.0.to_be_bytes();
                let [
                    a0,
                    a1,
                    a2,
                    a3,
                    a4,
                    a5,
                    a6,
                    a7,
                    a8,
                    a9,
                    a10,
                    a11,
                    a12,
                    a13,
                    a14,
                    a15,
                ] = x.prefix.octets();
                let [p0, p1, p2, p3] = x.preferred_lifetime.to_be_bytes();
                let [v0, v1, v2, v3] = x.valid_lifetime.to_be_bytes();
                out.extend_from_slice(&[
                    c0,
                    c1,
                    0,
                    25,
                    p0,
                    p1,
                    p2,
                    p3,
                    v0,
                    v1,
                    v2,
                    v3,
                    x.prefix_len,
                    a0,
                    a1,
                    a2,
                    a3,
                    a4,
                    a5,
                    a6,
                    a7,
                    a8,
                    a9,
                    a10,
                    a11,
                    a12,
                    a13,
                    a14,
                    a15,
                ]);
                if !x.options.is_empty() {
                    x.options.emit_vec(out);
                    patch_len(out, start);
                }
            }
            Self::Oro(v) => {
                header(out, OptionCode::ORO, v.len().saturating_mul(2));
                for c in v {
                    out.extend_from_slice(&c.0.to_be_bytes());
                }
            }
            Self::ElapsedTime(v) => {
                let [c0, c1] = OptionCode::ELAPSED_TIME.0.to_be_bytes();
                let [v0, v1] = v.to_be_bytes();
                out.extend_from_slice(&[c0, c1, 0, 2, v0, v1]);
            }
            Self::RelayMsg(m) => {
                let start = out.len();
                header(out, OptionCode::RELAY_MSG, 0);
                m.emit_to(out);
                patch_len(out, start);
            }
            Self::StatusCode(s) => {
                header(
                    out,
                    OptionCode::STATUS_CODE,
                    s.message.len().saturating_add(2),
                );
                out.extend_from_slice(&s.status.0.to_be_bytes());
                out.extend_from_slice(s.message.as_bytes());
            }
            Self::InterfaceId(v) => leaf(out, OptionCode::INTERFACE_ID, v),
            Self::DnsServers(v) => {
                header(out, OptionCode::DNS_SERVERS, v.len().saturating_mul(16));
                for a in v {
                    out.extend_from_slice(&a.octets());
                }
            }
            Self::DomainList(v) => leaf(out, OptionCode::DOMAIN_LIST, v.as_bytes()),
            Self::ClientFqdn(f) => {
                let name = f.name.as_bytes();
                header(out, OptionCode::CLIENT_FQDN, name.len().saturating_add(1));
                out.push(f.flags);
                out.extend_from_slice(name);
            }
            Self::Unknown { code, data } => leaf(out, *code, data),
            _ => {
                let start = out.len();
                header(out, self.code(), 0);
                self.emit_payload(out);
                patch_len(out, start);
            }
        }
    }

    pub(crate) fn emit_payload<S: Sink>(&self, out: &mut S) {
        fn items<S: Sink>(out: &mut S, v: &[Vec<u8>]) {
            for i in v {
                out.put_u16(len_u16(i.len()));
                out.put_slice(i);
            }
        }
        match self {
            Self::ClientId(d) | Self::ServerId(d) | Self::RelayId(d) => out.put_slice(d.as_bytes()),
            Self::IaNa(IaNa {
                iaid,
                t1,
                t2,
                options,
            })
            | Self::IaPd(IaPd {
                iaid,
                t1,
                t2,
                options,
            }) => {
                out.put_u32(*iaid);
                out.put_u32(*t1);
                out.put_u32(*t2);
                options.emit_to(out);
            }
            Self::IaTa(x) => {
                out.put_u32(x.iaid);
                x.options.emit_to(out);
            }
            Self::IaAddr(x) => {
                out.put_slice(&x.address.octets());
                out.put_u32(x.preferred_lifetime);
                out.put_u32(x.valid_lifetime);
                x.options.emit_to(out);
            }
            Self::IaPrefix(x) => {
                out.put_u32(x.preferred_lifetime);
                out.put_u32(x.valid_lifetime);
                out.put_u8(x.prefix_len);
                out.put_slice(&x.prefix.octets());
                x.options.emit_to(out);
            }
            Self::Oro(v) => {
                for c in v {
                    out.put_u16(c.0);
                }
            }
            Self::Preference(v) | Self::ServerFlags(v) => out.put_u8(*v),
            Self::ReconfMsg(t) => out.put_u8(t.0),
            Self::BindingStatus(s) => out.put_u8(s.0),
            Self::ServerState(s) => out.put_u8(s.0),
            Self::ElapsedTime(v) | Self::ConnectFlags(v) | Self::DnsFlags(v) => out.put_u16(*v),
            Self::RelayMsg(m) => m.emit_to(out),
            Self::Auth(a) => {
                out.put_u8(a.protocol);
                out.put_u8(a.algorithm);
                out.put_u8(a.rdm);
                out.put_u64(a.replay_detection);
                out.put_slice(&a.info);
            }
            Self::Unicast(a) => out.put_slice(&a.octets()),
            Self::StatusCode(s) => {
                out.put_u16(s.status.0);
                out.put_slice(s.message.as_bytes());
            }
            Self::RapidCommit | Self::ReconfAccept => {}
            Self::UserClass(v) => items(out, v),
            Self::VendorClass(v) => {
                out.put_u32(v.enterprise_number);
                items(out, &v.data);
            }
            Self::VendorOpts(v) => {
                out.put_u32(v.enterprise_number);
                for o in &v.options {
                    out.put_u16(o.code);
                    out.put_u16(len_u16(o.data.len()));
                    out.put_slice(&o.data);
                }
            }
            Self::InterfaceId(v) => out.put_slice(v),
            Self::DnsServers(v) | Self::LqClientLink(v) => {
                for a in v {
                    out.put_slice(&a.octets());
                }
            }
            Self::DomainList(v) => out.put_slice(v.as_bytes()),
            Self::ClientFqdn(f) => {
                out.put_u8(f.flags);
                out.put_slice(f.name.as_bytes());
            }
            Self::LqQuery(q) => {
                out.put_u8(q.query_type);
                out.put_slice(&q.link_address.octets());
                q.options.emit_to(out);
            }
            Self::ClientData(o) | Self::DnsRemovalInfo(o) => o.emit_to(out),
            Self::LqRelayData(d) => {
                out.put_slice(&d.peer_address.octets());
                d.message.emit_to(out);
            }
            Self::Vss(v) => {
                out.put_u8(v.vss_type);
                out.put_slice(&v.info);
            }
            Self::DnsHostName(n) | Self::DnsZoneName(n) => out.put_slice(n.as_bytes()),
            Self::ProtocolVersion(v) => {
                out.put_u16(v.major);
                out.put_u16(v.minor);
            }
            Self::ReconfigureData(d) => {
                out.put_u32(d.time);
                out.put_slice(&d.key);
            }
            Self::RelationshipName(s) => out.put_slice(s.as_bytes()),
            Self::InformationRefreshTime(v)
            | Self::CltTime(v)
            | Self::SolMaxRt(v)
            | Self::InfMaxRt(v)
            | Self::LqBaseTime(v)
            | Self::LqStartTime(v)
            | Self::LqEndTime(v)
            | Self::ExpirationTime(v)
            | Self::MaxUnackedBndupd(v)
            | Self::Mclt(v)
            | Self::PartnerLifetime(v)
            | Self::PartnerLifetimeSent(v)
            | Self::PartnerDownTime(v)
            | Self::PartnerRawCltTime(v)
            | Self::KeepaliveTime(v)
            | Self::StartTimeOfState(v)
            | Self::StateExpirationTime(v) => out.put_u32(*v),
            Self::Unknown { data, .. } => out.put_slice(data),
        }
    }
}

impl<'a> Parse<'a> for DhcpOption {
    /// Reads one option: code, length and payload.
    fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError> {
        let start = r.offset();
        let code = OptionCode(r.u16()?);
        let len = r.u16().map_err(|e| e.within(code))?;
        let available = r.remaining();
        let depth = r.depth();
        let data = r.take(usize::from(len)).map_err(|_| {
            bad_len(
                start,
                usize::from(len),
                AllowedLength::Between(0, available),
            )
            .within(code)
        })?;
        let mut out = None;
        let dstart = start.saturating_add(4);
        Self::decode_into(&mut out, code, data, start, dstart, depth)
            .map_err(|e| e.within(code))?;
        out.ok_or_else(|| ParseError::new(dstart, NOT_STORED))
    }
}

/// Where [`DhcpOption::decode_into`] puts the option it decoded: the list being parsed, or
/// the single result of [`DhcpOption`]'s [`Parse`].
///
/// The value comes as a closure that builds it, called only once there is room for it, so
/// that the compiler writes the fields straight into the list's buffer. (Pushing a value built
/// beforehand made the compiler assemble it in a stack temporary and copy that into the buffer
/// with wide loads right after its fields were written with narrow stores; the failed store
/// forwarding on that copy was the largest single cost of decoding a message.) Arms that
/// allocate do so before calling `put`, so that nothing sits between the capacity check and
/// the write.
pub(crate) trait OptionSink {
    /// Stores the option `make` builds.
    fn put(&mut self, make: impl FnOnce() -> DhcpOption);

    /// Stores the option `make` builds and returns it in its place (always `Some`).
    fn put_mut(&mut self, make: impl FnOnce() -> DhcpOption) -> Option<&mut DhcpOption>;
}

impl OptionSink for Vec<DhcpOption> {
    #[inline(always)]
    fn put(&mut self, make: impl FnOnce() -> DhcpOption) {
        if self.len() == self.capacity() {
            self.reserve(1);
        }
        // Always true after `reserve`; stated so that the compiler drops `push`'s own growth
        // path and builds the value right where it goes.
        if self.len() < self.capacity() {
            self.push(make());
        }
    }

    #[inline(always)]
    fn put_mut(&mut self, make: impl FnOnce() -> DhcpOption) -> Option<&mut DhcpOption> {
        self.put(make);
        self.last_mut()
    }
}

impl OptionSink for Option<DhcpOption> {
    #[inline(always)]
    fn put(&mut self, make: impl FnOnce() -> DhcpOption) {
        *self = Some(make());
    }

    #[inline(always)]
    fn put_mut(&mut self, make: impl FnOnce() -> DhcpOption) -> Option<&mut DhcpOption> {
        Some(self.insert(make()))
    }
}

impl Emit for DhcpOption {
    fn emit(&self, out: &mut impl BufMut) {
        BufSink(out).put_option(self);
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(TO_VEC_CAPACITY);
        v.put_option(self);
        v
    }

    fn emitted_len(&self) -> usize {
        self.payload_len().saturating_add(4)
    }
}

macro_rules! payload_codec {
    ($ty:ident, $variant:ident) => {
        impl<'a> Parse<'a> for $ty {
            /// Parses the option payload (without code and length), consuming the reader.
            fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError> {
                let start = r.offset();
                match DhcpOption::parse_payload(OptionCode::$variant, start, r) {
                    Ok(DhcpOption::$ty(x)) => Ok(x),
                    Ok(_) => Err(r.error(ParseErrorKind::BadValue {
                        field: "option",
                        reason: "internal: unexpected variant",
                    })),
                    Err(e) => Err(e.within(OptionCode::$variant)),
                }
            }
        }

        impl Emit for $ty {
            fn emit(&self, out: &mut impl BufMut) {
                let out = &mut BufSink(out);
                emit_typed_payload!($ty, self, out);
            }

            fn emitted_len(&self) -> usize {
                typed_payload_len!($ty, self)
            }
        }

        impl From<$ty> for DhcpOption {
            fn from(x: $ty) -> Self {
                Self::$ty(x)
            }
        }
    };
}

macro_rules! emit_typed_payload {
    (IaNa, $s:ident, $out:ident) => {{
        $out.put_u32($s.iaid);
        $out.put_u32($s.t1);
        $out.put_u32($s.t2);
        $s.options.emit_to($out);
    }};
    (IaPd, $s:ident, $out:ident) => {
        emit_typed_payload!(IaNa, $s, $out)
    };
    (IaTa, $s:ident, $out:ident) => {{
        $out.put_u32($s.iaid);
        $s.options.emit_to($out);
    }};
    (IaAddr, $s:ident, $out:ident) => {{
        $out.put_slice(&$s.address.octets());
        $out.put_u32($s.preferred_lifetime);
        $out.put_u32($s.valid_lifetime);
        $s.options.emit_to($out);
    }};
    (IaPrefix, $s:ident, $out:ident) => {{
        $out.put_u32($s.preferred_lifetime);
        $out.put_u32($s.valid_lifetime);
        $out.put_u8($s.prefix_len);
        $out.put_slice(&$s.prefix.octets());
        $s.options.emit_to($out);
    }};
    (StatusCode, $s:ident, $out:ident) => {{
        $out.put_u16($s.status.0);
        $out.put_slice($s.message.as_bytes());
    }};
}

macro_rules! typed_payload_len {
    (IaNa, $s:ident) => {
        $s.options.emitted_len().saturating_add(12)
    };
    (IaPd, $s:ident) => {
        $s.options.emitted_len().saturating_add(12)
    };
    (IaTa, $s:ident) => {
        $s.options.emitted_len().saturating_add(4)
    };
    (IaAddr, $s:ident) => {
        $s.options.emitted_len().saturating_add(24)
    };
    (IaPrefix, $s:ident) => {
        $s.options.emitted_len().saturating_add(25)
    };
    (StatusCode, $s:ident) => {
        $s.message.len().saturating_add(2)
    };
}

payload_codec!(IaNa, IA_NA);
payload_codec!(IaPd, IA_PD);
payload_codec!(IaTa, IA_TA);
payload_codec!(IaAddr, IAADDR);
payload_codec!(IaPrefix, IAPREFIX);
payload_codec!(StatusCode, STATUS_CODE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_exact;
    use alloc::string::ToString;
    use alloc::vec;
    use hex_literal::hex;

    const ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0x7a2b, 0xcc1d, 0x4e5f, 0x1001);

    /// Each pair: the wire bytes of one option and its typed value. Both directions are checked.
    fn vectors() -> Vec<(Vec<u8>, DhcpOption)> {
        let duid = Duid::llt(1, 0x2b3c_4d5e, &hex!("0800276f8a95")).unwrap();
        let name = DomainName::from_dotted("example.com", true).unwrap();
        vec![
            (
                hex!("0001 000e 000100012b3c4d5e0800276f8a95").to_vec(),
                DhcpOption::ClientId(duid.clone()),
            ),
            (
                hex!("0002 000e 000100012b3c4d5e0800276f8a95").to_vec(),
                DhcpOption::ServerId(duid.clone()),
            ),
            (
                hex!("0035 000e 000100012b3c4d5e0800276f8a95").to_vec(),
                DhcpOption::RelayId(duid),
            ),
            (
                hex!("0003 000c 276f8a95 00000708 00000b40").to_vec(),
                DhcpOption::IaNa(IaNa {
                    iaid: 0x276f_8a95,
                    t1: 1800,
                    t2: 2880,
                    options: Options::new(),
                }),
            ),
            (
                hex!("0004 0004 00000007").to_vec(),
                DhcpOption::IaTa(IaTa {
                    iaid: 7,
                    options: Options::new(),
                }),
            ),
            (
                hex!("0005 001e 20010db8000100007a2bcc1d4e5f1001 00000e10 00001518 0073 0002 0001")
                    .to_vec(),
                DhcpOption::IaAddr(IaAddr {
                    address: ADDR,
                    preferred_lifetime: 3600,
                    valid_lifetime: 5400,
                    options: Options::new().with(DhcpOption::ConnectFlags(1)),
                }),
            ),
            (
                hex!("0006 0004 0017 0018").to_vec(),
                DhcpOption::Oro([OptionCode::DNS_SERVERS, OptionCode::DOMAIN_LIST].into()),
            ),
            (hex!("0007 0001 ff").to_vec(), DhcpOption::Preference(255)),
            (
                hex!("0008 0002 0064").to_vec(),
                DhcpOption::ElapsedTime(100),
            ),
            (
                hex!("0009 0004 01 000001").to_vec(),
                DhcpOption::RelayMsg(Message::Client(crate::ClientMessage::new(
                    MessageType::SOLICIT,
                    1,
                ))),
            ),
            (
                hex!("000b 000d 03 01 00 0000000000000001 abcd").to_vec(),
                DhcpOption::Auth(Auth {
                    protocol: 3,
                    algorithm: 1,
                    rdm: 0,
                    replay_detection: 1,
                    info: vec![0xab, 0xcd],
                }),
            ),
            (
                hex!("000c 0010 20010db8000100007a2bcc1d4e5f1001").to_vec(),
                DhcpOption::Unicast(ADDR),
            ),
            (
                hex!("000d 0004 0002 6869").to_vec(),
                DhcpOption::StatusCode(StatusCode::new(Status::NO_ADDRS_AVAIL, "hi")),
            ),
            (hex!("000e 0000").to_vec(), DhcpOption::RapidCommit),
            (
                hex!("000f 0007 0003 616263 0000").to_vec(),
                DhcpOption::UserClass(vec![b"abc".to_vec(), vec![]]),
            ),
            (
                hex!("0010 000a 00000137 0004 4d534654").to_vec(),
                DhcpOption::VendorClass(VendorClass {
                    enterprise_number: 311,
                    data: vec![b"MSFT".to_vec()],
                }),
            ),
            (
                hex!("0011 000a 0000118b 0001 0002 6869").to_vec(),
                DhcpOption::VendorOpts(VendorOpts {
                    enterprise_number: 4491,
                    options: vec![VendorOption {
                        code: 1,
                        data: b"hi".to_vec(),
                    }],
                }),
            ),
            (
                hex!("0012 0004 65746830").to_vec(),
                DhcpOption::InterfaceId(b"eth0"[..].into()),
            ),
            (
                hex!("0013 0001 05").to_vec(),
                DhcpOption::ReconfMsg(MessageType::RENEW),
            ),
            (hex!("0014 0000").to_vec(), DhcpOption::ReconfAccept),
            (
                hex!("0017 0010 20010db8000100007a2bcc1d4e5f1001").to_vec(),
                DhcpOption::DnsServers([ADDR].into()),
            ),
            (
                hex!("0018 000e 076578616d706c6503636f6d00 00").to_vec(),
                DhcpOption::DomainList(
                    vec![name.clone(), DomainName::from_dotted(".", true).unwrap()].into(),
                ),
            ),
            (
                hex!("0019 000c 00000001 00000000 00000000").to_vec(),
                DhcpOption::IaPd(IaPd {
                    iaid: 1,
                    t1: 0,
                    t2: 0,
                    options: Options::new(),
                }),
            ),
            (
                hex!("001a 0019 00000e10 00001518 38 20010db8ff0042000000000000000000").to_vec(),
                DhcpOption::IaPrefix(
                    IaPrefix::new(
                        3600,
                        5400,
                        56,
                        "2001:db8:ff00:4200::".parse().unwrap(),
                        Options::new(),
                    )
                    .unwrap(),
                ),
            ),
            (
                hex!("0020 0004 00015180").to_vec(),
                DhcpOption::InformationRefreshTime(86400),
            ),
            (
                hex!("0027 000e 01 076578616d706c6503636f6d00").to_vec(),
                DhcpOption::ClientFqdn(ClientFqdn {
                    flags: 1,
                    name: name.clone(),
                }),
            ),
            (
                hex!("002c 0011 01 20010db8000100007a2bcc1d4e5f1001").to_vec(),
                DhcpOption::LqQuery(LqQuery {
                    query_type: 1,
                    link_address: ADDR,
                    options: Options::new(),
                }),
            ),
            (
                hex!("002d 0008 002e 0004 0000001e").to_vec(),
                DhcpOption::ClientData(Options::new().with(DhcpOption::CltTime(30))),
            ),
            (hex!("002e 0004 0000001e").to_vec(), DhcpOption::CltTime(30)),
            (
                hex!("002f 0014 20010db8000100007a2bcc1d4e5f1001 01 000001").to_vec(),
                DhcpOption::LqRelayData(LqRelayData {
                    peer_address: ADDR,
                    message: Box::new(Message::Client(crate::ClientMessage::new(
                        MessageType::SOLICIT,
                        1,
                    ))),
                }),
            ),
            (
                hex!("0030 0010 20010db8000100007a2bcc1d4e5f1001").to_vec(),
                DhcpOption::LqClientLink([ADDR].into()),
            ),
            (
                hex!("0044 0001 ff").to_vec(),
                DhcpOption::Vss(Vss {
                    vss_type: 255,
                    info: vec![],
                }),
            ),
            (
                hex!("0052 0004 00000e10").to_vec(),
                DhcpOption::SolMaxRt(3600),
            ),
            (
                hex!("0053 0004 00000e10").to_vec(),
                DhcpOption::InfMaxRt(3600),
            ),
            (
                hex!("0064 0004 2a3b4c5d").to_vec(),
                DhcpOption::LqBaseTime(0x2a3b_4c5d),
            ),
            (
                hex!("0065 0004 2a3b4c5d").to_vec(),
                DhcpOption::LqStartTime(0x2a3b_4c5d),
            ),
            (
                hex!("0066 0004 2a3b4c5d").to_vec(),
                DhcpOption::LqEndTime(0x2a3b_4c5d),
            ),
            (
                hex!("0072 0001 06").to_vec(),
                DhcpOption::BindingStatus(BindingStatus::FREE_BACKUP),
            ),
            (
                hex!("0073 0002 0001").to_vec(),
                DhcpOption::ConnectFlags(crate::codes::connect_flags::FIXED_PD_LENGTH),
            ),
            (
                hex!("0074 0006 0077 0002 000b").to_vec(),
                DhcpOption::DnsRemovalInfo(Options::new().with(DhcpOption::DnsFlags(0x0b))),
            ),
            (
                hex!("0075 000d 076578616d706c6503636f6d00").to_vec(),
                DhcpOption::DnsHostName(name.clone()),
            ),
            (
                hex!("0076 000d 076578616d706c6503636f6d00").to_vec(),
                DhcpOption::DnsZoneName(name),
            ),
            (
                hex!("0077 0002 000b").to_vec(),
                DhcpOption::DnsFlags(0x000b),
            ),
            (
                hex!("0078 0004 00000001").to_vec(),
                DhcpOption::ExpirationTime(1),
            ),
            (
                hex!("0079 0004 0000000a").to_vec(),
                DhcpOption::MaxUnackedBndupd(10),
            ),
            (hex!("007a 0004 00000e10").to_vec(), DhcpOption::Mclt(3600)),
            (
                hex!("007b 0004 00000002").to_vec(),
                DhcpOption::PartnerLifetime(2),
            ),
            (
                hex!("007c 0004 00000003").to_vec(),
                DhcpOption::PartnerLifetimeSent(3),
            ),
            (
                hex!("007d 0004 00000004").to_vec(),
                DhcpOption::PartnerDownTime(4),
            ),
            (
                hex!("007e 0004 00000005").to_vec(),
                DhcpOption::PartnerRawCltTime(5),
            ),
            (
                hex!("007f 0004 0001 0000").to_vec(),
                DhcpOption::ProtocolVersion(ProtocolVersion { major: 1, minor: 0 }),
            ),
            (
                hex!("0080 0004 0000003c").to_vec(),
                DhcpOption::KeepaliveTime(60),
            ),
            (
                hex!("0081 0006 2a3b4c5d abcd").to_vec(),
                DhcpOption::ReconfigureData(ReconfigureData {
                    time: 0x2a3b_4c5d,
                    key: vec![0xab, 0xcd],
                }),
            ),
            (
                hex!("0082 0006 706169722d61").to_vec(),
                DhcpOption::RelationshipName("pair-a".into()),
            ),
            (hex!("0083 0001 05").to_vec(), DhcpOption::ServerFlags(0x05)),
            (
                hex!("0084 0001 07").to_vec(),
                DhcpOption::ServerState(ServerState::RECOVER_WAIT),
            ),
            (
                hex!("0085 0004 00000006").to_vec(),
                DhcpOption::StartTimeOfState(6),
            ),
            (
                hex!("0086 0004 00000007").to_vec(),
                DhcpOption::StateExpirationTime(7),
            ),
            (
                hex!("fde8 0003 010203").to_vec(),
                DhcpOption::Unknown {
                    code: OptionCode(65000),
                    data: [1, 2, 3].into(),
                },
            ),
        ]
    }

    #[test]
    fn deconstruct_and_construct_every_option() {
        for (bytes, value) in vectors() {
            let parsed =
                parse_exact::<DhcpOption>(&bytes).unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert_eq!(parsed, value, "deconstruct {:?}", value.code());
            assert_eq!(value.to_vec(), bytes, "construct {:?}", value.code());
            assert_eq!(value.emitted_len(), bytes.len());
            let mut via_bufmut = Vec::new();
            value.emit(&mut via_bufmut);
            assert_eq!(via_bufmut, bytes);
        }
    }

    #[test]
    fn payload_structs_parse_and_emit_alone() {
        let b = hex!("276f8a95 00000708 00000b40 000d 0002 0000");
        let ia = parse_exact::<IaNa>(&b).unwrap();
        assert_eq!(ia.options.status_code().unwrap().status, Status::SUCCESS);
        assert_eq!(ia.to_vec(), b);
        let s = parse_exact::<StatusCode>(&hex!("0013 6f6c64")).unwrap();
        assert_eq!(
            s,
            StatusCode::new(Status::OUTDATED_BINDING_INFORMATION, "old")
        );
    }

    /// Each case: bad bytes, the expected error text.
    #[test]
    fn errors_name_the_option_and_the_offset() {
        let cases: &[(&[u8], &str)] = &[
            (
                &hex!("007a 0003 000e10"),
                "OPTION_F_MCLT at byte 0: length 3, expected 4",
            ),
            (
                &hex!("0008 0003 000e10"),
                "OPTION_ELAPSED_TIME at byte 0: length 3, expected 2",
            ),
            (
                &hex!("0003 0008 0000000000000000"),
                "OPTION_IA_NA at byte 0: length 8, expected at least 12",
            ),
            (
                &hex!("0006 0003 000100"),
                "OPTION_ORO at byte 0: length 3, expected a multiple of 2",
            ),
            (
                &hex!("0017 0004 00000000"),
                "OPTION_DNS_SERVERS at byte 0: length 4, expected a multiple of 16",
            ),
            (
                &hex!("0001 0001 00"),
                "OPTION_CLIENTID at byte 4: length 1, expected 2 to 130",
            ),
            (
                &hex!("0001 0004 0004 0000"),
                "OPTION_CLIENTID at byte 4: length 4, expected 18",
            ),
            (
                &hex!("000d 0003 0000 ff"),
                "OPTION_STATUS_CODE at byte 6: bad status-message: not valid UTF-8",
            ),
            (
                &hex!("0018 0004 03616263"),
                "OPTION_DOMAIN_LIST at byte 8: bad domain name: name does not end with the root label",
            ),
            (
                &hex!("0018 0002 c00c"),
                "OPTION_DOMAIN_LIST at byte 4: bad domain name: label longer than 63 bytes or compression pointer",
            ),
            (
                &hex!("0027 0004 00 05 6162"),
                "OPTION_CLIENT_FQDN at byte 5: bad domain name: label runs past the end",
            ),
            (
                &hex!("0001 0010 0001"),
                "OPTION_CLIENTID at byte 0: length 16, expected 0 to 2",
            ),
            (
                &hex!("0019 000e 00000001 00000000 00000000 0007"),
                "OPTION_IA_PD at byte 16: truncated: need 4 bytes, 2 available",
            ),
            (
                &hex!("001a 0019 00000000 00000000 81 00000000000000000000000000000000"),
                "OPTION_IAPREFIX at byte 12: bad prefix-length: greater than 128",
            ),
            (
                &hex!("002d 000d 0003 0009 00000001 00000000 00"),
                "OPTION_IA_NA at byte 4: length 9, expected at least 12",
            ),
            (
                &hex!("0082 0002 c328"),
                "OPTION_F_RELATIONSHIP_NAME at byte 4: bad relationship-name: not valid UTF-8",
            ),
        ];
        for (bytes, text) in cases {
            let e = parse_exact::<Options>(bytes).unwrap_err();
            assert_eq!(e.to_string(), *text, "{}", hex::encode(bytes));
        }
    }

    #[test]
    fn nesting_is_bounded() {
        // CLIENT_DATA inside CLIENT_DATA, 100 levels deep: must fail cleanly, not overflow.
        let mut b: Vec<u8> = Vec::new();
        for _ in 0..100 {
            let mut outer = vec![0, 45];
            outer.extend_from_slice(&u16::try_from(b.len()).unwrap().to_be_bytes());
            outer.extend_from_slice(&b);
            b = outer;
        }
        let e = parse_exact::<Options>(&b).unwrap_err();
        assert_eq!(
            e.kind,
            ParseErrorKind::NestingTooDeep {
                limit: crate::MAX_NESTING
            }
        );
        assert_eq!(e.option, Some(OptionCode::CLIENT_DATA));
    }
}
