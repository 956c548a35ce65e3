"""Batch-record exports: CSV (stage rows, or one row per species), JSON checked
against the shipped schema, and an XLSX workbook. Deterministic: the same
records give byte-identical files.

Column layout (stable; new columns are only ever appended):

STAGE_COLUMNS, one row per stored analysis (every revision; `latest` marks the
current one of its stage), and SPECIES_COLUMNS for the long form. Multi-valued
cells are joined with " | ". Text cells that a spreadsheet would run as a
formula (starting with = + - @ or a tab/CR) are prefixed with an apostrophe in
CSV and stored as plain text in XLSX.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources

from ..errors import InputError, ReferenceDataError
from .store import Store

EXPORT_SCHEMA = "specqc.records-export/1"
STAGE_COLUMNS = (
    "record_id",
    "batch",
    "sample",
    "route_id",
    "route_version",
    "stage",
    "revision",
    "supersedes",
    "superseded_by",
    "latest",
    "verdict",
    "purity_pct",
    "purity_method",
    "product",
    "product_ms_area_pct",
    "product_nmr_mol_pct",
    "impurities",
    "diagnoses",
    "checks_failed",
    "checks_not_assessed",
    "input_paths",
    "input_sha256",
    "report_sha256",
    "report_files",
    "report_file_sha256",
    "specqc_version",
    "recorded_at",
    "recorded_by",
    "host",
    "via",
    "blank_path",
    "blank_sha256",
    "review_decision",
    "reviewed_by",
    "reviewed_at",
    "review_meaning",
    "review_comment",
    "review_report_sha256",
)
REVIEW_FIELDS = ("reviewer", "role", "decision", "meaning", "comment", "report_sha256", "signed_at")
SPECIES_COLUMNS = (
    "record_id",
    "batch",
    "sample",
    "stage",
    "revision",
    "species_id",
    "species_name",
    "role",
    "stage_role",
    "status",
    "rt_min",
    "ms_area_pct",
    "nmr_mol_pct",
    "latest",
)
# csv-values: what a LIMS imports, one measured or judged value per row and per cell
VALUE_COLUMNS = (
    "record_id",
    "batch",
    "sample",
    "stage",
    "revision",
    "latest",
    "recorded_at",
    "kind",
    "name",
    "value",
    "unit",
    "limit",
    "status",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
JOIN = " | "
# fixed zip timestamps make the workbook byte-identical for the same records
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _stage_order(route_id: str) -> dict[str, int]:
    try:
        from ..chem.route import load_route

        return {s.id: i for i, s in enumerate(load_route(route_id).stages)}
    except Exception:  # a user route file no longer at hand: fall back to names
        return {}


def batch_records(store: Store, batch: str | None, since: str | None = None, until: str | None = None) -> list[dict]:
    """Every stored analysis of the batch (of every batch when None; recorded from
    ``since`` and before ``until`` when given), as plain structures, in route order."""
    rows = [row for row in store.analyses(batch=batch, since=since) if until is None or row["recorded_at"] < until]
    if not rows:
        scope = f"batch {batch!r}" if batch is not None else "any batch"
        raise InputError(f"no records for {scope}" + (" in that time range" if since or until else ""), store.path)
    records = []
    for row in rows:
        analysis_id = row["id"]
        species = [dict(r) for r in store.rows("species_results", analysis_id)]
        product = next((s for s in species if s["stage_role"] == "main"), None)
        checks = [dict(r) for r in store.rows("checks", analysis_id)]
        limits = _check_limits(row["report_json"])
        diagnoses = [
            {
                "id": d["diagnosis_id"],
                "severity": d["severity"],
                "title": d["title"],
                "evidence": json.loads(d["evidence_json"]),
            }
            for d in store.rows("diagnoses", analysis_id)
        ]
        inputs = [
            {
                "path": i["path"],
                "sha256": i["sha256"],
                "technique": i["technique"],
                "format": i["format"],
                **({"role": i["role"]} if i["role"] not in (None, "sample") else {}),
            }  # as in the report
            for i in store.rows("inputs", analysis_id)
        ]
        files = [
            {"path": f["path"], "sha256": f["sha256"], "format": f["format"]}
            for f in store.rows("report_files", analysis_id)
        ]
        superseded_by = store.superseded_by(analysis_id)
        records.append(
            {
                "record_id": analysis_id,
                "batch": row["batch"],
                "sample": row["sample"],
                "route_id": row["route_id"],
                "route_version": row["route_version"],
                "stage": row["stage"],
                "revision": row["revision"],
                "supersedes": row["supersedes"],
                "superseded_by": superseded_by,
                "latest": superseded_by is None,
                "verdict": row["verdict"],
                "purity_pct": row["purity_pct"],
                "purity_method": row["purity_method"],
                "product": product["name"] if product else None,
                "product_ms_area_pct": product["ms_area_pct"] if product else None,
                "product_nmr_mol_pct": product["nmr_mol_pct"] if product else None,
                "impurities": [
                    f"{s['name']} {_amount(s)}"
                    for s in species
                    if s["stage_role"] == "impurity" and s["status"] == "detected"
                ],
                "diagnoses": diagnoses,
                "checks": [
                    {
                        "id": c["check_id"],
                        "status": c["status"],
                        "detail": c["detail"],
                        "limit": limits.get(c["check_id"]),
                    }
                    for c in checks
                ],
                "species": [
                    {
                        k: s[k]
                        for k in (
                            "species_id",
                            "name",
                            "role",
                            "stage_role",
                            "status",
                            "rt_min",
                            "ms_area_pct",
                            "nmr_mol_pct",
                        )
                    }
                    for s in species
                ],
                "inputs": inputs,
                "report_sha256": row["report_sha256"],
                "report_files": files,
                "specqc_version": row["specqc_version"],
                "recorded_at": row["recorded_at"],
                "recorded_by": row["recorded_by"],
                "host": row["host"],
                "via": row["via"],
                # signed reviews, oldest first (the last one is the standing decision)
                "reviews": [{k: r[k] for k in REVIEW_FIELDS} for r in store.reviews(analysis_id)],
            }
        )
    orders: dict[str, dict[str, int]] = {}
    for record in records:
        orders.setdefault(record["route_id"], _stage_order(record["route_id"]))
    records.sort(
        key=lambda r: (r["route_id"], orders[r["route_id"]].get(r["stage"], 99), r["stage"], r["sample"], r["revision"])
    )
    return records


def _check_limits(report_json: str) -> dict[str, str]:
    """Each check's acceptance criterion as the stored report states it (reports
    recorded before criteria were reported have none)."""
    try:
        checks = json.loads(report_json).get("qc", {}).get("checks", [])
    except (ValueError, AttributeError):
        return {}
    return {c["id"]: c["limit"] for c in checks if isinstance(c, dict) and c.get("limit")}


def _amount(species: dict) -> str:
    parts = []
    if species["ms_area_pct"] is not None:
        parts.append(f"{species['ms_area_pct']:.2f} % MS area")
    if species["nmr_mol_pct"] is not None:
        parts.append(f"{species['nmr_mol_pct']:.1f} mol % NMR")
    return f"({', '.join(parts)})" if parts else "(detected)"


def stage_row(record: dict) -> dict:
    return {
        **{k: record[k] for k in STAGE_COLUMNS if k in record and not isinstance(record[k], list)},
        "impurities": JOIN.join(record["impurities"]),
        "diagnoses": JOIN.join(d["id"] for d in record["diagnoses"]),
        "checks_failed": JOIN.join(c["id"] for c in record["checks"] if c["status"] == "fail"),
        "checks_not_assessed": JOIN.join(c["id"] for c in record["checks"] if c["status"] == "not-assessed"),
        "input_paths": JOIN.join(i["path"] for i in record["inputs"] if "role" not in i),
        "input_sha256": JOIN.join(i["sha256"] for i in record["inputs"] if "role" not in i),
        "blank_path": JOIN.join(i["path"] for i in record["inputs"] if i.get("role") == "blank"),
        "blank_sha256": JOIN.join(i["sha256"] for i in record["inputs"] if i.get("role") == "blank"),
        "report_files": JOIN.join(f["path"] for f in record["report_files"]),
        "report_file_sha256": JOIN.join(f["sha256"] for f in record["report_files"]),
        **_review_cells((record.get("reviews") or [None])[-1]),
    }


def _review_cells(review: dict | None) -> dict:
    if review is None:
        return {}
    return {
        "review_decision": review["decision"],
        "reviewed_by": review["reviewer"],
        "reviewed_at": review["signed_at"],
        "review_meaning": review["meaning"],
        "review_comment": review["comment"],
        "review_report_sha256": review["report_sha256"],
    }


def species_rows(record: dict) -> list[dict]:
    return [
        {
            "record_id": record["record_id"],
            "batch": record["batch"],
            "sample": record["sample"],
            "stage": record["stage"],
            "revision": record["revision"],
            "species_id": s["species_id"],
            "species_name": s["name"],
            "role": s["role"],
            "stage_role": s["stage_role"],
            "status": s["status"],
            "rt_min": s["rt_min"],
            "ms_area_pct": s["ms_area_pct"],
            "nmr_mol_pct": s["nmr_mol_pct"],
            "latest": record["latest"],
        }
        for s in record["species"]
    ]


def value_rows(record: dict) -> list[dict]:
    """The record as single values: verdict, purity, each check, each species' amounts, each diagnosis."""
    base = {k: record[k] for k in ("record_id", "batch", "sample", "stage", "revision", "latest", "recorded_at")}
    purity_limit = next((c.get("limit") for c in record["checks"] if c["id"] == "purity"), None)
    rows = [
        {**base, "kind": "verdict", "name": "verdict", "value": record["verdict"], "status": record["verdict"]},
        {
            **base,
            "kind": "purity",
            "name": record["purity_method"] or "purity",
            "value": record["purity_pct"],
            "unit": "%" if record["purity_pct"] is not None else None,
            "limit": purity_limit,
            "status": "measured" if record["purity_pct"] is not None else "not-assessed",
        },
    ]
    rows += [
        {**base, "kind": "check", "name": c["id"], "limit": c.get("limit"), "status": c["status"]}
        for c in record["checks"]
    ]
    for species in record["species"]:
        for key, unit in (("ms_area_pct", "% MS area"), ("nmr_mol_pct", "mol % 1H NMR"), ("rt_min", "min")):
            if species[key] is not None:
                rows.append(
                    {
                        **base,
                        "kind": "species",
                        "name": species["name"],
                        "value": species[key],
                        "unit": unit,
                        "status": species["status"],
                    }
                )
        if all(species[key] is None for key in ("ms_area_pct", "nmr_mol_pct")):
            rows.append({**base, "kind": "species", "name": species["name"], "status": species["status"]})
    rows += [{**base, "kind": "diagnosis", "name": d["id"], "status": d["severity"]} for d in record["diagnoses"]]
    return rows


def defuse(value):
    """A text cell a spreadsheet would evaluate becomes inert text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return defuse(value)


def to_csv(records: list[dict], long: bool = False, values: bool = False) -> str:
    """UTF-8 with a byte-order mark, so spreadsheet programs read non-ASCII names right.
    ``values``: the LIMS form, one value per row (VALUE_COLUMNS), nothing joined."""
    columns: tuple[str, ...]
    if values:
        columns, rows = VALUE_COLUMNS, [row for r in records for row in value_rows(r)]
    else:
        columns = SPECIES_COLUMNS if long else STAGE_COLUMNS
        rows = [row for r in records for row in species_rows(r)] if long else [stage_row(r) for r in records]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return "\ufeff" + buffer.getvalue()


@lru_cache(maxsize=1)
def export_schema() -> dict:
    try:
        text = resources.files("specqc").joinpath("data", "records-export.schema.json").read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ReferenceDataError(f"data/records-export.schema.json is missing or broken: {exc}") from exc


def to_json_document(records: list[dict], batch: str) -> dict:
    from .. import __version__

    return {"schema": EXPORT_SCHEMA, "batch": batch, "exported_by": f"specqc {__version__}", "records": records}


def validate(document: dict) -> None:
    import jsonschema

    try:
        jsonschema.validate(document, export_schema())
    except jsonschema.ValidationError as exc:
        raise ReferenceDataError(f"export does not follow its schema: {exc.message}") from exc


def to_json(records: list[dict], batch: str) -> str:
    document = to_json_document(records, batch)
    validate(document)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _sheet_name(stage: str, used: set[str]) -> str:
    name = "".join(ch if ch not in "[]:*?/\\" else "-" for ch in stage)[:28] or "stage"
    base, n = name, 2
    while name.lower() in used or name.lower() == "summary":
        name, n = f"{base[:26]}-{n}", n + 1
    used.add(name.lower())
    return name


MAX_COLUMN_WIDTH = 60
DATE_COLUMNS = ("recorded_at",)


def _typed(column: str, value):
    """A cell's value as the spreadsheet should hold it: a recorded time as a date-time
    (UTC, as spreadsheets keep no zone), everything else as it is."""
    if column in DATE_COLUMNS and isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).astimezone(timezone.utc).replace(tzinfo=None)
        except ValueError:
            return value
    return value


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return "yyyy-mm-dd hh:mm:ss"
    return str(value)


def to_xlsx(records: list[dict], batch: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    summary = workbook.active
    summary.title = "Summary"

    def write(sheet, columns, rows):
        sheet.append(list(columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [len(c) for c in columns]
        for row in rows:
            sheet.append([None] * len(columns))
            for index, column in enumerate(columns, start=1):
                value = _typed(column, row.get(column))  # numbers, booleans and dates as such, not text
                cell = sheet.cell(row=sheet.max_row, column=index)
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = "s"  # plain text: never evaluated as a formula
                elif isinstance(value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                widths[index - 1] = max(widths[index - 1], len(_shown(value)))
        for index, width in enumerate(widths, start=1):  # columns as wide as their content, within reason
            sheet.column_dimensions[get_column_letter(index)].width = min(MAX_COLUMN_WIDTH, width + 2)
        sheet.freeze_panes = "A2"

    write(summary, STAGE_COLUMNS, [stage_row(r) for r in records])
    used: set[str] = set()
    for stage in dict.fromkeys(r["stage"] for r in records):
        sheet = workbook.create_sheet(_sheet_name(stage, used))
        write(sheet, SPECIES_COLUMNS, [row for r in records if r["stage"] == stage for row in species_rows(r)])
    stamp = max(r["recorded_at"] for r in records)

    moment = datetime.fromisoformat(stamp).astimezone(timezone.utc).replace(tzinfo=None)
    workbook.properties.created = workbook.properties.modified = moment
    workbook.properties.creator = workbook.properties.lastModifiedBy = "specqc"
    workbook.properties.title = f"specqc batch record {batch}"
    raw = io.BytesIO()
    workbook.save(raw)
    return _normalise_zip(raw.getvalue(), moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _normalise_zip(data: bytes, modified: str) -> bytes:
    """Fixed entry times, and the 'modified' stamp openpyxl sets to the wall clock
    on save put back to the records' own time."""
    import re

    source = zipfile.ZipFile(io.BytesIO(data))
    target_buffer = io.BytesIO()
    with zipfile.ZipFile(target_buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + modified.encode() + rb"\g<2>",
                    content,
                )
            clean = zipfile.ZipInfo(info.filename, ZIP_TIME)
            clean.compress_type = zipfile.ZIP_DEFLATED
            clean.external_attr = 0o644 << 16
            target.writestr(clean, content)
    return target_buffer.getvalue()
