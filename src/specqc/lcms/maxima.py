"""Local maxima of a 1-D signal, their prominence and width: the subset of
``scipy.signal.find_peaks`` / ``peak_widths`` the LC-MS analysis uses, with
the same definitions and the same floating-point operations, so that every
index and value is identical to scipy's.

Why not scipy.signal itself: importing any part of it runs the whole package's
start-up (its windows, filters, spline and statistics modules), which costs
more CPU than reading a 1,200-scan run. The LC-MS path needs only this.

Prominence (scipy's definition, ``wlen=None``): from a peak, extend a
horizontal line to each side until it meets a sample strictly higher than the
peak, or the signal's end; the lowest sample on each side is that side's base,
and the prominence is the peak's height above the higher of the two bases.
The extents are found for all peaks at once by binary lifting over tables of
block maxima (O(n log n)), so a broad peak on a long signal costs no more than
a narrow one.
"""

from __future__ import annotations

import numpy as np


def local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of ``x``: samples higher than both
    neighbours; a flat top (several equal samples, lower samples either side)
    counts once, at its middle (the lower middle for an even count). The
    first and last samples are never maxima."""
    n = x.size
    if n < 3:
        return np.empty(0, dtype=np.intp)
    # runs of equal values: [starts[k], ends[k]] inclusive
    change = np.flatnonzero(x[1:] != x[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change - 1, [n - 1]))
    inner = (starts >= 1) & (ends <= n - 2)
    starts, ends = starts[inner], ends[inner]
    rising = x[starts - 1] < x[starts]
    falling = x[ends + 1] < x[ends]
    keep = rising & falling
    return ((starts[keep] + ends[keep]) // 2).astype(np.intp)


def _block_tables(x: np.ndarray, combine) -> list[np.ndarray]:
    """tables[k][i] = combine over x[i : i + 2**k]."""
    tables = [x]
    span = 1
    while 2 * span <= x.size:
        previous = tables[-1]
        tables.append(combine(previous[:-span], previous[span:]))
        span *= 2
    return tables


def _range_min(minima: list[np.ndarray], first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """min(x[first : last + 1]) for each pair (two overlapping blocks)."""
    length = last - first + 1
    level = np.floor(np.log2(length)).astype(np.intp)
    # log2 of a float can land just below an exact power of two: correct by one level where needed
    level = np.where((1 << (level + 1)) <= length, level + 1, level)
    level = np.where((1 << level) > length, level - 1, level)
    result = np.empty(first.size, dtype=np.float64)
    for k in np.unique(level):
        chosen = level == k
        table = minima[k]
        result[chosen] = np.minimum(table[first[chosen]], table[last[chosen] - (1 << k) + 1])
    return result


# Up to this many peaks, each peak's extent is searched directly (a few array
# operations per peak); beyond, block tables pay for themselves.
DIRECT_SEARCH_PEAKS = 16


def extents(x: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each peak, the first and last index of the stretch around it in
    which no sample is higher than the peak."""
    if peaks.size <= DIRECT_SEARCH_PEAKS:
        return _extents_direct(x, peaks)
    maxima = _block_tables(x, np.maximum)
    heights = x[peaks]
    first = peaks.astype(np.intp).copy()
    last = peaks.astype(np.intp).copy()
    n = x.size
    for k in range(len(maxima) - 1, -1, -1):
        span = 1 << k
        table = maxima[k]
        # extend left by a block [first - span, first) whose maximum is not above the peak
        candidate = first - span
        can = candidate >= 0
        can[can] = table[candidate[can]] <= heights[can]
        first[can] = candidate[can]
        # extend right by a block (last, last + span]
        can = last + span <= n - 1
        can[can] = table[last[can] + 1] <= heights[can]
        last[can] += span
    return first, last


def _extents_direct(x: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = np.empty(peaks.size, dtype=np.intp)
    last = np.empty(peaks.size, dtype=np.intp)
    for number, peak in enumerate(peaks.tolist()):
        height = x[peak]
        higher = x[peak - 1 :: -1] > height if peak > 0 else x[:0] > height  # leftwards from the peak
        step = int(higher.argmax()) if higher.size else 0
        first[number] = peak - step if higher.size and higher[step] else 0
        higher = x[peak + 1 :] > height
        step = int(higher.argmax()) if higher.size else 0
        last[number] = peak + step if higher.size and higher[step] else x.size - 1
    return first, last


def prominences(x: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prominence of each peak, and the first and last index of its extent."""
    if peaks.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return np.empty(0, dtype=np.float64), empty, empty
    first, last = extents(x, peaks)
    if peaks.size <= DIRECT_SEARCH_PEAKS:
        left_min = np.array([x[a : b + 1].min() for a, b in zip(first.tolist(), peaks.tolist())])
        right_min = np.array([x[a : b + 1].min() for a, b in zip(peaks.tolist(), last.tolist())])
    else:
        minima = _block_tables(x, np.minimum)
        left_min = _range_min(minima, first, peaks)
        right_min = _range_min(minima, peaks, last)
    return x[peaks] - np.maximum(left_min, right_min), first, last


def find_peaks(
    x, height: np.ndarray | float | None = None, prominence: np.ndarray | float | None = None
) -> tuple[np.ndarray, dict]:
    """Local maxima at least ``height`` high and at least ``prominence``
    prominent (each a number or an array as long as ``x``, read at the peak),
    as ``scipy.signal.find_peaks(x, height=..., prominence=...)`` returns them:
    the indices, and a dict with "prominences" (and "peak_heights" when a
    height is given) for the peaks kept."""
    x = np.asarray(x, order="C", dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("x must be one-dimensional")
    peaks = local_maxima(x)
    properties: dict[str, np.ndarray] = {}
    if height is not None:
        heights = x[peaks]
        keep = _at_least(heights, height, x, peaks)
        peaks, properties["peak_heights"] = peaks[keep], heights[keep]
    if prominence is not None:
        values, first, last = prominences(x, peaks)
        keep = _at_least(values, prominence, x, peaks)
        peaks = peaks[keep]
        properties = {key: value[keep] for key, value in properties.items()}
        properties.update(prominences=values[keep], left_extents=first[keep], right_extents=last[keep])
    return peaks, properties


def _at_least(values: np.ndarray, bound, x: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    if isinstance(bound, np.ndarray):
        if bound.size != x.size:
            raise ValueError("a bound given as an array must be as long as x")
        bound = bound[peaks]
    return bound <= values


def peak_widths(x, peaks: np.ndarray, rel_height: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Width of each peak at ``rel_height`` of its prominence below its top, in
    samples, linearly interpolated; with the height of the line and its left
    and right crossing positions, as ``scipy.signal.peak_widths`` returns them."""
    x = np.asarray(x, order="C", dtype=np.float64)
    peaks = np.asarray(peaks, dtype=np.intp)
    values, first, last = prominences(x, peaks)
    widths = np.empty(peaks.size)
    width_heights = np.empty(peaks.size)
    left_ips = np.empty(peaks.size)
    right_ips = np.empty(peaks.size)
    for number, peak in enumerate(peaks.tolist()):
        # the bases: the lowest sample of each side, the one nearest the peak where several are lowest
        left_side = x[first[number] : peak + 1]
        right_side = x[peak : last[number] + 1]
        i_min = int(first[number] + np.flatnonzero(left_side == left_side.min())[-1])
        i_max = int(peak + np.flatnonzero(right_side == right_side.min())[0])
        level = float(x[peak]) - float(values[number]) * rel_height
        width_heights[number] = level
        i = peak
        while i_min < i and level < x[i]:
            i -= 1
        left_ip = float(i)
        if x[i] < level:
            left_ip += (level - x[i]) / (x[i + 1] - x[i])
        i = peak
        while i < i_max and level < x[i]:
            i += 1
        right_ip = float(i)
        if x[i] < level:
            right_ip -= (level - x[i]) / (x[i - 1] - x[i])
        widths[number] = right_ip - left_ip
        left_ips[number], right_ips[number] = left_ip, right_ip
    return widths, width_heights, left_ips, right_ips
