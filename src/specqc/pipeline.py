"""The thin pipeline behind `specqc analyze`: read each input, analyse it by
its technique, assess the stage, and hand the typed results to the renderers.
No printing, no exiting."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .chem.route import Route, Stage, load_route
from .config import Settings, load_settings
from .diagnose.evidence import gather
from .diagnose.rules import assess
from .errors import ConfigError, InputError, InternalError, SpecqcError, with_path
from .lcms.analysis import analyze_lcms
from .lcms.params import LCMSParams
from .lcms.signals import ms1_collector
from .model import LCMSRun, NMRData
from .nmr.analysis import analyze_nmr
from .nmr.process import NMRParams
from .provenance import sha256_of
from .readers import find_reader
from .results import Analysis, InputRecord
from .sampleinfo import SampleInfo, identify
from .uv.analysis import analyze_uv


def resolve_sample(
    paths: list[Path], route_ref: str | None, stage_id: str | None, settings: Settings, batch: str | None = None
) -> tuple[SampleInfo, Route, Stage]:
    """Route and stage from the caller, a sidecar or the file name; an error if none says.
    The route is loaded (and its side products derived) once."""
    loaded: dict[str, Route] = {}

    def route_of(reference: str) -> Route:
        if reference not in loaded:
            loaded[reference] = load_route(reference)
        return loaded[reference]

    info = identify(
        paths,
        route_ref,
        stage_id,
        settings.name_pattern,
        settings.default_route,
        stage_ids_of=lambda ref: [s.id for s in route_of(ref).stages],
        batch=batch,
        default_stage=settings.default_stage,
    )
    if info.route is None:
        raise ConfigError('no route: give --route, a sidecar JSON with "route", or [sample] route in the config')
    if info.stage is None:
        raise ConfigError(
            f'no stage: give --stage, a sidecar JSON with "stage", or a file name holding one '
            f"stage id of route {info.route}"
        )
    route = route_of(info.route)
    return info, route, route.stage(info.stage)


def read_blank(path: str | Path, input_format: str | None = None) -> tuple[LCMSRun, InputRecord]:
    """A blank injection's run, to tell the sample's own signals from the system's."""
    path = Path(path)
    entry = find_reader(path, input_format)
    try:
        model = entry.load(path, ms1_collector=ms1_collector() if entry.technique == "lcms" else None)
        if entry.technique != "lcms" or not isinstance(model, LCMSRun) or not model.has_ms1():
            raise InputError("a blank must be an LC-MS run with MS1 spectra")
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
    return model, InputRecord(str(path), sha256_of(path), model.technique, entry.name, role="blank")


def analyze(
    paths: Sequence[str | Path],
    route_ref: str | None = None,
    stage_id: str | None = None,
    *,
    settings: Settings | None = None,
    batch: str | None = None,
    lcms_params: LCMSParams | None = None,
    nmr_params: NMRParams | None = None,
    input_format: str | None = None,
    progress=None,
    blank: str | Path | None = None,
) -> Analysis:
    """Analyse the measurements of one sample at one stage of a route.

    ``blank``: an LC-MS run of a blank injection on the same system; an ion it
    holds at a comparable time and intensity is background for every LC-MS run
    of the sample, and a route species it holds is reported ``in-blank``.
    """
    if not paths:
        raise InputError("no input given")
    files = [Path(p) for p in paths]
    settings = settings or load_settings()
    sample, route, stage = resolve_sample(files, route_ref, stage_id, settings, batch)
    retention = settings.retention_windows(route)  # a window for a species the route lacks fails before any reading
    lcms_params = (lcms_params or LCMSParams()).validated()
    nmr_params = (nmr_params or NMRParams()).validated()
    analysis = Analysis(route=route, stage=stage, inputs=[], params={}, settings=settings, sample=sample)
    uv_params = settings.uv_params()
    blank_run = None
    if blank is not None:
        blank_run, blank_record = read_blank(blank, input_format)
    for path in files:
        entry = find_reader(path, input_format)
        try:
            model = entry.load(path, ms1_collector=ms1_collector() if entry.technique == "lcms" else None)
            record = InputRecord(
                str(path), sha256_of(path), model.technique, entry.name, acquisition=acquisition_of(model)
            )
            if entry.technique == "lcms":
                if not isinstance(model, LCMSRun):  # a reader gives the model of its technique
                    raise InternalError(f"the {entry.name} reader gave no LC-MS run")
                model.require_signal()
                result = analyze_lcms(model, route, stage, lcms_params, blank=blank_run)
                check_tolerance_supported(lcms_params, result)
                analysis.lcms.append(result)
                if model.has_uv or model.chromatograms:
                    uv = analyze_uv(model, result.species_apex_min(), result.polarity, uv_params)
                    if uv is not None:
                        analysis.uv.append(uv)
            elif entry.technique == "nmr":
                if not isinstance(model, NMRData):
                    raise InternalError(f"the {entry.name} reader gave no NMR dataset")
                analysis.nmr.append(analyze_nmr(model, route, stage, nmr_params))
            else:
                raise InputError(f"{entry.technique} analysis is not available for this input")
        except SpecqcError as exc:
            raise with_path(exc, path) from exc
        analysis.inputs.append(record)
        if progress:
            progress(path)
    if blank_run is not None:
        if not analysis.lcms:
            raise InputError("a blank was given but the sample has no LC-MS run to compare it with", blank)
        analysis.inputs.append(blank_record)
    if analysis.lcms:
        analysis.params["lcms"] = analysis.lcms[0].params
    if analysis.uv:
        analysis.params["uv"] = analysis.uv[0].params
    if analysis.nmr:
        analysis.params["nmr"] = analysis.nmr[0].params
    analysis.params["qc"] = settings.effective()
    evidence = gather(route, stage, analysis.lcms, analysis.nmr, analysis.uv)
    evidence.retention = retention
    analysis.assessment = assess(evidence, settings.thresholds)
    analysis.reference_data = reference_data_versions(route, with_nmr=bool(analysis.nmr))
    return analysis


def acquisition_of(model) -> dict:
    """Instrument, method and acquisition time as the file records them ("" where it does not)."""
    instrument = getattr(model, "instrument", None)
    metadata = getattr(model, "metadata", None) or {}
    if instrument is not None:
        name = " ".join(part for part in (instrument.vendor, instrument.model) if part).strip()
        software = instrument.software
    else:  # an NMR spectrum: the spectrometer's frequency names it
        mhz = getattr(model, "spectrometer_mhz", None)
        name = f"{getattr(model, 'nucleus', '1H')} NMR {mhz:.0f} MHz" if mhz else ""
        software = ""
    method = metadata.get("method") or getattr(model, "pulse_program", "") or ""
    return {
        "instrument": name,
        "software": software or "",
        "method": str(method),
        "acquired": str(getattr(model, "acquisition_date", "") or ""),
    }


# m/z window a test of presence needs at least: half the data-derived window at unit resolution (nominal
# masses, 0.1 Da bins, mass defects of a few tenths), the narrowest data-derived window at high resolution
UNIT_RESOLUTION_FLOOR_FRACTION = 0.5
FLOOR_MZ = 100.0  # where a ppm tolerance is turned into Da for the comparison (the low end of the species' ions)


def check_tolerance_supported(params: LCMSParams, result) -> None:
    """A tolerance the caller set far below what the run's resolution supports would
    silently turn found species into not-found: refuse it (InputError, exit 2)."""
    if params.tolerance == "auto" or result.resolution is None or result.polarity is None:
        return
    from .lcms.params import Tolerance

    asked = Tolerance.parse(params.tolerance)
    if result.resolution.high:
        floor = Tolerance(params.min_tolerance_ppm, "ppm")
        what = "high-resolution run"
    else:
        floor = Tolerance(params.unit_res_tolerance_da * UNIT_RESOLUTION_FLOOR_FRACTION, "Da")
        what = "unit-resolution run (nominal masses)"
    if asked.da(FLOOR_MZ) < floor.da(FLOOR_MZ) * (1 - 1e-9):
        raise InputError(
            f"--tolerance {params.tolerance} is below what this {what} supports; use at least "
            f"{floor} or leave --tolerance out (chosen from the data)"
        )


def reference_data_versions(route: Route, with_nmr: bool) -> dict[str, str]:
    """Versions of every reference table an analysis of this route used."""
    from .diagnose.knowledge import catalogue, qc_table
    from .reference import reference_versions

    versions = {
        **reference_versions(include_nmr=with_nmr),
        f"route:{route.id}": route.version,
        "diagnoses": catalogue().version,
        "qc": qc_table().version,
    }
    if with_nmr:
        from .nmr.references import reference_set

        versions[f"reference_spectra:{route.id}"] = reference_set(
            route.id, frozenset(s.id for s in route.species)
        ).version
    return versions
