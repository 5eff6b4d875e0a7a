#!/usr/bin/env python3
"""Deterministic generator of closure reference graphs for the layering benchmark.

usage: layering-gen.py N OUT.json

Writes {"graph": [...]} in the structured-attrs shape Nix writes (nodes sorted by path,
keys alphabetical). Shape, loosely like a real closure: node i only refers to nodes
before it (a DAG) and nodes are spread over 24 levels, each referring only to lower levels (real
closures are a few dozen levels deep); a few dozen "core" libraries at the bottom are
referred to by most packages; every package refers to 0-8 others, half of them on the
level just below; about 70 % refer to themselves; narSize is
log-uniform between 4 KiB and 200 MiB. The last two nodes are the image roots
(base.json, and a customisation layer referring to 40 top-level packages).
Same N, same bytes, on every run and Python version >= 3.2.
"""
import json
import random
import sys

ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"  # nix-base32


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rng = random.Random(n)
    core = 40
    paths = []
    for i in range(n):
        h = "".join(rng.choice(ALPHABET) for _ in range(32))
        paths.append(f"/nix/store/{h}-pkg{i % 997}-{i // 997}.{rng.randrange(10)}")
    refs = [[] for _ in range(n)]
    pkgs = n - 2
    levels = 24
    per_level = max(1, (pkgs - core) // (levels - 1))

    def level_start(level):
        return 0 if level == 0 else core + (level - 1) * per_level

    for i in range(core, pkgs):
        level = min(levels - 1, 1 + (i - core) // per_level)
        below = level_start(level - 1)
        here = level_start(level)
        k = rng.randrange(0, 9)
        chosen = set()
        for _ in range(k):
            r = rng.random()
            if r < 0.35:
                j = rng.randrange(0, core)
            elif r < 0.85:
                j = rng.randrange(below, here)
            else:
                j = rng.randrange(0, here)
            chosen.add(j)
        refs[i] = sorted(chosen)
    for i in range(1, core):
        refs[i] = sorted({rng.randrange(0, i) for _ in range(rng.randrange(0, 3))})
    base, cust = n - 2, n - 1
    refs[cust] = sorted(rng.sample(range(pkgs // 2, pkgs), min(40, pkgs // 2)))
    sizes = [int(2 ** rng.uniform(12, 27.6)) // 8 * 8 for _ in range(n)]
    sizes[base] = 1024
    nodes = []
    for i in range(n):
        r = [paths[j] for j in refs[i]]
        if i < pkgs and rng.random() < 0.7:
            r.append(paths[i])
        nodes.append(
            {
                "closureSize": 0,
                "narHash": "sha256:" + "".join(rng.choice(ALPHABET) for _ in range(52)),
                "narSize": sizes[i],
                "path": paths[i],
                "references": sorted(r),
            }
        )
    nodes.sort(key=lambda x: x["path"])
    with open(out, "w") as f:
        json.dump({"graph": nodes}, f, indent=2)
        f.write("\n")


main()
