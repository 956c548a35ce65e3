"""Loaders for the package's versioned reference data, each checked and loaded once.

Every data file starts with ``#`` header lines giving its version and source;
the version travels into each report so a result can be traced to the tables
that produced it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .errors import ReferenceDataError


@dataclass(frozen=True)
class DataFile:
    name: str
    version: str
    source: str
    body: str


def read_data_file(name: str) -> DataFile:
    """Read ``specqc/data/<name>`` and split its ``#`` header from the body."""
    try:
        text = resources.files("specqc").joinpath("data", name).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise ReferenceDataError(f"package data file data/{name} is missing") from exc
    return parse_header(name, text)


def parse_header(name: str, text: str) -> DataFile:
    header: dict[str, str] = {}
    body_lines = []
    last_key = None
    for line in text.splitlines():
        if line.startswith("#"):
            content = line[1:].strip()
            key, sep, value = content.partition(":")
            if sep and key.strip().isidentifier():
                last_key = key.strip().lower()
                header[last_key] = value.strip()
            elif last_key and content:
                header[last_key] += " " + content
        else:
            body_lines.append(line)
    if "version" not in header or "source" not in header:
        raise ReferenceDataError(f"data/{name}: header must state 'version:' and 'source:'")
    return DataFile(name, header["version"], header["source"], "\n".join(body_lines))


@dataclass(frozen=True)
class AdductRule:
    name: str
    polarity: str
    charge: int
    molecules: int
    add: str
    remove: str
    kind: str
    requires: str


ADDUCT_KINDS = {"primary", "adduct", "multiply-charged", "multimer", "fragment"}
ADDUCT_REQUIREMENTS = {"", "boc", "polyamine", "hydroxyl", "primary-amine", "ethyl-ester"}


@lru_cache(maxsize=1)
def adduct_table() -> tuple[tuple[AdductRule, ...], str]:
    """The ion rules of data/adducts.csv and the table's version."""
    data = read_data_file("adducts.csv")
    rules = []
    reader = csv.DictReader(io.StringIO(data.body))
    expected = {"name", "polarity", "charge", "molecules", "add", "remove", "kind", "requires"}
    if set(reader.fieldnames or ()) != expected:
        raise ReferenceDataError(f"data/adducts.csv: columns must be {sorted(expected)}")
    for line_no, row in enumerate(reader, start=2):
        where = f"data/adducts.csv row {line_no} ({row.get('name')})"
        try:
            rule = AdductRule(
                name=row["name"].strip(),
                polarity=row["polarity"].strip(),
                charge=int(row["charge"]),
                molecules=int(row["molecules"]),
                add=row["add"].strip(),
                remove=row["remove"].strip(),
                kind=row["kind"].strip(),
                requires=row["requires"].strip(),
            )
        except (TypeError, ValueError) as exc:
            raise ReferenceDataError(f"{where}: {exc}") from exc
        if rule.polarity not in ("positive", "negative") or rule.charge == 0:
            raise ReferenceDataError(f"{where}: bad polarity or charge")
        if (rule.charge > 0) != (rule.polarity == "positive"):
            raise ReferenceDataError(f"{where}: charge sign does not match polarity")
        if rule.kind not in ADDUCT_KINDS or rule.requires not in ADDUCT_REQUIREMENTS:
            raise ReferenceDataError(f"{where}: unknown kind or requirement")
        if rule.molecules < 1:
            raise ReferenceDataError(f"{where}: molecules must be >= 1")
        rules.append(rule)
    if not rules:
        raise ReferenceDataError("data/adducts.csv has no rows")
    return tuple(rules), data.version


def reference_versions(include_nmr: bool = False) -> dict[str, str]:
    """Versions of the reference tables used in an analysis (for report provenance)."""
    versions = {"adducts.csv": adduct_table()[1]}
    if include_nmr:
        from .nmr.solvents import ich_limits, shift_table

        versions.update(
            {
                "nmr_solvents.csv": shift_table()[1],
                "ich_q3c.csv": ich_limits()[1],
                "solvent_aliases.csv": read_data_file("solvent_aliases.csv").version,
            }
        )
    return versions
