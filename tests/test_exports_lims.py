"""Exports a LIMS imports: one value per cell, the latest flag, every batch or a date range."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from conftest import ROOT
from test_records import actor, open_store, report


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "specqc.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


def test_values_export_has_one_value_per_cell_and_the_latest_flag(tmp_path):
    from specqc.records.export import VALUE_COLUMNS

    store = tmp_path / "s.sqlite"
    with open_store(store) as opened:
        opened.record(report("dz-alkylation-overalkylation", "B-1"), actor=actor())
        opened.record(report("dz-deprotection-boc-left", "B-2"), actor=actor())
    result = _cli("records", "--store", store, "export", "--format", "csv-values")  # every batch
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"))))
    assert tuple(rows[0]) == VALUE_COLUMNS
    assert {r["batch"] for r in rows} == {"B-1", "B-2"}
    assert all(" | " not in value for r in rows for value in r.values())
    assert {r["latest"] for r in rows} == {"true"}
    dialkyl = [r for r in rows if r["kind"] == "species" and r["unit"] == "% MS area"
               and r["name"].startswith("N,N-bis(ethoxycarbonylmethyl)")]
    assert len(dialkyl) == 1 and float(dialkyl[0]["value"]) > 1.0 and dialkyl[0]["status"] == "detected"
    checks = {r["name"]: r["status"] for r in rows if r["kind"] == "check" and r["batch"] == "B-1"}
    assert checks["no-dialkylated-product"] == "fail"
    assert {r["name"] for r in rows if r["kind"] == "diagnosis" and r["batch"] == "B-2"} == {"incomplete-deprotection"}
    # a date range with nothing in it is said so, exit 2
    empty = _cli("records", "--store", store, "export", "--until", "2000-01-01", "--format", "csv-values")
    assert empty.returncode == 2 and "no records for any batch in that time range" in empty.stderr
    # the species export carries the latest flag too; a re-analysis supersedes the first
    with open_store(store) as opened:
        again = report("dz-alkylation-overalkylation", "B-1")
        again["qc"]["checks"][0]["detail"] += " (re-run)"
        opened.record(again, actor=actor())
    long = _cli("records", "--store", store, "export", "--batch", "B-1", "--format", "csv-long")
    species = list(csv.DictReader(io.StringIO(long.stdout.lstrip("\ufeff"))))
    assert sorted({(r["revision"], r["latest"]) for r in species}) == [("1", "false"), ("2", "true")]
