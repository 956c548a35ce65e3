"""specqc against independently generated LC-MS data: the validation targets.

A seeded subset of the scenarios of benchmarks/validation (another seed than
the benchmark's default) goes through the same generator, analysis and
scoring as ``python benchmarks/validation.py``. Each target is asserted; one
not met yet must be no worse than the figure recorded for it in
benchmarks/validation/shortfalls.json (see shortfalls.py).
"""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from validation import lcms_part, shortfalls  # noqa: E402

SEED = 7
N = 44


@pytest.fixture(scope="module")
def metrics():
    result, _ = lcms_part.run_part(N, SEED, "all", 2, None, None)
    assert result["runs"] == N
    assert not result["errors"], result["errors"][:3]
    return result


@pytest.mark.parametrize("target", sorted(lcms_part.TARGETS))
def test_target(metrics, target):
    op, goal = lcms_part.TARGETS[target]
    problem = shortfalls.judge("lcms", target, metrics["targets"][target]["value"], op, goal)
    assert problem is None, problem


def test_every_route_species_reported(metrics):
    assert not metrics["species_id_mismatches"], metrics["species_id_mismatches"][:3]
