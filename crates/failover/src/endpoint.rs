//! The failover endpoint: one per relationship.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use dhcpv6_wire::{
    DhcpOption, FailoverMessage, FrameDecoder, MessageType, OptionCode, Options, ProtocolVersion,
    ServerState, Status, StatusCode, VendorOption, VendorOpts, encode_frame,
};

use crate::binding::{
    AllocationMode, Binding, BindingStatus, ClientKey, Resource, ResourceKind,
    pending_free_destination,
};
use crate::clients::ClientIndex;
use crate::codec::{self, LeaseMsg, LeaseReply, UpdateMsg};
use crate::config::{
    Config, ConfigError, FINGERPRINT_ENTERPRISE_NUMBER, FINGERPRINT_SUBOPTION, PROTOCOL_VERSION,
    Role,
};
use crate::conflict::{self, Decision, LocalView, RejectReason, UpdateView};
use crate::few::Few;
use crate::mclt;
use crate::ring::IdRing;
use crate::rng::Rng;
use crate::state::{self, FsmEvent, Responsiveness, State};
use crate::table::{BindingTable, ResourceMap, ResourceSet};
use crate::time::{Duration, Instant, Now, UnixTime};
use crate::types::{
    Alarm, ClientRequestKind, CloseReason, Event, InputError, LeaseChange, LeaseError, LeaseGrant,
    PersistedEndpointState, PersistedState, StatusSnapshot, StorageError, StorageRecord,
    StorageWrite, Transmit, WriteId,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Send = 0,
    Keepalive,
    Startup,
    RecoverWait,
    AutoPartnerDown,
    Rescan,
    ConnectRetry,
    UpdateRequest,
    StorageRetry,
}
const TIMERS: usize = 9;
/// Delay before a failed storage write is issued again.
const STORAGE_RETRY: Duration = Duration::from_secs(1);
/// The most decoded partner updates kept for reuse (see `Endpoint::recycle_update`).
const MAX_SPARE_UPDATES: usize = 4096;
/// How many candidates [`Endpoint::allocate`] examines at most before giving up.
const ALLOCATION_SCAN_LIMIT: usize = 4096;
const ALL_TIMERS: [Timer; TIMERS] = [
    Timer::Send,
    Timer::Keepalive,
    Timer::Startup,
    Timer::RecoverWait,
    Timer::AutoPartnerDown,
    Timer::Rescan,
    Timer::ConnectRetry,
    Timer::UpdateRequest,
    Timer::StorageRetry,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conn {
    Down,
    /// Secondary: TCP up, waiting for CONNECT.
    AwaitConnect,
    /// Primary: CONNECT sent.
    AwaitConnectReply {
        xid: u32,
    },
    /// Handshake done.
    Up,
}

/// What a write issued and not yet acknowledged is for.
#[derive(Clone, Copy, Debug)]
enum WriteKind {
    State,
    Binding {
        resource: Resource,
        known: Known,
    },
    /// An accepted partner update (the binding it replaced, put back if the write fails, is
    /// kept apart in [`Endpoint::undo`], so that this record stays small).
    PartnerUpdate {
        resource: Resource,
        reply: u64,
        known: Known,
    },
    Other,
}

/// The binding table's mutation epoch when a binding's write was issued, and the binding's
/// "partner needs update" flag then: while the epoch is unchanged, the acknowledgement reads
/// the flag from here instead of searching the table (see [`Endpoint::owes_update`]).
#[derive(Clone, Copy, Debug)]
struct Known {
    epoch: u64,
    needs_partner_update: bool,
}

#[derive(Clone, Debug)]
struct PendingReply {
    remaining: usize,
    xid: u32,
    upd: UpdateMsg,
    replies: Few<LeaseReply>,
    /// Where each written resource's answer is in `replies`.
    slots: Few<(Resource, usize)>,
}

#[derive(Clone, Copy, Debug)]
struct Outstanding {
    resource: Resource,
    seq: u64,
    sent_status: BindingStatus,
}

#[derive(Clone, Copy, Debug)]
struct OpenRequest {
    xid: u32,
    /// UPDREQALL (true) or UPDREQ.
    #[allow(dead_code, reason = "kept for Debug output of the endpoint")]
    all: bool,
}

#[derive(Clone, Debug, Default)]
struct PartnerInfo {
    state: Option<State>,
    state_start: Option<UnixTime>,
    flags: u8,
    down_time: Option<UnixTime>,
    /// A STATE was received on the current connection.
    state_received: bool,
}

/// One RFC 8156 failover endpoint: the relationship with one partner, as a sans-IO state
/// machine.
///
/// # Method families, and the order to call them
///
/// * **Inputs** (`&mut self`, all take `now`): [`handle_connection_up`](Self::handle_connection_up),
///   [`handle_connection_down`](Self::handle_connection_down), [`handle_bytes`](Self::handle_bytes),
///   [`handle_timeout`](Self::handle_timeout), [`handle_storage_done`](Self::handle_storage_done).
/// * **Commands** from the embedding DHCP server and its operator:
///   [`record_lease`](Self::record_lease), [`allocate`](Self::allocate),
///   [`partner_down`](Self::partner_down).
/// * **Questions** asked on every client message (no side effects):
///   [`responsiveness`](Self::responsiveness), [`may_serve`](Self::may_serve),
///   [`may_allocate`](Self::may_allocate), [`lease_bound`](Self::lease_bound),
///   [`binding`](Self::binding), [`status`](Self::status).
/// * **Outputs**, drained until `None` after every input or command:
///   [`poll_transmit`](Self::poll_transmit), [`poll_storage`](Self::poll_storage),
///   [`poll_event`](Self::poll_event); then sleep until [`poll_timeout`](Self::poll_timeout)
///   or the next input.
///
/// Mutate once, drain every queue, then wait. A misbehaving partner never makes an input
/// return `Err` or panic: it produces protocol responses and [`Event`]s.
#[derive(Debug)]
pub struct Endpoint {
    cfg: Config,
    mclt: Duration,
    rng: Rng,
    // ---- state machine ----
    state: State,
    previous_state: Option<State>,
    /// STARTUP's PREVIOUS-STATE (after step 2).
    resume_state: State,
    had_record: bool,
    state_start: UnixTime,
    partner: PartnerInfo,
    /// The partner announced PARTNER-DOWN since this server was last in NORMAL.
    partner_was_down: bool,
    /// When the partner last asked UPDREQALL (it had lost its database).
    partner_db_lost_at: Option<UnixTime>,
    /// Acked EXPIRED/RELEASED/RESET leases held back from reuse until the given time.
    hold_free: BTreeMap<Resource, UnixTime>,
    communicated: bool,
    /// The C flag for this connection: whether we had talked to the partner before it.
    c_flag: bool,
    last_operating: Option<UnixTime>,
    last_contact: Option<UnixTime>,
    partner_down_since: Option<UnixTime>,
    started_at: UnixTime,
    // ---- connection ----
    conn: Conn,
    decoder: FrameDecoder,
    partner_keepalive: Duration,
    partner_max_unacked: u32,
    skew_secs: Option<i64>,
    time_correction: i64,
    retry_delay: Duration,
    // ---- bindings ----
    /// Bindings with their sequence numbers (see [`BindingTable`]).
    bindings: BindingTable,
    by_client: ClientIndex,
    latest_write: ResourceMap<WriteId>,
    unpersisted: BTreeSet<Resource>,
    queue: BTreeSet<Resource>,
    takeback: BTreeSet<Resource>,
    outstanding: BTreeMap<u32, Outstanding>,
    outstanding_res: ResourceSet,
    my_request: Option<OpenRequest>,
    /// RECOVER-DONE: an UPDREQ sent on this connection after the partner left PARTNER-DOWN
    /// was answered (UPDDONE), so the partner's PARTNER-DOWN grants are all here and NORMAL
    /// may follow (sim seeds 821057, 835016).
    recover_done_synced: bool,
    serving: Option<OpenRequest>,
    serving_left: BTreeSet<Resource>,
    /// Secondary: send POOLREQ once the updates owed on entering NORMAL are acked.
    poolreq_pending: bool,
    // ---- storage ----
    next_write: u64,
    /// Writes issued and not yet acknowledged, by id.
    writes: IdRing<WriteKind>,
    /// For each unacknowledged write of an accepted partner update that replaced a binding:
    /// that binding, put back if the write fails.
    undo: IdRing<Binding>,
    latest_state_write: Option<WriteId>,
    /// The current state (or, in STARTUP, the recorded one) is in stable storage.
    state_durable: bool,
    next_reply: u64,
    replies: IdRing<PendingReply>,
    /// The client of the partner update being applied, kept between updates so that its
    /// DUID buffer is reused (a binding takes its own copy only when its client changes).
    scratch_client: ClientKey,
    /// Decoded partner updates whose replies went out, kept so that the next BNDUPDs are
    /// decoded into their vectors instead of allocating new ones (at most
    /// [`Self::spare_limit`]).
    spare_updates: Vec<UpdateMsg>,
    // ---- outputs ----
    transmits: VecDeque<Transmit>,
    storage_out: VecDeque<StorageWrite>,
    events: VecDeque<Event>,
    timers: [Option<Instant>; TIMERS],
    // ---- counters ----
    conflicts: u64,
    rejected: u64,
    last_now: Now,
    /// Wall clock minus monotonic clock, in ms, at the last input: a change is a clock step.
    wall_offset_ms: i64,
}

impl Endpoint {
    /// A new endpoint with empty storage (first start).
    pub fn new(config: Config, now: Now) -> Result<Self, ConfigError> {
        Self::restore(config, PersistedState::default(), now)
    }

    /// An endpoint restored from what the caller read back from stable storage. It starts in
    /// STARTUP.
    pub fn restore(
        config: Config,
        persisted: PersistedState,
        now: Now,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let rec = persisted.endpoint;
        let recorded_state = rec.as_ref().map(|r| r.state);
        let mut last_operating = rec.as_ref().map(|r| r.written_at);
        let mut bindings = BindingTable::new(config.rng_seed);
        let mut by_client = ClientIndex::default();
        let mut queue = BTreeSet::new();
        for b in persisted.bindings {
            if let Some(t) = b.client_last_transaction_time {
                last_operating = Some(last_operating.map_or(t, |l| l.max(t)));
            }
            if let Some(c) = &b.client {
                by_client.insert(c, b.resource.kind(), b.resource);
            }
            if b.needs_partner_update {
                queue.insert(b.resource);
            }
            bindings.insert(b.resource, b);
        }
        let mclt = match (&rec, config.role) {
            (Some(r), Role::Secondary) if r.mclt >= mclt::MIN_LEASE => r.mclt,
            _ => config.mclt,
        };
        let mut e = Self {
            mclt,
            rng: Rng::new(config.rng_seed),
            state: State::Startup,
            previous_state: recorded_state,
            resume_state: state::startup_previous_state(recorded_state),
            had_record: rec.is_some(),
            state_start: now.wall,
            partner: PartnerInfo {
                state: rec.as_ref().and_then(|r| r.partner_state),
                state_start: rec.as_ref().and_then(|r| r.partner_state_start),
                ..PartnerInfo::default()
            },
            communicated: rec.as_ref().is_some_and(|r| r.communicated),
            partner_db_lost_at: None,
            hold_free: BTreeMap::new(),
            // Restarting in POTENTIAL-CONFLICT / RESOLUTION-INTERRUPTED: see `enter_state`.
            partner_was_down: rec.as_ref().is_some_and(|r| {
                r.partner_state == Some(State::PartnerDown)
                    || matches!(
                        r.state,
                        State::PotentialConflict | State::ResolutionInterrupted
                    )
            }),
            c_flag: false,
            last_operating,
            last_contact: rec.as_ref().and_then(|r| r.last_partner_contact),
            partner_down_since: rec.as_ref().and_then(|r| r.partner_down_since),
            started_at: now.wall,
            conn: Conn::Down,
            decoder: FrameDecoder::new(dhcpv6_wire::MAX_FRAME_LEN),
            partner_keepalive: config.keepalive,
            partner_max_unacked: 1,
            skew_secs: None,
            time_correction: 0,
            retry_delay: config.connect_retry,
            bindings,
            by_client,
            latest_write: ResourceMap::default(),
            unpersisted: BTreeSet::new(),
            queue,
            takeback: BTreeSet::new(),
            outstanding: BTreeMap::new(),
            outstanding_res: ResourceSet::default(),
            my_request: None,
            recover_done_synced: false,
            serving: None,
            serving_left: BTreeSet::new(),
            poolreq_pending: false,
            next_write: 1,
            writes: IdRing::default(),
            undo: IdRing::default(),
            latest_state_write: None,
            state_durable: true,
            next_reply: 1,
            replies: IdRing::default(),
            scratch_client: ClientKey {
                duid: Vec::new(),
                iaid: 0,
            },
            spare_updates: Vec::new(),
            transmits: VecDeque::new(),
            storage_out: VecDeque::new(),
            events: VecDeque::new(),
            timers: [None; TIMERS],
            conflicts: 0,
            rejected: 0,
            last_now: now,
            wall_offset_ms: wall_offset_ms(now),
            cfg: config,
        };
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
        //# Start the STARTUP state timer.
        e.set_timer(Timer::Startup, now.instant + e.cfg.startup_wait);
        e.set_timer(Timer::Rescan, now.instant + e.cfg.rescan_interval);
        if e.cfg.role == Role::Primary {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
            //# If the server is a primary server: attempt to create a
            //# TCP connection to the failover partner.
            e.events.push_back(Event::OpenConnection);
            // If that first attempt fails (the embedding server reports it with
            // `handle_connection_down`, or never reports anything), the retry timer asks again
            // (sim finding B12: a restarted primary whose first connect failed never retried).
            e.set_timer(Timer::ConnectRetry, now.instant + e.retry_delay);
        }
        Ok(e)
    }

    // =====================================================================================
    // Questions
    // =====================================================================================

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The current endpoint state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The MCLT in force (the secondary adopts the primary's).
    pub fn mclt(&self) -> Duration {
        self.mclt
    }

    /// How this server must treat DHCP clients now.
    pub fn responsiveness(&self) -> Responsiveness {
        self.state.responsiveness(self.cfg.role)
    }

    /// Whether the DHCP server may answer a client message of `kind`; `addressed_to_me` is
    /// true when the message's OPTION_SERVERID carries this server's DUID.
    ///
    /// In RECOVER-DONE the server may answer only renewals of leases it has a record of: check
    /// [`binding`](Self::binding) as well.
    pub fn may_serve(&self, kind: ClientRequestKind, addressed_to_me: bool) -> bool {
        match self.responsiveness() {
            Responsiveness::Responsive => true,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-3
            //# renew-responsive: answers only messages whose OPTION_SERVERID carries
            //# this server's DUID
            Responsiveness::RenewResponsive => {
                addressed_to_me
                    && match self.state {
                        State::RecoverDone => matches!(kind, ClientRequestKind::Renew),
                        _ => !matches!(
                            kind,
                            ClientRequestKind::Solicit
                                | ClientRequestKind::Rebind
                                | ClientRequestKind::Confirm
                        ),
                    }
            }
            Responsiveness::Unresponsive => false,
        }
    }

    fn may_allocate_new_in_state(&self) -> bool {
        matches!(
            self.state,
            State::Normal
                | State::CommunicationsInterrupted
                | State::PartnerDown
                | State::ResolutionInterrupted
                | State::ConflictDone
        )
    }

    fn mode_of(&self, r: &Resource) -> AllocationMode {
        match r {
            Resource::Address(a) => AllocationMode::Independent {
                owner: self.cfg.pools.address_owner(*a),
            },
            Resource::Prefix { .. } => AllocationMode::Proportional,
        }
    }

    /// The side an available resource belongs to, if it is available.
    fn available_owner(&self, r: &Resource) -> Option<Role> {
        self.available_owner_of(r, self.bindings.get(r))
    }

    /// [`available_owner`](Self::available_owner) with the binding of `r` already looked up
    /// (the per-client questions do one table lookup, not several).
    fn available_owner_of(&self, r: &Resource, local: Option<&Binding>) -> Option<Role> {
        match local {
            None => Some(match r {
                Resource::Address(a) => self.cfg.pools.address_owner(*a),
                Resource::Prefix { prefix, len } => {
                    self.cfg.pools.initial_prefix_owner(*prefix, *len)
                }
            }),
            Some(b) => {
                if self.takeback.contains(r) {
                    // Being taken back from the secondary: nobody's until the ack.
                    return None;
                }
                match (b.status, r) {
                    (
                        BindingStatus::Free
                        | BindingStatus::FreeBackup
                        | BindingStatus::PendingFree,
                        Resource::Address(a),
                    ) => Some(self.cfg.pools.address_owner(*a)),
                    (BindingStatus::Free | BindingStatus::PendingFree, Resource::Prefix { .. }) => {
                        Some(Role::Primary)
                    }
                    (BindingStatus::FreeBackup, Resource::Prefix { .. }) => Some(Role::Secondary),
                    _ => None,
                }
            }
        }
    }

    /// Whether the resource may be given now to a client that does not hold it: the state
    /// allows new allocation, the resource is governed, available and ours (or the partner's
    /// after the PARTNER-DOWN waiting rules).
    pub fn may_allocate(&self, now: Now, resource: &Resource) -> bool {
        self.may_allocate_local(now, resource, self.bindings.get(resource))
    }

    /// [`may_allocate`](Self::may_allocate) with the binding of `resource` already looked up.
    fn may_allocate_local(&self, now: Now, resource: &Resource, local: Option<&Binding>) -> bool {
        if !self.may_allocate_new_in_state() || !self.cfg.pools.contains(resource) {
            return false;
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.11.1
        //# new allocations SHOULD be from its own pool (if determinable)
        // After the partner ran in PARTNER-DOWN it may have delegated this server's available
        // prefixes (allowed after PD entry + MCLT), so until the conflict is resolved they are
        // not "determinably" ours: no new prefix delegations in RESOLUTION-INTERRUPTED then.
        // Addresses stay safe: a server in PARTNER-DOWN never takes the partner's half here.
        // (Regression: simulation seed 595.)
        if self.state == State::ResolutionInterrupted
            && self.partner_was_down
            && matches!(resource, Resource::Prefix { .. })
        {
            return false;
        }
        let me = self.cfg.role;
        let pd = self.state == State::PartnerDown;
        let pd_since = self.partner_down_since.unwrap_or(self.state_start);
        if let Some(owner) = self.available_owner_of(resource, local) {
            if owner == me {
                return true;
            }
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.1
            //# When allocating new leases, each server allocates
            //# from its own pool, where the primary MUST allocate only FREE
            //# resources, and the secondary MUST
            //# allocate only FREE_BACKUP resources.
            if !pd {
                return false;
            }
            // Partner's independent-allocation addresses are never used (see
            // docs/design/failover-choices.md); its delegable prefixes after PD entry + MCLT.
            return matches!(resource, Resource::Prefix { .. })
                && now.wall >= mclt::partner_pool_usable_from(pd_since, self.mclt);
        }
        let Some(b) = local else {
            return false;
        };
        if !pd || !(b.status.awaits_ack_before_free() || b.status == BindingStatus::Active) {
            return false;
        }
        if let Resource::Address(a) = resource
            && self.cfg.pools.address_owner(*a) != me
        {
            return false;
        }
        now.wall >= mclt::partner_down_reuse_time(b, pd_since, self.mclt)
    }

    /// Like [`may_allocate`](Self::may_allocate), for a known client: also true for the
    /// client's own lease (ACTIVE, or EXPIRED/RELEASED and not yet announced to the partner),
    /// which may go back to the same client without the partner's ack.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.1
    //# It cannot be allocated to the same client
    //# again if a BNDUPD was sent, otherwise it can.
    pub fn may_allocate_to(&self, now: Now, resource: &Resource, client: &ClientKey) -> bool {
        if self.responsiveness() == Responsiveness::Unresponsive {
            return false;
        }
        let local = self.bindings.get(resource);
        if let Some(b) = local
            && b.is_for(client)
            && self.is_own_lease(now, b)
        {
            return true;
        }
        self.may_allocate_local(now, resource, local)
    }

    /// Whether an EXPIRED/RELEASED resource returns to this server's pool (the owner of its
    /// PENDING-FREE destination).
    fn returns_to_me(&self, r: &Resource) -> bool {
        match pending_free_destination(self.mode_of(r)) {
            BindingStatus::FreeBackup => self.cfg.role == Role::Secondary,
            _ => self.cfg.role == Role::Primary,
        }
    }

    /// Whether `b` (bound to the asking client) may go back to that client now.
    fn is_own_lease(&self, now: Now, b: &Binding) -> bool {
        // After the partner ran in PARTNER-DOWN and before the conflict is resolved, a lease
        // that has run out here may already be another client's there: only leases still
        // running are renewed (regression: simulation seed 55).
        let unresolved = self.state == State::ResolutionInterrupted && self.partner_was_down;
        match b.status {
            BindingStatus::Active => {
                !unresolved || b.state_expiration_time.is_some_and(|e| e > now.wall)
            }
            // Only the server the resource returns to may hand it back to the same client
            // before the partner acked (regression: simulation seed 2856, where the primary gave
            // a released address of the secondary's half back to its client in COMM-INT while
            // the secondary had made it FREE-BACKUP and gave it to another client).
            BindingStatus::Expired | BindingStatus::Released => {
                !unresolved
                    && b.needs_partner_update
                    && !self.outstanding_res.contains_key(&b.resource)
                    && self.returns_to_me(&b.resource)
            }
            _ => false,
        }
    }

    /// The valid lifetime the DHCP server may grant for `resource` now, given the lifetime it
    /// would like to grant: the MCLT bound of the current state (none in PARTNER-DOWN), never
    /// below the 30-second floor; zero when the state forbids granting.
    pub fn lease_bound(&self, now: Now, resource: &Resource, desired_valid: Duration) -> Duration {
        if self.responsiveness() == Responsiveness::Unresponsive {
            return Duration::ZERO;
        }
        mclt::lease_bound(
            self.state,
            self.mclt,
            now.wall,
            self.bindings.get(resource),
            desired_valid,
        )
    }

    /// The binding of a resource, if this endpoint has one.
    pub fn binding(&self, resource: &Resource) -> Option<&Binding> {
        self.bindings.get(resource)
    }

    /// Every binding, ordered by resource.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values()
    }

    /// The resources of `kind` bound (in any status) to `client`.
    pub fn client_resources(
        &self,
        client: &ClientKey,
        kind: ResourceKind,
    ) -> impl Iterator<Item = &Binding> {
        self.by_client
            .get(client, kind)
            .filter_map(|r| self.bindings.get(r))
            .filter(move |b| b.is_for(client))
    }

    /// Picks a resource of `kind` for `client`: the client's current lease if it still has
    /// one (or an expired/released one not yet announced to the partner), else an available
    /// one this server may allocate now, own pool first. `None` if there is none, or the
    /// state forbids allocation.
    pub fn allocate(
        &mut self,
        now: Now,
        kind: ResourceKind,
        client: &ClientKey,
    ) -> Option<Resource> {
        self.observe_clock(now);
        if self.responsiveness() == Responsiveness::Unresponsive {
            return None;
        }
        // The client's own lease first.
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.1
        //# It cannot be allocated to the same client
        //# again if a BNDUPD was sent, otherwise it can.
        let own = self
            .client_resources(client, kind)
            .find(|b| self.is_own_lease(now, b));
        if let Some(b) = own {
            return Some(b.resource);
        }
        if !self.may_allocate_new_in_state() {
            return None;
        }
        let me = self.cfg.role;
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
        //# Therefore the server operating
        //# in PARTNER-DOWN state MUST use its own pool first for new
        //# leases before assigning any leases from its downed partner pool.
        for side in [me, me.partner()] {
            if side != me && self.state != State::PartnerDown {
                break;
            }
            for r in self.cfg.pools.candidates(kind, side, client, 64) {
                if self.may_allocate(now, &r) {
                    return Some(r);
                }
            }
            // Beyond the per-client window: a wider, still bounded, walk of the pools, then
            // any available resource we know a binding for.
            for r in self
                .cfg
                .pools
                .candidates(kind, side, client, ALLOCATION_SCAN_LIMIT)
            {
                if self.may_allocate(now, &r) {
                    return Some(r);
                }
            }
            let found = self
                .bindings
                .values()
                .filter(|b| b.resource.kind() == kind)
                .map(|b| b.resource)
                .find(|r| self.available_owner(r) == Some(side) && self.may_allocate(now, r));
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// A snapshot for operators.
    pub fn status(&self, now: Now) -> StatusSnapshot {
        let _ = now;
        StatusSnapshot {
            relationship_name: self.cfg.relationship_name.clone(),
            role: self.cfg.role,
            state: self.state,
            state_since: self.state_start,
            partner_state: self.partner.state,
            partner_state_since: self.partner.state_start,
            communications_ok: self.comm_ok(),
            mclt: self.mclt,
            partner_down_since: self.partner_down_since,
            pending_updates: self
                .bindings
                .values()
                .filter(|b| b.needs_partner_update)
                .count(),
            unacked_updates: self.outstanding.len(),
            partner_max_unacked: self.partner_max_unacked,
            conflicts: self.conflicts,
            rejected_updates: self.rejected,
            last_contact: self.last_contact,
            measured_skew_secs: self.skew_secs,
            bindings: self.bindings.len(),
            pending_storage_writes: self.writes.len(),
        }
    }

    fn comm_ok(&self) -> bool {
        self.conn == Conn::Up && self.partner.state_received
    }

    // =====================================================================================
    // Outputs
    // =====================================================================================

    /// The next bytes to write to the partner connection.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next storage write to perform and acknowledge.
    pub fn poll_storage(&mut self) -> Option<StorageWrite> {
        self.storage_out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest armed deadline; call [`handle_timeout`](Self::handle_timeout) then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    fn set_timer(&mut self, t: Timer, at: Instant) {
        if let Some(slot) = self.timers.get_mut(t as usize) {
            *slot = Some(at);
        }
    }

    fn clear_timer(&mut self, t: Timer) {
        if let Some(slot) = self.timers.get_mut(t as usize) {
            *slot = None;
        }
    }

    fn timer(&self, t: Timer) -> Option<Instant> {
        self.timers.get(t as usize).copied().flatten()
    }

    // =====================================================================================
    // Inputs
    // =====================================================================================

    /// The TCP (and TLS) connection to the partner is established. The primary sends CONNECT;
    /// the secondary waits for it.
    pub fn handle_connection_up(&mut self, now: Now) {
        self.observe_clock(now);
        if self.conn != Conn::Down {
            self.drop_connection(now);
        }
        self.decoder = FrameDecoder::new(dhcpv6_wire::MAX_FRAME_LEN);
        // The time correction is measured afresh on every connection.
        self.time_correction = 0;
        self.clear_timer(Timer::ConnectRetry);
        self.set_timer(Timer::Keepalive, now.instant + self.cfg.keepalive);
        match self.cfg.role {
            Role::Primary => {
                let xid = self.fresh_xid();
                let mut m = self.msg(MessageType::CONNECT, xid, now);
                self.push_config_options(&mut m.options, None);
                self.send(m, now);
                self.conn = Conn::AwaitConnectReply { xid };
            }
            Role::Secondary => self.conn = Conn::AwaitConnect,
        }
    }

    /// The connection to the partner is gone, or (primary) the connection attempt asked for
    /// by [`Event::OpenConnection`] failed.
    pub fn handle_connection_down(&mut self, now: Now) {
        self.observe_clock(now);
        if self.conn == Conn::Down {
            // A failed connection attempt: make sure another one will be asked for.
            if self.cfg.role == Role::Primary && self.timer(Timer::ConnectRetry).is_none() {
                self.set_timer(Timer::ConnectRetry, now.instant + self.retry_delay);
            }
            return;
        }
        self.drop_connection(now);
    }

    /// Raw bytes received from the partner connection (framing is done here).
    pub fn handle_bytes(&mut self, now: Now, mut bytes: &[u8]) {
        self.observe_clock(now);
        if self.conn == Conn::Down {
            return;
        }
        loop {
            // A whole frame at the front of unbuffered input is handled in place (no copy).
            if let Some(frame) = self.decoder.take_whole(&mut bytes) {
                self.handle_frame(now, frame);
                if self.conn == Conn::Down {
                    return;
                }
                continue;
            }
            match self.decoder.decode(&mut bytes) {
                Ok(Some(frame)) => {
                    self.handle_frame(now, &frame);
                    if self.conn == Conn::Down {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.events.push_back(Event::ProtocolViolation {
                        what: format!("framing: {e}"),
                    });
                    self.disconnect(
                        now,
                        Status::UNSPEC_FAIL,
                        "unparseable stream",
                        CloseReason::Framing,
                    );
                    return;
                }
            }
        }
    }

    /// Timers. Safe to call early or twice: only expired timers act.
    pub fn handle_timeout(&mut self, now: Now) {
        self.observe_clock(now);
        for t in ALL_TIMERS {
            let Some(at) = self.timer(t) else { continue };
            if at > now.instant {
                continue;
            }
            self.clear_timer(t);
            match t {
                Timer::Send => {
                    if self.conn == Conn::Up {
                        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.5
                        //# at 0 send CONTACT and reset the timer
                        let m = self.msg(MessageType::CONTACT, 0, now);
                        self.send(m, now);
                    }
                }
                Timer::Keepalive => {
                    if self.conn != Conn::Down {
                        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.6
                        //# If nothing at all is received for FO_KEEPALIVE_TIME the
                        //# connection is considered dead: communications not OK.
                        self.events.push_back(Event::CloseConnection {
                            reason: CloseReason::KeepaliveExpired,
                        });
                        self.drop_connection(now);
                    }
                }
                Timer::Startup => {
                    if self.state == State::Startup {
                        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
                        //# If the startup time expires prior to communications
                        //# becoming "OK", the server SHOULD transition
                        //# to the PREVIOUS-STATE.
                        let target = if !self.had_record && self.cfg.unpaired_first_start {
                            State::PartnerDown
                        } else {
                            self.resume_state
                        };
                        self.enter_state(now, target);
                    }
                }
                Timer::RecoverWait => {
                    if self.state == State::RecoverWait {
                        self.apply(now, FsmEvent::RecoverWaitExpired);
                    }
                }
                Timer::AutoPartnerDown => {
                    if self.state == State::CommunicationsInterrupted {
                        self.apply(now, FsmEvent::AutoPartnerDownExpired);
                    }
                }
                Timer::Rescan => {
                    self.rescan(now);
                    self.set_timer(Timer::Rescan, now.instant + self.cfg.rescan_interval);
                }
                Timer::ConnectRetry => {
                    if self.conn == Conn::Down && self.cfg.role == Role::Primary {
                        self.events.push_back(Event::OpenConnection);
                        self.set_timer(Timer::ConnectRetry, now.instant + self.retry_delay);
                    }
                }
                Timer::StorageRetry => {
                    if !self.state_durable && self.latest_state_write.is_none() {
                        self.persist_state(now);
                    }
                    for r in core::mem::take(&mut self.unpersisted) {
                        self.persist_binding(r);
                    }
                }
                Timer::UpdateRequest => {
                    if self.my_request.is_some() && self.conn == Conn::Up {
                        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
                        //# If an UPDDONE message isn't received within an implementation
                        //# dependent amount of time, and no BNDUPD messages are being
                        //# received, the connection SHOULD be dropped.
                        self.disconnect(
                            now,
                            Status::UNSPEC_FAIL,
                            "no UPDDONE",
                            CloseReason::UpdateRequestTimeout,
                        );
                    }
                }
            }
        }
    }

    /// A storage write finished. `Ok` releases what waited for it (a BNDREPLY, a STATE, a
    /// BNDUPD); `Err` drops it and reports [`Event::StorageFailed`].
    pub fn handle_storage_done(
        &mut self,
        now: Now,
        id: WriteId,
        result: Result<(), StorageError>,
    ) -> Result<(), InputError> {
        self.observe_clock(now);
        let ok = result.is_ok();
        let Some(kind) = self.writes.remove(id.0) else {
            return Err(InputError::UnknownWriteId(id));
        };
        // The binding an accepted partner update replaced is needed only if its write failed.
        let previous = match kind {
            WriteKind::PartnerUpdate { .. } if !ok => self.undo.remove(id.0),
            WriteKind::PartnerUpdate { .. } => {
                self.undo.discard(id.0);
                None
            }
            _ => None,
        };
        if let Err(e) = result {
            self.events.push_back(Event::StorageFailed {
                id,
                reason: e.reason,
            });
        }
        match kind {
            WriteKind::State => {
                if self.latest_state_write == Some(id) {
                    self.latest_state_write = None;
                    if ok {
                        self.state_durable = true;
                        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.3
                        //# write the new state to stable storage before sending STATE
                        if self.conn == Conn::Up {
                            self.send_state(now);
                        }
                    } else {
                        // Regression (sim finding B1): the state is not durable; write it again
                        // shortly, and keep STATE back until a write is acknowledged.
                        self.set_timer(Timer::StorageRetry, now.instant + STORAGE_RETRY);
                    }
                }
            }
            WriteKind::Binding { resource: r, known } => {
                if self.take_latest_write(r, id) {
                    if ok {
                        self.unpersisted.remove(&r);
                        if self.owes_update(&r, known) {
                            self.queue.insert(r);
                        }
                    } else {
                        self.unpersisted.insert(r);
                        self.set_timer(Timer::StorageRetry, now.instant + STORAGE_RETRY);
                    }
                }
            }
            WriteKind::PartnerUpdate {
                resource,
                reply,
                known,
            } => {
                if self.take_latest_write(resource, id) {
                    // A merged record still owes the partner an update (see `apply_lease`).
                    if ok && self.owes_update(&resource, known) {
                        self.queue.insert(resource);
                    }
                }
                if !ok {
                    // The update could not be made durable: it is not accepted. Undo it in
                    // memory (unless a later write superseded it) and answer UnspecFail for
                    // that lease, so both sides keep agreeing (regression: simulation seed
                    // 521, a failed write of a prefix take-back left the tables disagreeing).
                    if !self.latest_write.contains_key(&resource) {
                        self.revert_binding(resource, previous);
                    }
                }
                if let Some(p) = self.replies.get_mut(reply) {
                    p.remaining = p.remaining.saturating_sub(1);
                    if !ok
                        && let Some(slot) = p
                            .slots
                            .as_slice()
                            .iter()
                            .find(|(r, _)| *r == resource)
                            .map(|(_, i)| *i)
                        && let Some(l) = p.replies.as_mut_slice().get_mut(slot)
                    {
                        l.status = Some((Status::UNSPEC_FAIL, "storage write failed".to_string()));
                    }
                    if p.remaining == 0 {
                        //= https://www.rfc-editor.org/rfc/rfc8156#section-7.7
                        //# A server MUST NOT send the BNDREPLY before its
                        //# binding database is updated.
                        // The common shapes are encoded where the pending reply lies, which is
                        // then dropped in place; the others go through `send_bndreply`.
                        let direct = (self.conn == Conn::Up).then(|| {
                            codec::encode_bndreply_frame(
                                p.xid,
                                now.wall,
                                &p.upd,
                                p.replies.as_slice(),
                                None,
                            )
                        });
                        match direct {
                            None => {
                                let upd = core::mem::replace(&mut p.upd, UpdateMsg::empty());
                                self.replies.discard(reply);
                                self.recycle_update(upd);
                            }
                            Some(Some(bytes)) => {
                                let upd = core::mem::replace(&mut p.upd, UpdateMsg::empty());
                                self.replies.discard(reply);
                                self.recycle_update(upd);
                                self.send_frame(bytes, now);
                            }
                            Some(None) => {
                                if let Some(p) = self.replies.remove(reply) {
                                    self.send_bndreply(
                                        now,
                                        p.xid,
                                        &p.upd,
                                        p.replies.as_slice(),
                                        None,
                                    );
                                    self.recycle_update(p.upd);
                                }
                            }
                        }
                    }
                }
            }
            WriteKind::Other => {}
        }
        self.pump_updates(now);
        Ok(())
    }

    /// How many decoded updates [`Self::spare_updates`] keeps: as many as the partner may
    /// have unacknowledged (it never sends more), within a fixed bound.
    fn spare_limit(&self) -> usize {
        usize::try_from(self.cfg.max_unacked_bndupd)
            .unwrap_or(usize::MAX)
            .min(MAX_SPARE_UPDATES)
    }

    /// Keeps a decoded update whose reply went out (or that was not used) for the next
    /// decode, if fewer than [`Self::spare_limit`] are kept.
    fn recycle_update(&mut self, upd: UpdateMsg) {
        if self.spare_updates.len() < self.spare_limit() {
            self.spare_updates.push(upd);
        }
    }

    /// If `id` is the latest write of `r`, forgets it (one search) and says so.
    fn take_latest_write(&mut self, r: Resource, id: WriteId) -> bool {
        self.latest_write.remove_if(&r, |w| *w == id).is_some()
    }

    /// Whether the binding of `r` exists and owes the partner an update. `known` was taken
    /// when a write of that binding was issued: if the table has not been borrowed mutably
    /// since, it is exactly as it was then and the flag recorded there is the answer.
    fn owes_update(&self, r: &Resource, known: Known) -> bool {
        if self.bindings.epoch() == known.epoch {
            known.needs_partner_update
        } else {
            self.bindings.get(r).is_some_and(|b| b.needs_partner_update)
        }
    }

    /// Operator command: the partner is down. Allowed in NORMAL, COMMUNICATIONS-INTERRUPTED
    /// and RESOLUTION-INTERRUPTED. `since` (not in the future) backdates the PARTNER-DOWN
    /// entry time that the MCLT waiting rules count from, to when the partner really stopped.
    pub fn partner_down(&mut self, now: Now, since: Option<UnixTime>) -> Result<(), InputError> {
        self.observe_clock(now);
        if since.is_some_and(|s| s > now.wall) {
            return Err(InputError::TimeInFuture);
        }
        if self.state == State::PartnerDown {
            if let Some(s) = since {
                self.partner_down_since = Some(s.min(self.partner_down_since.unwrap_or(s)));
                self.persist_state(now);
            }
            return Ok(());
        }
        match state::transition(self.cfg.role, self.state, FsmEvent::OperatorPartnerDown) {
            Some(next) => {
                self.partner_down_since = Some(since.unwrap_or(now.wall));
                self.enter_state(now, next);
                Ok(())
            }
            None => Err(InputError::NotAllowedInState {
                command: "partner-down",
                state: self.state,
            }),
        }
    }

    /// The DHCP server decided a lease (after building its Reply). Returns the id of the
    /// storage write to perform; the BNDUPD for it leaves lazily, only after that write is
    /// acknowledged.
    pub fn record_lease(&mut self, now: Now, change: LeaseChange) -> Result<WriteId, LeaseError> {
        self.observe_clock(now);
        let w = now.wall;
        let resource = match &change {
            LeaseChange::Granted(g) | LeaseChange::Renewed(g) => g.resource,
            LeaseChange::Released { resource, .. }
            | LeaseChange::Declined { resource, .. }
            | LeaseChange::Expired { resource }
            | LeaseChange::Reset { resource } => *resource,
        };
        if !self.cfg.pools.contains(&resource) {
            return Err(LeaseError::NotGoverned(resource));
        }
        match change {
            LeaseChange::Granted(g) | LeaseChange::Renewed(g) => self.record_grant(now, g)?,
            LeaseChange::Released { client, resource }
            | LeaseChange::Declined { client, resource }
                if !self
                    .bindings
                    .get(&resource)
                    .is_some_and(|b| b.is_for(&client)) =>
            {
                return Err(if self.bindings.contains_key(&resource) {
                    LeaseError::BoundToOtherClient(resource)
                } else {
                    LeaseError::NoBinding(resource)
                });
            }
            LeaseChange::Released { resource, .. } => {
                self.set_status(w, resource, BindingStatus::Released)?
            }
            LeaseChange::Declined { resource, .. } => {
                self.set_status(w, resource, BindingStatus::Abandoned)?
            }
            LeaseChange::Expired { resource } => {
                self.set_status(w, resource, BindingStatus::Expired)?
            }
            LeaseChange::Reset { resource } => {
                self.set_status(w, resource, BindingStatus::Reset)?
            }
        }
        let id = self.persist_binding(resource);
        self.pump_updates(now);
        Ok(id)
    }

    fn record_grant(&mut self, now: Now, g: LeaseGrant) -> Result<(), LeaseError> {
        let w = now.wall;
        if self.responsiveness() == Responsiveness::Unresponsive {
            return Err(LeaseError::NotAllowedInState(self.state));
        }
        if g.valid < mclt::MIN_LEASE {
            return Err(LeaseError::BelowFloor { valid: g.valid });
        }
        if let Some(b) = self.bindings.get(&g.resource)
            && b.status == BindingStatus::Active
            && !b.is_for(&g.client)
            && b.state_expiration_time.is_some_and(|e| e > w)
        {
            return Err(LeaseError::BoundToOtherClient(g.resource));
        }
        let desired = if g.desired_valid.is_zero() {
            g.valid
        } else {
            g.desired_valid
        };
        let old_client = self
            .bindings
            .get(&g.resource)
            .and_then(|b| b.client.clone());
        let b = self.bindings.get_or_insert_with(g.resource, || {
            Binding::new(g.resource, BindingStatus::Active, w)
        });
        let same_running_lease =
            b.status == BindingStatus::Active && old_client.as_ref() == Some(&g.client);
        if !same_running_lease {
            b.start_time_of_state = w;
        }
        // A second, shorter Reply to the same client (a retransmitted Request or Renew answered
        // again, now under a tighter bound) cannot take back the longer lifetime the client may
        // already hold from the first one: the recorded client expiry, and what the partner is
        // told, never moves backwards while the lease stays ACTIVE for that client (sim finding
        // B9, seed 12944).
        let expiry = match b.state_expiration_time {
            Some(old) if same_running_lease && old > w + g.valid => old,
            _ => w + g.valid,
        };
        b.status = BindingStatus::Active;
        b.client = Some(g.client.clone());
        b.client_last_transaction_time = Some(w);
        b.state_expiration_time = Some(expiry);
        b.preferred_lifetime = g.preferred;
        b.valid_lifetime = g.valid;
        b.t1 = g.t1;
        b.t2 = g.t2;
        if g.fqdn.is_some() {
            b.fqdn = g.fqdn;
        }
        if g.dns_removal.is_some() {
            b.dns_removal = g.dns_removal;
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-4.4.1
        //# BNDUPD with partner-lifetime = now + 1/2 hour + 3 days
        b.partner_lifetime = Some(mclt::partner_lifetime_for(w, g.t1, g.valid, desired));
        b.needs_partner_update = true;
        if let Some(old) = old_client
            && old != g.client
        {
            self.by_client.remove(&old, g.resource.kind(), &g.resource);
        }
        self.by_client
            .insert(&g.client, g.resource.kind(), g.resource);
        self.bump(g.resource);
        Ok(())
    }

    fn set_status(
        &mut self,
        w: UnixTime,
        r: Resource,
        status: BindingStatus,
    ) -> Result<(), LeaseError> {
        let b = self.bindings.get_mut(&r).ok_or(LeaseError::NoBinding(r))?;
        b.status = status;
        b.start_time_of_state = w;
        b.state_expiration_time = None;
        b.partner_lifetime = None;
        b.needs_partner_update = true;
        self.bump(r);
        Ok(())
    }

    fn bump(&mut self, r: Resource) {
        self.bindings.bump(r);
    }

    /// Every input calls this first. The wall clock moving against the monotonic clock by
    /// more than two seconds is a clock step (NTP correction, operator): every absolute time
    /// this endpoint holds was taken in the old frame and is moved into the new one, so a
    /// lease granted as "valid 151 s" still ends 151 s after it was granted. ACTIVE bindings are
    /// written again so the correction survives a restart. (Regression: simulation seed 308,
    /// a primary whose clock was stepped forward by 26 s freed a running lease early.)
    fn observe_clock(&mut self, now: Now) {
        self.last_now = now;
        let offset = wall_offset_ms(now);
        let delta_ms = offset.saturating_sub(self.wall_offset_ms);
        if delta_ms.abs() <= 2000 {
            return;
        }
        self.wall_offset_ms = offset;
        let d = delta_ms / 1000;
        let mut active = Vec::new();
        self.bindings.for_each_mut(|b| {
            for t in [
                &mut b.expiration_time,
                &mut b.acked_partner_lifetime,
                &mut b.partner_lifetime,
                &mut b.client_last_transaction_time,
                &mut b.state_expiration_time,
            ]
            .into_iter()
            .flatten()
            {
                *t = shift(*t, d);
            }
            b.start_time_of_state = shift(b.start_time_of_state, d);
            if b.status == BindingStatus::Active {
                active.push(b.resource);
            }
        });
        self.state_start = shift(self.state_start, d);
        self.started_at = shift(self.started_at, d);
        for t in [
            &mut self.partner_down_since,
            &mut self.last_contact,
            &mut self.last_operating,
            &mut self.partner.state_start,
            &mut self.partner.down_time,
        ]
        .into_iter()
        .flatten()
        {
            *t = shift(*t, d);
        }
        for r in active {
            self.persist_binding(r);
        }
    }

    // =====================================================================================
    // Internals: sending
    // =====================================================================================

    fn fresh_xid(&mut self) -> u32 {
        //= https://www.rfc-editor.org/rfc/rfc8156#section-5.4
        //# never reuse the id of a still-open UPDREQ/UPDREQALL
        loop {
            let x = self.rng.next_xid();
            let open =
                self.my_request.is_some_and(|r| r.xid == x) || self.outstanding.contains_key(&x);
            if !open {
                return x;
            }
        }
    }

    fn msg(&self, t: MessageType, xid: u32, now: Now) -> FailoverMessage {
        FailoverMessage::new(t, xid, now.wall.to_abs_time())
    }

    fn send(&mut self, m: FailoverMessage, now: Now) {
        let mut bytes = Vec::with_capacity(64);
        match encode_frame(&m, &mut bytes) {
            Ok(()) => self.send_frame(bytes, now),
            Err(e) => self.events.push_back(Event::ProtocolViolation {
                what: format!("cannot encode {:?}: {e}", m.msg_type),
            }),
        }
    }

    /// Queues an encoded frame (length prefix included).
    fn send_frame(&mut self, bytes: Vec<u8>, now: Now) {
        self.transmits.push_back(Transmit { bytes });
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.5
        //# FO_SEND_TIMER is reset on every transmitted message
        if self.conn != Conn::Down {
            let send_time = self.partner_keepalive / self.cfg.contacts_per_keepalive.max(1);
            self.set_timer(
                Timer::Send,
                now.instant + send_time.max(Duration::from_secs(1)),
            );
        }
    }

    fn push_config_options(&self, o: &mut Options, mclt_override: Option<u32>) {
        o.push(DhcpOption::ProtocolVersion(ProtocolVersion {
            major: PROTOCOL_VERSION.0,
            minor: PROTOCOL_VERSION.1,
        }));
        let mclt =
            mclt_override.unwrap_or_else(|| u32::try_from(self.mclt.as_secs()).unwrap_or(u32::MAX));
        o.push(DhcpOption::Mclt(mclt));
        o.push(DhcpOption::KeepaliveTime(
            u32::try_from(self.cfg.keepalive.as_secs()).unwrap_or(u32::MAX),
        ));
        o.push(DhcpOption::MaxUnackedBndupd(self.cfg.max_unacked_bndupd));
        if !self.cfg.relationship_name.is_empty() {
            o.push(DhcpOption::RelationshipName(
                self.cfg.relationship_name.clone(),
            ));
        }
        let flags = if self.cfg.fixed_prefix_length {
            dhcpv6_wire::codes::connect_flags::FIXED_PD_LENGTH
        } else {
            0
        };
        o.push(DhcpOption::ConnectFlags(flags));
        if self.cfg.check_pool_fingerprint {
            o.push(DhcpOption::VendorOpts(VendorOpts {
                enterprise_number: FINGERPRINT_ENTERPRISE_NUMBER,
                options: alloc::vec![VendorOption {
                    code: FINGERPRINT_SUBOPTION,
                    data: self.fingerprint_bytes()
                }],
            }));
        }
    }

    fn fingerprint_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        for (_, f) in self.cfg.pools.fingerprint_parts() {
            v.extend_from_slice(&f.to_be_bytes());
        }
        v
    }

    /// Compares the partner's fingerprint (if any) with ours; the names of differing parts.
    fn fingerprint_mismatch(&self, opts: &Options) -> Vec<&'static str> {
        if !self.cfg.check_pool_fingerprint {
            return Vec::new();
        }
        let theirs = opts.iter().find_map(|o| match o {
            DhcpOption::VendorOpts(v) if v.enterprise_number == FINGERPRINT_ENTERPRISE_NUMBER => v
                .options
                .iter()
                .find(|s| s.code == FINGERPRINT_SUBOPTION)
                .map(|s| s.data.clone()),
            _ => None,
        });
        let Some(theirs) = theirs else {
            return Vec::new();
        };
        let ours = self.cfg.pools.fingerprint_parts();
        let mut diff = Vec::new();
        for (i, (name, f)) in ours.iter().enumerate() {
            let start = i * 8;
            let got = theirs.get(start..start + 8);
            if got != Some(&f.to_be_bytes()[..]) {
                diff.push(*name);
            }
        }
        diff
    }

    fn send_state(&mut self, now: Now) {
        let xid = self.fresh_xid();
        let mut m = self.msg(MessageType::STATE, xid, now);
        let (shown, start) = if self.state == State::Startup {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.1
            //# Whenever a STATE message is sent to the partner while
            //# in STARTUP state the STARTUP flag MUST be set in the message
            //# and the previously recorded failover state MUST be placed
            //# in the server-state option.
            (
                self.previous_state.unwrap_or(self.resume_state),
                self.state_start,
            )
        } else {
            (self.state, self.state_start)
        };
        let mut flags = 0u8;
        if self.c_flag {
            flags |= dhcpv6_wire::codes::server_flags::COMMUNICATED;
        }
        if self.state == State::Startup {
            flags |= dhcpv6_wire::codes::server_flags::STARTUP;
        }
        if self.partner.flags & dhcpv6_wire::codes::server_flags::STARTUP != 0 {
            flags |= dhcpv6_wire::codes::server_flags::ACK_STARTUP;
        }
        m.options
            .push(DhcpOption::ServerState(ServerState(shown.to_u8())));
        m.options.push(DhcpOption::ServerFlags(flags));
        m.options
            .push(DhcpOption::StartTimeOfState(start.to_abs_time()));
        //= https://www.rfc-editor.org/rfc/rfc8156#section-5.3.11
        //# OPTION_F_PARTNER_DOWN_TIME is present iff the sender is in PARTNER-DOWN
        if shown == State::PartnerDown
            && let Some(t) = self.partner_down_since
        {
            m.options.push(DhcpOption::PartnerDownTime(t.to_abs_time()));
        }
        self.send(m, now);
    }

    fn disconnect(&mut self, now: Now, status: Status, text: &str, reason: CloseReason) {
        //= https://www.rfc-editor.org/rfc/rfc8156#section-5.3.10
        //# DISCONNECT SHOULD carry OPTION_STATUS_CODE with a human-readable reason.
        let mut m = self.msg(MessageType::DISCONNECT, 0, now);
        m.options
            .push(DhcpOption::StatusCode(StatusCode::new(status, text)));
        self.send(m, now);
        self.events.push_back(Event::CloseConnection { reason });
        self.drop_connection(now);
    }

    /// Forget the connection: communications failed.
    fn drop_connection(&mut self, now: Now) {
        let was_up = self.conn == Conn::Up;
        self.conn = Conn::Down;
        self.partner.state_received = false;
        self.clear_timer(Timer::Send);
        self.clear_timer(Timer::Keepalive);
        self.clear_timer(Timer::UpdateRequest);
        for (_, o) in core::mem::take(&mut self.outstanding) {
            if self
                .bindings
                .get(&o.resource)
                .is_some_and(|b| b.needs_partner_update)
                || self.takeback.contains(&o.resource)
            {
                self.queue.insert(o.resource);
            }
        }
        self.outstanding_res.clear();
        self.my_request = None;
        self.recover_done_synced = false;
        self.serving = None;
        self.serving_left.clear();
        // BNDREPLYs waiting for storage are dropped; the partner re-sends its updates.
        self.replies.clear();
        if self.cfg.role == Role::Primary {
            self.set_timer(Timer::ConnectRetry, now.instant + self.retry_delay);
        }
        let _ = was_up;
        if self.state != State::Startup {
            self.apply(now, FsmEvent::CommFailed);
        }
    }

    // =====================================================================================
    // Internals: state machine
    // =====================================================================================

    fn apply(&mut self, now: Now, event: FsmEvent) {
        let mut ev = event;
        // The table has no cycles; bound the chain anyway.
        for _ in 0..8 {
            let Some(next) = state::transition(self.cfg.role, self.state, ev) else {
                return;
            };
            // RECOVER-DONE → NORMAL waits for the UPDDONE of the UPDREQ that
            // `after_comm_ok_actions` sends once the partner has left PARTNER-DOWN.
            if self.state == State::RecoverDone
                && next == State::Normal
                && !self.recover_done_synced
            {
                return;
            }
            self.enter_state(now, next);
            match ev {
                FsmEvent::PartnerState { .. } => {}
                _ => {
                    if self.comm_ok()
                        && let Some(p) = self.partner.state
                    {
                        ev = FsmEvent::PartnerState {
                            partner: p,
                            startup: false,
                        };
                    } else {
                        return;
                    }
                }
            }
        }
    }

    fn enter_state(&mut self, now: Now, next: State) {
        let from = self.state;
        if from == next {
            return;
        }
        if from != State::Startup {
            self.previous_state = Some(from);
        }
        self.state = next;
        self.state_start = now.wall;
        self.events
            .push_back(Event::StateChanged { from, to: next });
        self.clear_timer(Timer::Startup);
        self.clear_timer(Timer::AutoPartnerDown);
        self.clear_timer(Timer::RecoverWait);
        if next != State::PartnerDown {
            self.partner_down_since = None;
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.1
        //# whenever a server makes a
        //# transition into a new state, it MUST record the new state, its current
        //# understanding of its partner's state, and the time at which it entered the
        //# new state in stable storage.
        self.persist_state(now);
        match next {
            State::CommunicationsInterrupted => {
                //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9
                //# A server transitioning into the COMMUNICATIONS-INTERRUPTED
                //# state from the NORMAL state SHOULD raise some alarm condition
                if from == State::Normal {
                    self.events
                        .push_back(Event::Alarm(Alarm::CommunicationsInterrupted));
                }
                //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9
                //# if it has been
                //# configured to support an automatic transition out of COMMUNICATIONS-
                //# INTERRUPTED state and into PARTNER-DOWN state (i.e., a auto-partner-down
                //# has been configured), then a timer MUST be started
                if let Some(d) = self.cfg.auto_partner_down {
                    self.set_timer(Timer::AutoPartnerDown, now.instant + d);
                }
            }
            State::PartnerDown if self.partner_down_since.is_none() => {
                self.partner_down_since = Some(now.wall);
            }
            State::RecoverDone => self.recover_done_synced = false,
            // A server reaches POTENTIAL-CONFLICT only after some server ran in PARTNER-DOWN.
            // One that was not in PARTNER-DOWN itself may never have seen its partner's STATE
            // saying so (the link broke first, and a partner in POTENTIAL-CONFLICT no longer
            // says it), so it cannot determine which of its available resources are still its
            // own until the conflict is resolved (sim seed 70404: the secondary delegated a
            // FREE-BACKUP prefix in RESOLUTION-INTERRUPTED that the primary had taken over).
            State::PotentialConflict if from != State::PartnerDown => {
                self.partner_was_down = true;
            }
            State::ResolutionInterrupted => self
                .events
                .push_back(Event::Alarm(Alarm::ResolutionInterrupted)),
            State::RecoverWait => {
                //= https://www.rfc-editor.org/rfc/rfc8156#section-8.6.2
                //# If this is the first time this server has run failover
                //# -- as determined by the information received from the
                //# partner, not necessarily only as determined by this server's
                //# stable storage (as that may have been lost), then the waiting
                //# time discussed above may be skipped
                let partner_knows_us =
                    self.partner.flags & dhcpv6_wire::codes::server_flags::COMMUNICATED != 0;
                if !partner_knows_us && !self.had_record {
                    self.set_timer(Timer::RecoverWait, now.instant);
                } else {
                    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.6.2
                    //# Upon entry to RECOVER-WAIT state the server MUST start
                    //# a timer whose expiration is set to a time equal to the time
                    //# the server went down (if known) or the time the server
                    //# started (if the down-time is unknown) plus the
                    //# maximum-client-lead-time.
                    let until = self.started_at + self.mclt;
                    let wait = until.saturating_duration_since(now.wall);
                    self.set_timer(Timer::RecoverWait, now.instant + wait);
                }
            }
            State::Normal => {
                self.partner_was_down = false;
                //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8
                //# When entering NORMAL state, a server will send to the other server
                //# all currently unacknowledged binding updates as BNDUPD messages.
                self.requeue_pending();
                // The secondary's POOLREQ follows once these are acked (see pump_updates).
                if self.cfg.role == Role::Secondary && !self.cfg.pools.prefixes.is_empty() {
                    self.poolreq_pending = true;
                }
            }
            _ => {}
        }
        self.after_comm_ok_actions(now);
    }

    /// Requests that depend on (state, communications OK, partner state).
    fn after_comm_ok_actions(&mut self, now: Now) {
        if !self.comm_ok() || self.my_request.is_some() {
            return;
        }
        let partner = self.partner.state;
        let want = match (self.state, self.cfg.role) {
            (State::Recover, _) => {
                //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
                //# If the
                //# server has determined that it has lost its stable storage
                //# because it has no record of ever having talked to its
                //# partner, while its partner does have a record of communicating
                //# with it, it MUST send an UPDREQALL message, otherwise it
                //# MUST send an UPDREQ message.
                let lost = !self.communicated
                    && self.partner.flags & dhcpv6_wire::codes::server_flags::COMMUNICATED != 0;
                let lost = lost || !self.had_record;
                Some(lost)
            }
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10
            //# When a primary server enters POTENTIAL-CONFLICT state it should
            //# request that the secondary send it all updates of which it is
            //# currently unaware by sending an UPDREQ message to the secondary
            //# server.
            (State::PotentialConflict, Role::Primary) => Some(false),
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10.2
            //# When a secondary server receives an indication that the primary
            //# server has made a transition from POTENTIAL-CONFLICT to CONFLICT-DONE
            //# state, it SHOULD send an UPDREQ message to the primary server.
            (State::PotentialConflict, Role::Secondary) if partner == Some(State::ConflictDone) => {
                Some(false)
            }
            // RECOVER-DONE, the partner now NORMAL (or RECOVER-DONE): what it granted in
            // PARTNER-DOWN after answering our RECOVER request, our own available resources
            // among them (it may take those over after its entry + MCLT), reaches us only
            // through its lazy updates, which on entering NORMAL it sends at the pace of our
            // MAX_UNACKED_BNDUPD. Entering NORMAL on its STATE would let us allocate such a
            // resource before its BNDUPD arrives (sim seeds 821057, 835016). So we ask for
            // those updates (UPDREQ: every lease it still owes us) and enter NORMAL on the
            // UPDDONE. The request goes only once the partner has left PARTNER-DOWN, so that
            // nothing it grants afterwards can come from our pool.
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8
            //# When entering NORMAL state, a server will send to the other server
            //# all currently unacknowledged binding updates as BNDUPD messages.
            (State::RecoverDone, _)
                if self.partner.state_received
                    && !self.recover_done_synced
                    && matches!(partner, Some(State::Normal | State::RecoverDone)) =>
            {
                Some(false)
            }
            _ => None,
        };
        if let Some(all) = want {
            let xid = self.fresh_xid();
            let t = if all {
                MessageType::UPDREQALL
            } else {
                MessageType::UPDREQ
            };
            let m = self.msg(t, xid, now);
            self.send(m, now);
            self.my_request = Some(OpenRequest { xid, all });
            self.set_timer(
                Timer::UpdateRequest,
                now.instant + self.cfg.update_request_timeout,
            );
        }
    }

    /// Persists the state-machine variables; `announce`: send STATE once the write is acked.
    fn persist_state(&mut self, now: Now) {
        self.persist_state_inner(now, true);
    }

    fn persist_state_inner(&mut self, now: Now, announce: bool) {
        let rec = PersistedEndpointState {
            state: if self.state == State::Startup {
                self.resume_state
            } else {
                self.state
            },
            state_start: self.state_start,
            previous_state: self.previous_state,
            partner_state: self.partner.state,
            partner_state_start: self.partner.state_start,
            partner_down_since: self.partner_down_since,
            last_partner_contact: self.last_contact,
            communicated: self.communicated,
            mclt: self.mclt,
            written_at: now.wall,
        };
        if self.state == State::Startup && !self.had_record {
            // Nothing recorded yet and nothing decided: do not invent a state on disk.
            return;
        }
        if announce {
            let id = self.issue_write(StorageRecord::EndpointState(rec), WriteKind::State);
            self.latest_state_write = Some(id);
            self.state_durable = false;
        } else {
            self.issue_write(StorageRecord::EndpointState(rec), WriteKind::Other);
        }
    }

    fn issue_write(&mut self, record: StorageRecord, kind: WriteKind) -> WriteId {
        let id = WriteId(self.next_write);
        self.next_write = self.next_write.wrapping_add(1);
        self.writes.insert(id.0, kind);
        self.storage_out.push_back(StorageWrite { id, record });
        id
    }

    fn persist_binding(&mut self, r: Resource) -> WriteId {
        let rec = self.bindings.get(&r).cloned();
        self.persist_record(r, rec)
    }

    /// [`persist_binding`](Self::persist_binding) of `rec`, the current binding of `r` (if
    /// any), already at hand.
    fn persist_record(&mut self, r: Resource, rec: Option<Binding>) -> WriteId {
        match rec {
            Some(b) => {
                let known = Known {
                    epoch: self.bindings.epoch(),
                    needs_partner_update: b.needs_partner_update,
                };
                let id = self.issue_write(
                    StorageRecord::Binding(b),
                    WriteKind::Binding { resource: r, known },
                );
                self.latest_write.insert(r, id);
                self.queue.remove(&r);
                id
            }
            None => self.issue_write(
                StorageRecord::Binding(Binding::new(r, BindingStatus::Free, self.last_now.wall)),
                WriteKind::Other,
            ),
        }
    }

    fn requeue_pending(&mut self) {
        let pending: Vec<Resource> = self
            .bindings
            .values()
            .filter(|b| b.needs_partner_update && !self.latest_write.contains_key(&b.resource))
            .map(|b| b.resource)
            .collect();
        self.queue.extend(pending);
    }

    // =====================================================================================
    // Internals: receiving
    // =====================================================================================

    /// What every received message does before its type is looked at: keepalive, last
    /// contact, clock skew. `false` when the connection was dropped for excessive skew.
    fn on_message_received(&mut self, now: Now, msg_type: MessageType, sent_time: u32) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.5
        //# FO_KEEPALIVE_TIMER is reset on every received message
        self.set_timer(Timer::Keepalive, now.instant + self.cfg.keepalive);
        self.last_contact = Some(now.wall);
        // Clock skew, on every message.
        let sent = UnixTime::from_abs_time(sent_time, now.wall);
        let skew = i64::try_from(sent.as_secs())
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(now.wall.as_secs()).unwrap_or(i64::MAX));
        self.skew_secs = Some(skew);
        //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.1
        //# The sent-time from the Failover message is compared with the
        //# current time of the receiving server.  The difference is noted,
        //# and used to affect the time correction.  It MAY be used directly
        //# as the time correction, but it SHOULD instead be used to
        //# have a cumulative effect on the time correction.
        let tol = i64::try_from(self.cfg.skew_tolerance.as_secs()).unwrap_or(i64::MAX);
        // A difference beyond the tolerance drops the connection; it is not folded into the
        // correction, which would otherwise carry a clock error the partner has since fixed
        // into the next connection's updates (sim seed 243332: a primary 28.7 s behind was
        // corrected later; its ABANDONED then looked newer than the secondary's ACTIVE).
        if skew.abs() <= tol {
            self.time_correction = (self.time_correction * 3 + (-skew)) / 4;
        }
        if skew.abs() > tol && msg_type != MessageType::DISCONNECT {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-7.1
            //# If the difference exceeds the tolerance the receiver SHOULD drop the
            //# connection (status ExcessiveTimeSkew).
            self.events
                .push_back(Event::ExcessiveTimeSkew { skew_secs: skew });
            self.disconnect(
                now,
                Status::EXCESSIVE_TIME_SKEW,
                "clock skew beyond tolerance",
                CloseReason::ExcessiveTimeSkew,
            );
            return false;
        }
        true
    }

    fn handle_frame(&mut self, now: Now, frame: &[u8]) {
        // BNDUPD / BNDREPLY of the common shapes skip the owned option tree (see the fast path
        // in `codec`); they get exactly the treatment of the general path below. A BNDREPLY
        // is read only for the answer about the outstanding update's resource.
        if let Some(f) =
            codec::decode_reply_frame(frame, |xid| self.outstanding.get(&xid).map(|o| o.resource))
        {
            if !self.on_message_received(now, MessageType::BNDREPLY, f.sent_time) {
                return;
            }
            match self.conn {
                Conn::Up => {
                    let a = f.answer;
                    self.on_bndreply(now, f.xid, |_| {
                        (a.status.map(|(c, m)| (c, String::from(m))), a.lifetime_sent)
                    });
                }
                c => self.events.push_back(Event::ProtocolViolation {
                    what: format!(
                        "unexpected {:?} in connection phase {c:?}",
                        MessageType::BNDREPLY
                    ),
                }),
            }
            return;
        }
        // Decoded into the vectors of an earlier update whose reply went out (if any).
        let mut upd = self.spare_updates.pop().unwrap_or(UpdateMsg::empty());
        if let Some(f) = codec::decode_update_frame_into(frame, &mut upd) {
            if !self.on_message_received(now, f.msg_type, f.sent_time) {
                self.recycle_update(upd);
                return;
            }
            match (self.conn, f.msg_type, f.body) {
                (Conn::Up, MessageType::BNDUPD, Ok(())) => self.on_bndupd(now, f.xid, Ok(upd)),
                (Conn::Up, MessageType::BNDUPD, Err(e)) => {
                    self.recycle_update(upd);
                    self.on_bndupd(now, f.xid, Err(e));
                }
                (Conn::Up, _, body) => {
                    let (top, body) = (f.top_status, body.ok().map(|()| upd));
                    self.on_bndreply(now, f.xid, |r| codec::reply_answer(top, body, r));
                }
                (c, t, _) => {
                    self.recycle_update(upd);
                    self.events.push_back(Event::ProtocolViolation {
                        what: format!("unexpected {t:?} in connection phase {c:?}"),
                    });
                }
            }
            return;
        }
        self.recycle_update(upd);
        let m = match FailoverMessage::parse(frame) {
            Ok(m) => m,
            Err(e) => {
                self.events.push_back(Event::ProtocolViolation {
                    what: format!("unparseable message: {e}"),
                });
                return;
            }
        };
        if !self.on_message_received(now, m.msg_type, m.sent_time) {
            return;
        }
        match (self.conn, m.msg_type) {
            (_, MessageType::DISCONNECT) => {
                let (status, message) =
                    m.options.status_code().map_or((None, String::new()), |s| {
                        (Some(s.status.0), s.message.clone())
                    });
                self.events
                    .push_back(Event::PartnerDisconnected { status, message });
                self.events.push_back(Event::CloseConnection {
                    reason: CloseReason::PartnerDisconnected,
                });
                if self.cfg.role == Role::Primary {
                    self.retry_delay = (self.retry_delay * 2).min(self.cfg.connect_retry_max);
                }
                //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.2
                //# If a server in NORMAL
                //# state receives a DISCONNECT message from its partner, the server should transition
                //# into COMMUNICATIONS-INTERRUPTED state.
                self.drop_connection(now);
            }
            (Conn::AwaitConnect, MessageType::CONNECT) => self.on_connect(now, &m),
            (Conn::AwaitConnectReply { xid }, MessageType::CONNECTREPLY)
                if xid == m.transaction_id =>
            {
                self.on_connect_reply(now, &m)
            }
            (Conn::Up, MessageType::STATE) => self.on_state(now, &m),
            (Conn::Up, MessageType::CONTACT) => {}
            (Conn::Up, MessageType::BNDUPD) => {
                self.on_bndupd(now, m.transaction_id, codec::parse_update(&m.options));
            }
            (Conn::Up, MessageType::BNDREPLY) => {
                let top = m
                    .options
                    .status_code()
                    .map(|s| (s.status.0, s.message.clone()));
                let body = codec::parse_update(&m.options).ok();
                self.on_bndreply(now, m.transaction_id, |r| codec::reply_answer(top, body, r));
            }
            (Conn::Up, MessageType::UPDREQ | MessageType::UPDREQALL) => self.on_updreq(now, &m),
            (Conn::Up, MessageType::UPDDONE) => self.on_upddone(now, &m),
            (Conn::Up, MessageType::POOLREQ) => self.on_poolreq(now, &m),
            (Conn::Up, MessageType::POOLRESP) => {}
            (c, t) => self.events.push_back(Event::ProtocolViolation {
                what: format!("unexpected {t:?} in connection phase {c:?}"),
            }),
        }
    }

    fn on_connect(&mut self, now: Now, m: &FailoverMessage) {
        let o = &m.options;
        let reject = |e: &mut Self, status: Status, reason: String| {
            let mut r = e.msg(MessageType::CONNECTREPLY, m.transaction_id, now);
            r.options.push(DhcpOption::StatusCode(StatusCode::new(
                status,
                reason.clone(),
            )));
            e.send(r, now);
            e.events.push_back(Event::ConnectRejected {
                status: status.0,
                reason,
                by_partner: false,
            });
            e.events.push_back(Event::CloseConnection {
                reason: CloseReason::Rejected,
            });
            e.drop_connection(now);
        };
        let version = o.iter().find_map(|x| match x {
            DhcpOption::ProtocolVersion(v) => Some(*v),
            _ => None,
        });
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
        //# If the protocol version is unsupported, the secondary rejects the CONNECT
        //# with status NotSupported.
        match version {
            Some(v) if v.major == PROTOCOL_VERSION.0 => {}
            Some(v) => {
                return reject(
                    self,
                    Status::NOT_SUPPORTED,
                    format!("protocol version {}.{} not supported", v.major, v.minor),
                );
            }
            None => {
                return reject(
                    self,
                    Status::NOT_SUPPORTED,
                    "no OPTION_F_PROTOCOL_VERSION".to_string(),
                );
            }
        }
        let name = o.iter().find_map(|x| match x {
            DhcpOption::RelationshipName(n) => Some(n.clone()),
            _ => None,
        });
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.2
        //# A CONNECT without OPTION_F_RELATIONSHIP_NAME means the only relationship
        //# between these two servers.
        if name.unwrap_or_default() != self.cfg.relationship_name {
            return reject(
                self,
                Status::CONFIGURATION_CONFLICT,
                "unknown relationship name".to_string(),
            );
        }
        let (Some(mclt), Some(keepalive), Some(max_unacked)) = (
            codec::find_u32(o, OptionCode::F_MCLT),
            codec::find_u32(o, OptionCode::F_KEEPALIVE_TIME),
            codec::find_u32(o, OptionCode::F_MAX_UNACKED_BNDUPD),
        ) else {
            return reject(
                self,
                Status::UNSPEC_FAIL,
                "CONNECT lacks MCLT, KEEPALIVE_TIME or MAX_UNACKED_BNDUPD".to_string(),
            );
        };
        if u64::from(mclt) < mclt::MIN_LEASE.as_secs() || keepalive == 0 || max_unacked == 0 {
            return reject(
                self,
                Status::UNSPEC_FAIL,
                "zero or too small MCLT / keepalive / window".to_string(),
            );
        }
        let flags = o.iter().find_map(|x| match x {
            DhcpOption::ConnectFlags(f) => Some(*f),
            _ => None,
        });
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
        //# The secondary rejects a CONNECT whose capabilities (OPTION_F_CONNECT_FLAGS) it
        //# cannot honour.
        let fixed = flags.unwrap_or(0) & dhcpv6_wire::codes::connect_flags::FIXED_PD_LENGTH != 0;
        if fixed != self.cfg.fixed_prefix_length {
            return reject(
                self,
                Status::CONFIGURATION_CONFLICT,
                "fixed-prefix-length (F) flag differs".to_string(),
            );
        }
        let diff = self.fingerprint_mismatch(o);
        if !diff.is_empty() {
            let reason = format!("pool configuration differs: {}", diff.join(", "));
            self.events
                .push_back(Event::ConfigurationMismatch { parts: diff });
            return reject(self, Status::CONFIGURATION_CONFLICT, reason);
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
        //# The secondary adopts the primary's MCLT.
        self.mclt = Duration::from_secs(u64::from(mclt));
        self.partner_keepalive = Duration::from_secs(u64::from(keepalive));
        self.partner_max_unacked = max_unacked;
        let mut r = self.msg(MessageType::CONNECTREPLY, m.transaction_id, now);
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
        //# The MCLT in an accepting CONNECTREPLY must equal the value received.
        self.push_config_options(&mut r.options, Some(mclt));
        self.send(r, now);
        self.established(now);
    }

    fn on_connect_reply(&mut self, now: Now, m: &FailoverMessage) {
        let o = &m.options;
        if let Some(s) = o.status_code()
            && s.status != Status::SUCCESS
        {
            self.events.push_back(Event::ConnectRejected {
                status: s.status.0,
                reason: s.message.clone(),
                by_partner: true,
            });
            self.events.push_back(Event::CloseConnection {
                reason: CloseReason::Rejected,
            });
            //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
            //# After a rejection it should back off but must keep retrying.
            self.retry_delay = (self.retry_delay * 2).min(self.cfg.connect_retry_max);
            self.drop_connection(now);
            return;
        }
        let fail = |e: &mut Self, status: Status, reason: String| {
            e.events.push_back(Event::ConnectRejected {
                status: status.0,
                reason: reason.clone(),
                by_partner: false,
            });
            e.retry_delay = (e.retry_delay * 2).min(e.cfg.connect_retry_max);
            e.disconnect(now, status, &reason, CloseReason::Rejected);
        };
        let version = o.iter().find_map(|x| match x {
            DhcpOption::ProtocolVersion(v) => Some(*v),
            _ => None,
        });
        if version.is_none_or(|v| v.major != PROTOCOL_VERSION.0) {
            return fail(
                self,
                Status::NOT_SUPPORTED,
                "partner protocol version not supported".to_string(),
            );
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
        //# If the MCLT in the CONNECTREPLY differs from its configured value the
        //# primary disconnects.
        let our = u32::try_from(self.mclt.as_secs()).unwrap_or(u32::MAX);
        if codec::find_u32(o, OptionCode::F_MCLT) != Some(our) {
            return fail(
                self,
                Status::CONFIGURATION_CONFLICT,
                "MCLT in CONNECTREPLY differs".to_string(),
            );
        }
        let flags = o.iter().find_map(|x| match x {
            DhcpOption::ConnectFlags(f) => Some(*f),
            _ => None,
        });
        let fixed = flags.unwrap_or(0) & dhcpv6_wire::codes::connect_flags::FIXED_PD_LENGTH != 0;
        if fixed != self.cfg.fixed_prefix_length {
            return fail(
                self,
                Status::CONFIGURATION_CONFLICT,
                "fixed-prefix-length (F) flag differs".to_string(),
            );
        }
        let diff = self.fingerprint_mismatch(o);
        if !diff.is_empty() {
            let reason = format!("pool configuration differs: {}", diff.join(", "));
            self.events
                .push_back(Event::ConfigurationMismatch { parts: diff });
            return fail(self, Status::CONFIGURATION_CONFLICT, reason);
        }
        let (Some(keepalive), Some(max_unacked)) = (
            codec::find_u32(o, OptionCode::F_KEEPALIVE_TIME),
            codec::find_u32(o, OptionCode::F_MAX_UNACKED_BNDUPD),
        ) else {
            return fail(
                self,
                Status::UNSPEC_FAIL,
                "CONNECTREPLY lacks KEEPALIVE_TIME or MAX_UNACKED_BNDUPD".to_string(),
            );
        };
        self.partner_keepalive = Duration::from_secs(u64::from(keepalive.max(1)));
        self.partner_max_unacked = max_unacked.max(1);
        self.retry_delay = self.cfg.connect_retry;
        self.established(now);
    }

    /// Handshake done: both sides send STATE.
    fn established(&mut self, now: Now) {
        self.conn = Conn::Up;
        self.partner.state_received = false;
        //= https://www.rfc-editor.org/rfc/rfc8156#section-5.5.15
        //# C = COMMUNICATED: the sender has talked to this partner before.
        self.c_flag = self.communicated;
        self.events.push_back(Event::Connected);
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
        //# On accept, both sides send STATE.
        if self.latest_state_write.is_none() && self.state_durable {
            self.send_state(now);
        }
    }

    fn on_state(&mut self, now: Now, m: &FailoverMessage) {
        let o = &m.options;
        let state = o.iter().find_map(|x| match x {
            DhcpOption::ServerState(s) => State::from_u8(s.0),
            _ => None,
        });
        let Some(pstate) = state else {
            self.events.push_back(Event::ProtocolViolation {
                what: "STATE without a known OPTION_F_SERVER_STATE".to_string(),
            });
            return;
        };
        let flags = o
            .iter()
            .find_map(|x| match x {
                DhcpOption::ServerFlags(f) => Some(*f),
                _ => None,
            })
            .unwrap_or(0);
        let start =
            codec::find_u32(o, OptionCode::F_START_TIME_OF_STATE).map(|t| self.correct(t, now));
        let pd_time =
            codec::find_u32(o, OptionCode::F_PARTNER_DOWN_TIME).map(|t| self.correct(t, now));
        let startup = flags & dhcpv6_wire::codes::server_flags::STARTUP != 0;
        self.partner.state = Some(pstate);
        self.partner.state_start = start;
        self.partner.flags = flags;
        //= https://www.rfc-editor.org/rfc/rfc8156#section-6.4
        //# if partner state is not PARTNER-DOWN forget any stored partner-down-time
        if pstate == State::PartnerDown {
            self.partner_was_down = true;
        }
        self.partner.down_time = if pstate == State::PartnerDown {
            pd_time
        } else {
            None
        };
        self.partner.state_received = true;
        self.events.push_back(Event::PartnerStateChanged {
            state: pstate,
            startup,
        });
        self.clear_timer(Timer::UpdateRequest);
        if self.my_request.is_some() {
            self.set_timer(
                Timer::UpdateRequest,
                now.instant + self.cfg.update_request_timeout,
            );
        }
        if self.state == State::Startup {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
            //# When and if communications become "OK", clear the STARTUP
            //# flag, and set the current state to the PREVIOUS-STATE.
            let next =
                state::startup_comm_ok(self.resume_state, pstate, start, self.last_operating);
            self.note_communicated(next);
            self.enter_state(now, next);
            // enter_state sent nothing yet (the STATE waits for its write); the partner
            // learns our state when the write is acknowledged.
        } else {
            self.note_communicated(self.state);
            //= https://www.rfc-editor.org/rfc/rfc8156#section-6.4
            //# store flags, start-time-of-state, partner-down-time; persist
            self.persist_state_inner(now, false);
        }
        self.apply(
            now,
            FsmEvent::PartnerState {
                partner: pstate,
                startup,
            },
        );
        self.after_comm_ok_actions(now);
        self.pump_updates(now);
    }

    /// Records that we have talked to the partner (the C flag of later connections, and the
    /// "record of ever having talked to its partner" of §8.5.2), except in RECOVER: a server
    /// rebuilding a lost database has no such record until its UPDREQALL is answered. Had a
    /// STATE in RECOVER set it, a restart before the UPDDONE (the bindings half rebuilt, or
    /// not at all) would send UPDREQ and never learn the leases the partner had already
    /// acked (sim seed 964732: the secondary lost its database, restarted into RECOVER without
    /// contact, crashed again, asked UPDREQ after the second restart and refused a client
    /// its partner knew).
    fn note_communicated(&mut self, state: State) {
        if state != State::Recover {
            self.communicated = true;
        }
    }

    /// Converts a partner absolute time to our clock (skew-corrected).
    fn correct(&self, abs: u32, now: Now) -> UnixTime {
        let t = UnixTime::from_abs_time(abs, now.wall);
        if self.time_correction >= 0 {
            t + Duration::from_secs(self.time_correction.unsigned_abs())
        } else {
            t - Duration::from_secs(self.time_correction.unsigned_abs())
        }
    }

    fn raw(&self, abs: u32, now: Now) -> UnixTime {
        UnixTime::from_abs_time(abs, now.wall)
    }

    fn on_bndupd(&mut self, now: Now, xid: u32, upd: Result<UpdateMsg, &'static str>) {
        if self.my_request.is_some() {
            // Progress on our UPDREQ: keep the connection.
            self.set_timer(
                Timer::UpdateRequest,
                now.instant + self.cfg.update_request_timeout,
            );
        }
        let upd = match upd {
            Ok(u) => u,
            Err(what) => {
                //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5
                //# if there is insufficient information in the OPTION_CLIENT_DATA to process
                //# it, then reject the OPTION_CLIENT_DATA with "MissingBindingInformation".
                let mut r = self.msg(MessageType::BNDREPLY, xid, now);
                r.options.push(DhcpOption::StatusCode(StatusCode::new(
                    Status::MISSING_BINDING_INFORMATION,
                    what,
                )));
                self.send(r, now);
                return;
            }
        };
        let mut slots = Few::default();
        let reply_id = self.next_reply;
        self.next_reply = self.next_reply.wrapping_add(1);
        let mut replies = Few::default();
        // The client key is built in a buffer kept across updates (no allocation per update).
        let mut client_buf = core::mem::replace(
            &mut self.scratch_client,
            ClientKey {
                duid: Vec::new(),
                iaid: 0,
            },
        );
        let mut writes = 0usize;
        let mut whole = None;
        match &upd {
            UpdateMsg::Client {
                duid,
                base_time,
                vss,
                ias,
                ..
            } => {
                if vss.as_ref().is_some_and(|v| v.vss_type != 255) {
                    //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5
                    //# VSS names an unknown VPN: reject with ConfigurationConflict.
                    whole = Some((
                        Status::CONFIGURATION_CONFLICT,
                        "VPN (OPTION_VSS) not supported".to_string(),
                    ));
                } else if duid.is_none() || base_time.is_none() || ias.is_empty() {
                    whole = Some((
                        Status::MISSING_BINDING_INFORMATION,
                        "CLIENT_DATA lacks CLIENTID, LQ_BASE_TIME or an IA".to_string(),
                    ));
                }
                let base = base_time.map(|b| (self.raw(b, now), self.correct(b, now)));
                for ia in ias {
                    for l in &ia.leases {
                        if whole.is_some() {
                            replies.push(LeaseReply { status: None });
                            continue;
                        }
                        let client = duid.as_ref().map(|d| {
                            client_buf.duid.clear();
                            client_buf.duid.extend_from_slice(d);
                            client_buf.iaid = ia.iaid;
                            &client_buf
                        });
                        let (reply, wrote) =
                            self.apply_lease(now, l, client, base, Some((ia.t1, ia.t2)), reply_id);
                        if let (Some(r), true) = (l.resource, wrote) {
                            slots.push((r, replies.len()));
                            writes += 1;
                        }
                        replies.push(reply);
                    }
                }
            }
            UpdateMsg::Prefix {
                base_time,
                vss,
                lease,
            } => {
                if vss.as_ref().is_some_and(|v| v.vss_type != 255) {
                    whole = Some((
                        Status::CONFIGURATION_CONFLICT,
                        "VPN (OPTION_VSS) not supported".to_string(),
                    ));
                    replies.push(LeaseReply { status: None });
                } else {
                    let base = base_time.map(|b| (self.raw(b, now), self.correct(b, now)));
                    let (reply, wrote) = self.apply_lease(now, lease, None, base, None, reply_id);
                    if let (Some(r), true) = (lease.resource, wrote) {
                        slots.push((r, replies.len()));
                        writes += 1;
                    }
                    replies.push(reply);
                }
            }
        }
        self.scratch_client = client_buf;
        if writes == 0 {
            self.send_bndreply(now, xid, &upd, replies.as_slice(), whole);
            self.recycle_update(upd);
        } else {
            self.replies.insert(
                reply_id,
                PendingReply {
                    remaining: writes,
                    xid,
                    upd,
                    replies,
                    slots,
                },
            );
        }
    }

    /// Decides and (if accepted) applies one lease of a BNDUPD. Returns the reply and whether
    /// a storage write was issued for it.
    fn apply_lease(
        &mut self,
        now: Now,
        l: &LeaseMsg,
        client: Option<&ClientKey>,
        base: Option<(UnixTime, UnixTime)>,
        ia_times: Option<(u32, u32)>,
        reply_id: u64,
    ) -> (LeaseReply, bool) {
        let rej = |s: Status, t: &str| {
            (
                LeaseReply {
                    status: Some((s, t.to_string())),
                },
                false,
            )
        };
        let Some(resource) = l.resource else {
            return rej(Status::MISSING_BINDING_INFORMATION, "no resource");
        };
        let Some(status) = l.status.and_then(BindingStatus::from_u8) else {
            return rej(
                Status::MISSING_BINDING_INFORMATION,
                "no or unknown OPTION_F_BINDING_STATUS",
            );
        };
        if l.start_time_of_state.is_none() {
            return rej(
                Status::MISSING_BINDING_INFORMATION,
                "no OPTION_F_START_TIME_OF_STATE",
            );
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.3
        //# If the resource specified in the OPTION_CLIENT_DATA is not
        //# a resource associated with the failover endpoint which received
        //# the OPTION_CLIENT_DATA option, then reject it with reject-reason
        //# "ConfigurationConflict".
        if !self.cfg.pools.contains(&resource) {
            return rej(
                Status::CONFIGURATION_CONFLICT,
                "resource not governed by this relationship",
            );
        }
        if status == BindingStatus::Active && client.is_none() {
            return rej(
                Status::MISSING_BINDING_INFORMATION,
                "ACTIVE lease without a client",
            );
        }
        let corr = |e: &Self, t: u32| e.correct(t, now);
        let start = l.start_time_of_state.map(|t| corr(self, t));
        // CLT_TIME is relative to the base time; the comparison uses the corrected base, the
        // stored partner-raw-clt-time the raw one.
        let clt_corrected = match (l.clt, base) {
            (Some(c), Some((_, b))) => Some(b - Duration::from_secs(u64::from(c))),
            _ => None,
        };
        let clt_raw = match (l.clt, base) {
            (Some(c), Some((r, _))) => Some(r - Duration::from_secs(u64::from(c))),
            _ => None,
        };
        // One binding-table lookup for the whole update (the hot path of every lazy update
        // and of UPDREQALL): the decision, the merge below and the apply use its result.
        let found = self.bindings.find(&resource);
        let local = found
            .and_then(|id| self.bindings.slot_at(id))
            .map(|s| &s.binding);
        let decision = {
            let lv = local.map(|b| LocalView {
                status: b.status,
                clt: b.client_last_transaction_time,
                start_time_of_state: b.start_time_of_state,
                state_expiration_time: b.state_expiration_time,
                client: b.client.as_ref(),
            });
            let uv = UpdateView {
                status,
                clt: clt_corrected,
                start_time_of_state: start,
                state_expiration_time: l
                    .state_expiration_time
                    .map(|t| corr_time(t, now, self.time_correction)),
                client,
            };
            let d = conflict::resolve(
                lv.as_ref(),
                &uv,
                now.wall,
                self.cfg.role,
                self.cfg.skew_tolerance,
            );
            // The same client's ACTIVE lease granted by both servers (a Rebind both answered):
            // the client may hold either Reply, so the later expiry is kept whichever record
            // is newer (sim seed 213402). An older update that extends the expiry is taken.
            match (lv, d) {
                (Some(lv), Decision::Reject(RejectReason::Outdated))
                    if lv.status == BindingStatus::Active
                        && status == BindingStatus::Active
                        && lv.client.is_some()
                        && lv.client == client
                        && uv.state_expiration_time > lv.state_expiration_time =>
                {
                    Decision::Accept
                }
                _ => d,
            }
        };
        // Whether the local binding (if any) has the update's client (both absent counts as
        // the same): compared once here, the apply below asks it three times.
        let local_client = local.and_then(|b| b.client.as_ref());
        let same_client = local_client == client;
        // For that merge: the local expiry of the same client's running lease.
        let same_client_expiry = local
            .filter(|b| {
                b.status == BindingStatus::Active
                    && status == BindingStatus::Active
                    && local_client.is_some()
                    && same_client
            })
            .and_then(|b| b.state_expiration_time);
        match decision {
            Decision::Reject(reason) => {
                let (st, text) = match reason {
                    RejectReason::Outdated => (
                        Status::OUTDATED_BINDING_INFORMATION,
                        "receiver has newer information",
                    ),
                    RejectReason::AddressInUse => {
                        (Status::ADDRESS_IN_USE, "bound to a different client")
                    }
                    RejectReason::ConfigurationConflict => {
                        (Status::CONFIGURATION_CONFLICT, "not governed")
                    }
                    RejectReason::MissingBindingInformation => {
                        (Status::MISSING_BINDING_INFORMATION, "no time to compare")
                    }
                };
                if reason == RejectReason::AddressInUse {
                    self.conflicts = self.conflicts.saturating_add(1);
                    self.events.push_back(Event::Conflict {
                        resource,
                        reported_by_partner: false,
                    });
                }
                //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.4
                //# After rejecting with OutdatedBindingInformation the receiver sets its
                //# "partner needs update" flag for that lease; if the flag was clear it
                //# MAY send its own BNDUPD right away
                if matches!(reason, RejectReason::Outdated | RejectReason::AddressInUse)
                    && let Some(id) = found
                    && let Some(slot) = self.bindings.slot_at_mut(id)
                    && let b = &mut slot.binding
                    && !b.needs_partner_update
                {
                    b.needs_partner_update = true;
                    if !self.latest_write.contains_key(&resource) {
                        self.queue.insert(resource);
                    }
                }
                rej(st, text)
            }
            Decision::Accept => {
                let w = now.wall;
                let previous = local.cloned();
                let slot = self
                    .bindings
                    .slot_or_insert_with(resource, || Binding::new(resource, status, w));
                // The binding changes: a new sequence number (as `bump`), on the record at hand.
                slot.seq = slot.seq.wrapping_add(1);
                let b = &mut slot.binding;
                b.status = status;
                b.start_time_of_state = start.unwrap_or(w);
                b.state_expiration_time = l
                    .state_expiration_time
                    .map(|t| corr_time(t, now, self.time_correction));
                //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.5
                //# OPTION_F_PARTNER_LIFETIME is stored in the expiration-time.
                if let Some(p) = l.partner_lifetime {
                    b.expiration_time = Some(corr_time(p, now, self.time_correction));
                }
                //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.5
                //# OPTION_CLT_TIME (which MUST NOT be converted with the
                //# corrected-base-time, but must be converted with the raw
                //# value from the OPTION_LQ_BASE_TIME) is stored
                //# in the partner-raw-clt-time
                if clt_raw.is_some() {
                    b.partner_raw_clt_time = clt_raw;
                }
                //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.5
                //# OPTION_F_PARTNER_RAW_CLT_TIME (which MUST NOT be corrected with
                //# the time-correction)
                //# replaces the client-last-transaction-time if it is later
                //# than the current client-last-transaction-time.
                if let Some(raw) = l
                    .partner_raw_clt
                    .map(|t| UnixTime::from_abs_time(t, now.wall))
                    && b.client_last_transaction_time.is_none_or(|c| raw > c)
                {
                    b.client_last_transaction_time = Some(raw);
                }
                // The partner's expiration-time is what it acked to us: our acked lifetime.
                if let Some(e) = l
                    .expiration_time
                    .map(|t| corr_time(t, now, self.time_correction))
                    && b.acked_partner_lifetime.is_none_or(|a| e > a)
                {
                    b.acked_partner_lifetime = Some(e);
                }
                b.preferred_lifetime = Duration::from_secs(u64::from(l.preferred));
                b.valid_lifetime = Duration::from_secs(u64::from(l.valid));
                if let Some((t1, t2)) = ia_times {
                    b.t1 = Duration::from_secs(u64::from(t1));
                    b.t2 = Duration::from_secs(u64::from(t2));
                }
                // `b.client` is still the local client (none in a new binding).
                if client.is_some() && !same_client {
                    b.client = client.cloned();
                }
                if l.fqdn.is_some() {
                    b.fqdn = l.fqdn.clone();
                }
                if l.dns.is_some() {
                    b.dns_removal = l.dns.clone();
                }
                b.partner_lifetime = None;
                b.needs_partner_update = false;
                // Never shorten the same client's lease (B9 across servers): keep our later
                // expiry, and tell the partner about it once this write is durable.
                if let Some(e) = same_client_expiry
                    && b.state_expiration_time.is_none_or(|u| u < e)
                {
                    b.state_expiration_time = Some(e);
                    b.needs_partner_update = true;
                }
                let rec = b.clone();
                self.queue.remove(&resource);
                self.takeback.remove(&resource);
                let old_client = previous.as_ref().and_then(|b| b.client.as_ref());
                // `previous` is the local binding: its client is `local_client`.
                let client_changed = !same_client;
                if let Some(old) = old_client
                    && client_changed
                {
                    self.by_client.remove(old, resource.kind(), &resource);
                }
                if let Some(c) = client
                    && client_changed
                {
                    self.by_client.insert(c, resource.kind(), resource);
                }
                if l.dns.is_some() && !self.cfg.dns_update_supported {
                    //= https://www.rfc-editor.org/rfc/rfc8156#section-9
                    //# a non-DNS-updating server SHOULD warn on receiving DNS info
                    self.events
                        .push_back(Event::DnsInfoWithoutDnsSupport { resource });
                }
                self.events.push_back(Event::BindingUpdated { resource });
                // `rec` is the binding as the table holds it now.
                let known = Known {
                    epoch: self.bindings.epoch(),
                    needs_partner_update: rec.needs_partner_update,
                };
                let id = self.issue_write(
                    StorageRecord::Binding(rec),
                    WriteKind::PartnerUpdate {
                        resource,
                        reply: reply_id,
                        known,
                    },
                );
                if let Some(p) = previous {
                    self.undo.insert(id.0, p);
                }
                self.latest_write.insert(resource, id);
                (LeaseReply { status: None }, true)
            }
        }
    }

    /// Puts back the binding an accepted partner update replaced (its write failed).
    fn revert_binding(&mut self, resource: Resource, previous: Option<Binding>) {
        if let Some(c) = self.bindings.get(&resource).and_then(|b| b.client.as_ref()) {
            self.by_client.remove(c, resource.kind(), &resource);
        }
        match previous {
            Some(b) => {
                if let Some(c) = &b.client {
                    self.by_client.insert(c, resource.kind(), resource);
                }
                self.bindings.insert(resource, b);
            }
            None => {
                self.bindings.remove(&resource);
            }
        }
        self.bump(resource);
        self.events.push_back(Event::BindingUpdated { resource });
    }

    fn send_bndreply(
        &mut self,
        now: Now,
        xid: u32,
        upd: &UpdateMsg,
        replies: &[LeaseReply],
        whole: Option<(Status, String)>,
    ) {
        if self.conn != Conn::Up {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-7.6
        //# The BNDREPLY message MUST have the same xid
        //# as the BNDUPD message to which it is a response.
        if let Some(bytes) =
            codec::encode_bndreply_frame(xid, now.wall, upd, replies, whole.as_ref())
        {
            self.send_frame(bytes, now);
            return;
        }
        let mut r = self.msg(MessageType::BNDREPLY, xid, now);
        if let Some(body) = codec::bndreply_body(upd, replies, whole) {
            r.options.push(body);
        }
        self.send(r, now);
    }

    /// A BNDREPLY: its transaction id, its first top-level OPTION_STATUS_CODE and its body (if
    /// one could be read).
    /// A BNDREPLY for `xid`; `answer` gives, for the outstanding update's resource, the
    /// deciding status and the lease's partner-lifetime-sent (see `codec::reply_answer`).
    fn on_bndreply(
        &mut self,
        now: Now,
        xid: u32,
        answer: impl FnOnce(Resource) -> (Option<(u16, String)>, Option<u32>),
    ) {
        let Some(out) = self.outstanding.remove(&xid) else {
            self.events.push_back(Event::ProtocolViolation {
                what: format!("BNDREPLY for unknown xid {xid:#08x}"),
            });
            return;
        };
        self.outstanding_res.remove(&out.resource);
        let resource = out.resource;
        // The lease-level answer about our resource (or the whole-update status).
        let (status, lifetime_sent) = answer(resource);
        let accepted = codec::is_success(&status);
        // Whether the binding is still the one the BNDUPD carried (its sequence number is
        // unchanged). An accepted reply that is no take-back reads it from the record it
        // updates (one table search for both); the other cases read it here.
        let mut unchanged = false;
        let reads_slot = accepted && !self.takeback.contains(&resource);
        if !reads_slot {
            unchanged = self.bindings.seq(&resource) == out.seq;
        }
        // The binding's flag as last read, if this reply wrote it (see `owes_update`).
        let mut known = None;
        if !accepted {
            let (code, text) = status.unwrap_or((Status::UNSPEC_FAIL.0, String::new()));
            self.rejected = self.rejected.saturating_add(1);
            if code == Status::ADDRESS_IN_USE.0 {
                self.conflicts = self.conflicts.saturating_add(1);
                self.events.push_back(Event::Conflict {
                    resource,
                    reported_by_partner: true,
                });
            }
            self.events.push_back(Event::UpdateRejected {
                resource,
                status: code,
                message: text,
            });
            // Outdated / conflict / config: retrying will not help; the partner sends its
            // own update. Anything else (UnspecFail, storage trouble) is retried by the rescan.
            let permanent = [
                Status::OUTDATED_BINDING_INFORMATION.0,
                Status::ADDRESS_IN_USE.0,
                Status::CONFIGURATION_CONFLICT.0,
                Status::MISSING_BINDING_INFORMATION.0,
            ]
            .contains(&code);
            // A take-back the secondary refused for good (it delegated the prefix) is
            // abandoned; one that failed for a transient reason stays pending for the rescan.
            if permanent {
                self.takeback.remove(&resource);
            }
            if permanent
                && unchanged
                && let Some(b) = self.bindings.get_mut(&resource)
            {
                b.needs_partner_update = false;
            }
        } else {
            let w = now.wall;
            let mode = self.mode_of(&resource);
            let mut write = false;
            // The record to write, when the branch below already holds the binding.
            let mut written = None;
            if self.takeback.remove(&resource) {
                // The secondary gave the prefix back: it is the primary's again.
                let b = self.bindings.get_or_insert_with(resource, || {
                    Binding::new(resource, BindingStatus::Free, w)
                });
                b.status = BindingStatus::Free;
                b.client = None;
                b.start_time_of_state = w;
                b.needs_partner_update = false;
                write = true;
            } else if let Some(s) = self.bindings.slot_mut(&resource) {
                unchanged = s.seq == out.seq;
                let b = &mut s.binding;
                //= https://www.rfc-editor.org/rfc/rfc8156#section-7.7
                //# OPTION_F_PARTNER_LIFETIME_SENT is stored in the
                //# acked-partner-lifetime; partner-lifetime is set to 0.
                if let Some(t) = lifetime_sent.map(|t| UnixTime::from_abs_time(t, w))
                    && b.acked_partner_lifetime.is_none_or(|a| t > a)
                {
                    b.acked_partner_lifetime = Some(t);
                    write = true;
                }
                if unchanged {
                    b.partner_lifetime = None;
                    b.needs_partner_update = false;
                    write = true;
                    //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2.1
                    //# When the sending server received the ack for that resource
                    //# showing it EXPIRED or RELEASED, it moves to PENDING-FREE and then
                    //# to FREE or FREE-BACKUP.
                    if out.sent_status.awaits_ack_before_free() && b.status == out.sent_status {
                        // A partner that lost its database acks without knowing what it granted
                        // before: it may have extended this lease up to MCLT beyond what we
                        // acked to it. Hold the resource until that has passed (regression:
                        // simulation seed 3478).
                        let hold = self
                            .partner_db_lost_at
                            .map(|lost| b.expiration_time.map_or(lost, |e| e.max(lost)) + self.mclt)
                            .filter(|h| *h > w);
                        if let Some(h) = hold {
                            self.hold_free.insert(resource, h);
                        } else {
                            b.status = pending_free_destination(mode);
                            b.start_time_of_state = w;
                            b.needs_partner_update = true;
                        }
                    }
                }
                if write {
                    // A status change after the ack must be announced again: a new
                    // sequence number (on the record at hand, as below).
                    if unchanged && s.binding.needs_partner_update {
                        s.seq = s.seq.wrapping_add(1);
                    }
                    written = Some(Some(s.binding.clone()));
                }
            } else {
                unchanged = self.bindings.seq(&resource) == out.seq;
            }
            if write {
                // A status change after the ack must be announced again: a new sequence
                // number. Then the record is written (one table search for both).
                let rec = match written {
                    Some(rec) => rec,
                    None => self.bindings.slot_mut(&resource).map(|s| {
                        if unchanged && s.binding.needs_partner_update {
                            s.seq = s.seq.wrapping_add(1);
                        }
                        s.binding.clone()
                    }),
                };
                known = Some(Known {
                    epoch: self.bindings.epoch(),
                    needs_partner_update: rec.as_ref().is_some_and(|b| b.needs_partner_update),
                });
                self.persist_record(resource, rec);
            }
        }
        // The answer to an UPDREQ/UPDREQALL is complete for this resource only if the partner
        // acked its current record: one changed while this BNDUPD was in flight goes again
        // before UPDDONE (sim seed 97310: an EXPIRED sent just before the UPDREQALL arrived was
        // acked after the record had become ACTIVE, and UPDDONE followed without it).
        // Nor is it complete when the partner rejected the update for a passing reason (its
        // storage write failed: UnspecFail): the lease stays owed, the rescan sends it again,
        // and UPDDONE waits for that (sim seeds 20002, 313529: a recovering primary went
        // RECOVER-WAIT → NORMAL without the lease and gave it to another client).
        if self.serving.is_some() {
            let owed = match known {
                Some(k) => self.owes_update(&resource, k),
                None => self
                    .bindings
                    .get(&resource)
                    .is_some_and(|b| b.needs_partner_update),
            };
            if (unchanged && accepted) || !owed {
                self.serving_left.remove(&resource);
            } else if !unchanged && !self.latest_write.contains_key(&resource) {
                self.queue.insert(resource);
            }
        }
        self.maybe_upddone(now);
        self.pump_updates(now);
    }

    fn on_updreq(&mut self, now: Now, m: &FailoverMessage) {
        let all = m.msg_type == MessageType::UPDREQALL;
        if all && self.c_flag {
            // We had talked to the partner before and it asks for everything: it lost its
            // stable storage: its acks of EXPIRED/RELEASED say nothing
            // about leases it extended before the loss.
            self.partner_db_lost_at = Some(now.wall);
            self.keep_partner_grants_active(now);
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
        //# UPDREQ ⇒ responder sends BNDUPD for every lease whose "needs update" flag is
        //# set; UPDREQALL ⇒ responder sends its entire binding DB.
        // One pass over the table (in resource order) picks the set and, for UPDREQALL, flags
        // every binding in it; the queue takes the set in one sorted merge.
        let mut picked = Vec::new();
        self.bindings.for_each_mut(|b| {
            if (all || b.needs_partner_update)
                && (b.client.is_some() || matches!(b.resource, Resource::Prefix { .. }))
            {
                if all {
                    b.needs_partner_update = true;
                }
                picked.push(b.resource);
            }
        });
        let set: BTreeSet<Resource> = picked.into_iter().collect();
        let mut add: BTreeSet<Resource> = set
            .iter()
            .filter(|r| !self.latest_write.contains_key(r))
            .copied()
            .collect();
        self.queue.append(&mut add);
        self.serving = Some(OpenRequest {
            xid: m.transaction_id,
            all,
        });
        self.serving_left = set;
        // Resources already in flight count as sent; their replies complete the request.
        self.maybe_upddone(now);
        self.pump_updates(now);
    }

    /// The partner lost its database and asks for ours (UPDREQALL). Before that loss it may
    /// have renewed leases up to the MCLT beyond the lifetime we had acked to it (our
    /// expiration-time), and neither side remembers those renewals now. A lease bound to a
    /// client here (ACTIVE, or EXPIRED with the client still known) whose expiration-time (or
    /// partner-lifetime sent / acked-partner-lifetime, the base of its renewals in
    /// COMMUNICATIONS-INTERRUPTED: B20) plus the MCLT is still ahead is therefore kept ACTIVE
    /// for that client until then, and sent so
    /// in the UPDREQALL answer: the client's Renew finds its lease at either server, and
    /// neither reuses it early. Sim finding B10 (seeds 11405, 50909); a protocol choice recorded
    /// in docs/design/failover-choices.md. ACTIVE leases also carry again, as partner-lifetime,
    /// the lifetime the partner had acked to us before its loss.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.1
    //# the
    //# lease interval given to a DHCP client can never be more than the
    //# MCLT greater than the most recently received
    //# potential-expiration-time from the failover partner or the current time,
    //# whichever is later.
    fn keep_partner_grants_active(&mut self, now: Now) {
        let w = now.wall;
        let mclt = self.mclt;
        let mut changed = Vec::new();
        self.bindings.for_each_mut(|b| {
            if b.client.is_none()
                || !matches!(b.status, BindingStatus::Active | BindingStatus::Expired)
            {
                return;
            }
            // In COMMUNICATIONS-INTERRUPTED the partner could also extend to the MCLT beyond
            // the partner-lifetime it received from us (§8.9.1), so what we sent counts too
            // (sim seed 558591: the primary extended our lease in COMMUNICATIONS-INTERRUPTED
            // and lost its database before we heard of it).
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.1
            //# the renewal period MUST NOT
            //# exceed the maximum client lead time (MCLT) beyond the latest
            //# of: 1) the potential valid lifetime already acknowledged by
            //# the other server, or 2) now, or 3) the potential valid lifetime
            //# received from the partner server.
            let Some(until) = [
                b.expiration_time,
                b.partner_lifetime,
                b.acked_partner_lifetime,
            ]
            .into_iter()
            .flatten()
            .max()
            .map(|e| e + mclt) else {
                return;
            };
            if until <= w || b.client_expiry().is_some_and(|e| e >= until) {
                return;
            }
            if b.status != BindingStatus::Active {
                b.status = BindingStatus::Active;
                b.start_time_of_state = w;
            }
            b.state_expiration_time = Some(until);
            b.needs_partner_update = true;
            changed.push(b.resource);
        });
        // The partner no longer knows which lifetimes it acked to us (its expiration-time),
        // which bound our own grants and which it needs to hold our leases should we lose our
        // database in turn: propose them again (sim seed 97310).
        self.bindings.for_each_mut(|b| {
            if b.status == BindingStatus::Active
                && let Some(a) = b.acked_partner_lifetime.filter(|a| *a > w)
                && b.partner_lifetime.is_none_or(|p| p < a)
            {
                b.partner_lifetime = Some(a);
                b.needs_partner_update = true;
                changed.push(b.resource);
            }
        });
        changed.sort_unstable();
        changed.dedup();
        for r in changed {
            self.hold_free.remove(&r);
            self.bump(r);
            self.persist_binding(r);
        }
    }

    fn maybe_upddone(&mut self, now: Now) {
        if let Some(req) = self.serving
            && self.serving_left.is_empty()
        {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
            //# UPDDONE only after every BNDUPD got its BNDREPLY.
            let m = self.msg(MessageType::UPDDONE, req.xid, now);
            self.send(m, now);
            self.serving = None;
        }
    }

    fn on_upddone(&mut self, now: Now, m: &FailoverMessage) {
        match self.my_request {
            Some(r) if r.xid == m.transaction_id => {
                self.my_request = None;
                self.clear_timer(Timer::UpdateRequest);
                self.events.push_back(Event::UpdatesComplete);
                // The rebuilt database now holds the partner's record of us (see
                // `note_communicated`); persisted with RECOVER-WAIT below.
                self.communicated = true;
                if self.state == State::RecoverDone {
                    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.7.2
                    //# When a server in RECOVER-DONE state determines that its
                    //# partner server has entered NORMAL or RECOVER-DONE state,
                    //# then it will transition into NORMAL state.
                    self.recover_done_synced = true;
                    if let Some(p) = self.partner.state.filter(|_| self.partner.state_received) {
                        self.apply(
                            now,
                            FsmEvent::PartnerState {
                                partner: p,
                                startup: false,
                            },
                        );
                    }
                }
                self.apply(now, FsmEvent::UpdDone);
                self.after_comm_ok_actions(now);
                self.pump_updates(now);
            }
            _ => self.events.push_back(Event::ProtocolViolation {
                what: format!("UPDDONE for unknown xid {:#08x}", m.transaction_id),
            }),
        }
    }

    fn on_poolreq(&mut self, now: Now, m: &FailoverMessage) {
        if self.cfg.role != Role::Primary {
            self.events.push_back(Event::ProtocolViolation {
                what: "POOLREQ received by a secondary".to_string(),
            });
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
        //# The primary answers POOLRESP (which only acknowledges the request) and
        //# SHOULD rescan the balance.
        let r = self.msg(MessageType::POOLRESP, m.transaction_id, now);
        self.send(r, now);
        self.rebalance(now);
        self.pump_updates(now);
    }

    // =====================================================================================
    // Internals: lazy updates, rescan, rebalancing
    // =====================================================================================

    fn lazy_updates_allowed(&self) -> bool {
        self.comm_ok()
            && (matches!(
                self.state,
                State::Normal | State::ConflictDone | State::PartnerDown | State::RecoverDone
            ) || self.serving.is_some())
    }

    /// Sends BNDUPDs from the queue while the partner's window allows.
    fn pump_updates(&mut self, now: Now) {
        if !self.lazy_updates_allowed() {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-7.4
        //# never exceed the partner's OPTION_F_MAX_UNACKED_BNDUPD outstanding BNDUPDs
        while self.outstanding.len() < self.partner_max_unacked as usize {
            let Some(r) = self.queue.pop_first() else {
                break;
            };
            if self.outstanding_res.contains_key(&r) || self.latest_write.contains_key(&r) {
                continue;
            }
            let takeback = self.takeback.contains(&r);
            let scratch;
            let (b, seq) = match self.bindings.get_with_seq(&r) {
                Some(found) => found,
                None if takeback => {
                    scratch = Binding::new(r, BindingStatus::FreeBackup, now.wall);
                    (&scratch, self.bindings.seq(&r))
                }
                None => continue,
            };
            if !b.needs_partner_update && !takeback {
                continue;
            }
            let status = if takeback {
                BindingStatus::Free
            } else {
                b.status
            };
            // The common shapes are written directly (the transaction id is set once drawn);
            // the others go through the owned option tree.
            let body = match codec::encode_bndupd_frame(b, status, now.wall) {
                Some(frame) => Some(Ok(frame)),
                None => codec::bndupd_body(b, status, now.wall).map(Err),
            };
            let Some(body) = body else {
                if let Some(b) = self.bindings.get_mut(&r) {
                    b.needs_partner_update = false;
                }
                self.serving_left.remove(&r);
                continue;
            };
            let xid = self.fresh_xid();
            match body {
                Ok(mut frame) => {
                    codec::set_frame_xid(&mut frame, xid);
                    self.send_frame(frame, now);
                }
                Err(body) => {
                    let mut m = self.msg(MessageType::BNDUPD, xid, now);
                    m.options.push(body);
                    self.send(m, now);
                }
            }
            self.outstanding.insert(
                xid,
                Outstanding {
                    resource: r,
                    seq,
                    sent_status: status,
                },
            );
            self.outstanding_res.insert(r, ());
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8
        //# When the above process is complete, if the server entering NORMAL
        //# state is a secondary server, then it will request resources (prefixes)
        //# for allocation using the POOLREQ message.
        if self.poolreq_pending
            && self.state == State::Normal
            && self.outstanding.is_empty()
            && self.queue.is_empty()
            && self.latest_write.is_empty()
        {
            self.poolreq_pending = false;
            let xid = self.fresh_xid();
            let m = self.msg(MessageType::POOLREQ, xid, now);
            self.send(m, now);
        }
        self.maybe_upddone(now);
    }

    fn rescan(&mut self, now: Now) {
        let w = now.wall;
        // Leases whose lifetime ran out become EXPIRED.
        let expired: Vec<Resource> = self
            .bindings
            .values()
            .filter(|b| {
                b.status == BindingStatus::Active && b.state_expiration_time.is_some_and(|e| e < w)
            })
            .map(|b| b.resource)
            .collect();
        for r in expired {
            if self.set_status(w, r, BindingStatus::Expired).is_ok() {
                self.persist_binding(r);
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc8156#section-5.2
        //# EXPIRED / RELEASED / RESET become PENDING-FREE in PARTNER-DOWN once the
        //# MCLT has passed since entering that state.
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
        //# A server in PARTNER-DOWN state MUST NOT allocate a resource
        //# to a DHCP client different from that to which it was
        //# allocated at the entrance to PARTNER-DOWN state until the
        //# MCLT beyond the maximum of the following
        //# times: client expiration time, most recently transmitted
        //# potential-expiration-time, most recently received ack of
        //# potential-expiration-time from the partner, and most recently
        //# acked potential-expiration-time to the partner.
        // The move to FREE makes the resource available, so it waits for that time too, not
        // only for the MCLT after the status began: the partner may have extended the lease up
        // to the expiration-time we acked plus the MCLT (sim finding B7, seeds 2667, 20354).
        if self.state == State::PartnerDown {
            let mclt = self.mclt;
            let pd_since = self.partner_down_since.unwrap_or(self.state_start);
            let ready: Vec<Resource> = self
                .bindings
                .values()
                .filter(|b| {
                    b.status.awaits_ack_before_free()
                        && b.start_time_of_state + mclt <= w
                        && mclt::partner_down_reuse_time(b, pd_since, mclt) <= w
                })
                .map(|b| b.resource)
                .collect();
            for r in ready {
                let mode = self.mode_of(&r);
                if let Some(b) = self.bindings.get_mut(&r) {
                    b.status = pending_free_destination(mode);
                    b.start_time_of_state = w;
                    b.needs_partner_update = true;
                }
                self.bump(r);
                self.persist_binding(r);
            }
        }
        // Leases held back after a partner's database loss become free when their time came.
        let due: Vec<Resource> = self
            .hold_free
            .iter()
            .filter(|(_, t)| **t <= w)
            .map(|(r, _)| *r)
            .collect();
        for r in due {
            self.hold_free.remove(&r);
            let mode = self.mode_of(&r);
            if let Some(b) = self.bindings.get_mut(&r)
                && b.status.awaits_ack_before_free()
                && !b.needs_partner_update
            {
                b.status = pending_free_destination(mode);
                b.start_time_of_state = w;
                b.needs_partner_update = true;
                self.bump(r);
                self.persist_binding(r);
            }
        }
        // Writes that failed are retried.
        for r in core::mem::take(&mut self.unpersisted) {
            self.persist_binding(r);
        }
        // The "partner needs update" flag is re-examined, and pending take-backs retried.
        self.requeue_pending();
        if self.comm_ok() && self.state == State::Normal {
            let tb: Vec<Resource> = self.takeback.iter().copied().collect();
            self.queue.extend(tb);
        } else {
            // Take-backs are a NORMAL-state affair; outside it the prefix stays the secondary's.
            self.takeback.clear();
        }
        if self.cfg.role == Role::Primary && self.comm_ok() && self.state == State::Normal {
            self.rebalance(now);
        }
        self.pump_updates(now);
    }

    /// Primary: moves available delegable prefixes so that the secondary holds its configured
    /// share of them, with hysteresis.
    fn rebalance(&mut self, now: Now) {
        if self.cfg.role != Role::Primary || self.cfg.pools.prefixes.is_empty() || !self.comm_ok() {
            return;
        }
        let w = now.wall;
        // Available prefixes and their owners (materialising unbound prefixes from the
        // initial split is bounded).
        let all = self.cfg.pools.all_prefixes(1 << 16);
        let mut prim = Vec::new();
        let mut sec = Vec::new();
        for r in all {
            if self.outstanding_res.contains_key(&r) || self.latest_write.contains_key(&r) {
                continue;
            }
            match self.available_owner(&r) {
                Some(Role::Primary) => prim.push(r),
                Some(Role::Secondary) => sec.push(r),
                None => {}
            }
        }
        let Some((to, count)) = self
            .cfg
            .pools
            .plan_rebalance(prim.len() as u128, sec.len() as u128)
        else {
            return;
        };
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if to == Role::Secondary {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
            //# transfers prefixes by sending BNDUPDs with a top-level OPTION_IAPREFIX,
            //# binding-status FREE-BACKUP. From sending that BNDUPD on, the primary must
            //# not use those prefixes.
            for r in prim.into_iter().take(count) {
                let b = self
                    .bindings
                    .get_or_insert_with(r, || Binding::new(r, BindingStatus::FreeBackup, w));
                b.status = BindingStatus::FreeBackup;
                b.client = None;
                b.start_time_of_state = w;
                b.needs_partner_update = true;
                self.bump(r);
                self.persist_binding(r);
            }
        } else {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
            //# the primary may try to take one back by a BNDUPD with status FREE; the
            //# secondary must reject it if it already delegated that prefix.
            let picks: Vec<Resource> = sec
                .into_iter()
                .filter(|r| !self.takeback.contains(r))
                .take(count)
                .collect();
            for r in picks {
                // No record is created until the secondary agrees (see on_bndreply).
                self.takeback.insert(r);
                self.queue.insert(r);
            }
        }
    }
}

fn wall_offset_ms(now: Now) -> i64 {
    let wall = i64::try_from(now.wall.as_secs())
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    wall.saturating_sub(i64::try_from(now.instant.as_millis()).unwrap_or(i64::MAX))
}

fn shift(t: UnixTime, delta_secs: i64) -> UnixTime {
    if delta_secs >= 0 {
        t + Duration::from_secs(delta_secs.unsigned_abs())
    } else {
        t - Duration::from_secs(delta_secs.unsigned_abs())
    }
}

fn corr_time(abs: u32, now: Now, correction: i64) -> UnixTime {
    let t = UnixTime::from_abs_time(abs, now.wall);
    if correction >= 0 {
        t + Duration::from_secs(correction.unsigned_abs())
    } else {
        t - Duration::from_secs(correction.unsigned_abs())
    }
}
