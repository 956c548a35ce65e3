"""The JSON report (schema specqc.report/1), built deterministically.

Same inputs and parameters give byte-identical JSON: no wall-clock time, keys
sorted, floats rounded to what the measurement supports.
"""

from __future__ import annotations

import json

from ..lcms.analysis import SpeciesResult
from ..nmr.analysis import NMRResult, NMRSpeciesResult
from ..results import Analysis

SCHEMA = "specqc.report/1"


def _round(value, digits=4):
    return None if value is None else round(float(value), digits)


def _ion_entries(result: SpeciesResult, high_resolution: bool) -> list[dict]:
    return [
        {
            "ion": f.target.ion,
            "kind": f.target.kind,
            "mz": _round(f.target.mz, 4),
            "observed_mz": _round(f.observed_mz, 4),
            # ppm only means something at high resolution; at unit resolution the error is in Da
            "ppm_error": _round(f.ppm_error, 2) if high_resolution else None,
            "mass_error": _round(f.mass_error, 4 if not high_resolution else 2),
            "mass_error_unit": "ppm" if high_resolution else "Da",
            "area": _round(f.total_area, 1),
            "rt_min": _round(f.peak.apex_rt, 3),
            "sn": _round(f.peak.sn, 1),
            "fwhm_s": _round(None if f.peak.fwhm_min is None else 60.0 * f.peak.fwhm_min, 2),
            "notes": f.notes,
        }
        for f in result.features
    ]


def _lcms_block(result: SpeciesResult, run) -> dict | None:
    if result.status == "not-detected" and not result.features:
        return None
    high = bool(run is not None and run.resolution is not None and run.resolution.high)
    return {
        "rt_min": _round(result.rt_min, 3),
        "area": _round(result.area, 1),
        "relative_area_pct": _round(result.relative_area_pct, 2),
        "sn": _round(result.sn, 1),
        "isotope_score": _round(result.isotope_score, 3),
        "status": result.status,
        "evidence": result.evidence.parts() if result.evidence is not None else None,
        "ions": _ion_entries(result, high),
        "notes": result.notes,
    }


def _confidence(result: SpeciesResult | None) -> dict | None:
    if result is None or result.confidence is None:
        return None
    return {
        "value": result.confidence["value"],
        "parts": result.confidence["parts"],
        "features": result.confidence["features"],
        "model": result.confidence["model"],
    }


def _species_nmr_block(result: NMRSpeciesResult | None, spectrum: NMRResult | None) -> dict | None:
    if result is None or spectrum is None:  # a result always comes with its spectrum
        return None
    return {
        "detected": result.detected,
        "mol_ratio": _round(result.mol_ratio, 5),
        "mol_pct": _round(None if result.mol_ratio is None else 100 * result.mol_ratio, 2),
        "mol_pct_error": _round(None if result.mol_ratio_error is None else 100 * result.mol_ratio_error, 2),
        "significance": result.significance,
        "method": "joint line-shape fit (NNLS)" if result.detected else None,
        "finding": result.reason,
        "snr": result.snr,
        "reference": {"solvent": spectrum.solvent, "form": result.form, "source": result.source},
        "signals": result.signals,
        "source": spectrum.source_path,
    }


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
            "fit_grid_hz": spectrum.fit_grid_hz,  # a few points per line width; the spectrum itself is finer
        },
        "residual_solvents": [
            {
                "name": s.name,
                "mol_ratio": _round(s.mol_ratio, 5),
                "ppm_w_w": s.ppm_w_w,
                "ich_class": s.ich_class or None,
                "limit_ppm": s.limit_ppm,
                "exceeds": s.exceeds,
                "mol_ratio_error": s.mol_ratio_error,
                "lod_ppm_w_w": s.lod_ppm_w_w,
                "snr": s.snr,
                "method": "line-shape fit (NNLS)",
                "finding": s.reason,
                "signals": s.signals,
            }
            for s in spectrum.solvents
            if s.detected
        ],
        "solvents_not_found": [s.name for s in spectrum.solvents if not s.detected],
        # every ICH Q3C solvent: found, shown below its limit, or why the spectrum cannot tell
        "solvent_screen": {
            "basis": "ppm w/w of the isolated product (molar ratio x molar masses; the weighed sample mass is "
            "not recorded) and mol % of the product; limit of detection: the amount whose tallest "
            "line reaches S/N 10 with this spectrum's noise and line width",
            "solvents": [
                {
                    "name": s.name,
                    "status": s.status,
                    "ich_class": s.ich_class or None,
                    "limit_ppm": s.limit_ppm,
                    "ppm_w_w": s.ppm_w_w,
                    "mol_pct": _round(None if s.mol_ratio is None else 100 * s.mol_ratio, 4),
                    "lod_ppm_w_w": s.lod_ppm_w_w,
                    "lod_mol_pct": _round(None if s.lod_mol_ratio is None else 100 * s.lod_mol_ratio, 4),
                    "exceeds": s.exceeds,
                    "reason": s.reason,
                }
                for s in spectrum.solvents
            ],
        },
        "water": spectrum.water,
        "unexplained_signals": {
            "rule": "signals the joint fit leaves unassigned, integral >= 5 % of one product proton and S/N >= 10; "
            "integral_h in protons of the product",
            "signals": [
                {
                    "shift_ppm": u.shift_ppm,
                    "multiplicity": u.multiplicity,
                    "j_hz": u.j_hz,
                    "width_hz": u.width_hz,
                    "integral_h": u.integral_h,
                    "snr": u.snr,
                    "looks_like": u.group,
                    "mol_pct_as_group": _round(None if u.mol_ratio_as_group is None else 100 * u.mol_ratio_as_group, 3),
                    "route_species_with_group": u.candidates,
                }
                for u in spectrum.unexplained
            ],
        },
        "purity_upper_bound_pct": spectrum.purity_upper_bound_pct,
        "unassigned_signal_pct": _round(
            None if spectrum.unassigned_share is None else 100 * spectrum.unassigned_share, 2
        ),
        "signals": [
            {
                "shift_ppm": m.shift_ppm,
                "multiplicity": m.multiplicity,
                "j_hz": m.j_hz,
                "integral_h": m.integral_h,
                "snr": m.snr,
                "range_ppm": list(m.range_ppm),
                "assignment": m.assignment,
            }
            for m in spectrum.multiplets
        ],
        "notes": spectrum.notes,
    }


def build_report(analysis: Analysis) -> dict:
    """The JSON document of an assessed analysis (the pipeline has assessed it)."""
    route, stage, assessment = analysis.route, analysis.stage, analysis.assessment
    if assessment is None or assessment.evidence is None:
        raise ValueError("build_report needs an analysis the pipeline has assessed")
    species_entries = []
    for item in assessment.evidence.species.values():
        species, result, run = item.species, item.ms_result, item.ms_run
        species_entries.append(
            {
                "id": species.id,
                "name": species.name,
                "role": species.role,
                "stage_role": item.stage_role,
                "formula": species.formula,
                "smiles": species.smiles,
                "monoisotopic_mass": _round(species.monoisotopic_mass, 4),
                "derived_by": species.derived_by or None,
                "detected": item.status == "detected",
                "status": item.status,
                "ambiguous_with": result.ambiguous_with if result else [],
                "confidence": _confidence(result) if item.status != "not-detected" else None,
                "lcms": _lcms_block(result, run) if result else None,
                "lcms_source": run.source_path
                if (result and run is not None and result.status != "not-detected")
                else None,
                "reasons": list(result.notes) if (result and item.status not in ("detected", "not-detected")) else [],
                "nmr": _species_nmr_block(item.nmr_result, item.nmr_spectrum),
                "evidence": list(item.techniques),
            }
        )
    unexplained = [
        {
            "rt_min": _round(p.rt_min, 3),
            "mz": _round(p.mz, 4),
            "area": _round(p.area, 1),
            "relative_area_pct": _round(p.relative_area_pct, 2),
            "sn": _round(p.sn, 1),
            "note": p.note or None,
            "source": run.source_path,
        }
        for run in analysis.lcms
        for p in run.unexplained
    ]
    lowest = assessment.judged_purity()
    sample = (
        analysis.sample.as_dict()
        if analysis.sample
        else {"route": route.id, "stage": stage.id, "batch": None, "sample": None, "sources": {}}
    )
    return {
        "schema": SCHEMA,
        "specqc_version": analysis.specqc_version,
        "route": {
            "id": route.id,
            "version": route.version,
            "name": route.name,
            "source": route.source,
            "stage": stage.id,
            "stage_kinds": assessment.stage_kinds,
            "warnings": [f"{i.stage}: {i.message}" for i in route.issues],
        },
        "inputs": [
            {"path": i.path, "sha256": i.sha256, "technique": i.technique, "format": i.format}
            | ({"role": i.role} if i.role != "sample" else {})
            | ({"acquisition": i.acquisition} if i.acquisition is not None else {})
            for i in analysis.inputs
        ],
        "lcms_runs": [
            {
                "path": run.source_path,
                "polarity": run.polarity,
                "resolution": run.resolution.as_dict() if run.resolution else None,
                "tolerance": str(run.tolerance) if run.tolerance else None,
                "scans": run.scans,
                "rt_range_min": [_round(x, 3) for x in run.rt_range_min] if run.rt_range_min else None,
                "notes": run.notes,
                "profile": run.profile.as_dict() if run.profile else None,
                "background_ions": [b.as_dict() for b in run.profile.background] if run.profile else [],
                "blank": run.blank_source,
                "uv": uv.as_dict() if (uv := analysis.uv_of(run.source_path)) else None,
            }
            for run in analysis.lcms
        ],
        "species": species_entries,
        "unexplained_peaks": unexplained,
        "nmr": nmr_block(analysis.nmr[0]) if analysis.nmr else None,
        "nmr_additional": [nmr_block(spectrum) for spectrum in analysis.nmr[1:]],
        "sample": sample,
        "diagnoses": [d.as_dict() for d in assessment.diagnoses],
        "disagreements": assessment.disagreements,
        "qc": {
            "verdict": assessment.verdict,
            "checks": [c.as_dict() for c in assessment.checks],
            # the most conservative figure the data supports, and every figure with its method
            "purity": {
                "value_pct": _round(lowest.value_pct, 2) if lowest else None,
                "method": lowest.method if lowest else None,
                "figures": [
                    {
                        "value_pct": _round(f.value_pct, 2),
                        "method": f.method,
                        "judged": f.judged,
                        "note": f.note or None,
                    }
                    for f in assessment.purity
                ],
            },
        },
        "parameters": analysis.params,
        "reference_data": analysis.reference_data,
    }


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
