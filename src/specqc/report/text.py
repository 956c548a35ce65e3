"""Terminal view of a report (rich renderables; the CLI prints them)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
STATUS_STYLE = {
    "detected": "green",
    "tentative": "yellow",
    "in-blank": "magenta",
    "not-detected": "dim",
    "not-assessed": "dim",
}


STAGE_EXPECTS = {"main": "product", "impurity": "impurity", "not-applicable": "n/a"}


def render(report: dict, all_species: bool = False, width: int | None = None) -> Group:
    """Verdict, diagnoses and fixes first, then the checks, then what was found.

    ``all_species``: list every route species; by default the table holds what
    was found and what the stage expects (its product), and one line counts
    the rest. ``width`` is only a hint for what to leave out on narrow terminals.
    """
    parts: list[RenderableType] = []
    qc = report["qc"]
    route = report["route"]
    header = Text()
    header.append("Verdict: ")
    header.append(qc["verdict"].upper(), style=VERDICT_STYLE.get(qc["verdict"], "bold"))
    counts = _check_counts(qc["checks"])
    header.append(f"  {route['name']} · stage {route['stage']} · {counts}")
    if report["diagnoses"]:
        header.append(" · diagnoses: " + ", ".join(d["id"] for d in report["diagnoses"]))
    parts.append(header)
    sample = report.get("sample") or {}
    stage_source = (sample.get("sources") or {}).get("stage")
    about = []
    if sample.get("sample"):
        about.append(f"sample {sample['sample']}")
    if sample.get("batch"):
        about.append(f"batch {sample['batch']}")
    about.append(f"stage from {stage_source or 'n/a'}")
    parts.append(Text("; ".join(about), style="dim"))
    parts.extend(_run_lines(report))
    for warning in route.get("warnings", []):
        parts.append(Text(f"route check: {warning}", style="bold yellow"))
    parts.extend(_diagnosis_parts(report["diagnoses"]))
    for note in report.get("disagreements", []):
        parts.append(Text(f"evidence disagrees: {note}", style="bold yellow"))
    checks = Table(title="QC checks", title_justify="left", expand=False)
    checks.add_column("check", overflow="fold")
    checks.add_column("status", no_wrap=True)
    checks.add_column("detail", overflow="fold", ratio=1)
    for check in qc["checks"]:
        checks.add_row(
            check["id"], Text(check["status"], style=VERDICT_STYLE.get(check["status"], "")), check["detail"]
        )
    parts.append(checks)
    parts.extend(_species_parts(report, all_species, width or 120))
    for run in report.get("lcms_runs", []):
        if run.get("uv"):
            parts.extend(_uv_parts(run["uv"], {s["id"]: s["name"] for s in report["species"]}))
    if report.get("nmr"):
        parts.extend(_nmr_parts(report["nmr"]))
    if report["unexplained_peaks"]:
        high = _high_resolution_runs(report)
        other = Table(title="Largest unexplained peaks", title_justify="left")
        for column in ("RT min", "m/z", "area %", "S/N", "note"):
            other.add_column(column, overflow="fold")
        for peak in report["unexplained_peaks"][:10]:
            other.add_row(
                _fmt(peak["rt_min"], "{:.2f}"),
                _fmt(peak["mz"], "{:.4f}" if high.get(peak.get("source"), False) else "{:.0f}"),
                _fmt(peak["relative_area_pct"], "{:.2f}"),
                _fmt(peak["sn"], "{:.0f}"),
                peak.get("note") or "",
            )
        parts.append(other)
    return Group(*parts)


def _run_lines(report: dict) -> list:
    """One line per LC-MS run: what the data allow (resolution, tolerance), and its notes."""
    lines = []
    for run in report.get("lcms_runs", []):
        if run.get("polarity") is None or not run.get("scans"):
            what = "no MS1 scans"
            if run.get("uv"):
                what += f"; {len(run['uv']['traces'])} optical trace(s)"
        else:
            resolution = run["resolution"]["class"] if run.get("resolution") else "unknown"
            what = f"{run['scans']} MS1 scans, {run['polarity']}, {resolution} resolution"
            if run.get("tolerance"):
                what += f", tolerance {run['tolerance']}"
        lines.append(Text(f"{run['path']}: {what}", style="dim"))
        for note in run.get("notes", []):
            lines.append(Text(f"  note: {note}", style="yellow"))
    return lines


def _high_resolution_runs(report: dict) -> dict[str, bool]:
    return {
        run["path"]: bool(run.get("resolution") and run["resolution"]["class"] == "high")
        for run in report.get("lcms_runs", [])
    }


def _species_parts(report: dict, all_species: bool, width: int) -> list:
    """What was found and what the stage expects; the rest counted in one line.
    Names wrap at their own break points (after '-', ',', ')', spaces), never cut."""
    high = _high_resolution_runs(report)
    entries = sorted(report["species"], key=_species_order)
    shown = [e for e in entries if all_species or e["status"] != "not-detected" or e["stage_role"] == "main"]
    hidden = [e for e in entries if e not in shown]
    any_nmr = any((e.get("nmr") or {}).get("mol_pct") is not None for e in shown)
    columns = ["found", "expected", "RT min", "ion m/z", "error", "area %"] + (["NMR mol %"] if any_nmr else [])
    rows = []
    for entry in shown:
        lcms = entry.get("lcms") or {}
        ions = lcms.get("ions") or []
        lead = ions[0] if ions else {}
        high_res = high.get(entry.get("lcms_source"), False)
        status = entry["status"]
        if entry["ambiguous_with"]:
            status += " (= " + ", ".join(entry["ambiguous_with"]) + ")"
        observed = lead.get("observed_mz") if lead.get("observed_mz") is not None else lead.get("mz")
        ion = f"{lead['ion']}\n{_fmt(observed, '{:.4f}' if high_res else '{:.0f}')}" if lead else ""
        error = ""
        if lead.get("mass_error") is not None:
            unit = lead.get("mass_error_unit") or ("ppm" if high_res else "Da")
            error = f"{lead['mass_error']:+.1f} ppm" if unit == "ppm" else f"{lead['mass_error']:+.2f} Da"
        cells = [
            status,
            STAGE_EXPECTS.get(entry["stage_role"], entry["stage_role"]),
            _fmt(lcms.get("rt_min"), "{:.2f}"),
            ion,
            error,
            _fmt(lcms.get("relative_area_pct"), "{:.2f}"),
        ]
        if any_nmr:
            cells.append(_fmt((entry.get("nmr") or {}).get("mol_pct"), "{:.2f}"))
        rows.append((entry, cells))
    natural = [
        max([len(c)] + [len(line) for _, cells in rows for line in cells[i].split("\n")]) for i, c in enumerate(columns)
    ]
    # the heavy box draws one rule per column plus padding either side
    name_width = max(NAME_MIN_WIDTH, width - sum(natural) - 3 * (len(columns) + 1) - 1)
    table = Table(
        title="Species" + ("" if all_species else ": found, and expected at this stage"), title_justify="left"
    )
    table.add_column("species", width=name_width, overflow="fold")
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("ion m/z", "found", "expected") else "right", no_wrap=True
        )
    for entry, cells in rows:
        name = Text.assemble(
            (wrap_name(entry["name"], name_width), "bold"),
            "\n",
            (wrap_name(f"{entry['formula']} · {entry['role']}", name_width), "dim"),
        )
        table.add_row(name, Text(cells[0], style=STATUS_STYLE.get(entry["status"], "")), *cells[1:])
    parts: list[RenderableType] = [table]
    if hidden:
        impurities = sum(1 for e in hidden if e["stage_role"] == "impurity")
        others = len(hidden) - impurities
        counted = [f"{impurities} impurit{'y' if impurities == 1 else 'ies'} of this stage"] if impurities else []
        counted += [f"{others} other route species"] if others else []
        parts.append(Text(f"Looked for and not found: {' and '.join(counted)} (--all-species lists them)", style="dim"))
    return parts


NAME_MIN_WIDTH = 14


def wrap_name(name: str, width: int) -> str:
    """A chemical name broken into lines of at most ``width`` after '-', ',', ')'
    or a space, so every character stays (a name is its identity)."""
    import re

    pieces = [p for p in re.split(r"(?<=[-,) ])", name) if p]
    lines, current = [], ""
    for piece in pieces:
        while len(piece) > width:  # a piece longer than a line: fold it (still nothing lost)
            if current:
                lines.append(current.rstrip())
                current = ""
            lines.append(piece[:width])
            piece = piece[width:]
        if len((current + piece).rstrip()) > width:
            lines.append(current.rstrip())
            current = piece
        else:
            current += piece
    if current:
        lines.append(current.rstrip())
    return "\n".join(lines)


TOP_FIXES = 3


def _uv_parts(uv: dict, names: dict[str, str]) -> list:
    """One table per run: every integrated peak of each optical trace."""
    offset = f"UV→MS offset {uv['detector_offset_min']:+.3f} min ({uv['offset_source']}"
    offset += f", r = {uv['offset_correlation']:.2f})" if uv.get("offset_correlation") is not None else ")"
    table = Table(title=f"UV and other detectors · {offset}", title_justify="left")
    for column in ("trace", "RT min", "area %", "S/N", "species", "peak purity"):
        table.add_column(column, justify="right" if column in ("RT min", "area %", "S/N") else "left")
    for trace in uv["traces"]:
        label = trace["label"] + (" *" if trace["configured"] else "")
        if not trace["peaks"]:
            table.add_row(label, "", "", "", "no peak above S/N limit", "")
        for index, peak in enumerate(trace["peaks"]):
            purity = peak.get("peak_purity") or {}
            verdict = purity.get("verdict", "")
            if purity.get("match_factor_min") is not None:
                verdict += f" (min {purity['match_factor_min']:.0f})"
            table.add_row(
                label if index == 0 else "",
                f"{peak['rt_min']:.2f}",
                f"{peak['area_pct']:.2f}",
                f"{peak['sn']:.0f}",
                "void (not counted)" if peak.get("void") else names.get(peak["species"], "") if peak["species"] else "",
                Text(verdict, style="bold red" if verdict.startswith("impure") else ""),
            )
    parts = [table, Text("* configured wavelength: its product area % is the purity figure", style="dim")]
    parts.extend(Text(f"  note: {note}", style="yellow") for note in uv.get("notes", []))
    return parts


def _check_counts(checks: list[dict]) -> str:
    counts: dict[str, int] = {}
    for check in checks:
        counts[check["status"]] = counts.get(check["status"], 0) + 1
    return ", ".join(f"{counts[k]} {k}" for k in ("pass", "fail", "not-assessed") if k in counts)


def _diagnosis_parts(diagnoses: list[dict]) -> list:
    if not diagnoses:
        return [Text("No diagnosis: nothing in the data points to a known failure of this stage.", style="green")]
    parts: list[RenderableType] = [Text("Diagnoses", style="bold")]
    for diagnosis in diagnoses:
        style = "bold red" if diagnosis["severity"] == "fail" else "bold yellow"
        title = Text()
        title.append(f"[{diagnosis['severity']}] ", style=style)
        title.append(f"{diagnosis['title']} ({diagnosis['id']})", style="bold")
        parts.append(title)
        lines = [Text(f"evidence: {line}") for line in diagnosis["evidence"]]
        lines.append(Text(f"cause: {diagnosis['cause']}", style="dim"))
        for number, (fix, ref) in enumerate(zip(diagnosis["fixes"][:TOP_FIXES], diagnosis["fix_refs"]), 1):
            lines.append(Text(f"fix {number}: {fix} [{ref}]"))
        more = len(diagnosis["fixes"]) - TOP_FIXES
        lines.append(
            Text(
                (f"{more} more fix(es) in the JSON/HTML report; " if more > 0 else "")
                + "read more: "
                + "; ".join(diagnosis["guide_refs"]),
                style="dim",
            )
        )
        # wrapped lines stay indented under their diagnosis
        parts.extend(Padding(line, (0, 0, 0, 2)) for line in lines)
    return parts


def _nmr_parts(nmr: dict) -> list:
    reference = nmr["reference"]
    where = (
        f"referenced to {reference['compound']} ({reference['correction_ppm']:+.3f} ppm)"
        if reference.get("method") not in (None, "none")
        else f"not referenced: {reference.get('reason', '')}"
    )
    parts: list[RenderableType] = [
        Text(
            f"{nmr['source']}: 1H {nmr['spectrometer_mhz']:.0f} MHz in {nmr['solvent'] or 'unknown solvent'}, {where}",
            style="dim",
        )
    ]
    parts += [Text(f"  note: {note}", style="yellow") for note in nmr["notes"]]
    solvents = Table(title="Residual solvents and water (1H NMR)", title_justify="left")
    for column in ("compound", "mol/mol", "ppm w/w", "ICH class", "limit ppm", ""):
        solvents.add_column(column)
    for entry in nmr["residual_solvents"]:
        solvents.add_row(
            entry["name"],
            _fmt(entry["mol_ratio"], "{:.4f}"),
            _fmt(entry["ppm_w_w"], "{:.0f}"),
            entry["ich_class"] or "",
            _fmt(entry["limit_ppm"], "{:.0f}"),
            Text("above limit", style="bold red") if entry["exceeds"] else Text("ok", style="green"),
        )
    water = nmr["water"]
    solvents.add_row(
        "water", _fmt(water.get("mol_ratio"), "{:.3f}"), "", "", "", water.get("note") or water.get("reason") or ""
    )
    parts.append(solvents)
    signals = Table(title="1H signals", title_justify="left")
    for column in ("δ ppm", "mult.", "J Hz", "∫ H", "S/N", "assignment"):
        signals.add_column(column)
    for signal in nmr["signals"]:
        if signal["snr"] < 20:
            continue
        signals.add_row(
            f"{signal['shift_ppm']:.3f}",
            signal["multiplicity"],
            _fmt(signal["j_hz"], "{:.1f}"),
            _fmt(signal["integral_h"], "{:.2f}"),
            f"{signal['snr']:.0f}",
            ", ".join(signal["assignment"]),
        )
    parts.append(signals)
    return parts


def _species_order(entry: dict):
    rank = {"main": 0, "impurity": 1, "not-applicable": 2}
    found = {"detected": 0, "tentative": 1, "in-blank": 1}.get(entry["status"], 2)
    return (found, rank.get(entry["stage_role"], 3), entry["id"])


def _fmt(value, pattern: str) -> str:
    return "" if value is None else pattern.format(value)
