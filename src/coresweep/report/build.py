"""Tables -> plots, claims.csv, summary.md and a self-contained results/report/index.html."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coresweep.experiments import EXPERIMENTS
from coresweep.experiments.base import Verdict
from coresweep.measure.provenance import machine_label
from coresweep.report.claims_table import claims_frame
from coresweep.report.html import render_html
from coresweep.report.quality import quality_frame
from coresweep.report.summary import render_summary

log = logging.getLogger("coresweep")


@dataclass
class ReportInputs:
    results: Path
    machine: str
    provenance: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def load_inputs(results: Path) -> ReportInputs:
    prov_path = results / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.exists() else {}
    inputs = ReportInputs(results, machine_label(prov) if prov else "unknown machine", prov)
    for name in EXPERIMENTS:
        path = results / "tables" / f"{name}.parquet"
        if path.exists():
            inputs.tables[name] = pd.read_parquet(path)
        else:
            inputs.missing.append(name)
    return inputs


def build_report(results: Path) -> dict[str, Path]:
    """Write every report artefact under results/; returns their paths by name."""
    inputs = load_inputs(results)
    plots_dir = results / "plots"
    verdicts: list[Verdict] = []
    plots: dict[str, list[Path]] = {}
    for name, table in inputs.tables.items():
        exp = EXPERIMENTS[name]
        plots[name] = exp.plots(table, plots_dir, inputs.machine)
        verdicts += exp.verdicts(table, inputs.machine)
    claims = claims_frame(verdicts)
    quality = quality_frame(inputs.tables)
    claims_csv = results / "claims.csv"
    claims.to_csv(claims_csv, index=False)
    summary = results / "summary.md"
    summary.write_text(render_summary(inputs, claims, quality))
    html = results / "report" / "index.html"
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(render_html(inputs, claims, quality, plots))
    log.info("report: %s, %s, %s", claims_csv, summary, html)
    return {"claims": claims_csv, "summary": summary, "html": html}
