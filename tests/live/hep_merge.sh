#!/usr/bin/env bash
# hep_merge: several probes (`sipscope analyze --hep-out`, ids 11, 12, 13) send frames of one
# simcalls capture at the same time, at full replay speed, to one central `sipscope run
# --hep-in`, which merges them by capture time. Every call it stores must equal `analyze` of
# the whole file (state, final status, SIP message count), and the last calls must be stored
# by wall clock after the probes go quiet (the capture's timestamps are in the past), before
# the central is stopped. Scenarios:
#   tcp     two probes, alternate frames, every 7th frame to both, over TCP
#   udp     the same over UDP
#   repeat  the two, plus a third probe that repeats every 5th frame
#   stop    probe 12 stops half way; probe 11 sends the rest
#   idle    1,000 idle TCP connections held open to the central while probe 11 sends the
#           whole capture: every message stored, and the counters show the connections
#   streams probe 11 sends every frame (its RTP quality reports too), probe 12 alternate SIP
#           frames (and every 7th) at the same time: the calls as above, and every stream's
#           figures as analyze gives them, from probe 11's reports
# Loopback only; bounded in time.
#   hep_merge.sh SIPSCOPE_BINARY SHARED_DIR [SCENARIO...]
set -euo pipefail
export LC_ALL=C # comm, like SQLite, compares bytes
bin=$1
shared=$2
shift 2
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(tcp udp repeat stop idle streams)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
need_simcalls "$shared"
need_tool sqlite3 "scripts/setup --test"
need_tool python3

live_tmpdir merge
probes=()
holder=""
cleanup() {
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
    [[ -n $holder ]] && kill -9 "$holder" 2>/dev/null
    for p in "${probes[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}

# 60 calls over UDP (a frame is a whole message: TCP segments or IP fragments split between
# probes could not be put together by either).
"$shared/tools/simcalls" --calls 60 --concurrency 10 --duration 3 --seed 16 --fail-ratio 0.1 \
    --loss 0.02 --jitter-ms 3 --oneway-ratio 0.1 \
    --cancel-ratio 0.1 --register-flood 40 -w "$tmp/t.pcap" --truth "$tmp/t.json" >/dev/null
"$bin" analyze -q --db "$tmp/ref.db" "$tmp/t.pcap"
nframes=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['packets'])" \
    "$tmp/t.json")
half=$((nframes / 2))
split() { python3 "$here/pcap_split.py" "$tmp/t.pcap" "$tmp/$1.pcap" "$2" >/dev/null; }
split alt0 alt:0/2
split alt1 alt:1/2
split every5 every:5
split alt1-half "until:$half/alt:1/2"
split sip-alt1 "sip:alt:1/2"
split alt0-stop "until:$half/alt:0/2,from:$((half + 1))/all"

ref_calls=$(sqlite3 "$tmp/ref.db" "select count(*) from calls")
[[ $ref_calls -ge 50 ]] || { echo "expected about 60 calls in the reference, got $ref_calls"; exit 1; }

start_central() {
    start_on_free_port "$tmp/central.log" "receiving HEP" \
        "$bin" run --hep-in "127.0.0.1:@PORT@" --db "$1" --listen "127.0.0.1:0"
}

# The calls as "call_id|state|final_status|messages", one a line, sorted.
calls_of() {
    sqlite3 "$1" "with n as (select call_id, count(*) k from sip_messages group by call_id)
        select c.call_id || '|' || c.state || '|' || coalesce(c.final_status, '') || '|' ||
        coalesce(n.k, 0) from calls c left join n on n.call_id = c.call_id order by 1"
}
calls_of "$tmp/ref.db" >"$tmp/ref.calls"
# The streams of calls, as "call_id|src|dst|ssrc|packets|lost|...", one a line, sorted.
streams_of() {
    sqlite3 "$1" "select call_id || '|' || src || '|' || dst || '|' || ssrc || '|' || packets ||
        '|' || lost || '|' || max_delta_ms || '|' || mean_jitter_ms || '|' || max_jitter_ms ||
        '|' || coalesce(mos, '') || '|' || codec || '|' || payload_type
        from rtp_streams where call_id is not null order by 1"
}
streams_of "$tmp/ref.db" >"$tmp/ref.streams"

# Open n TCP connections to the central and hold them, silent, until killed.
hold_idle_connections() {
    rm -f "$tmp/holder.ready"
    python3 -c '
import resource, socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 64, hard), hard))
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
open(ready, "w").write(str(len(socks)))
time.sleep(300)
' "$port" "$1" "$tmp/holder.ready" &
    holder=$!
    for _ in $(seq 300); do
        [[ -s $tmp/holder.ready ]] && break
        kill -0 "$holder" 2>/dev/null || skip "could not hold $1 connections (descriptor limit)"
        sleep 0.1
    done
    [[ -s $tmp/holder.ready ]] || { echo "the idle connections did not open"; exit 1; }
    sleep 1.2 # the central publishes its counters every second
}

fail=0
scenario() {
    local name=$1 transport=$2
    shift 2
    local db="$tmp/central-$name.db"
    start_central "$db"
    if [[ $name == idle ]]; then
        hold_idle_connections 1000
    fi
    probes=()
    local id=11
    for part in "$@"; do
        "$bin" analyze -q --db :memory: --hep-out "127.0.0.1:$port,transport=$transport" \
            --hep-id "$id" "$tmp/$part.pcap" 2>"$tmp/probe-$id.log" &
        probes+=($!)
        id=$((id + 1))
    done
    for p in "${probes[@]}"; do wait "$p" || { echo "$name: a probe failed"; fail=1; }; done
    probes=()
    # The probes are quiet: the calls must end by wall clock (linger) without a stop.
    local stored=0
    for _ in $(seq 150); do
        stored=$(sqlite3 "$db" "select count(*) from calls" 2>/dev/null || echo 0)
        [[ $stored -ge $ref_calls ]] && break
        sleep 0.2
    done
    if [[ $name == idle ]]; then
        local open
        open=$(sqlite3 "$db" "select value from meta where key='hep.tcp_open'")
        echo "idle: connections open while the probe delivered: $open"
        [[ ${open:-0} -ge 1000 ]] || { echo "MISMATCH idle: expected 1,000 open connections"; fail=1; }
        kill "$holder" 2>/dev/null || true
        wait "$holder" 2>/dev/null || true
        holder=""
    fi
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
    calls_of "$db" >"$tmp/$name.calls"
    local exact
    exact=$(comm -12 "$tmp/ref.calls" "$tmp/$name.calls" | wc -l)
    local dups held
    dups=$(sqlite3 "$db" "select value from meta where key='hep.duplicates'")
    echo "$name: $exact of $ref_calls calls exact; $stored stored before the stop;" \
        "duplicates dropped: $dups"
    sqlite3 "$db" "select group_concat(key || '=' || value, ' ') from meta where key like 'hep.%'"
    if [[ $exact -ne $ref_calls || $(wc -l <"$tmp/$name.calls") -ne $ref_calls ]]; then
        echo "MISMATCH $name (whole file < > central):"
        diff "$tmp/ref.calls" "$tmp/$name.calls" | head -20 || true
        fail=1
    fi
    local msgs ref_msgs
    msgs=$(sqlite3 "$db" "select count(*) from sip_messages")
    ref_msgs=$(sqlite3 "$tmp/ref.db" "select count(*) from sip_messages")
    if [[ $msgs -ne $ref_msgs ]]; then
        echo "MISMATCH $name: $msgs SIP messages stored, the whole file has $ref_msgs"
        fail=1
    fi
    if [[ $stored -lt $ref_calls ]]; then
        echo "MISMATCH $name: only $stored of $ref_calls calls ended by wall clock"
        fail=1
    fi
    if [[ $name == streams ]]; then
        streams_of "$db" >"$tmp/streams.central"
        if ! cmp -s "$tmp/ref.streams" "$tmp/streams.central"; then
            echo "MISMATCH streams (whole file < > central):"
            diff "$tmp/ref.streams" "$tmp/streams.central" | head -10 || true
            fail=1
        fi
        local nstreams probes_seen
        nstreams=$(wc -l <"$tmp/ref.streams")
        probes_seen=$(sqlite3 "$db" "select group_concat(distinct coalesce(probe, 'none'))
            from rtp_streams where call_id is not null")
        echo "streams: $(comm -12 "$tmp/ref.streams" "$tmp/streams.central" | wc -l) of" \
            "$nstreams equal (packets, lost, max delta, jitter, MOS, codec); from probe" \
            "$probes_seen"
        [[ $nstreams -gt 0 && $probes_seen == 11 ]] || { echo "MISMATCH streams: probes"; fail=1; }
    fi
    if [[ ${dups:-0} -le 0 && $name != idle ]]; then
        echo "MISMATCH $name: expected the frames both probes sent to be dropped once"
        fail=1
    fi
}

for s in "${scenarios[@]}"; do
    case $s in
    tcp) scenario tcp tcp alt0 alt1 ;;
    udp) scenario udp udp alt0 alt1 ;;
    repeat) scenario repeat tcp alt0 alt1 every5 ;;
    stop) scenario stop tcp alt0-stop alt1-half ;;
    idle) scenario idle tcp t ;;
    streams) scenario streams tcp t sip-alt1 ;;
    *) echo "unknown scenario $s"; exit 2 ;;
    esac
done
pass_or_fail
