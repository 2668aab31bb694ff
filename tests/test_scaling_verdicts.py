"""C1, C2 and C11 verdict rules on small synthetic scaling tables."""

from __future__ import annotations

import pandas as pd

import coresweep.experiments  # noqa: F401  (registry first: verdict modules import it)
from coresweep.analysis.verdicts.scaling import scaling_verdicts


def _row(kernel, kind, backend, p, s, busy, flags="", baseline_flags=""):
    return {
        "kernel": kernel,
        "kind": kind,
        "backend": backend,
        "p": p,
        "mode": "strong",
        "check_ok": True,
        "speedup": s,
        "speedup_ci_lo": s * 0.97,
        "speedup_ci_hi": s * 1.03,
        "busy_cores": busy,
        "flags": flags,
        "baseline_flags": baseline_flags,
    }


def _table(serial_flags=""):
    """serial_flags: stability flags of the in-job serial baseline of every point."""
    rows = []
    for kernel, kind, thr in (("mc-python", "python", 1.0), ("mc-numba", "nogil", 1.95)):
        busy = 1.0 if kind == "python" else 1.95
        rows.append(_row(kernel, kind, "serial", 1, 1.0, 1.0, "", serial_flags))
        rows.append(_row(kernel, kind, "threads", 2, thr, busy, "", serial_flags))
        rows.append(_row(kernel, kind, "processes-fork", 2, 1.9, 1.9, "", serial_flags))
    return pd.DataFrame(rows)


def _verdicts(table):
    return {v.claim: v for v in scaling_verdicts(table, "test machine")}


def test_gil_bound_threads_make_c2_and_c11_conditional_and_processes_support_c1():
    v = _verdicts(_table())
    assert v["C1"].verdict == "supported"
    assert v["C2"].verdict == "conditional" and v["C11"].verdict == "conditional"
    assert "mc-python" in v["C11"].conditions and "test machine" in v["C11"].conditions
    assert "S=1.95" in v["C11"].evidence


def test_a_noisy_serial_baseline_cannot_decide_anything():
    v = _verdicts(_table(serial_flags="cv>10%"))
    assert {v[c].verdict for c in ("C1", "C2", "C11")} == {"inconclusive"}
    assert "undecided" in v["C11"].evidence and "cv>10%" in v["C11"].evidence


def test_one_core_is_too_few_to_tell():
    t = _table()
    v = _verdicts(t[t.p == 1])
    assert {x.verdict for x in v.values()} == {"inconclusive"}


def test_a_slow_warm_up_alone_does_not_undecide_a_point():
    t = _table()
    t.loc[t.backend == "processes-fork", "flags"] = "slow-first-run"
    assert _verdicts(t)["C1"].verdict == "supported"
    t.loc[t.backend == "processes-fork", "flags"] = "slow-first-run;cv>10%"
    assert _verdicts(t)["C1"].verdict == "inconclusive"
