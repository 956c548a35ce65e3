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

    @property
    def features(self) -> set[str]:
        found = set()
        if self.has_boc:
            found.add("boc")
        if self.basic_amines >= 2:
            found.add("polyamine")
        return found


def mol_from_smiles(smiles: str, where: str):
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
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
def isotope_pattern(formula: str, peaks: int = 3) -> tuple[float, ...]:
    """Relative abundances of M, M+1, M+2… normalised to the monoisotopic peak."""
    import pyopenms as oms

    distribution = oms.EmpiricalFormula(formula).getIsotopeDistribution(
        oms.CoarseIsotopePatternGenerator(peaks)
    )
    values = [p.getIntensity() for p in distribution.getContainer()][:peaks]
    first = values[0] if values and values[0] > 0 else 1.0
    return tuple(v / first for v in values)


def make_species(id: str, name: str, role: str, smiles: str, where: str,
                 derived_by: str = "", derived_from: tuple[str, ...] = ()) -> Species:
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
    )
