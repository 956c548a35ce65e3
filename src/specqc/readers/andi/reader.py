"""ANDI/AIA netCDF → LCMSRun.

Two templates share the format: chromatography (ASTM E1947: one detector
trace in ``ordinate_values``, often with the data system's own peak table)
and mass spectrometry (ASTM E2077: scans concatenated in ``mass_values`` /
``intensity_values``, split by ``scan_index``). Both are netCDF-3 classic
files, which scipy reads without the netCDF C library.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import Chromatogram, ChromatogramKind, InstrumentInfo, LCMSRun, Polarity, Spectrum, SpectrumMode
from ..rainbow_run import wavelength_from_label
from . import header
from .layout import is_netcdf

MISSING = -9999.0


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1", errors="replace").strip("\x00 ").strip()
    return str(value).strip()


def _array(variables, name: str) -> np.ndarray | None:
    if name not in variables:
        return None
    return np.array(variables[name].data, dtype=np.float64).ravel()


def _scalar(variables, name: str) -> float | None:
    values = _array(variables, name)
    if values is None or values.size == 0 or values[0] == MISSING or not np.isfinite(values[0]):
        return None
    return float(values[0])


_DETECTOR_WORDS: tuple[tuple[str, ChromatogramKind], ...] = (
    ("ELSD", "elsd"),
    ("CAD", "cad"),
    ("CORONA", "cad"),
    ("FID", "fid"),
)


def _detector_kind(name: str) -> tuple[ChromatogramKind, float | None]:
    upper = name.upper()
    if "TIC" in upper or upper.startswith("MSD"):
        return "tic", None
    for word, kind in _DETECTOR_WORDS:
        if word in upper:
            return kind, None
    wavelength = wavelength_from_label(name)
    if wavelength is not None or any(word in upper for word in ("DAD", "VWD", "MWD", "UV", "PDA")):
        return "uv", wavelength
    return "other", None


def _seconds_to_minutes(attributes: dict) -> float:
    unit = _text(attributes.get("retention_unit", attributes.get("units", b"seconds"))).lower()
    return 1.0 if unit.startswith("min") else 1.0 / 60.0


def _chromatography(path: Path, attributes: dict, variables) -> LCMSRun:
    values = _array(variables, "ordinate_values")
    if values is None or values.size < 2:
        raise InputError("ANDI chromatography file has no ordinate_values")
    scale = _seconds_to_minutes(attributes)
    times = _array(variables, "raw_data_retention")
    warnings = []
    if times is None or times.size != values.size:
        interval = _scalar(variables, "actual_sampling_interval")
        if not interval or interval <= 0:
            raise InputError("ANDI chromatography file has neither retention times nor a sampling interval")
        if times is not None and times.size:
            warnings.append(
                f"ANDI raw_data_retention holds {times.size} times but ordinate_values {values.size} "
                "values; the times were taken from actual_sampling_interval"
            )
        delay = _scalar(variables, "actual_delay_time") or 0.0
        times = delay + interval * np.arange(values.size)
    detector = _text(attributes.get("detector_name", b""))
    kind, wavelength = _detector_kind(detector)
    trace = Chromatogram(
        id=detector or path.name,
        kind=kind,
        rt_min=times * scale,
        intensity=values,
        wavelength_nm=wavelength,
        unit=_text(attributes.get("detector_unit", b"")),
    )
    return LCMSRun(
        source_path=str(path),
        format="andi",
        spectra=(),
        chromatograms=(trace,),
        acquisition_date=_text(attributes.get("injection_date_time_stamp", b"")),
        metadata={
            "reader_warnings": warnings,
            "sample": _text(attributes.get("sample_name", b"")),
            "method": _text(attributes.get("detection_method_name", b"")),
            "detector": detector,
            "vendor_peaks": _vendor_peaks(variables, scale, warnings),
            "template": "chromatography (ASTM E1947)",
        },
    )


def _vendor_peaks(variables, scale: float, warnings: list[str]) -> list[dict]:
    """The data system's own peak table, kept beside ours; a column of the wrong length is left out."""
    peak_rt = _array(variables, "peak_retention_time")
    if peak_rt is None or not peak_rt.size:
        return []
    columns = {}
    for name, key in (("peak_area", "area"), ("peak_area_percent", "area_pct")):
        values = _array(variables, name)
        if values is not None and values.size != peak_rt.size:
            warnings.append(f"ANDI {name} holds {values.size} values for {peak_rt.size} peaks; left out")
            values = None
        columns[key] = values

    def value(key: str, i: int, digits: int | None):
        column = columns[key]
        if column is None or not np.isfinite(column[i]) or column[i] == MISSING:
            return None
        return float(column[i]) if digits is None else round(float(column[i]), digits)

    return [
        {"rt_min": round(float(rt) * scale, 4), "area": value("area", i, None), "area_pct": value("area_pct", i, 4)}
        for i, rt in enumerate(peak_rt)
        if np.isfinite(rt)
    ]


def _mass_spectrometry(path: Path, attributes: dict, variables) -> LCMSRun:
    mz_all = _array(variables, "mass_values")
    intensity_all = _array(variables, "intensity_values")
    starts = _array(variables, "scan_index")
    counts = _array(variables, "point_count")
    times = _array(variables, "scan_acquisition_time")
    if mz_all is None or intensity_all is None or starts is None or counts is None or times is None:
        raise InputError(
            "ANDI-MS file lacks mass_values, intensity_values, scan_index, point_count or scan_acquisition_time"
        )
    if mz_all.size != intensity_all.size:
        raise InputError(f"ANDI-MS file has {mz_all.size} masses but {intensity_all.size} intensities")
    polarity_text = _text(attributes.get("test_ionization_polarity", b"")).lower()
    polarity: Polarity = (
        "positive" if "positive" in polarity_text else ("negative" if "negative" in polarity_text else "unknown")
    )
    experiment = _text(attributes.get("experiment_type", b"")).lower()
    mode: SpectrumMode = (
        "profile" if "continuum" in experiment else ("centroid" if "centroid" in experiment else "unknown")
    )
    scale = _seconds_to_minutes(attributes)
    if not starts.size == counts.size == times.size:
        raise InputError(
            f"ANDI-MS file lists {starts.size} scan_index, {counts.size} point_count and "
            f"{times.size} scan_acquisition_time values: one per scan in each"
        )
    if not (np.isfinite(starts).all() and np.isfinite(counts).all()):
        raise InputError("ANDI-MS scan_index or point_count holds values that are not numbers")
    warnings = []
    if int(counts.sum()) != mz_all.size:
        warnings.append(
            f"ANDI-MS point_count adds up to {int(counts.sum())} points, mass_values holds "
            f"{mz_all.size}; each scan was read from its scan_index"
        )
    spectra = []
    for index, (start, count, time) in enumerate(zip(starts.astype(np.int64), counts.astype(np.int64), times)):
        end = start + count
        if start < 0 or count < 0 or end > mz_all.size:
            raise InputError(
                f"ANDI-MS scan {index + 1}: scan_index {start} + point_count {count} reaches past the "
                f"{mz_all.size} values of mass_values (file cut short?)"
            )
        spectra.append(
            Spectrum(
                index=index,
                rt_min=float(time) * scale,
                ms_level=1,
                polarity=polarity,
                mode=mode,
                mz=mz_all[start:end],
                intensity=intensity_all[start:end],
                native_id=f"scan={index + 1}",
            )
        )
    if not spectra:
        raise InputError("ANDI-MS file holds no scans")
    return LCMSRun(
        source_path=str(path),
        format="andi",
        spectra=tuple(spectra),
        instrument=InstrumentInfo(software=_text(attributes.get("source_file_format", b""))),
        acquisition_date=_text(attributes.get("experiment_date_time_stamp", b"")),
        metadata={
            "reader_warnings": warnings,
            "sample": _text(attributes.get("source_file_reference", b"")),
            "separation": _text(attributes.get("test_separation_type", b"")),
            "template": "mass spectrometry (ASTM E2077)",
        },
    )


def read(path: Path) -> LCMSRun:
    from scipy.io import netcdf_file

    path = Path(path)
    try:
        with path.open("rb") as handle:
            if not is_netcdf(handle.read(4)):
                raise InputError("not a netCDF-3 file (ANDI/AIA exports are netCDF classic)")
        header.check(path)  # sizes the header declares against the file, before scipy allocates them
        try:
            dataset = netcdf_file(str(path), "r", mmap=False)
        except MemoryError:
            raise
        except Exception as exc:  # scipy raises ValueError/TypeError/OSError on damaged files
            raise InputError("not a readable netCDF-3 file: its header is damaged") from exc
        with dataset:
            attributes = dict(dataset._attributes)
            variables = dataset.variables
            if "mass_values" in variables:
                return _mass_spectrometry(path, attributes, variables)
            if "ordinate_values" in variables:
                return _chromatography(path, attributes, variables)
            raise InputError("netCDF file is neither an ANDI chromatography nor an ANDI-MS export")
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
