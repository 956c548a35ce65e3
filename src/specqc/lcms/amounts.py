"""A species' amount from all its ions, without counting any signal twice.

MS area % is semi-quantitative: response factors differ between species, so
the UV area % (or NMR mol %) is the purity figure wherever it exists. What can
be made right is the bookkeeping: every ion of a species (adducts, charge
states, multimers, in-source fragments, each with its isotope peaks) is summed
into its area; a saturated apex is estimated from its unsaturated isotope
peak; and where a co-eluting species' isotope peak falls on another's ion, the
expected isotope contribution is taken out of that ion and the first
species' isotope area is taken from the formula instead of the shared trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .params import Tolerance

if TYPE_CHECKING:
    from .analysis import IonFeature, SpeciesResult

MIN_SATURATION_ISOTOPE = 0.02  # an M+1 this small is too weak to rebuild the apex from


def correct_amounts(results: list[SpeciesResult], tolerance: Tolerance, window: float) -> None:
    for result in results:
        for feature in result.features:
            _desaturate(feature)
    _remove_isotope_overlap(results, tolerance, window)


def _desaturate(feature: IonFeature) -> None:
    """A flat-topped apex means the detector saturated: M is cut, M+1 is not."""
    isotopes = feature.target.isotopes
    if not feature.peak.flat_top or len(isotopes) < 2 or isotopes[1] < MIN_SATURATION_ISOTOPE:
        return
    if not feature.isotope_areas or feature.isotope_areas[0] <= 0:
        return
    estimate = feature.isotope_areas[0] / isotopes[1]
    if estimate > feature.peak.area:
        feature.corrected_area = estimate
        feature.isotope_areas = tuple(estimate * a for a in isotopes[1:])
        feature.notes.append(
            f"apex saturated: area {estimate:.3g} estimated from the M+1 peak (measured {feature.peak.area:.3g})"
        )


def _remove_isotope_overlap(results: list[SpeciesResult], tolerance: Tolerance, window: float) -> None:
    features = [(r, f) for r in results for f in r.features]
    for owner, source in features:
        for k in range(1, len(source.target.isotopes)):
            first, last = source.target.isotope_extent(k)
            for other_owner, target in features:
                if other_owner is owner or target.target.charge != source.target.charge:
                    continue
                if not first - tolerance.da(first) <= target.target.mz <= last + tolerance.da(last):
                    continue
                if abs(target.peak.apex_rt - source.peak.apex_rt) > window:
                    continue
                share = source.mono_area * source.target.isotopes[k]
                remaining = max(target.mono_area - share, 0.0)
                if remaining < target.mono_area:
                    target.corrected_area = remaining
                    target.notes.append(
                        f"{share:.3g} of this ion's area is the M+{k} isotope of the co-eluting "
                        f"{source.target.ion} of {owner.species_id}; taken out"
                    )
                # the source's own isotope trace holds the other ion: use the formula's share instead
                areas = list(source.isotope_areas)
                if k - 1 < len(areas):
                    areas[k - 1] = share
                    source.isotope_areas = tuple(areas)
