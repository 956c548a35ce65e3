"""Shared by the benchmark scripts: run a task in a fresh interpreter and keep
the fastest of several runs. The worker code prints one JSON line with
``seconds`` (timed after its imports) and ``peak_rss_mb``, which it takes from
``peak_rss_mb()``: defined for every worker here."""

from __future__ import annotations

import json
import subprocess
import sys


# The worker's own peak resident memory. On Linux getrusage's ru_maxrss is not
# reset by fork and exec: a worker started from a benchmark that has just
# simulated its data would report the parent's peak, not its own. The kernel's
# VmHWM belongs to the worker's own address space.
PEAK_RSS = """
def peak_rss_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource, sys
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB elsewhere
"""


def best_of(worker: str, args: list[str], repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", PEAK_RSS + worker, *args], capture_output=True, text=True, check=True
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best
