"""LC-MS validation scenarios: a wide, independently modelled parameter space.

One scenario is one injection of a reaction sample at one stage of a built-in
route, measured on one drawn "instrument", optionally with a blank run of the
same instrument. ``draw_lcms_scenario(seed, index)`` draws every parameter
(reproducibly, from ``numpy.random.default_rng([seed, index])``);
``write_lcms_scenario(scenario, folder)`` turns them into mzML files and a
truth JSON. The model is built from first principles and the literature cited
below, not from specqc's simulator.

Physics and where the numbers come from
---------------------------------------
Chromatography. Each compound elutes as an exponentially modified Gaussian
(EMG; Grushka, Anal. Chem. 1972, 44, 1733; tailing figures of merit in Foley &
Dorsey, Anal. Chem. 1983, 55, 730) with a Gaussian FWHM of 3-30 s (longer runs
give broader peaks), a tail time constant tau/sigma of 0-3, and in some runs a
fronting (mirrored EMG) peak, as overloaded or poorly dissolved amines show.
Retention follows a hydrophobicity score from the Crippen logP (Wildman &
Crippen, J. Chem. Inf. Comput. Sci. 1999, 39, 868) lowered by each basic
amine (protonated at the usual formic-acid pH), mapped through a drawn
sigmoid onto the gradient, plus a drawn scatter; hydrophilic-interaction
(HILIC) runs reverse the order. Small polyamines therefore often elute in or
near the void (t0 = 4-10 % of the run), where salts suppress ionisation.
Retention times are never taken from any "expected" value.

Ionisation. The would-be response of each compound is amount x response
factor; response factors span more than 10x between compounds, compounds
without a basic nitrogen respond 3-20x worse in positive mode (and amines far
worse in negative mode). Co-eluting compounds compete for the droplet's excess
charge (Enke, Anal. Chem. 1997, 69, 4885; ion suppression as reviewed by
Annesley, Clin. Chem. 2003, 49, 1041): every ion current at time t is
multiplied by 1/(1 + C(t)/C50), C(t) the summed would-be response eluting at t
and C50 drawn per run (or no suppression at all), and by a dip around the
void. Each compound's current splits over a drawn adduct mix ([M+H]+,
[M+Na]+, [M+K]+, [M+NH4]+ with ammonium buffers, [M+2H]2+ for polyamines,
solvent adducts [M+ACN+H]+ / [M+CH3OH+H]+, [M+H-H2O]+; negative mode [M-H]-,
[M+HCOO]- or [M+CH3COO]- from the buffer, [M+Cl]-), proton-bound dimers
[2M+H]+, [2M+Na]+, [2M-H]- whose share grows with concentration (they form in
the droplet, so their current goes with c(t)^2; Cech & Enke, Mass Spectrom.
Rev. 2001, 20, 362), and in-source fragments drawn with one per-run "cone
voltage" factor: Boc groups lose isobutene (-56.0626) and the whole Boc
(-100.0524), ethyl esters ethanol, primary amines NH3, alkyl bromides HBr (the
bromopropyl amine's [M+H-HBr]+ is homopiperazine's [M+H]+), acids CO2 in
negative mode.

Mass analysis. Unit resolution (~40 %): a quadrupole with a constant FWHM of
0.4-0.8 Da (vendor single-quad specifications are ~0.6-0.7 Da FWHM) or a
low-resolution trap with R 1000-3000, a calibration offset up to +/-0.3 Da and
0.01-0.05 Da scatter; centroids written at full precision, at nominal m/z or
quantised to 0.1 Da. High resolution (~60 %): a TOF with constant R 5k-60k, or
an Orbitrap whose R falls as 1/sqrt(m/z) (Makarov, Anal. Chem. 2000, 72, 1156;
Hu et al., J. Mass Spectrom. 2005, 40, 430) with R(200) 15k-120k; a
systematic offset up to +/-5 ppm, a drift of up to +/-1.5 ppm over the run, and
per-peak scatter of 0.3-2.5 ppm that grows as 1/sqrt(intensity). Isotopologues
come from pyopenms (fine structure at high resolution); peaks closer than
0.85 FWHM (the Gaussian's unresolved limit) are centroided together, which is
how isobars merge at unit resolution. Profile spectra are rendered as
Gaussians on the analyzer's natural grid (constant points per FWHM) and
zero-suppressed. Intensities carry ion-counting noise, a per-scan spray
flicker of 2-10 %, single-scan spikes and either random noise centroids (high
resolution) or a chemical-noise continuum at nominal masses (single quads).
Some runs saturate the detector: the most intense channel is clipped (flat
apex, distorted isotope ratios).

Chemical background (Keller et al., Anal. Chim. Acta 2008, 627, 71,
"Interferences and contaminants encountered in modern mass spectrometry"):
plasticisers (phthalates: m/z 149.0233, DBP 279.1591, DEHP 391.2843/413.2662),
cyclic polysiloxanes (D5-D8, e.g. 371.1012, 445.1200), PEG and PPG series,
erucamide, tributyl phosphate, DMSO clusters ([DMSO+Na]+ sits at nominal 101),
sodium formate clusters, acetonitrile clusters, triethylamine, and the
vendors' lock/reference masses (purine 121.0509 and HP-0921 922.0098,
Agilent API-TOF reference mix; leucine enkephalin 556.2766 for Waters
lockspray); in negative mode formate/acetate clusters, TFA, fatty acids
(palmitate 255.2330, stearate 283.2643), dodecyl sulfate and phthalate
monoesters. Persistent ions wander slowly, rise in the gradient's wash, and
polymer series elute as humps much wider than the peaks.

Blanks (~30 %) share the instrument and background and carry over some sample
species at 0.01-1 % (autosampler carry-over specifications are typically
< 0.01-0.1 %; dirty needles and amine adsorption give more); in some, a route
species is in the sample only as carry-over, at a level comparable to the
blank, and the truth marks it as not present. Non-route compounds include lab
chemicals (bases, coupling by-products, TPPO, caffeine, ion-pair reagents),
isobars (a formula whose ion lies within 0.3-8 ppm of a route ion at high
resolution, or on the same nominal m/z at unit resolution, found by
enumerating CHNOSPCl formulas), and true isomers of route species at another
retention time. About a quarter of final-stage runs carry a UV absorbance
trace (mzML chromatogram, PSI-MS MS:1000812 with the wavelength as
lowest/highest observed wavelength) with per-compound extinction coefficients
(amide/ester/carbamate n-pi* tails at 200-230 nm, aromatic distractors
strong at 254 nm), a void disturbance, drift, a gradient-following baseline
at low wavelength and noise.

Truth: per route species presence, molar amount relative to the stage's main
species, the summed ion current over all its in-range ions and isotopes after
response factor and suppression but before saturation and noise (the quantity
MS could see), its ratio to the main species, its share of all compounds'
current, and each ion's share.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .chem import (
    ION_TYPES,
    ROUTES,
    features,
    hill,
    ion_formula,
    ion_mz,
    ion_possible,
    isotope_pattern,
    last_stage,
    mol_formula,
    neutral_mass,
    parse_formula,
    route_species,
    stage_roles,
    MONO,
    ELECTRON,
)

TRUTH_SCHEMA = "specqc.validation-truth/1"
FILE_BUDGET_BYTES = 3_800_000  # each mzML file stays below ~4 MB
SPECTRUM_XML_BYTES = 2_000  # per-spectrum XML (cvParams, scan, array headers), +~450 with a scan window
PROFILE_MAX_SCANS = 450  # profile runs scan no more than this, to keep them small
UNIT_PROFILE_MAX_SCANS = 300  # (single-quad profile data: every point of a 0.1 Da grid near a peak)

# ---------------------------------------------------------------------------
# Non-route compounds (name, SMILES). Lab chemicals of amine chemistry.
UNRELATED = [
    ("triphenylphosphine oxide", "O=P(c1ccccc1)(c1ccccc1)c1ccccc1"),
    ("N,N-diisopropylethylamine", "CCN(C(C)C)C(C)C"),
    ("4-dimethylaminopyridine", "CN(C)c1ccncc1"),
    ("DBU", "C1CCC2=NCCCN2CC1"),
    ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"),
    ("N-methyl-2-pyrrolidone", "CN1CCCC1=O"),
    ("1,3-dicyclohexylurea", "O=C(NC1CCCCC1)NC1CCCCC1"),
    ("1-hydroxybenzotriazole", "On1nnc2ccccc21"),
    ("tert-butyl carbamate", "CC(C)(C)OC(N)=O"),
    ("4-methylmorpholine", "CN1CCOCC1"),
    ("lidocaine", "CCN(CC)CC(=O)Nc1c(C)cccc1C"),
    ("tetrabutylammonium", "CCCC[N+](CCCC)(CCCC)CCCC"),
    ("benzyltriethylammonium", "CC[N+](CC)(CC)Cc1ccccc1"),
    ("imidazole", "c1c[nH]cn1"),
    ("diethanolamine", "OCCNCCO"),
    ("benzoic acid", "OC(=O)c1ccccc1"),
    ("p-toluenesulfonic acid", "Cc1ccc(cc1)S(=O)(=O)O"),
    ("N,N'-diisopropylurea", "CC(C)NC(=O)NC(C)C"),
    ("tributylamine", "CCCCN(CCCC)CCCC"),
    ("2-ethylhexanoic acid", "CCCCC(CC)C(=O)O"),
]

# True isomers (same formula as a route species), checked against RDKit at import.
ISOMERS = {
    "C5H10N2O": [
        ("4-methylpiperazin-2-one", "CN1CCNC(=O)C1"),
        ("3-aminopiperidin-2-one", "NC1CCCNC1=O"),
        ("1-methylpiperazin-2-one", "CN1CCNCC1=O"),
    ],
    "C5H12N2": [
        ("1-methylpiperazine", "CN1CCNCC1"),
        ("2-methylpiperazine", "CC1CNCCN1"),
        ("3-aminopiperidine", "NC1CCCNC1"),
    ],
    "C4H10N2": [("1-aminopyrrolidine", "NN1CCCC1"), ("2-methylimidazolidine", "CC1NCCN1")],
    "C4H8N2O": [("1-methylimidazolidin-2-one", "CN1CCNC1=O"), ("4-methylimidazolidin-2-one", "CC1CNC(=O)N1")],
    "C7H16N2O2": [("lysine methyl ester", "COC(=O)C(N)CCCCN")],
    "C12H24N2O4": [("Boc-lysine methyl ester", "COC(=O)C(CCCCN)NC(=O)OC(C)(C)C")],
    "C8H18N2O2": [("tert-butyl N-(2-aminoethyl)-N-methylcarbamate", "CN(CCN)C(=O)OC(C)(C)C")],
    "C10H18N2O": [("1-(cyclopentanecarbonyl)piperazine", "O=C(C1CCCC1)N1CCNCC1")],
    "C9H16N2O": [("1-(cyclopropanecarbonyl)-1,4-diazepane", "O=C(C1CC1)N1CCCNCC1")],
    "C5H12N2O2": [("ornithine", "NCCCC(N)C(=O)O")],
    "C5H8O2": [("tiglic acid", "CC=C(C)C(=O)O"), ("ethyl acrylate", "C=CC(=O)OCC")],
    "C2H8N2": [("1,1-dimethylhydrazine", "CN(C)N")],
}
for _formula, _entries in ISOMERS.items():
    for _name, _smiles in _entries:
        assert mol_formula(_smiles) == _formula, (_name, mol_formula(_smiles), _formula)

# ---------------------------------------------------------------------------
# Chemical background. (name, neutral formula or ion formula, ion type; "ION" means the
# formula is already the ion's composition with the given charge).
BACKGROUND_POS = [
    ("phthalate fragment (protonated phthalic anhydride)", "C8H5O3", "ION+"),
    ("dibutyl phthalate", "C16H22O4", "[M+H]+"),
    ("dibutyl phthalate", "C16H22O4", "[M+Na]+"),
    ("bis(2-ethylhexyl) phthalate", "C24H38O4", "[M+H]+"),
    ("bis(2-ethylhexyl) phthalate", "C24H38O4", "[M+Na]+"),
    ("bis(2-ethylhexyl) phthalate", "C24H38O4", "[M+NH4]+"),
    ("decamethylcyclopentasiloxane (D5)", "C10H30O5Si5", "[M+H]+"),
    ("D5 siloxane", "C10H30O5Si5", "[M+NH4]+"),
    ("dodecamethylcyclohexasiloxane (D6)", "C12H36O6Si6", "[M+H]+"),
    ("D6 siloxane", "C12H36O6Si6", "[M+NH4]+"),
    ("D7 siloxane", "C14H42O7Si7", "[M+H]+"),
    ("D8 siloxane", "C16H48O8Si8", "[M+H]+"),
    ("erucamide", "C22H43NO", "[M+H]+"),
    ("tributyl phosphate", "C12H27O4P", "[M+H]+"),
    ("DMSO", "C2H6OS", "[M+H]+"),
    ("DMSO", "C2H6OS", "[M+Na]+"),
    ("DMSO dimer", "C2H6OS", "[2M+H]+"),
    ("triethylamine", "C6H15N", "[M+H]+"),
    ("acetonitrile dimer", "C2H3N", "[2M+H]+"),
    ("acetonitrile sodium adduct", "C2H3N", "[M+Na]+"),
    ("sodium formate cluster n=1", "C1H1O2Na2", "ION+"),
    ("sodium formate cluster n=2", "C2H2O4Na3", "ION+"),
    ("sodium formate cluster n=3", "C3H3O6Na4", "ION+"),
    ("sodium formate cluster n=4", "C4H4O8Na5", "ION+"),
    ("N,N-dimethylformamide", "C3H7NO", "[M+H]+"),
    ("diisooctyl adipate", "C22H42O4", "[M+Na]+"),
    ("Irgafos 168 oxide", "C42H63O4P", "[M+H]+"),
]
LOCK_POS = {
    "agilent": [
        ("purine (reference mass)", "C5H4N4", "[M+H]+"),
        ("HP-0921 (reference mass)", "C18H18O6N3P3F24", "[M+H]+"),
    ],
    "waters": [("leucine enkephalin (lock mass)", "C28H37N5O7", "[M+H]+")],
}
BACKGROUND_NEG = [
    ("formate dimer", "C2H3O4", "ION-"),
    ("sodium formate cluster n=1", "C2H2O4Na", "ION-"),
    ("sodium formate cluster n=2", "C3H3O6Na2", "ION-"),
    ("sodium formate cluster n=3", "C4H4O8Na3", "ION-"),
    ("trifluoroacetate", "C2HF3O2", "[M-H]-"),
    ("palmitic acid", "C16H32O2", "[M-H]-"),
    ("stearic acid", "C18H36O2", "[M-H]-"),
    ("oleic acid", "C18H34O2", "[M-H]-"),
    ("dodecyl sulfate", "C12H26O4S", "[M-H]-"),
    ("mono(2-ethylhexyl) phthalate", "C16H22O4", "[M-H]-"),
    ("acetate cluster (Na)", "C4H6O4Na", "ION-"),
    ("chloride adduct of DMSO", "C2H6OS", "[M+Cl]-"),
    ("dibutyl phosphate", "C8H19O4P", "[M-H]-"),
    ("perfluorooctanoic acid", "C8HF15O2", "[M-H]-"),
]
LOCK_NEG = {
    "agilent": [
        ("TFA anion (reference mass)", "C2HF3O2", "[M-H]-"),
        ("HP-0921 + TFA (reference mass)", "C20H18O8N3P3F27", "ION-"),
    ],
    "waters": [("leucine enkephalin (lock mass)", "C28H37N5O7", "[M-H]-")],
}


# ---------------------------------------------------------------------------
# Small helpers


def _logu(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _choice(rng, options, p=None):
    i = int(rng.choice(len(options), p=p))
    return options[i]


def _mz_of(formula_text: str, ion: str) -> tuple[dict, int, float]:
    """(ion composition, charge, monoisotopic m/z) for a background entry."""
    if ion in ("ION+", "ION-"):
        comp = parse_formula(formula_text)
        charge = 1 if ion == "ION+" else -1
    else:
        comp, charge = ion_formula(parse_formula(formula_text), ion)
    mz = (neutral_mass(comp) - charge * ELECTRON) / abs(charge)
    return comp, charge, mz


class Resolution:
    """FWHM(m/z) of the analyzer and the coordinate in which it is constant (the profile grid)."""

    def __init__(self, spec: dict):
        self.kind = spec["kind"]
        self.spec = spec

    def fwhm(self, mz):
        mz = np.asarray(mz, dtype=float)
        if self.kind == "constant-fwhm":
            return np.full_like(mz, self.spec["fwhm_da"])
        if self.kind == "constant-r":
            return mz / self.spec["resolving_power"]
        return mz**1.5 / (self.spec["resolving_power_at_200"] * math.sqrt(200.0))  # orbitrap

    def to_u(self, mz, k):
        """Grid coordinate with k points per FWHM."""
        mz = np.asarray(mz, dtype=float)
        if self.kind == "constant-fwhm":
            step = min(0.1, self.spec["fwhm_da"] / k) if self.spec.get("grid_da") is None else self.spec["grid_da"]
            return mz / step
        if self.kind == "constant-r":
            return np.log(mz) * self.spec["resolving_power"] * k
        return -2.0 / np.sqrt(mz) * self.spec["resolving_power_at_200"] * math.sqrt(200.0) * k

    def from_u(self, u, k):
        u = np.asarray(u, dtype=float)
        if self.kind == "constant-fwhm":
            step = min(0.1, self.spec["fwhm_da"] / k) if self.spec.get("grid_da") is None else self.spec["grid_da"]
            return u * step
        if self.kind == "constant-r":
            return np.exp(u / (self.spec["resolving_power"] * k))
        return (2.0 * self.spec["resolving_power_at_200"] * math.sqrt(200.0) * k / -u) ** 2

    def points_per_fwhm(self, k):
        if self.kind == "constant-fwhm":
            step = min(0.1, self.spec["fwhm_da"] / k) if self.spec.get("grid_da") is None else self.spec["grid_da"]
            return self.spec["fwhm_da"] / step
        return float(k)

    def resolving_power_at(self, mz):
        return float(mz / self.fwhm(np.array([mz]))[0])


# ---------------------------------------------------------------------------
# Drawing


def _draw_instrument(rng) -> dict:
    inst: dict = {}
    if rng.random() < 0.40:
        inst["resolution_class"] = "unit"
        if rng.random() < 0.6:
            inst["analyzer"] = "quadrupole"
            inst["resolution"] = {"kind": "constant-fwhm", "fwhm_da": round(rng.uniform(0.4, 0.8), 3)}
        else:
            inst["analyzer"] = "ion trap"
            inst["resolution"] = {"kind": "constant-r", "resolving_power": round(_logu(rng, 1000, 3000))}
        inst["cal_offset_da"] = round(float(np.clip(rng.normal(0, 0.12), -0.3, 0.3)), 4)
        inst["cal_drift_ppm"] = 0.0
        inst["cal_offset_ppm"] = 0.0
        inst["scatter_da"] = round(rng.uniform(0.01, 0.05), 4)
        inst["scatter_ppm"] = 0.0
        inst["mode"] = "profile" if rng.random() < 0.30 else "centroid"
        inst["mz_quantisation"] = (
            "none" if inst["mode"] == "profile" else _choice(rng, ["nominal", "0.1", "none"], p=[0.35, 0.35, 0.30])
        )
        inst["apex_intensity"] = _logu(rng, 1e5, 1e7)
    else:
        inst["resolution_class"] = "high"
        if rng.random() < 0.5:
            inst["analyzer"] = "tof"
            inst["resolution"] = {"kind": "constant-r", "resolving_power": round(_logu(rng, 5000, 60000))}
        else:
            inst["analyzer"] = "orbitrap"
            inst["resolution"] = {"kind": "orbitrap", "resolving_power_at_200": round(_logu(rng, 15000, 120000))}
        inst["cal_offset_ppm"] = round(rng.uniform(-5, 5), 3)
        inst["cal_drift_ppm"] = round(rng.uniform(-1.5, 1.5), 3)
        inst["cal_offset_da"] = 0.0
        inst["scatter_ppm"] = round(rng.uniform(0.3, 2.5), 3)
        inst["scatter_da"] = 0.0
        inst["mode"] = "profile" if rng.random() < 0.35 else "centroid"
        inst["mz_quantisation"] = "none"
        inst["apex_intensity"] = _logu(rng, 1e5, 3e7)
    res = Resolution(inst["resolution"])
    inst["resolving_power_at_200"] = round(res.resolving_power_at(200.0))
    inst["fwhm_da_at_200"] = round(float(res.fwhm(np.array([200.0]))[0]), 5)
    inst["profile_points_per_fwhm"] = int(rng.integers(3, 6)) if inst["mode"] == "profile" else None
    inst["metadata_analyzer"] = bool(rng.random() < 0.75)
    inst["metadata_resolution"] = bool(inst["metadata_analyzer"] and rng.random() < 0.5)
    inst["vendor_flavour"] = _choice(rng, ["agilent", "waters", "thermo", "generic"])
    inst["lock_mass"] = bool(
        inst["resolution_class"] == "high" and inst["vendor_flavour"] in ("agilent", "waters") and rng.random() < 0.6
    )
    inst["scan_low"] = float(
        _choice(rng, [50, 60, 70, 80, 90, 100, 120, 150], p=[0.2, 0.12, 0.1, 0.12, 0.08, 0.2, 0.1, 0.08])
    )
    inst["scan_high"] = float(_choice(rng, [500, 600, 800, 1000, 1200, 1500]))
    inst["snr"] = _logu(rng, 2e3, 1e5)  # main channel apex / electronic noise sd
    inst["threshold_factor"] = round(rng.uniform(2.0, 4.0) if inst["mode"] == "centroid" else rng.uniform(1.0, 2.5), 3)
    inst["count_gain_factor"] = round(rng.uniform(0.2, 1.0), 3)  # counting-noise gain / noise sd
    inst["flicker_sd"] = round(rng.uniform(0.02, 0.10), 4)
    inst["noise_peaks_per_scan"] = round(_logu(rng, 5, 60), 2)
    inst["continuum_fraction"] = (
        round(rng.uniform(0.05, 0.3) * (0.3 if inst["mode"] == "profile" else 1.0), 3)
        if inst["resolution_class"] == "unit"
        else 0.0
    )
    inst["continuum_level"] = round(_logu(rng, 1.0, 8.0), 3)
    inst["spikes_per_run"] = round(_logu(rng, 0.5, 20), 2)
    inst["saturation"] = bool(rng.random() < 0.15)
    inst["saturation_fraction"] = round(rng.uniform(0.25, 0.7), 3) if inst["saturation"] else None
    inst["in_source_energy"] = round(_logu(rng, 0.3, 2.0), 3)
    inst["write_tic"] = bool(rng.random() < 0.5)
    inst["write_scan_window"] = bool(rng.random() < 0.5)
    return inst


def _draw_lc(rng, mode: str, unit: bool) -> dict:
    lc: dict = {}
    run = _logu(rng, 2.0, 30.0)
    lc["run_min"] = round(run, 3)
    lc["column"] = "HILIC" if rng.random() < 0.2 else "reversed-phase"
    lc["organic"] = "acetonitrile" if rng.random() < 0.75 else "methanol"
    lc["additive"] = _choice(rng, ["formic acid", "ammonium formate", "ammonium acetate"], p=[0.6, 0.25, 0.15])
    lc["t0_min"] = round(max(0.12, run * rng.uniform(0.04, 0.10)), 4)
    lc["gradient_end_min"] = round(run * rng.uniform(0.55, 0.8), 3)
    lc["wash_end_min"] = round(min(run * 0.95, lc["gradient_end_min"] + run * rng.uniform(0.08, 0.15)), 3)
    fwhm = _logu(rng, 3.0, min(30.0, 3.0 + 1.5 * run))
    lo_i = run * 60 / 1500
    if mode == "profile":
        lo_i = max(lo_i, run * 60 / PROFILE_MAX_SCANS)
    hi_i = min(run * 60 / 150, fwhm / 2.5)
    if lo_i > hi_i:
        fwhm = min(30.0, max(fwhm, lo_i * 2.5))
        hi_i = max(lo_i, min(run * 60 / 150, fwhm / 2.5))
    interval = _logu(rng, lo_i, hi_i) if hi_i > lo_i else lo_i
    n_scans = int(np.clip(round(run * 60 / interval), 150, PROFILE_MAX_SCANS if mode == "profile" else 1500))
    if mode == "profile" and unit:
        n_scans = min(n_scans, UNIT_PROFILE_MAX_SCANS)
    lc["n_scans"] = n_scans
    lc["scan_interval_s"] = round(run * 60 / n_scans, 4)
    lc["fwhm_s"] = round(fwhm, 3)
    lc["tau_ratio"] = round(rng.uniform(0.0, 2.0), 3)
    lc["fronting_run"] = bool(rng.random() < 0.15)
    lc["h_mid"] = round(rng.uniform(-1.5, 2.0), 3)
    lc["h_scale"] = round(rng.uniform(0.7, 2.0), 3)
    lc["rt_scatter_frac"] = round(rng.uniform(0.01, 0.06), 4)
    lc["void_suppression"] = round(rng.uniform(0.2, 0.8), 3)
    lc["suppression"] = bool(rng.random() < 0.7)
    lc["c50_ratio"] = round(_logu(rng, 0.5, 20.0), 3) if lc["suppression"] else None
    lc["blank_rt_shift_min"] = round(rng.normal(0, 0.01 * run), 4)
    return lc


def _hydrophobicity(smiles: str) -> float:
    f = features(smiles)
    return f["logp"] - 0.9 * f["basic_n"] - 1.5 * f["quaternary"] + 0.4 * f["aromatic"] - 0.6 * f["acid"]


def _draw_rt(rng, smiles, lc) -> float:
    h = _hydrophobicity(smiles)
    if lc["column"] == "HILIC":
        h = -h
    frac = 1.0 / (1.0 + math.exp(-(h - lc["h_mid"]) / lc["h_scale"]))
    t0, tg = lc["t0_min"], lc["gradient_end_min"]
    rt = t0 + frac * (tg - t0) * 1.05 + rng.normal(0, lc["rt_scatter_frac"] * lc["run_min"])
    return float(np.clip(rt, t0 * 1.02 + 0.005, lc["wash_end_min"]))


def _draw_peak(rng, smiles, lc, rt=None) -> dict:
    rt = _draw_rt(rng, smiles, lc) if rt is None else rt
    fwhm_s = lc["fwhm_s"] * _logu(rng, 0.75, 1.4)
    tau = lc["tau_ratio"] * _logu(rng, 0.6, 1.6)
    front = lc["fronting_run"] and rng.random() < 0.4
    return {
        "rt_min": round(rt, 4),
        "fwhm_s": round(fwhm_s, 3),
        "tau_ratio": round(min(tau, 3.0), 3),
        "fronting": bool(front),
        "front_ratio": round(rng.uniform(0.2, 0.8), 3) if front else 0.0,
    }


def _draw_ions(rng, smiles, polarity, lc, energy) -> dict:
    """Relative weights of the ions one compound gives (before dimers' concentration dependence)."""
    f = features(smiles)
    formula = parse_formula(mol_formula(smiles))
    basic = f["basic_n"] > 0
    w: dict[str, float] = {}
    if f["charge"] > 0:
        w["[M]+"] = 1.0 if polarity == "positive" else 0.0
        return {k: v for k, v in w.items() if v > 0}
    if polarity == "positive":
        w["[M+H]+"] = 1.0 if basic else rng.uniform(0.05, 0.6)
        w["[M+Na]+"] = _logu(rng, 0.01, 0.4) if basic else rng.uniform(0.3, 1.5)
        if rng.random() < 0.6:
            w["[M+K]+"] = _logu(rng, 0.002, 0.08) * (1 if basic else 3)
        if lc["additive"].startswith("ammonium"):
            w["[M+NH4]+"] = _logu(rng, 0.01, 0.3) * (1 if basic else 3) * (1 + f["carbonyl"]) / 2
        elif rng.random() < 0.4:
            w["[M+NH4]+"] = _logu(rng, 0.002, 0.02)
        mass = neutral_mass(formula)
        if f["basic_n"] >= 2:
            w["[M+2H]2+"] = _logu(rng, 0.02, 0.6) * min(1.5, mass / 200.0) * (f["basic_n"] / 2) ** 0.5
        w["[2M+H]+"] = _logu(rng, 0.005, 0.15)  # at the reference concentration
        if rng.random() < 0.5:
            w["[2M+Na]+"] = _logu(rng, 0.002, 0.05)
        if lc["organic"] == "acetonitrile" and rng.random() < 0.5:
            w["[M+ACN+H]+"] = _logu(rng, 0.003, 0.08)
        if lc["organic"] == "methanol" and rng.random() < 0.3:
            w["[M+CH3OH+H]+"] = _logu(rng, 0.002, 0.04)
        if rng.random() < 0.5 and formula.get("O", 0) >= 1:
            w["[M+H-H2O]+"] = _logu(rng, 0.003, 0.08) * (3 if f["acid"] else 1)
        if f["boc"]:
            w["[M+H-C4H8]+"] = energy * _logu(rng, 0.05, 1.0)
            w["[M+H-C5H8O2]+"] = energy * _logu(rng, 0.03, 0.8)
        if f["ethyl_ester"] and rng.random() < 0.5:
            w["[M+H-C2H6O]+"] = energy * _logu(rng, 0.005, 0.08)
        if f["primary_amine"] and rng.random() < 0.5:
            w["[M+H-NH3]+"] = energy * _logu(rng, 0.005, 0.1)
        if f["alkyl_bromide"] and basic and rng.random() < 0.6:
            w["[M+H-HBr]+"] = energy * _logu(rng, 0.01, 0.3)
    else:
        acidic = f["acid"] or f["sulfonic"]
        w["[M-H]-"] = 1.0 if acidic else (rng.uniform(0.1, 0.6) if f["carbonyl"] else rng.uniform(0.02, 0.2))
        if lc["additive"] == "ammonium acetate":
            w["[M+CH3COO]-"] = _logu(rng, 0.05, 1.0) * (0.2 if acidic else 1)
        else:
            w["[M+HCOO]-"] = _logu(rng, 0.05, 1.0) * (0.2 if acidic else 1)
        w["[M+Cl]-"] = _logu(rng, 0.02, 0.5) * (0.3 if acidic else 1)
        w["[2M-H]-"] = _logu(rng, 0.005, 0.1)
        if f["acid"] and rng.random() < 0.3:
            w["[M-H-CO2]-"] = energy * _logu(rng, 0.005, 0.05)
    return {k: round(float(v), 5) for k, v in w.items() if v > 0 and ion_possible(formula, k)}


def _response_factor(rng, smiles, polarity) -> float:
    f = features(smiles)
    rf = _logu(rng, 0.1, 2.0)
    if polarity == "positive":
        if f["charge"] > 0:
            rf *= _logu(rng, 1.0, 4.0)
        elif f["basic_n"] == 0:
            rf *= _logu(rng, 0.05, 0.3)
    else:
        if f["acid"] or f["sulfonic"]:
            rf *= _logu(rng, 1.0, 3.0)
        elif f["carbonyl"]:
            rf *= _logu(rng, 0.05, 0.3)
        else:
            rf *= _logu(rng, 0.005, 0.05)
        if f["charge"] > 0:
            rf = 0.0
    return round(rf, 6)


def _extinction(rng, smiles, wavelength) -> float:
    """Molar absorptivity (L mol-1 cm-1) at the wavelength, from the chromophore class."""
    f = features(smiles)
    if f["aromatic"]:
        e = _logu(rng, 3e3, 1.5e4) if wavelength >= 240 else _logu(rng, 8e3, 3e4)
    else:
        carbonyl = f["carbonyl"]
        if carbonyl:
            e210 = _logu(rng, 600, 3000) * carbonyl**0.8
        elif "Br" in smiles:
            e210 = _logu(rng, 150, 500)
        else:
            e210 = _logu(rng, 30, 250)
        decay = rng.uniform(8.0, 15.0)
        e = e210 * math.exp(-(wavelength - 210) / decay)
    return round(float(e), 4)


def _enumerate_isobar(
    rng, target_mz: float, ion: str, polarity: str, window: tuple[float, float], unit: bool, exclude: set[str]
) -> dict | None:
    """A formula whose `ion` lies at target_mz +- window (ppm for HR, Da for unit), not in `exclude`."""
    _, change, charge, _ = ION_TYPES[ion]
    delta = neutral_mass(change) - charge * ELECTRON
    m_target = target_mz * abs(charge) - delta
    c = np.arange(1, 41)[:, None, None, None, None, None]
    n = np.arange(0, 7)[None, :, None, None, None, None]
    o = np.arange(0, 9)[None, None, :, None, None, None]
    s = np.arange(0, 2)[None, None, None, :, None, None]
    p = np.arange(0, 2)[None, None, None, None, :, None]
    cl = np.arange(0, 2)[None, None, None, None, None, :]
    rest = c * MONO["C"] + n * MONO["N"] + o * MONO["O"] + s * MONO["S"] + p * MONO["P"] + cl * MONO["Cl"]
    h = np.rint((m_target - rest) / MONO["H"]).astype(int)
    mass = rest + h * MONO["H"]
    dbe2 = 2 * c + 2 + n + p - h - cl  # 2 x rings-plus-double-bonds
    ok = (h >= 1) & (h + change.get("H", 0) >= 0) & (h <= 2 * c + n + p + 3) & (dbe2 >= 0) & (dbe2 % 2 == 0)
    ok &= (p == 0) | (o >= 2)
    ok &= (s + p + cl) <= 1
    ion_mass = (mass + delta) / abs(charge)
    err = ion_mass - target_mz
    if unit:
        ok &= (np.abs(err) >= window[0]) & (np.abs(err) <= window[1]) & (np.rint(ion_mass) == np.rint(target_mz))
    else:
        ppm = np.abs(err) / target_mz * 1e6
        ok &= (ppm >= window[0]) & (ppm <= window[1])
    idx = np.argwhere(ok)
    if len(idx) == 0:
        return None
    candidates = []
    for i in idx:
        ci, ni, oi, si, pi, cli = (int(i[0]) + 1, int(i[1]), int(i[2]), int(i[3]), int(i[4]), int(i[5]))
        hh = int(h[tuple(i)])
        formula = hill({"C": ci, "H": hh, "N": ni, "O": oi, "S": si, "P": pi, "Cl": cli})
        if formula in exclude:
            continue
        # prefer chemically ordinary formulas: modest unsaturation, few heteroatoms
        score = abs(dbe2[tuple(i)] / 2 - 3) * 0.2 + si + pi + cli + 0.1 * ni
        candidates.append((score, formula, float(err[tuple(i)])))
    if not candidates:
        return None
    candidates.sort()
    pick = candidates[int(rng.integers(0, min(len(candidates), 6)))]
    return {"formula": pick[1], "delta_da": pick[2], "delta_ppm": pick[2] / target_mz * 1e6}


def _compound(rng, cid, name, smiles, formula, molar, lc, polarity, energy, kind, **extra) -> dict:
    """One eluting compound with its chromatographic and ionisation parameters."""
    smiles_for_props = smiles
    comp = {
        "id": cid,
        "name": name,
        "smiles": smiles,
        "formula": formula,
        "molar": round(float(molar), 8),
        "kind": kind,
    }
    comp.update(_draw_peak(rng, smiles_for_props, lc, extra.pop("rt", None)))
    comp["response_factor"] = _response_factor(rng, smiles_for_props, polarity)
    comp["ions"] = _draw_ions(rng, smiles_for_props, polarity, lc, energy)
    comp.update(extra)
    return comp


def draw_lcms_scenario(seed: int, index: int) -> dict:
    """All parameters of scenario `index` of the run seeded `seed` (JSON-serialisable)."""
    rng = np.random.default_rng([seed, index])
    route = _choice(rng, sorted(ROUTES))
    stage = _choice(rng, ROUTES[route]["stage_order"])
    polarity = "negative" if rng.random() < 0.15 else "positive"
    inst = _draw_instrument(rng)
    lc = _draw_lc(rng, inst["mode"], inst["resolution_class"] == "unit")
    if lc["n_scans"] > 900:
        inst["write_scan_window"] = False  # keeps long runs' XML small
    if inst["continuum_fraction"] > 0:  # keep the chemical-noise continuum within half the point budget
        nominal = inst["scan_high"] - inst["scan_low"]
        cap = 0.5 * point_budget(inst, lc) / (lc["n_scans"] * nominal)
        inst["continuum_fraction"] = round(min(inst["continuum_fraction"], cap), 4)
    energy = inst["in_source_energy"]
    roles = stage_roles(route, stage)
    main_id, impurity_ids = ROUTES[route]["stages"][stage]
    species = {s["id"]: s for s in route_species(route)}

    composition = _choice(rng, ["normal", "clean", "none", "no-product"], p=[0.75, 0.10, 0.10, 0.05])
    amounts: dict[str, float] = {}
    if composition in ("normal", "clean"):
        amounts[main_id] = 1.0
    if composition in ("normal", "no-product"):
        oligomers = [s for s in impurity_ids if species[s]["role"] == "oligomer"]
        groups = [[s] for s in impurity_ids if species[s]["role"] != "oligomer"]
        if oligomers:
            groups.append(oligomers)
        n_groups = int(rng.integers(1, len(groups) + 1))
        chosen = [groups[i] for i in rng.choice(len(groups), size=n_groups, replace=False)]
        for group in chosen:
            if len(group) == 1:
                lo, hi = (0.1, 20.0) if composition == "normal" else (0.5, 100.0)
                amounts[group[0]] = _logu(rng, lo, hi) / 100
            else:
                level = _logu(rng, 0.1, 20.0) / 100
                order = [
                    "linear-dimer",
                    "cyclic-dimer",
                    "linear-trimer",
                    "cyclic-trimer",
                    "linear-tetramer",
                    "cyclic-tetramer",
                ]
                for k, sid in enumerate([o for o in order if o in group]):
                    if k == 0 or rng.random() < 0.6:
                        amounts[sid] = level
                    level *= rng.uniform(0.15, 0.7)

    compounds = []
    for sid, sp in species.items():
        if sid in amounts:
            compounds.append(
                _compound(
                    rng, sid, sp["name"], sp["smiles"], sp["formula"], amounts[sid], lc, polarity, energy, "route"
                )
            )

    # Blank and carry-over.
    blank = {"present": bool(rng.random() < 0.30), "carryover": [], "carryover_only": []}
    if blank["present"] and composition != "none":
        for comp in compounds:
            if rng.random() < 0.6:
                blank["carryover"].append({"id": comp["id"], "fraction": round(_logu(rng, 1e-4, 1e-2), 6)})
        absent = [s for s in [main_id] + impurity_ids if s not in amounts]
        if absent and rng.random() < 0.45:
            for sid in rng.choice(absent, size=min(len(absent), 1 + int(rng.random() < 0.2)), replace=False):
                sid = str(sid)
                level = _logu(rng, 0.003, 0.05)
                sample_factor = rng.uniform(0.3, 1.5)
                sp = species[sid]
                compounds.append(
                    _compound(
                        rng,
                        sid,
                        sp["name"],
                        sp["smiles"],
                        sp["formula"],
                        level * sample_factor,
                        lc,
                        polarity,
                        energy,
                        "carryover-only",
                        blank_molar=round(level, 8),
                    )
                )
                blank["carryover_only"].append(sid)

    # Non-route compounds.
    route_formulas = {s["formula"] for s in species.values()}
    n_unrelated = int(_choice(rng, [0, 1, 2, 3, 4], p=[0.3, 0.3, 0.2, 0.12, 0.08]))
    if composition == "none":
        n_unrelated = max(n_unrelated, 2)
    for i in rng.choice(len(UNRELATED), size=n_unrelated, replace=False):
        name, smi = UNRELATED[int(i)]
        compounds.append(
            _compound(
                rng,
                f"x-{name}",
                name,
                smi,
                mol_formula(smi),
                _logu(rng, 0.2, 30) / 100,
                lc,
                polarity,
                energy,
                "unrelated",
                isobar_of=None,
                isomer_of=None,
            )
        )
    stage_species = [main_id] + impurity_ids
    unit = inst["resolution_class"] == "unit"
    if rng.random() < (0.6 if unit else 0.35):
        for _ in range(1 + int(rng.random() < 0.3)):
            present_ids = [c["id"] for c in compounds if c["kind"] == "route"]
            target = (
                (main_id if rng.random() < 0.4 else _choice(rng, present_ids or stage_species))
                if rng.random() < 0.7
                else _choice(rng, stage_species)
            )
            sp = species[target]
            if polarity == "positive":
                target_ion = "[M+H]+" if rng.random() < 0.7 else "[M+Na]+"
                own_ion = "[M+H]+"
            else:
                target_ion, own_ion = "[M-H]-", "[M-H]-"
            tmz = ion_mz(parse_formula(sp["formula"]), target_ion)
            window = (0.03, 0.35) if unit else (0.3, 8.0)
            found = _enumerate_isobar(rng, tmz, own_ion, polarity, window, unit, route_formulas)
            if found is None:
                continue
            target_comp = next((c for c in compounds if c["id"] == target and c["kind"] == "route"), None)
            coelute = target_comp is not None and rng.random() < 0.5
            rt = (target_comp["rt_min"] + rng.normal(0, 0.2 * lc["fwhm_s"] / 60)) if coelute else None
            pseudo = _pseudo_smiles(found["formula"])
            comp = _compound(
                rng,
                f"x-isobar-{len(compounds)}",
                f"isobar of {target} {target_ion}",
                pseudo,
                found["formula"],
                _logu(rng, 0.5, 30) / 100,
                lc,
                polarity,
                energy,
                "isobar",
                rt=rt,
                isomer_of=None,
            )
            comp["smiles"] = None
            formula = parse_formula(found["formula"])
            comp["ions"] = {
                own_ion: 1.0,
                **{k: v for k, v in comp["ions"].items() if k != own_ion and v < 0.3 and ion_possible(formula, k)},
            }
            comp["isobar_of"] = {
                "species": target,
                "ion": target_ion,
                "species_ion_mz": round(tmz, 6),
                "distractor_ion": own_ion,
                "distractor_mz": round(tmz + found["delta_da"], 6),
                "delta_da": round(found["delta_da"], 6),
                "delta_ppm": round(found["delta_ppm"], 3),
                "within_10_ppm": abs(found["delta_ppm"]) <= 10.0,
                "same_nominal": round(tmz) == round(tmz + found["delta_da"]),
                "coelutes": bool(coelute),
            }
            compounds.append(comp)
    if rng.random() < 0.12:
        options = [s for s in stage_species if species[s]["formula"] in ISOMERS]
        if options:
            target = _choice(rng, options)
            name, smi = _choice(rng, ISOMERS[species[target]["formula"]])
            target_comp = next((c for c in compounds if c["id"] == target), None)
            rt = None
            if target_comp is not None:
                gap = max(4 * lc["fwhm_s"] / 60, 0.05 * lc["run_min"])
                rt = _draw_rt(rng, smi, lc)
                if abs(rt - target_comp["rt_min"]) < gap:
                    sign = (
                        1 if (rt >= target_comp["rt_min"] or target_comp["rt_min"] - gap < lc["t0_min"] * 1.1) else -1
                    )
                    rt = float(
                        np.clip(
                            target_comp["rt_min"] + sign * gap * rng.uniform(1.0, 2.0),
                            lc["t0_min"] * 1.05,
                            lc["wash_end_min"],
                        )
                    )
            compounds.append(
                _compound(
                    rng,
                    f"x-isomer-{len(compounds)}",
                    name,
                    smi,
                    mol_formula(smi),
                    _logu(rng, 0.5, 30) / 100,
                    lc,
                    polarity,
                    energy,
                    "isomer",
                    rt=rt,
                    isobar_of=None,
                    isomer_of=target,
                )
            )

    background = _draw_background(rng, polarity, inst, lc)

    uv = None
    if stage == last_stage(route) and rng.random() < 0.25:
        wl = float(_choice(rng, [210, 214, 220, 230, 254], p=[0.3, 0.2, 0.2, 0.1, 0.2]))
        uv = {
            "wavelength_nm": wl,
            "rate_hz": round(rng.uniform(2, 10), 2),
            "delay_min": round(rng.uniform(0.01, 0.08), 4),
            "noise_mau": round(_logu(rng, 0.01, 0.1), 4),
            "drift_mau": round(rng.uniform(-2, 2), 3),
            "gradient_rise_mau": round(rng.uniform(0, 30) * math.exp(-(wl - 210) / 15), 3),
            "void_mau": round(rng.uniform(-15, 60), 3),
            "main_apex_mau": round(_logu(rng, 30, 1500), 2),
            "extra_broadening": round(rng.uniform(0.9, 1.3), 3),
            "extinction": {c["id"]: _extinction(rng, c["smiles"] or "CC(=O)NC", wl) for c in compounds},
        }

    return {
        "schema": "specqc.validation-scenario/1",
        "seed": int(seed),
        "index": int(index),
        "route": route,
        "stage": stage,
        "polarity": polarity,
        "composition": composition,
        "main_species": main_id,
        "stage_roles": roles,
        "instrument": inst,
        "lc": lc,
        "compounds": compounds,
        "background": background,
        "blank": blank,
        "uv": uv,
        "noise_seed": int(rng.integers(0, 2**31 - 1)),
    }


def _pseudo_smiles(formula: str) -> str:
    """A stand-in structure for retention and ionisation of a formula-only isobar (a basic amine of similar size)."""
    counts = parse_formula(formula)
    c = max(1, counts.get("C", 1))
    if counts.get("N", 0):
        return "N" + "C" * c
    return "O=C(O)" + "C" * max(0, c - 1)


def _draw_background(rng, polarity, inst, lc) -> dict:
    pool = BACKGROUND_POS if polarity == "positive" else BACKGROUND_NEG
    n = int(rng.integers(4, 14 if inst["mode"] == "centroid" else 9))
    picks = [pool[int(i)] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]
    if inst["lock_mass"]:
        picks += (LOCK_POS if polarity == "positive" else LOCK_NEG)[inst["vendor_flavour"]]
    persistent = []
    for name, formula, ion in picks:
        lock = "reference" in name or "lock" in name
        persistent.append(
            {
                "name": name,
                "formula": formula,
                "ion": ion,
                "level": round(_logu(rng, 3e-4, 3e-2) if not lock else _logu(rng, 3e-3, 3e-2), 7),
                "wander": round(rng.uniform(0, 0.3), 3),
                "wash_boost": round(_logu(rng, 1.0, 4.0), 3),
            }
        )
    humps = []
    for _ in range(int(_choice(rng, [0, 1, 2], p=[0.4, 0.4, 0.2]))):
        series = (
            _choice(rng, ["PEG", "PPG"]) if polarity == "positive" else _choice(rng, ["PEG-formate", "PPG-formate"])
        )
        width = min(rng.uniform(0.5, 3.0), 0.25 * lc["run_min"])
        humps.append(
            {
                "series": series,
                "centre_min": round(rng.uniform(0.2, 0.95) * lc["run_min"], 3),
                "sd_min": round(width, 3),
                "level": round(_logu(rng, 3e-4, 1e-2), 7),
                "n_mean": round(rng.uniform(5, 14), 2),
                "adduct": _choice(rng, ["[M+H]+", "[M+NH4]+", "[M+Na]+"]) if polarity == "positive" else "[M+HCOO]-",
            }
        )
    wash = {"level": round(_logu(rng, 1e-3, 2e-2), 7) if rng.random() < 0.6 else 0.0}
    return {"persistent": persistent, "humps": humps, "wash": wash}


# ---------------------------------------------------------------------------
# Rendering


def _emg_profile(t: np.ndarray, peak: dict) -> np.ndarray:
    """Unit-area (per minute) EMG with its apex at rt_min; mirrored for fronting."""
    sigma = peak["fwhm_s"] / 60 / 2.35482
    tau = peak["tau_ratio"] * sigma
    front = peak.get("fronting", False)
    if front:
        tau = max(tau, peak.get("front_ratio", 0.5) * sigma)
    if tau < 1e-3 * sigma:
        y = np.exp(-0.5 * ((t - peak["rt_min"]) / sigma) ** 2)
    else:
        from scipy.special import erfcx

        from scipy.special import erfc

        def emg(x):  # x = time relative to the Gaussian centre; exp(-x^2/2s^2) erfcx(z), stable on both sides
            z = (sigma / tau - x / sigma) / math.sqrt(2)
            out = np.empty_like(x)
            pos = z >= 0
            out[pos] = np.exp(-0.5 * (x[pos] / sigma) ** 2) * erfcx(z[pos])
            neg = ~pos
            out[neg] = np.exp(0.5 * (sigma / tau) ** 2 - x[neg] / tau) * erfc(z[neg])
            return out

        fine = np.linspace(-4 * sigma, 4 * sigma + 8 * tau, 801)
        apex = fine[np.argmax(emg(fine))]
        x = t - peak["rt_min"] + apex
        if front:
            x = -(t - peak["rt_min"]) + apex
        y = emg(x)
        y[~np.isfinite(y)] = 0.0
    dt = np.gradient(t)
    area = float(np.sum(y * dt))
    return y / area if area > 0 else y


def _smooth_noise(rng, n, scale_points) -> np.ndarray:
    """Zero-mean, unit-sd noise varying over ~scale_points points."""
    raw = rng.normal(size=n + 4 * scale_points)
    kernel = np.exp(-0.5 * (np.arange(-2 * scale_points, 2 * scale_points + 1) / max(scale_points, 1)) ** 2)
    sm = np.convolve(raw, kernel / kernel.sum(), mode="same")[2 * scale_points : 2 * scale_points + n]
    sd = sm.std()
    return sm / sd if sd > 0 else sm


class _Channels:
    """Isotopic peaks of all ions with their time profiles."""

    def __init__(self):
        self.mz, self.amp, self.owner, self.kind, self.ion = [], [], [], [], []

    def add(self, mz, amp, owner, kind, ion):
        self.mz.append(mz)
        self.amp.append(amp)
        self.owner.append(owner)
        self.kind.append(kind)
        self.ion.append(ion)


def _build(scn: dict, rng, blank: bool):
    """Expected (noise-free) channel intensities for the sample or its blank."""
    inst, lc, pol = scn["instrument"], scn["lc"], scn["polarity"]
    fine = inst["resolution_class"] == "high"
    n = lc["n_scans"]
    t = (np.arange(n) + 0.5) * lc["scan_interval_s"] / 60.0
    lo, hi = inst["scan_low"], inst["scan_high"]
    shift = lc["blank_rt_shift_min"] if blank else 0.0

    comps = []
    for c in scn["compounds"]:
        molar = c["molar"]
        if blank:
            if c["kind"] == "carryover-only":
                molar = c["blank_molar"]
            else:
                co = next((x for x in scn["blank"]["carryover"] if x["id"] == c["id"]), None)
                if co is None:
                    continue
                molar = c["molar"] * co["fraction"]
        comps.append((c, molar))

    # Would-be response and suppression.
    shapes = (
        np.array([_emg_profile(t, {**c, "rt_min": c["rt_min"] + shift}) for c, _ in comps])
        if comps
        else np.zeros((0, n))
    )
    resp = np.array([c["response_factor"] * m for c, m in comps])[:, None] * shapes if comps else np.zeros((0, n))
    main_idx = next(
        (i for i, (c, _) in enumerate(comps) if c["id"] == scn["main_species"] and c["kind"] == "route"), None
    )
    # Reference response: the sample's main species (or its strongest compound); the blank reuses the sample's.
    ref = scn.get("_ref_response")
    if ref is None:
        if main_idx is not None:
            ref = float(resp[main_idx].max())
        else:
            ref = float(resp.max()) if resp.size and resp.max() > 0 else 1.0
        scn["_ref_response"] = ref
    total = resp.sum(axis=0) if comps else np.zeros(n)
    g = np.ones(n)
    if lc["suppression"]:
        g /= 1.0 + total / (lc["c50_ratio"] * ref)
    t0 = lc["t0_min"]
    g *= 1.0 - lc["void_suppression"] * np.exp(-0.5 * ((t - t0) / (0.25 * t0 + 0.02)) ** 2)

    ch = _Channels()
    profiles = []
    ion_meta = []  # (owner index, ion label, mono m/z)
    for ci, (c, _) in enumerate(comps):
        formula = parse_formula(c["formula"])
        mono_prof = resp[ci] * g
        dimer_prof = resp[ci] ** 2 / ref * g
        for label, weight in c["ions"].items():
            if label == "[M]+":
                comp_f, charge = formula, 1
            else:
                comp_f, charge = ion_formula(formula, label)
            mz0 = (neutral_mass(comp_f) - charge * ELECTRON) / abs(charge)
            offs, ab = isotope_pattern(comp_f, fine)
            mzs = mz0 + offs / abs(charge)
            keep = (mzs >= lo) & (mzs <= hi)
            if not keep.any():
                continue
            dimer = ION_TYPES[label][0] == 2
            k = len(ion_meta)
            ion_meta.append((ci, label, mz0))
            for m, a in zip(mzs[keep], ab[keep]):
                ch.add(m, weight * a, ci, 1 if dimer else 0, k)
        profiles.append((mono_prof, dimer_prof))

    # Background channels: owner -1 - index.
    bg = scn["background"]
    bg_meta = []
    bg_profiles = []
    wash_ramp = np.interp(
        t,
        [
            0,
            lc["gradient_end_min"],
            0.5 * (lc["gradient_end_min"] + lc["wash_end_min"]),
            lc["wash_end_min"],
            lc["run_min"] * 2,
        ],
        [0, 0, 1, 1, 0],
    )
    scale_pts = max(3, int(n / 12))
    for b in bg["persistent"]:
        comp_f, charge, mz0 = _mz_of(b["formula"], b["ion"])
        prof = (1 + b["wander"] * 0.5 * _smooth_noise(rng, n, scale_pts)).clip(0.2) * (
            1 + (b["wash_boost"] - 1) * wash_ramp
        )
        _add_bg(
            ch,
            bg_meta,
            bg_profiles,
            comp_f,
            charge,
            mz0,
            prof * g * b["level"],
            b["name"] + " " + b["ion"],
            "persistent",
            fine,
            lo,
            hi,
        )
    for h in bg["humps"]:
        shape = np.exp(-0.5 * ((t - h["centre_min"]) / h["sd_min"]) ** 2)
        unit_f = {"PEG": "C2H4O", "PPG": "C3H6O", "PEG-formate": "C2H4O", "PPG-formate": "C3H6O"}[h["series"]]
        for k in range(3, 23):
            w = math.exp(-0.5 * ((k - h["n_mean"]) / 3.0) ** 2)
            if w < 0.02:
                continue
            f = {e: v * k for e, v in parse_formula(unit_f).items()}
            f["H"] = f.get("H", 0) + 2
            f["O"] = f.get("O", 0) + 1
            comp_f, charge = ion_formula(f, h["adduct"])
            mz0 = (neutral_mass(comp_f) - charge * ELECTRON) / abs(charge)
            _add_bg(
                ch,
                bg_meta,
                bg_profiles,
                comp_f,
                charge,
                mz0,
                shape * g * h["level"] * w,
                f"{h['series']} n={k} {h['adduct']}",
                "hump",
                fine,
                lo,
                hi,
            )
    if bg["wash"]["level"] > 0:
        pool = BACKGROUND_POS if pol == "positive" else BACKGROUND_NEG
        for name, formula, ion in pool[1:6]:
            comp_f, charge, mz0 = _mz_of(formula, ion)
            _add_bg(
                ch,
                bg_meta,
                bg_profiles,
                comp_f,
                charge,
                mz0,
                wash_ramp * bg["wash"]["level"] * g,
                f"{name} {ion} (eluting in the wash)",
                "wash",
                fine,
                lo,
                hi,
            )

    mz = np.array(ch.mz)
    amp = np.array(ch.amp)
    owner = np.array(ch.owner, dtype=int)
    kind = np.array(ch.kind, dtype=int)
    ionk = np.array(ch.ion, dtype=int)
    inten = np.zeros((len(mz), n))
    for i in range(len(mz)):
        if owner[i] >= 0:
            inten[i] = amp[i] * profiles[owner[i]][kind[i]]
        else:
            inten[i] = amp[i] * bg_profiles[-1 - owner[i]]
    return {
        "t": t,
        "mz": mz,
        "owner": owner,
        "ion": ionk,
        "inten": inten,
        "comps": comps,
        "ion_meta": ion_meta,
        "bg_meta": bg_meta,
    }


def _add_bg(ch, bg_meta, bg_profiles, comp_f, charge, mz0, prof, label, kind, fine, lo, hi):
    offs, ab = isotope_pattern(comp_f, fine)
    mzs = mz0 + offs / abs(charge)
    keep = (mzs >= lo) & (mzs <= hi)
    if not keep.any():
        return
    bi = len(bg_profiles)
    bg_profiles.append(prof)
    bg_meta.append({"label": label, "mz": round(mz0, 6), "kind": kind, "charge": charge, "formula": hill(comp_f)})
    for m, a in zip(mzs[keep], ab[keep]):
        ch.add(m, a, -1 - bi, 0, -1)


def _scale(scn, built) -> float:
    """Intensity units per model unit: the strongest analyte channel's apex gets the drawn apex intensity."""
    if "_scale" in scn:
        return scn["_scale"]
    analyte = built["owner"] >= 0
    peak = float(built["inten"][analyte].max()) if analyte.any() else 0.0
    if peak <= 0:
        peak = float(built["inten"].max()) * 30 if built["inten"].size else 1.0
    scn["_scale"] = scn["instrument"]["apex_intensity"] / peak
    return scn["_scale"]


def _observe(scn, built, rng, scale):
    """Noisy, mass-shifted, merged, saturated, thresholded spectra: list of (mz, intensity) per scan."""
    inst, lc = scn["instrument"], scn["lc"]
    res = Resolution(inst["resolution"])
    n = lc["n_scans"]
    t = built["t"]
    noise = inst["apex_intensity"] / inst["snr"]
    thr = inst["threshold_factor"] * noise
    inten = built["inten"] * scale
    sat = (
        inst["saturation_fraction"] * float(inten[built["owner"] >= 0].max())
        if inst["saturation"] and (built["owner"] >= 0).any()
        else math.inf
    )

    ch_idx, scan_idx = np.nonzero(inten > 0.3 * thr)
    mz = built["mz"][ch_idx]
    val = inten[ch_idx, scan_idx]
    flicker = np.exp(rng.normal(0, inst["flicker_sd"], size=n))
    val = val * flicker[scan_idx]
    gain = inst["count_gain_factor"] * noise
    val = val + rng.normal(size=val.size) * np.sqrt(gain * np.maximum(val, 0))
    # Calibration and scatter.
    rel = 1e-6 * (inst["cal_offset_ppm"] + inst["cal_drift_ppm"] * t[scan_idx] / lc["run_min"])
    snr_w = np.minimum(5.0, np.sqrt(100 * noise / np.maximum(val, noise)))
    if inst["resolution_class"] == "high":
        mz = mz * (1 + rel + 1e-6 * inst["scatter_ppm"] * snr_w * rng.normal(size=mz.size))
    else:
        mz = mz + inst["cal_offset_da"] + inst["scatter_da"] * np.minimum(3.0, snr_w) * rng.normal(size=mz.size)

    # Noise peaks and spikes.
    lo, hi = inst["scan_low"], inst["scan_high"]
    extra_s, extra_mz, extra_v = [], [], []
    n_noise = rng.poisson(inst["noise_peaks_per_scan"] * (0.3 if inst["mode"] == "profile" else 1.0), size=n)
    tot = int(n_noise.sum())
    extra_s.append(np.repeat(np.arange(n), n_noise))
    extra_mz.append(rng.uniform(lo, hi, size=tot))
    extra_v.append(thr * (0.8 + rng.exponential(0.7, size=tot)))
    if inst["continuum_fraction"] > 0:
        nominal = np.arange(math.ceil(lo), math.floor(hi) + 1)
        level = (
            inst["continuum_level"]
            * noise
            * (1 + 0.5 * np.sin(nominal / 37.0))
            * np.exp(rng.normal(0, 0.7, nominal.size))
        )
        on = rng.random((n, nominal.size)) < inst["continuum_fraction"]
        s_i, m_i = np.nonzero(on)
        extra_s.append(s_i)
        extra_mz.append(nominal[m_i] + 0.3 * (nominal[m_i] / 1000.0) + rng.normal(0, 0.05, size=s_i.size))
        extra_v.append(level[m_i] * np.exp(rng.normal(0, 0.5, size=s_i.size)))
    n_spikes = rng.poisson(inst["spikes_per_run"])
    extra_s.append(rng.integers(0, n, size=n_spikes))
    extra_mz.append(rng.uniform(lo, hi, size=n_spikes))
    extra_v.append(noise * np.exp(rng.uniform(math.log(10), math.log(1000), size=n_spikes)))
    scan_all = np.concatenate([scan_idx] + extra_s)
    mz_all = np.concatenate([mz] + extra_mz)
    v_all = np.concatenate([val] + extra_v)
    good = (v_all > 0) & (mz_all > lo * 0.98) & (mz_all < hi * 1.02)
    scan_all, mz_all, v_all = scan_all[good], mz_all[good], v_all[good]

    if inst["mode"] == "centroid":
        spectra = _centroid(scan_all, mz_all, v_all, res, n, sat, thr, inst["mz_quantisation"], rng)
    else:
        spectra = _profile(scan_all, mz_all, v_all, res, n, sat, thr, noise, inst["profile_points_per_fwhm"], rng)
    return spectra, {"noise_sd": noise, "threshold": thr, "saturation_level": None if math.isinf(sat) else sat}


def _group_by_scan(scan, mz, v, n):
    order = np.lexsort((mz, scan))
    scan, mz, v = scan[order], mz[order], v[order]
    bounds = np.searchsorted(scan, np.arange(n + 1))
    return [(mz[bounds[i] : bounds[i + 1]], v[bounds[i] : bounds[i + 1]]) for i in range(n)]


def _centroid(scan, mz, v, res, n, sat, thr, quant, rng):
    order = np.lexsort((mz, scan))
    scan, mz, v = scan[order], mz[order], v[order]
    if mz.size:
        gap = np.diff(mz)
        same = (np.diff(scan) == 0) & (gap < 0.85 * res.fwhm(mz[:-1]))
        cluster = np.concatenate([[0], np.cumsum(~same)])
        w = np.bincount(cluster, weights=v)
        cm = np.bincount(cluster, weights=v * mz) / w
        cs = np.bincount(cluster, weights=scan) / np.bincount(cluster)
        scan, mz, v = np.rint(cs).astype(int), cm, w
    v = np.minimum(v, sat * (1 + 0.002 * rng.normal(size=v.size)))
    keep = v >= thr
    scan, mz, v = scan[keep], mz[keep], v[keep]
    if quant != "none":
        step = 1.0 if quant == "nominal" else 0.1
        mz = np.round(mz / step) * step
        key = scan.astype(np.int64) * 10_000_000 + np.rint(mz / step).astype(np.int64)
        uniq, inv = np.unique(key, return_inverse=True)
        v = np.bincount(inv, weights=v)
        mz = (uniq % 10_000_000) * step
        scan = (uniq // 10_000_000).astype(int)
    return _group_by_scan(scan, mz, v.astype(np.float32), n)


def _profile(scan, mz, v, res, n, sat, thr, noise, k, rng):
    u = res.to_u(mz, k)
    ppf = res.points_per_fwhm(k)
    half = int(math.ceil(2.0 * ppf))
    offsets = np.arange(-half, half + 1)
    centre = np.rint(u).astype(np.int64)
    pts = centre[:, None] + offsets[None, :]
    val = v[:, None] * np.exp(-4 * math.log(2) * ((pts - u[:, None]) / ppf) ** 2)
    sc = np.repeat(scan.astype(np.int64), offsets.size)
    base = int(pts.min()) - 1 if pts.size else 0
    key = sc * (1 << 32) + (pts.ravel() - base)
    uniq, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv, weights=val.ravel())
    total = total + noise * rng.normal(size=total.size)
    total = np.minimum(total, sat)
    keep = total >= thr
    uniq, total = uniq[keep], total[keep]
    scan_o = (uniq >> 32).astype(int)
    mz_o = res.from_u((uniq & ((1 << 32) - 1)) + base, k)
    return _group_by_scan(scan_o, mz_o, total.astype(np.float32), n)


def point_budget(inst: dict, lc: dict) -> int:
    """Stored points that keep a file within FILE_BUDGET_BYTES (zlib + base64 arrays, ~70 % of raw size)."""
    per_spectrum = SPECTRUM_XML_BYTES + (450 if inst.get("write_scan_window", True) else 0)
    ratio = 1.0 if inst["mode"] == "profile" else 0.8
    bytes_per_point = (4 + (4 if _mz_32bit(inst) else 8)) * 4 / 3 * ratio
    # long runs (1000+ scans) are allowed a little over the budget rather than starved of points
    return max(90_000, int((FILE_BUDGET_BYTES - per_spectrum * lc["n_scans"]) / bytes_per_point))


def _mz_32bit(inst: dict) -> bool:
    """Profile and unit-resolution data store m/z as 32-bit floats (ample precision there)."""
    return inst["mode"] == "profile" or inst["resolution_class"] == "unit"


def _limit_points(spectra, limit):
    """Raise the storage threshold until the file holds at most `limit` points (as zero-suppression does)."""
    total = sum(len(m) for m, _ in spectra)
    if total <= limit:
        return spectra, None
    allv = np.concatenate([v for _, v in spectra])
    cut = float(np.partition(allv, total - limit)[total - limit])
    return [(m[v >= cut], v[v >= cut]) for m, v in spectra], cut


# ---------------------------------------------------------------------------
# mzML


def _experiment(scn, spectra, t, uv=None, tic=False):
    import pyopenms as oms

    inst = scn["instrument"]
    exp = oms.MSExperiment()
    instrument = oms.Instrument()
    instrument.setName(
        {
            "quadrupole": "LC-MS single quadrupole",
            "ion trap": "LC-MS ion trap",
            "tof": "LC-MS quadrupole time-of-flight",
            "orbitrap": "LC-MS Orbitrap",
        }[inst["analyzer"]]
        if inst["metadata_analyzer"]
        else "LC-MS"
    )
    source = oms.IonSource()
    source.setIonizationMethod(oms.IonSource.IonizationMethod.ESI)
    pol = oms.IonSource.Polarity.POSITIVE if scn["polarity"] == "positive" else oms.IonSource.Polarity.NEGATIVE
    source.setPolarity(pol)
    instrument.setIonSources([source])
    if inst["metadata_analyzer"]:
        analyzer = oms.MassAnalyzer()
        analyzer.setType(
            {
                "quadrupole": oms.MassAnalyzer.AnalyzerType.QUADRUPOLE,
                "ion trap": oms.MassAnalyzer.AnalyzerType.LIT,
                "tof": oms.MassAnalyzer.AnalyzerType.TOF,
                "orbitrap": oms.MassAnalyzer.AnalyzerType.ORBITRAP,
            }[inst["analyzer"]]
        )
        if inst["metadata_resolution"]:
            analyzer.setResolution(float(inst["resolving_power_at_200"]))
            analyzer.setResolutionMethod(oms.MassAnalyzer.ResolutionMethod.FWHM)
        instrument.setMassAnalyzers([analyzer])
    exp.setInstrument(instrument)
    stype = (
        oms.SpectrumSettings.SpectrumType.CENTROID
        if inst["mode"] == "centroid"
        else oms.SpectrumSettings.SpectrumType.PROFILE
    )
    tic_v = []
    for i, (mz, v) in enumerate(spectra):
        spec = oms.MSSpectrum()
        spec.setRT(float(t[i] * 60.0))
        spec.setMSLevel(1)
        spec.setNativeID(f"scan={i + 1}")
        spec.setType(stype)
        settings = spec.getInstrumentSettings()
        settings.setPolarity(pol)
        if inst.get("write_scan_window", True):
            window = oms.ScanWindow()
            window.begin = inst["scan_low"]
            window.end = inst["scan_high"]
            settings.setScanWindows([window])
        spec.setInstrumentSettings(settings)
        spec.set_peaks((np.asarray(mz, dtype=np.float64), np.asarray(v, dtype=np.float32)))
        exp.addSpectrum(spec)
        tic_v.append(float(np.sum(v)))
    if tic:
        chrom = oms.MSChromatogram()
        chrom.setChromatogramType(oms.ChromatogramSettings.ChromatogramType.TOTAL_ION_CURRENT_CHROMATOGRAM)
        chrom.setNativeID("TIC")
        chrom.set_peaks((t * 60.0, np.array(tic_v, dtype=np.float32)))
        exp.addChromatogram(chrom)
    if uv is not None:
        chrom = oms.MSChromatogram()
        chrom.setChromatogramType(oms.ChromatogramSettings.ChromatogramType.ABSORPTION_CHROMATOGRAM)
        chrom.setNativeID(f"UV {uv['wavelength_nm']:g}nm")
        chrom.setMetaValue("lowest observed wavelength", float(uv["wavelength_nm"]))
        chrom.setMetaValue("highest observed wavelength", float(uv["wavelength_nm"]))
        chrom.setMetaValue("wavelength", float(uv["wavelength_nm"]))
        chrom.setMetaValue("unit", "mAU")
        chrom.set_peaks((uv["t_min"] * 60.0, uv["mau"].astype(np.float32)))
        exp.addChromatogram(chrom)
    return exp


def _store(exp, path: Path, mz_32bit: bool):
    import pyopenms as oms

    f = oms.MzMLFile()
    opts = f.getOptions()
    opts.setCompression(True)
    opts.setIntensity32Bit(True)
    opts.setMz32Bit(mz_32bit)
    f.setOptions(opts)
    f.store(str(path), exp)


def _uv_trace(scn, rng):
    uv, lc = scn["uv"], scn["lc"]
    t = np.arange(0, lc["run_min"] * 60, 1.0 / uv["rate_hz"]) / 60.0
    areas = {}
    y = np.zeros_like(t)
    comps = [c for c in scn["compounds"]]
    main = next((c for c in comps if c["id"] == scn["main_species"] and c["kind"] == "route"), None)
    raw = {c["id"]: uv["extinction"].get(c["id"], 0.0) * c["molar"] for c in comps}
    shapes = {}
    for c in comps:
        peak = {**c, "rt_min": c["rt_min"] - uv["delay_min"], "fwhm_s": c["fwhm_s"] * uv["extra_broadening"]}
        shapes[c["id"]] = _emg_profile(t, peak)
    ref = (
        (raw[main["id"]] * shapes[main["id"]]).max()
        if main is not None and raw[main["id"]] > 0
        else max([(raw[k] * shapes[k]).max() for k in raw] + [1e-12])
    )
    scale = uv["main_apex_mau"] / ref if ref > 0 else 0.0
    for c in comps:
        y += scale * raw[c["id"]] * shapes[c["id"]]
        areas[c["id"]] = scale * raw[c["id"]]  # mAU x min
    t0 = lc["t0_min"]
    void = uv["void_mau"] * (np.exp(-0.5 * ((t - t0) / 0.03) ** 2) - 0.4 * np.exp(-0.5 * ((t - t0 - 0.08) / 0.05) ** 2))
    ramp = (
        np.interp(t, [0, lc["t0_min"], lc["gradient_end_min"], lc["wash_end_min"], lc["run_min"]], [0, 0, 1, 1, 0.2])
        * uv["gradient_rise_mau"]
    )
    drift = uv["drift_mau"] * t / lc["run_min"]
    y = y + void + ramp + drift + uv["noise_mau"] * rng.normal(size=t.size)
    total = sum(areas.values())
    main_pct = 100 * areas[main["id"]] / total if main is not None and total > 0 else (0.0 if total > 0 else None)
    return {"t_min": t, "mau": y, "wavelength_nm": uv["wavelength_nm"]}, {
        "wavelength_nm": uv["wavelength_nm"],
        "main_area_pct": None if main_pct is None else round(main_pct, 4),
        "areas_mau_min": {k: round(v, 6) for k, v in areas.items()},
        "void_min": t0,
        "delay_min": uv["delay_min"],
    }


def write_lcms_scenario(scenario: dict, folder: Path) -> dict:
    """Write sample (and blank) mzML and the truth JSON; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scn = json.loads(json.dumps(scenario))  # private copy: rendering caches values in it
    rng = np.random.default_rng([scn["noise_seed"], 1])

    built = _build(scn, rng, blank=False)
    scale = _scale(scn, built)
    spectra, obs = _observe(scn, built, rng, scale)
    budget = point_budget(scn["instrument"], scn["lc"])
    spectra, raised = _limit_points(spectra, budget)
    uv_data, uv_truth = (None, None)
    if scn["uv"] is not None:
        uv_data, uv_truth = _uv_trace(scn, rng)
    sample = folder / "sample.mzML"
    _store(
        _experiment(scn, spectra, built["t"], uv_data, scn["instrument"]["write_tic"]),
        sample,
        _mz_32bit(scn["instrument"]),
    )
    truth = _truth(scn, built, scale, obs, raised, uv_truth, spectra)

    blank_path = None
    if scn["blank"]["present"]:
        bbuilt = _build(scn, rng, blank=True)
        bspectra, _ = _observe(scn, bbuilt, rng, scale)
        bspectra, _ = _limit_points(bspectra, budget)
        blank_path = folder / "blank.mzML"
        _store(
            _experiment(scn, bspectra, bbuilt["t"], None, scn["instrument"]["write_tic"]),
            blank_path,
            _mz_32bit(scn["instrument"]),
        )
        truth["blank"]["signals"] = _signals(bbuilt, scale)[0]
        truth["blank"]["file"] = blank_path.name
    truth["files"] = {"sample": sample.name, "blank": blank_path.name if blank_path else None}
    truth_path = folder / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=False))
    return {"sample": sample, "blank": blank_path, "truth": truth_path}


def _signals(built, scale):
    """Summed ion current per compound id and per (compound id, ion)."""
    per_channel = built["inten"].sum(axis=1) * scale
    per_comp: dict[str, float] = {}
    per_ion: dict[tuple[str, str], float] = {}
    for i, total in enumerate(per_channel):
        o = built["owner"][i]
        if o < 0:
            continue
        c = built["comps"][o][0]
        key = c["id"]
        per_comp[key] = per_comp.get(key, 0.0) + float(total)
        label = built["ion_meta"][built["ion"][i]][1]
        per_ion[(key, label)] = per_ion.get((key, label), 0.0) + float(total)
    return per_comp, per_ion


def _truth(scn, built, scale, obs, raised, uv_truth, spectra) -> dict:
    per_comp, per_ion = _signals(built, scale)
    all_signal = sum(per_comp.values())
    main_id = scn["main_species"]
    main_comp = next((c for c in scn["compounds"] if c["id"] == main_id and c["kind"] == "route"), None)
    main_signal = per_comp.get(main_id, 0.0) if main_comp is not None else 0.0
    mono = {(built["comps"][o][0]["id"], label): mz for o, label, mz in built["ion_meta"]}

    def ions_of(cid):
        total = per_comp.get(cid, 0.0)
        out = [
            {"ion": label, "mz": round(mono[(c, label)], 6), "share": round(s / total, 5) if total else 0.0}
            for (c, label), s in per_ion.items()
            if c == cid
        ]
        return sorted(out, key=lambda x: -x["share"])

    species_out = []
    for sp in route_species(scn["route"]):
        comp = next(
            (c for c in scn["compounds"] if c["id"] == sp["id"] and c["kind"] in ("route", "carryover-only")), None
        )
        present = comp is not None and comp["kind"] == "route"
        sig = per_comp.get(sp["id"], 0.0) if comp is not None else 0.0
        species_out.append(
            {
                "id": sp["id"],
                "name": sp["name"],
                "role": sp["role"],
                "formula": sp["formula"],
                "stage_role": scn["stage_roles"][sp["id"]],
                "present": present,
                "carryover_only": comp is not None and comp["kind"] == "carryover-only",
                "molar_pct_of_product": round(100 * comp["molar"], 5) if comp is not None else 0.0,
                "signal": sig,
                "signal_ratio_to_product": (round(sig / main_signal, 6) if main_signal > 0 else None) if comp else 0.0,
                "signal_share_pct": round(100 * sig / all_signal, 5) if all_signal > 0 else 0.0,
                "rt_min": comp["rt_min"] if comp else None,
                "ions": ions_of(sp["id"]) if comp else [],
                "response_factor": comp["response_factor"] if comp else None,
                "peak": {k: comp[k] for k in ("fwhm_s", "tau_ratio", "fronting", "front_ratio")} if comp else None,
            }
        )
    distractors = []
    for c in scn["compounds"]:
        if c["kind"] in ("route", "carryover-only"):
            continue
        sig = per_comp.get(c["id"], 0.0)
        distractors.append(
            {
                "id": c["id"],
                "name": c["name"],
                "kind": c["kind"],
                "formula": c["formula"],
                "smiles": c["smiles"],
                "rt_min": c["rt_min"],
                "molar_pct_of_product": round(100 * c["molar"], 5),
                "signal_share_pct": round(100 * sig / all_signal, 5) if all_signal else 0.0,
                "signal_ratio_to_product": round(sig / main_signal, 6) if main_signal > 0 else None,
                "ions": ions_of(c["id"]),
                "isobar_of": c.get("isobar_of"),
                "isomer_of": c.get("isomer_of"),
            }
        )
    inst = scn["instrument"]
    params = {
        k: v
        for k, v in scn.items()
        if k not in ("compounds", "background", "uv", "blank", "stage_roles") and not k.startswith("_")
    }
    return {
        "schema": TRUTH_SCHEMA,
        "seed": scn["seed"],
        "index": scn["index"],
        "route": scn["route"],
        "stage": scn["stage"],
        "polarity": scn["polarity"],
        "last_stage": scn["stage"] == last_stage(scn["route"]),
        "main_species": main_id,
        "composition": scn["composition"],
        "resolution_class": inst["resolution_class"],
        "resolving_power": inst["resolving_power_at_200"],
        "resolving_power_at_mz": 200.0,
        "fwhm_da_at_200": inst["fwhm_da_at_200"],
        "analyzer": inst["analyzer"],
        "mode": inst["mode"],
        "mz_quantisation": inst["mz_quantisation"],
        "parameters": params,
        "observed": {
            "noise_sd": obs["noise_sd"],
            "storage_threshold": obs["threshold"],
            "storage_threshold_raised_to": raised,
            "saturation_level": obs["saturation_level"],
            "stored_points": int(sum(len(m) for m, _ in spectra)),
            "total_compound_signal": all_signal,
        },
        "species": species_out,
        "distractors": distractors,
        "background_ions": built["bg_meta"],
        "blank": {
            "present": scn["blank"]["present"],
            "carryover": scn["blank"]["carryover"],
            "carryover_only": scn["blank"]["carryover_only"],
        },
        "uv": uv_truth,
        "scenario": {
            "compounds": scn["compounds"],
            "background": scn["background"],
            "uv": {k: v for k, v in (scn["uv"] or {}).items()} or None,
        },
    }
