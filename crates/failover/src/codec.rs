//! Mapping between bindings and the BNDUPD / BNDREPLY option trees of RFC 8156 §7.4–§7.7,
//! on top of `dhcpv6-wire`'s owned option model. Syntax is wire's job; this module checks
//! the protocol shape (which options must be where) and reports what is missing.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use dhcpv6_wire::{
    ClientFqdn, DhcpOption, DomainName, Duid, FAILOVER_HEADER_LEN, IaAddr, IaNa, IaPd, IaPrefix,
    MessageType, OptionCode, Options, OptionsIter, Status, StatusCode, Vss,
};

use crate::binding::{Binding, BindingStatus, DnsRemovalInfo, Resource};
use crate::time::UnixTime;

/// One lease inside a BNDUPD or BNDREPLY, with raw (uncorrected) wire times.
#[derive(Clone, Debug, Default)]
pub(crate) struct LeaseMsg {
    pub(crate) resource: Option<Resource>,
    pub(crate) preferred: u32,
    pub(crate) valid: u32,
    pub(crate) status: Option<u8>,
    pub(crate) start_time_of_state: Option<u32>,
    pub(crate) state_expiration_time: Option<u32>,
    pub(crate) clt: Option<u32>,
    pub(crate) partner_lifetime: Option<u32>,
    pub(crate) partner_raw_clt: Option<u32>,
    pub(crate) expiration_time: Option<u32>,
    pub(crate) partner_lifetime_sent: Option<u32>,
    pub(crate) fqdn: Option<Vec<u8>>,
    pub(crate) dns: Option<DnsRemovalInfo>,
    pub(crate) status_code: Option<(u16, String)>,
}

/// One IA_NA / IA_PD inside CLIENT_DATA.
#[derive(Clone, Debug, Default)]
pub(crate) struct IaMsg {
    pub(crate) is_pd: bool,
    pub(crate) iaid: u32,
    pub(crate) t1: u32,
    pub(crate) t2: u32,
    pub(crate) leases: Vec<LeaseMsg>,
    pub(crate) status_code: Option<(u16, String)>,
}

/// The body of a BNDUPD / BNDREPLY.
#[derive(Clone, Debug)]
pub(crate) enum UpdateMsg {
    /// OPTION_CLIENT_DATA.
    Client {
        duid: Option<Vec<u8>>,
        base_time: Option<u32>,
        vss: Option<Vss>,
        ias: Vec<IaMsg>,
        status_code: Option<(u16, String)>,
    },
    /// Top-level OPTION_IAPREFIX (an unbound delegable prefix). The lease is boxed: this
    /// shape is rare, and the client shape, moved on every partner update, stays small.
    Prefix {
        base_time: Option<u32>,
        vss: Option<Vss>,
        lease: Box<LeaseMsg>,
    },
}

impl UpdateMsg {
    /// A client update with nothing in it (allocates nothing): a value to decode into.
    pub(crate) const fn empty() -> Self {
        Self::Client {
            duid: None,
            base_time: None,
            vss: None,
            ias: Vec::new(),
            status_code: None,
        }
    }
}

fn status_of(opts: &Options) -> Option<(u16, String)> {
    opts.status_code().map(|s| (s.status.0, s.message.clone()))
}

fn lease_from_options(
    resource: Option<Resource>,
    preferred: u32,
    valid: u32,
    opts: &Options,
) -> LeaseMsg {
    let mut l = LeaseMsg {
        resource,
        preferred,
        valid,
        ..LeaseMsg::default()
    };
    for o in opts.iter() {
        match o {
            DhcpOption::BindingStatus(s) => l.status = Some(s.0),
            DhcpOption::StartTimeOfState(t) => l.start_time_of_state = Some(*t),
            DhcpOption::StateExpirationTime(t) => l.state_expiration_time = Some(*t),
            DhcpOption::CltTime(t) => l.clt = Some(*t),
            DhcpOption::PartnerLifetime(t) => l.partner_lifetime = Some(*t),
            DhcpOption::PartnerRawCltTime(t) => l.partner_raw_clt = Some(*t),
            DhcpOption::ExpirationTime(t) => l.expiration_time = Some(*t),
            DhcpOption::PartnerLifetimeSent(t) => l.partner_lifetime_sent = Some(*t),
            DhcpOption::StatusCode(s) => l.status_code = Some((s.status.0, s.message.clone())),
            DhcpOption::ClientFqdn(f) => {
                let mut v = Vec::with_capacity(1 + f.name.as_bytes().len());
                v.push(f.flags);
                v.extend_from_slice(f.name.as_bytes());
                l.fqdn = Some(v);
            }
            DhcpOption::DnsRemovalInfo(inner) => {
                let mut d = DnsRemovalInfo::default();
                for i in inner.iter() {
                    match i {
                        DhcpOption::DnsHostName(n) => d.host_name = Some(n.as_bytes().to_vec()),
                        DhcpOption::DnsZoneName(n) => d.zone_name = Some(n.as_bytes().to_vec()),
                        DhcpOption::DnsFlags(f) => d.flags = Some(*f),
                        _ => {}
                    }
                }
                l.dns = Some(d);
            }
            _ => {}
        }
    }
    l
}

/// Extracts the single CLIENT_DATA or top-level IAPREFIX of a BNDUPD / BNDREPLY.
pub(crate) fn parse_update(opts: &Options) -> Result<UpdateMsg, &'static str> {
    let mut body = None;
    for o in opts.iter() {
        let found = match o {
            DhcpOption::ClientData(cd) => {
                let mut ias = Vec::new();
                let mut base_time = None;
                let mut vss = None;
                for i in cd.iter() {
                    match i {
                        DhcpOption::LqBaseTime(t) => base_time = Some(*t),
                        DhcpOption::Vss(v) => vss = Some(v.clone()),
                        DhcpOption::IaNa(ia) => ias.push(IaMsg {
                            is_pd: false,
                            iaid: ia.iaid,
                            t1: ia.t1,
                            t2: ia.t2,
                            leases: ia
                                .options
                                .ia_addrs()
                                .map(|a| {
                                    lease_from_options(
                                        Some(Resource::Address(a.address)),
                                        a.preferred_lifetime,
                                        a.valid_lifetime,
                                        &a.options,
                                    )
                                })
                                .collect(),
                            status_code: status_of(&ia.options),
                        }),
                        DhcpOption::IaPd(ia) => ias.push(IaMsg {
                            is_pd: true,
                            iaid: ia.iaid,
                            t1: ia.t1,
                            t2: ia.t2,
                            leases: ia.options.ia_prefixes().map(prefix_lease).collect(),
                            status_code: status_of(&ia.options),
                        }),
                        _ => {}
                    }
                }
                Some(UpdateMsg::Client {
                    duid: cd.client_id().map(|d| d.as_bytes().to_vec()),
                    base_time,
                    vss,
                    ias,
                    status_code: status_of(cd),
                })
            }
            DhcpOption::IaPrefix(p) => {
                let base_time = p.options.iter().find_map(|o| match o {
                    DhcpOption::LqBaseTime(t) => Some(*t),
                    _ => None,
                });
                let vss = p.options.iter().find_map(|o| match o {
                    DhcpOption::Vss(v) => Some(v.clone()),
                    _ => None,
                });
                Some(UpdateMsg::Prefix {
                    base_time,
                    vss,
                    lease: Box::new(prefix_lease(p)),
                })
            }
            _ => None,
        };
        if let Some(f) = found {
            if body.is_some() {
                return Err("more than one OPTION_CLIENT_DATA / top-level OPTION_IAPREFIX");
            }
            body = Some(f);
        }
    }
    body.ok_or("no OPTION_CLIENT_DATA and no top-level OPTION_IAPREFIX")
}

fn prefix_lease(p: &IaPrefix) -> LeaseMsg {
    lease_from_options(
        Some(Resource::Prefix {
            prefix: p.prefix,
            len: p.prefix_len(),
        }),
        p.preferred_lifetime,
        p.valid_lifetime,
        &p.options,
    )
}

fn secs_u32(d: core::time::Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn push_fqdn_dns(o: &mut Options, b: &Binding) {
    if let Some(f) = &b.fqdn
        && let Some((flags, name)) = f.split_first()
        && let Ok(name) = DomainName::new(name, true)
    {
        o.push(DhcpOption::ClientFqdn(ClientFqdn {
            flags: *flags,
            name,
        }));
    }
    if let Some(d) = &b.dns_removal {
        let mut inner = Options::new();
        if let Some(h) = d
            .host_name
            .as_deref()
            .and_then(|h| DomainName::new(h, true).ok())
        {
            inner.push(DhcpOption::DnsHostName(h));
        }
        if let Some(z) = d
            .zone_name
            .as_deref()
            .and_then(|z| DomainName::new(z, true).ok())
        {
            inner.push(DhcpOption::DnsZoneName(z));
        }
        if let Some(f) = d.flags {
            inner.push(DhcpOption::DnsFlags(f));
        }
        o.push(DhcpOption::DnsRemovalInfo(inner));
    }
}

/// The per-lease options of a BNDUPD (RFC 8156 §7.4).
//= https://www.rfc-editor.org/rfc/rfc8156#section-7.4
//# OPTION_F_BINDING_STATUS and OPTION_F_START_TIME_OF_STATE MUST appear in every
//# IAADDR / IAPREFIX of a BNDUPD.
fn lease_options(b: &Binding, status: BindingStatus, base: UnixTime, top_level: bool) -> Options {
    let mut o = Options::new();
    if top_level {
        o.push(DhcpOption::LqBaseTime(base.to_abs_time()));
    }
    o.push(DhcpOption::BindingStatus(dhcpv6_wire::BindingStatus(
        status.to_u8(),
    )));
    o.push(DhcpOption::StartTimeOfState(
        b.start_time_of_state.to_abs_time(),
    ));
    // The timed options appear only when the status has a timeout.
    if let Some(t) = b
        .state_expiration_time
        .filter(|_| status == BindingStatus::Active || top_level)
    {
        o.push(DhcpOption::StateExpirationTime(t.to_abs_time()));
        if let Some(p) = b.partner_lifetime {
            o.push(DhcpOption::PartnerLifetime(p.to_abs_time()));
        }
        if let Some(e) = b.expiration_time {
            o.push(DhcpOption::ExpirationTime(e.to_abs_time()));
        }
    }
    //= https://www.rfc-editor.org/rfc/rfc8156#section-7.4
    //# OPTION_CLT_TIME carries the real time of the last client transaction; it must not
    //# be faked.
    if !top_level && let Some(clt) = b.client_last_transaction_time {
        o.push(DhcpOption::CltTime(secs_u32(
            base.saturating_duration_since(clt),
        )));
    }
    if !top_level && let Some(raw) = b.partner_raw_clt_time {
        o.push(DhcpOption::PartnerRawCltTime(raw.to_abs_time()));
    }
    if !top_level {
        push_fqdn_dns(&mut o, b);
    }
    o
}

/// The body option of a BNDUPD announcing `b` with `status` (normally `b.status`), or `None`
/// when the binding cannot be expressed (an address with no client).
pub(crate) fn bndupd_body(b: &Binding, status: BindingStatus, now: UnixTime) -> Option<DhcpOption> {
    match (&b.client, b.resource) {
        (Some(c), resource) => {
            let duid = Duid::new(&c.duid).ok()?;
            let inner = lease_options(b, status, now, false);
            let mut cd = Options::new();
            cd.push(DhcpOption::ClientId(duid));
            cd.push(DhcpOption::LqBaseTime(now.to_abs_time()));
            let (t1, t2) = (secs_u32(b.t1), secs_u32(b.t2));
            match resource {
                Resource::Address(a) => {
                    let addr = IaAddr {
                        address: a,
                        preferred_lifetime: secs_u32(b.preferred_lifetime),
                        valid_lifetime: secs_u32(b.valid_lifetime),
                        options: inner,
                    };
                    cd.push(DhcpOption::IaNa(IaNa {
                        iaid: c.iaid,
                        t1,
                        t2,
                        options: Options::from(alloc::vec![DhcpOption::IaAddr(addr)]),
                    }));
                }
                Resource::Prefix { prefix, len } => {
                    let p = IaPrefix::new(
                        secs_u32(b.preferred_lifetime),
                        secs_u32(b.valid_lifetime),
                        len,
                        prefix,
                        inner,
                    )
                    .ok()?;
                    cd.push(DhcpOption::IaPd(IaPd {
                        iaid: c.iaid,
                        t1,
                        t2,
                        options: Options::from(alloc::vec![DhcpOption::IaPrefix(p)]),
                    }));
                }
            }
            Some(DhcpOption::ClientData(cd))
        }
        (None, Resource::Prefix { prefix, len }) => {
            let inner = lease_options(b, status, now, true);
            IaPrefix::new(
                secs_u32(b.preferred_lifetime),
                secs_u32(b.valid_lifetime),
                len,
                prefix,
                inner,
            )
            .ok()
            .map(DhcpOption::IaPrefix)
        }
        (None, Resource::Address(_)) => None,
    }
}

/// The per-lease reply decision.
#[derive(Clone, Debug)]
pub(crate) struct LeaseReply {
    pub(crate) status: Option<(Status, String)>,
}

fn reply_lease_options(l: &LeaseMsg, r: &LeaseReply) -> Options {
    let mut o = Options::new();
    if let Some((s, m)) = &r.status {
        o.push(DhcpOption::StatusCode(StatusCode::new(*s, m.clone())));
    }
    if let Some(s) = l.status {
        o.push(DhcpOption::BindingStatus(dhcpv6_wire::BindingStatus(s)));
    }
    if let Some(t) = l.state_expiration_time {
        o.push(DhcpOption::StateExpirationTime(t));
    }
    //= https://www.rfc-editor.org/rfc/rfc8156#section-7.6
    //# OPTION_F_PARTNER_LIFETIME_SENT is an exact, unadjusted echo of the
    //# OPTION_F_PARTNER_LIFETIME received in the BNDUPD.
    if let Some(t) = l.partner_lifetime {
        o.push(DhcpOption::PartnerLifetimeSent(t));
    }
    o
}

/// Builds the BNDREPLY body mirroring `upd`, with one decision per lease (in order) and an
/// optional whole-update status.
pub(crate) fn bndreply_body(
    upd: &UpdateMsg,
    replies: &[LeaseReply],
    whole: Option<(Status, String)>,
) -> Option<DhcpOption> {
    let mut it = replies.iter();
    let none = LeaseReply { status: None };
    match upd {
        UpdateMsg::Client { duid, vss, ias, .. } => {
            let mut cd = Options::new();
            if let Some(d) = duid.as_deref().and_then(|d| Duid::new(d).ok()) {
                cd.push(DhcpOption::ClientId(d));
            }
            if let Some(v) = vss {
                cd.push(DhcpOption::Vss(v.clone()));
            }
            if let Some((s, m)) = whole {
                cd.push(DhcpOption::StatusCode(StatusCode::new(s, m)));
            }
            for ia in ias {
                let mut inner = Options::new();
                for l in &ia.leases {
                    let r = it.next().unwrap_or(&none);
                    let lo = reply_lease_options(l, r);
                    match l.resource {
                        Some(Resource::Address(a)) => inner.push(DhcpOption::IaAddr(IaAddr {
                            address: a,
                            preferred_lifetime: l.preferred,
                            valid_lifetime: l.valid,
                            options: lo,
                        })),
                        Some(Resource::Prefix { prefix, len }) => {
                            if let Ok(p) = IaPrefix::new(l.preferred, l.valid, len, prefix, lo) {
                                inner.push(DhcpOption::IaPrefix(p));
                            }
                        }
                        None => {}
                    }
                }
                if ia.is_pd {
                    cd.push(DhcpOption::IaPd(IaPd {
                        iaid: ia.iaid,
                        t1: ia.t1,
                        t2: ia.t2,
                        options: inner,
                    }));
                } else {
                    cd.push(DhcpOption::IaNa(IaNa {
                        iaid: ia.iaid,
                        t1: ia.t1,
                        t2: ia.t2,
                        options: inner,
                    }));
                }
            }
            Some(DhcpOption::ClientData(cd))
        }
        UpdateMsg::Prefix { vss, lease, .. } => {
            let r = it.next().unwrap_or(&none);
            let mut o = reply_lease_options(lease, r);
            if let Some((s, m)) = whole {
                o.as_mut_vec()
                    .insert(0, DhcpOption::StatusCode(StatusCode::new(s, m)));
            }
            if let Some(v) = vss {
                o.push(DhcpOption::Vss(v.clone()));
            }
            let Some(Resource::Prefix { prefix, len }) = lease.resource else {
                return None;
            };
            IaPrefix::new(lease.preferred, lease.valid, len, prefix, o)
                .ok()
                .map(DhcpOption::IaPrefix)
        }
    }
}

/// Whether a status code (if any) means success.
pub(crate) fn is_success(s: &Option<(u16, String)>) -> bool {
    s.as_ref().is_none_or(|(c, _)| *c == Status::SUCCESS.0)
}

/// Finds a u32-valued failover option at the top level.
pub(crate) fn find_u32(opts: &Options, code: OptionCode) -> Option<u32> {
    opts.find(code).and_then(|o| match o {
        DhcpOption::Mclt(v)
        | DhcpOption::KeepaliveTime(v)
        | DhcpOption::MaxUnackedBndupd(v)
        | DhcpOption::StartTimeOfState(v)
        | DhcpOption::PartnerDownTime(v) => Some(*v),
        _ => None,
    })
}

// =============================================================================================
// Fast path: BNDUPD / BNDREPLY straight from and to the frame bytes.
//
// The owned option tree of `dhcpv6-wire` costs a few dozen allocations per message. The lazy
// update exchange is the endpoint's hot path (every lease a client takes crosses it, and
// UPDREQALL sends the whole table through it), so the common shapes are decoded from borrowed
// views and encoded by writing bytes directly. Both functions answer `None` for anything
// outside the shapes they know (FQDN, DNS removal information, VSS, unknown options, anything
// malformed); the caller then takes the general path through the owned tree, which decides
// exactly as before. The unit tests check that the two paths agree byte for byte.
// =============================================================================================

/// A BNDUPD or BNDREPLY decoded from its frame without building the owned option tree.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct FastUpdate {
    /// BNDUPD or BNDREPLY.
    pub(crate) msg_type: MessageType,
    /// The transaction id (24 bits).
    pub(crate) xid: u32,
    /// The sent-time of the failover header.
    pub(crate) sent_time: u32,
    /// The first top-level OPTION_STATUS_CODE.
    pub(crate) top_status: Option<(u16, String)>,
    /// What [`parse_update`] would answer for the message's options.
    pub(crate) body: Result<UpdateMsg, &'static str>,
}

/// A decoded BNDUPD or BNDREPLY with the body left where [`decode_update_frame_into`]
/// decoded it.
#[derive(Debug)]
pub(crate) struct FastHeader {
    /// BNDUPD or BNDREPLY.
    pub(crate) msg_type: MessageType,
    /// The transaction id (24 bits).
    pub(crate) xid: u32,
    /// The sent-time of the failover header.
    pub(crate) sent_time: u32,
    /// The first top-level OPTION_STATUS_CODE.
    pub(crate) top_status: Option<(u16, String)>,
    /// `Ok` when the body was decoded, or what [`parse_update`] would refuse.
    pub(crate) body: Result<(), &'static str>,
}

/// Whether `bytes` is a valid DUID, exactly as [`Duid::new`] judges it (at least the 2-byte
/// type, at most [`Duid::MAX_LEN`], the fixed part of DUID-LLT, -EN and -LL present, DUID-UUID
/// exactly 18 bytes), without copying the bytes into a [`Duid`]: the frame paths that only
/// validate a CLIENTID call this (a test compares it with [`Duid::new`]).
#[inline]
fn duid_valid(bytes: &[u8]) -> bool {
    let min = match bytes.first_chunk::<2>().map(|t| u16::from_be_bytes(*t)) {
        Some(1) => 8,
        Some(2) => 6,
        Some(3) => 4,
        Some(4) => return bytes.len() == 18,
        _ => 2,
    };
    (min..=Duid::MAX_LEN).contains(&bytes.len())
}

fn exact_u32(data: &[u8]) -> Option<u32> {
    data.try_into().ok().map(u32::from_be_bytes)
}

fn fast_status(data: &[u8]) -> Option<(u16, String)> {
    let (code, msg) = data.split_first_chunk::<2>()?;
    let msg = core::str::from_utf8(msg).ok()?;
    Some((u16::from_be_bytes(*code), String::from(msg)))
}

/// The per-lease options inside an IAADDR / IAPREFIX; returns the first OPTION_LQ_BASE_TIME
/// seen (meaningful for a top-level IAPREFIX only, as in [`parse_update`]).
fn fast_lease_options(data: &[u8], l: &mut LeaseMsg) -> Option<Option<u32>> {
    let mut base = None;
    for o in OptionsIter::new(data, 0) {
        let o = o.ok()?;
        match o.code {
            OptionCode::F_BINDING_STATUS => l.status = Some(o.as_u8()?),
            OptionCode::F_START_TIME_OF_STATE => l.start_time_of_state = Some(exact_u32(o.data)?),
            OptionCode::F_STATE_EXPIRATION_TIME => {
                l.state_expiration_time = Some(exact_u32(o.data)?);
            }
            OptionCode::CLT_TIME => l.clt = Some(exact_u32(o.data)?),
            OptionCode::F_PARTNER_LIFETIME => l.partner_lifetime = Some(exact_u32(o.data)?),
            OptionCode::F_PARTNER_RAW_CLT_TIME => l.partner_raw_clt = Some(exact_u32(o.data)?),
            OptionCode::F_EXPIRATION_TIME => l.expiration_time = Some(exact_u32(o.data)?),
            OptionCode::F_PARTNER_LIFETIME_SENT => {
                l.partner_lifetime_sent = Some(exact_u32(o.data)?);
            }
            OptionCode::STATUS_CODE => l.status_code = Some(fast_status(o.data)?),
            OptionCode::LQ_BASE_TIME => {
                let t = exact_u32(o.data)?;
                base = base.or(Some(t));
            }
            _ => return None,
        }
    }
    Some(base)
}

/// An IAADDR into `l` (whatever `l` held before is replaced).
fn fast_ia_addr_into(data: &[u8], l: &mut LeaseMsg) -> Option<()> {
    let (a, rest) = data.split_first_chunk::<16>()?;
    let (p, rest) = rest.split_first_chunk::<4>()?;
    let (v, rest) = rest.split_first_chunk::<4>()?;
    *l = LeaseMsg {
        resource: Some(Resource::Address(Ipv6Addr::from(*a))),
        preferred: u32::from_be_bytes(*p),
        valid: u32::from_be_bytes(*v),
        ..LeaseMsg::default()
    };
    fast_lease_options(rest, l)?;
    Some(())
}

/// The slot for the `n`th value of `v`, reusing one left from an earlier decode (`n` is at
/// most `v.len()`).
fn reuse_slot<T: Default>(v: &mut Vec<T>, n: usize) -> Option<&mut T> {
    if n >= v.len() {
        v.push(T::default());
    }
    v.get_mut(n)
}

fn fast_ia_prefix(data: &[u8]) -> Option<(LeaseMsg, Option<u32>)> {
    let (p, rest) = data.split_first_chunk::<4>()?;
    let (v, rest) = rest.split_first_chunk::<4>()?;
    let (&len, rest) = rest.split_first()?;
    if len > 128 {
        return None;
    }
    let (a, rest) = rest.split_first_chunk::<16>()?;
    let mut l = LeaseMsg {
        resource: Some(Resource::Prefix {
            prefix: Ipv6Addr::from(*a),
            len,
        }),
        preferred: u32::from_be_bytes(*p),
        valid: u32::from_be_bytes(*v),
        ..LeaseMsg::default()
    };
    let base = fast_lease_options(rest, &mut l)?;
    Some((l, base))
}

/// An IA_NA / IA_PD into `ia`, reusing its lease vector (whatever `ia` held is replaced).
fn fast_ia_into(data: &[u8], is_pd: bool, ia: &mut IaMsg) -> Option<()> {
    let (iaid, rest) = data.split_first_chunk::<4>()?;
    let (t1, rest) = rest.split_first_chunk::<4>()?;
    let (t2, rest) = rest.split_first_chunk::<4>()?;
    ia.is_pd = is_pd;
    ia.iaid = u32::from_be_bytes(*iaid);
    ia.t1 = u32::from_be_bytes(*t1);
    ia.t2 = u32::from_be_bytes(*t2);
    ia.status_code = None;
    let mut n = 0;
    for o in OptionsIter::new(rest, 0) {
        let o = o.ok()?;
        match o.code {
            OptionCode::IAADDR if !is_pd => {
                fast_ia_addr_into(o.data, reuse_slot(&mut ia.leases, n)?)?;
                n += 1;
            }
            OptionCode::IAPREFIX if is_pd => {
                *reuse_slot(&mut ia.leases, n)? = fast_ia_prefix(o.data)?.0;
                n += 1;
            }
            OptionCode::STATUS_CODE => {
                let s = fast_status(o.data)?;
                ia.status_code = ia.status_code.take().or(Some(s));
            }
            _ => return None,
        }
    }
    ia.leases.truncate(n);
    Some(())
}

/// An OPTION_CLIENT_DATA into `out`, reusing the DUID, IA and lease vectors of an earlier
/// decode held there (whatever `out` held is replaced).
fn fast_client_data_into(data: &[u8], out: &mut UpdateMsg) -> Option<()> {
    if !matches!(out, UpdateMsg::Client { .. }) {
        *out = UpdateMsg::empty();
    }
    let UpdateMsg::Client {
        duid,
        base_time,
        vss,
        ias,
        status_code,
    } = out
    else {
        return None;
    };
    let mut duid_buf = duid.take().unwrap_or_default();
    duid_buf.clear();
    let mut have_duid = false;
    *base_time = None;
    *vss = None;
    *status_code = None;
    let mut n = 0;
    for o in OptionsIter::new(data, 0) {
        let o = o.ok()?;
        match o.code {
            OptionCode::CLIENTID => {
                duid_valid(o.data).then_some(())?;
                if !have_duid {
                    duid_buf.extend_from_slice(o.data);
                    have_duid = true;
                }
            }
            OptionCode::LQ_BASE_TIME => *base_time = Some(exact_u32(o.data)?),
            OptionCode::IA_NA | OptionCode::IA_PD => {
                let is_pd = o.code == OptionCode::IA_PD;
                fast_ia_into(o.data, is_pd, reuse_slot(ias, n)?)?;
                n += 1;
            }
            OptionCode::STATUS_CODE => {
                let s = fast_status(o.data)?;
                *status_code = status_code.take().or(Some(s));
            }
            _ => return None,
        }
    }
    ias.truncate(n);
    *duid = have_duid.then_some(duid_buf);
    Some(())
}

/// Decodes a BNDUPD or BNDREPLY frame (without its length prefix) from borrowed views.
/// `None` when the frame is another message type or has anything outside the fast path's
/// shapes (then [`FailoverMessage::parse`](dhcpv6_wire::FailoverMessage::parse) and
/// [`parse_update`] decide). When it answers, the owned parse would have succeeded and
/// [`parse_update`] would have returned the same body.
#[cfg(test)]
pub(crate) fn decode_update_frame(frame: &[u8]) -> Option<FastUpdate> {
    let mut body = UpdateMsg::empty();
    let h = decode_update_frame_into(frame, &mut body)?;
    Some(FastUpdate::from_header(h, body))
}

#[cfg(test)]
impl FastUpdate {
    /// The header of [`decode_update_frame_into`] with the body it decoded into `body`.
    pub(crate) fn from_header(h: FastHeader, body: UpdateMsg) -> Self {
        Self {
            msg_type: h.msg_type,
            xid: h.xid,
            sent_time: h.sent_time,
            top_status: h.top_status,
            body: h.body.map(|()| body),
        }
    }
}

/// `decode_update_frame` with the body decoded into `out`, whose vectors (left from an
/// earlier decode) are reused: the endpoint keeps decoded updates for reuse, so that a
/// BNDUPD of the common shapes allocates nothing here. The header's `body` is `Ok(())` when
/// `out` holds the body; when the header is `None` or its body is `Err`, `out` holds no
/// meaningful value (only buffers to reuse).
pub(crate) fn decode_update_frame_into(frame: &[u8], out: &mut UpdateMsg) -> Option<FastHeader> {
    let (&[t, x0, x1, x2], rest) = frame.split_first_chunk::<4>()?;
    let msg_type = MessageType(t);
    if msg_type != MessageType::BNDUPD && msg_type != MessageType::BNDREPLY {
        return None;
    }
    let (sent, opts) = rest.split_first_chunk::<4>()?;
    let mut top_status = None;
    let mut bodies = 0usize;
    for o in OptionsIter::new(opts, FAILOVER_HEADER_LEN) {
        let o = o.ok()?;
        match o.code {
            // The first body is decoded into `out`; later ones only checked (the message is
            // then refused for having several).
            OptionCode::CLIENT_DATA if bodies == 0 => fast_client_data_into(o.data, out)?,
            OptionCode::CLIENT_DATA => fast_client_data_into(o.data, &mut UpdateMsg::empty())?,
            OptionCode::IAPREFIX => {
                let (lease, base_time) = fast_ia_prefix(o.data)?;
                if bodies == 0 {
                    *out = UpdateMsg::Prefix {
                        base_time,
                        vss: None,
                        lease: Box::new(lease),
                    };
                }
            }
            OptionCode::STATUS_CODE => {
                let s = fast_status(o.data)?;
                top_status = top_status.or(Some(s));
                continue;
            }
            _ => return None,
        }
        bodies += 1;
    }
    let body = match bodies {
        0 => Err("no OPTION_CLIENT_DATA and no top-level OPTION_IAPREFIX"),
        1 => Ok(()),
        _ => Err("more than one OPTION_CLIENT_DATA / top-level OPTION_IAPREFIX"),
    };
    Some(FastHeader {
        msg_type,
        xid: u32::from_be_bytes([0, x0, x1, x2]),
        sent_time: u32::from_be_bytes(*sent),
        top_status,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// BNDREPLY: only what `Endpoint::on_bndreply` reads.
//
// A BNDREPLY is read for the status codes and the partner-lifetime-sent of one lease (the
// outstanding update's resource). `decode_reply_frame` accepts exactly the frames
// `decode_update_frame` accepts (same checks, in the same walk) and answers what
// `reply_answer` computes from that decode, without building the owned update.
// ---------------------------------------------------------------------------------------------

/// A status code read in place: code and message.
pub(crate) type StatusView<'a> = (u16, &'a str);

/// What `Endpoint::on_bndreply` reads of a BNDREPLY about one resource: the status that
/// decides it (the first top-level status, overridden by a failed client-level, IA-level or
/// lease-level status, as in [`reply_answer`]) and the lease's partner-lifetime-sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplyAnswer<'a> {
    /// The deciding status code, if any.
    pub(crate) status: Option<StatusView<'a>>,
    /// OPTION_F_PARTNER_LIFETIME_SENT of the lease.
    pub(crate) lifetime_sent: Option<u32>,
}

/// A BNDREPLY decoded from borrowed views for one resource (see [`decode_reply_frame`]).
#[derive(Debug)]
pub(crate) struct FastReply<'a> {
    /// The transaction id (24 bits).
    pub(crate) xid: u32,
    /// The sent-time of the failover header.
    pub(crate) sent_time: u32,
    /// The answer about the resource of the outstanding update.
    pub(crate) answer: ReplyAnswer<'a>,
}

fn failed(s: Option<StatusView<'_>>) -> bool {
    s.is_some_and(|(c, _)| c != Status::SUCCESS.0)
}

fn view_status(data: &[u8]) -> Option<StatusView<'_>> {
    let (code, msg) = data.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*code), core::str::from_utf8(msg).ok()?))
}

/// Checks the per-lease options as [`fast_lease_options`] does; answers the last
/// OPTION_STATUS_CODE and the last OPTION_F_PARTNER_LIFETIME_SENT (the values it keeps).
fn view_lease_options(data: &[u8]) -> Option<(Option<StatusView<'_>>, Option<u32>)> {
    let mut status = None;
    let mut sent = None;
    for o in OptionsIter::new(data, 0) {
        let o = o.ok()?;
        match o.code {
            OptionCode::F_BINDING_STATUS => {
                o.as_u8()?;
            }
            OptionCode::F_START_TIME_OF_STATE
            | OptionCode::F_STATE_EXPIRATION_TIME
            | OptionCode::CLT_TIME
            | OptionCode::F_PARTNER_LIFETIME
            | OptionCode::F_PARTNER_RAW_CLT_TIME
            | OptionCode::F_EXPIRATION_TIME
            | OptionCode::LQ_BASE_TIME => {
                exact_u32(o.data)?;
            }
            OptionCode::F_PARTNER_LIFETIME_SENT => sent = Some(exact_u32(o.data)?),
            OptionCode::STATUS_CODE => status = Some(view_status(o.data)?),
            _ => return None,
        }
    }
    Some((status, sent))
}

/// An IAADDR's address and lease answer, checked as [`fast_ia_addr_into`] does.
fn view_ia_addr(data: &[u8]) -> Option<(Resource, Option<StatusView<'_>>, Option<u32>)> {
    let (a, rest) = data.split_first_chunk::<16>()?;
    let (_, rest) = rest.split_first_chunk::<8>()?;
    let (status, sent) = view_lease_options(rest)?;
    Some((Resource::Address(Ipv6Addr::from(*a)), status, sent))
}

/// An IAPREFIX's prefix and lease answer, checked as [`fast_ia_prefix`] does.
fn view_ia_prefix(data: &[u8]) -> Option<(Resource, Option<StatusView<'_>>, Option<u32>)> {
    let (_, rest) = data.split_first_chunk::<8>()?;
    let (&len, rest) = rest.split_first()?;
    if len > 128 {
        return None;
    }
    let (a, rest) = rest.split_first_chunk::<16>()?;
    let (status, sent) = view_lease_options(rest)?;
    let prefix = Ipv6Addr::from(*a);
    Some((Resource::Prefix { prefix, len }, status, sent))
}

/// One IA_NA / IA_PD, checked as [`fast_ia_into`] does; applies its effect on the answer about
/// `resource` in the order [`reply_answer`] does (per matching lease: a failed IA status, then
/// a failed lease status, then the lease's partner-lifetime-sent).
fn view_ia<'a>(
    data: &'a [u8],
    is_pd: bool,
    resource: Option<Resource>,
    ans: &mut ReplyAnswer<'a>,
) -> Option<()> {
    let (_, rest) = data.split_first_chunk::<12>()?;
    let mut ia_status = None;
    // The matching leases: the last one's answer, and the last failed status among them.
    let mut last: Option<(Option<StatusView<'a>>, Option<u32>)> = None;
    let mut last_failed = None;
    for o in OptionsIter::new(rest, 0) {
        let o = o.ok()?;
        let lease = match o.code {
            OptionCode::IAADDR if !is_pd => view_ia_addr(o.data)?,
            OptionCode::IAPREFIX if is_pd => view_ia_prefix(o.data)?,
            OptionCode::STATUS_CODE => {
                let s = view_status(o.data)?;
                ia_status = ia_status.or(Some(s));
                continue;
            }
            _ => return None,
        };
        if Some(lease.0) == resource {
            if failed(lease.1) {
                last_failed = lease.1;
            }
            last = Some((lease.1, lease.2));
        }
    }
    if let Some((status, sent)) = last {
        if failed(ia_status) {
            ans.status = if failed(status) { status } else { ia_status };
        } else if last_failed.is_some() {
            ans.status = last_failed;
        }
        ans.lifetime_sent = sent;
    }
    Some(())
}

/// OPTION_CLIENT_DATA checked as [`fast_client_data_into`] does; its effect on the answer about
/// `resource` (a status only when the client-level or an IA/lease status overrides).
fn view_client_data(data: &[u8], resource: Option<Resource>) -> Option<ReplyAnswer<'_>> {
    let mut client_status = None;
    // The IAs' effect alone (applied after the client-level status, whatever its position).
    let mut ias = ReplyAnswer::default();
    for o in OptionsIter::new(data, 0) {
        let o = o.ok()?;
        match o.code {
            OptionCode::CLIENTID => {
                duid_valid(o.data).then_some(())?;
            }
            OptionCode::LQ_BASE_TIME => {
                exact_u32(o.data)?;
            }
            OptionCode::IA_NA => view_ia(o.data, false, resource, &mut ias)?,
            OptionCode::IA_PD => view_ia(o.data, true, resource, &mut ias)?,
            OptionCode::STATUS_CODE => {
                let s = view_status(o.data)?;
                client_status = client_status.or(Some(s));
            }
            _ => return None,
        }
    }
    Some(ReplyAnswer {
        status: ias
            .status
            .or_else(|| client_status.filter(|s| failed(Some(*s)))),
        lifetime_sent: ias.lifetime_sent,
    })
}

/// Decodes a BNDREPLY frame (without its length prefix) from borrowed views: `None` exactly
/// when [`decode_update_frame_into`] would answer `None` (or the frame is not a BNDREPLY).
/// `resource_of` names, from the transaction id, the resource whose answer is read (the
/// outstanding update's; `None` for an unknown id). The answer equals [`reply_answer`] of the
/// `decode_update_frame` result; nothing is allocated.
pub(crate) fn decode_reply_frame(
    frame: &[u8],
    resource_of: impl FnOnce(u32) -> Option<Resource>,
) -> Option<FastReply<'_>> {
    let (&[t, x0, x1, x2], rest) = frame.split_first_chunk::<4>()?;
    if MessageType(t) != MessageType::BNDREPLY {
        return None;
    }
    let (sent, opts) = rest.split_first_chunk::<4>()?;
    let xid = u32::from_be_bytes([0, x0, x1, x2]);
    let resource = resource_of(xid);
    let mut top = None;
    // The effect of the body (the only CLIENT_DATA or top-level IAPREFIX), and how many.
    let mut body = ReplyAnswer::default();
    let mut bodies = 0usize;
    for o in OptionsIter::new(opts, FAILOVER_HEADER_LEN) {
        let o = o.ok()?;
        let found = match o.code {
            OptionCode::CLIENT_DATA => view_client_data(o.data, resource)?,
            OptionCode::IAPREFIX => {
                let (_, status, sent) = view_ia_prefix(o.data)?;
                ReplyAnswer {
                    status: status.filter(|s| failed(Some(*s))),
                    lifetime_sent: sent,
                }
            }
            OptionCode::STATUS_CODE => {
                let s = view_status(o.data)?;
                top = top.or(Some(s));
                continue;
            }
            _ => return None,
        };
        bodies += 1;
        if bodies == 1 {
            body = found;
        }
    }
    // Several bodies (or none): the update does not decode and only the top-level status counts.
    let answer = if bodies == 1 {
        ReplyAnswer {
            status: body.status.or(top),
            lifetime_sent: body.lifetime_sent,
        }
    } else {
        ReplyAnswer {
            status: top,
            lifetime_sent: None,
        }
    };
    Some(FastReply {
        xid,
        sent_time: u32::from_be_bytes(*sent),
        answer,
    })
}

/// What `Endpoint::on_bndreply` reads of a decoded BNDREPLY about `resource` (the general
/// path's counterpart of [`decode_reply_frame`]).
pub(crate) fn reply_answer(
    top_status: Option<(u16, String)>,
    body: Option<UpdateMsg>,
    resource: Resource,
) -> (Option<(u16, String)>, Option<u32>) {
    let mut status = top_status;
    let mut lifetime_sent = None;
    if let Some(body) = body {
        match body {
            UpdateMsg::Client {
                ias, status_code, ..
            } => {
                if !is_success(&status_code) {
                    status = status_code;
                }
                for ia in ias {
                    for l in ia.leases {
                        if l.resource == Some(resource) {
                            //= https://www.rfc-editor.org/rfc/rfc8156#section-7.6
                            //# an error status in an IA_* rejects that IA; in an
                            //# IAADDR/IAPREFIX rejects that one lease
                            if !is_success(&ia.status_code) {
                                status = ia.status_code.clone();
                            }
                            if !is_success(&l.status_code) {
                                status = l.status_code.clone();
                            }
                            lifetime_sent = l.partner_lifetime_sent;
                        }
                    }
                }
            }
            UpdateMsg::Prefix { lease, .. } => {
                if !is_success(&lease.status_code) {
                    status = lease.status_code.clone();
                }
                lifetime_sent = lease.partner_lifetime_sent;
            }
        }
    }
    (status, lifetime_sent)
}

/// Direct writer of one framed failover message: options are opened, filled and closed
/// (their length back-patched); the frame length is set by [`FrameOut::finish`].
struct FrameOut(Vec<u8>);

impl FrameOut {
    fn new(msg_type: MessageType, xid: u32, sent_time: u32) -> Self {
        let mut v = Vec::with_capacity(160);
        let [_, a, b, c] = xid.to_be_bytes();
        v.extend_from_slice(&[0, 0, msg_type.0, a, b, c]);
        v.extend_from_slice(&sent_time.to_be_bytes());
        Self(v)
    }

    fn open(&mut self, code: OptionCode) -> usize {
        let at = self.0.len();
        let [c0, c1] = code.0.to_be_bytes();
        self.0.extend_from_slice(&[c0, c1, 0, 0]);
        at
    }

    /// Back-patches the length of the option opened at `at`; `None` if it is too long.
    fn close(&mut self, at: usize) -> Option<()> {
        let len = self.0.len().checked_sub(at)?.checked_sub(4)?;
        let len = u16::try_from(len).ok()?;
        self.0
            .get_mut(at + 2..at + 4)?
            .copy_from_slice(&len.to_be_bytes());
        Some(())
    }

    fn u32_opt(&mut self, code: OptionCode, v: u32) {
        let [c0, c1] = code.0.to_be_bytes();
        let [v0, v1, v2, v3] = v.to_be_bytes();
        self.0.extend_from_slice(&[c0, c1, 0, 4, v0, v1, v2, v3]);
    }

    fn u8_opt(&mut self, code: OptionCode, v: u8) {
        let [c0, c1] = code.0.to_be_bytes();
        self.0.extend_from_slice(&[c0, c1, 0, 1, v]);
    }

    fn bytes_opt(&mut self, code: OptionCode, v: &[u8]) -> Option<()> {
        let at = self.open(code);
        self.0.extend_from_slice(v);
        self.close(at)
    }

    fn status_opt(&mut self, code: u16, message: &str) -> Option<()> {
        let at = self.open(OptionCode::STATUS_CODE);
        self.0.extend_from_slice(&code.to_be_bytes());
        self.0.extend_from_slice(message.as_bytes());
        self.close(at)
    }

    fn u32s(&mut self, vs: &[u32]) {
        for v in vs {
            self.0.extend_from_slice(&v.to_be_bytes());
        }
    }

    fn finish(mut self) -> Option<Vec<u8>> {
        let len = u16::try_from(self.0.len().checked_sub(2)?).ok()?;
        self.0.get_mut(..2)?.copy_from_slice(&len.to_be_bytes());
        Some(self.0)
    }
}

/// Sets the transaction id of a frame written by the fast encoders (they run before the id is
/// drawn, so that a binding that cannot be expressed draws no id).
pub(crate) fn set_frame_xid(frame: &mut [u8], xid: u32) {
    let [_, a, b, c] = xid.to_be_bytes();
    if let Some(x) = frame.get_mut(3..6) {
        x.copy_from_slice(&[a, b, c]);
    }
}

/// The options of [`lease_options`], written directly; `None` for FQDN / DNS information.
fn write_lease_options(
    w: &mut FrameOut,
    b: &Binding,
    status: BindingStatus,
    base: UnixTime,
    top_level: bool,
) -> Option<()> {
    if b.fqdn.is_some() || b.dns_removal.is_some() {
        return None;
    }
    if top_level {
        w.u32_opt(OptionCode::LQ_BASE_TIME, base.to_abs_time());
    }
    w.u8_opt(OptionCode::F_BINDING_STATUS, status.to_u8());
    w.u32_opt(
        OptionCode::F_START_TIME_OF_STATE,
        b.start_time_of_state.to_abs_time(),
    );
    if let Some(t) = b
        .state_expiration_time
        .filter(|_| status == BindingStatus::Active || top_level)
    {
        w.u32_opt(OptionCode::F_STATE_EXPIRATION_TIME, t.to_abs_time());
        if let Some(p) = b.partner_lifetime {
            w.u32_opt(OptionCode::F_PARTNER_LIFETIME, p.to_abs_time());
        }
        if let Some(e) = b.expiration_time {
            w.u32_opt(OptionCode::F_EXPIRATION_TIME, e.to_abs_time());
        }
    }
    if !top_level && let Some(clt) = b.client_last_transaction_time {
        w.u32_opt(
            OptionCode::CLT_TIME,
            secs_u32(base.saturating_duration_since(clt)),
        );
    }
    if !top_level && let Some(raw) = b.partner_raw_clt_time {
        w.u32_opt(OptionCode::F_PARTNER_RAW_CLT_TIME, raw.to_abs_time());
    }
    Some(())
}

/// The framed BNDUPD of [`bndupd_body`] (transaction id 0, see [`set_frame_xid`]), written
/// directly. `None` when the binding is outside the fast path or cannot be expressed: the
/// caller then uses [`bndupd_body`].
pub(crate) fn encode_bndupd_frame(
    b: &Binding,
    status: BindingStatus,
    now: UnixTime,
) -> Option<Vec<u8>> {
    let mut w = FrameOut::new(MessageType::BNDUPD, 0, now.to_abs_time());
    let (pref, valid) = (secs_u32(b.preferred_lifetime), secs_u32(b.valid_lifetime));
    match (&b.client, b.resource) {
        (Some(c), resource) => {
            duid_valid(&c.duid).then_some(())?;
            let cd = w.open(OptionCode::CLIENT_DATA);
            w.bytes_opt(OptionCode::CLIENTID, &c.duid)?;
            w.u32_opt(OptionCode::LQ_BASE_TIME, now.to_abs_time());
            let (t1, t2) = (secs_u32(b.t1), secs_u32(b.t2));
            match resource {
                Resource::Address(a) => {
                    let ia = w.open(OptionCode::IA_NA);
                    w.u32s(&[c.iaid, t1, t2]);
                    let at = w.open(OptionCode::IAADDR);
                    w.0.extend_from_slice(&a.octets());
                    w.u32s(&[pref, valid]);
                    write_lease_options(&mut w, b, status, now, false)?;
                    w.close(at)?;
                    w.close(ia)?;
                }
                Resource::Prefix { prefix, len } => {
                    if len > 128 {
                        return None;
                    }
                    let ia = w.open(OptionCode::IA_PD);
                    w.u32s(&[c.iaid, t1, t2]);
                    let at = w.open(OptionCode::IAPREFIX);
                    w.u32s(&[pref, valid]);
                    w.0.push(len);
                    w.0.extend_from_slice(&prefix.octets());
                    write_lease_options(&mut w, b, status, now, false)?;
                    w.close(at)?;
                    w.close(ia)?;
                }
            }
            w.close(cd)?;
        }
        (None, Resource::Prefix { prefix, len }) => {
            if len > 128 {
                return None;
            }
            let at = w.open(OptionCode::IAPREFIX);
            w.u32s(&[pref, valid]);
            w.0.push(len);
            w.0.extend_from_slice(&prefix.octets());
            write_lease_options(&mut w, b, status, now, true)?;
            w.close(at)?;
        }
        (None, Resource::Address(_)) => return None,
    }
    w.finish()
}

fn fast_reply_lease_options(w: &mut FrameOut, l: &LeaseMsg, r: &LeaseReply) -> Option<()> {
    if let Some((s, m)) = &r.status {
        w.status_opt(s.0, m)?;
    }
    if let Some(s) = l.status {
        w.u8_opt(OptionCode::F_BINDING_STATUS, s);
    }
    if let Some(t) = l.state_expiration_time {
        w.u32_opt(OptionCode::F_STATE_EXPIRATION_TIME, t);
    }
    if let Some(t) = l.partner_lifetime {
        w.u32_opt(OptionCode::F_PARTNER_LIFETIME_SENT, t);
    }
    Some(())
}

/// The framed BNDREPLY of [`bndreply_body`], written directly. `None` outside the fast path
/// (VSS present, a body [`bndreply_body`] would leave out): the caller then uses
/// [`bndreply_body`].
pub(crate) fn encode_bndreply_frame(
    xid: u32,
    now: UnixTime,
    upd: &UpdateMsg,
    replies: &[LeaseReply],
    whole: Option<&(Status, String)>,
) -> Option<Vec<u8>> {
    let mut w = FrameOut::new(MessageType::BNDREPLY, xid, now.to_abs_time());
    let mut it = replies.iter();
    let none = LeaseReply { status: None };
    match upd {
        UpdateMsg::Client { duid, vss, ias, .. } => {
            if vss.is_some() {
                return None;
            }
            let cd = w.open(OptionCode::CLIENT_DATA);
            if let Some(d) = duid.as_deref().filter(|d| duid_valid(d)) {
                w.bytes_opt(OptionCode::CLIENTID, d)?;
            }
            if let Some((s, m)) = whole {
                w.status_opt(s.0, m)?;
            }
            for ia in ias {
                let at = w.open(if ia.is_pd {
                    OptionCode::IA_PD
                } else {
                    OptionCode::IA_NA
                });
                w.u32s(&[ia.iaid, ia.t1, ia.t2]);
                for l in &ia.leases {
                    let r = it.next().unwrap_or(&none);
                    match l.resource {
                        Some(Resource::Address(a)) => {
                            let o = w.open(OptionCode::IAADDR);
                            w.0.extend_from_slice(&a.octets());
                            w.u32s(&[l.preferred, l.valid]);
                            fast_reply_lease_options(&mut w, l, r)?;
                            w.close(o)?;
                        }
                        Some(Resource::Prefix { prefix, len }) if len <= 128 => {
                            let o = w.open(OptionCode::IAPREFIX);
                            w.u32s(&[l.preferred, l.valid]);
                            w.0.push(len);
                            w.0.extend_from_slice(&prefix.octets());
                            fast_reply_lease_options(&mut w, l, r)?;
                            w.close(o)?;
                        }
                        Some(Resource::Prefix { .. }) | None => {}
                    }
                }
                w.close(at)?;
            }
            w.close(cd)?;
        }
        UpdateMsg::Prefix { vss, lease, .. } => {
            if vss.is_some() {
                return None;
            }
            let Some(Resource::Prefix { prefix, len }) = lease.resource else {
                return None;
            };
            if len > 128 {
                return None;
            }
            let r = it.next().unwrap_or(&none);
            let at = w.open(OptionCode::IAPREFIX);
            w.u32s(&[lease.preferred, lease.valid]);
            w.0.push(len);
            w.0.extend_from_slice(&prefix.octets());
            if let Some((s, m)) = whole {
                w.status_opt(s.0, m)?;
            }
            fast_reply_lease_options(&mut w, lease, r)?;
            w.close(at)?;
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::ClientKey;
    use crate::time::Duration;
    use alloc::format;
    use dhcpv6_wire::{FailoverMessage, encode_frame};

    fn owned_frame(t: MessageType, xid: u32, sent: u32, body: Option<DhcpOption>) -> Vec<u8> {
        let mut m = FailoverMessage::new(t, xid, sent);
        if let Some(b) = body {
            m.options.push(b);
        }
        let mut v = Vec::new();
        encode_frame(&m, &mut v).expect("encodable");
        v
    }

    /// `duid_valid` accepts exactly what `Duid::new` accepts: every type code 0..=6 and 0xffff
    /// with every length 0..=140 (a 1-byte input has no type).
    #[test]
    fn duid_valid_agrees_with_duid_new() {
        let mut accepted = 0;
        for t in [0u16, 1, 2, 3, 4, 5, 6, 0xffff] {
            for len in 0..=140usize {
                let mut b = alloc::vec![0x5a_u8; len];
                if let Some(head) = b.first_chunk_mut::<2>() {
                    *head = t.to_be_bytes();
                }
                let expected = Duid::new(&b).is_ok();
                assert_eq!(duid_valid(&b), expected, "type {t}, {len} bytes");
                accepted += usize::from(expected);
            }
        }
        assert!(accepted > 0 && accepted < 8 * 141, "both answers occur");
    }

    /// A spread of bindings: both resource kinds, with and without a client, every status,
    /// every optional time present or absent.
    fn bindings() -> Vec<Binding> {
        let now = UnixTime::from_secs(1_800_000_000);
        let mut out = Vec::new();
        let resources = [
            Resource::Address(Ipv6Addr::from(0x2001_0db8_u128 << 96 | 7)),
            Resource::Prefix {
                prefix: Ipv6Addr::from(0x2001_0db8_0001_u128 << 80),
                len: 56,
            },
        ];
        for (i, r) in resources.into_iter().enumerate() {
            for s in 1..=8u8 {
                for mask in 0..64u32 {
                    let status = BindingStatus::from_u8(s).expect("1..=8");
                    let mut b = Binding::new(r, status, now - Duration::from_secs(50));
                    let t = |k: u64| Some(now + Duration::from_secs(k));
                    if mask & 1 != 0 {
                        b.client = Some(ClientKey {
                            duid: alloc::vec![0, 3, 0, 1, 2, 3, 4, 5, 6, i as u8],
                            iaid: mask,
                        });
                    }
                    if mask & 2 != 0 {
                        b.state_expiration_time = t(3600);
                    }
                    if mask & 4 != 0 {
                        b.partner_lifetime = t(7200);
                        b.expiration_time = t(5400);
                    }
                    if mask & 8 != 0 {
                        b.client_last_transaction_time = Some(now - Duration::from_secs(9));
                    }
                    if mask & 16 != 0 {
                        b.partner_raw_clt_time = Some(now - Duration::from_secs(19));
                    }
                    if mask & 32 != 0 {
                        b.preferred_lifetime = Duration::from_secs(1800);
                        b.valid_lifetime = Duration::from_secs(3600);
                        b.t1 = Duration::from_secs(900);
                        b.t2 = Duration::from_secs(1440);
                    }
                    out.push(b);
                }
            }
        }
        out
    }

    #[test]
    fn fast_bndupd_encoding_matches_the_owned_encoding() {
        let now = UnixTime::from_secs(1_800_000_123);
        let mut fast = 0;
        for b in bindings() {
            let owned = bndupd_body(&b, b.status, now);
            let direct = encode_bndupd_frame(&b, b.status, now);
            match (owned, direct) {
                (Some(body), Some(bytes)) => {
                    fast += 1;
                    assert_eq!(
                        bytes,
                        owned_frame(MessageType::BNDUPD, 0, now.to_abs_time(), Some(body)),
                        "{b:?}"
                    );
                }
                (None, Some(_)) => panic!("fast path expressed an inexpressible binding {b:?}"),
                (_, None) => assert!(
                    b.client.is_none() && matches!(b.resource, Resource::Address(_)),
                    "fast path declined {b:?}"
                ),
            }
        }
        assert!(
            fast >= 768,
            "the fast path covers the common shapes ({fast})"
        );
    }

    #[test]
    fn fast_bndupd_encoding_declines_fqdn_and_dns_information() {
        let now = UnixTime::from_secs(1_800_000_123);
        let mut b = bindings().swap_remove(1);
        b.fqdn = Some(alloc::vec![0, 3, b'f', b'o', b'o', 0]);
        assert!(encode_bndupd_frame(&b, b.status, now).is_none());
        b.fqdn = None;
        b.dns_removal = Some(DnsRemovalInfo::default());
        assert!(encode_bndupd_frame(&b, b.status, now).is_none());
    }

    /// The BNDREPLY reader accepts exactly what `decode_update_frame` accepts and answers what
    /// `reply_answer` computes from that decode, for every lease's resource and one absent.
    fn check_reply(frame: &[u8]) {
        let mut frame = frame.to_vec();
        if let Some(t) = frame.first_mut() {
            *t = MessageType::BNDREPLY.0;
        }
        let full = decode_update_frame(&frame);
        let mut resources = alloc::vec![Resource::Address(Ipv6Addr::LOCALHOST)];
        match full.as_ref().map(|f| &f.body) {
            Some(Ok(UpdateMsg::Client { ias, .. })) => {
                resources.extend(
                    ias.iter()
                        .flat_map(|i| i.leases.iter().filter_map(|l| l.resource)),
                );
            }
            Some(Ok(UpdateMsg::Prefix { lease, .. })) => resources.extend(lease.resource),
            _ => {}
        }
        for r in resources {
            let fast = decode_reply_frame(&frame, |_| Some(r));
            let Some(full) = decode_update_frame(&frame) else {
                assert!(
                    fast.is_none(),
                    "reply reader accepted what the decode rejects: {frame:x?}"
                );
                continue;
            };
            let fast = fast.unwrap_or_else(|| panic!("reply reader rejected {frame:x?}"));
            assert_eq!((fast.xid, fast.sent_time), (full.xid, full.sent_time));
            let (status, sent) = reply_answer(full.top_status, full.body.ok(), r);
            let got = fast.answer.status.map(|(c, m)| (c, String::from(m)));
            assert_eq!(
                (got, fast.answer.lifetime_sent),
                (status, sent),
                "{r:?} {frame:x?}"
            );
        }
    }

    /// Decoded updates holding vectors and values of other shapes: a client update with two
    /// IAs of two leases each and status codes everywhere, and a top-level IAPREFIX.
    fn dirty_spares() -> Vec<UpdateMsg> {
        let mut ias = Vec::new();
        for (iaid, n) in [(7u32, 1u8), (8, 5)] {
            let mut d = [
                iaid.to_be_bytes(),
                100u32.to_be_bytes(),
                200u32.to_be_bytes(),
            ]
            .concat();
            d.extend(lease_opt(Ipv6Addr::from([n; 16]), Some(2), Some(99)));
            d.extend(lease_opt(Ipv6Addr::from([n + 1; 16]), Some(4), None));
            d.extend(status_opt(Some(5), "ia"));
            ias.extend(opt(OptionCode::IA_NA, &d));
        }
        let mut cd = opt(OptionCode::CLIENTID, &[0, 3, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9]);
        cd.extend(opt(OptionCode::LQ_BASE_TIME, &77u32.to_be_bytes()));
        cd.extend(status_opt(Some(3), "client"));
        cd.extend(ias);
        let mut client = alloc::vec![MessageType::BNDUPD.0, 1, 2, 3, 0, 0, 0, 9];
        client.extend(opt(OptionCode::CLIENT_DATA, &cd));
        let prefix = bindings()
            .into_iter()
            .find(|b| b.client.is_none() && matches!(b.resource, Resource::Prefix { .. }))
            .and_then(|b| encode_bndupd_frame(&b, b.status, UnixTime::from_secs(1_800_000_000)))
            .expect("a top-level IAPREFIX");
        [&client[..], prefix.get(2..).expect("framed")]
            .into_iter()
            .map(|f| {
                let mut u = UpdateMsg::empty();
                let h = decode_update_frame_into(f, &mut u).expect("fast path");
                assert!(h.body.is_ok());
                u
            })
            .collect()
    }

    fn check_decode(frame: &[u8]) -> bool {
        check_reply(frame);
        // Decoding into an update left from an earlier decode gives what a fresh decode gives.
        let fresh = decode_update_frame(frame);
        for mut spare in dirty_spares() {
            let reused = decode_update_frame_into(frame, &mut spare)
                .map(|h| FastUpdate::from_header(h, spare));
            assert_eq!(format!("{reused:?}"), format!("{fresh:?}"), "{frame:x?}");
        }
        let Some(f) = fresh else {
            return false;
        };
        let m = FailoverMessage::parse(frame).unwrap_or_else(|e| {
            panic!("fast decode accepted what parse rejects ({e}): {frame:x?}")
        });
        assert_eq!(
            (m.msg_type, m.transaction_id, m.sent_time),
            (f.msg_type, f.xid, f.sent_time)
        );
        assert_eq!(status_of(&m.options), f.top_status, "{frame:x?}");
        assert_eq!(
            format!("{:?}", parse_update(&m.options)),
            format!("{:?}", f.body),
            "{frame:x?}"
        );
        true
    }

    fn replies_for(upd: &UpdateMsg, k: usize) -> Vec<LeaseReply> {
        let n = match upd {
            UpdateMsg::Client { ias, .. } => ias.iter().map(|i| i.leases.len()).sum(),
            UpdateMsg::Prefix { .. } => 1,
        };
        (0..n + k % 2)
            .map(|i| LeaseReply {
                status: (i + k)
                    .is_multiple_of(3)
                    .then(|| (Status::ADDRESS_IN_USE, "in use".into())),
            })
            .collect()
    }

    #[test]
    fn fast_decoding_and_reply_encoding_match_the_owned_path() {
        let now = UnixTime::from_secs(1_800_000_123);
        let mut frames = Vec::new();
        for b in bindings() {
            if let Some(f) = encode_bndupd_frame(&b, b.status, now) {
                frames.push(f);
            }
        }
        let mut decoded = 0;
        for (k, f) in frames.iter().enumerate() {
            let body = f.get(2..).expect("framed");
            assert!(check_decode(body), "the fast path decodes its own encoding");
            decoded += 1;
            // The BNDREPLY to it, with and without a whole-update status.
            let upd = decode_update_frame(body)
                .and_then(|u| u.body.ok())
                .expect("a body");
            let replies = replies_for(&upd, k);
            let whole = (k % 4 == 0).then(|| (Status::UNSPEC_FAIL, String::from("whole")));
            let direct = encode_bndreply_frame(0x12_3456, now, &upd, &replies, whole.as_ref())
                .expect("fast path covers it");
            let owned = owned_frame(
                MessageType::BNDREPLY,
                0x12_3456,
                now.to_abs_time(),
                bndreply_body(&upd, &replies, whole),
            );
            assert_eq!(direct, owned);
            assert!(check_decode(direct.get(2..).expect("framed")));
        }
        assert!(decoded >= 768);
    }

    #[test]
    fn fast_decoding_never_accepts_what_the_owned_path_rejects_or_reads_differently() {
        let now = UnixTime::from_secs(1_800_000_123);
        let bs = bindings();
        let mut accepted = 0usize;
        for b in bs.iter().step_by(7) {
            let Some(f) = encode_bndupd_frame(b, b.status, now) else {
                continue;
            };
            let body = f.get(2..).expect("framed").to_vec();
            // Every truncation.
            for cut in 0..body.len() {
                check_decode(body.get(..cut).expect("in range"));
            }
            // Every single-byte change to a few values.
            for i in 0..body.len() {
                for v in [0u8, 1, 3, 4, 0x19, 0x2d, 0x80, 0xff] {
                    let mut m = body.clone();
                    if let Some(x) = m.get_mut(i) {
                        *x = v;
                    }
                    accepted += usize::from(check_decode(&m));
                }
            }
        }
        assert!(
            accepted > 1000,
            "mutants still on the fast path: {accepted}"
        );
        // BNDREPLYs with lease and whole-update statuses, mutated (0x0d turns an option into a
        // status code: IA-level and client-level statuses).
        let mut replies = 0usize;
        for (k, b) in bs.iter().enumerate().step_by(5) {
            let Some(f) = encode_bndupd_frame(b, b.status, now) else {
                continue;
            };
            let Some(upd) =
                decode_update_frame(f.get(2..).expect("framed")).and_then(|u| u.body.ok())
            else {
                continue;
            };
            let whole = (k % 2 == 0).then(|| (Status::UNSPEC_FAIL, String::from("whole")));
            let Some(r) =
                encode_bndreply_frame(0x12_3456, now, &upd, &replies_for(&upd, k), whole.as_ref())
            else {
                continue;
            };
            let body = r.get(2..).expect("framed").to_vec();
            for i in 0..body.len() {
                for v in [0u8, 1, 0x0d, 0x19, 0x80] {
                    let mut m = body.clone();
                    if let Some(x) = m.get_mut(i) {
                        *x = v;
                    }
                    replies += usize::from(check_decode(&m));
                }
            }
        }
        assert!(replies > 1000, "reply mutants on the fast path: {replies}");
    }

    fn opt(code: OptionCode, data: &[u8]) -> Vec<u8> {
        let mut v = code.0.to_be_bytes().to_vec();
        v.extend_from_slice(&u16::try_from(data.len()).expect("short").to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    fn status_opt(s: Option<u16>, m: &str) -> Vec<u8> {
        s.map_or_else(Vec::new, |c| {
            opt(
                OptionCode::STATUS_CODE,
                &[&c.to_be_bytes()[..], m.as_bytes()].concat(),
            )
        })
    }

    fn lease_opt(addr: Ipv6Addr, st: Option<u16>, sent: Option<u32>) -> Vec<u8> {
        let mut d = addr.octets().to_vec();
        d.extend_from_slice(&[0, 0, 1, 0, 0, 0, 2, 0]);
        d.extend(status_opt(st, "lease"));
        if let Some(t) = sent {
            d.extend(opt(OptionCode::F_PARTNER_LIFETIME_SENT, &t.to_be_bytes()));
        }
        opt(OptionCode::IAADDR, &d)
    }

    #[test]
    fn reply_reader_matches_the_decode_on_status_combinations() {
        let ours = Ipv6Addr::LOCALHOST;
        let other = Ipv6Addr::UNSPECIFIED;
        let sts = [None, Some(0u16), Some(2)];
        let mut n = 0usize;
        for top in sts {
            for client in sts {
                for ia in sts {
                    for l1 in sts {
                        for l2 in sts {
                            for shape in 0..4 {
                                let mut ia_data = alloc::vec![0u8; 12];
                                let st = status_opt(ia.map(|c| c + 1), "ia");
                                if shape % 2 == 0 {
                                    ia_data.extend(st.clone());
                                }
                                ia_data.extend(lease_opt(ours, l1, Some(7)));
                                let second = if shape < 2 { ours } else { other };
                                ia_data.extend(lease_opt(second, l2.map(|c| c + 7), None));
                                if shape % 2 == 1 {
                                    ia_data.extend(st);
                                }
                                let mut cd =
                                    opt(OptionCode::CLIENTID, &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6]);
                                cd.extend(status_opt(client.map(|c| c + 3), "client"));
                                cd.extend(opt(OptionCode::IA_NA, &ia_data));
                                let mut frame =
                                    alloc::vec![MessageType::BNDREPLY.0, 0, 0, 1, 0, 0, 0, 9];
                                frame.extend(opt(OptionCode::CLIENT_DATA, &cd));
                                frame.extend(status_opt(top.map(|c| c + 1), "top"));
                                assert!(decode_update_frame(&frame).is_some(), "{frame:x?}");
                                check_reply(&frame);
                                n += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(n, 972);
    }

    #[test]
    fn set_frame_xid_writes_the_24_bit_id() {
        let b = bindings().swap_remove(1);
        let now = UnixTime::from_secs(1_800_000_123);
        let mut f = encode_bndupd_frame(&b, b.status, now).expect("fast");
        set_frame_xid(&mut f, 0xab_cdef);
        let m = FailoverMessage::parse(f.get(2..).expect("framed")).expect("parses");
        assert_eq!(m.transaction_id, 0xab_cdef);
    }
}
