//! Configuration of one failover relationship, its validation, and the check that a set of
//! relationships (m-to-1) shares no pool.

use alloc::string::String;
use core::fmt;

use crate::pools::PoolSet;
use crate::time::Duration;

/// This server's role in the relationship.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Role {
    /// The primary: connects to the secondary, responsive in NORMAL, wins address ties.
    Primary,
    /// The secondary: listens, renew-responsive in NORMAL.
    Secondary,
}

impl Role {
    /// The other role.
    pub const fn partner(self) -> Self {
        match self {
            Self::Primary => Self::Secondary,
            Self::Secondary => Self::Primary,
        }
    }
}

/// The protocol version this crate speaks (OPTION_F_PROTOCOL_VERSION).
pub const PROTOCOL_VERSION: (u16, u16) = (1, 0);

/// The IANA Private Enterprise Number under which the pool-configuration fingerprint travels
/// in OPTION_VENDOR_OPTS of CONNECT and CONNECTREPLY. 32473 is the number IANA reserves for
/// documentation examples (RFC 5612); see `docs/design/failover-choices.md`.
pub const FINGERPRINT_ENTERPRISE_NUMBER: u32 = 32473;
/// The vendor sub-option code of the fingerprint inside OPTION_VENDOR_OPTS.
pub const FINGERPRINT_SUBOPTION: u16 = 1;

/// Configuration of one failover relationship (one [`Endpoint`](crate::Endpoint)).
///
/// Build it with [`Config::new`], adjust the public fields, and let
/// [`Endpoint::new`](crate::Endpoint::new) validate it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// OPTION_F_RELATIONSHIP_NAME; empty means "the only relationship between these two
    /// servers" and the option is omitted.
    pub relationship_name: String,
    /// Primary or secondary.
    pub role: Role,
    /// Maximum Client Lead Time. The primary's value is the relationship's; the secondary
    /// must be configured with the same value (a mismatch is rejected). At least 30 s.
    pub mclt: Duration,
    /// How many BNDUPDs the partner may have outstanding toward us (OPTION_F_MAX_UNACKED_BNDUPD
    /// that we send). Default 100.
    pub max_unacked_bndupd: u32,
    /// FO_KEEPALIVE_TIME sent to the partner: if nothing arrives for this long the connection is
    /// dead. Default 60 s.
    pub keepalive: Duration,
    /// FO_CONTACT_PER_KEEPALIVE_TIME: how many CONTACTs fit in the partner's keepalive time.
    /// Default 4.
    pub contacts_per_keepalive: u32,
    /// Clock skew tolerated between the partners, and the "same time" window of conflict
    /// resolution. Default 5 s.
    pub skew_tolerance: Duration,
    /// How long STARTUP waits for the partner before resuming the previous state. Default 30 s,
    /// longer than the primary's default `connect_retry_max`, so a restarted server hears from a
    /// partner in PARTNER-DOWN before it resumes serving (sim finding B3).
    pub startup_wait: Duration,
    /// Automatic PARTNER-DOWN after this long in COMMUNICATIONS-INTERRUPTED. Off (`None`) by
    /// default: the protocol cannot tell a dead partner from a partition.
    pub auto_partner_down: Option<Duration>,
    /// Primary: first delay between connection attempts (doubles after each rejection up to
    /// `connect_retry_max`). Default 5 s.
    pub connect_retry: Duration,
    /// Primary: longest delay between connection attempts. Default 15 s (keep it below the
    /// partner's `startup_wait`).
    pub connect_retry_max: Duration,
    /// Period of the rescan that re-sends bindings whose "partner needs update" flag is set
    /// and checks prefix balance. Default 60 s.
    pub rescan_interval: Duration,
    /// In RECOVER or POTENTIAL-CONFLICT: drop the connection if neither UPDDONE nor a BNDUPD
    /// arrived for this long after UPDREQ/UPDREQALL. Default 120 s.
    pub update_request_timeout: Duration,
    /// With no persisted state and no partner reachable during STARTUP, go to PARTNER-DOWN
    /// instead of RECOVER (a server commissioned before its partner exists). Default off.
    pub unpaired_first_start: bool,
    /// OPTION_F_CONNECT_FLAGS F bit: every prefix delegated from one delegable prefix has the
    /// same length. The partners must agree. Default true.
    pub fixed_prefix_length: bool,
    /// Whether this server performs DNS updates. When false, a BNDUPD carrying DNS removal
    /// information is still stored, and an Event warns about it. Default false.
    pub dns_update_supported: bool,
    /// Send and check the pool-configuration fingerprint in CONNECT/CONNECTREPLY. Default true.
    pub check_pool_fingerprint: bool,
    /// Seed of the transaction-id generator.
    pub rng_seed: u64,
    /// The address and prefix pools this relationship governs, with their split.
    pub pools: PoolSet,
}

impl Config {
    /// A configuration with the documented defaults and no pools.
    pub fn new(role: Role) -> Self {
        Self {
            relationship_name: String::new(),
            role,
            mclt: Duration::from_secs(3600),
            max_unacked_bndupd: 100,
            keepalive: Duration::from_secs(60),
            contacts_per_keepalive: 4,
            skew_tolerance: Duration::from_secs(5),
            startup_wait: Duration::from_secs(30),
            auto_partner_down: None,
            connect_retry: Duration::from_secs(5),
            connect_retry_max: Duration::from_secs(15),
            rescan_interval: Duration::from_secs(60),
            update_request_timeout: Duration::from_secs(120),
            unpaired_first_start: false,
            fixed_prefix_length: true,
            dns_update_supported: false,
            check_pool_fingerprint: true,
            rng_seed: 0,
            pools: PoolSet::default(),
        }
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        //= https://www.rfc-editor.org/rfc/rfc8156#section-1
        //# failover MUST NOT be used for leases shorter than 30 seconds
        if self.mclt < crate::mclt::MIN_LEASE {
            return Err(ConfigError::McltTooShort { mclt: self.mclt });
        }
        if self.mclt.as_secs() > u64::from(u32::MAX) {
            return Err(ConfigError::OutOfRange { field: "mclt" });
        }
        if self.keepalive.as_secs() == 0 || self.keepalive.as_secs() > u64::from(u32::MAX) {
            return Err(ConfigError::OutOfRange { field: "keepalive" });
        }
        if self.contacts_per_keepalive == 0 {
            return Err(ConfigError::OutOfRange {
                field: "contacts_per_keepalive",
            });
        }
        if self.max_unacked_bndupd == 0 {
            return Err(ConfigError::OutOfRange {
                field: "max_unacked_bndupd",
            });
        }
        if self.relationship_name.len() > 255 {
            return Err(ConfigError::OutOfRange {
                field: "relationship_name",
            });
        }
        if self.rescan_interval.is_zero() {
            return Err(ConfigError::OutOfRange {
                field: "rescan_interval",
            });
        }
        if self.connect_retry.is_zero() || self.connect_retry_max < self.connect_retry {
            return Err(ConfigError::OutOfRange {
                field: "connect_retry",
            });
        }
        if self.update_request_timeout.is_zero() {
            return Err(ConfigError::OutOfRange {
                field: "update_request_timeout",
            });
        }
        if self.auto_partner_down.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::OutOfRange {
                field: "auto_partner_down",
            });
        }
        self.pools.validate()
    }
}

/// Validates a set of relationships held by one server (m-to-1): each config on its own, no
/// two with the same relationship name and role, and no pool governed by two relationships.
//= https://www.rfc-editor.org/rfc/rfc8156#section-6.2
//# a prefix must not be tied to more than one failover endpoint
pub fn validate_relationships(configs: &[Config]) -> Result<(), ConfigError> {
    for c in configs {
        c.validate()?;
    }
    for (i, a) in configs.iter().enumerate() {
        for b in configs.iter().skip(i + 1) {
            if a.relationship_name == b.relationship_name && a.role == b.role {
                return Err(ConfigError::DuplicateRelationship {
                    name: a.relationship_name.clone(),
                });
            }
            if let Some(what) = a.pools.overlap(&b.pools) {
                return Err(ConfigError::PoolInTwoRelationships {
                    pool: what,
                    first: a.relationship_name.clone(),
                    second: b.relationship_name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// A configuration problem.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The MCLT is below the 30-second floor.
    McltTooShort {
        /// The configured MCLT.
        mclt: Duration,
    },
    /// A field is zero, too large, or inconsistent.
    OutOfRange {
        /// Which field.
        field: &'static str,
    },
    /// A pool is malformed.
    BadPool {
        /// What is wrong, and with which pool.
        reason: String,
    },
    /// Two relationships with the same name and role.
    DuplicateRelationship {
        /// The name.
        name: String,
    },
    /// One pool is governed by two relationships.
    PoolInTwoRelationships {
        /// The overlapping pool.
        pool: String,
        /// The first relationship's name.
        first: String,
        /// The second relationship's name.
        second: String,
    },
    /// The persisted state given to `restore` contradicts the configuration.
    BadPersistedState {
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::McltTooShort { mclt } => {
                write!(f, "mclt {}s is below the 30 s minimum", mclt.as_secs())
            }
            Self::OutOfRange { field } => write!(f, "config field `{field}` is out of range"),
            Self::BadPool { reason } => write!(f, "bad pool: {reason}"),
            Self::DuplicateRelationship { name } => write!(
                f,
                "relationship {name:?} configured twice with the same role"
            ),
            Self::PoolInTwoRelationships {
                pool,
                first,
                second,
            } => {
                write!(
                    f,
                    "pool {pool} is in two relationships ({first:?} and {second:?})"
                )
            }
            Self::BadPersistedState { reason } => write!(f, "persisted state rejected: {reason}"),
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        assert_eq!(Config::new(Role::Primary).validate(), Ok(()));
        let mut c = Config::new(Role::Secondary);
        c.mclt = Duration::from_secs(29);
        assert!(matches!(
            c.validate(),
            Err(ConfigError::McltTooShort { .. })
        ));
        let mut c = Config::new(Role::Secondary);
        c.keepalive = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(ConfigError::OutOfRange { field: "keepalive" })
        );
        let mut c = Config::new(Role::Secondary);
        c.max_unacked_bndupd = 0;
        assert!(c.validate().is_err());
        let mut c = Config::new(Role::Secondary);
        c.auto_partner_down = Some(Duration::ZERO);
        assert!(c.validate().is_err());
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-6.2
    //# a prefix must not be tied to more than one failover endpoint
    #[test]
    fn pool_in_two_relationships_rejected() {
        use crate::pools::AddressRange;
        let a: core::net::Ipv6Addr = "2001:db8::100"
            .parse()
            .unwrap_or(core::net::Ipv6Addr::UNSPECIFIED);
        let b: core::net::Ipv6Addr = "2001:db8::1ff"
            .parse()
            .unwrap_or(core::net::Ipv6Addr::UNSPECIFIED);
        let mut x = Config::new(Role::Primary);
        x.relationship_name = "x".into();
        x.pools.addresses.push(AddressRange::new(a, b));
        let mut y = Config::new(Role::Secondary);
        y.relationship_name = "y".into();
        y.pools.addresses.push(AddressRange::new(b, b));
        assert!(matches!(
            validate_relationships(&[x.clone(), y]),
            Err(ConfigError::PoolInTwoRelationships { .. })
        ));
        let mut z = Config::new(Role::Secondary);
        z.relationship_name = "z".into();
        assert_eq!(validate_relationships(&[x, z]), Ok(()));
    }

    #[test]
    fn duplicate_relationship_rejected() {
        let a = Config::new(Role::Primary);
        let b = Config::new(Role::Primary);
        assert!(matches!(
            validate_relationships(&[a.clone(), b]),
            Err(ConfigError::DuplicateRelationship { .. })
        ));
        let mut c = Config::new(Role::Primary);
        c.relationship_name = "other".into();
        assert_eq!(validate_relationships(&[a, c]), Ok(()));
    }
}
