"""1H NMR simulator: writes a Bruker raw experiment (acqus + fid, through
nmrglue) with a ground-truth record.

What it puts in, because real spectra have it: first-order multiplets from
the reference data (each shift and J nudged a little, since a real sample never
matches a table exactly), the deuterated solvent's residual and its water,
process solvents at the literature shifts, exchange-broadened NH and water
lines, 13C satellites of the main component, an unknown impurity or two,
white noise, a random receiver phase with a first-order error, the digital
filter's group delay (including its fractional part) and a shift axis that is
off by a stated amount, as on a spectrometer whose lock reference was not set.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..chem.route import Route
from ..nmr.lineshape import line_width_of, multiplet_lines
from ..nmr.references import reference_set
from ..nmr.solvents import entries_for, ich_limits

C13_SHARE = 0.0055  # each 13C satellite carries half of the 1.1 % natural abundance


@dataclass(frozen=True)
class Signal:
    shift_ppm: float
    multiplicity: str
    protons: int
    j_hz: float = 0.0
    width_hz: float = 0.0


@dataclass
class NMRComponent:
    """A compound in the tube: a route species (by id), a shift-table compound
    (solvent name, "water", "residual", "tms") or an unknown with its signals."""

    name: str
    mol_ratio: float  # moles per mole of the main component
    kind: str = "species"  # species | solvent | water | residual | tms | unknown
    signals: tuple[Signal, ...] = ()
    extra_width_hz: float = 0.0  # exchange broadening
    satellites: bool = False


@dataclass
class NMRSettings:
    solvent: str = "DMSO-d6"
    form: str = "hydrochloride"
    spectrometer_mhz: float = 400.13
    sweep_width_ppm: float = 20.0
    carrier_ppm: float = 6.175
    complex_points: int = 16384
    line_width_hz: float = 0.9
    noise: float = 5e-3  # per-point sd relative to one proton's FID amplitude
    phase0_deg: float | None = None  # None: random
    first_order_delay_points: float | None = None  # None: random, +-0.15 points
    group_delay: float = 67.9862
    axis_error_ppm: float = 0.0
    temperature_k: float = 298.0
    shift_jitter_ppm: float = 0.006
    j_jitter_hz: float = 0.2
    seed: int = 1
    acquisition_stamp: int = 1_767_225_600  # 2026-01-01T00:00:00Z


SOLVENT_NAMES = {"DMSO-d6": "DMSO", "CDCl3": "CDCl3", "D2O": "D2O", "CD3OD": "MeOD", "acetone-d6": "Acetone"}


def components_signals(route: Route, components: list[NMRComponent], settings: NMRSettings) -> list[NMRComponent]:
    """Fill in each component's signals from the reference data and the shift table."""
    references = reference_set(route.id, frozenset(s.id for s in route.species))
    filled = []
    for component in components:
        if component.signals:
            filled.append(component)
            continue
        if component.kind == "species":
            entry = references.for_species(component.name, settings.solvent, settings.form)
            if entry is None:
                raise ValueError(f"no reference data for {component.name} in {settings.solvent}")
            signals = tuple(Signal(s.shift_ppm, s.multiplicity, s.protons, s.j_hz, s.width_hz) for s in entry.signals)
        else:
            compound = {"water": "water", "residual": "residual", "tms": "tms"}.get(component.kind, component.name)
            entries = entries_for(settings.solvent, compound)
            if not entries:
                raise ValueError(f"no shift-table entry for {compound} in {settings.solvent}")
            signals = tuple(Signal(e.shift_ppm, e.multiplicity, e.protons, e.j_hz, e.width_hz) for e in entries)
        filled.append(
            NMRComponent(
                component.name,
                component.mol_ratio,
                component.kind,
                signals,
                component.extra_width_hz,
                component.satellites,
            )
        )
    return filled


def simulate(route: Route, components: list[NMRComponent], settings: NMRSettings):
    """The raw (digitally filtered) FID and the truth record."""
    rng = np.random.default_rng(settings.seed)
    components = components_signals(route, components, settings)
    mhz, sw_hz = settings.spectrometer_mhz, settings.sweep_width_ppm * settings.spectrometer_mhz
    n = settings.complex_points
    phase0 = settings.phase0_deg if settings.phase0_deg is not None else float(rng.uniform(0, 360))
    extra_delay = (
        settings.first_order_delay_points
        if settings.first_order_delay_points is not None
        else float(rng.uniform(-0.15, 0.15))
    )
    t = np.arange(n) / sw_hz
    fid = np.zeros(n, dtype=np.complex128)
    truth_components = []
    for component in components:
        placed = []
        for signal in component.signals:
            jitter = 0.0 if component.kind in ("residual", "tms") else rng.normal(0, settings.shift_jitter_ppm)
            if component.kind in ("solvent", "water"):
                jitter *= 0.5
            shift = signal.shift_ppm + jitter
            j_hz = signal.j_hz + (rng.normal(0, settings.j_jitter_hz) if signal.j_hz else 0.0)
            width = line_width_of(
                signal.multiplicity, signal.width_hz + component.extra_width_hz, settings.line_width_hz
            )
            lines = [
                (shift + offset / mhz, share)
                for offset, share in multiplet_lines(signal.multiplicity, j_hz, signal.width_hz)
            ]
            if component.satellites:
                j_ch = float(rng.uniform(135.0, 145.0))
                lines = [(p, s * (1 - 2 * C13_SHARE)) for p, s in lines] + [
                    (p + side * j_ch / 2 / mhz, s * C13_SHARE) for p, s in lines for side in (-1, 1)
                ]
            for position, share in lines:
                # the spectrometer's axis is off by axis_error: a line at true
                # shift d is recorded where the uncorrected axis reads d + error
                offset_hz = (position + settings.axis_error_ppm - settings.carrier_ppm) * mhz
                amplitude = component.mol_ratio * signal.protons * share
                fid += amplitude * np.exp(2j * np.pi * offset_hz * t - np.pi * width * t)
            placed.append(
                {
                    "shift_ppm": round(shift, 4),
                    "multiplicity": signal.multiplicity,
                    "protons": signal.protons,
                    "j_hz": round(j_hz, 2),
                }
            )
        truth_components.append(
            {"name": component.name, "kind": component.kind, "mol_ratio": component.mol_ratio, "signals": placed}
        )
    fid *= np.exp(1j * np.deg2rad(phase0))
    # The digital filter delays the signal: t = 0 lands at point `group_delay`
    # (plus an uncorrected remainder that shows as a first-order phase error).
    # It is a band-limited delay of a signal that starts at t = 0, so the points
    # before it hold the filter's pre-response (nothing from the FID's end), and
    # the last `group_delay` points of the signal are never recorded.
    padded = np.concatenate([fid, np.zeros(n, dtype=np.complex128)])
    frequencies = np.fft.fftfreq(2 * n) * 2 * n
    delay = np.exp(-2j * np.pi * (settings.group_delay + extra_delay) * frequencies / (2 * n))
    fid = np.fft.ifft(np.fft.fft(padded) * delay)[:n]
    fid += settings.noise * (rng.normal(size=n) + 1j * rng.normal(size=n))
    truth = {
        "components": truth_components,
        "phase0_deg": round(phase0, 2),
        "first_order_delay_points": round(extra_delay, 4),
        "axis_error_ppm": settings.axis_error_ppm,
        "group_delay": settings.group_delay,
    }
    return fid, truth


def truth_ppm_w_w(route: Route, main_id: str, solvent_name: str, mol_ratio: float, counterion: str) -> float:
    """The truth's ppm w/w, by the same definition a chemist uses."""
    from ..nmr.fit import ppm_w_w, salt_molar_mass

    limits, _ = ich_limits()
    isolated = salt_molar_mass(route.species_by_id(main_id), counterion)[0]
    return ppm_w_w(mol_ratio, limits[solvent_name].molar_mass, isolated)


def write_bruker(folder: Path, fid: np.ndarray, settings: NMRSettings) -> None:
    """An experiment folder as TopSpin leaves it after acquisition (int32 fid, acqus)."""
    import nmrglue as ng

    folder.mkdir(parents=True, exist_ok=True)
    mhz = settings.spectrometer_mhz
    bf1 = mhz - settings.carrier_ppm * mhz * 1e-6  # so that O1 / BF1 is the carrier in ppm
    o1 = settings.carrier_ppm * bf1
    scale = (2**28) / np.max(np.abs(fid))
    interleaved = np.empty(2 * fid.size, dtype=np.int32)
    interleaved[0::2] = np.round(fid.real * scale)
    interleaved[1::2] = np.round(fid.imag * scale)
    acqus = {
        "_coreheader": [
            "##TITLE= Parameter file, TopSpin 4.1.4",
            "##JCAMPDX= 5.0",
            "##DATATYPE= Parameter Values",
            "##ORIGIN= Bruker BioSpin GmbH",
            "##OWNER= specqc",
        ],
        "_comments": ["$$ written by the specqc simulator"],
        "AQ_mod": 3,
        "BF1": bf1,
        "BYTORDA": 0,
        "DATE": settings.acquisition_stamp,
        "DECIM": 1600,
        "DIGMOD": 1,
        "DSPFVS": 20,
        "DTYPA": 0,
        "GRPDLY": settings.group_delay,
        "NS": 16,
        "NUC1": "1H",
        "O1": o1,
        "PULPROG": "zg30",
        "RG": 101,
        "SFO1": bf1 + o1 * 1e-6,
        "SOLVENT": SOLVENT_NAMES.get(settings.solvent, settings.solvent),
        "SW": settings.sweep_width_ppm,
        "SW_h": settings.sweep_width_ppm * mhz,
        "TD": 2 * fid.size,
        "TE": settings.temperature_k,
        "BYTORDP": 0,
    }
    (folder / "pulseprogram").write_text(
        '# 1 "/opt/topspin/exp/stan/nmr/lists/pp/zg30"\n;zg30\n;avance-version (12/01/11)\n'
        ";1D sequence using 30 degree flip angle\n#include <Avance.incl>\n"
        "1 ze\n2 30m\n  d1\n  p1*0.33 ph1\n  go=2 ph31\n  30m mc #0 to 2 F0(zd)\nexit\n"
        "ph1=0 2 2 0 1 3 3 1\nph31=0 2 2 0 1 3 3 1\n",
        encoding="utf-8",
    )
    dic = {"acqus": acqus}
    ng.bruker.write(
        str(folder),
        dic,
        interleaved.view(np.int32),
        overwrite=True,
        write_prog=False,
        write_procs=False,
        bin_file=str(folder / "fid"),
        big=False,
        isfloat=False,
    )


def write_truth(path: Path, truth: dict, meta: dict) -> None:
    document = {**meta, **truth}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def settings_dict(settings: NMRSettings) -> dict:
    return asdict(settings)
