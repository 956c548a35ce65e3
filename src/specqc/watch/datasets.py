"""Finding acquisitions in an inbox and knowing when each one is finished.

Never opens a file for writing and never locks one: completion is judged from
names, sizes and modification times, plus a read-only look at the last bytes
of an mzML/mzXML for its closing tag.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..readers import REGISTRY

# single-file datasets: whatever the reader registry reads by extension
FILE_SUFFIXES = {extension: entry.name for entry in REGISTRY for extension in entry.extensions}
# dataset folders known by their name even while half copied (the readers' own
# folder tests need the finished content)
FOLDER_SUFFIXES = {".d": "agilent", ".raw": "waters", ".fid": "varian"}
CLOSING_TAGS = {"mzml": (b"</mzML>", b"</indexedmzML>"), "mzxml": (b"</mzXML>",)}
TEMPORARY_MARKERS = (".part", ".tmp", ".crdownload", "~")
TAIL_BYTES = 4096
# the kinds a blank injection can be (an LC-MS run)
LCMS_KINDS = frozenset({entry.name for entry in REGISTRY if entry.technique == "lcms" and not entry.directory}
                       | {"agilent", "waters"})
HEAD_BYTES = 65536
_RUN_START = re.compile(rb'<run\b[^>]*?\bstartTimeStamp="([^"]+)"')


@dataclass(frozen=True)
class Dataset:
    path: Path
    kind: str  # a reader name (mzml, mzxml, jcamp, bruker-zip), or bruker, agilent, waters, varian

    @property
    def key(self) -> str:
        return str(self.path.resolve())


def _hidden_or_temporary(name: str) -> bool:
    return name.startswith(".") or name.endswith(TEMPORARY_MARKERS) or name.endswith(".json")


def discover(inbox: Path) -> list[Dataset]:
    """Every acquisition under the inbox (complete or not), each reported once."""
    found: list[Dataset] = []
    if not inbox.is_dir():
        return found
    for root, folders, files in os.walk(inbox):
        here = Path(root)
        if here != inbox and here.suffix.lower() in FOLDER_SUFFIXES:
            found.append(Dataset(here, FOLDER_SUFFIXES[here.suffix.lower()]))
            folders[:] = []
            continue
        names = set(files)
        if "acqus" in names or "fid" in names or "ser" in names:  # a Bruker experiment (maybe half copied)
            found.append(Dataset(here, "bruker"))
            folders[:] = []
            continue
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            if _hidden_or_temporary(name):
                continue
            kind = FILE_SUFFIXES.get(Path(name).suffix.lower())
            if kind:
                found.append(Dataset(here / name, kind))
    return found


def snapshot(dataset: Dataset) -> tuple:
    """Names, sizes and modification times: equal snapshots a settle time apart mean nothing is writing."""
    path = dataset.path
    try:
        if path.is_dir():
            entries = []
            for item in sorted(path.rglob("*")):
                if item.is_file():
                    stat = item.stat()
                    entries.append((item.relative_to(path).as_posix(), stat.st_size, stat.st_mtime_ns))
            return tuple(entries)
        stat = path.stat()
        return ((path.name, stat.st_size, stat.st_mtime_ns),)
    except FileNotFoundError:
        return ()


def newest_change(state: tuple) -> float:
    return max((entry[2] for entry in state), default=0) / 1e9


def structurally_complete(dataset: Dataset, state: tuple) -> tuple[bool, str]:
    """What must be there before the dataset can be read at all."""
    if not state:
        return False, "gone"
    if dataset.kind == "bruker":
        names = {entry[0] for entry in state}
        if "acqus" not in names:
            return False, "acqus not written yet"
        if "fid" not in names and "ser" not in names:
            return False, "fid/ser not written yet"
        if any(size == 0 for name, size, _ in state if name in ("fid", "ser", "acqus")):
            return False, "fid/acqus still empty"
        return True, ""
    if dataset.kind in CLOSING_TAGS:
        size = state[0][1]
        try:
            with dataset.path.open("rb") as handle:
                handle.seek(max(0, size - TAIL_BYTES))
                tail = handle.read()
        except OSError as exc:
            return False, f"cannot read: {exc}"
        if not any(tag in tail for tag in CLOSING_TAGS[dataset.kind]):
            return False, "document not closed yet"
        return True, ""
    if dataset.path.is_file() and state[0][1] == 0:
        return False, "empty"
    return True, ""


def recorded_start(dataset: Dataset) -> float | None:
    """When the instrument says the run started, where that is cheap to read:
    an mzML's <run startTimeStamp> within the file's first 64 KB (a time without
    zone is taken as local time). None otherwise."""
    if dataset.kind != "mzml":
        return None
    try:
        with dataset.path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return None
    match = _RUN_START.search(head)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(match.group(1).decode("ascii").replace("Z", "+00:00")).timestamp()
    except (ValueError, UnicodeDecodeError):
        return None
