"""What the Jackson-network peers share: the command line, the model, and CPU time."""

import argparse
import json


def cpu_ns():
    """Nanoseconds this thread has spent on CPU."""
    with open("/proc/thread-self/schedstat") as f:
        return int(f.read().split()[0])


def model_and_horizon():
    """Reads `MODEL.json [--arrivals N]`: the model, and T = arrivals / sum(rates)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--arrivals", type=int)
    args = ap.parse_args()
    with open(args.model) as f:
        m = json.load(f)
    return m, (args.arrivals or m["arrivals"]) / sum(m["external_rate"])
