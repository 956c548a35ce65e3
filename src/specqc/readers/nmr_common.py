"""Helpers shared by the NMR readers."""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from pathlib import Path
from typing import Literal, overload

import numpy as np

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
    """Call a library's reader; its warnings go to ``warnings`` and any failure
    becomes an InputError that says what could not be read (the library's own
    words name its internals, not the file's problem, so they are left out)."""
    try:
        with quiet_library_warnings(warnings):
            return reader(*args, **kwargs)
    except MemoryError:
        raise  # the memory bound's to report
    except Exception as exc:  # libraries raise many kinds on malformed files
        raise InputError(description) from exc


class Parameters:
    """Named parameters of one vendor file (Bruker acqus/procs, Varian procpar, JCAMP labels):
    a value that is there must be what it claims to be, and the message names the file and the field."""

    def __init__(self, values: dict, source: str):
        self.values = values
        self.source = source

    def _raw(self, key: str):
        value = self.values.get(key)
        if isinstance(value, str):
            value = value.strip()
        return None if value in (None, "") else value

    def text(self, key: str, default: str = "") -> str:
        value = self._raw(key)
        return default if value is None else str(value).strip("<>")

    # with a default, or `required`, there is always a number
    @overload
    def number(
        self, key: str, default: float, *, required: bool = False, positive: bool = False, whole: bool = False
    ) -> float: ...

    @overload
    def number(
        self, key: str, default: None = None, *, required: Literal[True], positive: bool = False, whole: bool = False
    ) -> float: ...

    @overload
    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        required: bool = False,
        positive: bool = False,
        whole: bool = False,
    ) -> float | None: ...

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        required: bool = False,
        positive: bool = False,
        whole: bool = False,
    ) -> float | None:
        value = self._raw(key)
        if value is None:
            if required:
                raise InputError(f"{self.source}: {key} is missing")
            return default
        number = parse_number(value)
        if number is None:
            raise InputError(f"{self.source}: {key}: {value!r} is not a number")
        if whole and number != int(number):
            raise InputError(f"{self.source}: {key}: {value!r} is not a whole number")
        if positive and number <= 0:
            raise InputError(f"{self.source}: {key}: {value!r} is not a positive number")
        return int(number) if whole else number

    def choice(self, key: str, allowed: dict, default):
        """A coded parameter (byte order, data type): one of ``allowed``'s keys."""
        value = self.number(key, default, whole=True)
        if value not in allowed:
            codes = ", ".join(f"{code} ({meaning})" for code, meaning in allowed.items())
            raise InputError(f"{self.source}: {key}: {self.values.get(key)!r} is not one of {codes}")
        return value


# A recorded FID rises to its strongest in the first points and decays into noise:
# on every real and simulated 1H FID here, the strongest of the first eighth is
# 56-8700 times the RMS of the last quarter; random numbers, or data read with
# the wrong byte order, give 1.7-4.
MIN_DECAY_RATIO = 8.0
MIN_FID_POINTS = 16


def decay_ratio(fid: np.ndarray) -> float:
    """Strongest of the first eighth over the RMS of the last quarter (inf for a silent tail)."""
    magnitude = np.abs(fid)
    head = float(magnitude[: max(magnitude.size // 8, 8)].max())
    tail = float(np.sqrt(np.mean(magnitude[-max(magnitude.size // 4, 4) :] ** 2)))
    return head / tail if tail > 0 else (math.inf if head > 0 else 0.0)


def check_fid_signal(
    fid: np.ndarray, name: str, other_byte_order: np.ndarray | None = None, byte_order_field: str = ""
) -> None:
    """Refuse an FID that cannot be a recording: too short, not finite, all zeros, or no decay at all.
    ``other_byte_order`` is the same data read in the other byte order, to say when that is what is wrong."""
    if fid.size < MIN_FID_POINTS:
        raise InputError(f"{name} holds {fid.size} complex points, too few for a spectrum (file cut short?)")
    if _decays(fid):
        return
    with np.errstate(all="ignore"):
        finite = np.isfinite(fid)
    # a recording with a few damaged values, rather than numbers read the wrong way round
    if not finite.all() and _decays(np.where(finite, fid, 0)):
        raise InputError(f"{name} contains NaN or infinite values")
    if other_byte_order is not None and _decays(other_byte_order):
        raise InputError(
            f"{name} decays like an FID only when read in the other byte order: {byte_order_field} is wrong"
        )
    if not finite.all():
        raise InputError(f"{name} contains NaN or infinite values")
    if not np.any(fid):
        raise InputError(f"{name} holds only zeros: no signal was recorded")
    raise InputError(
        f"{name} holds no decaying signal (its first points are no stronger than its last): "
        "random data, or read with the wrong byte order or data type?"
    )


def _decays(fid: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.isfinite(fid).all()) and decay_ratio(fid) >= MIN_DECAY_RATIO


def read_values(path: Path, dtype: str, offset: int = 0, count: int = -1) -> np.ndarray:
    """Numbers from a binary data file as float64, never more than the file holds."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            values = np.fromfile(handle, dtype=np.dtype(dtype), count=count)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    with np.errstate(all="ignore"):  # NaN patterns of damaged float data are the checks' to report
        return values.astype(np.float64)


def complex_pairs(values: np.ndarray) -> np.ndarray:
    """Interleaved real, imaginary values as complex points (an odd last value is dropped)."""
    usable = values[: values.size - values.size % 2]
    return usable[0::2] + 1j * usable[1::2]


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
