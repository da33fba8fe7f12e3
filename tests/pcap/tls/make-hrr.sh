#!/bin/sh
# make-hrr.sh: how sip-tls-hrr.pcap and sip-tls-hrr.keys were made (as make.sh, one TLS 1.3
# session on port 15070 whose server only takes X25519 while the client's first key share is
# P-256: the server answers with a HelloRetryRequest, the client sends a second ClientHello).
# It carries client-7.txt and server-7.txt.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 3650 -subj /CN=sip.example.com 2>/dev/null
tcpdump -i lo -U -w "$work/hrr.pcap" 'tcp port 15070' 2>/dev/null &
dump=$!
sleep 1
{ sleep 1.2; cat server-7.txt; sleep 2; } |
    openssl s_server -quiet -naccept 1 -accept 15070 -cert "$work/cert.pem" -key "$work/key.pem" \
        -tls1_3 -groups X25519 >/dev/null 2>&1 &
srv=$!
sleep 0.3
{ sleep 0.5; cat client-7.txt; sleep 2; } |
    openssl s_client -quiet -nocommands -no_ign_eof -connect 127.0.0.1:15070 -tls1_3 \
        -groups P-256:X25519 -servername sip.example.com -keylogfile "$work/keys" >/dev/null 2>&1 || true
wait $srv || true
sleep 1
kill $dump; wait $dump || true
mv "$work/hrr.pcap" sip-tls-hrr.pcap
cp "$work/keys" sip-tls-hrr.keys
