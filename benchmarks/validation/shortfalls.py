"""Targets the validation subset in the test suite does not meet yet, with the figure measured.

The test suite runs a seeded subset of each validation part and asserts its
targets. A target the analysis does not reach yet is listed in
``shortfalls.json`` with the figure measured on that subset (the same figure
VALIDATION.md explains at full size): the test then asserts that the figure is
no worse than the one recorded, so a regression fails while the shortfall
stays visible. Reaching a target makes its entry redundant; the test says so,
so that it is removed and the target itself is asserted from then on.
The recorded figures come from the code as it is: never from a threshold
chosen to make them look better.
"""

from __future__ import annotations

import json
from pathlib import Path

SHORTFALLS = Path(__file__).with_name("shortfalls.json")


def meets(value: float, op: str, goal: float) -> bool:
    return value >= goal - 1e-12 if op == ">=" else value <= goal + 1e-12


def recorded(part: str) -> dict[str, float]:
    return json.loads(SHORTFALLS.read_text(encoding="utf-8"))[part]["measured"]


def judge(part: str, target: str, value: float | None, op: str, goal: float) -> str | None:
    """None when all is well; otherwise what is wrong, in a sentence."""
    if value is None:
        return f"{target}: no data in this subset"
    shortfall = recorded(part).get(target)
    if meets(value, op, goal):
        if shortfall is not None:
            return (
                f"{target} = {value:.4g} now meets its target {op} {goal}: remove its entry from "
                f"{SHORTFALLS.name} so the target itself is asserted"
            )
        return None
    if shortfall is None:
        return f"{target} = {value:.4g} misses its target {op} {goal}"
    if not meets(value, op, shortfall):
        return f"{target} = {value:.4g} is worse than the {shortfall:.4g} recorded (target {op} {goal})"
    return None
