"""Terminal view of a report (rich renderables; the CLI prints them)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
STATUS_STYLE = {"detected": "green", "ambiguous": "yellow", "not-detected": "dim", "not-assessed": "dim"}


def render(report: dict) -> Group:
    parts = []
    qc = report["qc"]
    route = report["route"]
    header = Text()
    header.append(f"{route['name']} · stage {route['stage']}  ")
    header.append(qc["verdict"].upper(), style=VERDICT_STYLE.get(qc["verdict"], "bold"))
    parts.append(header)
    for run in report.get("lcms_runs", []):
        resolution = run["resolution"]["class"] if run.get("resolution") else "n/a"
        parts.append(Text(f"{run['path']}: {run['scans']} MS1 scans, {run['polarity'] or 'no MS1'}, "
                          f"{resolution} resolution, tolerance {run['tolerance']}", style="dim"))
        for note in run.get("notes", []):
            parts.append(Text(f"  note: {note}", style="yellow"))
    for warning in route.get("warnings", []):
        parts.append(Text(f"route check: {warning}", style="bold yellow"))

    table = Table(title="Species", title_justify="left", show_lines=False)
    for column in ("species", "role", "stage", "status", "RT min", "ion", "ppm", "area %", "S/N"):
        table.add_column(column, justify="right" if column in ("RT min", "ppm", "area %", "S/N") else "left")
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
            _fmt(lcms.get("sn"), "{:.0f}"),
        )
    parts.append(table)
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
    return Group(*parts)


def _species_order(entry: dict):
    rank = {"main": 0, "impurity": 1, "not-applicable": 2}
    found = {"detected": 0, "ambiguous": 1}.get(entry["status"], 2)
    return (found, rank.get(entry["stage_role"], 3), entry["id"])


def _fmt(value, pattern: str) -> str:
    return "" if value is None else pattern.format(value)
