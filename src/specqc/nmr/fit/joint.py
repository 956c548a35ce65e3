"""One joint fit of every candidate compound: placement, solve and
judgement in rounds, then the candidates that are not there are dropped
(missing signals first, then by backward elimination on the whole-pattern
test) and the rest fitted again."""

from __future__ import annotations

import numpy as np

from ..lineshape import line_width_of, multiplet_extent_hz
from ..peaks import PROTON_WINDOW_PPM
from .judge import MISMATCH_SHARE, Judge, pattern_test, test_text
from .model import (
    C13_SATELLITE_SHARE,
    Axis,
    ComponentResult,
    FitComponent,
    FitResult,
    add_lorentzian,
    column,
    lines_are_real,
)
from .placement import (
    BROAD_WIDTHS,
    J_STEPS_HZ,
    PLACEMENT_FLOOR_SNR,
    SATELLITE_J_HZ,
    Placement,
    Targets,
    choose_forms,
    place_satellites,
)
from .solve import LocalBaseline, amount_errors, phase_error_rows, solve


UNKNOWN_LINE_SNR = 8.0


RANGE_MARGIN_PPM = 0.2


ALWAYS_FITTED = ("residual", "tms", "dss")  # present by construction, never reported


FIT_POINTS_PER_FWHM = 4  # grid density the fit works on (3 already changes borderline detections at 128k)


TAIL_LEVEL_SIGMA = 0.5  # a strong line's Lorentzian tails are drawn until they fall to this level,


TAIL_MAX_HZ = 150.0  # or this far from the multiplet


SATELLITE_SNR = 1.0  # satellites are modelled once they reach the noise (their 1J is then measurable)


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
    axis = Axis(ppm, mhz)
    fwhm_hz = fwhm_hz or estimate_fwhm_hz(ppm, values, sigma, mhz)
    outside = outside_range(ppm, components)
    components = [c for c in components if c.signals]
    if not components:
        return FitResult(outside, fwhm_hz)
    # Everything below looks only where some candidate may have lines (most of
    # a 64k-point spectrum is baseline no compound reaches), on a grid with a
    # few points per line width: zero-filling makes the spectrum finer than
    # the fit needs, and a coarser grid holds the same lines.
    low, high = fit_span(axis, components, fwhm_hz)
    stride = max(int(fwhm_hz / mhz / axis.step / FIT_POINTS_PER_FWHM), 1)
    results = fit_within(Axis(ppm[low:high:stride], mhz), values[low:high:stride], sigma, fwhm_hz, components)
    return FitResult(results + outside, fwhm_hz, stride * axis.step * mhz)


def fit_span(axis: Axis, components: list[FitComponent], fwhm_hz: float) -> tuple[int, int]:
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


def fit_within(
    axis: Axis, values: np.ndarray, sigma: float, fwhm_hz: float, components: list[FitComponent]
) -> list[ComponentResult]:
    from scipy.signal import find_peaks

    ppm, mhz = axis.ppm, axis.mhz
    # one form of each compound is fitted: two forms share most lines and would only split them
    components, set_aside = choose_forms(axis, values, sigma, fwhm_hz, components)
    placement = Placement(axis, components, fwhm_hz)
    placement.place(Targets(values), PLACEMENT_FLOOR_SNR * sigma)
    # one array for the compounds' columns and the two rows judging weighs besides (the spectrum, the unassigned lines)
    stacked = np.empty((len(components) + 2, ppm.size))
    columns = stacked[:-2]  # compounds x points
    for index, component in enumerate(components):
        column(axis, component, fwhm_hz, out=columns[index])
    # A slowly varying local baseline is fitted with the lines: the spectrum's
    # polynomial baseline leaves plateaus of tens of sigma under crowded regions
    # of a strong spectrum, which a small compound's line would otherwise soak up.
    local = hats = LocalBaseline(axis)
    amounts = solve(columns, values, local)
    baseline = local.fit(columns, amounts, values)
    reach_tails(components, amounts, sigma, fwhm_hz, mhz)  # from the next round's columns on
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
                (amounts[i] * column(axis, components[i], fwhm_hz, satellites=False) for i in strong),
                np.zeros(ppm.size),
            )
        )
        # (each against the spectrum minus every other compound, as fitted at the start of the round)
        placement.place(Targets(values - model, columns, amounts), PLACEMENT_FLOOR_SNR * sigma)
        for index, component in enumerate(components):
            if index in strong:
                place_satellites(axis, without_satellites, component, fwhm_hz)
            column(axis, component, fwhm_hz, out=columns[index])
        # A few degrees of phase error left by automatic phasing add a little of
        # every strong line's dispersion, which falls off only as 1/distance: tens
        # of sigma where a small compound's multiplet sits. Fitted with the baseline.
        local = hats.with_rows(phase_error_rows(axis, [components[i] for i in strong], amounts[strong], fwhm_hz))
        amounts = solve(columns, values, local)
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
        add_lorentzian(axis, stacked[-1], float(ppm[peak]), fwhm_hz, residual[peak] * np.pi * fwhm_hz / mhz / 2)
    # Candidates that are not there still take a little intensity where they
    # overlap real compounds. Drop those whose signals are missing, fit again
    # (a compound that only looked overlapped gets a second look), and finally
    # fit with only what was found.
    judge = Judge(axis, fwhm_hz, components, stacked)
    results = judge(amounts, sigma, baseline)
    kept = list(range(len(components)))

    def refit(chosen: list[int]) -> tuple[np.ndarray, list[ComponentResult]]:
        trial = np.zeros(len(components))
        trial[chosen] = solve(columns[chosen], values, local)
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
            i: pattern_test(i, len(components[i].signals), kept, columns, values, amounts, local, sigma)
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
        why = test_text(tests[weakest])
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
            f"fit ({test_text(test)}) but cannot be told from a misfit of those lines: not confirmed"
        )
    final = [i for i in kept if results[i].detected or components[i].kind in ALWAYS_FITTED]
    if final != kept:
        kept = final
        amounts, refitted = refit(kept)
        results = [refitted[i] if i in kept else results[i] for i in range(len(components))]
    for index, error in amount_errors(kept, columns, values, amounts, local, sigma).items():
        results[index].amount_error = error
    return results + set_aside


def reach_tails(components: list[FitComponent], amounts: np.ndarray, sigma: float, fwhm_hz: float, mhz: float) -> None:
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
            signal.tail_hz = float(min(reach_ppm * mhz, TAIL_MAX_HZ)) if lines_are_real(signal) else 0.0


def outside_range(ppm: np.ndarray, components: list[FitComponent]) -> list[ComponentResult]:
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
