#!/usr/bin/env python3
"""Regenerates fuzz/corpus/<target>/ from the codec's test vectors and bench inputs.

Run from anywhere: python3 fuzz/seed-corpus.py
"""
import hashlib
import pathlib
import struct

root = pathlib.Path(__file__).resolve().parent.parent
vectors = {}
for p in sorted((root / "crates/wire/tests/vectors").glob("*.hex")):
    vectors[p.stem] = bytes.fromhex(p.read_text().strip())
for line in (root / "benches/data/dhcpv6-inputs.txt").read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        name, hexs = line.split(" ", 1)
        vectors["bench-" + name] = bytes.fromhex(hexs.strip())


def header_len(msg):
    t = msg[0]
    if t in (12, 13):
        return 34
    if 24 <= t <= 35:
        return 8
    if 1 <= t <= 23 or t in (36, 37):
        return 4
    return len(msg)


def write(target, name, data):
    d = root / "fuzz/corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


failover = []
for name, msg in vectors.items():
    write("message_parse", name, msg)
    write("message_roundtrip", name, msg)
    write("options_iter", name, msg[header_len(msg):])
    if 24 <= msg[0] <= 35:
        failover.append(msg)
        write("frame", name, b"\xff" + struct.pack(">H", len(msg)) + msg)
stream = b"".join(struct.pack(">H", len(m)) + m for m in failover)
write("frame", "all-failover-vectors", b"\xff" + stream)
write("frame", "too-large", b"\x01" + b"\xff\xff" + bytes(8))
write("frame", "too-short", b"\x10" + b"\x00\x07" + bytes(7))
print(f"{len(vectors)} vectors, {len(failover)} failover messages")
