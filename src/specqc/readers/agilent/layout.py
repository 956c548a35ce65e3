"""What makes a folder an Agilent .D acquisition: a cheap check the registry runs
without importing the reader."""

from __future__ import annotations

from pathlib import Path

DETECTOR_FILE_SUFFIXES = (".ms", ".uv", ".ch")


def folder_match(path: Path) -> bool:
    if (path / "AcqData").is_dir():
        return True
    if path.suffix.lower() != ".d":
        return False
    return any(p.suffix.lower() in DETECTOR_FILE_SUFFIXES for p in path.iterdir() if p.is_file())
