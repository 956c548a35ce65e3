"""The deuterated-solvent / impurity shift table (Fulmer 2010), loaded once."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ReferenceDataError
from ..reference import read_data_file

MULTIPLICITIES = {"s": 1, "d": 2, "t": 3, "q": 4, "quint": 5, "m": 0}


@dataclass(frozen=True)
class ShiftEntry:
    solvent: str
    compound: str
    group: str
    shift_ppm: float
    multiplicity: str
    protons: int
    j_hz: float


@lru_cache(maxsize=1)
def shift_table() -> tuple[tuple[ShiftEntry, ...], str]:
    data = read_data_file("nmr_solvents.csv")
    entries = []
    for line_no, row in enumerate(csv.DictReader(io.StringIO(data.body)), start=2):
        try:
            entry = ShiftEntry(row["solvent"], row["compound"], row["group"], float(row["shift_ppm"]),
                               row["multiplicity"], int(row["protons"]), float(row["j_hz"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ReferenceDataError(f"data/nmr_solvents.csv row {line_no}: {exc}") from exc
        if entry.multiplicity not in MULTIPLICITIES or entry.protons < 1:
            raise ReferenceDataError(f"data/nmr_solvents.csv row {line_no}: bad multiplicity or protons")
        entries.append(entry)
    return tuple(entries), data.version


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    data = read_data_file("solvent_aliases.csv")
    return {row["alias"]: row["solvent"] for row in csv.DictReader(io.StringIO(data.body))}


def canonical_solvent(name: str) -> str | None:
    """Instrument solvent string -> table id (CDCl3, DMSO-d6, D2O, CD3OD, acetone-d6) or None."""
    key = re.sub(r"[^0-9a-z]", "", (name or "").lower())
    return _aliases().get(key)


def entries_for(solvent: str, compound: str | None = None) -> list[ShiftEntry]:
    return [e for e in shift_table()[0]
            if e.solvent == solvent and (compound is None or e.compound == compound)]
