"""What makes a folder a Varian/Agilent .fid dataset: a cheap check the registry
runs without importing the reader."""

from __future__ import annotations

from pathlib import Path


def folder_match(path: Path) -> bool:
    return (path / "fid").is_file() and (path / "procpar").is_file()
