"""Measurement quality across tables: interval widths, flags, budget stops."""

from __future__ import annotations

import pandas as pd


def quality_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per experiment with a timing column: how trustworthy its points are."""
    rows = []
    for name, t in tables.items():
        if "time_rel_halfwidth" not in t or t.empty:
            continue
        flags = t["flags"].fillna("") if "flags" in t else pd.Series([""] * len(t))
        rows.append(
            {
                "experiment": name,
                "points": len(t),
                "median_rel_halfwidth": float(t.time_rel_halfwidth.median()),
                "share_halfwidth_le_3pct": float((t.time_rel_halfwidth <= 0.03).mean()),
                "flagged_points": int((flags.str.len() > 0).sum()),
                "stopped_on_budget": int((t.get("stopped_on", "") == "budget").sum()),
                "failed_checks": int((~t["check_ok"]).sum()) if "check_ok" in t else 0,
            }
        )
    return pd.DataFrame(rows)
