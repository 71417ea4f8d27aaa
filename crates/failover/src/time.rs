//! Time as an argument: a monotonic [`Instant`] for timers, a wall-clock [`UnixTime`] for the
//! absolute times RFC 8156 puts on the wire, and [`Now`] carrying both.
//!
//! The crate never reads a clock. The caller passes `now` into every input.

use core::fmt;
use core::ops::{Add, Sub};
pub use core::time::Duration;

/// Seconds between 1970-01-01T00:00:00Z and 2000-01-01T00:00:00Z, the epoch of every RFC 8156
/// absolute time (`abs-time`, as in DUID-LLT).
pub const ABS_TIME_EPOCH_UNIX: u64 = 946_684_800;

/// A monotonic point in time: milliseconds since an origin the caller chooses.
///
/// Tests start at [`Instant::ZERO`] and read as timelines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Self = Self(0);

    /// An instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// An instant `s` seconds after the origin (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Self;
    /// Saturating addition.
    fn add(self, rhs: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(rhs)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;
    /// Saturating subtraction.
    fn sub(self, rhs: Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(rhs)))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// Wall-clock time: whole seconds since 1970-01-01T00:00:00Z (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UnixTime(u64);

impl UnixTime {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);

    /// The time `secs` seconds after the Unix epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// This time as an RFC 8156 absolute time: seconds since 2000-01-01T00:00:00Z modulo 2^32.
    /// Times before 2000 wrap (they are never meaningful on the wire).
    //= https://www.rfc-editor.org/rfc/rfc8156#section-5.2
    //# sent-time: the time the message was transmitted, in seconds since
    //# midnight (UTC), January 1, 2000, modulo 2^32.
    pub const fn to_abs_time(self) -> u32 {
        // Truncation to 32 bits is the definition of the wire format.
        self.0.wrapping_sub(ABS_TIME_EPOCH_UNIX) as u32
    }

    /// Interprets a 32-bit absolute time (2000 epoch, modulo 2^32) as the wall-clock time closest
    /// to `reference` (serial-number arithmetic, RFC 1982 style), so the conversion keeps working
    /// after the 32-bit counter wraps in 2136.
    pub fn from_abs_time(abs: u32, reference: Self) -> Self {
        let ref_abs = reference.to_abs_time();
        // Signed distance from the reference, in the range [-2^31, 2^31).
        let delta = abs.wrapping_sub(ref_abs) as i32;
        let secs = if delta >= 0 {
            reference.0.saturating_add(u64::from(delta.unsigned_abs()))
        } else {
            reference.0.saturating_sub(u64::from(delta.unsigned_abs()))
        };
        Self(secs)
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_secs(self.0.saturating_sub(earlier.0))
    }

    /// Whether `self` and `other` are within `tolerance` of each other (inclusive).
    pub fn within(self, other: Self, tolerance: Duration) -> bool {
        self.0.abs_diff(other.0) <= tolerance.as_secs()
    }
}

/// Serial-number comparison of two 32-bit absolute times (RFC 1982 style): `Less` if `a` is
/// before `b` when both are within 2^31 seconds of each other.
pub fn abs_time_cmp(a: u32, b: u32) -> core::cmp::Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

impl Add<Duration> for UnixTime {
    type Output = Self;
    /// Saturating addition of whole seconds (sub-second parts are dropped).
    fn add(self, rhs: Duration) -> Self {
        Self(self.0.saturating_add(rhs.as_secs()))
    }
}

impl Sub<Duration> for UnixTime {
    type Output = Self;
    /// Saturating subtraction of whole seconds.
    fn sub(self, rhs: Duration) -> Self {
        Self(self.0.saturating_sub(rhs.as_secs()))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

/// The current time, passed into every input: a monotonic instant for timers and the wall
/// clock for absolute times on the wire and in bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time, for timers.
    pub instant: Instant,
    /// Wall-clock time, for RFC 8156 absolute times.
    pub wall: UnixTime,
}

impl Now {
    /// Both clocks at once.
    pub const fn new(instant: Instant, wall: UnixTime) -> Self {
        Self { instant, wall }
    }

    /// Both clocks advanced by `d` (handy for timelines in tests and simulations).
    pub fn advance(self, d: Duration) -> Self {
        Self {
            instant: self.instant + d,
            // Keep the wall clock consistent with the monotonic clock at millisecond granularity.
            wall: UnixTime::from_secs(
                self.wall
                    .as_secs()
                    .saturating_add((self.instant.as_millis() % 1000 + duration_millis(d)) / 1000),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    //= https://www.rfc-editor.org/rfc/rfc8156#section-5.2
    //# sent-time: the time the message was transmitted, in seconds since
    //# midnight (UTC), January 1, 2000, modulo 2^32.
    #[test]
    fn abs_time_epoch_is_2000() {
        assert_eq!(UnixTime::from_secs(946_684_800).to_abs_time(), 0);
        assert_eq!(UnixTime::from_secs(946_684_801).to_abs_time(), 1);
        // 2026-01-01T00:00:00Z
        let t = UnixTime::from_secs(1_767_225_600);
        assert_eq!(t.to_abs_time(), 820_540_800);
        assert_eq!(UnixTime::from_abs_time(820_540_800, t), t);
    }

    #[test]
    fn abs_time_wraps_in_2136() {
        // The last second before the 32-bit counter wraps, and the one after.
        let before = UnixTime::from_secs(ABS_TIME_EPOCH_UNIX + u64::from(u32::MAX));
        let after = before + Duration::from_secs(1);
        assert_eq!(before.to_abs_time(), u32::MAX);
        assert_eq!(after.to_abs_time(), 0);
        // Decoding near the wrap resolves to the right side of it.
        assert_eq!(UnixTime::from_abs_time(0, before), after);
        assert_eq!(UnixTime::from_abs_time(u32::MAX, after), before);
        assert_eq!(abs_time_cmp(u32::MAX, 0), core::cmp::Ordering::Less);
        assert_eq!(abs_time_cmp(5, 3), core::cmp::Ordering::Greater);
        assert_eq!(abs_time_cmp(7, 7), core::cmp::Ordering::Equal);
    }

    #[test]
    fn decoding_is_relative_to_reference() {
        let now = UnixTime::from_secs(1_800_000_000);
        let past = now - Duration::from_secs(3600);
        let future = now + Duration::from_secs(86_400 * 400);
        assert_eq!(UnixTime::from_abs_time(past.to_abs_time(), now), past);
        assert_eq!(UnixTime::from_abs_time(future.to_abs_time(), now), future);
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_secs(10);
        assert_eq!((t + Duration::from_millis(1500)).as_millis(), 11_500);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(
            t.saturating_duration_since(Instant::from_secs(20)),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_millis(u64::MAX) + Duration::from_secs(1),
            Instant::from_millis(u64::MAX)
        );
    }

    #[test]
    fn now_advance_keeps_clocks_together() {
        let n = Now::new(Instant::from_millis(900), UnixTime::from_secs(100));
        let m = n.advance(Duration::from_millis(200));
        assert_eq!(m.instant, Instant::from_millis(1100));
        assert_eq!(m.wall, UnixTime::from_secs(101));
        let k = m.advance(Duration::from_secs(59));
        assert_eq!(k.wall, UnixTime::from_secs(160));
    }

    #[test]
    fn within_tolerance() {
        let a = UnixTime::from_secs(1000);
        assert!(a.within(UnixTime::from_secs(1005), Duration::from_secs(5)));
        assert!(!a.within(UnixTime::from_secs(1006), Duration::from_secs(5)));
        assert!(a.within(UnixTime::from_secs(995), Duration::from_secs(5)));
    }
}
