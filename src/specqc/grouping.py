"""Which of several inputs belong to one sample.

`specqc analyze` takes several paths. They are one sample's measurements (its
LC-MS run and its 1H NMR) unless they say otherwise: inputs that name a sample
id (sidecar ``"sample"``, or a ``(?P<sample>...)`` group of the configured
name pattern) are grouped by it, and ``per_file`` makes every input its own
sample. A group whose inputs name different stages, batches or routes cannot
be one sample and is refused, so a wildcard over a folder of stages is never
merged into one verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .sampleinfo import SampleInfo, dataset_name, identify


@dataclass(frozen=True)
class InputGroup:
    name: str  # the sample id, or the first input's dataset name; unique among the groups
    paths: list[Path]


def group_inputs(
    paths: list[Path],
    route: str | None,
    stage: str | None,
    name_pattern: str | None,
    default_route: str | None,
    per_file: bool = False,
) -> list[InputGroup]:
    """The samples among ``paths``, in the order given; InputError when inputs
    put together (no sample ids) cannot be one sample."""
    from .chem.route import load_route

    routes: dict = {}

    def stage_ids_of(reference: str) -> list[str]:
        if reference not in routes:
            routes[reference] = [s.id for s in load_route(reference).stages]
        return routes[reference]

    paths = [Path(p) for p in paths]
    if per_file:
        return _unique([(dataset_name(p), [p]) for p in paths])
    own: dict[Path, SampleInfo] = {}
    for path in paths:  # what each file says of itself; the options do not speak for the files here
        own[path] = identify([path], route, None, name_pattern, default_route, stage_ids_of=stage_ids_of)
    named = [p for p in paths if own[p].sample]
    if named and len(named) < len(paths):
        lacking = next(p for p in paths if not own[p].sample)
        raise InputError(
            'some inputs name their sample and this one does not: give it a sidecar with "sample" '
            "or use --sample-per-file",
            lacking,
        )
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(own[path].sample or "", []).append(path)
    result = []
    for sample_id, members in groups.items():
        if stage is None:
            _refuse_mixed(members, own, "stage", sample_id)
        _refuse_mixed(members, own, "batch", sample_id)
        if route is None:
            _refuse_mixed(members, own, "route", sample_id)
        result.append((sample_id or dataset_name(members[0]), members))
    return _unique(result)


def _refuse_mixed(members: list[Path], own: dict[Path, SampleInfo], key: str, sample_id: str) -> None:
    values: dict[str, list[Path]] = {}
    for path in members:
        value = getattr(own[path], key)
        if value:
            values.setdefault(value, []).append(path)
    if len(values) < 2:
        return
    named = "; ".join(f"{key} {value}: {_listed(found)}" for value, found in values.items())
    whose = f"inputs of sample {sample_id!r}" if sample_id else f"these {len(members)} inputs"
    raise InputError(
        f"{whose} cannot be one sample: they name different {key}s ({named}); use --sample-per-file, "
        'or give each sample its id (sidecar "sample" or a (?P<sample>...) name pattern)'
    )


def _listed(paths: list[Path]) -> str:
    names = [p.name for p in paths]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _unique(groups: list[tuple[str, list[Path]]]) -> list[InputGroup]:
    """Groups with names unique case-insensitively (they name report files)."""
    seen: set[str] = set()
    result = []
    for name, members in groups:
        candidate, number = name, 1
        while candidate.lower() in seen:
            number += 1
            candidate = f"{name}-{number}"
        seen.add(candidate.lower())
        result.append(InputGroup(candidate, members))
    return result
