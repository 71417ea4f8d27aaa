//! Byte strings stored inline when short, so typical DUIDs and domain names cost no allocation.

use alloc::boxed::Box;
use core::cmp::Ordering;
use core::hash::{Hash, Hasher};

const INLINE: usize = 22;

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
                dst.copy_from_slice(bytes);
                Self::Inline { len, buf }
            }
            _ => Self::Heap(bytes.into()),
        }
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
        Self::Inline {
            len: 0,
            buf: [0; INLINE],
        }
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
    }
}
