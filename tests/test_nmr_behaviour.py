"""NMR analysis behaviour beyond the shipped samples: random phases and axis
errors, reference-data checks, line shapes, and NMR through the CLI."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from conftest import ROOT, SAMPLES
from conftest import run_cli as _cli

from specqc.chem.route import load_route
from specqc.errors import ReferenceDataError
from specqc.nmr.lineshape import lorentzian, multiplet_lines, multiplet_shape, multiplet_shapes
from specqc.nmr.peaks import between, classify
from specqc.nmr.fit import joint as fit_joint
from specqc.nmr.fit import judge as fit_judge
from specqc.nmr.fit import model as fit_model
from specqc.nmr.fit import placement as fit_placement
from specqc.nmr.analysis import analyze_nmr
from specqc.nmr.fit.solve import LocalBaseline, solve
from specqc.nmr.references import parse_reference_set
from specqc.nmr.solvents import ich_limits
from specqc.pipeline import analyze
from specqc.readers import read
from specqc.report.document import build_report
from specqc.simulate.nmr import NMRComponent, NMRSettings, simulate, write_bruker

ROUTE = load_route("diazepan-2-one")


@pytest.mark.parametrize("complex_points", [32768, 65536])
def test_long_acquisitions_are_fitted_on_a_coarser_grid_with_the_numbers_of_the_full_grid(
    tmp_path, monkeypatch, complex_points
):
    """64k- and 128k-point spectra: the fit works on a few points per line width
    and finds the same compounds, in the same amounts, as on every point."""
    settings = NMRSettings(complex_points=complex_points, axis_error_ppm=0.05, seed=7)
    truth = {"diethyl ether": 0.02, "aminopropyl-glycinate": 0.03, "water": 0.4}
    components = [
        NMRComponent("diazepan-2-one", 1.0, satellites=True),
        NMRComponent("residual", 0.9, "residual"),
        NMRComponent("water", truth["water"], "water", extra_width_hz=3.0),
        NMRComponent("diethyl ether", truth["diethyl ether"], "solvent"),
        NMRComponent("aminopropyl-glycinate", truth["aminopropyl-glycinate"]),
    ]
    fid, _truth = simulate(ROUTE, components, settings)
    write_bruker(tmp_path / "1", fid, settings)
    data = read(tmp_path / "1")

    def found(result) -> dict:
        amounts = {s.species_id: s.mol_ratio for s in result.species if s.detected}
        amounts.update({s.name: s.mol_ratio for s in result.solvents if s.detected})
        return {**amounts, "water": result.water["mol_ratio"]}

    coarse = analyze_nmr(data, ROUTE, ROUTE.stage("salt"))
    monkeypatch.setattr(fit_joint, "FIT_POINTS_PER_FWHM", 1e6)  # every point of the spectrum
    full = analyze_nmr(data, ROUTE, ROUTE.stage("salt"))
    spectrum_step_hz = abs(full.processed.ppm[1] - full.processed.ppm[0]) * settings.spectrometer_mhz
    assert full.fit_grid_hz == pytest.approx(spectrum_step_hz, rel=1e-3)
    assert 2 * spectrum_step_hz * 0.999 <= coarse.fit_grid_hz <= coarse.fwhm_hz / 3
    assert found(coarse).keys() == found(full).keys()
    for name, amount in found(full).items():
        assert found(coarse)[name] == pytest.approx(amount, rel=0.03), name
    for name, amount in truth.items():
        assert found(coarse)[name] == pytest.approx(amount, rel=0.15), name


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_random_receiver_phase_and_axis_error_do_not_change_the_numbers(tmp_path, seed):
    rng = np.random.default_rng(seed)
    settings = NMRSettings(
        seed=seed,
        axis_error_ppm=float(rng.uniform(-0.12, 0.12)),
        first_order_delay_points=float(rng.uniform(-0.2, 0.2)),
    )
    components = [
        NMRComponent("diazepan-2-one", 1.0, satellites=True),
        NMRComponent("residual", 0.9, "residual"),
        NMRComponent("water", 0.5, "water", extra_width_hz=3.0),
        NMRComponent("1,4-dioxane", 0.01, "solvent"),
        NMRComponent("aminopropyl-glycinate", 0.05),
    ]
    fid, truth = simulate(ROUTE, components, settings)
    write_bruker(tmp_path / "1", fid, settings)
    report = build_report(analyze([tmp_path], "diazepan-2-one", "salt"))
    nmr = report["nmr"]
    assert nmr["reference"]["correction_ppm"] == pytest.approx(-settings.axis_error_ppm, abs=0.005)
    # (within 2 % over 30 such seeds: the leftover phase error is fitted, the water's width found between trials)
    assert [s["name"] for s in nmr["residual_solvents"]] == ["1,4-dioxane"]
    assert nmr["residual_solvents"][0]["mol_ratio"] == pytest.approx(0.01, rel=0.05)
    linear = next(s for s in report["species"] if s["id"] == "aminopropyl-glycinate")
    assert linear["nmr"]["mol_ratio"] == pytest.approx(0.05, rel=0.05)
    assert nmr["water"]["mol_ratio"] == pytest.approx(0.5, rel=0.05)
    # The automatic phase finds the receiver phase (at the window's centre) and
    # the filter's uncorrected delay (first order: 360 degrees per point); over
    # 30 seeds within 2.6 and 7.2 degrees (with the filter removed by shifting
    # the FID in time, 8.5 and 61).
    phase = nmr["processing"]["phase_deg"]
    assert phase["p1"] == pytest.approx(-360 * truth["first_order_delay_points"], abs=9)
    assert (phase["p0"] + phase["p1"] / 2 + truth["phase0_deg"] + 180) % 360 - 180 == pytest.approx(0, abs=4)


def test_digital_filter_delay_comes_from_the_header_else_the_firmware_table():
    from specqc.errors import InputError
    from specqc.model import NMRData
    from specqc.readers.nmr_common import bruker_group_delay

    assert bruker_group_delay({"GRPDLY": "67.984", "DECIM": "2080", "DSPFVS": "20"}) == pytest.approx(67.984)
    # firmware before DSPFVS 14 wrote no GRPDLY: the delay follows from DECIM (Westler & Abildgaard's table)
    assert bruker_group_delay({"GRPDLY": "-1", "DECIM": "24", "DSPFVS": "10"}) == pytest.approx(61.0208, abs=1e-4)
    assert bruker_group_delay({"DECIM": "8", "DSPFVS": "12"}) == pytest.approx(53.25)
    assert bruker_group_delay({"DECIM": "2080", "DSPFVS": "20"}) == 0.0  # newer firmware always states it
    assert bruker_group_delay({}) == 0.0  # no digital filter
    with pytest.raises(InputError, match="DECIM 7 / DSPFVS 10 is not in"):
        bruker_group_delay({"DECIM": "7", "DSPFVS": "10"})
    with pytest.raises(InputError, match="does not fit a 32-point FID"):
        NMRData("x", "bruker", "1H", 400.0, 8000.0, fid=np.ones(32, complex), carrier_ppm=4.7, group_delay_points=20.0)


@pytest.mark.parametrize("reversed_after_fft", [True, False])
def test_filter_delay_and_phase_are_removed_in_one_rotation_as_nmrglue_removes_the_delay(reversed_after_fft):
    """The delay's first-order phase is folded into the automatic phase's
    rotation: the result must be nmrglue's post-transform removal followed by
    the phase, in either frequency order."""
    import nmrglue as ng

    from specqc.model import NMRData
    from specqc.nmr.process import fft_spectrum, phase

    rng = np.random.default_rng(5)
    fid = rng.normal(size=2048) + 1j * rng.normal(size=2048)
    data = NMRData(
        "x",
        "bruker",
        "1H",
        400.0,
        8000.0,
        fid=fid,
        carrier_ppm=4.7,
        group_delay_points=67.984,
        reversed_after_fft=reversed_after_fft,
    )
    expected = ng.bruker.rm_dig_filter(
        ng.proc_base.fft(ng.proc_base.zf_size(fid, 4096)),
        decim=0,
        dspfvs=0,
        grpdly=67.984,
        truncate_grpdly=False,
        post_proc=True,
    )
    expected = expected[::-1] if reversed_after_fft else expected
    spectrum, _ppm = fft_spectrum(data, 4096, 0.0)
    assert np.allclose(spectrum, expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    phased, _ppm = fft_spectrum(data, 4096, 0.0, phased=(37.0, -80.0))
    assert np.allclose(phased, phase(expected, 37.0, -80.0).real, rtol=0, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("reversed_after_fft", [True, False])
@pytest.mark.parametrize("mirrored", [False, True])
@pytest.mark.parametrize("size", [4096, 1024])  # zero-filled, and cut short
def test_transform_in_one_buffer_is_nmrglues_apodize_zero_fill_and_fft(reversed_after_fft, mirrored, size):
    """The transform done in one buffer (apodization, zero-fill or cut, FFT in
    place, fftshift and reversal as views) is nmrglue's em, zf_size/cut and fft,
    with the first point halved when there is no filter delay."""
    import nmrglue as ng

    from specqc.model import NMRData
    from specqc.nmr.process import fft_spectrum

    rng = np.random.default_rng(8)
    fid = rng.normal(size=2048) + 1j * rng.normal(size=2048)
    data = NMRData("x", "bruker", "1H", 400.0, 8000.0, fid=fid, carrier_ppm=4.7, reversed_after_fft=reversed_after_fft)
    expected = np.conj(fid) if mirrored else fid.copy()
    expected[0] *= 0.5
    expected = ng.proc_base.em(expected, lb=1.5 / 8000.0)
    expected = ng.proc_base.zf_size(expected, size) if size > fid.size else expected[:size]
    expected = ng.proc_base.fft(expected)
    expected = expected[::-1] if reversed_after_fft else expected
    spectrum, ppm = fft_spectrum(data, size, 1.5, mirrored)
    assert np.allclose(spectrum, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    # the axis: the carrier at the middle point, high ppm first, sw / size per point
    assert ppm[size // 2 - 1] == pytest.approx(4.7)
    assert np.allclose(np.diff(ppm), -8000.0 / size / 400.0)


def test_multiplet_lines_follow_pascal_and_shapes_have_unit_area():
    assert [round(w, 4) for _, w in multiplet_lines("q", 7.0)] == [0.125, 0.375, 0.375, 0.125]
    assert [o for o, _ in multiplet_lines("t", 7.0)] == [-7.0, 0.0, 7.0]
    ppm = np.linspace(5.0, -5.0, 200001)
    shape = multiplet_shape(ppm, 0.0, "quint", 6.0, 0.0, 1.0, 400.0)
    assert shape.sum() * (ppm[0] - ppm[1]) == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("multiplicity", ["s", "d", "t", "q", "quint", "m"])
def test_shapes_drawn_for_several_couplings_at_once_match_one_at_a_time(multiplicity):
    ppm = np.linspace(3.4, 3.0, 1601)
    couplings = [6.4, 7.0, 7.6]
    together = multiplet_shapes(ppm, 3.2, multiplicity, couplings, 3.0, 0.9, 400.13)
    alone = np.stack([multiplet_shape(ppm, 3.2, multiplicity, j, 3.0, 0.9, 400.13) for j in couplings])
    np.testing.assert_allclose(together, alone, rtol=1e-10, atol=1e-12)
    if multiplicity not in ("s", "m"):  # J moves the outer lines
        assert np.abs(together[0] - together[2]).max() > 0.05 * together[0].max()


def test_amounts_from_the_reduced_least_squares_equal_the_full_problem():
    from scipy.optimize import nnls

    rng = np.random.default_rng(3)
    x = np.arange(4000.0)
    # overlapping Lorentzian columns, one of them absent from the data
    columns = [
        1.0 / (1.0 + ((x - centre) / width) ** 2)
        for centre, width in ((1000, 20), (1030, 15), (2500, 40), (2520, 10), (3300, 30))
    ]
    truth = np.array([2.0, 0.5, 1.2, 0.0, 0.8])
    values = sum(a * c for a, c in zip(truth, columns)) + rng.normal(0, 0.01, x.size)
    reduced = solve(np.vstack(columns), values)
    full, _ = nnls(np.column_stack(columns), values)
    np.testing.assert_allclose(reduced, full, atol=1e-9)
    np.testing.assert_allclose(reduced, truth, atol=0.02)
    # two identical columns: the data cannot tell them apart, so they share the amount equally
    twin = solve(np.vstack([columns[0], columns[0], columns[2]]), values)
    single, _ = nnls(np.column_stack([columns[0], columns[2]]), values)
    assert twin[0] == pytest.approx(single[0] / 2, rel=1e-6)
    assert twin[1] == pytest.approx(single[0] / 2, rel=1e-6)
    assert twin[2] == pytest.approx(single[1], rel=1e-6)


def _lines_over_a_local_offset(lines, truth):
    """Lorentzian columns (centre ppm, width Hz) on a 400 MHz axis from 6 to 1 ppm,
    the fit's local baseline there, an offset of tens of sigma changing by the ppm
    (drawn in the baseline's own hat functions), and the spectrum they make with
    the ``truth`` amounts and noise."""
    rng = np.random.default_rng(5)
    ppm = np.linspace(6.0, 1.0, 5000)
    columns = np.vstack([lorentzian(ppm, centre, width / 400.0) for centre, width in lines])
    local = LocalBaseline(fit_model.Axis(ppm, 400.0))
    offset = np.array([0.5, 2.0, 3.5, 1.0, 2.5, 0.2]) @ local.hats
    values = truth @ columns + offset + rng.normal(0, 0.05, ppm.size)
    return columns, local, offset, values


def test_amounts_fitted_with_a_local_baseline_equal_the_full_problem_and_shed_its_bias():
    """A slowly varying offset under the lines: solved with the baseline
    eliminated, the amounts are those of the full problem (amounts >= 0,
    baseline free) and near the truth; without it they soak up the offset."""
    from scipy.optimize import lsq_linear

    truth = np.array([0.02, 0.05, 0.03, 0.0, 0.01])
    columns, local, offset, values = _lines_over_a_local_offset(
        ((4.00, 1.0), (4.02, 1.5), (2.50, 1.0), (2.49, 4.0), (1.80, 2.0)), truth
    )
    amounts = solve(columns, values, local)
    full = lsq_linear(
        np.hstack([columns.T, local.hats.T]),
        values,
        bounds=(np.r_[np.zeros(5), np.full(local.hats.shape[0], -np.inf)], np.inf),
    ).x[:5]
    np.testing.assert_allclose(amounts, full, atol=1e-6)
    np.testing.assert_allclose(amounts, truth, atol=0.002)
    baseline = local.fit(columns, amounts, values)
    assert np.abs(baseline - offset).max() < 0.05
    assert np.abs(solve(columns, values) - truth).max() > 0.01  # the plain fit is biased by the offset


def test_what_the_baseline_already_explains_gets_no_amount():
    """A column no different from the local baseline, or twin columns, cannot be
    told apart by the data: the amount is left to the baseline (not a number set
    by the rounding of a near-zero pivot, tens of times the real amounts) or
    shared out, and every other amount is as without them. A baseline row no
    different from the hats changes nothing either."""
    columns, local, _offset, values = _lines_over_a_local_offset(
        ((4.00, 1.0), (2.50, 1.0), (1.80, 2.0)), np.array([0.02, 0.03, 0.01])
    )
    alone = solve(columns, values, local)
    np.testing.assert_allclose(alone, [0.02, 0.03, 0.01], atol=0.002)
    with_hat = solve(np.vstack([columns, local.hats[2]]), values, local)
    np.testing.assert_allclose(with_hat[:3], alone, rtol=1e-6)
    assert with_hat[3] < 1e-3 * alone.min()
    assert solve(columns[[]], values, local).shape == (0,)  # all candidates dropped: no crash, no amounts
    twins = solve(np.vstack([columns[0], columns]), values, local)
    np.testing.assert_allclose(twins, np.r_[alone[0] / 2, alone[0] / 2, alone[1:]], rtol=1e-6)
    redundant = local.with_rows(np.vstack([local.hats[2], 2 * local.hats[3]]))
    np.testing.assert_allclose(solve(columns, values, redundant), alone, rtol=1e-6)


def test_a_broad_line_is_fitted_with_its_own_width_not_the_nearest_trial_width():
    """Water 2.7 Hz broader than the sharp lines falls between the trial widths
    (2 and 3.5 line widths extra): drawn with either, its area would be ~10 % off."""
    from specqc.nmr.fit import FitComponent, FitSignal, fit_components

    rng = np.random.default_rng(4)
    ppm = np.linspace(4.5, 2.0, 20000)
    mhz, fwhm, sigma = 400.0, 1.0, 0.002
    values = (
        2 * 0.5 * multiplet_shape(ppm, 3.33, "s", 0.0, 2.7, fwhm, mhz)
        + 3 * 1.0 * multiplet_shape(ppm, 2.50, "s", 0.0, 0.0, fwhm, mhz)
        + rng.normal(0, sigma, ppm.size)
    )
    water = FitComponent(
        "water", "water", "water", [FitSignal("H2O", 3.33, "s", 2, tolerance_ppm=0.05)], broad_allowed=True
    )
    main = FitComponent("main", "species", "main", [FitSignal("CH3", 2.50, "s", 3, tolerance_ppm=0.02)])
    found = {
        r.component.name: r.amount
        for r in fit_components(ppm, values, sigma, mhz, [water, main], fwhm_hz=fwhm).components
    }
    assert water.signals[0].extra_width_hz == pytest.approx(2.7, abs=0.1)
    assert found["water"] / found["main"] == pytest.approx(0.5, rel=0.02)


def test_noise_is_measured_where_neighbouring_points_are_alike():
    """Zero-filling and line broadening correlate neighbouring points, so their
    differences understate the noise; the estimate still matches the noise's
    real spread, with strong lines present."""
    import nmrglue as ng

    from specqc.nmr.process import noise_sigma
    from specqc.noise import difference_sigma

    rng = np.random.default_rng(11)
    points, sweep_hz = 16384, 8000.0
    t = np.arange(points) / sweep_hz
    noise = rng.normal(size=points) + 1j * rng.normal(size=points)
    lines = sum(5e4 * np.exp(2j * np.pi * f * t - np.pi * 1.0 * t) for f in (-2100.0, 350.0, 900.0, 2600.0))

    def spectrum(fid):
        fid = ng.proc_base.em(fid.copy(), lb=0.3 / sweep_hz)
        return ng.proc_base.fft(ng.proc_base.zf_size(fid, 4 * points)).real

    spread = float(np.std(spectrum(noise)))
    with_lines = spectrum(noise + lines)
    assert noise_sigma(with_lines) == pytest.approx(spread, rel=0.1)
    assert difference_sigma(with_lines) < 0.7 * spread  # what neighbouring points would have said


def test_a_line_two_compounds_claim_testifies_for_the_one_at_its_tabulated_shift():
    """An impurity's singlet pulled to the edge of its tolerance onto a solvent's
    singlet at its literature shift is not evidence for the impurity."""
    from specqc.nmr.fit import FitComponent, FitSignal

    rng = np.random.default_rng(2)
    ppm = np.linspace(4.0, 3.0, 4000)
    mhz, fwhm = 400.0, 1.0
    axis = fit_model.Axis(ppm, mhz)
    values = 8 * 0.2 * lorentzian(ppm, 3.570, fwhm / mhz) + rng.normal(0, 0.01, ppm.size)
    solvent = FitComponent(
        "1,4-dioxane",
        "solvent",
        "1,4-dioxane",
        [FitSignal("CH2", 3.57, "s", 8, tolerance_ppm=0.02, observed_ppm=3.5702)],
    )
    impurity = FitComponent(
        "lactam",
        "species",
        "lactam",
        [FitSignal("C3-H2", 3.615, "s", 2, tolerance_ppm=0.05, diagnostic=True, observed_ppm=3.5705)],
    )
    components = [solvent, impurity]
    columns = np.vstack([fit_model.column(axis, c, fwhm) for c in components])
    judge = fit_judge.Judge(axis, fwhm, components, np.vstack([columns, values, np.zeros(ppm.size)]))
    # the impurity given most of the line: without the rule its signal would testify (overlap 0.2)
    claimed = judge(np.array([0.05, 0.6]), 0.01)
    assert claimed[1].signals[0].overlap < fit_judge.OVERLAP_LIMIT
    assert claimed[1].signals[0].support is None and not claimed[1].detected
    # with no solvent fitted, nothing outranks the impurity's placement: its signal testifies
    alone = judge(np.array([0.0, 0.8]), 0.01)
    assert alone[1].signals[0].support == pytest.approx(1.0, abs=0.05) and alone[1].detected


def test_pattern_classification_needs_equal_spacing_and_binomial_heights():
    assert classify(np.array([0.0, 7.0, 14.0]), np.array([1.0, 2.0, 1.0])) == ("t", 7.0)
    assert classify(np.array([0.0, 7.0, 14.0]), np.array([1.0, 1.0, 1.0]))[0] == "m"
    assert classify(np.array([0.0, 5.0, 14.0]), np.array([1.0, 2.0, 1.0]))[0] == "m"


def test_reference_data_is_checked_when_loaded():
    species = frozenset(s.id for s in ROUTE.species)
    good = """schema = "specqc.reference-spectra/1"
[[compounds]]
species = "diazepan-2-one"
solvent = "DMSO"
form = "hydrochloride"
source = "measurement: 400 MHz, in-house"
signals = [{ group = "C3-H2", shift_ppm = 3.74, multiplicity = "s", protons = 2 }]
"""
    parsed = parse_reference_set(good, "test.toml", "1", species)
    assert parsed.compounds[0].solvent == "DMSO-d6"
    for broken, message in (
        (good.replace("diazepan-2-one", "no-such-species"), "not a species"),
        (good.replace('"s", protons', '"sept", protons'), "bad multiplicity"),
        (good.replace('"s", protons', '"t", protons'), "needs j_hz"),
        (good.replace("measurement:", "guess:"), "source must start"),
        (good.replace("DMSO", "benzene-d6"), "unknown solvent"),
    ):
        with pytest.raises(ReferenceDataError, match=message):
            parse_reference_set(broken, "test.toml", "1", species)


def test_every_shipped_reference_entry_states_its_source_and_matches_route_species():
    from specqc.nmr.references import available_routes, reference_set

    assert set(available_routes()) == {"diazepan-2-one", "cyclobutylcarbonyl-diazepane"}
    for route_id in available_routes():
        route = load_route(route_id)
        references = reference_set(route_id, frozenset(s.id for s in route.species))
        assert references.compounds and all(
            c.source_kind in ("literature", "prediction", "measurement") for c in references.compounds
        )


def test_ich_table_covers_every_process_solvent_with_its_class():
    limits, version = ich_limits()
    assert version == "1"
    assert limits["1,4-dioxane"].ich_class == "2" and limits["1,4-dioxane"].limit_ppm == 380
    assert limits["toluene"].limit_ppm == 890 and limits["tetrahydrofuran"].limit_ppm == 720
    assert {limits[n].limit_ppm for n in ("diethyl ether", "ethyl acetate", "MTBE")} == {5000}
    assert limits["diethyl ether"].molar_mass == pytest.approx(74.12, abs=0.01)


def test_every_source_package_is_installed():
    configured = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    present = {".".join(p.parent.relative_to(ROOT / "src").parts) for p in (ROOT / "src").rglob("__init__.py")}
    assert present | {"specqc.reference_spectra"} == configured


def test_cli_combines_lcms_and_nmr_of_one_sample():
    result = _cli(
        "analyze",
        SAMPLES / "lcms" / "dz-salt-clean.mzML",
        SAMPLES / "nmr" / "dz-salt-nmr-clean",
        "--route",
        "diazepan-2-one",
        "--stage",
        "salt",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [i["technique"] for i in report["inputs"]] == ["lcms", "nmr"]
    product = next(s for s in report["species"] if s["id"] == "diazepan-2-one")
    assert product["evidence"] == ["lcms", "nmr"] and product["nmr"]["mol_pct"] == 100.0
    assert "nmr" in report["parameters"] and "lcms" in report["parameters"]
    assert report["reference_data"]["ich_q3c.csv"] == "1"


def test_cli_text_view_shows_solvents_against_their_limits():
    result = _cli("analyze", SAMPLES / "nmr" / "dz-salt-nmr-dioxane", "--route", "diazepan-2-one", "--stage", "salt")
    assert result.returncode == 0, result.stderr
    assert "1,4-dioxane" in result.stdout and "above limit" in result.stdout and "FAIL" in result.stdout


def test_nmr_report_is_deterministic(tmp_path):
    first = _cli(
        "analyze",
        SAMPLES / "nmr" / "dz-salt-nmr-wet",
        "--route",
        "diazepan-2-one",
        "--stage",
        "salt",
        "--format",
        "json",
    )
    second = _cli(
        "analyze",
        SAMPLES / "nmr" / "dz-salt-nmr-wet",
        "--route",
        "diazepan-2-one",
        "--stage",
        "salt",
        "--format",
        "json",
    )
    assert first.returncode == 0 and first.stdout == second.stdout


def test_region_of_a_descending_axis_is_the_points_between_its_limits():
    ppm = np.linspace(12.0, -2.0, 7001)  # step 0.002 ppm, as a processed 1H axis runs
    rising = -ppm
    for high, low in ((3.4101, 3.3877), (3.41, 3.39), (12.5, 11.99), (-1.999, -3.0), (5.0, 5.0005)):
        inside = np.nonzero((ppm <= high) & (ppm >= low))[0]
        region = between(rising, high, low)
        assert np.arange(ppm.size)[region].tolist() == inside.tolist()


def _placement_scene(seed: int = 5):
    """A 400 MHz spectrum at 0.25 Hz per point holding a triplet, a quartet and a
    singlet away from their tabulated shifts (J a little off too), with noise;
    and a doublet tabulated too close to the edge of the axis to be searched."""
    mhz, fwhm = 400.0, 1.0
    ppm = 5.0 - np.arange(6000) * 0.25 / mhz
    truth = {"t": (3.231, 7.2), "q": (2.115, 6.9), "s": (1.487, 0.0)}
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 0.002, ppm.size)
    for multiplicity, (centre, j_hz) in truth.items():
        values += 3 * multiplet_shape(ppm, centre, multiplicity, j_hz, 0.0, fwhm, mhz)
    signals = [
        fit_model.FitSignal("CH2", 3.25, "t", 3, j_hz=7.0),
        fit_model.FitSignal("CH2", 2.10, "q", 3, j_hz=7.0),
        fit_model.FitSignal("CH3", 1.50, "s", 3),
        fit_model.FitSignal("CH", 4.99, "d", 1, j_hz=7.0),
    ]
    components = [fit_model.FitComponent(f"c{i}", "species", f"c{i}", [signal]) for i, signal in enumerate(signals)]
    return ppm, values, mhz, fwhm, truth, components


def test_batched_placement_finds_each_multiplet_and_its_coupling():
    ppm, values, mhz, fwhm, truth, components = _placement_scene()
    axis = fit_model.Axis(ppm, mhz)
    placement = fit_placement.Placement(axis, components, fwhm)
    placement.place(fit_placement.Targets(values), 3 * 0.002)
    placed = {c.signals[0].multiplicity: c.signals[0] for c in components}
    for multiplicity, (centre, j_hz) in truth.items():
        assert placed[multiplicity].observed_ppm == pytest.approx(centre, abs=0.1 * 0.25 / mhz)
        assert placed[multiplicity].j_hz == pytest.approx(j_hz, abs=0.051)
    # too near the edge to slide a template across: it stays where the table puts it
    assert placed["d"].observed_ppm == 4.99 and placed["d"].j_hz == 7.0


def test_each_compound_is_placed_against_its_own_target():
    ppm, values, mhz, fwhm, truth, components = _placement_scene()
    axis = fit_model.Axis(ppm, mhz)
    targets = np.vstack([values] * len(components))
    targets[2] = 0.0  # nothing above the floor in the singlet's window: its tabulated shift is kept
    # (each compound's own row: nothing in common, the row as its column at unit amount)
    own_rows = fit_placement.Targets(np.zeros(values.size), targets, np.ones(len(components)))
    fit_placement.Placement(axis, components, fwhm).place(own_rows, 3 * 0.002)
    assert components[2].signals[0].observed_ppm == 1.50
    assert components[0].signals[0].observed_ppm == pytest.approx(truth["t"][0], abs=0.1 * 0.25 / mhz)


def test_judged_overlap_and_support_equal_a_direct_fit_of_each_window():
    """The judge's linear shortcut against the definition: the share of other
    compounds under a signal's lines, and the shape's coefficient when it and an
    offset are fitted to the spectrum minus everything else."""
    ppm, values, mhz, fwhm, _truth, components = _placement_scene()
    axis = fit_model.Axis(ppm, mhz)
    components = components[:3]
    fit_placement.Placement(axis, components, fwhm).place(fit_placement.Targets(values), 3 * 0.002)
    columns = np.vstack([fit_model.column(axis, c, fwhm) for c in components])
    unknown = np.zeros(ppm.size)
    fit_model.add_lorentzian(axis, unknown, 3.205, fwhm, 0.3)  # an unassigned line on the triplet's flank
    amounts = np.array([1.0, 0.6, 0.8])  # deliberately not the fitted amounts
    results = fit_judge.Judge(axis, fwhm, components, np.vstack([columns, values, unknown]))(amounts, 0.002)
    model = amounts @ columns + unknown
    for index, (component, result) in enumerate(zip(components, results)):
        low, shape = fit_model.signal_shape(axis, component.signals[0], component.signals[0].observed_ppm, fwhm)
        window = slice(low, low + shape.size)
        own = amounts[index] * shape
        others = model[window] - amounts[index] * columns[index][window]
        weight = shape / shape.sum()
        overlap = weight @ others / (weight @ own + weight @ others)
        assert result.signals[0].overlap == pytest.approx(overlap, abs=1e-3)
        design = np.column_stack([shape, np.ones(shape.size)])
        coefficient = np.linalg.lstsq(design, values[window] - others, rcond=None)[0][0]
        assert result.signals[0].support == pytest.approx(coefficient / amounts[index], abs=1e-3)
    # every line holds 3 protons' worth of area, so the true amounts are 1: a signal given
    # only 0.6 or 0.8 of it shows 1/0.6 or 1/0.8 of its expected intensity
    assert results[1].signals[0].support == pytest.approx(1 / 0.6, rel=0.02)
    assert results[2].signals[0].support == pytest.approx(1 / 0.8, rel=0.02)


def _stage_report(tmp_path, stage: str, components: list[NMRComponent]) -> dict:
    settings = NMRSettings(seed=5)
    fid, _ = simulate(ROUTE, components, settings)
    write_bruker(tmp_path / "1", fid, settings)
    return build_report(analyze([tmp_path / "1"], ROUTE.id, stage))


def _check(report: dict, check_id: str) -> dict:
    return next(c for c in report["qc"]["checks"] if c["id"] == check_id)


def test_a_spectrum_mostly_unassigned_cannot_show_the_product_absent(tmp_path):
    from specqc.simulate.nmr import Signal

    # a clean compound the references do not describe: the product may be it, with shifts they do not predict
    unknown = (Signal(4.62, "s", 2), Signal(3.71, "t", 2, 6.5), Signal(2.38, "t", 2, 6.5), Signal(1.02, "s", 9))
    report = _stage_report(
        tmp_path,
        "salt",
        [
            NMRComponent("compound X", 1.0, "unknown", unknown),
            NMRComponent("aminopropyl-glycinate", 0.1),
            NMRComponent("residual", 0.9, "residual"),
            NMRComponent("water", 0.3, "water", extra_width_hz=3.0),
        ],
    )
    # a minor species' pattern among the lines of an unrecognised compound is not claimed (its lines
    # might be the unknown's), and says what it matched
    minor = next(s for s in report["species"] if s["id"] == "aminopropyl-glycinate")
    assert minor["status"] != "detected" and not minor["nmr"]["detected"]
    assert "cannot be told from the lines of that unknown (signals present:" in minor["nmr"]["finding"]
    assert report["nmr"]["unassigned_signal_pct"] > 80
    present = _check(report, "product-present")
    assert present["status"] == "not-assessed" and "its absence is not shown" in present["detail"], present
    assert "product-not-found" not in {d["id"] for d in report["diagnoses"]}
    assert report["qc"]["verdict"] == "inconclusive"


def test_a_spectrum_explained_by_the_precursor_shows_the_product_absent(tmp_path):
    # a cyclization that did not go: the linear precursor's signals explain the spectrum
    report = _stage_report(
        tmp_path,
        "cyclization",
        [
            NMRComponent("aminopropyl-glycinate", 1.0, satellites=True),
            NMRComponent("residual", 0.9, "residual"),
            NMRComponent("water", 0.3, "water", extra_width_hz=3.0),
        ],
    )
    assert report["nmr"]["unassigned_signal_pct"] < 20
    assert _check(report, "product-present")["status"] == "fail"
    assert "product-not-found" in {d["id"] for d in report["diagnoses"]}


def _two_triplets_scene(lines: tuple[float, float], seed: int) -> tuple:
    """The product's two CH2 triplets, tabulated 0.06 ppm apart with wide windows, drawn at ``lines``."""
    from specqc.nmr.fit import FitComponent, FitSignal

    rng = np.random.default_rng(seed)
    ppm = np.linspace(4.5, 2.0, 20000)
    mhz, fwhm, sigma = 400.0, 1.0, 0.002
    values = (
        sum(0.5 * 2 * multiplet_shape(ppm, centre, "t", 7.0, 0.0, fwhm, mhz) for centre in lines)
        + 0.5 * 3 * multiplet_shape(ppm, 2.20, "s", 0.0, 0.0, fwhm, mhz)
        + rng.normal(0, sigma, ppm.size)
    )
    product = FitComponent(
        "p",
        "species",
        "product",
        [
            FitSignal("CH2-a", 3.30, "t", 2, j_hz=7.0, tolerance_ppm=0.1),
            FitSignal("CH2-b", 3.36, "t", 2, j_hz=7.0, tolerance_ppm=0.1),
            FitSignal("CH3", 2.20, "s", 3, tolerance_ppm=0.05),
        ],
        expected=True,
    )
    return ppm, values, sigma, mhz, fwhm, product


@pytest.mark.parametrize(
    "lines, seed", [((3.28, 3.45), 5), ((3.28, 3.45), 6), ((3.31, 3.31), 7)], ids=["apart-5", "apart-6", "one-4H-line"]
)
def test_two_multiplets_of_one_compound_take_one_line_only_when_it_holds_both(lines, seed):
    """Placed each on its own, both triplets first take the line at 3.28 (the
    nearer one for the second, shifted +0.09 ppm); once the amount is known the
    line holds only one of them, and the one further from its tabulated shift
    moves to the line left unexplained. Both really at 3.31 (a 4H line): the line
    covers both, so neither moves to noise. Either way the product is found with
    its full amount."""
    from specqc.nmr.fit import fit_components

    ppm, values, sigma, mhz, fwhm, product = _two_triplets_scene(lines, seed)
    result = fit_components(ppm, values, sigma, mhz, [product], fwhm_hz=fwhm).components[0]
    placed = {s.group: s.observed_ppm for s in result.signals}
    assert placed["CH2-a"] == pytest.approx(lines[0], abs=0.002)
    assert placed["CH2-b"] == pytest.approx(lines[1], abs=0.002)
    assert result.detected, result.reason
    assert result.amount == pytest.approx(0.5, rel=0.03)
