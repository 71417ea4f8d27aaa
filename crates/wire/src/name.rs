//! Domain names in uncompressed DNS wire format
//! ([RFC 8415 §10](https://www.rfc-editor.org/rfc/rfc8415#section-10)).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::BufMut;

use crate::error::{ParseError, ParseErrorKind};
use crate::list::Payload;
use crate::reader::Reader;
use crate::small::{SmallBytes, copy_short};
use crate::{Emit, Parse};

/// A domain name held in its exact wire bytes: a sequence of labels (1–63 bytes each, length
/// byte first), optionally ending with the zero-length root label.
///
/// A name that ends with the root label is fully qualified; one that does not is a *partial*
/// name, which only `OPTION_CLIENT_FQDN` and the failover DNS name options allow (RFC 4704 §4.2).
/// Compression pointers are rejected.
///
//= https://www.rfc-editor.org/rfc/rfc8415#section-10
//# So that domain names may be encoded uniformly, a domain name or a
//# list of domain names is encoded using the technique described in
//# Section 3.1 of [RFC1035].  A domain name, or list of domain names, in
//# DHCP MUST NOT be stored in compressed form as described in
//# Section 4.1.4 of [RFC1035].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DomainName(SmallBytes);

/// Longest domain name in wire format (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;

impl DomainName {
    /// Builds a fully qualified name from dotted text (`"host.example.com"`; a trailing dot is
    /// optional), or a partial name when `fully_qualified` is false.
    ///
    /// # Errors
    /// [`ParseErrorKind::BadDomainName`] for an empty label, a label over 63 bytes or a name over
    /// 255 bytes.
    pub fn from_dotted(text: &str, fully_qualified: bool) -> Result<Self, ParseError> {
        let text = text.strip_suffix('.').unwrap_or(text);
        let mut v = Vec::with_capacity(text.len().saturating_add(2));
        if !text.is_empty() {
            for label in text.split('.') {
                let len = u8::try_from(label.len())
                    .ok()
                    .filter(|l| (1..=63).contains(l))
                    .ok_or(ParseError::new(
                        0,
                        ParseErrorKind::BadDomainName {
                            reason: "label length must be 1 to 63",
                        },
                    ))?;
                v.push(len);
                v.extend_from_slice(label.as_bytes());
            }
        }
        if fully_qualified {
            v.push(0);
        }
        Self::new(&v, !fully_qualified)
    }

    /// Validates wire bytes that make up exactly one name.
    ///
    /// # Errors
    /// [`ParseErrorKind::BadDomainName`] at the offending byte of `bytes`.
    pub fn new(bytes: &[u8], allow_partial: bool) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let n = Self::parse_one(&mut r, allow_partial)?;
        r.finish()?;
        Ok(n)
    }

    /// Reads one name: up to and including the root label, or (if `allow_partial`) to the end
    /// of the reader.
    ///
    /// # Errors
    /// [`ParseErrorKind::BadDomainName`] with the offset of the bad label.
    pub fn parse_one(r: &mut Reader<'_>, allow_partial: bool) -> Result<Self, ParseError> {
        Self::scan(r, allow_partial).map(Self::from_valid)
    }

    /// A name from wire bytes that [`DomainName::scan`] returned.
    #[inline]
    pub(crate) fn from_valid(bytes: &[u8]) -> Self {
        Self(SmallBytes::new(bytes))
    }

    /// Sets the wire bytes, which [`DomainName::scan`] returned, in place.
    #[inline]
    pub(crate) fn set_valid(&mut self, bytes: &[u8]) {
        self.0.set(bytes);
    }

    /// Reads a name that spans the rest of `r` (partial names allowed) and returns its bytes.
    pub(crate) fn scan_rest<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], ParseError> {
        let name = Self::scan(r, true)?;
        r.finish()?;
        Ok(name)
    }

    /// Validates one name as [`DomainName::parse_one`] does and returns its wire bytes.
    pub(crate) fn scan<'a>(
        r: &mut Reader<'a>,
        allow_partial: bool,
    ) -> Result<&'a [u8], ParseError> {
        let base = r.offset();
        let bytes = r.peek_rest();
        let bad = |pos: usize, reason: &'static str| {
            ParseError::new(
                base.saturating_add(pos),
                ParseErrorKind::BadDomainName { reason },
            )
        };
        // `pos` is the offset of the next length byte, which is also the length so far.
        let mut pos = 0usize;
        loop {
            let Some(&len) = bytes.get(pos) else {
                if allow_partial {
                    break;
                }
                return Err(bad(pos, "name does not end with the root label"));
            };
            let len = usize::from(len);
            let end = pos.saturating_add(len).saturating_add(1);
            if end > MAX_NAME_LEN {
                return Err(bad(pos, "name longer than 255 bytes"));
            }
            if len == 0 {
                pos = end;
                break;
            }
            if len > 63 {
                return Err(bad(
                    pos,
                    "label longer than 63 bytes or compression pointer",
                ));
            }
            if end > bytes.len() {
                return Err(bad(pos, "label runs past the end"));
            }
            pos = end;
        }
        r.take(pos)
    }

    /// Whether the name ends with the root label.
    #[must_use]
    pub fn is_fully_qualified(&self) -> bool {
        self.0.as_slice().last() == Some(&0)
    }

    /// The wire bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The labels, in order, without the root label.
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest: &[u8] = self.0.as_slice();
        core::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (label, tail) = tail.split_at_checked(usize::from(len))?;
            rest = tail;
            (len != 0).then_some(label)
        })
    }

    /// Dotted text, with a trailing dot for a fully qualified name. Non-printable bytes and
    /// dots inside labels are escaped as `\ddd` (RFC 1035 §5.1).
    #[must_use]
    pub fn to_dotted(&self) -> String {
        let mut s = String::new();
        for label in self.labels() {
            for &b in label {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    s.push(char::from(b));
                } else {
                    s.push('\\');
                    s.push(char::from(b'0'.saturating_add(b / 100)));
                    s.push(char::from(b'0'.saturating_add(b / 10 % 10)));
                    s.push(char::from(b'0'.saturating_add(b % 10)));
                }
            }
            s.push('.');
        }
        if !self.is_fully_qualified() {
            s.pop();
        } else if s.is_empty() {
            s.push('.');
        }
        s
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({:?})", self.to_dotted())
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dotted())
    }
}

impl<'a> Parse<'a> for DomainName {
    /// Consumes the whole reader as one name; partial names are allowed.
    fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError> {
        Self::scan_rest(r).map(Self::from_valid)
    }
}

impl Emit for DomainName {
    fn emit(&self, out: &mut impl BufMut) {
        out.put_slice(self.0.as_slice());
    }

    fn emitted_len(&self) -> usize {
        self.0.as_slice().len()
    }
}

/// The names of an `OPTION_DOMAIN_LIST` ([RFC 3646 §4](https://www.rfc-editor.org/rfc/rfc3646#section-4)),
/// held as their concatenated wire bytes: up to 38 bytes (two or three typical search domains)
/// without a heap allocation.
///
/// A domain list holds fully qualified names only. A partial name (see
/// [`DomainName::is_fully_qualified`]) has no end on the wire, so once pushed it runs into the
/// name after it, here exactly as on the wire; decoding never produces one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DomainNames(Payload);

impl DomainNames {
    /// An empty list (no allocation).
    #[must_use]
    pub const fn new() -> Self {
        Self(Payload::new())
    }

    /// Appends a name.
    pub fn push(&mut self, name: &DomainName) {
        self.0.extend_from_slice(name.as_bytes());
    }

    /// The names in order (each a copy: short names need no allocation).
    pub fn iter(&self) -> impl Iterator<Item = DomainName> + '_ {
        self.spans().map(DomainName::from_valid)
    }

    /// The names as a vector.
    #[must_use]
    pub fn to_vec(&self) -> Vec<DomainName> {
        self.iter().collect()
    }

    /// Number of names.
    #[must_use]
    pub fn len(&self) -> usize {
        self.spans().count()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The wire bytes: every name, in order.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Sets the wire bytes, a sequence of names [`DomainName::scan`] validated, in place.
    #[inline]
    pub(crate) fn set_valid(&mut self, bytes: &[u8]) {
        copy_short(self.0.resize_for_overwrite(bytes.len()), bytes);
    }

    /// The wire bytes of each name: up to and including its root label (or to the end).
    fn spans(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest: &[u8] = &self.0;
        core::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let mut end = 0usize;
            while let Some(&len) = rest.get(end) {
                end = end.saturating_add(usize::from(len)).saturating_add(1);
                if len == 0 {
                    break;
                }
            }
            let (name, tail) = rest.split_at(end.min(rest.len()));
            rest = tail;
            Some(name)
        })
    }
}

impl fmt::Debug for DomainNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<DomainName>> for DomainNames {
    fn from(names: Vec<DomainName>) -> Self {
        names.into_iter().collect()
    }
}

impl<const K: usize> From<[DomainName; K]> for DomainNames {
    fn from(names: [DomainName; K]) -> Self {
        names.into_iter().collect()
    }
}

impl FromIterator<DomainName> for DomainNames {
    fn from_iter<I: IntoIterator<Item = DomainName>>(iter: I) -> Self {
        let mut list = Self::new();
        for name in iter {
            list.push(&name);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use hex_literal::hex;

    #[test]
    fn dotted_round_trip() {
        let n = DomainName::from_dotted("example.com", true).unwrap();
        assert_eq!(n.as_bytes(), &hex!("076578616d706c6503636f6d00"));
        assert_eq!(n.to_dotted(), "example.com.");
        assert!(n.is_fully_qualified());
        let p = DomainName::from_dotted("host1", false).unwrap();
        assert_eq!(p.as_bytes(), b"\x05host1");
        assert_eq!(p.to_dotted(), "host1");
        assert_eq!(DomainName::from_dotted("", true).unwrap().to_dotted(), ".");
    }

    #[test]
    fn rejects_compression_and_overruns() {
        let e = DomainName::new(&hex!("03 616263 c00c"), false).unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(matches!(e.kind, ParseErrorKind::BadDomainName { .. }));
        assert!(DomainName::new(&hex!("05 6162"), true).is_err());
        assert!(DomainName::new(&hex!("03 616263"), false).is_err());
        assert!(DomainName::new(&hex!("03 616263"), true).is_ok());
        assert!(
            DomainName::new(&hex!("00 00"), false).is_err(),
            "trailing bytes"
        );
        let long = [[63u8; 64]; 4].concat();
        assert!(DomainName::new(&long, true).is_err(), "256 bytes");
    }

    #[test]
    fn domain_names_list() {
        let a = DomainName::from_dotted("example.com", true).unwrap();
        let b = DomainName::from_dotted("lab.corp.example.org", true).unwrap();
        let root = DomainName::from_dotted("", true).unwrap();
        let list = DomainNames::from(vec![a.clone(), root.clone(), b.clone(), b.clone()]);
        assert_eq!(list.len(), 4);
        assert_eq!(list.to_vec(), vec![a.clone(), root, b.clone(), b.clone()]);
        assert_eq!(
            list.as_bytes().len(),
            a.as_bytes().len() + 1 + 2 * b.as_bytes().len()
        );
        assert_eq!(
            alloc::format!("{:?}", DomainNames::from([a.clone()])),
            "[DomainName(\"example.com.\")]"
        );
        assert!(DomainNames::new().is_empty());
        assert_eq!(DomainNames::new().iter().count(), 0);
        // A partial name runs into the next one, as it would on the wire.
        let p = DomainName::from_dotted("host1", false).unwrap();
        let merged = DomainNames::from([p, a]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged.to_vec()[0].to_dotted(), "host1.example.com.");
    }

    #[test]
    fn escapes_odd_bytes() {
        let n = DomainName::new(&hex!("03 612e20 00"), false).unwrap();
        assert_eq!(n.to_dotted(), "a\\046\\032.");
    }
}
