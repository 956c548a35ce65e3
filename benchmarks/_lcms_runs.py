"""Simulated LC-MS runs for the benchmarks: a diazepan-2-one cyclization sample
(product, precursor, oligomers, hydrolysis product, an unknown) on a
high-resolution instrument, with noise peaks and a chemical background.

    python benchmarks/_lcms_runs.py OUT.mzML centroid|profile SCANS

Runs as its own process: the simulator holds the whole run in memory, which
must not count towards the processes a benchmark measures afterwards.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROUTE, STAGE = "diazepan-2-one", "cyclization"


def components():
    from specqc.simulate.lcms import Component as C

    return [
        C(1.1, 5.0e6, "diazepan-2-one"),
        C(1.6, 8.0e5, "aminopropyl-glycinate"),
        C(2.0, 1.0e6, "linear-dimer"),
        C(1.8, 7.0e5, "cyclic-dimer"),
        C(2.4, 4.0e5, "linear-trimer"),
        C(0.8, 5.0e5, "hydrolysed-aminopropyl-glycinate"),
        C(3.0, 3.0e5, formula="C12H18N2O3"),
    ]


def settings(mode: str, scans: int):
    from specqc.simulate.lcms import RunSettings

    centroid = RunSettings(
        resolution="high",
        mode="centroid",
        n_scans=scans,
        rt_end_min=10.0,
        noise_peaks_per_scan=150,
        background_ions=60,
        mz_range=(50.0, 1000.0),
    )
    if mode == "centroid":
        return centroid
    if mode == "profile":
        return replace(centroid, mode="profile", noise_peaks_per_scan=80)
    raise ValueError(f"mode {mode!r}: centroid or profile")


def write(path: Path, mode: str, scans: int) -> None:
    from specqc.chem.route import load_route
    from specqc.simulate.lcms import simulate, write_mzml

    run_settings = settings(mode, scans)
    data, _truth = simulate(load_route(ROUTE), components(), run_settings)
    write_mzml(path, data, run_settings)


if __name__ == "__main__":
    out, mode, scans = sys.argv[1:4]
    write(Path(out), mode, int(scans))
