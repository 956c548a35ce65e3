"""A results store as the watch service leaves it, for the dashboard tests: real
analyses of shipped LC-MS runs with their HTML reports recorded, one of them of
a file whose name is markup (every page must show it as text), and accounts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT, SAMPLES

MARKUP_NAME = "dz-deprotection-<img src=x onerror=alert(1)>&<b>x"
MARKUP_BATCH = 'B<"2">&'
REVIEWER, REVIEWER_PASSWORD = "rita", "rita-signs-42"
VIEWER, VIEWER_PASSWORD = "victor", "victor-reads-42"


@dataclass
class Site:
    store: Path
    reports: Path
    boc_left: str  # record id of the fail analysis (batch B-1)
    markup: str  # record id of the analysis of the file named with markup
    boc_left_html: Path


def record_analysis(store, source: Path, batch: str, reports: Path, stage: str = "deprotection") -> tuple[str, Path]:
    from specqc.pipeline import analyze
    from specqc.records.store import Actor
    from specqc.report.document import build_report
    from specqc.report.html import render_html

    analysis = analyze([source], "diazepan-2-one", stage, batch=batch)
    report = build_report(analysis)
    html = reports / f"{source.stem.replace('<', '_').replace('>', '_').replace('/', '_')}.html"
    html.write_text(render_html(report, analysis), encoding="utf-8")
    recorded = store.record(report, actor=Actor("watcher", "lab-pc", "watch"), report_files=[(html, "html")])
    return recorded.id, html


def cli(*args, stdin: str | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", *map(str, args)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )


def build_site(root: Path) -> Site:
    from specqc.records.store import Store

    reports = root / "reports"
    inputs = root / "inputs"
    reports.mkdir(parents=True)
    inputs.mkdir()
    boc_left_source = inputs / "dz-deprotection-boc-left.mzML"
    shutil.copy(SAMPLES / "lcms" / "dz-deprotection-boc-left.mzML", boc_left_source)
    markup_source = inputs / f"{MARKUP_NAME}.mzML"
    shutil.copy(SAMPLES / "lcms" / "dz-deprotection-clean.mzML", markup_source)
    store_path = root / "records.sqlite"
    with Store(store_path) as store:
        boc_left, html = record_analysis(store, boc_left_source, "B-1", reports)
        markup, _ = record_analysis(store, markup_source, MARKUP_BATCH, reports)
    for name, role, password in ((REVIEWER, "reviewer", REVIEWER_PASSWORD), (VIEWER, "viewer", VIEWER_PASSWORD)):
        added = cli("users", "--store", store_path, "add", name, "--role", role, stdin=password + "\n")
        assert added.returncode == 0, added.stderr
    return Site(store_path, reports, boc_left, markup, html)


def copy_site(site: Site, root: Path) -> Site:
    """A private copy (tests that write reviews or tamper must not share a store)."""
    target = root / "copy.sqlite"
    from specqc.records.store import Store

    with Store(site.store) as store:  # a consistent copy of a WAL database
        store.connection.execute("VACUUM INTO ?", (str(target),))
    return Site(target, site.reports, site.boc_left, site.markup, site.boc_left_html)
