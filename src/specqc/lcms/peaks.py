"""Chromatographic peaks on an extracted ion chromatogram: baseline, noise,
apex, boundaries, area and signal-to-noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..noise import difference_sigma


@dataclass(frozen=True)
class ChromPeak:
    apex: int  # scan index
    start: int
    end: int  # inclusive
    apex_rt: float
    start_rt: float
    end_rt: float
    height: float  # above baseline
    area: float  # intensity x seconds, above baseline
    sn: float
    fwhm_min: float | None = None  # full width at half height, interpolated
    apex_scans: int = 0  # consecutive scans around the apex above 30 % of its height (a spike has 1)
    flat_top: bool = False  # several apex scans at the same ceiling: the detector saturated


APEX_FRACTION = 0.3  # scans above this share of the height count towards the apex run
FLAT_TOP_TOLERANCE = 0.005  # apex scans within 0.5 % of the maximum are "at the ceiling"
FLAT_TOP_SCANS = 3


def peak_shape(rt_min: np.ndarray, residual: np.ndarray, apex: int, start: int, end: int
               ) -> tuple[float | None, int, bool]:
    """FWHM (min, interpolated), the run of consecutive apex scans above 30 % of
    the height, and whether the top is flat (saturation)."""
    height = float(residual[apex])
    if height <= 0:
        return None, 0, False
    left = apex
    while left > start and residual[left - 1] >= APEX_FRACTION * height:
        left -= 1
    right = apex
    while right < end and residual[right + 1] >= APEX_FRACTION * height:
        right += 1
    apex_scans = right - left + 1
    half = 0.5 * height
    i = apex
    while i > start and residual[i - 1] > half:
        i -= 1
    if i == start and residual[i] > half:
        t_left = float(rt_min[start])
    else:
        below, above = residual[i - 1], residual[i]
        t_left = float(rt_min[i - 1] + (rt_min[i] - rt_min[i - 1]) * (half - below) / max(above - below, 1e-300))
    j = apex
    while j < end and residual[j + 1] > half:
        j += 1
    if j == end and residual[j] > half:
        t_right = float(rt_min[end])
    else:
        above, below = residual[j], residual[j + 1]
        t_right = float(rt_min[j] + (rt_min[j + 1] - rt_min[j]) * (above - half) / max(above - below, 1e-300))
    at_ceiling = residual[left:right + 1] >= (1.0 - FLAT_TOP_TOLERANCE) * height
    flat = int(at_ceiling.sum()) >= FLAT_TOP_SCANS
    return max(t_right - t_left, 0.0), apex_scans, flat


def rolling_baseline(values: np.ndarray, window: int) -> np.ndarray:
    """Moving minimum then moving mean: follows slow drift and chemical
    background, stays under peaks narrower than the window."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    window = max(3, int(window) | 1)
    lower = minimum_filter1d(values, size=window, mode="nearest")
    return uniform_filter1d(lower, size=window, mode="nearest")


BACKGROUND_PERCENTILE = 25.0


def background_baseline(values: np.ndarray, window: int) -> np.ndarray:
    """The slowly varying part of an ion trace: a low percentile over a window
    several peak widths wide, then smoothed. A persistent ion (bleed,
    plasticiser, solvent cluster) or a hump wider than the window is all
    baseline; a peak narrower than about half the window stands above it. A
    moving minimum would sit under a fluctuating background and leave its
    excursions to be cut into "peaks"."""
    from scipy.ndimage import percentile_filter, uniform_filter1d

    window = max(5, int(window) | 1)
    if values.size <= window:
        level = float(np.percentile(values, BACKGROUND_PERCENTILE)) if values.size else 0.0
        return np.full(values.shape, level)
    lower = percentile_filter(values, BACKGROUND_PERCENTILE, size=window, mode="nearest")
    return uniform_filter1d(lower, size=max(3, window // 2) | 1, mode="nearest")


def noise_level(residual: np.ndarray, floor: float) -> float:
    """Robust noise: the larger of the point-to-point spread (MAD of
    differences) and the spread of the residual itself, never below
    ``floor``. A background that wanders over several scans has small
    differences but a wide spread; only the second sees it."""
    if residual.size < 3:
        return max(floor, 1e-12)
    spread = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    return max(float(difference_sigma(residual)), spread, floor, 1e-12)


def smooth(values: np.ndarray) -> np.ndarray:
    if values.size < 5:
        return values
    kernel = np.array([1.0, 2.0, 3.0, 2.0, 1.0]) / 9.0
    return np.convolve(values, kernel, mode="same")


def detect_peaks(rt_min: np.ndarray, values: np.ndarray, *, noise_floor: float,
                 min_sn: float, min_points: int, baseline_window: int,
                 baseline: np.ndarray | None = None) -> list[ChromPeak]:
    """Peaks with S/N >= min_sn, integrated between the points where the
    smoothed trace returns to baseline or reaches a valley. ``baseline``, when
    given, replaces the background baseline (UV traces bring their own)."""
    if baseline is None and (values.size < min_points or float(values.max(initial=0.0)) <= noise_floor * min_sn):
        return []
    from scipy.signal import find_peaks

    if baseline is None:
        baseline = background_baseline(values, baseline_window)
    residual = values - baseline
    noise = noise_level(residual, noise_floor)
    smoothed = smooth(residual)
    threshold = min_sn * noise
    indices, properties = find_peaks(smoothed, height=threshold * 0.6, prominence=threshold * 0.6)
    peaks: list[ChromPeak] = []
    seconds = rt_min * 60.0
    last_end = -1
    for apex in indices:
        left = apex
        while left > 0 and smoothed[left - 1] > noise and smoothed[left - 1] <= smoothed[left]:
            left -= 1
        right = apex
        n = smoothed.size
        while right < n - 1 and smoothed[right + 1] > noise and smoothed[right + 1] <= smoothed[right]:
            right += 1
        left = max(left, last_end + 1)
        if right - left + 1 < min_points:
            continue
        segment = slice(left, right + 1)
        raw_apex = left + int(np.argmax(residual[segment]))
        height = float(residual[raw_apex])
        sn = height / noise
        if sn < min_sn:
            continue
        area = float(np.trapezoid(np.clip(residual[segment], 0.0, None), seconds[segment])) \
            if right > left else 0.0
        fwhm, apex_scans, flat = peak_shape(rt_min, residual, raw_apex, left, right)
        peaks.append(ChromPeak(
            apex=raw_apex, start=left, end=right,
            apex_rt=float(rt_min[raw_apex]), start_rt=float(rt_min[left]), end_rt=float(rt_min[right]),
            height=height, area=area, sn=float(sn), fwhm_min=fwhm, apex_scans=apex_scans, flat_top=flat,
        ))
        last_end = right
    return peaks


def integrate(rt_min: np.ndarray, values: np.ndarray, start: int, end: int, baseline_window: int) -> float:
    """Area above baseline of ``values`` between two scan indices (inclusive)."""
    if end <= start:
        return 0.0
    baseline = background_baseline(values, baseline_window)
    segment = slice(start, end + 1)
    return float(np.trapezoid(np.clip(values[segment] - baseline[segment], 0.0, None),
                              rt_min[segment] * 60.0))


def whole_run_peak(rt_min: np.ndarray, values: np.ndarray, *, noise_floor: float,
                   min_sn: float, min_points: int, baseline_window: int) -> list[ChromPeak]:
    """For runs too short for chromatography (infusion, flow injection): the
    ion's signal summed over the run is one 'peak' when it is present in most
    scans and stands above the noise floor."""
    if values.size == 0:
        return []
    present = values > 0
    mean = float(values.mean())
    noise = max(noise_floor, 1e-12)
    if present.mean() < 0.5 or mean < min_sn * noise:
        return []
    apex = int(np.argmax(values))
    seconds = rt_min * 60.0
    duration = float(seconds[-1] - seconds[0]) if values.size > 1 else 1.0
    area = float(np.trapezoid(values, seconds)) if values.size > 1 else mean
    return [ChromPeak(apex=apex, start=0, end=values.size - 1, apex_rt=float(rt_min[apex]),
                      start_rt=float(rt_min[0]), end_rt=float(rt_min[-1]),
                      height=mean, area=area if duration > 0 else mean, sn=mean / noise)]
