"""Chromatographic peaks on an extracted ion chromatogram: baseline, noise,
apex, boundaries, area and signal-to-noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..noise import difference_sigma
from .maxima import find_peaks


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


def peak_shape(
    rt_min: np.ndarray,
    residual: np.ndarray,
    apex: int,
    start: int,
    end: int,
    raw: np.ndarray | None = None,
    smoothed: np.ndarray | None = None,
) -> tuple[float | None, int, bool]:
    """FWHM (min, interpolated), the run of consecutive apex scans above 30 % of
    the height, and whether the top is flat (saturation: judged on the raw
    trace, which the detector clipped, not on what is left above a baseline).
    With many scans across a peak the width is read off the ``smoothed`` trace
    (scan-to-scan flicker would cross half height early)."""
    fwhm = _fwhm(rt_min, smoothed if smoothed is not None else residual, apex, start, end)
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
    top = (raw if raw is not None else residual)[start : end + 1]
    ceiling = float(top.max())
    flat = ceiling > 0 and int((top >= (1.0 - FLAT_TOP_TOLERANCE) * ceiling).sum()) >= FLAT_TOP_SCANS
    return fwhm, apex_scans, flat


def _fwhm(rt_min: np.ndarray, trace: np.ndarray, apex: int, start: int, end: int) -> float | None:
    top = start + int(np.argmax(trace[start : end + 1]))
    height = float(trace[top])
    if height <= 0:
        return None
    half = 0.5 * height
    i = top
    while i > start and trace[i - 1] > half:
        i -= 1
    if i == start and trace[i] > half:
        t_left = float(rt_min[start])
    else:
        below, above = trace[i - 1], trace[i]
        t_left = float(rt_min[i - 1] + (rt_min[i] - rt_min[i - 1]) * (half - below) / max(above - below, 1e-300))
    j = top
    while j < end and trace[j + 1] > half:
        j += 1
    if j == end and trace[j] > half:
        t_right = float(rt_min[end])
    else:
        above, below = trace[j], trace[j + 1]
        t_right = float(rt_min[j] + (rt_min[j + 1] - rt_min[j]) * (above - half) / max(above - below, 1e-300))
    return max(t_right - t_left, 0.0)


def rolling_baseline(values: np.ndarray, window: int) -> np.ndarray:
    """Moving minimum then moving mean: follows slow drift and chemical
    background, stays under peaks narrower than the window."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    window = max(3, int(window) | 1)
    lower = minimum_filter1d(values, size=window, mode="nearest")
    return uniform_filter1d(lower, size=window, mode="nearest")


BACKGROUND_PERCENTILE = 25.0


def background_baseline(values: np.ndarray, window: int) -> np.ndarray:
    """The slowly varying part of an ion trace: a low percentile in blocks of a
    quarter window, the lowest of five neighbouring blocks, interpolated. A
    persistent ion (bleed, plasticiser, solvent cluster) or a hump wider than
    the window is all baseline; a peak narrower than the window stands above
    it. A moving minimum would sit under a fluctuating background and leave
    its excursions to be cut into "peaks". O(n), whatever the window."""
    n = values.size
    window = max(5, int(window))
    if n <= window:
        level = float(np.percentile(values, BACKGROUND_PERCENTILE)) if n else 0.0
        return np.full(values.shape, level)
    block = max(2, window // 4)
    blocks = -(-n // block)
    padded = np.concatenate([values, np.full(blocks * block - n, values[-1])])
    level = np.percentile(padded.reshape(blocks, block), BACKGROUND_PERCENTILE, axis=1)
    reach = 2  # blocks either side
    edge = np.concatenate([np.full(reach, np.inf), level, np.full(reach, np.inf)])
    lowest = np.min(np.stack([edge[i : i + blocks] for i in range(2 * reach + 1)]), axis=0)
    centres = (np.arange(blocks) + 0.5) * block - 0.5
    return np.interp(np.arange(n, dtype=np.float64), centres, lowest)


def noise_level(residual: np.ndarray, floor: float) -> float:
    """Robust noise: the larger of the point-to-point spread (MAD of
    differences) and the spread of the residual itself, never below
    ``floor``. A background that wanders over several scans has small
    differences but a wide spread; only the second sees it."""
    if residual.size < 3:
        return max(floor, 1e-12)
    spread = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    return max(float(difference_sigma(residual)), spread, floor, 1e-12)


def local_noise(residual: np.ndarray, window: int, floor: float) -> np.ndarray:
    """Noise along a trace: the robust spread of point-to-point differences in
    blocks of a quarter window, the median of five neighbouring blocks,
    interpolated, never below the whole trace's figure or ``floor``. An ion
    whose level steps up during the wash flickers in proportion to that
    level; judged against the quiet part of the trace, every flicker of the
    plateau would pass for a peak."""
    overall = noise_level(residual, floor)
    n = residual.size
    block = max(8, int(window) // 4)
    blocks = (n - 1) // block  # of differences, one fewer than points
    if blocks < 3:
        return np.full(n, overall)
    differences = np.abs(np.diff(residual[: blocks * block + 1])).reshape(blocks, block)
    spread = 1.4826 * np.median(differences, axis=1) / np.sqrt(2.0)
    steady = running_median(spread, reach=2)
    centres = (np.arange(blocks) + 0.5) * block
    return np.maximum(np.interp(np.arange(n, dtype=np.float64), centres, steady), overall)


def running_median(values: np.ndarray, reach: int) -> np.ndarray:
    """Median of each value and its ``reach`` neighbours either side (fewer at
    the ends): np.nanmedian over the NaN-padded windows, value for value, without
    its masked-array path, which costs more than the rest of a trace's noise."""
    n = values.size
    result = np.empty(n)
    width = 2 * reach + 1
    if n >= width:
        result[reach : n - reach] = np.median(np.stack([values[i : i + n - width + 1] for i in range(width)]), axis=0)
    for j in (*range(min(reach, n)), *range(max(reach, n - reach), n)):
        result[j] = np.median(values[max(0, j - reach) : min(n, j + reach + 1)])
    return result


def smoothing_kernel(length: int) -> np.ndarray:
    """A triangular kernel of ``length`` points (odd, at least 5); its FWHM is about half its length."""
    length = max(5, int(length) | 1)
    half = (length + 1) // 2
    weights = np.concatenate([np.arange(1, half + 1), np.arange(half - 1, 0, -1)]).astype(np.float64)
    return weights / weights.sum()


def smooth(values: np.ndarray, length: int = 5) -> np.ndarray:
    kernel = smoothing_kernel(length)
    if values.size < kernel.size:
        return values
    return np.convolve(values, kernel, mode="same")


VALLEY_FRACTION = 0.05  # a valley must dip this share of the apex to part two peaks


def _boundary(smoothed: np.ndarray, apex: int, step: int, noise: float, rise: float) -> int:
    """Walk from the apex until the trace reaches the baseline, or climbs again
    by more than ``rise`` out of a valley (then the valley's lowest point is the
    boundary). Small wiggles on the way down do not stop the walk."""
    n = smoothed.size
    lowest, lowest_at = float(smoothed[apex]), apex
    i = apex
    while 0 <= i + step < n:
        value = float(smoothed[i + step])
        if value <= noise:
            return i
        if value > lowest + rise:
            return lowest_at
        i += step
        if value < lowest:
            lowest, lowest_at = value, i
    return i


def detect_peaks(
    rt_min: np.ndarray,
    values: np.ndarray,
    *,
    noise_floor: float,
    min_sn: float,
    min_points: int,
    baseline_window: int,
    baseline: np.ndarray | None = None,
    smoothing: int = 5,
) -> list[ChromPeak]:
    """Peaks with S/N >= min_sn, integrated between the points where the
    smoothed trace returns to baseline or reaches a valley. ``baseline``, when
    given, replaces the background baseline (UV traces bring their own).
    ``smoothing`` is the kernel length in scans: a few points for a peak a few
    scans wide, more when many scans cross each peak (so scan-to-scan flicker
    does not cut one peak into several)."""
    if baseline is None and (values.size < min_points or float(values.max(initial=0.0)) <= noise_floor * min_sn):
        return []
    # an ion trace's noise follows its level (a wash step, a hump); a trace that brings its own
    # baseline (UV) has a detector noise of its own, which a peak's steep flanks would only inflate
    local = baseline is None
    if baseline is None:
        baseline = background_baseline(values, baseline_window)
    residual = values - baseline
    noise_at = (
        local_noise(residual, baseline_window, noise_floor)
        if local
        else np.full(residual.size, noise_level(residual, noise_floor))
    )
    smoothed = smooth(residual, smoothing)
    indices, properties = find_peaks(smoothed, height=0.6 * min_sn * noise_at, prominence=0.6 * min_sn * noise_at)
    # a bump on a peak's own top (detector noise on a saturated plateau) is not a second peak
    indices = indices[properties["prominences"] >= VALLEY_FRACTION * smoothed[indices]]
    peaks: list[ChromPeak] = []
    seconds = rt_min * 60.0
    last_end = -1
    for apex in indices:
        noise = float(noise_at[apex])
        rise = max(2.0 * noise, VALLEY_FRACTION * float(smoothed[apex]))
        left = _boundary(smoothed, apex, -1, noise, rise)
        right = _boundary(smoothed, apex, +1, noise, rise)
        left = max(left, last_end + 1)
        if right - left + 1 < min_points:
            continue
        segment = slice(left, right + 1)
        raw_apex = left + int(np.argmax(residual[segment]))
        height = float(residual[raw_apex])
        sn = height / noise
        if sn < min_sn:
            continue
        area = float(np.trapezoid(np.clip(residual[segment], 0.0, None), seconds[segment])) if right > left else 0.0
        fwhm, apex_scans, flat = peak_shape(
            rt_min, residual, raw_apex, left, right, values, smoothed if smoothing > 5 else None
        )
        peaks.append(
            ChromPeak(
                apex=raw_apex,
                start=left,
                end=right,
                apex_rt=float(rt_min[raw_apex]),
                start_rt=float(rt_min[left]),
                end_rt=float(rt_min[right]),
                height=height,
                area=area,
                sn=float(sn),
                fwhm_min=fwhm,
                apex_scans=apex_scans,
                flat_top=flat,
            )
        )
        last_end = right
    return peaks


def integrate(rt_min: np.ndarray, values: np.ndarray, start: int, end: int, baseline_window: int) -> float:
    """Area above baseline of ``values`` between two scan indices (inclusive)."""
    if end <= start:
        return 0.0
    baseline = background_baseline(values, baseline_window)
    segment = slice(start, end + 1)
    return float(np.trapezoid(np.clip(values[segment] - baseline[segment], 0.0, None), rt_min[segment] * 60.0))


def whole_run_peak(
    rt_min: np.ndarray, values: np.ndarray, *, noise_floor: float, min_sn: float, min_points: int, baseline_window: int
) -> list[ChromPeak]:
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
    return [
        ChromPeak(
            apex=apex,
            start=0,
            end=values.size - 1,
            apex_rt=float(rt_min[apex]),
            start_rt=float(rt_min[0]),
            end_rt=float(rt_min[-1]),
            height=mean,
            area=area if duration > 0 else mean,
            sn=mean / noise,
        )
    ]
