"""Claims: which running service holds a resource (an inbox today) in a store.

A claim is a lease: the holder renews it while it runs and releases it when it
stops. Whether a holder is still there is decided like this:

- on this host, by its process: a dead pid, or a pid now belonging to another
  process (other boot, other start time), frees the claim at once, so a
  service restarted after a crash or `kill -9` never waits; a live one is never
  displaced, however late its renewal (a store on one PC keeps its guarantee);
- on another host (a shared store), by the lease alone: an unrenewed claim
  expires after its lease time and can be taken over.

The same rules serve a server store with many writers, where a claim per
dataset would let a service killed mid-analysis hand its work over once its
lease runs out.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class Claim:
    resource: str
    holder: str
    host: str
    pid: int
    process: str | None  # what identifies the holder's process beyond its pid (see process_token)
    acquired_at: float  # seconds since the epoch
    renewed_at: float
    expires_at: float

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.acquired_at, timezone.utc).astimezone().isoformat(timespec="seconds")
        return f"host {self.host}, pid {self.pid}, since {since}"


def new_holder() -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


def process_token(pid: int) -> str | None:
    """Boot and start time of a process, where the system tells them cheaply
    (Linux); None elsewhere. A pid reused by another process has another token."""
    boot = _boot_id()
    if boot is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and brackets
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another account
        return True
    return True


def _windows_process_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    # typeshed declares WinDLL and get_last_error on Windows only
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # type: ignore[attr-defined]  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def holder_alive(claim: Claim, now: float) -> bool:
    if claim.host == socket.gethostname():
        if not process_alive(claim.pid):
            return False
        current = process_token(claim.pid)
        if claim.process is not None and current is not None:
            return current == claim.process
        return now < claim.expires_at  # no way to tell a reused pid: the lease decides
    return now < claim.expires_at
