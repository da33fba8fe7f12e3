"""golden: the code `run` and `regenerate` share (standard library only).

A TESTLIST row is `NAME INPUT EXPECTED [ARG...]`, paths relative to the TESTLIST's folder; the
output is what `sipscope analyze --json --db :memory: [ARG...] INPUT` prints on stdout, run in
that folder. Numbers are compared as the text sipscope printed (4.4 and 4.40 differ, and so do
0 and 0.0), everything else as JSON values.
"""

import json
import os
import subprocess

RUN_TIMEOUT_S = 120
MAX_DIFFS = 200


class Row:
    def __init__(self, name, inp, expected, args, line):
        self.name, self.input, self.expected, self.args, self.line = name, inp, expected, args, line


def read_testlist(path):
    """Rows of the TESTLIST at path, in file order. A malformed row or a repeated name raises
    ValueError naming the line."""
    rows, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            text = text.split("#", 1)[0].strip()
            if not text:
                continue
            cols = text.split()
            if len(cols) < 3:
                raise ValueError(f"{path}:{n}: want NAME INPUT EXPECTED [ARG...], got {text!r}")
            if cols[0] in seen:
                raise ValueError(f"{path}:{n}: {cols[0]} is listed twice")
            seen.add(cols[0])
            rows.append(Row(cols[0], cols[1], cols[2], cols[3:], n))
    return rows


def analyze(binary, row, folder):
    """Runs sipscope on row's input in folder. Returns (stdout bytes, None) or (None, why)."""
    if not os.path.isfile(os.path.join(folder, row.input)):
        return None, f"input {row.input} does not exist"
    cmd = [binary, "analyze", "--json", "--db", ":memory:", *row.args, row.input]
    try:
        p = subprocess.run(cmd, cwd=folder, capture_output=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"{' '.join(cmd)}: no answer in {RUN_TIMEOUT_S} s"
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()
        return None, f"{' '.join(cmd)}: exit status {p.returncode}: {err}"
    return p.stdout, None


class Num:
    """A JSON number kept as the text it was printed as."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Num) and self.text == other.text

    def __hash__(self):
        return hash(self.text)


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"key {k!r} appears twice in one object")
        d[k] = v
    return d


def parse(data):
    """A JSON document with its numbers as Num. Raises ValueError on anything that is not one."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, parse_float=Num, parse_int=Num, parse_constant=_reject_constant,
                      object_pairs_hook=_pairs)


def show(v, limit=80):
    """A value as JSON text, shortened for a report line."""
    if isinstance(v, Num):
        s = v.text
    elif isinstance(v, dict):
        s = "{" + ", ".join(json.dumps(k) for k in list(v)[:4]) + (", ...}" if len(v) > 4 else "}")
    elif isinstance(v, list):
        s = f"[{len(v)} element{'s' if len(v) != 1 else ''}]"
    else:
        s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _kind(v):
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null", Num: "number"}[type(v)]


def _child(path, key):
    if isinstance(key, int):
        return f"{path}[{key}]"
    plain = key.replace("_", "").isalnum() and not key[:1].isdigit()
    name = key if plain else json.dumps(key)
    return f"{path}.{name}" if path else name


# The words of a difference line: the checker's, and regenerate's (old file, then new output).
CHECK_WORDS = {"a": "expected", "b": "got", "gone": "missing", "extra": "not expected"}
CHANGE_WORDS = {"a": "was", "b": "now", "gone": "removed", "extra": "added"}


def compare(expected, got, path="", w=CHECK_WORDS):
    """Every difference between two parsed documents, as 'path: what' lines, depth first in the
    expected document's order."""
    out = []
    at = path or "(top)"
    if type(expected) is not type(got):
        out.append(f"{at}: {w['a']} {_kind(expected)} {show(expected)}, "
                   f"{w['b']} {_kind(got)} {show(got)}")
    elif isinstance(expected, dict):
        for k, v in expected.items():
            if k in got:
                out += compare(v, got[k], _child(path, k), w)
            else:
                out.append(f"{_child(path, k)}: {w['gone']} ({w['a']} {show(v)})")
        for k, v in got.items():
            if k not in expected:
                out.append(f"{_child(path, k)}: {w['extra']} ({w['b']} {show(v)})")
    elif isinstance(expected, list):
        if len(expected) != len(got):
            out.append(f"{at}: {w['a']} {len(expected)} elements, {w['b']} {len(got)}")
        for i in range(min(len(expected), len(got))):
            out += compare(expected[i], got[i], _child(path, i), w)
        for i in range(len(got), len(expected)):
            out.append(f"{_child(path, i)}: {w['gone']} ({w['a']} {show(expected[i])})")
        for i in range(len(expected), len(got)):
            out.append(f"{_child(path, i)}: {w['extra']} ({w['b']} {show(got[i])})")
    elif expected != got:
        out.append(f"{at}: {w['a']} {show(expected)}, {w['b']} {show(got)}")
    return out


def report(lines, indent="  "):
    """The difference lines, at most MAX_DIFFS of them, indented for printing."""
    shown = [indent + s for s in lines[:MAX_DIFFS]]
    if len(lines) > MAX_DIFFS:
        shown.append(f"{indent}... and {len(lines) - MAX_DIFFS} more")
    return "\n".join(shown)


def select(rows, names):
    """The rows named (all when names is empty); an unknown name raises ValueError."""
    if not names:
        return rows
    by_name = {r.name: r for r in rows}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"not in the TESTLIST: {', '.join(unknown)}")
    return [by_name[n] for n in names]
