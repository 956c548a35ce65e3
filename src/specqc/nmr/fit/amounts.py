"""Amounts as a chemist reports them: the molar mass of the isolated form
(free base or salt) and a residual solvent in ppm by weight."""

from __future__ import annotations


def salt_molar_mass(species, counterion: str) -> tuple[float, str]:
    """Molar mass of the isolated form: the free base, or its salt with one
    counter-ion per basic amine."""
    import pyopenms as oms

    base = oms.EmpiricalFormula(species.formula).getAverageWeight()
    if not counterion:
        return base, f"{species.formula} (free base)"
    equivalents = max(species.basic_amines, 1)
    mass = base + equivalents * oms.EmpiricalFormula(counterion).getAverageWeight()
    label = f"{species.formula}·{'' if equivalents == 1 else equivalents}{counterion}"
    return mass, label


def ppm_w_w(mol_ratio: float, solvent_molar_mass: float, isolated_molar_mass: float) -> float:
    """Residual solvent in ppm by weight of the isolated material, from its
    molar ratio to the main component."""
    return mol_ratio * solvent_molar_mass / isolated_molar_mass * 1e6
