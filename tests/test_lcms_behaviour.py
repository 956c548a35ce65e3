"""The traps of real LC-MS data, one by one, on the samples and on purpose-made runs."""

from __future__ import annotations


import numpy as np
import pytest

from conftest import SAMPLES, report_of, truth_of
from specqc.chem.route import load_route
from specqc.errors import InputError
from specqc.model import Spectrum
from specqc.readers import find_reader, read
from specqc.simulate.lcms import Component, RunSettings, simulate, write_mzml


def species(name: str) -> dict[str, dict]:
    return {e["id"]: e for e in report_of(name)["species"]}


def ions(entry: dict) -> dict[str, dict]:
    return {i["ion"]: i for i in entry["lcms"]["ions"]}


def test_boc_fragment_goes_to_its_coeluting_parent():
    found = species("dz-deprotection-boc-left")
    parent, mimic = found["boc-aminopropyl-glycinate"], found["aminopropyl-glycinate"]
    fragment = ions(parent)["[M+H-C5H8O2]+"]
    assert fragment["mz"] == pytest.approx(ions(mimic)["[M+H]+"]["mz"], abs=1e-4)  # same m/z
    assert fragment["rt_min"] == pytest.approx(parent["lcms"]["rt_min"], abs=0.05)
    assert all(abs(i["rt_min"] - 1.6) < 0.06 for i in mimic["lcms"]["ions"])  # only its own peak


def test_proton_bound_dimer_is_not_an_oligomer():
    found = species("dz-cyclization-clean")
    dimer_ion = ions(found["diazepan-2-one"])["[2M+H]+"]
    assert dimer_ion["mz"] == pytest.approx(229.1659, abs=1e-4)  # the cyclic dimer's [M+H]+ too
    assert found["cyclic-dimer"]["status"] == "not-detected"
    assert report_of("dz-cyclization-clean")["qc"]["verdict"] == "pass"


def test_doubly_charged_macrocycle_does_not_count_as_homopiperazine():
    found = species("cb-ring-formation-oligomers")
    cyclam = ions(found["cyclic-dimer"])
    assert cyclam["[M+2H]2+"]["rt_min"] == pytest.approx(1.3, abs=0.05)
    assert found["homopiperazine"]["lcms"]["rt_min"] == pytest.approx(0.9, abs=0.05)
    assert all(abs(i["rt_min"] - 0.9) < 0.06 for i in found["homopiperazine"]["lcms"]["ions"])


def test_coeluting_isobar_is_resolved_at_high_resolution():
    report = report_of("dz-cyclization-isobar")
    unknown = truth_of("dz-cyclization-isobar")["unknowns"][0]
    peak = next(p for p in report["unexplained_peaks"] if abs(p["mz"] - 115.1230) < 0.002)
    assert peak["rt_min"] == pytest.approx(unknown["rt_min"], abs=0.05)
    assert peak["relative_area_pct"] == pytest.approx(unknown["relative_area_pct"], rel=0.15)


def test_nominal_mass_ambiguity_is_reported_not_claimed():
    unit = species("cb-acylation-unit-ambiguous")
    high = species("cb-acylation-hr-resolved")
    for name in ("homopiperazine", "hydrolysed-cyclobutanecarbonyl-chloride"):
        assert unit[name]["status"] == "tentative" and not unit[name]["detected"]
        assert unit[name]["ambiguous_with"] and unit[name]["reasons"]
    assert high["homopiperazine"]["detected"]
    assert high["hydrolysed-cyclobutanecarbonyl-chloride"]["status"] == "not-detected"


def test_isotope_agreement_scored_only_at_high_resolution():
    scored = 0
    for entry in species("dz-cyclization-oligomers").values():
        if not entry["detected"]:
            continue
        if entry["lcms"]["isotope_score"] is None:  # its M+1 would sit under 5x the noise
            assert "not measurable" in entry["lcms"]["evidence"]["isotope"], entry["id"]
        else:
            assert entry["lcms"]["isotope_score"] >= 0.8, entry["id"]
            scored += 1
    assert scored >= 4
    # unit resolution: the envelope counts (as one support) only where it is measured apart
    unit_scored = [
        entry
        for entry in species("dz-cyclization-piperazine").values()
        if entry["detected"] and entry["lcms"]["isotope_score"] is not None
    ]
    assert unit_scored, "no detected species with a measured envelope in the unit-resolution sample"
    for entry in unit_scored:
        assert entry["lcms"]["isotope_score"] >= 0.1, entry["id"]


def _run(tmp_path, settings, components, metadata=True):
    route = load_route("diazepan-2-one")
    scans, truth = simulate(route, components, settings)
    path = tmp_path / "run.mzML"
    write_mzml(path, scans, settings, instrument_metadata=metadata)
    return path, truth


@pytest.mark.parametrize(
    "resolution, mode, expected_high",
    [("high", "centroid", True), ("unit", "centroid", False), ("high", "profile", True), ("unit", "profile", False)],
)
def test_resolution_is_read_from_the_data_without_metadata(tmp_path, resolution, mode, expected_high):
    from specqc.lcms.signals import estimate_resolution, ms1_centroids

    settings = RunSettings(resolution=resolution, mode=mode, n_scans=60, noise_peaks_per_scan=60)
    path, _ = _run(tmp_path, settings, [Component(3.0, 5e6, "diazepan-2-one")], metadata=False)
    run = read(path)
    assert run.instrument.analyzers == ()
    spectra, centroids = ms1_centroids(run, "positive")
    resolution_found = estimate_resolution(run, spectra, centroids)
    assert resolution_found.high is expected_high, resolution_found
    assert resolution_found.method != "instrument analyzer in metadata"
    if mode == "profile" and expected_high:
        assert 20000 < resolution_found.resolving_power < 50000  # simulated at 35,000


def test_tolerance_override(tmp_path):
    from specqc.lcms.params import LCMSParams
    from specqc.pipeline import analyze

    path = SAMPLES / "lcms" / "dz-cyclization-clean.mzML"
    analysis = analyze([path], "diazepan-2-one", "cyclization", lcms_params=LCMSParams(tolerance="3 ppm"))
    assert str(analysis.lcms[0].tolerance) == "3 ppm"
    assert analysis.lcms[0].params["tolerance_used"] == "3 ppm"


def test_spectrum_validates_at_construction():
    with pytest.raises(InputError, match="NaN"):
        Spectrum(0, 1.0, 1, "positive", "centroid", [100.0, np.nan], [1.0, 2.0])
    with pytest.raises(InputError, match="2 m/z values but 1 intensities"):
        Spectrum(0, 1.0, 1, "positive", "centroid", [100.0, 101.0], [1.0])
    with pytest.raises(InputError, match="polarity"):
        Spectrum(0, 1.0, 1, "sideways", "centroid", [100.0], [1.0])
    unsorted = Spectrum(0, 1.0, 1, "positive", "centroid", [101.0, 100.0], [2.0, -1.0])
    assert list(unsorted.mz) == [100.0, 101.0] and list(unsorted.intensity) == [0.0, 2.0]


def test_registry_sniffs_content_and_honours_explicit_format(tmp_path):
    renamed = tmp_path / "export.xml"
    renamed.write_bytes((SAMPLES / "lcms" / "dz-salt-clean.mzML").read_bytes())
    assert find_reader(renamed).name == "mzml"
    assert find_reader(renamed, "mzxml").name == "mzxml"
    with pytest.raises(InputError, match="unknown format 'raw'"):
        find_reader(renamed, "raw")
    with pytest.raises(InputError, match="folder is not a dataset"):
        find_reader(tmp_path)


def test_a_species_seen_only_through_its_dimer_ions_is_ambiguous_with_the_oligomer_of_that_mass():
    """Homopiperazine's [M+H]+ (m/z 101) lies below a scan range starting at 150: its
    [2M+H]+ and [2M+Na]+ are all there is of it, and they are exactly the cyclic
    dimer's [M+H]+ and [M+Na]+. Nothing tells the two apart, so neither is claimed
    (homopiperazine listed first, as the route lists it, used to hand the signal to
    the dimer outright)."""
    from specqc.chem.ions import target_ions
    from specqc.lcms.analysis import Hypothesis, IonFeature, _accept
    from specqc.lcms.peaks import ChromPeak

    route = load_route("cyclobutylcarbonyl-diazepane")
    species = {s.id: s for s in route.species}

    def feature(species_id: str, ion: str, cluster: int, area: float) -> IonFeature:
        target = next(t for t in target_ions(species[species_id], "positive") if t.ion == ion)
        peak = ChromPeak(80, 75, 85, 5.52, 5.45, 5.6, area / 10, area, 500.0, 0.13, 5)
        return IonFeature(target, peak, target.mz, 0.0, cluster=cluster)

    monomer = Hypothesis(
        "homopiperazine",
        5.52,
        [feature("homopiperazine", "[2M+H]+", 1, 2.5e6), feature("homopiperazine", "[2M+Na]+", 4, 4e4)],
    )
    dimer = Hypothesis(
        "cyclic-dimer", 5.52, [feature("cyclic-dimer", "[M+H]+", 1, 2.5e6), feature("cyclic-dimer", "[M+Na]+", 4, 4e4)]
    )
    for order in ([monomer, dimer], [dimer, monomer]):
        accepted, ambiguous, _ = _accept(order, 0.1)
        assert not accepted
        assert [sorted(h.species_id for h in group) for group in ambiguous] == [["cyclic-dimer", "homopiperazine"]]
