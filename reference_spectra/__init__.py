"""Reference 1H NMR data of route species (installed as specqc.reference_spectra)."""
