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
(defaults: 9005 services, 25 pairs, 51 Doppel runs per batch; --help says more). Prints one JSON object: the
sweep binary's summary under "doppel", the peer's versions, every pair's times and ratio.
Exits 1 if the two answers differ.
"""

import argparse
import filecmp
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import networkx as nx  # noqa: E402
import networkx_sweep as peer  # noqa: E402
from sweep_process import SweepProcess  # noqa: E402  (this script's folder is on the path)


def main():
    parser = argparse.ArgumentParser(description="The N-1 sweep's graph part, Doppel against the networkx peer, in pairs.")
    parser.add_argument("binary", help="the sweep binary (cargo build --release -p doppel-bench --bin sweep)")
    parser.add_argument("out", type=Path, help="where the failure graph and both answers are written")
    parser.add_argument("--services", type=int, default=9005, help="services in the generated estate (default 9005)")
    parser.add_argument("--pairs", type=int, default=25, help="turns of Doppel and the peer (default 25)")
    parser.add_argument("--batch", type=int, default=51, help="Doppel runs per turn (default 51)")
    args = parser.parse_args()
    out, batch, pairs = args.out, args.batch, args.pairs
    if not Path(args.binary).is_file():
        parser.error(f"no sweep binary at {args.binary}: build it with cargo build --release -p doppel-bench --bin sweep")

    doppel = SweepProcess(args.binary, out, args.services)

    def doppel_batch():
        return doppel.batch(batch)

    def peer_runs():
        return peer.timed_graph_part(g)[0], peer.timed_graph_part(g, collect=True)[0]

    g = peer.read_graph(out / "failgraph.txt")
    _, down, entry_pairs = peer.timed_graph_part(g)
    peer.write_answer(g, down, entry_pairs, out / "networkx_answer.txt")
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
    doppel.close()
    print(
        json.dumps(
            {
                "doppel": doppel.summary,
                "networkx": nx.__version__,
                "python": sys.version.split()[0],
                "batch": batch,
                "pairs": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
