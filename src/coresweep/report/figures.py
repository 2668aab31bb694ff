"""Which claim shows which figure: each figure is drawn once, in the first claim that cites it.

A figure no verdict cites goes with the first claim of its experiment, so every plot an
experiment draws appears in the report exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from coresweep.claims import CLAIMS


@dataclass(frozen=True)
class Figure:
    path: Path
    experiment: str
    home: str  # the claim whose section draws it; "" = no claim (shown under "Other figures")
    cited_by: tuple[str, ...]  # claims whose verdict names it

    @property
    def anchor(self) -> str:
        return f"fig-{self.path.stem}"

    @property
    def title(self) -> str:
        return self.path.stem.replace("_", " ")


def _citations(claims: pd.DataFrame) -> dict[str, list[str]]:
    cited: dict[str, list[str]] = {}
    for row in claims.itertuples():
        for name in row.plots:  # the written ones, as paths under results/
            cited.setdefault(name.removeprefix("plots/"), []).append(row.claim)
    return cited


def assign_figures(claims: pd.DataFrame, plots: dict[str, list[Path]]) -> list[Figure]:
    """Every written plot with the claim section it belongs to, in claim order."""
    cited = _citations(claims)
    figures = []
    for experiment, paths in plots.items():
        own = [cid for cid, c in CLAIMS.items() if c.experiment == experiment]
        for path in paths:
            by = tuple(cited.get(path.name, ()))
            home = by[0] if by else (own[0] if own else "")
            figures.append(Figure(path, experiment, home, by))
    order = {cid: i for i, cid in enumerate(CLAIMS)}
    # within a claim: the figures its verdict names first
    return sorted(
        figures,
        key=lambda f: (order.get(f.home, len(order)), f.home not in f.cited_by, f.path.name),
    )


def figures_of(claim: str, figures: list[Figure]) -> list[Figure]:
    """The figures a claim's section shows or links to."""
    return [f for f in figures if f.home == claim or claim in f.cited_by]
