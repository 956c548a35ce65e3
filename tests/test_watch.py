"""The watch-folder service on a real filesystem: what was analysed, how often, what was reported."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES

SETTLE = 0.4


def options(tmp_path, **extra):
    from specqc.watch.service import WatchOptions

    config = tmp_path / "watch.toml"
    config.write_text('[sample]\nroute = "diazepan-2-one"\n', encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return WatchOptions(
        inboxes=[inbox],
        out=tmp_path / "out",
        store_path=tmp_path / "store.sqlite",
        config_path=config,
        settle_s=SETTLE,
        stale_s=2.0,
        rescan_s=0.5,
        workers=2,
        **extra,
    )


def ledger(opts) -> list[tuple[str, str]]:
    from specqc.records.store import Store

    with Store(opts.store_path) as store:
        return [
            (Path(r["dataset"]).name, r["state"]) for r in store.connection.execute("SELECT * FROM ledger ORDER BY seq")
        ]


def record_count(opts) -> int:
    from specqc.records.store import Store

    with Store(opts.store_path) as store:
        return store.connection.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]


def run_once(opts):
    from specqc.watch.service import Watcher

    watcher = Watcher(opts)
    try:
        return watcher.run_once()
    finally:
        watcher.close()


def settle():
    time.sleep(SETTLE + 0.1)


def test_each_dataset_is_analysed_once_and_reported(tmp_path):
    opts = options(tmp_path)
    for name in ("dz-alkylation-clean", "dz-deprotection-boc-left", "dz-cyclization-oligomers"):
        shutil.copy(SAMPLES / "lcms" / f"{name}.mzML", opts.inboxes[0])
    settle()
    first = run_once(opts)
    assert len(first.analysed) == 3 and not first.failed
    second = run_once(opts)
    assert second.analysed == [] and second.skipped == 3
    assert record_count(opts) == 3
    reports = sorted(p.name for p in (opts.out / "no-batch").glob("*.json") if not p.name.startswith("index"))
    assert len(reports) == 3 and all((opts.out / "no-batch" / r).with_suffix(".html").is_file() for r in reports)
    index = json.loads((opts.out / "no-batch" / "index.json").read_text())
    assert {e["stage"]: e["verdict"] for e in index} == {
        "alkylation": "pass",
        "deprotection": "fail",
        "cyclization": "fail",
    }
    log = [json.loads(line) for line in (opts.out / "specqc-watch.log").read_text().splitlines()]
    assert [e["event"] for e in log].count("done") == 3


def test_slow_writer_is_not_read_until_finished(tmp_path):
    from specqc.watch.service import Watcher

    opts = options(tmp_path)
    data = (SAMPLES / "lcms" / "dz-cyclization-clean.mzML").read_bytes()
    target = opts.inboxes[0] / "dz-cyclization-slow.mzML"
    watcher = Watcher(opts)
    stop = threading.Event()
    service = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    service.start()
    try:
        with target.open("wb") as handle:  # about 3 s of writing, in pieces
            for start in range(0, len(data), len(data) // 12 + 1):
                handle.write(data[start : start + len(data) // 12 + 1])
                handle.flush()
                time.sleep(0.25)
        deadline = time.time() + 30
        while time.time() < deadline and ("dz-cyclization-slow.mzML", "done") not in ledger(opts):
            time.sleep(0.2)
    finally:
        stop.set()
        watcher.wake.set()
        service.join(30)
        watcher.close()
    assert ledger(opts) == [("dz-cyclization-slow.mzML", "started"), ("dz-cyclization-slow.mzML", "done")]
    assert not (opts.out / "errors").exists()


def test_bruker_fid_before_acqus_waits_for_acqus(tmp_path):
    opts = options(tmp_path)
    source = SAMPLES / "nmr" / "dz-salt-nmr-wet" / "1"
    experiment = opts.inboxes[0] / "dz-salt-nmr-wet" / "1"
    experiment.mkdir(parents=True)
    shutil.copy(source / "fid", experiment / "fid")
    settle()
    early = run_once(opts)
    assert early.analysed == [] and any("acqus not written yet" in w for w in early.waiting)
    for name in ("acqus", "pulseprogram"):
        shutil.copy(source / name, experiment / name)
    settle()
    late = run_once(opts)
    assert [Path(p).name for p in late.analysed] == ["1"]
    (report,) = [p for p in (opts.out / "no-batch").glob("*.json") if not p.name.startswith("index")]
    document = json.loads(report.read_text())
    assert document["route"]["stage"] == "salt" and [d["id"] for d in document["diagnoses"]] == ["water-uptake"]


def test_a_file_renamed_into_the_inbox_is_analysed_once(tmp_path):
    opts = options(tmp_path)
    staging = tmp_path / "staging.mzML"
    shutil.copy(SAMPLES / "lcms" / "dz-deprotection-clean.mzML", staging)
    os.utime(staging, (time.time() - 60, time.time() - 60))
    os.rename(staging, opts.inboxes[0] / "dz-deprotection-0001.mzML")
    result = run_once(opts)
    assert len(result.analysed) == 1
    assert run_once(opts).analysed == []


def test_same_content_again_is_not_reanalysed_but_new_content_is_a_revision(tmp_path):
    opts = options(tmp_path)
    target = opts.inboxes[0] / "dz-alkylation-run.mzML"
    shutil.copy(SAMPLES / "lcms" / "dz-alkylation-clean.mzML", target)
    settle()
    assert len(run_once(opts).analysed) == 1
    shutil.copy(SAMPLES / "lcms" / "dz-alkylation-clean.mzML", target)  # re-copied: same bytes, new mtime
    settle()
    assert run_once(opts).analysed == []
    shutil.copy(SAMPLES / "lcms" / "dz-alkylation-incomplete.mzML", target)  # re-acquired
    settle()
    assert len(run_once(opts).analysed) == 1
    from specqc.records.store import Store

    with Store(opts.store_path) as store:
        rows = store.analyses()
        assert [r["revision"] for r in rows] == [1, 2] and rows[1]["supersedes"] == rows[0]["id"]
        assert [r["verdict"] for r in rows] == ["pass", "fail"]


def test_corrupt_and_unassignable_files_get_error_reports_and_the_rest_carries_on(tmp_path):
    opts = options(tmp_path)
    inbox = opts.inboxes[0]
    (inbox / "dz-alkylation-broken.mzML").write_text("<mzML>truncated garbage", encoding="utf-8")
    shutil.copy(SAMPLES / "lcms" / "dz-alkylation-clean.mzML", inbox / "dz-alkylation-good.mzML")
    shutil.copy(SAMPLES / "lcms" / "dz-salt-clean.mzML", inbox / "mystery-run.mzML")  # no stage in its name
    old = time.time() - 60  # the broken file has not changed for longer than the stale time
    os.utime(inbox / "dz-alkylation-broken.mzML", (old, old))
    settle()
    result = run_once(opts)
    assert [Path(p).name for p in result.analysed] == ["dz-alkylation-good.mzML"]
    assert [Path(p).name for p in result.failed] == ["dz-alkylation-broken.mzML"]
    assert [Path(p).name for p in result.unassigned] == ["mystery-run.mzML"]
    (error,) = (opts.out / "errors").glob("*.error.json")
    assert "dz-alkylation-broken.mzML" in json.loads(error.read_text())["error"]
    (unassigned,) = (opts.out / "unassigned").glob("*.error.json")
    assert "no stage" in json.loads(unassigned.read_text())["error"]
    again = run_once(opts)  # a permanent parse failure is not retried until the file changes
    assert again.failed == [] and again.analysed == []
    status = subprocess.run(
        [sys.executable, "-m", "specqc.cli", "status", "--store", opts.store_path],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert "done 1" in status.stdout and "failed 1" in status.stdout and "unassigned 1" in status.stdout


def test_kill_minus_9_mid_batch_then_restart_loses_and_repeats_nothing(tmp_path):
    opts = options(tmp_path)
    names = [
        "dz-alkylation-clean",
        "dz-alkylation-incomplete",
        "dz-deprotection-clean",
        "dz-deprotection-boc-left",
        "dz-cyclization-clean",
        "dz-cyclization-piperazine",
    ]
    for name in names:
        shutil.copy(SAMPLES / "lcms" / f"{name}.mzML", opts.inboxes[0])
    settle()
    command = [
        sys.executable,
        "-m",
        "specqc.cli",
        "watch",
        opts.inboxes[0],
        "--out",
        opts.out,
        "--store",
        opts.store_path,
        "--config",
        opts.config_path,
        "--once",
        "--workers",
        "1",
        "--settle",
        str(SETTLE),
    ]
    process = subprocess.Popen(
        list(map(str, command)), cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    line = process.stderr.readline()
    assert line.startswith("done"), line
    os.killpg(process.pid, signal.SIGKILL)  # the service and its worker, mid-batch
    process.wait(30)
    finished_before = sum(1 for _, state in ledger(opts) if state == "done")
    assert 1 <= finished_before < len(names)
    restart = subprocess.run(list(map(str, command)), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert restart.returncode == 0, restart.stderr
    states = ledger(opts)
    for name in names:
        assert [s for n, s in states if n == f"{name}.mzML"].count("done") == 1, (name, states)
    assert record_count(opts) == len(names)
    from specqc.records.store import Store

    with Store(opts.store_path) as store:
        assert store.verify() == []


def test_watch_command_usage_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "specqc.cli", "watch", tmp_path / "missing", "--out", tmp_path / "out", "--once"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    config = tmp_path / "c.toml"
    config.write_text("[watch]\nsettle = 3\n", encoding="utf-8")
    (tmp_path / "in").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "specqc.cli",
            "watch",
            tmp_path / "in",
            "--out",
            tmp_path / "out",
            "--config",
            config,
            "--once",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "settle" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("unit", ["cli/specqc-watch.service", "cli/specqc-watch.ps1", "cli/watch.example.toml"])
def test_service_wrappers_are_shipped(unit):
    text = (ROOT / unit).read_text(encoding="utf-8")
    assert "specqc" in text
    if unit.endswith(".toml"):
        import tomllib

        from specqc.config import SECTIONS

        assert set(tomllib.loads(text)) <= set(SECTIONS)


def _aged(path: Path, age_s: float) -> Path:
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_each_sample_gets_the_latest_earlier_blank_of_its_inbox_and_blanks_are_not_samples(tmp_path):
    from specqc.records import export
    from specqc.records.store import Store

    opts = options(tmp_path)
    opts.config_path.write_text(
        '[sample]\nroute = "diazepan-2-one"\n[blank]\npattern = "(?i)^blank"\n', encoding="utf-8"
    )
    inbox = opts.inboxes[0]
    runs = {  # name: (source, acquired so many seconds ago)
        "dz-alkylation-first": ("dz-alkylation-clean", 400),  # before any blank: analysed without one
        "blank-early": ("cb-final-clean", 300),
        "dz-alkylation-middle": ("dz-alkylation-incomplete", 200),
        "blank-late": ("cb-acylation-clean", 150),
        "dz-deprotection-last": ("dz-deprotection-clean", 100),
    }
    for name, (source, age) in runs.items():
        _aged(shutil.copy(SAMPLES / "lcms" / f"{source}.mzML", inbox / f"{name}.mzML"), age)
    result = run_once(opts)
    assert sorted(Path(p).name for p in result.blanks) == ["blank-early.mzML", "blank-late.mzML"]
    assert sorted(Path(p).name for p in result.analysed) == [
        "dz-alkylation-first.mzML",
        "dz-alkylation-middle.mzML",
        "dz-deprotection-last.mzML",
    ]
    states = ledger(opts)
    assert [s for n, s in states if n.startswith("blank")] == ["blank", "blank"]  # noted, never started
    expected = {
        "dz-alkylation-first": None,
        "dz-alkylation-middle": "blank-early.mzML",
        "dz-deprotection-last": "blank-late.mzML",
    }
    with Store(opts.store_path) as store:
        rows = {r["sample"]: r for r in store.analyses()}
        assert sorted(rows) == sorted(expected)
        for sample, blank in expected.items():
            inputs = store.rows("inputs", rows[sample]["id"])
            assert [(Path(i["path"]).name, i["role"]) for i in inputs] == [(f"{sample}.mzML", "sample")] + (
                [(blank, "blank")] if blank else []
            )
        records = export.batch_records(store, None)
        (row,) = [export.stage_row(r) for r in records if r["sample"] == "dz-alkylation-middle"]
        assert Path(row["blank_path"]).name == "blank-early.mzML" and len(row["blank_sha256"]) == 64
        assert Path(row["input_paths"]).name == "dz-alkylation-middle.mzML"
        document = json.loads(export.to_json(records, "no-batch"))  # validated against the export schema
        assert sorted(
            Path(i["path"]).name for r in document["records"] for i in r["inputs"] if i.get("role") == "blank"
        ) == ["blank-early.mzML", "blank-late.mzML"]
        assert ",via,blank_path,blank_sha256," in export.to_csv(records).lstrip("\ufeff").split("\r\n")[0]
        assert store.verify() == []
    for sample, blank in expected.items():
        (report,) = (opts.out / "no-batch").glob(f"{sample}.*.json")
        document = json.loads(report.read_text(encoding="utf-8"))
        named = [Path(i["path"]).name for i in document["inputs"] if i.get("role") == "blank"]
        assert named == ([blank] if blank else []), document["inputs"]
    log = [json.loads(line) for line in (opts.out / "specqc-watch.log").read_text().splitlines()]
    started = {Path(e["dataset"]).stem: e["blank"] and Path(e["blank"]).name for e in log if e["event"] == "started"}
    assert started == expected
    again = run_once(opts)
    assert again.analysed == [] and again.blanks == [] and again.skipped == 5


def test_blank_choice_by_recorded_start_time_waits_for_an_unfinished_blank_and_survives_a_broken_one(tmp_path):
    from specqc.watch.datasets import Dataset, recorded_start
    from specqc.watch.service import Watcher

    opts = options(tmp_path, blank_pattern="(?i)blank")
    inbox = opts.inboxes[0]

    def run(name: str, started: str | None, age_s: float) -> Dataset:
        stamp = f' startTimeStamp="{started}"' if started else ""
        path = inbox / f"{name}.mzML"
        path.write_text(f'<?xml version="1.0"?>\n<mzML><run id="r"{stamp}>\n</run></mzML>\n', encoding="utf-8")
        return Dataset(_aged(path, age_s), "mzml")

    # the files' times say the opposite of the instrument's: the instrument's times count when all have them
    sample = run("dz-alkylation-x", "2026-11-02T10:00:00Z", 500)
    blank_before = run("blank-a", "2026-11-02T09:00:00Z", 10)
    blank_after = run("blank-b", "2026-11-02T11:00:00+01:00", 1000)  # 10:00 UTC: not before the sample
    assert recorded_start(sample) == datetime_utc(2026, 11, 2, 10)
    watcher = Watcher(opts)
    try:
        for dataset in (sample, blank_before, blank_after):
            watcher.ready(dataset, time.time())
        blanks = [blank_before, blank_after]
        assert watcher.choose_blank(sample, blanks, {b.key: True for b in blanks}) == (blank_before, "")
        assert watcher.choose_blank(sample, blanks, {}) == (None, f"waiting for blank {blank_before.path}")
        undated = run("blank-c", None, 700)  # one without a start time: modification times for all
        watcher.ready(undated, time.time())
        blanks.append(undated)
        assert watcher.choose_blank(sample, blanks, {b.key: True for b in blanks}) == (undated, "")
        nmr = Dataset(inbox / "dz-salt-nmr" / "1", "bruker")
        assert watcher.choose_blank(nmr, blanks, {b.key: True for b in blanks}) == (None, "")  # LC-MS only
    finally:
        watcher.close()
    for path in inbox.iterdir():
        path.unlink()
    # a blank that cannot be read: the sample is analysed on its own, and the log says why
    (inbox / "blank-broken.mzML").write_text("<mzML>not a run</mzML>\n", encoding="utf-8")
    _aged(inbox / "blank-broken.mzML", 300)
    _aged(shutil.copy(SAMPLES / "lcms" / "dz-alkylation-clean.mzML", inbox / "dz-alkylation-y.mzML"), 100)
    result = run_once(opts)
    assert [Path(p).name for p in result.analysed] == ["dz-alkylation-y.mzML"]
    log = [json.loads(line) for line in (opts.out / "specqc-watch.log").read_text().splitlines()]
    (done,) = [e for e in log if e["event"] == "done"]
    assert Path(done["dataset"]).name == "dz-alkylation-y.mzML" and "blank-broken.mzML" in done["blank_error"]
    (report,) = (opts.out / "no-batch").glob("dz-alkylation-y.*.json")
    assert [i.get("role", "sample") for i in json.loads(report.read_text())["inputs"]] == ["sample"]


def datetime_utc(*parts) -> float:
    from datetime import datetime, timezone

    return datetime(*parts, tzinfo=timezone.utc).timestamp()


def test_recorded_start_times_of_vendor_folders(tmp_path):
    from datetime import datetime

    from specqc.watch.datasets import CHEMSTATION_DATE_OFFSET, Dataset, recorded_start

    waters = tmp_path / "run.raw"
    waters.mkdir()
    (waters / "_header.txt").write_text(
        "$$ Version: 01.00\r\n$$ Acquired Date: 10-May-2022\r\n$$ Acquired Time: 15:39:24\r\n", encoding="latin-1"
    )
    assert recorded_start(Dataset(waters, "waters")) == datetime(2022, 5, 10, 15, 39, 24).timestamp()  # local time
    chemstation = tmp_path / "msd.D"
    chemstation.mkdir()
    stamp = b"14 Nov 19   3:08 pm -0500"
    header = bytearray(512)
    header[CHEMSTATION_DATE_OFFSET] = len(stamp)
    header[CHEMSTATION_DATE_OFFSET + 1 : CHEMSTATION_DATE_OFFSET + 1 + len(stamp)] = stamp
    (chemstation / "MSD1.MS").write_bytes(bytes(header))
    assert recorded_start(Dataset(chemstation, "agilent")) == datetime_utc(2019, 11, 14, 20, 8)
    masshunter = tmp_path / "qtof.D"
    (masshunter / "AcqData").mkdir(parents=True)
    (masshunter / "AcqData" / "Contents.xml").write_text(
        "<Contents><AcquiredTime>2021-03-04T05:06:07Z</AcquiredTime></Contents>", encoding="utf-8"
    )
    assert recorded_start(Dataset(masshunter, "agilent")) == datetime_utc(2021, 3, 4, 5, 6, 7)
    (waters / "_header.txt").write_text("$$ Acquired Date: 31-Foo-2022\r\n$$ Acquired Time: 25:00\r\n")
    (chemstation / "MSD1.MS").write_bytes(b"\0" * 10)  # too short to hold the date
    bare = tmp_path / "bare.D"
    bare.mkdir()
    for dataset in (
        Dataset(waters, "waters"),
        Dataset(chemstation, "agilent"),
        Dataset(bare, "agilent"),
        Dataset(tmp_path / "gone.mzML", "mzml"),
        Dataset(tmp_path / "x.mzXML", "mzxml"),
    ):
        assert recorded_start(dataset) is None  # unknown: modification times decide


def test_recorded_start_times_of_real_runs(realdata):
    from specqc.watch.datasets import Dataset, recorded_start

    lcms = realdata / "lcms-vendor"
    assert recorded_start(Dataset(lcms / "agilent-msd-elsd-blank" / "orange.D", "agilent")) == datetime_utc(
        2019, 11, 14, 20, 8
    )
    assert recorded_start(
        Dataset(realdata / "lcms-mzml" / "thermo-qexactive-ms1" / "example.mzML", "mzml")
    ) == datetime_utc(2013, 9, 10, 10, 31, 8)
    assert recorded_start(Dataset(lcms / "waters-sqd2-noscapine" / "blue.raw", "waters")) is not None


def test_a_read_past_its_bound_is_recorded_failed_with_the_bound_and_the_service_goes_on(tmp_path, monkeypatch):
    """A file that keeps a reader busy past its time bound costs a failure record, not the service."""
    opts = options(tmp_path)
    inbox = opts.inboxes[0]
    for name in ("dz-alkylation-clean", "dz-salt-clean"):
        shutil.copy(SAMPLES / "lcms" / f"{name}.mzML", inbox / f"{name}.mzML")
    settle()
    monkeypatch.setenv("SPECQC_READ_TIMEOUT_S", "0.001")  # inherited by the analysis workers
    result = run_once(opts)
    assert sorted(Path(p).name for p in result.failed) == ["dz-alkylation-clean.mzML", "dz-salt-clean.mzML"]
    reports = sorted((opts.out / "errors").glob("*.error.json"))
    assert len(reports) == 2
    assert all("time bound" in json.loads(r.read_text())["error"] for r in reports)
    assert ("dz-salt-clean.mzML", "failed") in ledger(opts)
    monkeypatch.delenv("SPECQC_READ_TIMEOUT_S")
    shutil.copy(SAMPLES / "lcms" / "dz-cyclization-clean.mzML", inbox / "dz-cyclization-clean.mzML")
    settle()
    later = run_once(opts)  # the next acquisition is analysed as usual
    assert [Path(p).name for p in later.analysed] == ["dz-cyclization-clean.mzML"]
