"""The claims table: every claim with its verdict and headline, or `not run` and why — never
a blank."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import pandas as pd

from coresweep.analysis.verdicts.record import Verdict
from coresweep.analysis.verdicts.registry import declarations
from coresweep.claims import CLAIMS
from coresweep.report.inputs import TableStatus

log = logging.getLogger("coresweep")

#: the columns of claims.csv (the frame adds "plots": the written plot files, as a tuple)
COLUMNS = (
    "claim",
    "quote",
    "verdict",
    "headline",
    "evidence",
    "conditions",
    "experiment",
    "quantity",
    "rule",
    "plot",
    "reason",
)
NO_PLOT = "(no plot)"


def pick_verdicts(verdicts: Iterable[Verdict]) -> dict[str, Verdict]:
    """One verdict per claim: the one from the claim's own experiment, else the first."""
    chosen: dict[str, Verdict] = {}
    for v in verdicts:
        if v.claim not in CLAIMS:
            log.warning("verdict for unknown claim %s from %s ignored", v.claim, v.experiment)
            continue
        own = CLAIMS[v.claim].experiment == v.experiment
        if v.claim not in chosen or (own and chosen[v.claim].experiment != v.experiment):
            chosen[v.claim] = v
        else:
            log.warning("claim %s: extra verdict from %s ignored", v.claim, v.experiment)
    return chosen


def why_not_run(
    cid: str, status: TableStatus | None, failure: str | None, ran_rows: int | None
) -> str:
    """The reason a claim has no verdict, in a sentence."""
    exp = CLAIMS[cid].experiment
    if failure:
        return f"the verdict rules of experiment '{exp}' failed on its table: {failure}"
    if status is None:
        return f"experiment '{exp}' was not looked for"
    if not status.usable:
        return status.detail
    return (
        f"experiment '{exp}' ran ({ran_rows} rows) but its table lacks the points that decide {cid}"
    )


def not_run_headline(cid: str, status: TableStatus | None, failure: str | None, reason: str) -> str:
    """The "Not run: <why>." of a summary row: no paths (the claim's section has them)."""
    exp = CLAIMS[cid].experiment
    short = {
        "missing": f"experiment '{exp}' did not run (no table {exp}.parquet)",
        "empty": f"the table of experiment '{exp}' has no rows",
        "unreadable": f"the table {exp}.parquet is unreadable",
    }
    if failure:
        why = f"the verdict rules of experiment '{exp}' failed ({failure.split(':')[0]})"
    elif status is not None and status.state in short:
        why = short[status.state]
    elif status is not None and status.usable:
        why = f"experiment '{exp}' measured none of the points that decide {cid}"
    else:
        why = reason
    return f"Not run: {why.rstrip('.')}."


def headline_of(cid: str, v: Verdict) -> str:
    """The rules' headline; while they give none, the verdict and where its numbers are."""
    if v.headline.strip():
        return v.headline.strip()
    return f"{v.verdict.capitalize()} (no headline from the rules): the numbers are under {cid}."


def _plot_text(written: tuple[str, ...], missing: tuple[str, ...]) -> str:
    """The claims.csv words for a verdict's plots: the written ones' paths, the others named."""
    parts = list(written) + [f"(plot not written: {n})" for n in missing]
    return ";".join(parts) or NO_PLOT


def claims_frame(
    verdicts: Iterable[Verdict],
    status: Mapping[str, TableStatus],
    failures: Mapping[str, str],
    available_plots: set[str],
    threshold: float | None = None,
) -> pd.DataFrame:
    """One row per claim C1..C13 in order; claims without a verdict say why. A claim the
    decision engine decides has its rule rendered from its declaration."""
    chosen = pick_verdicts(verdicts)
    declared = declarations()
    rows = []
    for cid, claim in CLAIMS.items():
        v = chosen.get(cid)
        st = status.get(claim.experiment)
        row = {
            "claim": cid,
            "quote": claim.quote,
            "experiment": claim.experiment,
            "quantity": claim.quantity,
            "rule": declared[cid].rule(threshold),
        }
        if v is None:
            reason = why_not_run(cid, st, failures.get(claim.experiment), st.rows if st else None)
            row |= {
                "verdict": "not run",
                "headline": not_run_headline(cid, st, failures.get(claim.experiment), reason),
                "evidence": reason,
                "conditions": "not measured",
                "plot": NO_PLOT,
                "plots": (),
                "reason": reason,
            }
        else:
            written = tuple(f"plots/{n}" for n in v.plots if n in available_plots)
            partial = st is not None and st.state == "partial"
            caveat = f" — from a partial table: {st.detail}" if partial else ""
            row |= {
                "verdict": v.verdict,
                "headline": headline_of(cid, v),
                "evidence": v.evidence or "(the verdict rules gave no numbers)",
                "conditions": (v.conditions or "(not stated)") + caveat,
                "plot": _plot_text(written, tuple(n for n in v.plots if n not in available_plots)),
                "plots": written,
                "reason": "",
            }
        rows.append(row)
    return pd.DataFrame(rows, columns=[*COLUMNS, "plots"])
