"""Shared by the benchmark scripts: run a task in a fresh interpreter and keep
the fastest of several runs. The worker code prints one JSON line with
``seconds`` (timed after its imports) and ``peak_rss_mb``."""

from __future__ import annotations

import json
import subprocess
import sys


def best_of(worker: str, args: list[str], repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", worker, *args], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best
