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
from ...model import Chromatogram, InstrumentInfo, LCMSRun, Spectrum
from ..rainbow_run import wavelength_from_label
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


def _detector_kind(name: str) -> tuple[str, float | None]:
    upper = name.upper()
    if "TIC" in upper or upper.startswith("MSD"):
        return "tic", None
    for word, kind in (("ELSD", "elsd"), ("CAD", "cad"), ("CORONA", "cad"), ("FID", "fid")):
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
    if times is None or times.size != values.size:
        interval = _scalar(variables, "actual_sampling_interval")
        if not interval or interval <= 0:
            raise InputError("ANDI chromatography file has neither retention times nor a sampling interval")
        delay = _scalar(variables, "actual_delay_time") or 0.0
        times = delay + interval * np.arange(values.size)
    detector = _text(attributes.get("detector_name", b""))
    kind, wavelength = _detector_kind(detector)
    trace = Chromatogram(id=detector or path.name, kind=kind, rt_min=times * scale, intensity=values,
                         wavelength_nm=wavelength, unit=_text(attributes.get("detector_unit", b"")))
    vendor_peaks = []
    peak_rt = _array(variables, "peak_retention_time")
    if peak_rt is not None and peak_rt.size:
        area_pct = _array(variables, "peak_area_percent")
        area = _array(variables, "peak_area")
        for i, rt in enumerate(peak_rt):
            vendor_peaks.append({"rt_min": round(float(rt) * scale, 4),
                                 "area": None if area is None else float(area[i]),
                                 "area_pct": None if area_pct is None else round(float(area_pct[i]), 4)})
    return LCMSRun(
        source_path=str(path), format="andi", spectra=(), chromatograms=(trace,),
        acquisition_date=_text(attributes.get("injection_date_time_stamp", b"")),
        metadata={"reader_warnings": [], "sample": _text(attributes.get("sample_name", b"")),
                  "method": _text(attributes.get("detection_method_name", b"")), "detector": detector,
                  "vendor_peaks": vendor_peaks, "template": "chromatography (ASTM E1947)"})


def _mass_spectrometry(path: Path, attributes: dict, variables) -> LCMSRun:
    mz_all = _array(variables, "mass_values")
    intensity_all = _array(variables, "intensity_values")
    starts = _array(variables, "scan_index")
    counts = _array(variables, "point_count")
    times = _array(variables, "scan_acquisition_time")
    if any(v is None for v in (mz_all, intensity_all, starts, counts, times)):
        raise InputError("ANDI-MS file lacks mass_values, intensity_values, scan_index, point_count "
                         "or scan_acquisition_time")
    if mz_all.size != intensity_all.size:
        raise InputError(f"ANDI-MS file has {mz_all.size} masses but {intensity_all.size} intensities")
    polarity_text = _text(attributes.get("test_ionization_polarity", b"")).lower()
    polarity = "positive" if "positive" in polarity_text else ("negative" if "negative" in polarity_text
                                                                else "unknown")
    experiment = _text(attributes.get("experiment_type", b"")).lower()
    mode = "profile" if "continuum" in experiment else ("centroid" if "centroid" in experiment else "unknown")
    scale = _seconds_to_minutes(attributes)
    spectra = []
    for index, (start, count, time) in enumerate(zip(starts.astype(int), counts.astype(int), times)):
        end = start + count
        if start < 0 or end > mz_all.size:
            raise InputError(f"ANDI-MS scan {index + 1} points outside the data arrays (truncated file?)")
        spectra.append(Spectrum(index=index, rt_min=float(time) * scale, ms_level=1, polarity=polarity, mode=mode,
                                mz=mz_all[start:end], intensity=intensity_all[start:end],
                                native_id=f"scan={index + 1}"))
    if not spectra:
        raise InputError("ANDI-MS file holds no scans")
    return LCMSRun(
        source_path=str(path), format="andi", spectra=tuple(spectra),
        instrument=InstrumentInfo(software=_text(attributes.get("source_file_format", b""))),
        acquisition_date=_text(attributes.get("experiment_date_time_stamp", b"")),
        metadata={"reader_warnings": [], "sample": _text(attributes.get("source_file_reference", b"")),
                  "separation": _text(attributes.get("test_separation_type", b"")),
                  "template": "mass spectrometry (ASTM E2077)"})


def read(path: Path) -> LCMSRun:
    from scipy.io import netcdf_file

    path = Path(path)
    try:
        with path.open("rb") as handle:
            if not is_netcdf(handle.read(4)):
                raise InputError("not a netCDF-3 file (ANDI/AIA exports are netCDF classic)")
        try:
            dataset = netcdf_file(str(path), "r", mmap=False)
        except Exception as exc:  # scipy raises ValueError/TypeError/OSError on damaged files
            raise InputError(f"cannot read netCDF ({' '.join(str(exc).split())[:160]})") from exc
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
