#!/usr/bin/env python3
"""The N-1 sweep's graph part, Doppel against the networkx peer, measured in pairs.

Starts the sweep binary in its paired mode (`bench/src/bin/sweep.rs --paired`), which builds
the estate, writes the failure graph and its answer, and then times batches of runs on
request. This script loads the same failure graph into the peer
(`bench/peers/networkx_sweep.py`), checks that the peer's answer is Doppel's, byte for byte,
and then takes PAIRS turns: a batch of Doppel runs (its median) and one run of the peer,
back to back, the order swapped every pair. The peer runs twice per pair: with Python's
garbage collector paused (as ``timeit`` does; its fastest form, which the goal is judged
against) and running (as a plain script would). A pair's ratio is the peer's run over
Doppel's median. Both sides of a pair are measured within about a second, so a change of
the machine's speed, which on this VM comes and goes over seconds, mostly hits both.

Usage:
    python3 bench/paired_sweep.py SWEEP_BINARY OUT_DIR [--services N] [--pairs P] [--batch B]
(defaults: 9005 services, 25 pairs, 51 Doppel runs per batch). Prints one JSON object: the
sweep binary's summary under "doppel", the peer's versions, every pair's times and ratio.
Exits 1 if the two answers differ.
"""

import filecmp
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import networkx as nx  # noqa: E402
import networkx_sweep as peer  # noqa: E402


def main():
    args = sys.argv[1:]
    opts = {"--services": "9005", "--pairs": "25", "--batch": "51"}
    for flag in list(opts):
        if flag in args:
            i = args.index(flag)
            opts[flag] = args[i + 1]
            del args[i : i + 2]
    binary, out = args
    out = Path(out)
    pairs, batch = int(opts["--pairs"]), int(opts["--batch"])

    doppel = subprocess.Popen(
        [binary, "--services", opts["--services"], "--out", str(out), "--paired"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    summary = json.loads(doppel.stdout.readline())

    def doppel_batch():
        doppel.stdin.write(f"{batch}\n")
        doppel.stdin.flush()
        return statistics.median(json.loads(doppel.stdout.readline())["runs_s"])

    def peer_runs():
        return peer.timed_graph_part(g)[0], peer.timed_graph_part(g, collect=True)[0]

    g = peer.read_graph(out / "failgraph.txt")
    _, down, entry_pairs = peer.timed_graph_part(g)
    failable = sorted(v for v, f in g.nodes.data("failable") if f)
    with open(out / "networkx_answer.txt", "w") as f:
        f.write("# per failable component: index<TAB>components its failure takes down\n")
        for v in failable:
            f.write(f"{v}\t{down[v]}\n")
        f.write(f"pairs\t{sum(down[v] for v in failable)}\nentry_pairs\t{entry_pairs}\n")
    if not filecmp.cmp(out / "answer.txt", out / "networkx_answer.txt", shallow=False):
        print(f"MISMATCH: {out}/answer.txt and {out}/networkx_answer.txt differ", file=sys.stderr)
        doppel.kill()
        sys.exit(1)
    doppel_batch()  # warm both sides once more before the pairs

    rows = []
    for p in range(pairs):
        if p % 2 == 0:
            d = doppel_batch()
            n, n_gc = peer_runs()
        else:
            n, n_gc = peer_runs()
            d = doppel_batch()
        rows.append({"doppel_s": d, "peer_s": n, "peer_gc_s": n_gc, "ratio": n / d, "ratio_gc": n_gc / d})
        print(
            f"pair {p + 1} of {pairs}: Doppel {d * 1e3:.2f} ms, peer {n * 1e3:.0f} ms ({n / d:.0f}x), "
            f"with its collector running {n_gc * 1e3:.0f} ms ({n_gc / d:.0f}x)",
            file=sys.stderr,
        )
    doppel.stdin.close()
    doppel.wait()
    print(
        json.dumps(
            {
                "doppel": summary,
                "networkx": nx.__version__,
                "python": sys.version.split()[0],
                "batch": batch,
                "pairs": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
