"""Robust noise estimate shared by the chromatographic, UV and NMR analyses."""

from __future__ import annotations

import numpy as np


def difference_sigma(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Noise sigma along ``axis`` from the robust spread (MAD) of point-to-point
    differences, which a smooth baseline or a broad signal hardly affects (the
    differences of white noise spread sqrt(2) times as wide as the noise)."""
    deviations = np.diff(values, axis=axis)  # worked out in place from here on
    if not np.issubdtype(deviations.dtype, np.floating):  # (counts)
        deviations = deviations.astype(float)
    deviations -= np.median(deviations, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(deviations, out=deviations), axis=axis, overwrite_input=True) / np.sqrt(2)
