"""The results store and batch-record exports, on real SQLite files in temporary folders."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from functools import lru_cache

import pytest

from conftest import ROOT, SAMPLES

INJECTION = "=cmd|' /C calc'!A0"


@lru_cache(maxsize=None)
def _report(name: str, batch: str) -> str:
    from specqc.pipeline import analyze
    from specqc.report.document import build_report, to_json

    kind = "nmr" if "nmr" in name else "lcms"
    path = SAMPLES / kind / (name if kind == "nmr" else f"{name}.mzML")
    route = "cyclobutylcarbonyl-diazepane" if name.startswith("cb-") else "diazepan-2-one"
    return to_json(build_report(analyze([path], route, batch=batch)))


def report(name: str, batch: str = "B-1") -> dict:
    return json.loads(_report(name, batch))


def actor(via="cli"):
    from specqc.records.store import Actor

    return Actor("tester", "bench-pc", via)


def open_store(path):
    from specqc.records.store import Store

    return Store(path)


def test_store_is_created_with_wal_and_current_schema(tmp_path):
    from specqc.records.store import SCHEMA_VERSION

    with open_store(tmp_path / "sub" / "records.sqlite") as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_record_stores_everything_and_is_idempotent(tmp_path):
    data = report("dz-deprotection-boc-left")
    html = tmp_path / "r.html"
    html.write_text("<html>report</html>", encoding="utf-8")
    with open_store(tmp_path / "s.sqlite") as store:
        first = store.record(data, actor=actor(), report_files=[(html, "html")])
        again = store.record(data, actor=actor())
        assert first.new and not again.new and first.id == again.id
        row = store.analysis(first.id)
        assert (row["batch"], row["stage"], row["route_id"], row["verdict"]) == (
            "B-1",
            "deprotection",
            "diazepan-2-one",
            "fail",
        )
        assert row["recorded_at"].endswith("+00:00") or "+" in row["recorded_at"][-6:]  # timezone-aware
        assert row["recorded_by"] == "tester" and row["host"] == "bench-pc" and row["via"] == "cli"
        assert json.loads(row["report_json"]) == data
        assert [d["diagnosis_id"] for d in store.rows("diagnoses", first.id)] == ["incomplete-deprotection"]
        (item,) = store.rows("inputs", first.id)
        assert item["sha256"] == data["inputs"][0]["sha256"]
        instrument = json.loads(item["instrument_json"])
        assert instrument["polarity"] == "positive" and instrument["scans"] > 100
        assert store.rows("report_files", first.id)[0]["format"] == "html"
        actions = [r["action"] for r in store.connection.execute("SELECT action FROM audit ORDER BY seq")]
        assert actions[-2:] == ["record", "record-again"]
        assert store.verify() == []


def test_reanalysis_adds_a_revision_and_nothing_is_changed_in_place(tmp_path):
    with open_store(tmp_path / "s.sqlite") as store:
        old = store.record(report("dz-deprotection-boc-left"), actor=actor())
        changed = report("dz-deprotection-boc-left")
        changed["qc"]["checks"][0]["detail"] += " (re-processed)"  # a different result for the same sample
        new = store.record(changed, actor=actor("watch"))
        assert (old.revision, new.revision) == (1, 2)
        assert store.analysis(new.id)["supersedes"] == old.id
        assert store.superseded_by(old.id) == new.id
        for statement in (
            "UPDATE analyses SET verdict='pass'",
            "DELETE FROM analyses",
            "DELETE FROM audit",
            "UPDATE audit SET actor='x'",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                store.connection.execute(statement)


def test_verify_detects_a_tampered_report_and_a_broken_audit_chain(tmp_path):
    html = tmp_path / "r.html"
    html.write_text("<html>original</html>", encoding="utf-8")
    path = tmp_path / "s.sqlite"
    with open_store(path) as store:
        store.record(report("dz-alkylation-clean"), actor=actor(), report_files=[(html, "html")])
        assert store.verify() == []
        html.write_text("<html>edited: PASS</html>", encoding="utf-8")
        (problem,) = store.verify()
        assert "report file" in problem and "changed" in problem
    html.write_text("<html>original</html>", encoding="utf-8")
    raw = sqlite3.connect(path)  # someone edits the file behind the store's back
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("UPDATE audit SET actor='someone else' WHERE action='record'")
    raw.commit()
    raw.close()
    with open_store(path) as store:
        assert any("audit chain broken" in p for p in store.verify())


def test_migration_from_the_first_schema(tmp_path):
    from specqc.records.store import SCHEMA_1, SCHEMA_VERSION

    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(SCHEMA_1 + "PRAGMA user_version=1;")
    raw.execute(
        "INSERT INTO analyses (id, batch, sample, stage, route_id, route_version, revision, verdict, "
        "specqc_version, parameters_json, reference_data_json, report_json, report_sha256, recorded_at, "
        "recorded_by, host, via) VALUES ('a'||hex(randomblob(11)), 'OLD', 's', 'salt', 'diazepan-2-one', '1',"
        " 1, 'pass', '0.0.9', '{}', '{}', '{}',"
        " '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',"
        " '2026-01-01T00:00:00+00:00', 'old', 'pc', 'cli')"
    )
    raw.commit()
    raw.close()
    with open_store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert len(store.analyses(batch="OLD")) == 1  # old rows kept
        assert store.analyses(batch="OLD")[0]["purity_pct"] is None  # the new column
        store.record(report("dz-alkylation-clean"), actor=actor())
        store.ledger_event("/data/x.mzML", "ab" * 32, "done")
        assert [r["action"] for r in store.connection.execute("SELECT action FROM audit")][0] == "migrate"


def test_a_newer_store_is_refused(tmp_path):
    from specqc.errors import ConfigError

    path = tmp_path / "future.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version=99")
    raw.close()
    with pytest.raises(ConfigError, match="newer"):
        open_store(path)


def _writer(path: str, names: list[str], batch: str, repeats: int) -> None:
    from specqc.records.store import Actor, Store

    with Store(path) as store:
        for round_number in range(repeats):
            for name in names:
                data = json.loads(_report(name, batch))
                data["qc"]["checks"][0]["detail"] += f" #{round_number}"
                store.record(data, actor=Actor(f"writer-{batch}", "pc", "watch"))


def test_concurrent_writers_keep_every_record_and_the_chain(tmp_path):
    path = str(tmp_path / "s.sqlite")
    open_store(path).close()
    names = ["dz-alkylation-clean", "dz-deprotection-clean"]
    context = multiprocessing.get_context("spawn")  # a fork of a threaded test process can hang
    workers = [context.Process(target=_writer, args=(path, names, batch, 5)) for batch in ("A", "B")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with open_store(path) as store:
        assert len(store.analyses(batch="A")) == len(store.analyses(batch="B")) == 10
        assert max(r["revision"] for r in store.analyses(batch="A")) == 5
        assert store.verify() == []


CRASHING_WRITER = """
import json, sys
from specqc.records.store import Actor, Store
data = json.loads(open(sys.argv[2], encoding="utf-8").read())
store = Store(sys.argv[1])
n = 0
while True:
    n += 1
    data["qc"]["checks"][0]["detail"] = f"round {n}"
    store.record(data, actor=Actor("crash", "pc", "watch"))
    print(n, flush=True)
"""


def test_a_crash_mid_write_leaves_the_store_consistent(tmp_path):
    path = tmp_path / "s.sqlite"
    source = tmp_path / "report.json"
    source.write_text(_report("dz-cyclization-oligomers", "K"), encoding="utf-8")
    script = tmp_path / "writer.py"
    script.write_text(CRASHING_WRITER, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), str(path), str(source)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    for _ in range(15):  # let it commit some records, then kill it mid-stream
        process.stdout.readline()
    time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    with open_store(path) as store:
        assert store.verify() == []
        rows = store.analyses(batch="K")
        assert len(rows) >= 15
        for row in rows:  # every stored analysis is whole
            assert store.rows("species_results", row["id"]) and store.rows("checks", row["id"])
        assert sorted(r["revision"] for r in rows) == list(range(1, len(rows) + 1))


# ---------------------------------------------------------------- exports


@pytest.fixture
def batch_store(tmp_path):
    path = tmp_path / "s.sqlite"
    with open_store(path) as store:
        for name in ("dz-alkylation-clean", "dz-deprotection-boc-left", "dz-cyclization-oligomers"):
            store.record(report(name, INJECTION), actor=actor())
        for name in ("dz-alkylation-overalkylation",):
            store.record(report(name, "Ä-42"), actor=actor())
    return path


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", *map(str, args)], cwd=ROOT, capture_output=True, timeout=300
    )


def test_csv_export_round_trips_and_is_formula_safe(batch_store, tmp_path):
    from specqc.records.export import STAGE_COLUMNS, batch_records

    out = tmp_path / "batch.csv"
    result = _cli("records", "--store", batch_store, "export", "--batch", INJECTION, "--format", "csv", "--output", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert tuple(rows[0]) == STAGE_COLUMNS
    assert [r["stage"] for r in rows] == ["alkylation", "deprotection", "cyclization"]  # route order
    assert all(r["batch"] == "'" + INJECTION for r in rows)  # inert text in a spreadsheet
    with open_store(batch_store) as store:
        records = batch_records(store, INJECTION)
    for row, record in zip(rows, records):
        assert row["record_id"] == record["record_id"] and row["verdict"] == record["verdict"]
        assert row["diagnoses"] == " | ".join(d["id"] for d in record["diagnoses"])
        assert row["input_sha256"] == record["inputs"][0]["sha256"]
        assert row["report_sha256"] == record["report_sha256"]
    long = _cli("records", "--store", batch_store, "export", "--batch", INJECTION, "--format", "csv-long")
    species = list(csv.DictReader(io.StringIO(long.stdout.decode("utf-8-sig"))))
    assert len(species) == sum(len(r["species"]) for r in records)
    again = _cli("records", "--store", batch_store, "export", "--batch", INJECTION, "--format", "csv")
    assert again.stdout == out.read_bytes()  # deterministic


def test_non_ascii_batch_ids_survive_every_format(batch_store, tmp_path):
    from openpyxl import load_workbook

    csv_out = _cli("records", "--store", batch_store, "export", "--batch", "Ä-42", "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    (row,) = csv.DictReader(io.StringIO(csv_out.stdout.decode("utf-8-sig")))
    assert row["batch"] == "Ä-42" and row["diagnoses"] == "over-alkylation | incomplete-alkylation"
    document = json.loads(
        _cli("records", "--store", batch_store, "export", "--batch", "Ä-42", "--format", "json").stdout.decode("utf-8")
    )
    assert document["batch"] == "Ä-42" and document["records"][0]["batch"] == "Ä-42"
    xlsx = tmp_path / "b.xlsx"
    assert (
        _cli(
            "records", "--store", batch_store, "export", "--batch", "Ä-42", "--format", "xlsx", "--output", xlsx
        ).returncode
        == 0
    )
    assert load_workbook(xlsx)["Summary"]["B2"].value == "Ä-42"


def test_json_export_follows_its_schema_and_round_trips(batch_store):
    import jsonschema

    from specqc.records.export import batch_records, export_schema

    result = _cli("records", "--store", batch_store, "export", "--batch", INJECTION, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, export_schema())
    with open_store(batch_store) as store:
        assert document["records"] == batch_records(store, INJECTION)
    broken = json.loads(result.stdout)
    broken["records"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, export_schema())


def test_xlsx_export_has_summary_and_stage_sheets_and_no_formulas(batch_store, tmp_path):
    from openpyxl import load_workbook

    from specqc.records.export import STAGE_COLUMNS, batch_records

    out = tmp_path / "b.xlsx"
    result = _cli(
        "records", "--store", batch_store, "export", "--batch", INJECTION, "--format", "xlsx", "--output", out
    )
    assert result.returncode == 0, result.stderr
    book = load_workbook(out)
    assert book.sheetnames == ["Summary", "alkylation", "deprotection", "cyclization"]
    summary = book["Summary"]
    assert tuple(c.value for c in summary[1]) == STAGE_COLUMNS
    with open_store(batch_store) as store:
        records = batch_records(store, INJECTION)
    for row, record in zip(summary.iter_rows(min_row=2, values_only=True), records):
        values = dict(zip(STAGE_COLUMNS, row))
        assert values["record_id"] == record["record_id"] and values["batch"] == INJECTION
        assert values["purity_pct"] == record["purity_pct"]
    assert summary["B2"].data_type == "s"  # stored as text, not a formula
    assert book["cyclization"].max_row - 1 == len(records[2]["species"])
    second = tmp_path / "b2.xlsx"
    _cli("records", "--store", batch_store, "export", "--batch", INJECTION, "--format", "xlsx", "--output", second)
    assert second.read_bytes() == out.read_bytes()  # deterministic


def test_records_commands_end_to_end(tmp_path):
    store = tmp_path / "s.sqlite"
    html = tmp_path / "salt.html"
    result = _cli(
        "analyze",
        "samples/lcms/dz-salt-clean.mzML",
        "samples/nmr/dz-salt-nmr-clean",
        "--route",
        "diazepan-2-one",
        "--batch",
        "B-7",
        "--format",
        "html",
        "--output",
        html,
        "--record",
        "--store",
        store,
    )
    assert result.returncode == 0, result.stderr
    assert b"recorded" in result.stderr
    listing = _cli("records", "--store", store, "list", "--batch", "B-7").stdout.decode()
    assert "salt" in listing and "pass" in listing
    record_id = listing.split()[0]
    shown = _cli("records", "--store", store, "show", record_id[:10]).stdout.decode()
    assert "verdict pass" in shown and "identity: pass" in shown and str(html.resolve()) in shown
    view = _cli("records", "--store", store, "batch", "B-7").stdout.decode()
    assert "salt" in view and "diagnoses: none" in view
    assert _cli("records", "--store", store, "list", "--since", "2999-01-01").stdout == b""
    assert _cli("records", "--store", store, "verify").returncode == 0
    html.write_text("tampered", encoding="utf-8")
    verify = _cli("records", "--store", store, "verify")
    assert verify.returncode == 4 and b"MISMATCH" in verify.stdout
    missing = _cli("records", "--store", tmp_path / "nope.sqlite", "list")
    assert missing.returncode == 2 and b"does not exist" in missing.stderr
    unknown = _cli("records", "--store", store, "export", "--batch", "nope")
    assert unknown.returncode == 2 and b"no records for batch" in unknown.stderr
