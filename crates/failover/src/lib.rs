//! # dhcpv6-failover
//!
//! The RFC 8156 DHCPv6 failover protocol as a sans-IO state machine that any DHCPv6 server can
//! drive. One [`Endpoint`] per failover relationship: partner bytes, connection up/down,
//! timeouts, storage acknowledgements, operator commands and the DHCP server's own lease
//! decisions go in; framed bytes for the partner, storage writes, deadlines and [`Event`]s
//! come out. **The crate never reads a clock, opens a socket, touches a disk, draws OS
//! randomness or spawns a thread**: time ([`Now`]) and the random seed
//! ([`Config::rng_seed`]) are arguments, and every output that RFC 8156 allows only after a
//! stable-storage update (a BNDREPLY, a STATE after a transition, a BNDUPD for a new lease)
//! waits until the caller acknowledges the write with [`Endpoint::handle_storage_done`].
//!
//! What the embedding DHCP server asks on each client message:
//! [`Endpoint::may_serve`] (responsive / renew-responsive / unresponsive by state and role),
//! [`Endpoint::allocate`] and [`Endpoint::may_allocate`] (own pool, partner's after the
//! PARTNER-DOWN waiting rules), [`Endpoint::lease_bound`] (the MCLT bound, 30 s floor), and
//! after building its Reply, [`Endpoint::record_lease`].
//!
//! Protocol choices where the RFC leaves room are documented in
//! `docs/design/failover-choices.md`; every implemented MUST/SHOULD is listed with its test
//! in `docs/compliance.md`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(test)]
#[macro_use]
extern crate std;

mod binding;
mod codec;
mod config;
pub mod conflict;
mod endpoint;
#[doc(hidden)]
pub mod fuzzing;
pub mod mclt;
mod pools;
mod rng;
pub mod state;
mod time;
mod types;

pub use binding::{
    AllocationMode, Binding, BindingEvent, BindingStatus, ClientKey, DnsRemovalInfo, Resource,
    ResourceKind, pending_free_destination, status_after,
};
pub use config::{
    Config, ConfigError, FINGERPRINT_ENTERPRISE_NUMBER, FINGERPRINT_SUBOPTION, PROTOCOL_VERSION,
    Role, validate_relationships,
};
pub use endpoint::Endpoint;
pub use pools::{AddressRange, AddressSplit, PoolSet, PrefixPool};
pub use state::{FsmEvent, Responsiveness, State};
pub use time::{ABS_TIME_EPOCH_UNIX, Duration, Instant, Now, UnixTime, abs_time_cmp};
pub use types::{
    Alarm, ClientRequestKind, CloseReason, Event, InputError, LeaseChange, LeaseError, LeaseGrant,
    PersistedEndpointState, PersistedState, StatusSnapshot, StorageError, StorageRecord,
    StorageWrite, Transmit, WriteId,
};
