"""Finding acquisitions in an inbox and knowing when each one is finished.

Never opens a file for writing and never locks one: completion is judged from
names, sizes and modification times, plus a read-only look at the last bytes
of an mzML/mzXML for its closing tag, and at the first bytes of an LC-MS run
for the start time its instrument recorded (to pick the blank run before it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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
LCMS_KINDS = frozenset(
    {entry.name for entry in REGISTRY if entry.technique == "lcms" and not entry.directory} | {"agilent", "waters"}
)
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
    """When the instrument says the run started (seconds since the epoch), where
    the data states it within its first bytes; None when it does not (then the
    caller falls back to modification times). Read-only, a few KB at most:

    - mzML: ``<run startTimeStamp>`` within the first 64 KB;
    - Waters .raw: ``Acquired Date`` and ``Acquired Time`` of ``_HEADER.TXT``;
    - Agilent .D: ``<AcquiredTime>`` of ``AcqData/Contents.xml`` (MassHunter),
      else the date in the header of the ChemStation ``MSD*.MS`` file.

    A time without a zone is taken as this machine's local time (the
    instrument PC's, when the service runs on it).
    """
    read = _START_READERS.get(dataset.kind)
    if read is None:
        return None
    try:
        return read(dataset.path)
    except (OSError, ValueError, OverflowError, UnicodeDecodeError):
        return None


MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_WATERS_DATE = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4})\s*$")
_WATERS_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_AGILENT_ACQUIRED = re.compile(rb"<AcquiredTime>\s*([^<\s]+)\s*</AcquiredTime>")
_CHEMSTATION_DATE = re.compile(
    r"^\s*(\d{1,2})\s+([A-Za-z]{3})\s+(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s*([AaPp][Mm])?\s*([+-]\d{4})?\s*$"
)
CHEMSTATION_DATE_OFFSET = 0xB2  # a length-prefixed string in the header of an MSD*.MS file


def _iso_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _mzml_start(path: Path) -> float | None:
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    match = _RUN_START.search(head)
    return None if match is None else _iso_time(match.group(1).decode("ascii"))


def _named(folder: Path, name: str) -> Path | None:
    """A file of the folder by name, in any letter case (data copied from Windows)."""
    exact = folder / name
    if exact.is_file():
        return exact
    return next((item for item in folder.iterdir() if item.name.lower() == name.lower() and item.is_file()), None)


def _waters_start(folder: Path) -> float | None:
    header = _named(folder, "_HEADER.TXT")
    if header is None:
        return None
    with header.open("rb") as handle:
        text = handle.read(HEAD_BYTES).decode("latin-1")
    fields = {}
    for line in text.splitlines():
        if line.startswith("$$") and ":" in line:
            key, value = line[2:].split(":", 1)
            fields[key.strip().lower()] = value
    date = _WATERS_DATE.match(fields.get("acquired date", ""))
    clock = _WATERS_TIME.match(fields.get("acquired time", ""))
    if date is None or clock is None or date.group(2).lower() not in MONTHS:
        return None
    return datetime(
        int(date.group(3)),
        MONTHS[date.group(2).lower()],
        int(date.group(1)),
        int(clock.group(1)),
        int(clock.group(2)),
        int(clock.group(3) or 0),
    ).timestamp()


def _chemstation_time(text: str) -> float | None:
    match = _CHEMSTATION_DATE.match(text)
    if match is None or match.group(2).lower() not in MONTHS:
        return None
    day, month, year, hour, minute, second, half, zone = match.groups()
    year_number = int(year) + (2000 if len(year) == 2 else 0)
    hour_number = int(hour)
    if half is not None:
        hour_number = hour_number % 12 + (12 if half.lower() == "pm" else 0)
    moment = datetime(year_number, MONTHS[month.lower()], int(day), hour_number, int(minute), int(second or 0))
    if zone is not None:
        offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * (1 if zone[0] == "+" else -1)
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    return moment.timestamp()


def _agilent_start(folder: Path) -> float | None:
    acquisition = folder / "AcqData"
    contents = _named(acquisition, "Contents.xml") if acquisition.is_dir() else None
    if contents is not None:
        with contents.open("rb") as handle:
            match = _AGILENT_ACQUIRED.search(handle.read(HEAD_BYTES))
        if match is not None:
            return _iso_time(match.group(1).decode("ascii"))
    for item in sorted(folder.iterdir()):
        if item.is_file() and item.name.upper().startswith("MSD") and item.suffix.upper() == ".MS":
            with item.open("rb") as handle:
                header = handle.read(CHEMSTATION_DATE_OFFSET + 256)
            if len(header) <= CHEMSTATION_DATE_OFFSET:
                return None
            length = header[CHEMSTATION_DATE_OFFSET]
            text = header[CHEMSTATION_DATE_OFFSET + 1 : CHEMSTATION_DATE_OFFSET + 1 + length].decode("latin-1")
            return _chemstation_time(text)
    return None


_START_READERS = {"mzml": _mzml_start, "waters": _waters_start, "agilent": _agilent_start}
