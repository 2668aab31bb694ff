"""A claim's verdict: the record verdict rules produce and the report reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("supported", "refuted", "conditional", "inconclusive", "not run")


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict with the numbers that decided it and the conditions it holds under."""

    claim: str
    verdict: str
    evidence: str  # the deciding numbers, with intervals, in words
    conditions: str  # kernel kind, core range, sizes, machine
    experiment: str
    plots: tuple[str, ...] = ()  # file names under results/plots/
    #: one sentence a reader understands without the rule: the answer and its key numbers
    headline: str = ""
    #: the decided sub-cases (rows of results/tables/verdict_cases.csv), from the engine
    rule: str = ""  # the rule in words, rendered from the claim's declaration
    cases: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
