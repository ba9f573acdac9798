"""The bundled estate at 1x, 2x and 3x its daily peak: p50 / p99 per entry point from the
queueing model and the simulator, and the bottleneck, as the Markdown of docs/performance.md.
Usage: python3 bench/shop_perf.py [DOPPEL_BINARY] (default target/release/doppel)."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

doppel = sys.argv[1] if len(sys.argv) > 1 else "target/release/doppel"
examples = Path(__file__).resolve().parent.parent / "examples" / "shop"


def run(store, *args):
    out = subprocess.run([doppel, "--store", store, *args], check=True, capture_output=True, text=True)
    return out.stdout


def ms(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def est(e):
    if e is None or e["mean"] is None:
        return "-"
    h = e["half_width_95"]
    return ms(e["mean"]) + (f" ±{ms(h)}" if h is not None else "")


def pct(e):
    h = e["half_width_95"]
    return f"{e['mean'] * 100:.1f}%" + (f" ±{h * 100:.1f}" if h else "")


with tempfile.TemporaryDirectory() as tmp:
    store = str(Path(tmp) / "shop.db")
    run(store, "load", str(examples))
    for load in ("1x", "2x", "3x"):
        r = json.loads(run(store, "perf", "--load", load, "--sim", "--json"))
        busiest = max((s for s in r["stations"] if s["replicas"] is not None and s["simulated"]),
                      key=lambda s: s["simulated"]["utilisation"]["mean"])
        print(f"#### {r['load']}\n")
        if r["error"]:
            print(f"Queueing model: {r['error']}.\n")
        else:
            print(f"Bottleneck (queueing model): {r['bottleneck']}.\n")
        print(f"Busiest in the simulation: {busiest['station']}, "
              f"{busiest['simulated']['utilisation']['mean'] * 100:.0f}% busy.\n")
        print("| entry point | rps | p50 model | p99 model | p50 simulated | p99 simulated | errors simulated | objective p99 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for e in r["entries"]:
            a, s = e["analytic"] or {}, e["simulated"] or {}
            err = s.get("error_rate")
            print(f"| {e['endpoint']} | {e['rate_rps']:.3g} | {ms(a.get('p50_ms'))} | {ms(a.get('p99_ms'))} "
                  f"| {est(s.get('p50_ms'))} | {est(s.get('p99_ms'))} "
                  f"| {pct(err)} | {ms(e['slo_p99_ms'])} |")
        print()
