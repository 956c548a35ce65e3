"""The deuterated-solvent / impurity shift table (Fulmer 2010), loaded once."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ReferenceDataError
from ..reference import read_data_file

UNRESOLVED_WIDTH_HZ = 20.0
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

    @property
    def width_hz(self) -> float:
        """Spread of an unresolved multiplet (the table gives none; this is typical
        of the CH2 envelopes of THF or hexanes at 400 MHz)."""
        return UNRESOLVED_WIDTH_HZ if self.multiplicity == "m" else 0.0


@lru_cache(maxsize=1)
def shift_table() -> tuple[tuple[ShiftEntry, ...], str]:
    data = read_data_file("nmr_solvents.csv")
    entries = []
    for line_no, row in enumerate(csv.DictReader(io.StringIO(data.body)), start=2):
        try:
            entry = ShiftEntry(
                row["solvent"],
                row["compound"],
                row["group"],
                float(row["shift_ppm"]),
                row["multiplicity"],
                int(row["protons"]),
                float(row["j_hz"]),
            )
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
    return [e for e in shift_table()[0] if e.solvent == solvent and (compound is None or e.compound == compound)]


@dataclass(frozen=True)
class SolventLimit:
    compound: str
    molar_mass: float
    ich_class: str  # "1", "2", "3" or "" (no ICH limit)
    limit_ppm: float | None


@lru_cache(maxsize=1)
def ich_limits() -> tuple[dict[str, SolventLimit], str]:
    """ICH Q3C class, concentration limit and molar mass per compound of the shift table."""
    from ..chem.species import mol_from_smiles

    from rdkit.Chem import Descriptors

    data = read_data_file("ich_q3c.csv")
    limits = {}
    for line_no, row in enumerate(csv.DictReader(io.StringIO(data.body)), start=2):
        where = f"data/ich_q3c.csv row {line_no}"
        try:
            mol = mol_from_smiles(row["smiles"], where)
            limit = float(row["limit_ppm"]) if row["limit_ppm"].strip() else None
        except Exception as exc:
            raise ReferenceDataError(f"{where}: {exc}") from exc
        if row["ich_class"] not in ("", "1", "2", "3") or (limit is not None and limit <= 0):
            raise ReferenceDataError(f"{where}: bad ICH class or limit")
        # rdkit's stubs leave out the descriptors it sets up at import
        molar_mass = Descriptors.MolWt(mol)  # type: ignore[attr-defined]
        limits[row["compound"]] = SolventLimit(row["compound"], molar_mass, row["ich_class"], limit)
    unknown = {e.compound for e in shift_table()[0]} - set(limits) - {"residual", "tms", "dss"}
    if unknown:
        raise ReferenceDataError(f"data/ich_q3c.csv: no row for {', '.join(sorted(unknown))}")
    return limits, data.version
