#!/usr/bin/env bash
# hep_central: a central `sipscope run --hep-in` fed by two `sipscope analyze --hep-out` probes,
# each replaying a half of one simcalls capture (the halves overlap, so some messages reach the
# centre twice), stores the same calls, states and SIP messages as `analyze` of the whole file,
# with each message's probe id. Loopback only; bounded in time.
#   hep_central.sh SIPSCOPE_BINARY SHARED_DIR
set -euo pipefail
bin=$1
shared=$2
# Exit status 77 is "skipped" to ctest (SKIP_RETURN_CODE), never a pass.
skip() { echo "SKIPPED hep_central: $*"; exit 77; }
[[ -x $shared/tools/simcalls ]] || skip "$shared/tools/simcalls is absent"
command -v editcap >/dev/null || skip "editcap is not installed (tshark's package)"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed (scripts/setup --test)"

tmp=$(mktemp -d /tmp/sipscope-hep-XXXXXX)
pid=""
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$shared/tools/simcalls" --calls 24 --concurrency 8 --duration 4 --seed 21 --fail-ratio 0.1 \
    --cancel-ratio 0.1 --ipv6-ratio 0.2 --register-flood 60 \
    -w "$tmp/t.pcap" --truth "$tmp/t.json" >/dev/null
"$bin" analyze -q --db "$tmp/ref.db" "$tmp/t.pcap"
total=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['packets'])" "$tmp/t.json")
half=$((total / 2))
editcap -r "$tmp/t.pcap" "$tmp/a.pcap" "1-$((half + 400))" >/dev/null
editcap -r "$tmp/t.pcap" "$tmp/b.pcap" "$((half + 1))-$total" >/dev/null

for _ in 1 2 3; do
    port=$((20000 + RANDOM % 30000))
    "$bin" run --hep-in "127.0.0.1:$port" --db "$tmp/central.db" --listen "127.0.0.1:$((port + 1))" \
        2>"$tmp/central.log" &
    pid=$!
    for _ in $(seq 50); do
        grep -q "receiving HEP" "$tmp/central.log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q "receiving HEP" "$tmp/central.log" && break
    kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""
done
[[ -n $pid ]] || { echo "central did not start"; cat "$tmp/central.log"; exit 1; }

"$bin" analyze -q --db :memory: --hep-out "127.0.0.1:$port,transport=tcp" --hep-id 1 "$tmp/a.pcap"
"$bin" analyze -q --db :memory: --hep-out "127.0.0.1:$port,transport=tcp" --hep-id 2 "$tmp/b.pcap"
sleep 1
kill -TERM "$pid"
wait "$pid"
pid=""

q() { sqlite3 "$1" "$2"; }
fail=0
check() {
    local a b
    a=$(q "$tmp/ref.db" "$2"); b=$(q "$tmp/central.db" "$2")
    if [[ "$a" != "$b" ]]; then echo "MISMATCH $1: whole file '$a' vs central '$b'"; fail=1
    else echo "ok $1: $a"; fi
}
check "calls by state" "select group_concat(state || '=' || n) from (select state, count(*) n from calls group by state order by state)"
check "calls" "select group_concat(call_id || ':' || state || ':' || coalesce(final_status,'')) from (select * from calls order by call_id)"
check "sip messages" "select count(*) from sip_messages"
check "messages per call" "select group_concat(n) from (select count(*) n from sip_messages group by call_id order by call_id)"
probes=$(q "$tmp/central.db" "select group_concat(p || '=' || n) from (select coalesce(probe,'none') p, count(*) n from sip_messages group by probe order by probe)")
dups=$(q "$tmp/central.db" "select value from meta where key='hep.duplicates'")
echo "messages by probe: $probes; duplicates dropped: $dups"
[[ $probes == 1=*,2=* ]] || { echo "expected messages from probes 1 and 2"; fail=1; }
[[ -n $dups && $dups -gt 0 ]] || { echo "expected the overlap to be de-duplicated"; fail=1; }
[[ $fail -eq 0 ]] && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; exit 1; }
