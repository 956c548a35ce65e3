"""Bruker 1D experiments: raw (fid + acqus, with the digital filter's delay) or
processed (pdata/N with procs and 1r), and zip archives of either."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import NMRData
from .layout import experiments_below, is_experiment, is_processed
from ..nmr_common import (
    Parameters,
    bruker_group_delay,
    check_fid_signal,
    complex_pairs,
    normalise_nucleus,
    read_values,
    require_supported,
)

MAX_ZIP_BYTES = 512 * 1024 * 1024
MAX_ZIP_MEMBERS = 5000


def resolve(path: Path) -> Path:
    """The experiment (or pdata) folder meant by ``path``; never walks up the tree."""
    if is_experiment(path) or is_processed(path):
        return path
    found = experiments_below(path)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"folder holds several Bruker experiments ({names}); give one of them")
    raise InputError("not a Bruker experiment folder (no acqus with fid/ser/pdata)")


# Bruker's codes for how the numbers of fid/1r are stored
BYTE_ORDERS = {0: "little-endian", 1: "big-endian"}
DATA_TYPES = {0: "32-bit integer", 1: "32-bit float", 2: "64-bit float"}
NUMPY_TYPES = {0: "i4", 1: "f4", 2: "f8"}
FID_BLOCK_VALUES = 256  # each FID is stored padded to a multiple of 256 values (1024 bytes)


def parameters(path: Path) -> Parameters:
    """A Bruker parameter file (acqus, procs) as named values, refused when unreadable or empty."""
    import nmrglue as ng

    name = path.name
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{name} is empty")
        values = ng.bruker.read_jcamp(str(path))
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    except MemoryError:
        raise
    except InputError:
        raise
    except Exception as exc:  # nmrglue's text parser on binary or garbled content
        raise InputError(f"{name} is not a readable Bruker parameter file") from exc
    if not any(not key.startswith("_") for key in values):
        raise InputError(f"{name} holds no parameters (not a Bruker parameter file)")
    return Parameters(values, name)


def _date(acqus: Parameters) -> str:
    stamp = acqus.number("DATE", whole=True)
    try:
        return dt.datetime.fromtimestamp(stamp, tz=dt.timezone.utc).isoformat() if stamp is not None else ""
    except (ValueError, OverflowError, OSError):
        raise InputError(f"acqus: DATE: {stamp} is not a time") from None


def read(path: Path) -> NMRData:
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return read_zip(path)
    try:
        return _read_folder(path, str(path))
    except SpecqcError as exc:
        raise with_path(exc, path) from exc


def _read_folder(path: Path, source: str) -> NMRData:
    folder = resolve(path)
    warnings: list[str] = []
    if is_processed(folder) and not is_experiment(folder):
        return _processed(folder, folder.parent.parent, source, warnings)
    if (folder / "ser").is_file() and not (folder / "fid").is_file():
        raise InputError("2D (ser) Bruker data is not supported yet (only 1D 1H)")
    if not (folder / "fid").is_file():
        pdata = sorted((folder / "pdata").glob("*/1r"))
        if pdata:
            return _processed(pdata[0].parent, folder, source, warnings)
        raise InputError("the experiment has neither a fid nor processed data (pdata/N/1r)")
    acqus = parameters(folder / "acqus")
    nucleus = normalise_nucleus(acqus.text("NUC1"))
    require_supported(nucleus)
    bf1 = acqus.number("BF1", required=True, positive=True)
    sw_h = acqus.number("SW_h", required=True, positive=True)
    o1 = acqus.number("O1", 0.0)
    procs_path = folder / "pdata" / "1" / "procs"
    sf = (parameters(procs_path).number("SF", positive=True) if procs_path.is_file() else None) or bf1
    for key in ("GRPDLY", "DECIM", "DSPFVS"):
        acqus.number(key)  # refused here when garbled, rather than ignored by the delay lookup
    fid = _fid(folder / "fid", acqus, warnings)
    return NMRData(
        source_path=source,
        format="bruker",
        nucleus=nucleus,
        spectrometer_mhz=sf,
        sweep_width_hz=sw_h,
        fid=fid,
        group_delay_points=bruker_group_delay(acqus.values),
        carrier_ppm=(o1 + (bf1 - sf) * 1e6) / sf,
        solvent=acqus.text("SOLVENT"),
        temperature_k=acqus.number("TE"),
        pulse_program=acqus.text("PULPROG"),
        acquisition_date=_date(acqus),
        metadata={
            "reader_warnings": warnings,
            "experiment": folder.name,
            "group_delay": acqus.values.get("GRPDLY"),
            "decim": acqus.values.get("DECIM"),
            "dspfvs": acqus.values.get("DSPFVS"),
        },
    )


def _fid(path: Path, acqus: Parameters, warnings: list[str]) -> np.ndarray:
    """The FID as TD says, checked against what the file really holds (never more than it holds)."""
    td = int(acqus.number("TD", required=True, positive=True, whole=True))
    byte_order = acqus.choice("BYTORDA", BYTE_ORDERS, 0)
    data_type = acqus.choice("DTYPA", DATA_TYPES, 0)
    item = np.dtype(NUMPY_TYPES[data_type]).itemsize
    size = path.stat().st_size
    if size == 0:
        raise InputError("fid is empty (0 bytes)")
    stored, stray = divmod(size, item)
    if stray:
        warnings.append(
            f"fid: {size} bytes are not a whole number of {DATA_TYPES[data_type]} values "
            f"(DTYPA={data_type}); the last {stray} bytes were left out"
        )
    padded = -(-td // FID_BLOCK_VALUES) * FID_BLOCK_VALUES
    if stored < td:
        warnings.append(
            f"fid holds {stored // 2} complex points but TD says {td // 2} (file cut short?); read as it is"
        )
    elif stored > padded:
        warnings.append(
            f"fid holds {stored // 2} complex points, more than TD's {td // 2} (and its padding); "
            f"the first {td // 2} were read"
        )
    order, other = (">", "<") if byte_order == 1 else ("<", ">")
    fid = complex_pairs(read_values(path, order + NUMPY_TYPES[data_type], count=min(td, stored)))
    # read in the other byte order only to say so when that is what is wrong
    swapped = complex_pairs(read_values(path, other + NUMPY_TYPES[data_type], count=min(td, stored)))
    check_fid_signal(fid, "fid", swapped, f"BYTORDA={byte_order} ({BYTE_ORDERS[byte_order]})")
    return fid


def _processed(pdata: Path, experiment: Path, source: str, warnings: list[str]) -> NMRData:
    procs = parameters(pdata / "procs")
    acqus_path = experiment / "acqus"
    acqus = parameters(acqus_path) if acqus_path.is_file() else Parameters({}, "acqus")
    nucleus = normalise_nucleus(acqus.text("NUC1") or procs.text("AXNUC"))
    require_supported(nucleus)
    sf = procs.number("SF", required=True, positive=True)
    sw_p = procs.number("SW_p", required=True, positive=True)
    offset = procs.number("OFFSET", required=True)
    si = procs.number("SI", positive=True, whole=True)
    scale = procs.number("NC_proc", 0.0)
    byte_order = procs.choice("BYTORDP", BYTE_ORDERS, 0)
    data_type = procs.choice("DTYPP", DATA_TYPES, 0)
    path = pdata / "1r"
    item = np.dtype(NUMPY_TYPES[data_type]).itemsize
    size = path.stat().st_size
    if size == 0:
        raise InputError("1r is empty (0 bytes)")
    stored = size // item
    if si is not None and stored != si:
        warnings.append(f"1r holds {stored} points but procs SI says {si}; read as it is")
    spectrum = read_values(path, (">" if byte_order == 1 else "<") + NUMPY_TYPES[data_type]) * 2.0**scale
    ppm = offset - np.arange(spectrum.size) * (sw_p / sf) / spectrum.size
    return NMRData(
        source_path=source,
        format="bruker-processed",
        nucleus=nucleus,
        spectrometer_mhz=sf,
        sweep_width_hz=sw_p,
        spectrum=spectrum,
        ppm=ppm,
        first_phase_deg=(procs.number("PHC0", 0.0), procs.number("PHC1", 0.0)),
        solvent=acqus.text("SOLVENT"),
        temperature_k=acqus.number("TE"),
        pulse_program=acqus.text("PULPROG"),
        acquisition_date=_date(acqus),
        metadata={"reader_warnings": warnings, "pdata": pdata.name, "nc_proc": procs.values.get("NC_proc")},
    )


def read_zip(path: Path) -> NMRData:
    """Extract safely (no member outside the target, bounded size), then read."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable zip archive ({exc})", path) from exc
    with archive, tempfile.TemporaryDirectory(prefix="specqc-zip-") as temporary:
        target = Path(temporary).resolve()
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and "__MACOSX" not in m.filename and not m.filename.endswith(".DS_Store")
        ]
        if len(members) > MAX_ZIP_MEMBERS:
            raise InputError(f"zip archive has more than {MAX_ZIP_MEMBERS} files", path)
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise InputError(f"zip archive unpacks to more than {MAX_ZIP_BYTES // 2**20} MiB", path)
        for member in members:
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target):
                raise InputError(f"zip member {member.filename!r} points outside the archive", path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        candidates = [p.parent for p in target.rglob("acqus")]
        experiments = sorted({c for c in candidates if is_experiment(c)})
        if not experiments:
            raise InputError("zip archive holds no Bruker experiment", path)
        if len(experiments) > 1:
            names = ", ".join(str(e.relative_to(target)) for e in experiments)
            raise InputError(f"zip archive holds several Bruker experiments ({names})", path)
        try:
            return _read_folder(experiments[0], str(path))
        except SpecqcError as exc:
            raise with_path(exc, path) from exc
