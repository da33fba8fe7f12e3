#!/usr/bin/env bash
# hep_central: a central `sipscope run --hep-in` fed by two `sipscope analyze --hep-out` probes,
# each replaying a half of one simcalls capture (the halves overlap, so some messages reach the
# centre twice), stores the same calls, states and SIP messages as `analyze` of the whole file,
# with each message's probe id. Loopback only; bounded in time.
#   hep_central.sh SIPSCOPE_BINARY SHARED_DIR
set -euo pipefail
bin=$1
shared=$2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_simcalls "$shared"
need_tool editcap "tshark's package"
need_tool sqlite3 "scripts/setup --test"
live_tmpdir hep

"$shared/tools/simcalls" --calls 24 --concurrency 8 --duration 4 --seed 21 --fail-ratio 0.1 \
    --cancel-ratio 0.1 --ipv6-ratio 0.2 --register-flood 60 \
    -w "$tmp/t.pcap" --truth "$tmp/t.json" >/dev/null
"$bin" analyze -q --db "$tmp/ref.db" "$tmp/t.pcap"
total=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['packets'])" "$tmp/t.json")
half=$((total / 2))
editcap -r "$tmp/t.pcap" "$tmp/a.pcap" "1-$((half + 400))" >/dev/null
editcap -r "$tmp/t.pcap" "$tmp/b.pcap" "$((half + 1))-$total" >/dev/null

start_on_free_port "$tmp/central.log" "receiving HEP" \
    "$bin" run --hep-in "127.0.0.1:@PORT@" --db "$tmp/central.db" --listen "127.0.0.1:0"

"$bin" analyze -q --db :memory: --hep-out "127.0.0.1:$port,transport=tcp" --hep-id 1 "$tmp/a.pcap"
"$bin" analyze -q --db :memory: --hep-out "127.0.0.1:$port,transport=tcp" --hep-id 2 "$tmp/b.pcap"
sleep 1
stop_started

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
pass_or_fail
