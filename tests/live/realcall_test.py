#!/usr/bin/env python3
"""realcall_test: real calls between real SIP software (kamailio + two baresip agents, driven by
shared/tools/realcall) on loopback, while `sipscope run -i lo` captures them. The API must then
show each call with the right state and final status, the answered call with two PCMU streams
with plausible figures, and the per-call pcap download must open in tshark with the call's SIP
messages. Loopback only; every wait is bounded.

    realcall_test.py SIPSCOPE_BINARY SHARED_DIR
"""
import json
import livelib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def main():
    binary, shared = sys.argv[1], sys.argv[2]
    realcall = livelib.need_realcall(shared)
    livelib.need(("kamailio", "baresip", "tcpdump", "tshark"), "live capture needs root")

    tmp = tempfile.mkdtemp(prefix="sipscope-realcall-")
    server, api, sip_port, rtp_base = livelib.start_realcall_capture(
        binary, tmp, 26000, 2000, extra_args=("--pcap-dir", os.path.join(tmp, "pcaps")))
    failures = []
    try:
        out = os.path.join(tmp, "rc")
        rc = subprocess.run([realcall, "--mode", "all", "--out", out, "--port", str(sip_port),
                             "--rtp-base", str(rtp_base), "--duration", "3", "--max-seconds",
                             "150"], capture_output=True, text=True, timeout=200)
        if rc.returncode != 0:
            livelib.skip("realcall itself failed here: " + rc.stderr[-500:])
        time.sleep(2)

        def get(path):
            with urllib.request.urlopen(api + path, timeout=10) as r:
                return r.read()

        calls = {c["call_id"]: c for c in json.loads(get("/api/v1/calls?limit=100"))["calls"]}
        expected_state = {200: "completed", 404: "rejected", 486: "rejected", 487: "cancelled"}
        checked = 0
        for mode in ("normal", "failed", "busy", "cancel"):
            expect = json.load(open(os.path.join(out, f"{mode}.expect.json")))
            for ec in expect["calls"]:
                c = calls.get(ec["call_id"])
                if c is None:
                    failures.append(f"{mode}: call {ec['call_id']} missing")
                    continue
                want = expected_state[ec["final_code"]]
                if c["state"] != want or c["final_status"] != ec["final_code"]:
                    failures.append(f"{mode}: {c['state']}/{c['final_status']}, want "
                                    f"{want}/{ec['final_code']}")
                detail = json.loads(get(f"/api/v1/calls/{c['id']}"))
                streams = detail["streams"]
                if ec.get("rtp_expected"):
                    if len(streams) != 2:
                        failures.append(f"{mode}: {len(streams)} streams, want 2")
                    for s in streams:
                        want_packets = {x["ssrc"].lower(): x["packets"] for x in ec["rtp_streams"]}
                        ok = (s["codec"] == "PCMU" and s["packets"] > 50 and s["lost"] >= 0
                              and s["mos"] > 3.5 and s["max_jitter_ms"] < 50)
                        if not ok or want_packets.get(s["ssrc"].lower()) != s["packets"]:
                            failures.append(f"{mode}: implausible stream {s}")
                pcap = os.path.join(tmp, f"{c['id']}.pcap")
                with open(pcap, "wb") as f:
                    f.write(get(f"/api/v1/calls/{c['id']}/pcap"))
                sip = subprocess.run(["tshark", "-r", pcap, "-Y", "sip"], capture_output=True,
                                     text=True, timeout=60).stdout.count("\n")
                if sip != len(detail["messages"]) or sip == 0:
                    failures.append(f"{mode}: pcap holds {sip} SIP messages, the call "
                                    f"{len(detail['messages'])}")
                checked += 1
        server.send_signal(signal.SIGTERM)
        if server.wait(timeout=60) != 0:
            failures.append(f"sipscope run exited with {server.returncode} on SIGTERM")
        print(f"{checked} real calls checked")
    finally:
        if server.poll() is None:
            server.kill()
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
    livelib.report(failures)


if __name__ == "__main__":
    main()
