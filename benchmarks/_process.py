"""Whole processes measured from the outside, the way a user runs them: wall
time, CPU time (user + system of the child) and peak resident memory, all
from the kernel's accounting of the finished child (wait4, the per-child form
of getrusage(RUSAGE_CHILDREN)), imports and interpreter start included.

Peak memory of a child: Linux carries the parent's high-water mark into a child
it spawns (ru_maxrss survives fork and exec). The scripts that use this module
therefore keep their own process small (no numpy, no pyopenms; data are written
by a separate process) and check that every child's peak is above their own.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


#: a bare process that loads an mzML whole with pyopenms: what every LC-MS benchmark compares against
FULL_LOAD = "import sys, pyopenms as oms; oms.MzMLFile().load(sys.argv[1], oms.MSExperiment())"


def run_folder(keep: Path | None, prefix: str) -> Path:
    """Where the benchmark writes its runs (kept when asked), with specqc's read time bound
    lifted for the processes it measures: a loaded machine must not end a run in that bound."""
    os.environ.setdefault("SPECQC_READ_TIMEOUT_S", "3600")
    folder = keep or Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def own_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(argv: list[str]) -> dict:
    """Run argv once, stdout to /dev/null; its wall and CPU seconds and peak RSS (MB)."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    if peak <= own_peak_rss_mb():
        raise RuntimeError("the child's peak memory is not above this process's own: not measurable")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak}


def best_of(argv: list[str], repeat: int) -> dict:
    """Lowest CPU and wall time over the repeats (each its own minimum: on a shared
    machine a run only ever gets slower), and the highest peak memory."""
    runs = [measure(argv) for _ in range(repeat)]
    return {
        "wall": min(r["wall"] for r in runs),
        "cpu": min(r["cpu"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }


def specqc_command() -> list[str]:
    """The installed `specqc` script of this interpreter's environment."""
    script = Path(sys.executable).parent / "specqc"
    if not script.exists():
        raise SystemExit(f"no specqc script next to {sys.executable}: install the package (pip install -e .)")
    return [str(script)]


def python_command(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def write_run(path: Path, mode: str, scans: int) -> None:
    """A simulated run written by a separate process (see _lcms_runs.py), so that its
    memory does not count towards the children measured afterwards."""
    generator = Path(__file__).with_name("_lcms_runs.py")
    subprocess.run([sys.executable, str(generator), str(path), mode, str(scans)], check=True)
