"""The standalone HTML report: self-contained, plots inline as SVG, no network requests."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from coresweep.claims import CLAIMS

if TYPE_CHECKING:
    from coresweep.report.build import ReportInputs

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
.supported{background:#d8f0d8}.refuted{background:#f6d5d5}.conditional{background:#fff1c8}
.inconclusive,.notrun{background:#e8e8e8}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}
code,pre{background:#f4f4f4;padding:.1em .3em}
"""


def _inline_svg(path: Path) -> str:
    text = path.read_text()
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, border=0, float_format=lambda v: f"{v:.3g}")


def render_html(
    inputs: ReportInputs,
    claims: pd.DataFrame,
    quality: pd.DataFrame,
    plots: dict[str, list[Path]],
) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class='{r.verdict.replace(' ', '')}'><td><a href='#{r.claim}'>{r.claim}</a></td>"
        f"<td>{e(r.quote)}</td><td>{e(r.verdict)}</td><td>{e(r.evidence)}</td>"
        f"<td>{e(r.conditions)}</td></tr>"
        for r in claims.itertuples()
    )
    sections = []
    for r in claims.itertuples():
        claim = CLAIMS[r.claim]
        figs = "".join(
            f"<figure id='{e(p.stem)}'>{_inline_svg(p)}<figcaption>{e(p.name)}</figcaption></figure>"
            for p in plots.get(claim.experiment, [])
            if p.name == r.plot
        )
        sections.append(
            f"<section id='{r.claim}'><h2>{r.claim}: “{e(claim.quote)}”</h2>"
            f"<p><b>Verdict: {e(r.verdict)}</b> — {e(r.evidence)}</p>"
            f"<p>Conditions: {e(r.conditions)}</p>"
            f"<p>Deciding quantity: {e(claim.quantity)}. Rule: {e(claim.rule)}.</p>{figs}</section>"
        )
    all_figs = "".join(
        f"<figure id='fig-{e(p.stem)}'>{_inline_svg(p)}<figcaption>{e(p.name)}</figcaption></figure>"
        for ps in plots.values()
        for p in ps
    )
    prov = e(json.dumps(inputs.provenance, indent=1, sort_keys=True))
    missing = f"<p>Not run (no table): {e(', '.join(inputs.missing))}</p>" if inputs.missing else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>coresweep report</title>
<style>{CSS}</style></head><body>
<h1>coresweep: multiprocessing vs multithreading, measured</h1>
<p>Machine: {e(inputs.machine)}</p>
<h2>Claims</h2>
<table id="claims"><tr><th>claim</th><th>the article says</th><th>verdict</th>
<th>evidence</th><th>conditions</th></tr>{rows}</table>{missing}
{"".join(sections)}
<h2>All plots</h2>{all_figs}
<h2 id="quality">Measurement quality</h2>{_table(quality) if not quality.empty else "<p>none</p>"}
<h2 id="provenance">Provenance</h2><pre>{prov}</pre>
<h2 id="reproduce">Reproduce</h2><pre>pip install -e . &amp;&amp; snakemake --cores all</pre>
</body></html>
"""
