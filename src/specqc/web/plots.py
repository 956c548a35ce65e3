"""The plots of an analysis, taken from the HTML report recorded with it.

The report's chromatograms and spectra are drawn from the raw traces, which the
store does not keep; the HTML report written at analysis time holds them as
inline SVG (specqc.report.svg). The dashboard shows those, after checking that
the file is the one recorded (its SHA-256) and rebuilding each SVG from an
allow-list of elements and attributes, so nothing in the file can run or fetch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from xml.etree import ElementTree

from ..provenance import sha256_of

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
REPORT_MAX_BYTES = 50 * 1024 * 1024
PLOTS_MAX = 60
FRAGMENT = re.compile(r'<svg class="plot".*?</svg>', re.DOTALL)
ALLOWED = {
    "svg": {"class", "role", "aria-label", "viewBox", "width", "height", "preserveAspectRatio"},
    "text": {"x", "y", "class", "text-anchor", "transform", "fill"},
    "rect": {"x", "y", "width", "height", "fill", "fill-opacity", "stroke"},
    "line": {"x1", "y1", "x2", "y2", "stroke", "stroke-width"},
    "polyline": {"fill", "stroke", "stroke-width", "points"},
    "title": set(),
}
# attribute values as specqc.report.svg writes them: numbers, colours, keywords, a rotation
SAFE_VALUE = re.compile(r"^[#A-Za-z0-9 .,%()+-]*$")
SAFE_TRANSFORM = re.compile(r"^rotate\([0-9 .,-]+\)$")


@dataclass
class Plots:
    svgs: list[str] = field(default_factory=list)  # sanitised markup, safe to embed
    titles: list[str] = field(default_factory=list)
    source: str | None = None
    note: str | None = None  # why there are none (or fewer)


def report_plots(report_files) -> Plots:
    """The plots of the newest recorded HTML report that is still as recorded."""
    html_files = [f for f in report_files if f["format"] == "html"]
    if not html_files:
        return Plots(
            note="no HTML report was recorded with this analysis, so there are no plots to show "
            "(the watch service records one; `analyze --format html --output F --record` too)"
        )
    notes = []
    for item in reversed(html_files):
        path = Path(item["path"])
        try:
            if not path.is_file():
                notes.append(f"{path.name}: not at its recorded place any more")
                continue
            if path.stat().st_size > REPORT_MAX_BYTES:
                notes.append(f"{path.name}: larger than {REPORT_MAX_BYTES // 2**20} MB")
                continue
            if sha256_of(path) != item["sha256"]:
                notes.append(f"{path.name}: changed since it was recorded (SHA-256 differs); not shown")
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            notes.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
            continue
        plots = Plots(source=str(path))
        for fragment in FRAGMENT.findall(text)[:PLOTS_MAX]:
            clean = sanitise_svg(fragment)
            if clean is not None:
                plots.svgs.append(clean[0])
                plots.titles.append(clean[1])
        if not plots.svgs:
            plots.note = f"{path.name} holds no plot"
        return plots
    return Plots(note="; ".join(notes))


def sanitise_svg(fragment: str) -> tuple[str, str] | None:
    """The SVG rebuilt from allowed elements and attributes (escaped), and its
    title; None when it is not well-formed SVG."""
    if "<!" in fragment or "<?" in fragment:  # no DOCTYPE, entity, CDATA or processing instruction
        return None
    try:
        root = ElementTree.fromstring(fragment)
    except ElementTree.ParseError:
        return None
    if _local(root.tag) != "svg":
        return None
    out: list[str] = []
    _emit(root, out)
    return "".join(out), root.get("aria-label", "")


def _local(tag: str) -> str:
    prefix = "{" + SVG_NAMESPACE + "}"
    return tag[len(prefix) :] if tag.startswith(prefix) else ""


def _emit(element, out: list[str]) -> None:
    tag = _local(element.tag)
    if tag in ALLOWED:
        attributes = []
        for name, value in sorted(element.attrib.items()):
            if name not in ALLOWED[tag]:
                continue
            if name == "transform" and not SAFE_TRANSFORM.match(value):
                continue
            if name not in ("aria-label", "transform") and not SAFE_VALUE.match(value):
                continue
            attributes.append(f' {name}="{escape(value)}"')
        if tag == "svg":
            attributes.append(f' xmlns="{SVG_NAMESPACE}"')
        out.append(f"<{tag}{''.join(attributes)}>")
        if element.text:
            out.append(escape(element.text))
        for child in element:
            _emit(child, out)
        out.append(f"</{tag}>")
    if element.tail and _local(element.tag) != "svg":
        out.append(escape(element.tail))
