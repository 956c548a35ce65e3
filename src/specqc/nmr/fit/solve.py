"""The solve: non-negative amounts of every compound together with a free
local baseline (and the dispersion a leftover phase error adds), and the
standard errors of those amounts."""

from __future__ import annotations

from copy import copy

import numpy as np

from .model import Axis, FitComponent, lines_are_real, signal_shape


RIDGE = 1e-9  # added to the fit's normal equations (columns of unit norm): see solve


BASELINE_KNOT_PPM = 1.0  # spacing of the local baseline fitted with the lines: far wider than any multiplet


def solve(columns: np.ndarray, values: np.ndarray, baseline: LocalBaseline | None = None) -> np.ndarray:
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

    if columns.shape[0] == 0:
        # every candidate dropped: nothing to solve (scipy's nnls aborts the process on an empty problem)
        return np.zeros(0)
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


class LocalBaseline:
    """Terms fitted with free (signed) coefficients alongside the amounts: hat
    functions (linear B-splines) with knots every BASELINE_KNOT_PPM over the
    fitted range, a slowly varying local baseline the amounts cannot trade
    against, and any further rows added (a leftover phase error's dispersion).
    The hats are laid out once per fit, with their own Gram matrix; the extra
    rows are kept apart (not stacked under a copy of the hats), and every
    product with the basis is taken block by block."""

    def __init__(self, axis: Axis):
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

    def with_rows(self, extra_rows: np.ndarray) -> LocalBaseline:
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


def amount_errors(
    kept: list[int], columns: np.ndarray, values: np.ndarray, amounts: np.ndarray, local: LocalBaseline, sigma: float
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


def phase_error_rows(axis: Axis, components: list[FitComponent], amounts: np.ndarray, fwhm_hz: float) -> np.ndarray:
    """What a small leftover phase error (zero and first order) adds to the
    model: its dispersion counterpart (the Hilbert transform of the lines),
    and that times the position across the fitted range. Two rows, fitted
    freely like the baseline."""
    from scipy.fft import irfft, next_fast_len, rfft

    absorption = np.zeros(axis.ppm.size)
    for amount, component in zip(amounts, components):
        for signal in component.signals:
            if not lines_are_real(signal):
                continue
            low, shape = signal_shape(axis, signal, signal.placed_ppm, fwhm_hz, tails=True)
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
