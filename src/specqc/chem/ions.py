"""Target ions of route species: adducts, multimers, multiply charged ions and
in-source fragments, from the adduct table. m/z are computed, never typed."""

from __future__ import annotations

from dataclasses import dataclass

from ..reference import AdductRule, adduct_table
from .species import ELECTRON_MASS, Species, isotope_peaks, isotope_spans, monoisotopic_mass

# Ion kinds that can establish a species on their own; the others (multimers,
# fragments) only count when an anchor ion of the same species co-elutes.
ANCHOR_KINDS = frozenset({"primary", "adduct", "multiply-charged"})


@dataclass(frozen=True)
class TargetIon:
    species_id: str
    ion: str  # e.g. "[M+H]+"
    kind: str
    charge: int
    mz: float
    formula: str  # elemental formula of the ion (for its isotope pattern)
    isotopes: tuple[float, ...]  # relative abundance M, M+1, M+2 (M = 1)
    isotope_offsets: tuple[float, ...]  # mass offsets of those peaks from M (u, before /charge)
    primary_mz: float = 0.0  # m/z of the same species' primary ion ([M+H]+ / [M-H]-) in this polarity
    isotope_spans: tuple[tuple[float, float], ...] = ()  # fine-structure extent of each isotope peak (u)

    @property
    def anchor(self) -> bool:
        return self.kind in ANCHOR_KINDS

    def isotope_mz(self, k: int) -> float:
        return self.mz + self.isotope_offsets[k] / abs(self.charge)

    def isotope_extent(self, k: int) -> tuple[float, float]:
        """m/z of the lowest and highest fine-structure line of isotope peak k."""
        low, high = self.isotope_spans[k] if k < len(self.isotope_spans) else (self.isotope_offsets[k],) * 2
        return self.mz + low / abs(self.charge), self.mz + high / abs(self.charge)


def _formula_counts(formula: str) -> dict[str, int]:
    import re

    counts: dict[str, int] = {}
    for element, number in re.findall(r"([A-Z][a-z]?)(\d*)", formula):
        counts[element] = counts.get(element, 0) + (int(number) if number else 1)
    return counts


def _formula_text(counts: dict[str, int]) -> str:
    """Hill order: C, H, then alphabetical; None-or-negative counts are an error."""
    order = (["C", "H"] if "C" in counts else []) + sorted(
        e for e in counts if e not in (("C", "H") if "C" in counts else ())
    )
    return "".join(f"{e}{counts[e] if counts[e] != 1 else ''}" for e in order if counts[e] > 0)


def ion_formula(species_formula: str, rule: AdductRule) -> str | None:
    counts = {e: n * rule.molecules for e, n in _formula_counts(species_formula).items()}
    for element, number in _formula_counts(rule.add).items() if rule.add else ():
        counts[element] = counts.get(element, 0) + number
    for element, number in _formula_counts(rule.remove).items() if rule.remove else ():
        counts[element] = counts.get(element, 0) - number
        if counts[element] < 0:
            return None  # the species cannot lose that (e.g. no H to remove)
    return _formula_text(counts)


def ion_mz(formula: str, charge: int) -> float:
    return (monoisotopic_mass(formula) - charge * ELECTRON_MASS) / abs(charge)


def target_ions(species: Species, polarity: str, isotope_peaks_count: int = 3) -> list[TargetIon]:
    rules, _version = adduct_table()
    features = species.features
    ions = []
    for rule in rules:
        if rule.polarity != polarity or (rule.requires and rule.requires not in features):
            continue
        formula = ion_formula(species.formula, rule)
        if formula is None:
            continue
        pattern = isotope_peaks(formula, isotope_peaks_count)
        ions.append(
            TargetIon(
                species_id=species.id,
                ion=rule.name,
                kind=rule.kind,
                charge=rule.charge,
                mz=ion_mz(formula, rule.charge),
                formula=formula,
                isotopes=tuple(a for a, _ in pattern),
                isotope_offsets=tuple(o for _, o in pattern),
                isotope_spans=isotope_spans(formula, isotope_peaks_count),
            )
        )
    from dataclasses import replace

    primary = next((ion.mz for ion in ions if ion.kind == "primary"), 0.0)
    return [replace(ion, primary_mz=primary) for ion in ions]
