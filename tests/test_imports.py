"""What a command imports: `specqc --help` and an LC-MS-only analysis load only
what their path needs (the set of modules, not their time: start-up speed is
measured by benchmarks/lcms_cold.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, SAMPLES

# Prints every imported module at exit, whatever the command's exit status.
PROBE = (
    "import atexit, json, sys\n"
    "out = sys.argv.pop(1)\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv[0] = 'specqc'\n"
    "from specqc.cli import main\n"
    "main()\n"
)
NEVER_FOR_LCMS = ("nmrglue", "sklearn", "openpyxl", "jsonschema", "scipy")


def _imported(tmp_path, *args) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def _packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_help_imports_no_analysis_library(tmp_path):
    modules = _imported(tmp_path, "--help")
    assert "click" in modules and "specqc.cli" in modules
    assert not _packages(modules) & {*NEVER_FOR_LCMS, "rich", "numpy", "pyopenms", "rdkit"}


def test_lcms_json_analysis_imports_only_its_path(tmp_path):
    modules = _imported(
        tmp_path,
        "analyze",
        SAMPLES / "lcms" / "dz-cyclization-oligomers.mzML",
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
        "--format",
        "json",
    )
    assert {"pyopenms", "specqc.lcms.analysis", "specqc.report.document"} <= modules  # the analysis ran
    # no peak finding through scipy.signal (lcms.maxima), no NMR reader, no tables for a JSON report
    assert not _packages(modules) & {*NEVER_FOR_LCMS, "rich"}
    # the other formats' readers (their small layout sniffers are the registry's)
    assert not {m for m in modules if m.startswith("specqc.readers.") and m.endswith(".reader")} - {
        "specqc.readers.mzml.reader"
    }


def test_lcms_text_report_adds_only_rich(tmp_path):
    modules = _imported(
        tmp_path,
        "analyze",
        SAMPLES / "lcms" / "dz-cyclization-oligomers.mzML",
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
    )
    assert "rich.table" in modules
    assert not _packages(modules) & set(NEVER_FOR_LCMS)
