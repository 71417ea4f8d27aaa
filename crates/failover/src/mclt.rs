//! Maximum Client Lead Time arithmetic (RFC 8156 §4.4, §8.4.1, §8.8.1, §8.9.1) and the
//! PARTNER-DOWN waiting rules.
//!
//! All functions are pure; the [`Endpoint`](crate::Endpoint) feeds them the binding's times.

use crate::binding::Binding;
use crate::state::State;
use crate::time::{Duration, UnixTime};

/// Failover must not be used for leases shorter than this.
//= https://www.rfc-editor.org/rfc/rfc8156#section-1
//# failover MUST NOT be used for leases shorter than 30 seconds
pub const MIN_LEASE: Duration = Duration::from_secs(30);

/// The latest valid-lifetime end this server may tell a client in state `state`, given the
/// binding's times (`None` for a lease this server has no record of), or `None` when the state
/// puts no MCLT limit on it (PARTNER-DOWN). Returns `Some(now)` in states that must not grant.
///
/// * NORMAL, CONFLICT-DONE: `MCLT + max(acked-partner-lifetime, now)`.
/// * RECOVER-DONE: `MCLT + acked-partner-lifetime` (the partner may still be in
///   PARTNER-DOWN); `now` (nothing may be granted) without an acked partner-lifetime.
/// * COMMUNICATIONS-INTERRUPTED, RESOLUTION-INTERRUPTED: the base also includes the
///   partner-lifetime received from the partner (stored as expiration-time).
/// * PARTNER-DOWN: unrestricted.
///
/// The times of a binding that is available (FREE / FREE-BACKUP) are not used: they belong to
/// a lease that has ended, and a new lease on the resource is a first grant.
pub fn max_client_expiry(
    state: State,
    mclt: Duration,
    now: UnixTime,
    binding: Option<&Binding>,
) -> Option<UnixTime> {
    // The times of an available (FREE / FREE-BACKUP) resource belong to the lease it held
    // before: the partner acked them for that lease, which both sides have since agreed is
    // over. A new lease on it is a new client's first grant, so its base is `now` alone. The
    // partner relies on that: in PARTNER-DOWN it takes over resources that were available at
    // its entry after only the MCLT (sim seed 719561: a stale acked-partner-lifetime gave a
    // new client 405 s instead of the MCLT, and the partner in PARTNER-DOWN reused the prefix
    // while that client still held it).
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
    //# Any resource tagged as available for allocation by the
    //# other server (at entry to PARTNER-DOWN state) MUST NOT be
    //# allocated to a new client until the MCLT
    //# beyond the entry into PARTNER-DOWN state has elapsed.
    let binding = binding.filter(|b| !b.status.is_available());
    let acked = binding.and_then(|b| b.acked_partner_lifetime);
    match state {
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
        //# The server is not restricted by the MCLT when offering
        //# lease times while in PARTNER-DOWN state.
        State::PartnerDown => None,
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.1
        //# the
        //# lease interval given to a DHCP client can never be more than the
        //# MCLT greater than the most recently received
        //# potential-expiration-time from the failover partner or the current time,
        //# whichever is later.
        State::Normal | State::ConflictDone => Some(acked.map_or(now, |a| a.max(now)) + mclt),
        // RECOVER-DONE: the partner is still in PARTNER-DOWN (or another state it entered
        // while we were down) until it has seen our RECOVER-DONE, and a partner in
        // PARTNER-DOWN may give the resource away at the MCLT beyond the times it knows,
        // with no later PARTNER-DOWN entry to wait for. So `now` is not a base here: only
        // what the partner acked (sim seeds 413880, 471078; `docs/design/failover-choices.md`).
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
        //# A server in PARTNER-DOWN state MUST NOT allocate a resource
        //# to a DHCP client different from that to which it was
        //# allocated at the entrance to PARTNER-DOWN state until the
        //# MCLT beyond the maximum of the following
        //# times: client expiration time, most recently transmitted
        //# potential-expiration-time, most recently received ack of
        //# potential-expiration-time from the partner, and most recently
        //# acked potential-expiration-time to the partner.
        State::RecoverDone => Some(acked.map_or(now, |a| a + mclt)),
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.1
        //# the renewal period MUST NOT
        //# exceed the maximum client lead time (MCLT) beyond the latest
        //# of: 1) the potential valid lifetime already acknowledged by
        //# the other server, or 2) now, or 3) the potential valid lifetime
        //# received from the partner server.
        State::CommunicationsInterrupted | State::ResolutionInterrupted => {
            let received = binding.and_then(|b| b.expiration_time);
            let base = [acked, received]
                .into_iter()
                .flatten()
                .fold(now, UnixTime::max);
            Some(base + mclt)
        }
        State::Startup | State::PotentialConflict | State::Recover | State::RecoverWait => {
            Some(now)
        }
    }
}

/// The valid lifetime this server may grant now: `desired` clipped to the MCLT bound of
/// `state`, never below the 30-second floor (a desired lifetime below it is raised to it).
/// Returns zero in states that must not grant, and when the bound leaves less than the floor
/// (only possible in RECOVER-DONE: the MCLT itself is validated to be at least 30 s).
pub fn lease_bound(
    state: State,
    mclt: Duration,
    now: UnixTime,
    binding: Option<&Binding>,
    desired: Duration,
) -> Duration {
    let Some(limit) = max_client_expiry(state, mclt, now, binding) else {
        return desired.max(MIN_LEASE);
    };
    if limit <= now {
        return Duration::ZERO;
    }
    let allowed = limit.saturating_duration_since(now);
    // Only RECOVER-DONE's bound (acked-partner-lifetime + MCLT) can come closer than the
    // floor: raising it would pass the bound, so nothing may be granted.
    if allowed < MIN_LEASE {
        return Duration::ZERO;
    }
    desired.max(MIN_LEASE).min(allowed)
}

/// The OPTION_F_PARTNER_LIFETIME to send for a lease just granted or renewed: the policy of
/// the worked example, `now + T1 + desired valid lifetime`, so that a client renewing at T1 can
/// be given the full desired lifetime without exceeding the MCLT bound.
//= https://www.rfc-editor.org/rfc/rfc8156#section-4.4.1
//# BNDUPD with partner-lifetime = now + 1/2 hour + 3 days
pub fn partner_lifetime_for(
    now: UnixTime,
    t1: Duration,
    granted_valid: Duration,
    desired_valid: Duration,
) -> UnixTime {
    now + t1 + desired_valid.max(granted_valid)
}

/// The earliest time a server in PARTNER-DOWN may give the resource of `binding` to a client
/// different from the one it was bound to:
/// `MCLT + max(client expiry, partner-lifetime sent, acked-partner-lifetime, expiration-time,
/// and for EXPIRED/RELEASED/RESET the start of that status)`, but never before PARTNER-DOWN
/// entry + MCLT. This is the reading of §8.4.1 (see `docs/design/failover-choices.md`).
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
//# A server in PARTNER-DOWN state MUST NOT allocate a resource
//# to a DHCP client different from that to which it was
//# allocated at the entrance to PARTNER-DOWN state until the
//# MCLT beyond the maximum of the following
//# times: client expiration time, most recently transmitted
//# potential-expiration-time, most recently received ack of
//# potential-expiration-time from the partner, and most recently
//# acked potential-expiration-time to the partner.
pub fn partner_down_reuse_time(
    binding: &Binding,
    partner_down_since: UnixTime,
    mclt: Duration,
) -> UnixTime {
    let status_start = binding
        .status
        .awaits_ack_before_free()
        .then_some(binding.start_time_of_state);
    let latest = [binding.latest_known_lifetime(), status_start]
        .into_iter()
        .flatten()
        .max();
    let floor = partner_down_since + mclt;
    latest.map_or(floor, |t| (t + mclt).max(floor))
}

/// The earliest time a server in PARTNER-DOWN may allocate a resource that was available to
/// the partner (FREE-BACKUP for the primary, FREE for the secondary, the partner's half of an
/// independent pool): PARTNER-DOWN entry + MCLT.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
//# Any resource tagged as available for allocation by the
//# other server (at entry to PARTNER-DOWN state) MUST NOT be
//# allocated to a new client until the MCLT
//# beyond the entry into PARTNER-DOWN state has elapsed.
pub fn partner_pool_usable_from(partner_down_since: UnixTime, mclt: Duration) -> UnixTime {
    partner_down_since + mclt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::{BindingStatus, Resource};
    use core::net::Ipv6Addr;

    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// The worked example of RFC 8156 §4.4.1 (MCLT 1 h, desired lifetime 3 days, T1 = 1/2).
    //= https://www.rfc-editor.org/rfc/rfc8156#section-4.4.1
    //# BNDUPD with partner-lifetime = now + 1/2 hour + 3 days
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.1
    //# the
    //# lease interval given to a DHCP client can never be more than the
    //# MCLT greater than the most recently received
    //# potential-expiration-time from the failover partner or the current time,
    //# whichever is later.
    #[test]
    fn worked_example_mclt_1h_desired_3d() {
        let mclt = secs(HOUR);
        let desired = secs(3 * DAY);
        let t0 = UnixTime::from_secs(1_800_000_000);
        let mut b = Binding::new(
            Resource::Address(Ipv6Addr::LOCALHOST),
            BindingStatus::Active,
            t0,
        );

        // 1. A new client: nothing acked by the partner ⇒ the client gets the MCLT (1 h).
        let v1 = lease_bound(State::Normal, mclt, t0, Some(&b), desired);
        assert_eq!(v1, secs(HOUR));
        // ...and the BNDUPD carries partner-lifetime = now + 1/2 h + 3 d.
        let pl1 = partner_lifetime_for(t0, v1 / 2, v1, desired);
        assert_eq!(pl1, t0 + secs(HOUR / 2 + 3 * DAY));

        // 2. The partner acks it.
        b.acked_partner_lifetime = Some(pl1);

        // 3. The client renews at T1 (1/2 h later): remaining acked time is 3 d, plus MCLT is
        //    3 d 1 h ≥ 3 d ⇒ the full 3 days.
        let t1 = t0 + secs(HOUR / 2);
        let v2 = lease_bound(State::Normal, mclt, t1, Some(&b), desired);
        assert_eq!(v2, desired);
        // ...and the next BNDUPD carries now + 1.5 d + 3 d = now + 4.5 d.
        let pl2 = partner_lifetime_for(t1, v2 / 2, v2, desired);
        assert_eq!(pl2, t1 + secs(4 * DAY + DAY / 2));
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.1
    //# the renewal period MUST NOT
    //# exceed the maximum client lead time (MCLT) beyond the latest
    //# of: 1) the potential valid lifetime already acknowledged by
    //# the other server, or 2) now, or 3) the potential valid lifetime
    //# received from the partner server.
    #[test]
    fn comm_interrupted_bound_includes_received_partner_lifetime() {
        let mclt = secs(HOUR);
        let now = UnixTime::from_secs(1_000_000);
        let mut b = Binding::new(
            Resource::Address(Ipv6Addr::LOCALHOST),
            BindingStatus::Active,
            now,
        );
        b.expiration_time = Some(now + secs(5 * HOUR));
        assert_eq!(
            lease_bound(
                State::CommunicationsInterrupted,
                mclt,
                now,
                Some(&b),
                secs(DAY)
            ),
            secs(6 * HOUR)
        );
        assert_eq!(
            lease_bound(State::ResolutionInterrupted, mclt, now, Some(&b), secs(DAY)),
            secs(6 * HOUR)
        );
        // NORMAL does not count the received lifetime.
        assert_eq!(
            lease_bound(State::Normal, mclt, now, Some(&b), secs(DAY)),
            secs(HOUR)
        );
        // No record at all: MCLT.
        assert_eq!(
            lease_bound(State::CommunicationsInterrupted, mclt, now, None, secs(DAY)),
            secs(HOUR)
        );
        // The bound shrinks toward the MCLT as time passes without acks.
        let later = now + secs(4 * HOUR);
        assert_eq!(
            lease_bound(
                State::CommunicationsInterrupted,
                mclt,
                later,
                Some(&b),
                secs(DAY)
            ),
            secs(2 * HOUR)
        );
    }

    /// Sim seed 719561 (B21): a FREE prefix still carried the acked-partner-lifetime of the
    /// lease it held before; a new client must get the MCLT, not that lifetime plus the MCLT.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
    //# Any resource tagged as available for allocation by the
    //# other server (at entry to PARTNER-DOWN state) MUST NOT be
    //# allocated to a new client until the MCLT
    //# beyond the entry into PARTNER-DOWN state has elapsed.
    #[test]
    fn available_resource_ignores_the_previous_leases_times() {
        let mclt = secs(HOUR);
        let now = UnixTime::from_secs(1_000_000);
        let r = Resource::Address(Ipv6Addr::LOCALHOST);
        for status in [BindingStatus::Free, BindingStatus::FreeBackup] {
            let mut b = Binding::new(r, status, now);
            b.acked_partner_lifetime = Some(now + secs(5 * HOUR));
            b.expiration_time = Some(now + secs(5 * HOUR));
            for state in [State::Normal, State::CommunicationsInterrupted] {
                assert_eq!(
                    lease_bound(state, mclt, now, Some(&b), secs(DAY)),
                    secs(HOUR),
                    "{status:?} in {state}"
                );
            }
            assert_eq!(
                lease_bound(State::RecoverDone, mclt, now, Some(&b), secs(DAY)),
                Duration::ZERO,
                "{status:?} in RECOVER-DONE"
            );
            // The same times on the running lease still lead the client.
            b.status = BindingStatus::Active;
            assert_eq!(
                lease_bound(State::Normal, mclt, now, Some(&b), secs(DAY)),
                secs(6 * HOUR)
            );
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
    //# The server is not restricted by the MCLT when offering
    //# lease times while in PARTNER-DOWN state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-1
    //# failover MUST NOT be used for leases shorter than 30 seconds
    #[test]
    fn partner_down_unrestricted_floor_and_unresponsive_states() {
        let mclt = secs(HOUR);
        let now = UnixTime::from_secs(1_000_000);
        assert_eq!(
            lease_bound(State::PartnerDown, mclt, now, None, secs(7 * DAY)),
            secs(7 * DAY)
        );
        assert_eq!(
            lease_bound(State::Normal, mclt, now, None, secs(10)),
            MIN_LEASE
        );
        assert_eq!(
            lease_bound(State::PartnerDown, mclt, now, None, secs(10)),
            MIN_LEASE
        );
        for s in [
            State::Startup,
            State::PotentialConflict,
            State::Recover,
            State::RecoverWait,
        ] {
            assert_eq!(
                lease_bound(s, mclt, now, None, secs(DAY)),
                Duration::ZERO,
                "{s}"
            );
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
    //# A server in PARTNER-DOWN state MUST NOT allocate a resource
    //# to a DHCP client different from that to which it was
    //# allocated at the entrance to PARTNER-DOWN state until the
    //# MCLT beyond the maximum of the following
    //# times: client expiration time, most recently transmitted
    //# potential-expiration-time, most recently received ack of
    //# potential-expiration-time from the partner, and most recently
    //# acked potential-expiration-time to the partner.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.1
    //# Any resource tagged as available for allocation by the
    //# other server (at entry to PARTNER-DOWN state) MUST NOT be
    //# allocated to a new client until the MCLT
    //# beyond the entry into PARTNER-DOWN state has elapsed.
    #[test]
    fn partner_down_waiting_rules() {
        let mclt = secs(HOUR);
        let pd = UnixTime::from_secs(2_000_000);
        let r = Resource::Address(Ipv6Addr::LOCALHOST);
        // A lease whose client expiry is well after PD entry: expiry + MCLT.
        let mut b = Binding::new(r, BindingStatus::Active, pd - secs(DAY));
        b.state_expiration_time = Some(pd + secs(5 * HOUR));
        b.acked_partner_lifetime = Some(pd + secs(3 * HOUR));
        assert_eq!(partner_down_reuse_time(&b, pd, mclt), pd + secs(6 * HOUR));
        // The partner-lifetime we sent is later still: it wins.
        b.partner_lifetime = Some(pd + secs(8 * HOUR));
        assert_eq!(partner_down_reuse_time(&b, pd, mclt), pd + secs(9 * HOUR));
        // A lease long expired: never before PD entry + MCLT.
        let mut old = Binding::new(r, BindingStatus::Expired, pd - secs(10 * DAY));
        old.expiration_time = Some(pd - secs(9 * DAY));
        assert_eq!(partner_down_reuse_time(&old, pd, mclt), pd + mclt);
        // Released after PD entry: MCLT after the release.
        let rel = Binding::new(r, BindingStatus::Released, pd + secs(2 * HOUR));
        assert_eq!(partner_down_reuse_time(&rel, pd, mclt), pd + secs(3 * HOUR));
        assert_eq!(partner_pool_usable_from(pd, mclt), pd + mclt);
    }
}
