"""Varian/Agilent .fid folders → NMRData (raw FID; int16, int32 or float32 storage).

The fid file is read here, not by nmrglue: its 32-byte header declares how many
blocks, traces and points follow and how each is stored, and those declarations
are checked against each other and against the file's real size before any
data is read. nmrglue parses procpar.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import NMRData
from ..nmr_common import Parameters, check_fid_signal, complex_pairs, normalise_nucleus, read_values, require_supported

FILE_HEADER = struct.Struct(">6i2hi")  # nblocks, ntraces, np, ebytes, tbytes, bbytes, vers_id, status, nbheaders
BLOCK_HEADER_BYTES = 28
S_32, S_FLOAT = 0x4, 0x8  # status bits: 32-bit integers, floats (else 16-bit integers)


def procpar(path: Path) -> Parameters:
    """procpar as named first values, refused when unreadable."""
    import nmrglue as ng

    try:
        if path.stat().st_size == 0:
            raise InputError("procpar is empty")
        entries = ng.varian.read_procpar(str(path))
    except OSError as exc:
        raise InputError(f"procpar: cannot read ({exc.strerror or exc})") from exc
    except MemoryError:
        raise
    except InputError:
        raise
    except Exception as exc:  # nmrglue's parser on binary or garbled content
        raise InputError("procpar is not a readable Varian parameter file") from exc
    values = {}
    for name, entry in entries.items():
        first = (entry.get("values") or [None])[0] if isinstance(entry, dict) else None
        values[name] = first.strip().strip('"') if isinstance(first, str) else first
    if not values:
        raise InputError("procpar holds no parameters")
    return Parameters(values, "procpar")


def _fid(path: Path, warnings: list[str]) -> np.ndarray:
    """The one FID of a 1D experiment, as its file header declares it and no more than the file holds."""
    size = path.stat().st_size
    if size == 0:
        raise InputError("fid is empty (0 bytes)")
    if size < FILE_HEADER.size:
        raise InputError(f"fid: {size} bytes, shorter than its {FILE_HEADER.size}-byte file header")
    with path.open("rb") as handle:
        nblocks, ntraces, points, ebytes, tbytes, bbytes, _version, status, nbheaders = FILE_HEADER.unpack(
            handle.read(FILE_HEADER.size)
        )
    dtype = ">f4" if status & S_FLOAT else (">i4" if status & S_32 else ">i2")
    header = f"fid header: nblocks {nblocks}, ntraces {ntraces}, np {points}, ebytes {ebytes}, tbytes {tbytes}"
    if nblocks < 1 or ntraces < 1 or points < 2 or nbheaders < 0:
        raise InputError(f"{header}: not the header of a recorded FID")
    if ebytes != np.dtype(dtype).itemsize:
        raise InputError(
            f"fid header: ebytes is {ebytes} but its status ({status:#x}) says "
            f"{8 * np.dtype(dtype).itemsize}-bit values"
        )
    if tbytes != points * ebytes or bbytes != ntraces * tbytes + nbheaders * BLOCK_HEADER_BYTES:
        raise InputError(f"{header}, bbytes {bbytes}: the sizes contradict each other")
    if nblocks * ntraces > 1:
        raise InputError(f"fid holds {nblocks * ntraces} FIDs (an arrayed or 2D experiment): only 1D is supported")
    declared = FILE_HEADER.size + nblocks * bbytes
    start = FILE_HEADER.size + nbheaders * BLOCK_HEADER_BYTES
    stored = max(size - start, 0) // ebytes
    if size < declared:
        warnings.append(
            f"fid holds {stored // 2} complex points but its header declares {points // 2} "
            "(file cut short?); read as it is"
        )
    elif size > declared:
        warnings.append(f"fid is {size} bytes, {size - declared} more than its header declares; they were left out")
    count = min(points, stored)
    fid = complex_pairs(read_values(path, dtype, offset=start, count=count))
    swapped = complex_pairs(read_values(path, "<" + dtype[1:], offset=start, count=count))
    check_fid_signal(fid, "fid", swapped, "the fid (Varian data are big-endian)")
    return fid


def read(path: Path) -> NMRData:
    path = Path(path)
    warnings: list[str] = []
    try:
        parameters = procpar(path / "procpar")
        nucleus = normalise_nucleus(parameters.text("tn"))
        require_supported(nucleus)
        sfrq = parameters.number("sfrq", required=True, positive=True)
        reffrq = parameters.number("reffrq", positive=True) or sfrq
        sw = parameters.number("sw", required=True, positive=True)
        rfl, rfp = parameters.number("rfl", 0.0), parameters.number("rfp", 0.0)
        temperature = parameters.number("temp")
        fid = _fid(path / "fid", warnings)
        # Referencing as VnmrJ does it: the point rfl Hz from the right edge is rfp Hz.
        # The window centre therefore sits at (sw/2 - rfl + rfp) Hz on the reference scale.
        carrier_ppm = (sw / 2.0 - rfl + rfp) / reffrq
        return NMRData(
            source_path=str(path),
            format="varian",
            nucleus=nucleus,
            spectrometer_mhz=reffrq,
            sweep_width_hz=sw,
            fid=fid,
            carrier_ppm=carrier_ppm,
            solvent=parameters.text("solvent"),
            temperature_k=None if temperature is None else temperature + 273.15,
            pulse_program=parameters.text("seqfil"),
            acquisition_date=parameters.text("date") or parameters.text("time_run"),
            metadata={"reader_warnings": warnings},
        )
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
