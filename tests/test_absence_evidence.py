"""An "absent" check passes only when absence was measurable: enough scans, and
a signal strong enough that an impurity at its limit would have stood out."""

from __future__ import annotations

import pytest

from specqc.simulate.lcms import Component, RunSettings, simulate, write_mzml

ABSENCE_CHECKS = ("ring-size-correct", "linear-precursor-absent", "oligomers-absent")


def _cyclization_report(tmp_path, settings: RunSettings, components: list[Component], config: str = "") -> dict:
    from specqc.chem.route import load_route
    from specqc.config import load_settings
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    scans, _ = simulate(load_route("diazepan-2-one"), components, settings)
    path = tmp_path / "run.mzML"
    write_mzml(path, scans, settings)
    config_path = tmp_path / "specqc.toml"
    config_path.write_text(config, encoding="utf-8")
    return build_report(analyze([path], "diazepan-2-one", "cyclization", settings=load_settings(config_path)))


def _absence(report: dict) -> dict[str, dict]:
    checks = {c["id"]: c for c in report["qc"]["checks"] if c["id"] in ABSENCE_CHECKS}
    assert sorted(checks) == sorted(ABSENCE_CHECKS)
    return checks


PRODUCT = "diazepan-2-one"


@pytest.mark.parametrize(
    "case, settings, amount, reason",
    [
        ("two scans", RunSettings(n_scans=2), 5e6, "2 MS1 scan(s)"),
        ("blank injection", RunSettings(n_scans=240), 0.0, "no route species stands out of the noise"),
        ("weak signal", RunSettings(n_scans=240), 2e5, "would stand at S/N"),
    ],
)
def test_absence_that_was_not_measurable_is_not_assessed(tmp_path, case, settings, amount, reason):
    components = [Component(rt_min=1.1, amount=amount, species_id=PRODUCT)] if amount else []
    report = _cyclization_report(tmp_path, settings, components)
    for check in _absence(report).values():
        assert check["status"] == "not-assessed", (case, check)
        assert check["detail"].startswith("too little data: ") and reason in check["detail"], check["detail"]
    assert report["qc"]["verdict"] != "pass"


def _check(report: dict, check_id: str) -> dict:
    return next(c for c in report["qc"]["checks"] if c["id"] == check_id)


def test_a_product_missing_from_too_few_scans_is_not_assessed_but_missing_from_a_full_run_fails(tmp_path):
    short = _check(_cyclization_report(tmp_path, RunSettings(n_scans=2), []), "product-present")
    assert short["status"] == "not-assessed" and "too little data: 2 MS1 scan(s)" in short["detail"], short
    full = _check(_cyclization_report(tmp_path, RunSettings(n_scans=240), []), "product-present")
    assert full["status"] == "fail" and full["detail"] == "1,4-diazepan-2-one not found"


def test_absence_is_judged_over_the_species_elution_window_when_the_method_gives_one(tmp_path):
    product = [Component(rt_min=1.1, amount=5e6, species_id=PRODUCT)]
    run = RunSettings(n_scans=240, rt_end_min=4.0)
    inside = _cyclization_report(
        tmp_path, run, product, "[retention.diazepan-2-one]\naminopropyl-glycinate = [1.4, 1.9]\n"
    )
    assert _check(inside, "linear-precursor-absent")["status"] == "pass"
    assert inside["parameters"]["qc"]["retention"] == {"diazepan-2-one": {"aminopropyl-glycinate": [1.4, 1.9]}}
    # the run stopped before the linear precursor would elute: its absence was never measured
    after_the_end = _check(
        _cyclization_report(tmp_path, run, product, "[retention.diazepan-2-one]\naminopropyl-glycinate = [6.0, 7.5]\n"),
        "linear-precursor-absent",
    )
    assert after_the_end["status"] == "not-assessed"
    assert (
        "too little data: 0 MS1 scan(s) of" in after_the_end["detail"]
        and "elution window of ethyl N-(3-aminopropyl)glycinate (6-7.5 min" in after_the_end["detail"]
    )


@pytest.mark.parametrize(
    "config, message",
    [
        (
            "[retention.diazepan-2-one]\nno-such-species = [1.0, 2.0]\n",
            "[retention.diazepan-2-one] 'no-such-species' is not a species of route diazepan-2-one",
        ),
        (
            "[retention.diazepan-2-one]\naminopropyl-glycinate = [2.0, 1.0]\n",
            "[retention.diazepan-2-one] aminopropyl-glycinate must be [first, last] minutes",
        ),
        ("[retention]\ndiazepan-2-one = 3\n", "must be a table [retention.diazepan-2-one]"),
    ],
)
def test_a_retention_window_that_cannot_be_used_is_a_config_error(tmp_path, config, message):
    from specqc.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        _cyclization_report(tmp_path, RunSettings(n_scans=20), [], config)
    assert message in str(caught.value) and "specqc.toml" in str(caught.value)


def test_absence_in_a_strong_run_passes(tmp_path):
    report = _cyclization_report(
        tmp_path, RunSettings(n_scans=240), [Component(rt_min=1.1, amount=5e6, species_id=PRODUCT)]
    )
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
