#!/usr/bin/env bash
# hep_qos: RTP quality over HEP. A probe (`analyze --hep-out`, HEP id 7) replays a simcalls
# capture with loss, jitter, reordering and duplicates into a central `run --hep-in`, which gets
# SIP and the probe's quality reports (HEP type 34) but no RTP. The central's streams must
# equal the probe's own `analyze` of the file call by call (packets, lost, max delta, jitter,
# MOS, codec, what RTCP said, one row per stream), and so must their chart samples (every
# interval's packets, lost, jitter, max jitter, MOS), carry the probe id, and the calls' MOS,
# one_way and verdict must be the same; the API shows the streams with "probe": 7. Over TCP,
# then UDP. Loopback only; bounded in time.
#   hep_qos.sh SIPSCOPE_BINARY SHARED_DIR
set -euo pipefail
bin=$1
shared=$2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_simcalls "$shared"
need_tool sqlite3 "scripts/setup --test"
need_tool python3
live_tmpdir hepqos

"$shared/tools/simcalls" --calls 40 --concurrency 12 --duration 20 --seed 16 --codec mix \
    --loss 0.02 --jitter-ms 3 --reorder 0.01 --dup 0.01 --fail-ratio 0.1 --cancel-ratio 0.1 \
    --oneway-ratio 0.1 --nat-ratio 0.1 --ipv6-ratio 0.2 \
    -w "$tmp/t.pcap" --truth "$tmp/t.json" -q
"$bin" analyze -q --db "$tmp/ref.db" "$tmp/t.pcap"

q() { sqlite3 "$1" "$2"; }
fail=0
check() {
    local what=$1 db=$2 sql=$3 a b
    a=$(q "$tmp/ref.db" "$sql"); b=$(q "$db" "$sql")
    if [[ "$a" != "$b" ]]; then
        echo "MISMATCH $what"; diff <(echo "$a" | tr ';' '\n') <(echo "$b" | tr ';' '\n') | head -20
        fail=1
    else echo "ok $what ($(echo "$a" | tr ';' '\n' | wc -l) rows)"; fi
}

streams="select group_concat(r, ';') from (select call_id || '|' || src || '|' || dst || '|' ||
  ssrc || '|' || packets || '|' || lost || '|' || max_delta_ms || '|' || mean_jitter_ms || '|' ||
  max_jitter_ms || '|' || coalesce(mos, '') || '|' || codec || '|' || payload_type || '|' ||
  coalesce(rtcp_fraction_lost, '') || '|' || coalesce(rtcp_cumulative_lost, '') || '|' ||
  coalesce(rtcp_jitter_ms, '') || '|' || coalesce(rtcp_rtt_ms, '') r
  from rtp_streams where call_id is not null order by call_id, src, dst, ssrc)"
# The streams' chart samples, from the probe's SAMPLE reports.
samples="select group_concat(r, ';') from (select s.call_id || '|' || s.src || '|' || s.dst ||
  '|' || s.ssrc || '|' || x.start_time || '|' || x.packets || '|' || x.lost || '|' ||
  x.jitter_ms || '|' || x.max_jitter_ms || '|' || x.mos r
  from stream_samples x join rtp_streams s on s.id = x.stream_row where s.call_id is not null
  order by s.call_id, s.src, s.dst, s.ssrc, x.start_time)"
calls="select group_concat(r, ';') from (select call_id || '|' || state || '|' ||
  coalesce(mos, '') || '|' || one_way || '|' || coalesce(verdict, '') r from calls
  order by call_id)"

for transport in tcp udp; do
    db="$tmp/central-$transport.db"
    start_on_free_port "$tmp/central.log" "receiving HEP" \
        "$bin" run --hep-in "127.0.0.1:@PORT@" --db "$db" --listen "127.0.0.1:0"
    "$bin" analyze -q --db :memory: --hep-out "127.0.0.1:$port,transport=$transport" --hep-id 7 \
        "$tmp/t.pcap"
    sleep 1
    stop_started
    echo "== $transport"
    check "streams ($transport)" "$db" "$streams"
    check "stream samples ($transport)" "$db" "$samples"
    check "calls' mos, one_way and verdict ($transport)" "$db" "$calls"
    probes=$(q "$db" "select group_concat(p) from (select distinct coalesce(probe, 'none') p
      from rtp_streams)")
    reports=$(q "$db" "select value from meta where key = 'hep.qos_reports'")
    orphans=$(q "$db" "select value from meta where key = 'corr.remote_orphans'")
    echo "stream probes: $probes; quality reports: $reports; for no call: $orphans"
    [[ $probes == 7 ]] || { echo "expected every stream from probe 7"; fail=1; }
    [[ -n $reports && $reports -gt $(q "$db" "select count(*) from rtp_streams") ]] ||
        { echo "expected periodic reports besides the final ones"; fail=1; }
done

# The API shows the remote streams like local ones, with the probe id.
start_on_free_port "$tmp/serve.log" "serving" "$bin" serve --db "$tmp/central-tcp.db" --listen "127.0.0.1:@PORT@"
python3 - "$port" <<'EOF' || fail=1
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/api/v1"
calls = json.load(urllib.request.urlopen(f"{base}/calls?limit=100"))["calls"]
seen = 0
for c in calls:
    detail = json.load(urllib.request.urlopen(f"{base}/calls/{c['id']}"))
    for s in detail["streams"]:
        assert s["probe"] == 7, s
        assert s["packets"] > 0 and "mos" in s and "mean_jitter_ms" in s, s
        seen += 1
streams = json.load(urllib.request.urlopen(f"{base}/streams?limit=1"))["streams"]
assert streams and streams[0]["probe"] == 7, streams
assert seen > 0
print(f"ok API: {seen} streams of {len(calls)} calls with \"probe\": 7")
EOF
stop_started
pass_or_fail
