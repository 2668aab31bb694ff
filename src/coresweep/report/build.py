"""Tables -> plots, claims.csv, summary.md, the standalone HTML and Snakemake's report files.

Missing, partial or unreadable tables never stop the report: it is written with what is
there and says what is not. An unreadable table is also raised (named) at the end, so the
command exits with an error after writing everything else.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coresweep import config as cs_config
from coresweep.analysis.verdicts.engine import threshold_of
from coresweep.analysis.verdicts.record import Verdict
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.report.claims_table import COLUMNS as CLAIM_COLUMNS
from coresweep.report.claims_table import claims_frame
from coresweep.report.figures import assign_figures
from coresweep.report.html import config_yaml, render_html
from coresweep.report.inputs import CASES_TABLE, CorruptTable, ReportInputs, load_inputs
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


def draw(name: str, table: pd.DataFrame, plots_dir: Path, machine: str) -> list[Path]:
    """One experiment's figures; [] (and the error logged) when its plotting code fails."""
    from coresweep.report.plots.registry import plots as plots_of  # matplotlib: on first use

    try:
        return plots_of(name, table, plots_dir, machine)
    except Exception:  # a report without one experiment's figures beats no report
        log.exception("plots of %s failed", name)
        return []


def preload_plotting(names: list[str]) -> None:
    """Import matplotlib and each experiment's plot module once, before forking workers."""
    from coresweep.report.plots.registry import module_name as plot_module  # matplotlib (Agg)

    for name in names:
        with contextlib.suppress(KeyError, ModuleNotFoundError):
            importlib.import_module(plot_module(name))


def _cores() -> int:
    """The cores this process may run on (drawing needs no cgroup-exact count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def draw_all(inputs: ReportInputs, plots_dir: Path) -> dict[str, list[Path]]:
    """Every experiment's figures, experiments side by side on the usable cores.

    Drawing is most of the build time. Forked workers share the modules imported here, so
    each starts in milliseconds; the biggest tables go first, so the cores finish together.
    """
    names = sorted(inputs.tables, key=lambda n: -len(inputs.tables[n]))
    workers = min(len(names), _cores())
    args = (names, [inputs.tables[n] for n in names], [plots_dir] * len(names),
            [inputs.machine] * len(names))  # fmt: skip
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        drawn = dict(zip(names, map(draw, *args), strict=True))
    else:
        preload_plotting(names)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            drawn = dict(zip(names, pool.map(draw, *args), strict=True))
    return {n: drawn[n] for n in inputs.tables}


def verdicts_and_plots(inputs: ReportInputs, plots_dir: Path) -> Findings:
    """Each experiment's verdicts and plots; one experiment's bug does not sink the report."""
    found = Findings(plots=draw_all(inputs, plots_dir))
    for name, table in inputs.tables.items():
        try:
            found.verdicts += verdicts_of(name, table, inputs.machine, threshold_of(inputs.config))
        except Exception as exc:  # a report with the others beats no report
            log.exception("verdicts of %s failed", name)
            found.failures[name] = f"{type(exc).__name__}: {exc}"
    return found


def svg_files(experiment: str, paths: list[Path]) -> list[Path]:
    """The plots that exist and are SVG (the page inlines them); others are logged."""
    keep = [p for p in paths if p.suffix == ".svg" and p.is_file()]
    for p in set(paths) - set(keep):
        log.warning("%s: plot %s is missing or not an SVG; left out of the report", experiment, p)
    return keep


def quality_target(inputs: ReportInputs) -> float:
    """The run's CI target, else the schema's default."""
    conf = inputs.config or cs_config.validate({})
    return float(conf["protocol"]["target_rel_halfwidth"])


#: the columns of verdict_cases (analysis.verdicts.engine.case_rows)
CASE_COLUMNS = ["claim", "group", "case", "estimate", "lo", "hi", "lo_widened", "hi_widened",
                "bar", "band", "band_lo", "band_hi", "decision", "reason", "interpreter"]  # fmt: skip


def verdict_cases(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """Every sub-case the decision engine decided, one row each (results/tables/verdict_cases)."""
    rows = [row for v in verdicts for row in v.cases]
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def write_cases(results: Path, cases: pd.DataFrame) -> dict[str, Path]:
    base = results / CASES_TABLE
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = {"cases": base.with_suffix(".csv"), "cases_parquet": base.with_suffix(".parquet")}
    cases.to_csv(paths["cases"], index=False)
    cases.to_parquet(paths["cases_parquet"], index=False)
    return paths


MODEL_TABLE = Path("tables") / "scaling_model.csv"  # written by `coresweep model`
#: text columns of the model table (read as text: an empty note stays "")
MODEL_TEXT = ["host", "kernel", "backend", "mode", "model", "measured_p", "f_interval_from",
              "kind", "holdout_kind", "holdout_note", "note"]  # fmt: skip


def _with_status(models: pd.DataFrame, status: str) -> pd.DataFrame:
    models.attrs["status"] = status
    return models


def scaling_model(inputs: ReportInputs) -> pd.DataFrame:
    """The model table the workflow's `scaling_model` rule wrote (`coresweep model` ->
    results/tables/scaling_model.csv), read as it is: the report never fits a model itself.

    What a reader must hear about it -- not run, unreadable, from an older coresweep, older
    than the scaling table -- is in ``.attrs["status"]`` ("" when all is well); the table is
    empty unless it could be read.
    """
    from coresweep.analysis.scaling_models import COLUMNS

    path = inputs.results / MODEL_TABLE
    scaling = inputs.results / "tables" / "scaling.parquet"
    empty = pd.DataFrame(columns=COLUMNS)
    if not path.exists():
        if "scaling" not in inputs.tables:
            why = "No scaling model: there is no usable scaling table, so nothing was fitted."
        else:
            why = (
                f"The scaling model was not run: there is no {path}. The report shows the "
                "model table, it does not fit one: run the workflow (rule scaling_model) or "
                f"`coresweep model --table {scaling} --out {path}`, then the report again."
            )
        return _with_status(empty, why)
    try:
        models = pd.read_csv(path, dtype={c: str for c in MODEL_TEXT})
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors too
        log.error("cannot read the scaling model %s: %s", path, exc)
        return _with_status(empty, f"The scaling model {path} cannot be read ({exc}).")
    lacking = [c for c in COLUMNS if c not in models.columns]
    if lacking:
        return _with_status(
            empty,
            f"The scaling model {path} was written by an older coresweep (it lacks "
            f"{', '.join(lacking[:4])}{', …' if len(lacking) > 4 else ''}): rerun "
            f"`coresweep model --table {scaling} --out {path}`.",
        )
    text = [c for c in MODEL_TEXT if c in models]
    models[text] = models[text].fillna("")
    status = "" if len(models) else f"The scaling model {path} has no curves (no parallel runs)."
    if scaling.exists() and scaling.stat().st_mtime > path.stat().st_mtime:
        status = (
            f"The scaling model {path} is older than {scaling}: it may not describe these "
            "measurements; rerun the scaling_model rule."
        )
    return _with_status(models, status)


def build_report(results: Path, experiments: Sequence[str] | None = None) -> dict[str, Path]:
    """Write every report artefact under results/; returns their paths by name.

    experiments: the experiments this coresweep version implements (the CLI hands in the
    registry's names); by default, those the results folder knows (run.json, the tables).
    """
    t0 = time.perf_counter()
    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"no results folder {results}")
    inputs = load_inputs(results, experiments)
    plots_dir = results / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    found = verdicts_and_plots(inputs, plots_dir)
    drawn = {name: svg_files(name, paths) for name, paths in found.plots.items()}
    available = {p.name for ps in drawn.values() for p in ps}
    claims = claims_frame(
        found.verdicts, inputs.status, found.failures, available, threshold_of(inputs.config)
    )
    cases = verdict_cases(found.verdicts)
    figures = assign_figures(claims, drawn)
    quality = assess(inputs.tables, quality_target(inputs))
    models = scaling_model(inputs)

    report_dir = results / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "claims": results / "claims.csv",
        "summary": results / "summary.md",
        "html": report_dir / "index.html",
    }
    claims.to_csv(paths["claims"], index=False, columns=list(CLAIM_COLUMNS))
    paths |= write_cases(results, cases)
    paths["summary"].write_text(
        render_summary(inputs, claims, quality.summary, models, cases), encoding="utf-8"
    )
    paths["html"].write_text(
        render_html(inputs, claims, figures, quality, models, cases), encoding="utf-8"
    )
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
