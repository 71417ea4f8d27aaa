//! A map keyed by ids that are issued in increasing order and mostly retired in the same
//! order (storage writes, pending BNDREPLYs): a circular buffer indexed by `id - base`, so an
//! insert or a removal touches one slot instead of shifting B-tree nodes, and retiring the
//! oldest ids only advances the start of the buffer (no value is moved).

use alloc::vec::Vec;

/// Values keyed by increasing `u64` ids. Memory is proportional to the span between the
/// oldest and the newest id held, not to the number held: an id that is never removed keeps
/// every later slot allocated (the endpoint removes each id when its write is acknowledged or
/// its connection drops).
#[derive(Clone, Debug)]
pub(crate) struct IdRing<T> {
    /// The id of the slot at `head`.
    base: u64,
    /// Where the oldest id's slot is in `slots`.
    head: usize,
    /// How many slots from `head` on are in use (from the oldest to the newest id held).
    span: usize,
    /// A power-of-two number of slots (or none); every slot outside the span is `None`.
    slots: Vec<Option<T>>,
    len: usize,
}

impl<T> Default for IdRing<T> {
    fn default() -> Self {
        Self {
            base: 0,
            head: 0,
            span: 0,
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<T> IdRing<T> {
    /// How many values are held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The position in `slots` of the slot `off` places after the oldest.
    fn pos(&self, off: usize) -> usize {
        self.head.wrapping_add(off) & self.slots.len().wrapping_sub(1)
    }

    /// The position in `slots` of `id`, if it lies inside the span.
    fn index(&self, id: u64) -> Option<usize> {
        let off = usize::try_from(id.wrapping_sub(self.base)).ok()?;
        (off < self.span).then(|| self.pos(off))
    }

    /// Makes room for a span of `n` slots; `false` if that many cannot be held.
    fn reserve_span(&mut self, n: usize) -> bool {
        if n <= self.slots.len() {
            return true;
        }
        let Some(cap) = n.max(8).checked_next_power_of_two() else {
            return false;
        };
        let mut slots: Vec<Option<T>> = Vec::with_capacity(cap);
        for off in 0..self.span {
            let p = self.pos(off);
            slots.push(self.slots.get_mut(p).and_then(Option::take));
        }
        slots.resize_with(cap, || None);
        self.slots = slots;
        self.head = 0;
        true
    }

    /// Holds `value` under `id`, replacing any value held under it. Ids are expected to grow;
    /// an id below the oldest one held is still stored correctly (the span grows at the front).
    #[inline]
    pub(crate) fn insert(&mut self, id: u64, value: T) {
        if self.span == 0 {
            self.base = id;
        }
        let off = id.wrapping_sub(self.base);
        if off > u64::MAX / 2 {
            // Below `base` (or far beyond it after wrapping): grow at the front.
            let Ok(back) = usize::try_from(self.base.wrapping_sub(id)) else {
                return;
            };
            let Some(span) = self.span.checked_add(back) else {
                return;
            };
            if !self.reserve_span(span) {
                return;
            }
            self.head = self.head.wrapping_sub(back) & self.slots.len().wrapping_sub(1);
            self.base = id;
            self.span = span;
        }
        let Ok(off) = usize::try_from(id.wrapping_sub(self.base)) else {
            return;
        };
        if off >= self.span {
            let Some(span) = off.checked_add(1) else {
                return;
            };
            if !self.reserve_span(span) {
                return;
            }
            self.span = span;
        }
        let p = self.pos(off);
        // Written per case so that an empty slot (the usual one) takes the value in one move:
        // `*slot = Some(value)` built `Some(value)` aside first and copied it after the drop of
        // the old value (two copies of a 300-byte binding per undo entry).
        match self.slots.get_mut(p) {
            Some(Some(old)) => *old = value,
            Some(slot) => {
                self.len += 1;
                *slot = Some(value);
            }
            None => {}
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
        self.trim();
        Some(v)
    }

    /// Drops the value held under `id` where it lies (no move); `false` if there is none.
    pub(crate) fn discard(&mut self, id: u64) -> bool {
        let Some(slot) = self.index(id).and_then(|i| self.slots.get_mut(i)) else {
            return false;
        };
        if slot.is_none() {
            return false;
        }
        *slot = None;
        self.len -= 1;
        self.trim();
        true
    }

    /// Shrinks the span to the oldest and newest ids held.
    fn trim(&mut self) {
        while self.span > 0 && self.slots.get(self.head).is_some_and(Option::is_none) {
            self.head = self.pos(1);
            self.base = self.base.wrapping_add(1);
            self.span -= 1;
        }
        while self.span > 0
            && self
                .slots
                .get(self.pos(self.span - 1))
                .is_some_and(Option::is_none)
        {
            self.span -= 1;
        }
    }

    /// Drops every value.
    pub(crate) fn clear(&mut self) {
        for slot in &mut self.slots {
            *slot = None;
        }
        self.span = 0;
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
                    // Remove one of the last few ids (some absent), by value or in place.
                    let id = next.wrapping_sub((x >> 20) % 6 + 1);
                    if x & 2 == 0 {
                        assert_eq!(ring.remove(id), map.remove(&id));
                    } else {
                        assert_eq!(ring.discard(id), map.remove(&id).is_some());
                    }
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

    #[test]
    fn front_growth_and_reallocation_keep_every_value() {
        let mut ring = IdRing::default();
        let mut map = BTreeMap::new();
        for id in 100..120u64 {
            ring.insert(id, id);
            map.insert(id, id);
        }
        // Retire the oldest: the start of the buffer moves on.
        for id in 100..115u64 {
            assert_eq!(ring.remove(id), map.remove(&id));
        }
        // Ids below the oldest held one: the span grows at the front across the buffer's
        // start, then beyond its capacity.
        for id in [90u64, 60, 3] {
            ring.insert(id, id);
            map.insert(id, id);
            for k in 0..130u64 {
                assert_eq!(ring.get_mut(k).copied(), map.get(&k).copied(), "id {k}");
            }
        }
        for id in 0..130u64 {
            assert_eq!(ring.remove(id), map.remove(&id), "id {id}");
        }
        assert_eq!(ring.len(), 0);
        assert!(!ring.discard(5));
    }
}
