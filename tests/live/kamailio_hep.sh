#!/usr/bin/env bash
# kamailio_hep: real HEP software on both ends of sipscope, on loopback only.
#  A. Kamailio as a proxy with its siptrace module mirrors every SIP message it receives and
#     sends as HEPv3 into `sipscope run --hep-in`. SIPp makes 5 answered calls through it and 3
#     that the proxy rejects (486). The central must hold exactly those calls with their states
#     and final statuses, every message of both legs (13 for an answered call, 3 for a
#     rejected one), each with Kamailio's capture id as its probe.
#  B. `sipscope analyze --hep-out` replays a simcalls capture (UDP and TCP, IPv4 and IPv6,
#     answered, failed and cancelled calls, REGISTERs) into Kamailio's sipcapture module
#     storing into SQLite (kamailio-sqlite-modules). Every message of sipscope's own analyze of
#     the file must be in Kamailio's sip_capture table with the same source and destination,
#     transport, capture time to the microsecond, Call-ID and text, and sipscope's HEP id in
#     Kamailio's node column; with qos=off Kamailio logs no parse error.
#   kamailio_hep.sh SIPSCOPE_BINARY SHARED_DIR
set -euo pipefail
bin=$1
shared=$2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tool kamailio "scripts/setup --test"
need_tool sipp "sip-tester; scripts/setup --test"
need_tool sqlite3 "scripts/setup --test"
need_simcalls "$shared"
moddir=""
for d in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/local/lib*/kamailio/modules; do
    [[ -f $d/siptrace.so ]] && moddir=$d && break
done
[[ -n $moddir ]] || skip "Kamailio's modules (siptrace.so) not found"
[[ -f $moddir/sipcapture.so ]] || skip "Kamailio's sipcapture module is absent"
[[ -f $moddir/db_sqlite.so ]] || skip "db_sqlite is absent (kamailio-sqlite-modules)"

live_tmpdir kamailio
pids=()
cleanup() {
    # Kamailio's main process ends its children on SIGTERM (killed outright, it would leave them
    # running): ask first, then end what is left, children by their parent's id.
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        pkill -9 -P "$p" 2>/dev/null || true
        kill -9 "$p" 2>/dev/null || true
    done
    [[ -n ${KEEP_TMP:-} ]] && echo "kept $tmp" || rm -rf "$tmp"
}
fail=0
expect() { # expect WHAT WANT GOT
    if [[ "$2" != "$3" ]]; then echo "MISMATCH $1: want '$2', got '$3'"; fail=1
    else echo "ok $1: $3"; fi
}
# The head of a Kamailio configuration: CHILDREN worker processes on udp:127.0.0.1:PORT.
kamailio_cfg_head() {
    cat <<EOF
debug=2
log_stderror=yes
children=$1
disable_tcp=yes
listen=udp:127.0.0.1:$2
mpath="$moddir/"
EOF
}
# Start Kamailio on $tmp/NAME.cfg (log $tmp/NAME.log) and wait until it listens; $kam is its pid.
start_kamailio() {
    kamailio -f "$tmp/$1.cfg" -DD -E -Y "$tmp" -P "$tmp/$1.pid" -m 32 -M 4 >"$tmp/$1.log" 2>&1 &
    kam=$!
    pids+=("$kam")
    disown
    wait_for "$tmp/$1.log" "SO_RCVBUF is finally"
}

# Below 32768, where the kernel's ephemeral ports (other programs' outgoing connections) start.
base=$((20000 + RANDOM % 12700))
hep=$base proxy=$((base + 1)) uas=$((base + 2)) uac=$((base + 3)) busy=$((base + 4))
capture=$((base + 5))

# ---- A: Kamailio siptrace -> sipscope run --hep-in ----
"$bin" run --hep-in "127.0.0.1:$hep" --db "$tmp/central.db" --listen 127.0.0.1:0 \
    2>"$tmp/central.log" &
central=$!
pids+=("$central")
wait_for "$tmp/central.log" "receiving HEP"

{ kamailio_cfg_head 2 "$proxy"; cat <<EOF; } >"$tmp/proxy.cfg"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:$hep")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "hep_capture_id", 55)
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_mode", 1)
request_route {
    if (has_totag()) {
        if (is_method("ACK") && \$rU == "busy") { exit; }
        if (!loose_route()) { \$du = "sip:127.0.0.1:$uas"; }
        if (is_method("ACK")) { forward(); exit; }
        t_relay();
        exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (\$rU == "busy") { sl_send_reply("486", "Busy Here"); exit; }
    record_route();
    \$du = "sip:127.0.0.1:$uas";
    t_relay();
}
EOF
start_kamailio proxy

cat >"$tmp/busy.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="rejected by the proxy">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="486"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

  ]]></send>
</scenario>
EOF
sipp -sn uas -i 127.0.0.1 -p "$uas" -nostdin >"$tmp/uas.out" 2>&1 &
pids+=($!)
disown
sleep 0.5
sipp -sn uac "127.0.0.1:$proxy" -s bob -i 127.0.0.1 -p "$uac" -m 5 -r 10 -d 500 -nostdin \
    -timeout 30s -timeout_error >"$tmp/uac.out" 2>&1 || { echo "sipp uac failed"; tail -20 "$tmp/uac.out"; fail=1; }
sipp -sf "$tmp/busy.xml" "127.0.0.1:$proxy" -s busy -i 127.0.0.1 -p "$busy" -m 3 -r 10 -nostdin \
    -timeout 30s -timeout_error >"$tmp/busy.out" 2>&1 || { echo "sipp busy failed"; tail -20 "$tmp/busy.out"; fail=1; }
sleep 1
kill -TERM "$central"
wait "$central"
q() { sqlite3 "$tmp/central.db" "$1"; }
expect "calls by state, final status and SIP messages (both legs)" \
    "completed:200:13:5,rejected:486:3:3" \
    "$(q "select group_concat(r) from (select state || ':' || final_status || ':' || sip_messages
          || ':' || count(*) r from calls group by state, final_status, sip_messages order by 1)")"
expect "answered calls' caller (SIPp's UAC)" "127.0.0.1:$uac" \
    "$(q "select group_concat(distinct caller) from calls where state = 'completed'")"
expect "messages by probe (Kamailio's hep_capture_id)" "55:74" \
    "$(q "select group_concat(coalesce(probe, 'none') || ':' || n) from
          (select probe, count(*) n from sip_messages group by probe)")"

# ---- B: sipscope --hep-out -> Kamailio sipcapture -> SQLite ----
"$shared/tools/simcalls" --calls 16 --concurrency 4 --duration 2 --seed 12 --fail-ratio 0.15 \
    --cancel-ratio 0.15 --ipv6-ratio 0.3 --tcp-ratio 0.3 --register-flood 20 \
    -w "$tmp/t.pcap" --truth "$tmp/t.json" -q
"$bin" analyze -q --db "$tmp/ref.db" "$tmp/t.pcap"
# The columns sipcapture writes (Kamailio 5.6, Homer 5 layout).
cols="date TEXT, micro_ts INTEGER, method TEXT, reply_reason TEXT, ruri TEXT, ruri_user TEXT,
  ruri_domain TEXT, from_user TEXT, from_domain TEXT, from_tag TEXT, to_user TEXT, to_domain TEXT,
  to_tag TEXT, pid_user TEXT, contact_user TEXT, auth_user TEXT, callid TEXT, callid_aleg TEXT,
  via_1 TEXT, via_1_branch TEXT, cseq TEXT, diversion TEXT, reason TEXT, content_type TEXT,
  auth TEXT, user_agent TEXT, source_ip TEXT, source_port INTEGER, destination_ip TEXT,
  destination_port INTEGER, contact_ip TEXT, contact_port INTEGER, originator_ip TEXT,
  originator_port INTEGER, expires INTEGER, correlation_id TEXT, custom_field1 TEXT,
  custom_field2 TEXT, custom_field3 TEXT, proto INTEGER, family INTEGER, rtp_stat TEXT,
  type INTEGER, node TEXT, msg TEXT"
# WAL, so that reading the count never makes Kamailio's insert fail (db_sqlite sets no busy
# timeout); one child, so that its inserts never meet another's.
sqlite3 "$tmp/capture.db" "PRAGMA journal_mode = WAL;
    CREATE TABLE sip_capture (id INTEGER PRIMARY KEY AUTOINCREMENT, $cols);" >/dev/null
{ kamailio_cfg_head 1 "$capture"; cat <<EOF; } >"$tmp/capture.cfg"
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "sipcapture.so"
modparam("sipcapture", "db_url", "sqlite://$tmp/capture.db")
modparam("sipcapture", "capture_on", 1)
modparam("sipcapture", "hep_capture_on", 1)
request_route { sip_capture(); drop; }
onreply_route { sip_capture(); drop; }
EOF
start_kamailio capture
"$bin" analyze -q --db :memory: --hep-out "127.0.0.1:$capture,qos=off" --hep-id 77 "$tmp/t.pcap"
want=$(sqlite3 "$tmp/ref.db" "select count(*) from sip_messages")
for _ in $(seq 100); do
    n=$(sqlite3 -cmd ".timeout 2000" "$tmp/capture.db" "select count(*) from sip_capture" || true)
    [[ ${n:-0} -ge $want ]] && break
    sleep 0.1
done
# Kamailio holds the database's lock while it runs: stop it before reading.
kill -TERM "$kam"
for _ in $(seq 50); do kill -0 "$kam" 2>/dev/null || break; sleep 0.1; done
# One line per message: capture time in microseconds, addresses, transport, Call-ID, text.
sqlite3 "$tmp/ref.db" "select cast(round(time * 1000000) as integer) || '|' || src || '|' || dst
    || '|' || case transport when 6 then 'tcp' else 'udp' end || '|' || call_id || '|' || hex(raw)
    from sip_messages" | sort >"$tmp/want.txt"
sqlite3 "$tmp/capture.db" "select micro_ts || '|' ||
    case when instr(source_ip, ':') then '[' || source_ip || ']' else source_ip end || ':' ||
    source_port || '|' ||
    case when instr(destination_ip, ':') then '[' || destination_ip || ']' else destination_ip end
    || ':' || destination_port || '|' || case proto when 2 then 'tcp' else 'udp' end || '|' ||
    callid || '|' || hex(msg) from sip_capture" | sort >"$tmp/got.txt"
if diff -q "$tmp/want.txt" "$tmp/got.txt" >/dev/null; then
    echo "ok every message in Kamailio's sip_capture: $want, same addresses, transport," \
         "time (us), Call-ID and text"
else
    echo "MISMATCH sip_capture against analyze (want $want rows, got $(wc -l <"$tmp/got.txt")):"
    diff "$tmp/want.txt" "$tmp/got.txt" | cut -c1-200 | head -10
    fail=1
fi
expect "Kamailio's node (capture id)" "homer01:77" \
    "$(sqlite3 "$tmp/capture.db" "select group_concat(distinct node) from sip_capture")"
expect "TCP and IPv6 messages among them" "yes:yes" \
    "$(sqlite3 "$tmp/capture.db" "select case when sum(proto = 2) > 0 then 'yes' else 'no' end
        || ':' || case when sum(family = 10) > 0 then 'yes' else 'no' end from sip_capture")"
expect "SIP parse errors in Kamailio's log (qos=off)" 0 \
    "$(grep -ac 'parse_first_line' "$tmp/capture.log" || true)"

pass_or_fail
