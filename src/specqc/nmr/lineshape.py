"""First-order multiplet line lists and Lorentzian line shapes: shared by the
fitter (frequency domain) and the simulator (time domain), so both mean the
same thing by "a triplet with J 7 Hz"."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from math import comb

import numpy as np

from .solvents import MULTIPLICITIES

UNRESOLVED_LINES = 9  # an "m" is drawn as this many lines under a Gaussian envelope


def multiplet_lines(multiplicity: str, j_hz: float, width_hz: float = 0.0) -> list[tuple[float, float]]:
    """(offset from the centre in Hz, share of the intensity) of each line."""
    offsets, weights = _line_arrays(multiplicity, float(j_hz), float(width_hz))
    return list(zip(offsets.tolist(), weights.tolist()))


@lru_cache(maxsize=4096)
def _line_arrays(multiplicity: str, j_hz: float, width_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Line offsets (Hz) and intensity shares; cached, since the fitter asks for
    the same few patterns thousands of times."""
    n = MULTIPLICITIES[multiplicity]
    if n >= 1:
        weights = np.array([comb(n - 1, k) for k in range(n)], dtype=float)
        offsets = (np.arange(n) - (n - 1) / 2.0) * j_hz
    else:  # unresolved: lines spread over the stated width
        offsets = np.linspace(-width_hz / 2.0, width_hz / 2.0, UNRESOLVED_LINES)
        weights = np.exp(-0.5 * (offsets / (width_hz / 4.0)) ** 2)
    offsets.flags.writeable = False
    weights = weights / weights.sum()
    weights.flags.writeable = False
    return offsets, weights


def line_width_of(multiplicity: str, width_hz: float, base_fwhm_hz: float) -> float:
    """Width of each line: an "m" spreads its lines instead of broadening them."""
    if multiplicity == "m":
        return base_fwhm_hz + width_hz / (UNRESOLVED_LINES - 1)
    return base_fwhm_hz + width_hz


def lorentzian(ppm: np.ndarray, centre_ppm: float, fwhm_ppm: float) -> np.ndarray:
    """Unit-area Lorentzian on a ppm axis."""
    gamma = fwhm_ppm / 2.0
    return (gamma / np.pi) / ((ppm - centre_ppm) ** 2 + gamma**2)


def multiplet_shape(
    ppm: np.ndarray, centre_ppm: float, multiplicity: str, j_hz: float, width_hz: float, fwhm_hz: float, mhz: float
) -> np.ndarray:
    """Unit-area model of one multiplet on a ppm axis."""
    return multiplet_shapes(ppm, centre_ppm, multiplicity, (j_hz,), width_hz, fwhm_hz, mhz)[0]


def multiplet_shapes(
    ppm: np.ndarray,
    centre_ppm: float,
    multiplicity: str,
    couplings_hz: Sequence[float] | np.ndarray,
    width_hz: float,
    fwhm_hz: float,
    mhz: float,
) -> np.ndarray:
    """Unit-area models of one multiplet drawn with each J of ``couplings_hz`` (rows)."""
    unit_offsets, shares = _line_arrays(multiplicity, 1.0, float(width_hz))
    couplings = np.asarray(couplings_hz, dtype=float)
    if MULTIPLICITIES[multiplicity] < 1:  # an unresolved multiplet does not depend on J
        couplings = np.ones_like(couplings)
    gamma = line_width_of(multiplicity, width_hz, fwhm_hz) / mhz / 2.0
    centres = centre_ppm + couplings[:, None] * unit_offsets[None, :] / mhz  # rows x lines
    distance = ppm[None, None, :] - centres[:, :, None]
    return np.einsum("l,rlp->rp", shares * (gamma / np.pi), 1.0 / (distance * distance + gamma * gamma))


def outer_line_offset_hz(multiplicity: str, j_hz: float, width_hz: float) -> float:
    """How far a multiplet's outer lines sit from its centre, as _line_arrays places
    them (asked for thousands of times: no arrays)."""
    n = MULTIPLICITIES[multiplicity]
    return (n - 1) / 2.0 * abs(float(j_hz)) if n >= 1 else abs(float(width_hz)) / 2.0


def multiplet_extent_hz(multiplicity: str, j_hz: float, width_hz: float, fwhm_hz: float, tail_hz: float = 0.0) -> float:
    """Half-width of the region that holds a multiplet's lines and most of
    their tails: eight line widths beyond the outer lines, or ``tail_hz``."""
    outer = outer_line_offset_hz(multiplicity, j_hz, width_hz)
    return outer + max(8.0 * line_width_of(multiplicity, width_hz, fwhm_hz), tail_hz)
