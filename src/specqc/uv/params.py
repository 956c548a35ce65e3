"""Effective parameters of the UV (and other optical detector) analysis."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class UVParams:
    wavelengths_nm: tuple[float, ...] = (210.0, 254.0)
    bandwidth_nm: float = 4.0  # a DAD trace is the mean over wavelength ± bandwidth/2
    channel_match_nm: float = 2.0  # a single-wavelength channel serves a configured wavelength this close
    max_plot: bool = True  # for DAD data: the largest absorbance at each time over max_plot_range_nm
    max_plot_range_nm: tuple[float, float] = (205.0, 400.0)  # below ~205 nm the mobile phase absorbs
    min_peak_sn: float = 10.0  # the limit of quantification: area % is a quantitative figure
    min_peak_points: int = 3
    report_threshold_pct: float = 0.05  # ICH Q3A reporting threshold: smaller peaks leave the area % table
    baseline_lambda: float = 100.0  # arPLS smoothness for a trace sampled 100 times a minute (scaled to the rate)
    integrate_from_min: float = 0.0  # peaks ending before this (the injection/void disturbance) are left out
    # with integrate_from_min at 0: peaks with their apex in this first fraction of the trace are the void
    # (injection disturbance, solvent front) and are left out of the area %; 0 turns this off
    void_max_fraction: float = 0.08
    detector_offset_min: float | None = None  # MS time - UV time; None: estimated by cross-correlation
    max_detector_offset_min: float = 0.5
    min_offset_correlation: float = 0.5
    assign_window_min: float = 0.04  # a UV apex this close to an MS species' apex (after the offset) is that species
    purity_threshold: float = 990.0  # match factor (1000 x r^2) below which a spectrum differs from the apex's
    purity_min_fraction: float = 0.1  # spectra compared where the trace is above this fraction of the apex
    purity_min_sn: float = 50.0  # and this far above the noise
    purity_range_nm: tuple[float, float] = (205.0, 400.0)
    purity_quantifiable_sn: float = 10.0  # a product peak below this S/N gives no purity figure at that wavelength

    def validated(self) -> "UVParams":
        if not self.wavelengths_nm:
            raise ConfigError("uv wavelengths: give at least one wavelength")
        for value in self.wavelengths_nm:
            if not 180.0 <= float(value) <= 900.0:
                raise ConfigError(f"uv wavelength {value} nm is outside 180-900 nm")
        if self.report_threshold_pct < 0:
            raise ConfigError("uv report_threshold_pct cannot be negative")
        for name in (
            "bandwidth_nm",
            "channel_match_nm",
            "min_peak_sn",
            "baseline_lambda",
            "max_detector_offset_min",
            "assign_window_min",
            "purity_min_sn",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"uv parameter {name} must be positive")
        if not 0 < self.purity_threshold <= 1000:
            raise ConfigError("uv purity_threshold is a match factor between 0 and 1000")
        if not 0 <= self.void_max_fraction < 0.5:
            raise ConfigError("uv void_max_fraction must lie between 0 and 0.5")
        if not 0 < self.purity_min_fraction < 1:
            raise ConfigError("uv purity_min_fraction must lie between 0 and 1")
        if self.detector_offset_min is not None and abs(self.detector_offset_min) > 5:
            raise ConfigError(f"uv detector_offset_min {self.detector_offset_min} min is implausible (|offset| > 5)")
        for name in ("max_plot_range_nm", "purity_range_nm"):
            low, high = getattr(self, name)
            if not low < high:
                raise ConfigError(f"uv {name} must be [low, high] with low < high")
        return replace(self, wavelengths_nm=tuple(float(w) for w in self.wavelengths_nm))

    def with_overrides(self, **overrides) -> "UVParams":
        clean: dict[str, Any] = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if v is not None
        }
        return replace(self, **clean).validated()

    def as_dict(self) -> dict:
        return asdict(self)
