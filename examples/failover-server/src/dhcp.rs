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

use dhcpv6_failover::{
    Binding, BindingStatus, ClientKey, LeaseChange, LeaseGrant, Resource, ResourceKind, UnixTime,
};
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

/// Who decides, besides the lease table, whether and what the server may answer: a failover
/// relationship ([`crate::partner`]) for the subnets it governs, nobody ([`Standalone`]) for a
/// standalone server. The engine asks before every answer and reports every lease it decided;
/// none of these calls waits for a partner.
pub trait Authority {
    /// Whether the server may answer a message of type `t` for the client's subnet (`None`:
    /// unknown link); `addressed_to_me` is true when its Server Identifier is ours.
    fn may_serve(&self, subnet: Option<usize>, t: MessageType, addressed_to_me: bool) -> bool;
    /// Whether subnet number `subnet` is governed here (its allocation goes through
    /// [`Authority::allocate`] and [`Authority::may_use`]).
    fn governs(&self, subnet: usize) -> bool;
    /// Whether `client` may be given (or keep) `r` now.
    fn may_use(&self, now: UnixTime, r: &Resource, client: &ClientKey) -> bool;
    /// A resource of `kind` for `client` in governed subnet number `subnet`.
    fn allocate(
        &mut self,
        now: UnixTime,
        subnet: usize,
        kind: ResourceKind,
        client: &ClientKey,
    ) -> Option<Resource>;
    /// The valid lifetime that may be granted for `r` given the configured one.
    fn valid_lifetime(&self, now: UnixTime, r: &Resource, desired: Duration) -> Duration;
    /// A lease the server just decided (after building its answer).
    fn record(&mut self, now: UnixTime, change: LeaseChange);
    /// Whether `r` belongs to a pool governed here: its lease changes, expiry included, go
    /// through [`Authority::record`] and the governing relationship decides when it is free.
    fn governs_resource(&self, r: &Resource) -> bool;
}

/// The standalone server: the lease table alone decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standalone;

impl Authority for Standalone {
    fn may_serve(&self, _: Option<usize>, _: MessageType, _: bool) -> bool {
        true
    }
    fn governs(&self, _: usize) -> bool {
        false
    }
    fn may_use(&self, _: UnixTime, _: &Resource, _: &ClientKey) -> bool {
        true
    }
    fn allocate(
        &mut self,
        _: UnixTime,
        _: usize,
        _: ResourceKind,
        _: &ClientKey,
    ) -> Option<Resource> {
        None
    }
    fn valid_lifetime(&self, _: UnixTime, _: &Resource, desired: Duration) -> Duration {
        desired
    }
    fn record(&mut self, _: UnixTime, _: LeaseChange) {}
    fn governs_resource(&self, _: &Resource) -> bool {
        false
    }
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
        let governed: Vec<bool> = (0..config.subnets.len())
            .map(|i| config.failover.iter().any(|r| r.subnets.contains(&i)))
            .collect();
        let leases = LeaseTable::restore(&config.subnets, &governed, seed, bindings);
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

    /// Reclaims leases whose valid lifetime has passed (standalone: they become FREE).
    pub fn reclaim_expired(&mut self, now: UnixTime) -> usize {
        self.reclaim_expired_with(now, &mut Standalone)
    }

    /// Reclaims leases whose valid lifetime has passed. A lease in a pool that `auth` governs
    /// becomes EXPIRED and is reported to `auth` (the failover endpoint records it, tells the
    /// partner and decides when it becomes free); any other lease becomes FREE.
    pub fn reclaim_expired_with(&mut self, now: UnixTime, auth: &mut dyn Authority) -> usize {
        //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
        // Paraphrased: a lease whose lifetime runs out moves from ACTIVE to EXPIRED; it becomes
        // PENDING-FREE (then FREE) only once the partner has acknowledged the EXPIRED update,
        // or in PARTNER-DOWN after the MCLT. The endpoint makes those later moves.
        let expired = self.leases.reclaim_expired_by(now, |r| {
            if auth.governs_resource(r) {
                BindingStatus::Expired
            } else {
                BindingStatus::Free
            }
        });
        for resource in &expired {
            if auth.governs_resource(resource) {
                auth.record(
                    now,
                    LeaseChange::Expired {
                        resource: *resource,
                    },
                );
            }
        }
        expired.len()
    }

    /// Store writes for every binding changed since the last call.
    pub fn take_store_ops(&mut self) -> Vec<Op> {
        self.take_store_ops_except(|_| false)
    }

    /// Whether bindings changed since the last [`Engine::take_store_ops`].
    pub fn has_store_ops(&self) -> bool {
        self.leases.has_dirty()
    }

    /// [`Engine::take_store_ops`] without the writes of the resources `skip` names (whose
    /// records someone else writes in the same batch): those are not even encoded.
    pub fn take_store_ops_except(&mut self, mut skip: impl FnMut(&Resource) -> bool) -> Vec<Op> {
        self.leases
            .take_dirty()
            .into_iter()
            .filter(|b| !skip(&b.resource))
            .map(|b| Op {
                table: Table::Bindings,
                key: resource_key(&b.resource),
                value: Some(crate::record::encode(b)),
            })
            .collect()
    }

    /// The lease table, to change (tests that drive the failover glue without datagrams).
    #[cfg(test)]
    pub(crate) fn leases_mut(&mut self) -> &mut LeaseTable {
        &mut self.leases
    }

    /// Handles one datagram (standalone).
    pub fn handle(&mut self, now: UnixTime, arrival: &Arrival, bytes: &[u8]) -> Handled {
        self.handle_with(now, arrival, bytes, &mut Standalone)
    }

    /// Puts a binding decided elsewhere (by the failover partner) into the lease table without
    /// writing it to the store again.
    pub fn absorb(&mut self, b: Binding) {
        self.leases.absorb(b);
    }

    /// Handles one datagram, asking `auth` before every answer.
    pub fn handle_with(
        &mut self,
        now: UnixTime,
        arrival: &Arrival,
        bytes: &[u8],
        auth: &mut dyn Authority,
    ) -> Handled {
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
                        DhcpOption::InterfaceId(id) => Some(id.to_vec()),
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
        let result =
            self.exchange(now, arrival, &hops, req, unicast, auth)
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

    /// The subnet of a client attached directly to the `iface`th configured interface (the first
    /// subnet configured on it), whatever the message.
    pub fn direct_subnet(&self, iface: usize) -> Option<usize> {
        let name = self.config.server.interfaces.get(iface)?;
        self.config
            .subnets
            .iter()
            .position(|s| s.interface.as_deref() == Some(name.as_str()))
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
        if let Some(s) = arrival.iface.and_then(|i| self.direct_subnet(i)) {
            return Some(s);
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
        auth: &mut dyn Authority,
    ) -> Result<(ClientMessage, bool), DropReason> {
        let t = req.msg_type;
        let opts = &req.options;
        let client_id = opts.client_id();
        let server_id = opts.server_id();
        let ours = server_id.is_some_and(|s| *s == self.server_id);
        //= https://www.rfc-editor.org/rfc/rfc8415#section-16
        // Paraphrased: Servers MUST discard any received Solicit, Confirm, Rebind, or Information-request
        // messages that were sent to a unicast address
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
            // Paraphrased: If the message includes a Server Identifier option, the contents of the option
            // MUST match the server's identifier.
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
                    // Paraphrased: When the server receives a Request message via unicast from a client to which the
                    // server has not sent a Server Unicast option, the server discards the Request message
                    // and responds with a Reply message containing a Status Code option with the value
                    // UseMulticast, a Server Identifier option containing the server's DUID, the Client
                    // Identifier option from the client message, and no other options.
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
        //= https://www.rfc-editor.org/rfc/rfc8156#section-5.2
        //# it MUST NOT respond to DHCP clients
        // (in the states where the failover endpoint says so; the endpoint decides by state,
        // role and Server Identifier, see Endpoint::may_serve).
        if !auth.may_serve(subnet_index, t, ours) {
            return Err(DropReason::NotResponsive);
        }
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
                    .map(|ia| self.assign(now, subnet, &duid, ia, rapid, opts, auth))
                    .collect();
                if rapid {
                    //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.1
                    // Paraphrased: If the client has included a Rapid Commit option and the server has been
                    // configured to respond with committed address assignments and other resources,
                    // responds to the Solicit with a Reply message.
                    reply.options.push(DhcpOption::RapidCommit);
                    durable = true;
                } else {
                    reply.msg_type = MessageType::ADVERTISE;
                    //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.1
                    // Paraphrased: The server MUST include a Preference option in the Advertise message if it
                    // has been configured to send a preference value other than 0.
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
                    .map(|ia| self.assign(now, subnet, &duid, ia, true, opts, auth))
                    .collect();
                durable = true;
                self.push_ias(&mut reply.options, answers);
                self.push_requested(&mut reply.options, opts, true);
            }
            MessageType::RENEW | MessageType::REBIND => {
                let rebind = t == MessageType::REBIND;
                let answers: Vec<IaAnswer> = ias
                    .iter()
                    .map(|ia| self.extend(now, subnet, &duid, ia, rebind, opts, auth))
                    .collect();
                durable = true;
                self.push_ias(&mut reply.options, answers);
                self.push_requested(&mut reply.options, opts, false);
            }
            MessageType::RELEASE | MessageType::DECLINE => {
                let decline = t == MessageType::DECLINE;
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.8
                // Paraphrased: If any of the IAs ... the server marks the addresses declined by the client
                // so that those addresses are not assigned to other clients
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
                        if self.leases.end(now, r, &key, end_status) {
                            any = true;
                            let client = key.clone();
                            let resource = *r;
                            auth.record(
                                now,
                                if decline {
                                    LeaseChange::Declined { client, resource }
                                } else {
                                    LeaseChange::Released { client, resource }
                                },
                            );
                        }
                    }
                    //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.7
                    // Paraphrased: For each IA in the Release message for which the server has no binding
                    // information, the server adds an IA option using the IAID from the Release
                    // message and includes a Status Code option with the value NoBinding in the IA
                    // option.
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
                // Paraphrased: the server ... MUST include a Status Code option with the value Success
                reply.options.push(status(
                    Status::SUCCESS,
                    if decline { "declined" } else { "released" },
                ));
            }
            MessageType::CONFIRM => {
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.3
                // Paraphrased: If the Confirm message received by the server does not contain any
                // addresses, the server MUST NOT send a Reply to the client.
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
                // Paraphrased: If all of the addresses in the Confirm message are within the prefixes appropriate
                // to the link, the server MUST send a Reply with a Status Code of Success;
                // otherwise ... NotOnLink.
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
    #[expect(
        clippy::too_many_arguments,
        reason = "one per input of the RFC 8415 IA decision"
    )]
    fn assign(
        &mut self,
        now: UnixTime,
        (index, subnet): (usize, &Subnet),
        duid: &[u8],
        ia: &IaRequest,
        commit: bool,
        opts: &Options,
        auth: &mut dyn Authority,
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
            .filter(|r| in_subnet_pools(subnet, r) && auth.may_use(now, r, &key))
            .collect();
        let chosen = if current.is_empty() {
            self.pick(now, index, subnet, kind, &key, &ia.hints, auth)
                .into_iter()
                .collect()
        } else {
            current
        };
        for r in &chosen {
            let (preferred, valid) = if commit {
                self.commit_lease(now, *r, &key, &grant, auth)
            } else {
                self.leases.offer(*r, &key, now);
                let valid = auth.valid_lifetime(now, r, grant.valid);
                (grant.preferred.min(valid), valid)
            };
            resources.push((*r, preferred, valid));
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
    #[expect(
        clippy::too_many_arguments,
        reason = "one per input of the RFC 8415 IA decision"
    )]
    fn extend(
        &mut self,
        now: UnixTime,
        subnet_at: Option<(usize, &Subnet)>,
        duid: &[u8],
        ia: &IaRequest,
        rebind: bool,
        opts: &Options,
        auth: &mut dyn Authority,
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
            if current.contains(r) && appropriate && auth.may_use(now, r, &key) {
                extended.push(*r);
            } else if appropriate
                && self.leases.is_available_to(r, &key, now)
                && auth.may_use(now, r, &key)
            {
                // The server lost (or never had) this binding and the resource is free: the
                // client keeps what it has.
                extended.push(*r);
            } else if !current.contains(r) && (!appropriate || subnet.is_some()) {
                //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.4
                // Paraphrased: If the server finds that any of the addresses in the IA are not appropriate for
                // the link to which the client is attached, the server returns the address to the
                // client with lifetimes of 0.
                resources.push((*r, Duration::ZERO, Duration::ZERO));
            }
        }
        // Leases the client holds but did not list stay with it.
        for r in &current {
            if !extended.contains(r)
                && subnet.is_none_or(|s| in_subnet_pools(s, r))
                && auth.may_use(now, r, &key)
            {
                extended.push(*r);
            }
        }
        if extended.is_empty()
            && let Some((i, s)) = subnet_at.filter(|_| ia.hints.is_empty() || current.is_empty())
            && let Some(r) = self.pick(now, i, s, kind, &key, &[], auth)
        {
            extended.push(r);
        }
        for r in &extended {
            let (preferred, valid) = self.commit_lease(now, *r, &key, &grant, auth);
            resources.push((*r, preferred, valid));
        }
        let status = if !extended.is_empty() {
            None
        } else if current.is_empty() && !rebind {
            //= https://www.rfc-editor.org/rfc/rfc8415#section-18.3.4
            // Paraphrased: If the server cannot find a client entry for the IA, the server returns the IA
            // containing no addresses with a Status Code option set to NoBinding in the Reply
            // message.
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

    /// A new resource for `key`: from the lease table's allocator, or from the failover
    /// relationship that governs the subnet (a hint first, if the relationship allows it).
    #[expect(clippy::too_many_arguments, reason = "one call site per exchange kind")]
    fn pick(
        &mut self,
        now: UnixTime,
        index: usize,
        subnet: &Subnet,
        kind: ResourceKind,
        key: &ClientKey,
        hints: &[Resource],
        auth: &mut dyn Authority,
    ) -> Option<Resource> {
        if !auth.governs(index) {
            return self.leases.allocate(now, index, subnet, kind, key, hints);
        }
        if let Some(h) = hints.iter().find(|h| {
            h.kind() == kind
                && in_subnet_pools(subnet, h)
                && self.leases.is_available_to(h, key, now)
                && auth.may_use(now, h, key)
        }) {
            return Some(*h);
        }
        auth.allocate(now, index, kind, key)
            .filter(|r| self.leases.is_available_to(r, key, now))
    }

    /// Binds `r` to `key` with the lifetimes the authority allows and reports the lease to it.
    /// Returns the (preferred, valid) lifetimes to put in the answer.
    fn commit_lease(
        &mut self,
        now: UnixTime,
        r: Resource,
        key: &ClientKey,
        grant: &Grant,
        auth: &mut dyn Authority,
    ) -> (Duration, Duration) {
        let valid = auth.valid_lifetime(now, &r, grant.valid);
        let mut g = grant.clone();
        g.valid = valid;
        g.preferred = grant.preferred.min(valid);
        if valid < grant.valid {
            g.t1 = g.t1.min(valid / 2);
            g.t2 = g.t2.min(valid * 4 / 5);
        }
        self.leases.bind(now, r, key, &g);
        let mut lg = LeaseGrant::new(key.clone(), r, valid);
        lg.preferred = g.preferred;
        lg.t1 = g.t1;
        lg.t2 = g.t2;
        lg.desired_valid = grant.valid;
        lg.fqdn = g.fqdn.clone();
        auth.record(now, LeaseChange::Granted(lg));
        (g.preferred, valid)
    }

    fn push_ias(&self, out: &mut Options, answers: Vec<IaAnswer>) {
        let l = &self.config.lifetimes;
        for a in answers {
            let granted = a.resources.iter().any(|(_, _, v)| !v.is_zero());
            // T1/T2 never beyond what the shortest granted lifetime allows (the failover MCLT
            // bound can make it shorter than the configured T2).
            let shortest = a
                .resources
                .iter()
                .map(|(_, _, v)| *v)
                .filter(|v| !v.is_zero())
                .min()
                .unwrap_or(l.valid);
            let (t1, t2) = if granted && shortest < l.valid {
                (
                    secs(l.t1.min(shortest / 2)),
                    secs(l.t2.min(shortest * 4 / 5)),
                )
            } else if granted {
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
                DhcpOption::Oro(codes) => Some(codes.to_vec()),
                _ => None,
            })
            .unwrap_or_default();
        if oro.contains(&OptionCode::DNS_SERVERS) && !o.dns_servers.is_empty() {
            out.push(DhcpOption::DnsServers(o.dns_servers.as_slice().into()));
        }
        if oro.contains(&OptionCode::DOMAIN_LIST) && !o.domain_search.is_empty() {
            let names: Vec<DomainName> = o
                .domain_search
                .iter()
                .filter_map(|d| DomainName::from_dotted(d, true).ok())
                .collect();
            out.push(DhcpOption::DomainList(names.into()));
        }
        //= https://www.rfc-editor.org/rfc/rfc8415#section-21.24
        // Paraphrased: A DHCP server sends the SOL_MAX_RT option to a client to override the default value of
        // SOL_MAX_RT.
        if sol_max_rt
            && oro.contains(&OptionCode::SOL_MAX_RT)
            && let Some(v) = o.sol_max_rt
        {
            out.push(DhcpOption::SolMaxRt(secs(v)));
        }
        if let Some(DhcpOption::ClientFqdn(f)) = req.find(OptionCode::CLIENT_FQDN)
            && o.fqdn == FqdnMode::NoUpdate
        {
            //= https://www.rfc-editor.org/rfc/rfc4704#section-5.2
            // Paraphrased: If the server does not intend to perform any DNS updates ... it MUST set the
            // "N" bit to 1 and the "S" bit to 0; it sets "O" if the client had set "S".
            let client_s = f.flags & 0x01 != 0;
            let flags = 0x04 | if client_s { 0x02 } else { 0 };
            out.push(DhcpOption::ClientFqdn(ClientFqdn {
                flags,
                name: f.name.clone(),
            }));
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
        // Paraphrased: A DHCP server sends the INF_MAX_RT option to a client to override the default value of
        // INF_MAX_RT.
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
        // Paraphrased: If the server will not assign any addresses to an IA_NA in a subsequent Request
        // from the client, the server MUST include the IA_NA with a Status Code option set
        // to NoAddrsAvail
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
// Paraphrased: The server MUST ... copy the Interface-Id option (if present) from the Relay-forward
// message into the Relay-reply
fn wrap_relay(reply: ClientMessage, hops: &[RelayHop]) -> Message {
    let mut m = Message::Client(reply);
    for hop in hops.iter().rev() {
        let mut options = Options::new();
        if let Some(id) = &hop.interface_id {
            options.push(DhcpOption::InterfaceId(id.as_slice().into()));
        }
        options.push(DhcpOption::RelayMsg(m));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    const CONFIG: &str = r#"
[server]
interfaces = ["eth0"]
preference = 200
[store]
path = "/unused"
[lifetimes]
t1_secs = 100
t2_secs = 160
preferred_secs = 200
valid_secs = 300
[options]
dns_servers = ["2001:db8::53"]
domain_search = ["example.test"]
sol_max_rt_secs = 600
inf_max_rt_secs = 900
[[subnet]]
name = "direct"
interface = "eth0"
link = "2001:db8:1::/64"
addresses = ["2001:db8:1::10-2001:db8:1::11"]
prefixes = [{ prefix = "2001:db8:100::/47", delegated_len = 48 }]
[[subnet]]
name = "relayed"
link = "2001:db8:2::/64"
addresses = ["2001:db8:2::/120"]
"#;

    const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

    fn engine() -> Engine {
        let cfg = Arc::new(config::parse(CONFIG).expect("test config"));
        Engine::new(cfg, Duid::uuid([9; 16]), Vec::new(), 1)
    }

    fn direct() -> Arrival {
        Arrival {
            src: SocketAddrV6::new("fe80::1".parse().expect("a"), 546, 0, 2),
            dst: crate::net::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            iface: Some(0),
        }
    }

    fn duid(n: u8) -> Duid {
        Duid::ll(1, &[2, 0, 0, 0, 0, n]).expect("duid")
    }

    fn msg(t: MessageType, client: u8, extra: Vec<DhcpOption>) -> ClientMessage {
        let mut m = ClientMessage::new(t, 0x0a0b0c);
        m.options.push(DhcpOption::ClientId(duid(client)));
        for o in extra {
            m.options.push(o);
        }
        m
    }

    fn ia_na(iaid: u32, addrs: &[&str]) -> DhcpOption {
        let mut options = Options::new();
        for a in addrs {
            options.push(DhcpOption::IaAddr(IaAddr {
                address: a.parse().expect("a"),
                preferred_lifetime: 0,
                valid_lifetime: 0,
                options: Options::new(),
            }));
        }
        DhcpOption::IaNa(IaNa {
            iaid,
            t1: 0,
            t2: 0,
            options,
        })
    }

    fn ia_pd(iaid: u32) -> DhcpOption {
        DhcpOption::IaPd(IaPd {
            iaid,
            t1: 0,
            t2: 0,
            options: Options::new(),
        })
    }

    fn answer(e: &mut Engine, a: &Arrival, m: &Message) -> (Message, Answer) {
        let h = e.handle(NOW, a, &m.to_vec());
        let ans = h.result.expect("an answer");
        (Message::parse(&ans.bytes).expect("answer parses"), ans)
    }

    fn client_part(m: &Message) -> &ClientMessage {
        match m.innermost() {
            Message::Client(c) => c,
            other => panic!("not a client message: {other:?}"),
        }
    }

    fn addrs_of(m: &ClientMessage) -> Vec<(Ipv6Addr, u32)> {
        m.options
            .ia_na()
            .flat_map(|ia| ia.options.ia_addrs().map(|a| (a.address, a.valid_lifetime)))
            .collect()
    }

    fn ia_status(m: &ClientMessage) -> Vec<Status> {
        m.options
            .ia_na()
            .filter_map(|ia| ia.options.status_code().map(|s| s.status))
            .collect()
    }

    #[test]
    fn solicit_request_renew_release() {
        let mut e = engine();
        let oro = DhcpOption::Oro(
            vec![
                OptionCode::DNS_SERVERS,
                OptionCode::DOMAIN_LIST,
                OptionCode::SOL_MAX_RT,
            ]
            .into(),
        );
        let sol = msg(MessageType::SOLICIT, 1, vec![ia_na(1, &[]), ia_pd(2), oro]);
        let (adv, ans) = answer(&mut e, &direct(), &sol.into());
        assert!(!ans.durable, "an Advertise commits nothing");
        assert_eq!(
            ans.from, None,
            "multicast request: answer from the link-local address"
        );
        assert_eq!(ans.to.port(), 546);
        let adv = client_part(&adv).clone();
        assert_eq!(adv.msg_type, MessageType::ADVERTISE);
        assert_eq!(adv.transaction_id, 0x0a0b0c);
        assert!(
            adv.options
                .iter()
                .any(|o| *o == DhcpOption::Preference(200))
        );
        assert!(
            adv.options
                .iter()
                .any(|o| matches!(o, DhcpOption::DnsServers(_)))
        );
        assert!(
            adv.options
                .iter()
                .any(|o| matches!(o, DhcpOption::DomainList(_)))
        );
        assert!(adv.options.iter().any(|o| *o == DhcpOption::SolMaxRt(600)));
        let offered = addrs_of(&adv);
        assert_eq!(offered.len(), 1);
        assert_eq!(adv.options.ia_pd().count(), 1);
        assert!(e.take_store_ops().is_empty());

        // Request with the Advertise's server id and the offered address as hint.
        let server = DhcpOption::ServerId(e.server_id().clone());
        let hint = offered[0].0.to_string();
        let req = msg(
            MessageType::REQUEST,
            1,
            vec![server.clone(), ia_na(1, &[&hint]), ia_pd(2)],
        );
        let (reply, ans) = answer(&mut e, &direct(), &req.into());
        assert!(ans.durable);
        let reply = client_part(&reply).clone();
        assert_eq!(reply.msg_type, MessageType::REPLY);
        assert_eq!(addrs_of(&reply), vec![(offered[0].0, 300)]);
        let ia = reply.options.ia_na().next().expect("ia");
        assert_eq!((ia.t1, ia.t2), (100, 160));
        let ops = e.take_store_ops();
        assert_eq!(ops.len(), 2, "an address and a prefix become durable");
        assert_eq!(e.leases().active(), 2);

        // A Request without our server id is discarded.
        let stray = msg(MessageType::REQUEST, 1, vec![ia_na(1, &[])]);
        assert_eq!(
            e.handle(NOW, &direct(), &Message::from(stray).to_vec())
                .result,
            Err(DropReason::Discarded)
        );

        // Renew keeps the address.
        let renew = msg(
            MessageType::RENEW,
            1,
            vec![server.clone(), ia_na(1, &[&hint])],
        );
        let (reply, _) = answer(&mut e, &direct(), &renew.into());
        assert_eq!(addrs_of(client_part(&reply)), vec![(offered[0].0, 300)]);

        // Release frees it; an unknown IA gets NoBinding.
        let rel = msg(
            MessageType::RELEASE,
            1,
            vec![server, ia_na(1, &[&hint]), ia_na(9, &["2001:db8:1::11"])],
        );
        let (reply, ans) = answer(&mut e, &direct(), &rel.into());
        let reply = client_part(&reply).clone();
        assert_eq!(
            reply.options.status_code().map(|s| s.status),
            Some(Status::SUCCESS)
        );
        assert_eq!(ia_status(&reply), vec![Status::NO_BINDING]);
        assert!(ans.statuses.contains(&Status::NO_BINDING));
        assert_eq!(e.leases().active(), 1, "the prefix stays");
    }

    #[test]
    fn rapid_commit_pool_exhaustion_and_decline() {
        let mut e = engine();
        let mut got = Vec::new();
        for c in 1..=3u8 {
            let sol = msg(
                MessageType::SOLICIT,
                c,
                vec![DhcpOption::RapidCommit, ia_na(1, &[])],
            );
            let (reply, ans) = answer(&mut e, &direct(), &sol.into());
            let reply = client_part(&reply).clone();
            assert_eq!(reply.msg_type, MessageType::REPLY);
            assert!(reply.options.iter().any(|o| *o == DhcpOption::RapidCommit));
            assert!(ans.durable);
            got.push((addrs_of(&reply), ia_status(&reply)));
        }
        // Two addresses in the pool: the third client gets NoAddrsAvail.
        assert_eq!(got[0].0.len(), 1);
        assert_eq!(got[1].0.len(), 1);
        assert_ne!(got[0].0, got[1].0);
        assert!(got[2].0.is_empty());
        assert_eq!(got[2].1, vec![Status::NO_ADDRS_AVAIL]);

        let addr = got[0].0[0].0.to_string();
        let server = DhcpOption::ServerId(e.server_id().clone());
        let dec = msg(MessageType::DECLINE, 1, vec![server, ia_na(1, &[&addr])]);
        let (reply, _) = answer(&mut e, &direct(), &dec.into());
        assert_eq!(
            client_part(&reply).options.status_code().map(|s| s.status),
            Some(Status::SUCCESS)
        );
        let r = Resource::Address(addr.parse().expect("a"));
        assert_eq!(
            e.leases().get(&r).map(|b| b.status),
            Some(BindingStatus::Abandoned)
        );
        // The declined address is never handed out again.
        let sol = msg(
            MessageType::SOLICIT,
            7,
            vec![DhcpOption::RapidCommit, ia_na(1, &[&addr])],
        );
        let (reply, _) = answer(&mut e, &direct(), &sol.into());
        assert!(addrs_of(client_part(&reply)).is_empty());
    }

    #[test]
    fn confirm_information_request_and_unicast() {
        let mut e = engine();
        let conf = msg(MessageType::CONFIRM, 1, vec![ia_na(1, &["2001:db8:1::99"])]);
        let (reply, _) = answer(&mut e, &direct(), &conf.into());
        assert_eq!(
            client_part(&reply).options.status_code().map(|s| s.status),
            Some(Status::SUCCESS)
        );
        let conf = msg(MessageType::CONFIRM, 1, vec![ia_na(1, &["2001:db8:5::1"])]);
        let (reply, _) = answer(&mut e, &direct(), &conf.into());
        assert_eq!(
            client_part(&reply).options.status_code().map(|s| s.status),
            Some(Status::NOT_ON_LINK)
        );
        let empty = msg(MessageType::CONFIRM, 1, vec![ia_na(1, &[])]);
        assert_eq!(
            e.handle(NOW, &direct(), &Message::from(empty).to_vec())
                .result,
            Err(DropReason::Discarded)
        );

        let mut inf = ClientMessage::new(MessageType::INFORMATION_REQUEST, 5);
        inf.options.push(DhcpOption::Oro(
            vec![OptionCode::DNS_SERVERS, OptionCode::INF_MAX_RT].into(),
        ));
        let (reply, ans) = answer(&mut e, &direct(), &inf.into());
        let reply = client_part(&reply).clone();
        assert!(!ans.durable);
        assert!(
            reply
                .options
                .iter()
                .any(|o| *o == DhcpOption::InfMaxRt(900))
        );
        assert!(reply.options.server_id().is_some());

        // A Request sent to our unicast address: UseMulticast, nothing else.
        let mut uni = direct();
        uni.dst = "2001:db8:1::1".parse().expect("a");
        let req = msg(
            MessageType::REQUEST,
            1,
            vec![DhcpOption::ServerId(e.server_id().clone()), ia_na(1, &[])],
        );
        let (reply, ans) = answer(&mut e, &uni, &req.into());
        let reply = client_part(&reply).clone();
        assert_eq!(
            reply.options.status_code().map(|s| s.status),
            Some(Status::USE_MULTICAST)
        );
        assert_eq!(reply.options.ia_na().count(), 0);
        assert_eq!(ans.from, Some(uni.dst));
        // A unicast Solicit is dropped.
        let sol = msg(MessageType::SOLICIT, 1, vec![ia_na(1, &[])]);
        assert_eq!(
            e.handle(NOW, &uni, &Message::from(sol).to_vec()).result,
            Err(DropReason::Discarded)
        );
    }

    #[test]
    fn nested_relays_select_the_link_and_echo_interface_ids() {
        let mut e = engine();
        let sol = msg(
            MessageType::SOLICIT,
            1,
            vec![DhcpOption::RapidCommit, ia_na(1, &[])],
        );
        let inner = RelayMessage {
            msg_type: MessageType::RELAY_FORW,
            hop_count: 0,
            link_address: "2001:db8:2::1".parse().expect("a"),
            peer_address: "fe80::7".parse().expect("a"),
            options: Options::from(vec![
                DhcpOption::InterfaceId(b"port7".to_vec().into()),
                DhcpOption::RelayMsg(sol.into()),
            ]),
        };
        let outer = RelayMessage {
            msg_type: MessageType::RELAY_FORW,
            hop_count: 1,
            link_address: Ipv6Addr::UNSPECIFIED,
            peer_address: "2001:db8:9::1".parse().expect("a"),
            options: Options::from(vec![DhcpOption::RelayMsg(inner.into())]),
        };
        let relay = Arrival {
            src: SocketAddrV6::new("2001:db8:9::2".parse().expect("a"), 547, 0, 0),
            dst: "2001:db8::1".parse().expect("a"),
            iface: None,
        };
        let (reply, ans) = answer(&mut e, &relay, &outer.into());
        assert_eq!(ans.to, relay.src);
        assert_eq!(ans.from, Some(relay.dst));
        let Message::Relay(o) = &reply else {
            panic!("outer Relay-repl expected")
        };
        assert_eq!(o.msg_type, MessageType::RELAY_REPL);
        assert_eq!(o.hop_count, 1);
        let Some(Message::Relay(i)) = o.options.relay_msg() else {
            panic!("inner Relay-repl expected")
        };
        assert!(
            i.options
                .iter()
                .any(|x| *x == DhcpOption::InterfaceId(b"port7".to_vec().into()))
        );
        let addrs = addrs_of(client_part(&reply));
        assert!(
            addrs[0].0.to_string().starts_with("2001:db8:2::"),
            "relayed link selects the subnet: {addrs:?}"
        );
    }

    #[test]
    fn malformed_and_server_messages_are_dropped() {
        let mut e = engine();
        for bad in [
            &[][..],
            &[1][..],
            &[1, 0, 0, 0, 0, 1, 0, 9][..],
            &[12, 0][..],
        ] {
            assert_eq!(
                e.handle(NOW, &direct(), bad).result,
                Err(DropReason::Malformed),
                "{bad:?}"
            );
        }
        let adv = msg(MessageType::ADVERTISE, 1, vec![]);
        assert_eq!(
            e.handle(NOW, &direct(), &Message::from(adv).to_vec())
                .result,
            Err(DropReason::NotForServer)
        );
        let no_client = ClientMessage::new(MessageType::SOLICIT, 1);
        assert_eq!(
            e.handle(NOW, &direct(), &Message::from(no_client).to_vec())
                .result,
            Err(DropReason::Discarded)
        );
    }

    #[test]
    fn restart_restores_bindings() {
        let mut e = engine();
        let sol = msg(
            MessageType::SOLICIT,
            1,
            vec![DhcpOption::RapidCommit, ia_na(1, &[])],
        );
        let (reply, _) = answer(&mut e, &direct(), &sol.into());
        let addr = addrs_of(client_part(&reply))[0].0;
        let stored: Vec<Binding> = e
            .take_store_ops()
            .into_iter()
            .filter_map(|op| op.value.and_then(|v| crate::record::decode(&v).ok()))
            .collect();
        assert_eq!(stored.len(), 1);
        let cfg = Arc::new(config::parse(CONFIG).expect("test config"));
        let mut again = Engine::new(cfg, e.server_id().clone(), stored, 1);
        assert_eq!(again.leases().active(), 1);
        // The client's Renew to the restarted server keeps its address.
        let renew = msg(
            MessageType::RENEW,
            1,
            vec![
                DhcpOption::ServerId(again.server_id().clone()),
                ia_na(1, &[&addr.to_string()]),
            ],
        );
        let (reply, _) = answer(&mut again, &direct(), &renew.into());
        assert_eq!(addrs_of(client_part(&reply)), vec![(addr, 300)]);
        // After the valid lifetime the lease is reclaimed.
        assert_eq!(
            again.reclaim_expired(UnixTime::from_secs(NOW.as_secs() + 301)),
            1
        );
        assert_eq!(again.leases().active(), 0);
    }

    /// An authority that governs every pool and remembers what it is told.
    #[derive(Default)]
    struct Recorder {
        changes: Vec<LeaseChange>,
    }

    impl Authority for Recorder {
        fn may_serve(&self, _: Option<usize>, _: MessageType, _: bool) -> bool {
            true
        }
        fn governs(&self, _: usize) -> bool {
            false
        }
        fn may_use(&self, _: UnixTime, _: &Resource, _: &ClientKey) -> bool {
            true
        }
        fn allocate(
            &mut self,
            _: UnixTime,
            _: usize,
            _: ResourceKind,
            _: &ClientKey,
        ) -> Option<Resource> {
            None
        }
        fn valid_lifetime(&self, _: UnixTime, _: &Resource, desired: Duration) -> Duration {
            desired
        }
        fn record(&mut self, _: UnixTime, change: LeaseChange) {
            self.changes.push(change);
        }
        fn governs_resource(&self, _: &Resource) -> bool {
            true
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.2
    // Paraphrased: a lease whose lifetime runs out moves from ACTIVE to EXPIRED (not straight to
    // FREE), and the failover endpoint is told so that the partner is updated.
    #[test]
    fn expiry_of_a_governed_lease_goes_through_the_endpoint_as_expired() {
        let mut e = engine();
        let sol = msg(
            MessageType::SOLICIT,
            1,
            vec![DhcpOption::RapidCommit, ia_na(1, &[])],
        );
        let mut auth = Recorder::default();
        let arrival = direct();
        let bytes = Message::from(sol).to_vec();
        let handled = e.handle_with(NOW, &arrival, &bytes, &mut auth);
        assert!(handled.result.is_ok());
        let LeaseChange::Granted(g) = auth.changes.remove(0) else {
            panic!("the grant is recorded first");
        };
        let _ = e.take_store_ops();
        let later = UnixTime::from_secs(NOW.as_secs() + 301);
        assert_eq!(e.reclaim_expired_with(later, &mut auth), 1);
        assert_eq!(
            auth.changes,
            vec![LeaseChange::Expired {
                resource: g.resource
            }]
        );
        let b = e.leases().get(&g.resource).expect("binding kept");
        assert_eq!(b.status, BindingStatus::Expired);
        // The EXPIRED record is written; a second sweep finds nothing more.
        assert_eq!(e.take_store_ops().len(), 1);
        assert_eq!(e.reclaim_expired_with(later, &mut auth), 0);
        // A standalone server frees the lease at once.
        let mut alone = engine();
        let sol = msg(
            MessageType::SOLICIT,
            2,
            vec![DhcpOption::RapidCommit, ia_na(1, &[])],
        );
        let _ = answer(&mut alone, &direct(), &sol.into());
        assert_eq!(alone.reclaim_expired(later), 1);
        assert!(
            alone
                .leases()
                .iter()
                .all(|b| b.status == BindingStatus::Free)
        );
    }
}
