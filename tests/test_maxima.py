"""specqc.lcms.maxima gives exactly what scipy.signal gives (indices, prominences,
widths, bit for bit) on the kinds of signal the LC-MS analysis feeds it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks as scipy_find_peaks
from scipy.signal import peak_widths as scipy_peak_widths

from specqc.lcms import maxima
from specqc.lcms.peaks import smooth


def _signals():
    rng = np.random.default_rng(2026)
    t = np.linspace(0.0, 10.0, 1200)
    for seed in range(60):
        local = np.random.default_rng(seed)
        trace = np.zeros_like(t)
        for _ in range(local.integers(0, 6)):
            centre, width, area = local.uniform(0, 10), local.uniform(0.01, 0.3), local.lognormal(10, 2)
            trace += area * np.exp(-0.5 * ((t - centre) / width) ** 2)
        trace += local.normal(0, local.uniform(1, 500), t.size)
        yield f"chromatogram {seed}", trace
        yield f"smoothed chromatogram {seed}", smooth(trace, int(local.integers(5, 25)))
    # quantised intensities: plateaus and ties everywhere
    yield "quantised", np.round(rng.normal(0, 3, 3000))
    yield "plateaus", np.repeat(rng.integers(0, 5, 400), rng.integers(1, 5, 400)).astype(float)
    yield "flat", np.ones(50)
    yield "plateau at the end", np.array([0, 1, 3, 3, 3])
    yield "plateau at the start", np.array([3, 3, 1, 2, 0])
    yield "two points", np.array([1.0, 2.0])
    yield "empty", np.array([])
    yield "staircase", np.array([0, 1, 1, 2, 2, 1, 1, 0, 5, 5, 5, 5, 4, 6, 0], dtype=float)
    # profile spectra: many narrow Gaussians over a wide range, one very strong
    mz = np.linspace(100, 1000, 40000)
    spectrum = np.zeros_like(mz)
    for centre in rng.uniform(100, 1000, 300):
        spectrum += rng.lognormal(6, 2) * np.exp(-0.5 * ((mz - centre) / (centre / 60000 / 2.35)) ** 2)
    spectrum[20000:20013] += 1e9 * np.exp(-0.5 * (np.arange(-6, 7) / 2.5) ** 2)
    yield "profile spectrum", spectrum + rng.exponential(2.0, mz.size)


SIGNALS = list(_signals())


@pytest.mark.parametrize("name,x", SIGNALS, ids=[name for name, _ in SIGNALS])
def test_local_maxima_and_prominences_match_scipy(name, x):
    expected, expected_properties = scipy_find_peaks(x, prominence=0)
    found, properties = maxima.find_peaks(x, prominence=0)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_array_equal(properties["prominences"], expected_properties["prominences"])


@pytest.mark.parametrize("name,x", SIGNALS, ids=[name for name, _ in SIGNALS])
def test_height_and_prominence_bounds_match_scipy(name, x):
    """As detect_peaks calls it: bounds that vary along the trace."""
    if x.size == 0:
        pytest.skip("no samples to set bounds on")
    noise = 1.4826 * np.median(np.abs(np.diff(x))) + np.linspace(0.0, 1.0, x.size) * float(np.ptp(x)) * 0.01
    bound = 0.6 * 10 * noise
    expected, expected_properties = scipy_find_peaks(x, height=bound, prominence=bound)
    found, properties = maxima.find_peaks(x, height=bound, prominence=bound)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_array_equal(properties["prominences"], expected_properties["prominences"])
    np.testing.assert_array_equal(properties["peak_heights"], expected_properties["peak_heights"])


def test_bounds_keep_some_peaks_and_drop_others():
    """The comparisons above must exercise both outcomes of the bounds."""
    kept = dropped = 0
    for _name, x in SIGNALS:
        if x.size < 3:
            continue
        bound = 0.6 * 10 * 1.4826 * np.median(np.abs(np.diff(x)))
        every, _ = maxima.find_peaks(x)
        some, _ = maxima.find_peaks(x, height=bound, prominence=bound)
        kept += some.size
        dropped += every.size - some.size
    assert kept > 50 and dropped > 1000


@pytest.mark.parametrize(
    "name,x", [s for s in SIGNALS if s[1].size >= 3], ids=[s[0] for s in SIGNALS if s[1].size >= 3]
)
def test_peak_widths_match_scipy(name, x):
    peaks, _ = scipy_find_peaks(x, prominence=0.05 * float(np.max(x)) if np.max(x) > 0 else 1e-9)
    if peaks.size == 0:
        peaks, _ = scipy_find_peaks(x, prominence=1e-12)
    if peaks.size == 0:
        pytest.skip("no prominent peak in this signal")
    for expected, found in zip(scipy_peak_widths(x, peaks, rel_height=0.5), maxima.peak_widths(x, peaks, 0.5)):
        np.testing.assert_array_equal(found, expected)


def test_flat_top_is_one_peak_at_its_middle():
    x = np.array([0, 1, 4, 4, 4, 4, 1, 0, 2, 0], dtype=float)
    found, properties = maxima.find_peaks(x, prominence=0)
    assert found.tolist() == [3, 8]
    assert properties["prominences"].tolist() == [4.0, 2.0]


def test_bound_array_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="as long as x"):
        maxima.find_peaks(np.arange(10.0), height=np.ones(3))


@pytest.mark.parametrize(
    "name,x", [s for s in SIGNALS if s[1].size >= 3], ids=[s[0] for s in SIGNALS if s[1].size >= 3]
)
def test_direct_search_and_block_tables_agree(name, x, monkeypatch):
    """Few peaks are searched one by one, many through block tables: both give the same."""
    peaks = maxima.local_maxima(x)
    if peaks.size == 0:
        pytest.skip("no local maximum in this signal")
    monkeypatch.setattr(maxima, "DIRECT_SEARCH_PEAKS", 0)
    by_tables = maxima.prominences(x, peaks)
    monkeypatch.setattr(maxima, "DIRECT_SEARCH_PEAKS", peaks.size)
    one_by_one = maxima.prominences(x, peaks)
    for expected, found in zip(by_tables, one_by_one):
        np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 7, 12, 300])
def test_running_median_is_nanmedian_of_the_padded_windows(size):
    """local_noise's block medians: the same values as the NaN-padded nanmedian they replace."""
    from specqc.lcms.peaks import running_median

    rng = np.random.default_rng(size)
    for values in (rng.lognormal(3, 1, size), np.round(rng.normal(10, 2, size)), np.full(size, 7.25)):
        padded = np.concatenate([np.full(2, np.nan), values, np.full(2, np.nan)])
        expected = np.nanmedian(np.stack([padded[i : i + size] for i in range(5)]), axis=0)
        np.testing.assert_array_equal(running_median(values, reach=2), expected)
