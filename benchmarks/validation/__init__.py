"""Independent validation data and scoring for specqc.

The modules here build synthetic instrument data from their own model of the
instruments and of the chemistry, not from specqc's simulator, and score
specqc's reports against the truth they record:

- ``chem``: the route species (ids and SMILES as ``specqc route show`` lists
  them), masses, ion formulas and isotope patterns computed from the SMILES.
- ``lcms_scenarios``: draws one LC-MS scenario from a wide parameter space and
  writes it as mzML (sample, optional blank) with a truth JSON.
- ``lcms_part``: runs specqc over a set of scenarios and turns the reports
  into metrics and a markdown section (``run_part``).

``benchmarks/validation.py`` is the command-line entry point; further parts
(e.g. an NMR part in ``nmr_part``) plug in beside ``lcms_part``.
"""

#: The seed of the full validation run; the confidence fit uses its calibration half and
#: VALIDATION.md reports on its evaluation half, so both must draw the same split.
DEFAULT_SEED = 20261204
