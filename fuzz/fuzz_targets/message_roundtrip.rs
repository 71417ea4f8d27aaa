//! Fuzz target `message_roundtrip`: see `dhcpv6_wire::fuzzing::message_roundtrip` for the properties it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dhcpv6_wire::fuzzing::message_roundtrip(data));
