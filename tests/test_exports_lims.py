"""Exports a LIMS imports: one value per cell, the latest flag, every batch or a date range."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from conftest import ROOT
from test_records import actor, open_store, report


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


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
    dialkyl = [
        r
        for r in rows
        if r["kind"] == "species" and r["unit"] == "% MS area" and r["name"].startswith("N,N-bis(ethoxycarbonylmethyl)")
    ]
    assert len(dialkyl) == 1 and float(dialkyl[0]["value"]) > 1.0 and dialkyl[0]["status"] == "detected"
    checks = {r["name"]: r["status"] for r in rows if r["kind"] == "check" and r["batch"] == "B-1"}
    assert checks["no-dialkylated-product"] == "fail"
    # each check carries the criterion it was judged against, from the thresholds in force
    limits = {r["name"]: r["limit"] for r in rows if r["kind"] == "check" and r["batch"] == "B-1"}
    assert limits["no-dialkylated-product"] == "< 1 % MS area; < 0.5 mol % 1H NMR"
    assert limits["product-present"] == ""  # a qualitative check has no numeric limit
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


def test_xlsx_cells_are_typed_and_columns_sized(tmp_path):
    from datetime import datetime

    from openpyxl import load_workbook

    from specqc.records.export import SPECIES_COLUMNS, STAGE_COLUMNS

    store = tmp_path / "s.sqlite"
    with open_store(store) as opened:
        opened.record(report("dz-alkylation-overalkylation", "B-1"), actor=actor())
    out = tmp_path / "b.xlsx"
    result = _cli("records", "--store", store, "export", "--batch", "B-1", "--format", "xlsx", "--output", out)
    assert result.returncode == 0, result.stderr
    book = load_workbook(out)
    summary = dict(zip(STAGE_COLUMNS, next(book["Summary"].iter_rows(min_row=2, values_only=True))))
    assert summary["latest"] is True and isinstance(summary["revision"], int)
    assert isinstance(summary["recorded_at"], datetime)
    assert isinstance(summary["product_ms_area_pct"], float)
    species = [dict(zip(SPECIES_COLUMNS, row)) for row in book["alkylation"].iter_rows(min_row=2, values_only=True)]
    found = [s for s in species if s["status"] == "detected"]
    assert found and all(isinstance(s["ms_area_pct"], float) and s["latest"] is True for s in found)
    widths = {letter: book["Summary"].column_dimensions[letter].width for letter in ("A", "B", "K")}
    assert widths["A"] == len(summary["record_id"]) + 2  # the record id column fits the ids
    assert widths["B"] == len("batch") + 2 and widths["K"] == max(len("verdict"), len(summary["verdict"])) + 2


def test_records_batch_is_one_row_per_stage_with_amounts_named(tmp_path):
    store = tmp_path / "s.sqlite"
    with open_store(store) as opened:
        for name in ("dz-alkylation-clean", "dz-alkylation-incomplete", "dz-cyclization-oligomers"):
            opened.record(report(name, "B-9"), actor=actor())
    view = _cli("records", "--store", store, "batch", "B-9")
    assert view.returncode == 0, view.stderr
    lines = view.stdout.splitlines()
    rows = [line for line in lines[1:] if not line.startswith(" ")]
    assert [row.split()[0] for row in rows] == ["alkylation", "cyclization"]  # one row per stage, route order
    alkylation = rows[0]
    # the latest analysis of the stage speaks for it; the other sample is named under it
    assert "dz-alkylation-incomplete" in alkylation and "fail" in alkylation
    assert any("other samples: dz-alkylation-clean (pass)" in line for line in lines)
    assert "intermediate ethyl N-[3-(Boc-amino)propyl]glycinate" in alkylation
    assert "% of MS signal (semi-quantitative)" in alkylation and "purity not assessed" in alkylation
