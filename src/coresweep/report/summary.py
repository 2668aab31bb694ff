"""results/summary.md: the verdicts and the quality of the numbers, in a page of Markdown."""

from __future__ import annotations

import pandas as pd

from coresweep.report.html import MODEL_INTRO, model_columns, reproduce_commands
from coresweep.report.inputs import ReportInputs


def md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_none_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def summary_frame(claims: pd.DataFrame) -> pd.DataFrame:
    """Claim, the article's words, verdict and headline: what a reader scans first."""
    cols = {"claim": "claim", "quote": "the article says", "verdict": "verdict",
            "headline": "what we found"}  # fmt: skip
    return claims[list(cols)].rename(columns=cols)


def claim_details(claims: pd.DataFrame) -> str:
    """Per claim: evidence, conditions, the rule and the plots (or why it was not run)."""
    parts = []
    for r in claims.itertuples():
        parts.append(f"### {r.claim} · {r.verdict}\n")
        if r.verdict == "not run":
            parts.append(f"Not run: {r.reason}\n")
        else:
            parts += [f"- evidence: {r.evidence}", f"- conditions: {r.conditions}",
                      f"- plot: {r.plot}"]  # fmt: skip
        parts.append(f"- rule: {r.rule}\n")
    return "\n".join(parts)


def model_markdown(models: pd.DataFrame) -> str:
    """The scaling-model part: why there is no model table, or what it says (see html)."""
    status = models.attrs.get("status", "")
    parts = [f"**{status}**\n"] if status else []
    if not models.empty:
        parts += [MODEL_INTRO + "\n", md_table(model_columns(models))]
    return "\n".join(parts)


def case_counts(cases: pd.DataFrame) -> str:
    """'Sub-cases: 12 decided of 15 (yes 7, no 5, undecided 3)' and the count per claim."""
    if cases is None or cases.empty:
        return "Sub-cases: none decided by the decision engine.\n"
    n = cases.decision.value_counts()
    yes, no, open_ = (int(n.get(k, 0)) for k in ("yes", "no", "undecided"))
    per = cases.groupby("claim", sort=False).decision.value_counts().unstack(fill_value=0)
    per = per.reindex(columns=["yes", "no", "undecided"], fill_value=0).reset_index()
    return (
        f"Sub-cases: {yes + no} decided of {len(cases)} (yes {yes}, no {no}, undecided "
        f"{open_}); every one in tables/verdict_cases.csv.\n\n" + md_table(per)
    )


def render_summary(
    inputs: ReportInputs,
    claims: pd.DataFrame,
    quality: pd.DataFrame,
    models: pd.DataFrame,
    cases: pd.DataFrame | None = None,
) -> str:
    parts = [
        "# coresweep summary\n",
        f"Machine: {inputs.machine}\n",
        "## Claims\n",
        md_table(summary_frame(claims)),
        case_counts(cases),
        "## The numbers behind each verdict\n",
        claim_details(claims),
        "## Data found\n",
        md_table(inputs.status_frame()),
        "## Scaling model\n",
        model_markdown(models),
        "## Measurement quality\n",
        md_table(quality),
        "## Reproduce\n",
        "```\n" + reproduce_commands(inputs) + "\n```\n",
    ]
    return "\n".join(parts)
