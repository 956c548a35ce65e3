"""JSON reports of every shipped LC-MS sample (and the real mzML/mzXML runs of
the shared corpus, when present), written to a folder: run it before and after
a change to how LC-MS data are read or imported, then compare the folders.

    python benchmarks/lcms_reports.py OUT_DIR
    diff -r BEFORE_DIR AFTER_DIR

The report holds no time of analysis; only the package version (which a
development install may change between the two runs) is blanked, so equal
analyses give byte-identical files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "lcms"
REAL = ROOT.parent / "shared" / "realdata" / "lcms-mzml"
REAL_ROUTE, REAL_STAGE = "diazepan-2-one", "cyclization"
VARYING = {"specqc_version"}


def _blank_varying(value):
    if isinstance(value, dict):
        return {k: ("" if k in VARYING else _blank_varying(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_varying(v) for v in value]
    return value


def inputs() -> list[tuple[str, Path, str, str]]:
    found = []
    for truth_path in sorted(SAMPLES.glob("*.truth.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        name = truth_path.name[: -len(".truth.json")]
        found.append((name, SAMPLES / f"{name}.mzML", truth["route"], truth["stage"]))
    for path in sorted(REAL.glob("*/*")) if REAL.is_dir() else []:
        if path.suffix.lower() in (".mzml", ".mzxml"):
            found.append((f"real-{path.parent.name}", path, REAL_ROUTE, REAL_STAGE))
    return found


def main() -> None:
    from specqc.errors import SpecqcError
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, path, route, stage in inputs():
        try:
            document = _blank_varying(build_report(analyze([path], route, stage)))
        except SpecqcError as exc:
            document = {"error": exc.one_line()}
        text = json.dumps(document, indent=1, sort_keys=True, default=str) + "\n"
        (out / f"{name}.json").write_text(text, encoding="utf-8")
        print(name, len(text))


if __name__ == "__main__":
    main()
