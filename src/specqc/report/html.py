"""The HTML report: one self-contained file a chemist opens from a file share.

Inline CSS and inline SVG only: no script, no font, no image or style sheet
fetched from anywhere, so it renders the same on an offline instrument PC.
Everything shown comes from the JSON report, plus the chromatograms and the
processed spectrum kept by the analysis for plotting.
"""

from __future__ import annotations

import json
import os
from html import escape

from . import svg

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:24px auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:28px}
h3{font-size:1.05em;margin-bottom:4px}
.verdict{display:inline-block;padding:4px 14px;border-radius:4px;font-weight:700;color:#fff;font-size:1.1em}
.v-pass{background:#2e7d32}.v-fail{background:#c62828}.v-inconclusive{background:#b26a00}
.s-pass{color:#2e7d32;font-weight:600}.s-fail{color:#c62828;font-weight:600}.s-not-assessed{color:#777}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.diagnosis{border-left:5px solid #c62828;background:#fdf3f3;padding:8px 14px;margin:12px 0}
.diagnosis.warning{border-color:#b26a00;background:#fff8ec}
.diagnosis ol{margin:4px 0 4px 18px;padding:0}.ref{color:#666;font-size:.9em}
.muted{color:#666}.note{background:#fff8ec;border:1px solid #f0d9a8;padding:6px 10px;margin:6px 0}
svg.plot{border:1px solid #eee;margin:6px 0;background:#fff}
svg .plot-title{font-size:13px;font-weight:600}svg .tick,svg .legend{font-size:10px;fill:#444}
svg .axis{font-size:11px;fill:#333}svg .label{font-size:10px;font-weight:600}
code,pre{font-family:ui-monospace,Consolas,monospace;font-size:.85em}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;max-height:420px}
details{margin:6px 0}
.ident{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 14px;border:1px solid #ccc;
padding:8px 12px;margin:8px 0 12px;font-size:.9em}.ident dt{color:#555;font-weight:600}.ident dd{margin:0;
overflow-wrap:anywhere}
.legend-list{font-size:.85em;margin:0 0 10px;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px}
.swatch{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:baseline;border:1px solid}
@page{margin:14mm 12mm}
@media print{body{margin:0;max-width:none;padding:0;font-size:10pt}details{display:block}
details>pre{max-height:none;white-space:pre-wrap}svg.plot{break-inside:avoid}table,.diagnosis,.ident{break-inside:auto}
tr,.diagnosis h3{break-inside:avoid}h2,h3{break-after:avoid}.verdict{-webkit-print-color-adjust:exact;
print-color-adjust:exact}th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.swatch,.diagnosis{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
NMR_LABELS_MAX = 24


def _e(value) -> str:
    return escape("" if value is None else str(value))


def _num(value, pattern: str) -> str:
    return "" if value is None else pattern.format(value)


def _table(headers: list[str], rows: list[list[str]], numeric: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def sample_name(report: dict) -> str:
    """The sample's id, else the name of its first input (what a chemist called the acquisition)."""
    from pathlib import Path

    from ..sampleinfo import dataset_name

    sample = report.get("sample") or {}
    inputs = [i for i in report.get("inputs", []) if i.get("role", "sample") == "sample"]
    return sample.get("sample") or (dataset_name(Path(inputs[0]["path"])) if inputs else "")


def _identification(report: dict, context: dict) -> str:
    """Which sample, from which files and instrument, analysed when and by whom: what tells
    two printed reports apart."""
    sample, route = report.get("sample") or {}, report["route"]
    inputs = report.get("inputs", [])
    acquisitions = [i.get("acquisition") or {} for i in inputs if i.get("role", "sample") == "sample"]

    def joined(key: str) -> str:
        values: list[str] = list(dict.fromkeys(a[key] for a in acquisitions if a.get(key)))
        return "; ".join(values) or "not recorded in the file"

    files = "<br>".join(
        _e(i["path"])
        + (f" <span class='muted'>({_e(i['role'])})</span>" if i.get("role", "sample") != "sample" else "")
        for i in inputs
    )
    fields = [
        ("Sample", _e(sample_name(report))),
        ("Batch", _e(sample.get("batch") or "not given")),
        ("Route / stage", f"{_e(route['id'])} v{_e(route['version'])} / {_e(route['stage'])}"),
        ("Instrument", _e(joined("instrument"))),
        ("Method", _e(joined("method"))),
        ("Acquired", _e(joined("acquired"))),
        ("Analysed", _e(context.get("analysed_at", ""))),
        ("Operator", _e(context.get("operator", ""))),
        ("specqc", _e(report["specqc_version"])),
        ("Files", files),
    ]
    cells = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in fields)
    return f'<dl class="ident">{cells}</dl>'


def _header(report: dict, context: dict | None = None) -> str:
    qc, route, sample = report["qc"], report["route"], report.get("sample") or {}
    sources = sample.get("sources") or {}
    lines = [
        f"<h1>{_e(route['name'])} — stage {_e(route['stage'])}</h1>",
        _identification(report, context or {}),
        f'<p><span class="verdict v-{_e(qc["verdict"])}">{_e(qc["verdict"].upper())}</span> ',
        f"&nbsp;{len(report['diagnoses'])} diagnosis(es); checks: "
        + ", ".join(f"{sum(c['status'] == s for c in qc['checks'])} {s}" for s in ("pass", "fail", "not-assessed"))
        + "</p>",
        f'<p class="muted">route {_e(route["id"])} v{_e(route["version"])}; stage from '
        f"{_e(sources.get('stage', 'n/a'))}"
        + (f"; batch {_e(sample['batch'])}" if sample.get("batch") else "")
        + "</p>",
    ]
    for warning in route.get("warnings", []):
        lines.append(f'<p class="note">route check: {_e(warning)}</p>')
    for note in report.get("disagreements", []):
        lines.append(f'<p class="note"><b>Evidence disagrees:</b> {_e(note)}</p>')
    return "".join(lines)


def _diagnoses(report: dict) -> str:
    if not report["diagnoses"]:
        return "<h2>Diagnoses</h2><p>No diagnosis: nothing in the data points to a known failure of this stage.</p>"
    parts = ["<h2>Diagnoses</h2>"]
    for d in report["diagnoses"]:
        evidence = "".join(f"<li>{_e(line)}</li>" for line in d["evidence"])
        fixes = "".join(
            f'<li>{_e(fix)} <span class="ref">[{_e(ref)}]</span></li>' for fix, ref in zip(d["fixes"], d["fix_refs"])
        )
        parts.append(
            f'<div class="diagnosis {_e(d["severity"])}" id="dx-{_e(d["id"])}">'
            f'<h3>{_e(d["title"])} <span class="muted">({_e(d["id"])}, {_e(d["severity"])})</span></h3>'
            f"<b>Evidence</b><ul>{evidence}</ul><b>Cause</b><p>{_e(d['cause'])}</p>"
            f"<b>What to change</b><ol>{fixes}</ol>"
            f'<p class="ref">Read more: {_e("; ".join(d["guide_refs"]))}</p></div>'
        )
    return "".join(parts)


def _checks(report: dict) -> str:
    rows = [
        [
            _e(c["id"]),
            f'<span class="s-{_e(c["status"])}">{_e(c["status"])}</span>',
            _e(c["detail"]),
            f'<span class="ref">{_e(c.get("guide_ref", ""))}</span>',
        ]
        for c in report["qc"]["checks"]
    ]
    return "<h2>QC checks</h2>" + _table(["check", "status", "detail", "criterion from"], rows)


def _species(report: dict) -> str:
    # m/z to the precision of the run: four decimals at high resolution, nominal at unit resolution
    high = {
        run["path"]: bool(run.get("resolution") and run["resolution"]["class"] == "high")
        for run in report.get("lcms_runs", [])
    }
    rows = []
    order = {"main": 0, "impurity": 1, "not-applicable": 2}
    for s in sorted(report["species"], key=lambda s: (not s["detected"], order.get(s["stage_role"], 3), s["id"])):
        lcms, nmr = s.get("lcms") or {}, s.get("nmr") or {}
        ion = (lcms.get("ions") or [{}])[0]
        status = s["status"] + (f" (= {', '.join(s['ambiguous_with'])})" if s["ambiguous_with"] else "")
        rows.append(
            [
                f"{_e(s['name'])}<br><span class='muted'>{_e(s['formula'])}</span>",
                _e(s["role"]),
                _e(s["stage_role"]),
                _e(status),
                _e(", ".join(s["evidence"])),
                _num(lcms.get("rt_min"), "{:.2f}"),
                _e(ion.get("ion", "")),
                _num(ion.get("observed_mz"), "{:.4f}" if high.get(s.get("lcms_source")) else "{:.0f}"),
                _num(lcms.get("relative_area_pct"), "{:.2f}"),
                _num(nmr.get("mol_pct"), "{:.2f}"),
            ]
        )
    table = _table(
        ["species", "role", "at this stage", "status", "seen by", "RT min", "ion", "m/z", "MS area %", "NMR mol %"],
        rows,
        numeric=(5, 7, 8, 9),
    )
    out = [
        "<h2>Species</h2>",
        table,
        '<p class="muted">MS area % is semi-quantitative (response differs between species).</p>',
    ]
    if report["unexplained_peaks"]:
        rows = [
            [
                _num(p["rt_min"], "{:.2f}"),
                _num(p["mz"], "{:.4f}" if high.get(p.get("source")) else "{:.0f}"),
                _num(p["relative_area_pct"], "{:.2f}"),
                _num(p["sn"], "{:.0f}"),
                _e(p.get("note") or ""),
            ]
            for p in report["unexplained_peaks"][:15]
        ]
        out += [
            "<h3>Largest peaks no route species explains</h3>",
            _table(["RT min", "m/z", "area %", "S/N", "note"], rows, numeric=(0, 1, 2, 3)),
        ]
    return "".join(out)


def _lcms_plots(report: dict, analysis) -> str:
    if analysis is None or not analysis.lcms:
        return ""
    names = {s["id"]: s["name"] for s in report["species"]}
    out = ["<h2>Chromatograms</h2>"]
    for run in analysis.lcms:
        traces = run.traces
        if traces is None:
            out.append(f"<p class='muted'>{_e(run.source_path)}: no MS1 data to plot.</p>")
            continue
        out.append(f"<h3>{_e(run.source_path)}</h3>")
        tic = svg.Plot(
            f"TIC ({run.polarity})",
            "retention time (min)",
            "intensity",
            [svg.Series(traces.rt_min, traces.tic, "TIC", "#444")],
        )
        for index, trace in enumerate(traces.species):
            color = svg.PALETTE[index % len(svg.PALETTE)]
            tic.bands.append(svg.Band(trace.peak_start_min, trace.peak_end_min, names.get(trace.species_id, ""), color))
        out.append(svg.render(tic))
        out.append(_band_legend(tic.bands, "shaded: integrated peak of"))
        for index, trace in enumerate(traces.species):
            color = svg.PALETTE[index % len(svg.PALETTE)]
            name = names.get(trace.species_id, trace.species_id)
            plot = svg.Plot(
                f"EIC {name} ({trace.status}; integrated {trace.peak_start_min:.2f}–{trace.peak_end_min:.2f} min)",
                "retention time (min)",
                "intensity",
                [svg.Series(traces.rt_min, trace.intensity, name, color)],
                [svg.Band(trace.peak_start_min, trace.peak_end_min, "integrated peak", color)],
                height=170,
            )
            out.append(svg.render(plot))
    return "".join(out)


def _band_legend(bands: list, what: str) -> str:
    """What each shaded band of a plot is, under it (full names, wrapping as the page does)."""
    entries = [(b.label, b.color, b.start, b.end) for b in bands if b.label]
    if not entries:
        return ""
    items = "".join(
        f'<li><span class="swatch" style="background:{color}40;border-color:{color}"></span>'
        f"{_e(what)} {_e(label)} ({start:.2f}–{end:.2f} min)</li>"
        for label, color, start, end in entries
    )
    return f'<ul class="legend-list">{items}</ul>'


def _uv_section(report: dict, analysis) -> str:
    """Each LC run's optical traces with their integrated peaks, and the peak table."""
    runs = [run for run in report.get("lcms_runs", []) if run.get("uv")]
    if not runs:
        return ""
    names = {s["id"]: s["name"] for s in report["species"]}
    results = {u.source_path: u for u in (analysis.uv if analysis else [])}
    out = ["<h2>UV and other detectors</h2>"]
    for run in runs:
        uv = run["uv"]
        out.append(
            f"<h3>{_e(run['path'])}</h3><p class='muted'>UV→MS offset {uv['detector_offset_min']:+.3f} min "
            f"({_e(uv['offset_source'])}). Configured wavelengths (*) give the purity figure.</p>"
        )
        result = results.get(run["path"])
        for trace in result.traces if result else []:
            t = trace.trace
            bands = [
                svg.Band(
                    p.peak.start_rt,
                    p.peak.end_rt,
                    names.get(p.species_id, "") if p.species_id else "",
                    svg.PALETTE[i % len(svg.PALETTE)],
                )
                for i, p in enumerate(trace.peaks)
            ]
            out.append(
                svg.render(
                    svg.Plot(
                        f"{t.label} ({t.source})",
                        "retention time (min)",
                        t.unit or "signal",
                        [
                            svg.Series(t.rt_min, t.values, t.label, "#245"),
                            svg.Series(t.rt_min, trace.baseline, "baseline", "#bbb"),
                        ],
                        bands,
                        height=190,
                    )
                )
            )
            out.append(_band_legend(bands, "shaded: peak of"))
        rows = []
        for trace in uv["traces"]:
            for peak in trace["peaks"]:
                purity = peak.get("peak_purity") or {}
                rows.append(
                    [
                        _e(trace["label"] + (" *" if trace["configured"] else "")),
                        _num(peak["rt_min"], "{:.2f}"),
                        _num(peak["area_pct"], "{:.2f}"),
                        _num(peak["sn"], "{:.0f}"),
                        _e(
                            "void (not counted)"
                            if peak.get("void")
                            else names.get(peak["species"], "")
                            if peak["species"]
                            else ""
                        ),
                        _e(purity.get("verdict", "")),
                        _num(purity.get("match_factor_min"), "{:.0f}"),
                    ]
                )
        out.append(
            _table(
                ["trace", "RT min", "area %", "S/N", "species", "peak purity", "min match factor"],
                rows,
                numeric=(1, 2, 3, 6),
            )
        )
        out.extend(f"<p class='muted'>{_e(note)}</p>" for note in uv.get("notes", []))
    return "".join(out)


def _nmr_section(report: dict, analysis) -> str:
    nmr = report.get("nmr")
    if not nmr:
        return ""
    out = ["<h2>1H NMR</h2>"]
    reference = nmr["reference"]
    out.append(
        f"<p class='muted'>{_e(nmr['source'])}: {nmr['spectrometer_mhz']:.1f} MHz, "
        f"{_e(nmr['solvent'] or 'unknown solvent')}; referenced to {_e(reference.get('compound', 'nothing'))} "
        f"({_num(reference.get('correction_ppm'), '{:+.3f}')} ppm correction); main component "
        f"{_e(nmr['main_component'])}; quantification: {_e(nmr['quantification']['method'])}.</p>"
    )
    for note in nmr["notes"]:
        out.append(f"<p class='note'>{_e(note)}</p>")
    signals = sorted([s for s in nmr["signals"] if s["snr"] >= 20], key=lambda s: -s["shift_ppm"])
    labelled = sorted(signals, key=lambda s: -s["snr"])[:NMR_LABELS_MAX]
    numbers = {id(s): i + 1 for i, s in enumerate(sorted(labelled, key=lambda s: -s["shift_ppm"]))}
    if analysis is not None and analysis.nmr:
        from ..nmr.peaks import between

        processed = analysis.nmr[0].processed
        ppm, intensity = processed.ppm, processed.intensity
        plot = svg.Plot(
            "1H spectrum (processed; numbers refer to the signal table)",
            "δ (ppm)",
            "intensity",
            [svg.Series(ppm, intensity, "spectrum", "#1f3f8f")],
            reverse_x=True,
            x_range=(-0.5, float(min(12.0, ppm.max()))),
            height=300,
        )
        rising = -ppm
        for s in labelled:
            high, low = s["range_ppm"]
            inside = between(rising, high, low)
            top = float(intensity[inside].max()) if inside.stop > inside.start else 0.0
            plot.labels.append(svg.Label(s["shift_ppm"], top, str(numbers[id(s)])))
            plot.bands.append(svg.Band(low, high, f"{s['shift_ppm']:.2f} ppm", "#ff7f0e"))
        out.append(svg.render(plot))
        # the crowded aliphatic region again, scaled to the strongest line in it
        zoom = svg.Plot(
            "1H spectrum, 0.5–4.5 ppm",
            "δ (ppm)",
            "intensity",
            [svg.Series(ppm, intensity, "spectrum", "#1f3f8f")],
            reverse_x=True,
            x_range=(0.5, 4.5),
            labels=list(plot.labels),
            height=260,
        )
        out.append(svg.render(zoom))
    rows = [
        [
            str(numbers.get(id(s), "")),
            f"{s['shift_ppm']:.3f}",
            _e(s["multiplicity"]),
            _num(s["j_hz"], "{:.1f}"),
            _num(s["integral_h"], "{:.2f}"),
            f"{s['snr']:.0f}",
            _e(", ".join(s["assignment"])),
        ]
        for s in signals
    ]
    out.append(_table(["#", "δ ppm", "mult.", "J Hz", "∫ H", "S/N", "assignment"], rows, numeric=(1, 3, 4, 5)))
    solvent_rows = [
        [
            _e(s["name"]),
            _num(s["mol_ratio"], "{:.4f}"),
            _num(s["ppm_w_w"], "{:.0f}"),
            _e(s["ich_class"] or ""),
            _num(s["limit_ppm"], "{:.0f}"),
            '<span class="s-fail">above limit</span>' if s["exceeds"] else '<span class="s-pass">ok</span>',
        ]
        for s in nmr["residual_solvents"]
    ]
    water, basis = nmr["water"], nmr["quantification"]["ppm_w_w_basis"]
    solvent_rows.append(
        [
            "water",
            _num(water.get("mol_ratio"), "{:.3f}"),
            "",
            "",
            "",
            _e(water.get("note") or water.get("reason") or ""),
        ]
    )
    out += [
        "<h3>Residual solvents and water</h3>",
        _table(["compound", "mol/mol", "ppm w/w", "ICH class", "limit ppm", ""], solvent_rows, numeric=(1, 2, 4)),
        f"<p class='muted'>ppm w/w relative to {_e(basis.get('form'))} "
        f"(M = {_num(basis.get('molar_mass'), '{:.2f}')} g/mol).</p>",
    ]
    return "".join(out)


def _provenance(report: dict) -> str:
    inputs = [
        [_e(i["path"]), _e(i["technique"]), _e(i["format"]), f"<code>{_e(i['sha256'])}</code>"]
        for i in report["inputs"]
    ]
    versions = [[_e(k), _e(v)] for k, v in sorted(report["reference_data"].items())]
    parameters = json.dumps(report["parameters"], indent=2, sort_keys=True, ensure_ascii=False)
    return (
        "<h2>Provenance</h2>"
        f"<p>specqc {_e(report['specqc_version'])}; report schema {_e(report['schema'])}</p>"
        + _table(["input", "technique", "format", "SHA-256"], inputs)
        + "<h3>Reference data</h3>"
        + _table(["table", "version"], versions)
        + f"<details><summary>Effective parameters</summary><pre>{_e(parameters)}</pre></details>"
    )


def report_context(analysis=None, operator: str | None = None, analysed_at: str | None = None) -> dict:
    """Who and when, for the page header (kept out of the JSON, which stays deterministic):
    the operator from the config's [report] operator, else the OS user."""
    import getpass
    from datetime import datetime

    if operator is None and analysis is not None and analysis.settings is not None:
        operator = analysis.settings.sections.get("report", {}).get("operator")
    if operator is None:
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a container)
            operator = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    if analysed_at is None:
        analysed_at = datetime.now().astimezone().isoformat(timespec="seconds")
    return {"operator": operator, "analysed_at": analysed_at}


def render_html(report: dict, analysis=None, context: dict | None = None) -> str:
    """The report as one HTML page; `analysis` (when given) supplies the traces to plot,
    `context` the operator and analysis time of the header (default: report_context)."""
    context = context if context is not None else report_context(analysis)
    title = (
        f"specqc: {sample_name(report)} — {report['route']['name']} — {report['route']['stage']} — "
        f"{report['qc']['verdict']}"
    )
    body = "".join(
        [
            _header(report, context),
            _diagnoses(report),
            _checks(report),
            _species(report),
            _lcms_plots(report, analysis),
            _uv_section(report, analysis),
            _nmr_section(report, analysis),
            _provenance(report),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )
