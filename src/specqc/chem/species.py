"""Species properties computed from SMILES (RDKit) and formulas (pyopenms).

Nothing here types a mass: formulas come from the structure, masses and
isotope patterns from pyopenms' element tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import ConfigError

ELECTRON_MASS = 0.000548579909065  # u, CODATA 2018

BOC_SMARTS = "[NX3]C(=O)OC(C)(C)C"
BASIC_AMINE_SMARTS = "[NX3;!$(N[C,S]=[O,S,N]);!$(N-a);!$(N#*);!$(N=*)]"
HYDROXYL_SMARTS = "[OX2H]"  # acids and alcohols lose water in the source
PRIMARY_AMINE_SMARTS = "[NX3H2;!$(N[C,S]=[O,S,N]);!$(N-a)]"  # loses ammonia in the source
ETHYL_ESTER_SMARTS = "[CH3][CH2]OC(=O)[#6]"  # loses ethanol in the source


@dataclass(frozen=True)
class Species:
    id: str
    name: str
    role: str
    smiles: str
    formula: str
    monoisotopic_mass: float
    has_boc: bool
    basic_amines: int
    derived_by: str = ""  # the rule that produced it, empty for declared species
    derived_from: tuple[str, ...] = field(default=())
    has_hydroxyl: bool = False
    primary_amines: int = 0
    ethyl_ester: bool = False

    @property
    def features(self) -> set[str]:
        found = set()
        if self.has_boc:
            found.add("boc")
        if self.basic_amines >= 2:
            found.add("polyamine")
        if self.has_hydroxyl:
            found.add("hydroxyl")
        if self.primary_amines:
            found.add("primary-amine")
        if self.ethyl_ester:
            found.add("ethyl-ester")
        return found


def mol_from_smiles(smiles: str, where: str):
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # rdkit's stubs leave it out
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ConfigError(f"{where}: SMILES {smiles!r} is not a valid structure")
    return mol


def canonical_smiles(mol) -> str:
    from rdkit import Chem

    return Chem.MolToSmiles(mol)


@lru_cache(maxsize=4096)
def monoisotopic_mass(formula: str) -> float:
    import pyopenms as oms

    return oms.EmpiricalFormula(formula).getMonoWeight()


@lru_cache(maxsize=4096)
def isotope_peaks(formula: str, peaks: int = 3) -> tuple[tuple[float, float], ...]:
    """(relative abundance, mass offset from M) per nominal isotope peak.

    The offsets are pyopenms' abundance-weighted masses, so an 81Br M+2 sits at
    +1.998, not at twice the 13C spacing.
    """
    import pyopenms as oms

    # Fine structure, then grouped by nominal offset into abundance-weighted peaks.
    distribution = oms.EmpiricalFormula(formula).getIsotopeDistribution(oms.FineIsotopePatternGenerator(1e-4))
    base = monoisotopic_mass(formula)
    abundance = [0.0] * peaks
    weighted_mass = [0.0] * peaks
    for peak in distribution.getContainer():
        offset = peak.getMZ() - base
        k = int(round(offset))
        if 0 <= k < peaks:
            abundance[k] += peak.getIntensity()
            weighted_mass[k] += peak.getIntensity() * offset
    first = abundance[0] or 1.0
    return tuple(
        (a / first, (w / a) if a > 0 else k * 1.0033548) for k, (a, w) in enumerate(zip(abundance, weighted_mass))
    )


@lru_cache(maxsize=4096)
def isotope_spans(formula: str, peaks: int = 3, min_share: float = 0.02) -> tuple[tuple[float, float], ...]:
    """(lowest, highest) mass offset from M of the fine-structure lines that make
    up each nominal isotope peak (those with at least ``min_share`` of it). At
    high resolution 15N, 13C and 2H lines of M+1 lie milli-daltons apart, wider
    than a ppm window around their average."""
    import pyopenms as oms

    distribution = oms.EmpiricalFormula(formula).getIsotopeDistribution(oms.FineIsotopePatternGenerator(1e-4))
    base = monoisotopic_mass(formula)
    lines: list[list[tuple[float, float]]] = [[] for _ in range(peaks)]
    for peak in distribution.getContainer():
        offset = peak.getMZ() - base
        k = int(round(offset))
        if 0 <= k < peaks:
            lines[k].append((offset, peak.getIntensity()))
    spans = []
    for k, group in enumerate(lines):
        total = sum(a for _, a in group)
        kept = [o for o, a in group if total > 0 and a >= min_share * total]
        spans.append((min(kept), max(kept)) if kept else (k * 1.0033548, k * 1.0033548))
    return tuple(spans)


def make_species(
    id: str, name: str, role: str, smiles: str, where: str, derived_by: str = "", derived_from: tuple[str, ...] = ()
) -> Species:
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    mol = mol_from_smiles(smiles, where)
    if Chem.GetFormalCharge(mol) != 0:
        raise ConfigError(f"{where}: give the neutral form of {name!r} (SMILES has a net charge)")
    if len(Chem.GetMolFrags(mol)) != 1:
        raise ConfigError(f"{where}: SMILES of {name!r} has several fragments; give the free base")
    formula = rdMolDescriptors.CalcMolFormula(mol)  # Hill order, no 1s
    boc = Chem.MolFromSmarts(BOC_SMARTS)
    amine = Chem.MolFromSmarts(BASIC_AMINE_SMARTS)
    return Species(
        id=id,
        name=name,
        role=role,
        smiles=canonical_smiles(mol),
        formula=formula,
        monoisotopic_mass=monoisotopic_mass(formula),
        has_boc=mol.HasSubstructMatch(boc),
        basic_amines=len(mol.GetSubstructMatches(amine)),
        derived_by=derived_by,
        derived_from=derived_from,
        has_hydroxyl=mol.HasSubstructMatch(Chem.MolFromSmarts(HYDROXYL_SMARTS)),
        primary_amines=len(mol.GetSubstructMatches(Chem.MolFromSmarts(PRIMARY_AMINE_SMARTS))),
        ethyl_ester=mol.HasSubstructMatch(Chem.MolFromSmarts(ETHYL_ESTER_SMARTS)),
    )
