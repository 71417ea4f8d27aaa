//! Inputs and outputs of the [`Endpoint`](crate::Endpoint): transmits, storage writes and
//! their acknowledgements, events, lease changes, errors and the status snapshot.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::binding::{Binding, ClientKey, DnsRemovalInfo, Resource};
use crate::config::Role;
use crate::state::State;
use crate::time::{Duration, UnixTime};

/// Bytes for the partner connection, already framed (2-byte length prefix included).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a transmit must be written to the partner connection"]
pub struct Transmit {
    /// The bytes to write, in order, to the TCP (or TLS) stream.
    pub bytes: Vec<u8>,
}

/// Identifies one storage write, to be acknowledged with
/// [`Endpoint::handle_storage_done`](crate::Endpoint::handle_storage_done).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WriteId(pub u64);

/// A record to put in stable storage. Records with the same key replace each other: the
/// endpoint state has one slot; bindings are keyed by their resource.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[expect(
    clippy::large_enum_variant,
    reason = "records are moved once to the caller; boxing would cost an allocation per write"
)]
pub enum StorageRecord {
    /// The endpoint's persistent state-machine variables.
    EndpointState(PersistedEndpointState),
    /// One binding (replaces the previous record of the same resource).
    Binding(Binding),
}

/// A storage write the caller must perform and then acknowledge.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a storage write must be performed and acknowledged"]
pub struct StorageWrite {
    /// The id to acknowledge.
    pub id: WriteId,
    /// What to store.
    pub record: StorageRecord,
}

/// A failed storage write, reported by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StorageError {
    /// What went wrong, for the operator.
    pub reason: String,
}

impl StorageError {
    /// A storage error with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage write failed: {}", self.reason)
    }
}

impl core::error::Error for StorageError {}

/// The persistent state-machine variables (RFC 8156 §8.2), written on every transition.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PersistedEndpointState {
    /// The current state (never STARTUP: while in STARTUP the previous state is kept).
    pub state: State,
    /// When it was entered.
    pub state_start: UnixTime,
    /// The state before it.
    pub previous_state: Option<State>,
    /// The partner's last known state.
    pub partner_state: Option<State>,
    /// When the partner entered it.
    pub partner_state_start: Option<UnixTime>,
    /// When this server entered PARTNER-DOWN (or the operator's "down since").
    pub partner_down_since: Option<UnixTime>,
    /// When the last message from the partner arrived.
    pub last_partner_contact: Option<UnixTime>,
    /// Whether this server has ever had communications with this partner (the C flag).
    pub communicated: bool,
    /// The MCLT in force (the secondary adopts the primary's).
    pub mclt: Duration,
    /// When this record was written: a "last recorded time of operation".
    pub written_at: UnixTime,
}

/// What [`Endpoint::restore`](crate::Endpoint::restore) takes: everything the caller read
/// back from stable storage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PersistedState {
    /// The endpoint state record, if one was ever written.
    pub endpoint: Option<PersistedEndpointState>,
    /// Every binding record (the latest per resource).
    pub bindings: Vec<Binding>,
}

/// Why the endpoint asks the caller to close the partner connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Nothing was received for the keepalive time.
    KeepaliveExpired,
    /// The partner's clock differs from ours beyond the tolerance.
    ExcessiveTimeSkew,
    /// The partner rejected our CONNECT, or we rejected its CONNECT / CONNECTREPLY.
    Rejected,
    /// The partner sent DISCONNECT.
    PartnerDisconnected,
    /// The byte stream cannot be deframed.
    Framing,
    /// No UPDDONE and no BNDUPD arrived for too long after UPDREQ/UPDREQALL.
    UpdateRequestTimeout,
}

/// An alarm for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Alarm {
    /// NORMAL → COMMUNICATIONS-INTERRUPTED.
    CommunicationsInterrupted,
    /// Entered RESOLUTION-INTERRUPTED.
    ResolutionInterrupted,
}

/// Something the embedding server (or its operator) should know or do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The endpoint changed state.
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// The partner announced a state in STATE.
    PartnerStateChanged {
        /// The partner's state.
        state: State,
        /// Its S (STARTUP) flag.
        startup: bool,
    },
    /// Primary only: open a connection to the partner now (on start and on the retry timer).
    OpenConnection,
    /// Close the partner connection (any queued transmits should be written first).
    CloseConnection {
        /// Why.
        reason: CloseReason,
    },
    /// The connection handshake succeeded (CONNECT / CONNECTREPLY accepted).
    Connected,
    /// The handshake was rejected, by the partner or by us.
    ConnectRejected {
        /// The status code sent or received.
        status: u16,
        /// What differs or what went wrong.
        reason: String,
        /// Whether the partner rejected (true) or we did (false).
        by_partner: bool,
    },
    /// The partner's pool configuration fingerprint differs from ours.
    ConfigurationMismatch {
        /// Which parts differ.
        parts: Vec<&'static str>,
    },
    /// The partner's clock is off by more than the tolerance; we disconnected.
    ExcessiveTimeSkew {
        /// Partner clock minus ours, seconds.
        skew_secs: i64,
    },
    /// The partner sent DISCONNECT.
    PartnerDisconnected {
        /// Its status code, if any.
        status: Option<u16>,
        /// Its text.
        message: String,
    },
    /// A binding changed because of the partner (accepted BNDUPD, pool transfer).
    BindingUpdated {
        /// Which resource.
        resource: Resource,
    },
    /// A binding conflict (AddressInUse), sent or received.
    Conflict {
        /// Which resource.
        resource: Resource,
        /// Whether the partner reported it (true) or we rejected its update (false).
        reported_by_partner: bool,
    },
    /// The partner rejected one of our updates.
    UpdateRejected {
        /// Which resource.
        resource: Resource,
        /// The status code.
        status: u16,
        /// Its text.
        message: String,
    },
    /// An update carried DNS removal information although this server does no DNS updates
    /// (stored anyway, so it can be passed on).
    DnsInfoWithoutDnsSupport {
        /// Which resource.
        resource: Resource,
    },
    /// An operator alarm.
    Alarm(Alarm),
    /// A storage write failed; what depended on it was dropped.
    StorageFailed {
        /// Which write.
        id: WriteId,
        /// The caller's reason.
        reason: String,
    },
    /// The partner sent something malformed or out of place; it was ignored.
    ProtocolViolation {
        /// What and where.
        what: String,
    },
    /// An UPDREQ/UPDREQALL we sent was completed by UPDDONE.
    UpdatesComplete,
}

/// What the DHCP server is about to answer, for [`Endpoint::may_serve`](crate::Endpoint::may_serve).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientRequestKind {
    /// SOLICIT.
    Solicit,
    /// REQUEST.
    Request,
    /// RENEW.
    Renew,
    /// REBIND.
    Rebind,
    /// RELEASE.
    Release,
    /// DECLINE.
    Decline,
    /// CONFIRM.
    Confirm,
    /// INFORMATION-REQUEST.
    InformationRequest,
}

/// A lease the DHCP server has granted or extended (after building its Reply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseGrant {
    /// The client.
    pub client: ClientKey,
    /// The address or prefix.
    pub resource: Resource,
    /// Preferred lifetime told to the client.
    pub preferred: Duration,
    /// Valid lifetime told to the client.
    pub valid: Duration,
    /// T1 told to the client.
    pub t1: Duration,
    /// T2 told to the client.
    pub t2: Duration,
    /// The lifetime the server would have liked to give (before the MCLT bound); drives the
    /// partner-lifetime it asks the partner to accept. Zero means "same as `valid`".
    pub desired_valid: Duration,
    /// OPTION_CLIENT_FQDN payload sent to the client, if any.
    pub fqdn: Option<Vec<u8>>,
    /// DNS removal information, if this server updated DNS.
    pub dns_removal: Option<DnsRemovalInfo>,
}

impl LeaseGrant {
    /// A grant with T1 = valid/2, T2 = valid×4/5, preferred = valid, and nothing else.
    pub fn new(client: ClientKey, resource: Resource, valid: Duration) -> Self {
        Self {
            client,
            resource,
            preferred: valid,
            valid,
            t1: valid / 2,
            t2: valid * 4 / 5,
            desired_valid: Duration::ZERO,
            fqdn: None,
            dns_removal: None,
        }
    }
}

/// What just happened to a lease, reported by the DHCP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseChange {
    /// A new lease was granted.
    Granted(LeaseGrant),
    /// An existing lease was extended (Renew/Rebind/Request for the same client).
    Renewed(LeaseGrant),
    /// The client released the lease.
    Released {
        /// The client.
        client: ClientKey,
        /// The resource.
        resource: Resource,
    },
    /// The client declined the lease (the resource becomes ABANDONED).
    Declined {
        /// The client.
        client: ClientKey,
        /// The resource.
        resource: Resource,
    },
    /// The lease's valid lifetime ran out.
    Expired {
        /// The resource.
        resource: Resource,
    },
    /// The operator made an ABANDONED resource usable again (RESET).
    Reset {
        /// The resource.
        resource: Resource,
    },
}

/// Caller misuse of an input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// The write id was never issued or was already acknowledged.
    UnknownWriteId(WriteId),
    /// The command is not allowed in the current state.
    NotAllowedInState {
        /// The command.
        command: &'static str,
        /// The state.
        state: State,
    },
    /// A time argument lies in the future.
    TimeInFuture,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownWriteId(id) => write!(f, "unknown storage write id {}", id.0),
            Self::NotAllowedInState { command, state } => {
                write!(f, "{command} is not allowed in {state}")
            }
            Self::TimeInFuture => f.write_str("time argument lies in the future"),
        }
    }
}

impl core::error::Error for InputError {}

/// A lease change that cannot be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseError {
    /// The resource is not in any pool of this relationship.
    NotGoverned(Resource),
    /// The endpoint's state forbids granting or extending leases.
    NotAllowedInState(State),
    /// The valid lifetime is below the 30-second floor.
    BelowFloor {
        /// The valid lifetime given.
        valid: Duration,
    },
    /// The resource is bound to a different client.
    BoundToOtherClient(Resource),
    /// There is no binding for the resource (release/decline/expire of an unknown lease).
    NoBinding(Resource),
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGoverned(r) => write!(f, "{r} is not governed by this relationship"),
            Self::NotAllowedInState(s) => write!(f, "leases cannot be granted in {s}"),
            Self::BelowFloor { valid } => write!(
                f,
                "valid lifetime {}s is below the 30 s floor",
                valid.as_secs()
            ),
            Self::BoundToOtherClient(r) => write!(f, "{r} is bound to another client"),
            Self::NoBinding(r) => write!(f, "no binding for {r}"),
        }
    }
}

impl core::error::Error for LeaseError {}

/// A snapshot of the endpoint for operators.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusSnapshot {
    /// Relationship name.
    pub relationship_name: String,
    /// Our role.
    pub role: Role,
    /// Our state.
    pub state: State,
    /// When we entered it.
    pub state_since: UnixTime,
    /// The partner's last announced state.
    pub partner_state: Option<State>,
    /// When the partner entered it.
    pub partner_state_since: Option<UnixTime>,
    /// Whether communications are OK (handshake done and the partner's STATE received).
    pub communications_ok: bool,
    /// The MCLT in force.
    pub mclt: Duration,
    /// When this server entered PARTNER-DOWN (or the operator's "since").
    pub partner_down_since: Option<UnixTime>,
    /// Bindings whose "partner needs update" flag is set.
    pub pending_updates: usize,
    /// BNDUPDs sent and not yet answered.
    pub unacked_updates: usize,
    /// The partner's MAX_UNACKED_BNDUPD.
    pub partner_max_unacked: u32,
    /// Conflicts seen (AddressInUse sent or received).
    pub conflicts: u64,
    /// Our updates the partner rejected.
    pub rejected_updates: u64,
    /// When the last message from the partner arrived.
    pub last_contact: Option<UnixTime>,
    /// Partner clock minus ours, in seconds, as last measured.
    pub measured_skew_secs: Option<i64>,
    /// Number of bindings held.
    pub bindings: usize,
    /// Storage writes issued and not yet acknowledged.
    pub pending_storage_writes: usize,
}
