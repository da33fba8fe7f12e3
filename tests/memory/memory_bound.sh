#!/usr/bin/env bash
# memory_bound: a probe that stores nothing holds nothing. `analyze --db :memory:` runs with no
# store at all, so 300,000 REGISTERs (600,000 SIP messages; the security monitor's tables fill
# to their configured caps) peak under 80 MB of resident memory; an in-memory SQLite store
# held every message instead (369 MB). The figure does not depend on timing or load: simcalls
# writes the capture into a pipe and sipscope reads it as it comes, and GNU time reports the
# peak. Also: `serve` and `run` refuse --db :memory: (nothing would be stored to serve) with
# exit status 2.
#   memory_bound.sh SIPSCOPE_BINARY SHARED_DIR
set -euo pipefail
bin=$1
shared=$2
limit_kb=$((80 * 1024))
# Exit status 77 is "skipped" to ctest (SKIP_RETURN_CODE), never a pass.
skip() { echo "SKIPPED memory_bound: $*"; exit 77; }
fail() { echo "FAIL memory_bound: $*" >&2; exit 1; }

tmp=$(mktemp -d /tmp/sipscope-mem-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

for cmd in "serve --db :memory:" "run -r $tmp/none.pcap --db :memory:"; do
    status=0
    # shellcheck disable=SC2086 # the words of cmd are the arguments
    "$bin" $cmd >/dev/null 2>"$tmp/usage.log" || status=$?
    [[ $status -eq 2 ]] || fail "sipscope $cmd: exit status $status, want 2 (usage error)"
    grep -q "nothing to serve" "$tmp/usage.log" ||
        fail "sipscope $cmd does not say why: $(cat "$tmp/usage.log")"
done

[[ -x $shared/tools/simcalls ]] || skip "$shared/tools/simcalls is absent"
[[ -x /usr/bin/time ]] || skip "GNU time is not installed (scripts/setup --test installs it)"

if ! "$shared/tools/simcalls" --calls 0 --register-flood 300000 -w - --truth "$tmp/truth.json" \
    2>"$tmp/simcalls.log" |
    /usr/bin/time -f %M -o "$tmp/rss" "$bin" analyze --db :memory: - 2>"$tmp/analyze.log"; then
    cat "$tmp/simcalls.log" "$tmp/analyze.log" >&2
    fail "simcalls | sipscope analyze --db :memory: - failed"
fi
want=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['sip_messages'])" \
    "$tmp/truth.json")
got=$(sed -n 's/.* \([0-9]*\) SIP messages,.*/\1/p' "$tmp/analyze.log")
[[ $got == "$want" ]] || fail "analysed $got SIP messages, the capture has $want: $(cat "$tmp/analyze.log")"
rss_kb=$(tail -n 1 "$tmp/rss")
echo "memory_bound: $got SIP messages analysed with --db :memory:, peak RSS $((rss_kb / 1024)) MB" \
    "(limit $((limit_kb / 1024)) MB)"
((rss_kb < limit_kb)) || fail "peak RSS ${rss_kb} kB is not under ${limit_kb} kB"
