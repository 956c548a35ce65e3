"""The diagnosis catalogue and the QC check table: package data, checked and loaded once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ReferenceDataError
from ..reference import read_data_file

CATALOGUE_FILE = "diagnoses.toml"
QC_FILE = "qc.toml"
GUIDES = ("diazepan-2-one-hydrochloride-guide", "1-4-diazepane-synthesis-guide")
SEVERITIES = ("fail", "warning")
#: Ids fixed by CHEMISTRY.md section 4; reports and batch records rely on them.
CATALOGUE_IDS = (
    "over-alkylation",
    "over-acylation",
    "incomplete-alkylation",
    "incomplete-deprotection",
    "incomplete-cyclization",
    "oligomerization",
    "ester-hydrolysis",
    "piperazine-formation",
    "residual-solvent",
    "water-uptake",
    "product-not-found",
    "low-purity",
)


@dataclass(frozen=True)
class Fix:
    text: str
    ref: str


@dataclass(frozen=True)
class DiagnosisEntry:
    id: str
    title: str
    severity: str
    checks: tuple[str, ...]
    cause: str
    fixes: tuple[Fix, ...]
    guide_refs: tuple[str, ...]


@dataclass(frozen=True)
class GuideItem:
    guide: str
    section: str
    covered_by: tuple[str, ...]


@dataclass(frozen=True)
class CheckEntry:
    id: str
    title: str
    stages: tuple[str, ...]
    threshold: str | None
    guide_ref: str


@dataclass(frozen=True)
class Catalogue:
    version: str
    source: str
    diagnoses: dict[str, DiagnosisEntry]
    guide_items: tuple[GuideItem, ...]


@dataclass(frozen=True)
class QCTable:
    version: str
    source: str
    thresholds: dict[str, float]
    checks: tuple[CheckEntry, ...]


def _parse(name: str):
    data_file = read_data_file(name)
    try:
        return data_file, tomllib.loads(data_file.body)
    except tomllib.TOMLDecodeError as exc:
        raise ReferenceDataError(f"data/{name} is not valid TOML: {exc}") from exc


def _field(table: dict, key: str, where: str, kind=str):
    value = table.get(key)
    if not isinstance(value, kind) or (isinstance(value, (str, list)) and not value):
        raise ReferenceDataError(f"{where}: field '{key}' missing or empty")
    return value


def _guide_ref_ok(ref: str) -> bool:
    return any(ref.startswith(guide) for guide in GUIDES) or "ICH" in ref


@lru_cache(maxsize=1)
def qc_table() -> QCTable:
    data_file, document = _parse(QC_FILE)
    thresholds = document.get("thresholds", {})
    if not thresholds or not all(isinstance(v, (int, float)) and v >= 0 for v in thresholds.values()):
        raise ReferenceDataError(f"data/{QC_FILE}: [thresholds] must hold non-negative numbers")
    checks = []
    for index, table in enumerate(document.get("check", [])):
        where = f"data/{QC_FILE}: check {index + 1}"
        threshold = table.get("threshold")
        if threshold is not None and threshold not in thresholds:
            raise ReferenceDataError(f"{where}: threshold {threshold!r} is not in [thresholds]")
        ref = _field(table, "guide_ref", where)
        if not _guide_ref_ok(ref):
            raise ReferenceDataError(f"{where}: guide_ref {ref!r} names no known guide")
        checks.append(
            CheckEntry(
                _field(table, "id", where),
                _field(table, "title", where),
                tuple(_field(table, "stages", where, list)),
                threshold,
                ref,
            )
        )
    if len({c.id for c in checks}) != len(checks):
        raise ReferenceDataError(f"data/{QC_FILE}: duplicate check id")
    return QCTable(data_file.version, data_file.source, {k: float(v) for k, v in thresholds.items()}, tuple(checks))


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    data_file, document = _parse(CATALOGUE_FILE)
    check_ids = {c.id for c in qc_table().checks}
    entries: dict[str, DiagnosisEntry] = {}
    for index, table in enumerate(document.get("diagnosis", [])):
        where = f"data/{CATALOGUE_FILE}: diagnosis {table.get('id', index + 1)}"
        severity = _field(table, "severity", where)
        if severity not in SEVERITIES:
            raise ReferenceDataError(f"{where}: severity {severity!r} is not one of {SEVERITIES}")
        fixes = tuple(
            Fix(" ".join(_field(f, "text", where).split()), _field(f, "ref", where))
            for f in _field(table, "fix", where, list)
        )
        refs = tuple(_field(table, "guide_refs", where, list))
        unknown = [r for r in refs + tuple(f.ref for f in fixes) if not _guide_ref_ok(r)]
        if unknown:
            raise ReferenceDataError(f"{where}: reference {unknown[0]!r} names no known guide")
        checks = tuple(table.get("checks", ()))
        if set(checks) - check_ids:
            raise ReferenceDataError(f"{where}: unknown check {sorted(set(checks) - check_ids)[0]!r}")
        entry = DiagnosisEntry(
            _field(table, "id", where),
            _field(table, "title", where),
            severity,
            checks,
            " ".join(_field(table, "cause", where).split()),
            fixes,
            refs,
        )
        entries[entry.id] = entry
    if set(entries) != set(CATALOGUE_IDS):
        missing, extra = set(CATALOGUE_IDS) - set(entries), set(entries) - set(CATALOGUE_IDS)
        raise ReferenceDataError(
            f"data/{CATALOGUE_FILE}: catalogue ids differ from the stable list "
            f"(missing {sorted(missing)}, unknown {sorted(extra)})"
        )
    items = []
    for index, table in enumerate(document.get("guide_item", [])):
        where = f"data/{CATALOGUE_FILE}: guide_item {index + 1}"
        guide = _field(table, "guide", where)
        if guide not in GUIDES:
            raise ReferenceDataError(f"{where}: unknown guide {guide!r}")
        covered = tuple(_field(table, "covered_by", where, list))
        unknown = [c for c in covered if c not in entries and c not in check_ids]
        if unknown:
            raise ReferenceDataError(f"{where}: {unknown[0]!r} is neither a diagnosis nor a QC check")
        items.append(GuideItem(guide, _field(table, "section", where), covered))
    return Catalogue(data_file.version, data_file.source, entries, tuple(items))
