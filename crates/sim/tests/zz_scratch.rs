use dhcpv6_failover::Resource;
use dhcpv6_sim::default_config;
use dhcpv6_sim::world::World;
#[test]
#[ignore]
fn dump() {
    let seed: u64 = std::env::var("S").unwrap().parse().unwrap();
    let at: u64 = std::env::var("AT").unwrap().parse().unwrap();
    let addr: std::net::Ipv6Addr = std::env::var("R").unwrap().parse().unwrap();
    let mut w = World::new(default_config(seed, None)).unwrap();
    let mut last = String::new();
    let mut cur0 = String::new();
    let mut cur1 = String::new();
    while w.now < at * 1000 && w.violation.is_none() {
        w.step();
        let both = format!("{cur0} | {cur1}");
        if both != last {
            println!("{:>8} {cur0}\n         {cur1}", w.now);
            last = both;
        }
        for side in 0..2 {
            if let Some(ep) = w.endpoint(side) {
                if let Some(b) = ep.binding(&Resource::Address(addr)) {
                    let s = format!(
                        "{side} {:?} client={:?} exp={:?} apl={:?} pl={:?} clt={:?} prc={:?} sts={:?} sexp={:?}",
                        b.status,
                        b.client.as_ref().map(|c| c.duid[9]),
                        b.expiration_time.map(|t| t.as_secs() - 1_800_000_000),
                        b.acked_partner_lifetime
                            .map(|t| t.as_secs() - 1_800_000_000),
                        b.partner_lifetime.map(|t| t.as_secs() - 1_800_000_000),
                        b.client_last_transaction_time
                            .map(|t| t.as_secs() - 1_800_000_000),
                        b.partner_raw_clt_time.map(|t| t.as_secs() - 1_800_000_000),
                        b.start_time_of_state.as_secs() - 1_800_000_000,
                        b.state_expiration_time.map(|t| t.as_secs() - 1_800_000_000)
                    );
                    let key = format!("{side}");
                    let _ = key;
                    if side == 0 {
                        cur0 = s;
                    } else {
                        cur1 = s;
                    }
                }
            }
        }
    }
}
