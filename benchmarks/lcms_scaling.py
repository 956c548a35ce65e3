"""How `specqc analyze` scales with the length of an LC-MS run, in time and memory.

    python benchmarks/lcms_scaling.py [--scans 300 1200 4800 12000] [--modes profile centroid]
                                      [--repeat 1] [--keep DIR]

For each size and mode, a simulated run of the diazepan-2-one cyclization stage
(benchmarks/_lcms_runs.py: specqc's simulator, 10 min of high-resolution data)
is written once, then three whole processes are measured:

* full:   python -c "import pyopenms; MzMLFile().load(file, MSExperiment())" (every spectrum in memory)
* ondisc: pyopenms OnDiscMSExperiment, each spectrum read in turn and its peaks taken
* specqc: specqc analyze FILE --route diazepan-2-one --stage cyclization --format json

Each process's CPU time (user + system), wall time and peak resident memory
come from the kernel's accounting of the child (see _process.py). Printed:
those figures, specqc's CPU and wall time as a multiple of the full load's, its
peak memory against the full load's, and its peak memory at each size against
the smallest size at or above 1,200 scans (flat means memory does not follow
the file). Targets: time <= 1.5x the full load at every size; at 12,000 profile
scans memory below the full load's; memory <= 1.2x from 1,200 to 12,000 scans.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _lcms_runs import ROUTE, STAGE
from _process import FULL_LOAD, best_of, own_peak_rss_mb, python_command, run_folder, specqc_command, write_run

ONDISC = (
    "import sys, pyopenms as oms\n"
    "run = oms.OnDiscMSExperiment()\n"
    "assert run.openFile(sys.argv[1])\n"
    "for index in range(run.getNrSpectra()):\n"
    "    run.getSpectrum(index).get_peaks()\n"
)


def commands(path: Path) -> dict[str, list[str]]:
    return {
        "full": python_command(FULL_LOAD, str(path)),
        "ondisc": python_command(ONDISC, str(path)),
        "specqc": [*specqc_command(), "analyze", str(path), "--route", ROUTE, "--stage", STAGE, "--format", "json"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, nargs="+", default=[300, 1200, 4800, 12000])
    parser.add_argument("--modes", nargs="+", default=["profile", "centroid"], choices=["profile", "centroid"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them (reused when present)")
    args = parser.parse_args()
    folder = run_folder(args.keep, "specqc-scaling-")
    print(
        f"{'mode':8s} {'scans':>6s} {'MB':>6s} {'task':7s} {'cpu s':>7s} {'wall s':>7s} {'peak MB':>8s}   "
        f"{'cpu/full':>8s} {'wall/full':>9s} {'mem/full':>8s}"
    )
    for mode in args.modes:
        reference_peak = None
        for scans in sorted(args.scans):
            path = folder / f"scaling-{mode}-{scans}.mzML"
            if not path.exists():
                write_run(path, mode, scans)
            results = {task: best_of(argv, args.repeat) for task, argv in commands(path).items()}
            full = results["full"]
            for task, result in results.items():
                print(
                    f"{mode:8s} {scans:6d} {path.stat().st_size / 1e6:6.1f} {task:7s} {result['cpu']:7.2f} "
                    f"{result['wall']:7.2f} {result['peak_rss_mb']:8.1f}   {result['cpu'] / full['cpu']:8.2f} "
                    f"{result['wall'] / full['wall']:9.2f} {result['peak_rss_mb'] / full['peak_rss_mb']:8.2f}"
                )
            ours = results["specqc"]["peak_rss_mb"]
            if scans >= 1200 and reference_peak is None:
                reference_peak = (scans, ours)
            if reference_peak is not None:
                print(
                    f"{mode:8s} {scans:6d} specqc peak memory {ours / reference_peak[1]:.2f}x its peak at "
                    f"{reference_peak[0]} scans",
                    flush=True,
                )
    print(f"(this process's own peak: {own_peak_rss_mb():.0f} MB, below every child's)")


if __name__ == "__main__":
    main()
