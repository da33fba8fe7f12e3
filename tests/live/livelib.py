"""Shared by the live Python tests: skipping when a tool or root is missing, the last lines of a
test, and starting a sipscope server on a port the kernel picks.

A port chosen by the test (at random, or bound and closed to find a free one) can be taken by
any other program's outgoing connection before sipscope binds it: ports above 32768 are the
kernel's ephemeral range. `--listen 127.0.0.1:0` lets sipscope bind first; the test reads the
address back from the line sipscope prints ("serving DB at http://127.0.0.1:PORT/").
"""
import os
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request

SERVING = re.compile(r"serving .* at (http://[^/\s]+)/")
TEST = os.path.splitext(os.path.basename(sys.argv[0]))[0]


def skip(why):
    """Exit status 77 is "skipped" to ctest (SKIP_RETURN_CODE), never a pass."""
    print(f"SKIPPED {TEST}: {why}", flush=True)
    sys.exit(77)


def need(tools, root_why=None):
    """Skip unless every tool is installed (on PATH or in /usr/sbin) and, given root_why, unless
    running as root."""
    for tool in tools:
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            skip(f"{tool} is not installed (scripts/setup --test)")
    if root_why is not None and os.geteuid() != 0:
        skip(root_why)


def need_realcall(shared):
    """The path of shared/tools/realcall (kamailio and baresip driven), skipping if absent."""
    realcall = os.path.join(shared, "tools", "realcall", "realcall")
    if not os.path.exists(realcall):
        skip(f"{realcall} is absent")
    return realcall


def start_realcall_capture(binary, tmp, sip_first, sip_choices, host=None, extra_args=()):
    """Ports for shared/tools/realcall: a SIP port from sip_first up in steps of 2 (sip_choices of
    them; realcall takes it and the 21 above) and an RTP range of 200 from 31000 up, at random so
    that concurrent runs do not meet; then `sipscope run -i lo` capturing only those ports (and
    only `host`, if given) into tmp/live.db, plus extra_args. Returns (server, base URL, SIP
    port, RTP base)."""
    sip_port = sip_first + random.randrange(0, sip_choices) * 2
    rtp_base = 31000 + random.randrange(0, 40) * 400
    capture_filter = (f"udp and {f'host {host} and ' if host else ''}"
                      f"(portrange {sip_port}-{sip_port + 21} or "
                      f"portrange {rtp_base}-{rtp_base + 199})")
    server, base = start_server(
        [binary, "run", "-i", "lo", "-f", capture_filter, "--db", os.path.join(tmp, "live.db"),
         *extra_args], os.path.join(tmp, "run.log"))
    return server, base, sip_port, rtp_base


def report(failures, most=None):
    """The test's last lines (each failure, at most `most` of them, then the count) and its exit
    status: 0 when nothing failed."""
    for f in failures[:most]:
        print("FAIL", f)
    if most is not None and len(failures) > most:
        print(f"FAIL ... and {len(failures) - most} more")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    sys.exit(1 if failures else 0)


def start_server(argv, log_path, seconds=15):
    """Start `argv` (a `sipscope run|serve` command without --listen) listening on a port of the
    kernel's choice, its output in log_path. Returns (process, base URL) once /healthz answers;
    raises SystemExit with the log when it exits or does not answer within `seconds`."""
    log = open(log_path, "w")
    server = subprocess.Popen(argv + ["--listen", "127.0.0.1:0"], stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + seconds
    base = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("sipscope exited: " + open(log_path).read())
        if base is None:
            found = SERVING.search(open(log_path).read())
            base = found.group(1) if found else None
        if base is not None:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                return server, base
            except OSError:
                pass
        time.sleep(0.1)
    server.kill()
    server.wait()
    raise SystemExit(f"sipscope did not serve within {seconds} s: " + open(log_path).read())
