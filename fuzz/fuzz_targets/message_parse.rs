//! Fuzz target `message_parse`: see `dhcpv6_wire::fuzzing::message_parse` for the properties it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dhcpv6_wire::fuzzing::message_parse(data));
