"""LC-MS analysis: centroiding, resolution, extracted ion chromatograms,
chromatographic peaks and route-aware species assignment."""
