#!/usr/bin/env python3
"""Crafted DHCPv6 traffic for the end-to-end tests (standard library only).

  dhcp_probe.py decline IFACE    Solicit with Rapid Commit, then Decline the address it got.
                                 Prints "declined ADDRESS" and exits 0 when the server answered
                                 the Decline with Success.
  dhcp_probe.py garbage IFACE N  Sends N malformed datagrams (truncations, bad lengths, deep
                                 relay nesting, bad DUIDs) to ff02::1:2, then prints "sent N".
"""
import os
import random
import socket
import struct
import sys

ALL_SERVERS = "ff02::1:2"


def opt(code, data):
    return struct.pack("!HH", code, len(data)) + data


def parse_opts(data):
    out = []
    i = 0
    while i + 4 <= len(data):
        code, length = struct.unpack_from("!HH", data, i)
        out.append((code, data[i + 4:i + 4 + length]))
        i += 4 + length
    return out


def sock_on(iface):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, 25, iface.encode())  # SO_BINDTODEVICE
    s.bind(("::", 546))
    s.settimeout(3.0)
    return s, socket.if_nametoindex(iface)


def exchange(s, idx, msg, xid):
    for _ in range(5):
        s.sendto(msg, (ALL_SERVERS, 547, 0, idx))
        try:
            while True:
                data, _ = s.recvfrom(4096)
                if data[1:4] == xid:
                    return data
        except socket.timeout:
            continue
    raise SystemExit("no answer from the server")


def decline(iface):
    s, idx = sock_on(iface)
    duid = struct.pack("!HH", 3, 1) + os.urandom(6)
    iaid = 7
    xid = os.urandom(3)
    solicit = bytes([1]) + xid + opt(1, duid) + opt(14, b"") + opt(8, b"\x00\x00") + \
        opt(3, struct.pack("!III", iaid, 0, 0))
    reply = exchange(s, idx, solicit, xid)
    if reply[0] != 7:
        raise SystemExit("expected a Reply to a Rapid Commit Solicit, got type %d" % reply[0])
    opts = parse_opts(reply[4:])
    server_id = next(d for c, d in opts if c == 2)
    ia = next(d for c, d in opts if c == 3)
    addr_opts = [d for c, d in parse_opts(ia[12:]) if c == 5]
    if not addr_opts:
        raise SystemExit("no address in the Reply: %r" % (parse_opts(ia[12:]),))
    address = socket.inet_ntop(socket.AF_INET6, addr_opts[0][:16])
    xid = os.urandom(3)
    iaaddr = opt(5, addr_opts[0][:16] + struct.pack("!II", 0, 0))
    msg = bytes([9]) + xid + opt(1, duid) + opt(2, server_id) + opt(8, b"\x00\x00") + \
        opt(3, struct.pack("!III", iaid, 0, 0) + iaaddr)
    reply = exchange(s, idx, msg, xid)
    status = [d for c, d in parse_opts(reply[4:]) if c == 13]
    if reply[0] != 7 or not status or struct.unpack("!H", status[0][:2])[0] != 0:
        raise SystemExit("Decline not answered with Success")
    print("declined", address)


def garbage(iface, n):
    s, idx = sock_on(iface)
    rnd = random.Random(1)
    duid = opt(1, struct.pack("!HH", 3, 1) + b"\x02\x00\x00\x00\x00\x01")
    good = bytes([1, 1, 2, 3]) + duid + opt(3, struct.pack("!III", 1, 0, 0))
    for i in range(n):
        kind = i % 6
        if kind == 0:  # truncated at a random point
            msg = good[:rnd.randrange(1, len(good))]
        elif kind == 1:  # option length beyond the end
            msg = bytes([1, 9, 9, 9]) + struct.pack("!HH", 1, 400) + b"\x00\x03"
        elif kind == 2:  # deep relay nesting
            inner = good
            for _ in range(40):
                inner = bytes([12, 0]) + b"\x00" * 32 + opt(9, inner)
            msg = inner
        elif kind == 3:  # IA_NA shorter than its fixed part
            msg = bytes([1, 4, 5, 6]) + duid + opt(3, b"\x00\x01")
        elif kind == 4:  # DUID that is too short
            msg = bytes([1, 4, 5, 6]) + opt(1, b"\x00") + opt(3, struct.pack("!III", 1, 0, 0))
        else:  # random bytes
            msg = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
        s.sendto(msg, (ALL_SERVERS, 547, 0, idx))
    print("sent", n)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "decline":
        decline(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "garbage":
        garbage(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
