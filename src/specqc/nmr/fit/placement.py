"""Placement: each multiplet is moved to where its pattern best matches the
spectrum within its tolerance (cosine match, J refined a little, the width
tried on a ladder for exchange-broadened lines), the 13C satellites of strong
compounds are found, and of two forms of one compound (salt, free base) the one
that matches is chosen."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..lineshape import multiplet_extent_hz, multiplet_shapes
from .judge import SUPPORT_MIN
from .model import (
    SAME_LINE_PPM,
    Axis,
    ComponentResult,
    FitComponent,
    FitSignal,
    flattened,
    half_span_hz,
    misplacement,
    signal_shape,
)


J_STEPS_HZ = np.arange(-0.6, 0.61, 0.1)


BROAD_WIDTHS = (0.0, 1.0, 2.0, 3.5, 6.0, 10.0, 16.0)  # extra widths tried for exchange-broadened lines, x FWHM


SATELLITE_J_HZ = np.arange(120.0, 170.5, 0.5)  # 1J(13C,1H) range searched


MOVE_PENALTY = 0.1  # a match is scored less by this at the edge of the tolerance (quadratic in the move)
PLACEMENT_FLOOR_SNR = 3.0  # below this nothing in a window is worth matching a pattern to


class Targets:
    """What each compound is placed against: the spectrum minus every other
    compound, ``common + amounts[c] * columns[c]``, evaluated only at the
    points placement looks at (the compounds x points array is never formed)."""

    def __init__(self, common: np.ndarray, columns: np.ndarray | None = None, amounts: np.ndarray | None = None):
        self.common, self.columns, self.amounts = common, columns, amounts
        self.size = common.size

    def gather(self, owners: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Compound ``owners`` target at ``points`` (broadcast together)."""
        if self.columns is None or self.amounts is None:
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


class Placement:
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

    def __init__(self, axis: Axis, components: list[FitComponent], fwhm_hz: float):
        size = axis.ppm.size
        self.signals, self.owner = flattened(components)
        self.shift = np.array([max(int(s.tolerance_ppm / axis.step), 1) for s in self.signals])
        self.step = axis.step
        self.axis = axis
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
        rows: list[_SearchRow] = []
        refinements: list[tuple[int, np.ndarray, np.ndarray] | None] = []
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

    def place(self, targets: Targets, floor: float) -> None:
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
                keep_placement(signal)
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
        self._separate_shared_lines(targets)

    def _separate_shared_lines(self, targets: Targets) -> None:
        """Two multiplets of one compound placed on one line: each multiplet is
        placed on its own, so two of them with overlapping windows both take the
        strongest line there. Once the compound's amount is known, the line
        holds both only if, the compound's other multiplets taken away, it still
        covers most of the second one's expected intensity; if not, the one
        placed further from its tabulated shift moves to where its expected
        intensity is best covered (as long as that is better than where it was).
        Intensity, not the cosine match: a half-emptied line still has the right shape."""
        if targets.columns is None or targets.amounts is None:
            return  # the first placement: no amounts yet
        for first, second in self._shared_line_pairs():
            owner = int(self.owner[first])
            amount = float(targets.amounts[owner])
            if amount <= 0:
                continue
            a, b = self.signals[first], self.signals[second]
            mover = first if misplacement(a) >= misplacement(b) else second
            self._move_to_own_line(targets, mover, amount)

    def _shared_line_pairs(self) -> list[tuple[int, int]]:
        pairs = []
        for first in range(len(self.signals)):
            for second in range(first + 1, len(self.signals)):
                if self.owner[first] != self.owner[second]:
                    continue
                a, b = self.signals[first], self.signals[second]
                if abs(a.reference_ppm - b.reference_ppm) <= SAME_LINE_PPM:
                    continue  # tabulated on one line: they are meant to share it
                reach = max(half_span_hz(a, self.fwhm_hz), half_span_hz(b, self.fwhm_hz)) / self.axis.mhz
                if abs(a.placed_ppm - b.placed_ppm) < max(SAME_LINE_PPM, reach):
                    pairs.append((first, second))
        return pairs

    def _move_to_own_line(self, targets: Targets, number: int, amount: float) -> None:
        axis, signal, shift = self.axis, self.signals[number], int(self.shift[number])
        # the multiplet's expected intensity at its tabulated shift, slid point by point
        start, expected = signal_shape(axis, signal, signal.reference_ppm, self.fwhm_hz, satellites=False)
        expected = amount * expected
        total = float(expected.sum())
        low, high = start - shift, start + expected.size + shift
        if low < 0 or high > targets.size or total <= 0:
            return
        points = np.arange(low, high)
        left = targets.gather(np.full(points.size, self.owner[number]), points)
        for other, partner in enumerate(self.signals):
            if other == number or self.owner[other] != self.owner[number]:
                continue
            first, shape = signal_shape(axis, partner, partner.placed_ppm, self.fwhm_hz, tails=True)
            overlap_low, overlap_high = max(first, low), min(first + shape.size, high)
            if overlap_high > overlap_low:
                left[overlap_low - low : overlap_high - low] -= (
                    amount * shape[overlap_low - first : overlap_high - first]
                )
        left = np.clip(left, 0.0, None)
        offsets = np.arange(2 * shift + 1)
        covered = np.array([np.minimum(left[k : k + expected.size], expected).sum() for k in offsets])
        coverage = covered / total - MOVE_PENALTY * ((offsets - shift) / max(shift, 1)) ** 2
        here = int(round((signal.reference_ppm - signal.placed_ppm) / self.step)) + shift
        if 0 <= here < offsets.size and covered[here] / total >= SUPPORT_MIN:
            return  # the line holds both (what the judge asks of a signal)
        best = int(np.argmax(coverage))
        if 0 <= here < offsets.size and coverage[best] <= coverage[here]:
            return
        signal.observed_ppm = signal.reference_ppm - (best - shift) * self.step

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

    def _refine(self, targets: Targets, best: dict) -> dict:
        """signal -> (J, shift index, score, score one shift lower, one higher):
        every trial J scored at the best shift and two either side, for all
        multiplets at once. A multiplet too near an edge keeps its tabulated J."""
        chosen = [(number, self.refinement_of_row[row], k) for number, (_, k, row) in best.items()]
        chosen = [item for item in chosen if item[1] >= 0]
        if not chosen:
            return {}
        numbers, slots, centres = (np.array(column) for column in zip(*chosen))
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
        penalty = MOVE_PENALTY * ((positions - shift[:, None]) / shift[:, None]) ** 2
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
            offsets <= 2 * row_shift[:, None],
            MOVE_PENALTY * ((offsets - row_shift[:, None]) / row_shift[:, None]) ** 2,
            np.inf,
        )
        self.window_end = np.minimum(offsets + template_sizes[:, None], length)

    def search(self, targets: Targets) -> tuple[np.ndarray, ...]:
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
    axis: Axis, signal: FitSignal, extra_width_hz: float, couplings: tuple[float, ...], fwhm_hz: float
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


def keep_placement(signal: FitSignal) -> None:
    """Nothing to match: the signal stays where it was, or at its tabulated shift."""
    if signal.observed_ppm is None:
        signal.observed_ppm = signal.reference_ppm


def place_satellites(axis: Axis, target: np.ndarray, component: FitComponent, fwhm_hz: float) -> None:
    """One-bond 13C-1H coupling of each signal, from where its satellite pair fits best."""
    offsets = np.rint(SATELLITE_J_HZ / 2 / axis.mhz / axis.step).astype(int)
    for signal in component.signals:
        low, shape = signal_shape(axis, signal, signal.placed_ppm, fwhm_hz, satellites=False)
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


def choose_forms(
    axis: Axis, values: np.ndarray, sigma: float, fwhm_hz: float, components: list[FitComponent]
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
    placement = Placement(axis, [components[i] for i in alternatives], fwhm_hz)
    placement.place(Targets(values), PLACEMENT_FLOOR_SNR * sigma)
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
