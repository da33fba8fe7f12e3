#!/usr/bin/env python3
"""pcap_split: cut one classic pcap into the views of several probes, frame by frame.

    pcap_split.py IN OUT RULE

RULE picks frames by their number n (1 = the first frame):
    alt:K/M      frames with (n - 1) % M == K, plus every 7th frame (n % 7 == 0)
    every:M      frames with n % M == 0
    until:F/RULE frames RULE picks, up to frame F of the capture
    from:F/RULE  frames RULE picks, from frame F on
    all          every frame
    sip:RULE     frames RULE picks that are SIP over UDP (port 5060; Ethernet, IPv4 or IPv6)
    RULE,RULE    frames either picks
The probes of tests/live/hep_merge.sh: alt:0/2 and alt:1/2 are two probes that see alternate
frames, and both see every 7th. Standard library only; classic pcap (either byte order, us or
ns) in, the same format out.
"""
import struct
import sys


def is_sip(frame):
    """UDP to or from port 5060 in an Ethernet frame (IPv4, or IPv6 without extension headers)."""
    if len(frame) < 14:
        return False
    ethertype = struct.unpack_from(">H", frame, 12)[0]
    if ethertype == 0x0800 and len(frame) >= 34 and frame[23] == 17:
        udp = 14 + (frame[14] & 15) * 4
    elif ethertype == 0x86DD and len(frame) >= 54 and frame[20] == 17:
        udp = 54
    else:
        return False
    if len(frame) < udp + 4:
        return False
    return 5060 in struct.unpack_from(">HH", frame, udp)


def picks(rule, n, frame):
    if "," in rule:
        return any(picks(r, n, frame) for r in rule.split(","))
    if rule == "all":
        return True
    kind, _, arg = rule.partition(":")
    if kind == "sip":
        return is_sip(frame) and picks(arg, n, frame)
    if kind == "alt":
        k, m = (int(x) for x in arg.split("/"))
        return (n - 1) % m == k or n % 7 == 0
    if kind == "every":
        return n % int(arg) == 0
    if kind in ("until", "from"):
        edge, _, inner = arg.partition("/")
        inside = n <= int(edge) if kind == "until" else n >= int(edge)
        return inside and picks(inner, n, frame)
    raise SystemExit(f"pcap_split: unknown rule {rule!r}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, dst, rule = sys.argv[1:]
    with open(src, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit(f"pcap_split: {src}: too short for a pcap header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit(f"pcap_split: {src}: not a classic pcap")
    out = [data[:24]]
    off, n, kept = 24, 0, 0
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, off + 8)[0]
        end = off + 16 + incl
        if end > len(data):
            raise SystemExit(f"pcap_split: {src}: truncated record at byte {off}")
        n += 1
        if picks(rule, n, data[off + 16:end]):
            out.append(data[off:end])
            kept += 1
        off = end
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    print(f"{dst}: {kept} of {n} frames")


if __name__ == "__main__":
    main()
