//! `dhcpv6-dump`: decode DHCPv6 and RFC 8156 failover traffic from pcap / pcapng captures.
//!
//! DHCPv6 is taken from UDP port 546/547, failover from TCP port 647 (each direction of each
//! connection reassembled, so frames split across segments or packed several to a segment come
//! out whole). Every message is decoded with `dhcpv6-wire` and printed as an indented tree or
//! as JSON lines. `--check` also re-emits every message and compares it byte for byte.

use std::io::{self, Write};
use std::process::ExitCode;

use dhcpv6_wire::{Emit, Message};
use serde_json::{Value, json};

mod capture;
mod packet;
mod render;
mod tcp;

use capture::{Capture, linktype};
use packet::{Dissected, Segment, SegmentKind};
use tcp::{FlowKey, StreamEvent, Streams};

const DHCPV6_PORTS: [u16; 2] = [546, 547];
const FAILOVER_PORT: u16 = 647;

const USAGE: &str = "\
usage: dhcpv6-dump [--check] [--json] [--quiet] FILE...

Decodes DHCPv6 (UDP 546/547) and DHCPv6 failover (RFC 8156, TCP 647) messages in pcap and
pcapng captures (Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback) and prints each one as
an indented tree, or as one JSON object per line with --json.

  --check    re-emit every message and compare it with the captured bytes; print a summary
             line \"N messages, N round-tripped, N failed\" and exit 1 if any message failed
             to decode or differs
  --json     JSON lines instead of the tree (problems become {\"error\": ...} lines, the
             --check summary goes to standard error)
  --quiet    print only problems (and the --check summary)
  -h, --help     this text
  -V, --version  the version
";

#[derive(Debug, Default)]
struct Opts {
    check: bool,
    json: bool,
    quiet: bool,
    files: Vec<String>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Opts>, String> {
    let mut o = Opts::default();
    let mut only_files = false;
    for a in args {
        if only_files || !a.starts_with('-') || a == "-" {
            o.files.push(a);
            continue;
        }
        match a.as_str() {
            "--" => only_files = true,
            "--check" => o.check = true,
            "--json" => o.json = true,
            "-q" | "--quiet" => o.quiet = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("dhcpv6-dump {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.files.is_empty() {
        return Err("no capture file given".into());
    }
    Ok(Some(o))
}

/// Counters for the `--check` summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    messages: u64,
    round_tripped: u64,
    failed: u64,
}

/// Where a message or a problem was found.
#[derive(Debug, Clone)]
struct Place<'a> {
    file: &'a str,
    frame: u64,
    timestamp_ns: u128,
    segment: Option<(FlowKey, &'static str)>,
}

struct Dumper<'o, W: Write> {
    opts: &'o Opts,
    out: W,
    tally: Tally,
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` from nanoseconds since the Unix epoch.
fn utc(ns: u128) -> String {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn endpoint(a: std::net::Ipv6Addr, port: u16) -> String {
    format!("[{a}]:{port}")
}

impl<W: Write> Dumper<'_, W> {
    fn line(&mut self, s: &str) -> io::Result<()> {
        writeln!(self.out, "{s}")
    }

    /// One problem: one line (text) or one `{"error": ...}` object (JSON).
    fn problem(
        &mut self,
        place: &Place<'_>,
        byte: Option<u64>,
        what: &str,
        counts: bool,
    ) -> io::Result<()> {
        if counts {
            self.tally.failed += 1;
        }
        if self.opts.json {
            let mut v = json!({ "file": place.file, "frame": place.frame, "error": what });
            if let Some(b) = byte {
                v["byte"] = json!(b);
            }
            if let Some((k, _)) = place.segment {
                v["src"] = json!(endpoint(k.src, k.src_port));
                v["dst"] = json!(endpoint(k.dst, k.dst_port));
            }
            return self.line(&v.to_string());
        }
        let at = byte.map(|b| format!(", byte {b}")).unwrap_or_default();
        let flow = place
            .segment
            .map(|(k, proto)| {
                format!(
                    " ({proto} {} -> {})",
                    endpoint(k.src, k.src_port),
                    endpoint(k.dst, k.dst_port)
                )
            })
            .unwrap_or_default();
        self.line(&format!(
            "{}: frame {}{at}{flow}: {what}",
            place.file, place.frame
        ))
    }

    /// Decodes, prints and (with `--check`) round-trips one message.
    ///
    /// `base` is the offset of the message's first byte in the frame (UDP) or the TCP stream
    /// (failover), so that errors point into the capture.
    fn message(
        &mut self,
        place: &Place<'_>,
        bytes: &[u8],
        base: u64,
        base_name: &str,
    ) -> io::Result<()> {
        self.tally.messages += 1;
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                let what = format!("message does not decode: {e}");
                return self.problem(
                    place,
                    Some(base + e.offset as u64),
                    &format!("{what} (message starts at {base_name} {base})"),
                    true,
                );
            }
        };
        let mut round_trip = None;
        if self.opts.check {
            let again = msg.to_vec();
            if again == bytes {
                self.tally.round_tripped += 1;
                round_trip = Some(true);
            } else {
                round_trip = Some(false);
                let first = again
                    .iter()
                    .zip(bytes)
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| again.len().min(bytes.len()));
                let what = format!(
                    "re-emitted {} differs from the capture at message byte {first} ({} bytes emitted, {} captured)",
                    msg.msg_type(),
                    again.len(),
                    bytes.len()
                );
                self.problem(place, Some(base + first as u64), &what, true)?;
            }
        }
        if self.opts.quiet {
            return Ok(());
        }
        let node = render::message_node(&msg);
        let (proto, k) = match place.segment {
            Some((k, proto)) => (proto, Some(k)),
            None => ("?", None),
        };
        if self.opts.json {
            let mut v = json!({
                "file": place.file,
                "frame": place.frame,
                "time": utc(place.timestamp_ns),
                "transport": proto,
            });
            if let Some(k) = k {
                v["src"] = json!(k.src.to_string());
                v["src_port"] = json!(k.src_port);
                v["dst"] = json!(k.dst.to_string());
                v["dst_port"] = json!(k.dst_port);
            }
            if base_name == "stream offset" {
                v["stream_offset"] = json!(base);
            }
            if let Some(rt) = round_trip {
                v["round_trip"] = Value::Bool(rt);
            }
            v["message"] = render::json(&node);
            self.line(&v.to_string())
        } else {
            let flow = k
                .map(|k| {
                    format!(
                        " {proto} {} -> {}",
                        endpoint(k.src, k.src_port),
                        endpoint(k.dst, k.dst_port)
                    )
                })
                .unwrap_or_default();
            let mut text = format!("frame {} {}{flow}\n", place.frame, utc(place.timestamp_ns));
            render::tree(&node, 2, &mut text);
            write!(self.out, "{text}")
        }
    }

    fn udp(&mut self, place: &Place<'_>, seg: &Segment<'_>) -> io::Result<()> {
        if seg.missing > 0 {
            self.tally.messages += 1;
            let what = format!(
                "DHCPv6 message cut short by the capture's snap length: {} of {} bytes captured",
                seg.payload.len(),
                seg.payload.len() + seg.missing
            );
            return self.problem(place, Some(seg.payload_offset as u64), &what, true);
        }
        self.message(place, seg.payload, seg.payload_offset as u64, "frame byte")
    }

    fn stream_events(&mut self, place: &Place<'_>, events: Vec<StreamEvent>) -> io::Result<()> {
        for e in events {
            match e {
                StreamEvent::Frame {
                    bytes,
                    stream_offset,
                    first_packet,
                } => {
                    let p = Place {
                        frame: first_packet,
                        ..place.clone()
                    };
                    // The message starts after the 2-byte length prefix.
                    self.message(&p, &bytes, stream_offset + 2, "stream offset")?;
                }
                StreamEvent::Error {
                    stream_offset,
                    reason,
                } => {
                    self.tally.messages += 1;
                    self.problem(
                        place,
                        None,
                        &format!("stream offset {stream_offset}: {reason}"),
                        true,
                    )?;
                }
                StreamEvent::Note(n) => {
                    if !self.opts.quiet {
                        self.problem(place, None, &n, false)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &str, data: &[u8]) -> io::Result<()> {
        let place0 = Place {
            file: path,
            frame: 0,
            timestamp_ns: 0,
            segment: None,
        };
        let cap = match Capture::new(data) {
            Ok(c) => c,
            Err(e) => {
                self.tally.messages += 1;
                return self.problem(
                    &place0,
                    Some(e.offset as u64),
                    &format!("cannot read capture: {}", e.reason),
                    true,
                );
            }
        };
        let mut streams = Streams::default();
        let mut last = place0.clone();
        let mut unsupported: Vec<u32> = Vec::new();
        for p in cap {
            let p = match p {
                Ok(p) => p,
                Err(e) => {
                    self.tally.messages += 1;
                    let what = format!(
                        "capture file damaged at file byte {}: {}",
                        e.offset, e.reason
                    );
                    self.problem(
                        &Place {
                            frame: last.frame + 1,
                            ..place0.clone()
                        },
                        None,
                        &what,
                        true,
                    )?;
                    break;
                }
            };
            let mut place = Place {
                file: path,
                frame: p.number,
                timestamp_ns: p.timestamp_ns,
                segment: None,
            };
            last = place.clone();
            let known = [
                linktype::NULL,
                linktype::ETHERNET,
                linktype::RAW,
                linktype::LOOP,
                linktype::LINUX_SLL,
                linktype::IPV4,
                linktype::IPV6,
                linktype::LINUX_SLL2,
            ];
            if !known.contains(&p.linktype) {
                if !unsupported.contains(&p.linktype) {
                    unsupported.push(p.linktype);
                    let what = format!(
                        "link type {} is not supported; its packets are skipped",
                        p.linktype
                    );
                    self.problem(&place, None, &what, false)?;
                }
                continue;
            }
            match packet::dissect(p.linktype, p.data) {
                Dissected::Segment(seg) => {
                    let key = FlowKey {
                        src: seg.src,
                        src_port: seg.src_port,
                        dst: seg.dst,
                        dst_port: seg.dst_port,
                    };
                    match seg.kind {
                        SegmentKind::Udp
                            if DHCPV6_PORTS.contains(&seg.src_port)
                                || DHCPV6_PORTS.contains(&seg.dst_port) =>
                        {
                            place.segment = Some((key, "UDP"));
                            self.udp(&place, &seg)?;
                        }
                        SegmentKind::Tcp {
                            seq,
                            syn,
                            fin: _,
                            rst: _,
                        } if seg.src_port == FAILOVER_PORT || seg.dst_port == FAILOVER_PORT => {
                            place.segment = Some((key, "TCP"));
                            if seg.missing > 0 {
                                let what = format!(
                                    "TCP segment cut short by the capture's snap length ({} of {} bytes); the stream cannot be reassembled past it",
                                    seg.payload.len(),
                                    seg.payload.len() + seg.missing
                                );
                                self.problem(
                                    &place,
                                    Some(seg.payload_offset as u64),
                                    &what,
                                    false,
                                )?;
                            }
                            let events = streams.segment(key, seq, syn, seg.payload, p.number);
                            self.stream_events(&place, events)?;
                        }
                        _ => {}
                    }
                }
                Dissected::Other => {}
                Dissected::Fragment { offset } => {
                    if !self.opts.quiet {
                        self.problem(
                            &place,
                            Some(offset as u64),
                            "IPv6 fragment: fragments are not reassembled; skipped",
                            false,
                        )?;
                    }
                }
                Dissected::Malformed { offset, reason } => {
                    self.tally.messages += 1;
                    self.problem(
                        &place,
                        Some(offset as u64),
                        &format!("malformed packet: {reason}"),
                        true,
                    )?;
                }
            }
        }
        for (key, e) in streams.finish() {
            let place = Place {
                segment: Some((key, "TCP")),
                ..last.clone()
            };
            self.stream_events(&place, vec![e])?;
        }
        Ok(())
    }
}

fn run(opts: &Opts) -> io::Result<ExitCode> {
    let stdout = io::stdout();
    let mut d = Dumper {
        opts,
        out: io::BufWriter::new(stdout.lock()),
        tally: Tally::default(),
    };
    let mut unreadable = false;
    for path in &opts.files {
        match std::fs::read(path) {
            Ok(data) => d.file(path, &data)?,
            Err(e) => {
                eprintln!("dhcpv6-dump: {path}: {e}");
                unreadable = true;
            }
        }
    }
    let t = d.tally;
    if opts.check {
        let summary = format!(
            "{} messages, {} round-tripped, {} failed",
            t.messages, t.round_tripped, t.failed
        );
        if opts.json {
            d.out.flush()?;
            eprintln!("{summary}");
        } else {
            d.line(&summary)?;
        }
    }
    d.out.flush()?;
    Ok(if unreadable {
        ExitCode::from(2)
    } else if opts.check && t.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dhcpv6-dump: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(code) => code,
        // A closed pipe (`dhcpv6-dump x.pcap | head`) is not an error worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dhcpv6-dump: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            utc(1_795_763_665_123_456_789),
            "2026-11-27T07:14:25.123456Z"
        );
        assert_eq!(utc(951_782_400_000_000_000), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn args() {
        let o = parse_args(
            ["--check", "--json", "a.pcap", "--", "-b"]
                .map(String::from)
                .into_iter(),
        )
        .unwrap()
        .unwrap();
        assert!(o.check && o.json && !o.quiet);
        assert_eq!(o.files, ["a.pcap", "-b"]);
        assert!(parse_args(std::iter::empty()).is_err());
        assert!(parse_args(["--frobnicate".to_owned()].into_iter()).is_err());
    }
}
