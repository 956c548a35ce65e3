"""Hostile inputs through the real command line (docs/INPUT-CHECKS.md).

Every case in tests/hostile/cases.py is built in a temporary folder and handed to
`specqc analyze PATH --route diazepan-2-one --stage salt --format json --output OUT`
in its own process. A refused input ends with exit 2, exactly one line on stderr
naming the file, no output file and nothing on stdout; an input the policy reads
through ends with exit 0, a quiet stderr and the warning (with both numbers) in the
report. Each is answered well inside a time bound; entity bombs also inside a
memory bound, measured as the process's peak resident memory; nothing from a file
an external entity names appears anywhere. A property test then mutates valid
inputs at random: only exit 0 or 2, never a traceback or an internal error.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile.cases import BRUKER, CASES, GEMINI, MZML, SENTINEL_MARKER, copy_in
from hostile.run import TIME_BOUND_S, analyze

WORKERS = max(2, min(4, os.cpu_count() or 2))
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _skip_reason(case) -> str | None:
    missing = [str(p) for p in case.needs if not p.exists()]
    if missing:
        return f"real instrument file not here: {missing[0]}"
    if case.root_defeats and IS_ROOT:
        return "running as root: file permissions do not stop root from reading, so there is nothing to refuse"
    return None


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """All cases, run in parallel threads (each one its own specqc process)."""
    base = tmp_path_factory.mktemp("hostile")

    def run(case):
        reason = _skip_reason(case)
        if reason:
            return case.name, (None, None, reason)
        folder = base / case.name
        folder.mkdir()
        path = case.build(folder)
        return case.name, (path, analyze(path, folder / "work"), None)

    with ThreadPoolExecutor(WORKERS) as pool:
        results = dict(pool.map(run, CASES))
    yield results
    for case in CASES:  # a case may have made its input unreadable; give the folder back to tmp cleanup
        for path in (base / case.name).rglob("*"):
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)


def _reader_warnings(report: dict) -> list[str]:
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reader_warnings" and isinstance(value, list):
                    found.extend(map(str, value))
                elif key == "notes" and isinstance(value, list):
                    found.extend(str(v) for v in value if "reader warning" in str(v))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(report)
    return found


def test_the_corpus_covers_every_format_with_enough_refusals():
    formats = {case.formats for case in CASES}
    assert {
        "mzML",
        "mzXML",
        "Bruker",
        "Bruker zip",
        "Varian",
        "JCAMP-DX",
        "Agilent .D",
        "Waters .raw",
        "ANDI netCDF",
    } <= formats
    assert sum(case.expect == "refuse" for case in CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


def test_the_policy_table_lists_every_case_and_no_other():
    """docs/INPUT-CHECKS.md is the one table of what happens to each bad input."""
    import re

    table = (Path(__file__).resolve().parents[1] / "docs" / "INPUT-CHECKS.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}
    assert listed == {case.name for case in CASES}, listed ^ {case.name for case in CASES}
    for case in CASES:
        row = next(row for row in rows if f"`{case.name}`" in row.split("|")[1])
        policy = row.split("|")[3].strip()
        assert policy.startswith("refuse" if case.expect == "refuse" else "read"), (case.name, policy)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(case, outcomes):
    path, outcome, skipped = outcomes[case.name]
    if skipped:
        pytest.skip(skipped)
    assert outcome.returncode is not None, f"still running after {TIME_BOUND_S} s: killed"
    assert outcome.seconds < TIME_BOUND_S
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr, outcome.stderr
    if case.expect == "refuse":
        assert outcome.returncode == 2, (outcome.returncode, outcome.stderr)
        assert len(outcome.stderr_lines) == 1, outcome.stderr
        line = outcome.stderr_lines[0]
        assert line.startswith("specqc: error: ") and str(path) in line, line
        assert case.message in line.lower(), line
        assert outcome.stdout == "" and not outcome.output.exists()
    else:
        assert outcome.returncode == 0, outcome.stderr
        assert outcome.stderr_lines == [] and outcome.announced, outcome.stderr
        warnings = _reader_warnings(json.loads(outcome.output.read_text(encoding="utf-8")))
        assert any(case.message in w.lower() for w in warnings), warnings
    if case.max_rss_mb is not None:
        assert outcome.max_rss_mb < case.max_rss_mb, f"peak resident memory {outcome.max_rss_mb:.0f} MB"
    if case.sentinel:
        written = [outcome.stdout, outcome.stderr] + [
            p.read_text("utf-8", "replace") for p in outcome.output.parent.rglob("*") if p.is_file()
        ]
        assert not any(SENTINEL_MARKER in text for text in written)


# -- the bounds themselves ----------------------------------------------------------------------------------------
BOUND_PROBE = """
import sys, time
from pathlib import Path
from specqc.errors import InputBoundError
from specqc.readers.bounds import ReadLimits, bounded_read

def slow(path):
    while True:
        time.sleep(0.01)

def greedy(path):
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))

reader = slow if sys.argv[1] == "time" else greedy
limits = ReadLimits(seconds=1.0) if sys.argv[1] == "time" else ReadLimits(memory_bytes=256 << 20)
started = time.monotonic()
try:
    bounded_read(reader, Path(sys.argv[2]), limits)
except InputBoundError as exc:
    print(exc.bound, round(time.monotonic() - started, 1), exc.one_line())
"""


@pytest.mark.parametrize("bound", ["time", "memory"])
def test_a_read_past_its_bound_is_an_input_error_naming_the_bound(bound, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", BOUND_PROBE, bound, str(MZML)], capture_output=True, text=True, timeout=60
    )
    kind, seconds, message = result.stdout.split(" ", 2)
    assert kind == bound and str(MZML) in message, result.stdout + result.stderr
    assert float(seconds) < 10
    assert ("longer than 1 s" if bound == "time" else "more than 256 MiB") in message


def test_the_time_bound_reaches_the_command_line_as_exit_2(tmp_path):
    outcome = analyze(MZML, tmp_path, env={"SPECQC_READ_TIMEOUT_S": "0.05"})
    assert outcome.returncode == 2 and len(outcome.stderr_lines) == 1, outcome.stderr
    assert "time bound" in outcome.stderr and str(MZML) in outcome.stderr and not outcome.output.exists()


# -- property: mutated valid inputs -------------------------------------------------------------------------------
def _mutate(data: bytes, rng: random.Random, kind: str) -> bytes:
    data = bytearray(data)
    if kind == "truncate":
        return bytes(data[: rng.randrange(len(data))])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == "overwrite":
        at = rng.randrange(len(data))
        return bytes(data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at + 64 :])
    at = rng.randrange(len(data))  # insert
    return bytes(data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:])


def _mutated_input(folder: Path, target: str, kind: str, seed: int) -> Path:
    rng = random.Random(seed)
    if target == "mzml":
        path = folder / "run.mzML"
        path.write_bytes(_mutate(MZML.read_bytes(), rng, kind))
        return path
    if target == "jcamp":
        path = folder / "spectrum.jdx"
        path.write_bytes(_mutate(GEMINI.read_bytes(), rng, kind))
        return path
    experiment = copy_in(BRUKER, folder, "1")
    part = experiment / ("acqus" if target == "bruker-acqus" else "fid")
    part.write_bytes(_mutate(part.read_bytes(), rng, kind))
    return experiment


TARGETS = ["mzml", "bruker-acqus", "bruker-fid"] + (["jcamp"] if GEMINI.exists() else [])


@settings(max_examples=16, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=st.sampled_from(TARGETS),
    kind=st.sampled_from(["truncate", "flip", "overwrite", "insert"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_mutated_valid_inputs_end_in_a_verdict_or_one_input_error(target, kind, seed):
    folder = Path(tempfile.mkdtemp(prefix="specqc-mutant-"))
    try:
        outcome = analyze(_mutated_input(folder, target, kind, seed), folder / "work")
        assert outcome.returncode in (0, 2), (outcome.returncode, outcome.stderr)
        assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr, outcome.stderr
        assert len(outcome.stderr_lines) == (1 if outcome.returncode == 2 else 0), outcome.stderr
        assert outcome.announced == (outcome.returncode == 0), outcome.stderr
        assert outcome.output.exists() == (outcome.returncode == 0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
