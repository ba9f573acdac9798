"""The open Jackson network of bench/jackson10.json in SimPy, as a peer of Doppel's perf-bench.
Usage: jackson_simpy.py MODEL.json [--arrivals N]. Prints one JSON line.
An event is one external arrival or one service completion before T = arrivals / sum(rates)."""

import bisect
import itertools
import json

from jackson_common import cpu_ns, model_and_horizon
import random

import simpy


def main():
    m, horizon = model_and_horizon()
    rates = m["external_rate"]
    rng = random.Random(m["seed"])
    means = [s["service_mean"] for s in m["stations"]]
    # Cumulative routing rows: a draw past the last entry means the job leaves.
    cum = [list(itertools.accumulate(row)) for row in m["routing"]]
    env = simpy.Environment()
    stations = [simpy.Resource(env, capacity=s["servers"]) for s in m["stations"]]
    stats = {"arrivals": 0, "completions": 0, "left": 0, "response": 0.0}

    def job(i):
        start = env.now
        while i is not None:
            with stations[i].request() as req:
                yield req
                yield env.timeout(rng.expovariate(1.0 / means[i]))
            stats["completions"] += 1
            j = bisect.bisect_right(cum[i], rng.random())
            i = j if j < len(cum[i]) else None
        stats["left"] += 1
        stats["response"] += env.now - start

    def source(i, rate):
        while True:
            yield env.timeout(rng.expovariate(rate))
            stats["arrivals"] += 1
            env.process(job(i))

    for i, rate in enumerate(rates):
        if rate > 0:
            env.process(source(i, rate))

    t0 = cpu_ns()
    env.run(until=horizon)  # stops before any event at T
    cpu = (cpu_ns() - t0) / 1e9

    events = stats["arrivals"] + stats["completions"]
    print(json.dumps({
        "tool": "simpy", "version": simpy.__version__, "events": events, "cpu_s": cpu,
        "events_per_cpu_s": events / cpu, "mean_response_s": stats["response"] / stats["left"],
        "completed": stats["left"], "arrivals": stats["arrivals"], "sim_time_s": horizon,
    }))


if __name__ == "__main__":
    main()
