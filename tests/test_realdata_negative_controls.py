"""Real LC-MS runs of compounds of neither route: no route species may be detected.

Every real run with mass spectra in ../shared/realdata (mzML, mzXML, Agilent .D,
Waters .raw, ANDI-MS) is analysed at every stage of both built-in routes. None of
them holds a route compound, so a `detected` species is a false positive, unless
it is a true isomer of a route species (same formula) in the run. Such a hit is
listed in ISOMERS with the evidence that makes it one, and the test checks that
evidence instead of letting the hit pass silently.
"""

from __future__ import annotations

import pytest

from specqc.pipeline import analyze
from specqc.report.document import build_report

RUNS = [
    "lcms-mzml/thermo-qexactive-ms1/example.mzML",
    "lcms-mzml/thermo-exactive-beer-dda/testdata.mzml",
    "lcms-mzml/thermo-ltq-orbitrap-msn-mzxml/testdata.mzXML",
    "lcms-mzml/waters-tq-mrm-tryptophan-panel/arrayChromatograms.mzML",
    "lcms-vendor/agilent-qtof-3scan-cyan/cyan.D",
    "lcms-vendor/agilent-qtof-3scan-magenta/magenta.D",
    "lcms-vendor/waters-sqd2-noscapine/blue.raw",
    "lcms-vendor/agilent-msd-elsd-blank/orange.D",
    "other/andi-advion-expression-cms/advion-expression.cdf",
    "other/andi-agilent-msd-tic-acphe-tempo/agilent-hplc2.cdf",
]
STAGES = [("diazepan-2-one", stage) for stage in ("alkylation", "deprotection", "cyclization", "salt")] + [
    ("cyclobutylcarbonyl-diazepane", stage) for stage in ("ring-formation", "acylation", "final")
]

# (run, species id) -> why it is a true isomer. Each must carry the full high-resolution
# evidence: mass within tolerance, a consistent isotope pattern, a real chromatographic peak.
ISOMERS: dict[tuple[str, str], str] = {}


def _full_evidence(entry: dict) -> list[str]:
    evidence = entry["lcms"]["evidence"]
    missing = []
    if entry["confidence"] is None or not entry["confidence"]["features"]["high_resolution"]:
        missing.append("high resolution")
    if evidence.get("isotope_score") is None:
        missing.append("isotope pattern")
    if evidence.get("peak_shape") != "consistent":
        missing.append("peak shape")
    return missing


@pytest.mark.parametrize("relative", RUNS)
def test_no_route_species_is_detected_in_a_real_run_of_other_compounds(realdata, relative):
    path = realdata / relative
    if not path.exists():
        pytest.skip(f"not in this copy of the real data: {relative}")
    claims = []
    for route, stage in STAGES:
        report = build_report(analyze([path], route, stage))
        assert len(report["species"]) >= 10  # every route species is judged, detected or not
        for entry in report["species"]:
            if not entry["detected"]:
                continue
            isomer = ISOMERS.get((relative, entry["id"]))
            if isomer is None:
                claims.append(
                    f"{route}/{stage}: {entry['id']} ({entry['lcms']['ions'][0]['ion']} "
                    f"m/z {entry['lcms']['ions'][0]['observed_mz']})"
                )
            else:
                assert not _full_evidence(entry), (isomer, _full_evidence(entry))
    assert not claims, claims
