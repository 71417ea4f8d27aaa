//! A map keyed by ids that are issued in increasing order and mostly retired in the same
//! order (storage writes, pending BNDREPLYs): a ring buffer indexed by `id - base`, so an
//! insert or a removal moves one value instead of shifting B-tree nodes of them.

use alloc::collections::VecDeque;

/// Values keyed by increasing `u64` ids. Memory is proportional to the span between the
/// oldest and the newest id held, not to the number held: an id that is never removed keeps
/// every later slot allocated (the endpoint removes each id when its write is acknowledged or
/// its connection drops).
#[derive(Clone, Debug)]
pub(crate) struct IdRing<T> {
    /// The id of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<T>>,
    len: usize,
}

impl<T> Default for IdRing<T> {
    fn default() -> Self {
        Self {
            base: 0,
            slots: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> IdRing<T> {
    /// How many values are held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot index of `id`, if it lies inside the ring.
    fn index(&self, id: u64) -> Option<usize> {
        let off = usize::try_from(id.wrapping_sub(self.base)).ok()?;
        (off < self.slots.len()).then_some(off)
    }

    /// Holds `value` under `id`, replacing any value held under it. Ids are expected to grow;
    /// an id below the oldest one held is still stored correctly (the ring grows at the front).
    pub(crate) fn insert(&mut self, id: u64, value: T) {
        if self.slots.is_empty() {
            self.base = id;
        }
        let off = id.wrapping_sub(self.base);
        if off > u64::MAX / 2 {
            // Below `base` (or far beyond it after wrapping): grow at the front.
            let back = self.base.wrapping_sub(id);
            for _ in 0..back {
                self.slots.push_front(None);
            }
            self.base = id;
        }
        let off = id.wrapping_sub(self.base);
        let Ok(off) = usize::try_from(off) else {
            return;
        };
        while self.slots.len() <= off {
            self.slots.push_back(None);
        }
        if let Some(slot) = self.slots.get_mut(off) {
            if slot.is_none() {
                self.len += 1;
            }
            *slot = Some(value);
        }
    }

    /// The value held under `id`.
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let i = self.index(id)?;
        self.slots.get_mut(i)?.as_mut()
    }

    /// Takes the value held under `id` out.
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let i = self.index(id)?;
        let v = self.slots.get_mut(i)?.take()?;
        self.len -= 1;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base = self.base.wrapping_add(1);
        }
        while let Some(None) = self.slots.back() {
            self.slots.pop_back();
        }
        Some(v)
    }

    /// Drops every value.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::IdRing;
    use alloc::collections::BTreeMap;

    #[test]
    fn matches_a_btree_map_on_mixed_orders() {
        let mut ring = IdRing::default();
        let mut map = BTreeMap::new();
        let mut x: u64 = 12345;
        let mut next = u64::MAX - 40; // exercise wrapping
        for step in 0..5000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match x >> 62 {
                0 | 1 => {
                    ring.insert(next, step);
                    map.insert(next, step);
                    next = next.wrapping_add(1);
                }
                2 => {
                    // Remove one of the last few ids (some absent).
                    let id = next.wrapping_sub((x >> 20) % 6 + 1);
                    assert_eq!(ring.remove(id), map.remove(&id));
                }
                _ => {
                    let id = next.wrapping_sub((x >> 20) % 6 + 1);
                    assert_eq!(ring.get_mut(id).copied(), map.get(&id).copied());
                    if x & 1 == 0 && step % 97 == 0 {
                        ring.clear();
                        map.clear();
                    }
                }
            }
            assert_eq!(ring.len(), map.len());
        }
        // An id below the oldest held one.
        ring.clear();
        ring.insert(10, 1);
        ring.insert(7, 2);
        assert_eq!(ring.remove(7), Some(2));
        assert_eq!(ring.remove(10), Some(1));
        assert_eq!(ring.len(), 0);
        assert_eq!(ring.remove(10), None);
    }
}
