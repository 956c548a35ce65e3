"""specqc against the independent 1H NMR validation generator.

A seeded subset (24 scenarios, a seed other than the harness default) of the
benchmark's NMR part; asserts the same targets the benchmark reports (or, for one not met
yet, no worse than its recorded shortfall).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from validation import nmr_part, shortfalls  # noqa: E402

SEED = 4242
N = 24


@pytest.fixture(scope="module")
def metrics():
    met, _md = nmr_part.run_part(N, SEED, "all", 2, None, None)
    return met


def test_every_dataset_analysed(metrics):
    assert metrics["n_errors"] == 0


@pytest.mark.parametrize("target", sorted(nmr_part.TARGETS))
def test_target(metrics, target):
    """Each target, or no worse than the shortfall recorded in benchmarks/validation/shortfalls.json."""
    if metrics[target] is None and target in ("solvent_sensitivity", "ppm_w_w_error_p90"):
        pytest.skip(f"{target}: no solvent at or above its limit in this subset")
    op, goal = nmr_part.TARGETS[target]
    problem = shortfalls.judge("nmr", target, metrics[target], op, goal)
    assert problem is None, problem


def test_generation_is_deterministic(tmp_path):
    from validation import nmr_scenarios as S
    a = S.draw_nmr_scenario(SEED, 3)
    b = S.draw_nmr_scenario(SEED, 3)
    assert a == b
    r1 = S.write_nmr_scenario(a, tmp_path / "a")
    r2 = S.write_nmr_scenario(b, tmp_path / "b")
    assert Path(r1["truth"]).read_text() == Path(r2["truth"]).read_text()
