//! Every message in `benches/data/dhcpv6-inputs.txt` parses with both layers and re-emits
//! byte-exact.

use dhcpv6_wire::{Emit, Message, MessageView};

const INPUTS: &str = include_str!("../../../benches/data/dhcpv6-inputs.txt");

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    INPUTS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("`name hex` per line");
            (name, hex::decode(hex.trim()).expect("hex"))
        })
        .collect()
}

#[test]
fn every_bench_input_round_trips_byte_exact() {
    let all = inputs();
    assert_eq!(all.len(), 7, "the file lists seven messages");
    for (name, bytes) in all {
        let msg = Message::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(msg.emitted_len(), bytes.len(), "{name}: emitted_len");
        assert_eq!(msg.to_vec(), bytes, "{name}: emit(parse(b)) != b");
        assert_eq!(
            Message::parse(&msg.to_vec()).unwrap(),
            msg,
            "{name}: parse(emit(v)) != v"
        );
        let view = MessageView::new_checked(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(view.msg_type(), msg.msg_type());
        assert_eq!(view.to_owned_message().unwrap(), msg);
        assert!(view.options().all(|o| o.is_ok()));
    }
}
