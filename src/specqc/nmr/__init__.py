"""1H NMR: automatic processing, referencing, peaks, solvents and route species."""
