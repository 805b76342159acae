#!/usr/bin/env python3
"""Compares the JSON of two `spotdiff eval --json` runs, timing fields left out.

    python3 scripts/eval/compare-eval-json.py OLD.json NEW.json [OLD2.json NEW2.json ...]

Prints the number of differences per pair of files and the first 25 of them; exits 1
when any differ. Used to check that a refactoring keeps every figure.
"""
import json
import sys

TIMING = ('ms', 'time', 'elapsed', 'seconds')
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if not any(t in k.lower() for t in TIMING)}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
def walk(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'new' if k in b else 'old'}")
            else:
                walk(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a} -> {b}")

def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        sys.exit(__doc__)
    differ = False
    for old, new in zip(argv[0::2], argv[1::2]):
        out = []
        walk(strip(json.load(open(old))), strip(json.load(open(new))), "", out)
        print(f"{old} -> {new}: {len(out)} differences")
        for o in out[:25]:
            print("  ", o)
        differ |= bool(out)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
