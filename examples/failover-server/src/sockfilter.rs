//! A classic BPF program for the client socket that lets the kernel drop the client messages
//! this server would read only to discard them, before they wake the event loop.
//!
//! Two rules, both exactly what [`crate::dhcp`] does with such a message after reading it:
//! - A direct client message (types 1 to 11) whose first OPTION_SERVERID is not this server's
//!   DUID: RFC 8415 §16 has the server discard it. On a failover pair this is half of all client
//!   traffic at the partner that is not answering: every Request, Renew and Release addressed
//!   to the other server.
//! - A Solicit, Confirm or Rebind on an interface whose subnet's failover endpoint does not
//!   answer them in its current state (a secondary in NORMAL is renew-responsive, RFC 8156 §3).
//!   This rule follows the state: [`crate::service`] builds a new program when it changes.
//!
//! The first rule also applies to the message a Relay-forward carries (one relay layer; the
//! second rule does not, since a relayed client's link is named by the relay, not by the
//! interface). A message whose Relay Message or Server Identifier is not among the first
//! [`SCANNED_OPTIONS`] options of its layer passes.
//!
//! The kernel counts what a socket filter drops as a receive error of the socket (the `d` of
//! `ss -uam`, and `Udp6InErrors`), not in this server's metrics.

use std::fmt;

/// How many options the program walks looking for OPTION_SERVERID before it lets the message
/// through (a classic BPF program has no loops; the walk is unrolled).
pub const SCANNED_OPTIONS: usize = 16;

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Operation.
    pub code: u16,
    /// Forward jump when the condition holds.
    pub jt: u8,
    /// Forward jump when it does not.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

/// Why no program could be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooFar {
    /// Index of the jump that could not reach its target.
    pub at: usize,
}

impl fmt::Display for TooFar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "socket filter: the jump at instruction {} cannot reach its target (more than 255 ahead)",
            self.at
        )
    }
}

impl std::error::Error for TooFar {}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_B_ABS: u16 = 0x30;
const LD_W_ABS: u16 = 0x20;
const LD_W_LEN: u16 = 0x80;
const LD_H_IND: u16 = 0x48;
const LD_B_IND: u16 = 0x50;
const LD_W_IND: u16 = 0x40;
const LDX_IMM: u16 = 0x01;
const ALU_ADD_K: u16 = 0x04;
const ALU_ADD_X: u16 = 0x0c;
const ALU_SUB_X: u16 = 0x1c;
const MISC_TAX: u16 = 0x07;
const MISC_TXA: u16 = 0x87;
const LD_MEM: u16 = 0x60;
const ST_MEM: u16 = 0x02;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
/// `SKF_AD_OFF + SKF_AD_IFINDEX`: loads the index of the arrival interface.
const AD_IFINDEX: u32 = 0xffff_f000 + 8;

/// Keep the whole datagram.
const ACCEPT: u32 = u32::MAX;
/// A socket filter sees a UDP datagram from its UDP header on.
const UDP_HEADER: u32 = 8;
/// Message type, then a 3-byte transaction id, then the options.
const FIRST_OPTION: u32 = UDP_HEADER + 4;
const OPTION_SERVERID: u32 = 2;
const OPTION_RELAY_MSG: u32 = 9;
const RELAY_FORW: u32 = 12;
/// Relay-forward: type, hop count, link address, peer address, then the options.
const RELAY_FIRST_OPTION: u32 = UDP_HEADER + 34;
/// Scratch cell holding the end of the options being walked.
const END: u32 = 0;
const SOLICIT: u32 = 1;
const CONFIRM: u32 = 4;
const REBIND: u32 = 6;
const LAST_CLIENT_TYPE: u32 = 11;

/// A jump target: the next instruction or a label.
#[derive(Clone, Copy)]
enum To {
    Next,
    Label(usize),
}

struct Asm {
    /// Operation, jumps if true / false, operand, and for `ja` the label its operand counts to.
    code: Vec<(u16, To, To, u32, Option<usize>)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn new() -> Self {
        Self {
            code: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        if let Some(slot) = self.labels.get_mut(l) {
            *slot = Some(self.code.len());
        }
    }
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((code, To::Next, To::Next, k, None));
    }
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.code.push((code, jt, jf, k, None));
    }
    /// Unconditional jump (its distance is a 32-bit operand).
    fn ja(&mut self, to: usize) {
        self.code.push((JA, To::Next, To::Next, 0, Some(to)));
    }
    /// How far ahead of the instruction at `at` label `l` is (jumps count from the next one).
    fn distance(&self, at: usize, l: usize) -> Option<usize> {
        self.labels.get(l).copied().flatten()?.checked_sub(at + 1)
    }
    fn finish(self) -> Result<Vec<Insn>, TooFar> {
        let offset = |at: usize, to: To| -> Result<u8, TooFar> {
            match to {
                To::Next => Ok(0),
                To::Label(l) => self
                    .distance(at, l)
                    .and_then(|d| u8::try_from(d).ok())
                    .ok_or(TooFar { at }),
            }
        };
        self.code
            .iter()
            .enumerate()
            .map(|(at, &(code, jt, jf, k, far))| {
                let k = match far {
                    Some(l) => self
                        .distance(at, l)
                        .and_then(|d| u32::try_from(d).ok())
                        .ok_or(TooFar { at })?,
                    None => k,
                };
                Ok(Insn {
                    code,
                    jt: offset(at, jt)?,
                    jf: offset(at, jf)?,
                    k,
                })
            })
            .collect()
    }
}

/// Walks up to [`SCANNED_OPTIONS`] options from X to the end held in scratch cell [`END`]:
/// jumps to `found` with X on the first option with `code`, or to `none` when fewer than 4
/// bytes are left. An option that claims more bytes than the datagram has makes a later load
/// fail, which drops the datagram: the codec drops such a malformed message too. (One that
/// overruns only the carried message's end is just as malformed, whatever the walk finds
/// past it.)
fn walk_options(a: &mut Asm, code: u32, found: usize, none: usize) {
    for _ in 0..SCANNED_OPTIONS {
        a.op(LD_MEM, END);
        a.op(ALU_SUB_X, 0);
        a.jump(JGE_K, 4, To::Next, To::Label(none));
        a.op(LD_H_IND, 0);
        a.jump(JEQ_K, code, To::Label(found), To::Next);
        a.op(LD_H_IND, 2);
        a.op(ALU_ADD_K, 4);
        a.op(ALU_ADD_X, 0);
        a.op(MISC_TAX, 0);
    }
    a.ja(none);
}

/// The program for a server whose DUID is `server_id` that does not answer Solicit, Confirm or
/// Rebind on the interfaces `refusing_solicits` (indices).
///
/// # Errors
/// [`TooFar`] when the program does not fit classic BPF's jumps (a DUID longer than RFC 8415's
/// 128 bytes, or hundreds of interfaces); run without a filter then.
pub fn program(server_id: &[u8], refusing_solicits: &[u32]) -> Result<Vec<Insn>, TooFar> {
    let mut a = Asm::new();
    let (accept_top, relay, direct) = (a.label(), a.label(), a.label());
    let (scan, found, accept, drop) = (a.label(), a.label(), a.label(), a.label());
    a.op(LD_B_ABS, UDP_HEADER);
    a.jump(JEQ_K, RELAY_FORW, To::Label(relay), To::Next);
    // Other relay messages, failover messages and type 0 pass.
    a.jump(JGT_K, LAST_CLIENT_TYPE, To::Label(accept_top), To::Next);
    a.jump(JEQ_K, 0, To::Label(accept_top), To::Label(direct));
    a.here(accept_top);
    a.op(RET_K, ACCEPT);

    // A Relay-forward: find its Relay Message option (X: the option at hand), then walk the
    // options of the message it carries, up to the option's end.
    a.here(relay);
    let (relay_pass, inner, inner_pass) = (a.label(), a.label(), a.label());
    a.op(LD_W_LEN, 0);
    a.op(ST_MEM, END);
    a.jump(JGE_K, RELAY_FIRST_OPTION, To::Next, To::Label(relay_pass));
    a.op(LDX_IMM, RELAY_FIRST_OPTION);
    walk_options(&mut a, OPTION_RELAY_MSG, inner, relay_pass);
    a.here(relay_pass);
    a.op(RET_K, ACCEPT);
    a.here(inner);
    // END = X + 4 + the option's length; the carried message's type at X + 4, its first
    // option at X + 8. A relay inside a relay, anything but a client message, or one shorter
    // than a header (malformed: left to the codec), passes.
    a.op(LD_H_IND, 2);
    a.jump(JGE_K, 4, To::Next, To::Label(inner_pass));
    a.op(ALU_ADD_X, 0);
    a.op(ALU_ADD_K, 4);
    a.op(ST_MEM, END);
    a.op(LD_B_IND, 4);
    a.jump(JGT_K, LAST_CLIENT_TYPE, To::Label(inner_pass), To::Next);
    a.jump(JEQ_K, 0, To::Label(inner_pass), To::Next);
    a.op(MISC_TXA, 0);
    a.op(ALU_ADD_K, 8);
    a.op(MISC_TAX, 0);
    a.ja(scan);
    a.here(inner_pass);
    a.op(RET_K, ACCEPT);

    // A direct client message.
    a.here(direct);
    if !refusing_solicits.is_empty() {
        let (refusable, drop_here, not_refused) = (a.label(), a.label(), a.label());
        a.jump(JEQ_K, SOLICIT, To::Label(refusable), To::Next);
        a.jump(JEQ_K, CONFIRM, To::Label(refusable), To::Next);
        a.jump(JEQ_K, REBIND, To::Label(refusable), To::Label(not_refused));
        a.here(refusable);
        a.op(LD_W_ABS, AD_IFINDEX);
        for (i, &index) in refusing_solicits.iter().enumerate() {
            let otherwise = if i + 1 == refusing_solicits.len() {
                To::Label(not_refused)
            } else {
                To::Next
            };
            a.jump(JEQ_K, index, To::Label(drop_here), otherwise);
        }
        a.here(drop_here);
        a.op(RET_K, 0);
        a.here(not_refused);
    }
    // Shorter than a message header: malformed, left to the codec (and its metrics).
    a.op(LD_W_LEN, 0);
    a.op(ST_MEM, END);
    a.jump(JGE_K, FIRST_OPTION, To::Next, To::Label(accept));
    a.op(LDX_IMM, FIRST_OPTION);
    a.here(scan);
    walk_options(&mut a, OPTION_SERVERID, found, accept);
    a.here(accept);
    a.op(RET_K, ACCEPT);
    // The Server Identifier at X: ours only with our length and our bytes.
    a.here(found);
    a.op(LD_H_IND, 2);
    a.jump(
        JEQ_K,
        u32::try_from(server_id.len()).unwrap_or(u32::MAX),
        To::Next,
        To::Label(drop),
    );
    let mut at = 4u32;
    for chunk in server_id.chunks(4) {
        let (code, k) = match *chunk {
            [a0, a1, a2, a3] => (LD_W_IND, u32::from_be_bytes([a0, a1, a2, a3])),
            [a0, a1, a2] => {
                // Three bytes: a half-word, then a byte.
                a.op(LD_H_IND, at);
                a.jump(
                    JEQ_K,
                    u32::from(u16::from_be_bytes([a0, a1])),
                    To::Next,
                    To::Label(drop),
                );
                (LD_B_IND, u32::from(a2))
            }
            [a0, a1] => (LD_H_IND, u32::from(u16::from_be_bytes([a0, a1]))),
            [a0] => (LD_B_IND, u32::from(a0)),
            _ => continue,
        };
        let offset = if chunk.len() == 3 { at + 2 } else { at };
        a.op(code, offset);
        a.jump(JEQ_K, k, To::Next, To::Label(drop));
        at += 4;
    }
    a.op(RET_K, ACCEPT);
    a.here(drop);
    a.op(RET_K, 0);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcpv6_wire::Message;
    use proptest::prelude::*;

    /// Runs `prog` the way the kernel does over a UDP datagram (`payload` after an 8-byte UDP
    /// header) that arrived on interface `ifindex`; returns whether it is kept. A load past the
    /// end drops, as in the kernel.
    fn run(prog: &[Insn], payload: &[u8], ifindex: u32) -> bool {
        let mut pkt = vec![0u8; 8];
        pkt.extend_from_slice(payload);
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let mut mem = [0u32; 16];
        let load = |at: u64, n: usize| -> Option<u32> {
            let at = usize::try_from(at).ok()?;
            let b = pkt.get(at..at.checked_add(n)?)?;
            Some(b.iter().fold(0u32, |v, &c| (v << 8) | u32::from(c)))
        };
        for _ in 0..10_000 {
            let i = prog[pc];
            pc += 1;
            let jump = |cond: bool, pc: usize| pc + usize::from(if cond { i.jt } else { i.jf });
            match i.code {
                LD_B_ABS => match load(u64::from(i.k), 1) {
                    Some(v) => a = v,
                    None => return false,
                },
                LD_W_ABS if i.k == AD_IFINDEX => a = ifindex,
                LD_W_LEN => a = u32::try_from(pkt.len()).unwrap(),
                LD_H_IND | LD_B_IND | LD_W_IND => {
                    let n = match i.code {
                        LD_H_IND => 2,
                        LD_B_IND => 1,
                        _ => 4,
                    };
                    match load(u64::from(x) + u64::from(i.k), n) {
                        Some(v) => a = v,
                        None => return false,
                    }
                }
                LDX_IMM => x = i.k,
                ALU_ADD_K => a = a.wrapping_add(i.k),
                ALU_ADD_X => a = a.wrapping_add(x),
                ALU_SUB_X => a = a.wrapping_sub(x),
                MISC_TAX => x = a,
                MISC_TXA => a = x,
                LD_MEM => a = mem[usize::try_from(i.k).unwrap()],
                ST_MEM => mem[usize::try_from(i.k).unwrap()] = a,
                JA => pc += usize::try_from(i.k).unwrap(),
                JEQ_K => pc = jump(a == i.k, pc),
                JGT_K => pc = jump(a > i.k, pc),
                JGE_K => pc = jump(a >= i.k, pc),
                RET_K => return i.k != 0,
                other => panic!("opcode {other:#x} not expected"),
            }
        }
        panic!("program did not end");
    }

    const OURS: &[u8] = &[0, 1, 0, 1, 0x2f, 0x1a, 0x3b, 0x4c, 2, 0, 0, 0, 0, 7];
    const THEIRS: &[u8] = &[0, 1, 0, 1, 0x2f, 0x1a, 0x3b, 0x4c, 2, 0, 0, 0, 0, 8];

    fn opt(code: u16, data: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
        v.extend_from_slice(data);
        v
    }
    fn msg(t: u8, opts: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![t, 0xab, 0xcd, 0xef];
        for o in opts {
            v.extend_from_slice(o);
        }
        v
    }

    #[test]
    fn drops_what_is_addressed_to_another_server_and_keeps_the_rest() {
        let p = program(OURS, &[]).unwrap();
        let cid = opt(1, &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6]);
        let ia = opt(3, &[0; 12]);
        // Request to the partner: dropped; to us: kept.
        assert!(!run(
            &p,
            &msg(3, &[cid.clone(), opt(2, THEIRS), ia.clone()]),
            1
        ));
        assert!(run(
            &p,
            &msg(3, &[cid.clone(), opt(2, OURS), ia.clone()]),
            1
        ));
        // A Server Identifier of another length, or cut short.
        assert!(!run(&p, &msg(5, &[cid.clone(), opt(2, &OURS[..13])]), 1));
        let mut cut = msg(5, &[cid.clone(), opt(2, OURS)]);
        cut.truncate(cut.len() - 1);
        assert!(!run(&p, &cut, 1));
        // No Server Identifier: kept (a Solicit, with no interface refusing them).
        assert!(run(&p, &msg(1, &[cid.clone(), ia]), 1));
        assert!(run(&p, &msg(1, &[]), 1));
        // Relay-forward and failover messages are not looked into.
        assert!(run(&p, &msg(12, &[opt(2, THEIRS)]), 1));
        assert!(run(&p, &msg(24, &[opt(2, THEIRS)]), 1));
        // Beyond the scanned options: kept.
        let mut many = vec![opt(8, &[0, 0]); SCANNED_OPTIONS];
        many.push(opt(2, THEIRS));
        assert!(run(&p, &msg(3, &many), 1));
        many.remove(0);
        assert!(!run(&p, &msg(3, &many), 1));
        // Too short for a header, or trailing bytes after the options.
        assert!(run(&p, &[3, 1], 1));
        assert!(run(&p, &msg(3, &[cid, vec![0, 2]]), 1));
    }

    /// A Relay-forward carrying `inner`, with `before` and `after` its Relay Message option.
    fn relayed(inner: &[u8], before: &[Vec<u8>], after: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![12u8, 0];
        v.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        for o in before {
            v.extend_from_slice(o);
        }
        v.extend_from_slice(&opt(9, inner));
        for o in after {
            v.extend_from_slice(o);
        }
        v
    }

    #[test]
    fn looks_into_one_relay_layer() {
        let p = program(OURS, &[7]).unwrap();
        let cid = opt(1, &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6]);
        let ifid = opt(18, b"eth0");
        let to_them = msg(3, &[cid.clone(), opt(2, THEIRS)]);
        let to_us = msg(3, &[cid.clone(), opt(2, OURS)]);
        assert!(!run(
            &p,
            &relayed(&to_them, std::slice::from_ref(&ifid), &[]),
            7
        ));
        assert!(!run(
            &p,
            &relayed(&to_them, &[], std::slice::from_ref(&ifid)),
            7
        ));
        assert!(run(
            &p,
            &relayed(&to_us, std::slice::from_ref(&ifid), &[]),
            7
        ));
        // Relayed Solicits pass on a refusing interface (the relay names the link).
        assert!(run(
            &p,
            &relayed(&msg(1, std::slice::from_ref(&cid)), &[], &[]),
            7
        ));
        // The carried message ends with its option: a Server Identifier after it in the relay's
        // own options is not the client's.
        let bare = msg(3, std::slice::from_ref(&cid));
        assert!(run(&p, &relayed(&bare, &[], &[opt(2, THEIRS)]), 7));
        // A relay inside a relay passes; so does a relay without a Relay Message, or a short one.
        assert!(run(&p, &relayed(&relayed(&to_them, &[], &[]), &[], &[]), 7));
        assert!(run(&p, &relayed(&[], &[], &[]), 7));
        let mut no_msg = relayed(&to_them, &[], &[]);
        no_msg.truncate(34);
        assert!(run(&p, &no_msg, 7));
        assert!(run(&p, &no_msg[..20], 7));
    }

    #[test]
    fn solicits_dropped_only_on_the_refusing_interfaces() {
        let p = program(OURS, &[7, 9]).unwrap();
        let cid = opt(1, &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6]);
        for t in [1, 4, 6] {
            assert!(
                !run(&p, &msg(t, std::slice::from_ref(&cid)), 7),
                "type {t} on 7"
            );
            assert!(
                !run(&p, &msg(t, std::slice::from_ref(&cid)), 9),
                "type {t} on 9"
            );
            assert!(
                run(&p, &msg(t, std::slice::from_ref(&cid)), 8),
                "type {t} on 8"
            );
        }
        // Renewals addressed to us still pass there, those to the partner do not.
        assert!(run(&p, &msg(5, &[cid.clone(), opt(2, OURS)]), 7));
        assert!(!run(&p, &msg(5, &[cid.clone(), opt(2, THEIRS)]), 8));
        assert!(run(&p, &msg(11, &[cid]), 7));
    }

    #[test]
    fn every_duid_length_compares_every_byte() {
        for len in 1..=20usize {
            let ours: Vec<u8> = (0..len).map(|i| u8::try_from(i * 7 + 1).unwrap()).collect();
            let p = program(&ours, &[]).unwrap();
            assert!(run(&p, &msg(3, &[opt(2, &ours)]), 1), "len {len}");
            for i in 0..len {
                let mut other = ours.clone();
                other[i] ^= 0x40;
                assert!(
                    !run(&p, &msg(3, &[opt(2, &other)]), 1),
                    "len {len} byte {i}"
                );
            }
        }
        // RFC 8415's longest DUID (130 bytes with its type) still fits the jumps.
        assert!(program(&[0xaa; 130], &[1, 2, 3, 4]).is_ok());
        assert!(program(&[0xaa; 600], &[]).is_err());
    }

    fn arb_option() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(opt(2, OURS)),
            Just(opt(2, THEIRS)),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(|d| opt(2, &d)),
            Just(opt(1, &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6])),
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..24))
                .prop_map(|(c, d)| opt(c, &d)),
            // An option whose length overruns, or stray bytes.
            proptest::collection::vec(any::<u8>(), 1..6),
        ]
    }

    proptest! {
        /// The kernel drops only what the server drops after reading it: a message that does
        /// not parse, or one whose first Server Identifier is not ours.
        #[test]
        fn drops_only_what_the_server_discards(
            t in prop_oneof![1u8..=13, any::<u8>()],
            opts in proptest::collection::vec(arb_option(), 0..20),
            cut in any::<u8>(),
            relay in proptest::option::of((
                proptest::collection::vec(arb_option(), 0..4),
                proptest::collection::vec(arb_option(), 0..4),
            )),
        ) {
            let p = program(OURS, &[]).unwrap();
            let mut m = msg(t, &opts);
            if let Some((before, after)) = &relay {
                m = relayed(&m, before, after);
            }
            if cut % 4 == 0 { m.truncate(m.len().saturating_sub(usize::from(cut % 7))); }
            // The client message the server would judge: the top one, or the one a single
            // Relay-forward carries.
            let parsed = Message::parse(&m);
            let judged = match &parsed {
                Ok(Message::Client(c)) => Some(c),
                Ok(Message::Relay(r)) if r.msg_type.0 == 12 => match r.options.relay_msg() {
                    Some(Message::Client(c)) => Some(c),
                    _ => None,
                },
                _ => None,
            };
            if !run(&p, &m, 1) {
                match (&parsed, judged) {
                    (Err(_), _) => {}
                    (Ok(_), Some(c)) => {
                        prop_assert!(c.options.server_id().is_some_and(|d| d.as_bytes() != OURS));
                    }
                    (Ok(other), None) => prop_assert!(false, "dropped {other:?}"),
                }
            } else if let (Some(c), None) = (judged, &relay) {
                // And it does drop those it can see: foreign Server Identifier among the first
                // scanned options.
                let first = c.options.iter().take(SCANNED_OPTIONS).position(|o| {
                    matches!(o, dhcpv6_wire::DhcpOption::ServerId(_))
                });
                if let (Some(_), Some(d)) = (first, c.options.server_id()) {
                    prop_assert!(d.as_bytes() == OURS || !(1..=11).contains(&t));
                }
            }
        }
    }
}
