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
from ..nmr_common import (bruker_group_delay, library_read, normalise_nucleus, parse_number, quiet_library_warnings,
                          require_supported)

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


def _date(acqus: dict) -> str:
    stamp = acqus.get("DATE")
    try:
        return dt.datetime.fromtimestamp(int(stamp), tz=dt.timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def read(path: Path) -> NMRData:
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return read_zip(path)
    try:
        return _read_folder(path, str(path))
    except SpecqcError as exc:
        raise with_path(exc, path) from exc


def _read_folder(path: Path, source: str) -> NMRData:
    import nmrglue as ng

    folder = resolve(path)
    warnings: list[str] = []
    if is_processed(folder) and not is_experiment(folder):
        return _processed(folder, folder.parent.parent, source, warnings)
    if (folder / "ser").is_file() and not (folder / "fid").is_file():
        raise InputError("2D (ser) Bruker data is not supported yet (only 1D 1H)")
    try:
        with quiet_library_warnings(warnings):
            dic, data = ng.bruker.read(str(folder))
    except Exception as exc:
        if not (folder / "fid").is_file():
            pdata = sorted((folder / "pdata").glob("*/1r"))
            if pdata:
                return _processed(pdata[0].parent, folder, source, warnings)
        raise InputError(f"cannot read Bruker data ({' '.join(str(exc).split())[:160]})") from exc
    acqus = dic.get("acqus", {})
    nucleus = normalise_nucleus(acqus.get("NUC1", ""))
    require_supported(nucleus, np.ndim(data))
    bf1, o1, sw_h = float(acqus.get("BF1", 0)), float(acqus.get("O1", 0)), float(acqus.get("SW_h", 0))
    sf = float(dic.get("procs", {}).get("SF", 0) or 0) or bf1
    return NMRData(
        source_path=source, format="bruker", nucleus=nucleus, spectrometer_mhz=sf, sweep_width_hz=sw_h,
        fid=data, group_delay_points=bruker_group_delay(acqus), carrier_ppm=(o1 + (bf1 - sf) * 1e6) / sf if sf else 0.0,
        solvent=str(acqus.get("SOLVENT", "")), temperature_k=parse_number(acqus.get("TE")),
        pulse_program=str(acqus.get("PULPROG", "")), acquisition_date=_date(acqus),
        metadata={"reader_warnings": warnings, "experiment": folder.name,
                  "group_delay": acqus.get("GRPDLY"), "decim": acqus.get("DECIM"),
                  "dspfvs": acqus.get("DSPFVS")},
    )


def _processed(pdata: Path, experiment: Path, source: str, warnings: list[str]) -> NMRData:
    import nmrglue as ng

    dic, data = library_read("cannot read Bruker processed data", ng.bruker.read_pdata, str(pdata),
                             scale_data=True, warnings=warnings)
    procs = dic.get("procs", {})
    acqus = dic.get("acqus", {}) or _acqus_of(experiment)
    nucleus = normalise_nucleus(acqus.get("NUC1", "") or procs.get("AXNUC", ""))
    require_supported(nucleus, np.ndim(data))
    sf, sw_p, offset = float(procs.get("SF", 0)), float(procs.get("SW_p", 0)), float(procs.get("OFFSET", 0))
    size = data.shape[-1]
    ppm = offset - np.arange(size) * (sw_p / sf) / size
    return NMRData(
        source_path=source, format="bruker-processed", nucleus=nucleus, spectrometer_mhz=sf,
        sweep_width_hz=sw_p, spectrum=np.asarray(data, dtype=np.float64), ppm=ppm,
        first_phase_deg=(parse_number(procs.get("PHC0")) or 0.0, parse_number(procs.get("PHC1")) or 0.0),
        solvent=str(acqus.get("SOLVENT", "")), temperature_k=parse_number(acqus.get("TE")),
        pulse_program=str(acqus.get("PULPROG", "")), acquisition_date=_date(acqus),
        metadata={"reader_warnings": warnings, "pdata": pdata.name, "nc_proc": procs.get("NC_proc")},
    )


def _acqus_of(experiment: Path) -> dict:
    import nmrglue as ng

    try:
        return ng.bruker.read_jcamp(str(experiment / "acqus")) if (experiment / "acqus").is_file() else {}
    except Exception:
        return {}


def read_zip(path: Path) -> NMRData:
    """Extract safely (no member outside the target, bounded size), then read."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable zip archive ({exc})", path) from exc
    with archive, tempfile.TemporaryDirectory(prefix="specqc-zip-") as temporary:
        target = Path(temporary).resolve()
        members = [m for m in archive.infolist() if not m.is_dir()
                   and "__MACOSX" not in m.filename and not m.filename.endswith(".DS_Store")]
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
