//! The DHCPv6 server exchange (RFC 8415 §18.3), sans-IO: bytes and arrival information in, an
//! answer (bytes, destination, source) and lease changes out. No sockets, no clock, no disk: the
//! caller passes `now`, sends the answer, and persists [`Engine::take_store_ops`] before it sends
//! any answer marked [`Answer::durable`].
//!
//! Handled: Solicit (Advertise with Preference, or Reply under Rapid Commit), Request, Renew,
//! Rebind, Release, Decline (the lease becomes ABANDONED), Confirm and Information-request, any
//! number of IA_NA and IA_PD per message with the client's hints, nested Relay-forw with
//! Interface-ID echoed, the status codes NoAddrsAvail, NoPrefixAvail, NoBinding, NotOnLink and
//! UseMulticast, DNS servers and domain search list, SOL_MAX_RT / INF_MAX_RT and Client FQDN.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

use dhcpv6_failover::{Binding, BindingStatus, ClientKey, Resource, ResourceKind, UnixTime};
use dhcpv6_wire::{
    ClientFqdn, ClientMessage, DhcpOption, DomainName, Duid, Emit, IaAddr, IaNa, IaPd, IaPrefix,
    Message, MessageType, OptionCode, Options, RelayMessage, Status, StatusCode,
};

use crate::config::{Config, FqdnMode, Subnet, in_prefix};
use crate::leases::{Grant, LeaseTable, in_subnet_pools, resource_key};
use crate::metrics::DropReason;
use crate::store::{Op, Table};

/// Where a datagram arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Sender address and port.
    pub src: SocketAddrV6,
    /// Destination address (multicast or one of ours).
    pub dst: Ipv6Addr,
    /// Index into `server.interfaces` of the arrival interface, if it is a configured one.
    pub iface: Option<usize>,
}

/// An answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The encoded message (Advertise, Reply or Relay-repl).
    pub bytes: Vec<u8>,
    /// Where to send it.
    pub to: SocketAddrV6,
    /// Source address: `None` means the arrival interface's link-local address.
    pub from: Option<Ipv6Addr>,
    /// The answer grants or changes leases: send it only after the store has committed the ops
    /// taken with [`Engine::take_store_ops`] since this call.
    pub durable: bool,
    /// Type of the innermost answer (for metrics).
    pub msg_type: MessageType,
    /// Every status code the answer carries, top level and per IA (for metrics).
    pub statuses: Vec<Status>,
}

/// Result of handling one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// Type of the innermost message, if the datagram parsed that far.
    pub msg_type: Option<MessageType>,
    /// The answer, or why there is none.
    pub result: Result<Answer, DropReason>,
}

/// Meta-table key of the server DUID.
pub const META_SERVER_DUID: &[u8] = b"server-duid";

/// The DHCPv6 engine of one server.
#[derive(Debug)]
pub struct Engine {
    config: Arc<Config>,
    server_id: Duid,
    leases: LeaseTable,
}

struct RelayHop {
    hop_count: u8,
    link_address: Ipv6Addr,
    peer_address: Ipv6Addr,
    interface_id: Option<Vec<u8>>,
}

enum IaKind {
    Na,
    Pd,
}

/// One IA of the request, decoded.
struct IaRequest {
    kind: IaKind,
    iaid: u32,
    hints: Vec<Resource>,
}

impl IaRequest {
    fn resource_kind(&self) -> ResourceKind {
        match self.kind {
            IaKind::Na => ResourceKind::Address,
            IaKind::Pd => ResourceKind::Prefix,
        }
    }
}

/// What the server puts in one IA of its answer.
struct IaAnswer {
    kind: IaKind,
    iaid: u32,
    /// Resources with (preferred, valid) lifetimes; zero lifetimes tell the client to stop using it.
    resources: Vec<(Resource, Duration, Duration)>,
    status: Option<(Status, &'static str)>,
}

impl Engine {
    /// Builds the engine with the server DUID and the bindings read from the store.
    pub fn new(config: Arc<Config>, server_id: Duid, bindings: Vec<Binding>, seed: u64) -> Self {
        let leases = LeaseTable::restore(&config.subnets, seed, bindings);
        Self {
            config,
            server_id,
            leases,
        }
    }

    /// The server DUID.
    pub fn server_id(&self) -> &Duid {
        &self.server_id
    }

    /// The lease table.
    pub fn leases(&self) -> &LeaseTable {
        &self.leases
    }

    /// Reclaims leases whose valid lifetime has passed (they become FREE).
    pub fn reclaim_expired(&mut self, now: UnixTime) -> usize {
        self.leases.reclaim_expired(now, BindingStatus::Free)
    }

    /// Store writes for every binding changed since the last call.
    pub fn take_store_ops(&mut self) -> Vec<Op> {
        self.leases
            .take_dirty()
            .into_iter()
            .map(|b| Op {
                table: Table::Bindings,
                key: resource_key(&b.resource),
                value: serde_json::to_vec(b).ok(),
            })
            .collect()
    }

    /// Handles one datagram.
    pub fn handle(&mut self, now: UnixTime, arrival: &Arrival, bytes: &[u8]) -> Handled {
        let Ok(msg) = Message::parse(bytes) else {
            return Handled {
                msg_type: bytes.first().map(|t| MessageType(*t)),
                result: Err(DropReason::Malformed),
            };
        };
        // Peel the relay layers, outermost first.
        let mut hops = Vec::new();
        let mut inner = &msg;
        loop {
            match inner {
                Message::Relay(r) if r.msg_type == MessageType::RELAY_FORW => {
                    let Some(next) = r.options.relay_msg() else {
                        return Handled {
                            msg_type: Some(r.msg_type),
                            result: Err(DropReason::Malformed),
                        };
                    };
                    let interface_id = r.options.iter().find_map(|o| match o {
                        DhcpOption::InterfaceId(id) => Some(id.clone()),
                        _ => None,
                    });
                    hops.push(RelayHop {
                        hop_count: r.hop_count,
                        link_address: r.link_address,
                        peer_address: r.peer_address,
                        interface_id,
                    });
                    inner = next;
                }
                _ => break,
            }
        }
        let Message::Client(req) = inner else {
            return Handled {
                msg_type: Some(inner.msg_type()),
                result: Err(DropReason::NotForServer),
            };
        };
        let msg_type = req.msg_type;
        let relayed = !hops.is_empty();
        let unicast = !relayed && !arrival.dst.is_multicast();
        let result = self
            .exchange(now, arrival, &hops, req, unicast)
            .map(|(reply, durable)| {
                let statuses = collect_statuses(&reply.options);
                let answer_type = reply.msg_type;
                // Answer from the address the request was sent to, or from the interface's
                // link-local address when it was multicast.
                let from = if arrival.dst.is_multicast() {
                    None
                } else {
                    Some(arrival.dst)
                };
                let (bytes, to) = if relayed {
                    (wrap_relay(reply, &hops).to_vec(), arrival.src)
                } else {
                    let to = SocketAddrV6::new(
                        *arrival.src.ip(),
                        self.config.server.client_port,
                        0,
                        arrival.src.scope_id(),
                    );
                    (reply.to_vec(), to)
                };
                Answer {
                    bytes,
                    to,
                    from,
                    durable,
                    msg_type: answer_type,
                    statuses,
                }
            });
        Handled {
            msg_type: Some(msg_type),
            result,
        }
    }

    fn select_subnet(&self, arrival: &Arrival, hops: &[RelayHop]) -> Option<usize> {
        let subnets = &self.config.subnets;
        // The relay closest to the client names the client's link.
        for hop in hops.iter().rev() {
            let la = hop.link_address;
            if la.is_unspecified() || la.segments()[0] & 0xffc0 == 0xfe80 {
                continue;
            }
            return subnets
                .iter()
                .position(|s| s.link.is_some_and(|(p, l)| in_prefix(la, p, l)));
        }
        if let Some(i) = arrival.iface {
            let name = self.config.server.interfaces.get(i)?;
            if let Some(s) = subnets
                .iter()
                .position(|s| s.interface.as_deref() == Some(name.as_str()))
            {
                return Some(s);
            }
        }
        // A relay that names no global link (perfdhcp uses its link-local address) on a server
        // with a single subnet: that subnet.
        if !hops.is_empty() && subnets.len() == 1 {
            Some(0)
        } else {
            None
        }
    }

    fn exchange(
        &mut self,
        now: UnixTime,
        arrival: &Arrival,
        hops: &[RelayHop],
        req: &ClientMessage,
        unicast: bool,
    ) -> Result<(ClientMessage, bool), DropReason> {
        let t = req.msg_type;
        let opts = &req.options;
        let client_id = opts.client_id();
        let server_id = opts.server_id();
        let ours = server_id.is_some_and(|s| *s == self.server_id);
        //= https://www.rfc-editor.org/rfc/rfc8415#section-16
        //# Servers MUST discard any received Solicit, Confirm, Rebind, or Information-request
        //# messages that were sent to a unicast address
        let (needs_client, server_id_rule) = match t {
            MessageType::SOLICIT | MessageType::CONFIRM | MessageType::REBIND => {
                (true, Some(false))
            }
            MessageType::REQUEST
            | MessageType::RENEW
            | MessageType::RELEASE
            | MessageType::DECLINE => (true, Some(true)),
            MessageType::INFORMATION_REQUEST => (false, None),
            _ => return Err(DropReason::NotForServer),
        };
        if needs_client && client_id.is_none() {
            return Err(DropReason::Discarded);
        }
        match server_id_rule {
            Some(false) if server_id.is_some() => return Err(DropReason::Discarded),
            Some(true) if !ours => return Err(DropReason::Discarded),
            //= https://www.rfc-editor.org/rfc/rfc8415#section-16.12
            //# If the message includes a Server Identifier option, the contents of the option
            //# MUST match the server's identifier.
            None if server_id.is_some() && !ours => return Err(DropReason::Discarded),
            _ => {}
        }
        if unicast {
            match t {
                MessageType::SOLICIT
                | MessageType::CONFIRM
                | MessageType::REBIND
                | MessageType::INFORMATION_REQUEST => {
                    return Err(DropReason::Discarded);
                }
                _ => {
                    //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.2
                    //# When the server receives a Request message via unicast from a client to which the
                    //# server has not sent a Server Unicast option, the server discards the Request message
                    //# and responds with a Reply message containing a Status Code option with the value
                    //# UseMulticast, a Server Identifier option containing the server's DUID, the Client
                    //# Identifier option from the client message, and no other options.
                    let mut reply = ClientMessage::new(MessageType::REPLY, req.transaction_id);
                    if let Some(c) = client_id {
                        reply.options.push(DhcpOption::ClientId(c.clone()));
                    }
                    reply
                        .options
                        .push(DhcpOption::ServerId(self.server_id.clone()));
                    reply
                        .options
                        .push(status(Status::USE_MULTICAST, "send to ff02::1:2"));
                    return Ok((reply, false));
                }
            }
        }
        if t == MessageType::INFORMATION_REQUEST {
            return Ok((self.information_reply(req), false));
        }
        let client_id = client_id.ok_or(DropReason::Discarded)?.clone();
        let config = self.config.clone();
        let subnet_index = self.select_subnet(arrival, hops);
        let subnet = subnet_index.and_then(|i| config.subnets.get(i).map(|s| (i, s)));
        let ias = decode_ias(opts);

        let mut reply = ClientMessage::new(MessageType::REPLY, req.transaction_id);
        reply.options.push(DhcpOption::ClientId(client_id.clone()));
        reply
            .options
            .push(DhcpOption::ServerId(self.server_id.clone()));
        let duid = client_id.as_bytes().to_vec();
        let mut durable = false;

        match t {
            MessageType::SOLICIT => {
                let Some(subnet) = subnet else {
                    return Err(DropReason::UnknownLink);
                };
                let rapid = self.config.server.rapid_commit
                    && opts.find(OptionCode::RAPID_COMMIT).is_some();
                let answers: Vec<IaAnswer> = ias
                    .iter()
                    .map(|ia| self.assign(now, subnet, &duid, ia, rapid, opts))
                    .collect();
                if rapid {
                    //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.1
                    //# If the client has included a Rapid Commit option and the server has been
                    //# configured to respond with committed address assignments and other resources,
                    //# responds to the Solicit with a Reply message.
                    reply.options.push(DhcpOption::RapidCommit);
                    durable = true;
                } else {
                    reply.msg_type = MessageType::ADVERTISE;
                    //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.1
                    //# The server MUST include a Preference option in the Advertise message if it
                    //# has been configured to send a preference value other than 0.
                    if self.config.server.preference != 0 {
                        reply
                            .options
                            .push(DhcpOption::Preference(self.config.server.preference));
                    }
                }
                self.push_ias(&mut reply.options, answers);
                self.push_requested(&mut reply.options, opts, true);
            }
            MessageType::REQUEST => {
                let Some(subnet) = subnet else {
                    return Err(DropReason::UnknownLink);
                };
                let answers: Vec<IaAnswer> = ias
                    .iter()
                    .map(|ia| self.assign(now, subnet, &duid, ia, true, opts))
                    .collect();
                durable = true;
                self.push_ias(&mut reply.options, answers);
                self.push_requested(&mut reply.options, opts, true);
            }
            MessageType::RENEW | MessageType::REBIND => {
                let rebind = t == MessageType::REBIND;
                let answers: Vec<IaAnswer> = ias
                    .iter()
                    .map(|ia| self.extend(now, subnet, &duid, ia, rebind, opts))
                    .collect();
                durable = true;
                self.push_ias(&mut reply.options, answers);
                self.push_requested(&mut reply.options, opts, false);
            }
            MessageType::RELEASE | MessageType::DECLINE => {
                let decline = t == MessageType::DECLINE;
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.8
                //# If any of the IAs ... the server marks the addresses declined by the client
                //# so that those addresses are not assigned to other clients
                let end_status = if decline {
                    BindingStatus::Abandoned
                } else {
                    BindingStatus::Free
                };
                let mut answers = Vec::new();
                for ia in &ias {
                    let key = ClientKey {
                        duid: duid.clone(),
                        iaid: ia.iaid,
                    };
                    let mut any = false;
                    for r in &ia.hints {
                        any |= self.leases.end(now, r, &key, end_status);
                    }
                    //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.7
                    //# For each IA in the Release message for which the server has no binding
                    //# information, the server adds an IA option using the IAID from the Release
                    //# message and includes a Status Code option with the value NoBinding in the IA
                    //# option.
                    if !any {
                        answers.push(IaAnswer {
                            kind: if matches!(ia.kind, IaKind::Na) {
                                IaKind::Na
                            } else {
                                IaKind::Pd
                            },
                            iaid: ia.iaid,
                            resources: Vec::new(),
                            status: Some((Status::NO_BINDING, "no binding for this IA")),
                        });
                    }
                }
                durable = true;
                self.push_ias(&mut reply.options, answers);
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.7
                //# the server ... MUST include a Status Code option with the value Success
                reply.options.push(status(
                    Status::SUCCESS,
                    if decline { "declined" } else { "released" },
                ));
            }
            MessageType::CONFIRM => {
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.3
                //# If the Confirm message received by the server does not contain any
                //# addresses, the server MUST NOT send a Reply to the client.
                let addrs: Vec<Ipv6Addr> = ias
                    .iter()
                    .filter(|ia| matches!(ia.kind, IaKind::Na))
                    .flat_map(|ia| ia.hints.iter())
                    .filter_map(|r| match r {
                        Resource::Address(a) => Some(*a),
                        Resource::Prefix { .. } => None,
                    })
                    .collect();
                let Some((_, subnet)) = subnet else {
                    return Err(DropReason::UnknownLink);
                };
                if addrs.is_empty() {
                    return Err(DropReason::Discarded);
                }
                let on_link = |a: &Ipv6Addr| match subnet.link {
                    Some((p, l)) => in_prefix(*a, p, l),
                    None => in_subnet_pools(subnet, &Resource::Address(*a)),
                };
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.3
                //# If all of the addresses in the Confirm message are within the prefixes appropriate
                //# to the link, the server MUST send a Reply with a Status Code of Success;
                //# otherwise ... NotOnLink.
                if addrs.iter().all(on_link) {
                    reply
                        .options
                        .push(status(Status::SUCCESS, "all addresses on link"));
                } else {
                    reply.options.push(status(
                        Status::NOT_ON_LINK,
                        "an address is not on this link",
                    ));
                }
            }
            _ => return Err(DropReason::NotForServer),
        }
        Ok((reply, durable))
    }

    fn grant(&self) -> Grant {
        let l = &self.config.lifetimes;
        Grant {
            preferred: l.preferred,
            valid: l.valid,
            t1: l.t1,
            t2: l.t2,
            fqdn: None,
        }
    }

    fn fqdn_payload(&self, opts: &Options) -> Option<Vec<u8>> {
        if self.config.options.fqdn == FqdnMode::Ignore {
            return None;
        }
        opts.iter().find_map(|o| match o {
            DhcpOption::ClientFqdn(f) => Some(DhcpOption::ClientFqdn(f.clone()).to_vec()),
            _ => None,
        })
    }

    /// Solicit and Request: the client's current leases for this IA, else a hint, else a new one.
    fn assign(
        &mut self,
        now: UnixTime,
        (index, subnet): (usize, &Subnet),
        duid: &[u8],
        ia: &IaRequest,
        commit: bool,
        opts: &Options,
    ) -> IaAnswer {
        let key = ClientKey {
            duid: duid.to_vec(),
            iaid: ia.iaid,
        };
        let kind = ia.resource_kind();
        let mut grant = self.grant();
        grant.fqdn = self.fqdn_payload(opts);
        let mut resources = Vec::new();
        let current: Vec<Resource> = self
            .leases
            .active_for(kind, &key, now)
            .into_iter()
            .filter(|r| in_subnet_pools(subnet, r))
            .collect();
        let chosen = if current.is_empty() {
            self.leases
                .allocate(now, index, subnet, kind, &key, &ia.hints)
                .into_iter()
                .collect()
        } else {
            current
        };
        for r in &chosen {
            if commit {
                self.leases.bind(now, *r, &key, &grant);
            } else {
                self.leases.offer(*r, &key, now);
            }
            resources.push((*r, grant.preferred, grant.valid));
        }
        let status = if chosen.is_empty() {
            Some(no_resources(kind))
        } else {
            None
        };
        IaAnswer {
            kind: ia_kind(kind),
            iaid: ia.iaid,
            resources,
            status,
        }
    }

    /// Renew and Rebind.
    fn extend(
        &mut self,
        now: UnixTime,
        subnet_at: Option<(usize, &Subnet)>,
        duid: &[u8],
        ia: &IaRequest,
        rebind: bool,
        opts: &Options,
    ) -> IaAnswer {
        let key = ClientKey {
            duid: duid.to_vec(),
            iaid: ia.iaid,
        };
        let kind = ia.resource_kind();
        let subnet = subnet_at.map(|(_, s)| s);
        let mut grant = self.grant();
        grant.fqdn = self.fqdn_payload(opts);
        let current = self.leases.active_for(kind, &key, now);
        let mut resources = Vec::new();
        let mut extended = Vec::new();
        for r in &ia.hints {
            let appropriate = subnet.is_some_and(|s| in_subnet_pools(s, r));
            if current.contains(r) && appropriate {
                extended.push(*r);
            } else if appropriate && self.leases.is_available_to(r, &key, now) {
                // The server lost (or never had) this binding and the resource is free: the
                // client keeps what it has.
                extended.push(*r);
            } else if !current.contains(r) && (!appropriate || subnet.is_some()) {
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.4
                //# If the server finds that any of the addresses in the IA are not appropriate for
                //# the link to which the client is attached, the server returns the address to the
                //# client with lifetimes of 0.
                resources.push((*r, Duration::ZERO, Duration::ZERO));
            }
        }
        // Leases the client holds but did not list stay with it.
        for r in &current {
            if !extended.contains(r) && subnet.is_none_or(|s| in_subnet_pools(s, r)) {
                extended.push(*r);
            }
        }
        if extended.is_empty() {
            if let Some((i, s)) = subnet_at.filter(|_| ia.hints.is_empty() || current.is_empty()) {
                if let Some(r) = self.leases.allocate(now, i, s, kind, &key, &[]) {
                    extended.push(r);
                }
            }
        }
        for r in &extended {
            self.leases.bind(now, *r, &key, &grant);
            resources.push((*r, grant.preferred, grant.valid));
        }
        let status = if !extended.is_empty() {
            None
        } else if current.is_empty() && !rebind {
            //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.4
            //# If the server cannot find a client entry for the IA, the server returns the IA
            //# containing no addresses with a Status Code option set to NoBinding in the Reply
            //# message.
            Some((Status::NO_BINDING, "no binding for this IA"))
        } else {
            Some(no_resources(kind))
        };
        if status.is_some() && !rebind {
            resources.retain(|(_, _, v)| *v == Duration::ZERO);
        }
        IaAnswer {
            kind: ia_kind(kind),
            iaid: ia.iaid,
            resources,
            status,
        }
    }

    fn push_ias(&self, out: &mut Options, answers: Vec<IaAnswer>) {
        let l = &self.config.lifetimes;
        for a in answers {
            let granted = a.resources.iter().any(|(_, _, v)| !v.is_zero());
            let (t1, t2) = if granted {
                (secs(l.t1), secs(l.t2))
            } else {
                (0, 0)
            };
            let mut inner = Options::new();
            for (r, pref, valid) in a.resources {
                match r {
                    Resource::Address(address) => inner.push(DhcpOption::IaAddr(IaAddr {
                        address,
                        preferred_lifetime: secs(pref),
                        valid_lifetime: secs(valid),
                        options: Options::new(),
                    })),
                    Resource::Prefix { prefix, len } => {
                        if let Ok(p) =
                            IaPrefix::new(secs(pref), secs(valid), len, prefix, Options::new())
                        {
                            inner.push(DhcpOption::IaPrefix(p));
                        }
                    }
                }
            }
            if let Some((code, text)) = a.status {
                inner.push(status(code, text));
            }
            out.push(match a.kind {
                IaKind::Na => DhcpOption::IaNa(IaNa {
                    iaid: a.iaid,
                    t1,
                    t2,
                    options: inner,
                }),
                IaKind::Pd => DhcpOption::IaPd(IaPd {
                    iaid: a.iaid,
                    t1,
                    t2,
                    options: inner,
                }),
            });
        }
    }

    /// Options the client asked for in its Option Request option, plus Client FQDN.
    fn push_requested(&self, out: &mut Options, req: &Options, sol_max_rt: bool) {
        let o = &self.config.options;
        let oro: Vec<OptionCode> = req
            .iter()
            .find_map(|x| match x {
                DhcpOption::Oro(codes) => Some(codes.clone()),
                _ => None,
            })
            .unwrap_or_default();
        if oro.contains(&OptionCode::DNS_SERVERS) && !o.dns_servers.is_empty() {
            out.push(DhcpOption::DnsServers(o.dns_servers.clone()));
        }
        if oro.contains(&OptionCode::DOMAIN_LIST) && !o.domain_search.is_empty() {
            let names: Vec<DomainName> = o
                .domain_search
                .iter()
                .filter_map(|d| DomainName::from_dotted(d, true).ok())
                .collect();
            out.push(DhcpOption::DomainList(names));
        }
        //= https://www.rfc-editor.org/rfc/rfc8415#section-21.24
        //# A DHCP server sends the SOL_MAX_RT option to a client to override the default value of
        //# SOL_MAX_RT.
        if sol_max_rt && oro.contains(&OptionCode::SOL_MAX_RT) {
            if let Some(v) = o.sol_max_rt {
                out.push(DhcpOption::SolMaxRt(secs(v)));
            }
        }
        if let Some(DhcpOption::ClientFqdn(f)) = req.find(OptionCode::CLIENT_FQDN) {
            if o.fqdn == FqdnMode::NoUpdate {
                //= https://www.rfc-editor.org/rfc/rfc4704#section-5.2
                //# If the server does not intend to perform any DNS updates ... it MUST set the
                //# "N" bit to 1 and the "S" bit to 0; it sets "O" if the client had set "S".
                let client_s = f.flags & 0x01 != 0;
                let flags = 0x04 | if client_s { 0x02 } else { 0 };
                out.push(DhcpOption::ClientFqdn(ClientFqdn {
                    flags,
                    name: f.name.clone(),
                }));
            }
        }
    }

    fn information_reply(&self, req: &ClientMessage) -> ClientMessage {
        let mut reply = ClientMessage::new(MessageType::REPLY, req.transaction_id);
        if let Some(c) = req.options.client_id() {
            reply.options.push(DhcpOption::ClientId(c.clone()));
        }
        reply
            .options
            .push(DhcpOption::ServerId(self.server_id.clone()));
        self.push_requested(&mut reply.options, &req.options, false);
        //= https://www.rfc-editor.org/rfc/rfc8415#section-21.25
        //# A DHCP server sends the INF_MAX_RT option to a client to override the default value of
        //# INF_MAX_RT.
        let asked = req
            .options
            .iter()
            .any(|o| matches!(o, DhcpOption::Oro(c) if c.contains(&OptionCode::INF_MAX_RT)));
        if let (true, Some(v)) = (asked, self.config.options.inf_max_rt) {
            reply.options.push(DhcpOption::InfMaxRt(secs(v)));
        }
        reply
    }
}

fn ia_kind(kind: ResourceKind) -> IaKind {
    match kind {
        ResourceKind::Address => IaKind::Na,
        ResourceKind::Prefix => IaKind::Pd,
    }
}

fn no_resources(kind: ResourceKind) -> (Status, &'static str) {
    match kind {
        //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.1
        //# If the server will not assign any addresses to an IA_NA in a subsequent Request
        //# from the client, the server MUST include the IA_NA with a Status Code option set
        //# to NoAddrsAvail
        ResourceKind::Address => (Status::NO_ADDRS_AVAIL, "no addresses available"),
        ResourceKind::Prefix => (Status::NO_PREFIX_AVAIL, "no prefixes available"),
    }
}

fn status(code: Status, text: &str) -> DhcpOption {
    DhcpOption::StatusCode(StatusCode::new(code, text))
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn decode_ias(opts: &Options) -> Vec<IaRequest> {
    let mut out = Vec::new();
    for o in opts.iter() {
        match o {
            DhcpOption::IaNa(ia) => out.push(IaRequest {
                kind: IaKind::Na,
                iaid: ia.iaid,
                hints: ia
                    .options
                    .ia_addrs()
                    .map(|a| Resource::Address(a.address))
                    .collect(),
            }),
            DhcpOption::IaPd(ia) => out.push(IaRequest {
                kind: IaKind::Pd,
                iaid: ia.iaid,
                hints: ia
                    .options
                    .ia_prefixes()
                    .filter(|p| !p.prefix.is_unspecified() && p.prefix_len() > 0)
                    .map(|p| Resource::Prefix {
                        prefix: p.prefix,
                        len: p.prefix_len(),
                    })
                    .collect(),
            }),
            _ => {}
        }
    }
    out
}

fn collect_statuses(opts: &Options) -> Vec<Status> {
    let mut v: Vec<Status> = opts.status_code().map(|s| s.status).into_iter().collect();
    for o in opts.iter() {
        let inner = match o {
            DhcpOption::IaNa(ia) => &ia.options,
            DhcpOption::IaPd(ia) => &ia.options,
            _ => continue,
        };
        v.push(inner.status_code().map_or(Status::SUCCESS, |s| s.status));
    }
    v
}

//= https://www.rfc-editor.org/rfc/rfc8415#section-19.3
//# The server MUST ... copy the Interface-Id option (if present) from the Relay-forward
//# message into the Relay-reply
fn wrap_relay(reply: ClientMessage, hops: &[RelayHop]) -> Message {
    let mut m = Message::Client(reply);
    for hop in hops.iter().rev() {
        let mut options = Options::new();
        if let Some(id) = &hop.interface_id {
            options.push(DhcpOption::InterfaceId(id.clone()));
        }
        options.push(DhcpOption::RelayMsg(Box::new(m)));
        m = Message::Relay(RelayMessage {
            msg_type: MessageType::RELAY_REPL,
            hop_count: hop.hop_count,
            link_address: hop.link_address,
            peer_address: hop.peer_address,
            options,
        });
    }
    m
}
