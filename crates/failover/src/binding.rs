//! The binding (lease) model: resources, clients, binding statuses with their transitions
//! (RFC 8156 §5.5.1, Figure 1) and the seven per-lease times of §7.3.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use crate::config::Role;
use crate::time::{Duration, UnixTime};

/// What a lease is for: one IPv6 address (IA_NA) or one delegated prefix (IA_PD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ResourceKind {
    /// An IPv6 address (independent allocation).
    Address,
    /// A delegated prefix (proportional allocation).
    Prefix,
}

/// One leasable resource. Ordered by kind (addresses first), then numerically by address
/// or prefix, then by prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Resource {
    /// An IPv6 address.
    Address(Ipv6Addr),
    /// A delegable prefix.
    Prefix {
        /// The prefix (host bits zero).
        prefix: Ipv6Addr,
        /// Its length, 0..=128.
        len: u8,
    },
}

impl Resource {
    /// Address or prefix.
    pub const fn kind(&self) -> ResourceKind {
        match self {
            Self::Address(_) => ResourceKind::Address,
            Self::Prefix { .. } => ResourceKind::Prefix,
        }
    }
}

impl Resource {
    /// A sort key with cheap comparisons (the binding table is ordered by it): kind, the
    /// 128-bit value, the prefix length.
    pub(crate) const fn sort_key(&self) -> (u8, u128, u8) {
        match *self {
            Self::Address(a) => (0, a.to_bits(), 128),
            Self::Prefix { prefix, len } => (1, prefix.to_bits(), len),
        }
    }
}

impl Ord for Resource {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        // Comparing `Ipv6Addr`s goes through their 16-bit segments; one `u128` compare is
        // several times cheaper, and every lookup in the binding table does a dozen of them.
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for Resource {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl core::fmt::Display for Resource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Address(a) => write!(f, "{a}"),
            Self::Prefix { prefix, len } => write!(f, "{prefix}/{len}"),
        }
    }
}

/// The client a lease belongs to: its DUID and the IAID of the IA_NA / IA_PD.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClientKey {
    /// The client's DUID (OPTION_CLIENTID payload).
    pub duid: Vec<u8>,
    /// The IAID of the IA holding the lease.
    pub iaid: u32,
}

/// The binding status of a lease (OPTION_F_BINDING_STATUS, RFC 8156 §5.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum BindingStatus {
    /// ACTIVE (1): bound to a client.
    Active,
    /// EXPIRED (2): the lifetime ran out.
    Expired,
    /// RELEASED (3): the client released it.
    Released,
    /// PENDING-FREE (4): transient, on the way to FREE or FREE-BACKUP.
    PendingFree,
    /// FREE (5): available to the primary.
    Free,
    /// FREE-BACKUP (6): available to the secondary.
    FreeBackup,
    /// ABANDONED (7): unusable (declined).
    Abandoned,
    /// RESET (8): made available by the operator.
    Reset,
}

impl BindingStatus {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Active => 1,
            Self::Expired => 2,
            Self::Released => 3,
            Self::PendingFree => 4,
            Self::Free => 5,
            Self::FreeBackup => 6,
            Self::Abandoned => 7,
            Self::Reset => 8,
        }
    }

    /// Parses a wire value; `None` for 0 and unknown values.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Active,
            2 => Self::Expired,
            3 => Self::Released,
            4 => Self::PendingFree,
            5 => Self::Free,
            6 => Self::FreeBackup,
            7 => Self::Abandoned,
            8 => Self::Reset,
            _ => return None,
        })
    }

    /// Whether the lease is available for allocation (FREE or FREE-BACKUP).
    pub const fn is_available(self) -> bool {
        matches!(self, Self::Free | Self::FreeBackup)
    }

    /// Whether the status is one whose move to PENDING-FREE waits for the partner's ack (or,
    /// in PARTNER-DOWN, for the MCLT).
    pub const fn awaits_ack_before_free(self) -> bool {
        matches!(self, Self::Expired | Self::Released | Self::Reset)
    }
}

/// How a resource's pool is shared between the partners (RFC 8156 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocationMode {
    /// Independent allocation (addresses): ownership by a fixed rule.
    Independent {
        /// The server that owns the resource under the split rule.
        owner: Role,
    },
    /// Proportional allocation (delegable prefixes): available prefixes are owned by status.
    Proportional,
}

/// The status a lease takes when it leaves PENDING-FREE.
///
/// Proportional pools: every returned prefix belongs to the primary (FREE). Independent pools:
/// the owner's available status. This follows Figure 1 of the draft (see
/// `docs/design/failover-choices.md`, "PENDING-FREE destination").
//= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
//# when it comes back it is owned by the primary
pub const fn pending_free_destination(mode: AllocationMode) -> BindingStatus {
    match mode {
        AllocationMode::Proportional => BindingStatus::Free,
        AllocationMode::Independent {
            owner: Role::Primary,
        } => BindingStatus::Free,
        AllocationMode::Independent {
            owner: Role::Secondary,
        } => BindingStatus::FreeBackup,
    }
}

/// What happens to a lease, for [`status_after`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingEvent {
    /// A server allocates it to a client.
    Allocate,
    /// Its valid lifetime ran out.
    LifetimeExpired,
    /// The client released it.
    Release,
    /// The client declined it (or it is otherwise unusable).
    Decline,
    /// The operator (or a probe) made an abandoned lease usable again.
    OperatorReset,
    /// The partner acknowledged the BNDUPD announcing the current status, or (in PARTNER-DOWN)
    /// the MCLT passed since the status was entered.
    PartnerAckedOrMcltPassed,
}

/// The binding-status transitions of RFC 8156 Figure 1. `None`: the event does not apply in
/// that status. PENDING-FREE is passed through at once to its destination.
pub fn status_after(
    from: BindingStatus,
    event: BindingEvent,
    mode: AllocationMode,
    allocator: Role,
) -> Option<BindingStatus> {
    use BindingStatus::*;
    match (from, event) {
        (Free, BindingEvent::Allocate) if allocator == Role::Primary => Some(Active),
        (FreeBackup, BindingEvent::Allocate) if allocator == Role::Secondary => Some(Active),
        (Active, BindingEvent::LifetimeExpired) => Some(Expired),
        (Active, BindingEvent::Release) => Some(Released),
        (Active, BindingEvent::Decline) => Some(Abandoned),
        (Abandoned, BindingEvent::OperatorReset) => Some(Reset),
        (Expired | Released | Reset, BindingEvent::PartnerAckedOrMcltPassed) => {
            Some(pending_free_destination(mode))
        }
        (PendingFree, BindingEvent::PartnerAckedOrMcltPassed) => {
            Some(pending_free_destination(mode))
        }
        _ => None,
    }
}

/// DNS removal information shared with the partner (OPTION_F_DNS_REMOVAL_INFO, RFC 8156
/// §5.5.3), stored so the partner can delete what this server added. This crate does not
/// perform DNS updates.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DnsRemovalInfo {
    /// OPTION_F_DNS_HOST_NAME: the host name put into DNS (DNS wire format).
    pub host_name: Option<Vec<u8>>,
    /// OPTION_F_DNS_ZONE_NAME: the zone it was put into (DNS wire format).
    pub zone_name: Option<Vec<u8>>,
    /// OPTION_F_DNS_FLAGS (F, R, S, U bits).
    pub flags: Option<u16>,
}

/// One lease as this endpoint knows it: status, client, what the client was told and the seven
/// per-lease times of RFC 8156 §7.3.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Binding {
    /// The address or prefix.
    pub resource: Resource,
    /// The client it is (or last was) bound to.
    pub client: Option<ClientKey>,
    /// The binding status.
    pub status: BindingStatus,
    /// expiration-time: the greatest lifetime this server has acked to the partner.
    pub expiration_time: Option<UnixTime>,
    /// acked-partner-lifetime: the greatest lifetime the partner has acked to this server.
    pub acked_partner_lifetime: Option<UnixTime>,
    /// partner-lifetime: what this server sends (or sent) as OPTION_F_PARTNER_LIFETIME; `None`
    /// when nothing is pending.
    pub partner_lifetime: Option<UnixTime>,
    /// client-last-transaction-time: the last time this server talked to the client.
    pub client_last_transaction_time: Option<UnixTime>,
    /// partner-raw-clt-time: the last time the partner talked to the client, never
    /// skew-corrected.
    pub partner_raw_clt_time: Option<UnixTime>,
    /// start-time-of-state: when the current binding status began.
    pub start_time_of_state: UnixTime,
    /// state-expiration-time: when the current binding status lapses (for ACTIVE: the valid
    /// lifetime's end as told to the client).
    pub state_expiration_time: Option<UnixTime>,
    /// Preferred lifetime told to the client.
    pub preferred_lifetime: Duration,
    /// Valid lifetime told to the client.
    pub valid_lifetime: Duration,
    /// T1 told to the client (in the IA).
    pub t1: Duration,
    /// T2 told to the client (in the IA).
    pub t2: Duration,
    /// OPTION_CLIENT_FQDN payload associated with the lease, byte-exact.
    pub fqdn: Option<Vec<u8>>,
    /// DNS removal information (own or received from the partner).
    pub dns_removal: Option<DnsRemovalInfo>,
    /// The "partner needs update" flag: a BNDUPD for the current contents is still owed.
    pub needs_partner_update: bool,
}

impl Binding {
    /// A binding with no client and only a status and its start time.
    pub fn new(resource: Resource, status: BindingStatus, start: UnixTime) -> Self {
        Self {
            resource,
            client: None,
            status,
            expiration_time: None,
            acked_partner_lifetime: None,
            partner_lifetime: None,
            client_last_transaction_time: None,
            partner_raw_clt_time: None,
            start_time_of_state: start,
            state_expiration_time: None,
            preferred_lifetime: Duration::ZERO,
            valid_lifetime: Duration::ZERO,
            t1: Duration::ZERO,
            t2: Duration::ZERO,
            fqdn: None,
            dns_removal: None,
            needs_partner_update: false,
        }
    }

    /// The time this record is judged by in conflict resolution (RFC 8156 §7.5.4): the
    /// client-last-transaction-time if there is one, else the start-time-of-state.
    pub fn db_time(&self) -> UnixTime {
        self.client_last_transaction_time
            .unwrap_or(self.start_time_of_state)
    }

    /// When the client's lease ends as far as this server knows (ACTIVE only).
    pub fn client_expiry(&self) -> Option<UnixTime> {
        match self.status {
            BindingStatus::Active => self.state_expiration_time,
            _ => None,
        }
    }

    /// The latest of the times that bound how long any client may still use this lease:
    /// client expiry, partner-lifetime sent, acked-partner-lifetime and expiration-time.
    pub fn latest_known_lifetime(&self) -> Option<UnixTime> {
        [
            self.client_expiry(),
            self.partner_lifetime,
            self.acked_partner_lifetime,
            self.expiration_time,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// Whether the binding belongs to `client`.
    pub fn is_for(&self, client: &ClientKey) -> bool {
        self.client.as_ref() == Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BindingStatus::*;

    #[test]
    fn wire_values() {
        for v in 1..=8u8 {
            let s = BindingStatus::from_u8(v);
            assert_eq!(s.map(BindingStatus::to_u8), Some(v));
        }
        assert_eq!(BindingStatus::from_u8(0), None);
        assert_eq!(BindingStatus::from_u8(9), None);
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
    //# when it comes back it is owned by the primary
    #[test]
    fn figure_1_transitions() {
        let prop = AllocationMode::Proportional;
        let ind_p = AllocationMode::Independent {
            owner: Role::Primary,
        };
        let ind_s = AllocationMode::Independent {
            owner: Role::Secondary,
        };
        let p = Role::Primary;
        let s = Role::Secondary;
        use BindingEvent::*;
        let table = [
            (Free, Allocate, prop, p, Some(Active)),
            (Free, Allocate, prop, s, None),
            (FreeBackup, Allocate, prop, s, Some(Active)),
            (FreeBackup, Allocate, prop, p, None),
            (Active, LifetimeExpired, prop, p, Some(Expired)),
            (Active, Release, prop, p, Some(Released)),
            (Active, Decline, prop, p, Some(Abandoned)),
            (Abandoned, OperatorReset, prop, p, Some(Reset)),
            (Abandoned, PartnerAckedOrMcltPassed, prop, p, None),
            (Expired, PartnerAckedOrMcltPassed, prop, s, Some(Free)),
            (Released, PartnerAckedOrMcltPassed, ind_p, s, Some(Free)),
            (
                Released,
                PartnerAckedOrMcltPassed,
                ind_s,
                p,
                Some(FreeBackup),
            ),
            (Reset, PartnerAckedOrMcltPassed, ind_s, p, Some(FreeBackup)),
            (Active, PartnerAckedOrMcltPassed, prop, p, None),
            (Expired, Release, prop, p, None),
        ];
        for (from, ev, mode, who, want) in table {
            assert_eq!(
                status_after(from, ev, mode, who),
                want,
                "{from:?} {ev:?} {mode:?} {who:?}"
            );
        }
    }

    #[test]
    fn times() {
        let r = Resource::Address(Ipv6Addr::LOCALHOST);
        let mut b = Binding::new(r, Active, UnixTime::from_secs(100));
        assert_eq!(b.db_time(), UnixTime::from_secs(100));
        b.client_last_transaction_time = Some(UnixTime::from_secs(150));
        assert_eq!(b.db_time(), UnixTime::from_secs(150));
        b.state_expiration_time = Some(UnixTime::from_secs(500));
        b.acked_partner_lifetime = Some(UnixTime::from_secs(700));
        assert_eq!(b.latest_known_lifetime(), Some(UnixTime::from_secs(700)));
        b.status = Expired;
        assert_eq!(b.client_expiry(), None);
        assert_eq!(
            format!(
                "{}",
                Resource::Prefix {
                    prefix: Ipv6Addr::UNSPECIFIED,
                    len: 56
                }
            ),
            "::/56"
        );
    }
}
