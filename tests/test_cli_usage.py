"""The command line as a new user meets it: several inputs, output formats,
options that could mislead, and the terminal report on an 80-column screen."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, SAMPLES, report_of
from conftest import run_cli as specqc

LCMS = SAMPLES / "lcms"
NMR = SAMPLES / "nmr"


def narrow(*args, columns=80):
    """`specqc ARGS` as on an 80-column terminal (COLUMNS is what rich reads without a tty)."""
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": str(columns)},
    )


# ---------------------------------------------------------------- many inputs


def test_runs_of_different_stages_are_refused_not_merged(tmp_path):
    runs = sorted(LCMS.glob("dz-*.mzML"))
    out = tmp_path / "r.json"
    result = specqc("analyze", *runs, "--route", "diazepan-2-one", "--output", out)
    assert result.returncode == 2 and result.stdout == "" and not out.exists()
    (line,) = result.stderr.strip().splitlines()
    assert "cannot be one sample" in line and "stage alkylation" in line and "stage salt" in line
    assert "--sample-per-file" in line


def test_sample_per_file_writes_every_format_per_sample(tmp_path):
    runs = [LCMS / "dz-alkylation-clean.mzML", LCMS / "dz-deprotection-boc-left.mzML", LCMS / "dz-salt-clean.mzML"]
    out = tmp_path / "reports"
    result = specqc(
        "analyze", *runs, "--route", "diazepan-2-one", "--sample-per-file", "--output-dir", out, "--format", "json,html"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{run.stem}.{ext}" for run in runs for ext in ("json", "html")
    )
    stages = {run.stem: json.loads((out / f"{run.stem}.json").read_text())["route"]["stage"] for run in runs}
    assert stages == {
        "dz-alkylation-clean": "alkylation",
        "dz-deprotection-boc-left": "deprotection",
        "dz-salt-clean": "salt",
    }
    assert "<html" in (out / "dz-salt-clean.html").read_text()[:200].lower()
    announced = [line for line in result.stderr.splitlines() if "written to" in line]
    assert len(announced) == 6 and str(out / "dz-salt-clean.html") in result.stderr


def test_sidecar_sample_ids_group_lcms_and_nmr_and_split_the_rest(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    links = {
        "a.mzML": LCMS / "dz-salt-clean.mzML",
        "a-nmr": NMR / "dz-salt-nmr-clean",
        "b.mzML": LCMS / "dz-cyclization-oligomers.mzML",
    }
    for name, target in links.items():
        (inbox / name).symlink_to(target)
    for name, sample, stage in (("a.mzML", "S-1", "salt"), ("a-nmr", "S-1", "salt"), ("b.mzML", "S-2", "cyclization")):
        (inbox / f"{name}.json").write_text(json.dumps({"sample": sample, "stage": stage, "batch": "B7"}))
    out = tmp_path / "out"
    result = specqc(
        "analyze", inbox / "a.mzML", inbox / "b.mzML", inbox / "a-nmr", "--route", "diazepan-2-one", "--output-dir", out
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["S-1.json", "S-2.json"]  # json when no format is named
    first = json.loads((out / "S-1.json").read_text())
    assert sorted(i["technique"] for i in first["inputs"]) == ["lcms", "nmr"] and first["nmr"] is not None
    assert json.loads((out / "S-2.json").read_text())["route"]["stage"] == "cyclization"
    # the same sample id in two batches cannot be one sample
    (inbox / "b.mzML.json").write_text(json.dumps({"sample": "S-1", "stage": "salt", "batch": "B8"}))
    refused = specqc(
        "analyze", inbox / "a.mzML", inbox / "b.mzML", "--route", "diazepan-2-one", "--output-dir", tmp_path / "out2"
    )
    assert refused.returncode == 2
    assert "batch B7" in refused.stderr and "batch B8" in refused.stderr and not (tmp_path / "out2").exists()


def test_several_samples_need_an_output_dir_for_one_file_formats(tmp_path):
    runs = [LCMS / "dz-alkylation-clean.mzML", LCMS / "dz-salt-clean.mzML"]
    to_file = specqc(
        "analyze", *runs, "--route", "diazepan-2-one", "--sample-per-file", "--output", tmp_path / "r.json"
    )
    assert to_file.returncode == 2 and "--output-dir" in to_file.stderr and not (tmp_path / "r.json").exists()
    text = specqc("analyze", *runs, "--route", "diazepan-2-one", "--sample-per-file")
    assert text.returncode == 0 and text.stdout.count("Verdict: ") == 2
    assert "sample dz-salt-clean" in text.stdout


# ---------------------------------------------------------------- formats follow the output


def test_format_follows_the_output_extension_and_a_mismatch_is_refused(tmp_path):
    args = ("analyze", LCMS / "dz-deprotection-clean.mzML", "--route", "diazepan-2-one", "--stage", "deprotection")
    page = tmp_path / "r.html"
    result = specqc(*args, "--output", page)
    assert result.returncode == 0, result.stderr
    assert page.read_text().lstrip().lower().startswith("<!doctype html")
    assert f"report of dz-deprotection-clean written to {page}" in result.stderr
    document = tmp_path / "r.json"
    assert specqc(*args, "--output", document).returncode == 0
    assert json.loads(document.read_text())["schema"] == "specqc.report/1"
    wrong = specqc(*args, "--output", tmp_path / "x.html", "--format", "json")
    assert wrong.returncode == 2 and "does not match" in wrong.stderr and not (tmp_path / "x.html").exists()


# ---------------------------------------------------------------- options that cannot mislead


@pytest.mark.parametrize(
    "run, stage, tolerance, floor",
    [
        ("dz-salt-clean", "salt", "5 mDa", "0.25 Da"),  # unit resolution
        ("dz-cyclization-oligomers", "cyclization", "1 ppm", "3 ppm"),  # high resolution
    ],
)
def test_a_tolerance_below_the_resolution_is_refused(run, stage, tolerance, floor):
    result = specqc(
        "analyze", LCMS / f"{run}.mzML", "--route", "diazepan-2-one", "--stage", stage, "--tolerance", tolerance
    )
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert f"{run}.mzML" in line and tolerance in line and f"at least {floor}" in line


def test_a_tolerance_the_resolution_supports_is_used():
    result = specqc(
        "analyze",
        LCMS / "dz-cyclization-oligomers.mzML",
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
        "--tolerance",
        "5 ppm",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["lcms_runs"][0]["tolerance"] == "5 ppm"


def test_route_list_and_the_choices_of_options():
    listed = specqc("route", "list")
    assert listed.returncode == 0
    assert "diazepan-2-one" in listed.stdout and "alkylation -> deprotection -> cyclization -> salt" in listed.stdout
    assert "cyclobutylcarbonyl-diazepane" in listed.stdout
    bad = specqc(
        "analyze", LCMS / "dz-salt-clean.mzML", "--route", "diazepan-2-one", "--stage", "salt", "--input-format", "mzlm"
    )
    assert bad.returncode == 2 and "'mzml'" in bad.stderr and "'jcamp'" in bad.stderr
    from specqc.cli import INPUT_FORMATS
    from specqc.readers import REGISTRY

    assert set(INPUT_FORMATS) == {entry.name for entry in REGISTRY}


def test_ledger_and_its_alias_status(tmp_path):
    from specqc.records.store import Store

    store = tmp_path / "s.sqlite"
    with Store(store):
        pass
    ledger = specqc("ledger", "--store", store)
    status = specqc("status", "--store", store)
    assert ledger.returncode == status.returncode == 0
    assert ledger.stdout == status.stdout == "ledger empty\n"
    assert "watch service" in specqc("--help").stdout


def test_watch_route_and_stage_defaults(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    shutil.copy(LCMS / "dz-salt-clean.mzML", inbox / "mystery-run.mzML")  # no stage in its name
    time.sleep(0.5)
    base = [
        sys.executable,
        "-m",
        "specqc.cli",
        "watch",
        str(inbox),
        "--out",
        str(out),
        "--store",
        str(tmp_path / "s.sqlite"),
        "--once",
        "--settle",
        "0.3",
    ]
    wrong = subprocess.run(
        base + ["--route", "diazepan-2-one", "--stage", "final"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert wrong.returncode == 2 and "no stage 'final'" in wrong.stderr
    done = subprocess.run(
        base + ["--route", "diazepan-2-one", "--stage", "salt"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "done 1" in done.stderr and "unassigned 0" in done.stderr
    (report,) = [p for p in (out / "no-batch").glob("*.json") if not p.name.startswith("index")]
    document = json.loads(report.read_text())
    assert document["route"]["stage"] == "salt"
    assert document["sample"]["sources"]["stage"].startswith("default stage")


# ---------------------------------------------------------------- the terminal report


def test_terminal_report_fits_80_columns_and_puts_the_verdict_first():
    result = narrow(
        "analyze", LCMS / "dz-cyclization-oligomers.mzML", "--route", "diazepan-2-one", "--stage", "cyclization"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout  # nothing cut
    assert lines[0].startswith("Verdict: FAIL")
    order = [result.stdout.index(marker) for marker in ("Diagnoses", "fix 1:", "QC checks", "Species")]
    assert order == sorted(order)
    # a long name is broken after its own hyphens and brackets, every character kept
    assert "ethyl N-(3-" in result.stdout and "aminopropyl)" in result.stdout and "glycinate " in result.stdout
    # only what was found and what the stage expects; the rest counted
    assert "ethyl bromoacetate" not in result.stdout
    assert "Looked for and not found: 5 impurities of this stage and 3 other route species" in " ".join(
        result.stdout.split()
    )
    everything = narrow(
        "analyze",
        LCMS / "dz-cyclization-oligomers.mzML",
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
        "--all-species",
    )
    assert "bromoacetate" in everything.stdout and "n/a" in everything.stdout


def test_terminal_report_gives_da_and_nominal_mz_at_unit_resolution():
    result = narrow("analyze", LCMS / "dz-salt-clean.mzML", "--route", "diazepan-2-one", "--stage", "salt")
    assert result.returncode == 0, result.stderr
    assert "unit resolution" in " ".join(result.stdout.split()) and " ppm" not in result.stdout.split("Species")[1]
    row = next(line for line in result.stdout.splitlines() if "detected" in line and "[M+H]+" in line)
    assert " Da " in row and "ppm" not in row
    assert "m/z 115 " in result.stdout and "115.1" not in result.stdout  # nominal m/z in the check detail too
    wide = narrow(
        "analyze",
        LCMS / "dz-cyclization-oligomers.mzML",
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
        columns=160,
    )
    assert max(len(line) for line in wide.stdout.splitlines()) > 100  # the terminal's width is used
    assert "+1.0 ppm" in wide.stdout and "115.0867" in wide.stdout


def test_a_run_without_ms_says_so_instead_of_tolerance_none():
    from rich.console import Console

    from specqc.report.text import render

    report = json.loads(json.dumps(report_of("dz-salt-clean")))
    run = report["lcms_runs"][0]
    run.update(polarity=None, scans=0, tolerance=None, resolution=None)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render(report, width=80))
    text = console.export_text()
    assert "tolerance None" not in text and "no MS1 scans" in text


def test_wrap_name_keeps_every_character():
    from specqc.report.text import wrap_name

    name = "cyclic tetramer of ethyl N-(3-aminopropyl)glycinate"
    lines = wrap_name(name, 14).splitlines()
    assert len(lines) == 5 and all(len(line) <= 14 for line in lines)
    rebuilt = ""
    for line in lines:  # a line that ends at a hyphen or bracket continues without a space
        rebuilt += line if not rebuilt or rebuilt[-1] in "-,)" else " " + line
    assert rebuilt == name
    assert wrap_name("N,N-bis(ethoxycarbonylmethyl)", 10).replace("\n", "") == "N,N-bis(ethoxycarbonylmethyl)"


def test_one_bad_input_among_several_samples_leaves_no_partial_output(tmp_path):
    broken = tmp_path / "dz-salt-broken.mzML"
    broken.write_text("<mzML>truncated", encoding="utf-8")
    out = tmp_path / "reports"
    for jobs in ("1", "2"):  # one by one, and over worker processes
        result = specqc(
            "analyze",
            LCMS / "dz-alkylation-clean.mzML",
            broken,
            "--route",
            "diazepan-2-one",
            "--sample-per-file",
            "--output-dir",
            out,
            "--format",
            "json,html",
            "--jobs",
            jobs,
        )
        assert result.returncode == 2 and str(broken) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, no worker traceback
        assert not out.exists()  # the good sample's reports are not written either


def test_samples_analysed_in_worker_processes_give_the_reports_of_one_by_one(tmp_path):
    runs = sorted(LCMS.glob("dz-cyclization-*.mzML"))[:4] + [LCMS / "dz-salt-clean.mzML"]
    reports = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        result = specqc(
            "analyze",
            *runs,
            "--route",
            "diazepan-2-one",
            "--sample-per-file",
            "--output-dir",
            out,
            "--format",
            "json,text",
            "--jobs",
            jobs,
        )
        assert result.returncode == 0, result.stderr
        # announced in input order, whichever worker finished first
        assert [line.split(" report of ")[1].split(" written")[0] for line in result.stderr.splitlines()] == [
            run.stem for run in runs for _ in ("json", "text")
        ]
        reports[jobs] = {p.name: p.read_bytes() for p in out.iterdir()}  # reports are deterministic
    assert len(reports["1"]) == 2 * len(runs)
    assert reports["1"] == reports["2"]  # byte for byte
    # several samples to the terminal, in input order too
    text = specqc("analyze", *runs[:3], "--route", "diazepan-2-one", "--sample-per-file", "--jobs", "3")
    assert text.returncode == 0 and [line for line in text.stdout.splitlines() if line.startswith("=" * 8)] == [
        f"======== sample {run.stem} ========" for run in runs[:3]
    ]
