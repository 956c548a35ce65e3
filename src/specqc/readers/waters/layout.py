"""What makes a folder a Waters .raw acquisition: a cheap check the registry runs
without importing the reader."""

from __future__ import annotations

from pathlib import Path


def is_detector_file(path: Path) -> bool:
    """An acquisition function (_FUNCnnn.DAT) or an analog channel (_CHROnnn.DAT)."""
    return path.name.upper().startswith(("_FUNC", "_CHRO")) and path.suffix.upper() == ".DAT"


def folder_match(path: Path) -> bool:
    if path.suffix.lower() != ".raw" or not path.is_dir():
        return False
    return any(is_detector_file(p) for p in path.iterdir())
