"""LC-MS simulator: writes mzML (through pyopenms) with a ground-truth record.

What it puts in, because real runs have it: exponentially modified Gaussian
peaks, several ions per species ([M+H]+, Na/K/NH4 adducts, [M+2H]2+ for
polyamines, concentration-dependent [2M+H]+, in-source Boc losses), 13C/isotope
patterns from pyopenms, mass error, multiplicative and additive noise, random
noise peaks, a chemical background of constant ions, unknown impurities, and
either high resolution (ppm-accurate centroids or sparse profile peaks) or a
unit-resolution single quadrupole (0.1 Da quantised m/z, 0.6 Da wide peaks).

The truth records every component's share of the ion signal inside the scan
range, which is what a relative-area figure estimates.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..chem.ions import ion_formula, ion_mz, target_ions
from ..chem.route import Route
from ..chem.species import isotope_peaks
from ..errors import ConfigError
from ..reference import adduct_table
from .uv import DADSettings, simulate_dad

DEFAULT_ION_SHARES = {
    "[M+H]+": 1.0,
    "[M+Na]+": 0.10,
    "[M+K]+": 0.025,
    "[M+NH4]+": 0.04,
    "[M+2H]2+": 0.15,
    "[2M+H]+": 0.05,
    "[2M+Na]+": 0.01,
    "[M+H-C4H8]+": 0.25,
    "[M+H-C5H8O2]+": 0.45,
    "[M-H]-": 1.0,
    "[M+HCOO]-": 0.15,
    "[M+Cl]-": 0.05,
    "[2M-H]-": 0.04,
}


@dataclass
class Component:
    """One compound in the run: a route species (by id) or an unknown formula."""

    rt_min: float
    amount: float  # total ion signal (all ions and isotopes), intensity x seconds
    species_id: str = ""
    formula: str = ""  # for unknowns
    sigma_min: float = 0.035
    tau_min: float = 0.02
    ion_shares: dict[str, float] = field(default_factory=dict)
    uv_amount: float = 0.0  # relative molar amount seen by the diode array (0: not in the UV trace)
    uv_bands: tuple[tuple[float, float, float], ...] = ()  # for unknowns: (nm, sigma nm, epsilon)


@dataclass
class RunSettings:
    resolution: str = "high"  # high | unit
    mode: str = "centroid"  # centroid | profile
    polarity: str = "positive"
    n_scans: int = 360
    rt_start_min: float = 0.0
    rt_end_min: float = 6.0
    mz_range: tuple[float, float] = (80.0, 1000.0)
    resolving_power: float = 35000.0
    unit_fwhm: float = 0.6
    mass_error_ppm: float = 1.0  # systematic
    mass_scatter_ppm: float = 1.5
    noise_peaks_per_scan: int = 60
    background_ions: int = 25
    intensity_cutoff: float = 300.0
    seed: int = 1
    dad: DADSettings | None = None  # a diode-array detector before the MS


def _emg(t: np.ndarray, centre: float, sigma: float, tau: float) -> np.ndarray:
    """Exponentially modified Gaussian, unit area over t (minutes)."""
    from scipy.special import erfc

    if tau <= 1e-6:
        return np.exp(-0.5 * ((t - centre) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    lam = 1.0 / tau
    arg = lam / 2.0 * (2 * centre + lam * sigma**2 - 2 * t)
    z = (centre + lam * sigma**2 - t) / (np.sqrt(2) * sigma)
    return lam / 2.0 * np.exp(np.clip(arg, -700, 700)) * erfc(z)


def _ion_list(route: Route, component: Component, polarity: str, max_amount: float):
    """(m/z, charge, share, isotope pattern) of each ion the component gives."""
    if component.species_id:
        species = route.species_by_id(component.species_id)
        ions = target_ions(species, polarity, isotope_peaks_count=4)
        out = []
        for ion in ions:
            share = component.ion_shares.get(ion.ion, DEFAULT_ION_SHARES.get(ion.ion, 0.0))
            if ion.kind == "multimer":  # proton-bound dimers grow with concentration
                share *= min(1.0, component.amount / max_amount)
            if ion.kind == "multiply-charged" and species.basic_amines < 3 and ion.ion not in component.ion_shares:
                share = 0.0
            if share > 0:
                out.append((ion.mz, ion.charge, share, ion.isotopes, ion.isotope_offsets))
        return out
    # unknowns give only the primary ion of the polarity ([M+H]+ or [M-H]-)
    rule = next(r for r in adduct_table()[0] if r.polarity == polarity and r.kind == "primary")
    formula = ion_formula(component.formula, rule)
    if formula is None:
        raise ConfigError(f"simulated component {component.formula} cannot form {rule.name}")
    pattern = isotope_peaks(formula, 4)
    return [
        (ion_mz(formula, rule.charge), rule.charge, 1.0, tuple(a for a, _ in pattern), tuple(o for _, o in pattern))
    ]


def simulate(route: Route, components: list[Component], settings: RunSettings):
    """Return (list of (rt_min, mz array, intensity array)), truth dict."""
    rng = np.random.default_rng(settings.seed)
    rt = np.linspace(settings.rt_start_min, settings.rt_end_min, settings.n_scans)
    max_amount = max(c.amount for c in components) if components else 1.0
    signal_mz: list[np.ndarray] = []
    signal_int: list[np.ndarray] = []
    low, high = settings.mz_range
    observed = []  # share of each component's signal inside the scan range
    for component in components:
        ions = _ion_list(route, component, settings.polarity, max_amount)
        shape = _emg(rt, component.rt_min, component.sigma_min, component.tau_min) / 60.0  # per second
        share_total = sum(share * sum(iso) for _, _, share, iso, _ in ions)
        inside = 0.0
        for mz, charge, share, isotopes, offsets in ions:
            for abundance, offset in zip(isotopes, offsets):
                area = component.amount * share * abundance / share_total
                position = mz + offset / abs(charge)
                if low <= position <= high:
                    inside += area
                signal_mz.append(np.full(rt.size, position))
                signal_int.append(area * shape)
        observed.append(inside)
    signal_mz_arr = np.array(signal_mz) if signal_mz else np.zeros((0, rt.size))
    signal_int_arr = np.array(signal_int) if signal_int else np.zeros((0, rt.size))

    background_mz = np.sort(rng.uniform(low, min(high, 600), settings.background_ions))
    background_level = rng.lognormal(np.log(2e3), 0.6, settings.background_ions)
    scans = []
    for i in range(rt.size):
        mz = signal_mz_arr[:, i].copy()
        intensity: np.ndarray = signal_int_arr[:, i] * rng.normal(1.0, 0.05, mz.size)
        intensity += rng.normal(0, 60, mz.size)
        noise_mz = rng.uniform(low, high, settings.noise_peaks_per_scan)
        noise_int = rng.exponential(400, settings.noise_peaks_per_scan)
        bg_int = background_level * rng.normal(1.0, 0.08, background_level.size) * (1 + 0.1 * rt[i] / rt[-1])
        mz = np.concatenate([mz, noise_mz, background_mz])
        intensity = np.concatenate([intensity, noise_int, bg_int])
        keep = (mz >= low) & (mz <= high) & (intensity > settings.intensity_cutoff)
        mz, intensity = mz[keep], intensity[keep]
        if settings.resolution == "high":
            mz = mz * (1 + (settings.mass_error_ppm + rng.normal(0, settings.mass_scatter_ppm, mz.size)) * 1e-6)
        else:
            mz = np.round(mz + 0.08 + rng.normal(0, 0.04, mz.size), 1)
        if settings.mode == "profile":
            mz, intensity = _profile(mz, intensity, settings)
        else:
            order = np.argsort(mz)
            mz, intensity = mz[order], intensity[order]
            if settings.resolution == "unit":  # one centroid per 0.1 Da bin
                mz, inverse = np.unique(mz, return_inverse=True)
                intensity = np.bincount(inverse, weights=intensity)
        scans.append((float(rt[i]), mz, intensity))
    truth = _truth(components, observed)
    return scans, truth


def _profile(mz: np.ndarray, intensity: np.ndarray, settings: RunSettings):
    """Sparse profile: Gaussian line shapes sampled around each peak, summed."""
    if settings.resolution == "high":
        fwhm = mz / settings.resolving_power
        step = fwhm / 4.0
    else:
        fwhm = np.full(mz.size, settings.unit_fwhm)
        step = np.full(mz.size, 0.1)
    offsets = np.arange(-6, 7) if settings.resolution == "high" else np.arange(-9, 10)
    grid_mz = mz[:, None] + offsets[None, :] * step[:, None]
    sigma = fwhm / 2.3548
    grid_int = intensity[:, None] * np.exp(-0.5 * ((grid_mz - mz[:, None]) / sigma[:, None]) ** 2)
    if settings.resolution == "unit":
        grid_mz = np.round(grid_mz, 1)
    flat_mz, flat_int = grid_mz.ravel(), grid_int.ravel()
    if settings.resolution == "unit":
        values, inverse = np.unique(flat_mz, return_inverse=True)
        return values, np.bincount(inverse, weights=flat_int)
    order = np.argsort(flat_mz)
    return flat_mz[order], flat_int[order]


def _truth(components: list[Component], observed: list[float]) -> dict:
    """Each component's share of the ion signal the instrument could record
    (ions outside the scan range are not counted)."""
    total = sum(observed)
    species = {}
    unknowns = []
    for component, inside in zip(components, observed):
        share = round(100.0 * inside / total, 3)
        if component.species_id:
            species[component.species_id] = {"rt_min": component.rt_min, "relative_area_pct": share}
        else:
            unknowns.append({"formula": component.formula, "rt_min": component.rt_min, "relative_area_pct": share})
    return {"species": species, "unknowns": unknowns}


def simulate_uv(route: Route, components: list[Component], settings: RunSettings):
    """The run's diode-array data (times, wavelengths, absorbance) and its truth, or None without a DAD."""
    if settings.dad is None:
        return None, None
    rng = np.random.default_rng(settings.seed + 7919)
    times, wavelengths, absorbance, truth = simulate_dad(
        route, components, settings.rt_end_min, settings.dad, rng, _emg
    )
    return (times, wavelengths, absorbance), truth


def _add_diode_array(oms, experiment, diode_array, step_nm: float) -> None:
    """One absorption chromatogram per DAD wavelength, named the way ChemStation
    names signals ("DAD1 Sig=254,4"), which is how converters carry DAD data in mzML."""
    times, wavelengths, absorbance = diode_array
    for index, wavelength in enumerate(wavelengths):
        chromatogram = oms.MSChromatogram()
        chromatogram.setNativeID(f"DAD1 Sig={wavelength:g},{step_nm:g}")
        chromatogram.setChromatogramType(oms.ChromatogramSettings.ChromatogramType.ABSORPTION_CHROMATOGRAM)
        chromatogram.set_peaks(
            (np.asarray(times * 60.0, dtype=np.float64), np.asarray(absorbance[:, index], dtype=np.float32))
        )
        experiment.addChromatogram(chromatogram)


def write_mzml(
    path: Path,
    scans,
    settings: RunSettings,
    instrument_model: str = "",
    instrument_metadata: bool = True,
    diode_array=None,
) -> None:
    """Store the scans (and any diode-array channels) as zlib-compressed mzML;
    ``instrument_metadata=False`` leaves out the analyzer, as some converters do."""
    import pyopenms as oms

    experiment = oms.MSExperiment()
    if instrument_metadata:
        instrument = oms.Instrument()
        analyzer = oms.MassAnalyzer()
        analyzer.setType(
            oms.MassAnalyzer.AnalyzerType.ORBITRAP
            if settings.resolution == "high"
            else oms.MassAnalyzer.AnalyzerType.QUADRUPOLE
        )
        instrument.setMassAnalyzers([analyzer])
        instrument.setName(
            instrument_model
            or ("specqc simulated Orbitrap" if settings.resolution == "high" else "specqc simulated single quadrupole")
        )
        experiment.setInstrument(instrument)
    polarity = oms.IonSource.Polarity.POSITIVE if settings.polarity == "positive" else oms.IonSource.Polarity.NEGATIVE
    spectrum_type = (
        oms.SpectrumSettings.SpectrumType.PROFILE
        if settings.mode == "profile"
        else oms.SpectrumSettings.SpectrumType.CENTROID
    )
    for index, (rt_min, mz, intensity) in enumerate(scans):
        spectrum = oms.MSSpectrum()
        spectrum.setRT(rt_min * 60.0)
        spectrum.setMSLevel(1)
        spectrum.setNativeID(f"scan={index + 1}")
        spectrum.setType(spectrum_type)
        instrument_settings = oms.InstrumentSettings()
        instrument_settings.setPolarity(polarity)
        spectrum.setInstrumentSettings(instrument_settings)
        spectrum.set_peaks((np.asarray(mz, dtype=np.float64), np.asarray(intensity, dtype=np.float32)))
        experiment.addSpectrum(spectrum)
    if diode_array is not None:
        _add_diode_array(oms, experiment, diode_array, settings.dad.wavelength_step_nm if settings.dad else 4.0)
    options = oms.PeakFileOptions()
    options.setCompression(True)
    options.setIntensity32Bit(True)
    options.setMz32Bit(True)  # 7 significant digits: < 0.1 ppm, well inside any tolerance
    handler = oms.MzMLFile()
    handler.setOptions(options)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler.store(str(path), experiment)


def write_truth(path: Path, truth: dict, meta: dict) -> None:
    document = {"schema": "specqc.truth/1", **meta, **truth}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def settings_dict(settings: RunSettings) -> dict:
    return asdict(settings)
