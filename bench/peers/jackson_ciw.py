"""The open Jackson network of bench/jackson10.json in ciw, as a peer of Doppel's perf-bench.
Usage: jackson_ciw.py MODEL.json [--arrivals N]. Prints one JSON line.
An event is one external arrival or one service completion before T = arrivals / sum(rates)."""

import json

from jackson_common import cpu_ns, model_and_horizon

import ciw


def main():
    m, horizon = model_and_horizon()
    rates = m["external_rate"]
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=r) if r > 0 else None for r in rates],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / s["service_mean"]) for s in m["stations"]],
        number_of_servers=[s["servers"] for s in m["stations"]],
        routing=m["routing"],  # the rest of each row is the chance of leaving
    )
    ciw.seed(m["seed"])
    sim = ciw.Simulation(network)

    t0 = cpu_ns()
    sim.simulate_until_max_time(horizon)  # handles only events dated before T
    cpu = (cpu_ns() - t0) / 1e9

    # Every service completion before T leaves one record (no blocking: exit = service end).
    records = [r for r in sim.get_all_records(only=["service"]) if r.service_end_date <= horizon]
    arrivals = sim.nodes[0].number_of_individuals  # external arrivals the arrival node made
    first, last = {}, {}
    for r in records:
        first[r.id_number] = min(first.get(r.id_number, r.arrival_date), r.arrival_date)
        if r.destination == -1:  # -1 is ciw's exit node
            last[r.id_number] = r.exit_date
    response = sum(last[i] - first[i] for i in last)

    events = arrivals + len(records)
    print(json.dumps({
        "tool": "ciw", "version": ciw.__version__, "events": events, "cpu_s": cpu,
        "events_per_cpu_s": events / cpu, "mean_response_s": response / len(last),
        "completed": len(last), "arrivals": arrivals, "sim_time_s": horizon,
    }))


if __name__ == "__main__":
    main()
