"""What makes a folder a Waters .raw acquisition: a cheap check the registry runs
without importing the reader."""

from __future__ import annotations

from pathlib import Path


def folder_match(path: Path) -> bool:
    if path.suffix.lower() != ".raw" or not path.is_dir():
        return False
    return any(p.name.upper().startswith(("_FUNC", "_CHRO")) and p.suffix.upper() == ".DAT"
               for p in path.iterdir())
