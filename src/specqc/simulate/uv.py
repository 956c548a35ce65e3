"""Diode-array (DAD/PDA) channel for the LC-MS simulator.

UV spectra are sums of Gaussian absorption bands. A route species gets its
bands from its chromophores (RDKit substructure counts): amides and lactams,
carbamates, esters, acids absorb only below ~220 nm, benzene rings add the
~205 nm and weak ~255 nm bands. Unknown impurities state their bands. Band
positions and molar absorptivities are textbook orders of magnitude
(Pretsch, Bühlmann, Badertscher, *Structure Determination of Organic
Compounds*, UV/Vis chapter), enough to make UV area % differ from MS area %
the way it does on a real instrument.

The flow cell sits before the mass spectrometer, so every UV peak elutes
``offset_min`` earlier than its ions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

# (SMARTS, band centre nm, band width sigma nm, molar absorptivity L/(mol cm))
CHROMOPHORE_BANDS = (
    ("[NX3][CX3](=O)[OX2]", 190.0, 9.0, 6000.0),  # carbamate (Boc)
    ("[CX3](=O)[NX3;!$(N[CX3](=O)[OX2])]", 192.0, 10.0, 8000.0),  # amide, lactam
    ("[CX3](=O)[OX2][#6;!$([#6](=O))]", 188.0, 9.0, 5000.0),  # ester
    ("[CX3](=O)[OX2H1,OX1-]", 195.0, 9.0, 1000.0),  # carboxylic acid
    ("c1ccccc1", 205.0, 10.0, 8000.0),  # benzene ring, E2 band
    ("c1ccccc1", 256.0, 8.0, 250.0),  # benzene ring, B band
)


@dataclass(frozen=True)
class DADSettings:
    wavelength_start_nm: float = 200.0
    wavelength_end_nm: float = 400.0
    wavelength_step_nm: float = 4.0
    rate_hz: float = 2.0
    offset_min: float = 0.03  # UV apex = MS apex - offset
    noise_mau: float = 0.03
    drift_mau: float = 4.0  # gradient absorbance at 200 nm by the end of the run
    unit: str = "mAU"


@lru_cache(maxsize=None)
def species_bands(smiles: str) -> tuple[tuple[float, float, float], ...]:
    from rdkit import Chem

    molecule = Chem.MolFromSmiles(smiles)
    bands = []
    for smarts, centre, width, epsilon in CHROMOPHORE_BANDS:
        count = len(molecule.GetSubstructMatches(Chem.MolFromSmarts(smarts)))
        if count:
            bands.append((centre, width, epsilon * count))
    return tuple(bands)


def spectrum(bands, wavelengths_nm: np.ndarray) -> np.ndarray:
    """Molar absorptivity at each wavelength."""
    values = np.zeros_like(wavelengths_nm, dtype=np.float64)
    for centre, width, epsilon in bands:
        values += epsilon * np.exp(-0.5 * ((wavelengths_nm - centre) / width) ** 2)
    return values


def band_mean(bands, wavelength_nm: float, bandwidth_nm: float = 4.0) -> float:
    grid = np.linspace(wavelength_nm - bandwidth_nm / 2, wavelength_nm + bandwidth_nm / 2, 21)
    return float(spectrum(bands, grid).mean())


def simulate_dad(
    route, components, rt_end_min: float, settings: DADSettings, rng: np.random.Generator, emg
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(times, wavelengths, absorbance[time, wavelength], truth) for the components
    that carry a UV amount; the truth gives each one's UV area % at 210 and 254 nm."""
    times = np.arange(0.0, rt_end_min, 1.0 / (settings.rate_hz * 60.0))
    wavelengths = np.arange(
        settings.wavelength_start_nm, settings.wavelength_end_nm + 1e-9, settings.wavelength_step_nm
    )
    absorbance = np.zeros((times.size, wavelengths.size))
    areas: dict[str, dict[str, float]] = {}
    for component in components:
        if component.uv_amount <= 0:
            continue
        bands = component.uv_bands or species_bands(route.species_by_id(component.species_id).smiles)
        shape = emg(times, component.rt_min - settings.offset_min, component.sigma_min, component.tau_min)
        # mAU from a relative molar amount: epsilon / 1000 scales a typical band to ~hundreds of mAU
        absorbance += component.uv_amount * np.outer(shape, spectrum(bands, wavelengths) / 1000.0)
        name = component.species_id or component.formula
        areas[name] = {f"{w:g}": component.uv_amount * band_mean(bands, w) / 1000.0 for w in (210.0, 254.0)}
    drift = (
        settings.drift_mau
        * (times / max(rt_end_min, 1e-9))[:, None]
        * np.exp(-(wavelengths[None, :] - wavelengths[0]) / 25.0)
    )
    absorbance += drift + rng.normal(0.0, settings.noise_mau, absorbance.shape)
    truth: dict[str, Any] = {"offset_min": settings.offset_min, "area_pct": {}}
    for wavelength in ("210", "254"):
        total = sum(a[wavelength] for a in areas.values())
        truth["area_pct"][wavelength] = {
            name: round(100.0 * a[wavelength] / total, 3) if total else 0.0 for name, a in areas.items()
        }
    return times, wavelengths, absorbance, truth
