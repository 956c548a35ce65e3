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


# ---------------------------------------------------------------- the void in a UV purity figure

def _gaussian(rt, centre, height, sigma=0.02):
    import numpy as np

    return height * np.exp(-0.5 * ((rt - centre) / sigma) ** 2)


def test_the_void_peak_is_shown_but_never_counted_in_the_uv_area_percent():
    import numpy as np

    from specqc.uv.analysis import Trace, integrate_trace
    from specqc.uv.params import UVParams

    rt = np.linspace(0.0, 6.0, 3601)
    noise = np.random.default_rng(3).normal(0.0, 0.02, rt.size)
    # solvent front at 0.2 min as large as the product, product at 1.1 min, a 2 % impurity at 2.0 min
    values = _gaussian(rt, 0.2, 50.0) + _gaussian(rt, 1.1, 49.0) + _gaussian(rt, 2.0, 1.0) + noise
    trace = Trace("210 nm", "uv", "test", rt, values, wavelength_nm=210.0, configured=True)
    result = integrate_trace(trace, UVParams())
    by_rt = {round(p.peak.apex_rt, 1): p for p in result.peaks}
    assert sorted(by_rt) == [0.2, 1.1, 2.0]
    assert by_rt[0.2].void and by_rt[0.2].area_pct == 0.0 and by_rt[0.2].as_dict()["void"] is True
    assert by_rt[1.1].area_pct == pytest.approx(98.0, abs=0.3)  # not ~49 % with the front counted
    # a configured start of integration replaces the automatic void
    manual = integrate_trace(trace, UVParams(integrate_from_min=0.5))
    assert [round(p.peak.apex_rt, 1) for p in manual.peaks] == [1.1, 2.0]
    counted = integrate_trace(trace, UVParams(void_max_fraction=0.0))
    assert not any(p.void for p in counted.peaks)
    assert min(counted.peaks, key=lambda p: p.peak.apex_rt).area_pct == pytest.approx(50.0, abs=1.0)
