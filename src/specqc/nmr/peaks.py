"""Peak picking, multiplet grouping and integration of a processed 1H spectrum:
the table a chemist reads (shift, multiplicity, J, integral, S/N)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PICK_SNR = 8.0
PROTON_WINDOW_PPM = (-1.0, 14.0)  # where 1H signals of organic compounds fall
MAX_COUPLING_HZ = 9.0  # lines closer than this belong to one multiplet
SPACING_TOLERANCE_HZ = 0.6
PATTERNS = {2: ("d", (1, 1)), 3: ("t", (1, 2, 1)), 4: ("q", (1, 3, 3, 1)), 5: ("quint", (1, 4, 6, 4, 1))}


@dataclass
class Multiplet:
    shift_ppm: float
    multiplicity: str
    j_hz: float | None
    lines_ppm: list[float]
    range_ppm: tuple[float, float]  # (high, low)
    area: float
    height: float
    snr: float
    integral_h: float | None = None  # scaled to protons of the main component
    assignment: list[str] = field(default_factory=list)


def pick_lines(ppm: np.ndarray, values: np.ndarray, sigma: float, fwhm_hz: float, mhz: float) -> np.ndarray:
    """Indices of lines standing PICK_SNR noise sigmas above the baseline."""
    from scipy.signal import find_peaks

    step_hz = abs(ppm[1] - ppm[0]) * mhz
    peaks, _ = find_peaks(
        values, height=PICK_SNR * sigma, prominence=PICK_SNR * sigma, distance=max(int(0.5 * fwhm_hz / step_hz), 1)
    )
    return peaks


def between(rising: np.ndarray, high: float, low: float) -> slice:
    """The points of a descending ppm axis from ``high`` down to ``low`` (both
    included), given the axis negated (``rising = -ppm``, computed once)."""
    return slice(int(np.searchsorted(rising, -high, "left")), int(np.searchsorted(rising, -low, "right")))


def classify(lines_hz: np.ndarray, heights: np.ndarray) -> tuple[str, float | None]:
    """First-order pattern of a group of lines: s, d, t, q, quint with J, else m."""
    n = lines_hz.size
    if n == 1:
        return "s", None
    if n in PATTERNS:
        spacings = np.diff(np.sort(lines_hz))
        name, expected = PATTERNS[n]
        ratios = heights / heights.sum()
        expected_ratios = np.asarray(expected, dtype=float) / sum(expected)
        if np.ptp(spacings) <= SPACING_TOLERANCE_HZ and np.all(
            np.abs(ratios - expected_ratios) <= 0.25 * expected_ratios + 0.02
        ):
            return name, float(np.mean(spacings))
    return "m", None


def group_multiplets(ppm: np.ndarray, values: np.ndarray, sigma: float, mhz: float, fwhm_hz: float) -> list[Multiplet]:
    peaks = pick_lines(ppm, values, sigma, fwhm_hz, mhz)
    peaks = peaks[(ppm[peaks] >= PROTON_WINDOW_PPM[0]) & (ppm[peaks] <= PROTON_WINDOW_PPM[1])]
    if peaks.size == 0:
        return []
    order = np.argsort(ppm[peaks])[::-1]
    peaks = peaks[order]
    groups, current = [], [peaks[0]]
    for peak in peaks[1:]:
        if (ppm[current[-1]] - ppm[peak]) * mhz <= MAX_COUPLING_HZ:
            current.append(peak)
        else:
            groups.append(current)
            current = [peak]
    groups.append(current)
    step = abs(ppm[1] - ppm[0])
    margin = 3 * fwhm_hz / mhz
    rising = -ppm
    multiplets = []
    for group in groups:
        lines = ppm[group]
        heights = values[group]
        multiplicity, j_hz = classify(lines * mhz, heights)
        high, low = float(lines.max() + margin), float(lines.min() - margin)
        area = float(values[between(rising, high, low)].sum() * step)
        centre = float(np.average(lines, weights=heights))
        multiplets.append(
            Multiplet(
                round(centre, 4),
                multiplicity,
                None if j_hz is None else round(j_hz, 1),
                [round(float(x), 4) for x in lines],
                (round(high, 4), round(low, 4)),
                area,
                float(heights.max()),
                round(float(heights.max() / sigma), 1),
            )
        )
    return multiplets
