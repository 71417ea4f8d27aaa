//! Deterministic simulation of an RFC 8156 DHCPv6 failover pair.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod client;
pub mod link;
pub mod observe;
pub mod rng;
pub mod storage;
