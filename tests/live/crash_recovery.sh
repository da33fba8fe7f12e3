#!/usr/bin/env bash
# crash_recovery: kill -9 of a writing sipscope at random points, then a restart on the same
# database. Checked with SQL after every kill and after the restarts:
#   - no SIP message names a call row that does not exist, or a call with another Call-ID;
#     no stream names a missing call, no sample a missing stream (right after the kill too);
#   - every call that was in progress at the kill (active) is, after the next writer opened the
#     database, kept with interrupted = 1 and active = 0, in the state of its last snapshot
#     (setup, ringing or in_call; an answered one with its duration so far);
#   - ids are never reused: every call of a later run has an id above those of earlier runs.
# Part 1 kills `analyze` of a large simcalls capture streamed into it (simcalls | analyze -),
# three times; part 2 kills `capture -i lo` fed by tcpreplay at a bounded rate, twice (root and
# tcpreplay needed, else that part says SKIPPED and the rest still runs). Loopback only; every
# run bounded in time.
#   crash_recovery.sh SIPSCOPE_BINARY SHARED_DIR [SEED]
set -euo pipefail
bin=$1
shared=$2
seed=${3:-${CRASH_SEED:-$RANDOM}}
RANDOM=$seed
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_simcalls "$shared"
need_tool sqlite3 "scripts/setup --test"
echo "crash_recovery: seed $seed (CRASH_SEED=$seed to repeat)"

live_tmpdir crash
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
db=$tmp/crash.db
fail=0
q() { sqlite3 -cmd ".timeout 5000" "$db" "$1"; }
expect() {   # expect WHAT WANT SQL
    local got
    got=$(q "$3")
    if [[ "$got" != "$2" ]]; then echo "FAIL $1: want $2, got '$got'"; fail=1
    else echo "ok $1: $got"; fi
}
# A number in [lo, hi) tenths of a second, as seconds.
pause_between() { local t=$(($1 + RANDOM % ($2 - $1))); printf '%d.%d' $((t / 10)) $((t % 10)); }

# What must hold at any time, even right after a kill.
integrity() {
    expect "$1: messages naming a missing call" 0 \
        "select count(*) from sip_messages m where m.call_row is not null
         and not exists (select 1 from calls c where c.id = m.call_row)"
    expect "$1: messages naming a call of another Call-ID" 0 \
        "select count(*) from sip_messages m join calls c on c.id = m.call_row
         where m.call_id is not c.call_id"
    expect "$1: streams naming a missing call" 0 \
        "select count(*) from rtp_streams s where s.call_row is not null
         and not exists (select 1 from calls c where c.id = s.call_row)"
    expect "$1: samples of a missing stream" 0 \
        "select count(*) from stream_samples x
         where not exists (select 1 from rtp_streams s where s.id = x.stream_row)"
    expect "$1: one row per Call-ID in this run" 0 \
        "select count(*) from (select call_id from calls where id > $run_max
         group by call_id having count(*) > 1)"
    # The call aggregate (store/agg.h) commits with the calls: it is their sum at any time.
    local t
    for t in call_minutes call_hours; do
        expect "$1: $t counts the finished calls" "0|0|0" \
            "select (select coalesce(sum(calls), 0) from $t) - count(*),
                    (select coalesce(sum(answered), 0) from $t) - count(answer_time),
                    (select coalesce(sum(verdict_good), 0) from $t) - count(*) filter
                        (where verdict = 'good')
             from calls where invite_time is not null and active = 0"
    done
}

# After a writer opened the database: nothing of the earlier runs is left active, every call
# that was active is interrupted, as it stood.
recovered() {   # recovered WHAT INTERRUPTED_WANTED
    expect "$1: calls left active" 0 "select count(*) from calls where active = 1 and id <= $run_max"
    expect "$1: streams left active" 0 \
        "select count(*) from rtp_streams where active = 1 and id <= $run_max"
    expect "$1: interrupted calls" "$2" "select count(*) from calls where interrupted = 1"
    expect "$1: interrupted calls not in progress" 0 \
        "select count(*) from calls where interrupted = 1
         and state not in ('setup', 'ringing', 'in_call')"
    expect "$1: interrupted answered calls without a duration so far" 0 \
        "select count(*) from calls where interrupted = 1 and state = 'in_call'
         and (duration_s is null or end_time is not null)"
}

run_max=0       # the largest call or stream id stored before the current run
run_rows=0      # calls stored before the current run
interrupted=0   # calls active at the kills so far (each becomes interrupted)
killed() {      # killed WHAT: after a kill -9
    integrity "$1"
    local active rows
    active=$(q "select count(*) from calls where active = 1")
    rows=$(q "select count(*) from calls")
    echo "$1: $((rows - run_rows)) calls stored by this run, $active of them in progress"
    # A reused id would have overwritten an older row: fewer new rows than ids above run_max.
    expect "$1: the run's calls all have new ids" "$((rows - run_rows))" \
        "select count(*) from calls where id > $run_max"
    interrupted=$((interrupted + active))
    run_max=$(q "select max(coalesce((select max(id) from calls), 0),
                             coalesce((select max(id) from rtp_streams), 0))")
    run_rows=$rows
}

# ---- 1. analyze of a large capture streamed into it, killed three times.
for i in 1 2 3; do
    "$shared/tools/simcalls" --calls 3000 --concurrency 1500 --duration 8 --seed "$((seed + i))" \
        --fail-ratio 0.1 --cancel-ratio 0.1 --loss 0.01 -w - --truth "$tmp/big$i.json" 2>/dev/null |
        timeout 60 "$bin" analyze -q --db "$db" - 2>"$tmp/analyze.log" &
    pids+=($!)
    sleep "$(pause_between 25 70)"
    apid=$(pgrep -n -f "^$bin analyze -q --db $db -" || true)
    [[ -n $apid ]] || { echo "FAIL analyze $i: not running"; cat "$tmp/analyze.log"; exit 1; }
    kill -9 "$apid"
    wait "${pids[-1]}" 2>/dev/null || true
    if ((i > 1)); then recovered "analyze restart $i" "$((interrupted))"; fi
    killed "analyze kill $i"
done

# ---- 2. live capture on loopback fed by tcpreplay, killed twice.
if [[ $(id -u) -ne 0 ]]; then
    echo "SKIPPED crash_recovery part 2 (live capture): needs root"
elif ! command -v tcpreplay >/dev/null; then
    echo "SKIPPED crash_recovery part 2 (live capture): tcpreplay is not installed"
else
    filter='net 192.0.2.0/24 or net 198.51.100.0/24 or net 203.0.113.0/24 or net 2001:db8::/32'
    "$shared/tools/simcalls" --calls 400 --concurrency 150 --duration 6 --seed "$seed" \
        --fail-ratio 0.1 -w "$tmp/live.pcap" --truth "$tmp/live.json" >/dev/null 2>&1
    for i in 1 2; do
        "$bin" capture -i lo -f "$filter" --db "$db" 2>"$tmp/capture.log" &
        cpid=$!
        pids+=($cpid)
        wait_ready "$tmp/capture.log" "capturing on" ||
            { echo "capture did not start"; cat "$tmp/capture.log"; exit 1; }
        recovered "capture restart $i" "$interrupted"
        packets0=$(q "select coalesce((select value from meta where key = 'packets'), 0)")
        timeout 60 tcpreplay -q -i lo --pps 20000 "$tmp/live.pcap" >/dev/null 2>&1 &
        pids+=($!)
        sleep "$(pause_between 35 70)"
        # While it runs: calls in progress are stored, and so are the counters so far.
        live=$(q "select count(*) from calls where active = 1")
        packets=$(q "select coalesce((select value from meta where key = 'packets'), 0)")
        echo "capture $i mid-run: $live calls active, $((packets - packets0)) packets counted"
        [[ $live -gt 0 ]] || { echo "FAIL capture $i: no call in progress stored mid-run"; fail=1; }
        [[ $packets -gt $packets0 ]] || { echo "FAIL capture $i: packet counter not moving mid-run"; fail=1; }
        sleep "$(pause_between 0 15)"
        kill -9 "$cpid"
        wait "$cpid" 2>/dev/null || true
        kill "${pids[-1]}" 2>/dev/null || true
        wait "${pids[-1]}" 2>/dev/null || true
        killed "capture kill $i"
    done
fi

# ---- 3. a last writer runs to its end: everything that was in progress is interrupted.
"$shared/tools/simcalls" --calls 20 --concurrency 5 --duration 2 --seed 3 \
    -w "$tmp/small.pcap" --truth "$tmp/small.json" >/dev/null 2>&1
timeout 60 "$bin" analyze -q --db "$db" "$tmp/small.pcap"
recovered "final restart" "$interrupted"
integrity "final restart"
expect "final run: 20 calls, all with new ids" 20 "select count(*) from calls where id > $run_max"
[[ $interrupted -gt 0 ]] || { echo "FAIL: no kill found a call in progress"; fail=1; }
if [[ $fail -eq 0 ]]; then echo "1 passed, 0 failed ($interrupted calls interrupted)"
else echo "0 passed, 1 failed (seed $seed)"; exit 1; fi
