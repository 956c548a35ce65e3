"""Helpers shared by the NMR readers."""

from __future__ import annotations

import contextlib
import math
import re
import warnings

from ..errors import InputError

SUPPORTED_NUCLEI = ("1H",)


def normalise_nucleus(text: str) -> str:
    """'1H', 'H1', '<1H>', 'H', '^1H' -> '1H'; '13C', 'C13' -> '13C'."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", text or "")
    match = re.fullmatch(r"(\d*)([A-Za-z]{1,2})(\d*)", cleaned)
    if not match:
        return cleaned
    mass = match.group(1) or match.group(3)
    element = match.group(2).capitalize()
    if not mass and element == "H":
        mass = "1"
    return f"{mass}{element}"


def require_supported(nucleus: str, dimensions: int = 1) -> None:
    if dimensions != 1:
        raise InputError(f"{dimensions}D NMR data is not supported yet (only 1D 1H)")
    if nucleus not in SUPPORTED_NUCLEI:
        raise InputError(f"{nucleus or 'unknown'} NMR is not supported yet (only 1D 1H)")


@contextlib.contextmanager
def quiet_library_warnings(sink: list[str]):
    """nmrglue reports recoverable oddities as Python warnings: keep them for the report."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    # an unclosed file inside the library is its housekeeping, not a fact about the data
    sink.extend(" ".join(str(w.message).split()) for w in caught if not issubclass(w.category, ResourceWarning))


def library_read(description: str, reader, *args, warnings: list[str], **kwargs):
    """Call an nmrglue reader; its warnings go to ``warnings`` and any failure
    becomes an InputError that says what could not be read."""
    try:
        with quiet_library_warnings(warnings):
            return reader(*args, **kwargs)
    except Exception as exc:  # nmrglue raises many kinds on malformed files
        raise InputError(f"{description} ({' '.join(str(exc).split())[:160]})") from exc


def bruker_group_delay(acqus: dict) -> float:
    """How many points a Bruker digital filter delays the FID by: GRPDLY where
    the file gives it, else nmrglue's table for older firmware (DSPFVS < 14),
    else none (data recorded without a digital filter)."""
    from nmrglue.fileio.bruker import bruker_dsp_table

    grpdly = parse_number(acqus.get("GRPDLY"))
    if grpdly is not None and grpdly > 0:
        return grpdly
    decim, dspfvs = parse_number(acqus.get("DECIM")), parse_number(acqus.get("DSPFVS"))
    if decim is None or dspfvs is None or dspfvs >= 14:
        return 0.0
    try:
        return float(bruker_dsp_table[dspfvs][decim])  # (2.0 finds the key 2)
    except KeyError:
        raise InputError(f"digital filter DECIM {decim:g} / DSPFVS {dspfvs:g} is not in nmrglue's table") from None


def parse_number(value) -> float | None:
    """A header value as a finite number, else None (JCAMP may wrap it in parentheses)."""
    if isinstance(value, str):
        value = value.strip().strip("()")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
