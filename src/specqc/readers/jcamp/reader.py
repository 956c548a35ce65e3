"""JCAMP-DX 1D NMR (spectra as XYDATA or NTUPLES real/imaginary, FIDs) via nmrglue."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import NMRData
from ..nmr_common import bruker_group_delay, library_read, normalise_nucleus, parse_number, require_supported


def _first(dic: dict, *keys: str) -> str:
    normalised = {re.sub(r"[\s_\-/]", "", k).upper(): v for k, v in dic.items()}
    for key in keys:
        value = normalised.get(re.sub(r"[\s_\-/]", "", key).upper())
        if value:
            return str(value[0]).strip()
    return ""


def _columns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


LABEL = re.compile(r"^[ \t]*##([^=]*)=(.*)$")
# Labels whose value must be one number where they appear (normalised: no spaces, -, / or _; upper case)
NUMERIC_LABELS = ("NPOINTS", "FIRSTX", "LASTX", "DELTAX", "XFACTOR", "YFACTOR", "FIRSTY", ".OBSERVEFREQUENCY")
DATA_LABELS = ("XYDATA", "DATATABLE", "XYPOINTS", "PEAKTABLE")
# What a line of data may hold: AFFN numbers and the ASDF compression characters (SQZ, DIF, DUP), '?' for a
# missing value, and the separators of XYPOINTS / PEAK TABLE
NOT_DATA = re.compile(r"[^0-9\s+\-.,;:Ee@A-Ia-i%J-Rj-rS-Zs?]")


def _normalised(label: str) -> str:
    return re.sub(r"[\s_\-/]", "", label).upper()


def check_labels(path: Path) -> dict[str, str]:
    """Refuse what is not a complete JCAMP-DX file before nmrglue parses it (nmrglue reads a cut-off or
    garbled file as one that merely lacks its labels). Returns the first value of each label."""
    raw = path.read_bytes()
    if b"\x00" in raw[:65536]:
        raise InputError("not a JCAMP-DX file (binary content, not text)")
    labels: dict[str, str] = {}
    spelled: dict[str, str] = {}  # each label as the file writes it, for messages
    last = None
    in_data = False
    for number, line in enumerate(raw.decode("latin-1").splitlines(), 1):
        match = LABEL.match(line)
        if match:
            name, value = _normalised(match.group(1)), match.group(2).split("$$")[0].strip()
            if last is None and name != "TITLE":
                raise InputError(f"not a JCAMP-DX file (its first label is ##{match.group(1).strip()}=, not ##TITLE=)")
            labels.setdefault(name, value)
            spelled.setdefault(name, match.group(1).strip())
            last = name
            in_data = name in DATA_LABELS
            continue
        if last is None:
            if line.strip() and not line.lstrip().startswith("$$"):
                raise InputError("not a JCAMP-DX file (it does not begin with ##TITLE=)")
            continue
        if in_data and (bad := NOT_DATA.search(line.split("$$")[0])):
            raise InputError(
                f"line {number}: {bad.group(0)!r} in the data is neither a digit nor a JCAMP-DX compression character"
            )
    if last is None:
        raise InputError("not a JCAMP-DX file (no ##TITLE= label)")
    if last != "END":
        raise InputError("the file ends before its closing ##END= label (file cut short?)")
    if not any(name in labels for name in DATA_LABELS):
        raise InputError("the file holds no data (no ##XYDATA=, ##DATA TABLE=, ##XYPOINTS= or ##PEAK TABLE=)")
    if "DATATYPE" not in labels:
        raise InputError("no ##DATA TYPE= label: the file does not say whether it holds a spectrum or an FID")
    for name in NUMERIC_LABELS:
        if name in labels and parse_number(labels[name]) is None:
            raise InputError(f"##{spelled[name]}=: {labels[name]!r} is not a number")
    return labels


def _declared_points(labels: dict[str, str]) -> int | None:
    """Points per array the header declares: NPOINTS, or (NTUPLES) the first dependent VAR_DIM."""
    npoints = parse_number(labels.get("NPOINTS"))
    if npoints is not None:
        return round(npoints)
    dims = [parse_number(v) for v in _columns(labels.get("VARDIM", ""))]
    return round(dims[1]) if len(dims) > 1 and dims[1] is not None else None


def _check_points(labels: dict[str, str], data, warnings: list[str]) -> None:
    declared = _declared_points(labels)
    arrays = data if isinstance(data, list) else [data]
    held = {np.size(a) for a in arrays}
    if len(held) > 1:
        raise InputError(f"the real and imaginary parts hold different numbers of points ({sorted(held)})")
    held_points = held.pop()
    if declared is not None and declared != held_points:
        label = "NPOINTS" if "NPOINTS" in labels else "VAR_DIM"
        warnings.append(f"##{label}= says {declared} points, the data holds {held_points}; read as it is")


def read(path: Path) -> NMRData:
    import nmrglue as ng

    path = Path(path)
    warnings: list[str] = []
    try:
        labels = check_labels(path)
        dic, data = library_read("not a readable JCAMP-DX file", ng.jcampdx.read, str(path), warnings=warnings)
        datatype = _first(dic, "DATATYPE", "DATA TYPE").upper()
        if "NMR" not in datatype:
            raise InputError(f"JCAMP-DX data type {datatype!r} is not an NMR spectrum or FID")
        if "2D" in datatype or _first(dic, "NUMDIM") not in ("", "1"):
            raise InputError("2D NMR data is not supported yet (only 1D 1H)")
        nucleus = normalise_nucleus(_first(dic, ".OBSERVENUCLEUS", "$AXNUC", "$NUC1"))
        require_supported(nucleus)
        sf = parse_number(_first(dic, ".OBSERVEFREQUENCY", "$SF", "$BF1"))
        if not sf or sf <= 0:
            raise InputError("the file gives no spectrometer frequency (##.OBSERVE FREQUENCY=)")
        _check_points(labels, data, warnings)
        solvent = _first(dic, ".SOLVENTNAME", "$SOLVENT").strip("<>")
        common = dict(
            source_path=str(path),
            format="jcamp",
            nucleus=nucleus,
            solvent=solvent,
            temperature_k=parse_number(_first(dic, ".TEMPERATURE", "$TE")),
            pulse_program=_first(dic, ".PULSESEQUENCE", "$PULPROG").strip("<>"),
            acquisition_date=_first(dic, "LONGDATE", "DATE", "$DATE"),
            metadata={"reader_warnings": warnings, "title": _first(dic, "TITLE")},
        )
        if "FID" in datatype:
            return _fid(dic, data, sf, common)
        return _spectrum(dic, data, sf, common)
    except SpecqcError as exc:
        raise with_path(exc, path) from exc


def _x_range(dic: dict, size: int) -> tuple[float, float, str]:
    first, last = parse_number(_first(dic, "FIRSTX")), parse_number(_first(dic, "LASTX"))
    unit = _first(dic, "XUNITS").upper()
    if first is None or last is None:
        firsts, lasts = _columns(_first(dic, "FIRST")), _columns(_first(dic, "LAST"))
        units = _columns(_first(dic, "UNITS"))
        first, last = parse_number(firsts[0]) if firsts else None, parse_number(lasts[0]) if lasts else None
        unit = units[0].upper() if units else unit
    if first is None or last is None:
        raise InputError("JCAMP-DX file gives no x range (FIRSTX/LASTX or FIRST/LAST)")
    return first, last, unit


def _spectrum(dic: dict, data, sf: float, common: dict) -> NMRData:
    real = np.asarray(data[0] if isinstance(data, list) else data, dtype=np.float64)
    if real.ndim != 1 or real.size < 16:
        raise InputError(f"JCAMP-DX spectrum has an unusable shape {real.shape}")
    first, last, unit = _x_range(dic, real.size)
    x = np.linspace(first, last, real.size)
    if unit.startswith("PPM"):
        ppm = x
    else:  # Hz: place the axis with .SHIFT REFERENCE (point, ppm), else $OFFSET, else x/SF
        ppm = x / sf
        reference = _columns(_first(dic, ".SHIFTREFERENCE").strip("()"))
        # (solvent, nucleus, point, ppm): the point's ppm places the axis
        reference_point, reference_ppm = (
            (parse_number(reference[2]), parse_number(reference[3])) if len(reference) >= 4 else (None, None)
        )
        offset = parse_number(_first(dic, "$OFFSET"))
        if reference_point is not None and reference_ppm is not None:
            point = max(int(reference_point) - 1, 0)  # 1-based; some writers put 0 for the first
            point = min(point, real.size - 1)
            ppm = reference_ppm + (x - x[point]) / sf
        elif offset is not None:
            ppm = offset + (x - x[0]) / sf
    return NMRData(
        spectrometer_mhz=sf,
        sweep_width_hz=abs(last - first) * (sf if unit.startswith("PPM") else 1),
        spectrum=real,
        ppm=ppm,
        first_phase_deg=(0.0, 0.0),
        **common,
    )


def _fid(dic: dict, data, sf: float, common: dict) -> NMRData:
    if not isinstance(data, list) or len(data) < 2:
        raise InputError("JCAMP-DX FID lacks real and imaginary parts")
    fid = np.asarray(data[0], dtype=np.float64) + 1j * np.asarray(data[1], dtype=np.float64)
    first, last, _unit = _x_range(dic, fid.size)
    sw_ppm = parse_number(_first(dic, "$SW"))
    sweep_hz = sw_ppm * sf if sw_ppm else (fid.size - 1) / abs(last - first)
    offset = parse_number(_first(dic, "$OFFSET"))
    carrier = offset - (sweep_hz / sf) / 2.0 if offset is not None else parse_number(_first(dic, "$O1P")) or 0.0
    # a Bruker export keeps the digital filter's delay in the FID
    delay = bruker_group_delay({key: _first(dic, f"${key}") for key in ("GRPDLY", "DECIM", "DSPFVS")})
    return NMRData(
        spectrometer_mhz=sf, sweep_width_hz=sweep_hz, fid=fid, carrier_ppm=carrier, group_delay_points=delay, **common
    )
