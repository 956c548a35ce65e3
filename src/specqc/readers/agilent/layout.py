"""What makes a folder an Agilent .D acquisition: a cheap check the registry runs
without importing the reader."""

from __future__ import annotations

from pathlib import Path

DETECTOR_FILE_SUFFIXES = (".ms", ".uv", ".ch")


def is_detector_file(path: Path) -> bool:
    """A ChemStation detector file: MS, DAD/UV, or a channel (ELSD, CAD, FID, single UV)."""
    return path.suffix.lower() in DETECTOR_FILE_SUFFIXES and path.is_file()


def folder_match(path: Path) -> bool:
    if (path / "AcqData").is_dir():
        return True
    if path.suffix.lower() != ".d":
        return False
    return any(is_detector_file(p) for p in path.iterdir())
