"""UV and other optical-detector analysis of an LC run.

Small steps, each a function of its inputs:

1. ``build_traces``: the chromatograms to integrate: each configured
   wavelength (a band of the diode array, or a recorded channel at that
   wavelength), a DAD max-plot, the other recorded UV channels, and ELSD/CAD/FID.
2. ``integrate_trace``: arPLS baseline (pybaselines), peaks, areas, area %.
3. ``estimate_offset``: the UV→MS delay from cross-correlating the UV trace
   with the MS total-ion chromatogram (the MS sits downstream of the flow cell).
4. ``assign_species``: UV peaks named after the MS species at the same time.
5. ``peak_purity``: spectra across each DAD peak compared with the apex
   spectrum (match factor 1000·r²); a co-eluting compound with another
   spectrum pulls it down on one side of the peak.

Area % at a wavelength weighs each compound by its absorptivity there, so it
is the purity figure chemists quote for a final compound, while MS area % is
only semi-quantitative (CHEMISTRY.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..lcms.peaks import ChromPeak, detect_peaks, noise_level, rolling_baseline
from ..model import DiodeArray, LCMSRun, Polarity
from ..noise import difference_sigma
from .params import UVParams

REFERENCE_POINTS_PER_MIN = 100.0  # baseline_lambda is stated for this sampling rate


@dataclass
class Trace:
    """One chromatogram to integrate, and where it came from."""

    label: str  # "210 nm", "max-plot 205-400 nm", "ELSD"
    kind: str  # uv | elsd | cad | fid | analog
    source: str
    rt_min: np.ndarray
    values: np.ndarray
    unit: str = ""
    wavelength_nm: float | None = None
    configured: bool = False  # one of the wavelengths the purity figure is taken from
    diode_array: DiodeArray | None = None


@dataclass
class PeakPurity:
    verdict: str  # pure | impure | not-assessed
    match_factor_min: float | None = None
    threshold: float | None = None
    spectra_compared: int = 0
    spectra_below: int = 0
    worst_rt_min: float | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "match_factor_min": None if self.match_factor_min is None else round(self.match_factor_min, 1),
            "threshold": self.threshold,
            "spectra_compared": self.spectra_compared,
            "spectra_below_threshold": self.spectra_below,
            "worst_rt_min": None if self.worst_rt_min is None else round(self.worst_rt_min, 3),
            "note": self.note or None,
        }


@dataclass
class UVPeak:
    peak: ChromPeak
    area_pct: float = 0.0
    species_id: str | None = None
    purity: PeakPurity | None = None
    void: bool = False  # the injection/solvent front: shown, left out of the area %

    def as_dict(self) -> dict:
        p = self.peak
        return {
            "rt_min": round(p.apex_rt, 3),
            "start_min": round(p.start_rt, 3),
            "end_min": round(p.end_rt, 3),
            "height": round(p.height, 4),
            "area": round(p.area, 3),
            "area_pct": round(self.area_pct, 2),
            "sn": round(p.sn, 1),
            "species": self.species_id,
            "peak_purity": self.purity.as_dict() if self.purity else None,
            "void": self.void,
        }


@dataclass
class TraceResult:
    trace: Trace
    peaks: list[UVPeak]
    noise: float
    baseline: np.ndarray

    def product_area_pct(self, product_id: str) -> float | None:
        areas = [p.area_pct for p in self.peaks if p.species_id == product_id]
        return sum(areas) if areas else None

    def product_peaks(self, product_id: str) -> list[UVPeak]:
        return [p for p in self.peaks if p.species_id == product_id and not p.void]

    def as_dict(self) -> dict:
        t = self.trace
        return {
            "label": t.label,
            "kind": t.kind,
            "source": t.source,
            "wavelength_nm": t.wavelength_nm,
            "unit": t.unit,
            "configured": t.configured,
            "noise": round(self.noise, 5),
            "peaks": [p.as_dict() for p in self.peaks],
        }


@dataclass
class UVResult:
    source_path: str
    traces: list[TraceResult]
    offset_min: float
    offset_source: str  # "estimated", "configured", "none"
    offset_correlation: float | None
    params: dict
    notes: list[str] = field(default_factory=list)
    vendor_peaks: list[dict] = field(default_factory=list)

    def configured_traces(self) -> list[TraceResult]:
        return [t for t in self.traces if t.trace.configured]

    def as_dict(self) -> dict:
        return {
            "path": self.source_path,
            "detector_offset_min": round(self.offset_min, 4),
            "offset_source": self.offset_source,
            "offset_correlation": None if self.offset_correlation is None else round(self.offset_correlation, 3),
            "traces": [t.as_dict() for t in self.traces],
            "notes": self.notes,
            "vendor_peaks": self.vendor_peaks or None,
        }


def _wavelength_label(value: float) -> str:
    return f"{value:g} nm"


def build_traces(run: LCMSRun, params: UVParams) -> list[Trace]:
    traces: list[Trace] = []
    uv_channels = [c for c in run.chromatograms if c.kind == "uv"]
    used: set[int] = set()
    for wavelength in params.wavelengths_nm:
        trace = None
        for array in run.diode_arrays:
            values = array.trace(wavelength, params.bandwidth_nm)
            if values is not None and array.wavelength_nm[0] <= wavelength <= array.wavelength_nm[-1]:
                trace = Trace(
                    _wavelength_label(wavelength),
                    "uv",
                    f"{array.id}, mean of {wavelength - params.bandwidth_nm / 2:g}-"
                    f"{wavelength + params.bandwidth_nm / 2:g} nm",
                    array.rt_min,
                    values,
                    array.unit,
                    wavelength,
                    True,
                    array,
                )
                break
        if trace is None:
            for index, channel in enumerate(uv_channels):
                if (
                    index not in used
                    and channel.wavelength_nm is not None
                    and abs(channel.wavelength_nm - wavelength) <= params.channel_match_nm
                ):
                    used.add(index)
                    trace = Trace(
                        _wavelength_label(channel.wavelength_nm),
                        "uv",
                        channel.id,
                        channel.rt_min,
                        channel.intensity,
                        channel.unit,
                        channel.wavelength_nm,
                        True,
                        _matching_array(run, channel.rt_min),
                    )
                    break
        if trace is not None:
            traces.append(trace)
    if params.max_plot:
        low, high = params.max_plot_range_nm
        for array in run.diode_arrays:
            inside = (array.wavelength_nm >= low) & (array.wavelength_nm <= high)
            if inside.sum() >= 2:
                traces.append(
                    Trace(
                        f"max-plot {max(low, array.wavelength_nm[inside][0]):g}-"
                        f"{min(high, array.wavelength_nm[inside][-1]):g} nm",
                        "uv",
                        array.id,
                        array.rt_min,
                        array.absorbance[:, inside].max(axis=1),
                        array.unit,
                        None,
                        False,
                        array,
                    )
                )
    configured = {t.wavelength_nm for t in traces if t.configured}
    for index, channel in enumerate(uv_channels):
        if index in used or (channel.wavelength_nm in configured):
            continue
        label = channel.id
        if channel.wavelength_nm:
            label = f"{_wavelength_label(channel.wavelength_nm)} ({channel.id.split(' ')[0]})"
        traces.append(
            Trace(
                label,
                "uv",
                channel.id,
                channel.rt_min,
                channel.intensity,
                channel.unit,
                channel.wavelength_nm,
                False,
                _matching_array(run, channel.rt_min),
            )
        )
    for channel in run.chromatograms:
        if channel.kind in ("elsd", "cad", "fid", "analog"):
            traces.append(
                Trace(
                    channel.kind.upper() if channel.kind != "analog" else channel.id,
                    channel.kind,
                    channel.id,
                    channel.rt_min,
                    channel.intensity,
                    channel.unit,
                )
            )
    return traces


def _matching_array(run: LCMSRun, rt_min: np.ndarray) -> DiodeArray | None:
    """The diode array recorded on the same clock as a channel, for peak purity."""
    for array in run.diode_arrays:
        if array.rt_min.size == rt_min.size and np.allclose(array.rt_min, rt_min, atol=1e-4):
            return array
    return None


def arpls_baseline(rt_min: np.ndarray, values: np.ndarray, lam_reference: float) -> np.ndarray:
    """Asymmetrically reweighted penalised least squares (Baek et al. 2015) via
    pybaselines, its smoothness scaled to the sampling rate so one setting
    suits a 2 Hz and a 40 Hz detector."""
    from pybaselines import Baseline

    if values.size < 10:
        return np.full(values.size, float(np.median(values)) if values.size else 0.0)
    span = float(rt_min[-1] - rt_min[0]) or 1.0
    rate = (values.size - 1) / span
    lam = lam_reference * (rate / REFERENCE_POINTS_PER_MIN) ** 4
    baseline, _ = Baseline(x_data=rt_min).arpls(values, lam=float(np.clip(lam, 1e2, 1e14)))
    return baseline


def integrate_trace(trace: Trace, params: UVParams) -> TraceResult:
    baseline = arpls_baseline(trace.rt_min, trace.values, params.baseline_lambda)
    residual = trace.values - baseline
    noise = noise_level(residual, 1e-9)
    found = detect_peaks(
        trace.rt_min,
        trace.values,
        noise_floor=noise,
        min_sn=params.min_peak_sn,
        min_points=params.min_peak_points,
        baseline_window=0,
        baseline=baseline,
    )
    edge = max(2, trace.values.size // 200)  # a rise at the end of the run is drift, not a peak
    peaks = [
        UVPeak(p)
        for p in found
        if p.end_rt >= params.integrate_from_min and p.area > 0 and edge <= p.apex < trace.values.size - edge
    ]
    if params.integrate_from_min <= 0 and params.void_max_fraction > 0 and trace.rt_min.size > 1:
        # unretained material (injection, solvent front) elutes within the first few % of the run:
        # kept in the table as the void, never counted in a purity area %
        void_end = float(trace.rt_min[0] + params.void_max_fraction * (trace.rt_min[-1] - trace.rt_min[0]))
        for peak in peaks:
            peak.void = peak.peak.apex_rt <= void_end
    for _ in range(2):  # dropping peaks under the reporting threshold changes the total once more
        total = sum(p.peak.area for p in peaks if not p.void)
        for peak in peaks:
            peak.area_pct = 0.0 if peak.void or total <= 0 else 100.0 * peak.peak.area / total
        peaks = [p for p in peaks if p.void or p.area_pct >= params.report_threshold_pct]
    return TraceResult(trace, peaks, noise, baseline)


def ms_total_ion_trace(run: LCMSRun, polarity: Polarity | None) -> tuple[np.ndarray, np.ndarray] | None:
    rt, tic = run.ms1_tic(polarity or None)
    if rt.size >= 10:
        return rt, tic
    for chromatogram in run.chromatograms:
        if chromatogram.kind == "tic" and chromatogram.rt_min.size >= 10:
            return chromatogram.rt_min, chromatogram.intensity
    return None


def _high_pass(rt: np.ndarray, values: np.ndarray, width_min: float) -> np.ndarray:
    step = float(np.median(np.diff(rt))) if rt.size > 1 else 1.0
    return np.clip(values - rolling_baseline(values, round(width_min / step)), 0.0, None)


def estimate_offset(
    uv: tuple[np.ndarray, np.ndarray], ms: tuple[np.ndarray, np.ndarray], max_offset_min: float
) -> tuple[float, float] | None:
    """(MS time - UV time, correlation) maximising the cross-correlation of the
    two traces, peaks only (slow drift removed), refined between grid points."""
    uv_rt, uv_values = uv
    ms_rt, ms_values = ms
    start, end = max(uv_rt[0], ms_rt[0]), min(uv_rt[-1], ms_rt[-1])
    if end - start < 4 * max_offset_min:
        return None
    step = max(min(float(np.median(np.diff(uv_rt))), float(np.median(np.diff(ms_rt)))) / 2.0, 5e-4)
    grid = np.arange(start, end, step)
    uv_grid = _high_pass(grid, np.interp(grid, uv_rt, uv_values), 1.0)
    ms_grid = _high_pass(grid, np.interp(grid, ms_rt, ms_values), 1.0)
    uv_grid -= uv_grid.mean()
    ms_grid -= ms_grid.mean()
    norm = float(np.linalg.norm(uv_grid) * np.linalg.norm(ms_grid))
    if norm <= 0:
        return None
    from scipy.signal import correlate, correlation_lags

    correlation = correlate(ms_grid, uv_grid, mode="full", method="fft") / norm
    lags = correlation_lags(ms_grid.size, uv_grid.size, mode="full")
    window = np.abs(lags) * step <= max_offset_min
    correlation, lags = correlation[window], lags[window]
    best = int(np.argmax(correlation))
    shift = float(lags[best])
    if 0 < best < correlation.size - 1:  # parabola through the top three points
        left, centre, right = correlation[best - 1 : best + 2]
        denominator = left - 2 * centre + right
        if denominator < 0:
            shift += 0.5 * (left - right) / denominator
    return shift * step, float(correlation[best])


def assign_species(
    result: TraceResult, species_apex_min: dict[str, float], offset_min: float, window_min: float
) -> None:
    """Each MS species goes to the UV peak whose apex is nearest its own (moved
    to the UV clock) within the window; one species per peak, the closest
    pairs first. The window is tight on purpose: a UV peak a few seconds off
    the product's apex is another compound, even when it sits on its tail."""
    claims = sorted(
        (abs(uv_peak.peak.apex_rt - (ms_apex - offset_min)), species_id, index)
        for species_id, ms_apex in species_apex_min.items()
        for index, uv_peak in enumerate(result.peaks)
        if abs(uv_peak.peak.apex_rt - (ms_apex - offset_min)) <= window_min
    )
    taken_peaks: set[int] = set()
    placed: set[str] = set()
    for _, species_id, index in claims:
        if index in taken_peaks or species_id in placed or result.peaks[index].void:
            continue
        result.peaks[index].species_id = species_id
        taken_peaks.add(index)
        placed.add(species_id)


def channel_noise_variance(array: DiodeArray, params: UVParams) -> float:
    """Mean detector noise variance over the purity range, from point-to-point
    differences over the whole run (robust to peaks: a median)."""
    low, high = params.purity_range_nm
    data = array.absorbance[:, (array.wavelength_nm >= low) & (array.wavelength_nm <= high)]
    if data.shape[0] < 3 or data.shape[1] == 0:
        return 0.0
    return float(np.mean(difference_sigma(data, axis=0) ** 2))


def peak_purity(
    array: DiodeArray,
    rt_min: np.ndarray,
    residual: np.ndarray,
    peak: ChromPeak,
    noise: float,
    params: UVParams,
    noise_var: float | None = None,
) -> PeakPurity:
    """Compare every spectrum across the peak with the apex spectrum.

    Each spectrum has the baseline spectrum (interpolated between the peak's
    start and end) removed. Noise lowers the match factor of weak spectra on
    its own, so a spectrum counts as different only when it falls below both
    the threshold and what noise alone would give (the Agilent-style noise
    threshold, here from each spectrum's variance against the detector noise)."""
    low, high = params.purity_range_nm
    channels = (array.wavelength_nm >= low) & (array.wavelength_nm <= high)
    if channels.sum() < 5:
        return PeakPurity("not-assessed", note=f"fewer than 5 wavelengths in {low:g}-{high:g} nm")
    index = np.clip(np.searchsorted(array.rt_min, rt_min[[peak.start, peak.apex, peak.end]]), 0, array.rt_min.size - 1)
    start, apex, end = (int(i) for i in index)
    if end - start < 4:
        return PeakPurity("not-assessed", note="too few spectra across the peak")
    data = array.absorbance[:, channels]
    on_array = np.interp(array.rt_min, rt_min, residual)
    quiet = on_array <= max(3.0 * noise, 0.02 * float(on_array[apex]))
    before = np.flatnonzero(quiet[: start + 1])
    after = start + np.flatnonzero(quiet[start:])
    after = after[after >= end]
    # baseline spectra where the trace is back at baseline, not at a valley shared with a neighbour
    left_at = int(before[-1]) if before.size else start
    right_at = int(after[0]) if after.size else end
    left = data[max(left_at - 1, 0) : left_at + 2].mean(axis=0)
    right = data[right_at : right_at + 3].mean(axis=0)
    span = np.arange(start, end + 1)
    weights = np.clip((span - left_at) / max(right_at - left_at, 1), 0.0, 1.0)[:, None]
    spectra = data[span] - (left[None, :] * (1 - weights) + right[None, :] * weights)
    if noise_var is None:
        noise_var = channel_noise_variance(array, params)
    apex_spectrum = spectra[apex - start]
    height = on_array[span]
    apex_height = float(height[apex - start]) or 1.0
    compare = (height >= params.purity_min_fraction * apex_height) & (height >= params.purity_min_sn * noise)
    compare[apex - start] = False
    if compare.sum() < 3:
        return PeakPurity("not-assessed", note="the peak is too weak for spectral comparison")
    apex_var = float(np.var(apex_spectrum))
    matches, limits, positions = [], [], []
    for offset in np.flatnonzero(compare):
        spectrum = spectra[offset]
        r = np.corrcoef(spectrum, apex_spectrum)[0, 1] if np.var(spectrum) > 0 and apex_var > 0 else 0.0
        match = 1000.0 * float(r) ** 2
        # r^2 that noise alone allows for these two spectra
        expected = (
            1000.0
            * max(0.0, 1 - noise_var / max(float(np.var(spectrum)), 1e-30))
            * max(0.0, 1 - noise_var / max(apex_var, 1e-30))
        )
        matches.append(match)
        limits.append(min(params.purity_threshold, expected - 5.0))
        positions.append(float(array.rt_min[span[offset]]))
    matches_arr, limits_arr = np.array(matches), np.array(limits)
    below = matches_arr < limits_arr
    worst = int(np.argmin(matches_arr - limits_arr))
    # one stray spectrum is noise; two or more below the line is a second compound
    verdict = "impure" if below.sum() >= 2 else "pure"
    return PeakPurity(
        verdict,
        float(matches_arr.min()),
        params.purity_threshold,
        int(compare.sum()),
        int(below.sum()),
        positions[worst],
        "spectra across the peak differ from the apex spectrum: a co-eluting compound" if verdict == "impure" else "",
    )


def analyze_uv(
    run: LCMSRun, species_apex_min: dict[str, float], ms_polarity: Polarity | None, params: UVParams
) -> UVResult | None:
    """Integrate every optical trace of the run and tie its peaks to the MS species."""
    params = params.validated()
    traces = build_traces(run, params)
    if not traces:
        return None
    notes = []
    results = [integrate_trace(trace, params) for trace in traces]
    uv_results = [r for r in results if r.trace.kind == "uv"]
    correlation = None
    if params.detector_offset_min is not None:
        offset, source = params.detector_offset_min, "configured"
    else:
        offset, source = 0.0, "none"
        ms_trace = ms_total_ion_trace(run, ms_polarity)
        reference = next(
            (r for r in uv_results if not r.trace.configured and r.trace.diode_array is not None),
            uv_results[0] if uv_results else results[0],
        )
        if ms_trace is None:
            notes.append("no MS trace in this run: UV peaks cannot be tied to species by retention time")
        else:
            found = estimate_offset(
                (reference.trace.rt_min, reference.trace.values), ms_trace, params.max_detector_offset_min
            )
            if found is None:
                notes.append("run too short to estimate the UV-to-MS offset; none applied")
            elif found[1] < params.min_offset_correlation:
                correlation = found[1]
                notes.append(f"UV and MS traces correlate poorly (r = {found[1]:.2f}); no offset applied")
            else:
                offset, correlation = found
                source = "estimated"
    noise_vars: dict[int, float] = {}
    for result in results:
        if species_apex_min and result.trace.kind == "uv":  # ELSD/CAD sit elsewhere in the flow path
            assign_species(result, species_apex_min, offset, params.assign_window_min)
        array = result.trace.diode_array
        if array is not None and result.trace.kind == "uv":
            if id(array) not in noise_vars:
                noise_vars[id(array)] = channel_noise_variance(array, params)
            for uv_peak in result.peaks:
                uv_peak.purity = peak_purity(
                    array,
                    result.trace.rt_min,
                    result.trace.values - result.baseline,
                    uv_peak.peak,
                    result.noise,
                    params,
                    noise_vars[id(array)],
                )
    missing = [w for w in params.wavelengths_nm if not any(t.wavelength_nm == w and t.configured for t in traces)]
    if missing and uv_results:
        notes.append("no DAD data or channel at " + ", ".join(_wavelength_label(w) for w in missing))
    return UVResult(
        run.source_path,
        results,
        offset,
        source,
        correlation,
        {**params.as_dict(), "detector_offset_used_min": round(offset, 4)},
        notes,
        list(run.metadata.get("vendor_peaks", [])),
    )
