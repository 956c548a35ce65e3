"""Automatic 1D 1H processing: apodization, zero-filling, FFT, phase, baseline,
referencing. Each step is a small function; `process` records what it did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import ConfigError, InternalError
from ..model import NMRData
from ..noise import difference_sigma
from .solvents import canonical_solvent, entries_for


@dataclass(frozen=True)
class NMRParams:
    line_broadening_hz: float = 0.3
    min_points: int = 32768
    max_points: int = 262144
    phase_points: int = 4096  # phase is optimised on a coarser FFT, then applied
    phase_min_seconds: float = 0.5  # ... of at least this much of the FID (more points at a wide window)
    baseline_order: int = 3
    reference: str = "auto"  # auto | tms | solvent | none
    reference_window_ppm: float = 0.15

    def validated(self) -> "NMRParams":
        if self.reference not in ("auto", "tms", "solvent", "none"):
            raise ConfigError(f"NMR reference {self.reference!r}: use auto, tms, solvent or none")
        if self.line_broadening_hz < 0 or self.baseline_order < 0:
            raise ConfigError("line broadening and baseline order must not be negative")
        return self


@dataclass
class ProcessedNMR:
    ppm: np.ndarray  # descending
    intensity: np.ndarray
    noise: float
    solvent: str | None
    steps: dict = field(default_factory=dict)
    reference: dict = field(default_factory=dict)


def _power_of_two_at_least(count: float) -> int:
    return 1 << int(np.ceil(np.log2(max(count, 1.0))))


def zero_fill_size(points: int, params: NMRParams) -> int:
    size = _power_of_two_at_least(max(points, 2) * 2)
    return int(min(max(size, params.min_points), params.max_points))


def fft_spectrum(
    data: NMRData, size: int, lb_hz: float, mirrored: bool = False, phased: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Complex spectrum (high ppm first) and its ppm axis; ``mirrored`` flips the
    quadrature sign convention (some files store the conjugate FID). With
    ``phased`` = (p0, p1), the real part of the spectrum phased by them instead.

    A digital filter's delay is removed after the transform, as the vendor
    software does: a first-order phase of 360 degrees per point of delay.
    Shifting the FID in time instead (cutting the filter's pre-response off
    its start) leaves a broad, phase-dependent bow in the baseline that
    misleads the automatic phasing.
    """
    from scipy.fft import fft

    delay = data.group_delay_points
    # in place (the buffer is ours): scipy's pocketfft then needs no more than one scratch buffer
    transform = fft(_apodized(data, size, lb_hz, mirrored), overwrite_x=True)
    # the delay's phase ramp, 360 degrees per point across the transform, as seen once reversed
    delay_p0, delay_p1 = (
        (360.0 * delay * (size - 1) / size, -360.0 * delay) if data.reversed_after_fft else (0.0, 360.0 * delay)
    )
    ppm = _ppm_axis(size, data)
    halves = _nmr_order(transform, data.reversed_after_fft)
    if phased is not None:  # one rotation for the delay and the phase, of the real part only
        ramp = phase_ramp(size, phased[0] + delay_p0, phased[1] + delay_p1)
        real, middle = np.empty(size), halves[0].size
        for half, part in zip(halves, (slice(0, middle), slice(middle, size))):
            _real_of_product(half, ramp[part], out=real[part])
        return real, ppm
    spectrum = np.concatenate(halves)
    return (phase(spectrum, delay_p0, delay_p1) if delay else spectrum), ppm


def _recorded(data: NMRData) -> tuple[np.ndarray, float]:
    """The FID and its carrier (ppm) of a dataset transformed from its FID (NMRData holds both or neither)."""
    if data.fid is None or data.carrier_ppm is None:
        raise InternalError("a transform of an NMR dataset without an FID", data.source_path)
    return data.fid, data.carrier_ppm


def _ppm_axis(size: int, data: NMRData) -> np.ndarray:
    """carrier + (size/2 - 1 - k) * sw / size / MHz for k = 0..size-1, worked out in one array."""
    _fid, carrier_ppm = _recorded(data)
    axis = np.arange(size, dtype=float)
    np.subtract(size / 2 - 1, axis, out=axis)
    axis *= data.sweep_width_hz
    axis /= size
    axis /= data.spectrometer_mhz
    axis += carrier_ppm
    return axis


def _apodized(data: NMRData, size: int, lb_hz: float, mirrored: bool) -> np.ndarray:
    """The FID apodized (exponential, as nmrglue's em) and zero-filled or cut
    to ``size``, in one new buffer: the transform is done in it, in place."""
    fid, _carrier = _recorded(data)
    count = min(fid.size, size)
    buffer = np.zeros(size, dtype=complex)
    if lb_hz > 0:  # (a delayed FID's decay starts a little late: a constant factor only)
        np.multiply(fid[:count], np.exp(-np.pi * np.arange(count) * (lb_hz / data.sweep_width_hz)), out=buffer[:count])
    else:
        buffer[:count] = fid[:count]
    if mirrored:
        np.conjugate(buffer[:count], out=buffer[:count])
    if not data.group_delay_points:
        buffer[0] *= 0.5  # first-point scaling removes the DC offset of the transform
    return buffer


def _nmr_order(transform: np.ndarray, reversed_order: bool) -> tuple[np.ndarray, np.ndarray]:
    """The transform's two halves as views in NMR order (high ppm first):
    fftshift, and the reversal some vendors need, without copying."""
    middle = transform.size // 2
    if reversed_order:  # reversed(fftshift(X)) = X[middle-1..0], X[N-1..middle]
        return transform[middle - 1 :: -1], transform[: middle - 1 : -1]
    return transform[middle:], transform[:middle]


def phase_ramp(size: int, p0: float, p1: float) -> np.ndarray:
    """exp(i (p0 + p1 k / size)) for k = 0..size-1 (degrees), as the outer
    product of a coarse and a fine table: a few hundred complex exponentials
    instead of one per point, as exact."""
    fine_size = max(int(np.sqrt(size)), 1)
    coarse_size = -(-size // fine_size)
    per_point = np.deg2rad(p1) / size
    fine = np.exp(1j * per_point * np.arange(fine_size))
    coarse = np.exp(1j * (np.deg2rad(p0) + per_point * fine_size * np.arange(coarse_size)))
    return np.outer(coarse, fine).ravel()[:size]


def phase(spectrum: np.ndarray, p0: float, p1: float) -> np.ndarray:
    return spectrum * phase_ramp(spectrum.size, p0, p1)


def phased_real(spectrum: np.ndarray, p0: float, p1: float) -> np.ndarray:
    """Real part of ``phase(spectrum, p0, p1)``, without forming the complex product."""
    return _real_of_product(spectrum, phase_ramp(spectrum.size, p0, p1), np.empty(spectrum.size))


def _real_of_product(spectrum: np.ndarray, ramp: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.multiply(spectrum.real, ramp.real, out=out)
    out -= spectrum.imag * ramp.imag
    return out


def peak_phases(spectrum: np.ndarray, max_peaks: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero-order phase of each strong line (degrees), its relative position and weight.

    Over a window symmetric about a Lorentzian line the dispersion part
    integrates to ~0, so the angle of the complex integral is the line's phase
    error, whatever the phase.
    """
    from scipy.signal import find_peaks, peak_widths

    magnitude = np.abs(spectrum)
    sigma = noise_sigma(magnitude)
    peaks, _ = find_peaks(magnitude, height=30 * sigma, distance=max(spectrum.size // 400, 3))
    if peaks.size == 0:
        return np.array([]), np.array([]), np.array([])
    peaks = peaks[np.argsort(magnitude[peaks])[::-1][:max_peaks]]
    widths = peak_widths(magnitude, peaks, rel_height=0.5)[0]
    phases, positions, weights = [], [], []
    for peak, width in zip(peaks, widths):
        half = int(max(4, 4 * width))
        low, high = peak - half, peak + half + 1
        if low < 0 or high > spectrum.size:
            continue
        total = spectrum[low:high].sum()
        phases.append(-np.angle(total))
        positions.append(peak / spectrum.size)
        weights.append(abs(total))
    return np.asarray(phases), np.asarray(positions), np.asarray(weights)


def negative_fraction(values: np.ndarray, offset_sample: slice = slice(None, None, 16)) -> float:
    """Share of the spectrum's power below its median: ~0 for pure absorption.
    The median is taken over ``offset_sample`` (a strided one is as good, and cheaper)."""
    real = np.real(values)
    real = real - _median(real[offset_sample])
    negative = np.minimum(real, 0.0)
    return float(np.dot(negative, negative) / (np.dot(real, real) + 1e-300))


def _median(values: np.ndarray) -> float:
    """np.median without its overhead (this runs once per optimiser step)."""
    middle = values.size // 2
    if values.size % 2:
        return float(np.partition(values, middle)[middle])
    lower, upper = np.partition(values, (middle - 1, middle))[middle - 1 : middle + 1]
    return 0.5 * float(lower + upper)


class _PhaseProbe:
    """The coarse spectrum split once into real and imaginary parts, so each
    optimiser step computes only the real part it scores (a cosine and a sine
    instead of a complex exponential and product), with the median offset
    taken from every 16th point.

    Single precision: numpy's vectorised float32 cosine and sine are several
    times faster, and the objectives need far fewer digits than they keep
    (the phase is wanted to a tenth of a degree)."""

    def __init__(self, values: np.ndarray, stride: int = 16):
        self.real, self.imaginary = values.real.astype(np.float32), values.imag.astype(np.float32)
        self.position = np.deg2rad(np.arange(values.size) / values.size).astype(np.float32)
        self.offset_sample = slice(None, None, stride)

    def rotated(self, p0: float, p1: float) -> np.ndarray:
        """Real part of the spectrum phased by (p0, p1): all the objectives look at."""
        angle = np.float32(np.deg2rad(p0)) + np.float32(p1) * self.position
        return self.real * np.cos(angle) - self.imaginary * np.sin(angle)

    def negative_fraction(self, x) -> float:
        return negative_fraction(self.rotated(x[0], x[1]), self.offset_sample)


def auto_phase(spectrum: np.ndarray) -> tuple[float, float]:
    """Zero- and first-order phase (degrees; p1 across the full width).

    Starting points are the four quadrants and the phases of the strong lines
    (their circular mean, and a straight-line fit across the spectrum); the
    most promising are refined, and the one leaving the least negative
    intensity wins. (A start from ACME, the entropy of the derivative, left the
    agreement with the vendor software's phase and with the simulated truth
    as it was, and made the phasing take half as long again.)
    """
    from scipy.optimize import minimize

    values = spectrum / (np.max(np.abs(spectrum)) or 1.0)
    probe = _PhaseProbe(values)
    starts = [(start, 0.0) for start in (0.0, 90.0, 180.0, 270.0)]
    phases, positions, weights = peak_phases(values)
    if phases.size:
        mean = np.rad2deg(np.angle(np.sum(weights * np.exp(1j * phases))))
        starts.append((mean, 0.0))
        if phases.size >= 3:
            order = np.argsort(positions)
            slope, intercept = np.polyfit(positions[order], np.unwrap(phases[order]), 1, w=np.sqrt(weights[order]))
            starts.append((np.rad2deg(intercept), np.rad2deg(slope)))

    def simplex(p0: float, p1: float, step: float = 5.0) -> np.ndarray:
        # steps of a few degrees in both phases: scipy's default step for a
        # zero start is ~0, which leaves p1 almost unexplored
        return np.array([[p0, p1], [p0 + step, p1], [p0, p1 + 2 * step]])

    # refine the three most promising starts to about a degree, then the best to a tenth
    starts = sorted(starts, key=probe.negative_fraction)[:3]
    best = (np.inf, 0.0, 0.0)
    for p0, p1 in starts:
        result = minimize(
            probe.negative_fraction,
            x0=[p0, p1],
            method="Nelder-Mead",
            options={"xatol": 1.0, "fatol": 1e-6, "maxiter": 300, "initial_simplex": simplex(p0, p1)},
        )
        if result.fun < best[0]:
            best = (float(result.fun), float(result.x[0]), float(result.x[1]))
    polished = minimize(
        probe.negative_fraction,
        x0=best[1:],
        method="Nelder-Mead",
        options={"xatol": 0.1, "fatol": 1e-8, "maxiter": 300, "initial_simplex": simplex(best[1], best[2], step=0.5)},
    )
    p0, p1 = float(polished.x[0]), float(polished.x[1])
    phased = phased_real(values, p0, p1)
    strongest = np.argsort(np.abs(phased))[-max(10, phased.size // 500) :]
    if phased[strongest].sum() < 0:
        p0 += 180.0
    return float(p0 % 360.0), float(p1)


def _equal_segments(values: np.ndarray, segments: int, min_length: int) -> np.ndarray:
    """``values`` cut into ``segments`` equal segments (rows) of at least
    ``min_length`` points, fewer when that many would be shorter; the last few
    points, beyond a whole number of segments, are left out."""
    length = min(max(values.size // segments, min_length), values.size)
    count = values.size // length
    return values[: count * length].reshape(count, length)


def noise_sigma(values: np.ndarray, segments: int = 128) -> float:
    """Noise standard deviation: the median, over segments of the spectrum, of
    the robust spread (MAD) about a straight line through each segment.

    Point-to-point differences would understate it: zero-filling and line
    broadening make neighbouring points alike (by 2-5x at 64k points and
    more). A segment spans hundreds of points, far more than that
    correlation, and most segments of a 1H spectrum hold no line.
    """
    if values.size < 16:
        return float(difference_sigma(values)) or 1e-12
    chunks = _equal_segments(values, segments, 16)
    length = chunks.shape[1]
    x = np.arange(length) - (length - 1) / 2.0
    slopes = chunks @ x / np.dot(x, x)
    # (worked out in one array: fewer passes over a 64k spectrum)
    residuals = chunks - chunks.mean(axis=1, keepdims=True)
    residuals -= slopes[:, None] * x
    residuals -= np.median(residuals, axis=1, keepdims=True)
    spreads = 1.4826 * np.median(np.abs(residuals, out=residuals), axis=1, overwrite_input=True)
    return float(np.median(spreads)) or 1e-12


def baseline_correct(values: np.ndarray, order: int, segments: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial through the quiet segments of the spectrum.

    The spectrum is cut into segments; a segment whose point-to-point scatter
    is close to the noise holds no sharp signal, and its median is a baseline
    knot. Broad lines (exchanging NH, OH) scatter little, so some knots sit on
    top of a line: the polynomial is a robust (Cauchy-loss) fit of the knots,
    which such outliers cannot pull up the way they pull an ordinary
    least-squares fit (and everything dropped by distance from it after).
    """
    from scipy.optimize import least_squares

    n = values.size
    chunks = _equal_segments(values, segments, 8)
    count, length = chunks.shape
    centres = np.arange(count) * length + (length - 1) / 2.0
    medians = np.median(chunks, axis=1)
    scatters = difference_sigma(chunks, axis=1)
    x_knots = centres / max(n - 1, 1) * 2.0 - 1.0
    quiet = scatters <= 2.0 * np.median(scatters)
    if quiet.sum() <= order + 1:
        return values.copy(), np.zeros(n)
    sigma = float(np.median(scatters)) or 1e-12
    design = np.polynomial.polynomial.polyvander(x_knots[quiet], order)
    start = np.zeros(order + 1)
    start[0] = np.median(medians[quiet])
    fit = least_squares(
        lambda c: design @ c - medians[quiet], start, jac=lambda c: design, loss="cauchy", f_scale=2.0 * sigma
    )
    baseline = np.polynomial.polynomial.polyval(np.linspace(-1.0, 1.0, n), fit.x)
    return values - baseline, baseline


def _tallest_between(values: np.ndarray, index: int, near: float, far: float) -> float:
    """Tallest value between ``near`` and ``far`` points away from ``index``, either side."""
    low, high = int(round(near)), int(round(far)) + 1
    left = values[max(index - high, 0) : max(index - low + 1, 0)]
    right = values[index + low : index + high]
    return float(max(left.max(initial=0.0), right.max(initial=0.0)))


def _reference_line(
    ppm: np.ndarray, values: np.ndarray, centre: float, window: float, sigma: float, mhz: float, pattern: str
) -> float | None:
    """Position of a reference line near ``centre``.

    Candidates are lines at least 10 sigma tall within the window. A singlet
    reference must not have partner lines 5-9 Hz away (that is a line of a
    sample doublet or triplet, e.g. aromatic H next to CHCl3); a quintet
    reference (CHD2 groups) must have its +-J lines. Among the rest, tall lines
    close to the expected shift win.
    """
    from scipy.signal import find_peaks

    inside = np.nonzero(np.abs(ppm - centre) <= window)[0]
    if inside.size < 5:
        return None
    peaks, _ = find_peaks(values[inside], height=10 * sigma)
    if peaks.size == 0:
        return None
    hz_step = abs(ppm[1] - ppm[0]) * mhz
    best, best_score = None, 0.0
    for peak in peaks:
        index = int(inside[peak])
        height = float(values[index])
        score = height * np.exp(-(((ppm[index] - centre) / (window / 3.0)) ** 2))
        if pattern == "quint":
            if _tallest_between(values, index, 1.0 / hz_step, 3.0 / hz_step) < 0.3 * height:
                continue
        elif pattern == "s" and _tallest_between(values, index, 5.0 / hz_step, 9.0 / hz_step) > 0.3 * height:
            continue  # a line of a sample multiplet, not a singlet
        if score > best_score:
            best, best_score = index, score
    if best is None:
        return None
    if 0 < best < values.size - 1:  # parabolic apex
        a, b, c = values[best - 1], values[best], values[best + 1]
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator else 0.0
        return float(ppm[best] + offset * (ppm[1] - ppm[0]))
    return float(ppm[best])


def reference_axis(
    ppm: np.ndarray, values: np.ndarray, solvent: str | None, mhz: float, params: NMRParams, sigma: float
) -> tuple[np.ndarray, dict]:
    """Shift the axis so TMS (DSS in D2O) sits at 0, or the solvent residual at
    its literature shift.

    Both are looked for. When they imply different corrections (by more than
    0.02 ppm) one of them is not what it seems (silicone grease near 0.07, a
    sample line near 7.26); the vendor axis is rarely off by much, so the
    candidate that needs the smaller correction is trusted.
    """
    if params.reference == "none":
        return ppm, {"method": "none", "reason": "no reference requested"}
    window = params.reference_window_ppm
    found = []
    if params.reference in ("auto", "tms"):
        for entry in entries_for(solvent or "CDCl3", "tms") + entries_for(solvent or "CDCl3", "dss"):
            position = _reference_line(ppm, values, entry.shift_ppm, window, sigma, mhz, "s")
            # An internal standard is added to be seen: a line under 1 % of the
            # tallest is grease or an impurity, not TMS.
            if position is not None and _height_at(ppm, values, position) >= 0.01 * values.max():
                found.append((entry, position))
                break
    if params.reference in ("auto", "solvent") and solvent:
        for entry in entries_for(solvent, "residual"):
            position = _reference_line(ppm, values, entry.shift_ppm, window, sigma, mhz, entry.multiplicity)
            if position is not None:
                found.append((entry, position))
                break
    if not found:
        return ppm, {
            "method": "none",
            "reason": f"no TMS or {solvent or 'solvent'} residual found within {window} ppm of its literature shift",
        }
    chosen = found[0]
    if len(found) == 2:
        (tms, tms_at), (residual, residual_at) = found
        if abs((tms.shift_ppm - tms_at) - (residual.shift_ppm - residual_at)) > 0.02:
            tms_shift, residual_shift = abs(tms.shift_ppm - tms_at), abs(residual.shift_ppm - residual_at)
            chosen = found[0] if tms_shift <= residual_shift else found[1]
    entry, position = chosen
    correction = entry.shift_ppm - position
    is_tms = entry.compound in ("tms", "dss")
    return ppm + correction, {
        "method": "tms" if is_tms else "solvent residual",
        "compound": entry.group if is_tms else f"{solvent} residual ({entry.group})",
        "literature_ppm": entry.shift_ppm,
        "observed_ppm": round(position, 4),
        "correction_ppm": round(correction, 4),
        "candidates": [{"compound": e.compound, "observed_ppm": round(at, 4)} for e, at in found],
    }


def infer_solvent(ppm: np.ndarray, values: np.ndarray, mhz: float, sigma: float) -> str | None:
    """For files that do not name their solvent: the one whose residual line is seen
    within 0.03 ppm on a TMS-referenced axis."""
    from .solvents import shift_table

    for entry in shift_table()[0]:
        if entry.compound == "residual" and entry.solvent != "D2O":
            if _reference_line(ppm, values, entry.shift_ppm, 0.03, sigma, mhz, entry.multiplicity) is not None:
                return entry.solvent
    return None


def find_residual(
    ppm: np.ndarray, values: np.ndarray, solvent: str, mhz: float, sigma: float, window: float = 0.03
) -> float | None:
    """Observed shift of the solvent residual on a referenced axis (None if not
    seen): a measurement, so a residual sitting beside sample lines counts."""
    for entry in entries_for(solvent, "residual"):
        found = _measure_solvent_line(ppm, values, entry, window, sigma, mhz)
        if found is not None:
            return found
    return None


def _measure_solvent_line(
    ppm: np.ndarray, values: np.ndarray, entry, window: float, sigma: float, mhz: float
) -> float | None:
    """Where a solvent line is on a referenced axis. Only a quintet keeps its
    pattern check: a singlet residual or water may sit beside sample lines."""
    pattern = entry.multiplicity if entry.multiplicity == "quint" else "any"
    return _reference_line(ppm, values, entry.shift_ppm, window, sigma, mhz, pattern)


def _height_at(ppm: np.ndarray, values: np.ndarray, position: float) -> float:
    return float(values[int(np.argmin(np.abs(ppm - position)))])


def _solvent_lines_seen(
    ppm: np.ndarray, values: np.ndarray, solvent: str | None, mhz: float, sigma: float
) -> tuple[int, float]:
    """How many of the solvent's own lines are where the literature puts them,
    and how tall they are relative to the tallest line (busy spectra have some
    line near any shift; the solvent's real lines are usually strong)."""
    if solvent is None:
        return (0, 0.0)
    seen, height = 0, 0.0
    top = float(values.max()) or 1.0
    for entry in entries_for(solvent, "residual") + entries_for(solvent, "water"):
        found = _measure_solvent_line(ppm, values, entry, 0.05, sigma, mhz)
        if found is not None:
            seen += 1
            height += _height_at(ppm, values, found) / top
    return (seen, round(height, 3))


def _orientation_doubtful(ppm: np.ndarray, values: np.ndarray, score: tuple[int, float]) -> bool:
    """Worth trying the mirrored transform: solvent lines missing, or the tallest
    line where 1H spectra rarely have theirs."""
    tallest = float(ppm[int(np.argmax(values))])
    return score[0] < 2 or not (-0.5 <= tallest <= 10.0)


def _transform(data: NMRData, size: int, params: NMRParams, mirrored: bool):
    # The coarse FID is cut short; enough line broadening to let it decay to
    # 1 % by the cut keeps truncation wiggles (negative lobes) out of the phase fit.
    # Cut too short (a wide window), the broadening needed blurs the multiplets
    # the phase is judged by: it spans at least phase_min_seconds.
    spanning = _power_of_two_at_least(params.phase_min_seconds * data.sweep_width_hz)
    coarse_size = min(max(params.phase_points, spanning), size)
    fid, _carrier = _recorded(data)
    decay_lb = np.log(100.0) / (np.pi * min(coarse_size, fid.size) / data.sweep_width_hz)
    coarse, _ = fft_spectrum(data, coarse_size, max(params.line_broadening_hz * 4, decay_lb), mirrored)
    p0, p1 = auto_phase(coarse)
    real, ppm = fft_spectrum(data, size, params.line_broadening_hz, mirrored, phased=(p0, p1))
    values, _baseline = baseline_correct(real, params.baseline_order)
    return ppm, values, p0, p1


def process(data: NMRData, params: NMRParams | None = None) -> ProcessedNMR:
    params = (params or NMRParams()).validated()
    solvent = canonical_solvent(data.solvent)
    steps: dict = {"spectrometer_mhz": data.spectrometer_mhz, "source": data.format}
    if data.fid is not None:
        size = zero_fill_size(data.fid.size, params)
        # Files differ in their quadrature sign convention. The orientation in
        # which more of the solvent's own lines (residual, water) sit where the
        # literature puts them is the right one; the stored one wins ties.
        candidates = []
        for mirrored in (False, True) if params.reference != "none" else (False,):
            ppm, values, p0, p1 = _transform(data, size, params, mirrored)
            sigma = noise_sigma(values)
            referenced, reference = reference_axis(ppm, values, solvent, data.spectrometer_mhz, params, sigma)
            score = (
                _solvent_lines_seen(referenced, values, solvent, data.spectrometer_mhz, sigma)
                if reference["method"] != "none"
                else (-1, 0.0)
            )
            candidates.append((score, -int(mirrored), mirrored, values, sigma, p0, p1, referenced, reference))
            if not mirrored and not _orientation_doubtful(referenced, values, score):
                break
        _score, _rank, mirrored, values, sigma, p0, p1, referenced, reference = max(candidates, key=lambda c: c[:2])
        ppm = referenced
        steps.update(
            apodization=f"exponential {params.line_broadening_hz} Hz",
            zero_filled_to=size,
            fid_points=int(data.fid.size),
            digital_filter_delay_points=data.group_delay_points,
            phase_deg={"p0": round(p0, 2), "p1": round(p1, 2)},
            phase_method="automatic: least negative intensity from line-phase starts",
            orientation="mirrored: the file stores the conjugate FID" if mirrored else "as stored",
        )
    else:
        if data.ppm is None or data.spectrum is None:  # NMRData holds an FID or a spectrum with its axis
            raise InternalError("an NMR dataset with neither an FID nor a spectrum", data.source_path)
        ppm, values = data.ppm.copy(), data.spectrum.copy()
        steps.update(
            phase_method="as processed by the vendor software",
            phase_deg={"p0": data.first_phase_deg[0], "p1": data.first_phase_deg[1]} if data.first_phase_deg else None,
        )
        values, _baseline = baseline_correct(values, params.baseline_order)
        sigma = noise_sigma(values)
        ppm, reference = reference_axis(ppm, values, solvent, data.spectrometer_mhz, params, sigma)
    steps["baseline"] = f"polynomial order {params.baseline_order} through signal-free points"
    if solvent is None and reference.get("method") == "tms":
        solvent = infer_solvent(ppm, values, data.spectrometer_mhz, sigma)
        if solvent:
            reference["solvent_inferred"] = f"{solvent} (its residual line is where the literature puts it)"
    steps["params"] = asdict(params)
    return ProcessedNMR(ppm=ppm, intensity=values, noise=sigma, solvent=solvent, steps=steps, reference=reference)
