//! A list that keeps a single element inline: almost every BNDUPD carries one lease, and the
//! per-update bookkeeping (the answer per lease, where each written lease's answer is) then
//! needs no heap allocation.

use alloc::vec::Vec;

/// Zero, one (inline) or more (on the heap) values, in push order.
#[derive(Clone, Debug, Default)]
pub(crate) enum Few<T> {
    /// Nothing pushed yet.
    #[default]
    Zero,
    /// Exactly one value.
    One(T),
    /// Two or more values.
    Many(Vec<T>),
}

impl<T> Few<T> {
    /// Appends `value`.
    pub(crate) fn push(&mut self, value: T) {
        match core::mem::take(self) {
            Self::Zero => *self = Self::One(value),
            Self::One(first) => *self = Self::Many(alloc::vec![first, value]),
            Self::Many(mut v) => {
                v.push(value);
                *self = Self::Many(v);
            }
        }
    }

    /// How many values are held.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// The values in push order.
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Self::Zero => &[],
            Self::One(v) => core::slice::from_ref(v),
            Self::Many(v) => v,
        }
    }

    /// The values in push order, mutably.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Self::Zero => &mut [],
            Self::One(v) => core::slice::from_mut(v),
            Self::Many(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn keeps_push_order_across_the_inline_and_heap_forms() {
        let mut f = Few::default();
        assert_eq!(f.len(), 0);
        assert!(f.as_slice().is_empty());
        for i in 0..5u32 {
            f.push(i);
            assert_eq!(f.len(), i as usize + 1);
            assert_eq!(
                f.as_slice(),
                (0..=i).collect::<alloc::vec::Vec<_>>().as_slice()
            );
        }
        f.as_mut_slice()[3] = 30;
        assert_eq!(f.as_slice(), &[0, 1, 2, 30, 4]);
        let mut one = Few::default();
        one.push('a');
        assert!(matches!(one, Few::One('a')));
        one.as_mut_slice()[0] = 'b';
        assert_eq!(one.as_slice(), &['b']);
    }
}
