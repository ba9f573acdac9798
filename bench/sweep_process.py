"""The sweep binary (bench/src/bin/sweep.rs) in its paired mode, as a Python object: started
once (it generates the estate and writes the failure graph and its answer), then asked for
batches of timed runs of the graph part. Used by paired_sweep.py and compare_sweeps.py."""

import json
import statistics
import subprocess
import sys


class SweepProcess:
    """A running `sweep --paired`; `summary` is the JSON object it printed when ready."""

    def __init__(self, binary, out, services=None):
        command = [str(binary), "--paired", "--out", str(out)]
        if services is not None:
            command += ["--services", str(services)]
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        except OSError as e:
            sys.exit(f"cannot start {binary}: {e}")
        first = self.proc.stdout.readline()
        if not first:
            sys.exit(f"{binary} --paired stopped before it was ready (exit code {self.proc.wait()}); its errors are above")
        self.binary = binary
        self.summary = json.loads(first)

    def batch(self, runs):
        """Times `runs` runs of the graph part; returns their median in seconds."""
        self.proc.stdin.write(f"{runs}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"{self.binary} stopped in the middle of the runs (exit code {self.proc.wait()})")
        return statistics.median(json.loads(line)["runs_s"])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()

    def kill(self):
        self.proc.kill()
