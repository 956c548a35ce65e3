"""The JSON report (schema specqc.report/1), built deterministically.

Same inputs and parameters give byte-identical JSON: no wall-clock time, keys
sorted, floats rounded to what the measurement supports.
"""

from __future__ import annotations

import json

from ..lcms.analysis import LCMSResult, SpeciesResult
from ..nmr.analysis import NMRResult, NMRSpeciesResult
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


def _nmr_species(species_id: str, spectra: list[NMRResult]) -> tuple[NMRSpeciesResult | None, NMRResult | None]:
    found = [(r, spectrum) for spectrum in spectra for r in spectrum.species if r.species_id == species_id]
    found.sort(key=lambda pair: not pair[0].detected)
    return found[0] if found else (None, None)


def _species_nmr_block(result: NMRSpeciesResult | None, spectrum: NMRResult | None) -> dict | None:
    if result is None:
        return None
    return {
        "detected": result.detected,
        "mol_ratio": _round(result.mol_ratio, 5),
        "mol_pct": _round(None if result.mol_ratio is None else 100 * result.mol_ratio, 2),
        "method": "line-shape fit (NNLS)" if result.detected else None,
        "finding": result.reason,
        "snr": result.snr,
        "reference": {"solvent": spectrum.solvent, "form": result.form, "source": result.source},
        "signals": result.signals,
        "source": spectrum.source_path,
    }


def _combined_status(lcms: SpeciesResult | None, nmr: NMRSpeciesResult | None) -> tuple[str, list[str]]:
    """One status from every technique that looked; the evidence says which saw it."""
    evidence = []
    if lcms is not None and lcms.status == "detected":
        evidence.append("lcms")
    if nmr is not None and nmr.detected:
        evidence.append("nmr")
    if evidence:
        return "detected", evidence
    if lcms is not None:
        return lcms.status, []
    return ("not-detected" if nmr is not None else "not-assessed"), []


def nmr_block(spectrum: NMRResult) -> dict:
    processed = spectrum.processed
    return {
        "source": spectrum.source_path,
        "solvent": spectrum.solvent,
        "spectrometer_mhz": spectrum.metadata["spectrometer_mhz"],
        "metadata": spectrum.metadata,
        "reference": processed.reference,
        "processing": processed.steps,
        "noise_sigma": _round(processed.noise, 2),
        "line_width_hz": spectrum.fwhm_hz,
        "main_component": spectrum.main_species,
        "quantification": {
            "method": "non-negative least-squares fit of reference multiplets (13C satellites included)",
            "amount_basis": f"molar ratio to {spectrum.main_species}",
            "ppm_w_w_basis": spectrum.salt_basis,
        },
        "residual_solvents": [{
            "name": s.name, "mol_ratio": _round(s.mol_ratio, 5), "ppm_w_w": s.ppm_w_w,
            "ich_class": s.ich_class or None, "limit_ppm": s.limit_ppm, "exceeds": s.exceeds,
            "method": "line-shape fit (NNLS)", "finding": s.reason, "signals": s.signals,
        } for s in spectrum.solvents if s.detected],
        "solvents_not_found": [s.name for s in spectrum.solvents if not s.detected],
        "water": spectrum.water,
        "signals": [{
            "shift_ppm": m.shift_ppm, "multiplicity": m.multiplicity, "j_hz": m.j_hz,
            "integral_h": m.integral_h, "snr": m.snr, "range_ppm": list(m.range_ppm),
            "assignment": m.assignment,
        } for m in spectrum.multiplets],
        "notes": spectrum.notes,
    }


def build_report(analysis: Analysis) -> dict:
    route, stage = analysis.route, analysis.stage
    species_entries = []
    for species in route.species:
        result, run = _best_result(species.id, analysis.lcms)
        nmr_result, spectrum = _nmr_species(species.id, analysis.nmr)
        status, evidence = _combined_status(result, nmr_result)
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
            "nmr": _species_nmr_block(nmr_result, spectrum),
            "evidence": evidence,
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
        "nmr": nmr_block(analysis.nmr[0]) if analysis.nmr else None,
        "nmr_additional": [nmr_block(spectrum) for spectrum in analysis.nmr[1:]],
        "diagnoses": [],
        "qc": {"verdict": verdict, "checks": checks},
        "parameters": analysis.params,
        "reference_data": _reference_data(analysis),
    }


def _reference_data(analysis: Analysis) -> dict:
    route = analysis.route
    versions = {**reference_versions(include_nmr=bool(analysis.nmr)), f"route:{route.id}": route.version}
    if analysis.nmr:
        from ..nmr.references import reference_set

        versions[f"reference_spectra:{route.id}"] = reference_set(
            route.id, frozenset(s.id for s in route.species)).version
    return versions


def _qc_checks(species_entries: list[dict], analysis: Analysis) -> list[dict]:
    """Stage-level checks the species evidence supports on its own."""
    has_ms = any(run.polarity is not None for run in analysis.lcms)
    if not has_ms and not analysis.nmr:
        return [{"id": "main-component-present", "status": "not-assessed",
                 "detail": "no MS1 or NMR data to assess species"}]
    checks = []
    for entry in species_entries:
        if entry["stage_role"] != "main":
            continue
        if entry["status"] == "detected":
            seen = []
            if "lcms" in entry["evidence"]:
                seen.append(f"MS at {entry['lcms']['rt_min']} min")
            if "nmr" in entry["evidence"]:
                seen.append("1H NMR signals")
            status, detail = "pass", f"{entry['name']} found ({', '.join(seen)})"
        elif entry["status"] == "ambiguous":
            status, detail = "not-assessed", (f"{entry['name']}: signal shared with "
                                              f"{', '.join(entry['ambiguous_with'])}")
        elif entry["status"] == "not-assessed":
            status, detail = "not-assessed", f"no data that can show {entry['name']}"
        else:
            status, detail = "fail", f"{entry['name']} not found"
        checks.append({"id": "main-component-present", "status": status, "detail": detail})
    found = []
    for entry in species_entries:
        if entry["stage_role"] != "impurity" or entry["status"] != "detected":
            continue
        if "lcms" in entry["evidence"] and (entry["lcms"]["relative_area_pct"] or 0) >= IMPURITY_REPORT_THRESHOLD_PCT:
            found.append(f"{entry['name']} {entry['lcms']['relative_area_pct']:.2f} % (MS area, semi-quantitative)")
        if "nmr" in entry["evidence"]:
            found.append(f"{entry['name']} {entry['nmr']['mol_pct']} mol % (1H NMR)")
    clear = []
    if has_ms:
        clear.append(f"no route impurity above {IMPURITY_REPORT_THRESHOLD_PCT} % MS area")
    if analysis.nmr:
        clear.append("no route impurity seen by 1H NMR")
    checks.append({"id": "route-impurities-absent", "status": "fail" if found else "pass",
                   "detail": "; ".join(found or clear)})
    if analysis.nmr:
        spectrum = analysis.nmr[0]
        over = [s for s in spectrum.solvents if s.detected and s.exceeds]
        if spectrum.main_amount is None:
            checks.append({"id": "residual-solvents-within-ich-q3c", "status": "not-assessed",
                           "detail": "main component not quantified by NMR"})
        else:
            checks.append({
                "id": "residual-solvents-within-ich-q3c",
                "status": "fail" if over else "pass",
                "detail": "; ".join(f"{s.name} {s.ppm_w_w:.0f} ppm > {s.limit_ppm:.0f} ppm (ICH Q3C class "
                                    f"{s.ich_class})" for s in over) or "no process solvent above its ICH Q3C limit",
            })
    return checks


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
