"""Synthetic 1H NMR datasets of route samples, with the truth they encode.

`draw_nmr_scenario(seed, index)` draws every parameter of one sample and its
acquisition; `write_nmr_scenario(scenario, folder)` turns it into an
instrument dataset (a Bruker raw experiment, a JCAMP-DX processed spectrum or
a Varian .fid folder) plus a truth JSON.

Physics
-------
Spin systems. Each species is a set of coupled fragments of magnetically
equivalent groups (nmr_tables). A fragment of up to 10 spins is solved
exactly: the Hamiltonian H = sum_i nu_i Iz_i + sum_i<j J_ij I_i.I_j is built in
the product basis, block-diagonalised by total Mz and diagonalised; the lines
are the single-quantum transitions of F- = sum_i I-_i, intensity
|<b|F-|a>|^2, frequency E_a - E_b. Second-order effects (roofing, AB
patterns, extra lines of A2B2/ABX systems at small delta-nu/J, e.g. at 60-80
MHz or when two CH2 groups nearly coincide) come out of this without
approximation. Each line's width is the character-weighted mean of the widths
of the spins it belongs to, so a broad NH coupled to a CH2 leaves the CH2
sharp but split. Larger fragments fall back to first-order multiplets.
Amide rotamers are two populations with their own shifts. 13C satellites
(0.535 % each at +-J(CH)/2) are copies of each line; TMS has 29Si ones too.

FID. The time-domain signal is a sum of damped complex exponentials,
s(t) = sum_j a_j exp(i 2 pi f_j t - pi w_j t) * exp(-(pi g t)^2 / (4 ln 2)),
with f_j the offset from the carrier (higher ppm = positive f in Bruker's
stored convention, negative in Varian's), w_j the Lorentzian FWHM and g a
Gaussian FWHM per species (a Voigt profile: shim quality and unresolved
couplings). The sum over lines is evaluated as a matrix product: with
k = pQ + q, exp(s_j k dt) = exp(s_j pQ dt) * exp(s_j q dt), so the whole FID
is (P x J) @ (J x Q), exact and about 100x faster than summing directly.

Digital filter. Bruker's oversampling filter delays the FID by GRPDLY
complex points (or by the DECIM/DSPFVS table value in older data). It is
modelled as an ideal linear-phase low-pass: the causal FID (zero before
t = 0) is zero-padded to twice its length, delayed by GRPDLY points with a
frequency-domain phase ramp exp(-2 pi i nu G), and cut back to TD, so the
first ~G points hold the band-limited rise and the last G points of the
signal are lost, as in real data. A residual first-order phase is an extra
fraction of a dwell not recorded in acqus; the zero-order phase is the
receiver phase. Baseline roll comes from corrupted first points (a few
complex values at t = 0, i.e. a smooth periodic baseline in the spectrum),
plus an optional broad background hump (a 300-1500 Hz wide line). Complex
white Gaussian noise is added after the filter; S/N is the height of the
product's tallest line in the unapodised spectrum over twice the noise RMS
of the real spectrum (Bruker's convention). int32 data are rounded.

Everything here comes from nmr_tables (shifts, J, solvents), from the Bruker
and Varian file conventions (checked against real files: Bruker stores
higher frequency as positive offset, Varian the opposite), and from ICH Q3C.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

try:
    from . import nmr_tables as T
except ImportError:  # run by path
    import nmr_tables as T  # type: ignore

SCHEMA = "specqc.validation-truth/1"

FIELDS_MHZ = (60, 80, 300, 400, 500, 600, 700, 800)
FIELD_WEIGHTS = (0.06, 0.06, 0.12, 0.28, 0.18, 0.16, 0.06, 0.08)
BF1 = {60: 60.01, 80: 80.27, 300: 300.13, 400: 400.13, 500: 500.13, 600: 600.13, 700: 700.13, 800: 800.13}

STAGE_WEIGHTS = (
    ("diazepan-2-one", "salt", 0.34),
    ("diazepan-2-one", "cyclization", 0.20),
    ("cyclobutylcarbonyl-diazepane", "final", 0.24),
    ("diazepan-2-one", "alkylation", 0.05),
    ("diazepan-2-one", "deprotection", 0.07),
    ("cyclobutylcarbonyl-diazepane", "ring-formation", 0.04),
    ("cyclobutylcarbonyl-diazepane", "acylation", 0.06),
)
SOLVENT_CHOICE = {
    "salt": (("DMSO-d6", 0.5), ("D2O", 0.3), ("CD3OD", 0.2)),
    "cyclization": (("CDCl3", 0.85), ("DMSO-d6", 0.15)),
    "final": (("CDCl3", 0.6), ("DMSO-d6", 0.4)),
    "alkylation": (("CDCl3", 1.0),),
    "deprotection": (("DMSO-d6", 0.4), ("D2O", 0.35), ("CD3OD", 0.25)),
    "ring-formation": (("CDCl3", 0.7), ("D2O", 0.3)),
    "acylation": (("CDCl3", 0.8), ("DMSO-d6", 0.2)),
}
SALT_PROBABILITY = {
    "salt": 1.0,
    "deprotection": 0.8,
    "cyclization": 0.0,
    "final": 0.25,
    "alkylation": 0.0,
    "ring-formation": 0.2,
    "acylation": 0.1,
}
PROCESS_SOLVENTS_BY_STAGE = {
    "salt": ("diethyl ether", "1,4-dioxane", "MTBE", "ethyl acetate", "methanol", "ethanol", "hexane"),
    "cyclization": (
        "tetrahydrofuran",
        "toluene",
        "ethanol",
        "acetonitrile",
        "N,N-dimethylformamide",
        "ethyl acetate",
        "dichloromethane",
    ),
    "final": ("dichloromethane", "triethylamine", "ethyl acetate", "hexane", "methanol", "diethyl ether", "toluene"),
    "alkylation": ("acetonitrile", "tetrahydrofuran", "triethylamine", "ethyl acetate", "hexane"),
    "deprotection": ("1,4-dioxane", "dichloromethane", "ethyl acetate", "methanol", "diethyl ether"),
    "ring-formation": ("ethanol", "acetonitrile", "N,N-dimethylformamide", "toluene", "dichloromethane", "methanol"),
    "acylation": ("dichloromethane", "triethylamine", "ethyl acetate", "tetrahydrofuran", "hexane"),
}
# substrate that stays when the stage's reaction did not run
FAILED_REACTION_SUBSTRATE = {
    ("diazepan-2-one", "alkylation"): "boc-diaminopropane",
    ("diazepan-2-one", "deprotection"): "boc-aminopropyl-glycinate",
    ("diazepan-2-one", "cyclization"): "aminopropyl-glycinate",
    ("diazepan-2-one", "salt"): "aminopropyl-glycinate",
    ("cyclobutylcarbonyl-diazepane", "ring-formation"): "bromopropyl-ethylenediamine",
    ("cyclobutylcarbonyl-diazepane", "acylation"): "homopiperazine",
    ("cyclobutylcarbonyl-diazepane", "final"): "homopiperazine",
}


def _choice(rng, items, weights=None):
    idx = rng.choice(len(items), p=None if weights is None else np.asarray(weights) / np.sum(weights))
    return items[int(idx)]


def _loguniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _product_form_mass(route: str, stage: str, salt: bool) -> float:
    main = T.STAGES[route][stage]["main"]
    info = T.ROUTE_SPECIES[route][main]
    m = T.molar_mass(info["smiles"])
    if salt and info["basic_n"] > 0:
        m += T.HCL * (1 if stage in ("salt", "final", "cyclization", "acylation") else info["basic_n"])
    return m


def _salt_hcl_count(route: str, stage: str) -> int:
    main = T.STAGES[route][stage]["main"]
    n = T.ROUTE_SPECIES[route][main]["basic_n"]
    return 1 if stage in ("salt", "final", "cyclization", "acylation") else max(n, 1)


# ---------------------------------------------------------------------------
# Drawing


def draw_nmr_scenario(seed: int, index: int) -> dict:
    """All parameters of scenario `index` of the set `seed`."""
    rng = np.random.default_rng([seed, index])
    route, stage, _ = _choice(rng, STAGE_WEIGHTS, [w for *_, w in STAGE_WEIGHTS])
    solvents = SOLVENT_CHOICE[stage]
    solvent = _choice(rng, [s for s, _ in solvents], [w for _, w in solvents])
    salt = bool(rng.random() < SALT_PROBABILITY[stage])
    stage_info = T.STAGES[route][stage]
    main = stage_info["main"]
    tables = T.species_tables()[route]

    mhz = int(_choice(rng, FIELDS_MHZ, FIELD_WEIGHTS))
    fmt_roll = rng.random()
    fmt = "bruker" if fmt_roll < 0.68 else ("jcamp" if fmt_roll < 0.88 else "varian")

    kind_roll = rng.random()
    kind = "clean" if kind_roll < 0.14 else ("no-product" if kind_roll < 0.18 else "impure")

    # --- species amounts (mol per mol of the nominal product)
    species = []
    impurities = list(stage_info["impurities"])
    oligo_on = rng.random() < 0.3
    for sid, info in T.ROUTE_SPECIES[route].items():
        role_here = "main" if sid == main else ("impurity" if sid in impurities else "not-applicable")
        ratio = 0.0
        if sid == main:
            ratio = 0.0 if kind == "no-product" else 1.0
        elif role_here == "impurity" and kind != "clean":
            p = 0.45 if info["role"] == "oligomer" and oligo_on else (0.0 if info["role"] == "oligomer" else 0.3)
            if rng.random() < p:
                ratio = _loguniform(rng, 0.002, 0.20)
        species.append({"id": sid, "role": info["role"], "stage_role": role_here, "mol_ratio_to_product": ratio})
    if kind == "no-product":
        sub = FAILED_REACTION_SUBSTRATE[(route, stage)]
        for s in species:
            if s["id"] == sub:
                s["mol_ratio_to_product"] = float(rng.uniform(0.5, 1.0))
    if kind == "clean" and rng.random() < 0.5:
        # a clean sample may still carry a trace below any threshold
        cands = [s for s in species if s["stage_role"] == "impurity"]
        s = cands[int(rng.integers(len(cands)))]
        s["mol_ratio_to_product"] = _loguniform(rng, 0.0005, 0.002)

    for s in species:
        info = T.ROUTE_SPECIES[route][s["id"]]
        s["present"] = s["mol_ratio_to_product"] > 0
        s["form"] = "salt" if (salt and info["basic_n"] > 0) else "free-base"
        sp = tables[s["id"]]
        devs = {}
        for frag in sp.fragments:
            for g in frag.groups:
                if rng.random() < 0.1:
                    d = rng.uniform(-0.15, 0.15)
                else:
                    d = float(np.clip(rng.normal(0, 0.035), -0.15, 0.15))
                devs[g.label] = round(float(d), 4)
        s["shift_deviation_ppm"] = devs
        s["line_width_hz"] = round(
            float(rng.uniform(0.0, 1.0 if s["form"] == "salt" or s["role"] == "oligomer" else 0.5)), 3
        )
        if sp.rotamers:
            s["rotamer_populations"] = [
                round(float(x), 3) for x in np.array(sp.rotamers) + rng.normal(0, 0.03, len(sp.rotamers))
            ]
            s["rotamer_offsets_ppm"] = {
                g.label: round(
                    float(rng.uniform(-2, 2) * sp.rotamer_shift * (0.3 if g.label.startswith("CH") else 1.0)), 4
                )
                for frag in sp.fragments
                for g in frag.groups
            }

    # --- process solvents
    prod_mass = _product_form_mass(route, stage, salt)
    candidates = [
        n
        for n in PROCESS_SOLVENTS_BY_STAGE[stage]
        if T.PROCESS_SOLVENTS[n].groups[0].ppm[T._SOLV_INDEX[solvent]] is not None
    ]
    n_solv = 0 if kind == "clean" and rng.random() < 0.5 else int(rng.integers(0, 4 if kind != "clean" else 2))
    chosen = list(rng.choice(candidates, size=min(n_solv, len(candidates)), replace=False)) if n_solv else []
    limits = T.ich_limits()
    solv_rows = []
    for name, ps in T.PROCESS_SOLVENTS.items():
        cls, limit = limits[ps.ich_name]
        times = 0.0
        if name in chosen:
            times = _loguniform(rng, 0.1, 0.45) if kind == "clean" else _loguniform(rng, 0.1, 10.0)
        mw = T.molar_mass(ps.smiles)
        ppm_w = times * limit
        ratio = ppm_w * prod_mass / mw / 1e6
        solv_rows.append(
            {
                "name": name,
                "ich_name": ps.ich_name,
                "ich_class": cls,
                "present": times > 0,
                "mol_ratio_to_product": ratio,
                "ppm_w_w": ppm_w,
                "limit_ppm": limit,
                "times_limit": times,
                "molar_mass": round(mw, 3),
                "shift_deviation_ppm": round(float(rng.normal(0, 0.006)), 4),
                "protonated": bool(name == "triethylamine" and salt),
            }
        )

    # --- deliberate overlaps
    overlaps = []
    prod_entry = next(s for s in species if s["id"] == main)
    if kind != "no-product" and rng.random() < 0.3:
        ov = _draw_solvent_overlap(rng, route, main, solvent, salt, prod_entry, solv_rows, tables)
        if ov:
            overlaps.append(ov)
    ov = _draw_ester_overlap(rng, route, solvent, salt, species, solv_rows, tables)
    if ov:
        overlaps.append(ov)

    # --- unexpected signals
    unexpected = []
    if kind != "no-product" and rng.random() < 0.07:
        if rng.random() < 0.5:
            unexpected.append(
                {
                    "label": "tBu singlet (unknown Boc species)",
                    "n_h": 9,
                    "ppm": round(float(rng.uniform(1.40, 1.50)), 3),
                    "mol_ratio_to_product": round(_loguniform(rng, 0.05, 0.3), 4),
                    "kind": "tBu",
                }
            )
        else:
            unexpected.append(
                {
                    "label": "OCH3 singlet (unknown methyl ester/ether)",
                    "n_h": 3,
                    "ppm": round(float(rng.uniform(3.62, 3.78)), 3),
                    "mol_ratio_to_product": round(_loguniform(rng, 0.05, 0.3), 4),
                    "kind": "OCH3",
                }
            )

    # --- sample, water, exchangeables
    dsol = T.DEUTERATED[solvent]
    mass_mg = _loguniform(rng, 3.0, 30.0)
    conc_mM = mass_mg / prod_mass / 0.6 * 1000.0
    d_purity = float(rng.uniform(99.8, 99.96))
    solvent_water_mM = {
        "CDCl3": _loguniform(rng, 1.5, 12.0),
        "DMSO-d6": _loguniform(rng, 5.0, 60.0),
        "D2O": 0.0,
        "CD3OD": _loguniform(rng, 2.0, 20.0),
    }[solvent]
    hygroscopic = salt and stage in ("salt", "deprotection", "final")
    sample_water = _loguniform(rng, 0.05, 4.0) if hygroscopic else _loguniform(rng, 0.01, 0.6)
    exch_visible = bool(rng.random() < {"CDCl3": 0.7, "DMSO-d6": 0.85, "D2O": 0.0, "CD3OD": 0.0}[solvent])
    lo, hi = dsol.water_range
    water_ppm = float(rng.uniform(lo, lo + 0.35 * (hi - lo)) if not salt else rng.uniform(lo, hi))
    water_width = float(
        {
            "CDCl3": rng.uniform(1.0, 6.0),
            "DMSO-d6": rng.uniform(2.0, 40.0 if salt else 12.0),
            "D2O": rng.uniform(1.0, 3.0),
            "CD3OD": rng.uniform(1.0, 4.0),
        }[solvent]
    )

    # --- acquisition
    acq = _draw_acquisition(rng, fmt, mhz, solvent)
    shim_lw = _loguniform(rng, 0.3, 1.8)
    gauss_fraction = float(rng.uniform(0.0, 0.7))
    snr = _loguniform(rng, 20.0, 5000.0)
    ref_err = float(rng.uniform(-0.05, 0.05))
    has_tms = bool(rng.random() < {"CDCl3": 0.5, "DMSO-d6": 0.2, "D2O": 0.0, "CD3OD": 0.15}[solvent])
    has_tsp = bool(solvent == "D2O" and rng.random() < 0.3)
    baseline = {
        "first_point_amplitude": float(_loguniform(rng, 1e-4, 0.04)),
        "first_points": int(rng.integers(1, 8)),
        "hump_height": float(rng.uniform(0.0, 0.03)) if rng.random() < 0.4 else 0.0,
        "hump_width_hz": float(rng.uniform(300.0, 1500.0)),
        "hump_ppm": float(rng.uniform(0.0, 10.0)),
    }
    if fmt == "jcamp":
        phase = {"ph0_deg": float(rng.normal(0, 3.0)), "ph1_deg": float(rng.normal(0, 4.0))}
    else:
        phase = {"ph0_deg": float(rng.uniform(-180, 180)), "ph1_deg": float(rng.uniform(-40, 40))}

    sc = {
        "schema": SCHEMA,
        "technique": "nmr",
        "id": f"nmr-{seed}-{index:04d}",
        "seed": int(seed),
        "index": int(index),
        "route": route,
        "stage": stage,
        "product": main,
        "kind": kind,
        "solvent": solvent,
        "form": "salt" if salt else "free-base",
        "product_form_molar_mass": round(prod_mass, 3),
        "format": fmt,
        "spectrometer_mhz": mhz,
        "acquisition": acq,
        "line_shape": {"shim_lorentz_hz": round(shim_lw, 3), "gauss_fraction": round(gauss_fraction, 3)},
        "snr": round(snr, 2),
        "phase": phase,
        "baseline": baseline,
        "referencing_error_ppm": round(ref_err, 4),
        "sample": {
            "mass_mg": round(mass_mg, 3),
            "product_conc_mM": round(conc_mM, 3),
            "deuteration_pct": round(d_purity, 3),
            "tms": has_tms,
            "tsp": has_tsp,
        },
        "species": species,
        "solvents": solv_rows,
        "water": {
            "sample_mol_ratio": round(sample_water, 4),
            "solvent_water_mM": round(solvent_water_mM, 3),
            "ppm": round(water_ppm, 3),
            "width_hz": round(water_width, 2),
        },
        "exchangeables": {"visible": exch_visible, "amide_fraction_cd3od": round(float(rng.uniform(0.0, 0.3)), 3)},
        "overlaps": overlaps,
        "unexpected_signals": unexpected,
    }
    return sc


def _draw_acquisition(rng, fmt: str, mhz: int, solvent: str) -> dict:
    bf1 = BF1[mhz]
    sw_ppm = float(_choice(rng, (16.0, 20.0, 20.5, 24.0) if mhz >= 300 else (16.0, 20.0)))
    o1p = float(rng.uniform(4.5, 6.5))
    acq: dict = {"bf1": bf1, "o1p": round(o1p, 4), "ns": int(_choice(rng, (8, 16, 32, 64, 128)))}
    if fmt == "bruker":
        modern = rng.random() < 0.75
        if modern:
            dspfvs = int(_choice(rng, (20, 21, 23)))
            decim = max(2, int(round(20e6 / (sw_ppm * bf1))))
            sw_h = 20e6 / decim
            grpdly = float(_choice(rng, (67.9842071533203, 67.9862518310547, 71.9862518310547, 76.0)))
        else:
            dspfvs = int(_choice(rng, (10, 11)))
            table = T.BRUKER_DSP_DELAY[dspfvs]
            sw_h = sw_ppm * bf1
            decim = min(table, key=lambda d: abs(d * sw_h - 115200.0))
            grpdly = -1.0
        acq.update(
            dspfvs=dspfvs,
            decim=int(decim),
            grpdly=grpdly,
            filter_delay_points=float(grpdly if grpdly > 0 else T.BRUKER_DSP_DELAY[dspfvs][decim]),
            dtypa=int(_choice(rng, (0, 2), (0.6, 0.4))),
            bytorda=int(rng.integers(0, 2)),
            write_procs=bool(rng.random() < 0.6),
        )
    else:
        sw_h = sw_ppm * bf1
    aq_target = float(rng.uniform(1.6, 5.0))
    n = int(round(aq_target * sw_h))
    n_pow2 = 1 << int(round(math.log2(max(n, 8192))))
    if rng.random() < 0.75 or fmt == "varian":
        n = n_pow2
    n = int(min(max(n, 8192), 65536))
    n -= n % 2
    acq.update(sw_h=sw_h, sw_ppm=sw_h / bf1, n_complex=n, aq_s=n / sw_h)
    if fmt == "bruker" and acq["dtypa"] == 0 and (2 * n) % 256:
        acq["pad_to_256"] = bool(rng.random() < 0.5)
    if fmt == "jcamp":
        acq["jcamp_layout"] = str(_choice(rng, ("xydata-relative-hz", "xydata-absolute-hz", "xydata-ppm", "ntuples")))
        acq["jcamp_encoding"] = str(_choice(rng, ("difdup", "affn")))
        acq["si"] = int(_choice(rng, (32768, 65536)))
        acq["lb_hz"] = 0.3
    return acq


def _group_shift(g: T.Group, solvent: str, salt: bool) -> float | None:
    fb, sl = g.shifts[solvent]
    return sl if salt and sl is not None else fb


def _draw_solvent_overlap(rng, route, main, solvent, salt, prod_entry, solv_rows, tables):
    """Move a product multiplet to within 0.02 ppm of a present solvent singlet."""
    singlets = []
    for row in solv_rows:
        if not row["present"]:
            continue
        ps = T.PROCESS_SOLVENTS[row["name"]]
        coupled = {a for a, b, _ in ps.couplings} | {b for a, b, _ in ps.couplings}
        for g in ps.groups:
            v = g.ppm[T._SOLV_INDEX[solvent]]
            if v is not None and g.label not in coupled and not g.exchangeable:
                singlets.append((row["name"], g.label, v + row["shift_deviation_ppm"]))
    if not singlets:
        return None
    sp = tables[main]
    groups = [
        (g, _group_shift(g, solvent, salt))
        for f in sp.fragments
        for g in f.groups
        if not g.exchangeable and f.couplings
    ]
    pairs = []
    for name, lab, v in singlets:
        for g, shift in groups:
            need = v - shift
            if abs(need) <= 0.13:
                pairs.append((name, lab, v, g.label, need))
    if not pairs:
        return None
    name, lab, v, glabel, need = pairs[int(rng.integers(len(pairs)))]
    dev = need + float(rng.uniform(-0.02, 0.02))
    prod_entry["shift_deviation_ppm"][glabel] = round(float(np.clip(dev, -0.15, 0.15)), 4)
    return {
        "kind": "solvent-singlet-on-product-multiplet",
        "solvent": name,
        "solvent_group": lab,
        "species": main,
        "group": glabel,
        "separation_ppm": round(dev - need, 4),
    }


def _draw_ester_overlap(rng, route, solvent, salt, species, solv_rows, tables):
    """Put two ethyl-ester OCH2 quartets on top of each other."""
    esters = []
    for s in species:
        if not s["present"]:
            continue
        for f in tables[s["id"]].fragments:
            for g in f.groups:
                if g.label == "OCH2":
                    shift = _group_shift(g, solvent, s["form"] == "salt")
                    esters.append(("species", s, g.label, shift + s["shift_deviation_ppm"][g.label]))
    for row in solv_rows:
        if row["present"] and row["name"] == "ethyl acetate":
            v = T.PROCESS_SOLVENTS["ethyl acetate"].groups[1].ppm[T._SOLV_INDEX[solvent]]
            esters.append(("solvent", row, "OCH2", v + row["shift_deviation_ppm"]))
    if len(esters) < 2 or rng.random() > 0.6:
        return None
    movable = [e for e in esters if e[0] == "species"]
    if not movable:
        return None
    mover = movable[int(rng.integers(len(movable)))]
    others = [e for e in esters if e is not mover]
    target = others[int(rng.integers(len(others)))]
    s = mover[1]
    need = target[3] - (mover[3] - s["shift_deviation_ppm"]["OCH2"])
    if abs(need) > 0.15:
        return None
    sep = float(rng.uniform(-0.004, 0.004))
    s["shift_deviation_ppm"]["OCH2"] = round(need + sep, 4)
    s["shift_deviation_ppm"]["CH3"] = round(
        float(np.clip(s["shift_deviation_ppm"].get("CH3", 0.0) * 0.3 + need * 0.5, -0.15, 0.15)), 4
    )
    return {
        "kind": "ethyl-quartets-coincide",
        "species": s["id"],
        "with": target[1]["id"] if target[0] == "species" else "ethyl acetate",
        "separation_ppm": round(sep, 4),
    }


# ---------------------------------------------------------------------------
# Spin systems


def spin_lines(nu: np.ndarray, J: np.ndarray, widths: np.ndarray):
    """Exact single-quantum spectrum of a spin-1/2 system.

    nu: frequencies (Hz) of the n spins; J: n x n couplings (Hz); widths: the
    Lorentzian FWHM of each spin. Returns (freq, intensity, width) arrays with
    the intensities summing to n.
    """
    n = len(nu)
    if n == 1:
        return np.array([nu[0]]), np.array([1.0]), np.array([widths[0]])
    dim = 1 << n
    states = np.arange(dim)
    bits = ((states[:, None] >> np.arange(n)) & 1).astype(float)  # 1 = alpha
    m = bits - 0.5
    diag = m @ nu
    iu = np.triu_indices(n, 1)
    Jv = J[iu]
    diag = diag + ((m[:, iu[0]] * m[:, iu[1]]) * Jv).sum(axis=1)
    ups = bits.sum(axis=1).astype(int)
    blocks = [np.nonzero(ups == k)[0] for k in range(n + 1)]
    pos = np.empty(dim, dtype=int)
    for blk in blocks:
        pos[blk] = np.arange(len(blk))
    eig = []
    for blk in blocks:
        H = np.diag(diag[blk])
        for (i, j), Jij in zip(zip(*iu), Jv):
            if Jij == 0.0:
                continue
            mask = (1 << i) | (1 << j)
            for a_idx, s in enumerate(blk):
                bi = (s >> i) & 1
                bj = (s >> j) & 1
                if bi != bj:
                    t = s ^ mask
                    H[a_idx, pos[t]] += 0.5 * Jij
        w, v = np.linalg.eigh(H)
        eig.append((w, v))
    freqs, ints, wids = [], [], []
    for k in range(1, n + 1):
        hi, lo = blocks[k], blocks[k - 1]
        Ek, Vk = eig[k]
        El, Vl = eig[k - 1]
        Ti = []
        for i in range(n):
            M = np.zeros((len(lo), len(hi)))
            for b_idx, s in enumerate(hi):
                if (s >> i) & 1:
                    M[pos[s ^ (1 << i)], b_idx] = 1.0
            Ti.append(Vl.T @ M @ Vk)
        Ti = np.array(Ti)  # (n, lo, hi)
        Tt = Ti.sum(axis=0)
        inten = Tt**2
        char = np.abs(Ti * Tt[None])
        csum = char.sum(axis=0)
        csum[csum == 0] = 1.0
        wl = (char * widths[:, None, None]).sum(axis=0) / csum
        f = Ek[None, :] - El[:, None]
        keep = inten > 1e-6 * n
        freqs.append(f[keep])
        ints.append(inten[keep])
        wids.append(wl[keep])
    f = np.concatenate(freqs)
    a = np.concatenate(ints) / (1 << (n - 1))
    w = np.concatenate(wids)
    # merge degenerate lines
    order = np.argsort(f)
    f, a, w = f[order], a[order], w[order]
    key = np.round(f, 3)
    uniq, inv = np.unique(key, return_inverse=True)
    A = np.bincount(inv, a)
    F = np.bincount(inv, a * f) / A
    W = np.bincount(inv, a * w) / A
    return F, A, W


def first_order_lines(nu0: float, partners: list[tuple[int, float]], width: float):
    """First-order multiplet of one group: splits by each (n equivalent, J)."""
    f = np.array([nu0])
    a = np.array([1.0])
    for n, J in partners:
        k = np.arange(n + 1)
        binom = np.array([math.comb(n, int(i)) for i in k], float) / 2**n
        f = (f[:, None] + (k - n / 2)[None, :] * J).ravel()
        a = (a[:, None] * binom[None, :]).ravel()
    return f, a, np.full(f.shape, width)


def fragment_lines(groups: list[tuple[str, int, float, float]], couplings, max_spins: int = 10):
    """Lines of a fragment: groups (label, n_h, nu_hz, width_hz), couplings
    (label, label, J). Splits into connected components first. Returns
    (freq, intensity in protons, width, group_share) where group_share maps
    each line to a dict-free array of the label index with the largest
    character (used for the 13C satellites)."""
    labels = [g[0] for g in groups]
    idx = {l: i for i, l in enumerate(labels)}
    adj = {i: set() for i in range(len(groups))}
    for a, b, J in couplings:
        if a in idx and b in idx and J != 0:
            adj[idx[a]].add(idx[b])
            adj[idx[b]].add(idx[a])
    seen, comps = set(), []
    for i in range(len(groups)):
        if i in seen:
            continue
        stack, comp = [i], []
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            comp.append(x)
            stack.extend(adj[x])
        comps.append(sorted(comp))
    out_f, out_a, out_w, out_g = [], [], [], []
    for comp in comps:
        nspins = sum(groups[i][1] for i in comp)
        if len(comp) == 1:
            lab, nh, nu, w = groups[comp[0]]
            out_f.append(np.array([nu]))
            out_a.append(np.array([float(nh)]))
            out_w.append(np.array([w]))
            out_g.append(np.array([comp[0]]))
            continue
        if nspins <= max_spins:
            nu, wv, owner = [], [], []
            for i in comp:
                nu += [groups[i][2]] * groups[i][1]
                wv += [groups[i][3]] * groups[i][1]
                owner += [i] * groups[i][1]
            nsp = len(nu)
            J = np.zeros((nsp, nsp))
            for a, b, Jab in couplings:
                if a in idx and b in idx and idx[a] in comp and idx[b] in comp:
                    for p in range(nsp):
                        for q in range(nsp):
                            if owner[p] == idx[a] and owner[q] == idx[b]:
                                J[p, q] = J[q, p] = Jab
            f, a, w = spin_lines(np.array(nu), J, np.array(wv))
            # owner of each line: the group whose frequency is nearest
            cen = np.array([groups[i][2] for i in comp])
            own = np.array(comp)[np.argmin(np.abs(f[:, None] - cen[None, :]), axis=1)]
            out_f.append(f)
            out_a.append(a)
            out_w.append(w)
            out_g.append(own)
        else:
            for i in comp:
                partners = []
                for a_, b_, Jab in couplings:
                    if a_ in idx and b_ in idx:
                        if idx[a_] == i and idx[b_] in comp:
                            partners.append((groups[idx[b_]][1], Jab))
                        elif idx[b_] == i and idx[a_] in comp:
                            partners.append((groups[idx[a_]][1], Jab))
                f, a, w = first_order_lines(groups[i][2], partners, groups[i][3])
                out_f.append(f)
                out_a.append(a * groups[i][1])
                out_w.append(w)
                out_g.append(np.full(f.shape, i))
    return (np.concatenate(out_f), np.concatenate(out_a), np.concatenate(out_w), np.concatenate(out_g))


# ---------------------------------------------------------------------------
# Building the line list of a scenario


class Component:
    """One contributor to the spectrum (a species, a solvent, water, ...)."""

    def __init__(self, name: str, kind: str, gauss_hz: float):
        self.name, self.kind, self.gauss_hz = name, kind, gauss_hz
        self.f: list[np.ndarray] = []  # ppm
        self.a: list[np.ndarray] = []
        self.w: list[np.ndarray] = []

    def add(self, ppm, amp, width):
        self.f.append(np.atleast_1d(np.asarray(ppm, float)))
        self.a.append(np.atleast_1d(np.asarray(amp, float)))
        self.w.append(np.atleast_1d(np.asarray(width, float)))

    def arrays(self):
        if not self.f:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        return np.concatenate(self.f), np.concatenate(self.a), np.concatenate(self.w)


SAT = 0.00535


def _add_fragment(comp: Component, groups, couplings, mhz_bf1, copies_amp, jch_by_label, ppm_of_hz):
    """groups: (label, n_h, ppm, width); adds lines (with 13C satellites)."""
    hz_groups = [(lab, nh, ppm * mhz_bf1, w) for lab, nh, ppm, w in groups]
    f, a, w, own = fragment_lines(hz_groups, couplings)
    a = a * copies_amp
    comp.add(f / mhz_bf1, a, w)
    jch = np.array([jch_by_label.get(groups[i][0], 0.0) for i in own])
    sat = jch > 0
    if sat.any():
        for sgn in (-1.0, 1.0):
            comp.add((f[sat] + sgn * jch[sat] / 2) / mhz_bf1, a[sat] * SAT, w[sat])


def build_components(sc: dict) -> list[Component]:
    """All lines of the scenario, in ppm as the spectrometer shows them
    (referencing error included), amplitudes in mM of protons."""
    route, solvent = sc["route"], sc["solvent"]
    bf1 = sc["acquisition"]["bf1"]
    conc = sc["sample"]["product_conc_mM"]
    eps = sc["referencing_error_ppm"]
    shim = sc["line_shape"]["shim_lorentz_hz"]
    gfrac = sc["line_shape"]["gauss_fraction"]
    tables = T.species_tables()[route]
    exch_visible = sc["exchangeables"]["visible"] and solvent in ("CDCl3", "DMSO-d6")
    comps: list[Component] = []
    exchanged_h = 0.0  # mM of exchangeable H that end up in the water/HOD peak
    exchanged_shift_weight = 0.0
    rng = np.random.default_rng([sc["seed"], sc["index"], 7])

    for s in sc["species"]:
        if not s["present"]:
            continue
        sp = tables[s["id"]]
        salt = s["form"] == "salt"
        lw = min(3.0, shim + s["line_width_hz"])
        comp = Component(s["id"], "species", gauss_hz=lw * gfrac)
        c = conc * s["mol_ratio_to_product"]
        rot = s.get("rotamer_populations") or [1.0]
        for r_i, pop in enumerate(rot):
            for frag in sp.fragments:
                gs, jch = [], {}
                for g in frag.groups:
                    shift = _group_shift(g, solvent, salt)
                    nh = g.protons(salt)
                    if g.exchangeable:
                        n_tot = c * nh * frag.copies
                        hidden = shift is None or (solvent in ("CDCl3", "DMSO-d6") and not exch_visible)
                        if hidden:
                            # exchanged with the solvent or fast exchange with water: one averaged peak
                            if r_i == 0:
                                exchanged_h += n_tot
                                exchanged_shift_weight += n_tot * (
                                    shift if (shift is not None and solvent != "CD3OD") else sc["water"]["ppm"]
                                )
                            continue
                        width = float(np.interp(rng.random(), [0, 1], g.width_hz)) * (1.0 + 0.5 * rng.random())
                        ppm = shift + s["shift_deviation_ppm"][g.label] * 0.5 + eps
                        if solvent == "CD3OD":
                            # slow amide exchange: a fraction of the NH is left
                            frac = sc["exchangeables"]["amide_fraction_cd3od"]
                            if r_i == 0:
                                exchanged_h += n_tot * (1 - frac)
                                exchanged_shift_weight += n_tot * (1 - frac) * sc["water"]["ppm"]
                            if frac > 0:
                                comp.add(ppm, n_tot * pop * frac, width + lw)
                            continue
                        gs.append((g.label, nh, ppm, width + lw))
                        jch[g.label] = 0.0
                        continue
                    ppm = shift + s["shift_deviation_ppm"][g.label] + eps
                    if len(rot) > 1:
                        off = s["rotamer_offsets_ppm"].get(g.label, 0.0)
                        ppm += off * (0.5 if r_i == 0 else -0.5)
                    gs.append((g.label, nh, ppm, lw))
                    jch[g.label] = g.j_ch
                if not gs:
                    continue
                labels = {x[0] for x in gs}
                coup = [(a, b, J) for a, b, J in frag.couplings if a in labels and b in labels]
                # NH couplings only where the NH is seen and not broadened away
                if solvent not in ("DMSO-d6", "CDCl3"):
                    coup = [x for x in coup if not any(g.exchangeable and g.label in (x[0], x[1]) for g in frag.groups)]
                _add_fragment(comp, gs, coup, bf1, c * pop * frag.copies, jch, None)
        comps.append(comp)

    # process solvents
    sidx = T._SOLV_INDEX[solvent]
    for row in sc["solvents"]:
        if not row["present"]:
            continue
        ps = T.PROCESS_SOLVENTS[row["name"]]
        c = conc * row["mol_ratio_to_product"]
        groups_src = ps.salt_groups if (row["protonated"] and ps.salt_groups) else ps.groups
        comp = Component(row["name"], "solvent", gauss_hz=shim * gfrac)
        gs, jch = [], {}
        for g in groups_src:
            v = g.ppm[sidx]
            if v is None:
                continue
            if g.exchangeable:
                if solvent == "DMSO-d6":
                    gs.append((g.label, g.n_h, v + row["shift_deviation_ppm"] + eps, shim + 2.0))
                    jch[g.label] = 0.0
                else:
                    exchanged_h += c * g.n_h * ps.copies
                    exchanged_shift_weight += c * g.n_h * ps.copies * sc["water"]["ppm"]
                continue
            gs.append((g.label, g.n_h, v + row["shift_deviation_ppm"] + eps, shim))
            jch[g.label] = g.j_ch
        labels = {x[0] for x in gs}
        coup = [(a, b, J) for a, b, J in ps.couplings if a in labels and b in labels]
        _add_fragment(comp, gs, coup, bf1, c * ps.copies, jch, None)
        comps.append(comp)

    # unexpected signals
    for u in sc["unexpected_signals"]:
        comp = Component(u["label"], "unexpected", gauss_hz=shim * gfrac)
        _add_fragment(
            comp,
            [(u["label"], u["n_h"], u["ppm"] + eps, shim)],
            [],
            bf1,
            conc * u["mol_ratio_to_product"],
            {u["label"]: 127.0},
            None,
        )
        comps.append(comp)

    # deuterated solvent residual, water, TMS
    ds = T.DEUTERATED[solvent]
    resid_h = ds.residual_h_molar * (1.0 - sc["sample"]["deuteration_pct"] / 100.0) * 1000.0  # mM H
    water = sc["water"]
    if ds.residual_ppm is not None:
        comp = Component("residual " + solvent, "residual", gauss_hz=shim * gfrac)
        for off, rel in ds.residual_pattern:
            comp.add(ds.residual_ppm + eps + off / bf1, resid_h * rel, shim)
            if ds.residual_j_ch:
                for sgn in (-1, 1):
                    comp.add(
                        ds.residual_ppm + eps + (off + sgn * ds.residual_j_ch / 2) / bf1, resid_h * rel * SAT, shim
                    )
        comps.append(comp)
    water_h = 2.0 * (water["solvent_water_mM"] + water["sample_mol_ratio"] * conc)
    if solvent == "D2O":
        water_h += resid_h
    if solvent == "CD3OD":
        water_h += 24.7 * (1.0 - sc["sample"]["deuteration_pct"] / 100.0) * 1000.0
    total_h = water_h + exchanged_h
    wppm = (water["ppm"] * water_h + exchanged_shift_weight) / total_h if total_h > 0 else water["ppm"]
    if solvent == "DMSO-d6":
        wppm = float(min(wppm, 4.5))
    comp = Component("water", "water", gauss_hz=0.0)
    comp.add(wppm + eps, total_h, water["width_hz"] + shim)
    comps.append(comp)
    sc["_water_peak"] = {"ppm": wppm, "h_mM": total_h, "exchanged_h_mM": exchanged_h}
    if sc["sample"]["tms"] or sc["sample"]["tsp"]:
        comp = Component("TMS" if sc["sample"]["tms"] else "TSP", "reference", gauss_hz=shim * gfrac)
        h = 12.0 * float(rng.uniform(0.5, 3.0)) if sc["sample"]["tms"] else 9.0 * float(rng.uniform(0.3, 1.0))
        comp.add(0.0 + eps, h, shim)
        for sgn in (-1, 1):
            comp.add(eps + sgn * 59.0 / bf1, h * SAT * 4 / 4, shim)
            if sc["sample"]["tms"]:
                comp.add(eps + sgn * 3.3 / bf1, h * 0.0235, shim)
        comps.append(comp)
    # broad background hump
    bl = sc["baseline"]
    if bl["hump_height"] > 0:
        comp = Component("background", "baseline", gauss_hz=0.0)
        comp.add(bl["hump_ppm"] + eps, 1.0, bl["hump_width_hz"])  # scaled later
        comps.append(comp)
    return comps


# ---------------------------------------------------------------------------
# FID synthesis


def synth_fid(f_hz, amp, w_hz, gauss_hz, n, dw, phase_sign=1.0):
    """sum_j amp_j exp((i 2 pi f_j sign - pi w_j) t) * Gaussian, t = k dw."""
    out = np.zeros(n, complex)
    if len(f_hz) == 0:
        return out
    Q = int(math.ceil(math.sqrt(n)))
    P = int(math.ceil(n / Q))
    s = (2j * math.pi * phase_sign) * f_hz - math.pi * w_hz
    B = np.exp(np.outer(np.arange(Q) * dw, s))  # (Q, J)
    A = np.exp(np.outer(np.arange(P) * Q * dw, s)) * amp  # (P, J)
    fid = (A @ B.T).ravel()[:n]
    if gauss_hz > 0:
        t = np.arange(n) * dw
        fid *= np.exp(-((math.pi * gauss_hz * t) ** 2) / (4 * math.log(2)))
    return fid


def simulate(sc: dict):
    """Noiseless undelayed FIDs per component plus the final dataset FID.

    Returns dict with 'fid' (as stored, before format-specific writing),
    'sigma', 'snr' per component and the noiseless total spectrum.
    """
    acq = sc["acquisition"]
    n, sw_h, bf1 = acq["n_complex"], acq["sw_h"], acq["bf1"]
    dw = 1.0 / sw_h
    o1_hz = acq["o1p"] * bf1
    comps = build_components(sc)
    fids = {}
    heights = {}
    total = np.zeros(n, complex)
    hump = None
    for c in comps:
        f, a, w = c.arrays()
        if c.kind == "baseline":
            hump = c
            continue
        fhz = f * bf1 - o1_hz
        # lines outside the filter band are not detected (the digital filter removes them)
        inband = np.abs(fhz) < 0.5 * sw_h * 0.98
        fid = synth_fid(fhz[inband], a[inband], w[inband], c.gauss_hz, n, dw)
        spec = np.fft.fft(fid).real
        heights[c.name] = float(spec.max()) if len(spec) else 0.0
        fids[c.name] = fid
        total += fid
    prod = sc["product"]
    ref_height = heights.get(prod)
    if not ref_height:
        # no product: S/N refers to the strongest route species
        cands = [heights[s["id"]] for s in sc["species"] if s["present"] and s["id"] in heights]
        ref_height = max(cands) if cands else max(heights.values())
    sigma = ref_height / (2.0 * sc["snr"] * math.sqrt(n))
    bl = sc["baseline"]
    if hump is not None:
        f, a, w = hump.arrays()
        fid_h = synth_fid(f * bf1 - o1_hz, a, w, 0.0, n, dw)
        hmax = np.fft.fft(fid_h).real.max()
        total += fid_h * (bl["hump_height"] * ref_height / hmax)
    rng = np.random.default_rng([sc["seed"], sc["index"], 11])
    k = bl["first_points"]
    corr = (rng.normal(size=k) + 1j * rng.normal(size=k)) * np.exp(-np.arange(k) / 2.0)
    corr *= bl["first_point_amplitude"] * ref_height / max(np.abs(corr).sum(), 1e-12)
    total[:k] += corr
    snr_by = {name: h / (2.0 * sigma * math.sqrt(n)) for name, h in heights.items()}
    return {"total": total, "sigma": sigma, "snr": snr_by, "ref_height": ref_height, "rng": rng, "components": comps}


def delay_fid(fid: np.ndarray, delay_points: float) -> np.ndarray:
    """Causal FID delayed by a (fractional) number of points through an ideal
    linear-phase low-pass filter."""
    n = len(fid)
    pad = np.concatenate([fid, np.zeros(n, complex)])
    nu = np.fft.fftfreq(2 * n)
    out = np.fft.ifft(np.fft.fft(pad) * np.exp(-2j * math.pi * nu * delay_points))
    return out[:n]


# ---------------------------------------------------------------------------
# Writers


def _jcamp_params(pairs: list[tuple[str, object]], title: str, path_comment: str) -> str:
    lines = [
        "##TITLE= Parameter file, TopSpin 3.6.2",
        "##JCAMPDX= 5.0",
        "##DATATYPE= Parameter Values",
        "##NPOINTS= 1\t$$ modification sequence number",
        "##ORIGIN= Bruker BioSpin GmbH",
        "##OWNER= nmrsu",
        "$$ 2026-11-20 10:14:07.512 +0100  nmrsu@spect",
        f"$$ {path_comment}",
        "$$ process /opt/topspin3.6.2/prog/mod/go",
    ]
    for key, val in pairs:
        if isinstance(val, (list, tuple)):
            lines.append(f"##${key}= (0..{len(val) - 1})")
            row = " ".join(_fmt(v) for v in val)
            lines.append(row)
        else:
            lines.append(f"##${key}= {_fmt(val)}")
    lines.append("##END=")
    return "\n".join(lines) + "\n"


def _fmt(v):
    if isinstance(v, str):
        return v if v.startswith("<") else f"<{v}>"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return repr(float(v)) if abs(v) < 1e15 else f"{v:.6e}"


def write_bruker(sc: dict, sim: dict, folder: Path) -> Path:
    acq = sc["acquisition"]
    n, sw_h, bf1 = acq["n_complex"], acq["sw_h"], acq["bf1"]
    exp = folder / "10"
    exp.mkdir(parents=True, exist_ok=True)
    ph0 = math.radians(sc["phase"]["ph0_deg"])
    extra = sc["phase"]["ph1_deg"] / 360.0  # fraction of a dwell -> ph1 in degrees across SW
    data = delay_fid(sim["total"], acq["filter_delay_points"] + extra) * np.exp(1j * ph0)
    rng = sim["rng"]
    data = data + sim["sigma"] * (rng.normal(size=n) + 1j * rng.normal(size=n))
    inter = np.empty(2 * n)
    inter[0::2] = data.real
    inter[1::2] = data.imag
    peak = np.abs(inter).max()
    if acq["dtypa"] == 0:
        scale = (2**29) / peak
        scale = min(scale, 1e12)
        raw = np.round(inter * scale)
        dt = ">i4" if acq["bytorda"] else "<i4"
        if acq.get("pad_to_256"):
            raw = np.concatenate([raw, np.zeros((-len(raw)) % 256)])
        raw.astype(dt).tofile(exp / "fid")
        nc = 0
    else:
        scale = 1e6 / peak
        dt = ">f8" if acq["bytorda"] else "<f8"
        (inter * scale).astype(dt).tofile(exp / "fid")
        nc = 0
    sfo1 = bf1 + acq["o1p"] * bf1 * 1e-6
    o1 = acq["o1p"] * bf1
    solv = T.DEUTERATED[sc["solvent"]].label
    date = 1795000000 + sc["index"] * 3600
    pairs = [
        ("ACQT0", -(acq["filter_delay_points"]) if acq["grpdly"] > 0 else 0.0),
        ("AQSEQ", 0),
        ("AQ_mod", 3),
        ("AUNM", "<au_zg>"),
        ("BF1", bf1),
        ("BF2", bf1),
        ("BYTORDA", acq["bytorda"]),
        ("CPDPRG", ["<>"] * 9),
        ("D", [0.0, 1.0 + 0.5 * (sc["index"] % 3)] + [0.0] * 30),
        ("DATE", date),
        ("DE", 6.5),
        ("DECIM", acq["decim"]),
        ("DIGMOD", 1),
        ("DIGTYP", 12 if acq["dspfvs"] >= 20 else 9),
        ("DQDMODE", 0),
        ("DR", 22 if acq["dspfvs"] >= 20 else 18),
        ("DS", 2),
        ("DSPFIRM", 0),
        ("DSPFVS", acq["dspfvs"]),
        ("DTYPA", acq["dtypa"]),
        ("EXP", "<PROTON>"),
        ("FW", 125000.0),
        ("GRPDLY", acq["grpdly"]),
        ("INSTRUM", "<spect>"),
        ("LOCKPPM", T.DEUTERATED[sc["solvent"]].lock_ppm),
        ("LOCNUC", "<2H>"),
        ("NC", nc),
        ("NS", acq["ns"]),
        ("NUC1", "<1H>"),
        ("NUC2", "<off>"),
        ("NUCLEUS", "<off>"),
        ("O1", o1),
        ("O2", o1),
        ("OVERFLW", 0),
        ("P", [0.0, 10.0, 20.0] + [0.0] * 29),
        ("PARMODE", 0),
        ("PLW", [0.0, 15.5] + [0.0] * 62),
        ("PROBHD", "<5 mm PABBO BB/19F-1H/D Z-GRD Z116098/0011>"),
        ("PULPROG", "<zg30>"),
        ("RG", 101.0 if sc["snr"] < 500 else 32.0),
        ("SFO1", sfo1),
        ("SFO2", sfo1),
        ("SOLVENT", f"<{solv}>"),
        ("SW", sw_h / sfo1),
        ("SW_h", sw_h),
        ("TD", 2 * n),
        ("TD0", 1),
        ("TE", 298.1),
        ("ZGOPTNS", "<>"),
    ]
    path_c = f"/opt/data/nmrsu/{sc['id']}/10/acqus"
    (exp / "acqus").write_text(_jcamp_params(pairs, "acqus", path_c))
    (exp / "acqu").write_text(_jcamp_params(pairs, "acqu", path_c[:-1]))
    (exp / "pulseprogram").write_text(
        ";zg30\n;avance-version (12/01/11)\n;1D sequence\n;using 30 degree flip angle\n"
        "#include <Avance.incl>\n1 ze\n2 30m\n  d1\n  p1*0.33 ph1\n  go=2 ph31\n"
        "  30m mc #0 to 2 F0(zd)\nexit\nph1=0 2 2 0 1 3 3 1\nph31=0 2 2 0 1 3 3 1\n"
    )
    if acq.get("write_procs"):
        si = 1 << int(math.ceil(math.log2(2 * n)))
        offset = (o1 + sw_h / 2) / bf1
        procs = [
            ("ABSF1", 1000.0),
            ("ABSF2", -1000.0),
            ("BCFW", 0.0),
            ("BC_mod", 0),
            ("BYTORDP", 0),
            ("DATMOD", 1),
            ("DC", 1.0),
            ("FT_mod", 6),
            ("GB", 0.0),
            ("LB", 0.3),
            ("NC_proc", 0),
            ("OFFSET", offset),
            ("PHC0", 0.0),
            ("PHC1", 0.0),
            ("PH_mod", 1),
            ("PKNL", True),
            ("SF", bf1),
            ("SI", si),
            ("SSB", 0.0),
            ("STSI", si),
            ("STSR", 0),
            ("SW_p", sw_h),
            ("TDeff", 0),
            ("WDW", 1),
        ]
        pd = exp / "pdata" / "1"
        pd.mkdir(parents=True, exist_ok=True)
        (pd / "procs").write_text(_jcamp_params(procs, "procs", path_c.replace("acqus", "pdata/1/procs")))
        (pd / "proc").write_text(_jcamp_params(procs, "proc", path_c.replace("acqus", "pdata/1/proc")))
    return exp


def write_varian(sc: dict, sim: dict, folder: Path) -> Path:
    import nmrglue as ng

    acq = sc["acquisition"]
    n, sw_h, bf1 = acq["n_complex"], acq["sw_h"], acq["bf1"]
    d = folder / f"{sc['id']}.fid"
    ph0 = math.radians(sc["phase"]["ph0_deg"])
    extra = sc["phase"]["ph1_deg"] / 360.0
    data = delay_fid(sim["total"], extra) * np.exp(1j * ph0)
    rng = sim["rng"]
    data = data + sim["sigma"] * (rng.normal(size=n) + 1j * rng.normal(size=n))
    data = np.conj(data)  # Varian stores the opposite sense
    data = (data / np.abs(data).max() * 1e7).astype(np.complex64)
    sfrq = bf1 + acq["o1p"] * bf1 * 1e-6
    reffrq = sfrq - acq["o1p"] * bf1 * 1e-6  # 0 ppm (nominal referencing)
    rfl = sw_h / 2 - acq["o1p"] * bf1
    udic = ng.fileiobase.create_blank_udic(1)
    udic[0].update(size=n, complex=True, sw=sw_h, obs=sfrq, car=acq["o1p"] * bf1, label="H1")
    dic = ng.varian.create_dic(udic)
    P = ng.varian.create_pdic_param

    def sp(name, val):
        p = P(name, [val])
        p["basictype"] = "2"
        p["subtype"] = "1"
        return p

    def rp(name, val):
        return P(name, [repr(float(val)) if not isinstance(val, int) else str(val)])

    pp = dic["procpar"]
    solv = {"CDCl3": "cdcl3", "DMSO-d6": "dmso", "D2O": "d2o", "CD3OD": "cd3od"}[sc["solvent"]]
    for k, v in {
        "sw": sw_h,
        "sfrq": sfrq,
        "reffrq": reffrq,
        "rfl": rfl,
        "rfp": 0.0,
        "tof": 0.0,
        "at": n / sw_h,
        "nt": acq["ns"],
        "temp": 25.0,
        "lb": 0.3,
        "fn": 2 * n,
        "lp": 0.0,
        "rp": 0.0,
        "d1": 1.0,
        "pw": 3.0,
        "gain": 30.0,
    }.items():
        pp[k] = rp(k, v)
    pp["np"] = P("np", [str(2 * n)])
    for k, v in {
        "tn": "H1",
        "solvent": solv,
        "seqfil": "s2pul",
        "dp": "y",
        "dn": "C13",
        "console": "vnmrs",
        "file": f"/home/vnmr1/vnmrsys/data/{sc['id']}.fid",
        "date": "Nov 20 2026",
    }.items():
        pp[k] = sp(k, v)
    ng.varian.write(str(d), dic, data, overwrite=True)
    return d


def _asdf_sqz(v: int) -> str:
    s = str(abs(v))
    first = int(s[0])
    ch = "@ABCDEFGHI"[first] if v >= 0 else "@abcdefghi"[first]
    return ch + s[1:]


def _asdf_dif(v: int) -> str:
    s = str(abs(v))
    first = int(s[0])
    ch = "%JKLMNOPQR"[first] if v >= 0 else "%jklmnopqr"[first]
    return ch + s[1:]


def _asdf_dup(count: int) -> str:
    s = str(count)
    return "STUVWXYZs"[int(s[0]) - 1] + s[1:]


def _encode_difdup(y: np.ndarray, x_first: float, x_step: float, per_line: int = 10) -> list[str]:
    """JCAMP-DX ASDF DIF/DUP lines (X value, then the Y values), each line
    starting with an absolute (SQZ) value and repeating the previous line's
    last value as the Y check."""
    lines = []
    i = 0
    n = len(y)
    while i < n:
        j = min(n, i + per_line)
        seg = y[i:j] if i == 0 else y[i - 1 : j]
        x0 = x_first + (i if i == 0 else i - 1) * x_step
        tokens = [_asdf_sqz(int(seg[0]))]
        diffs = np.diff(seg)
        k = 0
        while k < len(diffs):
            d = int(diffs[k])
            run = 1
            while k + run < len(diffs) and int(diffs[k + run]) == d:
                run += 1
            tokens.append(_asdf_dif(d))
            if run > 1:
                tokens.append(_asdf_dup(run))
            k += run
        lines.append(f"{x0:.6f}" + "".join(tokens))
        i = j
    # final Y-check line is not needed after the last point
    return lines


def _encode_affn(y: np.ndarray, x_first: float, x_step: float, per_line: int = 8) -> list[str]:
    out = []
    for i in range(0, len(y), per_line):
        out.append(f"{x_first + i * x_step:.6f} " + " ".join(str(int(v)) for v in y[i : i + per_line]))
    return out


def write_jcamp(sc: dict, sim: dict, folder: Path) -> Path:
    """A processed 1H spectrum (real part, optionally the imaginary part in
    NTUPLES) as TopSpin or other software would export it."""
    acq = sc["acquisition"]
    n, sw_h, bf1 = acq["n_complex"], acq["sw_h"], acq["bf1"]
    si = acq["si"]
    dw = 1.0 / sw_h
    rng = sim["rng"]
    fid = sim["total"] + sim["sigma"] * (rng.normal(size=n) + 1j * rng.normal(size=n))
    fid = fid * np.exp(-math.pi * acq["lb_hz"] * np.arange(n) * dw)
    fid[0] *= 0.5
    spec = np.fft.fftshift(np.fft.fft(fid, si))[::-1]  # high frequency first
    x = np.linspace(0.5, -0.5, si, endpoint=False)  # fraction of SW from the centre
    ph = math.radians(sc["phase"]["ph0_deg"]) + math.radians(sc["phase"]["ph1_deg"]) * (x - 0.0)
    spec = spec * np.exp(1j * ph)
    sf = bf1
    offset = (acq["o1p"] * bf1 + sw_h / 2) / sf  # ppm of the first point (nominal referencing)
    step_hz = sw_h / si
    yr = spec.real
    scale = (2**27) / np.abs(yr).max()
    y_real = np.round(yr * scale).astype(np.int64)
    y_imag = np.round(spec.imag * scale).astype(np.int64)
    enc = _encode_difdup if acq["jcamp_encoding"] == "difdup" else _encode_affn
    solv = T.DEUTERATED[sc["solvent"]].label
    hdr = [
        "##TITLE= " + sc["id"],
        "##JCAMPDX= 5.01         $$ Bruker NMR JCAMP-DX V1.0",
        "##DATA TYPE= NMR SPECTRUM",
        "##ORIGIN= Bruker BioSpin GmbH",
        "##OWNER= nmrsu",
        "##LONG DATE= 2026/11/20 10:14:07+0100",
        f"##.OBSERVE FREQUENCY= {sf + acq['o1p'] * sf * 1e-6:.9f}",
        "##.OBSERVE NUCLEUS= ^1H",
        "##.ACQUISITION MODE= SIMULTANEOUS",
        f"##.AVERAGES= {acq['ns']}",
        "##.DIGITISER RES= 22",
        "##.PULSE SEQUENCE= zg30",
        f"##.SOLVENT NAME= {solv}",
        f"##$SF= {sf}",
        f"##$OFFSET= {offset:.6f}",
        f"##$SW_p= {sw_h:.6f}",
        f"##$SI= {si}",
        f"##$BF1= {bf1}",
        f"##$O1= {acq['o1p'] * bf1:.6f}",
        f"##$LB= {acq['lb_hz']}",
    ]
    layout = acq["jcamp_layout"]
    path = folder / f"{sc['id']}.dx"
    if layout == "ntuples":
        first_hz, last_hz = sw_h, sw_h - (si - 1) * step_hz
        hdr += [
            f"##.SHIFT REFERENCE= INTERNAL, {solv}, 1, {offset:.6f}",
            "##DATA CLASS= NTUPLES",
            "##NTUPLES= NMR SPECTRUM",
            "##VAR_NAME= FREQUENCY, SPECTRUM/REAL, SPECTRUM/IMAG, PAGE NUMBER",
            "##SYMBOL= X, R, I, N",
            "##VAR_TYPE= INDEPENDENT, DEPENDENT, DEPENDENT, PAGE",
            f"##VAR_FORM= AFFN, {'ASDF' if enc is _encode_difdup else 'AFFN'}, "
            f"{'ASDF' if enc is _encode_difdup else 'AFFN'}, AFFN",
            f"##VAR_DIM= {si}, {si}, {si}, 2",
            "##UNITS= HZ, ARBITRARY UNITS, ARBITRARY UNITS,",
            f"##FIRST= {first_hz:.6f}, {y_real[0]}, {y_imag[0]}, 1",
            f"##LAST= {last_hz:.6f}, {y_real[-1]}, {y_imag[-1]}, 2",
            f"##MIN= {last_hz:.6f}, {y_real.min()}, {y_imag.min()}, 1",
            f"##MAX= {first_hz:.6f}, {y_real.max()}, {y_imag.max()}, 2",
            "##FACTOR= 1, 1, 1, 1",
        ]
        body = ["##PAGE= N=1", "##NPOINTS= " + str(si), "##DATA TABLE= (X++(R..R)), XYDATA"]
        body += enc(y_real, first_hz, -step_hz)
        body += ["##PAGE= N=2", "##NPOINTS= " + str(si), "##DATA TABLE= (X++(I..I)), XYDATA"]
        body += enc(y_imag, first_hz, -step_hz)
        body += ["##END NTUPLES= NMR SPECTRUM", "##END="]
        text = "\n".join(hdr + body) + "\n"
    else:
        if layout == "xydata-relative-hz":
            first, step, unit = sw_h, -step_hz, "HZ"
            hdr.append(f"##.SHIFT REFERENCE= INTERNAL, {solv}, 1, {offset:.6f}")
        elif layout == "xydata-absolute-hz":
            first, step, unit = offset * sf, -step_hz, "HZ"
            hdr.append(f"##.SHIFT REFERENCE= INTERNAL, {solv}, 1, {offset:.6f}")
        else:
            first, step, unit = offset, -step_hz / sf, "PPM"
        last = first + (si - 1) * step
        # X values on the lines are X/XFACTOR (here XFACTOR 1 for ppm, Hz as is)
        hdr += [
            "##DATA CLASS= XYDATA",
            f"##XUNITS= {unit}",
            "##YUNITS= ARBITRARY UNITS",
            "##XFACTOR= 1",
            "##YFACTOR= 1",
            f"##FIRSTX= {first:.9f}",
            f"##LASTX= {last:.9f}",
            f"##DELTAX= {step:.9f}",
            f"##NPOINTS= {si}",
            f"##FIRSTY= {y_real[0]}",
            f"##MAXY= {y_real.max()}",
            f"##MINY= {y_real.min()}",
            "##XYDATA= (X++(Y..Y))",
        ]
        text = "\n".join(hdr + enc(y_real, first, step) + ["##END="]) + "\n"
    path.write_text(text)
    return path


def write_nmr_scenario(scenario: dict, folder: Path) -> dict:
    """Write the dataset and its truth JSON into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sc = json.loads(json.dumps(scenario))
    # the matrices are small: threaded BLAS only adds overhead (and takes cores)
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            sim = simulate(sc)
    except ImportError:
        sim = simulate(sc)
    fmt = sc["format"]
    if fmt == "bruker":
        sample = write_bruker(sc, sim, folder / sc["id"])
    elif fmt == "varian":
        sample = write_varian(sc, sim, folder)
    else:
        sample = write_jcamp(sc, sim, folder)
    truth = _truth(sc, sim)
    truth_path = folder / f"{sc['id']}.truth.json"
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=False))
    return {"sample": str(sample), "truth": str(truth_path)}


def _truth(sc: dict, sim: dict) -> dict:
    snr = sim["snr"]
    t = {k: v for k, v in sc.items() if not k.startswith("_")}
    for s in t["species"]:
        s["snr"] = round(snr.get(s["id"], 0.0), 2)
        s["mol_ratio_to_product"] = round(s["mol_ratio_to_product"], 6)
        s["mol_pct_of_product"] = round(100 * s["mol_ratio_to_product"], 4)
    for r in t["solvents"]:
        r["snr"] = round(snr.get(r["name"], 0.0), 2)
        for k in ("mol_ratio_to_product", "ppm_w_w", "times_limit"):
            r[k] = round(r[k], 6 if k == "mol_ratio_to_product" else 3)
    wp = sc["_water_peak"]
    conc = sc["sample"]["product_conc_mM"]
    solv_water = sc["water"]["solvent_water_mM"]
    t["water"] = dict(sc["water"])
    t["water"].update(
        {
            "mol_ratio_to_product": round((solv_water + sc["water"]["sample_mol_ratio"] * conc) / conc, 4),
            "peak_mol_ratio_to_product": round(wp["h_mM"] / 2.0 / conc, 4),
            "peak_ppm": round(wp["ppm"] + sc["referencing_error_ppm"], 4),
            "note": (
                "mol H2O per mol product, the solvent's own water included (qc.toml); "
                "peak_mol_ratio also counts exchanged NH/OH and, in D2O/CD3OD, the solvent's HOD/OH"
            ),
        }
    )
    for u in t["unexpected_signals"]:
        u["snr"] = round(snr.get(u["label"], 0.0), 2)
    t["noise_sigma"] = sim["sigma"]
    return t


if __name__ == "__main__":
    import sys
    import time

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/nmr-scen")
    t0 = time.time()
    for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 5):
        sc = draw_nmr_scenario(12345, i)
        r = write_nmr_scenario(sc, out)
        print(sc["id"], sc["route"], sc["stage"], sc["solvent"], sc["format"], sc["spectrometer_mhz"], r["sample"])
    print(f"{time.time() - t0:.2f} s")
