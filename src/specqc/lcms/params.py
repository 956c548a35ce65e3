"""Effective parameters of an LC-MS analysis (recorded in every report)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from ..errors import ConfigError


@dataclass(frozen=True)
class Tolerance:
    value: float
    unit: str  # "ppm" | "Da"

    def da(self, mz: float) -> float:
        return self.value * mz * 1e-6 if self.unit == "ppm" else self.value

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"

    @classmethod
    def parse(cls, text: str) -> "Tolerance":
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ppm|da|Da|DA|mda|mDa)\s*", text or "")
        if not match:
            raise ConfigError(f"tolerance {text!r}: write e.g. '10 ppm' or '0.5 Da'")
        value, unit = float(match.group(1)), match.group(2).lower()
        if unit == "mda":
            value, unit = value / 1000.0, "da"
        if value <= 0:
            raise ConfigError(f"tolerance {text!r} must be positive")
        return cls(value, "ppm" if unit == "ppm" else "Da")


@dataclass(frozen=True)
class LCMSParams:
    polarity: str = "auto"  # auto | positive | negative
    tolerance: str = "auto"  # auto, or e.g. "10 ppm" / "0.5 Da"
    high_res_tolerance_ppm: float = 10.0  # the window before the run's own scatter is measured
    assumed_calibration_ppm: float = 5.0  # calibration error a data-derived window allows for when none is measured
    min_tolerance_ppm: float = 3.0
    max_tolerance_ppm: float = 25.0
    unit_res_tolerance_da: float = 0.5
    min_peak_sn: float = 3.0  # a chromatographic peak is kept from here
    min_detection_sn: float = 5.0  # a species is reported detected from here
    # At nominal mass every channel holds chemical noise; two weak noise peaks of a species'
    # ion channels coincide by chance somewhere in a long run, so a unit-resolution claim
    # needs its main ion at the limit of quantitation (S/N 10) to be more than tentative.
    unit_res_detection_sn: float = 10.0
    min_peak_points: int = 3
    coelution_window_min: float = 0.05  # apex-to-apex, widened to 2.5 scans if coarser
    isotope_peaks: int = 3
    isotope_min_sn: float = 20.0  # isotope agreement is only scored on clean ions
    baseline_window_min: float = 1.0
    unexplained_max_listed: int = 20
    # An unidentified peak counts against purity with an area, so it must be quantifiable:
    # the usual limit of quantitation, S/N 10 (a run's noise peaks reach S/N 5 by chance).
    unexplained_min_sn: float = 10.0
    unexplained_candidate_traces: int = 200
    distinguishing_area_fraction: float = 0.05
    unit_res_min_base_peak_fraction: float = 0.5  # a unit-resolution [M+H]+ must be this share of its scan's base peak

    def validated(self) -> "LCMSParams":
        if self.polarity not in ("auto", "positive", "negative"):
            raise ConfigError(f"polarity {self.polarity!r}: use auto, positive or negative")
        if self.tolerance != "auto":
            Tolerance.parse(self.tolerance)
        for name in (
            "min_peak_sn",
            "min_detection_sn",
            "unit_res_detection_sn",
            "unexplained_min_sn",
            "coelution_window_min",
            "baseline_window_min",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"parameter {name} must be positive")
        return self

    def with_overrides(self, **overrides) -> "LCMSParams":
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **clean).validated()

    def as_dict(self) -> dict:
        return asdict(self)
