"""Reference 1H NMR data of route species (reference_spectra/*.toml), checked
when loaded and loaded once per route."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import ReferenceDataError
from ..reference import parse_header
from .solvents import MULTIPLICITIES, canonical_solvent

SCHEMA = "specqc.reference-spectra/1"
SOURCE_KINDS = ("literature", "prediction", "measurement")
FORMS = ("free base", "hydrochloride")


@dataclass(frozen=True)
class ReferenceSignal:
    group: str
    shift_ppm: float
    multiplicity: str
    protons: int
    j_hz: float = 0.0
    width_hz: float = 0.0
    diagnostic: bool = False
    exchangeable: bool = False


@dataclass(frozen=True)
class ReferenceCompound:
    species: str
    solvent: str
    form: str
    source: str
    signals: tuple[ReferenceSignal, ...]

    @property
    def source_kind(self) -> str:
        return self.source.split(":", 1)[0].strip()

    @property
    def quantifiable(self) -> tuple[ReferenceSignal, ...]:
        return tuple(s for s in self.signals if not s.exchangeable)


@dataclass(frozen=True)
class ReferenceSet:
    route: str
    version: str
    compounds: tuple[ReferenceCompound, ...]

    def for_species(self, species_id: str, solvent: str, form: str) -> ReferenceCompound | None:
        """The entry for the species in that solvent, preferring the expected form."""
        found = [c for c in self.compounds if c.species == species_id and c.solvent == solvent]
        found.sort(key=lambda c: c.form != form)
        return found[0] if found else None


def available_routes() -> list[str]:
    folder = resources.files("specqc.reference_spectra")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


@lru_cache(maxsize=8)
def reference_set(route_id: str, species_ids: frozenset[str]) -> ReferenceSet:
    """The reference data of a route (an empty set when none ships for it)."""
    if route_id not in available_routes():
        return ReferenceSet(route_id, "none", ())
    name = f"reference_spectra/{route_id}.toml"
    text = resources.files("specqc.reference_spectra").joinpath(f"{route_id}.toml").read_text(encoding="utf-8")
    header = parse_header(name, text)
    return parse_reference_set(text, name, header.version, species_ids)


def parse_reference_set(text: str, name: str, version: str, species_ids: frozenset[str]) -> ReferenceSet:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReferenceDataError(f"{name}: not valid TOML ({exc})") from exc
    if document.get("schema") != SCHEMA:
        raise ReferenceDataError(f"{name}: schema must be {SCHEMA!r}")
    compounds = []
    for index, entry in enumerate(document.get("compounds", [])):
        where = f"{name} compounds[{index}]"
        species = entry.get("species")
        if species not in species_ids:
            raise ReferenceDataError(f"{where}: species {species!r} is not a species of the route")
        solvent = canonical_solvent(str(entry.get("solvent", "")))
        if solvent is None:
            raise ReferenceDataError(f"{where}: unknown solvent {entry.get('solvent')!r}")
        if entry.get("form") not in FORMS:
            raise ReferenceDataError(f"{where}: form must be one of {', '.join(FORMS)}")
        source = str(entry.get("source", ""))
        if source.split(":", 1)[0].strip() not in SOURCE_KINDS:
            raise ReferenceDataError(f"{where}: source must start with one of {', '.join(SOURCE_KINDS)}")
        signals = []
        for number, signal in enumerate(entry.get("signals", [])):
            at = f"{where}.signals[{number}]"
            try:
                item = ReferenceSignal(
                    group=str(signal["group"]), shift_ppm=float(signal["shift_ppm"]),
                    multiplicity=str(signal["multiplicity"]), protons=int(signal["protons"]),
                    j_hz=float(signal.get("j_hz", 0.0)), width_hz=float(signal.get("width_hz", 0.0)),
                    diagnostic=bool(signal.get("diagnostic", False)),
                    exchangeable=bool(signal.get("exchangeable", False)))
            except (KeyError, TypeError, ValueError) as exc:
                raise ReferenceDataError(f"{at}: {exc!r}") from exc
            if item.multiplicity not in MULTIPLICITIES or item.protons < 1 or not -1 <= item.shift_ppm <= 16:
                raise ReferenceDataError(f"{at}: bad multiplicity, proton count or shift")
            if MULTIPLICITIES[item.multiplicity] > 1 and item.j_hz <= 0:
                raise ReferenceDataError(f"{at}: a {item.multiplicity} needs j_hz > 0")
            if item.multiplicity == "m" and item.width_hz <= 0:
                raise ReferenceDataError(f"{at}: an unresolved multiplet needs width_hz > 0")
            signals.append(item)
        if not any(not s.exchangeable for s in signals):
            raise ReferenceDataError(f"{where}: no non-exchangeable signal to quantify with")
        compounds.append(ReferenceCompound(species, solvent, entry["form"], source, tuple(signals)))
    return ReferenceSet(str(document.get("route", "")), version, tuple(compounds))
