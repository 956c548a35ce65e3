"""Re-analysing an archive with today's code and reference data, on Dask.

Each run is one task: hash the input, skip it when the store already holds an
analysis of the same content made by this specqc version with the same
effective parameters and reference-data versions (so a second pass does
nothing), else analyse it and record the analysis. The store's record ids are
derived from content, so a task run twice (a worker killed mid-task is
retried by the scheduler) still stores the analysis once. A run that fails is
reported and the rest go on.

Tasks run on a `distributed` cluster: a LocalCluster on this machine's cores,
or an existing scheduler (`tcp://host:port`) whose workers see the same paths
and the same store. What changed against each run's previous analysis is
returned per run, for the summary a QC lead reads after a reference update.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, InputError, InternalError, SpecqcError

TASK_RETRIES = 2  # on top of the scheduler's own re-run of tasks whose worker died
NMR_KINDS = frozenset({"bruker", "varian", "jcamp", "bruker-zip"})


@dataclass
class RunOutcome:
    path: str
    state: str  # "analysed" | "skipped" | "failed"
    analysis_id: str | None = None
    previous_id: str | None = None
    verdict: str | None = None
    previous_verdict: str | None = None
    changes: list[str] = field(default_factory=list)  # what differs from the previous analysis
    error: str | None = None

    @property
    def verdict_changed(self) -> bool:
        return self.previous_verdict is not None and self.verdict != self.previous_verdict


@dataclass
class Summary:
    outcomes: list[RunOutcome]

    def of(self, state: str) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.state == state]

    @property
    def verdict_changes(self) -> list[RunOutcome]:
        return [o for o in self.of("analysed") if o.verdict_changed]

    @property
    def other_changes(self) -> list[RunOutcome]:
        return [o for o in self.of("analysed") if o.changes and not o.verdict_changed]


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """The acquisitions under each path (a run file or dataset folder, or a folder of them), each once."""
    from .watch.datasets import FILE_SUFFIXES, FOLDER_SUFFIXES, discover

    runs: dict[str, Path] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise InputError("no such file or folder", path)
        if (
            path.is_file()
            or path.suffix.lower() in FOLDER_SUFFIXES
            or (path / "acqus").exists()
            or (path / "fid").exists()
        ):
            if path.is_file() and path.suffix.lower() not in FILE_SUFFIXES:
                raise InputError("not an instrument file specqc reads (see `specqc formats`)", path)
            found = [path]
        else:
            found = [dataset.path for dataset in discover(path)]
        for run in found:
            runs.setdefault(str(run.resolve()), run)
    return list(runs.values())


def fingerprint(settings, route, with_nmr: bool) -> dict:
    """What makes an analysis today's: the specqc version, the effective
    parameters (as the report states them) and the reference-data versions."""
    from . import __version__
    from .pipeline import reference_data_versions

    effective = {k: v for k, v in settings.effective().items() if k != "source"}
    return {
        "specqc_version": __version__,
        "parameters": effective,
        "reference_data": reference_data_versions(route, with_nmr),
    }


def _matches(row, wanted: dict) -> bool:
    import json

    if row["specqc_version"] != wanted["specqc_version"]:
        return False
    if json.loads(row["reference_data_json"]) != wanted["reference_data"]:
        return False
    stated = dict(json.loads(row["parameters_json"]).get("qc") or {})
    stated.pop("source", None)
    return stated == wanted["parameters"]


_open_stores: dict[tuple, object] = {}  # per worker process: one connection per store


def _store(job: dict):
    from .records.store import Store

    key = (job["store"], job.get("key_file"))
    store = _open_stores.get(key)
    if store is None:
        store = _open_stores[key] = Store(job["store"], key_file=job.get("key_file"))
    return store


def reprocess_run(job: dict) -> dict:
    """One run (in a Dask worker, or in this process): skipped, analysed and
    recorded, or failed. Never raises for the run's or the store's fault."""
    try:
        return _reprocess(job)
    except SpecqcError as exc:
        return {"path": job["path"], "state": "failed", "error": exc.one_line()}


def _reprocess(job: dict) -> dict:
    from .chem.route import load_route
    from .config import load_settings
    from .pipeline import analyze
    from .provenance import sha256_of
    from .records.store import Actor, sample_name
    from .report.document import build_report
    from .sampleinfo import identify
    from .watch.service import assign

    path = Path(job["path"])
    settings = load_settings(job["config"])
    assign(path, settings)
    try:
        digest = sha256_of(path)
    except OSError as exc:
        raise InputError(f"cannot be read: {exc.strerror or exc}", path) from exc
    info = identify(
        [path],
        None,
        None,
        settings.name_pattern,
        settings.default_route,
        stage_ids_of=lambda ref: [s.id for s in load_route(ref).stages],
    )
    if info.route is None:  # assign refused it above
        raise InternalError("no route for a file assign accepted", path)
    wanted = fingerprint(settings, load_route(info.route), job["kind"] in NMR_KINDS)
    store = _store(job)
    for row in store.analyses_with_input(digest):
        if row["stage"] == info.stage and row["route_id"] == load_route(info.route).id and _matches(row, wanted):
            return {"path": job["path"], "state": "skipped", "analysis_id": row["id"], "verdict": row["verdict"]}
    report = build_report(analyze([path], settings=settings))
    fields = report["sample"]
    previous = store.latest_analysis(
        fields.get("batch"), sample_name(report), report["route"]["stage"], report["route"]["id"]
    )
    recorded = store.record(report, actor=Actor.current("reprocess"))
    outcome = {"path": job["path"], "state": "analysed", "analysis_id": recorded.id, "verdict": report["qc"]["verdict"]}
    if previous is not None and previous["id"] != recorded.id:
        import json

        outcome["previous_id"] = previous["id"]
        outcome["previous_verdict"] = previous["verdict"]
        outcome["changes"] = changes(json.loads(previous["report_json"]), report)
    return outcome


def changes(before: dict, after: dict) -> list[str]:
    """What a QC lead reads: verdict, checks, diagnoses, purity, species statuses."""
    found = []
    if before["qc"]["verdict"] != after["qc"]["verdict"]:
        found.append(f"verdict {before['qc']['verdict']} -> {after['qc']['verdict']}")
    checks_before = {c["id"]: c["status"] for c in before["qc"]["checks"]}
    checks_after = {c["id"]: c["status"] for c in after["qc"]["checks"]}
    for check in sorted(set(checks_before) | set(checks_after)):
        if checks_before.get(check) != checks_after.get(check):
            found.append(f"check {check} {checks_before.get(check, 'absent')} -> {checks_after.get(check, 'absent')}")
    diagnoses_before = {d["id"] for d in before["diagnoses"]}
    diagnoses_after = {d["id"] for d in after["diagnoses"]}
    found += [f"diagnosis {d} new" for d in sorted(diagnoses_after - diagnoses_before)]
    found += [f"diagnosis {d} gone" for d in sorted(diagnoses_before - diagnoses_after)]
    purity_before = (before["qc"].get("purity") or {}).get("value_pct")
    purity_after = (after["qc"].get("purity") or {}).get("value_pct")
    if purity_before != purity_after:
        found.append(f"purity {purity_before} -> {purity_after} %")
    status_before = {s["id"]: s.get("status") for s in before["species"]}
    for species in after["species"]:
        old = status_before.get(species["id"])
        if old is not None and old != species.get("status"):
            found.append(f"species {species['id']} {old} -> {species.get('status')}")
    ref_before, ref_after = before.get("reference_data", {}), after.get("reference_data", {})
    found += [
        f"reference {name} {ref_before.get(name)} -> {ref_after.get(name)}"
        for name in sorted(set(ref_before) | set(ref_after))
        if ref_before.get(name) != ref_after.get(name)
    ]
    return found


def jobs_for(runs: list[Path], store_location: str, config: str | Path | None, key_file=None) -> list[dict]:
    from .watch.datasets import FILE_SUFFIXES, FOLDER_SUFFIXES

    def kind(path: Path) -> str:
        if path.is_dir():
            return FOLDER_SUFFIXES.get(path.suffix.lower(), "bruker")
        return FILE_SUFFIXES[path.suffix.lower()]

    return [
        {
            "path": str(run.resolve()),
            "kind": kind(run),
            "store": store_location,
            "config": None if config is None else str(Path(config).resolve()),
            "key_file": None if key_file is None else str(key_file),
        }
        for run in runs
    ]


def open_client(scheduler: str | None = None, workers: int | None = None):
    """A `distributed` client: on the scheduler at `tcp://host:port`, or on a
    LocalCluster of `workers` processes (default: this machine's cores), one
    thread each (the analysis is CPU-bound Python)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError("reprocess needs dask distributed: pip install 'specqc[server]'") from exc
    if scheduler is not None:
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            raise ConfigError(f"--scheduler {scheduler!r} is not a scheduler address (tcp://host:port)")
        try:
            return Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"no Dask scheduler answers at {scheduler}: {exc}") from exc
    import dask

    count = workers or os.cpu_count() or 1
    # the workers' statistical profiler samples every task's stack every 10 ms: about 6 % of each
    # analysis's CPU time, for a dashboard this cluster does not serve
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(
            n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
    return Client(cluster)


def run(jobs: list[dict], client=None, progress: Callable[[dict], None] | None = None) -> Summary:
    """Every job once (on `client`, or here one after another when None); `progress` hears of each outcome."""
    results: list[dict] = []
    if client is None:
        for job in jobs:
            outcome = reprocess_run(job)
            results.append(outcome)
            if progress:
                progress(outcome)
    else:
        from distributed import as_completed

        futures = client.map(reprocess_run, jobs, retries=TASK_RETRIES, pure=False)
        where = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a bug, or a worker that died on every try: this run only
                outcome = {
                    "path": where[future.key]["path"],
                    "state": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            results.append(outcome)
            if progress:
                progress(outcome)
    order = {job["path"]: position for position, job in enumerate(jobs)}
    results.sort(key=lambda o: order.get(o["path"], len(order)))
    return Summary([RunOutcome(**o) for o in results])
