//! The two failover partners.

use core::fmt;

/// One of the two servers of a failover relationship.
///
/// Ownership of every resource in a pool belongs to exactly one side at any time; see
/// [`SplitRule`](crate::SplitRule) for how the owner is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The primary server (RFC 8156 "primary").
    Primary,
    /// The secondary server (RFC 8156 "secondary").
    Secondary,
}

impl Side {
    /// Both sides, primary first.
    pub const BOTH: [Self; 2] = [Self::Primary, Self::Secondary];

    /// The partner of this side.
    #[must_use]
    pub const fn partner(self) -> Self {
        match self {
            Self::Primary => Self::Secondary,
            Self::Secondary => Self::Primary,
        }
    }

    /// `true` for [`Side::Primary`].
    #[must_use]
    pub const fn is_primary(self) -> bool {
        matches!(self, Self::Primary)
    }

    /// 0 for the primary, 1 for the secondary (a stable array index).
    #[must_use]
    pub const fn index(self) -> usize {
        match self {
            Self::Primary => 0,
            Self::Secondary => 1,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Primary => "primary",
            Self::Secondary => "secondary",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Side;

    #[test]
    fn partner_is_an_involution() {
        for side in Side::BOTH {
            assert_ne!(side.partner(), side);
            assert_eq!(side.partner().partner(), side);
        }
        assert_eq!(Side::Primary.index(), 0);
        assert_eq!(Side::Secondary.index(), 1);
        assert!(Side::Primary.is_primary());
        assert!(!Side::Secondary.is_primary());
    }
}
