"""JCAMP-DX 1D NMR files (XYDATA, NTUPLES, compressed forms, FIDs)."""
