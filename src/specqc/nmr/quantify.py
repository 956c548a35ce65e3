"""Quantification of 1H spectra by fitting reference line shapes.

Every compound that may be in the tube (route species with reference data,
process solvents, water, the solvent residual) is one column of a linear model:
the sum of its multiplets, each a set of Lorentzian lines whose areas are the
signal's proton count. Non-negative least squares (scipy.optimize.nnls) gives
each compound's amount in moles (relative units), so overlapped signals are
shared out by shape instead of being integrated twice.

Predicted shifts are only approximately right, so before the fit each
multiplet is placed where its pattern best matches the spectrum within a
tolerance (a cosine match over the multiplet's lines); after a first fit the
placement is repeated against the spectrum minus every other compound. Lines
nothing explains are modelled from the residual alone: they can be named where
they overlap a compound but never take its intensity. A slowly varying local
baseline is fitted with the amounts, so an offset left under a crowded region
is not taken for a small compound; so is the dispersion a leftover phase error
adds to the strong lines. Once amounts are known, strong lines are drawn out
to where their tails reach the noise.

A compound is reported only when its signals are really there: strong enough
(height over noise), and every signal of it that is not buried under another
compound carries its share of the intensity (a line two candidates claim
counts only for the one placed nearer its tabulated shift). The 13C
satellites of a strong compound look like small multiplets 60-85 Hz either
side of its signals, so they are part of its model (1J(CH) found per signal).
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field
from itertools import combinations
from typing import NamedTuple

import numpy as np

from .lineshape import (
    line_width_of,
    lorentzian,
    multiplet_extent_hz,
    multiplet_shape,
    multiplet_shapes,
    outer_line_offset_hz,
)
from .peaks import PROTON_WINDOW_PPM

DETECTION_SNR = 10.0  # model height over noise sigma for a compound to count (quantitation limit)
SUPPORT_MIN = 0.6  # the free-standing signals must show this share of their expected intensity (proton-weighted)
SUPPORT_ABSENT = 0.4  # and none of them less than this: a predicted multiplet's shape may be off, its absence not
OVERLAP_LIMIT = 0.5  # share of a signal's window explained by others above which it cannot testify
UNKNOWN_LINE_SNR = 8.0
MISMATCH_SHARE = 0.05
SAME_LINE_PPM = 0.01
PLACEMENT_FLOOR_SNR = 3.0  # below this nothing in a window is worth matching a pattern to
RANGE_MARGIN_PPM = 0.2
ALWAYS_FITTED = ("residual", "tms", "dss")  # present by construction, never reported
J_STEPS_HZ = np.arange(-0.6, 0.61, 0.1)
BROAD_WIDTHS = (0.0, 1.0, 2.0, 3.5, 6.0, 10.0, 16.0)  # extra widths tried for exchange-broadened lines, x FWHM
SATELLITE_J_HZ = np.arange(120.0, 170.5, 0.5)  # 1J(13C,1H) range searched
C13_SATELLITE_SHARE = 0.0055  # each satellite: half of the 1.1 % 13C natural abundance
SATELLITE_SNR = 1.0  # satellites are modelled once they reach the noise (their 1J is then measurable)
FIT_POINTS_PER_FWHM = 4  # grid density the fit works on (3 already changes borderline detections at 128k)
BASELINE_KNOT_PPM = 1.0  # spacing of the local baseline fitted with the lines: far wider than any multiplet
TAIL_LEVEL_SIGMA = 0.5  # a strong line's Lorentzian tails are drawn until they fall to this level,
TAIL_MAX_HZ = 150.0  # or this far from the multiplet
RIDGE = 1e-9  # added to the fit's normal equations (columns of unit norm): see _solve


@dataclass
class FitSignal:
    group: str
    reference_ppm: float
    multiplicity: str
    protons: int
    j_hz: float = 0.0
    width_hz: float = 0.0
    tolerance_ppm: float = 0.05
    diagnostic: bool = False
    observed_ppm: float | None = None
    extra_width_hz: float = 0.0  # chosen during placement (exchange-broadened water)
    satellite_j_hz: float | None = None  # 1J(13C,1H) once the compound is strong enough to show satellites
    reference_j_hz: float = 0.0
    tail_hz: float = 0.0  # how far its lines reach when drawn into the model (set from its amount)
    shapes: dict = field(default_factory=dict, repr=False, compare=False)  # drawn shapes, by what drew them

    def __post_init__(self) -> None:
        self.reference_j_hz = self.j_hz


@dataclass
class FitComponent:
    key: str
    kind: str  # species | solvent | water | residual | tms
    name: str
    signals: list[FitSignal]
    source: str = ""
    broad_allowed: bool = False
    expected: bool = False  # the stage's main component: the tube is meant to hold it


@dataclass
class SignalResult:
    group: str
    reference_ppm: float
    observed_ppm: float
    multiplicity: str
    j_hz: float
    protons: int
    overlap: float  # share of the window's fitted intensity due to other compounds
    overlapped_with: list[str]
    support: float | None  # observed / expected intensity, None when overlapped or too weak


@dataclass
class ComponentResult:
    component: FitComponent
    amount: float  # moles, relative units (area per proton)
    snr: float
    detected: bool
    reason: str
    signals: list[SignalResult] = field(default_factory=list)
    overlapped: bool = False  # not confirmed only because every signal lies under other compounds
    # the amount whose tallest line reaches the detection threshold (DETECTION_SNR x noise) with this
    # spectrum's noise and line width: below it the compound could not be reported
    lod_amount: float | None = None
    amount_error: float | None = None  # standard error of the amount from the joint fit
    significance: dict | None = None  # extra-sum-of-squares test of the compound's whole pattern
    upper_bound_amount: float | None = None  # an overlapped compound's amount in the joint fit: at most this


@dataclass
class FitResult:
    components: list[ComponentResult]
    fwhm_hz: float
    grid_hz: float | None = None  # point spacing the fit worked on (every n-th point of the spectrum)


def salt_molar_mass(species, counterion: str) -> tuple[float, str]:
    """Molar mass of the isolated form: the free base, or its salt with one
    counter-ion per basic amine."""
    import pyopenms as oms

    base = oms.EmpiricalFormula(species.formula).getAverageWeight()
    if not counterion:
        return base, f"{species.formula} (free base)"
    equivalents = max(species.basic_amines, 1)
    mass = base + equivalents * oms.EmpiricalFormula(counterion).getAverageWeight()
    label = f"{species.formula}·{'' if equivalents == 1 else equivalents}{counterion}"
    return mass, label


def ppm_w_w(mol_ratio: float, solvent_molar_mass: float, isolated_molar_mass: float) -> float:
    """Residual solvent in ppm by weight of the isolated material, from its
    molar ratio to the main component."""
    return mol_ratio * solvent_molar_mass / isolated_molar_mass * 1e6


class _Axis:
    def __init__(self, ppm: np.ndarray, mhz: float):
        self.ppm, self.mhz = ppm, mhz
        self.step = float(ppm[0] - ppm[1])
        self.key = (float(ppm[0]), self.step, ppm.size, mhz)  # identifies the grid a shape was drawn on

    def index(self, position: float) -> int:
        return int(round((self.ppm[0] - position) / self.step))

    def window(self, centre: float, half_ppm: float) -> tuple[int, int]:
        low = max(self.index(centre + half_ppm), 0)
        high = min(self.index(centre - half_ppm) + 1, self.ppm.size)
        return low, max(high, low)


def _signal_shape(
    axis: _Axis, signal: FitSignal, centre: float, fwhm_hz: float, satellites: bool = True, tails: bool = False
) -> tuple[int, np.ndarray]:
    """(first index, unit-area-per-proton x protons values) of one multiplet,
    with its 13C satellites once they have been placed (unless ``satellites`` is off).
    Its lines are drawn to a few widths (the window judging looks at), or with
    ``tails`` as far as its tails stand above the noise (what the model holds).
    Cached on the signal: the fit and the judging draw the same shapes many times."""
    tail_hz = signal.tail_hz if tails else 0.0
    key = (
        axis.key,
        centre,
        fwhm_hz,
        signal.j_hz,
        signal.extra_width_hz,
        signal.satellite_j_hz if satellites else None,
        tail_hz,
    )
    if key not in signal.shapes:
        low, values = _draw_signal(axis, signal, centre, fwhm_hz, satellites, tail_hz)
        values.flags.writeable = False  # shared by every caller
        signal.shapes[key] = (low, values)
    return signal.shapes[key]


def _draw_signal(
    axis: _Axis, signal: FitSignal, centre: float, fwhm_hz: float, satellites: bool, tail_hz: float
) -> tuple[int, np.ndarray]:
    width = signal.width_hz + signal.extra_width_hz
    half = multiplet_extent_hz(signal.multiplicity, signal.j_hz, width, fwhm_hz, tail_hz) / axis.mhz
    low, high = axis.window(centre, half)
    values = (
        multiplet_shape(axis.ppm[low:high], centre, signal.multiplicity, signal.j_hz, width, fwhm_hz, axis.mhz)
        * signal.protons
    )
    if satellites and signal.satellite_j_hz:
        # the 13C satellites sit outside the multiplet's own window: widen it to hold them
        reach = signal.satellite_j_hz / 2 / axis.mhz
        wide_low, wide_high = axis.window(centre, half + reach)
        wide = np.zeros(wide_high - wide_low)
        wide[low - wide_low : low - wide_low + values.size] = values * (1 - 2 * C13_SATELLITE_SHARE)
        for side in (-1, 1):
            wide += (
                C13_SATELLITE_SHARE
                * signal.protons
                * multiplet_shape(
                    axis.ppm[wide_low:wide_high],
                    centre + side * reach,
                    signal.multiplicity,
                    signal.j_hz,
                    width,
                    fwhm_hz,
                    axis.mhz,
                )
            )
        return wide_low, wide
    return low, values


def _flattened(components: list[FitComponent]) -> tuple[list[FitSignal], np.ndarray]:
    """Every compound's signals in one list, and the index of the compound owning each."""
    signals = [s for c in components for s in c.signals]
    owner = np.array([i for i, c in enumerate(components) for _ in c.signals], dtype=int)
    return signals, owner


class _Targets:
    """What each compound is placed against: the spectrum minus every other
    compound, ``common + amounts[c] * columns[c]``, evaluated only at the
    points placement looks at (the compounds x points array is never formed)."""

    def __init__(self, common: np.ndarray, columns: np.ndarray | None = None, amounts: np.ndarray | None = None):
        self.common, self.columns, self.amounts = common, columns, amounts
        self.size = common.size

    def gather(self, owners: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Compound ``owners`` target at ``points`` (broadcast together)."""
        if self.columns is None:
            return self.common[points]
        return self.common[points] + self.amounts[owners] * self.columns[owners, points]


class _SearchRow(NamedTuple):
    """One template slid along the spectrum: a signal at its tabulated shift
    and J, drawn with one trial width."""

    signal: int  # index among all fitted signals
    extra_width_hz: float
    start: int  # first point of the stretch of spectrum it is slid over
    template: np.ndarray
    norm: float


class _Placement:
    """Moves every multiplet to where its pattern best matches the spectrum
    within its tolerance, letting J vary a little (tables give J to a few
    tenths of a Hz) and, for exchange-broadened lines, the width. Where nothing
    in a signal's window stands above the floor there is nothing to match: the
    tabulated position is kept.

    The match is a cosine score at every shift, with a small penalty for
    moving. The position is searched with the tabulated J; J is then refined
    at and around that position (a symmetric pattern with a slightly wrong J
    still matches best when centred). Lines are placed to a fraction of a
    point from the parabola through the best score and its neighbours.

    The search templates sit at the tabulated shifts, so they are the same in
    every round: they are laid out once as rows (one per signal and trial
    width), and a round correlates all of them with their compound's target
    in one batch of FFTs.
    """

    def __init__(self, axis: _Axis, components: list[FitComponent], fwhm_hz: float):
        size = axis.ppm.size
        self.signals, self.owner = _flattened(components)
        self.shift = np.array([max(int(s.tolerance_ppm / axis.step), 1) for s in self.signals])
        self.step = axis.step
        # the window that must hold something above the floor for a search to be worth it
        windows = [
            axis.window(
                s.reference_ppm,
                s.tolerance_ppm + multiplet_extent_hz(s.multiplicity, s.reference_j_hz, s.width_hz, fwhm_hz) / axis.mhz,
            )
            for s in self.signals
        ]
        lows, highs = np.array(windows, dtype=int).reshape(-1, 2).T
        self.window_filled = highs > lows
        span = max(int((highs - lows).max(initial=1)), 1)
        # each window's points, its last one repeated to the longest window's length
        self.window_index = np.minimum(lows[:, None] + np.arange(span), np.maximum(highs - 1, lows)[:, None])
        # one search row per signal and trial width, at the tabulated J
        rows, refinements = [], []
        for number, signal in enumerate(self.signals):
            broad = components[self.owner[number]].broad_allowed
            tabulated_j = float(signal.reference_j_hz or signal.j_hz)
            for extra in tuple(fwhm_hz * f for f in BROAD_WIDTHS) if broad else (signal.extra_width_hz,):
                first, templates, norms = _search_templates(axis, signal, extra, (tabulated_j,), fwhm_hz)
                shift = self.shift[number]
                start, stop = first - shift, first + templates.shape[1] + shift
                if templates.shape[1] < 3 or start < 0 or stop > size:
                    continue  # too close to an edge of the fitted range to search
                rows.append(_SearchRow(number, extra, start, templates[0], float(norms[0])))
                if signal.reference_j_hz > 0:
                    refinements.append(
                        _search_templates(axis, signal, extra, tuple(signal.reference_j_hz + J_STEPS_HZ), fwhm_hz)
                    )
                else:
                    refinements.append(None)
        self.row_signal = np.array([r.signal for r in rows], dtype=int)
        self.row_extra = [r.extra_width_hz for r in rows]
        self.fwhm_hz = fwhm_hz
        self._stack_refinements(refinements)
        # rows of similar length share one batch of FFTs: a few broad-water rows
        # are several times longer than the multiplets, and would pad them all
        lengths = [r.template.size + 2 * int(self.shift[r.signal]) for r in rows]
        buckets: dict[int, list[int]] = {}
        for row, length in enumerate(lengths):
            buckets.setdefault(max(int(np.ceil(np.log2(length))), 9), []).append(row)
        self.batches = [
            _SearchBatch([rows[r] for r in members], np.array(members), self.shift, self.owner, size)
            for members in buckets.values()
        ]

    def place(self, targets: _Targets, floor: float) -> None:
        """Place every signal against its compound's target."""
        searched = self.window_filled & (targets.gather(self.owner[:, None], self.window_index).max(axis=1) >= floor)
        # per search row: best shift index, its score and the scores either side
        peak = np.zeros(self.row_signal.size, dtype=int)
        value, left, right = (np.full(self.row_signal.size, -np.inf) for _ in range(3))
        for batch in self.batches:
            peak[batch.rows], value[batch.rows], left[batch.rows], right[batch.rows] = batch.search(targets)
        best: dict[int, tuple[float, int, int]] = {}  # signal -> (score, shift index, row)
        for row, number in enumerate(self.row_signal):
            if searched[number] and (number not in best or value[row] > best[number][0]):
                best[number] = (float(value[row]), int(peak[row]), row)
        refined = self._refine(targets, best)
        self.scores = np.zeros(len(self.signals))  # each signal's best match (0 where nothing was there)
        for number, signal in enumerate(self.signals):
            if number not in best:
                _keep_placement(signal)
                continue
            centre, k, row = best[number]
            j_hz, below, above = float(signal.reference_j_hz or signal.j_hz), left[row], right[row]
            if number in refined:
                j_hz, k, centre, below, above = refined[number]
            self.scores[number] = max(centre, 0.0)
            offset = float(k)
            if np.isfinite(below) and np.isfinite(above):
                # parabolic vertex: lines are placed to a fraction of a point
                curvature = below - 2 * centre + above
                offset += 0.5 * (below - above) / curvature if curvature < 0 else 0.0
            signal.observed_ppm = signal.reference_ppm - (offset - self.shift[number]) * self.step
            signal.extra_width_hz, signal.j_hz = self._width_between_trials(number, row, value), j_hz

    def _width_between_trials(self, number: int, row: int, value: np.ndarray) -> float:
        """Extra width of the best row, refined between the trial widths either side.

        The trial widths are a coarse ladder, and a Lorentzian fitted with the
        wrong width has the wrong area (2w'/(w + w') of it: -8 % for a 4.2 Hz
        water line drawn 3.6 Hz wide). The cosine match of two Lorentzians is
        sech(ln(w'/w)/2), close to a parabola in the log of the width, so the
        vertex through the best trial and its neighbours lands near the true width.
        """
        trials = np.flatnonzero(self.row_signal == number)  # in order of width
        where = int(np.flatnonzero(trials == row)[0])
        if where == 0 or where == trials.size - 1:
            return self.row_extra[row]
        neighbours = trials[where - 1 : where + 2]
        base = self.fwhm_hz + self.signals[number].width_hz
        x = np.log(base + np.array([self.row_extra[r] for r in neighbours]))
        y = value[neighbours]
        if not np.all(np.isfinite(y)):
            return self.row_extra[row]
        # vertex of the parabola through three unevenly spaced points
        slopes = (y[1] - y[0]) / (x[1] - x[0]), (y[2] - y[1]) / (x[2] - x[1])
        curvature = (slopes[1] - slopes[0]) / (x[2] - x[0])
        if curvature >= 0:
            return self.row_extra[row]
        vertex = 0.5 * (x[0] + x[1]) - slopes[0] / (2 * curvature)
        return float(np.exp(np.clip(vertex, x[0], x[2])) - base)

    def _stack_refinements(self, refinements: list) -> None:
        """Trial-J templates of every search row that refines J, zero-padded into one array."""
        self.refinement_of_row = np.full(len(refinements), -1)
        chosen = [(row, found) for row, found in enumerate(refinements) if found is not None]
        length = max((templates.shape[1] for _, (_, templates, _) in chosen), default=1)
        self.refined_templates = np.zeros((len(chosen), J_STEPS_HZ.size, length))
        self.refined_norms = np.ones((len(chosen), J_STEPS_HZ.size))
        self.refined_first = np.zeros(len(chosen), dtype=int)
        self.refined_size = np.zeros(len(chosen), dtype=int)
        self.refined_j = np.zeros((len(chosen), J_STEPS_HZ.size))
        for slot, (row, (first, templates, norms)) in enumerate(chosen):
            self.refinement_of_row[row] = slot
            self.refined_templates[slot, :, : templates.shape[1]] = templates
            self.refined_norms[slot] = norms
            self.refined_first[slot], self.refined_size[slot] = first, templates.shape[1]
            self.refined_j[slot] = self.signals[self.row_signal[row]].reference_j_hz + J_STEPS_HZ

    def _refine(self, targets: _Targets, best: dict) -> dict:
        """signal -> (J, shift index, score, score one shift lower, one higher):
        every trial J scored at the best shift and two either side, for all
        multiplets at once. A multiplet too near an edge keeps its tabulated J."""
        numbers, slots, centres = [], [], []
        for number, (_, k, row) in best.items():
            if self.refinement_of_row[row] >= 0:
                numbers.append(number)
                slots.append(self.refinement_of_row[row])
                centres.append(k)
        if not numbers:
            return {}
        numbers, slots, centres = np.array(numbers), np.array(slots), np.array(centres)
        shift, size, first = self.shift[numbers], self.refined_size[slots], self.refined_first[slots]
        low, high = np.maximum(centres - 2, 0), np.minimum(centres + 3, 2 * shift + 1)
        fits = (size >= 3) & (first - shift + low >= 0) & (first + size - shift + high - 1 <= targets.size)
        positions = centres[:, None] + np.arange(-2, 3)  # shift indices tried
        tried = (positions >= low[:, None]) & (positions < high[:, None])
        length = self.refined_templates.shape[2]
        index = (first - shift)[:, None, None] + positions[:, :, None] + np.arange(length)
        windows = np.clip(
            targets.gather(self.owner[numbers][:, None, None], np.clip(index, 0, targets.size - 1)), 0.0, None
        )
        windows *= np.arange(length) < size[:, None, None]  # each multiplet's own length only
        dots = self.refined_templates[slots] @ windows.transpose(0, 2, 1)  # multiplets x J x shifts
        norms = np.sqrt(np.einsum("mpl,mpl->mp", windows, windows))
        penalty = 0.1 * ((positions - shift[:, None]) / shift[:, None]) ** 2
        local = dots / np.maximum(self.refined_norms[slots][:, :, None] * norms[:, None, :], 1e-300)
        local = np.where(tried[:, None, :], local - penalty[:, None, :], -np.inf)
        refined = {}
        for m, number in enumerate(numbers):
            if not fits[m]:
                continue
            choice, position = np.unravel_index(int(np.argmax(local[m])), local[m].shape)
            scores = local[m, choice]
            left = scores[position - 1] if position > 0 else -np.inf
            right = scores[position + 1] if position < 4 else -np.inf
            refined[int(number)] = (
                float(self.refined_j[slots[m], choice]),
                int(positions[m, position]),
                float(scores[position]),
                left,
                right,
            )
        return refined


class _SearchBatch:
    """Search rows of similar length: each template is correlated with its
    compound's target over every shift in one batch of real FFTs, and scored
    by cosine (with the small penalty for moving)."""

    def __init__(self, rows: list[_SearchRow], members: np.ndarray, shift: np.ndarray, owner: np.ndarray, size: int):
        from scipy.fft import next_fast_len, rfft

        self.rows = members
        self.owner = owner[[r.signal for r in rows]]
        row_shift = shift[[r.signal for r in rows]]
        template_sizes = np.array([r.template.size for r in rows])
        length = int((template_sizes + 2 * row_shift).max())
        self.fft_size = next_fast_len(length, real=True)
        self.segment_index = np.clip(np.array([r.start for r in rows])[:, None] + np.arange(length), 0, size - 1)
        padded = np.zeros((len(rows), self.fft_size))
        for i, row in enumerate(rows):
            padded[i, : row.template.size] = row.template
        self.template_spectra = np.conj(rfft(padded, axis=1))
        self.template_norms = np.array([r.norm for r in rows])[:, None]
        self.scored = int(2 * row_shift.max() + 1)
        offsets = np.arange(self.scored)[None, :]
        self.penalty = np.where(
            offsets <= 2 * row_shift[:, None], 0.1 * ((offsets - row_shift[:, None]) / row_shift[:, None]) ** 2, np.inf
        )
        self.window_end = np.minimum(offsets + template_sizes[:, None], length)

    def search(self, targets: _Targets) -> tuple[np.ndarray, ...]:
        """(best shift index, its score, the score one shift lower, one higher) of each row;
        -inf where a neighbour is outside the row's shifts."""
        from scipy.fft import irfft, rfft

        segments = np.clip(targets.gather(self.owner[:, None], self.segment_index), 0.0, None)
        dots = irfft(rfft(segments, self.fft_size, axis=1) * self.template_spectra, self.fft_size, axis=1)[
            :, : self.scored
        ]
        squares = np.zeros((segments.shape[0], segments.shape[1] + 1))
        np.cumsum(segments * segments, axis=1, out=squares[:, 1:])
        norms = np.sqrt(
            np.maximum(np.take_along_axis(squares, self.window_end, axis=1) - squares[:, : self.scored], 0.0)
        )
        # an empty window scores 0 (the FFT leaves rounding noise where the direct sum gives exactly 0)
        empty = norms <= 1e-12 * norms.max(axis=1, keepdims=True)
        scores = np.full((norms.shape[0], self.scored + 2), -np.inf)  # a -inf column either side
        scores[:, 1:-1] = np.where(empty, 0.0, dots / np.where(empty, 1.0, self.template_norms * norms)) - self.penalty
        peak = np.argmax(scores, axis=1)
        rows = np.arange(peak.size)
        return peak - 1, scores[rows, peak], scores[rows, peak - 1], scores[rows, peak + 1]


def _search_templates(
    axis: _Axis, signal: FitSignal, extra_width_hz: float, couplings: tuple[float, ...], fwhm_hz: float
) -> tuple[int, np.ndarray, np.ndarray]:
    """(first index, shapes, their norms) of the multiplet at its tabulated shift
    drawn with each J of ``couplings``: what placement slides along the
    spectrum. Satellites are placed separately, after the multiplet."""
    width = signal.width_hz + extra_width_hz
    half = max(multiplet_extent_hz(signal.multiplicity, j, width, fwhm_hz) for j in couplings) / axis.mhz
    low, high = axis.window(signal.reference_ppm, half)
    templates = multiplet_shapes(
        axis.ppm[low:high], signal.reference_ppm, signal.multiplicity, couplings, width, fwhm_hz, axis.mhz
    )
    return low, templates, np.linalg.norm(templates, axis=1)


def _keep_placement(signal: FitSignal) -> None:
    """Nothing to match: the signal stays where it was, or at its tabulated shift."""
    if signal.observed_ppm is None:
        signal.observed_ppm = signal.reference_ppm


def _column(
    axis: _Axis, component: FitComponent, fwhm_hz: float, satellites: bool = True, out: np.ndarray | None = None
) -> np.ndarray:
    """A compound's model per unit amount (into ``out`` when given)."""
    if out is None:
        column = np.zeros(axis.ppm.size)
    else:
        column = out
        column[:] = 0.0
    for signal in component.signals:
        low, values = _signal_shape(axis, signal, signal.observed_ppm, fwhm_hz, satellites, tails=True)
        column[low : low + values.size] += values
    return column


def component_model(ppm: np.ndarray, mhz: float, component: FitComponent, fwhm_hz: float) -> np.ndarray:
    """A placed compound's model per unit amount, on the whole axis."""
    return _column(_Axis(ppm, mhz), component, fwhm_hz)


def _add_lorentzian(axis: _Axis, target: np.ndarray, centre: float, fwhm_hz: float, area: float) -> None:
    low, high = axis.window(centre, 12 * fwhm_hz / axis.mhz)
    target[low:high] += area * lorentzian(axis.ppm[low:high], centre, fwhm_hz / axis.mhz)


def estimate_fwhm_hz(ppm: np.ndarray, values: np.ndarray, sigma: float, mhz: float) -> float:
    """Typical line width: the median half-height width of the ten tallest lines."""
    from scipy.signal import find_peaks, peak_widths

    peaks, found = find_peaks(values, height=50 * sigma, prominence=30 * sigma)
    if peaks.size == 0:
        return 1.0
    tallest = np.argsort(values[peaks])[::-1][:10]
    # the prominences find_peaks has just worked out (peak_widths would scan for them again)
    prominences = tuple(found[key][tallest] for key in ("prominences", "left_bases", "right_bases"))
    widths = (
        peak_widths(values, peaks[tallest], rel_height=0.5, prominence_data=prominences)[0] * abs(ppm[1] - ppm[0]) * mhz
    )
    return float(np.clip(np.median(widths), 0.3, 6.0))


def fit_components(
    ppm: np.ndarray,
    values: np.ndarray,
    sigma: float,
    mhz: float,
    components: list[FitComponent],
    fwhm_hz: float | None = None,
) -> FitResult:
    axis = _Axis(ppm, mhz)
    fwhm_hz = fwhm_hz or estimate_fwhm_hz(ppm, values, sigma, mhz)
    outside = _outside_range(ppm, components)
    components = [c for c in components if c.signals]
    if not components:
        return FitResult(outside, fwhm_hz)
    # Everything below looks only where some candidate may have lines (most of
    # a 64k-point spectrum is baseline no compound reaches), on a grid with a
    # few points per line width: zero-filling makes the spectrum finer than
    # the fit needs, and a coarser grid holds the same lines.
    low, high = _fit_span(axis, components, fwhm_hz)
    stride = max(int(fwhm_hz / mhz / axis.step / FIT_POINTS_PER_FWHM), 1)
    results = _fit_within(_Axis(ppm[low:high:stride], mhz), values[low:high:stride], sigma, fwhm_hz, components)
    return FitResult(results + outside, fwhm_hz, stride * axis.step * mhz)


def _fit_span(axis: _Axis, components: list[FitComponent], fwhm_hz: float) -> tuple[int, int]:
    """Index range holding every candidate line wherever placement may move it,
    with its tails, its 13C satellites and room for the placement search."""
    low, high = axis.ppm.size, 0
    for component in components:
        extra = fwhm_hz * max(BROAD_WIDTHS) if component.broad_allowed else 0.0
        for signal in component.signals:
            extent_hz = multiplet_extent_hz(
                signal.multiplicity, signal.reference_j_hz + float(J_STEPS_HZ.max()), signal.width_hz + extra, fwhm_hz
            )
            reach = 2 * signal.tolerance_ppm + (extent_hz + SATELLITE_J_HZ.max() / 2 + 12 * fwhm_hz) / axis.mhz
            first, last = axis.window(signal.reference_ppm, reach)
            low, high = min(low, first), max(high, last)
    return low, max(high, low + 1)


def _fit_within(
    axis: _Axis, values: np.ndarray, sigma: float, fwhm_hz: float, components: list[FitComponent]
) -> list[ComponentResult]:
    from scipy.signal import find_peaks

    ppm, mhz = axis.ppm, axis.mhz
    # one form of each compound is fitted: two forms share most lines and would only split them
    components, set_aside = _choose_forms(axis, values, sigma, fwhm_hz, components)
    placement = _Placement(axis, components, fwhm_hz)
    placement.place(_Targets(values), PLACEMENT_FLOOR_SNR * sigma)
    # one array for the compounds' columns and the two rows judging weighs besides (the spectrum, the unassigned lines)
    stacked = np.empty((len(components) + 2, ppm.size))
    columns = stacked[:-2]  # compounds x points
    for index, component in enumerate(components):
        _column(axis, component, fwhm_hz, out=columns[index])
    # A slowly varying local baseline is fitted with the lines: the spectrum's
    # polynomial baseline leaves plateaus of tens of sigma under crowded regions
    # of a strong spectrum, which a small compound's line would otherwise soak up.
    local = hats = _LocalBaseline(axis)
    amounts = _solve(columns, values, local)
    baseline = local.fit(columns, amounts, values)
    _reach_tails(components, amounts, sigma, fwhm_hz, mhz)  # from the next round's columns on
    for _ in range(2):
        # place each compound against what the others leave; give strong ones their 13C satellites
        model = amounts @ columns + baseline
        # Satellites are looked for against the strong compounds only: a weak
        # candidate placed on a satellite line must not hide it.
        strong = np.flatnonzero(amounts * columns.max(axis=1) * C13_SATELLITE_SHARE > SATELLITE_SNR * sigma).tolist()
        # (their own lines included, so a multiplet's outer line is not taken for a satellite)
        without_satellites = (
            values
            - baseline
            - sum(
                (amounts[i] * _column(axis, components[i], fwhm_hz, satellites=False) for i in strong),
                np.zeros(ppm.size),
            )
        )
        # (each against the spectrum minus every other compound, as fitted at the start of the round)
        placement.place(_Targets(values - model, columns, amounts), PLACEMENT_FLOOR_SNR * sigma)
        for index, component in enumerate(components):
            if index in strong:
                _place_satellites(axis, without_satellites, component, fwhm_hz)
            _column(axis, component, fwhm_hz, out=columns[index])
        # A few degrees of phase error left by automatic phasing add a little of
        # every strong line's dispersion, which falls off only as 1/distance: tens
        # of sigma where a small compound's multiplet sits. Fitted with the baseline.
        local = hats.with_rows(_phase_error_rows(axis, [components[i] for i in strong], amounts[strong], fwhm_hz))
        amounts = _solve(columns, values, local)
        baseline = local.fit(columns, amounts, values)
    model = amounts @ columns + baseline
    # Lines nothing explains are reported, and fitted to the residual only,
    # so they can be named where they overlap a compound but never take its intensity.
    residual = values - model
    peaks, _ = find_peaks(
        residual,
        height=UNKNOWN_LINE_SNR * sigma,
        prominence=UNKNOWN_LINE_SNR * sigma,
        distance=max(int(fwhm_hz / mhz / axis.step), 2),
    )
    # near a strong line, a residual of a few per cent is line-shape mismatch, not a compound
    low, high = PROTON_WINDOW_PPM
    peaks = peaks[(ppm[peaks] > low) & (ppm[peaks] < high) & (residual[peaks] > MISMATCH_SHARE * model[peaks])]
    peaks = peaks[np.argsort(residual[peaks])[::-1][:60]]
    stacked[-2], stacked[-1] = values, 0.0
    for peak in peaks:
        # a Lorentzian of the residual's height (area = height x pi x half-width)
        _add_lorentzian(axis, stacked[-1], float(ppm[peak]), fwhm_hz, residual[peak] * np.pi * fwhm_hz / mhz / 2)
    # Candidates that are not there still take a little intensity where they
    # overlap real compounds. Drop those whose signals are missing, fit again
    # (a compound that only looked overlapped gets a second look), and finally
    # fit with only what was found.
    judge = _Judge(axis, fwhm_hz, components, stacked)
    results = judge(amounts, sigma, baseline)
    kept = list(range(len(components)))

    def refit(chosen: list[int]) -> tuple[np.ndarray, list[ComponentResult]]:
        trial = np.zeros(len(components))
        trial[chosen] = _solve(columns[chosen], values, local)
        rejudged = judge(trial, sigma, local.fit(columns, trial, values))
        return trial, [rejudged[i] if i in chosen else results[i] for i in range(len(components))]

    # Candidates whose own free-standing signals are missing (or too weak) are
    # not there: drop them and fit again, so what they took goes back to the
    # compounds that are. Those only hidden under others stay in, undecided.
    for _ in range(3):
        keep = [i for i in kept if results[i].detected or results[i].overlapped or components[i].kind in ALWAYS_FITTED]
        if keep == kept:
            break
        kept = keep
        amounts, results = refit(kept)
    # The undecided are judged by their whole pattern, weakest first: the one
    # that improves the joint fit least leaves if not significant, then the rest
    # are tested again without it (backward elimination).
    while True:
        tests = {
            i: _pattern_test(i, len(components[i].signals), kept, columns, values, amounts, local, sigma)
            for i in kept
            if results[i].overlapped
        }
        failing = [i for i, test in tests.items() if not test["present"]]
        if not failing:
            break
        weakest = min(failing, key=lambda i: tests[i]["f"])
        kept = [i for i in kept if i != weakest]
        results[weakest].significance = tests[weakest]
        results[weakest].upper_bound_amount = float(amounts[weakest])  # all the joint fit would give it
        why = _test_text(tests[weakest])
        results[weakest].reason += f"; its whole pattern does not improve the joint fit enough ({why})"
        amounts, results = refit(kept)
    # What remains passed the whole-pattern test, but hidden under other
    # compounds a pattern also fits what a predicted shape gets wrong (on the
    # independent validation spectra such "detections" were false as often as
    # not): it is reported as possible, with its amount as an upper bound, not
    # as found, and left out of the final fit so it takes nothing from the others.
    for index, test in tests.items():
        result = results[index]
        names = sorted({n for s in result.signals for n in s.overlapped_with})
        result.significance, result.upper_bound_amount = test, float(amounts[index])
        result.reason = (
            f"overlapped (by {', '.join(names) or 'other lines'}): its whole pattern improves the joint "
            f"fit ({_test_text(test)}) but cannot be told from a misfit of those lines: not confirmed"
        )
    final = [i for i in kept if results[i].detected or components[i].kind in ALWAYS_FITTED]
    if final != kept:
        kept = final
        amounts, refitted = refit(kept)
        results = [refitted[i] if i in kept else results[i] for i in range(len(components))]
    for index, error in _amount_errors(kept, columns, values, amounts, local, sigma).items():
        results[index].amount_error = error
    return results + set_aside


def _choose_forms(
    axis: _Axis, values: np.ndarray, sigma: float, fwhm_hz: float, components: list[FitComponent]
) -> tuple[list[FitComponent], list]:
    """Of the alternative forms of one compound (same kind and name: salt and
    free base), the one whose multiplets match the spectrum best, proton-weighted;
    the first listed (the expected form) on a tie. Returns (components to fit,
    results of the forms set aside)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, component in enumerate(components):
        groups.setdefault((component.kind, component.name), []).append(index)
    alternatives = [i for members in groups.values() if len(members) > 1 for i in members]
    if not alternatives:
        return components, []
    # a first placement of the alternatives alone, against the spectrum as it is
    placement = _Placement(axis, [components[i] for i in alternatives], fwhm_hz)
    placement.place(_Targets(values), PLACEMENT_FLOOR_SNR * sigma)
    match = np.zeros(len(components))
    protons = np.zeros(len(components))
    for number, signal in enumerate(placement.signals):
        owner = alternatives[placement.owner[number]]
        match[owner] += placement.scores[number] * signal.protons
        protons[owner] += signal.protons
    match /= np.maximum(protons, 1)
    dropped = set()
    for members in groups.values():
        if len(members) == 1:
            continue
        best = max(members, key=lambda i: (round(float(match[i]), 3), -members.index(i)))
        dropped |= {i for i in members if i != best}
    set_aside = [
        ComponentResult(
            components[i],
            0.0,
            0.0,
            False,
            f"the other form's pattern matches the spectrum better (match {match[i]:.2f})",
        )
        for i in sorted(dropped)
    ]
    return [c for i, c in enumerate(components) if i not in dropped], set_aside


SIGNIFICANCE_ALPHA = 1e-3  # false-positive rate of the extra-sum-of-squares test of an overlapped compound


def _test_text(test: dict) -> str:
    return f"F = {test['f']:.1f} on {test['df'][0]}, {test['df'][1]} df, p = {test['p_value']:.1e}" + (
        f"; {test['share_of_overlapping_lines']:.1%} of the lines it lies under"
        if test["share_of_overlapping_lines"] is not None
        else ""
    )


def _amount_errors(
    kept: list[int], columns: np.ndarray, values: np.ndarray, amounts: np.ndarray, local: _LocalBaseline, sigma: float
) -> dict[int, float]:
    """Standard error of each kept amount: sigma^2 (A^T A)^-1 with the local
    baseline eliminated, sigma the larger of the noise and the fit's own
    residual scatter where the compounds are (a model that misses a little
    makes every amount less certain)."""
    if not kept:
        return {}
    block = columns[kept]
    gram = block @ block.T
    across = local.project(block)
    gram -= across @ local.coefficients(across.T)
    try:
        inverse = np.linalg.inv(gram + RIDGE * np.diag(gram).max() * np.eye(len(kept)))
    except np.linalg.LinAlgError:
        return {}
    residual = values - amounts @ columns - local.fit(columns, amounts, values)
    where = (amounts[kept] @ block) > sigma
    scatter = float(np.sqrt(np.mean(residual[where] ** 2))) if where.sum() > 2 * len(kept) else sigma
    spread = max(sigma, scatter)
    return {index: float(spread * np.sqrt(max(inverse[slot, slot], 0.0))) for slot, index in enumerate(kept)}


def _pattern_test(
    index: int,
    signal_count: int,
    kept: list[int],
    columns: np.ndarray,
    values: np.ndarray,
    amounts: np.ndarray,
    local: _LocalBaseline,
    sigma: float,
) -> dict:
    """Whether a compound hidden under others is there, by its whole pattern.

    Extra-sum-of-squares F-test over the points its lines cover: the joint fit
    without it (RSS0) against the joint fit with it (RSS1),
    F = ((RSS0 - RSS1) / q) / (RSS1 / (n - p)), q = 1 + its signals (an amount
    and a placement each), p = q + the compounds and two baseline terms there.
    Present when p-value < SIGNIFICANCE_ALPHA and its lines are more than the
    line-shape mismatch of the lines it lies under (MISMATCH_SHARE of them:
    the rule for unexplained lines next to a strong one)."""
    from scipy.stats import f as f_distribution

    own = amounts[index] * columns[index]
    footprint = own > sigma
    without = [i for i in kept if i != index]
    trial = np.zeros(columns.shape[0])
    if without:
        trial[without] = _solve(columns[without], values, local)
    n = int(footprint.sum())
    q = 1 + signal_count
    others = int(((amounts[:, None] * columns)[:, footprint] > sigma).any(axis=1).sum()) - 1
    df2 = max(n - q - others - 2, 1)
    rss1 = float(np.sum((values - amounts @ columns - local.fit(columns, amounts, values))[footprint] ** 2))
    rss0 = float(np.sum((values - trial @ columns - local.fit(columns, trial, values))[footprint] ** 2))
    statistic = max(rss0 - rss1, 0.0) / q / max(rss1 / df2, 1e-300)
    p_value = float(f_distribution.sf(statistic, q, df2)) if n > q + 2 else 1.0
    tops = own >= 0.5 * own.max() if own.max() > 0 else footprint
    under = float((amounts @ columns - own)[tops].sum())
    share = float(own[tops].sum()) / under if under > 0 else float("inf")
    return {
        "test": "extra-sum-of-squares F-test of the whole pattern",
        "f": round(statistic, 2),
        "df": [q, df2],
        "p_value": p_value,
        "alpha": SIGNIFICANCE_ALPHA,
        "share_of_overlapping_lines": round(share, 4) if np.isfinite(share) else None,
        "present": bool(p_value < SIGNIFICANCE_ALPHA and share >= MISMATCH_SHARE and amounts[index] > 0),
    }


def _phase_error_rows(axis: _Axis, components: list[FitComponent], amounts: np.ndarray, fwhm_hz: float) -> np.ndarray:
    """What a small leftover phase error (zero and first order) adds to the
    model: its dispersion counterpart (the Hilbert transform of the lines),
    and that times the position across the fitted range. Two rows, fitted
    freely like the baseline."""
    from scipy.fft import irfft, next_fast_len, rfft

    absorption = np.zeros(axis.ppm.size)
    for amount, component in zip(amounts, components):
        for signal in component.signals:
            if not _lines_are_real(signal):
                continue
            low, shape = _signal_shape(axis, signal, signal.observed_ppm, fwhm_hz, tails=True)
            absorption[low : low + shape.size] += amount * shape
    # The Hilbert transform (what scipy.signal.hilbert's imaginary part holds)
    # through real FFTs: -i sign(f) on the half spectrum, nothing at 0 and at
    # the Nyquist frequency. Padded: dispersion falls off only as 1/distance,
    # and must not wrap round.
    size = next_fast_len(2 * absorption.size)
    half = rfft(absorption, size)
    half *= -1j
    half[0] = 0.0
    if size % 2 == 0:
        half[-1] = 0.0
    dispersion = irfft(half, size, overwrite_x=True)[: absorption.size]
    position = np.linspace(-1.0, 1.0, axis.ppm.size)
    return np.vstack([dispersion, position * dispersion])


def _reach_tails(components: list[FitComponent], amounts: np.ndarray, sigma: float, fwhm_hz: float, mhz: float) -> None:
    """How far each signal's lines are drawn into the model: until their tails
    fall below half the noise. A strong singlet's tail at eight line widths is
    still tens of sigma; cut there, it would leave a step a small compound's
    line could be placed on."""
    for amount, component in zip(amounts, components):
        for signal in component.signals:
            width = line_width_of(signal.multiplicity, signal.width_hz + signal.extra_width_hz, fwhm_hz)
            # far from a multiplet its lines' tails add up: a Lorentzian of the
            # whole area A, which falls to a level h at x where A w / (pi x^2) = h
            area = max(amount, 0.0) * signal.protons
            reach_ppm = np.sqrt(area * width / 2 / mhz / (np.pi * TAIL_LEVEL_SIGMA * sigma))
            signal.tail_hz = float(min(reach_ppm * mhz, TAIL_MAX_HZ)) if _lines_are_real(signal) else 0.0


def _lines_are_real(signal: FitSignal) -> bool:
    """Whether a signal's drawn lines are its real ones, so their far tails and
    dispersion can be trusted: an unresolved multiplet's ("m") only stand in
    for lines nobody resolved."""
    return signal.multiplicity != "m"


def _misplacement(signal: FitSignal) -> float:
    """How far placement moved a signal from its tabulated shift, in tolerances."""
    return abs(signal.observed_ppm - signal.reference_ppm) / signal.tolerance_ppm


def _outside_range(ppm: np.ndarray, components: list[FitComponent]) -> list[ComponentResult]:
    """Drop signals the recorded window does not cover (partial spectra); a
    compound left with none is reported as not assessable."""
    low, high = float(ppm.min()) + RANGE_MARGIN_PPM, float(ppm.max()) - RANGE_MARGIN_PPM
    results = []
    for component in components:
        component.signals = [s for s in component.signals if low <= s.reference_ppm <= high]
        if not component.signals:
            results.append(
                ComponentResult(
                    component, 0.0, 0.0, False, f"its signals lie outside the recorded range ({low:.2f}-{high:.2f} ppm)"
                )
            )
    return results


def _place_satellites(axis: _Axis, target: np.ndarray, component: FitComponent, fwhm_hz: float) -> None:
    """One-bond 13C-1H coupling of each signal, from where its satellite pair fits best."""
    offsets = np.rint(SATELLITE_J_HZ / 2 / axis.mhz / axis.step).astype(int)
    for signal in component.signals:
        low, shape = _signal_shape(axis, signal, signal.observed_ppm, fwhm_hz, satellites=False)
        # the overlap of the shape with the target at every start a satellite may take
        first, last = max(low - int(offsets.max()), 0), min(low + int(offsets.max()) + shape.size, target.size)
        if last - first < shape.size:
            signal.satellite_j_hz = None
            continue
        dots = np.correlate(target[first:last], shape, mode="valid")
        below, above = low - offsets - first, low + offsets - first
        inside = (below >= 0) & (above < dots.size)  # both satellites within the spectrum
        scores = np.full(offsets.size, -np.inf)
        scores[inside] = dots[below[inside]] + dots[above[inside]]
        best = int(np.argmax(scores))
        signal.satellite_j_hz = float(SATELLITE_J_HZ[best]) if scores[best] > 0 else None


def _solve(columns: np.ndarray, values: np.ndarray, baseline: _LocalBaseline | None = None) -> np.ndarray:
    """Non-negative amounts of the columns (rows of ``columns``) that best
    explain ``values``, together with a free local baseline when one is given.

    The tall problem ||Ax + Bb - v|| is solved through its normal equations:
    the baseline is eliminated (its best coefficients for any amounts are a
    linear function of them), and what remains, G x ~ r with G = R^T R
    (Cholesky), is solved as the square problem ||Rx - R^-T r|| with x >= 0:
    the same minimiser, found on a few dozen rows instead of tens of thousands.

    G carries a whisker of ridge (RIDGE on columns of unit norm): nothing for
    columns the data tell apart, but where they cannot (two alike, or one no
    different from the baseline) the amount is shared out or left to the
    baseline, instead of being whatever the rounding of a near-zero pivot makes it.
    """
    from scipy.linalg import cholesky, solve_triangular
    from scipy.optimize import nnls

    gram = columns @ columns.T
    # columns scaled to unit norm (the products are scaled, not the tall matrix)
    scale = np.sqrt(np.diag(gram))
    scale[scale == 0] = 1.0
    gram /= np.outer(scale, scale)
    projection = columns @ values / scale
    if baseline is not None:
        # G = A^T A - A^T B (B^T B)^-1 B^T A, and likewise for the right-hand side
        across = baseline.project(columns) / scale[:, None]  # compounds x baseline functions
        gram -= across @ baseline.coefficients(across.T)
        projection -= across @ baseline.coefficients(baseline.project(values))
    gram[np.diag_indices_from(gram)] += RIDGE
    upper = cholesky(gram, lower=False)
    rhs = solve_triangular(upper, projection, trans="T", lower=False)
    solution, _ = nnls(upper, rhs, maxiter=50 * columns.shape[0])
    return solution / scale


class _LocalBaseline:
    """Terms fitted with free (signed) coefficients alongside the amounts: hat
    functions (linear B-splines) with knots every BASELINE_KNOT_PPM over the
    fitted range, a slowly varying local baseline the amounts cannot trade
    against, and any further rows added (a leftover phase error's dispersion).
    The hats are laid out once per fit, with their own Gram matrix; the extra
    rows are kept apart (not stacked under a copy of the hats), and every
    product with the basis is taken block by block."""

    def __init__(self, axis: _Axis):
        span = max(float(axis.ppm[0] - axis.ppm[-1]), 1e-12)
        knots = max(int(np.ceil(span / BASELINE_KNOT_PPM)), 1) + 1
        position = (axis.ppm[0] - axis.ppm) / span * (knots - 1)
        left = np.minimum(np.floor(position).astype(int), knots - 2)
        fraction = position - left
        points = np.arange(axis.ppm.size)
        self.hats = np.zeros((knots, axis.ppm.size))  # a dozen rows: dense products beat sparse ones
        self.hats[left, points] = 1 - fraction
        self.hats[left + 1, points] = fraction
        self._hat_gram = self.hats @ self.hats.T
        self.extra = np.zeros((0, axis.ppm.size))
        self._factorise()

    def with_rows(self, extra_rows: np.ndarray) -> _LocalBaseline:
        """The same hats and ``extra_rows`` (all-zero ones, from no strong line, left out)."""
        extended = copy(self)
        extended.extra = extra_rows[np.abs(extra_rows).max(axis=1) > 0]
        extended._factorise()
        return extended

    def _factorise(self) -> None:
        from scipy.linalg import LinAlgError, cho_factor

        cross = self.hats @ self.extra.T
        gram = np.block([[self._hat_gram, cross], [cross.T, self.extra @ self.extra.T]])
        try:
            self._factor = cho_factor(gram)
        except LinAlgError:  # an extra row no different from the baseline: a whisker of ridge
            self._factor = cho_factor(gram + 1e-9 * np.diag(gram).max() * np.eye(gram.shape[0]))

    def project(self, rows: np.ndarray) -> np.ndarray:
        """``rows @ basis.T``: each row (or a single vector) against every basis row."""
        return np.concatenate([rows @ self.hats.T, rows @ self.extra.T], axis=-1)

    def combine(self, coefficients: np.ndarray) -> np.ndarray:
        """``coefficients @ basis``: the baseline they describe."""
        knots = self.hats.shape[0]
        return coefficients[:knots] @ self.hats + coefficients[knots:] @ self.extra

    def coefficients(self, projections: np.ndarray) -> np.ndarray:
        """(B B^T)^-1 applied to projections onto the basis."""
        from scipy.linalg import cho_solve

        return cho_solve(self._factor, projections)

    def fit(self, columns: np.ndarray, amounts: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The baseline that best explains what the amounts leave."""
        return self.combine(self.coefficients(self.project(values - amounts @ columns)))


class _Judge:
    """Evidence for every placed signal, for any set of amounts.

    Everything the verdict needs is linear in the amounts once the shapes are
    placed: the intensity each compound puts under a signal's lines (weighted
    by the signal's own shape), and the fit of the signal's shape plus an
    offset to what the other compounds leave. So each signal's shape (and a
    flat window) is dotted once with the columns, the spectrum and the
    unassigned lines under it, and kept as a sparse row for the local
    baseline, which changes with the amounts; each judging round is then a
    few small products, however many rounds there are.
    """

    def __init__(self, axis: _Axis, fwhm_hz: float, components: list[FitComponent], stacked: np.ndarray):
        """``stacked``: a row per compound (its model per unit amount), then the
        spectrum, then the unassigned lines."""
        from scipy.sparse import csr_matrix

        self.components = components
        self.mhz, self.fwhm_hz = axis.mhz, fwhm_hz
        signals, self.owner = _flattened(components)
        placed = [_signal_shape(axis, s, s.observed_ppm, fwhm_hz) for s in signals]
        sizes = np.array([shape.size for _, shape in placed])
        pointer = np.concatenate(([0], np.cumsum(sizes)))
        points = np.concatenate([np.arange(low, low + shape.size) for low, shape in placed])
        weights = np.concatenate([shape for _, shape in placed])
        dimensions = (len(placed), axis.ppm.size)
        shapes = csr_matrix((weights, points, pointer), shape=dimensions)
        windows = csr_matrix((np.ones(points.size), points, pointer), shape=dimensions)
        # per signal: its shape (resp. a flat window) dotted with every column, the spectrum, the unassigned
        # lines (a small product per window: cheaper than the sparse rows against the transposed stack)
        self.under_shape = np.array([stacked[:, low : low + shape.size] @ shape for low, shape in placed])
        self.under_window = np.array([stacked[:, low : low + shape.size].sum(axis=1) for low, shape in placed])
        self.shapes, self.windows = shapes, windows
        self.points = sizes.astype(float)
        self.shape_sum = np.array([shape.sum() for _, shape in placed])
        self.shape_squares = np.array([np.dot(shape, shape) for _, shape in placed])
        self.shape_peak = np.array([shape.max() for _, shape in placed])
        self.column_peak = stacked[:-2].max(axis=1)
        # Two compounds' signals on one line: only the one sitting closer to its
        # tabulated shift may testify with it (a solvent singlet at its literature
        # shift is not taken as an impurity's signal pulled to the edge of its tolerance).
        observed = np.array([s.observed_ppm for s in signals])
        misplaced = np.array([_misplacement(s) for s in signals])
        self.outplaced_by = (
            (np.abs(observed[:, None] - observed[None, :]) < SAME_LINE_PPM)
            & (self.owner[:, None] != self.owner[None, :])
            & (misplaced[None, :] < misplaced[:, None])
        )

    def _half_spans(self, component: FitComponent) -> dict[str, float]:
        return {s.group: _half_span_hz(s, self.fwhm_hz) / self.mhz for s in component.signals}

    def __call__(self, amounts, sigma: float, baseline: np.ndarray | None = None) -> list[ComponentResult]:
        amounts = np.asarray(amounts, dtype=float)
        count = amounts.size
        own_amount = amounts[self.owner]
        # each compound's intensity under each signal's lines, weighted by the signal's shape
        shares = self.under_shape[:, :count] * amounts / self.shape_sum[:, None]
        rows = np.arange(self.owner.size)
        own_sum = own_amount * self.shape_squares / self.shape_sum
        unassigned = self.under_shape[:, count + 1] / self.shape_sum
        other_sum = shares.sum(axis=1) - shares[rows, self.owner] + unassigned
        total = own_sum + other_sum
        overlap = np.divide(other_sum, total, out=np.ones_like(total), where=total > 0)
        # support: the shape's coefficient when it and an offset are fitted to
        # the spectrum minus every other compound, the unassigned lines and the
        # compound's own other signals (the tails of a big broad line, or broad
        # ring-CH2 multiplets nearby, must not count as the signal)
        left_under_shape = (
            self.under_shape[:, count]
            - self.under_shape[:, :count] @ amounts
            - self.under_shape[:, count + 1]
            + own_amount * self.shape_squares
        )
        left_in_window = (
            self.under_window[:, count]
            - self.under_window[:, :count] @ amounts
            - self.under_window[:, count + 1]
            + own_amount * self.shape_sum
        )
        if baseline is not None:  # (the fitted local baseline is no compound's either)
            left_under_shape -= self.shapes @ baseline
            left_in_window -= self.windows @ baseline
        coefficient = (self.points * left_under_shape - self.shape_sum * left_in_window) / (
            self.points * self.shape_squares - self.shape_sum**2
        )
        strong_enough = own_amount * self.shape_peak >= DETECTION_SNR * sigma
        present = (own_amount > 0) & strong_enough
        testifies = (overlap < OVERLAP_LIMIT) & present & ~(self.outplaced_by & present[None, :]).any(axis=1)
        support = np.divide(coefficient, own_amount, out=np.zeros_like(coefficient), where=testifies)
        results, row = [], 0
        for index, component in enumerate(self.components):
            amount = float(amounts[index])
            snr = amount * self.column_peak[index] / sigma if amount > 0 else 0.0
            signals = []
            for signal in component.signals:
                names = [
                    partner.name
                    for j, partner in enumerate(self.components)
                    if j != index and shares[row, j] > 0.1 * max(own_sum[row], 1e-300) and shares[row, j] > 3 * sigma
                ]
                if unassigned[row] > max(0.1 * own_sum[row], 3 * sigma):
                    names.append("unassigned lines")
                signals.append(
                    SignalResult(
                        signal.group,
                        signal.reference_ppm,
                        round(float(signal.observed_ppm), 4),
                        signal.multiplicity,
                        signal.j_hz,
                        signal.protons,
                        round(float(overlap[row]), 3),
                        names,
                        round(float(support[row]), 3) if testifies[row] else None,
                    )
                )
                row += 1
            detected, reason, overlapped = _verdict(component, snr, signals, self._half_spans(component))
            peak = float(self.column_peak[index])
            results.append(
                ComponentResult(
                    component,
                    amount,
                    round(float(snr), 1),
                    detected,
                    reason,
                    signals,
                    overlapped,
                    DETECTION_SNR * sigma / peak if peak > 0 else None,
                )
            )
        return results


def _half_span_hz(signal: FitSignal, fwhm_hz: float) -> float:
    """How far a placed multiplet's lines reach from its centre: its outer lines plus one line width."""
    width = signal.width_hz + signal.extra_width_hz
    return outer_line_offset_hz(signal.multiplicity, signal.j_hz, width) + line_width_of(
        signal.multiplicity, width, fwhm_hz
    )


def _verdict(
    component: FitComponent, snr: float, signals: list[SignalResult], half_spans: dict[str, float] | None = None
) -> tuple[bool, str, bool]:
    """(detected, why, undecided): undecided when only overlap keeps the
    signals from testifying (the whole-pattern test decides then).
    ``half_spans``: each signal's lines reach this far (ppm) from its centre."""
    if snr < DETECTION_SNR:
        return False, f"below detection (S/N {snr:.1f} < {DETECTION_SNR:g})", False
    testified = [s for s in signals if s.support is not None]
    if not testified:
        names = sorted({n for s in signals for n in s.overlapped_with})
        return False, "every signal is overlapped" + (f" (by {', '.join(names)})" if names else ""), True
    share = {id(s): s.support for s in testified}
    tolerance = {s.group: reference.tolerance_ppm for s, reference in zip(signals, component.signals)}
    for first, second in combinations(testified, 2):
        distance = abs(first.observed_ppm - second.observed_ppm)
        # an impurity's two signals share lines when one sits inside the other's lines (a singlet placed
        # on a triplet 0.012 ppm off its centre was taken as two signals of a compound not there)
        reach = 0.0 if component.expected or not half_spans else max(half_spans[first.group], half_spans[second.group])
        collapsed = distance < max(SAME_LINE_PPM, reach)
        apart = abs(first.reference_ppm - second.reference_ppm)
        if not collapsed or apart <= SAME_LINE_PPM:
            continue
        # Two signals of the main component may truly coincide when their shifts
        # are that uncertain; the line must then hold both (each one's support is
        # what is left of it beside the other). For an impurity one line cannot
        # testify for two: allowing it found as many impurities that were not there.
        together = first.support + second.support
        if (
            component.expected
            and apart <= tolerance[first.group] + tolerance[second.group]
            and together >= 2 * SUPPORT_MIN
        ):
            share[id(first)] = share[id(second)] = together
            continue
        return (
            False,
            (
                f"{first.group} and {second.group} fall on one line at {first.observed_ppm:.3f} ppm: "
                "not this compound's pattern"
            ),
            False,
        )
    absent = [s for s in testified if share[id(s)] < SUPPORT_ABSENT]
    # (a line fuller than expected, another compound's, cannot make up for a missing one)
    weighted = sum(min(share[id(s)], 1.0) * s.protons for s in testified) / sum(s.protons for s in testified)
    if absent or weighted < SUPPORT_MIN:
        listed = ", ".join(
            f"{s.group} at {s.reference_ppm:.2f} ({share[id(s)]:.0%} of expected)"
            for s in (absent or [s for s in testified if share[id(s)] < SUPPORT_MIN])
        )
        return False, f"signals missing: {listed}", False
    diagnostic = [s for s, reference in zip(signals, component.signals) if reference.diagnostic]
    if diagnostic and not any(s.support is not None and s.support >= SUPPORT_MIN for s in diagnostic):
        listed = ", ".join(f"{s.group} at {s.reference_ppm:.2f}" for s in diagnostic)
        hidden = all(s.support is None for s in diagnostic)
        return False, f"diagnostic signal not seen on its own ({listed})", hidden
    return True, "signals present: " + ", ".join(f"{s.group} {s.observed_ppm:.3f}" for s in testified), False
