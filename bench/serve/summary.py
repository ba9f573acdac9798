"""Summarises bench/run-serve's wrk outputs: requests/s, p50 and p99 per test, and the
entity reads against the static page measured in the same run."""
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])


def read(name):
    text = (out / f"{name}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, pct(50), pct(99), int(errors.group(1)) if errors else 0


print("| test | requests/s | p50 ms | p99 ms | non-2xx |")
print("|---|---:|---:|---:|---:|")
rows = {}
tests = [("static", "static page (peer), 16 connections")]
tests += [(f"entities-{c}", f"entity reads, ~1M-entity twin, {c} connections") for c in (4, 8, 16)]
tests += [("entities-paced", "entity reads, ~1M-entity twin, 8 connections pausing 1 ms")]
tests += [("whatif", "zone what-if, bundled estate, 4 connections")]
for name, label in tests:
    rows[name] = read(name)
    rps, p50, p99, bad = rows[name]
    print(f"| {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {bad} |")
print(f"\nentity reads at 16 connections / static page, requests/s: {rows['entities-16'][0] / rows['static'][0]:.2f}")
