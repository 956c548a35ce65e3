"""Vendor LC folders and UV: specqc against rainbow-api reading the folder and nothing more.

    python benchmarks/vendor.py [FOLDER ...] [--repeat 3]

FOLDERS default to the Agilent .D and Waters .raw folders of ../shared/realdata
(those present). Each task runs in a fresh process; wall time excludes
interpreter start and imports.

* floor:   rainbow.read of the folder (what any reader must do)
* read:    specqc's reader: spectra, chromatograms, diode arrays, instrument metadata
* uv:      read + UV analysis (traces, arPLS baselines, peaks, offset, DAD peak purity)
* analyze: the whole `specqc analyze` pipeline for the final stage (MS species too)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _harness import best_of

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "lcms-vendor"

WORKER = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
task, path = sys.argv[1], sys.argv[2]
import rainbow, numpy as np, scipy.signal, scipy.ndimage
options = {"hrms": True} if path.endswith("cyan.D") or path.endswith("magenta.D") else {}
if task != "floor":
    import pybaselines
    from specqc.readers import read
    from specqc.uv.analysis import analyze_uv
    from specqc.uv.params import UVParams
    from specqc.pipeline import analyze
    from specqc.chem.route import load_route
    load_route("diazepan-2-one")
start = time.perf_counter()
if task == "floor":
    rainbow.read(path, **options)
elif task == "read":
    read(path)
elif task == "uv":
    analyze_uv(read(path), {}, None, UVParams())
else:
    analyze([path], "diazepan-2-one", "salt")
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mb": peak_rss_mb()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folders = args.folders or sorted(p for p in REAL.glob("*/*") if p.suffix.lower() in (".d", ".raw"))
    if not folders:
        sys.exit("no vendor folders given and ../shared/realdata/lcms-vendor is not present")
    print(f"{'folder':14s} {'task':8s} {'seconds':>9s} {'x floor':>8s} {'peak MB':>9s} {'x floor':>8s}")
    for folder in folders:
        results = {
            task: best_of(WORKER, [task, str(folder)], args.repeat) for task in ("floor", "read", "uv", "analyze")
        }
        floor = results["floor"]
        for task, result in results.items():
            print(
                f"{folder.name:14s} {task:8s} {result['seconds']:9.3f} {result['seconds'] / floor['seconds']:8.2f} "
                f"{result['peak_rss_mb']:9.1f} {result['peak_rss_mb'] / floor['peak_rss_mb']:8.2f}"
            )


if __name__ == "__main__":
    main()
