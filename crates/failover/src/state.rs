//! The failover endpoint states (RFC 8156 §4.1 values), client-facing responsiveness, and the
//! endpoint state machine of §8 as pure functions.
//!
//! The functions here decide *which* state comes next. The [`Endpoint`](crate::Endpoint) does
//! the side effects: persisting the new state, then announcing it with STATE.

use crate::config::Role;
use crate::time::UnixTime;

/// The state of a failover endpoint (OPTION_F_SERVER_STATE values of the final RFC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum State {
    /// STARTUP (1): probing the partner before serving clients. Never sent on the wire.
    Startup,
    /// NORMAL (2).
    Normal,
    /// COMMUNICATIONS-INTERRUPTED (3).
    CommunicationsInterrupted,
    /// PARTNER-DOWN (4).
    PartnerDown,
    /// POTENTIAL-CONFLICT (5).
    PotentialConflict,
    /// RECOVER (6).
    Recover,
    /// RECOVER-WAIT (7).
    RecoverWait,
    /// RECOVER-DONE (8).
    RecoverDone,
    /// RESOLUTION-INTERRUPTED (9).
    ResolutionInterrupted,
    /// CONFLICT-DONE (10).
    ConflictDone,
}

impl State {
    /// Every state, in wire-value order.
    pub const ALL: [Self; 10] = [
        Self::Startup,
        Self::Normal,
        Self::CommunicationsInterrupted,
        Self::PartnerDown,
        Self::PotentialConflict,
        Self::Recover,
        Self::RecoverWait,
        Self::RecoverDone,
        Self::ResolutionInterrupted,
        Self::ConflictDone,
    ];

    /// The OPTION_F_SERVER_STATE value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Startup => 1,
            Self::Normal => 2,
            Self::CommunicationsInterrupted => 3,
            Self::PartnerDown => 4,
            Self::PotentialConflict => 5,
            Self::Recover => 6,
            Self::RecoverWait => 7,
            Self::RecoverDone => 8,
            Self::ResolutionInterrupted => 9,
            Self::ConflictDone => 10,
        }
    }

    /// Parses an OPTION_F_SERVER_STATE value; `None` for 0 and unknown values.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Startup,
            2 => Self::Normal,
            3 => Self::CommunicationsInterrupted,
            4 => Self::PartnerDown,
            5 => Self::PotentialConflict,
            6 => Self::Recover,
            7 => Self::RecoverWait,
            8 => Self::RecoverDone,
            9 => Self::ResolutionInterrupted,
            10 => Self::ConflictDone,
            _ => return None,
        })
    }

    /// The RFC name of the state.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Startup => "STARTUP",
            Self::Normal => "NORMAL",
            Self::CommunicationsInterrupted => "COMMUNICATIONS-INTERRUPTED",
            Self::PartnerDown => "PARTNER-DOWN",
            Self::PotentialConflict => "POTENTIAL-CONFLICT",
            Self::Recover => "RECOVER",
            Self::RecoverWait => "RECOVER-WAIT",
            Self::RecoverDone => "RECOVER-DONE",
            Self::ResolutionInterrupted => "RESOLUTION-INTERRUPTED",
            Self::ConflictDone => "CONFLICT-DONE",
        }
    }

    /// How a server in this state and role treats DHCP clients.
    pub const fn responsiveness(self, role: Role) -> Responsiveness {
        match self {
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3
            //# The server MUST NOT be responsive to DHCPv6 clients in STARTUP state.
            Self::Startup => Responsiveness::Unresponsive,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8
            //# The primary server is responsive in NORMAL state; the secondary
            //# server is renew-responsive.
            Self::Normal => match role {
                Role::Primary => Responsiveness::Responsive,
                Role::Secondary => Responsiveness::RenewResponsive,
            },
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9
            //# In this state a server MUST respond to all DHCP client requests.
            Self::CommunicationsInterrupted => Responsiveness::Responsive,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
            //# The server MUST be responsive in PARTNER-DOWN state, regardless
            //# if it is primary or secondary.
            Self::PartnerDown => Responsiveness::Responsive,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10
            //# Any server in POTENTIAL-CONFLICT state MUST NOT process any
            //# incoming DHCP requests.
            Self::PotentialConflict => Responsiveness::Unresponsive,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5
            //# The server MUST NOT be responsive in RECOVER state.
            Self::Recover => Responsiveness::Unresponsive,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.6
            //# The server MUST NOT be responsive in RECOVER-WAIT state.
            Self::RecoverWait => Responsiveness::Unresponsive,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.7
            //# A server in RECOVER-DONE state SHOULD be unresponsive, but MAY
            //# respond to RENEW requests but MUST only change the state of
            //# resources that appear in the RENEW request.
            Self::RecoverDone => Responsiveness::RenewResponsive,
            Self::ResolutionInterrupted => Responsiveness::Responsive,
            Self::ConflictDone => Responsiveness::Responsive,
        }
    }

    /// The state after a "communications failed" transition, for STARTUP step 2 and for
    /// losing the connection. States that operate the same with and without communications
    /// map to themselves.
    pub const fn after_comm_failed(self) -> Self {
        match self {
            Self::Normal => Self::CommunicationsInterrupted,
            Self::PotentialConflict => Self::ResolutionInterrupted,
            other => other,
        }
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a server answers DHCP clients (RFC 8156 §3 definitions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Responsiveness {
    /// Answers every client message.
    Responsive,
    /// Answers only messages whose OPTION_SERVERID carries this server's DUID (so no Solicit,
    /// no Rebind, no Confirm).
    RenewResponsive,
    /// Answers nothing.
    Unresponsive,
}

/// An event that may move the endpoint state machine (RFC 8156 §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsmEvent {
    /// Communications are OK and the partner's latest STATE says `partner`; `startup` is the
    /// S flag of that STATE.
    PartnerState {
        /// The partner's announced state.
        partner: State,
        /// The S (STARTUP) flag of the partner's SERVER_FLAGS.
        startup: bool,
    },
    /// Communications failed (keepalive expired, TCP lost, DISCONNECT received).
    CommFailed,
    /// The operator says the partner is down.
    OperatorPartnerDown,
    /// The optional auto-partner-down timer expired in COMMUNICATIONS-INTERRUPTED.
    AutoPartnerDownExpired,
    /// UPDDONE received for this server's UPDREQ/UPDREQALL.
    UpdDone,
    /// The RECOVER-WAIT timer (down-time or start-time + MCLT) expired.
    RecoverWaitExpired,
}

/// The endpoint transition function of RFC 8156 §8 for every state but STARTUP (which
/// [`startup_comm_ok`] resolves). Returns the next state, or `None` to stay.
///
/// After a transition caused by [`FsmEvent::PartnerState`] the caller applies the same event
/// again from the new state ("take the communications OK transition from there"), until it
/// returns `None`; the table has no cycles, so that ends within a few steps.
pub fn transition(role: Role, own: State, event: FsmEvent) -> Option<State> {
    use State::*;
    let next = match (own, event) {
        (Startup, _) => None,

        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.2
        //# If the STARTUP bit is set in the server-flags option of
        //# a received STATE message, a server in PARTNER-DOWN state
        //# MUST NOT take any state transitions based on reestablishing
        //# communications.
        (_, FsmEvent::PartnerState { startup: true, .. }) => None,

        // ---- operator and timers ----
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
        //# If an external command is received by a server in COMMUNICATIONS-
        //# INTERRUPTED state informing it that its partner is down, it will
        //# transition immediately into PARTNER-DOWN state.
        (
            Normal | CommunicationsInterrupted | ResolutionInterrupted,
            FsmEvent::OperatorPartnerDown,
        ) => Some(PartnerDown),
        (_, FsmEvent::OperatorPartnerDown) => None,
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
        //# If the safe period timer expires while a server is in the
        //# COMMUNICATIONS-INTERRUPTED state, it will transition immediately into
        //# PARTNER-DOWN state.
        (CommunicationsInterrupted, FsmEvent::AutoPartnerDownExpired) => Some(PartnerDown),
        (_, FsmEvent::AutoPartnerDownExpired) => None,
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
        //# It will wait for an UPDDONE message, and upon receipt
        //# of that message it will transition to RECOVER-WAIT state.
        (Recover, FsmEvent::UpdDone) => Some(RecoverWait),
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10.2
        //# The primary MUST transition to CONFLICT-DONE
        //# state, and the secondary MUST transition to NORMAL state.
        (PotentialConflict, FsmEvent::UpdDone) => Some(match role {
            Role::Primary => ConflictDone,
            Role::Secondary => Normal,
        }),
        (_, FsmEvent::UpdDone) => None,
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.6.2
        //# When this timer expires, the
        //# server will transition into RECOVER-DONE state.
        (RecoverWait, FsmEvent::RecoverWaitExpired) => Some(RecoverDone),
        (_, FsmEvent::RecoverWaitExpired) => None,

        // ---- communications failed ----
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.2
        //# If the communications is determined to not be "ok" (as
        //# defined in Section 6.6), then transition
        //# into COMMUNICATIONS-INTERRUPTED state.
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10.2
        //# If communications fails with the partner while in
        //# POTENTIAL-CONFLICT state, then the server will transition to
        //# RESOLUTION-INTERRUPTED state.
        (s, FsmEvent::CommFailed) => {
            let n = s.after_comm_failed();
            (n != s).then_some(n)
        }

        // ---- communications OK, partner state known ----
        (Normal, FsmEvent::PartnerState { partner, .. }) => match partner {
            // Expected partner states while both run NORMAL (or are on their way there).
            Normal | CommunicationsInterrupted | RecoverDone | ConflictDone | Startup => None,
            //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.2
            //# If a server in NORMAL state receives any messages from its partner
            //# where the partner has changed state from that expected by the server
            //# in NORMAL state, then the server should transition into
            //# COMMUNICATIONS-INTERRUPTED state and take the appropriate state transition
            //# from there.
            _ => Some(CommunicationsInterrupted),
        },
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
        //# If communications is restored with the other server, then the server
        //# in COMMUNICATIONS-INTERRUPTED state will transition into another
        //# state based on the state of the partner
        (CommunicationsInterrupted, FsmEvent::PartnerState { partner, .. }) => match partner {
            Normal | CommunicationsInterrupted | RecoverDone => Some(Normal),
            Recover | RecoverWait | Startup => None,
            PartnerDown | PotentialConflict | ConflictDone | ResolutionInterrupted => {
                Some(PotentialConflict)
            }
        },
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.2
        //# If the partner is in: [ NORMAL, COMMUNICATIONS-INTERRUPTED, PARTNER-DOWN,
        //# POTENTIAL-CONFLICT, RESOLUTION-INTERRUPTED, or CONFLICT-DONE ]
        //# state, then transition to POTENTIAL-CONFLICT state
        (PartnerDown, FsmEvent::PartnerState { partner, .. }) => match partner {
            Normal
            | CommunicationsInterrupted
            | PartnerDown
            | PotentialConflict
            | ResolutionInterrupted
            | ConflictDone => Some(PotentialConflict),
            Recover | RecoverWait | Startup => None,
            RecoverDone => Some(Normal),
        },
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
        //# If the other server is in POTENTIAL-CONFLICT,
        //# RESOLUTION-INTERRUPTED, or CONFLICT-DONE state when
        //# communications are reestablished, then the server in RECOVER
        //# state will move to POTENTIAL-CONFLICT state itself.
        (Recover, FsmEvent::PartnerState { partner, .. }) => match partner {
            PotentialConflict | ResolutionInterrupted | ConflictDone => Some(PotentialConflict),
            _ => None,
        },
        (RecoverWait, FsmEvent::PartnerState { .. }) => None,
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.7.2
        //# When a server in RECOVER-DONE state determines that its
        //# partner server has entered NORMAL or RECOVER-DONE state,
        //# then it will transition into NORMAL state.
        (RecoverDone, FsmEvent::PartnerState { partner, .. }) => match partner {
            Normal | RecoverDone => Some(Normal),
            Recover | RecoverWait => Some(CommunicationsInterrupted),
            PotentialConflict => Some(PotentialConflict),
            _ => None,
        },
        (PotentialConflict, FsmEvent::PartnerState { .. }) => None,
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.11.2
        //# If communications is restored with the other server, then the server
        //# in RESOLUTION-INTERRUPTED state will transition into POTENTIAL-CONFLICT
        //# state.
        (ResolutionInterrupted, FsmEvent::PartnerState { .. }) => Some(PotentialConflict),
        //= https://www.rfc-editor.org/rfc/rfc8156#section-8.12.2
        //# When the secondary server reaches NORMAL state, the primary in
        //# CONFLICT-DONE state transitions to NORMAL.
        (ConflictDone, FsmEvent::PartnerState { partner, .. }) => match partner {
            Normal => Some(Normal),
            _ => None,
        },
    };
    next.filter(|n| *n != own)
}

/// STARTUP step 1 and 2: the state to resume, from what stable storage recorded.
///
/// No record ⇒ RECOVER (or PARTNER-DOWN when the operator configured an unpaired first
/// start); a state that needs communications is mapped through its "communications failed"
/// transition.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# If there is no record of any previous failover state in
//# stable storage for this server, then set the PREVIOUS-STATE
//# to RECOVER
pub fn startup_previous_state(recorded: Option<State>) -> State {
    match recorded {
        None | Some(State::Startup) => State::Recover,
        Some(s) => s.after_comm_failed(),
    }
}

/// STARTUP step 5: communications became OK. Returns the state to enter before applying the
/// "communications OK" transition with the partner's state.
//= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
//# If the partner is in PARTNER-DOWN state, and if the time
//# at which it entered PARTNER-DOWN state (as received in the
//# start-time-of-state option in the STATE message) is later
//# than the last recorded time of operation of this server,
//# then set CURRENT-STATE to RECOVER.  If the time at which
//# it entered PARTNER-DOWN state is earlier than the last
//# recorded time of operation of this server, then set
//# CURRENT-STATE to POTENTIAL-CONFLICT.
pub fn startup_comm_ok(
    previous: State,
    partner: State,
    partner_start_time: Option<UnixTime>,
    last_operating_time: Option<UnixTime>,
) -> State {
    if partner == State::PartnerDown {
        let partner_start = partner_start_time.unwrap_or(UnixTime::EPOCH);
        match last_operating_time {
            Some(last) if partner_start <= last => State::PotentialConflict,
            _ => State::Recover,
        }
    } else {
        previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    #[test]
    fn wire_values_round_trip() {
        for (i, s) in State::ALL.iter().enumerate() {
            assert_eq!(usize::from(s.to_u8()), i + 1);
            assert_eq!(State::from_u8(s.to_u8()), Some(*s));
        }
        assert_eq!(State::from_u8(0), None);
        assert_eq!(State::from_u8(11), None);
        assert_eq!(RecoverWait.to_u8(), 7);
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3
    //# The server MUST NOT be responsive to DHCPv6 clients in STARTUP state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10
    //# Any server in POTENTIAL-CONFLICT state MUST NOT process any
    //# incoming DHCP requests.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4
    //# The server MUST be responsive in PARTNER-DOWN state, regardless
    //# if it is primary or secondary.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5
    //# The server MUST NOT be responsive in RECOVER state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.6
    //# The server MUST NOT be responsive in RECOVER-WAIT state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.7
    //# A server in RECOVER-DONE state SHOULD be unresponsive, but MAY
    //# respond to RENEW requests but MUST only change the state of
    //# resources that appear in the RENEW request.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8
    //# The primary server is responsive in NORMAL state; the secondary
    //# server is renew-responsive.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9
    //# In this state a server MUST respond to all DHCP client requests.
    #[test]
    fn responsiveness_table() {
        use Responsiveness::*;
        let table: [(State, Responsiveness, Responsiveness); 10] = [
            (Startup, Unresponsive, Unresponsive),
            (Normal, Responsive, RenewResponsive),
            (CommunicationsInterrupted, Responsive, Responsive),
            (PartnerDown, Responsive, Responsive),
            (PotentialConflict, Unresponsive, Unresponsive),
            (Recover, Unresponsive, Unresponsive),
            (RecoverWait, Unresponsive, Unresponsive),
            (RecoverDone, RenewResponsive, RenewResponsive),
            (ResolutionInterrupted, Responsive, Responsive),
            (ConflictDone, Responsive, Responsive),
        ];
        for (s, p, q) in table {
            assert_eq!(s.responsiveness(Role::Primary), p, "{s} primary");
            assert_eq!(s.responsiveness(Role::Secondary), q, "{s} secondary");
        }
    }

    fn ps(partner: State) -> FsmEvent {
        FsmEvent::PartnerState {
            partner,
            startup: false,
        }
    }

    /// Every (own state, partner state) "communications OK" cell of §8, for both roles.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
    //# If the other server is in POTENTIAL-CONFLICT,
    //# RESOLUTION-INTERRUPTED, or CONFLICT-DONE state when
    //# communications are reestablished, then the server in RECOVER
    //# state will move to POTENTIAL-CONFLICT state itself.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.7.2
    //# When a server in RECOVER-DONE state determines that its
    //# partner server has entered NORMAL or RECOVER-DONE state,
    //# then it will transition into NORMAL state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.2
    //# If a server in NORMAL state receives any messages from its partner
    //# where the partner has changed state from that expected by the server
    //# in NORMAL state, then the server should transition into
    //# COMMUNICATIONS-INTERRUPTED state and take the appropriate state transition
    //# from there.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.11.2
    //# If communications is restored with the other server, then the server
    //# in RESOLUTION-INTERRUPTED state will transition into POTENTIAL-CONFLICT
    //# state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.12.2
    //# When the secondary server reaches NORMAL state, the primary in
    //# CONFLICT-DONE state transitions to NORMAL.
    #[test]
    fn comm_ok_transition_table() {
        // (own, partner, expected next)
        let n = None;
        let rows: &[(State, [Option<State>; 10])] = &[
            // partner:      STARTUP NORMAL              COMM-INT            PD                       PC                       RECOVER                        RW                             RD                   RI                       CD
            (
                Normal,
                [
                    n,
                    n,
                    n,
                    Some(CommunicationsInterrupted),
                    Some(CommunicationsInterrupted),
                    Some(CommunicationsInterrupted),
                    Some(CommunicationsInterrupted),
                    n,
                    Some(CommunicationsInterrupted),
                    n,
                ],
            ),
            (
                CommunicationsInterrupted,
                [
                    n,
                    Some(Normal),
                    Some(Normal),
                    Some(PotentialConflict),
                    Some(PotentialConflict),
                    n,
                    n,
                    Some(Normal),
                    Some(PotentialConflict),
                    Some(PotentialConflict),
                ],
            ),
            (
                PartnerDown,
                [
                    n,
                    Some(PotentialConflict),
                    Some(PotentialConflict),
                    Some(PotentialConflict),
                    Some(PotentialConflict),
                    n,
                    n,
                    Some(Normal),
                    Some(PotentialConflict),
                    Some(PotentialConflict),
                ],
            ),
            (PotentialConflict, [n; 10]),
            (
                Recover,
                [
                    n,
                    n,
                    n,
                    n,
                    Some(PotentialConflict),
                    n,
                    n,
                    n,
                    Some(PotentialConflict),
                    Some(PotentialConflict),
                ],
            ),
            (RecoverWait, [n; 10]),
            (
                RecoverDone,
                [
                    n,
                    Some(Normal),
                    n,
                    n,
                    Some(PotentialConflict),
                    Some(CommunicationsInterrupted),
                    Some(CommunicationsInterrupted),
                    Some(Normal),
                    n,
                    n,
                ],
            ),
            (ResolutionInterrupted, [Some(PotentialConflict); 10]),
            (ConflictDone, [n, Some(Normal), n, n, n, n, n, n, n, n]),
        ];
        for (own, expect) in rows {
            for (partner, want) in State::ALL.iter().zip(expect.iter()) {
                for role in [Role::Primary, Role::Secondary] {
                    assert_eq!(
                        transition(role, *own, ps(*partner)),
                        *want,
                        "{own} with partner {partner} ({role:?})"
                    );
                }
            }
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.4.2
    //# If the STARTUP bit is set in the server-flags option of
    //# a received STATE message, a server in PARTNER-DOWN state
    //# MUST NOT take any state transitions based on reestablishing
    //# communications.
    #[test]
    fn startup_flag_is_ignored() {
        for own in State::ALL {
            for partner in State::ALL {
                let e = FsmEvent::PartnerState {
                    partner,
                    startup: true,
                };
                assert_eq!(transition(Role::Primary, own, e), None, "{own}/{partner}");
            }
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.8.2
    //# If the communications is determined to not be "ok" (as
    //# defined in Section 6.6), then transition
    //# into COMMUNICATIONS-INTERRUPTED state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10.2
    //# If communications fails with the partner while in
    //# POTENTIAL-CONFLICT state, then the server will transition to
    //# RESOLUTION-INTERRUPTED state.
    #[test]
    fn comm_failed_table() {
        for own in State::ALL {
            let want = match own {
                Normal => Some(CommunicationsInterrupted),
                PotentialConflict => Some(ResolutionInterrupted),
                _ => None,
            };
            assert_eq!(
                transition(Role::Primary, own, FsmEvent::CommFailed),
                want,
                "{own}"
            );
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.10.2
    //# The primary MUST transition to CONFLICT-DONE
    //# state, and the secondary MUST transition to NORMAL state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.5.2
    //# It will wait for an UPDDONE message, and upon receipt
    //# of that message it will transition to RECOVER-WAIT state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.6.2
    //# When this timer expires, the
    //# server will transition into RECOVER-DONE state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
    //# If an external command is received by a server in COMMUNICATIONS-
    //# INTERRUPTED state informing it that its partner is down, it will
    //# transition immediately into PARTNER-DOWN state.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.9.2
    //# If the safe period timer expires while a server is in the
    //# COMMUNICATIONS-INTERRUPTED state, it will transition immediately into
    //# PARTNER-DOWN state.
    #[test]
    fn updone_operator_and_timer_events() {
        assert_eq!(
            transition(Role::Primary, PotentialConflict, FsmEvent::UpdDone),
            Some(ConflictDone)
        );
        assert_eq!(
            transition(Role::Secondary, PotentialConflict, FsmEvent::UpdDone),
            Some(Normal)
        );
        assert_eq!(
            transition(Role::Secondary, Recover, FsmEvent::UpdDone),
            Some(RecoverWait)
        );
        assert_eq!(transition(Role::Primary, Normal, FsmEvent::UpdDone), None);
        assert_eq!(
            transition(Role::Primary, RecoverWait, FsmEvent::RecoverWaitExpired),
            Some(RecoverDone)
        );
        assert_eq!(
            transition(Role::Primary, Recover, FsmEvent::RecoverWaitExpired),
            None
        );
        for own in State::ALL {
            let want = matches!(
                own,
                Normal | CommunicationsInterrupted | ResolutionInterrupted
            )
            .then_some(PartnerDown);
            assert_eq!(
                transition(Role::Primary, own, FsmEvent::OperatorPartnerDown),
                want,
                "{own}"
            );
            let auto = (own == CommunicationsInterrupted).then_some(PartnerDown);
            assert_eq!(
                transition(Role::Secondary, own, FsmEvent::AutoPartnerDownExpired),
                auto,
                "{own}"
            );
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
    //# If there is no record of any previous failover state in
    //# stable storage for this server, then set the PREVIOUS-STATE
    //# to RECOVER
    //= https://www.rfc-editor.org/rfc/rfc8156#section-8.3.2
    //# If the partner is in PARTNER-DOWN state, and if the time
    //# at which it entered PARTNER-DOWN state (as received in the
    //# start-time-of-state option in the STATE message) is later
    //# than the last recorded time of operation of this server,
    //# then set CURRENT-STATE to RECOVER.  If the time at which
    //# it entered PARTNER-DOWN state is earlier than the last
    //# recorded time of operation of this server, then set
    //# CURRENT-STATE to POTENTIAL-CONFLICT.
    #[test]
    fn startup_steps() {
        assert_eq!(startup_previous_state(None), Recover);
        assert_eq!(
            startup_previous_state(Some(Normal)),
            CommunicationsInterrupted
        );
        assert_eq!(
            startup_previous_state(Some(PotentialConflict)),
            ResolutionInterrupted
        );
        assert_eq!(startup_previous_state(Some(PartnerDown)), PartnerDown);
        assert_eq!(startup_previous_state(Some(RecoverWait)), RecoverWait);
        let t = |s| Some(UnixTime::from_secs(s));
        // Partner went PARTNER-DOWN after we were last seen operating: we were down ⇒ RECOVER.
        assert_eq!(
            startup_comm_ok(CommunicationsInterrupted, PartnerDown, t(2000), t(1000)),
            Recover
        );
        // Partner went PARTNER-DOWN while we were still operating ⇒ POTENTIAL-CONFLICT.
        assert_eq!(
            startup_comm_ok(CommunicationsInterrupted, PartnerDown, t(900), t(1000)),
            PotentialConflict
        );
        // No record of operating at all ⇒ RECOVER.
        assert_eq!(startup_comm_ok(Recover, PartnerDown, t(900), None), Recover);
        assert_eq!(
            startup_comm_ok(CommunicationsInterrupted, Normal, t(900), t(1000)),
            CommunicationsInterrupted
        );
    }
}
