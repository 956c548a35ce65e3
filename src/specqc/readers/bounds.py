"""Bounds on reading one input: wall-clock time and memory.

Every read through the registry (`ReaderEntry.load`, so the command line and
the watch service alike) runs inside :func:`bounded`. A file that keeps a
reader busy past its time, or makes it allocate past its memory budget, ends
as :class:`~specqc.errors.InputBoundError` (an input error, exit 2) naming the
bound, instead of holding a worker or the machine.

How: a real-time interval timer interrupts the read (its exception derives
from BaseException, so a library's ``except Exception`` cannot swallow it), and
the soft address-space limit is lowered for the duration of the read, so an
allocation past the budget fails with MemoryError instead of growing the
process. Both are restored afterwards. The timer can only interrupt Python
code, and only in the main thread; native parsing is kept bounded by the
checks the readers make before handing a file to a native library (no DTD or
entities in XML, declared sizes against real sizes). Where the platform has no
interval timer or address-space limit (Windows), the read runs unbounded.

The defaults scale with the input's size; ``SPECQC_READ_TIMEOUT_S`` and
``SPECQC_READ_MEMORY_MB`` fix them instead.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from ..errors import ConfigError, InputBoundError
from ._native import captured_native_stderr

try:  # POSIX only
    import resource
    import signal
except ImportError:  # pragma: no cover - Windows: reads run unbounded (checked as `is not None` below)
    resource = None  # type: ignore[assignment]
    signal = None  # type: ignore[assignment]

MIB = 1024 * 1024
BASE_SECONDS = 60.0
SECONDS_PER_MIB = 0.05  # a 1 GiB input gets 60 s + 51 s
MEMORY_FLOOR_BYTES = 2048 * MIB
MEMORY_PER_INPUT_BYTE = 16  # decompressed arrays plus the library's own copies
SIZE_WALK_LIMIT = 20000  # files counted when sizing a dataset folder

TIMEOUT_VARIABLE = "SPECQC_READ_TIMEOUT_S"
MEMORY_VARIABLE = "SPECQC_READ_MEMORY_MB"

T = TypeVar("T")


class _DeadlineReached(BaseException):
    """Raised by the timer inside the read; turned into InputBoundError at the boundary."""


@dataclass(frozen=True)
class ReadLimits:
    """Bounds for one read; None means "from the input's size"."""

    seconds: float | None = None
    memory_bytes: int | None = None

    @classmethod
    def from_environment(cls) -> "ReadLimits":
        return cls(
            seconds=_positive_number(TIMEOUT_VARIABLE),
            memory_bytes=None if (mb := _positive_number(MEMORY_VARIABLE)) is None else int(mb * MIB),
        )

    def for_input(self, size_bytes: int) -> tuple[float, int]:
        seconds = self.seconds if self.seconds is not None else BASE_SECONDS + SECONDS_PER_MIB * size_bytes / MIB
        memory = (
            self.memory_bytes
            if self.memory_bytes is not None
            else max(MEMORY_FLOOR_BYTES, MEMORY_PER_INPUT_BYTE * size_bytes)
        )
        return seconds, memory


def _positive_number(variable: str) -> float | None:
    text = os.environ.get(variable, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"environment variable {variable}: {text!r} is not a positive number")
    return value


def input_size(path: Path) -> int:
    """Bytes of a file, or of the files in a dataset folder (links not followed)."""
    try:
        if not path.is_dir():
            return path.stat().st_size
        total = 0
        for count, (folder, _dirs, files) in enumerate(os.walk(path)):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(folder, name)).st_size
            if count >= SIZE_WALK_LIMIT:
                break
        return total
    except OSError:
        return 0


_state = threading.local()


@contextlib.contextmanager
def bounded(path: Path, limits: ReadLimits | None = None) -> Iterator[None]:
    """Run the body under the time and memory bound of reading ``path``.

    Reads nest (a zip archive reads the experiment inside it): only the
    outermost sets the bounds."""
    if getattr(_state, "active", False):
        yield
        return
    seconds, memory = (limits or ReadLimits.from_environment()).for_input(input_size(Path(path)))
    _state.active = True
    try:
        with _memory_bound(memory) as memory_bounded, _time_bound(seconds):
            try:
                yield
            except _DeadlineReached:
                raise InputBoundError(
                    f"reading took longer than {seconds:.3g} s, the time bound for this input", path, bound="time"
                ) from None
            except MemoryError:
                if not memory_bounded:
                    raise
                raise InputBoundError(
                    f"reading needed more than {memory / MIB:.0f} MiB of memory, the memory bound for this input",
                    path,
                    bound="memory",
                ) from None
    finally:
        _state.active = False


def bounded_read(read: Callable[[Path], T], path: Path, limits: ReadLimits | None = None) -> T:
    """``read(path)`` under the bounds; what the library prints on the native
    stderr, or warns, becomes reader warnings of the model instead of terminal noise."""
    printed: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with bounded(path, limits), captured_native_stderr(printed):
            model = read(path)
    notes = printed + [
        " ".join(str(w.message).split())
        for w in caught
        if not issubclass(w.category, (ResourceWarning, DeprecationWarning, PendingDeprecationWarning))
    ]
    metadata = getattr(model, "metadata", None)
    if notes and isinstance(metadata, dict):
        metadata.setdefault("reader_warnings", []).extend(notes)
    return model


@contextlib.contextmanager
def _time_bound(seconds: float) -> Iterator[None]:
    usable = (
        signal is not None and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def deadline(_signum: int, _frame: object) -> None:
        raise _DeadlineReached()

    previous_handler = signal.signal(signal.SIGALRM, deadline)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:  # someone else's timer: give it back what is left of it
            left = max(previous_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def _address_space_in_use() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as handle:
            pages = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def _memory_bound(budget: int) -> Iterator[bool]:
    """Lower the soft address-space limit to what is in use plus ``budget``.
    Yields whether a bound is in force."""
    in_use = _address_space_in_use() if resource is not None else None
    if in_use is None:
        yield False
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = in_use + budget
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield False  # already bounded more tightly by whoever started us
        return
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
