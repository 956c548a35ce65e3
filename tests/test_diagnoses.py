"""Diagnoses, per-stage QC and verdicts: the catalogue against the guides, every
sample's exact diagnoses, thresholds from config, stage identification."""

from __future__ import annotations

import json
import re
import shutil
from functools import lru_cache

import pytest

from conftest import ROOT, SAMPLES, lcms_samples, nmr_samples, nmr_report_of, nmr_truth_of, report_of, truth_of

GUIDES = ROOT.parent / "shared" / "guides"
CHEMISTRY = ROOT.parent / "shared" / "CHEMISTRY.md"
SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def set_names() -> list[str]:
    return sorted(p.name[: -len(".truth.json")] for p in (SAMPLES / "sets").glob("*.truth.json"))


def set_truth(name: str) -> dict:
    return json.loads((SAMPLES / "sets" / f"{name}.truth.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def set_report(name: str) -> dict:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    truth = set_truth(name)
    return build_report(analyze([SAMPLES / p for p in truth["inputs"]], truth["route"], truth["stage"]))


def all_cases() -> list[tuple[str, str]]:
    return (
        [("lcms", n) for n in lcms_samples()] + [("nmr", n) for n in nmr_samples()] + [("set", n) for n in set_names()]
    )


def case(kind: str, name: str) -> tuple[dict, dict]:
    if kind == "lcms":
        return truth_of(name), report_of(name)
    if kind == "nmr":
        return nmr_truth_of(name), nmr_report_of(name)
    return set_truth(name), set_report(name)


# ---------------------------------------------------------------- samples


@pytest.mark.parametrize("kind,name", all_cases())
def test_sample_gets_exactly_its_diagnoses_and_verdict(kind, name):
    truth, report = case(kind, name)
    raised = sorted(d["id"] for d in report["diagnoses"])
    assert raised == truth["qc"]["diagnoses"], [d["evidence"] for d in report["diagnoses"]]
    assert report["qc"]["verdict"] == truth["qc"]["verdict"], report["qc"]["checks"]


def test_every_catalogue_entry_is_proven_by_a_sample():
    from specqc.diagnose.knowledge import CATALOGUE_IDS

    proven = {d for kind, name in all_cases() for d in case(kind, name)[0]["qc"]["diagnoses"]}
    assert proven == set(CATALOGUE_IDS)


def test_every_stage_of_both_routes_has_a_clean_passing_sample():
    from specqc.chem.route import load_route

    passing = {
        (t["route"], t["stage"])
        for kind, name in all_cases()
        for t in [case(kind, name)[0]]
        if t["qc"] == {"verdict": "pass", "diagnoses": []}
    }
    for route_id in ("diazepan-2-one", "cyclobutylcarbonyl-diazepane"):
        for stage in load_route(route_id).stages:
            assert (route_id, stage.id) in passing, f"no clean passing sample for {route_id}/{stage.id}"


def cases_with_diagnoses() -> list[tuple[str, str]]:
    """Only the samples whose truth raises a diagnosis: a clean one would check nothing."""
    return [(kind, name) for kind, name in all_cases() if case(kind, name)[0]["qc"]["diagnoses"]]


@pytest.mark.parametrize("kind,name", cases_with_diagnoses())
def test_diagnoses_carry_evidence_fixes_and_references(kind, name):
    _, report = case(kind, name)
    assert report["diagnoses"], "the sample's truth raises diagnoses; the report has none"
    for diagnosis in report["diagnoses"]:
        assert diagnosis["evidence"] and all(line.strip() for line in diagnosis["evidence"])
        assert diagnosis["fixes"] and len(diagnosis["fixes"]) == len(diagnosis["fix_refs"])
        assert diagnosis["guide_refs"] and diagnosis["cause"]
        assert diagnosis["severity"] in ("fail", "warning")


def test_evidence_names_species_ions_retention_time_and_areas():
    report = report_of("dz-alkylation-overalkylation")
    (line,) = next(d for d in report["diagnoses"] if d["id"] == "over-alkylation")["evidence"]
    assert "N,N-bis(ethoxycarbonylmethyl) Boc-diamine" in line
    assert "[M+H]+ m/z 347.21" in line and "RT 3.9" in line and "% MS area" in line
    nmr = nmr_report_of("dz-salt-nmr-boc-left")
    (line,) = next(d for d in nmr["diagnoses"] if d["id"] == "incomplete-deprotection")["evidence"]
    assert "C(CH3)3 s 1.3" in line and "(9H)" in line and "mol %" in line
    solvent = next(d for d in nmr_report_of("dz-salt-nmr-dioxane")["diagnoses"] if d["id"] == "residual-solvent")
    assert "1,4-dioxane" in solvent["evidence"][0] and "380 ppm" in solvent["evidence"][0]


def test_the_same_molecule_is_product_at_one_stage_and_impurity_at_the_next():
    # the Boc-protected glycinate is the alkylation product and a deprotection failure
    assert report_of("dz-alkylation-clean")["diagnoses"] == []
    assert [d["id"] for d in report_of("dz-deprotection-boc-left")["diagnoses"]] == ["incomplete-deprotection"]


def test_ambiguous_ions_leave_the_check_not_assessed_and_raise_nothing():
    report = report_of("cb-acylation-unit-ambiguous")
    checks = {c["id"]: c for c in report["qc"]["checks"]}
    assert checks["starting-material-consumed"]["status"] == "not-assessed"
    assert "cannot be told apart" in checks["starting-material-consumed"]["detail"]
    assert "incomplete-alkylation" not in {d["id"] for d in report["diagnoses"]}
    assert "ester-hydrolysis" not in {d["id"] for d in report["diagnoses"]}


def test_a_check_without_data_is_not_assessed_never_pass():
    checks = {c["id"]: c for c in report_of("dz-salt-clean")["qc"]["checks"]}
    for check_id in ("identity", "salt-formed", "residual-solvents-within-ich-q3c", "water-content"):
        assert checks[check_id]["status"] == "not-assessed", checks[check_id]
    nmr_only = {c["id"]: c for c in nmr_report_of("dz-cyclization-nmr-ester")["qc"]["checks"]}
    assert nmr_only["oligomers-absent"]["status"] == "not-assessed"  # no NMR reference for oligomers


def test_lcms_and_nmr_evidence_are_combined_and_disagreement_reported():
    combined = set_report("dz-salt-complete-clean")
    checks = {c["id"]: c["status"] for c in combined["qc"]["checks"]}
    assert checks == {
        "product-present": "pass",
        "identity": "pass",
        "purity": "pass",
        "salt-formed": "pass",
        "residual-solvents-within-ich-q3c": "pass",
        "water-content": "pass",
    }
    product = next(s for s in combined["species"] if s["id"] == "diazepan-2-one")
    assert product["evidence"] == ["lcms", "nmr"]
    assert combined["disagreements"] == []
    disputed = set_report("dz-salt-disagreement")
    (note,) = disputed["disagreements"]
    assert "ethyl N-[3-(Boc-amino)propyl]glycinate" in note and "no ion of it is found by MS" in note
    purity = next(c for c in disputed["qc"]["checks"] if c["id"] == "purity")
    assert "MS area" in purity["detail"] and "1H NMR" in purity["detail"]  # both figures, methods named


def test_purity_says_which_figure_it_used():
    report = report_of("dz-salt-lowpurity")
    purity = next(c for c in report["qc"]["checks"] if c["id"] == "purity")
    # MS area % alone is semi-quantitative: shown, never judged (neither pass nor fail)
    assert purity["status"] == "not-assessed"
    assert "MS area %" in purity["detail"] and "semi-quantitative" in purity["detail"]
    value = float(re.search(r"([\d.]+) % by MS", purity["detail"]).group(1))
    assert 93.0 < value < 97.0  # the unknown is ~5 % of the ion signal
    (low,) = report["diagnoses"]
    assert low["id"] == "low-purity" and low["severity"] == "warning" and "UV area %" in low["evidence"][0]
    clean = next(c for c in report_of("dz-salt-clean")["qc"]["checks"] if c["id"] == "purity")
    assert clean["status"] == "not-assessed" and "no quantitative figure" in clean["detail"]


# ---------------------------------------------------------------- thresholds and config


def _analyze(paths, route=None, stage=None, config=None):
    from specqc.config import load_settings
    from specqc.pipeline import analyze
    from specqc.report.document import build_report

    return build_report(analyze(paths, route, stage, settings=load_settings(config)))


def test_thresholds_come_from_the_user_config(tmp_path):
    path = SAMPLES / "lcms" / "dz-alkylation-overalkylation.mzML"
    config = tmp_path / "specqc.toml"
    config.write_text("[thresholds]\ndialkylated_max_area_pct = 20\n", encoding="utf-8")
    relaxed = _analyze([path], "diazepan-2-one", "alkylation", config)
    assert [d["id"] for d in relaxed["diagnoses"]] == ["incomplete-alkylation"]  # 17 % dialkylated now tolerated
    assert relaxed["parameters"]["qc"]["thresholds"]["dialkylated_max_area_pct"] == 20.0
    assert relaxed["parameters"]["qc"]["source"] == str(config)
    default = _analyze([path], "diazepan-2-one", "alkylation")
    assert default["parameters"]["qc"]["thresholds"]["dialkylated_max_area_pct"] == 1.0


@pytest.mark.parametrize(
    "text,message",
    [
        ("[thresholds]\npurity_min = 97\n", "not a known threshold"),
        ("[thresholds]\npurity_min_pct = -1\n", "non-negative"),
        ("[sample]\nname_pattern = '(unclosed'\n", "not a valid regular expression"),
        ("[sample]\nname_pattern = '(?P<batch>x)'\n", "(?P<stage>"),
        ("[colours]\nx = 1\n", "unknown section"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_config_is_a_one_line_usage_error(tmp_path, text, message):
    from test_cli import specqc

    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    result = specqc("analyze", "samples/lcms/dz-alkylation-clean.mzML", "--route", "diazepan-2-one", "--config", config)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert str(config) in line and message in line


# ---------------------------------------------------------------- stage identification


def test_stage_is_read_from_the_file_name():
    report = _analyze([SAMPLES / "lcms" / "cb-ring-formation-oligomers.mzML"], "cyclobutylcarbonyl-diazepane")
    assert report["route"]["stage"] == "ring-formation"
    assert "file name" in report["sample"]["sources"]["stage"]


def test_sidecar_names_batch_route_and_stage(tmp_path):
    data = tmp_path / "run-0042.mzML"
    shutil.copy(SAMPLES / "lcms" / "dz-deprotection-boc-left.mzML", data)
    (tmp_path / "run-0042.json").write_text(
        json.dumps({"batch": "B-17", "route": "diazepan-2-one", "stage": "deprotection"}), encoding="utf-8"
    )
    report = _analyze([data])
    assert report["route"]["stage"] == "deprotection" and report["sample"]["batch"] == "B-17"
    assert report["sample"]["sources"]["stage"].startswith("sidecar")
    assert [d["id"] for d in report["diagnoses"]] == ["incomplete-deprotection"]


def test_configured_name_pattern(tmp_path):
    data = tmp_path / "B-99_salt_lcms.mzML"
    shutil.copy(SAMPLES / "lcms" / "dz-salt-lowpurity.mzML", data)
    config = tmp_path / "c.toml"
    config.write_text(
        "[sample]\nname_pattern = '^(?P<batch>[^_]+)_(?P<stage>[a-z-]+)_'\nroute = \"diazepan-2-one\"\n",
        encoding="utf-8",
    )
    report = _analyze([data], config=config)
    assert report["sample"]["batch"] == "B-99" and report["route"]["stage"] == "salt"
    assert "pattern" in report["sample"]["sources"]["stage"]


def test_no_stage_anywhere_is_a_clear_error(tmp_path):
    from test_cli import specqc

    data = tmp_path / "run-7.mzML"
    shutil.copy(SAMPLES / "lcms" / "dz-alkylation-clean.mzML", data)
    result = specqc("analyze", data, "--route", "diazepan-2-one")
    assert result.returncode == 2 and result.stdout == ""
    assert "no stage" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- the catalogue against the guides


def _guide_text(name: str) -> str:
    return (GUIDES / f"{name}.txt").read_text(encoding="utf-8").translate(SUBSCRIPTS)


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower().translate(SUBSCRIPTS))


@pytest.fixture(scope="module")
def guides():
    if not GUIDES.is_dir():
        pytest.skip("../shared/guides is not present")
    return {p.stem: _guide_text(p.stem) for p in GUIDES.glob("*.txt")}


def test_catalogue_has_the_stable_ids_and_complete_entries():
    from specqc.diagnose.knowledge import CATALOGUE_IDS, catalogue

    entries = catalogue().diagnoses
    assert list(entries) == list(CATALOGUE_IDS)
    for entry in entries.values():
        assert entry.title and entry.cause and entry.guide_refs and len(entry.fixes) >= 2


def test_every_guide_question_faq_and_table_row_is_covered(guides):
    from specqc.diagnose.knowledge import catalogue

    sections = {(i.guide, _normalise(i.section)) for i in catalogue().guide_items}
    dz, cb = "diazepan-2-one-hydrochloride-guide", "1-4-diazepane-synthesis-guide"
    troubleshooting, faq = guides[dz].rsplit("Frequently Asked Questions (FAQs)", 1)
    expected = {(dz, f"troubleshootingq{n}") for n in re.findall(r"^Question (\d+):", troubleshooting, re.M)}
    expected |= {(dz, f"faqq{n}") for n in re.findall(r"^Question (\d+):", faq, re.M)}
    expected |= {(cb, f"faq{n}") for n in re.findall(r"^FAQ (\d+):", guides[cb], re.M)}
    expected |= {(cb, f"guide{n}") for n in re.findall(r"^Guide (\d+):", guides[cb], re.M)}
    assert len(expected) == 6 + 8
    assert expected <= sections, expected - sections
    # table rows: every tab-separated line after a table's header line
    for guide, text in guides.items():
        rows = [line.split("\t")[0] for line in text.splitlines() if "\t" in line]
        headers = {"Base", "Stage", "Condition", "Parameter"}
        for first_cell in rows:
            if first_cell.strip() in headers:
                continue
            assert any(_normalise(first_cell.split("/")[0]) in s for g, s in sections if g == guide), first_cell


def test_fix_figures_come_from_the_cited_guides(guides):
    """Every number in a fix (equivalents, temperatures, concentrations, times) must
    appear in a guide it cites, or in CHEMISTRY.md for NMR facts: none invented."""
    from specqc.diagnose.knowledge import catalogue

    chemistry = CHEMISTRY.read_text(encoding="utf-8") if CHEMISTRY.is_file() else ""
    for entry in catalogue().diagnoses.values():
        for fix in entry.fixes:
            cited = "".join(text for name, text in guides.items() if name in fix.ref) + chemistry
            source_numbers = set(re.findall(r"\d+(?:\.\d+)?", cited))
            for number in re.findall(r"\d+(?:\.\d+)?", fix.text):
                assert number in source_numbers, f"{entry.id}: {number} in {fix.text!r} not in {fix.ref}"


def test_fixes_are_worded_in_the_projects_own_words(guides):
    from specqc.diagnose.knowledge import catalogue

    guide_words = [re.findall(r"[a-z0-9]+", text.lower()) for text in guides.values()]
    shingles = {tuple(words[i : i + 9]) for words in guide_words for i in range(len(words) - 8)}
    for entry in catalogue().diagnoses.values():
        for text in [entry.cause] + [f.text for f in entry.fixes]:
            words = re.findall(r"[a-z0-9]+", text.lower())
            copied = [" ".join(words[i : i + 9]) for i in range(len(words) - 8) if tuple(words[i : i + 9]) in shingles]
            assert not copied, f"{entry.id}: copied from a guide: {copied[0]!r}"


def test_broken_catalogue_is_reference_data_error(monkeypatch):
    from specqc.diagnose import knowledge
    from specqc.errors import ReferenceDataError
    from specqc.reference import DataFile

    broken = "schema = 'x'\n[[diagnosis]]\nid = 'over-alkylation'\ntitle = 't'\nseverity = 'bad'\n"
    monkeypatch.setattr(knowledge, "read_data_file", lambda name: DataFile(name, "1", "test", broken))
    knowledge.catalogue.cache_clear()
    try:
        with pytest.raises(ReferenceDataError, match="severity"):
            knowledge.catalogue()
    finally:
        knowledge.catalogue.cache_clear()


# ---------------------------------------------------------------- HTML


def test_html_report_is_one_self_contained_page(tmp_path):
    from test_cli import specqc

    out = tmp_path / "report.html"
    result = specqc(
        "analyze",
        "samples/lcms/dz-salt-clean.mzML",
        "samples/nmr/dz-salt-nmr-boc-left",
        "--route",
        "diazepan-2-one",
        "--format",
        "html",
        "--output",
        out,
    )
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert re.search(r"@import|url\(", html) is None
    assert 'class="verdict v-fail"' in html
    assert 'id="dx-incomplete-deprotection"' in html and 'id="dx-low-purity"' in html
    assert html.count("<svg") == 4  # TIC, one EIC, the spectrum and its aliphatic zoom
    assert "TIC (positive)" in html and "EIC 1,4-diazepan-2-one" in html and "1H spectrum" in html
    assert "integrated peak" in html and "N4-H2+" in html
    from hashlib import sha256

    assert sha256((ROOT / "samples/lcms/dz-salt-clean.mzML").read_bytes()).hexdigest() in html
    assert "Effective parameters" in html
    assert "Evidence disagrees" in html


def test_html_renders_in_a_headless_browser(tmp_path):
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no headless Chromium on this machine")
    from test_cli import specqc

    out = tmp_path / "report.html"
    assert (
        specqc(
            "analyze",
            "samples/lcms/dz-cyclization-oligomers.mzML",
            "--route",
            "diazepan-2-one",
            "--format",
            "html",
            "--output",
            out,
        ).returncode
        == 0
    )
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "oligomerization" in dom and dom.count("<polyline") >= 7  # TIC + six species EICs
    png = tmp_path / "page.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,2000",
            f"--screenshot={png}",
            out.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert png.is_file() and png.stat().st_size > 20_000  # a page with plots, not a blank one
