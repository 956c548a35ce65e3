"""Waters MassLynx .raw folder → LCMSRun.

Each _FUNCnnn.DAT is one acquisition function: MS scans (with a polarity),
PDA spectra, or, on instruments with LockSpray, a reference function that
samples the lock-mass compound every few seconds. That reference function is
recognised and kept out of the analysis: its ions are not the sample's.
_CHROnnn.DAT files are analog channels (ELSD, CAD, a second UV detector).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import Chromatogram, DiodeArray, InstrumentInfo, LCMSRun, Polarity, Spectrum
from ..rainbow_run import ms_spectra, optical_channels, read_directory
from .layout import is_detector_file

POLARITY: dict[str, Polarity] = {"+": "positive", "-": "negative"}
# Reference compounds Waters sells for LockSpray: leucine enkephalin [M+H]+ / [M-H]-,
# Glu-fibrinopeptide B [M+2H]2+.
LOCK_MASS_IONS = (556.2771, 554.2615, 785.8426)
LOCK_MASS_TOLERANCE_DA = 0.5
MS_BIN_DA = 0.1  # finer than rainbow's 1 Da default, so quadrupole peaks keep their tenths
FUNCTION_HEADER = re.compile(r"Function\s+(\d+)", re.IGNORECASE)


def _function_number(name: str) -> int | None:
    match = re.match(r"_FUNC(\d+)\.DAT$", name, re.IGNORECASE)
    return int(match.group(1)) if match else None


def reference_functions_from_header(extern_text: str) -> set[int]:
    """Function numbers whose parameter block in _extern.inf calls them a reference or lock-mass function."""
    found: set[int] = set()
    blocks = re.split(r"(?=^.*Function\s+\d+)", extern_text, flags=re.MULTILINE | re.IGNORECASE)
    for block in blocks:
        lines = block.strip().splitlines()
        if not lines:
            continue
        match = FUNCTION_HEADER.search(lines[0])
        if match and re.search(r"reference|lock\s*(mass|spray)", lines[0], re.IGNORECASE):
            found.add(int(match.group(1)))
    return found


def looks_like_lock_mass(base_peak_mz: np.ndarray, scans_in_main_function: int) -> bool:
    """A reference function: sampled more sparsely than the main MS function,
    and its base peak is one known lock-mass ion in (nearly) every scan."""
    if base_peak_mz.size == 0 or base_peak_mz.size >= scans_in_main_function:
        return False
    for ion in LOCK_MASS_IONS:
        if np.mean(np.abs(base_peak_mz - ion) <= LOCK_MASS_TOLERANCE_DA) >= 0.8:
            return True
    return False


def _base_peaks(datafile) -> np.ndarray:
    data = np.asarray(datafile.data)
    if data.ndim != 2 or data.shape[0] == 0:
        return np.zeros(0)
    mz_axis = np.asarray(datafile.ylabels, dtype=np.float64)
    return mz_axis[np.argmax(data, axis=1)]


IDX_ENTRY_BYTES = 22  # one scan in _FUNCnnn.IDX: offset into the .DAT, pair count, ..., retention time
PAIR_BYTES = (2, 4, 6, 8)  # the storage formats of a data pair rainbow reads


def function_problem(path: Path) -> str | None:
    """What is wrong with one acquisition function (_FUNCnnn.DAT and its index _FUNCnnn.IDX), or None.

    rainbow infers how each data pair is stored from how many bytes follow the last
    scan's offset, so a .DAT cut short (or the index itself) must be caught here."""
    if _function_number(path.name) is None:
        return None
    index = next((p for p in path.parent.iterdir() if p.name.upper() == path.name.upper()[:-4] + ".IDX"), None)
    if index is None:
        return f"its scan index {path.stem}.IDX is missing"
    entries, stray = divmod(index.stat().st_size, IDX_ENTRY_BYTES)
    if entries == 0:
        return f"its scan index {index.name} is empty"
    if stray:
        return f"its scan index {index.name} is not a whole number of {IDX_ENTRY_BYTES}-byte entries (file cut short?)"
    table = np.frombuffer(index.read_bytes(), dtype=np.dtype([("offset", "<u4"), ("pairs", "<u4"), ("rest", "V14")]))
    offsets, pairs = table["offset"].astype(np.int64), table["pairs"].astype(np.int64) & 0x3FFFFF
    size = path.stat().st_size
    if not np.all(np.diff(offsets) >= 0):
        return f"its scan index {index.name} lists offsets that go backwards (damaged?)"
    last = np.flatnonzero(pairs)
    if last.size == 0:
        return f"its scan index {index.name} lists {entries} scans, none holding any data"
    # every scan but the last ends where the next begins
    held = int(np.searchsorted(offsets[1:], size, side="right"))
    if held < entries - 1:
        return (
            f"{index.name} lists {entries} scans, {path.name} ({size} bytes) holds {held} complete ones "
            "(file cut short?)"
        )
    # the last holds its pairs at one of the pair sizes Waters writes
    tail, count = size - int(offsets[last[-1]]), int(pairs[last[-1]])
    if tail % count or tail // count not in PAIR_BYTES:
        return (
            f"{path.name} ({size} bytes) does not end where the last scan {index.name} lists does "
            "(file cut short, or bytes appended?)"
        )
    return None


def _header(folder: Path) -> dict[str, str]:
    header = folder / "_HEADER.TXT"
    if not header.is_file():
        return {}
    fields = {}
    for line in header.read_text(encoding="latin-1").splitlines():
        if line.startswith("$$") and ":" in line:
            key, value = line[2:].split(":", 1)
            fields[key.strip()] = value.strip()
    return fields


def read(path: Path) -> LCMSRun:
    path = Path(path)
    warnings: list[str] = []
    try:
        detector_files = tuple(sorted(p.name for p in path.iterdir() if is_detector_file(p)))
        directory = read_directory(
            path, warnings, detector_files, explain=function_problem, bin_width=MS_BIN_DA, display_precision=1
        )
        extern = path / "_extern.inf"
        declared = reference_functions_from_header(extern.read_text(encoding="latin-1")) if extern.is_file() else set()
        ms_files = [d for d in directory.datafiles if d.detector == "MS"]
        main_scans = max((np.asarray(d.xlabels).size for d in ms_files), default=0)
        spectra: list[Spectrum] = []
        chromatograms: list[Chromatogram] = []
        arrays: list[DiodeArray] = []
        lock_mass: list[str] = []
        for datafile in directory.datafiles:
            if datafile.detector == "MS":
                number = _function_number(datafile.name)
                sparse = np.asarray(datafile.xlabels).size < main_scans  # the main function never is
                if number in declared or (sparse and looks_like_lock_mass(_base_peaks(datafile), main_scans)):
                    lock_mass.append(datafile.name)
                    continue
                polarity = POLARITY.get(str((datafile.metadata or {}).get("polarity", "")), "unknown")
                spectra.extend(
                    ms_spectra(datafile, polarity, start_index=len(spectra), native_prefix=f"function={number} ")
                )
                continue
            traces, array = optical_channels(datafile)
            chromatograms.extend(traces)
            arrays.extend(array)
        if not spectra and not chromatograms and not arrays:
            raise InputError(
                "the .raw folder holds no MS, UV or detector signal"
                + (" besides the lock-mass function" if lock_mass else "")
            )
        header = _header(path)
        model = header.get("Instrument", "")
        quadrupole = re.search(r"SQD|TQD|QDa|TQ-?S|TQ-?XS|ZQ|Quattro", model, re.IGNORECASE)
        metadata = dict(directory.metadata or {})
        return LCMSRun(
            source_path=str(path),
            format="waters-raw",
            spectra=tuple(spectra),
            chromatograms=tuple(chromatograms),
            diode_arrays=tuple(arrays),
            instrument=InstrumentInfo(
                model=model, vendor="Waters", analyzers=("quadrupole",) if quadrupole else (), software="MassLynx"
            ),
            acquisition_date=str(metadata.get("date", "")),
            metadata={
                "reader_warnings": warnings,
                "sample": header.get("Acquired Name", ""),
                "method": header.get("MS Method", ""),
                "detector_files": [d.name for d in directory.datafiles],
                "lock_mass_functions_excluded": lock_mass,
                "ms_binning_da": MS_BIN_DA,
            },
        )
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
