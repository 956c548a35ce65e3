"""NMR benchmark: specqc's automatic processing against nmrglue doing the bare minimum.

    python benchmarks/nmr.py [DATASET] [--repeat 3]

DATASET defaults to the 400 MHz strychnine Bruker experiment of
../shared/realdata (40k complex points, zero-filled to 128k). Each task runs
in a fresh process; wall time excludes interpreter start and imports.

* floor:  nmrglue bruker.read + remove_digital_filter + zero-fill + FFT
* specqc: read + apodize, zero-fill, FFT, automatic phase (both quadrature
          orientations), baseline, referencing
Goal: within 3x the floor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _harness import best_of

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "nmr-bruker" / "strychnine-1h" / "10"

WORKER = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
task, path = sys.argv[1], sys.argv[2]
import nmrglue as ng, numpy as np, scipy.optimize, scipy.signal, scipy.ndimage
if task == "specqc":
    from specqc.readers import read
    from specqc.nmr.process import process
    from specqc.nmr.solvents import shift_table
    shift_table()
start = time.perf_counter()
if task == "floor":
    dic, data = ng.bruker.read(path)
    data = ng.bruker.remove_digital_filter(dic, data)
    size = 1 << int(np.ceil(np.log2(data.size * 2)))
    spectrum = ng.proc_base.fft(ng.proc_base.zf_size(data, size))
else:
    process(read(path))
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(task: str, path: Path, repeat: int) -> dict:
    return best_of(WORKER, [task, str(path)], repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.dataset.exists():
        sys.exit(f"benchmark dataset {args.dataset} not found (pass a Bruker experiment folder)")
    floor = measure("floor", args.dataset, args.repeat)
    ours = measure("specqc", args.dataset, args.repeat)
    print(f"{'task':8s} {'seconds':>9s} {'x floor':>8s} {'peak MB':>9s} {'x floor':>8s}")
    for task, result in (("floor", floor), ("specqc", ours)):
        print(f"{task:8s} {result['seconds']:9.3f} {result['seconds'] / floor['seconds']:8.2f} "
              f"{result['peak_rss_mb']:9.1f} {result['peak_rss_mb'] / floor['peak_rss_mb']:8.2f}")


if __name__ == "__main__":
    main()
