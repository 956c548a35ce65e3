"""Which batch, route and stage a measurement belongs to, and how we know.

In order: what the caller said (--route/--stage), a sidecar JSON next to the
data (`<name>.json` beside a file or folder, or `specqc.json` inside a dataset
folder), the configured file-name pattern, then the route's own stage ids
found as whole words in the file name. The answer records where each value
came from, so the report can show it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .config import check_name_pattern
from .errors import ConfigError, InputError

SIDECAR_INSIDE = "specqc.json"
SIDECAR_KEYS = ("batch", "stage", "route", "sample")


@dataclass(frozen=True)
class SampleInfo:
    route: str | None
    stage: str | None
    batch: str | None
    sample: str | None
    sources: dict  # field -> where it came from

    def as_dict(self) -> dict:
        return {
            "route": self.route,
            "stage": self.stage,
            "batch": self.batch,
            "sample": self.sample,
            "sources": dict(sorted(self.sources.items())),
        }


def sidecar_path(path: Path) -> Path | None:
    candidates = [path.parent / f"{path.name}.json", path.with_suffix(".json")]
    if path.is_dir():
        candidates.insert(0, path / SIDECAR_INSIDE)
    for candidate in candidates:
        if candidate != path and candidate.is_file() and not candidate.name.endswith(".truth.json"):
            return candidate
    return None


def read_sidecar(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"sidecar is not readable JSON: {exc}", path) from exc
    if not isinstance(document, dict):
        raise InputError("sidecar must be a JSON object", path)
    found = {}
    for key in SIDECAR_KEYS:
        value = document.get(key)
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"sidecar field {key!r} must be a non-empty string", path)
            found[key] = value.strip()
    return found


def dataset_name(path: Path) -> str:
    """The name a chemist gave the acquisition: a Bruker experiment number is named with its folder."""
    name = path.name
    if name.isdigit() and path.parent.name:
        name = f"{path.parent.name}-{name}"
    for suffix in (".mzML", ".mzXML", ".mzml", ".mzxml", ".zip", ".jdx", ".dx", ".D", ".raw", ".fid"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def identify(
    paths: list[Path],
    route: str | None = None,
    stage: str | None = None,
    name_pattern: str | None = None,
    default_route: str | None = None,
    stage_ids_of=None,
    batch: str | None = None,
    default_stage: str | None = None,
) -> SampleInfo:
    """Fill route/stage/batch from the caller, sidecars and file names.

    `stage_ids_of(route)` gives the stage ids of a route, for the last resort
    of finding a stage id as a word of the file name.
    """
    values: dict[str, str] = {}
    sources: dict[str, str] = {}

    def offer(key: str, value: str | None, source: str) -> None:
        if value and key not in values:
            values[key], sources[key] = value, source

    offer("route", route, "--route option")
    offer("stage", stage, "--stage option")
    offer("batch", batch, "--batch option")
    for path in paths:
        sidecar = sidecar_path(Path(path))
        if sidecar is not None:
            for key, value in read_sidecar(sidecar).items():
                if key in values and values[key] != value and sources[key].startswith("sidecar"):
                    raise InputError(
                        f"sidecars disagree on {key}: {values[key]!r} ({sources[key]}) and {value!r}", sidecar
                    )
                offer(key, value, f"sidecar {sidecar}")
    names = [dataset_name(Path(p)) for p in paths]
    if name_pattern:
        compiled = check_name_pattern(name_pattern, "config")
        for name in names:
            match = compiled.search(name)
            if match:
                for key, value in match.groupdict().items():
                    offer(key, value, f"file name {name!r} (pattern {name_pattern})")
    offer("route", default_route, "config [sample] route")
    if "stage" not in values and "route" in values and stage_ids_of is not None:
        stage_ids = stage_ids_of(values["route"])
        for name in names:
            hits = sorted(s for s in stage_ids if re.search(rf"(?<![a-z]){re.escape(s)}(?![a-z])", name.lower()))
            if len(hits) == 1:
                offer("stage", hits[0], f"file name {name!r} (stage id of route {values['route']})")
            elif len(hits) > 1:
                raise ConfigError(f"file name {name!r} names several stages ({', '.join(hits)}); give --stage")
    offer("stage", default_stage, "default stage (watch --stage)")
    return SampleInfo(values.get("route"), values.get("stage"), values.get("batch"), values.get("sample"), sources)
