"""Tamper evidence, independent of the database engine.

Every stored fact is sealed in the audit chain when it is written:

- an analysis by the SHA-256 of its canonical content (its `analyses` row and
  all its rows in `inputs`, `species_results`, `diagnoses`, `checks`,
  `report_files`), plus a short digest per row so a check can name the row
  that differs;
- a ledger event by the SHA-256 of its canonical row.

Canonical content is built here from plain column -> value mappings over the
logical schema below (never engine-specific columns such as SQLite's rowid),
values normalised by declared type, JSON with sorted keys. Rows of a child
table are a multiset (sorted by their canonical text): their order carries no
fact, their number does. Any engine that returns the same values gets the
same hashes, so a store copied between engines keeps its chain.

Each audit row's hash covers the previous row's hash, so removing or editing
an audit row breaks the chain; with a site key, each row's hash is also signed
(HMAC-SHA256), so the chain cannot be rewritten from the changed row onwards
without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

GENESIS = "0" * 64
ROW_DIGEST_CHARS = 16
KEY_MIN_BYTES = 16

# The logical schema the content hashes cover: column and kind (text, int, real), per table.
CONTENT_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "analyses": (
        ("id", "text"),
        ("batch", "text"),
        ("sample", "text"),
        ("stage", "text"),
        ("route_id", "text"),
        ("route_version", "text"),
        ("revision", "int"),
        ("supersedes", "text"),
        ("verdict", "text"),
        ("specqc_version", "text"),
        ("parameters_json", "text"),
        ("reference_data_json", "text"),
        ("report_json", "text"),
        ("report_sha256", "text"),
        ("recorded_at", "text"),
        ("recorded_by", "text"),
        ("host", "text"),
        ("via", "text"),
        ("purity_pct", "real"),
        ("purity_method", "text"),
    ),
    "inputs": (
        ("position", "int"),
        ("path", "text"),
        ("sha256", "text"),
        ("technique", "text"),
        ("format", "text"),
        ("instrument_json", "text"),
        ("role", "text"),
    ),
    "species_results": (
        ("species_id", "text"),
        ("name", "text"),
        ("role", "text"),
        ("stage_role", "text"),
        ("status", "text"),
        ("rt_min", "real"),
        ("ms_area_pct", "real"),
        ("nmr_mol_pct", "real"),
    ),
    "diagnoses": (("diagnosis_id", "text"), ("severity", "text"), ("title", "text"), ("evidence_json", "text")),
    "checks": (("check_id", "text"), ("status", "text"), ("detail", "text")),
    "report_files": (("path", "text"), ("sha256", "text"), ("format", "text")),
    "ledger": (
        ("seq", "int"),
        ("dataset", "text"),
        ("content_sha256", "text"),
        ("state", "text"),
        ("analysis_id", "text"),
        ("error", "text"),
        ("at", "text"),
        ("permanent", "int"),
        ("holder", "text"),
    ),
    "users": (
        ("seq", "int"),
        ("name", "text"),
        ("role", "text"),
        ("password_hash", "text"),
        ("active", "int"),
        ("at", "text"),
        ("by", "text"),
    ),
    "reviews": (
        ("seq", "int"),
        ("analysis_id", "text"),
        ("reviewer", "text"),
        ("role", "text"),
        ("decision", "text"),
        ("meaning", "text"),
        ("comment", "text"),
        ("report_sha256", "text"),
        ("signed_at", "text"),
        ("client", "text"),
    ),
}
# tables whose rows are each sealed alone, by seq (audit detail {"table", "row", "content_sha256"})
SEALED_ROW_TABLES = ("users", "reviews")
ANALYSIS_TABLES = ("analyses", "inputs", "species_results", "diagnoses", "checks", "report_files")
# the columns that name a row in a message
ROW_KEYS = {
    "analyses": ("id",),
    "inputs": ("position", "path"),
    "species_results": ("species_id",),
    "diagnoses": ("diagnosis_id",),
    "checks": ("check_id",),
    "report_files": ("path",),
    "ledger": ("seq", "dataset"),
    "users": ("seq", "name"),
    "reviews": ("seq", "reviewer"),
}


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise_value(value, kind: str):
    if value is None or isinstance(value, bool):
        return value
    if kind == "real" and isinstance(value, int):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (bytes, bytearray, memoryview)):  # never written by specqc: keep it visible
        return {"bytes": bytes(value).hex()}
    return value


def normalise(table: str, row: Mapping) -> dict:
    """The row's logical columns with engine-neutral values (a missing column reads as NULL)."""
    keys = row.keys() if hasattr(row, "keys") else row
    return {name: _normalise_value(row[name] if name in keys else None, kind) for name, kind in CONTENT_COLUMNS[table]}


def row_text(table: str, row: Mapping) -> str:
    return canonical([table, normalise(table, row)])


def row_digest(table: str, row: Mapping) -> str:
    return sha(row_text(table, row))[:ROW_DIGEST_CHARS]


def analysis_seal(rows: Mapping[str, Iterable[Mapping]]) -> dict:
    """content_sha256 and per-table row digests of one analysis, from its rows per table."""
    texts = {table: sorted(row_text(table, row) for row in rows.get(table, ())) for table in ANALYSIS_TABLES}
    return {
        "content_sha256": sha(canonical(texts)),
        "rows": {table: sorted(sha(text)[:ROW_DIGEST_CHARS] for text in texts[table]) for table in texts},
    }


def ledger_seal(row: Mapping) -> str:
    return sha(row_text("ledger", row))


def row_seal(table: str, row: Mapping) -> str:
    return sha(row_text(table, row))


def audit_hash(previous: str, at: str, actor: str, action: str, analysis_id: str | None, detail: str) -> str:
    return sha(canonical([previous, at, actor, action, analysis_id, detail]))


def sign(key: bytes, digest: str) -> str:
    return hmac.new(key, b"specqc-audit-chain:" + digest.encode("ascii"), hashlib.sha256).hexdigest()


def signature_valid(key: bytes, digest: str, mac: str) -> bool:
    return hmac.compare_digest(sign(key, digest), mac)


def load_key(path: str | Path) -> bytes:
    """The site key: the file's bytes, surrounding whitespace left out (a hex or
    base64 line from `openssl rand` works as it is)."""
    path = Path(path)
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"store key file cannot be read: {exc.strerror or exc}", path) from exc
    if len(key) < KEY_MIN_BYTES:
        raise ConfigError(f"store key file holds {len(key)} bytes; a key needs at least {KEY_MIN_BYTES}", path)
    return key


def describe_row(table: str, row: Mapping) -> str:
    values = normalise(table, row)
    return f"{table} row " + ", ".join(f"{k}={values[k]!r}" for k in ROW_KEYS[table])


@dataclass
class ChainState:
    """What the audit chain says was written, and what is wrong with the chain itself."""

    problems: list[str] = field(default_factory=list)
    analyses: dict[str, tuple[int, dict]] = field(default_factory=dict)  # id -> (audit seq, seal detail)
    legacy_records: set[str] = field(default_factory=set)  # recorded before content was sealed
    ledger: dict[int, tuple[int, str]] = field(default_factory=dict)  # ledger seq -> (audit seq, content hash)
    # (table, row seq) -> (audit seq, content hash), for SEALED_ROW_TABLES
    rows: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    last_seq: int | None = None
    last_hash: str = GENESIS
    signed_rows: int = 0


def walk_chain(rows: Iterable[Mapping], key: bytes | None = None) -> ChainState:
    """Check links, hashes and (with the key) signatures of the audit rows in
    seq order, and collect the seals they carry."""
    state = ChainState()
    previous, expected_seq, head = GENESIS, 1, None
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            state.problems.append(f"audit row(s) missing before seq {seq}")
        digest = audit_hash(row["prev_hash"], row["at"], row["actor"], row["action"], row["analysis_id"], row["detail"])
        if row["prev_hash"] != previous or digest != row["hash"]:
            state.problems.append(f"audit chain broken at seq {seq}")
        mac = row["mac"] if "mac" in row.keys() else None
        if mac is not None:
            state.signed_rows += 1
            if key is not None and not signature_valid(key, row["hash"], mac):
                state.problems.append(
                    f"audit row seq {seq}: signature does not verify with the site key "
                    "(chain rewritten without the key?)"
                )
        _collect_seal(state, row)
        previous, expected_seq, head = row["hash"], seq + 1, row
    if head is not None:
        state.last_seq, state.last_hash = head["seq"], head["hash"]
        if key is not None and (head["mac"] if "mac" in head.keys() else None) is None:
            state.problems.append(f"audit chain head (seq {head['seq']}) is not signed with the site key")
    return state


def _collect_seal(state: ChainState, row: Mapping) -> None:
    try:
        detail = json.loads(row["detail"])
    except (TypeError, ValueError):
        state.problems.append(f"audit row seq {row['seq']}: detail is not JSON")
        return
    if not isinstance(detail, dict):
        return
    if "ledger" in detail and "content_sha256" in detail:
        state.ledger[detail["ledger"]] = (row["seq"], detail["content_sha256"])
    elif detail.get("table") in SEALED_ROW_TABLES and "row" in detail and "content_sha256" in detail:
        state.rows[(detail["table"], detail["row"])] = (row["seq"], detail["content_sha256"])
    elif row["action"] in ("record", "adopt") and row["analysis_id"]:
        if "content_sha256" in detail:
            state.analyses[row["analysis_id"]] = (row["seq"], detail)
        else:
            state.legacy_records.add(row["analysis_id"])


def compare_analysis(
    analysis_id: str,
    rows: Mapping[str, list[Mapping]],
    seal: dict,
    expected: Mapping[str, Sequence[Mapping]] | None = None,
) -> list[str]:
    """What differs between an analysis' rows now and its seal. `expected`: the
    rows its stored report implies (when that report is intact), to say which
    column of a changed row differs."""
    current = analysis_seal(rows)
    if current["content_sha256"] == seal.get("content_sha256"):
        return []
    problems = []
    recorded = seal.get("rows") or {}
    for table in ANALYSIS_TABLES:
        now = Counter(row_digest(table, row) for row in rows.get(table, ()))
        then = Counter(recorded.get(table, []))
        gone = then - now
        extra, missing = now - then, sum(gone.values())
        for row in rows.get(table, ()):
            digest = row_digest(table, row)
            if extra[digest] <= 0:
                continue
            extra[digest] -= 1
            how = "changed" if missing else "added"
            missing -= 1 if missing else 0
            note = _column_difference(table, row, (expected or {}).get(table))
            problems.append(f"record {analysis_id}: {describe_row(table, row)} {how} behind the store's back{note}")
        if missing:
            named = []
            for row in (expected or {}).get(table, ()):  # the report's rows say which ones went
                digest = row_digest(table, row)
                if gone[digest] > 0 and len(row.keys()) == len(CONTENT_COLUMNS[table]):
                    gone[digest] -= 1
                    named.append(describe_row(table, row))
            problems += [f"record {analysis_id}: {name} removed behind the store's back" for name in named[:missing]]
            if missing > len(named):
                problems.append(
                    f"record {analysis_id}: {missing - len(named)} {table} row(s) removed behind the store's back"
                )
    if not problems:
        problems.append(f"record {analysis_id}: content differs from what was recorded")
    return problems


def _column_difference(table: str, row: Mapping, expected_rows: Sequence[Mapping] | None) -> str:
    if not expected_rows:
        return ""
    keys = ROW_KEYS[table][:1]
    values = normalise(table, row)
    for candidate in expected_rows:
        wanted = normalise(table, candidate)
        if all(wanted[k] == values[k] for k in keys):
            changed = [
                name for name, _ in CONTENT_COLUMNS[table] if name in candidate.keys() and wanted[name] != values[name]
            ]
            if changed:
                return (
                    " ("
                    + "; ".join(
                        f"{name} is {_short(values[name])}, the stored report says {_short(wanted[name])}"
                        for name in changed
                    )
                    + ")"
                )
            return ""
    return ""


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
