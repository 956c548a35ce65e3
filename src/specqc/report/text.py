"""Terminal view of a report (rich renderables; the CLI prints them)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
STATUS_STYLE = {"detected": "green", "tentative": "yellow", "in-blank": "magenta", "not-detected": "dim",
                "not-assessed": "dim"}


def render(report: dict) -> Group:
    parts = []
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
    if stage_source or sample.get("batch"):
        parts.append(Text(f"stage from {stage_source or 'n/a'}"
                          + (f"; batch {sample['batch']}" if sample.get("batch") else ""), style="dim"))
    for run in report.get("lcms_runs", []):
        resolution = run["resolution"]["class"] if run.get("resolution") else "n/a"
        parts.append(Text(f"{run['path']}: {run['scans']} MS1 scans, {run['polarity'] or 'no MS1'}, "
                          f"{resolution} resolution, tolerance {run['tolerance']}", style="dim"))
        for note in run.get("notes", []):
            parts.append(Text(f"  note: {note}", style="yellow"))
    for warning in route.get("warnings", []):
        parts.append(Text(f"route check: {warning}", style="bold yellow"))

    table = Table(title="Species", title_justify="left", show_lines=False)
    numeric = ("RT min", "ppm", "area %", "S/N", "NMR mol %")
    for column in ("species", "role", "stage", "status", "RT min", "ion", "ppm", "area %", "S/N", "NMR mol %"):
        table.add_column(column, justify="right" if column in numeric else "left")
    for entry in sorted(report["species"], key=_species_order):
        lcms = entry.get("lcms") or {}
        ions = lcms.get("ions") or []
        lead = ions[0] if ions else {}
        status = entry["status"]
        if entry["ambiguous_with"]:
            status += " (= " + ", ".join(entry["ambiguous_with"]) + ")"
        table.add_row(
            f"{entry['name']}\n[dim]{entry['formula']}[/dim]",
            entry["role"], entry["stage_role"],
            Text(status, style=STATUS_STYLE.get(entry["status"], "")),
            _fmt(lcms.get("rt_min"), "{:.2f}"), lead.get("ion", ""),
            _fmt(lead.get("ppm_error"), "{:+.1f}"), _fmt(lcms.get("relative_area_pct"), "{:.2f}"),
            _fmt(lcms.get("sn"), "{:.0f}"), _fmt((entry.get("nmr") or {}).get("mol_pct"), "{:.2f}"),
        )
    parts.append(table)
    for run in report.get("lcms_runs", []):
        if run.get("uv"):
            parts.extend(_uv_parts(run["uv"], {s["id"]: s["name"] for s in report["species"]}))
    if report.get("nmr"):
        parts.extend(_nmr_parts(report["nmr"]))
    if report["unexplained_peaks"]:
        other = Table(title="Largest unexplained peaks", title_justify="left")
        for column in ("RT min", "m/z", "area %", "S/N", "note"):
            other.add_column(column)
        for peak in report["unexplained_peaks"][:10]:
            other.add_row(_fmt(peak["rt_min"], "{:.2f}"), _fmt(peak["mz"], "{:.4f}"),
                          _fmt(peak["relative_area_pct"], "{:.2f}"), _fmt(peak["sn"], "{:.0f}"),
                          peak.get("note") or "")
        parts.append(other)
    checks = Table(title="QC checks", title_justify="left")
    for column in ("check", "status", "detail"):
        checks.add_column(column)
    for check in qc["checks"]:
        checks.add_row(check["id"], Text(check["status"], style=VERDICT_STYLE.get(check["status"], "")),
                       check["detail"])
    parts.append(checks)
    for note in report.get("disagreements", []):
        parts.append(Text(f"evidence disagrees: {note}", style="bold yellow"))
    parts.extend(_diagnosis_parts(report["diagnoses"]))
    return Group(*parts)


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
            table.add_row(label if index == 0 else "", f"{peak['rt_min']:.2f}", f"{peak['area_pct']:.2f}",
                          f"{peak['sn']:.0f}", names.get(peak["species"], "") if peak["species"] else "",
                          Text(verdict, style="bold red" if verdict.startswith("impure") else ""))
    parts = [table, Text("* configured wavelength: its product area % is the purity figure", style="dim")]
    parts.extend(Text(f"  note: {note}", style="yellow") for note in uv.get("notes", []))
    return parts


def _check_counts(checks: list[dict]) -> str:
    counts = {}
    for check in checks:
        counts[check["status"]] = counts.get(check["status"], 0) + 1
    return ", ".join(f"{counts[k]} {k}" for k in ("pass", "fail", "not-assessed") if k in counts)


def _diagnosis_parts(diagnoses: list[dict]) -> list:
    if not diagnoses:
        return [Text("No diagnosis: nothing in the data points to a known failure of this stage.", style="green")]
    parts = [Text("Diagnoses", style="bold")]
    for diagnosis in diagnoses:
        style = "bold red" if diagnosis["severity"] == "fail" else "bold yellow"
        title = Text()
        title.append(f"[{diagnosis['severity']}] ", style=style)
        title.append(f"{diagnosis['title']} ({diagnosis['id']})", style="bold")
        parts.append(title)
        for line in diagnosis["evidence"]:
            parts.append(Text(f"  evidence: {line}"))
        parts.append(Text(f"  cause: {diagnosis['cause']}", style="dim"))
        for number, (fix, ref) in enumerate(zip(diagnosis["fixes"][:TOP_FIXES], diagnosis["fix_refs"]), 1):
            parts.append(Text(f"  fix {number}: {fix} [{ref}]"))
        more = len(diagnosis["fixes"]) - TOP_FIXES
        parts.append(Text(("  " + f"{more} more fix(es) in the JSON/HTML report; " if more > 0 else "  ")
                          + "read more: " + "; ".join(diagnosis["guide_refs"]), style="dim"))
    return parts


def _nmr_parts(nmr: dict) -> list:
    reference = nmr["reference"]
    where = (f"referenced to {reference['compound']} ({reference['correction_ppm']:+.3f} ppm)"
             if reference.get("method") not in (None, "none") else f"not referenced: {reference.get('reason', '')}")
    parts = [Text(f"{nmr['source']}: 1H {nmr['spectrometer_mhz']:.0f} MHz in {nmr['solvent'] or 'unknown solvent'}, "
                  f"{where}", style="dim")]
    parts += [Text(f"  note: {note}", style="yellow") for note in nmr["notes"]]
    solvents = Table(title="Residual solvents and water (1H NMR)", title_justify="left")
    for column in ("compound", "mol/mol", "ppm w/w", "ICH class", "limit ppm", ""):
        solvents.add_column(column)
    for entry in nmr["residual_solvents"]:
        solvents.add_row(entry["name"], _fmt(entry["mol_ratio"], "{:.4f}"), _fmt(entry["ppm_w_w"], "{:.0f}"),
                         entry["ich_class"] or "", _fmt(entry["limit_ppm"], "{:.0f}"),
                         Text("above limit", style="bold red") if entry["exceeds"] else Text("ok", style="green"))
    water = nmr["water"]
    solvents.add_row("water", _fmt(water.get("mol_ratio"), "{:.3f}"), "", "", "",
                     water.get("note") or water.get("reason") or "")
    parts.append(solvents)
    signals = Table(title="1H signals", title_justify="left")
    for column in ("δ ppm", "mult.", "J Hz", "∫ H", "S/N", "assignment"):
        signals.add_column(column)
    for signal in nmr["signals"]:
        if signal["snr"] < 20:
            continue
        signals.add_row(f"{signal['shift_ppm']:.3f}", signal["multiplicity"], _fmt(signal["j_hz"], "{:.1f}"),
                        _fmt(signal["integral_h"], "{:.2f}"), f"{signal['snr']:.0f}", ", ".join(signal["assignment"]))
    parts.append(signals)
    return parts


def _species_order(entry: dict):
    rank = {"main": 0, "impurity": 1, "not-applicable": 2}
    found = {"detected": 0, "tentative": 1, "in-blank": 1}.get(entry["status"], 2)
    return (found, rank.get(entry["stage_role"], 3), entry["id"])


def _fmt(value, pattern: str) -> str:
    return "" if value is None else pattern.format(value)
