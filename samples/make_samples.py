"""Regenerate samples/lcms/*.mzML, samples/nmr/*/ (Bruker raw experiments) and
their ground truth with specqc's simulators.

    python samples/make_samples.py            # all samples
    python samples/make_samples.py NAME ...   # some

Each sample is one stage of one route with one failure mode (or none). An
LC-MS truth file records each component's true share of the ion signal and
the status an analysis must report for every species that is present or must
be reported tentative (ambiguous with each other); any species not listed must be reported not detected.
Every truth file also gives the QC verdict and the exact set of diagnoses
(`qc`). samples/sets/ names several files of one sample analysed together.
An NMR truth file records each compound's molar ratio to the main component,
each process solvent's ppm w/w, and which species and solvents an analysis must
find (nothing else may be reported).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from specqc.chem.route import load_route
from specqc.simulate.lcms import Component as C
from specqc.simulate.lcms import RunSettings, settings_dict, simulate, simulate_uv, write_mzml, write_truth
from specqc.simulate.uv import DADSettings
from specqc.simulate import nmr as nmr_sim
from specqc.simulate.nmr import NMRComponent as N
from specqc.simulate.nmr import NMRSettings, Signal

HERE = Path(__file__).resolve().parent / "lcms"
NMR_HERE = Path(__file__).resolve().parent / "nmr"
HR = RunSettings(
    resolution="high",
    mode="centroid",
    n_scans=240,
    noise_peaks_per_scan=20,
    mz_range=(50.0, 1000.0),
    background_ions=20,
)
HR_PROFILE = replace(HR, mode="profile", n_scans=200, noise_peaks_per_scan=10, background_ions=10)
UNIT = RunSettings(
    resolution="unit", mode="centroid", n_scans=240, noise_peaks_per_scan=20, background_ions=40, mz_range=(80.0, 800.0)
)
UNIT_PROFILE = replace(UNIT, mode="profile", n_scans=200, noise_peaks_per_scan=10, background_ions=25)
UNIT_PROFILE_DAD = replace(UNIT_PROFILE, rt_end_min=4.0, dad=DADSettings())
# UV bands of the unknowns (nm, sigma nm, molar absorptivity): a phenol and an aryl ketone
PHENOL_BANDS = ((222.0, 9.0, 8000.0), (275.0, 8.0, 1400.0))
ARYL_KETONE_BANDS = ((204.0, 10.0, 9000.0), (242.0, 10.0, 13000.0), (280.0, 10.0, 1100.0))

# name: (route, stage, settings, components, expected non-"not-detected" statuses, description)
SCENARIOS = {
    "dz-alkylation-clean": (
        "diazepan-2-one",
        "alkylation",
        HR,
        [C(3.3, 1.0e7, "boc-aminopropyl-glycinate"), C(2.7, 6.0e4, formula="C10H14N2O2")],
        {"boc-aminopropyl-glycinate": "detected"},
        "clean mono-alkylation",
    ),
    "dz-alkylation-overalkylation": (
        "diazepan-2-one",
        "alkylation",
        HR,
        [C(3.3, 6.0e6, "boc-aminopropyl-glycinate"), C(3.9, 1.5e6, "dialkylated"), C(2.4, 8.0e5, "boc-diaminopropane")],
        {"boc-aminopropyl-glycinate": "detected", "dialkylated": "detected", "boc-diaminopropane": "detected"},
        "second alkylation on the secondary amine",
    ),
    "dz-alkylation-incomplete": (
        "diazepan-2-one",
        "alkylation",
        UNIT,
        [C(3.3, 5.0e6, "boc-aminopropyl-glycinate"), C(2.4, 4.0e6, "boc-diaminopropane")],
        {"boc-aminopropyl-glycinate": "detected", "boc-diaminopropane": "detected"},
        "starting amine left, single-quad data",
    ),
    "dz-deprotection-clean": (
        "diazepan-2-one",
        "deprotection",
        HR,
        [C(1.6, 8.0e6, "aminopropyl-glycinate")],
        {"aminopropyl-glycinate": "detected"},
        "clean Boc removal",
    ),
    "dz-deprotection-boc-left": (
        "diazepan-2-one",
        "deprotection",
        HR_PROFILE,
        [C(1.6, 6.0e6, "aminopropyl-glycinate"), C(3.3, 2.5e6, "boc-aminopropyl-glycinate")],
        {"aminopropyl-glycinate": "detected", "boc-aminopropyl-glycinate": "detected"},
        "Boc left on; its in-source [M+H-Boc]+ has the precursor's m/z (profile data)",
    ),
    "dz-cyclization-clean": (
        "diazepan-2-one",
        "cyclization",
        HR,
        [C(1.1, 1.0e7, "diazepan-2-one", ion_shares={"[2M+H]+": 0.08})],
        {"diazepan-2-one": "detected"},
        "clean lactam; strong [2M+H]+ that is not the cyclic dimer",
    ),
    "dz-cyclization-oligomers": (
        "diazepan-2-one",
        "cyclization",
        HR,
        [
            C(1.1, 5.0e6, "diazepan-2-one"),
            C(1.6, 8.0e5, "aminopropyl-glycinate"),
            C(2.0, 1.0e6, "linear-dimer"),
            C(1.8, 7.0e5, "cyclic-dimer"),
            C(2.4, 4.0e5, "linear-trimer"),
            C(0.8, 5.0e5, "hydrolysed-aminopropyl-glycinate"),
        ],
        {
            "diazepan-2-one": "detected",
            "aminopropyl-glycinate": "detected",
            "linear-dimer": "detected",
            "cyclic-dimer": "detected",
            "linear-trimer": "detected",
            "hydrolysed-aminopropyl-glycinate": "detected",
        },
        "too concentrated and wet: oligomers, precursor left, ester hydrolysis",
    ),
    "dz-cyclization-isobar": (
        "diazepan-2-one",
        "cyclization",
        HR,
        [C(1.1, 6.0e6, "diazepan-2-one"), C(1.12, 1.0e6, formula="C6H14N2")],
        {"diazepan-2-one": "detected"},
        "an unknown co-eluting at nominal m/z 115, resolved at high resolution",
    ),
    "dz-cyclization-piperazine": (
        "diazepan-2-one",
        "cyclization",
        UNIT,
        [C(1.1, 6.0e6, "diazepan-2-one"), C(0.95, 1.2e6, "ring-contracted-diazepan-2-one")],
        {"diazepan-2-one": "detected", "ring-contracted-diazepan-2-one": "detected"},
        "six-membered lactam from a two-carbon diamine impurity, single-quad data",
    ),
    "dz-salt-clean": (
        "diazepan-2-one",
        "salt",
        UNIT_PROFILE,
        [C(1.1, 8.0e6, "diazepan-2-one"), C(2.2, 2.5e4, formula="C9H11NO3")],
        {"diazepan-2-one": "detected"},
        "clean final salt, unit-resolution profile data",
    ),
    "dz-cyclization-failed": (
        "diazepan-2-one",
        "cyclization",
        UNIT,
        [C(1.6, 5.0e6, "aminopropyl-glycinate"), C(2.0, 1.5e6, "linear-dimer"), C(2.4, 6.0e5, "linear-trimer")],
        {"aminopropyl-glycinate": "detected", "linear-dimer": "detected", "linear-trimer": "detected"},
        "no lactam at all: triethylamine in ethanol at 0.5 M gave only precursor and chains",
    ),
    "dz-cyclization-hydrolysis": (
        "diazepan-2-one",
        "cyclization",
        HR,
        [C(1.1, 8.0e6, "diazepan-2-one"), C(0.8, 6.0e5, "hydrolysed-aminopropyl-glycinate")],
        {"diazepan-2-one": "detected", "hydrolysed-aminopropyl-glycinate": "detected"},
        "lactam formed, but wet t-BuOK turned some ester into the amino acid",
    ),
    "dz-salt-uv-clean": (
        "diazepan-2-one",
        "salt",
        UNIT_PROFILE_DAD,
        [
            C(1.1, 8.0e6, "diazepan-2-one", uv_amount=16.0),
            C(2.2, 2.5e4, formula="C9H11NO3", uv_amount=0.03, uv_bands=PHENOL_BANDS),
        ],
        {"diazepan-2-one": "detected"},
        "clean final salt with a diode-array trace: UV area % passes",
    ),
    "dz-salt-uv-coeluting": (
        "diazepan-2-one",
        "salt",
        UNIT_PROFILE_DAD,
        [
            C(1.1, 8.0e6, "diazepan-2-one", uv_amount=16.0),
            C(2.2, 2.5e4, formula="C9H11NO3", uv_amount=0.03, uv_bands=PHENOL_BANDS),
            C(1.17, 0.0, formula="C8H8O", uv_amount=0.07, uv_bands=ARYL_KETONE_BANDS),
        ],
        {"diazepan-2-one": "detected"},
        "final salt whose MS looks clean, with a neutral aryl ketone that barely ionises co-eluting on the "
        "product's tail: DAD peak purity fails and the 254 nm trace shows it",
    ),
    "dz-salt-lowpurity": (
        "diazepan-2-one",
        "salt",
        UNIT_PROFILE,
        [C(1.1, 8.0e6, "diazepan-2-one"), C(2.2, 4.0e5, formula="C9H11NO3")],
        {"diazepan-2-one": "detected"},
        "final salt with an unknown (not a route species) at about 5 % of the ion signal",
    ),
    "cb-ring-formation-clean": (
        "cyclobutylcarbonyl-diazepane",
        "ring-formation",
        HR,
        [C(0.9, 8.0e6, "homopiperazine")],
        {"homopiperazine": "detected"},
        "clean [4+3] ring formation",
    ),
    "cb-ring-formation-oligomers": (
        "cyclobutylcarbonyl-diazepane",
        "ring-formation",
        HR,
        [
            C(0.9, 6.0e6, "homopiperazine"),
            C(1.3, 1.0e6, "cyclic-dimer", ion_shares={"[M+2H]2+": 0.5}),
            C(1.9, 5.0e5, "linear-dimer"),
            C(0.7, 4.0e5, "ethylenediamine"),
            C(0.8, 5.0e5, "ring-contracted-homopiperazine"),
        ],
        {
            "homopiperazine": "detected",
            "cyclic-dimer": "detected",
            "linear-dimer": "detected",
            "ethylenediamine": "detected",
            "ring-contracted-homopiperazine": "detected",
        },
        "cyclam whose [M+2H]2+ has homopiperazine's [M+H]+ m/z; piperazine; linear dimer",
    ),
    "cb-acylation-bis": (
        "cyclobutylcarbonyl-diazepane",
        "acylation",
        HR,
        [C(2.6, 6.0e6, "cyclobutylcarbonyl-diazepane"), C(3.5, 1.5e6, "diacylated"), C(0.9, 5.0e5, "homopiperazine")],
        {"cyclobutylcarbonyl-diazepane": "detected", "diacylated": "detected", "homopiperazine": "detected"},
        "bis-acylation with excess acid chloride",
    ),
    "cb-acylation-unit-ambiguous": (
        "cyclobutylcarbonyl-diazepane",
        "acylation",
        UNIT,
        [C(2.6, 6.0e6, "cyclobutylcarbonyl-diazepane"), C(0.9, 8.0e5, "homopiperazine"), C(3.5, 5.0e5, "diacylated")],
        {
            "cyclobutylcarbonyl-diazepane": "detected",
            "diacylated": "detected",
            "homopiperazine": ("tentative", ["hydrolysed-cyclobutanecarbonyl-chloride"]),
            "hydrolysed-cyclobutanecarbonyl-chloride": ("tentative", ["homopiperazine"]),
        },
        "m/z 101 at unit resolution: homopiperazine and cyclobutanecarboxylic acid cannot be told apart",
    ),
    "cb-acylation-hr-resolved": (
        "cyclobutylcarbonyl-diazepane",
        "acylation",
        HR,
        [C(2.6, 6.0e6, "cyclobutylcarbonyl-diazepane"), C(0.9, 8.0e5, "homopiperazine")],
        {"cyclobutylcarbonyl-diazepane": "detected", "homopiperazine": "detected"},
        "the same m/z 101 case at high resolution: resolved",
    ),
    "cb-acylation-negative": (
        "cyclobutylcarbonyl-diazepane",
        "acylation",
        replace(HR, polarity="negative"),
        [C(2.6, 2.0e6, "cyclobutylcarbonyl-diazepane"), C(2.9, 1.5e6, "hydrolysed-cyclobutanecarbonyl-chloride")],
        {"cyclobutylcarbonyl-diazepane": "detected", "hydrolysed-cyclobutanecarbonyl-chloride": "detected"},
        "negative-mode run: the hydrolysed acid chloride as [M-H]-",
    ),
    "cb-acylation-clean": (
        "cyclobutylcarbonyl-diazepane",
        "acylation",
        HR,
        [C(2.6, 8.0e6, "cyclobutylcarbonyl-diazepane")],
        {"cyclobutylcarbonyl-diazepane": "detected"},
        "clean mono-acylation",
    ),
    "cb-final-clean": (
        "cyclobutylcarbonyl-diazepane",
        "final",
        HR_PROFILE,
        [C(2.6, 9.0e6, "cyclobutylcarbonyl-diazepane")],
        {"cyclobutylcarbonyl-diazepane": "detected"},
        "clean final product, high-resolution profile data",
    ),
}


# The salt (1,4-diazepan-2-one hydrochloride) in DMSO-d6, as a QC lab runs it:
# the residual quintet, water from the solvent and the salt, 13C satellites.
SALT = NMRSettings(solvent="DMSO-d6", form="hydrochloride")
SALT_BASE = [N("diazepan-2-one", 1.0, satellites=True), N("residual", 0.9, "residual")]
WATER = N("water", 0.35, "water", extra_width_hz=3.0)
ACETONE = N("acetone (not a route solvent)", 0.002, "unknown", signals=(Signal(2.09, "s", 6),))

# name: (route, stage, settings, components, expected species, expected solvents, description)
NMR_SCENARIOS = {
    # a clean sample is acquired long enough (noise a third of the others') for every ICH solvent's limit of
    # detection to fall below its limit: THF's broad multiplets and hexanes' 290 ppm need it
    "dz-salt-nmr-clean": (
        "diazepan-2-one",
        "salt",
        replace(SALT, axis_error_ppm=0.06, noise=1.5e-3),
        [*SALT_BASE, WATER, N("diethyl ether", 0.004, "solvent"), ACETONE],
        ["diazepan-2-one"],
        ["diethyl ether"],
        "clean salt: a trace of ether below its ICH limit, an acetone line nothing on the route explains",
    ),
    "dz-salt-nmr-ether": (
        "diazepan-2-one",
        "salt",
        replace(SALT, axis_error_ppm=-0.05),
        [*SALT_BASE, WATER, N("diethyl ether", 0.03, "solvent")],
        ["diazepan-2-one"],
        ["diethyl ether"],
        "salt precipitated from ether and not dried enough",
    ),
    "dz-salt-nmr-dioxane": (
        "diazepan-2-one",
        "salt",
        replace(SALT, axis_error_ppm=0.11),
        [*SALT_BASE, WATER, N("1,4-dioxane", 0.008, "solvent")],
        ["diazepan-2-one"],
        ["1,4-dioxane"],
        "salt from HCl in dioxane: dioxane above its Class 2 limit",
    ),
    "dz-salt-nmr-wet": (
        "diazepan-2-one",
        "salt",
        replace(SALT, axis_error_ppm=0.03),
        [*SALT_BASE, N("water", 2.5, "water", extra_width_hz=6.0, signals=(Signal(3.40, "s", 2),))],
        ["diazepan-2-one"],
        [],
        "hygroscopic salt left open to air: water moved downfield and broadened",
    ),
    "dz-salt-nmr-boc-left": (
        "diazepan-2-one",
        "salt",
        replace(SALT, axis_error_ppm=-0.08),
        [*SALT_BASE, WATER, N("boc-aminopropyl-glycinate", 0.04)],
        ["diazepan-2-one", "boc-aminopropyl-glycinate"],
        [],
        "incomplete deprotection carried through",
    ),
    "dz-salt-nmr-ester-left": (
        "diazepan-2-one",
        "salt",
        replace(SALT, axis_error_ppm=0.09),
        [*SALT_BASE, WATER, N("aminopropyl-glycinate", 0.06)],
        ["diazepan-2-one", "aminopropyl-glycinate"],
        [],
        "uncyclized ethyl ester: ethyl quartet and triplet without an acetyl singlet",
    ),
    "dz-salt-nmr-ethyl-acetate": (
        "diazepan-2-one",
        "salt",
        replace(SALT, axis_error_ppm=-0.02),
        [*SALT_BASE, WATER, N("ethyl acetate", 0.02, "solvent")],
        ["diazepan-2-one"],
        ["ethyl acetate"],
        "ethyl acetate from the work-up: ethyl signals with the acetyl singlet, not an ester of the route",
    ),
    "dz-cyclization-nmr-ester": (
        "diazepan-2-one",
        "cyclization",
        NMRSettings(solvent="CDCl3", form="free base", axis_error_ppm=0.05),
        [
            N("diazepan-2-one", 1.0, satellites=True),
            N("residual", 0.15, "residual"),
            N("tms", 0.01, "tms"),
            N("water", 0.2, "water", extra_width_hz=2.0),
            N("aminopropyl-glycinate", 0.12),
        ],
        ["diazepan-2-one", "aminopropyl-glycinate"],
        [],
        "crude lactam in CDCl3 with TMS: linear ester left by an incomplete cyclization",
    ),
    "cb-final-nmr-clean": (
        "cyclobutylcarbonyl-diazepane",
        "final",
        NMRSettings(solvent="CDCl3", form="free base", axis_error_ppm=-0.04, noise=1.5e-3),
        [
            N("cyclobutylcarbonyl-diazepane", 1.0, satellites=True),
            N("residual", 0.12, "residual"),
            N("tms", 0.01, "tms"),
            N("water", 0.15, "water", extra_width_hz=2.0),
            N("ethyl acetate", 0.004, "solvent"),
        ],
        ["cyclobutylcarbonyl-diazepane"],
        ["ethyl acetate"],
        "final amide in CDCl3: a trace of ethyl acetate from the extraction, below its limit",
    ),
}

# What the QC of each sample must conclude: (verdict, diagnoses). Exactly these
# diagnoses, no others. MS alone cannot confirm identity at the final stage
# (the guide asks for NMR and MS), so a clean final run on its own is inconclusive.
QC_EXPECTED = {
    "dz-alkylation-clean": ("pass", []),
    "dz-alkylation-overalkylation": ("fail", ["over-alkylation", "incomplete-alkylation"]),
    "dz-alkylation-incomplete": ("fail", ["incomplete-alkylation"]),
    "dz-deprotection-clean": ("pass", []),
    "dz-deprotection-boc-left": ("fail", ["incomplete-deprotection"]),
    "dz-cyclization-clean": ("pass", []),
    "dz-cyclization-oligomers": ("fail", ["incomplete-cyclization", "oligomerization", "ester-hydrolysis"]),
    "dz-cyclization-isobar": ("pass", []),
    "dz-cyclization-piperazine": ("fail", ["piperazine-formation"]),
    "dz-cyclization-failed": ("fail", ["product-not-found", "incomplete-cyclization", "oligomerization"]),
    "dz-cyclization-hydrolysis": ("pass", ["ester-hydrolysis"]),
    "dz-salt-clean": ("inconclusive", []),
    # MS area % is semi-quantitative: purity is not judged on it, the low share is a warning
    "dz-salt-lowpurity": ("inconclusive", ["low-purity"]),
    "dz-salt-uv-clean": ("inconclusive", []),
    "dz-salt-uv-coeluting": ("fail", ["low-purity"]),
    "cb-ring-formation-clean": ("pass", []),
    "cb-ring-formation-oligomers": ("fail", ["incomplete-cyclization", "oligomerization", "piperazine-formation"]),
    "cb-acylation-clean": ("pass", []),
    "cb-acylation-bis": ("fail", ["over-acylation", "incomplete-alkylation"]),
    "cb-acylation-unit-ambiguous": ("fail", ["over-acylation"]),
    "cb-acylation-hr-resolved": ("fail", ["incomplete-alkylation"]),
    "cb-acylation-negative": ("pass", ["ester-hydrolysis"]),
    "cb-final-clean": ("inconclusive", []),
    "dz-salt-nmr-clean": ("inconclusive", []),
    "dz-salt-nmr-ether": ("fail", ["residual-solvent"]),
    "dz-salt-nmr-dioxane": ("fail", ["residual-solvent"]),
    "dz-salt-nmr-wet": ("fail", ["water-uptake"]),
    "dz-salt-nmr-boc-left": ("fail", ["incomplete-deprotection", "low-purity"]),
    "dz-salt-nmr-ester-left": ("fail", ["incomplete-cyclization", "low-purity"]),
    "dz-salt-nmr-ethyl-acetate": ("fail", ["residual-solvent"]),
    "dz-cyclization-nmr-ester": ("fail", ["incomplete-cyclization"]),
    "cb-final-nmr-clean": ("inconclusive", []),
}

# Several files of one sample analysed together: name -> (route, stage, inputs under
# samples/, verdict, diagnoses, description).
SETS = {
    "dz-salt-complete-clean": (
        "diazepan-2-one",
        "salt",
        ["lcms/dz-salt-clean.mzML", "nmr/dz-salt-nmr-clean"],
        "pass",
        [],
        "final salt with LC-MS and 1H NMR: identity, purity, salt, solvents",
    ),
    "cb-final-complete-clean": (
        "cyclobutylcarbonyl-diazepane",
        "final",
        ["lcms/cb-final-clean.mzML", "nmr/cb-final-nmr-clean"],
        "pass",
        [],
        "final amide with LC-MS and 1H NMR",
    ),
    "dz-salt-uv-complete-clean": (
        "diazepan-2-one",
        "salt",
        ["lcms/dz-salt-uv-clean.mzML", "nmr/dz-salt-nmr-clean"],
        "pass",
        [],
        "final salt with LC-UV-MS and 1H NMR; purity judged on UV area %",
    ),
    "dz-salt-disagreement": (
        "diazepan-2-one",
        "salt",
        ["lcms/dz-salt-clean.mzML", "nmr/dz-salt-nmr-boc-left"],
        "fail",
        ["incomplete-deprotection", "low-purity"],
        "the NMR sees 4 mol % Boc intermediate that the LC-MS run does not",
    ),
}
SETS_HERE = Path(__file__).resolve().parent / "sets"


def _qc_truth(name: str) -> dict:
    verdict, diagnoses = QC_EXPECTED[name]
    return {"verdict": verdict, "diagnoses": sorted(diagnoses)}


def make_set(name: str) -> None:
    import json

    route_id, stage, inputs, verdict, diagnoses, description = SETS[name]
    SETS_HERE.mkdir(exist_ok=True)
    document = {
        "schema": "specqc.truth/1",
        "sample": name,
        "route": route_id,
        "stage": stage,
        "description": description,
        "inputs": inputs,
        "qc": {"verdict": verdict, "diagnoses": sorted(diagnoses)},
    }
    (SETS_HERE / f"{name}.truth.json").write_text(
        json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def make_nmr(name: str) -> None:
    route_id, stage, settings, components, species, solvents, description = NMR_SCENARIOS[name]
    route = load_route(route_id)
    settings = replace(settings, seed=_seed(name))
    fid, truth = nmr_sim.simulate(route, components, settings)
    nmr_sim.write_bruker(NMR_HERE / name / "1", fid, settings)
    counterion = "HCl" if settings.form == "hydrochloride" else ""
    main = route.stage(stage).main[0]
    for component in truth["components"]:
        if component["kind"] == "solvent":
            component["ppm_w_w"] = round(
                nmr_sim.truth_ppm_w_w(route, main, component["name"], component["mol_ratio"], counterion)
            )
    nmr_sim.write_truth(
        NMR_HERE / f"{name}.truth.json",
        truth,
        {
            "sample": name,
            "route": route_id,
            "stage": stage,
            "description": description,
            "settings": nmr_sim.settings_dict(settings),
            "expected": {"species": sorted(species), "solvents": sorted(solvents)},
            "qc": _qc_truth(name),
        },
    )


def make(name: str) -> None:
    if name in NMR_SCENARIOS:
        make_nmr(name)
        return
    if name in SETS:
        make_set(name)
        return
    route_id, stage, settings, components, expected, description = SCENARIOS[name]
    route = load_route(route_id)
    settings = replace(settings, seed=_seed(name))
    scans, truth = simulate(route, components, settings)
    diode_array, uv_truth = simulate_uv(route, components, settings)
    write_mzml(HERE / f"{name}.mzML", scans, settings, diode_array=diode_array)
    if uv_truth is not None:
        truth["uv"] = uv_truth
    statuses = {}
    for species_id, value in expected.items():
        status, partners = (value, []) if isinstance(value, str) else value
        statuses[species_id] = {"status": status, "ambiguous_with": partners}
    write_truth(
        HERE / f"{name}.truth.json",
        truth,
        {
            "sample": name,
            "route": route_id,
            "stage": stage,
            "description": description,
            "settings": settings_dict(settings),
            "expected": statuses,
            "qc": _qc_truth(name),
        },
    )


def _seed(name: str) -> int:
    import zlib

    return zlib.crc32(name.encode("utf-8"))


if __name__ == "__main__":
    names = sys.argv[1:] or [*SCENARIOS, *NMR_SCENARIOS, *SETS]
    for sample in names:
        make(sample)
        print(f"wrote {sample}")
