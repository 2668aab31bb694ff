"""The claims table: every claim with its verdict, or `not run` — never a blank."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from coresweep.claims import CLAIMS
from coresweep.experiments.base import Verdict


def claims_frame(verdicts: Iterable[Verdict]) -> pd.DataFrame:
    """One row per claim C1..C13 in order; claims without a verdict say why."""
    by_claim: dict[str, Verdict] = {}
    for v in verdicts:
        by_claim.setdefault(v.claim, v)
    rows = []
    for cid, claim in CLAIMS.items():
        v = by_claim.get(cid)
        rows.append(
            {
                "claim": cid,
                "quote": claim.quote,
                "verdict": v.verdict if v else "not run",
                "evidence": v.evidence if v else f"experiment '{claim.experiment}' did not run",
                "conditions": v.conditions if v else "",
                "experiment": claim.experiment,
                "quantity": claim.quantity,
                "rule": claim.rule,
                "plot": v.plot if v else "",
            }
        )
    return pd.DataFrame(rows)
