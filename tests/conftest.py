"""Shared fixtures: project paths, the real-data corpus, cached analyses."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
REALDATA = ROOT.parent / "shared" / "realdata"


def lcms_samples() -> list[str]:
    return sorted(p.name[: -len(".truth.json")] for p in (SAMPLES / "lcms").glob("*.truth.json"))


def truth_of(name: str) -> dict:
    return json.loads((SAMPLES / "lcms" / f"{name}.truth.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def report_of(name: str) -> dict:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    truth = truth_of(name)
    analysis = analyze([SAMPLES / "lcms" / f"{name}.mzML"], truth["route"], truth["stage"])
    return build_report(analysis)


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    return REALDATA


def nmr_samples() -> list[str]:
    return sorted(p.name[: -len(".truth.json")] for p in (SAMPLES / "nmr").glob("*.truth.json"))


def nmr_truth_of(name: str) -> dict:
    return json.loads((SAMPLES / "nmr" / f"{name}.truth.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def nmr_report_of(name: str) -> dict:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    truth = nmr_truth_of(name)
    return build_report(analyze([SAMPLES / "nmr" / name], truth["route"], truth["stage"]))
