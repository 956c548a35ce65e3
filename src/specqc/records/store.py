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
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ClaimError, ConfigError, InputError, StoreLockedError, TransientError
from ..provenance import sha256_of
from . import chain
from .chain import GENESIS, canonical, load_key
from .claims import Claim, holder_alive, process_token

SCHEMA_VERSION = 4
RECORD_TABLES = ("analyses", "inputs", "species_results", "diagnoses", "checks", "report_files", "audit",
                 "ledger", "users", "reviews")
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
CREATE INDEX analyses_supersedes ON analyses(supersedes);
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
    samples = [i for i in report["inputs"] if i.get("role", "sample") == "sample"] or report["inputs"]
    first = Path(samples[0]["path"]) if samples else Path("unknown")
    return first.name.rsplit(".", 1)[0] if first.suffix else first.name


def report_rows(report: dict) -> dict[str, list[dict]]:
    """The rows an analysis' report gives, per table (inputs' paths as the report
    states them; the store keeps them resolved). `record` writes these, and
    `verify` compares a changed row with them to say which column differs."""
    instrument = instrument_metadata(report)
    purity = report["qc"].get("purity") or {}
    report_text = canonical(report)
    return {
        "analyses": [{"batch": (report.get("sample") or {}).get("batch"), "sample": sample_name(report),
                      "stage": report["route"]["stage"], "route_id": report["route"]["id"],
                      "route_version": str(report["route"]["version"]), "verdict": report["qc"]["verdict"],
                      "specqc_version": report["specqc_version"],
                      "parameters_json": canonical(report.get("parameters", {})),
                      "reference_data_json": canonical(report.get("reference_data", {})),
                      "report_json": report_text, "report_sha256": _sha(report_text),
                      "purity_pct": purity.get("value_pct"), "purity_method": purity.get("method")}],
        "inputs": [{"position": position, "path": item["path"], "sha256": item["sha256"],
                    "technique": item["technique"], "format": item["format"],
                    "instrument_json": canonical(instrument.get(item["path"], {})),
                    "role": item.get("role", "sample")} for position, item in enumerate(report["inputs"])],
        "species_results": [{"species_id": entry["id"], "name": entry["name"], "role": entry["role"],
                             "stage_role": entry.get("stage_role", ""),
                             "status": entry.get("status", "detected" if entry["detected"] else "not-detected"),
                             "rt_min": (entry.get("lcms") or {}).get("rt_min"),
                             "ms_area_pct": (entry.get("lcms") or {}).get("relative_area_pct"),
                             "nmr_mol_pct": (entry.get("nmr") or {}).get("mol_pct")} for entry in report["species"]],
        "diagnoses": [{"diagnosis_id": d["id"], "severity": d["severity"], "title": d["title"],
                       "evidence_json": canonical(d["evidence"])} for d in report["diagnoses"]],
        "checks": [{"check_id": c["id"], "status": c["status"], "detail": c["detail"]} for c in report["qc"]["checks"]],
    }


def _sqlite_problem(exc: sqlite3.Error, store: Path, timeout_s: float) -> Exception:
    """What a failed statement means for the caller: a lock held too long or a
    store that cannot be written is the machine's fault, not the input's."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
        return StoreLockedError(f"results store is locked by another process (waited {timeout_s:g} s)", store)
    if primary in (8, 10, 13, 14):  # SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
        return TransientError(f"results store cannot be written: {exc}", store)
    return exc


class Store:
    def __init__(self, path: str | Path | None = None, *, key_file: str | Path | None = None,
                 busy_timeout_s: float = BUSY_TIMEOUT_S):
        """`key_file`: the site key that signs the audit chain (default
        $SPECQC_STORE_KEY_FILE; none: unsigned). `busy_timeout_s`: how long a
        write waits for another process's transaction before StoreLockedError."""
        self.path = Path(path) if path is not None else default_store_path()
        key_file = key_file if key_file is not None else os.environ.get(KEY_FILE_VARIABLE) or None
        self.key_file = Path(key_file) if key_file else None
        self.key = load_key(self.key_file) if self.key_file else None
        self.busy_timeout_s = busy_timeout_s
        self.restored_triggers: list[str] = []  # append-only triggers found dropped when the store was opened
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one Store is used by one thread at a time (the watch service hands it to its loop thread)
            self.connection = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None,
                                              check_same_thread=False)
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
            problem = _sqlite_problem(exc, self.path, busy_timeout_s)
            if problem is not exc:
                raise problem from exc
            raise InputError(f"not a specqc results store (or damaged): {exc}", self.path) from exc
        except BaseException:
            self.connection.close()
            raise

    # ------------------------------------------------------------ schema

    @property
    def schema_version(self) -> int:
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    def _names(self, kind: str) -> set[str]:
        return {r[0] for r in self.connection.execute("SELECT name FROM sqlite_master WHERE type=?", (kind,))}

    def _migrate(self) -> None:
        version = opened_at = self.schema_version
        if version > SCHEMA_VERSION:
            raise ConfigError(f"results store has schema {version}, newer than this specqc ({SCHEMA_VERSION}); "
                              "upgrade specqc", self.path)
        if opened_at >= 3:  # a store this version made always had its triggers: their absence is tampering
            wanted = {f"{t}_no_{what}" for t in RECORD_TABLES if TABLE_SINCE.get(t, 1) <= opened_at
                      for what in ("update", "delete")}
            self.restored_triggers = sorted(wanted - self._names("trigger"))
        while version < SCHEMA_VERSION:
            target = version + 1
            with self._transaction():
                if self.schema_version == version:  # another process may have migrated meanwhile
                    for statement in MIGRATIONS[target].split(";"):
                        if statement.strip():
                            self.connection.execute(statement)
                    self.connection.execute(f"PRAGMA user_version={target}")
                    actor = Actor.current("cli")
                    sealed = self._seal_existing(actor) if target == 3 else {}
                    self._audit("migrate", None, {"from": version, "to": target, **sealed}, actor)
            version = self.schema_version
        self.connection.executescript(_append_only_triggers(RECORD_TABLES))

    def _seal_existing(self, actor: Actor) -> dict:
        """Seal the analyses and ledger events of a store made before content was
        sealed, as they are now: from here on a change to any of them shows."""
        analyses = [r["id"] for r in self.connection.execute("SELECT id FROM analyses ORDER BY rowid")]
        for analysis_id in analyses:
            self._audit("adopt", analysis_id, {"sealed": "at migration to schema 3",
                                               **chain.analysis_seal(self._analysis_rows(analysis_id))}, actor)
        events = self.connection.execute("SELECT * FROM ledger ORDER BY seq").fetchall()
        for row in events:
            self._audit("adopt", row["analysis_id"], {"ledger": row["seq"], "content_sha256": chain.ledger_seal(row)},
                        actor)
        return {"sealed_analyses": len(analyses), "sealed_ledger_events": len(events)}

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            problem = _sqlite_problem(exc, self.path, self.busy_timeout_s)
            if problem is exc:
                raise
            raise problem from exc
        try:
            yield
            self.connection.execute("COMMIT")
        except BaseException as exc:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                problem = _sqlite_problem(exc, self.path, self.busy_timeout_s)
                if problem is not exc:
                    raise problem from exc
            raise

    # ------------------------------------------------------------ audit chain

    def _audit(self, action: str, analysis_id: str | None, detail: dict, actor: Actor) -> None:
        signed = "mac" in {r[1] for r in self.connection.execute("PRAGMA table_info(audit)")}
        head = self.connection.execute(
            f"SELECT hash{', mac' if signed else ''} FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        previous = head["hash"] if head else GENESIS
        if head is not None and signed and head["mac"] is not None:
            # writing unsigned (or with another key) after a signed head would leave a chain verify rejects
            if self.key is None:
                raise ConfigError(f"results store is signed with a site key: set {KEY_FILE_VARIABLE} "
                                  "(or [store] key_file) to write to it", self.path)
            if not chain.signature_valid(self.key, head["hash"], head["mac"]):
                raise ConfigError("results store is signed with another site key than the one given "
                                  f"({self.key_file})", self.path)
        at = now_iso()
        actor_text = f"{actor.user}@{actor.host} ({actor.via})"
        detail_text = canonical(detail)
        digest = chain.audit_hash(previous, at, actor_text, action, analysis_id, detail_text)
        if signed:
            self.connection.execute(
                "INSERT INTO audit (at, actor, action, analysis_id, detail, prev_hash, hash, mac) "
                "VALUES (?,?,?,?,?,?,?,?)", (at, actor_text, action, analysis_id, detail_text, previous, digest,
                                             chain.sign(self.key, digest) if self.key is not None else None))
        else:
            self.connection.execute(
                "INSERT INTO audit (at, actor, action, analysis_id, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
                (at, actor_text, action, analysis_id, detail_text, previous, digest))

    def chain_head(self) -> dict | None:
        """The newest audit row: seq, hash and whether it is signed (keep it
        elsewhere to check later that the chain was not cut back to an older head)."""
        row = self.connection.execute("SELECT seq, hash, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else {"seq": row["seq"], "hash": row["hash"], "signed": row["mac"] is not None}

    # ------------------------------------------------------------ writing

    def record(self, report: dict, *, actor: Actor, report_files: list[tuple[str | Path, str]] = ()) -> Recorded:
        """Store one analysis (and the report files written for it) as a new revision."""
        rows = report_rows(report)
        fields = rows["analyses"][0]
        batch, sample, stage = fields["batch"], fields["sample"], fields["stage"]
        analysis_id = record_id(report, sample, batch)
        files = [(str(Path(path).resolve()), sha256_of(Path(path)), kind) for path, kind in report_files]
        with self._transaction():
            existing = self.connection.execute("SELECT revision FROM analyses WHERE id=?", (analysis_id,)).fetchone()
            if existing:
                self._audit("record-again", analysis_id, {"note": "identical analysis already stored"}, actor)
                return Recorded(analysis_id, existing["revision"], False)
            previous = self.connection.execute(
                "SELECT id, revision FROM analyses WHERE batch IS ? AND sample=? AND stage=? AND route_id=? "
                "ORDER BY revision DESC LIMIT 1", (batch, sample, stage, fields["route_id"])).fetchone()
            revision = previous["revision"] + 1 if previous else 1
            self.connection.execute(
                "INSERT INTO analyses (id, batch, sample, stage, route_id, route_version, revision, supersedes, "
                "verdict, specqc_version, parameters_json, reference_data_json, report_json, report_sha256, "
                "recorded_at, recorded_by, host, via, purity_pct, purity_method) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (analysis_id, batch, sample, stage, fields["route_id"], fields["route_version"], revision,
                 previous["id"] if previous else None, fields["verdict"], fields["specqc_version"],
                 fields["parameters_json"], fields["reference_data_json"], fields["report_json"],
                 fields["report_sha256"], now_iso(), actor.user, actor.host, actor.via, fields["purity_pct"],
                 fields["purity_method"]))
            for item in rows["inputs"]:
                self.connection.execute(
                    "INSERT INTO inputs (analysis_id, position, path, sha256, technique, format, instrument_json, "
                    "role) VALUES (?,?,?,?,?,?,?,?)",
                    (analysis_id, item["position"], str(Path(item["path"]).resolve()), item["sha256"],
                     item["technique"], item["format"], item["instrument_json"], item["role"]))
            for item in rows["species_results"]:
                self.connection.execute(
                    "INSERT INTO species_results (analysis_id, species_id, name, role, stage_role, status, rt_min, "
                    "ms_area_pct, nmr_mol_pct) VALUES (?,?,?,?,?,?,?,?,?)",
                    (analysis_id, item["species_id"], item["name"], item["role"], item["stage_role"], item["status"],
                     item["rt_min"], item["ms_area_pct"], item["nmr_mol_pct"]))
            for item in rows["diagnoses"]:
                self.connection.execute(
                    "INSERT INTO diagnoses (analysis_id, diagnosis_id, severity, title, evidence_json) "
                    "VALUES (?,?,?,?,?)", (analysis_id, item["diagnosis_id"], item["severity"], item["title"],
                                           item["evidence_json"]))
            for item in rows["checks"]:
                self.connection.execute("INSERT INTO checks (analysis_id, check_id, status, detail) VALUES (?,?,?,?)",
                                        (analysis_id, item["check_id"], item["status"], item["detail"]))
            for path, digest, kind in files:
                self.connection.execute("INSERT INTO report_files (analysis_id, path, sha256, format) "
                                        "VALUES (?,?,?,?)", (analysis_id, path, digest, kind))
            # sealed as read back, so the hash is of what the engine holds, not of what was handed to it
            self._audit("record", analysis_id, {"batch": batch, "sample": sample, "stage": stage,
                                                "revision": revision, "report_sha256": fields["report_sha256"],
                                                "supersedes": previous["id"] if previous else None,
                                                **chain.analysis_seal(self._analysis_rows(analysis_id))}, actor)
        return Recorded(analysis_id, revision, True)

    def _analysis_rows(self, analysis_id: str) -> dict[str, list[sqlite3.Row]]:
        rows = {"analyses": self.connection.execute("SELECT * FROM analyses WHERE id=?", (analysis_id,)).fetchall()}
        for table in chain.ANALYSIS_TABLES[1:]:
            rows[table] = self.connection.execute(f"SELECT * FROM {table} WHERE analysis_id=?",
                                                  (analysis_id,)).fetchall()
        return rows

    # ------------------------------------------------------------ ledger (watch service)

    def ledger_event(self, dataset: str, content_sha256: str, state: str, *, analysis_id: str | None = None,
                     error: str | None = None, permanent: bool | None = None, holder: str | None = None,
                     actor: Actor | None = None) -> int:
        """Append an event for a dataset revision; `permanent` says whether a
        failure is the input's (not retried) or not. Returns the event's seq."""
        with self._transaction():
            cursor = self.connection.execute(
                "INSERT INTO ledger (dataset, content_sha256, state, analysis_id, error, at, permanent, holder) "
                "VALUES (?,?,?,?,?,?,?,?)", (dataset, content_sha256, state, analysis_id, error, now_iso(),
                                             None if permanent is None else int(permanent), holder))
            seq = cursor.lastrowid
            row = self.connection.execute("SELECT * FROM ledger WHERE seq=?", (seq,)).fetchone()
            self._audit("ledger", analysis_id, {"ledger": seq, "state": state,
                                                "content_sha256": chain.ledger_seal(row)},
                        actor or Actor.current("watch"))
        return seq

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

    # ------------------------------------------------------------ claims (leases)

    def claims(self) -> list[Claim]:
        return [self._claim(r) for r in self.connection.execute("SELECT * FROM claims ORDER BY resource")]

    @staticmethod
    def _claim(row) -> Claim:
        return Claim(row["resource"], row["holder"], row["host"], row["pid"], row["process"], row["acquired_at"],
                     row["renewed_at"], row["expires_at"])

    def acquire_claim(self, resource: str, holder: str, *, lease_s: float, actor: Actor,
                      conflicts: Callable[[str], bool] | None = None) -> Claim:
        """Take `resource` for `holder`, or raise ClaimError (with `.holder`, the
        Claim in the way) if a live holder has it or a resource `conflicts` with it."""
        clashes = conflicts or (lambda other: other == resource)
        with self._transaction():
            now = time.time()
            for row in self.connection.execute("SELECT * FROM claims").fetchall():
                other = self._claim(row)
                if not clashes(other.resource) and other.resource != resource:
                    continue
                if holder_alive(other, now):
                    error = ClaimError(f"{other.resource} is held by {other.holder} ({other.describe()})", self.path)
                    error.holder = other
                    raise error
                self.connection.execute("DELETE FROM claims WHERE resource=? AND holder=?",
                                        (other.resource, other.holder))
                self._audit("claim-expired", None, {"resource": other.resource, "holder": other.holder}, actor)
            pid = os.getpid()
            claim = Claim(resource, holder, socket.gethostname(), pid, process_token(pid), now, now, now + lease_s)
            self.connection.execute("INSERT INTO claims VALUES (?,?,?,?,?,?,?,?)",
                                    (claim.resource, claim.holder, claim.host, claim.pid, claim.process,
                                     claim.acquired_at, claim.renewed_at, claim.expires_at))
            self._audit("claim", None, {"resource": resource, "holder": holder, "host": claim.host, "pid": pid,
                                        "lease_s": lease_s}, actor)
        return claim

    def renew_claim(self, claim: Claim, lease_s: float) -> Claim:
        now = time.time()
        with self._transaction():
            cursor = self.connection.execute(
                "UPDATE claims SET renewed_at=?, expires_at=? WHERE resource=? AND holder=?",
                (now, now + lease_s, claim.resource, claim.holder))
            if cursor.rowcount == 0:
                taken = self.connection.execute("SELECT * FROM claims WHERE resource=?", (claim.resource,)).fetchone()
                error = ClaimError(f"{claim.resource} is no longer held by this service"
                                   + (f"; {taken['holder']} took it over" if taken else ""), self.path)
                error.holder = self._claim(taken) if taken else None
                raise error
        return Claim(claim.resource, claim.holder, claim.host, claim.pid, claim.process, claim.acquired_at, now,
                     now + lease_s)

    def release_claim(self, claim: Claim, actor: Actor) -> None:
        with self._transaction():
            cursor = self.connection.execute("DELETE FROM claims WHERE resource=? AND holder=?",
                                             (claim.resource, claim.holder))
            if cursor.rowcount:
                self._audit("release", None, {"resource": claim.resource, "holder": claim.holder}, actor)

    # ------------------------------------------------------------ accounts and reviews (the dashboard's sign-off)

    def _append_sealed(self, table: str, columns: dict, action: str, analysis_id: str | None, detail: dict,
                       actor: Actor) -> sqlite3.Row:
        """Insert one row of a SEALED_ROW_TABLES table and seal it, as read back, in the audit chain."""
        names = list(columns)
        cursor = self.connection.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                                         f"({', '.join('?' * len(names))})", [columns[n] for n in names])
        row = self.connection.execute(f"SELECT * FROM {table} WHERE seq=?", (cursor.lastrowid,)).fetchone()
        self._audit(action, analysis_id, {**detail, "table": table, "row": row["seq"],
                                          "content_sha256": chain.row_seal(table, row)}, actor)
        return row

    def add_user(self, name: str, role: str, password_hash: str, *, active: bool = True,
                 actor: Actor) -> sqlite3.Row:
        """Append an account's new state (created, new password or role, disabled): its latest row counts."""
        with self._transaction():
            return self._append_sealed("users", {"name": name, "role": role, "password_hash": password_hash,
                                                 "active": int(active), "at": now_iso(), "by": actor.user},
                                       "user", None, {"name": name, "role": role, "active": active}, actor)

    def users(self) -> list[sqlite3.Row]:
        """Every account in its current state (its latest row), by name."""
        return self.connection.execute(
            "SELECT u.* FROM users u JOIN (SELECT name, MAX(seq) AS seq FROM users GROUP BY name) latest "
            "ON u.seq = latest.seq ORDER BY u.name").fetchall()

    def user(self, name: str) -> sqlite3.Row | None:
        return self.connection.execute("SELECT * FROM users WHERE name=? ORDER BY seq DESC LIMIT 1",
                                       (name,)).fetchone()

    def add_review(self, analysis_id: str, *, reviewer: str, role: str, decision: str, meaning: str, comment: str,
                   report_sha256: str, client: str | None, actor: Actor) -> sqlite3.Row:
        """Append a signed review of an analysis. `report_sha256` is the report the
        reviewer saw: refused if the store holds another one for that id."""
        with self._transaction():
            analysis = self.connection.execute("SELECT report_sha256 FROM analyses WHERE id=?",
                                               (analysis_id,)).fetchone()
            if analysis is None:
                raise InputError(f"no record with id {analysis_id!r}", self.path)
            if analysis["report_sha256"] != report_sha256:
                raise InputError(f"record {analysis_id}: the report reviewed is not the one stored", self.path)
            return self._append_sealed(
                "reviews", {"analysis_id": analysis_id, "reviewer": reviewer, "role": role, "decision": decision,
                            "meaning": meaning, "comment": comment, "report_sha256": report_sha256,
                            "signed_at": now_iso(), "client": client},
                "review", analysis_id, {"reviewer": reviewer, "decision": decision, "report_sha256": report_sha256},
                actor)

    def reviews(self, analysis_id: str | None = None) -> list[sqlite3.Row]:
        """Reviews in the order they were signed (of one analysis, or all)."""
        if analysis_id is None:
            return self.connection.execute("SELECT * FROM reviews ORDER BY seq").fetchall()
        return self.connection.execute("SELECT * FROM reviews WHERE analysis_id=? ORDER BY seq",
                                       (analysis_id,)).fetchall()

    # ------------------------------------------------------------ listing many (dashboard pages)

    _LATEST_REVIEW = "(SELECT r.decision FROM reviews r WHERE r.analysis_id = a.id ORDER BY r.seq DESC LIMIT 1)"
    _SUPERSEDED = "EXISTS (SELECT 1 FROM analyses n WHERE n.supersedes = a.id)"

    def analysis_summaries(self, *, search: str | None = None, batch: str | None = None, stage: str | None = None,
                           verdict: str | None = None, review: str | None = None, latest_only: bool = False,
                           limit: int = 50, offset: int = 0) -> tuple[list[sqlite3.Row], int]:
        """One page of analyses, newest first, without their reports, and how many
        match. `search`: part of the sample, batch, stage or id; `review`: a
        decision, or "none" for analyses nobody reviewed yet."""
        where, arguments = [], []
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(" + " OR ".join(f"a.{c} LIKE ? ESCAPE '\\'" for c in ("sample", "batch", "stage", "id"))
                         + ")")
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
        total = self.connection.execute(f"SELECT COUNT(*) FROM analyses a{condition}", arguments).fetchone()[0]
        rows = self.connection.execute(
            f"SELECT a.id, a.batch, a.sample, a.stage, a.route_id, a.revision, a.verdict, a.purity_pct, "
            f"a.recorded_at, a.via, {self._SUPERSEDED} AS superseded, {self._LATEST_REVIEW} AS review "
            f"FROM analyses a{condition} ORDER BY a.recorded_at DESC, a.id DESC LIMIT ? OFFSET ?",
            arguments + [limit, offset]).fetchall()
        return rows, total

    def batch_summaries(self, *, limit: int = 20, offset: int = 0) -> tuple[list[sqlite3.Row], int]:
        """Batches, most recently analysed first, with the verdicts of their current analyses."""
        total = self.connection.execute("SELECT COUNT(DISTINCT batch) FROM analyses").fetchone()[0]
        rows = self.connection.execute(
            "SELECT a.batch, COUNT(*) AS analyses, MAX(a.recorded_at) AS last_recorded_at, "
            "SUM(CASE WHEN a.verdict = 'pass' THEN 1 ELSE 0 END) AS passed, "
            "SUM(CASE WHEN a.verdict = 'fail' THEN 1 ELSE 0 END) AS failed, "
            "SUM(CASE WHEN a.verdict = 'inconclusive' THEN 1 ELSE 0 END) AS inconclusive, "
            f"SUM(CASE WHEN {self._LATEST_REVIEW} IS NULL THEN 0 ELSE 1 END) AS reviewed "
            f"FROM analyses a WHERE a.batch IS NOT NULL AND NOT {self._SUPERSEDED} GROUP BY a.batch "
            "ORDER BY last_recorded_at DESC, a.batch LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return rows, total

    def species_trend(self, species_id: str, stage: str | None = None, limit: int = 500) -> list[sqlite3.Row]:
        """A species' amounts in the current analysis of the `limit` latest samples that have it, oldest first."""
        query = ("SELECT a.id, a.batch, a.sample, a.stage, a.recorded_at, a.verdict, s.status, s.ms_area_pct, "
                 "s.nmr_mol_pct FROM analyses a CROSS JOIN species_results s "
                 f"WHERE s.analysis_id = a.id AND s.species_id = ? AND NOT {self._SUPERSEDED}")
        arguments = [species_id]
        if stage is not None:
            query += " AND a.stage = ?"
            arguments.append(stage)
        return self._oldest_first(query, arguments, limit)

    def _oldest_first(self, query: str, arguments: list, limit: int) -> list[sqlite3.Row]:
        # CROSS JOIN keeps analyses the outer loop (SQLite does not reorder it): newest first through the
        # listing index, stopping at `limit`, instead of every row of the species or check sorted afterwards
        newest = self.connection.execute(query + " ORDER BY a.recorded_at DESC, a.id DESC LIMIT ?",
                                         [*arguments, limit]).fetchall()
        return newest[::-1]

    def check_trend(self, check_id: str, stage: str | None = None, limit: int = 500) -> list[sqlite3.Row]:
        """A QC check's status (and the purity figure) in the current analysis of the `limit` latest samples,
        oldest first."""
        query = ("SELECT a.id, a.batch, a.sample, a.stage, a.recorded_at, a.verdict, a.purity_pct, c.status, "
                 "c.detail FROM analyses a CROSS JOIN checks c "
                 f"WHERE c.analysis_id = a.id AND c.check_id = ? AND NOT {self._SUPERSEDED}")
        arguments = [check_id]
        if stage is not None:
            query += " AND a.stage = ?"
            arguments.append(stage)
        return self._oldest_first(query, arguments, limit)

    def trend_choices(self, kinds=("species", "checks", "stages")) -> dict[str, list[str]]:
        """The species, checks and stages a trend (or a filter) can be drawn for."""
        queries = {"species": "SELECT DISTINCT species_id FROM species_results ORDER BY 1",
                   "checks": "SELECT DISTINCT check_id FROM checks ORDER BY 1",
                   "stages": "SELECT DISTINCT stage FROM analyses ORDER BY 1"}
        return {kind: [r[0] for r in self.connection.execute(queries[kind])] for kind in kinds}

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

    def count_analyses(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]

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

    def verify(self, known_head: tuple[int, str] | None = None) -> list[str]:
        """Problems found, each naming the row: the audit chain broken, cut short
        or (with the site key) not signed by it; an analysis or ledger event
        changed, added or removed since it was sealed; a stored report whose hash
        no longer matches; report files or inputs changed on disk. `known_head`:
        an audit (seq, hash) noted earlier, which the chain must still hold.
        Empty when all is well."""
        problems = []
        integrity = self.connection.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"database integrity: {integrity}")
        if self.restored_triggers:
            problems.append("append-only triggers had been dropped behind the store's back (restored): "
                            + ", ".join(self.restored_triggers))
        state = chain.walk_chain(self.connection.execute("SELECT * FROM audit ORDER BY seq"), self.key)
        problems += state.problems
        problems += self._chain_length_problems(state, known_head)
        problems += self._analysis_problems(state)
        problems += self._ledger_problems(state)
        for table in chain.SEALED_ROW_TABLES:
            problems += self._sealed_row_problems(state, table)
        problems += self._review_problems()
        problems += self._file_problems()
        return problems

    def _chain_length_problems(self, state: chain.ChainState, known_head) -> list[str]:
        problems = []
        # SQLite's own high-water mark of the audit seq: rows cut from the end of the chain leave it higher
        row = self.connection.execute("SELECT seq FROM sqlite_sequence WHERE name='audit'").fetchone()
        last = state.last_seq or 0
        if row is not None and row["seq"] > last:
            problems.append(f"audit rows after seq {last} are missing (the chain was cut short)")
        if known_head is not None:
            seq, digest = known_head
            held = self.connection.execute("SELECT hash FROM audit WHERE seq=?", (seq,)).fetchone()
            if held is None or held["hash"] != digest:
                problems.append(f"audit chain no longer holds the head noted earlier (seq {seq})")
        return problems

    def _analysis_problems(self, state: chain.ChainState) -> list[str]:
        problems, present = [], set()
        for row in self.connection.execute("SELECT id, report_json, report_sha256 FROM analyses ORDER BY rowid"):
            analysis_id = row["id"]
            present.add(analysis_id)
            report_intact = _sha(row["report_json"]) == row["report_sha256"]
            if not report_intact:
                problems.append(f"record {analysis_id}: stored report does not match its SHA-256")
            sealed = state.analyses.get(analysis_id)
            if sealed is None:
                problems.append(f"record {analysis_id}: " + (
                    "recorded before content was sealed and never sealed since" if analysis_id in state.legacy_records
                    else "not in the audit chain (added behind the store's back)"))
                continue
            seal = sealed[1]
            expected = None
            if report_intact and seal.get("report_sha256", row["report_sha256"]) == row["report_sha256"]:
                try:
                    expected = report_rows(json.loads(row["report_json"]))
                    expected["analyses"][0]["id"] = analysis_id
                    expected["inputs"] = [{k: v for k, v in item.items() if k != "path"}
                                          for item in expected["inputs"]]  # stored resolved
                except (ValueError, KeyError, TypeError, AttributeError):
                    expected = None  # a report from another layout: rows are still compared by their seal
            problems += chain.compare_analysis(analysis_id, self._analysis_rows(analysis_id), seal, expected)
        for analysis_id, (seq, _) in sorted(state.analyses.items(), key=lambda item: item[1][0]):
            if analysis_id not in present:
                problems.append(f"record {analysis_id}: in the audit chain (seq {seq}) but missing from the store "
                                "(removed behind the store's back)")
        return problems

    def _ledger_problems(self, state: chain.ChainState) -> list[str]:
        problems, present = [], set()
        for row in self.connection.execute("SELECT * FROM ledger ORDER BY seq"):
            present.add(row["seq"])
            sealed = state.ledger.get(row["seq"])
            where = f"ledger seq {row['seq']} ({row['dataset']}, state {row['state']!r})"
            if sealed is None:
                problems.append(f"{where}: not in the audit chain (added behind the store's back)")
            elif chain.ledger_seal(row) != sealed[1]:
                problems.append(f"{where}: changed behind the store's back")
        for seq, (audit_seq, _) in sorted(state.ledger.items()):
            if seq not in present:
                problems.append(f"ledger seq {seq}: in the audit chain (seq {audit_seq}) but missing from the store "
                                "(removed behind the store's back)")
        return problems

    def _sealed_row_problems(self, state: chain.ChainState, table: str) -> list[str]:
        problems, present = [], set()
        for row in self.connection.execute(f"SELECT * FROM {table} ORDER BY seq"):
            present.add(row["seq"])
            sealed = state.rows.get((table, row["seq"]))
            where = chain.describe_row(table, row)
            if sealed is None:
                problems.append(f"{where}: not in the audit chain (added behind the store's back)")
            elif chain.row_seal(table, row) != sealed[1]:
                problems.append(f"{where}: changed behind the store's back")
        for (sealed_table, seq), (audit_seq, _) in sorted(state.rows.items()):
            if sealed_table == table and seq not in present:
                problems.append(f"{table} row seq={seq}: in the audit chain (seq {audit_seq}) but missing from the "
                                "store (removed behind the store's back)")
        return problems

    def _review_problems(self) -> list[str]:
        """A review signs one report: it must still be the one stored under its analysis."""
        return [f"reviews row seq={row['seq']}: signed report SHA-256 {row['report_sha256'][:12]}... is not the "
                f"stored report of record {row['analysis_id']}"
                for row in self.connection.execute(
                    "SELECT r.seq, r.analysis_id, r.report_sha256, a.report_sha256 AS stored FROM reviews r "
                    "LEFT JOIN analyses a ON a.id = r.analysis_id ORDER BY r.seq")
                if row["stored"] != row["report_sha256"]]

    def _file_problems(self) -> list[str]:
        problems = []
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
