"""results/summary.md: the verdicts and the quality of the numbers, in a page of Markdown."""

from __future__ import annotations

import pandas as pd

from coresweep.report.html import MODEL_INTRO, case_tally, model_columns, reproduce_commands
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


def case_counts(cases: pd.DataFrame | None) -> str:
    """The sub-case tally and the count per claim, in Markdown."""
    line, per = case_tally(cases)
    return f"{line}\n" + (f"\n{md_table(per)}" if not per.empty else "")


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
