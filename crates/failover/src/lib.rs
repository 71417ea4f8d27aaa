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
//! # The event loop of an embedding server
//!
//! Mutate once, then drain every queue, then sleep until the next deadline or input. Here two
//! endpoints (a primary and a secondary) run in memory: the "network" copies each
//! [`Transmit`] into the other's [`Endpoint::handle_bytes`], the "store" acknowledges every
//! [`StorageWrite`] at once, and the clock is virtual.
//!
//! ```
//! use dhcpv6_failover::*;
//! use std::net::Ipv6Addr;
//!
//! fn config(role: Role) -> Config {
//!     let mut c = Config::new(role);
//!     c.mclt = Duration::from_secs(600);
//!     c.pools.addresses.push(AddressRange::new(
//!         "2001:db8::100".parse::<Ipv6Addr>().unwrap(),
//!         "2001:db8::1ff".parse::<Ipv6Addr>().unwrap(),
//!     ));
//!     c
//! }
//!
//! /// One server: its endpoint and whether its partner connection is open.
//! struct Server { ep: Endpoint, connected: bool, store: Vec<StorageRecord> }
//!
//! /// Drain every output of `from`; deliver its bytes to `to`. Returns whether anything moved.
//! fn drain(from: &mut Server, to: &mut Server, now: Now, open: &mut bool) -> bool {
//!     let mut moved = false;
//!     while let Some(w) = from.ep.poll_storage() {
//!         from.store.push(w.record);                 // a real server writes to disk here,
//!         from.ep.handle_storage_done(now, w.id, Ok(())).unwrap(); // then acknowledges
//!         moved = true;
//!     }
//!     while let Some(t) = from.ep.poll_transmit() {
//!         if from.connected && to.connected {
//!             to.ep.handle_bytes(now, &t.bytes);     // a real server writes to its TCP socket
//!         }
//!         moved = true;
//!     }
//!     while let Some(e) = from.ep.poll_event() {
//!         if e == Event::OpenConnection { *open = true; } // primary: please connect
//!         moved = true;
//!     }
//!     moved
//! }
//!
//! let t0 = Now::new(Instant::ZERO, UnixTime::from_secs(1_800_000_000));
//! let mut p = Server { ep: Endpoint::new(config(Role::Primary), t0)?, connected: false, store: vec![] };
//! let mut s = Server { ep: Endpoint::new(config(Role::Secondary), t0)?, connected: false, store: vec![] };
//! let mut now = t0;
//! for _ in 0..200 {
//!     // 1. Drain until quiet.
//!     let mut open = false;
//!     while drain(&mut p, &mut s, now, &mut open) | drain(&mut s, &mut p, now, &mut open) {
//!         if open && !p.connected {
//!             p.connected = true;
//!             s.connected = true;
//!             s.ep.handle_connection_up(now);        // the secondary accepted on port 647
//!             p.ep.handle_connection_up(now);        // the primary's connect() succeeded
//!         }
//!     }
//!     if p.ep.state() == State::Normal && s.ep.state() == State::Normal {
//!         break;
//!     }
//!     // 2. Sleep until the earliest deadline, then fire timers.
//!     let next = [p.ep.poll_timeout(), s.ep.poll_timeout()].into_iter().flatten().min();
//!     let Some(at) = next else { break };
//!     now = now.advance(at.saturating_duration_since(now.instant));
//!     p.ep.handle_timeout(now);
//!     s.ep.handle_timeout(now);
//! }
//! assert_eq!((p.ep.state(), s.ep.state()), (State::Normal, State::Normal));
//!
//! // A client asks the primary for an address: the questions of every client message.
//! let client = ClientKey { duid: vec![0, 3, 0, 1, 2, 3, 4, 5, 6, 7], iaid: 1 };
//! assert!(p.ep.may_serve(ClientRequestKind::Solicit, false));
//! let addr = p.ep.allocate(now, ResourceKind::Address, &client).expect("a free address");
//! let valid = p.ep.lease_bound(now, &addr, Duration::from_secs(86_400));
//! assert_eq!(valid, Duration::from_secs(600)); // first grant: clipped to the MCLT
//! // ...the server sends its Reply, then records the lease; the BNDUPD follows lazily.
//! let mut grant = LeaseGrant::new(client, addr, valid);
//! grant.desired_valid = Duration::from_secs(86_400);
//! p.ep.record_lease(now, LeaseChange::Granted(grant))?;
//! let mut open = false;
//! while drain(&mut p, &mut s, now, &mut open) | drain(&mut s, &mut p, now, &mut open) {}
//! assert_eq!(s.ep.binding(&addr).map(|b| b.status), Some(BindingStatus::Active));
//! assert!(p.ep.binding(&addr).unwrap().acked_partner_lifetime.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
mod clients;
mod codec;
mod config;
pub mod conflict;
mod endpoint;
mod few;
#[doc(hidden)]
pub mod fuzzing;
pub mod mclt;
mod pools;
mod ring;
mod rng;
pub mod state;
mod table;
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
