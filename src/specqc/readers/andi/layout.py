"""What makes a file an ANDI/AIA export: the netCDF-3 signature, a cheap check
the registry runs without importing the reader."""

from __future__ import annotations

NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02")  # netCDF-3 classic and 64-bit offset


def is_netcdf(head: bytes) -> bool:
    return head[:4] in NETCDF_MAGIC
