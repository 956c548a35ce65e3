"""PDF of the HTML report, printed by headless Chromium.

The page is the HTML report itself with its print stylesheet; Chromium lays
it out and prints it on the paper size asked for (A4 or Letter), so what is
printed is what the browser shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConfigError, InternalError

PAPER_SIZES = {"a4": "A4", "letter": "letter"}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PRINT_TIMEOUT_S = 120.0


def find_chromium() -> str | None:
    """The Chromium to print with: $SPECQC_CHROMIUM, else the first on PATH."""
    configured = os.environ.get("SPECQC_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def html_to_pdf(html: str, paper: str = "a4") -> bytes:
    """The PDF of a self-contained HTML page on A4 or Letter paper."""
    size = PAPER_SIZES.get(paper.lower())
    if size is None:
        raise ConfigError(f"paper {paper!r}: use a4 or letter")
    chromium = find_chromium()
    if chromium is None:
        raise ConfigError(
            "a pdf report needs Chromium (Debian: apt-get install chromium; or set SPECQC_CHROMIUM to its path)"
        )
    # the paper size goes in as CSS: Chromium's printer honours @page size
    page = html.replace("</style>", f"@page{{size:{size}}}</style>", 1)
    with tempfile.TemporaryDirectory(prefix="specqc-pdf-") as folder:
        source, target = Path(folder) / "report.html", Path(folder) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        command = [
            chromium,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise InternalError(f"Chromium did not print the report within {PRINT_TIMEOUT_S:.0f} s") from exc
        if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            detail = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise InternalError(f"Chromium could not print the report (exit {done.returncode}: {detail[0]})")
        return target.read_bytes()
