"""Reader registry: picks the reader for an input path.

Order of decision (as in allotropy): an explicit format name, then the file
extension or folder layout, then a cheap sniff of the first bytes. Reader
modules are imported only when used, so the CLI starts fast; folder layouts are
recognised by small ``layout`` modules that need nothing beyond pathlib.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union, cast

from ..errors import InputError
from .agilent import layout as agilent_layout
from .andi import layout as andi_layout
from .bounds import ReadLimits, bounded_read
from .bruker import layout as bruker_layout
from .varian import layout as varian_layout
from .waters import layout as waters_layout

if TYPE_CHECKING:
    from ..model import LCMSRun, MS1ScanCollector, NMRData

    InstrumentData = Union[LCMSRun, NMRData]  # what a reader gives: one vendor-neutral model

SNIFF_BYTES = 4096


@dataclass(frozen=True)
class ReaderEntry:
    name: str
    technique: str  # "lcms" | "nmr" | "uv"
    description: str
    module: str  # imported lazily; must define `read(path) -> model`
    extensions: tuple[str, ...] = ()
    directory: bool = False
    sniff: Callable[[Path, bytes], bool] | None = None
    folder_match: Callable[[Path], bool] | None = None

    def load(
        self, path: Path, limits: ReadLimits | None = None, ms1_collector: MS1ScanCollector | None = None
    ) -> InstrumentData:
        """Read ``path`` under the per-input time and memory bound (see `bounds`).
        With an ``ms1_collector`` (model.MS1ScanCollector), a reader that can
        stream (``read_streaming``) hands it the spectra instead of keeping them."""
        module = importlib.import_module(self.module, __package__)
        streaming = getattr(module, "read_streaming", None) if ms1_collector is not None else None
        if streaming is not None:
            model = bounded_read(lambda source: streaming(source, ms1_collector), Path(path), limits)
        else:
            model = bounded_read(module.read, Path(path), limits)
        return cast("InstrumentData", model)


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", path) from exc


def _sniff_mzml(_path: Path, head: bytes) -> bool:
    return b"<mzML" in head or b"<indexedmzML" in head


def _sniff_mzxml(_path: Path, head: bytes) -> bool:
    return b"<mzXML" in head


def _sniff_jcamp(_path: Path, head: bytes) -> bool:
    return head.lstrip().startswith(b"##TITLE") or b"##JCAMP" in head.upper()


def _sniff_zip(path: Path, head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def _sniff_netcdf(_path: Path, head: bytes) -> bool:
    return andi_layout.is_netcdf(head)


REGISTRY: tuple[ReaderEntry, ...] = (
    ReaderEntry(
        name="mzml",
        technique="lcms",
        description="HUPO-PSI mzML (profile or centroid), read with pyopenms",
        module=".mzml.reader",
        extensions=(".mzml",),
        sniff=_sniff_mzml,
    ),
    ReaderEntry(
        name="mzxml",
        technique="lcms",
        description="mzXML, read with pyopenms",
        module=".mzml.reader",
        extensions=(".mzxml",),
        sniff=_sniff_mzxml,
    ),
    ReaderEntry(
        name="agilent-d",
        technique="lcms",
        description="Agilent .D folder: single-quad MS, Q-TOF profile, DAD/UV, ELSD/CAD/FID (rainbow-api)",
        module=".agilent.reader",
        directory=True,
        folder_match=agilent_layout.folder_match,
    ),
    ReaderEntry(
        name="waters-raw",
        technique="lcms",
        description="Waters .raw folder: MS functions (lock mass left out), PDA/UV, analog channels (rainbow-api)",
        module=".waters.reader",
        directory=True,
        folder_match=waters_layout.folder_match,
    ),
    ReaderEntry(
        name="andi",
        technique="lcms",
        description="ANDI/AIA netCDF chromatography or mass-spectrometry export, read with scipy",
        module=".andi.reader",
        extensions=(".cdf", ".nc"),
        sniff=_sniff_netcdf,
    ),
    ReaderEntry(
        name="varian",
        technique="nmr",
        description="Varian/Agilent .fid folder (fid + procpar), read with nmrglue",
        module=".varian.reader",
        directory=True,
        folder_match=varian_layout.folder_match,
    ),
    ReaderEntry(
        name="bruker",
        technique="nmr",
        description="Bruker experiment folder (fid + acqus, or pdata/N with 1r), read with nmrglue",
        module=".bruker.reader",
        directory=True,
        folder_match=bruker_layout.folder_match,
    ),
    ReaderEntry(
        name="bruker-zip",
        technique="nmr",
        description="zip archive of one Bruker experiment (extracted safely)",
        module=".bruker.reader",
        extensions=(".zip",),
        sniff=_sniff_zip,
    ),
    ReaderEntry(
        name="jcamp",
        technique="nmr",
        description="JCAMP-DX 1D NMR spectrum or FID, read with nmrglue",
        module=".jcamp.reader",
        extensions=(".dx", ".jdx", ".jcamp"),
        sniff=_sniff_jcamp,
    ),
)


def formats() -> list[str]:
    return [entry.name for entry in REGISTRY]


def find_reader(path: str | Path, format_name: str | None = None) -> ReaderEntry:
    """Return the registry entry that reads ``path``; raise InputError if none does."""
    path = Path(path)
    if format_name:
        for entry in REGISTRY:
            if entry.name == format_name.lower():
                return entry
        raise InputError(f"unknown format {format_name!r}; known formats: {', '.join(formats())}", path)
    if not path.exists():
        if path.is_symlink():
            raise InputError("a symbolic link that leads nowhere (a loop, or its target is missing)", path)
        raise InputError("no such file or folder", path)
    if path.is_dir():
        try:
            for entry in REGISTRY:
                if entry.directory and entry.folder_match and entry.folder_match(path):
                    return entry
        except OSError as exc:
            raise InputError(f"cannot read folder ({exc.strerror or exc})", path) from exc
        raise InputError(f"folder is not a dataset specqc can read{_why_not_a_dataset(path)}", path)
    suffix = path.suffix.lower()
    for entry in REGISTRY:
        if not entry.directory and suffix in entry.extensions:
            return entry
    head = _head(path)
    if not head:
        raise InputError("file is empty", path)
    for entry in REGISTRY:
        if entry.sniff and entry.sniff(path, head):
            return entry
    raise InputError("unsupported file format (not recognised by extension or content)", path)


# Parts whose presence names the dataset a folder was meant to be, for the message when it is not one.
DATASET_PARTS = (
    ("fid", "a fid"),
    ("ser", "a ser"),
    ("1r", "a 1r"),
    ("acqus", "acqus"),
    ("procs", "procs"),
    ("procpar", "procpar"),
)


def _why_not_a_dataset(path: Path) -> str:
    """What a folder that matched no layout lacks, or holds that cannot be used."""
    try:
        children = sorted(path.iterdir())
    except OSError:
        return ""
    if not children:
        return ": it is empty"
    dangling = [p.name for p in children if p.is_symlink() and not p.exists()]
    if dangling:
        return f": {', '.join(dangling)} is a symbolic link that leads nowhere (a loop, or its target is missing)"
    present = {p.name for p in children}
    held = [label for name, label in DATASET_PARTS if name in present]
    if "fid" in present and not {"acqus", "procpar"} & present:
        return ": it holds a fid but neither acqus (Bruker) nor procpar (Varian)"
    if "acqus" in present and not {"fid", "ser", "pdata"} & present:
        return ": it holds acqus but no fid, ser or pdata (Bruker)"
    if held:
        return f": it holds {', '.join(held)}, not a complete Bruker or Varian dataset"
    return ""


def read(path: str | Path, format_name: str | None = None) -> InstrumentData:
    """Read an instrument file or dataset folder into the vendor-neutral model."""
    entry = find_reader(path, format_name)
    return entry.load(Path(path))
