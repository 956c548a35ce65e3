"""Cold `specqc analyze` of an LC-MS run against a bare process that only loads
the same file with pyopenms, both whole processes started from the shell
(interpreter start and imports included: what a user waits for).

    python benchmarks/lcms_cold.py [--scans 1200] [--repeat 5] [--keep DIR]

Writes a simulated run of the diazepan-2-one cyclization stage in centroid and
in profile mode (--scans scans each), then runs, --repeat times each:

* bare:   python -c "import pyopenms; MzMLFile().load(file, MSExperiment())"
* specqc: specqc analyze FILE --route diazepan-2-one --stage cyclization --format json

Prints CPU time (user + system of the child; the figure to trust on a shared
machine), wall time and peak resident memory, best of the repeats, and the
ratios specqc / bare. Goal: specqc within 2x the bare load.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _lcms_runs import ROUTE, STAGE
from _process import FULL_LOAD, best_of, own_peak_rss_mb, python_command, run_folder, specqc_command, write_run


def commands(path: Path) -> dict[str, list[str]]:
    return {
        "bare": python_command(FULL_LOAD, str(path)),
        "specqc": [*specqc_command(), "analyze", str(path), "--route", ROUTE, "--stage", STAGE, "--format", "json"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them (reused when present)")
    args = parser.parse_args()
    folder = run_folder(args.keep, "specqc-cold-")
    print(
        f"{'run':9s} {'task':7s} {'cpu s':>7s} {'x bare':>7s} {'wall s':>7s} {'x bare':>7s} "
        f"{'peak MB':>8s} {'x bare':>7s}"
    )
    for mode in ("centroid", "profile"):
        path = folder / f"cold-{mode}-{args.scans}.mzML"
        if not path.exists():
            write_run(path, mode, args.scans)
        results = {task: best_of(argv, args.repeat) for task, argv in commands(path).items()}
        bare = results["bare"]
        for task, result in results.items():
            print(
                f"{mode:9s} {task:7s} {result['cpu']:7.3f} {result['cpu'] / bare['cpu']:7.2f} "
                f"{result['wall']:7.3f} {result['wall'] / bare['wall']:7.2f} "
                f"{result['peak_rss_mb']:8.1f} {result['peak_rss_mb'] / bare['peak_rss_mb']:7.2f}"
            )
        print(
            f"{mode:9s} file {path.stat().st_size / 1e6:.1f} MB, {args.scans} scans; "
            f"specqc / bare: CPU {results['specqc']['cpu'] / bare['cpu']:.2f}x, "
            f"wall {results['specqc']['wall'] / bare['wall']:.2f}x"
        )
    print(f"(this process's own peak: {own_peak_rss_mb():.0f} MB, below every child's)")


if __name__ == "__main__":
    main()
