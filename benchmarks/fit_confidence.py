"""Fit the LC-MS confidence model on the calibration half of the validation scenarios.

    python benchmarks/fit_confidence.py [--lcms 400] [--seed 20261204] [--workers 2]

Runs specqc over the *calibration* half of the LC-MS validation scenarios
(benchmarks/validation/lcms_part.py), takes every species entry that carries
confidence features (an ion of the species was found) with its truth (present
in the sample or not), fits a logistic regression with scikit-learn and writes
the coefficients, with their provenance, to the package data file
src/specqc/data/lcms_confidence.json. The *evaluation* half is left for
``benchmarks/validation.py --half evaluation``, which reports the reliability
table and Brier score of the fitted model on scenarios it never saw.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from validation import DEFAULT_SEED, lcms_part  # noqa: E402

from specqc.lcms.evidence import FEATURES  # noqa: E402

MODEL = HERE.parent / "src" / "specqc" / "data" / "lcms_confidence.json"


def training_rows(dump: Path) -> tuple[list[list[float]], list[int]]:
    features, present = [], []
    for line in dump.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        report = row.get("report") or {}
        confidence = report.get("confidence")
        if not isinstance(confidence, dict) or not confidence.get("features"):
            continue
        features.append([float(confidence["features"][name]) for name in FEATURES])
        present.append(1 if row["truth"]["present"] else 0)
    return features, present


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lcms", type=int, default=400, help="scenarios drawn (half of them are fitted on)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args()

    import numpy as np
    import sklearn
    from sklearn.linear_model import LogisticRegression

    with tempfile.TemporaryDirectory(prefix="specqc-fit-") as folder:
        dump = Path(folder) / "rows.jsonl"
        metrics, _ = lcms_part.run_part(args.lcms, args.seed, "calibration", args.workers, None, dump)
        if metrics["errors"]:
            print(f"{len(metrics['errors'])} scenarios failed to analyse, e.g. {metrics['errors'][0]}", file=sys.stderr)
        x, y = training_rows(dump)
    if len(set(y)) < 2:
        print("the calibration half holds only one class: nothing to fit", file=sys.stderr)
        return 1
    x_array, y_array = np.asarray(x), np.asarray(y)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x_array, y_array)
    predicted = model.predict_proba(x_array)[:, 1]
    brier = float(np.mean((predicted - y_array) ** 2))
    today = datetime.date.today().isoformat()
    version = f"1-fit-{args.seed}-{args.lcms}"
    document = {
        "version": version,
        "source": (
            f"scikit-learn {sklearn.__version__} LogisticRegression (C=1) fitted on {len(y)} species entries "
            f"({sum(y)} present) of the calibration half of {args.lcms} LC-MS validation scenarios, seed "
            f"{args.seed} (benchmarks/fit_confidence.py, {today}); in-sample Brier score {brier:.3f}. "
            "Reported on the evaluation half by benchmarks/validation.py --half evaluation."
        ),
        "intercept": round(float(model.intercept_[0]), 6),
        "coefficients": {name: round(float(c), 6) for name, c in zip(FEATURES, model.coef_[0])},
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"{version}: {len(y)} entries ({sum(y)} present), in-sample Brier {brier:.3f}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
