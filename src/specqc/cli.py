"""`specqc` command line: a thin shell over the library.

Exit status: 0 the command ran (whatever the verdict); 1 internal error;
2 unreadable/unsupported/invalid input, invalid route or option, usage error;
3 the package's own reference data is broken; 4 `records verify` found a
mismatch. Errors are one line on stderr.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import EXIT_INTERNAL, EXIT_VERIFY, InputError, SpecqcError
from .files import replace_atomically

if TYPE_CHECKING:  # imported where used, so that the command starts quickly
    from rich.progress import Progress, TaskID

    from .config import Settings
    from .lcms.params import LCMSParams


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
            click.echo(
                f"specqc: internal error: {type(exc).__name__}: {exc} (set SPECQC_DEBUG=1 for a traceback)", err=True
            )
            sys.exit(EXIT_INTERNAL)


@click.group(cls=SpecqcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="specqc")
def main() -> None:
    """QC of synthesis-stage LC-MS (and NMR) data along a route."""


REPORT_FORMATS = ("text", "json", "html", "pdf")
EXTENSION_FORMATS = {".txt": "text", ".json": "json", ".html": "html", ".htm": "html", ".pdf": "pdf"}
FORMAT_EXTENSIONS = {"text": ".txt", "json": ".json", "html": ".html", "pdf": ".pdf"}
# the readers' names (`specqc formats`), listed here so --help needs no reader import; a test keeps them equal
INPUT_FORMATS = ("mzml", "mzxml", "agilent-d", "waters-raw", "andi", "varian", "bruker", "bruker-zip", "jcamp")


class FormatList(click.ParamType):
    """A comma-separated list of report formats, each one of REPORT_FORMATS."""

    name = "[" + "|".join(REPORT_FORMATS) + "][,...]"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        chosen = tuple(part.strip().lower() for part in str(value).split(",") if part.strip())
        unknown = [part for part in chosen if part not in REPORT_FORMATS]
        if unknown or not chosen:
            self.fail(f"{value!r}: choose from {', '.join(REPORT_FORMATS)} (several joined by commas)", param, ctx)
        return tuple(dict.fromkeys(chosen))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--route",
    "route_ref",
    help="Built-in route id or route file path (default: from a sidecar "
    "JSON or the config; `specqc route list` names them).",
)
@click.option("--stage", "stage_id", help="Stage id of the route (default: from a sidecar JSON or the file name).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML file overriding thresholds and the file-name pattern.",
)
@click.option(
    "--format",
    "output_formats",
    type=FormatList(),
    default=None,
    help="Report format(s): text, json, html, pdf; several joined by commas with --output-dir "
    "(default: from the --output extension, else text).",
)
@click.option("--output", type=click.Path(path_type=Path), help="Write the report of one sample here.")
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write SAMPLE.EXT per sample and format here (created if missing).",
)
@click.option("--sample-per-file", is_flag=True, help="Each input is a sample of its own.")
@click.option(
    "--all-species",
    is_flag=True,
    help="Terminal report: list every route species, not only what was found and what the stage expects.",
)
@click.option(
    "--paper",
    type=click.Choice(["a4", "letter"], case_sensitive=False),
    default="a4",
    show_default=True,
    help="Paper size of a pdf report (printed by headless Chromium).",
)
@click.option("--force", is_flag=True, help="Replace an existing output file with different content.")
@click.option("--tolerance", help="m/z tolerance, e.g. '5 ppm' or '0.5 Da' (default: from the data).")
@click.option("--polarity", type=click.Choice(["auto", "positive", "negative"]), default="auto", show_default=True)
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS, case_sensitive=False),
    help="Force the reader (default: recognised from each file; `specqc formats` lists them).",
)
@click.option("--batch", help="Batch id (default: from a sidecar JSON or the file-name pattern).")
@click.option(
    "--blank",
    "blank_path",
    type=click.Path(path_type=Path),
    help="LC-MS run of a blank injection: its ions are background, and a route species it holds is "
    "reported in-blank, never detected.",
)
@click.option("--record", "record_it", is_flag=True, help="Store the analysis in the results store.")
@click.option(
    "--store",
    "store_path",
    metavar="PATH|URL",
    help="Results store: a file, sqlite:///PATH or postgresql://user@host[:port]/db (default: [store] "
    "path of the config, $SPECQC_STORE or the per-user data folder).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Samples analysed at once, each in a worker process started once (default: one per CPU core; "
    "one sample is always analysed in this process).",
)
def analyze(
    paths,
    route_ref,
    stage_id,
    config_path,
    output_formats,
    output,
    output_dir,
    sample_per_file,
    all_species,
    paper,
    force,
    tolerance,
    polarity,
    input_format,
    batch,
    blank_path,
    record_it,
    store_path,
    jobs,
):
    """Analyse the instrument files of one sample (or of several samples) at a stage.

    Several PATHS are one sample's measurements (its LC-MS run and its 1H NMR)
    unless they name sample ids (sidecar "sample", name pattern) or
    --sample-per-file is given; inputs that name different stages or batches
    are refused rather than merged.
    """
    from .config import load_settings
    from .grouping import group_inputs
    from .lcms.params import LCMSParams

    formats = _report_formats(output_formats, output, output_dir)
    settings = load_settings(config_path)
    params = LCMSParams().with_overrides(tolerance=tolerance, polarity=polarity)
    groups = group_inputs(
        list(paths), route_ref, stage_id, settings.name_pattern, settings.default_route, per_file=sample_per_file
    )
    if len(groups) > 1 and output is not None:
        raise InputError(
            f"{len(groups)} samples among the inputs ({', '.join(g.name for g in groups[:4])}"
            f"{' ...' if len(groups) > 4 else ''}): use --output-dir for one report each"
        )
    if len(groups) > 1 and output_dir is None and formats != ("text",):
        raise InputError(f"{len(groups)} samples among the inputs: a {formats[0]} report holds one; use --output-dir")
    # every sample is analysed and rendered before anything is written: a bad input leaves no partial output
    job = SampleJob(
        route_ref,
        stage_id,
        settings,
        batch,
        params,
        input_format,
        blank_path,
        formats,
        output,
        output_dir,
        all_species,
        paper,
        _text_style() if "text" in formats else (FILE_REPORT_WIDTH, False),
    )
    samples = [(group.name, group.paths) for group in groups]
    workers = min(jobs or _cpu_count(), len(samples))
    if workers > 1:
        outputs = _analyse_in_workers(job, samples, workers)
    else:
        outputs = [_analyse_sample(job, name, sample_paths) for name, sample_paths in samples]
    if output_dir is not None:
        if output_dir.exists() and not output_dir.is_dir():
            raise InputError("output path is not a folder", output_dir)
        if not output_dir.parent.exists():
            raise InputError("parent folder of --output-dir does not exist", output_dir.parent)
    for target, _, data in (item for _, _, rendered in outputs for item in rendered):
        if target is not None:
            _check_writable(target, data, force, folder_made_later=output_dir is not None)
    if output_dir is not None:
        output_dir.mkdir(exist_ok=True)
    for name, report, rendered in outputs:
        for target, kind, data in rendered:
            if target is None:
                if len(outputs) > 1:
                    click.echo(("=" * 8) + f" sample {name} " + ("=" * 8))
                click.echo(data, nl=False)
            else:
                _write_atomically(target, data, force)
                click.echo(f"specqc: {kind} report of {name} written to {target}", err=True)
        if record_it:
            _record(report, [(t, k) for t, k, _ in rendered if t is not None], store_path, settings)


@dataclass(frozen=True)
class SampleJob:
    """What `analyze` does to each sample, picklable for a worker process."""

    route_ref: str | None
    stage_id: str | None
    settings: Settings
    batch: str | None
    params: LCMSParams
    input_format: str | None
    blank: Path | None
    formats: tuple[str, ...]
    output: Path | None
    output_dir: Path | None
    all_species: bool
    paper: str
    text_style: tuple[int, bool]  # the terminal's width and colour, taken in the parent process


Rendered = list[tuple[Path | None, str, str | bytes]]


def _analyse_sample(job: SampleJob, name: str, paths: list[Path]) -> tuple[str, dict, Rendered]:
    """Analyse one sample and render every format asked for (nothing written yet)."""
    from .pipeline import analyze as run_analysis
    from .report.document import build_report

    analysis = run_analysis(
        paths,
        job.route_ref,
        job.stage_id,
        settings=job.settings,
        batch=job.batch,
        lcms_params=job.params,
        input_format=job.input_format,
        blank=job.blank,
    )
    report = build_report(analysis)
    rendered: Rendered = []
    for kind in job.formats:
        target = job.output_dir / f"{name}{FORMAT_EXTENSIONS[kind]}" if job.output_dir is not None else job.output
        rendered.append(
            (target, kind, _render(report, analysis, kind, target, job.all_species, job.paper, job.text_style))
        )
    return name, report, rendered


def _analyse_in_workers(
    job: SampleJob, samples: list[tuple[str, list[Path]]], workers: int
) -> list[tuple[str, dict, Rendered]]:
    """The samples over a pool of worker processes started once, results in input order.
    The first failing sample (in input order) stops the command, as it would one by one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawned, not forked: the same on every OS, and no lock of this process is inherited
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_analyse_sample, job, name, paths) for name, paths in samples]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:
        return os.cpu_count() or 1


def _text_style() -> tuple[int, bool]:
    from rich.console import Console

    return Console().width, sys.stdout.isatty()


def _report_formats(chosen: tuple | None, output: Path | None, output_dir: Path | None) -> tuple[str, ...]:
    """The formats asked for, checked against where they go: never text into `r.html`."""
    if output is not None and output_dir is not None:
        raise click.UsageError("give --output (one sample, one format) or --output-dir, not both")
    implied = EXTENSION_FORMATS.get(output.suffix.lower()) if output is not None else None
    if chosen is None:
        chosen = (implied or ("json" if output_dir is not None else "text"),)
    if output is not None:
        if len(chosen) > 1:
            raise click.UsageError("several formats need --output-dir (one file each)")
        if implied is not None and implied != chosen[0]:
            raise click.UsageError(f"--format {chosen[0]} does not match the extension of --output {output}")
    if output is None and output_dir is None:
        if len(chosen) > 1:
            raise click.UsageError("several formats need --output-dir (one file each)")
        if chosen[0] == "pdf":
            raise click.UsageError("a pdf report needs --output FILE.pdf or --output-dir")
    return chosen


def _render(
    report: dict,
    analysis,
    kind: str,
    target: Path | None,
    all_species: bool,
    paper: str = "a4",
    text_style: tuple[int, bool] | None = None,
) -> str | bytes:
    from .report.document import to_json

    if kind == "json":
        return to_json(report)
    if kind == "html":
        from .report.html import render_html

        return render_html(report, analysis)
    if kind == "pdf":
        from .report.html import render_html
        from .report.pdf import html_to_pdf

        return html_to_pdf(render_html(report, analysis), paper=paper)
    return _render_text(report, to_terminal=target is None, all_species=all_species, style=text_style)


def _check_writable(path: Path, data: str | bytes, force: bool, folder_made_later: bool) -> None:
    """The refusals of _write_atomically, made for every file before any is written."""
    encoded = data.encode("utf-8") if isinstance(data, str) else data
    if path.exists() and not force:
        if path.is_dir():
            raise InputError("output path is a folder", path)
        if path.read_bytes() != encoded:
            raise InputError("output file exists with different content (use --force to replace it)", path)
    if not folder_made_later and not path.parent.exists():
        raise InputError("output folder does not exist", path.parent)


def _record(report: dict, files: list[tuple[Path, str]], store_path, settings) -> None:
    from .config import store_settings
    from .records.store import Actor, Store

    configured = store_settings(settings)
    with Store(store_path or configured["path"], key_file=configured["key_file"]) as store:
        recorded = store.record(report, actor=Actor.current("cli"), report_files=files)
    note = (
        f"recorded {recorded.id} (revision {recorded.revision})"
        if recorded.new
        else f"already recorded as {recorded.id} (revision {recorded.revision})"
    )
    click.echo(f"specqc: {note} in {store.path}", err=True)


FILE_REPORT_WIDTH = 100


def _render_text(
    report: dict, to_terminal: bool, all_species: bool = False, style: tuple[int, bool] | None = None
) -> str:
    """Text report: as wide as the terminal (or COLUMNS) on stdout; FILE_REPORT_WIDTH in a file."""
    import io

    from rich.console import Console

    from .report.text import render

    # rich's own console knows the terminal's width, or COLUMNS when there is no terminal
    terminal_width, is_tty = style or _text_style()
    color = to_terminal and is_tty
    width = terminal_width if to_terminal else FILE_REPORT_WIDTH
    console = Console(width=width, record=True, force_terminal=color, file=io.StringIO())
    console.print(render(report, all_species=all_species, width=console.width))
    return console.export_text(styles=color)


@main.group()
def route() -> None:
    """Inspect routes: species, derived side products, ions, ring-size check."""


@route.command("list")
def route_list():
    """The built-in routes: id, name and stages (a route file path works wherever a route id does)."""
    from .chem.route import builtin_route_ids, load_route

    for route_id in builtin_route_ids():
        loaded = load_route(route_id)
        click.echo(f"{loaded.id:30s} {loaded.name}")
        click.echo(f"{'':30s} stages: {' -> '.join(s.id for s in loaded.stages)}")


@route.command("show")
@click.argument("route_ref")
@click.option("--polarity", type=click.Choice(["positive", "negative"]), default="positive", show_default=True)
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
        click.echo(
            f"  role {species.role}; {species.formula}; monoisotopic {species.monoisotopic_mass:.4f}; "
            f"{origin}; {species.smiles}"
        )
        click.echo("  per stage: " + ", ".join(f"{s.id} {labels[s.role_of(species.id)]}" for s in loaded.stages))
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
        click.echo(
            f"route {loaded.id}: OK ({len(loaded.species)} species, "
            f"{len(loaded.stages)} stages; ring closures give the product's ring size)"
        )
        return
    for issue in loaded.issues:
        click.echo(f"route {loaded.id}: {issue.level} at stage {issue.stage}: {issue.message}")


# the store option of the command groups whose subcommands all work on one store (records, users)
STORE_GROUP_OPTION = click.option(
    "--store",
    "store_path",
    metavar="PATH|URL",
    help="Results store: a file, sqlite:///PATH or postgresql://user@host[:port]/db (default: "
    "$SPECQC_STORE or the per-user data folder).",
)


@main.group()
@STORE_GROUP_OPTION
@click.pass_context
def records(ctx, store_path) -> None:
    """The results store: list, show, batch record, export, verify, migrate."""
    ctx.obj = {"store": store_path}


def _existing_store(location):
    """Open a store that must already be there (a named SQLite file is not created by reading it)."""
    from .records.engines import parse_location
    from .records.store import Store

    if location is not None:
        parsed = parse_location(location)
        if parsed.engine == "sqlite" and not parsed.file.exists():
            raise InputError("results store does not exist", parsed.file)
    return Store(location)


def _open_store(ctx):
    return _existing_store(ctx.obj["store"])


@records.command("list")
@click.option("--batch")
@click.option("--stage")
@click.option("--since", help="ISO date or date-time, e.g. 2026-11-01")
@click.option("--format", "list_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def records_list(ctx, batch, stage, since, list_format):
    """One line per stored analysis (or a JSON list)."""
    with _open_store(ctx) as store:
        rows = store.analyses(batch=batch, stage=stage, since=_since(since))
        if list_format == "json":
            import json

            digests = store.input_digests()
            listed = [
                {
                    "id": row["id"],
                    "sample": row["sample"],
                    "batch": row["batch"],
                    "route": row["route_id"],
                    "stage": row["stage"],
                    "revision": row["revision"],
                    "verdict": row["verdict"],
                    "analysed_at": row["recorded_at"],
                    "input_sha256": digests.get(row["id"], []),
                    "superseded_by": store.superseded_by(row["id"]),
                }
                for row in rows
            ]
            click.echo(json.dumps(listed, indent=2, ensure_ascii=False))
            return
        for row in rows:
            latest = "" if store.superseded_by(row["id"]) is None else "  (superseded)"
            click.echo(
                f"{row['id']}  {row['recorded_at']}  {row['batch'] or '-':12s} {row['sample']:28s} "
                f"{row['stage']:14s} r{row['revision']}  {row['verdict']:12s} {row['via']}{latest}"
            )
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
        click.echo(
            f"record {row['id']}: batch {row['batch']}, sample {row['sample']}, route {row['route_id']} "
            f"v{row['route_version']}, stage {row['stage']}, revision {row['revision']}"
            + (f" (supersedes {row['supersedes']})" if row["supersedes"] else "")
        )
        newer = store.superseded_by(row["id"])
        if newer:
            click.echo(f"superseded by {newer}")
        click.echo(f"verdict {row['verdict']}; purity {row['purity_pct']} ({row['purity_method']})")
        click.echo(
            f"recorded {row['recorded_at']} by {row['recorded_by']}@{row['host']} via {row['via']}; "
            f"specqc {row['specqc_version']}; report SHA-256 {row['report_sha256']}"
        )
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
    """The batch record: one row per stage with its latest verdict, and what the stage made
    (its intermediate, or the final product) with the amount named by how it was measured."""
    from .records.export import _stage_order, batch_records

    with _open_store(ctx) as store:
        rows = batch_records(store, batch)
    click.echo(f"batch {batch}")
    stages: dict[tuple[str, str], list[dict]] = {}
    for record in rows:
        stages.setdefault((record["route_id"], record["stage"]), []).append(record)
    for (route_id, stage), records in stages.items():
        current = [r for r in records if r["latest"]]
        # the store lists analyses in the order they were recorded; within one second that order decides
        latest = max(enumerate(current), key=lambda p: (p[1]["recorded_at"], p[1]["revision"], p[0]))[1]
        order = _stage_order(route_id)
        final = bool(order) and order.get(stage) == max(order.values())
        what = "product" if final else "intermediate"
        amount = _amount_label(latest)
        click.echo(
            f"{stage:14s} {latest['verdict']:12s} {latest['sample']}: {what} {latest['product'] or '-'} "
            f"{amount}; purity {_purity_label(latest)}; "
            f"diagnoses: {', '.join(d['id'] for d in latest['diagnoses']) or 'none'}"
        )
        for item in latest["report_files"]:
            click.echo(f"{'':14s} report {item['path']}")
        others = [r for r in current if r is not latest]
        if others:
            click.echo(f"{'':14s} other samples: " + ", ".join(f"{r['sample']} ({r['verdict']})" for r in others))
        older = [r["record_id"] for r in records if not r["latest"]]
        if older:
            click.echo(f"{'':14s} supersedes: {', '.join(older)}")


def _amount_label(record: dict) -> str:
    """The stage's main species' amount, named by its method (never a bare '%')."""
    parts = []
    if record["product_nmr_mol_pct"] is not None:
        parts.append(f"{record['product_nmr_mol_pct']:.1f} mol % by 1H NMR")
    if record["product_ms_area_pct"] is not None:
        parts.append(f"{record['product_ms_area_pct']:.1f} % of MS signal (semi-quantitative)")
    return "(" + "; ".join(parts) + ")" if parts else "(amount not measured)"


def _purity_label(record: dict) -> str:
    if record["purity_pct"] is None:
        return "not assessed"
    return f"{record['purity_pct']:.1f} % ({record['purity_method']})"


@records.command("export")
@click.option("--batch", help="One batch (default: every batch).")
@click.option("--since", help="Recorded from this ISO date or date-time, e.g. 2026-11-01.")
@click.option("--until", help="Recorded before this ISO date or date-time.")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "csv-long", "csv-values", "json", "xlsx"]),
    default="csv",
    show_default=True,
    help="csv: one row per analysis; csv-long: one per species; csv-values: one value per row (LIMS).",
)
@click.option("--output", type=click.Path(path_type=Path), help="File to write (default: stdout; required for xlsx).")
@click.option("--force", is_flag=True, help="Replace an existing output file with different content.")
@click.pass_context
def records_export(ctx, batch, since, until, export_format, output, force):
    """Export records: CSV (stage rows, csv-long: one row per species, csv-values: one value per row), JSON or
    XLSX; one batch, or every batch, optionally within a date range."""
    from .records import export

    with _open_store(ctx) as store:
        rows = export.batch_records(store, batch, since=_since(since), until=_since(until))
    batch = batch if batch is not None else "all"
    if export_format == "xlsx":
        if output is None:
            raise InputError("--output is required for xlsx")
        _write_atomically(output, export.to_xlsx(rows, batch), force)
        return
    text = (
        export.to_json(rows, batch)
        if export_format == "json"
        else export.to_csv(rows, export_format == "csv-long", values=export_format == "csv-values")
    )
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
        count = store.count_analyses()
    for problem in problems:
        click.echo(f"MISMATCH: {problem}")
    click.echo(f"{count} record(s) checked in {store.path}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    if problems:
        sys.exit(EXIT_VERIFY)


@records.command("migrate")
@click.option("--from", "source", required=True, metavar="PATH|URL", help="The store to copy (left as it is).")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="PATH|URL",
    help="A new store (a new file, or an empty PostgreSQL database).",
)
def records_migrate(source, target):
    """Copy a store into another (e.g. SQLite into PostgreSQL) with its audit chain intact."""
    from .records.engines import parse_location
    from .records.store import Actor, Store

    destination = parse_location(target)
    if parse_location(source).target == destination.target:
        raise InputError("--from and --to name the same store")
    new_file = destination.file if destination.engine == "sqlite" and not destination.file.exists() else None
    with _existing_store(source) as old:
        problems = old.verify()
        if problems:
            raise InputError(
                f"the store to copy does not verify ({len(problems)} problem(s), first: {problems[0]}); "
                "run `specqc records verify` on it",
                old.path,
            )
        try:
            with Store(target, _seal_migrations=False) as new:
                counts = new.copy_from(old, Actor.current("cli"))
                after = new.verify()
        except BaseException:
            if new_file is not None:  # no half-made store left behind
                for leftover in (new_file, Path(f"{new_file}-wal"), Path(f"{new_file}-shm")):
                    leftover.unlink(missing_ok=True)
            raise
    click.echo(
        f"copied {counts['analyses']} analyses, {counts['ledger']} ledger events and {counts['audit']} audit "
        f"rows from {old.path} to {new.path}; audit chain {'verified' if not after else 'BROKEN'}"
    )
    for problem in after:
        click.echo(f"MISMATCH: {problem}")
    if after:
        sys.exit(EXIT_VERIFY)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML config ([sample] route and name pattern, [thresholds], [store]).",
)
@click.option(
    "--store",
    "store_path",
    metavar="PATH|URL",
    help="Results store: a file, sqlite:///PATH or "
    "postgresql://user@host[:port]/db (default: [store] path of the config, $SPECQC_STORE, ...).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run on this Dask scheduler's workers (they must see the same paths and store).",
)
@click.option("--workers", type=int, help="Worker processes of the local Dask cluster (default: the cores here).")
def reprocess(paths, config_path, store_path, scheduler, workers):
    """Re-analyse archived runs with today's code and reference data (skipping runs already analysed so)."""
    from .config import load_settings, store_settings
    from .errors import ConfigError
    from .records.store import Store
    from .reprocess import find_runs, jobs_for, open_client, run

    if scheduler is not None and workers is not None:
        raise ConfigError("give --scheduler or --workers, not both")
    if workers is not None and workers < 1:
        raise ConfigError("--workers must be at least 1")
    settings = load_settings(config_path)
    configured = store_settings(settings)
    runs = find_runs(paths)
    if not runs:
        raise InputError("no instrument runs found under the given paths")
    with Store(store_path or configured["path"], key_file=configured["key_file"]) as store:  # checked, migrated
        location, shown = store.location.target, store.path
    jobs = jobs_for(runs, location, config_path, configured["key_file"] or os.environ.get("SPECQC_STORE_KEY_FILE"))
    client = open_client(scheduler, workers)
    try:
        with _ReprocessProgress(len(jobs)) as progress:
            summary = run(jobs, client, progress=progress)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and scheduler is None:
            cluster.close()
    _print_summary(summary, shown)


class _ReprocessProgress:
    """A progress bar with rate and ETA on a terminal; failures are printed as they come."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("reprocessing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = self.progress.add_task("runs", total=total, rate="")

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def __call__(self, outcome: dict) -> None:
        if outcome["state"] == "failed":
            self.progress.console.print(
                f"failed    {outcome['path']}: {outcome['error']}", highlight=False, markup=False
            )
        self.progress.advance(self.task)
        speed = self.progress.tasks[0].speed
        self.progress.update(self.task, rate=f"{speed:.1f} runs/s" if speed else "")


def _print_summary(summary, store) -> None:
    analysed, skipped, failed = summary.of("analysed"), summary.of("skipped"), summary.of("failed")
    click.echo(
        f"{len(summary.outcomes)} run(s): {len(analysed)} analysed, {len(skipped)} already analysed with "
        f"this version, parameters and reference data (skipped), {len(failed)} failed; store {store}"
    )
    if summary.verdict_changes:
        click.echo("verdict changed:")
        for outcome in summary.verdict_changes:
            click.echo(
                f"  {outcome.path}: {outcome.previous_verdict} -> {outcome.verdict} "
                f"({outcome.previous_id} -> {outcome.analysis_id})"
            )
            for change in outcome.changes[1:]:
                click.echo(f"      {change}")
    if summary.other_changes:
        click.echo("other changes (same verdict):")
        for outcome in summary.other_changes:
            click.echo(f"  {outcome.path} ({outcome.verdict}): " + "; ".join(outcome.changes))
    unchanged = [o for o in analysed if o.previous_id is not None and not o.changes]
    first = [o for o in analysed if o.previous_id is None]
    click.echo(
        f"{len(first)} analysed for the first time, {len(unchanged)} re-analysed without a change in "
        "verdict, checks, diagnoses, purity or species"
    )
    for outcome in failed:
        click.echo(f"failed: {outcome.path}: {outcome.error}")


WATCH_KEYS = {
    "settle_s": float,
    "stale_s": float,
    "rescan_s": float,
    "workers": int,
    "poll": bool,
    "backoff_s": float,
    "pair_window_s": float,
}


@main.command()
@click.argument("inboxes", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for reports (one subfolder per batch), the index and the log.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML config ([watch], [sample], [thresholds], [store]).",
)
@click.option(
    "--store",
    "store_path",
    metavar="PATH|URL",
    help="Results store (ledger and records): a file, sqlite:///PATH or postgresql://user@host[:port]/db.",
)
@click.option("--once", is_flag=True, help="Process what is there, then exit (for schedulers).")
@click.option("--poll", is_flag=True, default=None, help="Poll instead of file events (network shares).")
@click.option("--settle", "settle_s", type=float, help="Seconds a dataset must stay unchanged (default 10).")
@click.option("--workers", type=int, help="Analyses run in parallel (default 2).")
@click.option(
    "--route",
    "route_ref",
    help="Route of datasets nothing else assigns (sidecar, name pattern and "
    "[sample] route come first; `specqc route list` names them).",
)
@click.option("--stage", "stage_id", help="Stage of datasets whose sidecar, name pattern or file name names none.")
def watch(inboxes, out_dir, config_path, store_path, once, poll, settle_s, workers, route_ref, stage_id):
    """Analyse each finished acquisition that lands in INBOX, exactly once."""
    import threading

    from .config import load_settings
    from .errors import ConfigError
    from .watch.service import Watcher, WatchOptions

    settings = load_settings(config_path)
    options = WatchOptions(
        inboxes=list(inboxes), out=out_dir, config_path=config_path, default_route=route_ref, default_stage=stage_id
    )
    _check_route_and_stage(route_ref or settings.default_route, stage_id)
    section = settings.sections.get("watch", {})
    for key, value in section.items():
        kind = WATCH_KEYS.get(key)
        if kind is None or not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(
                f"[watch] {key!r} is not a known setting or has the wrong type (known: {', '.join(WATCH_KEYS)})",
                config_path,
            )
        setattr(options, key, kind(value))
    store_setting = settings.sections.get("store", {}).get("path")
    options.store_path = store_path or store_setting or None
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
            click.echo(
                f"done {len(result.analysed)}, failed {len(result.failed)}, unassigned "
                f"{len(result.unassigned)}, already done {result.skipped}, still incomplete "
                f"{len(result.waiting)}",
                err=True,
            )
        else:
            stop = threading.Event()
            try:
                watcher.run_forever(stop, progress=report)
            except KeyboardInterrupt:
                stop.set()
    finally:
        watcher.close()


def _check_route_and_stage(route_ref: str | None, stage_id: str | None) -> None:
    """A default the service would apply to every dataset is checked once, at start (exit 2)."""
    if stage_id is not None and route_ref is None:
        raise click.UsageError("--stage needs a route: give --route or [sample] route in the config")
    if route_ref is None:
        return
    from .chem.route import load_route

    loaded = load_route(route_ref)
    if stage_id is not None:
        loaded.stage(stage_id)


class _WatchProgress:
    """One line per finished dataset; on a terminal, a progress bar over the burst too."""

    def __init__(self, bar: bool):
        self.bar = bar
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self):
        if self.bar:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.progress = Progress(
                "{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
            )
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


@main.command("ledger")
@click.option(
    "--store",
    "store_path",
    metavar="PATH|URL",
    help="Results store: a file, sqlite:///PATH or postgresql://user@host[:port]/db.",
)
def ledger(store_path):
    """The watch service's ledger: datasets done, pending (started, not finished), failed, unassigned;
    and which service holds what (also `specqc status`)."""
    import time

    with _existing_store(store_path) as store:
        rows = store.ledger_summary()
        claims = store.claims()
    now = time.time()
    for claim in claims:
        left = claim.expires_at - now
        click.echo(
            f"held      {claim.resource} by {claim.holder} ({claim.describe()}; lease "
            + (f"{left:.0f} s left)" if left > 0 else f"expired {-left:.0f} s ago)")
        )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    click.echo(
        ", ".join(f"{state.replace('started', 'pending')} {count}" for state, count in sorted(counts.items()))
        or "ledger empty"
    )
    for row in rows:
        if row["state"] != "done":
            click.echo(
                f"{row['state'].replace('started', 'pending'):10s} {row['at']}  {row['dataset']}"
                + (f"  [{row['holder']}]" if row["holder"] else "")
                + (f"  {row['error']}" if row["error"] else "")
            )


@main.command()
@click.option(
    "--store",
    "store_path",
    metavar="PATH|URL",
    help="Results store: a file, sqlite:///PATH or "
    "postgresql://user@host[:port]/db (default: $SPECQC_STORE or the per-user data folder).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; beyond loopback needs accounts and TLS.",
)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls-cert", type=click.Path(path_type=Path), help="TLS certificate (PEM) to serve HTTPS.")
@click.option("--tls-key", type=click.Path(path_type=Path), help="Its private key (PEM).")
@click.option(
    "--behind-tls-proxy",
    is_flag=True,
    help="A TLS-terminating proxy is in front (cookies marked Secure, forwarded headers trusted).",
)
def serve(store_path, host, port, tls_cert, tls_key, behind_tls_proxy):
    """The QC dashboard in a browser: batches, analyses, plots, trends, the watch ledger, sign-off."""
    from .web.server import serve as run_server

    run_server(
        store_path,
        host,
        port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        behind_tls_proxy=behind_tls_proxy,
        on_ready=lambda url: click.echo(f"specqc: serving the dashboard at {url} (Ctrl-C stops)", err=True),
    )


@main.group()
@STORE_GROUP_OPTION
@click.pass_context
def users(ctx, store_path) -> None:
    """Accounts of the dashboard: reviewers sign analyses off, viewers read."""
    ctx.obj = {"store": store_path}


def _new_password(name: str) -> str:
    """Asked twice on a terminal; else the first line of standard input (for scripts)."""
    if sys.stdin.isatty():
        return click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        raise InputError("no password on standard input")
    return line.rstrip("\r\n")


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["reviewer", "viewer"]))
@click.pass_context
def users_add(ctx, name, role):
    """Add an account (password prompted, or read from standard input)."""
    from .records import reviews
    from .records.store import Actor

    reviews.check_name(name)
    with _open_store(ctx) as store:
        account = reviews.add_user(store, name, role, _new_password(name), Actor.current("cli"))
    click.echo(f"specqc: account {account.name} ({account.role}) added to {store.path}", err=True)


@users.command("passwd")
@click.argument("name")
@click.pass_context
def users_passwd(ctx, name):
    """Give an account a new password."""
    from .records import reviews
    from .records.store import Actor

    with _open_store(ctx) as store:
        reviews.set_password(store, name, _new_password(name), Actor.current("cli"))
    click.echo(f"specqc: new password for {name}", err=True)


@users.command("disable")
@click.argument("name")
@click.pass_context
def users_disable(ctx, name):
    """Disable an account (its past signatures stay)."""
    from .records import reviews
    from .records.store import Actor

    with _open_store(ctx) as store:
        reviews.disable_user(store, name, Actor.current("cli"))
    click.echo(f"specqc: account {name} disabled", err=True)


@users.command("list")
@click.pass_context
def users_list(ctx):
    """Accounts with their role and state."""
    from .records import reviews

    with _open_store(ctx) as store:
        found = reviews.accounts(store)
    for account in found:
        click.echo(f"{account.name:24s} {account.role:9s} {'active' if account.active else 'disabled'}")
    if not found:
        click.echo("no accounts", err=True)


# the ledger's older name, kept so scripts that call it still work
main.add_command(
    click.Command(
        "status",
        callback=ledger.callback,
        params=ledger.params,
        help="Same as `specqc ledger`: the watch service's ledger of datasets.",
    )
)


@main.command("formats")
def formats_command():
    """List the instrument formats specqc reads."""
    from .readers import REGISTRY

    for entry in REGISTRY:
        kind = "folder" if entry.directory else ", ".join(entry.extensions)
        click.echo(f"{entry.name:10s} {entry.technique:5s} {kind:18s} {entry.description}")


if __name__ == "__main__":  # pragma: no cover
    main()
