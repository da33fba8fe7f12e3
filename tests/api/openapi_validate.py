#!/usr/bin/env python3
"""openapi_validate: every route's real responses against web/openapi.json, with a JSON Schema
validator (python3-jsonschema, Debian). The OpenAPI 3.0 schemas are turned into JSON Schema
(nullable -> a "null" type, allOf flattened) and every object schema that lists its properties
gets additionalProperties: false, so a field the server sends and the description lacks fails,
as does a missing required one, a wrong type, an enum value not listed, or a content type the
route does not document. Exits 77 (skipped) when python3-jsonschema is missing.

    openapi_validate.py SIPSCOPE_BINARY SAMPLE_PCAP
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

try:
    import jsonschema
except ImportError:
    print("openapi_validate: SKIP: python3-jsonschema is not installed (scripts/setup --test)",
          file=sys.stderr)
    sys.exit(77)

binary, pcap = sys.argv[1], sys.argv[2]
failures = []


def convert(s, defs):
    """An OpenAPI 3.0 schema as JSON Schema (draft 7)."""
    if isinstance(s, list):
        return [convert(x, defs) for x in s]
    if not isinstance(s, dict):
        return s
    if "$ref" in s:
        return {"$ref": "#/definitions/" + s["$ref"].rsplit("/", 1)[1]}
    if "allOf" in s:
        merged = {"type": "object", "properties": {}, "required": []}
        for part in s["allOf"]:
            part = resolve(part, defs)
            flat = convert(part, defs) if "allOf" in part else part
            if "allOf" in part:
                merged["properties"].update(flat.get("properties", {}))
                merged["required"] += flat.get("required", [])
            else:
                merged["properties"].update(
                    {k: convert(v, defs) for k, v in part.get("properties", {}).items()})
                merged["required"] += part.get("required", [])
        merged["additionalProperties"] = False
        if not merged["required"]:
            del merged["required"]
        return merged
    out = {}
    for k, v in s.items():
        if k in ("nullable", "example", "format", "description"):
            continue
        out[k] = convert(v, defs) if k in ("items", "additionalProperties") else v
    if "properties" in s:
        out["properties"] = {k: convert(v, defs) for k, v in s["properties"].items()}
        out.setdefault("additionalProperties", False)
    if s.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
    return out


def resolve(s, defs):
    while isinstance(s, dict) and "$ref" in s:
        s = defs[s["$ref"].rsplit("/", 1)[1]]
    return s


def start_server(db):
    p = subprocess.Popen([binary, "serve", "--db", db, "--listen", "127.0.0.1:0"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            return p, int(m.group(1))
    p.kill()
    sys.exit("openapi_validate: the server did not say its URL")


def get(port, target):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, target),
                                 headers={"Host": "127.0.0.1"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def main():
    tmp = tempfile.mkdtemp(prefix="openapi_validate.")
    db = os.path.join(tmp, "small.db")
    subprocess.run([binary, "analyze", "-q", "--db", db, "--pcap-dir", os.path.join(tmp, "pcaps"),
                    pcap], check=True, stdout=subprocess.DEVNULL)
    server, port = start_server(db)
    try:
        check_all(port)
    finally:
        server.terminate()
        server.wait(10)
        subprocess.run(["rm", "-rf", tmp])
    if failures:
        for f in failures[:40]:
            print("openapi_validate: FAIL: " + f, file=sys.stderr)
        print("openapi_validate: %d mismatches" % len(failures), file=sys.stderr)
        sys.exit(1)


def check_all(port):
    status, _, body = get(port, "/api/v1/openapi.json")
    doc = json.loads(body)
    defs = doc["components"]["schemas"]
    root = {"definitions": {k: convert(v, defs) for k, v in defs.items()}}
    seen = {}

    def check(template, target, want_status=200):
        status, ctype, body = get(port, target)
        seen[template] = seen.get(template, 0) + 1
        op = doc["paths"][template]["get"]
        resp = op["responses"].get(str(status))
        if status != want_status:
            failures.append("%s: status %d, want %d" % (target, status, want_status))
        if resp is None:
            failures.append("%s: status %d is not documented" % (target, status))
            return None
        resp = resolve(resp, doc["components"].get("responses", {}))
        content = resp.get("content", {})
        media = ctype.split(";")[0].strip()
        if media not in content and "*/*" not in content:
            failures.append("%s: content type %s, documented %s" % (target, media, list(content)))
            return None
        if media != "application/json":
            return body
        value = json.loads(body)
        schema = dict(convert(content[media]["schema"], defs), definitions=root["definitions"])
        for err in jsonschema.Draft7Validator(schema).iter_errors(value):
            failures.append("%s: %s at %s" % (target, err.message[:200],
                                              "/".join(str(p) for p in err.absolute_path)))
        return value

    calls = check("/api/v1/calls", "/api/v1/calls?limit=1000")
    for q in ("one_way=true", "nat=true&final_status=4xx", "ip=2001:db8::/32", "verdict=one_way",
              "codec=opus&min_loss=1", "sort=worst", "active=false",
              "search=%2B1555%20opus"):
        check("/api/v1/calls", "/api/v1/calls?" + q)
    check("/api/v1/calls", "/api/v1/calls?limit=0", 400)
    check("/api/v1/calls.csv", "/api/v1/calls.csv?state=completed")
    check("/api/v1/calls/pcap", "/api/v1/calls/pcap?state=completed")
    for c in calls["calls"]:
        i = c["id"]
        check("/api/v1/calls/{id}", "/api/v1/calls/%d" % i)
        check("/api/v1/calls/{id}/messages", "/api/v1/calls/%d/messages" % i)
        check("/api/v1/calls/{id}/pcap", "/api/v1/calls/%d/pcap" % i)
        check("/api/v1/calls/{id}/ladder.txt", "/api/v1/calls/%d/ladder.txt" % i)
    check("/api/v1/calls/{id}", "/api/v1/calls/999999", 404)
    msgs = check("/api/v1/messages", "/api/v1/messages?limit=1000")
    for q in ("method=REGISTER&status=4xx", "in_call=false&user=1001", "src=203.0.113.0/24"):
        check("/api/v1/messages", "/api/v1/messages?" + q)
    for m in msgs["messages"][:60]:
        check("/api/v1/messages/{id}", "/api/v1/messages/%d" % m["id"])
    streams = check("/api/v1/streams", "/api/v1/streams?limit=1000")
    for s in streams["streams"]:
        check("/api/v1/streams/{id}", "/api/v1/streams/%d" % s["id"])
        check("/api/v1/streams/{id}/samples", "/api/v1/streams/%d/samples" % s["id"])
    check("/api/v1/stats", "/api/v1/stats")
    check("/api/v1/stats", "/api/v1/stats?since=2024-01-15T10:00:00Z&until=2024-01-15T10:01:00Z")
    check("/api/v1/alerts", "/api/v1/alerts?limit=1000")
    check("/api/v1/alerts", "/api/v1/alerts?type=scanner,auth_failure")
    check("/api/v1/registrations", "/api/v1/registrations?limit=1000")
    check("/api/v1/openapi.json", "/api/v1/openapi.json")
    check("/metrics", "/metrics")
    check("/healthz", "/healthz")
    check("/", "/")
    check("/static/{path}", "/static/app.js")
    for template in doc["paths"]:
        if template not in seen:
            failures.append("%s: documented but not exercised by this test" % template)
    print("openapi_validate: %d responses of %d routes checked" % (sum(seen.values()), len(seen)))


main()
