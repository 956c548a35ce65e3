"""1H NMR: a cold `specqc analyze` against the script a chemist would write with nmrglue.

    python benchmarks/nmr_peer.py [--repeat 3] [EXPERIMENT ...]

The peer, run as a whole process: nmrglue reads the Bruker experiment, removes
the digital filter, apodises (exponential, 0.3 Hz), zero-fills to twice the
next power of two, Fourier-transforms, phases automatically (`autops`, ACME),
corrects the baseline (`baseline_corrector`) and picks peaks
(`peakpick.pick`). `specqc analyze` does far more on the same input (phasing,
baseline, referencing, line-shape fit of every route species, solvents and
water, the report). Both are timed from the shell, imports included; peak
resident memory from the kernel's accounting of each finished child.

Datasets: a simulated 64k-point 400 MHz salt spectrum (as benchmarks/nmr.py),
and the real strychnine and aspirin experiments of ../shared/realdata when
that folder is there. Targets (issue: speed where users feel it): specqc's
wall time <= 0.6x the peer's and peak memory <= 150 MB, at equal or better
phase and baseline quality, measured on each pipeline's own processed
spectrum, in units of its own noise (lower is better for both):

* phase: the negative area beyond 5 noise sigma as a share of all area beyond
  5 sigma (a well-phased absorption spectrum has almost none);
* baseline: the median absolute intensity of the points further than 0.05 ppm
  from any line above 10 sigma, in noise sigma (0 for a flat baseline).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from _process import best_of, python_command, run_folder, specqc_command

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "nmr-bruker"
REAL = ("strychnine-1h/10", "aspirin-1h-raw/1")

PEER = r"""
import sys, warnings
import nmrglue as ng, numpy as np
warnings.simplefilter("ignore")
dic, data = ng.bruker.read(sys.argv[1])
data = ng.bruker.remove_digital_filter(dic, data)
data = ng.proc_base.em(data, lb=0.3 / dic["acqus"]["SW_h"])
size = 1 << int(np.ceil(np.log2(data.size)) + 1)
data = ng.proc_base.zf_size(data, size)
data = ng.proc_base.fft(data)
data = ng.proc_autophase.autops(data, "acme", disp=False)
data = ng.proc_bl.baseline_corrector(data.real)
noise = np.median(np.abs(np.diff(data))) / 0.954
peaks = ng.peakpick.pick(data, pthres=10 * noise, table=False)
"""


def _peer_spectrum_code() -> str:
    return PEER.replace("peaks = ng.peakpick.pick(data, pthres=10 * noise, table=False)", "")


QUALITY_WORKER = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
path = sys.argv[1]


def quality(intensity, ppm_per_point):
    # noise from point-to-point differences (robust to lines), then the two measures
    sigma = float(np.median(np.abs(np.diff(intensity))) / 0.954)
    strong = np.abs(intensity) > 5 * sigma
    negative = float(-intensity[strong & (intensity < 0)].sum())
    phase = negative / max(float(np.abs(intensity[strong]).sum()), 1e-300)
    lines = np.flatnonzero(intensity > 10 * sigma)
    near = np.zeros(intensity.size, dtype=bool)
    reach = max(int(0.05 / ppm_per_point), 1)
    for start in lines[::max(reach // 4, 1)]:
        near[max(start - reach, 0): start + reach + 1] = True
    free = intensity[~near]
    baseline = float(np.median(np.abs(free)) / sigma) if free.size else float("nan")
    return {"phase_negative_share": phase, "baseline_sigma": baseline}


if sys.argv[2] == "peer":
    sys.argv = [sys.argv[0], path]
    exec(PEER_SPECTRUM)
    sw_ppm = dic["acqus"]["SW"]
    print(json.dumps(quality(np.asarray(data, dtype=float), sw_ppm / data.size)))
else:
    from specqc.nmr.process import process
    from specqc.readers import read

    processed = process(read(path))
    step = abs(float(processed.ppm[1] - processed.ppm[0]))
    print(json.dumps(quality(np.asarray(processed.intensity, dtype=float), step)))
"""


def simulated(folder: Path) -> Path:
    """The simulated spectrum of benchmarks/nmr.py, written by a separate process
    (this one stays small, so the children's peak memory is theirs)."""
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from nmr import simulated_dataset; print(simulated_dataset(Path(sys.argv[2])))"
    )
    out = subprocess.run(
        python_command(code, str(Path(__file__).parent), str(folder)), capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def quality(path: Path, which: str) -> dict:
    worker = QUALITY_WORKER.replace("exec(PEER_SPECTRUM)", f"exec({_peer_spectrum_code()!r})")
    out = subprocess.run(python_command(worker, str(path), which), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", type=Path, help="Bruker experiment folders (fid and acqus)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each process; the fastest counts")
    args = parser.parse_args()
    folder = run_folder(None, "specqc-nmr-peer-")
    datasets = [("simulated 64k salt", simulated(folder))]
    datasets += [(p.name, p) for p in args.experiments]
    if not args.experiments:
        datasets += [(name, REALDATA / name) for name in REAL if (REALDATA / name / "fid").is_file()]
    print(
        f"{'dataset':22s} {'peer s':>7s} {'specqc s':>9s} {'ratio':>6s} {'peer MB':>8s} {'specqc MB':>10s} "
        f"{'phase peer/specqc':>18s} {'baseline peer/specqc':>21s}"
    )
    for name, path in datasets:
        peer = best_of(python_command(PEER, str(path)), args.repeat)
        report = folder / f"{name.replace('/', '-').replace(' ', '-')}.json"
        ours = best_of(
            [
                *specqc_command(),
                "analyze",
                str(path),
                "--route",
                "diazepan-2-one",
                "--stage",
                "salt",
                "--format",
                "json",
                "--output",
                str(report),
                "--force",
            ],
            args.repeat,
        )
        peer_quality, our_quality = quality(path, "peer"), quality(path, "specqc")
        print(
            f"{name:22s} {peer['wall']:7.2f} {ours['wall']:9.2f} {ours['wall'] / peer['wall']:6.2f} "
            f"{peer['peak_rss_mb']:8.0f} {ours['peak_rss_mb']:10.0f} "
            f"{peer_quality['phase_negative_share']:8.4f}/{our_quality['phase_negative_share']:<9.4f} "
            f"{peer_quality['baseline_sigma']:10.2f}/{our_quality['baseline_sigma']:<10.2f}"
        )
    print(
        "ratio: specqc wall time / the peer's (target <= 0.6); specqc peak memory target <= 150 MB; "
        "phase and baseline: lower is better"
    )


if __name__ == "__main__":
    main()
