//! Byte strings stored inline when short, so typical DUIDs and domain names cost no allocation.

use alloc::boxed::Box;
use core::cmp::Ordering;
use core::hash::{Hash, Hasher};

const INLINE: usize = 22;

/// Copies `src` into `dst` (same length; nothing is copied otherwise). Lengths from 4 to 32
/// bytes go as two overlapping fixed-size moves instead of a call to `memcpy`: DUIDs, names and
/// short payloads are copied this way on every decode.
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [u8], src: &[u8]) {
    fn two<const K: usize>(dst: &mut [u8], src: &[u8]) {
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<K>(), src.first_chunk::<K>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<K>(), src.last_chunk::<K>()) {
            *d = *s;
        }
    }
    if dst.len() != src.len() {
        return;
    }
    match src.len() {
        4..=7 => two::<4>(dst, src),
        8..=15 => two::<8>(dst, src),
        16..=32 => two::<16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Immutable bytes: inline up to 22 bytes, boxed beyond. 24 bytes in size either way.
#[derive(Clone)]
pub(crate) enum SmallBytes {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    #[inline]
    pub(crate) fn new(bytes: &[u8]) -> Self {
        let mut buf = [0u8; INLINE];
        match (buf.get_mut(..bytes.len()), u8::try_from(bytes.len())) {
            (Some(dst), Ok(len)) => {
                copy_short(dst, bytes);
                Self::Inline { len, buf }
            }
            _ => Self::Heap(bytes.into()),
        }
    }

    /// An empty value (inline, no allocation).
    pub(crate) const EMPTY: Self = Self::Inline {
        len: 0,
        buf: [0; INLINE],
    };

    /// Replaces the contents with `bytes`, copying them straight into `self` when they fit
    /// inline. Building the value in place this way, rather than building it on the stack and
    /// moving it, avoids reading back bytes that were just written with a different width.
    #[inline]
    pub(crate) fn set(&mut self, bytes: &[u8]) {
        if let (Self::Inline { len, buf }, Ok(n)) = (&mut *self, u8::try_from(bytes.len()))
            && let Some(dst) = buf.get_mut(..bytes.len())
        {
            copy_short(dst, bytes);
            *len = n;
            return;
        }
        *self = Self::Heap(bytes.into());
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(b) => b,
        }
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_copies_copy_every_byte() {
        let src: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=40 {
            let mut dst = [0u8; 40];
            copy_short(&mut dst[..n], &src[..n]);
            assert_eq!(dst[..n], src[..n], "length {n}");
            assert!(dst[n..].iter().all(|&b| b == 0), "length {n}");
        }
        let mut dst = [0u8; 3];
        copy_short(&mut dst, &src[..4]);
        assert_eq!(dst, [0; 3], "lengths differ: nothing copied");
    }

    #[test]
    fn inline_and_heap_compare_by_content() {
        let short = SmallBytes::new(&[1, 2, 3]);
        assert!(matches!(short, SmallBytes::Inline { len: 3, .. }));
        assert_eq!(short.as_slice(), &[1, 2, 3]);
        let long = SmallBytes::new(&[9; 23]);
        assert!(matches!(long, SmallBytes::Heap(_)));
        assert_eq!(long.as_slice(), &[9; 23]);
        assert_eq!(SmallBytes::new(&[9; 22]).as_slice(), &[9; 22]);
        assert!(short < long);
        assert_eq!(size_of::<SmallBytes>(), 24);
        let mut b = SmallBytes::EMPTY;
        b.set(&[7; 22]);
        assert!(matches!(b, SmallBytes::Inline { len: 22, .. }));
        assert!(b == SmallBytes::new(&[7; 22]));
        b.set(&[8; 40]);
        assert_eq!(b.as_slice(), &[8; 40]);
        let mut b = SmallBytes::new(&[1; 30]);
        b.set(&[2; 3]);
        assert_eq!(b.as_slice(), &[2; 3]);
    }
}
