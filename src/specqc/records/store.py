"""The embedded results store: one SQLite file, append-only, with an audit chain.

Everything a batch record needs sits behind `Store`, so a server database can
replace SQLite later without touching the analysis code. Rules it keeps:

- nothing is updated or deleted: a re-analysis adds a revision that points at
  the one it supersedes, and triggers refuse UPDATE/DELETE on every record table;
- every write is one transaction (BEGIN IMMEDIATE), so a crash leaves either the
  whole analysis or none of it; WAL mode lets the watch service and a chemist's
  CLI write at once (the second waits for the first, up to the busy timeout);
- every write appends an audit row sealing what was written (the canonical
  content of an analysis, or of a ledger event; see `chain`) whose hash covers
  the previous row's hash, so `verify` names any row changed, added or removed
  behind the store's back, with or without the triggers; with a site key
  (SPECQC_STORE_KEY_FILE) every audit row is also signed, so rewriting the chain
  needs the key;
- record ids are derived from content (batch, sample, stage, inputs, report), so
  the same analysis recorded or exported twice is recognisably the same record.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ClaimError, ConfigError, InputError, InternalError
from ..provenance import sha256_of
from . import chain
from .chain import GENESIS, canonical, load_key
from .claims import Claim, holder_alive, process_token
from .engines import APPEND_ONLY_MESSAGE, Row, open_engine, parse_location

SCHEMA_VERSION = 4
RECORD_TABLES = (
    "analyses",
    "inputs",
    "species_results",
    "diagnoses",
    "checks",
    "report_files",
    "audit",
    "ledger",
    "users",
    "reviews",
)
# the schema that introduced a record table (its triggers are expected from then on)
TABLE_SINCE = {"users": 4, "reviews": 4}
KEY_FILE_VARIABLE = "SPECQC_STORE_KEY_FILE"
BUSY_TIMEOUT_S = 60.0
_sha = chain.sha

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
# Schema 3: tamper evidence over every stored fact (audit rows seal content and
# may be signed), the role of an input (a blank beside the sample), typed
# ledger failures and the service that wrote each event, and claims (leases:
# which running service holds an inbox). Existing analyses and ledger events
# are sealed as they are found when a store is migrated ("adopt" audit rows).
SCHEMA_3 = """
ALTER TABLE inputs ADD COLUMN role TEXT;
ALTER TABLE audit ADD COLUMN mac TEXT;
ALTER TABLE ledger ADD COLUMN permanent INTEGER;
ALTER TABLE ledger ADD COLUMN holder TEXT;
CREATE TABLE claims (
    resource TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, process TEXT,
    acquired_at REAL NOT NULL, renewed_at REAL NOT NULL, expires_at REAL NOT NULL
);
"""
# Schema 4: the accounts of the QC dashboard (an event log: the latest row of a
# name is the account) and reviews, the signed decisions on an analysis; both
# sealed row by row in the audit chain. Indexes for paging through many analyses:
# covering ones, since the columns after report_json cost a walk through its
# overflow pages when read from the table.
SCHEMA_4 = """
CREATE TABLE users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    active INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL
);
CREATE INDEX users_name ON users(name, seq);
CREATE TABLE reviews (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, analysis_id TEXT NOT NULL REFERENCES analyses(id), reviewer TEXT NOT NULL,
    role TEXT NOT NULL, decision TEXT NOT NULL, meaning TEXT NOT NULL, comment TEXT NOT NULL,
    report_sha256 TEXT NOT NULL, signed_at TEXT NOT NULL, client TEXT
);
CREATE INDEX reviews_analysis ON reviews(analysis_id, seq);
CREATE INDEX analyses_listing ON analyses(recorded_at, id, batch, sample, stage, verdict, revision, route_id, via,
                                          purity_pct);
CREATE INDEX analyses_facts ON analyses(id, recorded_at, batch, sample, stage, verdict, revision, route_id, via,
                                        purity_pct);
CREATE INDEX analyses_batch_time ON analyses(batch, recorded_at, verdict, id);
CREATE INDEX species_results_analysis ON species_results(analysis_id, species_id);
CREATE INDEX species_results_species ON species_results(species_id);
CREATE INDEX checks_analysis ON checks(analysis_id, check_id);
CREATE INDEX diagnoses_analysis ON diagnoses(analysis_id);
CREATE INDEX inputs_analysis ON inputs(analysis_id);
CREATE INDEX report_files_analysis ON report_files(analysis_id);
"""
MIGRATIONS = {1: SCHEMA_1, 2: SCHEMA_2, 3: SCHEMA_3, 4: SCHEMA_4}

# PostgreSQL starts at schema 3, the same logical tables and columns as SQLite's
# schema 1 + 2 + 3 (chain.CONTENT_COLUMNS), so a store copied between the engines
# keeps its hashes. `rowid` is SQLite's implicit insertion order made explicit
# (rows read from the store leave it out); the audit seq is given by the store
# (one past the last and past the high-water mark `audit_high_water`), as
# SQLite's AUTOINCREMENT gives it. Later schemas are numbered alike on both.
POSTGRES_SCHEMA_3 = """
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE analyses (
    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY, batch TEXT, sample TEXT NOT NULL, stage TEXT NOT NULL, route_id TEXT NOT NULL,
    route_version TEXT NOT NULL, revision BIGINT NOT NULL, supersedes TEXT REFERENCES analyses(id),
    verdict TEXT NOT NULL, specqc_version TEXT NOT NULL, parameters_json TEXT NOT NULL,
    reference_data_json TEXT NOT NULL, report_json TEXT NOT NULL, report_sha256 TEXT NOT NULL,
    recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL, host TEXT NOT NULL, via TEXT NOT NULL,
    purity_pct DOUBLE PRECISION, purity_method TEXT
);
CREATE INDEX analyses_batch ON analyses(batch, stage);
CREATE INDEX analyses_sample ON analyses(sample, stage, route_id);
CREATE INDEX analyses_supersedes ON analyses(supersedes);
CREATE TABLE inputs (
    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    analysis_id TEXT NOT NULL REFERENCES analyses(id), position BIGINT NOT NULL, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, technique TEXT NOT NULL, format TEXT NOT NULL, instrument_json TEXT NOT NULL, role TEXT
);
CREATE INDEX inputs_analysis ON inputs(analysis_id);
CREATE INDEX inputs_sha256 ON inputs(sha256);
CREATE TABLE species_results (
    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    analysis_id TEXT NOT NULL REFERENCES analyses(id), species_id TEXT NOT NULL, name TEXT NOT NULL,
    role TEXT NOT NULL, stage_role TEXT NOT NULL, status TEXT NOT NULL, rt_min DOUBLE PRECISION,
    ms_area_pct DOUBLE PRECISION, nmr_mol_pct DOUBLE PRECISION
);
CREATE INDEX species_results_analysis ON species_results(analysis_id);
CREATE TABLE diagnoses (
    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    analysis_id TEXT NOT NULL REFERENCES analyses(id), diagnosis_id TEXT NOT NULL, severity TEXT NOT NULL,
    title TEXT NOT NULL, evidence_json TEXT NOT NULL
);
CREATE INDEX diagnoses_analysis ON diagnoses(analysis_id);
CREATE TABLE checks (
    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    analysis_id TEXT NOT NULL REFERENCES analyses(id), check_id TEXT NOT NULL, status TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX checks_analysis ON checks(analysis_id);
CREATE TABLE report_files (
    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    analysis_id TEXT NOT NULL REFERENCES analyses(id), path TEXT NOT NULL, sha256 TEXT NOT NULL,
    format TEXT NOT NULL
);
CREATE INDEX report_files_analysis ON report_files(analysis_id);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    analysis_id TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT
);
CREATE SEQUENCE audit_high_water;
CREATE TABLE ledger (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, dataset TEXT NOT NULL, content_sha256 TEXT NOT NULL,
    state TEXT NOT NULL, analysis_id TEXT, error TEXT, at TEXT NOT NULL, permanent INTEGER, holder TEXT
);
CREATE INDEX ledger_dataset ON ledger(dataset, content_sha256, seq);
CREATE TABLE claims (
    resource TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, pid BIGINT NOT NULL, process TEXT,
    acquired_at DOUBLE PRECISION NOT NULL, renewed_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
)
"""
POSTGRES_SCHEMA_4 = """
CREATE TABLE users (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, active INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL
);
CREATE INDEX users_name ON users(name, seq);
CREATE TABLE reviews (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, analysis_id TEXT NOT NULL REFERENCES analyses(id),
    reviewer TEXT NOT NULL, role TEXT NOT NULL, decision TEXT NOT NULL, meaning TEXT NOT NULL,
    comment TEXT NOT NULL, report_sha256 TEXT NOT NULL, signed_at TEXT NOT NULL, client TEXT
);
CREATE INDEX reviews_analysis ON reviews(analysis_id, seq);
CREATE INDEX analyses_batch_time ON analyses(batch, recorded_at, verdict, id);
CREATE INDEX species_results_species ON species_results(species_id)
"""
POSTGRES_MIGRATIONS = {3: POSTGRES_SCHEMA_3, 4: POSTGRES_SCHEMA_4}


# what `copy_from` carries over, per table: the logical columns (chain.CONTENT_COLUMNS and the links)
COPIED_COLUMNS = {
    **{
        table: ("analysis_id",) * (table != "analyses") + tuple(name for name, _ in chain.CONTENT_COLUMNS[table])
        for table in chain.ANALYSIS_TABLES
    },
    **{
        table: tuple(name for name, _ in chain.CONTENT_COLUMNS[table]) for table in ("ledger", *chain.SEALED_ROW_TABLES)
    },
    "audit": ("seq", "at", "actor", "action", "analysis_id", "detail", "prev_hash", "hash", "mac"),
}


def _append_only_triggers(tables: Iterable[str]) -> str:
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END;"
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END;"
        for table in tables
    )


def default_store_location() -> str | Path:
    """$SPECQC_STORE (a path or a store URL), else the per-user data folder's file."""
    return os.environ.get("SPECQC_STORE") or default_store_path()


def default_store_path() -> Path:
    """$SPECQC_STORE when it is a path, else the per-user data folder of the platform."""
    if os.environ.get("SPECQC_STORE") and "://" not in os.environ["SPECQC_STORE"]:
        return Path(os.environ["SPECQC_STORE"])
    from platformdirs import user_data_path

    # %LOCALAPPDATA%\specqc on Windows, $XDG_DATA_HOME/specqc on Linux, ~/Library/Application Support/specqc on macOS
    return user_data_path("specqc", appauthor=False) / "records.sqlite"


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


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


def record_id(report: dict[str, Any], sample: str, batch: str | None) -> str:
    key = canonical(
        [
            batch,
            sample,
            report["route"]["id"],
            report["route"]["stage"],
            sorted(i["sha256"] for i in report["inputs"]),
            _sha(canonical(report)),
        ]
    )
    return _sha(key)[:24]


def instrument_metadata(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per input path: what the report knows of the instrument and acquisition."""
    found: dict[str, dict[str, Any]] = {}
    for run in report.get("lcms_runs", []):
        found[run["path"]] = {
            "polarity": run.get("polarity"),
            "resolution": run.get("resolution"),
            "tolerance": run.get("tolerance"),
            "scans": run.get("scans"),
            "rt_range_min": run.get("rt_range_min"),
        }
    for block in [report.get("nmr")] + list(report.get("nmr_additional", [])):
        if block:
            found[block["source"]] = {"solvent": block.get("solvent"), **(block.get("metadata") or {})}
    return found


def sample_name(report: dict[str, Any]) -> str:
    named: str | None = (report.get("sample") or {}).get("sample")
    if named:
        return named
    samples = [i for i in report["inputs"] if i.get("role", "sample") == "sample"] or report["inputs"]
    first = Path(samples[0]["path"]) if samples else Path("unknown")
    return first.name.rsplit(".", 1)[0] if first.suffix else first.name


def report_rows(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The rows an analysis' report gives, per table (inputs' paths as the report
    states them; the store keeps them resolved). `record` writes these, and
    `verify` compares a changed row with them to say which column differs."""
    instrument = instrument_metadata(report)
    purity = report["qc"].get("purity") or {}
    report_text = canonical(report)
    return {
        "analyses": [
            {
                "batch": (report.get("sample") or {}).get("batch"),
                "sample": sample_name(report),
                "stage": report["route"]["stage"],
                "route_id": report["route"]["id"],
                "route_version": str(report["route"]["version"]),
                "verdict": report["qc"]["verdict"],
                "specqc_version": report["specqc_version"],
                "parameters_json": canonical(report.get("parameters", {})),
                "reference_data_json": canonical(report.get("reference_data", {})),
                "report_json": report_text,
                "report_sha256": _sha(report_text),
                "purity_pct": purity.get("value_pct"),
                "purity_method": purity.get("method"),
            }
        ],
        "inputs": [
            {
                "position": position,
                "path": item["path"],
                "sha256": item["sha256"],
                "technique": item["technique"],
                "format": item["format"],
                "instrument_json": canonical(instrument.get(item["path"], {})),
                "role": item.get("role", "sample"),
            }
            for position, item in enumerate(report["inputs"])
        ],
        "species_results": [
            {
                "species_id": entry["id"],
                "name": entry["name"],
                "role": entry["role"],
                "stage_role": entry.get("stage_role", ""),
                "status": entry.get("status", "detected" if entry["detected"] else "not-detected"),
                "rt_min": (entry.get("lcms") or {}).get("rt_min"),
                "ms_area_pct": (entry.get("lcms") or {}).get("relative_area_pct"),
                "nmr_mol_pct": (entry.get("nmr") or {}).get("mol_pct"),
            }
            for entry in report["species"]
        ],
        "diagnoses": [
            {
                "diagnosis_id": d["id"],
                "severity": d["severity"],
                "title": d["title"],
                "evidence_json": canonical(d["evidence"]),
            }
            for d in report["diagnoses"]
        ],
        "checks": [{"check_id": c["id"], "status": c["status"], "detail": c["detail"]} for c in report["qc"]["checks"]],
    }


class Store:
    def __init__(
        self,
        path: str | Path | None = None,
        *,
        key_file: str | Path | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        _seal_migrations: bool = True,
    ):
        """`path`: a file, `sqlite:///PATH` or `postgresql://user[:password]@host[:port]/db`
        (default $SPECQC_STORE, else the per-user data folder). `key_file`: the
        site key that signs the audit chain (default $SPECQC_STORE_KEY_FILE;
        none: unsigned). `busy_timeout_s`: how long a write waits for another
        writer's transaction before StoreLockedError."""
        self.location = parse_location(path if path is not None else default_store_location())
        self.engine_name = self.location.engine
        # what messages name: the file, or the URL without its password
        self.path = self.location.display
        key_file = key_file if key_file is not None else os.environ.get(KEY_FILE_VARIABLE) or None
        self.key_file = Path(key_file) if key_file else None
        self.key = load_key(self.key_file) if self.key_file else None
        self.busy_timeout_s = busy_timeout_s
        self.restored_triggers: list[str] = []  # append-only triggers found dropped when the store was opened
        self._seal_migrations = _seal_migrations
        self._audit_signed: bool | None = None  # whether audit rows carry a mac column (known once migrated)
        self._db = open_engine(self.location, busy_timeout_s)
        # the engine's own connection (sqlite3 or psycopg), for tools that need the engine itself
        self.connection = self._db.connection
        try:
            self._migrate()
        except self._db.errors as exc:
            self._db.close()
            problem = self._db.problem(exc)
            if problem is not exc:
                raise problem from exc
            raise InputError(f"not a specqc results store (or damaged): {exc}", self.path) from exc
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------ schema

    @property
    def schema_version(self) -> int:
        return self._db.schema_version()

    def _migrate(self) -> None:
        version = opened_at = self.schema_version
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"results store has schema {version}, newer than this specqc ({SCHEMA_VERSION}); upgrade specqc",
                self.path,
            )
        if opened_at >= 3:  # a store this version made always had its triggers: their absence is tampering
            existed = [t for t in RECORD_TABLES if TABLE_SINCE.get(t, 1) <= opened_at]
            self.restored_triggers = self._db.missing_triggers(existed)
        migrations = MIGRATIONS if self.engine_name == "sqlite" else POSTGRES_MIGRATIONS
        while version < SCHEMA_VERSION:
            target = min(step for step in migrations if step > version)
            with self._transaction():
                if self.schema_version == version:  # another process may have migrated meanwhile
                    self._db.run_script(migrations[target])
                    self._db.set_schema_version(target)
                    if self._seal_migrations:
                        actor = Actor.current("cli")
                        sealed = self._seal_existing(actor) if target == 3 else {}
                        self._audit("migrate", None, {"from": version, "to": target, **sealed}, actor)
            version = self.schema_version
        self._audit_signed = "mac" in self._db.columns("audit")
        if self.engine_name == "sqlite":
            self._db.install_triggers(RECORD_TABLES)  # IF NOT EXISTS, in its own transaction
        elif self._db.missing_triggers(RECORD_TABLES):
            with self._transaction():
                self._db.install_triggers(RECORD_TABLES)

    def _seal_existing(self, actor: Actor) -> dict[str, int]:
        """Seal the analyses and ledger events of a store made before content was
        sealed, as they are now: from here on a change to any of them shows."""
        analyses = [r["id"] for r in self._db.execute("SELECT id FROM analyses ORDER BY rowid")]
        for analysis_id in analyses:
            self._audit(
                "adopt",
                analysis_id,
                {"sealed": "at migration to schema 3", **chain.analysis_seal(self._analysis_rows(analysis_id))},
                actor,
            )
        events = self._db.execute("SELECT * FROM ledger ORDER BY seq").fetchall()
        for row in events:
            self._audit(
                "adopt", row["analysis_id"], {"ledger": row["seq"], "content_sha256": chain.ledger_seal(row)}, actor
            )
        return {"sealed_analyses": len(analyses), "sealed_ledger_events": len(events)}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self._db.begin()
        except self._db.errors as exc:
            self._db.rollback()
            problem = self._db.problem(exc)
            if problem is exc:
                raise
            raise problem from exc
        try:
            yield
            self._db.commit()
        except BaseException as exc:
            try:
                self._db.rollback()
            except self._db.errors:
                pass  # the connection is gone: the server rolled the transaction back
            if isinstance(exc, self._db.errors):
                problem = self._db.problem(exc)
                if problem is not exc:
                    raise problem from exc
            raise

    def _count(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        """The number a COUNT query returns."""
        row = self._db.execute(sql, parameters).fetchone()
        if row is None:  # an aggregate always returns one row
            raise InternalError(f"no row returned by: {sql}", self.path)
        return int(row[0])

    def _written(self, table: str, seq: int) -> Row:
        """The row just inserted with `seq`, read back as the engine holds it."""
        row = self._db.execute(f"SELECT * FROM {table} WHERE seq=?", (seq,)).fetchone()
        if row is None:  # the same transaction inserted it
            raise InternalError(f"{table} row seq={seq} not found right after it was inserted", self.path)
        return row

    # ------------------------------------------------------------ audit chain

    def _audit(self, action: str, analysis_id: str | None, detail: dict[str, Any], actor: Actor) -> None:
        signed = self._audit_signed if self._audit_signed is not None else "mac" in self._db.columns("audit")
        head = self._db.execute(
            f"SELECT seq, hash{', mac' if signed else ''} FROM audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        previous = head["hash"] if head else GENESIS
        if head is not None and signed and head["mac"] is not None:
            # writing unsigned (or with another key) after a signed head would leave a chain verify rejects
            if self.key is None:
                raise ConfigError(
                    f"results store is signed with a site key: set {KEY_FILE_VARIABLE} "
                    "(or [store] key_file) to write to it",
                    self.path,
                )
            if not chain.signature_valid(self.key, head["hash"], head["mac"]):
                raise ConfigError(
                    f"results store is signed with another site key than the one given ({self.key_file})", self.path
                )
        at = now_iso()
        actor_text = f"{actor.user}@{actor.host} ({actor.via})"
        detail_text = canonical(detail)
        digest = chain.audit_hash(previous, at, actor_text, action, analysis_id, detail_text)
        values = {
            "at": at,
            "actor": actor_text,
            "action": action,
            "analysis_id": analysis_id,
            "detail": detail_text,
            "prev_hash": previous,
            "hash": digest,
        }
        if signed:
            values["mac"] = chain.sign(self.key, digest) if self.key is not None else None
        seq = self._db.next_audit_seq(head["seq"] if head else None)
        if seq is not None:
            values["seq"] = seq
        self._db.execute(
            f"INSERT INTO audit ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})", tuple(values.values())
        )
        if seq is not None:
            self._db.note_audit_seq(seq)

    def chain_head(self) -> dict[str, Any] | None:
        """The newest audit row: seq, hash and whether it is signed (keep it
        elsewhere to check later that the chain was not cut back to an older head)."""
        row = self._db.execute("SELECT seq, hash, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else {"seq": row["seq"], "hash": row["hash"], "signed": row["mac"] is not None}

    # ------------------------------------------------------------ writing

    def record(
        self, report: dict[str, Any], *, actor: Actor, report_files: Iterable[tuple[str | Path, str]] = ()
    ) -> Recorded:
        """Store one analysis (and the report files written for it) as a new revision."""
        rows = report_rows(report)
        fields = rows["analyses"][0]
        batch, sample, stage = fields["batch"], fields["sample"], fields["stage"]
        analysis_id = record_id(report, sample, batch)
        files = [(str(Path(path).resolve()), sha256_of(Path(path)), kind) for path, kind in report_files]
        with self._transaction():
            existing = self._db.execute("SELECT revision FROM analyses WHERE id=?", (analysis_id,)).fetchone()
            if existing:
                self._audit("record-again", analysis_id, {"note": "identical analysis already stored"}, actor)
                return Recorded(analysis_id, existing["revision"], False)
            previous = self._db.execute(
                "SELECT id, revision FROM analyses WHERE batch IS ? AND sample=? AND stage=? AND route_id=? "
                "ORDER BY revision DESC LIMIT 1",
                (batch, sample, stage, fields["route_id"]),
            ).fetchone()
            revision = previous["revision"] + 1 if previous else 1
            self._db.execute(
                "INSERT INTO analyses (id, batch, sample, stage, route_id, route_version, revision, supersedes, "
                "verdict, specqc_version, parameters_json, reference_data_json, report_json, report_sha256, "
                "recorded_at, recorded_by, host, via, purity_pct, purity_method) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    analysis_id,
                    batch,
                    sample,
                    stage,
                    fields["route_id"],
                    fields["route_version"],
                    revision,
                    previous["id"] if previous else None,
                    fields["verdict"],
                    fields["specqc_version"],
                    fields["parameters_json"],
                    fields["reference_data_json"],
                    fields["report_json"],
                    fields["report_sha256"],
                    now_iso(),
                    actor.user,
                    actor.host,
                    actor.via,
                    fields["purity_pct"],
                    fields["purity_method"],
                ),
            )
            # one statement per table (a server store gets them in one round trip each)
            self._db.executemany(
                "INSERT INTO inputs (analysis_id, position, path, sha256, technique, format, instrument_json, "
                "role) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        analysis_id,
                        item["position"],
                        str(Path(item["path"]).resolve()),
                        item["sha256"],
                        item["technique"],
                        item["format"],
                        item["instrument_json"],
                        item["role"],
                    )
                    for item in rows["inputs"]
                ],
            )
            self._db.executemany(
                "INSERT INTO species_results (analysis_id, species_id, name, role, stage_role, status, rt_min, "
                "ms_area_pct, nmr_mol_pct) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        analysis_id,
                        item["species_id"],
                        item["name"],
                        item["role"],
                        item["stage_role"],
                        item["status"],
                        item["rt_min"],
                        item["ms_area_pct"],
                        item["nmr_mol_pct"],
                    )
                    for item in rows["species_results"]
                ],
            )
            self._db.executemany(
                "INSERT INTO diagnoses (analysis_id, diagnosis_id, severity, title, evidence_json) VALUES (?,?,?,?,?)",
                [
                    (analysis_id, item["diagnosis_id"], item["severity"], item["title"], item["evidence_json"])
                    for item in rows["diagnoses"]
                ],
            )
            self._db.executemany(
                "INSERT INTO checks (analysis_id, check_id, status, detail) VALUES (?,?,?,?)",
                [(analysis_id, item["check_id"], item["status"], item["detail"]) for item in rows["checks"]],
            )
            self._db.executemany(
                "INSERT INTO report_files (analysis_id, path, sha256, format) VALUES (?,?,?,?)",
                [(analysis_id, path, digest, kind) for path, digest, kind in files],
            )
            # sealed as read back, so the hash is of what the engine holds, not of what was handed to it
            self._audit(
                "record",
                analysis_id,
                {
                    "batch": batch,
                    "sample": sample,
                    "stage": stage,
                    "revision": revision,
                    "report_sha256": fields["report_sha256"],
                    "supersedes": previous["id"] if previous else None,
                    **chain.analysis_seal(self._analysis_rows(analysis_id)),
                },
                actor,
            )
        return Recorded(analysis_id, revision, True)

    def _analysis_rows(self, analysis_id: str) -> dict[str, list[Row]]:
        rows = {"analyses": self._db.execute("SELECT * FROM analyses WHERE id=?", (analysis_id,)).fetchall()}
        for table in chain.ANALYSIS_TABLES[1:]:
            rows[table] = self._db.execute(f"SELECT * FROM {table} WHERE analysis_id=?", (analysis_id,)).fetchall()
        return rows

    # ------------------------------------------------------------ ledger (watch service)

    def ledger_event(
        self,
        dataset: str,
        content_sha256: str,
        state: str,
        *,
        analysis_id: str | None = None,
        error: str | None = None,
        permanent: bool | None = None,
        holder: str | None = None,
        actor: Actor | None = None,
    ) -> int:
        """Append an event for a dataset revision; `permanent` says whether a
        failure is the input's (not retried) or not. Returns the event's seq."""
        with self._transaction():
            seq = self._db.insert(
                "INSERT INTO ledger (dataset, content_sha256, state, analysis_id, error, at, permanent, holder) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    dataset,
                    content_sha256,
                    state,
                    analysis_id,
                    error,
                    now_iso(),
                    None if permanent is None else int(permanent),
                    holder,
                ),
                "seq",
            )
            row = self._written("ledger", seq)
            self._audit(
                "ledger",
                analysis_id,
                {"ledger": seq, "state": state, "content_sha256": chain.ledger_seal(row)},
                actor or Actor.current("watch"),
            )
        return seq

    def ledger_state(self, dataset: str, content_sha256: str) -> Row | None:
        return self._db.execute(
            "SELECT * FROM ledger WHERE dataset=? AND content_sha256=? ORDER BY seq DESC LIMIT 1",
            (dataset, content_sha256),
        ).fetchone()

    def ledger_attempts(self, dataset: str, content_sha256: str, state: str = "failed") -> int:
        return self._count(
            "SELECT COUNT(*) FROM ledger WHERE dataset=? AND content_sha256=? AND state=?",
            (dataset, content_sha256, state),
        )

    def ledger_summary(self) -> list[Row]:
        """The latest event of every dataset revision."""
        return self._db.execute(
            "SELECT l.* FROM ledger l JOIN (SELECT dataset, content_sha256, MAX(seq) AS seq FROM ledger "
            "GROUP BY dataset, content_sha256) latest ON l.seq = latest.seq ORDER BY l.seq"
        ).fetchall()

    # ------------------------------------------------------------ claims (leases)

    def claims(self) -> list[Claim]:
        return [self._claim(r) for r in self._db.execute("SELECT * FROM claims ORDER BY resource")]

    @staticmethod
    def _claim(row: Row) -> Claim:
        return Claim(
            row["resource"],
            row["holder"],
            row["host"],
            row["pid"],
            row["process"],
            row["acquired_at"],
            row["renewed_at"],
            row["expires_at"],
        )

    def acquire_claim(
        self,
        resource: str,
        holder: str,
        *,
        lease_s: float,
        actor: Actor,
        conflicts: Callable[[str], bool] | None = None,
    ) -> Claim:
        """Take `resource` for `holder`, or raise ClaimError (with `.holder`, the
        Claim in the way) if a live holder has it or a resource `conflicts` with it."""
        clashes = conflicts or (lambda other: other == resource)
        with self._transaction():
            now = time.time()
            in_the_way = [
                claim
                for claim in map(self._claim, self._db.execute("SELECT * FROM claims").fetchall())
                if clashes(claim.resource) or claim.resource == resource
            ]
            # every live holder is looked at before anything is written: a refusal rolls back nothing
            for other in in_the_way:
                if holder_alive(other, now):
                    error = ClaimError(f"{other.resource} is held by {other.holder} ({other.describe()})", self.path)
                    error.holder = other
                    raise error
            for other in in_the_way:
                self._db.execute("DELETE FROM claims WHERE resource=? AND holder=?", (other.resource, other.holder))
                self._audit("claim-expired", None, {"resource": other.resource, "holder": other.holder}, actor)
            pid = os.getpid()
            claim = Claim(resource, holder, socket.gethostname(), pid, process_token(pid), now, now, now + lease_s)
            self._db.execute(
                "INSERT INTO claims (resource, holder, host, pid, process, acquired_at, renewed_at, "
                "expires_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    claim.resource,
                    claim.holder,
                    claim.host,
                    claim.pid,
                    claim.process,
                    claim.acquired_at,
                    claim.renewed_at,
                    claim.expires_at,
                ),
            )
            self._audit(
                "claim",
                None,
                {"resource": resource, "holder": holder, "host": claim.host, "pid": pid, "lease_s": lease_s},
                actor,
            )
        return claim

    def renew_claim(self, claim: Claim, lease_s: float) -> Claim:
        now = time.time()
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE claims SET renewed_at=?, expires_at=? WHERE resource=? AND holder=?",
                (now, now + lease_s, claim.resource, claim.holder),
            )
            if cursor.rowcount == 0:
                taken = self._db.execute("SELECT * FROM claims WHERE resource=?", (claim.resource,)).fetchone()
                error = ClaimError(
                    f"{claim.resource} is no longer held by this service"
                    + (f"; {taken['holder']} took it over" if taken else ""),
                    self.path,
                )
                error.holder = self._claim(taken) if taken else None
                raise error
        return Claim(
            claim.resource, claim.holder, claim.host, claim.pid, claim.process, claim.acquired_at, now, now + lease_s
        )

    def release_claim(self, claim: Claim, actor: Actor) -> None:
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM claims WHERE resource=? AND holder=?", (claim.resource, claim.holder)
            )
            if cursor.rowcount:
                self._audit("release", None, {"resource": claim.resource, "holder": claim.holder}, actor)

    # ------------------------------------------------------------ accounts and reviews (the dashboard's sign-off)

    def _append_sealed(
        self,
        table: str,
        columns: dict[str, Any],
        action: str,
        analysis_id: str | None,
        detail: dict[str, Any],
        actor: Actor,
    ) -> Row:
        """Insert one row of a SEALED_ROW_TABLES table and seal it, as read back, in the audit chain."""
        names = list(columns)
        seq = self._db.insert(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [columns[n] for n in names],
            "seq",
        )
        row = self._written(table, seq)
        self._audit(
            action,
            analysis_id,
            {**detail, "table": table, "row": row["seq"], "content_sha256": chain.row_seal(table, row)},
            actor,
        )
        return row

    def add_user(self, name: str, role: str, password_hash: str, *, active: bool = True, actor: Actor) -> Row:
        """Append an account's new state (created, new password or role, disabled): its latest row counts."""
        with self._transaction():
            return self._append_sealed(
                "users",
                {
                    "name": name,
                    "role": role,
                    "password_hash": password_hash,
                    "active": int(active),
                    "at": now_iso(),
                    "by": actor.user,
                },
                "user",
                None,
                {"name": name, "role": role, "active": active},
                actor,
            )

    def users(self) -> list[Row]:
        """Every account in its current state (its latest row), by name."""
        return self._db.execute(
            "SELECT u.* FROM users u JOIN (SELECT name, MAX(seq) AS seq FROM users GROUP BY name) latest "
            "ON u.seq = latest.seq ORDER BY u.name"
        ).fetchall()

    def user(self, name: str) -> Row | None:
        return self._db.execute("SELECT * FROM users WHERE name=? ORDER BY seq DESC LIMIT 1", (name,)).fetchone()

    def add_review(
        self,
        analysis_id: str,
        *,
        reviewer: str,
        role: str,
        decision: str,
        meaning: str,
        comment: str,
        report_sha256: str,
        client: str | None,
        actor: Actor,
    ) -> Row:
        """Append a signed review of an analysis. `report_sha256` is the report the
        reviewer saw: refused if the store holds another one for that id."""
        with self._transaction():
            analysis = self._db.execute("SELECT report_sha256 FROM analyses WHERE id=?", (analysis_id,)).fetchone()
            if analysis is None:
                raise InputError(f"no record with id {analysis_id!r}", self.path)
            if analysis["report_sha256"] != report_sha256:
                raise InputError(f"record {analysis_id}: the report reviewed is not the one stored", self.path)
            return self._append_sealed(
                "reviews",
                {
                    "analysis_id": analysis_id,
                    "reviewer": reviewer,
                    "role": role,
                    "decision": decision,
                    "meaning": meaning,
                    "comment": comment,
                    "report_sha256": report_sha256,
                    "signed_at": now_iso(),
                    "client": client,
                },
                "review",
                analysis_id,
                {"reviewer": reviewer, "decision": decision, "report_sha256": report_sha256},
                actor,
            )

    def reviews(self, analysis_id: str | None = None) -> list[Row]:
        """Reviews in the order they were signed (of one analysis, or all)."""
        if analysis_id is None:
            return self._db.execute("SELECT * FROM reviews ORDER BY seq").fetchall()
        return self._db.execute("SELECT * FROM reviews WHERE analysis_id=? ORDER BY seq", (analysis_id,)).fetchall()

    # ------------------------------------------------------------ listing many (dashboard pages)

    _LATEST_REVIEW = "(SELECT r.decision FROM reviews r WHERE r.analysis_id = a.id ORDER BY r.seq DESC LIMIT 1)"
    _SUPERSEDED = "EXISTS (SELECT 1 FROM analyses n WHERE n.supersedes = a.id)"

    def analysis_summaries(
        self,
        *,
        search: str | None = None,
        batch: str | None = None,
        stage: str | None = None,
        verdict: str | None = None,
        review: str | None = None,
        latest_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        """One page of analyses, newest first, without their reports, and how many
        match. `search`: part of the sample, batch, stage or id; `review`: a
        decision, or "none" for analyses nobody reviewed yet."""
        where: list[str] = []
        arguments: list[Any] = []
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                "(" + " OR ".join(f"a.{c} LIKE ? ESCAPE '\\'" for c in ("sample", "batch", "stage", "id")) + ")"
            )
            arguments += [pattern] * 4
        for column, value in (("batch", batch), ("stage", stage), ("verdict", verdict)):
            if value is not None:
                where.append(f"a.{column} = ?")
                arguments.append(value)
        if review == "none":
            where.append(f"{self._LATEST_REVIEW} IS NULL")
        elif review is not None:
            where.append(f"{self._LATEST_REVIEW} = ?")
            arguments.append(review)
        if latest_only:
            where.append(f"NOT {self._SUPERSEDED}")
        condition = " WHERE " + " AND ".join(where) if where else ""
        total = self._count(f"SELECT COUNT(*) FROM analyses a{condition}", arguments)
        rows = self._db.execute(
            f"SELECT a.id, a.batch, a.sample, a.stage, a.route_id, a.revision, a.verdict, a.purity_pct, "
            f"a.recorded_at, a.via, {self._SUPERSEDED} AS superseded, {self._LATEST_REVIEW} AS review "
            f"FROM analyses a{condition} ORDER BY a.recorded_at DESC, a.id DESC LIMIT ? OFFSET ?",
            arguments + [limit, offset],
        ).fetchall()
        return rows, total

    def batch_summaries(self, *, limit: int = 20, offset: int = 0) -> tuple[list[Row], int]:
        """Batches, most recently analysed first, with the verdicts of their current analyses."""
        total = self._count("SELECT COUNT(DISTINCT batch) FROM analyses")
        rows = self._db.execute(
            "SELECT a.batch, COUNT(*) AS analyses, MAX(a.recorded_at) AS last_recorded_at, "
            "SUM(CASE WHEN a.verdict = 'pass' THEN 1 ELSE 0 END) AS passed, "
            "SUM(CASE WHEN a.verdict = 'fail' THEN 1 ELSE 0 END) AS failed, "
            "SUM(CASE WHEN a.verdict = 'inconclusive' THEN 1 ELSE 0 END) AS inconclusive, "
            f"SUM(CASE WHEN {self._LATEST_REVIEW} IS NULL THEN 0 ELSE 1 END) AS reviewed "
            f"FROM analyses a WHERE a.batch IS NOT NULL AND NOT {self._SUPERSEDED} GROUP BY a.batch "
            "ORDER BY last_recorded_at DESC, a.batch LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return rows, total

    def species_trend(self, species_id: str, stage: str | None = None, limit: int = 500) -> list[Row]:
        """A species' amounts in the current analysis of the `limit` latest samples that have it, oldest first."""
        query = (
            "SELECT a.id, a.batch, a.sample, a.stage, a.recorded_at, a.verdict, s.status, s.ms_area_pct, "
            "s.nmr_mol_pct FROM analyses a CROSS JOIN species_results s "
            f"WHERE s.analysis_id = a.id AND s.species_id = ? AND NOT {self._SUPERSEDED}"
        )
        return self._oldest_first(query, [species_id], stage, limit)

    def _oldest_first(self, query: str, arguments: list[Any], stage: str | None, limit: int) -> list[Row]:
        """The `limit` newest rows of a trend query (of one stage, if given), oldest first."""
        if stage is not None:
            query, arguments = query + " AND a.stage = ?", [*arguments, stage]
        # CROSS JOIN keeps analyses the outer loop (SQLite does not reorder it): newest first through the
        # listing index, stopping at `limit`, instead of every row of the species or check sorted afterwards
        newest = self._db.execute(
            query + " ORDER BY a.recorded_at DESC, a.id DESC LIMIT ?", [*arguments, limit]
        ).fetchall()
        return newest[::-1]

    def check_trend(self, check_id: str, stage: str | None = None, limit: int = 500) -> list[Row]:
        """A QC check's status (and the purity figure) in the current analysis of the `limit` latest samples,
        oldest first."""
        query = (
            "SELECT a.id, a.batch, a.sample, a.stage, a.recorded_at, a.verdict, a.purity_pct, c.status, "
            "c.detail FROM analyses a CROSS JOIN checks c "
            f"WHERE c.analysis_id = a.id AND c.check_id = ? AND NOT {self._SUPERSEDED}"
        )
        return self._oldest_first(query, [check_id], stage, limit)

    def trend_choices(self, kinds: Iterable[str] = ("species", "checks", "stages")) -> dict[str, list[str]]:
        """The species, checks and stages a trend (or a filter) can be drawn for."""
        queries = {
            "species": "SELECT DISTINCT species_id FROM species_results ORDER BY 1",
            "checks": "SELECT DISTINCT check_id FROM checks ORDER BY 1",
            "stages": "SELECT DISTINCT stage FROM analyses ORDER BY 1",
        }
        return {kind: [r[0] for r in self._db.execute(queries[kind])] for kind in kinds}

    # ------------------------------------------------------------ reading

    def analyses(self, batch: str | None = None, stage: str | None = None, since: str | None = None) -> list[Row]:
        query = "SELECT * FROM analyses WHERE 1=1"
        arguments: list[str] = []
        if batch is not None:
            query += " AND batch=?"
            arguments.append(batch)
        if stage is not None:
            query += " AND stage=?"
            arguments.append(stage)
        if since is not None:
            query += " AND recorded_at >= ?"
            arguments.append(since)
        return self._db.execute(query + " ORDER BY recorded_at, rowid", arguments).fetchall()

    def count_analyses(self) -> int:
        return self._count("SELECT COUNT(*) FROM analyses")

    def analysis(self, analysis_id: str) -> Row:
        rows = self._db.execute(
            "SELECT * FROM analyses WHERE id=? OR id LIKE ?", (analysis_id, f"{analysis_id}%")
        ).fetchall()
        if not rows:
            raise InputError(f"no record with id {analysis_id!r}", self.path)
        if len(rows) > 1:
            raise InputError(f"record id prefix {analysis_id!r} is ambiguous", self.path)
        return rows[0]

    def rows(self, table: str, analysis_id: str) -> list[Row]:
        if table not in RECORD_TABLES:
            raise ValueError(table)
        order = "position" if table == "inputs" else "rowid"
        return self._db.execute(
            f"SELECT * FROM {table} WHERE analysis_id=? ORDER BY {order}", (analysis_id,)
        ).fetchall()

    def superseded_by(self, analysis_id: str) -> str | None:
        row = self._db.execute("SELECT id FROM analyses WHERE supersedes=?", (analysis_id,)).fetchone()
        return row["id"] if row else None

    def analyses_with_input(self, sha256: str) -> list[Row]:
        """Every analysis one of whose inputs has this content, oldest first."""
        return self._db.execute(
            "SELECT a.* FROM analyses a WHERE a.id IN (SELECT analysis_id FROM inputs "
            "WHERE sha256=?) ORDER BY a.recorded_at, a.rowid",
            (sha256,),
        ).fetchall()

    def latest_analysis(self, batch: str | None, sample: str, stage: str, route_id: str) -> Row | None:
        """The newest revision of a sample's analysis at a stage (what a new one would supersede)."""
        return self._db.execute(
            "SELECT * FROM analyses WHERE batch IS ? AND sample=? AND stage=? AND route_id=? "
            "ORDER BY revision DESC LIMIT 1",
            (batch, sample, stage, route_id),
        ).fetchone()

    def input_digests(self) -> dict[str, list[str]]:
        """Per analysis id: the SHA-256 of its inputs, in their order."""
        digests: dict[str, list[str]] = {}
        for row in self._db.execute("SELECT analysis_id, sha256 FROM inputs ORDER BY analysis_id, position"):
            digests.setdefault(row["analysis_id"], []).append(row["sha256"])
        return digests

    # ------------------------------------------------------------ copying between stores

    def copy_from(self, source: Store, actor: Actor) -> dict[str, int]:
        """Copy every analysis, ledger event and audit row of `source` into this
        store, which must be empty (opened with `_seal_migrations=False`), as
        they are: the audit chain carries over and verifies here as it did
        there (its hashes cover engine-neutral content). A final audit row notes
        the copy. Claims are not copied: they belong to running services."""
        counts: dict[str, int] = {}
        with self._transaction():
            for table in ("audit", "analyses", "ledger"):
                if self._count(f"SELECT COUNT(*) FROM {table}"):
                    raise ConfigError(
                        "the target store is not empty: copy into a new file or an empty database", self.path
                    )
            for table in (*chain.ANALYSIS_TABLES, "ledger", *chain.SEALED_ROW_TABLES, "audit"):
                columns = COPIED_COLUMNS[table]
                order = "rowid" if table in chain.ANALYSIS_TABLES else "seq"
                rows = [
                    tuple(row[name] for name in columns)
                    for row in source._db.execute(f"SELECT * FROM {table} ORDER BY {order}")
                ]
                if rows:
                    self._db.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
                    )
                counts[table] = len(rows)
            self._db.after_copy()
            head = source.chain_head()
            self._audit(
                "copy",
                None,
                {"from": str(source.path), "engine": source.engine_name, "source_head": head, "rows": counts},
                actor,
            )
        return counts

    # ------------------------------------------------------------ verification

    def verify(self, known_head: tuple[int, str] | None = None) -> list[str]:
        """Problems found, each naming the row: the audit chain broken, cut short
        or (with the site key) not signed by it; an analysis or ledger event
        changed, added or removed since it was sealed; a stored report whose hash
        no longer matches; report files or inputs changed on disk. `known_head`:
        an audit (seq, hash) noted earlier, which the chain must still hold.
        Empty when all is well."""
        problems = []
        integrity = self._db.integrity_problem()
        if integrity is not None:
            problems.append(f"database integrity: {integrity}")
        if self.restored_triggers:
            problems.append(
                "append-only triggers had been dropped behind the store's back (restored): "
                + ", ".join(self.restored_triggers)
            )
        state = chain.walk_chain(self._db.execute("SELECT * FROM audit ORDER BY seq"), self.key)
        problems += state.problems
        problems += self._chain_length_problems(state, known_head)
        problems += self._analysis_problems(state)
        problems += self._ledger_problems(state)
        for table in chain.SEALED_ROW_TABLES:
            problems += self._sealed_row_problems(state, table)
        problems += self._review_problems()
        problems += self._file_problems()
        return problems

    def _chain_length_problems(self, state: chain.ChainState, known_head: tuple[int, str] | None) -> list[str]:
        problems = []
        # the engine's own high-water mark of the audit seq: rows cut from the end of the chain leave it higher
        high = self._db.audit_high_water()
        last = state.last_seq or 0
        if high is not None and high > last:
            problems.append(f"audit rows after seq {last} are missing (the chain was cut short)")
        if known_head is not None:
            seq, digest = known_head
            held = self._db.execute("SELECT hash FROM audit WHERE seq=?", (seq,)).fetchone()
            if held is None or held["hash"] != digest:
                problems.append(f"audit chain no longer holds the head noted earlier (seq {seq})")
        return problems

    def _analysis_problems(self, state: chain.ChainState) -> list[str]:
        problems, present = [], set()
        for row in self._db.execute("SELECT id, report_json, report_sha256 FROM analyses ORDER BY rowid"):
            analysis_id = row["id"]
            present.add(analysis_id)
            report_intact = _sha(row["report_json"]) == row["report_sha256"]
            if not report_intact:
                problems.append(f"record {analysis_id}: stored report does not match its SHA-256")
            sealed = state.analyses.get(analysis_id)
            if sealed is None:
                problems.append(
                    f"record {analysis_id}: "
                    + (
                        "recorded before content was sealed and never sealed since"
                        if analysis_id in state.legacy_records
                        else "not in the audit chain (added behind the store's back)"
                    )
                )
                continue
            seal = sealed[1]
            expected = None
            if report_intact and seal.get("report_sha256", row["report_sha256"]) == row["report_sha256"]:
                try:
                    expected = report_rows(json.loads(row["report_json"]))
                    expected["analyses"][0]["id"] = analysis_id
                    expected["inputs"] = [
                        {k: v for k, v in item.items() if k != "path"} for item in expected["inputs"]
                    ]  # stored resolved
                except (ValueError, KeyError, TypeError, AttributeError):
                    expected = None  # a report from another layout: rows are still compared by their seal
            problems += chain.compare_analysis(analysis_id, self._analysis_rows(analysis_id), seal, expected)
        for analysis_id, (seq, _) in sorted(state.analyses.items(), key=lambda item: item[1][0]):
            if analysis_id not in present:
                problems.append(
                    f"record {analysis_id}: in the audit chain (seq {seq}) but missing from the store "
                    "(removed behind the store's back)"
                )
        return problems

    def _ledger_problems(self, state: chain.ChainState) -> list[str]:
        problems, present = [], set()
        for row in self._db.execute("SELECT * FROM ledger ORDER BY seq"):
            present.add(row["seq"])
            sealed = state.ledger.get(row["seq"])
            where = f"ledger seq {row['seq']} ({row['dataset']}, state {row['state']!r})"
            if sealed is None:
                problems.append(f"{where}: not in the audit chain (added behind the store's back)")
            elif chain.ledger_seal(row) != sealed[1]:
                problems.append(f"{where}: changed behind the store's back")
        for seq, (audit_seq, _) in sorted(state.ledger.items()):
            if seq not in present:
                problems.append(
                    f"ledger seq {seq}: in the audit chain (seq {audit_seq}) but missing from the store "
                    "(removed behind the store's back)"
                )
        return problems

    def _sealed_row_problems(self, state: chain.ChainState, table: str) -> list[str]:
        problems, present = [], set()
        for row in self._db.execute(f"SELECT * FROM {table} ORDER BY seq"):
            present.add(row["seq"])
            sealed = state.rows.get((table, row["seq"]))
            where = chain.describe_row(table, row)
            if sealed is None:
                problems.append(f"{where}: not in the audit chain (added behind the store's back)")
            elif chain.row_seal(table, row) != sealed[1]:
                problems.append(f"{where}: changed behind the store's back")
        for (sealed_table, seq), (audit_seq, _) in sorted(state.rows.items()):
            if sealed_table == table and seq not in present:
                problems.append(
                    f"{table} row seq={seq}: in the audit chain (seq {audit_seq}) but missing from the "
                    "store (removed behind the store's back)"
                )
        return problems

    def _review_problems(self) -> list[str]:
        """A review signs one report: it must still be the one stored under its analysis."""
        return [
            f"reviews row seq={row['seq']}: signed report SHA-256 {row['report_sha256'][:12]}... is not the "
            f"stored report of record {row['analysis_id']}"
            for row in self._db.execute(
                "SELECT r.seq, r.analysis_id, r.report_sha256, a.report_sha256 AS stored FROM reviews r "
                "LEFT JOIN analyses a ON a.id = r.analysis_id ORDER BY r.seq"
            )
            if row["stored"] != row["report_sha256"]
        ]

    def _file_problems(self) -> list[str]:
        problems = []
        for row in self._db.execute("SELECT * FROM report_files"):
            path = Path(row["path"])
            if not path.exists():
                continue  # moved or archived: nothing to compare
            if sha256_of(path) != row["sha256"]:
                problems.append(f"record {row['analysis_id']}: report file {path} changed since it was recorded")
        for row in self._db.execute("SELECT * FROM inputs"):
            path = Path(row["path"])
            if path.exists():
                try:
                    current = sha256_of(path)
                except OSError:
                    continue
                if current != row["sha256"]:
                    problems.append(f"record {row['analysis_id']}: input {path} changed since it was analysed")
        return problems
