//! Arbitrary sequences of inputs, commands, storage outcomes and partner bytes into one
//! failover endpoint: no panic, and every output deframes and parses
//! (`dhcpv6_failover::fuzzing::failover_ops`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dhcpv6_failover::fuzzing::failover_ops(data);
});
