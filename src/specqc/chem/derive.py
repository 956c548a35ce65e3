"""Side products derived from a route's reactions by structural rules (RDKit).

Each rule takes declared structures and returns new SMILES, so a user's own
route gets its side products without listing them:

* over-reaction: the alkylating/acylating reagent reacts once more with a free
  N-H of the stage product (dialkylated / bis-acylated);
* ring contraction: an N-heterocycle one CH2 short (the diamine one carbon short);
* oligomers: linear and cyclic n-mers of a ring-closure precursor, n = 2..4,
  each condensation losing what the ring closure loses (EtOH, HBr…);
* hydrolysis: esters and acyl halides turned into the acid;
* Boc retained: the Boc-protected form when a deprotection stage names none.
"""

from __future__ import annotations

from dataclasses import dataclass

NUCLEOPHILE_SMARTS = "[NX3;!H0;!$(N[C,S]=[O,S,N]);!$(N-a)]"
PRIMARY_AMINE_SMARTS = "[NX3;H2;!$(N[C,S]=[O,S,N]);!$(N-a)]"
ACYL_HALIDE_SMARTS = "[CX3](=O)[Cl,Br,I]"
ALKYL_HALIDE_SMARTS = "[CX4][Cl,Br,I]"
ESTER_SMARTS = "[CX3](=O)[OX2][CX4]"

OLIGOMER_SIZES = (2, 3, 4)
OLIGOMER_WORDS = {2: "dimer", 3: "trimer", 4: "tetramer"}


@dataclass(frozen=True)
class Electrophile:
    carbon: int  # atom index that forms the new bond
    leaving: frozenset[int]  # atoms removed by the reaction


def _mol(smiles: str):
    from rdkit import Chem

    return Chem.MolFromSmiles(smiles)


def _smarts(pattern: str):
    from rdkit import Chem

    return Chem.MolFromSmarts(pattern)


def _side_of(mol, start: int, blocked: int) -> set[int]:
    """Atoms reachable from ``start`` without passing through ``blocked``."""
    seen = {start}
    stack = [start]
    while stack:
        atom = mol.GetAtomWithIdx(stack.pop())
        for neighbour in atom.GetNeighbors():
            index = neighbour.GetIdx()
            if index != blocked and index not in seen:
                seen.add(index)
                stack.append(index)
    return seen


def electrophiles(mol) -> list[Electrophile]:
    """Acyl halides, alkyl halides and esters (leaving: halide or the whole alkoxy)."""
    found: list[Electrophile] = []
    for carbon, _o, halogen in mol.GetSubstructMatches(_smarts(ACYL_HALIDE_SMARTS)):
        found.append(Electrophile(carbon, frozenset({halogen})))
    for carbon, halogen in mol.GetSubstructMatches(_smarts(ALKYL_HALIDE_SMARTS)):
        found.append(Electrophile(carbon, frozenset({halogen})))
    for carbon, _o, oxygen, _alkyl in mol.GetSubstructMatches(_smarts(ESTER_SMARTS)):
        found.append(Electrophile(carbon, frozenset(_side_of(mol, oxygen, carbon))))
    return found


def _sanitized_smiles(rwmol) -> str | None:
    from rdkit import Chem

    mol = rwmol.GetMol()
    for atom in mol.GetAtoms():
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # a rule produced a chemically impossible structure: skip it
        return None
    return Chem.MolToSmiles(mol)


def _join(mol, nucleophile: int, electrophile: Electrophile) -> str | None:
    """Form N–C between two atoms of ``mol`` and drop the leaving group."""
    from rdkit import Chem

    rw = Chem.RWMol(mol)
    rw.AddBond(nucleophile, electrophile.carbon, Chem.BondType.SINGLE)
    for index in sorted(electrophile.leaving, reverse=True):
        rw.RemoveAtom(index)
    return _sanitized_smiles(rw)


def _combine(first, second):
    from rdkit import Chem

    return Chem.CombineMols(first, second)


def over_reaction(product_smiles: str, reagent_smiles: str) -> list[str]:
    """The stage product reacting once more with the reagent, at each free N-H."""
    product, reagent = _mol(product_smiles), _mol(reagent_smiles)
    sites = [m[0] for m in product.GetSubstructMatches(_smarts(NUCLEOPHILE_SMARTS))]
    offset = product.GetNumAtoms()
    joined = _combine(product, reagent)
    results: list[str] = []
    for electrophile in electrophiles(reagent):
        if len(electrophile.leaving) != 1:  # only halide reagents alkylate/acylate here
            continue
        shifted = Electrophile(electrophile.carbon + offset, frozenset(i + offset for i in electrophile.leaving))
        for site in sites:
            smiles = _join(joined, site, shifted)
            if smiles and smiles not in results:
                results.append(smiles)
        break  # one electrophilic site per reagent is what the route means
    return results


def ring_closures(precursor_smiles: str) -> list[str]:
    """Intramolecular products of a precursor: a primary amine onto its electrophile."""
    mol = _mol(precursor_smiles)
    amines = [m[0] for m in mol.GetSubstructMatches(_smarts(PRIMARY_AMINE_SMARTS))]
    results: list[str] = []
    for electrophile in electrophiles(mol):
        for amine in amines:
            smiles = _join(mol, amine, electrophile)
            if smiles and smiles not in results:
                results.append(smiles)
    return results


def _head_to_tail(chain, unit) -> str | None:
    """Chain's free primary amine onto the unit's electrophile (one condensation)."""
    amines = [m[0] for m in chain.GetSubstructMatches(_smarts(PRIMARY_AMINE_SMARTS))]
    unit_electrophiles = electrophiles(unit)
    if not amines or not unit_electrophiles:
        return None
    offset = chain.GetNumAtoms()
    target = unit_electrophiles[0]
    shifted = Electrophile(target.carbon + offset, frozenset(i + offset for i in target.leaving))
    return _join(_combine(chain, unit), amines[-1], shifted)


def oligomers(precursor_smiles: str, sizes=OLIGOMER_SIZES) -> dict[str, str]:
    """Linear and cyclic n-mers of a ring-closure precursor, keyed 'linear-dimer' etc."""
    unit = _mol(precursor_smiles)
    results: dict[str, str] = {}
    chain_smiles = precursor_smiles
    for n in range(2, max(sizes) + 1):
        longer = _head_to_tail(_mol(chain_smiles), unit)
        if longer is None:
            break
        chain_smiles = longer
        if n in sizes:
            word = OLIGOMER_WORDS.get(n, f"{n}-mer")
            results[f"linear-{word}"] = chain_smiles
            cyclic = _largest_ring_closure(chain_smiles)
            if cyclic:
                results[f"cyclic-{word}"] = cyclic
    return results


def _largest_ring(smiles: str) -> int:
    return max(ring_sizes(smiles), default=0)


def _largest_ring_closure(smiles: str) -> str | None:
    closures = ring_closures(smiles)
    return max(closures, key=_largest_ring) if closures else None


def ring_sizes(smiles: str) -> list[int]:
    mol = _mol(smiles)  # keep a reference: RingInfo does not own the molecule
    rings = mol.GetRingInfo().AtomRings()
    return sorted({len(r) for r in rings})


def hydrolysed(smiles: str) -> str | None:
    """Acid from an ester or acyl halide; None when the structure has neither."""
    from rdkit import Chem

    mol = _mol(smiles)
    for electrophile in electrophiles(mol):
        atom = mol.GetAtomWithIdx(electrophile.carbon)
        if not any(b.GetBondType() == Chem.BondType.DOUBLE for b in atom.GetBonds()):
            continue  # alkyl halides are not what this rule is about
        rw = Chem.RWMol(mol)
        oxygen = rw.AddAtom(Chem.Atom(8))
        rw.AddBond(electrophile.carbon, oxygen, Chem.BondType.SINGLE)
        for index in sorted(electrophile.leaving, reverse=True):
            rw.RemoveAtom(index)
        return _sanitized_smiles(rw)
    return None


def ring_contracted(smiles: str) -> list[str]:
    """N-heterocycles (ring >= 6) with one CH2 removed from a C–C–C run of the ring."""
    from rdkit import Chem

    mol = _mol(smiles)
    results: list[str] = []
    for ring in mol.GetRingInfo().AtomRings():
        if len(ring) < 6 or not any(mol.GetAtomWithIdx(i).GetSymbol() == "N" for i in ring):
            continue
        members = set(ring)
        for index in ring:
            atom = mol.GetAtomWithIdx(index)
            if atom.GetSymbol() != "C" or atom.GetTotalNumHs() != 2:
                continue
            neighbours = [n for n in atom.GetNeighbors() if n.GetIdx() in members]
            if len(neighbours) != 2 or not all(
                n.GetSymbol() == "C" and n.GetHybridization() == Chem.HybridizationType.SP3 for n in neighbours
            ):
                continue
            rw = Chem.RWMol(mol)
            rw.AddBond(neighbours[0].GetIdx(), neighbours[1].GetIdx(), Chem.BondType.SINGLE)
            rw.RemoveAtom(index)
            contracted = _sanitized_smiles(rw)
            if contracted and contracted not in results:
                results.append(contracted)
    return results


def boc_protected(smiles: str) -> str | None:
    """Boc on the primary amine (the protected form a deprotection starts from)."""
    from rdkit import Chem

    mol = _mol(smiles)
    amines = [m[0] for m in mol.GetSubstructMatches(_smarts(PRIMARY_AMINE_SMARTS))]
    if not amines:
        return None
    boc = _mol("C(=O)OC(C)(C)C")
    joined = Chem.RWMol(_combine(mol, boc))
    joined.AddBond(amines[0], mol.GetNumAtoms(), Chem.BondType.SINGLE)
    return _sanitized_smiles(joined)
