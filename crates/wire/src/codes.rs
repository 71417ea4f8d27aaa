//! Open code spaces: message types, option codes, status codes, binding states and server
//! states.
//!
//! Each is a newtype over the wire integer with associated constants, so every value a peer can
//! send is representable and matching on a known constant needs no `Unknown` arm. `Debug` and
//! `Display` print the registry name when the value is known and the number otherwise.

use core::fmt;

macro_rules! code_space {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty), $hexwidth:literal {
            $( $konst:ident = $val:literal => $rfc_name:literal, $reference:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $int);

        impl $name {
            $(
                #[doc = concat!("`", $rfc_name, "` = ", stringify!($val), " (", $reference, ").")]
                pub const $konst: Self = Self($val);
            )*

            /// The registry name of this value, or `None` if the codec does not know it.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($rfc_name), )*
                    _ => None,
                }
            }

            /// Every value this codec knows by name, in numeric order.
            pub const KNOWN: &'static [Self] = &[$( Self($val), )*];
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, concat!(stringify!($name), "({:#0", $hexwidth, "x})"), self.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

code_space! {
    /// DHCPv6 message type, the first octet of every message
    /// ([RFC 8415 §7.3](https://www.rfc-editor.org/rfc/rfc8415#section-7.3),
    /// [RFC 8156 §5.3](https://www.rfc-editor.org/rfc/rfc8156#section-5.3)).
    MessageType(u8), 4 {
        SOLICIT = 1 => "SOLICIT", "RFC 8415 §16.2";
        ADVERTISE = 2 => "ADVERTISE", "RFC 8415 §16.3";
        REQUEST = 3 => "REQUEST", "RFC 8415 §16.4";
        CONFIRM = 4 => "CONFIRM", "RFC 8415 §16.5";
        RENEW = 5 => "RENEW", "RFC 8415 §16.6";
        REBIND = 6 => "REBIND", "RFC 8415 §16.7";
        REPLY = 7 => "REPLY", "RFC 8415 §16.10";
        RELEASE = 8 => "RELEASE", "RFC 8415 §16.9";
        DECLINE = 9 => "DECLINE", "RFC 8415 §16.8";
        RECONFIGURE = 10 => "RECONFIGURE", "RFC 8415 §16.11";
        INFORMATION_REQUEST = 11 => "INFORMATION-REQUEST", "RFC 8415 §16.12";
        RELAY_FORW = 12 => "RELAY-FORW", "RFC 8415 §16.13";
        RELAY_REPL = 13 => "RELAY-REPL", "RFC 8415 §16.14";
        LEASEQUERY = 14 => "LEASEQUERY", "RFC 5007 §4.2";
        LEASEQUERY_REPLY = 15 => "LEASEQUERY-REPLY", "RFC 5007 §4.2";
        LEASEQUERY_DONE = 16 => "LEASEQUERY-DONE", "RFC 5460 §5.2";
        LEASEQUERY_DATA = 17 => "LEASEQUERY-DATA", "RFC 5460 §5.2";
        RECONFIGURE_REQUEST = 18 => "RECONFIGURE-REQUEST", "RFC 6977";
        RECONFIGURE_REPLY = 19 => "RECONFIGURE-REPLY", "RFC 6977";
        DHCPV4_QUERY = 20 => "DHCPV4-QUERY", "RFC 7341";
        DHCPV4_RESPONSE = 21 => "DHCPV4-RESPONSE", "RFC 7341";
        ACTIVELEASEQUERY = 22 => "ACTIVELEASEQUERY", "RFC 7653";
        STARTTLS = 23 => "STARTTLS", "RFC 7653";
        BNDUPD = 24 => "BNDUPD", "RFC 8156 §5.3.1";
        BNDREPLY = 25 => "BNDREPLY", "RFC 8156 §5.3.2";
        POOLREQ = 26 => "POOLREQ", "RFC 8156 §5.3.3";
        POOLRESP = 27 => "POOLRESP", "RFC 8156 §5.3.4";
        UPDREQ = 28 => "UPDREQ", "RFC 8156 §5.3.5";
        UPDREQALL = 29 => "UPDREQALL", "RFC 8156 §5.3.6";
        UPDDONE = 30 => "UPDDONE", "RFC 8156 §5.3.7";
        CONNECT = 31 => "CONNECT", "RFC 8156 §5.3.8";
        CONNECTREPLY = 32 => "CONNECTREPLY", "RFC 8156 §5.3.9";
        DISCONNECT = 33 => "DISCONNECT", "RFC 8156 §5.3.10";
        STATE = 34 => "STATE", "RFC 8156 §5.3.11";
        CONTACT = 35 => "CONTACT", "RFC 8156 §5.3.12";
        ADDR_REG_INFORM = 36 => "ADDR-REG-INFORM", "RFC 9686";
        ADDR_REG_REPLY = 37 => "ADDR-REG-REPLY", "RFC 9686";
    }
}

/// Which header layout a message type uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum HeaderKind {
    /// msg-type, 24-bit transaction-id ([RFC 8415 §8](https://www.rfc-editor.org/rfc/rfc8415#section-8)).
    Client,
    /// msg-type, hop-count, link-address, peer-address ([RFC 8415 §9](https://www.rfc-editor.org/rfc/rfc8415#section-9)).
    Relay,
    /// msg-type, 24-bit transaction-id, 32-bit sent-time ([RFC 8156 §5.2](https://www.rfc-editor.org/rfc/rfc8156#section-5.2)).
    Failover,
    /// A type this codec does not model; its body is carried byte-exact.
    Unknown,
}

impl MessageType {
    /// The header layout of this message type.
    #[must_use]
    pub const fn header_kind(self) -> HeaderKind {
        match self.0 {
            1..=11 | 14..=23 | 36 | 37 => HeaderKind::Client,
            12 | 13 => HeaderKind::Relay,
            24..=35 => HeaderKind::Failover,
            _ => HeaderKind::Unknown,
        }
    }
}

code_space! {
    /// DHCPv6 option code ([RFC 8415 §21](https://www.rfc-editor.org/rfc/rfc8415#section-21),
    /// [RFC 8156 §5.5](https://www.rfc-editor.org/rfc/rfc8156#section-5.5)).
    OptionCode(u16), 6 {
        CLIENTID = 1 => "OPTION_CLIENTID", "RFC 8415 §21.2";
        SERVERID = 2 => "OPTION_SERVERID", "RFC 8415 §21.3";
        IA_NA = 3 => "OPTION_IA_NA", "RFC 8415 §21.4";
        IA_TA = 4 => "OPTION_IA_TA", "RFC 8415 §21.5";
        IAADDR = 5 => "OPTION_IAADDR", "RFC 8415 §21.6";
        ORO = 6 => "OPTION_ORO", "RFC 8415 §21.7";
        PREFERENCE = 7 => "OPTION_PREFERENCE", "RFC 8415 §21.8";
        ELAPSED_TIME = 8 => "OPTION_ELAPSED_TIME", "RFC 8415 §21.9";
        RELAY_MSG = 9 => "OPTION_RELAY_MSG", "RFC 8415 §21.10";
        AUTH = 11 => "OPTION_AUTH", "RFC 8415 §21.11";
        UNICAST = 12 => "OPTION_UNICAST", "RFC 8415 §21.12";
        STATUS_CODE = 13 => "OPTION_STATUS_CODE", "RFC 8415 §21.13";
        RAPID_COMMIT = 14 => "OPTION_RAPID_COMMIT", "RFC 8415 §21.14";
        USER_CLASS = 15 => "OPTION_USER_CLASS", "RFC 8415 §21.15";
        VENDOR_CLASS = 16 => "OPTION_VENDOR_CLASS", "RFC 8415 §21.16";
        VENDOR_OPTS = 17 => "OPTION_VENDOR_OPTS", "RFC 8415 §21.17";
        INTERFACE_ID = 18 => "OPTION_INTERFACE_ID", "RFC 8415 §21.18";
        RECONF_MSG = 19 => "OPTION_RECONF_MSG", "RFC 8415 §21.19";
        RECONF_ACCEPT = 20 => "OPTION_RECONF_ACCEPT", "RFC 8415 §21.20";
        DNS_SERVERS = 23 => "OPTION_DNS_SERVERS", "RFC 3646 §3";
        DOMAIN_LIST = 24 => "OPTION_DOMAIN_LIST", "RFC 3646 §4";
        IA_PD = 25 => "OPTION_IA_PD", "RFC 8415 §21.21";
        IAPREFIX = 26 => "OPTION_IAPREFIX", "RFC 8415 §21.22";
        INFORMATION_REFRESH_TIME = 32 => "OPTION_INFORMATION_REFRESH_TIME", "RFC 8415 §21.23";
        CLIENT_FQDN = 39 => "OPTION_CLIENT_FQDN", "RFC 4704 §4";
        LQ_QUERY = 44 => "OPTION_LQ_QUERY", "RFC 5007 §4.1.2.2";
        CLIENT_DATA = 45 => "OPTION_CLIENT_DATA", "RFC 5007 §4.1.2.3";
        CLT_TIME = 46 => "OPTION_CLT_TIME", "RFC 5007 §4.1.2.4";
        LQ_RELAY_DATA = 47 => "OPTION_LQ_RELAY_DATA", "RFC 5007 §4.1.2.5";
        LQ_CLIENT_LINK = 48 => "OPTION_LQ_CLIENT_LINK", "RFC 5007 §4.1.2.6";
        RELAY_ID = 53 => "OPTION_RELAY_ID", "RFC 5460 §5.4.1";
        VSS = 68 => "OPTION_VSS", "RFC 6607 §3.3";
        SOL_MAX_RT = 82 => "OPTION_SOL_MAX_RT", "RFC 8415 §21.24";
        INF_MAX_RT = 83 => "OPTION_INF_MAX_RT", "RFC 8415 §21.25";
        LQ_BASE_TIME = 100 => "OPTION_LQ_BASE_TIME", "RFC 7653 §5.2";
        LQ_START_TIME = 101 => "OPTION_LQ_START_TIME", "RFC 7653 §5.3";
        LQ_END_TIME = 102 => "OPTION_LQ_END_TIME", "RFC 7653 §5.4";
        F_BINDING_STATUS = 114 => "OPTION_F_BINDING_STATUS", "RFC 8156 §5.5.1";
        F_CONNECT_FLAGS = 115 => "OPTION_F_CONNECT_FLAGS", "RFC 8156 §5.5.2";
        F_DNS_REMOVAL_INFO = 116 => "OPTION_F_DNS_REMOVAL_INFO", "RFC 8156 §5.5.3";
        F_DNS_HOST_NAME = 117 => "OPTION_F_DNS_HOST_NAME", "RFC 8156 §5.5.3.1";
        F_DNS_ZONE_NAME = 118 => "OPTION_F_DNS_ZONE_NAME", "RFC 8156 §5.5.3.2";
        F_DNS_FLAGS = 119 => "OPTION_F_DNS_FLAGS", "RFC 8156 §5.5.3.3";
        F_EXPIRATION_TIME = 120 => "OPTION_F_EXPIRATION_TIME", "RFC 8156 §5.5.4";
        F_MAX_UNACKED_BNDUPD = 121 => "OPTION_F_MAX_UNACKED_BNDUPD", "RFC 8156 §5.5.5";
        F_MCLT = 122 => "OPTION_F_MCLT", "RFC 8156 §5.5.6";
        F_PARTNER_LIFETIME = 123 => "OPTION_F_PARTNER_LIFETIME", "RFC 8156 §5.5.7";
        F_PARTNER_LIFETIME_SENT = 124 => "OPTION_F_PARTNER_LIFETIME_SENT", "RFC 8156 §5.5.8";
        F_PARTNER_DOWN_TIME = 125 => "OPTION_F_PARTNER_DOWN_TIME", "RFC 8156 §5.5.9";
        F_PARTNER_RAW_CLT_TIME = 126 => "OPTION_F_PARTNER_RAW_CLT_TIME", "RFC 8156 §5.5.10";
        F_PROTOCOL_VERSION = 127 => "OPTION_F_PROTOCOL_VERSION", "RFC 8156 §5.5.11";
        F_KEEPALIVE_TIME = 128 => "OPTION_F_KEEPALIVE_TIME", "RFC 8156 §5.5.12";
        F_RECONFIGURE_DATA = 129 => "OPTION_F_RECONFIGURE_DATA", "RFC 8156 §5.5.13";
        F_RELATIONSHIP_NAME = 130 => "OPTION_F_RELATIONSHIP_NAME", "RFC 8156 §5.5.14";
        F_SERVER_FLAGS = 131 => "OPTION_F_SERVER_FLAGS", "RFC 8156 §5.5.15";
        F_SERVER_STATE = 132 => "OPTION_F_SERVER_STATE", "RFC 8156 §5.5.16";
        F_START_TIME_OF_STATE = 133 => "OPTION_F_START_TIME_OF_STATE", "RFC 8156 §5.5.17";
        F_STATE_EXPIRATION_TIME = 134 => "OPTION_F_STATE_EXPIRATION_TIME", "RFC 8156 §5.5.18";
    }
}

code_space! {
    /// Status code carried in `OPTION_STATUS_CODE`
    /// ([RFC 8415 §21.13](https://www.rfc-editor.org/rfc/rfc8415#section-21.13),
    /// [RFC 8156 §5.6](https://www.rfc-editor.org/rfc/rfc8156#section-5.6)).
    Status(u16), 6 {
        SUCCESS = 0 => "Success", "RFC 8415 §21.13";
        UNSPEC_FAIL = 1 => "UnspecFail", "RFC 8415 §21.13";
        NO_ADDRS_AVAIL = 2 => "NoAddrsAvail", "RFC 8415 §21.13";
        NO_BINDING = 3 => "NoBinding", "RFC 8415 §21.13";
        NOT_ON_LINK = 4 => "NotOnLink", "RFC 8415 §21.13";
        USE_MULTICAST = 5 => "UseMulticast", "RFC 8415 §21.13";
        NO_PREFIX_AVAIL = 6 => "NoPrefixAvail", "RFC 8415 §21.13";
        UNKNOWN_QUERY_TYPE = 7 => "UnknownQueryType", "RFC 5007 §4.1.2.7";
        MALFORMED_QUERY = 8 => "MalformedQuery", "RFC 5007 §4.1.2.7";
        NOT_CONFIGURED = 9 => "NotConfigured", "RFC 5007 §4.1.2.7";
        NOT_ALLOWED = 10 => "NotAllowed", "RFC 5007 §4.1.2.7";
        QUERY_TERMINATED = 11 => "QueryTerminated", "RFC 5460 §5.4.2";
        DATA_MISSING = 12 => "DataMissing", "RFC 7653 §5.5";
        CATCH_UP_COMPLETE = 13 => "CatchUpComplete", "RFC 7653 §5.5";
        NOT_SUPPORTED = 14 => "NotSupported", "RFC 7653 §5.5";
        TLS_CONNECTION_REFUSED = 15 => "TLSConnectionRefused", "RFC 7653 §5.5";
        ADDRESS_IN_USE = 16 => "AddressInUse", "RFC 8156 §5.6";
        CONFIGURATION_CONFLICT = 17 => "ConfigurationConflict", "RFC 8156 §5.6";
        MISSING_BINDING_INFORMATION = 18 => "MissingBindingInformation", "RFC 8156 §5.6";
        OUTDATED_BINDING_INFORMATION = 19 => "OutdatedBindingInformation", "RFC 8156 §5.6";
        SERVER_SHUTTING_DOWN = 20 => "ServerShuttingDown", "RFC 8156 §5.6";
        DNS_UPDATE_NOT_SUPPORTED = 21 => "DNSUpdateNotSupported", "RFC 8156 §5.6";
        EXCESSIVE_TIME_SKEW = 22 => "ExcessiveTimeSkew", "RFC 8156 §5.6";
    }
}

code_space! {
    /// Lease state carried in `OPTION_F_BINDING_STATUS`
    /// ([RFC 8156 §5.5.1](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.1)).
    BindingStatus(u8), 4 {
        ACTIVE = 1 => "ACTIVE", "RFC 8156 §5.5.1";
        EXPIRED = 2 => "EXPIRED", "RFC 8156 §5.5.1";
        RELEASED = 3 => "RELEASED", "RFC 8156 §5.5.1";
        PENDING_FREE = 4 => "PENDING-FREE", "RFC 8156 §5.5.1";
        FREE = 5 => "FREE", "RFC 8156 §5.5.1";
        FREE_BACKUP = 6 => "FREE-BACKUP", "RFC 8156 §5.5.1";
        ABANDONED = 7 => "ABANDONED", "RFC 8156 §5.5.1";
        RESET = 8 => "RESET", "RFC 8156 §5.5.1";
    }
}

code_space! {
    /// Failover endpoint state carried in `OPTION_F_SERVER_STATE`
    /// ([RFC 8156 §5.5.16](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.16)).
    ServerState(u8), 4 {
        STARTUP = 1 => "STARTUP", "RFC 8156 §5.5.16";
        NORMAL = 2 => "NORMAL", "RFC 8156 §5.5.16";
        COMMUNICATIONS_INTERRUPTED = 3 => "COMMUNICATIONS-INTERRUPTED", "RFC 8156 §5.5.16";
        PARTNER_DOWN = 4 => "PARTNER-DOWN", "RFC 8156 §5.5.16";
        POTENTIAL_CONFLICT = 5 => "POTENTIAL-CONFLICT", "RFC 8156 §5.5.16";
        RECOVER = 6 => "RECOVER", "RFC 8156 §5.5.16";
        RECOVER_WAIT = 7 => "RECOVER-WAIT", "RFC 8156 §5.5.16";
        RECOVER_DONE = 8 => "RECOVER-DONE", "RFC 8156 §5.5.16";
        RESOLUTION_INTERRUPTED = 9 => "RESOLUTION-INTERRUPTED", "RFC 8156 §5.5.16";
        CONFLICT_DONE = 10 => "CONFLICT-DONE", "RFC 8156 §5.5.16";
    }
}

/// Bit masks of `OPTION_F_CONNECT_FLAGS`
/// ([RFC 8156 §5.5.2](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.2)).
pub mod connect_flags {
    /// F: every prefix delegated from one delegable prefix has the same length.
    pub const FIXED_PD_LENGTH: u16 = 0x0001;
}

/// Bit masks of `OPTION_F_DNS_FLAGS`
/// ([RFC 8156 §5.5.3.3](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.3.3)).
pub mod dns_flags {
    /// F: the forward zone is up to date.
    pub const FORWARD_UP_TO_DATE: u16 = 0x0001;
    /// R: the reverse zone is up to date.
    pub const REVERSE_UP_TO_DATE: u16 = 0x0002;
    /// S: the name was synthesized by the server.
    pub const SYNTHESIZED: u16 = 0x0004;
    /// U: the name is the FQDN the client asked for.
    pub const CLIENT_REQUESTED: u16 = 0x0008;
}

/// Bit masks of `OPTION_F_SERVER_FLAGS`
/// ([RFC 8156 §5.5.15](https://www.rfc-editor.org/rfc/rfc8156#section-5.5.15)).
pub mod server_flags {
    /// C: the sender has communicated with this partner before.
    pub const COMMUNICATED: u8 = 0x01;
    /// S: the sender is in STARTUP.
    pub const STARTUP: u8 = 0x02;
    /// A: the last server flags received from the partner had S set.
    pub const ACK_STARTUP: u8 = 0x04;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_prints_name_or_hex() {
        assert_eq!(format!("{:?}", OptionCode::F_MCLT), "OPTION_F_MCLT");
        assert_eq!(format!("{:?}", OptionCode(0xfde8)), "OptionCode(0xfde8)");
        assert_eq!(format!("{:?}", MessageType::BNDUPD), "BNDUPD");
        assert_eq!(format!("{:?}", MessageType(200)), "MessageType(0xc8)");
        assert_eq!(
            format!("{}", Status::EXCESSIVE_TIME_SKEW),
            "ExcessiveTimeSkew"
        );
        assert_eq!(format!("{:?}", BindingStatus::FREE_BACKUP), "FREE-BACKUP");
        assert_eq!(format!("{:?}", ServerState::RECOVER_WAIT), "RECOVER-WAIT");
    }

    #[test]
    fn values_match_registries() {
        assert_eq!(MessageType::CONTACT.0, 35);
        assert_eq!(OptionCode::F_STATE_EXPIRATION_TIME.0, 134);
        assert_eq!(OptionCode::LQ_BASE_TIME.0, 100);
        assert_eq!(Status::ADDRESS_IN_USE.0, 16);
        assert_eq!(ServerState::CONFLICT_DONE.0, 10);
        assert_eq!(BindingStatus::RESET.0, 8);
        assert_eq!(MessageType::LEASEQUERY.header_kind(), HeaderKind::Client);
        assert_eq!(MessageType::RELAY_REPL.header_kind(), HeaderKind::Relay);
        assert_eq!(MessageType::STATE.header_kind(), HeaderKind::Failover);
        assert_eq!(MessageType(0).header_kind(), HeaderKind::Unknown);
    }
}
