//! Two endpoints back to back through their byte outputs, with in-test storage.

mod common;

use common::{Pair, client, config};
use dhcpv6_failover::{
    BindingStatus, ClientRequestKind, Duration, Event, LeaseChange, ResourceKind, Responsiveness,
    Role, State,
};

//= https://www.rfc-editor.org/rfc/rfc8156#section-6.1
//# On accept, both sides send STATE.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# When and if communications become "OK", clear the STARTUP
//# flag, and set the current state to the PREVIOUS-STATE.
//= https://www.rfc-editor.org/rfc/rfc8156#section-3
//# renew-responsive: answers only messages whose OPTION_SERVERID carries
//# this server's DUID
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.5.15
//# C = COMMUNICATED: the sender has talked to this partner before.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.1
//# Whenever a STATE message is sent to the partner while
//# in STARTUP state the STARTUP flag MUST be set in the message
//# and the previously recorded failover state MUST be placed
//# in the server-state option.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.6.2
//# If this is the first time this server has run failover
//# -- as determined by the information received from the
//# partner, not necessarily only as determined by this server's
//# stable storage (as that may have been lost), then the waiting
//# time discussed above may be skipped
#[test]
fn connect_brings_both_to_normal() {
    let mut pair = Pair::new();
    assert_eq!(pair.p.state(), State::Startup);
    assert_eq!(pair.p.ep.responsiveness(), Responsiveness::Unresponsive);
    assert!(
        pair.connect(),
        "primary {} secondary {}",
        pair.p.state(),
        pair.s.state()
    );
    assert!(pair.p.saw(|e| matches!(e, Event::Connected)));
    // Each side first saw the other's STARTUP STATE (S flag set, recorded state inside).
    assert!(
        pair.p
            .saw(|e| matches!(e, Event::PartnerStateChanged { startup: true, .. }))
    );
    assert!(
        pair.s
            .saw(|e| matches!(e, Event::PartnerStateChanged { startup: true, .. }))
    );
    assert!(pair.s.saw(|e| matches!(e, Event::Connected)));
    assert_eq!(pair.p.ep.responsiveness(), Responsiveness::Responsive);
    assert_eq!(pair.s.ep.responsiveness(), Responsiveness::RenewResponsive);
    assert!(pair.p.ep.may_serve(ClientRequestKind::Solicit, false));
    assert!(!pair.s.ep.may_serve(ClientRequestKind::Solicit, false));
    assert!(pair.s.ep.may_serve(ClientRequestKind::Renew, true));
    assert!(!pair.s.ep.may_serve(ClientRequestKind::Rebind, true));
    // The state was persisted on both sides.
    assert_eq!(
        pair.p.endpoint_rec.as_ref().map(|r| r.state),
        Some(State::Normal)
    );
    assert_eq!(
        pair.s.endpoint_rec.as_ref().map(|r| r.state),
        Some(State::Normal)
    );
    // Keepalive: hours of idle connection stay NORMAL (CONTACTs flow).
    pair.run_for(Duration::from_secs(3 * 3600));
    assert_eq!(
        (pair.p.state(), pair.s.state()),
        (State::Normal, State::Normal)
    );
    let st = pair.p.ep.status(pair.pnow());
    assert!(st.communications_ok);
    assert_eq!(st.measured_skew_secs, Some(0));
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-7.7
//# A server MUST NOT send the BNDREPLY before its
//# binding database is updated.
//= https://www.rfc-editor.org/rfc/rfc8156#section-4.4.1
//# BNDUPD with partner-lifetime = now + 1/2 hour + 3 days
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.7
//# OPTION_F_PARTNER_LIFETIME_SENT is stored in the
//# acked-partner-lifetime; partner-lifetime is set to 0.
#[test]
fn lazy_update_and_reply_wait_for_storage() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let c = client(1);
    let desired = Duration::from_secs(3 * 86_400);
    // Hold the primary's storage: no BNDUPD may leave before the lease write is acked.
    pair.p.hold_storage = true;
    let now = pair.pnow();
    let r = pair
        .p
        .ep
        .allocate(now, ResourceKind::Address, &c)
        .expect("an address");
    let valid = pair.p.ep.lease_bound(now, &r, desired);
    assert_eq!(
        valid,
        Duration::from_secs(600),
        "first grant is clipped to the MCLT"
    );
    let mut g = dhcpv6_failover::LeaseGrant::new(c.clone(), r, valid);
    g.desired_valid = desired;
    pair.p
        .ep
        .record_lease(now, LeaseChange::Granted(g))
        .expect("recorded");
    pair.settle();
    assert!(
        pair.s.ep.binding(&r).is_none(),
        "BNDUPD must wait for the storage ack"
    );
    assert_eq!(pair.p.held.len(), 1);
    // Now the secondary holds its storage: the BNDREPLY must wait.
    pair.s.hold_storage = true;
    let w = pair.p.held.remove(0);
    pair.p.hold_storage = false;
    let pn = pair.pnow();
    pair.p
        .ep
        .handle_storage_done(pn, w.id, Ok(()))
        .expect("ack");
    pair.settle();
    assert!(
        pair.s.ep.binding(&r).is_some(),
        "secondary applied the update"
    );
    assert_eq!(
        pair.p.ep.status(pn).unacked_updates,
        1,
        "no BNDREPLY before the secondary's write is acked"
    );
    assert!(
        pair.p
            .ep
            .binding(&r)
            .is_some_and(|b| b.acked_partner_lifetime.is_none())
    );
    for w in std::mem::take(&mut pair.s.held) {
        let sn = pair.snow();
        pair.s
            .ep
            .handle_storage_done(sn, w.id, Ok(()))
            .expect("ack");
    }
    pair.s.hold_storage = false;
    pair.settle();
    let b = pair.p.ep.binding(&r).expect("binding");
    assert_eq!(pair.p.ep.status(pn).unacked_updates, 0);
    assert_eq!(
        b.acked_partner_lifetime,
        Some(pair.wall + Duration::from_secs(300) + desired)
    );
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

//= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2.1
//# When the sending server received the ack for that resource
//# showing it EXPIRED or RELEASED, it moves to PENDING-FREE and then
//# to FREE or FREE-BACKUP.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.1
//# When allocating new leases, each server allocates
//# from its own pool, where the primary MUST allocate only FREE
//# resources, and the secondary MUST
//# allocate only FREE_BACKUP resources.
#[test]
fn release_expire_and_reuse_after_ack() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let c1 = client(1);
    let (r, _) = pair
        .grant(true, &c1, ResourceKind::Address, Duration::from_secs(3600))
        .expect("grant");
    let now = pair.pnow();
    pair.p
        .ep
        .record_lease(
            now,
            LeaseChange::Released {
                client: c1.clone(),
                resource: r,
            },
        )
        .expect("release");
    pair.settle();
    // After the partner acked RELEASED the address is FREE again (primary's half) on both.
    assert_eq!(
        pair.p.ep.binding(&r).map(|b| b.status),
        Some(BindingStatus::Free)
    );
    assert_eq!(
        pair.s.ep.binding(&r).map(|b| b.status),
        Some(BindingStatus::Free)
    );
    assert!(pair.p.ep.may_allocate(pair.pnow(), &r));
    assert!(
        !pair.s.ep.may_allocate(pair.snow(), &r),
        "the secondary never takes the primary's half"
    );
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
//# If communications is restored with the other server, then the server
//# in COMMUNICATIONS-INTERRUPTED state will transition into another
//# state based on the state of the partner
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.8
//# When entering NORMAL state, a server will send to the other server
//# all currently unacknowledged binding updates as BNDUPD messages.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.9
//# A server transitioning into the COMMUNICATIONS-INTERRUPTED
//# state from the NORMAL state SHOULD raise some alarm condition
#[test]
fn partition_both_comm_interrupted_then_heal() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    pair.partition();
    pair.settle();
    assert_eq!(
        (pair.p.state(), pair.s.state()),
        (
            State::CommunicationsInterrupted,
            State::CommunicationsInterrupted
        )
    );
    assert!(pair.p.saw(|e| matches!(e, Event::Alarm(_))));
    // Both serve their own pools with MCLT-bounded lifetimes.
    let (r1, v1) = pair
        .grant(
            true,
            &client(1),
            ResourceKind::Address,
            Duration::from_secs(86_400),
        )
        .expect("primary grant");
    let (r2, v2) = pair
        .grant(
            false,
            &client(2),
            ResourceKind::Address,
            Duration::from_secs(86_400),
        )
        .expect("secondary grant");
    assert_eq!(v1, Duration::from_secs(600));
    assert_eq!(v2, Duration::from_secs(600));
    assert_ne!(r1, r2);
    pair.run_for(Duration::from_secs(120));
    pair.heal();
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(120)));
    pair.run_for(Duration::from_secs(5));
    // Both tables agree.
    assert_eq!(
        pair.s.ep.binding(&r1).map(|b| b.status),
        Some(BindingStatus::Active)
    );
    assert_eq!(
        pair.p.ep.binding(&r2).map(|b| b.status),
        Some(BindingStatus::Active)
    );
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
//# If an external command is received by a server in COMMUNICATIONS-
//# INTERRUPTED state informing it that its partner is down, it will
//# transition immediately into PARTNER-DOWN state.
#[test]
fn operator_partner_down_rules() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let sn = pair.snow();
    // Not allowed from RECOVER etc.; allowed from COMM-INT.
    pair.partition();
    pair.settle();
    let sn2 = pair.snow();
    assert!(
        pair.s
            .ep
            .partner_down(sn2, Some(sn.wall + Duration::from_secs(999_999)))
            .is_err()
    );
    pair.s.ep.partner_down(sn2, None).expect("partner down");
    assert_eq!(pair.s.state(), State::PartnerDown);
    // In PARTNER-DOWN no MCLT limit.
    let (_, v) = pair
        .grant(
            false,
            &client(3),
            ResourceKind::Address,
            Duration::from_secs(86_400),
        )
        .expect("grant");
    assert_eq!(v, Duration::from_secs(86_400));
}

fn _unused(_: Role) {
    let _ = config(Role::Primary);
}

/// RFC 7031 §5.1.1: the secondary crashes, the primary goes PARTNER-DOWN, the secondary
/// comes back with its storage.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.6.2
//# Upon entry to RECOVER-WAIT state the server MUST start
//# a timer whose expiration is set to a time equal to the time
//# the server went down (if known) or the time the server
//# started (if the down-time is unknown) plus the
//# maximum-client-lead-time.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# If the partner is in PARTNER-DOWN state, and if the time
//# at which it entered PARTNER-DOWN state (as received in the
//# start-time-of-state option in the STATE message) is later
//# than the last recorded time of operation of this server,
//# then set CURRENT-STATE to RECOVER.  If the time at which
//# it entered PARTNER-DOWN state is earlier than the last
//# recorded time of operation of this server, then set
//# CURRENT-STATE to POTENTIAL-CONFLICT.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.7.2
//# When a server in RECOVER-DONE state determines that its
//# partner server has entered NORMAL or RECOVER-DONE state,
//# then it will transition into NORMAL state.
#[test]
fn partner_crash_and_recovery() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let (r1, _) = pair
        .grant(
            true,
            &client(1),
            ResourceKind::Address,
            Duration::from_secs(3600),
        )
        .expect("grant");
    pair.run_for(Duration::from_secs(10));
    pair.crash(false);
    pair.settle();
    assert_eq!(pair.p.state(), State::CommunicationsInterrupted);
    pair.run_for(Duration::from_secs(60));
    let pn = pair.pnow();
    pair.p
        .ep
        .partner_down(pn, None)
        .expect("operator partner-down");
    assert_eq!(pair.p.state(), State::PartnerDown);
    // The survivor serves alone, without MCLT limit.
    let (r2, v2) = pair
        .grant(
            true,
            &client(2),
            ResourceKind::Address,
            Duration::from_secs(7200),
        )
        .expect("grant");
    assert_eq!(v2, Duration::from_secs(7200));
    pair.run_for(Duration::from_secs(60));
    pair.restart(false, false);
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(2000)));
    assert_eq!(
        common::path(&pair.s),
        vec![
            State::Recover,
            State::RecoverWait,
            State::RecoverDone,
            State::Normal
        ],
        "secondary's path"
    );
    assert_eq!(common::path(&pair.p).last(), Some(&State::Normal));
    assert!(pair.s.saw(|e| matches!(e, Event::UpdatesComplete)));
    // RECOVER-WAIT lasted an MCLT from the restart.
    assert!(pair.instant.as_millis() >= 730_000);
    assert_eq!(
        pair.s.ep.binding(&r2).map(|b| b.status),
        Some(BindingStatus::Active)
    );
    // r1's first grant was clipped to the MCLT (600 s) and has run out: both agree.
    let p1 = pair.p.ep.binding(&r1).map(|b| b.status);
    assert_eq!(pair.s.ep.binding(&r1).map(|b| b.status), p1);
    assert!(!pair.s.events.iter().any(|e| matches!(
        e,
        Event::StateChanged {
            to: State::PotentialConflict,
            ..
        }
    )));
}

/// A partition with the secondary in PARTNER-DOWN; on healing both resolve through
/// POTENTIAL-CONFLICT.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.2
//# If the partner is in: [ NORMAL, COMMUNICATIONS-INTERRUPTED, PARTNER-DOWN,
//# POTENTIAL-CONFLICT, RESOLUTION-INTERRUPTED, or CONFLICT-DONE ]
//# state, then transition to POTENTIAL-CONFLICT state
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.10.2
//# The primary MUST transition to CONFLICT-DONE
//# state, and the secondary MUST transition to NORMAL state.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
//# UPDREQ ⇒ responder sends BNDUPD for every lease whose "needs update" flag is
//# set; UPDREQALL ⇒ responder sends its entire binding DB.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.10
//# When a primary server enters POTENTIAL-CONFLICT state it should
//# request that the secondary send it all updates of which it is
//# currently unaware by sending an UPDREQ message to the secondary
//# server.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.10.2
//# When a secondary server receives an indication that the primary
//# server has made a transition from POTENTIAL-CONFLICT to CONFLICT-DONE
//# state, it SHOULD send an UPDREQ message to the primary server.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.12.2
//# When the secondary server reaches NORMAL state, the primary in
//# CONFLICT-DONE state transitions to NORMAL.
#[test]
fn partition_with_partner_down_then_potential_conflict() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    pair.partition();
    pair.settle();
    let sn = pair.snow();
    pair.s.ep.partner_down(sn, None).expect("partner down");
    let (rs, _) = pair
        .grant(
            false,
            &client(7),
            ResourceKind::Address,
            Duration::from_secs(3600),
        )
        .expect("grant");
    let (rp, _) = pair
        .grant(
            true,
            &client(8),
            ResourceKind::Address,
            Duration::from_secs(3600),
        )
        .expect("grant");
    pair.run_for(Duration::from_secs(30));
    pair.p.events.clear();
    pair.s.events.clear();
    pair.heal();
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(600)));
    assert_eq!(
        common::path(&pair.p),
        vec![State::PotentialConflict, State::ConflictDone, State::Normal],
        "primary"
    );
    assert_eq!(
        common::path(&pair.s),
        vec![State::PotentialConflict, State::Normal],
        "secondary"
    );
    assert_eq!(
        pair.p.ep.binding(&rs).map(|b| b.status),
        Some(BindingStatus::Active)
    );
    assert_eq!(
        pair.s.ep.binding(&rp).map(|b| b.status),
        Some(BindingStatus::Active)
    );
    assert_eq!(pair.p.ep.responsiveness(), Responsiveness::Responsive);
}

/// Total loss of the secondary's database: it asks for everything with UPDREQALL.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
//# If the
//# server has determined that it has lost its stable storage
//# because it has no record of ever having talked to its
//# partner, while its partner does have a record of communicating
//# with it, it MUST send an UPDREQALL message, otherwise it
//# MUST send an UPDREQ message.
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.5.15
//# C = COMMUNICATED: the sender has talked to this partner before.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
//# UPDREQ ⇒ responder sends BNDUPD for every lease whose "needs update" flag is
//# set; UPDREQALL ⇒ responder sends its entire binding DB.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
//# UPDDONE only after every BNDUPD got its BNDREPLY.
#[test]
fn lost_database_updreqall() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let mut granted = Vec::new();
    for i in 1..=20u8 {
        let (r, _) = pair
            .grant(
                true,
                &client(i),
                ResourceKind::Address,
                Duration::from_secs(3600),
            )
            .expect("grant");
        granted.push(r);
    }
    pair.run_for(Duration::from_secs(5));
    pair.crash(false);
    pair.run_for(Duration::from_secs(30));
    pair.restart(false, true);
    assert!(pair.s.ep.bindings().next().is_none());
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(3600)));
    for r in &granted {
        // The 600 s leases have run out meanwhile: both tables agree they are FREE again.
        let p = pair.p.ep.binding(r).map(|b| (b.status, b.client.clone()));
        assert_eq!(
            pair.s.ep.binding(r).map(|b| (b.status, b.client.clone())),
            p,
            "{r}"
        );
        assert!(p.is_some());
    }
    // After an UPDREQALL the recovering server waited an MCLT (it had run failover before).
    assert!(pair.s.saw(|e| matches!(
        e,
        Event::StateChanged {
            to: State::RecoverWait,
            ..
        }
    )));
}

/// Sim finding B10: the secondary renews a lease during a partition (bounded by the MCLT beyond
/// the lifetime the primary acked to it), then loses its database before the primary heard of
/// the renewal. After UPDREQALL both servers must still hold the lease ACTIVE for that client
/// until at least the renewed expiry: the client's Renew finds it, and nobody reuses it early.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.1
//# the
//# lease interval given to a DHCP client can never be more than the
//# MCLT greater than the most recently received
//# potential-expiration-time from the failover partner or the current time,
//# whichever is later.
#[test]
fn lost_database_keeps_renewals_the_partner_never_heard_of() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let c = client(1);
    let (r, v1) = pair
        .grant(false, &c, ResourceKind::Address, Duration::from_secs(3600))
        .expect("grant");
    assert_eq!(v1, Duration::from_secs(600), "first grant: MCLT bound");
    pair.run_for(Duration::from_secs(10));
    pair.partition();
    pair.settle();
    pair.run_for(Duration::from_secs(90));
    // The renewal during the partition: up to the MCLT beyond the acked partner-lifetime.
    let sn = pair.snow();
    let valid = pair.s.ep.lease_bound(sn, &r, Duration::from_secs(3600));
    assert_eq!(
        valid,
        Duration::from_secs(3600),
        "renewal under the acked lifetime"
    );
    let mut g = dhcpv6_failover::LeaseGrant::new(c.clone(), r, valid);
    g.desired_valid = Duration::from_secs(3600);
    pair.s
        .ep
        .record_lease(sn, LeaseChange::Renewed(g))
        .expect("renew");
    let renewed_until = sn.wall + valid;
    pair.settle();
    pair.run_for(Duration::from_secs(5));
    pair.crash(false);
    pair.heal();
    pair.run_for(Duration::from_secs(30));
    pair.restart(false, true);
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(3600)));
    // Both servers are past the first grant's end (RECOVER-WAIT lasted an MCLT).
    assert!(pair.snow().wall > sn.wall + Duration::from_secs(600));
    for (who, ep) in [("primary", &pair.p.ep), ("secondary", &pair.s.ep)] {
        let b = ep.binding(&r).expect("binding");
        assert_eq!(b.status, BindingStatus::Active, "{who}");
        assert_eq!(b.client.as_ref(), Some(&c), "{who}");
        assert!(
            b.state_expiration_time.is_some_and(|e| e >= renewed_until),
            "{who}: expiry {:?} before the renewed {renewed_until:?}",
            b.state_expiration_time
        );
    }
}

//= https://www.rfc-editor.org/rfc/rfc8156#section-7.1
//# If the difference exceeds the tolerance the receiver SHOULD drop the
//# connection (status ExcessiveTimeSkew).
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.3.10
//# DISCONNECT SHOULD carry OPTION_STATUS_CODE with a human-readable reason.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.2
//# If a server in NORMAL
//# state receives a DISCONNECT message from its partner, the server should transition
//# into COMMUNICATIONS-INTERRUPTED state.
#[test]
fn skew_beyond_tolerance_disconnects() {
    let mut pair = Pair::new();
    pair.s.skew = 30;
    pair.run_for(Duration::from_secs(30));
    // The secondary receives CONNECT first and sees the primary 30 s behind.
    assert!(
        pair.s
            .saw(|e| matches!(e, Event::ExcessiveTimeSkew { skew_secs: -30 }))
    );
    assert!(pair.s.saw(|e| matches!(
        e,
        Event::CloseConnection {
            reason: dhcpv6_failover::CloseReason::ExcessiveTimeSkew
        }
    )));
    assert!(pair.p.saw(|e| matches!(
        e,
        Event::PartnerDisconnected {
            status: Some(22),
            ..
        }
    )));
    assert_ne!(pair.p.state(), State::Normal);
    assert_ne!(pair.s.state(), State::Normal);
    // Skew that appears on an established connection is caught on the next message.
    let mut late = Pair::new();
    assert!(late.connect());
    late.p.skew = -20;
    late.run_for(Duration::from_secs(60));
    assert!(late.s.saw(|e| matches!(e, Event::ExcessiveTimeSkew { .. })));
    assert_eq!(late.s.state(), State::CommunicationsInterrupted);
    // Within the tolerance everything works.
    let mut ok = Pair::new();
    ok.s.skew = 4;
    assert!(ok.connect());
}

fn free_owned(n: &common::Node, pair_now: dhcpv6_failover::Now, kind: ResourceKind) -> usize {
    let _ = kind;
    common::pools()
        .prefixes
        .iter()
        .flat_map(|p| (0..p.count()).filter_map(move |i| p.nth(i)))
        .filter(|r| n.ep.may_allocate(pair_now, r))
        .count()
}

/// POOLREQ / POOLRESP and FREE-BACKUP transfers with top-level IAPREFIX BNDUPDs, then the
/// primary taking prefixes back with FREE.
//= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
//# transfers prefixes by sending BNDUPDs with a top-level OPTION_IAPREFIX,
//# binding-status FREE-BACKUP. From sending that BNDUPD on, the primary must
//# not use those prefixes.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.8
//# When the above process is complete, if the server entering NORMAL
//# state is a secondary server, then it will request resources (prefixes)
//# for allocation using the POOLREQ message.
//= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
//# The primary answers POOLRESP (which only acknowledges the request) and
//# SHOULD rescan the balance.
//= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
//# the primary may try to take one back by a BNDUPD with status FREE; the
//# secondary must reject it if it already delegated that prefix.
#[test]
fn prefix_rebalancing_both_directions() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let p0 = free_owned(&pair.p, pair.pnow(), ResourceKind::Prefix);
    let s0 = free_owned(&pair.s, pair.snow(), ResourceKind::Prefix);
    assert_eq!(p0 + s0, 256, "the initial split covers the pool exactly");
    // During a partition the secondary delegates 80 of its prefixes.
    pair.partition();
    pair.settle();
    for i in 0..80u8 {
        pair.grant(
            false,
            &client(i),
            ResourceKind::Prefix,
            Duration::from_secs(86_400),
        )
        .expect("prefix");
    }
    let s1 = free_owned(&pair.s, pair.snow(), ResourceKind::Prefix);
    assert_eq!(s1, s0 - 80);
    pair.heal();
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(120)));
    pair.run_for(Duration::from_secs(2));
    let p2 = free_owned(&pair.p, pair.pnow(), ResourceKind::Prefix);
    let s2 = free_owned(&pair.s, pair.snow(), ResourceKind::Prefix);
    assert_eq!(
        p2 + s2,
        256 - 80,
        "transfers neither lose nor duplicate prefixes"
    );
    let diff = p2.abs_diff(s2);
    assert!(
        diff <= 8,
        "rebalanced to about half each: primary {p2}, secondary {s2}"
    );
    // Both tables agree on every transferred prefix.
    let moved: Vec<_> = pair
        .p
        .ep
        .bindings()
        .filter(|b| b.status == BindingStatus::FreeBackup)
        .map(|b| b.resource)
        .collect();
    assert!(!moved.is_empty());
    for r in &moved {
        assert_eq!(
            pair.s.ep.binding(r).map(|b| b.status),
            Some(BindingStatus::FreeBackup)
        );
        assert!(!pair.p.ep.may_allocate(pair.pnow(), r));
        assert!(pair.s.ep.may_allocate(pair.snow(), r));
    }
    // Now the primary delegates 60 prefixes: the secondary holds too many of the free ones
    // and the primary takes some back with FREE at its next rescan.
    for i in 100..160u8 {
        let st = (
            pair.p.state(),
            pair.p
                .ep
                .allocate(pair.pnow(), ResourceKind::Prefix, &client(i)),
        );
        pair.grant(
            true,
            &client(i),
            ResourceKind::Prefix,
            Duration::from_secs(86_400),
        )
        .unwrap_or_else(|| panic!("prefix {i} {st:?}"));
    }
    let before: Vec<_> = pair
        .s
        .ep
        .bindings()
        .filter(|b| b.status == BindingStatus::FreeBackup)
        .map(|b| b.resource)
        .collect();
    pair.run_for(Duration::from_secs(70));
    let p3 = free_owned(&pair.p, pair.pnow(), ResourceKind::Prefix);
    let s3 = free_owned(&pair.s, pair.snow(), ResourceKind::Prefix);
    assert_eq!(p3 + s3, 256 - 80 - 60);
    assert!(p3.abs_diff(s3) <= 8, "primary {p3}, secondary {s3}");
    let taken_back: Vec<_> = before
        .iter()
        .filter(|r| pair.s.ep.binding(r).map(|b| b.status) == Some(BindingStatus::Free))
        .collect();
    assert!(
        !taken_back.is_empty(),
        "some FREE-BACKUP prefixes went back to the primary"
    );
    for r in taken_back {
        assert_eq!(
            pair.p.ep.binding(r).map(|b| b.status),
            Some(BindingStatus::Free)
        );
        assert!(pair.p.ep.may_allocate(pair.pnow(), r));
        assert!(!pair.s.ep.may_allocate(pair.snow(), r));
    }
    assert!(
        pair.p
            .events
            .iter()
            .all(|e| !matches!(e, Event::UpdateRejected { .. }))
    );
}

/// PARTNER-DOWN: own pool first; the partner's available prefixes only after PD entry + MCLT;
/// a released lease becomes available again once the MCLT has passed since its release.
//= https://www.rfc-editor.org/rfc/rfc8156#section-5.2
//# EXPIRED / RELEASED / RESET become PENDING-FREE in PARTNER-DOWN once the
//# MCLT has passed since entering that state.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
//# Therefore the server operating
//# in PARTNER-DOWN state MUST use its own pool first for new
//# leases before assigning any leases from its downed partner pool.
#[test]
fn partner_down_own_pool_first_then_partner_pool_after_mclt() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    pair.partition();
    pair.settle();
    let sn = pair.snow();
    pair.s.ep.partner_down(sn, None).expect("partner down");
    // Exhaust the secondary's own prefixes.
    let mut own = 0;
    for i in 0..=255u8 {
        let now = pair.snow();
        let Some(r) = pair.s.ep.allocate(now, ResourceKind::Prefix, &client(i)) else {
            break;
        };
        let v = pair.s.ep.lease_bound(now, &r, Duration::from_secs(7200));
        pair.s
            .ep
            .record_lease(
                now,
                LeaseChange::Granted(dhcpv6_failover::LeaseGrant::new(client(i), r, v)),
            )
            .expect("grant");
        own += 1;
    }
    pair.settle();
    assert!(own > 80 && own < 180, "the secondary's own share: {own}");
    // Before PD entry + MCLT (600 s) nothing of the partner's.
    pair.run_for(Duration::from_secs(590));
    let c = dhcpv6_failover::ClientKey {
        duid: vec![9, 9],
        iaid: 9,
    };
    assert_eq!(
        pair.s.ep.allocate(pair.snow(), ResourceKind::Prefix, &c),
        None
    );
    pair.run_for(Duration::from_secs(20));
    assert!(
        pair.s
            .ep
            .allocate(pair.snow(), ResourceKind::Prefix, &c)
            .is_some(),
        "partner's pool after PD + MCLT"
    );
    // A release in PARTNER-DOWN: the prefix is reusable for another client after the MCLT.
    let held: Vec<_> = pair
        .s
        .ep
        .client_resources(&client(0), ResourceKind::Prefix)
        .map(|b| b.resource)
        .collect();
    let r = held[0];
    let sn = pair.snow();
    pair.s
        .ep
        .record_lease(
            sn,
            LeaseChange::Released {
                client: client(0),
                resource: r,
            },
        )
        .expect("release");
    pair.settle();
    assert!(!pair.s.ep.may_allocate(pair.snow(), &r));
    pair.run_for(Duration::from_secs(700));
    assert_eq!(
        pair.s.ep.binding(&r).map(|b| b.status),
        Some(BindingStatus::Free)
    );
    assert!(pair.s.ep.may_allocate(pair.snow(), &r));
}

/// Sim seeds 821057, 835016 (B22): the partner in PARTNER-DOWN keeps allocating, from our
/// pool too (after its entry + MCLT), while we wait out RECOVER-WAIT with the link down. On
/// reconnecting in RECOVER-DONE it goes NORMAL at once and sends those leases lazily, through
/// our MAX_UNACKED_BNDUPD window; we must not enter NORMAL (and allocate from our pool) before
/// they have all arrived.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.7.2
//# When a server in RECOVER-DONE state determines that its
//# partner server has entered NORMAL or RECOVER-DONE state,
//# then it will transition into NORMAL state.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
//# Any resource tagged as available for allocation by the
//# other server (at entry to PARTNER-DOWN state) MUST NOT be
//# allocated to a new client until the MCLT
//# beyond the entry into PARTNER-DOWN state has elapsed.
#[test]
fn recover_done_learns_the_partner_down_grants_before_normal() {
    let mut pc = config(Role::Primary);
    // A narrow window: the secondary's updates arrive a few at a time.
    pc.max_unacked_bndupd = 2;
    let mut pair = Pair::with_configs(pc, config(Role::Secondary));
    assert!(pair.connect());
    pair.crash(true);
    pair.settle();
    pair.run_for(Duration::from_secs(10));
    let sn = pair.snow();
    pair.s.ep.partner_down(sn, None).expect("partner down");
    pair.run_for(Duration::from_secs(60));
    // The primary comes back (database kept): RECOVER, UPDREQ, UPDDONE, RECOVER-WAIT.
    pair.restart(true, false);
    assert!(pair.run_until_states(
        State::RecoverWait,
        State::PartnerDown,
        Duration::from_secs(60)
    ));
    pair.partition();
    // After its entry + MCLT the secondary uses its own prefixes and then the primary's.
    pair.run_for(Duration::from_secs(600));
    let mut taken = Vec::new();
    for i in 0..200u8 {
        let (r, _) = pair
            .grant(
                false,
                &client(i),
                ResourceKind::Prefix,
                Duration::from_secs(7200),
            )
            .expect("the secondary in PARTNER-DOWN delegates");
        taken.push(r);
    }
    assert!(pair.run_until_states(
        State::RecoverDone,
        State::PartnerDown,
        Duration::from_secs(600)
    ));
    // Reconnect with the primary's storage slow: its BNDREPLYs wait, so the secondary's
    // updates stay queued behind the window.
    pair.p.hold_storage = true;
    pair.heal();
    let check = |pair: &Pair, when: &str| {
        if pair.p.state() != State::Normal {
            return;
        }
        let pn = pair.pnow();
        let unknown: Vec<_> = taken
            .iter()
            .filter(|r| pair.p.ep.may_allocate(pn, r))
            .collect();
        assert!(
            unknown.is_empty(),
            "{when}: the primary is NORMAL and may allocate {} prefixes the secondary \
             delegated in PARTNER-DOWN, e.g. {:?}",
            unknown.len(),
            unknown.first()
        );
    };
    for _ in 0..30 {
        pair.run_for(Duration::from_secs(1));
        check(&pair, "storage held");
    }
    pair.p.hold_storage = false;
    for w in std::mem::take(&mut pair.p.held) {
        let pn = pair.pnow();
        pair.p
            .ep
            .handle_storage_done(pn, w.id, Ok(()))
            .expect("ack");
    }
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(300)));
    check(&pair, "after the updates");
}

/// Sim seed 964732 (B24): a server that lost its database restarts into RECOVER without
/// reaching its partner, crashes again (database kept: the RECOVER record and no bindings)
/// and restarts. It still has no record of the partner's leases, so its request on the
/// next connection must be UPDREQALL; an UPDREQ brings only the updates the partner owes,
/// not the leases it had already acked.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
//# If the
//# server has determined that it has lost its stable storage
//# because it has no record of ever having talked to its
//# partner, while its partner does have a record of communicating
//# with it, it MUST send an UPDREQALL message, otherwise it
//# MUST send an UPDREQ message.
#[test]
fn restart_during_an_unfinished_rebuild_asks_for_everything_again() {
    let mut pair = Pair::new();
    assert!(pair.connect());
    let long = Duration::from_secs(3600);
    // The second grant, after the ack, gets the whole lifetime (worked example).
    let (r, _) = pair
        .grant(true, &client(1), ResourceKind::Address, long)
        .expect("grant");
    let (r2, v) = pair
        .grant(true, &client(1), ResourceKind::Address, long)
        .expect("renewal");
    assert_eq!((r2, v), (r, long));
    pair.run_for(Duration::from_secs(5));
    assert_eq!(
        pair.s.ep.binding(&r).map(|b| b.status),
        Some(BindingStatus::Active)
    );
    // The secondary loses its database and comes back while the link is down.
    pair.crash(false);
    pair.partition();
    pair.restart(false, true);
    pair.run_for(Duration::from_secs(40));
    assert_eq!(
        pair.s.state(),
        State::Recover,
        "STARTUP timed out into RECOVER"
    );
    // It crashes again, keeping what it had written: the RECOVER record, no bindings.
    pair.crash(false);
    pair.restart(false, false);
    pair.heal();
    assert!(pair.run_until_states(State::Normal, State::Normal, Duration::from_secs(2000)));
    let b = pair
        .s
        .ep
        .binding(&r)
        .expect("the secondary learned the lease again");
    assert_eq!(b.status, BindingStatus::Active);
    assert_eq!(b.client.as_ref(), Some(&client(1)));
}
