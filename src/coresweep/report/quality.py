"""Measurement quality: interval widths, stability flags, budget stops, failed checks, drift.

Everything comes from the tables: the per-point numbers, and the facts of the job that
measured each point (reference-kernel drift over it, machine load at its start, the
capacity probe, commit and versions), which aggregation copies from the raw records into
columns of every table (experiments.job_columns). The report reads no raw file.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coresweep.report.rows import row_keys, row_labels

log = logging.getLogger("coresweep")

JOB_COLUMNS = ("experiment", "point", "seconds", "drift", "drift_flag", "load_per_core",
               "load_warning", "capacity", "capacity_flag", "capacity_waited_s", "host",
               "commit", "versions")  # fmt: skip
#: job frame column <- table column (aggregation's name for it)
FROM_TABLE = {"seconds": "job_seconds", "drift": "drift", "drift_flag": "drift_flag",
              "load_per_core": "load_per_core_start", "load_warning": "load_warning",
              "capacity": "probe_capacity", "capacity_flag": "capacity_flag",
              "capacity_waited_s": "capacity_waited_s", "host": "host", "commit": "commit",
              "versions": "versions_hash"}  # fmt: skip
#: table columns only aggregation of job facts writes: a table without any (aggregated by
#: an older coresweep) gives no job rows rather than rows of unknowns
JOB_FACTS = ("job_seconds", "drift_flag", "load_warning", "capacity_flag", "versions_hash")
BOOLS = ("drift_flag", "load_warning", "capacity_flag")


def _jobs_of(name: str, t: pd.DataFrame) -> pd.DataFrame:
    """One row per point (and host) of one table: its rows of a point share the job's facts."""
    if "point" not in t or not any(c in t for c in JOB_FACTS):
        return pd.DataFrame(columns=list(JOB_COLUMNS))
    per_point = t.drop_duplicates([c for c in ("point", "host") if c in t])
    out = pd.DataFrame({"experiment": name, "point": per_point["point"].astype(str)})
    for col, source in FROM_TABLE.items():
        out[col] = per_point.get(source, np.nan)
    for col in BOOLS:
        out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    out["capacity_waited_s"] = pd.to_numeric(out["capacity_waited_s"]).fillna(0.0)
    if "commit" in per_point and "commit_dirty" in per_point:
        dirty = per_point["commit_dirty"].astype("boolean").fillna(False).astype(bool)
        out["commit"] = [
            f"{c}{' (dirty)' if d else ''}" for c, d in zip(out.commit, dirty, strict=True)
        ]
    return out[list(JOB_COLUMNS)]


def job_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per measured point (experiment, point): job duration, drift, load, capacity,
    host, commit, versions, from the job columns of the tables."""
    parts = [_jobs_of(n, t) for n, t in tables.items() if not t.empty]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=list(JOB_COLUMNS))
    jobs = pd.concat(parts, ignore_index=True)
    return jobs.sort_values(["experiment", "point"], ignore_index=True)


def _flags(t: pd.DataFrame) -> pd.Series:
    if "flags" not in t:
        return pd.Series([""] * len(t), index=t.index)
    return t["flags"].fillna("").astype(str)


def flag_counts(flags: pd.Series) -> str:
    """'cv>10% ×20, slow-first-run ×8': which doubts, how often."""
    c = Counter(f for cell in flags for f in cell.split(";") if f)
    return ", ".join(f"{k} ×{n}" for k, n in c.most_common()) or "none"


def _experiment_quality(name: str, t: pd.DataFrame, jobs: pd.DataFrame, target: float) -> dict:
    flags = _flags(t)
    row: dict = {"experiment": name, "rows": len(t)}
    if "time_rel_halfwidth" in t:
        hw = t["time_rel_halfwidth"].replace([np.inf, -np.inf], np.nan)
        row |= {
            "median_ci_halfwidth": float(hw.median()),
            "worst_ci_halfwidth": float(hw.max()),
            "within_target": float((hw <= target).mean()),
        }
    row |= {
        "flagged_rows": int((flags.str.len() > 0).sum()),
        "flags": flag_counts(flags),
        "stopped_on_budget": int((t["stopped_on"] == "budget").sum()) if "stopped_on" in t else 0,
        "failed_checks": int((~t["check_ok"].astype(bool)).sum()) if "check_ok" in t else 0,
    }
    mine = jobs[jobs.experiment == name]
    if not mine.empty:
        drift = pd.to_numeric(mine.drift)
        row |= {
            "jobs": len(mine),
            "drift_flagged_jobs": int(mine.drift_flag.sum()),
            "worst_drift": float(drift.abs().max()) if drift.notna().any() else np.nan,
            "load_warnings": int(mine.load_warning.sum()),
            "low_capacity_jobs": int(mine.capacity_flag.sum()),
            "capacity_wait_s": float(mine.capacity_waited_s.sum()),
        }
    return row


def quality_frame(
    tables: dict[str, pd.DataFrame], jobs: pd.DataFrame | None = None, target: float = 0.02
) -> pd.DataFrame:
    """One row per experiment: how trustworthy its points are."""
    jobs = jobs if jobs is not None else pd.DataFrame(columns=list(JOB_COLUMNS))
    rows = [_experiment_quality(n, t, jobs, target) for n, t in tables.items() if not t.empty]
    return pd.DataFrame(rows)


def flagged_frame(
    tables: dict[str, pd.DataFrame], jobs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every row with a doubt: stability flags, a budget stop, a failed check, a drifting job."""
    out = []
    for name, t in tables.items():
        if t.empty:
            continue
        flags = _flags(t)
        doubt = flags.str.len() > 0
        if "stopped_on" in t:
            doubt |= t["stopped_on"] == "budget"
        labels = row_labels(t, row_keys(t))
        for i in t.index[doubt]:
            out.append(
                {
                    "experiment": name,
                    "row": labels[i],
                    "flags": flags[i] or "-",
                    "ci_halfwidth": t.at[i, "time_rel_halfwidth"]
                    if "time_rel_halfwidth" in t
                    else np.nan,
                    "stopped_on": t.at[i, "stopped_on"] if "stopped_on" in t else "",
                }
            )
    if jobs is not None and not jobs.empty:
        for r in jobs[jobs.drift_flag | jobs.capacity_flag].itertuples():
            reasons = []
            if r.drift_flag:
                reasons.append(f"reference kernel drifted {r.drift:+.1%} during the job")
            if r.capacity_flag:
                reasons.append(f"the machine delivered only {r.capacity:.2f} cores")
            why = "; ".join(reasons)
            out.append({"experiment": r.experiment, "row": f"job {r.point}", "flags": why,
                        "ci_halfwidth": np.nan, "stopped_on": ""})  # fmt: skip
    return pd.DataFrame(out, columns=["experiment", "row", "flags", "ci_halfwidth", "stopped_on"])


@dataclass(frozen=True)
class Quality:
    """How far to trust the numbers: per experiment, per doubtful row, per job."""

    summary: pd.DataFrame
    flagged: pd.DataFrame
    jobs: pd.DataFrame
    target: float  # the run's CI half-width target


def assess(tables: dict[str, pd.DataFrame], target: float) -> Quality:
    """Everything the quality section shows, from the tables alone."""
    jobs = job_frame(tables)
    return Quality(quality_frame(tables, jobs, target), flagged_frame(tables, jobs), jobs, target)
