//! A toy embedding of the failover endpoint: two "servers" in one process, each a thread with
//! one endpoint, one TCP connection over loopback, an in-memory "disk" and the real clock.
//! A few simulated clients get leases from the primary; then the link is cut (both go
//! COMMUNICATIONS-INTERRUPTED and keep serving their own halves), and healed (both return to
//! NORMAL and exchange what happened meanwhile).
//!
//! ```text
//! cargo run -p dhcpv6-failover --example toy_server
//! ```
//!
//! It shows the event loop every embedding needs: feed inputs, drain every output queue
//! (transmits to the socket, storage writes to the disk and their acknowledgements back,
//! events), then sleep until `poll_timeout` or the next input.
#![allow(
    clippy::disallowed_methods,
    reason = "an example program owns the clock; the library never reads it"
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant as StdInstant, SystemTime, UNIX_EPOCH};

use dhcpv6_failover::{
    AddressRange, ClientKey, ClientRequestKind, Config, Duration, Endpoint, Event, Instant,
    LeaseChange, LeaseGrant, Now, ResourceKind, Role, State, StorageRecord, UnixTime,
};

/// The clock: a monotonic origin plus the wall clock.
struct Clock(StdInstant);

impl Clock {
    fn now(&self) -> Now {
        let ms = u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX);
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Now::new(Instant::from_millis(ms), UnixTime::from_secs(wall))
    }
}

fn config(role: Role) -> Config {
    let mut c = Config::new(role);
    c.relationship_name = "toy".into();
    c.mclt = Duration::from_secs(60);
    c.keepalive = Duration::from_secs(4);
    c.startup_wait = Duration::from_secs(2);
    c.connect_retry = Duration::from_millis(200);
    c.connect_retry_max = Duration::from_secs(1);
    c.rng_seed = 7;
    c.pools.addresses.push(AddressRange::new(
        "2001:db8::1000"
            .parse::<Ipv6Addr>()
            .unwrap_or(Ipv6Addr::UNSPECIFIED),
        "2001:db8::1fff"
            .parse::<Ipv6Addr>()
            .unwrap_or(Ipv6Addr::UNSPECIFIED),
    ));
    c
}

/// One server thread.
struct Server {
    name: &'static str,
    ep: Endpoint,
    sock: Option<TcpStream>,
    disk: Vec<StorageRecord>,
    clock: Arc<Clock>,
}

impl Server {
    /// Drains every output queue of the endpoint. Returns `true` if the endpoint asked for a
    /// connection to be opened.
    fn drain(&mut self) -> bool {
        let mut open = false;
        loop {
            let now = self.clock.now();
            let mut moved = false;
            while let Some(w) = self.ep.poll_storage() {
                // A real server writes to its database and acknowledges once it is durable.
                self.disk.push(w.record);
                if let Err(e) = self.ep.handle_storage_done(now, w.id, Ok(())) {
                    eprintln!("{}: {e}", self.name);
                }
                moved = true;
            }
            while let Some(t) = self.ep.poll_transmit() {
                if let Some(s) = self.sock.as_mut()
                    && s.write_all(&t.bytes).is_err()
                {
                    self.close(now);
                }
                moved = true;
            }
            while let Some(e) = self.ep.poll_event() {
                match &e {
                    Event::OpenConnection => open = true,
                    Event::CloseConnection { .. } => self.close(now),
                    Event::StateChanged { from, to } => {
                        println!("{:>9}: {from} -> {to}", self.name)
                    }
                    Event::BindingUpdated { resource } => {
                        println!("{:>9}: partner told us about {resource}", self.name)
                    }
                    _ => {}
                }
                moved = true;
            }
            if !moved {
                return open;
            }
        }
    }

    fn close(&mut self, now: Now) {
        if let Some(s) = self.sock.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
            self.ep.handle_connection_down(now);
        }
    }

    fn attach(&mut self, s: TcpStream) {
        let _ = s.set_nonblocking(true);
        let _ = s.set_nodelay(true);
        self.sock = Some(s);
        let now = self.clock.now();
        self.ep.handle_connection_up(now);
    }

    /// One turn of the loop: read what arrived, fire due timers, drain.
    fn turn(&mut self) -> bool {
        let now = self.clock.now();
        let mut buf = [0u8; 4096];
        if let Some(s) = self.sock.as_mut() {
            match s.read(&mut buf) {
                Ok(0) => self.close(now),
                Ok(n) => self.ep.handle_bytes(now, buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => self.close(now),
            }
        }
        if self.ep.poll_timeout().is_some_and(|t| t <= now.instant) {
            self.ep.handle_timeout(now);
        }
        self.drain()
    }
}

fn client(n: u8) -> ClientKey {
    ClientKey {
        duid: vec![0, 3, 0, 1, 0xaa, 0xbb, 0xcc, 0, 0, n],
        iaid: 1,
    }
}

/// A client asks `server` for an address; returns what it was given.
fn serve_client(s: &mut Server, n: u8) {
    let now = s.clock.now();
    if !s.ep.may_serve(ClientRequestKind::Solicit, false) {
        println!(
            "{:>9}: not answering client {n} in {}",
            s.name,
            s.ep.state()
        );
        return;
    }
    let c = client(n);
    let Some(r) = s.ep.allocate(now, ResourceKind::Address, &c) else {
        return;
    };
    let valid = s.ep.lease_bound(now, &r, Duration::from_secs(3600));
    // ...the DHCP Reply would go out here, then:
    let mut g = LeaseGrant::new(c, r, valid);
    g.desired_valid = Duration::from_secs(3600);
    match s.ep.record_lease(now, LeaseChange::Granted(g)) {
        Ok(_) => println!(
            "{:>9}: client {n} gets {r} for {} s",
            s.name,
            valid.as_secs()
        ),
        Err(e) => println!("{:>9}: {e}", s.name),
    }
}

fn run(
    role: Role,
    listener: Option<TcpListener>,
    port: u16,
    stop: &AtomicBool,
    link_up: &AtomicBool,
) -> Server {
    let clock = Arc::new(Clock(StdInstant::now()));
    let ep = Endpoint::new(config(role), clock.now()).unwrap_or_else(|e| panic!("config: {e}"));
    let name = match role {
        Role::Primary => "primary",
        Role::Secondary => "secondary",
    };
    let mut s = Server {
        name,
        ep,
        sock: None,
        disk: Vec::new(),
        clock,
    };
    let mut served = 0u8;
    let started = StdInstant::now();
    while !stop.load(Ordering::Relaxed) {
        let open = s.turn();
        // The secondary accepts; the primary connects when asked (and while the link is up).
        if let Some(l) = &listener
            && s.sock.is_none()
            && let Ok((c, _)) = l.accept()
        {
            s.attach(c);
        }
        if open
            && s.sock.is_none()
            && link_up.load(Ordering::Relaxed)
            && let Ok(c) = TcpStream::connect(("127.0.0.1", port))
        {
            s.attach(c);
        }
        if !link_up.load(Ordering::Relaxed) && s.sock.is_some() {
            let now = s.clock.now();
            s.close(now);
        }
        // Every half second one client turns up at each responsive server.
        if started.elapsed() > StdDuration::from_millis(500 * u64::from(served + 1)) && served < 20
        {
            served += 1;
            serve_client(&mut s, served + if role == Role::Primary { 0 } else { 100 });
        }
        std::thread::sleep(StdDuration::from_millis(5));
    }
    s
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let _ = listener.set_nonblocking(true);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    let link = Arc::new(AtomicBool::new(true));
    let (s1, l1) = (stop.clone(), link.clone());
    let secondary =
        std::thread::spawn(move || run(Role::Secondary, Some(listener), port, &s1, &l1));
    let (s2, l2) = (stop.clone(), link.clone());
    let primary = std::thread::spawn(move || run(Role::Primary, None, port, &s2, &l2));
    std::thread::sleep(StdDuration::from_secs(4));
    println!("--- cutting the link ---");
    link.store(false, Ordering::Relaxed);
    std::thread::sleep(StdDuration::from_secs(3));
    println!("--- healing the link ---");
    link.store(true, Ordering::Relaxed);
    std::thread::sleep(StdDuration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    let (Ok(p), Ok(s)) = (primary.join(), secondary.join()) else {
        eprintln!("a server thread panicked");
        std::process::exit(1);
    };
    for srv in [&p, &s] {
        let st = srv.ep.status(srv.clock.now());
        println!(
            "{:>9}: state {}, {} bindings, {} pending updates, {} records written",
            srv.name,
            st.state,
            st.bindings,
            st.pending_updates,
            srv.disk.len()
        );
    }
    let ok = p.ep.state() == State::Normal
        && s.ep.state() == State::Normal
        && p.ep.bindings().count() == s.ep.bindings().count();
    println!(
        "{}",
        if ok {
            "both NORMAL, tables agree"
        } else {
            "not converged"
        }
    );
    if !ok {
        std::process::exit(1);
    }
}
