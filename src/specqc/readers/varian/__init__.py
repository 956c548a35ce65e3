"""Varian/Agilent VnmrJ .fid folders (fid + procpar)."""
