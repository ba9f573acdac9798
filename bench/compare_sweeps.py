#!/usr/bin/env python3
"""Two builds of the sweep binary (bench/src/bin/sweep.rs) in turns: each generates the same
estate in --paired mode, then each turn times a batch of graph-part runs of one and then the
other (the order swapped every turn). Prints the medians, the fastest batches and the median
ratio B/A of the turns with its quartiles: below 1, B is faster.

Usage: python3 bench/compare_sweeps.py BEFORE_BINARY AFTER_BINARY [--turns 20] [--batch 51]
"""

import argparse
import statistics

from sweep_process import SweepProcess


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="the sweep binary to compare against (A)")
    ap.add_argument("b", help="the sweep binary compared (B)")
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--batch", type=int, default=51)
    args = ap.parse_args()
    procs = [SweepProcess(args.a, "/tmp/compare_sweeps_a"), SweepProcess(args.b, "/tmp/compare_sweeps_b")]
    times = ([], [])
    for turn in range(args.turns):
        for i in ((0, 1) if turn % 2 == 0 else (1, 0)):
            times[i].append(procs[i].batch(args.batch))
    for p in procs:
        p.close()
    ratios = sorted(b / a for a, b in zip(*times))
    q = lambda f: ratios[round(f * (len(ratios) - 1))]
    ms = lambda s: f"{s * 1e3:.2f} ms"
    print(f"A: median {ms(statistics.median(times[0]))}, fastest batch {ms(min(times[0]))}")
    print(f"B: median {ms(statistics.median(times[1]))}, fastest batch {ms(min(times[1]))}")
    print(f"B/A over {args.turns} turns: median {statistics.median(ratios):.3f} (quartiles {q(.25):.3f} to {q(.75):.3f})")


if __name__ == "__main__":
    main()
