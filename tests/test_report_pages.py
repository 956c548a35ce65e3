"""The HTML report as a chemist prints it: which sample it is, what the shading
means, readable NMR labels, and the PDF on A4 and Letter (headless Chromium,
pages rendered with pdftoppm)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from conftest import SAMPLES
from conftest import run_cli as specqc

UV_RUN = SAMPLES / "lcms" / "dz-salt-uv-clean.mzML"
NMR_SPECTRUM = SAMPLES / "nmr" / "dz-salt-nmr-clean"


def _html(tmp_path, *paths, extra=()) -> str:
    out = tmp_path / "r.html"
    result = specqc("analyze", *paths, "--route", "diazepan-2-one", "--stage", "salt", "--output", out, *extra)
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


def test_header_block_says_which_sample_files_instrument_and_who(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[report]\noperator = "A. Chemist"\n', encoding="utf-8")
    page = _html(tmp_path, UV_RUN, NMR_SPECTRUM, extra=("--batch", "B-0042", "--config", config))
    block = re.search(r'<dl class="ident">(.*?)</dl>', page, re.DOTALL).group(1)
    fields = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block, re.DOTALL))
    assert fields["Sample"] == "dz-salt-uv-clean" and fields["Batch"] == "B-0042"
    assert fields["Route / stage"] == "diazepan-2-one v1 / salt"
    assert "1H NMR 400 MHz" in fields["Instrument"] and "zg30" in fields["Method"]
    assert re.match(r"\d{4}-\d\d-\d\dT", fields["Acquired"])  # the spectrum's own acquisition date
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", fields["Analysed"])
    assert fields["Operator"] == "A. Chemist" and fields["specqc"]
    assert str(UV_RUN.relative_to(SAMPLES.parent)) in fields["Files"] or "dz-salt-uv-clean.mzML" in fields["Files"]
    assert "dz-salt-nmr-clean" in fields["Files"]
    assert "<title>specqc: dz-salt-uv-clean" in page
    assert "@media print" in page and "@page" in page
    # the operator defaults to the OS user
    default = _html(tmp_path, UV_RUN, extra=("--force",))
    import getpass

    assert f"<dt>Operator</dt><dd>{getpass.getuser()}</dd>" in default


def test_shaded_bands_have_a_legend(tmp_path):
    out = tmp_path / "c.html"
    result = specqc(
        "analyze",
        SAMPLES / "lcms" / "dz-cyclization-oligomers.mzML",
        "--route",
        "diazepan-2-one",
        "--stage",
        "cyclization",
        "--output",
        out,
    )
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    legend = re.search(r'<ul class="legend-list">(.*?)</ul>', page, re.DOTALL).group(1)
    assert "shaded: integrated peak of linear dimer of ethyl N-(3-aminopropyl)glycinate" in legend
    assert legend.count("<li>") >= 6  # every species integrated in the run


def test_nmr_peak_labels_never_overlap(tmp_path):
    from specqc.report.svg import Label, label_box, place_labels

    # three multiplets 0.01 ppm apart at the same height: stacked, not printed over each other
    labels = [Label(3.21, 100.0, "8"), Label(3.20, 100.0, "9"), Label(3.19, 90.0, "10")]
    _, positions = place_labels(labels, lambda x: 100 + (4.0 - x) * 300, lambda y: 200 - y, 28, 220)
    boxes = [label_box(x, y, item.text) for item, (x, y) in zip(labels, positions)]
    assert all(not _overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    page = _html(tmp_path, NMR_SPECTRUM)
    for plot in re.findall(r"<svg.*?</svg>", page, re.DOTALL):
        drawn = [
            label_box(float(x), float(y), text)
            for x, y, text in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" class="label"[^>]*>([^<]*)</text>', plot)
        ]
        assert all(not _overlap(a, b) for i, a in enumerate(drawn) for b in drawn[i + 1 :])
    assert page.count('class="label"') >= 10


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# ---------------------------------------------------------------- PDF


def _needs_printing_tools():
    from specqc.report.pdf import find_chromium

    missing = [
        name for name, found in (("chromium", find_chromium()), ("pdftoppm", shutil.which("pdftoppm"))) if not found
    ]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have {', '.join(missing)} (.ci/run installs chromium and poppler-utils)")
        pytest.skip(f"{', '.join(missing)} not installed")


def _gray_pages(pdf, tmp_path, dpi=30):
    """Every page as (width, height, pixels) via pdftoppm's PGM output."""
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), str(prefix)], check=True, timeout=120)
    pages = []
    for path in sorted(tmp_path.glob("page*.pgm"), key=lambda p: int(re.search(r"(\d+)\.pgm$", p.name).group(1))):
        data = path.read_bytes()
        header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
        width, height = int(header.group(1)), int(header.group(2))
        pages.append((width, height, data[header.end() :]))
        path.unlink()
    return pages


@pytest.mark.parametrize("paper, size_in", [("a4", (8.27, 11.69)), ("letter", (8.5, 11.0))])
def test_pdf_report_prints_on_a4_and_letter(tmp_path, paper, size_in):
    _needs_printing_tools()
    pdf = tmp_path / f"report-{paper}.pdf"
    result = specqc(
        "analyze",
        UV_RUN,
        NMR_SPECTRUM,
        "--route",
        "diazepan-2-one",
        "--stage",
        "salt",
        "--output",
        pdf,
        "--paper",
        paper,
    )
    assert result.returncode == 0, result.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-" and f"pdf report of dz-salt-uv-clean written to {pdf}" in result.stderr
    pages = _gray_pages(pdf, tmp_path)
    assert 2 <= len(pages) <= 12
    for width, height, pixels in pages:
        assert abs(width / 30 - size_in[0]) < 0.1 and abs(height / 30 - size_in[1]) < 0.1
        # small table text anti-aliases to grey at 30 dpi, so "printed" counts any clearly non-white pixel
        printed = sum(1 for value in pixels if value < 230) / len(pixels)
        dark = sum(1 for value in pixels if value < 128) / len(pixels)
        assert printed > 0.02 and dark < 0.5  # something printed on every page, and not a black page
    # the header, verdict and plots are on paper: text of page 1, and plots drawn on later pages
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "dz-salt-uv-clean" in text and "Operator" in text and "PASS" in text
    # the right margin is white: nothing is cut off at the paper's edge
    width, height, pixels = pages[0]
    edge = [pixels[row * width + width - 3] for row in range(height)]
    assert min(edge) > 200
