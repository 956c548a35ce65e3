"""The JSON report (schema specqc.report/1), built deterministically.

Same inputs and parameters give byte-identical JSON: no wall-clock time, keys
sorted, floats rounded to what the measurement supports.
"""

from __future__ import annotations

import json

from ..lcms.analysis import LCMSResult, SpeciesResult
from ..pipeline import Analysis
from ..reference import reference_versions

SCHEMA = "specqc.report/1"
IMPURITY_REPORT_THRESHOLD_PCT = 0.1


def _round(value, digits=4):
    return None if value is None else round(float(value), digits)


def _ion_entries(result: SpeciesResult) -> list[dict]:
    return [{
        "ion": f.target.ion,
        "kind": f.target.kind,
        "mz": _round(f.target.mz, 4),
        "observed_mz": _round(f.observed_mz, 4),
        "ppm_error": _round(f.ppm_error, 2),
        "area": _round(f.total_area, 1),
        "rt_min": _round(f.peak.apex_rt, 3),
        "sn": _round(f.peak.sn, 1),
    } for f in result.features]


def _lcms_block(result: SpeciesResult) -> dict | None:
    if result.status == "not-detected" and not result.features:
        return None
    return {
        "rt_min": _round(result.rt_min, 3),
        "area": _round(result.area, 1),
        "relative_area_pct": _round(result.relative_area_pct, 2),
        "sn": _round(result.sn, 1),
        "isotope_score": result.isotope_score,
        "status": result.status,
        "ions": _ion_entries(result),
        "notes": result.notes,
    }


def _best_result(species_id: str, runs: list[LCMSResult]) -> tuple[SpeciesResult | None, LCMSResult | None]:
    best, best_run = None, None
    rank = {"detected": 2, "ambiguous": 1, "not-detected": 0}
    for run in runs:
        for result in run.species:
            if result.species_id != species_id:
                continue
            key = (rank[result.status], result.sn or 0.0)
            if best is None or key > (rank[best.status], best.sn or 0.0):
                best, best_run = result, run
    return best, best_run


def build_report(analysis: Analysis) -> dict:
    route, stage = analysis.route, analysis.stage
    species_entries = []
    for species in route.species:
        result, run = _best_result(species.id, analysis.lcms)
        status = result.status if result else "not-assessed"
        species_entries.append({
            "id": species.id,
            "name": species.name,
            "role": species.role,
            "stage_role": stage.role_of(species.id),
            "formula": species.formula,
            "smiles": species.smiles,
            "monoisotopic_mass": _round(species.monoisotopic_mass, 4),
            "derived_by": species.derived_by or None,
            "detected": status == "detected",
            "status": status,
            "ambiguous_with": result.ambiguous_with if result else [],
            "lcms": _lcms_block(result) if result else None,
            "lcms_source": run.source_path if (result and result.status != "not-detected") else None,
            "nmr": None,
        })
    unexplained = [{
        "rt_min": _round(p.rt_min, 3), "mz": _round(p.mz, 4), "area": _round(p.area, 1),
        "relative_area_pct": _round(p.relative_area_pct, 2), "sn": _round(p.sn, 1),
        "note": p.note or None, "source": run.source_path,
    } for run in analysis.lcms for p in run.unexplained]
    checks = _qc_checks(species_entries, analysis)
    statuses = {c["status"] for c in checks}
    verdict = "fail" if "fail" in statuses else ("pass" if statuses == {"pass"} else "inconclusive")
    return {
        "schema": SCHEMA,
        "specqc_version": analysis.specqc_version,
        "route": {
            "id": route.id, "version": route.version, "name": route.name, "source": route.source,
            "stage": stage.id,
            "warnings": [f"{i.stage}: {i.message}" for i in route.issues],
        },
        "inputs": [{"path": i.path, "sha256": i.sha256, "technique": i.technique, "format": i.format}
                   for i in analysis.inputs],
        "lcms_runs": [{
            "path": run.source_path,
            "polarity": run.polarity,
            "resolution": run.resolution.as_dict() if run.resolution else None,
            "tolerance": str(run.tolerance) if run.tolerance else None,
            "scans": run.scans,
            "rt_range_min": [_round(x, 3) for x in run.rt_range_min] if run.rt_range_min else None,
            "notes": run.notes,
        } for run in analysis.lcms],
        "species": species_entries,
        "unexplained_peaks": unexplained,
        "nmr": None,
        "diagnoses": [],
        "qc": {"verdict": verdict, "checks": checks},
        "parameters": analysis.params,
        "reference_data": {**reference_versions(), f"route:{route.id}": route.version},
    }


def _qc_checks(species_entries: list[dict], analysis: Analysis) -> list[dict]:
    """Stage-level checks the species evidence supports on its own."""
    if not analysis.lcms or all(run.polarity is None for run in analysis.lcms):
        return [{"id": "main-component-present", "status": "not-assessed",
                 "detail": "no MS1 data to assess species"}]
    checks = []
    for entry in species_entries:
        if entry["stage_role"] != "main":
            continue
        if entry["status"] == "detected":
            status, detail = "pass", f"{entry['name']} detected at {entry['lcms']['rt_min']} min"
        elif entry["status"] == "ambiguous":
            status, detail = "not-assessed", (f"{entry['name']}: signal shared with "
                                              f"{', '.join(entry['ambiguous_with'])}")
        else:
            status, detail = "fail", f"no ion of {entry['name']} found"
        checks.append({"id": "main-component-present", "status": status, "detail": detail})
    found = [e for e in species_entries if e["stage_role"] == "impurity" and e["status"] == "detected"
             and (e["lcms"]["relative_area_pct"] or 0) >= IMPURITY_REPORT_THRESHOLD_PCT]
    checks.append({
        "id": "route-impurities-absent",
        "status": "fail" if found else "pass",
        "detail": ("; ".join(f"{e['name']} {e['lcms']['relative_area_pct']:.2f} % (MS area, semi-quantitative)"
                             for e in found) or "no route impurity above "
                   f"{IMPURITY_REPORT_THRESHOLD_PCT} % MS area"),
    })
    return checks


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
