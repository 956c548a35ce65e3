"""1H NMR shift, coupling and solvent tables for the validation generator.

These tables belong to the validation generator alone. They are written from
general NMR knowledge and published figures, not from specqc's own tables, so
that a spectrum built from them tests specqc's assumptions instead of
repeating them.

Sources
-------
* Residual solvent peaks, water and process solvents in CDCl3, DMSO-d6, CD3OD
  and D2O: H. E. Gottlieb, V. Kotlyar, A. Nudelman, J. Org. Chem. 1997, 62,
  7512-7515 and G. R. Fulmer et al., Organometallics 2010, 29, 2176-2179
  (Table 1, 1H). Multiplicities and J from the same tables (ethyl groups
  J = 7.0-7.1 Hz, DMSO-d5 quintet J(HD) = 1.9 Hz, CHD2OD quintet 1.7 Hz,
  methanol/ethanol OH couplings in DMSO-d6 about 5 Hz). Dichloromethane,
  toluene and hexane have no D2O entry there (insoluble): they are not drawn
  in D2O.
* Triethylammonium chloride (the form triethylamine takes in a hydrochloride
  salt): CH2 about 3.1-3.2 (q), CH3 1.2-1.4 (t), commonly reported values.
* Route species: no measured spectrum is used. Each group's shift is built
  from close analogues - glycine ethyl ester and its hydrochloride (OCH2 4.19
  / 4.30, NCH2CO 3.40 / 3.9, CH3 1.27 / 1.30), N-Boc-1,3-diaminopropane
  (tBu 1.44, CH2NHBoc 3.19, CH2NH2 2.76, CH2 1.60), 1,3-diaminopropane
  dihydrochloride in D2O (CH2N 3.13, CH2 2.10), ethylenediamine (2.74; 2HCl
  in D2O 3.39), piperazine (2.84; 2HCl in D2O 3.57), caprolactam and
  piperazin-2-one (lactam NCH2 3.2-3.4, NH 6-6.6 in CDCl3), cyclobutane-
  carboxylic acid (CH 3.18 quintet, J 8.5; CH2 2.2-2.4 and 1.9-2.0), cyclam
  (2.75, 2.68, 1.72) - with the usual increments: an alpha ammonium moves an
  NCH2 by +0.3 to +0.5 ppm, a beta one by +0.2 to +0.4.
* Solvent dependence of the route species follows the same analogues in
  Fulmer's table: an amine NCH2 moves as triethylamine's CH2 does (CDCl3 2.53,
  DMSO 2.43, CD3OD 2.58, D2O 2.57), an ester OCH2 as ethyl acetate's, a tBu as
  MTBE's, an N-CH3/N-CH2 of a tertiary amide as DMF's methyls. The
  per-class increments are `FREE_BASE_OFFSETS` / `SALT_OFFSETS` below; the
  product groups carry explicit values instead.
* 13C satellites: 1.07 % natural 13C, so each satellite is 0.535 % of its
  line, at +-J(CH)/2 (J(CH) 125 Hz alkyl, 140-150 Hz next to N/O, 209 Hz
  CHCl3, 178 Hz CH2Cl2, 158 Hz aromatic, 118 Hz TMS); 29Si satellites of TMS
  (4.7 %, J 6.6 Hz).
* ICH Q3C limits are specqc's public table (ich_q3c.csv, ICH Q3C(R8)); molar
  masses are computed from SMILES with RDKit.

Shifts are typical room-temperature values at 5-30 mg/0.6 mL; the generator
adds its own per-group deviations (up to +-0.15 ppm) on top of them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SOLVENTS = ("CDCl3", "DMSO-d6", "D2O", "CD3OD")
_SOLV_INDEX = {s: i for i, s in enumerate(SOLVENTS)}

# ---------------------------------------------------------------------------
# Route species (ids and SMILES as `specqc route show` lists them)

ROUTE_SPECIES: dict[str, dict[str, dict]] = {
    "diazepan-2-one": {
        "boc-diaminopropane": {"smiles": "CC(C)(C)OC(=O)NCCCN", "role": "starting-material", "basic_n": 1},
        "ethyl-bromoacetate": {"smiles": "CCOC(=O)CBr", "role": "reagent", "basic_n": 0},
        "boc-aminopropyl-glycinate": {
            "smiles": "CCOC(=O)CNCCCNC(=O)OC(C)(C)C",
            "role": "protected-intermediate",
            "basic_n": 1,
        },
        "aminopropyl-glycinate": {"smiles": "CCOC(=O)CNCCCN", "role": "linear-precursor", "basic_n": 2},
        "diazepan-2-one": {"smiles": "O=C1CNCCCN1", "role": "product", "basic_n": 1},
        "dialkylated": {"smiles": "CCOC(=O)CN(CCCNC(=O)OC(C)(C)C)CC(=O)OCC", "role": "dialkylated", "basic_n": 1},
        "linear-dimer": {"smiles": "CCOC(=O)CNCCCNC(=O)CNCCCN", "role": "oligomer", "basic_n": 3},
        "cyclic-dimer": {"smiles": "O=C1CNCCCNC(=O)CNCCCN1", "role": "oligomer", "basic_n": 2},
        "linear-trimer": {"smiles": "CCOC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCN", "role": "oligomer", "basic_n": 4},
        "cyclic-trimer": {"smiles": "O=C1CNCCCNC(=O)CNCCCNC(=O)CNCCCN1", "role": "oligomer", "basic_n": 3},
        "linear-tetramer": {
            "smiles": "CCOC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCN",
            "role": "oligomer",
            "basic_n": 5,
        },
        "cyclic-tetramer": {"smiles": "O=C1CNCCCNC(=O)CNCCCNC(=O)CNCCCNC(=O)CNCCCN1", "role": "oligomer", "basic_n": 4},
        "hydrolysed-aminopropyl-glycinate": {"smiles": "NCCCNCC(=O)O", "role": "hydrolysis", "basic_n": 2},
        "ring-contracted-diazepan-2-one": {"smiles": "O=C1CNCCN1", "role": "piperazine", "basic_n": 1},
    },
    "cyclobutylcarbonyl-diazepane": {
        "ethylenediamine": {"smiles": "NCCN", "role": "starting-material", "basic_n": 2},
        "dibromopropane": {"smiles": "BrCCCBr", "role": "reagent", "basic_n": 0},
        "bromopropyl-ethylenediamine": {"smiles": "NCCNCCCBr", "role": "linear-precursor", "basic_n": 2},
        "homopiperazine": {"smiles": "C1CNCCNC1", "role": "intermediate", "basic_n": 2},
        "cyclobutanecarbonyl-chloride": {"smiles": "O=C(Cl)C1CCC1", "role": "reagent", "basic_n": 0},
        "cyclobutylcarbonyl-diazepane": {"smiles": "O=C(C1CCC1)N1CCCNCC1", "role": "product", "basic_n": 1},
        "linear-dimer": {"smiles": "NCCNCCCNCCNCCCBr", "role": "oligomer", "basic_n": 4},
        "cyclic-dimer": {"smiles": "C1CNCCNCCCNCCNC1", "role": "oligomer", "basic_n": 4},
        "linear-trimer": {"smiles": "NCCNCCCNCCNCCCNCCNCCCBr", "role": "oligomer", "basic_n": 6},
        "cyclic-trimer": {"smiles": "C1CNCCNCCCNCCNCCCNCCNC1", "role": "oligomer", "basic_n": 6},
        "linear-tetramer": {"smiles": "NCCNCCCNCCNCCCNCCNCCCNCCNCCCBr", "role": "oligomer", "basic_n": 8},
        "cyclic-tetramer": {"smiles": "C1CNCCNCCCNCCNCCCNCCNCCCNCCNC1", "role": "oligomer", "basic_n": 8},
        "diacylated": {"smiles": "O=C(C1CCC1)N1CCCN(C(=O)C2CCC2)CC1", "role": "dialkylated", "basic_n": 0},
        "hydrolysed-cyclobutanecarbonyl-chloride": {"smiles": "O=C(O)C1CCC1", "role": "hydrolysis", "basic_n": 0},
        "ring-contracted-homopiperazine": {"smiles": "C1CNCCN1", "role": "piperazine", "basic_n": 2},
        "ring-contracted-cyclobutylcarbonyl-diazepane": {
            "smiles": "O=C(C1CCC1)N1CCNCC1",
            "role": "piperazine",
            "basic_n": 1,
        },
    },
}

# Stage main species and impurity lists (the route files' [[stages]], with
# '@role' expanded to the route's species of that role).
STAGES: dict[str, dict[str, dict]] = {
    "diazepan-2-one": {
        "alkylation": {
            "main": "boc-aminopropyl-glycinate",
            "type": "n-alkylation",
            "impurities": ["boc-diaminopropane", "ethyl-bromoacetate", "dialkylated"],
        },
        "deprotection": {
            "main": "aminopropyl-glycinate",
            "type": "boc-removal",
            "impurities": [
                "boc-aminopropyl-glycinate",
                "dialkylated",
                "hydrolysed-aminopropyl-glycinate",
                "diazepan-2-one",
            ],
        },
        "cyclization": {
            "main": "diazepan-2-one",
            "type": "ring-closure",
            "impurities": [
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
        },
        "salt": {
            "main": "diazepan-2-one",
            "type": "salt-formation",
            "final": True,
            "impurities": [
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
        },
    },
    "cyclobutylcarbonyl-diazepane": {
        "ring-formation": {
            "main": "homopiperazine",
            "type": "ring-closure",
            "impurities": [
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
        },
        "acylation": {
            "main": "cyclobutylcarbonyl-diazepane",
            "type": "n-acylation",
            "impurities": [
                "homopiperazine",
                "diacylated",
                "hydrolysed-cyclobutanecarbonyl-chloride",
                "ring-contracted-homopiperazine",
                "ring-contracted-cyclobutylcarbonyl-diazepane",
            ],
        },
        "final": {
            "main": "cyclobutylcarbonyl-diazepane",
            "type": None,
            "final": True,
            "impurities": [
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
        },
    },
}

# ---------------------------------------------------------------------------
# Group model

# Solvent increments per group class, in ppm, for (DMSO-d6, D2O, CD3OD)
# relative to the CDCl3 free-base value (FREE_BASE_OFFSETS), and for
# (DMSO-d6, CD3OD, CDCl3) relative to the D2O salt value (SALT_OFFSETS).
FREE_BASE_OFFSETS = {
    "NCH2": (-0.10, +0.05, +0.05),  # as Et3N CH2
    "CH2": (-0.07, +0.02, +0.03),  # as hexane CH2 / Et3N CH3
    "OCH2": (-0.09, +0.02, -0.03),  # as EtOAc OCH2
    "CH3": (-0.09, -0.02, -0.02),  # as EtOAc CH3 (ethyl ester)
    "tBu": (-0.07, -0.01, -0.01),  # as MTBE C(CH3)3
    "NCH2CO": (-0.12, +0.05, -0.01),
    "CH2NHCO": (-0.20, -0.05, -0.08),  # amide / carbamate N-H CH2 (DMSO values ~2.9-3.1)
    "CONCH2": (-0.08, +0.03, +0.02),  # as DMF N-CH3
    "CH2Br": (+0.05, +0.05, +0.02),
    "CHCO": (-0.12, +0.05, +0.02),
    "ring": (-0.08, +0.02, +0.02),
}
SALT_OFFSETS = {
    "NCH2": (-0.20, -0.03, -0.10),  # 1,3-diaminopropane 2HCl D2O 3.13 / DMSO 2.92
    "CH2": (-0.12, -0.04, -0.05),
    "OCH2": (-0.12, -0.02, -0.05),  # glycine ethyl ester HCl
    "CH3": (-0.07, 0.00, 0.00),
    "tBu": (-0.05, +0.01, +0.01),
    "NCH2CO": (-0.15, -0.05, -0.10),
    "CH2NHCO": (-0.15, -0.02, -0.05),
    "CONCH2": (-0.08, -0.02, -0.03),
    "CH2Br": (+0.03, -0.02, -0.05),
    "CHCO": (-0.12, -0.02, -0.05),
    "ring": (-0.08, -0.02, -0.03),
}


@dataclass(frozen=True)
class Group:
    """Magnetically equivalent protons of one species.

    shifts: per solvent (free base, salt) in ppm; exchangeable groups carry
    None where the solvent exchanges them away (D2O, CD3OD). width_hz: the
    group's own extra line width (exchange, 14N). j_ch: one-bond 13C-H
    coupling for the satellites (0: no carbon, e.g. NH).
    """

    label: str
    n_h: int
    shifts: dict[str, tuple[float | None, float | None]]
    exchangeable: bool = False
    width_hz: tuple[float, float] = (0.0, 0.0)
    j_ch: float = 130.0
    n_h_salt: int | None = None  # protons in the salt form (ammonium NH), if different

    def protons(self, salt: bool) -> int:
        return self.n_h_salt if (salt and self.n_h_salt is not None) else self.n_h


@dataclass(frozen=True)
class Fragment:
    """A coupled set of groups simulated together; `copies` identical copies
    of it are in the molecule (symmetric halves, repeat units)."""

    groups: tuple[Group, ...]
    couplings: tuple[tuple[str, str, float], ...] = ()
    copies: int = 1


@dataclass(frozen=True)
class SpeciesNMR:
    id: str
    fragments: tuple[Fragment, ...]
    rotamers: tuple[float, ...] = ()  # populations of amide rotamers (sum 1), if any
    rotamer_shift: float = 0.0  # ppm between rotamer signals of the N-CH2 groups


def _derived(cls: str, fb_cdcl3: float, salt_d2o: float | None) -> dict[str, tuple[float, float]]:
    """Per-solvent (free base, salt) shifts from the class increments."""
    if salt_d2o is None:
        salt_d2o = fb_cdcl3 + FREE_BASE_OFFSETS[cls][1]
    f = FREE_BASE_OFFSETS[cls]
    s = SALT_OFFSETS[cls]
    return {
        "CDCl3": (fb_cdcl3, round(salt_d2o + s[2], 3)),
        "DMSO-d6": (round(fb_cdcl3 + f[0], 3), round(salt_d2o + s[0], 3)),
        "D2O": (round(fb_cdcl3 + f[1], 3), salt_d2o),
        "CD3OD": (round(fb_cdcl3 + f[2], 3), round(salt_d2o + s[1], 3)),
    }


def G(
    label: str,
    n_h: int,
    cls: str,
    fb: float,
    salt: float | None = None,
    j_ch: float = 130.0,
    width: tuple[float, float] = (0.0, 0.0),
) -> Group:
    return Group(label, n_h, _derived(cls, fb, salt), j_ch=j_ch, width_hz=width)


def X(
    label: str,
    n_h: int,
    cdcl3: tuple,
    dmso: tuple,
    cd3od: tuple = (None, None),
    width: tuple[float, float] = (15.0, 30.0),
    salt_n: int | None = None,
) -> Group:
    """Exchangeable protons (NH, NH2, NH3+, NH2+, OH, COOH): explicit values;
    gone in D2O, and in CD3OD unless a value is given (slow amide exchange)."""
    return Group(
        label,
        n_h,
        {"CDCl3": cdcl3, "DMSO-d6": dmso, "D2O": (None, None), "CD3OD": cd3od},
        exchangeable=True,
        width_hz=width,
        j_ch=0.0,
        n_h_salt=salt_n,
    )


def E(label: str, n_h: int, values: dict[str, tuple[float, float]], j_ch: float = 135.0) -> Group:
    """A group with explicit per-solvent (free base, salt) shifts."""
    return Group(label, n_h, values, j_ch=j_ch)


ETHYL_J = 7.1
CHAIN_J = 6.8
AMIDE_NH_J = 5.6


def _ethyl_ester(prefix: str = "", n: int = 1) -> Fragment:
    return Fragment(
        (G(prefix + "OCH2", 2, "OCH2", 4.19, 4.30, j_ch=148.0), G(prefix + "CH3", 3, "CH3", 1.27, 1.30, j_ch=127.0)),
        ((prefix + "OCH2", prefix + "CH3", ETHYL_J),),
        copies=n,
    )


def _boc() -> Fragment:
    return Fragment((G("tBu", 9, "tBu", 1.44, 1.43, j_ch=126.0),))


def _amides_nh(n: int, label="CONH") -> Group:
    return X(label, n, (6.9, 7.2), (7.85, 8.15), (7.9, 8.1), width=(6.0, 10.0))


def _diazepan_route() -> dict[str, SpeciesNMR]:
    sp: dict[str, SpeciesNMR] = {}
    boc_nh = X("NHBoc", 1, (4.85, 4.95), (6.80, 6.85), width=(6.0, 8.0))
    sp["boc-diaminopropane"] = SpeciesNMR(
        "boc-diaminopropane",
        (
            _boc(),
            Fragment(
                (
                    G("CH2NHBoc", 2, "CH2NHCO", 3.19, 3.13, j_ch=138.0),
                    G("CH2", 2, "CH2", 1.60, 1.85),
                    G("CH2N", 2, "NCH2", 2.76, 3.02, j_ch=135.0),
                    boc_nh,
                    X("NH2", 2, (1.30, 8.2), (1.6, 7.9), width=(25.0, 30.0), salt_n=3),
                ),
                (("CH2NHBoc", "CH2", CHAIN_J), ("CH2", "CH2N", CHAIN_J), ("NHBoc", "CH2NHBoc", 6.0)),
            ),
        ),
    )
    sp["ethyl-bromoacetate"] = SpeciesNMR(
        "ethyl-bromoacetate",
        (
            Fragment(
                (G("OCH2", 2, "OCH2", 4.23, 4.25, j_ch=148.0), G("CH3", 3, "CH3", 1.30, 1.29, j_ch=127.0)),
                (("OCH2", "CH3", ETHYL_J),),
            ),
            Fragment(
                (
                    E(
                        "CH2Br",
                        2,
                        {"CDCl3": (3.84, 3.84), "DMSO-d6": (4.13, 4.13), "D2O": (3.98, 3.98), "CD3OD": (3.93, 3.93)},
                        j_ch=153.0,
                    ),
                )
            ),
        ),
    )
    gly_chain = (("NCH2", "CH2", CHAIN_J), ("CH2", "CH2NHBoc", CHAIN_J), ("NHBoc", "CH2NHBoc", 6.0))
    sp["boc-aminopropyl-glycinate"] = SpeciesNMR(
        "boc-aminopropyl-glycinate",
        (
            _ethyl_ester(),
            _boc(),
            Fragment((G("NCH2CO", 2, "NCH2CO", 3.39, 3.93, j_ch=138.0),)),
            Fragment(
                (
                    G("NCH2", 2, "NCH2", 2.66, 3.10),
                    G("CH2", 2, "CH2", 1.66, 1.88),
                    G("CH2NHBoc", 2, "CH2NHCO", 3.20, 3.15, j_ch=138.0),
                    boc_nh,
                ),
                gly_chain,
            ),
            Fragment((X("NH", 1, (1.75, 9.3), (2.2, 9.1), width=(25.0, 45.0), salt_n=2),)),
        ),
    )
    sp["aminopropyl-glycinate"] = SpeciesNMR(
        "aminopropyl-glycinate",
        (
            _ethyl_ester(),
            Fragment((G("NCH2CO", 2, "NCH2CO", 3.40, 4.02, j_ch=138.0),)),
            Fragment(
                (G("NCH2", 2, "NCH2", 2.68, 3.22), G("CH2", 2, "CH2", 1.65, 2.10), G("CH2NH2", 2, "NCH2", 2.77, 3.10)),
                (("NCH2", "CH2", CHAIN_J), ("CH2", "CH2NH2", CHAIN_J)),
            ),
            Fragment((X("NH+NH2", 3, (1.5, 8.6), (1.8, 8.4), width=(30.0, 45.0), salt_n=5),)),
        ),
    )
    # Product: explicit values (CDCl3 fb / salt, DMSO-d6, D2O, CD3OD).
    sp["diazepan-2-one"] = SpeciesNMR(
        "diazepan-2-one",
        (
            Fragment(
                (
                    E(
                        "H3",
                        2,
                        {"CDCl3": (3.52, 3.86), "DMSO-d6": (3.22, 3.74), "D2O": (3.45, 3.93), "CD3OD": (3.41, 3.86)},
                        j_ch=138.0,
                    ),
                )
            ),
            Fragment(
                (
                    E(
                        "H5",
                        2,
                        {"CDCl3": (2.97, 3.36), "DMSO-d6": (2.79, 3.24), "D2O": (2.90, 3.40), "CD3OD": (2.92, 3.37)},
                        j_ch=136.0,
                    ),
                    E(
                        "H6",
                        2,
                        {"CDCl3": (1.73, 2.02), "DMSO-d6": (1.56, 1.84), "D2O": (1.72, 2.01), "CD3OD": (1.73, 1.99)},
                        j_ch=128.0,
                    ),
                    E(
                        "H7",
                        2,
                        {"CDCl3": (3.28, 3.40), "DMSO-d6": (3.08, 3.17), "D2O": (3.26, 3.43), "CD3OD": (3.25, 3.38)},
                        j_ch=138.0,
                    ),
                    X("H1", 1, (6.35, 7.6), (7.55, 8.12), (7.7, 8.0), width=(8.0, 10.0)),
                ),
                (("H5", "H6", 5.9), ("H6", "H7", 5.6), ("H1", "H7", AMIDE_NH_J)),
            ),
            Fragment((X("H4", 1, (1.90, 9.7), (2.30, 9.45), width=(30.0, 50.0), salt_n=2),)),
        ),
    )
    # salt form: the NH2+ carries 2 H; the table value is its (single) group
    sp["dialkylated"] = SpeciesNMR(
        "dialkylated",
        (
            _ethyl_ester(n=2),
            _boc(),
            Fragment((G("N(CH2CO)2", 4, "NCH2CO", 3.53, 4.10, j_ch=138.0),)),
            Fragment(
                (
                    G("NCH2", 2, "NCH2", 2.72, 3.30),
                    G("CH2", 2, "CH2", 1.62, 1.92),
                    G("CH2NHBoc", 2, "CH2NHCO", 3.18, 3.15, j_ch=138.0),
                    boc_nh,
                ),
                gly_chain,
            ),
        ),
    )
    sp.update(_diazepan_oligomers())
    sp["hydrolysed-aminopropyl-glycinate"] = SpeciesNMR(
        "hydrolysed-aminopropyl-glycinate",
        (
            Fragment((G("NCH2CO2H", 2, "NCH2CO", 3.30, 3.62, j_ch=140.0),)),
            Fragment(
                (G("NCH2", 2, "NCH2", 2.70, 3.16), G("CH2", 2, "CH2", 1.68, 2.07), G("CH2NH2", 2, "NCH2", 2.80, 3.08)),
                (("NCH2", "CH2", CHAIN_J), ("CH2", "CH2NH2", CHAIN_J)),
            ),
            Fragment((X("NH/CO2H", 4, (3.5, 8.8), (5.0, 8.6), width=(60.0, 80.0), salt_n=6),)),
        ),
    )
    sp["ring-contracted-diazepan-2-one"] = SpeciesNMR(
        "ring-contracted-diazepan-2-one",
        (
            Fragment((G("H3", 2, "NCH2CO", 3.53, 3.90, j_ch=138.0),)),
            Fragment(
                (
                    G("H5", 2, "NCH2", 3.06, 3.50),
                    G("H6", 2, "CH2NHCO", 3.38, 3.62, j_ch=140.0),
                    X("H1", 1, (6.5, 7.8), (7.70, 8.30), (7.8, 8.1), width=(8.0, 10.0)),
                ),
                (("H5", "H6", 5.5), ("H1", "H6", 3.0)),
            ),
        ),
    )
    return sp


def _diazepan_oligomers() -> dict[str, SpeciesNMR]:
    """n-mers of ethyl N-(3-aminopropyl)glycinate less (n-1) EtOH, linear and
    cyclic, from their repeat units: amide glycinate CH2 (3.28; salt 3.85),
    amide-capped propyl chains (NCH2 2.68, CH2 1.68, CH2NHCO 3.33) and, for
    the linear ones, the ester end and an amine-capped chain."""
    out: dict[str, SpeciesNMR] = {}
    names = {2: "dimer", 3: "trimer", 4: "tetramer"}
    for n, word in names.items():
        amide_chain = Fragment(
            (
                G("NCH2", 2, "NCH2", 2.68, 3.12),
                G("CH2", 2, "CH2", 1.69, 1.93),
                G("CH2NHCO", 2, "CH2NHCO", 3.33, 3.36, j_ch=138.0),
                _amides_nh(1),
            ),
            (("NCH2", "CH2", CHAIN_J), ("CH2", "CH2NHCO", CHAIN_J), ("CONH", "CH2NHCO", AMIDE_NH_J)),
            copies=n,
        )
        gly_amide = Fragment((G("NCH2CONH", 2, "NCH2CO", 3.29, 3.86, j_ch=138.0),), copies=n)
        out[f"cyclic-{word}"] = SpeciesNMR(
            f"cyclic-{word}",
            (
                amide_chain,
                gly_amide,
                Fragment((X("NH", 1, (1.9, 9.2), (2.3, 9.0), width=(30.0, 45.0), salt_n=2),), copies=n),
            ),
        )
        lin_amide_chain = Fragment(amide_chain.groups, amide_chain.couplings, copies=n - 1)
        out[f"linear-{word}"] = SpeciesNMR(
            f"linear-{word}",
            (
                _ethyl_ester(),
                Fragment((G("NCH2CO2Et", 2, "NCH2CO", 3.40, 4.00, j_ch=138.0),)),
                Fragment((G("NCH2CONH", 2, "NCH2CO", 3.29, 3.86, j_ch=138.0),), copies=n - 1),
                lin_amide_chain,
                Fragment(
                    (
                        G("NCH2'", 2, "NCH2", 2.71, 3.18),
                        G("CH2'", 2, "CH2", 1.66, 2.08),
                        G("CH2NH2", 2, "NCH2", 2.78, 3.09),
                    ),
                    (("NCH2'", "CH2'", CHAIN_J), ("CH2'", "CH2NH2", CHAIN_J)),
                ),
                Fragment((X("NH", 1, (1.9, 9.2), (2.3, 9.0), width=(30.0, 45.0), salt_n=2),), copies=n + 1),
            ),
        )
    return out


def _cyclobutyl(j_ch=135.0) -> Fragment:
    """Cyclobutanecarbonyl: CH, the alpha CH2 protons cis and trans to the
    carbonyl (two each, by symmetry), the beta CH2 protons (one each); J from
    cyclobutane data: vicinal cis 9-10, trans 6-8, geminal -11 to -12 Hz."""
    return Fragment(
        (
            G("CH", 1, "CHCO", 3.24, 3.30, j_ch=j_ch),
            G("CHa-cis", 2, "ring", 2.33, 2.30),
            G("CHa-trans", 2, "ring", 2.14, 2.18),
            G("CHb-cis", 1, "ring", 1.96, 2.00),
            G("CHb-trans", 1, "ring", 1.84, 1.88),
        ),
        (
            ("CH", "CHa-cis", 9.4),
            ("CH", "CHa-trans", 8.2),
            ("CHa-cis", "CHa-trans", -11.5),
            ("CHa-cis", "CHb-cis", 9.6),
            ("CHa-cis", "CHb-trans", 7.2),
            ("CHa-trans", "CHb-cis", 7.4),
            ("CHa-trans", "CHb-trans", 9.4),
            ("CHb-cis", "CHb-trans", -11.2),
        ),
    )


def _cyclobutyl_route() -> dict[str, SpeciesNMR]:
    sp: dict[str, SpeciesNMR] = {}
    amine_nh2 = lambda n, s: X("NH", n, (1.4, 8.7), (1.8, 8.3), width=(30.0, 45.0), salt_n=s)
    sp["ethylenediamine"] = SpeciesNMR(
        "ethylenediamine", (Fragment((G("NCH2CH2N", 4, "NCH2", 2.74, 3.39, j_ch=134.0),)), Fragment((amine_nh2(4, 6),)))
    )
    sp["dibromopropane"] = SpeciesNMR(
        "dibromopropane",
        (
            Fragment(
                (G("CH2Br", 4, "CH2Br", 3.53, 3.55, j_ch=152.0), G("CH2", 2, "CH2", 2.36, 2.32)),
                (("CH2Br", "CH2", 6.5),),
            ),
        ),
    )
    sp["bromopropyl-ethylenediamine"] = SpeciesNMR(
        "bromopropyl-ethylenediamine",
        (
            Fragment(
                (
                    G("CH2Br", 2, "CH2Br", 3.47, 3.56, j_ch=152.0),
                    G("CH2", 2, "CH2", 2.02, 2.26),
                    G("NCH2", 2, "NCH2", 2.74, 3.26),
                ),
                (("CH2Br", "CH2", 6.6), ("CH2", "NCH2", 6.9)),
            ),
            Fragment(
                (G("NCH2CH2", 2, "NCH2", 2.70, 3.42), G("CH2NH2", 2, "NCH2", 2.82, 3.34)), (("NCH2CH2", "CH2NH2", 5.9),)
            ),
            Fragment((amine_nh2(3, 5),)),
        ),
    )
    sp["homopiperazine"] = SpeciesNMR(
        "homopiperazine",
        (
            Fragment((G("H2/H3", 4, "NCH2", 2.91, 3.62, j_ch=134.0),)),
            Fragment((G("H5/H7", 4, "NCH2", 2.86, 3.49), G("H6", 2, "CH2", 1.74, 2.23)), (("H5/H7", "H6", 5.9),)),
            Fragment((amine_nh2(2, 4),)),
        ),
    )
    sp["cyclobutanecarbonyl-chloride"] = SpeciesNMR(
        "cyclobutanecarbonyl-chloride",
        (
            Fragment(
                (G("CH", 1, "CHCO", 3.62, 3.62), G("CHa", 4, "ring", 2.38, 2.38), G("CHb", 2, "ring", 2.00, 2.00)),
                (("CH", "CHa", 8.5), ("CHa", "CHb", 8.5)),
            ),
        ),
    )
    # Product: tertiary amide, two rotamers (about 55:45) whose ring N-CH2
    # signals are 0.02-0.1 ppm apart.
    nco = "CONCH2"
    sp["cyclobutylcarbonyl-diazepane"] = SpeciesNMR(
        "cyclobutylcarbonyl-diazepane",
        (
            _cyclobutyl(),
            Fragment(
                (
                    E(
                        "H2",
                        2,
                        {"CDCl3": (3.55, 3.72), "DMSO-d6": (3.38, 3.55), "D2O": (3.58, 3.75), "CD3OD": (3.58, 3.74)},
                        j_ch=138.0,
                    ),
                    E(
                        "H3",
                        2,
                        {"CDCl3": (2.88, 3.28), "DMSO-d6": (2.68, 3.10), "D2O": (2.90, 3.33), "CD3OD": (2.90, 3.28)},
                        j_ch=136.0,
                    ),
                ),
                (("H2", "H3", 5.4),),
            ),
            Fragment(
                (
                    E(
                        "H7",
                        2,
                        {"CDCl3": (3.43, 3.62), "DMSO-d6": (3.31, 3.48), "D2O": (3.50, 3.66), "CD3OD": (3.50, 3.64)},
                        j_ch=138.0,
                    ),
                    E(
                        "H6",
                        2,
                        {"CDCl3": (1.77, 2.05), "DMSO-d6": (1.64, 1.93), "D2O": (1.82, 2.07), "CD3OD": (1.82, 2.04)},
                        j_ch=128.0,
                    ),
                    E(
                        "H5",
                        2,
                        {"CDCl3": (2.84, 3.22), "DMSO-d6": (2.62, 3.08), "D2O": (2.85, 3.27), "CD3OD": (2.85, 3.24)},
                        j_ch=136.0,
                    ),
                ),
                (("H7", "H6", 6.0), ("H6", "H5", 5.9)),
            ),
            Fragment((X("NH", 1, (1.85, 9.55), (2.25, 9.10), width=(30.0, 45.0), salt_n=2),)),
        ),
        rotamers=(0.55, 0.45),
        rotamer_shift=0.05,
    )
    sp["diacylated"] = SpeciesNMR(
        "diacylated",
        (
            Fragment(_cyclobutyl().groups, _cyclobutyl().couplings, copies=2),
            Fragment((G("NCH2CH2N", 4, nco, 3.50, 3.50, j_ch=138.0),)),
            Fragment(
                (G("NCH2", 4, nco, 3.45, 3.45, j_ch=138.0), G("CH2", 2, "CH2", 1.86, 1.86)), (("NCH2", "CH2", 6.0),)
            ),
        ),
        rotamers=(0.5, 0.5),
        rotamer_shift=0.06,
    )
    sp["hydrolysed-cyclobutanecarbonyl-chloride"] = SpeciesNMR(
        "hydrolysed-cyclobutanecarbonyl-chloride",
        (
            Fragment(
                (
                    G("CH", 1, "CHCO", 3.18, 3.18),
                    G("CHa-cis", 2, "ring", 2.33, 2.33),
                    G("CHa-trans", 2, "ring", 2.24, 2.24),
                    G("CHb-cis", 1, "ring", 2.02, 2.02),
                    G("CHb-trans", 1, "ring", 1.93, 1.93),
                ),
                (
                    ("CH", "CHa-cis", 9.0),
                    ("CH", "CHa-trans", 8.3),
                    ("CHa-cis", "CHa-trans", -11.5),
                    ("CHa-cis", "CHb-cis", 9.5),
                    ("CHa-cis", "CHb-trans", 7.3),
                    ("CHa-trans", "CHb-cis", 7.3),
                    ("CHa-trans", "CHb-trans", 9.5),
                    ("CHb-cis", "CHb-trans", -11.2),
                ),
            ),
            Fragment((X("CO2H", 1, (11.4, 11.4), (12.05, 12.05), width=(80.0, 80.0)),)),
        ),
    )
    sp["ring-contracted-homopiperazine"] = SpeciesNMR(
        "ring-contracted-homopiperazine",
        (Fragment((G("CH2", 8, "NCH2", 2.84, 3.57, j_ch=134.0),)), Fragment((amine_nh2(2, 4),))),
    )
    sp["ring-contracted-cyclobutylcarbonyl-diazepane"] = SpeciesNMR(
        "ring-contracted-cyclobutylcarbonyl-diazepane",
        (
            _cyclobutyl(),
            Fragment(
                (G("CONCH2", 2, nco, 3.57, 3.88, j_ch=138.0), G("CH2NH", 2, "NCH2", 2.84, 3.24)),
                (("CONCH2", "CH2NH", 5.2),),
            ),
            Fragment(
                (G("CONCH2'", 2, nco, 3.39, 3.80, j_ch=138.0), G("CH2NH'", 2, "NCH2", 2.80, 3.20)),
                (("CONCH2'", "CH2NH'", 5.2),),
            ),
            Fragment((amine_nh2(1, 2),)),
        ),
    )
    sp.update(_cyclobutyl_oligomers())
    return sp


def _cyclobutyl_oligomers() -> dict[str, SpeciesNMR]:
    """n-mers of N-(3-bromopropyl)ethylenediamine less (n-1) HBr: ethylene
    units (NCH2CH2N 2.72; salt 3.45), propylene units (NCH2 2.68 t, CH2 1.70
    quintet; salt 3.18 / 2.12) and, in the linear ones, the CH2Br end and the
    NH2 end. Cyclic ones have n of each unit."""
    out: dict[str, SpeciesNMR] = {}
    for n, word in {2: "dimer", 3: "trimer", 4: "tetramer"}.items():
        eth = Fragment((G("NCH2CH2N", 4, "NCH2", 2.73, 3.46, j_ch=134.0),), copies=n)
        prop = Fragment(
            (G("NCH2", 4, "NCH2", 2.68, 3.19), G("CH2", 2, "CH2", 1.70, 2.13)), (("NCH2", "CH2", 6.8),), copies=n
        )
        nh = Fragment((X("NH", 1, (1.6, 9.0), (2.0, 8.8), width=(30.0, 45.0), salt_n=2),), copies=2 * n)
        out[f"cyclic-{word}"] = SpeciesNMR(f"cyclic-{word}", (eth, prop, nh))
        out[f"linear-{word}"] = SpeciesNMR(
            f"linear-{word}",
            (
                Fragment(eth.groups, copies=n),
                Fragment(prop.groups, prop.couplings, copies=n - 1),
                Fragment(
                    (
                        G("CH2Br", 2, "CH2Br", 3.47, 3.56, j_ch=152.0),
                        G("CH2", 2, "CH2", 2.02, 2.26),
                        G("NCH2", 2, "NCH2", 2.74, 3.26),
                    ),
                    (("CH2Br", "CH2", 6.6), ("CH2", "NCH2", 6.9)),
                ),
                Fragment((X("NH", 1, (1.6, 9.0), (2.0, 8.8), width=(30.0, 45.0), salt_n=2),), copies=2 * n + 1),
            ),
        )
    return out


@lru_cache(maxsize=None)
def species_tables() -> dict[str, dict[str, SpeciesNMR]]:
    return {"diazepan-2-one": _diazepan_route(), "cyclobutylcarbonyl-diazepane": _cyclobutyl_route()}


# ---------------------------------------------------------------------------
# Deuterated solvents: residual peaks and water (Fulmer 2010, Table 1)


@dataclass(frozen=True)
class DeuteratedSolvent:
    name: str
    residual_ppm: float | None  # residual protio-solvent signal (None: D2O, merged with HOD)
    residual_pattern: tuple[tuple[float, float], ...]  # (offset Hz, relative intensity)
    residual_j_ch: float
    residual_h_molar: float  # mol/L of solvent positions that carry the residual H
    water_ppm: float  # literature water / HOD shift
    water_range: tuple[float, float]  # range seen in practice (exchange, acid, temperature)
    lock_ppm: float  # the 2H lock frequency reference the spectrometer uses
    label: str  # Bruker SOLVENT string


def _quintet(j: float) -> tuple[tuple[float, float], ...]:
    return tuple(((k - 2) * j, w / 9.0) for k, w in enumerate((1, 2, 3, 2, 1)))


DEUTERATED = {
    "CDCl3": DeuteratedSolvent("CDCl3", 7.26, ((0.0, 1.0),), 209.0, 12.5, 1.56, (1.50, 2.40), 7.24, "CDCl3"),
    "DMSO-d6": DeuteratedSolvent("DMSO-d6", 2.50, _quintet(1.9), 137.0, 14.1 * 6, 3.33, (3.30, 3.90), 2.49, "DMSO"),
    "D2O": DeuteratedSolvent("D2O", None, ((0.0, 1.0),), 0.0, 55.4 * 2, 4.79, (4.70, 4.85), 4.70, "D2O"),
    "CD3OD": DeuteratedSolvent("CD3OD", 3.31, _quintet(1.7), 141.0, 24.7 * 3, 4.87, (4.80, 4.95), 3.31, "MeOD"),
}

# ---------------------------------------------------------------------------
# Process solvents (Fulmer 2010 / Gottlieb 1997, Table 1): per solvent, shift
# in (CDCl3, DMSO-d6, D2O, CD3OD); None: not listed (insoluble).


@dataclass(frozen=True)
class SolventGroup:
    label: str
    n_h: int
    ppm: tuple[float | None, float | None, float | None, float | None]
    j_ch: float = 127.0
    exchangeable: bool = False


@dataclass(frozen=True)
class ProcessSolvent:
    name: str  # as the truth names it
    ich_name: str  # compound name in ich_q3c.csv
    smiles: str
    groups: tuple[SolventGroup, ...]
    couplings: tuple[tuple[str, str, float], ...] = ()
    copies: int = 1  # symmetric halves simulated once (THF, hexane)
    salt_groups: tuple[SolventGroup, ...] = ()  # protonated form (triethylammonium) if basic


PROCESS_SOLVENTS: dict[str, ProcessSolvent] = {
    s.name: s
    for s in (
        ProcessSolvent(
            "acetonitrile", "acetonitrile", "CC#N", (SolventGroup("CH3", 3, (2.10, 2.07, 2.06, 2.03), 136.0),)
        ),
        ProcessSolvent(
            "dichloromethane", "dichloromethane", "ClCCl", (SolventGroup("CH2Cl2", 2, (5.30, 5.76, None, 5.49), 178.0),)
        ),
        ProcessSolvent(
            "N,N-dimethylformamide",
            "dimethylformamide",
            "CN(C)C=O",
            (
                SolventGroup("CHO", 1, (8.02, 7.95, 7.92, 7.96), 191.0),
                SolventGroup("CH3", 3, (2.96, 2.89, 3.01, 2.99), 138.0),
                SolventGroup("CH3'", 3, (2.88, 2.73, 2.85, 2.86), 138.0),
            ),
        ),
        ProcessSolvent(
            "1,4-dioxane", "1,4-dioxane", "C1COCCO1", (SolventGroup("CH2", 8, (3.71, 3.57, 3.75, 3.66), 145.0),)
        ),
        ProcessSolvent(
            "diethyl ether",
            "diethyl ether",
            "CCOCC",
            (
                SolventGroup("CH2", 4, (3.48, 3.38, 3.56, 3.49), 141.0),
                SolventGroup("CH3", 6, (1.21, 1.09, 1.17, 1.18), 126.0),
            ),
            (("CH2", "CH3", 7.0),),
        ),
        ProcessSolvent(
            "ethanol",
            "ethanol",
            "CCO",
            (
                SolventGroup("CH2", 2, (3.72, 3.44, 3.65, 3.60), 141.0),
                SolventGroup("CH3", 3, (1.25, 1.06, 1.17, 1.19), 126.0),
                SolventGroup("OH", 1, (1.32, 4.63, None, None), 0.0, True),
            ),
            (("CH2", "CH3", 7.0), ("CH2", "OH", 5.1)),
        ),
        ProcessSolvent(
            "ethyl acetate",
            "ethyl acetate",
            "CCOC(C)=O",
            (
                SolventGroup("CH3CO", 3, (2.05, 1.99, 2.07, 2.01), 130.0),
                SolventGroup("OCH2", 2, (4.12, 4.03, 4.14, 4.09), 148.0),
                SolventGroup("CH3", 3, (1.26, 1.17, 1.24, 1.24), 127.0),
            ),
            (("OCH2", "CH3", 7.1),),
        ),
        ProcessSolvent(
            "hexane",
            "hexanes",
            "CCCCCC",
            (
                SolventGroup("CH3", 3, (0.88, 0.86, None, 0.90), 125.0),
                SolventGroup("CH2(2)", 2, (1.27, 1.25, None, 1.29), 125.0),
                SolventGroup("CH2(3)", 2, (1.26, 1.24, None, 1.29), 125.0),
            ),
            (("CH3", "CH2(2)", 7.0), ("CH2(2)", "CH2(3)", 7.0)),
            copies=2,
        ),
        ProcessSolvent(
            "methanol",
            "methanol",
            "CO",
            (
                SolventGroup("CH3", 3, (3.49, 3.16, 3.34, 3.34), 141.0),
                SolventGroup("OH", 1, (1.09, 4.01, None, None), 0.0, True),
            ),
            (("CH3", "OH", 5.2),),
        ),
        ProcessSolvent(
            "MTBE",
            "MTBE",
            "COC(C)(C)C",
            (
                SolventGroup("OCH3", 3, (3.22, 3.08, 3.22, 3.20), 141.0),
                SolventGroup("C(CH3)3", 9, (1.19, 1.11, 1.21, 1.15), 126.0),
            ),
        ),
        ProcessSolvent(
            "tetrahydrofuran",
            "tetrahydrofuran",
            "C1CCOC1",
            (
                SolventGroup("OCH2", 2, (3.76, 3.60, 3.74, 3.71), 145.0),
                SolventGroup("CH2", 2, (1.85, 1.76, 1.88, 1.87), 132.0),
            ),
            (("OCH2", "CH2", 6.7),),
            copies=2,
        ),
        ProcessSolvent(
            "toluene",
            "toluene",
            "Cc1ccccc1",
            (
                SolventGroup("CH3", 3, (2.36, 2.30, None, 2.32), 126.0),
                SolventGroup("o-H", 2, (7.17, 7.18, None, 7.16), 158.0),
                SolventGroup("m-H", 2, (7.25, 7.25, None, 7.16), 158.0),
                SolventGroup("p-H", 1, (7.17, 7.18, None, 7.16), 158.0),
            ),
            (("o-H", "m-H", 7.6), ("m-H", "p-H", 7.5), ("o-H", "p-H", 1.2)),
        ),
        ProcessSolvent(
            "triethylamine",
            "triethylamine",
            "CCN(CC)CC",
            (
                SolventGroup("CH2", 2, (2.53, 2.43, 2.57, 2.58), 132.0),
                SolventGroup("CH3", 3, (1.03, 0.93, 0.99, 1.05), 126.0),
            ),
            (("CH2", "CH3", 7.2),),
            copies=3,
            salt_groups=(
                SolventGroup("CH2", 2, (3.10, 3.08, 3.19, 3.19), 144.0),
                SolventGroup("CH3", 3, (1.40, 1.18, 1.27, 1.30), 128.0),
            ),
        ),
    )
}

# Aliases the scoring side accepts for each solvent name (lower case).
SOLVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "acetonitrile": ("acetonitrile", "mecn", "ch3cn", "acn", "methyl cyanide"),
    "dichloromethane": ("dichloromethane", "dcm", "methylene chloride", "ch2cl2", "methylene dichloride"),
    "N,N-dimethylformamide": ("n,n-dimethylformamide", "dimethylformamide", "dmf"),
    "1,4-dioxane": ("1,4-dioxane", "dioxane", "p-dioxane"),
    "diethyl ether": ("diethyl ether", "ether", "et2o", "ethyl ether"),
    "ethanol": ("ethanol", "etoh", "ethyl alcohol"),
    "ethyl acetate": ("ethyl acetate", "etoac", "ethyl ethanoate"),
    "hexane": ("hexane", "hexanes", "n-hexane", "hexane(s)"),
    "methanol": ("methanol", "meoh", "methyl alcohol"),
    "MTBE": (
        "mtbe",
        "tert-butyl methyl ether",
        "methyl tert-butyl ether",
        "t-butyl methyl ether",
        "tbme",
        "2-methoxy-2-methylpropane",
    ),
    "tetrahydrofuran": ("tetrahydrofuran", "thf"),
    "toluene": ("toluene", "methylbenzene"),
    "triethylamine": ("triethylamine", "tea", "et3n", "triethylammonium"),
}


def canonical_solvent(name: str) -> str | None:
    key = name.strip().lower()
    for canon, aliases in SOLVENT_ALIASES.items():
        if key in aliases:
            return canon
    return None


@lru_cache(maxsize=None)
def ich_limits() -> dict[str, tuple[str, float | None]]:
    """ICH Q3C class and limit (ppm) by ich_q3c.csv compound name."""
    path = Path(__file__).resolve().parents[2] / "src" / "specqc" / "data" / "ich_q3c.csv"
    out = {}
    with open(path, newline="") as fh:
        rows = [line for line in fh if not line.startswith("#")]
    for row in csv.DictReader(rows):
        lim = row["limit_ppm"].strip()
        out[row["compound"]] = (row["ich_class"].strip(), float(lim) if lim else None)
    return out


@lru_cache(maxsize=None)
def molar_mass(smiles: str) -> float:
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    return float(Descriptors.MolWt(Chem.MolFromSmiles(smiles)))


HCL = 36.461

# Bruker digital filter group delays of the older DSP firmware (DSPFVS 10-12)
# by decimation factor: W. M. Westler and F. Abildgaard, "DMX digital filters
# and non-Bruker offline processing III" (1996).
BRUKER_DSP_DELAY = {
    10: {
        2: 44.75,
        3: 33.5,
        4: 66.625,
        6: 59.083333,
        8: 68.5625,
        12: 60.375,
        16: 69.53125,
        24: 61.020833,
        32: 70.015625,
        48: 61.34375,
        64: 70.257813,
        96: 61.505208,
        128: 70.378906,
        192: 61.5859375,
        256: 70.439453,
    },
    11: {
        2: 46.0,
        3: 36.5,
        4: 48.0,
        6: 50.166667,
        8: 53.25,
        12: 69.5,
        16: 72.25,
        24: 70.166667,
        32: 72.75,
        48: 70.5,
        64: 73.0,
        96: 70.666667,
        128: 72.5,
        192: 71.333333,
        256: 72.25,
    },
}
