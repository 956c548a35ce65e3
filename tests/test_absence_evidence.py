"""An "absent" check passes only when absence was measurable: enough scans, and
a signal strong enough that an impurity at its limit would have stood out."""

from __future__ import annotations

import pytest

from specqc.simulate.lcms import Component, RunSettings, simulate, write_mzml

ABSENCE_CHECKS = ("ring-size-correct", "linear-precursor-absent", "oligomers-absent")


def _cyclization_report(tmp_path, settings: RunSettings, components: list[Component]) -> dict:
    from specqc.chem.route import load_route
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    scans, _ = simulate(load_route("diazepan-2-one"), components, settings)
    path = tmp_path / "run.mzML"
    write_mzml(path, scans, settings)
    return build_report(analyze([path], "diazepan-2-one", "cyclization"))


def _absence(report: dict) -> dict[str, dict]:
    checks = {c["id"]: c for c in report["qc"]["checks"] if c["id"] in ABSENCE_CHECKS}
    assert sorted(checks) == sorted(ABSENCE_CHECKS)
    return checks


PRODUCT = "diazepan-2-one"


@pytest.mark.parametrize("case, settings, amount, reason", [
    ("two scans", RunSettings(n_scans=2), 5e6, "2 MS1 scan(s)"),
    ("blank injection", RunSettings(n_scans=240), 0.0, "no route species stands out of the noise"),
    ("weak signal", RunSettings(n_scans=240), 2e5, "would stand at S/N"),
])
def test_absence_that_was_not_measurable_is_not_assessed(tmp_path, case, settings, amount, reason):
    components = [Component(rt_min=1.1, amount=amount, species_id=PRODUCT)] if amount else []
    report = _cyclization_report(tmp_path, settings, components)
    for check in _absence(report).values():
        assert check["status"] == "not-assessed", (case, check)
        assert check["detail"].startswith("too little data: ") and reason in check["detail"], check["detail"]
    assert report["qc"]["verdict"] != "pass"


def test_absence_in_a_strong_run_passes(tmp_path):
    report = _cyclization_report(tmp_path, RunSettings(n_scans=240),
                                 [Component(rt_min=1.1, amount=5e6, species_id=PRODUCT)])
    assert {c["status"] for c in _absence(report).values()} == {"pass"}
    assert report["qc"]["verdict"] == "pass"
