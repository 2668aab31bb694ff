"""Verdict rules, one module per experiment: tidy table in, Verdict rows out."""

from __future__ import annotations

THRESHOLD = 0.05  # relative difference below which two measurements count as equal


def combine(results: dict[str, bool]) -> str:
    """supported if every condition holds, conditional if some, refuted if none."""
    if all(results.values()):
        return "supported"
    if any(results.values()):
        return "conditional"
    return "refuted"


def combine_undecided(results: dict[str, bool | None]) -> str:
    """combine() where None = undecided: conditional as soon as one holds and one fails,
    whatever the undecided ones would be; otherwise inconclusive while any is undecided."""
    values = list(results.values())
    if True in values and False in values:
        return "conditional"
    if None in values:
        return "inconclusive"
    return combine({k: bool(v) for k, v in results.items()})
