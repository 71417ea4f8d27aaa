//! The borrowed layer never allocates: walking every test vector with `MessageView` and
//! `OptionsIter`, through relay layers and container options, performs zero heap allocations.
//! (One test in its own binary, so no other test allocates concurrently.)

use std::alloc::System;
use std::fs;
use std::path::Path;

use dhcpv6_wire::{MessageView, OptionsIter};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn walk(options: OptionsIter<'_>) -> usize {
    let mut n = 0;
    for o in options.flatten() {
        n += 1;
        if let Some(sub) = o.sub_options() {
            n += walk(sub);
        }
    }
    n
}

#[test]
fn borrowed_walk_does_not_allocate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let inputs: Vec<Vec<u8>> = fs::read_dir(dir)
        .expect("vectors")
        .map(|e| {
            hex::decode(
                fs::read_to_string(e.expect("entry").path())
                    .expect("read")
                    .trim(),
            )
        })
        .collect::<Result<_, _>>()
        .expect("hex");
    let region = Region::new(GLOBAL);
    let mut options = 0;
    for bytes in &inputs {
        let mut view = MessageView::new_checked(bytes).expect("vector parses");
        loop {
            options += walk(view.options());
            match view.relay_message() {
                Some(inner) => view = inner.expect("relayed message parses"),
                None => break,
            }
        }
        assert!(view.innermost().is_ok());
    }
    let stats = region.change();
    assert!(options > 100, "walked {options} options");
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
}
