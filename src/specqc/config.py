"""User configuration: one TOML file that overrides the shipped defaults.

    [thresholds]            # any key of data/qc.toml [thresholds]
    purity_min_pct = 97.5

    [sample]                # how to read batch/stage/route from a file name
    name_pattern = '^(?P<batch>[^_]+)_(?P<stage>[a-z-]+)'
    route = "diazepan-2-one"

    [uv]                    # any field of specqc.uv.params.UVParams
    wavelengths_nm = [210, 254]
    detector_offset_min = 0.03   # MS time - UV time; leave out to estimate it

    [store]                 # the results store
    path = "/var/lib/specqc/records.sqlite"
    key_file = "/etc/specqc/store.key"   # site key signing the audit chain (else $SPECQC_STORE_KEY_FILE)
    busy_timeout_s = 60     # how long a write waits for another process's transaction

    [blank]                 # watch service: the blank run for each sample
    pattern = '(?i)blank'   # datasets whose name matches are blanks, not samples

    [retention.diazepan-2-one]      # this LC method's elution windows (min), per route species
    aminopropyl-glycinate = [1.4, 1.9]   # "absent" needs enough MS1 scans inside the window

Unknown keys are errors, not silently ignored: a misspelt threshold would
otherwise leave the default in force without anyone noticing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

SECTIONS = ("thresholds", "sample", "uv", "watch", "store", "blank", "report", "retention")
SAMPLE_KEYS = ("name_pattern", "route")
STORE_KEYS = ("path", "key_file", "busy_timeout_s")
BLANK_KEYS = ("pattern",)


@dataclass(frozen=True)
class Settings:
    thresholds: dict[str, float]
    name_pattern: str | None = None
    default_route: str | None = None
    default_stage: str | None = None  # the last resort after sidecar, name pattern and file name (watch --stage)
    source: str = "defaults"
    sections: dict = field(default_factory=dict)  # other sections, for the commands that own them
    uv: dict = field(default_factory=dict)  # UVParams overrides
    # route id -> species id -> (first, last) minute of the LC method's elution window
    retention: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    def effective(self) -> dict:
        effective = {
            "source": self.source,
            "thresholds": dict(sorted(self.thresholds.items())),
            "name_pattern": self.name_pattern,
            "default_route": self.default_route,
            "uv": dict(sorted(self.uv.items())),
        }
        if self.retention:  # only when given, so reports without it keep their parameters unchanged
            effective["retention"] = {
                route: {s: list(w) for s, w in sorted(windows.items())}
                for route, windows in sorted(self.retention.items())
            }
        return effective

    def retention_windows(self, route) -> dict[str, tuple[float, float]]:
        """The elution windows the config gives for this route's species; a species
        the route does not have is a config error, not a window silently unused."""
        windows = self.retention.get(route.id, {})
        known = {s.id for s in route.species}
        unknown = sorted(set(windows) - known)
        if unknown:
            raise ConfigError(
                f"[retention.{route.id}] {unknown[0]!r} is not a species of route {route.id}", self.source
            )
        return windows

    def uv_params(self):
        from .uv.params import UVParams

        return UVParams().with_overrides(**self.uv)


def default_settings() -> Settings:
    from .diagnose.knowledge import qc_table

    return Settings(thresholds=dict(qc_table().thresholds))


def load_settings(path: str | Path | None = None) -> Settings:
    """The defaults, overridden by the config file at `path` when one is given."""
    defaults = default_settings()
    if path is None:
        return defaults
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("config file not found", path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file cannot be read: {exc}", path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file is not valid TOML: {exc}", path) from exc
    unknown = set(document) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section {sorted(unknown)[0]!r} (known: {', '.join(SECTIONS)})", path)
    thresholds = dict(defaults.thresholds)
    for key, value in document.get("thresholds", {}).items():
        if key not in thresholds:
            raise ConfigError(
                f"[thresholds] {key!r} is not a known threshold (known: {', '.join(sorted(thresholds))})", path
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"[thresholds] {key} must be a non-negative number", path)
        thresholds[key] = float(value)
    sample = document.get("sample", {})
    unknown = set(sample) - set(SAMPLE_KEYS)
    if unknown:
        raise ConfigError(f"[sample] {sorted(unknown)[0]!r} is not a known key (known: {', '.join(SAMPLE_KEYS)})", path)
    pattern = sample.get("name_pattern")
    if pattern is not None:
        check_name_pattern(pattern, path)
    route = sample.get("route")
    if route is not None and not isinstance(route, str):
        raise ConfigError("[sample] route must be a route id or route file path", path)
    uv = _uv_overrides(document.get("uv", {}), path)
    _check_store(document.get("store", {}), path)
    _check_blank(document.get("blank", {}), path)
    operator = document.get("report", {}).get("operator")
    if set(document.get("report", {})) - {"operator"} or (operator is not None and not isinstance(operator, str)):
        raise ConfigError("[report] knows one key, operator (a name, as a string)", path)
    return Settings(
        thresholds=thresholds,
        name_pattern=pattern,
        default_route=route,
        source=str(path),
        sections={k: v for k, v in document.items() if k in ("watch", "store", "blank", "report")},
        uv=uv,
        retention=_retention(document.get("retention", {}), path),
    )


def _retention(section, path: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """[retention.ROUTE] tables of species id = [first, last] minute."""
    windows: dict[str, dict[str, tuple[float, float]]] = {}
    for route_id, table in section.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"[retention] {route_id!r} must be a table [retention.{route_id}] of species = [first, last] minutes",
                path,
            )
        for species_id, window in table.items():
            if (
                not isinstance(window, list)
                or len(window) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in window)
                or not 0 <= window[0] < window[1]
            ):
                raise ConfigError(
                    f"[retention.{route_id}] {species_id} must be [first, last] minutes with 0 <= first < last", path
                )
            windows.setdefault(route_id, {})[species_id] = (float(window[0]), float(window[1]))
    return windows


def _check_store(section: dict, path: Path) -> None:
    unknown = set(section) - set(STORE_KEYS)
    if unknown:
        raise ConfigError(f"[store] {sorted(unknown)[0]!r} is not a known key (known: {', '.join(STORE_KEYS)})", path)
    for key in ("path", "key_file"):
        if key in section and (not isinstance(section[key], str) or not section[key]):
            raise ConfigError(f"[store] {key} must be a file path", path)
    timeout = section.get("busy_timeout_s")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError("[store] busy_timeout_s must be a positive number of seconds", path)


def _check_blank(section: dict, path: Path) -> None:
    unknown = set(section) - set(BLANK_KEYS)
    if unknown:
        raise ConfigError(f"[blank] {sorted(unknown)[0]!r} is not a known key (known: {', '.join(BLANK_KEYS)})", path)
    if "pattern" in section:
        if not isinstance(section["pattern"], str) or not section["pattern"]:
            raise ConfigError("[blank] pattern must be a regular expression", path)
        try:
            re.compile(section["pattern"])
        except re.error as exc:
            raise ConfigError(f"[blank] pattern is not a valid regular expression: {exc}", path) from exc


def store_settings(settings: Settings) -> dict:
    """[store] of the config (already checked): path, key_file, busy_timeout_s, each None when not given."""
    section = settings.sections.get("store", {})
    return {key: section.get(key) for key in STORE_KEYS}


def blank_pattern(settings: Settings) -> re.Pattern | None:
    """[blank] pattern of the config, compiled (already checked); None when not given."""
    pattern = settings.sections.get("blank", {}).get("pattern")
    return re.compile(pattern) if pattern else None


def _uv_overrides(section: dict, path: Path) -> dict:
    """[uv] keys checked against UVParams, so a typo or a bad value stops here."""
    from dataclasses import fields

    from .uv.params import UVParams

    known = {f.name: f for f in fields(UVParams)}
    for key, value in section.items():
        if key not in known:
            raise ConfigError(f"[uv] {key!r} is not a known key (known: {', '.join(sorted(known))})", path)
        if isinstance(value, bool) != (key == "max_plot") or isinstance(value, str):
            raise ConfigError(f"[uv] {key} has the wrong type", path)
    try:
        UVParams().with_overrides(**section)
    except ConfigError as exc:
        raise ConfigError(exc.message, path) from exc
    except TypeError as exc:
        raise ConfigError(f"[uv] {exc}", path) from exc
    return dict(section)


def check_name_pattern(pattern, where) -> re.Pattern:
    if not isinstance(pattern, str):
        raise ConfigError("[sample] name_pattern must be a string", where)
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"[sample] name_pattern is not a valid regular expression: {exc}", where) from exc
    if "stage" not in compiled.groupindex:
        raise ConfigError("[sample] name_pattern needs a named group (?P<stage>...)", where)
    unknown = set(compiled.groupindex) - {"stage", "batch", "route", "sample"}
    if unknown:
        raise ConfigError(
            f"[sample] name_pattern group {sorted(unknown)[0]!r} is not one of stage, batch, route, sample", where
        )
    return compiled
