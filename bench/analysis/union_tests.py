#!/usr/bin/env python3
"""What cheap membership tests could spare the unions of Doppel's killer-set pass: a
simulation over the failure graph that `bench/run-sweep` writes (bench/out/failgraph.txt),
with the killer sets computed by the peer (bench/peers/networkx_sweep.py). Prints the
figures that docs/benchmarks.md ("N-1 sweep", tried and dropped) quotes.

A union is a component needing all of two or more live inputs; its base is the input with
the largest set; its candidates are what the other inputs' sets hold. The simulation works
on whole sets, where Doppel walks chains that stop early, so its counts are close to, not
equal to, the ones the sweep binary prints (`unions`, `unions_marked`).

Usage: python3 bench/analysis/union_tests.py [bench/out/failgraph.txt]
"""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "peers"))
import networkx_sweep as peer  # noqa: E402

HUBS = 32


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/out/failgraph.txt"
    g = peer.read_graph(path)
    sets, dead = peer.killer_sets(g)
    k = dict(g.nodes.data("k"))
    first_dep = {v: min(g.pred[v], default=10**9) for v in g}
    one_input = sum(1 for v in g if len(g.succ[v]) == 1)
    print(f"components: {g.number_of_nodes():,}, with exactly one input: {one_input:,}")
    unions = []
    for c in g:
        ins = [i for i in g.succ[c] if i not in dead]
        if k[c] == 0 and len(ins) >= 2:
            base = max(ins, key=lambda i: len(sets[i]))
            unions.append((ins, base))
    print(f"unions: {len(unions):,}")
    by_indegree = sorted(g, key=lambda v: -len(g.pred[v]))

    def open_candidates(ins, base, hubs):
        """Candidates no cheap test settles, as (x, in the base's set)."""
        sb = sets[base]
        left = []
        for i in ins:
            if i == base:
                continue
            cand = set(sets[i])
            # A hub in the base's set takes its own set with it (sets are closed downwards).
            for h in [h for h in cand if h in hubs and h in sb]:
                cand -= sets[h]
            left += [(x, x in sb) for x in cand if x not in hubs and x != base and first_dep[x] <= base]
        return left

    for extra in [0, 32, 128, 1024]:
        hubs = set(range(HUBS)) | set(by_indegree[:extra])
        settled = sum(1 for ins, base in unions if not open_candidates(ins, base, hubs))
        print(f"hubs: the {HUBS} lowest-numbered + {extra} most needed: {settled:,} unions settled")
    hubs = set(range(HUBS))
    kinds = Counter()
    lows = {v: min((x for x in sets[v] if x >= HUBS and x != v), default=10**9) for v in g}
    non_members = below_low = 0
    for ins, base in unions:
        left = open_candidates(ins, base, hubs)
        kinds[(any(m for _, m in left), any(not m for _, m in left))] += 1
        for x, m in left:
            if not m:
                non_members += 1
                below_low += x < lows[base]
    print(f"unions left: {len(unions) - kinds[(False, False)]:,}; holding open members and non-members: "
          f"{kinds[(True, True)]:,}, only non-members: {kinds[(False, True)]:,}, only members: {kinds[(True, False)]:,}")
    print(f"open non-members: {non_members:,}, of which below the lowest non-hub member of the base's set: {below_low:,}")


if __name__ == "__main__":
    main()
