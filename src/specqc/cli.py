"""`specqc` command line: a thin shell over the library.

Exit status: 0 the command ran (whatever the verdict); 1 internal error;
2 unreadable/unsupported/invalid input, invalid route or option, usage error;
3 the package's own reference data is broken; 4 `records verify` found a
mismatch. Errors are one line on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .errors import EXIT_INTERNAL, EXIT_VERIFY, InputError, SpecqcError
from .files import replace_atomically


def _fail(error: SpecqcError) -> None:
    click.echo(f"specqc: error: {error.one_line()}", err=True)
    sys.exit(error.exit_code)


def _write_atomically(path: Path, text: str | bytes, force: bool) -> None:
    """Write via a temporary file and rename; never silently replace different content."""
    path = Path(path)
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.exists() and not force:
        if path.is_dir():
            raise InputError("output path is a folder", path)
        if path.read_bytes() != data:
            raise InputError("output file exists with different content (use --force to replace it)", path)
        return
    if not path.parent.exists():
        raise InputError("output folder does not exist", path.parent)
    replace_atomically(path, data)


class SpecqcGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SpecqcError as exc:
            _fail(exc)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except BrokenPipeError:  # e.g. `specqc route show X | head`: the reader left
            sys.stderr = open(os.devnull, "w")
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("specqc: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: one line, no traceback unless asked
            if os.environ.get("SPECQC_DEBUG"):
                raise
            click.echo(f"specqc: internal error: {type(exc).__name__}: {exc} "
                       "(set SPECQC_DEBUG=1 for a traceback)", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=SpecqcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="specqc")
def main() -> None:
    """QC of synthesis-stage LC-MS (and NMR) data along a route."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--route", "route_ref", help="Built-in route id or route file path (default: from a sidecar "
              "JSON or the config).")
@click.option("--stage", "stage_id", help="Stage id of the route (default: from a sidecar JSON or the file name).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="TOML file overriding thresholds and the file-name pattern.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Write the report here instead of stdout.")
@click.option("--force", is_flag=True, help="Replace an existing output file with different content.")
@click.option("--tolerance", help="m/z tolerance, e.g. '5 ppm' or '0.5 Da' (default: from the data).")
@click.option("--polarity", type=click.Choice(["auto", "positive", "negative"]), default="auto",
              show_default=True)
@click.option("--input-format", help="Force the reader (e.g. mzml, mzxml).")
@click.option("--batch", help="Batch id (default: from a sidecar JSON or the file-name pattern).")
@click.option("--blank", "blank_path", type=click.Path(path_type=Path),
              help="LC-MS run of a blank injection: its ions are background, and a route species it holds is "
                   "reported in-blank, never detected.")
@click.option("--record", "record_it", is_flag=True, help="Store the analysis in the results store.")
@click.option("--store", "store_path", type=click.Path(path_type=Path),
              help="Results store file (default: $SPECQC_STORE or the per-user data folder).")
def analyze(paths, route_ref, stage_id, config_path, output_format, output, force, tolerance, polarity,
            input_format, batch, blank_path, record_it, store_path):
    """Analyse the instrument files of one sample at one stage."""
    from .config import load_settings
    from .lcms.params import LCMSParams
    from .pipeline import analyze as run_analysis
    from .report.document import build_report, to_json

    settings = load_settings(config_path)
    params = LCMSParams().with_overrides(tolerance=tolerance, polarity=polarity)
    analysis = run_analysis(list(paths), route_ref, stage_id, settings=settings, batch=batch, lcms_params=params,
                            input_format=input_format, blank=blank_path)
    report = build_report(analysis)
    if output_format == "json":
        text = to_json(report)
    elif output_format == "html":
        from .report.html import render_html

        text = render_html(report, analysis)
    else:
        text = _render_text(report, width=None if output is None else 120, color=output is None)
    if output is not None:
        _write_atomically(output, text, force)
    if record_it:
        from .records.store import Actor, Store

        files = [(output, output_format)] if output is not None else []
        with Store(store_path) as store:
            recorded = store.record(report, actor=Actor.current("cli"), report_files=files)
        note = (f"recorded {recorded.id} (revision {recorded.revision})" if recorded.new
                else f"already recorded as {recorded.id} (revision {recorded.revision})")
        click.echo(f"specqc: {note} in {store.path}", err=True)
    if output is None:
        click.echo(text, nl=False)


def _render_text(report: dict, width: int | None, color: bool) -> str:
    from rich.console import Console

    from .report.text import render

    import io

    console = Console(width=width or 120, record=True, force_terminal=color and sys.stdout.isatty(),
                      file=io.StringIO())
    console.print(render(report))
    return console.export_text(styles=color and sys.stdout.isatty())


@main.group()
def route() -> None:
    """Inspect routes: species, derived side products, ions, ring-size check."""


@route.command("show")
@click.argument("route_ref")
@click.option("--polarity", type=click.Choice(["positive", "negative"]), default="positive",
              show_default=True)
def route_show(route_ref, polarity):
    """Every species with formula, mass, and the ions searched per stage."""
    from .chem.ions import target_ions
    from .chem.route import load_route

    from .nmr.references import NMR_REFERENCE_NOTE, nmr_reference_lines, reference_set

    loaded = load_route(route_ref)
    references = reference_set(loaded.id, frozenset(s.id for s in loaded.species))
    click.echo(f"{loaded.name} (route {loaded.id}, version {loaded.version}, {loaded.source})")
    click.echo("stages: " + " -> ".join(s.id for s in loaded.stages))
    labels = {"main": "MAIN", "impurity": "impurity", "not-applicable": "n/a"}
    for species in loaded.species:
        origin = f"derived by {species.derived_by}" if species.derived_by else "declared"
        click.echo(f"\n{species.name}  [{species.id}]")
        click.echo(f"  role {species.role}; {species.formula}; monoisotopic {species.monoisotopic_mass:.4f}; "
                   f"{origin}; {species.smiles}")
        click.echo("  per stage: " + ", ".join(f"{s.id} {labels[s.role_of(species.id)]}"
                                               for s in loaded.stages))
        ions = target_ions(species, polarity)
        click.echo(f"  ions searched ({polarity}): " + ", ".join(f"{i.ion} {i.mz:.4f}" for i in ions))
        for line in nmr_reference_lines(references, species.id):
            click.echo(line)
    click.echo("\n" + NMR_REFERENCE_NOTE)
    for issue in loaded.issues:
        click.echo(f"\nroute check ({issue.stage}): {issue.message}")


@route.command("check")
@click.argument("route_ref")
def route_check(route_ref):
    """Validate a route file and check that each ring closure gives the product's ring size."""
    from .chem.route import load_route

    loaded = load_route(route_ref)
    if not loaded.issues:
        click.echo(f"route {loaded.id}: OK ({len(loaded.species)} species, "
                   f"{len(loaded.stages)} stages; ring closures give the product's ring size)")
        return
    for issue in loaded.issues:
        click.echo(f"route {loaded.id}: {issue.level} at stage {issue.stage}: {issue.message}")


@main.group()
@click.option("--store", "store_path", type=click.Path(path_type=Path),
              help="Results store file (default: $SPECQC_STORE or the per-user data folder).")
@click.pass_context
def records(ctx, store_path) -> None:
    """The results store: list, show, batch record, export, verify."""
    ctx.obj = {"store": store_path}


def _open_store(ctx):
    from .records.store import Store

    path = ctx.obj["store"]
    if path is not None and not Path(path).exists():
        raise InputError("results store does not exist", path)
    return Store(path)


@records.command("list")
@click.option("--batch")
@click.option("--stage")
@click.option("--since", help="ISO date or date-time, e.g. 2026-11-01")
@click.pass_context
def records_list(ctx, batch, stage, since):
    """One line per stored analysis."""
    with _open_store(ctx) as store:
        rows = store.analyses(batch=batch, stage=stage, since=_since(since))
        for row in rows:
            latest = "" if store.superseded_by(row["id"]) is None else "  (superseded)"
            click.echo(f"{row['id']}  {row['recorded_at']}  {row['batch'] or '-':12s} {row['sample']:28s} "
                       f"{row['stage']:14s} r{row['revision']}  {row['verdict']:12s} {row['via']}{latest}")
        if not rows:
            click.echo("no records", err=True)


def _since(value):
    if value is None:
        return None
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date") from exc
    return moment.isoformat() if moment.tzinfo else moment.astimezone().isoformat(timespec="seconds")


@records.command("show")
@click.argument("record_id")
@click.pass_context
def records_show(ctx, record_id):
    """Everything stored for one analysis."""
    with _open_store(ctx) as store:
        row = store.analysis(record_id)
        click.echo(f"record {row['id']}: batch {row['batch']}, sample {row['sample']}, route {row['route_id']} "
                   f"v{row['route_version']}, stage {row['stage']}, revision {row['revision']}"
                   + (f" (supersedes {row['supersedes']})" if row["supersedes"] else ""))
        newer = store.superseded_by(row["id"])
        if newer:
            click.echo(f"superseded by {newer}")
        click.echo(f"verdict {row['verdict']}; purity {row['purity_pct']} ({row['purity_method']})")
        click.echo(f"recorded {row['recorded_at']} by {row['recorded_by']}@{row['host']} via {row['via']}; "
                   f"specqc {row['specqc_version']}; report SHA-256 {row['report_sha256']}")
        for item in store.rows("inputs", row["id"]):
            click.echo(f"input {item['path']} [{item['technique']}/{item['format']}] {item['sha256']}")
        for item in store.rows("report_files", row["id"]):
            click.echo(f"report {item['path']} [{item['format']}] {item['sha256']}")
        for item in store.rows("checks", row["id"]):
            click.echo(f"check {item['check_id']}: {item['status']} - {item['detail']}")
        for item in store.rows("diagnoses", row["id"]):
            click.echo(f"diagnosis {item['diagnosis_id']} ({item['severity']}): {item['title']}")


@records.command("batch")
@click.argument("batch")
@click.pass_context
def records_batch(ctx, batch):
    """The batch record: one row per stage with its latest verdict."""
    from .records.export import batch_records

    with _open_store(ctx) as store:
        rows = batch_records(store, batch)
    click.echo(f"batch {batch}")
    for record in rows:
        if not record["latest"]:
            continue
        older = [r["record_id"] for r in rows if r["stage"] == record["stage"] and r["sample"] == record["sample"]
                 and not r["latest"]]
        product = record["product_ms_area_pct"] if record["product_ms_area_pct"] is not None \
            else record["product_nmr_mol_pct"]
        click.echo(f"{record['stage']:14s} {record['verdict']:12s} {record['sample']:28s} "
                   f"product {product if product is not None else '-'} %  "
                   f"purity {record['purity_pct'] if record['purity_pct'] is not None else '-'}  "
                   f"diagnoses: {', '.join(d['id'] for d in record['diagnoses']) or 'none'}")
        for item in record["report_files"]:
            click.echo(f"{'':14s} report {item['path']}")
        if older:
            click.echo(f"{'':14s} supersedes: {', '.join(older)}")


@records.command("export")
@click.option("--batch", required=True)
@click.option("--format", "export_format", type=click.Choice(["csv", "csv-long", "json", "xlsx"]), default="csv",
              show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="File to write (default: stdout; required for xlsx).")
@click.option("--force", is_flag=True, help="Replace an existing output file with different content.")
@click.pass_context
def records_export(ctx, batch, export_format, output, force):
    """Export a batch: CSV (stage rows, or csv-long: one row per species), JSON or XLSX."""
    from .records import export

    with _open_store(ctx) as store:
        rows = export.batch_records(store, batch)
    if export_format == "xlsx":
        if output is None:
            raise InputError("--output is required for xlsx")
        _write_atomically(output, export.to_xlsx(rows, batch), force)
        return
    text = export.to_json(rows, batch) if export_format == "json" else export.to_csv(rows, export_format == "csv-long")
    if output is not None:
        _write_atomically(output, text, force)
    else:
        click.echo(text, nl=False)


@records.command("verify")
@click.pass_context
def records_verify(ctx):
    """Re-hash stored reports and the files still present; check the audit chain. Exit 4 on any mismatch."""
    with _open_store(ctx) as store:
        problems = store.verify()
        count = store.connection.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]
    for problem in problems:
        click.echo(f"MISMATCH: {problem}")
    click.echo(f"{count} record(s) checked in {store.path}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    if problems:
        sys.exit(EXIT_VERIFY)


WATCH_KEYS = {"settle_s": float, "stale_s": float, "rescan_s": float, "workers": int, "poll": bool,
              "backoff_s": float}


@main.command()
@click.argument("inboxes", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for reports (one subfolder per batch), the index and the log.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config ([watch], [sample], "
              "[thresholds], [store]).")
@click.option("--store", "store_path", type=click.Path(path_type=Path), help="Results store (ledger and records).")
@click.option("--once", is_flag=True, help="Process what is there, then exit (for schedulers).")
@click.option("--poll", is_flag=True, default=None, help="Poll instead of file events (network shares).")
@click.option("--settle", "settle_s", type=float, help="Seconds a dataset must stay unchanged (default 10).")
@click.option("--workers", type=int, help="Analyses run in parallel (default 2).")
def watch(inboxes, out_dir, config_path, store_path, once, poll, settle_s, workers):
    """Analyse each finished acquisition that lands in INBOX, exactly once."""
    import threading

    from .config import load_settings
    from .errors import ConfigError
    from .watch.service import Watcher, WatchOptions

    settings = load_settings(config_path)
    options = WatchOptions(inboxes=list(inboxes), out=out_dir, config_path=config_path)
    section = settings.sections.get("watch", {})
    for key, value in section.items():
        kind = WATCH_KEYS.get(key)
        if kind is None or not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(f"[watch] {key!r} is not a known setting or has the wrong type "
                              f"(known: {', '.join(WATCH_KEYS)})", config_path)
        setattr(options, key, kind(value))
    store_setting = settings.sections.get("store", {}).get("path")
    options.store_path = store_path or (Path(store_setting) if store_setting else None)
    if poll is not None:
        options.poll = poll
    if settle_s is not None:
        options.settle_s = settle_s
    if workers is not None:
        options.workers = workers
    if options.workers < 1 or options.settle_s < 0:
        raise ConfigError("workers must be at least 1 and the settle time not negative")
    for inbox in inboxes:
        if not inbox.is_dir():
            raise InputError("inbox folder does not exist", inbox)
    watcher = Watcher(options)
    report = _WatchProgress(bar=once and sys.stderr.isatty())
    try:
        if once:
            with report:
                result = watcher.run_once(progress=report)
            click.echo(f"done {len(result.analysed)}, failed {len(result.failed)}, unassigned "
                       f"{len(result.unassigned)}, already done {result.skipped}, still incomplete "
                       f"{len(result.waiting)}", err=True)
        else:
            stop = threading.Event()
            try:
                watcher.run_forever(stop, progress=report)
            except KeyboardInterrupt:
                stop.set()
    finally:
        watcher.close()


class _WatchProgress:
    """One line per finished dataset; on a terminal, a progress bar over the burst too."""

    def __init__(self, bar: bool):
        self.bar, self.progress, self.task = bar, None, None

    def __enter__(self):
        if self.bar:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.progress = Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                     transient=True)
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def begin(self, total: int) -> None:
        if self.progress is not None:
            self.task = self.progress.add_task("analysing", total=total)

    def __call__(self, dataset, outcome) -> None:
        line = f"{outcome['state']:10s} {dataset.path}"
        if outcome.get("verdict"):
            line += f" -> {outcome['verdict']}"
        if outcome.get("error"):
            line += f" ({outcome['error']})"
        if self.progress is not None and self.task is not None:
            self.progress.console.print(line, highlight=False, markup=False)
            self.progress.advance(self.task)
        else:
            click.echo(line, err=True)


@main.command()
@click.option("--store", "store_path", type=click.Path(path_type=Path), help="Results store file.")
def status(store_path):
    """The watch ledger: datasets done, pending (started, not finished), failed, unassigned."""
    from .records.store import Store

    if store_path is not None and not Path(store_path).exists():
        raise InputError("results store does not exist", store_path)
    with Store(store_path) as store:
        rows = store.ledger_summary()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    click.echo(", ".join(f"{state.replace('started', 'pending')} {count}" for state, count in sorted(counts.items()))
               or "ledger empty")
    for row in rows:
        if row["state"] != "done":
            click.echo(f"{row['state'].replace('started', 'pending'):10s} {row['at']}  {row['dataset']}"
                       + (f"  {row['error']}" if row["error"] else ""))


@main.command("formats")
def formats_command():
    """List the instrument formats specqc reads."""
    from .readers import REGISTRY

    for entry in REGISTRY:
        kind = "folder" if entry.directory else ", ".join(entry.extensions)
        click.echo(f"{entry.name:10s} {entry.technique:5s} {kind:18s} {entry.description}")


if __name__ == "__main__":  # pragma: no cover
    main()
