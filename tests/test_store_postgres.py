"""The results store on a real PostgreSQL server (SPECQC_TEST_POSTGRES_URL): the
same records, chain and guarantees as on SQLite, append-only in the server,
tampering caught, copies between the engines with the chain intact, many
writers at once, and store URLs checked before anything is created."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from functools import cache

import pytest
from conftest import ROOT, SAMPLES
from servers import fresh_database

NAMES = ("dz-alkylation-clean", "dz-deprotection-boc-left", "dz-cyclization-oligomers")


@cache
def _report(name: str, batch: str) -> str:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report, to_json

    return to_json(build_report(analyze([SAMPLES / "lcms" / f"{name}.mzML"], "diazepan-2-one", batch=batch)))


@pytest.fixture
def postgres_url():
    """A fresh database on the test server, dropped afterwards."""
    with fresh_database() as url:
        yield url


def report(name: str, batch: str = "P-1") -> dict:
    return json.loads(_report(name, batch))


def actor(via="cli"):
    from specqc.records.store import Actor

    return Actor("tester", "bench-pc", via)


def cli(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "SPECQC_STORE_KEY_FILE"}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def fill(location) -> list[str]:
    from specqc.records.store import Store

    with Store(location) as store:
        ids = [store.record(report(name), actor=actor()).id for name in NAMES]
        store.ledger_event("/data/in/run-1.mzML", "ab" * 32, "started", holder="pc-1/100/x")
        store.ledger_event("/data/in/run-1.mzML", "ab" * 32, "done", analysis_id=ids[0], holder="pc-1/100/x")
    return ids


def raw(url):
    """A connection of someone with the server's rights, behind specqc's back."""
    import psycopg

    return psycopg.connect(url, autocommit=True)


# ---------------------------------------------------------------- store URLs (no server needed)


@pytest.mark.parametrize(
    "location, words",
    [
        ("mysql://qc:s3cret-pw@db.example/records", "unsupported results store scheme 'mysql'"),
        ("postgresql:/qc:s3cret-pw@db.example/records", "malformed PostgreSQL store URL"),
        ("postgresql://qc:s3cret-pw@db.example:99999/records", "invalid port"),
        ("postgresql://qc:s3cret-pw@db.example/", "names no database"),
        ("postgresql://qc:s3cret-pw@:5432/records", "names no host"),
        ("sqlite:/records.sqlite", "malformed SQLite store URL"),
    ],
)
def test_a_bad_store_url_is_one_line_exit_2_and_creates_nothing(tmp_path, location, words):
    for args in (["records", "--store", location, "list"], ["status", "--store", location]):
        result = subprocess.run(
            [sys.executable, "-m", "specqc.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and words in result.stderr and "Traceback" not in result.stderr
        assert "s3cret-pw" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []  # never a folder named after the URL


def test_sqlite_urls_and_plain_paths_name_the_same_store(tmp_path):
    from specqc.records.engines import parse_location

    assert parse_location(f"sqlite:///{tmp_path}/a.sqlite").path == parse_location(tmp_path / "a.sqlite").path
    assert parse_location("sqlite:///rel/a.sqlite").path.as_posix() == "rel/a.sqlite"
    target = parse_location("postgresql://qc:pw@db.example:5433/records?sslmode=require")
    assert (
        target.engine == "postgresql"
        and target.display == "postgresql://qc:***@db.example:5433/records?sslmode=require"
    )
    assert target.target.startswith("postgresql://qc:pw@")  # what another process connects with


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    result = cli("records", "--store", "postgresql://qc:s3cret-pw@127.0.0.1:1/records", "list")
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert "cannot be reached" in result.stderr and "s3cret-pw" not in result.stderr


# ---------------------------------------------------------------- schema and append-only


def test_schema_is_applied_on_first_use_and_a_newer_store_is_refused(postgres_url):
    from specqc.errors import ConfigError
    from specqc.records.store import POSTGRES_MIGRATIONS, SCHEMA_VERSION, Store

    steps = len(POSTGRES_MIGRATIONS)  # schema 3 (the first on PostgreSQL), then each later one
    with Store(postgres_url) as store:
        assert store.engine_name == "postgresql" and store.schema_version == SCHEMA_VERSION
        actions = [r["action"] for r in store.connection.execute("SELECT action FROM audit ORDER BY seq")]
        assert actions == ["migrate"] * steps
    with Store(postgres_url) as store:  # a second open migrates nothing
        assert store.connection.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == steps
    with raw(postgres_url) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (%s, 'later')", (SCHEMA_VERSION + 1,))
    with pytest.raises(ConfigError, match="newer than this specqc"):
        Store(postgres_url)
    result = cli("records", "--store", postgres_url, "list")
    assert result.returncode == 2 and "newer than this specqc" in result.stderr


def test_the_server_refuses_update_delete_and_truncate_of_results(postgres_url):
    import psycopg

    fill(postgres_url)
    with raw(postgres_url) as connection:
        for statement in (
            "UPDATE analyses SET verdict='pass'",
            "DELETE FROM species_results",
            "UPDATE audit SET detail='{}'",
            "DELETE FROM ledger",
            "TRUNCATE checks CASCADE",
            "TRUNCATE audit",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                connection.execute(statement)
        # replication mode does not switch them off either
        connection.execute("SET session_replication_role = replica")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("DELETE FROM analyses")
        assert connection.execute("SELECT COUNT(*) FROM analyses").fetchone()[0] == len(NAMES)


def test_records_are_the_same_on_both_engines(postgres_url, tmp_path):
    """Same reports into SQLite and PostgreSQL: same ids, rows, seals and JSON listing."""
    from specqc.records import chain
    from specqc.records.store import Store

    sqlite_ids = fill(tmp_path / "s.sqlite")
    postgres_ids = fill(postgres_url)
    assert sqlite_ids == postgres_ids
    with Store(tmp_path / "s.sqlite") as lite, Store(postgres_url) as server:

        def content(store, analysis_id):  # every value as the engine holds it, the time of writing aside
            rows = {table: [dict(row) for row in found] for table, found in store._analysis_rows(analysis_id).items()}
            rows["analyses"][0]["recorded_at"] = None
            return chain.analysis_seal(rows)

        for analysis_id in sqlite_ids:
            assert content(lite, analysis_id) == content(server, analysis_id)
            assert [dict(r) for r in lite.rows("checks", analysis_id)] == [
                dict(r) for r in server.rows("checks", analysis_id)
            ]
        assert server.verify() == [] and lite.verify() == []
    listed = {}
    for location in (tmp_path / "s.sqlite", postgres_url):
        result = cli("records", "--store", location, "list", "--format", "json")
        assert result.returncode == 0, result.stderr
        listed[str(location)] = json.loads(result.stdout)
    lite_list, server_list = listed.values()
    assert [e["id"] for e in server_list] == sqlite_ids
    strip = [{k: v for k, v in e.items() if k != "analysed_at"} for e in lite_list]
    assert strip == [{k: v for k, v in e.items() if k != "analysed_at"} for e in server_list]
    first = server_list[0]
    assert set(first) >= {"id", "sample", "batch", "stage", "verdict", "analysed_at", "input_sha256"}
    assert first["input_sha256"] == [report(NAMES[0])["inputs"][0]["sha256"]] and first["batch"] == "P-1"


# ---------------------------------------------------------------- tampering, caught by verify (exit 4)


def _species_of(connection, analysis_id):
    return connection.execute(
        "SELECT species_id, status FROM species_results WHERE analysis_id=%s ORDER BY rowid LIMIT 1", (analysis_id,)
    ).fetchone()


TAMPERING = {
    "verdict updated": (
        lambda c, ids: c.execute("UPDATE analyses SET verdict='pass' WHERE id=%s", (ids[1],)),
        lambda ids: [f"record {ids[1]}", "verdict is 'pass'", "'fail'"],
    ),
    "species row deleted": (
        lambda c, ids: c.execute(
            "DELETE FROM species_results WHERE rowid=(SELECT MIN(rowid) FROM species_results WHERE analysis_id=%s)",
            (ids[0],),
        ),
        lambda ids: [f"record {ids[0]}", "species_results row", "removed"],
    ),
    "ledger event changed": (
        lambda c, ids: c.execute("UPDATE ledger SET state='failed' WHERE state='done'"),
        lambda ids: ["ledger seq 2", "changed behind the store's back"],
    ),
    "analysis removed with its audit row": (
        lambda c, ids: (
            [
                c.execute(f"DELETE FROM {t} WHERE analysis_id=%s", (ids[2],))
                for t in ("inputs", "species_results", "diagnoses", "checks", "report_files")
            ]
            + [
                c.execute("DELETE FROM analyses WHERE id=%s", (ids[2],)),
                c.execute("DELETE FROM audit WHERE seq=(SELECT MAX(seq) FROM audit)"),
            ]
        ),
        lambda ids: ["audit rows after seq", "cut short"],
    ),
    "audit detail rewritten": (
        lambda c, ids: c.execute(
            "UPDATE audit SET detail=replace(detail, 'P-1', 'P-2') WHERE analysis_id=%s AND action='record'", (ids[0],)
        ),
        lambda ids: ["audit chain broken at seq"],
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_verify_catches_tampering_on_the_server(postgres_url, case):
    ids = fill(postgres_url)
    change, expected = TAMPERING[case]
    clean = cli("records", "--store", postgres_url, "verify")
    assert clean.returncode == 0 and "OK" in clean.stdout, clean.stdout + clean.stderr
    with raw(postgres_url) as connection:  # the owner switches the triggers off, tampers, switches them on
        tables = ("analyses", "inputs", "species_results", "diagnoses", "checks", "report_files", "audit", "ledger")
        for table in tables:
            connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        change(connection, ids)
        for table in tables:
            connection.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    result = cli("records", "--store", postgres_url, "verify")
    assert result.returncode == 4, result.stdout + result.stderr
    for words in expected(ids):
        assert words in result.stdout, (words, result.stdout)


def test_triggers_dropped_behind_the_stores_back_are_reported_and_restored(postgres_url):
    import psycopg

    fill(postgres_url)
    with raw(postgres_url) as connection:
        connection.execute("DROP TRIGGER analyses_no_update ON analyses")
        connection.execute("ALTER TABLE ledger DISABLE TRIGGER ledger_no_delete")
    result = cli("records", "--store", postgres_url, "verify")
    assert result.returncode == 4
    assert "analyses_no_update" in result.stdout and "ledger_no_delete" in result.stdout
    with raw(postgres_url) as connection, pytest.raises(psycopg.errors.InsufficientPrivilege):
        connection.execute("UPDATE analyses SET verdict='pass'")
    assert cli("records", "--store", postgres_url, "verify").returncode == 0


# ---------------------------------------------------------------- copying between engines


def test_migrate_sqlite_to_postgresql_and_back_keeps_the_chain(postgres_url, tmp_path):
    from specqc.records.store import Store

    source = tmp_path / "a.sqlite"
    ids = fill(source)
    result = cli("records", "migrate", "--from", f"sqlite:///{source}", "--to", postgres_url)
    assert result.returncode == 0, result.stderr
    assert f"copied {len(ids)} analyses, 2 ledger events" in result.stdout and "verified" in result.stdout
    with Store(source) as old, Store(postgres_url) as new:
        old_chain = [dict(r) for r in old.connection.execute("SELECT * FROM audit ORDER BY seq")]
        new_chain = [dict(r) for r in new.connection.execute("SELECT * FROM audit ORDER BY seq")]
        assert new_chain[: len(old_chain)] == old_chain  # the same rows, hashes and all
        assert new_chain[-1]["action"] == "copy" and new_chain[-1]["prev_hash"] == old_chain[-1]["hash"]
        assert [r["id"] for r in new.analyses()] == ids and new.verify() == []
        # the copy goes on: new writes extend the copied chain
        new.record(report("dz-alkylation-overalkylation"), actor=actor())
        new.ledger_event("/data/in/run-2.mzML", "cd" * 32, "started")
        assert new.verify() == []
    assert cli("records", "--store", postgres_url, "verify").returncode == 0
    back = tmp_path / "b.sqlite"
    result = cli("records", "migrate", "--from", postgres_url, "--to", back)
    assert result.returncode == 0, result.stderr
    assert cli("records", "--store", back, "verify").returncode == 0
    # a second copy into a store that now holds records is refused
    again = cli("records", "migrate", "--from", f"sqlite:///{source}", "--to", postgres_url)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_migrate_refuses_a_source_that_does_not_verify(postgres_url, tmp_path):
    import sqlite3

    source = tmp_path / "a.sqlite"
    fill(source)
    connection = sqlite3.connect(source)
    connection.execute("DROP TRIGGER analyses_no_update")
    connection.execute("UPDATE analyses SET verdict='pass'")
    connection.commit()
    connection.close()
    result = cli("records", "migrate", "--from", source, "--to", postgres_url)
    assert result.returncode == 2 and "does not verify" in result.stderr
    with raw(postgres_url) as check:  # nothing was copied
        assert (
            check.execute("SELECT to_regclass('analyses')").fetchone()[0] is None
            or check.execute("SELECT COUNT(*) FROM analyses").fetchone()[0] == 0
        )


# ---------------------------------------------------------------- many writers


def _writer(url, names, batch, rounds, shared):
    from specqc.records.store import Actor, Store

    with Store(url) as store:
        for round_number in range(rounds):
            for name in names:
                data = report(name, batch)
                data["qc"]["checks"][0]["detail"] += f" #{round_number}"
                store.record(data, actor=Actor(f"writer-{batch}", "pc", "watch"))
                # the same analysis offered by every writer: stored once
                store.record(report(name, "SHARED"), actor=Actor(f"writer-{batch}", "pc", "watch"))
            store.ledger_event(f"/inbox-{batch}/run-{round_number}.mzML", "ef" * 32, "done")


def test_concurrent_writers_store_everything_exactly_once(postgres_url):
    from specqc.records.store import Store

    Store(postgres_url).close()
    names = ["dz-alkylation-clean", "dz-deprotection-clean"]
    context = multiprocessing.get_context("spawn")
    batches = ("A", "B", "C", "D")
    workers = [context.Process(target=_writer, args=(postgres_url, names, batch, 4, True)) for batch in batches]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
        assert worker.exitcode == 0
    with Store(postgres_url) as store:
        for batch in batches:
            rows = store.analyses(batch=batch)
            assert len(rows) == 8 and max(r["revision"] for r in rows) == 4
        assert len(store.analyses(batch="SHARED")) == len(names)
        assert len(store.ledger_summary()) == 4 * len(batches)
        assert store.verify() == []


def test_claims_on_a_shared_store_are_handed_over_after_the_lease(postgres_url):
    from specqc.errors import ClaimError
    from specqc.records.store import Store

    now = time.time()
    with Store(postgres_url) as store, raw(postgres_url) as connection:
        # a service on another instrument PC holds the inbox, its lease still running
        connection.execute(
            "INSERT INTO claims VALUES ('inbox:/share/lcms-2', 'pc-2/77/aa', 'pc-2', 77, NULL, %s, %s, %s)",
            (now - 30, now - 5, now + 60),
        )
        with pytest.raises(ClaimError) as refused:
            store.acquire_claim("inbox:/share/lcms-2", "pc-3/88/bb", lease_s=60, actor=actor("watch"))
        assert refused.value.holder.holder == "pc-2/77/aa"
        status = cli("status", "--store", postgres_url)
        assert status.returncode == 0 and "inbox:/share/lcms-2 by pc-2/77/aa" in status.stdout
        # it was killed: once its lease runs out the claim is taken over
        connection.execute("DELETE FROM claims")
        connection.execute(
            "INSERT INTO claims VALUES ('inbox:/share/lcms-2', 'pc-2/77/aa', 'pc-2', 77, NULL, %s, %s, %s)",
            (now - 300, now - 200, now - 1),
        )
        taken = store.acquire_claim("inbox:/share/lcms-2", "pc-3/88/bb", lease_s=60, actor=actor("watch"))
        assert taken.holder == "pc-3/88/bb" and [c.holder for c in store.claims()] == ["pc-3/88/bb"]
        actions = [r["action"] for r in store.connection.execute("SELECT action FROM audit ORDER BY seq")]
        assert actions[-2:] == ["claim-expired", "claim"]
        assert store.verify() == []


def test_watch_services_on_two_instrument_pcs_share_one_store(postgres_url, tmp_path):
    """Two `specqc watch --once` at the same time, each on its own inbox, into one server store."""
    import shutil

    from specqc.records.store import Store

    config = tmp_path / "watch.toml"
    config.write_text(
        f'[sample]\nroute = "diazepan-2-one"\n[watch]\nsettle_s = 0.2\n[store]\npath = "{postgres_url}"\n',
        encoding="utf-8",
    )
    processes = []
    for pc, names in (("pc-1", NAMES[:2]), ("pc-2", NAMES[2:] + ("dz-alkylation-overalkylation",))):
        inbox = tmp_path / pc / "inbox"
        inbox.mkdir(parents=True)
        for name in names:
            shutil.copy(SAMPLES / "lcms" / f"{name}.mzML", inbox)
        os.utime(inbox, None)
    time.sleep(0.5)
    for pc in ("pc-1", "pc-2"):
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "specqc.cli",
                    "watch",
                    tmp_path / pc / "inbox",
                    "--out",
                    tmp_path / pc / "out",
                    "--config",
                    config,
                    "--once",
                    "--workers",
                    "1",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        _out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert "failed 0" in err
    with Store(postgres_url) as store:
        assert store.count_analyses() == 4
        assert {r["state"] for r in store.ledger_summary()} == {"done"} and len(store.ledger_summary()) == 4
        assert store.claims() == []  # released at the end
        assert store.verify() == []
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "specqc.cli",
            "watch",
            tmp_path / "pc-1" / "inbox",
            "--out",
            tmp_path / "pc-1" / "out",
            "--config",
            config,
            "--once",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0 and "done 0" in again.stderr and "already done 2" in again.stderr


def test_the_password_may_come_from_a_pgpassfile(postgres_url, tmp_path):
    from urllib.parse import urlsplit

    parts = urlsplit(postgres_url)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"{parts.hostname}:{parts.port}:*:{parts.username}:{parts.password}\n", encoding="utf-8")
    passfile.chmod(0o600)
    without = postgres_url.replace(f":{parts.password}@", "@")
    assert parts.password and parts.password not in without
    result = cli(
        "records",
        "--store",
        without,
        "list",
        "--format",
        "json",
        env_extra={"PGPASSFILE": str(passfile), "PGPASSWORD": ""},
    )
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stderr
    refused = cli(
        "records", "--store", without, "list", env_extra={"PGPASSFILE": str(tmp_path / "none"), "PGPASSWORD": ""}
    )
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "cannot be reached" in refused.stderr


def test_migrate_leaves_no_half_made_store_when_the_copy_fails(tmp_path):
    """A signed store copied without its site key: refused, and the new file is not left behind."""
    from specqc.records.store import Store

    key = tmp_path / "site.key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef\n")
    source = tmp_path / "signed.sqlite"
    with Store(source, key_file=key) as store:
        store.record(report(NAMES[0]), actor=actor())
    target = tmp_path / "copy.sqlite"
    refused = cli("records", "migrate", "--from", source, "--to", target)
    assert refused.returncode == 2 and "site key" in refused.stderr and refused.stderr.count("\n") == 1
    assert not target.exists() and not (tmp_path / "copy.sqlite-wal").exists()
    copied = cli("records", "migrate", "--from", source, "--to", target, env_extra={"SPECQC_STORE_KEY_FILE": str(key)})
    assert copied.returncode == 0, copied.stderr
    assert cli("records", "--store", target, "verify", env_extra={"SPECQC_STORE_KEY_FILE": str(key)}).returncode == 0
