//! Accept or reject a partner's binding update: the time comparison with ±5 s equality and
//! the conflict-resolution table of RFC 8156 §7.5.4.

use crate::binding::{BindingStatus, ClientKey};
use crate::config::Role;
use crate::time::{Duration, UnixTime};

/// Why an update is rejected (mapped to an OPTION_STATUS_CODE in the BNDREPLY).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// OutdatedBindingInformation (19): this server's record is newer.
    Outdated,
    /// AddressInUse (16): bound to a different client here, and this server wins the tie.
    AddressInUse,
    /// ConfigurationConflict (17): the resource is not governed by this relationship.
    ConfigurationConflict,
    /// MissingBindingInformation (18): the update lacks what is needed to process it.
    MissingBindingInformation,
}

/// Accept or reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Take the update.
    Accept,
    /// Reject the update for this reason.
    Reject(RejectReason),
}

/// What the update says about one lease (times already skew-corrected).
#[derive(Clone, Copy, Debug)]
pub struct UpdateView<'a> {
    /// OPTION_F_BINDING_STATUS.
    pub status: BindingStatus,
    /// The client-last-transaction-time computed from OPTION_CLT_TIME, if present.
    pub clt: Option<UnixTime>,
    /// OPTION_F_START_TIME_OF_STATE, if present.
    pub start_time_of_state: Option<UnixTime>,
    /// OPTION_F_STATE_EXPIRATION_TIME, if present.
    pub state_expiration_time: Option<UnixTime>,
    /// The client (OPTION_CLIENTID + IAID), if any.
    pub client: Option<&'a ClientKey>,
}

/// What this server's database says about the lease.
#[derive(Clone, Copy, Debug)]
pub struct LocalView<'a> {
    /// Its binding status.
    pub status: BindingStatus,
    /// client-last-transaction-time.
    pub clt: Option<UnixTime>,
    /// start-time-of-state.
    pub start_time_of_state: UnixTime,
    /// state-expiration-time.
    pub state_expiration_time: Option<UnixTime>,
    /// The client it is bound to.
    pub client: Option<&'a ClientKey>,
}

/// The comparison time of an update: for ACTIVE, EXPIRED and RELEASED the CLT_TIME if present
/// else the START_TIME_OF_STATE; for the other statuses the later of the two.
pub fn update_time(u: &UpdateView<'_>) -> Option<UnixTime> {
    match u.status {
        BindingStatus::Active | BindingStatus::Expired | BindingStatus::Released => {
            u.clt.or(u.start_time_of_state)
        }
        _ => match (u.clt, u.start_time_of_state) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
    }
}

/// Decide whether to accept a partner's update about one lease.
///
/// `local` is `None` when this server has no record of the resource (then the update is
/// accepted). `tolerance` is the ±equality window (5 s by default).
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.4
//# The basic approach is to compare these times, and if the
//# one from the OPTION_CLIENT_DATA is clearly later, then accept
//# the information in the OPTION_CLIENT_DATA.  If the one from
//# the server's binding database is clearly later, then reject
//# the information in the OPTION_CLIENT_DATA.  The challenge
//# comes when they are essentially the same (i.e., +/- 5 seconds).
pub fn resolve(
    local: Option<&LocalView<'_>>,
    update: &UpdateView<'_>,
    now: UnixTime,
    role: Role,
    tolerance: Duration,
) -> Decision {
    let Some(local) = local else {
        return Decision::Accept;
    };
    let Some(t_upd) = update_time(update) else {
        return Decision::Reject(RejectReason::MissingBindingInformation);
    };
    let t_db = local.clt.unwrap_or(local.start_time_of_state);
    let same_client = match (local.client, update.client) {
        (Some(a), Some(b)) => a == b,
        // Without a client on one side there is no competing binding.
        _ => true,
    };
    // An ACTIVE update for a different client than our still-running ACTIVE binding is a
    // question of who owns the address, not of freshness: resolved by accept(3) below whatever
    // the times.
    let local_running = local.state_expiration_time.is_none_or(|exp| now <= exp);
    // Regression (sim finding B2): an expiry cannot be newer than a lease that has not run
    // out. A partner's EXPIRED / FREE / FREE-BACKUP about a lease that is ACTIVE and running
    // here is judged by time(1) whatever its timestamp (the partner only noticed its older
    // copy lapse; the client renewed here meanwhile).
    // The same holds for another client's RELEASED: that release ended an earlier lease, not
    // the one running here (sim seed 114756: client 3's RELEASED, re-sent after the resource
    // had gone to client 1, freed client 1's lease at the primary).
    if local.status == BindingStatus::Active
        && local_running
        && (matches!(
            update.status,
            BindingStatus::Expired
                | BindingStatus::Free
                | BindingStatus::FreeBackup
                | BindingStatus::PendingFree
        ) || (update.status == BindingStatus::Released && !same_client))
    {
        return Decision::Reject(RejectReason::Outdated);
    }
    // Symmetrically, an ACTIVE lease the partner reports as running beyond now supersedes a
    // local EXPIRED / FREE / FREE-BACKUP record: nobody holds the resource here, and the
    // partner extended the lease after this server's copy lapsed.
    if update.status == BindingStatus::Active
        && update.state_expiration_time.is_some_and(|e| e > now)
        && (matches!(
            local.status,
            BindingStatus::Expired
                | BindingStatus::Free
                | BindingStatus::FreeBackup
                | BindingStatus::PendingFree
        ) || (local.status == BindingStatus::Released && !same_client))
    {
        return Decision::Accept;
    }
    let ownership_question = local.status == BindingStatus::Active
        && update.status == BindingStatus::Active
        && !same_client
        && local_running;
    if !ownership_question {
        if t_upd.as_secs() > t_db.as_secs().saturating_add(tolerance.as_secs()) {
            return Decision::Accept;
        }
        if t_upd.as_secs().saturating_add(tolerance.as_secs()) < t_db.as_secs() {
            return Decision::Reject(RejectReason::Outdated);
        }
    }
    table(local, update, t_upd, t_db, now, role)
}

/// Both records name a client, and it is the same one.
fn same_known_client(local: &LocalView<'_>, update: &UpdateView<'_>) -> bool {
    matches!((local.client, update.client), (Some(a), Some(b)) if a == b)
}

/// The conflict-resolution table for times that are "the same" (±5 s).
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.4
//# (1,2,3): If rejecting, use reject reason "OutdatedBindingInformation".
fn table(
    local: &LocalView<'_>,
    update: &UpdateView<'_>,
    t_upd: UnixTime,
    t_db: UnixTime,
    now: UnixTime,
    role: Role,
) -> Decision {
    use BindingStatus::*;
    // accept: within the ±5 s window the plain comparison still decides, so two updates that
    // cross on the wire resolve the same way on both sides (regression: simulation seed 1219,
    // an ABANDONED and an ACTIVE crossed and each side took the other's). Identical times: the
    // primary's record wins, as in accept(3).
    // A tie where the update is the next step of the lease's life (RELEASED → FREE-BACKUP in
    // the same second) is a progression, not a competing record: accept it (regression:
    // simulation seed 2856, where a rejected FREE-BACKUP left the primary holding a stale
    // RELEASED).
    let successor = matches!(
        (local.status, update.status),
        (
            Expired | Released | Reset | PendingFree,
            Free | FreeBackup | PendingFree
        ) | (Free | FreeBackup, Active)
            | (Active, Expired | Released | Abandoned)
            | (Abandoned, Reset)
    );
    let accept = || {
        if t_upd > t_db || (t_upd == t_db && (successor || role == Role::Secondary)) {
            Decision::Accept
        } else {
            Decision::Reject(RejectReason::Outdated)
        }
    };
    // time(1): the receiver's own ACTIVE lease has really run out.
    let time1 = || match local.state_expiration_time {
        Some(exp) => now > exp,
        None => true,
    };
    // time(2): the update's CLT_TIME is later than the receiver's start-time-of-state.
    let time2 = || update.clt.is_some_and(|c| c > local.start_time_of_state);
    let ok = |b: bool| {
        if b {
            Decision::Accept
        } else {
            Decision::Reject(RejectReason::Outdated)
        }
    };
    let upd = match update.status {
        PendingFree => Free,
        s => s,
    };
    match (local.status, upd) {
        (Active, Active) => {
            let same = match (local.client, update.client) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.4
            //# If the client in an OPTION_CLIENT_DATA option and in a receiving server's
            //# binding differ, then if the receiving server is a secondary accept it, else
            //# reject it with a reject reason of "AddressInUse".
            if same || time2() || role == Role::Secondary {
                Decision::Accept
            } else {
                Decision::Reject(RejectReason::AddressInUse)
            }
        }
        (Active, Expired | Free | FreeBackup) => ok(time1()),
        // Regression (sim seeds 327988, 695117): within the window it is not known whether the
        // client declined before or after the partner gave it the lease again. At equal times
        // the tie rules of `accept` (successor / the primary wins) made both sides keep the
        // ABANDONED (327988); 1.6 s apart, two clocks that differ by more than that (within
        // the tolerance) ordered the two records the wrong way round on both sides, and both
        // kept the ABANDONED again (695117). A lease that runs beyond now may be in use; a
        // declined one kept bound until it expires only idles. So inside the window the same
        // client's running ACTIVE wins over its ABANDONED on both sides: the decline is
        // rejected here and the ACTIVE accepted below. Clearly later times still decide.
        (Active, Abandoned) if same_known_client(local, update) && !time1() => {
            Decision::Reject(RejectReason::Outdated)
        }
        (Abandoned, Active)
            if same_known_client(local, update)
                && update.state_expiration_time.is_some_and(|e| e > now) =>
        {
            Decision::Accept
        }
        (Active, Released | Reset | Abandoned) => accept(),
        (Reset, Active) => ok(time2()),
        _ => accept(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BindingStatus::*;
    use alloc::vec;

    const T: u64 = 1_000_000;

    fn t(s: u64) -> UnixTime {
        UnixTime::from_secs(s)
    }

    fn five() -> Duration {
        Duration::from_secs(5)
    }

    fn local(status: BindingStatus, client: Option<&ClientKey>) -> LocalView<'_> {
        LocalView {
            status,
            clt: Some(t(T)),
            start_time_of_state: t(T - 100),
            state_expiration_time: Some(t(T + 1000)),
            client,
        }
    }

    fn upd(status: BindingStatus, clt: u64, client: Option<&ClientKey>) -> UpdateView<'_> {
        UpdateView {
            status,
            clt: Some(t(clt)),
            start_time_of_state: Some(t(clt - 10)),
            state_expiration_time: None,
            client,
        }
    }

    /// Sim seed 327988: the same client's ABANDONED (its decline at one server) and running
    /// ACTIVE (the partner gave it the lease again) cross with equal times: both servers
    /// keep the ACTIVE, the primary too (before, both took the ABANDONED and the client lost
    /// the lease it held). Sim seed 695117: the same inside the window with different times
    /// (two clocks within the tolerance can order them either way).
    #[test]
    fn same_clients_running_active_beats_its_abandoned_within_the_window() {
        let c = ClientKey {
            duid: vec![6],
            iaid: 2,
        };
        let other = ClientKey {
            duid: vec![7],
            iaid: 2,
        };
        let now = t(T);
        let active_here = local(Active, Some(&c));
        for role in [Role::Primary, Role::Secondary] {
            for d in [T - 4, T - 2, T, T + 2, T + 4] {
                assert_eq!(
                    resolve(
                        Some(&active_here),
                        &upd(Abandoned, d, Some(&c)),
                        now,
                        role,
                        five()
                    ),
                    Decision::Reject(RejectReason::Outdated),
                    "{role:?}: ABANDONED at {d} vs running ACTIVE at {T}"
                );
                let mut abandoned_here = local(Abandoned, Some(&c));
                abandoned_here.state_expiration_time = None;
                let mut running = upd(Active, d, Some(&c));
                running.state_expiration_time = Some(t(T + 500));
                assert_eq!(
                    resolve(Some(&abandoned_here), &running, now, role, five()),
                    Decision::Accept,
                    "{role:?}: running ACTIVE at {d} vs ABANDONED at {T}"
                );
            }
            // Clearly later still decides, and another client's decline is the table's accept.
            assert_eq!(
                resolve(
                    Some(&active_here),
                    &upd(Abandoned, T + 6, Some(&c)),
                    now,
                    role,
                    five()
                ),
                Decision::Accept
            );
            assert_eq!(
                resolve(
                    Some(&active_here),
                    &upd(Abandoned, T + 1, Some(&other)),
                    now,
                    role,
                    five()
                ),
                Decision::Accept
            );
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.4
    //# The basic approach is to compare these times, and if the
    //# one from the OPTION_CLIENT_DATA is clearly later, then accept
    //# the information in the OPTION_CLIENT_DATA.  If the one from
    //# the server's binding database is clearly later, then reject
    //# the information in the OPTION_CLIENT_DATA.  The challenge
    //# comes when they are essentially the same (i.e., +/- 5 seconds).
    #[test]
    fn clearly_later_or_earlier_decides_without_the_table() {
        let c = ClientKey {
            duid: vec![1],
            iaid: 1,
        };
        let l = local(Active, Some(&c));
        let now = t(T);
        assert_eq!(
            resolve(
                Some(&l),
                &upd(Released, T + 6, Some(&c)),
                now,
                Role::Primary,
                five()
            ),
            Decision::Accept
        );
        assert_eq!(
            resolve(
                Some(&l),
                &upd(Expired, T - 6, Some(&c)),
                now,
                Role::Primary,
                five()
            ),
            Decision::Reject(RejectReason::Outdated)
        );
        // Within ±5 s it is the table: ACTIVE vs EXPIRED is time(1), our lease has not run out
        // (and since sim finding B2, a running ACTIVE is judged by time(1) at any distance).
        for d in [T - 5, T, T + 5] {
            assert_eq!(
                resolve(
                    Some(&l),
                    &upd(Expired, d, Some(&c)),
                    now,
                    Role::Primary,
                    five()
                ),
                Decision::Reject(RejectReason::Outdated),
                "clt {d}"
            );
        }
        // No record at all: accept.
        assert_eq!(
            resolve(None, &upd(Active, T, Some(&c)), now, Role::Primary, five()),
            Decision::Accept
        );
        // No time in the update at all: missing information.
        let bare = UpdateView {
            status: Active,
            clt: None,
            start_time_of_state: None,
            state_expiration_time: None,
            client: Some(&c),
        };
        assert_eq!(
            resolve(Some(&l), &bare, now, Role::Primary, five()),
            Decision::Reject(RejectReason::MissingBindingInformation)
        );
    }

    /// Every cell of the table with equal times, before and after the receiver's own lease
    /// ran out.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.4
    //# (1,2,3): If rejecting, use reject reason "OutdatedBindingInformation".
    #[test]
    fn table_cells_with_equal_times() {
        let c = ClientKey {
            duid: vec![1],
            iaid: 1,
        };
        let a = Decision::Accept;
        let r = Decision::Reject(RejectReason::Outdated);
        let rows = [
            Active, Expired, Released, Free, FreeBackup, Reset, Abandoned,
        ];
        let cols = [
            Active, Expired, Released, Free, FreeBackup, Reset, Abandoned,
        ];
        // Same client, update 2 s later (inside the ±5 s window), receiver's lease still
        // running (now < state-expiration).
        let before: [[Decision; 7]; 7] = [
            //   ACTIVE EXPIRED RELEASED FREE FREE-B RESET ABANDONED
            // ACTIVE: accept(3) same client, time(1) fails, accept; the same client's
            // ABANDONED loses to its running ACTIVE inside the window (sim seed 695117)
            [a, r, a, r, r, a, r],
            [a, a, a, a, a, a, a], // EXPIRED
            [a, a, a, a, a, a, a], // RELEASED
            [a, a, a, a, a, a, a], // FREE
            [a, a, a, a, a, a, a], // FREE-BACKUP
            [r, a, a, a, a, a, a], // RESET: time(2) fails (update CLT T+2, our RESET began T+3)
            [a, a, a, a, a, a, a], // ABANDONED
        ];
        for (i, row) in rows.iter().enumerate() {
            for (j, col) in cols.iter().enumerate() {
                let mut l = local(*row, Some(&c));
                // For the RESET row make time(2) fail: the update's CLT is not after our start.
                if *row == Reset {
                    l.start_time_of_state = t(T + 3);
                }
                let got = resolve(
                    Some(&l),
                    &upd(*col, T + 2, Some(&c)),
                    t(T),
                    Role::Primary,
                    five(),
                );
                assert_eq!(got, before[i][j], "receiver {row:?} update {col:?}");
                // 2 s earlier: every "accept" cell rejects, only accept(3) for the same client
                // still accepts.
                let earlier = resolve(
                    Some(&l),
                    &upd(*col, T - 2, Some(&c)),
                    t(T),
                    Role::Primary,
                    five(),
                );
                let want = if *row == Active && *col == Active {
                    a
                } else {
                    r
                };
                assert_eq!(earlier, want, "earlier: receiver {row:?} update {col:?}");
                // Identical times: the secondary yields, the primary keeps its record.
                if *row != Active && *row != Reset {
                    let same_p = resolve(
                        Some(&l),
                        &upd(*col, T, Some(&c)),
                        t(T),
                        Role::Primary,
                        five(),
                    );
                    let same_s = resolve(
                        Some(&l),
                        &upd(*col, T, Some(&c)),
                        t(T),
                        Role::Secondary,
                        five(),
                    );
                    // ...unless the update is the next step of the lease's life.
                    let next = matches!(
                        (*row, *col),
                        (Expired | Released | Reset, Free | FreeBackup)
                            | (Free | FreeBackup, Active)
                            | (Abandoned, Reset)
                    );
                    assert_eq!(
                        (same_p, same_s),
                        (if next { a } else { r }, a),
                        "tie: receiver {row:?} update {col:?}"
                    );
                }
            }
        }
        // time(1) passes once our lease has run out.
        let l = local(Active, Some(&c));
        assert_eq!(
            resolve(
                Some(&l),
                &upd(Expired, T, Some(&c)),
                t(T + 2000),
                Role::Primary,
                five()
            ),
            a
        );
        assert_eq!(
            resolve(
                Some(&l),
                &upd(Free, T, Some(&c)),
                t(T + 2000),
                Role::Primary,
                five()
            ),
            a
        );
        // time(2) passes when the update's CLT is after our RESET began.
        let l = local(Reset, Some(&c));
        assert_eq!(
            resolve(
                Some(&l),
                &upd(Active, T, Some(&c)),
                t(T),
                Role::Primary,
                five()
            ),
            a
        );
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-7.5.4
    //# If the client in an OPTION_CLIENT_DATA option and in a receiving server's
    //# binding differ, then if the receiving server is a secondary accept it, else
    //# reject it with a reject reason of "AddressInUse".
    #[test]
    fn accept3_different_client() {
        let c1 = ClientKey {
            duid: vec![1],
            iaid: 1,
        };
        let c2 = ClientKey {
            duid: vec![2],
            iaid: 1,
        };
        let mut l = local(Active, Some(&c1));
        l.start_time_of_state = t(T + 100);
        let u = upd(Active, T, Some(&c2));
        // Primary keeps its client, even against a "clearly later" update.
        assert_eq!(
            resolve(Some(&l), &u, t(T), Role::Primary, five()),
            Decision::Reject(RejectReason::AddressInUse)
        );
        let later = upd(Active, T + 50, Some(&c2));
        assert_eq!(
            resolve(Some(&l), &later, t(T), Role::Primary, five()),
            Decision::Reject(RejectReason::AddressInUse)
        );
        // Secondary yields.
        assert_eq!(
            resolve(Some(&l), &u, t(T), Role::Secondary, five()),
            Decision::Accept
        );
        // time(2) holds: the other client's transaction is after our binding began.
        l.start_time_of_state = t(T - 100);
        assert_eq!(
            resolve(Some(&l), &u, t(T), Role::Primary, five()),
            Decision::Accept
        );
    }

    /// Regression for sim finding B2 (seed 244): a stale EXPIRED with a "clearly later"
    /// start-time must not free a lease that is still running here, and the running ACTIVE must
    /// win over the partner's lapsed copy.
    #[test]
    fn stale_expiry_never_beats_a_running_lease() {
        let c = ClientKey {
            duid: vec![4],
            iaid: 4,
        };
        // Receiver: ACTIVE, last client contact at T, running until T + 1000.
        let l = local(Active, Some(&c));
        for st in [Expired, Free, FreeBackup] {
            let u = UpdateView {
                status: st,
                clt: None,
                start_time_of_state: Some(t(T + 20)),
                state_expiration_time: None,
                client: Some(&c),
            };
            assert_eq!(
                resolve(Some(&l), &u, t(T + 30), Role::Primary, five()),
                Decision::Reject(RejectReason::Outdated),
                "{st:?}"
            );
            // Once the receiver's lease has run out, the later update wins.
            assert_eq!(
                resolve(Some(&l), &u, t(T + 2000), Role::Primary, five()),
                Decision::Accept
            );
        }
        // The other side: its copy is EXPIRED since T + 20; the running ACTIVE (CLT T, until
        // T + 1000) is accepted although its CLT is older than that EXPIRED.
        let mut lx = local(Expired, Some(&c));
        lx.clt = None;
        lx.start_time_of_state = t(T + 20);
        lx.state_expiration_time = None;
        let u = UpdateView {
            status: Active,
            clt: Some(t(T)),
            start_time_of_state: Some(t(T - 100)),
            state_expiration_time: Some(t(T + 1000)),
            client: Some(&c),
        };
        assert_eq!(
            resolve(Some(&lx), &u, t(T + 30), Role::Secondary, five()),
            Decision::Accept
        );
        // A lapsed ACTIVE update does not.
        let old = UpdateView {
            state_expiration_time: Some(t(T + 25)),
            ..u
        };
        assert_eq!(
            resolve(Some(&lx), &old, t(T + 30), Role::Secondary, five()),
            Decision::Reject(RejectReason::Outdated)
        );
    }

    #[test]
    fn update_time_rules() {
        let u = UpdateView {
            status: Free,
            clt: Some(t(10)),
            start_time_of_state: Some(t(20)),
            state_expiration_time: None,
            client: None,
        };
        assert_eq!(update_time(&u), Some(t(20)));
        let u = UpdateView {
            status: Active,
            clt: Some(t(10)),
            start_time_of_state: Some(t(20)),
            state_expiration_time: None,
            client: None,
        };
        assert_eq!(update_time(&u), Some(t(10)));
        let u = UpdateView {
            status: Released,
            clt: None,
            start_time_of_state: Some(t(20)),
            state_expiration_time: None,
            client: None,
        };
        assert_eq!(update_time(&u), Some(t(20)));
    }
}
