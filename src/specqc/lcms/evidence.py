"""How sure a species is: the evidence for it, scaled to the data's resolution.

A matching m/z alone proves little. At high resolution a species is
``detected`` when its mass is within the run's data-derived tolerance, its
isotope pattern agrees with the formula wherever the intensity allows it to
be measured, and its signal is a chromatographic peak (an apex over several
consecutive scans, as wide as the run's peaks). At unit resolution a nominal
m/z is shared by many compounds, so two independent supports are needed
among: an isotope envelope (M+1/M+2) consistent with the formula, a second
ion of the same species co-eluting with the first (another adduct, [2M+H]+,
a known in-source fragment) and a peak shape consistent with the run's peaks.
With less the species is ``tentative``, with the reason. A species a blank
shows at a comparable time and intensity is ``in-blank``.

Each species also gets a confidence 0..1 with its parts, from a logistic
model fitted to independent validation data (``data/lcms_confidence.json``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from ..errors import ReferenceDataError
from .background import RunProfile
from .params import LCMSParams, Tolerance
from .peaks import ChromPeak, background_baseline, noise_level
from .signals import PeakMatrix

# Relative error the isotope ratio measurement carries on top of counting noise
# (detector non-linearity, spectral skew across a peak).
ISOTOPE_SYSTEMATIC = {"high": 0.10, "unit": 0.15}
# Isotope peaks are measured apart only when the peak width is at most this share of
# their spacing (1/z); wider, the centroider merges M+1 into the flank of M.
ISOTOPE_RESOLVED_FWHM = 0.25
ISOTOPE_MAX_Z = 2.5  # beyond this the envelope contradicts the formula
ISOTOPE_MIN_EXPECTED_SN = 5.0  # an isotope peak expected below this cannot be measured
# The envelope supports a formula only when measured this precisely (relative to the
# expected ratio): a looser measurement fits any compound of similar size.
ISOTOPE_MAX_RELATIVE_SIGMA = 0.25
SECOND_ION_MIN_SN = 3.0
SECOND_ION_MIN_R = 0.8  # profile correlation with the anchor over its peak
# An adduct or fragment of a protonated amine far stronger than [M+H]+ itself is more likely
# another compound's ion at that m/z.
SECOND_ION_MAX_RATIO = 3.0
# An M+2 this strong (Br, Cl, S2...) is a pattern few other compounds share.
DISTINCTIVE_M2 = 0.3
BLANK_MIN_RATIO = 3.0  # a sample signal must exceed the blank's by this to be the sample's own
BLANK_RT_SLACK_MIN = 0.25


@dataclass(frozen=True)
class IsotopeCheck:
    assessable: bool
    consistent: bool | None
    score: float | None  # exp(-z^2/2) over the measured isotope peaks
    observed: tuple[float | None, ...]  # M+1/M, M+2/M as measured (None where unmeasurable)
    expected: tuple[float, ...]
    detail: str

    @property
    def distinctive(self) -> bool:
        """A consistent envelope with a strong M+2 (bromine, chlorine) measured."""
        return bool(
            self.consistent
            and len(self.expected) > 1
            and self.expected[1] >= DISTINCTIVE_M2
            and len(self.observed) > 1
            and self.observed[1] is not None
        )


@dataclass(frozen=True)
class BlankComparison:
    sample_height: float
    blank_height: float

    @property
    def ratio(self) -> float | None:
        return None if self.blank_height <= 0 else self.sample_height / self.blank_height

    @property
    def in_blank(self) -> bool:
        ratio = self.ratio
        return ratio is not None and ratio < BLANK_MIN_RATIO

    def as_dict(self) -> dict:
        ratio = self.ratio
        return {
            "sample_height": round(self.sample_height, 1),
            "blank_height": round(self.blank_height, 1),
            "ratio": None if ratio is None else round(ratio, 2),
        }


@dataclass
class SpeciesEvidence:
    """Everything one species' identification rests on in one run."""

    resolution: str  # high | unit
    chromatographic: bool  # enough scans for chromatography
    separated: bool  # not flow injection
    anchor_ion: str
    anchor_mz: float
    mass_error: float | None  # ppm at high resolution, Da at unit resolution (calibration offset removed)
    mass_tolerance: Tolerance
    sn: float
    isotope: IsotopeCheck
    fwhm_ratio: float | None
    apex_scans: int
    shape_consistent: bool | None
    second_ions: list[str] = field(default_factory=list)
    blank: BlankComparison | None = None
    ambiguous_with: list[str] = field(default_factory=list)
    primary_seen: bool = True  # the species' [M+H]+ / [M-H]- is among its ions
    primary_acquired: bool = True  # ... and lies inside the m/z range acquired
    # high resolution: the mass error once the run is recalibrated on its strongest species, and its limit
    recalibrated_error: float | None = None
    recalibrated_limit: float | None = None
    recalibration_source: str = ""

    @property
    def peak_is_peak(self) -> bool:
        return self.apex_scans >= 3 and self.shape_consistent is not False

    def parts(self) -> dict:
        return {
            "mass_error": None if self.mass_error is None else round(self.mass_error, 4),
            "mass_error_unit": self.mass_tolerance.unit,
            "tolerance": str(self.mass_tolerance),
            "sn": round(self.sn, 1),
            "isotope_score": None if self.isotope.score is None else round(self.isotope.score, 3),
            "isotope": self.isotope.detail,
            "peak_shape": (
                "consistent"
                if self.peak_is_peak and self.shape_consistent
                else "unknown run peak width"
                if self.peak_is_peak
                else f"not a peak ({self.apex_scans} apex scan{'s' if self.apex_scans != 1 else ''}"
                + (f", {self.fwhm_ratio:.1f}x the run's peak width" if self.fwhm_ratio else "")
                + ")"
            ),
            "fwhm_ratio": None if self.fwhm_ratio is None else round(self.fwhm_ratio, 2),
            "second_ions": list(self.second_ions),
            "blank": None if self.blank is None else self.blank.as_dict(),
            "recalibrated_mass_error": None if self.recalibrated_error is None else round(self.recalibrated_error, 2),
            "recalibrated_limit": None if self.recalibrated_limit is None else round(self.recalibrated_limit, 2),
        }


def isotope_check(
    peak: ChromPeak,
    isotopes: tuple[float, ...],
    isotope_traces: list[np.ndarray],
    matrix: PeakMatrix,
    window: int,
    resolution: str,
    anchor_trace: np.ndarray,
) -> IsotopeCheck:
    """M+1/M and M+2/M over the anchor's peak against the formula's pattern,
    each with its counting uncertainty. A saturated apex flattens M, so then
    M+2/M+1 is compared instead."""
    expected = tuple(isotopes[1:])
    segment = slice(peak.start, peak.end + 1)
    mono_residual = anchor_trace - background_baseline(anchor_trace, window)
    mono = float(np.clip(mono_residual[segment], 0, None).sum())
    if mono <= 0 or not expected:
        return IsotopeCheck(False, None, None, (), expected, "no isotope peaks to compare")
    observed: list[float | None] = []
    sigmas: list[float | None] = []
    npoints = peak.end - peak.start + 1
    for k, trace in enumerate(isotope_traces, start=1):
        residual = trace - background_baseline(trace, window)
        noise = noise_level(residual, matrix.noise_floor)
        area = float(np.clip(residual[segment], 0, None).sum())
        sigma_area = noise * math.sqrt(npoints)
        expected_k = expected[k - 1]
        sigma = math.hypot(sigma_area / mono, ISOTOPE_SYSTEMATIC[resolution] * expected_k)
        if (
            expected_k < 0.005
            or expected_k * mono < ISOTOPE_MIN_EXPECTED_SN * sigma_area
            or sigma > ISOTOPE_MAX_RELATIVE_SIGMA * expected_k
        ):
            observed.append(None)
            sigmas.append(None)
            continue
        observed.append(area / mono)
        sigmas.append(sigma)
    if peak.flat_top:
        # a sigma is None exactly where its observed ratio is
        if len(observed) < 2 or observed[0] is None or observed[1] is None or sigmas[0] is None or sigmas[1] is None:
            return IsotopeCheck(
                False,
                None,
                None,
                tuple(observed),
                expected,
                "saturated apex: M is clipped and M+2 too weak to compare with M+1",
            )
        ratio, target = observed[1] / observed[0], expected[1] / expected[0]
        sigma = math.hypot(sigmas[1] / observed[0], ratio * sigmas[0] / observed[0])
        z = [(ratio - target) / max(sigma, 1e-12)]
        detail = f"saturated apex: M+2/M+1 {ratio:.3f} vs {target:.3f} expected"
    else:
        pairs = [(o, e, s) for o, e, s in zip(observed, expected, sigmas) if o is not None and s is not None]
        if not pairs:
            return IsotopeCheck(
                False,
                None,
                None,
                tuple(observed),
                expected,
                f"isotope envelope not measurable (M+1 expected at "
                f"{expected[0] * mono / max(noise_level(mono_residual, matrix.noise_floor), 1e-12) / math.sqrt(npoints):.1f}"
                " x noise)",
            )
        z = [(o - e) / max(s, 1e-12) for o, e, s in pairs]
        detail = ", ".join(
            f"M+{k} {100 * o:.1f} % vs {100 * e:.1f} % expected"
            for k, (o, e) in enumerate(zip(observed, expected), start=1)
            if o is not None
        )
    worst = max(abs(v) for v in z)
    score = math.exp(-0.5 * float(np.mean(np.square(z))))
    return IsotopeCheck(True, worst <= ISOTOPE_MAX_Z, score, tuple(observed), expected, detail)


def profile_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 4:
        return None
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return None if norm <= 0 else float(a @ b) / norm


def decide(evidence: SpeciesEvidence, params: LCMSParams) -> tuple[str, list[str]]:
    """Status and, for anything short of detected, the reasons."""
    if evidence.blank is not None and evidence.blank.in_blank:
        b = evidence.blank
        return "in-blank", [
            f"in the blank at {b.blank_height:.3g} against {b.sample_height:.3g} here "
            f"(less than {BLANK_MIN_RATIO:g}x the blank)"
        ]
    if evidence.ambiguous_with:
        return "tentative", [
            f"same ions at {evidence.mass_tolerance} as {', '.join(evidence.ambiguous_with)}; "
            "cannot be told apart in this run"
        ]
    if evidence.sn < params.min_detection_sn:
        return "not-detected", [f"signal below S/N {params.min_detection_sn:g}: not claimed"]
    if not evidence.chromatographic:
        return "tentative", ["run too short for chromatography: no peak can establish the species"]
    if not evidence.separated:
        return "tentative", [
            "no chromatographic separation (flow injection): every ion follows the injection "
            "profile, so co-elution and peak shape prove nothing"
        ]
    reasons = []
    if evidence.resolution == "high":
        if (
            evidence.recalibrated_error is not None
            and evidence.recalibrated_limit is not None
            and abs(evidence.recalibrated_error) > evidence.recalibrated_limit
        ):
            reasons.append(
                f"m/z {evidence.recalibrated_error:+.1f} ppm from the formula once the run is "
                f"recalibrated on {evidence.recalibration_source} (limit {evidence.recalibrated_limit:.1f} "
                "ppm): another compound of nearly the same mass"
            )
        if not evidence.primary_seen and evidence.primary_acquired and not evidence.second_ions:
            reasons.append(
                f"only {evidence.anchor_ion}, no [M+H]+ / [M-H]- although it lies in the m/z range: "
                "a lone adduct m/z is also another formula's protonated ion"
            )
        if not evidence.peak_is_peak:
            reasons.append("not a chromatographic peak: " + evidence.parts()["peak_shape"])
        if evidence.isotope.assessable and not evidence.isotope.consistent:
            reasons.append(f"isotope pattern inconsistent with the formula ({evidence.isotope.detail})")
        return ("detected", []) if not reasons else ("tentative", reasons)
    # Unit resolution. A nominal m/z is shared by many compounds, and an isotope
    # envelope measured at unit resolution fits any compound of similar size, so a
    # second ion of the species is required, with one more support (its envelope
    # or its peak shape); only a distinctive envelope (Br, Cl) stands in for it.
    isotope = evidence.isotope.assessable and evidence.isotope.consistent
    shape = evidence.peak_is_peak and bool(evidence.shape_consistent)
    contradicted = evidence.isotope.assessable and not evidence.isotope.consistent
    supported = (
        not contradicted and (evidence.second_ions and (isotope or shape)) or (evidence.isotope.distinctive and shape)
    )
    if supported and evidence.sn >= params.unit_res_detection_sn:
        return "detected", []
    supports = [
        name
        for name, present in (
            ("second ion", bool(evidence.second_ions)),
            ("isotope envelope", isotope),
            ("peak shape", shape),
        )
        if present
    ]
    nominal = f"m/z {evidence.anchor_mz:.0f}"
    why = [
        f"{evidence.anchor_ion} {nominal} only"
        if not evidence.second_ions
        else f"{nominal} with {', '.join(evidence.second_ions)}"
    ]
    if not evidence.isotope.assessable:
        why.append(evidence.isotope.detail)
    elif not evidence.isotope.consistent:
        why.append(f"isotope envelope inconsistent ({evidence.isotope.detail})")
    if not evidence.second_ions:
        why.append("no second ion")
    if not shape:
        why.append("peak shape " + evidence.parts()["peak_shape"])
    if evidence.sn < params.unit_res_detection_sn:
        why.append(f"S/N {evidence.sn:.1f}, below the {params.unit_res_detection_sn:g} a nominal-mass claim needs")
    return "tentative", [
        "; ".join(why) + " (unit resolution needs a second ion and its envelope or peak "
        f"shape, at S/N {params.unit_res_detection_sn:g}; has "
        f"{', '.join(supports) or 'none of them'})"
    ]


# ---------------------------------------------------------------- calibrated confidence

FEATURES = (
    "high_resolution",
    "mass_z2",
    "isotope_measured",
    "isotope_z",
    "log_sn",
    "peak_shape",
    "second_ions",
    "blank_log_ratio",
    "separated",
)


def confidence_features(evidence: SpeciesEvidence) -> dict[str, float]:
    tolerance = evidence.mass_tolerance.value
    mass_z = 0.0 if evidence.mass_error is None else evidence.mass_error / (tolerance / 3.0)
    isotope_z = 0.0
    if evidence.isotope.assessable and evidence.isotope.score is not None:
        isotope_z = math.sqrt(max(-2.0 * math.log(max(evidence.isotope.score, 1e-12)), 0.0))
    blank = evidence.blank.ratio if evidence.blank is not None else None
    return {
        "high_resolution": 1.0 if evidence.resolution == "high" else 0.0,
        "mass_z2": min(mass_z * mass_z, 9.0),
        "isotope_measured": 1.0 if evidence.isotope.assessable else 0.0,
        "isotope_z": min(isotope_z, 5.0),
        "log_sn": math.log10(max(evidence.sn, 1.0)),
        "peak_shape": 1.0
        if (evidence.peak_is_peak and evidence.shape_consistent)
        else (0.5 if evidence.peak_is_peak else 0.0),
        "second_ions": float(min(len(evidence.second_ions), 3)),
        "blank_log_ratio": 2.0 if blank is None else float(np.clip(math.log10(max(blank, 1e-3)), -1.0, 2.0)),
        "separated": 1.0 if (evidence.separated and evidence.chromatographic) else 0.0,
    }


@dataclass(frozen=True)
class ConfidenceModel:
    version: str
    source: str
    intercept: float
    coefficients: dict[str, float]

    def value(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(self.coefficients.get(name, 0.0) * features[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


@lru_cache(maxsize=1)
def confidence_model() -> ConfidenceModel:
    """The fitted logistic model shipped as package data, checked once."""
    name = "lcms_confidence.json"
    try:
        data = json.loads(resources.files("specqc").joinpath("data", name).read_text(encoding="utf-8"))
        model = ConfidenceModel(
            str(data["version"]),
            str(data["source"]),
            float(data["intercept"]),
            {k: float(v) for k, v in data["coefficients"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReferenceDataError(f"package data file data/{name} is missing or malformed ({exc})") from exc
    unknown = set(model.coefficients) - set(FEATURES)
    if unknown:
        raise ReferenceDataError(f"data/{name}: unknown features {sorted(unknown)}")
    return model


def confidence(evidence: SpeciesEvidence) -> dict:
    features = confidence_features(evidence)
    model = confidence_model()
    return {
        "value": round(model.value(features), 3),
        "parts": evidence.parts(),
        "features": {k: round(v, 3) for k, v in features.items()},
        "model": model.version,
    }


def blank_comparison(
    blank: PeakMatrix | None, mz_low: float, mz_high: float, peak: ChromPeak, profile: RunProfile
) -> BlankComparison | None:
    """The blank's highest signal at this ion around the same time (injections drift a little)."""
    if blank is None:
        return None
    trace = blank.eic(mz_low, mz_high)
    slack = BLANK_RT_SLACK_MIN + 2.0 * (profile.typical_fwhm_min or 0.0)
    near = (blank.rt_min >= peak.start_rt - slack) & (blank.rt_min <= peak.end_rt + slack)
    if not near.any():
        return BlankComparison(peak.height, 0.0)
    residual = trace - background_baseline(trace, profile.baseline_window_scans)
    # a persistent ion in the blank is background for the sample too: count its level as well
    height = max(float(residual[near].max()), 0.0)
    return BlankComparison(peak.height, height)
