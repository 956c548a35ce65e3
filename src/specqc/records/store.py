"""The embedded results store: one SQLite file, append-only, with an audit chain.

Everything a batch record needs sits behind `Store`, so a server database can
replace SQLite later without touching the analysis code. Rules it keeps:

- nothing is updated or deleted: a re-analysis adds a revision that points at
  the one it supersedes, and triggers refuse UPDATE/DELETE on every record table;
- every write is one transaction (BEGIN IMMEDIATE), so a crash leaves either the
  whole analysis or none of it; WAL mode lets the watch service and a chemist's
  CLI write at once (the second waits for the first);
- every change appends an audit row whose hash covers the previous row's hash,
  so `verify` notices a row changed or removed behind the store's back;
- record ids are derived from content (batch, sample, stage, inputs, report), so
  the same analysis recorded or exported twice is recognisably the same record.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, InputError
from ..provenance import sha256_of

SCHEMA_VERSION = 2
RECORD_TABLES = ("analyses", "inputs", "species_results", "diagnoses", "checks", "report_files", "audit",
                 "ledger")
GENESIS = "0" * 64

# Schema 1: the first released layout. Never edit it: stores in the field were made by it.
SCHEMA_1 = """
CREATE TABLE analyses (
    id TEXT PRIMARY KEY, batch TEXT, sample TEXT NOT NULL, stage TEXT NOT NULL, route_id TEXT NOT NULL,
    route_version TEXT NOT NULL, revision INTEGER NOT NULL, supersedes TEXT REFERENCES analyses(id),
    verdict TEXT NOT NULL, specqc_version TEXT NOT NULL, parameters_json TEXT NOT NULL,
    reference_data_json TEXT NOT NULL, report_json TEXT NOT NULL, report_sha256 TEXT NOT NULL,
    recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL, host TEXT NOT NULL, via TEXT NOT NULL
);
CREATE INDEX analyses_batch ON analyses(batch, stage);
CREATE TABLE inputs (
    analysis_id TEXT NOT NULL REFERENCES analyses(id), position INTEGER NOT NULL, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, technique TEXT NOT NULL, format TEXT NOT NULL, instrument_json TEXT NOT NULL
);
CREATE TABLE species_results (
    analysis_id TEXT NOT NULL REFERENCES analyses(id), species_id TEXT NOT NULL, name TEXT NOT NULL,
    role TEXT NOT NULL, stage_role TEXT NOT NULL, status TEXT NOT NULL, rt_min REAL, ms_area_pct REAL,
    nmr_mol_pct REAL
);
CREATE TABLE diagnoses (
    analysis_id TEXT NOT NULL REFERENCES analyses(id), diagnosis_id TEXT NOT NULL, severity TEXT NOT NULL,
    title TEXT NOT NULL, evidence_json TEXT NOT NULL
);
CREATE TABLE checks (
    analysis_id TEXT NOT NULL REFERENCES analyses(id), check_id TEXT NOT NULL, status TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE report_files (
    analysis_id TEXT NOT NULL REFERENCES analyses(id), path TEXT NOT NULL, sha256 TEXT NOT NULL,
    format TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    analysis_id TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
"""

# Schema 2: the watch service's ledger (an event log: the latest event of a
# dataset revision is its state) and the purity figure as a column for exports.
SCHEMA_2 = """
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, content_sha256 TEXT NOT NULL,
    state TEXT NOT NULL, analysis_id TEXT, error TEXT, at TEXT NOT NULL
);
CREATE INDEX ledger_dataset ON ledger(dataset, content_sha256, seq);
ALTER TABLE analyses ADD COLUMN purity_pct REAL;
ALTER TABLE analyses ADD COLUMN purity_method TEXT;
"""
MIGRATIONS = {1: SCHEMA_1, 2: SCHEMA_2}


def _append_only_triggers(tables) -> str:
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'specqc store is append-only'); END;"
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'specqc store is append-only'); END;" for table in tables)


def default_store_path() -> Path:
    """$SPECQC_STORE, else the per-user data folder of the platform."""
    if os.environ.get("SPECQC_STORE"):
        return Path(os.environ["SPECQC_STORE"])
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "specqc" / "records.sqlite"


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Actor:
    user: str
    host: str
    via: str  # "cli" | "watch"

    @classmethod
    def current(cls, via: str) -> Actor:
        try:
            user = getpass.getuser()
        except Exception:  # no login name (service accounts, containers)
            user = f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
        return cls(user, socket.gethostname(), via)


@dataclass(frozen=True)
class Recorded:
    id: str
    revision: int
    new: bool  # False when this exact analysis was already in the store


def record_id(report: dict, sample: str, batch: str | None) -> str:
    key = canonical([batch, sample, report["route"]["id"], report["route"]["stage"],
                     sorted(i["sha256"] for i in report["inputs"]), _sha(canonical(report))])
    return _sha(key)[:24]


def instrument_metadata(report: dict) -> dict[str, dict]:
    """Per input path: what the report knows of the instrument and acquisition."""
    found: dict[str, dict] = {}
    for run in report.get("lcms_runs", []):
        found[run["path"]] = {"polarity": run.get("polarity"), "resolution": run.get("resolution"),
                              "tolerance": run.get("tolerance"), "scans": run.get("scans"),
                              "rt_range_min": run.get("rt_range_min")}
    for block in [report.get("nmr")] + list(report.get("nmr_additional", [])):
        if block:
            found[block["source"]] = {"solvent": block.get("solvent"), **(block.get("metadata") or {})}
    return found


def sample_name(report: dict) -> str:
    named = (report.get("sample") or {}).get("sample")
    if named:
        return named
    first = Path(report["inputs"][0]["path"]) if report["inputs"] else Path("unknown")
    return first.name.rsplit(".", 1)[0] if first.suffix else first.name


class Store:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one Store is used by one thread at a time (the watch service hands it to its loop thread)
            self.connection = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"results store cannot be opened: {exc}", self.path) from exc
        self.connection.row_factory = sqlite3.Row
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            raise InputError(f"not a specqc results store (or damaged): {exc}", self.path) from exc

    # ------------------------------------------------------------ schema

    @property
    def schema_version(self) -> int:
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise ConfigError(f"results store has schema {version}, newer than this specqc ({SCHEMA_VERSION}); "
                              "upgrade specqc", self.path)
        while version < SCHEMA_VERSION:
            target = version + 1
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                if self.schema_version == version:  # another process may have migrated meanwhile
                    for statement in MIGRATIONS[target].split(";"):
                        if statement.strip():
                            self.connection.execute(statement)
                    self.connection.execute(f"PRAGMA user_version={target}")
                    self._audit("migrate", None, {"from": version, "to": target}, Actor.current("cli"))
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            version = self.schema_version
        self.connection.executescript(_append_only_triggers(RECORD_TABLES))

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ audit chain

    def _audit(self, action: str, analysis_id: str | None, detail: dict, actor: Actor) -> None:
        row = self.connection.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        previous = row["hash"] if row else GENESIS
        at = now_iso()
        actor_text = f"{actor.user}@{actor.host} ({actor.via})"
        detail_text = canonical(detail)
        digest = _sha(canonical([previous, at, actor_text, action, analysis_id, detail_text]))
        self.connection.execute(
            "INSERT INTO audit (at, actor, action, analysis_id, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
            (at, actor_text, action, analysis_id, detail_text, previous, digest))

    # ------------------------------------------------------------ writing

    def record(self, report: dict, *, actor: Actor, report_files: list[tuple[str | Path, str]] = ()) -> Recorded:
        """Store one analysis (and the report files written for it) as a new revision."""
        instrument = instrument_metadata(report)
        sample_info = report.get("sample") or {}
        batch = sample_info.get("batch")
        sample = sample_name(report)
        stage, route = report["route"]["stage"], report["route"]
        analysis_id = record_id(report, sample, batch)
        report_text = canonical(report)
        purity = report["qc"].get("purity") or {}
        purity, purity_method = purity.get("value_pct"), purity.get("method")
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            if self.connection.execute("SELECT 1 FROM analyses WHERE id=?", (analysis_id,)).fetchone():
                self._audit("record-again", analysis_id, {"note": "identical analysis already stored"}, actor)
                revision = self.connection.execute("SELECT revision FROM analyses WHERE id=?",
                                                   (analysis_id,)).fetchone()[0]
                self.connection.execute("COMMIT")
                return Recorded(analysis_id, revision, False)
            previous = self.connection.execute(
                "SELECT id, revision FROM analyses WHERE batch IS ? AND sample=? AND stage=? AND route_id=? "
                "ORDER BY revision DESC LIMIT 1", (batch, sample, stage, route["id"])).fetchone()
            revision = previous["revision"] + 1 if previous else 1
            self.connection.execute(
                "INSERT INTO analyses (id, batch, sample, stage, route_id, route_version, revision, supersedes, "
                "verdict, specqc_version, parameters_json, reference_data_json, report_json, report_sha256, "
                "recorded_at, recorded_by, host, via, purity_pct, purity_method) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (analysis_id, batch, sample, stage, route["id"], str(route["version"]), revision,
                 previous["id"] if previous else None, report["qc"]["verdict"], report["specqc_version"],
                 canonical(report.get("parameters", {})), canonical(report.get("reference_data", {})),
                 report_text, _sha(report_text), now_iso(), actor.user, actor.host, actor.via,
                 purity, purity_method))
            for position, item in enumerate(report["inputs"]):
                self.connection.execute(
                    "INSERT INTO inputs VALUES (?,?,?,?,?,?,?)",
                    (analysis_id, position, str(Path(item["path"]).resolve()), item["sha256"], item["technique"],
                     item["format"], canonical(instrument.get(item["path"], {}))))
            for entry in report["species"]:
                lcms, nmr = entry.get("lcms") or {}, entry.get("nmr") or {}
                self.connection.execute(
                    "INSERT INTO species_results VALUES (?,?,?,?,?,?,?,?,?)",
                    (analysis_id, entry["id"], entry["name"], entry["role"], entry.get("stage_role", ""),
                     entry.get("status", "detected" if entry["detected"] else "not-detected"), lcms.get("rt_min"),
                     lcms.get("relative_area_pct"), nmr.get("mol_pct")))
            for diagnosis in report["diagnoses"]:
                self.connection.execute("INSERT INTO diagnoses VALUES (?,?,?,?,?)",
                                        (analysis_id, diagnosis["id"], diagnosis["severity"], diagnosis["title"],
                                         canonical(diagnosis["evidence"])))
            for check in report["qc"]["checks"]:
                self.connection.execute("INSERT INTO checks VALUES (?,?,?,?)",
                                        (analysis_id, check["id"], check["status"], check["detail"]))
            for path, kind in report_files:
                self.connection.execute("INSERT INTO report_files VALUES (?,?,?,?)",
                                        (analysis_id, str(Path(path).resolve()), sha256_of(Path(path)), kind))
            self._audit("record", analysis_id, {"batch": batch, "sample": sample, "stage": stage,
                                                "revision": revision, "report_sha256": _sha(report_text),
                                                "supersedes": previous["id"] if previous else None}, actor)
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        return Recorded(analysis_id, revision, True)

    # ------------------------------------------------------------ ledger (watch service)

    def ledger_event(self, dataset: str, content_sha256: str, state: str, *, analysis_id: str | None = None,
                     error: str | None = None) -> None:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            self.connection.execute(
                "INSERT INTO ledger (dataset, content_sha256, state, analysis_id, error, at) VALUES (?,?,?,?,?,?)",
                (dataset, content_sha256, state, analysis_id, error, now_iso()))
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise

    def ledger_state(self, dataset: str, content_sha256: str) -> sqlite3.Row | None:
        return self.connection.execute(
            "SELECT * FROM ledger WHERE dataset=? AND content_sha256=? ORDER BY seq DESC LIMIT 1",
            (dataset, content_sha256)).fetchone()

    def ledger_attempts(self, dataset: str, content_sha256: str, state: str = "failed") -> int:
        return self.connection.execute("SELECT COUNT(*) FROM ledger WHERE dataset=? AND content_sha256=? "
                                       "AND state=?", (dataset, content_sha256, state)).fetchone()[0]

    def ledger_summary(self) -> list[sqlite3.Row]:
        """The latest event of every dataset revision."""
        return self.connection.execute(
            "SELECT l.* FROM ledger l JOIN (SELECT dataset, content_sha256, MAX(seq) AS seq FROM ledger "
            "GROUP BY dataset, content_sha256) latest ON l.seq = latest.seq ORDER BY l.seq").fetchall()

    # ------------------------------------------------------------ reading

    def analyses(self, batch: str | None = None, stage: str | None = None, since: str | None = None):
        query, arguments = "SELECT * FROM analyses WHERE 1=1", []
        if batch is not None:
            query += " AND batch=?"
            arguments.append(batch)
        if stage is not None:
            query += " AND stage=?"
            arguments.append(stage)
        if since is not None:
            query += " AND recorded_at >= ?"
            arguments.append(since)
        return self.connection.execute(query + " ORDER BY recorded_at, rowid", arguments).fetchall()

    def analysis(self, analysis_id: str) -> sqlite3.Row:
        rows = self.connection.execute("SELECT * FROM analyses WHERE id=? OR id LIKE ?",
                                       (analysis_id, f"{analysis_id}%")).fetchall()
        if not rows:
            raise InputError(f"no record with id {analysis_id!r}", self.path)
        if len(rows) > 1:
            raise InputError(f"record id prefix {analysis_id!r} is ambiguous", self.path)
        return rows[0]

    def rows(self, table: str, analysis_id: str) -> list[sqlite3.Row]:
        if table not in RECORD_TABLES:
            raise ValueError(table)
        order = "position" if table == "inputs" else "rowid"
        return self.connection.execute(f"SELECT * FROM {table} WHERE analysis_id=? ORDER BY {order}",
                                       (analysis_id,)).fetchall()

    def superseded_by(self, analysis_id: str) -> str | None:
        row = self.connection.execute("SELECT id FROM analyses WHERE supersedes=?", (analysis_id,)).fetchone()
        return row["id"] if row else None

    # ------------------------------------------------------------ verification

    def verify(self) -> list[str]:
        """Problems found: broken audit chain, stored reports whose hash no longer
        matches, report files or inputs changed on disk. Empty when all is well."""
        problems = []
        integrity = self.connection.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"database integrity: {integrity}")
        previous, expected_seq = GENESIS, None
        for row in self.connection.execute("SELECT * FROM audit ORDER BY seq"):
            if expected_seq is not None and row["seq"] != expected_seq:
                problems.append(f"audit row(s) missing before seq {row['seq']}")
            digest = _sha(canonical([row["prev_hash"], row["at"], row["actor"], row["action"], row["analysis_id"],
                                     row["detail"]]))
            if row["prev_hash"] != previous or digest != row["hash"]:
                problems.append(f"audit chain broken at seq {row['seq']}")
            previous, expected_seq = row["hash"], row["seq"] + 1
        recorded = {r["analysis_id"] for r in self.connection.execute(
            "SELECT analysis_id FROM audit WHERE action='record'")}
        for row in self.connection.execute("SELECT id, report_json, report_sha256 FROM analyses"):
            if _sha(row["report_json"]) != row["report_sha256"]:
                problems.append(f"record {row['id']}: stored report does not match its SHA-256")
            if row["id"] not in recorded:
                problems.append(f"record {row['id']}: no audit entry")
        for row in self.connection.execute("SELECT * FROM report_files"):
            path = Path(row["path"])
            if not path.exists():
                continue  # moved or archived: nothing to compare
            if sha256_of(path) != row["sha256"]:
                problems.append(f"record {row['analysis_id']}: report file {path} changed since it was recorded")
        for row in self.connection.execute("SELECT * FROM inputs"):
            path = Path(row["path"])
            if path.exists():
                try:
                    current = sha256_of(path)
                except OSError:
                    continue
                if current != row["sha256"]:
                    problems.append(f"record {row['analysis_id']}: input {path} changed since it was analysed")
        return problems
