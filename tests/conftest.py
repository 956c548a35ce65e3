"""Shared fixtures: project paths, the real-data corpus, cached analyses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
REALDATA = ROOT.parent / "shared" / "realdata"


def run_cli(*args, cwd=ROOT):
    """`specqc ARGS` in a fresh interpreter, as a user runs it; text output, 120 columns wide."""
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )


def _names(kind: str) -> list[str]:
    return sorted(p.name[: -len(".truth.json")] for p in (SAMPLES / kind).glob("*.truth.json"))


def _truth(kind: str, name: str) -> dict:
    return json.loads((SAMPLES / kind / f"{name}.truth.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _report(kind: str, name: str) -> dict:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    truth = _truth(kind, name)
    path = SAMPLES / kind / (f"{name}.mzML" if kind == "lcms" else name)
    return build_report(analyze([path], truth["route"], truth["stage"]))


def lcms_samples() -> list[str]:
    return _names("lcms")


def truth_of(name: str) -> dict:
    return _truth("lcms", name)


def report_of(name: str) -> dict:
    return _report("lcms", name)


def nmr_samples() -> list[str]:
    return _names("nmr")


def nmr_truth_of(name: str) -> dict:
    return _truth("nmr", name)


def nmr_report_of(name: str) -> dict:
    return _report("nmr", name)


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    return REALDATA
