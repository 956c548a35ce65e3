"""Route-aware LC-MS species analysis.

Pipeline (each step a small function; the effective parameters are returned
with the result):

1. MS1 of one polarity, centroided; resolution class and m/z tolerance.
2. An extracted ion chromatogram per target ion of every route species, and
   its chromatographic peaks.
3. Physical peaks: ions of different species that fall within the tolerance
   of each other and co-elute are the same signal.
4. Species hypotheses (a species at an RT, supported by its anchor ions plus
   any co-eluting adducts, multimers and fragments) accepted greedily, largest
   first; a signal taken by one hypothesis cannot be claimed again. That is
   what makes an in-source Boc fragment belong to its co-eluting parent and a
   proton-bound [2M+H]+ belong to the monomer rather than to an oligomer.
   Hypotheses that share the same signals with nothing to tell them apart are
   reported as ambiguous with each other.
5. Isotopes summed into the areas and, at high resolution, scored.
6. Untargeted traces for the peaks no species explains; relative areas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..chem.ions import TargetIon, target_ions
from ..chem.route import Route, Stage
from ..model import LCMSRun
from .params import LCMSParams, Tolerance
from .peaks import ChromPeak, detect_peaks, integrate, whole_run_peak
from .signals import (PeakMatrix, Resolution, choose_polarity, choose_tolerance,
                      estimate_resolution, ms1_centroids)

C13_SPACING = 1.0033548  # 13C - 12C, u
MIN_CHROMATOGRAPHIC_SCANS = 20
MIN_CHROMATOGRAPHIC_SPAN_MIN = 0.5


@dataclass
class IonFeature:
    target: TargetIon
    peak: ChromPeak
    observed_mz: float | None
    ppm_error: float | None
    cluster: int = -1
    isotope_areas: tuple[float, ...] = ()

    @property
    def total_area(self) -> float:
        return self.peak.area + sum(self.isotope_areas)


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
        return sum(f.peak.area for f in self.features
                   if f.target.anchor and (clusters is None or f.cluster in clusters))


@dataclass
class SpeciesResult:
    species_id: str
    status: str  # detected | ambiguous | not-detected
    stage_role: str
    rt_min: float | None = None
    area: float = 0.0
    relative_area_pct: float | None = None
    sn: float | None = None
    isotope_score: float | None = None
    features: list[IonFeature] = field(default_factory=list)
    ambiguous_with: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def detected(self) -> bool:
        return self.status == "detected"


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
    polarity: str | None
    resolution: Resolution | None
    tolerance: Tolerance | None
    species: list[SpeciesResult]
    unexplained: list[UnexplainedPeak]
    params: dict
    notes: list[str]
    scans: int
    rt_range_min: tuple[float, float] | None
    traces: Traces | None = None

    def species_apex_min(self) -> dict[str, float]:
        """MS apex of each species seen (detected or ambiguous), for tying UV peaks to species."""
        return {r.species_id: r.rt_min for r in self.species
                if r.status in ("detected", "ambiguous") and r.rt_min is not None}


def _traces(matrix: PeakMatrix, results: dict[str, SpeciesResult], tolerance: Tolerance) -> Traces:
    tic = np.bincount(matrix.scan, weights=matrix.intensity, minlength=matrix.n_scans)
    traces = Traces(matrix.rt_min, tic)
    for result in results.values():
        if result.status == "not-detected" or not result.features:
            continue
        windows = {(round(f.target.mz - tolerance.da(f.target.mz), 5),
                    round(f.target.mz + tolerance.da(f.target.mz), 5)) for f in result.features}
        intensity = sum(matrix.eic(low, high) for low, high in sorted(windows))
        lead = max(result.features, key=lambda f: f.total_area).peak
        traces.species.append(SpeciesTrace(result.species_id, result.status, intensity, lead.start_rt, lead.end_rt,
                                           lead.apex_rt))
    return traces


def analyze_lcms(run: LCMSRun, route: Route, stage: Stage, params: LCMSParams,
                 blank: LCMSRun | None = None) -> LCMSResult:
    params = params.validated()
    polarity = choose_polarity(run, params.polarity)
    effective = params.as_dict()
    if polarity is None:
        return _no_ms1_result(run, route, stage, effective)
    ion_polarity = polarity if polarity in ("positive", "negative") else "positive"
    spectra, centroids = ms1_centroids(run, polarity)
    resolution = estimate_resolution(run, spectra, centroids)
    tolerance = choose_tolerance(params, resolution)
    rt = np.array([s.rt_min for s in spectra])
    matrix = PeakMatrix(rt, centroids)
    scan_interval = float(np.median(np.diff(rt))) if rt.size > 1 else 1.0
    window = max(params.coelution_window_min, 2.5 * scan_interval)
    baseline_scans = max(5, int(round(params.baseline_window_min / max(scan_interval, 1e-6))))
    chromatographic = (rt.size >= MIN_CHROMATOGRAPHIC_SCANS and
                       float(rt.max() - rt.min()) >= MIN_CHROMATOGRAPHIC_SPAN_MIN)
    detect = dict(noise_floor=matrix.noise_floor, min_sn=params.min_peak_sn,
                  min_points=params.min_peak_points, baseline_window=baseline_scans,
                  finder=detect_peaks if chromatographic else whole_run_peak)
    notes = [f"reader warning: {w}" for w in run.metadata.get("reader_warnings", [])[:5]]
    if not chromatographic:
        notes.append(f"{rt.size} MS1 scans over {float(rt.max() - rt.min()) * 60:.1f} s: too short for "
                     "chromatography; ions are judged on the whole run (infusion / flow injection)")
    effective.update(chromatographic=chromatographic, polarity_used=polarity, tolerance_used=str(tolerance),
                     coelution_window_used_min=round(window, 4),
                     resolution=resolution.as_dict(), noise_floor=matrix.noise_floor)

    targets = {s.id: target_ions(s, ion_polarity, params.isotope_peaks) for s in route.species}
    features = _ion_features(matrix, targets, tolerance, detect)
    if resolution.high:
        features = [f for f in features
                    if f.target.charge in (1, -1) or _charge_state_confirmed(f, matrix, tolerance, baseline_scans)]
    _assign_clusters(features, tolerance, window)
    hypotheses = _hypotheses(features, window, can_anchor=None if resolution.high else
                             _unit_resolution_anchor(centroids, tolerance, params.unit_res_min_base_peak_fraction))
    accepted, ambiguous_groups, secondary = _accept(hypotheses, params.distinguishing_area_fraction)

    results = {s.id: SpeciesResult(s.id, "not-detected", stage.role_of(s.id)) for s in route.species}
    for hypothesis in accepted:
        _fill_result(results[hypothesis.species_id], hypothesis, matrix, tolerance,
                     baseline_scans, params, resolution)
    for group in ambiguous_groups:
        for hypothesis in group:
            result = results[hypothesis.species_id]
            _fill_result(result, hypothesis, matrix, tolerance, baseline_scans, params, resolution)
            result.status = "ambiguous"
            result.ambiguous_with = sorted(h.species_id for h in group if h is not hypothesis)
            result.notes.append(
                f"same ions at {tolerance} as {', '.join(result.ambiguous_with)}; "
                "cannot be told apart in this run")
    for result in results.values():
        if result.status == "detected" and (result.sn or 0) < params.min_detection_sn:
            result.notes.append(f"signal below S/N {params.min_detection_sn:g}: not claimed")
            result.status = "not-detected"

    explained = [f for h in accepted for f in h.features] + \
                [f for g in ambiguous_groups for h in g for f in h.features]
    unexplained = _unexplained_peaks(matrix, tolerance, window, explained, detect, params)
    for hypothesis in secondary:
        strongest = max(hypothesis.features, key=lambda f: f.peak.area)
        unexplained.append(UnexplainedPeak(
            rt_min=hypothesis.rt_min, mz=strongest.observed_mz or strongest.target.mz,
            area=sum(f.peak.area for f in hypothesis.features), sn=strongest.peak.sn,
            note=f"{strongest.target.ion} of {hypothesis.species_id} at a second retention time "
                 "(isomer or another compound of the same mass)"))
    _relative_areas(results, ambiguous_groups, unexplained)
    unexplained.sort(key=lambda p: -p.area)

    return LCMSResult(
        source_path=run.source_path, polarity=polarity, resolution=resolution, tolerance=tolerance,
        species=[results[s.id] for s in route.species],
        unexplained=unexplained[: params.unexplained_max_listed],
        params=effective,
        notes=notes,
        scans=len(spectra), rt_range_min=(float(rt.min()), float(rt.max())),
        traces=_traces(matrix, results, tolerance),
    )


def _no_ms1_result(run: LCMSRun, route: Route, stage: Stage, effective: dict) -> LCMSResult:
    kinds = sorted({c.kind for c in run.chromatograms})
    note = ("no MS1 spectra in this file"
            + (f" (it holds {len(run.chromatograms)} chromatograms: {', '.join(kinds)})" if kinds else "")
            + "; species cannot be assessed from it")
    return LCMSResult(
        source_path=run.source_path, polarity=None, resolution=None, tolerance=None,
        species=[SpeciesResult(s.id, "not-detected", stage.role_of(s.id)) for s in route.species],
        unexplained=[], params=effective,
        notes=[f"reader warning: {w}" for w in run.metadata.get("reader_warnings", [])[:5]] + [note],
        scans=0, rt_range_min=None,
    )


def _ion_features(matrix: PeakMatrix, targets: dict[str, list[TargetIon]], tolerance: Tolerance,
                  detect: dict) -> list[IonFeature]:
    features: list[IonFeature] = []
    cache: dict[tuple[float, float], list[ChromPeak]] = {}
    for species_targets in targets.values():
        for target in species_targets:
            tol = tolerance.da(target.mz)
            low, high = target.mz - tol, target.mz + tol
            key = (round(low, 5), round(high, 5))
            if key not in cache:
                cache[key] = _find(matrix.rt_min, matrix.eic(low, high), detect)
            for peak in cache[key]:
                observed = matrix.weighted_mz(low, high, peak.start, peak.end)
                ppm = None if observed is None else (observed - target.mz) / target.mz * 1e6
                features.append(IonFeature(target, peak, observed, ppm))
    return features


def _find(rt_min: np.ndarray, trace: np.ndarray, detect: dict) -> list[ChromPeak]:
    options = dict(detect)
    finder = options.pop("finder")
    return finder(rt_min, trace, **options)


def _charge_state_confirmed(feature: IonFeature, matrix: PeakMatrix, tolerance: Tolerance,
                            baseline_scans: int) -> bool:
    """At high resolution a z >= 2 ion must show its 13C peak 1/z away (not 1 u away);
    without it a singly charged ion of another species is the better explanation."""
    target, peak = feature.target, feature.peak
    expected = target.isotopes[1] if len(target.isotopes) > 1 else 0.0
    mz = target.isotope_mz(1)
    tol = tolerance.da(mz)
    found = integrate(matrix.rt_min, matrix.eic(mz - tol, mz + tol), peak.start, peak.end, baseline_scans)
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
        for j in order[position + 1:]:
            b = features[j]
            if b.target.mz - a.target.mz > tolerance.da(a.target.mz):
                break
            if abs(a.peak.apex_rt - b.peak.apex_rt) <= window:
                parent[find(i)] = find(j)
    for i, feature in enumerate(features):
        feature.cluster = find(i)


def _hypotheses(features: list[IonFeature], window: float, can_anchor=None) -> list[Hypothesis]:
    """Species at retention times, each started by an anchor ion that ``can_anchor`` admits."""
    by_species: dict[str, list[IonFeature]] = {}
    for feature in features:
        by_species.setdefault(feature.target.species_id, []).append(feature)
    hypotheses: list[Hypothesis] = []
    for species_id, species_features in by_species.items():
        anchors = sorted((f for f in species_features
                          if f.target.anchor and (can_anchor is None or can_anchor(f))),
                         key=lambda f: -f.peak.area)
        used_rts: list[float] = []
        for anchor in anchors:
            if any(abs(anchor.peak.apex_rt - rt) <= window for rt in used_rts):
                continue
            used_rts.append(anchor.peak.apex_rt)
            chosen: dict[str, IonFeature] = {}
            for feature in species_features:
                if abs(feature.peak.apex_rt - anchor.peak.apex_rt) > window:
                    continue
                best = chosen.get(feature.target.ion)
                if best is None or feature.peak.area > best.peak.area:
                    chosen[feature.target.ion] = feature
            hypotheses.append(Hypothesis(species_id, anchor.peak.apex_rt, list(chosen.values())))
    return hypotheses


def _unit_resolution_anchor(centroids, tolerance: Tolerance, min_fraction: float):
    """At 0.5 Da almost any nominal mass matches some background ion, so at unit
    resolution only a primary ion ([M+H]+ / [M-H]-) that is among the strongest
    ions of its apex scan (a share of the base peak), and not the isotope peak of
    a stronger ion below it, may start a species; adducts and multimers then
    only support it."""
    def admits(feature: IonFeature) -> bool:
        if feature.target.kind != "primary":
            return False
        mz, intensity = centroids[feature.peak.apex]
        if intensity.size == 0:
            return False
        centre = feature.observed_mz or feature.target.mz
        own = float(intensity[np.abs(mz - centre) <= tolerance.da(centre)].sum())
        # an ion twice as strong one dalton lower makes this signal its 13C peak, not a species
        below = float(intensity[np.abs(mz - (centre - 1.00336)) <= tolerance.da(centre)].sum())
        return own >= min_fraction * float(intensity.max()) and below < 2.0 * own
    return admits


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
        hypothesis = Hypothesis(hypothesis.species_id, hypothesis.rt_min,
                                [f for f in hypothesis.features if f.cluster in free])
        group = [hypothesis]
        for other_index in range(index + 1, len(pending)):
            other = pending[other_index]
            if other_index in done or other.species_id == hypothesis.species_id:
                continue
            shared = other.clusters & hypothesis.clusters
            if not shared:
                continue
            if (_area_outside(other, shared) <= distinguishing_fraction * other.area and
                    _area_outside(hypothesis, shared) <= distinguishing_fraction * hypothesis.area):
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


def _fill_result(result: SpeciesResult, hypothesis: Hypothesis, matrix: PeakMatrix,
                 tolerance: Tolerance, baseline_scans: int, params: LCMSParams,
                 resolution: Resolution) -> None:
    for feature in hypothesis.features:
        target, peak = feature.target, feature.peak
        areas = []
        for k in range(1, len(target.isotopes)):
            mz = target.isotope_mz(k)
            tol = tolerance.da(mz)
            trace = matrix.eic(mz - tol, mz + tol)
            areas.append(integrate(matrix.rt_min, trace, peak.start, peak.end, baseline_scans))
        feature.isotope_areas = tuple(areas)
    features = sorted(hypothesis.features, key=lambda f: -f.peak.area)
    anchors = [f for f in features if f.target.anchor]
    lead = anchors[0] if anchors else features[0]
    result.status = "detected"
    result.rt_min = lead.peak.apex_rt
    result.sn = max(f.peak.sn for f in anchors) if anchors else lead.peak.sn
    result.features = features
    result.area = sum(f.total_area for f in features)
    if resolution.high and lead.peak.sn >= params.isotope_min_sn:
        result.isotope_score = _isotope_score(lead)


def _isotope_score(feature: IonFeature) -> float | None:
    """1 − mean relative deviation of M+1, M+2 areas from the theoretical pattern."""
    if feature.peak.area <= 0:
        return None
    errors = []
    for k, theoretical in enumerate(feature.target.isotopes[1:], start=1):
        if theoretical < 0.02 or k > len(feature.isotope_areas):
            continue
        observed = feature.isotope_areas[k - 1] / feature.peak.area
        errors.append(abs(observed - theoretical) / theoretical)
    if not errors:
        return None
    return round(max(0.0, 1.0 - float(np.mean(errors))), 3)


def _bin_index(mz: np.ndarray, tolerance: Tolerance) -> tuple[np.ndarray, callable]:
    if tolerance.unit == "ppm":
        step = math.log1p(tolerance.value * 1e-6)
        return np.floor(np.log(mz) / step).astype(np.int64), lambda b: (math.exp(b * step), math.exp((b + 1) * step))
    width = max(2 * tolerance.value, 1e-3) if tolerance.value < 0.3 else 1.0
    offset = 0.3 if tolerance.value >= 0.3 else 0.0
    return (np.floor((mz + offset) / width).astype(np.int64),
            lambda b: (b * width - offset, (b + 1) * width - offset))


def _unexplained_peaks(matrix: PeakMatrix, tolerance: Tolerance, window: float,
                       explained: list[IonFeature], detect: dict, params: LCMSParams) -> list[UnexplainedPeak]:
    """Chromatographic peaks on the strongest untargeted traces that no species explains."""
    if matrix.mz.size == 0:
        return []
    bins, edges = _bin_index(matrix.mz, tolerance)
    first = int(bins.min())
    local = bins - first
    totals = np.bincount(local, weights=matrix.intensity)
    occupied = np.nonzero(totals)[0]
    shortlist = np.sort(occupied[np.argsort(totals[occupied])[::-1][: params.unexplained_candidate_traces * 2]])
    # Rank by how peak-like the trace is (its highest scan above its mean), not by
    # total, so constant background ions do not crowd out real compounds.
    position = np.searchsorted(shortlist, local)
    position[position >= shortlist.size] = 0
    selected = shortlist[position] == local
    cells = position[selected] * matrix.n_scans + matrix.scan[selected]
    grid = np.bincount(cells, weights=matrix.intensity[selected],
                       minlength=shortlist.size * matrix.n_scans).reshape(shortlist.size, matrix.n_scans)
    peakness = grid.max(axis=1) - grid.mean(axis=1)
    strong = peakness > params.min_detection_sn * matrix.noise_floor
    candidates = shortlist[strong]
    ranked = candidates[np.argsort(peakness[strong])[::-1][: params.unexplained_candidate_traces]]

    explained_marks = []
    for feature in explained:
        for k in range(len(feature.target.isotopes)):
            explained_marks.append((feature.target.isotope_mz(k), feature.peak.start_rt,
                                    feature.peak.end_rt))

    found: list[UnexplainedPeak] = []
    for b in ranked:
        low, _ = edges(int(b) + first - 1)
        _, high = edges(int(b) + first + 1)
        trace = matrix.eic(low, high)
        for peak in _find(matrix.rt_min, trace, detect):
            if peak.sn < params.min_detection_sn:
                continue
            mz = matrix.weighted_mz(low, high, peak.start, peak.end)
            if mz is None:
                continue
            tol = tolerance.da(mz)
            if any(abs(mz - m) <= tol and start - window <= peak.apex_rt <= end + window
                   for m, start, end in explained_marks):
                continue
            duplicate = next((p for p in found if abs(p.mz - mz) <= tol
                              and abs(p.rt_min - peak.apex_rt) <= window), None)
            if duplicate is not None:
                if peak.area > duplicate.area:
                    duplicate.mz, duplicate.area, duplicate.sn = mz, peak.area, peak.sn
                continue
            found.append(UnexplainedPeak(peak.apex_rt, mz, peak.area, peak.sn))
    return _merge_isotopes(found, tolerance, window)


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


def _relative_areas(results: dict[str, SpeciesResult], ambiguous_groups, unexplained) -> None:
    total = sum(r.area for r in results.values() if r.status == "detected")
    for group in ambiguous_groups:
        total += max(results[h.species_id].area for h in group)  # one signal, counted once
    total += sum(p.area for p in unexplained)
    if total <= 0:
        return
    for result in results.values():
        if result.status in ("detected", "ambiguous"):
            result.relative_area_pct = 100.0 * result.area / total
    for peak in unexplained:
        peak.relative_area_pct = 100.0 * peak.area / total
