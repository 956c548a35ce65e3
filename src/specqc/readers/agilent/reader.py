"""Agilent .D folder → LCMSRun.

ChemStation single-quad files (.MS) are binned at 0.1 Da (the quadrupole's
own step), not rainbow's default 1 Da, so isotope and adduct spacing survive.
MassHunter Q-TOF profile data (AcqData/MSProfile.bin) is read scan by scan
with its calibrated m/z axis.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import cast

from ...errors import InputError, SpecqcError, with_path
from ...model import InstrumentInfo, LCMSRun, Polarity
from .layout import is_detector_file
from ..rainbow_run import ms_spectra, optical_channels, profile_spectra, read_directory
from ..xmlsafe import refuse_xml_declarations

SINGLE_QUAD_BIN_DA = 0.1


def _text(path: Path) -> str:
    """Agilent writes its text reports in UTF-16 or in a single-byte code page."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("latin-1")


def chemstation_polarity(folder: Path) -> Polarity:
    """The acquisition method report (ACQ.M/ACQ.TXT, or acq.txt beside the data)
    states the polarity of each MSD signal. MSPARMS.txt is no help: it lists the
    tune values of both polarities whatever was acquired."""
    found: set[str] = set()
    for report in (folder / "ACQ.M" / "ACQ.TXT", folder / "acq.txt", folder / "ACQ.TXT"):
        if report.is_file():
            found.update(
                m.lower()
                for m in re.findall(
                    r"^\s*Polarity\s*:\s*(Positive|Negative)", _text(report), flags=re.MULTILINE | re.IGNORECASE
                )
            )
            break
    return cast(Polarity, found.pop()) if len(found) == 1 else "unknown"  # "positive" or "negative"


# ChemStation channel (.ch) formats whose data is a delta-encoded stream: where it starts
CH_DELTA_STREAMS = {"30": 0x400, "130": 0x1800}
MS_SIGNATURE = 0x01320000  # a complete .MS file; a run still being written has none yet


def _version(raw: bytes) -> str:
    return raw[1 : 1 + raw[0]].decode("latin-1") if raw else ""


def ch_problem(raw: bytes) -> str | None:
    """Why a ChemStation .ch channel cannot be read as it is, or None.

    rainbow spreads the points it finds over the time range the header states, so
    a stream cut short would be stretched silently: it is walked here, segment by
    segment, to its end mark."""
    start = CH_DELTA_STREAMS.get(_version(raw))
    if start is None:
        return None
    position, points, size = start, 0, len(raw)
    while position < size:
        if raw[position] != 0x10:
            return None  # the end mark: complete
        count, position = (raw[position + 1] if position + 1 < size else 0), position + 2
        for _ in range(count):
            position += 6 if raw[position : position + 2] == b"\x80\x00" else 2  # 0x8000: a 4-byte absolute value
            if position > size:
                break
            points += 1
    return (
        f"its data ends after {points} points without the end mark (file cut short?); read as it is, its "
        "points would be spread over the whole time range the header states"
    )


def ms_problem(raw: bytes) -> str | None:
    """Why a ChemStation .MS file cannot be read, or None: the scans its header declares against the scans
    the file holds."""
    if len(raw) < 0x11A or struct.unpack(">I", raw[:4])[0] != MS_SIGNATURE:
        return None
    declared = struct.unpack(">I", raw[0x116:0x11A])[0]
    position = struct.unpack(">H", raw[0x10A:0x10C])[0] * 2 - 2
    held = 0
    while held < declared:
        if position + 14 > len(raw):
            break
        pairs = struct.unpack(">H", raw[position + 12 : position + 14])[0]
        position += 14 + 4 + 4 * pairs + 10
        if position > len(raw):
            break
        held += 1
    if held < declared:
        return f"its header declares {declared} scans, the file holds {held} complete ones (file cut short?)"
    return None


DETECTOR_CHECKS = {".ch": ch_problem, ".ms": ms_problem}


def detector_problem(path: Path) -> str | None:
    """What is wrong with one ChemStation detector file, in specqc's words, or None."""
    check = DETECTOR_CHECKS.get(path.suffix.lower())
    if check is None:
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not raw:
        return "it is empty"
    return check(raw)


def masshunter_scans(acqdata: Path, warnings: list[str]) -> None:
    """Check the MassHunter scan index against the profile file it points into, before rainbow reads them:
    rainbow keeps the scans whose data is complete and drops the rest without a word."""
    from rainbow.agilent import masshunter

    present = {p.name for p in acqdata.iterdir()}
    index = {"MSScan.bin", "MSScan.xsd"}
    if "MSProfile.bin" not in present:
        if index <= present and "MSPeak.bin" not in present:
            raise InputError("AcqData holds a scan index (MSScan.bin) but no MSProfile.bin with the scans")
        return
    if not index <= present:
        missing = " and ".join(sorted(index - present))
        raise InputError(f"AcqData/{missing} missing: the scans in MSProfile.bin cannot be found without it")
    try:
        declared = masshunter.count_scans(str(acqdata))
        records = masshunter.read_scan_records(
            str(acqdata / "MSScan.bin"), masshunter.parse_scan_xsd(str(acqdata / "MSScan.xsd")), declared
        )
        ends = [r["SpectrumParamValues"]["SpectrumOffset"] + r["SpectrumParamValues"]["ByteCount"] for r in records]
    except MemoryError:
        raise
    except Exception as exc:  # rainbow's record reader on a damaged index or schema
        raise InputError("AcqData/MSScan.bin or MSScan.xsd is damaged: the scan index cannot be read") from exc
    if not records:
        raise InputError("AcqData/MSScan.bin lists no scans")
    if declared is not None and declared != len(records):
        warnings.append(
            f"AcqData/MSTS.xml says {declared} scans, MSScan.bin lists {len(records)}; "
            "the scans MSScan.bin lists were read"
        )
    size = (acqdata / "MSProfile.bin").stat().st_size
    complete = next((i for i, end in enumerate(ends) if end > size), len(ends))
    if complete == 0:
        raise InputError(
            f"AcqData/MSProfile.bin ({size} bytes) holds none of the {len(records)} scans "
            f"MSScan.bin lists; the first needs {ends[0]} bytes (file cut short?)"
        )
    if complete < len(records):
        warnings.append(
            f"AcqData/MSProfile.bin holds {complete} of the {len(records)} scans MSScan.bin lists "
            f"({size} bytes; the next scan needs {ends[complete]}; file cut short?); "
            f"the {complete} complete scans were read"
        )


def read(path: Path) -> LCMSRun:
    path = Path(path)
    warnings: list[str] = []
    masshunter = (path / "AcqData").is_dir()
    try:
        refuse_xml_declarations(path)
        if masshunter:
            masshunter_scans(path / "AcqData", warnings)
            directory = read_directory(path, warnings, hrms=True)
        else:
            detector_files = tuple(sorted(p.name for p in path.iterdir() if is_detector_file(p)))
            directory = read_directory(
                path,
                warnings,
                detector_files,
                explain=detector_problem,
                bin_width=SINGLE_QUAD_BIN_DA,
                display_precision=1,
            )
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
            vendor="Agilent",
            analyzers=analyzers,
            software="MassHunter" if masshunter else "ChemStation/OpenLab",
        )
        return LCMSRun(
            source_path=str(path),
            format="agilent-d",
            spectra=tuple(spectra),
            chromatograms=tuple(chromatograms),
            diode_arrays=tuple(arrays),
            instrument=instrument,
            acquisition_date=str(metadata.get("date", "")),
            metadata={
                "reader_warnings": warnings,
                "sample": str(metadata.get("sample", "")),
                "method": str(metadata.get("acq_method", "")),
                "detector_files": [d.name for d in directory.datafiles],
                "ms_binning_da": None if masshunter else SINGLE_QUAD_BIN_DA,
            },
        )
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
