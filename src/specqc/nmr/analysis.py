"""1H NMR analysis of one sample at one stage of a route: process the data,
fit the compounds that may be in the tube, and report species (mol % of the
main component), residual process solvents (molar ratio, ppm w/w, ICH Q3C),
water, and the table of multiplets with their integrals and assignments."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

from ..chem.route import Route, Stage
from ..errors import InputError
from ..model import NMRData
from .peaks import Multiplet, between, group_multiplets
from .process import NMRParams, ProcessedNMR, process
from .fit import (
    ALWAYS_FITTED,
    ComponentResult,
    FitComponent,
    FitSignal,
    component_model,
    estimate_fwhm_hz,
    fit_components,
    ppm_w_w,
    salt_molar_mass,
)
from .references import FORMS, reference_set
from .solvents import entries_for, ich_limits

TABLE_UNCERTAINTY_SOURCE = "Fulmer et al. 2010 table value; concentration and temperature dependence"
# search windows around the tabulated shift, after referencing
TOLERANCE_PPM = {
    "prediction": 0.10,
    "literature": 0.05,
    "measurement": 0.04,
    "solvent": 0.02,
    "water": 0.15,
    "residual": 0.01,
    "tms": 0.01,
    "dss": 0.01,
}
EXCHANGEABLE_WINDOW_PPM = 0.4
METHOD = "line-shape fit (non-negative least squares of reference multiplets)"


@dataclass
class NMRSpeciesResult:
    species_id: str
    stage_role: str
    detected: bool
    mol_ratio: float | None
    reason: str
    source: str
    form: str
    signals: list[dict] = field(default_factory=list)
    snr: float = 0.0
    mol_ratio_error: float | None = None  # standard error of the molar ratio from the joint fit
    significance: dict | None = None  # the whole-pattern test, when every signal is overlapped


# An unexplained signal is listed when its integral reaches this fraction of one proton of the product
# (the product's per-proton integral) and it stands DETECTION_SNR above the noise.
UNEXPLAINED_MIN_FRACTION = 0.05
UNEXPLAINED_MIN_SNR = 10.0
# above this share of unassigned signal the spectrum does not show the main component absent
UNASSIGNED_MAJORITY = 0.5
# what every spectrum holds besides the sample (left out of the unassigned share)
NOT_SAMPLE = ("residual", "TMS", "DSS", "water", "13C satellite")
MAX_EQUIVALENT_PROTONS = 9  # no single signal of a small molecule stands for more (a tert-butyl)
# Characteristic signals of common groups: (name, multiplicities, shift range, proton count it
# stands for, how to recognise the group in a reference signal's label)
CHARACTERISTIC_GROUPS = (
    ("tert-butyl (Boc)", ("s",), (1.25, 1.60), 9, re.compile(r"C\(CH3\)3")),
    ("methoxy", ("s",), (3.55, 3.95), 3, re.compile(r"OCH3")),
    ("ethyl (OCH2)", ("q",), (3.40, 4.40), 2, re.compile(r"OCH2")),
    ("ethyl (CH3)", ("t",), (0.90, 1.45), 3, re.compile(r"CH2CH3|OCH2CH3")),
    ("aromatic", ("s", "d", "t", "m"), (6.50, 8.50), 1, re.compile(r"Ar|aromatic")),
)


@dataclass
class UnexplainedSignal:
    """A signal the joint fit leaves unexplained: what it looks like, how much of
    it there is (in protons of the product), and the route species that carry
    the group its look suggests."""

    shift_ppm: float
    multiplicity: str
    j_hz: float | None
    width_hz: float | None
    integral_h: float  # in protons of the product (its per-proton integral = 1)
    snr: float
    group: str | None = None  # characteristic group it looks like
    group_protons: int | None = None
    candidates: list[str] = field(default_factory=list)  # route species carrying that group

    @property
    def min_mol_ratio(self) -> float:
        """Least mol per mol product it can stand for (MAX_EQUIVALENT_PROTONS protons)."""
        return self.integral_h / MAX_EQUIVALENT_PROTONS

    @property
    def mol_ratio_as_group(self) -> float | None:
        """mol per mol product if it is the group it looks like."""
        return self.integral_h / self.group_protons if self.group_protons else None


SOLVENT_STATUSES = ("detected", "not-detected", "not-assessed")


@dataclass
class SolventResult:
    """One ICH Q3C solvent searched in one spectrum.

    ``status``: ``detected`` (amount given), ``not-detected`` (below a limit of
    detection at or under its ICH limit: shown to be within it) or
    ``not-assessed`` (the spectrum cannot show it is within its limit; ``reason`` says why)."""

    name: str
    detected: bool
    mol_ratio: float | None
    ppm_w_w: float | None
    ich_class: str
    limit_ppm: float | None
    exceeds: bool | None
    reason: str
    signals: list[dict] = field(default_factory=list)
    status: str = "not-assessed"
    lod_mol_ratio: float | None = None  # limit of detection in this spectrum, same bases as the amount
    lod_ppm_w_w: float | None = None
    mol_ratio_error: float | None = None  # standard error of the molar ratio from the joint fit
    snr: float = 0.0


@dataclass
class NMRResult:
    source_path: str
    processed: ProcessedNMR
    solvent: str | None
    main_species: str
    main_amount: float | None
    salt_basis: dict
    fwhm_hz: float
    species: list[NMRSpeciesResult]
    solvents: list[SolventResult]
    water: dict
    multiplets: list[Multiplet]
    metadata: dict
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    exchangeable: list[dict] = field(default_factory=list)  # N-H/O-H lines named from the references
    fit_grid_hz: float | None = None  # point spacing the line-shape fit worked on
    unexplained: list[UnexplainedSignal] = field(default_factory=list)
    # mol % of the product among everything seen: route impurities, and each unexplained signal as at
    # least integral / MAX_EQUIVALENT_PROTONS mol (an upper bound: an unknown may hold fewer protons)
    purity_upper_bound_pct: float | None = None
    # share of the sample's own signal (S/N >= UNEXPLAINED_MIN_SNR; solvent residual, water and
    # internal standard left out) that nothing was assigned to
    unassigned_share: float | None = None

    def absence_unshown(self) -> str | None:
        """Why this spectrum cannot show that the main component is absent, or None
        when it can: a spectrum mostly made of lines nothing explains holds a compound
        the references do not describe, which may well be the product itself."""
        if self.unassigned_share is None or self.unassigned_share < UNASSIGNED_MAJORITY:
            return None
        return (
            f"{100 * self.unassigned_share:.0f} % of the signal in {self.source_path} is unassigned: the main "
            "component may be there with shifts the reference data do not predict (or an unexpected compound is)"
        )


def _species_components(route: Route, stage: Stage, solvent: str, form: str) -> tuple[list[FitComponent], dict]:
    """Each candidate species of the stage, once per form (the stage's expected
    form first): salt and free base have their own shifts, and a sample may be
    either. Signals are searched within their shift uncertainty."""
    references = reference_set(route.id, frozenset(s.id for s in route.species))
    components, entries = [], {}
    for species_id in stage.main + stage.impurities:
        basic = route.species_by_id(species_id).basic_amines > 0
        for number, entry in enumerate(references.candidates(species_id, solvent, form, FORMS if basic else (form,))):
            signals = [
                FitSignal(
                    s.group,
                    s.shift_ppm,
                    s.multiplicity,
                    s.protons,
                    s.j_hz,
                    s.width_hz,
                    s.shift_uncertainty_ppm,
                    s.diagnostic,
                )
                for s in entry.quantifiable
            ]
            key = f"species:{species_id}" if number == 0 else f"species:{species_id}@{entry.form}"
            components.append(
                FitComponent(key, "species", species_id, signals, entry.source, expected=species_id in stage.main)
            )
            entries[key] = entry
    return components, entries


def _table_components(solvent: str) -> list[FitComponent]:
    """Process solvents, water, residual and TMS of the solvent's shift table."""
    by_compound: dict[str, list] = {}
    for entry in entries_for(solvent):
        by_compound.setdefault(entry.compound, []).append(entry)
    residual_shifts = {e.shift_ppm for e in by_compound.get("residual", [])}
    components = []
    for compound, entries in by_compound.items():
        if compound == "water" and {e.shift_ppm for e in entries} <= residual_shifts:
            continue  # D2O: the water line is the residual HDO line
        kind = compound if compound in ("water", "residual", "tms", "dss") else "solvent"
        signals = [
            FitSignal(e.group, e.shift_ppm, e.multiplicity, e.protons, e.j_hz, e.width_hz, TOLERANCE_PPM[kind])
            for e in entries
        ]
        name = {"residual": f"{solvent} residual", "tms": "TMS", "dss": "DSS"}.get(kind, compound)
        components.append(
            FitComponent(f"{kind}:{compound}", kind, name, signals, "Fulmer et al. 2010", broad_allowed=kind == "water")
        )
    return components


def _signal_entries(result: ComponentResult, entry=None) -> list[dict]:
    uncertainty = {s.group: (s.shift_uncertainty_ppm, s.uncertainty_source) for s in (entry.signals if entry else ())}
    out = []
    for s, fitted in zip(result.signals, result.component.signals):
        spread, source = uncertainty.get(s.group, (fitted.tolerance_ppm, TABLE_UNCERTAINTY_SOURCE))
        out.append(
            {
                "group": s.group,
                "reference_ppm": s.reference_ppm,
                "shift_uncertainty_ppm": spread,
                "uncertainty_source": source,
                "observed_ppm": s.observed_ppm,
                "multiplicity": s.multiplicity,
                "j_hz": s.j_hz or None,
                "protons": s.protons,
                "overlap": s.overlap,
                "overlapped_with": s.overlapped_with,
                "support": s.support,
            }
        )
    return out


def _one_form_each(results: list[ComponentResult], entries: dict) -> dict:
    """species id -> (result, reference entry) of the form that explains the
    spectrum: a detected form before one not found, then the stronger."""
    best: dict[str, tuple[ComponentResult, object]] = {}
    for result in results:
        if result.component.kind != "species":
            continue
        species_id = result.component.name
        rank = (result.detected, result.snr)
        if species_id not in best or rank > (best[species_id][0].detected, best[species_id][0].snr):
            best[species_id] = (result, entries[result.component.key])
    return best


def _salt_counterion(route: Route, stage: Stage) -> str:
    return next((r.counterion for r in route.reactions if r.stage == stage.id and r.counterion), "")


def analyze_nmr(data: NMRData, route: Route, stage: Stage, params: NMRParams | None = None) -> NMRResult:
    params = (params or NMRParams()).validated()
    if data.nucleus != "1H":
        raise InputError(f"{data.nucleus} NMR is not supported yet (only 1D 1H)")
    processed = process(data, params)
    solvent = processed.solvent
    main_id = stage.main[0]
    counterion = _salt_counterion(route, stage)
    form = "hydrochloride" if counterion == "HCl" else "free base"
    molar_mass, salt_label = salt_molar_mass(route.species_by_id(main_id), counterion)
    notes: list[str] = []
    species_components, forms = ([], {}) if solvent is None else _species_components(route, stage, solvent, form)
    table_components = [] if solvent is None else _table_components(solvent)
    if solvent is None:
        notes.append(
            "deuterated solvent unknown (not in the file and not recognisable): "
            "species, solvents and water not assessed"
        )
    elif not species_components:
        notes.append(f"no reference NMR data for this stage's species in {solvent}")
    components = species_components + table_components
    fwhm = estimate_fwhm_hz(processed.ppm, processed.intensity, processed.noise, data.spectrometer_mhz)
    fit = (
        fit_components(processed.ppm, processed.intensity, processed.noise, data.spectrometer_mhz, components, fwhm)
        if components
        else None
    )
    results = {r.component.key: r for r in fit.components} if fit else {}
    main = _one_form_each(fit.components, forms).get(main_id, (None,))[0] if fit else None
    main_amount = main.amount if main is not None and main.detected else None
    if main is not None and main_amount is None:
        notes.append(f"main component {main_id} not found by its signals ({main.reason}): molar ratios cannot be given")

    def ratio(result: ComponentResult) -> float | None:
        return round(result.amount / main_amount, 5) if main_amount and result.detected else None

    species = []
    for species_id, (chosen, entry) in _one_form_each(fit.components if fit else [], forms).items():
        error = chosen.amount_error / main_amount if main_amount and chosen.amount_error is not None else None
        reason = chosen.reason
        if chosen.upper_bound_amount is not None and main_amount and not chosen.detected:
            reason += f"; at most {100 * chosen.upper_bound_amount / main_amount:.2f} mol %"
        species.append(
            NMRSpeciesResult(
                species_id,
                stage.role_of(species_id),
                chosen.detected,
                ratio(chosen),
                reason,
                chosen.component.source + (f"; {entry.derived_from}" if entry.derived_from else ""),
                entry.form,
                _signal_entries(chosen, entry),
                chosen.snr,
                None if error is None or not chosen.detected else round(error, 5),
                chosen.significance,
            )
        )
    fitted = {r.component.name: r for r in (fit.components if fit else []) if r.component.kind == "solvent"}
    solvents = _solvent_screen(fitted, solvent, main_amount, molar_mass)
    water = _water_entry(results, solvent, ratio)
    multiplets = group_multiplets(processed.ppm, processed.intensity, processed.noise, data.spectrometer_mhz, fwhm)
    exchangeable = []
    if fit:
        _assign(multiplets, fit, processed, main if main_amount else None)
        exchangeable = _label_exchangeable(multiplets, species, route, solvent, form)
        _label_satellites(multiplets, data.spectrometer_mhz)
    unexplained = _unexplained_signals(multiplets, processed, data.spectrometer_mhz, route) if main_amount else []
    unassigned_share = _unassigned_share(multiplets) if fit else None
    if main_amount is None and unassigned_share is not None and unassigned_share >= UNASSIGNED_MAJORITY:
        # Most of the spectrum is a compound nothing describes (perhaps the product, unrecognised): a minor
        # species' "free-standing" lines may be that compound's, so none is claimed from among them.
        withdrawn = _withdraw_minor_species(species, multiplets, unassigned_share)
        if withdrawn:
            unassigned_share = _unassigned_share(multiplets)
    detected_ratios = [x.mol_ratio for x in species if x.detected and x.stage_role == "impurity" and x.mol_ratio]
    unknown_ratio = sum(u.min_mol_ratio for u in unexplained)
    purity_bound = round(100.0 / (1.0 + sum(detected_ratios) + unknown_ratio), 2) if main_amount else None
    return NMRResult(
        source_path=data.source_path,
        processed=processed,
        solvent=solvent,
        main_species=main_id,
        main_amount=main_amount,
        salt_basis={"form": salt_label, "molar_mass": round(molar_mass, 2)},
        fwhm_hz=round(fwhm, 2),
        species=species,
        solvents=solvents,
        water=water,
        multiplets=multiplets,
        metadata={
            "nucleus": data.nucleus,
            "spectrometer_mhz": round(data.spectrometer_mhz, 4),
            "temperature_k": data.temperature_k,
            "pulse_program": data.pulse_program,
            "acquisition_date": data.acquisition_date,
            "format": data.format,
            "solvent_in_file": data.solvent,
            "reader_warnings": data.metadata.get("reader_warnings", []),
        },
        notes=notes,
        params=asdict(params),
        exchangeable=exchangeable,
        fit_grid_hz=round(fit.grid_hz, 4) if fit and fit.grid_hz else None,
        unexplained=unexplained,
        purity_upper_bound_pct=purity_bound,
        unassigned_share=unassigned_share,
    )


def _withdraw_minor_species(species: list[NMRSpeciesResult], multiplets: list[Multiplet], share: float) -> list[str]:
    """Un-claim the impurities found in a spectrum whose main component is not
    recognised and most of whose signal is unassigned; their labels leave the lines."""
    withdrawn = [s for s in species if s.detected and s.stage_role != "main"]
    for result in withdrawn:
        result.detected = False
        result.reason = (
            f"its pattern matches lines of a spectrum that is {100 * share:.0f} % unassigned, with the main "
            f"component not recognised: it cannot be told from the lines of that unknown ({result.reason})"
        )
    names = {s.species_id for s in withdrawn}
    for multiplet in multiplets:
        multiplet.assignment = [label for label in multiplet.assignment if label.split(" (")[0] not in names]
    return sorted(names)


def _unassigned_share(multiplets: list[Multiplet]) -> float | None:
    """Area share of the sample's strong multiplets that nothing was assigned to."""

    def not_sample(multiplet: Multiplet) -> bool:
        return bool(multiplet.assignment) and all(
            any(word in label for word in NOT_SAMPLE) for label in multiplet.assignment
        )

    sample = [m for m in multiplets if m.snr >= UNEXPLAINED_MIN_SNR and not not_sample(m)]
    total = sum(m.area for m in sample)
    if total <= 0:
        return None
    return round(sum(m.area for m in sample if not m.assignment) / total, 4)


def _solvent_screen(
    fitted: dict[str, ComponentResult], solvent: str | None, main_amount: float | None, molar_mass: float
) -> list[SolventResult]:
    """Every solvent of the ICH Q3C table, searched in this spectrum (fitted jointly
    with the species) or said why it could not be: with its amount when found,
    else its limit of detection here, against its limit."""
    limits, _ = ich_limits()
    screen = []
    for name, limit in limits.items():
        if limit.limit_ppm is None:  # water: reported apart, no ICH limit
            continue
        result = fitted.get(name)
        entry = SolventResult(name, False, None, None, limit.ich_class, limit.limit_ppm, None, "")
        screen.append(entry)
        if solvent is None:
            entry.reason = "deuterated solvent unknown: no shifts to search for"
            continue
        if result is None:
            entry.reason = f"no 1H shifts of {name} in {solvent} in the shift table (data/nmr_solvents.csv)"
            continue
        entry.signals, entry.snr = _signal_entries(result), result.snr
        if not main_amount:
            entry.reason = f"product not quantified: no basis for an amount ({result.reason})"
            continue
        to_ppm = partial(_to_ppm, solvent_molar_mass=limit.molar_mass, isolated_molar_mass=molar_mass)
        if result.lod_amount is not None:
            entry.lod_mol_ratio = round(result.lod_amount / main_amount, 6)
            entry.lod_ppm_w_w = round(to_ppm(entry.lod_mol_ratio), 0)
        if result.amount_error is not None:
            entry.mol_ratio_error = round(result.amount_error / main_amount, 6)
        if result.detected:
            entry.detected, entry.status, entry.reason = True, "detected", result.reason
            entry.mol_ratio = round(result.amount / main_amount, 5)
            entry.ppm_w_w = round(to_ppm(entry.mol_ratio), 0)
            entry.exceeds = entry.ppm_w_w > limit.limit_ppm
        elif not result.signals:
            entry.reason = result.reason
        elif result.overlapped and result.upper_bound_amount is not None:
            bound = round(to_ppm(result.upper_bound_amount / main_amount), 0)
            if bound <= limit.limit_ppm:
                entry.status = "not-detected"
                entry.reason = f"{result.reason}; at most {bound:.0f} ppm w/w, within the limit {limit.limit_ppm:g} ppm"
            else:
                entry.reason = (
                    f"{result.reason}; the joint fit allows up to {bound:.0f} ppm w/w, above the limit "
                    f"{limit.limit_ppm:g} ppm: not assessed"
                )
        elif result.overlapped:
            entry.reason = f"{result.reason}; absence at its limit cannot be shown"
        elif entry.lod_ppm_w_w is None or entry.lod_ppm_w_w > limit.limit_ppm:
            entry.reason = (
                f"limit of detection here {_ppm_text(entry.lod_ppm_w_w)} is above the ICH Q3C limit "
                f"{limit.limit_ppm:g} ppm: absence at the limit cannot be shown"
            )
        else:
            entry.status = "not-detected"
            entry.reason = (
                f"not found ({result.reason}); limit of detection here {_ppm_text(entry.lod_ppm_w_w)} "
                f"<= limit {limit.limit_ppm:g} ppm"
            )
    return screen


def _to_ppm(mol_ratio: float, solvent_molar_mass: float, isolated_molar_mass: float) -> float:
    return ppm_w_w(mol_ratio, solvent_molar_mass, isolated_molar_mass)


def _ppm_text(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f} ppm w/w"


def _water_entry(results: dict, solvent: str | None, ratio) -> dict:
    water = results.get("water:water")
    if solvent is None:
        return {"mol_ratio": None, "reason": "solvent unknown"}
    if water is None:
        return {
            "mol_ratio": None,
            "reason": f"in {solvent} water exchanges with the solvent's deuterium and cannot be measured",
        }
    if not water.signals:
        return {"mol_ratio": None, "reason": water.reason}
    entry = {
        "mol_ratio": ratio(water),
        "detected": water.detected,
        "observed_ppm": water.signals[0].observed_ppm,
        "method": METHOD,
        "reason": water.reason,
        "note": "includes the water of the deuterated solvent itself",
    }
    return entry


def _assign(multiplets: list[Multiplet], fit, processed: ProcessedNMR, main: ComponentResult | None) -> None:
    """Label each multiplet with the compounds whose fitted lines make up most of
    it, and scale its integral to protons of the main component."""
    ppm = processed.ppm
    step = abs(ppm[1] - ppm[0])
    rising = -ppm
    windows = [between(rising, *multiplet.range_ppm) for multiplet in multiplets]
    for result in fit.components:
        if result.amount <= 0 or not (result.detected or result.component.kind in ALWAYS_FITTED):
            continue
        column = result.amount * component_model(
            ppm, processed.steps["spectrometer_mhz"], result.component, fit.fwhm_hz
        )
        for multiplet, inside in zip(multiplets, windows):
            # the compound's fitted area within the multiplet's range
            share = float(column[inside].sum()) * step / max(multiplet.area, 1e-300)
            if share >= 0.25:
                multiplet.assignment.append(
                    f"{result.component.name} ({share:.0%})" if share < 0.9 else result.component.name
                )
    # Integrals are scaled the way a chemist sets them: the main component's
    # diagnostic signal reads its proton count.
    if main is None:
        return
    per_proton = main.amount
    anchor = next((s for s in main.component.signals if s.diagnostic), main.component.signals[0])
    centre = anchor.placed_ppm
    holder = next((m for m in multiplets if m.range_ppm[1] <= centre <= m.range_ppm[0]), None)
    if holder is not None and holder.assignment == [main.component.name]:
        per_proton = holder.area / anchor.protons
    for multiplet in multiplets:
        multiplet.integral_h = round(multiplet.area / per_proton, 2)


def _label_exchangeable(
    multiplets: list[Multiplet], species: list[NMRSpeciesResult], route: Route, solvent: str | None, form: str
) -> list[dict]:
    """NH/OH lines are not fitted (their shift and width follow exchange), but a
    chemist expects them named: the nearest exchangeable signal of a species found.
    Returns what was named, for checks such as salt formation (an ammonium N-H)."""
    references = reference_set(route.id, frozenset(s.id for s in route.species))
    candidates = []
    for result in species:
        entry = references.for_species(result.species_id, solvent, form) if result.detected else None
        candidates += [(result.species_id, s) for s in (entry.signals if entry else ()) if s.exchangeable]
    named = []
    for multiplet in multiplets:
        if multiplet.assignment or not candidates:
            continue
        species_id, signal = min(candidates, key=lambda c: abs(c[1].shift_ppm - multiplet.shift_ppm))
        if abs(signal.shift_ppm - multiplet.shift_ppm) <= EXCHANGEABLE_WINDOW_PPM:
            multiplet.assignment.append(f"{species_id} {signal.group} (exchangeable)")
            named.append(
                {
                    "species": species_id,
                    "group": signal.group,
                    "reference_ppm": signal.shift_ppm,
                    "observed_ppm": multiplet.shift_ppm,
                    "snr": multiplet.snr,
                }
            )
    return named


def _unexplained_signals(
    multiplets: list[Multiplet], processed: ProcessedNMR, mhz: float, route: Route
) -> list[UnexplainedSignal]:
    """Every multiplet nothing was assigned to, above UNEXPLAINED_MIN_FRACTION of a
    product proton and UNEXPLAINED_MIN_SNR, with the characteristic group it looks
    like and the route species carrying that group."""
    from scipy.signal import peak_widths

    references = reference_set(route.id, frozenset(s.id for s in route.species))
    out = []
    for multiplet in multiplets:
        if multiplet.assignment or multiplet.integral_h is None:
            continue
        if multiplet.integral_h < UNEXPLAINED_MIN_FRACTION or multiplet.snr < UNEXPLAINED_MIN_SNR:
            continue
        tallest = int(np.argmin(np.abs(processed.ppm - multiplet.lines_ppm[len(multiplet.lines_ppm) // 2])))
        width = (
            float(peak_widths(processed.intensity, [tallest], rel_height=0.5)[0][0])
            * abs(float(processed.ppm[1] - processed.ppm[0]))
            * mhz
        )
        entry = UnexplainedSignal(
            multiplet.shift_ppm,
            multiplet.multiplicity,
            multiplet.j_hz,
            round(width, 2),
            multiplet.integral_h,
            multiplet.snr,
        )
        for name, multiplicities, (low, high), protons, label in CHARACTERISTIC_GROUPS:
            if multiplet.multiplicity in multiplicities and low <= multiplet.shift_ppm <= high:
                entry.group, entry.group_protons = name, protons
                entry.candidates = sorted(
                    {c.species for c in references.compounds if any(label.search(x.group) for x in c.signals)}
                )
                break
        out.append(entry)
    return out


def _label_satellites(multiplets: list[Multiplet], mhz: float) -> None:
    """An unassigned small multiplet 60-85 Hz from a line 50-1000 times taller
    with the same pattern is that line's 13C satellite."""
    for multiplet in multiplets:
        if multiplet.assignment:
            continue
        for parent in multiplets:
            distance_hz = abs(parent.shift_ppm - multiplet.shift_ppm) * mhz
            if (
                parent.multiplicity == multiplet.multiplicity
                and 60 <= distance_hz <= 85
                and 50 <= parent.height / max(multiplet.height, 1e-300) <= 1000
            ):
                multiplet.assignment.append(f"13C satellite of {parent.shift_ppm:.3f}")
                break
