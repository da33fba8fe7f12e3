#!/usr/bin/env python3
"""sipp_rtp_test: real SIP and RTP from SIPp (Debian package sip-tester) on loopback. A SIPp
caller (tests/live/sipp/uac_rtp.xml) calls a SIPp callee (uas_rtp.xml); every fifth call is
answered 486, the others talk 80 PCMU packets each way (SIPp's rtp_stream), and every call
offers and answers the same media ports, so each port pair carries many calls at once, each
with its own SSRC.

  sipp_rtp_test.py SIPSCOPE file    20 calls/s, 200 calls, captured by tcpdump, then
                                    `sipscope analyze`: every RTP stream equals tshark's
                                    (-z rtp,streams: packets, lost, max delta, mean and max
                                    jitter), every answered call has a MOS and one stream
                                    each way, and the calls per state equal SIPp's own
                                    counts (-trace_counts).
  sipp_rtp_test.py SIPSCOPE live    300 calls/s for 20 s through `sipscope run -i lo`: no
                                    packet dropped, the API's calls per state equal SIPp's,
                                    and the stream rows equal the real streams (two per
                                    answered call).

Skipped (exit 77, with the reason) without root, sipp, tcpdump or tshark. Loopback only;
every wait is bounded.
"""
import glob
import json
import livelib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOL_MS = 0.0011  # tshark prints 3 decimals, so does sipscope's report
RTP_PACKETS = 80  # sipp/pcmu80.raw: 80 packets of 160 bytes, played once


class Ports:
    """Random SIP and media ports, so that concurrent runs do not meet."""

    def __init__(self):
        base = 21000 + random.randrange(0, 500) * 32
        self.uac, self.uas = base, base + 2
        # SIPp binds the media port and the three above it (RTCP, video, video RTCP).
        self.uac_media, self.uas_media = base + 8, base + 16

    def bpf(self):
        return f"udp and portrange {self.uac}-{self.uas_media + 3}"


def write_inputs(tmp):
    for name in ("uac_rtp.xml", "uas_rtp.xml"):
        shutil.copy(os.path.join(HERE, "sipp", name), tmp)
    with open(os.path.join(tmp, "pcmu80.raw"), "wb") as f:  # any mu-law bytes will do
        f.write(bytes((0x55 ^ (i * 7 & 0x7F)) for i in range(RTP_PACKETS * 160)))
    with open(os.path.join(tmp, "callees.csv"), "w") as f:
        f.write("SEQUENTIAL\nanswer;\nanswer;\nanswer;\nanswer;\nbusy;\n")


def run_sipp(tmp, ports, rate, calls, budget_s):
    """The callee in the background, the caller until its calls are done; SIPp's counts."""
    common = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-trace_counts"]
    uas_out = open(os.path.join(tmp, "uas.out"), "w")
    uas = subprocess.Popen(["sipp", "-sf", "uas_rtp.xml", "-p", str(ports.uas), "-mp",
                            str(ports.uas_media)] + common, cwd=tmp, stdout=uas_out,
                           stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        uac = subprocess.run(["sipp", f"127.0.0.1:{ports.uas}", "-sf", "uac_rtp.xml", "-inf",
                              "callees.csv", "-p", str(ports.uac), "-mp", str(ports.uac_media),
                              "-r", str(rate), "-m", str(calls), "-timeout", f"{budget_s}s",
                              "-timeout_error"] + common, cwd=tmp, capture_output=True,
                             text=True, timeout=budget_s + 30)
        time.sleep(2.5)  # the callee's last RTP and 200s
    finally:
        uas.send_signal(signal.SIGTERM)
        try:
            uas.wait(timeout=10)
        except subprocess.TimeoutExpired:
            uas.kill()
        uas_out.close()
    if uac.returncode not in (0, 1):  # 1: some calls failed, still counted below
        raise SystemExit(f"sipp caller exited with {uac.returncode}: {uac.stdout[-800:]}"
                         f"{uac.stderr[-800:]}")
    return read_counts(tmp, "uac_rtp")


def read_counts(tmp, scenario):
    """The last row of SIPp's -trace_counts CSV, by column name."""
    files = glob.glob(os.path.join(tmp, f"{scenario}_*_counts.csv"))
    if len(files) != 1:
        raise SystemExit(f"expected one {scenario} counts file, found {files}")
    lines = [ln for ln in open(files[0]).read().splitlines() if ln.strip()]
    header, last = lines[0].rstrip(";").split(";"), lines[-1].rstrip(";").split(";")
    return {k: int(v) for k, v in zip(header[2:], last[2:])}


def sipp_expect(counts):
    """What SIPp did, as sipscope should report it."""
    for key in ("0_INVITE_Sent", "3_486_Recv", "4_200_Recv", "8_BYE_Sent", "9_200_Recv"):
        if key not in counts:
            raise SystemExit(f"SIPp's counts lack {key}: {sorted(counts)}")
    return {"calls": counts["0_INVITE_Sent"], "rejected": counts["3_486_Recv"],
            "completed": counts["8_BYE_Sent"], "answered": counts["4_200_Recv"]}


def tshark_streams(pcap):
    """`tshark -z rtp,streams` rows (streams found through the SDP) by (src, dst, ssrc)."""
    out = subprocess.run(["tshark", "-2", "-r", pcap, "-q", "-z", "rtp,streams"],
                         capture_output=True, text=True, timeout=300).stdout
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 16 or not re.fullmatch(r"0x[0-9A-Fa-f]+", f[6]):
            continue
        pct = next(i for i in range(8, len(f)) if re.fullmatch(r"\(-?[\d.]+%\)", f[i]))
        nums = [float(x) for x in f[pct + 1:pct + 7]]
        key = (f"{f[2]}:{f[3]}", f"{f[4]}:{f[5]}", int(f[6], 16))
        rows[key] = {"packets": int(f[pct - 2]), "lost": int(f[pct - 1]),
                     "max_delta_ms": nums[2], "mean_jitter_ms": nums[4],
                     "max_jitter_ms": nums[5]}
    return rows


def check_file(binary, tmp, ports, failures):
    pcap = os.path.join(tmp, "sipp.pcap")
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-B", "16384", "-w", pcap,
                             ports.bpf()], stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    try:
        want = sipp_expect(run_sipp(tmp, ports, rate=20, calls=200, budget_s=60))
    finally:
        dump.send_signal(signal.SIGINT)
        _, err = dump.communicate(timeout=30)
    m = re.search(r"(\d+) packets dropped by kernel", err)
    if m is None or int(m.group(1)) != 0:
        failures.append(f"tcpdump: {err.strip()}")
    rep = subprocess.run([binary, "analyze", "-q", "--db", ":memory:", "--json", pcap],
                         capture_output=True, text=True, timeout=300)
    if rep.returncode != 0:
        failures.append(f"analyze exited {rep.returncode}: {rep.stderr[-500:]}")
        return
    report = json.loads(rep.stdout)
    ts = tshark_streams(pcap)
    got = {(s["src"], s["dst"], int(s["ssrc"], 16)): s for s in report["streams"]}
    if len(ts) != 2 * want["answered"]:
        failures.append(f"tshark found {len(ts)} streams, SIPp answered {want['answered']}")
    if set(got) != set(ts):
        failures.append(f"streams: {len(got)} in sipscope, {len(ts)} in tshark; only in "
                        f"sipscope {sorted(set(got) - set(ts))[:5]}, only in tshark "
                        f"{sorted(set(ts) - set(got))[:5]}")
    for key in sorted(set(got) & set(ts)):
        s, t = got[key], ts[key]
        bad = [f for f in ("packets", "lost") if s[f] != t[f]]
        bad += [f for f in ("max_delta_ms", "mean_jitter_ms", "max_jitter_ms")
                if abs(s[f] - t[f]) > TOL_MS]
        if bad:
            failures.append(f"stream {key}: " + ", ".join(f"{f} {s[f]} vs tshark {t[f]}"
                                                          for f in bad))
    by_state, per_call = {}, {}
    for s in report["streams"]:
        per_call.setdefault(s["call_id"], []).append(s["src"])
    for c in report["calls"]:
        by_state[c["state"]] = by_state.get(c["state"], 0) + 1
        if c["answer_time"] is not None and c["mos"] is None:
            failures.append(f"answered call {c['call_id']} has no MOS")
        # Every call SIPp completed talked once each way, all on the same two ports.
        srcs = per_call.get(c["call_id"], [])
        if c["state"] == "completed" and (len(srcs) != 2 or len(set(srcs)) != 2):
            failures.append(f"call {c['call_id']}: streams from {srcs}, want one each way")
    have = {"calls": len(report["calls"]), "rejected": by_state.get("rejected", 0),
            "completed": by_state.get("completed", 0)}
    for k, v in have.items():
        if v != want[k]:
            failures.append(f"{k}: sipscope {v}, SIPp {want[k]} (states {by_state})")
    print(f"file: {have['calls']} calls ({by_state}), {len(got)} streams, tshark {len(ts)} "
          f"streams; SIPp {want}")


def api_get(api, path):
    with urllib.request.urlopen(api + path, timeout=10) as r:
        return r.read().decode()


def check_live(binary, tmp, ports, failures):
    server, api = livelib.start_server([binary, "run", "-i", "lo", "-f", ports.bpf(), "--db",
                                        os.path.join(tmp, "live.db")],
                                       os.path.join(tmp, "run.log"))
    try:
        want = sipp_expect(run_sipp(tmp, ports, rate=300, calls=6000, budget_s=45))
        stats = {}
        for _ in range(40):  # the last calls are stored after their linger time (5 s)
            stats = json.loads(api_get(api, "/api/v1/stats"))
            # A call SIPp gave up on under load stays open (answered, never ended): wait for
            # the ones SIPp finished, not for every state but those to be empty.
            if stats.get("calls") == want["calls"] and all(
                    stats["by_state"].get(s, 0) == want[s] for s in ("completed", "rejected")):
                break
            time.sleep(0.5)
        streams = json.loads(api_get(api, "/api/v1/streams?limit=1"))["total"]
        by_state = stats.get("by_state", {})
        have = {"calls": stats.get("calls"), "rejected": by_state.get("rejected"),
                "completed": by_state.get("completed")}
        for k, v in have.items():
            if v != want[k]:
                failures.append(f"API {k}: {v}, SIPp {want[k]} (states {by_state})")
        if streams != 2 * want["answered"]:
            failures.append(f"API streams: {streams}, real streams {2 * want['answered']}")
        server.send_signal(signal.SIGTERM)
        if server.wait(timeout=60) != 0:
            failures.append(f"sipscope run exited with {server.returncode} on SIGTERM")
    finally:
        if server.poll() is None:
            server.kill()
    text = open(os.path.join(tmp, "run.log")).read()
    m = re.search(r"capture stopped: (\d+) frames, (\d+) dropped by the kernel, (\d+) by the "
                  r"interface, (\d+) by sipscope", text)
    if m is None:
        failures.append(f"no capture summary in the log: {text[-500:]}")
    elif int(m.group(2)) or int(m.group(3)) or int(m.group(4)):
        failures.append(f"drops: {m.group(0)}")
    print(f"live: {have['calls']} calls ({by_state}), {streams} streams; SIPp {want}; "
          f"{m.group(0) if m else 'no summary'}")


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("file", "live"):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    binary, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    livelib.need(["sipp", "tcpdump", "tshark"] if mode == "file" else ["sipp"],
                 "capturing on lo needs root")
    tmp = tempfile.mkdtemp(prefix=f"sipscope-sipp-{mode}-")
    write_inputs(tmp)
    failures = []
    (check_file if mode == "file" else check_live)(binary, tmp, Ports(), failures)
    if not failures:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")
    livelib.report(failures, most=40)


if __name__ == "__main__":
    main()
