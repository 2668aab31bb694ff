"""The standalone HTML report: one self-contained file, plots inline as SVG, no requests.

Order: what was claimed and what we found (summary table), one section per claim with
its figures, how far to trust the numbers (quality), where they come from (provenance),
and how to get them again (reproduce).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from coresweep import flags
from coresweep.analysis.interpreters import single_thread_cost
from coresweep.analysis.verdicts.record import VERDICTS
from coresweep.claims import CLAIMS
from coresweep.flags import Flag
from coresweep.report.figures import Figure, figures_of
from coresweep.report.inputs import ReportInputs
from coresweep.report.quality import Quality
from coresweep.report.svg import inline_svg

e = html.escape

CSS = """
:root{--ok:#d5ecd5;--no:#f5d0d0;--cond:#fbe7b5;--inc:#e3e3e3;--nr:#f3f3f3}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;
margin:0 auto;padding:1em 1.2em 4em;color:#1d1d1d}
h1{font-size:1.6em;margin:.4em 0}h2{margin-top:2em;border-bottom:1px solid #ddd}
nav{font-size:.9em;margin:.6em 0 1.2em}nav a{margin-right:.7em;white-space:nowrap}
table{border-collapse:collapse;margin:.8em 0;font-size:.86em}
td,th{border:1px solid #d4d4d4;padding:.25em .45em;vertical-align:top;text-align:left}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05em .5em;border-radius:.6em;font-weight:600;
white-space:nowrap;border:1px solid #0002}
.supported{background:var(--ok)}.refuted{background:var(--no)}
.conditional{background:var(--cond)}.inconclusive{background:var(--inc)}
.notrun{background:var(--nr);color:#555;font-style:italic}
.claim{border-left:5px solid #ccc;padding-left:.9em}
.claim.sv-supported{border-color:#5aa55a}.claim.sv-refuted{border-color:#c44}
.claim.sv-conditional{border-color:#d9a21b}.claim.sv-inconclusive{border-color:#999}
.claim.sv-notrun{border-color:#ddd}
blockquote{margin:.4em 0;padding:.2em .8em;border-left:3px solid #bbb;color:#333;font-style:italic}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#444}
pre,code{background:#f5f5f5;font-size:.88em}pre{padding:.6em;overflow-x:auto}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
.scroll{overflow-x:auto}.warn{background:#fff4d6;padding:.5em .8em;border:1px solid #e7c96b}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dl.kv dt{font-weight:600}
#claims{width:100%}#claims td:nth-child(2){width:32%}
p.headline{font-size:1.05em;font-weight:600}
"""


def badge(verdict: str) -> str:
    return f"<span class='badge {verdict.replace(' ', '')}'>{e(verdict)}</span>"


def _cell(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "" if np.isnan(v) else f"{v:.4g}"
    if isinstance(v, list | tuple | dict | np.ndarray):
        text = json.dumps(v if not isinstance(v, np.ndarray) else v.tolist(), default=str)
        return text if len(text) <= 60 else text[:57] + "…"
    return str(v)


def frame_html(df: pd.DataFrame) -> str:
    """A plain escaped HTML table, numbers to four significant digits."""
    if df.empty:
        return "<p><i>none</i></p>"
    head = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            cls = " class='num'" if isinstance(v, int | float | np.number) else ""
            cells.append(f"<td{cls}>{e(_cell(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"


def page(title: str, body: str) -> str:
    """A complete HTML document: inline CSS, no scripts, nothing fetched."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def _plot_link(name: str) -> str:
    """'plots/x.svg' -> a link to the figure in this page; other text as it is."""
    if not name.startswith("plots/"):
        return e(name)
    file = name.removeprefix("plots/")
    return f"<a href='#fig-{e(file.removesuffix('.svg'))}'>{e(file)}</a>"


def _plot_links(field: str) -> str:
    return "<br>".join(_plot_link(n) for n in field.split(";") if n)


def summary_table(claims: pd.DataFrame) -> str:
    """Claim, the article's words, verdict and headline; the numbers and the rule are in
    each claim's section (the claim id links there)."""
    rows = "".join(
        f"<tr><td><a href='#{r.claim}'>{r.claim}</a></td><td>{e(r.quote)}</td>"
        f"<td>{badge(r.verdict)}</td><td>{e(r.headline)}</td></tr>"
        for r in claims.itertuples()
    )
    return (
        "<div class='scroll'><table id='claims'><tr><th>claim</th><th>the article says</th>"
        f"<th>verdict</th><th>what we found</th></tr>{rows}</table></div>"
    )


def case_tally(cases: pd.DataFrame | None) -> tuple[str, pd.DataFrame]:
    """('Sub-cases: 12 decided of 15 (yes 7, no 5, undecided 3)', the counts per claim)."""
    if cases is None or cases.empty:
        return "Sub-cases: none decided by the decision engine.", pd.DataFrame()
    n = cases.decision.value_counts()
    yes, no, open_ = (int(n.get(k, 0)) for k in ("yes", "no", "undecided"))
    per = cases.groupby("claim", sort=False).decision.value_counts().unstack(fill_value=0)
    per = per.reindex(columns=["yes", "no", "undecided"], fill_value=0).reset_index()
    return (
        f"Sub-cases: {yes + no} decided of {len(cases)} (yes {yes}, no {no}, undecided "
        f"{open_}); every one in tables/verdict_cases.csv.",
        per,
    )


def tally(claims: pd.DataFrame) -> str:
    c = Counter(claims.verdict)
    return " · ".join(f"{badge(v)} {c[v]}" for v in VERDICTS if c[v])


def status_table(inputs: ReportInputs) -> str:
    return frame_html(inputs.status_frame())


@dataclass(frozen=True)
class FigureRenderer:
    """Draws each figure once; later mentions link back to it."""

    machine: str

    def draw(self, f: Figure, n: int) -> str:
        cites = ", ".join(f.cited_by) or "no verdict"
        caption = (
            f"<b>{e(f.title)}</b> — experiment {e(f.experiment)}, measured on {e(self.machine)}; "
            f"cited by {e(cites)}. File: <code>plots/{e(f.path.name)}</code>"
        )
        svg = inline_svg(f.path, f"f{n}", f"{f.title} ({f.experiment})")
        return f"<figure id='{e(f.anchor)}'>{svg}<figcaption>{caption}</figcaption></figure>"

    def link(self, f: Figure) -> str:
        return f"<p>See also <a href='#{e(f.anchor)}'>{e(f.path.name)}</a> (in {e(f.home)}).</p>"


def _evidence_list(text: str) -> str:
    items = [s.strip() for s in text.split("; ") if s.strip()]
    if len(items) < 2:
        return f"<p>{e(text)}</p>"
    return "<ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>"


def claim_section(
    row: Any, figures: list[Figure], numbers: dict[str, int], fr: FigureRenderer
) -> str:
    claim = CLAIMS[row.claim]
    cls = "sv-" + row.verdict.replace(" ", "")
    parts = [
        f"<section id='{row.claim}' class='claim {cls}'>",
        f"<h2>{row.claim} · {badge(row.verdict)}</h2>",
        f"<blockquote>“{e(claim.quote)}”</blockquote>",
    ]
    if row.verdict == "not run":
        parts.append(f"<p class='warn'><b>Not run:</b> {e(row.reason)}</p>")
    else:
        parts += [
            f"<p class='headline'>{e(row.headline)}</p>",
            "<h3>The numbers that decided it</h3>",
            _evidence_list(row.evidence),
            f"<p><b>Conditions:</b> {e(row.conditions)}</p>",
        ]
    parts.append(
        f"<dl class='kv'><dt>Experiment</dt><dd>{e(claim.experiment)}</dd>"
        f"<dt>Deciding quantity</dt><dd>{e(claim.quantity)}</dd>"
        f"<dt>Rule</dt><dd>{e(row.rule)}</dd></dl>"
    )
    for f in figures_of(row.claim, figures):
        parts.append(fr.draw(f, numbers[f.anchor]) if f.home == row.claim else fr.link(f))
    parts.append("</section>")
    return "\n".join(parts)


QUALITY_NAMES = {
    "rows": "rows",
    "median_ci_halfwidth": "median CI ±",
    "worst_ci_halfwidth": "worst CI ±",
    "within_target": "rows within target",
    "flagged_rows": "flagged rows",
    "flags": "flags",
    "stopped_on_budget": "stopped on budget",
    "failed_checks": "failed checks",
    "jobs": "jobs",
    "drift_flagged_jobs": "drifting jobs",
    "worst_drift": "worst drift",
    "load_warnings": "busy-machine starts",
    "low_capacity_jobs": "jobs short of cores",
    "capacity_wait_s": "waited for cores (s)",
}
PERCENT = ("median_ci_halfwidth", "worst_ci_halfwidth", "within_target", "worst_drift")


def quality_table(summary: pd.DataFrame) -> str:
    """The per-experiment quality summary with readable names, fractions as percentages."""
    if summary.empty:
        return "<p><i>No tables: nothing to assess.</i></p>"
    df = summary.copy()
    for col in PERCENT:
        if col in df:
            df[col] = [f"{v:.1%}" if pd.notna(v) else "" for v in df[col]]
    return frame_html(df.rename(columns=QUALITY_NAMES))


def quality_section(q: Quality) -> str:
    explain = (
        "<p>Per experiment: the relative half-width of the 95% bootstrap interval of the median "
        f"time (target ±{q.target:.0%}), rows with stability flags (cv = coefficient of "
        "variation over the samples above 10%; min/max more than 50% from the mean; samples "
        "under 1 ms; a slow first run; oversubscribed cores; a failed reference check), points "
        "whose sampling stopped on the time budget before reaching the target, and jobs whose "
        "reference kernel drifted more than 5% between the start and the end of the job (the "
        "machine changed under the measurement) or that started on a busy machine.</p>"
    )
    n = len(q.flagged)
    detail = (
        f"<details><summary>{n} rows and jobs with a doubt</summary>"
        f"{frame_html(q.flagged)}</details>"
        if n
        else "<p>No flagged rows.</p>"
    )
    return f"<h2 id='quality'>Measurement quality</h2>{explain}{quality_table(q.summary)}{detail}"


def _machine_facts(prov: dict[str, Any]) -> dict[str, str]:
    m, py, git = prov.get("machine", {}), prov.get("python", {}), prov.get("git", {})
    mem = m.get("memory_total_bytes")
    blas = "; ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)"
        for b in prov.get("blas", [])
    )
    commit = git.get("commit", "unknown")
    dirty = " (uncommitted changes)" if git.get("dirty") else ""
    return {
        "host": str(m.get("hostname", "?")),
        "CPU": str(m.get("cpu_model", "?")),
        "cores": f"{m.get('usable_cores', '?')} usable of {m.get('logical_cores', '?')} logical "
        f"(affinity {m.get('affinity')}, cgroup quota {m.get('cgroup_cpu_max')})",
        "memory": f"{mem / 2**30:.1f} GiB" if mem else "?",
        "last-level cache": llc_text(m.get("last_level_cache")),
        "governor / turbo": f"{m.get('governor')} / {m.get('turbo')}",
        "OS": " ".join(str(v) for v in prov.get("os", {}).values()),
        "Python": str(py.get("version", "?")).split()[0]
        + f" (switch interval {py.get('switch_interval')} s)",
        "BLAS": blas or "?",
        "Numba threading layer": str(prov.get("numba", {}).get("threading_layer")),
        "start method": str(prov.get("multiprocessing_start_method")),
        "thread variables": ", ".join(f"{k}={v}" for k, v in prov.get("env", {}).items())
        or "none set",
        "git commit": f"{commit}{dirty}",
    }


def llc_text(llc: dict[str, Any] | None) -> str:
    """The LLC domains of a provenance record, e.g. "1 x 480 MiB (CPUs 0-1), from sysfs"."""
    domains = (llc or {}).get("domains") or []
    if not domains:
        return "not in sysfs (unknown)"
    sizes = Counter(d["size_bytes"] for d in domains)
    parts = [f"{n} x {b / 2**20:.0f} MiB" for b, n in sorted(sizes.items(), reverse=True)]
    cpus = sum(len(d["cpus"]) for d in domains)
    return (
        f"{' + '.join(parts)} over {cpus} usable CPUs (L{domains[0]['level']}, {llc.get('source')})"
    )


#: the triad rows' columns the memory-bandwidth section shows, in order
BANDWIDTH_COLUMNS = ("backend", "mode", "p", "gb_s", "triad_reference_gbs",
                     "bandwidth_fraction", "llc_mib", "array_gib", "marks")  # fmt: skip


def bandwidth_table(scaling: pd.DataFrame) -> pd.DataFrame:
    """Each backend's triad GB/s beside the in-job one-thread reference, as a fraction of
    it, with the cache the point's cores reach and one array's size; an in-cache row is
    marked. Empty for tables from before the reference was measured."""
    if "triad_reference_gbs" not in scaling:
        return pd.DataFrame(columns=list(BANDWIDTH_COLUMNS))
    t = scaling[scaling.triad_reference_gbs.notna()].copy()
    t["gb_s"] = t.rate / 1e9
    t["llc_mib"] = t.llc_bytes / 2**20
    t["array_gib"] = t.array_bytes / 2**30
    cells = t["flags"]
    t["marks"] = [
        "IN CACHE (arrays below 4x LLC)" if flags.has(f, Flag.IN_CACHE) else "" for f in cells
    ]
    return t.sort_values(["mode", "p", "backend"])[list(BANDWIDTH_COLUMNS)].reset_index(drop=True)


BANDWIDTH_INTRO = (
    "The memory-bound kernel (STREAM triad) is sized by STREAM's rule: each array at least 4x "
    "the last-level cache the point's cores reach (read from sysfs; see Provenance). Every job "
    "that measures it also sweeps the same large arrays on one thread in its own process: "
    "that reference (triad_reference_gbs) is the machine's one-core memory bandwidth, and "
    "bandwidth_fraction is each backend's rate over it (above 1 when more cores draw more "
    "bandwidth). Rows marked IN CACHE had arrays below the rule (allow_in_cache, or a "
    "machine with more cache than planned): they measure cache, not memory."
)


def bandwidth_section(inputs: ReportInputs) -> str:
    """The triad's rates beside the machine's bandwidth, or why there are none."""
    t = bandwidth_table(inputs.tables.get("scaling", pd.DataFrame()))
    head = "<h2 id='bandwidth'>Memory bandwidth (triad)</h2>"
    if t.empty:
        return head + "<p>No triad rows with an in-job reference in the scaling table.</p>"
    warn = (
        f"<p class='warn'>{int((t.marks != '').sum())} of {len(t)} triad rows ran in cache.</p>"
        if (t.marks != "").any()
        else ""
    )
    return f"{head}<p>{e(BANDWIDTH_INTRO)}</p>{warn}{frame_html(t)}"


def interpreters_section(inputs: ReportInputs) -> str:
    """Single-thread cost of each kernel per interpreter against the first one listed."""
    t = single_thread_cost(inputs.tables.get("scaling", pd.DataFrame()))
    head = "<h2 id='interpreters'>Interpreters: single-thread cost</h2>"
    if t.empty:
        return head + "<p>One interpreter measured (config key <code>interpreters</code>).</p>"
    intro = (
        "Seconds per unit of work of each kernel's one-thread baseline, per interpreter, and "
        "its ratio to the first interpreter listed (> 1: slower; for a free-threaded build "
        "against a GIL build of the same version, the free-threading overhead), with 95% "
        "intervals."
    )
    return f"{head}<p>{e(intro)}</p>{frame_html(t)}"


def consistency(jobs: pd.DataFrame) -> str:
    """Did every job run on the same host, commit and software? Say which differ."""
    if jobs.empty:
        return (
            "<p>The tables carry no job columns (commit, versions, drift: aggregated by an "
            "older coresweep?): which host and commit each point ran on is unknown.</p>"
        )
    what = {"host": "hosts", "commit": "commits", "versions": "package version sets"}
    varied = {col: sorted(jobs[col].dropna().unique()) for col in what if jobs[col].nunique() > 1}
    if not varied:
        return (
            f"<p>All {len(jobs)} jobs ran on host {e(str(jobs.host.iloc[0]))} at commit "
            f"{e(str(jobs.commit.iloc[0]))} with the same Python and package versions.</p>"
        )
    parts = [f"{len(v)} {what[c]} ({e(', '.join(map(str, v[:4])))})" for c, v in varied.items()]
    return (
        f"<p class='warn'>The {len(jobs)} jobs of this run span {'; '.join(parts)}: points "
        "measured under different conditions are compared with care.</p>"
    )


def provenance_section(inputs: ReportInputs, jobs: pd.DataFrame) -> str:
    prov = inputs.provenance
    if not prov:
        facts = "<p class='warn'>No results/provenance.json: machine and versions unknown.</p>"
    else:
        kv = _machine_facts(prov)
        facts = (
            "<dl class='kv'>"
            + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in kv.items())
            + "</dl>"
        )
        pk = pd.DataFrame(sorted(prov.get("packages", {}).items()), columns=["package", "version"])
        facts += f"<details><summary>Package versions</summary>{frame_html(pk)}</details>"
    config = inputs.config
    conf = (
        "<details><summary>Config of this run (also saved beside this report as config.yaml)"
        f"</summary><pre>{e(config_yaml(config))}</pre></details>"
        if config
        else "<p class='warn'>No results/run.json: the config of this run was not recorded "
        "(tables built by hand?).</p>"
    )
    full = e(json.dumps(prov, indent=1, sort_keys=True))
    return (
        f"<h2 id='provenance'>Provenance</h2>{facts}{consistency(jobs)}{conf}"
        f"<details><summary>Full provenance record</summary><pre>{full}</pre></details>"
    )


def config_yaml(config: dict[str, Any]) -> str:
    """The config as compact YAML (lists on one line), ready for `--configfile`."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=100)


def reproduce_commands(inputs: ReportInputs) -> str:
    """The exact commands that measure this run again (same commit, same config, same cores)."""
    git = inputs.provenance.get("git", {})
    cores = inputs.run.get("cores") or inputs.provenance.get("machine", {}).get(
        "usable_cores", "all"
    )
    lines = [
        "git clone <coresweep repository> coresweep && cd coresweep",
        f"git checkout {git.get('commit', '<commit>')}",
        "pip install -e .            # or: conda env create -f environment.yml",
    ]
    if inputs.config:
        lines += [
            "# config.yaml: the config of this run (beside this report, and under Provenance)",
            f"snakemake --cores {cores} --configfile config.yaml",
        ]
    else:
        lines.append(f"snakemake --cores {cores}")
    lines += [
        "snakemake --report results/report.zip    # Snakemake's own report of the same run",
        "coresweep report --results results       # rebuild this page from the tables alone",
    ]
    return "\n".join(lines)


def reproduce_section(inputs: ReportInputs) -> str:
    note = ""
    if inputs.provenance.get("git", {}).get("dirty"):
        note = (
            "<p class='warn'>The working tree had uncommitted changes when this run was "
            "measured: the commit alone does not reproduce it exactly.</p>"
        )
    return f"<h2 id='reproduce'>Reproduce</h2>{note}<pre>{e(reproduce_commands(inputs))}</pre>"


MODEL_INTRO = (
    "Read from results/tables/scaling_model.csv, which `coresweep model` (the workflow's "
    "scaling_model rule) wrote; the report does not refit. Amdahl's serial fraction f is "
    "fitted to strong scaling and Gustafson's to weak scaling, per kernel and backend. Its 95% "
    "interval comes from the speedups' measurement error or, where larger, the fit's "
    "residuals; the speedup interval at a core count is that f interval through the model. "
    "A speedup beyond the measured core counts is an extrapolation: its interval holds only "
    "if the model holds and the serial fraction stays constant that far. The hold-out beside "
    "it is the model's test: refit without the largest p and predict it (three or more core "
    "counts), or with two, predict the other mode's largest-p speedup through one fixed "
    "overhead per call; hold-out error = predicted / measured - 1. The note says what each "
    "curve's core counts can and cannot show."
)


def _num(v: float) -> str:
    return "∞" if v == float("inf") else f"{v:.3g}"


def _interval(v: float, lo: float, hi: float) -> str:
    return f"{_num(v)} [{_num(lo)}, {_num(hi)}]"


def _holdout(r: Any) -> str:
    if not np.isfinite(r.holdout_rel_error):
        return str(r.holdout_note)
    return (f"{r.holdout_kind}, p={r.holdout_p:g}: predicted {_num(r.holdout_predicted)}, "
            f"measured {_num(r.holdout_measured)}")  # fmt: skip


def model_columns(models: pd.DataFrame) -> pd.DataFrame:
    """The model table (results/tables/scaling_model.csv) for a reader, one row per curve:
    the serial fraction with its interval, the hold-out beside it, each predicted speedup as
    "value [lo, hi] kind" (kind: extrapolation, interpolation, fit at a measured p), the note."""
    if models.empty or "note" not in models:
        return pd.DataFrame()
    keys = ["host", "kernel", "backend", "mode"]
    rows = []
    for _, g in models.groupby(keys, sort=False):
        r = g.iloc[0]
        row = {"host": r.host} if models.host.nunique() > 1 else {}
        row |= {
            "kernel": r.kernel, "backend": r.backend, "mode": r["mode"], "model": r.model,
            "measured p": r.measured_p,
            "serial fraction [95% CI]": (_interval(r.f, r.f_lo, r.f_hi)
                                         if np.isfinite(r.f_lo) else f"{_num(r.f)} (no interval)"),
            "hold-out": _holdout(r),
            "hold-out error": float(r.holdout_rel_error),
        }  # fmt: skip
        for t in g.itertuples():
            row[f"S at p={t.p:g} [95% CI]"] = (
                f"{_interval(t.speedup, t.speedup_lo, t.speedup_hi)} {t.kind}"
                if np.isfinite(t.speedup)
                else f"none ({t.kind}; see note)"
            )
        row["note"] = r.note
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def model_section(models: pd.DataFrame) -> str:
    """The scaling-model section: what the model table says, or why there is none."""
    status = models.attrs.get("status", "")
    parts = ["<h2 id='model'>Scaling model</h2>"]
    if status:
        parts.append(f"<p class='warn'>{e(status)}</p>")
    if not models.empty:
        parts += [f"<p>{e(MODEL_INTRO)}</p>", frame_html(model_columns(models))]
    return "".join(parts)


def data_section(inputs: ReportInputs) -> str:
    parts = ["<h2 id='data'>Data</h2><p>The tidy tables the verdicts were computed from "
             "(also in results/tables/*.parquet and .csv).</p>"]  # fmt: skip
    for name, t in inputs.tables.items():
        parts.append(
            f"<details><summary>{e(name)}: {len(t)} rows</summary>{frame_html(t)}</details>"
        )
    return "".join(parts)


def render_html(
    inputs: ReportInputs,
    claims: pd.DataFrame,
    figures: list[Figure],
    quality: Quality,
    models: pd.DataFrame,
    cases: pd.DataFrame | None = None,
) -> str:
    """The whole report page."""
    line, per = case_tally(cases)
    subcases = f"<p>{e(line)}</p>" + (
        f"<details><summary>Sub-cases per claim</summary>{frame_html(per)}</details>"
        if not per.empty
        else ""
    )
    fr = FigureRenderer(inputs.machine)
    numbers = {f.anchor: i for i, f in enumerate(figures)}
    sections = [claim_section(r, figures, numbers, fr) for r in claims.itertuples()]
    others = [f for f in figures if not f.home]
    other_html = (
        "<h2 id='other-figures'>Other figures</h2>"
        + "".join(fr.draw(f, numbers[f.anchor]) for f in others)
        if others
        else ""
    )
    nav = " ".join(f"<a href='#{c}'>{c}</a>" for c in claims.claim) + (
        " · <a href='#model'>Model</a> <a href='#bandwidth'>Bandwidth</a> <a href='#quality'>Quality</a> <a href='#data'>Data</a> "
        "<a href='#provenance'>Provenance</a> <a href='#reproduce'>Reproduce</a>"
    )
    problems = "".join(f"<p class='warn'>{e(p)}</p>" for p in inputs.problems)
    commit = str(inputs.provenance.get("git", {}).get("commit", "unknown"))
    body = f"""
<header><h1>Multiprocessing vs. multithreading: the article's claims, measured</h1>
<p>Machine: <b>{e(inputs.machine)}</b> · commit <code>{e(commit)}</code>
· {len(inputs.tables)} of {len(inputs.status)} experiments with data</p></header>
<nav>{nav}</nav>{problems}
<h2 id='summary'>Summary</h2>
<p>Each claim of the article "Multiprocessing vs. Multithreading" was put to a measurement;
its verdict follows from the numbers by the rule stated in its section.
<i>Inconclusive</i> means the intervals overlap or too few cores were measured; <i>conditional</i>
means true under the stated conditions only; <i>not run</i> says why there is no data.</p>
<p>{tally(claims)}</p>
{subcases}
{summary_table(claims)}
<details><summary>What data the report found, per experiment</summary>{status_table(inputs)}</details>
{"".join(sections)}
{other_html}
{model_section(models)}
{bandwidth_section(inputs)}
{interpreters_section(inputs)}
{quality_section(quality)}
{data_section(inputs)}
{provenance_section(inputs, quality.jobs)}
{reproduce_section(inputs)}
"""
    return page("coresweep report", body)
