#!/usr/bin/env bash
# capture_replay: `sipscope capture -i lo` on a simcalls capture replayed onto loopback with
# tcpreplay stores the same calls as `sipscope analyze` of the file; then SIGTERM in the middle
# of a replay loses nothing already captured. Loopback only; bounded in count and time.
#   capture_replay.sh SIPSCOPE_BINARY SHARED_DIR
set -euo pipefail
bin=$1
shared=$2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_simcalls "$shared"
need_tool tcpreplay "scripts/setup --test"
need_tool sqlite3 "scripts/setup --test"
need_root "live capture needs root (or CAP_NET_RAW)"
live_tmpdir live

# Only the documentation networks simcalls uses, so other loopback traffic stays out.
filter='net 192.0.2.0/24 or net 198.51.100.0/24 or net 203.0.113.0/24 or net 2001:db8::/32'
"$shared/tools/simcalls" --calls 30 --concurrency 10 --duration 4 --seed 9 --fail-ratio 0.1 \
    --cancel-ratio 0.1 --fragment-ratio 0.2 --tcp-ratio 0.2 --ipv6-ratio 0.2 --loss 0.01 \
    -w "$tmp/t.pcap" --truth "$tmp/t.json" >/dev/null
"$bin" analyze -q --db "$tmp/ref.db" "$tmp/t.pcap"

start_capture() {   # start_capture DB: background capture, wait until it is listening
    "$bin" capture -i lo -f "$filter" --db "$1" 2>"$tmp/capture.log" &
    pid=$!
    wait_ready "$tmp/capture.log" "capturing on" "$pid" && return 0
    echo "capture did not start"; cat "$tmp/capture.log"; exit 1
}
stop_capture() {
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid"
    local rc=$?
    pid=""
    return $rc
}
q() { sqlite3 "$1" "$2"; }

# 1. Whole replay at a bounded rate: the live store equals the file's.
rate=${REPLAY_PPS:-4000}
start_capture "$tmp/live.db"
timeout 120 tcpreplay -q -i lo --pps "$rate" "$tmp/t.pcap" >/dev/null 2>&1
sleep 1
stop_capture
drops=$(q "$tmp/live.db" "select coalesce(sum(value),0) from meta where key in ('capture.kernel_drops','capture.queue_drops','capture.if_drops')")
fail=0
check() {   # check WHAT SQL
    local a b
    a=$(q "$tmp/ref.db" "$2"); b=$(q "$tmp/live.db" "$2")
    if [[ "$a" != "$b" ]]; then echo "MISMATCH $1: analyze '$a' vs capture '$b'"; fail=1
    else echo "ok $1: $a"; fi
}
check "calls by state" "select group_concat(state || '=' || n) from (select state, count(*) n from calls group by state order by state)"
check "call ids" "select count(*), sum(length(call_id)) from calls"
check "sip messages" "select count(*) from sip_messages"
check "streams" "select count(*), sum(packets), sum(lost) from rtp_streams"
check "final codes" "select group_concat(final_status) from (select final_status from calls order by call_id)"
echo "replay at $rate packets/s: drops counted by capture = $drops"
[[ $drops -eq 0 ]] || { echo "drops at $rate pps"; fail=1; }

# 2. SIGTERM mid-replay: every SIP message the pipeline counted is in the store, and every call
#    that had begun is stored (as it stood).
start_capture "$tmp/cut.db"
timeout 120 tcpreplay -q -i lo --pps "$rate" "$tmp/t.pcap" >/dev/null 2>&1 &
replay=$!
sleep 2
stop_capture
kill "$replay" 2>/dev/null || true
wait "$replay" 2>/dev/null || true
counted=$(q "$tmp/cut.db" "select value from meta where key='live.sip_messages'")
stored=$(q "$tmp/cut.db" "select count(*) from sip_messages")
calls=$(q "$tmp/cut.db" "select count(*) from calls")
invites=$(q "$tmp/cut.db" "select count(distinct call_id) from sip_messages where method='INVITE' and is_request=1")
echo "SIGTERM mid-replay: $counted SIP messages counted, $stored stored; $calls calls for $invites INVITE dialogs"
[[ -n $counted && $counted -gt 0 && $counted -eq $stored ]] || fail=1
[[ $calls -eq $invites ]] || fail=1
pass_or_fail
