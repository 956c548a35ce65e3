"""Analysis of the simulated samples against their ground truth."""

from __future__ import annotations

import pytest

from conftest import lcms_samples, report_of, truth_of


def _species(report: dict) -> dict[str, dict]:
    return {entry["id"]: entry for entry in report["species"]}


@pytest.mark.parametrize("name", lcms_samples())
def test_detection_and_ambiguity_match_truth(name):
    truth, report = truth_of(name), report_of(name)
    species = _species(report)
    assert len(species) >= 10  # every route species is judged
    for species_id, entry in species.items():
        expected = truth["expected"].get(species_id, {"status": "not-detected", "ambiguous_with": []})
        assert entry["status"] == expected["status"], (species_id, entry["status"], entry["lcms"])
        assert entry["detected"] == (expected["status"] == "detected")
        assert sorted(entry["ambiguous_with"]) == sorted(expected["ambiguous_with"]), species_id


@pytest.mark.parametrize("name", lcms_samples())
def test_relative_areas_and_retention_times_match_truth(name):
    truth, report = truth_of(name), report_of(name)
    species = _species(report)
    assert truth["species"], "a sample's truth names at least its main species"
    for species_id, component in truth["species"].items():
        entry = species[species_id]
        lcms = entry["lcms"]
        assert lcms is not None, species_id
        assert abs(lcms["rt_min"] - component["rt_min"]) < 0.05, (species_id, lcms["rt_min"])
        if entry["status"] == "ambiguous":
            continue  # one shared signal; its area belongs to the group
        expected = component["relative_area_pct"]
        assert abs(lcms["relative_area_pct"] - expected) <= max(1.5, 0.15 * expected), (
            species_id,
            lcms["relative_area_pct"],
            expected,
        )


@pytest.mark.parametrize("name", lcms_samples())
def test_mass_accuracy_follows_resolution(name):
    truth, report = truth_of(name), report_of(name)
    run = report["lcms_runs"][0]
    high = truth["settings"]["resolution"] == "high"
    assert run["resolution"]["class"] == ("high" if high else "unit")
    # the window follows the run's own m/z scatter at high resolution, the class at unit resolution
    value, unit = run["tolerance"].split()
    assert unit == ("ppm" if high else "Da")
    assert (3.0 <= float(value) <= 25.0) if high else float(value) == 0.5
    judged = [entry for entry in report["species"] if entry["status"] == "detected" and high]
    assert judged or not high, "a high-resolution sample with nothing detected tells nothing of mass accuracy"
    for entry in judged:
        lead = entry["lcms"]["ions"][0]
        assert abs(lead["ppm_error"]) < 5.0, (entry["id"], lead)
