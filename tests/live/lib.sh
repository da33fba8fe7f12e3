# shellcheck shell=bash
# lib.sh: what the live shell tests share. Sourced, never run:
#   . "$(dirname "$0")/lib.sh"
# Loopback only; every wait below is bounded (5 s at most, three tries for a port).

live_test=$(basename "$0" .sh)

# Exit status 77 is "skipped" to ctest (SKIP_RETURN_CODE), never a pass; the reason goes along.
skip() { echo "SKIPPED $live_test: $*"; exit 77; }
# need_tool CMD [WHERE IT COMES FROM]: skip unless CMD is on PATH.
need_tool() { command -v "$1" >/dev/null || skip "$1 is not installed${2:+ ($2)}"; }
# need_simcalls SHARED_DIR: skip unless ../shared's capture generator is there.
need_simcalls() { [[ -x $1/tools/simcalls ]] || skip "$1/tools/simcalls is absent"; }
# need_root WHY: skip unless running as root.
need_root() { [[ $(id -u) -eq 0 ]] || skip "$1"; }

# live_tmpdir NAME: a fresh $tmp, removed at exit together with the background process $pid
# (a test with more to end defines its own cleanup after sourcing this).
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
live_tmpdir() {
    tmp=$(mktemp -d "/tmp/sipscope-$1-XXXXXX")
    pid=""
    trap cleanup EXIT
}

# wait_ready LOG TEXT [PROC]: wait (5 s at most) until LOG holds TEXT; false if it never does, or
# if process PROC ends first.
wait_ready() {
    local log=$1 text=$2 proc=${3:-}
    for _ in $(seq 50); do
        grep -aq "$text" "$log" 2>/dev/null && return 0
        [[ -z $proc ]] || kill -0 "$proc" 2>/dev/null || break
        sleep 0.1
    done
    grep -aq "$text" "$log" 2>/dev/null
}

# wait_for LOG TEXT: wait_ready, or the test fails showing LOG.
wait_for() {
    wait_ready "$1" "$2" && return 0
    echo "timed out waiting for '$2' in $1"; cat "$1"; exit 1
}

# start_on_free_port LOG READY CMD...: CMD in the background (stderr to LOG) with every @PORT@ in
# its arguments a random port in 20000..49999, until it prints READY; when it cannot (the port
# was taken), again on another port, three tries. Sets $port and $pid.
start_on_free_port() {
    local log=$1 ready=$2
    shift 2
    for _ in 1 2 3; do
        port=$((20000 + RANDOM % 30000))
        "${@//@PORT@/$port}" 2>"$log" &
        pid=$!
        wait_ready "$log" "$ready" "$pid" && return 0
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    done
    echo "could not start: $*"; cat "$log"; exit 1
}

# stop_started: SIGTERM to $pid, and its exit status must be 0 (set -e).
stop_started() { kill -TERM "$pid"; wait "$pid"; pid=""; }

# pass_or_fail: the test's last line, from the test's $fail (0 or 1).
# shellcheck disable=SC2154
pass_or_fail() {
    [[ $fail -eq 0 ]] && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; exit 1; }
}
