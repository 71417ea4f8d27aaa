//! DHCP Unique Identifiers ([RFC 8415 §11](https://www.rfc-editor.org/rfc/rfc8415#section-11)).

use alloc::vec::Vec;
use core::fmt;

use bytes::BufMut;

use crate::error::{AllowedLength, ParseError, ParseErrorKind};
use crate::reader::Reader;
use crate::small::SmallBytes;
use crate::{Emit, Parse};

/// A DUID: the raw bytes (type code included), validated on construction.
///
/// The bytes are kept exactly as received, so every DUID round-trips byte-exact and can be used
/// as a map key. [`Duid::kind`] gives the typed view (LLT, EN, LL, UUID, or another type).
///
//= https://www.rfc-editor.org/rfc/rfc8415#section-11.1
//# A DUID can be no more than 128 octets long (not including the type code).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duid(SmallBytes);

/// The typed view of a [`Duid`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DuidKind<'a> {
    /// DUID-LLT, type 1 ([RFC 8415 §11.2](https://www.rfc-editor.org/rfc/rfc8415#section-11.2)).
    Llt {
        /// IANA hardware type.
        hardware_type: u16,
        /// Seconds since 2000-01-01 UTC, modulo 2^32.
        time: u32,
        /// Link-layer address.
        link_layer_address: &'a [u8],
    },
    /// DUID-EN, type 2 ([RFC 8415 §11.3](https://www.rfc-editor.org/rfc/rfc8415#section-11.3)).
    En {
        /// IANA private enterprise number.
        enterprise_number: u32,
        /// Vendor-assigned identifier.
        identifier: &'a [u8],
    },
    /// DUID-LL, type 3 ([RFC 8415 §11.4](https://www.rfc-editor.org/rfc/rfc8415#section-11.4)).
    Ll {
        /// IANA hardware type.
        hardware_type: u16,
        /// Link-layer address.
        link_layer_address: &'a [u8],
    },
    /// DUID-UUID, type 4 ([RFC 6355 §4](https://www.rfc-editor.org/rfc/rfc6355#section-4)).
    Uuid(&'a [u8; 16]),
    /// Any other type, carried as opaque bytes.
    Other {
        /// The DUID type code.
        duid_type: u16,
        /// Everything after the type code.
        data: &'a [u8],
    },
}

impl Duid {
    /// Longest DUID in bytes, type code included.
    pub const MAX_LEN: usize = 130;

    /// Validates `bytes` as a DUID: at least the 2-byte type, at most [`Duid::MAX_LEN`], and the
    /// fixed part of the known types present (DUID-UUID exactly 18 bytes).
    ///
    /// # Errors
    /// [`ParseErrorKind::BadLength`] at offset 0 of `bytes`.
    pub fn new(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::check(bytes, 0)?;
        Ok(Self(SmallBytes::new(bytes)))
    }

    /// A placeholder for [`Duid::set_valid`] (not a valid DUID on its own).
    pub(crate) const PLACEHOLDER: Self = Self(SmallBytes::EMPTY);

    /// Sets the bytes, which [`Duid::check`] accepted, in place.
    #[inline]
    pub(crate) fn set_valid(&mut self, bytes: &[u8]) {
        self.0.set(bytes);
    }

    /// Checks the length of `bytes` (found at absolute `offset`) against its DUID type.
    #[inline]
    pub(crate) fn check(bytes: &[u8], offset: usize) -> Result<(), ParseError> {
        let declared = bytes.len();
        let allowed = match bytes.first_chunk::<2>().map(|t| u16::from_be_bytes(*t)) {
            None => AllowedLength::Between(2, Self::MAX_LEN),
            Some(1) => AllowedLength::Between(8, Self::MAX_LEN),
            Some(2) => AllowedLength::Between(6, Self::MAX_LEN),
            Some(3) => AllowedLength::Between(4, Self::MAX_LEN),
            Some(4) => AllowedLength::Exactly(18),
            Some(_) => AllowedLength::Between(2, Self::MAX_LEN),
        };
        let ok = match allowed {
            AllowedLength::Between(lo, hi) => (lo..=hi).contains(&declared),
            AllowedLength::Exactly(n) => declared == n,
            AllowedLength::AtLeast(n) => declared >= n,
            AllowedLength::MultipleOf(_) => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ParseError::new(
                offset,
                ParseErrorKind::BadLength { declared, allowed },
            ))
        }
    }

    /// Builds a DUID-LLT.
    ///
    /// # Errors
    /// If the link-layer address is longer than 122 bytes.
    pub fn llt(
        hardware_type: u16,
        time: u32,
        link_layer_address: &[u8],
    ) -> Result<Self, ParseError> {
        let mut v = Vec::with_capacity(link_layer_address.len().saturating_add(8));
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&hardware_type.to_be_bytes());
        v.extend_from_slice(&time.to_be_bytes());
        v.extend_from_slice(link_layer_address);
        Self::check(&v, 0)?;
        Ok(Self(SmallBytes::new(&v)))
    }

    /// Builds a DUID-EN.
    ///
    /// # Errors
    /// If the identifier is longer than 124 bytes.
    pub fn en(enterprise_number: u32, identifier: &[u8]) -> Result<Self, ParseError> {
        let mut v = Vec::with_capacity(identifier.len().saturating_add(6));
        v.extend_from_slice(&2u16.to_be_bytes());
        v.extend_from_slice(&enterprise_number.to_be_bytes());
        v.extend_from_slice(identifier);
        Self::check(&v, 0)?;
        Ok(Self(SmallBytes::new(&v)))
    }

    /// Builds a DUID-LL.
    ///
    /// # Errors
    /// If the link-layer address is longer than 126 bytes.
    pub fn ll(hardware_type: u16, link_layer_address: &[u8]) -> Result<Self, ParseError> {
        let mut v = Vec::with_capacity(link_layer_address.len().saturating_add(4));
        v.extend_from_slice(&3u16.to_be_bytes());
        v.extend_from_slice(&hardware_type.to_be_bytes());
        v.extend_from_slice(link_layer_address);
        Self::check(&v, 0)?;
        Ok(Self(SmallBytes::new(&v)))
    }

    /// Builds a DUID-UUID.
    #[must_use]
    pub fn uuid(uuid: [u8; 16]) -> Self {
        let mut v = Vec::with_capacity(18);
        v.extend_from_slice(&4u16.to_be_bytes());
        v.extend_from_slice(&uuid);
        Self(SmallBytes::new(&v))
    }

    /// The DUID type code.
    #[must_use]
    pub fn duid_type(&self) -> u16 {
        self.0
            .as_slice()
            .first_chunk::<2>()
            .map_or(0, |t| u16::from_be_bytes(*t))
    }

    /// The wire bytes, type code included.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The typed view.
    #[must_use]
    pub fn kind(&self) -> DuidKind<'_> {
        let body = self.0.as_slice().get(2..).unwrap_or_default();
        let u16_at = |b: &[u8]| b.first_chunk::<2>().map_or(0, |x| u16::from_be_bytes(*x));
        let u32_at = |b: &[u8]| b.first_chunk::<4>().map_or(0, |x| u32::from_be_bytes(*x));
        match self.duid_type() {
            1 => DuidKind::Llt {
                hardware_type: u16_at(body),
                time: u32_at(body.get(2..).unwrap_or_default()),
                link_layer_address: body.get(6..).unwrap_or_default(),
            },
            2 => DuidKind::En {
                enterprise_number: u32_at(body),
                identifier: body.get(4..).unwrap_or_default(),
            },
            3 => DuidKind::Ll {
                hardware_type: u16_at(body),
                link_layer_address: body.get(2..).unwrap_or_default(),
            },
            4 => match body.first_chunk::<16>() {
                Some(u) => DuidKind::Uuid(u),
                None => DuidKind::Other {
                    duid_type: 4,
                    data: body,
                },
            },
            t => DuidKind::Other {
                duid_type: t,
                data: body,
            },
        }
    }
}

impl fmt::Debug for Duid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.duid_type() {
            1 => "LLT",
            2 => "EN",
            3 => "LL",
            4 => "UUID",
            _ => "type",
        };
        write!(f, "Duid({kind}:")?;
        for b in self.0.as_slice() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl<'a> Parse<'a> for Duid {
    /// Consumes the whole reader.
    fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError> {
        let offset = r.offset();
        let bytes = r.rest();
        Self::check(bytes, offset)?;
        Ok(Self(SmallBytes::new(bytes)))
    }
}

impl Emit for Duid {
    fn emit(&self, out: &mut impl BufMut) {
        out.put_slice(self.0.as_slice());
    }

    fn emitted_len(&self) -> usize {
        self.0.as_slice().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn parse_llt() {
        let b = hex!("000100012b3c4d5e0800276f8a95");
        let d = Duid::parse(&mut Reader::new(&b)).unwrap();
        assert_eq!(
            d.kind(),
            DuidKind::Llt {
                hardware_type: 1,
                time: 0x2b3c_4d5e,
                link_layer_address: &hex!("0800276f8a95")
            }
        );
        assert_eq!(d.to_vec(), b);
        assert_eq!(Duid::llt(1, 0x2b3c_4d5e, &hex!("0800276f8a95")).unwrap(), d);
    }

    #[test]
    fn construct_each_kind() {
        let en = Duid::en(9, b"abc").unwrap();
        assert_eq!(en.as_bytes(), &hex!("0002 00000009 616263"));
        assert!(matches!(
            en.kind(),
            DuidKind::En {
                enterprise_number: 9,
                identifier: b"abc"
            }
        ));
        let ll = Duid::ll(1, &[1, 2, 3, 4, 5, 6]).unwrap();
        assert!(matches!(
            ll.kind(),
            DuidKind::Ll {
                hardware_type: 1,
                ..
            }
        ));
        let u = Duid::uuid([7; 16]);
        assert_eq!(u.kind(), DuidKind::Uuid(&[7; 16]));
        let other = Duid::new(&hex!("fffe 0102")).unwrap();
        assert_eq!(
            other.kind(),
            DuidKind::Other {
                duid_type: 0xfffe,
                data: &[1, 2]
            }
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(Duid::new(&[0]).is_err());
        assert!(Duid::new(&hex!("0004 00")).is_err());
        assert!(Duid::new(&hex!("0001 0001 0000")).is_err());
        assert!(Duid::en(1, &[0; 125]).is_err());
        assert!(Duid::en(1, &[0; 124]).is_ok());
        let e = Duid::parse(&mut Reader::with_base(&hex!("0003 00"), 10)).unwrap_err();
        assert_eq!(e.offset, 10);
    }
}
