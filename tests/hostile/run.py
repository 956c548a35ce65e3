"""Running `specqc analyze` on one input as a user would, with its time and peak memory measured."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANALYZE = ("--route", "diazepan-2-one", "--stage", "salt", "--format", "json")
TIME_BOUND_S = 30.0  # a refused input is answered in about a second; this is the ceiling, not the expectation


@dataclass
class Outcome:
    returncode: int | None  # None: killed at the time bound
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float
    output: Path

    @property
    def stderr_lines(self) -> list[str]:
        """What the run said on stderr besides announcing the report it wrote."""
        return [
            line
            for line in self.stderr.splitlines()
            if line.strip() and not (line.startswith("specqc: ") and f" written to {self.output}" in line)
        ]

    @property
    def announced(self) -> bool:
        """The run named the report file it wrote."""
        return f" written to {self.output}" in self.stderr


def analyze(path: Path, workdir: Path, time_bound_s: float = TIME_BOUND_S, env: dict | None = None) -> Outcome:
    """`specqc analyze PATH --route diazepan-2-one --stage salt --format json --output OUT` in a fresh process.

    The peak resident memory is the child's own (wait4), so runs may go on in parallel threads."""
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / "report.json"
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    command = [sys.executable, "-m", "specqc.cli", "analyze", str(path), *ANALYZE, "--output", str(output)]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "120", **(env or {})},
        )
        timer = threading.Timer(time_bound_s, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    killed = process.returncode == -9 and seconds >= time_bound_s
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return Outcome(
        None if killed else process.returncode,
        out_path.read_text("utf-8", "replace"),
        err_path.read_text("utf-8", "replace"),
        seconds,
        usage.ru_maxrss * scale / 2**20,
        output,
    )
