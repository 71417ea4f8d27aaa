//! Two endpoints back to back through their byte outputs, with in-test storage.

mod common;

use common::{Pair, client, config};
use dhcpv6_failover::{
    BindingStatus, ClientRequestKind, Duration, Event, LeaseChange, ResourceKind, Responsiveness, Role, State,
};

//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# On accept, both sides send STATE.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# When and if communications become "OK", clear the STARTUP
//# flag, and set the current state to the PREVIOUS-STATE.
#[test]
fn connect_brings_both_to_normal() {
    let mut pair = Pair::new();
    assert_eq!(pair.p.state(), State::Startup);
    assert_eq!(pair.p.ep.responsiveness(), Responsiveness::Unresponsive);
    assert!(pair.connect(), "primary {} secondary {}", pair.p.state(), pair.s.state());
    assert!(pair.p.saw(|e| matches!(e, Event::Connected)));
    assert!(pair.s.saw(|e| matches!(e, Event::Connected)));
    assert_eq!(pair.p.ep.responsiveness(), Responsiveness::Responsive);
    assert_eq!(pair.s.ep.responsiveness(), Responsiveness::RenewResponsive);
    assert!(pair.p.ep.may_serve(ClientRequestKind::Solicit, false));
    assert!(!pair.s.ep.may_serve(ClientRequestKind::Solicit, false));
    assert!(pair.s.ep.may_serve(ClientRequestKind::Renew, true));
    assert!(!pair.s.ep.may_serve(ClientRequestKind::Rebind, true));
    // The state was persisted on both sides.
    assert_eq!(pair.p.endpoint_rec.as_ref().map(|r| r.state), Some(State::Normal));
    assert_eq!(pair.s.endpoint_rec.as_ref().map(|r| r.state), Some(State::Normal));
    // Keepalive: hours of idle connection stay NORMAL (CONTACTs flow).
    pair.run_for(Duration::from_secs(3 * 3600));
    assert_eq!((pair.p.state(), pair.s.state()), (State::Normal, State::Normal));
    let st = pair.p.ep.status(pair.pnow());
    assert!(st.communications_ok);
    assert_eq!(st.measured_skew_secs, Some(0));
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-7.7
//# A server MUST NOT send the BNDREPLY before its
//# binding database is updated.
//= https://www.rfc-editor.org/rfc/rfc8156#section-4.4.1
//# BNDUPD with partner-lifetime = now + 1/2 hour + 3 days
#[test]
fn lazy_update_and_reply_wait_for_storage() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let c = client(1);
    let desired = Duration::from_secs(3 * 86_400);
    // Hold the primary's storage: no BNDUPD may leave before the lease write is acked.
    pair.p.hold_storage = true;
    let now = pair.pnow();
    let r = pair.p.ep.allocate(now, ResourceKind::Address, &c).expect("an address");
    let valid = pair.p.ep.lease_bound(now, &r, desired);
    assert_eq!(valid, Duration::from_secs(600), "first grant is clipped to the MCLT");
    let mut g = dhcpv6_failover::LeaseGrant::new(c.clone(), r, valid);
    g.desired_valid = desired;
    pair.p.ep.record_lease(now, LeaseChange::Granted(g)).expect("recorded");
    pair.settle();
    assert!(pair.s.ep.binding(&r).is_none(), "BNDUPD must wait for the storage ack");
    assert_eq!(pair.p.held.len(), 1);
    // Now the secondary holds its storage: the BNDREPLY must wait.
    pair.s.hold_storage = true;
    let w = pair.p.held.remove(0);
    pair.p.hold_storage = false;
    let pn = pair.pnow();
    pair.p.ep.handle_storage_done(pn, w.id, Ok(())).expect("ack");
    pair.settle();
    assert!(pair.s.ep.binding(&r).is_some(), "secondary applied the update");
    assert_eq!(pair.p.ep.status(pn).unacked_updates, 1, "no BNDREPLY before the secondary's write is acked");
    assert!(pair.p.ep.binding(&r).is_some_and(|b| b.acked_partner_lifetime.is_none()));
    for w in std::mem::take(&mut pair.s.held) {
        let sn = pair.snow();
        pair.s.ep.handle_storage_done(sn, w.id, Ok(())).expect("ack");
    }
    pair.s.hold_storage = false;
    pair.settle();
    let b = pair.p.ep.binding(&r).expect("binding");
    assert_eq!(pair.p.ep.status(pn).unacked_updates, 0);
    assert_eq!(b.acked_partner_lifetime, Some(pair.wall + Duration::from_secs(300) + desired));
    assert!(!b.needs_partner_update);
    let sb = pair.s.ep.binding(&r).expect("secondary binding");
    assert_eq!(sb.status, BindingStatus::Active);
    assert_eq!(sb.client.as_ref(), Some(&c));
    assert_eq!(sb.expiration_time, b.acked_partner_lifetime);
    // The renewal at T1 gets the full desired lifetime (worked example).
    pair.run_for(Duration::from_secs(300));
    let now = pair.pnow();
    assert_eq!(pair.p.ep.lease_bound(now, &r, desired), desired);
}

#[test]
fn release_expire_and_reuse_after_ack() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let c1 = client(1);
    let (r, _) = pair.grant(true, &c1, ResourceKind::Address, Duration::from_secs(3600)).expect("grant");
    let now = pair.pnow();
    pair.p.ep.record_lease(now, LeaseChange::Released { client: c1.clone(), resource: r }).expect("release");
    pair.settle();
    // After the partner acked RELEASED the address is FREE again (primary's half) on both.
    assert_eq!(pair.p.ep.binding(&r).map(|b| b.status), Some(BindingStatus::Free));
    assert_eq!(pair.s.ep.binding(&r).map(|b| b.status), Some(BindingStatus::Free));
    assert!(pair.p.ep.may_allocate(pair.pnow(), &r));
    assert!(!pair.s.ep.may_allocate(pair.snow(), &r), "the secondary never takes the primary's half");
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
//# If communications is restored with the other server, then the server
//# in COMMUNICATIONS-INTERRUPTED state will transition into another
//# state based on the state of the partner
#[test]
fn partition_both_comm_interrupted_then_heal() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    pair.partition();
    pair.settle();
    assert_eq!((pair.p.state(), pair.s.state()), (State::CommunicationsInterrupted, State::CommunicationsInterrupted));
    assert!(pair.p.saw(|e| matches!(e, Event::Alarm(_))));
    // Both serve their own pools with MCLT-bounded lifetimes.
    let (r1, v1) = pair.grant(true, &client(1), ResourceKind::Address, Duration::from_secs(86_400)).expect("primary grant");
    let (r2, v2) = pair.grant(false, &client(2), ResourceKind::Address, Duration::from_secs(86_400)).expect("secondary grant");
    assert_eq!(v1, Duration::from_secs(600));
    assert_eq!(v2, Duration::from_secs(600));
    assert_ne!(r1, r2);
    pair.run_for(Duration::from_secs(120));
    pair.heal();
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(120)));
    pair.run_for(Duration::from_secs(5));
    // Both tables agree.
    assert_eq!(pair.s.ep.binding(&r1).map(|b| b.status), Some(BindingStatus::Active));
    assert_eq!(pair.p.ep.binding(&r2).map(|b| b.status), Some(BindingStatus::Active));
}

#[test]
fn operator_partner_down_rules() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let sn = pair.snow();
    // Not allowed from RECOVER etc.; allowed from COMM-INT.
    pair.partition();
    pair.settle();
    let sn2 = pair.snow();
    assert!(pair.s.ep.partner_down(sn2, Some(sn.wall + Duration::from_secs(999_999))).is_err());
    pair.s.ep.partner_down(sn2, None).expect("partner down");
    assert_eq!(pair.s.state(), State::PartnerDown);
    // In PARTNER-DOWN no MCLT limit.
    let (_, v) = pair.grant(false, &client(3), ResourceKind::Address, Duration::from_secs(86_400)).expect("grant");
    assert_eq!(v, Duration::from_secs(86_400));
}

fn _unused(_: Role) {
    let _ = config(Role::Primary);
}
