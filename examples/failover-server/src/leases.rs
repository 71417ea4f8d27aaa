//! The server's lease table: every lease is a [`dhcpv6_failover::Binding`], the binding model of
//! the failover crate, so a standalone server and a failover partner share one lease model.
//!
//! The table indexes bindings by resource and by client, remembers short-lived offers made in
//! Advertise messages, keeps an expiry queue, and records which bindings changed since the store
//! last collected them ([`LeaseTable::take_dirty`]). Allocation goes through the dhcpv6-pool
//! allocators (one per range and prefix pool), which this table keeps in step with the bindings.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use dhcpv6_failover::{Binding, BindingStatus, ClientKey, Resource, ResourceKind, UnixTime};

use crate::config::{AddressRange, PrefixPool, Subnet, in_prefix, mask};

/// How long an address offered in an Advertise stays reserved for that client.
pub const OFFER_HOLD: Duration = Duration::from_secs(60);

/// What a lease grant carries into the binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Preferred lifetime told to the client.
    pub preferred: Duration,
    /// Valid lifetime told to the client.
    pub valid: Duration,
    /// T1 told to the client.
    pub t1: Duration,
    /// T2 told to the client.
    pub t2: Duration,
    /// Client FQDN option payload, if any.
    pub fqdn: Option<Vec<u8>>,
}

/// The allocators of one subnet (same order as its configured ranges and prefix pools).
#[derive(Debug, Default)]
struct SubnetPools {
    addresses: Vec<dhcpv6_pool::AddressPool>,
    prefixes: Vec<dhcpv6_pool::PrefixPool>,
}

/// The lease table.
#[derive(Debug, Default)]
pub struct LeaseTable {
    pools: Vec<SubnetPools>,
    bindings: HashMap<Resource, Binding>,
    by_client: HashMap<(ResourceKind, ClientKey), Vec<Resource>>,
    offers: HashMap<Resource, (ClientKey, UnixTime)>,
    expiries: BinaryHeap<Reverse<(UnixTime, Resource)>>,
    dirty: Vec<Resource>,
    active: u64,
}

fn add(t: UnixTime, d: Duration) -> UnixTime {
    UnixTime::from_secs(t.as_secs().saturating_add(d.as_secs()))
}

/// Tells the allocator that owns `r` what it may do with it now.
fn sync_pools(pools: &mut [SubnetPools], r: &Resource, status: dhcpv6_pool::Status) {
    for sp in pools {
        match r {
            Resource::Address(a) => {
                for p in &mut sp.addresses {
                    if p.set_status(*a, status).is_ok() {
                        return;
                    }
                }
            }
            Resource::Prefix { prefix, len } => {
                let Ok(pfx) = dhcpv6_pool::Prefix::new(*prefix, *len) else {
                    return;
                };
                for p in &mut sp.prefixes {
                    if p.set_status(pfx, status).is_ok() {
                        return;
                    }
                }
            }
        }
    }
}

impl LeaseTable {
    /// Builds the table for `subnets` (one allocator per range and prefix pool, seeded with
    /// `seed`) and fills it with stored bindings.
    ///
    /// Subnet `i` with `governed[i]` true belongs to a failover relationship, whose endpoint
    /// picks every new resource there ([`crate::dhcp::Authority::allocate`]): the table keeps
    /// no allocator for it, so it does not track which of those resources are taken either
    /// (bindings scattered by the per-client hash made that a bitmap page per lease).
    pub fn restore(
        subnets: &[Subnet],
        governed: &[bool],
        seed: u64,
        bindings: impl IntoIterator<Item = Binding>,
    ) -> Self {
        use dhcpv6_pool::{AddressPoolConfig, PrefixPoolConfig, Proportion, SplitRule};
        // A standalone server owns every resource: the primary's share is the whole pool.
        let all_primary = SplitRule::Hash {
            secondary_share: Proportion::ZERO,
        };
        let mut t = Self::default();
        for (i, s) in subnets.iter().enumerate() {
            let mut sp = SubnetPools::default();
            if governed.get(i).copied().unwrap_or(false) {
                t.pools.push(sp);
                continue;
            }
            for r in &s.addresses {
                let range = dhcpv6_pool::AddressRange::new(r.first, r.last).and_then(|range| {
                    dhcpv6_pool::AddressPool::new(
                        &AddressPoolConfig::new(range)
                            .with_rule(all_primary)
                            .with_seed(seed),
                    )
                });
                match range {
                    Ok(p) => sp.addresses.push(p),
                    Err(e) => {
                        tracing::error!(subnet = %s.name, error = %e, "address range rejected by the pool crate")
                    }
                }
            }
            for p in &s.prefixes {
                let pool = dhcpv6_pool::Prefix::new(p.prefix, p.prefix_len).and_then(|pfx| {
                    dhcpv6_pool::PrefixPool::new(
                        &PrefixPoolConfig::new(pfx, p.delegated_len)
                            .with_rule(all_primary)
                            .with_seed(seed),
                    )
                });
                match pool {
                    Ok(p) => sp.prefixes.push(p),
                    Err(e) => {
                        tracing::error!(subnet = %s.name, error = %e, "prefix pool rejected by the pool crate")
                    }
                }
            }
            t.pools.push(sp);
        }
        for b in bindings {
            t.insert(b);
        }
        t.dirty.clear();
        t
    }

    /// Tells the allocator that owns `r` what it may do with it now.
    fn sync_pool(&mut self, r: &Resource, status: dhcpv6_pool::Status) {
        sync_pools(&mut self.pools, r, status);
    }

    fn insert(&mut self, b: Binding) {
        self.put(b, false);
    }

    /// Puts `b` in the table and its indexes, with one lookup of its resource. With `absorbing`,
    /// a rewrite that keeps status, client and expiry only replaces the stored binding (returns
    /// false), and nothing is marked for the store. Returns true when the indexes were updated.
    fn put(&mut self, b: Binding, absorbing: bool) -> bool {
        use std::collections::hash_map::Entry;
        let r = b.resource;
        let slot = self.bindings.entry(r);
        // Whether `by_client` lists `r` under `b`'s client already, and whether the allocator
        // already has `r` taken: true when the old binding had the same client (every insert
        // lists a binding under its client, and only a change of client unlists it), and
        // when old and new are both ACTIVE (nothing frees an ACTIVE binding's resource in the
        // allocator).
        let (mut listed, mut taken) = (false, false);
        if let Entry::Occupied(o) = &slot {
            let old = o.get();
            // The endpoint rewrites a lease it already holds (its own record of a lease just
            // granted, the partner's acknowledgement): same status, client and expiry, so the
            // indexes, the expiry queue and the allocator are already right.
            if absorbing
                && old.status == b.status
                && old.client == b.client
                && old.state_expiration_time == b.state_expiration_time
            {
                if let Entry::Occupied(mut o) = slot {
                    o.insert(b);
                }
                return false;
            }
            if old.status == BindingStatus::Active {
                self.active = self.active.saturating_sub(1);
                taken = b.status == BindingStatus::Active;
            }
            match &old.client {
                Some(c) if b.client.as_ref() == Some(c) => listed = true,
                Some(c) => {
                    let key = (r.kind(), c.clone());
                    if let Some(v) = self.by_client.get_mut(&key) {
                        v.retain(|x| *x != r);
                        if v.is_empty() {
                            self.by_client.remove(&key);
                        }
                    }
                }
                None => {}
            }
        }
        if !listed && let Some(c) = &b.client {
            let v = self.by_client.entry((r.kind(), c.clone())).or_default();
            if !v.contains(&r) {
                v.push(r);
            }
        }
        if b.status == BindingStatus::Active {
            self.active += 1;
            if let Some(exp) = b.state_expiration_time {
                self.expiries.push(Reverse((exp, r)));
            }
        }
        if !taken {
            let pool_status = match b.status {
                BindingStatus::Free | BindingStatus::FreeBackup => dhcpv6_pool::Status::Free,
                BindingStatus::Abandoned => dhcpv6_pool::Status::Abandoned,
                _ => dhcpv6_pool::Status::Taken,
            };
            sync_pools(&mut self.pools, &r, pool_status);
        }
        match slot {
            Entry::Occupied(mut o) => {
                o.insert(b);
            }
            Entry::Vacant(v) => {
                v.insert(b);
            }
        }
        if !absorbing {
            self.dirty.push(r);
        }
        true
    }

    /// Puts a binding decided elsewhere (the failover partner, or the failover endpoint's own
    /// record of a lease) into the table without marking it for the store.
    pub fn absorb(&mut self, b: Binding) {
        let r = b.resource;
        let active = b.status == BindingStatus::Active;
        if self.put(b, true) && active && !self.offers.is_empty() {
            self.offers.remove(&r);
        }
    }

    /// The binding of a resource.
    pub fn get(&self, r: &Resource) -> Option<&Binding> {
        self.bindings.get(r)
    }

    /// Every binding.
    pub fn iter(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values()
    }

    /// Number of ACTIVE bindings.
    pub fn active(&self) -> u64 {
        self.active
    }

    /// Resources of kind `kind` whose binding names `client` and is ACTIVE (not yet expired at `now`).
    pub fn active_for(
        &self,
        kind: ResourceKind,
        client: &ClientKey,
        now: UnixTime,
    ) -> Vec<Resource> {
        self.by_client
            .get(&(kind, client.clone()))
            .map(|v| {
                v.iter()
                    .filter(|r| {
                        self.bindings.get(r).is_some_and(|b| {
                            b.status == BindingStatus::Active
                                && b.state_expiration_time.is_some_and(|e| e > now)
                        })
                    })
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `client` may be given `r` now: nobody else holds or was offered it, and it is not
    /// abandoned.
    pub fn is_available_to(&self, r: &Resource, client: &ClientKey, now: UnixTime) -> bool {
        if let Some((holder, until)) = self.offers.get(r)
            && holder != client
            && *until > now
        {
            return false;
        }
        match self.bindings.get(r) {
            None => true,
            Some(b) if b.is_for(client) => b.status != BindingStatus::Abandoned,
            Some(b) => match b.status {
                BindingStatus::Free | BindingStatus::FreeBackup => true,
                // A lease whose lifetime ran out but that the expiry sweep has not reached yet.
                BindingStatus::Active | BindingStatus::Expired | BindingStatus::Released => {
                    b.latest_known_lifetime().is_some_and(|e| e <= now)
                }
                _ => false,
            },
        }
    }

    /// Remembers that `r` was offered to `client` in an Advertise.
    pub fn offer(&mut self, r: Resource, client: &ClientKey, now: UnixTime) {
        self.offers
            .insert(r, (client.clone(), add(now, OFFER_HOLD)));
        self.sync_pool(&r, dhcpv6_pool::Status::Taken);
    }

    /// Binds `r` to `client` (new lease or extension) with the given lifetimes.
    pub fn bind(&mut self, now: UnixTime, r: Resource, client: &ClientKey, grant: &Grant) {
        let mut b = match self.bindings.get(&r) {
            Some(b) if b.is_for(client) && b.status == BindingStatus::Active => b.clone(),
            _ => Binding::new(r, BindingStatus::Active, now),
        };
        b.client = Some(client.clone());
        b.status = BindingStatus::Active;
        b.client_last_transaction_time = Some(now);
        b.state_expiration_time = Some(add(now, grant.valid));
        b.preferred_lifetime = grant.preferred;
        b.valid_lifetime = grant.valid;
        b.t1 = grant.t1;
        b.t2 = grant.t2;
        if grant.fqdn.is_some() {
            b.fqdn.clone_from(&grant.fqdn);
        }
        self.offers.remove(&r);
        self.insert(b);
    }

    /// Moves `r`, bound to `client`, to `status` (RELEASED → FREE for a standalone server,
    /// ABANDONED on Decline). Returns false if `r` is not `client`'s.
    pub fn end(
        &mut self,
        now: UnixTime,
        r: &Resource,
        client: &ClientKey,
        status: BindingStatus,
    ) -> bool {
        let Some(b) = self.bindings.get(r) else {
            return false;
        };
        if !b.is_for(client) || b.status != BindingStatus::Active {
            return false;
        }
        let mut b = b.clone();
        b.status = status;
        b.start_time_of_state = now;
        b.client_last_transaction_time = Some(now);
        b.state_expiration_time = None;
        self.insert(b);
        true
    }

    /// Moves every ACTIVE lease whose valid lifetime has passed to `expired_status` (FREE for a
    /// standalone server) and forgets stale offers. Returns how many leases expired.
    pub fn reclaim_expired(&mut self, now: UnixTime, expired_status: BindingStatus) -> usize {
        self.reclaim_expired_by(now, |_| expired_status).len()
    }

    /// Moves every ACTIVE lease whose valid lifetime has passed to the status `status_for`
    /// gives it (FREE for a standalone server's own leases, EXPIRED for those a failover
    /// endpoint governs) and forgets stale offers. Returns the expired resources.
    pub fn reclaim_expired_by(
        &mut self,
        now: UnixTime,
        mut status_for: impl FnMut(&Resource) -> BindingStatus,
    ) -> Vec<Resource> {
        let mut expired = Vec::new();
        while let Some(Reverse((when, r))) = self.expiries.peek().copied() {
            if when > now {
                break;
            }
            self.expiries.pop();
            let Some(b) = self.bindings.get(&r) else {
                continue;
            };
            // Stale entries (the lease was renewed or ended since) are skipped.
            if b.status != BindingStatus::Active || b.state_expiration_time.is_none_or(|e| e > now)
            {
                continue;
            }
            let mut b = b.clone();
            b.status = status_for(&r);
            b.start_time_of_state = when;
            b.state_expiration_time = None;
            self.insert(b);
            expired.push(r);
        }
        let stale: Vec<Resource> = self
            .offers
            .iter()
            .filter(|(_, (_, until))| *until <= now)
            .map(|(r, _)| *r)
            .collect();
        for r in stale {
            self.offers.remove(&r);
            // An offer that was never taken up returns to the allocator.
            if self
                .bindings
                .get(&r)
                .is_none_or(|b| b.status.is_available())
            {
                self.sync_pool(&r, dhcpv6_pool::Status::Free);
            }
        }
        expired
    }

    /// Whether bindings changed since the last [`LeaseTable::take_dirty`].
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The resources whose bindings changed since the last call, with their current bindings.
    pub fn take_dirty(&mut self) -> Vec<&Binding> {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        dirty.iter().filter_map(|r| self.bindings.get(r)).collect()
    }

    /// Finds a resource of `kind` in subnet number `subnet` that `client` may have: a hint first,
    /// then a resource it held before, then the pool crate's allocator. `None` when the subnet
    /// has no such resource left. The resource is marked taken until it is bound or the offer
    /// lapses.
    pub fn allocate(
        &mut self,
        now: UnixTime,
        subnet_index: usize,
        subnet: &Subnet,
        kind: ResourceKind,
        client: &ClientKey,
        hints: &[Resource],
    ) -> Option<Resource> {
        if let Some(h) = hints.iter().find(|h| {
            h.kind() == kind && in_subnet_pools(subnet, h) && self.is_available_to(h, client, now)
        }) {
            return Some(*h);
        }
        // A resource this client held before (released or expired) comes back to it.
        if let Some(prev) = self.by_client.get(&(kind, client.clone()))
            && let Some(r) = prev
                .iter()
                .find(|r| in_subnet_pools(subnet, r) && self.is_available_to(r, client, now))
        {
            return Some(*r);
        }
        let key = dhcpv6_pool::ClientKey::new(&client.duid, client.iaid);
        let sp = self.pools.get_mut(subnet_index)?;
        match kind {
            ResourceKind::Address => sp
                .addresses
                .iter_mut()
                .find_map(|p| p.allocate(dhcpv6_pool::Side::Primary, key))
                .map(Resource::Address),
            ResourceKind::Prefix => sp
                .prefixes
                .iter_mut()
                .find_map(|p| p.allocate(dhcpv6_pool::Side::Primary, key))
                .map(|p| Resource::Prefix {
                    prefix: p.addr(),
                    len: p.len(),
                }),
        }
    }
}

/// Number of addresses in a range (saturating at 2^128 - 1).
pub fn range_size(r: &AddressRange) -> u128 {
    (u128::from(r.last) - u128::from(r.first)).saturating_add(1)
}

/// Number of delegable prefixes in a pool (saturating).
pub fn prefix_count(p: &PrefixPool) -> u128 {
    let bits = u32::from(p.delegated_len.saturating_sub(p.prefix_len));
    if bits >= 128 {
        u128::MAX
    } else {
        1u128 << bits
    }
}

/// Whether `r` lies in one of the subnet's pools (an address in a range, or a prefix of exactly
/// the delegated length inside a prefix pool).
pub fn in_subnet_pools(subnet: &Subnet, r: &Resource) -> bool {
    match r {
        Resource::Address(a) => {
            let a = u128::from(*a);
            subnet
                .addresses
                .iter()
                .any(|x| u128::from(x.first) <= a && a <= u128::from(x.last))
        }
        Resource::Prefix { prefix, len } => subnet.prefixes.iter().any(|p| {
            *len == p.delegated_len
                && in_prefix(*prefix, p.prefix, p.prefix_len)
                && u128::from(*prefix) & !mask(*len) == 0
        }),
    }
}

/// The store key of a resource: `0x00 ‖ address` or `0x01 ‖ prefix ‖ length`.
pub fn resource_key(r: &Resource) -> Vec<u8> {
    let mut k = Vec::with_capacity(18);
    match r {
        Resource::Address(a) => {
            k.push(0);
            k.extend_from_slice(&a.octets());
        }
        Resource::Prefix { prefix, len } => {
            k.push(1);
            k.extend_from_slice(&prefix.octets());
            k.push(*len);
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn subnet() -> Subnet {
        Subnet {
            name: "t".into(),
            interface: None,
            link: Some(("2001:db8::".parse().expect("addr"), 64)),
            addresses: vec![AddressRange {
                first: "2001:db8::10".parse().expect("a"),
                last: "2001:db8::13".parse().expect("a"),
            }],
            prefixes: vec![PrefixPool {
                prefix: "2001:db8:100::".parse().expect("a"),
                prefix_len: 48,
                delegated_len: 50,
            }],
        }
    }

    fn client(n: u8) -> ClientKey {
        ClientKey {
            duid: vec![0, 3, 0, 1, n],
            iaid: 1,
        }
    }

    fn grant() -> Grant {
        Grant {
            preferred: Duration::from_secs(50),
            valid: Duration::from_secs(100),
            t1: Duration::from_secs(25),
            t2: Duration::from_secs(40),
            fqdn: None,
        }
    }

    /// A subnet governed by a failover relationship has no allocator here, but its bindings
    /// are kept and decide availability as anywhere else.
    #[test]
    fn a_governed_subnet_keeps_bindings_and_allocates_nothing() {
        let s = subnet();
        let mut t = LeaseTable::restore(std::slice::from_ref(&s), &[true], 7, []);
        let now = UnixTime::from_secs(1000);
        assert_eq!(
            t.allocate(now, 0, &s, ResourceKind::Address, &client(1), &[]),
            None
        );
        let mut free = LeaseTable::restore(std::slice::from_ref(&s), &[false], 7, []);
        let r = free
            .allocate(now, 0, &s, ResourceKind::Address, &client(1), &[])
            .expect("room");
        t.bind(now, r, &client(1), &grant());
        assert_eq!(t.active(), 1);
        assert!(t.is_available_to(&r, &client(1), now));
        assert!(!t.is_available_to(&r, &client(2), now));
    }

    #[test]
    fn fills_a_small_pool_exactly_and_never_twice() {
        let s = subnet();
        let mut t = LeaseTable::restore(std::slice::from_ref(&s), &[], 7, []);
        let now = UnixTime::from_secs(1000);
        let mut got = Vec::new();
        for n in 0..4 {
            let r = t
                .allocate(now, 0, &s, ResourceKind::Address, &client(n), &[])
                .expect("room");
            assert!(!got.contains(&r));
            t.bind(now, r, &client(n), &grant());
            got.push(r);
        }
        assert_eq!(
            t.allocate(now, 0, &s, ResourceKind::Address, &client(9), &[]),
            None
        );
        assert_eq!(t.active(), 4);
        // Prefixes: a /48 split into /50s gives four.
        for n in 0..4 {
            let r = t
                .allocate(now, 0, &s, ResourceKind::Prefix, &client(n), &[])
                .expect("room");
            assert!(in_subnet_pools(&s, &r));
            t.bind(now, r, &client(n), &grant());
        }
        assert_eq!(
            t.allocate(now, 0, &s, ResourceKind::Prefix, &client(9), &[]),
            None
        );
        assert_eq!(t.take_dirty().len(), 8);
        assert!(t.take_dirty().is_empty());
    }

    #[test]
    fn expiry_frees_and_the_same_client_gets_its_address_back() {
        let s = subnet();
        let mut t = LeaseTable::restore(std::slice::from_ref(&s), &[], 7, []);
        let now = UnixTime::from_secs(1000);
        let r = t
            .allocate(now, 0, &s, ResourceKind::Address, &client(1), &[])
            .expect("room");
        t.bind(now, r, &client(1), &grant());
        assert_eq!(
            t.reclaim_expired(UnixTime::from_secs(1099), BindingStatus::Free),
            0
        );
        assert_eq!(
            t.reclaim_expired(UnixTime::from_secs(1100), BindingStatus::Free),
            1
        );
        assert_eq!(t.active(), 0);
        assert_eq!(t.get(&r).map(|b| b.status), Some(BindingStatus::Free));
        let later = UnixTime::from_secs(1200);
        assert_eq!(
            t.allocate(later, 0, &s, ResourceKind::Address, &client(1), &[]),
            Some(r)
        );
    }

    #[test]
    fn absorbing_the_endpoints_rewrite_of_a_lease_changes_nothing_else() {
        let s = subnet();
        let mut t = LeaseTable::restore(std::slice::from_ref(&s), &[], 7, []);
        let now = UnixTime::from_secs(1000);
        let r = t
            .allocate(now, 0, &s, ResourceKind::Address, &client(1), &[])
            .expect("room");
        t.bind(now, r, &client(1), &grant());
        let _ = t.take_dirty();
        let queued = t.expiries.len();
        // The endpoint's record of the same lease, with its failover fields set.
        let mut b = t.get(&r).cloned().expect("bound");
        b.needs_partner_update = true;
        b.partner_lifetime = Some(UnixTime::from_secs(5000));
        t.absorb(b.clone());
        assert_eq!(t.get(&r), Some(&b));
        assert_eq!(t.active(), 1);
        assert_eq!(t.expiries.len(), queued, "no second expiry entry");
        assert!(
            t.take_dirty().is_empty(),
            "absorbed records are not rewritten"
        );
        // A real change (the partner's update moving it on) still goes through the indexes.
        let mut gone = b;
        gone.status = BindingStatus::Expired;
        gone.state_expiration_time = None;
        t.absorb(gone);
        assert_eq!(t.active(), 0);
        assert!(
            t.active_for(ResourceKind::Address, &client(1), now)
                .is_empty()
        );
    }

    #[test]
    fn offers_reserve_and_abandoned_stays_out() {
        let s = subnet();
        let mut t = LeaseTable::restore(std::slice::from_ref(&s), &[], 7, []);
        let now = UnixTime::from_secs(1000);
        let r = Resource::Address("2001:db8::10".parse().expect("a"));
        t.offer(r, &client(1), now);
        assert!(!t.is_available_to(&r, &client(2), now));
        assert!(t.is_available_to(&r, &client(1), now));
        t.bind(now, r, &client(1), &grant());
        assert!(t.end(now, &r, &client(1), BindingStatus::Abandoned));
        assert!(!t.is_available_to(&r, &client(1), now));
        assert!(!t.is_available_to(&r, &client(2), UnixTime::from_secs(100_000)));
        // Restore keeps everything.
        let restored = LeaseTable::restore(
            std::slice::from_ref(&s),
            &[],
            7,
            t.iter().cloned().collect::<Vec<_>>(),
        );
        assert_eq!(
            restored.get(&r).map(|b| b.status),
            Some(BindingStatus::Abandoned)
        );
    }

    #[test]
    fn resource_keys_are_distinct() {
        let a = resource_key(&Resource::Address(Ipv6Addr::UNSPECIFIED));
        let p = resource_key(&Resource::Prefix {
            prefix: Ipv6Addr::UNSPECIFIED,
            len: 0,
        });
        assert_ne!(a, p);
        assert_eq!(a.len(), 17);
        assert_eq!(p.len(), 18);
    }
}
