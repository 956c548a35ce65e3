"""Small inline-SVG line plots: no plotting library, no scripts, no network.

The HTML report must open from a file share on an instrument PC with nothing
installed, so plots are plain SVG elements written into the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
MAX_POINTS = 1600


@dataclass
class Series:
    x: np.ndarray
    y: np.ndarray
    label: str
    color: str = PALETTE[0]


@dataclass
class Band:
    """A shaded x-range (an integrated peak or a signal region)."""

    start: float
    end: float
    label: str
    color: str = PALETTE[0]


@dataclass
class Label:
    x: float
    y: float
    text: str
    color: str = "#333"


@dataclass
class Plot:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    reverse_x: bool = False  # NMR convention: ppm decreasing to the right
    x_range: tuple[float, float] | None = None
    width: int = 900
    height: int = 260


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's minimum and maximum, so narrow peaks survive thinning."""
    n = x.size
    if n <= max_points:
        return x, y
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep = []
    for start, end in zip(edges[:-1], edges[1:]):
        if end <= start:
            continue
        segment = y[start:end]
        low, high = start + int(np.argmin(segment)), start + int(np.argmax(segment))
        keep.extend(sorted((low, high)))
    index = np.array(sorted(set(keep)))
    return x[index], y[index]


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** np.floor(np.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
    first = np.ceil(low / step) * step
    return [float(v) for v in np.arange(first, high + step * 1e-6, step)]


def _format(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-2:
        return f"{value:.1e}"
    return f"{value:g}"


LABEL_CHAR_PX = 6.5  # width of a 10 px bold digit, with a little air
LABEL_LINE_PX = 11


def label_box(x: float, y: float, text: str) -> tuple[float, float, float, float]:
    half = (LABEL_CHAR_PX * len(text) + 4) / 2
    return x - half, y - LABEL_LINE_PX + 2, x + half, y + 2


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(labels: list[Label], px, py, top: float, bottom: float) -> tuple[list[Label], list]:
    """Each label just above its peak, moved up a line at a time (with a leader
    implied by its x) until it overlaps no label placed before it; close
    multiplets get stacked numbers instead of a smudge."""
    placed: list[tuple[float, float, float, float]] = []
    positions = []
    for label in labels:
        x = px(label.x)
        y = min(max(py(label.y) - 4, top + LABEL_LINE_PX), bottom - 2)
        box = label_box(x, y, label.text)
        while any(_overlaps(box, other) for other in placed) and y - LABEL_LINE_PX >= top + LABEL_LINE_PX - 1e-9:
            y -= LABEL_LINE_PX
            box = label_box(x, y, label.text)
        if any(_overlaps(box, other) for other in placed):  # the top is full: go down from the peak instead
            y = min(max(py(label.y) - 4, top + LABEL_LINE_PX), bottom - 2)
            box = label_box(x, y, label.text)
            while any(_overlaps(box, other) for other in placed) and y + LABEL_LINE_PX <= bottom:
                y += LABEL_LINE_PX
                box = label_box(x, y, label.text)
        placed.append(box)
        positions.append((x, y))
    return labels, positions


def render(plot: Plot) -> str:
    left, right, top, bottom = 70, 20, 28, 42
    inner_w, inner_h = plot.width - left - right, plot.height - top - bottom
    if plot.x_range is not None:
        x_low, x_high = plot.x_range
    else:
        xs = [s.x for s in plot.series if s.x.size]
        x_low = min(float(x.min()) for x in xs) if xs else 0.0
        x_high = max(float(x.max()) for x in xs) if xs else 1.0
    if x_high <= x_low:
        x_high = x_low + 1.0
    visible = []
    for s in plot.series:
        mask = (s.x >= x_low) & (s.x <= x_high)
        visible.append(s.y[mask])
    y_high = max((float(v.max()) for v in visible if v.size), default=1.0)
    y_low = min(0.0, min((float(v.min()) for v in visible if v.size), default=0.0))
    y_high = y_high * 1.08 if y_high > 0 else 1.0

    def px(x: float) -> float:
        fraction = (x - x_low) / (x_high - x_low)
        return left + inner_w * ((1 - fraction) if plot.reverse_x else fraction)

    def py(y: float) -> float:
        return top + inner_h * (1 - (y - y_low) / (y_high - y_low))

    out = [
        f'<svg class="plot" role="img" aria-label="{escape(plot.title)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {plot.width} {plot.height}" width="100%" preserveAspectRatio="xMidYMid meet">',
        f'<text x="{left}" y="18" class="plot-title">{escape(plot.title)}</text>',
        f'<rect x="{left}" y="{top}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#999"/>',
    ]
    for band in plot.bands:
        a, b = sorted((px(max(band.start, x_low)), px(min(band.end, x_high))))
        if b - a <= 0:
            continue
        out.append(
            f'<rect x="{a:.1f}" y="{top}" width="{max(b - a, 1.0):.1f}" height="{inner_h}" '
            f'fill="{band.color}" fill-opacity="0.15"><title>{escape(band.label)}</title></rect>'
        )
    for value in _ticks(x_low, x_high):
        x = px(value)
        out.append(
            f'<line x1="{x:.1f}" y1="{top + inner_h}" x2="{x:.1f}" y2="{top + inner_h + 4}" stroke="#666"/>'
            f'<text x="{x:.1f}" y="{top + inner_h + 16}" class="tick" text-anchor="middle">'
            f"{_format(value)}</text>"
        )
    for value in _ticks(y_low, y_high, 4):
        y = py(value)
        out.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#666"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_format(value)}</text>'
        )
    out.append(
        f'<text x="{left + inner_w / 2:.0f}" y="{plot.height - 6}" class="axis" text-anchor="middle">'
        f"{escape(plot.x_label)}</text>"
    )
    out.append(
        f'<text x="14" y="{top + inner_h / 2:.0f}" class="axis" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + inner_h / 2:.0f})">{escape(plot.y_label)}</text>'
    )
    for s in plot.series:
        mask = (s.x >= x_low) & (s.x <= x_high)
        shown_x, shown_y = decimate(s.x[mask], s.y[mask])
        if not shown_x.size:
            continue
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(shown_x, shown_y))
        out.append(
            f'<polyline fill="none" stroke="{s.color}" stroke-width="1.1" points="{points}">'
            f"<title>{escape(s.label)}</title></polyline>"
        )
    for label, (x, y) in zip(
        *place_labels([item for item in plot.labels if x_low <= item.x <= x_high], px, py, top, top + inner_h)
    ):
        out.append(
            f'<text x="{x:.1f}" y="{y:.1f}" class="label" fill="{label.color}" text-anchor="middle">'
            f"{escape(label.text)}</text>"
        )
    if len(plot.series) > 1:
        for index, s in enumerate(plot.series):
            y = top + 12 + 14 * index
            out.append(
                f'<line x1="{left + inner_w - 190}" y1="{y - 4}" x2="{left + inner_w - 172}" y2="{y - 4}" '
                f'stroke="{s.color}" stroke-width="2"/><text x="{left + inner_w - 168}" y="{y}" class="legend">'
                f"{escape(s.label[:34])}</text>"
            )
    out.append("</svg>")
    return "".join(out)
