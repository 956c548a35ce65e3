"""The watch-folder service: analyse each finished acquisition exactly once.

A scan walks the inboxes, waits until each dataset has stopped changing for the
settle time (and is structurally whole: acqus and fid, a closed mzML), hashes
it, and asks the ledger in the results store whether that (dataset, content)
was already done. New work goes to a bounded process pool; the parent writes
the ledger events (started, done, failed, unassigned, ...), so after a crash
every "started" without an end is simply run again. Because record ids come
from content, a re-run after a crash between recording and the "done" event
finds its record already stored instead of adding a duplicate.

One service per inbox and store: the service claims its inboxes in the store
(see `records.claims`) and a second one is refused. Outcomes are decided from
exception types: UnassignedError -> unassigned; TransientError (a full or
read-only output disk, a locked store) -> deferred, retried at a later scan
without counting as an attempt; InternalError or an unexpected exception ->
failed, retried with back-off; any other SpecqcError -> failed for good (the
input is at fault). A dataset deleted, renamed or rewritten while it was being
analysed is "gone" or "changed": its result is discarded, and what is there
now is analysed in its turn.

Reports (JSON and HTML) go to OUT/<batch>/ (OUT/unassigned/ when the batch is
unknown) via temporary file and rename, with a per-batch index; temporary
files left by a killed worker are removed when the service starts. Events
from watchdog trigger scans early; a periodic rescan runs regardless, so a
lost event (network shares) only delays work.

Stopping: SIGTERM (what `systemctl stop` sends), SIGINT, SIGBREAK on Windows,
or a stop file OUT/specqc-watch.stop. No new analysis starts; those running
get a grace time to finish, then their workers are killed and the ledger
marks them "interrupted" (run again at the next start). A second signal
stops at once. The log ends with a "service-stop" line.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import multiprocessing
import os
import re
import signal
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from html import escape
from pathlib import Path

from ..errors import ClaimError, InternalError, OutputError, SpecqcError, TransientError, UnassignedError
from ..files import remove_abandoned_temporaries, replace_atomically
from ..provenance import sha256_of
from .datasets import LCMS_KINDS, Dataset, discover, newest_change, recorded_start, snapshot, structurally_complete

LOG_NAME = "specqc-watch.log"
STOP_FILE = "specqc-watch.stop"
MAX_ATTEMPTS = 5
# Workers are started fresh (not forked): the service has threads (file events,
# the store) and a fork taken while one of them holds a lock can hang the child.
WORKER_CONTEXT = multiprocessing.get_context("spawn")
SETTLE_POLL_S = 0.2  # while something is settling, look again this often (a snapshot is cheap)
TICK_S = 1.0  # how often a waiting service looks at its stop requests and its claim
PARENT_BUSY_TIMEOUT_S = 5.0  # the service's own store writes wait this long per try, so a stop is not held up
# ledger states after which the dataset revision is analysed (again) when it is there
RUN_AGAIN = ("started", "interrupted", "gone", "changed")


@dataclass
class WatchOptions:
    inboxes: list[Path]
    out: Path
    store_path: str | Path | None = None  # a path or store URL; None: [store] path of the config, else the default
    config_path: Path | None = None
    settle_s: float = 10.0
    stale_s: float = 600.0  # an incomplete dataset untouched this long is analysed anyway (and fails cleanly)
    rescan_s: float = 30.0  # also the wait before work deferred by a full disk or a locked store is tried again
    workers: int = 2
    poll: bool = False
    backoff_s: float = 60.0
    max_attempts: int = MAX_ATTEMPTS
    store_key_file: Path | None = None  # None: [store] key_file of the config, else $SPECQC_STORE_KEY_FILE
    store_timeout_s: float | None = None  # None: [store] busy_timeout_s of the config, else the store's default
    blank_pattern: str | None = None  # None: [blank] pattern of the config (no blanks when neither is given)
    lease_s: float = 120.0  # claim lease: how long another host waits for a silent holder
    stop_grace_s: float = 30.0  # on a stop, how long running analyses may take to finish
    default_route: str | None = None  # watch --route: for datasets no sidecar, pattern or config assigns
    default_stage: str | None = None  # watch --stage: likewise, after the file name's own stage id
    # an LC-MS run and an NMR spectrum naming the same sample id (sidecar "sample", name pattern) acquired
    # within this many seconds of each other are one sample: the later one is analysed with the earlier
    pair_window_s: float = 86400.0


@dataclass
class ScanResult:
    analysed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    skipped: int = 0
    deferred: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # vanished or changed while analysed
    blanks: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)

    def merge(self, other: ScanResult) -> None:
        for name in ("analysed", "failed", "unassigned", "deferred", "gone", "blanks", "interrupted"):
            getattr(self, name).extend(getattr(other, name))
        self.waiting = other.waiting
        self.skipped += other.skipped


@dataclass
class _Job:
    dataset: Dataset
    digest: str
    state: tuple
    blank: Dataset | None = None
    blank_digest: str | None = None
    partners: list = field(default_factory=list)  # [(Dataset, digest)] of the same sample, other technique


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "dataset"


def _folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder: {exc.strerror or exc}", path) from exc
    return path


# ---------------------------------------------------------------- in the worker process


def _worker_init() -> None:
    """Stopping is the service's to decide (it lets running work finish, then
    ends it): a SIGTERM sent to the whole group, or Ctrl-C in a terminal, must
    not kill the workers mid-write first."""
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_IGN)


def warm_up() -> None:
    """Import the analysis stack in a worker before the first acquisition needs it."""
    from ..pipeline import analyze  # noqa: F401
    from ..report.html import render_html  # noqa: F401


class _RouteProblem(Exception):
    def __init__(self, error: SpecqcError):
        super().__init__(error.one_line())
        self.error = error


def with_defaults(settings, defaults: dict):
    """Settings with the service's --route/--stage as the last resort of assignment."""
    from dataclasses import replace

    return replace(
        settings,
        default_route=defaults.get("route") or settings.default_route,
        default_stage=defaults.get("stage") or settings.default_stage,
    )


def assign(path: Path, settings) -> None:
    """Raise UnassignedError unless the dataset's route and stage can be told
    (sidecar, name pattern, a stage id in its name); a route that cannot be
    loaded is that route's error, not the dataset's."""
    from ..chem.route import load_route
    from ..sampleinfo import identify

    def stage_ids(reference):
        try:
            return [stage.id for stage in load_route(reference).stages]
        except SpecqcError as exc:
            raise _RouteProblem(exc) from exc

    try:
        info = identify(
            [path],
            None,
            None,
            settings.name_pattern,
            settings.default_route,
            stage_ids_of=stage_ids,
            default_stage=settings.default_stage,
        )
    except _RouteProblem as problem:
        raise problem.error from None
    except SpecqcError as exc:
        raise UnassignedError(exc.message, exc.path or path) from exc
    if info.route is None:
        raise UnassignedError(
            'no route: give a sidecar JSON with "route", [sample] route in the config, or watch --route', path
        )
    if info.stage is None:
        raise UnassignedError(
            'no stage: give a sidecar JSON with "stage", watch --stage, or a file name holding '
            "one stage id "
            f"of route {info.route}",
            path,
        )


def _vanished(dataset: Dataset, then: tuple) -> str | None:
    now = snapshot(dataset)
    if not now:
        return "gone"
    return "changed" if now != then else None


def _analyze(path: Path, settings, blank: dict | None, notes: dict, partners: list[str] | None = None):
    from ..pipeline import analyze

    paths = [path, *(Path(p) for p in partners or [])]
    if blank is None:
        return analyze(paths, settings=settings)
    try:
        return analyze(paths, settings=settings, blank=blank["path"])
    except SpecqcError as exc:
        if exc.path is None or Path(exc.path) != Path(blank["path"]):
            raise
        # the blank is unusable, not the sample: analyse the sample on its own and say why
        notes["blank_error"] = exc.one_line()
        return analyze(paths, settings=settings)


def _error_report(folder: Path, stem: str, job: dict, state: str, error: SpecqcError) -> str:
    target = _folder(folder) / f"{stem}.error.json"
    replace_atomically(
        target,
        json.dumps(
            {"dataset": job["dataset"], "sha256": job["sha256"], "state": state, "error": error.one_line()},
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
    )
    return str(target)


def analyse_dataset(job: dict) -> dict:
    """Run in a worker process: analyse, write the reports, record. Never raises
    for bad input or an unusable output: the outcome says what happened."""
    from ..config import load_settings
    from ..records.store import Actor, Store
    from ..report.document import build_report, to_json
    from ..report.html import render_html
    from ..sampleinfo import dataset_name

    path = Path(job["dataset"])
    dataset = Dataset(path, job["kind"])
    out = Path(job["out"])
    stem = f"{_safe_name(dataset_name(path))}.{job['sha256'][:8]}"
    blank = job.get("blank")
    notes: dict = {}
    try:
        settings = load_settings(job["config"])
        settings = with_defaults(settings, job.get("defaults") or {})
    except SpecqcError as exc:  # the config was edited into something invalid: the operator's to fix
        return {"state": "deferred", "error": f"config: {exc.one_line()}"}
    try:
        try:
            assign(path, settings)
            analysis = _analyze(path, settings, blank, notes, [p["path"] for p in job.get("partners") or []])
            report = build_report(analysis)
        except UnassignedError as exc:
            moved = _vanished(dataset, job["snapshot"])
            if moved:
                return {"state": moved}
            report_path = _error_report(out / "unassigned", stem, job, "unassigned", exc)
            return {"state": "unassigned", "error": exc.one_line(), "reports": [report_path], "permanent": True}
        except TransientError as exc:
            return {"state": "deferred", "error": exc.one_line()}
        except InternalError as exc:
            return {"state": "failed", "error": exc.one_line(), "permanent": False}
        except SpecqcError as exc:
            moved = _vanished(dataset, job["snapshot"])
            if moved:  # the reader lost the file it was reading: not the file's fault
                return {"state": moved, "error": exc.one_line()}
            report_path = _error_report(out / "errors", stem, job, "failed", exc)
            return {"state": "failed", "error": exc.one_line(), "reports": [report_path], "permanent": True}
        moved = _vanished(dataset, job["snapshot"])
        if moved:  # the result belongs to content that is no longer there
            return {"state": moved}
        batch = report["sample"].get("batch") or "no-batch"
        folder = _folder(out / _safe_name(batch))
        json_path, html_path = folder / f"{stem}.json", folder / f"{stem}.html"
        replace_atomically(json_path, to_json(report))
        replace_atomically(html_path, render_html(report, analysis))
        store = job["store"]
        with Store(store["path"], key_file=store["key_file"], busy_timeout_s=store["busy_timeout_s"]) as records:
            recorded = records.record(
                report, actor=Actor.current("watch"), report_files=[(json_path, "json"), (html_path, "html")]
            )
        write_index(folder)
    except SpecqcError as exc:  # output or store unusable (full, read-only, locked, key unreadable): later
        return {"state": "deferred", "error": exc.one_line()}
    return {
        "state": "done",
        "analysis_id": recorded.id,
        "new": recorded.new,
        "verdict": report["qc"]["verdict"],
        "reports": [str(json_path), str(html_path)],
        "blank": blank["path"] if blank else None,
        **({"with": [p["path"] for p in job["partners"]]} if job.get("partners") else {}),
        **notes,
    }


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
        entries.append(
            {
                "report": item.name,
                "html": item.with_suffix(".html").name,
                "stage": report["route"]["stage"],
                "verdict": report["qc"]["verdict"],
                "diagnoses": [d["id"] for d in report["diagnoses"]],
                "inputs": [i["path"] for i in report["inputs"]],
            }
        )
    replace_atomically(folder / "index.json", json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
    replace_atomically(folder / "index.html", index_html(folder.name, entries))


def index_html(batch: str, entries: list[dict]) -> str:
    """The batch folder's index page, in the reports' own style (their stylesheet, verdict badges)."""
    from ..report.html import CSS

    rows = "".join(
        f'<tr><td><a href="{escape(e["html"])}">{escape(e["html"])}</a></td><td>{escape(e["stage"])}</td>'
        f'<td><span class="verdict v-{escape(e["verdict"])}">{escape(e["verdict"].upper())}</span></td>'
        f"<td>{escape(', '.join(e['diagnoses']) or 'none')}</td>"
        f'<td class="muted">{"<br>".join(escape(Path(p).name) for p in e["inputs"])}</td></tr>'
        for e in entries
    )
    counts = ", ".join(f"{sum(e['verdict'] == v for e in entries)} {v}" for v in ("pass", "fail", "inconclusive"))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>specqc batch {escape(batch)}</title><style>{CSS}</style></head><body>"
        f'<h1>Batch {escape(batch)}</h1><p class="muted">{len(entries)} report(s): {counts}</p>'
        "<table><thead><tr><th>report</th><th>stage</th><th>verdict</th><th>diagnoses</th><th>inputs</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></body></html>\n"
    )


# ---------------------------------------------------------------- the log


class _LogFile(logging.handlers.RotatingFileHandler):
    """The service's JSON-lines log on a disk that may fill up: a line that
    cannot be written is dropped whole (the file is cut back to where it
    was, never left with half a line), and the next line that can be written
    is followed by a note of how many were lost."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lost = 0
        self._failed = False

    def handleError(self, record) -> None:
        self._failed = True

    def emit(self, record) -> None:
        try:
            size = os.path.getsize(self.baseFilename)
        except OSError:
            size = None
        self._failed = False
        super().emit(record)
        if self._failed:
            self.lost += 1
            stream, self.stream = self.stream, None  # its buffer holds the rest of the line: never flush it later
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
            if size is not None:
                try:
                    os.truncate(self.baseFilename, size)
                except OSError:
                    pass
            return
        if self.lost:
            lost, self.lost = self.lost, 0
            self.emit(
                logging.makeLogRecord(
                    {
                        "msg": f'"event": "log-gap", "lost_lines": {lost}',
                        "levelname": "WARNING",
                        "levelno": logging.WARNING,
                    }
                )
            )


def setup_log(out: Path) -> logging.Logger:
    """The log of one report folder (one logger per folder, so several services in one process keep theirs)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        logger = logging.getLogger("specqc.watch").getChild(re.sub(r"\W", "_", str(out.resolve())))
        if not logger.handlers:
            handler = _LogFile(out / LOG_NAME, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
            handler.setFormatter(logging.Formatter('{"at": "%(asctime)s", "level": "%(levelname)s", %(message)s}'))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
    except OSError as exc:
        raise OutputError(f"report folder cannot be written: {exc.strerror or exc}", out) from exc
    return logger


def _log(logger: logging.Logger, event: str, **fields) -> None:
    logger.info(json.dumps({"event": event, **fields}, ensure_ascii=False)[1:-1])


def _inbox_resource(inbox: Path) -> str:
    return f"inbox:{inbox.resolve()}"


def _nested(a: str, b: str) -> bool:
    """Whether two inbox claims overlap: the same folder, or one inside the other."""
    if not (a.startswith("inbox:") and b.startswith("inbox:")):
        return False
    first, second = Path(a[6:]), Path(b[6:])
    return first == second or first in second.parents or second in first.parents


# ---------------------------------------------------------------- the service


class Watcher:
    def __init__(self, options: WatchOptions):
        from ..config import blank_pattern, load_settings, store_settings
        from ..records.claims import new_holder
        from ..records.store import BUSY_TIMEOUT_S, Actor, Store

        self.options = options
        settings = load_settings(options.config_path)
        self.settings = settings
        configured = store_settings(settings)
        store_path = options.store_path or configured["path"] or None  # a path or a store URL
        key_file = options.store_key_file or configured["key_file"]
        self.busy_timeout_s = float(options.store_timeout_s or configured["busy_timeout_s"] or BUSY_TIMEOUT_S)
        self.blank_pattern = re.compile(options.blank_pattern) if options.blank_pattern else blank_pattern(settings)
        self.actor = Actor.current("watch")
        self.holder = new_holder()
        self.store = Store(
            store_path, key_file=key_file, busy_timeout_s=min(self.busy_timeout_s, PARENT_BUSY_TIMEOUT_S)
        )
        self.store_job = {
            "path": self.store.location.target,
            "key_file": None if key_file is None else str(key_file),
            "busy_timeout_s": self.busy_timeout_s,
        }
        self.claims: list = []
        self.executor: ProcessPoolExecutor | None = None
        try:
            self.logger = setup_log(options.out)
            self._claim_inboxes()
        except BaseException:
            self.store.close()
            raise
        self.stable_since: dict[str, tuple[tuple, float]] = {}
        self.digests: dict[str, tuple[tuple, str]] = {}  # hash again only when the snapshot changed
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.stop_reason: str | None = None
        self._signalled: str | None = None
        self._stop_at: float | None = None
        self._hurry = False
        self._paused = False
        self.claim_lost: ClaimError | None = None
        self._closed = False
        self._sweep_temporaries()
        stop_file = options.out / STOP_FILE
        if stop_file.exists():  # left from before this start: it asked an earlier service to stop
            stop_file.unlink(missing_ok=True)

    # ------------------------------------------------------------ claims

    def _claim_inboxes(self) -> None:
        for inbox in self.options.inboxes:
            resource = _inbox_resource(inbox)
            try:
                claim = self.store.acquire_claim(
                    resource,
                    self.holder,
                    lease_s=self.options.lease_s,
                    actor=self.actor,
                    conflicts=partial(_nested, resource),
                )
            except ClaimError as exc:
                self._release_claims()
                holder = getattr(exc, "holder", None)
                where = "" if holder is None or holder.resource == resource else f" (as part of {holder.resource[6:]})"
                raise ClaimError(
                    f"already watched{where} by another specqc watch using store {self.store.path} "
                    f"({holder.describe() if holder else 'unknown holder'}); stop that service first, "
                    "or watch another inbox",
                    inbox,
                ) from exc
            self.claims.append(claim)
        self._renewed = time.monotonic()

    def _release_claims(self) -> None:
        for claim in self.claims:
            try:
                self.store.release_claim(claim, self.actor)
            except SpecqcError:  # a locked store: the claim ends with this process (its pid is checked)
                pass
        self.claims = []

    def _renew_claims(self) -> None:
        if not self.claims or time.monotonic() - self._renewed < self.options.lease_s / 4:
            return
        try:
            self.claims = [self.store.renew_claim(claim, self.options.lease_s) for claim in self.claims]
            self._renewed = time.monotonic()
        except ClaimError as exc:
            self.claim_lost = exc
            _log(self.logger, "claim-lost", error=exc.one_line())
            self.request_stop("claim lost")
        except TransientError:
            pass  # the lease is long; try again at the next tick

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._discard_pool()
        self._release_claims()
        self.store.close()

    # ------------------------------------------------------------ stopping

    def request_stop(self, reason: str) -> None:
        """Ask the service to stop (callable from another thread)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop.set()
        self.wake.set()

    def _stopping(self) -> bool:
        if self._signalled is not None and not self.stop.is_set():
            self.request_stop(self._signalled)
        if self.stop.is_set() and self._stop_at is None:
            self._stop_at = time.monotonic()
            self.stop_reason = self.stop_reason or "requested"
        return self.stop.is_set()

    def _grace_over(self) -> bool:
        return self._hurry or time.monotonic() - (self._stop_at or 0) >= self.options.stop_grace_s

    def _handle_signals(self):
        """Stop cleanly on SIGTERM/SIGINT/SIGHUP (SIGBREAK on Windows); a second one stops at once.
        Only the main thread can take signals: elsewhere the caller's stop event alone counts."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(number, frame):
            # no locks here (an Event's lock may be held by the very code this interrupts): flags only
            if self._signalled is not None:
                self._hurry = True
            self._signalled = signal.Signals(number).name

        previous = {}
        for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK"):
            number = getattr(signal, name, None)
            if number is not None:
                previous[number] = signal.signal(number, handler)

        def restore():
            for number, old in previous.items():
                signal.signal(number, old)

        return restore

    def _tick(self) -> None:
        """Between waits: a stop file asks for a stop, and the claims are renewed."""
        stop_file = self.options.out / STOP_FILE
        if stop_file.exists():
            stop_file.unlink(missing_ok=True)
            self.request_stop("stop file")
        self._renew_claims()
        self._stopping()

    def _sleep(self, seconds: float, wake: bool = True) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # file events cut the wait short only where a scan is what comes next
            if (self.wake if wake else self.stop).wait(timeout=min(TICK_S, remaining)) and wake:
                self.wake.clear()
                return
            self._tick()

    # ------------------------------------------------------------ the pool

    def _executor(self) -> ProcessPoolExecutor:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.options.workers, mp_context=WORKER_CONTEXT, initializer=_worker_init
            )
            for _ in range(self.options.workers):
                self.executor.submit(warm_up)
        return self.executor

    def _discard_pool(self) -> None:
        """End the pool now, killing workers still running (they are safe to kill:
        the ledger runs their datasets again, the store rolls back their writes)."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())  # no public way before 3.14
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()
        for process in processes:
            process.join(10)

    def _close_pool(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def _sweep_temporaries(self) -> None:
        from ..records.claims import process_alive

        removed = remove_abandoned_temporaries(self.options.out, process_alive)
        if removed:
            _log(self.logger, "temporaries-removed", files=[str(p) for p in removed])

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
        if latest is None or latest["state"] in RUN_AGAIN:  # new, interrupted, or back after it vanished
            return True
        age = now - datetime.fromisoformat(latest["at"]).timestamp()
        if latest["state"] == "deferred":
            return age >= self.options.rescan_s
        if latest["state"] != "failed":
            return False  # done, unassigned, blank
        attempts = self.store.ledger_attempts(dataset.key, digest)
        if attempts >= self.options.max_attempts or self._permanent(latest):
            return False
        return age >= self.options.backoff_s * (2 ** (attempts - 1))

    @staticmethod
    def _permanent(row) -> bool:
        if row["permanent"] is not None:
            return bool(row["permanent"])
        # events written before the ledger had the column said so in the error text
        return bool(row["error"]) and row["error"].startswith("[permanent] ")

    def _digest(self, dataset: Dataset) -> str:
        state = self.stable_since[dataset.key][0]
        cached = self.digests.get(dataset.key)
        if cached is not None and cached[0] == state:
            return cached[1]
        digest = sha256_of(dataset.path)
        self.digests[dataset.key] = (state, digest)
        return digest

    def _is_blank(self, dataset: Dataset) -> bool:
        from ..sampleinfo import dataset_name

        return (
            self.blank_pattern is not None
            and dataset.kind in LCMS_KINDS
            and self.blank_pattern.search(dataset_name(dataset.path)) is not None
        )

    def _acquired(self, datasets: list[Dataset]) -> dict[str, float]:
        """When each was acquired: the run's recorded start time if every one of
        them has it, else the newest modification time of each (never a mix)."""
        recorded = {d.key: recorded_start(d) for d in datasets}
        starts = {key: value for key, value in recorded.items() if value is not None}
        if len(starts) == len(recorded):
            return starts
        return {d.key: newest_change(self.stable_since[d.key][0]) for d in datasets}

    def sample_id(self, dataset: Dataset) -> str | None:
        """The sample id the dataset names (sidecar "sample", or the name pattern's sample group)."""
        from ..sampleinfo import identify

        try:
            return identify([dataset.path], None, None, self.settings.name_pattern).sample
        except SpecqcError:  # a broken sidecar is the dataset's own error, reported when it is analysed
            return None

    def _partners(self, dataset: Dataset, others: list[Dataset]) -> list:
        """The other technique's finished datasets of the same sample, acquired within the pairing
        window before this one: analysed with it, so the sample gets one combined verdict."""
        if self.options.pair_window_s <= 0:
            return []
        own = self.sample_id(dataset)
        if own is None:
            return []
        lcms = dataset.kind in LCMS_KINDS
        candidates = [d for d in others if (d.kind in LCMS_KINDS) != lcms and self.sample_id(d) == own]
        if not candidates:
            return []
        partners = []
        for other in candidates:
            times = self._acquired([dataset, other])
            if 0 <= times[dataset.key] - times[other.key] <= self.options.pair_window_s:
                try:
                    partners.append((other, self._digest(other)))
                except OSError:
                    continue
        return partners

    def choose_blank(
        self, sample: Dataset, blanks: list[Dataset], ready: dict[str, bool]
    ) -> tuple[Dataset | None, str]:
        """The most recent blank of the inbox acquired before the sample (LC-MS
        samples only): (blank, ""), (None, "") when there is none, (None, why)
        while the one to use is not finished yet."""
        if sample.kind not in LCMS_KINDS or not blanks:
            return None, ""
        times = self._acquired([sample, *blanks])
        before = [b for b in blanks if times[b.key] < times[sample.key]]
        if not before:
            return None, ""
        chosen = max(before, key=lambda b: (times[b.key], b.key))
        if not ready.get(chosen.key):
            return None, f"waiting for blank {chosen.path}"
        return chosen, ""

    # ------------------------------------------------------------ one pass

    def scan(self, progress=None) -> ScanResult:
        result = ScanResult()
        now = time.time()
        work: list[_Job] = []
        for inbox in self.options.inboxes:
            found = [(dataset, *self.ready(dataset, now)) for dataset in discover(inbox)]
            ready = {dataset.key: is_ready for dataset, is_ready, _ in found}
            blanks = [dataset for dataset, _, _ in found if self._is_blank(dataset)]
            for dataset, is_ready, why in found:
                self._tick()
                if not is_ready:
                    result.waiting.append(f"{dataset.path} ({why})")
                    continue
                try:
                    digest = self._digest(dataset)
                except OSError as exc:
                    ready[dataset.key] = False
                    result.waiting.append(f"{dataset.path} (cannot read: {exc})")
                    continue
                if dataset in blanks:
                    self._note_blank(dataset, digest, result)
                    continue
                if not self.due(dataset, digest, now):
                    result.skipped += 1
                    continue
                blank, why = self.choose_blank(dataset, blanks, ready)
                if why:
                    result.waiting.append(f"{dataset.path} ({why})")
                    continue
                job = _Job(dataset, digest, self.stable_since[dataset.key][0], blank)
                job.partners = self._partners(
                    dataset, [d for d, is_ready, _ in found if is_ready and d not in blanks and d != dataset]
                )
                if blank is not None:
                    try:
                        job.blank_digest = self._digest(blank)
                    except OSError as exc:
                        result.waiting.append(f"{dataset.path} (blank {blank.path} cannot be read: {exc})")
                        continue
                work.append(job)
        self._run(work, result, progress)
        return result

    def _note_blank(self, dataset: Dataset, digest: str, result: ScanResult) -> None:
        latest = self.store.ledger_state(dataset.key, digest)
        if latest is not None and latest["state"] not in RUN_AGAIN + ("deferred",):
            result.skipped += 1
            return
        if self._ledger(dataset.key, digest, "blank"):
            _log(self.logger, "blank", dataset=dataset.key, sha256=digest)
            result.blanks.append(dataset.key)

    def _ledger(self, dataset: str, digest: str, state: str, **fields) -> bool:
        """Write a ledger event, waiting out a locked store; False if a stop came first."""
        told = False
        while True:
            try:
                self.store.ledger_event(dataset, digest, state, holder=self.holder, actor=self.actor, **fields)
                return True
            except TransientError as exc:
                if not told:
                    _log(self.logger, "store-unavailable", error=exc.one_line())
                    told = True
                if self._stopping():
                    return False
                self._sleep(TICK_S, wake=False)

    def _payload(self, job: _Job) -> dict:
        return {
            "dataset": job.dataset.key,
            "kind": job.dataset.kind,
            "sha256": job.digest,
            "snapshot": job.state,
            "out": str(self.options.out),
            "store": self.store_job,
            "config": None if self.options.config_path is None else str(self.options.config_path),
            "defaults": {"route": self.options.default_route, "stage": self.options.default_stage},
            "partners": [{"path": d.key, "sha256": digest} for d, digest in job.partners],
            "blank": None if job.blank is None else {"path": job.blank.key, "sha256": job.blank_digest},
        }

    def _submit(self, job: _Job) -> Future:
        try:
            return self._executor().submit(analyse_dataset, self._payload(job))
        except (BrokenProcessPool, RuntimeError):  # a worker died since the last job: a fresh pool
            self._discard_pool()
            return self._executor().submit(analyse_dataset, self._payload(job))

    def _run(self, work: list[_Job], result: ScanResult, progress) -> None:
        limit = max(1, self.options.workers * 2)  # bounded in-flight work: memory stays flat on a burst
        pending: dict[Future, _Job] = {}
        queue = deque(work)
        self._paused = False
        if queue and progress is not None and hasattr(progress, "begin"):
            progress.begin(len(queue))
        while queue or pending:
            # after a deferral (full disk, locked store) the rest waits for a later scan: nothing is started
            while queue and len(pending) < limit and not self._paused and not self._stopping():
                job = queue.popleft()
                if not self._ledger(job.dataset.key, job.digest, "started"):
                    break
                _log(
                    self.logger,
                    "started",
                    dataset=job.dataset.key,
                    sha256=job.digest,
                    blank=None if job.blank is None else job.blank.key,
                )
                pending[self._submit(job)] = job
            if not pending:
                break
            done, _ = wait(pending, timeout=TICK_S, return_when=FIRST_COMPLETED)
            self._tick()
            for future in done:
                self._finish(future, pending.pop(future), result, progress)
            if pending and self._stopping() and self._grace_over():
                self._interrupt(pending, result, progress)
                break

    def _finish(self, future: Future, job: _Job, result: ScanResult, progress) -> None:
        try:
            outcome = future.result()
        except BrokenProcessPool as exc:  # a worker was killed (out of memory, by hand): retried with back-off
            outcome = {"state": "failed", "permanent": False, "error": f"the worker process died: {exc}"}
            self._discard_pool()
            self._sweep_temporaries()
        except Exception as exc:  # a bug: recorded, retried with back-off
            outcome = {"state": "failed", "permanent": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
        state = outcome["state"]
        permanent = outcome.get("permanent") if state in ("failed", "unassigned") else None
        self._ledger(
            job.dataset.key,
            job.digest,
            state,
            analysis_id=outcome.get("analysis_id"),
            error=outcome.get("error"),
            permanent=permanent,
        )
        if state == "deferred":
            self._paused = True
        _log(
            self.logger,
            state,
            dataset=job.dataset.key,
            sha256=job.digest,
            reports=outcome.get("reports", []),
            error=outcome.get("error"),
            verdict=outcome.get("verdict"),
            blank=outcome.get("blank"),
            blank_error=outcome.get("blank_error"),
        )
        {
            "done": result.analysed,
            "unassigned": result.unassigned,
            "deferred": result.deferred,
            "gone": result.gone,
            "changed": result.gone,
        }.get(state, result.failed).append(job.dataset.key)
        if progress is not None:
            progress(job.dataset, outcome)

    def _interrupt(self, pending: dict[Future, _Job], result: ScanResult, progress) -> None:
        self._discard_pool()
        for future, job in pending.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                self._finish(future, job, result, progress)  # finished just before the workers were ended
                continue
            outcome = {"state": "interrupted", "error": "the service stopped before the analysis finished"}
            self._ledger(job.dataset.key, job.digest, "interrupted", error=outcome["error"])
            _log(self.logger, "interrupted", dataset=job.dataset.key, sha256=job.digest)
            result.interrupted.append(job.dataset.key)
            if progress is not None:
                progress(job.dataset, outcome)
        pending.clear()
        self._sweep_temporaries()

    # ------------------------------------------------------------ running

    def _started(self, mode: str) -> None:
        _log(
            self.logger,
            "service-start",
            mode=mode,
            inboxes=[str(i) for i in self.options.inboxes],
            out=str(self.options.out),
            store=str(self.store.path),
            holder=self.holder,
            pid=os.getpid(),
        )

    def _stopped(self, result: ScanResult | None = None) -> None:
        _log(
            self.logger,
            "service-stop",
            reason=self.stop_reason or "finished",
            holder=self.holder,
            interrupted=len(result.interrupted) if result else 0,
        )

    def run_once(self, progress=None, wait_for_settle: bool = True) -> ScanResult:
        """Process what is there now; datasets still settling are waited for once."""
        restore = self._handle_signals()
        self._started("once")
        result = ScanResult()
        try:
            result = self.scan(progress)
            if wait_for_settle and result.waiting and not self._stopping():
                self._sleep(self.options.settle_s, wake=False)
                if not self._stopping():
                    result.merge(self.scan(progress))
        finally:
            self._close_pool()
            self._stopped(result)
            restore()
        if self.claim_lost is not None:
            raise self.claim_lost
        return result

    def run_forever(self, stop: threading.Event | None = None, progress=None) -> None:
        """Serve until `stop` is set, a stop signal or the stop file arrives."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if stop is not None:
            self.stop = stop
        watcher = self

        class Nudge(FileSystemEventHandler):
            def on_any_event(self, event):
                watcher.wake.set()

        restore = self._handle_signals()
        observer = PollingObserver(timeout=max(1.0, self.options.settle_s / 2)) if self.options.poll else Observer()
        for inbox in self.options.inboxes:
            observer.schedule(Nudge(), str(inbox), recursive=True)
        observer.start()
        self._started("service")
        interrupted = ScanResult()
        try:
            self._executor()
            while not self._stopping():
                try:
                    result = self.scan(progress)
                    interrupted.interrupted += result.interrupted
                except Exception as exc:  # keep serving: a share that vanished, a full disk...
                    _log(self.logger, "scan-error", error=f"{type(exc).__name__}: {exc}")
                    self._sleep(self.options.rescan_s, wake=False)
                    continue
                # something settling: look again shortly; else wait for an event or the rescan
                self._sleep(SETTLE_POLL_S if result.waiting else self.options.rescan_s)
        finally:
            self._close_pool()
            observer.stop()
            observer.join(10)
            self._stopped(interrupted)
            restore()
        if self.claim_lost is not None:
            raise self.claim_lost
