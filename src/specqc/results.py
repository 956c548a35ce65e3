"""Typed results of one analysis, as the pipeline hands them to the renderers.

The data flows read → analyse → assess → render: the pipeline fills an
:class:`Analysis` (per-technique results and the stage :class:`Assessment`),
and ``specqc.report`` only renders it. Nothing here computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .chem.route import Route, Stage
    from .config import Settings
    from .diagnose.evidence import SampleEvidence
    from .lcms.analysis import LCMSResult
    from .nmr.analysis import NMRResult
    from .sampleinfo import SampleInfo
    from .uv.analysis import UVResult


@dataclass
class InputRecord:
    path: str
    sha256: str
    technique: str
    format: str
    role: str = "sample"  # sample | blank
    acquisition: dict | None = None  # what the file says of itself: instrument, method, acquired (when it says)


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: str  # pass | fail | not-assessed
    detail: str
    guide_ref: str
    limit: str | None = None  # the acceptance criterion in force, as text ("< 0.5 % MS area; ..."), None if qualitative

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "guide_ref": self.guide_ref,
            "limit": self.limit,
        }


@dataclass
class Diagnosis:
    id: str
    title: str
    severity: str
    evidence: list[str]
    cause: str
    fixes: list[str]
    fix_refs: list[str]
    guide_refs: list[str]
    species: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "evidence": self.evidence,
            "cause": self.cause,
            "fixes": self.fixes,
            "fix_refs": self.fix_refs,
            "guide_refs": self.guide_refs,
            "species": self.species,
        }


@dataclass(frozen=True)
class PurityFigure:
    value_pct: float
    method: str
    judged: bool  # counts for the purity check
    note: str = ""  # e.g. a co-eluting compound found by DAD peak purity


@dataclass
class Assessment:
    """The stage's verdict and what it rests on: the combined species evidence,
    the checks, the diagnoses and the purity figures."""

    verdict: str
    checks: list[CheckResult]
    diagnoses: list[Diagnosis]
    disagreements: list[str]
    stage_kinds: list[str]
    evidence: SampleEvidence | None = None
    purity: list[PurityFigure] = field(default_factory=list)

    def judged_purity(self) -> PurityFigure | None:
        """The figure the purity check used: the most conservative of those judged."""
        return min((f for f in self.purity if f.judged), key=lambda f: f.value_pct, default=None)


@dataclass
class Analysis:
    route: Route
    stage: Stage
    inputs: list[InputRecord]
    lcms: list[LCMSResult] = field(default_factory=list)
    uv: list[UVResult] = field(default_factory=list)  # optical detectors of the LC runs, beside their MS results
    nmr: list[NMRResult] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    settings: Settings | None = None
    sample: SampleInfo | None = None
    assessment: Assessment | None = None
    reference_data: dict[str, str] = field(default_factory=dict)
    specqc_version: str = __version__

    def uv_of(self, source_path: str) -> UVResult | None:
        return next((u for u in self.uv if u.source_path == source_path), None)
