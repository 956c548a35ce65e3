"""Real instrument files (../shared/realdata) load and analyse; facts from its MANIFEST."""

from __future__ import annotations

import numpy as np
import pytest

from specqc.lcms.params import LCMSParams
from specqc.pipeline import analyze
from specqc.readers import read
from specqc.report.document import build_report

MZML = {
    "lcms-mzml/thermo-exactive-beer-dda/testdata.mzml": dict(ms1=2, ms2=10, polarity="positive"),
    "lcms-mzml/thermo-qexactive-ms1/example.mzML": dict(ms1=11, ms2=0, polarity="positive"),
    "lcms-mzml/thermo-ltq-orbitrap-msn-mzxml/testdata.mzXML": dict(ms1=1, ms2=4, polarity="negative"),
    "lcms-mzml/waters-tq-mrm-tryptophan-panel/arrayChromatograms.mzML": dict(ms1=0, ms2=0, polarity=None),
}


@pytest.mark.parametrize("relative", sorted(MZML))
def test_real_file_loads_with_manifest_facts(realdata, relative):
    facts = MZML[relative]
    run = read(realdata / relative)
    assert sum(s.ms_level == 1 for s in run.spectra) == facts["ms1"]
    assert sum(s.ms_level > 1 for s in run.spectra) == facts["ms2"]
    if facts["polarity"]:
        assert run.polarities() == [facts["polarity"]]


@pytest.mark.parametrize("relative", sorted(MZML))
@pytest.mark.parametrize("route, stage", [("diazepan-2-one", "salt"), ("cyclobutylcarbonyl-diazepane", "final")])
def test_real_file_analyses_without_error(realdata, relative, route, stage):
    report = build_report(analyze([realdata / relative], route, stage))
    assert report["inputs"][0]["sha256"] and len(report["inputs"][0]["sha256"]) == 64
    assert report["qc"]["verdict"] in ("pass", "fail", "inconclusive")
    # Real extracts can hold ions at a route species' m/z; whatever is claimed
    # must sit inside the tolerance the run was judged at (10 ppm, high resolution).
    for entry in report["species"]:
        if entry["status"] in ("detected", "tentative"):
            assert entry["lcms_source"] == str(realdata / relative)
            for ion in entry["lcms"]["ions"]:
                assert abs(ion["ppm_error"]) <= 10.0, (entry["id"], ion)


def test_beer_dda_base_peak_and_precursors(realdata):
    run = read(realdata / "lcms-mzml/thermo-exactive-beer-dda/testdata.mzml")
    first_ms1 = run.ms1()[0]
    assert first_ms1.mz[np.argmax(first_ms1.intensity)] == pytest.approx(207.1592, abs=1e-3)
    precursors = {round(s.precursor_mz, 3) for s in run.spectra if s.ms_level == 2}
    assert {121.06, 207.159, 338.342} <= precursors


def test_short_orbitrap_run_is_judged_as_infusion(realdata):
    result = analyze([realdata / "lcms-mzml/thermo-qexactive-ms1/example.mzML"], "diazepan-2-one", "salt")
    run = result.lcms[0]
    assert run.resolution.high and run.tolerance.unit == "ppm"
    assert any("too short for chromatography" in note for note in run.notes)
    # MANIFEST: base peak m/z 74.0970 in every scan, so it leads the unexplained ions
    assert run.unexplained[0].mz == pytest.approx(74.0970, abs=5e-4)


def test_lone_ion_is_not_claimed_as_a_doubly_charged_oligomer(realdata):
    # m/z 115.0867 is in this extract: 1,4-diazepan-2-one [M+H]+ and the cyclic
    # dimer's [M+2H]2+ share it, but a 2+ ion would show its 13C peak 0.5 u away.
    # It co-varies with m/z 133.0972 (C5H12N2O2 [M+H]+, ornithine's formula in a
    # metabolomics run), whose water loss it is; eleven scans without chromatography
    # establish no species, so nothing is claimed.
    result = analyze([realdata / "lcms-mzml/thermo-qexactive-ms1/example.mzML"], "diazepan-2-one", "salt")
    species = {s.species_id: s for s in result.lcms[0].species}
    assert species["cyclic-dimer"].status == "not-detected"
    assert not any(s.detected for s in species.values())
    carrier = species["hydrolysed-aminopropyl-glycinate"]
    assert carrier.status == "tentative"
    # whoever the ion at m/z 115.0867 is given to (the carrier's water loss, or the product's
    # [M+H]+), it is singly charged and, without chromatography, no more than tentative
    holders = [
        s
        for s in species.values()
        for f in s.features
        if f.observed_mz is not None and abs(f.observed_mz - 115.0867) < 5e-4
    ]
    assert holders and all(s.status == "tentative" and s.species_id != "cyclic-dimer" for s in holders)


def test_mrm_only_file_is_inconclusive_not_an_error(realdata):
    run = read(realdata / "lcms-mzml/waters-tq-mrm-tryptophan-panel/arrayChromatograms.mzML")
    assert len(run.chromatograms) == 66
    negative = [c for c in run.chromatograms if c.polarity == "negative"]
    assert len(negative) == 4
    tic = next(c for c in run.chromatograms if c.kind == "tic")
    assert tic.rt_min[0] == pytest.approx(0.25, abs=0.01) and tic.rt_min[-1] == pytest.approx(6.69, abs=0.01)
    report = build_report(analyze([run.source_path], "diazepan-2-one", "salt"))
    assert report["qc"]["verdict"] == "inconclusive"
    assert report["qc"]["checks"][0]["status"] == "not-assessed"


def test_negative_polarity_request_on_positive_file_is_input_error(realdata):
    from specqc.errors import InputError

    with pytest.raises(InputError, match="no MS1 spectra of negative polarity"):
        analyze(
            [realdata / "lcms-mzml/thermo-qexactive-ms1/example.mzML"],
            "diazepan-2-one",
            "salt",
            lcms_params=LCMSParams(polarity="negative"),
        )
