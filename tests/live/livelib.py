"""Shared by the live Python tests: start a sipscope server on a port the kernel picks.

A port chosen by the test (at random, or bound and closed to find a free one) can be taken by
any other program's outgoing connection before sipscope binds it: ports above 32768 are the
kernel's ephemeral range. `--listen 127.0.0.1:0` lets sipscope bind first; the test reads the
address back from the line sipscope prints ("serving DB at http://127.0.0.1:PORT/").
"""
import re
import subprocess
import time
import urllib.request

SERVING = re.compile(r"serving .* at (http://[^/\s]+)/")


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
