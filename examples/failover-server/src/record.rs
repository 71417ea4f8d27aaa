//! The stored form of a lease: a compact, versioned binary encoding of
//! [`dhcpv6_failover::Binding`] (about 80 bytes for an address lease, a sixth of its JSON form,
//! which keeps grouped commits small).
//!
//! Layout (version 1, integers big-endian):
//! `version u8 = 1 | resource | status u8 (RFC 8156 wire value) | flags u8 | times | lifetimes |
//! client | fqdn | dns_removal`, where `resource` is `0 ‖ address[16]` or `1 ‖ prefix[16] ‖ len`,
//! `flags` bit 0 is "partner needs update", `times` is a presence bitmap `u8` followed by one `u64`
//! per present time (expiration, acked-partner-lifetime, partner-lifetime,
//! client-last-transaction, partner-raw-clt, state-expiration) and then start-time-of-state
//! `u64`, `lifetimes` is preferred, valid, T1, T2 as `u32` seconds, and `client`, `fqdn` and the
//! three DNS-removal fields are optional byte strings (`0` absent, `1 ‖ len u16 ‖ bytes`; the DNS
//! flags `1 ‖ u16`), then, when `flags` bit 1 is set, the record's update number `u64` (see
//! [`encode_with_update`]). Decoding is total: any malformed record is an error naming the field.

use std::net::Ipv6Addr;
use std::time::Duration;

use dhcpv6_failover::{Binding, BindingStatus, ClientKey, DnsRemovalInfo, Resource, UnixTime};

const VERSION: u8 = 1;

/// Encodes a binding.
pub fn encode(b: &Binding) -> Vec<u8> {
    encode_with_update(b, None)
}

/// Encodes a binding with the update number its failover relationship gave this version of it
/// (`partner::Failover` keeps, per relationship, the highest number below which every update
/// was acknowledged, instead of rewriting each acknowledged record).
pub fn encode_with_update(b: &Binding, update: Option<u64>) -> Vec<u8> {
    let times = [
        b.expiration_time,
        b.acked_partner_lifetime,
        b.partner_lifetime,
        b.client_last_transaction_time,
        b.partner_raw_clt_time,
        b.state_expiration_time,
    ];
    let iaid = b.client.as_ref().map(|c| c.iaid.to_be_bytes());
    // The client is its IAID then its DUID, as one value.
    let client = b
        .client
        .as_ref()
        .zip(iaid.as_ref())
        .map(|(c, iaid)| [iaid.as_slice(), c.duid.as_slice()]);
    let dns = b.dns_removal.as_ref();
    let fqdn = b.fqdn.as_deref().map(|f| [f, &[]]);
    let host = dns.and_then(|d| d.host_name.as_deref()).map(|h| [h, &[]]);
    let zone = dns.and_then(|d| d.zone_name.as_deref()).map(|z| [z, &[]]);
    // The exact size, so that the record is one allocation.
    let len =
        2 + match b.resource {
            Resource::Address(_) => 16,
            Resource::Prefix { .. } => 17,
        } + 3
            + 8 * times.iter().flatten().count()
            + 8
            + 16
            + [client, fqdn, host, zone]
                .iter()
                .map(|p| 1 + p.as_ref().map_or(0, |p| 2 + p[0].len() + p[1].len()))
                .sum::<usize>()
            + dns.and_then(|d| d.flags).map_or(1, |_| 3)
            + 1
            + update.map_or(0, |_| 8);
    let mut v = Vec::with_capacity(len);
    v.push(VERSION);
    match b.resource {
        Resource::Address(a) => {
            v.push(0);
            v.extend_from_slice(&a.octets());
        }
        Resource::Prefix { prefix, len } => {
            v.push(1);
            v.extend_from_slice(&prefix.octets());
            v.push(len);
        }
    }
    v.push(b.status.to_u8());
    v.push(u8::from(b.needs_partner_update) | if update.is_some() { 2 } else { 0 });
    let mut present = 0u8;
    for (i, t) in times.iter().enumerate() {
        if t.is_some() {
            present |= 1 << i;
        }
    }
    v.push(present);
    for t in times.iter().flatten() {
        v.extend_from_slice(&t.as_secs().to_be_bytes());
    }
    v.extend_from_slice(&b.start_time_of_state.as_secs().to_be_bytes());
    for d in [b.preferred_lifetime, b.valid_lifetime, b.t1, b.t2] {
        v.extend_from_slice(&u32::try_from(d.as_secs()).unwrap_or(u32::MAX).to_be_bytes());
    }
    put_bytes(&mut v, client);
    put_bytes(&mut v, fqdn);
    put_bytes(&mut v, host);
    put_bytes(&mut v, zone);
    match dns.and_then(|d| d.flags) {
        Some(f) => {
            v.push(1);
            v.extend_from_slice(&f.to_be_bytes());
        }
        None => v.push(0),
    }
    v.push(u8::from(dns.is_some()));
    if let Some(n) = update {
        v.extend_from_slice(&n.to_be_bytes());
    }
    v
}

/// Writes a value given in two parts (the second often empty) as one length-prefixed value.
fn put_bytes(v: &mut Vec<u8>, b: Option<[&[u8]; 2]>) {
    match b {
        // Longer values cannot come from the wire (options are at most 65535 bytes).
        Some([a, b]) if a.len() + b.len() <= usize::from(u16::MAX) => {
            v.push(1);
            v.extend_from_slice(&((a.len() + b.len()) as u16).to_be_bytes());
            v.extend_from_slice(a);
            v.extend_from_slice(b);
        }
        _ => v.push(0),
    }
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!("binding record truncated in {what}"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn bytes(&mut self, what: &str) -> Result<Option<Vec<u8>>, String> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => {
                let len = u16::from_be_bytes(self.array(what)?);
                Ok(Some(self.take(usize::from(len), what)?.to_vec()))
            }
            t => Err(format!("binding record: bad presence tag {t} in {what}")),
        }
    }
}

/// Decodes a binding written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Binding, String> {
    decode_with_update(bytes).map(|(b, _)| b)
}

/// Decodes a binding written by [`encode_with_update`], with its update number.
pub fn decode_with_update(bytes: &[u8]) -> Result<(Binding, Option<u64>), String> {
    let mut c = Cursor { rest: bytes };
    let version = c.u8("version")?;
    if version != VERSION {
        return Err(format!("binding record version {version} is not supported"));
    }
    let resource = match c.u8("resource kind")? {
        0 => Resource::Address(Ipv6Addr::from(c.array::<16>("address")?)),
        1 => {
            let prefix = Ipv6Addr::from(c.array::<16>("prefix")?);
            let len = c.u8("prefix length")?;
            if len > 128 {
                return Err(format!("binding record: prefix length {len}"));
            }
            Resource::Prefix { prefix, len }
        }
        k => return Err(format!("binding record: resource kind {k}")),
    };
    let status_raw = c.u8("status")?;
    let status = BindingStatus::from_u8(status_raw)
        .ok_or_else(|| format!("binding record: status {status_raw}"))?;
    let flags = c.u8("flags")?;
    if flags & !3 != 0 {
        return Err(format!("binding record: unknown flags {flags:#04x}"));
    }
    let present = c.u8("time bitmap")?;
    let mut times = [None; 6];
    for (i, t) in times.iter_mut().enumerate() {
        if present & (1 << i) != 0 {
            *t = Some(UnixTime::from_secs(c.u64("times")?));
        }
    }
    let start = UnixTime::from_secs(c.u64("start-time-of-state")?);
    let mut b = Binding::new(resource, status, start);
    [
        b.expiration_time,
        b.acked_partner_lifetime,
        b.partner_lifetime,
        b.client_last_transaction_time,
        b.partner_raw_clt_time,
        b.state_expiration_time,
    ] = times;
    b.needs_partner_update = flags & 1 != 0;
    b.preferred_lifetime = Duration::from_secs(c.u32("preferred lifetime")?.into());
    b.valid_lifetime = Duration::from_secs(c.u32("valid lifetime")?.into());
    b.t1 = Duration::from_secs(c.u32("t1")?.into());
    b.t2 = Duration::from_secs(c.u32("t2")?.into());
    b.client = match c.bytes("client")? {
        Some(k) if k.len() >= 4 => {
            let (iaid, duid) = k.split_at(4);
            let mut a = [0u8; 4];
            a.copy_from_slice(iaid);
            Some(ClientKey {
                duid: duid.to_vec(),
                iaid: u32::from_be_bytes(a),
            })
        }
        Some(_) => return Err("binding record: client shorter than its IAID".into()),
        None => None,
    };
    b.fqdn = c.bytes("fqdn")?;
    let host_name = c.bytes("dns host name")?;
    let zone_name = c.bytes("dns zone name")?;
    let dns_flags = match c.u8("dns flags")? {
        0 => None,
        1 => Some(u16::from_be_bytes(c.array("dns flags")?)),
        t => return Err(format!("binding record: bad presence tag {t} in dns flags")),
    };
    if c.u8("dns removal")? == 1 {
        b.dns_removal = Some(DnsRemovalInfo {
            host_name,
            zone_name,
            flags: dns_flags,
        });
    }
    let update = if flags & 2 != 0 {
        Some(c.u64("update number")?)
    } else {
        None
    };
    if !c.rest.is_empty() {
        return Err(format!("binding record: {} trailing bytes", c.rest.len()));
    }
    Ok((b, update))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Binding {
        let mut b = Binding::new(
            Resource::Address("2001:db8::42".parse().expect("a")),
            BindingStatus::Active,
            UnixTime::from_secs(1000),
        );
        b.client = Some(ClientKey {
            duid: vec![0, 1, 0, 1, 9, 9, 9, 9, 0, 12, 1, 2, 3, 4],
            iaid: 7,
        });
        b.client_last_transaction_time = Some(UnixTime::from_secs(1000));
        b.state_expiration_time = Some(UnixTime::from_secs(5000));
        b.preferred_lifetime = Duration::from_secs(3000);
        b.valid_lifetime = Duration::from_secs(4000);
        b.t1 = Duration::from_secs(1000);
        b.t2 = Duration::from_secs(2000);
        b
    }

    #[test]
    fn round_trips_and_stays_small() {
        let b = sample();
        let bytes = encode(&b);
        assert!(bytes.len() < 100, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes), Ok(b));

        let mut p = Binding::new(
            Resource::Prefix {
                prefix: "2001:db8:100::".parse().expect("a"),
                len: 56,
            },
            BindingStatus::Abandoned,
            UnixTime::from_secs(7),
        );
        p.fqdn = Some(vec![1, 2, 3]);
        p.needs_partner_update = true;
        p.expiration_time = Some(UnixTime::from_secs(9));
        p.dns_removal = Some(DnsRemovalInfo {
            host_name: Some(vec![4]),
            zone_name: None,
            flags: Some(3),
        });
        assert_eq!(decode(&encode(&p)), Ok(p));
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error() {
        let bytes = encode(&sample());
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes accepted");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        let mut bad = bytes;
        bad[0] = 9;
        assert!(decode(&bad).unwrap_err().contains("version 9"));
    }

    #[test]
    fn the_update_number_round_trips_and_is_checked() {
        let mut b = sample();
        b.needs_partner_update = true;
        let plain = encode(&b);
        let numbered = encode_with_update(&b, Some(0x0102_0304_0506_0708));
        assert_eq!(numbered.len(), plain.len() + 8);
        assert_eq!(numbered.len(), numbered.capacity(), "sized exactly");
        assert_eq!(&numbered[numbered.len() - 8..], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            decode_with_update(&numbered),
            Ok((b.clone(), Some(0x0102_0304_0506_0708)))
        );
        assert_eq!(decode_with_update(&plain), Ok((b.clone(), None)));
        assert_eq!(decode(&numbered), Ok(b));
        for n in 0..numbered.len() {
            assert!(
                decode_with_update(&numbered[..n]).is_err(),
                "prefix of {n} bytes accepted"
            );
        }
        // The flags byte follows version, kind, address and status.
        let mut unknown = plain;
        unknown[19] |= 4;
        assert!(decode(&unknown).unwrap_err().contains("unknown flags"));
    }

    /// The format is what stores already hold: these bytes were written by the encoder before
    /// it computed its size up front (one allocation per record).
    #[test]
    fn the_stored_format_is_unchanged_and_one_allocation() {
        let b = sample();
        let mut p = b.clone();
        p.resource = Resource::Prefix {
            prefix: "2001:db8:100::".parse().expect("a"),
            len: 56,
        };
        p.fqdn = Some(vec![1, 2, 3]);
        p.client = None;
        p.dns_removal = Some(DnsRemovalInfo {
            host_name: Some(vec![4]),
            zone_name: Some(vec![5, 6]),
            flags: Some(3),
        });
        let mut q = p.clone();
        q.dns_removal = Some(DnsRemovalInfo {
            host_name: None,
            zone_name: None,
            flags: None,
        });
        let golden = [
            "010020010db800000000000000000000004201002800000000000003e8000000000000138800000000000003e800000bb800000fa0000003e8000007d0010012000000070001000109090909000c010203040000000000",
            "010120010db80100000000000000000000003801002800000000000003e8000000000000138800000000000003e800000bb800000fa0000003e8000007d00001000301020301000104010002050601000301",
            "010120010db80100000000000000000000003801002800000000000003e8000000000000138800000000000003e800000bb800000fa0000003e8000007d00001000301020300000001",
        ];
        for (x, g) in [b, p, q].into_iter().zip(golden) {
            let v = encode(&x);
            assert_eq!(hex::encode(&v), g);
            assert_eq!(v.len(), v.capacity(), "sized exactly");
            assert_eq!(decode(&v), Ok(x));
        }
    }
}
