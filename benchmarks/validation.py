"""Validate specqc against independently generated data with known truth.

    python benchmarks/validation.py [--lcms N] [--nmr N] [--seed S]
        [--half calibration|evaluation|all] [--workers 2] [--out VALIDATION.md]
        [--keep DIR] [--dump ROWS.jsonl]

Each part generates its scenarios (``validation.lcms_scenarios`` for LC-MS),
runs ``specqc analyze`` on them and scores the reports against the truth. The
scenario indices 0..N-1 are split in two halves by a seeded permutation:
``calibration`` (for fitting, e.g., the confidence model) and ``evaluation``
(for reporting); ``all`` uses both. The markdown report (VALIDATION.md) is
written whole from the parts that ran, with the command, seed, half, N,
specqc version and date.

Parts are modules of the ``validation`` package found by name: ``lcms_part``
and, when it exists, ``nmr_part``, each exposing
``run_part(n, seed, half, workers, keep, dump) -> (metrics, markdown)``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from validation import DEFAULT_SEED  # noqa: E402

DEFAULT_LCMS = 400


def specqc_version() -> str:
    exe = Path(sys.executable).with_name("specqc")
    try:
        out = subprocess.run(
            [str(exe) if exe.exists() else "specqc", "--version"], capture_output=True, text=True, timeout=60
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        from importlib.metadata import version

        return f"specqc {version('specqc')}"
    except Exception:  # noqa: BLE001
        return "unknown"


def _part(name: str):
    if importlib.util.find_spec(f"validation.{name}") is None:
        return None
    return importlib.import_module(f"validation.{name}")


def _part_dump(dump: str | None, part: str) -> str | None:
    if not dump or part == "lcms":
        return dump
    path = Path(dump)
    return str(path.with_name(f"{path.stem}.{part}{path.suffix or '.jsonl'}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lcms",
        type=int,
        default=DEFAULT_LCMS,
        metavar="N",
        help=f"LC-MS scenarios to draw (indices 0..N-1, default {DEFAULT_LCMS}; 0 skips the part)",
    )
    parser.add_argument("--nmr", type=int, default=0, metavar="N", help="NMR scenarios (needs validation.nmr_part)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--half", choices=["calibration", "evaluation", "all"], default="evaluation")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="VALIDATION.md")
    parser.add_argument("--keep", default=None, metavar="DIR", help="keep the generated files and reports here")
    parser.add_argument(
        "--dump",
        default=None,
        metavar="ROWS.jsonl",
        help="one JSON line per (scenario, route species): truth and report entries "
        "(the NMR part, if run, writes ROWS.nmr.jsonl)",
    )
    args = parser.parse_args(argv)
    workers = max(1, min(args.workers, 2))

    started = time.time()
    sections: list[str] = []
    summary: dict = {}
    notes: list[str] = []
    for name, n in (("lcms", args.lcms), ("nmr", args.nmr)):
        if n <= 0:
            continue
        module = _part(f"{name}_part")
        if module is None:
            notes.append(f"The {name.upper()} part is not available (no module validation.{name}_part).")
            print(notes[-1], file=sys.stderr)
            continue
        keep = str(Path(args.keep) / name) if args.keep else None
        metrics, text = module.run_part(n, args.seed, args.half, workers, keep, _part_dump(args.dump, name))
        summary[name] = metrics
        sections.append(text)
        print(_console(name, metrics))

    command = "python benchmarks/validation.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    header = [
        "# specqc validation against independently generated data",
        "",
        f"- command: `{command.strip()}`",
        f"- seed: {args.seed}; half: {args.half}; N: "
        + ", ".join(f"{k.upper()} {v}" for k, v in (("lcms", args.lcms), ("nmr", args.nmr)) if v > 0),
        f"- specqc version: {specqc_version()}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- wall time: {time.time() - started:.0f} s with {workers} worker(s)",
        "",
    ]
    header += [f"{n}\n" for n in notes]
    # the shortfalls' causes, written by hand (figures cannot say why)
    why = Path(__file__).resolve().parent / "validation" / "WHY.md"
    if why.exists():
        sections.append(why.read_text().rstrip())
    Path(args.out).write_text("\n".join(header + sections) + "\n")
    print(f"wrote {args.out}")
    return 0


def _console(name: str, metrics: dict) -> str:
    lines = [f"[{name}] {metrics.get('runs')} runs"]
    for key, t in (metrics.get("targets") or {}).items():
        value = t["value"]
        shown = "n/a" if value is None else f"{value:.4g}"
        lines.append(f"  {key:28s} {shown:>10s}  ({t['op']} {t['target']})  {'PASS' if t['pass'] else 'FAIL'}")
    extra = {
        k: metrics.get(k)
        for k in (
            "sensitivity",
            "ratio_error",
            "diagnosis_counts",
            "inconclusive_expected",
            "false_detection_kinds",
            "timing",
        )
    }
    lines.append("  " + json.dumps(extra, default=str))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
