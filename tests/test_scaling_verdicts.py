"""C1, C2 and C11 verdict rules on small synthetic scaling tables."""

from __future__ import annotations

import pandas as pd
from described import columns_of

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
        **columns_of(backend),
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
    assert v["C11"].headline == (
        "Depends on the kernel: yes for mc-numba (threads ran faster than one: 1.95×); "
        "no for mc-python (no faster: 1.00×, within ±5%)."
    )


def test_a_noisy_serial_baseline_still_decides_where_the_intervals_clear_the_bar():
    # the paired speedup interval carries the baseline's spread
    v = _verdicts(_table(serial_flags="cv>10%"))
    assert [v[c].verdict for c in ("C1", "C2", "C11")] == [
        "supported",
        "conditional",
        "conditional",
    ]


def test_a_failed_serial_check_decides_nothing():
    v = _verdicts(_table(serial_flags="check-failed"))
    assert {v[c].verdict for c in ("C1", "C11")} == {"inconclusive"}
    assert v["C2"].verdict == "conditional"  # busy cores do not rest on the serial baseline
    assert v["C1"].headline == (
        "Not decided for mc-python, mc-numba: flagged serial baseline: check-failed (size not "
        "measured), which could have caused this 'yes'."
    )


def test_one_core_is_too_few_to_tell():
    t = _table()
    v = _verdicts(t[t.p == 1])
    assert {x.verdict for x in v.values()} == {"inconclusive"}
    assert v["C1"].headline == (
        "Needs ≥ 2 usable cores to run workers in parallel; this run measured only p=1."
    )


def test_a_slow_warm_up_or_a_wide_spread_alone_does_not_undecide_a_point():
    t = _table()
    t.loc[t.backend == "processes-fork", "flags"] = "slow-first-run"
    assert _verdicts(t)["C1"].verdict == "supported"
    t.loc[t.backend == "processes-fork", "flags"] = "slow-first-run;cv>10%"
    assert _verdicts(t)["C1"].verdict == "supported"


def test_a_speedup_straddling_half_the_ideal_gain_is_undecided():
    t = _table()
    fork = t.backend == "processes-fork"
    t.loc[fork, ["speedup", "speedup_ci_lo", "speedup_ci_hi"]] = [1.5, 1.4, 1.6]
    v = _verdicts(t)["C1"]
    assert v.verdict == "inconclusive"
    assert "interval [1.40, 1.60] straddles the bar 1.50×" in v.evidence


def test_oversubscribed_points_are_dropped_before_the_largest_p_is_chosen():
    t = _table()
    over = t[t.p == 2].assign(p=4, speedup=1.2, speedup_ci_lo=1.1, speedup_ci_hi=1.3,
                              flags="oversubscribed")  # fmt: skip
    v = _verdicts(pd.concat([t, over], ignore_index=True))
    assert v["C1"].verdict == "supported" and "at p=2" in v["C1"].conditions


def _busy(row_busy, lo, hi, flags, **columns):
    from coresweep.analysis.verdicts.engine import decide_case, threshold_of
    from coresweep.analysis.verdicts.scaling import C2, _busy_case

    row = _row("mc-python", "python", "threads", 2, 1.0, row_busy, flags)
    row |= {"busy_cores_ci_lo": lo, "busy_cores_ci_hi": hi, "point": "t2", **columns}
    return decide_case(C2, _busy_case(row), threshold_of(None))


def test_a_drift_of_the_machines_speed_does_not_move_busy_cores():
    """Busy cores are CPU time over wall time of the same samples: a slower or faster CPU
    moves both. The EPYC VM's case (default run A3, 2026-12-07): a 71% drift of the
    reference beside 0.995 [0.987, 0.996] busy cores decides 'no, one core busy'; the
    interval is not widened at all."""
    d = _busy(0.995, 0.987, 0.996, "reference-drift", drift=0.711)
    assert d.decision == "no" and (d.lo_w, d.hi_w) == (0.987, 0.996)
    d = _busy(1.92, 1.86, 1.98, "reference-drift", drift=-0.66)
    assert d.decision == "yes" and (d.lo_w, d.hi_w) == (1.86, 1.98)


def test_time_taken_from_the_cpus_widens_busy_cores_upwards_by_its_size():
    """What lowers busy cores is time the CPUs gave others, which the capacity ledger
    measures: 1.25 of 2 cores delivered widens upwards by x1.6, past the 1.5-core bar."""
    cap = {"probe_capacity": 1.25, "probe_cores": 2}
    d = _busy(0.995, 0.987, 0.996, "low-capacity", **cap)
    assert d.decision == "undecided" and (d.lo_w, round(d.hi_w, 4)) == (0.987, 1.5936)
    d = _busy(0.995, 0.987, 0.996, "low-capacity", probe_capacity=1.6, probe_cores=2)
    assert d.decision == "no" and (d.lo_w, round(d.hi_w, 4)) == (0.987, 1.245)
