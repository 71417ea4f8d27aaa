//! Fuzz target `frame`: see `dhcpv6_wire::fuzzing::frame` for the properties it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dhcpv6_wire::fuzzing::frame(data));
