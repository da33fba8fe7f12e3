#!/bin/sh
# make.sh: how sip-tls.pcap and sip-tls.keys were made (run once, as root, on Debian 12 with
# OpenSSL 3.0, tcpdump and editcap; the results are committed, so the tests need no openssl).
# One TLS session per line of SESSIONS below, each on its own loopback port: openssl s_client
# sends client-N.txt (REGISTER, INVITE, ACK, BYE), openssl s_server answers with server-N.txt
# (200 OK to each; the sleeps order them as a real exchange would); both write their secrets to sip-tls.keys (NSS key log format).
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 3650 -subj /CN=sip.example.com 2>/dev/null
SESSIONS='
1 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
2 -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
3 -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
4 -tls1_2 -no_etm -cipher ECDHE-RSA-AES128-SHA
5 -tls1_2 -no_etm -cipher ECDHE-RSA-AES256-SHA384
6 -tls1_2 -cipher AES128-SHA256
7 -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
8 -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
9 -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
'
rm -f sip-tls.keys client-*.txt server-*.txt
python3 - <<'PY'
import os
for n in range(1, 10):
    cid = "call-%d@example.com" % n
    def req(m, cseq, extra=""):
        return ("%s sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK%s%d\r\n"
                "From: <sip:alice@example.com>;tag=a%d\r\nTo: <sip:bob@example.com>%s\r\nCall-ID: %s\r\n"
                "CSeq: %d %s\r\nContact: <sips:alice@127.0.0.1>\r\nContent-Length: 0\r\n\r\n"
                % (m, m.lower(), n, n, extra, cid, cseq, m))
    def resp(m, cseq, via, callid, totag):
        return ("SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK%s\r\n"
                "From: <sip:alice@example.com>;tag=a%d\r\nTo: <sip:bob@example.com>%s\r\nCall-ID: %s\r\n"
                "CSeq: %d %s\r\nContent-Length: 0\r\n\r\n" % (via, n, totag, callid, cseq, m))
    reg = ("REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKreg%d\r\n"
           "From: <sip:alice@example.com>;tag=r%d\r\nTo: <sip:alice@example.com>\r\nCall-ID: reg-%d@example.com\r\n"
           "CSeq: 1 REGISTER\r\nContact: <sips:alice@127.0.0.1>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n" % (n, n, n))
    regok = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKreg%d\r\n"
             "From: <sip:alice@example.com>;tag=r%d\r\nTo: <sip:alice@example.com>;tag=s%d\r\nCall-ID: reg-%d@example.com\r\n"
             "CSeq: 1 REGISTER\r\nContact: <sips:alice@127.0.0.1>;expires=3600\r\nContent-Length: 0\r\n\r\n" % (n, n, n, n))
    c = [reg, req("INVITE", 1), req("ACK", 1, ";tag=b%d" % n), req("BYE", 2, ";tag=b%d" % n)]
    s = [regok, resp("INVITE", 1, "invite%d" % n, cid, ";tag=b%d" % n), resp("BYE", 2, "bye%d" % n, cid, ";tag=b%d" % n)]
    for i, m in enumerate(c):
        open("c%d-%d.part" % (n, i), "w", newline="").write(m)
    for i, m in enumerate(s):
        open("s%d-%d.part" % (n, i), "w", newline="").write(m)
    open("client-%d.txt" % n, "w", newline="").write("".join(c))
    open("server-%d.txt" % n, "w", newline="").write("".join(s))
PY
tcpdump -i lo -U -w "$work/all.pcap" 'tcp portrange 15061-15069' 2>/dev/null &
dump=$!
sleep 1
echo "$SESSIONS" | while read -r n opts; do
    [ -n "$n" ] || continue
    port=$((15060 + n))
    { sleep 0.9; cat "s$n-0.part"; sleep 0.4; cat "s$n-1.part"; sleep 1.1; cat "s$n-2.part"; sleep 1; } |
        openssl s_server -quiet -naccept 1 -accept "$port" -cert "$work/cert.pem" -key "$work/key.pem" \
            -keylogfile "$work/keys-s$n" $opts >/dev/null 2>&1 &
    srv=$!
    sleep 0.3
    { sleep 0.3; cat "c$n-0.part"; sleep 0.5; cat "c$n-1.part"; sleep 0.5; cat "c$n-2.part"; sleep 0.5; cat "c$n-3.part"; sleep 1.5; } |
        openssl s_client -quiet -nocommands -no_ign_eof -connect "127.0.0.1:$port" \
            -servername sip.example.com -keylogfile "$work/keys-c$n" $opts >/dev/null 2>&1 || true
    wait $srv || true
    cat "$work/keys-c$n" >> sip-tls.keys
done
sleep 1
kill $dump; wait $dump || true
mv "$work/all.pcap" sip-tls.pcap
rm -f ./*.part
# The same with the key log inside, as a pcapng Decryption Secrets Block.
editcap --inject-secrets tls,sip-tls.keys sip-tls.pcap sip-tls-dsb.pcapng
