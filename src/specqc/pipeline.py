"""The thin pipeline behind `specqc analyze`: read each input, run the analysis
for its technique, and assemble one report. No printing, no exiting."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .chem.route import Route, Stage, load_route
from .config import Settings, load_settings
from .errors import ConfigError, InputError, SpecqcError, with_path
from .lcms.analysis import LCMSResult, analyze_lcms
from .lcms.params import LCMSParams
from .nmr.analysis import NMRResult, analyze_nmr
from .nmr.process import NMRParams
from .provenance import sha256_of
from .readers import find_reader
from .sampleinfo import SampleInfo, identify
from .uv.analysis import analyze_uv


@dataclass
class InputRecord:
    path: str
    sha256: str
    technique: str
    format: str


@dataclass
class Analysis:
    route: Route
    stage: Stage
    inputs: list[InputRecord]
    lcms: list[LCMSResult] = field(default_factory=list)
    nmr: list[NMRResult] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    settings: Settings | None = None
    sample: SampleInfo | None = None
    specqc_version: str = __version__


def resolve_sample(paths: list[Path], route_ref: str | None, stage_id: str | None,
                   settings: Settings, batch: str | None = None) -> tuple[SampleInfo, Route]:
    """Route and stage from the caller, a sidecar or the file name; an error if none says.
    The route is loaded (and its side products derived) once."""
    loaded: dict[str, Route] = {}

    def route_of(reference: str) -> Route:
        if reference not in loaded:
            loaded[reference] = load_route(reference)
        return loaded[reference]

    info = identify(paths, route_ref, stage_id, settings.name_pattern, settings.default_route,
                    stage_ids_of=lambda ref: [s.id for s in route_of(ref).stages], batch=batch)
    if info.route is None:
        raise ConfigError("no route: give --route, a sidecar JSON with \"route\", or [sample] route in the config")
    if info.stage is None:
        raise ConfigError(f"no stage: give --stage, a sidecar JSON with \"stage\", or a file name holding one "
                          f"stage id of route {info.route}")
    return info, route_of(info.route)


def analyze(paths: list[str | Path], route_ref: str | None = None, stage_id: str | None = None, *,
            settings: Settings | None = None, batch: str | None = None, lcms_params: LCMSParams | None = None,
            nmr_params: NMRParams | None = None, input_format: str | None = None, progress=None) -> Analysis:
    """Analyse the measurements of one sample at one stage of a route."""
    if not paths:
        raise InputError("no input given")
    paths = [Path(p) for p in paths]
    settings = settings or load_settings()
    sample, route = resolve_sample(paths, route_ref, stage_id, settings, batch)
    stage = route.stage(sample.stage)
    lcms_params = (lcms_params or LCMSParams()).validated()
    nmr_params = (nmr_params or NMRParams()).validated()
    analysis = Analysis(route=route, stage=stage, inputs=[], params={}, settings=settings, sample=sample)
    uv_params = settings.uv_params()
    for path in paths:
        entry = find_reader(path, input_format)
        try:
            model = entry.load(path)
            record = InputRecord(str(path), sha256_of(path), model.technique, entry.name)
            if entry.technique == "lcms":
                result = analyze_lcms(model, route, stage, lcms_params)
                if model.has_uv or model.chromatograms:
                    result.uv = analyze_uv(model, result.species_apex_min(), result.polarity, uv_params)
                analysis.lcms.append(result)
            elif entry.technique == "nmr":
                analysis.nmr.append(analyze_nmr(model, route, stage, nmr_params))
            else:
                raise InputError(f"{entry.technique} analysis is not available for this input")
        except SpecqcError as exc:
            raise with_path(exc, path) from exc
        analysis.inputs.append(record)
        if progress:
            progress(path)
    if analysis.lcms:
        analysis.params["lcms"] = analysis.lcms[0].params
        uv_runs = [run.uv for run in analysis.lcms if run.uv is not None]
        if uv_runs:
            analysis.params["uv"] = uv_runs[0].params
    if analysis.nmr:
        analysis.params["nmr"] = analysis.nmr[0].params
    analysis.params["qc"] = settings.effective()
    return analysis
