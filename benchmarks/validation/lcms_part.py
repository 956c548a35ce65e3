"""LC-MS part of the validation: generate scenarios, run specqc on each, score.

``run_part(n, seed, half, workers, keep, dump)`` draws scenarios 0..n-1 of
``seed``, keeps the requested half of a seeded split (calibration /
evaluation / all), writes each scenario (``lcms_scenarios``), analyses it with
``specqc analyze`` (its click command run in-process by each worker of a
``multiprocessing`` pool, specqc imported once per worker), and returns
``(metrics, markdown)``.

The expected QC outcome of a scenario is derived in one place,
``expected_outcome(truth)``, from CHEMISTRY.md sections 4-5 and the
thresholds of specqc's qc.toml applied to the truth signal shares.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import tempfile
import time
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .chem import SEARCHED_IONS, ion_mz, ion_possible, parse_formula
from .lcms_scenarios import draw_lcms_scenario, write_lcms_scenario
from .workers import run_tasks

ISOMER_RT_MATCH_MIN = 0.1  # a reported species within this of a true isomer's apex is that isomer
SENSITIVITY_MIN_RATIO = 0.005  # species counted for sensitivity: signal >= 0.5 % of the main species'
TARGETS = {
    "false_detections_per_run": ("<=", 0.02),
    "sensitivity_high": (">=", 0.98),
    "sensitivity_unit": (">=", 0.90),
    "ratio_error_p90": ("<=", 1.5),
    "diagnosis_precision": (">=", 0.97),
    "diagnosis_recall": (">=", 0.95),
    "hands_off": (">=", 0.85),
}


# ---------------------------------------------------------------------------
# Expected outcome


def _specqc_data(name: str) -> dict:
    return tomllib.loads((resources.files("specqc") / "data" / name).read_text())


_QC = None
_CATALOGUE = None


def thresholds() -> dict:
    global _QC
    if _QC is None:
        _QC = _specqc_data("qc.toml")["thresholds"]
    return _QC


def catalogue() -> list[str]:
    global _CATALOGUE
    if _CATALOGUE is None:
        _CATALOGUE = [d["id"] for d in _specqc_data("diagnoses.toml")["diagnosis"]]
    return _CATALOGUE


@dataclass(frozen=True)
class Rule:
    """Impurities of `role` at a stage, judged against `threshold` (MS area %).

    strict: the diagnosis follows the share (>= 2x threshold required, <= 0.5x
    forbidden, else either). Not strict: the catalogue has no diagnosis that
    clearly names this case, so any of `diagnoses` is "either" once the share
    exceeds 0.5x (forbidden below); if `check`, a stage check with that
    threshold still fails the verdict at >= 2x.
    """

    role: str
    diagnoses: tuple[str, ...]
    threshold: str
    strict: bool = True
    check: bool = False


_CYCLIZED = (
    Rule("linear-precursor", ("incomplete-cyclization",), "linear_precursor_max_area_pct"),
    Rule("protected-intermediate", ("incomplete-deprotection",), "protected_precursor_max_area_pct"),
    Rule("oligomer", ("oligomerization",), "oligomer_max_area_pct"),
    Rule("hydrolysis", ("ester-hydrolysis",), "hydrolysis_max_area_pct"),
    Rule("piperazine", ("piperazine-formation",), "piperazine_max_area_pct"),
)
RULES: dict[tuple[str, str], tuple[Rule, ...]] = {
    ("diazepan-2-one", "alkylation"): (
        Rule("starting-material", ("incomplete-alkylation",), "starting_material_max_area_pct"),
        Rule("dialkylated", ("over-alkylation",), "dialkylated_max_area_pct"),
    ),
    ("diazepan-2-one", "deprotection"): (
        Rule("protected-intermediate", ("incomplete-deprotection",), "protected_precursor_max_area_pct"),
        Rule("hydrolysis", ("ester-hydrolysis",), "hydrolysis_max_area_pct"),
        # still Boc-protected, and an over-alkylation carried through: either name fits
        Rule("dialkylated", ("over-alkylation", "incomplete-deprotection"), "dialkylated_max_area_pct", strict=False),
    ),
    ("diazepan-2-one", "cyclization"): _CYCLIZED,
    ("diazepan-2-one", "salt"): _CYCLIZED
    + (Rule("dialkylated", ("over-alkylation", "incomplete-deprotection"), "dialkylated_max_area_pct", strict=False),),
    ("cyclobutylcarbonyl-diazepane", "ring-formation"): (
        # qc.toml's ring-closure check "Linear precursor and starting material gone"
        Rule(
            "starting-material",
            ("incomplete-cyclization", "incomplete-alkylation"),
            "linear_precursor_max_area_pct",
            strict=False,
            check=True,
        ),
        Rule("linear-precursor", ("incomplete-cyclization",), "linear_precursor_max_area_pct"),
        Rule("piperazine", ("piperazine-formation",), "piperazine_max_area_pct"),
        Rule("oligomer", ("oligomerization",), "oligomer_max_area_pct"),
    ),
    ("cyclobutylcarbonyl-diazepane", "acylation"): (
        # qc.toml's n-acylation check "Starting amine consumed"; the catalogue has no incomplete-acylation
        Rule("intermediate", ("incomplete-alkylation",), "starting_material_max_area_pct", strict=False, check=True),
        Rule("dialkylated", ("over-acylation",), "dialkylated_max_area_pct"),
        # the acid from the acid chloride, not from an ester
        Rule("hydrolysis", ("ester-hydrolysis",), "hydrolysis_max_area_pct", strict=False),
        Rule("piperazine", ("piperazine-formation",), "piperazine_max_area_pct"),
    ),
    ("cyclobutylcarbonyl-diazepane", "final"): (
        Rule(
            "intermediate",
            ("incomplete-alkylation", "incomplete-cyclization"),
            "starting_material_max_area_pct",
            strict=False,
        ),
        Rule("dialkylated", ("over-acylation",), "dialkylated_max_area_pct"),
        Rule("hydrolysis", ("ester-hydrolysis",), "hydrolysis_max_area_pct", strict=False),
        Rule("piperazine", ("piperazine-formation",), "piperazine_max_area_pct"),
        Rule("oligomer", ("oligomerization",), "oligomer_max_area_pct"),
    ),
}
MAIN_CLEARLY_PRESENT_SHARE = 5.0  # % of all compounds' signal
_RANK = {"forbidden": 0, "either": 1, "required": 2}


def expected_outcome(truth: dict) -> dict:
    """The diagnoses and verdict a correct LC-MS-only analysis of this scenario gives.

    Returns {"diagnoses": {id: "required"|"forbidden"|"either"} for every
    catalogue id, "verdict": "pass"|"fail"|"inconclusive"|"either"}.

    - For each rule of the stage (RULES, from CHEMISTRY.md section 4 and the
      stage checks of qc.toml / section 5), the largest truth
      `signal_share_pct` among the truly present species of that role at that
      stage (carry-over-only species count as absent) is compared with the
      rule's qc.toml threshold: >= 2x required, <= 0.5x forbidden, else either.
    - product-not-found: required when the stage's main species is not in the
      sample, forbidden when it is present with >= 5 % of the signal, else
      either.
    - low-purity (the route's last stage only): with a UV trace, required if
      the main species' UV area % < 96, forbidden if > 99.5, else either;
      without UV, either.
    - residual-solvent and water-uptake are NMR findings: forbidden here; so is
      every catalogue id no rule names.
    - verdict: fail if any diagnosis is required or a stage check fails
      (non-strict rule with a check at >= 2x); else either if anything is
      either; else inconclusive at the route's last stage (identity needs 1H
      NMR, which an LC-MS run cannot give); else pass.
    """
    thr = thresholds()
    expected = {d: "forbidden" for d in catalogue()}
    verdict_fail = False
    verdict_either = False

    def bump(diag, level):
        if _RANK[level] > _RANK[expected.get(diag, "forbidden")]:
            expected[diag] = level

    species = truth["species"]
    for rule in RULES.get((truth["route"], truth["stage"]), ()):
        shares = [
            s["signal_share_pct"]
            for s in species
            if s["role"] == rule.role and s["stage_role"] == "impurity" and s["present"]
        ]
        share = max(shares, default=0.0)
        limit = thr[rule.threshold]
        if rule.strict:
            level = "required" if share >= 2 * limit else ("forbidden" if share <= 0.5 * limit else "either")
            for d in rule.diagnoses:
                bump(d, level)
        else:
            if share > 0.5 * limit:
                for d in rule.diagnoses:
                    bump(d, "either")
                if rule.check:
                    if share >= 2 * limit:
                        verdict_fail = True
                    else:
                        verdict_either = True
                else:
                    verdict_either = True

    main = next(s for s in species if s["id"] == truth["main_species"])
    if not main["present"]:
        bump("product-not-found", "required")
    elif main["signal_share_pct"] < MAIN_CLEARLY_PRESENT_SHARE:
        bump("product-not-found", "either")

    if truth["last_stage"]:
        uv = truth.get("uv")
        if uv is None or uv.get("main_area_pct") is None:
            bump("low-purity", "either")
        elif uv["main_area_pct"] < 96.0:
            bump("low-purity", "required")
        elif uv["main_area_pct"] <= 99.5:
            bump("low-purity", "either")

    if any(v == "required" for v in expected.values()) or verdict_fail:
        verdict = "fail"
    elif any(v == "either" for v in expected.values()) or verdict_either:
        verdict = "either"
    elif truth["last_stage"]:
        verdict = "inconclusive"
    else:
        verdict = "pass"
    return {"diagnoses": expected, "verdict": verdict}


# ---------------------------------------------------------------------------
# Worker

_CLI = None


def _init_worker():
    global _CLI
    import specqc.cli  # noqa: F401  (imported once per worker)
    from click.testing import CliRunner

    _CLI = (CliRunner(), specqc.cli.main)


def _analyze(sample: Path, blank: Path | None, route: str, stage: str, out: Path) -> dict:
    runner, main = _CLI
    args = ["analyze", str(sample), "--route", route, "--stage", stage, "--format", "json", "--output", str(out)]
    blank_passed = None
    if blank is not None:
        result = runner.invoke(main, args + ["--blank", str(blank)])
        text = (result.output or "") + (getattr(result, "stderr", "") if _has_stderr(result) else "")
        if "No such option: --blank" in text:
            blank_passed = False
            result = runner.invoke(main, args)
        else:
            blank_passed = True
    else:
        result = runner.invoke(main, args)
    report, error = None, None
    if result.exit_code == 0 and out.exists():
        try:
            report = json.loads(out.read_text())
        except ValueError as exc:
            error = f"unreadable report: {exc}"
    else:
        tail = (result.output or "").strip().splitlines()[-1:] or [repr(result.exception)]
        error = f"exit {result.exit_code}: {tail[0][:300]}"
    return {"report": report, "error": error, "blank_passed": blank_passed}


def _has_stderr(result) -> bool:
    try:
        return bool(result.stderr)
    except (ValueError, AttributeError):
        return False


def _task(args) -> dict:
    seed, index, half, root = args
    folder = Path(root) / f"lcms-{index:04d}"
    t0 = time.perf_counter()
    try:
        scenario = draw_lcms_scenario(seed, index)
        paths = write_lcms_scenario(scenario, folder)
    except Exception as exc:  # noqa: BLE001  (a generator bug must not hide the other scenarios' scores)
        return {"index": index, "half": half, "generation_error": f"{type(exc).__name__}: {exc}"}
    t1 = time.perf_counter()
    truth = json.loads(paths["truth"].read_text())
    run = _analyze(paths["sample"], paths["blank"], truth["route"], truth["stage"], folder / "report.json")
    t2 = time.perf_counter()
    return _score_one(index, half, truth, run, t1 - t0, t2 - t1, os.path.getsize(paths["sample"]) / 1e6)


# ---------------------------------------------------------------------------
# Per-scenario scoring (in the worker: only the summary goes back)


def _report_species(entry: dict | None) -> dict | None:
    if entry is None:
        return None
    return {k: entry.get(k) for k in ("id", "status", "detected", "confidence", "ambiguous_with", "lcms")}


def _tolerance(truth: dict, report: dict | None) -> tuple[float, str]:
    if report:
        for run in report.get("lcms_runs") or []:
            tol = str(run.get("tolerance") or "")
            try:
                value, unit = tol.split()
                return float(value), unit
            except ValueError:
                pass
    return (10.0, "ppm") if truth["resolution_class"] == "high" else (0.5, "Da")


def _explain_false(sid: str, truth: dict, rep: dict, tol: tuple[float, str]) -> tuple[str, str]:
    """(kind, text): why a species not in the sample could look present, from the truth's nearest source."""
    t_entry = next(s for s in truth["species"] if s["id"] == sid)
    if t_entry["carryover_only"]:
        return "carry-over only", "carry-over only (level comparable to the blank)"
    lc = rep.get("lcms") or {}
    rep_rt = lc.get("rt_min")
    for d in truth["distractors"]:
        if d.get("isomer_of") == sid and (rep_rt is None or abs(d["rt_min"] - rep_rt) <= ISOMER_RT_MATCH_MIN):
            return "true isomer", f"true isomer {d['name']} ({d['formula']}) at {d['rt_min']:.2f} min"
    formula = parse_formula(t_entry["formula"])
    mine = [(ion, ion_mz(formula, ion)) for ion in SEARCHED_IONS[truth["polarity"]] if ion_possible(formula, ion)]
    reported_ions = {i.get("ion") for i in lc.get("ions") or []}
    sources = []
    for s in truth["species"]:
        if s["id"] == sid or not s["ions"]:
            continue
        for ion in s["ions"]:
            kind = "route species ion" if s["present"] else "carry-over species ion"
            sources.append((kind, f"{s['id']} {ion['ion']}", ion["mz"], s["rt_min"], ion["share"]))
    for d in truth["distractors"]:
        kind = {"isobar": "isobar distractor", "isomer": "isomer distractor"}.get(d["kind"], "unrelated compound")
        for ion in d["ions"]:
            sources.append((kind, f"{d['name']} ({d['formula']}) {ion['ion']}", ion["mz"], d["rt_min"], ion["share"]))
    for b in truth["background_ions"]:
        sources.append(("background ion", f"background {b['label']}", b["mz"], None, 1.0))
    # isotope peaks of every source too (M+1 13C; M+2 2x13C or the heavy S/Cl/Br/O isotope)
    isotopic = []
    for kind, label, smz, srt, share in sources:
        for step, name in ((1.003355, "M+1"), (2.00671, "M+2"), (1.997, "M+2")):
            isotopic.append((kind, f"{label} {name} isotope", smz + step, srt, share * 0.05))
    sources += isotopic
    value, unit = tol
    best = None
    for ion, mz in mine:
        if reported_ions and ion not in reported_ions:
            continue
        width = value * mz * 1e-6 if unit == "ppm" else value
        for kind, label, smz, srt, share in sources:
            if abs(smz - mz) <= width:
                drt = abs(srt - rep_rt) if (srt is not None and rep_rt is not None) else 0.5
                key = (drt, -share)
                if best is None or key < best[0]:
                    best = (
                        key,
                        kind,
                        f"its {ion} {mz:.4f} matches {label} {smz:.4f}"
                        + (f" at {srt:.2f} min" if srt is not None else " (all run)"),
                    )
    if best:
        return best[1], best[2]
    return "no truth source", "no source in the truth within the tolerance (noise?)"


def _score_one(index, half, truth, run, gen_s, analyze_s, size_mb) -> dict:
    report = run["report"]
    expected = expected_outcome(truth)
    rep_species = {s["id"]: s for s in (report or {}).get("species", [])}
    tol = _tolerance(truth, report)
    rows = []
    for t in truth["species"]:
        rep = rep_species.get(t["id"])
        row = {
            "index": index,
            "half": half,
            "resolution_class": truth["resolution_class"],
            "route": truth["route"],
            "stage": truth["stage"],
            "polarity": truth["polarity"],
            "mode": truth["mode"],
            "is_main": t["id"] == truth["main_species"],
            "truth": {k: v for k, v in t.items() if k not in ("peak",)},
            "report": _report_species(rep),
        }
        if rep is not None and rep.get("detected") and not t["present"]:
            row["false_kind"], row["false_reason"] = _explain_false(t["id"], truth, rep, tol)
        rows.append(row)
    reported_ids = [d["id"] for d in (report or {}).get("diagnoses", [])]
    p = truth["parameters"]
    return {
        "index": index,
        "half": half,
        "route": truth["route"],
        "stage": truth["stage"],
        "resolution_class": truth["resolution_class"],
        "mode": truth["mode"],
        "polarity": truth["polarity"],
        "composition": truth["composition"],
        "blank": truth["blank"]["present"],
        "carryover_only": truth["blank"]["carryover_only"],
        "uv": truth["uv"] is not None,
        "analyzer": truth["analyzer"],
        "resolving_power": truth["resolving_power"],
        "n_scans": p["lc"]["n_scans"],
        "run_min": p["lc"]["run_min"],
        "saturation": p["instrument"]["saturation"],
        "quantisation": truth["mz_quantisation"],
        "isobars": sum(1 for d in truth["distractors"] if d["kind"] == "isobar"),
        "isomers": sum(1 for d in truth["distractors"] if d["kind"] == "isomer"),
        "species_ids_missing": sorted(set(s["id"] for s in truth["species"]) - set(rep_species)) if report else [],
        "species_ids_extra": sorted(set(rep_species) - set(s["id"] for s in truth["species"])) if report else [],
        "expected": expected,
        "reported_diagnoses": reported_ids,
        "reported_verdict": (report or {}).get("qc", {}).get("verdict"),
        "error": run["error"],
        "blank_passed": run["blank_passed"],
        "gen_s": gen_s,
        "analyze_s": analyze_s,
        "size_mb": size_mb,
        "specqc_version": (report or {}).get("specqc_version"),
        "rows": rows,
    }


# ---------------------------------------------------------------------------
# Aggregation


def split_halves(n: int, seed: int) -> dict[str, list[int]]:
    perm = np.random.default_rng([seed, 0x5A11]).permutation(n)
    cal = sorted(int(i) for i in perm[: n // 2])
    ev = sorted(int(i) for i in perm[n // 2 :])
    return {"calibration": cal, "evaluation": ev, "all": list(range(n))}


def _frac(num, den):
    return (num / den) if den else None


def _quantile(values, q):
    if not values:
        return None
    return float(np.quantile(np.array(values), q))


def _eligible(row) -> bool:
    t = row["truth"]
    if not t["present"]:
        return False
    ratio = t["signal_ratio_to_product"]
    if ratio is None:  # main species absent: judge by share of all signal
        return t["signal_share_pct"] >= 100 * SENSITIVITY_MIN_RATIO
    return ratio >= SENSITIVITY_MIN_RATIO


def _detected(row) -> bool:
    return bool(row["report"] and row["report"].get("detected"))


def aggregate(results: list[dict]) -> dict:
    runs = len(results)
    rows = [r for res in results for r in res["rows"]]
    m: dict = {"runs": runs, "rows": len(rows)}

    sens = {}
    for key, pred in (
        ("high", lambda r: r["resolution_class"] == "high" and not r["is_main"]),
        ("unit", lambda r: r["resolution_class"] == "unit" and not r["is_main"]),
        ("main_high", lambda r: r["resolution_class"] == "high" and r["is_main"]),
        ("main_unit", lambda r: r["resolution_class"] == "unit" and r["is_main"]),
        ("all_high", lambda r: r["resolution_class"] == "high"),
        ("all_unit", lambda r: r["resolution_class"] == "unit"),
    ):
        el = [r for r in rows if pred(r) and _eligible(r)]
        sens[key] = {
            "n": len(el),
            "detected": sum(_detected(r) for r in el),
            "value": _frac(sum(_detected(r) for r in el), len(el)),
        }
    m["sensitivity"] = sens
    # the targets are on all eligible species (main included) of each resolution class
    m["sensitivity_high"] = sens["all_high"]["value"]
    m["sensitivity_unit"] = sens["all_unit"]["value"]

    claimed = [r for r in rows if _detected(r) and not r["truth"]["present"]]
    # A compound of the very formula, at the reported time, is that species as far as MS can tell
    # (same m/z, same isotopes, same adducts); telling isomers apart takes a reference standard's
    # retention time. Such hits are counted apart, not as false detections.
    isomers = [r for r in claimed if r.get("false_kind") == "true isomer"]
    false = [r for r in claimed if r.get("false_kind") != "true isomer"]
    m["isomer_detections"] = len(isomers)
    m["false_detections"] = len(false)
    m["false_detections_per_run"] = _frac(len(false), runs)
    by_class = {}
    for cls in ("high", "unit"):
        n_cls = sum(1 for res in results if res["resolution_class"] == cls)
        by_class[cls] = _frac(sum(1 for r in false if r["resolution_class"] == cls), n_cls)
    m["false_detections_per_run_by_class"] = by_class
    kinds = {}
    for r in false:
        kinds[r["false_kind"]] = kinds.get(r["false_kind"], 0) + 1
    m["false_detection_kinds"] = kinds
    m["false_examples"] = [
        {
            "index": r["index"],
            "species": r["truth"]["id"],
            "stage": r["stage"],
            "route": r["route"],
            "resolution_class": r["resolution_class"],
            "mode": r["mode"],
            "polarity": r["polarity"],
            "reason": r.get("false_reason"),
            "confidence": (r["report"].get("confidence") or {}).get("value"),
            "reported_rt": ((r["report"].get("lcms") or {}).get("rt_min")),
            "reported_ions": [i.get("ion") for i in ((r["report"].get("lcms") or {}).get("ions") or [])],
            "relative_area_pct": (r["report"].get("lcms") or {}).get("relative_area_pct"),
        }
        for r in sorted(false, key=lambda r: -((r["report"].get("lcms") or {}).get("relative_area_pct") or 0))
    ]

    errs = {"high": [], "unit": []}
    for res in results:
        main = next((r for r in res["rows"] if r["is_main"]), None)
        if main is None or not _detected(main):
            continue
        main_rel = (main["report"].get("lcms") or {}).get("relative_area_pct") or 0
        if main_rel <= 0:
            continue
        for r in res["rows"]:
            if r["is_main"] or not r["truth"]["present"] or not _detected(r):
                continue
            rel = (r["report"].get("lcms") or {}).get("relative_area_pct") or 0
            t = r["truth"]["signal_ratio_to_product"]
            if rel <= 0 or not t:
                factor = math.inf
            else:
                ratio = rel / main_rel
                factor = max(ratio / t, t / ratio)
            errs[r["resolution_class"]].append(factor)
    both = errs["high"] + errs["unit"]
    m["ratio_error"] = {
        k: {"n": len(v), "median": _quantile(v, 0.5), "p90": _quantile(v, 0.9)}
        for k, v in (("high", errs["high"]), ("unit", errs["unit"]), ("all", both))
    }
    m["ratio_error_p90"] = m["ratio_error"]["all"]["p90"]

    tp = fp = fn = 0
    per_id: dict[str, dict] = {}
    for res in results:
        exp = res["expected"]["diagnoses"]
        rep = set(res["reported_diagnoses"])
        for d in set(exp) | rep:
            level = exp.get(d, "forbidden")
            c = per_id.setdefault(d, {"tp": 0, "fp": 0, "fn": 0, "either_reported": 0, "either_silent": 0})
            if level == "required":
                if d in rep:
                    tp += 1
                    c["tp"] += 1
                else:
                    fn += 1
                    c["fn"] += 1
            elif level == "forbidden":
                if d in rep:
                    fp += 1
                    c["fp"] += 1
            else:
                c["either_reported" if d in rep else "either_silent"] += 1
    m["diagnosis_counts"] = {"tp": tp, "fp": fp, "fn": fn}
    m["diagnosis_per_id"] = per_id
    m["diagnosis_precision"] = _frac(tp, tp + fp)
    m["diagnosis_recall"] = _frac(tp, tp + fn)

    decidable = [res for res in results if res["expected"]["verdict"] in ("pass", "fail")]
    m["hands_off_n"] = len(decidable)
    m["hands_off"] = _frac(
        sum(res["reported_verdict"] == res["expected"]["verdict"] for res in decidable), len(decidable)
    )
    verdicts: dict[str, dict[str, int]] = {}
    for res in results:
        row = verdicts.setdefault(res["expected"]["verdict"], {})
        key = str(res["reported_verdict"])
        row[key] = row.get(key, 0) + 1
    m["verdict_matrix"] = verdicts
    inconc = [res for res in results if res["expected"]["verdict"] == "inconclusive"]
    m["inconclusive_expected"] = {
        "n": len(inconc),
        "reported_inconclusive": sum(res["reported_verdict"] == "inconclusive" for res in inconc),
    }

    conf = [
        ((r["report"].get("confidence") or {}).get("value"), r["truth"]["present"])
        for r in rows
        if r["report"]
        and isinstance(r["report"].get("confidence"), dict)
        and r["report"]["confidence"].get("value") is not None
    ]
    bins = []
    for b in range(10):
        lo, hi = b / 10, (b + 1) / 10
        sel = [(v, y) for v, y in conf if (lo <= v < hi) or (b == 9 and v == 1.0)]
        bins.append(
            {
                "bin": f"{lo:.1f}-{hi:.1f}",
                "n": len(sel),
                "mean_confidence": _frac(sum(v for v, _ in sel), len(sel)),
                "observed_present": _frac(sum(1 for _, y in sel if y), len(sel)),
            }
        )
    m["calibration"] = {
        "n": len(conf),
        "bins": bins,
        "brier": _frac(sum((v - (1.0 if y else 0.0)) ** 2 for v, y in conf), len(conf)),
    }

    m["errors"] = [{"index": res["index"], "error": res["error"]} for res in results if res["error"]]
    m["blank_runs"] = sum(1 for res in results if res["blank"])
    m["blank_not_passed"] = sum(1 for res in results if res["blank_passed"] is False)
    m["species_id_mismatches"] = [
        {"index": res["index"], "missing": res["species_ids_missing"], "extra": res["species_ids_extra"]}
        for res in results
        if res["species_ids_missing"] or res["species_ids_extra"]
    ]
    gen = [res["gen_s"] for res in results]
    ana = [res["analyze_s"] for res in results]
    m["timing"] = {
        "generate_mean_s": _frac(sum(gen), len(gen)),
        "generate_max_s": max(gen, default=None),
        "analyze_mean_s": _frac(sum(ana), len(ana)),
        "analyze_max_s": max(ana, default=None),
        "analyze_median_s": statistics.median(ana) if ana else None,
        "sample_mb_mean": _frac(sum(res["size_mb"] for res in results), len(results)),
        "sample_mb_max": max((res["size_mb"] for res in results), default=None),
    }
    m["targets"] = {}
    for name, (op, target) in TARGETS.items():
        value = m[name]
        ok = value is not None and (value <= target if op == "<=" else value >= target)
        m["targets"][name] = {"value": value, "target": target, "op": op, "pass": bool(ok)}
    m["mix"] = _mix(results)
    return m


def _mix(results):
    def count(key):
        out: dict[str, int] = {}
        for res in results:
            k = str(res[key])
            out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))

    return {
        k: count(k)
        for k in (
            "route",
            "stage",
            "resolution_class",
            "mode",
            "polarity",
            "composition",
            "blank",
            "uv",
            "analyzer",
            "saturation",
            "quantisation",
        )
    } | {
        "with_carryover_only_species": sum(1 for res in results if res["carryover_only"]),
        "with_isobars": sum(1 for res in results if res["isobars"]),
        "with_isomers": sum(1 for res in results if res["isomers"]),
    }


# ---------------------------------------------------------------------------
# Markdown


def _fmt(v, pct=False, digits=3):
    if v is None:
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{100 * v:.1f} %" if pct else f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def markdown(m: dict, n: int, seed: int, half: str) -> str:
    t = m["targets"]
    L = []
    L.append("## LC-MS")
    L.append("")
    which = f"all of indices 0-{n - 1}" if half == "all" else f"the {half} half of indices 0-{n - 1}"
    L.append(
        f"{m['runs']} scenarios ({which}, seed {seed}), generated by "
        "`benchmarks/validation/lcms_scenarios.py` from its own instrument and chemistry model and analysed "
        "with `specqc analyze --format json`."
    )
    L.append("")
    L.append("### Targets")
    L.append("")
    L.append("| metric | value | target | |")
    L.append("|---|---|---|---|")
    names = {
        "false_detections_per_run": "false detections per run",
        "sensitivity_high": "sensitivity, high resolution",
        "sensitivity_unit": "sensitivity, unit resolution",
        "ratio_error_p90": "ratio error, 90th percentile",
        "diagnosis_precision": "diagnosis precision",
        "diagnosis_recall": "diagnosis recall",
        "hands_off": "hands-off rate",
    }
    for key, entry in t.items():
        pct = key in ("sensitivity_high", "sensitivity_unit", "diagnosis_precision", "diagnosis_recall", "hands_off")
        target = f"{entry['op']} {100 * entry['target']:.0f} %" if pct else f"{entry['op']} {entry['target']}"
        L.append(f"| {names[key]} | {_fmt(entry['value'], pct)} | {target} | {'PASS' if entry['pass'] else 'FAIL'} |")
    L.append("")
    L.append("### Definitions")
    L.append("")
    L.append(
        "- **Sensitivity**: of the route species truly in the sample whose summed ion current (all ions and "
        "isotopes in the scan range, after response factor and suppression, before saturation) is at least "
        f"{100 * SENSITIVITY_MIN_RATIO:g} % of the stage's main species' (or, when the main species is absent, "
        f"at least {100 * SENSITIVITY_MIN_RATIO:g} % of all compounds' current), the fraction the report calls "
        "`detected`. Carry-over-only species are not truly present."
    )
    L.append(
        "- **False detections per run**: route species the report marks `detected: true` that are not in the "
        "sample (absent, present only as carry-over, or imitated by an isobar or isomer), divided by the "
        "number of runs."
    )
    L.append(
        "- **Ratio error**: for truly present, detected species other than the main one, with the main species "
        "detected too: max(r/t, t/r), r = reported relative_area_pct(species) / relative_area_pct(main), "
        "t = truth signal ratio to the main species (a zero reported area counts as infinite)."
    )
    L.append(
        "- **Diagnosis precision / recall**: over scenarios and catalogue ids, a reported id expected "
        "`required` is a true positive, one expected `forbidden` a false positive, a `required` id not "
        "reported a false negative; `either` ids are not counted (see `expected_outcome`)."
    )
    L.append(
        "- **Hands-off rate**: of scenarios whose expected verdict is pass or fail, the fraction whose "
        "`qc.verdict` equals it (an `inconclusive` does not count). Last-stage runs without a required "
        "diagnosis expect `inconclusive` (identity needs 1H NMR) and are counted separately."
    )
    L.append(
        "- **Confidence calibration**: species entries with a non-null `confidence.value`, binned by value; "
        "observed = fraction truly present; Brier = mean (value - present)^2."
    )
    L.append("")
    L.append("### Sensitivity")
    L.append("")
    L.append("| species | resolution | eligible | detected | sensitivity |")
    L.append("|---|---|---|---|---|")
    for key, label in (
        ("all_high", ("all", "high")),
        ("all_unit", ("all", "unit")),
        ("main_high", ("main", "high")),
        ("main_unit", ("main", "unit")),
        ("high", ("impurities", "high")),
        ("unit", ("impurities", "unit")),
    ):
        s = m["sensitivity"][key]
        L.append(f"| {label[0]} | {label[1]} | {s['n']} | {s['detected']} | {_fmt(s['value'], True)} |")
    L.append("")
    L.append("### False detections")
    L.append("")
    L.append(
        f"True isomers of a route species (same formula, at the reported time) detected: "
        f"{m['isomer_detections']}; MS cannot tell them from the species and they are not counted below."
    )
    L.append("")
    L.append(
        f"{m['false_detections']} in {m['runs']} runs ({_fmt(m['false_detections_per_run'])} per run; high "
        f"resolution {_fmt(m['false_detections_per_run_by_class']['high'])}, unit "
        f"{_fmt(m['false_detections_per_run_by_class']['unit'])}). By the truth's nearest source: "
        + (", ".join(f"{k} {v}" for k, v in sorted(m["false_detection_kinds"].items(), key=lambda x: -x[1])) or "none")
        + "."
    )
    L.append("")
    if m["false_examples"]:
        L.append("Worst offenders (largest reported area first):")
        L.append("")
        L.append("| scenario | route / stage | resolution, mode, polarity | species | reported | confidence | why |")
        L.append("|---|---|---|---|---|---|---|")
        for e in m["false_examples"][:20]:
            rt = e["reported_rt"]
            rep = (
                f"{_fmt(e['relative_area_pct'])} % at {rt:.2f} min"
                if rt is not None
                else f"{_fmt(e['relative_area_pct'])} %"
            ) + (f" ({', '.join(e['reported_ions'][:3])})" if e["reported_ions"] else "")
            L.append(
                f"| {e['index']} | {e['route']} / {e['stage']} | {e['resolution_class']}, {e['mode']}, "
                f"{e['polarity']} | {e['species']} | {rep} | {_fmt(e['confidence'])} | {e['reason']} |"
            )
        L.append("")
    L.append("### Ratio error")
    L.append("")
    L.append("| resolution | n | median | 90th percentile |")
    L.append("|---|---|---|---|")
    for k in ("high", "unit", "all"):
        r = m["ratio_error"][k]
        L.append(f"| {k} | {r['n']} | {_fmt(r['median'])} | {_fmt(r['p90'])} |")
    L.append("")
    L.append("### Diagnoses and verdicts")
    L.append("")
    c = m["diagnosis_counts"]
    L.append(f"True positives {c['tp']}, false positives {c['fp']}, false negatives {c['fn']}.")
    L.append("")
    L.append("| diagnosis | TP | FP | FN | either: reported / silent |")
    L.append("|---|---|---|---|---|")
    for d, v in sorted(m["diagnosis_per_id"].items()):
        L.append(f"| {d} | {v['tp']} | {v['fp']} | {v['fn']} | {v['either_reported']} / {v['either_silent']} |")
    L.append("")
    L.append("Expected verdict (rows) against reported verdict (columns):")
    L.append("")
    cols = sorted({k for row in m["verdict_matrix"].values() for k in row})
    L.append("| expected | " + " | ".join(cols) + " |")
    L.append("|---|" + "---|" * len(cols))
    for exp_v, row in sorted(m["verdict_matrix"].items()):
        L.append(f"| {exp_v} | " + " | ".join(str(row.get(k, 0)) for k in cols) + " |")
    L.append("")
    ic = m["inconclusive_expected"]
    L.append(
        f"Hands-off: {_fmt(m['hands_off'], True)} of {m['hands_off_n']} decidable scenarios. Expected "
        f"inconclusive (last stage, LC-MS only): {ic['n']}, reported inconclusive {ic['reported_inconclusive']}."
    )
    L.append("")
    L.append("### Confidence calibration")
    L.append("")
    cal = m["calibration"]
    L.append(f"{cal['n']} species entries with a confidence value; Brier score {_fmt(cal['brier'])}.")
    L.append("")
    L.append("| confidence | n | mean confidence | observed present |")
    L.append("|---|---|---|---|")
    for b in cal["bins"]:
        L.append(f"| {b['bin']} | {b['n']} | {_fmt(b['mean_confidence'])} | {_fmt(b['observed_present'])} |")
    L.append("")
    L.append("### Scenario mix and cost")
    L.append("")
    for k, v in m["mix"].items():
        L.append(f"- {k}: {v}")
    tm = m["timing"]
    L.append(
        f"- generation {_fmt(tm['generate_mean_s'])} s per scenario on average (max "
        f"{_fmt(tm['generate_max_s'])} s, sample and blank written); analysis {_fmt(tm['analyze_mean_s'])} s "
        f"(median {_fmt(tm['analyze_median_s'])}, max {_fmt(tm['analyze_max_s'])}); sample files "
        f"{_fmt(tm['sample_mb_mean'])} MB on average, at most {_fmt(tm['sample_mb_max'])} MB"
    )
    if m["blank_runs"]:
        note = (
            f"blank not passed: `specqc analyze` has no `--blank` option, so the {m['blank_not_passed']} blank "
            f"runs were not given to it"
            if m["blank_not_passed"]
            else f"blank passed with `--blank` in {m['blank_runs']} scenarios"
        )
        L.append(f"- {note}")
    if m["errors"]:
        L.append(
            f"- analysis errors: {len(m['errors'])} (e.g. scenario {m['errors'][0]['index']}: "
            f"{m['errors'][0]['error']})"
        )
    if m["species_id_mismatches"]:
        e = m["species_id_mismatches"][0]
        L.append(
            f"- species ids differing between truth and report in {len(m['species_id_mismatches'])} "
            f"scenarios (e.g. {e['index']}: missing {e['missing']}, extra {e['extra']})"
        )
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------


def run_part(n: int, seed: int, half: str, workers: int, keep: str | Path | None, dump: str | Path | None):
    """Generate, analyse and score the LC-MS scenarios of `half`; return (metrics, markdown)."""

    indices = split_halves(n, seed)[half]
    halves = split_halves(n, seed)
    half_of = {i: ("calibration" if i in set(halves["calibration"]) else "evaluation") for i in indices}
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="specqc-validation-lcms-"))
    root.mkdir(parents=True, exist_ok=True)
    tasks = [(seed, i, half_of[i], str(root)) for i in indices]
    results = []
    try:
        results = run_tasks(_task, tasks, workers, _init_worker)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    results.sort(key=lambda r: r["index"])
    generation_errors = [r for r in results if "generation_error" in r]
    results = [r for r in results if "generation_error" not in r]
    if dump:
        with open(dump, "w") as fh:
            for res in results:
                for row in res["rows"]:
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
    metrics = aggregate(results)
    metrics["specqc_version"] = next((r["specqc_version"] for r in results if r["specqc_version"]), None)
    metrics["generation_errors"] = generation_errors
    text = markdown(metrics, n, seed, half)
    if generation_errors:
        text += (
            f"\nGeneration failed for {len(generation_errors)} scenarios (left out above), e.g. "
            f"{generation_errors[0]['index']}: {generation_errors[0]['generation_error']}\n"
        )
    return metrics, text
