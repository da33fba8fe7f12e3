#!/bin/sh
# make-keyupdate.sh: how sip-tls-keyupdate.pcap and sip-tls-keyupdate.keys were made (as
# make.sh, one TLS 1.3 session on port 15071 carrying client-8.txt and server-8.txt): after its
# first 200 OK the server sends a KeyUpdate asking for one back (s_server's "K" command), so
# both directions move to their next traffic secrets mid-session.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 3650 -subj /CN=sip.example.com 2>/dev/null
python3 - "$work" <<'PY'
import sys
text = open("server-8.txt", newline="").read()
first = text.index("\r\n\r\n") + 4  # the first 200 OK ends there (Content-Length: 0)
open(sys.argv[1] + "/s0", "w", newline="").write(text[:first])
open(sys.argv[1] + "/s1", "w", newline="").write(text[first:])
PY
tcpdump -i lo -U -w "$work/ku.pcap" 'tcp port 15071' 2>/dev/null &
dump=$!
sleep 1
{ sleep 1.0; cat "$work/s0"; sleep 0.5; printf 'K\n'; sleep 1.0; cat "$work/s1"; sleep 2; } |
    openssl s_server -naccept 1 -accept 15071 -cert "$work/cert.pem" -key "$work/key.pem" \
        -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 >/dev/null 2>&1 &
srv=$!
sleep 0.3
{ sleep 0.4; cat client-8.txt; sleep 3.5; } |
    openssl s_client -quiet -nocommands -no_ign_eof -connect 127.0.0.1:15071 -tls1_3 \
        -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -servername sip.example.com \
        -keylogfile "$work/keys" >/dev/null 2>&1 || true
wait $srv || true
sleep 1
kill $dump; wait $dump || true
mv "$work/ku.pcap" sip-tls-keyupdate.pcap
cp "$work/keys" sip-tls-keyupdate.keys
