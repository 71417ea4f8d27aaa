//! The binding table: one record per resource holding the binding and its sequence number
//! (bumped on every change the partner must hear about), so the update path finds both with
//! one search.

use alloc::collections::{BTreeMap, btree_map};

use crate::binding::{Binding, Resource};

/// One resource's record.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) binding: Binding,
    /// Bumped on every change of the binding that the partner must hear about; a BNDREPLY
    /// whose BNDUPD carried the current number acknowledges the current record.
    pub(crate) seq: u64,
}

/// Bindings by resource, with their sequence numbers. The number of a resource survives the
/// removal of its binding (kept in `gone`), so a re-created binding never repeats one.
#[derive(Clone, Debug, Default)]
pub(crate) struct BindingTable {
    map: BTreeMap<Resource, Slot>,
    gone: BTreeMap<Resource, u64>,
}

impl BindingTable {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get(&self, r: &Resource) -> Option<&Binding> {
        self.map.get(r).map(|s| &s.binding)
    }

    pub(crate) fn get_mut(&mut self, r: &Resource) -> Option<&mut Binding> {
        self.map.get_mut(r).map(|s| &mut s.binding)
    }

    pub(crate) fn contains_key(&self, r: &Resource) -> bool {
        self.map.contains_key(r)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Binding> {
        self.map.values().map(|s| &s.binding)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Binding> {
        self.map.values_mut().map(|s| &mut s.binding)
    }

    /// Puts `b` in (replacing any binding of `r`; the sequence number is kept).
    pub(crate) fn insert(&mut self, r: Resource, b: Binding) {
        match self.map.entry(r) {
            btree_map::Entry::Occupied(o) => o.into_mut().binding = b,
            btree_map::Entry::Vacant(v) => {
                let seq = self.gone.remove(&r).unwrap_or(0);
                v.insert(Slot { binding: b, seq });
            }
        }
    }

    /// Takes the binding of `r` out (its sequence number stays).
    pub(crate) fn remove(&mut self, r: &Resource) {
        if let Some(s) = self.map.remove(r) {
            self.gone.insert(*r, s.seq);
        }
    }

    /// The binding of `r`, created by `f` if there is none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        r: Resource,
        f: impl FnOnce() -> Binding,
    ) -> &mut Binding {
        match self.map.entry(r) {
            btree_map::Entry::Occupied(o) => &mut o.into_mut().binding,
            btree_map::Entry::Vacant(v) => {
                let seq = self.gone.remove(&r).unwrap_or(0);
                &mut v.insert(Slot { binding: f(), seq }).binding
            }
        }
    }

    /// The entry of `r` for a single-search update, with the numbers of removed bindings (a
    /// record created through a vacant entry takes its number from there).
    pub(crate) fn entry(
        &mut self,
        r: Resource,
    ) -> (
        btree_map::Entry<'_, Resource, Slot>,
        &mut BTreeMap<Resource, u64>,
    ) {
        (self.map.entry(r), &mut self.gone)
    }

    /// The sequence number of `r` (0 if it never changed).
    pub(crate) fn seq(&self, r: &Resource) -> u64 {
        match self.map.get(r) {
            Some(s) => s.seq,
            None => self.gone.get(r).copied().unwrap_or(0),
        }
    }

    /// A new sequence number for `r`.
    pub(crate) fn bump(&mut self, r: Resource) {
        let s = match self.map.get_mut(&r) {
            Some(s) => &mut s.seq,
            None => self.gone.entry(r).or_insert(0),
        };
        *s = s.wrapping_add(1);
    }
}
