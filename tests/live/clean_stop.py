#!/usr/bin/env python3
"""clean_stop: SIGINT/SIGTERM in the middle of a run stop it cleanly in every mode that reads
packets: the process exits 0 with its one-line summary on stderr, every INVITE dialog read so far
is a stored call (the calls still open among them, as they stood), and no stored SIP message
points at a call that does not exist.

    clean_stop.py SIPSCOPE_BINARY MODE     MODE: analyze, run_r, capture, run_i, hep_in

analyze and run -r read a capture from a FIFO on standard input whose writer stays open, so the
signal always lands mid-read; capture and run -i take the same SIP messages sent over UDP on
loopback (root needed: skipped otherwise); run --hep-in gets them from `analyze --hep-out`.
Everything is on loopback and bounded in time (exit 77: skipped, with the reason)."""
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

from livelib import skip

CALLS = 40  # INVITE dialogs; the odd ones end with BYE, the even ones are still open
SIP_PORT = 15060
DEADLINE_S = 60


def fail(why, log=""):
    print(f"FAIL clean_stop: {why}")
    if log:
        print(log)
    sys.exit(1)


def sip_dialog(i, caller, callee):
    """The SIP messages of call i, as (from_caller, text); odd calls end with BYE."""
    cid = f"stop-{i}@clean-stop.test"
    a, b = f"sip:alice{i}@{caller}", f"sip:bob{i}@{callee}"
    sdp_off = (f"v=0\r\no=- {i} 1 IN IP4 {caller}\r\ns=-\r\nc=IN IP4 {caller}\r\nt=0 0\r\n"
               f"m=audio {20000 + 2 * i} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    sdp_ans = sdp_off.replace(caller, callee).replace(f"audio {20000 + 2 * i}",
                                                      f"audio {30000 + 2 * i}")

    def msg(first, headers, body=""):
        extra = "Content-Type: application/sdp\r\n" if body else ""
        return (f"{first}\r\nVia: SIP/2.0/UDP {caller}:{SIP_PORT};branch=z9hG4bK{i}x{len(headers)}"
                f"\r\n{headers}Call-ID: {cid}\r\nMax-Forwards: 70\r\n{extra}"
                f"Content-Length: {len(body)}\r\n\r\n{body}")

    ft, tt = f"From: <{a}>;tag=f{i}\r\n", f"To: <{b}>\r\n"
    tt2 = f"To: <{b}>;tag=t{i}\r\n"
    contact = f"Contact: <sip:bob{i}@{callee}:{SIP_PORT}>\r\n"
    out = [
        (True, msg(f"INVITE {b} SIP/2.0", ft + tt + "CSeq: 1 INVITE\r\n"
                   f"Contact: <sip:alice{i}@{caller}:{SIP_PORT}>\r\n", sdp_off)),
        (False, msg("SIP/2.0 100 Trying", ft + tt + "CSeq: 1 INVITE\r\n")),
        (False, msg("SIP/2.0 180 Ringing", ft + tt2 + "CSeq: 1 INVITE\r\n" + contact)),
        (False, msg("SIP/2.0 200 OK", ft + tt2 + "CSeq: 1 INVITE\r\n" + contact, sdp_ans)),
        (True, msg(f"ACK {b} SIP/2.0", ft + tt2 + "CSeq: 1 ACK\r\n")),
    ]
    if i % 2 == 1:
        out += [(True, msg(f"BYE {b} SIP/2.0", ft + tt2 + "CSeq: 2 BYE\r\n")),
                (False, msg("SIP/2.0 200 OK", ft + tt2 + "CSeq: 2 BYE\r\n"))]
    return out


def all_messages(caller, callee):
    return [m for i in range(CALLS) for m in sip_dialog(i, caller, callee)]


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, payload):
    """Ethernet + IPv4 + UDP (SIP_PORT both ways) around payload."""
    udp = struct.pack("!HHHH", SIP_PORT, SIP_PORT, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp


def capture_bytes():
    """A classic pcap of every dialog (192.0.2.1 calling 198.51.100.1), 10 ms apart."""
    caller, callee = "192.0.2.1", "198.51.100.1"
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    t = 1_700_000_000.0
    for from_caller, text in all_messages(caller, callee):
        f = frame(caller if from_caller else callee, callee if from_caller else caller,
                  text.encode())
        t += 0.01
        out.append(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(f), len(f)) + f)
    return b"".join(out)


def wait_for(predicate, what, proc, log_path, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            fail(f"sipscope ended before {what} (status {proc.returncode})", read(log_path))
        time.sleep(0.1)
    fail(f"timed out waiting for {what}", read(log_path))


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def meta(db, key):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = con.execute("select value from meta where key=?", (key,)).fetchone()
        finally:
            con.close()
        return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


def stop(proc, sig, log_path):
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        fail("did not stop within the deadline", read(log_path))


def check_store(db, expect_messages):
    """Every INVITE dialog read is a call; no message points at a missing call."""
    con = sqlite3.connect(db)
    q = lambda sql: con.execute(sql).fetchone()[0]
    calls = q("select count(*) from calls")
    invites = q("select count(distinct call_id) from sip_messages where method='INVITE' and "
                "is_request=1")
    dangling = q("select count(*) from sip_messages m where m.call_row > 0 and not exists "
                 "(select 1 from calls c where c.id = m.call_row)")
    messages = q("select count(*) from sip_messages")
    # Calls that had no BYE are stored as they stood (answered, in a call).
    open_stored = q("select count(*) from calls where call_id in (%s) and answer_time is not null"
                    % ",".join(f"'stop-{i}@clean-stop.test'" for i in range(0, CALLS, 2)))
    con.close()
    print(f"store: {calls} calls for {invites} INVITE dialogs read ({CALLS} sent), "
          f"{messages} SIP messages ({expect_messages} sent), {open_stored} open calls stored, "
          f"{dangling} messages pointing at no call")
    if dangling != 0:
        fail(f"{dangling} stored messages point at a call that was never stored")
    if calls != CALLS or invites != CALLS:
        fail(f"want {CALLS} calls for {CALLS} INVITE dialogs, got {calls} for {invites}")
    if open_stored != CALLS // 2:
        fail(f"want the {CALLS // 2} open calls stored, got {open_stored}")
    if messages != expect_messages:
        fail(f"want {expect_messages} SIP messages stored, got {messages}")


def summary_ok(log, pattern, what):
    m = re.search(pattern, log, re.M)
    if m is None:
        fail(f"no {what} summary line on stderr", log)
    print(f"summary: {m.group(0)}")
    return m


def stopped_log(rc, log_path):
    """The stopped process's stderr, shown; it must have exited 0."""
    log = read(log_path)
    print(log, end="")
    if rc != 0:
        fail(f"exit status {rc}, want 0")
    return log


def stop_once_counted(args, started, what, feed, db, want, sig, log_path):
    """Start sipscope with args, wait for `started` on its stderr, feed() it SIP messages, and
    once it has counted `want` of them stop it with sig; returns its stderr (exit status 0)."""
    with open(log_path, "w") as err:
        proc = subprocess.Popen(args, stderr=err, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: started in read(log_path), what, proc, log_path)
        feed()
        wait_for(lambda: meta(db, "live.sip_messages") >= want, "every message to be counted",
                 proc, log_path)
        rc = stop(proc, sig, log_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return stopped_log(rc, log_path)


def check_open_calls_stored(log, pattern, what):
    """The summary line (pattern: calls, stored as they stood) counts every call and the open
    ones among them."""
    m = summary_ok(log, pattern, what)
    if int(m.group(1)) != CALLS or int(m.group(2)) < CALLS // 2:
        fail(f"summary says {m.group(1)} calls, {m.group(2)} open; want {CALLS}, >= {CALLS // 2}")


def file_mode(binary, mode, tmp):
    """analyze / run -r reading a FIFO whose writer keeps it open: SIGTERM lands mid-read."""
    fifo = os.path.join(tmp, "in.fifo")
    os.mkfifo(fifo)
    db, log_path = os.path.join(tmp, "s.db"), os.path.join(tmp, "err.log")
    data = capture_bytes()
    written = threading.Event()
    release = threading.Event()

    def writer():
        with open(fifo, "wb") as f:
            f.write(data)
            f.flush()
            written.set()
            release.wait(DEADLINE_S)  # held open: no end of file

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    args = ([binary, "analyze", "--db", db, "-"] if mode == "analyze" else
            [binary, "run", "-r", "-", "--db", db, "--listen", "127.0.0.1:0"])
    with open(fifo, "rb") as stdin, open(log_path, "w") as err:
        proc = subprocess.Popen(args, stdin=stdin, stderr=err, stdout=subprocess.DEVNULL)
    wait_for(written.is_set, "the capture to be read", proc, log_path)
    time.sleep(1.0)  # let the analysis reach the last record
    rc = stop(proc, signal.SIGTERM, log_path)
    release.set()
    log = stopped_log(rc, log_path)
    if mode == "analyze":
        m = summary_ok(log, r"^sipscope: \d+ packets, \d+ SIP messages, (\d+) calls,", "analyze")
    else:
        m = summary_ok(log, r"^sipscope: stopped by SIGTERM, not serving .*: \d+ packets, \d+ SIP "
                       r"messages, (\d+) calls \(\d+ stored as they stood", "run -r")
        if "serving " + db in log:
            fail("run -r served after a stop during the analysis")
    if int(m.group(1)) != CALLS:
        fail(f"summary says {m.group(1)} calls, want {CALLS}")
    check_store(db, len(all_messages("a", "b")))


def send_udp(messages, caller, callee):
    """Each message from caller or callee port SIP_PORT+1/SIP_PORT to the other, on loopback."""
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind((caller, SIP_PORT + 1))
    b.bind((callee, SIP_PORT))
    try:
        for from_caller, text in messages:
            s, to = (a, (callee, SIP_PORT)) if from_caller else (b, (caller, SIP_PORT + 1))
            s.sendto(text.encode(), to)
            time.sleep(0.002)
    finally:
        a.close()
        b.close()


def live_mode(binary, mode, tmp):
    """capture -i lo / run -i lo: SIP sent on loopback, SIGINT once it is all counted."""
    if os.geteuid() != 0:
        skip("live capture needs root (or CAP_NET_RAW)")
    db, log_path = os.path.join(tmp, "s.db"), os.path.join(tmp, "err.log")
    caller, callee = "127.0.0.1", "127.0.0.2"
    filt = f"udp and (port {SIP_PORT} or port {SIP_PORT + 1})"
    args = [binary, "capture" if mode == "capture" else "run", "-i", "lo", "-f", filt, "--db", db]
    if mode == "run_i":
        args += ["--listen", "127.0.0.1:0"]
    messages = all_messages(caller, callee)
    log = stop_once_counted(args, "capturing on", "the capture to start",
                            lambda: send_udp(messages, caller, callee), db, len(messages),
                            signal.SIGINT, log_path)
    check_open_calls_stored(log, r"^sipscope: capture stopped: \d+ frames.*; \d+ packets, \d+ SIP "
                            r"messages, (\d+) calls \((\d+) stored as they stood", "capture")
    check_store(db, len(messages))


def free_port():
    """A port free on loopback for both UDP and TCP (run --hep-in takes both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    skip("no port free for both UDP and TCP on loopback")


def hep_mode(binary, tmp):
    """run --hep-in fed by analyze --hep-out; SIGTERM once every message is counted."""
    db, log_path = os.path.join(tmp, "s.db"), os.path.join(tmp, "err.log")
    pcap = os.path.join(tmp, "in.pcap")
    with open(pcap, "wb") as f:
        f.write(capture_bytes())
    port = free_port()
    want = len(all_messages("a", "b"))

    def feed():
        subprocess.run([binary, "analyze", "-q", "--db", ":memory:", "--hep-out",
                        f"127.0.0.1:{port},transport=tcp", pcap], check=True, timeout=DEADLINE_S)

    log = stop_once_counted([binary, "run", "--hep-in", f"127.0.0.1:{port}", "--db", db,
                             "--listen", "127.0.0.1:0"], "receiving HEP", "the receiver to start",
                            feed, db, want, signal.SIGTERM, log_path)
    check_open_calls_stored(log, r"^sipscope: HEP stopped: \d+ HEP packets.*; \d+ packets, \d+ SIP "
                            r"messages, (\d+) calls \((\d+) stored as they stood", "HEP")
    check_store(db, want)


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("analyze", "run_r", "capture", "run_i",
                                                   "hep_in"):
        print(__doc__)
        sys.exit(2)
    binary, mode = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="sipscope-stop-") as tmp:
        if mode in ("analyze", "run_r"):
            file_mode(binary, mode, tmp)
        elif mode == "hep_in":
            hep_mode(binary, tmp)
        else:
            live_mode(binary, mode, tmp)
    print(f"1 passed, 0 failed ({mode})")


if __name__ == "__main__":
    main()
