"""Agilent .D folder → LCMSRun.

ChemStation single-quad files (.MS) are binned at 0.1 Da (the quadrupole's
own step), not rainbow's default 1 Da, so isotope and adduct spacing survive.
MassHunter Q-TOF profile data (AcqData/MSProfile.bin) is read scan by scan
with its calibrated m/z axis.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import InputError, SpecqcError, with_path
from ...model import InstrumentInfo, LCMSRun
from .layout import is_detector_file
from ..rainbow_run import ms_spectra, optical_channels, profile_spectra, read_directory

SINGLE_QUAD_BIN_DA = 0.1


def _text(path: Path) -> str:
    """Agilent writes its text reports in UTF-16 or in a single-byte code page."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("latin-1")


def chemstation_polarity(folder: Path) -> str:
    """The acquisition method report (ACQ.M/ACQ.TXT, or acq.txt beside the data)
    states the polarity of each MSD signal. MSPARMS.txt is no help: it lists the
    tune values of both polarities whatever was acquired."""
    found: set[str] = set()
    for report in (folder / "ACQ.M" / "ACQ.TXT", folder / "acq.txt", folder / "ACQ.TXT"):
        if report.is_file():
            found.update(m.lower() for m in re.findall(r"^\s*Polarity\s*:\s*(Positive|Negative)", _text(report),
                                                       flags=re.MULTILINE | re.IGNORECASE))
            break
    return found.pop() if len(found) == 1 else "unknown"


def read(path: Path) -> LCMSRun:
    path = Path(path)
    warnings: list[str] = []
    masshunter = (path / "AcqData").is_dir()
    try:
        if masshunter:
            directory = read_directory(path, warnings, hrms=True)
        else:
            detector_files = tuple(sorted(p.name for p in path.iterdir() if is_detector_file(p)))
            directory = read_directory(path, warnings, detector_files, bin_width=SINGLE_QUAD_BIN_DA,
                                       display_precision=1)
        polarity = chemstation_polarity(path)
        spectra, chromatograms, arrays = [], [], []
        for datafile in directory.datafiles:
            if datafile.detector == "MS":
                if masshunter:
                    spectra.extend(profile_spectra(datafile, polarity))
                else:
                    spectra.extend(ms_spectra(datafile, polarity, start_index=len(spectra)))
                continue
            traces, array = optical_channels(datafile)
            chromatograms.extend(traces)
            arrays.extend(array)
        if not spectra and not chromatograms and not arrays:
            raise InputError("the .D folder holds no MS, UV or detector signal")
        metadata = dict(directory.metadata or {})
        modules = metadata.get("modules") or []
        analyzers = ("time-of-flight",) if masshunter else (("quadrupole",) if spectra else ())
        instrument = InstrumentInfo(
            model=", ".join(f"{m.get('name', '')} {m.get('model', '')}".strip() for m in modules),
            vendor="Agilent", analyzers=analyzers,
            software="MassHunter" if masshunter else "ChemStation/OpenLab")
        return LCMSRun(
            source_path=str(path), format="agilent-d", spectra=tuple(spectra), chromatograms=tuple(chromatograms),
            diode_arrays=tuple(arrays), instrument=instrument, acquisition_date=str(metadata.get("date", "")),
            metadata={"reader_warnings": warnings, "sample": str(metadata.get("sample", "")),
                      "method": str(metadata.get("acq_method", "")),
                      "detector_files": [d.name for d in directory.datafiles],
                      "ms_binning_da": None if masshunter else SINGLE_QUAD_BIN_DA},
        )
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
