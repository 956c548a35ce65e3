"""What makes a folder a Bruker experiment (or its processed data, or a folder
holding experiments): cheap checks the registry runs without importing the reader."""

from __future__ import annotations

from pathlib import Path


def is_experiment(path: Path) -> bool:
    return (path / "acqus").is_file() and (
        (path / "fid").is_file() or (path / "ser").is_file() or (path / "pdata").is_dir()
    )


def is_processed(path: Path) -> bool:
    return (path / "procs").is_file() and (path / "1r").is_file()


def experiments_below(path: Path) -> list[Path]:
    return sorted((p for p in path.iterdir() if p.is_dir() and is_experiment(p)), key=lambda p: (len(p.name), p.name))


def folder_match(path: Path) -> bool:
    return is_experiment(path) or is_processed(path) or bool(experiments_below(path))
