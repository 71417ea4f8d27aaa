//! Pool configurations and allocation/status/transfer/rebalance sequences against a model:
//! no panic, and every invariant of `dhcpv6_pool::fuzzing::pools_split` holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dhcpv6_pool::fuzzing::pools_split(data);
});
