"""Writing output files so that a reader never sees half of one."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import OutputError

# A temporary file is named after its target and the process writing it, so a
# file left by a process that was killed can be told from one still being written.
TEMPORARY_SUFFIX = ".specqc-tmp"
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+" + re.escape(TEMPORARY_SUFFIX) + "$")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def replace_atomically(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it
    over `path`: the file is either the old one or the whole new one. A file
    that cannot be written (disk full, read-only, no permission) raises
    OutputError and leaves nothing behind."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=TEMPORARY_SUFFIX, dir=path.parent
        )
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path) from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(raw)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; a report is for sharing
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write: {exc.strerror or exc}", path) from exc
        raise


def remove_abandoned_temporaries(folder: Path, alive: Callable[[int], bool]) -> list[Path]:
    """Delete the temporary files under `folder` whose writing process is gone
    (killed mid-write); those of a live process are left alone."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for item in folder.rglob(f".*{TEMPORARY_SUFFIX}"):
        match = _TEMPORARY.match(item.name)
        if match is None or alive(int(match["pid"])):
            continue
        try:
            item.unlink()
        except FileNotFoundError:
            continue
        removed.append(item)
    return removed
