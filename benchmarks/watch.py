"""Watch-service benchmark: latency and burst throughput.

    python benchmarks/watch.py [--burst 200] [--settle 2] [--workers 2]

1. Latency: the service runs (file events); an mzML is written into the inbox.
   Measured: time from the file's last write to its report being on disk,
   minus the settle time (goal: under 2 s).
2. Burst: N centroid runs copied into the inbox at once (a copied archive),
   processed by `specqc watch --once` with the given workers. Printed: wall time,
   runs per second, and the ratio against pyopenms merely loading the same N
   files one after another (the floor any analysis pays), plus peak memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SET = [
    "dz-alkylation-clean",
    "dz-alkylation-incomplete",
    "dz-deprotection-clean",
    "dz-deprotection-boc-left",
    "dz-cyclization-clean",
    "dz-cyclization-oligomers",
    "dz-cyclization-piperazine",
    "dz-salt-clean",
]


def _config(folder: Path, settle: float, workers: int) -> Path:
    config = folder / "watch.toml"
    config.write_text(
        f'[sample]\nroute = "diazepan-2-one"\n[watch]\nsettle_s = {settle}\nworkers = {workers}\nrescan_s = 5.0\n',
        encoding="utf-8",
    )
    return config


def latency(settle: float, workers: int, repeats: int = 3) -> list[float]:
    from specqc.watch.service import Watcher, WatchOptions

    results = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        inbox, out = folder / "in", folder / "out"
        inbox.mkdir()
        options = WatchOptions(
            [inbox],
            out,
            store_path=folder / "s.sqlite",
            config_path=_config(folder, settle, workers),
            settle_s=settle,
            rescan_s=5.0,
            workers=workers,
        )
        watcher = Watcher(options)
        stop = threading.Event()
        service = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
        service.start()
        time.sleep(1.0)  # the pool and the observer are up
        try:
            for index in range(repeats):
                name = f"dz-cyclization-lat{index}.mzML"
                shutil.copy(ROOT / "samples" / "lcms" / "dz-cyclization-oligomers.mzML", inbox / name)
                written = (inbox / name).stat().st_mtime
                deadline = time.time() + 60
                while time.time() < deadline:
                    folder = out / "no-batch"
                    reports = list(folder.glob(f"{Path(name).stem}.*.html")) if folder.exists() else []
                    if reports:
                        results.append(reports[0].stat().st_mtime - written - settle)
                        break
                    time.sleep(0.02)
        finally:
            stop.set()
            watcher.wake.set()
            service.join(30)
            watcher.close()
    return results


def burst(count: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        inbox, out = folder / "in", folder / "out"
        inbox.mkdir()
        for index in range(count):
            name = SAMPLE_SET[index % len(SAMPLE_SET)]
            shutil.copy(ROOT / "samples" / "lcms" / f"{name}.mzML", inbox / f"{name}-{index:04d}.mzML")
        old = time.time() - 3600
        for item in inbox.iterdir():
            import os

            os.utime(item, (old, old))
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "specqc.cli",
                "watch",
                str(inbox),
                "--out",
                str(out),
                "--store",
                str(folder / "s.sqlite"),
                "--config",
                str(_config(folder, 0.5, workers)),
                "--once",
                "--workers",
                str(workers),
            ],
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
        reports = len([p for p in out.rglob("*.html") if p.name != "index.html"])
        floor_start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, pyopenms as oms\n"
                "for p in sys.argv[1:]:\n    e = oms.MSExperiment(); oms.MzMLFile().load(p, e)",
                *map(str, sorted(inbox.iterdir())),
            ],
            check=True,
        )
        floor = time.perf_counter() - floor_start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "runs": count,
        "reports": reports,
        "seconds": seconds,
        "per_second": count / seconds,
        "floor_seconds": floor,
        "peak_child_rss_mb": children,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    delays = latency(args.settle, args.workers)
    print(
        f"latency after the {args.settle:g} s settle time: "
        + ", ".join(f"{d:.2f} s" for d in delays)
        + f"  (goal < 2 s; worst {max(delays):.2f} s)"
    )
    result = burst(args.burst, args.workers)
    print(
        f"burst of {result['runs']} centroid runs, {args.workers} workers: {result['seconds']:.1f} s "
        f"({result['per_second']:.2f} runs/s, {result['reports']} reports); pyopenms loading them serially: "
        f"{result['floor_seconds']:.1f} s -> ratio {result['seconds'] / result['floor_seconds']:.1f}x; "
        f"peak worker RSS {result['peak_child_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
