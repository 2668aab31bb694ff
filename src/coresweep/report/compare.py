"""Two result folders side by side (two machines, or two commits): which differences are real.

Rows of the same experiment are matched by their point id (plus what tells rows of one
point apart, e.g. the scaling mode). Every quantity with a 95% interval is compared — the
median time (`time_median`, `time_ci_lo/hi`) and any `X` with `X_ci_lo/hi` (speedup,
efficiency ...). A difference counts only when it exceeds both intervals (they do not
overlap) and B/A differs from 1 by more than the threshold (`differs`): the tables keep
intervals, not samples, so this is decided on the intervals. The verdicts come
from each run's claims.csv: a claim agrees when both runs decided it the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from coresweep.analysis.verdicts import ratio_interval
from coresweep.analysis.verdicts.engine import default_threshold
from coresweep.claims import CLAIMS
from coresweep.report.html import badge, e, frame_html, page
from coresweep.report.inputs import ReportInputs, load_inputs
from coresweep.report.plots import color, save
from coresweep.report.rows import row_keys, row_labels

log = logging.getLogger("coresweep")

COLUMNS = ["experiment", "row", "backend", "quantity", "a", "a_ci_lo", "a_ci_hi",
           "b", "b_ci_lo", "b_ci_hi", "ratio", "ratio_lo", "ratio_hi", "differs", "note"]  # fmt: skip


@dataclass
class Comparison:
    """Run A against run B: the long table of compared quantities and the claims side by side."""

    label_a: str
    label_b: str
    rows: pd.DataFrame
    claims: pd.DataFrame
    only_in_one: list[str] = field(default_factory=list)  # experiments with a table in one run
    cases: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CASE_COLUMNS))

    @property
    def inversions(self) -> int:
        """Sub-cases decided "yes" in one run and "no" in the other."""
        return int((self.cases.change == INVERTED).sum())


def run_label(inputs: ReportInputs) -> str:
    git = inputs.provenance.get("git", {})
    commit = str(git.get("commit", "unknown"))[:10] + ("+dirty" if git.get("dirty") else "")
    return f"{inputs.results} — {inputs.machine}, commit {commit}"


def quantities(table: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(name, value, lo, hi) columns of every quantity the table keeps an interval for."""
    out = []
    for lo in (c for c in table.columns if c.endswith("_ci_lo")):
        base = lo.removesuffix("_ci_lo")
        hi = f"{base}_ci_hi"
        value = base if base in table else f"{base}_median"
        if hi in table and value in table and pd.api.types.is_numeric_dtype(table[value]):
            out.append((base, value, lo, hi))
    return sorted(out, key=lambda q: q[0] != "time")  # time first


def _keyed(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    t = table.copy()
    t["_row"] = row_labels(t, keys)
    return t.drop_duplicates("_row").set_index("_row")


def _workload_note(a: pd.Series, b: pd.Series) -> str:
    params = [c for c in ("size", "ntasks", "unit") if c in a.index and c in b.index]
    diff = [f"{c} {a[c]} vs {b[c]}" for c in params if a[c] != b[c]]
    return "different workload: " + ", ".join(diff) if diff else ""


def differs(
    a: tuple[float, float, float], b: tuple[float, float, float], threshold: float
) -> tuple[bool, tuple[float, float, float]]:
    """Whether B differs from A, and B/A with the widest ratio the intervals allow (NaN where
    A's interval touches 0): the intervals do not overlap and |B/A - 1| > threshold."""
    if not (a[0] and a[1] > 0 and a[2] > 0):
        return False, (float("nan"), float("nan"), float("nan"))
    ratio = ratio_interval(b, a)
    apart = a[1] > b[2] or b[1] > a[2]
    return bool(apart and abs(ratio[0] - 1) > threshold), ratio


def compare_tables(name: str, ta: pd.DataFrame, tb: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The long comparison of one experiment's two tables."""
    keys = row_keys(pd.concat([ta, tb], ignore_index=True))
    a, b = _keyed(ta, keys), _keyed(tb, keys)
    qs = [q for q in quantities(ta) if q in quantities(tb)]
    rows = []
    for label in a.index.union(b.index, sort=False):
        ra = a.loc[label] if label in a.index else None
        rb = b.loc[label] if label in b.index else None
        src = ra if ra is not None else rb
        base = {"experiment": name, "row": label, "backend": str(src.get("backend", ""))}
        if ra is None or rb is None:
            rows.append(base | {"quantity": "", "note": "only in " + ("B" if ra is None else "A")})
            continue
        note = _workload_note(ra, rb)
        for q, value, lo, hi in qs:
            va, vb = (
                (float(ra[value]), float(ra[lo]), float(ra[hi])),
                (float(rb[value]), float(rb[lo]), float(rb[hi])),
            )
            differ, (r, rlo, rhi) = differs(va, vb, threshold)
            rows.append(base | {
                "quantity": q, "a": va[0], "a_ci_lo": va[1], "a_ci_hi": va[2],
                "b": vb[0], "b_ci_lo": vb[1], "b_ci_hi": vb[2],
                "ratio": r, "ratio_lo": rlo, "ratio_hi": rhi, "differs": differ, "note": note,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


#: verdicts that say something about the claim; "not run" and a missing row do not
UNDECIDED = ("not run", "(none)")


def read_claims(results: Path) -> pd.DataFrame:
    """A run's claims.csv (claim, verdict, headline, evidence); empty when there is none."""
    cols = ["claim", "verdict", "headline", "evidence"]
    f = results / "claims.csv"
    if not f.exists():
        return pd.DataFrame(columns=cols)
    t = pd.read_csv(f, keep_default_na=False, dtype=str)
    return t.reindex(columns=cols, fill_value="")  # claims.csv of older runs have no headline


def claims_side_by_side(a: Path, b: Path) -> pd.DataFrame:
    """Each claim's verdict in A and B; agree = yes/no where both runs decided it, else '-'."""
    m = read_claims(a).merge(read_claims(b), on="claim", how="outer", suffixes=("_a", "_b"))
    m = m.fillna("(none)")
    both = ~m.verdict_a.isin(UNDECIDED) & ~m.verdict_b.isin(UNDECIDED)
    m["agree"] = np.where(both, np.where(m.verdict_a == m.verdict_b, "yes", "no"), "-")
    order = {cid: i for i, cid in enumerate(CLAIMS)}
    return m.sort_values("claim", key=lambda s: s.map(order)).reset_index(drop=True)


CASE_COLUMNS = ["claim", "case", "decision_a", "decision_b", "change"]
AGREE, MOVED, INVERTED, ONE_RUN = "agree", "moved", "inverted", "one run"


def read_cases(results: Path) -> pd.DataFrame:
    """A run's tables/verdict_cases.csv (claim, case, decision); empty when there is none."""
    f = results / "tables" / "verdict_cases.csv"
    if not f.exists():
        return pd.DataFrame(columns=["claim", "case", "decision"])
    return pd.read_csv(f, keep_default_na=False, dtype=str)[["claim", "case", "decision"]]


def change_of(a: str, b: str) -> str:
    """agree, moved (decided <-> undecided), inverted (yes <-> no) or one run."""
    if "" in (a, b):
        return ONE_RUN
    if a == b:
        return AGREE
    return INVERTED if {a, b} == {"yes", "no"} else MOVED


def cases_side_by_side(a: Path, b: Path) -> pd.DataFrame:
    """Each sub-case's decision in A and B, matched by claim and stable case key."""
    m = read_cases(a).merge(read_cases(b), on=["claim", "case"], how="outer",
                            suffixes=("_a", "_b")).fillna("")  # fmt: skip
    m["change"] = [change_of(x, y) for x, y in zip(m.decision_a, m.decision_b, strict=True)]
    order = {cid: i for i, cid in enumerate(CLAIMS)}
    m = m.sort_values(["claim", "case"], key=lambda s: s.map(order) if s.name == "claim" else s)
    return m.reset_index(drop=True)[CASE_COLUMNS]


def case_table(c: Comparison) -> str:
    """Per claim, each sub-case's decision in A and B; then the counts."""
    if c.cases.empty:
        return "no sub-cases (tables/verdict_cases.csv) in either run"
    lines = []
    for claim, g in c.cases.groupby("claim", sort=False):
        lines.append(f"{claim}:")
        width = max(len(k) for k in g.case)
        for r in g.itertuples():
            a, b = r.decision_a or "-", r.decision_b or "-"
            lines.append(f"  {r.case.ljust(width)}  {a:<9}  {b:<9}  {r.change}")
    return "\n".join([*lines, case_counts(c)])


def case_counts(c: Comparison) -> str:
    """'sub-cases: 70 of 80 agree, 9 moved between decided and undecided, 1 inverted'."""
    n = c.cases.change.value_counts()
    both = len(c.cases) - int(n.get(ONE_RUN, 0))
    return (
        f"sub-cases: {int(n.get(AGREE, 0))} of {both} agree, {int(n.get(MOVED, 0))} moved "
        f"between decided and undecided, {int(n.get(INVERTED, 0))} inverted (yes <-> no); "
        f"{int(n.get(ONE_RUN, 0))} in one run only"
    )


def compare_runs(run_a: Path, run_b: Path, threshold: float | None = None) -> Comparison:
    """Compare every experiment both runs have a table for, and their verdicts (claims.csv);
    ValueError when they share neither a table nor verdicts. threshold None: the schema's
    protocol.difference_threshold."""
    threshold = default_threshold() if threshold is None else threshold
    for run in (run_a, run_b):
        if not run.is_dir():
            raise ValueError(f"no results folder {run}")
    ia, ib = load_inputs(Path(run_a)), load_inputs(Path(run_b))
    for inputs in (ia, ib):
        if inputs.problems:
            raise ValueError("; ".join(inputs.problems))
    common = [n for n in ia.tables if n in ib.tables]
    verdicts = all((r / "claims.csv").exists() for r in (run_a, run_b))
    if not common and not verdicts:
        raise ValueError(
            f"{run_a} and {run_b} have no experiment table in common "
            f"(A: {sorted(ia.tables) or 'none'}, B: {sorted(ib.tables) or 'none'}) "
            "and not both a claims.csv"
        )
    parts = [compare_tables(n, ia.tables[n], ib.tables[n], threshold) for n in common]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    only = sorted(set(ia.tables) ^ set(ib.tables))
    claims = claims_side_by_side(Path(run_a), Path(run_b))
    cases = cases_side_by_side(Path(run_a), Path(run_b))
    return Comparison(run_label(ia), run_label(ib), rows, claims, only, cases)


def summary_lines(c: Comparison) -> list[str]:
    """A few lines per experiment: how many rows, how many differ, which way."""
    lines = [f"A: {c.label_a}", f"B: {c.label_b}"]
    for name, g in c.rows.groupby("experiment", sort=False):
        t = g[g.quantity == "time"]
        faster = int((t.differs & (t.ratio < 1)).sum())
        slower = int((t.differs & (t.ratio > 1)).sum())
        one = int(g.note.str.startswith("only in").sum())
        lines.append(
            f"{name}: {t.row.nunique()} rows compared; time differs beyond the intervals in "
            f"{faster + slower} (B faster in {faster}, slower in {slower}); "
            f"{int(g[g.quantity != 'time'].differs.fillna(False).astype(bool).sum())} other "
            f"quantities differ; {one} rows in one run only"
        )
    if c.rows.empty:
        lines.append("no experiment table in common: only the verdicts are compared")
    if c.only_in_one:
        lines.append(f"experiments with a table in one run only: {', '.join(c.only_in_one)}")
    return lines


def verdict_table(c: Comparison) -> str:
    """Claim, verdict A, verdict B, agree — then how many verdicts agree, as printed text."""
    head = ("claim", "verdict A", "verdict B", "agree")
    cells = [head] + [(r.claim, r.verdict_a, r.verdict_b, r.agree) for r in c.claims.itertuples()]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]  # fmt: skip
    return "\n".join([*lines, agreement(c)])


def agreement(c: Comparison) -> str:
    """'verdicts agree on N of M claims', M = the claims both runs decided."""
    compared = c.claims[c.claims.agree != "-"]
    n, m = int((compared.agree == "yes").sum()), len(compared)
    line = f"verdicts agree on {n} of {m} claims"
    if skipped := len(c.claims) - m:
        line += f" ({skipped} more not run in A or B: not compared)"
    return line


def text_table(c: Comparison, limit: int = 40) -> str:
    """The time differences that exceed their intervals, as printed text."""
    d = c.rows[(c.rows.quantity == "time") & c.rows.differs.fillna(False).astype(bool)]
    if d.empty:
        return "no time difference exceeds its intervals"
    d = d.assign(
        A=[
            f"{v:.4g} [{lo:.4g}, {hi:.4g}]"
            for v, lo, hi in zip(d.a, d.a_ci_lo, d.a_ci_hi, strict=True)
        ],
        B=[
            f"{v:.4g} [{lo:.4g}, {hi:.4g}]"
            for v, lo, hi in zip(d.b, d.b_ci_lo, d.b_ci_hi, strict=True)
        ],
        B_over_A=[f"{r:.3f}" for r in d.ratio],
    )
    more = f"\n... and {len(d) - limit} more (see the CSV)" if len(d) > limit else ""
    cols = ["experiment", "row", "A", "B", "B_over_A"] + (["note"] if d.note.any() else [])
    return d[cols].head(limit).to_string(index=False) + more


def ratio_plot(
    rows: pd.DataFrame, name: str, c: Comparison, out: Path, threshold: float
) -> Path | None:
    """B/A of the median time per row with its interval: log x, 1 = no change."""
    t = rows[(rows.experiment == name) & (rows.quantity == "time")].dropna(subset=["ratio"])
    if t.empty:
        return None
    t = t.sort_values("ratio")
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.19 * len(t)))
    y = np.arange(len(t))
    ax.axvspan(1 - threshold, 1 + threshold, color="0.92", lw=0)
    ax.axvline(1, color="0.5", lw=0.8)
    for yi, r in zip(y, t.itertuples(), strict=True):
        col = color(r.backend) if r.backend else "0.3"
        ax.plot([r.ratio_lo, r.ratio_hi], [yi, yi], color=col, lw=1.2)
        ax.plot(r.ratio, yi, "o", ms=4, color=col, mfc=col if r.differs else "white")
    ax.set_yticks(y, t.row, fontsize=6)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("median time B / A (log scale; < 1 = B faster)")
    ax.set_title(
        f"{name}: time ratio with 95% interval bounds\nA = {c.label_a}\nB = {c.label_b}", fontsize=8
    )
    ax.legend(
        handles=[
            Line2D([], [], ls="", marker="o", color="0.3", label="differs beyond the intervals"),
            Line2D([], [], ls="", marker="o", color="0.3", mfc="white", label="within the intervals"),
        ],
        fontsize=7, loc="lower right", frameon=False,
    )  # fmt: skip
    return save(fig, out / f"compare_{name}.svg")


def comparison_html(c: Comparison, plots: list[Path]) -> str:
    from coresweep.report.svg import inline_svg

    rows = "".join(
        f"<tr><td>{e(r.claim)}</td><td>{badge(r.verdict_a)}</td><td>{badge(r.verdict_b)}</td>"
        f"<td>{e(r.agree)}</td></tr>"
        for r in c.claims.itertuples()
    )
    figs = "".join(
        f"<figure>{inline_svg(p, f'c{i}', p.stem)}</figure>" for i, p in enumerate(plots)
    )
    diff = c.rows[c.rows.differs.fillna(False).astype(bool)]
    body = (
        "<h1>coresweep: two runs compared</h1>"
        + "".join(f"<p>{e(line)}</p>" for line in summary_lines(c))
        + "<h2>Claims</h2><table><tr><th>claim</th><th>verdict A</th><th>verdict B</th>"
        + f"<th>agree</th></tr>{rows}</table><p>{e(agreement(c))}</p>"
        + f"<h2>Sub-cases</h2><p>{e(case_counts(c))}</p>{frame_html(c.cases)}"
        + f"<h2>Differences beyond the intervals</h2>{frame_html(diff)}"
        + f"<h2>Plots</h2>{figs or '<p>none</p>'}"
        + f"<h2>Every compared quantity</h2><details><summary>{len(c.rows)} rows</summary>"
        + frame_html(c.rows) + "</details>"
    )  # fmt: skip
    return page("coresweep comparison", body)


def write_comparison(c: Comparison, out: Path, threshold: float | None = None) -> dict[str, Path]:
    """comparison.csv, claims.csv, verdict_cases.csv, compare_<experiment>.svg and
    comparison.html under out."""
    threshold = default_threshold() if threshold is None else threshold
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": out / "comparison.csv",
        "claims": out / "claims.csv",
        "cases": out / "verdict_cases.csv",
        "html": out / "comparison.html",
    }
    c.rows.to_csv(paths["csv"], index=False)
    c.cases.to_csv(paths["cases"], index=False)
    c.claims.to_csv(paths["claims"], index=False)
    plots = [
        p
        for name in c.rows.experiment.unique()
        if (p := ratio_plot(c.rows, name, c, out, threshold))
    ]
    paths["html"].write_text(comparison_html(c, plots), encoding="utf-8")
    return paths
