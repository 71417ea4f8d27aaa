//! Fuzzing entry point (used by `fuzz/fuzz_targets/failover_ops.rs` and by a unit test):
//! arbitrary sequences of inputs, commands, storage outcomes and partner bytes (raw, or
//! well-formed messages with fuzzed fields) into one endpoint. The property is: no panic, no
//! `Err` from an input for anything the partner sends, and outputs that always deframe and
//! parse.
#![doc(hidden)]

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use dhcpv6_wire::{
    BindingStatus as WireStatus, DhcpOption, Duid, FailoverMessage, FrameDecoder, IaAddr, IaNa,
    IaPrefix, MessageType, Options, ProtocolVersion, ServerState, encode_frame,
};

use crate::{
    AddressRange, ClientKey, ClientRequestKind, Config, Duration, Endpoint, Instant, LeaseChange,
    LeaseGrant, Now, PoolSet, PrefixPool, Resource, ResourceKind, Role, StorageError, StorageWrite,
    UnixTime,
};

struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

fn frame(m: &FailoverMessage) -> Vec<u8> {
    let mut v = Vec::new();
    // Built from bounded fields: cannot exceed the frame limit.
    let _ = encode_frame(m, &mut v);
    v
}

fn pools() -> PoolSet {
    let a = |s: u128| Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | s);
    PoolSet {
        addresses: alloc::vec![AddressRange::new(a(0x100), a(0x13f))],
        prefixes: alloc::vec![PrefixPool::new(
            Ipv6Addr::from(0x2001_0db8_0001_0000_0000_0000_0000_0000u128),
            48,
            52
        )],
        ..PoolSet::default()
    }
}

/// Runs one fuzz case.
pub fn failover_ops(data: &[u8]) {
    let mut input = Input { data };
    let role = if input.byte().unwrap_or(0) & 1 == 0 {
        Role::Primary
    } else {
        Role::Secondary
    };
    let mut cfg = Config::new(role);
    cfg.mclt = Duration::from_secs(60);
    cfg.pools = pools();
    cfg.rng_seed = u64::from(input.byte().unwrap_or(0));
    cfg.max_unacked_bndupd = 4;
    cfg.auto_partner_down =
        (input.byte().unwrap_or(0) & 1 == 1).then_some(Duration::from_secs(120));
    let mut instant = Instant::ZERO;
    let mut wall = UnixTime::from_secs(1_800_000_000);
    let now0 = Now::new(instant, wall);
    let Ok(mut ep) = Endpoint::new(cfg, now0) else {
        return;
    };
    let mut pending: VecDeque<StorageWrite> = VecDeque::new();
    let mut seen_xids: Vec<u32> = Vec::new();
    let mut decoder = FrameDecoder::new(65_535);
    let clients: [ClientKey; 4] = core::array::from_fn(|i| ClientKey {
        duid: alloc::vec![0, 3, 0, 1, 0, 0, 0, i as u8],
        iaid: i as u32,
    });
    let mut steps = 0;
    while let Some(op) = input.byte() {
        steps += 1;
        if steps > 400 {
            break;
        }
        let now = Now::new(instant, wall);
        let abs = wall.to_abs_time();
        match op % 18 {
            0 => ep.handle_connection_up(now),
            1 => ep.handle_connection_down(now),
            2 => {
                let n = usize::from(input.byte().unwrap_or(0));
                let b = input.bytes(n).to_vec();
                ep.handle_bytes(now, &b);
            }
            3 => {
                let ms = u64::from(input.u16().unwrap_or(0)) * 50;
                instant = instant + Duration::from_millis(ms);
                wall = wall + Duration::from_millis(ms);
                ep.handle_timeout(Now::new(instant, wall));
            }
            4 => {
                if let Some(w) = pending.pop_front() {
                    let _ = ep.handle_storage_done(now, w.id, Ok(()));
                }
            }
            5 => {
                if let Some(w) = pending.pop_front() {
                    let _ = ep.handle_storage_done(now, w.id, Err(StorageError::new("fuzz")));
                }
            }
            6 => {
                let mut m = FailoverMessage::new(
                    MessageType::CONNECT,
                    u32::from(input.u16().unwrap_or(0)),
                    abs,
                );
                m.options.push(DhcpOption::ProtocolVersion(ProtocolVersion {
                    major: 1,
                    minor: 0,
                }));
                m.options
                    .push(DhcpOption::Mclt(if input.byte().unwrap_or(0) & 1 == 0 {
                        60
                    } else {
                        61
                    }));
                m.options.push(DhcpOption::KeepaliveTime(u32::from(
                    input.byte().unwrap_or(0),
                )));
                m.options.push(DhcpOption::MaxUnackedBndupd(u32::from(
                    input.byte().unwrap_or(1),
                )));
                m.options.push(DhcpOption::ConnectFlags(u16::from(
                    input.byte().unwrap_or(1) & 1,
                )));
                if input.byte().unwrap_or(0) & 1 == 1 {
                    m.msg_type = MessageType::CONNECTREPLY;
                    if let Some(x) = seen_xids.last() {
                        m.transaction_id = *x;
                    }
                }
                ep.handle_bytes(now, &frame(&m));
            }
            7 => {
                let mut m = FailoverMessage::new(MessageType::STATE, 1, abs);
                m.options.push(DhcpOption::ServerState(ServerState(
                    input.byte().unwrap_or(2) % 12,
                )));
                m.options
                    .push(DhcpOption::ServerFlags(input.byte().unwrap_or(0)));
                let back = u32::from(input.u16().unwrap_or(0));
                m.options
                    .push(DhcpOption::StartTimeOfState(abs.wrapping_sub(back)));
                ep.handle_bytes(now, &frame(&m));
            }
            8 => {
                let m = fuzz_bndupd(&mut input, abs, &clients);
                ep.handle_bytes(now, &frame(&m));
            }
            9 => {
                // Answer one of the BNDUPDs we saw, possibly with an error status.
                if !seen_xids.is_empty() {
                    let i = usize::from(input.byte().unwrap_or(0)) % seen_xids.len();
                    let xid = seen_xids.swap_remove(i);
                    let mut m = fuzz_bndupd(&mut input, abs, &clients);
                    m.msg_type = MessageType::BNDREPLY;
                    m.transaction_id = xid;
                    if input.byte().unwrap_or(0) & 3 == 0 {
                        m.options
                            .push(DhcpOption::StatusCode(dhcpv6_wire::StatusCode::new(
                                dhcpv6_wire::Status(u16::from(input.byte().unwrap_or(19))),
                                "fuzz",
                            )));
                    }
                    ep.handle_bytes(now, &frame(&m));
                }
            }
            10 => {
                let t = [
                    MessageType::UPDREQ,
                    MessageType::UPDREQALL,
                    MessageType::UPDDONE,
                    MessageType::POOLREQ,
                    MessageType::POOLRESP,
                    MessageType::CONTACT,
                    MessageType::DISCONNECT,
                ];
                let k = usize::from(input.byte().unwrap_or(0)) % t.len();
                let xid = seen_xids.last().copied().unwrap_or(0);
                let m = FailoverMessage::new(t[k], xid, abs);
                ep.handle_bytes(now, &frame(&m));
            }
            11 => {
                let c = &clients[usize::from(input.byte().unwrap_or(0)) % clients.len()];
                let kind = if input.byte().unwrap_or(0) & 1 == 0 {
                    ResourceKind::Address
                } else {
                    ResourceKind::Prefix
                };
                if let Some(r) = ep.allocate(now, kind, c) {
                    let v = ep.lease_bound(
                        now,
                        &r,
                        Duration::from_secs(u64::from(input.u16().unwrap_or(600))),
                    );
                    let _ = ep
                        .record_lease(now, LeaseChange::Granted(LeaseGrant::new(c.clone(), r, v)));
                }
            }
            12 => {
                let c = &clients[usize::from(input.byte().unwrap_or(0)) % clients.len()];
                let r: Option<Resource> = ep
                    .bindings()
                    .find(|b| b.client.as_ref() == Some(c))
                    .map(|b| b.resource);
                if let Some(resource) = r {
                    let change = match input.byte().unwrap_or(0) % 4 {
                        0 => LeaseChange::Released {
                            client: c.clone(),
                            resource,
                        },
                        1 => LeaseChange::Declined {
                            client: c.clone(),
                            resource,
                        },
                        2 => LeaseChange::Expired { resource },
                        _ => LeaseChange::Reset { resource },
                    };
                    let _ = ep.record_lease(now, change);
                }
            }
            13 => {
                let back = u64::from(input.u16().unwrap_or(0));
                let _ = ep.partner_down(now, Some(wall - Duration::from_secs(back)));
            }
            14 => {
                // A wall-clock step.
                let d = u64::from(input.byte().unwrap_or(0));
                wall = if d & 1 == 0 {
                    wall + Duration::from_secs(d)
                } else {
                    wall - Duration::from_secs(d)
                };
            }
            15 => {
                let r = Resource::Address(Ipv6Addr::from(
                    0x2001_0db8_0000_0000_0000_0000_0000_0100u128
                        + u128::from(input.byte().unwrap_or(0) % 64),
                ));
                let _ = ep.may_allocate(now, &r);
                let _ = ep.lease_bound(now, &r, Duration::from_secs(3600));
                let _ = ep.may_serve(ClientRequestKind::Renew, true);
                let _ = ep.status(now);
            }
            16 => {
                // Garbage framed as a failover message of a random type.
                let n = usize::from(input.byte().unwrap_or(0));
                let body = input.bytes(n).to_vec();
                let mut b = Vec::with_capacity(n + 10);
                let len = u16::try_from(body.len() + 8).unwrap_or(8);
                b.extend_from_slice(&len.to_be_bytes());
                b.push(24 + input.byte().unwrap_or(0) % 12);
                b.extend_from_slice(&[0, 0, 1]);
                b.extend_from_slice(&abs.to_be_bytes());
                b.extend_from_slice(&body);
                ep.handle_bytes(now, &b);
            }
            _ => ep.handle_timeout(now),
        }
        // Drain: outputs must always be well-formed.
        while let Some(t) = ep.poll_transmit() {
            let mut b = &t.bytes[..];
            loop {
                match decoder.decode(&mut b) {
                    Ok(Some(f)) => match FailoverMessage::parse(&f) {
                        Ok(m) => {
                            if m.msg_type == MessageType::BNDUPD && seen_xids.len() < 64 {
                                seen_xids.push(m.transaction_id);
                            }
                        }
                        Err(e) => panic!("endpoint emitted an unparseable message: {e}"),
                    },
                    Ok(None) => break,
                    Err(e) => panic!("endpoint emitted a bad frame: {e}"),
                }
            }
        }
        while let Some(w) = ep.poll_storage() {
            if pending.len() < 4096 {
                pending.push_back(w);
            }
        }
        while ep.poll_event().is_some() {}
        let _ = ep.poll_timeout();
    }
}

fn fuzz_bndupd(input: &mut Input<'_>, abs: u32, clients: &[ClientKey; 4]) -> FailoverMessage {
    let mut o = Options::new();
    let status = input.byte().unwrap_or(1) % 10;
    if status != 0 {
        o.push(DhcpOption::BindingStatus(WireStatus(status)));
    }
    let d = |x: Option<u16>| {
        abs.wrapping_add(u32::from(x.unwrap_or(0)))
            .wrapping_sub(30_000)
    };
    o.push(DhcpOption::StartTimeOfState(d(input.u16())));
    if input.byte().unwrap_or(0) & 1 == 1 {
        o.push(DhcpOption::StateExpirationTime(d(input.u16())));
        o.push(DhcpOption::PartnerLifetime(d(input.u16())));
        o.push(DhcpOption::ExpirationTime(d(input.u16())));
    }
    if input.byte().unwrap_or(0) & 1 == 1 {
        o.push(DhcpOption::CltTime(u32::from(input.u16().unwrap_or(0))));
        o.push(DhcpOption::PartnerRawCltTime(d(input.u16())));
    }
    let which = input.byte().unwrap_or(0);
    let mut m = FailoverMessage::new(
        MessageType::BNDUPD,
        u32::from(input.u16().unwrap_or(7)),
        abs,
    );
    if which & 1 == 0 {
        let c = &clients[usize::from(which >> 1) % clients.len()];
        let addr = Ipv6Addr::from(
            0x2001_0db8_0000_0000_0000_0000_0000_0100u128
                + u128::from(input.byte().unwrap_or(0) % 80),
        );
        let mut cd = Options::new();
        if let Ok(duid) = Duid::new(&c.duid) {
            cd.push(DhcpOption::ClientId(duid));
        }
        cd.push(DhcpOption::LqBaseTime(abs));
        let a = IaAddr {
            address: addr,
            preferred_lifetime: 300,
            valid_lifetime: 600,
            options: o,
        };
        cd.push(DhcpOption::IaNa(IaNa {
            iaid: c.iaid,
            t1: 150,
            t2: 240,
            options: Options::from(alloc::vec![DhcpOption::IaAddr(a)]),
        }));
        m.options.push(DhcpOption::ClientData(cd));
    } else {
        let p = Ipv6Addr::from(
            0x2001_0db8_0001_0000_0000_0000_0000_0000u128
                | (u128::from(input.byte().unwrap_or(0) % 20) << 76),
        );
        o.push(DhcpOption::LqBaseTime(abs));
        if let Ok(ip) = IaPrefix::new(0, 0, 52, p, o) {
            m.options.push(DhcpOption::IaPrefix(ip));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    /// A few thousand pseudo-random cases on every `cargo test`.
    #[test]
    fn random_operation_sequences_do_not_panic() {
        let mut s = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..1500 {
            let mut data = alloc::vec::Vec::with_capacity(600);
            for _ in 0..600 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                data.push((s >> 24) as u8);
            }
            super::failover_ops(&data);
        }
    }
}
