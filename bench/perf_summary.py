"""Summarises one run of bench/run-perf (perf-*.json in a folder) as a Markdown table, and
prints the analytic mean response time of the Jackson network to check every tool against.
Usage: perf_summary.py OUT_DIR [MODEL.json] (model defaults to bench/jackson10.json)."""

import json
import math
import sys
from pathlib import Path


def solve(a, b):
    """Solves a x = b by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for k in range(n):
        p = max(range(k, n), key=lambda r: abs(m[r][k]))
        m[k], m[p] = m[p], m[k]
        for r in range(k + 1, n):
            f = m[r][k] / m[k][k]
            for c in range(k, n + 1):
                m[r][c] -= f * m[k][c]
    x = [0.0] * n
    for k in reversed(range(n)):
        x[k] = (m[k][n] - sum(m[k][c] * x[c] for c in range(k + 1, n))) / m[k][k]
    return x


def mmc_sojourn(lam, c, mean):
    """Mean time in an M/M/c station (wait from Erlang C, plus service)."""
    mu = 1.0 / mean
    a = lam / mu  # offered load in servers
    rho = a / c
    if rho >= 1:
        return math.inf
    tail = a**c / math.factorial(c) / (1 - rho)
    erlang_c = tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    return erlang_c / (c * mu - lam) + mean


def analytic(model):
    """Per-station throughputs and the network's mean response time (Little's law)."""
    gamma, p = model["external_rate"], model["routing"]
    n = len(gamma)
    # Traffic equations: (I - P^T) lambda = gamma.
    a = [[(1.0 if i == j else 0.0) - p[j][i] for j in range(n)] for i in range(n)]
    lam = solve(a, gamma)
    w = [mmc_sojourn(lam[i], s["servers"], s["service_mean"]) for i, s in enumerate(model["stations"])]
    return lam, sum(l * wi for l, wi in zip(lam, w)) / sum(gamma)


def main(folder, model_path):
    model = json.loads(Path(model_path).read_text())
    lam, response = analytic(model)
    runs = {}
    batches = sorted(Path(folder).glob("perf-doppel-*.json"))
    if batches:
        runs["doppel"] = merge([json.loads(b.read_text()) for b in batches])
    for name in ("simpy", "ciw"):
        f = Path(folder) / f"perf-{name}.json"
        if f.exists():
            runs[name] = json.loads(f.read_text())
    doppel = runs.get("doppel")
    print(f"Analytic mean response time: {response:.4f} s "
          f"(mean visits per job {sum(lam) / sum(model['external_rate']):.3f}, "
          f"max utilisation {max(l * s['service_mean'] / s['servers'] for l, s in zip(lam, model['stations'])):.3f})")
    if doppel:
        rates = sorted(doppel["rates"])
        print(f"Doppel: {len(rates)} runs in {len(batches)} batches; events per CPU-second: median "
              f"{doppel['median_events_per_cpu_s']:,.0f}, fastest {rates[-1]:,.0f}, slowest {rates[0]:,.0f}, "
              f"quartiles {rates[len(rates) // 4]:,.0f} to {rates[(3 * len(rates)) // 4]:,.0f}")
    print()
    print("| tool | events | CPU s | events per CPU-second | mean response s | vs analytic | Doppel / tool |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        # Doppel's median over its batches' runs; a peer's one long run.
        ours = doppel["median_events_per_cpu_s"] if doppel else None
        rate = r.get("median_events_per_cpu_s", r["events_per_cpu_s"])
        ratio = f"{ours / rate:.1f}×" if doppel else "n/a"
        print(f"| {r['tool']} {r['version']} | {r['events']:,} | {r['cpu_s']:.2f} | {rate:,.0f} "
              f"| {r['mean_response_s']:.4f} | {(r['mean_response_s'] / response - 1) * 100:+.1f}% | {ratio} |")
    if not doppel:
        print("\n(no perf-doppel-*.json: Doppel's perf-bench did not run, so there are no ratios)")


def merge(batches):
    """Doppel's batches as one: every run's rate, their median; events, CPU time and mean
    response of the fastest run."""
    rates = [r for b in batches for r in b["rates"]]
    fastest = max(batches, key=lambda b: b["events_per_cpu_s"])
    return dict(fastest, rates=rates, runs=len(rates), events_per_cpu_s=max(rates),
                median_events_per_cpu_s=median(rates))


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else Path(__file__).parent / "jackson10.json")
