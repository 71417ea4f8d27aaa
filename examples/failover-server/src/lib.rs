//! The reference DHCPv6 server of the dhcpv6-failover workspace.
//!
//! Thin by intent: every DHCP decision is made by the sans-IO [`dhcp`] module on top of the
//! workspace crates (`dhcpv6-wire` for bytes, `dhcpv6-pool` for allocation, `dhcpv6-failover` for
//! the lease model); this crate adds the I/O around it: the UDP socket ([`net`]) with its kernel filter ([`sockfilter`]), the crash-safe
//! lease store with grouped commits ([`store`]), the TOML configuration ([`config`]), Prometheus
//! metrics ([`metrics`]) and the event loop that ties them together ([`service`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The server owns the clock: it reads the OS clocks and passes `now` into the sans-IO crates.
#![allow(clippy::disallowed_methods)]

pub mod config;
pub mod control;
pub mod demo;
pub mod dhcp;
pub mod leases;
pub mod metrics;
pub mod net;
pub mod partner;
pub mod record;
pub mod service;
pub mod sockfilter;
pub mod store;
pub mod tls;
