"""Exceptions by who is at fault, and the exit codes the CLI maps them to.

The library raises these and never prints or exits; `specqc.cli` turns them into
one line on stderr and the documented exit status.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records.claims import Claim

#: Exit statuses of the `specqc` command (documented in the README).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2  # unreadable, unsupported or invalid input, and usage errors
EXIT_CONFIG = 2  # a route, config file or option the user supplied is invalid (a usage error)
EXIT_REFERENCE = 3  # the package's own reference data is broken
EXIT_VERIFY = 4  # `specqc records verify` found a mismatch (tampered report, broken audit chain)


class SpecqcError(Exception):
    """Base of every error specqc raises on purpose."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, path: str | Path | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        return f"{self.path}: {text}" if self.path else text


class InputError(SpecqcError):
    """An instrument file or folder that cannot be read, is unsupported or invalid."""

    exit_code = EXIT_INPUT


class InputBoundError(InputError):
    """Reading one input hit a bound (wall-clock time or memory) before it finished.

    ``bound`` is ``"time"`` or ``"memory"``, so a caller such as the watch service
    can record that the file hit a bound, and which, beside the one-line reason."""

    def __init__(self, message: str, path: str | Path | None = None, bound: str = "time"):
        self.bound = bound
        super().__init__(message, path)


class ConfigError(SpecqcError):
    """A user-supplied route, configuration or parameter is invalid."""

    exit_code = EXIT_CONFIG


class ReferenceDataError(SpecqcError):
    """Package reference data (adducts, routes, tables) is missing or malformed."""

    exit_code = EXIT_REFERENCE


class InternalError(SpecqcError):
    """A bug in specqc: an invariant that should hold did not."""

    exit_code = EXIT_INTERNAL


class UnassignedError(ConfigError):
    """The route or stage of a dataset cannot be told (no sidecar, no matching name): nothing to analyse it as."""


class ClaimError(ConfigError):
    """Another running service already holds what this one needs (an inbox watched with the same store)."""

    holder: Claim | None  # the claim in the way, when the store raises it


class TransientError(SpecqcError):
    """The machine, not the input, is at fault (a full or read-only disk, a locked store): the same work may
    succeed later, so the watch service retries it without counting it as a failed attempt."""

    exit_code = EXIT_INPUT  # for the command line it is an unusable output or store: the user's to fix


class OutputError(TransientError):
    """An output file or folder cannot be written (disk full, read-only, no permission)."""


class StoreLockedError(TransientError):
    """The results store stayed locked by another process for longer than the busy timeout."""


def with_path(error: SpecqcError, path: str | Path) -> SpecqcError:
    """Return the same kind of error, now naming the file it concerns."""
    if error.path:
        return error
    return type(error)(error.message, path)
