#!/usr/bin/env python3
"""Peer baseline for the N-1 sweep in docs/benchmarks.md: the graph part of the sweep
(what each single failure takes down) computed with networkx, on the failure graph that
Doppel wrote (bench/src/bin/sweep.rs documents the format).

Semantics, the same as Doppel's: a component with k = 0 needs every input; one with k > 0
needs at least k of them. A component that is down before anything fails (short of its
inputs) counts for nothing. Classes failover, standby, endpoint and entry are derived gates
that do not fail on their own; entry components are the entry points.

Method: a single failure of x takes component c down exactly when x is in c's *killer
set*, and killer sets compose bottom-up in dependency order, so one pass answers every
failure at once (spreading each failure separately would repeat the same work per
failure). Dependency order is the file's numbering when every input is numbered below its
component (Doppel numbers its graph so, and checks the same way); otherwise it comes from
``nx.topological_sort``; if the graph has a cycle,
``nx.condensation`` collapses each strongly connected component first, whose members then
need each other and share one set (a cycle holding a k-of-n component is treated as needing
all, as Doppel does and says in its notes; the benchmark's graph has no cycle). Per component, with Python's set algebra (C loops):
k = 0: the union of its inputs' sets; k of n live inputs: whatever is in at least n-k+1
of their sets (k = n: the union, k = 1: the intersection, otherwise a Counter); a failable
component adds itself. Sets are frozensets and shared, not copied, where a component adds
nothing to its one input. Dominator trees (``nx.immediate_dominators``) give this answer
only when every component needs just one of its inputs, which is not the case here.
Finally a Counter over all the sets inverts them into per-failure counts.

Timed: only the graph computation (median of --runs), not reading the file or building
the DiGraph; with Python's cyclic garbage collector paused, as ``timeit`` does by default
(the computation makes no reference cycles, and the collections that fire in the middle of
it made it 12 to 26% slower on this machine; docs/benchmarks.md has the figures). ``--gc``
leaves the collector running, as a plain script would.

Usage:
    python3 networkx_sweep.py FAILGRAPH.txt ANSWER_OUT.txt [--runs N] [--topological-sort] [--gc]
(--topological-sort: sort with networkx even when the file's numbering is an order)
prints one JSON line on stdout and writes the same checksum file as Doppel's answer.txt.
"""

import gc
import json
import statistics
import sys
import time
from collections import Counter
from itertools import chain

import networkx as nx

DERIVED = {"failover", "standby", "endpoint", "entry"}
EMPTY = frozenset()


def read_graph(path):
    """The failure graph as a DiGraph: an edge c -> i when c needs i; node attributes
    k (0 = all), failable, entry."""
    g = nx.DiGraph()
    edges = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            c = int(fields[0])
            cls = fields[2]
            g.add_node(c, name=fields[1], k=int(fields[3]), failable=cls not in DERIVED, entry=cls == "entry")
            if fields[4]:
                edges.extend((c, int(i)) for i in fields[4].split(" "))
    g.add_edges_from(edges)
    return g


def gate_set(sets, dead, ins, k):
    """Killer set of a component from its inputs' sets, or None if it is down already."""
    live = [sets[i] for i in ins if i not in dead]
    if k == 0:
        if len(live) < len(ins):
            return None
        need = 1
    else:
        if len(live) < k:
            return None
        need = len(live) - k + 1
    if not live:
        return EMPTY
    if len(live) == 1:
        return live[0]
    if need == 1:
        return live[0].union(*live[1:])
    if need == len(live):
        return live[0].intersection(*live[1:])
    counts = Counter(chain.from_iterable(live))
    return frozenset(x for x, n in counts.items() if n >= need)


def killer_sets(g, sort=False):
    """Per component, the failable components whose single failure takes it down; and the
    components down before anything fails."""
    k = g.nodes.data("k")
    failable = g.nodes.data("failable")
    succ = g.succ
    sets = {}
    dead = set()
    groups = None
    if not sort and all(i < v for v in g for i in succ[v]):
        # Numbered in dependency order already (Doppel builds its graph so): the same
        # shortcut Doppel takes.
        order = sorted(g)
    else:
        try:
            order = list(nx.topological_sort(g))
        except nx.NetworkXUnfeasible:
            cond = nx.condensation(g)
            order = list(nx.topological_sort(cond))
            groups = cond.graph["mapping"], cond.nodes.data("members")
        order.reverse()  # what is needed first

    def one(v):
        s = gate_set(sets, dead, succ[v], k[v])
        if s is None:
            dead.add(v)
            s = EMPTY
        elif failable[v]:
            s = s | {v}
        sets[v] = s

    if groups is None:
        for v in order:
            one(v)
        return sets, dead
    mapping, members = groups
    for scc in order:
        vs = members[scc]
        if len(vs) == 1:
            one(next(iter(vs)))
            continue
        # A cycle: every member needs every other; the union of what they need outside.
        outside = [i for v in vs for i in succ[v] if mapping[i] != scc]
        if any(i in dead for i in outside):
            dead.update(vs)
            s = EMPTY
        else:
            s = frozenset().union(*(sets[i] for i in outside), (v for v in vs if failable[v]))
        for v in vs:
            sets[v] = s
    return sets, dead


def sweep_graph_part(g, sort=False):
    """Per failable component, how many components its failure takes down; and the
    (failure, entry point) pairs."""
    sets, dead = killer_sets(g, sort)
    down = Counter(chain.from_iterable(s for v, s in sets.items() if v not in dead))
    entry_pairs = sum(len(sets[v]) for v, e in g.nodes.data("entry") if e and v not in dead)
    return down, entry_pairs


def timed_graph_part(g, sort=False, collect=False):
    """`sweep_graph_part` and the seconds it took, with the garbage collector paused unless
    `collect`."""
    paused = not collect and gc.isenabled()
    if paused:
        gc.disable()
    try:
        t = time.perf_counter()
        down, entry_pairs = sweep_graph_part(g, sort)
        return time.perf_counter() - t, down, entry_pairs
    finally:
        if paused:
            gc.enable()


def write_answer(g, down, entry_pairs, path):
    """Writes the checksum file in the format of Doppel's answer.txt; returns the pairs."""
    failable = sorted(v for v, f in g.nodes.data("failable") if f)
    pairs = sum(down[v] for v in failable)
    with open(path, "w") as f:
        f.write("# per failable component: index<TAB>components its failure takes down\n")
        for v in failable:
            f.write(f"{v}\t{down[v]}\n")
        f.write(f"pairs\t{pairs}\nentry_pairs\t{entry_pairs}\n")
    return pairs


def main():
    args = sys.argv[1:]
    runs = 3
    sort = "--topological-sort" in args
    if sort:
        args.remove("--topological-sort")
    collect = "--gc" in args
    if collect:
        args.remove("--gc")
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i : i + 2]
    graph_path, answer_path = args
    t = time.perf_counter()
    g = read_graph(graph_path)
    read_s = time.perf_counter() - t
    times = []
    for _ in range(runs):
        took, down, entry_pairs = timed_graph_part(g, sort, collect)
        times.append(took)
    cyclic = not nx.is_directed_acyclic_graph(g)
    pairs = write_answer(g, down, entry_pairs, answer_path)
    print(
        json.dumps(
            {
                "networkx": nx.__version__,
                "python": sys.version.split()[0],
                "components": g.number_of_nodes(),
                "edges": g.number_of_edges(),
                "cyclic": cyclic,
                "gc": collect,
                "read_s": read_s,
                "graph_part_s": statistics.median(times),
                "graph_part_runs_s": times,
                "pairs": pairs,
                "entry_pairs": entry_pairs,
            }
        )
    )


if __name__ == "__main__":
    main()
