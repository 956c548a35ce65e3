"""Capture what native libraries print on the C-level stderr while reading.

pyopenms reports recoverable parser problems (e.g. a missing ``softwareRef``)
by writing to file descriptor 2. Those lines belong in the report as reader
warnings, not on the user's terminal between progress bars.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def captured_native_stderr(sink: list[str]):
    try:
        fd = 2
        saved = os.dup(fd)
    except OSError:  # no usable stderr (e.g. a service without a console)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            sink.extend(line.strip() for line in text.splitlines() if line.strip())
