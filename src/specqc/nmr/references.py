"""Reference 1H NMR data of route species (reference_spectra/*.toml), checked
when loaded and loaded once per route."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from ..errors import ReferenceDataError
from ..reference import parse_header
from .solvents import MULTIPLICITIES, canonical_solvent

SCHEMA = "specqc.reference-spectra/1"
SOURCE_KINDS = ("literature", "prediction", "measurement")
FORMS = ("free base", "hydrochloride")

# Shift uncertainty of a tabulated signal when its entry gives none, by the kind of source:
# a measurement repeats to a few hundredths (concentration, temperature); a literature value
# was taken on another instrument and sample; a prediction by additive increments is good to
# about a tenth of a ppm (Pretsch et al., Structure Determination of Organic Compounds).
DEFAULT_UNCERTAINTY_PPM = {"measurement": 0.04, "literature": 0.05, "prediction": 0.10}
# Protonating an amine moves the CH next to it downfield (free base -> hydrochloride):
# alpha CH2 +0.3 to +0.5 ppm, beta +0.1 to +0.3 (e.g. 1,3-diaminopropane 2.76 / 1.60 in CDCl3 against
# its dihydrochloride 3.13 / 2.10 in D2O, triethylamine 2.53 against triethylammonium 3.1-3.2).
PROTONATION_SHIFT_PPM = {"alpha": (0.40, 0.15), "beta": (0.20, 0.10)}  # (shift, its uncertainty)
# An entry of another deuterated solvent standing in: CH shifts of neutral organics move by up to
# about 0.1-0.2 ppm between CDCl3, DMSO-d6, CD3OD and D2O (Fulmer et al. 2010, Table 1: triethylamine's
# CH2 2.43 in DMSO-d6, 2.58 in CD3OD).
SOLVENT_TRANSFER_UNCERTAINTY_PPM = 0.15
MAX_UNCERTAINTY_PPM = 0.25
# A CH next to an amide or carbamate nitrogen does not move on protonation of the amine.
_NOT_AMINE = re.compile(r"C\(=O\)N|NHC=O|NC=O\)|NHBoc|CH2NC=O")
_ALPHA_TO_AMINE = re.compile(r"NH[23]\+|H2N\+|NH2\b|NH\)|NCH2|CH2N\b|CH2N\)|HN\(|N\(CH2")
_BETA_TO_AMINE = re.compile(r"^CH2CH2CH2$|C6-H2")


def amine_position(group: str) -> str | None:
    """'alpha' or 'beta' when a signal's group label puts it next to (or one
    carbon from) a basic amine nitrogen, else None: what protonation moves."""
    if _NOT_AMINE.search(group):
        return None
    if _ALPHA_TO_AMINE.search(group):
        return "alpha"
    if _BETA_TO_AMINE.search(group):
        return "beta"
    return None


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
    shift_uncertainty_ppm: float = 0.10
    uncertainty_source: str = ""


@dataclass(frozen=True)
class ReferenceCompound:
    species: str
    solvent: str
    form: str
    source: str
    signals: tuple[ReferenceSignal, ...]
    derived_from: str = ""  # how an entry standing in for a missing solvent or form was made

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

    def for_species(self, species_id: str, solvent: str | None, form: str) -> ReferenceCompound | None:
        """The entry for the species in that solvent, preferring the expected form."""
        found = [c for c in self.compounds if c.species == species_id and c.solvent == solvent]
        found.sort(key=lambda c: c.form != form)
        return found[0] if found else None

    def candidates(
        self, species_id: str, solvent: str, form: str, forms: tuple[str, ...] = FORMS
    ) -> list[ReferenceCompound]:
        """One entry per form of ``forms`` (the expected ``form`` first) in the
        spectrum's solvent: the tabulated one, or one derived from the nearest
        tabulated entry (same solvent other form, else same form another solvent,
        else any) with the protonation shift and wider uncertainties, saying so."""
        own = [c for c in self.compounds if c.species == species_id]
        if not own:
            return []
        out = []
        for wanted in sorted(forms, key=lambda f: f != form):
            exact = next((c for c in own if c.solvent == solvent and c.form == wanted), None)
            if exact is not None:
                out.append(exact)
                continue
            base = min(own, key=lambda c: (c.solvent != solvent, c.form != wanted, c.solvent != "CDCl3"))
            out.append(derive(base, solvent, wanted))
        return out


NMR_REFERENCE_NOTE = (
    "1H references: each shift +- its uncertainty (source). A solvent or form with no entry is searched with "
    "the nearest entry: CH next to a basic amine moved by the protonation shift (free base -> hydrochloride: "
    f"alpha {PROTONATION_SHIFT_PPM['alpha'][0]:+.2f} +- {PROTONATION_SHIFT_PPM['alpha'][1]:.2f}, "
    f"beta {PROTONATION_SHIFT_PPM['beta'][0]:+.2f} +- {PROTONATION_SHIFT_PPM['beta'][1]:.2f} ppm), another "
    f"solvent's value +- {SOLVENT_TRANSFER_UNCERTAINTY_PPM:.2f} ppm; residual solvents: Fulmer et al. 2010, "
    "+- 0.02 ppm."
)


def nmr_reference_lines(references: ReferenceSet, species_id: str) -> list[str]:
    """What `route show` prints of a species' 1H reference data."""
    lines = []
    for compound in (c for c in references.compounds if c.species == species_id):
        lines.append(f"  1H NMR reference, {compound.solvent}, {compound.form} ({compound.source}):")
        lines += [
            f"    {s.group}: {s.shift_ppm:.2f} +- {s.shift_uncertainty_ppm:.2f} ppm {s.multiplicity} "
            f"{s.protons}H{' (exchangeable)' if s.exchangeable else ''} [{s.uncertainty_source}]"
            for s in compound.signals
        ]
    if not lines:
        lines.append("  1H NMR reference: none (not searched by NMR)")
    return lines


def derive(base: ReferenceCompound, solvent: str, form: str) -> ReferenceCompound:
    """``base`` standing in for ``solvent`` and ``form``: CH next to a basic
    amine moved by the protonation shift, every uncertainty widened."""
    sign = 0 if base.form == form else (1 if form == "hydrochloride" else -1)
    signals, notes = [], []
    for signal in base.signals:
        shift, spread, why = signal.shift_ppm, [signal.shift_uncertainty_ppm], [signal.uncertainty_source]
        position = amine_position(signal.group) if sign else None
        if position:
            moved, uncertainty = PROTONATION_SHIFT_PPM[position]
            shift += sign * moved
            spread.append(uncertainty)
            why.append(f"protonation shift {sign * moved:+.2f} +- {uncertainty:.2f} ppm ({position} to N)")
        if base.solvent != solvent:
            spread.append(SOLVENT_TRANSFER_UNCERTAINTY_PPM)
            why.append(f"{base.solvent} value used in {solvent} (+- {SOLVENT_TRANSFER_UNCERTAINTY_PPM:.2f} ppm)")
        total = min(math.sqrt(sum(u * u for u in spread)), MAX_UNCERTAINTY_PPM)
        signals.append(
            replace(
                signal,
                shift_ppm=round(shift, 3),
                shift_uncertainty_ppm=round(total, 3),
                uncertainty_source="; ".join(w for w in why if w),
            )
        )
    if sign:
        notes.append(f"{base.form} -> {form}: protonation shift on CH next to the amine N")
    if base.solvent != solvent:
        notes.append(f"{base.solvent} shifts used in {solvent}")
    return ReferenceCompound(
        base.species,
        solvent,
        form,
        base.source,
        tuple(signals),
        f"derived from the {base.form} entry in {base.solvent} ({'; '.join(notes)})",
    )


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
                    group=str(signal["group"]),
                    shift_ppm=float(signal["shift_ppm"]),
                    multiplicity=str(signal["multiplicity"]),
                    protons=int(signal["protons"]),
                    j_hz=float(signal.get("j_hz", 0.0)),
                    width_hz=float(signal.get("width_hz", 0.0)),
                    diagnostic=bool(signal.get("diagnostic", False)),
                    exchangeable=bool(signal.get("exchangeable", False)),
                )
                kind = source.split(":", 1)[0].strip()
                if "shift_uncertainty_ppm" in signal:
                    item = replace(
                        item,
                        shift_uncertainty_ppm=float(signal["shift_uncertainty_ppm"]),
                        uncertainty_source=str(signal.get("uncertainty_source", f"{name} (stated)")),
                    )
                else:
                    item = replace(
                        item,
                        shift_uncertainty_ppm=DEFAULT_UNCERTAINTY_PPM[kind],
                        uncertainty_source=f"default for a {kind} entry",
                    )
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
