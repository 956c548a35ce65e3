"""Input hashing and provenance stamps shared by every report."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file, or of a dataset folder (relative names and contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode("utf-8") + b"\0")
            _feed(digest, item)
    else:
        _feed(digest, path)
    return digest.hexdigest()


def _feed(digest, path: Path) -> None:
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
