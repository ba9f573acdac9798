#!/usr/bin/env python3
"""Two builds of the sweep binary (bench/src/bin/sweep.rs) in turns: each generates the same
estate in --paired mode, then each turn times a batch of graph-part runs of one and then the
other (the order swapped every turn). Prints the medians, the fastest batches and the median
ratio B/A of the turns with its quartiles: below 1, B is faster.

Usage: python3 bench/compare_sweeps.py BEFORE_BINARY AFTER_BINARY [--turns 20] [--batch 51]
"""

import argparse
import json
import statistics
import subprocess
import sys


def start(binary, out):
    try:
        p = subprocess.Popen([binary, "--paired", "--out", out], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError as e:
        sys.exit(f"cannot start {binary}: {e}")
    if not p.stdout.readline():
        sys.exit(f"{binary} stopped before it was ready")
    return p


def batch(p, runs):
    p.stdin.write(f"{runs}\n")
    p.stdin.flush()
    line = p.stdout.readline()
    if not line:
        sys.exit("a sweep binary stopped in the middle of the turns")
    return statistics.median(json.loads(line)["runs_s"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="the sweep binary to compare against (A)")
    ap.add_argument("b", help="the sweep binary compared (B)")
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--batch", type=int, default=51)
    args = ap.parse_args()
    procs = [start(args.a, "/tmp/compare_sweeps_a"), start(args.b, "/tmp/compare_sweeps_b")]
    times = ([], [])
    for turn in range(args.turns):
        for i in ((0, 1) if turn % 2 == 0 else (1, 0)):
            times[i].append(batch(procs[i], args.batch))
    for p in procs:
        p.stdin.close()
        p.wait()
    ratios = sorted(b / a for a, b in zip(*times))
    q = lambda f: ratios[round(f * (len(ratios) - 1))]
    ms = lambda s: f"{s * 1e3:.2f} ms"
    print(f"A: median {ms(statistics.median(times[0]))}, fastest batch {ms(min(times[0]))}")
    print(f"B: median {ms(statistics.median(times[1]))}, fastest batch {ms(min(times[1]))}")
    print(f"B/A over {args.turns} turns: median {statistics.median(ratios):.3f} (quartiles {q(.25):.3f} to {q(.75):.3f})")


if __name__ == "__main__":
    main()
