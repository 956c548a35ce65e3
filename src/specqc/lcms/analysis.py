"""Route-aware LC-MS species analysis.

Pipeline (each step a small function; the effective parameters are returned
with the result):

1. MS1 of one polarity, centroided; resolution class.
2. The run's profile (``background``): its typical peak width, persistent
   ions and humps (baseline, never peaks), whether it separates at all, its
   mass calibration and the m/z tolerance its own scatter supports.
3. An extracted ion chromatogram per target ion of every route species, and
   its chromatographic peaks above the background.
4. Physical peaks: ions of different species that fall within the tolerance
   of each other and co-elute are the same signal.
5. Species hypotheses (a species at an RT, supported by its anchor ions plus
   any co-eluting adducts, multimers and fragments) accepted greedily, largest
   first; a signal taken by one hypothesis cannot be claimed again. That is
   what makes an in-source Boc fragment belong to its co-eluting parent and a
   proton-bound [2M+H]+ belong to the monomer rather than to an oligomer.
   Hypotheses that share the same signals with nothing to tell them apart are
   ambiguous with each other.
6. Evidence per species scaled to the resolution (``evidence``), a blank's
   signal, the status and a calibrated confidence.
7. Amounts: every ion and isotope of a species summed, a saturated apex
   estimated from its isotope peak, the isotope peaks of a co-eluting species
   taken out of another's ions (``amounts``).
8. Untargeted traces for the peaks no species explains; relative areas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..chem.ions import TargetIon, target_ions
from ..chem.route import Route, Stage
from ..errors import InputError, InternalError
from ..model import LCMSRun, Polarity
from .amounts import correct_amounts
from .background import RunProfile, bin_grid, run_profile
from .evidence import (
    ISOTOPE_RESOLVED_FWHM,
    SECOND_ION_MAX_RATIO,
    SECOND_ION_MIN_R,
    SECOND_ION_MIN_SN,
    IsotopeCheck,
    SpeciesEvidence,
    blank_comparison,
    confidence,
    decide,
    isotope_check,
    profile_correlation,
)
from .params import LCMSParams, Tolerance
from .peaks import ChromPeak, background_baseline, detect_peaks, integrate, whole_run_peak
from .signals import PeakMatrix, Resolution, choose_polarity, choose_tolerance, ms1_scans, resolution_of

C13_SPACING = 1.0033548  # 13C - 12C, u
MIN_CHROMATOGRAPHIC_SCANS = 20
MIN_CHROMATOGRAPHIC_SPAN_MIN = 0.5
# Statuses whose signal is the sample's own and counts in the relative areas.
COUNTED = ("detected", "tentative")


@dataclass
class IonFeature:
    target: TargetIon
    peak: ChromPeak
    observed_mz: float | None
    ppm_error: float | None  # as measured, before any calibration offset is removed
    mass_error: float | None = None  # ppm (high resolution) or Da (unit), calibration offset removed
    cluster: int = -1
    isotope_areas: tuple[float, ...] = ()
    corrected_area: float | None = None  # the monoisotopic area after saturation / overlap corrections
    notes: list[str] = field(default_factory=list)

    @property
    def mono_area(self) -> float:
        return self.peak.area if self.corrected_area is None else self.corrected_area

    @property
    def total_area(self) -> float:
        return self.mono_area + sum(self.isotope_areas)


@dataclass
class Hypothesis:
    species_id: str
    rt_min: float
    features: list[IonFeature]

    @property
    def area(self) -> float:
        return sum(f.peak.area for f in self.features)

    @property
    def clusters(self) -> set[int]:
        return {f.cluster for f in self.features}

    def anchor_area(self, clusters: set[int] | None = None) -> float:
        # a species whose monomer ions lie below the scan range stands on its multimers (see _hypotheses)
        standing = [f for f in self.features if f.target.anchor] or self.features
        return sum(f.peak.area for f in standing if clusters is None or f.cluster in clusters)


@dataclass
class SpeciesResult:
    species_id: str
    status: str  # detected | tentative | in-blank | not-detected
    stage_role: str
    rt_min: float | None = None
    area: float = 0.0
    relative_area_pct: float | None = None
    sn: float | None = None
    isotope_score: float | None = None
    features: list[IonFeature] = field(default_factory=list)
    ambiguous_with: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    evidence: SpeciesEvidence | None = None
    confidence: dict | None = None

    @property
    def detected(self) -> bool:
        return self.status == "detected"

    @property
    def seen(self) -> bool:
        """A signal of the sample's own that this species may be (detected or tentative)."""
        return self.status in COUNTED


@dataclass
class UnexplainedPeak:
    rt_min: float
    mz: float
    area: float
    sn: float
    relative_area_pct: float | None = None
    note: str = ""


@dataclass
class SpeciesTrace:
    """A species' extracted ion chromatogram (its ions summed) and the peak integrated."""

    species_id: str
    status: str
    intensity: np.ndarray
    peak_start_min: float
    peak_end_min: float
    apex_min: float


@dataclass
class Traces:
    """Chromatograms kept for plotting; not part of the JSON report."""

    rt_min: np.ndarray
    tic: np.ndarray
    species: list[SpeciesTrace] = field(default_factory=list)


@dataclass
class LCMSResult:
    source_path: str
    polarity: Polarity | None
    resolution: Resolution | None
    tolerance: Tolerance | None
    species: list[SpeciesResult]
    unexplained: list[UnexplainedPeak]
    params: dict
    notes: list[str]
    scans: int
    rt_range_min: tuple[float, float] | None
    traces: Traces | None = None
    profile: RunProfile | None = None
    blank_source: str | None = None

    def species_apex_min(self) -> dict[str, float]:
        """MS apex of each species seen (detected or tentative), for tying UV peaks to species."""
        return {r.species_id: r.rt_min for r in self.species if r.seen and r.rt_min is not None}


class _Windows:
    """Target m/z windows with the run's calibration offset removed."""

    def __init__(self, tolerance: Tolerance, offset: float):
        self.tolerance, self.offset = tolerance, offset

    def centre(self, mz: float) -> float:
        return mz * (1.0 + self.offset * 1e-6) if self.tolerance.unit == "ppm" else mz + self.offset

    def around(self, mz: float) -> tuple[float, float]:
        centre = self.centre(mz)
        half = self.tolerance.da(centre)
        return centre - half, centre + half

    def isotope(self, target: TargetIon, k: int) -> tuple[float, float]:
        """The window of isotope peak k: its fine-structure lines, each within the tolerance."""
        first, last = target.isotope_extent(k)
        return self.around(first)[0], self.around(last)[1]

    def error(self, observed: float | None, mz: float) -> float | None:
        if observed is None:
            return None
        centre = self.centre(mz)
        return (observed - centre) / mz * 1e6 if self.tolerance.unit == "ppm" else observed - centre


def _traces(matrix: PeakMatrix, results: dict[str, SpeciesResult], windows: _Windows) -> Traces:
    tic = np.bincount(matrix.scan, weights=matrix.intensity, minlength=matrix.n_scans)
    traces = Traces(matrix.rt_min, tic)
    for result in results.values():
        if not result.features or result.status == "not-detected":
            continue
        spans = {tuple(round(x, 5) for x in windows.around(f.target.mz)) for f in result.features}
        # at least one span, so an array
        intensity = cast(np.ndarray, sum(matrix.eic(low, high) for low, high in sorted(spans)))
        lead = max(result.features, key=lambda f: f.total_area).peak
        traces.species.append(
            SpeciesTrace(result.species_id, result.status, intensity, lead.start_rt, lead.end_rt, lead.apex_rt)
        )
    return traces


def _blank_matrix(blank: LCMSRun | None, polarity: Polarity) -> PeakMatrix | None:
    if blank is None:
        return None
    scans = ms1_scans(blank, polarity)
    if not scans.count:
        scans = ms1_scans(blank)
    if not scans.count:
        return None
    return PeakMatrix(scans.rt_min, scans.peaks)


def analyze_lcms(
    run: LCMSRun, route: Route, stage: Stage, params: LCMSParams, blank: LCMSRun | None = None
) -> LCMSResult:
    params = params.validated()
    polarity = choose_polarity(run, params.polarity)
    effective = params.as_dict()
    if polarity is None:
        return _no_ms1_result(run, route, stage, effective)
    ion_polarity = polarity if polarity in ("positive", "negative") else "positive"
    scans = ms1_scans(run, polarity)
    if not scans.count:
        raise InputError(f"no MS1 spectra of {polarity} polarity", run.source_path)
    resolution = resolution_of(run, scans)
    nominal = choose_tolerance(params, resolution)
    rt = scans.rt_min
    matrix = PeakMatrix(rt, scans.peaks)
    scan_interval = float(np.median(np.diff(rt))) if rt.size > 1 else 1.0
    chromatographic = (
        rt.size >= MIN_CHROMATOGRAPHIC_SCANS and float(rt.max() - rt.min()) >= MIN_CHROMATOGRAPHIC_SPAN_MIN
    )
    profile = run_profile(matrix, resolution, ion_polarity, nominal, params, tolerance_given=params.tolerance != "auto")
    tolerance = profile.tolerance
    windows = _Windows(tolerance, profile.mass_offset)
    window = max(params.coelution_window_min, 2.5 * scan_interval, 0.5 * (profile.typical_fwhm_min or 0.0))
    detect = dict(
        noise_floor=matrix.noise_floor,
        min_sn=params.min_peak_sn,
        min_points=params.min_peak_points,
        baseline_window=profile.baseline_window_scans,
        finder=detect_peaks if chromatographic else whole_run_peak,
    )
    if chromatographic:
        detect["smoothing"] = profile.smoothing_scans
    notes = [f"reader warning: {w}" for w in run.metadata.get("reader_warnings", [])[:5]]
    if not chromatographic:
        notes.append(
            f"{rt.size} MS1 scans over {float(rt.max() - rt.min()) * 60:.1f} s: too short for "
            "chromatography; ions are judged on the whole run (infusion / flow injection)"
        )
    elif not profile.separated:
        notes.append("most ions follow one profile: no chromatographic separation (flow injection?)")
    blank_matrix = _blank_matrix(blank, polarity)
    effective.update(
        chromatographic=chromatographic,
        polarity_used=polarity,
        tolerance_used=str(tolerance),
        coelution_window_used_min=round(window, 4),
        resolution=resolution.as_dict(),
        noise_floor=matrix.noise_floor,
        run_profile=profile.as_dict(),
        blank=blank.source_path if blank is not None else None,
    )

    targets = {s.id: target_ions(s, ion_polarity, params.isotope_peaks) for s in route.species}
    features = _ion_features(matrix, targets, windows, detect, profile)
    if resolution.high:
        features = [
            f for f in features if f.target.charge in (1, -1) or _charge_state_confirmed(f, matrix, windows, profile)
        ]
    features = _drop_isotope_shadows(features, tolerance, window)
    _assign_clusters(features, tolerance, window)
    acquired = (float(matrix.mz[0]), float(matrix.mz[-1])) if matrix.mz.size else None
    hypotheses = _hypotheses(
        features,
        window,
        primary_only=not resolution.high,
        acquired=acquired,
        coelutes=_coelution_test(matrix, windows, profile),
    )
    accepted, ambiguous_groups, secondary = _accept(hypotheses, params.distinguishing_area_fraction)

    results = {s.id: SpeciesResult(s.id, "not-detected", stage.role_of(s.id)) for s in route.species}
    filled: list[tuple[SpeciesResult, Hypothesis]] = []
    for hypothesis in accepted:
        filled.append((results[hypothesis.species_id], hypothesis))
    for group in ambiguous_groups:
        for hypothesis in group:
            result = results[hypothesis.species_id]
            result.ambiguous_with = sorted(h.species_id for h in group if h is not hypothesis)
            filled.append((result, hypothesis))
    for result, hypothesis in filled:
        _fill_result(result, hypothesis, matrix, windows, profile)
    correct_amounts([r for r, _ in filled], tolerance, window)
    context: dict[str, Any] = dict(
        matrix=matrix,
        windows=windows,
        profile=profile,
        resolution=resolution,
        chromatographic=chromatographic,
        blank=blank_matrix,
        params=params,
    )
    for result, _ in filled:
        result.evidence = _species_evidence(result, acquired=acquired, **context)
    if resolution.high:
        _recalibrate([r for r, _ in filled], profile, params)
    for result, _ in filled:
        evidence = result.evidence
        if evidence is None:
            raise InternalError(f"{result.species_id}: its evidence was not gathered")
        result.status, reasons = decide(evidence, params)
        result.notes.extend(reasons)
        result.confidence = confidence(evidence)
        result.isotope_score = evidence.isotope.score if evidence.isotope.assessable else None
        result.area = sum(f.total_area for f in result.features)

    explained = [f for r, _ in filled for f in r.features]
    unexplained = _unexplained_peaks(matrix, windows, window, explained, detect, params, profile, blank_matrix)
    for hypothesis in secondary:
        strongest = max(hypothesis.features, key=lambda f: f.peak.area)
        unexplained.append(
            UnexplainedPeak(
                rt_min=hypothesis.rt_min,
                mz=strongest.observed_mz or strongest.target.mz,
                area=sum(f.peak.area for f in hypothesis.features),
                sn=strongest.peak.sn,
                note=f"{strongest.target.ion} of {hypothesis.species_id} at a second retention time "
                "(isomer or another compound of the same mass)",
            )
        )
    _relative_areas(results, ambiguous_groups, unexplained)
    unexplained.sort(key=lambda p: -p.area)

    return LCMSResult(
        source_path=run.source_path,
        polarity=polarity,
        resolution=resolution,
        tolerance=tolerance,
        species=[results[s.id] for s in route.species],
        unexplained=unexplained[: params.unexplained_max_listed],
        params=effective,
        notes=notes,
        scans=scans.count,
        rt_range_min=(float(rt.min()), float(rt.max())),
        traces=_traces(matrix, results, windows),
        profile=profile,
        blank_source=blank.source_path if blank is not None else None,
    )


def _no_ms1_result(run: LCMSRun, route: Route, stage: Stage, effective: dict) -> LCMSResult:
    kinds = sorted({c.kind for c in run.chromatograms})
    note = (
        "no MS1 spectra in this file"
        + (f" (it holds {len(run.chromatograms)} chromatograms: {', '.join(kinds)})" if kinds else "")
        + "; species cannot be assessed from it"
    )
    return LCMSResult(
        source_path=run.source_path,
        polarity=None,
        resolution=None,
        tolerance=None,
        species=[SpeciesResult(s.id, "not-detected", stage.role_of(s.id)) for s in route.species],
        unexplained=[],
        params=effective,
        notes=[f"reader warning: {w}" for w in run.metadata.get("reader_warnings", [])[:5]] + [note],
        scans=0,
        rt_range_min=None,
    )


def _ion_features(
    matrix: PeakMatrix, targets: dict[str, list[TargetIon]], windows: _Windows, detect: dict, profile: RunProfile
) -> list[IonFeature]:
    """Peaks on every target ion's chromatogram; a hump far wider than the run's
    peaks is background there, not a signal of the species."""
    features: list[IonFeature] = []
    cache: dict[tuple[float, float], list[ChromPeak]] = {}
    for species_targets in targets.values():
        for target in species_targets:
            low, high = windows.around(target.mz)
            key = (round(low, 5), round(high, 5))
            if key not in cache:
                cache[key] = [p for p in _find(matrix.rt_min, matrix.eic(low, high), detect) if not profile.is_hump(p)]
            for peak in cache[key]:
                observed = matrix.weighted_mz(low, high, peak.start, peak.end)
                ppm = None if observed is None else (observed - target.mz) / target.mz * 1e6
                features.append(IonFeature(target, peak, observed, ppm, windows.error(observed, target.mz)))
    return features


def _find(rt_min: np.ndarray, trace: np.ndarray, detect: dict) -> list[ChromPeak]:
    options = dict(detect)
    finder = options.pop("finder")
    return finder(rt_min, trace, **options)


def _charge_state_confirmed(feature: IonFeature, matrix: PeakMatrix, windows: _Windows, profile: RunProfile) -> bool:
    """At high resolution a z >= 2 ion must show its 13C peak 1/z away (not 1 u away);
    without it a singly charged ion of another species is the better explanation."""
    target, peak = feature.target, feature.peak
    expected = target.isotopes[1] if len(target.isotopes) > 1 else 0.0
    low, high = windows.isotope(target, 1)
    found = integrate(matrix.rt_min, matrix.eic(low, high), peak.start, peak.end, profile.baseline_window_scans)
    if expected * peak.sn < 3.0:  # isotope would be lost in the noise: cannot judge, keep it
        return True
    return found >= 0.3 * expected * peak.area


def _assign_clusters(features: list[IonFeature], tolerance: Tolerance, window: float) -> None:
    """Union features that are one physical signal (same m/z within tolerance, co-eluting)."""
    parent = list(range(len(features)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(features)), key=lambda i: features[i].target.mz)
    for position, i in enumerate(order):
        a = features[i]
        for j in order[position + 1 :]:
            b = features[j]
            if b.target.mz - a.target.mz > tolerance.da(a.target.mz):
                break
            if abs(a.peak.apex_rt - b.peak.apex_rt) <= window:
                parent[find(i)] = find(j)
    for i, feature in enumerate(features):
        feature.cluster = find(i)


def _hypotheses(
    features: list[IonFeature],
    window: float,
    primary_only: bool = False,
    acquired: tuple[float, float] | None = None,
    coelutes=None,
) -> list[Hypothesis]:
    """Species at retention times, each started by one of its anchor ions. At
    unit resolution only the primary ion ([M+H]+ / [M-H]-) may start one: a
    basic amine or an ester of these routes is seen protonated first, and an
    adduct's nominal m/z alone matches too much of a run's chemical noise. The
    exception is a primary ion outside the m/z range acquired, where the
    adducts (and multimers) are all there is. ``coelutes(anchor, feature)``,
    when given, must also hold for an ion to join: the same molecules make
    every ion of a species, so its traces rise and fall together."""
    by_species: dict[str, list[IonFeature]] = {}
    for feature in features:
        by_species.setdefault(feature.target.species_id, []).append(feature)
    hypotheses: list[Hypothesis] = []
    for species_id, species_features in by_species.items():

        def may_anchor(feature: IonFeature) -> bool:
            unseen_primary = acquired is not None and not (acquired[0] <= feature.target.primary_mz <= acquired[1])
            if not feature.target.anchor:
                # with its monomer ions below the scan range, a species' [2M+H]+ is all there is: it may
                # then stand for the species, and share the signal with an oligomer of that mass
                return unseen_primary and feature.target.kind == "multimer"
            return not primary_only or feature.target.kind == "primary" or unseen_primary

        anchors = sorted((f for f in species_features if may_anchor(f)), key=lambda f: -f.peak.area)
        used_rts: list[float] = []
        for anchor in anchors:
            if any(abs(anchor.peak.apex_rt - rt) <= window for rt in used_rts):
                continue
            used_rts.append(anchor.peak.apex_rt)
            chosen: dict[str, IonFeature] = {}
            for feature in species_features:
                if abs(feature.peak.apex_rt - anchor.peak.apex_rt) > window:
                    continue
                if feature is not anchor and coelutes is not None and not coelutes(anchor, feature):
                    continue
                best = chosen.get(feature.target.ion)
                if best is None or feature.peak.area > best.peak.area:
                    chosen[feature.target.ion] = feature
            hypotheses.append(Hypothesis(species_id, anchor.peak.apex_rt, list(chosen.values())))
    return hypotheses


def _accept(hypotheses: list[Hypothesis], distinguishing_fraction: float):
    """Greedy acceptance, largest explained area first."""
    pending = sorted(hypotheses, key=lambda h: -h.area)
    consumed: set[int] = set()
    accepted: list[Hypothesis] = []
    ambiguous: list[list[Hypothesis]] = []
    secondary: list[Hypothesis] = []
    claimed_species: set[str] = set()
    done: set[int] = set()
    for index, hypothesis in enumerate(pending):
        if index in done:
            continue
        done.add(index)
        free = hypothesis.clusters - consumed
        anchor_total = hypothesis.anchor_area()
        if anchor_total <= 0 or hypothesis.anchor_area(free) < 0.5 * anchor_total:
            continue  # its main signal already belongs to a co-eluting parent
        hypothesis = Hypothesis(
            hypothesis.species_id, hypothesis.rt_min, [f for f in hypothesis.features if f.cluster in free]
        )
        group = [hypothesis]
        for other_index in range(index + 1, len(pending)):
            other = pending[other_index]
            if other_index in done or other.species_id == hypothesis.species_id:
                continue
            shared = other.clusters & hypothesis.clusters
            if not shared:
                continue
            if (
                _area_outside(other, shared) <= distinguishing_fraction * other.area
                and _area_outside(hypothesis, shared) <= distinguishing_fraction * hypothesis.area
            ):
                group.append(other)
                done.add(other_index)
        consumed |= hypothesis.clusters
        if len(group) > 1:
            fresh = [h for h in group if h.species_id not in claimed_species]
            claimed_species.update(h.species_id for h in group)
            if len(fresh) > 1:
                ambiguous.append(fresh)
            elif fresh:
                accepted.append(fresh[0])
            else:
                secondary.append(hypothesis)
            continue
        if hypothesis.species_id in claimed_species:
            secondary.append(hypothesis)
        else:
            claimed_species.add(hypothesis.species_id)
            accepted.append(hypothesis)
    return accepted, ambiguous, secondary


def _area_outside(hypothesis: Hypothesis, clusters: set[int]) -> float:
    return sum(f.peak.area for f in hypothesis.features if f.cluster not in clusters)


def _merge_isotopes(peaks: list[UnexplainedPeak], tolerance: Tolerance, window: float) -> list[UnexplainedPeak]:
    """Fold isotope peaks (+1, +2 u at z = 1: 13C, 34S, 37Cl, 81Br…) into their monoisotopic peak."""
    peaks = sorted(peaks, key=lambda p: p.mz)
    kept: list[UnexplainedPeak] = []
    for peak in peaks:
        parent = None
        for candidate in kept:
            if abs(candidate.rt_min - peak.rt_min) > window or candidate.area <= peak.area:
                continue
            for k in (1, 2):
                if abs(peak.mz - (candidate.mz + k * C13_SPACING)) <= tolerance.da(peak.mz) + 0.006 * k:
                    parent = candidate
                    break
            if parent:
                break
        if parent is not None:
            parent.area += peak.area
        else:
            kept.append(peak)
    return kept


def _fill_result(
    result: SpeciesResult, hypothesis: Hypothesis, matrix: PeakMatrix, windows: _Windows, profile: RunProfile
) -> None:
    """Areas of the hypothesis' ions and of their isotope peaks."""
    for feature in hypothesis.features:
        target, peak = feature.target, feature.peak
        areas = []
        for k in range(1, len(target.isotopes)):
            low, high = windows.isotope(target, k)
            areas.append(
                integrate(matrix.rt_min, matrix.eic(low, high), peak.start, peak.end, profile.baseline_window_scans)
            )
        feature.isotope_areas = tuple(areas)
    features = sorted(hypothesis.features, key=lambda f: -f.peak.area)
    anchors = [f for f in features if f.target.anchor]
    lead = anchors[0] if anchors else features[0]
    result.rt_min = lead.peak.apex_rt
    result.sn = max(f.peak.sn for f in anchors) if anchors else lead.peak.sn
    result.features = features
    result.area = sum(f.total_area for f in features)


def _species_evidence(
    result: SpeciesResult,
    *,
    matrix: PeakMatrix,
    windows: _Windows,
    profile: RunProfile,
    resolution: Resolution,
    chromatographic: bool,
    blank: PeakMatrix | None,
    params: LCMSParams,
    acquired: tuple[float, float] | None,
) -> SpeciesEvidence:
    # at unit resolution the species stands on its primary ion where it was acquired (see _hypotheses)
    anchors = [f for f in result.features if f.target.anchor]
    primary = [f for f in anchors if f.target.kind == "primary"]
    anchor = max(
        (primary if primary and not resolution.high else anchors) or result.features, key=lambda f: f.peak.area
    )
    peak, target = anchor.peak, anchor.target
    window = profile.baseline_window_scans
    low, high = windows.around(target.mz)
    anchor_trace = matrix.eic(low, high)
    isotope_traces = [matrix.eic(*windows.isotope(target, k)) for k in range(1, len(target.isotopes))]
    spacing = 1.0 / abs(target.charge)
    if len(target.isotopes) < 2:
        isotope = IsotopeCheck(False, None, None, (), (), "no isotope pattern computed")
    elif (
        resolution.resolving_power is not None
        and target.mz / resolution.resolving_power > ISOTOPE_RESOLVED_FWHM * spacing
    ):
        # peaks wider than this merge M+1 into M's flank: the centroids cannot part them
        isotope = IsotopeCheck(
            False,
            None,
            None,
            (),
            tuple(target.isotopes[1:]),
            f"isotope peaks not resolved (FWHM {target.mz / resolution.resolving_power:.2f} for a {spacing:g} spacing)",
        )
    else:
        isotope = isotope_check(
            peak, target.isotopes, isotope_traces, matrix, window, "high" if resolution.high else "unit", anchor_trace
        )
    segment = slice(peak.start, peak.end + 1)
    anchor_residual = (anchor_trace - background_baseline(anchor_trace, window))[segment]
    second = []
    for feature in result.features:
        if feature is anchor or feature.cluster == anchor.cluster or feature.peak.sn < SECOND_ION_MIN_SN:
            continue
        if feature.peak.height > SECOND_ION_MAX_RATIO * peak.height:
            continue
        trace = matrix.eic(*windows.around(feature.target.mz))
        r = profile_correlation(anchor_residual, (trace - background_baseline(trace, window))[segment])
        if r is not None and r >= SECOND_ION_MIN_R:
            second.append(f"{feature.target.ion} (r {r:.2f})")
    fwhm_ratio = (
        peak.fwhm_min / profile.typical_fwhm_min if peak.fwhm_min is not None and profile.typical_fwhm_min else None
    )
    return SpeciesEvidence(
        resolution="high" if resolution.high else "unit",
        chromatographic=chromatographic,
        separated=profile.separated,
        anchor_ion=target.ion,
        anchor_mz=target.mz,
        mass_error=anchor.mass_error,
        mass_tolerance=windows.tolerance,
        sn=float(peak.sn),
        isotope=isotope,
        fwhm_ratio=fwhm_ratio,
        apex_scans=peak.apex_scans,
        shape_consistent=profile.shape_consistent(peak),
        second_ions=second,
        blank=blank_comparison(blank, low, high, peak, profile),
        ambiguous_with=list(result.ambiguous_with),
        primary_seen=bool(primary),
        primary_acquired=acquired is None or acquired[0] <= target.primary_mz <= acquired[1],
    )


MEMBER_MIN_R = 0.7  # profile correlation for an ion to join a species at that time


def _coelution_test(matrix: PeakMatrix, windows: _Windows, profile: RunProfile):
    """anchor, feature -> whether the feature's trace follows the anchor's over
    the anchor's peak (a neighbouring compound 0.1 min away does not)."""
    cache: dict[tuple[float, ...], np.ndarray] = {}  # (low, high) -> residual trace

    def residual(feature: IonFeature) -> np.ndarray:
        key = tuple(round(x, 5) for x in windows.around(feature.target.mz))
        if key not in cache:
            trace = matrix.eic(*key)
            cache[key] = trace - background_baseline(trace, profile.baseline_window_scans)
        return cache[key]

    def coelutes(anchor: IonFeature, feature: IonFeature) -> bool:
        segment = slice(anchor.peak.start, anchor.peak.end + 1)
        r = profile_correlation(residual(anchor)[segment], residual(feature)[segment])
        return r is None or r >= MEMBER_MIN_R

    return coelutes


RECALIBRATION_MIN_SN = 100.0  # species strong enough to recalibrate the run on
RECALIBRATION_SPECIES = 3
RESIDUAL_DRIFT_PPM = 1.0  # what an offset measured at one m/z and time leaves elsewhere in the run


def _recalibrate(results: list[SpeciesResult], profile: RunProfile, params: LCMSParams) -> None:
    """High resolution: the run's calibration from its strongest, cleanly
    identified species (an isotope envelope that fits), and each species'
    mass error after it. A compound a few ppm off a formula then shows as
    what it is, instead of hiding in a window wide enough for an
    uncalibrated run. Weaker ions scatter more, so the limit widens with
    1/sqrt(S/N) and narrows with the scans averaged."""
    strong = [
        r.evidence
        for r in results
        if r.evidence is not None
        and r.evidence.mass_error is not None
        and r.evidence.sn >= RECALIBRATION_MIN_SN
        and r.evidence.isotope.consistent
        and not r.evidence.ambiguous_with
    ]
    if not strong or profile.mass_precision_ppm is None:
        return
    strong.sort(key=lambda e: -e.sn)
    references = strong[:RECALIBRATION_SPECIES]
    offset = float(np.median([e.mass_error for e in references]))
    names = ", ".join(f"{e.anchor_ion} m/z {e.anchor_mz:.4f}" for e in references)
    for result in results:
        evidence = result.evidence
        if evidence is None or evidence.mass_error is None:
            continue
        scans = max(evidence.apex_scans, 1)
        scatter = profile.mass_precision_ppm * math.sqrt(max(1.0, RECALIBRATION_MIN_SN / max(evidence.sn, 1.0)))
        evidence.recalibrated_error = evidence.mass_error - offset
        evidence.recalibrated_limit = max(
            params.min_tolerance_ppm, RESIDUAL_DRIFT_PPM + 3.0 * scatter / math.sqrt(scans)
        )
        evidence.recalibration_source = names


def _drop_isotope_shadows(features: list[IonFeature], tolerance: Tolerance, window: float) -> list[IonFeature]:
    """A target m/z that holds the M+1 or M+2 peak of a stronger co-eluting ion
    is mostly that isotope peak (common at unit resolution, where the 13C peak
    of one compound's ion sits on another's nominal mass): when the expected
    isotope share is at least half of it, it is not a signal of its own."""
    kept = []
    ordered = sorted(features, key=lambda f: -f.peak.area)
    for index, feature in enumerate(ordered):
        expected = 0.0
        for stronger in ordered[:index]:
            if (
                abs(stronger.peak.apex_rt - feature.peak.apex_rt) > window
                or stronger.target.charge != feature.target.charge
            ):
                continue
            for k in range(1, len(stronger.target.isotopes)):
                first, last = stronger.target.isotope_extent(k)
                if first - tolerance.da(first) <= feature.target.mz <= last + tolerance.da(last):
                    expected += stronger.peak.area * stronger.target.isotopes[k]
        if expected < ISOTOPE_SHADOW_SHARE * feature.peak.area:
            kept.append(feature)
    return kept


ISOTOPE_SHADOW_SHARE = 0.5


def _unexplained_peaks(
    matrix: PeakMatrix,
    windows: _Windows,
    window: float,
    explained: list[IonFeature],
    detect: dict,
    params: LCMSParams,
    profile: RunProfile,
    blank: PeakMatrix | None,
) -> list[UnexplainedPeak]:
    """Chromatographic peaks on the most peak-like untargeted traces that no
    species explains; background (humps, what the blank holds as strongly)
    is not a peak."""
    if matrix.mz.size == 0:
        return []
    tolerance = windows.tolerance
    traces = bin_grid(matrix, tolerance, params.unexplained_candidate_traces, rank="peak")
    explained_marks = []
    for feature in explained:
        for k in range(len(feature.target.isotopes)):
            explained_marks.append(
                (windows.centre(feature.target.isotope_mz(k)), feature.peak.start_rt, feature.peak.end_rt)
            )
    found: list[UnexplainedPeak] = []
    for b in traces.bins:
        low, _ = traces.edges(int(b) - 1)
        _, high = traces.edges(int(b) + 1)
        trace = matrix.eic(low, high)
        for peak in _find(matrix.rt_min, trace, detect):
            if peak.sn < params.unexplained_min_sn or profile.is_hump(peak):
                continue
            mz = matrix.weighted_mz(low, high, peak.start, peak.end)
            if mz is None:
                continue
            tol = tolerance.da(mz)
            if any(
                abs(mz - m) <= tol and start - window <= peak.apex_rt <= end + window
                for m, start, end in explained_marks
            ):
                continue
            comparison = blank_comparison(blank, mz - tol, mz + tol, peak, profile)  # None without a blank
            if comparison is not None and comparison.in_blank:
                continue
            duplicate = next(
                (p for p in found if abs(p.mz - mz) <= tol and abs(p.rt_min - peak.apex_rt) <= window), None
            )
            if duplicate is not None:
                if peak.area > duplicate.area:
                    duplicate.mz, duplicate.area, duplicate.sn = mz, peak.area, peak.sn
                continue
            found.append(UnexplainedPeak(peak.apex_rt, mz, peak.area, peak.sn))
    return _merge_isotopes(found, tolerance, window)


def _relative_areas(results: dict[str, SpeciesResult], ambiguous_groups, unexplained) -> None:
    """Each counted signal as % of them all; one shared signal (an ambiguous
    group) counts once; what the blank holds is not the sample's."""
    grouped = {h.species_id for group in ambiguous_groups for h in group}
    total = sum(r.area for r in results.values() if r.seen and r.species_id not in grouped)
    for group in ambiguous_groups:
        total += max(results[h.species_id].area for h in group)
    total += sum(p.area for p in unexplained)
    if total <= 0:
        return
    for result in results.values():
        if result.seen:
            result.relative_area_pct = 100.0 * result.area / total
    for peak in unexplained:
        peak.relative_area_pct = 100.0 * peak.area / total
