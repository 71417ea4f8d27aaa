//! The one error type of the codec.

use core::fmt;

use crate::codes::{MessageType, OptionCode};

/// Why some bytes do not parse, where, and inside which option.
///
/// `offset` is the absolute byte offset in the buffer handed to the outermost parse call (for
/// [`FrameDecoder`](crate::FrameDecoder) errors: in the TCP stream). `option` is the innermost
/// option whose payload holds the fault, or `None` when the fault is in a message header or at
/// the top level of an option list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Absolute byte offset of the fault.
    pub offset: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The innermost enclosing option, if any.
    pub option: Option<OptionCode>,
}

/// What a length field allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowedLength {
    /// Exactly this many bytes.
    Exactly(usize),
    /// At least this many bytes.
    AtLeast(usize),
    /// Between these two bounds, inclusive.
    Between(usize, usize),
    /// A multiple of this many bytes.
    MultipleOf(usize),
}

impl fmt::Display for AllowedLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Exactly(n) => write!(f, "expected {n}"),
            Self::AtLeast(n) => write!(f, "expected at least {n}"),
            Self::Between(a, b) => write!(f, "expected {a} to {b}"),
            Self::MultipleOf(n) => write!(f, "expected a multiple of {n}"),
        }
    }
}

/// The kinds of [`ParseError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A field needs more bytes than remain in its enclosing scope.
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that remain.
        available: usize,
    },
    /// An option payload length that its layout does not allow.
    BadLength {
        /// The length on the wire.
        declared: usize,
        /// What the layout allows.
        allowed: AllowedLength,
    },
    /// Bytes left over after a complete structure.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A field whose value its layout does not allow.
    BadValue {
        /// Which field.
        field: &'static str,
        /// Why the value is not allowed.
        reason: &'static str,
    },
    /// Relay messages nested deeper than the limit.
    RelayTooDeep {
        /// The limit ([`MAX_RELAY_DEPTH`](crate::MAX_RELAY_DEPTH)).
        limit: usize,
    },
    /// Encapsulated options nested deeper than the limit.
    NestingTooDeep {
        /// The limit ([`MAX_NESTING`](crate::MAX_NESTING)).
        limit: usize,
    },
    /// A domain name that is not valid uncompressed DNS wire format (RFC 8415 §10).
    BadDomainName {
        /// Why.
        reason: &'static str,
    },
    /// A message of a type that does not fit where it was found.
    UnexpectedMessageType {
        /// The type found.
        found: MessageType,
    },
    /// A TCP frame whose length prefix exceeds the configured maximum.
    FrameTooLarge {
        /// The length prefix.
        declared: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A TCP frame shorter than the 8-byte failover header.
    FrameTooShort {
        /// The length prefix.
        declared: usize,
        /// The minimum (8).
        min: usize,
    },
}

impl ParseError {
    /// A new error with no enclosing option.
    #[must_use]
    pub const fn new(offset: usize, kind: ParseErrorKind) -> Self {
        Self {
            offset,
            kind,
            option: None,
        }
    }

    /// Sets the enclosing option if none is set yet (the innermost one wins).
    #[must_use]
    pub const fn within(mut self, code: OptionCode) -> Self {
        if self.option.is_none() {
            self.option = Some(code);
        }
        self
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(f, "truncated: need {needed} bytes, {available} available")
            }
            Self::BadLength { declared, allowed } => write!(f, "length {declared}, {allowed}"),
            Self::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            Self::BadValue { field, reason } => write!(f, "bad {field}: {reason}"),
            Self::RelayTooDeep { limit } => write!(f, "relay messages nested deeper than {limit}"),
            Self::NestingTooDeep { limit } => write!(f, "options nested deeper than {limit}"),
            Self::BadDomainName { reason } => write!(f, "bad domain name: {reason}"),
            Self::UnexpectedMessageType { found } => write!(f, "unexpected message type {found}"),
            Self::FrameTooLarge { declared, max } => {
                write!(f, "frame length {declared} exceeds the maximum {max}")
            }
            Self::FrameTooShort { declared, min } => {
                write!(
                    f,
                    "frame length {declared} is shorter than the {min}-byte failover header"
                )
            }
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.option {
            Some(code) => write!(f, "{code} at byte {}: {}", self.offset, self.kind),
            None => write!(f, "at byte {}: {}", self.offset, self.kind),
        }
    }
}

impl core::error::Error for ParseError {}

/// Errors of the TCP frame decoder: the same type as [`ParseError`], with `offset` counted in
/// the TCP stream and the kinds [`ParseErrorKind::FrameTooLarge`] and
/// [`ParseErrorKind::FrameTooShort`].
pub type FrameError = ParseError;

/// Why a representation cannot be emitted (a frame longer than the 2-byte length prefix allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// The message is longer than a length field can express.
    TooLong {
        /// Emitted length of the message.
        len: usize,
        /// The maximum.
        max: usize,
    },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len, max } => write!(f, "{len} bytes exceed the maximum of {max}"),
        }
    }
}

impl core::error::Error for EmitError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_names_option_offset_and_numbers() {
        let e = ParseError::new(
            57,
            ParseErrorKind::BadLength {
                declared: 3,
                allowed: AllowedLength::Exactly(4),
            },
        )
        .within(OptionCode::F_MCLT);
        assert_eq!(
            e.to_string(),
            "OPTION_F_MCLT at byte 57: length 3, expected 4"
        );
        let e = e.within(OptionCode::CLIENT_DATA);
        assert_eq!(e.option, Some(OptionCode::F_MCLT), "innermost option wins");
        let t = ParseError::new(
            3,
            ParseErrorKind::Truncated {
                needed: 4,
                available: 1,
            },
        );
        assert_eq!(
            t.to_string(),
            "at byte 3: truncated: need 4 bytes, 1 available"
        );
    }
}
