"""Many samples in one command against one command per sample.

    python benchmarks/batch.py [--samples 50] [--repeat 1] [--jobs N]

Copies the shipped LC-MS samples of diazepan-2-one (each copy its own sample,
by name) into a temporary folder until there are --samples of them, then times
whole processes from the shell, imports included:

- one `specqc analyze ... --sample-per-file --output-dir` per sample (what a
  script looping over the files does);
- one command over all samples with the worker processes of `--jobs`
  (default: one per core);
- one command over all samples with `--jobs 1` (one process, imports paid once).

Printed: wall and CPU seconds of each, and the ratio of the separate commands'
wall time to each single command's (target: >= 1.7x for the worker processes
on 2 cores). The machine's other load shows in the ratios: run it on an idle
machine.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _process import measure, run_folder, specqc_command

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "lcms"
ROUTE = "diazepan-2-one"


def make_samples(folder: Path, count: int) -> list[Path]:
    """`count` copies of the shipped diazepan-2-one runs, the stage word kept in each name."""
    shipped = sorted(SAMPLES.glob("dz-*.mzML"))
    if not shipped:
        raise SystemExit(f"no shipped samples in {SAMPLES}")
    paths = []
    for index in range(count):
        source = shipped[index % len(shipped)]
        target = folder / f"{source.stem}-{index:03d}.mzML"
        shutil.copyfile(source, target)
        paths.append(target)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="repeats of each mode; the fastest counts")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    args = parser.parse_args()
    folder = run_folder(None, "specqc-batch-")
    try:
        paths = make_samples(folder, args.samples)
        base = [*specqc_command(), "analyze", "--route", ROUTE, "--sample-per-file", "--format", "json"]

        def separate(out: Path) -> dict:
            totals = {"wall": 0.0, "cpu": 0.0}
            for path in paths:
                figures = measure([*base, "--output-dir", str(out), str(path)])
                totals["wall"] += figures["wall"]
                totals["cpu"] += figures["cpu"]
            return totals

        def one_command(out: Path, jobs: int | None) -> dict:
            extra = ["--jobs", str(jobs)] if jobs else []
            return measure([*base, *extra, "--output-dir", str(out), *map(str, paths)])

        modes = {
            "separate commands": separate,
            f"one command, --jobs {args.jobs or 'default'}": lambda out: one_command(out, args.jobs),
            "one command, --jobs 1": lambda out: one_command(out, 1),
        }
        results = {}
        for name, mode in modes.items():
            best = None
            for _ in range(args.repeat):
                out = Path(tempfile.mkdtemp(prefix="out-", dir=folder))
                figures = mode(out)
                if len(list(out.glob("*.json"))) != len(paths):
                    raise SystemExit(f"{name}: {len(list(out.glob('*.json')))} reports for {len(paths)} samples")
                shutil.rmtree(out)
                best = figures if best is None or figures["wall"] < best["wall"] else best
            results[name] = best
        separate_wall = results["separate commands"]["wall"]
        print(f"{len(paths)} LC-MS samples (copies of {SAMPLES}/dz-*.mzML)")
        print(f"{'mode':34s} {'wall s':>8s} {'CPU s':>8s} {'separate/this':>14s}")
        for name, figures in results.items():
            print(f"{name:34s} {figures['wall']:8.1f} {figures['cpu']:8.1f} {separate_wall / figures['wall']:13.2f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
