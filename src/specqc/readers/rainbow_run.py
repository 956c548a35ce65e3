"""Vendor LC folders read by rainbow-api → LCMSRun.

rainbow returns one DataFile per detector file: a 2D array (times × m/z or
wavelength) with its axes. This module turns MS files into spectra, UV files
into single-wavelength chromatograms or a diode array, and other detectors
(ELSD, CAD, FID, analog inputs) into chromatograms of their kind. The vendor
readers (`agilent`, `waters`) add what only they know: polarity, lock mass,
instrument names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..model import Chromatogram, ChromatogramKind, DiodeArray, Polarity, Spectrum
from .nmr_common import library_read

# rainbow's 'detector' names → our chromatogram kinds
DETECTOR_KINDS: dict[str, ChromatogramKind] = {"UV": "uv", "ELSD": "elsd", "CAD": "cad", "FID": "fid"}
SIGNAL_WAVELENGTH = re.compile(r"Sig\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
WAVELENGTH_NM = re.compile(r"(\d{3}(?:\.\d+)?)\s*nm", re.IGNORECASE)


def wavelength_from_label(label: str) -> float | None:
    """The wavelength a signal name states: ChemStation's "Sig=254,4" or a plain "254 nm"."""
    match = SIGNAL_WAVELENGTH.search(label) or WAVELENGTH_NM.search(label)
    return float(match.group(1)) if match else None


class PartialDirectory:
    """The detector files of a folder that could be read one by one."""

    def __init__(self, datafiles: list, metadata: dict):
        self.datafiles = datafiles
        self.metadata = metadata


def read_directory(
    path: Path,
    warnings: list[str],
    detector_files: tuple[str, ...] = (),
    explain: Callable[[Path], str | None] | None = None,
    **options,
):
    """All detector files of a vendor folder.

    ``explain`` says what is wrong with one detector file (a header that declares
    more than the file holds, a stream without its end mark), checked before rainbow
    reads anything: such files are left out and named in the warnings. When rainbow
    cannot read the folder as a whole (a run still being written leaves its last
    file cut off mid-record), each of ``detector_files`` is read on its own: the
    ones that read are kept and the others named in the warnings."""
    import rainbow

    problems = {name: problem for name in detector_files if explain and (problem := explain(path / name))}
    readable = tuple(name for name in detector_files if name not in problems)
    if detector_files and not readable:
        raise InputError(
            "none of its detector files can be read: "
            + "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        )
    for name, problem in problems.items():
        warnings.append(f"{name} left out: {problem}")
    described = f" ({', '.join(readable)})" if readable else ""
    whole_folder_error = None
    if not problems:
        try:
            directory = library_read(
                f"its data files{described} cannot be read: damaged, cut short, or not what their names say",
                rainbow.read,
                str(path),
                warnings=warnings,
                **options,
            )
        except InputError as exc:
            whole_folder_error = exc
    if problems or whole_folder_error:
        datafiles: list[Any] = []  # rainbow's DataFile
        metadata: dict[str, Any] = {}
        for name in readable:
            try:
                part = library_read(
                    f"cannot read {name}", rainbow.read, str(path), warnings=warnings, requested_files=[name], **options
                )
            except InputError as exc:
                warnings.append(f"{name} left out: {exc.message} (incomplete file: is the run still acquiring?)")
                continue
            if part is None or not getattr(part, "datafiles", None):
                warnings.append(
                    f"{name} left out: no data could be read from it (incomplete file: is the run still acquiring?)"
                )
                continue
            datafiles.extend(part.datafiles)
            metadata = metadata or dict(part.metadata or {})
        if not datafiles:
            raise whole_folder_error or InputError(
                "none of its detector files can be read: " + "; ".join(warnings[-len(detector_files) :])
            )
        directory = PartialDirectory(datafiles, metadata)
    if directory is None or not getattr(directory, "datafiles", None):
        raise InputError(
            f"the folder holds no detector data rainbow can read{described}: the files are damaged, "
            "empty, or not what their names say"
        )
    return directory


def ms_spectra(datafile, polarity: Polarity, start_index: int = 0, native_prefix: str = "") -> list[Spectrum]:
    """Binned scans (times × m/z grid) → sparse spectra (the zero bins dropped)."""
    times = np.asarray(datafile.xlabels, dtype=np.float64)
    mz_axis = np.asarray(datafile.ylabels, dtype=np.float64)
    data = np.asarray(datafile.data)
    if data.ndim != 2 or data.shape != (times.size, mz_axis.size):
        raise InputError(f"{datafile.name}: MS data of shape {data.shape} does not match its axes")
    spectra = []
    for index in range(times.size):
        row = data[index]
        keep = np.flatnonzero(row > 0)
        spectra.append(
            Spectrum(
                index=start_index + index,
                rt_min=float(times[index]),
                ms_level=1,
                polarity=polarity,
                mode="centroid",
                mz=mz_axis[keep],
                intensity=row[keep].astype(np.float64),
                native_id=f"{native_prefix}scan={index + 1}",
            )
        )
    return spectra


def profile_spectra(datafile, polarity: Polarity) -> list[Spectrum]:
    """HRMS profile scans, each with its own calibrated m/z axis."""
    times = np.asarray(datafile.xlabels, dtype=np.float64)
    spectra = []
    for index in range(times.size):
        mz, intensity = datafile.scan(index)
        spectra.append(
            Spectrum(
                index=index,
                rt_min=float(times[index]),
                ms_level=1,
                polarity=polarity,
                mode="profile",
                mz=np.asarray(mz, dtype=np.float64),
                intensity=np.asarray(intensity, dtype=np.float64),
                native_id=f"scan={index + 1}",
            )
        )
    return spectra


def _wavelength(datafile) -> float | None:
    metadata = datafile.metadata or {}
    if metadata.get("wavelength"):
        return float(metadata["wavelength"])
    match = SIGNAL_WAVELENGTH.search(str(metadata.get("signal", "")))
    if match:
        return float(match.group(1))
    try:
        value = float(np.asarray(datafile.ylabels, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return None
    return value if 100.0 <= value <= 1100.0 else None


def optical_channels(datafile) -> tuple[list[Chromatogram], list[DiodeArray]]:
    """A non-MS detector file → chromatograms (one per channel) or a diode array."""
    times = np.asarray(datafile.xlabels, dtype=np.float64)
    data = np.asarray(datafile.data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    metadata = datafile.metadata or {}
    unit = str(metadata.get("unit", ""))
    signal = str(metadata.get("signal", "")).strip()
    kind = DETECTOR_KINDS.get(str(datafile.detector).upper(), "analog")
    if kind == "uv" and data.shape[1] > 1:
        wavelengths = np.asarray(datafile.ylabels, dtype=np.float64)
        return [], [DiodeArray(id=datafile.name, rt_min=times, wavelength_nm=wavelengths, absorbance=data, unit=unit)]
    label = f"{datafile.name} ({signal})" if signal else datafile.name
    wavelength = _wavelength(datafile) if kind == "uv" else None
    return [
        Chromatogram(id=label, kind=kind, rt_min=times, intensity=data[:, 0], wavelength_nm=wavelength, unit=unit)
    ], []
