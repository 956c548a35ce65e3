"""Varian/Agilent .fid folders → NMRData (raw FID; int32 or float32 storage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import NMRData
from ..nmr_common import library_read, normalise_nucleus, require_supported


def _value(procpar: dict, key: str, default=None):
    entry = procpar.get(key)
    if not entry or not entry.get("values"):
        return default
    return entry["values"][0]


def _number(procpar: dict, key: str, default: float | None = None) -> float | None:
    try:
        return float(_value(procpar, key))
    except (TypeError, ValueError):
        return default


def read(path: Path) -> NMRData:
    import nmrglue as ng

    path = Path(path)
    warnings: list[str] = []
    try:
        dic, data = library_read("cannot read Varian data", ng.varian.read, str(path), warnings=warnings)
        procpar = dic.get("procpar", {})
        nucleus = normalise_nucleus(str(_value(procpar, "tn", "")))
        data = np.asarray(data)
        if data.ndim == 2 and data.shape[0] == 1:
            data = data[0]
        require_supported(nucleus, data.ndim)
        sfrq = _number(procpar, "sfrq")
        reffrq = _number(procpar, "reffrq") or sfrq
        sw = _number(procpar, "sw")
        rfl, rfp = _number(procpar, "rfl", 0.0), _number(procpar, "rfp", 0.0)
        if not sfrq or not sw:
            raise InputError("procpar lacks sfrq or sw")
        # Referencing as VnmrJ does it: the point rfl Hz from the right edge is rfp Hz.
        # The window centre therefore sits at (sw/2 - rfl + rfp) Hz on the reference scale.
        carrier_ppm = (sw / 2.0 - rfl + rfp) / reffrq
        temperature = _number(procpar, "temp")
        return NMRData(
            source_path=str(path), format="varian", nucleus=nucleus, spectrometer_mhz=reffrq,
            sweep_width_hz=sw, fid=data, carrier_ppm=carrier_ppm,
            solvent=str(_value(procpar, "solvent", "")),
            temperature_k=None if temperature is None else temperature + 273.15,
            pulse_program=str(_value(procpar, "seqfil", "")),
            acquisition_date=str(_value(procpar, "date", "") or _value(procpar, "time_run", "") or ""),
            metadata={"reader_warnings": warnings},
        )
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
