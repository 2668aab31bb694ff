"""Measurement quality: interval widths, stability flags, budget stops, failed checks, drift.

Tables give the per-point numbers; the raw job records give what only the runner saw
(reference-kernel drift over a job, machine load at its start).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coresweep.records import stable_hash
from coresweep.report.rows import row_keys, row_labels

log = logging.getLogger("coresweep")

JOB_COLUMNS = ("experiment", "point", "seconds", "drift", "drift_flag", "load_per_core",
               "load_warning", "capacity", "capacity_flag", "capacity_waited_s", "host",
               "commit", "versions", "readable", "detail")  # fmt: skip


def _job_row(path: Path) -> dict:
    row = {"experiment": path.parent.name, "point": path.stem, "readable": True, "detail": ""}
    try:
        rec = json.loads(path.read_text())
        job = rec["result"].get("job", {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return row | {"readable": False, "detail": f"unreadable raw file {path}: {exc}"}
    prov = rec.get("provenance", {})
    git = prov.get("git", {})
    return row | {
        "host": prov.get("machine", {}).get("hostname", "?"),
        "commit": f"{git.get('commit', '?')}{' (dirty)' if git.get('dirty') else ''}",
        "versions": stable_hash([prov.get("packages"), prov.get("python", {}).get("version")]),
        "seconds": job.get("seconds", np.nan),
        "drift": job.get("drift", np.nan),
        "drift_flag": bool(job.get("drift_flag", False)),
        "load_per_core": job.get("load_per_core_start", np.nan),
        "load_warning": bool(job.get("load_warning", False)),
        "capacity": min(
            (job[k]["capacity"] for k in ("capacity_start", "capacity_end") if k in job),
            default=np.nan,
        ),
        "capacity_flag": bool(job.get("capacity_flag", False)),
        "capacity_waited_s": job.get("capacity_start", {}).get("waited_s", 0.0),
    }


def job_frame(results: Path) -> pd.DataFrame:
    """One row per raw result file: job duration, drift, load; unreadable files say so."""
    paths = sorted(p for p in (results / "raw").glob("*/*.json") if not p.name.startswith("."))
    return pd.DataFrame([_job_row(p) for p in paths], columns=list(JOB_COLUMNS))


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
        ok = mine[mine.readable]
        row |= {
            "jobs": len(mine),
            "drift_flagged_jobs": int(ok.drift_flag.fillna(False).astype(bool).sum()),
            "worst_drift": float(ok.drift.abs().max()) if ok.drift.notna().any() else np.nan,
            "load_warnings": int(ok.load_warning.fillna(False).astype(bool).sum()),
            "low_capacity_jobs": int(ok.capacity_flag.fillna(False).astype(bool).sum()),
            "capacity_wait_s": float(ok.capacity_waited_s.fillna(0).sum()),
            "unreadable_raw": int((~mine.readable).sum()),
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
        drifted = jobs.drift_flag.fillna(False).astype(bool)
        short = jobs.capacity_flag.fillna(False).astype(bool)
        for r in jobs[~jobs.readable | drifted | short].itertuples():
            reasons = []
            if r.drift_flag:
                reasons.append(f"reference kernel drifted {r.drift:+.1%} during the job")
            if r.capacity_flag:
                reasons.append(f"the machine delivered only {r.capacity:.2f} cores")
            why = r.detail if not r.readable else "; ".join(reasons)
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


def assess(results: Path, tables: dict[str, pd.DataFrame], target: float) -> Quality:
    """Everything the quality section shows, from the tables and the raw job records."""
    jobs = job_frame(results)
    return Quality(quality_frame(tables, jobs, target), flagged_frame(tables, jobs), jobs, target)
