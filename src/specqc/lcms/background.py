"""What a run looks like before any species is searched: the width of its
peaks, its chemical background, and its mass calibration.

Real runs carry ions that are there all the time (column bleed, plasticisers,
solvent clusters) and slow humps (a contaminant eluting over minutes, the wash
at the end of a gradient). They are baseline, not peaks: a species is never
integrated out of them, and MS purity is computed after their removal. A
report lists the main ones with their share of the total ion current so a
chemist can recognise them (Keller et al., Anal. Chim. Acta 2008, 627, 71).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import numpy as np

from ..errors import ReferenceDataError
from ..reference import read_data_file
from .params import LCMSParams, Tolerance
from .peaks import background_baseline, detect_peaks
from .signals import PeakMatrix, Resolution, bin_index

# A trace present in at least this share of the scans is a persistent ion.
PERSISTENT_PRESENCE = 0.6
# A "peak" this many times wider than the run's typical peak is a hump of background.
HUMP_WIDTH_RATIO = 4.0
# The background baseline spans this many typical peak widths.
BASELINE_WIDTHS = 10.0
MIN_BASELINE_SCANS = 15
PROFILE_TRACES = 60  # the most peak-like traces that tell the run's peak width
WIDTH_TRACES = 10  # of which the strongest set the typical width
WIDTH_MIN_SN = 50.0
BACKGROUND_TRACES = 120  # the strongest traces searched for background
LISTED_BACKGROUND_IONS = 10
MIN_LISTED_SHARE_PCT = 0.2
# Mass calibration from known background ions (high resolution only).
CALIBRANT_WINDOW_PPM = 20.0
PRECISION_TRACES = 30
CALIBRANT_AGREEMENT_PPM = 3.0
CALIBRANT_MIN_SN = 20.0
# Flow injection: most strong ions follow one profile.
SEPARATION_TRACES = 30
SAME_PROFILE_R = 0.9
SAME_PROFILE_SHARE = 0.7


@dataclass(frozen=True)
class KnownIon:
    name: str
    polarity: str
    ion: str
    mz: float


@lru_cache(maxsize=1)
def known_background_ions() -> tuple[tuple[KnownIon, ...], str]:
    """data/background_ions.csv, masses computed from the ion formulas."""
    from ..chem.species import ELECTRON_MASS, monoisotopic_mass

    data = read_data_file("background_ions.csv")
    reader = csv.DictReader(io.StringIO(data.body))
    expected = {"name", "polarity", "ion", "formula", "charge"}
    if set(reader.fieldnames or ()) != expected:
        raise ReferenceDataError(f"data/background_ions.csv: columns must be {sorted(expected)}")
    ions = []
    for line_no, row in enumerate(reader, start=2):
        where = f"data/background_ions.csv row {line_no} ({row.get('name')})"
        try:
            charge = int(row["charge"])
            mass = monoisotopic_mass(row["formula"].strip())
        except Exception as exc:  # pyopenms raises its own types for a bad formula
            raise ReferenceDataError(f"{where}: {exc}") from exc
        polarity = row["polarity"].strip()
        if polarity not in ("positive", "negative") or charge == 0 or (charge > 0) != (polarity == "positive"):
            raise ReferenceDataError(f"{where}: bad polarity or charge")
        ions.append(
            KnownIon(row["name"].strip(), polarity, row["ion"].strip(), (mass - charge * ELECTRON_MASS) / abs(charge))
        )
    if not ions:
        raise ReferenceDataError("data/background_ions.csv has no rows")
    return tuple(ions), data.version


@dataclass(frozen=True)
class BackgroundIon:
    mz: float
    share_of_tic_pct: float
    kind: str  # persistent | hump
    presence: float  # share of scans where the ion is seen
    known_as: str | None = None  # e.g. "bis(2-ethylhexyl) phthalate [M+H]+"

    def as_dict(self) -> dict:
        return {
            "mz": round(self.mz, 4),
            "share_of_tic_pct": round(self.share_of_tic_pct, 2),
            "kind": self.kind,
            "presence": round(self.presence, 2),
            "known_as": self.known_as,
        }


@dataclass(frozen=True)
class RunProfile:
    scan_interval_min: float
    typical_fwhm_min: float | None  # of the run's real peaks; None when too few to tell
    baseline_window_scans: int
    smoothing_scans: int  # peak-finding kernel, half the typical peak width
    background: tuple[BackgroundIon, ...]
    background_share_pct: float  # of the total ion current
    separated: bool  # False for flow injection / infusion: every ion follows one profile
    mass_offset: float  # measured calibration offset (ppm at high resolution, Da at unit), 0 if unknown
    mass_offset_source: str
    tolerance: Tolerance
    tolerance_source: str
    mass_precision_ppm: float | None = None  # scan-to-scan m/z scatter of strong ions (high resolution)

    def as_dict(self) -> dict:
        return {
            "typical_peak_fwhm_s": None if self.typical_fwhm_min is None else round(self.typical_fwhm_min * 60, 2),
            "baseline_window_scans": self.baseline_window_scans,
            "smoothing_scans": self.smoothing_scans,
            "background_share_of_tic_pct": round(self.background_share_pct, 2),
            "background_ions": [b.as_dict() for b in self.background],
            "chromatographic_separation": self.separated,
            "mass_offset": round(self.mass_offset, 3),
            "mass_offset_unit": self.tolerance.unit,
            "mass_offset_source": self.mass_offset_source,
            "tolerance": str(self.tolerance),
            "tolerance_source": self.tolerance_source,
            "mass_precision_ppm": None if self.mass_precision_ppm is None else round(self.mass_precision_ppm, 2),
        }

    def shape_consistent(self, peak) -> bool | None:
        """A peak as wide as the run's peaks (None when either width is unknown);
        a saturated peak is as wide as its clipping made it."""
        if peak.fwhm_min is None or self.typical_fwhm_min is None or self.typical_fwhm_min <= 0:
            return None
        ratio = peak.fwhm_min / self.typical_fwhm_min
        return 1.0 / 3.0 <= ratio and (peak.flat_top or ratio <= HUMP_WIDTH_RATIO)

    def is_hump(self, peak) -> bool:
        """Far wider than the run's peaks, and not a peak the detector clipped
        (saturation flattens and widens a peak; that is no background)."""
        return (
            not peak.flat_top
            and peak.fwhm_min is not None
            and self.typical_fwhm_min is not None
            and peak.fwhm_min > HUMP_WIDTH_RATIO * self.typical_fwhm_min
        )


@dataclass
class _BinGrid:
    """Untargeted traces: the strongest m/z bins of the run, scan by scan."""

    bins: np.ndarray  # bin numbers
    grid: np.ndarray  # (bins, scans)
    edges: Callable[[int], tuple[float, float]]  # bin number -> (low, high)


def bin_grid(matrix: PeakMatrix, tolerance: Tolerance, count: int, rank: str) -> _BinGrid:
    """The ``count`` bins with the largest total (``rank="total"``) or the
    largest excursion above their median (``rank="peak"``), as traces."""
    bins, edges = bin_index(matrix.mz, tolerance)
    if bins.size == 0:
        return _BinGrid(np.empty(0, dtype=np.int64), np.empty((0, matrix.n_scans)), edges)
    first = int(bins.min())
    local = bins - first
    totals = np.bincount(local, weights=matrix.intensity)
    occupied = np.nonzero(totals)[0]
    shortlist = np.sort(occupied[np.argsort(totals[occupied])[::-1][: max(count, 1) * 3]])
    position = np.searchsorted(shortlist, local)
    position[position >= shortlist.size] = 0
    selected = shortlist[position] == local
    cells = position[selected] * matrix.n_scans + matrix.scan[selected]
    grid = np.bincount(cells, weights=matrix.intensity[selected], minlength=shortlist.size * matrix.n_scans).reshape(
        shortlist.size, matrix.n_scans
    )
    score = grid.sum(axis=1) if rank == "total" else grid.max(axis=1) - np.median(grid, axis=1)
    keep = np.sort(np.argsort(score)[::-1][:count])
    return _BinGrid(shortlist[keep] + first, grid[keep], edges)


def _width_from_autocorrelation(traces: _BinGrid, window: int) -> float | None:
    """First guess of the run's peak width in scans, before any peak is picked:
    the autocorrelation of a strong ion trace falls to half at about 0.7 peak
    widths, whatever its noise (white noise decorrelates within one scan, so
    lag 0 is extrapolated from lags 1 and 2)."""
    widths = []
    for trace in traces.grid[: PROFILE_TRACES // 2]:
        residual = np.clip(trace - background_baseline(trace, window), 0.0, None)
        n = residual.size
        if n < 16 or not residual.any():
            continue
        size = 1 << int(np.ceil(np.log2(2 * n)))
        spectrum = np.fft.rfft(residual - residual.mean(), size)
        acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: n // 2]
        if acf.size < 4 or acf[1] <= 0:
            continue
        zero = max(2.0 * acf[1] - acf[2], acf[1])
        below = np.nonzero(acf[1:] <= 0.5 * zero)[0]
        if below.size == 0:
            continue
        lag = below[0] + 1
        previous = acf[lag - 1] if lag > 1 else zero
        half_lag = (lag - 1) + (previous - 0.5 * zero) / max(previous - acf[lag], 1e-300)
        widths.append(np.sqrt(2.0) * half_lag)
    return float(np.median(widths)) if len(widths) >= 3 else None


def smoothing_for(width_scans: float | None) -> int:
    """Kernel length (scans) for a peak about ``width_scans`` wide: half its width."""
    return 5 if width_scans is None else max(5, int(round(width_scans / 2.0)) | 1)


def _typical_fwhm(matrix: PeakMatrix, traces: _BinGrid, params: LCMSParams, smoothing: int) -> float | None:
    """The width of the run's real peaks: the S/N-weighted median FWHM over the
    strongest compounds (the strongest peak of each trace, one per retention time).
    Ranking by S/N keeps the excursions of a wandering background ion (a few
    scans wide, modest S/N) from setting the width."""
    window = max(MIN_BASELINE_SCANS, matrix.n_scans // 5)
    best = []
    for trace in traces.grid:
        peaks = [
            p
            for p in detect_peaks(
                matrix.rt_min,
                trace,
                noise_floor=matrix.noise_floor,
                min_sn=20.0,
                min_points=params.min_peak_points,
                baseline_window=window,
                smoothing=smoothing,
            )
            if p.apex_scans >= 3 and p.fwhm_min
        ]
        if peaks:
            strongest = max(peaks, key=lambda p: p.sn)
            best.append((strongest.sn, strongest.apex_rt, cast(float, strongest.fwhm_min)))  # kept with a width
    best.sort(reverse=True)
    # one peak per compound: the ions and isotopes of the strongest one would otherwise all vote
    compounds: list[tuple[float, float, float]] = []
    for sn, apex, width in best:
        if sn >= WIDTH_MIN_SN and all(
            abs(apex - other) > 2.0 * max(width, other_width) for other, other_width, _ in compounds
        ):
            compounds.append((apex, width, sn))
    if not compounds:
        return None
    # weighted by S/N: the clean, strong peaks are the chromatography's
    chosen = sorted(compounds[:WIDTH_TRACES], key=lambda c: c[1])
    weights = np.cumsum([c[2] for c in chosen])
    return float(chosen[int(np.searchsorted(weights, 0.5 * weights[-1]))][1])


def _separated(matrix: PeakMatrix, traces: _BinGrid) -> bool:
    """False when most strong ions rise and fall together (flow injection,
    infusion): then co-elution and peak shape prove nothing."""
    if matrix.n_scans < 10 or traces.grid.shape[0] < 5:
        return True
    tic = np.bincount(matrix.scan, weights=matrix.intensity, minlength=matrix.n_scans)
    strongest = traces.grid[:SEPARATION_TRACES]
    centred = strongest - strongest.mean(axis=1, keepdims=True)
    tic_centred = tic - tic.mean()
    norms = np.linalg.norm(centred, axis=1) * np.linalg.norm(tic_centred)
    valid = norms > 0
    if not valid.any():
        return True
    r = (centred[valid] @ tic_centred) / norms[valid]
    return float(np.mean(r >= SAME_PROFILE_R)) < SAME_PROFILE_SHARE


def _name_of(mz: float, polarity: str, tolerance: Tolerance) -> str | None:
    ions, _ = known_background_ions()
    best = min((ion for ion in ions if ion.polarity == polarity), key=lambda ion: abs(ion.mz - mz), default=None)
    if best is None or abs(best.mz - mz) > max(tolerance.da(mz), 0.0) * 1.5:
        return None
    return f"{best.name} {best.ion}"


def _background(
    matrix: PeakMatrix,
    traces: _BinGrid,
    window: int,
    typical: float | None,
    polarity: str,
    tolerance: Tolerance,
    params: LCMSParams,
    smoothing: int,
) -> tuple[list[BackgroundIon], float]:
    tic_total = float(matrix.intensity.sum())
    if tic_total <= 0:
        return [], 0.0
    found: list[BackgroundIon] = []
    background_total = 0.0
    for b, trace in zip(traces.bins, traces.grid):
        low, high = traces.edges(int(b))
        presence = float(np.mean(trace > 0))
        baseline = background_baseline(trace, window)
        share = float(np.minimum(np.clip(baseline, 0.0, None), trace).sum())
        kind = "persistent" if presence >= PERSISTENT_PRESENCE and share > 0 else None
        if typical is not None:
            residual = trace - baseline
            for peak in detect_peaks(
                matrix.rt_min,
                trace,
                noise_floor=matrix.noise_floor,
                min_sn=10.0,
                min_points=params.min_peak_points,
                baseline_window=window,
                smoothing=smoothing,
            ):
                if not peak.flat_top and peak.fwhm_min is not None and peak.fwhm_min > HUMP_WIDTH_RATIO * typical:
                    share += float(np.clip(residual[peak.start : peak.end + 1], 0.0, None).sum())
                    kind = kind or "hump"
        if kind is None or share <= 0:
            continue
        background_total += share
        mz = matrix.weighted_mz(low, high, 0, matrix.n_scans - 1) or 0.5 * (low + high)
        found.append(BackgroundIon(mz, 100.0 * share / tic_total, kind, presence, _name_of(mz, polarity, tolerance)))
    found.sort(key=lambda ion: -ion.share_of_tic_pct)
    listed = [ion for ion in found if ion.share_of_tic_pct >= MIN_LISTED_SHARE_PCT][:LISTED_BACKGROUND_IONS]
    return listed, 100.0 * background_total / tic_total


def _calibration(matrix: PeakMatrix, polarity: str, resolution: Resolution) -> tuple[float, str]:
    """The run's mass offset (ppm) from known background ions seen strongly in
    most scans: at least two that agree, so one chance match cannot move every
    target."""
    if not resolution.high or matrix.mz.size == 0:
        return 0.0, "not measured (unit resolution)" if not resolution.high else "no MS1 data"
    ions, _ = known_background_ions()
    errors = []
    for ion in ions:
        if ion.polarity != polarity:
            continue
        half = ion.mz * CALIBRANT_WINDOW_PPM * 1e-6
        start, stop = matrix.window(ion.mz - half, ion.mz + half)
        if stop - start < max(5, matrix.n_scans // 2):
            continue
        trace = np.bincount(matrix.scan[start:stop], weights=matrix.intensity[start:stop], minlength=matrix.n_scans)
        if np.mean(trace > 0) < PERSISTENT_PRESENCE or np.median(trace) < CALIBRANT_MIN_SN * matrix.noise_floor:
            continue
        observed = float(np.average(matrix.mz[start:stop], weights=matrix.intensity[start:stop]))
        errors.append(((observed - ion.mz) / ion.mz * 1e6, ion))
    if len(errors) < 2:
        return 0.0, "not measured (fewer than two known background ions seen)"
    values = np.array([e for e, _ in errors])
    centre = float(np.median(values))
    agreeing = [(e, ion) for e, ion in errors if abs(e - centre) <= CALIBRANT_AGREEMENT_PPM]
    if len(agreeing) < 2:
        return 0.0, "not measured (known background ions disagree)"
    offset = float(np.median([e for e, _ in agreeing]))
    names = ", ".join(f"{ion.name} {ion.ion}" for _, ion in agreeing[:4])
    return offset, f"{len(agreeing)} known background ions ({names})"


def _precision_ppm(matrix: PeakMatrix, traces: _BinGrid, tolerance: Tolerance) -> float | None:
    """Scan-to-scan scatter (robust sigma, ppm) of centroid m/z: what one scan's
    m/z is worth on this instrument. Centroids of weak ions scatter more than
    those of strong ones, so it is measured on the weaker half of each of the
    run's strong traces' centroids, where a minor component's ions sit."""
    scatters = []
    for b in traces.bins[:PRECISION_TRACES]:
        low, high = traces.edges(int(b))
        start, stop = matrix.window(low, high)
        if stop - start < 20:
            continue
        centre = float(np.average(matrix.mz[start:stop], weights=matrix.intensity[start:stop]))
        half = 2.0 * tolerance.da(centre)
        start, stop = matrix.window(centre - half, centre + half)
        mz, intensity = matrix.mz[start:stop], matrix.intensity[start:stop]
        weak = (intensity < np.percentile(intensity, 50)) & (intensity > 0)
        if weak.sum() < 10:
            continue
        deviation = (mz[weak] - centre) / centre * 1e6
        scatters.append(1.4826 * float(np.median(np.abs(deviation - np.median(deviation)))))
    return float(np.median(scatters)) if scatters else None


def run_profile(
    matrix: PeakMatrix,
    resolution: Resolution,
    polarity: str,
    nominal: Tolerance,
    params: LCMSParams,
    tolerance_given: bool,
) -> RunProfile:
    """Peak width, background, separation and mass calibration of one run."""
    rt = matrix.rt_min
    interval = float(np.median(np.diff(rt))) if rt.size > 1 else 1.0
    peaky = bin_grid(matrix, nominal, PROFILE_TRACES, rank="peak")
    first_guess = _width_from_autocorrelation(peaky, max(MIN_BASELINE_SCANS, matrix.n_scans // 5))
    typical = _typical_fwhm(matrix, peaky, params, smoothing_for(first_guess)) if matrix.n_scans >= 10 else None
    window = MIN_BASELINE_SCANS
    if typical is not None:
        window = max(window, int(round(BASELINE_WIDTHS * typical / max(interval, 1e-9))))
    window = max(window, int(round(params.baseline_window_min / max(interval, 1e-9))))
    strong = bin_grid(matrix, nominal, BACKGROUND_TRACES, rank="total")
    smoothing = smoothing_for(None if typical is None else typical / max(interval, 1e-9))
    background, share = _background(matrix, strong, window, typical, polarity, nominal, params, smoothing)
    separated = _separated(matrix, strong)
    offset, offset_source = _calibration(matrix, polarity, resolution)
    tolerance, source = nominal, "given" if tolerance_given else "default for the resolution class"
    precision = _precision_ppm(matrix, strong, nominal) if resolution.high else None
    if resolution.high and not tolerance_given:
        if precision is not None:
            # an intensity-weighted m/z over a peak is better than one scan; the
            # unmeasured part of the calibration is what the window must still cover
            residual_calibration = 1.0 if offset_source[0].isdigit() else params.assumed_calibration_ppm
            width = residual_calibration + 3.0 * precision
            value = float(np.clip(width, params.min_tolerance_ppm, params.max_tolerance_ppm))
            tolerance = Tolerance(round(value, 1), "ppm")
            source = f"from the data: scan-to-scan m/z scatter {precision:.1f} ppm (robust sigma), calibration " + (
                "corrected" if offset_source[0].isdigit() else f"assumed within {params.assumed_calibration_ppm:g} ppm"
            )
    return RunProfile(
        interval,
        typical,
        window,
        smoothing,
        tuple(background),
        share,
        separated,
        offset,
        offset_source,
        tolerance,
        source,
        precision,
    )
