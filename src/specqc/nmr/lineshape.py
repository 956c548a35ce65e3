"""First-order multiplet line lists and Lorentzian line shapes: shared by the
fitter (frequency domain) and the simulator (time domain), so both mean the
same thing by "a triplet with J 7 Hz"."""

from __future__ import annotations

from math import comb

import numpy as np

from .solvents import MULTIPLICITIES

UNRESOLVED_LINES = 9  # an "m" is drawn as this many lines under a Gaussian envelope


def multiplet_lines(multiplicity: str, j_hz: float, width_hz: float = 0.0) -> list[tuple[float, float]]:
    """(offset from the centre in Hz, share of the intensity) of each line."""
    n = MULTIPLICITIES[multiplicity]
    if n >= 1:
        weights = np.array([comb(n - 1, k) for k in range(n)], dtype=float)
        offsets = (np.arange(n) - (n - 1) / 2.0) * j_hz
    else:  # unresolved: lines spread over the stated width
        offsets = np.linspace(-width_hz / 2.0, width_hz / 2.0, UNRESOLVED_LINES)
        weights = np.exp(-0.5 * (offsets / (width_hz / 4.0)) ** 2)
    weights = weights / weights.sum()
    return list(zip(offsets.tolist(), weights.tolist()))


def line_width_of(multiplicity: str, width_hz: float, base_fwhm_hz: float) -> float:
    """Width of each line: an "m" spreads its lines instead of broadening them."""
    if multiplicity == "m":
        return base_fwhm_hz + width_hz / (UNRESOLVED_LINES - 1)
    return base_fwhm_hz + width_hz


def lorentzian(ppm: np.ndarray, centre_ppm: float, fwhm_ppm: float) -> np.ndarray:
    """Unit-area Lorentzian on a ppm axis."""
    gamma = fwhm_ppm / 2.0
    return (gamma / np.pi) / ((ppm - centre_ppm) ** 2 + gamma ** 2)


def multiplet_shape(ppm: np.ndarray, centre_ppm: float, multiplicity: str, j_hz: float, width_hz: float,
                    fwhm_hz: float, mhz: float) -> np.ndarray:
    """Unit-area model of one multiplet on a ppm axis."""
    shape = np.zeros_like(ppm)
    fwhm_ppm = line_width_of(multiplicity, width_hz, fwhm_hz) / mhz
    for offset_hz, share in multiplet_lines(multiplicity, j_hz, width_hz):
        shape += share * lorentzian(ppm, centre_ppm + offset_hz / mhz, fwhm_ppm)
    return shape


def multiplet_extent_hz(multiplicity: str, j_hz: float, width_hz: float, fwhm_hz: float) -> float:
    """Half-width of the region that holds a multiplet's lines and most of their tails."""
    lines = multiplet_lines(multiplicity, j_hz, width_hz)
    return max(abs(o) for o, _ in lines) + 8.0 * line_width_of(multiplicity, width_hz, fwhm_hz)
