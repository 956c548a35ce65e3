"""The judgement of what is present: for every placed signal, how much of
its expected intensity the spectrum shows once the other compounds are taken
away (its support) and how far others overlap it; a compound's verdict from its
signals; and the whole-pattern test of a compound hidden under others."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .model import (
    SAME_LINE_PPM,
    Axis,
    ComponentResult,
    FitComponent,
    SignalResult,
    flattened,
    half_span_hz,
    misplacement,
    signal_shape,
)
from .solve import LocalBaseline, solve


DETECTION_SNR = 10.0  # model height over noise sigma for a compound to count (quantitation limit)


SUPPORT_MIN = 0.6  # the free-standing signals must show this share of their expected intensity (proton-weighted)


SUPPORT_ABSENT = 0.4  # and none of them less than this: a predicted multiplet's shape may be off, its absence not


OVERLAP_LIMIT = 0.5  # share of a signal's window explained by others above which it cannot testify


MISMATCH_SHARE = 0.05


SIGNIFICANCE_ALPHA = 1e-3  # false-positive rate of the extra-sum-of-squares test of an overlapped compound


class Judge:
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

    def __init__(self, axis: Axis, fwhm_hz: float, components: list[FitComponent], stacked: np.ndarray):
        """``stacked``: a row per compound (its model per unit amount), then the
        spectrum, then the unassigned lines."""
        from scipy.sparse import csr_matrix

        self.components = components
        self.mhz, self.fwhm_hz = axis.mhz, fwhm_hz
        signals, self.owner = flattened(components)
        placed = [signal_shape(axis, s, s.placed_ppm, fwhm_hz) for s in signals]
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
        observed = np.array([s.placed_ppm for s in signals])
        misplaced = np.array([misplacement(s) for s in signals])
        self.outplaced_by = (
            (np.abs(observed[:, None] - observed[None, :]) < SAME_LINE_PPM)
            & (self.owner[:, None] != self.owner[None, :])
            & (misplaced[None, :] < misplaced[:, None])
        )

    def _half_spans(self, component: FitComponent) -> dict[str, float]:
        return {s.group: half_span_hz(s, self.fwhm_hz) / self.mhz for s in component.signals}

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
                        round(float(signal.placed_ppm), 4),
                        signal.multiplicity,
                        signal.j_hz,
                        signal.protons,
                        round(float(overlap[row]), 3),
                        names,
                        round(float(support[row]), 3) if testifies[row] else None,
                    )
                )
                row += 1
            detected, reason, overlapped = verdict(component, snr, signals, self._half_spans(component))
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


def verdict(
    component: FitComponent, snr: float, signals: list[SignalResult], half_spans: dict[str, float] | None = None
) -> tuple[bool, str, bool]:
    """(detected, why, undecided): undecided when only overlap keeps the
    signals from testifying (the whole-pattern test decides then).
    ``half_spans``: each signal's lines reach this far (ppm) from its centre."""
    if snr < DETECTION_SNR:
        return False, f"below detection (S/N {snr:.1f} < {DETECTION_SNR:g})", False
    testified = [s for s in signals if s.support is not None]
    # each testifying signal's support as measured, and as credited below (a shared line's sum)
    measured: dict[int, float] = {id(s): s.support for s in signals if s.support is not None}
    if not testified:
        names = sorted({n for s in signals for n in s.overlapped_with})
        return False, "every signal is overlapped" + (f" (by {', '.join(names)})" if names else ""), True
    share = dict(measured)
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
        together = measured[id(first)] + measured[id(second)]
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


def test_text(test: dict) -> str:
    return f"F = {test['f']:.1f} on {test['df'][0]}, {test['df'][1]} df, p = {test['p_value']:.1e}" + (
        f"; {test['share_of_overlapping_lines']:.1%} of the lines it lies under"
        if test["share_of_overlapping_lines"] is not None
        else ""
    )


def pattern_test(
    index: int,
    signal_count: int,
    kept: list[int],
    columns: np.ndarray,
    values: np.ndarray,
    amounts: np.ndarray,
    local: LocalBaseline,
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
        trial[without] = solve(columns[without], values, local)
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
