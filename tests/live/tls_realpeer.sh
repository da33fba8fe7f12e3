#!/usr/bin/env bash
# tls_realpeer: SIP over TLS between real SIP software, decrypted with the key log its TLS library
# wrote. kamailio (tls module, OpenSSL) answers OPTIONS and REGISTER on tls:127.0.0.1:PORT
# (TLS 1.2, AES-128-GCM) and tls:127.0.0.1:PORT+1 (TLS 1.2, ChaCha20-Poly1305); sipsak (GnuTLS)
# sends them, one TLS connection per run, and writes the NSS key log through GnuTLS's
# SSLKEYLOGFILE (kamailio 5.6's tls module cannot write one: it has no keylog_mode/keylog_file).
# tcpdump captures lo; `sipscope analyze --tls-keylog` must decrypt every session and count as
# many SIP messages as tshark with the same key log, and none without it. Loopback only; bounded.
# Not TLS 1.3: Debian 12's sipsak 0.9.8.1 fails to read the answer over TLS 1.3 ("nothing
# received, select returned error", exit 2), and its -M (MESSAGE) over TLS crashes.
#   tls_realpeer.sh SIPSCOPE_BINARY
set -euo pipefail
bin=$1
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root "needs root (tcpdump on lo)"
need_tool tcpdump "scripts/setup --test"
need_tool kamailio "scripts/setup --test"
need_tool sipsak "scripts/setup --test"
need_tool openssl
mpath=""
for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules; do
    [[ -f $d/tls.so ]] && { mpath=$d; break; }
done
[[ -n $mpath ]] || skip "kamailio's tls module is not installed (kamailio-tls-modules, scripts/setup --test)"
# (not "ldd | grep -q": grep leaving early kills ldd with SIGPIPE, which pipefail takes as a failure)
grep -q libgnutls <<<"$(ldd /usr/bin/sipsak 2>/dev/null)" ||
    skip "this sipsak is not built with GnuTLS (needed for SSLKEYLOGFILE)"

tmp=$(mktemp -d /tmp/sipscope-tlspeer-XXXXXX)
kam="" dump=""
# kamailio runs in its own process group (setsid), so that its children go with it.
stop_kamailio() {
    [[ -n $kam ]] || return 0
    kill -TERM -- "-$kam" 2>/dev/null || kill -TERM "$kam" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 -- "-$kam" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "-$kam" 2>/dev/null || true
    wait "$kam" 2>/dev/null || true
    kam=""
}
cleanup() {
    set +e
    [[ -n $dump ]] && { kill -9 "$dump" 2>/dev/null; wait "$dump" 2>/dev/null; }
    stop_kamailio
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 2>/dev/null

start_kamailio() {
    local port=$1
    cat > "$tmp/tls.cfg" <<EOF
[server:default]
method = TLSv1.2
cipher_list = ECDHE-RSA-AES128-GCM-SHA256
certificate = $tmp/cert.pem
private_key = $tmp/key.pem
verify_certificate = no
require_certificate = no

[server:127.0.0.1:$((port + 1))]
method = TLSv1.2
cipher_list = ECDHE-RSA-CHACHA20-POLY1305
certificate = $tmp/cert.pem
private_key = $tmp/key.pem
verify_certificate = no
require_certificate = no

[client:default]
verify_certificate = no
require_certificate = no
EOF
    cat > "$tmp/kamailio.cfg" <<EOF
#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=2
enable_tls=yes
auto_aliases=no
listen=tls:127.0.0.1:$port
listen=tls:127.0.0.1:$((port + 1))
mpath="$mpath/"
loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "textops.so"
modparam("tls", "config", "$tmp/tls.cfg")
request_route {
    if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
    if (is_method("REGISTER")) { sl_send_reply("200", "OK"); exit; }
    sl_send_reply("404", "Not Found");
}
EOF
    setsid kamailio -f "$tmp/kamailio.cfg" -P "$tmp/kamailio.pid" -w "$tmp" -DD -E \
        >"$tmp/kamailio.log" 2>&1 &
    kam=$!
    for _ in $(seq 50); do
        grep -q "127.0.0.1:$((port + 1))" <(ss -Hltn 2>/dev/null) && return 0
        kill -0 "$kam" 2>/dev/null || break
        sleep 0.1
    done
    stop_kamailio
    return 1
}

port=""
for _ in 1 2 3; do
    p=$((20000 + RANDOM % 30000))
    if start_kamailio "$p"; then port=$p; break; fi
done
[[ -n $port ]] || { echo "kamailio did not start"; cat "$tmp/kamailio.log"; exit 1; }

tcpdump -i lo --immediate-mode -U -w "$tmp/c.pcap" "tcp and (port $port or port $((port + 1)))" 2>"$tmp/tcpdump.log" &
dump=$!
wait_ready "$tmp/tcpdump.log" "listening on" "$dump" ||
    { echo "tcpdump did not start"; cat "$tmp/tcpdump.log"; exit 1; }

# Each sipsak run is one TLS connection: a request and kamailio's answer.
runs=0
sipsak_run() {
    if SSLKEYLOGFILE=$tmp/keys timeout 15 sipsak --transport=tls --tls-ca-cert="$tmp/cert.pem" "$@" \
        >>"$tmp/sipsak.log" 2>&1; then
        runs=$((runs + 1))
    else
        echo "sipsak $* failed:"; cat "$tmp/sipsak.log"; exit 1
    fi
}
for p in "$port" "$((port + 1))"; do
    printf '%s\r\n' "REGISTER sip:127.0.0.1:$p SIP/2.0" \
        "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-reg-$p;rport" \
        "From: <sip:alice@127.0.0.1>;tag=reg$p" "To: <sip:alice@127.0.0.1>" \
        "Call-ID: reg-$p-$RANDOM@127.0.0.1" "CSeq: 1 REGISTER" "Contact: <sip:alice@127.0.0.1;transport=tls>" \
        "Expires: 60" "Max-Forwards: 70" "Content-Length: 0" "" >"$tmp/register-$p.txt"
    sipsak_run -s "sip:ping@127.0.0.1:$p"
    sipsak_run -f "$tmp/register-$p.txt" -s "sip:alice@127.0.0.1:$p"
    sipsak_run -s "sip:ping@127.0.0.1:$p"
done
sleep 0.5
kill -INT "$dump"; wait "$dump" || true; dump=""
stop_kamailio

[[ -s $tmp/keys ]] || { echo "sipsak wrote no key log (SSLKEYLOGFILE)"; exit 1; }
fail=0
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))" "$1" "$2"; }
"$bin" analyze --json --db :memory: --tls-keylog "$tmp/keys" "$tmp/c.pcap" >"$tmp/with.json"
"$bin" analyze --json --db :memory: "$tmp/c.pcap" >"$tmp/without.json"
sess=$(field "$tmp/with.json" tls_sessions)
dec=$(field "$tmp/with.json" tls_decrypted)
sip=$(field "$tmp/with.json" sip_messages)
echo "with key log: tls_sessions=$sess tls_decrypted=$dec sip_messages=$sip ($runs sipsak runs)"
[[ $dec -ge 1 ]] || { echo "FAIL: nothing decrypted"; fail=1; }
[[ $dec -eq $sess && $sess -eq $runs ]] || { echo "FAIL: expected $runs sessions, all decrypted"; fail=1; }
[[ $sip -gt 0 ]] || { echo "FAIL: no SIP messages"; fail=1; }
if command -v tshark >/dev/null; then
    # The ports are not 5061, so tshark is told that they carry TLS and, inside it, SIP.
    ts=$(tshark -r "$tmp/c.pcap" -o "tls.keylog_file:$tmp/keys" \
        -d "tcp.port==$port,tls" -d "tcp.port==$((port + 1)),tls" \
        -d "tls.port==$port,sip" -d "tls.port==$((port + 1)),sip" -Y sip 2>/dev/null | wc -l)
    echo "tshark with the same key log: $ts SIP messages"
    [[ $ts -eq $sip ]] || { echo "FAIL: sipscope $sip vs tshark $ts"; fail=1; }
else
    echo "tshark is absent: comparison skipped"
fi
sess0=$(field "$tmp/without.json" tls_sessions)
sip0=$(field "$tmp/without.json" sip_messages)
echo "without key log: tls_sessions=$sess0 sip_messages=$sip0"
[[ $sip0 -eq 0 ]] || { echo "FAIL: SIP messages without the key log"; fail=1; }
[[ $sess0 -ge 1 ]] || { echo "FAIL: no TLS session seen without the key log"; fail=1; }
if [[ $fail -eq 0 ]]; then
    echo "1 passed, 0 failed"
else
    cp "$tmp/c.pcap" "/tmp/tls_realpeer-fail-$$.pcap"; cp "$tmp/keys" "/tmp/tls_realpeer-fail-$$.keys"
    echo "capture kept: /tmp/tls_realpeer-fail-$$.pcap (key log .keys)"
    echo "0 passed, 1 failed"; exit 1
fi
