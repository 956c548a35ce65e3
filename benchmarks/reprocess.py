"""Archive reprocessing throughput: serial in one process against Dask.

    python benchmarks/reprocess.py [--runs 2000] [--scans 120]

Writes N small simulated LC-MS runs (cyclization stage of diazepan-2-one;
8 simulated templates, each copy made distinct by a comment so no run is
skipped as already analysed), then re-analyses all of them into a fresh SQLite
store three ways: one after another in this process, and through
`specqc.reprocess.run` on a LocalCluster of 1 and of 2 worker processes.
Every mode is warmed up first (imports, reference data), and the cluster's
start is timed apart from the work. Printed: runs/s per mode and the ratios
(targets: 2 workers >= 1.7x serial; 1 worker within 10 % of serial).
The machine's other load shows in the ratios: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROUTE = "diazepan-2-one"
TEMPLATES = 8


def make_archive(folder: Path, runs: int, scans: int) -> list[Path]:
    from specqc.chem.route import load_route
    from specqc.simulate.lcms import Component as C
    from specqc.simulate.lcms import RunSettings, simulate, write_mzml

    route = load_route(ROUTE)
    texts = []
    for seed in range(TEMPLATES):
        components = [
            C(1.1, 5.0e6, "diazepan-2-one"),
            C(1.6, 1.0e5 * (1 + seed), "aminopropyl-glycinate"),
            C(2.0, 5.0e4 * (1 + seed % 3), "linear-dimer"),
            C(1.8, 2.0e4 * seed, "cyclic-dimer"),
        ]
        settings = RunSettings(
            n_scans=scans, rt_end_min=3.0, noise_peaks_per_scan=30, background_ions=10, seed=seed + 1
        )
        template = folder / f"template-{seed}.mzML"
        scan_data, _ = simulate(route, components, settings)
        write_mzml(template, scan_data, settings)
        texts.append(template.read_text(encoding="utf-8"))
        template.unlink()
    archive = folder / "archive"
    archive.mkdir()
    paths = []
    for index in range(runs):
        path = archive / f"run{index:05d}-cyclization.mzML"
        path.write_text(texts[index % TEMPLATES].replace("?>", f"?><!-- run {index} -->", 1), encoding="utf-8")
        paths.append(path)
    return paths


def _warm_up(path: str) -> int:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    build_report(analyze([Path(path)], ROUTE))
    return os.getpid()


def serial(jobs: list[dict], warm: Path) -> dict:
    from specqc.reprocess import run

    _warm_up(str(warm))
    start, cpu = time.perf_counter(), time.process_time()
    summary = run(jobs)
    return _result(summary, time.perf_counter() - start, 0.0, time.process_time() - cpu)


def distributed(jobs: list[dict], warm: Path, workers: int) -> dict:
    from specqc.reprocess import open_client, run

    start = time.perf_counter()
    # the cluster `specqc reprocess --workers N` starts
    with open_client(workers=workers) as client, client.cluster:
        client.run(_warm_up, str(warm))
        ready = time.perf_counter() - start
        cpu_before = sum(client.run(time.process_time).values())
        start = time.perf_counter()
        summary = run(jobs, client)
        seconds = time.perf_counter() - start
        cpu = sum(client.run(time.process_time).values()) - cpu_before
        return _result(summary, seconds, ready, cpu)


def _result(summary, seconds: float, startup: float, cpu_s: float) -> dict:
    states = [o.state for o in summary.outcomes]
    return {
        "runs": len(states),
        "analysed": states.count("analysed"),
        "failed": states.count("failed"),
        "seconds": seconds,
        "per_second": len(states) / seconds,
        "startup_s": startup,
        "cpu_ms_per_run": 1000 * cpu_s / len(states),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--scans", type=int, default=120)
    args = parser.parse_args()
    from specqc.reprocess import jobs_for

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        start = time.perf_counter()
        paths = make_archive(folder, args.runs + 1, args.scans)
        warm, paths = paths[-1], paths[:-1]
        config = folder / "qc.toml"
        config.write_text(f'[sample]\nroute = "{ROUTE}"\n', encoding="utf-8")
        print(
            f"{len(paths)} simulated runs ({args.scans} scans, "
            f"{paths[0].stat().st_size / 1e3:.0f} kB each) written in {time.perf_counter() - start:.0f} s; "
            f"{os.cpu_count()} cores"
        )
        results = {}
        for mode, workers in (("serial", 0), ("LocalCluster 1 worker", 1), ("LocalCluster 2 workers", 2)):
            jobs = jobs_for(paths, str(folder / f"store-{workers}.sqlite"), config)
            results[mode] = serial(jobs, warm) if workers == 0 else distributed(jobs, warm, workers)
            result = results[mode]
            print(
                f"{mode:24s} {result['per_second']:6.2f} runs/s  ({result['seconds']:.1f} s; analysed "
                f"{result['analysed']}, failed {result['failed']}; worker CPU {result['cpu_ms_per_run']:.0f} ms/run; "
                f"cluster start {result['startup_s']:.1f} s)"
            )
        base = results["serial"]["per_second"]
        print(
            f"LocalCluster 1 worker / serial:  {results['LocalCluster 1 worker']['per_second'] / base:.2f}x "
            "(target >= 0.90)"
        )
        print(
            f"LocalCluster 2 workers / serial: {results['LocalCluster 2 workers']['per_second'] / base:.2f}x "
            "(target >= 1.70)"
        )
        # CPU per run does not depend on what else the machine runs: the cost of the distributed path itself
        cpu = results["serial"]["cpu_ms_per_run"]
        for mode in ("LocalCluster 1 worker", "LocalCluster 2 workers"):
            print(f"{mode} CPU per run / serial: {results[mode]['cpu_ms_per_run'] / cpu:.2f}")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} (other processes on the same cores)")


if __name__ == "__main__":
    main()
