"""One view of a sample's evidence per species, combined over its files.

Several LC-MS runs and NMR spectra of one sample are merged: the best
observation of each species is kept, and where the files disagree (one run
sees a species another does not; MS sees an impurity the NMR does not, or the
other way round) the disagreement is written down rather than hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..chem.route import Route, Stage
from ..errors import InternalError
from ..chem.species import Species
from ..lcms.analysis import LCMSResult, SpeciesResult
from ..nmr.analysis import NMRResult, NMRSpeciesResult
from ..uv.analysis import UVResult

MS_RANK = {"detected": 3, "tentative": 2, "in-blank": 1, "not-detected": 0}
# An impurity this large by MS area should show in a 1H spectrum; smaller ones may
# sit under the NMR detection limit, so silence there is no contradiction.
MS_PCT_NMR_SHOULD_SEE = 5.0


@dataclass(frozen=True)
class MSObservation:
    status: str
    rt_min: float | None
    area_pct: float | None
    ions: tuple[str, ...]
    ambiguous_with: tuple[str, ...]
    source: str
    reasons: tuple[str, ...] = ()  # why it is short of detected

    def describe(self) -> str:
        where = f"RT {self.rt_min:.2f} min" if self.rt_min is not None else "whole run"
        area = f"{self.area_pct:.2f} % MS area" if self.area_pct is not None else "area not given"
        ions = ", ".join(self.ions[:3]) or "no ion listed"
        return f"MS: {ions} at {where}, {area} ({self.source})"


@dataclass(frozen=True)
class NMRObservation:
    detected: bool
    mol_pct: float | None
    signals: tuple[str, ...]
    source: str

    def describe(self) -> str:
        amount = f"{self.mol_pct:.1f} mol %" if self.mol_pct is not None else "amount not given"
        return f"1H NMR: {'; '.join(self.signals[:4])} -> {amount} of the main component ({self.source})"


@dataclass(frozen=True)
class SpeciesEvidence:
    species: Species
    stage_role: str
    status: str  # detected | tentative | in-blank | not-detected | not-assessed
    techniques: tuple[str, ...]  # which saw it: lcms, nmr
    ms: MSObservation | None
    nmr: NMRObservation | None
    ms_looked: bool
    nmr_looked: bool
    # the per-technique results this view combines (the best LC-MS run's, the NMR spectrum's)
    ms_result: SpeciesResult | None = None
    ms_run: LCMSResult | None = None
    nmr_result: NMRSpeciesResult | None = None
    nmr_spectrum: NMRResult | None = None

    @property
    def detected(self) -> bool:
        return self.status == "detected"

    def ms_seen(self) -> MSObservation:
        """The MS observation behind a status only MS gives (tentative, in-blank)."""
        if self.ms is None:
            raise InternalError(f"{self.species.name} is {self.status} without an MS observation")
        return self.ms

    def describe(self) -> list[str]:
        lines = []
        if self.ms is not None and self.ms.status == "detected":
            lines.append(f"{self.species.name}: {self.ms.describe()}")
        if self.nmr is not None and self.nmr.detected:
            lines.append(f"{self.species.name}: {self.nmr.describe()}")
        return lines


@dataclass
class SampleEvidence:
    route: Route
    stage: Stage
    species: dict[str, SpeciesEvidence]
    ms_runs: int  # runs with MS1 data
    nmr: NMRResult | None
    lcms: list[LCMSResult]
    uv: list[UVResult] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    # the LC method's elution window (min) of a species, where the config gives one
    retention: dict[str, tuple[float, float]] = field(default_factory=dict)

    def of_role(self, *roles: str) -> list[SpeciesEvidence]:
        return [e for e in self.species.values() if e.species.role in roles]

    def nmr_seen(self) -> NMRResult:
        """The 1H spectrum behind a finding only it gives (solvents, water)."""
        if self.nmr is None:
            raise InternalError("a 1H NMR finding without a 1H NMR spectrum")
        return self.nmr


def best_ms_result(species_id: str, runs: list[LCMSResult]) -> tuple[SpeciesResult | None, LCMSResult | None]:
    best, best_run = None, None
    for run in runs:
        for result in run.species:
            if result.species_id != species_id:
                continue
            key = (MS_RANK[result.status], result.sn or 0.0)
            if best is None or key > (MS_RANK[best.status], best.sn or 0.0):
                best, best_run = result, run
    return best, best_run


def nmr_species_result(species_id: str, spectra: list[NMRResult]) -> tuple[NMRSpeciesResult | None, NMRResult | None]:
    found = [(r, spectrum) for spectrum in spectra for r in spectrum.species if r.species_id == species_id]
    found.sort(key=lambda pair: not pair[0].detected)
    return found[0] if found else (None, None)


def combined_status(ms: SpeciesResult | None, nmr: NMRSpeciesResult | None) -> tuple[str, list[str]]:
    """One status from every technique that looked; the techniques list says which saw it."""
    techniques = []
    if ms is not None and ms.status == "detected":
        techniques.append("lcms")
    if nmr is not None and nmr.detected:
        techniques.append("nmr")
    if techniques:
        return "detected", techniques
    if ms is not None:
        return ms.status, []
    return ("not-detected" if nmr is not None else "not-assessed"), []


def _ms_observation(result: SpeciesResult, run: LCMSResult) -> MSObservation:
    features = sorted(result.features, key=lambda f: -f.total_area)
    # m/z to the precision the run has: four decimals at high resolution, nominal at unit resolution
    digits = 4 if run.resolution is not None and run.resolution.high else 0
    ions = tuple(f"{f.target.ion} m/z {(f.observed_mz or f.target.mz):.{digits}f}" for f in features)
    return MSObservation(
        result.status,
        result.rt_min,
        result.relative_area_pct,
        ions,
        tuple(result.ambiguous_with),
        run.source_path,
        tuple(result.notes) if result.status != "detected" else (),
    )


def _nmr_observation(result: NMRSpeciesResult, spectrum: NMRResult) -> NMRObservation:
    signals = tuple(
        f"{s['group']} {s['multiplicity']} {s['observed_ppm']:.2f} ppm ({s['protons']}H)"
        for s in result.signals
        if s.get("observed_ppm") is not None
    )
    mol_pct = None if result.mol_ratio is None else 100.0 * result.mol_ratio
    return NMRObservation(result.detected, mol_pct, signals, spectrum.source_path)


def gather(
    route: Route, stage: Stage, lcms: list[LCMSResult], nmr: list[NMRResult], uv: list[UVResult] | None = None
) -> SampleEvidence:
    """Every species combined once over the sample's files: the view checks,
    diagnoses and the report all read."""
    ms_runs = [run for run in lcms if run.polarity is not None]
    evidence: dict[str, SpeciesEvidence] = {}
    for species in route.species:
        ms_result, run = best_ms_result(species.id, lcms)
        nmr_result, spectrum = nmr_species_result(species.id, nmr)
        status, techniques = combined_status(ms_result, nmr_result)
        evidence[species.id] = SpeciesEvidence(
            species=species,
            stage_role=stage.role_of(species.id),
            status=status,
            techniques=tuple(techniques),
            # a result always comes with its run or spectrum
            ms=_ms_observation(ms_result, run)
            if ms_result is not None and run is not None and ms_result.status != "not-detected"
            else None,
            nmr=_nmr_observation(nmr_result, spectrum) if nmr_result is not None and spectrum is not None else None,
            ms_looked=bool(ms_runs),
            nmr_looked=nmr_result is not None,
            ms_result=ms_result,
            ms_run=run,
            nmr_result=nmr_result,
            nmr_spectrum=spectrum,
        )
    sample = SampleEvidence(route, stage, evidence, len(ms_runs), nmr[0] if nmr else None, lcms, list(uv or []))
    sample.disagreements = _disagreements(sample, ms_runs)
    return sample


def _disagreements(sample: SampleEvidence, ms_runs: list[LCMSResult]) -> list[str]:
    notes = []
    if len(ms_runs) > 1:
        for species in sample.route.species:
            seen = [
                (run.source_path, r.relative_area_pct)
                for run in ms_runs
                for r in run.species
                if r.species_id == species.id and r.status == "detected"
            ]
            missed = [
                run.source_path
                for run in ms_runs
                for r in run.species
                if r.species_id == species.id and r.status == "not-detected"
            ]
            if seen and missed:
                where = ", ".join(f"{path} ({pct:.2f} %)" if pct is not None else path for path, pct in seen)
                notes.append(f"LC-MS runs disagree on {species.name}: seen in {where}, not in {', '.join(missed)}")
    for item in sample.species.values():
        ms, nmr = item.ms, item.nmr  # looked at by NMR: there is an NMR observation
        if not (item.ms_looked and item.nmr_looked) or nmr is None or item.stage_role == "not-applicable":
            continue
        if (
            ms is not None
            and ms.status == "detected"
            and not nmr.detected
            and (item.stage_role == "main" or (ms.area_pct or 0.0) >= MS_PCT_NMR_SHOULD_SEE)
        ):
            notes.append(
                f"MS and 1H NMR disagree on {item.species.name}: MS sees it "
                f"({ms.area_pct or 0:.1f} % area, {ms.source}) but its NMR signals are "
                f"not found ({nmr.source})"
            )
        elif nmr.detected and ms is None:
            notes.append(
                f"MS and 1H NMR disagree on {item.species.name}: 1H NMR sees it "
                f"({nmr.describe()}) but no ion of it is found by MS "
                "(poor ionisation or outside the scan range?)"
            )
    return notes
