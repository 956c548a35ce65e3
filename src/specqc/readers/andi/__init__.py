"""ANDI/AIA netCDF exports (ASTM E1947 chromatography, E2077 mass spectrometry), read with scipy."""
