"""Route species, ion formulas, exact masses and isotope patterns.

Everything is computed here from SMILES: RDKit gives the molecular formula,
the masses come from the atomic masses below (AME2016 / IUPAC 2013 values, as
tabulated by NIST, "Atomic Weights and Isotopic Compositions"), and the
isotopologue fine structure (high resolution) or nominal clusters (unit
resolution) come from a pruned convolution of the elements' isotope
distributions, checked against pyopenms's CoarseIsotopePatternGenerator. The
electron mass is taken off (positive ions) or added (negative ions) explicitly.

The species ids, SMILES and per-stage roles are those that ``specqc route
show <route>`` lists (declared species and the side products the route
derives); the harness checks that every report names the same ids.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

ELECTRON = 0.000548579909
MONO = {
    "H": 1.00782503207,
    "C": 12.0,
    "N": 14.0030740048,
    "O": 15.99491461956,
    "F": 18.99840322,
    "Na": 22.9897692809,
    "Si": 27.9769265325,
    "P": 30.97376163,
    "S": 31.97207100,
    "Cl": 34.96885268,
    "K": 38.96370668,
    "Br": 78.9183371,
}
PROTON = MONO["H"] - ELECTRON

# ---------------------------------------------------------------------------
# Ions. Each: (multimer n, element change per ion, charge, kind).
# kind: "protonated" | "adduct" | "multimer" | "multiply-charged" |
#       "fragment" | "solvent-adduct" | "intrinsic"
ION_TYPES: dict[str, tuple[int, dict[str, int], int, str]] = {
    "[M+H]+": (1, {"H": 1}, 1, "protonated"),
    "[M+Na]+": (1, {"Na": 1}, 1, "adduct"),
    "[M+K]+": (1, {"K": 1}, 1, "adduct"),
    "[M+NH4]+": (1, {"N": 1, "H": 4}, 1, "adduct"),
    "[M+2H]2+": (1, {"H": 2}, 2, "multiply-charged"),
    "[2M+H]+": (2, {"H": 1}, 1, "multimer"),
    "[2M+Na]+": (2, {"Na": 1}, 1, "multimer"),
    "[M+ACN+H]+": (1, {"C": 2, "H": 4, "N": 1}, 1, "solvent-adduct"),
    "[M+CH3OH+H]+": (1, {"C": 1, "H": 5, "O": 1}, 1, "solvent-adduct"),
    "[M+H-H2O]+": (1, {"H": -1, "O": -1}, 1, "fragment"),
    "[M+H-C4H8]+": (1, {"C": -4, "H": -7}, 1, "fragment"),
    "[M+H-C5H8O2]+": (1, {"C": -5, "H": -7, "O": -2}, 1, "fragment"),
    "[M+H-C2H6O]+": (1, {"C": -2, "H": -5, "O": -1}, 1, "fragment"),
    "[M+H-NH3]+": (1, {"N": -1, "H": -2}, 1, "fragment"),
    "[M+H-HBr]+": (1, {"Br": -1}, 1, "fragment"),
    "[M]+": (1, {}, 1, "intrinsic"),
    "[M-H]-": (1, {"H": -1}, -1, "protonated"),
    "[M+HCOO]-": (1, {"C": 1, "H": 1, "O": 2}, -1, "adduct"),
    "[M+CH3COO]-": (1, {"C": 2, "H": 3, "O": 2}, -1, "adduct"),
    "[M+Cl]-": (1, {"Cl": 1}, -1, "adduct"),
    "[2M-H]-": (2, {"H": -1}, -1, "multimer"),
    "[M-H-CO2]-": (1, {"C": -1, "H": -1, "O": -2}, -1, "fragment"),
}

# The ions an analyzer of these routes is expected to look for (CHEMISTRY.md
# section 2); used only to explain false detections, never to build data.
SEARCHED_IONS = {
    "positive": [
        "[M+H]+",
        "[M+Na]+",
        "[M+K]+",
        "[M+NH4]+",
        "[M+2H]2+",
        "[2M+H]+",
        "[2M+Na]+",
        "[M+H-C4H8]+",
        "[M+H-C5H8O2]+",
    ],
    "negative": ["[M-H]-", "[M+HCOO]-", "[M+Cl]-", "[2M-H]-"],
}

_FORMULA_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_formula(text: str) -> dict[str, int]:
    """'C5H10N2O' -> {'C': 5, 'H': 10, 'N': 2, 'O': 1}; charge signs are ignored."""
    out: dict[str, int] = {}
    for element, count in _FORMULA_TOKEN.findall(text.rstrip("+-")):
        out[element] = out.get(element, 0) + (int(count) if count else 1)
    return out


def hill(formula: dict[str, int]) -> str:
    """Hill order without 1s (C and H first when carbon is present)."""
    counts = {k: v for k, v in formula.items() if v}
    keys = sorted(counts)
    if "C" in counts:
        keys = ["C"] + (["H"] if "H" in counts else []) + [k for k in keys if k not in ("C", "H")]
    return "".join(k + (str(counts[k]) if counts[k] != 1 else "") for k in keys)


def neutral_mass(formula: dict[str, int]) -> float:
    return float(sum(MONO[e] * n for e, n in formula.items()))


@lru_cache(maxsize=None)
def mol_formula(smiles: str) -> str:
    """Molecular formula (Hill) of a SMILES; a permanently charged species keeps its charge out."""
    from rdkit import Chem
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"bad SMILES {smiles!r}")
    return hill(parse_formula(CalcMolFormula(mol)))


def ion_formula(formula: dict[str, int], ion: str) -> tuple[dict[str, int], int]:
    n, change, charge, _ = ION_TYPES[ion]
    out = {e: c * n for e, c in formula.items()}
    for e, c in change.items():
        out[e] = out.get(e, 0) + c
    if any(v < 0 for v in out.values()):
        raise ValueError(f"{ion} impossible for {hill(formula)}")
    return {e: v for e, v in out.items() if v}, charge


def ion_mz(formula: dict[str, int], ion: str) -> float:
    composition, charge = ion_formula(formula, ion)
    return (neutral_mass(composition) - charge * ELECTRON) / abs(charge)


def ion_possible(formula: dict[str, int], ion: str) -> bool:
    try:
        ion_formula(formula, ion)
    except ValueError:
        return False
    return True


# Isotopes: (mass, abundance), IUPAC 2013 representative compositions (NIST tables).
ISOTOPES = {
    "H": [(1.00782503207, 0.999885), (2.0141017778, 0.000115)],
    "C": [(12.0, 0.9893), (13.0033548378, 0.0107)],
    "N": [(14.0030740048, 0.99636), (15.0001088982, 0.00364)],
    "O": [(15.99491461956, 0.99757), (16.99913170, 0.00038), (17.9991610, 0.00205)],
    "F": [(18.99840322, 1.0)],
    "Na": [(22.9897692809, 1.0)],
    "Si": [(27.9769265325, 0.92223), (28.976494700, 0.04685), (29.97377017, 0.03092)],
    "P": [(30.97376163, 1.0)],
    "S": [(31.97207100, 0.9499), (32.97145876, 0.0075), (33.96786690, 0.0425), (35.96708076, 0.0001)],
    "Cl": [(34.96885268, 0.7576), (36.96590259, 0.2424)],
    "K": [(38.96370668, 0.932581), (39.96399848, 0.000117), (40.96182576, 0.067302)],
    "Br": [(78.9183371, 0.5069), (80.9162906, 0.4931)],
}
_PRUNE = 1e-6


def _convolve(a, b):
    m = (a[0][:, None] + b[0][None, :]).ravel()
    p = (a[1][:, None] * b[1][None, :]).ravel()
    keep = p >= _PRUNE * p.max()
    m, p = m[keep], p[keep]
    key = np.rint(m * 1e5).astype(np.int64)  # merge isotopologues within 10 uDa
    uniq, inv = np.unique(key, return_inverse=True)
    pw = np.bincount(inv, weights=p)
    mw = np.bincount(inv, weights=p * m) / pw
    return mw, pw


def _element_power(element, n):
    base = (np.array([m for m, _ in ISOTOPES[element]]), np.array([a for _, a in ISOTOPES[element]]))
    result = (np.array([0.0]), np.array([1.0]))
    while n:
        if n & 1:
            result = _convolve(result, base)
        n >>= 1
        if n:
            base = _convolve(base, base)
    return result


@lru_cache(maxsize=4096)
def _isotopes(composition: str, fine: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Isotopologue fine structure by pruned convolution of the elements' isotope distributions.

    pyopenms's FineIsotopePatternGenerator returns non-finite abundances (and can crash)
    for Si-rich formulas, so the pattern is computed here; pyopenms's coarse generator
    agrees with these nominal clusters (checked in ``_check_isotopes``)."""
    formula = parse_formula(composition)
    dist = (np.array([0.0]), np.array([1.0]))
    for element, count in formula.items():
        dist = _convolve(dist, _element_power(element, count))
    masses, abund = dist
    mono = neutral_mass(formula)
    offsets = masses - mono
    if not fine:  # nominal clusters, abundance-weighted positions
        nominal = np.rint(offsets).astype(int)
        uniq, inv = np.unique(nominal, return_inverse=True)
        pw = np.bincount(inv, weights=abund)
        offsets = np.bincount(inv, weights=abund * offsets) / pw
        abund = pw
    keep = abund >= 2e-4 * abund.max()
    offsets, abund = offsets[keep], abund[keep]
    order = np.argsort(offsets)
    return tuple(offsets[order].tolist()), tuple((abund[order] / abund.sum()).tolist())


def _check_isotopes(composition: str) -> float:
    """Largest abundance difference between these nominal clusters and pyopenms's coarse generator."""
    import pyopenms as oms

    dist = oms.EmpiricalFormula(composition).getIsotopeDistribution(oms.CoarseIsotopePatternGenerator(6))
    ref = np.array([p.getIntensity() for p in dist.getContainer()])
    ref = ref / ref.sum()
    _, mine = _isotopes(composition, False)
    k = min(len(ref), len(mine), 4)
    return float(np.max(np.abs(ref[:k] - np.array(mine[:k]))))


def isotope_pattern(composition: dict[str, int], fine: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mass offsets from the monoisotopic peak in Da, abundances summing to 1)."""
    offsets, abund = _isotopes(hill(composition), fine)
    return np.array(offsets), np.array(abund)


# ---------------------------------------------------------------------------
# Structure features that drive retention, ionisation and in-source chemistry.

_SMARTS = {
    "basic_n": "[NX3;!$(N-[C,S,P]=[O,S,N]);!$(N-a);!$(N=*);!$(N#*);!$(N-N);!$(N-O)]",
    "boc": "C(C)(C)(C)OC(=O)N",
    "ethyl_ester": "[CH3][CH2]OC(=O)[#6]",
    "acid": "[CX3](=O)[OX2H1]",
    "primary_amine": "[NX3;H2;!$(N-C=O);!$(N-a)]",
    "alkyl_bromide": "[CX4]Br",
    "carbonyl": "[CX3]=O",
    "aromatic": "a",
    "sulfonic": "S(=O)(=O)[OH]",
    "quaternary": "[N+;!$(N=*);H0]",
}


@lru_cache(maxsize=None)
def features(smiles: str) -> dict:
    from rdkit import Chem
    from rdkit.Chem import Crippen

    mol = Chem.MolFromSmiles(smiles)
    out = {"logp": round(float(Crippen.MolLogP(mol)), 3)}
    for name, smarts in _SMARTS.items():
        out[name] = len(mol.GetSubstructMatches(Chem.MolFromSmarts(smarts)))
    out["aromatic"] = int(out["aromatic"] > 0)
    out["charge"] = int(Chem.GetFormalCharge(mol))
    return out


# ---------------------------------------------------------------------------
# The two built-in routes as `specqc route show` lists them.
# (id, name, role, SMILES)

_DZ_OLIGO = "CCOC(=O)CNCCCN"
ROUTES: dict[str, dict] = {
    "diazepan-2-one": {
        "species": [
            ("boc-diaminopropane", "N-Boc-1,3-diaminopropane", "starting-material", "CC(C)(C)OC(=O)NCCCN"),
            ("ethyl-bromoacetate", "ethyl bromoacetate", "reagent", "CCOC(=O)CBr"),
            (
                "boc-aminopropyl-glycinate",
                "ethyl N-[3-(Boc-amino)propyl]glycinate",
                "protected-intermediate",
                "CCOC(=O)CNCCCNC(=O)OC(C)(C)C",
            ),
            ("aminopropyl-glycinate", "ethyl N-(3-aminopropyl)glycinate", "linear-precursor", "CCOC(=O)CNCCCN"),
            ("diazepan-2-one", "1,4-diazepan-2-one", "product", "O=C1CNCCCN1"),
            (
                "dialkylated",
                "N,N-bis(ethoxycarbonylmethyl) Boc-diamine",
                "dialkylated",
                "CCOC(=O)CN(CCCNC(=O)OC(C)(C)C)CC(=O)OCC",
            ),
            (
                "linear-dimer",
                "linear dimer of ethyl N-(3-aminopropyl)glycinate",
                "oligomer",
                "CCOC(=O)CNCCCNC(=O)CNCCCN",
            ),
            ("cyclic-dimer", "cyclic dimer of ethyl N-(3-aminopropyl)glycinate", "oligomer", "O=C1CNCCCNC(=O)CNCCCN1"),
            (
                "linear-trimer",
                "linear trimer of ethyl N-(3-aminopropyl)glycinate",
                "oligomer",
                "CCOC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCN",
            ),
            (
                "cyclic-trimer",
                "cyclic trimer of ethyl N-(3-aminopropyl)glycinate",
                "oligomer",
                "O=C1CNCCCNC(=O)CNCCCNC(=O)CNCCCN1",
            ),
            (
                "linear-tetramer",
                "linear tetramer of ethyl N-(3-aminopropyl)glycinate",
                "oligomer",
                "CCOC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCN",
            ),
            (
                "cyclic-tetramer",
                "cyclic tetramer of ethyl N-(3-aminopropyl)glycinate",
                "oligomer",
                "O=C1CNCCCNC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCN1",
            ),
            ("hydrolysed-aminopropyl-glycinate", "N-(3-aminopropyl)glycine", "hydrolysis", "NCCCNCC(=O)O"),
            ("ring-contracted-diazepan-2-one", "piperazin-2-one", "piperazine", "O=C1CNCCN1"),
        ],
        "stages": {
            "alkylation": ("boc-aminopropyl-glycinate", ["boc-diaminopropane", "ethyl-bromoacetate", "dialkylated"]),
            "deprotection": (
                "aminopropyl-glycinate",
                ["boc-aminopropyl-glycinate", "dialkylated", "hydrolysed-aminopropyl-glycinate", "diazepan-2-one"],
            ),
            "cyclization": (
                "diazepan-2-one",
                [
                    "aminopropyl-glycinate",
                    "boc-aminopropyl-glycinate",
                    "linear-dimer",
                    "cyclic-dimer",
                    "linear-trimer",
                    "cyclic-trimer",
                    "linear-tetramer",
                    "cyclic-tetramer",
                    "hydrolysed-aminopropyl-glycinate",
                    "ring-contracted-diazepan-2-one",
                ],
            ),
            "salt": (
                "diazepan-2-one",
                [
                    "aminopropyl-glycinate",
                    "boc-aminopropyl-glycinate",
                    "linear-dimer",
                    "cyclic-dimer",
                    "linear-trimer",
                    "cyclic-trimer",
                    "linear-tetramer",
                    "cyclic-tetramer",
                    "hydrolysed-aminopropyl-glycinate",
                    "ring-contracted-diazepan-2-one",
                    "dialkylated",
                ],
            ),
        },
        "stage_order": ["alkylation", "deprotection", "cyclization", "salt"],
    },
    "cyclobutylcarbonyl-diazepane": {
        "species": [
            ("ethylenediamine", "ethylenediamine", "starting-material", "NCCN"),
            ("dibromopropane", "1,3-dibromopropane", "reagent", "BrCCCBr"),
            ("bromopropyl-ethylenediamine", "N-(3-bromopropyl)ethylenediamine", "linear-precursor", "NCCNCCCBr"),
            ("homopiperazine", "1,4-diazepane (homopiperazine)", "intermediate", "C1CNCCNC1"),
            ("cyclobutanecarbonyl-chloride", "cyclobutanecarbonyl chloride", "reagent", "O=C(Cl)C1CCC1"),
            ("cyclobutylcarbonyl-diazepane", "1-(cyclobutylcarbonyl)-1,4-diazepane", "product", "O=C(C1CCC1)N1CCCNCC1"),
            ("linear-dimer", "linear dimer of N-(3-bromopropyl)ethylenediamine", "oligomer", "NCCNCCCNCCNCCCBr"),
            ("cyclic-dimer", "cyclam (2+2 macrocycle)", "oligomer", "C1CNCCNCCCNCCNC1"),
            (
                "linear-trimer",
                "linear trimer of N-(3-bromopropyl)ethylenediamine",
                "oligomer",
                "NCCNCCCNCCNCCCNCCNCCCBr",
            ),
            (
                "cyclic-trimer",
                "cyclic trimer of N-(3-bromopropyl)ethylenediamine",
                "oligomer",
                "C1CNCCNCCCNCCNCCCNCCNC1",
            ),
            (
                "linear-tetramer",
                "linear tetramer of N-(3-bromopropyl)ethylenediamine",
                "oligomer",
                "NCCNCCCNCCNCCCNCCNCCCNCCNCCCBr",
            ),
            (
                "cyclic-tetramer",
                "cyclic tetramer of N-(3-bromopropyl)ethylenediamine",
                "oligomer",
                "C1CNCCNCCCNCCNCCCNCCNCCCNCCNC1",
            ),
            (
                "diacylated",
                "1,4-bis(cyclobutylcarbonyl)-1,4-diazepane",
                "dialkylated",
                "O=C(C1CCC1)N1CCCN(C(=O)C2CCC2)CC1",
            ),
            ("hydrolysed-cyclobutanecarbonyl-chloride", "cyclobutanecarboxylic acid", "hydrolysis", "O=C(O)C1CCC1"),
            ("ring-contracted-homopiperazine", "piperazine", "piperazine", "C1CNCCN1"),
            (
                "ring-contracted-cyclobutylcarbonyl-diazepane",
                "1-(cyclobutylcarbonyl)piperazine",
                "piperazine",
                "O=C(C1CCC1)N1CCNCC1",
            ),
        ],
        "stages": {
            "ring-formation": (
                "homopiperazine",
                [
                    "ethylenediamine",
                    "bromopropyl-ethylenediamine",
                    "ring-contracted-homopiperazine",
                    "linear-dimer",
                    "cyclic-dimer",
                    "linear-trimer",
                    "cyclic-trimer",
                    "linear-tetramer",
                    "cyclic-tetramer",
                ],
            ),
            "acylation": (
                "cyclobutylcarbonyl-diazepane",
                [
                    "homopiperazine",
                    "diacylated",
                    "hydrolysed-cyclobutanecarbonyl-chloride",
                    "ring-contracted-homopiperazine",
                    "ring-contracted-cyclobutylcarbonyl-diazepane",
                ],
            ),
            "final": (
                "cyclobutylcarbonyl-diazepane",
                [
                    "homopiperazine",
                    "diacylated",
                    "hydrolysed-cyclobutanecarbonyl-chloride",
                    "ring-contracted-homopiperazine",
                    "ring-contracted-cyclobutylcarbonyl-diazepane",
                    "linear-dimer",
                    "cyclic-dimer",
                    "linear-trimer",
                    "cyclic-trimer",
                    "linear-tetramer",
                    "cyclic-tetramer",
                ],
            ),
        },
        "stage_order": ["ring-formation", "acylation", "final"],
    },
}


def route_species(route: str) -> list[dict]:
    """Every species of the route with formula and monoisotopic mass computed from its SMILES."""
    out = []
    for sid, name, role, smiles in ROUTES[route]["species"]:
        formula = mol_formula(smiles)
        out.append(
            {
                "id": sid,
                "name": name,
                "role": role,
                "smiles": smiles,
                "formula": formula,
                "monoisotopic_mass": round(neutral_mass(parse_formula(formula)), 6),
            }
        )
    return out


def stage_roles(route: str, stage: str) -> dict[str, str]:
    """species id -> "main" | "impurity" | "n/a" at that stage."""
    main, impurities = ROUTES[route]["stages"][stage]
    roles = {sid: "n/a" for sid, *_ in ROUTES[route]["species"]}
    for sid in impurities:
        roles[sid] = "impurity"
    roles[main] = "main"
    return roles


def last_stage(route: str) -> str:
    return ROUTES[route]["stage_order"][-1]
