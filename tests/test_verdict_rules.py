"""Every verdict rule on tiny hand-made tables: the exact verdict and the headline's words.

Per experiment: flagged points that must still decide, flagged points that must not, flags
the data contradicts, partial decisions (conditional, the undecided named), and impossible
values (refused with a ValueError naming table, column and row).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from described import columns_of

from coresweep.analysis.verdicts import (
    HEADLINE_MAX,
    check_table,
    combine,
    described,
)
from coresweep.analysis.verdicts.communication import communication_verdicts
from coresweep.analysis.verdicts.context_switch import context_switch_verdicts
from coresweep.analysis.verdicts.faults import faults_verdicts
from coresweep.analysis.verdicts.hybrid import hybrid_verdicts
from coresweep.analysis.verdicts.load import load_verdicts
from coresweep.analysis.verdicts.memory import memory_verdicts
from coresweep.analysis.verdicts.record import Verdict
from coresweep.analysis.verdicts.responsiveness import responsiveness_verdicts
from coresweep.analysis.verdicts.scaling import scaling_verdicts
from coresweep.analysis.verdicts.single_core import single_core_verdicts
from coresweep.analysis.verdicts.synchronization import synchronization_verdicts
from coresweep.analysis.verdicts.task_size import task_size_verdicts
from coresweep.crossover import INTERPOLATED, NEVER

M = "box-2c"  # the machine label every verdict must repeat in its conditions


def one(verdicts: list[Verdict], claim: str | None = None) -> Verdict:
    vs = [v for v in verdicts if claim is None or v.claim == claim]
    assert len(vs) == 1
    v = vs[0]
    assert v.headline and len(v.headline) <= HEADLINE_MAX, v.headline
    assert M in v.conditions
    return v


# --- the shared rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "verdict"),
    [
        ({"a": True, "b": True}, "supported"),
        ({"a": False, "b": False}, "refuted"),
        ({"a": True, "b": False}, "conditional"),
        ({"a": True, "b": None}, "conditional"),
        ({"a": False, "b": None}, "conditional"),
        ({"a": None, "b": None}, "inconclusive"),
        ({}, "inconclusive"),
    ],
)
def test_sub_cases_combine_into_one_verdict(results, verdict):
    assert combine(results) == verdict


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        (
            {"speedup": 1.9, "speedup_ci_lo": 2.0, "speedup_ci_hi": 2.1},
            "speedup_ci_lo above speedup",
        ),
        (
            {"speedup": 1.9, "speedup_ci_lo": 1.8, "speedup_ci_hi": 1.85},
            "speedup_ci_hi below speedup",
        ),
        ({"speedup": math.nan, "speedup_ci_lo": 1.8, "speedup_ci_hi": 2.0}, "NaN"),
        ({"speedup": 1.9, "speedup_ci_lo": 1.8, "speedup_ci_hi": math.nan}, "only one bound"),
        ({"speedup": -1.0, "speedup_ci_lo": -1.1, "speedup_ci_hi": -0.9}, "negative"),
        ({"speedup": "fast", "speedup_ci_lo": 1.8, "speedup_ci_hi": 2.0}, "not a number"),
    ],
)
def test_impossible_values_are_refused_naming_table_column_and_row(row, needle):
    t = pd.DataFrame([{"kernel": "ok", "speedup": 1.0, "speedup_ci_lo": 0.9, "speedup_ci_hi": 1.1},
                      {"kernel": "k", **row}])  # fmt: skip
    with pytest.raises(ValueError, match=needle) as e:
        check_table(
            t,
            "demo",
            intervals=[("speedup", "speedup_ci_lo", "speedup_ci_hi")],
            nonnegative=["speedup"],
        )
    assert "demo table" in str(e.value) and "row 1 (kernel=k" in str(e.value)


def test_a_table_without_descriptor_columns_selects_nothing():
    """Analysis reads the descriptor from the table, never from the backend registry."""
    t = described(pd.DataFrame({"backend": ["threads", "processes-spawn"]}))
    assert t.backend_isolation.isna().all()  # nothing to select by
    own = described(pd.DataFrame([{"backend": "x", **columns_of("threads")}]))
    assert list(own.backend_isolation) == ["thread"]


# --- C1, C2, C11: scaling ---------------------------------------------------------------------


def _sc(kernel, kind, backend, p, s, busy, flags="", base="", half=0.02, cap=2.0):
    return {"kernel": kernel, "kind": kind, "backend": backend, "p": p, "mode": "strong",
            "check_ok": True, "speedup": s, "speedup_ci_lo": s - half, "speedup_ci_hi": s + half,
            "time_median": 1.0 / s, "time_ci_lo": 0.9 / s, "time_ci_hi": 1.1 / s,
            "busy_cores": busy, "flags": flags, "baseline_flags": base, "probe_capacity": cap,
            "probe_cores": 2, **columns_of(backend)}  # fmt: skip


def _scaling(overrides=None):
    """A typical 2-core run: processes scale every compute kernel, threads only nogil ones."""
    rows = []
    for kernel, kind, thr in (("mc-python", "python", 1.0), ("mc-numba", "nogil", 1.95),
                              ("dgemm", "blas", 1.9)):  # fmt: skip
        rows.append(_sc(kernel, kind, "serial", 1, 1.0, 1.0))
        rows.append(_sc(kernel, kind, "threads", 2, thr, 1.0 if kind == "python" else thr))
        rows.append(_sc(kernel, kind, "processes-fork", 2, 1.93, 1.95))
    t = pd.DataFrame(rows)
    for (kernel, backend), values in (overrides or {}).items():
        for col, v in values.items():
            t.loc[(t.kernel == kernel) & (t.backend == backend) & (t.p == 2), col] = v
    return t


def _scaling_v(t):
    return {v.claim: one([v]) for v in scaling_verdicts(t, M)}


def test_scaling_typical_two_core_run():
    v = _scaling_v(_scaling())
    assert v["C1"].verdict == "supported"
    assert v["C1"].headline == (
        "Yes for mc-python, mc-numba, dgemm (processes ran faster than one: 1.93×)."
    )
    assert v["C11"].verdict == "conditional"
    assert v["C11"].headline == (
        "Depends on the kernel: yes for mc-numba, dgemm (threads ran faster than one: "
        "1.90–1.95×); no for mc-python (no faster: 1.00×, within ±5%)."
    )
    assert v["C2"].verdict == "conditional"
    assert "no for mc-python (one core busy: 1.00 cores, within ±5%)" in v["C2"].headline


def test_scaling_noisy_or_contended_points_that_clear_the_bar_still_decide():
    t = _scaling({(k, "processes-fork"): {"flags": "cv>10%;low-capacity;reference-drift"}
                    for k in ("mc-python", "mc-numba", "dgemm")})  # fmt: skip
    t["baseline_flags"] = "cv>10%;min/max>50%-from-mean"
    assert _scaling_v(t.assign(drift=0.02))["C1"].verdict == "supported"
    # a drift of unknown size may have sped the run up as well as slowed it
    assert _scaling_v(t)["C1"].verdict == "inconclusive"


def test_scaling_contention_cannot_decide_a_no():
    t = _scaling({("mc-python", "threads"): {"flags": "low-capacity", "probe_capacity": 1.6}})
    v = _scaling_v(t)["C11"]
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the kernel: yes for mc-numba, dgemm (threads ran faster than one: "
        "1.90–1.95×); not decided for mc-python."
    )
    # the shortfall (2 / 1.6 cores) could have hidden up to 1.25x: [0.98, 1.27] straddles
    assert "interval [0.98, 1.27] (widened by low-capacity, 1.60 of 2 cores delivered" in v.evidence


def test_scaling_a_slowed_baseline_cannot_decide_a_yes():
    t = _scaling()
    t.loc[t.backend == "processes-fork", "baseline_flags"] = "low-capacity"
    v = _scaling_v(t)["C1"]
    assert v.verdict == "inconclusive"
    assert v.headline == (
        "Not decided for mc-python, mc-numba, dgemm: flagged serial baseline: low-capacity "
        "(size not measured), which could have caused this 'yes'."
    )


def test_scaling_a_failed_check_undecides_only_its_kernel():
    t = _scaling({("dgemm", "processes-fork"): {"flags": "check-failed"}})
    v = _scaling_v(t)["C1"]
    assert v.verdict == "conditional"
    assert v.headline.endswith("not decided for dgemm.")
    assert "undecided for ['dgemm']" in v.conditions


def test_scaling_low_capacity_that_the_speedup_contradicts_is_resized_not_dropped():
    # 1.35x measured while the probe saw 1.20 of 2 cores: the capacity was at least 1.35,
    # so the shortfall is at most 2 / 1.35 = 1.48x, which still reaches the bar (1.50x):
    # a hog that slowed the probe may have slowed the point as well (the C1 inversion of
    # a hog run: probe 1.05 of 2, point 1.06x)
    slow = {"speedup": 1.40, "speedup_ci_lo": 1.35, "speedup_ci_hi": 1.45, "busy_cores": 1.38,
            "flags": "low-capacity", "probe_cores": 2}  # fmt: skip
    t = _scaling({(k, "processes-fork"): {**slow, "probe_capacity": 1.2}
                    for k in ("mc-python", "mc-numba", "dgemm")})  # fmt: skip
    v = _scaling_v(t)["C1"]
    assert v.verdict == "inconclusive"
    assert (
        "interval [1.35, 2.15] (widened by low-capacity, 1.20 of 2 cores delivered (the point did "
        "1.35x: the probe under-read) (x1.48)) straddles the bar 1.50×" in v.evidence
    )
    # a probe that was not contradicted keeps its own, larger size: 2 / 1.5 = 1.33x
    t.loc[t.backend == "processes-fork", "probe_capacity"] = 1.5
    v = _scaling_v(t)["C1"]
    assert v.verdict == "inconclusive" and "[1.35, 1.93]" in v.evidence and "(x1.33)" in v.evidence


def test_scaling_oversubscribed_points_never_decide():
    t = _scaling()
    over = t[t.p == 2].assign(p=4, speedup=1.0, speedup_ci_lo=0.98, speedup_ci_hi=1.02,
                              flags="oversubscribed")  # fmt: skip
    v = _scaling_v(pd.concat([t, over], ignore_index=True))
    assert v["C1"].verdict == "supported"
    assert "p=2" in v["C1"].conditions and "oversubscribed points not counted" in v["C1"].conditions


def test_scaling_one_core_cannot_test_the_claims():
    t = _scaling()
    vs = scaling_verdicts(t[t.p == 1], M)
    assert {v.verdict for v in vs} == {"inconclusive"}
    assert all(v.headline.startswith("Needs ≥ 2 usable cores") for v in vs)


def test_scaling_impossible_speedup_is_refused():
    t = _scaling({("dgemm", "threads"): {"speedup_ci_hi": 1.0}})
    with pytest.raises(
        ValueError, match=r"scaling table, row \d+ \(kernel=dgemm.*speedup_ci_hi below"
    ):
        scaling_verdicts(t, M)


# --- C8: task size ----------------------------------------------------------------------------


def _ts_rows(backend, speedups, status, flags=("", "", ""), cap=2.0, crossover_s=3e-4):
    rows = []
    for ts, (s, half), f in zip((1e-5, 1e-3, 1e-1), speedups, flags, strict=True):
        rows.append({"kernel": "mc-python", "kind": "python", "backend": backend, "p": 2,
                     "level": "ladder", "arm": f"{ts:g}", "task_seconds": ts, "speedup": s,
                     "speedup_ci_lo": s - half, "speedup_ci_hi": s + half, "time_median": ts,
                     "time_ci_lo": ts, "time_ci_hi": ts, "crossover_s": crossover_s,
                     "crossover_status": status, "overhead_task_s": 6e-5,
                     "overhead_task_ci_lo": 5e-5, "overhead_task_ci_hi": 7e-5, "start_s": 0.05,
                     "start_first_s": 0.1, "speedup_largest": speedups[-1][0],
                     "cold_break_even_s": 0.2, "check_ok": True, "flags": f,
                     "probe_capacity": cap, **columns_of(backend)})  # fmt: skip
    return rows


CROSSES = [(0.2, 0.02), (1.3, 0.1), (1.9, 0.05)]


def _ts(*backends):
    serial = _ts_rows("serial", [(1.0, 0.0)] * 3, NEVER)
    threads = _ts_rows("threads", [(0.5, 0.05), (0.9, 0.05), (1.0, 0.02)], NEVER)
    return pd.DataFrame(serial + threads + [r for b in backends for r in b])


def test_task_size_typical_two_core_run():
    v = one(task_size_verdicts(_ts(_ts_rows("processes-fork", CROSSES, INTERPOLATED)), M))
    assert v.verdict == "supported"
    assert v.headline == ("Yes for mc-python/processes-fork (loses on small tasks, wins on large).")


def test_task_size_a_win_despite_load_decides_a_loss_under_load_does_not():
    win_flagged = _ts_rows("processes-fork", CROSSES, INTERPOLATED, ("", "", "low-capacity"))
    assert one(task_size_verdicts(_ts(win_flagged), M)).verdict == "supported"
    loss_flagged = _ts_rows("processes-fork", CROSSES, INTERPOLATED, ("low-capacity", "", ""))
    v = one(task_size_verdicts(_ts(loss_flagged), M))
    assert v.verdict == "inconclusive"
    assert v.headline == (
        "Not decided for mc-python/processes-fork: flagged smallest tasks: low-capacity "
        "(size not measured), which could have caused this 'yes'."
    )


def test_task_size_never_winning_under_a_doubted_probe_is_weighed_by_the_point():
    never = [(0.2, 0.02), (0.6, 0.05), (0.9, 0.05)]
    # the pool did 0.85 cores' worth while the probe saw 0.8 of 2: the shortfall is up to
    # 2 / 0.85 = 2.35x, which could have hidden a win: undecided, sized by the point
    rows = _ts_rows("processes-spawn", never, NEVER, ("", "", "low-capacity"), cap=0.8)
    v = one(task_size_verdicts(_ts(rows).assign(probe_cores=2), M))
    assert v.verdict == "inconclusive"
    assert "the point did 0.85x: the probe under-read) (x2.35)" in v.evidence
    # a probe of 1.95 of 2 cores: 1.03x cannot lift [0.85, 0.95] over 1: never wins
    rows = _ts_rows("processes-spawn", never, NEVER, ("", "", "low-capacity"), cap=1.95)
    v = one(task_size_verdicts(_ts(rows).assign(probe_cores=2), M))
    assert v.verdict == "refuted"
    assert v.headline == (
        "No for mc-python/processes-spawn (wins on small tasks or loses on large)."
    )
    assert "never wins: mc-python/processes-spawn" in v.conditions


def test_task_size_partly_decided_is_conditional():
    straddles = [(0.1, 0.02), (0.8, 0.1), (1.0, 0.05)]
    t = _ts(_ts_rows("processes-fork", CROSSES, INTERPOLATED),
            _ts_rows("processes-spawn", straddles, NEVER))  # fmt: skip
    v = one(task_size_verdicts(t, M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the kernel and pool: yes for mc-python/processes-fork (loses on small tasks, "
        "wins on large); not decided for mc-python/processes-spawn."
    )


def test_task_size_one_core_cannot_test_and_bad_values_are_refused():
    t = _ts(_ts_rows("processes-fork", CROSSES, INTERPOLATED))
    v = one(task_size_verdicts(t.assign(p=1), M))
    assert v.verdict == "inconclusive" and v.headline.startswith("Needs ≥ 2 usable cores")
    t.loc[3, "task_seconds"] = -1e-5
    with pytest.raises(ValueError, match="task_size table, column 'task_seconds', row 3"):
        task_size_verdicts(t, M)


# --- C9: hybrid -------------------------------------------------------------------------------


def _grid(times, cores=4, half=0.01, family="f", flags=None, cap=4.0):
    flags = flags or {}
    return [{"family": family, "kernel": "k", "inner": "numba", "cores": cores,
             "variant": "limited", "processes": p, "threads_per_process": t,
             "time_median": m, "time_ci_lo": m - half, "time_ci_hi": m + half,
             "speedup": 1 / m, "speedup_ci_lo": 1 / (m + half), "speedup_ci_hi": 1 / (m - half),
             "flags": flags.get((p, t), ""), "probe_capacity": cap}
            for (p, t), m in times.items()]  # fmt: skip


WIN = {(1, 4): 0.50, (2, 2): 0.30, (4, 1): 0.40}


def test_hybrid_a_clear_win_decides_even_when_noisy():
    v = one(hybrid_verdicts(pd.DataFrame(_grid(WIN, flags={(2, 2): "cv>10%"})), M))
    assert v.verdict == "supported"
    assert v.headline == "Yes for f (a processes × threads mix faster, pure/mix time: 1.33×)."


def test_hybrid_drift_could_flip_the_comparison():
    v = one(hybrid_verdicts(pd.DataFrame(_grid(WIN, flags={(2, 2): "reference-drift"})), M))
    assert v.verdict == "inconclusive" and v.headline.startswith("Not decided for f:")
    assert "flagged 2x2: reference-drift (size not measured)" in v.evidence


def test_hybrid_drift_too_small_to_flip_the_comparison_decides():
    # hybrid/pure = [1.26, 1.41]: a 5% change of speed cannot bring it to 1.05, 25% can
    def verdict(drift):
        rows = _grid(WIN, flags={(2, 2): "reference-drift"})
        return one(hybrid_verdicts(pd.DataFrame(rows).assign(drift=drift), M)).verdict

    assert verdict(0.05) == "supported"
    assert verdict(0.25) == "inconclusive"


def test_hybrid_low_capacity_contradicted_by_the_speedup_is_sized_by_the_speedup():
    flags = {k: "low-capacity" for k in WIN}
    # probes of 1.5 of 4 cores, under-read by every split: each shortfall is 4 / its own
    # speedup's lower bound (4x1: 2.44 cores, x1.64), which could make the pure split look
    # slow: [1.26, 1.41] widens to [0.77, 1.75]
    measured = pd.DataFrame(_grid(WIN, flags=flags, cap=1.5)).assign(probe_cores=4)
    v = one(hybrid_verdicts(measured, M))
    assert v.verdict == "inconclusive" and "interval [0.77, 1.75]" in v.evidence
    assert "4x1: low-capacity, 1.50 of 4 cores delivered (the point did 2.44x" in v.evidence
    # 4 / 3.9 cores: a 1.03x shortfall cannot bring [1.26, 1.41] down to 1.05
    measured = pd.DataFrame(_grid(WIN, flags=flags, cap=3.9)).assign(probe_cores=4)
    assert one(hybrid_verdicts(measured, M)).verdict == "supported"
    # 4 / 3.25 cores (more than either split did): 1.23x can
    measured = pd.DataFrame(_grid(WIN, flags=flags, cap=3.25)).assign(probe_cores=4)
    assert one(hybrid_verdicts(measured, M)).verdict == "inconclusive"


def test_hybrid_partly_decided_is_conditional_and_equal_splits_are_a_no():
    tie = _grid({(1, 4): 0.50, (2, 2): 0.31, (4, 1): 0.30}, half=0.05, family="tie")
    same = _grid({(1, 4): 0.50, (2, 2): 0.30, (4, 1): 0.30}, half=0.001, family="same")
    v = one(hybrid_verdicts(pd.DataFrame(_grid(WIN) + tie + same), M))
    assert v.verdict == "conditional"
    assert v.headline.startswith(
        "Depends on the workload: yes for f (a processes × threads mix faster, pure/mix time: "
        "1.33×); no for same (a pure split as fast, pure/mix time: 1.00×, within ±5"
    )
    assert "undecided for ['tie']" in v.conditions


def test_hybrid_two_cores_cannot_test_and_oversubscribed_mixes_do_not_count():
    v = one(hybrid_verdicts(pd.DataFrame(_grid({(1, 2): 0.5, (2, 1): 0.5}, cores=2)), M))
    assert v.verdict == "inconclusive"
    assert v.headline == "Needs ≥ 4 cores for a P × T split with both above 1; this machine has 2."
    over = _grid(WIN, flags={(2, 2): "oversubscribed"})
    v = one(hybrid_verdicts(pd.DataFrame(over), M))
    assert v.verdict == "inconclusive"
    assert v.headline == "Not decided: no split with P>1 and T>1 was measured."


def test_hybrid_impossible_interval_is_refused():
    t = pd.DataFrame(_grid(WIN))
    t.loc[1, "time_ci_lo"] = 0.35
    with pytest.raises(ValueError, match="hybrid table, row 1.*time_ci_lo above time_median"):
        hybrid_verdicts(t, M)


# --- C13: load --------------------------------------------------------------------------------


def _load(kernel, kind, thr_rate, proc_rate, half=0.01, proc_flags="", cap=2.0, thr_flags=""):
    rows = []
    for backend, rate, flags in (
        ("threads", thr_rate, thr_flags),
        ("processes-fork", proc_rate, proc_flags),
    ):
        for load in (1.0, 2.0):
            x = rate * min(load, 2)
            rows.append({"kernel": kernel, "kind": kind, "backend": backend, "p": 2, "load": load,
                         "throughput": x, "throughput_ci_lo": x * (1 - half),
                         "throughput_ci_hi": x * (1 + half), "capacity_per_core": 100.0,
                         "throughput_cores": x / 100, "latency_p50": 0.01, "latency_p99": 0.05,
                         "service_s": 0.01, "unfinished": 0, "flags": flags,
                         "probe_capacity": cap, **columns_of(backend)})  # fmt: skip
    return rows


def test_load_typical_two_core_run():
    t = pd.DataFrame(_load("mc-python", "python", 50, 100) + _load("mc-numba", "nogil", 100, 100))
    v = one(load_verdicts(t, M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the kernel: yes for mc-python (processes/threads throughput: 2.00×); "
        "no for mc-numba (processes/threads throughput: 1.00×, within ±5%)."
    )


def test_load_contention_on_the_process_pool_blocks_only_a_no():
    t = pd.DataFrame(_load("mc-python", "python", 50, 100, proc_flags="low-capacity"))
    assert one(load_verdicts(t, M)).verdict == "supported"
    t = pd.DataFrame(_load("mc-numba", "nogil", 100, 100, proc_flags="low-capacity"))
    v = one(load_verdicts(t, M))
    assert v.verdict == "inconclusive" and "processes: low-capacity" in v.evidence


def test_load_late_arrivals_block_only_when_they_could_have_held_the_pool_back():
    # threads saturate at 100 req/s [99, 101]; 150 requests offered at 200/s arrive, even
    # each late by the p99 lag, at 150 / (0.75 s + lag): 188/s for 50 ms (a backlog all the
    # same: the GIL, not the submitter, set the pace), 86/s for 1 s (could have starved it)
    def verdict(lag):
        t = pd.DataFrame(_load("mc-python", "python", 50, 100, thr_flags="arrivals-late"))
        t = t.assign(requests=150, offered_rate=100.0 * t["load"], submit_lag_p99=lag)
        return one(load_verdicts(t, M))

    assert verdict(0.05).verdict == "supported"
    v = verdict(1.0)
    assert v.verdict == "inconclusive" and "threads: arrivals-late" in v.evidence


def test_load_low_capacity_contradicted_by_the_throughput_decides():
    # the process pool served 1.98 cores' worth of requests while the probe saw 1.5 of 2
    t = pd.DataFrame(_load("mc-numba", "nogil", 100, 100, proc_flags="low-capacity", cap=1.5))
    v = one(load_verdicts(t.assign(probe_cores=2), M))
    # so the shortfall is at most 2 / 1.98 = 1.01x: [0.98, 1.02] widens inside the band
    assert v.verdict == "refuted" and "inside the band" in v.evidence
    assert "(x1.01)" in v.evidence
    assert v.headline.startswith("No for mc-numba (processes/threads throughput: 1.00×")
    # the same probe of 4 cores: 1.98 cores' worth leaves a shortfall of up to 2.02x
    v = one(load_verdicts(t.assign(probe_cores=4), M))
    assert v.verdict == "inconclusive" and "(x2.02)" in v.evidence


def test_load_one_core_cannot_test_and_negative_throughput_is_refused():
    t = pd.DataFrame(_load("mc-python", "python", 50, 100))
    assert one(load_verdicts(t.assign(p=1), M)).headline.startswith("Needs ≥ 2 usable cores")
    t.loc[0, ["throughput", "throughput_ci_lo"]] = [-5.0, -6.0]
    with pytest.raises(ValueError, match="load table, column 'throughput', row 0"):
        load_verdicts(t, M)


# --- C4: memory -------------------------------------------------------------------------------


def _mem(backend, sharing, slope, half, flags="", state="idle"):
    return [{"backend": backend, "sharing": sharing, "state": state, "workers": n, "cores": 2,
             "input_mib": 64.0 if sharing != "none" else 0.0, "pss_data_mib": 50 + slope * n,
             "pss_data_per_worker_mib": slope, "pss_data_per_worker_ci_lo": slope - half,
             "pss_data_per_worker_ci_hi": slope + half, "flags": flags,
             **columns_of(backend)}
            for n in (1, 2, 4)]  # fmt: skip


def _memory(**flags):
    parts = [
        ("threads", "none", 0.1, 0.1),
        ("processes-fork", "none", 8.0, 0.5),
        ("processes-fork", "copied", 70.0, 1.0),
        ("processes-fork", "inherited", 8.2, 0.6),
    ]
    return pd.DataFrame([r for b, s, x, h in parts for r in _mem(b, s, x, h, flags.get(s, ""))])  # fmt: skip


def test_memory_typical_two_core_run():
    v = one(memory_verdicts(_memory(), M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the input: yes for no input, a copied input (each process worker needs "
        "more); no for a fork copy-on-write input (no more per process worker)."
    )


def test_memory_cpu_contention_and_sampling_noise_do_not_touch_memory():
    flags = "low-capacity;reference-drift;sampling<10Hz;low-capacity"
    v = one(memory_verdicts(_memory(none=flags, copied=flags, inherited=flags), M))
    assert v.verdict == "conditional" and "not decided" not in v.headline


def test_memory_fewer_workers_holding_the_input_blocks_a_no_not_a_yes():
    # the copied input was duplicated even though not every worker held it: the data wins
    v = one(memory_verdicts(_memory(copied="not-all-workers-hold-input"), M))
    assert "yes for no input, a copied input" in v.headline
    # not duplicated, but some workers never held it: that could be why
    v = one(memory_verdicts(_memory(inherited="not-all-workers-hold-input"), M))
    assert v.verdict == "conditional"
    assert v.headline.endswith("not decided for a fork copy-on-write input.")


def test_memory_a_missing_worker_undecides_and_nothing_decided_is_inconclusive():
    v = one(memory_verdicts(_memory(none="workers-missing", copied="workers-missing",
                                    inherited="workers-missing"), M))  # fmt: skip
    assert v.verdict == "inconclusive"
    assert v.headline.startswith("Not decided for no input, a copied input, a fork copy-on-write")
    assert "flagged processes-fork: workers-missing (size not measured)" in v.evidence


def test_memory_impossible_slope_interval_is_refused():
    t = _memory()
    t.loc[4, "pss_data_per_worker_ci_hi"] = 1.0
    with pytest.raises(ValueError, match="memory table, row 4 .*backend=processes-fork"):
        memory_verdicts(t, M)


# --- C5: communication ------------------------------------------------------------------------


def _comm(size, ratio, half, thread_flags="", proc_flags=""):
    rtt = 30.0
    base = {"family": "multiprocessing", "size": size, "cores": 2, "kind": "process",
            "thread_ref": "thread-queue", "bandwidth_gbs": 1.0}  # fmt: skip
    return [
        {**base, "transport": "thread-queue", "family": "threads", "kind": "thread",
         "thread_ref": "", "rtt_us": rtt, "rtt_us_ci_lo": rtt, "rtt_us_ci_hi": rtt,
         "vs_thread": np.nan, "vs_thread_ci_lo": np.nan, "vs_thread_ci_hi": np.nan,
         "flags": thread_flags},
        {**base, "transport": "shm-event", "rtt_us": rtt * ratio, "rtt_us_ci_lo": rtt * ratio,
         "rtt_us_ci_hi": rtt * ratio, "vs_thread": ratio, "vs_thread_ci_lo": ratio - half,
         "vs_thread_ci_hi": ratio + half, "flags": proc_flags},
    ]  # fmt: skip


def test_communication_typical_two_core_run():
    v = one(communication_verdicts(pd.DataFrame(_comm(8, 0.8, 0.05) + _comm(2**20, 3.0, 0.1)), M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on message size: yes for 1 MiB (threads faster: 3.00×); no for 8 B (a process "
        "transport as fast: 0.80×; needs > 1.05×)."
    )


def test_communication_noise_does_not_undecide_drift_does():
    t = pd.DataFrame(_comm(8, 0.8, 0.05, proc_flags="cv>10%") + _comm(2**20, 3.0, 0.1))
    assert one(communication_verdicts(t, M)).verdict == "conditional"
    t = pd.DataFrame(_comm(8, 0.8, 0.05, thread_flags="reference-drift") + _comm(2**20, 3.0, 0.1))
    v = one(communication_verdicts(t, M))
    assert v.verdict == "conditional" and v.headline.endswith("not decided for 8 B.")
    # a drift of unknown size on the thread side could have lowered the ratio into a "no"
    assert "flagged thread-queue: reference-drift (size not measured)" in v.evidence
    t.loc[0, "drift"] = 0.02  # measured: [0.75, 0.85] x 1.02 stays below the bar
    assert one(communication_verdicts(t, M)).headline.endswith(
        "(a process transport as fast: 0.80×; needs > 1.05×)."
    )


def test_communication_drift_of_one_point_is_weighed_per_round_of_its_paired_arms():
    """Both arms drifted 73% in one point, sampled in the same 12 rounds: the ratio is a
    median of per-round ratios, so the drift moves it by 1 + 0.73/12 (once, not squared);
    arms of two points, or unpaired, take the whole drift."""
    rows = _comm(2**20, 1.5, 0.1, thread_flags="reference-drift", proc_flags="reference-drift")
    for r in rows:
        r |= {"drift": 0.73, "point": "dask", "n": 12}
    v = one(communication_verdicts(pd.DataFrame(rows), M))
    assert v.verdict == "supported"  # [1.4, 1.6] / 1.0608 = 1.32 > 1.05
    assert "reference-drift, 73.0% over 12 paired rounds (x1.06)" in v.evidence
    rows[1]["point"] = "other"
    v = one(communication_verdicts(pd.DataFrame(rows), M))
    assert v.verdict == "inconclusive"  # [1.4 / 1.73 / 1.73, ...] = 0.47: straddles


def test_communication_all_straddling_is_inconclusive_and_a_nan_ratio_with_a_ci_refused():
    v = one(communication_verdicts(pd.DataFrame(_comm(8, 1.05, 0.2)), M))
    assert v.verdict == "inconclusive"
    assert v.headline == (
        "Not decided for 8 B: interval [0.85, 1.25] straddles the bar 1.05× and the band "
        "[0.95, 1.05]."
    )
    t = pd.DataFrame(_comm(8, 0.8, 0.05))
    t.loc[1, "vs_thread"] = np.nan
    with pytest.raises(ValueError, match="communication table, row 1 .*no vs_thread"):
        communication_verdicts(t, M)


# --- C7: context switch -----------------------------------------------------------------------

FAST, SLOW = [0.0010, 0.0010, 0.0011, 0.0010], [0.0030, 0.0031, 0.0030, 0.0031]


def _cs(pin, mech, party, wall, flags="", busy=1.0, cap=2.0):
    us = [np.median(wall) * 5e3, min(wall) * 5e3, max(wall) * 5e3]
    return {"pin": pin, "cpus": "1", "mechanism": mech, "party": party,
            "round_trips_per_call": 100, "us_per_switch": us[0], "us_ci_lo": us[1],
            "us_ci_hi": us[2], "voluntary_per_round_trip": 1.0,
            "involuntary_per_round_trip": 1.0, "wall_samples": wall, "flags": flags,
            "busy_cores": busy, "probe_capacity": cap}  # fmt: skip


def test_context_switch_typical_run_with_noise_decides():
    t = pd.DataFrame([_cs("pinned", "thread-lock", "thread", FAST, "cv>10%"),
                      _cs("pinned", "process-pipe", "process", SLOW),
                      _cs("unpinned", "thread-lock", "thread", FAST),
                      _cs("unpinned", "process-pipe", "process", SLOW)])  # fmt: skip
    v = one(context_switch_verdicts(t, M))
    assert v.verdict == "conditional"  # unpinned is reported, decided pinned only
    assert v.headline.startswith("Depends on pinning: yes for pinned (threads quicker, ")
    assert v.headline.endswith("not decided for unpinned.")


def test_context_switch_an_unpinned_partner_leaves_the_pinned_half_undecided():
    t = pd.DataFrame([_cs("pinned", "thread-lock", "thread", FAST),
                      _cs("pinned", "process-pipe", "process", SLOW, "partner-not-pinned"),
                      _cs("unpinned", "thread-lock", "thread", FAST),
                      _cs("unpinned", "process-pipe", "process", SLOW)])  # fmt: skip
    v = one(context_switch_verdicts(t, M))
    assert v.verdict == "inconclusive"  # pinned blocked by its flag, unpinned by placement
    assert {c["group"]: c["decision"] for c in v.cases} == {
        "pinned": "undecided",
        "unpinned": "undecided",
    }


def test_context_switch_drift_cancels_in_a_ratio_taken_round_by_round():
    # a 30% drift would stretch an unpaired ratio across the bar; the arms share rounds
    t = pd.DataFrame([_cs("pinned", "thread-lock", "thread", FAST, "reference-drift"),
                      _cs("pinned", "process-pipe", "process", SLOW, "reference-drift")])  # fmt: skip
    v = one(context_switch_verdicts(t.assign(drift=0.3, point="pinned"), M))
    assert v.verdict == "supported"
    assert v.headline == "Yes for pinned (threads quicker, process/thread: 3.05×)."
    # load of unknown size on the thread arm can only slow the threads: not this "yes"
    t = pd.DataFrame([_cs("pinned", "thread-lock", "thread", FAST, "low-capacity"),
                      _cs("pinned", "process-pipe", "process", SLOW)])  # fmt: skip
    assert one(context_switch_verdicts(t, M)).verdict == "supported"
    # on the process arm it could have caused it; measured (1.33 of 2 cores) it widens by 1.5x
    t = pd.DataFrame([_cs("pinned", "thread-lock", "thread", FAST),
                      _cs("pinned", "process-pipe", "process", SLOW, "low-capacity")])  # fmt: skip
    assert one(context_switch_verdicts(t, M)).verdict == "inconclusive"
    measured = t.assign(probe_capacity=4 / 3, probe_cores=2)
    assert one(context_switch_verdicts(measured, M)).verdict == "supported"


def test_context_switch_low_capacity_that_no_work_contradicts_undecides():
    # a handoff does one core's work at most: nothing here can prove the probe wrong, and
    # CPU time cannot either (a spinning or descheduled worker counts it too)
    t = pd.DataFrame([_cs("pinned", "thread-lock", "thread", FAST, "low-capacity", cap=0.6),
                      _cs("pinned", "process-pipe", "process", SLOW, "low-capacity", cap=0.6)])  # fmt: skip
    v = one(context_switch_verdicts(t, M))
    assert v.verdict == "inconclusive" and "probe doubted" not in v.evidence
    assert v.headline == (
        "Not decided for pinned: flagged process-pipe: low-capacity (size not measured), which "
        "could have caused this 'yes'."
    )


def test_context_switch_impossible_interval_is_refused():
    t = pd.DataFrame([_cs("pinned", "thread-lock", "thread", FAST)])
    t.loc[0, "us_ci_lo"] = 99.0
    with pytest.raises(ValueError, match="context_switch table, row 0 .*us_ci_lo above"):
        context_switch_verdicts(t, M)


# --- C10: single core -------------------------------------------------------------------------


def _single(kind, gain, lo, hi, flags="", pinned=True, busy=1.0, cap=1.0):
    common = {"cpu": 1, "tasks": 64, "io_ms": 4, "cpu_samples": 800, "pinned_ok": pinned,
              "throughput": 100.0, "latency_p50_ms": 1.0, "latency_p99_ms": 2.0, "flags": flags,
              "busy_cores": busy, "probe_capacity": cap}  # fmt: skip
    return [
        {**common, "kind": kind, "threads": 1, "gain_vs_1": 1.0, "gain_ci_lo": 1.0, "gain_ci_hi": 1.0},
        {**common, "kind": kind, "threads": 64, "gain_vs_1": gain, "gain_ci_lo": lo, "gain_ci_hi": hi},
    ]  # fmt: skip


def test_single_core_typical_run():
    t = pd.DataFrame(_single("sleep", 30, 25, 35) + _single("cpu", 1.0, 0.97, 1.02))
    v = one(single_core_verdicts(t, M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the kind of work: yes for sleep (throughput over one thread's: 30.00×); "
        "no for cpu (as much as one thread: 1.00×, within ±5%)."
    )


def test_single_core_noise_decides_load_does_not():
    t = pd.DataFrame(_single("sleep", 30, 25, 35, "cv>10%") + _single("cpu", 1.0, 0.97, 1.02))
    assert one(single_core_verdicts(t, M)).verdict == "conditional"
    t = pd.DataFrame(_single("sleep", 30, 25, 35) + _single("cpu", 1.0, 0.97, 1.02, "low-capacity"))
    v = one(single_core_verdicts(t, M))
    assert v.verdict == "conditional" and v.headline.endswith("not decided for cpu.")


def test_single_core_everything_refuted_and_uncontradicted_low_capacity_undecides():
    t = pd.DataFrame(_single("cpu", 1.0, 0.97, 1.02))
    v = one(single_core_verdicts(t, M))
    assert v.verdict == "refuted"
    assert v.headline == "No for cpu (as much as one thread: 1.00×, within ±5%)."
    # a shortfall of unknown size (no probe_cores) could have caused the "no"
    v = one(single_core_verdicts(pd.DataFrame(_single("cpu", 1.0, 0.97, 1.02, "low-capacity")), M))
    assert v.verdict == "inconclusive"
    # measured on the pinned CPU: 1 of 1 core delivered, nothing to widen; "no" stands
    t = pd.DataFrame(_single("cpu", 1.0, 0.97, 1.02, "low-capacity")).assign(probe_cores=1)
    assert one(single_core_verdicts(t, M)).verdict == "refuted"
    # 0.8 of 1 core on the many-thread side: [0.97, 1.28] straddles the bar
    t.loc[1, "probe_capacity"] = 0.8
    v = one(single_core_verdicts(t, M))
    assert v.verdict == "inconclusive" and "[0.97, 1.27]" in v.evidence


def test_single_core_unpinned_cannot_test_and_bad_gain_is_refused():
    t = pd.DataFrame(_single("sleep", 30, 25, 35, pinned=False))
    v = one(single_core_verdicts(t, M))
    assert v.verdict == "inconclusive" and v.headline.startswith("Needs the threads pinned")
    t = pd.DataFrame(_single("sleep", 30, 31, 35))
    with pytest.raises(ValueError, match="single_core table, row 1 .*gain_ci_lo above gain_vs_1"):
        single_core_verdicts(t, M)


# --- C3: responsiveness -----------------------------------------------------------------------

BACKENDS = {
    "threads-python": "threads",
    "threads-numba": "threads",
    "processes-python": "processes-fork",
}


def _resp(paired, mode, p50, p99, rate=1.0, flags="", si=5.0):
    return {"paired_with": paired, "mode": mode,
            "backend": BACKENDS[paired] if mode != "none" else "none", "kernel": "k",
            "workers": 2, "switch_interval_ms": si, "default_switch_interval_ms": 5.0,
            "probe_period_ms": 2.0, "p50_ms": p50, "p50_ci_lo_ms": p50 * 0.9,
            "p50_ci_hi_ms": p50 * 1.1, "p99_ms": p99, "p99_ci_lo_ms": p99 * 0.9,
            "p99_ci_hi_ms": p99 * 1.1, "max_ms": p99 * 2, "rate_ratio": rate, "flags": flags,
            **columns_of(BACKENDS[paired] if mode != "none" else "none")}  # fmt: skip


def _responsive(numba_flags="", python_flags="", idle_flags=""):
    return pd.DataFrame([
        _resp("threads-python", "none", 0.1, 0.3, flags=idle_flags),
        _resp("threads-python", "threads-python", 6.0, 40.0, flags=python_flags),
        _resp("threads-numba", "none", 0.1, 0.3),
        _resp("threads-numba", "threads-numba", 0.1, 0.5, flags=numba_flags),
        _resp("processes-python", "none", 0.1, 0.3),
        _resp("processes-python", "processes-python", 0.1, 0.4),
    ])  # fmt: skip


def test_responsiveness_typical_run():
    v = one(responsiveness_verdicts(_responsive(), M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the work: yes for threads-numba (busy/(idle+period): 0.05–0.22×); no for "
        "threads-python (busy/(idle+period): 2.86–17.39×; needs < 1.00×)."
    )
    assert "processes-python (k) [not counted: processes]" in v.evidence


def test_responsiveness_load_stands_behind_a_pass_not_a_fail():
    v = one(responsiveness_verdicts(_responsive(numba_flags="low-capacity"), M))
    assert v.verdict == "conditional" and "yes for threads-numba" in v.headline
    v = one(responsiveness_verdicts(_responsive(python_flags="low-capacity"), M))
    assert v.verdict == "conditional" and v.headline.endswith("not decided for threads-python.")


def test_responsiveness_flags_that_cannot_have_caused_the_outcome_do_not_undecide():
    # a loaded idle baseline only makes passing easier: the failure stands; so does a p50
    # judged on a run whose p99 came from too few samples
    t = _responsive(idle_flags="low-capacity", python_flags="p99-from<500-samples")
    v = one(responsiveness_verdicts(t, M))
    assert v.verdict == "conditional"
    python = {c["case"]: c["decision"] for c in v.cases if c["group"] == "threads-python"}
    assert python == {
        "mode=threads-python|quantile=p50": "no",
        "mode=threads-python|quantile=p99": "undecided",
    }


def test_responsiveness_drift_is_excused_only_for_a_decision_read_from_latencies():
    # low latency: the drift-widened interval still clears, so the pass stands
    t = _responsive(numba_flags="reference-drift").assign(drift=0.05)
    v = one(responsiveness_verdicts(t, M))
    assert v.verdict == "conditional" and "yes for threads-numba" in v.headline
    # a probe that fell behind fails on its answered rate, not its latencies: drift could
    # have caused it, so the failure does not stand
    t = _responsive(numba_flags="reference-drift;probe-fell-behind").assign(drift=0.05)
    t.loc[3, "rate_ratio"] = 0.98
    v = one(responsiveness_verdicts(t, M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the work: no for threads-python (busy/(idle+period): 2.86–17.39×; needs "
        "< 1.00×); not decided for threads-numba."
    )
    assert "flagged threads-numba: reference-drift, 5.0% (x1.05)" in v.evidence


def test_responsiveness_impossible_quantile_is_refused():
    t = _responsive()
    t.loc[3, "p99_ci_lo_ms"] = 9.0
    with pytest.raises(ValueError, match="responsiveness table, row 3 .*p99_ci_lo_ms above p99_ms"):
        responsiveness_verdicts(t, M)


# --- C6: faults -------------------------------------------------------------------------------


def _fault(backend, fault, outcome, flags="", survived=True):
    return {"backend": backend, "fault": fault, "status": "ok" if survived else "crashed",
            "outcome": outcome, "others": 5, "others_completed": 5 if outcome == "isolated" else 2,
            "detect_s": 0.1, "error_seen": "BrokenProcessPool" if outcome == "pool-broken" else "x",
            "recovered": outcome == "isolated", "caller_survived": survived, "run_s": 1.0,
            "tasks": 6, "faulty_task": 2, "workers": 2, "hang_seconds": 2.0,
            "allowed_failures": 0, "flags": flags,
            **columns_of(backend, like={"mp-pool": "processes-fork"})}  # fmt: skip


HARD = ("exit", "segv", "sigkill")


def _faults(
    dask="isolated", ppe="pool-broken", mp="hung", dask_flags="", ppe_flags="", mp_flags=""
):
    rows = [_fault("threads", f, "crashed", survived=False) for f in HARD]
    for b, o, fl in (("dask-processes", dask, dask_flags), ("process-pool", ppe, ppe_flags),
                     ("mp-pool", mp, mp_flags)):  # fmt: skip
        rows += [_fault(b, f, o, fl) for f in HARD]
    return pd.DataFrame(rows)


def test_faults_typical_run_and_contention_on_structural_outcomes():
    v = one(faults_verdicts(_faults(), M))
    # one clean trial cannot show isolation: its loss rate's upper bound is 0.975
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the pool: no for process-pool, mp-pool (others lost or hung in: 100%); "
        "not decided for dask-processes."
    )
    t = _faults(dask_flags="low-capacity", ppe_flags="low-capacity;orphans")
    assert one(faults_verdicts(t, M)).headline == v.headline


def test_faults_isolation_is_decided_from_trials_with_an_exact_interval():
    t = _faults()
    dask = t.backend == "dask-processes"
    t["trials"], t["trials_isolated"] = 1, (t.outcome == "isolated").astype(int)
    t.loc[dask, ["trials", "trials_isolated"]] = [11, 11]  # 0/11 lost: upper bound 0.28 < 0.3
    v = one(faults_verdicts(t, M))
    assert v.headline == (
        "Depends on the pool: yes for dask-processes (others lost or hung in: 0%); no for "
        "process-pool, mp-pool (others lost or hung in: 100%)."
    )
    t.loc[dask & (t.fault == "sigkill"), ["trials", "trials_isolated"]] = [6, 5]  # one loss
    v = one(faults_verdicts(t, M))
    assert {c["case"]: c["decision"] for c in v.cases if c["group"] == "dask-processes"} == {
        "backend=dask-processes|fault=exit": "yes",
        "backend=dask-processes|fault=segv": "yes",
        "backend=dask-processes|fault=sigkill": "no",
    }
    # 0/5 lost bounds the rate only at 52%: not enough to say "isolates" (the bar is 30%)
    t.loc[dask & (t.fault == "exit"), ["trials", "trials_isolated"]] = [5, 5]
    v = one(faults_verdicts(t, M))
    assert {c["case"]: c["decision"] for c in v.cases if c["group"] == "dask-processes"} == {
        "backend=dask-processes|fault=exit": "undecided",
        "backend=dask-processes|fault=segv": "yes",
        "backend=dask-processes|fault=sigkill": "no",
    }
    assert v.headline.startswith("Depends on what must survive: the caller did")


def test_faults_a_hang_under_load_is_not_decided_unless_the_pool_hangs_by_design():
    # mp-pool's supervision (worker-replaced-task-lost) says a dead worker's task never
    # returns: its hang is the outcome, whatever the load
    v = one(faults_verdicts(_faults(mp_flags="low-capacity"), M))
    assert "no for process-pool, mp-pool" in v.headline
    t = _faults(ppe="hung", ppe_flags="low-capacity")
    v = one(faults_verdicts(t, M))
    assert "not decided for dask-processes, process-pool" in v.headline
    assert "flagged low-capacity (size not measured), which could have caused this 'no'" in (
        v.evidence
    )


def test_faults_processes_shield_the_caller_even_when_no_pool_isolates():
    v = one(faults_verdicts(_faults(dask="others-lost"), M))
    assert v.verdict == "conditional"
    assert v.headline.startswith(
        "Depends on what must survive: the caller did under every process pool"
    )


def test_faults_without_process_pools_and_impossible_times():
    t = _faults()
    v = one(faults_verdicts(t[t.backend == "threads"], M))
    assert v.verdict == "inconclusive" and v.headline.startswith("Not decided: no process pool")
    t.loc[4, "detect_s"] = -0.5
    with pytest.raises(ValueError, match="faults table, column 'detect_s', row 4"):
        faults_verdicts(t, M)


# --- C12: synchronization ---------------------------------------------------------------------


def _sync(lost=0.12, flags="", deadlocks=2, hung=0):
    meta = {"python": "3.11", "switch_interval_s": 0.005, "threads": 2}
    counter = {"kind": "counter", "synchronized": False, "mechanism": "python-threads",
               "lost_rate": lost / 2, "lost_rate_max": lost, "racy_calls": 3 if lost else 0,
               "calls": 5, "ns_per_op": 80.0, "ns_per_op_ci_lo": 75.0, "ns_per_op_ci_hi": 85.0,
               "baseline": "", "flags": flags, **meta}  # fmt: skip
    locked = {**counter, "synchronized": True, "mechanism": "python-lock", "lost_rate": 0.0,
              "lost_rate_max": 0.0, "racy_calls": 0, "flags": ""}  # fmt: skip
    lock = {"kind": "deadlock", "mechanism": "locks-opposite-order", "synchronized": True,
            "deadlocks": deadlocks, "trials": 2, "hung": hung, "detect_ms_median": 50.0,
            "detect_ms_max": 51.0, "lock_timeout_ms": 50.0, "flags": flags, **meta}  # fmt: skip
    return pd.DataFrame([counter, locked, lock])


def test_synchronization_typical_run_with_load_still_decides():
    v = one(synchronization_verdicts(_sync(flags="low-capacity;cv>10%"), M))
    assert v.verdict == "supported"
    assert v.headline == "Yes for lost updates, deadlock (seen in: 60%–100%)."
    assert "python-threads lost updates in 3/5 calls (worst call 12.0%)" in v.evidence
    assert "locks-opposite-order deadlocked in 2/2 trials, 0 left hanging" in v.evidence


def test_synchronization_no_loss_under_load_is_not_decided():
    v = one(synchronization_verdicts(_sync(lost=0.0, flags="low-capacity"), M))
    assert v.verdict == "conditional"
    assert v.headline == (
        "Depends on the risk: yes for deadlock (seen in: 100%); not decided for lost updates."
    )
    # 0 of 5 calls bounds the rate only at 52%: not "no risk"
    v = one(synchronization_verdicts(_sync(lost=0.0), M))
    assert v.headline == (
        "Depends on the risk: yes for deadlock (seen in: 100%); not decided for lost updates."
    )
    # 0 of 80 calls: the exact upper bound 4.5% lies below the stated 5%
    t = _sync(lost=0.0)
    t.loc[t.kind == "counter", "calls"] = 80
    v = one(synchronization_verdicts(t, M))
    assert v.verdict == "conditional"
    assert "no for lost updates (rarer than 5%, seen in: 0%)" in v.headline
    # 0 of 2 deadlock trials proves nothing: upper bound 0.84
    v = one(synchronization_verdicts(_sync(deadlocks=0), M))
    assert "not decided for deadlock" in v.headline
    assert "none observed, and the upper bound 84% is not below 5%" in v.evidence


def test_synchronization_a_hanging_trial_decides_nothing_about_deadlock():
    v = one(synchronization_verdicts(_sync(hung=1), M))
    assert "not decided for deadlock" in v.headline
    assert "1/2 trials left hanging: the timeout did not hold" in v.evidence


def test_synchronization_impossible_rate_is_refused():
    with pytest.raises(ValueError, match="synchronization table, column 'lost_rate', row 0"):
        synchronization_verdicts(_sync(lost=-0.1), M)


def test_scaling_per_interpreter_names_each_interpreter_where_the_answers_differ():
    gil = _scaling().assign(interpreter="cpython-3.11")
    free = _scaling({("mc-python", "threads"): {"speedup": 1.9, "speedup_ci_lo": 1.85,
                                                "speedup_ci_hi": 1.95, "busy_cores": 1.9}})  # fmt: skip
    t = pd.concat([gil, free.assign(interpreter="cpython-3.14t")], ignore_index=True)
    v = _scaling_v(t)["C11"]
    assert v.verdict == "conditional"
    # the kernels both interpreters agree on are named once; mc-python names each
    assert v.headline == (
        "Depends on the kernel: yes for mc-numba, dgemm, mc-python on 3.14t (threads ran "
        "faster than one: 1.90–1.95×); no for mc-python on 3.11 (no faster: 1.00×, within ±5%)."
    )
    keys = {c["case"]: (c["decision"], c["interpreter"]) for c in v.cases}
    assert keys["interpreter=cpython-3.11|kernel=mc-python|backend=threads|mode=strong"] == (
        "no",
        "cpython-3.11",
    )
    assert keys["interpreter=cpython-3.14t|kernel=mc-python|backend=threads|mode=strong"] == (
        "yes", "cpython-3.14t")  # fmt: skip
    # one interpreter keeps the keys of a table without the column, and tags its cases
    (one_interp,) = [c for c in _scaling_v(gil)["C11"].cases if "mc-python" in c["case"]]
    assert one_interp["case"] == "kernel=mc-python|backend=threads|mode=strong"
    assert one_interp["interpreter"] == "cpython-3.11"


def test_scaling_drift_is_weighed_per_paired_round():
    # run G (2026-12-07): pure-Python threads S = 0.98 [0.95, 1.01] with the reference
    # drifted 8.1% over the point; its 6 rounds paired serial and threads back to back,
    # so a round's ratio moved by at most 8.1% / 6 = 1.4%: "no" stands
    drifted = {"speedup": 0.976, "speedup_ci_lo": 0.95, "speedup_ci_hi": 1.014,
               "flags": "reference-drift", "drift": 0.081, "n": 6}  # fmt: skip
    v = _scaling_v(_scaling({("mc-python", "threads"): drifted}))["C11"]
    assert v.headline.endswith("no for mc-python (threads not faster: 0.98×; needs > 1.05×).")
    assert "reference-drift, 8.1% over 6 paired rounds (x1.01)" in v.evidence
    # a table without the round count weighs the whole drift: [0.88, 1.10] straddles
    unpaired = {k: v for k, v in drifted.items() if k != "n"}
    v = _scaling_v(_scaling({("mc-python", "threads"): unpaired}))["C11"]
    assert v.headline.endswith("not decided for mc-python.")
