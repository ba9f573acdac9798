"""Peer of the manifest import benchmark: PyYAML (with libyaml's C loader when present)
parsing the same multi-document file into Python objects, nothing more. Prints one JSON
line: documents, CPU seconds (process time) and documents per CPU-second.

Usage: python3 bench/peers/yaml_load.py FILE
"""

import json
import sys
import time

import yaml


def main() -> None:
    path = sys.argv[1]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    start = time.process_time()
    with open(path, encoding="utf-8") as f:
        documents = sum(1 for doc in yaml.load_all(f, Loader=loader) if doc is not None)
    cpu_s = time.process_time() - start
    print(json.dumps({
        "tool": "pyyaml",
        "version": yaml.__version__,
        "loader": loader.__name__,
        "documents": documents,
        "cpu_s": cpu_s,
        "documents_per_cpu_s": documents / cpu_s,
    }))


if __name__ == "__main__":
    main()
