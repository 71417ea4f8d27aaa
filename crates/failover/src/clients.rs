//! The index from a client (and resource kind) to its resources, behind
//! [`Endpoint::client_resources`](crate::Endpoint::client_resources).
//!
//! Nothing iterates the index as a whole; it is only searched by client. So it is ordered by
//! a hash of the client first: a search compares two integers per step and the DUIDs only
//! where the hashes are equal, instead of comparing DUIDs (a `memcmp` each) all the way down.
//! And a client usually holds one resource of a kind, kept inline (no set allocated).

use alloc::collections::{BTreeMap, BTreeSet};

use crate::binding::{ClientKey, Resource, ResourceKind};

/// The index's key: equal exactly when client and kind are equal (the hash is a function of
/// them), ordered by the hash first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    hash: u64,
    client: ClientKey,
    kind: ResourceKind,
}

impl Key {
    fn new(client: ClientKey, kind: ResourceKind) -> Self {
        // FNV-1a over the IAID and the DUID: fixed, so the index is the same in every run.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in client.iaid.to_be_bytes().iter().chain(client.duid.iter()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self {
            hash: h,
            client,
            kind,
        }
    }
}

/// A client's resources of one kind, in resource order.
#[derive(Clone, Debug)]
enum Resources {
    One(Resource),
    Set(BTreeSet<Resource>),
}

/// Resources by client and kind.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientIndex {
    map: BTreeMap<Key, Resources>,
}

impl ClientIndex {
    /// Adds `r` to the resources of `client`.
    pub(crate) fn insert(&mut self, client: ClientKey, kind: ResourceKind, r: Resource) {
        match self.map.entry(Key::new(client, kind)) {
            alloc::collections::btree_map::Entry::Vacant(v) => {
                v.insert(Resources::One(r));
            }
            alloc::collections::btree_map::Entry::Occupied(o) => {
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

    /// Takes `r` out of the resources of `client` (if it is there).
    pub(crate) fn remove(&mut self, client: ClientKey, kind: ResourceKind, r: &Resource) {
        if let Some(set) = self.map.get_mut(&Key::new(client, kind)) {
            match set {
                Resources::One(only) if only == r => *set = Resources::Set(BTreeSet::new()),
                Resources::One(_) => {}
                Resources::Set(s) => {
                    s.remove(r);
                }
            }
        }
    }

    /// The resources of `client`, in resource order.
    pub(crate) fn get(
        &self,
        client: &ClientKey,
        kind: ResourceKind,
    ) -> impl Iterator<Item = &Resource> {
        let (one, set) = match self.map.get(&Key::new(client.clone(), kind)) {
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
    use alloc::collections::{BTreeMap, BTreeSet};
    use alloc::vec::Vec;
    use core::net::Ipv6Addr;

    /// The index answers as the plain map it replaced, over random inserts and removals.
    #[test]
    fn matches_a_map_of_sets() {
        let mut index = ClientIndex::default();
        let mut reference: BTreeMap<(ClientKey, ResourceKind), BTreeSet<Resource>> =
            BTreeMap::new();
        let mut x: u64 = 99;
        let client = |i: u64| ClientKey {
            duid: alloc::vec![0, 3, 0, 1, (i % 5) as u8],
            iaid: (i / 5 % 2) as u32,
        };
        let resource = |i: u64| {
            if i % 3 == 0 {
                Resource::Prefix {
                    prefix: Ipv6Addr::from(u128::from(i % 4) << 72),
                    len: 56,
                }
            } else {
                Resource::Address(Ipv6Addr::from(u128::from(i % 6)))
            }
        };
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (c, r) = (client(x >> 40), resource(x >> 20));
            if x >> 62 == 0 {
                index.remove(c.clone(), r.kind(), &r);
                if let Some(s) = reference.get_mut(&(c, r.kind())) {
                    s.remove(&r);
                }
            } else {
                index.insert(c.clone(), r.kind(), r);
                reference.entry((c, r.kind())).or_default().insert(r);
            }
            for i in 0..10 {
                for kind in [ResourceKind::Address, ResourceKind::Prefix] {
                    let got: Vec<Resource> = index.get(&client(i), kind).copied().collect();
                    let want: Vec<Resource> = reference
                        .get(&(client(i), kind))
                        .into_iter()
                        .flatten()
                        .copied()
                        .collect();
                    assert_eq!(got, want);
                }
            }
        }
    }
}
