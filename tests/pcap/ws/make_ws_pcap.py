#!/usr/bin/env python3
"""make_ws_pcap: writes sip_ws.pcap, SIP over WebSocket (RFC 7118) made by hand.

One TCP connection 192.0.2.10:50000 -> 192.0.2.20:8080: handshake, the HTTP Upgrade with
Sec-WebSocket-Protocol: sip and its 101, then masked client frames and unmasked server frames
carrying REGISTER/401/REGISTER/200 and INVITE/100/180/200/ACK/BYE/200 (11 SIP messages). The
INVITE is split across two WebSocket fragments (text + continuation), the 200 to the INVITE is
one frame split across two TCP segments, the server pings (the client pongs), and the client
sends a double-CRLF keep-alive in a text frame. The INVITE
and its 200 carry WebRTC SDP (m=audio 9 UDP/TLS/RTP/SAVPF, c=IN IP4 0.0.0.0, ICE candidates,
a=rtcp-mux, a=fingerprint; both sides port 9 and c=IN IP4 0.0.0.0, so the media addresses are
only in the candidates); 50 RTP packets (PCMU, 20 ms) flow each way between the host candidates
192.0.2.10:54400 and 192.0.2.20:20000.

Run: python3 make_ws_pcap.py  (no dependencies; deterministic output)."""
import struct

CLI, SRV = (bytes([192, 0, 2, 10]), 50000), (bytes([192, 0, 2, 20]), 8080)
MEDIA_C, MEDIA_S = (bytes([192, 0, 2, 10]), 54400), (bytes([192, 0, 2, 20]), 20000)
T0 = 1700000000.0
frames = []
t = [T0]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def l4sum(src, dst, proto, seg):
    return csum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def emit(pkt, dt=0.001):
    t[0] += dt
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    frames.append((t[0], eth + pkt))


seq = {CLI: 1000, SRV: 5000}


def tcp(src, dst, flags, data=b"", dt=0.001):
    ack = seq[dst] if flags != 0x02 else 0
    h = struct.pack("!HHIIBBHHH", src[1], dst[1], seq[src], ack, 5 << 4, flags, 65535, 0, 0)
    seg = h + data
    seg = seg[:16] + struct.pack("!H", l4sum(src[0], dst[0], 6, seg)) + seg[18:]
    emit(ip(src[0], dst[0], 6, seg), dt)
    seq[src] = (seq[src] + len(data) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF


def udp(src, dst, data, dt):
    h = struct.pack("!HHHH", src[1], dst[1], 8 + len(data), 0)
    seg = h + data
    seg = seg[:6] + struct.pack("!H", l4sum(src[0], dst[0], 17, seg) or 0xFFFF) + seg[8:]
    emit(ip(src[0], dst[0], 17, seg), dt)


def ws_frame(opcode, payload, fin=True, mask=None):
    b0 = (0x80 if fin else 0) | opcode
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        h = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        h += mask
    return h + payload


masks = iter(bytes([0x37, 0xFA, 0x21, i]) for i in range(1, 100))


def client(payload, opcode=1, fin=True):
    return ws_frame(opcode, payload, fin, next(masks))


def server(payload, opcode=1, fin=True):
    return ws_frame(opcode, payload, fin)


def sip(start, headers, body=""):
    lines = [start] + headers + ["Content-Length: %d" % len(body.encode()), "", ""]
    return ("\r\n".join(lines) + body).encode()


CID_REG, CID_CALL = "reg-7j1sk2@df7jal23ls0d.invalid", "call-9a8b7c@df7jal23ls0d.invalid"
VIA_C = "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK%s"
FROM_A = "From: <sip:alice@example.com>;tag=a1"
TO_A = "To: <sip:alice@example.com>"
CONTACT = "Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>"

offer = "\r\n".join([
    "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
    "a=group:BUNDLE 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=candidate:1467250027 1 udp 2122260223 192.0.2.10 54400 typ host generation 0",
    "a=candidate:842163049 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.0.2.10 "
    "rport 54400 generation 0",
    "a=ice-ufrag:F7gI", "a=ice-pwd:x9cml/YzichV2+XlhiMu8g",
    "a=fingerprint:sha-256 D1:2C:BE:AD:C4:F6:64:5C:25:16:11:9C:AF:E7:0F:73:79:36:4E:9C:1E:15:"
    "54:39:0C:06:8B:A0:86:B4:C2:6E",
    "a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000", ""])
answer = "\r\n".join([
    "v=0", "o=- 1 2 IN IP4 192.0.2.20", "s=-", "t=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 0", "c=IN IP4 0.0.0.0",
    "a=candidate:1 1 udp 2130706431 192.0.2.20 20000 typ host",
    "a=ice-ufrag:Kp9q", "a=ice-pwd:3nVb6Yq0t3pZ8v2Kq7wXhR",
    "a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:"
    "60:71:82:93:A4:B5:C6:D7:E8:F9",
    "a=setup:passive", "a=mid:0", "a=sendrecv", "a=rtcp-mux", "a=rtpmap:0 PCMU/8000", ""])

# TCP handshake and the Upgrade (RFC 6455 4.1, RFC 7118 4).
tcp(CLI, SRV, 0x02)
tcp(SRV, CLI, 0x12)
tcp(CLI, SRV, 0x10)
tcp(CLI, SRV, 0x18, b"GET / HTTP/1.1\r\nHost: 192.0.2.20:8080\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: https://example.com\r\nSec-WebSocket-Protocol: sip\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n")
tcp(SRV, CLI, 0x18, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: sip\r\n\r\n")

# Registration: REGISTER, 401, REGISTER with credentials, 200.
reg = lambda cseq, br, extra=[]: sip("REGISTER sip:example.com SIP/2.0", [
    VIA_C % br, "Max-Forwards: 70", FROM_A, TO_A, "Call-ID: " + CID_REG,
    "CSeq: %d REGISTER" % cseq, CONTACT, "Expires: 600"] + extra)
tcp(CLI, SRV, 0x18, client(reg(1, "reg1")))
tcp(SRV, CLI, 0x18, server(sip("SIP/2.0 401 Unauthorized", [
    VIA_C % "reg1" + ";received=192.0.2.10", FROM_A, TO_A + ";tag=s1", "Call-ID: " + CID_REG,
    "CSeq: 1 REGISTER",
    'WWW-Authenticate: Digest realm="example.com", nonce="5a1b2c3d", algorithm=MD5'])))
tcp(CLI, SRV, 0x18, client(reg(2, "reg2", [
    'Authorization: Digest username="alice", realm="example.com", nonce="5a1b2c3d", '
    'uri="sip:example.com", response="0e1d2c3b4a5f60718293a4b5c6d7e8f9"'])))
tcp(SRV, CLI, 0x18, server(sip("SIP/2.0 200 OK", [
    VIA_C % "reg2" + ";received=192.0.2.10", FROM_A, TO_A + ";tag=s2", "Call-ID: " + CID_REG,
    "CSeq: 2 REGISTER", CONTACT + ";expires=600"])))

# A ping from the server and the client's pong: control frames, no SIP.
tcp(SRV, CLI, 0x18, server(b"keepalive", opcode=9))
tcp(CLI, SRV, 0x18, client(b"keepalive", opcode=10))
# A double-CRLF keep-alive in a text frame (as SIP.js sends): no SIP message, not malformed.
tcp(CLI, SRV, 0x18, client(b"\r\n\r\n"))

# The call. The INVITE in two fragments (two TCP segments).
FROM_C = "From: <sip:alice@example.com>;tag=c1"
TO_C, TO_CT = "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b1"
invite = sip("INVITE sip:bob@example.com SIP/2.0", [
    VIA_C % "inv1", "Max-Forwards: 70", FROM_C, TO_C, "Call-ID: " + CID_CALL, "CSeq: 1 INVITE",
    CONTACT, "Content-Type: application/sdp"], offer)
half = len(invite) // 2
tcp(CLI, SRV, 0x18, client(invite[:half], opcode=1, fin=False))
tcp(CLI, SRV, 0x18, client(invite[half:], opcode=0, fin=True))
resp = lambda st, br, cseq, to, extra=[], body="": sip(st, [
    VIA_C % br + ";received=192.0.2.10", FROM_C, to, "Call-ID: " + CID_CALL, "CSeq: " + cseq]
    + extra, body)
tcp(SRV, CLI, 0x18, server(resp("SIP/2.0 100 Trying", "inv1", "1 INVITE", TO_C)))
tcp(SRV, CLI, 0x18, server(resp("SIP/2.0 180 Ringing", "inv1", "1 INVITE", TO_CT)), dt=0.5)
ok = server(resp("SIP/2.0 200 OK", "inv1", "1 INVITE", TO_CT, [
    "Contact: <sip:bob@192.0.2.20:8080;transport=ws>", "Content-Type: application/sdp"], answer))
# One frame in two TCP segments.
tcp(SRV, CLI, 0x18, ok[:40], dt=1.5)
tcp(SRV, CLI, 0x18, ok[40:])
tcp(CLI, SRV, 0x18, client(sip("ACK sip:bob@192.0.2.20:8080;transport=ws SIP/2.0", [
    VIA_C % "ack1", "Max-Forwards: 70", FROM_C, TO_CT, "Call-ID: " + CID_CALL, "CSeq: 1 ACK"])))

# Media between the host candidates, rtcp-mux (no separate RTCP port).
for i in range(50):
    for src, dst, ssrc in ((MEDIA_C, MEDIA_S, 0x11223344), (MEDIA_S, MEDIA_C, 0x55667788)):
        rtp = struct.pack("!BBHII", 0x80, 0, 100 + i, 160 * i, ssrc) + bytes([0xFF]) * 160
        udp(src, dst, rtp, 0.01)

tcp(CLI, SRV, 0x18, client(sip("BYE sip:bob@192.0.2.20:8080;transport=ws SIP/2.0", [
    VIA_C % "bye1", "Max-Forwards: 70", FROM_C, TO_CT, "Call-ID: " + CID_CALL, "CSeq: 2 BYE"])),
    dt=0.2)
tcp(SRV, CLI, 0x18, server(resp("SIP/2.0 200 OK", "bye1", "2 BYE", TO_CT)))
tcp(CLI, SRV, 0x11)
tcp(SRV, CLI, 0x11)
tcp(CLI, SRV, 0x10)

with open(__file__.rsplit("/", 1)[0] + "/sip_ws.pcap" if "/" in __file__ else "sip_ws.pcap",
          "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for ts, data in frames:
        sec = int(ts)
        f.write(struct.pack("<IIII", sec, int(round((ts - sec) * 1e6)), len(data), len(data)))
        f.write(data)
