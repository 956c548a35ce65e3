"""The vendor-neutral data model every reader fills.

Objects validate at construction and raise :class:`specqc.errors.InputError`
(never ``assert``), so a reader that builds one from a broken file fails with a
message that names the problem; the reader adds the file name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import math

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import numpy.typing as npt

Polarity = Literal["positive", "negative", "unknown"]
SpectrumMode = Literal["centroid", "profile", "unknown"]

ChromatogramKind = Literal["tic", "bpc", "srm", "uv", "elsd", "cad", "fid", "analog", "other"]

POLARITIES: tuple[str, ...] = ("positive", "negative", "unknown")
CHROMATOGRAM_KINDS: tuple[str, ...] = ("tic", "bpc", "srm", "uv", "elsd", "cad", "fid", "analog", "other")
SPECTRUM_MODES: tuple[str, ...] = ("centroid", "profile", "unknown")


def _as_clean_array(values: object, name: str, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    try:
        array = np.ascontiguousarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: not an array of numbers") from exc
    if array.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not _all_finite(array):
        raise InputError(f"{name} contains NaN or infinite values")
    return array


def _all_finite(array: np.ndarray) -> bool:
    # One reduction instead of an isfinite pass: NaN and inf propagate into the sum
    # (quietly: inf - inf is NaN, and a sum of huge values may overflow to inf).
    with np.errstate(all="ignore"):
        if not array.size or np.isfinite(array.sum()):
            return True
    return bool(np.isfinite(array).all())


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One mass spectrum: m/z ascending, intensities non-negative."""

    index: int
    rt_min: float
    ms_level: int
    polarity: Polarity
    mode: SpectrumMode
    mz: np.ndarray
    intensity: np.ndarray
    native_id: str = ""
    precursor_mz: float | None = None
    # what construction changed, for the run's reader warnings
    lowest_intensity_read: float = field(default=0.0, init=False, repr=False)
    mz_reordered: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        label = f"spectrum {self.native_id or self.index}"
        mz = _as_clean_array(self.mz, f"{label}: m/z array")
        intensity = _as_clean_array(self.intensity, f"{label}: intensity array", np.float64)
        if mz.shape != intensity.shape:
            raise InputError(f"{label}: {mz.size} m/z values but {intensity.size} intensities")
        reordered = mz.size > 1 and bool((mz[1:] < mz[:-1]).any())
        if reordered:
            order = np.argsort(mz, kind="stable")
            mz, intensity = mz[order], intensity[order]
        if mz.size and mz[0] < 0:
            raise InputError(f"{label}: negative m/z ({mz[0]:g})")
        # Some converters write negative intensities from baseline subtraction: they
        # are set to zero, and the run says how many spectra held them.
        lowest = float(intensity.min()) if intensity.size else 0.0
        if lowest < 0:
            intensity = np.clip(intensity, 0.0, None)
        if not math.isfinite(self.rt_min):
            raise InputError(f"{label}: retention time is not finite")
        if self.ms_level < 1:
            raise InputError(f"{label}: MS level {self.ms_level} < 1")
        if self.polarity not in POLARITIES:
            raise InputError(f"{label}: unknown polarity {self.polarity!r}")
        if self.mode not in SPECTRUM_MODES:
            raise InputError(f"{label}: unknown spectrum mode {self.mode!r}")
        object.__setattr__(self, "mz", mz)
        object.__setattr__(self, "intensity", intensity)
        object.__setattr__(self, "lowest_intensity_read", lowest)
        object.__setattr__(self, "mz_reordered", reordered)

    @property
    def size(self) -> int:
        return int(self.mz.size)


@dataclass(frozen=True, eq=False)
class Chromatogram:
    """A trace over retention time: TIC, base peak, SRM transition, UV channel…"""

    id: str
    kind: ChromatogramKind
    rt_min: np.ndarray
    intensity: np.ndarray
    polarity: Polarity = "unknown"
    precursor_mz: float | None = None
    product_mz: float | None = None
    wavelength_nm: float | None = None
    unit: str = ""

    def __post_init__(self) -> None:
        rt = _as_clean_array(self.rt_min, f"chromatogram {self.id} time axis")
        values = _as_clean_array(self.intensity, f"chromatogram {self.id} values")
        if rt.shape != values.shape:
            raise InputError(f"chromatogram {self.id}: {rt.size} time points but {values.size} values")
        if rt.size > 1 and np.any(np.diff(rt) < 0):
            raise InputError(f"chromatogram {self.id}: time axis is not ascending")
        if self.kind not in CHROMATOGRAM_KINDS:
            raise InputError(f"chromatogram {self.id}: unknown kind {self.kind!r}")
        if self.wavelength_nm is not None and not (100.0 <= self.wavelength_nm <= 1100.0):
            raise InputError(f"chromatogram {self.id}: wavelength {self.wavelength_nm} nm is outside 100-1100 nm")
        object.__setattr__(self, "rt_min", rt)
        object.__setattr__(self, "intensity", values)


@dataclass(frozen=True, eq=False)
class DiodeArray:
    """Full UV/Vis spectra over time from a diode-array (DAD/PDA) detector:
    ``absorbance[i, j]`` at ``rt_min[i]`` and ``wavelength_nm[j]``."""

    id: str
    rt_min: np.ndarray
    wavelength_nm: np.ndarray
    absorbance: np.ndarray
    unit: str = "mAU"

    def __post_init__(self) -> None:
        rt = _as_clean_array(self.rt_min, f"diode array {self.id} time axis")
        wavelengths = _as_clean_array(self.wavelength_nm, f"diode array {self.id} wavelength axis")
        values = np.ascontiguousarray(self.absorbance, dtype=np.float64)
        if values.ndim != 2 or values.shape != (rt.size, wavelengths.size):
            raise InputError(
                f"diode array {self.id}: absorbance has shape {values.shape}, expected "
                f"({rt.size} times, {wavelengths.size} wavelengths)"
            )
        if rt.size < 2 or wavelengths.size < 2:
            raise InputError(f"diode array {self.id}: needs at least 2 times and 2 wavelengths")
        if np.any(np.diff(rt) < 0):
            raise InputError(f"diode array {self.id}: time axis is not ascending")
        if np.any(np.diff(wavelengths) <= 0):
            order = np.argsort(wavelengths, kind="stable")
            wavelengths, values = wavelengths[order], values[:, order]
            if np.any(np.diff(wavelengths) <= 0):
                raise InputError(f"diode array {self.id}: repeated wavelengths")
        if not _all_finite(values.ravel()):
            raise InputError(f"diode array {self.id}: absorbance contains NaN or infinite values")
        object.__setattr__(self, "rt_min", rt)
        object.__setattr__(self, "wavelength_nm", wavelengths)
        object.__setattr__(self, "absorbance", values)

    def trace(self, wavelength_nm: float, bandwidth_nm: float) -> np.ndarray | None:
        """Mean absorbance over ``wavelength ± bandwidth/2`` (the nearest channel
        when the band is narrower than the spacing); None outside the range."""
        low, high = wavelength_nm - bandwidth_nm / 2.0, wavelength_nm + bandwidth_nm / 2.0
        if high < self.wavelength_nm[0] or low > self.wavelength_nm[-1]:
            return None
        inside = (self.wavelength_nm >= low) & (self.wavelength_nm <= high)
        if not inside.any():
            inside = np.zeros(self.wavelength_nm.size, dtype=bool)
            inside[int(np.argmin(np.abs(self.wavelength_nm - wavelength_nm)))] = True
        band: np.ndarray = self.absorbance[:, inside].mean(axis=1)
        return band


@dataclass(frozen=True)
class InstrumentInfo:
    model: str = ""
    vendor: str = ""
    analyzers: tuple[str, ...] = ()
    software: str = ""
    serial: str = ""

    @property
    def high_resolution_analyzer(self) -> bool | None:
        """True for orbitrap/TOF/FT-ICR, False for quadrupole/ion trap, None if unknown."""
        names = " ".join(self.analyzers).lower()
        if not names:
            return None
        if any(word in names for word in ("orbitrap", "tof", "time-of-flight", "fourier", "fticr", "ft-icr")):
            return True
        if any(word in names for word in ("quadrupole", "ion trap", "iontrap", "paul", "linear")):
            return False
        return None


Peaks = tuple[np.ndarray, np.ndarray]  # m/z, intensity


@dataclass(frozen=True, eq=False)
class MS1Scans:
    """The MS1 scans of a run as a streaming read keeps them: per scan its time,
    polarity, mode and total ion current (of the spectrum as read), and its
    peaks after reduction (profile spectra centroided); whole spectra only for
    the few strongest profile scans of each polarity. Memory follows the
    number of centroids, not the size of the raw data.

    ``spectra_read`` and ``signal_read`` describe every spectrum of the run,
    of any MS level: how many there were, and whether one held a positive
    intensity."""

    rt_min: np.ndarray
    polarity: tuple[Polarity, ...]
    mode: tuple[str, ...]
    total_intensity: np.ndarray
    peaks: tuple[Peaks, ...]
    profile_samples: tuple[Spectrum, ...] = ()
    spectra_read: int = 0
    signal_read: bool = False

    @property
    def count(self) -> int:
        return int(self.rt_min.size)

    def select(self, polarity: str | None) -> MS1Scans:
        """The scans of one polarity (all of them for None), in run order."""
        if polarity is None or all(p == polarity for p in self.polarity):
            return self
        return self._subset([i for i, p in enumerate(self.polarity) if p == polarity], polarity)

    def _subset(self, chosen: list[int], polarity: str) -> MS1Scans:
        index = np.asarray(chosen, dtype=np.intp)
        return MS1Scans(
            rt_min=self.rt_min[index],
            polarity=tuple(self.polarity[i] for i in chosen),
            mode=tuple(self.mode[i] for i in chosen),
            total_intensity=self.total_intensity[index],
            peaks=tuple(self.peaks[i] for i in chosen),
            profile_samples=tuple(s for s in self.profile_samples if s.polarity == polarity),
            spectra_read=self.spectra_read,
            signal_read=self.signal_read,
        )


class MS1ScanCollector:
    """Takes a run's spectra one at a time, in file order, and keeps what
    MS1Scans holds: ``reduce`` turns a spectrum into the peaks kept (the LC-MS
    analysis centroids profile spectra), and the ``strongest_profile`` profile
    spectra of each polarity with the largest total intensity are kept whole
    (with any that tie with the last of them). It also says what LCMSRun says of
    its spectra (negative intensities, m/z or retention times out of order), in
    the same words, since a streamed run holds no spectra to say it from."""

    def __init__(self, reduce: Callable[[Spectrum], Peaks], strongest_profile: int):
        self.reduce, self.strongest_profile = reduce, strongest_profile
        self.rt: list[float] = []
        self.polarity: list[Polarity] = []
        self.mode: list[str] = []
        self.total: list[float] = []
        self.peaks: list[Peaks] = []
        self.candidates: dict[str, list[tuple[float, int, Spectrum]]] = {}
        self.spectra_read = 0
        self.signal_read = False
        self.negative = 0
        self.lowest = 0.0
        self.reordered = 0
        self.first_reordered = ""
        self.previous_rt: float | None = None
        self.out_of_order = False

    def add(self, spectrum: Spectrum) -> None:
        self.spectra_read += 1
        if not self.signal_read and spectrum.intensity.size and spectrum.intensity.max() > 0:
            self.signal_read = True
        lowest = getattr(spectrum, "lowest_intensity_read", 0.0)
        if lowest < 0:
            self.negative += 1
            self.lowest = min(self.lowest, lowest)
        if getattr(spectrum, "mz_reordered", False):
            self.reordered += 1
            if self.reordered == 1:
                self.first_reordered = str(spectrum.native_id or spectrum.index)
        if self.previous_rt is not None and spectrum.rt_min < self.previous_rt:
            self.out_of_order = True
        self.previous_rt = spectrum.rt_min
        if spectrum.ms_level != 1:
            return
        total = float(spectrum.intensity.sum())
        if spectrum.mode == "profile":
            self._keep_if_strong(spectrum, total, len(self.rt))
        self.rt.append(spectrum.rt_min)
        self.polarity.append(spectrum.polarity)
        self.mode.append(spectrum.mode)
        self.total.append(total)
        self.peaks.append(self.reduce(spectrum))

    def _keep_if_strong(self, spectrum: Spectrum, total: float, position: int) -> None:
        kept = self.candidates.setdefault(spectrum.polarity, [])
        kept.append((total, position, spectrum))
        if len(kept) > 2 * self.strongest_profile:
            kept.sort(key=lambda c: -c[0])
            last = kept[self.strongest_profile - 1][0]
            kept[:] = [c for c in kept if c[0] >= last]

    def notes(self) -> list[str]:
        """LCMSRun's notes on the spectra read, in its order and words."""
        notes = []
        if self.negative:
            notes.append(
                f"{self.negative} of {self.spectra_read} spectra hold negative intensities (down to "
                f"{self.lowest:.4g}); they were set to zero"
            )
        if self.reordered:
            notes.append(
                f"{self.reordered} spectra list their m/z values out of order "
                f"(first: {self.first_reordered}); they were sorted"
            )
        if self.out_of_order:
            notes.append("the spectra are not in retention-time order; they were sorted")
        return notes

    def finish(self) -> MS1Scans:
        """The scans in retention-time order (stable, as LCMSRun sorts its spectra)."""
        rt = np.array(self.rt, dtype=np.float64)
        order = list(range(rt.size))
        if self.out_of_order:
            order = sorted(order, key=lambda i: self.rt[i])
        rank = {position: rank for rank, position in enumerate(order)}
        samples = sorted((c for kept in self.candidates.values() for c in kept), key=lambda c: rank[c[1]])
        return MS1Scans(
            rt_min=rt[np.asarray(order, dtype=np.intp)],
            polarity=tuple(self.polarity[i] for i in order),
            mode=tuple(self.mode[i] for i in order),
            total_intensity=np.array([self.total[i] for i in order], dtype=np.float64),
            peaks=tuple(self.peaks[i] for i in order),
            profile_samples=tuple(c[2] for c in samples),
            spectra_read=self.spectra_read,
            signal_read=self.signal_read,
        )


@dataclass(frozen=True, eq=False)
class LCMSRun:
    """One LC-MS acquisition in vendor-neutral form."""

    source_path: str
    format: str
    spectra: tuple[Spectrum, ...]
    chromatograms: tuple[Chromatogram, ...] = ()
    instrument: InstrumentInfo = field(default_factory=InstrumentInfo)
    acquisition_date: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    diode_arrays: tuple[DiodeArray, ...] = ()
    # Set by a streaming read, which keeps no spectra (``spectra`` is then empty): see MS1Scans.
    ms1_scans: MS1Scans | None = None

    @property
    def streamed(self) -> bool:
        return self.ms1_scans is not None and not self.spectra

    @property
    def _streamed_scans(self) -> MS1Scans | None:
        """The MS1 scans a streaming read kept, when that is all the run holds."""
        return self.ms1_scans if self.ms1_scans is not None and not self.spectra else None

    @property
    def spectrum_count(self) -> int:
        """Spectra of every MS level the run holds (or held, when streamed)."""
        scans = self._streamed_scans
        return scans.spectra_read if scans is not None else len(self.spectra)

    @property
    def silent(self) -> bool:
        """Spectra, but not one positive intensity among them."""
        scans = self._streamed_scans
        if scans is not None:
            return scans.spectra_read > 0 and not scans.signal_read
        return bool(self.spectra) and not any(s.intensity.size and s.intensity.max() > 0 for s in self.spectra)

    def require_signal(self) -> None:
        """A sample run must hold signal; a blank may hold none (a clean system)."""
        if self.silent:
            raise InputError(
                f"no spectrum holds a positive intensity (all {self.spectrum_count} are zero or "
                "negative): there is no signal to analyse"
            )

    def __post_init__(self) -> None:
        object.__setattr__(self, "spectra", tuple(self.spectra))
        object.__setattr__(self, "chromatograms", tuple(self.chromatograms))
        object.__setattr__(self, "diode_arrays", tuple(self.diode_arrays))
        notes = []
        negative = [s for s in self.spectra if s.lowest_intensity_read < 0]
        if negative:
            lowest = min(s.lowest_intensity_read for s in negative)
            notes.append(
                f"{len(negative)} of {len(self.spectra)} spectra hold negative intensities (down to "
                f"{lowest:.4g}); they were set to zero"
            )
        reordered = [s for s in self.spectra if s.mz_reordered]
        if reordered:
            notes.append(
                f"{len(reordered)} spectra list their m/z values out of order "
                f"(first: {reordered[0].native_id or reordered[0].index}); they were sorted"
            )
        rts = [s.rt_min for s in self.spectra]
        if any(b < a for a, b in zip(rts, rts[1:])):
            ordered = sorted(self.spectra, key=lambda s: s.rt_min)
            object.__setattr__(self, "spectra", tuple(ordered))
            notes.append("the spectra are not in retention-time order; they were sorted")
        if notes:
            self.metadata.setdefault("reader_warnings", []).extend(notes)

    @property
    def technique(self) -> str:
        """ "lcms" when it holds mass spectra or MS traces; "uv" for an LC run with optical detectors only."""
        if self.spectrum_count or any(c.kind in ("tic", "bpc", "srm") for c in self.chromatograms):
            return "lcms"
        return "uv" if self.has_uv else "lcms"

    @property
    def has_uv(self) -> bool:
        return bool(self.diode_arrays) or any(c.kind == "uv" for c in self.chromatograms)

    def ms1(self, polarity: Polarity | None = None) -> list[Spectrum]:
        if self.streamed:
            raise TypeError("a streamed run keeps no spectra: read its MS1 scans from ms1_scans")
        return [s for s in self.spectra if s.ms_level == 1 and (polarity is None or s.polarity == polarity)]

    def has_ms1(self) -> bool:
        scans = self._streamed_scans
        return scans.count > 0 if scans is not None else any(s.ms_level == 1 for s in self.spectra)

    def polarities(self) -> list[Polarity]:
        """MS1 polarities present, most scans first."""
        counts: dict[Polarity, int] = {}
        scans = self._streamed_scans
        if scans is not None:
            for polarity in scans.polarity:
                counts[polarity] = counts.get(polarity, 0) + 1
        for spectrum in self.spectra:
            if spectrum.ms_level == 1:
                counts[spectrum.polarity] = counts.get(spectrum.polarity, 0) + 1
        return sorted(counts, key=lambda p: -counts[p])

    def ms1_tic(self, polarity: Polarity | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Times (min) and total ion current of the MS1 spectra (of one polarity)."""
        streamed = self._streamed_scans
        if streamed is not None:
            scans = streamed.select(polarity)
            return scans.rt_min, scans.total_intensity
        spectra = self.ms1(polarity)
        return (np.array([s.rt_min for s in spectra]), np.array([float(s.intensity.sum()) for s in spectra]))


@dataclass(frozen=True, eq=False)
class NMRData:
    """One 1D NMR dataset: a raw FID and/or a processed real spectrum with its
    ppm axis (descending). A FID from a digitally filtered spectrometer is kept
    as recorded, with the filter's delay: processing removes it after the
    transform, where the removal is exact."""

    source_path: str
    format: str
    nucleus: str
    spectrometer_mhz: float  # frequency the ppm scale is computed with
    sweep_width_hz: float
    fid: np.ndarray | None = None
    spectrum: np.ndarray | None = None
    ppm: np.ndarray | None = None
    carrier_ppm: float | None = None  # ppm at the centre of the FID's spectral window
    reversed_after_fft: bool = True  # frequency order after FFT must be flipped (Bruker, Varian)
    group_delay_points: float = 0.0  # digital filter delay still in the FID (Bruker), in points
    first_phase_deg: tuple[float, float] | None = None  # vendor phases of a processed spectrum
    solvent: str = ""
    temperature_k: float | None = None
    pulse_program: str = ""
    acquisition_date: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fid is None and self.spectrum is None:
            raise InputError("NMR dataset holds neither an FID nor a spectrum")
        if not (self.spectrometer_mhz and self.spectrometer_mhz > 0 and math.isfinite(self.spectrometer_mhz)):
            raise InputError(f"spectrometer frequency {self.spectrometer_mhz!r} is not a positive number")
        if not (self.sweep_width_hz and self.sweep_width_hz > 0 and math.isfinite(self.sweep_width_hz)):
            raise InputError(f"sweep width {self.sweep_width_hz!r} is not a positive number")
        if self.fid is not None:
            fid = np.ascontiguousarray(self.fid, dtype=np.complex128)
            if fid.ndim != 1:
                raise InputError(f"only 1D data is supported (FID has shape {fid.shape})")
            if fid.size < 16:
                raise InputError(f"FID has only {fid.size} points")
            if not (_all_finite(fid.real) and _all_finite(fid.imag)):
                raise InputError("FID contains NaN or infinite values")
            if not fid.any():
                raise InputError("FID holds only zeros: no signal was recorded")
            object.__setattr__(self, "fid", fid)
            if not (math.isfinite(self.group_delay_points) and 0 <= self.group_delay_points < fid.size / 2):
                raise InputError(
                    f"digital filter delay of {self.group_delay_points!r} points does not fit a {fid.size}-point FID"
                )
            if self.carrier_ppm is None or not math.isfinite(self.carrier_ppm):
                raise InputError("FID given without the carrier position (ppm)")
        if self.spectrum is not None:
            spectrum = np.ascontiguousarray(self.spectrum, dtype=np.float64)
            ppm = np.ascontiguousarray(self.ppm, dtype=np.float64) if self.ppm is not None else None
            if spectrum.ndim != 1 or ppm is None or ppm.shape != spectrum.shape:
                raise InputError("processed spectrum needs a 1D intensity array and a ppm axis of the same length")
            if not (_all_finite(spectrum) and _all_finite(ppm)):
                raise InputError("processed spectrum contains NaN or infinite values")
            if not spectrum.any():
                raise InputError("processed spectrum holds only zeros: no signal")
            if ppm.size > 1 and not (np.all(np.diff(ppm) < 0) or np.all(np.diff(ppm) > 0)):
                raise InputError("processed spectrum's ppm axis is not monotonic")
            if ppm.size > 1 and ppm[0] < ppm[-1]:
                ppm, spectrum = ppm[::-1].copy(), spectrum[::-1].copy()
            object.__setattr__(self, "spectrum", spectrum)
            object.__setattr__(self, "ppm", ppm)

    @property
    def technique(self) -> str:
        return "nmr"
