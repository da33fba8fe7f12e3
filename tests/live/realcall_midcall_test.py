#!/usr/bin/env python3
"""realcall_midcall_test: a real 20-second call (kamailio + two baresip agents, driven by
shared/tools/realcall) captured by `sipscope run -i lo`, queried while it is up. Mid-call the API
must list it `in_call` with `active: true` (also under `?active=true`, in `active_calls` of
/api/v1/stats and `sipscope_active_calls` of /metrics), with two streams whose packet counts rise
between two queries 3 s apart, and /metrics' capture packet counter must rise too. After the call
ended, the same row (same id, no second one) is `completed` with `active: false`. Loopback only;
every wait is bounded.

    realcall_midcall_test.py SIPSCOPE_BINARY SHARED_DIR
"""
import json
import livelib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def metric(text, name):
    m = re.search(rf"^{name} (\d+)", text, re.M)
    return int(m.group(1)) if m else None


class Api:
    def __init__(self, base):
        self.base = base

    def raw(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return r.read()

    def json(self, path):
        return json.loads(self.raw(path))


def wait_for(what, check, seconds):
    """check() until it returns something true, at most seconds; None if it never did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    print(f"timed out waiting for {what}", flush=True)
    return None


def mid_call(api, failures):
    """The checks while the call is up; returns the call's row id (or None)."""
    def answered():
        calls = api.json("/api/v1/calls?active=true&state=in_call")["calls"]
        return calls[0] if calls else None

    call = wait_for("an active in_call call", answered, 45)
    if call is None:
        failures.append("no call listed in_call with active=true during the call")
        return None
    if not call.get("active") or call.get("interrupted"):
        failures.append(f"mid-call: active/interrupted wrong: {call}")

    def streaming():
        d = api.json(f"/api/v1/calls/{call['id']}")
        s = d["streams"]
        return d if len(s) == 2 and all(x["packets"] > 0 for x in s) else None

    first = wait_for("two streams with packets", streaming, 10)
    if first is None:
        failures.append("mid-call: the call does not show two streams with packets")
        return call["id"]
    metrics1 = api.raw("/metrics").decode()
    time.sleep(3.2)
    second = api.json(f"/api/v1/calls/{call['id']}")
    if second["state"] != "in_call" or not second["active"]:
        failures.append(f"mid-call (2nd query): {second['state']}, active {second['active']}")
    before = {s["id"]: s["packets"] for s in first["streams"]}
    for s in second["streams"]:
        print(f"stream {s['id']}: {before.get(s['id'])} -> {s['packets']} packets, "
              f"active {s.get('active')}, mos {s.get('mos')}", flush=True)
        if s["id"] not in before or s["packets"] <= before[s["id"]]:
            failures.append(f"mid-call: stream {s['id']} did not count up: "
                            f"{before.get(s['id'])} -> {s['packets']}")
        if not s.get("active"):
            failures.append(f"mid-call: stream {s['id']} not active")
    if second.get("duration_s") is None or second["duration_s"] <= 0:
        failures.append(f"mid-call: no duration so far: {second.get('duration_s')}")
    stats = api.json("/api/v1/stats")
    if stats.get("active_calls", 0) < 1:
        failures.append(f"mid-call: /api/v1/stats active_calls = {stats.get('active_calls')}")
    # /metrics is cached for up to 5 s: wait that out before reading it again.
    time.sleep(2)
    metrics2 = api.raw("/metrics").decode()
    if (metric(metrics2, "sipscope_active_calls") or 0) < 1:
        failures.append("mid-call: sipscope_active_calls < 1")
    p1 = metric(metrics1, "sipscope_capture_packets_total")
    p2 = metric(metrics2, "sipscope_capture_packets_total")
    print(f"sipscope_capture_packets_total: {p1} -> {p2}", flush=True)
    if p1 is None or p2 is None or p2 <= p1 or p1 == 0:
        failures.append(f"mid-call: sipscope_capture_packets_total not live: {p1} -> {p2}")
    return call["id"]


def main():
    binary, shared = sys.argv[1], sys.argv[2]
    realcall = livelib.need_realcall(shared)
    livelib.need(("kamailio", "baresip", "tcpdump"), "live capture needs root")

    tmp = tempfile.mkdtemp(prefix="sipscope-midcall-")
    # Only realcall's loopback address and ports: other tests on this machine may replay
    # captures onto lo at the same time.
    server, base, sip_port, rtp_base = livelib.start_realcall_capture(binary, tmp, 22000, 1500,
                                                                      host="127.0.0.1")
    failures = []
    caller = None
    try:
        api = Api(base)
        out = os.path.join(tmp, "rc")
        caller = subprocess.Popen(
            [realcall, "--mode", "normal", "--calls", "1", "--out", out, "--port", str(sip_port),
             "--rtp-base", str(rtp_base), "--duration", "20", "--no-tshark", "--max-seconds",
             "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        row = mid_call(api, failures)
        _, err = caller.communicate(timeout=150)
        if caller.returncode != 0 and row is None:
            livelib.skip("realcall itself failed here: " + err[-500:])
        expect = json.load(open(os.path.join(out, "normal.expect.json")))
        call_id = expect["calls"][0]["call_id"]

        def finished():
            c = api.json(f"/api/v1/calls?call_id={urllib.parse.quote(call_id)}")
            return c if c["total"] >= 1 and not c["calls"][0]["active"] else None

        # BYE, then 5 s of linger (capture time, moved on by the wall clock when idle).
        done = wait_for("the call's final row", finished, 30)
        if done is None:
            failures.append("after the call: its row is still active")
        else:
            c = done["calls"][0]
            print(f"after the call: row {c['id']} {c['state']}, active {c['active']}, "
                  f"duration {c['duration_s']} s, mos {c['mos']}", flush=True)
            if done["total"] != 1:
                failures.append(f"after the call: {done['total']} rows for its Call-ID")
            if row is not None and c["id"] != row:
                failures.append(f"after the call: row {c['id']}, mid-call it was {row}")
            if c["state"] != "completed" or c["interrupted"]:
                failures.append(f"after the call: {c['state']}, interrupted {c['interrupted']}")
            if c["duration_s"] is None or c["duration_s"] < 15:
                failures.append(f"after the call: duration {c['duration_s']}")
        still = [c["call_id"] for c in api.json("/api/v1/calls?active=true")["calls"]]
        if call_id in still:
            failures.append("after the call: still listed under ?active=true")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    finally:
        if caller is not None and caller.poll() is None:
            caller.kill()
        if server.poll() is None:
            server.kill()
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    livelib.report(failures)


if __name__ == "__main__":
    main()
