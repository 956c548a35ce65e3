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

The package: ``model`` (compounds, signals, results, drawing a multiplet),
``placement`` (where each multiplet sits), ``solve`` (the amounts with a local
baseline), ``judge`` (what is present) and ``joint`` (the rounds that tie them).
"""

from .amounts import ppm_w_w, salt_molar_mass
from .joint import ALWAYS_FITTED, estimate_fwhm_hz, fit_components
from .judge import DETECTION_SNR
from .model import ComponentResult, FitComponent, FitResult, FitSignal, SignalResult, component_model

__all__ = [
    "ALWAYS_FITTED",
    "DETECTION_SNR",
    "ComponentResult",
    "FitComponent",
    "FitResult",
    "FitSignal",
    "SignalResult",
    "component_model",
    "estimate_fwhm_hz",
    "fit_components",
    "ppm_w_w",
    "salt_molar_mass",
]
