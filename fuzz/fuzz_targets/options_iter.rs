//! Fuzz target `options_iter`: see `dhcpv6_wire::fuzzing::options_iter` for the properties it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dhcpv6_wire::fuzzing::options_iter(data));
