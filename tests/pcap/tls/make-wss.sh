#!/bin/sh
# make-wss.sh: how sip-wss.pcap and sip-wss.keys were made (as make.sh): SIP over secure
# WebSocket (RFC 7118 "wss"), one TLS 1.2 session on port 15072. The client sends an HTTP
# Upgrade (Sec-WebSocket-Protocol: sip) and then client-1.txt's messages, one masked text frame
# each; the server answers 101 and server-1.txt's messages, one unmasked frame each.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 3650 -subj /CN=sip.example.com 2>/dev/null
python3 - "$work" <<'PY'
import struct, sys
w = sys.argv[1]
def msgs(path):
    text = open(path, "rb").read()
    out = []
    while text:
        end = text.index(b"\r\n\r\n") + 4  # every message here has Content-Length: 0
        out.append(text[:end]); text = text[end:]
    return out
def frame(payload, mask):
    head = bytes([0x81])
    n = len(payload)
    lenb = bytes([n | (0x80 if mask else 0)]) if n < 126 else bytes([126 | (0x80 if mask else 0)]) + struct.pack(">H", n)
    if not mask:
        return head + lenb + payload
    key = bytes([0x11, 0x22, 0x33, 0x44])
    return head + lenb + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
up = (b"GET / HTTP/1.1\r\nHost: sip.example.com:15072\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
      b"Sec-WebSocket-Version: 13\r\n\r\n")
ok = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
c = msgs("client-1.txt"); s = msgs("server-1.txt")
open(w + "/c0", "wb").write(up)
for i, m in enumerate(c):
    open(w + "/c%d" % (i + 1), "wb").write(frame(m, True))
open(w + "/s0", "wb").write(ok)
for i, m in enumerate(s):
    open(w + "/s%d" % (i + 1), "wb").write(frame(m, False))
PY
tcpdump -i lo -U -w "$work/wss.pcap" 'tcp port 15072' 2>/dev/null &
dump=$!
sleep 1
{ sleep 0.8; cat "$work/s0"; sleep 0.5; cat "$work/s1"; sleep 0.5; cat "$work/s2"; sleep 1.1
  cat "$work/s3"; sleep 1; } |
    openssl s_server -quiet -naccept 1 -accept 15072 -cert "$work/cert.pem" -key "$work/key.pem" \
        -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 >/dev/null 2>&1 &
srv=$!
sleep 0.3
{ sleep 0.3; cat "$work/c0"; sleep 0.5; cat "$work/c1"; sleep 0.5; cat "$work/c2"; sleep 0.5
  cat "$work/c3"; sleep 0.5; cat "$work/c4"; sleep 1.5; } |
    openssl s_client -quiet -nocommands -no_ign_eof -connect 127.0.0.1:15072 -tls1_2 \
        -cipher ECDHE-RSA-AES128-GCM-SHA256 -servername sip.example.com \
        -keylogfile "$work/keys" >/dev/null 2>&1 || true
wait $srv || true
sleep 1
kill $dump; wait $dump || true
mv "$work/wss.pcap" sip-wss.pcap
cp "$work/keys" sip-wss.keys
