//! Mapping between bindings and the BNDUPD / BNDREPLY option trees of RFC 8156 §7.4–§7.7,
//! on top of `dhcpv6-wire`'s owned option model. Syntax is wire's job; this module checks
//! the protocol shape (which options must be where) and reports what is missing.

use alloc::string::String;
use alloc::vec::Vec;

use dhcpv6_wire::{
    ClientFqdn, DhcpOption, DomainName, Duid, IaAddr, IaNa, IaPd, IaPrefix, OptionCode, Options,
    Status, StatusCode, Vss,
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
    /// Top-level OPTION_IAPREFIX (an unbound delegable prefix).
    Prefix {
        base_time: Option<u32>,
        vss: Option<Vss>,
        lease: LeaseMsg,
    },
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
                    lease: prefix_lease(p),
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
