"""NMR benchmark: specqc's full processing and analysis against nmrglue doing the bare minimum.

    python benchmarks/nmr.py [DATASET] [--repeat 3]

DATASET defaults to a 64k-point (32k complex) 400 MHz Bruker raw experiment of
the salt in DMSO-d6 with ether, water and a route impurity, written by
specqc's simulator into a temporary folder (random phase, group delay,
shifted axis). Pass a Bruker experiment folder (the one holding fid and acqus)
to time another, e.g. ../shared/realdata/nmr-bruker/strychnine-1h/10. Each task
runs in a fresh process; wall time excludes interpreter start, imports and
loading the reference tables (done once per process, not per spectrum).

* floor:    nmrglue bruker.read + remove_digital_filter + zero-fill + FFT
* process:  read + apodize, zero-fill, FFT, automatic phase, baseline, referencing
* analyze:  process + line-shape fit of every candidate compound, multiplets,
            residual solvents and water (what `specqc analyze` does for NMR)
Goal: within 3x the floor.

A last line splits analyze's time by stage (read, process, the line-shape fit
with the line-width estimate it starts from, the peak table), each as a
multiple of the floor: where the time over the goal goes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _harness import best_of


def simulated_dataset(folder: Path) -> Path:
    from specqc.chem.route import load_route
    from specqc.simulate.nmr import NMRComponent as N
    from specqc.simulate.nmr import NMRSettings, simulate, write_bruker

    settings = NMRSettings(complex_points=32768, axis_error_ppm=0.05, seed=7)
    components = [
        N("diazepan-2-one", 1.0, satellites=True),
        N("residual", 0.9, "residual"),
        N("water", 0.4, "water", extra_width_hz=3.0),
        N("diethyl ether", 0.02, "solvent"),
        N("aminopropyl-glycinate", 0.03),
    ]
    fid, _truth = simulate(load_route("diazepan-2-one"), components, settings)
    write_bruker(folder / "1", fid, settings)
    return folder / "1"


WORKER = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
task, path = sys.argv[1], sys.argv[2]
import nmrglue as ng, numpy as np, scipy.optimize, scipy.signal, scipy.ndimage
stages = {}  # analyze: seconds per stage
if task != "floor":
    from specqc.chem.route import load_route
    from specqc.readers import read
    from specqc.nmr.analysis import analyze_nmr
    from specqc.nmr.process import process
    from specqc.nmr.references import reference_set
    from specqc.nmr.solvents import ich_limits, shift_table
    from specqc.readers.bruker import reader as _bruker_reader  # noqa: F401 (imported lazily by the registry)
    # imports and reference tables are loaded once per process, as the floor's nmrglue import is
    shift_table(); ich_limits()
    route = load_route("diazepan-2-one")
    reference_set(route.id, frozenset(s.id for s in route.species))
    # time the stages analyze_nmr runs, through the names it calls them by
    import specqc.nmr.analysis as analysis
    STAGES = {"process": ["process"], "fit": ["estimate_fwhm_hz", "fit_components"],
              "peak table": ["group_multiplets", "_assign", "_label_exchangeable", "_label_satellites"]}
    def timed(stage, function):
        def run(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - begin
        return run
    for stage, names in STAGES.items():
        for name in names:
            setattr(analysis, name, timed(stage, getattr(analysis, name)))
start = time.perf_counter()
if task == "floor":
    dic, data = ng.bruker.read(path)
    data = ng.bruker.remove_digital_filter(dic, data)
    size = 1 << int(np.ceil(np.log2(data.size * 2)))
    spectrum = ng.proc_base.fft(ng.proc_base.zf_size(data, size))
elif task == "process":
    process(read(path))
else:
    data = read(path)
    stages["read"] = time.perf_counter() - start
    analyze_nmr(data, route, route.stage("salt"))
seconds = time.perf_counter() - start
if task == "analyze":
    stages["other"] = seconds - sum(stages.values())
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "stages": stages}))
"""


def measure(task: str, path: Path, repeat: int) -> dict:
    return best_of(WORKER, [task, str(path)], repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="specqc-bench-") as temporary:
        dataset = args.dataset or simulated_dataset(Path(temporary))
        if not (dataset / "fid").is_file() or not (dataset / "acqus").is_file():
            sys.exit(f"{dataset}: not a Bruker experiment folder (it must hold fid and acqus)")
        results = {task: measure(task, dataset, args.repeat) for task in ("floor", "process", "analyze")}
    floor = results["floor"]
    print(f"dataset: {args.dataset or 'simulated 64k-point salt spectrum'}")
    print(f"{'task':8s} {'seconds':>9s} {'x floor':>8s} {'peak MB':>9s} {'x floor':>8s}")
    for task, result in results.items():
        print(
            f"{task:8s} {result['seconds']:9.3f} {result['seconds'] / floor['seconds']:8.2f} "
            f"{result['peak_rss_mb']:9.1f} {result['peak_rss_mb'] / floor['peak_rss_mb']:8.2f}"
        )
    stages = results["analyze"]["stages"]
    print(
        "analyze by stage (x floor): "
        + ", ".join(f"{stage} {seconds / floor['seconds']:.2f}" for stage, seconds in stages.items())
    )


if __name__ == "__main__":
    main()
