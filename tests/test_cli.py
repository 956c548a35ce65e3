"""The `specqc` command as scripts and the watch service call it (REPORT-CONTRACT.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import REALDATA, ROOT
from conftest import run_cli as specqc

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_CASES = ["dz-deprotection-boc-left", "dz-cyclization-clean", "cb-acylation-unit-ambiguous"]
CONTRACT_SPECIES_KEYS = {
    "id",
    "name",
    "role",
    "formula",
    "monoisotopic_mass",
    "detected",
    "status",
    "confidence",
    "ambiguous_with",
    "lcms",
    "nmr",
}
ROLES = {
    "product",
    "starting-material",
    "reagent",
    "intermediate",
    "protected-intermediate",
    "linear-precursor",
    "dialkylated",
    "piperazine",
    "oligomer",
    "hydrolysis",
}


def sample(name: str) -> str:
    return f"samples/lcms/{name}.mzML"


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_json_report_is_golden_and_deterministic(name, tmp_path):
    truth = json.loads((ROOT / "samples" / "lcms" / f"{name}.truth.json").read_text())
    result = specqc("analyze", sample(name), "--route", truth["route"], "--stage", truth["stage"], "--format", "json")
    assert result.returncode == 0, result.stderr
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("SPECQC_REGENERATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(result.stdout, encoding="utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    produced = json.loads(result.stdout)
    expected["specqc_version"] = produced["specqc_version"]  # the stamp moves with releases
    assert produced == expected
    again = specqc("analyze", sample(name), "--route", truth["route"], "--stage", truth["stage"], "--format", "json")
    assert again.stdout == result.stdout


def test_json_report_follows_the_contract():
    result = specqc(
        "analyze",
        sample("dz-cyclization-oligomers"),
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "specqc.report/1"
    assert report["route"] == {**report["route"], "id": "diazepan-2-one", "stage": "cyclization"}
    (record,) = report["inputs"]
    assert record["technique"] == "lcms" and record["format"] == "mzml" and len(record["sha256"]) == 64
    import hashlib

    assert record["sha256"] == hashlib.sha256((ROOT / sample("dz-cyclization-oligomers")).read_bytes()).hexdigest()
    assert len(report["species"]) == 14  # every route species, detected or not
    assert any(entry["lcms"] and entry["lcms"]["ions"] for entry in report["species"])
    for entry in report["species"]:
        assert CONTRACT_SPECIES_KEYS <= set(entry)
        assert entry["role"] in ROLES
        if entry["lcms"]:
            assert {"rt_min", "area", "relative_area_pct", "ions"} <= set(entry["lcms"])
            for ion in entry["lcms"]["ions"]:
                assert {"ion", "mz", "ppm_error", "area"} <= set(ion)
    for peak in report["unexplained_peaks"]:
        assert {"rt_min", "mz", "area", "relative_area_pct"} <= set(peak)
    assert report["qc"]["verdict"] in ("pass", "fail", "inconclusive")
    assert all(c["status"] in ("pass", "fail", "not-assessed") for c in report["qc"]["checks"])
    for entry in report["species"]:
        assert entry["detected"] == (entry["status"] == "detected")
        assert entry["status"] in ("detected", "tentative", "in-blank", "not-detected")
        if entry["confidence"] is not None:
            assert 0.0 <= entry["confidence"]["value"] <= 1.0 and entry["confidence"]["parts"]
    # one signal counts once: detected and tentative species and unexplained peaks share 100 %
    total = sum(
        e["lcms"]["relative_area_pct"]
        for e in report["species"]
        if e["status"] in ("detected", "tentative") and not e["ambiguous_with"]
    )
    total += sum(p["relative_area_pct"] for p in report["unexplained_peaks"])
    assert total == pytest.approx(100.0, abs=0.5)
    assert report["parameters"]["lcms"]["tolerance_used"].endswith(" ppm")
    assert report["reference_data"]["adducts.csv"] == "2"


def test_text_report_names_species_and_verdict():
    result = specqc(
        "analyze", sample("dz-alkylation-overalkylation"), "--route", "diazepan-2-one", "--stage", "alkylation"
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("Verdict: FAIL") and "over-alkylation" in first
    assert "N,N-bis(ethoxycarbonylmethyl)" in result.stdout
    assert "no-dialkylated-product" in result.stdout
    assert "fix 1: Block the second nitrogen" in result.stdout
    assert "read more: diazepan-2-one-hydrochloride-guide, Troubleshooting Q1" in result.stdout


def test_output_file_is_written_once_and_never_silently_replaced(tmp_path):
    out = tmp_path / "report.json"
    args = (
        "analyze",
        sample("dz-deprotection-clean"),
        "--route",
        "diazepan-2-one",
        "--stage",
        "deprotection",
        "--format",
        "json",
        "--output",
        out,
    )
    assert specqc(*args).returncode == 0
    first = out.read_text()
    assert json.loads(first)["schema"] == "specqc.report/1"
    assert specqc(*args).returncode == 0  # identical content: fine
    out.write_text("{}")
    refused = specqc(*args)
    assert refused.returncode == 2 and "--force" in refused.stderr and out.read_text() == "{}"
    assert specqc(*args, "--force").returncode == 0 and out.read_text() == first
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda d: d / "missing.mzML", "no such file or folder"),
        (lambda d: _write(d / "empty.mzML", b""), "file is empty"),
        (lambda d: _write(d / "broken.mzML", b"<?xml version='1.0'?><mzML><run>"), "not a readable mzml file"),
        (lambda d: _write(d / "notes.txt", b"hello"), "unsupported file format"),
        (lambda d: _truncated(d / "truncated.mzML"), "not a readable mzml file"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, make_input, message):
    path = make_input(tmp_path)
    out = tmp_path / "out.json"
    result = specqc(
        "analyze", path, "--route", "diazepan-2-one", "--stage", "salt", "--format", "json", "--output", out
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not out.exists() and result.stdout == ""


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _truncated(path: Path) -> Path:
    data = (ROOT / sample("dz-salt-clean")).read_bytes()
    return _write(path, data[: len(data) // 2])


@pytest.mark.parametrize(
    "args, message",
    [
        (("--route", "no-such-route", "--stage", "salt"), "unknown route"),
        (("--route", "diazepan-2-one", "--stage", "final"), "no stage 'final'"),
        (("--route", "diazepan-2-one", "--stage", "salt", "--tolerance", "ten ppm"), "tolerance"),
        (("--route", "diazepan-2-one", "--stage", "salt", "--format", "docx"), "Invalid value"),
        (("--route", "diazepan-2-one", "--stage", "salt", "--format", "pdf"), "pdf report needs --output"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = specqc("analyze", sample("dz-salt-clean"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_user_route_file_error_names_file_and_field(tmp_path):
    route = tmp_path / "my-route.toml"
    route.write_text(
        'schema = "specqc.route/1"\nid = "x"\n[[species]]\nid = "p"\nrole = "product"\n'
        'smiles = "not a smiles"\n[[stages]]\nid = "s"\nmain = ["p"]\n'
    )
    result = specqc("analyze", sample("dz-salt-clean"), "--route", route, "--stage", "s")
    assert result.returncode == 2
    assert str(route) in result.stderr and "species[0].smiles" in result.stderr


def test_route_show_and_check():
    shown = specqc("route", "show", "diazepan-2-one")
    assert shown.returncode == 0
    for text in ("piperazin-2-one", "C10H20N4O2", "[M+H-C5H8O2]+", "over-alkylation", "MAIN"):
        assert text in shown.stdout, text
    checked = specqc("route", "check", "cyclobutylcarbonyl-diazepane")
    assert checked.returncode == 0 and "OK" in checked.stdout


def test_route_check_reports_wrong_ring_size(tmp_path):
    from test_routes import GUIDE_VARIANT

    route = tmp_path / "guide.toml"
    route.write_text(GUIDE_VARIANT)
    checked = specqc("route", "check", route)
    assert checked.returncode == 0 and "6-membered" in checked.stdout
    analysed = specqc(
        "analyze", sample("dz-cyclization-piperazine"), "--route", route, "--stage", "cyclization", "--format", "json"
    )
    assert analysed.returncode == 0, analysed.stderr
    warnings = json.loads(analysed.stdout)["route"]["warnings"]
    assert warnings and "ring size mismatch" in warnings[0]


def test_reader_warnings_reach_the_report_not_the_terminal():
    beer = REALDATA / "lcms-mzml/thermo-exactive-beer-dda/testdata.mzml"
    if not beer.exists():
        pytest.skip("../shared/realdata is not present")
    result = specqc("analyze", beer, "--route", "diazepan-2-one", "--stage", "salt", "--format", "json")
    assert result.returncode == 0 and result.stderr == ""
    notes = json.loads(result.stdout)["lcms_runs"][0]["notes"]
    assert any("softwareRef" in note for note in notes)


def test_recognising_a_bruker_folder_loads_no_other_reader():
    """Folder layouts are checked by light modules: picking the reader for an NMR
    experiment must not import the LC-MS readers (or rainbow) on the way."""
    import subprocess
    import sys

    probe = (
        "import sys; from specqc.readers import find_reader; "
        f"print(find_reader({str(ROOT / 'samples' / 'nmr' / 'dz-salt-nmr-ether')!r}).name); "
        "print(','.join(sorted(m for m in sys.modules if m.startswith(('specqc.readers.', 'rainbow')))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    name, modules = result.stdout.splitlines()
    assert name == "bruker"
    assert not [m for m in modules.split(",") if m.endswith(".reader") or m.startswith("rainbow")]


def test_a_silent_blank_is_a_clean_system_but_a_silent_sample_is_refused(tmp_path):
    """A blank with no signal at all holds nothing to subtract; a sample with none has nothing to analyse."""
    import numpy as np
    import pyopenms as oms

    experiment = oms.MSExperiment()
    oms.MzMLFile().load(sample("dz-cyclization-clean"), experiment)
    silent = []
    for spectrum in experiment.getSpectra():
        mz, intensity = spectrum.get_peaks()
        spectrum.set_peaks((mz, np.zeros_like(intensity)))
        silent.append(spectrum)
    experiment.setSpectra(silent)
    blank = tmp_path / "silent-blank.mzML"
    oms.MzMLFile().store(str(blank), experiment)

    result = specqc(
        "analyze",
        sample("dz-cyclization-clean"),
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
        "--blank",
        str(blank),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    product = next(s for s in report["species"] if s["id"] == "diazepan-2-one")
    assert product["status"] == "detected"
    assert any(i.get("role") == "blank" and i["path"] == str(blank) for i in report["inputs"])

    refused = specqc("analyze", str(blank), "--route", "diazepan-2-one", "--stage", "cyclization")
    assert (
        refused.returncode == 2
        and str(blank) in refused.stderr
        and "no spectrum holds a positive intensity" in refused.stderr
    )


@pytest.mark.parametrize(
    "kind, content, names",
    [
        ("config", "[thresholds\n", "not valid toml"),
        ("config", '[thresholds]\nfinal_purity_min_pct = "high"\n', "final_purity_min_pct"),
        ("config", "[thresholds]\nno_such_threshold = 1\n", "no_such_threshold"),
        ("config", '[sample]\nname_pattern = "(unclosed"\n', "name_pattern"),
        ("config", "[store]\nbusy_timeout_s = -3\n", "busy_timeout_s"),
        ("config", "[blank]\npattern = 7\n", "pattern"),
        ("config", '[uv]\nwavelengths_nm = "254"\n', "wavelengths_nm"),
        ("config", "[mystery]\n", "mystery"),
        ("sidecar", "{not json", "not readable json"),
        ("sidecar", "[1, 2]", "json object"),
        ("sidecar", '{"stage": 5}', "'stage'"),
        ("sidecar", '{"route": "  "}', "'route'"),
    ],
)
def test_a_malformed_config_or_sidecar_value_is_one_line_naming_file_and_key(tmp_path, kind, content, names):
    run = tmp_path / "dz-cyclization-clean.mzML"
    run.write_bytes(Path(sample("dz-cyclization-clean")).read_bytes())
    args = ["analyze", str(run), "--format", "json", "--output", str(tmp_path / "out.json")]
    if kind == "config":
        broken = tmp_path / "specqc.toml"
        args += ["--route", "diazepan-2-one", "--stage", "cyclization", "--config", str(broken)]
    else:
        broken = tmp_path / "dz-cyclization-clean.mzML.json"
    broken.write_text(content, encoding="utf-8")
    result = specqc(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and names in lines[0].lower(), result.stderr
    assert "internal error" not in result.stderr and not (tmp_path / "out.json").exists()
