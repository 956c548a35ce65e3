"""The watch service under faults, as it runs on an instrument PC: `specqc watch`
in its own process group, killed, starved of disk, locked out of its store,
with files pulled from under it. After each: every acquisition is in the store
exactly once, nothing is half-written, and SIGTERM stops it cleanly with a stop
line in its log.

Faults that must land at one precise point (inside an analysis, inside the
store's write transaction) are placed there by a sitecustomize module on the
service's PYTHONPATH: it pauses the matching step until the test lets it go
(or kills it there). Nothing in specqc knows about it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES

LONG = 120  # generous: the machine may be loaded

FAULT_HOOK = """
import os
spec = os.environ.get("SPECQC_TEST_FAULT")
if spec:
    import json, pathlib, time
    mark = pathlib.Path(os.environ["SPECQC_TEST_FAULT_MARK"])
    points = [item.split(":", 1) for item in spec.split(",")]

    def pause(point, text):
        for where, match in points:
            if where == point and match in text:
                paused = mark / f"{point}-{match}.paused"
                if paused.exists():
                    return  # each fault once
                paused.write_text(str(os.getpid()))
                go, deadline = mark / f"{point}-{match}.go", time.time() + 300
                while not go.exists() and time.time() < deadline:
                    time.sleep(0.05)

    import specqc.pipeline as pipeline
    from specqc.records import store

    analyze = pipeline.analyze

    def paused_analyze(paths, *args, **kwargs):
        pause("analyze", " ".join(map(str, paths)))
        return analyze(paths, *args, **kwargs)

    pipeline.analyze = paused_analyze
    audit = store.Store._audit

    def paused_audit(self, action, analysis_id, detail, actor):
        if action == "record":  # inside the transaction, its rows written, not committed
            pause("record", json.dumps(detail))
        return audit(self, action, analysis_id, detail, actor)

    store.Store._audit = paused_audit
"""


class Site:
    """One inbox, report folder, store and config, and the services run on them."""

    def __init__(self, root: Path):
        self.root = root
        self.inbox, self.out, self.store = root / "inbox", root / "out", root / "store.sqlite"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.config = root / "watch.toml"
        self.config.write_text(
            '[sample]\nroute = "diazepan-2-one"\n[watch]\nsettle_s = 0.4\nrescan_s = 0.5\n'
            "backoff_s = 0.5\nworkers = 1\n[store]\nbusy_timeout_s = 1\n",
            encoding="utf-8",
        )
        (root / "hook").mkdir(exist_ok=True)
        (root / "hook" / "sitecustomize.py").write_text(FAULT_HOOK, encoding="utf-8")
        self.round = 0

    def add(self, name: str, source: str | None = None, age_s: float = 60) -> Path:
        target = self.inbox / f"{name}.mzML"
        shutil.copy(SAMPLES / "lcms" / f"{source or name}.mzML", target)
        old = time.time() - age_s  # settled already: no waiting for the settle time
        os.utime(target, (old, old))
        return target

    def command(self, *extra, inbox=None, out=None) -> list[str]:
        return [
            sys.executable,
            "-m",
            "specqc.cli",
            "watch",
            str(inbox or self.inbox),
            "--out",
            str(out or self.out),
            "--store",
            str(self.store),
            "--config",
            str(self.config),
            *extra,
        ]

    def start(self, fault: str | None = None, inbox=None, out=None) -> Service:
        self.round += 1
        mark = self.root / f"mark-{self.round}"
        mark.mkdir()
        env = {**os.environ, "PYTHONPATH": str(self.root / "hook")}
        env.pop("SPECQC_STORE_KEY_FILE", None)
        if fault:
            env.update(SPECQC_TEST_FAULT=fault, SPECQC_TEST_FAULT_MARK=str(mark))
        stderr = (self.root / f"stderr-{self.round}.txt").open("w")
        process = subprocess.Popen(
            self.command(inbox=inbox, out=out),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        return Service(process, mark, Path(stderr.name), out or self.out)

    def ledger(self) -> list[tuple[str, str]]:
        raw = sqlite3.connect(self.store, timeout=30)
        try:
            return [(Path(d).name, s) for d, s in raw.execute("SELECT dataset, state FROM ledger ORDER BY seq")]
        finally:
            raw.close()

    def states(self, name: str) -> list[str]:
        return [state for dataset, state in self.ledger() if dataset == f"{name}.mzML"]

    def wait_for(self, condition, what: str, timeout: float = LONG):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.store.exists():
                try:
                    if condition():
                        return
                except sqlite3.OperationalError:  # the store is being created or is locked
                    pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; ledger: {self.ledger() if self.store.exists() else []}")

    def wait_done(self, *names: str, timeout: float = LONG):
        self.wait_for(lambda: all("done" in self.states(n) for n in names), f"{names} done", timeout)

    def samples_recorded(self) -> list[str]:
        from specqc.records.store import Store

        with Store(self.store) as store:
            return sorted(r["sample"] for r in store.analyses())

    def check_whole(self, names: list[str]) -> None:
        """Each acquisition in the store exactly once, done once in the ledger, the
        chain intact, and nothing half-written in the report folder."""
        from specqc.records.store import Store

        assert self.samples_recorded() == sorted(names)
        for name in names:
            assert self.states(name).count("done") == 1, (name, self.ledger())
        with Store(self.store) as store:
            assert store.verify() == []
        check_folder(self.out)


def check_folder(out: Path) -> None:
    assert not list(out.rglob("*.specqc-tmp")), "temporary files left behind"
    for report in out.rglob("*.json"):
        document = json.loads(report.read_text(encoding="utf-8"))  # whole, or not there at all
        if report.name not in ("index.json",) and not report.name.endswith(".error.json"):
            assert report.with_suffix(".html").read_text(encoding="utf-8").rstrip().endswith("</html>")
            assert document["route"]["stage"]
    for index in out.rglob("index.json"):
        entries = json.loads(index.read_text(encoding="utf-8"))
        assert len({e["report"] for e in entries}) == len(entries)
    log = out / "specqc-watch.log"
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            json.loads(line)  # never half a line


class Service:
    def __init__(self, process: subprocess.Popen, mark: Path, stderr: Path, out: Path):
        self.process, self.mark, self.stderr, self.out = process, mark, stderr, out

    def log(self) -> list[dict]:
        path = self.out / "specqc-watch.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def wait_started(self):
        deadline = time.time() + LONG
        while time.time() < deadline:
            if any(e["event"] == "service-start" and e.get("pid") == self.process.pid for e in self.log()):
                return
            assert self.process.poll() is None, self.stderr.read_text()
            time.sleep(0.1)
        raise AssertionError("service did not start")

    def wait_paused(self, point: str, match: str) -> int:
        marker = self.mark / f"{point}-{match}.paused"
        deadline = time.time() + LONG
        while time.time() < deadline:
            if marker.exists() and marker.read_text():
                return int(marker.read_text())
            assert self.process.poll() is None, self.stderr.read_text()
            time.sleep(0.05)
        raise AssertionError(f"never reached {point} of {match}")

    def go(self, point: str, match: str) -> None:
        (self.mark / f"{point}-{match}.go").write_text("")

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # the service and its workers
        self.process.wait(LONG)

    def terminate(self, group: bool = False) -> None:
        """What `systemctl stop` does: SIGTERM (to the main process with KillMode=mixed,
        to the whole group by default); the service must end by itself, cleanly."""
        if group:
            os.killpg(self.process.pid, signal.SIGTERM)
        else:
            self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(LONG) == 0, self.stderr.read_text()
        stops = [e for e in self.log() if e["event"] == "service-stop"]
        assert stops and stops[-1]["reason"] == "SIGTERM", self.log()[-3:]
        assert _group_gone(self.process.pid), "workers outlived the service"


def _group_gone(pgid: int) -> bool:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


NAMES = ["dz-alkylation-clean", "dz-alkylation-incomplete", "dz-deprotection-clean", "dz-cyclization-clean"]


def test_kill_minus_9_during_analysis_and_during_the_store_write_repeatedly(site):
    for name in NAMES:
        site.add(name)
    rounds = [
        ("analyze", "dz-alkylation-clean"),
        ("record", "dz-alkylation-clean"),
        ("record", "dz-deprotection-clean"),
    ]
    for point, match in rounds:
        service = site.start(f"{point}:{match}")
        service.wait_paused(point, match)
        service.kill9()
        recorded = site.samples_recorded()
        assert len(recorded) == len(set(recorded)) and match not in recorded  # its transaction never committed
        from specqc.records.store import Store

        with Store(site.store) as store:
            assert store.verify() == []
    service = site.start()
    site.wait_done(*NAMES)
    service.terminate()
    site.check_whole(NAMES)
    states = site.states("dz-alkylation-clean")
    assert states.count("started") == 3 and states[-1] == "done"  # interrupted twice, then finished once


def test_a_worker_killed_mid_analysis_is_replaced_and_its_dataset_retried(site):
    names = NAMES[:3]
    for name in names:
        site.add(name)
    service = site.start("analyze:dz-alkylation-incomplete")
    worker = service.wait_paused("analyze", "dz-alkylation-incomplete")
    os.kill(worker, signal.SIGKILL)  # the kernel's OOM killer, say: the service itself lives on
    site.wait_done(*names)
    assert site.states("dz-alkylation-incomplete") == ["started", "failed", "started", "done"]
    service.terminate(group=True)  # systemd's default: SIGTERM to every process of the unit
    site.check_whole(names)


def test_a_dataset_deleted_renamed_or_rewritten_mid_analysis(site):
    site.add("dz-alkylation-gone", "dz-alkylation-clean")
    site.add("dz-deprotection-moved", "dz-deprotection-clean")
    changed = site.add("dz-cyclization-changed", "dz-cyclization-clean")
    site.add("dz-salt-clean")
    service = site.start("analyze:dz-alkylation-gone,analyze:dz-deprotection-moved,analyze:dz-cyclization-changed")
    service.wait_paused("analyze", "dz-alkylation-gone")
    (site.inbox / "dz-alkylation-gone.mzML").unlink()
    service.go("analyze", "dz-alkylation-gone")
    service.wait_paused("analyze", "dz-cyclization-changed")
    shutil.copy(SAMPLES / "lcms" / "dz-cyclization-oligomers.mzML", changed)  # re-acquired under the same name
    service.go("analyze", "dz-cyclization-changed")
    service.wait_paused("analyze", "dz-deprotection-moved")
    os.rename(site.inbox / "dz-deprotection-moved.mzML", site.inbox / "dz-deprotection-renamed.mzML")
    service.go("analyze", "dz-deprotection-moved")
    site.wait_done("dz-deprotection-renamed", "dz-cyclization-changed", "dz-salt-clean")
    service.terminate()
    assert site.states("dz-alkylation-gone") == ["started", "gone"]
    assert site.states("dz-deprotection-moved") == ["started", "gone"]
    assert site.states("dz-cyclization-changed") == ["started", "changed", "started", "done"]
    site.check_whole(["dz-cyclization-changed", "dz-deprotection-renamed", "dz-salt-clean"])
    assert not (site.out / "errors").exists()  # vanishing is not the file's fault
    from specqc.provenance import sha256_of
    from specqc.records.store import Store

    with Store(site.store) as store:
        (row,) = [r for r in store.analyses() if r["sample"] == "dz-cyclization-changed"]
        assert store.rows("inputs", row["id"])[0]["sha256"] == sha256_of(changed)  # what is there now


def _mount(*arguments) -> None:
    result = subprocess.run(["mount", *map(str, arguments)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({result.stderr.strip() or 'not permitted'})")


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, timeout=60).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=60)


@pytest.fixture
def mounts():
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip(
            "needs root to mount a small or read-only filesystem (root ignores file permissions otherwise "
            "needed to fake one)"
        )
    made: list[Path] = []
    yield made
    for path in reversed(made):
        _umount(path)


def _fill(folder: Path) -> Path:
    filler = folder / "filler.bin"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: nothing left to fail at close
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_output_disk_full_defers_and_recovers(site, mounts):
    site.out.mkdir()
    _mount("-t", "tmpfs", "-o", "size=6m", "tmpfs", site.out)
    mounts.append(site.out)
    service = site.start()
    service.wait_started()
    filler = _fill(site.out)
    names = NAMES[:2]
    for name in names:
        site.add(name)
    site.wait_for(lambda: all("deferred" in site.states(n) for n in names), "both deferred")
    check_folder(site.out)  # nothing half-written while full
    assert not list((site.out).glob("no-batch/*.json"))
    filler.unlink()
    site.wait_done(*names)
    service.terminate()
    site.check_whole(names)
    assert all(site.states(n).count("failed") == 0 for n in names)  # the disk's fault: no attempt spent
    # a line lost to the full disk is accounted for (tmpfs may still fit short lines in the log's last page)
    log = service.log()
    logged = sum(e["event"] in ("started", "deferred", "done") for e in log)
    lost = sum(e.get("lost_lines", 0) for e in log if e["event"] == "log-gap")
    events = sum(state in ("started", "deferred", "done") for _, state in site.ledger())
    assert logged <= events <= logged + lost, (logged, lost, events)


def test_read_only_output_defers_and_recovers_and_a_read_only_report_folder_is_refused(site, mounts):
    batch = site.out / "no-batch"
    batch.mkdir(parents=True)
    _mount("-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", batch)
    mounts.append(batch)
    service = site.start()
    service.wait_started()
    site.add("dz-deprotection-boc-left")
    site.wait_for(lambda: "deferred" in site.states("dz-deprotection-boc-left"), "deferred")
    check_folder(site.out)
    _umount(batch)
    mounts.remove(batch)
    site.wait_done("dz-deprotection-boc-left")
    service.terminate()
    site.check_whole(["dz-deprotection-boc-left"])
    frozen = site.root / "frozen"
    frozen.mkdir()
    _mount("-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", frozen)
    mounts.append(frozen)
    refused = subprocess.run(
        site.command("--once", out=frozen / "reports"), cwd=ROOT, capture_output=True, text=True, timeout=LONG
    )
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "cannot" in refused.stderr and str(frozen) in refused.stderr


def _lock(store: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(store, timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for as long as it likes
    return holder


def test_a_store_locked_by_another_process(site):
    site.add("dz-alkylation-clean")
    service = site.start("analyze:dz-alkylation-clean")
    service.wait_paused("analyze", "dz-alkylation-clean")
    holder = _lock(site.store)
    service.go("analyze", "dz-alkylation-clean")  # its record will wait for the lock, then give up
    deadline = time.time() + LONG
    while not any(e["event"] == "store-unavailable" for e in service.log()):
        assert time.time() < deadline, service.log()[-3:]
        time.sleep(0.2)
    holder.execute("ROLLBACK")
    holder.close()
    site.wait_done("dz-alkylation-clean")
    assert site.states("dz-alkylation-clean") == ["started", "deferred", "started", "done"]
    holder = _lock(site.store)  # locked again, and the service is stopped meanwhile
    site.add("dz-deprotection-clean")
    time.sleep(3)  # it tries to note the new dataset, and waits
    service.terminate()
    holder.execute("ROLLBACK")
    holder.close()
    again = subprocess.run(site.command("--once"), cwd=ROOT, capture_output=True, text=True, timeout=LONG)
    assert again.returncode == 0, again.stderr
    site.check_whole(["dz-alkylation-clean", "dz-deprotection-clean"])


def test_a_second_service_on_the_same_inbox_is_refused_until_the_first_is_gone(site):
    names = NAMES + ["dz-cyclization-oligomers"]
    first = site.start()
    first.wait_started()
    for extra in ([], ["--once"]):
        second = subprocess.run(
            site.command(*extra, out=site.root / "out2"), cwd=ROOT, capture_output=True, text=True, timeout=LONG
        )
        assert second.returncode == 2, second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert "already watched by another specqc watch" in line and f"pid {first.process.pid}" in line
    (site.inbox / "sub").mkdir()
    nested = subprocess.run(
        site.command(inbox=site.inbox / "sub", out=site.root / "out3"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LONG,
    )
    assert nested.returncode == 2 and "as part of" in nested.stderr, nested.stderr
    for name in names[:3]:
        site.add(name)
    site.wait_done(*names[:3])
    first.kill9()  # no release: the claim's holder is simply dead
    for name in names[3:]:
        site.add(name)
    second = site.start(out=site.out)
    site.wait_done(*names)
    second.terminate()
    site.check_whole(names)


def test_a_stop_mid_analysis_marks_it_interrupted_and_the_next_start_runs_it_once(site):
    site.add("dz-cyclization-clean")
    service = site.start("analyze:dz-cyclization-clean")
    service.wait_paused("analyze", "dz-cyclization-clean")
    service.process.send_signal(signal.SIGTERM)  # waits for the analysis (the grace time)...
    time.sleep(1)
    assert service.process.poll() is None
    service.process.send_signal(signal.SIGTERM)  # ...and a second signal stops it at once
    assert service.process.wait(LONG) == 0, service.stderr.read_text()
    assert site.states("dz-cyclization-clean") == ["started", "interrupted"]
    (stop,) = [e for e in service.log() if e["event"] == "service-stop"]
    assert stop["reason"] == "SIGTERM" and stop["interrupted"] == 1
    assert _group_gone(service.process.pid)
    check_folder(site.out)
    again = site.start()
    site.wait_done("dz-cyclization-clean")
    (site.out / "specqc-watch.stop").write_text("")  # how the Windows wrapper asks it to stop
    assert again.process.wait(LONG) == 0, again.stderr.read_text()
    assert [e for e in again.log() if e["event"] == "service-stop"][-1]["reason"] == "stop file"
    site.check_whole(["dz-cyclization-clean"])
