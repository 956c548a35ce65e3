"""Per-stage QC checks, the verdict, and the diagnoses the evidence supports.

Each check and each diagnosis rule is a small function of the sample's
combined evidence and the thresholds in force. Which checks apply follows
from the route: the reaction types run at the stage (n-alkylation, boc-removal,
ring-closure...) and whether it is the route's last stage. The same molecule
is the product of one stage and an impurity of the next, so every rule looks
at a species' role *at this stage*, never at its name.

A check that the data given cannot assess is "not-assessed", never "pass";
a diagnosis is raised only with evidence lines to show for it.
"""

from __future__ import annotations

from dataclasses import replace

from ..results import Assessment, CheckResult, Diagnosis, PurityFigure
from .evidence import SampleEvidence, SpeciesEvidence
from .knowledge import CheckEntry, catalogue, qc_table

PASS, FAIL, NOT_ASSESSED = "pass", "fail", "not-assessed"
ALKYLATION_TYPES = ("n-alkylation", "n-acylation")
# NMR solvents in which N-H protons exchange with deuterium and vanish.
EXCHANGING_SOLVENTS = ("D2O", "CD3OD")


# ---------------------------------------------------------------- what the route says


def stage_kinds(sample: SampleEvidence) -> list[str]:
    route, stage = sample.route, sample.stage
    kinds = {"any"} | {r.type for r in route.reactions if r.stage == stage.id}
    if route.stages[-1].id == stage.id:
        kinds.add("final")
    return sorted(kinds)


def _substrates(sample: SampleEvidence, types: tuple[str, ...], this_stage_only: bool) -> set[str]:
    return {
        r.substrate
        for r in sample.route.reactions
        if r.type in types and r.substrate and (r.stage == sample.stage.id or not this_stage_only)
    }


def _impurities(sample: SampleEvidence, ids) -> list[SpeciesEvidence]:
    return [
        sample.species[i] for i in sorted(ids) if i in sample.species and sample.species[i].stage_role == "impurity"
    ]


def _role_impurities(sample: SampleEvidence, *roles: str) -> list[SpeciesEvidence]:
    return [e for e in sample.of_role(*roles) if e.stage_role == "impurity"]


def _unconsumed_amines(sample: SampleEvidence) -> list[SpeciesEvidence]:
    return _impurities(sample, _substrates(sample, ALKYLATION_TYPES, this_stage_only=False))


def _unclosed_precursors(sample: SampleEvidence) -> list[SpeciesEvidence]:
    """The ring closure's substrate, and starting materials that feed it directly
    (the diamine of a one-pot [4+3] ring formation)."""
    alkylated = _substrates(sample, ALKYLATION_TYPES, this_stage_only=False)
    ids = _substrates(sample, ("ring-closure",), this_stage_only=False)
    ids |= {e.species.id for e in sample.of_role("starting-material") if e.species.id not in alkylated}
    return _impurities(sample, ids)


def _protected(sample: SampleEvidence) -> list[SpeciesEvidence]:
    ids = _substrates(sample, ("boc-removal",), this_stage_only=False)
    ids |= {e.species.id for e in sample.of_role("protected-intermediate")}
    return _impurities(sample, ids)


def _over_reacted(sample: SampleEvidence, derived_by: str) -> list[SpeciesEvidence]:
    found = _role_impurities(sample, "dialkylated")
    if derived_by == "over-acylation":
        return [e for e in found if e.species.derived_by == "over-acylation"]
    return [e for e in found if e.species.derived_by != "over-acylation"]


# ---------------------------------------------------------------- amounts


def _nmr_limit(thresholds: dict) -> float:
    return thresholds["nmr_impurity_max_mol_pct"]


def _over_limit(item: SpeciesEvidence, ms_limit: float, nmr_limit: float) -> bool:
    ms = item.ms is not None and item.ms.status == "detected" and (item.ms.area_pct or 0.0) >= ms_limit
    nmr = item.nmr is not None and item.nmr.detected and (item.nmr.mol_pct or 0.0) >= nmr_limit
    return ms or nmr


def _amount_text(item: SpeciesEvidence) -> str:
    parts = []
    if item.ms is not None and item.ms.status == "detected" and item.ms.area_pct is not None:
        parts.append(f"{item.ms.area_pct:.2f} % MS area at {item.ms.rt_min:.2f} min")
    if item.nmr is not None and item.nmr.detected and item.nmr.mol_pct is not None:
        parts.append(f"{item.nmr.mol_pct:.1f} mol % by 1H NMR")
    return f"{item.species.name} ({', '.join(parts) or 'detected'})"


def _tentative_over(item: SpeciesEvidence, ms_limit: float) -> bool:
    """MS sees something that may be this species, above the limit, short of proof (and NMR does not settle it)."""
    return (
        item.ms is not None
        and item.ms.status == "tentative"
        and "nmr" not in item.techniques
        and (item.ms.area_pct or 0.0) >= ms_limit
    )


def _tentative_text(item: SpeciesEvidence) -> str:
    ms = item.ms_seen()
    why = (
        f"its ions are shared with {', '.join(ms.ambiguous_with)} and cannot be told apart"
        if ms.ambiguous_with
        else "; ".join(ms.reasons) or "evidence short of detection"
    )
    return f"{item.species.name} tentative ({ms.area_pct or 0:.2f} % area at {ms.rt_min:.2f} min): {why}"


def _assessable(item: SpeciesEvidence) -> bool:
    return item.ms_looked or item.nmr_looked


# A run needs this many MS1 scans before a missing peak means a missing compound: a chromatographic
# peak spans several scans, and a handful of scans cannot tell one from noise.
MIN_SCANS_FOR_ABSENCE = 10
# An impurity at the limit would stand at (strongest signal's S/N) x limit / (its area %); below this
# it would sit in the noise, so not seeing it says nothing. Each ion's own trace is quieter than the
# total, hence a margin rather than the detection S/N itself.
MIN_SN_AT_LIMIT = 1.0


def _short_of_scans(run, sample: SampleEvidence, items: list[SpeciesEvidence]) -> str | None:
    """Why ``run`` has too few MS1 scans to show the species' peaks: over the whole
    run, and over each species' elution window where the config gives one."""
    if run.scans < MIN_SCANS_FOR_ABSENCE:
        return (
            f"{run.scans} MS1 scan(s) in {run.source_path} (at least {MIN_SCANS_FOR_ABSENCE} needed to tell "
            "a chromatographic peak from noise)"
        )
    for item in items:
        window = sample.retention.get(item.species.id)
        if window is None or run.traces is None:
            continue
        inside = int(((run.traces.rt_min >= window[0]) & (run.traces.rt_min <= window[1])).sum())
        if inside < MIN_SCANS_FOR_ABSENCE:
            return (
                f"{inside} MS1 scan(s) of {run.source_path} fall in the elution window of {item.species.name} "
                f"({window[0]:g}-{window[1]:g} min; at least {MIN_SCANS_FOR_ABSENCE} needed)"
            )
    return None


def scans_unmeasurable(sample: SampleEvidence, items: list[SpeciesEvidence]) -> str | None:
    """Why no LC-MS run of the sample has the scans to show these species, or None when one has."""
    runs = [run for run in sample.lcms if run.polarity is not None]
    if not runs:
        return "no LC-MS run with MS1 spectra"
    reasons = [_short_of_scans(run, sample, items) for run in runs]
    return None if None in reasons else "; ".join(r for r in reasons if r)


def absence_unmeasurable(
    sample: SampleEvidence, limit_pct: float, items: list[SpeciesEvidence] | None = None
) -> str | None:
    """Why no LC-MS run of the sample could have shown an impurity (one of ``items``)
    at ``limit_pct`` of the signal, or None when one could."""
    runs = [run for run in sample.lcms if run.polarity is not None]
    if not runs:
        return "no LC-MS run with MS1 spectra"
    reasons = []
    for run in runs:
        short = _short_of_scans(run, sample, items or [])
        if short:
            reasons.append(short)
            continue
        found = [
            (r.sn, r.relative_area_pct) for r in run.species if r.status == "detected" and r.sn and r.relative_area_pct
        ]
        if not found:
            reasons.append(
                f"no route species stands out of the noise in {run.source_path}, so a share of "
                "its signal cannot be measured (a blank or an empty injection?)"
            )
            continue
        strongest_sn, strongest_pct = max(found, key=lambda pair: pair[0])
        at_limit = strongest_sn * limit_pct / strongest_pct
        if at_limit < MIN_SN_AT_LIMIT:
            reasons.append(
                f"an impurity at {limit_pct:g} % would stand at S/N {at_limit:.1f} in {run.source_path}"
                f" (strongest signal S/N {strongest_sn:.0f}), inside the noise"
            )
            continue
        return None
    return "; ".join(reasons)


def _absence_check(
    entry: CheckEntry, items: list[SpeciesEvidence], thresholds: dict, what: str, sample: SampleEvidence | None = None
) -> CheckResult:
    """The shared shape of "X absent" checks: fail above the limit, not-assessed
    when nothing could have seen X, its ions are shared with another species,
    or the data were too few or too noisy for its absence to be measurable."""
    ms_limit, nmr_limit = thresholds[entry.threshold], _nmr_limit(thresholds)
    limit_text = f"{ms_limit:g} % MS area / {nmr_limit:g} mol % NMR"
    if not items:
        return CheckResult(
            entry.id, entry.title, NOT_ASSESSED, f"the route names no {what} for this stage", entry.guide_ref
        )
    over = [i for i in items if _over_limit(i, ms_limit, nmr_limit)]
    if over:
        return CheckResult(
            entry.id,
            entry.title,
            FAIL,
            "; ".join(_amount_text(i) for i in over) + f" (limit {limit_text})",
            entry.guide_ref,
        )
    unseen = [i.species.name for i in items if not _assessable(i)]
    if unseen:
        return CheckResult(
            entry.id,
            entry.title,
            NOT_ASSESSED,
            f"no data here can show {', '.join(unseen)} (no MS run; no NMR reference data)",
            entry.guide_ref,
        )
    # a tentative signal can leave the stage inconclusive, never fail it
    doubtful = [i for i in items if _tentative_over(i, ms_limit)]
    if doubtful:
        return CheckResult(
            entry.id,
            entry.title,
            NOT_ASSESSED,
            "; ".join(_tentative_text(i) for i in doubtful) + f" (limit {limit_text})",
            entry.guide_ref,
        )
    # absence by MS alone needs a run that could have shown the species at its limit
    ms_only = [i for i in items if not i.detected and not i.nmr_looked]
    if sample is not None and ms_only:
        why = absence_unmeasurable(sample, ms_limit, ms_only)
        if why:
            return CheckResult(entry.id, entry.title, NOT_ASSESSED, f"too little data: {why}", entry.guide_ref)
    traces = [_amount_text(i) for i in items if i.detected]
    detail = f"no {what} above {limit_text}"
    if traces:
        detail += "; below the limit: " + "; ".join(traces)
    return CheckResult(entry.id, entry.title, PASS, detail, entry.guide_ref)


# ---------------------------------------------------------------- special checks


def _product_present(entry: CheckEntry, sample: SampleEvidence, thresholds: dict) -> CheckResult:
    details, statuses = [], []
    for species_id in sample.stage.main:
        item = sample.species[species_id]
        if item.detected:
            seen = []
            if item.ms is not None and item.ms.status == "detected":
                seen.append(f"MS {item.ms.ions[0] if item.ms.ions else ''} at {item.ms.rt_min:.2f} min")
            if item.nmr is not None and item.nmr.detected:
                seen.append("1H NMR " + "; ".join(item.nmr.signals[:2]))
            statuses.append(PASS)
            details.append(f"{item.species.name} found ({', '.join(seen)})")
        elif item.status == "tentative":
            statuses.append(NOT_ASSESSED)
            details.append(_tentative_text(item))
        elif item.status == "in-blank":
            statuses.append(FAIL)
            details.append(f"{item.species.name} only at the level of the blank ({'; '.join(item.ms_seen().reasons)})")
        elif not _assessable(item):
            statuses.append(NOT_ASSESSED)
            details.append(f"no data that can show {item.species.name}")
        elif not item.nmr_looked and (short := scans_unmeasurable(sample, [item])):
            statuses.append(NOT_ASSESSED)  # a missing peak in too few scans says nothing
            details.append(f"{item.species.name} not found, but too little data: {short}")
        elif not item.ms_looked and (unshown := _nmr_absence_unshown(sample)):
            statuses.append(NOT_ASSESSED)
            details.append(f"{item.species.name} not recognised by 1H NMR, but its absence is not shown: {unshown}")
        else:
            statuses.append(FAIL)
            details.append(f"{item.species.name} not found")
    status = FAIL if FAIL in statuses else (PASS if set(statuses) == {PASS} else NOT_ASSESSED)
    return CheckResult(entry.id, entry.title, status, "; ".join(details), entry.guide_ref)


def _nmr_absence_unshown(sample: SampleEvidence) -> str | None:
    """Why no 1H spectrum of the sample shows the main component absent (each is
    mostly unassigned signal), or None when one does."""
    spectra = [sample.nmr] if sample.nmr is not None else []
    reasons = [spectrum.absence_unshown() for spectrum in spectra]
    return "; ".join(r for r in reasons if r) if reasons and all(reasons) else None


def _identity(entry: CheckEntry, sample: SampleEvidence, thresholds: dict) -> CheckResult:
    item = sample.species[sample.stage.main[0]]
    ms = item.ms if item.ms is not None and item.ms.status == "detected" else None
    ms_ok = ms is not None
    nmr_ok = item.nmr is not None and item.nmr.detected
    parts, missing = [], []
    if item.ms_looked:
        parts.append(
            f"MS: {ms.ions[0]} at {ms.rt_min:.2f} min" if ms is not None and ms.ions else "MS: no ion of the product"
        )
    else:
        missing.append("an LC-MS run")
    if item.nmr_looked:
        parts.append("1H NMR: " + ("signals match the reference" if nmr_ok else "product signals not found"))
    else:
        missing.append("a 1H NMR spectrum with reference data for the product")
    unshown = _nmr_absence_unshown(sample) if item.nmr_looked and not nmr_ok else None
    if unshown:
        parts.append(f"not recognised by 1H NMR, which cannot show it absent: {unshown}")
    if (item.ms_looked and not ms_ok) or (item.nmr_looked and not nmr_ok and not unshown):
        status = FAIL
    elif missing or unshown:
        status = NOT_ASSESSED
        if missing:
            parts.append("identity needs both techniques; missing " + " and ".join(missing))
    else:
        status = PASS
    return CheckResult(entry.id, entry.title, status, "; ".join(parts), entry.guide_ref)


def uv_purity_figures(sample: SampleEvidence) -> list[PurityFigure]:
    """Product area % at each configured wavelength where the product's UV peak
    is quantifiable, with the DAD peak-purity finding when there is one."""
    product = sample.stage.main[0]
    figures = []
    for uv in sample.uv:
        quantifiable = uv.params["purity_quantifiable_sn"]
        for trace in uv.configured_traces():
            peaks = [p for p in trace.product_peaks(product) if p.peak.sn >= quantifiable]
            if not peaks:
                continue
            impure = [p.purity for p in peaks if p.purity is not None and p.purity.verdict == "impure"]
            note = (
                f"DAD peak purity: spectra across the product peak differ (match factor down to "
                f"{impure[0].match_factor_min:.0f} < {impure[0].threshold:.0f} at {impure[0].worst_rt_min:.2f} "
                "min): a co-eluting compound is hidden under it, so this area % overstates the purity"
                if impure
                else ""
            )
            figures.append(
                PurityFigure(
                    sum(p.area_pct for p in peaks), f"UV area % at {trace.trace.label} ({uv.source_path})", True, note
                )
            )
    return figures


def purity_figures(sample: SampleEvidence) -> list[PurityFigure]:
    """Every purity figure the data supports, with the method named. UV area %
    is the figure judged when a UV trace exists; MS area % is then shown as
    semi-quantitative only."""
    figures = uv_purity_figures(sample)
    product = sample.species[sample.stage.main[0]]
    if product.ms is not None and product.ms.status == "detected" and product.ms.area_pct is not None:
        # ions respond unequally: an MS share is semi-quantitative and never the figure a purity is judged on
        figures.append(
            PurityFigure(
                product.ms.area_pct,
                f"MS area % ({product.ms.source}; semi-quantitative"
                + ("; UV area % is the figure judged)" if figures else ", not judged)"),
                False,
            )
        )
    if product.nmr is not None and product.nmr.detected:
        ratios = [
            e.nmr.mol_pct / 100.0
            for e in sample.species.values()
            if e.stage_role == "impurity" and e.nmr is not None and e.nmr.detected and e.nmr.mol_pct
        ]
        unexplained = sample.nmr.unexplained if sample.nmr is not None else []
        if unexplained:  # what the fit cannot name still counts against the product
            least = sum(u.min_mol_ratio for u in unexplained)
            figures.append(
                PurityFigure(
                    100.0 / (1.0 + sum(ratios) + least),
                    (
                        f"1H NMR mol % among route species and {len(unexplained)} unexplained signal(s), each counted as "
                        "at least integral/9 mol (an upper bound; solvents and water excluded)"
                    ),
                    True,
                )
            )
        else:
            figures.append(
                PurityFigure(
                    100.0 / (1.0 + sum(ratios)), "1H NMR mol % among route species (solvents and water excluded)", True
                )
            )
    return figures


def _purity(entry: CheckEntry, sample: SampleEvidence, thresholds: dict) -> CheckResult:
    limit = thresholds[entry.threshold]
    figures = purity_figures(sample)
    judged = [f for f in figures if f.judged]
    if not judged:
        seen = "; ".join(f"{f.value_pct:.1f} % by {f.method}" for f in figures)
        return CheckResult(
            entry.id,
            entry.title,
            NOT_ASSESSED,
            "no quantitative figure: purity needs UV area % at a configured wavelength or 1H NMR "
            "mol %" + (f" ({seen})" if seen else ""),
            entry.guide_ref,
        )
    detail = "; ".join(
        f"{f.value_pct:.1f} % by {f.method}"
        + ("" if f.judged else " [not judged]")
        + (f" [{f.note}]" if f.note else "")
        for f in figures
    )
    status = FAIL if any(f.value_pct < limit or f.note for f in judged) else PASS
    return CheckResult(entry.id, entry.title, status, f"{detail} (criterion >= {limit:g} %)", entry.guide_ref)


def _salt_formed(entry: CheckEntry, sample: SampleEvidence, thresholds: dict) -> CheckResult:
    spectrum = sample.nmr
    why_not = (
        "MS cannot tell a salt from its free base; chloride content (elemental analysis or "
        "titration) is not measured here"
    )
    if spectrum is None:
        return CheckResult(entry.id, entry.title, NOT_ASSESSED, f"no 1H NMR; {why_not}", entry.guide_ref)
    if spectrum.solvent in EXCHANGING_SOLVENTS or spectrum.solvent is None:
        return CheckResult(
            entry.id,
            entry.title,
            NOT_ASSESSED,
            f"N-H protons exchange with {spectrum.solvent or 'the solvent'} and cannot show the ammonium; {why_not}",
            entry.guide_ref,
        )
    main = sample.stage.main[0]
    ammonium = [x for x in spectrum.exchangeable if x["species"] == main and "+" in x["group"]]
    if ammonium:
        seen = ", ".join(f"{x['group']} at {x['observed_ppm']:.2f} ppm" for x in ammonium)
        return CheckResult(
            entry.id,
            entry.title,
            PASS,
            f"ammonium N-H of the product seen ({seen}): the amine is protonated",
            entry.guide_ref,
        )
    water = (spectrum.water or {}).get("mol_ratio")
    if water is not None and water > thresholds["water_max_mol_ratio"]:
        return CheckResult(
            entry.id,
            entry.title,
            NOT_ASSESSED,
            f"no ammonium N-H signal, but {water:.2f} mol water per mol can broaden it away",
            entry.guide_ref,
        )
    product = sample.species[main].nmr
    if not product or not product.detected:
        return CheckResult(entry.id, entry.title, NOT_ASSESSED, "product not found by 1H NMR", entry.guide_ref)
    return CheckResult(
        entry.id,
        entry.title,
        FAIL,
        "no ammonium N-H signal of the product: it looks like the free base",
        entry.guide_ref,
    )


def _residual_solvents(entry: CheckEntry, sample: SampleEvidence, thresholds: dict) -> CheckResult:
    spectrum = sample.nmr
    if spectrum is None:
        return CheckResult(entry.id, entry.title, NOT_ASSESSED, "no 1H NMR spectrum", entry.guide_ref)
    if spectrum.main_amount is None:
        return CheckResult(
            entry.id, entry.title, NOT_ASSESSED, "main component not quantified by 1H NMR", entry.guide_ref
        )
    over = [s for s in spectrum.solvents if s.detected and s.exceeds]
    if over:
        return CheckResult(
            entry.id,
            entry.title,
            FAIL,
            "; ".join(
                f"{s.name} {s.ppm_w_w:.0f} ppm > {s.limit_ppm:.0f} ppm (ICH Q3C class {s.ich_class})" for s in over
            ),
            entry.guide_ref,
        )
    found = [f"{s.name} {s.ppm_w_w:.0f} ppm" for s in spectrum.solvents if s.detected and s.ppm_w_w is not None]
    unassessed = [s for s in spectrum.solvents if s.status == "not-assessed"]
    if unassessed:  # a solvent the spectrum cannot show to be within its limit is never a pass
        return CheckResult(
            entry.id,
            entry.title,
            NOT_ASSESSED,
            "not shown within the ICH Q3C limit: "
            + "; ".join(f"{s.name} ({s.reason})" for s in unassessed)
            + (f" (found within limits: {', '.join(found)})" if found else ""),
            entry.guide_ref,
        )
    return CheckResult(
        entry.id,
        entry.title,
        PASS,
        "no ICH Q3C solvent above its limit (each found below it, "
        "or its limit of detection here is below the limit)" + (f" (found: {', '.join(found)})" if found else ""),
        entry.guide_ref,
    )


def _water(entry: CheckEntry, sample: SampleEvidence, thresholds: dict) -> CheckResult:
    spectrum = sample.nmr
    limit = thresholds[entry.threshold]
    if spectrum is None:
        return CheckResult(
            entry.id, entry.title, NOT_ASSESSED, "no 1H NMR spectrum (or Karl Fischer figure)", entry.guide_ref
        )
    ratio = (spectrum.water or {}).get("mol_ratio")
    if ratio is None:
        return CheckResult(
            entry.id,
            entry.title,
            NOT_ASSESSED,
            (spectrum.water or {}).get("reason", "water not measurable"),
            entry.guide_ref,
        )
    status = FAIL if ratio > limit else PASS
    return CheckResult(
        entry.id,
        entry.title,
        status,
        f"{ratio:.2f} mol water per mol of product by 1H NMR (limit {limit:g}; includes the "
        "deuterated solvent's own water)",
        entry.guide_ref,
    )


SPECIAL_CHECKS = {
    "product-present": _product_present,
    "identity": _identity,
    "purity": _purity,
    "salt-formed": _salt_formed,
    "residual-solvents-within-ich-q3c": _residual_solvents,
    "water-content": _water,
}
ABSENCE_CHECKS = {
    "starting-material-consumed": (lambda s: _impurities(s, _substrates(s, ALKYLATION_TYPES, True)), "starting amine"),
    "no-dialkylated-product": (lambda s: _over_reacted(s, "over-alkylation"), "dialkylated product"),
    "no-diacylated-product": (lambda s: _over_reacted(s, "over-acylation"), "bis-acylated product"),
    "no-protected-precursor": (_protected, "protected precursor"),
    "ring-size-correct": (lambda s: _role_impurities(s, "piperazine"), "six-membered ring analogue"),
    "linear-precursor-absent": (_unclosed_precursors, "linear precursor or starting material"),
    "oligomers-absent": (lambda s: _role_impurities(s, "oligomer"), "oligomer"),
}


def check_limit(entry: CheckEntry, thresholds: dict) -> str | None:
    """The check's acceptance criterion as the thresholds in force state it (for reports and LIMS exports)."""
    if entry.id == "residual-solvents-within-ich-q3c":
        return "each solvent below its ICH Q3C limit (ppm w/w)"
    if entry.threshold is None:
        return None
    value = thresholds[entry.threshold]
    if entry.id == "purity":
        return f">= {value:g} %"
    if entry.id == "water-content":
        return f"<= {value:g} mol water per mol"
    return f"< {value:g} % MS area; < {_nmr_limit(thresholds):g} mol % 1H NMR"


def run_checks(sample: SampleEvidence, thresholds: dict) -> list[CheckResult]:
    return [
        replace(result, limit=check_limit(entry, thresholds)) for entry, result in _checks_of_stage(sample, thresholds)
    ]


def _checks_of_stage(sample: SampleEvidence, thresholds: dict) -> list[tuple[CheckEntry, CheckResult]]:
    kinds = set(stage_kinds(sample))
    checks = []
    for entry in qc_table().checks:
        if not kinds & set(entry.stages):
            continue
        if entry.id in SPECIAL_CHECKS:
            checks.append((entry, SPECIAL_CHECKS[entry.id](entry, sample, thresholds)))
        elif entry.id in ABSENCE_CHECKS:
            select, what = ABSENCE_CHECKS[entry.id]
            result = _absence_check(entry, select(sample), thresholds, what, sample)
            group = (
                _unexplained_group_evidence(sample, _nmr_limit(thresholds))
                if entry.id == "no-protected-precursor" and result.status != FAIL
                else None
            )
            if group:  # its tert-butyl singlet is there even where the fit could not place the species
                result = CheckResult(entry.id, entry.title, FAIL, "; ".join(group[0]), entry.guide_ref)
            checks.append((entry, result))
        else:  # the table names a check no code implements: the package is broken
            from ..errors import ReferenceDataError

            raise ReferenceDataError(f"data/qc.toml: check {entry.id!r} has no implementation")
    return checks


# ---------------------------------------------------------------- diagnoses

SPECIES_RULES = (
    # diagnosis id, how to find its species, threshold key
    ("over-alkylation", lambda s: _over_reacted(s, "over-alkylation"), "dialkylated_max_area_pct"),
    ("over-acylation", lambda s: _over_reacted(s, "over-acylation"), "dialkylated_max_area_pct"),
    ("incomplete-alkylation", _unconsumed_amines, "starting_material_max_area_pct"),
    ("incomplete-deprotection", _protected, "protected_precursor_max_area_pct"),
    ("incomplete-cyclization", _unclosed_precursors, "linear_precursor_max_area_pct"),
    ("oligomerization", lambda s: _role_impurities(s, "oligomer"), "oligomer_max_area_pct"),
    ("ester-hydrolysis", lambda s: _role_impurities(s, "hydrolysis"), "hydrolysis_max_area_pct"),
    ("piperazine-formation", lambda s: _role_impurities(s, "piperazine"), "piperazine_max_area_pct"),
)


def _findings(sample: SampleEvidence, checks: list[CheckResult], thresholds: dict) -> dict[str, tuple]:
    """diagnosis id -> (evidence lines, species ids)."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for diagnosis_id, select, key in SPECIES_RULES:
        items = [i for i in select(sample) if _over_limit(i, thresholds[key], _nmr_limit(thresholds))]
        if items:
            found[diagnosis_id] = ([line for i in items for line in i.describe()], [i.species.id for i in items])
    group_evidence = _unexplained_group_evidence(sample, _nmr_limit(thresholds))
    if group_evidence:
        lines, ids = found.get("incomplete-deprotection", ([], []))
        found["incomplete-deprotection"] = (
            lines + group_evidence[0],
            ids + [i for i in group_evidence[1] if i not in ids],
        )
    by_id = {c.id: c for c in checks}
    product = [sample.species[i] for i in sample.stage.main]
    if by_id.get("product-present") and by_id["product-present"].status == FAIL:
        techniques = [
            t
            for t, looked in (
                ("LC-MS", any(p.ms_looked for p in product)),
                ("1H NMR", any(p.nmr_looked for p in product)),
            )
            if looked
        ]
        found["product-not-found"] = (
            [
                f"{p.species.name} ({p.species.formula}, [M] {p.species.monoisotopic_mass:.4f})"
                f" not found by {' or '.join(techniques)}"
                for p in product
                if not p.detected
            ],
            [p.species.id for p in product],
        )
    purity = by_id.get("purity")
    semi = (
        _semi_quantitative_shortfall(sample, thresholds)
        if purity is not None and purity.status == NOT_ASSESSED
        else None
    )
    if semi is not None:
        found["low-purity"] = (
            [semi] + [_amount_text(e) for e in sample.species.values() if e.stage_role == "impurity" and e.detected],
            list(sample.stage.main),
        )
    if purity is not None and purity.status == FAIL:
        impurities = [_amount_text(e) for e in sample.species.values() if e.stage_role == "impurity" and e.detected]
        unexplained = [
            f"unexplained peak m/z {p.mz:.{4 if run.resolution and run.resolution.high else 0}f} at "
            f"{p.rt_min:.2f} min ({p.relative_area_pct:.2f} % area)"
            for run in sample.lcms
            for p in run.unexplained[:3]
            if p.relative_area_pct
        ]
        unassigned = sorted(
            (
                (p.area_pct, p.peak.apex_rt, trace.trace.label)
                for uv in sample.uv
                for trace in uv.configured_traces()
                for p in trace.peaks
                if p.species_id is None and not p.void
            ),
            reverse=True,
        )
        uv_unknowns = [
            f"UV peak at {rt:.2f} min, {pct:.2f} % area at {label}, no route species at that time"
            for pct, rt, label in unassigned[:3]
        ]
        found["low-purity"] = ([purity.detail] + impurities + unexplained + uv_unknowns, list(sample.stage.main))
    solvents = by_id.get("residual-solvents-within-ich-q3c")
    if solvents is not None and solvents.status == FAIL:
        lines = [
            f"{s.name}: {s.mol_ratio:.4f} mol/mol, {s.ppm_w_w:.0f} ppm w/w against the ICH Q3C class "
            f"{s.ich_class} limit of {s.limit_ppm:.0f} ppm; signals "
            + ", ".join(
                f"{x['group']} {x['observed_ppm']:.2f} ppm" for x in s.signals if x.get("observed_ppm") is not None
            )
            for s in sample.nmr_seen().solvents
            if s.detected and s.exceeds
        ]
        found["residual-solvent"] = (lines, [])
    water = by_id.get("water-content")
    if water is not None and water.status == FAIL:
        where = sample.nmr_seen().water.get("observed_ppm")
        found["water-uptake"] = ([f"water at {where:.2f} ppm: {water.detail}" if where else water.detail], [])
    return found


def _semi_quantitative_shortfall(sample: SampleEvidence, thresholds: dict) -> str | None:
    """The MS share of the product when it is below the purity criterion: not judged, but
    worth a diagnosis (a chemist re-measures by UV or NMR rather than ships)."""
    limit = thresholds.get("purity_min_pct")
    low = [f for f in purity_figures(sample) if not f.judged and limit is not None and f.value_pct < limit]
    if not low:
        return None
    return (
        f"{low[0].value_pct:.1f} % by {low[0].method}, below the {limit:g} % criterion; semi-quantitative, so "
        "the purity check is not assessed on it: measure UV area % or 1H NMR mol % to judge it"
    )


def _unexplained_group_evidence(sample: SampleEvidence, nmr_limit_pct: float) -> tuple[list[str], list[str]] | None:
    """An unexplained tert-butyl singlet, as much as a Boc-protected species of
    this stage would have to be to count: the deprotection did not finish, even
    if the fit could not place that species' other signals."""
    spectrum = sample.nmr
    if spectrum is None:
        return None
    protected = _substrates(sample, ("boc-removal",), this_stage_only=False)
    protected |= {e.species.id for e in sample.of_role("protected-intermediate")}
    protected &= {e.species.id for e in sample.species.values() if e.stage_role == "impurity"}
    lines, ids = [], []
    for signal in spectrum.unexplained:
        carriers = [i for i in signal.candidates if i in protected]
        ratio = signal.mol_ratio_as_group
        if signal.group != "tert-butyl (Boc)" or not carriers or ratio is None or 100 * ratio < nmr_limit_pct:
            continue
        lines.append(
            f"unassigned 9H-like singlet at {signal.shift_ppm:.2f} ppm (S/N {signal.snr:.0f}): a tert-butyl "
            f"group, {100 * ratio:.2f} mol % of the product if 9H; carried by {', '.join(carriers)}"
        )
        ids += [i for i in carriers if i not in ids]
    return (lines, ids) if lines else None


def run_diagnoses(sample: SampleEvidence, checks: list[CheckResult], thresholds: dict) -> list[Diagnosis]:
    entries = catalogue().diagnoses
    diagnoses = []
    unjudged = {c.id for c in checks if c.status == NOT_ASSESSED}
    for diagnosis_id, (evidence, species) in _findings(sample, checks, thresholds).items():
        entry = entries[diagnosis_id]
        # raised on a figure its check could not judge (semi-quantitative): a warning, not a failure
        severity = "warning" if diagnosis_id == "low-purity" and "purity" in unjudged else entry.severity
        diagnoses.append(
            Diagnosis(
                entry.id,
                entry.title,
                severity,
                evidence,
                entry.cause,
                [f.text for f in entry.fixes],
                [f.ref for f in entry.fixes],
                list(entry.guide_refs),
                species,
            )
        )
    order = {d: i for i, d in enumerate(entries)}
    diagnoses.sort(key=lambda d: (d.severity != "fail", order[d.id]))
    return diagnoses


def assess(sample: SampleEvidence, thresholds: dict) -> Assessment:
    """The stage's checks, verdict and diagnoses from the sample's combined evidence."""
    checks = run_checks(sample, thresholds)
    statuses = {c.status for c in checks}
    verdict = "fail" if FAIL in statuses else ("pass" if statuses == {PASS} else "inconclusive")
    return Assessment(
        verdict,
        checks,
        run_diagnoses(sample, checks, thresholds),
        list(sample.disagreements),
        stage_kinds(sample),
        evidence=sample,
        purity=purity_figures(sample),
    )
