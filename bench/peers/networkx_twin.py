#!/usr/bin/env python3
"""Peer baseline for docs/benchmarks.md: the same twin measurements, done the obvious
Python way with networkx, so Doppel's figures can be reported as ratios against it.

Input is an estate JSON file written by `doppel gen` (``{"entities": [...],
"relations": [...]}``). The graph is a ``networkx.MultiDiGraph``: one node per entity
keyed ``"kind/name"`` with attributes ``kind``, ``labels`` (a dict, empty when absent)
and every other field of the entity as given; one edge per relation, keyed by its type
(so at most one relation per (from, type, to)), with attribute ``type`` plus the
relation's own attributes.

What it measures (mirroring bench/src/bin/scale.rs and bench/benches/twin.rs):

1. build: time to build the graph from the parsed JSON lists (``build_s``, JSON parsing
   excluded and reported apart as ``json_parse_s``); the memory the graph holds, as
   traced by tracemalloc (bytes requested from Python's allocators, so allocator slack
   and freed-but-kept memory do not count, like Doppel's counting allocator) once the
   parsed JSON has been deleted (``graph_bytes``, ``bytes_per_entity``); and the
   process's VmRSS with only the graph alive (``rss_bytes``; measured on a build done
   without tracemalloc, whose own bookkeeping would inflate it).
2. reopen: the graph pickled to a file (protocol 5), then loaded in a fresh Python
   process: ``reopen_load_s`` is ``pickle.load`` alone (networkx already imported),
   ``reopen_process_s`` the whole subprocess (interpreter start, imports, load, exit).
   Median of 3; the page cache is warm (the file was just written).
3. select: "every pod located, transitively, in zone us-east-1a whose label app matches
   svc-00001*", with Doppel's semantics: walk up along out-edges of type located_in or
   runs_on (and member_of only from a node or host), breadth-first, at most 8 steps.
   Best and median of 5 runs, milliseconds, and the number of hits.
4. fork: networkx has no overlay, so a what-if is ``H = G.copy()`` plus the 10 changes
   of Doppel's scenario (5 deployments scaled, 2 nodes removed, a service added with a
   calls edge, a service relabelled). Median over up to 20 runs, microseconds, both for
   copy + changes and for the changes alone on a copy made beforehand.

Usage:
    python3 networkx_twin.py all ESTATE.json    # prints one JSON line on stdout
    python3 networkx_twin.py load-pickle PATH   # internal: the fresh process of step 2
Progress goes to stderr.
"""

import fnmatch
import gc
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import networkx as nx

ZONE = "zone/us-east-1a"
APP_GLOB = "svc-00001*"
MAX_PLACEMENT_DEPTH = 8
SELECT_RUNS = 5
FORK_RUNS = 20
FORK_MIN_RUNS = 3
FORK_BUDGET_S = 60.0
REOPEN_RUNS = 3


def log(message):
    print(f"[networkx_twin] {message}", file=sys.stderr, flush=True)


def rss_bytes():
    """Resident memory of this process (Linux /proc/self/status VmRSS), in bytes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --- 1. build ---------------------------------------------------------------------------


def build_graph(entities, relations):
    """The estate as a MultiDiGraph: nodes keyed "kind/name", edges keyed by type."""
    graph = nx.MultiDiGraph()
    for entity in entities:
        attrs = {key: value for key, value in entity.items() if key != "name"}
        if "labels" not in attrs:
            attrs["labels"] = {}
        graph.add_node(f"{entity['kind']}/{entity['name']}", **attrs)
    for relation in relations:
        attrs = {key: value for key, value in relation.items() if key not in ("from", "to")}
        graph.add_edge(relation["from"], relation["to"], key=relation["type"], **attrs)
    return graph


def load_estate(raw):
    document = json.loads(raw)
    return document["entities"], document["relations"]


def measure_build(path):
    """Builds the graph twice: untimed-by-tracemalloc for time and RSS, then traced for
    the bytes it holds. Returns the (traced) graph and the figures."""
    with open(path, "rb") as file:
        raw = file.read()

    gc.collect()
    rss_before = rss_bytes()
    t = time.perf_counter()
    entities, relations = load_estate(raw)
    json_parse_s = time.perf_counter() - t
    t = time.perf_counter()
    graph = build_graph(entities, relations)
    build_s = time.perf_counter() - t
    del entities, relations
    gc.collect()
    figures = {
        "entities": graph.number_of_nodes(),
        "relations": graph.number_of_edges(),
        "json_parse_s": json_parse_s,
        "build_s": build_s,
        "rss_bytes": rss_bytes(),
        "rss_baseline_bytes": rss_before,
    }
    del graph
    gc.collect()
    log(f"built {figures['entities']} nodes, {figures['relations']} edges in {build_s:.2f}s")

    # Traced build. The JSON is parsed under tracing too, so that the attribute values the
    # graph shares with the parsed document (labels, nested maps, strings) are counted;
    # the document itself is then deleted, leaving only what the graph holds.
    tracemalloc.start()
    entities, relations = load_estate(raw)
    graph = build_graph(entities, relations)
    del entities, relations
    gc.collect()
    graph_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del raw
    gc.collect()
    figures["graph_bytes"] = graph_bytes
    figures["bytes_per_entity"] = graph_bytes / max(1, figures["entities"])
    log(f"graph holds {graph_bytes} bytes ({figures['bytes_per_entity']:.0f} per entity)")
    return graph, figures


# --- 2. reopen --------------------------------------------------------------------------


def load_pickle(path):
    """The fresh process of step 2: times pickle.load alone and prints JSON."""
    gc.collect()
    rss_start = rss_bytes()
    t = time.perf_counter()
    with open(path, "rb") as file:
        graph = pickle.load(file)
    seconds = time.perf_counter() - t
    print(json.dumps({
        "load_s": seconds,
        "entities": graph.number_of_nodes(),
        "rss_bytes": rss_bytes() - rss_start,
    }))


def measure_reopen(graph, workdir):
    path = os.path.join(workdir, "graph.pickle")
    t = time.perf_counter()
    with open(path, "wb") as file:
        pickle.dump(graph, file, protocol=5)
    dump_s = time.perf_counter() - t
    loads, processes, rss = [], [], []
    for _ in range(REOPEN_RUNS):
        t = time.perf_counter()
        child = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "load-pickle", path],
            capture_output=True, check=True, text=True,
        )
        processes.append(time.perf_counter() - t)
        result = json.loads(child.stdout)
        if result["entities"] != graph.number_of_nodes():
            raise SystemExit("the reopened graph has the wrong number of nodes")
        loads.append(result["load_s"])
        rss.append(result["rss_bytes"])
    figures = {
        "pickle_bytes": os.path.getsize(path),
        "pickle_dump_s": dump_s,
        "reopen_load_s": statistics.median(loads),
        "reopen_process_s": statistics.median(processes),
        "reopen_rss_bytes": statistics.median(rss),
    }
    os.remove(path)
    log(f"reopen: load {figures['reopen_load_s']:.3f}s, process {figures['reopen_process_s']:.3f}s")
    return figures


# --- 3. select --------------------------------------------------------------------------


def places(graph, source, rel_type):
    """Whether a relation of this type from `source` puts it inside its target."""
    if rel_type in ("located_in", "runs_on"):
        return True
    return rel_type == "member_of" and graph.nodes[source]["kind"] in ("node", "host")


def is_located_in(graph, start, target):
    frontier = [start]
    seen = set()
    for _ in range(MAX_PLACEMENT_DEPTH):
        following = []
        for current in frontier:
            for _, to, rel_type in graph.out_edges(current, keys=True):
                if not places(graph, current, rel_type):
                    continue
                if to == target:
                    return True
                if to not in seen:
                    seen.add(to)
                    following.append(to)
        if not following:
            return False
        frontier = following
    return False


def select_pods(graph):
    hits = []
    for key, attrs in graph.nodes(data=True):
        if attrs["kind"] != "pod":
            continue
        app = attrs["labels"].get("app")
        if app is None or not fnmatch.fnmatchcase(app, APP_GLOB):
            continue
        if is_located_in(graph, key, ZONE):
            hits.append(key)
    hits.sort()
    return hits


def measure_select(graph):
    times, hits = [], None
    for _ in range(SELECT_RUNS):
        t = time.perf_counter()
        result = select_pods(graph)
        times.append(time.perf_counter() - t)
        if hits is not None and result != hits:
            raise SystemExit("select is not deterministic")
        hits = result
    figures = {
        "select_best_ms": min(times) * 1e3,
        "select_median_ms": statistics.median(times) * 1e3,
        "select_hits": len(hits),
    }
    log(f"select: {len(hits)} hits, best {figures['select_best_ms']:.2f}ms")
    return figures


# --- 4. fork ----------------------------------------------------------------------------


def plan_scenario(graph):
    """The targets of the 10 changes, picked in insertion order (outside the timings)."""
    def first(kind, count):
        found = []
        for key, attrs in graph.nodes(data=True):
            if attrs["kind"] == kind:
                found.append(key)
                if len(found) == count:
                    break
        return found

    services = first("service", 2)
    return {
        "deployments": first("deployment", 5),
        "nodes": first("node", 2),
        "callee": services[0],
        "relabel": services[1] if len(services) > 1 else None,
    }


def apply_scenario(fork, plan):
    for deployment in plan["deployments"]:
        attrs = fork.nodes[deployment]
        attrs["replicas"] = attrs.get("replicas", 0) + 2
    for node in plan["nodes"]:
        fork.remove_node(node)
    fork.add_node("service/what-if-cache", kind="service", labels={})
    fork.add_edge("service/what-if-cache", plan["callee"], key="calls", type="calls")
    if plan["relabel"] is not None:
        fork.nodes[plan["relabel"]]["labels"] = {"what-if": "yes"}


def measure_fork(graph):
    plan = plan_scenario(graph)
    n_changes = len(plan["deployments"]) + len(plan["nodes"]) + 2 + (plan["relabel"] is not None)
    if n_changes != 10:
        log(f"warning: the scenario has {n_changes} changes, not 10")

    before = {key: dict(graph.nodes[key]) for key in plan["deployments"] + [plan["relabel"]] if key}
    edges_before = graph.number_of_edges()

    copy_and_apply = []
    started = time.perf_counter()
    for run in range(FORK_RUNS):
        t = time.perf_counter()
        fork = graph.copy()
        apply_scenario(fork, plan)
        copy_and_apply.append(time.perf_counter() - t)
        if run == 0:
            check_fork(graph, fork, plan, before, edges_before)
        del fork
        if run + 1 >= FORK_MIN_RUNS and time.perf_counter() - started > FORK_BUDGET_S:
            break

    apply_only = []
    for _ in range(len(copy_and_apply)):
        fork = graph.copy()
        t = time.perf_counter()
        apply_scenario(fork, plan)
        apply_only.append(time.perf_counter() - t)
        del fork

    figures = {
        "fork_copy_and_apply_us": statistics.median(copy_and_apply) * 1e6,
        "apply_only_us": statistics.median(apply_only) * 1e6,
        "fork_runs": len(copy_and_apply),
    }
    log(f"fork: copy+apply {figures['fork_copy_and_apply_us']:.0f}us, "
        f"apply only {figures['apply_only_us']:.0f}us ({len(copy_and_apply)} runs)")
    return figures


def check_fork(graph, fork, plan, before, edges_before):
    """The fork saw the changes and the base did not."""
    for key in plan["deployments"]:
        assert fork.nodes[key]["replicas"] == before[key].get("replicas", 0) + 2
        assert graph.nodes[key] == before[key]
    for node in plan["nodes"]:
        assert node in graph and node not in fork
    assert "service/what-if-cache" in fork and "service/what-if-cache" not in graph
    assert fork.has_edge("service/what-if-cache", plan["callee"], key="calls")
    if plan["relabel"]:
        assert fork.nodes[plan["relabel"]]["labels"] == {"what-if": "yes"}
        assert graph.nodes[plan["relabel"]] == before[plan["relabel"]]
    assert graph.number_of_edges() == edges_before


# --- main -------------------------------------------------------------------------------


def run_all(path):
    workdir = tempfile.mkdtemp(prefix="networkx_twin-")
    try:
        graph, figures = measure_build(path)
        figures.update(measure_reopen(graph, workdir))
        figures.update(measure_select(graph))
        figures.update(measure_fork(graph))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures["python"] = sys.version.split()[0]
    figures["networkx"] = nx.__version__
    print(json.dumps(figures))


def main(argv):
    if len(argv) == 3 and argv[1] == "all":
        run_all(argv[2])
    elif len(argv) == 3 and argv[1] == "load-pickle":
        load_pickle(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
