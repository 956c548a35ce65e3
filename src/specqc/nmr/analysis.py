"""1H NMR analysis of one sample at one stage of a route: process the data,
fit the compounds that may be in the tube, and report species (mol % of the
main component), residual process solvents (molar ratio, ppm w/w, ICH Q3C),
water, and the table of multiplets with their integrals and assignments."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..chem.route import Route, Stage
from ..errors import InputError
from ..model import NMRData
from .peaks import Multiplet, between, group_multiplets
from .process import NMRParams, ProcessedNMR, process
from .quantify import (ALWAYS_FITTED, ComponentResult, FitComponent, FitSignal, component_model, estimate_fwhm_hz,
                       fit_components, ppm_w_w, salt_molar_mass)
from .references import reference_set
from .solvents import entries_for, ich_limits

# search windows around the tabulated shift, after referencing
TOLERANCE_PPM = {"prediction": 0.10, "literature": 0.05, "measurement": 0.04,
                 "solvent": 0.02, "water": 0.15, "residual": 0.01, "tms": 0.01, "dss": 0.01}
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


@dataclass
class SolventResult:
    name: str
    detected: bool
    mol_ratio: float | None
    ppm_w_w: float | None
    ich_class: str
    limit_ppm: float | None
    exceeds: bool | None
    reason: str
    signals: list[dict] = field(default_factory=list)


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


def _species_components(route: Route, stage: Stage, solvent: str, form: str) -> tuple[list[FitComponent], dict]:
    references = reference_set(route.id, frozenset(s.id for s in route.species))
    components, forms = [], {}
    for species_id in stage.main + stage.impurities:
        entry = references.for_species(species_id, solvent, form)
        if entry is None:
            continue
        tolerance = TOLERANCE_PPM[entry.source_kind]
        if entry.form != form:
            tolerance *= 1.5  # shifts of the other form: protonation moves neighbouring CH2s
        signals = [FitSignal(s.group, s.shift_ppm, s.multiplicity, s.protons, s.j_hz, s.width_hz, tolerance,
                             s.diagnostic) for s in entry.quantifiable]
        components.append(FitComponent(f"species:{species_id}", "species", species_id, signals, entry.source))
        forms[species_id] = entry.form
    return components, forms


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
        signals = [FitSignal(e.group, e.shift_ppm, e.multiplicity, e.protons, e.j_hz, e.width_hz,
                             TOLERANCE_PPM[kind]) for e in entries]
        name = {"residual": f"{solvent} residual", "tms": "TMS", "dss": "DSS"}.get(kind, compound)
        components.append(FitComponent(f"{kind}:{compound}", kind, name, signals,
                                       "Fulmer et al. 2010", broad_allowed=kind == "water"))
    return components


def _signal_entries(result: ComponentResult) -> list[dict]:
    return [{"group": s.group, "reference_ppm": s.reference_ppm, "observed_ppm": s.observed_ppm,
             "multiplicity": s.multiplicity, "j_hz": s.j_hz or None, "protons": s.protons,
             "overlap": s.overlap, "overlapped_with": s.overlapped_with, "support": s.support}
            for s in result.signals]


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
        notes.append("deuterated solvent unknown (not in the file and not recognisable): "
                     "species, solvents and water not assessed")
    elif not species_components:
        notes.append(f"no reference NMR data for this stage's species in {solvent}")
    components = species_components + table_components
    fwhm = estimate_fwhm_hz(processed.ppm, processed.intensity, processed.noise, data.spectrometer_mhz)
    fit = fit_components(processed.ppm, processed.intensity, processed.noise, data.spectrometer_mhz,
                         components, fwhm) if components else None
    results = {r.component.key: r for r in fit.components} if fit else {}
    main = results.get(f"species:{main_id}")
    main_amount = main.amount if main is not None and main.detected else None
    if main is not None and main_amount is None:
        notes.append(f"main component {main_id} not found by its signals ({main.reason}): "
                     "molar ratios cannot be given")

    def ratio(result: ComponentResult) -> float | None:
        return round(result.amount / main_amount, 5) if main_amount and result.detected else None

    species = [NMRSpeciesResult(
        r.component.name, stage.role_of(r.component.name), r.detected, ratio(r), r.reason, r.component.source,
        forms[r.component.name], _signal_entries(r), r.snr) for r in fit.components if r.component.kind == "species"
    ] if fit else []
    limits, _ = ich_limits()
    solvents = []
    for r in (fit.components if fit else []):
        if r.component.kind != "solvent":
            continue
        limit = limits[r.component.name]
        mol_ratio = ratio(r)
        ppm = None if mol_ratio is None else round(ppm_w_w(mol_ratio, limit.molar_mass, molar_mass), 0)
        solvents.append(SolventResult(
            r.component.name, r.detected, mol_ratio, ppm, limit.ich_class, limit.limit_ppm,
            None if ppm is None or limit.limit_ppm is None else ppm > limit.limit_ppm, r.reason,
            _signal_entries(r)))
    water = _water_entry(results, solvent, ratio)
    multiplets = group_multiplets(processed.ppm, processed.intensity, processed.noise, data.spectrometer_mhz, fwhm)
    exchangeable = []
    if fit:
        _assign(multiplets, fit, processed, main if main_amount else None)
        exchangeable = _label_exchangeable(multiplets, species, route, solvent, form)
        _label_satellites(multiplets, data.spectrometer_mhz)
    return NMRResult(
        source_path=data.source_path, processed=processed, solvent=solvent, main_species=main_id,
        main_amount=main_amount, salt_basis={"form": salt_label, "molar_mass": round(molar_mass, 2)},
        fwhm_hz=round(fwhm, 2), species=species, solvents=solvents, water=water, multiplets=multiplets,
        metadata={"nucleus": data.nucleus, "spectrometer_mhz": round(data.spectrometer_mhz, 4),
                  "temperature_k": data.temperature_k, "pulse_program": data.pulse_program,
                  "acquisition_date": data.acquisition_date, "format": data.format,
                  "solvent_in_file": data.solvent,
                  "reader_warnings": data.metadata.get("reader_warnings", [])},
        notes=notes, params=asdict(params), exchangeable=exchangeable,
        fit_grid_hz=round(fit.grid_hz, 4) if fit and fit.grid_hz else None)


def _water_entry(results: dict, solvent: str | None, ratio) -> dict:
    water = results.get("water:water")
    if solvent is None:
        return {"mol_ratio": None, "reason": "solvent unknown"}
    if water is None:
        return {"mol_ratio": None, "reason": f"in {solvent} water exchanges with the solvent's deuterium "
                                             "and cannot be measured"}
    if not water.signals:
        return {"mol_ratio": None, "reason": water.reason}
    entry = {"mol_ratio": ratio(water), "detected": water.detected, "observed_ppm": water.signals[0].observed_ppm,
             "method": METHOD, "reason": water.reason,
             "note": "includes the water of the deuterated solvent itself"}
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
        column = result.amount * component_model(ppm, processed.steps["spectrometer_mhz"], result.component,
                                                 fit.fwhm_hz)
        for multiplet, inside in zip(multiplets, windows):
            # the compound's fitted area within the multiplet's range
            share = float(column[inside].sum()) * step / max(multiplet.area, 1e-300)
            if share >= 0.25:
                multiplet.assignment.append(f"{result.component.name} ({share:.0%})" if share < 0.9
                                            else result.component.name)
    # Integrals are scaled the way a chemist sets them: the main component's
    # diagnostic signal reads its proton count.
    if main is None:
        return
    per_proton = main.amount
    anchor = next((s for s in main.component.signals if s.diagnostic), main.component.signals[0])
    holder = next((m for m in multiplets if m.range_ppm[1] <= anchor.observed_ppm <= m.range_ppm[0]), None)
    if holder is not None and holder.assignment == [main.component.name]:
        per_proton = holder.area / anchor.protons
    for multiplet in multiplets:
        multiplet.integral_h = round(multiplet.area / per_proton, 2)


def _label_exchangeable(multiplets: list[Multiplet], species: list[NMRSpeciesResult], route: Route,
                        solvent: str, form: str) -> list[dict]:
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
            named.append({"species": species_id, "group": signal.group, "reference_ppm": signal.shift_ppm,
                          "observed_ppm": multiplet.shift_ppm, "snr": multiplet.snr})
    return named


def _label_satellites(multiplets: list[Multiplet], mhz: float) -> None:
    """An unassigned small multiplet 60-85 Hz from a line 50-1000 times taller
    with the same pattern is that line's 13C satellite."""
    for multiplet in multiplets:
        if multiplet.assignment:
            continue
        for parent in multiplets:
            distance_hz = abs(parent.shift_ppm - multiplet.shift_ppm) * mhz
            if parent.multiplicity == multiplet.multiplicity and 60 <= distance_hz <= 85 \
                    and 50 <= parent.height / max(multiplet.height, 1e-300) <= 1000:
                multiplet.assignment.append(f"13C satellite of {parent.shift_ppm:.3f}")
                break
