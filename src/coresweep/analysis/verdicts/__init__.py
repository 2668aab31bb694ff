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
