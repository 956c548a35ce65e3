"""The 1H NMR part of the validation: generate scenarios, run specqc, score.

`run_part(n, seed, half, workers, keep, dump)` draws `n` scenarios with
nmr_scenarios, keeps the calibration or evaluation half of a seeded
permutation (or all of them), writes each dataset, runs `specqc analyze` on it
in-process through its click CLI in a pool of `workers` processes, and scores
the JSON reports against the truth. It returns (metrics, markdown).

Every score and the expected outcome it is measured against are defined
here, once; the markdown states each definition beside its figure.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

try:
    from . import nmr_scenarios as S
    from . import nmr_tables as T
    from .workers import run_tasks
except ImportError:  # run by path
    import nmr_scenarios as S  # type: ignore
    import nmr_tables as T  # type: ignore
    from workers import run_tasks  # type: ignore

REPO = Path(__file__).resolve().parents[2]
QC = tomllib.loads((REPO / "src" / "specqc" / "data" / "qc.toml").read_text())
THRESH = QC["thresholds"]
DIAGNOSIS_IDS = [
    "over-alkylation",
    "over-acylation",
    "incomplete-alkylation",
    "incomplete-deprotection",
    "incomplete-cyclization",
    "oligomerization",
    "ester-hydrolysis",
    "piperazine-formation",
    "residual-solvent",
    "water-uptake",
    "product-not-found",
    "low-purity",
]
WARNING_IDS = {"ester-hydrolysis", "water-uptake"}  # severity "warning" in diagnoses.toml
MIN_SNR = 10.0  # a finding can only be demanded when its tallest line has S/N >= 10
SPECIES_MIN_PCT = 0.5  # species sensitivity counts impurities at >= 0.5 mol %

TARGETS = {
    "species_sensitivity": (">=", 0.98),
    "species_false_per_spectrum": ("<=", 0.02),
    "solvent_sensitivity": (">=", 0.98),
    "solvent_false_per_spectrum": ("<=", 0.02),
    "ppm_w_w_error_p90": ("<=", 0.25),
    "diagnosis_precision": (">=", 0.97),
    "diagnosis_recall": (">=", 0.95),
    "hands_off_rate": (">=", 0.85),
}

_ORDER = {"forbidden": 0, "either": 1, "required": 2}


def _merge(cur: str, new: str) -> str:
    """Combine two expectations for one diagnosis: any requirement wins, a
    forbidden one stays only if every source forbids it."""
    if "required" in (cur, new):
        return "required"
    if "either" in (cur, new):
        return "either"
    return "forbidden"


def _by_margin(value: float, limit: float, detectable: bool) -> str:
    """required at >= 2x the limit (if detectable), forbidden at <= 0.5x, else either."""
    if value >= 2 * limit:
        return "required" if detectable else "either"
    if value <= 0.5 * limit:
        return "forbidden"
    return "either"


def impurity_diagnosis(route: str, stage: str, role: str, species_id: str) -> tuple[str | None, list[str]]:
    """The diagnosis a route species stands for at a stage (by its role), and
    the ones it may also reasonably trigger ("either")."""
    stype = T.STAGES[route][stage]["type"]
    also: list[str] = []
    boc = (
        "C(C)(C)C" in T.ROUTE_SPECIES[route][species_id]["smiles"]
        or "OC(C)(C)C" in T.ROUTE_SPECIES[route][species_id]["smiles"]
    )
    if role == "protected-intermediate":
        return "incomplete-deprotection", also
    if role == "linear-precursor":
        return "incomplete-cyclization", also
    if role == "dialkylated":
        if boc and stage != "alkylation":
            also.append("incomplete-deprotection")
        return ("over-alkylation" if route == "diazepan-2-one" else "over-acylation"), also
    if role == "oligomer":
        return "oligomerization", also
    if role == "hydrolysis":
        return "ester-hydrolysis", also
    if role == "piperazine":
        return "piperazine-formation", also
    if role == "starting-material":
        if stype == "ring-closure":
            return "incomplete-cyclization", also
        return "incomplete-alkylation", also
    if role == "intermediate":
        # unreacted 1,4-diazepane after the acylation
        return "incomplete-alkylation", also
    return None, also


def expected_outcome(truth: dict) -> dict:
    """What a correct analysis of this NMR spectrum reports.

    Returns {"diagnoses": {id: "required"|"forbidden"|"either"},
             "verdict": [acceptable verdicts], "reasons": {id: why}}.

    Rules (CHEMISTRY.md sections 4-5, qc.toml thresholds, a 2x / 0.5x margin
    around every threshold, and S/N >= 10 before anything is demanded):
    - route impurities: mol % of the product against nmr_impurity_max_mol_pct,
      mapped to the diagnosis of their role at the stage (impurity_diagnosis);
      a Boc-bearing dialkylated species also allows incomplete-deprotection.
      At the final stage the unreacted 1,4-diazepane has no check of its own
      (starting-material-consumed is an acylation check): either.
    - residual-solvent: at the route's final stage only (the ICH Q3C check is
      a final-stage check), by each solvent's times_limit; elsewhere either.
    - water-uptake: at the salt-formation stage only (water-content check),
      mol water per mol product (solvent's own water included) against
      water_max_mol_ratio; in D2O and CD3OD water cannot be told from the
      solvent's HOD/OH: either. Elsewhere forbidden.
    - product-not-found: required when the product is absent, forbidden when
      it is present with S/N >= 10.
    - low-purity (final stage): forbidden when route impurities total <= 1
      mol % (half the 2 % the 98 % purity target allows), else either (NMR is
      not the stated purity method). Elsewhere forbidden.
    - an unexpected unassigned tBu singlet allows incomplete-deprotection.
    - every other catalogue id: forbidden.
    Verdict: "fail" if any fail-severity diagnosis is required; otherwise
    the stage's best verdict ("inconclusive" at the final stage, where
    identity needs MS too; "pass" elsewhere), or also "fail" when a
    diagnosis is allowed ("either") or only warnings are required; with an
    unexpected strong signal "fail" or "inconclusive", never "pass".
    """
    route, stage = truth["route"], truth["stage"]
    info = T.STAGES[route][stage]
    final = bool(info.get("final"))
    exp = {d: "forbidden" for d in DIAGNOSIS_IDS}
    why: dict[str, list[str]] = {d: [] for d in DIAGNOSIS_IDS}
    lim = THRESH["nmr_impurity_max_mol_pct"]
    main = truth["product"]
    impurity_total = 0.0
    for s in truth["species"]:
        if s["stage_role"] != "impurity":
            continue
        pct = 100.0 * s["mol_ratio_to_product"]
        impurity_total += pct
        diag, also = impurity_diagnosis(route, stage, s["role"], s["id"])
        if diag is None:
            continue
        level = _by_margin(pct, lim, s.get("snr", 0.0) >= MIN_SNR) if s["present"] else "forbidden"
        if diag == "incomplete-alkylation" and s["role"] == "intermediate" and info["type"] != "n-acylation":
            level = "either" if level != "forbidden" else level
        exp[diag] = _merge(exp[diag], level)
        if level != "forbidden":
            why[diag].append(f"{s['id']} {pct:.2f} mol % (S/N {s.get('snr', 0):.0f}): {level}")
        for a in also:
            if level != "forbidden":
                exp[a] = _merge(exp[a], "either")
    prod = next(s for s in truth["species"] if s["id"] == main)
    if not prod["present"]:
        exp["product-not-found"] = "required"
        why["product-not-found"].append("product absent")
    elif prod.get("snr", 0.0) < MIN_SNR:
        exp["product-not-found"] = "either"
    if final:
        for r in truth["solvents"]:
            if r["present"]:
                level = _by_margin(r["times_limit"], 1.0, r.get("snr", 0.0) >= MIN_SNR)
                exp["residual-solvent"] = _merge(exp["residual-solvent"], level)
                if level != "forbidden":
                    why["residual-solvent"].append(f"{r['name']} {r['times_limit']:.2f}x limit: {level}")
        exp["low-purity"] = "forbidden" if impurity_total <= 1.0 and prod["present"] else "either"
    else:
        exp["residual-solvent"] = "either"
    if info["type"] == "salt-formation":
        if truth["solvent"] in ("D2O", "CD3OD"):
            exp["water-uptake"] = "either"
        else:
            w = truth["water"]["mol_ratio_to_product"]
            exp["water-uptake"] = _by_margin(w, THRESH["water_max_mol_ratio"], True)
            if exp["water-uptake"] != "forbidden":
                why["water-uptake"].append(f"water {w:.2f} mol/mol")
    for u in truth.get("unexpected_signals", []):
        if u["kind"] == "tBu":
            exp["incomplete-deprotection"] = _merge(exp["incomplete-deprotection"], "either")
    base = "inconclusive" if final else "pass"
    required_fail = [d for d, v in exp.items() if v == "required" and d not in WARNING_IDS]
    required_warn = [d for d, v in exp.items() if v == "required" and d in WARNING_IDS]
    either_fail = [d for d, v in exp.items() if v == "either" and d not in WARNING_IDS]
    if required_fail:
        verdict = ["fail"]
    elif truth.get("unexpected_signals"):
        verdict = ["fail", "inconclusive"]
    elif either_fail or required_warn:
        verdict = [base, "fail"]
    else:
        verdict = [base]
    return {"diagnoses": exp, "verdict": verdict, "reasons": {k: v for k, v in why.items() if v}}


# ---------------------------------------------------------------------------
# Worker

_CLI = None


def _init_worker():
    global _CLI
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:
        pass
    import specqc.cli  # noqa: F401  (imported once per worker)
    from click.testing import CliRunner

    _CLI = (CliRunner(), specqc.cli.main)


def _run_one(task):
    seed, index, workdir = task
    t0 = time.perf_counter()
    sc = S.draw_nmr_scenario(seed, index)
    folder = Path(workdir) / sc["id"]
    paths = S.write_nmr_scenario(sc, folder)
    t1 = time.perf_counter()
    out = folder / "report.json"
    runner, main = _CLI
    res = runner.invoke(
        main,
        [
            "analyze",
            paths["sample"],
            "--route",
            sc["route"],
            "--stage",
            sc["stage"],
            "--format",
            "json",
            "--output",
            str(out),
        ],
    )
    t2 = time.perf_counter()
    report = None
    err = None
    if out.exists():
        try:
            report = json.loads(out.read_text())
        except json.JSONDecodeError as e:
            err = f"unreadable report: {e}"
    else:
        err = f"exit {res.exit_code}: {(res.output or '').strip()[-300:]}"
        if res.exception and not isinstance(res.exception, SystemExit):
            err += f" ({type(res.exception).__name__}: {res.exception})"
    truth = json.loads(Path(paths["truth"]).read_text())
    return {
        "truth": truth,
        "report": report,
        "error": err,
        "gen_s": t1 - t0,
        "analyze_s": t2 - t1,
        "sample": paths["sample"],
    }


# ---------------------------------------------------------------------------
# Scoring


def _species_detected(entry: dict | None) -> bool:
    if not entry:
        return False
    if entry.get("detected"):
        return True
    nmr = entry.get("nmr") or {}
    return bool(nmr.get("detected"))


def _reported_solvents(report: dict) -> dict[str, dict]:
    out = {}
    for r in (report.get("nmr") or {}).get("residual_solvents") or []:
        canon = T.canonical_solvent(str(r.get("name", "")))
        out[canon or str(r.get("name"))] = r
    return out


def _pct(x: list[float], q: float) -> float | None:
    return float(np.percentile(x, q)) if x else None


def score(results: list[dict]) -> tuple[dict, list[dict], list[dict]]:
    """Metrics, per-scenario rows (for examples) and dump rows."""
    sp_hit = sp_tot = sp_hit_all = sp_tot_all = 0
    sp_false = 0
    sv_hit = sv_tot = sv_hit_all = sv_tot_all = 0
    sv_false = 0
    ppm_err: list[float] = []
    mol_err: list[float] = []
    tp = fp = fn = 0
    per_diag = {d: {"tp": 0, "fp": 0, "fn": 0} for d in DIAGNOSIS_IDS}
    hands_on = hands_n = 0
    final_clean_ok = final_clean_n = 0
    unexp_noticed = unexp_n = 0
    errors = 0
    rows, dump = [], []
    n_spec = 0
    for r in results:
        t, rep = r["truth"], r["report"]
        row = {
            "id": t["id"],
            "route": t["route"],
            "stage": t["stage"],
            "solvent": t["solvent"],
            "format": t["format"],
            "mhz": t["spectrometer_mhz"],
            "snr": t["snr"],
            "form": t["form"],
            "kind": t["kind"],
            "missed_species": [],
            "false_species": [],
            "missed_solvents": [],
            "false_solvents": [],
            "ppm_errors": [],
            "missing_diag": [],
            "forbidden_diag": [],
            "verdict": None,
            "expected_verdict": None,
            "error": r["error"],
        }
        rows.append(row)
        exp = expected_outcome(t)
        row["expected_verdict"] = exp["verdict"]
        if rep is None:
            errors += 1
            continue
        n_spec += 1
        by_id = {s["id"]: s for s in rep.get("species", [])}
        for s in t["species"]:
            e = by_id.get(s["id"])
            det = _species_detected(e)
            dump.append({"scenario": t["id"], "kind": "species", "id": s["id"], "truth": s, "report": e})
            pct = 100 * s["mol_ratio_to_product"]
            counted = s["present"] and (
                s["stage_role"] == "main" or (s["stage_role"] == "impurity" and pct >= SPECIES_MIN_PCT)
            )
            if counted:
                sp_tot_all += 1
                sp_hit_all += det
                if s.get("snr", 0) >= MIN_SNR:
                    sp_tot += 1
                    sp_hit += det
                    if not det:
                        row["missed_species"].append(f"{s['id']} ({pct:.2g} mol %, S/N {s['snr']:.0f})")
                if det and s["stage_role"] == "impurity":
                    rp = ((e or {}).get("nmr") or {}).get("mol_pct")
                    if rp is not None and pct > 0:
                        mol_err.append(abs(rp - pct) / pct)
            if det and not s["present"]:
                sp_false += 1
                row["false_species"].append(s["id"])
        reported = _reported_solvents(rep)
        for sv in t["solvents"]:
            e = reported.get(sv["name"])
            dump.append({"scenario": t["id"], "kind": "solvent", "id": sv["name"], "truth": sv, "report": e})
            if sv["present"] and sv["times_limit"] >= 1.0:
                sv_tot_all += 1
                sv_hit_all += e is not None
                if sv.get("snr", 0) >= MIN_SNR:
                    sv_tot += 1
                    sv_hit += e is not None
                    if e is None:
                        row["missed_solvents"].append(f"{sv['name']} ({sv['times_limit']:.1f}x, S/N {sv['snr']:.0f})")
            if e is not None and not sv["present"]:
                sv_false += 1
                row["false_solvents"].append(sv["name"])
            if e is not None and sv["present"] and e.get("ppm_w_w") is not None and sv["ppm_w_w"] > 0:
                err = abs(float(e["ppm_w_w"]) - sv["ppm_w_w"]) / sv["ppm_w_w"]
                ppm_err.append(err)
                row["ppm_errors"].append(f"{sv['name']} {e['ppm_w_w']:.0f} vs {sv['ppm_w_w']:.0f}")
        for name in reported:
            if name not in T.PROCESS_SOLVENTS:
                sv_false += 1
                row["false_solvents"].append(f"{name} (unknown name)")
        # diagnoses
        got = {d.get("id") for d in rep.get("diagnoses", [])}
        for d, level in exp["diagnoses"].items():
            if level == "required":
                if d in got:
                    tp += 1
                    per_diag[d]["tp"] += 1
                else:
                    fn += 1
                    per_diag[d]["fn"] += 1
                    row["missing_diag"].append(d)
            elif level == "forbidden" and d in got:
                fp += 1
                per_diag[d]["fp"] += 1
                row["forbidden_diag"].append(d)
        for d in got - set(DIAGNOSIS_IDS):
            fp += 1
            row["forbidden_diag"].append(f"{d} (not in catalogue)")
        verdict = (rep.get("qc") or {}).get("verdict")
        row["verdict"] = verdict
        ok = not row["missing_diag"] and not row["forbidden_diag"] and verdict in exp["verdict"]
        if exp["verdict"] == ["inconclusive"]:
            final_clean_n += 1
            final_clean_ok += ok
        else:
            hands_n += 1
            hands_on += ok
        row["hands_off"] = ok
        for u in t.get("unexpected_signals", []):
            unexp_n += 1
            target = u["ppm"] + t["referencing_error_ppm"]
            sigs = (rep.get("nmr") or {}).get("signals") or []
            listed = any(not s.get("assignment") and abs(float(s.get("shift_ppm", 99)) - target) < 0.03 for s in sigs)
            noticed = listed or verdict != "pass"
            unexp_noticed += noticed
            row.setdefault("unexpected", []).append(
                f"{u['label']} at {u['ppm']:.2f}: {'listed unassigned' if listed else 'not listed'}, verdict {verdict}"
            )
    div = lambda a, b: (a / b) if b else None
    metrics = {
        "n_scenarios": len(results),
        "n_reports": n_spec,
        "n_errors": errors,
        "species_sensitivity": div(sp_hit, sp_tot),
        "species_counted": sp_tot,
        "species_sensitivity_all": div(sp_hit_all, sp_tot_all),
        "species_counted_all": sp_tot_all,
        "species_false_per_spectrum": div(sp_false, n_spec),
        "species_false": sp_false,
        "impurity_mol_pct_error_median": statistics.median(mol_err) if mol_err else None,
        "solvent_sensitivity": div(sv_hit, sv_tot),
        "solvent_counted": sv_tot,
        "solvent_sensitivity_all": div(sv_hit_all, sv_tot_all),
        "solvent_counted_all": sv_tot_all,
        "solvent_false_per_spectrum": div(sv_false, n_spec),
        "solvent_false": sv_false,
        "ppm_w_w_error_median": statistics.median(ppm_err) if ppm_err else None,
        "ppm_w_w_error_p90": _pct(ppm_err, 90),
        "ppm_w_w_n": len(ppm_err),
        "diagnosis_precision": div(tp, tp + fp),
        "diagnosis_recall": div(tp, tp + fn),
        "diagnosis_tp": tp,
        "diagnosis_fp": fp,
        "diagnosis_fn": fn,
        "hands_off_rate": div(hands_on, hands_n),
        "hands_off_n": hands_n,
        "final_nmr_only_clean_ok": final_clean_ok,
        "final_nmr_only_clean_n": final_clean_n,
        "unexpected_noticed": unexp_noticed,
        "unexpected_n": unexp_n,
        "per_diagnosis": per_diag,
    }
    return metrics, rows, dump


def _passfail(key: str, value) -> str:
    if value is None:
        return "n/a"
    op, tgt = TARGETS[key]
    ok = value >= tgt if op == ">=" else value <= tgt
    return "PASS" if ok else "FAIL"


def _f(v, pct=False, nd=3):
    if v is None:
        return "n/a"
    return f"{100 * v:.1f} %" if pct else f"{v:.{nd}f}"


def markdown(metrics: dict, rows: list[dict], timing: dict, half: str, seed: int) -> str:
    m = metrics
    L = [f"## 1H NMR (independent generator; seed {seed}, half {half}, {m['n_scenarios']} scenarios)", ""]
    L.append(
        f"{m['n_reports']} reports, {m['n_errors']} runs without a report. "
        f"Generation {timing['gen_s']:.2f} s and analysis {timing['analyze_s']:.2f} s per scenario (mean)."
    )
    L += ["", "| metric | value | target | | definition |", "|---|---|---|---|---|"]

    def line(key, label, val, tgt, definition):
        L.append(f"| {label} | {val} | {tgt} | {_passfail(key, m[key]) if key in TARGETS else ''} | {definition} |")

    line(
        "species_sensitivity",
        "species sensitivity",
        f"{_f(m['species_sensitivity'])} (n={m['species_counted']})",
        ">= 0.98",
        "product and impurities >= 0.5 mol % of it, tallest line S/N >= 10: reported `detected` (or `nmr.detected`)",
    )
    L.append(
        f"| species sensitivity, any S/N | {_f(m['species_sensitivity_all'])} (n={m['species_counted_all']}) | | | "
        f"same, without the S/N condition |"
    )
    line(
        "species_false_per_spectrum",
        "false species detections / spectrum",
        _f(m["species_false_per_spectrum"]),
        "<= 0.02",
        "species reported detected that the sample does not contain at all",
    )
    line(
        "solvent_sensitivity",
        "solvent sensitivity",
        f"{_f(m['solvent_sensitivity'])} (n={m['solvent_counted']})",
        ">= 0.98",
        "process solvents at >= 1x their ICH Q3C limit, tallest line S/N >= 10: listed in "
        "`nmr.residual_solvents` (names matched through an alias table)",
    )
    L.append(
        f"| solvent sensitivity, any S/N | {_f(m['solvent_sensitivity_all'])} (n={m['solvent_counted_all']}) | | | "
        "same, without the S/N condition |"
    )
    line(
        "solvent_false_per_spectrum",
        "false solvent reports / spectrum",
        _f(m["solvent_false_per_spectrum"]),
        "<= 0.02",
        "solvents listed that the sample does not contain (or unknown names)",
    )
    line(
        "ppm_w_w_error_p90",
        "ppm w/w error, 90th percentile",
        _f(m["ppm_w_w_error_p90"], pct=True),
        "<= 25 %",
        f"abs(reported - true) / true over found, present solvents with a figure (n={m['ppm_w_w_n']}; "
        f"median {_f(m['ppm_w_w_error_median'], pct=True)}); true = mol ratio x M(solvent) / M(isolated form) x 1e6",
    )
    line(
        "diagnosis_precision",
        "diagnosis precision",
        _f(m["diagnosis_precision"]),
        ">= 0.97",
        f"TP / (TP + reported-but-forbidden) against expected_outcome(); 'either' not counted "
        f"(TP {m['diagnosis_tp']}, FP {m['diagnosis_fp']})",
    )
    line(
        "diagnosis_recall",
        "diagnosis recall",
        _f(m["diagnosis_recall"]),
        ">= 0.95",
        f"TP / required (FN {m['diagnosis_fn']})",
    )
    line(
        "hands_off_rate",
        "hands-off rate",
        f"{_f(m['hands_off_rate'], pct=True)} (n={m['hands_off_n']})",
        ">= 85 %",
        "every required diagnosis, no forbidden one and an acceptable verdict; final-stage NMR-only scenarios "
        "whose best verdict is 'inconclusive' are counted apart",
    )
    L.append(
        f"| final stage, NMR only, nothing failing | {m['final_nmr_only_clean_ok']}/{m['final_nmr_only_clean_n']} | | | "
        "'inconclusive' with no wrong diagnosis |"
    )
    L.append(
        f"| unexpected strong signal noticed | {m['unexpected_noticed']}/{m['unexpected_n']} | | | "
        "an unassigned signal listed within 0.03 ppm, or a verdict other than 'pass' |"
    )
    L.append(
        f"| impurity mol % error, median | {_f(m['impurity_mol_pct_error_median'], pct=True)} | | | "
        "detected impurities >= 0.5 mol %, abs(reported - true) / true (information) |"
    )
    L += [
        "",
        "Per diagnosis (TP / FP / FN): "
        + ", ".join(f"{d} {v['tp']}/{v['fp']}/{v['fn']}" for d, v in m["per_diagnosis"].items() if any(v.values())),
    ]
    bad = [
        r
        for r in rows
        if r["error"]
        or r["missed_species"]
        or r["false_species"]
        or r["missed_solvents"]
        or r["false_solvents"]
        or r["missing_diag"]
        or r["forbidden_diag"]
    ]
    if bad:
        L += ["", "Examples of failures:", ""]
        for r in bad[:12]:
            parts = []
            for k, lab in (
                ("missed_species", "missed"),
                ("false_species", "false"),
                ("missed_solvents", "missed solvent"),
                ("false_solvents", "false solvent"),
                ("missing_diag", "missing diagnosis"),
                ("forbidden_diag", "wrong diagnosis"),
            ):
                if r[k]:
                    parts.append(f"{lab}: {', '.join(r[k])}")
            if r["error"]:
                parts.append(f"error: {r['error']}")
            L.append(
                f"- {r['id']} ({r['route']}/{r['stage']}, {r['solvent']}, {r['form']}, {r['format']}, "
                f"{r['mhz']} MHz, S/N {r['snr']:.0f}): "
                + "; ".join(parts)
                + f"; verdict {r['verdict']} (expected {'/'.join(r['expected_verdict'])})"
            )
    L += [
        "",
        "Expected outcomes come from `validation.nmr_part.expected_outcome` (CHEMISTRY.md sections 4-5, "
        "qc.toml thresholds with 2x/0.5x margins, nothing demanded below S/N 10).",
    ]
    return "\n".join(L) + "\n"


def select_indices(n: int, seed: int, half: str) -> list[int]:
    perm = np.random.default_rng([seed, 990]).permutation(n)
    if half == "calibration":
        return sorted(int(i) for i in perm[: n // 2])
    if half == "evaluation":
        return sorted(int(i) for i in perm[n // 2 :])
    return list(range(n))


def run_part(n: int = 200, seed: int = 20261204, half: str = "all", workers: int = 2, keep=None, dump=None):
    """Generate, analyse and score; returns (metrics, markdown)."""
    idx = select_indices(n, seed, half)
    if keep:
        workdir = Path(keep if isinstance(keep, (str, os.PathLike)) else tempfile.mkdtemp(prefix="nmr-validation-"))
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="nmr-validation-"))
    tasks = [(seed, i, str(workdir)) for i in idx]
    workers = max(1, min(int(workers or 1), 2))
    t0 = time.perf_counter()
    try:
        results = run_tasks(_run_one, tasks, workers, _init_worker)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = time.perf_counter() - t0
    metrics, rows, dump_rows = score(results)
    timing = {
        "gen_s": statistics.mean(r["gen_s"] for r in results) if results else 0.0,
        "analyze_s": statistics.mean(r["analyze_s"] for r in results) if results else 0.0,
        "wall_s": wall,
    }
    metrics.update(
        {
            "gen_s_per_scenario": timing["gen_s"],
            "analyze_s_per_scenario": timing["analyze_s"],
            "wall_s": wall,
            "seed": seed,
            "half": half,
            "workdir": str(workdir) if keep else None,
        }
    )
    metrics["targets"] = {
        k: {"value": metrics[k], "op": op, "target": tgt, "pass": _passfail(k, metrics[k]) == "PASS"}
        for k, (op, tgt) in TARGETS.items()
    }
    if dump:
        with open(dump, "w") as fh:
            for row in dump_rows:
                fh.write(json.dumps(row) + "\n")
    return metrics, markdown(metrics, rows, timing, half, seed)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--half", default="all", choices=("calibration", "evaluation", "all"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--dump", default=None)
    ap.add_argument("--json", default=None, help="write the metrics here")
    a = ap.parse_args()
    met, md = run_part(a.n, a.seed, a.half, a.workers, a.keep, a.dump)
    print(md)
    print(json.dumps({k: v for k, v in met.items() if k != "per_diagnosis"}, indent=1, default=str))
    if a.json:
        Path(a.json).write_text(json.dumps(met, indent=1, default=str))
