"""Where a results store lives, and what differs between the engines that hold one.

A store location is a plain path or `sqlite:///path` (SQLite, one file on this
PC) or `postgresql://user[:password]@host[:port]/db` (a PostgreSQL server that
many instrument PCs share, through psycopg 3). The `Store` speaks one SQL
dialect (qmark parameters, SQLite's); an engine here runs it on its database
and supplies what has no common spelling: how a write transaction takes the
store's one writer lock, the schema version, the append-only triggers, the
audit sequence's high-water mark, and what a failure means for the caller.

A password is taken from the URL, a PGPASSFILE or the environment (libpq's own
rules) and never appears in a message: `StoreLocation.display` masks it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError, InternalError, StoreLockedError, TransientError

if TYPE_CHECKING:  # an optional dependency (specqc[server]), imported when a PostgreSQL store is opened
    import psycopg

APPEND_ONLY_MESSAGE = "specqc store is append-only"
# any "word:" prefix longer than a drive letter is taken as a URL scheme, so a
# mistyped URL is refused instead of becoming a folder named after it
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):")
POSTGRES_SCHEMES = ("postgresql", "postgres")
# one lock id for the store's writers (pg_advisory_xact_lock): the audit chain is a single sequence
WRITER_LOCK_ID = 0x5BEC_0C1A

# a result row, read by column name or by position: sqlite3.Row, or the PostgreSQL engine's _Row
Row = Mapping[str | int, Any]


class Cursor(Protocol):
    """What a statement returns on either engine (sqlite3's cursor, psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...

    def __iter__(self) -> Iterator[Row]: ...


@dataclass(frozen=True)
class StoreLocation:
    engine: str  # "sqlite" | "postgresql"
    path: Path | None = None  # SQLite
    url: str | None = None  # PostgreSQL, as given (password included: to connect, never to show)

    @property
    def target(self) -> str:
        """The location as text another process opens the same store with (password included)."""
        return str(self.file) if self.engine == "sqlite" else self.server_url

    @property
    def display(self) -> Path | str:
        """What messages name: the file, or the URL with its password masked."""
        return self.file if self.engine == "sqlite" else redact(self.server_url)

    @property
    def file(self) -> Path:
        """The SQLite store's file (parse_location always gives one)."""
        if self.path is None:
            raise InternalError(f"{self.engine} store location has no file")
        return self.path

    @property
    def server_url(self) -> str:
        """The PostgreSQL store's URL (parse_location always gives one)."""
        if self.url is None:
            raise InternalError(f"{self.engine} store location has no URL")
        return self.url


def redact(url: str) -> str:
    """The URL with any password masked, well-formed or not."""
    match = re.match(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*:/*)(?P<user>[^:@/]*):(?P<secret>.*)@(?P<rest>[^@]*)$", url)
    if match is None:
        return url
    return f"{match['head']}{match['user']}:***@{match['rest']}"


def parse_location(location: str | Path) -> StoreLocation:
    """A plain path, `sqlite:///path` or `postgresql://...`; anything else is a
    ConfigError naming the problem (with the password masked)."""
    text = str(location)
    match = _SCHEME.match(text)
    if match is None:
        return StoreLocation("sqlite", path=Path(text))
    scheme = match["scheme"].lower()
    shown = redact(text)
    if scheme == "sqlite":
        # SQLAlchemy's form: sqlite:///relative.sqlite, sqlite:////absolute/path.sqlite
        if not text[len("sqlite:") :].startswith("///") or len(text) <= len("sqlite:///"):
            raise ConfigError("malformed SQLite store URL (expected sqlite:///PATH)", shown)
        return StoreLocation("sqlite", path=Path(unquote(text[len("sqlite:///") :])))
    if scheme in POSTGRES_SCHEMES:
        if not text[len(scheme) + 1 :].startswith("//"):
            raise ConfigError(
                "malformed PostgreSQL store URL (expected postgresql://user[:password]@host[:port]/db)", shown
            )
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            raise ConfigError("PostgreSQL store URL has an invalid port", shown) from None
        database = unquote(parts.path.lstrip("/"))
        if not parts.hostname:
            raise ConfigError("PostgreSQL store URL names no host", shown)
        if not database or "/" in database:
            raise ConfigError("PostgreSQL store URL names no database (postgresql://user@host[:port]/db)", shown)
        if port is not None and not 0 < port < 65536:
            raise ConfigError("PostgreSQL store URL has an invalid port", shown)
        return StoreLocation("postgresql", url=text)
    raise ConfigError(
        f"unsupported results store scheme {scheme!r} (use a path, sqlite:///PATH or postgresql://user@host[:port]/db)",
        shown,
    )


# ---------------------------------------------------------------- SQLite


class SQLiteEngine:
    name = "sqlite"
    # engine-specific columns that are not part of the logical schema
    hidden_columns: frozenset[str] = frozenset()
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, location: StoreLocation, busy_timeout_s: float):
        self.where = location.display
        self.busy_timeout_s = busy_timeout_s
        try:
            location.file.parent.mkdir(parents=True, exist_ok=True)
            # one Store is used by one thread at a time (the watch service hands it to its loop thread)
            self.connection = sqlite3.connect(
                location.file, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"results store cannot be opened: {exc}", self.where) from exc
        self.connection.row_factory = sqlite3.Row
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            raise self.problem(exc, opening=True) from exc

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        return self.connection.execute(sql, parameters)

    def insert(self, sql: str, parameters: Sequence[Any], key: str) -> int:
        rowid = self.connection.execute(sql, parameters).lastrowid
        if rowid is None:  # set by every INSERT that succeeds
            raise InternalError(f"no row id after an insert: {sql}", self.where)
        return rowid

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)

    def begin(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")

    def close(self) -> None:
        self.connection.close()

    def schema_version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.connection.execute(f"PRAGMA user_version={int(version)}")

    def run_script(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self.connection.execute(statement)

    def columns(self, table: str) -> set[str]:
        return {r[1] for r in self.connection.execute(f"PRAGMA table_info({table})")}

    def missing_triggers(self, tables: Iterable[str]) -> list[str]:
        present = {r[0] for r in self.connection.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
        return sorted({f"{t}_no_{what}" for t in tables for what in ("update", "delete")} - present)

    def install_triggers(self, tables: Iterable[str]) -> None:
        self.connection.executescript(
            "".join(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END;"
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END;"
                for table in tables
            )
        )

    def integrity_problem(self) -> str | None:
        result = self.connection.execute("PRAGMA integrity_check").fetchone()[0]
        return None if result == "ok" else result

    def next_audit_seq(self, last_seq: int | None) -> int | None:
        return None  # AUTOINCREMENT: never reuses a seq, even one cut from the end

    def audit_high_water(self) -> int | None:
        row = self.connection.execute("SELECT seq FROM sqlite_sequence WHERE name='audit'").fetchone()
        return None if row is None else row[0]

    def note_audit_seq(self, seq: int) -> None:
        pass

    def after_copy(self) -> None:
        pass  # AUTOINCREMENT follows explicitly inserted keys

    def problem(self, exc: Exception, opening: bool = False) -> Exception:
        """What a failed statement means for the caller: a lock held too long or a
        store that cannot be written is the machine's fault, not the input's."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        if primary in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
            return StoreLockedError(
                f"results store is locked by another process (waited {self.busy_timeout_s:g} s)", self.where
            )
        if primary in (8, 10, 13, 14):  # SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
            return TransientError(f"results store cannot be written: {exc}", self.where)
        return exc


# ---------------------------------------------------------------- PostgreSQL


class _Row:
    """A result row read by name or position, like sqlite3.Row (dict(row) works)."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, names: list[str], index: dict[str, int], values: Sequence[Any]):
        self._names, self._index, self._values = names, index, values

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self[name] for name in self._names)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self, strict=True))!r})"


def _row_factory(hidden: frozenset[str]) -> Callable[[psycopg.Cursor[Any]], Callable[[Sequence[Any]], _Row]]:
    def factory(cursor: psycopg.Cursor[Any]) -> Callable[[Sequence[Any]], _Row]:
        described = [column.name for column in cursor.description or ()]
        index = {name: position for position, name in enumerate(described)}
        names = [name for name in described if name not in hidden]
        return lambda values: _Row(names, index, values)

    return factory


_QMARK = re.compile(r"\bIS \?")


def to_pyformat(sql: str) -> str:
    """SQLite's dialect as the Store writes it, in PostgreSQL's: `IS ?` compares
    with NULL as a value, `?` is psycopg's %s (the Store's SQL holds no % or ?
    in literals)."""
    return _QMARK.sub("IS NOT DISTINCT FROM ?", sql).replace("?", "%s")


class PostgresEngine:
    name = "postgresql"
    # the surrogate insertion order (SQLite's rowid); not part of the logical schema, so rows hide it
    hidden_columns = frozenset({"rowid"})

    def __init__(self, location: StoreLocation, busy_timeout_s: float):
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError(
                "a PostgreSQL store needs psycopg: pip install 'specqc[server]'", location.display
            ) from exc
        self.psycopg = psycopg
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self.where = location.display
        self.secret = urlsplit(location.server_url).password
        self.busy_timeout_s = busy_timeout_s
        try:
            self.connection = psycopg.connect(
                location.server_url,
                autocommit=True,
                connect_timeout=max(1, int(busy_timeout_s)),
                application_name="specqc",
                row_factory=_row_factory(self.hidden_columns),
            )
        except psycopg.Error as exc:
            raise TransientError(f"results store cannot be reached: {self._text(exc)}", self.where) from None
        self.connection.execute(f"SET lock_timeout = {int(busy_timeout_s * 1000)}")
        self.in_transaction = False

    def _text(self, exc: Exception) -> str:
        text = " ".join(str(exc).split())
        return text.replace(self.secret, "***") if self.secret else text

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        # its rows are _Row: read by column name or position, as sqlite3.Row's are
        return cast(Cursor, self.connection.execute(to_pyformat(sql), tuple(parameters)))

    def _one(self, sql: str, parameters: tuple[Any, ...] | None = None) -> _Row:
        """The row of a statement that always returns one (an aggregate, an INSERT ... RETURNING)."""
        row = self.connection.execute(sql, parameters).fetchone()
        if row is None:
            raise InternalError(f"no row returned by: {sql}", self.where)
        return row

    def insert(self, sql: str, parameters: Sequence[Any], key: str) -> int:
        return int(self._one(to_pyformat(sql) + f" RETURNING {key}", tuple(parameters))[0])

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            with self.connection.cursor() as cursor:
                cursor.executemany(to_pyformat(sql), rows)

    def begin(self) -> None:
        self.connection.execute("BEGIN")
        self.in_transaction = True
        # the store's one writer at a time, as SQLite's BEGIN IMMEDIATE: the audit chain is one sequence
        self.connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK_ID,))

    def commit(self) -> None:
        self.connection.execute("COMMIT")
        self.in_transaction = False

    def rollback(self) -> None:
        if self.in_transaction:
            self.in_transaction = False
            if not self.connection.closed:
                self.connection.execute("ROLLBACK")

    def close(self) -> None:
        self.connection.close()

    def schema_version(self) -> int:
        # the catalog read as a table (not to_regclass's cache): a writer that waited for the lock sees the
        # tables another one created meanwhile
        row = self._one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = "
            "current_schema() AND tablename = 'schema_migrations')"
        )
        if not row[0]:
            return 0
        return int(self._one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0])

    def set_schema_version(self, version: int) -> None:
        self.connection.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, now()::text)", (version,)
        )

    def run_script(self, script: str) -> None:
        self.connection.execute(script)

    def columns(self, table: str) -> set[str]:
        return {
            r[0]
            for r in self.connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s",
                (table,),
            )
        }

    def missing_triggers(self, tables: Iterable[str]) -> list[str]:
        """Append-only triggers dropped or disabled behind the store's back."""
        enabled = {
            r[0]
            for r in self.connection.execute(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
            )
        }
        wanted = {f"{t}_no_{what}" for t in tables for what in ("update", "delete", "truncate")}
        return sorted(wanted - enabled)

    def install_triggers(self, tables: Iterable[str]) -> None:
        statements = [
            f"""CREATE OR REPLACE FUNCTION specqc_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege'; END $$"""
        ]
        for table in tables:
            for what in ("update", "delete", "truncate"):
                level = "STATEMENT" if what == "truncate" else "ROW"
                statements.append(
                    f"CREATE OR REPLACE TRIGGER {table}_no_{what} BEFORE {what.upper()} ON {table} "
                    f"FOR EACH {level} EXECUTE FUNCTION specqc_refuse_change()"
                )
                statements.append(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_{what}")
        for statement in statements:
            self.connection.execute(statement)

    def integrity_problem(self) -> str | None:
        return None  # the server keeps its own pages consistent; what it holds is checked against the chain

    def next_audit_seq(self, last_seq: int | None) -> int:
        # like SQLite's AUTOINCREMENT: past both the last row and the highest seq ever written
        high = self.audit_high_water() or 0
        return max(last_seq or 0, high) + 1

    def audit_high_water(self) -> int | None:
        row = self._one("SELECT last_value, is_called FROM audit_high_water")
        return int(row[0]) if row[1] else None

    def note_audit_seq(self, seq: int) -> None:
        self.connection.execute("SELECT setval('audit_high_water', %s)", (seq,))

    def after_copy(self) -> None:
        for table in ("ledger", "users", "reviews"):  # identity columns go on past the copied keys
            self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "
                f"COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)"
            )
        last = self._one("SELECT MAX(seq) FROM audit")[0]
        if last is not None:
            self.note_audit_seq(last)

    def problem(self, exc: Exception, opening: bool = False) -> Exception:
        errors = self.psycopg.errors
        if isinstance(exc, (errors.LockNotAvailable, errors.DeadlockDetected, errors.SerializationFailure)):
            return StoreLockedError(
                f"results store is locked by another writer (waited {self.busy_timeout_s:g} s)", self.where
            )
        if isinstance(
            exc,
            (
                self.psycopg.OperationalError,
                errors.DiskFull,
                errors.ReadOnlySqlTransaction,
                errors.AdminShutdown,
                errors.CannotConnectNow,
            ),
        ):
            return TransientError(f"results store cannot be written: {self._text(exc)}", self.where)
        return exc


Engine = SQLiteEngine | PostgresEngine


def open_engine(location: StoreLocation, busy_timeout_s: float) -> Engine:
    if location.engine == "postgresql":
        return PostgresEngine(location, busy_timeout_s)
    return SQLiteEngine(location, busy_timeout_s)
