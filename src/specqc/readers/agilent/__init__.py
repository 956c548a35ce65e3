"""Agilent ChemStation / OpenLab / MassHunter .D folders (MS, DAD/UV, ELSD, CAD, FID), read with rainbow-api."""
