"""What the fit works with: the compounds and signals it is given, what it
returns, the axis it works on, and the drawing of a placed multiplet (with its
13C satellites) into a compound's column."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import InternalError
from ..lineshape import line_width_of, lorentzian, multiplet_extent_hz, multiplet_shape, outer_line_offset_hz


@dataclass
class FitSignal:
    group: str
    reference_ppm: float
    multiplicity: str
    protons: int
    j_hz: float = 0.0
    width_hz: float = 0.0
    tolerance_ppm: float = 0.05
    diagnostic: bool = False
    observed_ppm: float | None = None
    extra_width_hz: float = 0.0  # chosen during placement (exchange-broadened water)
    satellite_j_hz: float | None = None  # 1J(13C,1H) once the compound is strong enough to show satellites
    reference_j_hz: float = 0.0
    tail_hz: float = 0.0  # how far its lines reach when drawn into the model (set from its amount)
    shapes: dict = field(default_factory=dict, repr=False, compare=False)  # drawn shapes, by what drew them

    def __post_init__(self) -> None:
        self.reference_j_hz = self.j_hz

    @property
    def placed_ppm(self) -> float:
        """Where the signal is drawn and judged: its placed shift (every fit places each signal first)."""
        if self.observed_ppm is None:
            raise InternalError(f"NMR fit: signal {self.group} was used before it was placed")
        return self.observed_ppm


@dataclass
class FitComponent:
    key: str
    kind: str  # species | solvent | water | residual | tms
    name: str
    signals: list[FitSignal]
    source: str = ""
    broad_allowed: bool = False
    expected: bool = False  # the stage's main component: the tube is meant to hold it


@dataclass
class SignalResult:
    group: str
    reference_ppm: float
    observed_ppm: float
    multiplicity: str
    j_hz: float
    protons: int
    overlap: float  # share of the window's fitted intensity due to other compounds
    overlapped_with: list[str]
    support: float | None  # observed / expected intensity, None when overlapped or too weak


@dataclass
class ComponentResult:
    component: FitComponent
    amount: float  # moles, relative units (area per proton)
    snr: float
    detected: bool
    reason: str
    signals: list[SignalResult] = field(default_factory=list)
    overlapped: bool = False  # not confirmed only because every signal lies under other compounds
    # the amount whose tallest line reaches the detection threshold (DETECTION_SNR x noise) with this
    # spectrum's noise and line width: below it the compound could not be reported
    lod_amount: float | None = None
    amount_error: float | None = None  # standard error of the amount from the joint fit
    significance: dict | None = None  # extra-sum-of-squares test of the compound's whole pattern
    upper_bound_amount: float | None = None  # an overlapped compound's amount in the joint fit: at most this


@dataclass
class FitResult:
    components: list[ComponentResult]
    fwhm_hz: float
    grid_hz: float | None = None  # point spacing the fit worked on (every n-th point of the spectrum)


SAME_LINE_PPM = 0.01  # two multiplets closer than this sit on one line
C13_SATELLITE_SHARE = 0.0055  # each satellite: half of the 1.1 % 13C natural abundance


class Axis:
    def __init__(self, ppm: np.ndarray, mhz: float):
        self.ppm, self.mhz = ppm, mhz
        self.step = float(ppm[0] - ppm[1])
        self.key = (float(ppm[0]), self.step, ppm.size, mhz)  # identifies the grid a shape was drawn on

    def index(self, position: float) -> int:
        return int(round((self.ppm[0] - position) / self.step))

    def window(self, centre: float, half_ppm: float) -> tuple[int, int]:
        low = max(self.index(centre + half_ppm), 0)
        high = min(self.index(centre - half_ppm) + 1, self.ppm.size)
        return low, max(high, low)


def signal_shape(
    axis: Axis, signal: FitSignal, centre: float, fwhm_hz: float, satellites: bool = True, tails: bool = False
) -> tuple[int, np.ndarray]:
    """(first index, unit-area-per-proton x protons values) of one multiplet,
    with its 13C satellites once they have been placed (unless ``satellites`` is off).
    Its lines are drawn to a few widths (the window judging looks at), or with
    ``tails`` as far as its tails stand above the noise (what the model holds).
    Cached on the signal: the fit and the judging draw the same shapes many times."""
    tail_hz = signal.tail_hz if tails else 0.0
    key = (
        axis.key,
        centre,
        fwhm_hz,
        signal.j_hz,
        signal.extra_width_hz,
        signal.satellite_j_hz if satellites else None,
        tail_hz,
    )
    if key not in signal.shapes:
        low, values = _draw_signal(axis, signal, centre, fwhm_hz, satellites, tail_hz)
        values.flags.writeable = False  # shared by every caller
        signal.shapes[key] = (low, values)
    return signal.shapes[key]


def _draw_signal(
    axis: Axis, signal: FitSignal, centre: float, fwhm_hz: float, satellites: bool, tail_hz: float
) -> tuple[int, np.ndarray]:
    width = signal.width_hz + signal.extra_width_hz
    half = multiplet_extent_hz(signal.multiplicity, signal.j_hz, width, fwhm_hz, tail_hz) / axis.mhz
    low, high = axis.window(centre, half)
    values = (
        multiplet_shape(axis.ppm[low:high], centre, signal.multiplicity, signal.j_hz, width, fwhm_hz, axis.mhz)
        * signal.protons
    )
    if satellites and signal.satellite_j_hz:
        # the 13C satellites sit outside the multiplet's own window: widen it to hold them
        reach = signal.satellite_j_hz / 2 / axis.mhz
        wide_low, wide_high = axis.window(centre, half + reach)
        wide = np.zeros(wide_high - wide_low)
        wide[low - wide_low : low - wide_low + values.size] = values * (1 - 2 * C13_SATELLITE_SHARE)
        for side in (-1, 1):
            wide += (
                C13_SATELLITE_SHARE
                * signal.protons
                * multiplet_shape(
                    axis.ppm[wide_low:wide_high],
                    centre + side * reach,
                    signal.multiplicity,
                    signal.j_hz,
                    width,
                    fwhm_hz,
                    axis.mhz,
                )
            )
        return wide_low, wide
    return low, values


def flattened(components: list[FitComponent]) -> tuple[list[FitSignal], np.ndarray]:
    """Every compound's signals in one list, and the index of the compound owning each."""
    signals = [s for c in components for s in c.signals]
    owner = np.array([i for i, c in enumerate(components) for _ in c.signals], dtype=int)
    return signals, owner


def column(
    axis: Axis, component: FitComponent, fwhm_hz: float, satellites: bool = True, out: np.ndarray | None = None
) -> np.ndarray:
    """A compound's model per unit amount (into ``out`` when given)."""
    if out is None:
        column = np.zeros(axis.ppm.size)
    else:
        column = out
        column[:] = 0.0
    for signal in component.signals:
        low, values = signal_shape(axis, signal, signal.placed_ppm, fwhm_hz, satellites, tails=True)
        column[low : low + values.size] += values
    return column


def component_model(ppm: np.ndarray, mhz: float, component: FitComponent, fwhm_hz: float) -> np.ndarray:
    """A placed compound's model per unit amount, on the whole axis."""
    return column(Axis(ppm, mhz), component, fwhm_hz)


def add_lorentzian(axis: Axis, target: np.ndarray, centre: float, fwhm_hz: float, area: float) -> None:
    low, high = axis.window(centre, 12 * fwhm_hz / axis.mhz)
    target[low:high] += area * lorentzian(axis.ppm[low:high], centre, fwhm_hz / axis.mhz)


def lines_are_real(signal: FitSignal) -> bool:
    """Whether a signal's drawn lines are its real ones, so their far tails and
    dispersion can be trusted: an unresolved multiplet's ("m") only stand in
    for lines nobody resolved."""
    return signal.multiplicity != "m"


def misplacement(signal: FitSignal) -> float:
    """How far placement moved a signal from its tabulated shift, in tolerances."""
    return abs(signal.placed_ppm - signal.reference_ppm) / signal.tolerance_ppm


def half_span_hz(signal: FitSignal, fwhm_hz: float) -> float:
    """How far a placed multiplet's lines reach from its centre: its outer lines plus one line width."""
    width = signal.width_hz + signal.extra_width_hz
    return outer_line_offset_hz(signal.multiplicity, signal.j_hz, width) + line_width_of(
        signal.multiplicity, width, fwhm_hz
    )
