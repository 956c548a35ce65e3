"""`specqc reprocess` on real Dask clusters: a LocalCluster, and a separately
started `dask scheduler` + `dask worker` pair; resumable, failure-tolerant,
exactly once when a worker is killed mid-task, and a summary of what changed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES
from servers import fresh_database, in_ci, missing

ARCHIVE = (
    "dz-alkylation-clean",
    "dz-alkylation-overalkylation",
    "dz-deprotection-boc-left",
    "dz-deprotection-clean",
    "dz-cyclization-oligomers",
)
CONFIG = '[sample]\nroute = "diazepan-2-one"\n'
# thresholds under which two archived runs read differently: one verdict changes, one check only
LOOSER = CONFIG + "[thresholds]\nprotected_precursor_max_area_pct = 60.0\ndialkylated_max_area_pct = 30.0\n"


@pytest.fixture(scope="module", autouse=True)
def dask_available():
    try:
        import distributed  # noqa: F401
    except ImportError:
        missing("dask distributed is not installed (pip install -e '.[test]')")


@pytest.fixture
def archive(tmp_path):
    folder = tmp_path / "archive" / "2026-11"
    folder.mkdir(parents=True)
    for name in ARCHIVE:
        shutil.copy(SAMPLES / "lcms" / f"{name}.mzML", folder)
    (folder / "dz-alkylation-truncated.mzML").write_text('<?xml version="1.0"?><mzML><run>', encoding="utf-8")
    (tmp_path / "qc.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "looser.toml").write_text(LOOSER, encoding="utf-8")
    return tmp_path


def reprocess(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "specqc.cli", "reprocess", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "150"},
    )


def stored(location):
    from specqc.records.store import Store

    with Store(location) as store:
        rows = store.analyses()
        return [(r["sample"], r["revision"], r["verdict"]) for r in rows], store.verify()


def test_local_cluster_reprocesses_once_then_skips_and_reports_changes(archive):
    store = archive / "records.sqlite"
    first = reprocess(
        archive / "archive", "--config", archive / "qc.toml", "--store", store, "--workers", "2", cwd=archive
    )
    assert first.returncode == 0, first.stderr
    assert "6 run(s): 5 analysed, 0 already analysed" in first.stdout and "1 failed" in first.stdout
    assert "dz-alkylation-truncated.mzML" in first.stdout and "5 analysed for the first time" in first.stdout
    assert "runs/s" in first.stderr and "ETA" in first.stderr  # the progress bar's rate and time left
    rows, problems = stored(store)
    assert problems == [] and sorted(sample for sample, _, _ in rows) == sorted(ARCHIVE)
    assert {sample: verdict for sample, _, verdict in rows}["dz-deprotection-boc-left"] == "fail"

    second = reprocess(
        archive / "archive", "--config", archive / "qc.toml", "--store", store, "--workers", "2", cwd=archive
    )
    assert second.returncode == 0, second.stderr
    assert "0 analysed, 5 already analysed" in second.stdout
    assert stored(store)[0] == rows  # nothing written

    third = reprocess(
        archive / "archive", "--config", archive / "looser.toml", "--store", store, "--workers", "1", cwd=archive
    )
    assert third.returncode == 0, third.stderr
    out = third.stdout
    assert "5 analysed" in out and "verdict changed:" in out and "other changes (same verdict):" in out
    assert out.index("verdict changed:") < out.index("other changes")  # verdict changes come first
    verdict_block = out[out.index("verdict changed:") : out.index("other changes")]
    assert "dz-deprotection-boc-left.mzML: fail -> pass" in verdict_block
    assert "check no-protected-precursor fail -> pass" in verdict_block
    assert "diagnosis incomplete-deprotection gone" in verdict_block
    other_block = out[out.index("other changes") :]
    assert "dz-alkylation-overalkylation.mzML (fail)" in other_block and "diagnosis over-alkylation gone" in other_block
    rows, problems = stored(store)
    assert problems == [] and len(rows) == 10 and max(revision for _, revision, _ in rows) == 2


def test_serial_and_distributed_give_the_same_analyses(archive):
    from distributed import Client, LocalCluster

    from specqc.records.store import Store
    from specqc.reprocess import find_runs, jobs_for, run

    runs = find_runs([archive / "archive"])
    assert len(runs) == len(ARCHIVE) + 1
    serial = run(jobs_for(runs, str(archive / "serial.sqlite"), archive / "qc.toml"))
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        spread = run(jobs_for(runs, str(archive / "spread.sqlite"), archive / "qc.toml"), client)
    assert [(o.path, o.state, o.verdict) for o in serial.outcomes] == [
        (o.path, o.state, o.verdict) for o in spread.outcomes
    ]
    with Store(archive / "serial.sqlite") as one, Store(archive / "spread.sqlite") as other:
        assert sorted(r["id"] for r in one.analyses()) == sorted(r["id"] for r in other.analyses())


def test_a_worker_killed_mid_task_is_retried_and_stored_once(archive):
    from distributed import Client, LocalCluster

    from specqc.records.store import Store
    from specqc.reprocess import find_runs, jobs_for, run

    for copy in range(3):  # more runs than workers, so tasks are in flight when the worker dies
        folder = archive / "archive" / f"copy-{copy}"
        folder.mkdir()
        for name in ARCHIVE:
            # another acquisition: other bytes (a comment), other batch (sidecar)
            text = (SAMPLES / "lcms" / f"{name}.mzML").read_text(encoding="utf-8")
            (folder / f"{name}.mzML").write_text(text.replace("?>", f"?><!-- copy {copy} -->", 1), encoding="utf-8")
            (folder / f"{name}.json").write_text(f'{{"batch": "C{copy}"}}', encoding="utf-8")
    runs = [r for r in find_runs([archive / "archive"]) if "truncated" not in r.name]
    killed = {}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)

        def kill_one_busy_worker(outcome):
            if killed:
                return
            busy = [address for address, keys in client.processing().items() if keys and address in pids]
            if busy:
                killed[busy[0]] = pids[busy[0]]
                os.kill(pids[busy[0]], signal.SIGKILL)

        summary = run(
            jobs_for(runs, str(archive / "s.sqlite"), archive / "qc.toml"), client, progress=kill_one_busy_worker
        )
    assert killed, "no worker was busy to be killed"
    assert [o.state for o in summary.outcomes] == ["analysed"] * len(runs)
    with Store(archive / "s.sqlite") as store:
        assert store.count_analyses() == len(runs) and store.verify() == []
        assert sorted(o.analysis_id for o in summary.outcomes) == sorted(r["id"] for r in store.analyses())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(*args, log):
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dask"), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_a_separately_started_scheduler_and_worker_with_a_postgresql_store(archive):
    """`dask scheduler` and `dask worker` started on their own, the store on the server when there is one."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    with open(archive / "scheduler.log", "w") as scheduler_log, open(archive / "worker.log", "w") as worker_log:
        scheduler = _start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", log=scheduler_log)
        worker = None
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with Client(address, timeout="2s") as probe:
                        break
                except (OSError, TimeoutError):
                    if time.monotonic() > deadline or scheduler.poll() is not None:
                        pytest.fail("dask scheduler did not start: " + (archive / "scheduler.log").read_text())
                    time.sleep(0.5)
            worker = _start("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", log=worker_log)
            with Client(address, timeout="10s") as probe:
                probe.wait_for_workers(1, timeout=60)
            if os.environ.get("SPECQC_TEST_POSTGRES_URL") or in_ci():
                with fresh_database() as url:
                    _reprocess_on(address, archive, url)
            else:
                _reprocess_on(address, archive, archive / "records.sqlite")
        finally:
            if worker is not None:
                _stop(worker)
            _stop(scheduler)


def _reprocess_on(address, archive, location):
    result = reprocess(
        archive / "archive", "--config", archive / "qc.toml", "--store", location, "--scheduler", address, cwd=archive
    )
    assert result.returncode == 0, result.stderr
    assert "5 analysed" in result.stdout and "1 failed" in result.stdout
    rows, problems = stored(location)
    assert problems == [] and len(rows) == len(ARCHIVE)
    again = reprocess(
        archive / "archive", "--config", archive / "qc.toml", "--store", location, "--scheduler", address, cwd=archive
    )
    assert again.returncode == 0 and "0 analysed, 5 already analysed" in again.stdout


def test_reprocess_usage_errors_are_one_line(archive):
    both = reprocess(archive / "archive", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2", cwd=archive)
    assert both.returncode == 2 and "not both" in both.stderr and both.stderr.count("\n") == 1
    nowhere = reprocess(
        archive / "archive",
        "--config",
        archive / "qc.toml",
        "--store",
        archive / "s.sqlite",
        "--scheduler",
        f"tcp://127.0.0.1:{_free_port()}",
        cwd=archive,
    )
    assert nowhere.returncode == 2 and "no Dask scheduler answers" in nowhere.stderr
    bad_url = reprocess(archive / "archive", "--store", "mongodb://h/db", cwd=archive)
    assert bad_url.returncode == 2 and "unsupported results store scheme" in bad_url.stderr
    empty = archive / "empty"
    empty.mkdir()
    none = reprocess(empty, "--store", archive / "s.sqlite", cwd=archive)
    assert none.returncode == 2 and "no instrument runs" in none.stderr
