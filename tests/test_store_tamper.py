"""Tampering with a real store file behind specqc's back, through plain sqlite3:
`specqc records verify` must answer exit 4 and name the row, triggers or not."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from functools import lru_cache

import pytest

from conftest import ROOT, SAMPLES

KEY = b"0123456789abcdef0123456789abcdef"


@lru_cache(maxsize=None)
def _report(name: str) -> str:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report, to_json

    return to_json(build_report(analyze([SAMPLES / "lcms" / f"{name}.mzML"], "diazepan-2-one", batch="T-1")))


def _actor():
    from specqc.records.store import Actor

    return Actor("tester", "bench-pc", "cli")


def _build(path, key_file=None):
    from specqc.records.store import Store

    with Store(path, key_file=key_file) as store:
        ids = [
            store.record(json.loads(_report(name)), actor=_actor()).id
            for name in ("dz-alkylation-clean", "dz-deprotection-boc-left")
        ]
        store.ledger_event("/data/in/run-1.mzML", "ab" * 32, "started")
        store.ledger_event("/data/in/run-1.mzML", "ab" * 32, "done", analysis_id=ids[0])
    return ids


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template")
    key_file = folder / "site.key"
    key_file.write_bytes(KEY + b"\n")
    _build(folder / "plain.sqlite")
    _build(folder / "signed.sqlite", key_file)
    return folder


@pytest.fixture
def plain(template, tmp_path):
    shutil.copy(template / "plain.sqlite", tmp_path / "s.sqlite")
    return tmp_path / "s.sqlite"


@pytest.fixture
def signed(template, tmp_path):
    shutil.copy(template / "signed.sqlite", tmp_path / "s.sqlite")
    shutil.copy(template / "site.key", tmp_path / "site.key")
    return tmp_path / "s.sqlite", tmp_path / "site.key"


def tamper(path, *statements, restore_triggers=False):
    """What someone with write access to the file can do: drop the triggers, then
    anything (and, to cover their tracks, put the triggers back)."""
    from specqc.records.store import RECORD_TABLES, _append_only_triggers

    raw = sqlite3.connect(path)
    raw.row_factory = sqlite3.Row
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        if callable(statement):
            statement(raw)
        else:
            raw.execute(statement)
    raw.commit()
    if restore_triggers:
        raw.executescript(_append_only_triggers(RECORD_TABLES))
    raw.close()


def ids(path):
    raw = sqlite3.connect(path)
    found = [r[0] for r in raw.execute("SELECT id FROM analyses ORDER BY rowid")]
    raw.close()
    return found


def verify_cli(path, key_file=None):
    env = {k: v for k, v in os.environ.items() if k != "SPECQC_STORE_KEY_FILE"}
    if key_file is not None:
        env["SPECQC_STORE_KEY_FILE"] = str(key_file)
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", "records", "--store", str(path), "verify"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def problems(path, key_file=None):
    from specqc.records.store import Store

    with Store(path, key_file=key_file) as store:
        return store.verify()


def test_an_untouched_store_verifies(plain, signed):
    assert problems(plain) == []
    assert problems(*signed) == []
    result = verify_cli(signed[0], signed[1])
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


def _first_species(raw):
    """The first species of the first analysis, and the status it will be flipped to."""
    species, status = raw.execute(
        "SELECT species_id, status FROM species_results WHERE analysis_id=(SELECT id "
        "FROM analyses ORDER BY rowid LIMIT 1) ORDER BY rowid LIMIT 1"
    ).fetchone()
    return species, "not-detected" if status == "detected" else "detected"


CASES = {
    # name: (statements given the first and second analysis ids, words the message must hold)
    "verdict updated": (
        lambda a, b: [f"UPDATE analyses SET verdict='pass' WHERE id='{b}'"],
        lambda a, b, raw: [f"record {b}", "analyses row", "verdict is 'pass'", "'fail'"],
    ),
    "species status flipped": (
        lambda a, b: [
            "UPDATE species_results SET status=CASE status WHEN 'detected' THEN 'not-detected' "
            f"ELSE 'detected' END WHERE analysis_id='{a}' AND rowid="
            f"(SELECT MIN(rowid) FROM species_results WHERE analysis_id='{a}')"
        ],
        lambda a, b, raw: [
            f"record {a}",
            "species_results row",
            f"species_id={_first_species(raw)[0]!r}",
            f"status is {_first_species(raw)[1]!r}, the stored report says",
        ],
    ),
    "check detail updated": (
        lambda a, b: [f"UPDATE checks SET detail='fine' WHERE analysis_id='{b}'"],
        lambda a, b, raw: [f"record {b}", "checks row", "changed"],
    ),
    "diagnosis deleted": (
        lambda a, b: [f"DELETE FROM diagnoses WHERE analysis_id='{b}'"],
        lambda a, b, raw: [f"record {b}", "diagnoses row diagnosis_id=", "removed"],
    ),
    "input hash updated": (
        lambda a, b: [f"UPDATE inputs SET sha256='{'0' * 64}' WHERE analysis_id='{a}'"],
        lambda a, b, raw: [f"record {a}", "inputs row", "position=0", "sha256"],
    ),
    "analysis deleted": (
        lambda a, b: (
            [
                f"DELETE FROM {t} WHERE analysis_id='{a}'"
                for t in ("inputs", "species_results", "diagnoses", "checks", "report_files")
            ]
            + [f"DELETE FROM analyses WHERE id='{a}'"]
        ),
        lambda a, b, raw: [f"record {a}", "missing from the store"],
    ),
    "analysis and its audit row deleted": (
        lambda a, b: [f"DELETE FROM analyses WHERE id='{a}'", f"DELETE FROM audit WHERE analysis_id='{a}'"],
        lambda a, b, raw: ["audit chain broken"],
    ),
    "newest analysis and the chain's tail cut off": (
        lambda a, b: (
            [
                f"DELETE FROM {t} WHERE analysis_id='{b}'"
                for t in ("inputs", "species_results", "diagnoses", "checks", "report_files")
            ]
            + [
                f"DELETE FROM analyses WHERE id='{b}'",
                "DELETE FROM ledger",
                f"DELETE FROM audit WHERE seq >= (SELECT seq FROM audit WHERE analysis_id='{b}' AND action='record')",
            ]
        ),
        lambda a, b, raw: ["cut short"],
    ),
    "forged analysis inserted": (
        lambda a, b: [
            "CREATE TEMP TABLE f AS SELECT * FROM analyses WHERE id='" + a + "'",
            "UPDATE f SET id='f0f0f0f0f0f0f0f0f0f0f0f0', verdict='pass', revision=9",
            "INSERT INTO analyses SELECT * FROM f",
        ],
        lambda a, b, raw: ["record f0f0f0f0f0f0f0f0f0f0f0f0", "not in the audit chain"],
    ),
    "forged species row inserted": (
        lambda a, b: [
            f"INSERT INTO species_results (analysis_id, species_id, name, role, stage_role, status) "
            f"VALUES ('{b}', 'ghost', 'Ghost', 'side-product', 'impurity', 'detected')"
        ],
        lambda a, b, raw: [f"record {b}", "species_id='ghost'", "added"],
    ),
    "ledger state updated": (
        lambda a, b: ["UPDATE ledger SET state='failed' WHERE state='done'"],
        lambda a, b, raw: ["ledger seq 2", "run-1.mzML", "changed"],
    ),
    "ledger event deleted": (
        lambda a, b: ["DELETE FROM ledger WHERE seq=1"],
        lambda a, b, raw: ["ledger seq 1", "missing from the store"],
    ),
    "ledger event inserted": (
        lambda a, b: [
            "INSERT INTO ledger (dataset, content_sha256, state, at) VALUES "
            "('/data/in/run-2.mzML', 'cd', 'done', '2026-01-01T00:00:00+00:00')"
        ],
        lambda a, b, raw: ["run-2.mzML", "not in the audit chain"],
    ),
    "triggers dropped": (lambda a, b: [], lambda a, b, raw: ["triggers had been dropped", "analyses_no_update"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_names_what_was_tampered_with(plain, case):
    statements, words = CASES[case]
    first, second = ids(plain)
    raw = sqlite3.connect(plain)
    expected = words(first, second, raw)  # worked out before the rows change
    raw.close()
    tamper(plain, *statements(first, second))
    found = problems(plain)
    assert any(all(w in p for w in expected) for p in found), (expected, found)
    tamper(plain, *statements(first, second)) if case == "triggers dropped" else None  # drop them again for the CLI
    result = verify_cli(plain)
    assert result.returncode == 4, result.stdout + result.stderr
    assert any(all(w in line for w in expected) for line in result.stdout.splitlines() if "MISMATCH" in line), (
        result.stdout
    )


def _rewrite_chain(path, keep_macs: bool):
    """The attacker's best: change a verdict, then re-seal the analysis and
    re-hash the chain from there on, exactly as specqc would (only the key is missing)."""
    from specqc.records import chain

    first, second = ids(path)

    def rewrite(raw):
        raw.execute(f"UPDATE analyses SET verdict='pass' WHERE id='{second}'")
        rows = {"analyses": raw.execute("SELECT * FROM analyses WHERE id=?", (second,)).fetchall()}
        for table in chain.ANALYSIS_TABLES[1:]:
            rows[table] = raw.execute(f"SELECT * FROM {table} WHERE analysis_id=?", (second,)).fetchall()
        seal = chain.analysis_seal(rows)
        previous = chain.GENESIS
        for row in raw.execute("SELECT * FROM audit ORDER BY seq").fetchall():
            detail = row["detail"]
            if row["analysis_id"] == second and row["action"] == "record":
                detail = chain.canonical({**json.loads(detail), **seal})
            digest = chain.audit_hash(previous, row["at"], row["actor"], row["action"], row["analysis_id"], detail)
            raw.execute(
                "UPDATE audit SET detail=?, prev_hash=?, hash=?, mac=? WHERE seq=?",
                (detail, previous, digest, row["mac"] if keep_macs else None, row["seq"]),
            )
            previous = digest

    tamper(path, rewrite, restore_triggers=True)
    return second


@pytest.mark.parametrize("keep_macs", [True, False], ids=["old signatures kept", "signatures removed"])
def test_a_rewritten_chain_is_caught_by_the_site_key(signed, keep_macs):
    path, key_file = signed
    second = _rewrite_chain(path, keep_macs)
    assert problems(path) == []  # without the key the rewrite is consistent: that is what the key is for
    found = problems(path, key_file)
    wanted = "signature does not verify" if keep_macs else "is not signed with the site key"
    assert any(wanted in p for p in found), found
    result = verify_cli(path, key_file)
    assert result.returncode == 4 and wanted in result.stdout, result.stdout + result.stderr
    assert second  # the rewritten record


def test_a_signed_store_refuses_writers_without_its_key(signed, tmp_path):
    from specqc.errors import ConfigError
    from specqc.records.store import Store

    path, key_file = signed
    with Store(path, key_file=key_file) as store:
        head = store.chain_head()
        assert head["signed"]
    with Store(path) as store:  # reading needs no key
        assert store.count_analyses() == 2
        with pytest.raises(ConfigError, match="signed with a site key"):
            store.ledger_event("/x.mzML", "ef" * 32, "started")
    other = tmp_path / "other.key"
    other.write_bytes(b"another-site-key-of-enough-bytes")
    with Store(path, key_file=other) as store, pytest.raises(ConfigError, match="another site key"):
        store.ledger_event("/x.mzML", "ef" * 32, "started")
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    with pytest.raises(ConfigError, match="at least 16"):
        Store(path, key_file=short)
    assert problems(path, key_file) == []  # the refused writes left nothing behind


def test_a_noted_head_catches_the_chain_cut_back(plain):
    from specqc.records.store import Store

    with Store(plain) as store:
        head = store.chain_head()
    first, second = ids(plain)

    def cut(raw):  # remove the newest events and reset SQLite's counter too
        raw.execute("DELETE FROM ledger")
        raw.execute(
            f"DELETE FROM audit WHERE seq > (SELECT seq FROM audit WHERE analysis_id='{second}' AND action='record')"
        )
        raw.execute("UPDATE sqlite_sequence SET seq=(SELECT MAX(seq) FROM audit) WHERE name='audit'")

    tamper(plain, cut)
    with Store(plain) as store:
        found = store.verify(known_head=(head["seq"], head["hash"]))
    assert any("no longer holds the head" in p for p in found), found


def test_migration_seals_an_old_store_and_then_catches_tampering(tmp_path):
    """A schema-2 store made the old way: its rows get content hashes at
    migration, stated in the chain, and a later change to them shows."""
    from specqc.records.store import SCHEMA_1, SCHEMA_2, Store

    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(SCHEMA_1 + SCHEMA_2 + "PRAGMA user_version=2;")
    raw.execute(
        "INSERT INTO analyses (id, batch, sample, stage, route_id, route_version, revision, verdict, "
        "specqc_version, parameters_json, reference_data_json, report_json, report_sha256, recorded_at, "
        "recorded_by, host, via) VALUES ('0a0a0a0a0a0a0a0a0a0a0a0a', 'OLD', 's', 'salt', 'diazepan-2-one',"
        " '1', 1, 'fail', '0.0.9', '{}', '{}', '{}',"
        " '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',"
        " '2026-01-01T00:00:00+00:00', 'old', 'pc', 'cli')"
    )
    raw.execute(
        "INSERT INTO species_results VALUES ('0a0a0a0a0a0a0a0a0a0a0a0a', 'product', 'P', 'product', 'main',"
        " 'detected', 1.2, 97.0, NULL)"
    )
    raw.execute(
        "INSERT INTO ledger (dataset, content_sha256, state, at) VALUES ('/d/old.mzML', 'aa', 'done', "
        "'2026-01-01T00:00:00+00:00')"
    )
    raw.commit()
    raw.close()
    with Store(path) as store:
        actions = [r["action"] for r in store.connection.execute("SELECT action FROM audit ORDER BY seq")]
        assert actions == ["adopt", "adopt", "migrate", "migrate"]  # to schema 3 (sealing), then to 4
        migrate = json.loads(
            store.connection.execute("SELECT detail FROM audit WHERE action='migrate' ORDER BY seq").fetchone()[0]
        )
        assert migrate["from"] == 2 and migrate["sealed_analyses"] == 1 and migrate["sealed_ledger_events"] == 1
        assert store.verify() == []
    tamper(path, "UPDATE species_results SET status='not-detected'", "UPDATE ledger SET state='failed'")
    found = problems(path)
    assert any("record 0a0a0a0a0a0a0a0a0a0a0a0a" in p and "species_id='product'" in p for p in found), found
    assert any("ledger seq 1" in p and "changed" in p for p in found), found
