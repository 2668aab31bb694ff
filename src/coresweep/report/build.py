"""Tables -> plots, claims.csv, summary.md, the standalone HTML and Snakemake's report files.

Missing, partial or unreadable tables never stop the report: it is written with what is
there and says what is not. An unreadable table is also raised (named) at the end, so the
command exits with an error after writing everything else.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coresweep import config as cs_config
from coresweep.experiments import EXPERIMENTS
from coresweep.experiments.base import Verdict
from coresweep.report.claims_table import claims_frame
from coresweep.report.figures import assign_figures
from coresweep.report.html import config_yaml, render_html
from coresweep.report.inputs import CorruptTable, ReportInputs, load_inputs
from coresweep.report.native import write_native
from coresweep.report.quality import assess
from coresweep.report.summary import render_summary

log = logging.getLogger("coresweep")


@dataclass
class Findings:
    """What the experiments made of their tables: verdicts, plots, and what failed."""

    verdicts: list[Verdict] = field(default_factory=list)
    plots: dict[str, list[Path]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def run_experiments(inputs: ReportInputs, plots_dir: Path) -> Findings:
    """Each experiment's verdicts and plots; one experiment's bug does not sink the report."""
    found = Findings()
    for name, table in inputs.tables.items():
        exp = EXPERIMENTS[name]
        try:
            found.verdicts += exp.verdicts(table, inputs.machine)
        except Exception as exc:  # a report with the others beats no report
            log.exception("verdicts of %s failed", name)
            found.failures[name] = f"{type(exc).__name__}: {exc}"
        try:
            found.plots[name] = [Path(p) for p in exp.plots(table, plots_dir, inputs.machine)]
        except Exception:
            log.exception("plots of %s failed", name)
            found.plots[name] = []
    return found


def quality_target(inputs: ReportInputs) -> float:
    """The run's CI target, else the schema's default."""
    conf = inputs.config or cs_config.validate({})
    return float(conf["protocol"]["target_rel_halfwidth"])


def build_report(results: Path) -> dict[str, Path]:
    """Write every report artefact under results/; returns their paths by name."""
    t0 = time.perf_counter()
    results = Path(results)
    inputs = load_inputs(results)
    plots_dir = results / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    found = run_experiments(inputs, plots_dir)
    available = {p.name for ps in found.plots.values() for p in ps if p.exists()}
    claims = claims_frame(found.verdicts, inputs.status, found.failures, available)
    figures = assign_figures(claims, found.plots)
    quality = assess(results, inputs.tables, quality_target(inputs))

    report_dir = results / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "claims": results / "claims.csv",
        "summary": results / "summary.md",
        "html": report_dir / "index.html",
    }
    claims.to_csv(paths["claims"], index=False)
    paths["summary"].write_text(render_summary(inputs, claims, quality.summary), encoding="utf-8")
    paths["html"].write_text(render_html(inputs, claims, figures, quality), encoding="utf-8")
    write_native(report_dir, inputs, claims, figures)
    if inputs.config:
        paths["config"] = report_dir / "config.yaml"
        paths["config"].write_text(config_yaml(inputs.config))
    log.info(
        "report built in %.1f s: %s (%.0f kB)",
        time.perf_counter() - t0,
        paths["html"],
        paths["html"].stat().st_size / 1e3,
    )
    if inputs.problems:
        raise CorruptTable(
            "; ".join(inputs.problems) + f" — the report was written without it: {paths['html']}"
        )
    return paths


def claims_of(results: Path) -> pd.DataFrame:
    """A results folder's claims.csv (written by build_report)."""
    return pd.read_csv(results / "claims.csv", keep_default_na=False)
