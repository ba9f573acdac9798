"""Summarises one run of bench/run (scale.json, divan.txt, networkx.json in a folder) as
the Markdown table of docs/benchmarks.md, with Doppel/peer ratios from the same run."""

import json
import re
import sys
from pathlib import Path

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def divan_medians(text):
    """{(bench, arg): median seconds} from divan's table output."""
    result, bench = {}, None
    for line in text.splitlines():
        name = re.match(r"^[├╰]─ (\w+)", line)
        if name:
            bench = name.group(1)
            continue
        row = re.match(r"^│?\s*[├╰]─ (\d+)\s+(.*)$", line)
        if row and bench:
            cells = [c.strip() for c in row.group(2).split("│")]
            value, unit = cells[2].split()
            result[(bench, int(row.group(1)))] = float(value) * UNITS[unit]
    return result


def main(folder):
    folder = Path(folder)
    scale = json.loads((folder / "scale.json").read_text())
    peer = json.loads((folder / "networkx.json").read_text())
    divan = divan_medians((folder / "divan.txt").read_text())
    n = scale["entities"]
    sizes = sorted({size for (_, size) in divan})
    big = max(sizes)
    fork = {size: divan[("fork_and_apply_10_changes", size)] for size in sizes}
    fail = {size: divan[("fork_and_fail_a_node", size)] for size in sizes}
    select = divan[("select_pods_in_a_zone_by_label", big)]
    rows = [
        ("entities / relations", f"{n:,} / {scale['relations']:,}", f"{peer['entities']:,} / {peer['relations']:,}", ""),
        ("memory per entity (live heap, relations included)", f"{scale['twin_heap_bytes_per_entity']:.0f} B",
         f"{peer['bytes_per_entity']:.0f} B", f"{scale['twin_heap_bytes_per_entity'] / peer['bytes_per_entity']:.2f}"),
        ("resident memory per entity after reopening (fresh process)", f"{scale['reopen_rss_bytes_per_entity']:.0f} B",
         f"{peer['reopen_rss_bytes'] / peer['entities']:.0f} B",
         f"{scale['reopen_rss_bytes_per_entity'] / (peer['reopen_rss_bytes'] / peer['entities']):.2f}"),
        ("reopen the store (read the head twin)", f"{scale['reopen']['reopen_s']:.2f} s", f"{peer['reopen_load_s']:.2f} s (pickle.load)",
         f"{scale['reopen']['reopen_s'] / peer['reopen_load_s']:.2f}"),
        ("reopen, whole process", f"{scale['reopen_process_s']:.2f} s", f"{peer['reopen_process_s']:.2f} s",
         f"{scale['reopen_process_s'] / peer['reopen_process_s']:.2f}"),
        ("selector `zone=us-east-1a kind:pod label:app=svc-00001*`", f"{select * 1e3:.2f} ms", f"{peer['select_median_ms']:.2f} ms",
         f"{select * 1e3 / peer['select_median_ms']:.3f}"),
        ("fork + apply a 10-change scenario", f"{fork[big] * 1e6:.2f} µs", f"{peer['fork_copy_and_apply_us']:,.0f} µs (copy + apply)",
         f"{fork[big] * 1e6 / peer['fork_copy_and_apply_us']:.2e}"),
        ("apply the estate as one ChangeSet (initial load)", f"{scale['apply_s']:.1f} s", f"{peer.get('build_s', float('nan')):.1f} s (build graph)",
         f"{scale['apply_s'] / peer['build_s']:.2f}" if peer.get("build_s") else ""),
    ]
    print("| measure | Doppel | networkx (peer) | ratio Doppel/peer |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("Fork + apply 10 changes by estate size: " + ", ".join(f"{size:,} entities: {fork[size] * 1e6:.2f} µs" for size in sizes))
    print("Fork + fail one node (the node and its ~24 relations) by estate size: "
          + ", ".join(f"{size:,}: {fail[size] * 1e6:.2f} µs" for size in sizes))
    print(f"Commit of the initial load to SQLite: {scale['commit_s']:.1f} s; store file {scale['store_file_bytes'] / 2**20:.0f} MiB. "
          f"The peer's selector found {peer['select_hits']} pods.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/out")
