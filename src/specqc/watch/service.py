"""The watch-folder service: analyse each finished acquisition exactly once.

A scan walks the inboxes, waits until each dataset has stopped changing for the
settle time (and is structurally whole: acqus and fid, a closed mzML), hashes
it, and asks the ledger in the results store whether that (dataset, content)
was already done. New work goes to a bounded process pool; the parent writes
the ledger events (started, done, failed, unassigned), so after a crash every
"started" without an end is simply run again. Because record ids come from
content, a re-run after a crash between recording and the "done" event finds
its record already stored instead of adding a duplicate.

Reports (JSON and HTML) go to OUT/<batch>/ (OUT/unassigned/ when the batch is
unknown) via temporary file and rename, with a per-batch index. Events from
watchdog trigger scans early; a periodic rescan runs regardless, so a lost
event (network shares) only delays work.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import multiprocessing
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from ..files import replace_atomically
from ..provenance import sha256_of
from .datasets import Dataset, discover, newest_change, snapshot, structurally_complete

LOG_NAME = "specqc-watch.log"
MAX_ATTEMPTS = 5
# Workers are started fresh (not forked): the service has threads (file events,
# the store) and a fork taken while one of them holds a lock can hang the child.
WORKER_CONTEXT = multiprocessing.get_context("spawn")
SETTLE_POLL_S = 0.2  # while something is settling, look again this often (a snapshot is cheap)


@dataclass
class WatchOptions:
    inboxes: list[Path]
    out: Path
    store_path: Path | None = None
    config_path: Path | None = None
    settle_s: float = 10.0
    stale_s: float = 600.0  # an incomplete dataset untouched this long is analysed anyway (and fails cleanly)
    rescan_s: float = 30.0
    workers: int = 2
    poll: bool = False
    backoff_s: float = 60.0
    max_attempts: int = MAX_ATTEMPTS


@dataclass
class ScanResult:
    analysed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    skipped: int = 0


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "dataset"


def write_atomically(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, data)


def analyse_dataset(dataset_path: str, content_sha256: str, out: str, store_path: str | None,
                    config_path: str | None) -> dict:
    """Run in a worker process: analyse, write the reports, record. Never raises
    for bad input: the outcome says what happened."""
    from ..config import load_settings
    from ..errors import ConfigError, SpecqcError
    from ..pipeline import analyze
    from ..records.store import Actor, Store
    from ..report.document import build_report, to_json
    from ..report.html import render_html

    from ..sampleinfo import dataset_name

    path = Path(dataset_path)
    stem = f"{_safe_name(dataset_name(path))}.{content_sha256[:8]}"
    try:
        settings = load_settings(config_path)
        analysis = analyze([path], settings=settings)
        report = build_report(analysis)
    except ConfigError as exc:
        unassigned = "no stage" in exc.message or "no route" in exc.message
        state = "unassigned" if unassigned else "failed"
        target = Path(out) / "unassigned" / f"{stem}.error.json"
        write_atomically(target, json.dumps({"dataset": dataset_path, "sha256": content_sha256, "state": state,
                                             "error": exc.one_line()}, indent=2, ensure_ascii=False) + "\n")
        return {"state": state, "error": exc.one_line(), "reports": [str(target)]}
    except SpecqcError as exc:
        target = Path(out) / "errors" / f"{stem}.error.json"
        write_atomically(target, json.dumps({"dataset": dataset_path, "sha256": content_sha256, "state": "failed",
                                             "error": exc.one_line()}, indent=2, ensure_ascii=False) + "\n")
        return {"state": "failed", "error": exc.one_line(), "reports": [str(target)], "permanent": True}
    batch = report["sample"].get("batch") or "no-batch"
    folder = Path(out) / _safe_name(batch)
    json_path, html_path = folder / f"{stem}.json", folder / f"{stem}.html"
    write_atomically(json_path, to_json(report))
    write_atomically(html_path, render_html(report, analysis))
    with Store(store_path) as store:
        recorded = store.record(report, actor=Actor.current("watch"),
                                report_files=[(json_path, "json"), (html_path, "html")])
    write_index(folder)
    return {"state": "done", "analysis_id": recorded.id, "new": recorded.new, "verdict": report["qc"]["verdict"],
            "reports": [str(json_path), str(html_path)]}


def warm_up() -> None:
    """Import the analysis stack in a worker before the first acquisition needs it."""
    from ..pipeline import analyze  # noqa: F401
    from ..report.html import render_html  # noqa: F401


def write_index(folder: Path) -> None:
    """index.json and index.html of a batch folder, from the reports in it."""
    entries = []
    for item in sorted(folder.glob("*.json")):
        if item.name.startswith("index"):
            continue
        try:
            report = json.loads(item.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        entries.append({"report": item.name, "html": item.with_suffix(".html").name,
                        "stage": report["route"]["stage"], "verdict": report["qc"]["verdict"],
                        "diagnoses": [d["id"] for d in report["diagnoses"]],
                        "inputs": [i["path"] for i in report["inputs"]]})
    write_atomically(folder / "index.json", json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
    rows = "".join(f"<tr><td><a href=\"{escape(e['html'])}\">{escape(e['html'])}</a></td><td>{escape(e['stage'])}</td>"
                   f"<td>{escape(e['verdict'])}</td><td>{escape(', '.join(e['diagnoses']))}</td></tr>" for e in entries)
    write_atomically(folder / "index.html", "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>"
                     f"specqc batch {escape(folder.name)}</title></head><body><h1>Batch {escape(folder.name)}</h1>"
                     "<table border=\"1\"><tr><th>report</th><th>stage</th><th>verdict</th><th>diagnoses</th></tr>"
                     f"{rows}</table></body></html>\n")


def setup_log(out: Path) -> logging.Logger:
    out.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("specqc.watch")
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in logger.handlers):
        handler = logging.handlers.RotatingFileHandler(out / LOG_NAME, maxBytes=5_000_000, backupCount=5,
                                                       encoding="utf-8")
        handler.setFormatter(logging.Formatter('{"at": "%(asctime)s", "level": "%(levelname)s", %(message)s}'))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def _log(logger: logging.Logger, event: str, **fields) -> None:
    logger.info(json.dumps({"event": event, **fields}, ensure_ascii=False)[1:-1])


class Watcher:
    def __init__(self, options: WatchOptions):
        from ..records.store import Store

        self.options = options
        self.store = Store(options.store_path)
        self.logger = setup_log(options.out)
        self.stable_since: dict[str, tuple[tuple, float]] = {}
        self.digests: dict[str, tuple[tuple, str]] = {}  # hash again only when the snapshot changed
        self.wake = threading.Event()

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------ deciding what is ready

    def ready(self, dataset: Dataset, now: float) -> tuple[bool, str]:
        state = snapshot(dataset)
        previous = self.stable_since.get(dataset.key)
        if previous is None or previous[0] != state:
            self.stable_since[dataset.key] = (state, now)
            first_seen_quiet = now - newest_change(state) >= self.options.settle_s
            if not first_seen_quiet:
                return False, "still changing"
        elif now - previous[1] < self.options.settle_s and now - newest_change(state) < self.options.settle_s:
            return False, "settling"
        whole, why = structurally_complete(dataset, state)
        if not whole:
            if state and now - newest_change(state) >= self.options.stale_s:
                return True, f"stale ({why}); analysed as it is"
            return False, why
        return True, ""

    def due(self, dataset: Dataset, digest: str, now: float) -> bool:
        latest = self.store.ledger_state(dataset.key, digest)
        if latest is None or latest["state"] == "started":  # new, or interrupted by a crash
            return True
        if latest["state"] != "failed":
            return False
        attempts = self.store.ledger_attempts(dataset.key, digest)
        if attempts >= self.options.max_attempts or self._permanent(latest):
            return False
        from datetime import datetime

        age = now - datetime.fromisoformat(latest["at"]).timestamp()
        return age >= self.options.backoff_s * (2 ** (attempts - 1))

    @staticmethod
    def _permanent(row) -> bool:
        return bool(row["error"]) and row["error"].startswith("[permanent] ")

    # ------------------------------------------------------------ one pass

    def scan(self, executor: ProcessPoolExecutor, progress=None) -> ScanResult:
        result = ScanResult()
        now = time.time()
        work: list[tuple[Dataset, str]] = []
        for inbox in self.options.inboxes:
            for dataset in discover(inbox):
                is_ready, why = self.ready(dataset, now)
                if not is_ready:
                    result.waiting.append(f"{dataset.path} ({why})")
                    continue
                state = self.stable_since[dataset.key][0]
                cached = self.digests.get(dataset.key)
                if cached is not None and cached[0] == state:
                    digest = cached[1]
                else:
                    try:
                        digest = sha256_of(dataset.path)
                    except OSError as exc:
                        result.waiting.append(f"{dataset.path} (cannot read: {exc})")
                        continue
                    self.digests[dataset.key] = (state, digest)
                if self.due(dataset, digest, now):
                    work.append((dataset, digest))
                else:
                    result.skipped += 1
        self._run(executor, work, result, progress)
        return result

    def _run(self, executor, work, result: ScanResult, progress) -> None:
        limit = max(1, self.options.workers * 2)  # bounded in-flight work: memory stays flat on a burst
        pending: dict[Future, tuple[Dataset, str]] = {}
        queue = list(work)
        if queue and progress is not None and hasattr(progress, "begin"):
            progress.begin(len(queue))
        while queue or pending:
            while queue and len(pending) < limit:
                dataset, digest = queue.pop(0)
                self.store.ledger_event(dataset.key, digest, "started")
                _log(self.logger, "started", dataset=dataset.key, sha256=digest)
                future = executor.submit(analyse_dataset, dataset.key, digest, str(self.options.out),
                                         None if self.options.store_path is None else str(self.options.store_path),
                                         None if self.options.config_path is None else str(self.options.config_path))
                pending[future] = (dataset, digest)
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                dataset, digest = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # a bug or a dead worker: recorded, retried with back-off
                    outcome = {"state": "failed", "error": f"internal error: {type(exc).__name__}: {exc}"}
                error = outcome.get("error")
                if outcome.get("permanent"):
                    error = f"[permanent] {error}"
                self.store.ledger_event(dataset.key, digest, outcome["state"],
                                        analysis_id=outcome.get("analysis_id"), error=error)
                _log(self.logger, outcome["state"], dataset=dataset.key, sha256=digest,
                     reports=outcome.get("reports", []), error=outcome.get("error"),
                     verdict=outcome.get("verdict"))
                {"done": result.analysed, "unassigned": result.unassigned}.get(
                    outcome["state"], result.failed).append(dataset.key)
                if progress is not None:
                    progress(dataset, outcome)

    # ------------------------------------------------------------ running

    def run_once(self, progress=None, wait_for_settle: bool = True) -> ScanResult:
        """Process what is there now; datasets still settling are waited for once."""
        with ProcessPoolExecutor(max_workers=self.options.workers, mp_context=WORKER_CONTEXT) as executor:
            result = self.scan(executor, progress)
            if wait_for_settle and result.waiting:
                time.sleep(self.options.settle_s)
                more = self.scan(executor, progress)
                result.analysed += more.analysed
                result.failed += more.failed
                result.unassigned += more.unassigned
                result.waiting = more.waiting
                result.skipped += more.skipped
        return result

    def run_forever(self, stop: threading.Event, progress=None) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Nudge(FileSystemEventHandler):
            def on_any_event(self, event):
                watcher.wake.set()

        observer = PollingObserver(timeout=max(1.0, self.options.settle_s / 2)) if self.options.poll else Observer()
        for inbox in self.options.inboxes:
            observer.schedule(Nudge(), str(inbox), recursive=True)
        observer.start()
        _log(self.logger, "service-start", inboxes=[str(i) for i in self.options.inboxes], out=str(self.options.out))
        try:
            with ProcessPoolExecutor(max_workers=self.options.workers, mp_context=WORKER_CONTEXT) as executor:
                for _ in range(self.options.workers):
                    executor.submit(warm_up)
                while not stop.is_set():
                    try:
                        result = self.scan(executor, progress)
                    except Exception as exc:  # keep serving: a share that vanished, a full disk...
                        _log(self.logger, "scan-error", error=f"{type(exc).__name__}: {exc}")
                        result = ScanResult(waiting=["(scan failed)"])
                        stop.wait(self.options.rescan_s)
                    # something settling: look again shortly; else wait for an event or the rescan
                    delay = SETTLE_POLL_S if result.waiting else self.options.rescan_s
                    self.wake.wait(timeout=delay)
                    self.wake.clear()
        finally:
            observer.stop()
            observer.join(10)
            _log(self.logger, "service-stop")
