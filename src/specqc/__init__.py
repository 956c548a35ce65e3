"""specqc: QC analysis of synthesis-stage LC-MS and NMR data."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("specqc")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
