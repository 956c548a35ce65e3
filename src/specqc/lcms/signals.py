"""MS1 signal preparation: centroiding, resolution class, and the peak matrix
from which every extracted ion chromatogram is cut."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..model import LCMSRun, MS1ScanCollector, MS1Scans, Polarity, Spectrum
from .params import LCMSParams, Tolerance

HIGH_RES_MIN_RESOLVING_POWER = 5000.0
NOISE_FLOOR_PERCENTILE = 10.0
PROFILE_SPECTRA_FOR_WIDTH = 8  # the strongest profile spectra, whose peak widths give the resolving power


def centroid(spectrum: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    """Centroid a profile spectrum with pyopenms' PeakPickerHiRes."""
    if spectrum.mode != "profile" or spectrum.size < 3:
        return spectrum.mz, spectrum.intensity
    import pyopenms as oms

    source, picked = oms.MSSpectrum(), oms.MSSpectrum()
    source.set_peaks((spectrum.mz, spectrum.intensity))
    _picker().pick(source, picked)
    mz, intensity = picked.get_peaks()
    return np.asarray(mz, dtype=np.float64), np.asarray(intensity, dtype=np.float64)


_PICKER = None


def _picker():
    global _PICKER
    if _PICKER is None:
        import pyopenms as oms

        picker = oms.PeakPickerHiRes()
        params = picker.getParameters()
        params.setValue("signal_to_noise", 0.0)  # noise is judged on chromatograms
        picker.setParameters(params)
        _PICKER = picker
    return _PICKER


@dataclass(frozen=True)
class Resolution:
    high: bool
    method: str
    resolving_power: float | None  # m/z / FWHM where measured

    def as_dict(self) -> dict:
        return {
            "class": "high" if self.high else "unit",
            "method": self.method,
            "resolving_power": None if self.resolving_power is None else round(self.resolving_power),
        }


def _profile_fwhm_resolving_power(spectra: list[Spectrum]) -> float | None:
    """Median m/z/FWHM of the strongest peaks of a few profile spectra. Widths
    are measured at half prominence (scipy's definitions, see maxima), so a
    peak on a continuum or on the flank of an unresolved neighbour is not read
    as one broad peak."""
    from .maxima import find_peaks, peak_widths

    powers = []
    for spectrum in spectra:
        mz, y = spectrum.mz, spectrum.intensity
        if mz.size < 7 or y.max(initial=0.0) <= 0:
            continue
        peaks, properties = find_peaks(y, prominence=0.05 * float(y.max()))
        if peaks.size == 0:
            continue
        strongest = peaks[np.argsort(properties["prominences"])[::-1][:30]]
        widths, _, left, right = peak_widths(y, strongest, rel_height=0.5)
        positions = np.arange(mz.size, dtype=np.float64)
        width_mz = np.interp(right, positions, mz) - np.interp(left, positions, mz)
        good = (widths >= 2.0) & (width_mz > 0)  # a peak needs at least two points across half height
        powers.extend((mz[strongest][good] / width_mz[good]).tolist())
    return float(np.median(powers)) if powers else None


def estimate_resolution(
    run: LCMSRun, spectra: list[Spectrum], centroids: list[tuple[np.ndarray, np.ndarray]]
) -> Resolution:
    return _resolution(run, bool(spectra), [s for s in spectra if s.mode == "profile"], centroids)


def resolution_of(run: LCMSRun, scans: MS1Scans) -> Resolution:
    return _resolution(run, scans.count > 0, list(scans.profile_samples), scans.peaks)


def _resolution(
    run: LCMSRun, any_spectra: bool, profile: list[Spectrum], centroids: Sequence[tuple[np.ndarray, np.ndarray]]
) -> Resolution:
    """``profile``: the profile spectra, or at least the strongest of them (MS1ScanCollector)."""
    if not any_spectra:
        return Resolution(False, "no MS1 spectra", None)
    # 1. What the data say, for profile spectra: the peak width itself.
    if profile:
        chosen = sorted(profile, key=lambda s: -float(s.intensity.sum()))[:PROFILE_SPECTRA_FOR_WIDTH]
        power = _profile_fwhm_resolving_power(chosen)
        if power is not None:
            return Resolution(power >= HIGH_RES_MIN_RESOLVING_POWER, "profile peak width", power)
    # 2. The analyzer named in the file's metadata.
    analyzer = run.instrument.high_resolution_analyzer
    model = run.instrument.model.lower()
    if analyzer is None and any(w in model for w in ("orbitrap", "exactive", "tof", "ft-icr")):
        analyzer = True
    if analyzer is not None:
        return Resolution(analyzer, "instrument analyzer in metadata", None)
    # 3. Centroid lists: quantised m/z (0.1 Da grid or coarser) or only widely
    #    spaced centroids mean a unit-resolution instrument.
    sample = [c for c in centroids if c[0].size >= 10]
    sample = sorted(sample, key=lambda c: -c[0].size)[:20]
    if not sample:
        return Resolution(False, "too few peaks to judge; assumed unit resolution", None)
    mz_all = np.concatenate([c[0] for c in sample])
    on_grid = np.mean(np.abs(mz_all * 10 - np.round(mz_all * 10)) < 1e-3)
    if on_grid > 0.9:
        return Resolution(False, "m/z values quantised to 0.1 Da or coarser", None)
    # The 13C partner of intense centroids: 1.00336 u away within a few mDa at
    # high resolution, scattered by tenths of a dalton at unit resolution.
    deviations = []
    for mz, intensity in sample:
        for index in np.argsort(intensity)[::-1][:10]:
            partner = mz[index] + 1.0033548
            nearest = int(np.clip(np.searchsorted(mz, partner), 1, mz.size - 1))
            closest = min(abs(mz[nearest] - partner), abs(mz[nearest - 1] - partner))
            if closest < 0.15:
                deviations.append(closest)
    if len(deviations) >= 5:
        median = float(np.median(deviations))
        if median < 0.005:
            return Resolution(True, "13C isotope spacing within 5 mDa", None)
        if median > 0.02:
            return Resolution(False, "13C isotope spacing scattered by more than 20 mDa", None)
    gaps = np.concatenate([np.diff(c[0]) for c in sample])
    close = float(np.mean(gaps < 0.2))
    if close > 0.05:
        return Resolution(True, "centroid spacing finer than 0.2 Da", None)
    return Resolution(False, "centroids no closer than 0.2 Da", None)


def choose_tolerance(params: LCMSParams, resolution: Resolution) -> Tolerance:
    if params.tolerance != "auto":
        return Tolerance.parse(params.tolerance)
    if resolution.high:
        return Tolerance(params.high_res_tolerance_ppm, "ppm")
    return Tolerance(params.unit_res_tolerance_da, "Da")


class PeakMatrix:
    """All MS1 centroids of one polarity, sorted by m/z, with their scan index.

    Cutting an extracted ion chromatogram is then two binary searches and one
    weighted bincount, whatever the number of targets.
    """

    def __init__(self, rt_min: np.ndarray, centroids: Sequence[tuple[np.ndarray, np.ndarray]]):
        self.rt_min = np.asarray(rt_min, dtype=np.float64)
        self.n_scans = len(centroids)
        sizes = np.fromiter((c[0].size for c in centroids), dtype=np.int64, count=len(centroids))
        total = int(sizes.sum())
        mz = np.empty(total, dtype=np.float64)
        intensity = np.empty(total, dtype=np.float64)
        position = 0
        for c_mz, c_int in centroids:
            n = c_mz.size
            mz[position : position + n] = c_mz
            intensity[position : position + n] = c_int
            position += n
        scan = np.repeat(np.arange(self.n_scans, dtype=np.int64), sizes)
        order = np.argsort(mz, kind="stable")
        self.mz = mz[order]
        self.intensity = intensity[order]
        self.scan = scan[order]
        positive = self.intensity[self.intensity > 0]
        # The smallest centroids the instrument kept: noise at its storage threshold. (The
        # median would be a typical background ion's height, and would hide minor components
        # of a run full of persistent ions.)
        self.noise_floor = float(np.percentile(positive, NOISE_FLOOR_PERCENTILE)) if positive.size else 0.0

    def window(self, low: float, high: float) -> tuple[int, int]:
        return (int(np.searchsorted(self.mz, low, "left")), int(np.searchsorted(self.mz, high, "right")))

    def eic(self, low: float, high: float) -> np.ndarray:
        start, stop = self.window(low, high)
        if start == stop:
            return np.zeros(self.n_scans)
        return np.bincount(self.scan[start:stop], weights=self.intensity[start:stop], minlength=self.n_scans)

    def weighted_mz(self, low: float, high: float, first_scan: int, last_scan: int) -> float | None:
        start, stop = self.window(low, high)
        scans = self.scan[start:stop]
        keep = (scans >= first_scan) & (scans <= last_scan)
        weights = self.intensity[start:stop][keep]
        if weights.sum() <= 0:
            return None
        return float(np.average(self.mz[start:stop][keep], weights=weights))


def ms1_centroids(run: LCMSRun, polarity: Polarity) -> tuple[list[Spectrum], list[tuple[np.ndarray, np.ndarray]]]:
    spectra = run.ms1(polarity)
    if not spectra:
        raise InputError(f"no MS1 spectra of {polarity} polarity", run.source_path)
    return spectra, [centroid(s) for s in spectra]


def ms1_collector() -> MS1ScanCollector:
    """What a streaming reader hands each spectrum to: MS1 centroided, the strongest profile spectra kept."""
    return MS1ScanCollector(centroid, PROFILE_SPECTRA_FOR_WIDTH)


def ms1_scans(run: LCMSRun, polarity: Polarity | None = None) -> MS1Scans:
    """The run's MS1 scans (of one polarity), centroided: as a streaming read kept
    them, or reduced here from the spectra a reader kept."""
    if run.ms1_scans is not None and not run.spectra:
        return run.ms1_scans.select(polarity)
    collector = ms1_collector()
    for spectrum in run.ms1(polarity):
        collector.add(spectrum)
    return collector.finish()


def choose_polarity(run: LCMSRun, requested: str) -> Polarity | None:
    present = run.polarities()
    if requested != "auto":
        if requested not in present and not ("unknown" in present and len(present) == 1):
            raise InputError(
                f"no MS1 spectra of {requested} polarity (present: {', '.join(present) or 'none'})", run.source_path
            )
        return requested if requested in present else "unknown"
    if not present:
        return None
    return present[0]


def bin_index(mz: np.ndarray, tolerance: Tolerance) -> tuple[np.ndarray, Callable[[int], tuple[float, float]]]:
    """Bin numbers of m/z values at the run's tolerance, and bin -> (low, high).
    ppm bins are logarithmic; at unit resolution the bins are nominal masses
    centred on the integer (a mass defect up to +0.7 stays in its bin)."""
    if tolerance.unit == "ppm":
        step = math.log1p(tolerance.value * 1e-6)
        return (
            np.floor(np.log(np.maximum(mz, 1e-9)) / step).astype(np.int64),
            lambda b: (math.exp(b * step), math.exp((b + 1) * step)),
        )
    width = max(2 * tolerance.value, 1e-3) if tolerance.value < 0.3 else 1.0
    offset = 0.3 if tolerance.value >= 0.3 else 0.0
    return (np.floor((mz + offset) / width).astype(np.int64), lambda b: (b * width - offset, (b + 1) * width - offset))
