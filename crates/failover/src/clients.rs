//! The index from a client (and resource kind) to its resources, behind
//! [`Endpoint::client_resources`](crate::Endpoint::client_resources).
//!
//! The index is keyed by a hash of the client, not by the client itself: a search compares
//! two integers per step instead of two DUIDs (a `memcmp` each), and the index holds no copy
//! of the DUID (a binding has its own). Clients whose hashes are equal share an entry, so
//! [`ClientIndex::get`] may yield resources of other clients too; its one caller keeps only
//! the resources whose binding is the client's, exactly as it did when the index was keyed
//! by client (a resource is added under its client whenever it is bound to one, and taken
//! out only when it leaves that client, so every resource bound to a client is found).
//! And an entry usually holds one resource, kept inline (no set allocated).

use alloc::collections::{BTreeMap, BTreeSet, btree_map};

use crate::binding::{ClientKey, Resource, ResourceKind};

/// The index's key: the client's hash (masked with `MASK`) and the resource kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    hash: u64,
    kind: ResourceKind,
}

/// FNV-1a over the IAID and the DUID: fixed, so the index is the same in every run.
fn client_hash(client: &ClientKey) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in client.iaid.to_be_bytes().iter().chain(client.duid.iter()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The resources of one entry, in resource order.
#[derive(Clone, Debug)]
enum Resources {
    One(Resource),
    Set(BTreeSet<Resource>),
}

/// Resources by (hash of) client and kind. `MASK` is applied to the hash (the tests use a
/// narrow one, so that many clients share entries).
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientIndex<const MASK: u64 = { u64::MAX }> {
    map: BTreeMap<Key, Resources>,
}

impl<const MASK: u64> ClientIndex<MASK> {
    fn key(client: &ClientKey, kind: ResourceKind) -> Key {
        Key {
            hash: client_hash(client) & MASK,
            kind,
        }
    }

    /// Adds `r` under `client`.
    pub(crate) fn insert(&mut self, client: &ClientKey, kind: ResourceKind, r: Resource) {
        match self.map.entry(Self::key(client, kind)) {
            btree_map::Entry::Vacant(v) => {
                v.insert(Resources::One(r));
            }
            btree_map::Entry::Occupied(o) => {
                let set = o.into_mut();
                match set {
                    Resources::One(first) if *first == r => {}
                    Resources::One(first) => {
                        *set = Resources::Set(BTreeSet::from([*first, r]));
                    }
                    Resources::Set(s) => {
                        s.insert(r);
                    }
                }
            }
        }
    }

    /// Takes `r` out from under `client` (if it is there).
    pub(crate) fn remove(&mut self, client: &ClientKey, kind: ResourceKind, r: &Resource) {
        if let Some(set) = self.map.get_mut(&Self::key(client, kind)) {
            match set {
                Resources::One(only) if only == r => *set = Resources::Set(BTreeSet::new()),
                Resources::One(_) => {}
                Resources::Set(s) => {
                    s.remove(r);
                }
            }
        }
    }

    /// The resources under `client`, in resource order: every resource added under it and
    /// not taken out since, and possibly resources of clients with the same hash (the caller
    /// checks each resource's binding).
    pub(crate) fn get(
        &self,
        client: &ClientKey,
        kind: ResourceKind,
    ) -> impl Iterator<Item = &Resource> {
        let (one, set) = match self.map.get(&Self::key(client, kind)) {
            Some(Resources::One(r)) => (Some(r), None),
            Some(Resources::Set(s)) => (None, Some(s.iter())),
            None => (None, None),
        };
        one.into_iter().chain(set.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::ClientIndex;
    use crate::binding::{ClientKey, Resource, ResourceKind};
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;
    use core::net::Ipv6Addr;

    /// Resources move between clients as bindings do (each added under its new client and
    /// taken out from under its old one); for every client, the resources the index yields
    /// whose owner is that client are exactly its resources, in order, also when clients
    /// share entries (a one-bit hash).
    fn check<const MASK: u64>() {
        let mut index = ClientIndex::<MASK>::default();
        let mut owner: BTreeMap<Resource, ClientKey> = BTreeMap::new();
        let mut x: u64 = 99;
        let client = |i: u64| ClientKey {
            duid: alloc::vec![0, 3, 0, 1, (i % 7) as u8],
            iaid: (i / 7 % 2) as u32,
        };
        let resource = |i: u64| {
            if i.is_multiple_of(3) {
                Resource::Prefix {
                    prefix: Ipv6Addr::from(u128::from(i % 4) << 72),
                    len: 56,
                }
            } else {
                Resource::Address(Ipv6Addr::from(u128::from(i % 9)))
            }
        };
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (c, r) = (client(x >> 40), resource(x >> 20));
            if let Some(old) = owner.get(&r) {
                index.remove(old, r.kind(), &r);
            }
            if x >> 62 == 0 {
                owner.remove(&r);
            } else {
                index.insert(&c, r.kind(), r);
                owner.insert(r, c);
            }
            for i in 0..14 {
                let c = client(i);
                for kind in [ResourceKind::Address, ResourceKind::Prefix] {
                    let got: Vec<Resource> = index
                        .get(&c, kind)
                        .filter(|r| owner.get(r) == Some(&c))
                        .copied()
                        .collect();
                    let want: Vec<Resource> = owner
                        .iter()
                        .filter(|(r, o)| r.kind() == kind && **o == c)
                        .map(|(r, _)| *r)
                        .collect();
                    assert_eq!(got, want);
                }
            }
        }
    }

    #[test]
    fn yields_every_resource_of_a_client_in_order() {
        check::<{ u64::MAX }>();
        check::<1>();
    }
}
