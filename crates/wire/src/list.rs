//! Short lists held inline: the payloads of ORO, address-list, interface-id and unknown options.
//!
//! Decoding a message into owned values used to spend a fifth to a third of its time in the
//! allocator, one allocation per list. These payloads are short in practice (a client requests a
//! handful of options, a server names one or two DNS servers, an interface-id is a port name),
//! so each type keeps up to a fixed number of elements inside itself and moves to the heap only
//! beyond that. The inline capacity is chosen so that [`DhcpOption`](crate::DhcpOption) does not
//! grow. Equality, ordering and hashing compare the elements only, never where they are stored.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::net::Ipv6Addr;
use core::ops::{Deref, DerefMut};

use crate::OptionCode;

/// An element type with a value to fill unused inline slots.
pub(crate) trait Elem: Copy {
    const ZERO: Self;
}

impl Elem for u8 {
    const ZERO: Self = 0;
}

impl Elem for OptionCode {
    const ZERO: Self = Self(0);
}

impl Elem for Ipv6Addr {
    const ZERO: Self = Self::UNSPECIFIED;
}

/// Up to `N` elements inline (`N` ≤ 255), more on the heap.
#[derive(Clone)]
enum Small<T: Elem, const N: usize> {
    Inline { len: u8, buf: [T; N] },
    Heap(Vec<T>),
}

impl<T: Elem, const N: usize> Small<T, N> {
    const EMPTY: Self = Self::Inline {
        len: 0,
        buf: [T::ZERO; N],
    };

    #[inline]
    fn from_slice(items: &[T]) -> Self {
        let mut s = Self::EMPTY;
        s.resize_for_overwrite(items.len()).copy_from_slice(items);
        s
    }

    #[inline]
    fn from_vec(v: Vec<T>) -> Self {
        if v.len() <= N {
            Self::from_slice(&v)
        } else {
            Self::Heap(v)
        }
    }

    /// Makes the list `n` elements long and returns them to be overwritten in place (inline
    /// when they fit, otherwise in one zeroed allocation of exactly `n`). Inline elements keep
    /// whatever they held before: the caller writes every one.
    #[inline]
    fn resize_for_overwrite(&mut self, n: usize) -> &mut [T] {
        let n8 = u8::try_from(n).ok().filter(|_| n <= N);
        match (n8, &mut *self) {
            (Some(_), Self::Inline { .. }) => {}
            _ => *self = Self::Heap(alloc::vec![T::ZERO; n]),
        }
        match self {
            Self::Inline { len, buf } => {
                *len = n8.unwrap_or(0);
                buf.get_mut(..n).unwrap_or_default()
            }
            Self::Heap(v) => v,
        }
    }

    #[inline]
    fn as_slice(&self) -> &[T] {
        match self {
            Self::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(v) => v,
        }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Self::Inline { len, buf } => buf.get_mut(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(v) => v,
        }
    }

    fn push(&mut self, item: T) {
        match self {
            Self::Inline { len, buf } => {
                if let Some(slot) = buf.get_mut(usize::from(*len)) {
                    *slot = item;
                    *len = len.saturating_add(1);
                } else {
                    let mut v = Vec::with_capacity(N.saturating_mul(2).max(4));
                    v.extend_from_slice(buf);
                    v.push(item);
                    *self = Self::Heap(v);
                }
            }
            Self::Heap(v) => v.push(item),
        }
    }

    fn extend_from_slice(&mut self, items: &[T]) {
        let old = self.as_slice().len();
        if let (Self::Inline { len, buf }, Some(new)) = (&mut *self, old.checked_add(items.len()))
            && let (Some(dst), Ok(new8)) = (buf.get_mut(old..new), u8::try_from(new))
        {
            dst.copy_from_slice(items);
            *len = new8;
            return;
        }
        match self {
            Self::Inline { .. } => {
                let mut v = Vec::with_capacity(old.saturating_add(items.len()));
                v.extend_from_slice(self.as_slice());
                v.extend_from_slice(items);
                *self = Self::Heap(v);
            }
            Self::Heap(v) => v.extend_from_slice(items),
        }
    }

    fn into_vec(self) -> Vec<T> {
        match self {
            Self::Inline { .. } => self.as_slice().to_vec(),
            Self::Heap(v) => v,
        }
    }
}

macro_rules! small_list {
    ($(#[$doc:meta])* $name:ident, $t:ty, $n:expr) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Small<$t, $n>);

        impl $name {
            /// How many elements are held without a heap allocation.
            pub const INLINE_CAPACITY: usize = $n;

            /// An empty list (no allocation).
            #[must_use]
            pub const fn new() -> Self {
                Self(Small::EMPTY)
            }

            /// Appends an element (moving to the heap once the inline room is used up).
            pub fn push(&mut self, item: $t) {
                self.0.push(item);
            }

            /// The elements in order.
            #[must_use]
            pub fn as_slice(&self) -> &[$t] {
                self.0.as_slice()
            }

            /// The elements in order, mutably.
            pub fn as_mut_slice(&mut self) -> &mut [$t] {
                self.0.as_mut_slice()
            }

            /// The elements as a vector.
            #[must_use]
            pub fn into_vec(self) -> Vec<$t> {
                self.0.into_vec()
            }

            /// Appends every element of `items`.
            pub fn extend_from_slice(&mut self, items: &[$t]) {
                self.0.extend_from_slice(items);
            }

            /// Makes the list `n` elements long and returns them to be overwritten in place (their
            /// previous values are unspecified).
            #[inline]
            pub(crate) fn resize_for_overwrite(&mut self, n: usize) -> &mut [$t] {
                self.0.resize_for_overwrite(n)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl Deref for $name {
            type Target = [$t];
            #[inline]
            fn deref(&self) -> &[$t] {
                self.0.as_slice()
            }
        }

        impl DerefMut for $name {
            #[inline]
            fn deref_mut(&mut self) -> &mut [$t] {
                self.0.as_mut_slice()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_slice(), f)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_slice() == other.as_slice()
            }
        }

        impl Eq for $name {}

        impl PartialEq<[$t]> for $name {
            fn eq(&self, other: &[$t]) -> bool {
                self.as_slice() == other
            }
        }

        impl PartialEq<Vec<$t>> for $name {
            fn eq(&self, other: &Vec<$t>) -> bool {
                self.as_slice() == other.as_slice()
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> Ordering {
                self.as_slice().cmp(other.as_slice())
            }
        }

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.as_slice().hash(state);
            }
        }

        impl From<Vec<$t>> for $name {
            fn from(v: Vec<$t>) -> Self {
                Self(Small::from_vec(v))
            }
        }

        impl From<&[$t]> for $name {
            fn from(items: &[$t]) -> Self {
                Self(Small::from_slice(items))
            }
        }

        impl<const K: usize> From<[$t; K]> for $name {
            fn from(items: [$t; K]) -> Self {
                Self(Small::from_slice(&items))
            }
        }

        impl From<$name> for Vec<$t> {
            fn from(list: $name) -> Self {
                list.into_vec()
            }
        }

        impl FromIterator<$t> for $name {
            fn from_iter<I: IntoIterator<Item = $t>>(iter: I) -> Self {
                let mut list = Self::new();
                list.extend(iter);
                list
            }
        }

        impl Extend<$t> for $name {
            fn extend<I: IntoIterator<Item = $t>>(&mut self, iter: I) {
                for item in iter {
                    self.push(item);
                }
            }
        }

        impl<'a> IntoIterator for &'a $name {
            type Item = &'a $t;
            type IntoIter = core::slice::Iter<'a, $t>;
            fn into_iter(self) -> Self::IntoIter {
                self.as_slice().iter()
            }
        }
    };
}

small_list!(
    /// The option codes of an `OPTION_ORO`, in order; up to 22 without a heap allocation.
    ///
    /// Dereferences to `[OptionCode]`; builds from a `Vec`, an array, a slice or an iterator.
    OptionCodes,
    OptionCode,
    22
);

small_list!(
    /// The addresses of `OPTION_DNS_SERVERS` or `OPTION_LQ_CLIENT_LINK`, in order; up to 2
    /// without a heap allocation.
    ///
    /// Dereferences to `[Ipv6Addr]`; builds from a `Vec`, an array, a slice or an iterator.
    Ipv6Addrs,
    Ipv6Addr,
    2
);

small_list!(
    /// An opaque option payload (`OPTION_INTERFACE_ID`, options the codec does not model); up
    /// to 38 bytes without a heap allocation. At most 65,535 bytes for the option to be
    /// emittable.
    ///
    /// Dereferences to `[u8]`; builds from a `Vec<u8>`, an array, a slice or an iterator.
    Payload,
    u8,
    38
);

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn inline_then_heap_compare_by_content() {
        let mut p = Payload::new();
        for i in 0..40u8 {
            p.push(i);
            assert_eq!(p.len(), usize::from(i) + 1);
            assert_eq!(p.last(), Some(&i));
        }
        let v: Vec<u8> = (0..40).collect();
        assert_eq!(p, v);
        assert!(matches!(p.0, Small::Heap(_)));
        assert_eq!(Payload::from(v.clone()), p);
        assert_eq!(Payload::from(&v[..38]).as_slice(), &v[..38]);
        assert!(matches!(
            Payload::from(&v[..38]).0,
            Small::Inline { len: 38, .. }
        ));
        let (short, long) = (Payload::from(&v[..3]), Payload::from(&v[..4]));
        assert!(short < long);
        assert_eq!(p.clone().into_vec(), v);
        let mut q = Payload::from(&v[..30]);
        q.extend_from_slice(&v[30..38]);
        assert!(matches!(q.0, Small::Inline { len: 38, .. }));
        q.extend_from_slice(&v[38..]);
        assert_eq!(q, p);
        let mut q = Payload::from(&v[..39]);
        q.extend_from_slice(&v[39..]);
        assert_eq!(q, p);

        let mut c = OptionCodes::from([OptionCode::DNS_SERVERS, OptionCode::DOMAIN_LIST]);
        assert_eq!(c.len(), 2);
        assert!(c.contains(&OptionCode::DOMAIN_LIST));
        c.resize_for_overwrite(30).fill(OptionCode::ORO);
        assert_eq!(c.len(), 30);
        assert!(c.iter().all(|&x| x == OptionCode::ORO));
        c.resize_for_overwrite(1)[0] = OptionCode(9);
        assert_eq!(c.as_slice(), &[OptionCode(9)]);

        let mut a = Ipv6Addrs::new();
        assert!(a.is_empty());
        a.resize_for_overwrite(2).fill(Ipv6Addr::LOCALHOST);
        assert!(matches!(a.0, Small::Inline { len: 2, .. }));
        a.push(Ipv6Addr::LOCALHOST);
        assert_eq!(a, vec![Ipv6Addr::LOCALHOST; 3]);
        a.as_mut_slice()[0] = Ipv6Addr::UNSPECIFIED;
        assert_eq!(a[0], Ipv6Addr::UNSPECIFIED);
        assert_eq!(alloc::format!("{a:?}"), "[::, ::1, ::1]");
    }

    #[test]
    fn sizes() {
        assert_eq!(size_of::<OptionCodes>(), 48);
        assert_eq!(size_of::<Ipv6Addrs>(), 40);
        assert_eq!(size_of::<Payload>(), 40);
    }
}
