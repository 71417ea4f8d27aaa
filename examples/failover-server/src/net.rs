//! The UDP layer: one socket on the DHCPv6 server port that learns, for every datagram, the
//! interface it arrived on and the address it was sent to (IPV6_RECVPKTINFO), and sends every
//! answer from a chosen source address out of a chosen interface (IPV6_PKTINFO).
//!
//! The socket joins ff02::1:2 (All_DHCP_Relay_Agents_and_Servers) on each configured interface.
//! Answers to directly attached clients leave from the interface's link-local address to the
//! client's port; answers to relays (Relay-repl) go back to the relay's address on the server port.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg, sendmsg, setsockopt,
    sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// A configured interface, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its index.
    pub index: u32,
    /// Its link-local address, the source of every answer to a directly attached client.
    pub link_local: Option<Ipv6Addr>,
}

/// Resolves interface names to indices and link-local addresses.
pub fn discover(names: &[String]) -> io::Result<Vec<Interface>> {
    let all: Vec<_> = nix::ifaddrs::getifaddrs()
        .map_err(io::Error::from)?
        .collect();
    let mut out = Vec::new();
    for name in names {
        let index = nix::net::if_::if_nametoindex(name.as_str()).map_err(|e| {
            io::Error::new(io::ErrorKind::NotFound, format!("interface {name}: {e}"))
        })?;
        let link_local = all
            .iter()
            .filter(|a| &a.interface_name == name)
            .filter_map(|a| {
                a.address
                    .as_ref()
                    .and_then(|s| s.as_sockaddr_in6())
                    .map(|s| s.ip())
            })
            .find(|ip| ip.segments()[0] & 0xffc0 == 0xfe80);
        out.push(Interface {
            name: name.clone(),
            index,
            link_local,
        });
    }
    Ok(out)
}

/// Where a datagram came from and where it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Payload length.
    pub len: usize,
    /// Sender address and port (scope id set for link-local senders).
    pub src: SocketAddrV6,
    /// Destination address of the datagram (ff02::1:2 for multicast, else a unicast address of ours).
    pub dst: Ipv6Addr,
    /// Index of the arrival interface.
    pub ifindex: u32,
    /// The datagram did not fit the buffer.
    pub truncated: bool,
    /// When the kernel received it (wall clock), if receive timestamps are on
    /// ([`DhcpSocket::enable_receive_timestamps`]).
    pub kernel_time: Option<SystemTime>,
}

/// The server's UDP socket.
#[derive(Debug)]
pub struct DhcpSocket {
    sock: UdpSocket,
}

impl DhcpSocket {
    /// Binds `[bind]:port`, enables packet info and joins ff02::1:2 on every given interface.
    pub fn bind(bind: Ipv6Addr, port: u16, interfaces: &[Interface]) -> io::Result<Self> {
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_only_v6(true)?;
        s.set_nonblocking(true)?;
        // Large buffers absorb bursts while the store commits.
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
        s.bind(&SocketAddrV6::new(bind, port, 0, 0).into())?;
        setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        for iface in interfaces {
            s.join_multicast_v6(&ALL_DHCP_RELAY_AGENTS_AND_SERVERS, iface.index)
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("joining ff02::1:2 on {}: {e}", iface.name),
                    )
                })?;
        }
        let std_sock: std::net::UdpSocket = s.into();
        Ok(Self {
            sock: UdpSocket::from_std(std_sock)?,
        })
    }

    /// Replaces the socket's filter with `program` (see [`crate::sockfilter`]); an empty
    /// program removes it.
    pub fn set_filter(&self, program: &[crate::sockfilter::Insn]) -> io::Result<()> {
        let sock = socket2::SockRef::from(&self.sock);
        if program.is_empty() {
            return sock.detach_filter();
        }
        let code: Vec<nix::libc::sock_filter> = program
            .iter()
            .map(|i| nix::libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        sock.attach_filter(&code)
    }

    /// The bound local port.
    pub fn local_port(&self) -> io::Result<u16> {
        Ok(self.sock.local_addr()?.port())
    }

    /// Asks the kernel to stamp every datagram with its time of receipt (`SO_TIMESTAMPNS`), read
    /// back as [`Received::kernel_time`]: how long a datagram waited in the socket before the
    /// event loop read it (the loop's profile).
    pub fn enable_receive_timestamps(&self) -> io::Result<()> {
        setsockopt(&self.sock, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
    }

    /// Waits until a datagram may be readable.
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    /// Receives one datagram without waiting (`WouldBlock` when none is queued).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        self.sock.try_io(Interest::READABLE, || {
            recv_with_info(self.sock.as_raw_fd(), buf)
        })
    }

    /// Sends `payload` to `dst`, from `src` (if given) out of interface `ifindex` (if non-zero).
    /// Waits for socket space if the send buffer is full.
    pub async fn send(
        &self,
        payload: &[u8],
        dst: SocketAddrV6,
        src: Option<Ipv6Addr>,
        ifindex: u32,
    ) -> io::Result<()> {
        loop {
            match self.sock.try_io(Interest::WRITABLE, || {
                send_with_info(self.sock.as_raw_fd(), payload, dst, src, ifindex)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.sock.writable().await?,
                other => return other,
            }
        }
    }
}

fn recv_with_info(fd: i32, buf: &mut [u8]) -> io::Result<Received> {
    let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo, nix::libc::timespec);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn6>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_TRUNC)
        .map_err(io::Error::from)?;
    let Some(src) = msg.address else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "datagram without a source address",
        ));
    };
    let src = SocketAddrV6::from(src);
    let (mut dst, mut ifindex, mut kernel_time) = (Ipv6Addr::UNSPECIFIED, 0, None);
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(pi) => {
                dst = Ipv6Addr::from(pi.ipi6_addr.s6_addr);
                ifindex = pi.ipi6_ifindex;
            }
            ControlMessageOwned::ScmTimestampns(ts) => {
                let (secs, nanos) = (u64::try_from(ts.tv_sec()), u32::try_from(ts.tv_nsec()));
                if let (Ok(secs), Ok(nanos)) = (secs, nanos) {
                    kernel_time = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
                }
            }
            _ => {}
        }
    }
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
    let len = msg.bytes.min(iov[0].len());
    Ok(Received {
        len,
        src,
        dst,
        ifindex,
        truncated,
        kernel_time,
    })
}

fn send_with_info(
    fd: i32,
    payload: &[u8],
    dst: SocketAddrV6,
    src: Option<Ipv6Addr>,
    ifindex: u32,
) -> io::Result<()> {
    let iov = [IoSlice::new(payload)];
    let info = nix::libc::in6_pktinfo {
        ipi6_addr: nix::libc::in6_addr {
            s6_addr: src.unwrap_or(Ipv6Addr::UNSPECIFIED).octets(),
        },
        ipi6_ifindex: ifindex,
    };
    let cmsgs = [ControlMessage::Ipv6PacketInfo(&info)];
    let with_info: &[ControlMessage<'_>] = if src.is_some() || ifindex != 0 {
        &cmsgs
    } else {
        &[]
    };
    let addr = SockaddrIn6::from(dst);
    let sent =
        sendmsg(fd, &iov, with_info, MsgFlags::empty(), Some(&addr)).map_err(io::Error::from)?;
    if sent != payload.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", payload.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(sock: &DhcpSocket, buf: &mut [u8]) -> Received {
        loop {
            sock.readable().await.expect("readable");
            match sock.try_recv(buf) {
                Ok(r) => break r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// The kernel runs the program as `sockfilter`'s own tests assume: it drops what is
    /// addressed to another server, and Solicits on a refusing interface, and keeps the rest in
    /// order.
    #[tokio::test]
    async fn kernel_filter_drops_messages_for_another_server() {
        let lo = discover(&["lo".to_owned()]).expect("lo exists");
        let ours = [0u8, 3, 0, 1, 2, 0, 0, 0, 0, 1];
        let theirs = [0u8, 3, 0, 1, 2, 0, 0, 0, 0, 2];
        let server = DhcpSocket::bind(Ipv6Addr::UNSPECIFIED, 0, &[]).expect("bind");
        let to = SocketAddrV6::new(
            Ipv6Addr::LOCALHOST,
            server.local_port().expect("port"),
            0,
            0,
        );
        let client = DhcpSocket::bind(Ipv6Addr::LOCALHOST, 0, &[]).expect("bind client");
        let request = |sid: &[u8], xid: u8| {
            let mut m = vec![3, 0, 0, xid, 0, 2, 0, 10];
            m.extend_from_slice(sid);
            m
        };
        let solicit = |xid: u8| vec![1, 0, 0, xid, 0, 8, 0, 2, 0, 0];
        let mut buf = [0u8; 256];

        let p = crate::sockfilter::program(&ours, &[]).expect("program");
        server.set_filter(&p).expect("attach");
        for m in [request(&theirs, 1), request(&ours, 2), solicit(3)] {
            client.send(&m, to, None, 0).await.expect("send");
        }
        for xid in [2, 3] {
            let r = next(&server, &mut buf).await;
            assert_eq!(buf.get(3), Some(&xid), "{:?}", &buf[..r.len]);
        }

        // Solicits refused on lo; a relay-forward still passes.
        let p = crate::sockfilter::program(&ours, &[lo[0].index]).expect("program");
        server.set_filter(&p).expect("attach");
        let mut relay = vec![12u8; 34];
        relay[3] = 4;
        for m in [solicit(5), relay, request(&ours, 6)] {
            client.send(&m, to, None, 0).await.expect("send");
        }
        for first in [12, 3] {
            let r = next(&server, &mut buf).await;
            assert_eq!(buf.first(), Some(&first), "{:?}", &buf[..r.len]);
        }

        // Inside a Relay-forward (after an Interface-ID option): the one for the partner is
        // dropped, ours passes.
        let relayed = |inner: &[u8]| {
            let mut m = vec![12u8; 34];
            m.extend_from_slice(&[0, 18, 0, 1, 7]);
            m.extend_from_slice(&[0, 9]);
            m.extend_from_slice(&u16::try_from(inner.len()).expect("short").to_be_bytes());
            m.extend_from_slice(inner);
            m
        };
        for m in [relayed(&request(&theirs, 8)), relayed(&request(&ours, 9))] {
            client.send(&m, to, None, 0).await.expect("send");
        }
        let r = next(&server, &mut buf).await;
        assert_eq!(buf.get(34 + 5 + 4 + 3), Some(&9), "{:?}", &buf[..r.len]);

        // Removed: everything passes.
        server.set_filter(&[]).expect("detach");
        client
            .send(&request(&theirs, 7), to, None, 0)
            .await
            .expect("send");
        let r = next(&server, &mut buf).await;
        assert_eq!(buf.get(3), Some(&7), "{:?}", &buf[..r.len]);
    }

    #[tokio::test]
    async fn loopback_round_trip_reports_destination_and_interface() {
        let lo = discover(&["lo".to_owned()]).expect("lo exists");
        let server = DhcpSocket::bind(Ipv6Addr::UNSPECIFIED, 0, &[]).expect("bind");
        let port = server.local_port().expect("port");
        let client = DhcpSocket::bind(Ipv6Addr::LOCALHOST, 0, &[]).expect("bind client");
        let cport = client.local_port().expect("port");
        client
            .send(
                b"hello",
                SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0),
                None,
                0,
            )
            .await
            .expect("send");
        let mut buf = [0u8; 64];
        let got = loop {
            server.readable().await.expect("readable");
            match server.try_recv(&mut buf) {
                Ok(r) => break r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("recv: {e}"),
            }
        };
        assert_eq!(&buf[..got.len], b"hello");
        assert_eq!(got.dst, Ipv6Addr::LOCALHOST);
        assert_eq!(got.ifindex, lo[0].index);
        assert_eq!(got.src.port(), cport);
        assert!(!got.truncated);
        assert_eq!(got.kernel_time, None, "no timestamps unless asked for");
        // Answer from the destination address, out of the arrival interface; the client's
        // socket now stamps what it receives.
        client.enable_receive_timestamps().expect("SO_TIMESTAMPNS");
        let sent_at = SystemTime::now();
        server
            .send(b"world", got.src, Some(got.dst), got.ifindex)
            .await
            .expect("reply");
        let r = loop {
            client.readable().await.expect("readable");
            match client.try_recv(&mut buf) {
                Ok(r) => break r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("recv: {e}"),
            }
        };
        assert_eq!(&buf[..r.len], b"world");
        assert_eq!(r.src.port(), port);
        let stamped = r.kernel_time.expect("a receive timestamp");
        assert!(
            stamped + Duration::from_millis(1) >= sent_at && stamped <= SystemTime::now(),
            "timestamp {stamped:?} outside the exchange (sent at {sent_at:?})"
        );
    }
}
