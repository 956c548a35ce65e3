"""LC-MS benchmark: specqc's full analysis against pyopenms doing the bare minimum.

    python benchmarks/lcms.py [--scans 1200] [--repeat 3] [--keep DIR]

Writes a simulated 1,200-scan centroid run and a profile run of the
diazepan-2-one cyclization stage, then times, each in a fresh process:

* floor:      pyopenms MzMLFile().load of the file, nothing else;
* specqc:     read + full route-aware analysis + JSON report (all species, every ion);
* metaboident: pyopenms load + FeatureFinderAlgorithmMetaboIdent given the same
              target ions (m/z, charge) over the whole run.

Prints wall time (best of --repeat, excluding interpreter start and imports)
and peak resident memory of each process, with ratios to the floor.
Goals: specqc within 2x the floor, and faster than MetaboIdent.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from _harness import best_of

ROUTE, STAGE = "diazepan-2-one", "cyclization"

WORKER = r"""
import json, sys, time
task, path = sys.argv[1], sys.argv[2]
import pyopenms as oms
if task == "specqc":
    from specqc.pipeline import analyze
    from specqc.report.document import build_report, to_json
    from specqc.chem.route import load_route
    load_route("%(route)s")  # route data is loaded once per process, not per file
    import specqc.lcms.analysis, scipy.signal, scipy.ndimage  # imports are not the work
start = time.perf_counter()
if task == "floor":
    experiment = oms.MSExperiment()
    oms.MzMLFile().load(path, experiment)
elif task == "specqc":
    to_json(build_report(analyze([path], "%(route)s", "%(stage)s")))
elif task == "metaboident":
    targets = json.loads(sys.argv[3])
    experiment = oms.MSExperiment()
    oms.MzMLFile().load(path, experiment)
    finder = oms.FeatureFinderAlgorithmMetaboIdent()
    params = finder.getDefaults()
    params.setValue("extract:mz_window", 10.0)
    params.setValue("extract:rt_window", float(sys.argv[4]))
    finder.setParameters(params)
    finder.setMSData(experiment)
    compounds = [oms.FeatureFinderMetaboIdentCompound(t["name"], "", t["mass"], [t["charge"]],
                 [t["rt"]], [0.0], [1.0]) for t in targets]
    features = oms.FeatureMap()
    finder.run(compounds, features, path)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_rss_mb": peak_rss_mb()}))
""" % {"route": ROUTE, "stage": STAGE}


def make_runs(folder: Path, scans: int) -> dict[str, Path]:
    from specqc.chem.route import load_route
    from specqc.simulate.lcms import Component as C
    from specqc.simulate.lcms import RunSettings, simulate, write_mzml

    route = load_route(ROUTE)
    components = [
        C(1.1, 5.0e6, "diazepan-2-one"),
        C(1.6, 8.0e5, "aminopropyl-glycinate"),
        C(2.0, 1.0e6, "linear-dimer"),
        C(1.8, 7.0e5, "cyclic-dimer"),
        C(2.4, 4.0e5, "linear-trimer"),
        C(0.8, 5.0e5, "hydrolysed-aminopropyl-glycinate"),
        C(3.0, 3.0e5, formula="C12H18N2O3"),
    ]
    centroid = RunSettings(
        resolution="high",
        mode="centroid",
        n_scans=scans,
        rt_end_min=10.0,
        noise_peaks_per_scan=150,
        background_ions=60,
        mz_range=(50.0, 1000.0),
    )
    profile = replace(centroid, mode="profile", n_scans=max(scans // 2, 100), noise_peaks_per_scan=80)
    paths = {}
    for name, settings in (("centroid", centroid), ("profile", profile)):
        path = folder / f"bench-{name}.mzML"
        scans_data, _truth = simulate(route, components, settings)
        write_mzml(path, scans_data, settings)
        paths[name] = path
    return paths


def targets_for(path: Path) -> tuple[list[dict], float]:
    from specqc.chem.ions import target_ions
    from specqc.chem.route import load_route
    from specqc.readers import read

    run = read(path)
    rts = [s.rt_min * 60 for s in run.spectra]
    centre, width = (rts[0] + rts[-1]) / 2, (rts[-1] - rts[0]) + 60
    proton = 1.007276466
    targets = []
    for species in load_route(ROUTE).species:
        for ion in target_ions(species, "positive"):
            z = abs(ion.charge)
            targets.append(
                {"name": f"{species.id} {ion.ion}", "charge": z, "mass": ion.mz * z - z * proton, "rt": centre}
            )
    return targets, width


def measure(task: str, path: Path, repeat: int, extra: list[str]) -> dict:
    return best_of(WORKER, [task, str(path), *extra], repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="specqc-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    runs = make_runs(folder, args.scans)
    print(f"{'run':10s} {'task':12s} {'seconds':>9s} {'x floor':>8s} {'peak MB':>9s} {'x floor':>8s}")
    for name, path in runs.items():
        targets, width = targets_for(path)
        floor = measure("floor", path, args.repeat, [])
        ours = measure("specqc", path, args.repeat, [])
        metabo = measure("metaboident", path, args.repeat, [json.dumps(targets), str(width)])
        for task, result in (("floor", floor), ("specqc", ours), ("metaboident", metabo)):
            print(
                f"{name:10s} {task:12s} {result['seconds']:9.3f} {result['seconds'] / floor['seconds']:8.2f} "
                f"{result['peak_rss_mb']:9.1f} {result['peak_rss_mb'] / floor['peak_rss_mb']:8.2f}"
            )
        print(
            f"{name:10s} specqc/MetaboIdent time ratio: {ours['seconds'] / metabo['seconds']:.2f} "
            f"({len(targets)} target ions, file {path.stat().st_size / 1e6:.1f} MB)"
        )


if __name__ == "__main__":
    main()
